//! The QA corpus over seeded synthetic trees of all four sources: every sample checked against
//! the loaded records (regions are masks of shown views), balance, scene-disjoint splits,
//! determinism across threads, answers scored against the `_truth/` sidecar, and the shared
//! shard-contract check on the written shards.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::support::truth::{Obb, obb_distance, truth};
use crate::support::{world_once, write_world};
use crossview::qa_cmd::{CorpusRun, build_corpus, source_trees};
use crossview::schemas::{
    QaSample, REGION_PLACEHOLDER, SourceKind, Split, Task, TruthObservation, TruthState,
};
use crossview::stages::corpus::CorpusConfig;
use crossview::stages::qa::QaConfig;
use crossview::stages::sources::{self, SceneData, SourceOptions};

/// A small world of all four sources, written once per test binary run.
fn world() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    world_once(&DIR, 11, [8, 2, 2, 4])
}

fn config() -> CorpusConfig {
    crate::support::small_world_corpus()
}

fn options() -> SourceOptions {
    SourceOptions {
        require_images: false,
        ..SourceOptions::default()
    }
}

fn build(cfg: &CorpusConfig, threads: usize) -> (Vec<QaSample>, CorpusRun) {
    build_at(world(), cfg, threads)
}

fn build_at(root: &Path, cfg: &CorpusConfig, threads: usize) -> (Vec<QaSample>, CorpusRun) {
    let trees = source_trees(&[root.to_path_buf()]).expect("trees");
    assert_eq!(trees.len(), 4);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    let mut samples = Vec::new();
    let run = pool
        .install(|| {
            build_corpus(&trees, cfg, &options(), None, &mut |q| {
                samples.push(q);
                Ok(())
            })
        })
        .expect("corpus");
    (samples, run)
}

fn corpus() -> &'static (Vec<QaSample>, CorpusRun) {
    static C: std::sync::OnceLock<(Vec<QaSample>, CorpusRun)> = std::sync::OnceLock::new();
    C.get_or_init(|| build(&config(), 2))
}

fn load_scenes(root: &Path) -> BTreeMap<String, SceneData> {
    let mut out = BTreeMap::new();
    for (tree, kind) in source_trees(&[root.to_path_buf()]).expect("trees") {
        let reader = sources::open(&tree, Some(kind), &options()).expect("opens");
        for s in sources::read_all(reader.as_ref()).expect("reads").0 {
            out.insert(s.scene.as_ref().expect("scene").scene_id.clone(), s);
        }
    }
    out
}

fn scenes() -> &'static BTreeMap<String, SceneData> {
    static S: std::sync::OnceLock<BTreeMap<String, SceneData>> = std::sync::OnceLock::new();
    S.get_or_init(|| load_scenes(world()))
}

/// What every sample must be: its id its content hash, one placeholder per region, every
/// region a non-empty mask of an observation in the view it names, the answer its option.
fn check_sample(q: &QaSample, scenes: &BTreeMap<String, SceneData>) {
    assert_eq!(q.sample_id, q.content_id());
    assert_eq!(
        q.question.matches(REGION_PLACEHOLDER).count(),
        q.regions.len(),
        "{}",
        q.question
    );
    let scene = &scenes[&q.scene_id];
    assert_eq!(q.source, scene.scene.as_ref().expect("scene").source);
    assert!(q.views.len() >= 2);
    for r in &q.regions {
        let v = &q.views[r.view_index as usize];
        let m = r.mask.to_rle();
        assert_eq!(m.size(), [v.height, v.width], "mask sized as its view");
        assert!(m.area() > 0, "empty region mask in {}", q.sample_id);
        let mb = m.bbox().expect("non-empty");
        assert!(r.bbox.contains(&mb, 0.5), "{:?} vs {:?}", r.bbox, mb);
        let frame: u32 = v.frame_id.parse().expect("frame index");
        let seen = scene.observations.iter().any(|o| {
            o.camera_id == v.view_id
                && o.frame_index == frame
                && o.instance_id == r.instance_id
                && o.category == r.category
        });
        assert!(
            seen,
            "{} not observed in {} frame {}",
            r.instance_id, v.view_id, frame
        );
    }
    if q.open_ended {
        assert!(q.options.is_empty() && q.answer_index == -1 && !q.answer.is_empty());
    } else {
        assert_eq!(q.options[q.answer_index as usize], q.answer);
    }
}

