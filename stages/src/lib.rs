//! crossview-stages: the work of each data-engine stage as plain functions and types, with no
//! dataflow: sources, masks, geometry, association, QA, filters, split; and `synth`, the
//! synthetic world that every command, test and benchmark runs on.

pub use crossview_schemas as schemas;

mod error;
pub use error::{Error, Result};

pub mod association;
pub mod corpus;
pub mod filter;
pub mod frames;
pub mod geometry;
pub mod masks;
pub mod qa;
pub mod rewrite;
pub mod sources;
pub mod spill;
pub mod split;
pub mod synth;
pub mod video;
