//! `crossview verify OUT`: a build output against its manifest (every shard's SHA-256, rows,
//! record schema, config hash and scenes), scene-disjoint splits, and the frames it shows.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crossview_schemas::{ArrowRecord, QaSample, RecordReader, Split, sha256_hex};

use crate::build::Manifest;

/// What verification found.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct VerifyReport {
    /// Shards checked.
    pub shards: usize,
    /// Rows read.
    pub rows: u64,
    /// Scenes with rows, per split.
    pub train_scenes: usize,
    /// Scenes with rows in bench.
    pub bench_scenes: usize,
    /// Distinct frames the samples show.
    pub frames: usize,
    /// Every failed check (file and reason).
    pub problems: Vec<String>,
}

impl VerifyReport {
    /// Whether every check held.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verifies a build output; problems are collected, not returned as errors, so one run
/// names all of them. An unreadable manifest is an error.
pub fn verify(out: &Path) -> anyhow::Result<VerifyReport> {
    let manifest = Manifest::read(out)?;
    let mut report = VerifyReport::default();
    let problems = &mut report.problems;

    // No shard on disk that the manifest does not list (a stale or foreign file).
    let listed: BTreeSet<&str> = manifest.shards.iter().map(|s| s.path.as_str()).collect();
    if let Ok(rd) = std::fs::read_dir(out.join("data")) {
        for e in rd.flatten() {
            let rel = format!("data/{}", e.file_name().to_string_lossy());
            if rel.ends_with(".parquet") && !listed.contains(rel.as_str()) {
                problems.push(format!("{rel}: not listed in the manifest"));
            }
        }
    }

    let split_of: BTreeMap<&str, Split> = manifest
        .scenes
        .iter()
        .map(|s| (s.scene_id.as_str(), s.split))
        .collect();
    let mut scenes_by_split: BTreeMap<Split, BTreeSet<String>> = BTreeMap::new();
    let mut frames: BTreeSet<String> = BTreeSet::new();
    let mut sample_ids: BTreeSet<String> = BTreeSet::new();
    for shard in &manifest.shards {
        report.shards += 1;
        let path = out.join(&shard.path);
        let name = &shard.path;
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                problems.push(format!("{name}: {e}"));
                continue;
            }
        };
        if sha256_hex(&bytes) != shard.sha256 {
            problems.push(format!("{name}: SHA-256 differs from the manifest"));
        }
        let mut reader = match RecordReader::<QaSample>::open(&path) {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("{name}: {e}"));
                continue;
            }
        };
        if reader.arrow_schema().fields() != QaSample::schema().fields() {
            problems.push(format!("{name}: columns differ from the QA sample schema"));
        }
        if reader.config_hash().as_deref() != Some(manifest.config_hash.as_str()) {
            problems.push(format!(
                "{name}: config hash {:?}, manifest {}",
                reader.config_hash(),
                manifest.config_hash
            ));
        }
        let mut rows = 0u64;
        let mut scenes = BTreeSet::new();
        for batch in &mut reader {
            let batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    problems.push(format!("{name}: {e}"));
                    break;
                }
            };
            for q in batch {
                rows += 1;
                if q.split != shard.split {
                    problems.push(format!("{name}: sample {} is {:?}", q.sample_id, q.split));
                }
                match split_of.get(q.scene_id.as_str()) {
                    Some(&s) if s == q.split => {}
                    Some(s) => problems.push(format!(
                        "{name}: scene {} is {s:?} in the manifest, {:?} here",
                        q.scene_id, q.split
                    )),
                    None => problems.push(format!(
                        "{name}: scene {} is not in the manifest",
                        q.scene_id
                    )),
                }
                if !sample_ids.insert(q.sample_id.clone()) {
                    problems.push(format!("{name}: sample {} appears twice", q.sample_id));
                }
                for v in &q.views {
                    if !v.image.is_empty() {
                        frames.insert(v.image.clone());
                    }
                }
                scenes.insert(q.scene_id);
            }
        }
        report.rows += rows;
        if rows != shard.rows {
            problems.push(format!("{name}: {rows} rows, manifest says {}", shard.rows));
        }
        let listed_scenes: BTreeSet<String> = shard.scenes.iter().cloned().collect();
        if scenes != listed_scenes {
            problems.push(format!(
                "{name}: its scenes differ from the manifest's list"
            ));
        }
        scenes_by_split
            .entry(shard.split)
            .or_default()
            .extend(scenes);
    }

    let empty = BTreeSet::new();
    let train = scenes_by_split.get(&Split::Train).unwrap_or(&empty);
    let bench = scenes_by_split.get(&Split::Bench).unwrap_or(&empty);
    for s in train.intersection(bench) {
        problems.push(format!("scene {s} has samples in both train and bench"));
    }
    report.train_scenes = train.len();
    report.bench_scenes = bench.len();

    // Portable output: every shown frame is in the store.
    for f in &frames {
        if !out.join("frames").join(f).is_file() {
            problems.push(format!("frames/{f}: shown by a sample, missing"));
        }
    }
    report.frames = frames.len();
    Ok(report)
}

/// Runs the command: prints the report; a failed check is an error (exit 1).
pub fn run(out: &Path, json: bool) -> anyhow::Result<()> {
    let report = verify(out)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{}: {} shards, {} rows, {} train / {} bench scenes, {} frames",
            out.display(),
            report.shards,
            report.rows,
            report.train_scenes,
            report.bench_scenes,
            report.frames
        );
        for p in &report.problems {
            println!("  FAIL {p}");
        }
    }
    if !report.ok() {
        anyhow::bail!("{}: {} checks failed", out.display(), report.problems.len());
    }
    Ok(())
}
