//! PyO3 glue for landopp: conversions and error mapping only. Public API and docs live in the
//! Python package (`python/landopp`).

mod convert;
mod error;
mod features;
mod io;
mod ml;
mod registry;
mod scoring;
mod search;
mod sources;
mod spectral;
mod terrain;
mod zonal;

use pyo3::prelude::*;

// The extension's allocator: see `landopp::alloc` (numpy arrays of results freed on the Python
// thread; a search index built inside Python was 8 % slower than in a fresh process with glibc).
#[global_allocator]
static GLOBAL: landopp::alloc::Allocator = landopp::alloc::Allocator;

/// landopp's worker threads for this process. Rebuilt in a child after `fork()` (the parent's
/// threads do not exist there; rayon's global pool would deadlock), so `multiprocessing` with the
/// fork start method is safe.
fn pool() -> landopp::Result<std::sync::Arc<rayon::ThreadPool>> {
    use std::sync::{Arc, Mutex};
    static POOL: Mutex<Option<(u32, Arc<rayon::ThreadPool>)>> = Mutex::new(None);
    let pid = std::process::id();
    let mut g = POOL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((p, pool)) = g.as_ref() {
        if *p == pid {
            return Ok(pool.clone());
        }
    }
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("landopp-{i}"))
            // Python code runs on these threads (progress callbacks, which may call landopp,
            // pyproj, GDAL): give them a main thread's stack, not Rust's 2 MiB default.
            // Reserved, not committed, memory.
            .stack_size(16 << 20)
            .build()
            .map_err(|e| landopp::Error::InvalidInput(format!("cannot start worker threads: {e}")))?,
    );
    // a pool inherited through fork() has no threads behind it: leak it rather than drop it
    if let Some(old) = g.replace((pid, pool.clone())) {
        std::mem::forget(old);
    }
    Ok(pool)
}

/// Run core work with the GIL released, mapping errors to landopp's Python exceptions.
/// Every call that does real work goes through here: the work runs on landopp's pool while this
/// thread waits; every 50 ms it checks for signals, and on Ctrl-C asks the core to stop
/// ([`landopp::interrupt`]) and raises `KeyboardInterrupt` once the work has returned. Called
/// from a landopp worker (Python code run by landopp, e.g. a progress callback calling landopp
/// again) the work runs on that thread: no deadlock.
pub(crate) fn run<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> landopp::Result<T> + Send,
{
    let pool = pool().map_err(|e| error::to_py(py, e))?;
    if pool.current_thread_index().is_some() {
        // called from Python code that landopp's own worker is running (a progress callback, a
        // custom function): waiting for another worker could wait for this one, so run here
        let out = py.detach(|| landopp::error::catch_panic(f));
        return out.map_err(|e| error::to_py(py, e));
    }
    let (out, signal) = py.detach(|| {
        pool.in_place_scope(|s| {
            let (tx, rx) = std::sync::mpsc::channel();
            s.spawn(move |_| {
                // a panic becomes an `INTERNAL` error, never a PanicException
                let _ = tx.send(landopp::error::catch_panic(f));
            });
            recv_polling(&rx)
        })
    });
    finish(py, out, signal)
}

/// Run Python code (a progress callback) from one of landopp's worker threads.
///
/// The first time a worker calls into Python it gets a Python thread state that it keeps for
/// the life of the thread. Without that, every `Python::attach` on a thread Python did not create
/// makes a fresh thread state and deletes it afterwards, which clears that thread's
/// `threading.local` data between two calls: pyproj keeps its PROJ context there, and its second
/// `CRS(...)` on the same thread crashed the interpreter (SIGSEGV in `proj_create`).
pub(crate) fn attach_from_worker<R>(f: impl FnOnce(Python<'_>) -> R) -> R {
    thread_local! {
        static PINNED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    if !PINNED.with(std::cell::Cell::get) {
        // SAFETY: only on a thread with no Python thread state of its own (checked first), while
        // the interpreter runs (a worker only calls back during a landopp call made from Python):
        // `PyGILState_Ensure` creates and attaches a thread state holding the GIL,
        // `PyEval_SaveThread` releases the GIL and keeps the state; later `PyGILState_Ensure`
        // calls on this thread reuse it, and their releases never delete it (count stays >= 1).
        #[allow(unsafe_code)]
        unsafe {
            if pyo3::ffi::PyGILState_GetThisThreadState().is_null() {
                let _ = pyo3::ffi::PyGILState_Ensure();
                pyo3::ffi::PyEval_SaveThread();
            }
        }
        PINNED.with(|p| p.set(true));
    }
    Python::attach(f)
}

/// Receive a worker's result (called with the GIL released), checking for signals every 50 ms;
/// on Ctrl-C the core is asked to stop ([`landopp::interrupt`]) and the signal is returned with
/// the result.
fn recv_polling<T>(rx: &std::sync::mpsc::Receiver<T>) -> (Option<T>, Option<PyErr>) {
    use std::sync::mpsc::RecvTimeoutError;
    let mut signal: Option<PyErr> = None;
    loop {
        match rx.recv_timeout(std::time::Duration::from_millis(50)) {
            Ok(r) => return (Some(r), signal),
            Err(RecvTimeoutError::Disconnected) => return (None, signal),
            Err(RecvTimeoutError::Timeout) if signal.is_none() => {
                if let Err(e) = Python::attach(|py| py.check_signals()) {
                    landopp::interrupt::request();
                    signal = Some(e);
                }
            }
            Err(_) => {}
        }
    }
}

/// A worker's result as Python sees it: `KeyboardInterrupt` if a signal came, else the result
/// with core errors mapped to landopp's exceptions.
fn finish<T>(py: Python<'_>, out: Option<landopp::Result<T>>, signal: Option<PyErr>) -> PyResult<T> {
    if let Some(e) = signal {
        landopp::interrupt::clear();
        return Err(e);
    }
    match out {
        Some(r) => r.map_err(|e| error::to_py(py, e)),
        // the sender was dropped without a result (panics arrive as `INTERNAL` errors)
        None => Err(error::to_py(py, landopp::Error::Internal("a landopp worker stopped without a result".into()))),
    }
}

/// Test hook: a panic inside landopp's worker, to check that a bug reaches Python as
/// `landopp.InternalError` (code `INTERNAL`) and not as a `PanicException`.
#[pyfunction]
fn _panic_for_tests(py: Python<'_>) -> PyResult<()> {
    run(py, || -> landopp::Result<()> { panic!("a panic raised on purpose by _panic_for_tests") })
}

#[pymodule]
fn _landopp(m: &Bound<'_, PyModule>) -> PyResult<()> {
    landopp::alloc::configure();
    // `threading` takes the thread that first imports it as the main thread and waits for it at
    // exit. Import it here, on the thread importing landopp, so a progress callback importing it
    // first on a worker (whose thread state lives on, see `attach_from_worker`) cannot make exit
    // wait for that worker forever.
    m.py().import("threading")?;
    m.add("__version__", landopp::VERSION)?;
    m.add("BUILD_PROFILE", if cfg!(debug_assertions) { "debug" } else { "release" })?;
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    io::register(m)?;
    terrain::register(m)?;
    zonal::register(m)?;
    spectral::register(m)?;
    features::register(m)?;
    scoring::register(m)?;
    search::register(m)?;
    ml::register(m)?;
    registry::register(m)?;
    sources::register(m)?;
    Ok(())
}
