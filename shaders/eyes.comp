// Both passes of both eyes in one compute dispatch (GL 4.3): each invocation owns one eye row and runs
// engine.ops.splat's row splat along it in order for both eyes at once (the graded disparity of each
// source pixel is worked out once and offered to both), then engine.ops.fill's hole fill of each eye, so the work is
// O(width) per row instead of the gather's O(width × disparity range) per pixel (splat.frag + fill.frag,
// the GL 3.3 path, which this gives the same pixels as).
//
// Splat: source pixel x lands at t(x) = x − s · d(x) (s = −0.5 left eye, +0.5 right eye);
// neighbours x, x+1 form a segment covering the target pixels j with t(x) ≤ j < t(x+1) when
// 0 < t(x+1) − t(x) ≤ u_max_len (else a disocclusion or a fold); a pixel that starts (ends) a run of
// segments also covers half a pixel before (beyond) itself. The larger disparity (nearer) wins, ties
// to the later source pixel (walked in order, so `>=`).
// Fill: a hole takes its row neighbour within u_search pixels that is farther (smaller d); a tie goes to
// the right in the right eye, to the left in the left eye; a run touching the border takes its only neighbour; none: black, a = 0.
layout(local_size_x = 8) in;

// Eye e (0 left, 1 right) is written through image units 2e (colour) and 2e + 1 (aux). The eye index is
// a literal at every call, so after inlining each access names one image (no run-time choice).
layout(rgba8, binding = 0) uniform writeonly image2D u_colour_left;   // out: rgb, a = 1 covered, 0 filled
layout(rgba32f, binding = 1) uniform image2D u_aux_left;
layout(rgba8, binding = 2) uniform writeonly image2D u_colour_right;
layout(rgba32f, binding = 3) uniform image2D u_aux_right;
// aux out: (d, source x, u_stamp, covered) in eye pixels; also the row's z-buffer while it is splatted,
// where an entry whose stamp is not u_stamp is empty (left over from an earlier build: no clearing pass)
uniform sampler2D u_delta;   // δ in [0, 1] (0 nearest), any resolution, linear filtering
uniform sampler2D u_image;   // the frame, sRGB RGB, linear filtering
uniform vec2 u_grade;        // (D %, c)
uniform vec3 u_curve;        // (near, far, gamma); CURVE_LINEAR 1: gamma is 1 (no pow per pixel)
uniform vec4 u_bars;         // bars in eye pixels (left, right, top, bottom): d = 0 on them
uniform float u_max_len;
uniform int u_search;
uniform ivec2 u_rows;        // eye rows [y0, y1) of this dispatch
uniform float u_stamp;       // this build's stamp (> 0, new for every dispatch)

ivec2 g_size;
int g_y;
float g_v;

bool finite(float v) { return !(isnan(v) || isinf(v)); }

float curve_of(float delta) {
#if CURVE_LINEAR
    return clamp((delta - u_curve.x) / max(u_curve.y - u_curve.x, 1e-6), 0.0, 1.0);
#else
    return curved_depth(delta, u_curve);
#endif
}

float disparity_at(int x) {
    // disparity.frag's value of eye pixel (x, g_y): δ sampled at the pixel centre, then the grade
    if (float(x) < u_bars.x || float(x) >= float(g_size.x) - u_bars.y
            || float(g_y) < u_bars.z || float(g_y) >= float(g_size.y) - u_bars.w) {
        return 0.0;
    }
    float delta = textureLod(u_delta, vec2((float(x) + 0.5) / float(g_size.x), g_v), 0.0).r;
    return finite(delta) ? float(g_size.x) * (u_grade.x / 100.0 * (u_grade.y - curve_of(delta))) : delta;
}

vec4 load_aux(int eye, int j) {
    return eye == 0 ? imageLoad(u_aux_left, ivec2(j, g_y)) : imageLoad(u_aux_right, ivec2(j, g_y));
}

void store_aux(int eye, int j, vec4 v) {
    if (eye == 0) imageStore(u_aux_left, ivec2(j, g_y), v);
    else imageStore(u_aux_right, ivec2(j, g_y), v);
}

void store_colour(int eye, int j, vec4 v) {
    if (eye == 0) imageStore(u_colour_left, ivec2(j, g_y), v);
    else imageStore(u_colour_right, ivec2(j, g_y), v);
}

