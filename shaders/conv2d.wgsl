// conv2d.wgsl — 2-D cross-correlation (torch.nn.Conv2d), channel-major [C,H,W] f32, one image.
//   y[co,oy,ox] = b[co] + Σ_ci,ky,kx w[co,ci,ky,kx] · xp[ci, oy·S−PAD+ky, ox·S−PAD+kx]
//   xp = x with zero padding (PADM 0) or reflection padding (PADM 1: −1 → 1, H → H−2).
//   dx[ci,iy,ix] += Σ over (co,oy,ox,ky,kx) whose tap reads x[ci,iy,ix];  dw += Σ_pixels gy·xp;
//   db[co] += Σ_pixels gy[co].   Weights w: PyTorch [co][ci][ky][kx].
// Groups (torch.nn.Conv2d groups = G): Params cin / cout are ONE group's channel counts and
// p.groups = G; tensors hold G groups back to back (x [G·cin,h,w], y [G·cout,ho,wo], w G blocks
// of [cout][cin][K][K], b [G·cout], wt G blocks of [a][K][K][np]); group g reads and writes only
// its own block. All groups run in one dispatch: g = workgroup_id.z (dispatch [x, y, G]), except
// conv_backward_bias / conv_sum_partials, which work on total channels (conv_backward_bias:
// p.cout = G·cout) and know no groups.
// Entry points (Rust side, block choice: src/ops/conv2d/dispatch/; reference:
// src/ops/conv2d/reference.rs; tests tests/it/ops/conv2d.rs):
//   conv_rearrange_weights  w into wt[g][a][ky][kx][b_pad] (a=ci, b=co; TR: a=co, b=ci; FLIP:
//               taps flipped)
//   conv_forward  fast: y (= or +=) conv(x) for a block of 4·NX4 output x (vec4) × 4·NC4
//               channels; needs W%4 = 0, Wo%(4·NX4) = 0 and W = S·Wo. Also dx for stride 1 (FLIP
//               weights, ACC).
//   conv_backward_input_s2  fast dx += gather for stride 2 (8 dx x-positions × 4·NC4 ci);
//               W%8 = 0, W = 2·Wo.
//   conv_backward_weight  fast dw partial sums: one (ci, block of NCW co, chunk of rows) per
//               invocation; partials part[ch][g][co][ci][ky][kx] (conv_sum_partials over
//               n = G·cout·cin·K·K adds them). With ACC (one chunk), part is dw and the sums
//               are added to it directly (also conv_backward_weight_scalar and the subgroup dw).
//   conv_backward_bias  db partial sums per (co, chunk of the flat plane).
//   conv_sum_partials  out[i] += Σ_c part[c·n+i]
//   conv_backward_weight_pairs  the scalar dw with one (co, ci) pair and all K·K taps per
//               invocation (K ≤ 7): what the small levels (W % 4 ≠ 0) run.
//   conv_forward_scalar, conv_backward_input_scalar, conv_backward_weight_scalar: simple scalar
//               kernels for any shape (and the reflection border corrections of the fast dx:
//               conv_backward_input_scalar with BORDER adds only out-of-image taps).
// The fast kernels compute zero-padding dx; for reflection conv_backward_input_scalar(BORDER)
// adds the rest. Params, PADM, ACC, BIAS, src, edge_l, edge_r: conv2d_common.wgsl, prepended.
override WG: u32 = 64u;
override K: u32 = 3u;
override S: u32 = 1u;
override PAD: u32 = 1u;
override NX4: u32 = 2u;
override NC4: u32 = 2u;
override NCW: u32 = 8u;
override FLIP: bool = false;
override TR: bool = false;
override BORDER: bool = false;
override V4: bool = true;
override NB: u32 = 1u;        // conv_rearrange_weights: vec4s on wt's last axis (np / 4)

fn lin(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.x + wid.y * nwg.x) * WG + lid;
}