/// Over several seeded worlds: every sample is well formed, splits are scene-disjoint, and
/// within each train group (task and source) every answer position holds exactly as many.
#[test]
fn invariants_hold_over_seeded_worlds() {
    for seed in [21u64, 22, 23] {
        let dir = tempfile::tempdir().expect("tempdir");
        write_world(dir.path(), seed, [3, 1, 1, 2]);
        let cfg = CorpusConfig {
            qa: QaConfig {
                seed,
                ..QaConfig::default()
            },
            ..config()
        };
        let (samples, _) = build_at(dir.path(), &cfg, 2);
        assert!(!samples.is_empty(), "seed {seed}");
        let scenes = load_scenes(dir.path());
        let mut splits: BTreeMap<&str, Split> = BTreeMap::new();
        let mut slots: BTreeMap<(Task, SourceKind), Vec<usize>> = BTreeMap::new();
        for q in &samples {
            check_sample(q, &scenes);
            assert_eq!(*splits.entry(&q.scene_id).or_insert(q.split), q.split);
            if q.split == Split::Train && !q.open_ended {
                let v = slots
                    .entry((q.task, q.source))
                    .or_insert_with(|| vec![0; q.options.len()]);
                v[q.answer_index as usize] += 1;
            }
        }
        for ((task, source), counts) in &slots {
            assert!(
                counts.iter().all(|&c| c == counts[0]),
                "seed {seed} {task} {source}: {counts:?}"
            );
        }
    }
}

#[test]
fn every_region_is_a_mask_of_a_shown_view() {
    let (samples, _) = corpus();
    assert!(samples.len() > 1000, "{}", samples.len());
    let mut ids = BTreeSet::new();
    for q in samples {
        assert!(
            ids.insert(q.sample_id.clone()),
            "duplicate id {}",
            q.sample_id
        );
        check_sample(q, scenes());
    }
}

#[test]
fn all_tasks_balanced_and_splits_scene_disjoint() {
    let (samples, run) = corpus();
    let cfg = config();
    let mut by_task: BTreeMap<Task, Vec<&QaSample>> = BTreeMap::new();
    let mut splits: BTreeMap<Split, BTreeSet<&str>> = BTreeMap::new();
    for q in samples {
        splits.entry(q.split).or_default().insert(&q.scene_id);
        assert_eq!(q.split, cfg.split.split_of(&q.scene_id));
        if !q.open_ended {
            by_task.entry(q.task).or_default().push(q);
        }
    }
    assert_eq!(
        by_task.len(),
        17,
        "tasks: {:?}",
        by_task.keys().collect::<Vec<_>>()
    );
    let (train, bench) = (&splits[&Split::Train], &splits[&Split::Bench]);
    assert!(train.is_disjoint(bench));
    assert!(!bench.is_empty());
    for (task, rows) in &by_task {
        let n = rows[0].options.len();
        assert!(rows.iter().all(|q| q.options.len() == n));
        let mut pos = vec![0usize; n];
        for q in rows {
            pos[q.answer_index as usize] += 1;
        }
        let worst = pos
            .iter()
            .map(|&p| (p as f64 / rows.len() as f64 - 1.0 / n as f64).abs())
            .fold(0.0, f64::max);
        assert!(worst <= 0.02, "{task}: positions {pos:?}");
        let bench_rows = rows.iter().filter(|q| q.split == Split::Bench).count() as u64;
        assert!(
            bench_rows <= cfg.split.bench_per_task,
            "{task}: {bench_rows} bench"
        );
    }
    assert_eq!(
        samples.iter().filter(|q| q.open_ended).count() as u64,
        run.stats.open_kept.total()
    );
    assert!(
        run.stats.open_not_unique.total() > 0,
        "the verification drops some rewrites"
    );
}

