// resample.wgsl — ×2 upsampling and 2×2/stride-2 pooling, channel-major [C,H,W] f32.
//   up_fwd:   y[c,Y,X] (Y < 2H, X < 2W) =
//               MODE 0 nearest:  x[c, Y/2, X/2]
//               MODE 1 bilinear (align_corners = false): per axis s = max((Y + ½)/2 − ½, 0),
//                 i0 = floor(s), i1 = min(i0 + 1, H − 1), λ = s − i0;
//                 y = (1−λy)((1−λx) x[i0,j0] + λx x[i0,j1]) + λy((1−λx) x[i1,j0] + λx x[i1,j1])
//   up_bwd:   dx[c,i,j] += Σ_{Y,X} w(Y,i) w(X,j) gy[c,Y,X]  — a gather over the output rows/cols
//               whose stencil touches i (nearest: Y ∈ {2i, 2i+1}; bilinear: Y ∈ 2i−1 ..= 2i+2),
//               w(Y,i) = [i0(Y) = i](1−λ) + [i1(Y) = i]λ (nearest: 1).
//   pool_fwd: y[c,Y,X] (Y < H/2, X < W/2) over the window x[c, 2Y+a, 2X+b], a,b ∈ {0,1}:
//               MODE 0 avg: (((x00 + x01) + x10) + x11) / 4;  MODE 1 max: the max.
//   pool_bwd: dx[c,i,j] += avg: gy[c,i/2,j/2]/4;  max: gy[c,i/2,j/2] if (i,j) is the first max
//               of its window in scan order (PyTorch); rows/cols past 2·(H/2), 2·(W/2) get nothing.
// One invocation per output (forward) or per dx element (backward: gathers, no atomics).
// Rust side and CPU reference: src/ops/resample.rs; tests: tests/it/ops/resample.rs.
override WG: u32 = 256u;
override MODE: u32 = 0u;

// (c, h, w): input plane; (ho, wo): output plane; n: invocations needed.
struct Params { c: u32, h: u32, w: u32, ho: u32, wo: u32, n: u32, _p0: u32, _p1: u32 }

fn lin(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.x + wid.y * nwg.x) * WG + lid;
}

struct Tap { i0: u32, i1: u32, l: f32 }

// Bilinear source taps of output index d along an input axis of size n.
fn tap(d: u32, n: u32) -> Tap {
    let s = max((f32(d) + 0.5) * 0.5 - 0.5, 0.0);
    let i0 = min(u32(floor(s)), n - 1u);
    return Tap(i0, min(i0 + 1u, n - 1u), s - f32(i0));
}

// Weight of input index i in output index d (along one axis of input size n).
fn weight(d: u32, n: u32, i: u32) -> f32 {
    if (MODE == 0u) { return select(0.0, 1.0, d / 2u == i); }
    let t = tap(d, n);
    return select(0.0, 1.0 - t.l, t.i0 == i) + select(0.0, t.l, t.i1 == i);
}

@group(0) @binding(0) var<storage, read> uf_x: array<f32>;
@group(0) @binding(1) var<storage, read_write> uf_y: array<f32>;
@group(0) @binding(2) var<uniform> uf_p: Params;

@compute @workgroup_size(WG)
fn up_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = lin(wid, nwg, lid);
    if (i >= uf_p.n) { return; }
    let ox = i % uf_p.wo;
    let oy = (i / uf_p.wo) % uf_p.ho;
    let base = (i / (uf_p.wo * uf_p.ho)) * uf_p.h * uf_p.w;
    if (MODE == 0u) {
        uf_y[i] = uf_x[base + (oy / 2u) * uf_p.w + ox / 2u];
        return;
    }
    let ty = tap(oy, uf_p.h);
    let tx = tap(ox, uf_p.w);
    let r0 = base + ty.i0 * uf_p.w;
    let r1 = base + ty.i1 * uf_p.w;
    let top = (1.0 - tx.l) * uf_x[r0 + tx.i0] + tx.l * uf_x[r0 + tx.i1];
    let bot = (1.0 - tx.l) * uf_x[r1 + tx.i0] + tx.l * uf_x[r1 + tx.i1];
    uf_y[i] = (1.0 - ty.l) * top + ty.l * bot;
}

