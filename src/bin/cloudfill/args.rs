//! The command line: clap definitions (doc comments are the help; defaults are the library's)
//! and their mapping onto the library's configuration.
use clap::builder::{PossibleValuesParser, Str, TypedValueParser};
use clap::{Args, Parser, Subcommand};
use cloudfill::dip::{DipConfig, Latent, StopRule, StopSignal, RECOMMENDED_ENSEMBLE};

/// Networks of an ensemble unless --ensemble says otherwise (the library's recommendation).
pub(crate) const DEFAULT_ENSEMBLE: u16 = RECOMMENDED_ENSEMBLE as u16;
use crate::composite::CompositeArgs;
use crate::input_args::{BandArgs, MaskArgs};
use cloudfill::io::Window;
use cloudfill::net::{Downsample, NetConfig};
use cloudfill::ops::conv2d::Padding;
use cloudfill::ops::elementwise::Act;
use cloudfill::ops::resample::Upsample;
use cloudfill::tiles::{Inputs, Job, Shard, TileOptions};
use std::path::{Path, PathBuf};

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
    /// The per-pixel median (or mean) of the clear observations of a stack of dates: a
    /// cloud-free guide for `inpaint --guide`.
    #[command(allow_negative_numbers = true)]
    Composite(Box<CompositeArgs>),
    /// Assemble the tiles of an `inpaint --work-dir` run (e.g. after --shard runs) into one raster.
    Merge(MergeArgs),
    /// List the GPUs/adapters wgpu sees and which one would be used.
    Adapters,
}

#[derive(Args, Debug)]
pub(crate) struct DemoArgs {
    /// Scene size in pixels (square).
    #[arg(long, default_value_t = 128)]
    pub size: usize,
    /// Adam steps.
    #[arg(long, default_value_t = 600, value_parser = at_least_one())]
    pub steps: usize,
    /// Folder for demo_result.tif and demo_preview.png.
    #[arg(long, default_value = ".")]
    pub out_dir: PathBuf,
    #[arg(long, default_value_t = DipConfig::default().seed)]
    pub seed: u64,
    /// Networks fitted side by side (their mean is the result, their spread the uncertainty).
    #[arg(long, value_name = "K", default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub ensemble: u16,
    /// auto: the fit keeps its best check and stops when it stops improving (as `inpaint
    /// --stop auto`: an ensemble on its spread, one network on its drift); none: every one of
    /// --steps.
    #[arg(long, value_parser = one_of(STOPS), default_value = "auto")]
    pub stop: StopMode,
    /// The reference's flow on the synthetic scene, to compare with the default: one network,
    /// no held-out pixels, every one of --steps (the paper's 4000: pass --steps 4000).
    #[arg(long)]
    pub reference: bool,
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
    #[command(flatten)]
    pub image: BandArgs,
    /// Cloud mask raster (.npy, GeoTIFF, PNG): nonzero/true = clear unless --mask-invert.
    #[arg(long)]
    pub mask: PathBuf,
    #[command(flatten)]
    pub mask_rules: MaskArgs,
    /// A Sentinel-1 guide (VV, VH linear power → dB → [0, 2]). Repeatable.
    #[arg(long)]
    pub s1: Vec<PathBuf>,
    /// The upper end of the --s1 scaling: 2 is the reference's; 1 keeps the guide inside the
    /// output sigmoid's range (BENCHMARKS.md §13).
    #[arg(long, default_value_t = cloudfill::io::S1_MAX_REFERENCE, value_name = "MAX",
          value_parser = positive_f32)]
    pub s1_max: f32,
    /// A guide used as it is (all its bands; its nodata/NaN pixels are left out of the fit),
    /// e.g. a `cloudfill composite` of earlier dates. Repeatable.
    #[arg(long)]
    pub guide: Vec<PathBuf>,
    /// Crop every input: XOFF,YOFF,XSIZE,YSIZE (GDAL -srcwin order).
    #[arg(long, value_parser = parse_window)]
    pub window: Option<Window>,
    /// Output: .tif (GeoTIFF float32, georeferenced) or .npy (H×W×C float32). Not needed
    /// with --shard, which writes only tiles.
    #[arg(long, required_unless_present = "shard")]
    pub out: Option<PathBuf>,
    /// PNG preview: mask | input with the cloud marked | result.
    #[arg(long)]
    pub preview: Option<PathBuf>,
    /// Cloud-free ground truth (same bands/preprocessing as the target): prints PSNR and SSIM.
    #[arg(long)]
    pub truth: Option<PathBuf>,
    /// Write metrics, settings and timing as JSON.
    #[arg(long)]
    pub metrics_json: Option<PathBuf>,
    /// The ensemble's per-pixel standard deviation (one band per output band; .tif
    /// georeferenced like --out, or .npy): where the fill is uncertain.
    #[arg(long, value_name = "PATH")]
    pub uncertainty: Option<PathBuf>,
    /// Save the fit's state here every --checkpoint-every steps and on Ctrl-C/SIGTERM; the same
    /// command run again resumes from it (ending as an uninterrupted fit, bit for bit) and
    /// removes it once the output is written. Single-raster fits only (tiled runs resume
    /// through --work-dir).
    #[arg(long, value_name = "PATH")]
    pub checkpoint: Option<PathBuf>,
    /// Steps between two checkpoints.
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = at_least_one())]
    pub checkpoint_every: usize,
    #[command(flatten)]
    pub fit: FitArgs,
    /// Keep the original clear pixels in the output (only cloudy pixels are replaced).
    #[arg(long)]
    pub paste_clear: bool,
    #[command(flatten)]
    pub write: WriteArgs,
    #[command(flatten)]
    pub tiles: TileArgs,
}

