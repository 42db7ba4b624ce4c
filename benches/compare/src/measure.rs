//! Trials in rotating order, medians and per-trial ratios.

use std::time::{Duration, Instant};

use crate::Plan;

/// Something to measure: `run(n)` performs `n` operations (calls, messages).
pub trait Job {
    fn run(&mut self, n: u64);
}

impl<F: FnMut(u64)> Job for F {
    fn run(&mut self, n: u64) {
        self(n)
    }
}

#[allow(clippy::needless_range_loop)] // `rates[i][trial]`: trials are the columns
/// The operation rates (per second) of `jobs`, `rates[job][trial]`. Each trial runs every job
/// once, for about `plan.batch_ms`, starting from a different job each time.
pub fn rotate(jobs: &mut [Box<dyn Job + '_>], plan: Plan) -> Vec<Vec<f64>> {
    let target = Duration::from_millis(plan.batch_ms);
    let counts: Vec<u64> = jobs.iter_mut().map(|j| calibrate(j, target)).collect();
    let mut rates = vec![vec![0.0; plan.trials]; jobs.len()];
    for trial in 0..plan.trials {
        for k in 0..jobs.len() {
            let i = (trial + k) % jobs.len();
            let start = Instant::now();
            jobs[i].run(counts[i]);
            rates[i][trial] = counts[i] as f64 / start.elapsed().as_secs_f64();
        }
    }
    rates
}

/// How many operations take about `target`; the runs double as a warm-up.
fn calibrate(job: &mut Box<dyn Job + '_>, target: Duration) -> u64 {
    let mut n = 1u64;
    loop {
        let start = Instant::now();
        job.run(n);
        let took = start.elapsed();
        if took >= target / 8 || n >= 1 << 40 {
            let scale = target.as_secs_f64() / took.as_secs_f64().max(1e-9);
            return ((n as f64 * scale) as u64).max(1);
        }
        n *= 4;
    }
}

pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The per-trial ratios `a[t] / b[t]`.
fn per_trial(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x / y).collect()
}

/// The median over trials of `a[t] / b[t]`.
pub fn ratio(a: &[f64], b: &[f64]) -> f64 {
    median(&per_trial(a, b))
}

/// The middle half of the per-trial ratios `a[t] / b[t]`: their first and third quartiles
/// (nearest rank), to show how far one trial's ratio strays from the median.
pub fn ratio_spread(a: &[f64], b: &[f64]) -> (f64, f64) {
    let mut r = per_trial(a, b);
    r.sort_by(f64::total_cmp);
    let Some(last) = r.len().checked_sub(1) else {
        return (f64::NAN, f64::NAN);
    };
    (r[last / 4], r[last - last / 4])
}

/// `1234567.0` as `1.23 M`, and so on.
pub fn si(x: f64) -> String {
    if x >= 1e9 {
        format!("{:.2} G", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.2} M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1} k", x / 1e3)
    } else {
        format!("{x:.1}")
    }
}

pub fn size_name(len: usize) -> String {
    if len >= 1 << 20 && len.is_multiple_of(1 << 20) {
        format!("{} MiB", len >> 20)
    } else if len >= 1024 && len.is_multiple_of(1024) {
        format!("{} KiB", len >> 10)
    } else {
        format!("{len} B")
    }
}

/// The CPU time the calling thread has used, in seconds.
pub fn thread_cpu_secs() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable `timespec`.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}
