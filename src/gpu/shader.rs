//! The WGSL kernel families: one file each under `shaders/`, compiled into the binary, with the
//! shared preludes prepended (`activation.wgsl`, `conv2d_common.wgsl`) and batch-norm's
//! `@units` section written out for vec4 and scalar units.

/// The shader families, one WGSL file each under `shaders/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shader {
    Elementwise,
    Conv2d,
    BatchNorm,
    Resample,
    Concat,
    Loss,
    Adam,
    Noise,
    Polyphase,
    /// Subgroup variants of conv2d kernels: only on devices with `Features::SUBGROUP`.
    Conv2dSg,
    /// The workgroup-memory tiled forward conv for GPUs (`Blocks::tiled`).
    Conv2dTiled,
}

impl Shader {
    /// Every shader family.
    pub const ALL: [Shader; 11] = [
        Shader::Elementwise,
        Shader::Conv2d,
        Shader::BatchNorm,
        Shader::Resample,
        Shader::Concat,
        Shader::Loss,
        Shader::Adam,
        Shader::Noise,
        Shader::Polyphase,
        Shader::Conv2dSg,
        Shader::Conv2dTiled,
    ];

    /// File name under `shaders/`.
    pub fn file(self) -> &'static str {
        match self {
            Shader::Elementwise => "elementwise.wgsl",
            Shader::Conv2d => "conv2d.wgsl",
            Shader::BatchNorm => "batchnorm.wgsl",
            Shader::Resample => "resample.wgsl",
            Shader::Concat => "concat.wgsl",
            Shader::Loss => "loss.wgsl",
            Shader::Adam => "adam.wgsl",
            Shader::Noise => "noise.wgsl",
            Shader::Polyphase => "polyphase.wgsl",
            Shader::Conv2dSg => "conv2d_sg.wgsl",
            Shader::Conv2dTiled => "conv2d_tiled.wgsl",
        }
    }

    /// Shared WGSL prepended to a family's file by [`Shader::source`] (not a family itself).
    pub const PRELUDES: [&'static str; 2] = ["activation.wgsl", "conv2d_common.wgsl"];

    /// The prelude this family's file is loaded with, if any: `activation.wgsl` (f and f')
    /// for the two families that apply activations, `conv2d_common.wgsl` (Params, padding
    /// helpers) for the three conv families.
    pub fn prelude(self) -> Option<&'static str> {
        match self {
            Shader::Elementwise | Shader::BatchNorm => Some("activation.wgsl"),
            Shader::Conv2d | Shader::Conv2dSg | Shader::Conv2dTiled => Some("conv2d_common.wgsl"),
            _ => None,
        }
    }

    /// The WGSL source (its prelude, then its file; batch-norm's `@units` section instantiated
    /// for vec4 and scalar units), compiled into the binary.
    pub fn source(self) -> &'static str {
        macro_rules! with {
            ($prelude:literal, $f:literal) => {
                concat!(
                    include_str!(concat!("../../shaders/", $prelude)),
                    include_str!(concat!("../../shaders/", $f))
                )
            };
        }
        match self {
            Shader::Elementwise => with!("activation.wgsl", "elementwise.wgsl"),
            Shader::Conv2d => with!("conv2d_common.wgsl", "conv2d.wgsl"),
            Shader::BatchNorm => batchnorm_source(),
            Shader::Resample => include_str!("../../shaders/resample.wgsl"),
            Shader::Concat => include_str!("../../shaders/concat.wgsl"),
            Shader::Loss => include_str!("../../shaders/loss.wgsl"),
            Shader::Adam => include_str!("../../shaders/adam.wgsl"),
            Shader::Noise => include_str!("../../shaders/noise.wgsl"),
            Shader::Polyphase => include_str!("../../shaders/polyphase.wgsl"),
            Shader::Conv2dSg => with!("conv2d_common.wgsl", "conv2d_sg.wgsl"),
            Shader::Conv2dTiled => with!("conv2d_common.wgsl", "conv2d_tiled.wgsl"),
        }
    }
}

/// `activation.wgsl` + `batchnorm.wgsl` with the latter's `@units` section written out twice,
/// for vec4 units (`UNIT` = `vec4<f32>`, `SFX` = `v4`) and scalar ones (`f32`, `s`): one body for
/// both forms of each per-unit pass.
fn batchnorm_source() -> &'static str {
    static SOURCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SOURCE.get_or_init(|| {
        let file = concat!(
            include_str!("../../shaders/activation.wgsl"),
            include_str!("../../shaders/batchnorm.wgsl")
        );
        expand_units(file)
    })
}

/// The text between `// @units begin` and `// @units end` once per unit type (see
/// `batchnorm_source`).
pub fn expand_units(src: &str) -> String {
    let (begin, end) = ("// @units begin\n", "// @units end\n");
    let a = src
        .find(begin)
        .expect("batchnorm.wgsl has an @units section");
    let b = src.find(end).expect("the @units section is closed");
    let body = &src[a + begin.len()..b];
    let unit = |ty: &str, suffix: &str| body.replace("UNIT", ty).replace("SFX", suffix);
    let (head, tail) = (&src[..a], &src[b + end.len()..]);
    [head, &unit("vec4<f32>", "v4"), &unit("f32", "s"), tail].concat()
}
