// conv2d_common.wgsl — what conv2d.wgsl and conv2d_sg.wgsl share, prepended to each when it is
// loaded (src/gpu/kernel.rs, Shader::prelude): Params, the padding mode and the helpers that read
// padded input, and the overrides both families take.
override PADM: u32 = 0u;        // padding: 0 zeros, 1 reflection (−1 → 1, H → H−2)
override ACC: bool = false;     // add to the output instead of overwriting it
override BIAS: bool = false;    // add the bias

// Sizes: input [cin,h,w], output [cout,ho,wo]; np: padded channel count of wt's last axis;
// rows: rows (or elements) per chunk; nch: chunks; n: element count for conv_rearrange_weights
// (per group) / conv_sum_partials / conv_backward_weight_scalar (one group's weights); groups: G
// (cin, cout, np and wt are per group). Rust mirror: conv2d::Params.
struct Params {
    cin: u32, cout: u32, h: u32, w: u32,
    ho: u32, wo: u32, np: u32, rows: u32,
    nch: u32, n: u32, groups: u32, _p1: u32,
}

// Padded coordinate → source coordinate, or −1 where zero padding reads a zero.
fn src(i: i32, n: i32) -> i32 {
    if (PADM == 1u) {
        var j = abs(i);
        if (j >= n) { j = 2 * n - 2 - j; }
        return j;
    }
    return select(-1, i, i >= 0 && i < n);
}

// The vec4 left of a row's first vec4 m0, at the image's left edge.
fn edge_l(l: vec4<f32>, m0: vec4<f32>, at_edge: bool) -> vec4<f32> {
    if (PADM == 1u) { return select(l, vec4<f32>(0.0, m0.w, m0.z, m0.y), at_edge); }
    return select(l, vec4<f32>(0.0), at_edge);
}

// The vec4 right of a row's last vec4 m, at the image's right edge (reflection: PAD <= 3).
fn edge_r(r: vec4<f32>, m: vec4<f32>, at_edge: bool) -> vec4<f32> {
    if (PADM == 1u) { return select(r, vec4<f32>(m.z, m.y, m.x, 0.0), at_edge); }
    return select(r, vec4<f32>(0.0), at_edge);
}

