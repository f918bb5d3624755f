//! The one integration-test binary (each tests/*.rs binary would re-link wgpu and gdal).
mod common;
mod elementwise;
mod golden_small;
mod shaders;
mod batchnorm;
mod concat;
mod golden_layers;
mod resample;
