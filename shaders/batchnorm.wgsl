// batchnorm.wgsl — training-mode BatchNorm2d on one image, channel-major [C,H,W] f32, n = H·W.
//   forward:  μ_c = Σ_i x[c,i] / n,  σ²_c = Σ_i (x[c,i] − μ_c)² / n (biased),  r_c = 1/sqrt(σ²_c + eps)
//             y[c,i] = γ_c (x[c,i] − μ_c) r_c + β_c;      stats = [μ_0..μ_{C−1}, r_0..r_{C−1}]
//   backward: x̂ = (x − μ) r;   dβ_c += Σ_i gy,   dγ_c += Σ_i gy·x̂
//             dx[c,i] += γ_c r_c (gy − Σ_i gy / n − x̂ · Σ_i gy·x̂ / n)
// Reductions are deterministic, without atomics or workgroup memory (slow on lavapipe):
//   *_part:   workgroup (b, c) reads block b of channel c, WG·K contiguous units (vec4 or f32);
//             each invocation sums K of them, strided by WG, into one vec2 partial (p.parts per
//             channel). Forward sums (x − k, (x − k)²) with the shift k = x[c,0]
//             (shifted-data variance, no cancellation); backward sums (gy, gy·x̂).
//   *_reduce: one invocation per channel adds its partials pairwise (binary-counter cascade), or
//             with TREE (for GPUs) one workgroup per channel: strided sums, then a tree.
//   *_apply:  elementwise; workgroup (b, c) does block b of WG·KA units of channel c, so the
//             per-channel values are loaded once per invocation.
//   Suffix _v4: vec4 units (needs n % 4 == 0); _s: scalar fallback — one body for both, the
//   @units section below, which the loader writes out once per unit type.
// Fused with the activation that follows (f, f', ACT: activation.wgsl, prepended to this file
// when it is loaded), vec4 only:
//   fwd_apply_act_v4: writes y = BN(x) and ya = f(y) in one pass;
//   bwd_part_act_v4, bwd_apply_act_v4: the backward of f∘BN, taking gy = gya · f'(y) on the fly
//             (no activation-gradient pass, no gy buffer).
// Rust side and CPU reference: src/ops/batchnorm/; tests: tests/it/ops/batchnorm.rs.
override WG: u32 = 64u;
override K: u32 = 16u;
override KA: u32 = 4u;
override TREE: bool = false;

// units: units per channel plane (n/4 for _v4, n for _s); blocks: workgroups per channel in
// *_part; parts = blocks·WG partials per channel.
struct Params { c: u32, hw: u32, units: u32, blocks: u32, parts: u32, eps: f32, _p0: u32, _p1: u32 }

fn hsum_v4(v: vec4<f32>) -> f32 { return (v.x + v.y) + (v.z + v.w); }
fn hsum_s(v: f32) -> f32 { return v; }
fn first_v4(v: vec4<f32>) -> f32 { return v.x; }
fn first_s(v: f32) -> f32 { return v; }

// --- the per-unit passes, written once for both unit types -------------------------------------
// The loader (src/ops/batchnorm/mod.rs, `shader_source`) instantiates the text between the
// @units markers twice: UNIT = vec4<f32>, SFX = v4 (n % 4 == 0) and UNIT = f32, SFX = s.
// @units begin
@group(0) @binding(0) var<storage, read> fwd_part_x_SFX: array<UNIT>;
@group(0) @binding(1) var<storage, read_write> fwd_part_out_SFX: array<vec2<f32>>;
@group(0) @binding(2) var<uniform> fwd_part_p_SFX: Params;

// Partial sums of (x − k, (x − k)²), k = x[c, 0].
@compute @workgroup_size(WG)
fn fwd_part_SFX(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c = wid.y;
    let b = wid.x;
    let base = c * fwd_part_p_SFX.units;
    let k = first_SFX(fwd_part_x_SFX[base]);
    var s1 = UNIT(0.0);
    var s2 = UNIT(0.0);
    for (var t = 0u; t < K; t++) {
        let u = (b * K + t) * WG + lid;
        if (u >= fwd_part_p_SFX.units) { break; }
        let d = fwd_part_x_SFX[base + u] - k;
        s1 += d;
        s2 += d * d;
    }
    fwd_part_out_SFX[c * fwd_part_p_SFX.parts + b * WG + lid] = vec2<f32>(hsum_SFX(s1), hsum_SFX(s2));
}

