//! How batch-norm's passes are cut up: the workgroup sizes and units per invocation
//! ([`Blocking`]), and for one shape the sizes and workgroup counts of the three passes.
use super::{Params, EPS};
use crate::error::{Error, Result};
use crate::gpu::{Gpu, Shape};

const MAX_GROUPS: u32 = 65_535;
/// Workgroup size of the reduce pass: invocations (channels) per workgroup, or the tree's width.
const WG_CASCADE: u32 = 64;
const WG_TREE: u32 = 256;

/// Workgroup sizes and units per invocation of the `*_part` and `*_apply` passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocking {
    /// Workgroup size of the partial-sum pass.
    pub wg_part: u32,
    /// Units (vec4 or f32) each partial-sum invocation adds, strided by `wg_part`.
    pub k: u32,
    /// Workgroup size of the elementwise pass.
    pub wg_apply: u32,
    /// Units each elementwise invocation handles, strided by `wg_apply`.
    pub ka: u32,
    /// Reduce pass: `false`: one invocation per channel adds its partials (pairwise cascade);
    /// `true`: one workgroup of 256 per channel, strided sums then a tree in workgroup memory.
    pub tree: bool,
}

impl Blocking {
    /// GPUs: wide workgroups, adjacent invocations read adjacent units (coalesced); the reduce
    /// pass is a workgroup tree per channel (a serial loop over thousands of partials would be
    /// latency-bound on a GPU).
    pub const GPU: Blocking = Blocking {
        wg_part: 64,
        k: 16,
        wg_apply: 256,
        ka: 4,
        tree: true,
    };
    /// CPU drivers (lavapipe runs a workgroup 8 invocations at a time, one after the other):
    /// 8-wide workgroups, so each invocation batch streams through contiguous memory; no
    /// workgroup memory or barriers (slow there).
    pub const CPU: Blocking = Blocking {
        wg_part: 8,
        k: 64,
        wg_apply: 8,
        ka: 16,
        tree: false,
    };
    /// The blocking used on `gpu`.
    pub fn for_gpu(gpu: &Gpu) -> Blocking {
        if gpu.is_cpu() {
            Blocking::CPU
        } else {
            Blocking::GPU
        }
    }
}

/// Sizes and workgroup counts of the three passes for one input shape.
pub(super) struct Plan {
    pub vec4: bool,
    pub b: Blocking,
    pub p: Params,
    pub part_groups: [u32; 3],
    pub reduce_groups: [u32; 3],
    pub apply_groups: [u32; 3],
}

pub(super) fn plan(s: Shape, b: Blocking) -> Result<Plan> {
    if s.hw() < 2 || s.c == 0 {
        return Err(Error::invalid(
            "batch-norm input",
            format!("{s:?}: statistics over fewer than 2 pixels are degenerate"),
        ));
    }
    let vec4 = s.hw() % 4 == 0;
    let units = (if vec4 { s.hw() / 4 } else { s.hw() }) as u32;
    let blocks = units.div_ceil(b.wg_part * b.k);
    let c = s.c as u32;
    let apply_blocks = units.div_ceil(b.wg_apply * b.ka);
    let workgroups = (s.c as u64).max(apply_blocks.max(blocks) as u64);
    if workgroups > MAX_GROUPS as u64 {
        return Err(Error::TooManyWorkgroups {
            what: format!("batch-norm of {s:?}"),
            workgroups,
            limit: MAX_GROUPS as u64,
        });
    }
    let p = Params {
        c,
        hw: s.hw() as u32,
        units,
        blocks,
        parts: blocks * b.wg_part,
        eps: EPS,
        _p: [0; 2],
    };
    Ok(Plan {
        vec4,
        b,
        p,
        part_groups: [blocks, c, 1],
        reduce_groups: [if b.tree { c } else { c.div_ceil(WG_CASCADE) }, 1, 1],
        apply_groups: [apply_blocks, c, 1],
    })
}

pub(super) fn reduce_overrides(b: Blocking) -> [(&'static str, f64); 2] {
    let wg = if b.tree { WG_TREE } else { WG_CASCADE };
    [("WG", wg as f64), ("TREE", b.tree as u8 as f64)]
}

pub(super) fn apply_overrides(b: Blocking) -> [(&'static str, f64); 2] {
    [("WG", b.wg_apply as f64), ("KA", b.ka as f64)]
}

pub(super) fn part_overrides(b: Blocking) -> [(&'static str, f64); 2] {
    [("WG", b.wg_part as f64), ("K", b.k as f64)]
}
