//! Whole scenes (src/tiles): the grid and its weights, a tiled run of a georeferenced synthetic
//! scene against its own tiles and its input, resuming, refused settings. The real binary
//! (shard + merge, --window equivalence, 13 bands) is in tests/it/tiles/cli.rs.

use crate::api::io::utm_georef;
use crate::common::gpu;
use cloudfill::io::{self, Image, MaskOptions};
use cloudfill::tiles::{self, Event, Grid, Inputs, Job, TileOptions, TileRect};
use cloudfill::{synthetic, DipConfig, NetConfig};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub const W: usize = 160;
pub const H: usize = 128;
pub const STEPS: usize = 8;
pub const SEED: u64 = 7;

/// Cloud discs (y, x, r): in tiles (1,1), (2,1), (0,2), (1,2), (2,2) of the 64/16 grid;
/// tiles (0,0) and (0,1) stay clear; the block x < 64, y >= 64 (tile (2,0)) is all cloud.
fn clear_at(y: usize, x: usize) -> bool {
    let discs = [(90.0, 80.0, 12.0), (30.0, 130.0, 10.0), (100.0, 140.0, 9.0)];
    let (yf, xf) = (y as f64 + 0.5, x as f64 + 0.5);
    let in_disc = discs
        .iter()
        .any(|&(cy, cx, r)| (yf - cy).powi(2) + (xf - cx).powi(2) <= r * r);
    !(in_disc || (x < 64 && y >= 64))
}

/// The scene's files: cloudy RGB target, mask, 2-band guide (all georeferenced, UTM 30N), truth.
pub struct Scene {
    pub dir: tempfile::TempDir,
    pub target: PathBuf,
    pub mask: PathBuf,
    pub guide: PathBuf,
}

pub fn scene() -> &'static Scene {
    static S: OnceLock<Scene> = OnceLock::new();
    S.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let s = synthetic::scene(H, W, 11);
        let clear: Vec<bool> = (0..H * W).map(|p| clear_at(p / W, p % W)).collect();
        let mut cloudy = s.truth;
        for (p, _) in clear.iter().enumerate().filter(|(_, &c)| !c) {
            cloudy[p * 3..p * 3 + 3].copy_from_slice(&[0.9, 0.88, 0.92]);
        }
        let g = utm_georef();
        let write = |name: &str, c: usize, data: Vec<f32>| {
            let p = dir.path().join(name);
            let img = Image::new(H, W, c, data).unwrap();
            io::write_geotiff(&p, &img, Some(&g), &[], None).unwrap();
            p
        };
        let mask_v = clear.iter().map(|&c| f32::from(u8::from(c))).collect();
        Scene {
            target: write("target.tif", 3, cloudy),
            mask: write("mask.tif", 1, mask_v),
            guide: write("guide.tif", 2, s.sar.clone()),
            dir,
        }
    })
}

pub fn dip_config() -> DipConfig {
    DipConfig {
        net: NetConfig::with_levels(3),
        seed: SEED,
        loss_every: 10,
        ..DipConfig::default()
    }
}

pub fn job(work_dir: &Path) -> Job {
    let s = scene();
    Job {
        inputs: Inputs {
            target: s.target.clone(),
            bands: None,
            s2: false,
            mask: s.mask.clone(),
            mask_options: MaskOptions::default(),
            s1: vec![],
            s1_max: cloudfill::io::S1_MAX_REFERENCE,
            guides: vec![s.guide.clone()],
            window: None,
        },
        dip: dip_config(),
        steps: STEPS,
        tiles: TileOptions {
            tile: 64,
            overlap: 16,
            min_clear: 0.01,
        },
        paste_clear: false,
        work_dir: work_dir.to_path_buf(),
        shard: None,
        batch: 1,
        uncertainty: false,
    }
}

fn go(work_dir: &Path) -> tiles::Summary {
    tiles::run(gpu(), &job(work_dir), |_| ControlFlow::Continue(())).unwrap()
}

/// The uninterrupted reference run: its work dir and merged GeoTIFF.
pub struct Reference {
    pub work: PathBuf,
    pub out: PathBuf,
    pub image: Image,
}

