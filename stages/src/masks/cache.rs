//! [`MaskCache`]: segmenter results on disk, addressed by content: the image's bytes, the
//! model, and the prompt. A rebuild or restart never runs a model twice on the same input.
//!
//! One file per (image, model), `DIR/ab/<key>.json`, mapping each prompt's key to its mask
//! (COCO RLE) and score. Files are replaced by rename (a reader sees a whole entry or none)
//! but not synced: the cache is not output, and an entry that a crash damaged fails its
//! checksum and is a miss, never an error.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_128;

use crossview_schemas::Rle;

use crate::{Error, Result};

/// Bumped when the entry layout or a segmenter's output for the same key changes.
const VERSION: u32 = 1;

/// One cached answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CachedMask {
    /// Mask height.
    pub h: u32,
    /// Mask width.
    pub w: u32,
    /// COCO compressed RLE counts.
    pub counts: String,
    /// The segmenter's score.
    pub score: f32,
}

impl CachedMask {
    /// The cached form of a mask and score.
    pub fn new(mask: &Rle, score: f32) -> Self {
        CachedMask {
            h: mask.height(),
            w: mask.width(),
            counts: mask.to_coco_string(),
            score,
        }
    }

    /// The mask back; `None` if the entry does not decode (a damaged file).
    pub fn mask(&self) -> Option<Rle> {
        Rle::from_coco_string(&self.counts, self.h, self.w).ok()
    }
}

#[derive(Serialize, Deserialize)]
struct Entry {
    version: u32,
    /// Checksum of the masks' JSON, so a damaged file reads as a miss.
    check: String,
    masks: BTreeMap<String, CachedMask>,
}

/// The cache folder.
#[derive(Clone, Debug)]
pub struct MaskCache {
    dir: PathBuf,
}

/// The key of an image's bytes (xxh3-128, hex).
pub fn content_key(bytes: &[u8]) -> String {
    format!("{:032x}", xxh3_128(bytes))
}

fn checksum(masks: &BTreeMap<String, CachedMask>) -> String {
    content_key(serde_json::to_string(masks).unwrap_or_default().as_bytes())
}

impl MaskCache {
    /// A cache in `dir` (created).
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        Ok(MaskCache {
            dir: dir.to_path_buf(),
        })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The key of one image under one model.
    pub fn frame_key(image_key: &str, model_id: &str) -> String {
        content_key(format!("{image_key}/{model_id}").as_bytes())
    }

    /// The key of one prompt.
    pub fn prompt_key(prompt_bytes: &[u8]) -> String {
        content_key(prompt_bytes)
    }

    fn path(&self, frame_key: &str) -> PathBuf {
        self.dir
            .join(&frame_key[..2.min(frame_key.len())])
            .join(format!("{frame_key}.json"))
    }

    /// Everything cached for an image and model (empty on a miss or a damaged file).
    pub fn load(&self, frame_key: &str) -> BTreeMap<String, CachedMask> {
        let Ok(text) = std::fs::read(self.path(frame_key)) else {
            return BTreeMap::new();
        };
        match serde_json::from_slice::<Entry>(&text) {
            Ok(e) if e.version == VERSION && e.check == checksum(&e.masks) => e.masks,
            _ => BTreeMap::new(),
        }
    }

    /// Replaces the entry of an image and model (a temporary file renamed into place).
    pub fn store(&self, frame_key: &str, masks: &BTreeMap<String, CachedMask>) -> Result<()> {
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let path = self.path(frame_key);
        let Some(parent) = path.parent() else {
            return Ok(());
        };
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        let entry = Entry {
            version: VERSION,
            check: checksum(masks),
            masks: masks.clone(),
        };
        let bytes = serde_json::to_vec(&entry).map_err(|e| Error::Json {
            path: path.clone(),
            source: e,
        })?;
        let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = parent.join(format!(".{frame_key}.tmp-{}-{n}", std::process::id()));
        std::fs::File::create(&tmp)
            .and_then(|mut f| f.write_all(&bytes))
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                Error::io(&path, e)
            })
    }
}

impl MaskCache {
    /// Deletes the entries whose frame keys are not in `keep` (frames gone or changed, other
    /// models), and temporaries a killed writer left (run it when no writer is at work).
    pub fn prune(&self, keep: &std::collections::BTreeSet<String>) {
        let Ok(fans) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for fan in fans.flatten() {
            let Ok(entries) = std::fs::read_dir(fan.path()) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let key = name.strip_suffix(".json").unwrap_or("");
                if !keep.contains(key) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_a_damaged_one_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = MaskCache::open(dir.path()).unwrap();
        let key = MaskCache::frame_key(&content_key(b"jpeg bytes"), "model-a");
        assert!(cache.load(&key).is_empty());
        let mask = Rle::from_counts(3, 3, vec![3, 2, 4]).unwrap();
        let mut masks = BTreeMap::new();
        masks.insert(
            MaskCache::prompt_key(b"box"),
            CachedMask::new(&mask, 0.8125),
        );
        cache.store(&key, &masks).unwrap();
        let back = cache.load(&key);
        assert_eq!(back, masks);
        assert_eq!(back.values().next().unwrap().mask().unwrap(), mask);
        // Another model, another entry.
        assert!(
            cache
                .load(&MaskCache::frame_key(
                    &content_key(b"jpeg bytes"),
                    "model-b"
                ))
                .is_empty()
        );
        // A flipped byte in the counts fails the checksum.
        let path = cache.path(&key);
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("\"32", "\"33");
        std::fs::write(&path, text).unwrap();
        assert!(cache.load(&key).is_empty());
        std::fs::write(&path, b"{trunc").unwrap();
        assert!(cache.load(&key).is_empty());
        // Pruning keeps the listed entries only.
        let other = MaskCache::frame_key(&content_key(b"other"), "model-a");
        cache.store(&key, &masks).unwrap();
        cache.store(&other, &masks).unwrap();
        cache.prune(&[other.clone()].into_iter().collect());
        assert!(cache.load(&key).is_empty());
        assert_eq!(cache.load(&other), masks);
    }
}
