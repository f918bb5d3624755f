// conv2d_tiled.wgsl — the textbook GPU form of the blocked forward conv (`conv_forward` of
// conv2d.wgsl, same arithmetic, same order of sums): a workgroup of WG = TX·TY invocations
// computes a tile of TY output rows × 4·TX output x × 4·NC4 output channels. For each chunk of
// CIT input channels it first loads, together, the padded input tile the output tile reads
// ((4·TX−1)·S+K wide, (TY−1)·S+K high, coalesced: consecutive invocations read consecutive x)
// and the chunk's weights of its channel block into workgroup memory, then every invocation
// accumulates its 4 output x × 4·NC4 channels (registers) from there: an input value is read
// from global memory once per tile (and channel block) instead of once per tap of every
// invocation that needs it. Also dx of stride 1 (weights TransposedFlipped, ACC), as
// `conv_forward`.
//   Grid: [tiles along x · tiles along y, np / (4·NC4) channel blocks, G groups].
//   Needs W % 4 = 0, Wo % 4 = 0, W = S·Wo (the blocked shapes) and CIT·IW·IH ≤ XT_N,
//   CIT·K·K·NC4 ≤ WT_N (the Rust side chooses CIT: src/ops/conv2d/dispatch/forward.rs).
// Chosen on adapters that are not CPUs (`Blocks::tiled`); tests run it on lavapipe
// (tests/it/ops/conv2d.rs). Params, PADM, ACC, BIAS, src: conv2d_common.wgsl, prepended.
override WG: u32 = 64u;
override TX: u32 = 8u;      // invocations along x (each 4 output x); TY = WG / TX rows
override K: u32 = 3u;
override S: u32 = 1u;
override PAD: u32 = 1u;
override NC4: u32 = 1u;     // output channels per invocation, in vec4s (1 or 2)
override CIT: u32 = 1u;     // input channels per workgroup-memory tile

const XT_N: u32 = 2560u;    // input tile floats (10 KiB)
const WT_N: u32 = 256u;     // weight tile vec4s (4 KiB): 14 KiB of the 16 KiB every adapter has

var<workgroup> xt: array<f32, XT_N>;
var<workgroup> wtl: array<vec4<f32>, WT_N>;

@group(0) @binding(0) var<storage, read> t_x: array<f32>;
@group(0) @binding(1) var<storage, read> t_w: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> t_b: array<f32>;
@group(0) @binding(3) var<storage, read_write> t_y: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> t_p: Params;

// The padded input tile of channels cc..cc+nci (zero where the tile leaves the padded image),
// and their weights of channel block cb, into workgroup memory.
fn load_tiles(p: Params, lid: u32, ci0: u32, cc: u32, nci: u32, ix0: i32, iy0: i32,
              iw: u32, ih: u32, wg0: u32, cb: u32) {
    for (var t = lid; t < nci * iw * ih; t += WG) {
        let ci = t / (iw * ih);
        let r = t % (iw * ih);
        let sy = src(iy0 + i32(r / iw), i32(p.h));
        let sx = src(ix0 + i32(r % iw), i32(p.w));
        var v = 0.0;
        if (sy >= 0 && sy < i32(p.h) && sx >= 0 && sx < i32(p.w)) {
            v = t_x[((ci0 + cc + ci) * p.h + u32(sy)) * p.w + u32(sx)];
        }
        xt[t] = v;
    }
    let np4 = p.np / 4u;
    for (var t = lid; t < nci * K * K * NC4; t += WG) {
        let tap = t / NC4;                  // (ci·K + ky)·K + kx within the chunk
        wtl[t] = t_w[wg0 + (cc * K * K + tap) * np4 + cb * NC4 + t % NC4];
    }
}

@compute @workgroup_size(WG)
fn conv_forward_tiled(@builtin(workgroup_id) wid: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
    let p = t_p;
    let ty_n = WG / TX;
    let ow = 4u * TX;                       // output tile width
    let iw = (ow - 1u) * S + K;             // input tile width and height
    let ih = (ty_n - 1u) * S + K;
    let ntx = (p.wo + ow - 1u) / ow;
    let ox0 = (wid.x % ntx) * ow;
    let oy0 = (wid.x / ntx) * ty_n;
    let cb = wid.y;
    let g = wid.z;
    let lx = lid % TX;
    let ly = lid / TX;
    let ci0 = g * p.cin;                    // the group's first input and output channels
    let co0 = g * p.cout;
    let wg0 = ci0 * K * K * (p.np / 4u);    // and its weight block
    let ix0 = i32(ox0 * S) - i32(PAD);
    let iy0 = i32(oy0 * S) - i32(PAD);
    var acc: array<vec4<f32>, 8>;           // [j: 4 output x][c: NC4]
    for (var cc = 0u; cc < p.cin; cc += CIT) {
        let nci = min(CIT, p.cin - cc);
        load_tiles(p, lid, ci0, cc, nci, ix0, iy0, iw, ih, wg0, cb);
        workgroupBarrier();
        for (var ci = 0u; ci < nci; ci++) {
            for (var ky = 0u; ky < K; ky++) {
                let row = (ci * ih + ly * S + ky) * iw + 4u * lx * S;
                for (var kx = 0u; kx < K; kx++) {
                    for (var c = 0u; c < NC4; c++) {
                        let wv = wtl[((ci * K + ky) * K + kx) * NC4 + c];
                        for (var j = 0u; j < 4u; j++) {
                            acc[j * 2u + c] += wv * xt[row + j * S + kx];
                        }
                    }
                }
            }
        }
        workgroupBarrier();
    }
    let oy = oy0 + ly;
    let ox = ox0 + 4u * lx;
    if (oy >= p.ho || ox >= p.wo) { return; }
    let plane = p.ho * p.wo / 4u;
    let ob = oy * (p.wo / 4u) + ox / 4u;
    for (var c = 0u; c < NC4; c++) {
        for (var e = 0u; e < 4u; e++) {
            let co = (cb * NC4 + c) * 4u + e;
            if (co >= p.cout) { continue; }
            let bias = select(0.0, t_b[co0 + co], BIAS);
            var v = vec4<f32>(acc[c][e], acc[2u + c][e], acc[4u + c][e], acc[6u + c][e]) + bias;
            let o = (co0 + co) * plane + ob;
            if (ACC) { v += t_y[o]; }
            t_y[o] = v;
        }
    }
}
