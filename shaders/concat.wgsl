// concat.wgsl — channel concat with centre crop (the DIP "Concat" module), [C,H,W] f32.
// y = concat_c(crop(a), crop(b)): (ca + cb, h, w) with h = min(ha, hb), w = min(wa, wb); each
// input is cropped at offset (oy, ox) = ((H_in − h)/2, (W_in − w)/2) (integer division).
// One dispatch per input ("src", channel offset coff in y):
//   crop_fwd: y[coff + c, i, j]     = src[c, i + oy, j + ox]
//   crop_bwd: dsrc[c, i + oy, j + ox] += gy[coff + c, i, j]   (a bijection: no conflicts;
//             pixels outside the crop get nothing)
// Groups: G independent concats side by side (a = G blocks of ca channels, b of cb, y of ca + cb):
// group g's blocks go to y channels g·(ca + cb) + coff + c, one dispatch per input for all groups.
// One invocation per cropped element. Rust side and CPU reference: src/ops/concat.rs;
// tests: tests/it/ops/concat.rs.
override WG: u32 = 256u;

// (h, w): the cropped plane; (sh, sw): the source plane;
// c: channels of src per group; cy: channels of y per group; n: elements over all groups.
struct Params { c: u32, h: u32, w: u32, sh: u32, sw: u32, oy: u32, ox: u32, coff: u32,
                n: u32, cy: u32, _p1: u32, _p2: u32 }

fn lin(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.x + wid.y * nwg.x) * WG + lid;
}

// (index in y, index in src) of cropped element i.
fn crop_index(i: u32, p: Params) -> vec2<u32> {
    let j = i % p.w;
    let r = (i / p.w) % p.h;
    let c = i / (p.w * p.h);                    // g · p.c + channel of src
    let yc = (c / p.c) * p.cy + p.coff + c % p.c;
    return vec2<u32>((yc * p.h + r) * p.w + j, (c * p.sh + r + p.oy) * p.sw + j + p.ox);
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
