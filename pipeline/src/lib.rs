//! crossview: the data engine's pipeline crate. It wires the stage functions of
//! `crossview-stages` into the dataflow graph and hosts the `crossview` command line.
//!
//! The canonical records live in [`crossview_schemas`]; the stage logic in
//! [`crossview_stages`]. This crate grows the graph, the sink and the CLI commands.

pub use crossview_schemas as schemas;
pub use crossview_stages::synth::driver::{DEFAULT_MAX_SIDE, PAPER_MAX_SIDE};

pub mod build;
pub mod inspect_cmd;
pub mod mask_workers;
pub mod masks_cmd;
pub mod pages;
pub mod qa_cmd;
pub mod report_chart;
pub mod synth_cmd;
pub mod verify_cmd;
pub use crossview_stages as stages;
