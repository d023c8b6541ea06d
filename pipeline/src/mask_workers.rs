//! [`ThreadCompleters`]: one mask completer per thread of a rayon pool (a segmenter's
//! sessions belong to one thread at a time), for the commands that run without the graph.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;

use crossview_schemas::InputError;
use crossview_stages::masks::{MaskCompleter, MaskConfig, MaskStats};
use crossview_stages::sources::SceneData;

/// Completers for the threads of the current rayon pool, with what they did.
pub struct ThreadCompleters {
    slots: Vec<Mutex<MaskCompleter>>,
    done: Mutex<(MaskStats, Vec<InputError>)>,
    /// A cache folder made for this run (removed on drop).
    scratch: Option<PathBuf>,
}

impl ThreadCompleters {
    /// One completer per thread of the current rayon pool, caching in `cache` (none: a
    /// folder of its own for the run, so a second pass over the scenes finds the first's
    /// masks).
    pub fn open(cfg: &MaskConfig, cache: Option<&Path>) -> anyhow::Result<Self> {
        let scratch = match cache {
            Some(_) => None,
            None => {
                static RUN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                let n = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Some(
                    std::env::temp_dir()
                        .join(format!("crossview-masks-{}-{n}", std::process::id())),
                )
            }
        };
        let dir = cache.map(Path::to_path_buf).or_else(|| scratch.clone());
        let slots = (0..rayon::current_num_threads())
            .map(|_| MaskCompleter::open(cfg, dir.as_deref()).map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()
            .context("mask completion")?;
        Ok(ThreadCompleters {
            slots,
            done: Mutex::new((MaskStats::default(), Vec::new())),
            scratch,
        })
    }

    /// The segmenter's model id (none: fallbacks only).
    pub fn model_id(&self) -> Option<String> {
        let c = self.slots.first()?.lock().ok()?;
        c.model_id().map(String::from)
    }

    /// Completes a scene of the tree at `root` on the calling thread's completer, keeping
    /// the counts and input errors.
    pub fn complete(&self, scene: Arc<SceneData>, root: &Path) -> anyhow::Result<Arc<SceneData>> {
        let slot = rayon::current_thread_index().unwrap_or(0) % self.slots.len();
        let done = self.slots[slot]
            .lock()
            .map_err(|_| anyhow::anyhow!("a mask worker panicked"))?
            .complete(scene, root)?;
        let mut d = self
            .done
            .lock()
            .map_err(|_| anyhow::anyhow!("a mask worker panicked"))?;
        d.0.merge(&done.stats);
        d.1.extend(done.errors);
        Ok(done.scene)
    }

    /// What the completers did so far (counts, input errors), taken.
    pub fn take(&self) -> (MaskStats, Vec<InputError>) {
        self.done
            .lock()
            .map(|mut d| std::mem::take(&mut *d))
            .unwrap_or_default()
    }
}

impl Drop for ThreadCompleters {
    fn drop(&mut self) {
        if let Some(dir) = &self.scratch {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
