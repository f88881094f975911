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

use tsunagu_matching_engine::{Arc, Instance, Matcher, solve};

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

/// The raw arrays of an instance directory.
struct Arrays {
    penalty: i64,
    needs: usize,
    tails: Vec<u32>,
    heads: Vec<u32>,
    costs: Vec<i64>,
    capacity: Vec<u32>,
}

fn read_arrays(directory: &Path) -> Result<Arrays, String> {
    let meta = read_i64s(&directory.join("meta.bin"))?;
    let [needs, _offers, penalty] = meta[..] else {
        return Err("meta.bin must hold N, M, penalty".into());
    };
    Ok(Arrays {
        penalty,
        needs: needs as usize,
        tails: narrow(read_i64s(&directory.join("tails.bin"))?, "tails")?,
        heads: narrow(read_i64s(&directory.join("heads.bin"))?, "heads")?,
        costs: read_i64s(&directory.join("cost.bin"))?,
        capacity: narrow(read_i64s(&directory.join("caps.bin"))?, "caps")?,
    })
}

/// The instance of the first `needs` needs only.
fn prefix(arrays: &Arrays, needs: usize) -> Result<Instance, String> {
    let arcs = arrays.tails.partition_point(|&tail| (tail as usize) < needs);
    Instance::new(
        arrays.capacity.clone(),
        vec![arrays.penalty; needs],
        &arrays.tails[..arcs],
        &arrays.heads[..arcs],
        &arrays.costs[..arcs],
    )
    .map_err(|error| error.to_string())
}

/// Solves all but the last `arrivals` needs, then adds those one by one: the time of each
/// arrival, and whether the end state is the full optimum.
fn arrivals(arrays: &Arrays, arrivals: usize, full_objective: i64) -> Result<String, String> {
    let start = arrays.needs.saturating_sub(arrivals);
    let initial = prefix(arrays, start)?;
    let started = Instant::now();
    let mut matcher = Matcher::new(initial);
    let initial_s = started.elapsed().as_secs_f64();
    let mut times = Vec::with_capacity(arrivals);
    let mut moved_total = 0;
    for need in start..arrays.needs {
        let from = arrays.tails.partition_point(|&tail| (tail as usize) < need);
        let to = arrays.tails.partition_point(|&tail| (tail as usize) <= need);
        let arcs: Vec<Arc> = (from..to)
            .map(|arc| Arc {
                offer: arrays.heads[arc],
                cost: arrays.costs[arc],
            })
            .collect();
        let arrived = Instant::now();
        let (_, moved) = matcher
            .add_need(arrays.penalty, &arcs)
            .map_err(|error| error.to_string())?;
        times.push(arrived.elapsed());
        moved_total += moved.len();
    }
    times.sort();
    let at = |p: f64| times[((times.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0;
    let objective = matcher.assignment().objective;
    Ok(format!(
        "\"arrivals\": {arrivals}, \"initial_solve_one_thread_s\": {initial_s:.3}, \"arrival_p50_ms\": {:.3}, \"arrival_p99_ms\": {:.3}, \"arrival_max_ms\": {:.3}, \"needs_moved_per_arrival\": {:.2}, \"incremental_equals_full\": {}",
        at(0.5),
        at(0.99),
        at(1.0),
        moved_total as f64 / arrivals.max(1) as f64,
        objective == full_objective
    ))
}

fn load(directory: &Path) -> Result<Instance, String> {
    let arrays = read_arrays(directory)?;
    prefix(&arrays, arrays.needs)
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
    // Needs that arrive one by one after the others are placed (issue 5: p50 and p99 of 1,000).
    let arrival_count: usize = std::env::var("TSUNAGU_BENCH_ARRIVALS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(1000);
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
        let peak = peak_memory().unwrap_or(0);
        let incremental = match read_arrays(path)
            .and_then(|arrays| arrivals(&arrays, arrival_count, assignment.objective))
        {
            Ok(figures) => figures,
            Err(error) => {
                eprintln!("{directory}: arrivals: {error}");
                std::process::exit(1);
            }
        };
        println!(
            "{{\"solver\": \"tsunagu\", \"instance\": \"{directory}\", \"needs\": {}, \"offers\": {}, \"arcs\": {}, \"threads\": {threads}, \"load_s\": {load_s:.3}, \"solve_s\": {solve_s:.3}, \"objective\": {}, \"served\": {}, \"peak_rss_bytes\": {peak}, {incremental}}}",
            instance.needs(),
            instance.offers(),
            instance.arc_count(),
            assignment.objective,
            assignment.served(),
        );
    }
}
