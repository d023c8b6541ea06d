//! Shards: a split's scene-hash buckets ([`ShardId`]), each written atomically as Parquet in
//! canonical order (scene, sample id), and what the manifest says of one ([`ShardInfo`]).

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crossview_schemas::{QaSample, RecordWriter, Split, WriteOptions, sha256_hex};
use crossview_stages::corpus::CorpusStats;

/// A shard: a split and a scene-hash bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ShardId {
    /// Split.
    pub split: Split,
    /// Bucket, `0..shards_per_split`.
    pub bucket: u32,
}

impl ShardId {
    /// The shard of a scene (by its hash) in a split.
    pub fn of(split: Split, scene_hash: u64, shards: u32) -> Self {
        ShardId {
            split,
            bucket: (scene_hash % u64::from(shards)) as u32,
        }
    }

    /// `data/<split>-NNNNN-of-MMMMM.parquet`.
    pub fn file_name(&self, shards: u32) -> String {
        format!(
            "data/{}-{:05}-of-{:05}.parquet",
            self.split.name(),
            self.bucket,
            shards
        )
    }

    /// The worker (of `peers`) that receives the shard's samples and writes it: the one
    /// timely's exchange sends [`ShardId::route`] to.
    pub fn owner(&self, peers: usize) -> usize {
        (self.route() % peers.max(1) as u64) as usize
    }

    /// A stable number for routing a shard to a worker (timely takes it modulo the worker
    /// count): consecutive buckets alternate, and bench is offset by an odd constant so the
    /// two splits of one bucket land on different workers of an even count.
    pub fn route(&self) -> u64 {
        let bench = u64::from(self.split == Split::Bench);
        u64::from(self.bucket).wrapping_add(bench.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }
}

/// What the manifest says of a written shard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// Path relative to the output folder.
    pub path: String,
    /// Split.
    pub split: Split,
    /// Rows.
    pub rows: u64,
    /// File size in bytes.
    #[serde(default)]
    pub bytes: u64,
    /// SHA-256 of the file.
    pub sha256: String,
    /// Scenes with rows in it.
    pub scenes: Vec<String>,
    /// Hash of what its rows were made from (each scene's id, input fingerprint and kept
    /// ranks): a rebuild with the same inputs keeps the file.
    #[serde(default)]
    pub inputs: String,
    /// Frames its samples show (names under `frames/`).
    #[serde(default)]
    pub frames: Vec<String>,
    /// Counts of the second pass over its scenes (kept, open-ended), for the report of a
    /// rebuild that keeps the file.
    #[serde(default)]
    pub second_pass: CorpusStats,
}

/// Writes a shard's rows (already in canonical order) atomically under `root` and says what
/// the manifest will say of it; `inputs` identifies what the rows were made from.
pub fn write_shard(
    shard: ShardId,
    shards: u32,
    rows: &[QaSample],
    inputs: String,
    root: &Path,
    opts: &WriteOptions,
) -> anyhow::Result<ShardInfo> {
    let mut scenes: Vec<String> = Vec::new();
    for q in rows {
        if scenes.last() != Some(&q.scene_id) {
            scenes.push(q.scene_id.clone());
        }
    }
    let frames: BTreeSet<String> = rows
        .iter()
        .flat_map(|q| q.views.iter())
        .filter(|v| !v.image.is_empty())
        .map(|v| v.image.clone())
        .collect();
    let rel = shard.file_name(shards);
    let path = root.join(&rel);
    let mut w = RecordWriter::<QaSample>::create(&path, opts)?;
    for chunk in rows.chunks(4096) {
        w.write(chunk)?;
    }
    let n = w.finish()?;
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(ShardInfo {
        path: rel,
        split: shard.split,
        rows: n,
        bytes: bytes.len() as u64,
        sha256: sha256_hex(&bytes),
        scenes,
        inputs,
        frames: frames.into_iter().collect(),
        second_pass: CorpusStats::default(),
    })
}
