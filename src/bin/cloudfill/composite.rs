//! `cloudfill composite`: the per-pixel statistic of the clear observations of a stack of
//! dates ([`cloudfill::io::CompositeJob`]), e.g. last year's cloud-free median as a guide for
//! `inpaint --guide`. Parses the flags, checks the output, runs the job with a progress bar and
//! says what it wrote.
use crate::args::{name, one_of, Names, WriteArgs};
use crate::input_args::{BandArgs, MaskArgs};
use anyhow::{bail, Result};
use clap::Args;
use cloudfill::io::{self, CompositeJob, CompositeSummary, MaskOptions, Stat};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

const STATS: Names<Stat> = &[("median", Stat::Median), ("mean", Stat::Mean)];

#[derive(Args, Debug)]
#[command(after_long_help = AFTER_HELP)]
pub(crate) struct CompositeArgs {
    /// The dates: rasters on one grid (same size, geotransform and projection; the first
    /// input's is the output's). A mismatch is refused, naming the file, before any pixel is
    /// read.
    #[arg(long, num_args = 1.., required = true, value_name = "RASTER")]
    pub inputs: Vec<PathBuf>,
    /// One cloud mask per input, in the same order, read as `inpaint --mask` (nonzero = clear
    /// unless --mask-invert; --cloud-values, --cloud-threshold, --dilate). Without masks every
    /// pixel is clear except the inputs' nodata and NaN.
    #[arg(long, num_args = 1.., value_name = "MASK")]
    pub masks: Vec<PathBuf>,
    #[command(flatten)]
    pub mask_rules: MaskArgs,
    #[command(flatten)]
    pub image: BandArgs,
    /// The per-pixel statistic of the clear observations: median (NumPy's: the mean of the
    /// two middle values for an even count) or mean.
    #[arg(long, value_parser = one_of(STATS), default_value = name(STATS, Stat::default()))]
    pub stat: Stat,
    /// Output: .tif (float32 GeoTIFF, nodata NaN) or .npy (H×W×C float32). NaN where no input
    /// is clear.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub write: WriteArgs,
}

const AFTER_HELP: &str = "\
Nodata: a pixel where no date is clear (cloud in every mask, or nodata/NaN in every input) is \
NaN in every band, and the GeoTIFF's nodata value is NaN; `inpaint --guide` leaves such pixels \
out of its fit.

Units: the inputs' values as read, or with --s2 each date clipped to [0, 10000] and divided by \
2000 before the statistic, which are the units of `inpaint --s2`'s target. `inpaint --guide` \
takes a guide as it is (it never rescales one), so build the guide with --s2 (and the same \
--bands) when the target of the inpainting is read with --s2.

Memory: a band of rows of every input at a time (256 MiB of pixels at most, at least one \
row); the output is written by rows.

Example (last year's clear median, then inpaint a new date with it as a guide):
  cloudfill composite --s2 --inputs 2019-*.tif --masks 2019-*_scl.tif --cloud-values 3,8,9,10 \\
      --out median_2019.tif
  cloudfill inpaint --s2 --target 2020-06-01.tif --mask 2020-06-01_scl.tif \\
      --cloud-values 3,8,9,10 --guide median_2019.tif --out filled.tif";

pub(crate) fn composite(a: &CompositeArgs) -> Result<()> {
    if a.masks.is_empty() && a.mask_rules.options() != MaskOptions::default() {
        bail!(
            "--mask-invert, --cloud-values, --cloud-threshold and --dilate say how to read \
             --masks, and no --masks were given"
        );
    }
    let job = CompositeJob {
        inputs: a.inputs.clone(),
        masks: (!a.masks.is_empty()).then(|| a.masks.clone()),
        mask_options: a.mask_rules.options(),
        bands: a.image.bands(),
        s2: a.image.s2,
        stat: a.stat,
        memory: io::DEFAULT_COMPOSITE_MEMORY,
    };
    job.check_out(&a.out, &a.write.creation_options)?;
    io::output_guard(&a.out, a.write.overwrite)?;
    job.check()?;
    let bar = (!a.write.quiet).then(progress_bar);
    let summary = job.write_with(&a.out, &a.write.creation_options, |done, total| {
        if let Some(b) = &bar {
            b.set_length(total as u64);
            b.set_position(done as u64);
        }
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if !a.write.quiet {
        say_done(a, &summary);
    }
    Ok(())
}

fn progress_bar() -> ProgressBar {
    let style = ProgressStyle::with_template("composite {bar:40} {pos}/{len} rows {elapsed}")
        .expect("a valid template");
    ProgressBar::new(0).with_style(style)
}

/// What was written, on stderr: size, statistic, each date's clear fraction, the nodata.
fn say_done(a: &CompositeArgs, s: &CompositeSummary) {
    let total = (s.width * s.height).max(1) as f64;
    let stat = name(STATS, a.stat);
    let size = format!("{}×{}×{}", s.width, s.height, s.channels);
    eprintln!(
        "{stat} of {} dates, {size} (W×H×C), {} rows at a time",
        a.inputs.len(),
        s.rows_per_block
    );
    for (p, &n) in a.inputs.iter().zip(&s.clear) {
        eprintln!("  {}: {:.1} % clear", p.display(), 100.0 * n as f64 / total);
    }
    if s.nodata > 0 {
        let pct = 100.0 * s.nodata as f64 / total;
        eprintln!(
            "note: {} pixels ({pct:.2} %) are clear in no input: nodata (NaN)",
            s.nodata
        );
    }
    eprintln!("wrote {}", a.out.display());
}
