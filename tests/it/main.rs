//! The one integration-test binary (each tests/*.rs binary would re-link wgpu and gdal).
mod batchnorm;
mod common;
mod concat;
mod elementwise;
mod golden_layers;
mod golden_small;
mod resample;
mod shaders;
