//! A training step with a GPU timestamp around every dispatch (`Plan::profile_step`).
use super::Plan;
use crate::error::{Error, Result};
use crate::gpu::Dispatch;
use crate::ops::adam;

/// Time of one dispatch of a step, from GPU timestamps.
#[derive(Clone, Debug)]
pub struct DispatchTime {
    pub shader: crate::gpu::Shader,
    pub entry: &'static str,
    /// Workgroups per dimension.
    pub groups: [u32; 3],
    pub seconds: f64,
}

impl Plan<'_> {
    /// Runs one training step with a GPU timestamp around every dispatch (one pass each) and
    /// returns their times; `None` where the adapter has no timestamp queries. For profiles
    /// only: the passes and timestamps add overhead of their own.
    pub fn profile_step(&mut self) -> Result<Option<Vec<DispatchTime>>> {
        if !self.gpu.features.contains(wgpu::Features::TIMESTAMP_QUERY) {
            return Ok(None);
        }
        self.step += 1;
        self.set_noise(self.cfg.noise_std);
        let t = self.step;
        self.adam
            .set_params(self.gpu, &adam::params(&self.cfg.adam, self.n_params, t));
        let ds: Vec<&Dispatch> = self.step_dispatches().collect();
        let n = ds.len() as u32;
        let dev = &self.gpu.device;
        let (qs, resolve, staging) = timestamp_buffers(dev, n);
        let bytes = staging.size();
        let mut enc = dev.create_command_encoder(&Default::default());
        self.compiled.record_zero_grads(&mut enc);
        for (i, d) in ds.iter().enumerate() {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: None,
                timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                    query_set: &qs,
                    beginning_of_pass_write_index: Some(2 * i as u32),
                    end_of_pass_write_index: Some(2 * i as u32 + 1),
                }),
            });
            d.record(&mut pass);
        }
        enc.resolve_query_set(&qs, 0..2 * n, &resolve, 0);
        enc.copy_buffer_to_buffer(&resolve, 0, &staging, 0, bytes);
        self.gpu.queue.submit([enc.finish()]);
        let slice = staging.slice(..);
        slice.map_async(wgpu::MapMode::Read, |_| {});
        self.gpu.wait()?;
        let view = slice
            .get_mapped_range()
            .map_err(|e| Error::device(self.gpu, e))?;
        let ticks: &[u64] = bytemuck::cast_slice(&view);
        let period = self.gpu.queue.get_timestamp_period() as f64 * 1e-9;
        let times = ds
            .iter()
            .enumerate()
            .map(|(i, d)| DispatchTime {
                shader: d.shader(),
                entry: d.entry(),
                groups: d.groups(),
                seconds: ticks[2 * i + 1].saturating_sub(ticks[2 * i]) as f64 * period,
            })
            .collect();
        drop(view);
        staging.unmap();
        Ok(Some(times))
    }
}

/// A query set of 2·n timestamps, the buffer they resolve into and its mappable copy.
fn timestamp_buffers(dev: &wgpu::Device, n: u32) -> (wgpu::QuerySet, wgpu::Buffer, wgpu::Buffer) {
    let qs = dev.create_query_set(&wgpu::QuerySetDescriptor {
        label: Some("profile"),
        ty: wgpu::QueryType::Timestamp,
        count: 2 * n,
    });
    let bytes = 16 * n as u64;
    let buffer = |label, usage| {
        dev.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: bytes,
            usage,
            mapped_at_creation: false,
        })
    };
    let resolve = buffer(
        "profile resolve",
        wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
    );
    let staging = buffer(
        "profile staging",
        wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
    );
    (qs, resolve, staging)
}
