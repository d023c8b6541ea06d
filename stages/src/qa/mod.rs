//! QA instantiation: the 17 task templates of TASKS.md drawn from one scene's views as compact
//! [`Candidate`]s (answers decided with margins), and their materialisation into [`QaSample`]s.
//!
//! Start with [`SceneIndex::new`], then [`generate`] (candidates, streamed to a callback) and
//! [`materialize`] (a kept candidate as a self-contained sample with inline masks).
//!
//! [`QaSample`]: crossview_schemas::QaSample

mod candidate;
mod config;
mod generate;
mod index;
mod materialize;
mod suite_jsonl;
pub(crate) mod tasks;
mod text;

pub use candidate::{Candidate, ENCODED_LEN, MAX_REGIONS, OptionKind, RegionRef, Reject, Rejected};
pub use config::{
    DEFAULT_ANCHORS_PER_VIEW_PAIR, DEFAULT_MAX_FRAMES_PER_SCENE, DEFAULT_MAX_VIEW_PAIRS_PER_FRAME,
    DEFAULT_MIN_REGION_AREA_PX, DEFAULT_QA_SEED, QaConfig,
};
pub use generate::generate;
pub use index::{CameraInfo, InstanceInfo, Moment, SceneIndex, View, hash_name, hash_words};
pub use materialize::{
    FrameImages, GENERATOR, NoFrameImages, SceneSamples, materialize, paraphrase, region_mask,
};
pub use suite_jsonl::{from_suite_json, to_suite_json};
pub use tasks::{Emit, Pair};
pub use text::{PARAPHRASES, option_texts, question_text, region_count};
