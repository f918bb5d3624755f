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
//   Suffix _v4: vec4 units (needs n % 4 == 0); _s: scalar fallback.
// Fused with the activation that follows (f, f', ACT: activation.wgsl, prepended to this file
// when it is loaded), vec4 only:
//   fwd_apply_act_v4: writes y = BN(x) and ya = f(y) in one pass;
//   bwd_part_act_v4, bwd_apply_act_v4: the backward of f∘BN, taking gy = gya · f'(y) on the fly
//             (no activation-gradient pass, no gy buffer).
// Rust side and CPU reference: src/ops/batchnorm.rs; tests: tests/it/batchnorm.rs.
override WG: u32 = 64u;
override K: u32 = 16u;
override KA: u32 = 4u;
override TREE: bool = false;

// units: units per channel plane (n/4 for _v4, n for _s); blocks: workgroups per channel in
// *_part; parts = blocks·WG partials per channel.
struct Params { c: u32, hw: u32, units: u32, blocks: u32, parts: u32, eps: f32, _p0: u32, _p1: u32 }

fn hsum(v: vec4<f32>) -> f32 { return (v.x + v.y) + (v.z + v.w); }

// --- forward partial sums -------------------------------------------------------------------
@group(0) @binding(0) var<storage, read> fpv_x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> fpv_part: array<vec2<f32>>;
@group(0) @binding(2) var<uniform> fpv_p: Params;

@compute @workgroup_size(WG)
fn fwd_part_v4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c = wid.y;
    let b = wid.x;
    let base = c * fpv_p.units;
    let k = fpv_x[base].x;
    var s1 = vec4<f32>(0.0);
    var s2 = vec4<f32>(0.0);
    for (var t = 0u; t < K; t++) {
        let u = (b * K + t) * WG + lid;
        if (u >= fpv_p.units) { break; }
        let d = fpv_x[base + u] - k;
        s1 += d;
        s2 += d * d;
    }
    fpv_part[c * fpv_p.parts + b * WG + lid] = vec2<f32>(hsum(s1), hsum(s2));
}

@group(0) @binding(0) var<storage, read> fps_x: array<f32>;
@group(0) @binding(1) var<storage, read_write> fps_part: array<vec2<f32>>;
@group(0) @binding(2) var<uniform> fps_p: Params;

@compute @workgroup_size(WG)
fn fwd_part_s(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c = wid.y;
    let b = wid.x;
    let base = c * fps_p.units;
    let k = fps_x[base];
    var s = vec2<f32>(0.0);
    for (var t = 0u; t < K; t++) {
        let u = (b * K + t) * WG + lid;
        if (u >= fps_p.units) { break; }
        let d = fps_x[base + u] - k;
        s += vec2<f32>(d, d * d);
    }
    fps_part[c * fps_p.parts + b * WG + lid] = s;
}

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
@group(0) @binding(1) var<storage, read> fr_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> fr_stats: array<f32>;
@group(0) @binding(3) var<uniform> fr_p: Params;

@compute @workgroup_size(WG)
fn fwd_reduce(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let c = select(gid.x, wid.x, TREE);
    let s = red_sum(c, lid, fr_p.parts, fr_p.c);
    if (c >= fr_p.c || (TREE && lid != 0u)) { return; }
    let n = f32(fr_p.hw);
    let m1 = s.x / n;
    let var_b = max(s.y / n - m1 * m1, 0.0);
    fr_stats[c] = fr_x[c * fr_p.hw] + m1;
    fr_stats[fr_p.c + c] = 1.0 / sqrt(var_b + fr_p.eps);
}

// --- forward apply ----------------------------------------------------------------------------
@group(0) @binding(0) var<storage, read> fav_x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> fav_gamma: array<f32>;
@group(0) @binding(2) var<storage, read> fav_beta: array<f32>;
@group(0) @binding(3) var<storage, read> fav_stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> fav_y: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> fav_p: Params;

@compute @workgroup_size(WG)
fn fwd_apply_v4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c = wid.y;
    let a = fav_gamma[c] * fav_stats[fav_p.c + c];
    let m = fav_stats[c];
    let b = fav_beta[c];
    for (var t = 0u; t < KA; t++) {
        let u = (wid.x * KA + t) * WG + lid;
        if (u >= fav_p.units) { break; }
        let i = c * fav_p.units + u;
        fav_y[i] = (fav_x[i] - m) * a + b;
    }
}

@group(0) @binding(0) var<storage, read> fas_x: array<f32>;
@group(0) @binding(1) var<storage, read> fas_gamma: array<f32>;
@group(0) @binding(2) var<storage, read> fas_beta: array<f32>;
@group(0) @binding(3) var<storage, read> fas_stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> fas_y: array<f32>;
@group(0) @binding(5) var<uniform> fas_p: Params;

