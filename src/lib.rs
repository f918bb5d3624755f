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
//! - [`gpu`]: the context (adapter choice, limits, error surfacing), the kernel registry and
//!   pipeline cache, tensors and flat arenas, dispatches built once and recorded many times.
//! - [`ops`]: one module per WGSL kernel family (`shaders/*.wgsl`), each with its CPU reference.
pub mod error;
pub mod gpu;
pub mod io;
pub mod metrics;
pub mod ops;
pub mod synthetic;

pub use error::{Error, Result};
pub use gpu::Gpu;
pub mod dip;
pub mod net;
pub mod plan;
pub mod tape;

pub use dip::{Dip, DipConfig, Latent, StepInfo};
pub use net::NetConfig;
pub mod preview;
pub mod tiles;
