//! The work dir of a tiled run: `manifest.json` (the run's settings, its inputs' fingerprints
//! and the adapter of its first run, see [`identity`]) and one file per finished
//! tile, each written atomically: `tile_{row}_{col}.npy` (the tile's result, H×W×C float32) or
//! `tile_{row}_{col}.nodata` (empty: too little clear target, the tile is nodata). A run with
//! [`Job::uncertainty`](super::Job::uncertainty) also writes `tile_{row}_{col}.sigma.npy` (the
//! ensemble's per-pixel standard deviation, zeros for a copied tile) before the result, so a
//! finished tile of such a run always has its σ.
use super::grid::TileRect;
use super::identity::{self, Fingerprint, Kernels};
use crate::error::{Error, Result};
use crate::io;
use serde_json::{Map, Value};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

const FORMAT: &str = "cloudfill-tiles/2";
/// The first format: inputs by path only (read by `merge`, refused by a resume).
const FORMAT_1: &str = "cloudfill-tiles/1";

/// What the work dir holds for one tile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TileState {
    Missing,
    /// `tile_{row}_{col}.npy` exists.
    Data,
    /// `tile_{row}_{col}.nodata` exists.
    NoData,
}

pub fn manifest_path(dir: &Path) -> PathBuf {
    dir.join("manifest.json")
}

/// The result file of a tile.
pub fn tile_path(dir: &Path, t: &TileRect) -> PathBuf {
    dir.join(format!("tile_{}_{}.npy", t.row, t.col))
}

/// The uncertainty file of a tile (runs with uncertainty only).
pub fn sigma_path(dir: &Path, t: &TileRect) -> PathBuf {
    dir.join(format!("tile_{}_{}.sigma.npy", t.row, t.col))
}

fn nodata_path(dir: &Path, t: &TileRect) -> PathBuf {
    dir.join(format!("tile_{}_{}.nodata", t.row, t.col))
}

pub fn tile_state(dir: &Path, t: &TileRect) -> TileState {
    if tile_path(dir, t).is_file() {
        TileState::Data
    } else if nodata_path(dir, t).is_file() {
        TileState::NoData
    } else {
        TileState::Missing
    }
}

/// Removes the tile file of `t` (and its σ file, `with_sigma`) if it is there but not whole
/// (`check_tile`) or, `with_sigma`, its σ file is missing or not whole, and says what was
/// wrong; `None` for a whole tile, a nodata marker or no file.
pub fn remove_broken_tile(
    dir: &Path,
    t: &TileRect,
    c: usize,
    with_sigma: bool,
) -> Result<Option<String>> {
    let path = tile_path(dir, t);
    if tile_state(dir, t) != TileState::Data {
        return Ok(None);
    }
    let sigma = sigma_path(dir, t);
    let problem = match check_tile(&path, t, c) {
        Err(problem) => problem.to_string(),
        Ok(()) if !with_sigma => return Ok(None),
        Ok(()) if !sigma.is_file() => format!(
            "{}: this run writes --uncertainty and the tile has no {}",
            path.display(),
            sigma.display()
        ),
        Ok(()) => match check_tile(&sigma, t, c) {
            Ok(()) => return Ok(None),
            Err(problem) => problem.to_string(),
        },
    };
    for p in [&path, &sigma].into_iter().filter(|p| p.is_file()) {
        std::fs::remove_file(p).map_err(|e| Error::io(p, "cannot remove a broken tile", e))?;
    }
    Ok(Some(problem))
}

/// A work dir for one run, beside its output (`.NAME.tiles-PID`), removed with everything in it
/// when dropped.
#[derive(Debug)]
pub struct TempWorkDir(PathBuf);

impl TempWorkDir {
    /// The folder for `out`'s tiles (not created: [`run`](super::run) creates it).
    pub fn beside(out: &Path) -> TempWorkDir {
        let name = out
            .file_name()
            .map_or("out".into(), |n| n.to_string_lossy().into_owned());
        let dir = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        TempWorkDir(dir.join(format!(".{name}.tiles-{}", std::process::id())))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempWorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn write_nodata(dir: &Path, t: &TileRect) -> Result<()> {
    io::write_file(&nodata_path(dir, t), b"")
}

/// `dir`'s manifest, of this format or the first one (no input fingerprints).
fn read_value(dir: &Path) -> Result<Value> {
    let path = manifest_path(dir);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::io(&path, "cannot read the work dir's manifest", e))?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| io::file_err(&path, format!("not a valid manifest: {e}")))?;
    match v.get("format").and_then(Value::as_str) {
        Some(FORMAT | FORMAT_1) => Ok(v),
        _ => Err(io::file_err(&path, format!("not a {FORMAT} manifest"))),
    }
}

/// The settings stored in `dir`'s manifest.
pub fn read_manifest(dir: &Path) -> Result<Map<String, Value>> {
    match read_value(dir)?.get("settings") {
        Some(Value::Object(m)) => Ok(m.clone()),
        _ => Err(io::file_err(
            &manifest_path(dir),
            "the manifest has no settings",
        )),
    }
}

