//! The kernel table of conv2d: every entry point of `conv2d.wgsl`, and the subgroup variants of
//! `conv2d_sg.wgsl` as one table of family × (kernel size, stride).
use super::Params;
use crate::gpu::{KernelSig, Shader};

const P: usize = std::mem::size_of::<Params>();
/// `w` rearranged into the blocked layout `wt` of the fast kernels (`WeightLayout` in `dispatch/`).
pub const REARRANGE_WEIGHTS: KernelSig = sig("conv_rearrange_weights", 1, 1);
/// The portable register-blocked conv (vec4 rows): the forward pass, and dx of stride 1.
pub const FORWARD: KernelSig = sig("conv_forward", 3, 1);
/// The portable register-blocked dx gather of stride 2.
pub const BWD_INPUT_S2: KernelSig = sig("conv_backward_input_s2", 2, 1);
/// The portable register-blocked dw, as partial sums over chunks of output rows.
pub const BWD_WEIGHT: KernelSig = sig("conv_backward_weight", 2, 1);
/// db as partial sums over chunks of each output plane.
pub const BWD_BIAS: KernelSig = sig("conv_backward_bias", 1, 1);
/// The sum of the dw and db partial sums, accumulated onto the gradient.
pub const SUM_PARTIALS: KernelSig = sig("conv_sum_partials", 1, 1);
/// One output per invocation, any shape.
pub const FORWARD_SCALAR: KernelSig = sig("conv_forward_scalar", 3, 1);
/// One dx element per invocation, any shape (also the reflection border of the fast dx).
pub const BWD_INPUT_SCALAR: KernelSig = sig("conv_backward_input_scalar", 2, 1);
/// One weight's partial sums per invocation, any shape.
pub const BWD_WEIGHT_SCALAR: KernelSig = sig("conv_backward_weight_scalar", 2, 1);
/// The scalar dw with one (co, ci) pair and all its taps per invocation (K ≤ [`PAIR_MAX_K`]).
pub const BWD_WEIGHT_PAIRS: KernelSig = sig("conv_backward_weight_pairs", 2, 1);
/// The largest kernel size `conv_backward_weight_pairs` holds (`PAIR_TAPS` = 7·7 in the WGSL).
pub const PAIR_MAX_K: usize = 7;
/// [`FORWARD`] with the input and weight tiles in workgroup memory (`conv2d_tiled.wgsl`): what
/// GPUs run for the forward pass and dx of stride 1 ([`Blocks::tiled`](super::Blocks::tiled)).
pub const FORWARD_TILED: KernelSig = KernelSig {
    shader: Shader::Conv2dTiled,
    entry: "conv_forward_tiled",
    reads: 3,
    writes: 1,
    params: P,
};
/// Every entry point of `conv2d_tiled.wgsl`.
pub const TILED_SIGS: &[KernelSig] = &[FORWARD_TILED];
/// Every entry point of `conv2d.wgsl`.
pub const SIGS: &[KernelSig] = &[
    REARRANGE_WEIGHTS,
    FORWARD,
    BWD_INPUT_S2,
    BWD_WEIGHT,
    BWD_BIAS,
    SUM_PARTIALS,
    FORWARD_SCALAR,
    BWD_INPUT_SCALAR,
    BWD_WEIGHT_SCALAR,
    BWD_WEIGHT_PAIRS,
];

/// The kernel families of `conv2d_sg.wgsl`: subgroup variants of portable kernels, one entry
/// point `conv_<family>_sg_k<k>_s<s>` per kernel size k and stride s ([`SG_VARIANTS`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SgFamily {
    /// [`FORWARD`] with the weights shared by `subgroupBroadcast`: 8 x × 4 rows × 8 channels
    /// per invocation. Also dx of stride 1.
    Forward,
    /// [`BWD_INPUT_S2`] laid out like `Forward` (stride 2 only).
    BackwardInput,
    /// [`BWD_WEIGHT`] with gy shared the same way: one input channel × 8 output channels per
    /// invocation.
    BackwardWeight,
}

