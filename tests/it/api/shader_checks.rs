//! The shader modules without wgpu's run-time checks (the default on Vulkan and GL) compute the
//! same bits as the fully checked ones: the checks only clamp indices that are in range and guard
//! divisors that are never zero, so a fit must not change by one ulp.
use crate::common::*;
use cloudfill::gpu::ShaderChecks;
use cloudfill::io::{Image, Mask};
use cloudfill::ops::conv2d::Blocks;
use cloudfill::{Dip, DipConfig, Gpu, NetConfig};
use std::ops::ControlFlow;

/// Output and losses of an 8-step fit (latent noise on) of a 4-level network on `g`.
pub(super) fn fit(g: &Gpu, conv_blocks: Option<Blocks>) -> (Vec<f32>, Vec<f32>) {
    let (h, w) = (32, 40);
    let cfg = DipConfig {
        net: NetConfig::with_levels(4),
        seed: 9,
        loss_every: 1,
        conv_blocks,
        ..DipConfig::default()
    };
    let mut dip = Dip::new(g, cfg).unwrap();
    let mut rng = Rng::new(31);
    let img: Vec<f32> = (0..h * w * 3).map(|_| rng.uniform(0.1, 0.9)).collect();
    let clear: Vec<bool> = (0..h * w).map(|i| (i / w + i % w) % 9 > 1).collect();
    dip.set_target(vec![Image::new(h, w, 3, img).unwrap()])
        .unwrap();
    dip.set_mask(vec![Mask { h, w, clear }]).unwrap();
    let mut losses = Vec::new();
    dip.fit(8, |i| {
        losses.push(i.loss.unwrap());
        ControlFlow::Continue(())
    })
    .unwrap();
    (dip.output().unwrap()[0].data.clone(), losses)
}

#[test]
fn unchecked_shaders_give_the_bits_of_checked_ones() {
    let plain = gpu();
    let checked = Gpu::with_shader_checks(ShaderChecks::All).unwrap();
    assert_eq!(checked.shader_checks(), ShaderChecks::All);
    let portable = Blocks {
        sg: false,
        ..Blocks::for_gpu(plain)
    };
    for (name, blocks) in [("fastest", None), ("portable", Some(portable))] {
        let (out_a, loss_a) = fit(plain, blocks);
        let (out_b, loss_b) = fit(&checked, blocks);
        assert!(loss_a[7] < loss_a[0], "{name}: the fit learns");
        let same = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
        assert!(
            same(&loss_a, &loss_b),
            "{name}: losses {loss_a:?} vs {loss_b:?} ({:?} vs all checks)",
            plain.shader_checks()
        );
        assert!(same(&out_a, &out_b), "{name}: outputs differ");
    }
}