pub fn reference() -> &'static Reference {
    static R: OnceLock<Reference> = OnceLock::new();
    R.get_or_init(|| {
        let work = scene().dir.path().join("ref_work");
        let s = go(&work);
        assert!(s.complete && !s.stopped);
        assert_eq!((s.fitted, s.copied, s.nodata.len()), (6, 2, 1), "{s:?}");
        let out = scene().dir.path().join("ref.tif");
        tiles::merge(&work, &out, &[]).unwrap();
        let image = io::read_raster(&out, None, None).unwrap().image;
        Reference { work, out, image }
    })
}

/// Bitwise equality, NaN equal to NaN.
pub fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

#[test]
fn grid_covers_raster_with_full_tiles_and_smooth_weights() {
    // (w, h, tile, overlap): even, uneven, a triple overlap at the end, smaller than a tile.
    for (w, h, t, o) in [
        (160, 128, 64, 16),
        (300, 17, 32, 8),
        (168, 64, 64, 16),
        (40, 50, 64, 16),
    ] {
        let g = Grid::new(w, h, t, o).unwrap();
        let mut wsum = vec![0f64; w * h];
        let mut count = vec![0usize; w * h];
        for r in g.tiles() {
            assert_eq!((r.w, r.h), (t.min(w), t.min(h)), "every tile is full size");
            assert!(r.x0 + r.w <= w && r.y0 + r.h <= h);
            let (wx, wy) = (g.weights_x(r.col), g.weights_y(r.row));
            for y in 0..r.h {
                for x in 0..r.w {
                    let v = wy[y] * wx[x];
                    assert!(v > 0.0 && v <= 1.0, "weight {v}");
                    wsum[(r.y0 + y) * w + r.x0 + x] += f64::from(v);
                    count[(r.y0 + y) * w + r.x0 + x] += 1;
                }
            }
        }
        for p in 0..w * h {
            let (y, x) = (p / w, p % w);
            assert!(count[p] >= 1, "pixel ({y}, {x}) of {w}×{h} uncovered");
            assert_eq!(count[p], g.coverage(y, x));
            if count[p] == 1 {
                assert_eq!(wsum[p], 1.0, "single coverage must have weight exactly 1");
            }
        }
        // Where neighbours overlap by exactly `overlap` along x (not y), weights sum to 1.
        if w == 160 {
            let row0: Vec<f64> = (0..w).map(|x| wsum[10 * w + x]).collect();
            assert!(row0.iter().all(|&s| (s - 1.0).abs() < 1e-6), "{row0:?}");
        }
    }
    assert!(
        Grid::new(100, 100, 60, 8).is_err(),
        "tile not a multiple of 16"
    );
    assert!(Grid::new(100, 100, 64, 32).is_err(), "overlap too large");
    let g = Grid::new(40, 50, 64, 16).unwrap();
    assert_eq!((g.len(), g.tile(0).w, g.tile(0).h), (1, 40, 50));
    let g = Grid::new(168, 64, 64, 16).unwrap();
    let xs: Vec<usize> = g.tiles().map(|r| r.x0).collect();
    assert_eq!(xs, vec![0, 48, 96, 104]);
}

