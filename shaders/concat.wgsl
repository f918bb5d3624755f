// concat.wgsl — channel concat with centre crop (the DIP "Concat" module), [C,H,W] f32.
// y = concat_c(crop(a), crop(b)): (ca + cb, h, w) with h = min(ha, hb), w = min(wa, wb); each
// input is cropped at offset (oy, ox) = ((H_in − h)/2, (W_in − w)/2) (integer division).
// One dispatch per input ("src", channel offset coff in y):
//   crop_fwd: y[coff + c, i, j]     = src[c, i + oy, j + ox]
//   crop_bwd: dsrc[c, i + oy, j + ox] += gy[coff + c, i, j]   (a bijection: no conflicts;
//             pixels outside the crop get nothing)
// One invocation per cropped element. Rust side and CPU reference: src/ops/concat.rs;
// tests: tests/it/concat.rs.
override WG: u32 = 256u;

// (c, h, w): the cropped block; (sh, sw): the source plane; n = c·h·w.
struct Params { c: u32, h: u32, w: u32, sh: u32, sw: u32, oy: u32, ox: u32, coff: u32,
                n: u32, _p0: u32, _p1: u32, _p2: u32 }

fn lin(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.x + wid.y * nwg.x) * WG + lid;
}

// (index in y, index in src) of cropped element i.
fn crop_index(i: u32, p: Params) -> vec2<u32> {
    let j = i % p.w;
    let r = (i / p.w) % p.h;
    let c = i / (p.w * p.h);
    return vec2<u32>(((p.coff + c) * p.h + r) * p.w + j, (c * p.sh + r + p.oy) * p.sw + j + p.ox);
}

@group(0) @binding(0) var<storage, read> cf_src: array<f32>;
@group(0) @binding(1) var<storage, read_write> cf_y: array<f32>;
@group(0) @binding(2) var<uniform> cf_p: Params;

@compute @workgroup_size(WG)
fn crop_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let i = lin(wid, nwg, lid);
    if (i >= cf_p.n) { return; }
    let k = crop_index(i, cf_p);
    cf_y[k.x] = cf_src[k.y];
}

@group(0) @binding(0) var<storage, read> cb_gy: array<f32>;
@group(0) @binding(1) var<storage, read_write> cb_dsrc: array<f32>;
@group(0) @binding(2) var<uniform> cb_p: Params;

@compute @workgroup_size(WG)
fn crop_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let i = lin(wid, nwg, lid);
    if (i >= cb_p.n) { return; }
    let k = crop_index(i, cb_p);
    cb_dsrc[k.y] += cb_gy[k.x];
}
