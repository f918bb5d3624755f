//! The command line: clap definitions (doc comments are the help) and their mapping onto the
//! library's configuration.
use crate::tiled;
use anyhow::Result;
use clap::{Args, Parser, Subcommand, ValueEnum};
use cloudfill::dip::{DipConfig, Latent};
use cloudfill::net::{Downsample, NetConfig};
use cloudfill::ops::conv2d::Padding;
use cloudfill::ops::elementwise::Act;
use cloudfill::ops::resample::Upsample;
use std::path::PathBuf;

/// Remove clouds from satellite images with Deep Image Prior, on any GPU (wgpu + WGSL).
#[derive(Parser, Debug)]
#[command(name = "cloudfill", version, about, long_about = None)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Inpaint the built-in synthetic scene (fields, roads, a SAR-like guide, clouds): no data needed.
    Demo(DemoArgs),
    /// Inpaint the cloudy pixels of a raster (GeoTIFF, any GDAL raster, or .npy).
    // Negative numbers are values (`--lr -1` is then refused as a learning rate, not as an
    // unknown flag).
    #[command(allow_negative_numbers = true)]
    Inpaint(Box<InpaintArgs>),
    /// Assemble the tiles of an `inpaint --work-dir` run (e.g. after --shard runs) into one raster.
    Merge(tiled::MergeArgs),
    /// List the GPUs/adapters wgpu sees and which one would be used.
    Adapters,
}