// ---- conv_rearrange_weights: wt[g][((a·K+ky)·K+kx)·np + b] = w[g][co,ci,ky',kx'], 0 for b
//      past its count. a = ci, b = co; TR: a = co, b = ci. ky' = ky, or K−1−ky with FLIP (same for kx).
//      One invocation per vec4 of one group's wt (np is a multiple of 4, n = its vec4 count);
//      g = workgroup_id.z. ----
@group(0) @binding(0) var<storage, read> wt_w: array<f32>;
@group(0) @binding(1) var<storage, read_write> wt_o: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> wt_p: Params;

@compute @workgroup_size(WG)
fn conv_rearrange_weights(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                          @builtin(local_invocation_index) lid: u32) {
    let i = lin(wid, nwg, lid);
    if (i >= wt_p.n) { return; }
    let g = wid.z;
    let wg0 = g * wt_p.cout * wt_p.cin * K * K;
    let b0 = (i % NB) * 4u;
    let t = i / NB;
    var kx = t % K;
    var ky = (t / K) % K;
    let a = t / (K * K);
    if (FLIP) { kx = K - 1u - kx; ky = K - 1u - ky; }
    var v = vec4<f32>(0.0);
    for (var j = 0u; j < 4u; j++) {
        let b = b0 + j;
        let co = select(b, a, TR);
        let ci = select(a, b, TR);
        if (co < wt_p.cout && ci < wt_p.cin) { v[j] = wt_w[wg0 + ((co * wt_p.cin + ci) * K + ky) * K + kx]; }
    }
    wt_o[g * wt_p.n + i] = v;
}

// ---- conv_forward: register-blocked conv, x as vec4 along rows, wt [g][ci][ky][kx][np] as vec4;
//      g = workgroup_id.z ----
@group(0) @binding(0) var<storage, read> f_x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> f_w: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> f_b: array<f32>;
@group(0) @binding(3) var<storage, read_write> f_y: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> f_p: Params;

@compute @workgroup_size(WG)
fn conv_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let p = f_p;
    let nxb = p.wo / (4u * NX4);
    let ncb = p.np / (4u * NC4);
    let i = lin(wid, nwg, lid);
    if (i >= nxb * p.ho * ncb) { return; }
    let xb = i % nxb;
    let oy = (i / nxb) % p.ho;
    let cb = i / (nxb * p.ho);
    let g = wid.z;
    let w4 = p.w / 4u;
    let ci0 = g * p.cin;                    // the group's first input and output channels
    let co0 = g * p.cout;
    let wg0 = ci0 * K * K * (p.np / 4u);    // and its wt block
    let nm = NX4 * S;                       // input vec4s under the block
    let x4 = xb * nm;                       // first of them
    var acc: array<vec4<f32>, 16>;          // [j: 4·NX4 output x][c: NC4]
    var win: array<f32, 24>;                // [L | M0..M(nm-1) | R] along the input row
    for (var ci = 0u; ci < p.cin; ci++) {
        for (var ky = 0u; ky < K; ky++) {
            let iy = src(i32(oy * S + ky) - i32(PAD), i32(p.h));
            if (iy < 0) { continue; }
            let rb = ((ci0 + ci) * p.h + u32(iy)) * w4 + x4;
            for (var m = 0u; m < nm; m++) {
                let v = f_x[rb + m];
                win[4u + 4u * m] = v.x; win[5u + 4u * m] = v.y;
                win[6u + 4u * m] = v.z; win[7u + 4u * m] = v.w;
            }
            if (PAD > 0u) {
                let m0 = vec4<f32>(win[4], win[5], win[6], win[7]);
                let e = 4u * nm;
                let ml = vec4<f32>(win[e], win[e + 1u], win[e + 2u], win[e + 3u]);
                let l = edge_l(f_x[select(rb - 1u, rb, x4 == 0u)], m0, x4 == 0u);
                let r = edge_r(f_x[select(rb + nm, rb, x4 + nm == w4)], ml, x4 + nm == w4);
                win[0] = l.x; win[1] = l.y; win[2] = l.z; win[3] = l.w;
                win[e + 4u] = r.x; win[e + 5u] = r.y; win[e + 6u] = r.z; win[e + 7u] = r.w;
            }
            for (var kx = 0u; kx < K; kx++) {
                let wb = wg0 + ((ci * K + ky) * K + kx) * (p.np / 4u) + cb * NC4;
                for (var c = 0u; c < NC4; c++) {
                    let wv = f_w[wb + c];
                    for (var j = 0u; j < 4u * NX4; j++) {
                        acc[j * 2u + c] += wv * win[4u + j * S + kx - PAD];
                    }
                }
            }
        }
    }
    let plane = p.ho * p.wo / 4u;
    let ob = oy * (p.wo / 4u) + xb * NX4;
    for (var c = 0u; c < NC4; c++) {
        for (var e = 0u; e < 4u; e++) {
            let co = (cb * NC4 + c) * 4u + e;
            if (co >= p.cout) { continue; }
            let bias = select(0.0, f_b[co0 + co], BIAS);
            for (var q = 0u; q < NX4; q++) {
                let j = q * 4u;
                var v = vec4<f32>(acc[j * 2u + c][e], acc[j * 2u + 2u + c][e],
                                  acc[j * 2u + 4u + c][e], acc[j * 2u + 6u + c][e]) + bias;
                let o = (co0 + co) * plane + ob + q;
                if (ACC) { v += f_y[o]; }
                f_y[o] = v;
            }
        }
    }
}

