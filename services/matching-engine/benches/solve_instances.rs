//! The solver on instance directories in the format of `shared/bench/README.md`
//! (`meta.bin`, `tails.bin`, `heads.bin`, `cost.bin`, `caps.bin`; little-endian int64).
//! Prints one JSON line per instance: solve time, objective, served needs, peak memory.
//!
//! ```sh
//! cargo bench -p tsunagu-matching-engine --bench solve_instances -- /path/to/instance …
//! ```
//!
//! `scripts/bench-matching.sh` generates instances with the reference script, runs OR-Tools
//! on them and this on the same files, and prints both side by side.

use std::path::Path;
use std::time::Instant;

use tsunagu_matching_engine::{Instance, solve};

fn read_i64s(path: &Path) -> Result<Vec<i64>, String> {
    let bytes = std::fs::read(path).map_err(|error| format!("{}: {error}", path.display()))?;
    if bytes.len() % 8 != 0 {
        return Err(format!("{}: not a whole number of int64", path.display()));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|chunk| i64::from_le_bytes(chunk.try_into().expect("8 bytes")))
        .collect())
}

fn narrow(values: Vec<i64>, what: &str) -> Result<Vec<u32>, String> {
    values
        .into_iter()
        .map(|value| u32::try_from(value).map_err(|_| format!("{what}: {value} does not fit")))
        .collect()
}

fn load(directory: &Path) -> Result<Instance, String> {
    let meta = read_i64s(&directory.join("meta.bin"))?;
    let [needs, _offers, penalty] = meta[..] else {
        return Err("meta.bin must hold N, M, penalty".into());
    };
    let tails = narrow(read_i64s(&directory.join("tails.bin"))?, "tails")?;
    let heads = narrow(read_i64s(&directory.join("heads.bin"))?, "heads")?;
    let costs = read_i64s(&directory.join("cost.bin"))?;
    let capacity = narrow(read_i64s(&directory.join("caps.bin"))?, "caps")?;
    Instance::new(capacity, vec![penalty; needs as usize], &tails, &heads, &costs)
        .map_err(|error| error.to_string())
}

/// The process's peak resident memory in bytes (Linux), for the report.
fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn main() {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let directories: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    if directories.is_empty() {
        eprintln!("usage: solve_instances <instance dir>…");
        return;
    }
    for directory in directories {
        let path = Path::new(&directory);
        let loaded = Instant::now();
        let instance = match load(path) {
            Ok(instance) => instance,
            Err(error) => {
                eprintln!("{directory}: {error}");
                std::process::exit(1);
            }
        };
        let load_s = loaded.elapsed().as_secs_f64();
        let started = Instant::now();
        let assignment = solve(&instance, threads);
        let solve_s = started.elapsed().as_secs_f64();
        if let Err(error) = assignment.verify(&instance) {
            eprintln!("{directory}: the solution does not verify: {error}");
            std::process::exit(1);
        }
        println!(
            "{{\"solver\": \"tsunagu\", \"instance\": \"{directory}\", \"needs\": {}, \"offers\": {}, \"arcs\": {}, \"threads\": {threads}, \"load_s\": {load_s:.3}, \"solve_s\": {solve_s:.3}, \"objective\": {}, \"served\": {}, \"peak_rss_bytes\": {}}}",
            instance.needs(),
            instance.offers(),
            instance.arc_count(),
            assignment.objective,
            assignment.served(),
            peak_memory().unwrap_or(0)
        );
    }
}
