//! [`ShardBoard`]: the shards a process's workers make at an epoch, in one place, so that a
//! worker done with its own takes the smallest left of another's and no core idles at the end.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// How long a worker waits for the other workers of its process to put their shards up.
/// They arrive as their part of the graph ends, which is soon; the bound only keeps a worker
/// from waiting for ever on one that died (what it could not take it leaves to its owner:
/// the output does not depend on which worker makes a shard).
const ARRIVAL_WAIT: Duration = Duration::from_secs(30);

/// Per worker of a process, the shards it owns at an epoch and has not started, largest
/// first. Each worker takes from the front of its own; one with none left takes from the
/// back of the longest other, so the last shards made are small ones.
pub struct ShardBoard<T> {
    state: Mutex<Board<T>>,
    arrived: Condvar,
    workers: usize,
}

struct Board<T> {
    epoch: u32,
    /// Per worker: whether it put its shards up at `epoch`, and those not yet taken.
    queues: Vec<(bool, VecDeque<T>)>,
    /// The shards put up at `epoch`, taken or not.
    total: usize,
}

impl<T> std::fmt::Debug for ShardBoard<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardBoard")
            .field("workers", &self.workers)
            .finish_non_exhaustive()
    }
}

impl<T> ShardBoard<T> {
    /// A board for a process of `workers` worker threads.
    pub fn new(workers: usize) -> Self {
        let workers = workers.max(1);
        ShardBoard {
            state: Mutex::new(Board {
                epoch: 0,
                queues: (0..workers).map(|_| (false, VecDeque::new())).collect(),
                total: 0,
            }),
            arrived: Condvar::new(),
            workers,
        }
    }

    /// The worker threads of the process.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Puts up the shards worker `worker` (of the process) owns at `epoch`, largest first;
    /// an empty list says it has none. What is left of an earlier epoch is dropped (a
    /// worker that failed leaves its shards), and a second call of one epoch adds nothing
    /// (a worker that fails after putting its shards up says again it has none). Returns
    /// how many shards the process's workers put up at `epoch`, once all of them did.
    pub fn put_up(&self, worker: usize, epoch: u32, shards: Vec<T>) -> usize {
        let Ok(mut board) = self.state.lock() else {
            return 0;
        };
        if epoch != board.epoch {
            board.epoch = epoch;
            board.total = 0;
            for queue in &mut board.queues {
                *queue = (false, VecDeque::new());
            }
        }
        let slot = worker % self.workers;
        if !board.queues[slot].0 {
            board.total += shards.len();
            board.queues[slot] = (true, shards.into());
            self.arrived.notify_all();
        }
        let deadline = std::time::Instant::now() + ARRIVAL_WAIT;
        while board.epoch == epoch && board.queues.iter().any(|(arrived, _)| !arrived) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            board = match self.arrived.wait_timeout(board, left) {
                Ok((board, _)) => board,
                Err(_) => return 0,
            };
        }
        board.total
    }

    /// The next shard worker `worker` makes at `epoch`: the largest of its own, else the
    /// smallest of the worker with the most left; `None` once none is left.
    pub fn take(&self, worker: usize, epoch: u32) -> Option<T> {
        let mut board = self.state.lock().ok()?;
        if board.epoch != epoch {
            return None;
        }
        let slot = worker % self.workers;
        if let Some(shard) = board.queues[slot].1.pop_front() {
            return Some(shard);
        }
        let (_, longest) = board.queues.iter_mut().max_by_key(|(_, q)| q.len())?;
        longest.pop_back()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_worker_takes_its_own_largest_first_then_the_smallest_of_the_longest_other() {
        let board = Arc::new(ShardBoard::new(3));
        let b = board.clone();
        let first = std::thread::spawn(move || b.put_up(0, 1, vec![30, 20, 10]));
        let b = board.clone();
        let second = std::thread::spawn(move || b.put_up(1, 1, vec![5]));
        // The last to arrive learns the total at once; the others were waiting for it.
        assert_eq!(board.put_up(2, 1, Vec::new()), 4);
        assert_eq!(first.join().ok(), Some(4));
        assert_eq!(second.join().ok(), Some(4));
        assert_eq!(board.take(0, 1), Some(30));
        assert_eq!(board.take(2, 1), Some(10), "the back of the longest");
        assert_eq!(board.take(1, 1), Some(5), "its own first");
        assert_eq!(board.take(1, 1), Some(20));
        assert_eq!(board.take(0, 1), None);
        assert_eq!(board.take(2, 1), None);
    }

    #[test]
    fn an_epoch_starts_afresh_and_a_second_put_adds_nothing() {
        let board = ShardBoard::new(1);
        assert_eq!(board.put_up(0, 0, vec![1, 2]), 2);
        // Worker 0 failed after one shard: the other is left behind.
        assert_eq!(board.take(0, 0), Some(1));
        assert_eq!(
            board.put_up(0, 0, vec![7]),
            2,
            "the epoch's shards were put up"
        );
        assert_eq!(board.take(0, 0), Some(2));
        assert_eq!(
            board.take(0, 1),
            None,
            "a later epoch takes nothing before it is put up"
        );
        assert_eq!(board.put_up(0, 1, vec![3]), 1);
        assert_eq!(board.take(0, 0), None, "an earlier epoch's are gone");
        assert_eq!(board.take(0, 1), Some(3));
    }
}