/// The input fingerprints and the kernel path in `dir`'s manifest (`Err` for a manifest of
/// the first format, which has none).
fn read_identity(dir: &Path, v: &Value) -> Result<(Vec<Fingerprint>, Option<Kernels>)> {
    if v.get("format").and_then(Value::as_str) == Some(FORMAT_1) {
        return Err(Error::invalid(
            "work dir",
            format!(
                "{} was made by an older cloudfill that did not record its inputs' content, \
                 so its tiles cannot be checked against the inputs: finish it with that \
                 version, or remove it to start over",
                dir.display()
            ),
        ));
    }
    let list = v.get("inputs").and_then(Value::as_array);
    let inputs: Option<Vec<Fingerprint>> =
        list.and_then(|l| l.iter().map(Fingerprint::from_json).collect());
    let inputs = inputs.ok_or_else(|| {
        io::file_err(
            &manifest_path(dir),
            "the manifest's input fingerprints are not readable",
        )
    })?;
    Ok((inputs, v.get("kernels").and_then(Kernels::from_json)))
}

/// Creates `dir` and its manifest, or checks that the manifest there has these settings
/// (`Err` naming the first setting that differs) and these inputs by content (`Err` naming an
/// input that changed). A note when the tiles there were fitted on another adapter or kernel
/// path.
pub(crate) fn open(
    dir: &Path,
    settings: &Map<String, Value>,
    inputs: &[Fingerprint],
    kernels: &Kernels,
) -> Result<Option<String>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "cannot create the work dir", e))?;
    let path = manifest_path(dir);
    if !path.exists() {
        let list: Vec<Value> = inputs.iter().map(Fingerprint::to_json).collect();
        let v = serde_json::json!({
            "format": FORMAT,
            "settings": settings,
            "inputs": list,
            "kernels": kernels.to_json(),
        });
        let text = serde_json::to_string_pretty(&v).expect("JSON values serialise");
        io::write_file(&path, text.as_bytes())?;
        return Ok(None);
    }
    let v = read_value(dir)?;
    let (was_inputs, was_kernels) = read_identity(dir, &v)?;
    let old = read_manifest(dir)?;
    let keys = settings
        .keys()
        .chain(old.keys().filter(|k| !settings.contains_key(*k)));
    for k in keys {
        let (was, now) = (old.get(k), settings.get(k));
        if was != now {
            let show = |v: Option<&Value>| v.map_or("(unset)".to_string(), Value::to_string);
            return Err(Error::invalid(
                "work dir",
                format!(
                    "{} was made with different settings: `{k}` was {}, now {} \
                     (use another --work-dir, or remove it to start over)",
                    dir.display(),
                    show(was),
                    show(now)
                ),
            ));
        }
    }
    identity::check_inputs(dir, &was_inputs, inputs)?;
    Ok(was_kernels.and_then(|k| kernels.note_against(&k)))
}

/// A tile file written by [`io::write_npy`] (H×W×C float32, C order), its header checked
/// against `t` and `c`: the open file and the offset of its data.
fn open_tile(path: &Path, t: &TileRect, c: usize) -> Result<(std::fs::File, usize)> {
    let err = |m: String| io::file_err(path, m);
    let mut f = std::fs::File::open(path).map_err(|e| err(format!("cannot open tile: {e}")))?;
    let mut head = [0u8; 12];
    f.read_exact(&mut head)
        .map_err(|e| err(format!("cannot read tile: {e}")))?;
    if &head[..6] != b"\x93NUMPY" {
        return Err(err("not a .npy file".into()));
    }
    let (len, start) = match head[6] {
        1 => (u16::from_le_bytes([head[8], head[9]]) as usize, 10),
        _ => (
            u32::from_le_bytes([head[8], head[9], head[10], head[11]]) as usize,
            12,
        ),
    };
    let mut header = vec![0u8; len];
    f.seek(SeekFrom::Start(start as u64))
        .and_then(|_| f.read_exact(&mut header))
        .map_err(|e| err(format!("cannot read tile header: {e}")))?;
    let header = String::from_utf8_lossy(&header);
    let shape: Option<Vec<usize>> = header
        .split_once("'shape': (")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(dims, _)| {
            dims.split(',')
                .filter_map(|d| d.trim().parse().ok())
                .collect()
        });
    let f4 = header.contains("'<f4'") && header.contains("'fortran_order': False");
    if !f4 || shape.as_deref() != Some(&[t.h, t.w, c][..]) {
        return Err(err(format!(
            "expected a float32 C-order tile of shape ({}, {}, {c}), header {}",
            t.h,
            t.w,
            header.trim()
        )));
    }
    Ok((f, start + len))
}

/// Whether the tile file of `t` is whole: its header is `t`'s shape with `c` channels and its
/// data all there (a write cut short, or another run's file, is not).
pub(crate) fn check_tile(path: &Path, t: &TileRect, c: usize) -> Result<()> {
    let (f, offset) = open_tile(path, t, c)?;
    let want = (offset + t.h * t.w * c * 4) as u64;
    let got = f
        .metadata()
        .map_err(|e| Error::io(path, "cannot read tile", e))?
        .len();
    if got != want {
        let m = format!("holds {got} bytes, a whole tile is {want}");
        return Err(io::file_err(path, m));
    }
    Ok(())
}

/// Rows `y0 .. y0 + n` of a tile file written by [`io::write_npy`] (H×W×C float32, C order),
/// read without loading the rest of the file.
pub(crate) fn read_tile_rows(
    path: &Path,
    t: &TileRect,
    c: usize,
    y0: usize,
    n: usize,
) -> Result<Vec<f32>> {
    let err = |m: String| io::file_err(path, m);
    let (mut f, start) = open_tile(path, t, c)?;
    let row = t.w * c * 4;
    let mut bytes = vec![0u8; n * row];
    f.seek(SeekFrom::Start((start + y0 * row) as u64))
        .and_then(|_| f.read_exact(&mut bytes))
        .map_err(|e| err(format!("cannot read tile rows: {e}")))?;
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}
