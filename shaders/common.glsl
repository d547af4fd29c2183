// Shared by every stage of the stereo viewer. Prepended after the #version line.
// The formulas are CONVENTIONS.md's, the same as engine.ops / engine.grading:
//   depth curve  δ' = clamp((δ − n) / (f − n), 0, 1) ^ γ
//   grade        d  = D / 100 · W · (c − δ')      (d > 0: in front of the screen)
//   eyes         x_target = x_source − scale · d  (scale −0.5 left, +0.5 right for a centre view)

float curved_depth(float delta, vec3 curve) {
    // curve = (near, far, gamma)
    float t = clamp((delta - curve.x) / max(curve.y - curve.x, 1e-6), 0.0, 1.0);
    return pow(t, curve.z);
}

float disparity_fraction(float delta, vec2 grade, vec3 curve) {
    // d / W: the disparity as a fraction of the eye width. grade = (D in %, c).
    return grade.x / 100.0 * (grade.y - curved_depth(delta, curve));
}

vec3 srgb_to_linear(vec3 c) {
    vec3 a = abs(c);
    vec3 lin = mix(pow((a + 0.055) / 1.055, vec3(2.4)), a / 12.92, vec3(lessThanEqual(a, vec3(0.04045))));
    return sign(c) * lin;
}

vec3 linear_to_srgb(vec3 c) {
    vec3 a = abs(c);
    vec3 enc = mix(1.055 * pow(max(a, vec3(1e-12)), vec3(1.0 / 2.4)) - 0.055, a * 12.92,
                   vec3(lessThanEqual(a, vec3(0.0031308))));
    return sign(c) * enc;
}

vec3 turbo(float x) {
    // Google's Turbo colour map, polynomial approximation (A. Mikhailov, 2019).
    x = clamp(x, 0.0, 1.0);
    vec4 v4 = vec4(1.0, x, x * x, x * x * x);
    vec2 v2 = v4.zw * v4.z;
    return vec3(
        dot(v4, vec4(0.13572138, 4.61539260, -42.66032258, 132.13108234)) +
            dot(v2, vec2(-152.94239396, 59.28637943)),
        dot(v4, vec4(0.09140261, 2.19418839, 4.84296658, -14.18503333)) +
            dot(v2, vec2(4.27729857, 2.82956604)),
        dot(v4, vec4(0.10667330, 12.64194608, -60.58204836, 110.36276771)) +
            dot(v2, vec2(-89.90310912, 27.34824973)));
}
