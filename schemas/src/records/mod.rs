//! The canonical records every source is parsed into and every later stage sees: Scene, Camera,
//! Frame, Observation, QaSample and InputError (plus the synthetic world's truth records), each
//! with its Arrow schema and conversions.

mod absence;
mod camera;
mod frame;
mod input_error;
mod observation;
mod pose_columns;
mod qa;
mod sample_ref;
mod scene;
mod truth;

pub use absence::Absence;
pub use camera::Camera;
pub use frame::{Frame, ImageRef};
pub use input_error::InputError;
pub use observation::{Keypoint, Observation, ObservedMask};
pub use qa::{QaSample, REGION_PLACEHOLDER, Region, ViewRef};
pub use sample_ref::{BorrowedRegion, SampleColumns, SampleRef, mask_digest};
pub use scene::Scene;
pub use truth::{TruthInstance, TruthObservation, TruthState};
