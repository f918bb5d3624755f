// adam.wgsl — one fused Adam step over one flat parameter buffer (PyTorch semantics, no weight
// decay). Per element i (as vec4s, i < n4):
//   m[i] = b1·m[i] + (1−b1)·g[i]
//   v[i] = b2·v[i] + (1−b2)·g[i]²
//   p[i] -= step_size · m[i] / (sqrt(v[i])·inv_sqrt_bc2 + eps)
// step_size = lr / (1 − b1^t), inv_sqrt_bc2 = 1 / sqrt(1 − b2^t): per-step values computed in f64
// on the CPU and rewritten into the uniform before each step. p, g, m, v: flat f32 buffers of one
// layout. Rust side and CPU reference: src/ops/adam.rs; tests: tests/it/ops/adam.rs.
override WG: u32 = 256u;

struct Params {
    n4: u32, beta1: f32, beta2: f32, one_m_beta1: f32,
    one_m_beta2: f32, step_size: f32, inv_sqrt_bc2: f32, eps: f32,
}

@group(0) @binding(0) var<storage, read> g: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> p: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> m: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> v: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> u: Params;

@compute @workgroup_size(WG)
fn adam_step(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= u.n4) { return; }
    let gi = g[i];
    let mi = u.beta1 * m[i] + u.one_m_beta1 * gi;
    let vi = u.beta2 * v[i] + u.one_m_beta2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] - u.step_size * mi / (sqrt(vi) * u.inv_sqrt_bc2 + u.eps);
}
