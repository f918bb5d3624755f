//! The checkpoint file, version 3 (version 2, without the drift signal's outputs, is still
//! read). Little-endian throughout:
//!
//! | bytes    | what                                                                 |
//! |----------|----------------------------------------------------------------------|
//! | 8        | magic `CFILLCKP`                                                     |
//! | 4        | format version, u32 (3)                                              |
//! | 4        | K, the number of settings, u32                                       |
//! | K × …    | each setting: name, then value, each a u32 byte count and UTF-8      |
//! | 4 + …    | the kernels that computed it (same string encoding)                  |
//! | 4        | step, u32                                                            |
//! | 8        | N, values per array, u64                                             |
//! | 3 × 4N   | parameters, Adam's m, Adam's v: f32 each                             |
//! | 4        | G, items with a stopping rule's checks, u32 (0: no rule)             |
//! | G × …    | each: the curve (u32 count, then u64 step + f64 error each), a u8 of |
//! |          | flags (1 smoothed, 2 best, 4 stopped), f64 smoothed, f64 best, u64   |
//! |          | best step, u64 stopped at                                            |
//! | 4 + …    | the networks' kept outputs: u32 count, each a u64 length and f32s    |
//! | 4 + …    | each item's fill at its last check (the drift signal; length 0: none)|
//! |          | u32 count, each a u64 length and f32s (version 3 only)               |
//! | 9        | a u8 flag and the u64 step of a divergence that ended the fit        |
//! | 8        | FNV-1a 64 of every byte before it                                    |
//!
//! The trailing hash catches a file cut short or damaged; the version a file of another
//! cloudfill. Files are written to a temporary file in the same folder, flushed to disk and
//! renamed over the old one, so a checkpoint on disk is always a whole one.
use super::Checkpoint;
use crate::dip::fit::ChecksState;
use crate::dip::{Monitor, StopRule};
use crate::error::{Error, Result};
use crate::io::{file_err, write_atomic};
use crate::plan::PlanState;
use std::io::Write;
use std::path::Path;

const MAGIC: &[u8; 8] = b"CFILLCKP";
const VERSION: u32 = 3;
/// The oldest version this cloudfill still reads.
const OLDEST: u32 = 2;

/// FNV-1a, 64 bits: a fast, stable (platform- and run-independent) hash.
pub(crate) struct Fnv(u64);

impl Fnv {
    pub(crate) fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    pub(crate) fn finish(&self) -> u64 {
        self.0
    }
}

impl Checkpoint {
    /// Writes the checkpoint to `path` atomically, replacing an older one (see the format in
    /// [`self`](crate::dip::checkpoint::file)); every write, the flush to disk and the rename
    /// are checked.
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = encode(self);
        write_atomic(path, |tmp| {
            let err = |e| Error::io(path, "cannot write the checkpoint", e);
            let mut f = std::fs::File::create(tmp).map_err(err)?;
            f.write_all(&bytes).map_err(err)?;
            f.sync_all().map_err(err)
        })?;
        sync_folder(path);
        Ok(())
    }

    /// Reads a checkpoint [`Checkpoint::save`] wrote; `Err` naming the file if it is not one,
    /// is of another format version, or is cut short or damaged.
    pub fn load(path: &Path) -> Result<Checkpoint> {
        let bytes =
            std::fs::read(path).map_err(|e| Error::io(path, "cannot read the checkpoint", e))?;
        decode(&bytes).map_err(|why| file_err(path, why))
    }
}

/// The folder's entry of a renamed file on disk too (best effort: not every system can).
fn sync_folder(path: &Path) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

fn encode(c: &Checkpoint) -> Vec<u8> {
    let s = &c.state;
    let mut b = Vec::with_capacity(64 + 12 * s.params.len());
    let text = |b: &mut Vec<u8>, t: &str| {
        b.extend((t.len() as u32).to_le_bytes());
        b.extend(t.as_bytes());
    };
    b.extend(MAGIC);
    b.extend(VERSION.to_le_bytes());
    b.extend((c.settings.len() as u32).to_le_bytes());
    for (k, v) in &c.settings {
        text(&mut b, k);
        text(&mut b, v);
    }
    text(&mut b, &c.kernels);
    b.extend(s.step.to_le_bytes());
    b.extend((s.params.len() as u64).to_le_bytes());
    for a in [&s.params, &s.m, &s.v] {
        b.extend(a.iter().flat_map(|x| x.to_le_bytes()));
    }
    encode_checks(&mut b, c.checks.as_ref());
    let mut h = Fnv::new();
    h.write(&b);
    b.extend(h.finish().to_le_bytes());
    b
}

/// A cursor over a checkpoint's bytes; every read says what was cut short.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> std::result::Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err(format!("cut short in {what}: not a whole checkpoint"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u32(&mut self, what: &str) -> std::result::Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4, what)?.try_into().unwrap()))
    }
    fn u64(&mut self, what: &str) -> std::result::Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8, what)?.try_into().unwrap()))
    }
    fn text(&mut self, what: &str) -> std::result::Result<String, String> {
        let n = self.u32(what)? as usize;
        let bytes = self.take(n, what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| format!("{what} is not UTF-8"))
    }
    fn floats(&mut self, n: usize, what: &str) -> std::result::Result<Vec<f32>, String> {
        let bytes = self.take(n.checked_mul(4).ok_or("too large")?, what)?;
        let f = |c: &[u8]| f32::from_le_bytes(c.try_into().unwrap());
        Ok(bytes.chunks_exact(4).map(f).collect())
    }
}