@group(0) @binding(0) var<storage, read> fwd_apply_x_SFX: array<UNIT>;
@group(0) @binding(1) var<storage, read> fwd_apply_gamma_SFX: array<f32>;
@group(0) @binding(2) var<storage, read> fwd_apply_beta_SFX: array<f32>;
@group(0) @binding(3) var<storage, read> fwd_apply_stats_SFX: array<f32>;
@group(0) @binding(4) var<storage, read_write> fwd_apply_y_SFX: array<UNIT>;
@group(0) @binding(5) var<uniform> fwd_apply_p_SFX: Params;

// y = (x − μ)·γr + β.
@compute @workgroup_size(WG)
fn fwd_apply_SFX(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c = wid.y;
    let a = fwd_apply_gamma_SFX[c] * fwd_apply_stats_SFX[fwd_apply_p_SFX.c + c];
    let m = fwd_apply_stats_SFX[c];
    let b = fwd_apply_beta_SFX[c];
    for (var t = 0u; t < KA; t++) {
        let u = (wid.x * KA + t) * WG + lid;
        if (u >= fwd_apply_p_SFX.units) { break; }
        let i = c * fwd_apply_p_SFX.units + u;
        fwd_apply_y_SFX[i] = (fwd_apply_x_SFX[i] - m) * a + b;
    }
}

@group(0) @binding(0) var<storage, read> bwd_part_x_SFX: array<UNIT>;
@group(0) @binding(1) var<storage, read> bwd_part_gy_SFX: array<UNIT>;
@group(0) @binding(2) var<storage, read> bwd_part_stats_SFX: array<f32>;
@group(0) @binding(3) var<storage, read_write> bwd_part_out_SFX: array<vec2<f32>>;
@group(0) @binding(4) var<uniform> bwd_part_p_SFX: Params;

// Partial sums of (gy, gy·x̂).
@compute @workgroup_size(WG)
fn bwd_part_SFX(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c = wid.y;
    let b = wid.x;
    let base = c * bwd_part_p_SFX.units;
    let mu = bwd_part_stats_SFX[c];
    let r = bwd_part_stats_SFX[bwd_part_p_SFX.c + c];
    var s1 = UNIT(0.0);
    var s2 = UNIT(0.0);
    for (var t = 0u; t < K; t++) {
        let u = (b * K + t) * WG + lid;
        if (u >= bwd_part_p_SFX.units) { break; }
        let gy = bwd_part_gy_SFX[base + u];
        s1 += gy;
        s2 += gy * ((bwd_part_x_SFX[base + u] - mu) * r);
    }
    bwd_part_out_SFX[c * bwd_part_p_SFX.parts + b * WG + lid] = vec2<f32>(hsum_SFX(s1), hsum_SFX(s2));
}

@group(0) @binding(0) var<storage, read> bwd_apply_x_SFX: array<UNIT>;
@group(0) @binding(1) var<storage, read> bwd_apply_gy_SFX: array<UNIT>;
@group(0) @binding(2) var<storage, read> bwd_apply_gamma_SFX: array<f32>;
@group(0) @binding(3) var<storage, read> bwd_apply_stats_SFX: array<f32>;
@group(0) @binding(4) var<storage, read> bwd_apply_means_SFX: array<f32>;
@group(0) @binding(5) var<storage, read_write> bwd_apply_dx_SFX: array<UNIT>;
@group(0) @binding(6) var<uniform> bwd_apply_p_SFX: Params;

// dx += γr (gy − mean(gy) − x̂ mean(gy·x̂)).
@compute @workgroup_size(WG)
fn bwd_apply_SFX(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c = wid.y;
    let r = bwd_apply_stats_SFX[bwd_apply_p_SFX.c + c];
    let mu = bwd_apply_stats_SFX[c];
    let a = bwd_apply_gamma_SFX[c] * r;
    let mg = bwd_apply_means_SFX[c];
    let mgx = bwd_apply_means_SFX[bwd_apply_p_SFX.c + c];
    for (var t = 0u; t < KA; t++) {
        let u = (wid.x * KA + t) * WG + lid;
        if (u >= bwd_apply_p_SFX.units) { break; }
        let i = c * bwd_apply_p_SFX.units + u;
        let xh = (bwd_apply_x_SFX[i] - mu) * r;
        bwd_apply_dx_SFX[i] += a * (bwd_apply_gy_SFX[i] - mg - xh * mgx);
    }
}
// @units end

