//! A published shard's scenes, in file order ([`SceneOfShard`]: what each scene's rows were
//! made from, their count, counts, frames), cached by the shard's inputs hash under
//! `.cache/shard-scenes/`, and the rows of the published file taken scene by scene
//! ([`PublishedRows`]), so remaking a shard makes only its changed scenes' rows again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use arrow_array::{Array, RecordBatch, StringArray};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crossview_schemas::{QaSample, RecordReader, sha256_hex};
use crossview_stages::corpus::CorpusStats;

use super::cache::{load_payload, store_payload};
use super::shards::{SceneRows, ShardInfo};

/// One scene of a written shard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SceneOfShard {
    /// The scene.
    pub scene_id: String,
    /// Hash of what its rows were made from (id, input fingerprint, kept cutoffs, settings).
    pub inputs: String,
    /// Its rows, consecutive in the file after those of the scenes before it.
    pub rows: u64,
    /// Its second-pass counts.
    pub second_pass: CorpusStats,
    /// The frames its samples show.
    pub frames: Vec<String>,
}

/// The cache folder of an output folder.
pub fn dir(out: &Path) -> PathBuf {
    out.join(".cache").join("shard-scenes")
}

/// Records the scenes of a shard written with inputs hash `shard_inputs`.
pub fn store(dir: &Path, shard_inputs: &str, scenes: &[SceneOfShard]) -> std::io::Result<()> {
    let payload = bincode::serialize(scenes).map_err(std::io::Error::other)?;
    store_payload(dir, shard_inputs, &payload)
}

/// The scenes of a shard, if recorded and undamaged.
pub fn load(dir: &Path, shard_inputs: &str) -> Option<Vec<SceneOfShard>> {
    bincode::deserialize(&load_payload(dir, shard_inputs)?).ok()
}

/// The rows of a published shard, by scene and inputs hash.
pub struct PublishedRows {
    by_scene: HashMap<(String, String), (RecordBatch, SceneOfShard)>,
}

impl PublishedRows {
    /// The rows of published shard `prev` (under `out`) whose scenes are `scenes` (its
    /// record, see [`load`]), when its file is the one the manifest describes (size and
    /// SHA-256) and agrees with the record; `None` otherwise (its scenes are then made).
    pub fn decode(
        out: &Path,
        prev: &ShardInfo,
        scenes: Vec<SceneOfShard>,
    ) -> Option<PublishedRows> {
        let path = out.join(&prev.path);
        let bytes = std::fs::read(&path).ok()?;
        if bytes.len() as u64 != prev.bytes || sha256_hex(&bytes) != prev.sha256 {
            return None;
        }
        drop(bytes);
        // Row groups decoded in parallel, and a scene's rows sliced from the group that holds
        // them (joined only where a scene straddles two): the file is tens of MB decoded.
        let reader = RecordReader::<QaSample>::open(&path).ok()?;
        let groups: Vec<RecordBatch> = (0..reader.num_row_groups())
            .into_par_iter()
            .map(|g| reader.row_group(g))
            .collect::<Result<_, _>>()
            .ok()?;
        let total: usize = groups.iter().map(RecordBatch::num_rows).sum();
        if scenes.iter().map(|s| s.rows).sum::<u64>() != total as u64 {
            return None;
        }
        let mut by_scene = HashMap::with_capacity(scenes.len());
        let (mut group, mut at) = (0usize, 0usize);
        for scene in scenes {
            let mut wanted = scene.rows as usize;
            let mut parts = Vec::new();
            while wanted > 0 {
                let batch = groups.get(group)?;
                let take = wanted.min(batch.num_rows() - at);
                parts.push(batch.slice(at, take));
                (wanted, at) = (wanted - take, at + take);
                if at == batch.num_rows() {
                    (group, at) = (group + 1, 0);
                }
            }
            let rows = match parts.len() {
                0 => groups.first()?.slice(0, 0),
                1 => parts.pop()?,
                _ => arrow_select::concat::concat_batches(&parts[0].schema(), &parts).ok()?,
            };
            // Every row is the scene's (the file is in scene order).
            let ids = rows
                .column_by_name("scene_id")?
                .as_any()
                .downcast_ref::<StringArray>()?;
            if ids.null_count() > 0 || ids.iter().any(|id| id != Some(scene.scene_id.as_str())) {
                return None;
            }
            by_scene.insert(
                (scene.scene_id.clone(), scene.inputs.clone()),
                (rows, scene),
            );
        }
        Some(PublishedRows { by_scene })
    }

    /// A scene's published rows, if its rows were made from `inputs`.
    pub fn take(&mut self, scene_id: &str, inputs: &str) -> Option<SceneRows> {
        let (batch, scene) = self
            .by_scene
            .remove(&(scene_id.to_string(), inputs.to_string()))?;
        Some(SceneRows {
            scene_id: scene.scene_id,
            batch,
            frames: scene.frames.into_iter().collect(),
        })
    }
}
