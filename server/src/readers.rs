//! Dedicated threads for the store's reads.
//!
//! Every store call leaves the async executor (DESIGN.md: the executor
//! never blocks). tokio's blocking pool wakes a parked thread for every
//! call while it has idle ones, so each read paid a futex wake (on this
//! project's 2-core VM often an inter-processor interrupt) and a context
//! switch in and out. Reads are short and come in bursts (one worker polls
//! several connections in a row), so here a fixed set of threads, one per
//! read connection, takes them from one queue, and a sleeping thread is
//! woken only when queued reads outnumber the threads already awake: a read
//! that arrives while a thread is busy waits for it, at most one read's
//! time, instead of waking another. `docs/benchmarks.md` has the count of
//! wake-ups and context switches this saves and the rows that measure it.
//!
//! Writes stay on tokio's blocking pool (one may wait up to the busy
//! timeout for SQLite's writer lock, which must not hold up reads), and so
//! does everything on PostgreSQL, whose reads are network round trips that
//! want the pool's width (`StorageBase::read_threads` is 0 there). The
//! queue is bounded by the caller: `App`'s permits admit at most
//! `max_db_in_flight` store calls at once, reads and writes together.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

type Job = Box<dyn FnOnce() + Send + 'static>;

struct State {
    jobs: VecDeque<Job>,
    /// Threads not waiting for work: running a job, about to take one, or
    /// woken and not yet running.
    awake: usize,
    /// Wake-ups handed out and not yet taken by a sleeping thread (so a
    /// spurious wake-up of a condition variable is not counted as one).
    wakeups: usize,
    /// Every wake-up handed out since start (tests count them).
    woken: u64,
    closed: bool,
}

struct Shared {
    state: Mutex<State>,
    work: Condvar,
    threads: usize,
}

impl Shared {
    // Jobs run outside the lock and the state is only changed under it in
    // steps that leave it whole, so a poisoned lock is safe to use.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A fixed set of threads running store reads (see the module's text).
/// Dropping it lets the threads finish the queued reads and exit.
pub struct ReadThreads {
    shared: Arc<Shared>,
}

/// Why a read did not return a value.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadFailed {
    /// The read panicked (a bug; the thread survives it).
    Panicked(String),
    /// The threads stopped before running it (the server is shutting down).
    Stopped,
}

impl std::fmt::Display for ReadFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadFailed::Panicked(m) => write!(f, "a store read panicked: {m}"),
            ReadFailed::Stopped => f.write_str("the store's read threads stopped"),
        }
    }
}

impl ReadThreads {
    /// Starts `threads` threads (at least one), named `store-read-N`.
    pub fn start(threads: usize) -> std::io::Result<ReadThreads> {
        let threads = threads.max(1);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                awake: threads,
                wakeups: 0,
                woken: 0,
                closed: false,
            }),
            work: Condvar::new(),
            threads,
        });
        for n in 0..threads {
            let s = shared.clone();
            let started = std::thread::Builder::new()
                .name(format!("store-read-{n}"))
                .spawn(move || run_jobs(&s));
            if let Err(e) = started {
                // The threads already running exit once closed.
                let mut st = shared.lock();
                st.closed = true;
                drop(st);
                shared.work.notify_all();
                return Err(e);
            }
        }
        Ok(ReadThreads { shared })
    }

    /// Runs `f` on one of the threads and waits for its value without
    /// blocking the executor.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ReadFailed> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(catch_unwind(AssertUnwindSafe(f)));
        });
        // In a block so that no guard lives across the await below.
        let wake = {
            let mut s = self.shared.lock();
            if s.closed {
                return Err(ReadFailed::Stopped);
            }
            s.jobs.push_back(job);
            let wake = s.jobs.len() > s.awake && s.awake < self.shared.threads;
            if wake {
                s.awake += 1;
                s.wakeups += 1;
                s.woken += 1;
            }
            wake
        };
        if wake {
            self.shared.work.notify_one();
        }
        match rx.await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(panic)) => Err(ReadFailed::Panicked(panic_message(&*panic))),
            Err(_) => Err(ReadFailed::Stopped),
        }
    }

    /// Wake-ups of a sleeping thread since start.
    pub fn wakeups(&self) -> u64 {
        self.shared.lock().woken
    }
}

impl Drop for ReadThreads {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.work.notify_all();
    }
}

fn run_jobs(shared: &Shared) {
    let mut s = shared.lock();
    loop {
        if let Some(job) = s.jobs.pop_front() {
            drop(s);
            job();
            s = shared.lock();
            continue;
        }
        if s.closed {
            return;
        }
        s.awake -= 1;
        while s.wakeups == 0 && !s.closed {
            s = shared.work.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        if s.wakeups > 0 {
            // The waker counted this thread awake already.
            s.wakeups -= 1;
        } else {
            s.awake += 1;
        }
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn a_read_returns_its_value_and_a_panic_is_an_error_not_a_lost_thread() {
        let r = ReadThreads::start(1).expect("start");
        assert_eq!(r.run(|| 6 * 7).await, Ok(42));
        let failed = r.run(|| -> i32 { panic!("boom") }).await;
        assert_eq!(failed, Err(ReadFailed::Panicked("boom".into())));
        // The one thread survived the panic and runs the next read.
        assert_eq!(r.run(|| "still here").await, Ok("still here"));
    }

    #[tokio::test]
    async fn a_read_behind_a_busy_thread_waits_for_it_and_a_second_queued_one_wakes_another() {
        let r = Arc::new(ReadThreads::start(2).expect("start"));
        // Both threads start awake; let them go to sleep first.
        let deadline = Instant::now() + Duration::from_secs(5);
        while r.shared.lock().awake > 0 {
            assert!(Instant::now() < deadline, "the idle threads never slept");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let busy = {
            let r = r.clone();
            tokio::spawn(async move {
                r.run(move || {
                    started_tx.send(()).expect("started");
                    release_rx.recv_timeout(Duration::from_secs(5)).is_ok()
                })
                .await
            })
        };
        tokio::task::spawn_blocking(move || started_rx.recv_timeout(Duration::from_secs(5)))
            .await
            .expect("join")
            .expect("the first read never started");
        assert_eq!(r.wakeups(), 1, "the first read woke one thread");
        // One read queued behind the busy thread wakes nobody...
        let second = {
            let r = r.clone();
            tokio::spawn(async move { r.run(|| 2).await })
        };
        while r.shared.lock().jobs.is_empty() {
            tokio::task::yield_now().await;
        }
        assert_eq!(r.wakeups(), 1, "a read behind one busy thread woke another");
        // ...a second one does, and it runs while the first still blocks.
        assert_eq!(r.run(|| 3).await, Ok(3));
        assert_eq!(r.wakeups(), 2);
        release_tx.send(()).expect("release");
        assert_eq!(busy.await.expect("join"), Ok(true));
        assert_eq!(second.await.expect("join"), Ok(2));
    }

    #[tokio::test]
    async fn dropped_threads_finish_what_is_queued_and_exit() {
        let r = ReadThreads::start(3).expect("start");
        let shared = Arc::downgrade(&r.shared);
        assert_eq!(r.run(|| 1).await, Ok(1));
        drop(r);
        let deadline = Instant::now() + Duration::from_secs(5);
        while shared.strong_count() > 0 {
            assert!(Instant::now() < deadline, "a read thread did not exit");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}
