//! The forward-shaped subgroup kernels: the forward conv (`conv_forward_sg_*`) and the stride-2
//! dx gather laid out like it (`conv_backward_input_sg_*`). Each invocation accumulates
//! 8 x × 4 rows × 8 channels in 64 named vec4s; lanes 0..7 load the channel block's weights and
//! share them with `subgroupBroadcast`.
use super::{elem, input_row, row_uses, signature, COMP, NC, PX, PY, SG};

/// `conv_forward_sg_k{k}_s{s}`: y (+)= conv(x).
pub(super) fn forward(name: &str, k: usize, s: usize) -> String {
    let pad = (k - 1) / 2;
    let nm = 2 * s; // input vec4s under one invocation's 8 outputs
    let nr = s * (PY - 1) + k; // input rows read per input channel
    let mut w = String::new();
    emit!(w);
    emit!(
        w,
        "// K = {k}, stride {s}: {nr} input rows and {} weight loads per lane per input channel.",
        weight_loads(k)
    );
    signature(&mut w, name);
    prologue(&mut w);
    emit!(w, "    let x4 = xb * {nm}u;");
    emit!(w, "    let iy0 = i32(oy0 * {s}u) - {pad};");
    accumulators(&mut w);
    channel_loop(&mut w, k);
    for r in 0..nr {
        let uses = row_uses(r, k, s);
        if uses.is_empty() {
            continue;
        }
        input_row(&mut w, r, nm);
        weight_taps(&mut w, &uses, k, |px, kx| {
            Some(elem((s * px + kx) as isize - pad as isize, nm))
        });
        emit!(w, "        }}");
    }
    emit!(w, "    }}");
    stores(&mut w);
    emit!(w, "}}");
    w
}

/// `conv_backward_input_sg_k{k}_s2`, stride-2 dx (transposed conv): dx[iy, ix] gets
/// w[ky, kx]·gy[t, u] for iy + PAD − ky = 2t and ix + PAD − kx = 2u.
pub(super) fn backward_input(name: &str, k: usize, s: usize) -> String {
    assert_eq!(s, 2, "the subgroup dx gather is for stride 2");
    let pad = (k - 1) / 2;
    let mut w = String::new();
    emit!(w);
    emit!(w, "// dx of stride 2, K = {k}.");
    signature(&mut w, name);
    prologue(&mut w);
    emit!(w, "    let ty0 = i32(oy0 / 2u);");
    accumulators(&mut w);
    channel_loop(&mut w, k);
    // gy rows t0 + dt: dx row py uses tap ky where py + PAD − ky = 2·dt.
    for dt in -2isize..=3 {
        let uses: Vec<(usize, usize)> = (0..PY)
            .flat_map(|py| (0..k).map(move |ky| (py, ky)))
            .filter(|&(py, ky)| (py + pad) as isize - ky as isize == 2 * dt)
            .collect();
        if uses.is_empty() {
            continue;
        }
        emit!(w, "        {{");
        emit!(
            w,
            "        let v = gy_row(ci0 + ci, ty0 + {dt}, xb, p.h, p.w);"
        );
        emit!(w, "        let L = v[0]; let M0 = v[1]; let R = v[2];");
        weight_taps(&mut w, &uses, k, |px, kx| {
            let d = (px + pad) as isize - kx as isize;
            (d % 2 == 0).then(|| elem(d / 2, 1))
        });
        emit!(w, "        }}");
    }
    emit!(w, "    }}");
    stores(&mut w);
    emit!(w, "}}");
    w
}

/// Weight vec4s each lane loads per input channel.
fn weight_loads(k: usize) -> usize {
    (NC * k * k).div_ceil(SG)
}

/// The invocation's block (x block xb, first row oy0, channel block cb, group g) and its lane.
fn prologue(w: &mut String) {
    emit!(w, "    let p = sg_p;");
    emit!(w, "    let nxb = p.wo / {PX}u;");
    emit!(w, "    let n = nxb * ((p.ho + {}u) / {PY}u);", PY - 1);
    emit!(w, "    let item = wid.x * WG + li;");
    emit!(w, "    let live = item < n;");
    emit!(w, "    let it = min(item, n - 1u);");
    emit!(w, "    let xb = it % nxb;");
    emit!(w, "    let oy0 = (it / nxb) * {PY}u;");
    emit!(w, "    let cb = wid.y;");
    emit!(w, "    let g = wid.z;");
    emit!(w, "    let ci0 = g * p.cin;");
    emit!(w, "    let np4 = p.np / 4u;");
    emit!(w, "    let lane = sid % {SG}u;");
}

/// The accumulators, a{py}_{px}_{c}: output row py, output x px, channel vec4 c.
fn accumulators(w: &mut String) {
    for py in 0..PY {
        for px in 0..PX {
            for c in 0..NC {
                emit!(w, "    var a{py}_{px}_{c} = vec4<f32>(0.0);");
            }
        }
    }
}

/// Opens the loop over the channels summed, each lane loading its weight vec4s of the channel.
fn channel_loop(w: &mut String, k: usize) {
    let taps = NC * k * k; // weight vec4s per input channel
    emit!(w, "    for (var ci = 0u; ci < p.cin; ci++) {{");
    emit!(
        w,
        "        let wb = (ci0 + ci) * {}u * np4 + cb * {NC}u;",
        k * k
    );
    for j in 0..weight_loads(k) {
        emit!(
            w,
            "        let t{j} = min({}u + lane, {}u);",
            j * SG,
            taps - 1
        );
        emit!(
            w,
            "        let wl{j} = sg_w[wb + (t{j} / {NC}u) * np4 + t{j} % {NC}u];"
        );
    }
}

/// For every tap (output row py, tap row ky) of `uses` and tap column kx: its weight vec4s
/// broadcast, times the input element `input(px, kx)` of each output x px that reads one.
fn weight_taps(
    w: &mut String,
    uses: &[(usize, usize)],
    k: usize,
    input: impl Fn(usize, usize) -> Option<String>,
) {
    use std::fmt::Write as _;
    for &(py, ky) in uses {
        for kx in 0..k {
            for c in 0..NC {
                let t = (ky * k + kx) * NC + c;
                let (reg, lane) = (t / SG, t % SG);
                let mut line = format!("        {{ let b = subgroupBroadcast(wl{reg}, {lane}u);");
                for px in 0..PX {
                    if let Some(e) = input(px, kx) {
                        write!(line, " a{py}_{px}_{c} += b * {e};").unwrap();
                    }
                }
                line.push_str(" }");
                emit!(w, "{line}");
            }
        }
    }
}

/// The masked stores of the accumulators.
fn stores(w: &mut String) {
    for py in 0..PY {
        emit!(w, "    if (live && oy0 + {py}u < p.ho) {{");
        emit!(w, "        let oy = oy0 + {py}u;");
        for c in 0..NC {
            for (e, comp) in COMP.iter().enumerate() {
                for q in 0..PX / 4 {
                    let v: Vec<String> = (0..4)
                        .map(|i| format!("a{py}_{}_{c}.{comp}", 4 * q + i))
                        .collect();
                    emit!(
                        w,
                        "        store_y(g, cb * {}u + {}u, oy, xb * {}u + {q}u, vec4<f32>({}));",
                        4 * NC,
                        4 * c + e,
                        PX / 4,
                        v.join(", ")
                    );
                }
            }
        }
        emit!(w, "    }}");
    }
}