// --- reduce passes: the per-channel sum of the partials, shared by fwd_reduce and bwd_reduce
// (both bind the partials first) ---------------------------------------------------------------
@group(0) @binding(0) var<storage, read> red_part: array<vec2<f32>>;

// Pairwise sum of red_part[base .. base + n]: a stack of partial sums of 2^j partials.
fn red_cascade(base: u32, n: u32) -> vec2<f32> {
    var stk: array<vec2<f32>, 32>;
    var top = 0u;
    for (var i = 0u; i < n; i++) {
        var v = red_part[base + i];
        for (var m = countTrailingZeros(i + 1u); m > 0u; m--) { top -= 1u; v = stk[top] + v; }
        stk[top] = v;
        top += 1u;
    }
    var s = vec2<f32>(0.0);
    while (top > 0u) { top -= 1u; s = stk[top] + s; }
    return s;
}

var<workgroup> red_tree: array<vec2<f32>, 256>;

// Σ of channel c's `parts` partials (of `nc` channels). TREE: by the whole workgroup (strided
// sums, then a tree in workgroup memory; needs WG a power of two ≤ 256). Else by this
// invocation (cascade).
fn red_sum(c: u32, lid: u32, parts: u32, nc: u32) -> vec2<f32> {
    if (!TREE) { return red_cascade(c * parts, select(0u, parts, c < nc)); }
    var s = vec2<f32>(0.0);
    for (var i = lid; i < parts; i += WG) { s += red_part[c * parts + i]; }
    red_tree[lid] = s;
    for (var w = WG / 2u; w > 0u; w >>= 1u) {
        workgroupBarrier();
        if (lid < w) { red_tree[lid] += red_tree[lid + w]; }
    }
    workgroupBarrier();
    return red_tree[0];
}

// --- forward reduce: stats = [μ, r] -----------------------------------------------------------
@group(0) @binding(1) var<storage, read> fwd_reduce_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> fwd_reduce_stats: array<f32>;
@group(0) @binding(3) var<uniform> fwd_reduce_p: Params;

@compute @workgroup_size(WG)
fn fwd_reduce(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let c = select(gid.x, wid.x, TREE);
    let s = red_sum(c, lid, fwd_reduce_p.parts, fwd_reduce_p.c);
    if (c >= fwd_reduce_p.c || (TREE && lid != 0u)) { return; }
    let n = f32(fwd_reduce_p.hw);
    let m1 = s.x / n;
    let var_b = max(s.y / n - m1 * m1, 0.0);
    fwd_reduce_stats[c] = fwd_reduce_x[c * fwd_reduce_p.hw] + m1;
    fwd_reduce_stats[fwd_reduce_p.c + c] = 1.0 / sqrt(var_b + fwd_reduce_p.eps);
}

// --- backward reduce: dβ += Σgy, dγ += Σgy·x̂, means = [Σgy/n, Σgy·x̂/n] -----------------------
@group(0) @binding(1) var<storage, read_write> bwd_reduce_dgamma: array<f32>;
@group(0) @binding(2) var<storage, read_write> bwd_reduce_dbeta: array<f32>;
@group(0) @binding(3) var<storage, read_write> bwd_reduce_means: array<f32>;
@group(0) @binding(4) var<uniform> bwd_reduce_p: Params;

@compute @workgroup_size(WG)
fn bwd_reduce(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let c = select(gid.x, wid.x, TREE);
    let s = red_sum(c, lid, bwd_reduce_p.parts, bwd_reduce_p.c);
    if (c >= bwd_reduce_p.c || (TREE && lid != 0u)) { return; }
    let n = f32(bwd_reduce_p.hw);
    bwd_reduce_dbeta[c] += s.x;
    bwd_reduce_dgamma[c] += s.y;
    bwd_reduce_means[c] = s.x / n;
    bwd_reduce_means[bwd_reduce_p.c + c] = s.y / n;
}

