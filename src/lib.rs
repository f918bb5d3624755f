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
//! ## Architecture
//! - [`gpu`]: the context (adapter choice, limits, error surfacing), the kernel registry and
//!   pipeline cache, tensors and flat arenas, dispatches built once and recorded many times.
//! - [`ops`]: one module per WGSL kernel family (`shaders/*.wgsl`), each with its CPU reference.
pub mod error;
pub mod gpu;
pub mod io;
pub mod ops;

pub use error::{Error, Result};
pub use gpu::Gpu;
