//! A whole synthetic scene through the tiled pipeline: a georeferenced N×N scene (default 2048)
//! with several clouds, cut into 256-pixel tiles (CLOUDFILL_SCENE_TILE) with 32 pixels of overlap, each cloudy tile
//! fitted with the reference network, blended and merged into one GeoTIFF. Reports the time per
//! tile, the peak memory of the process, and the seam check: the error against the truth next to
//! tile borders vs inside tiles.
//!
//! `cargo bench --bench scene` (plain harness). CLOUDFILL_SCENE_SIZE (2048), CLOUDFILL_SCENE_STEPS
//! (Adam steps per tile, 10: enough to time the pipeline, far from a converged fit),
//! CLOUDFILL_SCENE_LEVELS (6), CLOUDFILL_SCENE_BATCH (cloudy tiles fitted side by side, 1),
//! CLOUDFILL_SCENE_TILE (tile side, 256; the overlap is an eighth of it),
//! CLOUDFILL_SCENE_KEEP=DIR keeps the files in DIR.
use cloudfill::io::{self, Georef, Image, MaskOptions};
use cloudfill::tiles::{self, Event, Inputs, Job, Outcome, TileOptions};
use cloudfill::{synthetic, DipConfig, Gpu, NetConfig};
use std::ops::ControlFlow;
use std::time::Instant;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Peak resident memory of this process (VmHWM), in MiB.
fn peak_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Cloud discs (centre y, centre x, radius) as fractions of the scene side.
const CLOUDS: [(f64, f64, f64); 6] = [
    (0.18, 0.22, 0.045),
    (0.30, 0.70, 0.060),
    (0.55, 0.40, 0.035),
    (0.62, 0.85, 0.050),
    (0.82, 0.15, 0.055),
    (0.88, 0.60, 0.040),
];

