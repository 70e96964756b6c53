//! Recorders shared between many tasks: a fixed set of shards, each behind a short lock.

use std::sync::{Mutex, PoisonError};

use crate::Recorder;

/// Per-worker recorders shared between many tasks: task `i` records into shard `i % n` under a
/// short [`std::sync::Mutex`]; a collector drains them.
#[derive(Debug)]
pub struct Shards {
    shards: Vec<Mutex<Recorder>>,
}

impl Shards {
    /// `n` shards; 0 is treated as 1.
    pub fn new(n: usize) -> Self {
        Self {
            shards: (0..n.max(1)).map(|_| Mutex::default()).collect(),
        }
    }

    /// The number of shards.
    pub fn len(&self) -> usize {
        self.shards.len()
    }

    /// Always false: there is at least one shard.
    pub fn is_empty(&self) -> bool {
        self.shards.is_empty()
    }

    /// Runs `f` on shard `key % n` under its lock. A lock poisoned by a panicking task is
    /// recovered: its recorder holds whatever was recorded before the panic.
    pub fn with<R>(&self, key: usize, f: impl FnOnce(&mut Recorder) -> R) -> R {
        let shard = &self.shards[key % self.shards.len()];
        let mut guard = shard.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    }

    /// Takes every shard's contents, leaving them empty, and merges them into one recorder.
    pub fn drain(&self) -> Recorder {
        let mut total = Recorder::new();
        for shard in &self.shards {
            let taken = shard.lock().unwrap_or_else(PoisonError::into_inner).take();
            total.merge(&taken);
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::thread;

    use super::*;

    #[test]
    fn several_threads_recording_lose_nothing() {
        let shards = Arc::new(Shards::new(3));
        let handles: Vec<_> = (0..8_usize)
            .map(|task| {
                let shards = Arc::clone(&shards);
                thread::spawn(move || {
                    for i in 0..2_000_u64 {
                        shards.with(task, |r| {
                            r.record("publish.puback", i);
                            r.count("messages.sent", 1);
                        });
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        let total = shards.drain();
        assert_eq!(total.histogram("publish.puback").unwrap().len(), 16_000);
        assert_eq!(total.counter("messages.sent"), 16_000);
        assert!(shards.drain().is_empty(), "drain empties every shard");
    }

    #[test]
    fn zero_shards_means_one_and_a_poisoned_shard_still_records() {
        let shards = Arc::new(Shards::new(0));
        assert_eq!(shards.len(), 1);
        let poisoner = Arc::clone(&shards);
        let outcome = thread::spawn(move || {
            poisoner.with(5, |r| {
                r.count("reconnects", 1);
                panic!("a task dies while holding the lock");
            })
        })
        .join();
        assert!(outcome.is_err());
        shards.with(0, |r| r.count("reconnects", 1));
        assert_eq!(shards.drain().counter("reconnects"), 2);
    }
}
