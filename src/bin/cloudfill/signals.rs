//! SIGINT and SIGTERM while a fit can save itself: [`Catch`] turns them into a flag the fit loop
//! polls ([`caught`]) between steps, so a checkpoint is written before the process exits. A
//! second signal while the first is handled ends the process at once (the checkpoint on disk is
//! always a whole one). Dropping the `Catch` gives the signals their default action back, as
//! outside a fit. Elsewhere than on Unix nothing is caught.
use std::sync::atomic::{AtomicI32, Ordering};

/// The signal caught since the last [`Catch::install`], 0 for none.
static CAUGHT: AtomicI32 = AtomicI32::new(0);

/// The signal caught while a [`Catch`] was installed: its number and name.
pub(crate) fn caught() -> Option<(i32, &'static str)> {
    match CAUGHT.load(Ordering::SeqCst) {
        0 => None,
        n => Some((n, name(n))),
    }
}

fn name(n: i32) -> &'static str {
    #[cfg(unix)]
    if n == libc::SIGTERM {
        return "SIGTERM";
    }
    let _ = n;
    "SIGINT"
}

/// SIGINT and SIGTERM caught while this lives.
pub(crate) struct Catch {
    #[cfg(unix)]
    old: Vec<(i32, libc::sigaction)>,
}

#[cfg(unix)]
extern "C" fn on_signal(sig: libc::c_int) {
    // Only async-signal-safe calls here: an atomic swap, and on a second signal sigaction and
    // raise to take the default action (end the process).
    if CAUGHT.swap(sig, Ordering::SeqCst) != 0 {
        // SAFETY: resetting a disposition to SIG_DFL and raising are async-signal-safe.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
    }
}

impl Catch {
    #[cfg(unix)]
    pub(crate) fn install() -> Catch {
        CAUGHT.store(0, Ordering::SeqCst);
        let mut old = Vec::new();
        for sig in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: a zeroed sigaction is valid (empty mask, no flags); the handler only
            // touches an atomic.
            unsafe {
                let mut act: libc::sigaction = std::mem::zeroed();
                act.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
                act.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut act.sa_mask);
                let mut prev: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, &act, &mut prev) != 0 {
                    continue;
                }
                if prev.sa_sigaction == libc::SIG_IGN {
                    // An ignored signal (e.g. SIGINT of a background job) stays ignored.
                    libc::sigaction(sig, &prev, std::ptr::null_mut());
                    continue;
                }
                old.push((sig, prev));
            }
        }
        Catch { old }
    }

    #[cfg(not(unix))]
    pub(crate) fn install() -> Catch {
        Catch {}
    }
}

impl Drop for Catch {
    fn drop(&mut self) {
        #[cfg(unix)]
        for (sig, prev) in &self.old {
            // SAFETY: restores the disposition saved by `install`.
            unsafe {
                libc::sigaction(*sig, prev, std::ptr::null_mut());
            }
        }
    }
}
