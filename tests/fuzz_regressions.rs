#![cfg(all(feature = "fuzzing", feature = "deflate", feature = "tokio"))]
//! Replays every committed fuzz input on stable, through the same harness the fuzz targets
//! run: the seed corpora in `fuzz/corpus/<target>/` and the inputs of past findings in
//! `fuzz/regressions/<target>/` (crash files copied out of the git-ignored
//! `fuzz/artifacts/`). Run with `cargo test --all-features`.

mod fuzz_harness;

use std::fs;
use std::path::{Path, PathBuf};

use fuzz_harness::{Harness, TARGETS};

/// Every file under `fuzz/<kind>/<target>/`, sorted.
fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
        .join(target);
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs `target`'s harness on each file, naming the file that fails.
fn replay(kind: &str, target: &str, check: Harness) -> usize {
    let files = inputs(kind, target);
    for file in &files {
        let data = fs::read(file).expect("readable input");
        let outcome = std::panic::catch_unwind(|| check(&data));
        if let Err(panic) = outcome {
            eprintln!("fuzz input failed: {}", file.display());
            std::panic::resume_unwind(panic);
        }
    }
    files.len()
}

fn target(name: &str) -> Harness {
    TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, f)| f)
        .expect("a known target")
}

#[test]
fn every_target_has_a_seed_corpus_and_a_fuzz_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    for (name, _) in TARGETS {
        assert!(!inputs("corpus", name).is_empty(), "no seeds for {name}");
        let source = root.join("fuzz_targets").join(format!("{name}.rs"));
        assert!(source.is_file(), "no fuzz target {}", source.display());
    }
}

macro_rules! replay_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let name = stringify!($name);
                let seeds = replay("corpus", name, target(name));
                let regressions = replay("regressions", name, target(name));
                eprintln!("{name}: {seeds} seeds, {regressions} regressions replayed");
            }
        )*
    };
}

replay_tests!(
    frame_header,
    connection,
    deflate,
    workload,
    handshake_request,
    handshake_response,
    mask,
    utf8,
    proxy_reply,
    tokio_workload,
);

/// Every seed passes its harness (so the corpus is meaningful), and the generated seeds are
/// the committed ones.
#[test]
fn committed_seeds_are_the_generated_ones() {
    for (target, name, bytes) in fuzz_harness::seeds::all() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(target)
            .join(name);
        let committed = fs::read(&path).unwrap_or_default();
        assert!(
            committed == bytes,
            "{} is stale: run `cargo test --all-features --test fuzz_regressions -- --ignored write_seed_corpus`",
            path.display()
        );
    }
}

/// Writes the generated seed corpus to `fuzz/corpus/`.
#[test]
#[ignore = "writes fuzz/corpus/; run by hand after changing the seeds"]
fn write_seed_corpus() {
    for (target, name, bytes) in fuzz_harness::seeds::all() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(target);
        fs::create_dir_all(&dir).expect("create corpus directory");
        fs::write(dir.join(name), bytes).expect("write seed");
    }
}
