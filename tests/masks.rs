//! Mask completion end to end: the weight-free graph cut against box-as-mask on the synthetic
//! truth; the tiny SAM 1 / SAM 2 exports (tests/models/) run through ONNX Runtime; the cache
//! (a second run calls no model); the confidence filter and fallbacks; clear errors for a
//! missing runtime, missing model files and wrong input names; bad frames as input errors.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crossview::masks_cmd::{MasksArgs, evaluate};
use crossview::schemas::{BoxXyxy, ErrorClass, MaskSourceKind, Rle, SourceKind};
use crossview::stages::masks::{
    BelowMinScore, GraphCutConfig, GraphCutSegmenter, MaskCache, MaskCompleter, MaskConfig,
    OnnxConfig, OnnxSegmenter, Prediction, Prompt, SamConvention, Segmenter, SegmenterKind,
};
use crossview::stages::sources::{SceneData, SourceOptions};
use crossview::stages::synth::{egohumans::EgoHumans, messytable::MessyTable, mmptrack::MmpTrack};
use image::RgbImage;

use crate::support::{load_tree, synth_with_images};

fn model(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/models")
        .join(name)
}

fn tiny(convention: SamConvention) -> OnnxConfig {
    let prefix = match convention {
        SamConvention::Sam1 => "tiny_sam1",
        SamConvention::Sam2 => "tiny_sam2",
    };
    OnnxConfig {
        encoder: model(&format!("{prefix}.encoder.onnx")),
        decoder: model(&format!("{prefix}.decoder.onnx")),
        convention,
        ..OnnxConfig::default()
    }
}

/// Three flat-coloured rectangles on a two-tone background, with their masks.
fn shapes() -> (RgbImage, Vec<(BoxXyxy, Rle)>) {
    let (w, h) = (320u32, 200u32);
    let rects = [
        ((30, 40, 110, 150), [210, 40, 30]),
        ((150, 20, 210, 90), [40, 200, 60]),
        ((230, 110, 300, 180), [240, 220, 40]),
    ];
    let mut img = RgbImage::from_fn(w, h, |x, y| {
        if (x / 16 + y / 16) % 2 == 0 {
            image::Rgb([40, 50, 140])
        } else {
            image::Rgb([60, 70, 150])
        }
    });
    let mut out = Vec::new();
    for ((x0, y0, x1, y1), c) in rects {
        let mut bits = vec![0u8; (w * h) as usize];
        for y in y0..y1 {
            for x in x0..x1 {
                img.put_pixel(x, y, image::Rgb(c));
                bits[(y * w + x) as usize] = 1;
            }
        }
        // A loose box, 8 px around the object.
        let b = BoxXyxy::try_new(
            x0 as f32 - 8.0,
            y0 as f32 - 8.0,
            x1 as f32 + 8.0,
            y1 as f32 + 8.0,
        )
        .expect("box");
        out.push((b, Rle::encode_row_major(&bits, h, w).expect("rle")));
    }
    (img, out)
}

fn prompts(objects: &[(BoxXyxy, Rle)]) -> Vec<Prompt> {
    objects
        .iter()
        .map(|(b, _)| Prompt {
            bbox: *b,
            points: Vec::new(),
            tight: false,
        })
        .collect()
}

#[test]
fn tiny_sam2_export_segments_a_frame_with_one_encoder_and_one_batched_decoder_run() {
    let (img, objects) = shapes();
    let mut seg = OnnxSegmenter::open(&tiny(SamConvention::Sam2)).expect("tiny SAM 2 opens");
    let out = seg.segment(&img, &prompts(&objects)).expect("segments");
    assert_eq!(out.len(), 3);
    for (p, (_, truth)) in out.iter().zip(&objects) {
        let iou = p.mask.iou(truth).expect("iou");
        assert!(iou > 0.9, "IoU {iou}");
        assert!((0.0..=1.0).contains(&p.score), "score {}", p.score);
        assert_eq!(p.mask.size(), [200, 320]);
    }
    let t = seg.timings();
    assert_eq!((t.encoder_runs, t.decoder_runs), (1, 1), "prompts batched");
    assert!(t.runtime <= t.total);
    assert!(seg.model_id().starts_with("sam2-"));
}

