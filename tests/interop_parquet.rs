//! Parquet written by crossview, read by pyarrow: the same values and logical types, the
//! metadata contract, and region masks that pycocotools decodes.

use crossview_schemas::glam::DVec3;
use crossview_schemas::*;
use serde_json::{Value, json};

use crate::support::run_python_check;

fn mask(h: u32, w: u32, x0: u32, y0: u32, size: u32) -> Rle {
    let mut bm = vec![0u8; (h * w) as usize];
    for r in y0..(y0 + size).min(h) {
        for c in x0..(x0 + size + r % 3).min(w) {
            bm[(r * w + c) as usize] = 1;
        }
    }
    Rle::encode_row_major(&bm, h, w).expect("sizes")
}

fn samples() -> Vec<QaSample> {
    (0..40)
        .map(|i| {
            let m = mask(48, 64, (i * 3) % 50, (i * 5) % 40, 6 + i % 5);
            let m2 = mask(48, 64, (i * 7) % 50, (i * 2) % 40, 4 + i % 3);
            let mut s = QaSample {
                sample_id: String::new(),
                task: Task::ALL[i as usize % 17],
                source: SourceKind::ALL[i as usize % 4],
                scene_id: format!("messytable/scene-{:03}", i / 4),
                split: if i % 5 == 0 {
                    Split::Bench
                } else {
                    Split::Train
                },
                question: "Which region in view 2 is the object <region> of view 1? <region>"
                    .into(),
                options: if i % 7 == 0 {
                    vec![]
                } else {
                    vec!["A".into(), "B".into(), "C \u{00e9}".into()]
                },
                answer_index: if i % 7 == 0 { -1 } else { (i % 3) as i32 },
                answer: "B".into(),
                open_ended: i % 7 == 0,
                views: vec![
                    ViewRef {
                        view_id: "1".into(),
                        frame_id: "0".into(),
                        image: format!("frames/{i:04x}.jpg"),
                        width: 64,
                        height: 48,
                    },
                    ViewRef {
                        view_id: "2".into(),
                        frame_id: "0".into(),
                        image: format!("frames/{:04x}.jpg", i + 1),
                        width: 64,
                        height: 48,
                    },
                ],
                regions: vec![
                    Region {
                        view_index: 0,
                        instance_id: format!("{i}"),
                        category: "cup".into(),
                        bbox: m.bbox().expect("nonempty"),
                        mask: CocoRle::from(&m),
                        mask_source: MaskSource::box_fallback(),
                    },
                    Region {
                        view_index: 1,
                        instance_id: format!("{}", i + 1),
                        category: "person".into(),
                        bbox: m2.bbox().expect("nonempty"),
                        mask: CocoRle::from(&m2),
                        mask_source: MaskSource::segmenter("abc123", 0.75),
                    },
                ],
                template_id: format!("Q{}-t{}", i % 17 + 1, i % 3),
                generator: "crossview 0.1.0 seed=7".into(),
            };
            s.sample_id = s.content_id();
            s
        })
        .collect()
}

/// The rows as pyarrow's `to_pylist()` should show them, built from the record fields
/// directly rather than from our Arrow code.
fn expected_qa(rows: &[QaSample]) -> Value {
    Value::Array(
        rows.iter()
            .map(|s| {
                json!({
                    "sample_id": s.sample_id, "task": s.task.name(), "category": s.task.category().name(),
                    "source": s.source.name(), "scene_id": s.scene_id, "split": s.split.name(),
                    "question": s.question, "options": s.options, "answer_index": s.answer_index,
                    "answer": s.answer, "open_ended": s.open_ended,
                    "views": s.views.iter().map(|v| json!({"view_id": v.view_id, "frame_id": v.frame_id,
                        "image": v.image, "width": v.width, "height": v.height})).collect::<Vec<_>>(),
                    "regions": s.regions.iter().map(|g| json!({"view_index": g.view_index,
                        "instance_id": g.instance_id, "category": g.category, "bbox": g.bbox.to_array(),
                        "mask_size": [g.mask.height(), g.mask.width()], "mask_counts": g.mask.counts(),
                        "mask_source": g.mask_source.kind.name(), "mask_model": g.mask_source.model,
                        "mask_score": g.mask_source.score, "area": g.mask.area()})).collect::<Vec<_>>(),
                    "template_id": s.template_id, "generator": s.generator,
                })
            })
            .collect(),
    )
}

fn observations() -> Vec<Observation> {
    (0..10)
        .map(|i| Observation {
            scene_id: "mmptrack/retail_0".into(),
            camera_id: format!("{}", i % 4 + 1),
            frame_index: i,
            instance_id: format!("{}", i % 3),
            category: "person".into(),
            subcategory: (i % 2 == 0).then(|| "walker".to_string()),
            bbox: Some(BoxXyxy::try_new(1.5, 2.0, 30.25, 40.0).expect("box")),
            mask: (i % 2 == 0).then(|| ObservedMask {
                rle: mask(48, 64, i, i, 10),
                source: MaskSource::keypoint_hull(),
            }),
            keypoints: (0..17)
                .map(|k| Keypoint {
                    x: k as f32,
                    y: 2.0 * k as f32,
                    visibility: (k % 3) as u8,
                })
                .collect(),
            world_position: (i % 3 == 0).then(|| DVec3::new(1.0, -2.5, 0.0)),
            world_extent: None,
        })
        .collect()
}

fn expected_obs(rows: &[Observation]) -> Value {
    Value::Array(
        rows.iter()
            .map(|o| {
                json!({
                    "scene_id": o.scene_id, "camera_id": o.camera_id, "frame_index": o.frame_index,
                    "instance_id": o.instance_id, "category": o.category, "subcategory": o.subcategory,
                    "bbox": o.bbox.map(|b| b.to_array()),
                    "mask_size": o.mask.as_ref().map(|m| [m.rle.height(), m.rle.width()]),
                    "mask_counts": o.mask.as_ref().map(|m| m.rle.to_coco_string()),
                    "mask_source": o.mask.as_ref().map(|m| m.source.kind.name()),
                    "mask_model": Value::Null, "mask_score": Value::Null,
                    "keypoints": o.keypoints.iter().map(|k| json!({"x": k.x, "y": k.y, "v": k.visibility})).collect::<Vec<_>>(),
                    "world_position": o.world_position.map(|p| p.to_array()),
                    "world_extent": o.world_extent.map(|p| p.to_array()),
                })
            })
            .collect(),
    )
}

fn write<T: ArrowRecord>(path: &std::path::Path, rows: &[T]) {
    let opts = WriteOptions {
        row_group_rows: 16,
        zstd_level: 3,
        config_hash: "feedface".into(),
        parallel_columns: false,
    };
    let mut w = RecordWriter::<T>::create(path, &opts).expect("create");
    w.write(rows).expect("write");
    w.finish().expect("finish");
}

#[test]
fn pyarrow_reads_what_we_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let qa = samples();
    let obs = observations();
    write(&dir.path().join("qa.parquet"), &qa);
    write(&dir.path().join("observations.parquet"), &obs);
    std::fs::write(
        dir.path().join("qa.json"),
        serde_json::to_vec(&expected_qa(&qa)).expect("json"),
    )
    .expect("write");
    std::fs::write(
        dir.path().join("observations.json"),
        serde_json::to_vec(&expected_obs(&obs)).expect("json"),
    )
    .expect("write");
    let out = run_python_check("check_parquet.py", &[dir.path()]);
    assert!(out.contains("parquet interop: ok"), "{out}");
}
