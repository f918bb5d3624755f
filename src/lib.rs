//! # cloudfill
//!
//! Cloud removal for satellite images with Deep Image Prior (Czerkawski et al., Remote Sensing
//! 2022), on any GPU through wgpu, with hand-written WGSL kernels for every forward and backward
//! pass — no ML framework.
//!
//! The method in ten lines: a randomly initialised encoder–decoder ("skip" network) maps a fixed
//! latent (a 2-channel meshgrid) plus fresh noise to an image with the channels of every source
//! (the cloudy Sentinel-2 image first, then guides such as Sentinel-1 or a cloud-free mean). It is
//! fitted from scratch with Adam to the *clear* pixels only (one masked MSE over all sources);
//! the network's structure is the prior that fills the cloudy pixels, read off at the end.
//!
//! ## Example: the reference's flow (S2 + a cloud-free mean + S1, masks, 4000 steps)
//! ```no_run
//! use cloudfill::io::{self, Image, Mask, MaskOptions};
//! use cloudfill::{Dip, DipConfig, Gpu};
//! use std::ops::ControlFlow;
//! use std::path::Path;
//!
//! # fn main() -> cloudfill::Result<()> {
//! let data = Path::new("../shared/data");
//! let s2: Image = io::read_raster(&data.join("2019_mean.npy"), None, None)?.image;
//! let mean = s2.clone();
//! let s1_raw = io::read_raster(&data.join("s1.tif"), Some(&[1, 2]), None)?;
//! let (s1, _valid) = io::s1_preprocess(&s1_raw.image, s1_raw.valid.as_deref())?;
//! let mask: Mask = io::read_mask(&data.join("mask.npy"), &MaskOptions::default(), None)?;
//! let (h, w) = (s2.h, s2.w);
//!
//! let gpu = Gpu::new()?;                                   // best adapter, CPU fallback
//! let mut dip = Dip::new(&gpu, DipConfig::default())?;     // lr 2e-2, noise σ 0.1, meshgrid
//! dip.set_target(vec![s2, mean, s1])?;                      // the first is inpainted
//! dip.set_mask(vec![mask, Mask::clear(h, w), Mask::clear(h, w)])?; // true = clear
//! dip.fit(4000, |s| {
//!     if let Some(loss) = s.loss { eprintln!("step {} loss {loss:.5}", s.step); }
//!     ControlFlow::Continue(())
//! })?;
//! let out: Vec<Image> = dip.output()?;                      // one per source, in order
//! io::write_npy(Path::new("inpainted.npy"), &out[0])?;
//! # Ok(()) }
//! ```
//!
//! ## Architecture
//! The user-facing API is [`Dip`] / [`fit_batch`], [`DipConfig`] and [`NetConfig`] (with
//! [`Padding`], [`Act`], [`Upsample`], [`Downsample`]), [`Image`] and [`Mask`], [`Gpu`], and the
//! modules [`io`] and [`tiles`]. Errors are [`Error`] values with fields (`TooLarge { what,
//! bytes, limit, .. }`, `Io { path, action, source }`, `Device { adapter, source }`, …).
//!
//! - [`gpu`]: the context (adapter choice — `CLOUDFILL_BACKEND`, `CLOUDFILL_ADAPTER`,
//!   `CLOUDFILL_NO_SUBGROUPS` — limits, error surfacing; kernel parameters as uniforms, or as
//!   read-only storage on lavapipe, `CLOUDFILL_PARAMS`; wgpu's shader run-time checks off where
//!   the driver bounds buffer accesses, `CLOUDFILL_SHADER_CHECKS`), the kernel registry and pipeline cache
//!   (each WGSL family parsed once; shared preludes prepended), tensors and flat arenas,
//!   dispatches built once and recorded many times.
//! - `ops` (engine, `#[doc(hidden)]`): **an op is found by its name** — its Rust module
//!   `src/ops/<op>.rs` or `src/ops/<op>/` (the API, its `Params` mirror and kernel table, the
//!   forward and backward dispatches, and a `reference` of plain CPU code the tests hold the GPU
//!   to) and its kernels `shaders/<op>.wgsl`; its tests are `tests/it/ops/<op>.rs`.
//!   - `conv2d/`: `mod.rs` (API, `Params`), `kernels.rs` (every entry point, and the subgroup
//!     variants as one table of family × (k, s)), `dispatch/` (the three kernel sets chosen per
//!     shape and adapter: subgroup-broadcast register blocks, portable vec4 register blocks
//!     (on GPUs the forward ones tiled in workgroup memory, `conv2d_tiled.wgsl`),
//!     scalar kernels for odd sizes — forward, grad-input, grad-weight, grad-bias; small
//!     dispatches get smaller workgroups so that they have at least 8),
//!     `reference.rs`; `sg_gen/` generates `shaders/conv2d_sg.wgsl` from the variant table
//!     (`cargo xtask gen-shaders`; a test checks the file is fresh). `conv2d_common.wgsl` is the
//!     three conv files' shared prelude. Tests: `tests/it/ops/conv2d.rs`,
//!     `conv2d_tiled.rs` and `conv2d_workgroups.rs`.
//!   - `batchnorm/`: `mod.rs` (forward, backward and the batch-norm + activation fusion),
//!     `blocking.rs` (pass sizes), `reference.rs`; each per-unit pass of `batchnorm.wgsl` is one
//!     body, instantiated for vec4 and scalar units by the loader.
//!   - `polyphase/`: the exact low-resolution form of "nearest ×2 upsample, then a 5×5
//!     zero-padded conv" — its own up-convolution `forward` and `backward` over the conv2d
//!     kernels, and `reference.rs`.
//!   - `resample.rs`, `loss.rs`, `concat.rs`, `elementwise.rs` (activations; `activation.wgsl`
//!     is their prelude, shared with batch-norm), `noise.rs`, `adam.rs`: one file each.
//! - `tape` (engine): records `tape::Op`s while [`net`] builds the skip network.
//!   `tape/rules.rs` holds every op's forward rule and backward rule side by side (which
//!   compiled buffers an op's dispatches read and write; the arithmetic is the op's);
//!   `tape/compile.rs` allocates every activation, gradient and parameter once (parameters and
//!   their gradients in two flat arenas), fuses each batch-norm with the activation after it,
//!   and emits the forward and reverse-mode backward dispatch lists. Backward kernels
//!   accumulate, so fan-out sums gradients. `CompileOptions::batch` lays out G copies side by
//!   side (activations `[G·C, H, W]`, every parameter G times) and runs them in the same
//!   dispatches: convolutions become grouped convolutions, concatenations grouped ones, and the
//!   per-channel ops need nothing.
//! - `plan` (engine): one training step — latent noise, forward, masked loss, backward, Adam —
//!   as one command encoder, one compute pass and one submit, replayed without allocation; the
//!   loss is read back only when asked; a timestamp profile per dispatch. `Plan::new_batch`
//!   trains G problems of one size side by side, each with its own loss mean (per-element loss
//!   weights m/N_k), latent, noise key (its seed) and Adam moments.
//! - [`dip`]: the reference's API ([`Dip::set_target`], [`Dip::set_mask`], [`Dip::fit`],
//!   [`Dip::output`]), named parameters, input checks; `dip/problem.rs` stacks and
//!   reflect-pads the sources, makes the latent and unpacks the output; [`fit_batch`] for
//!   several problems of one size at once. Beyond the reference: an ensemble
//!   ([`DipConfig::ensemble`]: K seeds as one batch; mean = [`Dip::output`], spread =
//!   [`Dip::uncertainty`], `dip/ensemble.rs`), held-out patches and what a check scores
//!   (`dip/holdout.rs`) and the stopping rule on the members' mean, spread or drift ([`StopRule`],
//!   [`StopSignal`], [`Monitor`], `dip/stopping.rs`), checked
//!   in the training loop `dip/fit.rs` (one forward and one readback per check, none between),
//!   and checkpoints (`dip/checkpoint.rs`).
//! - [`io`]: GDAL rasters (GeoTIFF in and out with georeferencing, windows, nodata), `.npy`,
//!   PNG masks and previews, Sentinel-1/2 preprocessing, masks, output checks, composites of a
//!   stack of dates (the guide `cloudfill composite` builds, by bands of rows); every write goes
//!   to a temporary file renamed when complete.
//! - [`tiles`]: whole scenes — overlapping tiles blended with smooth weights, a resumable work
//!   directory, shards, batches of tiles fitted together, and the merge; [`tiles::Inputs`] loads
//!   a tile or a whole raster with the same code.
//! - [`metrics`], [`preview`], [`synthetic`], [`splitmix`]: PSNR/SSIM in and outside the cloud,
//!   the side-by-side PNG, the built-in synthetic scene of `cloudfill demo`, the seeded
//!   generator.
//! - [`report`]: what a finished run reports, single image or tiled — truth scores beside the
//!   mean-fill baseline, and the metrics document.
//!
//! The `cloudfill` binary (`src/bin/cloudfill/`) is a thin layer over this library.
pub mod dip;
pub mod error;
pub mod gpu;
pub mod io;
pub mod metrics;
pub mod net;
pub mod preview;
pub mod report;
pub mod splitmix;
pub mod synthetic;
pub mod tiles;

// The engine: public for the integration tests and benches, not part of the API.
#[doc(hidden)]
pub mod ops;
#[doc(hidden)]
pub mod plan;
#[doc(hidden)]
pub mod tape;

pub use dip::{
    fit_batch, BatchItem, BatchResult, Dip, DipConfig, Latent, Monitor, NamedParam, StepInfo,
    StopRule, StopSignal,
};
pub use error::{Error, Result};
pub use gpu::Gpu;
pub use io::{Image, Mask};
pub use net::{Downsample, FitSize, NetConfig};
pub use ops::conv2d::Padding;
pub use ops::elementwise::Act;
pub use ops::resample::Upsample;
