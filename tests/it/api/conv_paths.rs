//! The whole network on the GPU blocks (what a real GPU runs) with the forward convs tiled in
//! workgroup memory (`Blocks::tiled`, `conv2d_tiled.wgsl`) and without: an 8-step fit gives the
//! same losses and output to the bit (each output sums the same terms in the same order). The
//! kernels themselves: `ops::conv2d_tiled`.
use super::shader_checks::fit;
use crate::common::*;
use cloudfill::ops::conv2d::Blocks;

#[test]
fn tiled_forward_convs_give_the_fit_of_the_register_blocked_ones() {
    let g = gpu();
    let untiled = Blocks {
        tiled: false,
        ..Blocks::GPU
    };
    let (out_a, loss_a) = fit(g, Some(Blocks::GPU));
    let (out_b, loss_b) = fit(g, Some(untiled));
    assert!(loss_a[7] < loss_a[0], "the fit learns: {loss_a:?}");
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&loss_a), bits(&loss_b), "{loss_a:?} vs {loss_b:?}");
    assert_eq!(bits(&out_a), bits(&out_b), "outputs differ");
}
