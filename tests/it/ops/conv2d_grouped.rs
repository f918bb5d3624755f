//! Grouped convs (G independent convs in the same dispatches, what a batch of networks runs) on
//! every path: against the reference, and bit for bit against G separate ungrouped runs.
use super::conv2d::{check, gconv, run_gpu, sg_on, Data, Out, R, Z};
use crate::common::*;
use cloudfill::gpu::Shape;
use cloudfill::ops::conv2d::{Blocks, Conv2d};

/// Checks grouped `c` and one of its groups alone (other data) against the reference; the grouped
/// conv must take the same kernels in as many dispatches as its group alone (every group in the
/// same dispatches). Returns the entry points.
fn check_grouped(
    c: Conv2d,
    h: usize,
    w: usize,
    bias: bool,
    seed: u64,
    bl: Blocks,
) -> Vec<&'static str> {
    assert!(c.groups > 1);
    let entries = check(c, h, w, bias, seed, bl);
    let alone = check(c.group(), h, w, bias, seed + 1000, bl);
    assert_eq!(entries, alone, "{c:?} {h}x{w} {bl:?}: grouped vs one group");
    entries
}

/// Groups on the subgroup path (the default blocks on lavapipe): per-group channel counts that
/// are not whole channel blocks (3 → 5) and whole ones (8 → 16), G = 2 and 3, k 1/3/5, stride
/// 1/2 (dx of stride 2: conv_backward_input_sg_*), zero and reflection padding, bias on and off, and the
/// grad-weight kernel with several row chunks per group (workgroup_id.z = chunk·G + group).
#[test]
fn grouped_subgroup_path_matches_reference() {
    let on = sg_on();
    let bl = Blocks::for_gpu(gpu());
    assert_eq!(bl.sg, on);
    let cases = [
        (gconv(6, 10, 3, 1, Z, 2), 10, 16, true),
        (gconv(9, 15, 3, 1, R, 3), 9, 8, false),
        (gconv(16, 32, 5, 1, R, 2), 7, 16, true),
        (gconv(9, 15, 1, 1, R, 3), 5, 8, true),
        (gconv(24, 48, 3, 2, R, 3), 12, 16, true),
        (gconv(6, 10, 5, 2, Z, 2), 11, 16, false),
        (gconv(16, 32, 1, 2, Z, 2), 9, 16, true),
    ];
    for (i, (c, h, w, bias)) in cases.into_iter().enumerate() {
        let entries = check_grouped(c, h, w, bias, 600 + i as u64, bl);
        let sg = entries.iter().filter(|e| e.contains("_sg_")).count();
        assert_eq!(sg, if on { 3 } else { 0 }, "{c:?} {h}x{w}: {entries:?}");
        if on {
            let (k, s) = (c.k, c.stride);
            let mut want = vec![
                format!("conv_forward_sg_k{k}_s{s}"),
                format!("conv_backward_weight_sg_k{k}_s{s}"),
            ];
            if s == 2 {
                want.push(format!("conv_backward_input_sg_k{k}_s2"));
            }
            for name in want {
                assert!(entries.contains(&name.as_str()), "{c:?}: {entries:?}");
            }
        }
    }
    // Several 4-row dw chunks per group (3 and 4 here), a short last one.
    let small = Blocks { target: 7, ..bl };
    for (i, (c, h, w)) in [
        (gconv(2, 10, 3, 1, R, 2), 13, 16),
        (gconv(3, 24, 5, 2, Z, 3), 21, 16),
    ]
    .into_iter()
    .enumerate()
    {
        let entries = check_grouped(c, h, w, false, 650 + i as u64, small);
        let n = entries.iter().filter(|e| e.contains("_sg_")).count();
        assert_eq!(n, if on { 3 } else { 0 }, "{c:?} {h}x{w}: {entries:?}");
    }
}