#[derive(Args, Debug)]
pub(crate) struct DemoArgs {
    /// Scene size in pixels (square).
    #[arg(long, default_value_t = 128)]
    pub size: usize,
    /// Adam steps.
    #[arg(long, default_value_t = 600, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub steps: usize,
    /// Folder for demo_result.tif and demo_preview.png.
    #[arg(long, default_value = ".")]
    pub out_dir: PathBuf,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Replace existing outputs.
    #[arg(long)]
    pub overwrite: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub(crate) struct InpaintArgs {
    /// The cloudy image to inpaint.
    #[arg(long)]
    pub target: PathBuf,
    /// Treat the target as Sentinel-2 (band selection B4,B3,B2 by default, clip [0,10000], ÷2000).
    #[arg(long)]
    pub s2: bool,
    /// 1-based bands of the target to use, or `all` (default: all; with --s2: 4,3,2).
    #[arg(long, value_delimiter = ',', value_parser = parse_band)]
    pub bands: Option<Vec<usize>>,
    /// Cloud mask raster (.npy, GeoTIFF, PNG): nonzero/true = clear unless --mask-invert.
    #[arg(long)]
    pub mask: PathBuf,
    /// The mask marks clouds (nonzero = cloud).
    #[arg(long)]
    pub mask_invert: bool,
    /// Mask values that are cloud (class rasters, e.g. Sen2Cor SCL: 3,8,9,10).
    #[arg(long, value_delimiter = ',')]
    pub cloud_values: Option<Vec<f64>>,
    /// Mask values >= this are cloud (probability rasters, e.g. s2cloudless 0.4).
    #[arg(long)]
    pub cloud_threshold: Option<f64>,
    /// Grow the cloud mask by N pixels.
    #[arg(long, default_value_t = 0)]
    pub dilate: usize,
    /// A Sentinel-1 guide (VV, VH linear power → dB → [0, 2]). Repeatable.
    #[arg(long)]
    pub s1: Vec<PathBuf>,
    /// A guide used as it is (all its bands). Repeatable.
    #[arg(long)]
    pub guide: Vec<PathBuf>,
    /// Crop every input: XOFF,YOFF,XSIZE,YSIZE (GDAL -srcwin order).
    #[arg(long, value_delimiter = ',', num_args = 1)]
    pub window: Option<Vec<usize>>,
    /// Output: .tif (GeoTIFF float32, georeferenced) or .npy (H×W×C float32).
    #[arg(long)]
    pub out: PathBuf,
    /// PNG preview: mask | input with the cloud marked | result.
    #[arg(long)]
    pub preview: Option<PathBuf>,
    /// Cloud-free ground truth (same bands/preprocessing as the target): prints PSNR and SSIM.
    #[arg(long)]
    pub truth: Option<PathBuf>,
    /// Write metrics, settings and timing as JSON.
    #[arg(long)]
    pub metrics_json: Option<PathBuf>,
    #[command(flatten)]
    pub fit: FitArgs,
    /// Keep the original clear pixels in the output (only cloudy pixels are replaced).
    #[arg(long)]
    pub paste_clear: bool,
    /// GDAL creation option for the GeoTIFF output, KEY=VALUE. Repeatable.
    #[arg(long = "co")]
    pub creation_options: Vec<String>,
    /// Replace existing output files.
    #[arg(long)]
    pub overwrite: bool,
    /// No progress bar or summary.
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub tiles: tiled::TileArgs,
}

/// A 1-based band number, or `all` (as 0).
pub(crate) fn parse_band(s: &str) -> Result<usize, String> {
    match s.trim() {
        "all" => Ok(0),
        n => match n.parse::<usize>() {
            Ok(b) if b >= 1 => Ok(b),
            _ => Err(format!("{n:?} is not a band number (1, 2, ...) or `all`")),
        },
    }
}

/// The target's 1-based bands (`None` = all).
pub(crate) fn target_bands(a: &InpaintArgs) -> Option<Vec<usize>> {
    match (&a.bands, a.s2) {
        (Some(b), _) if b.contains(&0) => None,
        (Some(b), _) => Some(b.clone()),
        (None, true) => Some(vec![4, 3, 2]),
        (None, false) => None,
    }
}

/// Preview bands (0-based into the target as used): red, green, blue (B4, B3, B2) with --s2
/// when they were read, else the first three.
pub(crate) fn preview_bands(a: &InpaintArgs, c: usize) -> [usize; 3] {
    let list = target_bands(a).unwrap_or_else(|| (1..=c).collect());
    let pos = |b: usize| list.iter().position(|&x| x == b);
    match (a.s2, pos(4), pos(3), pos(2)) {
        (true, Some(r), Some(g), Some(b)) => [r, g, b],
        _ => [0, 1.min(c - 1), 2.min(c - 1)],
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum LatentArg {
    Meshgrid,
    Noise,
    Target,
}
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum PaddingArg {
    Zero,
    Reflection,
}
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum UpsampleArg {
    Nearest,
    Bilinear,
}
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum DownsampleArg {
    Stride,
    Avg,
    Max,
}
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum ActArg {
    LeakyRelu,
    Swish,
    Elu,
    None,
}

/// The fit and the network (defaults: the reference's).
#[derive(Args, Debug)]
pub(crate) struct FitArgs {
    /// Adam steps (at least 1).
    #[arg(long, default_value_t = 4000, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub steps: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value_t = 0.02)]
    pub lr: f32,
    /// σ of the noise added to the latent every step.
    #[arg(long, default_value_t = 0.1)]
    pub noise_std: f32,
    #[arg(long, value_enum, default_value = "meshgrid")]
    pub latent: LatentArg,
    /// Encoder widths per level.
    #[arg(long, value_delimiter = ',', default_value = "16,32,64,128,128,128")]
    pub down: Vec<usize>,
    /// Decoder widths per level.
    #[arg(long, value_delimiter = ',', default_value = "16,32,64,128,128,128")]
    pub up: Vec<usize>,
    /// Skip-branch widths per level (0 = none).
    #[arg(long, value_delimiter = ',', default_value = "0,0,0,0,0,0")]
    pub skip: Vec<usize>,
    /// Encoder kernel size (one, or one per level).
    #[arg(long, value_delimiter = ',', default_value = "3")]
    pub filter_down: Vec<usize>,
    /// Decoder kernel size (one, or one per level).
    #[arg(long, value_delimiter = ',', default_value = "5")]
    pub filter_up: Vec<usize>,
    #[arg(long, value_enum, default_value = "zero")]
    pub padding: PaddingArg,
    #[arg(long, value_enum, default_value = "nearest")]
    pub upsample: UpsampleArg,
    #[arg(long, value_enum, default_value = "stride")]
    pub downsample: DownsampleArg,
    #[arg(long, value_enum, default_value = "leaky-relu")]
    pub act: ActArg,
    /// No sigmoid on the output (targets outside [0, 1]).
    #[arg(long)]
    pub no_sigmoid: bool,
}

impl FitArgs {
    pub(crate) fn config(&self) -> DipConfig {
        let mut skip = self.skip.clone();
        skip.resize(self.down.len(), 0);
        let net = NetConfig {
            down: self.down.clone(),
            up: self.up.clone(),
            skip,
            filter_down: self.filter_down.clone(),
            filter_up: self.filter_up.clone(),
            padding: match self.padding {
                PaddingArg::Zero => Padding::Zero,
                PaddingArg::Reflection => Padding::Reflection,
            },
            upsample: match self.upsample {
                UpsampleArg::Nearest => Upsample::Nearest,
                UpsampleArg::Bilinear => Upsample::Bilinear,
            },
            downsample: match self.downsample {
                DownsampleArg::Stride => Downsample::Stride,
                DownsampleArg::Avg => Downsample::Avg,
                DownsampleArg::Max => Downsample::Max,
            },
            act: match self.act {
                ActArg::LeakyRelu => Act::LeakyRelu,
                ActArg::Swish => Act::Swish,
                ActArg::Elu => Act::Elu,
                ActArg::None => Act::None,
            },
            sigmoid: !self.no_sigmoid,
            ..NetConfig::default()
        };
        DipConfig {
            net,
            lr: self.lr,
            noise_std: self.noise_std,
            latent: match self.latent {
                LatentArg::Meshgrid => Latent::Meshgrid,
                LatentArg::Noise => Latent::Noise {
                    scale: 0.1,
                    depth: 32,
                },
                LatentArg::Target => Latent::Target,
            },
            seed: self.seed,
            loss_every: 10,
            ..DipConfig::default()
        }
    }
}
