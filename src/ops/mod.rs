//! The ops: one file per kernel family, each with its Params mirror, GPU functions that build
//! [`Dispatch`](crate::gpu::Dispatch)es (they never submit or read back), and a `reference`
//! module of slow, obvious CPU code that is the specification the tests hold the GPU to.
pub mod adam;
pub mod batchnorm;
pub mod concat;
pub mod conv2d;
pub mod elementwise;
pub mod loss;
pub mod noise;
pub mod polyphase;
pub mod resample;

use crate::gpu::KernelSig;

/// Every kernel signature of every family (the naga reflection test walks them).
pub fn all_sigs() -> Vec<KernelSig> {
    [
        elementwise::SIGS,
        conv2d::SIGS,
        batchnorm::SIGS,
        resample::SIGS,
        concat::SIGS,
        loss::SIGS,
        adam::SIGS,
        noise::SIGS,
        polyphase::SIGS,
        conv2d::SG_SIGS,
        conv2d::TILED_SIGS,
    ]
    .concat()
}