#[test]
fn same_input_same_samples_whatever_the_threads() {
    let (samples, _) = corpus();
    let (one, _) = build(&config(), 1);
    assert_eq!(&one, samples);
    let other = CorpusConfig {
        qa: QaConfig {
            seed: 8,
            ..QaConfig::default()
        },
        ..config()
    };
    let (reseeded, _) = build(&other, 2);
    assert_ne!(&reseeded, samples);
}

#[test]
fn the_paper_jsonl_export_is_lossless() {
    use crossview::stages::qa::{from_suite_json, to_suite_json};
    for q in &corpus().0 {
        let line = serde_json::to_string(&to_suite_json(q)).expect("serializes");
        let back = from_suite_json(&serde_json::from_str(&line).expect("parses")).expect("reads");
        assert_eq!(&back, q);
    }
}

/// The bench is a bottom-k sample per task and slot: taking one bench scene away removes its
/// own questions and lets about as many others in; nothing else moves.
#[test]
fn one_scene_less_changes_few_bench_members() {
    use crossview::stages::corpus::{count_scene, emit_scene};
    use crossview::stages::filter::Tally;
    use crossview::stages::qa::NoFrameImages;
    let cfg = config();
    let bench_of = |scenes: &[&SceneData]| -> BTreeSet<String> {
        let mut tally = Tally::new();
        for s in scenes {
            tally.merge(count_scene(s, &cfg).0);
        }
        let selection = tally.select(&cfg.filter, cfg.split.bench_per_task);
        let mut out = BTreeSet::new();
        for s in scenes {
            emit_scene(s, &cfg, &selection, &NoFrameImages, &mut |q| {
                if q.split == Split::Bench && !q.open_ended {
                    out.insert(q.sample_id);
                }
            })
            .expect("emits");
        }
        out
    };
    let all: Vec<&SceneData> = scenes().values().collect();
    let before = bench_of(&all);
    // The bench scene that contributes most.
    let (gone, _) = scenes()
        .keys()
        .map(|id| {
            let n = corpus()
                .0
                .iter()
                .filter(|q| &q.scene_id == id && q.split == Split::Bench && !q.open_ended)
                .count();
            (id.clone(), n)
        })
        .max_by_key(|x| x.1)
        .expect("scenes");
    let rest: Vec<&SceneData> = all
        .iter()
        .copied()
        .filter(|s| s.scene.as_ref().is_some_and(|m| m.scene_id != gone))
        .collect();
    let after = bench_of(&rest);
    let removed = before.iter().filter(|id| !after.contains(*id)).count();
    let added = after.iter().filter(|id| !before.contains(*id)).count();
    let own = corpus()
        .0
        .iter()
        .filter(|q| q.scene_id == gone && q.split == Split::Bench && !q.open_ended)
        .count();
    assert!(own > 0);
    assert!(
        removed >= own && removed <= own + 2 * 17,
        "{removed} removed, {own} own"
    );
    assert!(added <= removed, "{added} added for {removed} removed");
    assert!(before.len() - removed + added == after.len());
}

