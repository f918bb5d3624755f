//! The inputs of a run and how a window of them is loaded (target bands and Sentinel-2 scaling,
//! the mask rules, Sentinel-1 preprocessing, guides as they are, nodata masked out): a
//! single-image run loads the whole region ([`Inputs::load_region`]), a tiled run one tile at a
//! time, with the same code.
use super::identity::Fingerprint;
use crate::error::{Error, Result};
use crate::io::{self, Georef, Image, Mask, MaskOptions, Window};
use std::path::{Path, PathBuf};

/// Every input of a run, by path.
#[derive(Clone, Debug, PartialEq)]
pub struct Inputs {
    /// The image to inpaint.
    pub target: PathBuf,
    /// 1-based bands of the target (`None` = all).
    pub bands: Option<Vec<usize>>,
    /// Sentinel-2 scaling of the target (clip [0, 10000], ÷ 2000).
    pub s2: bool,
    pub mask: PathBuf,
    pub mask_options: MaskOptions,
    /// Sentinel-1 guides (bands 1, 2 → dB → [0, `s1_max`]).
    pub s1: Vec<PathBuf>,
    /// The upper end of the S1 scaling ([`io::S1_MAX_REFERENCE`], 2, is the reference's).
    pub s1_max: f32,
    /// Guides used as they are (all bands).
    pub guides: Vec<PathBuf>,
    /// The part of the rasters to process (`None` = all of the target).
    pub window: Option<Window>,
}

/// One window of the inputs, ready for [`crate::Dip`].
#[derive(Clone, Debug)]
pub struct Loaded {
    /// Target first, then Sentinel-1 guides, then the other guides.
    pub sources: Vec<Image>,
    /// One per source: the target's is the user's mask with nodata pixels removed.
    pub masks: Vec<Mask>,
    /// The mask as read (clouds only).
    pub user_mask: Mask,
    /// Remarks about masked-out nodata.
    pub notes: Vec<String>,
}

/// What a run needs to know of the inputs before reading any pixel.
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    pub width: usize,
    pub height: usize,
    /// Bands of the target as used.
    pub channels: usize,
    /// Georeferencing of the processed region (of the target, else of the first guide that has
    /// one, as in the single-image path).
    pub georef: Option<Georef>,
}

fn and_valid(m: &mut [bool], valid: Option<&[bool]>) -> usize {
    let mut n = 0;
    if let Some(v) = valid {
        for (c, &ok) in m.iter_mut().zip(v) {
            if *c && !ok {
                *c = false;
                n += 1;
            }
        }
    }
    n
}

/// `Err` naming `path`: its size (columns × rows) is not the target's.
fn size_differs(path: &Path, (w, h): (usize, usize), (tw, th): (usize, usize)) -> Error {
    let why = format!("size {w}×{h} differs from the target's {tw}×{th} (columns×rows)");
    io::file_err(path, why)
}

/// Puts the `clear` pixels of `original` back into `result` (both H×W×C, `clear` H×W): only
/// the cloud is replaced (`cloudfill inpaint --paste-clear`).
pub fn paste_clear(result: &mut Image, original: &Image, clear: &[bool]) {
    let c = result.c;
    for (p, _) in clear.iter().enumerate().filter(|(_, &k)| k) {
        result.data[p * c..(p + 1) * c].copy_from_slice(&original.data[p * c..(p + 1) * c]);
    }
}

impl Loaded {
    /// A warning when the network ends in a sigmoid (`sigmoid`, outputs in [0, 1]) but the
    /// target's clear values reach well outside [0, 1] (e.g. Sentinel-2 reflectances as stored,
    /// without `--s2`): the fit cannot reproduce them.
    pub fn range_warning(&self, sigmoid: bool) -> Option<String> {
        let (t, m) = (&self.sources[0], &self.masks[0]);
        let clear = (t.data.chunks_exact(t.c).zip(&m.clear)).filter(|(_, &c)| c);
        let values = clear.flat_map(|(px, _)| px.iter().copied());
        let (lo, hi) = values
            .filter(|v| v.is_finite())
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        (sigmoid && lo <= hi && (lo < -0.5 || hi > 1.5)).then(|| {
            format!(
                "the target's clear values span [{lo}, {hi}], but the network's output is a \
                 sigmoid in [0, 1]: scale the data to [0, 1] (--s2 does it for Sentinel-2 \
                 reflectances) or pass --no-sigmoid"
            )
        })
    }