fn decode(bytes: &[u8]) -> std::result::Result<Checkpoint, String> {
    if bytes.len() < 20 || &bytes[..8] != MAGIC {
        return Err("not a cloudfill checkpoint (no CFILLCKP header)".into());
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().unwrap());
    if !(OLDEST..=VERSION).contains(&version) {
        return Err(format!(
            "a checkpoint of format version {version}; this cloudfill reads versions {OLDEST} to {VERSION} \
             (remove it to start the fit over)"
        ));
    }
    let (body, sum) = bytes.split_at(bytes.len() - 8);
    let mut h = Fnv::new();
    h.write(body);
    if h.finish().to_le_bytes() != sum {
        return Err("damaged or cut short (its checksum does not match)".into());
    }
    let mut r = Reader(&body[12..]);
    let k = r.u32("the settings count")?;
    let mut settings = Vec::new();
    for _ in 0..k {
        settings.push((r.text("a setting's name")?, r.text("a setting's value")?));
    }
    let kernels = r.text("the kernels")?;
    let step = r.u32("the step")?;
    let n = usize::try_from(r.u64("the array length")?).map_err(|_| "too large")?;
    let state = PlanState {
        step,
        params: r.floats(n, "the parameters")?,
        m: r.floats(n, "Adam's m")?,
        v: r.floats(n, "Adam's v")?,
    };
    let checks = decode_checks(&mut r, version)?;
    if !r.0.is_empty() {
        return Err(format!("{} bytes after the data", r.0.len()));
    }
    Ok(Checkpoint {
        settings,
        kernels,
        state,
        checks,
    })
}

fn encode_checks(b: &mut Vec<u8>, c: Option<&ChecksState>) {
    let Some(c) = c else {
        b.extend([0u8; 12 + 9]);
        return;
    };
    b.extend((c.monitors.len() as u32).to_le_bytes());
    for m in &c.monitors {
        b.extend((m.curve.len() as u32).to_le_bytes());
        for &(s, v) in &m.curve {
            b.extend((s as u64).to_le_bytes());
            b.extend(v.to_le_bytes());
        }
        let flags = m.smoothed.is_some() as u8 | (m.best.is_some() as u8) << 1;
        b.push(flags | (m.stopped_at.is_some() as u8) << 2);
        let (best, at) = m.best.unwrap_or((0.0, 0));
        b.extend(m.smoothed.unwrap_or(0.0).to_le_bytes());
        b.extend(best.to_le_bytes());
        b.extend((at as u64).to_le_bytes());
        b.extend((m.stopped_at.unwrap_or(0) as u64).to_le_bytes());
    }
    encode_outputs(b, &c.kept);
    encode_outputs(b, &c.previous);
    b.push(c.diverged_at.is_some() as u8);
    b.extend((c.diverged_at.unwrap_or(0) as u64).to_le_bytes());
}

/// A list of optional outputs: a u32 count, each a u64 length (0: none) and its f32s.
fn encode_outputs(b: &mut Vec<u8>, outputs: &[Option<Vec<f32>>]) {
    b.extend((outputs.len() as u32).to_le_bytes());
    for o in outputs {
        let o = o.as_deref().unwrap_or(&[]);
        b.extend((o.len() as u64).to_le_bytes());
        b.extend(o.iter().flat_map(|x| x.to_le_bytes()));
    }
}

fn decode_outputs(
    r: &mut Reader,
    what: &str,
) -> std::result::Result<Vec<Option<Vec<f32>>>, String> {
    let mut out = Vec::new();
    for _ in 0..r.u32(&format!("the {what} count"))? {
        let k = usize::try_from(r.u64(&format!("a {what} length"))?).map_err(|_| "too large")?;
        let o = r.floats(k, what)?;
        out.push((k > 0).then_some(o));
    }
    Ok(out)
}

fn decode_checks(r: &mut Reader, version: u32) -> std::result::Result<Option<ChecksState>, String> {
    let g = r.u32("the checks count")? as usize;
    let mut monitors = Vec::new();
    for _ in 0..g {
        let n = r.u32("a validation curve")? as usize;
        let mut curve = Vec::with_capacity(n.min(1 << 20));
        for _ in 0..n {
            let s = r.u64("a check's step")? as usize;
            curve.push((s, f64::from_bits(r.u64("a check's error")?)));
        }
        let flags = r.take(1, "the checks' flags")?[0];
        let smoothed = f64::from_bits(r.u64("the smoothed error")?);
        let best = f64::from_bits(r.u64("the best error")?);
        let at = r.u64("the best step")? as usize;
        let stopped = r.u64("the stop step")? as usize;
        let mut m = Monitor::new(StopRule::default());
        m.curve = curve;
        m.smoothed = (flags & 1 != 0).then_some(smoothed);
        m.best = (flags & 2 != 0).then_some((best, at));
        m.stopped_at = (flags & 4 != 0).then_some(stopped);
        monitors.push(m);
    }
    let kept = decode_outputs(r, "kept output")?;
    let previous = match version {
        2 => Vec::new(),
        _ => decode_outputs(r, "last check's fill")?,
    };
    let diverged = r.take(1, "the divergence flag")?[0] != 0;
    let diverged_at = Some(r.u64("the divergence step")? as usize).filter(|_| diverged);
    Ok((g > 0).then_some(ChecksState {
        monitors,
        kept,
        diverged_at,
        previous,
    }))
}
