//! Epochs of the build graph: what one run over the inputs as they are now is given
//! ([`Epoch`]), and the feed that hands epochs to a process's workers ([`EpochFeed`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};

use crossview_schemas::SourceKind;
use serde::{Deserialize, Serialize};

use super::graph::WorkerReport;
use super::shards::ShardInfo;

/// One timestamp of the graph: the native trees and their signatures as they are now, and
/// the shards as last published (kept where unchanged). The graph holds what earlier epochs
/// fed it; an epoch feeds only what changed since.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Epoch {
    /// The epoch's timestamp, from 0.
    pub number: u32,
    /// Native trees and their kinds; tree `i` is read by worker `i % workers`.
    pub trees: Vec<(PathBuf, SourceKind)>,
    /// Each tree's signature (its files' stamps), as `trees`.
    pub tree_signatures: Vec<String>,
    /// The published build's shards by path (empty without one).
    pub previous: Arc<BTreeMap<String, ShardInfo>>,
    /// Whether no epoch follows: the graph closes its input and runs to completion (which
    /// frees its state before the shards are made) instead of stopping at the timestamp.
    pub last: bool,
}

/// Hands epochs to worker 0 (which announces them to every worker), and its gathered
/// reports back.
pub struct EpochFeed {
    state: Mutex<FeedState>,
    changed: Condvar,
    reports: Mutex<Option<Sender<EpochReports>>>,
}

/// An epoch's gathered worker reports, or why they will not come.
pub type EpochReports = Result<Vec<WorkerReport>, String>;

#[derive(Default)]
struct FeedState {
    epoch: Option<Arc<Epoch>>,
    stopped: bool,
    /// The first worker failure, once one happened.
    failure: Option<String>,
    /// This process's workers that returned from their epochs without failing.
    finished: usize,
}

/// How long worker 0 waits for an epoch between steps of its worker: a step is what finds
/// a cluster process gone (its queues poisoned), which stops the build.
const IDLE_STEP: std::time::Duration = std::time::Duration::from_millis(100);

impl EpochFeed {
    /// A feed of one epoch, the last: a one-off build.
    pub fn once(epoch: Epoch) -> Self {
        EpochFeed {
            state: Mutex::new(FeedState {
                epoch: Some(Arc::new(Epoch {
                    last: true,
                    ..epoch
                })),
                ..FeedState::default()
            }),
            changed: Condvar::new(),
            reports: Mutex::new(None),
        }
    }

    /// A feed of epochs started one at a time ([`EpochFeed::start`]) until stopped, and
    /// where worker 0's gathered reports of each arrive.
    pub fn live() -> (Self, Receiver<EpochReports>) {
        let (tx, rx) = std::sync::mpsc::channel();
        let feed = EpochFeed {
            state: Mutex::new(FeedState::default()),
            changed: Condvar::new(),
            reports: Mutex::new(Some(tx)),
        };
        (feed, rx)
    }

