//! The one integration-test binary (each tests/*.rs binary would re-link wgpu and gdal), by
//! folder: `ops/` each kernel family against its CPU reference (and finite differences),
//! `golden/` PyTorch's numbers (one fixture format, one loader; the 300-step trajectory),
//! `api/` the library (network, fit, batches, I/O, tiles, metrics, memory), `cli/` the binary;
//! `backends` re-runs the GPU tests on wgpu's GL backend.
mod api;
mod backends;
mod cli;
mod common;
mod golden;
mod ops;
