//! The closed vocabularies records use, each with its one stored spelling: source kinds, the
//! 17 tasks and their categories, splits, camera kinds, mask provenance, input-error classes.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Declares a fieldless enum with a stored name per variant, `name()` and `from_name()`.
macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $s)] $variant),+
        }
        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The stored spelling.
            pub fn name(&self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
            /// Parses the stored spelling.
            pub fn from_name(s: &str) -> Result<Self> {
                match s {
                    $($s => Ok($name::$variant),)+
                    other => Err(Error::InvalidValue {
                        what: $what,
                        reason: format!("unknown value {other:?}"),
                    }),
                }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

named_enum! {
    /// The four source datasets.
    SourceKind, "source kind" {
        /// MessyTable: tabletop stills, 9 cameras.
        MessyTable => "messytable",
        /// MMPTrack: people in rooms, 4-6 static cameras, video.
        MmpTrack => "mmptrack",
        /// EgoHumans: people with Aria glasses plus exo cameras.
        EgoHumans => "egohumans",
        /// Ego-Exo4D: one wearer and objects, Aria plus GoPros.
        EgoExo4d => "egoexo4d",
    }
}

named_enum! {
    /// The four task groups of TASKS.md.
    TaskCategory, "task category" {
        /// Q1-Q5.
        Correspondence => "correspondence",
        /// Q6-Q8.
        VisibilityOcclusion => "visibility_occlusion",
        /// Q9-Q16.
        Geometric => "geometric",
        /// Q17.
        Physical => "physical",
    }
}

named_enum! {
    /// The 17 question types (TASKS.md).
    Task, "task" {
        /// Single-object cross-view retrieval.
        Q1 => "Q1",
        /// Two-candidate retrieval.
        Q2 => "Q2",
        /// One-of-three identification.
        Q3 => "Q3",
        /// Multi-object group matching.
        Q4 => "Q4",
        /// Binary instance verification.
        Q5 => "Q5",
        /// Cross-view visibility detection.
        Q6 => "Q6",
        /// Exclusive-presence identification.
        Q7 => "Q7",
        /// Occluder source localization.
        Q8 => "Q8",
        /// Cross-view nearest-neighbour retrieval.
        Q9 => "Q9",
        /// Scale change detection.
        Q10 => "Q10",
        /// Single-view completeness comparison.
        Q11 => "Q11",
        /// Cross-view completeness comparison.
        Q12 => "Q12",
        /// Left-right arrangement flip detection.
        Q13 => "Q13",
        /// Cross-view displacement comparison.
        Q14 => "Q14",
        /// Depth-relation consistency.
        Q15 => "Q15",
        /// Relative scale-growth comparison.
        Q16 => "Q16",
        /// Visual overlap vs physical contact.
        Q17 => "Q17",
    }
}

impl Task {
    /// The task's group.
    pub fn category(&self) -> TaskCategory {
        use Task::*;
        match self {
            Q1 | Q2 | Q3 | Q4 | Q5 => TaskCategory::Correspondence,
            Q6 | Q7 | Q8 => TaskCategory::VisibilityOcclusion,
            Q9 | Q10 | Q11 | Q12 | Q13 | Q14 | Q15 | Q16 => TaskCategory::Geometric,
            Q17 => TaskCategory::Physical,
        }
    }
    /// The task number, 1..=17.
    pub fn number(&self) -> u8 {
        *self as u8 + 1
    }
}

named_enum! {
    /// Which part of the corpus a sample belongs to.
    Split, "split" {
        /// CrossViewSet, the training set.
        Train => "train",
        /// CrossViewBench, the scene-disjoint benchmark.
        Bench => "bench",
    }
}

named_enum! {
    /// Whether a camera is worn (egocentric) or fixed in the scene.
    CameraKind, "camera kind" {
        /// Head-mounted, moving.
        Ego => "ego",
        /// Static, third-person.
        Exo => "exo",
    }
}

named_enum! {
    /// Where a mask came from.
    MaskSourceKind, "mask source" {
        /// Drawn by annotators (or rendered by synth as the source would provide it).
        Annotated => "annotated",
        /// Completed by a promptable segmenter.
        Segmenter => "segmenter",
        /// The box filled in (the paper's "box-as-mask").
        Box => "box",
        /// A hull of limb capsules around a person's keypoints.
        KeypointHull => "keypoint_hull",
    }
}

/// The provenance of a mask: its kind plus, for segmenter masks, the model and score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MaskSource {
    /// How the mask was made.
    pub kind: MaskSourceKind,
    /// Segmenter model id (content hash of its files), for segmenter masks.
    pub model: Option<String>,
    /// Segmenter confidence (predicted IoU), for segmenter masks.
    pub score: Option<f32>,
}

impl MaskSource {
    /// An annotated mask.
    pub fn annotated() -> Self {
        MaskSource {
            kind: MaskSourceKind::Annotated,
            model: None,
            score: None,
        }
    }
    /// A box-as-mask fallback.
    pub fn box_fallback() -> Self {
        MaskSource {
            kind: MaskSourceKind::Box,
            model: None,
            score: None,
        }
    }
    /// A keypoint-hull fallback.
    pub fn keypoint_hull() -> Self {
        MaskSource {
            kind: MaskSourceKind::KeypointHull,
            model: None,
            score: None,
        }
    }
    /// A segmenter mask.
    pub fn segmenter(model: impl Into<String>, score: f32) -> Self {
        MaskSource {
            kind: MaskSourceKind::Segmenter,
            model: Some(model.into()),
            score: Some(score),
        }
    }
}

named_enum! {
    /// What kind of problem an input error is.
    ErrorClass, "error class" {
        /// A file that does not parse (truncated JSON, bad CSV row...).
        Malformed => "malformed",
        /// A file the tree refers to that is not there.
        MissingFile => "missing_file",
        /// A value that parses but is invalid (NaN calibration, x2 < x1, bad RLE sums).
        InvalidValue => "invalid_value",
        /// Files that contradict each other (an annotation for an unknown camera).
        Inconsistent => "inconsistent",
        /// Not an error: a self-check suggests the data may follow another convention than the
        /// one configured (never fails a `--strict` build).
        Suspicious => "suspicious",
    }
}

impl ErrorClass {
    /// Whether this class is a real error (counted by `--strict`) rather than a warning.
    pub fn is_error(&self) -> bool {
        *self != ErrorClass::Suspicious
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in Task::ALL {
            assert_eq!(Task::from_name(t.name()).unwrap(), *t);
        }
        assert_eq!(Task::ALL.len(), 17);
        assert_eq!(Task::Q17.number(), 17);
        assert!(Task::from_name("Q18").is_err());
        for s in SourceKind::ALL {
            assert_eq!(SourceKind::from_name(&s.to_string()).unwrap(), *s);
        }
    }

    #[test]
    fn categories_follow_tasks_md() {
        let count = |c| Task::ALL.iter().filter(|t| t.category() == c).count();
        assert_eq!(count(TaskCategory::Correspondence), 5);
        assert_eq!(count(TaskCategory::VisibilityOcclusion), 3);
        assert_eq!(count(TaskCategory::Geometric), 8);
        assert_eq!(count(TaskCategory::Physical), 1);
    }
}
