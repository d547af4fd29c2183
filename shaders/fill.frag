// Disocclusions (nothing landed) take the colour of the background-side neighbour on their row,
// as engine.ops.fill does: the nearest covered pixel to the left and to the right, the one with
// the smaller disparity (farther) wins; a run touching the border takes its only neighbour.
uniform sampler2D u_colour;  // eye colour from the mesh pass (a = covered)
uniform sampler2D u_aux;     // (d / W, source u, source v, covered)
uniform int u_search;        // longest run searched, in eye pixels
uniform bool u_prefer_right; // side taken on a disparity tie

in vec2 v_uv;
layout(location = 0) out vec4 o_colour;  // rgb, a = 1 covered, 0 filled (a hole)
layout(location = 1) out vec4 o_aux;

void main() {
    ivec2 p = ivec2(gl_FragCoord.xy);
    int width = textureSize(u_colour, 0).x;
    vec4 here = texelFetch(u_aux, p, 0);
    if (here.a > 0.5) {
        o_colour = vec4(texelFetch(u_colour, p, 0).rgb, 1.0);
        o_aux = here;
        return;
    }
    int left = -1;
    int right = -1;
    for (int k = 1; k <= u_search; ++k) {
        if (left < 0 && p.x - k >= 0 && texelFetch(u_aux, ivec2(p.x - k, p.y), 0).a > 0.5) left = p.x - k;
        if (right < 0 && p.x + k < width && texelFetch(u_aux, ivec2(p.x + k, p.y), 0).a > 0.5) right = p.x + k;
        if (left >= 0 && right >= 0) break;
    }
    int src = -1;
    if (left >= 0 && right >= 0) {
        float dl = texelFetch(u_aux, ivec2(left, p.y), 0).r;
        float dr = texelFetch(u_aux, ivec2(right, p.y), 0).r;
        src = dl < dr ? left : (dr < dl ? right : (u_prefer_right ? right : left));
    } else {
        src = max(left, right);
    }
    if (src < 0) {
        o_colour = vec4(0.0, 0.0, 0.0, 0.0);
        o_aux = vec4(0.0);
        return;
    }
    o_colour = vec4(texelFetch(u_colour, ivec2(src, p.y), 0).rgb, 0.0);
    o_aux = vec4(texelFetch(u_aux, ivec2(src, p.y), 0).rgb, 0.0);
}
