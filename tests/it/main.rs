//! The one integration-test binary (each tests/*.rs binary would re-link wgpu and gdal).
mod adam;
mod common;
mod elementwise;
mod golden_misc;
mod golden_small;
mod loss;
mod metrics;
mod noise;
mod shaders;
