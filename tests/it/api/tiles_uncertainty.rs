//! Whole scenes with `Job::uncertainty`: every tile keeps its ensemble's per-pixel standard
//! deviation beside its result, `merge_uncertainty` blends them like the results, a resume
//! refits a tile whose σ is missing, and a work dir without them is refused by name.
use crate::api::tiles::{job, same_bits, scene, H, W};
use crate::common::gpu;
use cloudfill::io::{self, Image};
use cloudfill::tiles::{self, workdir, Event, Grid};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::OnceLock;

/// The shared scene's job as an ensemble of 2, with or without uncertainty.
fn ensemble_job(work: &Path, uncertainty: bool) -> tiles::Job {
    let mut j = job(work);
    j.dip.ensemble = 2;
    j.uncertainty = uncertainty;
    j
}

fn run(j: &tiles::Job) -> tiles::Summary {
    tiles::run(gpu(), j, |_| ControlFlow::Continue(())).unwrap()
}

fn read(p: &Path) -> Image {
    io::read_raster(p, None, None).unwrap().image
}

/// The run with uncertainty, its work dir, merged result and merged σ.
struct Sigma {
    work: std::path::PathBuf,
    out: Image,
    sigma: io::Raster,
}

fn sigma_run() -> &'static Sigma {
    static S: OnceLock<Sigma> = OnceLock::new();
    S.get_or_init(|| {
        let work = scene().dir.path().join("sigma_work");
        let s = run(&ensemble_job(&work, true));
        assert!(s.complete && !s.stopped);
        assert_eq!((s.fitted, s.copied, s.nodata.len()), (6, 2, 1), "{s:?}");
        let (out, sig) = (work.join("out.tif"), work.join("sigma.tif"));
        tiles::merge(&work, &out, &[]).unwrap();
        tiles::merge_uncertainty(&work, &sig, &[]).unwrap();
        Sigma {
            out: read(&out),
            sigma: io::read_raster(&sig, None, None).unwrap(),
            work,
        }
    })
}

#[test]
fn tiles_keep_their_spread_and_merge_blends_it_like_the_results() {
    let r = sigma_run();
    let g = Grid::new(W, H, 64, 16).unwrap();
    // The results are those of the same run without uncertainty, bit for bit.
    let plain = scene().dir.path().join("sigma_plain_work");
    run(&ensemble_job(&plain, false));
    let plain_out = plain.join("out.tif");
    tiles::merge(&plain, &plain_out, &[]).unwrap();
    assert!(
        same_bits(&read(&plain_out).data, &r.out.data),
        "σ changes no result"
    );
    assert!(!workdir::sigma_path(&plain, &g.tile(3)).exists());
    // Each tile's σ: zeros where copied through, a spread ≥ 0 (and > 0 in the cloud) where fitted.
    let mut sigmas = Vec::new();
    for t in g.tiles() {
        let p = workdir::sigma_path(&r.work, &t);
        sigmas.push(p.exists().then(|| read(&p)));
    }
    assert!(sigmas[6].is_none(), "the nodata tile has no σ");
    for t in [0, 1] {
        assert!(sigmas[t].as_ref().unwrap().data.iter().all(|&v| v == 0.0));
    }
    for t in [2, 3, 4, 5, 7, 8] {
        let s = sigmas[t].as_ref().unwrap();
        assert_eq!((s.h, s.w, s.c), (64, 64, 3));
        assert!(
            s.data.iter().all(|v| v.is_finite() && *v >= 0.0),
            "tile {t}"
        );
        assert!(
            s.data.iter().any(|&v| v > 0.0),
            "tile {t}: two networks differ"
        );
    }
    // The merged σ: georeferenced like the result; NaN only where the nodata tile alone covers;
    // where one tile covers, that tile's σ; in overlaps between the tiles' σ.
    let sig = &r.sigma;
    assert_eq!((sig.image.h, sig.image.w, sig.image.c), (H, W, 3));
    let geo = sig.georef.as_ref().unwrap();
    assert_eq!(geo.geotransform, crate::api::io::utm_georef().geotransform);
    let mut interior = 0;
    for y in 0..H {
        for x in 0..W {
            let covering: Vec<_> = (g.tiles())
                .filter(|t| t.y0 <= y && y < t.y0 + t.h && t.x0 <= x && x < t.x0 + t.w)
                .filter(|t| sigmas[t.index].is_some())
                .collect();
            for ch in 0..3 {
                let v = sig.image.at(y, x, ch);
                let of = |t: &tiles::TileRect| {
                    (sigmas[t.index].as_ref().unwrap()).at(y - t.y0, x - t.x0, ch)
                };
                if covering.is_empty() {
                    assert!(v.is_nan(), "({y},{x}): nodata");
                } else if g.coverage(y, x) == 1 {
                    assert_eq!(v.to_bits(), of(&covering[0]).to_bits(), "({y},{x})");
                    interior += 1;
                } else {
                    let lo = covering.iter().map(of).fold(f32::INFINITY, f32::min);
                    let hi = covering.iter().map(of).fold(0.0, f32::max);
                    assert!(
                        v >= lo - 1e-6 && v <= hi + 1e-6,
                        "({y},{x}): {v} not in [{lo}, {hi}]"
                    );
                }
            }
        }
    }
    assert!(interior > 10_000, "{interior} interior values checked");
}

#[test]
fn a_tile_without_its_sigma_is_fitted_again_and_other_work_dirs_are_refused() {
    let r = sigma_run();
    // A copy of the finished work dir with one fitted tile's σ removed.
    let work = scene().dir.path().join("sigma_resume_work");
    std::fs::create_dir_all(&work).unwrap();
    for e in std::fs::read_dir(&r.work).unwrap() {
        let p = e.unwrap().path();
        if p.extension()
            .is_some_and(|x| x == "npy" || x == "json" || x == "nodata")
        {
            std::fs::copy(&p, work.join(p.file_name().unwrap())).unwrap();
        }
    }
    let g = Grid::new(W, H, 64, 16).unwrap();
    let tile = g.tile(4);
    let kept = read(&workdir::sigma_path(&r.work, &tile));
    std::fs::remove_file(workdir::sigma_path(&work, &tile)).unwrap();
    let mut refit = Vec::new();
    let s = tiles::run(gpu(), &ensemble_job(&work, true), |e| {
        if let Event::Refit { tile, problem } = e {
            refit.push((tile.index, problem.to_string()));
        }
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(refit.len(), 1, "{refit:?}");
    assert_eq!(refit[0].0, 4);
    assert!(refit[0].1.contains("sigma"), "{}", refit[0].1);
    assert_eq!((s.fitted, s.already_done), (1, 8));
    let again = read(&workdir::sigma_path(&work, &tile));
    assert!(
        same_bits(&again.data, &kept.data),
        "the refit gives the same σ"
    );
    // A work dir made without uncertainty: the run and the merge are refused by name.
    let plain = scene().dir.path().join("sigma_refused_work");
    run(&ensemble_job(&plain, false));
    let e = tiles::run(gpu(), &ensemble_job(&plain, true), |_| {
        ControlFlow::Continue(())
    });
    let e = e.unwrap_err().to_string();
    assert!(e.contains("`uncertainty` was (unset), now true"), "{e}");
    let out = plain.join("sigma.tif");
    let e = tiles::merge_uncertainty(&plain, &out, &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("without --uncertainty"), "{e}");
    assert!(!out.exists());
}
