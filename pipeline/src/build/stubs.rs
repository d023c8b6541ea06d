//! Stubs made whole: a scene handed to the graph unread (from the read cache) gets its
//! records when a shard holding it is rewritten, from the scene records cache, else from its
//! tree (all such scenes of a tree in one pass over it).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use crossview_schemas::SourceKind;
use crossview_stages::sources::{self, OnlyScenes, SceneData, SourceOptions};

use super::cache;
use super::graph::SceneBlob;
use super::pack::PackStore;
use super::tree_cache;

/// Where stubs' records are found: the scene records cache (entries named by `settings`,
/// as first-pass entries are) and the trees, read with `options`.
#[derive(Clone, Debug)]
pub struct StubRecords {
    /// Reading options.
    pub options: SourceOptions,
    /// The scene records cache.
    pub scenes: Arc<PackStore>,
    /// What besides a scene keys its cache entries.
    pub settings: String,
}

/// The blobs with every stub's records (others as they are), in order. A scene read from its
/// tree whose input changed since its stub was made fails: its cached first pass no longer
/// describes it, so the build must run again.
pub fn read_stubs(records: &StubRecords, blobs: Vec<SceneBlob>) -> anyhow::Result<Vec<SceneBlob>> {
    let blobs: Vec<SceneBlob> = blobs
        .into_iter()
        .map(|b| {
            if !b.data.unread {
                return b;
            }
            let key = cache::entry_key(b.data.scene_id(), &b.data.fingerprint, &records.settings);
            match tree_cache::load_records(&records.scenes, &key, &b.data) {
                Some(data) => SceneBlob {
                    data: Arc::new(data),
                    root: b.root,
                    masked: false,
                },
                None => b,
            }
        })
        .collect();
    let options = &records.options;
    let mut wanted: BTreeMap<(Arc<PathBuf>, SourceKind), BTreeSet<String>> = BTreeMap::new();
    for b in blobs.iter().filter(|b| b.data.unread) {
        let kind = b
            .data
            .scene
            .as_ref()
            .map_or(SourceKind::MessyTable, |s| s.source);
        wanted
            .entry((b.root.clone(), kind))
            .or_default()
            .insert(b.data.scene_id().to_string());
    }
    let mut read: BTreeMap<String, SceneData> = BTreeMap::new();
    for ((root, kind), ids) in &wanted {
        let reader = sources::open(root, Some(*kind), options)
            .with_context(|| format!("reading {} again", root.display()))?;
        reader
            .read_skipping(&OnlyScenes(ids), &mut |scene| {
                if !scene.unread && ids.contains(scene.scene_id()) {
                    read.insert(scene.scene_id().to_string(), scene);
                }
                Ok(())
            })
            .with_context(|| format!("reading {} again", root.display()))?;
    }
    blobs
        .into_iter()
        .map(|b| {
            if !b.data.unread {
                return Ok(b);
            }
            let id = b.data.scene_id();
            let data = read
                .remove(id)
                .with_context(|| format!("scene {id} is gone from {}", b.root.display()))?;
            anyhow::ensure!(
                data.fingerprint == b.data.fingerprint,
                "scene {id} changed while the build ran; build again"
            );
            Ok(SceneBlob {
                data: Arc::new(data),
                root: b.root,
                masked: false,
            })
        })
        .collect()
}
