// A full-screen triangle without vertex buffers; v_uv covers [0, 1]² of the target.
out vec2 v_uv;

void main() {
    vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
    v_uv = p;
    gl_Position = vec4(2.0 * p - 1.0, 0.0, 1.0);
}
