//! Keeping the pool's workers awake through a tick.
//!
//! A tick of the million-node city is some forty parallel passes with short serial
//! stretches between them (a system's set-up, the worm's commit, the event log). Rayon
//! parks a worker that has found no work for a few microseconds, and each pass must then
//! wake it again: a futex call, and on a virtual machine the host's wake-up of an idle
//! vCPU. Measured on the project's 2-core machine (`perf` with `sched_switch`, 120 ticks of
//! `smart-city-1m` at 2 threads), the second worker was off its CPU for more than a third
//! of the tick, much of it while the first had parallel work it could have taken.
//!
//! [`with_workers_awake`] runs a closure while the pool's other workers *poll* for its
//! work instead of parking: each is a short job that steals and runs whatever work is
//! queued ([`rayon::yield_now`]) for a bounded number of polls, then queues a fresh copy of
//! itself and returns. Returning matters: a worker waiting inside a `join` may pick a
//! poller up, and a poller that spun until the tick ended would then sit on top of work the
//! tick waits for — a deadlock. A poller that always returns within its burst of polls
//! never blocks anything beneath it, so the pool stays as free of deadlocks as rayon
//! itself (rayon's thieves take the oldest job first, so a poller is usually taken before
//! any of its closure's work, but nothing here relies on that). The cost is CPU: the other
//! workers spin through the tick's serial stretches, as OpenMP's active wait policy does.

use std::sync::atomic::{AtomicBool, Ordering};

/// How many polls one poller makes before it queues a fresh copy of itself and returns
/// (each failed poll tries every worker's queue: tens of nanoseconds at a few threads).
const POLLS_PER_BURST: u32 = 1024;

/// Runs `f` on a worker of the current pool (this thread if it is one: parallel passes
/// started from a worker cost a deque push, not a wake-up) while the pool's other workers
/// poll for its parallel work instead of parking (see the module docs). With one thread
/// there are no pollers. A panic in `f` still stops the pollers and then reaches the
/// caller.
pub fn with_workers_awake<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let helpers = rayon::current_num_threads().saturating_sub(1);
    let done = AtomicBool::new(false);
    rayon::scope(|s| {
        for _ in 0..helpers {
            s.spawn(|s| poll(s, &done));
        }
        let _stop = StopOnDrop(&done);
        f()
    })
}

/// One burst of polls, then a fresh poller queued unless the work is done.
fn poll<'s>(scope: &rayon::Scope<'s>, done: &'s AtomicBool) {
    for _ in 0..POLLS_PER_BURST {
        if done.load(Ordering::Acquire) {
            return;
        }
        if rayon::yield_now() != Some(rayon::Yield::Executed) {
            std::hint::spin_loop();
        }
    }
    if !done.load(Ordering::Acquire) {
        scope.spawn(move |s| poll(s, done));
    }
}

/// Tells the pollers to stop when the work returns or unwinds.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    use crate::test_pool as pool;

    /// The pollers take the closure's parallel work: a pass that waits on every worker's
    /// share finishes, so the other workers took part while the closure ran.
    #[test]
    fn pollers_run_the_closures_parallel_work() {
        pool(3).install(|| {
            let sum = with_workers_awake(|| (0..1_000_000u64).into_par_iter().sum::<u64>());
            assert_eq!(sum, 499_999_500_000);
            let seen: std::collections::BTreeSet<usize> = with_workers_awake(|| {
                (0..64)
                    .into_par_iter()
                    .map(|_| {
                        std::thread::sleep(std::time::Duration::from_millis(2));
                        rayon::current_thread_index().unwrap_or(usize::MAX)
                    })
                    .collect()
            });
            assert!(seen.len() > 1, "only worker(s) {seen:?} ran the pass");
        });
    }

    /// Closures that nest (a universe stepped inside another's parallel pass, as the lab
    /// and the twin's ensemble do, with parallel passes inside) finish with the right
    /// answer at several thread counts: no poller sits on work another waits for.
    #[test]
    fn nested_closures_do_not_deadlock() {
        let inner = |i: u64| {
            with_workers_awake(|| {
                (0..16u32)
                    .into_par_iter()
                    .map(|j| {
                        (0..64u32)
                            .into_par_iter()
                            .map(|k| i + u64::from(j * k))
                            .sum::<u64>()
                    })
                    .sum::<u64>()
            })
        };
        for threads in [2, 3, 4] {
            let total: u64 = pool(threads).install(|| {
                (0..400u64)
                    .into_par_iter()
                    .map(|i| with_workers_awake(|| inner(i) + inner(i + 1)))
                    .sum()
            });
            let expected: u64 = (0..400u64)
                .map(|i| {
                    (i..i + 2)
                        .map(|i| {
                            (0..16u32)
                                .map(|j| (0..64u32).map(|k| i + u64::from(j * k)).sum::<u64>())
                                .sum::<u64>()
                        })
                        .sum::<u64>()
                })
                .sum();
            assert_eq!(total, expected, "{threads} threads");
        }
    }

    /// A panic in the closure stops the pollers and reaches the caller (a poller that kept
    /// queueing itself would leave the scope waiting for ever).
    #[test]
    fn a_panic_reaches_the_caller() {
        let caught = pool(2)
            .install(|| std::panic::catch_unwind(|| with_workers_awake(|| panic!("in the tick"))));
        assert!(caught.is_err());
    }

    /// The closure runs on the calling worker, or on a worker of the global pool when
    /// the caller is none.
    #[test]
    fn the_closure_runs_on_a_worker() {
        for threads in [1, 2] {
            let here = pool(threads).install(|| {
                let outer = rayon::current_thread_index();
                with_workers_awake(|| rayon::current_thread_index() == outer)
            });
            assert!(here, "{threads} threads");
        }
        assert!(with_workers_awake(
            || rayon::current_thread_index().is_some()
        ));
    }
}
