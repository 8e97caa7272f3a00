//! Cooperative interruption of long work.
//!
//! A binding (Python on Ctrl-C) calls [`request`]; long-running core functions call [`check`]
//! between units of work (pipeline steps, polygons) and return [`Error::Interrupted`]
//! (`INTERRUPTED`) as soon as they see it. The flag is process-wide: every call running at that
//! moment stops. The caller clears it with [`clear`] once its call has returned.

use crate::error::{Error, Result};
use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Ask running work to stop.
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Forget a request (call after the interrupted work has returned).
pub fn clear() {
    REQUESTED.store(false, Ordering::SeqCst);
}

/// True when a stop was requested.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

/// `Err(Interrupted)` when a stop was requested, naming `what` was running.
///
/// ```
/// landopp::interrupt::request();
/// assert_eq!(landopp::interrupt::check("zonal").unwrap_err().code(), "INTERRUPTED");
/// landopp::interrupt::clear();
/// assert!(landopp::interrupt::check("zonal").is_ok());
/// ```
pub fn check(what: &str) -> Result<()> {
    if requested() {
        Err(Error::Interrupted(format!("{what} stopped on request")))
    } else {
        Ok(())
    }
}