void offer(int eye, int j, float d, float source_x) {
    // nearer wins (ties: the later source pixel, which is offered later)
    if (j < 0 || j >= g_size.x) return;
    vec4 best = load_aux(eye, j);
    if (best.b != u_stamp || d >= best.r) store_aux(eye, j, vec4(d, source_x, u_stamp, 1.0));
}

bool splat_step(int eye, int x, float d0, float d1, bool more, bool prev_seg) {
    // source pixel x's part of eye `eye` (its segment to x + 1, or its caps); true: it made a segment
    float scale = eye == 0 ? -0.5 : 0.5;
    bool fin0 = finite(d0);
    float t0 = float(x) - scale * d0;
    float t1 = float(x + 1) - scale * d1;
    float len = t1 - t0;
    bool seg = fin0 && more && finite(d1) && len > 0.0 && len <= u_max_len;
    if (fin0) {
        if (!prev_seg) {
            float j = ceil(t0 - 0.5);
            if (j < t0) offer(eye, int(j), d0, float(x));  // left cap [t0 − 0.5, t0)
        }
        if (seg) {
            for (float j = ceil(t0); j < t1; j += 1.0) {
                float a = (j - t0) / len;
                offer(eye, int(j), (1.0 - a) * d0 + a * d1, float(x) + a);
            }
        } else {
            float j = ceil(t0);
            if (j < t0 + 0.5) offer(eye, int(j), d0, float(x));  // right cap [t0, t0 + 0.5)
        }
    }
    return seg;
}

void splat_row() {
    float d0 = disparity_at(0);
    bool prev_left = false;
    bool prev_right = false;
    for (int x = 0; x < g_size.x; ++x) {
        bool more = x + 1 < g_size.x;
        float d1 = more ? disparity_at(x + 1) : 0.0;
        prev_left = splat_step(0, x, d0, d1, more, prev_left);
        prev_right = splat_step(1, x, d0, d1, more, prev_right);
        d0 = d1;
    }
}

void fill_run(int eye, int start, int end, vec4 left_colour, vec2 left_aux, vec4 right_colour, vec2 right_aux) {
    // holes [start, end) between the covered pixels start − 1 and end (either may be off the row)
    int left = start - 1;
    int right = end < g_size.x ? end : -1;
    bool prefer_right = eye == 1;
    for (int p = start; p < end; ++p) {
        bool l = left >= 0 && p - left <= u_search;
        bool r = right >= 0 && right - p <= u_search;
        bool take_right = l && r ? (right_aux.x < left_aux.x || (right_aux.x == left_aux.x && prefer_right)) : r;
        if (!l && !r) {
            store_colour(eye, p, vec4(0.0));
            store_aux(eye, p, vec4(0.0, -1.0, u_stamp, 0.0));
            continue;
        }
        vec4 c = take_right ? right_colour : left_colour;
        vec2 a = take_right ? right_aux : left_aux;
        store_colour(eye, p, vec4(c.rgb, 0.0));
        store_aux(eye, p, vec4(a, u_stamp, 0.0));
    }
}

void colour_and_fill_row(int eye) {
    // the colour of every covered pixel; each run of holes filled once the pixel after it is known
    int start = -1;  // first hole of the run being walked
    vec4 last_colour = vec4(0.0);
    vec2 last_aux = vec2(0.0);
    for (int j = 0; j < g_size.x; ++j) {
        vec4 best = load_aux(eye, j);
        if (best.b != u_stamp) {
            start = start < 0 ? j : start;
            continue;
        }
        vec4 c = vec4(textureLod(u_image, vec2((best.g + 0.5) / float(g_size.x), g_v), 0.0).rgb, 1.0);
        store_colour(eye, j, c);
        if (start >= 0) {
            fill_run(eye, start, j, last_colour, last_aux, c, best.rg);
            start = -1;
        }
        last_colour = c;
        last_aux = best.rg;
    }
    if (start >= 0) fill_run(eye, start, g_size.x, last_colour, last_aux, vec4(0.0), vec2(0.0));
}

void main() {
    g_size = imageSize(u_aux_left);
    g_y = u_rows.x + int(gl_GlobalInvocationID.x);
    if (g_y >= u_rows.y || g_y >= g_size.y) return;
    g_v = (float(g_y) + 0.5) / float(g_size.y);
    splat_row();
    colour_and_fill_row(0);
    colour_and_fill_row(1);
}
