// Every viewer mode from the two eyes, the source frame and its depth.
// Built once per mode with COMPOSE_MODE defined (studio/viewer/gl_renderer.py): the other modes' code is
// then folded away at compile time. A software rasteriser (llvmpipe) runs every side of a branch under a
// mask, so one program with a run-time mode switch costs all eleven modes per pixel (~70 ms at 1280×720
// on 2 cores, against a few ms for one). Without COMPOSE_MODE the mode is read from u_mode.
#ifdef COMPOSE_MODE
#define MODE COMPOSE_MODE
#else
#define MODE u_mode
#endif
// Every texture holds its image with the first row at v = 0 (the top), as numpy stores it.
uniform sampler2D u_left;    // filled eyes, sRGB RGB (a = covered)
uniform sampler2D u_right;
uniform sampler2D u_image;   // the source frame
uniform sampler2D u_delta;   // δ
uniform int u_mode;          // see studio/viewer/modes.py (MODE_IDS)
uniform vec2 u_grade;        // (D %, c)
uniform vec3 u_curve;
uniform mat3 u_dubois_left;  // engine.ops.pack's Dubois matrices (row-major in Python, transposed here)
uniform mat3 u_dubois_right;
uniform vec2 u_budget;       // screen budget, parallax in % of width (min, max)
uniform float u_divergence_limit;  // parallax (% of width) beyond which the eyes diverge on that screen
uniform bool u_swap;         // swap eyes (the master's --swap-eyes)
uniform float u_stripe;      // device pixels per hatch period for out-of-budget pixels

in vec2 v_uv;
out vec4 o_colour;

vec3 eye(sampler2D tex, vec2 uv) {
    return texture(tex, uv).rgb;
}

// SRGB_EYES 1: u_left / u_right are the eyes' sRGB views, so the texture unit hands back linear light
// (llvmpipe decodes through a table, far cheaper than srgb_to_linear's pow per channel).
#if SRGB_EYES
#define LINEAR_EYE(tex, uv) eye(tex, uv)
#else
#define LINEAR_EYE(tex, uv) srgb_to_linear(eye(tex, uv))
#endif

// SRGB_OUT 1: the framebuffer is sRGB and GL_FRAMEBUFFER_SRGB is on, so linear light goes out as it is and
// the blender encodes it.
#if SRGB_OUT
#define ENCODE(c) (c)
#else
#define ENCODE(c) linear_to_srgb(c)
#endif

// A software rasteriser evaluates both sides of a select, so every eye is sampled once and the swap picks
// among the samples (sampling inside `u_swap ? eye(u_right) : eye(u_left)` costs both samples twice).
vec3 first_of(vec3 left, vec3 right) { return u_swap ? right : left; }
vec3 second_of(vec3 left, vec3 right) { return u_swap ? left : right; }

vec3 parallax_colour(vec2 uv) {
    float delta = texture(u_delta, uv).r;
    float p = -100.0 * disparity_fraction(delta, u_grade, u_curve);  // screen parallax, % of width
    float span = max(max(abs(u_budget.x), abs(u_budget.y)), 1e-3);
    float t = clamp(p / span, -1.0, 1.0);
    // in front of the screen (p < 0): warm; behind (p > 0): cool; on the screen: white.
    vec3 c = t < 0.0 ? mix(vec3(1.0), vec3(0.95, 0.35, 0.05), -t) : mix(vec3(1.0), vec3(0.1, 0.4, 0.95), t);
    vec3 grey = vec3(dot(eye(u_image, uv), vec3(0.2126, 0.7152, 0.0722)));
    c = mix(c, c * grey * 1.4, 0.35);
    bool over = p < u_budget.x || p > u_budget.y;
    bool diverge = p > u_divergence_limit;
    float stripe = mod(gl_FragCoord.x + gl_FragCoord.y, u_stripe) < 0.5 * u_stripe ? 1.0 : 0.0;
    if (diverge) return mix(vec3(1.0, 0.0, 0.0), vec3(0.1), stripe);
    if (over) return mix(vec3(1.0, 0.0, 1.0), c, 0.4 * stripe);
    return c;
}

void main() {
    vec2 uv = v_uv;
    vec3 c;
    if (MODE == 0) {          // anaglyph, Dubois red-cyan in linear light
        vec3 l = LINEAR_EYE(u_left, uv);
        vec3 r = LINEAR_EYE(u_right, uv);
        c = ENCODE(clamp(u_dubois_left * first_of(l, r) + u_dubois_right * second_of(l, r), 0.0, 1.0));
    } else if (MODE == 1 || MODE == 2) {  // side by side (left eye on the left) / top and bottom (left on top)
        bool first = MODE == 1 ? uv.x < 0.5 : uv.y < 0.5;
        vec2 e = MODE == 1 ? vec2(first ? 2.0 * uv.x : 2.0 * uv.x - 1.0, uv.y)
                           : vec2(uv.x, first ? 2.0 * uv.y : 2.0 * uv.y - 1.0);
        vec3 l = eye(u_left, e);
        vec3 r = eye(u_right, e);
        c = first ? first_of(l, r) : second_of(l, r);
    } else if (MODE == 3) {
        c = eye(u_left, uv);
    } else if (MODE == 4) {
        c = eye(u_right, uv);
    } else if (MODE == 5) {   // 50 % blend: zero parallax where the eyes coincide
        c = ENCODE(0.5 * (LINEAR_EYE(u_left, uv) + LINEAR_EYE(u_right, uv)));
    } else if (MODE == 6) {   // difference
        c = abs(eye(u_left, uv) - eye(u_right, uv));
    } else if (MODE == 7 || MODE == 8) {  // depth after the curve, as nearness (white / warm = near)
        float delta = texture(u_delta, uv).r;
        float near = 1.0 - curved_depth(delta, u_curve);
        c = MODE == 7 ? vec3(near) : turbo(near);
    } else if (MODE == 9) {
        c = parallax_colour(uv);
    } else {                    // the source frame (before)
        c = eye(u_image, uv);
    }
    o_colour = vec4(c, 1.0);
}
