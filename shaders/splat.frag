// Pass 2: one eye by the engine's z-buffered row splat (engine.ops.splat), as a gather.
// Source pixel x lands at t(x) = x − s · d(x); neighbours x, x+1 form a segment covering the
// target pixels j with t(x) ≤ j < t(x+1) when 0 < t(x+1) − t(x) ≤ u_max_len (else it is a
// disocclusion or a fold); a pixel ending a run of segments also covers half a pixel beyond
// itself. Among all candidates for j the larger disparity (nearer) wins, ties to the later one.
// Each target pixel visits the source pixels that can reach it: x − j within the disparity range.
uniform sampler2D u_disparity;  // pass 1, eye resolution, R32F (nearest)
uniform sampler2D u_image;      // the frame, sRGB RGB, linear filtering
uniform float u_scale;          // −0.5 left eye, +0.5 right eye
uniform float u_max_len;        // longest segment still one surface, in eye pixels
uniform vec2 u_range;           // (min d, max d) of the frame, eye pixels

in vec2 v_uv;
layout(location = 0) out vec4 o_colour;  // rgb, a = 1 where a surface landed
layout(location = 1) out vec4 o_aux;     // (d / W, source u, source v, covered)

bool finite(float v) { return !(isnan(v) || isinf(v)); }

void main() {
    ivec2 size = textureSize(u_disparity, 0);
    int j = int(gl_FragCoord.x);
    int y = int(gl_FragCoord.y);
    float jf = float(j);
    float reach_a = u_scale * u_range.x;
    float reach_b = u_scale * u_range.y;
    int lo = max(0, j + int(floor(min(reach_a, reach_b))) - 2);
    int hi = min(size.x - 1, j + int(ceil(max(reach_a, reach_b))) + 2);

    float best = 0.0;
    float best_x = -1.0;  // source position of the winner (x + a), < 0: none
    float d_prev = lo > 0 ? texelFetch(u_disparity, ivec2(lo - 1, y), 0).r : 0.0;
    float d0 = texelFetch(u_disparity, ivec2(lo, y), 0).r;
    bool prev_seg = false;
    if (lo > 0 && finite(d_prev) && finite(d0)) {
        float len = (float(lo) - u_scale * d0) - (float(lo - 1) - u_scale * d_prev);
        prev_seg = len > 0.0 && len <= u_max_len;
    }
    for (int x = lo; x <= hi; ++x) {
        bool more = x + 1 < size.x;
        float d1 = more ? texelFetch(u_disparity, ivec2(x + 1, y), 0).r : 0.0;
        bool fin0 = finite(d0);
        float t0 = float(x) - u_scale * d0;
        float t1 = float(x + 1) - u_scale * d1;
        float len = t1 - t0;
        bool seg = fin0 && more && finite(d1) && len > 0.0 && len <= u_max_len;
        if (fin0) {
            if (!prev_seg && ceil(t0 - 0.5) == jf && jf < t0 && (best_x < 0.0 || d0 >= best)) {
                best = d0;  // left cap [t0 − 0.5, t0)
                best_x = float(x);
            }
            if (seg) {
                if (t0 <= jf && jf < t1) {
                    float a = (jf - t0) / len;
                    float dj = (1.0 - a) * d0 + a * d1;
                    if (best_x < 0.0 || dj >= best) {
                        best = dj;
                        best_x = float(x) + a;
                    }
                }
            } else if (ceil(t0) == jf && jf < t0 + 0.5 && (best_x < 0.0 || d0 >= best)) {
                best = d0;  // right cap [t0, t0 + 0.5)
                best_x = float(x);
            }
        }
        prev_seg = seg;
        d0 = d1;
    }
    if (best_x < 0.0) {
        o_colour = vec4(0.0);
        o_aux = vec4(0.0);
        return;
    }
    vec2 source = vec2((best_x + 0.5) / float(size.x), (float(y) + 0.5) / float(size.y));
    o_colour = vec4(texture(u_image, source).rgb, 1.0);
    o_aux = vec4(best / float(size.x), source, 1.0);
}