#[test]
fn tiny_sam1_export_decodes_one_prompt_per_run_as_its_fixed_batch_says() {
    let (img, objects) = shapes();
    let mut seg = OnnxSegmenter::open(&tiny(SamConvention::Sam1)).expect("tiny SAM 1 opens");
    let out = seg.segment(&img, &prompts(&objects)).expect("segments");
    for (p, (_, truth)) in out.iter().zip(&objects) {
        // SAM 1 pads the image bottom-right after resizing the longest side; the masks
        // must come back where the objects are.
        let iou = p.mask.iou(truth).expect("iou");
        assert!(iou > 0.85, "IoU {iou}");
    }
    let t = seg.timings();
    assert_eq!((t.encoder_runs, t.decoder_runs), (1, 3));
}

#[test]
fn onnx_problems_are_clear_errors() {
    // Missing model file.
    let mut cfg = tiny(SamConvention::Sam2);
    cfg.decoder = PathBuf::from("/nonexistent/decoder.onnx");
    let e = OnnxSegmenter::open(&cfg).err().expect("fails").to_string();
    assert!(
        e.contains("/nonexistent/decoder.onnx") && e.contains("no such model file"),
        "{e}"
    );
    // A configured runtime that is not there.
    let mut cfg = tiny(SamConvention::Sam2);
    cfg.runtime = Some(PathBuf::from("/nonexistent/libonnxruntime.so.1.20.0"));
    let e = OnnxSegmenter::open(&cfg).err().expect("fails").to_string();
    assert!(
        e.contains("/nonexistent/libonnxruntime.so.1.20.0") && e.contains("no such file"),
        "{e}"
    );
    // SAM 1 files read as SAM 2: the names that are missing, and what the model has.
    let mut cfg = tiny(SamConvention::Sam1);
    cfg.convention = SamConvention::Sam2;
    let e = OnnxSegmenter::open(&cfg).err().expect("fails").to_string();
    assert!(
        e.contains("not a Sam2 export") && e.contains("image_embeddings"),
        "{e}"
    );
    // Not set at all.
    let e = OnnxSegmenter::open(&OnnxConfig::default())
        .err()
        .expect("fails")
        .to_string();
    assert!(e.contains("masks.onnx.encoder is not set"), "{e}");
}

#[test]
fn a_runtime_library_that_does_not_load_fails_the_command_with_its_path() {
    // In a process of its own: ONNX Runtime is loaded once per process.
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = dir.path().join("libonnxruntime.so.1.99.0");
    std::fs::write(&fake, b"not a shared library").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_crossview"))
        .args(["masks", "--segmenter", "onnx", "--encoder"])
        .arg(model("tiny_sam2.encoder.onnx"))
        .arg("--decoder")
        .arg(model("tiny_sam2.decoder.onnx"))
        .arg(tree(SourceKind::MessyTable))
        .env("ORT_DYLIB_PATH", &fake)
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("libonnxruntime.so.1.99.0"), "{err}");
}

/// Small trees with images of the three sources that need masks, written once.
fn image_world() -> &'static [tempfile::TempDir; 3] {
    static DIRS: std::sync::OnceLock<[tempfile::TempDir; 3]> = std::sync::OnceLock::new();
    DIRS.get_or_init(|| {
        [
            synth_with_images(&MessyTable, 11, 2, 1),
            synth_with_images(&MmpTrack, 11, 1, 4),
            synth_with_images(&EgoHumans, 11, 1, 3),
        ]
    })
}

fn tree(source: SourceKind) -> &'static Path {
    let [messytable, mmptrack, egohumans] = image_world();
    match source {
        SourceKind::MessyTable => messytable.path(),
        SourceKind::MmpTrack => mmptrack.path(),
        _ => egohumans.path(),
    }
}

fn trees() -> Vec<PathBuf> {
    image_world()
        .iter()
        .map(|d| d.path().to_path_buf())
        .collect()
}

fn masks_args(config: MaskConfig) -> MasksArgs {
    MasksArgs {
        trees: trees(),
        config,
        options: SourceOptions::default(),
        cache: None,
        json: false,
        threads: None,
    }
}

