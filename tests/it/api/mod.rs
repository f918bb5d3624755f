//! The library as a caller uses it: the network and its tape, `Dip`, batches, I/O, tiles,
//! metrics and reports, and a fit's memory.
mod batch;
mod checkpoint;
mod composite;
mod conv_paths;
mod dip;
mod ensemble;
pub(crate) mod io;
mod memory;
mod metrics;
mod net;
mod report;
mod shader_checks;
mod small;
mod stop_signal;
pub(crate) mod tiles;
mod tiles_identity;
mod tiles_uncertainty;
