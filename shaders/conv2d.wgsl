// conv2d.wgsl — written by its kernel family's change.