// ---- conv_backward_input_s2: stride-2 dx += gather; gy vec4 along rows, wt [g][co][ky][kx][np]
//      (np over ci); g = workgroup_id.z ----
@group(0) @binding(0) var<storage, read> b2_g: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b2_w: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> b2_dx: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> b2_p: Params;

@compute @workgroup_size(WG)
fn conv_backward_input_s2(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                          @builtin(local_invocation_index) lid: u32) {
    let p = b2_p;
    let nxb = p.w / 8u;
    let ncb = p.np / (4u * NC4);
    let i = lin(wid, nwg, lid);
    if (i >= nxb * p.h * ncb) { return; }
    let xb = i % nxb;
    let iy = (i / nxb) % p.h;
    let cb = i / (nxb * p.h);
    let g = wid.z;
    let ci0 = g * p.cin;
    let co0 = g * p.cout;
    let wg0 = co0 * K * K * (p.np / 4u);
    let wo4 = p.wo / 4u;
    var acc: array<vec4<f32>, 16>;          // [j: 8 dx x-positions][c: NC4]
    var win: array<f32, 12>;                // gy[ox] for ox = 4·xb−4 .. 4·xb+7
    for (var co = 0u; co < p.cout; co++) {
        for (var ky = 0u; ky < K; ky++) {
            let t = i32(iy + PAD) - i32(ky);
            if (t < 0 || (t & 1) != 0 || u32(t) / 2u >= p.ho) { continue; }
            let rb = ((co0 + co) * p.ho + u32(t) / 2u) * wo4 + xb;
            let m = b2_g[rb];
            let l = select(b2_g[select(rb - 1u, rb, xb == 0u)], vec4<f32>(0.0), xb == 0u);
            let r = select(b2_g[select(rb + 1u, rb, xb + 1u == wo4)], vec4<f32>(0.0), xb + 1u == wo4);
            win[0] = l.x; win[1] = l.y; win[2] = l.z; win[3] = l.w;
            win[4] = m.x; win[5] = m.y; win[6] = m.z; win[7] = m.w;
            win[8] = r.x; win[9] = r.y; win[10] = r.z; win[11] = r.w;
            for (var kx = 0u; kx < K; kx++) {
                let wb = wg0 + ((co * K + ky) * K + kx) * (p.np / 4u) + cb * NC4;
                for (var c = 0u; c < NC4; c++) {
                    let wv = b2_w[wb + c];
                    for (var j = 0u; j < 8u; j++) {
                        if (((j + PAD + 8u - kx) & 1u) == 0u) {
                            acc[j * 2u + c] += wv * win[2u + (j + PAD + 4u - kx) / 2u];
                        }
                    }
                }
            }
        }
    }
    let plane = p.h * p.w / 4u;
    let ob = iy * (p.w / 4u) + xb * 2u;
    for (var c = 0u; c < NC4; c++) {
        for (var e = 0u; e < 4u; e++) {
            let ci = (cb * NC4 + c) * 4u + e;
            if (ci >= p.cin) { continue; }
            for (var q = 0u; q < 2u; q++) {
                let j = q * 4u;
                let o = (ci0 + ci) * plane + ob + q;
                b2_dx[o] += vec4<f32>(acc[j * 2u + c][e], acc[j * 2u + 2u + c][e],
                                      acc[j * 2u + 4u + c][e], acc[j * 2u + 6u + c][e]);
            }
        }
    }
}