@compute @workgroup_size(WG)
fn fwd_apply_s(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c = wid.y;
    let a = fas_gamma[c] * fas_stats[fas_p.c + c];
    let m = fas_stats[c];
    let b = fas_beta[c];
    for (var t = 0u; t < KA; t++) {
        let u = (wid.x * KA + t) * WG + lid;
        if (u >= fas_p.units) { break; }
        let i = c * fas_p.units + u;
        fas_y[i] = (fas_x[i] - m) * a + b;
    }
}

// --- backward partial sums: (gy, gy·x̂) --------------------------------------------------------
@group(0) @binding(0) var<storage, read> bpv_x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> bpv_gy: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bpv_stats: array<f32>;
@group(0) @binding(3) var<storage, read_write> bpv_part: array<vec2<f32>>;
@group(0) @binding(4) var<uniform> bpv_p: Params;

@compute @workgroup_size(WG)
fn bwd_part_v4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c = wid.y;
    let b = wid.x;
    let base = c * bpv_p.units;
    let mu = bpv_stats[c];
    let r = bpv_stats[bpv_p.c + c];
    var s1 = vec4<f32>(0.0);
    var s2 = vec4<f32>(0.0);
    for (var t = 0u; t < K; t++) {
        let u = (b * K + t) * WG + lid;
        if (u >= bpv_p.units) { break; }
        let gy = bpv_gy[base + u];
        s1 += gy;
        s2 += gy * ((bpv_x[base + u] - mu) * r);
    }
    bpv_part[c * bpv_p.parts + b * WG + lid] = vec2<f32>(hsum(s1), hsum(s2));
}

@group(0) @binding(0) var<storage, read> bps_x: array<f32>;
@group(0) @binding(1) var<storage, read> bps_gy: array<f32>;
@group(0) @binding(2) var<storage, read> bps_stats: array<f32>;
@group(0) @binding(3) var<storage, read_write> bps_part: array<vec2<f32>>;
@group(0) @binding(4) var<uniform> bps_p: Params;

@compute @workgroup_size(WG)
fn bwd_part_s(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c = wid.y;
    let b = wid.x;
    let base = c * bps_p.units;
    let mu = bps_stats[c];
    let r = bps_stats[bps_p.c + c];
    var s = vec2<f32>(0.0);
    for (var t = 0u; t < K; t++) {
        let u = (b * K + t) * WG + lid;
        if (u >= bps_p.units) { break; }
        let gy = bps_gy[base + u];
        s += vec2<f32>(gy, gy * ((bps_x[base + u] - mu) * r));
    }
    bps_part[c * bps_p.parts + b * WG + lid] = s;
}

// --- backward reduce: dβ += Σgy, dγ += Σgy·x̂, means = [Σgy/n, Σgy·x̂/n] -----------------------
@group(0) @binding(1) var<storage, read_write> br_dgamma: array<f32>;
@group(0) @binding(2) var<storage, read_write> br_dbeta: array<f32>;
@group(0) @binding(3) var<storage, read_write> br_means: array<f32>;
@group(0) @binding(4) var<uniform> br_p: Params;

@compute @workgroup_size(WG)
fn bwd_reduce(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let c = select(gid.x, wid.x, TREE);
    let s = red_sum(c, lid, br_p.parts, br_p.c);
    if (c >= br_p.c || (TREE && lid != 0u)) { return; }
    let n = f32(br_p.hw);
    br_dbeta[c] += s.x;
    br_dgamma[c] += s.y;
    br_means[c] = s.x / n;
    br_means[br_p.c + c] = s.y / n;
}

// --- backward apply ---------------------------------------------------------------------------
@group(0) @binding(0) var<storage, read> bav_x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> bav_gy: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bav_gamma: array<f32>;
@group(0) @binding(3) var<storage, read> bav_stats: array<f32>;
@group(0) @binding(4) var<storage, read> bav_means: array<f32>;
@group(0) @binding(5) var<storage, read_write> bav_dx: array<vec4<f32>>;
@group(0) @binding(6) var<uniform> bav_p: Params;

@compute @workgroup_size(WG)
fn bwd_apply_v4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c = wid.y;
    let r = bav_stats[bav_p.c + c];
    let mu = bav_stats[c];
    let a = bav_gamma[c] * r;
    let mg = bav_means[c];
    let mgx = bav_means[bav_p.c + c];
    for (var t = 0u; t < KA; t++) {
        let u = (wid.x * KA + t) * WG + lid;
        if (u >= bav_p.units) { break; }
        let i = c * bav_p.units + u;
        let xh = (bav_x[i] - mu) * r;
        bav_dx[i] += a * (bav_gy[i] - mg - xh * mgx);
    }
}