/// Per task, the share of closed-form answers that the synthetic truth confirms.
fn truth_agreement() -> BTreeMap<(Task, SourceKind), (usize, usize)> {
    let root = world();
    let mut states: BTreeMap<(String, u32, String), TruthState> = BTreeMap::new();
    let mut tobs: BTreeMap<(String, String, u32, String), TruthObservation> = BTreeMap::new();
    for name in ["messytable", "mmptrack", "egohumans", "egoexo4d"] {
        for s in truth::<TruthState>(&root.join(name), "states") {
            states.insert(
                (s.scene_id.clone(), s.frame_index, s.instance_id.clone()),
                s,
            );
        }
        for o in truth::<TruthObservation>(&root.join(name), "observations") {
            tobs.insert(
                (
                    o.scene_id.clone(),
                    o.camera_id.clone(),
                    o.frame_index,
                    o.instance_id.clone(),
                ),
                o,
            );
        }
    }
    let mut score: BTreeMap<(Task, SourceKind), (usize, usize)> = BTreeMap::new();
    for q in corpus().0.iter().filter(|q| !q.open_ended) {
        let frame = |k: usize| -> u32 { q.views[k].frame_id.parse().expect("frame") };
        let obs = |k: usize| {
            let r = &q.regions[k];
            let v = &q.views[r.view_index as usize];
            tobs.get(&(
                q.scene_id.clone(),
                v.view_id.clone(),
                frame(r.view_index as usize),
                r.instance_id.clone(),
            ))
        };
        let state = |k: usize| {
            let r = &q.regions[k];
            states.get(&(
                q.scene_id.clone(),
                frame(r.view_index as usize),
                r.instance_id.clone(),
            ))
        };
        let hidden_in_b = |id: &str| {
            tobs.get(&(
                q.scene_id.clone(),
                q.views[1].view_id.clone(),
                frame(1),
                id.to_string(),
            ))
            .is_none_or(|o| o.modal_area == 0)
        };
        let a = q.answer_index as usize;
        let yes = q.answer == "yes";
        // Apparent size is what the regions show: visible pixels where the region is a mask
        // or a tight box, the whole object inside the image where it is a box drawn around
        // hidden parts too (MMPTrack, EgoHumans).
        let tight = !matches!(q.source, SourceKind::MmpTrack | SourceKind::EgoHumans);
        let size = |o: &TruthObservation| if tight { o.modal_area } else { o.amodal_area } as f64;
        let verdict: Option<bool> = match q.task {
            Task::Q6 => Some(yes != hidden_in_b(&q.regions[0].instance_id)),
            Task::Q7 => Some((0..4).all(|k| hidden_in_b(&q.regions[k].instance_id) == (k == a))),
            Task::Q8 => {
                // The occluder stands in front of the hidden object in view 2.
                let target = tobs.get(&(
                    q.scene_id.clone(),
                    q.views[1].view_id.clone(),
                    frame(1),
                    q.regions[0].instance_id.clone(),
                ));
                match (target, obs(1 + a)) {
                    (Some(t), Some(o)) => Some(o.depth < t.depth),
                    _ => None,
                }
            }
            Task::Q9 => {
                let anchor = state(0).map(|s| s.position);
                let d: Option<Vec<f64>> = (1..5)
                    .map(|k| Some((state(k)?.position - anchor?).length()))
                    .collect();
                d.map(|d| (0..4).all(|k| d[a] <= d[k]))
            }
            Task::Q10 => match (obs(0), obs(1)) {
                (Some(x), Some(y)) => {
                    let r = size(y) / size(x).max(1.0);
                    Some(match q.answer.as_str() {
                        "larger" => r > 1.0,
                        "smaller" => r < 1.0,
                        _ => (1.0 / 1.3..=1.3).contains(&r),
                    })
                }
                _ => None,
            },
            Task::Q11 | Task::Q12 => match (obs(0), obs(1)) {
                (Some(x), Some(y)) => Some((x.visible_fraction > y.visible_fraction) == (a == 0)),
                _ => None,
            },
            Task::Q13 => {
                let cx = |k: usize| obs(k).and_then(|o| o.bbox).map(|b| b.center().0);
                match (cx(0), cx(1), cx(2), cx(3)) {
                    (Some(a0), Some(a1), Some(b0), Some(b1)) => {
                        Some(((a0 < a1) != (b0 < b1)) == yes)
                    }
                    _ => None,
                }
            }
            Task::Q14 => {
                let moved = |k: usize| Some((state(k + 2)?.position - state(k)?.position).length());
                match (moved(0), moved(1)) {
                    (Some(x), Some(y)) => Some((x > y) == (a == 0)),
                    _ => None,
                }
            }
            Task::Q15 => match (obs(2), obs(3)) {
                (Some(x), Some(y)) => Some((x.depth < y.depth) == yes),
                _ => None,
            },
            Task::Q16 => match (obs(0), obs(1), obs(2), obs(3)) {
                (Some(ax), Some(bx), Some(ay), Some(by)) => {
                    let g = |a: &TruthObservation, b: &TruthObservation| size(b) / size(a).max(1.0);
                    Some((g(ax, bx) > g(ay, by)) == (a == 0))
                }
                _ => None,
            },
            Task::Q17 => match (state(0), state(1)) {
                (Some(x), Some(y)) => {
                    let d = obb_distance(&Obb::of(x), &Obb::of(y));
                    Some((d < 0.06) == yes)
                }
                _ => None,
            },
            // Correspondence answers are instance ids, the truth's own.
            _ => None,
        };
        if let Some(ok) = verdict {
            let e = score.entry((q.task, q.source)).or_default();
            e.0 += usize::from(ok);
            e.1 += 1;
        }
    }
    score
}