    /// Nothing to fill: every pixel of the target is clear (no cloud, no nodata). The result is
    /// the target as loaded, as a tiled run copies such a tile through.
    pub fn nothing_to_fill(&self) -> bool {
        self.masks[0].clear.iter().all(|&c| c)
    }

    /// `Err` naming the mask when the target's clear fraction is below `min_clear`: the rule
    /// that makes a tile of a tiled run nodata, applied to one image before its fit.
    pub fn check_min_clear(&self, inputs: &Inputs, min_clear: f64) -> Result<()> {
        if !(0.0..=1.0).contains(&min_clear) {
            let why = format!("{min_clear} is not in [0, 1]");
            return Err(Error::invalid("min_clear", why));
        }
        let (n, total) = (self.masks[0].count_clear(), self.masks[0].clear.len());
        let fraction = n as f64 / total.max(1) as f64;
        if fraction >= min_clear {
            return Ok(());
        }
        let why = format!(
            "only {n} of the target's {total} pixels are clear ({:.2} %), less than --min-clear \
             {min_clear}: too little to fit (a tiled run makes such a tile nodata); lower \
             --min-clear to fit it anyway",
            100.0 * fraction
        );
        Err(io::file_err(&inputs.mask, why))
    }

    /// `Err` when no pixel of the target is left to fit: naming the target when the mask's clear
    /// pixels are all nodata in it, else the mask (all cloud).
    pub fn check_fittable(&self, inputs: &Inputs) -> Result<()> {
        if self.masks[0].count_clear() > 0 {
            return Ok(());
        }
        Err(match self.user_mask.count_clear() {
            0 => io::file_err(
                &inputs.mask,
                "every pixel is cloud or nodata: nothing to fit",
            ),
            _ => io::file_err(
                &inputs.target,
                "every pixel the mask calls clear is nodata or NaN in the target: nothing to fit",
            ),
        })
    }
}

impl Inputs {
    fn others(&self) -> impl Iterator<Item = &PathBuf> {
        std::iter::once(&self.mask)
            .chain(&self.s1)
            .chain(&self.guides)
    }

    /// The processed region's size, the target's band count and the georeferencing. Checks that
    /// every input covers the region (and has the target's size when there is no window).
    pub fn probe(&self) -> Result<Probe> {
        let (tw, th) = io::raster_size(&self.target)?;
        let region = self.window.unwrap_or(Window {
            xoff: 0,
            yoff: 0,
            xsize: tw,
            ysize: th,
        });
        region.check(&self.target, tw, th)?;
        for p in self.others() {
            let (w, h) = io::raster_size(p)?;
            match self.window {
                None if (w, h) != (tw, th) => return Err(size_differs(p, (w, h), (tw, th))),
                None => {}
                Some(_) => region.check(p, w, h)?,
            }
        }
        let pixel = Window {
            xsize: 1,
            ysize: 1,
            ..region
        };
        let first = io::read_raster(&self.target, self.bands.as_deref(), Some(pixel))?;
        let mut georef = first.georef;
        for p in self.s1.iter().chain(&self.guides) {
            if georef.is_some() {
                break;
            }
            georef = io::read_raster(p, Some(&[1]), Some(pixel))?.georef;
        }
        Ok(Probe {
            width: region.xsize,
            height: region.ysize,
            channels: first.image.c,
            georef,
        })
    }

    /// The window `win` of the processed region (coordinates relative to the region).
    pub fn load(&self, win: Window) -> Result<Loaded> {
        let win = Window {
            xoff: win.xoff + self.window.map_or(0, |r| r.xoff),
            yoff: win.yoff + self.window.map_or(0, |r| r.yoff),
            ..win
        };
        let (h, w) = (win.ysize, win.xsize);
        let target = self.read_like_target(&self.target, Some(win))?;
        let user_mask = io::read_mask(&self.mask, &self.mask_options, Some(win))?;
        let mut mask = user_mask.clone();
        let mut notes = Vec::new();
        let bad = and_valid(&mut mask.clear, target.valid.as_deref());
        if bad > 0 {
            notes.push(format!(
                "{bad} clear pixels of the target are nodata/NaN: masked out"
            ));
        }
        let mut sources = vec![target.image];
        let mut masks = vec![mask];
        for p in &self.s1 {
            let r = io::read_raster(p, Some(&[1, 2]), Some(win))?;
            let (img, valid) = io::s1_preprocess_to(&r.image, r.valid.as_deref(), self.s1_max)?;
            let mut m = Mask::clear(h, w);
            let n = and_valid(&mut m.clear, Some(&valid));
            if n > 0 {
                notes.push(format!(
                    "{}: {n} nodata/invalid pixels masked out",
                    p.display()
                ));
            }
            sources.push(img);
            masks.push(m);
        }
        for p in &self.guides {
            let r = io::read_raster(p, None, Some(win))?;
            let mut m = Mask::clear(h, w);
            let n = and_valid(&mut m.clear, r.valid.as_deref());
            if n > 0 {
                notes.push(format!("{}: {n} nodata/NaN pixels masked out", p.display()));
            }
            sources.push(r.image);
            masks.push(m);
        }
        Ok(Loaded {
            sources,
            masks,
            user_mask,
            notes,
        })
    }

