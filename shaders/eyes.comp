// Both passes of one eye in one compute dispatch (GL 4.3): each invocation owns one eye row and runs
// engine.ops.splat's row splat along it in order, then engine.ops.fill's hole fill, so the work is
// O(width) per row instead of the gather's O(width × disparity range) per pixel (splat.frag + fill.frag,
// the GL 3.3 path, which this gives the same pixels as).
//
// Splat: source pixel x lands at t(x) = x − s · d(x) (s = u_scale: −0.5 left eye, +0.5 right eye);
// neighbours x, x+1 form a segment covering the target pixels j with t(x) ≤ j < t(x+1) when
// 0 < t(x+1) − t(x) ≤ u_max_len (else a disocclusion or a fold); a pixel that starts (ends) a run of
// segments also covers half a pixel before (beyond) itself. The larger disparity (nearer) wins, ties
// to the later source pixel (walked in order, so `>=`).
// Fill: a hole takes its row neighbour within u_search pixels that is farther (smaller d); a tie goes to
// the right with u_prefer_right; a run touching the border takes its only neighbour; none: black, a = 0.
layout(local_size_x = 8) in;

layout(rgba8, binding = 0) uniform writeonly image2D u_colour;  // out: rgb, a = 1 covered, 0 filled
// out: (d, source x, u_stamp, covered) in eye pixels; also the row's z-buffer while it is splatted, where
// an entry whose stamp is not u_stamp is empty (left over from an earlier build: no clearing pass)
layout(rgba32f, binding = 1) uniform image2D u_aux;
uniform sampler2D u_delta;   // δ in [0, 1] (0 nearest), any resolution, linear filtering
uniform sampler2D u_image;   // the frame, sRGB RGB, linear filtering
uniform vec2 u_grade;        // (D %, c)
uniform vec3 u_curve;        // (near, far, gamma)
uniform vec4 u_bars;         // bars in eye pixels (left, right, top, bottom): d = 0 on them
uniform float u_scale;
uniform float u_max_len;
uniform int u_search;
uniform bool u_prefer_right;
uniform ivec2 u_rows;        // eye rows [y0, y1) of this dispatch
uniform float u_stamp;       // this build's stamp (> 0, new for every dispatch)

ivec2 g_size;
int g_y;
float g_v;

bool finite(float v) { return !(isnan(v) || isinf(v)); }

float disparity_at(int x) {
    // disparity.frag's value of eye pixel (x, g_y): δ sampled at the pixel centre, then the grade
    if (float(x) < u_bars.x || float(x) >= float(g_size.x) - u_bars.y
            || float(g_y) < u_bars.z || float(g_y) >= float(g_size.y) - u_bars.w) {
        return 0.0;
    }
    float delta = textureLod(u_delta, vec2((float(x) + 0.5) / float(g_size.x), g_v), 0.0).r;
    return finite(delta) ? float(g_size.x) * disparity_fraction(delta, u_grade, u_curve) : delta;
}

void offer(int j, float d, float source_x) {
    // nearer wins (ties: the later source pixel, which is offered later)
    if (j < 0 || j >= g_size.x) return;
    vec4 best = imageLoad(u_aux, ivec2(j, g_y));
    if (best.b != u_stamp || d >= best.r) imageStore(u_aux, ivec2(j, g_y), vec4(d, source_x, u_stamp, 1.0));
}

void splat_row() {
    float d0 = disparity_at(0);
    bool prev_seg = false;
    for (int x = 0; x < g_size.x; ++x) {
        bool more = x + 1 < g_size.x;
        float d1 = more ? disparity_at(x + 1) : 0.0;
        bool fin0 = finite(d0);
        float t0 = float(x) - u_scale * d0;
        float t1 = float(x + 1) - u_scale * d1;
        float len = t1 - t0;
        bool seg = fin0 && more && finite(d1) && len > 0.0 && len <= u_max_len;
        if (fin0) {
            if (!prev_seg) {
                float j = ceil(t0 - 0.5);
                if (j < t0) offer(int(j), d0, float(x));  // left cap [t0 − 0.5, t0)
            }
            if (seg) {
                for (float j = ceil(t0); j < t1; j += 1.0) {
                    float a = (j - t0) / len;
                    offer(int(j), (1.0 - a) * d0 + a * d1, float(x) + a);
                }
            } else {
                float j = ceil(t0);
                if (j < t0 + 0.5) offer(int(j), d0, float(x));  // right cap [t0, t0 + 0.5)
            }
        }
        prev_seg = seg;
        d0 = d1;
    }
}

void fill_run(int start, int end, vec4 left_colour, vec2 left_aux, vec4 right_colour, vec2 right_aux) {
    // holes [start, end) between the covered pixels start − 1 and end (either may be off the row)
    int left = start - 1;
    int right = end < g_size.x ? end : -1;
    for (int p = start; p < end; ++p) {
        bool l = left >= 0 && p - left <= u_search;
        bool r = right >= 0 && right - p <= u_search;
        bool take_right = l && r ? (right_aux.x < left_aux.x || (right_aux.x == left_aux.x && u_prefer_right)) : r;
        if (!l && !r) {
            imageStore(u_colour, ivec2(p, g_y), vec4(0.0));
            imageStore(u_aux, ivec2(p, g_y), vec4(0.0, -1.0, u_stamp, 0.0));
            continue;
        }
        vec4 c = take_right ? right_colour : left_colour;
        vec2 a = take_right ? right_aux : left_aux;
        imageStore(u_colour, ivec2(p, g_y), vec4(c.rgb, 0.0));
        imageStore(u_aux, ivec2(p, g_y), vec4(a, u_stamp, 0.0));
    }
}

void colour_and_fill_row() {
    // the colour of every covered pixel; each run of holes filled once the pixel after it is known
    int start = -1;  // first hole of the run being walked
    vec4 last_colour = vec4(0.0);
    vec2 last_aux = vec2(0.0);
    for (int j = 0; j < g_size.x; ++j) {
        vec4 best = imageLoad(u_aux, ivec2(j, g_y));
        if (best.b != u_stamp) {
            start = start < 0 ? j : start;
            continue;
        }
        vec4 c = vec4(textureLod(u_image, vec2((best.g + 0.5) / float(g_size.x), g_v), 0.0).rgb, 1.0);
        imageStore(u_colour, ivec2(j, g_y), c);
        if (start >= 0) {
            fill_run(start, j, last_colour, last_aux, c, best.rg);
            start = -1;
        }
        last_colour = c;
        last_aux = best.rg;
    }
    if (start >= 0) fill_run(start, g_size.x, last_colour, last_aux, vec4(0.0), vec2(0.0));
}

void main() {
    g_size = imageSize(u_aux);
    g_y = u_rows.x + int(gl_GlobalInvocationID.x);
    if (g_y >= u_rows.y || g_y >= g_size.y) return;
    g_v = (float(g_y) + 0.5) / float(g_size.y);
    splat_row();
    colour_and_fill_row();
}