/// The fit and the network (defaults: the library's, which are the reference's, except the
/// ensemble and the stopping rule).
#[derive(Args, Debug)]
pub(crate) struct FitArgs {
    /// Adam steps (at least 1): each network's maximum under --stop auto, exactly these with
    /// --stop none.
    #[arg(long, default_value_t = 4000, value_parser = at_least_one())]
    pub steps: usize,
    /// Fit K networks from the seeds --seed, --seed + 1, … side by side; the result is their
    /// mean, and --uncertainty writes their per-pixel standard deviation.
    #[arg(long, value_name = "K", default_value_t = DEFAULT_ENSEMBLE, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub ensemble: u16,
    /// auto: hold out cloud-shaped patches of clear pixels, score every network there each
    /// --check-every steps, keep its best output and stop it after --patience steps without
    /// improvement; none: run exactly --steps and keep the last output.
    #[arg(long, value_parser = one_of(STOPS), default_value = "auto")]
    pub stop: StopMode,
    /// What --stop auto scores at each check: heldout (the error on held-out patches of clear
    /// pixels), spread (the ensemble's disagreement inside the cloud; --ensemble 2 or more),
    /// drift (how much the fill changed since the last check; any ensemble size), or auto
    /// (spread for an ensemble, drift for one network).
    #[arg(long, value_parser = one_of(SIGNALS), default_value = "auto")]
    pub signal: SignalArg,
    /// Fraction of the clear pixels held out of the fit for --stop auto (default: 0 with the
    /// spread and drift signals, which need none; 0.1 with heldout).
    #[arg(long)]
    pub holdout: Option<f64>,
    /// Steps between two checks of --stop auto.
    #[arg(long, value_name = "N", default_value_t = StopRule::default().every, value_parser = at_least_one())]
    pub check_every: usize,
    /// Steps without a better check after which --stop auto stops a network.
    #[arg(long, value_name = "N", default_value_t = StopRule::default().patience.unwrap_or(0))]
    pub patience: usize,
    /// No check before this step is kept for --stop auto (the first steps improve fast and
    /// noisily), so the fit runs at least this many steps plus --patience (default: 300 with
    /// the spread and drift signals, 200 with heldout).
    #[arg(long, value_name = "N")]
    pub min_steps: Option<usize>,
    /// The reference's exact flow: one network (--ensemble 1), no held-out pixels, every one
    /// of --steps (--stop none): reproduces the paper's method.
    #[arg(long)]
    pub reference: bool,
    #[arg(long, default_value_t = DipConfig::default().seed)]
    pub seed: u64,
    #[arg(long, default_value_t = DipConfig::default().lr)]
    pub lr: f32,
    /// σ of the noise added to the latent every step.
    #[arg(long, default_value_t = DipConfig::default().noise_std)]
    pub noise_std: f32,
    #[arg(long, value_parser = one_of(LATENTS), default_value = name(LATENTS, DipConfig::default().latent))]
    pub latent: Latent,
    /// Encoder widths per level.
    #[arg(long, value_delimiter = ',', default_value = list(&net().down))]
    pub down: Vec<usize>,
    /// Decoder widths per level.
    #[arg(long, value_delimiter = ',', default_value = list(&net().up))]
    pub up: Vec<usize>,
    /// Skip-branch widths per level (0 = none).
    #[arg(long, value_delimiter = ',', default_value = list(&net().skip))]
    pub skip: Vec<usize>,
    /// Encoder kernel size (one, or one per level).
    #[arg(long, value_delimiter = ',', default_value = list(&net().filter_down))]
    pub filter_down: Vec<usize>,
    /// Decoder kernel size (one, or one per level).
    #[arg(long, value_delimiter = ',', default_value = list(&net().filter_up))]
    pub filter_up: Vec<usize>,
    #[arg(long, value_parser = one_of(PADDINGS), default_value = name(PADDINGS, net().padding))]
    pub padding: Padding,
    #[arg(long, value_parser = one_of(UPSAMPLES), default_value = name(UPSAMPLES, net().upsample))]
    pub upsample: Upsample,
    #[arg(long, value_parser = one_of(DOWNSAMPLES), default_value = name(DOWNSAMPLES, net().downsample))]
    pub downsample: Downsample,
    #[arg(long, value_parser = one_of(ACTS), default_value = name(ACTS, net().act))]
    pub act: Act,
    /// No sigmoid on the output (targets outside [0, 1]).
    #[arg(long)]
    pub no_sigmoid: bool,
}

