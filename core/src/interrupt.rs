//! Cooperative interruption of long work.
//!
//! A binding (Python on Ctrl-C) calls [`request`]; long-running core functions call [`check`]
//! between units of work (pipeline steps, polygons) and return [`Error::Interrupted`]
//! (`INTERRUPTED`) as soon as they see it. The flag is process-wide: every call running at that
//! moment stops. The caller clears it with [`clear`] once its call has returned.
//!
//! A server running many calls stops one of them with a [`Token`] instead: [`with_token`] runs
//! work with the token as the calling thread's own stop flag, seen by [`check`] on that thread
//! — between feature-pipeline steps; checks inside parallel loops run on pool threads, which see
//! only the process-wide flag — so cancelling one job leaves the others running.

use crate::error::{Error, Result};
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// A stop flag for one piece of work ([`with_token`]); clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct Token(Arc<AtomicBool>);

impl Token {
    /// A new, unset token.
    pub fn new() -> Self {
        Token::default()
    }
    /// Ask the work running under this token to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    /// True once [`Token::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Token>> = const { RefCell::new(None) };
}

/// Run `f` with `token` as this thread's stop flag (restored afterwards, also on unwind).
///
/// ```
/// use landopp::interrupt::{check, with_token, Token};
/// let t = Token::new();
/// t.cancel();
/// assert_eq!(with_token(&t, || check("job")).unwrap_err().code(), "INTERRUPTED");
/// assert!(check("job").is_ok(), "other work is not stopped");
/// ```
pub fn with_token<T>(token: &Token, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<Token>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let prev = self.0.take();
            CURRENT.with(|c| *c.borrow_mut() = prev);
        }
    }
    let _restore = Restore(CURRENT.with(|c| c.borrow_mut().replace(token.clone())));
    f()
}

/// Ask running work to stop.
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Forget a request (call after the interrupted work has returned).
pub fn clear() {
    REQUESTED.store(false, Ordering::SeqCst);
}

/// True when a stop was requested (process-wide, or by this thread's [`Token`]).
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed) || CURRENT.with(|c| c.borrow().as_ref().is_some_and(Token::is_cancelled))
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
