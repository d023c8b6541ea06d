//! COCO RLE against pycocotools: a few hundred masks (empty, full, single pixels, thin lines,
//! odd sizes, 1x1, 1080x1920, blobs, noise) must give the same strings, bitmaps, areas, boxes
//! and IoUs; boxes and polygons must rasterize the same.

use std::io::Write;

use crossview_schemas::{BoxXyxy, Rle};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::support::run_python_check;

/// A named row-major bitmap.
struct Case {
    name: String,
    h: u32,
    w: u32,
    bitmap: Vec<u8>,
}

fn blank(h: u32, w: u32) -> Vec<u8> {
    vec![0; (h * w) as usize]
}

fn cases() -> Vec<Case> {
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let mut out = Vec::new();
    let mut push =
        |name: String, h: u32, w: u32, bitmap: Vec<u8>| out.push(Case { name, h, w, bitmap });
    for (h, w) in [
        (1, 1),
        (1, 7),
        (7, 1),
        (2, 2),
        (3, 5),
        (480, 640),
        (1080, 1920),
    ] {
        push(format!("empty_{h}x{w}"), h, w, blank(h, w));
        push(format!("full_{h}x{w}"), h, w, vec![1; (h * w) as usize]);
        let mut one = blank(h, w);
        let (r, c) = (rng.random_range(0..h), rng.random_range(0..w));
        one[(r * w + c) as usize] = 1;
        push(format!("pixel_{h}x{w}"), h, w, one);
        let mut last = blank(h, w);
        last[(h * w - 1) as usize] = 1;
        push(format!("last_pixel_{h}x{w}"), h, w, last);
    }
    for i in 0..60 {
        let (h, w) = (rng.random_range(1..90), rng.random_range(1..90));
        // Thin horizontal and vertical lines.
        let mut row_line = blank(h, w);
        let r = rng.random_range(0..h);
        for c in 0..w {
            row_line[(r * w + c) as usize] = 1;
        }
        push(format!("hline_{i}"), h, w, row_line);
        let mut col_line = blank(h, w);
        let c = rng.random_range(0..w);
        for r in 0..h {
            col_line[(r * w + c) as usize] = 1;
        }
        push(format!("vline_{i}"), h, w, col_line);
        // Salt-and-pepper noise at a random density.
        let p = rng.random_range(0.0..1.0);
        let noise = (0..h * w).map(|_| u8::from(rng.random_bool(p))).collect();
        push(format!("noise_{i}"), h, w, noise);
    }
    // Object-like blobs (ellipses, some truncated by the frame) at 480x640 and odd sizes.
    for i in 0..120 {
        let (h, w) = if i % 3 == 0 {
            (480, 640)
        } else {
            (rng.random_range(5..300), rng.random_range(5..300))
        };
        let (cy, cx) = (
            rng.random_range(-20.0..h as f64 + 20.0),
            rng.random_range(-20.0..w as f64 + 20.0),
        );
        let (ry, rx) = (
            rng.random_range(1.0..h as f64 / 2.0 + 2.0),
            rng.random_range(1.0..w as f64 / 2.0 + 2.0),
        );
        let mut bm = blank(h, w);
        for r in 0..h {
            for c in 0..w {
                let (dy, dx) = ((r as f64 + 0.5 - cy) / ry, (c as f64 + 0.5 - cx) / rx);
                bm[(r * w + c) as usize] = u8::from(dx * dx + dy * dy <= 1.0);
            }
        }
        push(format!("blob_{i}"), h, w, bm);
    }
    // A 1080x1920 person-sized blob.
    let mut big = blank(1080, 1920);
    for r in 200..1000u32 {
        for c in 800..(1000 + r / 4) {
            big[(r * 1920 + c) as usize] = 1;
        }
    }
    push("big_1080x1920".into(), 1080, 1920, big);
    out
}

#[test]
fn rle_matches_pycocotools() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = cases();
    assert!(cases.len() >= 300, "only {} cases", cases.len());
    let mut bin = std::fs::File::create(dir.path().join("bitmaps.bin")).expect("create");
    let mut offset = 0usize;
    let mut rles = Vec::new();
    let mut manifest = Vec::new();
    for c in &cases {
        bin.write_all(&c.bitmap).expect("write");
        let rle = Rle::encode_row_major(&c.bitmap, c.h, c.w).expect("encode");
        // Our own decoders agree with the input before Python looks at anything.
        assert_eq!(rle.decode_row_major(), c.bitmap, "{}", c.name);
        let bbox = rle
            .bbox()
            .map(|b| b.to_xywh().map(f64::from))
            .unwrap_or([0.0; 4]);
        manifest.push(json!({
            "name": c.name, "h": c.h, "w": c.w, "offset": offset,
            "counts": rle.to_coco_string(), "area": rle.area(), "bbox_xywh": bbox,
        }));
        offset += c.bitmap.len();
        rles.push(rle);
    }
    // IoU with the next case of the same size.
    for i in 0..cases.len() {
        if let Some(j) = (i + 1..cases.len()).find(|&j| rles[j].size() == rles[i].size()) {
            manifest[i]["iou_with"] = json!(cases[j].name);
            manifest[i]["iou"] = json!(rles[i].iou(&rles[j]).expect("same size"));
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut shapes = Vec::new();
    for _ in 0..60 {
        let (h, w) = (rng.random_range(1..200u32), rng.random_range(1..200u32));
        let (x, y) = (
            rng.random_range(-30.0..w as f64),
            rng.random_range(-30.0..h as f64),
        );
        let (bw, bh) = (rng.random_range(0.0..120.0), rng.random_range(0.0..120.0));
        let b = BoxXyxy::from_xywh(x, y, bw, bh).expect("box");
        let xywh = b.to_xywh().map(f64::from);
        shapes.push(json!({"kind": "box", "h": h, "w": w, "coords": xywh,
                           "counts": Rle::from_box(&b, h, w).expect("box").to_coco_string()}));
        let n = rng.random_range(3..9);
        let poly: Vec<f64> = (0..n)
            .flat_map(|_| {
                [
                    rng.random_range(-10.0..w as f64 + 10.0),
                    rng.random_range(-10.0..h as f64 + 10.0),
                ]
            })
            .collect();
        shapes.push(json!({"kind": "polygon", "h": h, "w": w, "coords": poly,
                           "counts": Rle::from_polygon(&poly, h, w).expect("poly").to_coco_string()}));
    }
    let cases_path = dir.path().join("cases.json");
    std::fs::write(&cases_path, serde_json::to_vec(&manifest).expect("json")).expect("write");
    std::fs::write(
        dir.path().join("cases_shapes.json"),
        serde_json::to_vec(&shapes).expect("json"),
    )
    .expect("write");
    let out = run_python_check(
        "check_rle.py",
        &[&cases_path, &dir.path().join("bitmaps.bin")],
    );
    assert!(out.contains("mismatches: 0"), "{out}");
}
