// batchnorm.wgsl — written by its kernel family's change.