@group(0) @binding(0) var<storage, read> bas_x: array<f32>;
@group(0) @binding(1) var<storage, read> bas_gy: array<f32>;
@group(0) @binding(2) var<storage, read> bas_gamma: array<f32>;
@group(0) @binding(3) var<storage, read> bas_stats: array<f32>;
@group(0) @binding(4) var<storage, read> bas_means: array<f32>;
@group(0) @binding(5) var<storage, read_write> bas_dx: array<f32>;
@group(0) @binding(6) var<uniform> bas_p: Params;

@compute @workgroup_size(WG)
fn bwd_apply_s(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c = wid.y;
    let r = bas_stats[bas_p.c + c];
    let mu = bas_stats[c];
    let a = bas_gamma[c] * r;
    let mg = bas_means[c];
    let mgx = bas_means[bas_p.c + c];
    for (var t = 0u; t < KA; t++) {
        let u = (wid.x * KA + t) * WG + lid;
        if (u >= bas_p.units) { break; }
        let i = c * bas_p.units + u;
        let xh = (bas_x[i] - mu) * r;
        bas_dx[i] += a * (bas_gy[i] - mg - xh * mgx);
    }
}

// --- fused with the activation (f, f' from activation.wgsl) -----------------------------------
@group(0) @binding(0) var<storage, read> faa_x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> faa_gamma: array<f32>;
@group(0) @binding(2) var<storage, read> faa_beta: array<f32>;
@group(0) @binding(3) var<storage, read> faa_stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> faa_y: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> faa_ya: array<vec4<f32>>;
@group(0) @binding(6) var<uniform> faa_p: Params;

@compute @workgroup_size(WG)
fn fwd_apply_act_v4(@builtin(workgroup_id) wid: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
    let c = wid.y;
    let a = faa_gamma[c] * faa_stats[faa_p.c + c];
    let m = faa_stats[c];
    let b = faa_beta[c];
    for (var t = 0u; t < KA; t++) {
        let u = (wid.x * KA + t) * WG + lid;
        if (u >= faa_p.units) { break; }
        let i = c * faa_p.units + u;
        let y = (faa_x[i] - m) * a + b;
        faa_y[i] = y;
        faa_ya[i] = act(y);
    }
}

@group(0) @binding(0) var<storage, read> bpa_x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> bpa_gya: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bpa_y: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bpa_ya: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> bpa_stats: array<f32>;
@group(0) @binding(5) var<storage, read_write> bpa_part: array<vec2<f32>>;
@group(0) @binding(6) var<uniform> bpa_p: Params;

@compute @workgroup_size(WG)
fn bwd_part_act_v4(@builtin(workgroup_id) wid: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
    let c = wid.y;
    let b = wid.x;
    let base = c * bpa_p.units;
    let mu = bpa_stats[c];
    let r = bpa_stats[bpa_p.c + c];
    var s1 = vec4<f32>(0.0);
    var s2 = vec4<f32>(0.0);
    for (var t = 0u; t < K; t++) {
        let u = (b * K + t) * WG + lid;
        if (u >= bpa_p.units) { break; }
        let i = base + u;
        let gy = bpa_gya[i] * act_grad(bpa_y[i], bpa_ya[i]);
        s1 += gy;
        s2 += gy * ((bpa_x[i] - mu) * r);
    }
    bpa_part[c * bpa_p.parts + b * WG + lid] = vec2<f32>(hsum(s1), hsum(s2));
}

@group(0) @binding(0) var<storage, read> baa_x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> baa_gya: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> baa_y: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> baa_ya: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> baa_gamma: array<f32>;
@group(0) @binding(5) var<storage, read> baa_stats: array<f32>;
@group(0) @binding(6) var<storage, read> baa_means: array<f32>;
@group(0) @binding(7) var<storage, read_write> baa_dx: array<vec4<f32>>;
@group(0) @binding(8) var<uniform> baa_p: Params;

@compute @workgroup_size(WG)
fn bwd_apply_act_v4(@builtin(workgroup_id) wid: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
    let c = wid.y;
    let r = baa_stats[baa_p.c + c];
    let mu = baa_stats[c];
    let a = baa_gamma[c] * r;
    let mg = baa_means[c];
    let mgx = baa_means[baa_p.c + c];
    for (var t = 0u; t < KA; t++) {
        let u = (wid.x * KA + t) * WG + lid;
        if (u >= baa_p.units) { break; }
        let i = c * baa_p.units + u;
        let gy = baa_gya[i] * act_grad(baa_y[i], baa_ya[i]);
        let xh = (baa_x[i] - mu) * r;
        baa_dx[i] += a * (gy - mg - xh * mgx);
    }
}