    /// Starts `epoch` (worker 0, waiting in [`EpochFeed::next`], announces it to the others).
    pub fn start(&self, epoch: Epoch) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.epoch = Some(Arc::new(epoch));
        self.changed.notify_all();
    }

    /// Stops the workers once they finish their epoch.
    pub fn stop(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.stopped = true;
        self.changed.notify_all();
    }

    /// The epoch after the one numbered `done` (the first when `None`), once started;
    /// `None` once stopped. While waiting, calls `idle` every [`IDLE_STEP`] (the lock
    /// released).
    pub fn next(&self, done: Option<u32>, mut idle: impl FnMut()) -> Option<Arc<Epoch>> {
        let ready = |s: &FeedState| {
            (s.epoch.as_ref())
                .filter(|e| done.is_none_or(|d| e.number > d))
                .cloned()
        };
        loop {
            let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let (state, _) = (self.changed)
                .wait_timeout_while(state, IDLE_STEP, |s| !s.stopped && ready(s).is_none())
                .unwrap_or_else(|e| e.into_inner());
            if state.stopped {
                return None;
            }
            if let Some(epoch) = ready(&state) {
                return Some(epoch);
            }
            drop(state);
            idle();
        }
    }

    /// Hands an epoch's gathered reports to whoever started it (a live feed; a one-off
    /// build's workers return theirs).
    pub fn deliver(&self, reports: Vec<WorkerReport>) {
        self.send(Ok(reports));
    }

    /// Says that a worker failed, so the epoch's reports will not come (and the other
    /// workers may wait for the failed one for ever).
    pub fn fail(&self, why: String) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.failure.get_or_insert_with(|| why.clone());
        self.changed.notify_all();
        drop(state);
        self.send(Err(why));
    }

    /// Says that one of this process's workers returned from its epochs without failing.
    pub fn finish(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.finished += 1;
        self.changed.notify_all();
    }

    /// The first worker failure, if one happened.
    pub fn failure(&self) -> Option<String> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.failure.clone()
    }

    /// Waits until this process's `workers` all finished, or one failed (its failure).
    pub fn wait_workers(&self, workers: usize) -> Result<(), String> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let state = (self.changed)
            .wait_while(state, |s| s.failure.is_none() && s.finished < workers)
            .unwrap_or_else(|e| e.into_inner());
        state.failure.clone().map_or(Ok(()), Err)
    }

    fn send(&self, reports: EpochReports) {
        let sender = self.reports.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = sender.as_ref() {
            // The receiver gone means the build is being torn down.
            let _ = tx.send(reports);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(number: u32) -> Epoch {
        Epoch {
            number,
            trees: Vec::new(),
            tree_signatures: Vec::new(),
            previous: Arc::default(),
            last: false,
        }
    }

    #[test]
    fn a_one_off_feed_gives_one_last_epoch() {
        let feed = EpochFeed::once(epoch(0));
        let first = feed.next(None, || {}).expect("an epoch");
        assert!(first.last);
    }

    #[test]
    fn a_live_feed_waits_for_each_epoch_and_ends_when_stopped() {
        let (feed, reports) = EpochFeed::live();
        let feed = Arc::new(feed);
        let worker = {
            let feed = feed.clone();
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                let mut done = None;
                while let Some(e) = feed.next(done, || {}) {
                    seen.push(e.number);
                    done = Some(e.number);
                    feed.deliver(Vec::new());
                }
                seen
            })
        };
        for n in 0..3 {
            feed.start(epoch(n));
            // The worker reports each epoch before it is given the next one.
            assert!(reports.recv().expect("a report").is_ok());
        }
        feed.stop();
        assert_eq!(worker.join().expect("joins"), vec![0, 1, 2]);
    }

    #[test]
    fn a_worker_waiting_for_an_epoch_steps_while_it_waits() {
        let (feed, _reports) = EpochFeed::live();
        let feed = Arc::new(feed);
        let starter = {
            let feed = feed.clone();
            std::thread::spawn(move || {
                std::thread::sleep(IDLE_STEP * 3);
                feed.start(epoch(0));
            })
        };
        let mut steps = 0;
        let first = feed.next(None, || steps += 1).expect("an epoch");
        starter.join().expect("joins");
        assert_eq!(first.number, 0);
        assert!((1..=4).contains(&steps), "{steps} steps");
    }

    #[test]
    fn waiting_for_workers_ends_when_all_finish_or_at_the_first_failure() {
        let feed = EpochFeed::once(epoch(0));
        feed.finish();
        feed.finish();
        assert_eq!(feed.wait_workers(2), Ok(()));

        let (feed, reports) = EpochFeed::live();
        let feed = Arc::new(feed);
        let failing = {
            let feed = feed.clone();
            std::thread::spawn(move || {
                feed.finish();
                feed.fail("worker 1: gone".into());
                feed.fail("worker 0: gone too".into());
            })
        };
        assert_eq!(feed.wait_workers(2), Err("worker 1: gone".into()));
        failing.join().expect("joins");
        assert_eq!(feed.failure().as_deref(), Some("worker 1: gone"));
        // Whoever waits for the epoch's reports hears it too.
        assert_eq!(
            reports.recv().expect("sent").err().as_deref(),
            Some("worker 1: gone")
        );
    }
}
