// loss.wgsl — masked MSE over all sources at once, its gradient fused into the same pass.
//   mse_partial: d = o[i] - t[i];  dout[i] += 2 · w[i] · d;  part[g] = Σ_{i of group g} w[i]·d²
//   mse_reduce:  loss[0] = Σ_g part[g]
// o, t, w, dout: the concatenated sources, channel-major [C,H,W] f32, read as vec4 (i < n4);
// w holds the weights m/N_k (m the 0/1 mask, N_k the clear elements of network k of a batch);
// lanes past n (the binding padding) count as masked.
// mse_partial runs `groups` (≤ 1024) workgroups, each thread striding over the vec4s in a fixed
// order; mse_reduce is one workgroup summing the partials in a fixed order: no atomics, the same
// bits every run on one adapter. Rust side and CPU reference: src/ops/loss.rs; tests: tests/it/ops/loss.rs.
override WG: u32 = 256u;

struct Params { n: u32, n4: u32, groups: u32, _p0: u32 }

@group(0) @binding(0) var<storage, read> mp_o: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> mp_t: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> mp_m: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> mp_dout: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> mp_part: array<f32>;
@group(0) @binding(5) var<uniform> mp_p: Params;

var<workgroup> mp_sum: array<f32, WG>;

@compute @workgroup_size(WG)
fn mse_partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let lanes = vec4<u32>(0u, 1u, 2u, 3u);
    let stride = mp_p.groups * WG;
    var acc = vec4<f32>(0.0);
    for (var i = wid.x * WG + lid; i < mp_p.n4; i += stride) {
        let valid = (vec4<u32>(i * 4u) + lanes) < vec4<u32>(mp_p.n);
        let m = select(vec4<f32>(0.0), mp_m[i], valid);
        let d = mp_o[i] - mp_t[i];
        let md = m * d;
        mp_dout[i] = mp_dout[i] + 2.0 * md;
        acc += md * d;
    }
    mp_sum[lid] = (acc.x + acc.y) + (acc.z + acc.w);
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) { mp_sum[lid] += mp_sum[lid + s]; }
        workgroupBarrier();
    }
    if (lid == 0u) { mp_part[wid.x] = mp_sum[0]; }
}

@group(0) @binding(0) var<storage, read> mr_part: array<f32>;
@group(0) @binding(1) var<storage, read_write> mr_loss: array<f32>;
@group(0) @binding(2) var<uniform> mr_p: Params;

var<workgroup> mr_sum: array<f32, WG>;

@compute @workgroup_size(WG)
fn mse_reduce(@builtin(local_invocation_index) lid: u32) {
    var acc = 0.0;
    for (var g = lid; g < mr_p.groups; g += WG) { acc += mr_part[g]; }
    mr_sum[lid] = acc;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) { mr_sum[lid] += mr_sum[lid + s]; }
        workgroupBarrier();
    }
    if (lid == 0u) { mr_loss[0] = mr_sum[0]; }
}
