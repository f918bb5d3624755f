//! The "skip" encoder–decoder of Deep Image Prior (SPEC §3), with every option of the reference.
//!
//! ```text
//! deeper_i(x) = conv(in_i→down_i, k_down, stride 2 | stride 1 + pool) → BN → act
//!               → conv(down_i→down_i, k_down) → BN → act → deeper_{i+1} (not at the last level)
//!               → upsample ×2
//! branch_i(x) = skip_i > 0 ? concat(conv(in_i→skip_i, k_skip) → BN → act, deeper_i(x)) : deeper_i(x)
//! level_i(x)  = branch_i(x) → BN → conv(→up_i, k_up) → BN → act [→ conv 1×1 → BN → act]
//! net(x)      = level_0(x) → conv 1×1 (→ C) → sigmoid?
//! ```
//! With [`NetConfig::polyphase`] (on by default), a level whose up-convolution follows a nearest
//! upsample directly (no skip channels, zero padding, k = 5 or 7) runs `bn_mid` at low resolution
//! and the conv in exact polyphase form ([`crate::ops::polyphase`]): the same function and the
//! same parameters, 2.8× fewer multiply-adds in those convs.
//!
//! Parameter names follow the PyTorch reference run (`down1.{i}`, `bn_d1.{i}`, `down2.{i}`,
//! `bn_d2.{i}`, `bn_mid.{i}`, `up5.{i}`, `bn_u5.{i}`, `up1.{i}`, `bn_u1.{i}`, `final`; skip
//! branches `skip.{i}`, `bn_skip.{i}`), so PyTorch weights load by name.
use crate::error::{Error, Result};
use crate::gpu::Shape;
use crate::ops::conv2d::{Conv2d, Padding};
use crate::ops::elementwise::Act;
use crate::ops::resample::{Pool, Upsample};
use crate::tape::{Tape, Var};

/// The size a network runs an image at: [`NetConfig::fit_size`].
///
/// The image is reflect-padded (bottom and right) to `multiple`, the next multiple of 2^levels;
/// padded pixels never enter the loss. Where that leaves the deepest level a single pixel
/// (`multiple` = 2^levels × 2^levels, i.e. both sides ≤ 2^levels), the network is not defined
/// (PyTorch's batch-norm refuses one pixel too), and the image is padded further to
/// 2^(levels+1) × 2^(levels+1), so that the deepest level is 2×2: the same network, the same
/// parameters, on a larger canvas. Every size that had a defined network keeps `multiple`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FitSize {
    /// The image, (H, W).
    pub size: (usize, usize),
    /// The next multiple of 2^levels, (H, W).
    pub multiple: (usize, usize),
    /// The size the network runs at, (H, W): `multiple`, or larger for small images.
    pub padded: (usize, usize),
    pub levels: usize,
}

impl FitSize {
    /// True when the image is padded beyond the next multiple of 2^levels (a small image).
    pub fn enlarged(&self) -> bool {
        self.padded != self.multiple
    }

    /// What was done for a small image, in words (None when nothing beyond the usual padding).
    pub fn note(&self) -> Option<String> {
        let ((h, w), (mh, mw), (ph, pw)) = (self.size, self.multiple, self.padded);
        let l = self.levels;
        self.enlarged().then(|| {
            format!(
                "{w}×{h} (W×H) is too small for the {l}-level network: at {mw}×{mh} its deepest \
                 level would be a single pixel; the image is reflect-padded to {pw}×{ph} (the \
                 padding is not fitted), so the deepest level is {}×{}; a network of fewer \
                 levels would be faster",
                pw >> l,
                ph >> l
            )
        })
    }
}

/// How the encoder halves the resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Downsample {
    /// The first conv of a level has stride 2 (the reference's default).
    #[default]
    Stride,
    /// Stride-1 conv followed by 2×2 average pooling.
    Avg,
    /// Stride-1 conv followed by 2×2 max pooling.
    Max,
}