#[test]
fn the_graph_cut_beats_box_as_mask_on_the_synthetic_truth_of_every_source() {
    let run = evaluate(&masks_args(MaskConfig::default())).expect("evaluates");
    println!("{}", run.score.table());
    for source in [
        SourceKind::MessyTable,
        SourceKind::MmpTrack,
        SourceKind::EgoHumans,
    ] {
        let boxed = run.score.get(source, "box").expect("box scored");
        let cut = run.score.get(source, "graphcut").expect("graph cut scored");
        assert!(boxed.masks > 20, "{source}: {} masks", boxed.masks);
        assert_eq!(boxed.masks, cut.masks);
        assert!(
            cut.mean_iou() > boxed.mean_iou() + 0.03,
            "{source}: graph cut {:.3} vs box {:.3}",
            cut.mean_iou(),
            boxed.mean_iou()
        );
    }
    // The people of EgoHumans also have a keypoint hull, which the cut beats as well.
    let hull = run
        .score
        .get(SourceKind::EgoHumans, "keypoint_hull")
        .expect("hull scored");
    let cut = run
        .score
        .get(SourceKind::EgoHumans, "graphcut")
        .expect("scored");
    assert!(
        cut.mean_iou() > hull.mean_iou(),
        "{:.3} vs {:.3}",
        cut.mean_iou(),
        hull.mean_iou()
    );
    assert_eq!(
        run.stats.total().segmented + run.stats.total().low_score,
        run.stats.total().computed
    );
}

#[test]
fn the_tiny_model_is_scored_per_source_by_the_masks_command() {
    let out = Command::new(env!("CARGO_BIN_EXE_crossview"))
        .args(["masks", "--json", "--segmenter", "onnx", "--encoder"])
        .arg(model("tiny_sam2.encoder.onnx"))
        .arg("--decoder")
        .arg(model("tiny_sam2.decoder.onnx"))
        .args(trees())
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    for source in ["messytable", "mmptrack", "egohumans"] {
        for method in ["box", "sam2", "sam2+filter"] {
            let iou = report["score"][source][method]["mean_iou"].as_f64();
            assert!(
                iou.is_some_and(|v| (0.0..=1.0).contains(&v)),
                "{source} {method}: {report}"
            );
        }
    }
    assert!(
        report["model"]
            .as_str()
            .is_some_and(|m| m.starts_with("sam2-"))
    );
}

/// A segmenter that counts its calls, around the graph cut; it fails on call `fail_on`.
struct Counting {
    inner: GraphCutSegmenter,
    calls: Arc<AtomicU64>,
    fail_on: Option<u64>,
}

impl Segmenter for Counting {
    fn model_id(&self) -> &str {
        self.inner.model_id()
    }
    fn segment(
        &mut self,
        image: &RgbImage,
        prompts: &[Prompt],
    ) -> crossview::stages::Result<Vec<Prediction>> {
        let call = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        if self.fail_on == Some(call) {
            return Err(crossview::stages::Error::Options("model failed".into()));
        }
        self.inner.segment(image, prompts)
    }
}

fn counting(calls: &Arc<AtomicU64>) -> Box<dyn Segmenter> {
    Box::new(Counting {
        inner: GraphCutSegmenter::new(GraphCutConfig::default()).expect("segmenter"),
        calls: calls.clone(),
        fail_on: None,
    })
}

fn scenes_of(source: SourceKind) -> (PathBuf, Vec<SceneData>) {
    let root = tree(source).to_path_buf();
    let (scenes, errors) = load_tree(&root, &SourceOptions::default());
    assert!(errors.iter().all(|e| !e.class.is_error()), "{errors:?}");
    (root, scenes)
}

