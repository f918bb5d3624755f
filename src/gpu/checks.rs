//! Which of wgpu's run-time shader checks the kernels are compiled with.
//!
//! By default wgpu asks naga to add checks to every shader: a counter in every loop
//! (`force_loop_bounding`, so a driver may not assume a loop ends), guards on every integer
//! division and remainder (`int_div_checks`), and clamped indices into arrays, vectors and, where
//! the driver does not bound buffer accesses itself, buffers (`bounds_checks`). Our kernels need
//! none of them to be correct: every loop runs over a count from its `Params`, every divisor is a
//! size or a count that the host never sets to zero, and every index is bounded by the dispatch
//! shape and the `Params` (the kernel tests check each against its CPU reference). What the
//! bounds checks add is safety against a wrong index: without them a bad index stays inside its
//! buffer only where the driver itself bounds buffer accesses. Vulkan does (robustBufferAccess,
//! a feature every Vulkan device has and wgpu enables), and on GL wgpu's shaders carry no such
//! checks anyway; on Metal and DX12 wgpu's checks are the only ones, so they stay there.
//!
//! The cost of the checks is in loads: on lavapipe the portable conv kernels (what a real GPU
//! runs) take twice as long with them, while the subgroup kernels do not change (BENCHMARKS.md,
//! "Shader run-time checks").
//!
//! `CLOUDFILL_SHADER_CHECKS`:
//! - `all`: every check wgpu adds by default (`ShaderRuntimeChecks::checked()`);
//! - `bounds`: the bounds checks only, loops and divisions as written (the default on Metal,
//!   DX12 and any other backend);
//! - `none`: no check at all (`ShaderRuntimeChecks::unchecked()`; the default on Vulkan and GL).
//!
//! The kernel tests run with the default and, in `backends::`, again with `all`.
use crate::error::{Error, Result};

/// The run-time checks shader modules are created with (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShaderChecks {
    /// wgpu's defaults: loop bounding, division guards and bounds checks.
    All,
    /// Bounds checks only.
    Bounds,
    /// None.
    None,
}

impl ShaderChecks {
    /// `CLOUDFILL_SHADER_CHECKS=all|bounds|none`, else the backend's default (module docs).
    pub fn from_env(backend: wgpu::Backend) -> Result<ShaderChecks> {
        match std::env::var("CLOUDFILL_SHADER_CHECKS").map(|v| v.to_ascii_lowercase()) {
            Err(_) => Ok(Self::default_for(backend)),
            Ok(v) => match v.as_str() {
                "all" => Ok(ShaderChecks::All),
                "bounds" => Ok(ShaderChecks::Bounds),
                "none" => Ok(ShaderChecks::None),
                _ => Err(Error::invalid(
                    "CLOUDFILL_SHADER_CHECKS",
                    format!("{v:?} is not one of all, bounds, none"),
                )),
            },
        }
    }

    /// No checks where the driver bounds buffer accesses itself (Vulkan) or wgpu adds none
    /// (GL); the bounds checks elsewhere.
    pub fn default_for(backend: wgpu::Backend) -> ShaderChecks {
        match backend {
            wgpu::Backend::Vulkan | wgpu::Backend::Gl => ShaderChecks::None,
            _ => ShaderChecks::Bounds,
        }
    }

    /// wgpu's description of these checks.
    pub(crate) fn runtime_checks(self) -> wgpu::ShaderRuntimeChecks {
        let mut checks = wgpu::ShaderRuntimeChecks::checked();
        if self != ShaderChecks::All {
            checks.force_loop_bounding = false;
            checks.int_div_checks = false;
        }
        if self == ShaderChecks::None {
            checks.bounds_checks = false;
        }
        checks
    }

    /// Creates `desc`'s module with these checks.
    pub(crate) fn create_module(
        self,
        device: &wgpu::Device,
        desc: wgpu::ShaderModuleDescriptor<'_>,
    ) -> wgpu::ShaderModule {
        match self {
            ShaderChecks::All => device.create_shader_module(desc),
            // SAFETY: wgpu requires that shaders created without loop bounding have no infinite
            // loops and that, without division checks, no divisor is zero and no signed division
            // overflows; our kernels' loops run over counts from their Params and their divisors
            // are positive sizes (module docs). Without bounds checks (`None`: by default only
            // on Vulkan, whose robustBufferAccess bounds every buffer access, and GL, where wgpu
            // adds no checks), every index must be in range: the kernels are written so (each
            // dispatch's shape and Params bound its indices) and tested against their CPU
            // references with and without the checks.
            _ => unsafe { device.create_shader_module_trusted(desc, self.runtime_checks()) },
        }
    }
}
