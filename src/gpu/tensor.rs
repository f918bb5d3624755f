//! GPU tensors: a shape and a range of a storage buffer. Channel-major `[C, H, W]` f32.
//!
//! Every tensor's binding is padded to a multiple of 4 floats so kernels can read `vec4`s; the
//! padding is never part of a result. Views into one flat [`Arena`] start on
//! [`ARENA_ALIGN`]-byte boundaries (the strictest storage offset alignment adapters ask for).
use super::Gpu;
use crate::error::{Error, Result};
use std::sync::Arc;

/// Byte alignment of tensors inside an arena.
pub const ARENA_ALIGN: u64 = 256;

/// A `[C, H, W]` shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    pub c: usize,
    pub h: usize,
    pub w: usize,
}

impl Shape {
    pub const fn new(c: usize, h: usize, w: usize) -> Shape {
        Shape { c, h, w }
    }
    /// A flat vector of `n` values.
    pub const fn flat(n: usize) -> Shape {
        Shape { c: 1, h: 1, w: n }
    }
    pub const fn numel(&self) -> usize {
        self.c * self.h * self.w
    }
    pub const fn hw(&self) -> usize {
        self.h * self.w
    }
    /// Number of floats the binding covers: numel rounded up to a multiple of 4.
    pub const fn padded(&self) -> usize {
        self.numel().div_ceil(4) * 4
    }
}

/// A tensor on the GPU: `shape` and a byte offset into a shared buffer.
#[derive(Clone, Debug)]
pub struct Tensor {
    pub shape: Shape,
    buf: Arc<wgpu::Buffer>,
    offset: u64,
}

fn storage_usage() -> wgpu::BufferUsages {
    wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC
}

impl Tensor {
    /// A new zero-filled tensor in its own buffer.
    pub fn zeros(gpu: &Gpu, shape: Shape) -> Result<Tensor> {
        let bytes = (shape.padded().max(4) * 4) as u64;
        if bytes > gpu.limits.max_buffer_size {
            return Err(Error::TooLarge {
                what: format!("a {shape:?} tensor (one buffer)"),
                bytes,
                limit: gpu.limits.max_buffer_size,
                hint: "",
            });
        }
        let buf = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: bytes,
            usage: storage_usage(),
            mapped_at_creation: false,
        });
        Ok(Tensor {
            shape,
            buf: Arc::new(buf),
            offset: 0,
        })
    }

    /// A new tensor holding `data` (`shape.numel()` values).
    pub fn from_slice(gpu: &Gpu, shape: Shape, data: &[f32]) -> Result<Tensor> {
        let t = Tensor::zeros(gpu, shape)?;
        t.write(gpu, data)?;
        Ok(t)
    }

    /// Size of the binding in bytes (padded).
    pub fn bytes(&self) -> u64 {
        (self.shape.padded().max(4) * 4) as u64
    }

    pub fn numel(&self) -> usize {
        self.shape.numel()
    }

    /// The same memory seen with another shape of the same element count.
    pub fn reshape(&self, shape: Shape) -> Result<Tensor> {
        if shape.numel() != self.shape.numel() {
            return Err(Error::shape("reshape", self.shape, shape));
        }
        Ok(Tensor {
            shape,
            ..self.clone()
        })
    }

    pub(crate) fn binding(&self) -> wgpu::BindingResource<'_> {
        wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: &self.buf,
            offset: self.offset,
            size: wgpu::BufferSize::new(self.bytes()),
        })
    }

    /// The underlying buffer and byte offset (for copies).
    pub fn raw(&self) -> (&wgpu::Buffer, u64) {
        (&self.buf, self.offset)
    }

    /// Queues an upload of `data` (exactly `numel` values).
    pub fn write(&self, gpu: &Gpu, data: &[f32]) -> Result<()> {
        if data.len() != self.numel() {
            return Err(Error::shape("tensor upload", self.numel(), data.len()));
        }
        if !data.is_empty() {
            gpu.queue
                .write_buffer(&self.buf, self.offset, bytemuck::cast_slice(data));
        }
        Ok(())
    }

    /// Copies the tensor back to the CPU (waits for all queued work).
    pub fn read(&self, gpu: &Gpu) -> Result<Vec<f32>> {
        let n = self.numel();
        let bytes = (n.div_ceil(4) * 16).max(16) as u64;
        let staging = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = gpu.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(&self.buf, self.offset, &staging, 0, bytes);
        gpu.queue.submit([enc.finish()]);
        let slice = staging.slice(..);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        gpu.wait()?;
        rx.recv()
            .expect("map_async calls back before the wait returns")
            .map_err(|e| Error::device(gpu, e))?;
        let view = slice
            .get_mapped_range()
            .map_err(|e| Error::device(gpu, e))?;
        let out = bytemuck::cast_slice::<u8, f32>(&view)[..n].to_vec();
        drop(view);
        staging.unmap();
        Ok(out)
    }
}

/// One flat buffer holding many tensors (parameters, gradients, Adam moments, activations).
#[derive(Clone, Debug)]
pub struct Arena {
    buf: Arc<wgpu::Buffer>,
    floats: usize,
}

impl Arena {
    /// Byte offsets for tensors of the given shapes, each aligned to [`ARENA_ALIGN`], and the
    /// total number of floats.
    pub fn layout(shapes: &[Shape]) -> (Vec<u64>, usize) {
        let mut offsets = Vec::with_capacity(shapes.len());
        let mut at = 0u64;
        for s in shapes {
            offsets.push(at);
            at += (s.padded() as u64 * 4).div_ceil(ARENA_ALIGN) * ARENA_ALIGN;
        }
        (offsets, (at / 4) as usize)
    }

    /// A zeroed arena of `floats` floats.
    pub fn new(gpu: &Gpu, floats: usize) -> Result<Arena> {
        let t = Tensor::zeros(gpu, Shape::flat(floats))?;
        Ok(Arena {
            buf: t.buf,
            floats: floats.div_ceil(4) * 4,
        })
    }

    /// The whole arena as one flat tensor (for one-dispatch fills and Adam).
    pub fn all(&self) -> Tensor {
        Tensor {
            shape: Shape::flat(self.floats),
            buf: self.buf.clone(),
            offset: 0,
        }
    }

    /// A tensor view at `offset` bytes (from [`Arena::layout`]).
    pub fn view(&self, offset: u64, shape: Shape) -> Result<Tensor> {
        if offset % ARENA_ALIGN != 0 || offset / 4 + shape.padded() as u64 > self.floats as u64 {
            return Err(Error::invalid(
                "arena view",
                format!(
                    "{shape:?} at byte {offset} in an arena of {} floats",
                    self.floats
                ),
            ));
        }
        Ok(Tensor {
            shape,
            buf: self.buf.clone(),
            offset,
        })
    }
}