#[test]
fn a_second_run_hits_the_cache_and_calls_no_model() {
    let cache_dir = tempfile::tempdir().expect("tempdir");
    let (root, scenes) = scenes_of(SourceKind::MmpTrack);
    let run = |calls: &Arc<AtomicU64>| -> Vec<SceneData> {
        let cache = MaskCache::open(cache_dir.path()).expect("cache");
        let mut c = MaskCompleter::with_segmenter(
            MaskConfig::default(),
            Some(counting(calls)),
            Some(cache),
        );
        scenes
            .iter()
            .map(|s| {
                let done = c.complete(Arc::new(s.clone()), &root).expect("completes");
                SceneData::clone(&done.scene)
            })
            .collect()
    };
    let (first_calls, second_calls) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let first = run(&first_calls);
    let second = run(&second_calls);
    assert!(first_calls.load(Ordering::Relaxed) > 0);
    assert_eq!(
        second_calls.load(Ordering::Relaxed),
        0,
        "the model ran again"
    );
    assert_eq!(first, second, "cached masks differ from computed ones");
    let segmented = first
        .iter()
        .flat_map(|s| &s.observations)
        .filter(|o| {
            o.mask
                .as_ref()
                .is_some_and(|m| m.source.kind == MaskSourceKind::Segmenter)
        })
        .count();
    assert!(segmented > 0);

    // The same through ONNX Runtime: the tiny model's second run makes no segmenter call.
    let onnx = MaskConfig {
        segmenter: SegmenterKind::Onnx,
        onnx: tiny(SamConvention::Sam2),
        ..MaskConfig::default()
    };
    let onnx_cache = tempfile::tempdir().expect("tempdir");
    let mut calls = Vec::new();
    for _ in 0..2 {
        let mut c = MaskCompleter::open(&onnx, Some(onnx_cache.path())).expect("opens");
        let mut n = 0;
        for s in &scenes {
            n += c
                .complete(Arc::new(s.clone()), &root)
                .expect("completes")
                .stats
                .model_calls;
        }
        calls.push(n);
    }
    assert!(calls[0] > 0);
    assert_eq!(calls[1], 0);
}

#[test]
fn low_scores_fall_back_or_drop_as_configured() {
    let (root, scenes) = scenes_of(SourceKind::EgoHumans);
    let scene = Arc::new(scenes[0].clone());
    let prompted = scene
        .observations
        .iter()
        .filter(|o| o.mask.is_none() && o.bbox.is_some())
        .count() as u64;
    assert!(prompted > 0);
    let strict = |policy| MaskConfig {
        min_score: 1.0,
        below_min_score: policy,
        ..MaskConfig::default()
    };
    // Nothing reaches a score of 1: every person falls back to the keypoint hull.
    let mut c = MaskCompleter::open(&strict(BelowMinScore::Fallback), None).expect("opens");
    let done = c.complete(scene.clone(), &root).expect("completes");
    let counts = done.stats.total();
    assert_eq!(counts.low_score, prompted);
    assert_eq!(counts.keypoint_hull + counts.boxes, prompted);
    assert!(counts.keypoint_hull > 0);
    assert_eq!(done.scene.observations.len(), scene.observations.len());
    assert!(done.scene.observations.iter().all(|o| {
        o.mask
            .as_ref()
            .is_none_or(|m| m.source.kind == MaskSourceKind::KeypointHull)
    }));
    // Dropped instead.
    let mut c = MaskCompleter::open(&strict(BelowMinScore::Drop), None).expect("opens");
    let done = c.complete(scene.clone(), &root).expect("completes");
    assert_eq!(done.stats.total().dropped, prompted);
    assert_eq!(
        done.scene.observations.len() as u64,
        scene.observations.len() as u64 - prompted
    );
    // No segmenter: fallbacks only, and the scene is shared when nothing changes.
    let none = MaskConfig {
        segmenter: SegmenterKind::None,
        keypoint_hull: false,
        ..MaskConfig::default()
    };
    let mut c = MaskCompleter::open(&none, None).expect("opens");
    let done = c.complete(scene.clone(), &root).expect("completes");
    assert!(Arc::ptr_eq(&done.scene, &scene));
    assert_eq!(done.stats.total().boxes, prompted);
}

