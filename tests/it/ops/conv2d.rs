//! conv2d kernels vs their CPU reference on random inputs: the simple, blocked and subgroup
//! paths, other blocks, and the weight gradient in one row chunk or several. Grouped convs are in
//! `conv2d_grouped.rs`, the reference itself in `conv2d_reference.rs`, the small levels'
//! workgroups in `conv2d_workgroups.rs`; the helpers here serve them all.
use crate::common::*;
use cloudfill::gpu::{Dispatch, Shape, Tensor};
use cloudfill::ops::conv2d::{self as cv, reference, Blocks, Conv2d, Padding};

pub(super) const Z: Padding = Padding::Zero;
pub(super) const R: Padding = Padding::Reflection;

pub(super) fn conv(cin: usize, cout: usize, k: usize, stride: usize, padding: Padding) -> Conv2d {
    Conv2d::new(cin, cout, k, stride, padding)
}

/// A grouped conv (torch.nn.Conv2d `groups`): `cin`, `cout` count all groups' channels.
pub(super) fn gconv(
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    pad: Padding,
    groups: usize,
) -> Conv2d {
    Conv2d {
        groups,
        ..conv(cin, cout, k, stride, pad)
    }
}

/// Random inputs of one check (all four functions): x, weights, bias, gy, and the values the
/// gradients accumulate onto.
pub(super) struct Data {
    x: Vec<f32>,
    wt: Vec<f32>,
    b: Vec<f32>,
    gy: Vec<f32>,
    dx0: Vec<f32>,
    dw0: Vec<f32>,
    db0: Vec<f32>,
}

impl Data {
    pub(super) fn new(c: &Conv2d, xs: Shape, seed: u64) -> Data {
        let ys = c.out_shape(xs).unwrap();
        let mut rng = Rng::new(seed);
        Data {
            x: rng.vec(xs.numel()),
            wt: rng.vec(c.weight_len()),
            b: rng.vec(c.cout),
            gy: rng.vec(ys.numel()),
            dx0: rng.vec(xs.numel()),
            dw0: rng.vec(c.weight_len()),
            db0: rng.vec(c.cout),
        }
    }

    /// Group g's part of data for `groups` equal groups.
    pub(super) fn group(&self, g: usize, groups: usize) -> Data {
        let part = |v: &Vec<f32>| {
            let n = v.len() / groups;
            v[g * n..(g + 1) * n].to_vec()
        };
        Data {
            x: part(&self.x),
            wt: part(&self.wt),
            b: part(&self.b),
            gy: part(&self.gy),
            dx0: part(&self.dx0),
            dw0: part(&self.dw0),
            db0: part(&self.db0),
        }
    }
}

/// The GPU's y, dx, dw, db (gradients accumulated onto `d`'s initial values) and the entry
/// points of the dispatches, in order.
pub(super) struct Out {
    pub(super) y: Vec<f32>,
    pub(super) dx: Vec<f32>,
    pub(super) dw: Vec<f32>,
    pub(super) db: Vec<f32>,
    pub(super) entries: Vec<&'static str>,
}

/// Runs all four GPU functions (one submit).
pub(super) fn run_gpu(c: &Conv2d, xs: Shape, d: &Data, bias: bool, bl: Blocks) -> Out {
    let g = gpu();
    let ys = c.out_shape(xs).unwrap();
    let flat = |v: &[f32]| upload(Shape::flat(v.len()), v);
    let (tx, tw, tb, tgy) = (upload(xs, &d.x), flat(&d.wt), flat(&d.b), upload(ys, &d.gy));
    let ty = Tensor::zeros(g, ys).unwrap();
    let (tdx, tdw, tdb) = (upload(xs, &d.dx0), flat(&d.dw0), flat(&d.db0));
    let b_opt = bias.then_some(&tb);
    let mut ds: Vec<Dispatch> = cv::forward_with(g, bl, c, &tx, &tw, b_opt, &ty).unwrap();
    ds.extend(cv::backward_input_with(g, bl, c, &tgy, &tw, &tdx).unwrap());
    ds.extend(cv::backward_weight_with(g, bl, c, &tx, &tgy, &tdw).unwrap());
    ds.extend(cv::backward_bias_with(g, bl, c, &tgy, &tdb).unwrap());
    run(&ds);
    Out {
        y: ty.read(g).unwrap(),
        dx: tdx.read(g).unwrap(),
        dw: tdw.read(g).unwrap(),
        db: tdb.read(g).unwrap(),
        entries: ds.iter().map(|d| d.entry()).collect(),
    }
}

