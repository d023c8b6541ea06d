//! Shards: a split's scene-hash buckets ([`ShardId`]), each written atomically as Parquet in
//! canonical order (scene, sample id), and what the manifest says of one ([`ShardInfo`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use arrow_array::RecordBatch;
use serde::{Deserialize, Serialize};

use crossview_schemas::{
    QaSample, RecordReader, RecordWriter, SampleColumns, SampleRef, Split, WriteOptions, sha256_hex,
};
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

/// Rows per Arrow batch handed to the Parquet writer. Page boundaries follow the batches, so
/// anything that must reproduce a shard's bytes writes in batches of this many rows.
pub const SHARD_BATCH_ROWS: usize = 4096;

/// A shard being written, atomically under a root: samples are copied into Arrow columns as
/// they come (in canonical order), or come as a scene's rows made elsewhere, and are written
/// in batches of [`SHARD_BATCH_ROWS`], so no shard is ever held whole.
pub struct ShardWriter {
    shard: ShardId,
    rel: String,
    path: PathBuf,
    inputs: String,
    writer: RecordWriter<QaSample>,
    /// Rows waiting for a whole batch, before those in `columns`.
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    columns: SampleColumns,
    scenes: Vec<String>,
    frames: BTreeSet<String>,
}

/// Adds the frames a sample shows (views without a stored image show none).
fn add_frames(frames: &mut BTreeSet<String>, s: &SampleRef<'_>) {
    for v in &s.views {
        if !v.image.is_empty() && !frames.contains(&v.image) {
            frames.insert(v.image.clone());
        }
    }
}

/// One scene's rows of a shard, made apart from the writer (in canonical order).
#[derive(Clone)]
pub struct SceneRows {
    /// The scene.
    pub scene_id: String,
    /// Its rows.
    pub batch: RecordBatch,
    /// The frames its samples show.
    pub frames: BTreeSet<String>,
}

impl SceneRows {
    /// A scene's samples (already in canonical order) as rows.
    pub fn of(scene_id: &str, samples: &[&SampleRef<'_>]) -> anyhow::Result<SceneRows> {
        let mut columns = SampleColumns::new();
        let mut frames = BTreeSet::new();
        for s in samples {
            columns.push(s);
            add_frames(&mut frames, s);
        }
        Ok(SceneRows {
            scene_id: scene_id.to_string(),
            batch: columns.finish()?,
            frames,
        })
    }
}

impl ShardWriter {
    /// Starts shard `shard` (of `shards` per split) under `root`; `inputs` identifies what
    /// its rows are made from.
    pub fn create(
        shard: ShardId,
        shards: u32,
        inputs: String,
        root: &Path,
        opts: &WriteOptions,
    ) -> anyhow::Result<Self> {
        let rel = shard.file_name(shards);
        let path = root.join(&rel);
        Ok(ShardWriter {
            shard,
            writer: RecordWriter::<QaSample>::create(&path, opts)?,
            rel,
            path,
            inputs,
            pending: Vec::new(),
            pending_rows: 0,
            columns: SampleColumns::new(),
            scenes: Vec::new(),
            frames: BTreeSet::new(),
        })
    }

    /// Appends the next sample.
    pub fn push(&mut self, s: &SampleRef<'_>) -> anyhow::Result<()> {
        if self.scenes.last().map(String::as_str) != Some(s.scene_id) {
            self.scenes.push(s.scene_id.to_string());
        }
        add_frames(&mut self.frames, s);
        self.columns.push(s);
        if self.pending_rows + self.columns.len() == SHARD_BATCH_ROWS {
            self.set_aside_columns()?;
            self.write_pending(false)?;
        }
        Ok(())
    }

    /// Appends a scene's rows, made elsewhere.
    pub fn push_rows(&mut self, rows: SceneRows) -> anyhow::Result<()> {
        if rows.batch.num_rows() == 0 {
            return Ok(());
        }
        if self.scenes.last() != Some(&rows.scene_id) {
            self.scenes.push(rows.scene_id);
        }
        self.frames.extend(rows.frames);
        self.set_aside_columns()?;
        self.pending_rows += rows.batch.num_rows();
        self.pending.push(rows.batch);
        self.write_pending(false)
    }

