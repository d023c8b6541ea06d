//! First-pass survivors set aside for the second pass of the same epoch: each scene's
//! eligible candidates in byte form, in a temporary spill per worker, by scene id and fingerprint.

use std::collections::HashMap;
use std::sync::Mutex;

use crossview_stages::qa::{Candidate, ENCODED_LEN};
use crossview_stages::spill::Spill;

/// Where this process's first passes left each scene's eligible candidates. A scene the
/// store does not hold (first-passed by another process, found in the first-pass cache, or
/// set aside when the spill failed) has its candidates generated again by the second pass,
/// which gives the same ones: the store saves time, never changes output.
///
/// Each worker of the process sets aside in a spill of its own: with one, a worker waited
/// for the lock while the other wrote (half a second of a cold paper build). The second
/// pass of a scene may run on any worker (they share shards), and looks in each.
pub struct EligibleStore {
    slots: Vec<Mutex<Inner>>,
}

impl Default for EligibleStore {
    fn default() -> Self {
        EligibleStore::new(1)
    }
}

#[derive(Default)]
struct Inner {
    spill: Spill,
    places: HashMap<(String, String), (u64, u32)>,
    /// The epoch the held candidates were set aside in.
    epoch: u32,
}

impl Inner {
    /// Drops what is held; the spill's file goes with it (it has no name, so its space is
    /// freed). A live build would otherwise hold every epoch's survivors for its whole life.
    fn clear(&mut self) {
        self.places.clear();
        self.spill = Spill::default();
    }
}

impl std::fmt::Debug for EligibleStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scenes: usize = (self.slots.iter())
            .map(|slot| slot.lock().map_or(0, |i| i.places.len()))
            .sum();
        f.debug_struct("EligibleStore")
            .field("scenes", &scenes)
            .finish()
    }
}

impl EligibleStore {
    /// A store for a process of `workers` worker threads.
    pub fn new(workers: usize) -> Self {
        EligibleStore {
            slots: (0..workers.max(1)).map(|_| Mutex::default()).collect(),
        }
    }

    /// Sets aside a scene's encoded candidates, first-passed in `epoch` by `worker` (an
    /// empty list is kept too: nothing to generate). A worker's first put of a later epoch
    /// drops what its earlier ones left. A spill that cannot be written only costs the
    /// regeneration.
    pub fn put(
        &self,
        worker: usize,
        epoch: u32,
        scene_id: &str,
        fingerprint: &str,
        encoded: &[u8],
    ) {
        let Ok(mut inner) = self.slots[worker % self.slots.len()].lock() else {
            return;
        };
        if epoch > inner.epoch {
            inner.clear();
            inner.epoch = epoch;
        }
        let key = (scene_id.to_string(), fingerprint.to_string());
        match inner.spill.append(encoded) {
            Ok(place) => {
                inner.places.insert(key, place);
            }
            Err(_) => {
                inner.places.remove(&key);
            }
        }
    }

    /// A scene's candidates as set aside, once (the entry is dropped); `None` when the store
    /// does not hold them or they cannot be read back whole.
    pub fn take(&self, scene_id: &str, fingerprint: &str) -> Option<Vec<Candidate>> {
        let key = (scene_id.to_string(), fingerprint.to_string());
        let bytes = self.slots.iter().find_map(|slot| {
            let mut inner = slot.lock().ok()?;
            let place = inner.places.remove(&key)?;
            inner.spill.read(place).ok()
        })?;
        if bytes.len() % ENCODED_LEN != 0 {
            return None;
        }
        bytes.chunks(ENCODED_LEN).map(Candidate::decode).collect()
    }

    /// Once every worker of the process made its shards of `epoch`: drops what is held
    /// unless a later epoch already set something aside.
    pub fn finish_epoch(&self, epoch: u32) {
        for slot in &self.slots {
            if let Ok(mut inner) = slot.lock()
                && inner.epoch <= epoch
            {
                inner.clear();
            }
        }
    }

    /// The bytes set aside and held.
    #[cfg(test)]
    pub fn spilled_bytes(&self) -> u64 {
        (self.slots.iter())
            .map(|slot| slot.lock().map_or(0, |i| i.spill.len()))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenes_come_back_once_by_id_and_fingerprint() {
        let store = EligibleStore::default();
        store.put(0, 0, "s1", "f1", &[]);
        assert_eq!(
            store.take("s1", "f2"),
            None,
            "another fingerprint is another scene"
        );
        assert_eq!(store.take("s1", "f1"), Some(Vec::new()));
        assert_eq!(store.take("s1", "f1"), None, "taken once");
        // Bytes that are not whole candidates are not handed out.
        store.put(0, 0, "s2", "f", &[1, 2, 3]);
        assert_eq!(store.take("s2", "f"), None);
    }

    #[test]
    fn a_scene_set_aside_by_one_worker_is_taken_by_any_and_an_epoch_ends_for_all() {
        let mut one = vec![0u8; ENCODED_LEN];
        one[0] = 1;
        one[9 + crossview_stages::qa::MAX_REGIONS * 9 + 1] = 3;
        let store = EligibleStore::new(2);
        store.put(0, 0, "s1", "f", &one);
        store.put(1, 0, "s2", "f", &one);
        store.put(3, 0, "s3", "f", &[]);
        assert_eq!(store.spilled_bytes(), 2 * ENCODED_LEN as u64);
        assert_eq!(store.take("s2", "f").map(|c| c.len()), Some(1));
        assert_eq!(store.take("s3", "f"), Some(Vec::new()));
        // Worker 1's next epoch drops only what it set aside itself.
        store.put(1, 1, "s4", "f", &[]);
        assert_eq!(store.take("s1", "f").map(|c| c.len()), Some(1));
        store.put(0, 0, "s5", "f", &one);
        store.finish_epoch(0);
        assert_eq!(
            store.take("s5", "f"),
            None,
            "epoch 0 is done on every worker"
        );
        assert_eq!(store.take("s4", "f"), Some(Vec::new()));
    }

    #[test]
    fn what_an_epoch_set_aside_is_dropped_once_it_is_done_or_a_later_one_puts() {
        // One candidate's bytes: task Q1, a yes/no question, the rest zeros.
        let mut one = vec![0u8; ENCODED_LEN];
        one[0] = 1;
        one[9 + crossview_stages::qa::MAX_REGIONS * 9 + 1] = 3;
        assert!(Candidate::decode(&one).is_some());
        let store = EligibleStore::default();
        store.put(0, 0, "s1", "f", &one);
        store.put(0, 0, "s2", "f", &one);
        assert_eq!(store.spilled_bytes(), 2 * ENCODED_LEN as u64);
        store.finish_epoch(0);
        assert_eq!(store.spilled_bytes(), 0, "the spill is let go");
        assert_eq!(store.take("s1", "f"), None);

        // Left over from epoch 1 (never taken), then dropped by epoch 2's first put.
        store.put(0, 1, "s1", "f", &one);
        store.put(0, 2, "s2", "f", &one);
        assert_eq!(store.take("s1", "f"), None);
        assert_eq!(store.spilled_bytes(), ENCODED_LEN as u64);
        // Finishing an earlier epoch leaves a later one's candidates alone.
        store.finish_epoch(1);
        assert_eq!(store.spilled_bytes(), ENCODED_LEN as u64);
        assert!(store.take("s2", "f").is_some());
    }
}
