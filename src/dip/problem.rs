//! A [`Dip`]'s data as the network sees it: the sources stacked channel-major and
//! reflect-padded to a multiple of 2^levels (more for small images: [`crate::net::FitSize`]), the latent, and the way back to one image per
//! source.
use super::holdout::{self, CheckPixels};
use super::{Dip, Latent};
use crate::error::{Error, Result};
use crate::io::{Image, Mask};
use crate::net::FitSize;
use crate::plan::{Problem, SplitMix};

/// One problem's data at the padded size, channel-major.
pub(super) struct Prepared {
    pub latent: Vec<f32>,
    pub latent_channels: usize,
    pub target: Vec<f32>,
    /// The loss's mask: clear and not held out.
    pub mask: Vec<f32>,
    /// The held-out pixels of the first source, when a stopping rule asks for them.
    pub check_pixels: Option<CheckPixels>,
}

impl Dip<'_> {
    /// The plan's problem over prepared data, for the network of `seed`.
    pub(super) fn problem<'a>(&self, p: &'a Prepared, seed: u64) -> Problem<'a> {
        Problem {
            seed,
            latent: &p.latent,
            latent_channels: p.latent_channels,
            h: self.padded.0,
            w: self.padded.1,
            target: &p.target,
            mask: &p.mask,
            channels: self.channels(),
        }
    }

    /// The size the network runs the sources at (set by [`Dip::set_target`]): the next multiple
    /// of 2^levels, or larger for an image too small for the network
    /// ([`FitSize::note`] says what was done; the library prints nothing).
    pub fn fit_size(&self) -> FitSize {
        self.cfg.net.fit_size(self.size.0, self.size.1)
    }

    /// Checks the inputs, computes the padded size and stacks the data.
    pub(super) fn prepare(&mut self) -> Result<Prepared> {
        if self.targets.is_empty() {
            return Err(Error::invalid("sources", "call set_target before fit"));
        }
        if self.masks.is_empty() {
            let all = |t: &Image| Mask::clear(t.h, t.w);
            self.set_mask(self.targets.iter().map(all).collect())?;
        }
        let (h, w) = self.size;
        let (ph, pw) = self.cfg.net.fit_size(h, w).padded;
        self.padded = (ph, pw);
        let held = (self.cfg.stop.as_ref())
            .map(|r| holdout::select(&self.masks[0], r.holdout, self.cfg.seed));
        let (target, mask) = self.stack(ph, pw, held.as_ref());
        let (latent, latent_channels) = self.latent(ph, pw, &target);
        let check_pixels = (self.cfg.stop.as_ref().zip(held)).and_then(|(rule, m)| {
            let h = CheckPixels::new(&m, &self.masks[0], &self.targets[0], (ph, pw));
            (!h.is_empty(rule.signal)).then_some(h)
        });
        Ok(Prepared {
            latent,
            latent_channels,
            target,
            mask,
            check_pixels,
        })
    }

    /// Channel-major target and 0/1 mask at the padded size. Padding reflects the image; padded
    /// pixels are not clear (they never enter the loss), nor are the first source's `held`
    /// pixels. Values outside the loss are zeroed.
    fn stack(&self, ph: usize, pw: usize, held: Option<&Mask>) -> (Vec<f32>, Vec<f32>) {
        let (h, w) = self.size;
        let mut target = Vec::with_capacity(self.channels() * ph * pw);
        let mut mask = Vec::with_capacity(target.capacity());
        for (k, (t, m)) in self.targets.iter().zip(&self.masks).enumerate() {
            let held = held.filter(|_| k == 0);
            for ch in 0..t.c {
                for y in 0..ph {
                    for x in 0..pw {
                        let (sy, sx) = (reflect(y, h), reflect(x, w));
                        let p = sy * w + sx;
                        let inside = y < h && x < w;
                        let clear = inside && m.clear[p] && !held.is_some_and(|hm| hm.clear[p]);
                        let v = t.data[p * t.c + ch];
                        target.push(if clear { v } else { 0.0 });
                        mask.push(if clear { 1.0 } else { 0.0 });
                    }
                }
            }
        }
        (target, mask)
    }

    fn latent(&self, ph: usize, pw: usize, target: &[f32]) -> (Vec<f32>, usize) {
        match self.cfg.latent {
            Latent::Meshgrid => {
                let mut v = Vec::with_capacity(2 * ph * pw);
                for i in 0..ph {
                    v.extend((0..pw).map(|_| i as f32 / ph as f32));
                }
                for _ in 0..ph {
                    v.extend((0..pw).map(|j| j as f32 / pw as f32));
                }
                (v, 2)
            }
            Latent::Noise { scale, depth } => {
                let mut rng = SplitMix::new(self.cfg.seed ^ 0xA11CE);
                let n = depth.max(1) * ph * pw;
                ((0..n).map(|_| scale * rng.unit()).collect(), depth.max(1))
            }
            Latent::Target => (target.to_vec(), self.channels()),
        }
    }

    /// Every source's reconstruction (H×W×C_k each) from a channel-major output at the padded
    /// size.
    pub(super) fn unpack(&self, out: &[f32]) -> Result<Vec<Image>> {
        let (h, w) = self.size;
        let (ph, pw) = self.padded;
        let mut images = Vec::new();
        let mut ch0 = 0;
        for t in &self.targets {
            let mut data = vec![0.0; h * w * t.c];
            for ch in 0..t.c {
                let plane = &out[(ch0 + ch) * ph * pw..];
                for y in 0..h {
                    for x in 0..w {
                        data[(y * w + x) * t.c + ch] = plane[y * pw + x];
                    }
                }
            }
            ch0 += t.c;
            images.push(Image::new(h, w, t.c, data)?);
        }
        Ok(images)
    }
}

/// Mirror index into 0..n (PyTorch "reflect": −1 → 1, n → n−2), repeated for any distance.
fn reflect(i: usize, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    let period = 2 * (n - 1);
    let k = i % period;
    if k < n {
        k
    } else {
        period - k
    }
}
