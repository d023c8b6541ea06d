//! `crossview synth`: a synthetic multi-camera world (calibrated cameras, objects and people,
//! occlusion, motion) rendered and written in each source dataset's own on-disk format.

pub mod appearance;
pub mod body;
pub mod catalog;
pub mod devices;
pub mod driver;
pub mod egoexo4d;
pub mod egohumans;
pub mod images;
pub mod messytable;
pub mod mmptrack;
pub mod render;
pub mod rig;
pub mod shapes;
pub mod tabletop;
pub mod truth;
pub mod walk;
pub mod world;

pub use driver::{Profile, SynthOptions, SynthSummary, run};