#[test]
fn answers_agree_with_the_synthetic_truth() {
    let by_source = truth_agreement();
    let mut score: BTreeMap<Task, (usize, usize)> = BTreeMap::new();
    let mut report = String::new();
    for ((task, source), (ok, n)) in &by_source {
        report.push_str(&format!(
            "{task} {source} {:.3} ({n}); ",
            *ok as f64 / *n as f64
        ));
        let e = score.entry(*task).or_default();
        e.0 += ok;
        e.1 += n;
    }
    eprintln!("truth agreement: {report}");
    for (task, (ok, n)) in &score {
        assert!(*n >= 10, "{task}: only {n} scored");
        let rate = *ok as f64 / *n as f64;
        assert!(
            rate >= 0.9,
            "{task}: {rate:.3} of {n} agree with the truth ({report})"
        );
    }
}

/// The project's shared shard-contract check (../shared/checks) on `crossview qa --out`.
#[test]
fn written_shards_pass_the_shard_contract_check() {
    let out = tempfile::tempdir().expect("tempdir");
    // Quotas keep the shards small enough for the Python checks to read quickly.
    let config = out.path().join("corpus.toml");
    std::fs::write(
        &config,
        "[filter]\ntrain_per_task = 200\n\n[split]\nbench_fraction = 0.3\nbench_per_task = 40\n",
    )
    .expect("config");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_crossview"))
        .args(["qa", "--allow-missing-images", "--jsonl", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(out.path().join("corpus"))
        .arg(world())
        .output()
        .expect("runs");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.path().join("corpus/report.json")).expect("report.json"),
    )
    .expect("report parses");
    assert!(report["funnel"]["drawn"].as_u64().unwrap_or(0) > 1000);
    for task in Task::ALL {
        let kept = report["per_task"][task.name()]["kept_train"]
            .as_u64()
            .unwrap_or(0);
        assert!(kept <= 200, "{task}: quota 200, kept {kept}");
    }
    // The chart: a 1400 x 1000 PNG.
    let png = std::fs::read(out.path().join("corpus/report.png")).expect("report.png");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&png[16..24], &[0, 0, 0x05, 0x78, 0, 0, 0x03, 0xe8]);
    // The paper's JSONL, read the way its loader reads it.
    let jsonl = out.path().join("corpus/jsonl");
    let text = crate::support::run_python_check(
        "check_suite_jsonl.py",
        &[&jsonl.join("train.jsonl"), &jsonl.join("bench.jsonl")],
    );
    assert!(text.contains(" 0 problems"), "{text}");
    let Some(text) = crate::support::shard_contract(&out.path().join("corpus")) else {
        return;
    };
    assert!(text.contains("0 problems, 17/17 tasks"), "{text}");
}

/// Every corpus config shipped in configs/ parses (unknown keys are errors) and validates.
#[test]
fn shipped_corpus_configs_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/corpus");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("configs/corpus") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).expect("reads");
            let cfg: CorpusConfig =
                toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            cfg.validate()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            n += 1;
        }
    }
    assert!(n >= 1);
    assert!(toml::from_str::<CorpusConfig>("[qa]\nsed = 1\n").is_err());
}