// ---- conv_backward_weight: dw partial sums part[ch][g][co][ci][ky][kx] over the output rows of
//      chunk ch; g = workgroup_id.z ----
@group(0) @binding(0) var<storage, read> w_x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> w_g: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> w_part: array<f32>;
@group(0) @binding(3) var<uniform> w_p: Params;

@compute @workgroup_size(WG)
fn conv_backward_weight(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_index) lid: u32) {
    let p = w_p;
    let ncb = (p.cout + NCW - 1u) / NCW;
    let i = lin(wid, nwg, lid);
    if (i >= p.cin * ncb * p.nch) { return; }
    let ci = i % p.cin;
    let cb = (i / p.cin) % ncb;
    let ch = i / (p.cin * ncb);
    let grp = wid.z;                        // (g: the gy vec4s)
    let ci0 = grp * p.cin;
    let co0 = grp * p.cout;
    let w4 = p.w / 4u;
    let wo4 = p.wo / 4u;
    var acc: array<f32, 200>;               // [c: NCW][ky][kx], K <= 5
    var g: array<vec4<f32>, 8>;
    var win: array<f32, 16>;                // [L | S vec4s | R] of one input row
    let y1 = min(p.ho, (ch + 1u) * p.rows);
    for (var oy = ch * p.rows; oy < y1; oy++) {
        for (var q = 0u; q < wo4; q++) {
            for (var c = 0u; c < NCW; c++) {
                let co = cb * NCW + c;
                let v = w_g[((co0 + min(co, p.cout - 1u)) * p.ho + oy) * wo4 + q];
                g[c] = select(vec4<f32>(0.0), v, co < p.cout);
            }
            for (var ky = 0u; ky < K; ky++) {
                let iy = src(i32(oy * S + ky) - i32(PAD), i32(p.h));
                if (iy < 0) { continue; }
                let rb = ((ci0 + ci) * p.h + u32(iy)) * w4 + q * S;
                for (var m = 0u; m < S; m++) {
                    let v = w_x[rb + m];
                    win[4u + 4u * m] = v.x; win[5u + 4u * m] = v.y;
                    win[6u + 4u * m] = v.z; win[7u + 4u * m] = v.w;
                }
                if (PAD > 0u) {
                    let x4 = q * S;
                    let m0 = vec4<f32>(win[4], win[5], win[6], win[7]);
                    let e = 4u * S;
                    let ml = vec4<f32>(win[e], win[e + 1u], win[e + 2u], win[e + 3u]);
                    let l = edge_l(w_x[select(rb - 1u, rb, x4 == 0u)], m0, x4 == 0u);
                    let r = edge_r(w_x[select(rb + S, rb, x4 + S == w4)], ml, x4 + S == w4);
                    win[0] = l.x; win[1] = l.y; win[2] = l.z; win[3] = l.w;
                    win[e + 4u] = r.x; win[e + 5u] = r.y; win[e + 6u] = r.z; win[e + 7u] = r.w;
                }
                for (var kx = 0u; kx < K; kx++) {
                    let b = 4u + kx - PAD;
                    let xv = vec4<f32>(win[b], win[b + S], win[b + 2u * S], win[b + 3u * S]);
                    for (var c = 0u; c < NCW; c++) {
                        acc[(c * K + ky) * K + kx] += dot(g[c], xv);
                    }
                }
            }
        }
    }
    let kk = K * K;
    for (var c = 0u; c < NCW; c++) {
        let co = cb * NCW + c;
        if (co >= p.cout) { continue; }
        let ob = (((ch * p.groups + grp) * p.cout + co) * p.cin + ci) * kk;
        for (var t = 0u; t < kk; t++) {
            var v = acc[c * kk + t];
            if (ACC) { v += w_part[ob + t]; }
            w_part[ob + t] = v;
        }
    }
}

