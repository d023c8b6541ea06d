//! Mask completion: observations without a mask get one from a promptable [`Segmenter`]
//! (ONNX SAM / SAM 2, or the weight-free graph cut), else a fallback, each with provenance.
//!
//! Start with [`MaskConfig`] and [`MaskCompleter::complete`], which completes one scene:
//! prompts (box, keypoints) per frame, a content-addressed [`MaskCache`], the confidence
//! filter, and the fallbacks ([`keypoint_hull`], box-as-mask left to the region writer).
//! [`MaskScore`] measures completed masks against the synthetic truth.

mod cache;
mod complete;
mod fallback;
mod gmm;
mod graphcut;
mod maxflow;
mod onnx;
mod score;
mod segmenter;

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use cache::{CachedMask, MaskCache, content_key};
pub use complete::{Completed, MaskCompleter, MaskCounts, MaskStats};
pub use fallback::{box_mask, keypoint_hull};
pub use gmm::ColourModel;
pub use graphcut::{GraphCutConfig, GraphCutSegmenter};
pub use maxflow::MaxFlow;
pub use onnx::{OnnxConfig, OnnxSegmenter, OnnxTimings, SamConvention, find_runtime, model_id};
pub use score::{MaskScore, MethodScore};
pub use segmenter::{
    FramePrep, PixelWindow, Prediction, PreparedFrame, Prompt, PromptPoint, Segmenter,
};

use crate::{Error, Result};

/// Which segmenter completes masks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SegmenterKind {
    /// The weight-free graph cut (the embedded default).
    #[default]
    Graphcut,
    /// A SAM-style ONNX model pair (`[masks.onnx]`).
    Onnx,
    /// No segmenter: fallbacks only.
    None,
}

/// What happens to an observation whose segmenter mask scores below `min_score`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BelowMinScore {
    /// It keeps a fallback mask (keypoint hull, else its box).
    #[default]
    Fallback,
    /// It is dropped from the scene.
    Drop,
}

/// Default confidence a segmenter mask needs.
pub const DEFAULT_MIN_SCORE: f32 = 0.6;

/// Mask completion settings (`[masks]`); every field has a default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MaskConfig {
    /// The segmenter: `graphcut` (default), `onnx`, or `none`.
    pub segmenter: SegmenterKind,
    /// The ONNX model pair and runtime, for `segmenter = "onnx"`.
    pub onnx: OnnxConfig,
    /// The graph cut's settings, for `segmenter = "graphcut"`.
    pub graphcut: GraphCutConfig,
    /// A segmenter mask scoring below this is not kept.
    pub min_score: f32,
    /// `fallback` (default) or `drop` for observations below `min_score`.
    pub below_min_score: BelowMinScore,
    /// People with keypoints fall back to a limb-capsule hull (else to their box).
    pub keypoint_hull: bool,
    /// Visible keypoints are passed to the segmenter as positive points.
    pub keypoint_prompts: bool,
    /// Keep segmenter results in a content-addressed cache (in the build's output folder).
    pub cache: bool,
}

impl Default for MaskConfig {
    fn default() -> Self {
        MaskConfig {
            segmenter: SegmenterKind::Graphcut,
            onnx: OnnxConfig::default(),
            graphcut: GraphCutConfig::default(),
            min_score: DEFAULT_MIN_SCORE,
            below_min_score: BelowMinScore::Fallback,
            keypoint_hull: true,
            keypoint_prompts: true,
            cache: true,
        }
    }
}

impl MaskConfig {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.min_score) {
            return Err(Error::Options(format!(
                "masks.min_score must be in [0, 1], got {}",
                self.min_score
            )));
        }
        self.graphcut.validate()
    }

    /// Takes the ONNX paths (models, runtime) relative to `base`, the folder of the config
    /// file they were written in.
    pub fn resolve_paths(&mut self, base: &Path) {
        self.onnx = self.onnx.resolved(base);
    }

    /// The settings without where the model files are (their content is identified by
    /// [`MaskConfig::model_fingerprint`]): what shapes the masks, for hashing.
    pub fn without_paths(&self) -> MaskConfig {
        let mut c = self.clone();
        c.onnx.encoder = Default::default();
        c.onnx.decoder = Default::default();
        c.onnx.runtime = None;
        c
    }

    /// The segmenter these settings name (`None` for fallbacks only).
    pub fn open_segmenter(&self) -> Result<Option<Box<dyn Segmenter>>> {
        Ok(match self.segmenter {
            SegmenterKind::Graphcut => {
                Some(Box::new(GraphCutSegmenter::new(self.graphcut.clone())?))
            }
            SegmenterKind::Onnx => Some(Box::new(OnnxSegmenter::open(&self.onnx)?)),
            SegmenterKind::None => None,
        })
    }

    /// What identifies the masks these settings produce beyond the settings themselves: the
    /// ONNX model's content hash (files may change under the same path); empty otherwise.
    pub fn model_fingerprint(&self) -> Result<String> {
        match self.segmenter {
            SegmenterKind::Onnx => model_id(&self.onnx),
            _ => Ok(String::new()),
        }
    }
}