#[test]
fn tiled_scene_matches_tiles_input_and_georef() {
    let r = reference();
    let s = scene();
    let g = Grid::new(W, H, 64, 16).unwrap();
    let input = io::read_raster(&s.target, None, None).unwrap().image;
    let out = io::read_raster(&r.out, None, None).unwrap();
    let img = &out.image;
    assert_eq!((img.h, img.w, img.c), (H, W, 3));
    let georef = out.georef.as_ref().unwrap();
    assert_eq!(georef.geotransform, utm_georef().geotransform);
    let srs = gdal::spatial_ref::SpatialRef::from_wkt(&georef.projection).unwrap();
    assert_eq!(srs.auth_code().unwrap(), 32630);
    assert!(
        out.nodata.iter().all(|n| n.is_some_and(f64::is_nan)),
        "nodata NaN: {:?}",
        out.nodata
    );
    let mut files: Vec<Option<Image>> = Vec::new();
    for t in g.tiles() {
        let p = tiles::workdir::tile_path(&r.work, &t);
        files.push(
            p.exists()
                .then(|| io::read_raster(&p, None, None).unwrap().image),
        );
    }
    assert!(files[6].is_none(), "tile (2,0) is all cloud: nodata");
    for t in [0, 1] {
        let crop = input.crop(g.tile(t).y0, g.tile(t).x0, 64, 64).unwrap();
        assert!(
            same_bits(&files[t].as_ref().unwrap().data, &crop.data),
            "copied tile {t}"
        );
    }
    let (wx, wy): (Vec<_>, Vec<_>) = (
        (0..g.cols()).map(|c| g.weights_x(c)).collect(),
        (0..g.rows()).map(|r| g.weights_y(r)).collect(),
    );
    let (mut worst, mut checked) = (0f64, 0);
    for y in 0..H {
        for x in 0..W {
            let covering: Vec<_> = g
                .tiles()
                .filter(|t| t.y0 <= y && y < t.y0 + t.h && t.x0 <= x && x < t.x0 + t.w)
                .filter(|t| files[t.index].is_some())
                .collect();
            for ch in 0..3 {
                let v = img.at(y, x, ch);
                let val =
                    |t: &TileRect| files[t.index].as_ref().unwrap().at(y - t.y0, x - t.x0, ch);
                if covering.is_empty() {
                    assert!(v.is_nan(), "({y},{x}) only in the nodata tile must be NaN");
                } else if g.coverage(y, x) == 1 {
                    assert_eq!(
                        v.to_bits(),
                        val(&covering[0]).to_bits(),
                        "interior ({y},{x}) = its tile"
                    );
                    if covering[0].index <= 1 {
                        assert_eq!(
                            v.to_bits(),
                            input.at(y, x, ch).to_bits(),
                            "clear tile copied"
                        );
                    }
                } else {
                    // Overlaps: Σ w·tile / Σ w with the grid's smooth weights (no seam).
                    let (mut sw, mut swv) = (0f64, 0f64);
                    for t in &covering {
                        let w = f64::from(wy[t.row][y - t.y0]) * f64::from(wx[t.col][x - t.x0]);
                        sw += w;
                        swv += w * f64::from(val(t));
                    }
                    worst = worst.max((f64::from(v) - swv / sw).abs());
                    checked += 1;
                }
            }
        }
    }
    assert!(
        worst < 1e-6 && checked > 1000,
        "blend off by {worst} ({checked} checked)"
    );
}

#[test]
fn interrupted_run_resumes_to_the_same_bits() {
    let r = reference();
    let work = scene().dir.path().join("resume_work");
    // Stop in the middle of the 3rd fitted tile: two fitted tiles written, the third not.
    let mut fitted_started = 0;
    let stop = |e: Event| match e {
        Event::TileStart { cloud_fraction, .. } if cloud_fraction > 0.0 => {
            fitted_started += 1;
            ControlFlow::Continue(())
        }
        Event::Step { info, .. } if fitted_started == 3 && info.step == 3 => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    };
    let s = tiles::run(gpu(), &job(&work), stop).unwrap();
    assert!(s.stopped && !s.complete);
    assert_eq!(s.fitted, 2);
    let out = work.join("partial.tif");
    let e = tiles::merge(&work, &out, &[]).unwrap_err().to_string();
    assert!(e.contains("missing") && e.contains("tile_"), "{e}");
    assert!(!out.exists());
    let s2 = go(&work);
    assert!(s2.complete && s2.already_done == s.fitted + s.copied + s.nodata.len());
    tiles::merge(&work, &out, &[]).unwrap();
    let img = io::read_raster(&out, None, None).unwrap().image;
    assert!(
        same_bits(&img.data, &r.image.data),
        "resumed output differs"
    );
}

