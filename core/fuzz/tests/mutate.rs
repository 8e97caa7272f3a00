//! The fuzz targets under `cargo test`: every regression input in `fixtures/fuzz/` must give
//! its recorded outcome, and a deterministic mutation run over the seed corpus must end with no
//! panic, no case over a memory cap and no case over a time cap.
//!
//! The process-wide allocator counts live bytes; each case's peak is measured from its start.
//! Inputs of at most 10 KB must stay under 100 MB ([`MEMORY_LIMIT`]); any allocation that would
//! take the process past [`HARD_CAP`] is refused, which aborts with the case's name printed.
//! `LANDOPP_FUZZ_SECONDS` sets the mutation budget per target (default 2 s; 0 skips mutation).

use landopp_fuzz::Target;
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const MEMORY_LIMIT: usize = 100 << 20;
const HARD_CAP: usize = 1 << 30;
const TIME_LIMIT: Duration = Duration::from_secs(60);

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// The case running now, printed if an allocation is refused (a static C string).
static CASE: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());

fn refuse(size: usize) {
    let mut e = std::io::stderr();
    let _ =
        write!(e, "\nallocation of {size} bytes refused (live {} bytes) while running ", LIVE.load(Ordering::Relaxed));
    let p = CASE.load(Ordering::Relaxed);
    if !p.is_null() {
        // SAFETY: CASE only ever holds pointers from leaked, NUL-terminated `CString`s.
        #[allow(unsafe_code)]
        let s = unsafe { std::ffi::CStr::from_ptr(p as *const std::ffi::c_char) };
        let _ = e.write_all(s.to_bytes());
    }
    let _ = e.write_all(b"\n");
}

#[allow(unsafe_code)]
// SAFETY: every call forwards to `System` with the same layout; the counters are plain atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
        if live > HARD_CAP {
            LIVE.fetch_sub(l.size(), Ordering::Relaxed);
            refuse(l.size());
            return std::ptr::null_mut();
        }
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: same layout as asked.
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
        if live > HARD_CAP {
            LIVE.fetch_sub(l.size(), Ordering::Relaxed);
            refuse(l.size());
            return std::ptr::null_mut();
        }
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: same layout as asked.
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        // SAFETY: `p` came from `alloc` with this layout.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        if new > l.size() {
            let grow = new - l.size();
            let live = LIVE.fetch_add(grow, Ordering::Relaxed) + grow;
            if live > HARD_CAP {
                LIVE.fetch_sub(grow, Ordering::Relaxed);
                refuse(new);
                return std::ptr::null_mut();
            }
            PEAK.fetch_max(live, Ordering::Relaxed);
        } else {
            LIVE.fetch_sub(l.size() - new, Ordering::Relaxed);
        }
        // SAFETY: `p` came from `alloc` with layout `l`.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// One test at a time: the counters are process-wide.
static SERIAL: Mutex<()> = Mutex::new(());

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn corpus_dir(t: Target) -> PathBuf {
    root().join("fixtures/fuzz").join(t.name())
}

#[derive(Debug)]
struct Outcome {
    result: Result<Result<(), String>, String>,
    peak: usize,
    elapsed: Duration,
}

/// Run one case under the counters, a panic guard and a watchdog.
fn run_case(t: Target, label: &str, data: &[u8]) -> Outcome {
    let c = std::ffi::CString::new(label.replace('\0', "?")).unwrap_or_default();
    let old = CASE.swap(c.into_raw() as *mut u8, Ordering::Relaxed);
    if !old.is_null() {
        // SAFETY: `old` came from `CString::into_raw` above.
        #[allow(unsafe_code)]
        drop(unsafe { std::ffi::CString::from_raw(old as *mut std::ffi::c_char) });
    }
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let watch_label = label.to_string();
    let watchdog = std::thread::spawn(move || {
        if rx.recv_timeout(TIME_LIMIT) == Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
            eprintln!("\ncase {watch_label} still running after {TIME_LIMIT:?}: a hang");
            std::process::abort();
        }
    });
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let start = Instant::now();
    let result = std::panic::catch_unwind(|| t.run(data).map_err(|e| e.code().to_string())).map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    });
    let elapsed = start.elapsed();
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    let _ = tx.send(());
    let _ = watchdog.join();
    Outcome { result, peak, elapsed }
}

fn problems(o: &Outcome, len: usize) -> Option<String> {
    if let Err(p) = &o.result {
        return Some(format!("panicked: {p}"));
    }
    if len <= 10_240 && o.peak > MEMORY_LIMIT {
        return Some(format!("{} MB peak for a {len}-byte input", o.peak >> 20));
    }
    None
}

/// Seeds: the committed corpus of the target plus the fixtures of its format.
fn seeds(t: Target) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir(t))
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    let fx = root().join("fixtures");
    let mut add = |rel: &str| files.push(fx.join(rel));
    match t {
        Target::GeoTiff => {
            for f in ["slovenia/dem.tif", "slovenia/lulc_raster.tif", "olinda/srtm_dem_utm25s.tif"] {
                add(f)
            }
        }
        Target::GeoJson => add("slovenia/bbox.geojson"),
        Target::Crs => add("formats/olinda_tracts.prj"),
        _ => {}
    }
    files.sort();
    files.dedup();
    files
        .into_iter()
        .filter(|p| p.extension().and_then(|e| e.to_str()) != Some("md"))
        .map(|p| (p.strip_prefix(&fx).unwrap_or(&p).display().to_string(), std::fs::read(&p).expect("seed")))
        .collect()
}

