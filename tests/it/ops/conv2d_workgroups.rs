//! Small dispatches spread over workgroups: the deepest levels' convs (4×4, 2×2 and below) get
//! at least 8 workgroups where they have the invocations for it (workgroups shrink to one
//! subgroup of 8), so a CPU driver runs them on every core; the results stay the reference's.
use super::conv2d::{check, conv};
use crate::common::*;
use cloudfill::gpu::{Shape, Tensor};
use cloudfill::ops::conv2d::{self as cv, Blocks, Padding};

/// The conv kernels' dispatches of forward, dx and dw of `c` on `h`×`w`: (entry, workgroups).
fn conv_workgroups(c: &cv::Conv2d, h: usize, w: usize, bl: Blocks) -> Vec<(&'static str, u32)> {
    let g = gpu();
    let xs = Shape::new(c.cin, h, w);
    let ys = c.out_shape(xs).unwrap();
    let t = |s: Shape| Tensor::zeros(g, s).unwrap();
    let (x, y, dx, gy) = (t(xs), t(ys), t(xs), t(ys));
    let wt = t(Shape::flat(c.weight_len()));
    let mut ds = cv::forward_with(g, bl, c, &x, &wt, None, &y).unwrap();
    ds.extend(cv::backward_input_with(g, bl, c, &gy, &wt, &dx).unwrap());
    ds.extend(cv::backward_weight_with(g, bl, c, &x, &gy, &wt).unwrap());
    ds.iter()
        .filter(|d| d.entry().starts_with("conv_forward") || d.entry().starts_with("conv_backward"))
        .map(|d| (d.entry(), d.groups().iter().product()))
        .collect()
}

#[test]
fn deepest_levels_convs_have_eight_workgroups_and_match_reference() {
    // 128 → 128 3×3 at 4×4 (the blocked kernels; the forward's 64 invocations were one
    // workgroup) and at 2×2 (the scalar ones), with both adapter kinds' blocks.
    let cases = [(128, 128, 4), (128, 128, 2)];
    for bl in [Blocks::CPU, Blocks::GPU] {
        for &(cin, cout, hw) in &cases {
            let c = conv(cin, cout, 3, 1, Padding::Zero);
            for (entry, n) in conv_workgroups(&c, hw, hw, bl) {
                assert!(
                    n >= 8,
                    "{cin}->{cout} at {hw}x{hw} {bl:?}: {entry} has {n} workgroups"
                );
            }
            check(c, hw, hw, true, 41 + hw as u64, bl);
        }
    }
}