impl SgFamily {
    /// Read-only bindings of the family's entry points.
    const fn reads(self) -> u32 {
        match self {
            SgFamily::Forward | SgFamily::BackwardInput => 3,
            SgFamily::BackwardWeight => 2,
        }
    }
}

/// One entry point of `conv2d_sg.wgsl`: its family, kernel size, stride and signature.
#[derive(Clone, Copy, Debug)]
pub struct SgVariant {
    pub family: SgFamily,
    pub k: usize,
    pub s: usize,
    pub sig: KernelSig,
}

/// The `SgVariant` of a family and (k, s), its entry point `conv_<family>_sg_k<k>_s<s>`.
macro_rules! sg {
    (Forward, $k:literal, $s:literal) => {
        sg!(@ Forward, "forward", $k, $s)
    };
    (BackwardInput, $k:literal, $s:literal) => {
        sg!(@ BackwardInput, "backward_input", $k, $s)
    };
    (BackwardWeight, $k:literal, $s:literal) => {
        sg!(@ BackwardWeight, "backward_weight", $k, $s)
    };
    (@ $family:ident, $name:literal, $k:literal, $s:literal) => {
        SgVariant {
            family: SgFamily::$family,
            k: $k,
            s: $s,
            sig: KernelSig {
                shader: Shader::Conv2dSg,
                entry: concat!("conv_", $name, "_sg_k", $k, "_s", $s),
                reads: SgFamily::$family.reads(),
                writes: 1,
                params: P,
            },
        }
    };
}

/// The subgroup kernels, in the order of `conv2d_sg.wgsl`: the one table its generator
/// ([`sg_gen`](super::sg_gen)) writes entry points from and the dispatches look kernels up in
/// by (family, k, s).
pub const SG_VARIANTS: [SgVariant; 15] = [
    sg!(Forward, 1, 1),
    sg!(Forward, 3, 1),
    sg!(Forward, 5, 1),
    sg!(Forward, 1, 2),
    sg!(Forward, 3, 2),
    sg!(Forward, 5, 2),
    sg!(BackwardInput, 1, 2),
    sg!(BackwardInput, 3, 2),
    sg!(BackwardInput, 5, 2),
    sg!(BackwardWeight, 1, 1),
    sg!(BackwardWeight, 3, 1),
    sg!(BackwardWeight, 5, 1),
    sg!(BackwardWeight, 1, 2),
    sg!(BackwardWeight, 3, 2),
    sg!(BackwardWeight, 5, 2),
];

/// Every entry point of `conv2d_sg.wgsl`, in [`SG_VARIANTS`]' order.
pub const SG_SIGS: &[KernelSig] = &{
    let mut sigs = [SG_VARIANTS[0].sig; SG_VARIANTS.len()];
    let mut i = 0;
    while i < sigs.len() {
        sigs[i] = SG_VARIANTS[i].sig;
        i += 1;
    }
    sigs
};

/// The subgroup kernel of `family` for kernel size k and stride s, if there is one.
pub(super) fn sg_kernel(family: SgFamily, k: usize, s: usize) -> Option<KernelSig> {
    SG_VARIANTS
        .iter()
        .find(|v| v.family == family && v.k == k && v.s == s)
        .map(|v| v.sig)
}

/// The geometry of the subgroup kernels, shared by the dispatches and the generator: the
/// subgroup size they need (lanes 0..8 broadcast), and per invocation 8 output x, 4 output rows
/// and 8 output channels.
pub(super) const SG_LANES: usize = 8;
pub(super) const SG_OUT_X: usize = 8;
pub(super) const SG_OUT_ROWS: usize = 4;
pub(super) const SG_OUT_CH: usize = 8;

const fn sig(entry: &'static str, reads: u32, writes: u32) -> KernelSig {
    KernelSig {
        shader: Shader::Conv2d,
        entry,
        reads,
        writes,
        params: P,
    }
}