// ---- conv_backward_bias: part[ch·cout + co] = Σ gy[co, plane elements of chunk ch] (vec4s when
//      V4); cout counts the channels of all groups (bias gradients need no group index) ----
@group(0) @binding(0) var<storage, read> bb_g: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> bb_part: array<f32>;
@group(0) @binding(2) var<uniform> bb_p: Params;

@compute @workgroup_size(WG)
fn conv_backward_bias(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
    let p = bb_p;
    let i = lin(wid, nwg, lid);
    if (i >= p.cout * p.nch) { return; }
    let co = i % p.cout;
    let ch = i / p.cout;
    let hw = p.ho * p.wo;
    var s = 0.0;
    if (V4) {
        var a = vec4<f32>(0.0);
        let e1 = min(hw / 4u, (ch + 1u) * p.rows);
        for (var e = ch * p.rows; e < e1; e++) { a += bb_g[co * hw / 4u + e]; }
        s = a.x + a.y + a.z + a.w;
    } else {
        let e1 = min(hw, (ch + 1u) * p.rows);
        for (var e = ch * p.rows; e < e1; e++) {
            let f = co * hw + e;
            s += bb_g[f / 4u][f % 4u];
        }
    }
    bb_part[i] = s;
}

// ---- conv_sum_partials: out[i] += Σ_{c < nch} part[c·np + i], i < n ----
@group(0) @binding(0) var<storage, read> sm_part: array<f32>;
@group(0) @binding(1) var<storage, read_write> sm_out: array<f32>;
@group(0) @binding(2) var<uniform> sm_p: Params;

@compute @workgroup_size(WG)
fn conv_sum_partials(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
    let i = lin(wid, nwg, lid);
    if (i >= sm_p.n) { return; }
    var s = 0.0;
    for (var c = 0u; c < sm_p.nch; c++) { s += sm_part[c * sm_p.np + i]; }
    sm_out[i] += s;
}

// ---- conv_forward_scalar: one output per invocation, any shape; w in PyTorch layout;
//      g = workgroup_id.z ----
@group(0) @binding(0) var<storage, read> fs_x: array<f32>;
@group(0) @binding(1) var<storage, read> fs_w: array<f32>;
@group(0) @binding(2) var<storage, read> fs_b: array<f32>;
@group(0) @binding(3) var<storage, read_write> fs_y: array<f32>;
@group(0) @binding(4) var<uniform> fs_p: Params;

@compute @workgroup_size(WG)
fn conv_forward_scalar(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                       @builtin(local_invocation_index) lid: u32) {
    let p = fs_p;
    let i = lin(wid, nwg, lid);
    if (i >= p.cout * p.ho * p.wo) { return; }
    let ox = i % p.wo;
    let oy = (i / p.wo) % p.ho;
    let co = i / (p.wo * p.ho);
    let g = wid.z;
    let ci0 = g * p.cin;
    let wg0 = g * p.cout * p.cin * K * K;
    var s = select(0.0, fs_b[g * p.cout + co], BIAS);
    for (var ci = 0u; ci < p.cin; ci++) {
        for (var ky = 0u; ky < K; ky++) {
            let iy = src(i32(oy * S + ky) - i32(PAD), i32(p.h));
            if (iy < 0) { continue; }
            for (var kx = 0u; kx < K; kx++) {
                let ix = src(i32(ox * S + kx) - i32(PAD), i32(p.w));
                if (ix < 0) { continue; }
                s += fs_w[wg0 + ((co * p.cin + ci) * K + ky) * K + kx] * fs_x[((ci0 + ci) * p.h + u32(iy)) * p.w + u32(ix)];
            }
        }
    }
    fs_y[g * p.cout * p.ho * p.wo + i] = s;
}

