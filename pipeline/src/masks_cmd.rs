//! `crossview masks`: completes the masks of native trees with the configured segmenter and,
//! where a tree has a `_truth/` sidecar, scores them against it (mean IoU per source for
//! box-as-mask, the keypoint hull, the raw segmenter and the completed result).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use rayon::prelude::*;

use crossview_schemas::{InputError, MaskSourceKind, RecordReader, Rle, TruthObservation};
use crossview_stages::masks::{
    BelowMinScore, MaskConfig, MaskScore, MaskStats, box_mask, keypoint_hull,
};
use crossview_stages::sources::{self, SceneData, SourceOptions};

use crate::mask_workers::ThreadCompleters;

/// Parsed `masks` arguments.
#[derive(Clone, Debug)]
pub struct MasksArgs {
    /// Native trees, or folders of them.
    pub trees: Vec<PathBuf>,
    /// Mask settings (paths resolved).
    pub config: MaskConfig,
    /// Reading options.
    pub options: SourceOptions,
    /// Segmenter cache folder (none: every prompt is segmented).
    pub cache: Option<PathBuf>,
    /// Print JSON.
    pub json: bool,
    /// Worker threads (default: all cores).
    pub threads: Option<usize>,
}

/// What a `masks` run measured.
#[derive(Debug, Default)]
pub struct MasksRun {
    /// Mean IoU against the truth, per source and method.
    pub score: MaskScore,
    /// What the mask stage did.
    pub stats: MaskStats,
    /// Input errors (reading, and frames that could not be segmented).
    pub errors: Vec<InputError>,
    /// Scenes completed.
    pub scenes: u64,
    /// Seconds in the mask stage (all threads together).
    pub stage_s: f64,
    /// Wall seconds of the whole run.
    pub wall_s: f64,
    /// The segmenter's model id.
    pub model: Option<String>,
}

/// The truth modal masks of a synthetic tree by (scene, camera, frame, instance); empty for a
/// tree without `_truth/`.
type TruthMasks = HashMap<(String, String, u32, String), Rle>;

fn truth_masks(root: &Path) -> anyhow::Result<TruthMasks> {
    let path = root.join("_truth").join("observations.parquet");
    if !path.is_file() {
        return Ok(HashMap::new());
    }
    let rows = RecordReader::<TruthObservation>::read_all(&path)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(rows
        .into_iter()
        .filter_map(|o| {
            let modal = o.modal?.to_rle();
            Some((
                (o.scene_id, o.camera_id, o.frame_index, o.instance_id),
                modal,
            ))
        })
        .collect())
}

/// Completes and scores every scene of the trees.
pub fn evaluate(args: &MasksArgs) -> anyhow::Result<MasksRun> {
    let wall = Instant::now();
    let trees = crate::qa_cmd::source_trees(&args.trees)?;
    let threads = args.threads.unwrap_or(0);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .context("starting worker threads")?;
    // The raw segmenter output is wanted for scoring: no confidence filter, no fallback
    // (both are applied below from the scores, exactly as the stage applies them).
    let raw_cfg = MaskConfig {
        min_score: 0.0,
        keypoint_hull: false,
        below_min_score: BelowMinScore::Fallback,
        ..args.config.clone()
    };
    let completers = pool.install(|| ThreadCompleters::open(&raw_cfg, args.cache.as_deref()))?;
    let model = completers.model_id();
    let mut run = MasksRun {
        model: model.clone(),
        ..MasksRun::default()
    };
    for (root, kind) in &trees {
        let truth = truth_masks(root)?;
        let reader = sources::open(root, Some(*kind), &args.options)?;
        let (scenes, tree_errors) = sources::read_all(reader.as_ref())?;
        run.errors.extend(tree_errors);
        let parts: Vec<anyhow::Result<(MaskScore, f64)>> = pool.install(|| {
            scenes
                .into_par_iter()
                .map(|scene| {
                    score_scene(
                        scene,
                        root,
                        &completers,
                        &args.config,
                        &truth,
                        model.as_deref(),
                    )
                })
                .collect()
        });
        for part in parts {
            let (score, seconds) = part?;
            merge_score(&mut run.score, &score);
            run.stage_s += seconds;
            run.scenes += 1;
        }
    }
    let (stats, errors) = completers.take();
    run.stats = stats;
    run.errors.extend(errors);
    run.wall_s = wall.elapsed().as_secs_f64();
    Ok(run)
}

fn merge_score(into: &mut MaskScore, part: &MaskScore) {
    for m in &part.methods {
        if !into.methods.contains(m) {
            into.methods.push(m.clone());
        }
    }
    for (source, methods) in &part.by {
        let to = into.by.entry(*source).or_default();
        for (m, s) in methods {
            let t = to.entry(m.clone()).or_default();
            t.masks += s.masks;
            t.iou_sum += s.iou_sum;
        }
    }
}

