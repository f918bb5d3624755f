//! The one integration-test binary (each tests/*.rs binary would re-link wgpu and gdal).
mod adam;
mod batchnorm;
mod common;
mod concat;
mod dip;
mod elementwise;
mod golden_layers;
mod golden_misc;
mod golden_small;
mod io;
mod loss;
mod metrics;
mod net;
mod noise;
mod resample;
mod shaders;
mod tiles;