/// Every option of the reference's `skip` network; `Default` is the reference's configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct NetConfig {
    pub down: Vec<usize>,
    pub up: Vec<usize>,
    pub skip: Vec<usize>,
    /// Encoder kernel size: one value for every level, or one per level.
    pub filter_down: Vec<usize>,
    /// Decoder kernel size: one value, or one per level.
    pub filter_up: Vec<usize>,
    pub filter_skip: usize,
    pub bias: bool,
    pub padding: Padding,
    pub upsample: Upsample,
    pub downsample: Downsample,
    pub act: Act,
    pub need_1x1_up: bool,
    pub sigmoid: bool,
    /// Compute "nearest upsample → BN → k×k conv" as BN at low resolution followed by the exact
    /// polyphase up-convolution ([`crate::ops::polyphase`]) wherever that is exact (nearest
    /// upsampling, zero padding, no skip channels at the level, k = 5 or 7). The same function, up to
    /// f32 rounding; `false` keeps the literal upsample → BN → conv.
    pub polyphase: bool,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            down: vec![16, 32, 64, 128, 128, 128],
            up: vec![16, 32, 64, 128, 128, 128],
            skip: vec![0; 6],
            filter_down: vec![3],
            filter_up: vec![5],
            filter_skip: 1,
            bias: true,
            padding: Padding::Zero,
            upsample: Upsample::Nearest,
            downsample: Downsample::Stride,
            act: Act::LeakyRelu,
            need_1x1_up: true,
            sigmoid: true,
            polyphase: true,
        }
    }
}

impl NetConfig {
    /// The reference network with `levels` levels (the first `levels` widths of the default).
    pub fn with_levels(levels: usize) -> NetConfig {
        let mut c = NetConfig::default();
        let l = levels.clamp(1, 6);
        c.down.truncate(l);
        c.up.truncate(l);
        c.skip.truncate(l);
        c
    }

    pub fn levels(&self) -> usize {
        self.down.len()
    }

    fn per_level(v: &[usize], i: usize) -> usize {
        if v.len() == 1 {
            v[0]
        } else {
            v[i]
        }
    }

    /// Checks the lists agree and the kernel sizes are odd.
    pub fn validate(&self) -> Result<()> {
        let l = self.levels();
        if l == 0 {
            return Err(Error::invalid("network", "at least one level is needed"));
        }
        if self.up.len() != l || self.skip.len() != l {
            return Err(Error::invalid(
                "network",
                format!(
                    "down, up and skip must have the same length (got {}, {}, {})",
                    l,
                    self.up.len(),
                    self.skip.len()
                ),
            ));
        }
        for (what, v) in [
            ("filter_down", &self.filter_down),
            ("filter_up", &self.filter_up),
        ] {
            if v.len() != 1 && v.len() != l {
                return Err(Error::invalid(what, "give one size or one per level"));
            }
        }
        let ks = self
            .filter_down
            .iter()
            .chain(&self.filter_up)
            .chain([&self.filter_skip]);
        for &k in ks {
            if k % 2 == 0 {
                return Err(Error::invalid(
                    "filter size",
                    format!("{k} is even; use 1, 3, 5, …"),
                ));
            }
        }
        if self.down.iter().chain(&self.up).any(|&c| c == 0) {
            return Err(Error::invalid("network", "down/up widths must be positive"));
        }
        Ok(())
    }

    /// Image sizes must be multiples of this (2^levels).
    pub fn size_multiple(&self) -> usize {
        1 << self.levels()
    }

    /// The size this network runs an `h`×`w` image at ([`FitSize`]): the image reflect-padded
    /// to a multiple of 2^levels, and further where that would leave the deepest level a single
    /// pixel (which batch-norm cannot normalise).
    pub fn fit_size(&self, h: usize, w: usize) -> FitSize {
        let m = self.size_multiple();
        let multiple = (h.max(1).div_ceil(m) * m, w.max(1).div_ceil(m) * m);
        let padded = if multiple.0 * multiple.1 / (m * m) >= 2 {
            multiple
        } else {
            (2 * m, 2 * m)
        };
        FitSize {
            size: (h, w),
            multiple,
            padded,
            levels: self.levels(),
        }
    }

    /// Builds the network on `tape` from input `x`, producing `out_ch` channels.
    pub fn build(&self, tape: &mut Tape, x: Var, out_ch: usize) -> Result<Var> {
        self.validate()?;
        let s = tape.shape(x);
        let m = self.size_multiple();
        if s.h % m != 0 || s.w % m != 0 {
            return Err(Error::invalid(
                "image size",
                format!("{}×{} is not a multiple of 2^levels = {m}", s.h, s.w),
            ));
        }
        let h = self.level(tape, 0, x)?;
        let conv = self.conv(self.up[0], out_ch, 1, 1);
        let y = tape.conv2d("final", h, conv, self.bias)?;
        Ok(if self.sigmoid {
            tape.act(Act::Sigmoid, y)
        } else {
            y
        })
    }

    fn conv(&self, cin: usize, cout: usize, k: usize, stride: usize) -> Conv2d {
        Conv2d {
            cin,
            cout,
            k,
            stride,
            padding: self.padding,
            groups: 1,
        }
    }

