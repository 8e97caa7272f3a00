//! The allocator of the processes that host landopp through a binding (feature `mimalloc`).
//!
//! The Python and Node bindings hand the core's result buffers to the host (numpy arrays, typed
//! arrays) and the host frees them later on its own thread (reference counting, V8 finalizers),
//! while they were allocated on the core's worker threads. With glibc malloc those arena heaps
//! are then trimmed and the next batch call page-faults its buffers in again: 2,000–12,000 minor
//! faults and +60 % on a 1 M-row `score` from Node; a 1 M-row search index built inside Python
//! answered the same batch 8 % slower than one built in a fresh process (heap placement). mimalloc
//! keeps freed memory for reuse. It is built without transparent huge pages (`no_thp`): the
//! `MADV_HUGEPAGE` advice made a first 1 M-parcel index build from Node 50–80 % slower on a VM,
//! where first-touching a 2 MiB page is expensive (ARCHITECTURE.md).
//!
//! A binding declares
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: landopp::alloc::MiMalloc = landopp::alloc::MiMalloc;
//! ```
//! and calls [`configure`] once when it is loaded. Rust applications choose their own global
//! allocator; nothing here is active without the feature.

pub use mimalloc::MiMalloc;

/// `mi_option_purge_delay` (the same index in `mimalloc.h` of mimalloc 2 and 3).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Milliseconds freed memory stays with the process before it is returned to the OS.
pub const PURGE_DELAY_MS: i64 = 10_000;

/// Freed memory goes back to the OS after [`PURGE_DELAY_MS`] unused, not mimalloc 3's default
/// 1 s: batch calls seconds apart reuse the previous call's memory instead of faulting it in
/// again (with 1 s, a 1 M-row `score` from Node after a 1.5 s pause faulted 1,000–5,000 pages
/// back in; with 10 s, 0–30). A `MIMALLOC_PURGE_DELAY` set in the environment wins: mimalloc
/// reads its environment at its own start, before a binding is loaded, so
/// `mi_option_set_default` would not apply and the environment is checked here.
pub fn configure() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one integer option of mimalloc; thread-safe, no pointer involved.
        #[allow(unsafe_code)]
        unsafe {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS as std::ffi::c_long)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configure_sets_the_purge_delay() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            eprintln!("MIMALLOC_PURGE_DELAY is set: configure() leaves it alone, nothing to check");
            return;
        }
        // SAFETY: reads one integer option of mimalloc.
        #[allow(unsafe_code)]
        let get = || unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) } as i64;
        // index 15 is the purge delay: its default is 1,000 ms in mimalloc 3 (`options.c`)
        assert_eq!(get(), 1000);
        configure();
        assert_eq!(get(), PURGE_DELAY_MS);
    }
}
