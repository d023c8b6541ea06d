//! First-pass survivors set aside for the second pass: each scene's eligible candidates in
//! their byte form, in one temporary spill per process, found by scene id and fingerprint.

use std::collections::HashMap;
use std::sync::Mutex;

use crossview_stages::qa::{Candidate, ENCODED_LEN};
use crossview_stages::spill::Spill;

/// Where this process's first passes left each scene's eligible candidates. A scene the
/// store does not hold (first-passed by another process, found in the first-pass cache, or
/// set aside when the spill failed) has its candidates generated again by the second pass,
/// which gives the same ones: the store saves time, never changes output.
#[derive(Default)]
pub struct EligibleStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    spill: Spill,
    places: HashMap<(String, String), (u64, u32)>,
}

impl std::fmt::Debug for EligibleStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scenes = self.inner.lock().map_or(0, |i| i.places.len());
        f.debug_struct("EligibleStore")
            .field("scenes", &scenes)
            .finish()
    }
}

impl EligibleStore {
    /// Sets aside a scene's encoded candidates (an empty list is kept too: nothing to
    /// generate). A spill that cannot be written only costs the regeneration.
    pub fn put(&self, scene_id: &str, fingerprint: &str, encoded: &[u8]) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
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
        let mut inner = self.inner.lock().ok()?;
        let place = inner
            .places
            .remove(&(scene_id.to_string(), fingerprint.to_string()))?;
        let bytes = inner.spill.read(place).ok()?;
        drop(inner);
        if bytes.len() % ENCODED_LEN != 0 {
            return None;
        }
        bytes.chunks(ENCODED_LEN).map(Candidate::decode).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenes_come_back_once_by_id_and_fingerprint() {
        let store = EligibleStore::default();
        store.put("s1", "f1", &[]);
        assert_eq!(
            store.take("s1", "f2"),
            None,
            "another fingerprint is another scene"
        );
        assert_eq!(store.take("s1", "f1"), Some(Vec::new()));
        assert_eq!(store.take("s1", "f1"), None, "taken once");
        // Bytes that are not whole candidates are not handed out.
        store.put("s2", "f", &[1, 2, 3]);
        assert_eq!(store.take("s2", "f"), None);
    }
}