@group(0) @binding(0) var<storage, read> ub_gy: array<f32>;
@group(0) @binding(1) var<storage, read_write> ub_dx: array<f32>;
@group(0) @binding(2) var<uniform> ub_p: Params;

@compute @workgroup_size(WG)
fn up_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = lin(wid, nwg, lid);
    if (i >= ub_p.n) { return; }
    let ix = i % ub_p.w;
    let iy = (i / ub_p.w) % ub_p.h;
    let base = (i / (ub_p.w * ub_p.h)) * ub_p.ho * ub_p.wo;
    // Candidate output rows/cols: 2i−1 ..= 2i+2 (nearest only needs 2i, 2i+1; w() is 0 elsewhere).
    let y0 = max(2 * i32(iy) - 1, 0);
    let y1 = min(2 * i32(iy) + 2, i32(ub_p.ho) - 1);
    let x0 = max(2 * i32(ix) - 1, 0);
    let x1 = min(2 * i32(ix) + 2, i32(ub_p.wo) - 1);
    var acc = 0.0;
    for (var oy = y0; oy <= y1; oy++) {
        let wy = weight(u32(oy), ub_p.h, iy);
        var row = 0.0;
        for (var ox = x0; ox <= x1; ox++) {
            row += weight(u32(ox), ub_p.w, ix) * ub_gy[base + u32(oy) * ub_p.wo + u32(ox)];
        }
        acc += wy * row;
    }
    ub_dx[i] += acc;
}

@group(0) @binding(0) var<storage, read> pf_x: array<f32>;
@group(0) @binding(1) var<storage, read_write> pf_y: array<f32>;
@group(0) @binding(2) var<uniform> pf_p: Params;

@compute @workgroup_size(WG)
fn pool_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let i = lin(wid, nwg, lid);
    if (i >= pf_p.n) { return; }
    let ox = i % pf_p.wo;
    let oy = (i / pf_p.wo) % pf_p.ho;
    let r0 = (i / (pf_p.wo * pf_p.ho)) * pf_p.h * pf_p.w + 2u * oy * pf_p.w + 2u * ox;
    let r1 = r0 + pf_p.w;
    let v = vec4<f32>(pf_x[r0], pf_x[r0 + 1u], pf_x[r1], pf_x[r1 + 1u]);
    if (MODE == 0u) {
        pf_y[i] = (((v.x + v.y) + v.z) + v.w) * 0.25;
    } else {
        pf_y[i] = max(max(v.x, v.y), max(v.z, v.w));
    }
}

@group(0) @binding(0) var<storage, read> pb_x: array<f32>;
@group(0) @binding(1) var<storage, read> pb_gy: array<f32>;
@group(0) @binding(2) var<storage, read_write> pb_dx: array<f32>;
@group(0) @binding(3) var<uniform> pb_p: Params;

@compute @workgroup_size(WG)
fn pool_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let i = lin(wid, nwg, lid);
    if (i >= pb_p.n) { return; }
    let ix = i % pb_p.w;
    let iy = (i / pb_p.w) % pb_p.h;
    let ox = ix / 2u;
    let oy = iy / 2u;
    if (ox >= pb_p.wo || oy >= pb_p.ho) { return; }
    let c = i / (pb_p.w * pb_p.h);
    let g = pb_gy[(c * pb_p.ho + oy) * pb_p.wo + ox];
    if (MODE == 0u) {
        pb_dx[i] += g * 0.25;
        return;
    }
    // First max of the window in scan order; this element gets g only if it is that one.
    let r0 = c * pb_p.h * pb_p.w + 2u * oy * pb_p.w + 2u * ox;
    var v = array<f32, 4>(pb_x[r0], pb_x[r0 + 1u], pb_x[r0 + pb_p.w], pb_x[r0 + pb_p.w + 1u]);
    var best = 0u;
    for (var k = 1u; k < 4u; k++) {
        if (v[k] > v[best]) { best = k; }
    }
    if (best == (iy % 2u) * 2u + ix % 2u) { pb_dx[i] += g; }
}