/// Groups on the portable fast kernels (conv_rearrange_weights, conv_forward,
/// conv_backward_input_s2, conv_backward_weight) with the CPU blocks without subgroups, the GPU
/// blocks, and small dw / db chunks.
#[test]
fn grouped_fast_path_matches_reference() {
    let cases = [
        (gconv(6, 10, 3, 1, Z, 2), 10, 16, true),
        (gconv(16, 32, 5, 1, R, 2), 9, 16, false),
        (gconv(9, 15, 3, 1, R, 3), 5, 12, true), // Wo % 8 = 4
        (gconv(9, 15, 3, 2, R, 3), 10, 16, true),
        (gconv(6, 10, 5, 2, Z, 2), 13, 16, false),
        (gconv(24, 48, 1, 2, Z, 3), 9, 8, true), // stride 2, Wo = 4
    ];
    let blocks = [
        Blocks {
            sg: false,
            ..Blocks::for_gpu(gpu())
        },
        Blocks::CPU,
        Blocks::GPU,
        Blocks {
            target: 7,
            ..Blocks::GPU
        },
    ];
    for (j, bl) in blocks.into_iter().enumerate() {
        for (i, (c, h, w, bias)) in cases.into_iter().enumerate() {
            let entries = check_grouped(c, h, w, bias, 700 + 10 * j as u64 + i as u64, bl);
            // GPU blocks run the blocked forward tiled in workgroup memory.
            let fwd = match bl.tiled {
                true => "conv_forward_tiled",
                false => "conv_forward",
            };
            assert!(entries.contains(&fwd), "{c:?} {h}x{w}: {entries:?}");
            assert!(
                entries.contains(&"conv_backward_weight"),
                "{c:?} {h}x{w}: {entries:?}"
            );
            let dx = if c.stride == 1 {
                fwd
            } else {
                "conv_backward_input_s2"
            };
            let uses = 1 + (c.stride == 1) as usize;
            assert!(entries.iter().filter(|e| **e == dx).count() >= uses);
            let border = c.padding == R;
            assert_eq!(
                entries.contains(&"conv_backward_input_scalar"),
                border,
                "{entries:?}"
            );
        }
    }
}

/// Groups on the scalar kernels: rows that are not whole vec4s, k = 7, the 2×2 level.
#[test]
fn grouped_simple_path_matches_reference() {
    let cases = [
        (gconv(6, 10, 3, 1, R, 2), 11, 13, true),
        (gconv(9, 15, 5, 2, Z, 3), 13, 9, false),
        (gconv(16, 32, 3, 2, R, 2), 9, 10, true),
        (gconv(6, 10, 7, 1, Z, 2), 9, 12, true), // k = 7
        (gconv(6, 9, 3, 1, R, 3), 2, 2, true),
        (gconv(4, 6, 9, 1, Z, 2), 10, 11, true), // k = 9: dw one weight per invocation
    ];
    let bl = Blocks::for_gpu(gpu());
    for bl in [bl, Blocks { target: 7, ..bl }] {
        for (i, (c, h, w, bias)) in cases.into_iter().enumerate() {
            let entries = check_grouped(c, h, w, bias, 800 + i as u64, bl);
            let dw = if c.k <= 7 {
                "conv_backward_weight_pairs"
            } else {
                "conv_backward_weight_scalar"
            };
            for e in ["conv_forward_scalar", "conv_backward_input_scalar", dw] {
                assert!(entries.contains(&e), "{c:?} {h}x{w}: {entries:?}");
            }
        }
    }
}

/// G groups in the same dispatches = G ungrouped GPU runs on the slices, to the bit: y, dx, dw
/// and db (each group's arithmetic, its gradient row chunks included, is the ungrouped
/// kernel's), so a batch of networks trains exactly as its networks would alone.
#[test]
fn grouped_equals_separate_ungrouped_runs() {
    let g = gpu();
    let port = Blocks {
        sg: false,
        ..Blocks::for_gpu(g)
    };
    let cases = [
        (gconv(6, 10, 3, 1, R, 2), 10, 16, Blocks::for_gpu(g)),
        (gconv(24, 48, 3, 2, Z, 3), 12, 16, Blocks::for_gpu(g)),
        (gconv(9, 15, 5, 2, R, 3), 9, 16, port),
        (gconv(16, 32, 3, 1, Z, 2), 7, 8, Blocks::GPU),
        (gconv(6, 10, 3, 1, R, 2), 9, 11, Blocks::for_gpu(g)), // scalar
    ];
    for (i, (c, h, w, bl)) in cases.into_iter().enumerate() {
        let what = format!("{c:?} {h}x{w} {bl:?}");
        let xs = Shape::new(c.cin, h, w);
        let d = Data::new(&c, xs, 900 + i as u64);
        let all = run_gpu(&c, xs, &d, true, bl);
        let gxs = Shape::new(c.cin_g(), h, w);
        let parts: Vec<Out> = (0..c.groups)
            .map(|k| run_gpu(&c.group(), gxs, &d.group(k, c.groups), true, bl))
            .collect();
        let cat = |f: fn(&Out) -> &Vec<f32>| -> Vec<f32> {
            parts.iter().flat_map(|o| f(o).iter().copied()).collect()
        };
        assert_eq!(all.entries, parts[0].entries, "{what}");
        assert_eq!(all.y, cat(|o| &o.y), "{what} y");
        assert_eq!(all.dx, cat(|o| &o.dx), "{what} dx");
        assert_eq!(all.dw, cat(|o| &o.dw), "{what} dw");
        assert_eq!(all.db, cat(|o| &o.db), "{what} db");
    }
}