// --- fused with the activation (f, f' from activation.wgsl) -----------------------------------
@group(0) @binding(0) var<storage, read> fwd_apply_act_x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> fwd_apply_act_gamma: array<f32>;
@group(0) @binding(2) var<storage, read> fwd_apply_act_beta: array<f32>;
@group(0) @binding(3) var<storage, read> fwd_apply_act_stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> fwd_apply_act_y: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> fwd_apply_act_ya: array<vec4<f32>>;
@group(0) @binding(6) var<uniform> fwd_apply_act_p: Params;

@compute @workgroup_size(WG)
fn fwd_apply_act_v4(@builtin(workgroup_id) wid: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
    let c = wid.y;
    let a = fwd_apply_act_gamma[c] * fwd_apply_act_stats[fwd_apply_act_p.c + c];
    let m = fwd_apply_act_stats[c];
    let b = fwd_apply_act_beta[c];
    for (var t = 0u; t < KA; t++) {
        let u = (wid.x * KA + t) * WG + lid;
        if (u >= fwd_apply_act_p.units) { break; }
        let i = c * fwd_apply_act_p.units + u;
        let y = (fwd_apply_act_x[i] - m) * a + b;
        fwd_apply_act_y[i] = y;
        fwd_apply_act_ya[i] = act(y);
    }
}

@group(0) @binding(0) var<storage, read> bwd_part_act_x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> bwd_part_act_gya: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bwd_part_act_y: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bwd_part_act_ya: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> bwd_part_act_stats: array<f32>;
@group(0) @binding(5) var<storage, read_write> bwd_part_act_part: array<vec2<f32>>;
@group(0) @binding(6) var<uniform> bwd_part_act_p: Params;

@compute @workgroup_size(WG)
fn bwd_part_act_v4(@builtin(workgroup_id) wid: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
    let c = wid.y;
    let b = wid.x;
    let base = c * bwd_part_act_p.units;
    let mu = bwd_part_act_stats[c];
    let r = bwd_part_act_stats[bwd_part_act_p.c + c];
    var s1 = vec4<f32>(0.0);
    var s2 = vec4<f32>(0.0);
    for (var t = 0u; t < K; t++) {
        let u = (b * K + t) * WG + lid;
        if (u >= bwd_part_act_p.units) { break; }
        let i = base + u;
        let gy = bwd_part_act_gya[i] * act_grad(bwd_part_act_y[i], bwd_part_act_ya[i]);
        s1 += gy;
        s2 += gy * ((bwd_part_act_x[i] - mu) * r);
    }
    bwd_part_act_part[c * bwd_part_act_p.parts + b * WG + lid] = vec2<f32>(hsum_v4(s1), hsum_v4(s2));
}

@group(0) @binding(0) var<storage, read> bwd_apply_act_x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> bwd_apply_act_gya: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bwd_apply_act_y: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bwd_apply_act_ya: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> bwd_apply_act_gamma: array<f32>;
@group(0) @binding(5) var<storage, read> bwd_apply_act_stats: array<f32>;
@group(0) @binding(6) var<storage, read> bwd_apply_act_means: array<f32>;
@group(0) @binding(7) var<storage, read_write> bwd_apply_act_dx: array<vec4<f32>>;
@group(0) @binding(8) var<uniform> bwd_apply_act_p: Params;

@compute @workgroup_size(WG)
fn bwd_apply_act_v4(@builtin(workgroup_id) wid: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
    let c = wid.y;
    let r = bwd_apply_act_stats[bwd_apply_act_p.c + c];
    let mu = bwd_apply_act_stats[c];
    let a = bwd_apply_act_gamma[c] * r;
    let mg = bwd_apply_act_means[c];
    let mgx = bwd_apply_act_means[bwd_apply_act_p.c + c];
    for (var t = 0u; t < KA; t++) {
        let u = (wid.x * KA + t) * WG + lid;
        if (u >= bwd_apply_act_p.units) { break; }
        let i = c * bwd_apply_act_p.units + u;
        let gy = bwd_apply_act_gya[i] * act_grad(bwd_apply_act_y[i], bwd_apply_act_ya[i]);
        let xh = (bwd_apply_act_x[i] - mu) * r;
        bwd_apply_act_dx[i] += a * (gy - mg - xh * mgx);
    }
}
