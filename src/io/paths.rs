//! Which files a run reads and writes are the same file: no two outputs may be one file, and no
//! output may be an input (not even with `--overwrite`), however the paths are spelled (`./t.tif`,
//! an absolute path, a symbolic or hard link).
use super::file_err;
use crate::error::Result;
use std::path::{Path, PathBuf};

/// What identifies a file: its device and inode where it exists (so hard links match), and its
/// canonical path (the canonical folder joined with the name, for a file not yet written).
#[derive(Debug, PartialEq, Eq)]
struct FileId {
    inode: Option<(u64, u64)>,
    path: PathBuf,
}

impl FileId {
    fn of(path: &Path) -> FileId {
        let inode = std::fs::metadata(path).ok().map(|m| inode(&m));
        let path = std::fs::canonicalize(path).unwrap_or_else(|_| {
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
            dir.join(path.file_name().unwrap_or_default())
        });
        FileId { inode, path }
    }

    fn same(&self, other: &FileId) -> bool {
        self.path == other.path || (self.inode.is_some() && self.inode == other.inode)
    }
}

#[cfg(unix)]
fn inode(m: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

#[cfg(not(unix))]
fn inode(_: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

/// `Err` naming both flags if two `outputs` are the same file, or an output is one of the
/// `inputs`. Each entry is (the flag that names it, the path). Call it before any work.
pub fn check_distinct(outputs: &[(&str, &Path)], inputs: &[(&str, &Path)]) -> Result<()> {
    let outs: Vec<FileId> = outputs.iter().map(|(_, p)| FileId::of(p)).collect();
    for (i, (flag, path)) in outputs.iter().enumerate() {
        for (j, (other, _)) in outputs.iter().enumerate().take(i) {
            if outs[i].same(&outs[j]) {
                return Err(file_err(
                    path,
                    format!("{flag} and {other} are the same file: give each output its own path"),
                ));
            }
        }
        for (input, ipath) in inputs {
            if outs[i].same(&FileId::of(ipath)) {
                return Err(file_err(
                    path,
                    format!(
                        "{flag} is the {input} input ({}): an output never replaces an input, \
                         not even with --overwrite",
                        ipath.display()
                    ),
                ));
            }
        }
    }
    Ok(())
}