#[test]
fn changed_settings_are_refused_by_name() {
    let r = reference();
    let mut j = job(&r.work);
    j.steps = STEPS + 1;
    let e = tiles::run(gpu(), &j, |_| ControlFlow::Continue(()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("`steps` was 8, now 9"), "{e}");
    let mut j = job(&r.work);
    j.tiles.overlap = 8;
    let e = tiles::run(gpu(), &j, |_| ControlFlow::Continue(()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("`overlap`"), "{e}");
    let mut j = job(&r.work);
    j.dip.net = NetConfig::with_levels(2);
    let e = tiles::run(gpu(), &j, |_| ControlFlow::Continue(()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("`network`"), "{e}");
    // The same settings: nothing left to do.
    let s = go(&r.work);
    assert_eq!((s.fitted, s.copied, s.already_done), (0, 0, 9));
}

/// `batch` 4: the six cloudy tiles are fitted four, then two, at a time, and every tile file
/// equals the one-at-a-time run's bit for bit; a run stopped during a batch writes none of it.
#[test]
fn batched_tiles_equal_the_one_at_a_time_run() {
    let r = reference();
    let work = scene().dir.path().join("batch_work");
    let mut j = job(&work);
    j.batch = 4;
    // Stop during the first batch: none of its tiles are written.
    let stop = |e: Event| match e {
        Event::Step { info, .. } if info.step == 2 => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    };
    let s = tiles::run(gpu(), &j, stop).unwrap();
    assert!(s.stopped && s.fitted == 0, "{s:?}");
    let mut batches = Vec::new();
    let s = tiles::run(gpu(), &j, |e| {
        if let Event::BatchStart { tiles } = e {
            batches.push(tiles.len());
        }
        ControlFlow::Continue(())
    })
    .unwrap();
    assert!(s.complete && !s.stopped);
    assert_eq!(batches, [4, 2]);
    let counts = (s.fitted, s.already_done, s.nodata.len());
    assert_eq!(
        counts,
        (6, 2, 1),
        "the copied tiles were done before: {s:?}"
    );
    let g = Grid::new(W, H, 64, 16).unwrap();
    for t in g.tiles() {
        let (a, b) = (
            tiles::workdir::tile_path(&work, &t),
            tiles::workdir::tile_path(&r.work, &t),
        );
        assert_eq!(a.exists(), b.exists(), "tile {t:?}");
        if !a.exists() {
            continue;
        }
        let (a, b) = (
            io::read_raster(&a, None, None).unwrap().image,
            io::read_raster(&b, None, None).unwrap().image,
        );
        assert!(same_bits(&a.data, &b.data), "tile {t:?}");
    }
}

/// A resume refits what an earlier run left broken: a tile file cut short (a full disk, a
/// kill mid-write of a non-atomic copy) and one of another shape are named, removed and fitted
/// again, and the merge equals the uninterrupted run bit for bit.
#[test]
fn broken_tiles_are_fitted_again_on_resume() {
    let r = reference();
    let work = scene().dir.path().join("broken_work");
    std::fs::create_dir_all(&work).unwrap();
    for e in std::fs::read_dir(&r.work).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, work.join(p.file_name().unwrap())).unwrap();
    }
    let mut tiles_npy: Vec<PathBuf> = std::fs::read_dir(&work)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "npy"))
        .collect();
    tiles_npy.sort();
    let (cut, wrong) = (&tiles_npy[0], &tiles_npy[1]);
    let len = std::fs::metadata(cut).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(cut)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let small = Image::new(2, 2, 3, vec![0.5; 12]).unwrap();
    std::fs::remove_file(wrong).unwrap();
    io::write_npy(wrong, &small).unwrap();
    let mut named = Vec::new();
    let s = tiles::run(gpu(), &job(&work), |e| {
        if let Event::Refit { tile, problem } = e {
            named.push((tile, problem.to_string()));
        }
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(s.refit.len(), 2, "{:?}", s.refit);
    assert_eq!(named.len(), 2);
    let problems: Vec<&str> = s.refit.iter().map(|(_, p)| p.as_str()).collect();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("bytes, a whole tile is")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("expected a float32")),
        "{problems:?}"
    );
    assert!(
        s.complete && s.already_done == 7 && s.fitted + s.copied == 2,
        "{s:?}"
    );
    let out = work.join("merged.tif");
    tiles::merge(&work, &out, &[]).unwrap();
    let img = io::read_raster(&out, None, None).unwrap().image;
    assert!(
        same_bits(&img.data, &r.image.data),
        "refitted output differs"
    );
}