#[test]
fn regression_inputs_give_their_recorded_outcome() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let expected: BTreeMap<String, String> = serde_json::from_str(
        &std::fs::read_to_string(root().join("fixtures/fuzz/expected.json")).expect("expected.json"),
    )
    .expect("expected.json is a map of input path to outcome");
    let mut failures = Vec::new();
    let mut seen = 0;
    for t in Target::ALL {
        for (name, data) in seeds(t) {
            // seeds read cleanly; every other committed input has its outcome recorded
            let seed = name.rsplit('/').next().is_some_and(|f| f.starts_with("seed-"));
            let Some(want) = expected.get(&name).map(String::as_str).or(seed.then_some("ok")) else {
                if name.starts_with("fuzz/") {
                    failures.push(format!("{name}: no outcome recorded in fixtures/fuzz/expected.json"));
                }
                continue;
            };
            seen += 1;
            let o = run_case(t, &name, &data);
            let got = match &o.result {
                Ok(Ok(())) => "ok".to_string(),
                Ok(Err(code)) => code.clone(),
                Err(_) => "panic".to_string(),
            };
            if let Some(p) = problems(&o, data.len()) {
                failures.push(format!("{name}: {p}"));
            } else if got != want {
                failures.push(format!("{name}: expected {want}, got {got}"));
            }
        }
    }
    landopp_fuzz::cleanup();
    let missing: Vec<&String> = expected.keys().filter(|k| !root().join("fixtures").join(k).is_file()).collect();
    assert!(missing.is_empty(), "inputs of expected.json not found: {missing:?}");
    assert!(seen > expected.len(), "only {seen} inputs checked");
    assert!(failures.is_empty(), "{} regression inputs failed:\n{}", failures.len(), failures.join("\n"));
}

/// xorshift64*: a small deterministic generator (no dependency).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: [u64; 12] =
    [0, 1, 2, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFF_FFFF, 0xFFFF_FFFF, 0x1_0000, 1 << 40, u64::MAX];
const TOKENS: [&str; 18] = [
    "[",
    "]",
    "{",
    "}",
    "\"",
    ",",
    ":",
    "NaN",
    "1e308",
    "-1",
    "0",
    "99999999999",
    "null",
    "GEOGCS[",
    "PARAMETER[",
    "\"type\":",
    "+proj=",
    "[[[[[[[[",
];

fn mutate(rng: &mut Rng, seed: &[u8], text: bool) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let n = v.len();
        match rng.below(if text { 9 } else { 8 }) {
            0 if n > 0 => {
                let i = rng.below(n);
                v[i] ^= 1 << rng.below(8);
            }
            1 if n > 0 => {
                let i = rng.below(n);
                v[i] = INTERESTING[rng.below(6)] as u8;
            }
            2 | 3 if n >= 8 => {
                // a 2-, 4- or 8-byte integer set to an interesting value, either byte order
                let w = [2usize, 4, 8][rng.below(3)];
                let i = rng.below(n - w + 1);
                let x = INTERESTING[rng.below(INTERESTING.len())];
                let b = if rng.below(2) == 0 { x.to_le_bytes() } else { x.to_be_bytes() };
                let b = if b[0] == 0 && w < 8 { x.to_le_bytes() } else { b };
                v[i..i + w].copy_from_slice(&b[..w]);
            }
            4 if n > 1 => v.truncate(rng.below(n)),
            5 if n > 1 => {
                // duplicate a span
                let a = rng.below(n);
                let l = 1 + rng.below((n - a).min(512));
                let span = v[a..a + l].to_vec();
                let at = rng.below(n);
                v.splice(at..at, span);
            }
            6 if n > 1 => {
                let a = rng.below(n);
                let l = 1 + rng.below((n - a).min(256));
                v.drain(a..a + l);
            }
            7 => {
                let at = rng.below(n + 1);
                let k = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..k).map(|_| rng.next() as u8).collect();
                v.splice(at..at, bytes);
            }
            _ => {
                let at = rng.below(n + 1);
                let tok = TOKENS[rng.below(TOKENS.len())].as_bytes().repeat(1 + rng.below(3));
                v.splice(at..at, tok);
            }
        }
    }
    v
}

#[test]
fn mutated_seeds_never_panic_or_blow_up() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let secs: f64 = std::env::var("LANDOPP_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(2.0);
    let mut failures = Vec::new();
    let mut counts = Vec::new();
    for t in Target::ALL {
        let seeds = seeds(t);
        if seeds.is_empty() {
            failures.push(format!("{}: no seeds in {}", t.name(), corpus_dir(t).display()));
            continue;
        }
        let text = matches!(t, Target::GeoJson | Target::Crs | Target::Model | Target::Config | Target::Wkt);
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ t.name().len() as u64);
        let start = Instant::now();
        let mut n = 0usize;
        while start.elapsed().as_secs_f64() < secs {
            let (name, seed) = &seeds[n % seeds.len()];
            let data = mutate(&mut rng, seed, text);
            let label = format!("{} mutant {n} of {name}", t.name());
            let o = run_case(t, &label, &data);
            if let Some(p) = problems(&o, data.len()) {
                let keep = std::env::temp_dir().join(format!("landopp-fuzz-failure-{}-{n}", t.name()));
                let _ = std::fs::write(&keep, &data);
                failures.push(format!("{label}: {p} (input kept in {})", keep.display()));
            } else if o.elapsed > Duration::from_secs(10) {
                failures.push(format!("{label}: took {:?}", o.elapsed));
            }
            n += 1;
        }
        counts.push(format!("{} {n}", t.name()));
    }
    landopp_fuzz::cleanup();
    eprintln!("mutation cases run: {}", counts.join(", "));
    assert!(failures.is_empty(), "{} mutated inputs failed:\n{}", failures.len(), failures.join("\n"));
}
