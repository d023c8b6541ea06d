//! A published shard's scenes, in file order ([`SceneOfShard`]: what each scene's rows were
//! made from, their count, counts, frames), cached by the shard's inputs hash under
//! `.cache/shard-scenes/`, and the rows of the published file taken scene by scene
//! ([`PublishedRows`]), so remaking a shard makes only its changed scenes' rows again.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use arrow_array::{Array, RecordBatch, StringArray};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crossview_schemas::{QaSample, RecordReader, sha256_hex};
use crossview_stages::corpus::CorpusStats;

use super::cache::{load_payload, store_payload};
use super::shards::{SceneRows, ShardInfo, row_group_layout};

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

impl SceneOfShard {
    /// The record of a scene whose rows `rows` were made from `inputs`, with its counts and
    /// the frames that could not be stored: a scene with such problems is recorded as made
    /// from nothing, so it is made again next time.
    pub fn of(
        rows: &SceneRows,
        inputs: &str,
        second_pass: &CorpusStats,
        problems: &[String],
    ) -> Self {
        let written = rows.batch.num_rows() as u64;
        Self::written(
            &rows.scene_id,
            written,
            &rows.frames,
            inputs,
            second_pass,
            problems,
        )
    }

    /// [`SceneOfShard::of`] a scene of which `rows` rows showing `frames` were written.
    pub fn written(
        scene_id: &str,
        rows: u64,
        frames: &BTreeSet<String>,
        inputs: &str,
        second_pass: &CorpusStats,
        problems: &[String],
    ) -> Self {
        SceneOfShard {
            scene_id: scene_id.to_string(),
            inputs: if problems.is_empty() {
                inputs.to_string()
            } else {
                String::new()
            },
            rows,
            second_pass: second_pass.clone(),
            frames: frames.iter().cloned().collect(),
        }
    }
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

/// The row groups of a shard made again ([`row_group_layout`] of its scenes, as ranges of
/// `new`), each with the row group of the published file it is as it is, if any: a group
/// whose scenes are all published and were a row group of the published file (`old`, its
/// record), in the same order. Such a group's bytes are the published group's (the writer
/// cuts its batches from each group's start), so it is copied, not decoded and encoded.
pub fn copied_groups(
    old: &[SceneOfShard],
    new: &[PlannedScene<'_>],
    target: u64,
) -> Vec<(std::ops::Range<usize>, Option<usize>)> {
    // A group is known by its scenes with rows: (id, inputs) in order.
    let old_groups: HashMap<Vec<(&str, &str)>, usize> =
        row_group_layout(old.iter().map(|s| (s.scene_id.as_str(), s.rows)), target)
            .into_iter()
            .enumerate()
            .map(|(g, range)| {
                let key = (old[range].iter())
                    .filter(|s| s.rows > 0)
                    .map(|s| (s.scene_id.as_str(), s.inputs.as_str()))
                    .collect();
                (key, g)
            })
            .collect();
    row_group_layout(new.iter().map(|s| (s.scene_id, s.rows)), target)
        .into_iter()
        .map(|range| {
            let scenes = &new[range.clone()];
            let copied = if scenes.iter().all(|s| s.published || s.rows == 0) {
                let key: Vec<(&str, &str)> = (scenes.iter())
                    .filter(|s| s.rows > 0)
                    .map(|s| (s.scene_id, s.inputs))
                    .collect();
                old_groups.get(&key).copied()
            } else {
                None
            };
            (range, copied)
        })
        .collect()
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
        scenes: &[SceneOfShard],
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
            if wanted(scene) {
                ranges.push((at, end, scene.clone()));
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
    use crate::build::shards::ends_row_group;

    /// Scene ids whose row groups end (`true`) or not at half the target, in turn.
    fn ids(picks: &[bool]) -> Vec<String> {
        let mut out = Vec::new();
        let mut n = 0;
        for &want in picks {
            loop {
                n += 1;
                let id = format!("s{n}");
                if ends_row_group(&id, 5, 10) == want {
                    out.push(id);
                    break;
                }
            }
        }
        out
    }

    fn old(ids: &[String], rows: &[u64]) -> Vec<SceneOfShard> {
        ids.iter()
            .zip(rows)
            .map(|(id, &rows)| SceneOfShard {
                scene_id: id.clone(),
                inputs: format!("{id}-v1"),
                rows,
                second_pass: CorpusStats::default(),
                frames: Vec::new(),
            })
            .collect()
    }

    /// New scenes as (index into `ids`, version, rows): version 1 is the published one.
    fn copied(
        ids: &[String],
        old_rows: &[u64],
        new: &[(usize, u32, u64)],
    ) -> Vec<(std::ops::Range<usize>, Option<usize>)> {
        let inputs: Vec<String> = new
            .iter()
            .map(|&(i, v, _)| format!("{}-v{v}", ids[i]))
            .collect();
        let planned: Vec<PlannedScene<'_>> = new
            .iter()
            .zip(&inputs)
            .map(|(&(i, v, rows), inputs)| PlannedScene {
                scene_id: &ids[i],
                inputs,
                rows,
                published: v == 1,
            })
            .collect();
        copied_groups(&old(ids, old_rows), &planned, 10)
    }

    #[test]
    fn groups_around_a_changed_scene_are_copied() {
        // Target 10: a group ends at 10 rows, or at 5 after a picking scene (P).
        // Scenes: a 6 (P) | b 3, c 4 (P) | d 2, e 9 | f 1.
        let ids = ids(&[true, false, true, false, false, false]);
        let old_rows = [6, 3, 4, 2, 9, 1];
        // c changes to 5 rows: its group is written, the others are copied.
        let new = [
            (0, 1, 6),
            (1, 1, 3),
            (2, 2, 5),
            (3, 1, 2),
            (4, 1, 9),
            (5, 1, 1),
        ];
        assert_eq!(
            copied(&ids, &old_rows, &new),
            vec![
                (0..1, Some(0)),
                (1..3, None),
                (3..5, Some(2)),
                (5..6, Some(3))
            ]
        );
    }

    #[test]
    fn a_group_is_copied_only_with_the_same_scenes() {
        let ids = ids(&[true, false, true, false, false]);
        let old_rows = [6, 3, 4, 2, 9];
        // b now has rows enough to end its group alone; c, d and e then make one.
        let new = [(0, 1, 6), (1, 2, 12), (2, 1, 4), (3, 1, 2), (4, 1, 9)];
        assert_eq!(
            copied(&ids, &old_rows, &new),
            vec![(0..1, Some(0)), (1..2, None), (2..5, None)]
        );
        // A removed scene without rows, and a new one, move nothing.
        let old_rows = [6, 0, 4, 2, 9];
        let new = [(0, 1, 6), (2, 1, 4), (3, 1, 2), (4, 1, 9), (1, 2, 0)];
        assert_eq!(
            copied(&ids, &old_rows, &new),
            vec![(0..1, Some(0)), (1..4, Some(1))]
        );
    }
}