/// Runs all four GPU functions on random data (gradients accumulate onto random values) and
/// compares with the reference. Returns the entry points used, to check which path ran.
pub(super) fn check(
    c: Conv2d,
    h: usize,
    w: usize,
    bias: bool,
    seed: u64,
    bl: Blocks,
) -> Vec<&'static str> {
    let what = format!("{c:?} {h}x{w} bias {bias} {bl:?}");
    let xs = Shape::new(c.cin, h, w);
    let ys = c.out_shape(xs).unwrap();
    let d = Data::new(&c, xs, seed);
    let out = run_gpu(&c, xs, &d, bias, bl);

    let (x, wt, b, gy) = (to_f64(&d.x), to_f64(&d.wt), to_f64(&d.b), to_f64(&d.gy));
    let y = reference::forward(&c, &x, xs, &wt, bias.then_some(&b[..]));
    let (dx, dw, db) = reference::backward(&c, &x, xs, &wt, &gy);
    let plus = |a: Vec<f64>, b: &[f32]| -> Vec<f64> {
        a.iter().zip(b).map(|(a, &b)| a + b as f64).collect()
    };
    // Absolute floors from the number of summed terms (each |term| <= 4): f32 rounding of sums
    // that cancel. Wrong indexing gives O(1) errors.
    let taps = (c.cin_g() * c.k * c.k) as f64;
    assert_close(&format!("{what} y"), &out.y, &y, 1e-4, 1e-6 * taps * 4.0);
    let fan = (c.cout_g() * c.k * c.k) as f64;
    let dxw = plus(dx, &d.dx0);
    assert_close(&format!("{what} dx"), &out.dx, &dxw, 1e-4, 1e-6 * fan * 4.0);
    let px = ys.hw() as f64;
    let dww = plus(dw, &d.dw0);
    assert_close(&format!("{what} dw"), &out.dw, &dww, 1e-4, 1e-6 * px * 4.0);
    let dbw = plus(db, &d.db0);
    assert_close(&format!("{what} db"), &out.db, &dbw, 1e-4, 1e-6 * px * 2.0);
    out.entries
}

#[test]
fn simple_path_matches_reference() {
    let cases = [
        (conv(3, 4, 3, 1, Z), 11, 13, true),
        (conv(4, 5, 5, 2, R), 13, 9, false),
        (conv(3, 3, 1, 2, Z), 9, 10, true),
        (conv(5, 4, 3, 2, R), 12, 15, true),
        (conv(3, 5, 5, 1, R), 10, 14, true),
        (conv(4, 3, 1, 1, R), 9, 11, false),
        (conv(3, 4, 3, 2, Z), 16, 14, false), // W % 4 != 0 after striding
        (conv(3, 2, 3, 1, R), 2, 2, true),    // the 2×2 level
        (conv(2, 3, 7, 1, Z), 9, 12, true),   // k = 7: beyond the fast kernels
    ];
    for (i, (c, h, w, bias)) in cases.into_iter().enumerate() {
        let entries = check(c, h, w, bias, 100 + i as u64, Blocks::for_gpu(gpu()));
        assert!(
            entries.contains(&"conv_forward_scalar"),
            "{c:?} {h}x{w}: {entries:?}"
        );
        assert!(
            !entries.contains(&"conv_forward"),
            "{c:?} {h}x{w}: {entries:?}"
        );
    }
}

#[test]
fn fast_path_matches_reference() {
    let cases = [
        (conv(3, 5, 3, 1, Z), 10, 16, true),
        (conv(4, 9, 5, 1, R), 9, 16, true), // 9 output channels: a partial channel block
        (conv(3, 4, 3, 2, Z), 11, 16, false),
        (conv(5, 3, 3, 2, R), 10, 16, true),
        (conv(3, 4, 1, 1, Z), 9, 16, true),
        (conv(2, 3, 1, 2, R), 16, 16, false),
        (conv(3, 4, 5, 2, Z), 13, 16, true),
        (conv(4, 3, 5, 2, R), 9, 16, true),
        (conv(3, 4, 3, 1, R), 9, 12, true), // Wo % 8 = 4: one vec4 per block
        (conv(3, 4, 3, 2, Z), 9, 8, true),  // stride 2, Wo = 4
        (conv(5, 12, 3, 1, Z), 5, 4, true), // 4 wide: both edges in one block
        (conv(12, 5, 3, 2, R), 10, 8, false),
    ];
    // The portable kernels, also where the adapter would take the subgroup ones.
    let bl = Blocks {
        sg: false,
        ..Blocks::for_gpu(gpu())
    };
    for (i, (c, h, w, bias)) in cases.into_iter().enumerate() {
        let entries = check(c, h, w, bias, 200 + i as u64, bl);
        assert!(
            entries.contains(&"conv_forward"),
            "{c:?} {h}x{w}: {entries:?}"
        );
        assert!(
            entries.contains(&"conv_backward_weight"),
            "{c:?} {h}x{w}: {entries:?}"
        );
        let dx = if c.stride == 1 {
            "conv_forward"
        } else {
            "conv_backward_input_s2"
        };
        let uses = 1 + (c.stride == 1) as usize; // forward, and dx of stride 1
        assert!(entries.iter().filter(|e| **e == dx).count() >= uses);
    }
}

