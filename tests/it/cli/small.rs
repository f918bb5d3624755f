//! `cloudfill inpaint` on images too small for the default 6-level network (issue 13): they are
//! fitted, at 128×128, and a note on stderr says so.
use super::{cloudfill, s, text};
use cloudfill::io::{self, Image};

#[test]
fn small_images_fit_with_the_default_network_and_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let (h, w) = (64, 64);
    let data = (0..h * w * 3).map(|i| (i % 23) as f32 / 23.0).collect();
    let target = dir.path().join("t.npy");
    io::write_npy(&target, &Image::new(h, w, 3, data).unwrap()).unwrap();
    let clear = (0..h * w).map(|p| ((p / w) % 9 > 2) as u8 as f32).collect();
    let mask = dir.path().join("m.npy");
    io::write_npy(&mask, &Image::new(h, w, 1, clear).unwrap()).unwrap();
    // The whole 64×64 image, and a 40×24 (W×H) window of it.
    for (window, (ow, oh)) in [(None, (64, 64)), (Some("8,16,40,24"), (40, 24))] {
        let out = dir.path().join(format!("o{ow}.npy"));
        let mut args = vec!["inpaint", "--target", s(&target), "--mask", s(&mask)];
        args.extend(["--out", s(&out), "--steps", "2"]);
        args.extend(window.map(|wdw| ["--window", wdw]).into_iter().flatten());
        let o = cloudfill(&args);
        let t = text(&o);
        assert!(o.status.success(), "{t}");
        let note = format!("note: {ow}×{oh} (W×H) is too small for the 6-level network");
        assert!(t.contains(&note), "{t}");
        assert!(t.contains("reflect-padded to 128×128"), "{t}");
        let r = io::read_raster(&out, None, None).unwrap();
        assert_eq!((r.image.w, r.image.h, r.image.c), (ow, oh, 3));
        assert!(r.image.data.iter().all(|v| v.is_finite()));
    }
}
