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
}

impl EpochFeed {
    /// A feed of one epoch, the last: a one-off build.
    pub fn once(epoch: Epoch) -> Self {
        EpochFeed {
            state: Mutex::new(FeedState {
                epoch: Some(Arc::new(Epoch {
                    last: true,
                    ..epoch
                })),
                stopped: false,
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
    /// `None` once stopped.
    pub fn next(&self, done: Option<u32>) -> Option<Arc<Epoch>> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if state.stopped {
                return None;
            }
            if let Some(epoch) = &state.epoch
                && done.is_none_or(|d| epoch.number > d)
            {
                return Some(epoch.clone());
            }
            state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Hands an epoch's gathered reports to whoever started it (a live feed; a one-off
    /// build's workers return theirs).
    pub fn deliver(&self, reports: Vec<WorkerReport>) {
        self.send(Ok(reports));
    }

    /// Says that a worker failed, so the epoch's reports will not come.
    pub fn fail(&self, why: String) {
        self.send(Err(why));
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
        let first = feed.next(None).expect("an epoch");
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
                while let Some(e) = feed.next(done) {
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
}