#[test]
fn an_unreadable_or_wrong_sized_frame_is_an_input_error_and_its_objects_fall_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("messytable");
    crate::support::copy_tree(tree(SourceKind::MessyTable), &root);
    let (scenes, _) = load_tree(&root, &SourceOptions::default());
    let scene = Arc::new(scenes[0].clone());
    let frame = |i: usize| match &scene.frames[i].image {
        crossview::schemas::ImageRef::File(p) => root.join(p),
        other => panic!("{other:?}"),
    };
    // Frame 0 is not an image any more, frame 1 an image of another size.
    std::fs::write(frame(0), b"not a JPEG").expect("write");
    RgbImage::new(17, 9).save(frame(1)).expect("write");
    let mut c = MaskCompleter::open(&MaskConfig::default(), None).expect("opens");
    let done = c.complete(scene.clone(), &root).expect("completes");
    assert_eq!(done.errors.len(), 2, "{:?}", done.errors);
    for (i, class) in [(0, ErrorClass::Malformed), (1, ErrorClass::Inconsistent)] {
        let e = done
            .errors
            .iter()
            .find(|e| frame(i).ends_with(&e.file))
            .unwrap_or_else(|| panic!("no error for frame {i}: {:?}", done.errors));
        assert_eq!(e.class, class, "{e}");
    }
    // Those frames' objects fell back (no mask: box-as-mask later); the others segmented.
    let cam = |i: usize| scene.frames[i].camera_id.clone();
    for o in &done.scene.observations {
        if o.camera_id == cam(0) || o.camera_id == cam(1) {
            assert!(o.mask.is_none());
        }
    }
    assert!(done.stats.total().segmented > 0);
}

fn image_build_config() -> crossview::build::BuildConfig {
    let corpus = crate::support::small_world_corpus();
    crossview::build::BuildConfig {
        sources: trees()
            .into_iter()
            .map(crossview::build::SourceEntry::Path)
            .collect(),
        output: crossview::build::OutputConfig {
            shards_per_split: 2,
            frames: false,
            ..Default::default()
        },
        split: corpus.split,
        open_ended: corpus.open_ended,
        ..Default::default()
    }
}

fn image_build(out: &Path, workers: usize) -> crossview::build::BuildSummary {
    crate::support::build_quietly(image_build_config(), out, workers)
}

fn shard_bytes(out: &Path, m: &crossview::build::Manifest) -> Vec<(String, Vec<u8>)> {
    m.shards
        .iter()
        .map(|s| {
            (
                s.path.clone(),
                std::fs::read(out.join(&s.path)).expect("shard"),
            )
        })
        .collect()
}

#[test]
fn the_build_completes_masks_in_the_graph_as_the_plain_engine_does_and_rebuilds_from_the_cache() {
    use crossview::schemas::{QaSample, RecordReader};
    let out = tempfile::tempdir().expect("tempdir");
    let first = image_build(out.path(), 2);
    let m = first.masks.total();
    assert!(
        m.segmented > 0 && first.masks.model_calls > 0,
        "{:?}",
        first.masks
    );
    assert_eq!(m.cached, 0);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("report.json")).expect("report"))
            .expect("json");
    assert_eq!(
        report["build"]["masks"]["model_calls"].as_u64(),
        Some(first.masks.model_calls)
    );

    // Regions carry the segmenter's masks with their model and score, at or above the
    // confidence the config asks.
    let mut samples: Vec<QaSample> = Vec::new();
    for s in &first.manifest.shards {
        samples
            .extend(RecordReader::<QaSample>::read_all(out.path().join(&s.path)).expect("reads"));
    }
    let cut_id = GraphCutSegmenter::new(GraphCutConfig::default())
        .expect("cut")
        .model_id()
        .to_string();
    let segmented: Vec<_> = samples
        .iter()
        .flat_map(|q| &q.regions)
        .filter(|r| r.mask_source.kind == MaskSourceKind::Segmenter)
        .collect();
    assert!(
        segmented.len() > 100,
        "{} segmenter regions",
        segmented.len()
    );
    for r in &segmented {
        assert_eq!(r.mask_source.model.as_deref(), Some(cut_id.as_str()));
        assert!(
            r.mask_source
                .score
                .is_some_and(|s| s >= MaskConfig::default().min_score)
        );
    }
    let report = crossview::verify_cmd::verify(out.path()).expect("verify");
    assert!(report.ok(), "{:#?}", report.problems);

    // The plain engine completes the same masks and makes the same samples.
    let cfg = image_build_config();
    let tree_list = crossview::qa_cmd::source_trees(&trees()).expect("trees");
    let mut plain = Vec::new();
    crossview::qa_cmd::build_corpus(
        &tree_list,
        &cfg.corpus(),
        &cfg.source_options(),
        None,
        &mut |q| {
            plain.push(q);
            Ok(())
        },
    )
    .expect("plain corpus");
    let key = |q: &QaSample| (q.scene_id.clone(), q.sample_id.clone());
    samples.sort_by_key(key);
    plain.sort_by_key(key);
    assert!(
        samples == plain,
        "the graph's samples differ from the plain engine's"
    );

    // One worker writes the same bytes.
    let single = tempfile::tempdir().expect("tempdir");
    let one = image_build(single.path(), 1);
    assert_eq!(
        shard_bytes(out.path(), &first.manifest),
        shard_bytes(single.path(), &one.manifest)
    );

    // A rebuild (the manifest gone, so every shard is made again) finds every scene in the
    // first-pass cache and masks it only to make its shard, from the segmenter cache: no
    // model call, and the report counts what the first build did.
    std::fs::remove_file(out.path().join("manifest.json")).expect("rm");
    let again = image_build(out.path(), 2);
    assert_eq!(again.masks.model_calls, 0);
    assert_eq!(again.masks.total().cached, m.computed);
    assert_eq!(again.masks.total().segmented, m.segmented);
    assert_eq!(
        shard_bytes(out.path(), &again.manifest),
        shard_bytes(out.path(), &first.manifest)
    );
    // Without the first-pass cache, the mask stage runs again, from the segmenter cache.
    std::fs::remove_file(out.path().join("manifest.json")).expect("rm");
    std::fs::remove_dir_all(out.path().join(".cache/first-pass")).expect("rm");
    let third = image_build(out.path(), 2);
    assert_eq!(third.masks.model_calls, 0);
    assert_eq!(third.masks.total().cached, m.computed);
    assert_eq!(
        shard_bytes(out.path(), &third.manifest),
        shard_bytes(out.path(), &first.manifest)
    );
}

