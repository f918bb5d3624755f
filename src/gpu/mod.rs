//! The GPU context: adapter choice, device with the adapter's real limits, error surfacing.
//!
//! Adapter choice: every adapter of the Vulkan, Metal and DX12 backends (GL only when none of them
//! has one) is scored — discrete GPU > integrated > virtual > other > CPU — and the best is taken,
//! so a machine without a GPU falls back to a CPU driver such as Mesa's lavapipe.
//! Two environment variables override the choice:
//! - `CLOUDFILL_BACKEND=vulkan|metal|dx12|gl` restricts the backends searched;
//! - `CLOUDFILL_ADAPTER=<substring>` picks the first adapter whose name contains it (case-insensitive).
//!
//! The device gets `Features::SUBGROUP` where the adapter has it (kernels with subgroup fast paths
//! use it, see [`Gpu::subgroup_size`]); `CLOUDFILL_NO_SUBGROUPS=1` leaves it off, so every kernel
//! takes its portable path.
//!
//! Kernel parameters (each shader's `Params` struct) are uniform buffers, except on Mesa's
//! lavapipe (a Vulkan CPU adapter), where they are bound as read-only storage buffers: lavapipe
//! 22.x inlines uniform values into the shader and, for some kernels, compiles a new variant in
//! every command buffer — 3× slower dispatches and memory that grows with every step (BENCHMARKS.md,
//! "Kernel parameters on lavapipe"). The WGSL is the same; the module is loaded with its
//! `var<uniform>` declarations read as `var<storage, read>`. `CLOUDFILL_PARAMS=uniform|storage`
//! forces either.
//!
//! Shader modules are created without wgpu's run-time checks where the driver bounds buffer
//! accesses itself (Vulkan) and with its bounds checks elsewhere ([`ShaderChecks`];
//! `CLOUDFILL_SHADER_CHECKS=all|bounds|none`).
mod checks;
mod kernel;
mod shader;
mod tensor;

pub use checks::ShaderChecks;
pub use kernel::{groups_1d, Dispatch, Kernel, KernelSig};
#[doc(hidden)]
pub use shader::expand_units;
pub use shader::Shader;
pub use tensor::{Arena, Shape, Tensor, ARENA_ALIGN};

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What the adapter is, in words a user can check.
#[derive(Clone, Debug)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub driver_info: String,
}

impl std::fmt::Display for AdapterSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}, {}, driver {} {})",
            self.name, self.backend, self.device_type, self.driver, self.driver_info
        )
    }
}

impl From<&wgpu::AdapterInfo> for AdapterSummary {
    fn from(i: &wgpu::AdapterInfo) -> Self {
        AdapterSummary {
            name: i.name.clone(),
            backend: format!("{:?}", i.backend),
            device_type: format!("{:?}", i.device_type),
            driver: i.driver.clone(),
            driver_info: i.driver_info.clone(),
        }
    }
}

/// A GPU device ready for cloudfill's kernels. Create one per process and share it.
pub struct Gpu {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    pub(crate) info: wgpu::AdapterInfo,
    pub(crate) limits: wgpu::Limits,
    pub(crate) features: wgpu::Features,
    /// How kernel parameters are bound (see the module docs).
    pub(crate) params_binding: ParamsBinding,
    /// The run-time checks shader modules get ([`ShaderChecks`], `CLOUDFILL_SHADER_CHECKS`).
    pub(crate) shader_checks: ShaderChecks,
    pub(crate) kernels: Mutex<HashMap<kernel::KernelKey, Arc<Kernel>>>,
    /// Parsed shader modules, one per family (pipelines of one family share it).
    pub(crate) modules: Mutex<HashMap<Shader, wgpu::ShaderModule>>,
    errors: Arc<Mutex<Vec<String>>>,
}

/// How each kernel's `Params` struct is bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamsBinding {
    /// A uniform buffer (`var<uniform>`, as the shaders declare it).
    Uniform,
    /// A read-only storage buffer (`var<storage, read>`): the choice on lavapipe.
    Storage,
}

