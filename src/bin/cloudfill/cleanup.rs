//! SIGINT and SIGTERM while a tiled run keeps its tiles in a temporary folder: the folder is
//! removed, then the process exits with 128 + the signal's number (130, 143), as a shell reports
//! a process the signal killed.
//!
//! The handler only writes the signal's number to a pipe (async-signal-safe); a thread waiting
//! on the pipe removes the folders and ends the process at once, whatever the main thread is
//! doing (fitting, merging, opening the GPU). Tile files are written atomically, so a run killed
//! in the middle of a write leaves nothing else behind in the folder.
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Folders to remove when a signal arrives.
static FOLDERS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Removes `dir` (and everything in it) when SIGINT or SIGTERM arrives, then exits 130 / 143.
/// The first call installs the handlers.
pub(crate) fn remove_on_signal(dir: &Path) -> anyhow::Result<()> {
    let mut list = FOLDERS.lock().expect("not poisoned");
    if list.is_empty() {
        unix::install()?;
    }
    list.push(dir.to_path_buf());
    Ok(())
}

/// Removes the registered folders (retrying while the main thread may still add a file), says
/// so, and exits.
fn clean_up_and_exit(sig: i32) -> ! {
    let name = match sig {
        2 => "SIGINT",
        15 => "SIGTERM",
        _ => "a signal",
    };
    let list = match FOLDERS.lock() {
        Ok(l) => l.clone(),
        Err(p) => p.into_inner().clone(),
    };
    for dir in &list {
        for _ in 0..50 {
            match std::fs::remove_dir_all(dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                _ => break,
            }
        }
        eprintln!(
            "\ninterrupted by {name}: removed the temporary tiles {} (with --work-dir DIR the \
             finished tiles are kept and the same command resumes)",
            dir.display()
        );
    }
    unix::exit(128 + sig)
}

#[cfg(unix)]
mod unix {
    use std::sync::atomic::{AtomicI32, Ordering};

    /// The pipe's write end, for the handler.
    static WRITE_FD: AtomicI32 = AtomicI32::new(-1);

    extern "C" fn on_signal(sig: libc::c_int) {
        let byte = sig as u8;
        let fd = WRITE_FD.load(Ordering::Relaxed);
        // SAFETY: write(2) is async-signal-safe; the buffer is one byte on the stack.
        unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
    }

    pub(super) fn install() -> anyhow::Result<()> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: pipe(2) fills the two descriptors of the array it is given.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            anyhow::bail!("cannot create a pipe: {}", std::io::Error::last_os_error());
        }
        let read_fd = fds[0];
        WRITE_FD.store(fds[1], Ordering::Relaxed);
        std::thread::spawn(move || {
            let mut byte = 0u8;
            // SAFETY: a blocking read of one byte into a local.
            let n = unsafe { libc::read(read_fd, (&mut byte as *mut u8).cast(), 1) };
            if n == 1 {
                super::clean_up_and_exit(i32::from(byte));
            }
        });
        for sig in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: a zeroed sigaction with a plain handler (no SA_SIGINFO) is valid.
            let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
            act.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            act.sa_flags = libc::SA_RESTART;
            // SAFETY: installs the handler above, which only calls write(2).
            if unsafe { libc::sigaction(sig, &act, std::ptr::null_mut()) } != 0 {
                anyhow::bail!(
                    "cannot install a signal handler: {}",
                    std::io::Error::last_os_error()
                );
            }
        }
        Ok(())
    }

    /// Ends the process now, without running destructors or exit handlers (the main thread may
    /// be inside the GPU driver).
    pub(super) fn exit(code: i32) -> ! {
        // SAFETY: _exit(2) ends the process; nothing of it runs afterwards.
        unsafe { libc::_exit(code) }
    }
}

#[cfg(not(unix))]
mod unix {
    pub(super) fn install() -> anyhow::Result<()> {
        Ok(())
    }

    pub(super) fn exit(code: i32) -> ! {
        std::process::exit(code)
    }
}
