//! Shards: sample updates spilled per shard as the graph emits them, then each shard
//! consolidated, put in canonical order (scene, sample id) and written atomically as Parquet.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufReader, BufWriter, Write as _};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crossview_schemas::{QaSample, RecordWriter, Split, WriteOptions, sha256_hex};

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

/// One worker's spill files: per shard, the (difference, sample) updates it received.
pub struct Spill {
    dir: PathBuf,
    worker: usize,
    files: BTreeMap<ShardId, BufWriter<File>>,
}

impl Spill {
    /// Spill files of `worker` under `dir` (created).
    pub fn new(dir: &Path, worker: usize) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Spill {
            dir: dir.to_path_buf(),
            worker,
            files: BTreeMap::new(),
        })
    }

    fn path(dir: &Path, shard: ShardId, worker: usize) -> PathBuf {
        dir.join(format!(
            "{}-{:05}.w{worker}.bin",
            shard.split.name(),
            shard.bucket
        ))
    }

    /// Appends an update.
    pub fn push(&mut self, shard: ShardId, diff: i64, sample: &QaSample) -> anyhow::Result<()> {
        if !self.files.contains_key(&shard) {
            let path = Self::path(&self.dir, shard, self.worker);
            let f = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
            self.files.insert(shard, BufWriter::new(f));
        }
        let f = self
            .files
            .get_mut(&shard)
            .ok_or_else(|| anyhow::anyhow!("spill file vanished"))?;
        bincode::serialize_into(f, &(diff, sample)).context("spilling a sample")?;
        Ok(())
    }

    /// Flushes every file.
    pub fn finish(self) -> anyhow::Result<()> {
        for (_, mut f) in self.files {
            f.flush().context("flushing a spill file")?;
        }
        Ok(())
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
}

/// Consolidates a shard's spilled updates from every worker and writes it atomically; also
/// gives the frames its samples show.
pub fn write_shard(
    spill_dir: &Path,
    workers: usize,
    shard: ShardId,
    shards: u32,
    out: &Path,
    opts: &WriteOptions,
) -> anyhow::Result<(ShardInfo, BTreeSet<String>)> {
    // Every update of the shard, then sorted by (scene, sample id) so the updates of one
    // sample sit together and cancel or add up.
    let mut updates: Vec<(i64, QaSample)> = Vec::new();
    for w in 0..workers {
        let path = Spill::path(spill_dir, shard, w);
        let Ok(f) = File::open(&path) else {
            continue;
        };
        let mut r = BufReader::with_capacity(1 << 20, f);
        loop {
            match bincode::deserialize_from::<_, (i64, QaSample)>(&mut r) {
                Ok(update) => updates.push(update),
                Err(e) => match *e {
                    bincode::ErrorKind::Io(ref io)
                        if io.kind() == std::io::ErrorKind::UnexpectedEof =>
                    {
                        break;
                    }
                    _ => return Err(anyhow::anyhow!("{}: {e}", path.display())),
                },
            }
        }
    }
    fn key(q: &QaSample) -> (&str, &str) {
        (q.scene_id.as_str(), q.sample_id.as_str())
    }
    updates.sort_unstable_by(|a, b| key(&a.1).cmp(&key(&b.1)).then(a.0.cmp(&b.0)));
    let mut scenes: Vec<String> = Vec::new();
    let mut kept: Vec<QaSample> = Vec::with_capacity(updates.len());
    let mut updates = updates.into_iter().peekable();
    while let Some((mut n, q)) = updates.next() {
        while let Some((m, _)) = updates.next_if(|(_, next)| key(next) == key(&q)) {
            n += m;
        }
        if !(0..=1).contains(&n) {
            anyhow::bail!("sample {} has multiplicity {n} in {shard:?}", q.sample_id);
        }
        if n == 1 {
            if scenes.last() != Some(&q.scene_id) {
                scenes.push(q.scene_id.clone());
            }
            kept.push(q);
        }
    }
    let rel = shard.file_name(shards);
    let path = out.join(&rel);
    let mut w = RecordWriter::<QaSample>::create(&path, opts)?;
    for chunk in kept.chunks(4096) {
        w.write(chunk)?;
    }
    let n = w.finish()?;
    let shown: BTreeSet<String> = kept
        .iter()
        .flat_map(|q| q.views.iter())
        .filter(|v| !v.image.is_empty())
        .map(|v| v.image.clone())
        .collect();
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let info = ShardInfo {
        path: rel,
        split: shard.split,
        rows: n,
        bytes: bytes.len() as u64,
        sha256: sha256_hex(&bytes),
        scenes,
    };
    Ok((info, shown))
}
