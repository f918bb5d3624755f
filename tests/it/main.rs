//! The one integration-test binary (each tests/*.rs binary would re-link wgpu and gdal), by
//! folder: `ops/` each kernel family against its CPU reference (and finite differences),
//! `golden/` PyTorch's numbers (one fixture format, one loader; the 300-step trajectory),
//! `api/` the library (network, fit, batches, I/O, tiles, metrics, memory), `cli/` the binary.
mod api;
mod cli;
mod common;
mod golden;
mod ops;