/// The subgroup kernels (`conv2d_sg.wgsl`) where the adapter has subgroups of 8 (lavapipe): forward,
/// dx (stride 2: conv_backward_input_sg_*) and dw take them, and are checked against the reference with odd channel counts
/// (partial channel blocks), heights that are not whole row blocks, k 1/3/5, stride 1/2, zero
/// and reflection padding, bias on and off. Elsewhere the same cases must take the other paths.
#[test]
fn subgroup_path_matches_reference() {
    let g = gpu();
    let on = g.is_cpu() && g.subgroup_size() == Some(8);
    let bl = Blocks {
        sg: true,
        ..Blocks::for_gpu(g)
    };
    assert_eq!(
        Blocks::for_gpu(g).sg,
        on,
        "CPU adapters with subgroups of 8 take it by default"
    );
    if is_lavapipe(g) && std::env::var_os("CLOUDFILL_NO_SUBGROUPS").is_none() {
        assert!(on, "lavapipe has subgroups of 8: {:?}", g.features());
    }
    let cases = [
        (conv(3, 5, 3, 1, Z), 10, 16, true),
        (conv(5, 9, 3, 1, R), 9, 24, false),
        (conv(7, 3, 5, 1, Z), 13, 16, true),
        (conv(4, 11, 5, 1, R), 7, 8, true), // Wo = 8: one block per row, 2 rows in the last
        (conv(9, 7, 1, 1, Z), 6, 16, false),
        (conv(3, 17, 1, 1, R), 5, 32, true),
        (conv(5, 7, 3, 2, Z), 15, 16, true), // dx of stride 2: conv_backward_input_sg_*
        (conv(3, 9, 3, 2, R), 12, 32, false),
        (conv(6, 5, 5, 2, Z), 11, 16, true),
        (conv(5, 3, 5, 2, R), 16, 48, false),
        (conv(3, 6, 1, 2, Z), 9, 16, true),
        (conv(13, 19, 3, 1, Z), 18, 40, true), // 5 x blocks, 3 channel blocks
        (conv(19, 13, 3, 1, R), 4, 64, false), // a wide row: one subgroup spans 8 x blocks
    ];
    for (i, (c, h, w, bias)) in cases.into_iter().enumerate() {
        let entries = check(c, h, w, bias, 400 + i as u64, bl);
        let sg = |e: &&&str| e.starts_with("conv_forward_sg_");
        let want = if on { 1 + (c.stride == 1) as usize } else { 0 };
        if on && c.stride == 2 {
            let name = format!("conv_backward_input_sg_k{}_s2", c.k);
            assert!(entries.contains(&name.as_str()), "{c:?}: {entries:?}");
        }
        assert_eq!(
            entries.iter().filter(sg).count(),
            want,
            "{c:?} {h}x{w}: {entries:?}"
        );
        if on {
            let name = format!("conv_forward_sg_k{}_s{}", c.k, c.stride);
            assert!(entries.contains(&name.as_str()), "{c:?}: {entries:?}");
            let name = format!("conv_backward_weight_sg_k{}_s{}", c.k, c.stride);
            assert!(entries.contains(&name.as_str()), "{c:?}: {entries:?}");
        }
    }
    // Small dw chunks (several 4-row chunks, a short last one).
    let small = Blocks { target: 7, ..bl };
    for (i, (c, h, w)) in [
        (conv(3, 9, 3, 1, R), 13, 16),
        (conv(10, 5, 5, 2, Z), 21, 16),
    ]
    .into_iter()
    .enumerate()
    {
        let entries = check(c, h, w, false, 450 + i as u64, small);
        let want = if on { 3 } else { 0 };
        let n = entries.iter().filter(|e| e.contains("_sg_")).count();
        assert_eq!(n, want, "{c:?} {h}x{w}: {entries:?}");
    }
    // Shapes the subgroup kernels do not cover fall back: Wo = 4 (the 4×4 level), k = 7.
    let entries = check(conv(5, 6, 3, 1, R), 4, 4, true, 500, bl);
    assert!(entries.contains(&"conv_forward"), "{entries:?}");
    assert!(!entries.iter().any(|e| e.contains("_sg_")), "{entries:?}");
    // Stride 2 from 8 wide: forward and dw (Wo = 4) portable, dx (W = 8) subgroup.
    let entries = check(conv(3, 4, 3, 2, Z), 8, 8, true, 502, bl);
    assert!(
        entries.contains(&"conv_forward") && entries.contains(&"conv_backward_weight"),
        "{entries:?}"
    );
    assert_eq!(
        entries.contains(&"conv_backward_input_sg_k3_s2"),
        on,
        "{entries:?}"
    );
    let entries = check(conv(2, 3, 7, 1, Z), 9, 16, true, 501, bl);
    assert!(entries.contains(&"conv_forward_scalar"), "{entries:?}");
}