    /// Appends row group `group` of published shard `source` as it is (its column chunks
    /// copied): the rows of `scenes` (in order, each with the frames its samples show) there.
    /// Only between row groups: every row pushed before must have been written.
    pub fn copy_group(
        &mut self,
        source: &RecordReader<QaSample>,
        group: usize,
        scenes: &[(&str, &[String])],
    ) -> anyhow::Result<()> {
        if !self.columns.is_empty() || self.pending_rows > 0 {
            anyhow::bail!(
                "a row group copied into {} after rows not yet written",
                self.rel
            );
        }
        self.writer.append_row_group(source, group)?;
        for (scene_id, frames) in scenes {
            if self.scenes.last().map(String::as_str) != Some(*scene_id) {
                self.scenes.push(scene_id.to_string());
            }
            self.frames.extend(frames.iter().cloned());
        }
        Ok(())
    }

    /// Moves the rows in `columns` to `pending`.
    fn set_aside_columns(&mut self) -> anyhow::Result<()> {
        if !self.columns.is_empty() {
            let batch = self.columns.finish()?;
            self.pending_rows += batch.num_rows();
            self.pending.push(batch);
        }
        Ok(())
    }

    /// Writes the pending rows in batches of [`SHARD_BATCH_ROWS`] (all of them with `all`),
    /// keeping the rest pending: the batches, and so the pages, are those of a writer fed
    /// one sample at a time.
    fn write_pending(&mut self, all: bool) -> anyhow::Result<()> {
        if self.pending_rows < SHARD_BATCH_ROWS && !(all && self.pending_rows > 0) {
            return Ok(());
        }
        let joined = match self.pending.len() {
            1 => self.pending.remove(0),
            _ => {
                let schema = self.pending[0].schema();
                let joined = arrow_select::concat::concat_batches(&schema, &self.pending)?;
                self.pending.clear();
                joined
            }
        };
        let mut at = 0;
        while joined.num_rows() - at >= SHARD_BATCH_ROWS {
            self.writer
                .write_batch(&joined.slice(at, SHARD_BATCH_ROWS))?;
            at += SHARD_BATCH_ROWS;
        }
        let rest = joined.num_rows() - at;
        if rest > 0 {
            if all {
                self.writer.write_batch(&joined.slice(at, rest))?;
            } else {
                self.pending.push(joined.slice(at, rest));
            }
        }
        self.pending_rows = if all { 0 } else { rest };
        Ok(())
    }