    /// conv → BN → act.
    fn conv_bn_act(&self, t: &mut Tape, names: (&str, &str), x: Var, conv: Conv2d) -> Result<Var> {
        let y = t.conv2d(names.0, x, conv, self.bias)?;
        let y = t.batchnorm(names.1, y)?;
        Ok(t.act(self.act, y))
    }

    /// Level `i` of the skip network on `x`: its encoder convs, the deeper levels, then its
    /// decoder (with the skip branch from `x`).
    fn level(&self, t: &mut Tape, i: usize, x: Var) -> Result<Var> {
        let mut h = self.encoder(t, i, x)?;
        if i + 1 < self.levels() {
            h = self.level(t, i + 1, h)?;
        }
        self.decoder(t, i, x, h)
    }

    /// Level `i`'s way down: conv (stride 2, or a pool after it), BN, act, conv-BN-act.
    fn encoder(&self, t: &mut Tape, i: usize, x: Var) -> Result<Var> {
        let cin = t.shape(x).c;
        let kd = Self::per_level(&self.filter_down, i);
        let d = self.down[i];
        // deeper branch
        let stride = if self.downsample == Downsample::Stride {
            2
        } else {
            1
        };
        let mut h = t.conv2d(
            &format!("down1.{i}"),
            x,
            self.conv(cin, d, kd, stride),
            self.bias,
        )?;
        h = match self.downsample {
            Downsample::Stride => h,
            Downsample::Avg => t.pool(Pool::Avg, h),
            Downsample::Max => t.pool(Pool::Max, h),
        };
        h = t.batchnorm(&format!("bn_d1.{i}"), h)?;
        h = t.act(self.act, h);
        let n2 = (format!("down2.{i}"), format!("bn_d2.{i}"));
        self.conv_bn_act(t, (&n2.0, &n2.1), h, self.conv(d, d, kd, 1))
    }

    /// Level `i`'s way up from the deeper result `h`: upsample, the skip branch from the
    /// level's input `x`, BN, conv-BN-act (or the polyphase up-convolution), the optional 1×1.
    fn decoder(&self, t: &mut Tape, i: usize, x: Var, mut h: Var) -> Result<Var> {
        let (cin, ku) = (t.shape(x).c, Self::per_level(&self.filter_up, i));
        let n5 = (format!("up5.{i}"), format!("bn_u5.{i}"));
        let up = self.conv(t.shape(h).c + self.skip[i], self.up[i], ku, 1);
        if self.polyphase_at(i, &up) {
            // BN commutes with nearest upsampling (every pixel repeats 4 times: the same mean and
            // biased variance), and the conv of the upsampled image is the polyphase conv.
            h = t.batchnorm(&format!("bn_mid.{i}"), h)?;
            h = t.up_conv(&n5.0, h, up, self.bias)?;
            h = t.batchnorm(&n5.1, h)?;
            h = t.act(self.act, h);
        } else {
            h = t.upsample(self.upsample, h);
            // skip branch
            if self.skip[i] > 0 {
                let ns = (format!("skip.{i}"), format!("bn_skip.{i}"));
                let conv = self.conv(cin, self.skip[i], self.filter_skip, 1);
                let s = self.conv_bn_act(t, (&ns.0, &ns.1), x, conv)?;
                h = t.concat(s, h);
            }
            h = t.batchnorm(&format!("bn_mid.{i}"), h)?;
            let c = t.shape(h).c;
            h = self.conv_bn_act(t, (&n5.0, &n5.1), h, self.conv(c, self.up[i], ku, 1))?;
        }
        if self.need_1x1_up {
            let n1 = (format!("up1.{i}"), format!("bn_u1.{i}"));
            h = self.conv_bn_act(
                t,
                (&n1.0, &n1.1),
                h,
                self.conv(self.up[i], self.up[i], 1, 1),
            )?;
        }
        Ok(h)
    }

    /// Whether level `i`'s up-convolution `up` takes the polyphase form.
    fn polyphase_at(&self, i: usize, up: &Conv2d) -> bool {
        self.polyphase
            && self.upsample == Upsample::Nearest
            && self.skip[i] == 0
            && crate::ops::polyphase::eligible(up)
    }

    /// Number of trainable numbers for `in_ch` → `out_ch` (as PyTorch counts them), without
    /// building anything on a GPU.
    pub fn param_count(&self, in_ch: usize, out_ch: usize) -> Result<usize> {
        let m = self.size_multiple() * 2;
        let mut tape = Tape::new();
        let x = tape.input(Shape::new(in_ch, m, m));
        self.build(&mut tape, x, out_ch)?;
        Ok(tape.param_count())
    }
}