impl ParamsBinding {
    /// `CLOUDFILL_PARAMS=uniform|storage`, else storage on Vulkan CPU adapters (lavapipe) and
    /// uniform everywhere else.
    fn for_adapter(info: &wgpu::AdapterInfo) -> Result<ParamsBinding> {
        match std::env::var("CLOUDFILL_PARAMS").map(|v| v.to_ascii_lowercase()) {
            Ok(v) if v == "uniform" => Ok(ParamsBinding::Uniform),
            Ok(v) if v == "storage" => Ok(ParamsBinding::Storage),
            Ok(v) => Err(Error::invalid(
                "CLOUDFILL_PARAMS",
                format!("{v:?} is not one of uniform, storage"),
            )),
            Err(_) => {
                let cpu = info.device_type == wgpu::DeviceType::Cpu;
                Ok(if cpu && info.backend == wgpu::Backend::Vulkan {
                    ParamsBinding::Storage
                } else {
                    ParamsBinding::Uniform
                })
            }
        }
    }
}

fn backends_from_env() -> Result<wgpu::Backends> {
    match std::env::var("CLOUDFILL_BACKEND") {
        Err(_) => Ok(wgpu::Backends::VULKAN | wgpu::Backends::METAL | wgpu::Backends::DX12),
        Ok(v) => match v.to_ascii_lowercase().as_str() {
            "vulkan" => Ok(wgpu::Backends::VULKAN),
            "metal" => Ok(wgpu::Backends::METAL),
            "dx12" => Ok(wgpu::Backends::DX12),
            "gl" | "opengl" => Ok(wgpu::Backends::GL),
            other => Err(Error::invalid(
                "CLOUDFILL_BACKEND",
                format!("{other:?} is not one of vulkan, metal, dx12, gl"),
            )),
        },
    }
}

/// `CLOUDFILL_NO_SUBGROUPS=1` (or `true`): open devices without subgroup operations.
fn subgroups_disabled() -> bool {
    std::env::var("CLOUDFILL_NO_SUBGROUPS")
        .is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

fn score(info: &wgpu::AdapterInfo) -> i32 {
    let t = match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 40,
        wgpu::DeviceType::IntegratedGpu => 30,
        wgpu::DeviceType::VirtualGpu => 20,
        wgpu::DeviceType::Other => 10,
        wgpu::DeviceType::Cpu => 0,
    };
    let b = if info.backend == wgpu::Backend::Gl {
        0
    } else {
        5
    };
    t + b
}

/// Every adapter wgpu sees on the searched backends, best first, and the index of the one
/// [`Gpu::new`] would use.
pub fn list_adapters() -> Result<(Vec<AdapterSummary>, Option<usize>)> {
    let (adapters, pick) = candidates()?;
    let list = adapters.iter().map(|a| (&a.get_info()).into()).collect();
    Ok((list, pick))
}

fn candidates() -> Result<(Vec<wgpu::Adapter>, Option<usize>)> {
    let explicit = std::env::var("CLOUDFILL_BACKEND").is_ok();
    let mut backends = backends_from_env()?;
    let mut adapters = enumerate(backends);
    if adapters.is_empty() && !explicit {
        backends = wgpu::Backends::GL;
        adapters = enumerate(backends);
    }
    adapters.sort_by_key(|a| -score(&a.get_info()));
    let pick = match std::env::var("CLOUDFILL_ADAPTER") {
        Ok(want) => {
            let want = want.to_lowercase();
            adapters
                .iter()
                .position(|a| a.get_info().name.to_lowercase().contains(&want))
        }
        Err(_) => (!adapters.is_empty()).then_some(0),
    };
    Ok((adapters, pick))
}

fn enumerate(backends: wgpu::Backends) -> Vec<wgpu::Adapter> {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backends;
    let instance = wgpu::Instance::new(desc);
    pollster::block_on(instance.enumerate_adapters(backends))
}

