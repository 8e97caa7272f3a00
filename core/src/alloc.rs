//! The allocator of the processes that host landopp through a binding (feature `mimalloc`).
//!
//! The Python and Node bindings hand the core's result buffers to the host (numpy arrays, typed
//! arrays) and the host frees them later on its own thread (reference counting, V8 finalizers),
//! while they were allocated on the core's worker threads. With glibc malloc those arena heaps
//! are then trimmed and the next batch call page-faults its buffers in again: 2,000–12,000 minor
//! faults and +60 % on a 1 M-row `score` from Node; a 1 M-row search index built inside Python
//! answered the same batch 8 % slower than one built in a fresh process (heap placement). mimalloc
//! keeps freed memory for reuse. It is built without transparent huge pages (`no_thp`), and
//! [`Allocator`] advises them for large allocations only: advised on all of mimalloc's arenas,
//! they made a first 1 M-parcel index build from Node 50–80 % slower on a VM, where
//! first-touching a 2 MiB page is expensive; off everywhere, `score` lost 5–15 % (ARCHITECTURE.md).
//!
//! A binding declares
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: landopp::alloc::Allocator = landopp::alloc::Allocator;
//! ```
//! and calls [`configure`] once when it is loaded. Rust applications choose their own global
//! allocator; nothing here is active without the feature.

pub use mimalloc::MiMalloc;

/// The bindings' global allocator: [`MiMalloc`] (built without transparent huge pages), with
/// huge pages advised for single allocations of [`LARGE`] bytes or more only — result columns,
/// sort buffers — where they save TLB misses, and not for the millions of small geometry
/// allocations of an index build, where first-touching 2 MiB pages cost more than it saved.
/// Nor for a block grown by `realloc` (a `Vec` filled by `push`, as a file reader fills its
/// columns): each doubling copies into a new block and touches its pages once, so huge pages
/// there cost their clearing and saved little — a 1 M-parcel index build from Node took
/// 3.96–4.68 s without that advice against 4.25–4.88 s with it (pure Rust 4.14–4.56 s; fresh
/// processes, interleaved).
#[derive(Debug, Clone, Copy, Default)]
pub struct Allocator;

/// Allocations from this size on get `MADV_HUGEPAGE` on their whole 2 MiB pages (Linux).
pub const LARGE: usize = 4 << 20;

/// `p` (an allocation of `size` bytes, or null), with `MADV_HUGEPAGE` advised on its whole
/// 2 MiB pages when it is [`LARGE`].
fn advised(p: *mut u8, size: usize) -> *mut u8 {
    #[cfg(target_os = "linux")]
    if size >= LARGE && !p.is_null() {
        const HUGE: usize = 2 << 20;
        let (start, end) = ((p as usize).next_multiple_of(HUGE), (p as usize + size) / HUGE * HUGE);
        if end > start {
            // SAFETY: advice on whole pages inside this allocation; it never changes contents
            // (the kernel may back later first touches of the range with 2 MiB pages).
            #[allow(unsafe_code)]
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE)
            };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = size;
    p
}

// SAFETY: every method forwards to mimalloc's; the advice touches no memory.
#[allow(unsafe_code)]
unsafe impl std::alloc::GlobalAlloc for Allocator {
    unsafe fn alloc(&self, l: std::alloc::Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        advised(unsafe { MiMalloc.alloc(l) }, l.size())
    }
    unsafe fn alloc_zeroed(&self, l: std::alloc::Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        advised(unsafe { MiMalloc.alloc_zeroed(l) }, l.size())
    }
    unsafe fn dealloc(&self, p: *mut u8, l: std::alloc::Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { MiMalloc.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: std::alloc::Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees. Not advised: see [`Allocator`].
        unsafe { MiMalloc.realloc(p, l, new_size) }
    }
}

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

    /// `VmFlags` of the mapping of `/proc/self/smaps` that holds address `a`.
    #[cfg(target_os = "linux")]
    fn vm_flags(a: usize) -> String {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap_or_default();
        let mut inside = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ') {
                if let Some((lo, hi)) = range.split_once('-') {
                    if let (Ok(lo), Ok(hi)) = (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16)) {
                        inside = lo <= a && a < hi;
                        continue;
                    }
                }
            }
            if inside {
                if let Some(f) = line.strip_prefix("VmFlags:") {
                    return f.trim().to_string();
                }
            }
        }
        String::new()
    }

    #[test]
    fn large_allocations_advised_contents_kept() {
        use std::alloc::{GlobalAlloc, Layout};
        let a = Allocator;
        // SAFETY: layouts are non-zero; every pointer is checked, written within its size and
        // freed once with its layout.
        #[allow(unsafe_code)]
        unsafe {
            let small = Layout::from_size_align(4096, 8).unwrap();
            let s = a.alloc(small);
            assert!(!s.is_null());
            let big = Layout::from_size_align(3 * LARGE, 64).unwrap();
            let b = a.alloc(big);
            assert!(!b.is_null());
            for i in (0..big.size()).step_by(4096) {
                *b.add(i) = (i / 4096) as u8;
            }
            #[cfg(target_os = "linux")]
            {
                let mid = b as usize + big.size() / 2;
                if std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").is_ok() {
                    assert!(vm_flags(mid).split(' ').any(|f| f == "hg"), "large allocation advised: {}", vm_flags(mid));
                }
            }
            // growing a small block past LARGE keeps its contents
            *s = 42;
            let g = a.realloc(s, small, 2 * LARGE);
            assert!(!g.is_null());
            assert_eq!(*g, 42);
            for i in (0..big.size()).step_by(4096) {
                assert_eq!(*b.add(i), (i / 4096) as u8);
            }
            a.dealloc(g, Layout::from_size_align(2 * LARGE, 8).unwrap());
            a.dealloc(b, big);
        }
    }

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