/// Whole scenes: tiling, resuming, sharding.
#[derive(Args, Debug)]
pub(crate) struct TileArgs {
    /// Tile side in pixels (a multiple of 16; 64 or more is sensible). Rasters larger than
    /// this in either dimension are processed tile by tile.
    #[arg(long, default_value_t = TileOptions::default().tile)]
    pub tile: usize,
    /// Overlap of neighbouring tiles in pixels (blended smoothly).
    #[arg(long, default_value_t = TileOptions::default().overlap)]
    pub overlap: usize,
    /// Keep finished tiles here (resumable; shared by --shard runs). Default: a temporary
    /// folder beside --out, removed at the end.
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Process only tiles with index % N == I into --work-dir, e.g. 0/4; no --out is written
    /// (assemble with `cloudfill merge`).
    #[arg(long, value_parser = |s: &str| s.parse::<Shard>().map_err(|e| e.to_string()))]
    pub shard: Option<Shard>,
    /// Tiles with a smaller fraction of clear target pixels are written as nodata (NaN); a
    /// single image with less is refused before the fit.
    #[arg(long, default_value_t = TileOptions::default().min_clear)]
    pub min_clear: f64,
    /// Fit up to K cloudy tiles side by side in the same GPU dispatches, each with its own
    /// network (the same results as one at a time; more tiles per hour, K times the memory).
    #[arg(long, value_name = "K", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub batch: u16,
}

/// Assemble the tiles of a --work-dir into one raster with the input's georeferencing.
#[derive(Args, Debug)]
pub(crate) struct MergeArgs {
    #[arg(long)]
    pub work_dir: PathBuf,
    /// .tif (GeoTIFF float32) or .npy.
    #[arg(long)]
    pub out: PathBuf,
    /// Also assemble the tiles' uncertainty (the work dir's run had --uncertainty) here.
    #[arg(long, value_name = "PATH")]
    pub uncertainty: Option<PathBuf>,
    #[command(flatten)]
    pub write: WriteArgs,
}

/// How outputs are written (inpaint and merge).
#[derive(Args, Debug)]
pub(crate) struct WriteArgs {
    /// GDAL creation option for the GeoTIFF output, KEY=VALUE. Repeatable.
    #[arg(long = "co")]
    pub creation_options: Vec<String>,
    /// Replace existing output files.
    #[arg(long)]
    pub overwrite: bool,
    /// No progress bar or summary.
    #[arg(long)]
    pub quiet: bool,
}

fn positive_f32(s: &str) -> std::result::Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("{s:?} is not a positive number")),
    }
}

fn at_least_one() -> impl TypedValueParser<Value = usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
}

fn parse_window(s: &str) -> Result<Window, String> {
    let v: Result<Vec<usize>, _> = s.split(',').map(|n| n.trim().parse()).collect();
    match v.map_err(|e| e.to_string())?[..] {
        [xoff, yoff, xsize, ysize] => Ok(Window {
            xoff,
            yoff,
            xsize,
            ysize,
        }),
        ref v => Err(format!(
            "needs XOFF,YOFF,XSIZE,YSIZE (4 numbers), got {}",
            v.len()
        )),
    }
}

/// The library's default network.
fn net() -> NetConfig {
    NetConfig::default()
}

/// A list flag's default: `v` as the comma list the flag takes.
fn list(v: &[usize]) -> Str {
    let items: Vec<String> = v.iter().map(usize::to_string).collect();
    items.join(",").into()
}

/// The names a flag takes for the library's values (`name => value, …`).
pub(crate) type Names<T> = &'static [(&'static str, T)];
macro_rules! names {
    ($($name:literal => $value:expr),+) => { &[$(($name, $value)),+] };
}
/// The reference's noise latent: 32 channels of 0.1 × U(0, 1).
const NOISE: Latent = Latent::Noise {
    scale: 0.1,
    depth: 32,
};
const LATENTS: Names<Latent> =
    names!["meshgrid" => Latent::Meshgrid, "noise" => NOISE, "target" => Latent::Target];
