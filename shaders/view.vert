// The content rectangle in the widget: zoom and pan as a pixel-space transform.
uniform vec2 u_viewport;     // widget size in device pixels
uniform vec4 u_rect;         // content rectangle (x, y, w, h) in device pixels, y down

out vec2 v_uv;               // content coordinate in [0, 1]², v down

void main() {
    vec2 p = vec2(float(gl_VertexID & 1), float(gl_VertexID >> 1));  // a 4-vertex triangle strip
    v_uv = p;
    vec2 px = u_rect.xy + p * u_rect.zw;
    gl_Position = vec4(2.0 * px.x / u_viewport.x - 1.0, 1.0 - 2.0 * px.y / u_viewport.y, 0.0, 1.0);
}
