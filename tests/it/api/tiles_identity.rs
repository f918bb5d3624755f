//! The work dir's identity of a run (src/tiles/identity.rs, issue 13 item 5): inputs by
//! content, not by the spelling of their paths; the adapter and kernel path as a note; the
//! file hash fixed by cloudfill.
use super::tiles::{job, scene};
use crate::common::gpu;
use cloudfill::io;
use cloudfill::tiles::{self, Event, Job};
use std::ops::ControlFlow;
use std::path::Path;

/// Issue 13, item 5: the manifest identifies inputs by content. Each run here stops at
/// `Event::Start` (the manifest is checked, no tile fitted).
#[test]
fn work_dir_checks_inputs_by_content_and_notes_another_adapter() {
    let d = tempfile::tempdir().unwrap();
    let s = scene();
    let copy = |name: &str, from: &Path| {
        let p = d.path().join(name);
        std::fs::copy(from, &p).unwrap();
        p
    };
    let mut j = job(&d.path().join("work"));
    j.inputs.target = copy("target.tif", &s.target);
    j.inputs.mask = copy("mask.tif", &s.mask);
    let start = |j: &Job| {
        let mut notes = Vec::new();
        let r = tiles::run(gpu(), j, |e| match e {
            Event::Note { note } => {
                notes.push(note.to_string());
                ControlFlow::Continue(())
            }
            Event::Start { .. } => ControlFlow::Break(()),
            _ => ControlFlow::Continue(()),
        });
        r.map(|_| notes)
    };
    assert_eq!(start(&j).unwrap(), Vec::<String>::new());
    // Another spelling of the same files: the same inputs.
    let mut k = j.clone();
    k.inputs.mask = d.path().join("sub/../mask.tif");
    std::fs::create_dir(d.path().join("sub")).unwrap();
    assert!(start(&k).is_ok());
    // Another adapter recorded in the manifest: a note, not an error.
    let manifest = tiles::workdir::manifest_path(&j.work_dir);
    let text = std::fs::read_to_string(&manifest).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["kernels"]["adapter"] = "Some Other GPU".into();
    v["kernels"]["subgroups"] = serde_json::Value::Null;
    std::fs::write(&manifest, v.to_string()).unwrap();
    let notes = start(&j).unwrap();
    assert!(
        notes.len() == 1 && notes[0].contains("Some Other GPU"),
        "{notes:?}"
    );
    // The mask regenerated at the same path (one pixel differs): refused by name.
    let mut m = io::read_raster(&j.inputs.mask, None, None).unwrap();
    m.image.data[0] = 1.0 - m.image.data[0];
    std::fs::remove_file(&j.inputs.mask).unwrap();
    io::write_geotiff(&j.inputs.mask, &m.image, m.georef.as_ref(), &[], None).unwrap();
    let e = start(&j).unwrap_err().to_string();
    assert!(e.contains("the mask") && e.contains("changed"), "{e}");
    // A manifest of the first format (inputs by path only): refused, saying why.
    let v1 = serde_json::json!({"format": "cloudfill-tiles/1", "settings": v["settings"]});
    std::fs::write(&manifest, v1.to_string()).unwrap();
    let e = start(&j).unwrap_err().to_string();
    assert!(e.contains("older cloudfill"), "{e}");
}

#[test]
fn file_hash_is_stable_and_sees_one_bit() {
    use cloudfill::tiles::identity::{hash_bytes, hash_file};
    // Fixed values: the hash is defined by cloudfill, not by the Rust version.
    let bytes: Vec<u8> = (0..3_000_003u32).map(|i| (i * 7 % 251) as u8).collect();
    let h = hash_bytes(&bytes);
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("f.bin");
    std::fs::write(&p, &bytes).unwrap();
    assert_eq!(
        hash_file(&p).unwrap(),
        (bytes.len() as u64, h),
        "blocks = one pass"
    );
    let mut b2 = bytes.clone();
    b2[2_000_000] ^= 1;
    assert_ne!(hash_bytes(&b2), h);
    assert_ne!(hash_bytes(&bytes[..bytes.len() - 1]), h);
    assert_eq!(hash_bytes(b""), 0, "{:#x}", hash_bytes(b""));
    assert_eq!(
        hash_bytes(b"cloudfill"),
        0xf810_fbf0_ed22_3416,
        "{:#x}",
        hash_bytes(b"cloudfill")
    );
}