/// Completes one scene (raw segmenter output) and scores box, hull, raw and completed masks.
fn score_scene(
    scene: SceneData,
    root: &Path,
    completers: &ThreadCompleters,
    cfg: &MaskConfig,
    truth: &TruthMasks,
    model: Option<&str>,
) -> anyhow::Result<(MaskScore, f64)> {
    let mut score = MaskScore::default();
    let Some(source) = scene.scene.as_ref().map(|s| s.source) else {
        return Ok((score, 0.0));
    };
    let original = Arc::new(scene);
    let sizes: HashMap<&str, (u32, u32)> = original
        .cameras
        .iter()
        .map(|c| (c.camera_id.as_str(), (c.model.width(), c.model.height())))
        .collect();
    let start = Instant::now();
    let done = completers.complete(original.clone(), root)?;
    let seconds = start.elapsed().as_secs_f64();
    let segmenter = model.map(|m| m.split('-').next().unwrap_or(m).to_string());
    for (before, after) in original.observations.iter().zip(&done.observations) {
        if before.mask.is_some() {
            continue;
        }
        let (Some(bbox), Some(&(w, h))) = (before.bbox, sizes.get(before.camera_id.as_str()))
        else {
            continue;
        };
        let key = (
            before.scene_id.clone(),
            before.camera_id.clone(),
            before.frame_index,
            before.instance_id.clone(),
        );
        let Some(t) = truth.get(&key) else {
            continue;
        };
        let boxed = box_mask(&bbox, w, h)?.unwrap_or_else(|| Rle::empty(h, w));
        score.add(source, "box", &boxed, t)?;
        let hull = keypoint_hull(&before.keypoints, &bbox, w, h)?;
        if let Some(hull) = &hull {
            score.add(source, "keypoint_hull", hull, t)?;
        }
        let fallback = if cfg.keypoint_hull {
            hull.unwrap_or_else(|| boxed.clone())
        } else {
            boxed.clone()
        };
        let (Some(name), Some(m)) = (&segmenter, &after.mask) else {
            continue;
        };
        if m.source.kind != MaskSourceKind::Segmenter {
            continue;
        }
        score.add(source, name, &m.rle, t)?;
        let kept = m.source.score.is_some_and(|s| s >= cfg.min_score);
        match (kept, cfg.below_min_score) {
            (true, _) => score.add(source, &format!("{name}+filter"), &m.rle, t)?,
            (false, BelowMinScore::Fallback) => {
                score.add(source, &format!("{name}+filter"), &fallback, t)?
            }
            (false, BelowMinScore::Drop) => {}
        }
    }
    Ok((score, seconds))
}

/// Runs the command: prints the scores (or JSON) and what the stage did.
pub fn run(args: &MasksArgs) -> anyhow::Result<()> {
    let r = evaluate(args)?;
    let total = r.stats.total();
    if args.json {
        let report = serde_json::json!({
            "model": r.model,
            "scenes": r.scenes,
            "score": r.score.by.iter().map(|(s, m)| {
                (s.name().to_string(), m.iter().map(|(k, v)| {
                    (k.clone(), serde_json::json!({"mean_iou": v.mean_iou(), "masks": v.masks}))
                }).collect::<serde_json::Map<_, _>>().into())
            }).collect::<serde_json::Map<String, serde_json::Value>>(),
            "stats": r.stats,
            "stage_s": r.stage_s,
            "wall_s": r.wall_s,
            "errors": r.errors.iter().map(|e| serde_json::json!({"file": e.file, "reason": e.reason})).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "mean IoU against _truth/ (masks scored); segmenter {} at min_score {}:",
        r.model.as_deref().unwrap_or("none"),
        args.config.min_score
    );
    print!("{}", r.score.table());
    println!(
        "\n{} scenes: {} segmented ({} from the cache), {} below min_score, {} keypoint hulls, {} boxes, {} without an image; {} model calls; {:.2} s in the mask stage ({:.0} prompts/s), {:.2} s wall",
        r.scenes,
        total.segmented,
        total.cached,
        total.low_score,
        total.keypoint_hull,
        total.boxes,
        total.no_image,
        r.stats.model_calls,
        r.stage_s,
        (total.cached + total.computed) as f64 / r.stage_s.max(1e-9),
        r.wall_s
    );
    let errors = r.errors.iter().filter(|e| e.class.is_error()).count();
    if errors > 0 {
        println!("{errors} input errors, e.g. {}", r.errors[0]);
    }
    Ok(())
}
