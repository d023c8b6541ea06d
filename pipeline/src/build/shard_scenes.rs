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

/// A scene of a shard being made again, in file order.
pub struct PlannedScene<'a> {
    /// The scene.
    pub scene_id: &'a str,
    /// Hash of what its rows are made from.
    pub inputs: &'a str,
    /// Its rows.
    pub rows: u64,
    /// Whether its rows are those of the published file (same scene, same inputs).
    pub published: bool,
}

/// Which row groups (of `group_rows` rows, the last one short) of a shard made again are
/// those of its published file as they are, so they are copied, not decoded and encoded
/// again: a group whose rows are all published scenes' rows, each scene at the rows it had
/// in the published file (`old`, its record), and which ends where the old group ended.
///
/// Only sound where the group's bytes depend on nothing but its rows and where it starts:
/// the writer's batches must be cut at fixed rows ([`super::shards::SHARD_BATCH_ROWS`]) that
/// divide `group_rows`.
pub fn copied_groups(old: &[SceneOfShard], new: &[PlannedScene<'_>], group_rows: u64) -> Vec<bool> {
    let group_rows = group_rows.max(1);
    let mut old_start: HashMap<(&str, &str), u64> = HashMap::with_capacity(old.len());
    let mut at = 0;
    for scene in old {
        old_start.insert((&scene.scene_id, &scene.inputs), at);
        at += scene.rows;
    }
    let old_total = at;
    let new_total: u64 = new.iter().map(|s| s.rows).sum();
    let groups = new_total.div_ceil(group_rows);
    let mut copied = vec![true; groups as usize];
    for (g, c) in copied.iter_mut().enumerate() {
        let start = g as u64 * group_rows;
        if (start + group_rows).min(new_total) != (start + group_rows).min(old_total) {
            *c = false;
        }
    }
    let mut start = 0;
    for scene in new {
        let end = start + scene.rows;
        let in_place =
            scene.published && old_start.get(&(scene.scene_id, scene.inputs)) == Some(&start);
        if !in_place && end > start {
            for g in start / group_rows..=(end - 1) / group_rows {
                copied[g as usize] = false;
            }
        }
        start = end;
    }
    copied
}

/// A published shard opened to take rows from: its file (checked against the manifest and
/// its record) and the rows of the scenes asked for, by scene and inputs hash.
pub struct PublishedRows {
    source: RecordReader<QaSample>,
    by_scene: HashMap<(String, String), (RecordBatch, SceneOfShard)>,
}

impl PublishedRows {
    /// Published shard `prev` (under `out`) whose scenes are `scenes` (its record, see
    /// [`load`]), with the rows of the scenes `wanted` says, when its file is the one the
    /// manifest describes (size and SHA-256) and agrees with the record; `None` otherwise
    /// (its scenes are then made).
    pub fn decode(
        out: &Path,
        prev: &ShardInfo,
        scenes: Vec<SceneOfShard>,
        wanted: impl Fn(&SceneOfShard) -> bool,
    ) -> Option<PublishedRows> {
        let path = out.join(&prev.path);
        let bytes = std::fs::read(&path).ok()?;
        if bytes.len() as u64 != prev.bytes || sha256_hex(&bytes) != prev.sha256 {
            return None;
        }
        drop(bytes);
        let source = RecordReader::<QaSample>::open_for_copy(&path).ok()?;
        if scenes.iter().map(|s| s.rows).sum::<u64>() != source.num_rows() {
            return None;
        }
        // Each wanted scene's rows, as a range of the file's rows.
        let mut ranges = Vec::new();
        let mut at = 0;
        for scene in scenes {
            let end = at + scene.rows;
            if wanted(&scene) {
                ranges.push((at, end, scene));
            }
            at = end;
        }
        // The row groups holding them, decoded in parallel; a scene's rows are sliced from
        // the groups that hold them (joined only where a scene straddles two).
        let mut group_start = Vec::with_capacity(source.num_row_groups() + 1);
        let mut at = 0;
        for g in 0..source.num_row_groups() {
            group_start.push(at);
            at += source.row_group_rows(g);
        }
        group_start.push(at);
        let group_of = |row: u64| group_start.partition_point(|&s| s <= row) - 1;
        let mut needed: Vec<usize> = (ranges.iter())
            .filter(|(s, e, _)| e > s)
            .flat_map(|&(s, e, _)| group_of(s)..=group_of(e - 1))
            .collect();
        needed.dedup();
        let decoded: HashMap<usize, RecordBatch> = needed
            .into_par_iter()
            .map(|g| source.row_group(g).map(|b| (g, b)))
            .collect::<Result<_, _>>()
            .ok()?;
        let mut by_scene = HashMap::with_capacity(ranges.len());
        for (start, end, scene) in ranges {
            let mut parts = Vec::new();
            let mut row = start;
            while row < end {
                let g = group_of(row);
                let batch = decoded.get(&g)?;
                let offset = (row - group_start[g]) as usize;
                let take = (end.min(group_start[g + 1]) - row) as usize;
                if offset + take > batch.num_rows() {
                    return None;
                }
                parts.push(batch.slice(offset, take));
                row += take as u64;
            }
            let rows = match parts.len() {
                0 => RecordBatch::new_empty(source.arrow_schema()),
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
        Some(PublishedRows { source, by_scene })
    }

    /// The published file, opened for copying its row groups.
    pub fn source(&self) -> &RecordReader<QaSample> {
        &self.source
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

#[cfg(test)]
mod tests {
    use super::*;

    fn old(rows: &[(&str, u64)]) -> Vec<SceneOfShard> {
        rows.iter()
            .map(|&(id, rows)| SceneOfShard {
                scene_id: id.into(),
                inputs: format!("{id}-v1"),
                rows,
                second_pass: CorpusStats::default(),
                frames: Vec::new(),
            })
            .collect()
    }

    /// New scenes as (id, version, rows): version 1 is the published one.
    fn copied(old_scenes: &[(&str, u64)], new: &[(&str, u32, u64)], group_rows: u64) -> Vec<bool> {
        let inputs: Vec<String> = new.iter().map(|(id, v, _)| format!("{id}-v{v}")).collect();
        let planned: Vec<PlannedScene<'_>> = new
            .iter()
            .zip(&inputs)
            .map(|(&(id, v, rows), inputs)| PlannedScene {
                scene_id: id,
                inputs,
                rows,
                published: v == 1,
            })
            .collect();
        copied_groups(&old(old_scenes), &planned, group_rows)
    }

    #[test]
    fn groups_before_a_changed_scene_are_copied() {
        // Groups of 10 rows: a 25, b 10, c 7 (42 rows, 5 groups); b changes to 12 rows.
        let old = [("a", 25), ("b", 10), ("c", 7)];
        let new = [("a", 1, 25), ("b", 2, 12), ("c", 1, 7)];
        // Rows 0-19 are a's in both; group 2 holds a's tail and b's new rows; c moved.
        assert_eq!(
            copied(&old, &new, 10),
            vec![true, true, false, false, false]
        );
    }

    #[test]
    fn groups_after_a_changed_scene_of_the_same_rows_are_copied() {
        let old = [("a", 10), ("b", 10), ("c", 15)];
        let new = [("a", 1, 10), ("b", 2, 10), ("c", 1, 15)];
        assert_eq!(copied(&old, &new, 10), vec![true, false, true, true]);
    }

    #[test]
    fn a_group_is_copied_only_where_it_ends_as_it_did() {
        // c grows its last group: published rows in place, but the group is longer now.
        let old = [("a", 10), ("c", 3)];
        let new = [("a", 1, 10), ("c", 1, 3), ("d", 2, 4)];
        assert_eq!(copied(&old, &new, 10), vec![true, false]);
        // The shard loses its tail: the last group ends earlier now.
        let new = [("a", 1, 10), ("c", 2, 0)];
        assert_eq!(copied(&old, &new, 10), vec![true]);
        let new = [("a", 1, 5)];
        assert_eq!(copied(&old, &new, 10), vec![false]);
    }

    #[test]
    fn a_removed_or_added_empty_scene_moves_nothing() {
        let old = [("a", 10), ("b", 0), ("c", 10)];
        let new = [("a", 1, 10), ("c", 1, 10), ("e", 2, 0)];
        assert_eq!(copied(&old, &new, 10), vec![true, true]);
        // A published scene at other rows than it had is not copied.
        let new = [("c", 1, 10), ("a", 1, 10)];
        assert_eq!(copied(&old, &new, 10), vec![false, false]);
    }
}
