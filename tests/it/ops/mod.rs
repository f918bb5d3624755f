//! Each kernel family against its CPU reference on random inputs, every reference backward
//! against finite differences, the fast paths against the plain ones.
mod adam;
mod batchnorm;
mod concat;
mod conv2d;
mod conv2d_grouped;
mod conv2d_reference;
mod conv2d_tiled;
mod conv2d_workgroups;
mod elementwise;
mod loss;
mod noise;
mod polyphase;
mod resample;
mod shaders;
