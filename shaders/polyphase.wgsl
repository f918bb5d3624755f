// polyphase.wgsl — exact polyphase form of "nearest ×2 upsample, then a k×k stride-1 conv with
// zero padding p = (k−1)/2" (the decoder's up-convolution), channel-major [C,H,W] f32.
//
// With x of (Cin, H, W) at low resolution and y of (Cout, 2H, 2W), output row Y = 2i + a reads the
// upsampled row Y + ky − p, i.e. low-resolution row i + d, d = ⌊(a + ky − p)/2⌋ ∈ [−q, q],
// q = ⌈p/2⌉ (the same for columns with phase b). So each of the 4 phases (a, b) is a
// K' × K' conv (K' = 2q + 1, zero padding q) of x, whose taps are sums of the original taps:
//   pp_phase_weights:  wp[(2a+b)·Cout + o, c, ty, tx] = Σ_{ky: ⌊(a+ky−p)/2⌋+q = ty} Σ_{kx: …= tx} w[o,c,ky,kx]
//   pp_phase_weights_backward (its adjoint):
//                      dw[o,c,ky,kx] += Σ_{a,b} dwp[(2a+b)·Cout + o, c, ty(a,ky), tx(b,kx)]
//   pp_shuffle:   y[o, 2i+a, 2j+b] = P[(2a+b)·Cout + o, i, j] (+ bias[o] when BIAS = 1)
//   pp_unshuffle: gP[(2a+b)·Cout + o, i, j] = gy[o, 2i+a, 2j+b]           (overwrites gP)
// The phase conv P = conv_{K'}(x; wp) is the ordinary conv2d kernel with 4·Cout outputs.
// Zero padding p at high resolution is exactly zero padding q at low resolution: Y + ky − p is
// outside [0, 2H) exactly when its low-resolution row is outside [0, H).
// pp_phase_weights and pp_phase_weights_backward: one invocation per (o, c) weight pair; the
// shuffles: one per element written.
// Gathers, no atomics.
// Groups (G independent up-convolutions side by side, see Conv2d::groups): cin and cout in Params
// are per group; x, w, wp, P and y are G consecutive blocks of one group's tensors, so group g's
// phase rows are (4g + 2a + b)·Cout + o. Every kernel derives g from its flat index (n counts all
// groups): one dispatch for all groups.
// Rust side and CPU reference: src/ops/polyphase/; tests: tests/it/ops/polyphase.rs.
override WG: u32 = 256u;
override BIAS: u32 = 0u;
// The conv's size and padding, and the phase conv's (pp_phase_weights and its backward):
// constants, so the tap loops unroll and the phase accumulators stay in registers.
override K: u32 = 5u;
override PD: u32 = 2u;
override KL: u32 = 3u;
override QD: u32 = 1u;

// cin, cout: channels of the original conv (per group); h, w: the low-resolution plane;
// n: invocations needed (the sizes and paddings are the overrides above).
struct Params { cin: u32, cout: u32, h: u32, w: u32, n: u32, _p0: u32, _p1: u32, _p2: u32 }

fn lin(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.x + wid.y * nwg.x) * WG + lid;
}

// The phase-conv tap index of original tap kk for phase a: ⌊(a + kk − p)/2⌋ + q (always ≥ 0).
fn ptap(a: u32, kk: u32, p: u32, q: u32) -> u32 {
    return (a + kk + 2u * q - p) / 2u;
}

// Channel of phase ph (= 2a + b) of output channel o of group g in wp, P and gP.
fn prow(g: u32, ph: u32, o: u32, cout: u32) -> u32 {
    return (4u * g + ph) * cout + o;
}

@group(0) @binding(0) var<storage, read> wt_w: array<f32>;
@group(0) @binding(1) var<storage, read_write> wt_wp: array<f32>;
@group(0) @binding(2) var<uniform> wt_p: Params;

// Largest supported phase conv: K' ≤ 5 (K ≤ 7).
const KLMAX: u32 = 5u;

// One invocation per (o, c) pair: k² loads, 4·K'² stores.
@compute @workgroup_size(WG)
fn pp_phase_weights(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
    let i = lin(wid, nwg, lid);
    if (i >= wt_p.n) { return; }
    let go = i / wt_p.cin;                      // g · Cout + o
    let g = go / wt_p.cout;
    let o = go % wt_p.cout;
    let c = i % wt_p.cin;
    var acc: array<f32, 100>;                   // 4 · KLMAX²
    for (var t = 0u; t < 4u * KL * KL; t++) { acc[t] = 0.0; }
    let base = i * K * K;                       // ((g · Cout + o) · Cin + c) · k²
    for (var ky = 0u; ky < K; ky++) {
        for (var kx = 0u; kx < K; kx++) {
            let v = wt_w[base + ky * K + kx];
            for (var ph = 0u; ph < 4u; ph++) {
                let ty = ptap(ph / 2u, ky, PD, QD);
                let tx = ptap(ph % 2u, kx, PD, QD);
                acc[(ph * KL + ty) * KL + tx] += v;
            }
        }
    }
    for (var ph = 0u; ph < 4u; ph++) {
        let dst = (prow(g, ph, o, wt_p.cout) * wt_p.cin + c) * KL * KL;
        for (var t = 0u; t < KL * KL; t++) { wt_wp[dst + t] = acc[ph * KL * KL + t]; }
    }
}

@group(0) @binding(0) var<storage, read> gw_gwp: array<f32>;
@group(0) @binding(1) var<storage, read_write> gw_gw: array<f32>;
@group(0) @binding(2) var<uniform> gw_p: Params;