    /// Closes the file, publishes it, and says what the manifest will say of it.
    pub fn finish(mut self) -> anyhow::Result<ShardInfo> {
        self.set_aside_columns()?;
        self.write_pending(true)?;
        let rows = self.writer.finish()?;
        let path = &self.path;
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Ok(ShardInfo {
            path: self.rel,
            split: self.shard.split,
            rows,
            bytes: bytes.len() as u64,
            sha256: sha256_hex(&bytes),
            scenes: self.scenes,
            inputs: self.inputs,
            frames: self.frames.into_iter().collect(),
            second_pass: CorpusStats::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossview_schemas::{BoxXyxy, MaskSource, Region, Rle, SourceKind, Task, ViewRef};

    fn sample(k: usize) -> QaSample {
        let mask = Rle::from_box(&BoxXyxy::try_new(1.0, 2.0, 7.0, 5.0).unwrap(), 8, 10).unwrap();
        let mut s = QaSample {
            sample_id: String::new(),
            task: Task::Q5,
            source: SourceKind::MessyTable,
            scene_id: format!("scene-{}", k / 3000),
            split: Split::Train,
            question: "Are <region> and <region> the same object?".into(),
            options: vec!["yes".into(), "no".into()],
            answer_index: (k % 2) as i32,
            answer: if k.is_multiple_of(2) { "yes" } else { "no" }.into(),
            open_ended: false,
            views: (0..2)
                .map(|v| ViewRef {
                    view_id: format!("cam{v}"),
                    frame_id: (k % 7).to_string(),
                    image: if k.is_multiple_of(5) {
                        format!("f{}.jpg", k % 11)
                    } else {
                        String::new()
                    },
                    width: 10,
                    height: 8,
                })
                .collect(),
            regions: (0..2)
                .map(|v| Region {
                    view_index: v,
                    instance_id: format!("obj{}", k % 13),
                    category: "mug".into(),
                    bbox: BoxXyxy::try_new(1.0, 2.0, 7.0, 5.0).unwrap(),
                    mask: (&mask).into(),
                    mask_source: if v == 0 {
                        MaskSource::annotated()
                    } else {
                        MaskSource::segmenter("m", 0.5)
                    },
                })
                .collect(),
            template_id: "Q5.t0".into(),
            generator: "test".into(),
        };
        s.sample_id = s.content_id();
        s
    }

    #[test]
    fn a_shard_written_sample_by_sample_has_the_bytes_of_its_rows_written_in_batches() {
        let rows: Vec<QaSample> = (0..2 * SHARD_BATCH_ROWS + 5).map(sample).collect();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        let id = ShardId {
            split: Split::Train,
            bucket: 3,
        };
        let opts = WriteOptions::default();
        let mut w = ShardWriter::create(id, 8, "inputs".into(), dir.path(), &opts).unwrap();
        for s in &rows {
            w.push(&s.as_sample_ref()).unwrap();
        }
        let info = w.finish().unwrap();
        assert_eq!(info.path, "data/train-00003-of-00008.parquet");
        assert_eq!(info.rows, rows.len() as u64);
        assert_eq!(info.scenes, ["scene-0", "scene-1", "scene-2"]);
        let mut frames: Vec<String> = (0..11).map(|k| format!("f{k}.jpg")).collect();
        frames.sort();
        assert_eq!(info.frames, frames);

        let plain = dir.path().join("plain.parquet");
        let mut w = RecordWriter::<QaSample>::create(&plain, &opts).unwrap();
        for chunk in rows.chunks(SHARD_BATCH_ROWS) {
            w.write(chunk).unwrap();
        }
        w.finish().unwrap();
        let written = std::fs::read(dir.path().join(&info.path)).unwrap();
        assert_eq!(written, std::fs::read(&plain).unwrap());
        assert_eq!(info.sha256, sha256_hex(&written));
        assert_eq!(info.bytes, written.len() as u64);
    }

    /// Scenes' rows made apart and pushed whole (scenes of 3,000 rows and an empty one, mixed
    /// with single samples) give the bytes of a shard fed one sample at a time.
    #[test]
    fn rows_pushed_a_scene_at_a_time_give_the_bytes_of_samples_pushed_one_by_one() {
        let rows: Vec<QaSample> = (0..2 * SHARD_BATCH_ROWS + 5).map(sample).collect();
        let dir = tempfile::tempdir().unwrap();
        let id = ShardId {
            split: Split::Train,
            bucket: 1,
        };
        let opts = WriteOptions::default();
        let one_by_one = dir.path().join("a");
        let by_scene = dir.path().join("b");
        for d in [&one_by_one, &by_scene] {
            std::fs::create_dir_all(d.join("data")).unwrap();
        }
        let mut w = ShardWriter::create(id, 4, "i".into(), &one_by_one, &opts).unwrap();
        for s in &rows {
            w.push(&s.as_sample_ref()).unwrap();
        }
        let a = w.finish().unwrap();

        let mut w = ShardWriter::create(id, 4, "i".into(), &by_scene, &opts).unwrap();
        let refs: Vec<_> = rows.iter().map(QaSample::as_sample_ref).collect();
        // The first two rows one by one, then each scene's rest whole, an empty scene between.
        w.push(&refs[0]).unwrap();
        w.push(&refs[1]).unwrap();
        let mut at = 2;
        while at < refs.len() {
            let scene = refs[at].scene_id;
            let end = at
                + refs[at..]
                    .iter()
                    .take_while(|r| r.scene_id == scene)
                    .count();
            let part: Vec<_> = refs[at..end].iter().collect();
            w.push_rows(SceneRows::of(scene, &part).unwrap()).unwrap();
            w.push_rows(SceneRows::of("empty", &[]).unwrap()).unwrap();
            at = end;
        }
        let b = w.finish().unwrap();
        assert_eq!(a.rows, b.rows);
        assert_eq!(a.scenes, b.scenes);
        assert_eq!(a.frames, b.frames);
        assert_eq!(a.sha256, b.sha256);
        assert_eq!(
            std::fs::read(one_by_one.join(&a.path)).unwrap(),
            std::fs::read(by_scene.join(&b.path)).unwrap()
        );
    }
}
