//! Deterministic inputs shared by the benchmarks (mirrored exactly in benches/py/).

use crossview_stages::sources::{self, SceneData, SourceOptions};
use crossview_stages::synth::{self, Profile, SynthOptions};

use crossview_schemas::{
    CocoRle, MaskSource, QaSample, Region, Rle, SourceKind, Split, Task, ViewRef,
};

/// Number of object masks in the RLE benchmark.
pub const OBJECT_MASKS: usize = 64;

/// Object-like elliptical mask `i` of a 640x480 image as a column-major bitmap; the same
/// formula as `benches/py/rle_pycocotools.py`.
pub fn object_mask_col_major(i: usize) -> Vec<u8> {
    let (w, h) = (640usize, 480usize);
    let cx = 80.0 + ((i * 37) % 480) as f64;
    let cy = 60.0 + ((i * 53) % 360) as f64;
    let rx = 20.0 + ((i * 13) % 100) as f64;
    let ry = 20.0 + ((i * 29) % 120) as f64;
    let mut m = vec![0u8; w * h];
    for c in 0..w {
        for r in 0..h {
            let dx = (c as f64 + 0.5 - cx) / rx;
            let dy = (r as f64 + 0.5 - cy) / ry;
            m[c * h + r] = u8::from(dx * dx + dy * dy <= 1.0);
        }
    }
    m
}

/// A QA sample of about 1 KB with three inline region masks, like the shards hold.
pub fn qa_sample(i: usize, masks: &[CocoRle]) -> QaSample {
    let region = |k: usize| {
        let mask = masks[(i + k * 7) % masks.len()].clone();
        Region {
            view_index: (k % 2) as u32,
            instance_id: format!("{}", (i * 3 + k) % 29),
            category: "mug".into(),
            bbox: mask
                .bbox()
                .unwrap_or_else(|| unreachable!("bench masks are non-empty")),
            mask,
            mask_source: MaskSource::box_fallback(),
        }
    };
    let view = |v: usize| ViewRef {
        view_id: format!("{}", v + 1),
        frame_id: "0".into(),
        image: format!("frames/{:016x}.jpg", (i * 2 + v) as u64 * 0x9e37_79b9),
        width: 640,
        height: 480,
    };
    let mut s = QaSample {
        sample_id: String::new(),
        task: Task::ALL[i % 17],
        source: SourceKind::ALL[i % 4],
        scene_id: format!("messytable/2019{:04}-{:05}-01", i % 1000, i / 1000),
        split: Split::Train,
        question: "The object <region> is shown in view 1. Which of the regions <region> or <region> in view 2 is the same object?".into(),
        options: vec!["A. the first region".into(), "B. the second region".into()],
        answer_index: (i % 2) as i32,
        answer: "A".into(),
        open_ended: false,
        views: vec![view(0), view(1)],
        regions: (0..3).map(region).collect(),
        template_id: format!("Q{}-t{}", i % 17 + 1, i % 3),
        generator: "crossview 0.1.0".into(),
    };
    s.sample_id = s.content_id();
    s
}

/// Distinct object masks at 448x448 (the training size), built straight from per-column
/// intervals with wobbly edges, so counts strings differ like real object masks do (about
/// 100-300 bytes each). A shard refers to each observation's mask from a few samples, so
/// the parquet bench uses one mask per four regions.
pub fn region_masks(n: usize) -> Vec<CocoRle> {
    let (w, h) = (448u32, 448u32);
    (0..n)
        .map(|i| {
            let mut x = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            let mut next = move |m: u32| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % u64::from(m)) as u32
            };
            let bw = 20 + next(120);
            let bh = 20 + next(160);
            let x0 = next(w - bw);
            let y0 = next(h - bh);
            // Column intervals never touch (a gap is left above and below each), so every
            // column adds one background run and one foreground run.
            let mut counts = Vec::new();
            let mut pos = 0u32;
            let mut top = y0 + bh / 4;
            let mut bottom = y0 + 3 * bh / 4;
            for col in x0..x0 + bw {
                top = (top + next(5)).saturating_sub(2).clamp(y0 + 1, y0 + bh / 2);
                bottom = (bottom + next(5))
                    .saturating_sub(2)
                    .clamp(y0 + bh / 2 + 1, y0 + bh - 1);
                let (start, end) = (col * h + top, col * h + bottom);
                counts.push(start - pos);
                counts.push(end - start);
                pos = end;
            }
            counts.push(w * h - pos);
            let rle = Rle::from_counts(h, w, counts)
                .unwrap_or_else(|e| unreachable!("runs cover the image: {e}"));
            CocoRle::from(&rle)
        })
        .collect()
}

/// The scenes of a fresh annotation-only synthetic tree of `n` scenes of one profile, loaded.
pub fn synth_scenes(profile: &dyn Profile, n: usize) -> Vec<SceneData> {
    let dir = tempfile::tempdir().unwrap_or_else(|e| unreachable!("tempdir: {e}"));
    let opts = SynthOptions {
        scenes: n,
        images: false,
        ..SynthOptions::default()
    };
    synth::run(profile, dir.path(), &opts).unwrap_or_else(|e| unreachable!("{e}"));
    let reader = sources::open(
        dir.path(),
        None,
        &SourceOptions {
            require_images: false,
            ..SourceOptions::default()
        },
    )
    .unwrap_or_else(|e| unreachable!("{e}"));
    sources::read_all(reader.as_ref())
        .unwrap_or_else(|e| unreachable!("{e}"))
        .0
}
