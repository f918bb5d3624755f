//! The one integration-test binary (each tests/*.rs binary would re-link wgpu and gdal).
mod common;
mod conv2d;
mod elementwise;
mod golden_conv;
mod golden_small;
mod shaders;
