//! Parquet write of QaSample rows (about 1 KB each, three inline region masks) with the
//! default options (zstd level 1, 16K-row groups): rows per second on one core. Masks are
//! distinct per observation (one per four regions), as in a real shard.

use criterion::{Criterion, Throughput};
use crossview_schemas::{QaSample, RecordWriter, WriteOptions};
use std::hint::black_box;

use crate::data::{qa_sample, region_masks};

const ROWS: usize = 50_000;

pub fn bench(c: &mut Criterion) {
    let masks = region_masks(ROWS * 3 / 4);
    let rows: Vec<QaSample> = (0..ROWS).map(|i| qa_sample(i, &masks)).collect();
    let dir = tempfile::tempdir().unwrap_or_else(|e| unreachable!("tempdir: {e}"));
    let path = dir.path().join("bench.parquet");
    let opts = WriteOptions::default();
    let mut g = c.benchmark_group("parquet_write");
    g.sample_size(10);
    g.throughput(Throughput::Elements(ROWS as u64));
    g.bench_function("qa_sample_1kb", |b| {
        b.iter(|| {
            let mut w = RecordWriter::<QaSample>::create(&path, &opts)
                .unwrap_or_else(|e| unreachable!("{e}"));
            for chunk in rows.chunks(4096) {
                w.write(black_box(chunk))
                    .unwrap_or_else(|e| unreachable!("{e}"));
            }
            black_box(w.finish().unwrap_or_else(|e| unreachable!("{e}")))
        })
    });
    g.finish();
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    if bytes == 0 {
        return; // filtered out: nothing was written
    }
    let raw: usize = rows.iter().map(approx_row_bytes).sum();
    println!(
        "parquet_write: {ROWS} rows, {:.0} B/row in memory, file {:.1} MB ({:.0} B/row)",
        raw as f64 / ROWS as f64,
        bytes as f64 / 1e6,
        bytes as f64 / ROWS as f64
    );
}

/// Bytes of a row's strings and mask counts as a reader would see them.
fn approx_row_bytes(s: &QaSample) -> usize {
    s.sample_id.len()
        + s.scene_id.len()
        + s.question.len()
        + s.options.iter().map(String::len).sum::<usize>()
        + s.views
            .iter()
            .map(|v| v.view_id.len() + v.image.len() + 16)
            .sum::<usize>()
        + s.regions
            .iter()
            .map(|g| g.mask.counts().len() + 32)
            .sum::<usize>()
        + 64
}