impl Gpu {
    /// Opens the best adapter (see the module docs for the choice and its overrides).
    pub fn new() -> Result<Gpu> {
        let (mut adapters, pick) = candidates()?;
        let Some(i) = pick else {
            let filter = std::env::var("CLOUDFILL_ADAPTER").ok();
            return Err(Error::NoAdapter { filter });
        };
        Self::from_adapter(adapters.swap_remove(i))
    }

    /// Opens the best adapter with the given shader run-time checks instead of the default.
    pub fn with_shader_checks(checks: ShaderChecks) -> Result<Gpu> {
        let mut gpu = Self::new()?;
        gpu.shader_checks = checks;
        Ok(gpu)
    }

    /// Opens a device on the given adapter with the adapter's own limits.
    pub fn from_adapter(adapter: wgpu::Adapter) -> Result<Gpu> {
        let info = adapter.get_info();
        let limits = adapter.limits();
        let params_binding = ParamsBinding::for_adapter(&info)?;
        let shader_checks = ShaderChecks::from_env(info.backend)?;
        let mut wanted =
            wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS;
        if !subgroups_disabled() {
            wanted |= wgpu::Features::SUBGROUP;
        }
        let features = adapter.features() & wanted;
        let desc = wgpu::DeviceDescriptor {
            label: Some("cloudfill"),
            required_features: features,
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        };
        let (device, queue) =
            pollster::block_on(adapter.request_device(&desc)).map_err(|e| Error::Device {
                adapter: info.name.clone(),
                source: e.into(),
            })?;
        let errors = Arc::new(Mutex::new(Vec::new()));
        let sink = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            sink.lock().unwrap().push(e.to_string());
        }));
        Ok(Gpu {
            device,
            queue,
            info,
            limits,
            features,
            params_binding,
            shader_checks,
            kernels: Mutex::new(HashMap::new()),
            modules: Mutex::new(HashMap::new()),
            errors,
        })
    }

    /// The adapter in words: name, backend, device type, driver.
    pub fn summary(&self) -> AdapterSummary {
        (&self.info).into()
    }

    /// The device's features (subgroups, timestamp queries where the adapter has them).
    pub fn features(&self) -> wgpu::Features {
        self.features
    }

    /// The device's limits (the adapter's own).
    pub fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }

    /// How kernel parameters are bound on this device.
    pub fn params_binding(&self) -> ParamsBinding {
        self.params_binding
    }

    /// The run-time checks the kernels are compiled with.
    pub fn shader_checks(&self) -> ShaderChecks {
        self.shader_checks
    }

    /// True for CPU adapters (lavapipe, WARP, SwiftShader): kernels pick CPU-friendly blocking.
    pub fn is_cpu(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// The subgroup size when the device has `Features::SUBGROUP` and the adapter's subgroups
    /// all have one size (lavapipe: 8); None otherwise, or with `CLOUDFILL_NO_SUBGROUPS=1`.
    pub fn subgroup_size(&self) -> Option<u32> {
        let (lo, hi) = (self.info.subgroup_min_size, self.info.subgroup_max_size);
        (self.features.contains(wgpu::Features::SUBGROUP) && lo == hi && lo > 0).then_some(lo)
    }

    /// Returns the device errors raised since the last check, as one error.
    pub fn check(&self) -> Result<()> {
        let mut errs = self.errors.lock().unwrap();
        if errs.is_empty() {
            return Ok(());
        }
        let msg = errs.join("; ");
        errs.clear();
        Err(Error::device(self, msg))
    }

    /// Blocks until all submitted work is done, then surfaces device errors.
    pub fn wait(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::device(self, e))?;
        self.check()
    }

    /// Records the dispatches into one compute pass, submits once and waits.
    pub fn run<'a>(&self, dispatches: impl IntoIterator<Item = &'a Dispatch>) -> Result<()> {
        let mut enc = self.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            for d in dispatches {
                d.record(&mut pass);
            }
        }
        self.queue.submit([enc.finish()]);
        self.wait()
    }

    /// Largest storage buffer binding this device allows, in bytes.
    pub fn max_binding(&self) -> u64 {
        self.limits.max_storage_buffer_binding_size
    }
}