/// The other adapter kind's blocking (lavapipe runs the GPU table here, a GPU the CPU table),
/// and small partial-sum chunks.
#[test]
fn fast_path_with_other_blocks_matches_reference() {
    let other = if gpu().is_cpu() {
        Blocks::GPU
    } else {
        Blocks::CPU
    };
    let bl = Blocks { target: 7, ..other };
    let cases = [
        (conv(3, 5, 3, 1, R), 10, 16, true),
        (conv(5, 6, 5, 2, Z), 9, 16, false),
        (conv(4, 3, 1, 1, Z), 11, 8, true),
    ];
    // GPUs run the blocked forward tiled in workgroup memory (conv2d_tiled.rs tests it more).
    let fwd = match bl.tiled {
        true => "conv_forward_tiled",
        false => "conv_forward",
    };
    for (i, (c, h, w, bias)) in cases.into_iter().enumerate() {
        let entries = check(c, h, w, bias, 300 + i as u64, bl);
        assert!(entries.contains(&fwd), "{c:?} {h}x{w}: {entries:?}");
    }
}

/// The dispatch after the dw kernel: `conv_sum_partials` where dw came in several chunks of rows;
/// with one chunk the kernel adds to dw itself (`ACC`) and the bias pass follows.
fn after_dw(entries: &[&'static str]) -> &'static str {
    let i = entries
        .iter()
        .position(|e| e.starts_with("conv_backward_weight"))
        .expect("a dw kernel");
    entries[i + 1]
}

/// dw with one chunk of rows (added to dw in place) and with several (partials, then their sum)
/// on the scalar, portable and (where the adapter has them) subgroup kernels; gradients
/// accumulate onto random values either way.
#[test]
fn weight_gradient_in_one_chunk_or_several_matches_reference() {
    let native = Blocks::for_gpu(gpu());
    let portable = Blocks {
        sg: false,
        ..native
    };
    let mut cases = vec![
        (
            conv(3, 4, 3, 1, Z),
            6,
            13,
            portable,
            "conv_backward_weight_pairs",
            true,
        ),
        (
            conv(3, 4, 3, 1, R),
            48,
            13,
            portable,
            "conv_backward_weight_pairs",
            false,
        ),
        (
            conv(2, 3, 9, 1, Z),
            6,
            13,
            portable,
            "conv_backward_weight_scalar", // k = 9: past the pair kernel's 7×7 taps
            true,
        ),
        (
            conv(2, 3, 9, 2, R),
            48,
            13,
            portable,
            "conv_backward_weight_scalar",
            false,
        ),
        (
            conv(3, 5, 3, 1, R),
            2,
            16,
            portable,
            "conv_backward_weight",
            true,
        ),
        (
            conv(3, 5, 3, 2, Z),
            64,
            16,
            portable,
            "conv_backward_weight",
            false,
        ),
    ];
    if sg_on() {
        cases.push((
            conv(3, 5, 3, 1, Z),
            4,
            16,
            native,
            "conv_backward_weight_sg_k3_s1",
            true,
        ));
        cases.push((
            conv(3, 5, 3, 1, R),
            48,
            16,
            native,
            "conv_backward_weight_sg_k3_s1",
            false,
        ));
    }
    for (i, (c, h, w, bl, dw, one_chunk)) in cases.into_iter().enumerate() {
        let entries = check(c, h, w, true, 520 + i as u64, bl);
        assert!(entries.contains(&dw), "{c:?} {h}x{w}: {entries:?}");
        let next = if one_chunk {
            "conv_backward_bias"
        } else {
            "conv_sum_partials"
        };
        assert_eq!(after_dw(&entries), next, "{c:?} {h}x{w}: {entries:?}");
    }
}

/// Whether the subgroup kernels run here by default (lavapipe: subgroups of 8).
pub(super) fn sg_on() -> bool {
    let g = gpu();
    g.is_cpu() && g.subgroup_size() == Some(8)
}