// ---- conv_backward_input_scalar: dx += gather, one dx element per invocation, any shape. A
// padded position q reads source pixel src(q); the positions that read (iy, ix) are iy, −iy, 2H−2−iy per axis
// (reflection). BORDER: only positions outside the image (the fast kernels did the rest).
// g = workgroup_id.z. ----
@group(0) @binding(0) var<storage, read> bs_g: array<f32>;
@group(0) @binding(1) var<storage, read> bs_w: array<f32>;
@group(0) @binding(2) var<storage, read_write> bs_dx: array<f32>;
@group(0) @binding(3) var<uniform> bs_p: Params;

// Padded positions that read source index i of n: (positions, valid flags).
fn pre(i: i32, n: i32) -> array<i32, 3> {
    return array<i32, 3>(i, -i, 2 * n - 2 - i);
}
fn pre_ok(i: i32, n: i32) -> vec3<bool> {
    let r = PADM == 1u;
    return vec3<bool>(true, r && i >= 1 && i <= i32(PAD), r && i >= n - 1 - i32(PAD) && i <= n - 2);
}

// Σ over taps reading padded position (qy, qx) of gy·w for input channel ci of group g.
fn bs_taps(qy: i32, qx: i32, ci: u32, g: u32) -> f32 {
    let p = bs_p;
    let wg0 = g * p.cout * p.cin * K * K;
    let co0 = g * p.cout;
    var s = 0.0;
    for (var co = 0u; co < p.cout; co++) {
        for (var ky = 0u; ky < K; ky++) {
            let ty = qy + i32(PAD) - i32(ky);
            if (ty < 0 || ty % i32(S) != 0 || u32(ty) / S >= p.ho) { continue; }
            for (var kx = 0u; kx < K; kx++) {
                let tx = qx + i32(PAD) - i32(kx);
                if (tx < 0 || tx % i32(S) != 0 || u32(tx) / S >= p.wo) { continue; }
                s += bs_w[wg0 + ((co * p.cin + ci) * K + ky) * K + kx]
                    * bs_g[((co0 + co) * p.ho + u32(ty) / S) * p.wo + u32(tx) / S];
            }
        }
    }
    return s;
}

@compute @workgroup_size(WG)
fn conv_backward_input_scalar(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                              @builtin(local_invocation_index) lid: u32) {
    let p = bs_p;
    let i = lin(wid, nwg, lid);
    if (i >= p.cin * p.h * p.w) { return; }
    let ix = i32(i % p.w);
    let iy = i32((i / p.w) % p.h);
    let ci = i / (p.w * p.h);
    let g = wid.z;
    let py = pre(iy, i32(p.h));
    let px = pre(ix, i32(p.w));
    let vy = pre_ok(iy, i32(p.h));
    let vx = pre_ok(ix, i32(p.w));
    if (BORDER && !any(vy.yz) && !any(vx.yz)) { return; }
    var s = 0.0;
    for (var a = 0u; a < 3u; a++) {
        if (!vy[a]) { continue; }
        for (var b = 0u; b < 3u; b++) {
            if (!vx[b] || (BORDER && a == 0u && b == 0u)) { continue; }
            s += bs_taps(py[a], px[b], ci, g);
        }
    }
    bs_dx[g * p.cin * p.h * p.w + i] += s;
}

// ---- conv_backward_weight_scalar: part[(ch·G + g)·n + wi] = Σ over the rows of chunk ch of
//      gy·xp, one weight per invocation (n: one group's weight count); g = workgroup_id.z ----
@group(0) @binding(0) var<storage, read> ws_x: array<f32>;
@group(0) @binding(1) var<storage, read> ws_g: array<f32>;
@group(0) @binding(2) var<storage, read_write> ws_part: array<f32>;
@group(0) @binding(3) var<uniform> ws_p: Params;

