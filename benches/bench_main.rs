//! crossview's criterion benchmarks, one module per area; run with
//! `cargo bench --bench bench_main [-- FILTER]`. Throughputs are reported per element
//! (masks, rows, frames). Companion Python timings for the same inputs: `benches/py/`.

use criterion::{criterion_group, criterion_main};

mod data;
mod geometry;
mod masks;
mod parquet_write;
mod qa;
mod synth_render;

criterion_group!(
    benches,
    masks::bench,
    parquet_write::bench,
    synth_render::bench,
    geometry::bench,
    qa::bench
);
criterion_main!(benches);
