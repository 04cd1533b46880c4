//! The thread pool that augmentation runs on, separate from rayon's global pool.
//!
//! Its size comes from [`set_num_threads`], else from the `FERROTUNE_NUM_THREADS` environment
//! variable, else from the number of available cores. A forked child (a PyTorch DataLoader
//! worker) inherits the pool's bookkeeping but none of its threads: using it there would wait
//! forever. So on Unix an at-fork handler keeps the pool's lock consistent across `fork` and
//! drops the inherited pool in the child, and every use also checks the process id; the child
//! then builds a fresh pool of its own on first use.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::{Error, Result};

/// The environment variable that sets the default number of threads.
pub const ENV_VAR: &str = "FERROTUNE_NUM_THREADS";

struct Entry {
    pid: u32,
    threads: usize,
    pool: Arc<rayon::ThreadPool>,
}

static POOL: Mutex<Option<Entry>> = Mutex::new(None);
/// Threads asked for through [`set_num_threads`]; 0 means "not set".
static REQUESTED: AtomicUsize = AtomicUsize::new(0);

fn lock() -> MutexGuard<'static, Option<Entry>> {
    // A panic never happens while the lock is held, but stay usable if one did.
    POOL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sets the number of threads for later calls; `None` goes back to the default. The current
/// pool is replaced (its threads finish their work and exit).
pub fn set_num_threads(n: Option<usize>) -> Result<()> {
    if n == Some(0) {
        return Err(Error::invalid(
            "n",
            0,
            "the number of threads must be at least 1",
        ));
    }
    REQUESTED.store(n.unwrap_or(0), Ordering::SeqCst);
    let old = lock().take();
    drop(old);
    Ok(())
}

/// The number of threads the next call will use.
pub fn num_threads() -> Result<usize> {
    match REQUESTED.load(Ordering::SeqCst) {
        0 => default_threads(),
        n => Ok(n),
    }
}

fn default_threads() -> Result<usize> {
    match std::env::var(ENV_VAR) {
        Ok(text) if !text.trim().is_empty() => match text.trim().parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(Error::invalid(
                ENV_VAR,
                format!("{text:?}"),
                "the environment variable must be a positive integer",
            )),
        },
        _ => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

/// The pool for this process, built on first use (again after a fork or a size change).
fn current() -> Result<Arc<rayon::ThreadPool>> {
    register_fork_handler();
    let threads = num_threads()?;
    let pid = std::process::id();
    let mut slot = lock();
    if let Some(entry) = slot.as_ref() {
        if entry.pid == pid && entry.threads == threads {
            return Ok(entry.pool.clone());
        }
        if entry.pid != pid {
            // Inherited through a fork the handler did not see: the threads are gone, and
            // dropping the pool would signal them. Leak it instead.
            std::mem::forget(slot.take());
        }
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("ferrotune-augment-{i}"))
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the augmentation threads: {e}")))?;
    let pool = Arc::new(pool);
    *slot = Some(Entry {
        pid,
        threads,
        pool: pool.clone(),
    });
    Ok(pool)
}

/// Runs `work` inside the augmentation pool, so that its parallel iterators use those threads.
pub fn install<R: Send>(work: impl FnOnce() -> R + Send) -> Result<R> {
    let pool = current()?;
    Ok(pool.install(work))
}

#[cfg(unix)]
mod fork {
    use std::cell::RefCell;
    use std::sync::{MutexGuard, Once};

    use super::{lock, Entry};

    thread_local! {
        /// The pool lock, held by the forking thread from `prepare` to `parent` / `child`.
        static HELD: RefCell<Option<MutexGuard<'static, Option<Entry>>>> =
            const { RefCell::new(None) };
    }

    extern "C" fn prepare() {
        let guard = lock();
        HELD.with(|h| *h.borrow_mut() = Some(guard));
    }

    extern "C" fn parent() {
        HELD.with(|h| drop(h.borrow_mut().take()));
    }

    extern "C" fn child() {
        HELD.with(|h| {
            if let Some(mut guard) = h.borrow_mut().take() {
                // The child has none of the pool's threads: forget it without touching them.
                std::mem::forget(guard.take());
            }
        });
    }

    pub(super) fn register() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            // SAFETY: the handlers are plain functions that only take and release the pool's
            // lock on the thread that forks; registration cannot fail in a way we could act on.
            unsafe {
                libc::pthread_atfork(Some(prepare), Some(parent), Some(child));
            }
        });
    }
}

fn register_fork_handler() {
    #[cfg(unix)]
    fork::register();
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    #[test]
    fn runs_work_on_the_pool() {
        let total: u64 = install(|| (0..1000u64).into_par_iter().sum()).unwrap();
        assert_eq!(total, 499_500);
        let names: Vec<String> = install(|| {
            (0..4)
                .into_par_iter()
                .map(|_| std::thread::current().name().unwrap_or("").to_string())
                .collect()
        })
        .unwrap();
        assert!(names.iter().all(|n| n.starts_with("ferrotune-augment-")));
    }

    #[test]
    fn zero_threads_is_refused() {
        assert!(set_num_threads(Some(0)).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn usable_in_a_forked_child() {
        // Warm the pool so the child inherits a built one, then use it in the child.
        install(|| (0..100u32).into_par_iter().sum::<u32>()).unwrap();
        // SAFETY: the child only runs Rust code that the at-fork handler made safe, then exits.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let ok = install(|| (0..1000u64).into_par_iter().sum::<u64>()) == Ok(499_500);
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let mut status = 0;
        // Wait at most ~20 s for the child, so a deadlock fails the test instead of hanging.
        for _ in 0..2000 {
            let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if done == pid {
                assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        unsafe { libc::kill(pid, libc::SIGKILL) };
        panic!("the forked child did not finish: the pool deadlocked");
    }
}
