//! `crossview synth`: a synthetic multi-camera world (calibrated cameras, objects and people,
//! occlusion, motion) rendered and written in each source dataset's own on-disk format.

pub mod appearance;
pub mod render;
pub mod shapes;
pub mod world;
