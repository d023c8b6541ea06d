//! Build progress: counters the workers bump (scenes read, masked, first pass, kept, samples,
//! shards)
//! and, unless `--quiet`, indicatif bars on stderr redrawn from them (hidden off a terminal).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// What the workers of this process have done so far.
#[derive(Debug, Default)]
pub struct Counters {
    /// Scenes read from the trees.
    pub scenes_read: AtomicU64,
    /// Workers of this process done reading.
    pub readers_done: AtomicU64,
    /// Workers of this process.
    pub workers: u64,
    /// Scenes through mask completion.
    pub scenes_masked: AtomicU64,
    /// Scenes through the first pass.
    pub scenes_counted: AtomicU64,
    /// Scenes with kept candidates (known once the selection is done).
    pub scenes_kept: AtomicU64,
    /// Scenes through the second pass.
    pub scenes_emitted: AtomicU64,
    /// Samples made.
    pub samples: AtomicU64,
    /// Shards written.
    pub shards_written: AtomicU64,
}

impl Counters {
    /// Adds `n` to a counter.
    pub fn bump(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// The bars, redrawn from the counters on a thread until dropped.
pub struct ProgressDisplay {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ProgressDisplay {
    /// Starts drawing (to stderr, when it is a terminal); `shards` is the number to write.
    pub fn start(counters: Arc<Counters>, shards: u64) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || draw(&counters, shards, &stop2));
        ProgressDisplay {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for ProgressDisplay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn bar(multi: &MultiProgress, name: &str, unit: &str) -> ProgressBar {
    let style = ProgressStyle::with_template(&format!(
        "{name:>10} {{bar:30}} {{pos:>9}}/{{len:<9}} {unit:<6} {{elapsed:>4}} eta {{eta:<4}} {{msg}}"
    ))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    let b = multi.add(ProgressBar::new(0));
    b.set_style(style);
    b
}

fn draw(c: &Counters, shards: u64, stop: &AtomicBool) {
    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
    let read = bar(&multi, "read", "scenes");
    let masks = bar(&multi, "masks", "scenes");
    let first = bar(&multi, "candidates", "scenes");
    let emit = bar(&multi, "samples", "scenes");
    let write = bar(&multi, "shards", "shards");
    write.set_length(shards);
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    loop {
        let done = stop.load(Ordering::Relaxed);
        let n = load(&c.scenes_read);
        // Until every tree is read the scene total is unknown: the bar runs ahead by one.
        let total = if load(&c.readers_done) >= c.workers {
            n
        } else {
            n + 1
        };
        read.set_length(total);
        read.set_position(n);
        masks.set_length(total);
        masks.set_position(load(&c.scenes_masked));
        first.set_length(total);
        first.set_position(load(&c.scenes_counted));
        emit.set_length(load(&c.scenes_kept).max(load(&c.scenes_emitted)));
        emit.set_position(load(&c.scenes_emitted));
        emit.set_message(format!("{} samples", load(&c.samples)));
        write.set_position(load(&c.shards_written));
        if done {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for b in [read, masks, first, emit, write] {
        b.finish();
    }
}
