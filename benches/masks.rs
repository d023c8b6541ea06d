//! COCO RLE encode + decode of 640x480 object masks (column-major in, column-major out, as
//! pycocotools does); `python3 benches/py/rle_pycocotools.py` times pycocotools on the same masks.

use criterion::{Criterion, Throughput};
use crossview_schemas::Rle;
use std::hint::black_box;

use crate::data::{OBJECT_MASKS, object_mask_col_major};

pub fn bench(c: &mut Criterion) {
    let masks: Vec<Vec<u8>> = (0..OBJECT_MASKS).map(object_mask_col_major).collect();
    let mut g = c.benchmark_group("rle_640x480");
    g.throughput(Throughput::Elements(OBJECT_MASKS as u64));
    g.bench_function("encode_decode", |b| {
        b.iter(|| {
            for m in &masks {
                let rle = Rle::encode_col_major(black_box(m), 480, 640)
                    .unwrap_or_else(|e| unreachable!("{e}"));
                black_box(rle.decode_col_major());
            }
        })
    });
    let rles: Vec<Rle> = masks
        .iter()
        .map(|m| Rle::encode_col_major(m, 480, 640).unwrap_or_else(|e| unreachable!("{e}")))
        .collect();
    g.bench_function("to_from_string", |b| {
        b.iter(|| {
            for r in &rles {
                let s = r.to_coco_string();
                black_box(
                    Rle::from_coco_string(&s, 480, 640).unwrap_or_else(|e| unreachable!("{e}")),
                );
            }
        })
    });
    g.finish();
}
