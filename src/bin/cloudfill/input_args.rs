//! Flags that several commands read their inputs with, defined once: the bands and Sentinel-2
//! scaling of an image (`inpaint`'s target, `composite`'s inputs) and how a mask is read.
use clap::Args;
use cloudfill::io::MaskOptions;

/// Bands and Sentinel-2 scaling of the image(s) read.
#[derive(Args, Debug, Clone)]
pub(crate) struct BandArgs {
    /// Sentinel-2 reflectances: bands B4,B3,B2 unless --bands says otherwise, clipped to
    /// [0, 10000] and divided by 2000 (the reference's scaling).
    #[arg(long)]
    pub s2: bool,
    /// 1-based bands to use, or `all` (default: all; with --s2: 4,3,2).
    #[arg(long, value_delimiter = ',', value_parser = parse_band)]
    pub bands: Option<Vec<usize>>,
}

impl BandArgs {
    /// The bands to read: `None` = all (`all`, or no --bands without --s2), B4, B3, B2 with
    /// --s2.
    pub(crate) fn bands(&self) -> Option<Vec<usize>> {
        match (&self.bands, self.s2) {
            (Some(b), _) if b.contains(&0) => None,
            (Some(b), _) => Some(b.clone()),
            (None, true) => Some(vec![4, 3, 2]),
            (None, false) => None,
        }
    }
}

/// How a mask raster is turned into clear/cloud (the library's [`MaskOptions`]).
#[derive(Args, Debug, Clone)]
pub(crate) struct MaskArgs {
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
    #[arg(long, default_value_t = MaskOptions::default().dilate)]
    pub dilate: usize,
}

impl MaskArgs {
    pub(crate) fn options(&self) -> MaskOptions {
        MaskOptions {
            invert: self.mask_invert,
            cloud_values: self.cloud_values.clone(),
            cloud_threshold: self.cloud_threshold,
            dilate: self.dilate,
        }
    }
}

/// A 1-based band number, or `all` (as 0).
fn parse_band(s: &str) -> Result<usize, String> {
    match s.trim() {
        "all" => Ok(0),
        n => match n.parse::<usize>() {
            Ok(b) if b >= 1 => Ok(b),
            _ => Err(format!("{n:?} is not a band number (1, 2, ...) or `all`")),
        },
    }
}
