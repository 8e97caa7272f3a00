//! `landopp-fuzz TARGET [FILE...]`
//!
//! Built with `--features afl` (by `cargo afl build`), it is an AFL++ persistent-mode harness for
//! TARGET reading its input from AFL. Without it, it replays each FILE (or every file of each
//! folder) through TARGET and prints the outcome: the way to reproduce a crash AFL found.

use landopp_fuzz::Target;

fn target_from_args() -> Target {
    let name = std::env::args().nth(1).unwrap_or_default();
    Target::from_name(&name).unwrap_or_else(|| {
        let names: Vec<&str> = Target::ALL.iter().map(|t| t.name()).collect();
        eprintln!("usage: landopp-fuzz TARGET [FILE|DIR...]; targets: {}", names.join(", "));
        std::process::exit(2)
    })
}

#[cfg(feature = "afl")]
fn main() {
    let target = target_from_args();
    // `fuzz_nohook!`: a panic escaping landopp aborts (a crash for AFL); the one panic the core
    // catches on purpose — geo's relate on degenerate topology (tiny or subnormal coordinates),
    // caught in `validity::ogc_status` and reported as an invalid geometry — is not one
    afl::fuzz_nohook!(|data: &[u8]| {
        let _ = target.run(data);
    });
}

#[cfg(not(feature = "afl"))]
fn main() {
    let target = target_from_args();
    let mut files = Vec::new();
    for a in std::env::args().skip(2) {
        let p = std::path::PathBuf::from(a);
        match std::fs::read_dir(&p) {
            Ok(rd) => {
                let mut v: Vec<_> = rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect();
                v.sort();
                files.extend(v);
            }
            Err(_) => files.push(p),
        }
    }
    for f in files {
        let data = match std::fs::read(&f) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("{}: {e}", f.display());
                continue;
            }
        };
        let t = std::time::Instant::now();
        let outcome = match target.run(&data) {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("{}: {e}", e.code()),
        };
        println!("{} ({} bytes, {:.1} ms): {outcome}", f.display(), data.len(), t.elapsed().as_secs_f64() * 1e3);
    }
    landopp_fuzz::cleanup();
}
