//! rfc6455 against its peers, in one process, on the same workloads: in-place masking, server
//! decode of client-masked messages from memory, client encode, and a loopback echo whose
//! servers run in their own processes so that their CPU time can be read from `/proc`.
//!
//! Every workload runs its implementations in rotating order over several trials; the table
//! shows each one's median, and for rfc6455 against each other the median of the ratios
//! computed within a trial (so that a noisy neighbour slows both sides of a ratio alike).
//!
//! ```text
//! cargo run --release -- [--quick] [--only mask|decode|encode|echo]...
//! cargo run --release -- --only mask --mask-size 125 --mask-size 192   # other masking sizes
//! ```
//!
//! `serve <rfc6455|tungstenite|raw>` (used by the echo workload, which starts this program
//! again for each server) runs one echo server and prints its port.

mod codec;
mod echo;
mod echo_tokio;
mod masking;
mod measure;

use std::time::Instant;

/// How long and how often to measure.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Trials per workload (odd, so the median is a trial's value).
    pub trials: usize,
    /// Time per implementation per trial for the in-memory workloads, in milliseconds.
    pub batch_ms: u64,
    /// Time per server per trial for the loopback echo, in milliseconds.
    pub echo_ms: u64,
    /// Echo trials per cell.
    pub echo_trials: usize,
}

impl Plan {
    const QUICK: Plan = Plan {
        trials: 5,
        batch_ms: 15,
        echo_ms: 400,
        echo_trials: 3,
    };
    const FULL: Plan = Plan {
        trials: 11,
        batch_ms: 50,
        echo_ms: 1500,
        echo_trials: 7,
    };
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut plan = Plan::FULL;
    let mut only: Vec<String> = Vec::new();
    let mut servers: Vec<String> = Vec::new();
    let mut cells: Vec<(usize, usize)> = Vec::new();
    let mut mask_sizes: Vec<usize> = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "serve" => {
                let kind = args.next().expect("serve needs a server kind");
                echo::serve(&kind);
                return;
            }
            "load" => {
                // Drives a server started with `serve` (for profiling it):
                // `load PORT raw|ws CONNECTIONS SIZE SECONDS`.
                let rest: Vec<String> = args.collect();
                echo::load_only(&rest);
                return;
            }
            "--quick" => plan = Plan::QUICK,
            "--only" => only.push(args.next().expect("--only needs a workload")),
            "--server" => servers.push(args.next().expect("--server needs a name")),
            "--mask-size" => {
                let size = args.next().expect("--mask-size needs a size in bytes");
                mask_sizes.push(size.parse().expect("--mask-size needs a size in bytes"));
            }
            "--cell" => {
                let cell = args.next().expect("--cell needs CONNECTIONSxSIZE");
                let (c, s) = cell.split_once('x').expect("--cell CONNECTIONSxSIZE");
                cells.push((c.parse().expect("connections"), s.parse().expect("size")));
            }
            "-h" | "--help" => {
                println!(
                    "usage: rfc6455-compare [--quick] [--only mask|decode|encode|echo]... \
                     [--server raw|raw+OFFSET|rfc6455|tungstenite|tokio-raw|tokio-floor|rfc6455-tokio|rfc6455-tokio-nokeepalive|tokio-websockets|fastwebsockets]... [--cell CONNECTIONSxSIZE]... [--mask-size BYTES]..."
                );
                return;
            }
            // `cargo bench` passes `--bench`; ignore it and anything else unknown.
            _ => {}
        }
    }
    let wants = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    let started = Instant::now();
    println!(
        "# rfc6455 vs peers ({} mode: {} trials, {} ms per batch; echo {} trials x {} ms)",
        if plan.trials == Plan::QUICK.trials {
            "quick"
        } else {
            "full"
        },
        plan.trials,
        plan.batch_ms,
        plan.echo_trials,
        plan.echo_ms
    );
    println!("CPU: {}", cpu_model());
    println!(
        "Versions: tungstenite 0.30, tokio-websockets 0.13, fastwebsockets 0.10 (latest on crates.io)"
    );
    let mut targets = Vec::new();
    if wants("mask") {
        targets.extend(masking::run(plan, &mask_sizes));
    }
    if wants("decode") {
        targets.extend(codec::run_decode(plan));
    }
    if wants("encode") {
        codec::run_encode(plan);
    }
    if wants("echo") {
        targets.extend(echo::run(plan, &servers, &cells));
    }
    if !targets.is_empty() {
        println!("\n## Targets (issues 5, 13 and 14)\n");
        println!("| target | measured | met |");
        println!("|---|---|---|");
        for t in &targets {
            println!("| {} | {:.2}x | {} |", t.what, t.value, t.status());
        }
    }
    println!("\nTotal time: {:.1} s", started.elapsed().as_secs_f64());
}

/// One target of the issue and how it fared: `value` against `goal`.
pub struct Target {
    pub what: String,
    pub value: f64,
    pub goal: f64,
    /// The goal is a ceiling (CPU per round trip), not a floor.
    pub lower_is_better: bool,
}

impl Target {
    /// A ratio that must reach `goal` (a speed).
    pub fn at_least(what: String, value: f64, goal: f64) -> Target {
        Target {
            what,
            value,
            goal,
            lower_is_better: false,
        }
    }

    /// A ratio that must stay at or under `goal` (CPU per round trip).
    pub fn at_most(what: String, value: f64, goal: f64) -> Target {
        Target {
            what,
            value,
            goal,
            lower_is_better: true,
        }
    }

    /// Within 2% of the goal counts as noise on a shared 2-core machine, and says so.
    fn status(&self) -> &'static str {
        let (v, g) = if self.lower_is_better {
            (1.0 / self.value, 1.0 / self.goal)
        } else {
            (self.value, self.goal)
        };
        if v >= g {
            "yes"
        } else if v >= g * 0.98 {
            "within 2% (noise)"
        } else {
            "**no**"
        }
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .map(|m| {
            let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
            let avx2 = if masking::has_avx2() { ", AVX2" } else { "" };
            let avx512 = if masking::has_avx512() {
                ", AVX-512F/BW"
            } else {
                ""
            };
            format!("{m}, {cores} cores{avx2}{avx512}")
        })
        .unwrap_or_else(|| "unknown".into())
}
