// Pass 1: the graded disparity of every eye pixel, in eye pixels: d = D / 100 · W · (c − δ').
uniform sampler2D u_delta;   // δ in [0, 1] (0 nearest), any resolution, linear filtering
uniform vec2 u_grade;        // (D %, c)
uniform vec3 u_curve;        // (near, far, gamma)
uniform float u_eye_width;   // W, eye pixels

in vec2 v_uv;
layout(location = 0) out float o_disparity;

void main() {
    float delta = texture(u_delta, v_uv).r;
    o_disparity = isnan(delta) || isinf(delta) ? delta : u_eye_width * disparity_fraction(delta, u_grade, u_curve);
}
