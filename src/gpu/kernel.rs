//! Kernel registry and pipeline cache; dispatches that are built once and recorded many times.
//!
//! A kernel is named by a [`KernelSig`]: its shader family, entry point, and binding pattern
//! (read-only storage buffers first, then read-write storage buffers, then one uniform `Params`
//! last — the order every WGSL file follows). The bind group layout is built explicitly from it;
//! a naga test checks every signature against the shader it names.
use super::{Gpu, ParamsBinding, Shader, Tensor};
use crate::error::{Error, Result};
use std::borrow::Cow;
use std::sync::Arc;

/// An entry point and its binding pattern: `reads` read-only storage buffers at bindings
/// `0..reads`, `writes` read-write storage buffers after them, and, when `params > 0`, a uniform
/// of `params` bytes (the Rust mirror's size) last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KernelSig {
    pub shader: Shader,
    pub entry: &'static str,
    pub reads: u32,
    pub writes: u32,
    pub params: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct KernelKey {
    sig: KernelSig,
    overrides: Vec<(&'static str, u64)>,
}

/// A compiled compute pipeline with its explicit bind group layout.
pub struct Kernel {
    pub sig: KernelSig,
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
}

/// One dispatch with everything bound: built once, recorded every step.
pub struct Dispatch {
    kernel: Arc<Kernel>,
    bind: wgpu::BindGroup,
    groups: [u32; 3],
    params: Option<wgpu::Buffer>,
}

/// Workgroup counts for `n` workgroups, folded into 2-D past 65 535 per dimension. Shaders
/// recover the linear id as `wid.x + wid.y * nwg.x`.
pub fn groups_1d(n: u32) -> [u32; 3] {
    const MAX: u32 = 65_535;
    if n <= MAX {
        [n.max(1), 1, 1]
    } else {
        [MAX, n.div_ceil(MAX), 1]
    }
}

impl Gpu {
    /// The pipeline for `sig` with the given override constants, compiled once and cached.
    pub fn kernel(&self, sig: KernelSig, overrides: &[(&'static str, f64)]) -> Result<Arc<Kernel>> {
        let key = KernelKey {
            sig,
            overrides: overrides.iter().map(|(k, v)| (*k, v.to_bits())).collect(),
        };
        if let Some(k) = self.kernels.lock().unwrap().get(&key) {
            return Ok(k.clone());
        }
        let k = Arc::new(self.compile(sig, overrides)?);
        self.kernels.lock().unwrap().insert(key, k.clone());
        Ok(k)
    }

    /// A family's WGSL as this device loads it: `var<uniform>` read as `var<storage, read>`
    /// where parameters are storage buffers ([`ParamsBinding`]).
    fn shader_text(&self, shader: Shader) -> Cow<'static, str> {
        match self.params_binding {
            ParamsBinding::Uniform => Cow::Borrowed(shader.source()),
            ParamsBinding::Storage => Cow::Owned(
                shader
                    .source()
                    .replace("var<uniform>", "var<storage, read>"),
            ),
        }
    }

    fn compile(&self, sig: KernelSig, overrides: &[(&'static str, f64)]) -> Result<Kernel> {
        let fail = |message: String| Error::Shader {
            shader: sig.shader.file().into(),
            entry: sig.entry.into(),
            message,
        };
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let cached = self.modules.lock().unwrap().get(&sig.shader).cloned();
        let module = cached.unwrap_or_else(|| {
            let desc = wgpu::ShaderModuleDescriptor {
                label: Some(sig.shader.file()),
                source: wgpu::ShaderSource::Wgsl(self.shader_text(sig.shader)),
            };
            self.shader_checks.create_module(&self.device, desc)
        });
        let entries = self.layout_entries(sig);
        let layout = self
            .device
            .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some(sig.entry),
                entries: &entries,
            });
        let pl = self
            .device
            .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(sig.entry),
                bind_group_layouts: &[Some(&layout)],
                immediate_size: 0,
            });
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(sig.entry),
                layout: Some(&pl),
                module: &module,
                entry_point: Some(sig.entry),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants: overrides,
                    zero_initialize_workgroup_memory: false,
                },
                cache: None,
            });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(fail(e.to_string()));
        }
        // Parsed and validated once per family: the large generated families parse slowly.
        self.modules.lock().unwrap().insert(sig.shader, module);
        Ok(Kernel {
            sig,
            pipeline,
            layout,
        })
    }

    /// The bind group layout of `sig`: its read-only and read-write storage buffers, then the
    /// params (a uniform, or read-only storage: [`ParamsBinding`]).
    fn layout_entries(&self, sig: KernelSig) -> Vec<wgpu::BindGroupLayoutEntry> {
        let buffer = |ty, min_binding_size| wgpu::BindingType::Buffer {
            ty,
            has_dynamic_offset: false,
            min_binding_size,
        };
        let entry = |binding, ty| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty,
            count: None,
        };
        let mut entries: Vec<_> = (0..sig.reads + sig.writes)
            .map(|i| {
                let storage = wgpu::BufferBindingType::Storage {
                    read_only: i < sig.reads,
                };
                entry(i, buffer(storage, None))
            })
            .collect();
        if sig.params > 0 {
            let ty = match self.params_binding {
                ParamsBinding::Uniform => wgpu::BufferBindingType::Uniform,
                ParamsBinding::Storage => wgpu::BufferBindingType::Storage { read_only: true },
            };
            let size = wgpu::BufferSize::new(sig.params as u64);
            entries.push(entry(sig.reads + sig.writes, buffer(ty, size)));
        }
        entries
    }

    /// Binds tensors (and the params, uploaded once) to a kernel: a dispatch ready to record.
    pub fn dispatch<P: bytemuck::Pod>(
        &self,
        kernel: &Arc<Kernel>,
        reads: &[&Tensor],
        writes: &[&Tensor],
        params: Option<&P>,
        groups: [u32; 3],
    ) -> Result<Dispatch> {
        let sig = kernel.sig;
        self.check_bindings(sig, reads, writes)?;
        let params_buf = self.params_buffer(sig, params)?;
        let mut entries: Vec<wgpu::BindGroupEntry> = reads
            .iter()
            .chain(writes)
            .enumerate()
            .map(|(i, t)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: t.binding(),
            })
            .collect();
        if let Some(b) = &params_buf {
            entries.push(wgpu::BindGroupEntry {
                binding: sig.reads + sig.writes,
                resource: b.as_entire_binding(),
            });
        }
        let bind = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(sig.entry),
            layout: &kernel.layout,
            entries: &entries,
        });
        Ok(Dispatch {
            kernel: kernel.clone(),
            bind,
            groups,
            params: params_buf,
        })
    }
    /// The tensors bound to `sig` are as many as it binds, and each fits one binding.
    fn check_bindings(&self, sig: KernelSig, reads: &[&Tensor], writes: &[&Tensor]) -> Result<()> {
        if reads.len() != sig.reads as usize || writes.len() != sig.writes as usize {
            return Err(Error::invalid(
                format!("bindings of {}", sig.entry),
                format!(
                    "expected {} reads + {} writes, got {} + {}",
                    sig.reads,
                    sig.writes,
                    reads.len(),
                    writes.len()
                ),
            ));
        }
        for t in reads.iter().chain(writes) {
            if t.bytes() > self.max_binding() {
                return Err(Error::TooLarge {
                    what: format!("a {:?} tensor (in one binding)", t.shape),
                    bytes: t.bytes(),
                    limit: self.max_binding(),
                    hint: "",
                });
            }
        }
        Ok(())
    }

    /// The params of a dispatch of `sig` in a buffer of their own, uploaded once (none where
    /// the entry point takes none).
    fn params_buffer<P: bytemuck::Pod>(
        &self,
        sig: KernelSig,
        params: Option<&P>,
    ) -> Result<Option<wgpu::Buffer>> {
        match (sig.params, params) {
            (0, None) => Ok(None),
            (n, Some(p)) if n == std::mem::size_of::<P>() => {
                let buf = self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(sig.entry),
                    size: n as u64,
                    usage: match self.params_binding {
                        ParamsBinding::Uniform => wgpu::BufferUsages::UNIFORM,
                        ParamsBinding::Storage => wgpu::BufferUsages::STORAGE,
                    } | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                });
                self.queue.write_buffer(&buf, 0, bytemuck::bytes_of(p));
                Ok(Some(buf))
            }
            (n, _) => Err(Error::invalid(
                format!("params of {}", sig.entry),
                format!("expected {n} bytes, got {}", std::mem::size_of::<P>()),
            )),
        }
    }
}

impl Dispatch {
    /// Records this dispatch into a compute pass.
    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>) {
        pass.set_pipeline(&self.kernel.pipeline);
        pass.set_bind_group(0, &self.bind, &[]);
        let [x, y, z] = self.groups;
        pass.dispatch_workgroups(x, y, z);
    }

    /// Rewrites this dispatch's params (per-step values such as Adam's step): a queue write,
    /// no allocation of GPU objects.
    pub fn set_params<P: bytemuck::Pod>(&self, gpu: &Gpu, p: &P) {
        if let Some(b) = &self.params {
            gpu.queue.write_buffer(b, 0, bytemuck::bytes_of(p));
        }
    }

    /// Workgroups per dimension.
    pub fn groups(&self) -> [u32; 3] {
        self.groups
    }

    /// The kernel's entry point name (for profiles and dispatch counts).
    pub fn entry(&self) -> &'static str {
        self.kernel.sig.entry
    }

    /// The kernel's shader family.
    pub fn shader(&self) -> Shader {
        self.kernel.sig.shader
    }
}