#[test]
fn a_failing_model_stops_the_stage_while_frames_are_read_ahead() {
    // The frame reader runs ahead on its own thread; the model's error must end the scene
    // with that error, not leave the reader waiting to hand over its next frame.
    let (root, scenes) = scenes_of(SourceKind::MessyTable);
    let scene = scenes
        .iter()
        .find(|s| s.frames.len() >= 4)
        .expect("a scene with several frames");
    let mut c = MaskCompleter::with_segmenter(
        MaskConfig::default(),
        Some(Box::new(Counting {
            inner: GraphCutSegmenter::new(GraphCutConfig::default()).expect("segmenter"),
            calls: Arc::new(AtomicU64::new(0)),
            fail_on: Some(2),
        })),
        None,
    );
    let err = c
        .complete(Arc::new(scene.clone()), &root)
        .expect_err("the model's failure is the stage's");
    assert!(err.to_string().contains("model failed"), "{err}");
}

#[test]
fn frames_prepared_ahead_give_the_masks_of_frames_prepared_in_turn() {
    // The tiny SAM 2 model through its preparer (resize and normalise on the reader thread)
    // against the same model asked without one.
    struct Unprepared(Box<dyn Segmenter>);
    impl Segmenter for Unprepared {
        fn model_id(&self) -> &str {
            self.0.model_id()
        }
        fn segment(
            &mut self,
            image: &RgbImage,
            prompts: &[Prompt],
        ) -> crossview::stages::Result<Vec<Prediction>> {
            self.0.segment(image, prompts)
        }
    }
    let cfg = MaskConfig {
        segmenter: SegmenterKind::Onnx,
        onnx: tiny(SamConvention::Sam2),
        ..MaskConfig::default()
    };
    let (root, scenes) = scenes_of(SourceKind::MessyTable);
    let mut prepared = MaskCompleter::open(&cfg, None).expect("opens");
    assert!(prepared.segmenter().and_then(|s| s.preparer()).is_some());
    let plain = cfg.open_segmenter().expect("opens").expect("a segmenter");
    let mut unprepared =
        MaskCompleter::with_segmenter(cfg.clone(), Some(Box::new(Unprepared(plain))), None);
    for s in scenes.iter().take(2) {
        let a = prepared
            .complete(Arc::new(s.clone()), &root)
            .expect("completes");
        let b = unprepared
            .complete(Arc::new(s.clone()), &root)
            .expect("completes");
        assert!(a.stats.total().segmented + a.stats.total().low_score > 0);
        assert_eq!(a.scene, b.scene);
        assert_eq!(a.stats, b.stats);
    }
}
