// Pass 1: the graded disparity of every eye pixel, in eye pixels: d = D / 100 · W · (c − δ').
uniform sampler2D u_delta;   // δ in [0, 1] (0 nearest), any resolution, linear filtering
uniform vec2 u_grade;        // (D %, c)
uniform vec3 u_curve;        // (near, far, gamma)
uniform float u_eye_width;   // W, eye pixels
uniform float u_eye_height;  // H, eye pixels
uniform vec4 u_bars;         // letterbox / pillarbox bars in eye pixels (left, right, top, bottom): d = 0

in vec2 v_uv;
layout(location = 0) out float o_disparity;

void main() {
    vec2 p = gl_FragCoord.xy;  // the pixel centre; row 0 is the image's top row
    if (p.x < u_bars.x || p.x > u_eye_width - u_bars.y || p.y < u_bars.z || p.y > u_eye_height - u_bars.w) {
        o_disparity = 0.0;  // on the screen plane, as the master's bars
        return;
    }
    float delta = texture(u_delta, v_uv).r;
    o_disparity = isnan(delta) || isinf(delta) ? delta : u_eye_width * disparity_fraction(delta, u_grade, u_curve);
}
