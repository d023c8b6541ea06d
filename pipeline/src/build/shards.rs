//! Shards: a split's scene-hash buckets ([`ShardId`]), each written atomically as Parquet in
//! canonical order (scene, sample id) in row groups of whole scenes ([`ends_row_group`]),
//! and what the manifest says of one ([`ShardInfo`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use arrow_array::RecordBatch;
use serde::{Deserialize, Serialize};

use crossview_schemas::{
    ContentHasher, QaSample, RecordReader, RecordWriter, SampleColumns, SampleRef, Split,
    WriteOptions, sha256_hex,
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

/// Rows per Arrow batch handed to the Parquet writer, cut from the start of each row group.
/// Page boundaries follow the batches, so anything that must reproduce a shard's bytes
/// writes each row group in batches of this many rows.
pub const SHARD_BATCH_ROWS: usize = 4096;

/// Whether a shard's row group ends after a scene, holding `group_rows` rows (of a target
/// of `target`): once it holds `target` rows, or half of that after a scene whose id picks
/// it (one in four, by a hash of its own, not the shard's). Groups hold whole scenes, and
/// where one ends depends on the scenes near it only: a scene whose rows change changes
/// its group (and seldom the next), while the groups before and after keep their scenes
/// and so their bytes, which a rebuild copies ([`ShardWriter::copy_group`]).
pub fn ends_row_group(scene_id: &str, group_rows: u64, target: u64) -> bool {
    let picked = || {
        ContentHasher::new("crossview.row_group_end")
            .str(scene_id)
            .finish_u64()
            .is_multiple_of(4)
    };
    group_rows >= target.max(1) || (group_rows >= target / 2 && picked())
}

/// The row groups of a shard whose scenes (id, rows) are `scenes` in file order: ranges of
/// indices into `scenes`, by [`ends_row_group`]. Scenes without rows end no group; the
/// last group ends at the last scene with rows.
pub fn row_group_layout<'a>(
    scenes: impl IntoIterator<Item = (&'a str, u64)>,
    target: u64,
) -> Vec<std::ops::Range<usize>> {
    let mut groups = Vec::new();
    let (mut start, mut rows, mut last) = (0, 0u64, 0);
    for (i, (scene_id, n)) in scenes.into_iter().enumerate() {
        if n == 0 {
            continue;
        }
        rows += n;
        last = i + 1;
        if ends_row_group(scene_id, rows, target) {
            groups.push(start..last);
            (start, rows) = (last, 0);
        }
    }
    if rows > 0 {
        groups.push(start..last);
    }
    groups
}

/// A shard being written, atomically under a root: each scene's rows come whole, made
/// elsewhere (in canonical order), or a row group comes copied from a published shard; rows
/// are written in batches of [`SHARD_BATCH_ROWS`] and row groups end at
/// [`ends_row_group`], so no shard is ever held whole.
pub struct ShardWriter {
    shard: ShardId,
    rel: String,
    path: PathBuf,
    inputs: String,
    writer: RecordWriter<QaSample>,
    /// Rows waiting for a whole batch: scenes' rows made elsewhere, or else samples put
    /// straight into the batch's columns (never both at once).
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    columns: SampleColumns,
    /// Seconds spent encoding and writing batches (the rest of [`ShardWriter::push_samples`]
    /// is making columns).
    encode_s: f64,
    /// Rows in the row group being written, and the rows groups aim at.
    group_rows: u64,
    target: u64,
    scenes: Vec<String>,
    frames: BTreeSet<String>,
}

/// The frames a scene's samples show.
fn frames_shown(samples: &[&SampleRef<'_>]) -> BTreeSet<String> {
    let mut frames = BTreeSet::new();
    for s in samples {
        for v in &s.views {
            if !v.image.is_empty() && !frames.contains(&v.image) {
                frames.insert(v.image.clone());
            }
        }
    }
    frames
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

thread_local! {
    /// Each thread's columns for [`SceneRows::of`], kept from scene to scene: a scene's
    /// columns start with room for as much as the thread's last scene held, instead of
    /// growing from nothing (their reallocations were a few percent of a build).
    static SCENE_COLUMNS: std::cell::RefCell<SampleColumns> =
        std::cell::RefCell::new(SampleColumns::new());
}

impl SceneRows {
    /// A scene's samples (already in canonical order) as rows.
    pub fn of(scene_id: &str, samples: &[&SampleRef<'_>]) -> anyhow::Result<SceneRows> {
        let batch = SCENE_COLUMNS.with_borrow_mut(|columns| {
            // Rows left by a scene that failed part way are not this scene's.
            if !columns.is_empty() {
                *columns = SampleColumns::new();
            }
            for s in samples {
                columns.push(s);
            }
            let batch = columns.finish();
            if batch.is_err() {
                *columns = SampleColumns::new();
            }
            batch
        })?;
        Ok(SceneRows {
            scene_id: scene_id.to_string(),
            batch,
            frames: frames_shown(samples),
        })
    }
}

impl ShardWriter {
    /// Starts shard `shard` (of `shards` per split) under `root`; `inputs` identifies what
    /// its rows are made from. Row groups aim at `opts.row_group_rows` rows.
    pub fn create(
        shard: ShardId,
        shards: u32,
        inputs: String,
        root: &Path,
        opts: &WriteOptions,
    ) -> anyhow::Result<Self> {
        let rel = shard.file_name(shards);
        let path = root.join(&rel);
        // Row groups are ended here, at scene boundaries, never by the writer.
        let unbounded = WriteOptions {
            row_group_rows: usize::MAX,
            ..opts.clone()
        };
        Ok(ShardWriter {
            shard,
            writer: RecordWriter::<QaSample>::create(&path, &unbounded)?,
            rel,
            path,
            inputs,
            pending: Vec::new(),
            pending_rows: 0,
            columns: SampleColumns::new(),
            encode_s: 0.0,
            group_rows: 0,
            target: opts.row_group_rows.max(1) as u64,
            scenes: Vec::new(),
            frames: BTreeSet::new(),
        })
    }

    /// Appends a scene's rows (all of them), made elsewhere.
    pub fn push_rows(&mut self, rows: SceneRows) -> anyhow::Result<()> {
        let n = rows.batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        // Samples put into the columns before come first.
        if !self.columns.is_empty() {
            self.pending_rows += self.columns.len();
            self.pending.push(self.columns.finish()?);
        }
        if self.scenes.last() != Some(&rows.scene_id) {
            self.scenes.push(rows.scene_id.clone());
        }
        self.frames.extend(rows.frames);
        self.pending_rows += n;
        self.pending.push(rows.batch);
        self.group_rows += n as u64;
        if ends_row_group(&rows.scene_id, self.group_rows, self.target) {
            self.write_pending(true)?;
            self.end_row_group()?;
        } else {
            self.write_pending(false)?;
        }
        Ok(())
    }

    /// Appends a scene's samples (all of them, in canonical order) as rows, put straight
    /// into the columns of the batch being filled: the same batches as [`push_rows`] of
    /// the scenes' [`SceneRows`] without their rows made apart and then joined (a copy of
    /// every row, a few percent of a build). Returns the frames the samples show.
    ///
    /// [`push_rows`]: ShardWriter::push_rows
    pub fn push_samples(
        &mut self,
        scene_id: &str,
        samples: &[&SampleRef<'_>],
    ) -> anyhow::Result<BTreeSet<String>> {
        if !self.pending.is_empty() {
            let rows = SceneRows::of(scene_id, samples)?;
            let frames = rows.frames.clone();
            self.push_rows(rows)?;
            return Ok(frames);
        }
        let frames = frames_shown(samples);
        if samples.is_empty() {
            return Ok(frames);
        }
        if self.scenes.last().map(String::as_str) != Some(scene_id) {
            self.scenes.push(scene_id.to_string());
        }
        self.frames.extend(frames.iter().cloned());
        for s in samples {
            self.columns.push(s);
            if self.columns.len() == SHARD_BATCH_ROWS {
                self.write_columns()?;
            }
        }
        self.group_rows += samples.len() as u64;
        if ends_row_group(scene_id, self.group_rows, self.target) {
            self.write_columns()?;
            self.end_row_group()?;
        }
        Ok(frames)
    }

    /// Seconds spent encoding and writing batches so far.
    pub fn encode_seconds(&self) -> f64 {
        self.encode_s
    }

    /// Writes the samples in the columns, if any, as a batch.
    fn write_columns(&mut self) -> anyhow::Result<()> {
        if self.columns.is_empty() {
            return Ok(());
        }
        let batch = self.columns.finish()?;
        self.write_batch(&batch)
    }

    fn write_batch(&mut self, batch: &RecordBatch) -> anyhow::Result<()> {
        let start = std::time::Instant::now();
        self.writer.write_batch(batch)?;
        self.encode_s += start.elapsed().as_secs_f64();
        Ok(())
    }

    fn end_row_group(&mut self) -> anyhow::Result<()> {
        let start = std::time::Instant::now();
        self.writer.end_row_group()?;
        self.encode_s += start.elapsed().as_secs_f64();
        self.group_rows = 0;
        Ok(())
    }

    /// Appends row group `group` of published shard `source` as it is (its column chunks
    /// copied): the rows of `scenes` (in order, each with the frames its samples show) there.
    /// Only between row groups.
    pub fn copy_group(
        &mut self,
        source: &RecordReader<QaSample>,
        group: usize,
        scenes: &[(&str, &[String])],
    ) -> anyhow::Result<()> {
        if self.group_rows > 0 || self.pending_rows > 0 {
            anyhow::bail!("a row group copied into {} inside another", self.rel);
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

    /// Writes the pending rows in batches of [`SHARD_BATCH_ROWS`] (all of them with `all`),
    /// keeping the rest pending: the batches, and so the pages, are cut from the row group's
    /// first row.
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
            self.write_batch(&joined.slice(at, SHARD_BATCH_ROWS))?;
            at += SHARD_BATCH_ROWS;
        }
        let rest = joined.num_rows() - at;
        if rest > 0 {
            if all {
                self.write_batch(&joined.slice(at, rest))?;
            } else {
                self.pending.push(joined.slice(at, rest));
            }
        }
        self.pending_rows = if all { 0 } else { rest };
        Ok(())
    }

    /// Closes the file, publishes it, and says what the manifest will say of it.
    pub fn finish(mut self) -> anyhow::Result<ShardInfo> {
        self.write_columns()?;
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

    /// Scenes of these many rows (ids `scene-0`, ...), in order.
    fn scenes(sizes: &[usize]) -> Vec<Vec<QaSample>> {
        let mut k = 0;
        sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                (0..n)
                    .map(|_| {
                        k += 1;
                        let mut s = sample(k);
                        s.scene_id = format!("scene-{i:02}");
                        s.sample_id = s.content_id();
                        s
                    })
                    .collect()
            })
            .collect()
    }

    /// Row groups hold whole scenes, end where [`row_group_layout`] says, and hold the bytes
    /// of each group's rows written in batches from its first row; scenes without rows
    /// change nothing.
    #[test]
    fn a_shards_row_groups_hold_whole_scenes_written_in_batches_from_their_start() {
        let sizes = [
            3000, 10, 5000, 1, 0, 7000, 200, 2500, 2500, 900, 4100, 3, 1500,
        ];
        let scenes = scenes(&sizes);
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        let id = ShardId {
            split: Split::Train,
            bucket: 3,
        };
        let opts = WriteOptions {
            row_group_rows: SHARD_BATCH_ROWS,
            ..WriteOptions::default()
        };
        let mut w = ShardWriter::create(id, 8, "inputs".into(), dir.path(), &opts).unwrap();
        for (i, rows) in scenes.iter().enumerate() {
            let refs: Vec<_> = rows.iter().map(QaSample::as_sample_ref).collect();
            let refs: Vec<_> = refs.iter().collect();
            w.push_rows(SceneRows::of(&format!("scene-{i:02}"), &refs).unwrap())
                .unwrap();
            w.push_rows(SceneRows::of("empty", &[]).unwrap()).unwrap();
        }
        let info = w.finish().unwrap();
        assert_eq!(info.path, "data/train-00003-of-00008.parquet");
        assert_eq!(info.rows, sizes.iter().sum::<usize>() as u64);
        let with_rows: Vec<String> = (sizes.iter().enumerate())
            .filter(|(_, n)| **n > 0)
            .map(|(i, _)| format!("scene-{i:02}"))
            .collect();
        assert_eq!(info.scenes, with_rows);
        let mut frames: Vec<String> = (0..11).map(|k| format!("f{k}.jpg")).collect();
        frames.sort();
        assert_eq!(info.frames, frames);

        // The groups, as runs of scenes, are the layout's; none splits a scene, and every
        // group but the last holds at least half the target.
        let written = dir.path().join(&info.path);
        let reader = RecordReader::<QaSample>::open(&written).unwrap();
        let ids: Vec<&str> = scenes
            .iter()
            .map(|s| s.first().map_or("", |r| r.scene_id.as_str()))
            .collect();
        let layout = row_group_layout(
            ids.iter().copied().zip(sizes.iter().map(|&n| n as u64)),
            SHARD_BATCH_ROWS as u64,
        );
        assert!(layout.len() >= 3, "{layout:?}");
        assert_eq!(reader.num_row_groups(), layout.len());
        for (g, range) in layout.iter().enumerate() {
            let rows: usize = sizes[range.clone()].iter().sum();
            assert_eq!(reader.row_group_rows(g), rows as u64, "group {g}");
            if g + 1 < layout.len() {
                assert!(rows >= SHARD_BATCH_ROWS / 2, "group {g}: {rows} rows");
            }
        }

        let plain = dir.path().join("plain.parquet");
        let unbounded = WriteOptions {
            row_group_rows: usize::MAX,
            ..opts.clone()
        };
        let mut w = RecordWriter::<QaSample>::create(&plain, &unbounded).unwrap();
        for range in &layout {
            let rows: Vec<QaSample> = scenes[range.clone()].concat();
            for chunk in rows.chunks(SHARD_BATCH_ROWS) {
                w.write(chunk).unwrap();
            }
            w.end_row_group().unwrap();
        }
        w.finish().unwrap();
        let bytes = std::fs::read(&written).unwrap();
        assert_eq!(bytes, std::fs::read(&plain).unwrap());
        assert_eq!(info.sha256, sha256_hex(&bytes));
        assert_eq!(info.bytes, bytes.len() as u64);
    }

    /// Writes `scenes` to a shard under `dir`, each by [`ShardWriter::push_samples`] where
    /// `by_samples` says so of its index, else by [`ShardWriter::push_rows`].
    fn write_shard(
        dir: &Path,
        scenes: &[Vec<QaSample>],
        by_samples: impl Fn(usize) -> bool,
    ) -> (ShardInfo, Vec<u8>) {
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let id = ShardId {
            split: Split::Bench,
            bucket: 1,
        };
        let opts = WriteOptions {
            row_group_rows: SHARD_BATCH_ROWS,
            ..WriteOptions::default()
        };
        let mut w = ShardWriter::create(id, 4, "inputs".into(), dir, &opts).unwrap();
        for (i, rows) in scenes.iter().enumerate() {
            let refs: Vec<_> = rows.iter().map(QaSample::as_sample_ref).collect();
            let refs: Vec<_> = refs.iter().collect();
            let scene_id = format!("scene-{i:02}");
            if by_samples(i) {
                let frames = w.push_samples(&scene_id, &refs).unwrap();
                assert_eq!(frames, SceneRows::of(&scene_id, &refs).unwrap().frames);
            } else {
                w.push_rows(SceneRows::of(&scene_id, &refs).unwrap())
                    .unwrap();
            }
        }
        let info = w.finish().unwrap();
        let bytes = std::fs::read(dir.join(&info.path)).unwrap();
        (info, bytes)
    }

    #[test]
    fn samples_put_straight_into_the_columns_make_the_same_file_as_scenes_rows() {
        let sizes = [
            3000, 10, 5000, 1, 0, 7000, 200, 2500, 2500, 900, 4100, 3, 1500, 4096, 8192,
        ];
        // Long questions fill a page within a batch, so a batch cut one row off moves the
        // pages' ends (and the file's bytes).
        let mut scenes = scenes(&sizes);
        for (k, s) in scenes.iter_mut().flatten().enumerate() {
            s.question = format!("{k}: {}", "which one is nearer? ".repeat(40));
        }
        let dir = tempfile::tempdir().unwrap();
        let (rows_info, rows_file) = write_shard(&dir.path().join("rows"), &scenes, |_| false);
        for (name, by_samples) in [
            ("samples", &(|_| true) as &dyn Fn(usize) -> bool),
            ("every other", &|i| i % 2 == 0),
            ("every third", &|i| i % 3 != 1),
        ] {
            let (info, file) = write_shard(&dir.path().join(name), &scenes, by_samples);
            assert!(file == rows_file, "{name}: the files differ");
            assert_eq!(info.rows, rows_info.rows, "{name}");
            assert_eq!(info.scenes, rows_info.scenes, "{name}");
            assert_eq!(info.frames, rows_info.frames, "{name}");
            assert_eq!(info.sha256, rows_info.sha256, "{name}");
        }
        assert_eq!(rows_info.rows, sizes.iter().sum::<usize>() as u64);
    }

    /// A group ends at the target, or at half of it after about one scene in four; never
    /// below half.
    #[test]
    fn row_groups_end_at_the_target_or_at_a_picked_scene_past_half_of_it() {
        let ids: Vec<String> = (0..400).map(|i| format!("messytable/scene{i}")).collect();
        let picked = ids.iter().filter(|id| ends_row_group(id, 50, 100)).count();
        assert!((60..=140).contains(&picked), "{picked} of 400 picked");
        for id in &ids {
            assert!(ends_row_group(id, 100, 100));
            assert!(!ends_row_group(id, 49, 100));
        }
    }
}
