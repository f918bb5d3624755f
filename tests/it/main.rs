//! The one integration-test binary (each tests/*.rs binary would re-link wgpu and gdal).
mod adam;
mod common;
mod dip;
mod elementwise;
mod golden_misc;
mod golden_small;
mod loss;
mod metrics;
mod net;
mod noise;
mod io;
mod shaders;