fn main() {
    let n = env("CLOUDFILL_SCENE_SIZE", 2048);
    let steps = env("CLOUDFILL_SCENE_STEPS", 10);
    let levels = env("CLOUDFILL_SCENE_LEVELS", 6);
    let batch = env("CLOUDFILL_SCENE_BATCH", 1);
    let tile = env("CLOUDFILL_SCENE_TILE", 256);
    let gpu = Gpu::new().expect("a GPU adapter");
    println!("adapter: {}", gpu.summary());
    let keep = std::env::var("CLOUDFILL_SCENE_KEEP").ok();
    let tmp = tempfile::tempdir().unwrap();
    let dir = keep.map_or(tmp.path().to_path_buf(), std::path::PathBuf::from);
    std::fs::create_dir_all(&dir).unwrap();

    let t0 = Instant::now();
    let s = synthetic::scene(n, n, 5);
    let nf = n as f64;
    let clear: Vec<bool> = (0..n * n)
        .map(|p| {
            let (y, x) = ((p / n) as f64 + 0.5, (p % n) as f64 + 0.5);
            !CLOUDS.iter().any(|&(cy, cx, r)| {
                (y - cy * nf).powi(2) + (x - cx * nf).powi(2) <= (r * nf).powi(2)
            })
        })
        .collect();
    let mut cloudy = s.truth.clone();
    for (p, _) in clear.iter().enumerate().filter(|(_, &c)| !c) {
        cloudy[p * 3..p * 3 + 3].copy_from_slice(&[0.9, 0.88, 0.92]);
    }
    let wkt = gdal::spatial_ref::SpatialRef::from_epsg(32630)
        .unwrap()
        .to_wkt()
        .unwrap();
    let g = Georef {
        geotransform: [500_000.0, 10.0, 0.0, 4_600_000.0, 0.0, -10.0],
        projection: wkt,
    };
    let write = |name: &str, c: usize, data: Vec<f32>| {
        let p = dir.join(name);
        let img = Image::new(n, n, c, data).unwrap();
        io::write_geotiff(&p, &img, Some(&g), &[], None).unwrap();
        p
    };
    let target = write("target.tif", 3, cloudy);
    let mask = write(
        "mask.tif",
        1,
        clear.iter().map(|&c| f32::from(u8::from(c))).collect(),
    );
    let guide = write("guide.tif", 2, s.sar.clone());
    let cloud_frac = clear.iter().filter(|&&c| !c).count() as f64 / (n * n) as f64;
    println!(
        "scene {n}x{n}: 3-band target + 2-band guide, {:.1} % cloud, written in {:.1} s",
        100.0 * cloud_frac,
        t0.elapsed().as_secs_f64()
    );

    let work = dir.join("work");
    let job = Job {
        inputs: Inputs {
            target,
            bands: None,
            s2: false,
            mask,
            mask_options: MaskOptions::default(),
            s1: vec![],
            s1_max: cloudfill::io::S1_MAX_REFERENCE,
            guides: vec![guide],
            window: None,
        },
        dip: DipConfig {
            net: NetConfig::with_levels(levels),
            loss_every: steps.max(1),
            ..DipConfig::default()
        },
        steps,
        tiles: TileOptions {
            tile,
            overlap: tile / 8,
            ..TileOptions::default()
        },
        paste_clear: false,
        work_dir: work.clone(),
        shard: None,
        batch,
        uncertainty: false,
    };
    let mut fitted_s = Vec::new();
    let mut copied_s = Vec::new();
    let t0 = Instant::now();
    let sum = tiles::run(&gpu, &job, |e| {
        if let Event::TileDone {
            outcome, seconds, ..
        } = e
        {
            match outcome {
                Outcome::Fitted { .. } => fitted_s.push(seconds),
                _ => copied_s.push(seconds),
            }
        }
        ControlFlow::Continue(())
    })
    .unwrap();
    let run_s = t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    let out = dir.join("scene.tif");
    tiles::merge(&work, &out, &[]).unwrap();
    let merge_s = t0.elapsed().as_secs_f64();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    println!(
        "tiles: {} in the grid ({} px, overlap {}), {} fitted ({steps} steps, {levels} levels, batch {batch}), {} copied, {} nodata",
        sum.grid.len(),
        job.tiles.tile,
        job.tiles.overlap,
        sum.fitted,
        sum.copied,
        sum.nodata.len()
    );
    println!(
        "time: run {run_s:.1} s, merge {merge_s:.1} s; per fitted tile {:.2} s ({:.3} s/step; {:.0} fitted tiles/hour), per copied tile {:.3} s",
        mean(&fitted_s),
        mean(&fitted_s) / steps.max(1) as f64,
        3600.0 / mean(&fitted_s).max(1e-9),
        mean(&copied_s)
    );
    if let Some(p) = peak_mib() {
        println!("peak memory (VmHWM): {p:.0} MiB");
    }

    // Seam check: mean absolute error against the truth in cloud pixels, next to a tile edge
    // inside the scene (within 2 px) vs everywhere else.
    let res = io::read_raster(&out, None, None).unwrap();
    assert_eq!(
        res.georef.as_ref().map(|r| r.geotransform),
        Some(g.geotransform)
    );
    let img = res.image;
    let mut edge = vec![false; n * n];
    for t in sum.grid.tiles() {
        let (x1, y1) = (t.x0 + t.w, t.y0 + t.h);
        for y in t.y0..y1 {
            for x in t.x0..x1 {
                let near = (t.x0 > 0 && x < t.x0 + 2)
                    || (x1 < n && x + 2 >= x1)
                    || (t.y0 > 0 && y < t.y0 + 2)
                    || (y1 < n && y + 2 >= y1);
                edge[y * n + x] |= near;
            }
        }
    }
    let (mut e_sum, mut e_n, mut i_sum, mut i_n) = (0f64, 0usize, 0f64, 0usize);
    for p in (0..n * n).filter(|&p| !clear[p]) {
        let err: f64 = (0..3)
            .map(|k| (img.data[p * 3 + k] - s.truth[p * 3 + k]).abs() as f64)
            .sum::<f64>()
            / 3.0;
        if edge[p] {
            (e_sum, e_n) = (e_sum + err, e_n + 1);
        } else {
            (i_sum, i_n) = (i_sum + err, i_n + 1);
        }
    }
    println!(
        "seam check (cloud pixels, |result − truth|): within 2 px of a tile edge {:.4} ({e_n} px), elsewhere {:.4} ({i_n} px)",
        e_sum / e_n.max(1) as f64,
        i_sum / i_n.max(1) as f64
    );
}