// One invocation per (o, c) pair: 4·K'² loads, k² read-modify-writes.
@compute @workgroup_size(WG)
fn pp_phase_weights_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
    let i = lin(wid, nwg, lid);
    if (i >= gw_p.n) { return; }
    let go = i / gw_p.cin;
    let grp = go / gw_p.cout;
    let o = go % gw_p.cout;
    let c = i % gw_p.cin;
    var g: array<f32, 100>;                     // 4 · KLMAX²
    for (var ph = 0u; ph < 4u; ph++) {
        let src = (prow(grp, ph, o, gw_p.cout) * gw_p.cin + c) * KL * KL;
        for (var t = 0u; t < KL * KL; t++) { g[ph * KL * KL + t] = gw_gwp[src + t]; }
    }
    let base = i * K * K;
    for (var ky = 0u; ky < K; ky++) {
        for (var kx = 0u; kx < K; kx++) {
            var s = 0.0;
            for (var ph = 0u; ph < 4u; ph++) {
                let ty = ptap(ph / 2u, ky, PD, QD);
                let tx = ptap(ph % 2u, kx, PD, QD);
                s += g[(ph * KL + ty) * KL + tx];
            }
            gw_gw[base + ky * K + kx] += s;
        }
    }
}

@group(0) @binding(0) var<storage, read> sh_p4: array<f32>;
@group(0) @binding(1) var<storage, read> sh_b: array<f32>;
@group(0) @binding(2) var<storage, read_write> sh_y: array<f32>;
@group(0) @binding(3) var<uniform> sh_p: Params;

@compute @workgroup_size(WG)
fn pp_shuffle(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let i = lin(wid, nwg, lid);
    if (i >= sh_p.n) { return; }
    let w2 = 2u * sh_p.w;
    let h2 = 2u * sh_p.h;
    let x = i % w2;
    let y = (i / w2) % h2;
    let go = i / (w2 * h2);
    let ph = (y % 2u) * 2u + x % 2u;
    let row = prow(go / sh_p.cout, ph, go % sh_p.cout, sh_p.cout);
    var v = sh_p4[(row * sh_p.h + y / 2u) * sh_p.w + x / 2u];
    if (BIAS == 1u) { v += sh_b[go]; }
    sh_y[i] = v;
}

@group(0) @binding(0) var<storage, read> us_gy: array<f32>;
@group(0) @binding(1) var<storage, read_write> us_gp: array<f32>;
@group(0) @binding(2) var<uniform> us_p: Params;

@compute @workgroup_size(WG)
fn pp_unshuffle(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let i = lin(wid, nwg, lid);
    if (i >= us_p.n) { return; }
    let j = i % us_p.w;
    let r = (i / us_p.w) % us_p.h;
    let gpo = i / (us_p.w * us_p.h);            // (4g + ph) · Cout + o
    let g = gpo / (4u * us_p.cout);
    let o = gpo % us_p.cout;
    let ph = (gpo / us_p.cout) % 4u;
    let y = 2u * r + ph / 2u;
    let x = 2u * j + ph % 2u;
    us_gp[i] = us_gy[((g * us_p.cout + o) * 2u * us_p.h + y) * 2u * us_p.w + x];
}

// ---- Vector forms of the shuffles, for an even low-resolution width W: one invocation per
//      vec4 of y (4 columns 4m..4m+3 of row Y = 2i + a), which are the vec2s at column 2m of
//      phases (a, 0) and (a, 1) of P, interleaved. ----
@group(0) @binding(0) var<storage, read> shv_p4: array<vec2<f32>>;
@group(0) @binding(1) var<storage, read> shv_b: array<f32>;
@group(0) @binding(2) var<storage, read_write> shv_y: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> shv_p: Params;

@compute @workgroup_size(WG)
fn pp_shuffle_vec(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let i = lin(wid, nwg, lid);
    if (i >= shv_p.n) { return; }
    let hw = shv_p.w / 2u;                      // vec2s per low-resolution row
    let m = i % hw;
    let yy = (i / hw) % (2u * shv_p.h);
    let go = i / (hw * 2u * shv_p.h);
    let g = go / shv_p.cout;
    let o = go % shv_p.cout;
    let a = yy % 2u;
    let r = yy / 2u;
    let p0 = shv_p4[(prow(g, 2u * a, o, shv_p.cout) * shv_p.h + r) * hw + m];
    let p1 = shv_p4[(prow(g, 2u * a + 1u, o, shv_p.cout) * shv_p.h + r) * hw + m];
    var v = vec4<f32>(p0.x, p1.x, p0.y, p1.y);
    if (BIAS == 1u) { v += vec4<f32>(shv_b[go]); }
    shv_y[i] = v;
}

@group(0) @binding(0) var<storage, read> usv_gy: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> usv_gp: array<vec2<f32>>;
@group(0) @binding(2) var<uniform> usv_p: Params;

@compute @workgroup_size(WG)
fn pp_unshuffle_vec(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let i = lin(wid, nwg, lid);
    if (i >= usv_p.n) { return; }
    let hw = usv_p.w / 2u;
    let m = i % hw;
    let yy = (i / hw) % (2u * usv_p.h);
    let go = i / (hw * 2u * usv_p.h);
    let g = go / usv_p.cout;
    let o = go % usv_p.cout;
    let a = yy % 2u;
    let r = yy / 2u;
    let v = usv_gy[i];
    usv_gp[(prow(g, 2u * a, o, usv_p.cout) * usv_p.h + r) * hw + m] = v.xz;
    usv_gp[(prow(g, 2u * a + 1u, o, usv_p.cout) * usv_p.h + r) * hw + m] = v.yw;
}
