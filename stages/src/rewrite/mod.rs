//! Open-ended rewriting: a seeded share of kept samples also appears in short-answer form (no
//! options; the same regions and masks); a rewrite whose answer is not unique is dropped.

use serde::{Deserialize, Serialize};

use std::borrow::Cow;

use crossview_schemas::SampleRef;

use crate::qa::{Candidate, OptionKind, SceneIndex, hash_words};

/// Default share of kept samples that also get a short-answer form.
pub const DEFAULT_OPEN_ENDED_FRACTION: f64 = 0.1;

/// Open-ended settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RewriteConfig {
    /// Share of kept samples (train and bench alike) rewritten to short-answer form.
    pub fraction: f64,
}

impl Default for RewriteConfig {
    fn default() -> Self {
        RewriteConfig {
            fraction: DEFAULT_OPEN_ENDED_FRACTION,
        }
    }
}

impl RewriteConfig {
    /// Checks the values.
    pub fn validate(&self) -> crate::Result<()> {
        if !(0.0..=1.0).contains(&self.fraction) {
            return Err(crate::Error::Options(
                "rewrite: fraction must be in [0, 1]".into(),
            ));
        }
        Ok(())
    }

    /// Whether a kept candidate is chosen for rewriting (a seeded hash below the fraction).
    pub fn chosen(&self, c: &Candidate, seed: u64) -> bool {
        let h = hash_words(&[seed, c.key, 0x0be4_e4de]);
        ((h >> 11) as f64 / (1u64 << 53) as f64) < self.fraction
    }
}

/// The short-answer form of a closed sample, or `None` when its answer would not be unique
/// (an object answered by its category, when another candidate shares that category).
pub fn rewrite<'p>(
    ix: &SceneIndex<'_>,
    c: &Candidate,
    closed: &SampleRef<'p>,
) -> Option<SampleRef<'p>> {
    let category = |k: u8| {
        c.option_region(k)
            .map(|r| ix.instances[r.instance as usize].category)
    };
    let unique_category = |count: u8| -> Option<Cow<'p, str>> {
        let right = category(c.answer)?;
        let clashes = (0..count)
            .filter(|&k| k != c.answer)
            .any(|k| category(k) == Some(right));
        (!clashes).then(|| Cow::Owned(right.to_string()))
    };
    let (instruction, answer) = match c.options {
        OptionKind::YesNo => ("Answer yes or no.", closed.answer.clone()),
        OptionKind::Scale(_) => (
            "Answer larger, smaller or about the same.",
            closed.answer.clone(),
        ),
        OptionKind::Views => ("Answer view 1 or view 2.", closed.answer.clone()),
        OptionKind::FirstSecond => ("Answer the first or the second.", closed.answer.clone()),
        OptionKind::Pairings(_) => {
            // Exactly one of the six orders pairs every object with itself.
            let r = c.regions();
            let right = [
                [0u8, 1, 2],
                [0, 2, 1],
                [1, 0, 2],
                [1, 2, 0],
                [2, 0, 1],
                [2, 1, 0],
            ]
            .iter()
            .filter(|row| {
                (0..3).all(|k| {
                    r.get(k).map(|a| a.instance)
                        == r.get(3 + usize::from(row[k])).map(|b| b.instance)
                })
            })
            .count();
            if right != 1 {
                return None;
            }
            (
                "Answer with the pairing, written like 1-x, 2-y, 3-z.",
                closed.answer.clone(),
            )
        }
        OptionKind::Candidates { count, .. } => (
            "Answer with the category of that object.",
            unique_category(count)?,
        ),
        OptionKind::CandidatesOrNone { count, .. } => {
            let answer = if c.answer >= count {
                Cow::Borrowed("none")
            } else {
                unique_category(count)?
            };
            ("Answer with the category of that object, or none.", answer)
        }
    };
    let mut s = SampleRef {
        sample_id: Cow::Borrowed(""),
        question: Cow::Owned(format!("{} {instruction}", closed.question)),
        options: Vec::new(),
        answer_index: -1,
        answer,
        open_ended: true,
        template_id: Cow::Owned(format!("{}.open", closed.template_id)),
        ..closed.clone()
    };
    s.sample_id = Cow::Owned(s.content_id());
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qa::tasks::test_scene::{TestScene, draw};
    use crate::qa::{GENERATOR, NoFrameImages, materialize};
    use crossview_schemas::{Split, Task};

    fn scene(categories: [&str; 5]) -> TestScene {
        TestScene::two_views_and_a_row(&categories)
    }

    #[test]
    fn category_answers_are_kept_only_when_unique() {
        // All distinct: every Q1 rewrite is kept and answers the target's category.
        let d = draw(&scene(["mug", "box", "can", "bowl", "cup"]), Task::Q1);
        let ix = d.index();
        for c in &d.cands {
            let closed = materialize(&ix, c, Split::Train, GENERATOR, &NoFrameImages).unwrap();
            let open = rewrite(&ix, c, &closed.as_sample_ref())
                .map(|s| s.to_sample())
                .expect("unique categories");
            assert!(open.open_ended && open.options.is_empty() && open.answer_index == -1);
            assert_eq!(
                open.answer,
                ix.instances[c.regions()[0].instance as usize].category
            );
            assert_eq!(open.regions, closed.regions);
            assert_ne!(open.sample_id, closed.sample_id);
            assert_eq!(open.sample_id, open.content_id());
        }
        // All alike: no Q1 rewrite can be answered by category.
        let d = draw(&scene(["mug"; 5]), Task::Q1);
        let ix = d.index();
        assert!(!d.cands.is_empty());
        for c in &d.cands {
            let closed = materialize(&ix, c, Split::Train, GENERATOR, &NoFrameImages).unwrap();
            assert!(
                rewrite(&ix, c, &closed.as_sample_ref())
                    .map(|s| s.to_sample())
                    .is_none()
            );
        }
    }

    #[test]
    fn worded_answers_keep_the_closed_answer_and_pairings_verify() {
        let t = scene(["mug"; 5]);
        for task in [Task::Q5, Task::Q10, Task::Q4] {
            let d = draw(&t, task);
            let ix = d.index();
            assert!(!d.cands.is_empty());
            for c in &d.cands {
                let closed = materialize(&ix, c, Split::Bench, GENERATOR, &NoFrameImages).unwrap();
                let open = rewrite(&ix, c, &closed.as_sample_ref())
                    .map(|s| s.to_sample())
                    .expect("unique by construction");
                assert_eq!(open.answer, closed.answer);
                assert!(open.question.starts_with(&closed.question));
            }
        }
    }

    #[test]
    fn the_chosen_share_follows_the_fraction() {
        let d = draw(&scene(["mug", "box", "can", "bowl", "cup"]), Task::Q13);
        let cfg = RewriteConfig { fraction: 0.0 };
        assert!(d.cands.iter().all(|c| !cfg.chosen(c, 1)));
        let cfg = RewriteConfig { fraction: 1.0 };
        assert!(d.cands.iter().all(|c| cfg.chosen(c, 1)));
    }
}
