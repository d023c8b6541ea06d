//! crossview's integration tests: one binary, one module per area. Interop modules check what
//! crossview writes against independent Python clients (tests/requirements.txt).

mod support;

mod association;
mod bad_input;
mod build;
mod fixtures;
mod geometry;
mod interop_parquet;
mod interop_rle;
mod masks;
mod qa;
mod sources;
mod synth;
