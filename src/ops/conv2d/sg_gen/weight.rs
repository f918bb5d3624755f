//! The subgroup weight-gradient kernels (`conv_backward_weight_sg_*`): one input channel per
//! lane × 8 output channels × all K·K taps, walking 8 x × 4 rows of gy at a time; lane j loads
//! channel j's gy vec4s and shares them with `subgroupBroadcast`.
use super::{elem, input_row, row_uses, signature, NC, PX, PY, SG};

/// Output channels per invocation.
const CO: usize = 4 * NC;

/// `conv_backward_weight_sg_k{k}_s{s}`: dw partial sums of one chunk of output rows.
pub(super) fn backward_weight(name: &str, k: usize, s: usize) -> String {
    let pad = (k - 1) / 2;
    let nm = 2 * s;
    let nr = s * (PY - 1) + k;
    let mut w = String::new();
    emit!(w);
    emit!(w, "// dw, K = {k}, stride {s}.");
    signature(&mut w, name);
    prologue(&mut w, k);
    emit!(
        w,
        "    for (var oy0 = ch * p.rows; oy0 < y1; oy0 += {PY}u) {{"
    );
    emit!(w, "    let iy0 = i32(oy0 * {s}u) - {pad};");
    emit!(w, "    for (var xb = 0u; xb < nxb; xb++) {{");
    emit!(w, "        let x4 = xb * {nm}u;");
    gy_loads(&mut w);
    for r in 0..nr {
        let uses = row_uses(r, k, s);
        if uses.is_empty() {
            continue;
        }
        input_row(&mut w, r, nm);
        // the input vec4s under each (q, kx): x positions S·(4q + j) + kx − PAD, j < 4
        for q in 0..PX / 4 {
            for kx in 0..k {
                let e: Vec<String> = (0..4)
                    .map(|j| elem((s * (4 * q + j) + kx) as isize - pad as isize, nm))
                    .collect();
                emit!(w, "        let x{q}_{kx} = vec4<f32>({});", e.join(", "));
            }
        }
        gy_taps(&mut w, &uses, k);
        emit!(w, "        }}");
    }
    emit!(w, "    }}");
    emit!(w, "    }}");
    for c in 0..CO {
        for t in 0..k * k {
            emit!(
                w,
                "    store_dw(ci_l, cb * {CO}u + {c}u, wid.z, {t}u, {}u, d{c}_{t});",
                k * k
            );
        }
    }
    emit!(w, "}}");
    w
}

/// The invocation's input channel, output channel block, group and chunk, the channel whose gy
/// this lane loads, and the K·K sums of each of the 8 output channels.
fn prologue(w: &mut String, k: usize) {
    emit!(w, "    let p = bw_p;");
    emit!(w, "    let ci_l = wid.x * WG + li;");
    emit!(w, "    let ci = min(ci_l, p.cin - 1u);");
    emit!(w, "    let cb = wid.y;");
    emit!(w, "    let g = wid.z % p.groups;");
    emit!(w, "    let ch = wid.z / p.groups;");
    emit!(w, "    let ci0 = g * p.cin;");
    emit!(w, "    let lane = sid % {SG}u;");
    emit!(
        w,
        "    let co_l = cb * {CO}u + lane; // the channel whose gy this lane loads"
    );
    emit!(
        w,
        "    let gb = (g * p.cout + min(co_l, p.cout - 1u)) * p.ho;"
    );
    emit!(w, "    let wo4 = p.wo / 4u;");
    emit!(w, "    let nxb = p.wo / {PX}u;");
    emit!(w, "    let y1 = min(p.ho, (ch + 1u) * p.rows);");
    for c in 0..CO {
        let names: Vec<String> = (0..k * k).map(|t| format!("var d{c}_{t} = 0.0;")).collect();
        emit!(w, "    {}", names.join(" "));
    }
}

/// This lane's gy vec4s of the step: g{py}_{q}, zeros past the chunk or the channels.
fn gy_loads(w: &mut String) {
    for py in 0..PY {
        emit!(w, "        let ok{py} = oy0 + {py}u < y1 && co_l < p.cout;");
        emit!(
            w,
            "        let gr{py} = (gb + min(oy0 + {py}u, p.ho - 1u)) * wo4 + xb * {}u;",
            PX / 4
        );
        for q in 0..PX / 4 {
            emit!(
                w,
                "        let g{py}_{q} = select(vec4<f32>(0.0), bw_g[gr{py} + {q}u], ok{py});"
            );
        }
    }
}

/// For every tap (output row py, tap row ky) of `uses`: each output channel's gy vec4s
/// broadcast, dotted with the input vec4s under each tap column.
fn gy_taps(w: &mut String, uses: &[(usize, usize)], k: usize) {
    use std::fmt::Write as _;
    for &(py, ky) in uses {
        for q in 0..PX / 4 {
            for c in 0..CO {
                let mut line = format!("        {{ let b = subgroupBroadcast(g{py}_{q}, {c}u);");
                for kx in 0..k {
                    write!(line, " d{c}_{} += dot(b, x{q}_{kx});", ky * k + kx).unwrap();
                }
                line.push_str(" }");
                emit!(w, "{line}");
            }
        }
    }
}
