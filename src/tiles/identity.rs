//! What a work dir's tiles were made from, beyond the settings: each input file by content
//! ([`Fingerprint`]: size and a 64-bit hash of the whole file, and its canonical path), and the
//! adapter and kernel path that fitted them ([`Kernels`]).
//!
//! A resume (or another shard) whose input has another fingerprint is refused: its tiles would
//! mix two versions of the input. The same content under another spelling of the path (relative
//! or absolute, another working directory or mount) is the same input. Another adapter or kernel
//! path is allowed (the results agree to f32 rounding, not bit for bit) and reported as a note.
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use serde_json::{json, Value};
use std::io::Read;
use std::path::{Path, PathBuf};

/// One input file: its role in the run (`target`, `mask`, `s1[0]`, `guide[1]`, ...), its
/// canonical path (informative only), its size and a hash of its bytes ([`hash_file`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    pub role: String,
    pub path: PathBuf,
    pub size: u64,
    pub hash: u64,
}

const K: u64 = 0x9E37_79B9_7F4A_7C15;

/// One 8-byte word into the state: a bijection of the state for every word (so a single changed
/// word always changes the result) and of the word for every state.
fn mix(h: u64, w: u64) -> u64 {
    (h ^ w).wrapping_mul(K).rotate_left(29)
}

/// The size and a 64-bit hash of `bytes` as a stream of little-endian words, the last one
/// zero-padded, then the length, then MurmurHash3's finaliser. Defined here, so stable across
/// Rust versions and machines (`std`'s `DefaultHasher` is not).
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = Hasher::default();
    h.update(bytes);
    h.finish()
}

#[derive(Default)]
struct Hasher {
    h: u64,
    len: u64,
}

impl Hasher {
    /// `bytes` must be a multiple of 8 long except in the last call.
    fn update(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.h = mix(self.h, u64::from_le_bytes(w.try_into().expect("8 bytes")));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.h = mix(self.h, u64::from_le_bytes(last));
        }
        self.len += bytes.len() as u64;
    }

    fn finish(&self) -> u64 {
        let mut h = mix(self.h, self.len);
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// `(size, hash)` of the file at `path`, read once in 1 MiB blocks ([`hash_bytes`] of its
/// bytes).
pub fn hash_file(path: &Path) -> Result<(u64, u64)> {
    let err = |e| Error::io(path, "cannot read the input to fingerprint it", e);
    let mut f = std::fs::File::open(path).map_err(err)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut h = Hasher::default();
    loop {
        // Fill the block (a multiple of 8) unless the file ends.
        let mut n = 0;
        while n < buf.len() {
            match f.read(&mut buf[n..]).map_err(err)? {
                0 => break,
                k => n += k,
            }
        }
        h.update(&buf[..n]);
        if n < buf.len() {
            return Ok((h.len, h.finish()));
        }
    }
}

impl Fingerprint {
    /// The fingerprint of the file `path` playing `role`.
    pub fn of(role: &str, path: &Path) -> Result<Fingerprint> {
        let (size, hash) = hash_file(path)?;
        let path = std::fs::canonicalize(path)
            .or_else(|_| std::path::absolute(path))
            .unwrap_or_else(|_| path.to_path_buf());
        Ok(Fingerprint {
            role: role.to_string(),
            path,
            size,
            hash,
        })
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "role": self.role,
            "path": self.path,
            "size": self.size,
            "hash": format!("{:016x}", self.hash),
        })
    }

    pub(crate) fn from_json(v: &Value) -> Option<Fingerprint> {
        Some(Fingerprint {
            role: v.get("role")?.as_str()?.to_string(),
            path: PathBuf::from(v.get("path")?.as_str()?),
            size: v.get("size")?.as_u64()?,
            hash: u64::from_str_radix(v.get("hash")?.as_str()?, 16).ok()?,
        })
    }
}

/// `Err` when `now` (this run's inputs) are not the inputs `was` recorded in the work dir `dir`:
/// another list of roles, or an input whose content changed (named, with both paths).
pub(crate) fn check_inputs(dir: &Path, was: &[Fingerprint], now: &[Fingerprint]) -> Result<()> {
    let roles = |l: &[Fingerprint]| l.iter().map(|f| f.role.clone()).collect::<Vec<_>>();
    let bad = |why: String| {
        Error::invalid(
            "work dir",
            format!(
                "{} was made from other inputs: {why} (use another --work-dir, or remove it \
                 to start over)",
                dir.display()
            ),
        )
    };
    if roles(was) != roles(now) {
        let (a, b) = (roles(was).join(", "), roles(now).join(", "));
        return Err(bad(format!("the inputs were [{a}], now [{b}]")));
    }
    for (w, n) in was.iter().zip(now) {
        if (w.size, w.hash) != (n.size, n.hash) {
            return Err(bad(format!(
                "the {} {} changed since its tiles were fitted (it was {} bytes, hash {:016x}, \
                 at {}; now {} bytes, hash {:016x})",
                n.role,
                n.path.display(),
                w.size,
                w.hash,
                w.path.display(),
                n.size,
                n.hash
            )));
        }
    }
    Ok(())
}

/// The adapter and kernel path that fit a run's tiles: the subgroup convolution kernels and the
/// portable ones agree to f32 rounding, not bit for bit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kernels {
    pub adapter: String,
    pub backend: String,
    pub driver: String,
    /// The device's subgroup size when it has subgroup operations (8 on lavapipe: the
    /// subgroup convolution kernels), `None` for the portable kernels.
    pub subgroups: Option<u32>,
}

impl Kernels {
    pub fn of(gpu: &Gpu) -> Kernels {
        let s = gpu.summary();
        Kernels {
            adapter: s.name,
            backend: s.backend,
            driver: format!("{} {}", s.driver, s.driver_info).trim().to_string(),
            subgroups: gpu.subgroup_size(),
        }
    }

    fn describe(&self) -> String {
        let path = match self.subgroups {
            Some(n) => format!("subgroups of {n}"),
            None => "portable kernels, no subgroups".to_string(),
        };
        format!(
            "{} ({}, {}; {path})",
            self.adapter, self.backend, self.driver
        )
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "adapter": self.adapter,
            "backend": self.backend,
            "driver": self.driver,
            "subgroups": self.subgroups,
        })
    }

    pub(crate) fn from_json(v: &Value) -> Option<Kernels> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Some(Kernels {
            adapter: s("adapter")?,
            backend: s("backend")?,
            driver: s("driver")?,
            subgroups: v.get("subgroups")?.as_u64().map(|n| n as u32),
        })
    }

    /// A note when `self` (this run) is not `was` (the work dir's first run), else `None`.
    pub(crate) fn note_against(&self, was: &Kernels) -> Option<String> {
        (self != was).then(|| {
            format!(
                "the work dir's tiles so far were fitted on {}, this run uses {}: the new tiles \
                 may differ from what the first adapter would give in the last bits",
                was.describe(),
                self.describe()
            )
        })
    }
}
