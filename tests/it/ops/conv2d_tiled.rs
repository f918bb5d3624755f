//! The tiled forward conv (`conv2d_tiled.wgsl`, what GPUs run: [`Blocks::tiled`]) against the
//! CPU reference, and against the register-blocked kernel it replaces, to the bit: partial tiles
//! along x and y, several input-channel chunks, k 1/3/5, stride 1/2, both paddings, NC4 1 and 2.
//! The whole network with it on and off: `api::conv_paths`.
use super::conv2d::{check, conv, run_gpu, Data, R, Z};
use cloudfill::gpu::Shape;
use cloudfill::ops::conv2d::{Blocks, Conv2d};

const TILED: &str = "conv_forward_tiled";

/// The cases: (conv, h, w, bias).
fn cases() -> Vec<(Conv2d, usize, usize, bool)> {
    vec![
        (conv(3, 5, 3, 1, R), 10, 16, true), // two tile rows, the second partial
        (conv(20, 9, 3, 1, Z), 9, 40, true), // 3 chunks of 7 input channels, 2 tiles along x
        (conv(5, 4, 5, 2, R), 13, 16, false),
        (conv(4, 3, 1, 1, Z), 11, 8, true),
        (conv(12, 5, 3, 2, Z), 10, 8, false),
        (conv(5, 12, 3, 1, Z), 5, 4, true), // 4 wide: one invocation along x
        (conv(6, 7, 5, 1, R), 7, 12, true), // 3 vec4s along x in a tile of 4
    ]
}

fn tiled(nc4: u32) -> Blocks {
    Blocks {
        nc4,
        tiled: true,
        ..Blocks::GPU
    }
}

#[test]
fn tiled_path_matches_reference() {
    const { assert!(Blocks::GPU.tiled && !Blocks::CPU.tiled, "GPUs take it") };
    for nc4 in [1, 2] {
        for (i, (c, h, w, bias)) in cases().into_iter().enumerate() {
            let entries = check(c, h, w, bias, 700 + i as u64, tiled(nc4));
            let uses = entries.iter().filter(|e| **e == TILED).count();
            let want = 1 + (c.stride == 1) as usize; // forward, and dx of stride 1
            assert_eq!(uses, want, "{c:?} {h}x{w} nc4 {nc4}: {entries:?}");
        }
    }
}

#[test]
fn tiled_path_gives_the_bits_of_the_register_blocked_one() {
    for nc4 in [1, 2] {
        for (i, (c, h, w, bias)) in cases().into_iter().enumerate() {
            let xs = Shape::new(c.cin, h, w);
            let d = Data::new(&c, xs, 800 + i as u64);
            let a = run_gpu(&c, xs, &d, bias, tiled(nc4));
            let plain = Blocks {
                tiled: false,
                ..tiled(nc4)
            };
            let b = run_gpu(&c, xs, &d, bias, plain);
            assert!(a.entries.contains(&TILED) && !b.entries.contains(&TILED));
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            let what = format!("{c:?} {h}x{w} nc4 {nc4}");
            assert_eq!(bits(&a.y), bits(&b.y), "{what}: y");
            assert_eq!(bits(&a.dx), bits(&b.dx), "{what}: dx");
        }
    }
}