/// `--stop`: the stopping rule, or every step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StopMode {
    Auto,
    Off,
}
const STOPS: Names<StopMode> = names!["auto" => StopMode::Auto, "none" => StopMode::Off];
/// `--signal`: a fixed signal, or the ensemble's size decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SignalArg {
    Auto,
    Fixed(StopSignal),
}
const SIGNALS: Names<SignalArg> = names![
    "auto" => SignalArg::Auto,
    "heldout" => SignalArg::Fixed(StopSignal::Heldout),
    "spread" => SignalArg::Fixed(StopSignal::Spread),
    "drift" => SignalArg::Fixed(StopSignal::Drift)
];

impl SignalArg {
    /// The signal for an ensemble of `k`.
    pub(crate) fn for_ensemble(self, k: usize) -> StopSignal {
        match self {
            SignalArg::Fixed(s) => s,
            SignalArg::Auto if k > 1 => StopSignal::Spread,
            SignalArg::Auto => StopSignal::Drift,
        }
    }
}
const PADDINGS: Names<Padding> =
    names!["zero" => Padding::Zero, "reflection" => Padding::Reflection];
const UPSAMPLES: Names<Upsample> =
    names!["nearest" => Upsample::Nearest, "bilinear" => Upsample::Bilinear];
const DOWNSAMPLES: Names<Downsample> =
    names!["stride" => Downsample::Stride, "avg" => Downsample::Avg, "max" => Downsample::Max];
const ACTS: Names<Act> = names![
    "leaky-relu" => Act::LeakyRelu, "swish" => Act::Swish, "elu" => Act::Elu, "none" => Act::None
];

/// A flag taking one of the names in `table` (--help lists them).
pub(crate) fn one_of<T: Clone + Send + Sync + 'static>(
    table: Names<T>,
) -> impl TypedValueParser<Value = T> {
    let value = move |s: String| table.iter().find(|(n, _)| *n == s).map(|(_, v)| v.clone());
    let names = PossibleValuesParser::new(table.iter().map(|(n, _)| *n));
    names.map(move |s| value(s).expect("a listed name"))
}

/// The name of `v` in `table` (a flag's default).
pub(crate) fn name<T: PartialEq>(table: Names<T>, v: T) -> &'static str {
    let found = table.iter().find(|(_, x)| *x == v);
    found.expect("the library's default is offered").0
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
            padding: self.padding,
            upsample: self.upsample,
            downsample: self.downsample,
            act: self.act,
            sigmoid: !self.no_sigmoid,
            ..NetConfig::default()
        };
        let ensemble = if self.reference {
            1
        } else {
            self.ensemble as usize
        };
        let base = StopRule::for_signal(self.signal.for_ensemble(ensemble));
        let stop = (self.stop == StopMode::Auto && !self.reference).then_some(StopRule {
            holdout: self.holdout.unwrap_or(base.holdout),
            every: self.check_every,
            patience: Some(self.patience),
            min_steps: self.min_steps.unwrap_or(base.min_steps),
            ..base
        });
        DipConfig {
            net,
            lr: self.lr,
            noise_std: self.noise_std,
            latent: self.latent,
            seed: self.seed,
            ensemble,
            stop,
            ..DipConfig::default()
        }
    }
}

impl InpaintArgs {
    /// The inputs by path; the target's bands as [`BandArgs::bands`] says.
    pub(crate) fn inputs(&self) -> Inputs {
        Inputs {
            target: self.target.clone(),
            bands: self.image.bands(),
            s2: self.image.s2,
            mask: self.mask.clone(),
            mask_options: self.mask_rules.options(),
            s1: self.s1.clone(),
            s1_max: self.s1_max,
            guides: self.guide.clone(),
            window: self.window,
        }
    }

    /// The --out path; clap makes it present unless --shard is given.
    pub(crate) fn out(&self) -> &Path {
        self.out
            .as_deref()
            .expect("--out is required without --shard")
    }

    /// The tiled run into `work_dir`.
    pub(crate) fn job(&self, work_dir: PathBuf) -> Job {
        let t = &self.tiles;
        Job {
            inputs: self.inputs(),
            dip: self.fit.config(),
            steps: self.fit.steps,
            tiles: TileOptions {
                tile: t.tile,
                overlap: t.overlap,
                min_clear: t.min_clear,
            },
            paste_clear: self.paste_clear,
            work_dir,
            shard: t.shard,
            batch: t.batch as usize,
            uncertainty: self.uncertainty.is_some(),
        }
    }
}