@compute @workgroup_size(WG)
fn conv_backward_weight_scalar(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                               @builtin(local_invocation_index) lid: u32) {
    let p = ws_p;
    let i = lin(wid, nwg, lid);
    if (i >= p.n * p.nch) { return; }
    let wi = i % p.n;
    let ch = i / p.n;
    let kx = wi % K;
    let ky = (wi / K) % K;
    let ci = (wi / (K * K)) % p.cin;
    let co = wi / (K * K * p.cin);
    let g = wid.z;
    let ci0 = g * p.cin;
    let co0 = g * p.cout;
    var s = 0.0;
    let y1 = min(p.ho, (ch + 1u) * p.rows);
    for (var oy = ch * p.rows; oy < y1; oy++) {
        let iy = src(i32(oy * S + ky) - i32(PAD), i32(p.h));
        if (iy < 0) { continue; }
        for (var ox = 0u; ox < p.wo; ox++) {
            let ix = src(i32(ox * S + kx) - i32(PAD), i32(p.w));
            if (ix < 0) { continue; }
            s += ws_g[((co0 + co) * p.ho + oy) * p.wo + ox] * ws_x[((ci0 + ci) * p.h + u32(iy)) * p.w + u32(ix)];
        }
    }
    let o = (ch * p.groups + g) * p.n + wi;
    if (ACC) { s += ws_part[o]; }
    ws_part[o] = s;
}

// ---- conv_backward_weight_pairs: conv_backward_weight_scalar for K ≤ 7, one (co, ci) pair per
//      invocation with all its K·K taps (the same sums in the same order: the same bits, with
//      the index work and the gy loads shared by the taps). Invocations: pairs · nch. ----
const PAIR_TAPS: u32 = 49u; // 7 × 7
@group(0) @binding(0) var<storage, read> wp_x: array<f32>;
@group(0) @binding(1) var<storage, read> wp_g: array<f32>;
@group(0) @binding(2) var<storage, read_write> wp_part: array<f32>;
@group(0) @binding(3) var<uniform> wp_p: Params;

@compute @workgroup_size(WG)
fn conv_backward_weight_pairs(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                              @builtin(local_invocation_index) lid: u32) {
    let p = wp_p;
    let pairs = p.cout * p.cin;
    let i = lin(wid, nwg, lid);
    if (i >= pairs * p.nch) { return; }
    let pair = i % pairs;
    let ch = i / pairs;
    let g = wid.z;
    let gb = (g * p.cout + pair / p.cin) * p.ho;
    let xb = (g * p.cin + pair % p.cin) * p.h;
    var acc: array<f32, PAIR_TAPS>;
    for (var t = 0u; t < K * K; t++) { acc[t] = 0.0; }
    let y1 = min(p.ho, (ch + 1u) * p.rows);
    for (var oy = ch * p.rows; oy < y1; oy++) {
        for (var ox = 0u; ox < p.wo; ox++) {
            let gv = wp_g[(gb + oy) * p.wo + ox];
            for (var ky = 0u; ky < K; ky++) {
                let iy = src(i32(oy * S + ky) - i32(PAD), i32(p.h));
                if (iy < 0) { continue; }
                for (var kx = 0u; kx < K; kx++) {
                    let ix = src(i32(ox * S + kx) - i32(PAD), i32(p.w));
                    if (ix < 0) { continue; }
                    acc[ky * K + kx] += gv * wp_x[(xb + u32(iy)) * p.w + u32(ix)];
                }
            }
        }
    }
    let o = (ch * p.groups + g) * p.n + pair * K * K;
    for (var t = 0u; t < K * K; t++) {
        var v = acc[t];
        if (ACC) { v += wp_part[o + t]; }
        wp_part[o + t] = v;
    }
}