    /// `path` read as the target is (its bands, Sentinel-2 scaling), window `win` (absolute).
    fn read_like_target(&self, path: &Path, win: Option<Window>) -> Result<io::Raster> {
        let mut r = io::read_raster(path, self.bands.as_deref(), win)?;
        if self.s2 {
            r.image = io::s2_preprocess(&r.image);
        }
        Ok(r)
    }

    /// The whole processed region as one window (what a single-image run fits), and the probe.
    pub fn load_region(&self) -> Result<(Loaded, Probe)> {
        let probe = self.probe()?;
        let all = Window {
            xoff: 0,
            yoff: 0,
            xsize: probe.width,
            ysize: probe.height,
        };
        Ok((self.load(all)?, probe))
    }

    /// A cloud-free truth for `target` (the region's target as loaded): read like the target
    /// (bands, scaling, window); `Err` naming `path` unless its size and bands are the target's.
    pub fn load_truth(&self, path: &Path, target: &Image) -> Result<Image> {
        let t = self.read_like_target(path, self.window)?.image;
        if (t.w, t.h) != (target.w, target.h) {
            return Err(size_differs(path, (t.w, t.h), (target.w, target.h)));
        }
        if t.c != target.c {
            let why = format!("{} bands, the target has {}", t.c, target.c);
            return Err(io::file_err(path, why));
        }
        Ok(t)
    }

    /// The preview's red, green and blue among the `c` bands of the target as used (0-based):
    /// B4, B3, B2 for a Sentinel-2 target when they were read, else the first three.
    pub fn preview_bands(&self, c: usize) -> [usize; 3] {
        let list = self.bands.clone().unwrap_or_else(|| (1..=c).collect());
        let pos = |b: usize| list.iter().position(|&x| x == b);
        match (self.s2, pos(4), pos(3), pos(2)) {
            (true, Some(r), Some(g), Some(b)) => [r, g, b],
            _ => [0, 1.min(c - 1), 2.min(c - 1)],
        }
    }

    /// The settings that define the result, for the work dir's manifest. The input files are
    /// not among them: the manifest identifies them by content ([`Inputs::fingerprints`]).
    pub(crate) fn settings(&self) -> Vec<(&'static str, serde_json::Value)> {
        use serde_json::json;
        let o = &self.mask_options;
        let mut v = vec![
            ("bands", json!(self.bands)),
            ("s2", json!(self.s2)),
            ("mask_invert", json!(o.invert)),
            ("cloud_values", json!(o.cloud_values)),
            ("cloud_threshold", json!(o.cloud_threshold)),
            ("dilate", json!(o.dilate)),
            (
                "window",
                json!(self.window.map(|r| [r.xoff, r.yoff, r.xsize, r.ysize])),
            ),
        ];
        // Recorded only when not the reference's, so earlier work dirs still match.
        if self.s1_max != io::S1_MAX_REFERENCE {
            v.push(("s1_max", json!(self.s1_max)));
        }
        v
    }

    /// Every input file with its role (`target`, `mask`, `s1[i]`, `guide[i]`), fingerprinted
    /// (size and a hash of the whole file: one read of each).
    pub fn fingerprints(&self) -> Result<Vec<Fingerprint>> {
        let mut list = vec![
            ("target".to_string(), &self.target),
            ("mask".to_string(), &self.mask),
        ];
        list.extend(
            self.s1
                .iter()
                .enumerate()
                .map(|(i, p)| (format!("s1[{i}]"), p)),
        );
        list.extend((self.guides.iter().enumerate()).map(|(i, p)| (format!("guide[{i}]"), p)));
        list.iter().map(|(r, p)| Fingerprint::of(r, p)).collect()
    }
}
