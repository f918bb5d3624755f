// elementwise.wgsl — flat vec4 kernels over f32 tensors (any layout; bindings padded to vec4).
//   act_fwd:  y[i]  = f(x[i])                         f = ACT: 0 none, 1 leaky_relu(SLOPE),
//   act_bwd:  dx[i] += gy[i] * f'(x[i]) (uses y=f(x))      2 swish, 3 elu(1), 4 sigmoid
// f and f' (ACT, SLOPE) come from activation.wgsl, prepended to this file when it is loaded.
// i runs over vec4s: i < p.n4. Rust side and CPU reference: src/ops/elementwise.rs;
// tests: tests/it/ops/elementwise.rs.
override WG: u32 = 256u;

struct Params { n4: u32, _p0: u32, _p1: u32, _p2: u32 }

fn lin(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.x + wid.y * nwg.x) * WG + lid;
}

@group(0) @binding(0) var<storage, read> af_x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> af_y: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> af_p: Params;

@compute @workgroup_size(WG)
fn act_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let i = lin(wid, nwg, lid);
    if (i < af_p.n4) { af_y[i] = act(af_x[i]); }
}

@group(0) @binding(0) var<storage, read> ab_x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> ab_y: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> ab_gy: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> ab_dx: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> ab_p: Params;

@compute @workgroup_size(WG)
fn act_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let i = lin(wid, nwg, lid);
    if (i < ab_p.n4) { ab_dx[i] = ab_dx[i] + ab_gy[i] * act_grad(ab_x[i], ab_y[i]); }
}
