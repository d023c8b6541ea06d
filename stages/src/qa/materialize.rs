//! [`SceneSamples`] (and [`materialize`] for one): kept candidates as self-contained samples:
//! views with their stored frames, region masks inline (a box fallback says so), wording, id.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::sync::OnceLock;

use crossview_schemas::{
    BorrowedRegion, BoxXyxy, CocoRle, Frame, MaskSource, Observation, QaSample, Rle, SampleRef,
    Split, Task, ViewRef, mask_digest,
};

use super::candidate::Candidate;
use super::index::SceneIndex;
use super::text::{PARAPHRASES, option_texts, question_text};
use crate::{Error, Result};

/// The generator name samples carry (with the seed and config hash the caller adds).
pub const GENERATOR: &str = concat!("crossview-qa/", env!("CARGO_PKG_VERSION"));

/// Where the frames that samples show are stored.
pub trait FrameImages {
    /// The stored image of a frame, relative to the build's frame store ("" when the frame
    /// has no image, as in annotation-only trees).
    fn image(&self, frame: &Frame) -> String;
}

/// No frame store: every view's image is "".
#[derive(Clone, Copy, Debug, Default)]
pub struct NoFrameImages;

impl FrameImages for NoFrameImages {
    fn image(&self, _frame: &Frame) -> String {
        String::new()
    }
}

/// The mask, provenance and box of an observation as a region of a `width` x `height`
/// image: its own mask, else its box filled in (named as the box fallback).
pub fn region_mask(
    o: &Observation,
    width: u32,
    height: u32,
) -> Result<(CocoRle, MaskSource, BoxXyxy)> {
    if let Some(m) = &o.mask {
        let bbox = m.rle.bbox().or(o.bbox).ok_or_else(|| {
            Error::Options(format!(
                "observation {} of {} in {} frame {} has an empty mask and no box",
                o.instance_id, o.scene_id, o.camera_id, o.frame_index
            ))
        })?;
        return Ok((CocoRle::from(&m.rle), m.source.clone(), bbox));
    }
    let bbox = o.bbox.and_then(|b| b.clip(width, height)).ok_or_else(|| {
        Error::Options(format!(
            "observation {} of {} in {} frame {} has neither a mask nor a box in the image",
            o.instance_id, o.scene_id, o.camera_id, o.frame_index
        ))
    })?;
    let rle = Rle::from_box(&bbox, height, width)?;
    Ok((CocoRle::from(&rle), MaskSource::box_fallback(), bbox))
}

/// An observation's region as made for one view size, with its mask's digest.
#[derive(Debug)]
struct RegionPart {
    size: (u32, u32),
    mask: CocoRle,
    source: MaskSource,
    bbox: BoxXyxy,
    digest: u128,
}

/// The samples of one scene in one build: each candidate's closed form as a [`SampleRef`]
/// borrowing views and region masks made once per scene (a view and an observation appear
/// in many samples; their strings are copied only into the shard's columns).
pub struct SceneSamples<'p> {
    ix: &'p SceneIndex<'p>,
    split: Split,
    generator: &'p str,
    frames: &'p dyn FrameImages,
    views: Vec<OnceCell<ViewRef>>,
    regions: Vec<OnceCell<RegionPart>>,
}

impl<'p> SceneSamples<'p> {
    /// Samples of `ix`'s scene in `split`, naming `generator`, showing `frames`' images.
    pub fn new(
        ix: &'p SceneIndex<'p>,
        split: Split,
        generator: &'p str,
        frames: &'p dyn FrameImages,
    ) -> Self {
        SceneSamples {
            ix,
            split,
            generator,
            frames,
            views: (0..ix.views.len()).map(|_| OnceCell::new()).collect(),
            regions: (0..ix.data.observations.len())
                .map(|_| OnceCell::new())
                .collect(),
        }
    }

    /// View `v` as shown: its camera, frame and stored image.
    fn view(&self, v: u32) -> &ViewRef {
        self.views[v as usize].get_or_init(|| {
            let ix = self.ix;
            let view = &ix.views[v as usize];
            let cam = ix.camera(v);
            let image = view
                .frame_record
                .and_then(|k| ix.data.frames.get(k as usize))
                .map(|f| self.frames.image(f))
                .unwrap_or_default();
            ViewRef {
                view_id: cam.id.to_string(),
                frame_id: view.frame.to_string(),
                image,
                width: cam.width,
                height: cam.height,
            }
        })
    }

    /// Observation `obs` as a region of a `width` x `height` view ([`region_mask`]).
    fn region(&self, obs: u32, width: u32, height: u32) -> Result<&RegionPart> {
        let ix = self.ix;
        let cell = self.regions.get(obs as usize).ok_or_else(|| {
            Error::Options(format!("observation {obs} is not in scene {}", ix.scene_id))
        })?;
        if cell.get().is_none() {
            let (mask, source, bbox) =
                region_mask(&ix.data.observations[obs as usize], width, height)?;
            let digest = mask_digest(&mask);
            let _ = cell.set(RegionPart {
                size: (width, height),
                mask,
                source,
                bbox,
                digest,
            });
        }
        match cell.get() {
            Some(part) if part.size == (width, height) => Ok(part),
            _ => Err(Error::Options(format!(
                "observation {obs} of {} is shown in views of two sizes",
                ix.scene_id
            ))),
        }
    }

    /// The sample candidate `c` stands for, in closed (multiple-choice) form.
    pub fn closed(&self, c: &Candidate) -> Result<SampleRef<'_>> {
        let ix = self.ix;
        let views: Vec<&ViewRef> = c.views.iter().map(|&v| self.view(v)).collect();
        let regions = c
            .regions()
            .iter()
            .map(|r| {
                let o = &ix.data.observations[r.obs as usize];
                let view = views[usize::from(r.view)];
                let part = self.region(r.obs, view.width, view.height)?;
                Ok(BorrowedRegion {
                    view_index: u32::from(r.view),
                    instance_id: &o.instance_id,
                    category: &o.category,
                    bbox: part.bbox,
                    mask: &part.mask,
                    mask_digest: Some(part.digest),
                    mask_source: &part.source,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let template = paraphrase(c.key);
        let options = option_texts(&c.options);
        let answer = options
            .get(usize::from(c.answer))
            .copied()
            .unwrap_or_default();
        let mut s = SampleRef {
            sample_id: Cow::Borrowed(""),
            task: c.task,
            source: ix.source,
            scene_id: ix.scene_id,
            split: self.split,
            question: Cow::Borrowed(question_text(c.task, template)),
            options,
            answer_index: i32::from(c.answer),
            answer: Cow::Borrowed(answer),
            open_ended: false,
            views,
            regions,
            template_id: Cow::Borrowed(template_id(c.task, template)),
            generator: self.generator,
        };
        s.sample_id = Cow::Owned(s.content_id());
        Ok(s)
    }
}

/// The sample a candidate stands for, in closed (multiple-choice) form, owned (for one-off
/// samples; a scene's many go through [`SceneSamples`]).
pub fn materialize(
    ix: &SceneIndex<'_>,
    c: &Candidate,
    split: Split,
    generator: &str,
    frames: &dyn FrameImages,
) -> Result<QaSample> {
    Ok(SceneSamples::new(ix, split, generator, frames)
        .closed(c)?
        .to_sample())
}

/// The id of a task's paraphrase `template` (`q8.t2`), made once per process: a `format!`
/// per sample was a percent of a build's instructions.
fn template_id(task: Task, template: usize) -> &'static str {
    static IDS: OnceLock<Vec<Vec<String>>> = OnceLock::new();
    let ids = IDS.get_or_init(|| {
        (Task::ALL.iter())
            .map(|t| {
                (0..PARAPHRASES)
                    .map(|k| format!("{}.t{k}", t.name()))
                    .collect()
            })
            .collect()
    });
    let task_index = Task::ALL
        .iter()
        .position(|&t| t == task)
        .unwrap_or_default();
    &ids[task_index][template % PARAPHRASES]
}

/// The paraphrase a candidate is worded with (bits of its key no other choice uses).
pub fn paraphrase(key: u64) -> usize {
    ((key >> 40) % PARAPHRASES as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::super::tasks::test_scene::{TestScene, draw};
    use super::*;
    use crossview_schemas::REGION_PLACEHOLDER;

    #[test]
    fn samples_are_self_contained_and_ids_are_content_hashes() {
        let t = TestScene::two_views_and_a_row(&["box"; 5]);
        for &task in &[Task::Q1, Task::Q4, Task::Q10] {
            let d = draw(&t, task);
            let ix = d.index();
            assert!(!d.cands.is_empty());
            for c in &d.cands {
                let s = materialize(&ix, c, Split::Train, GENERATOR, &NoFrameImages).unwrap();
                assert_eq!(
                    s.question.matches(REGION_PLACEHOLDER).count(),
                    s.regions.len()
                );
                assert_eq!(s.options[s.answer_index as usize], s.answer);
                assert_eq!(s.views.len(), 2);
                for r in &s.regions {
                    let m = r.mask.to_rle();
                    assert!(m.area() > 0);
                    assert!(r.bbox.contains(&m.bbox().unwrap(), 0.0));
                    assert_eq!(m.size(), [240, 320]);
                }
                assert_eq!(s.sample_id, s.content_id());
                let template = paraphrase(c.key);
                assert_eq!(s.template_id, format!("{}.t{template}", task.name()));
                assert_eq!(s.question, question_text(task, template));
                assert_eq!(s.sample_id.len(), 32);
            }
        }
    }

    #[test]
    fn a_box_only_observation_becomes_a_named_box_mask() {
        let o = Observation {
            scene_id: "s".into(),
            camera_id: "c".into(),
            frame_index: 0,
            instance_id: "p".into(),
            category: "person".into(),
            subcategory: None,
            bbox: Some(BoxXyxy::try_new(-5.0, 2.0, 10.0, 6.0).unwrap()),
            mask: None,
            keypoints: Vec::new(),
            world_position: None,
            world_extent: None,
        };
        let (mask, src, bbox) = region_mask(&o, 20, 10).unwrap();
        assert_eq!(src, MaskSource::box_fallback());
        assert_eq!(bbox.to_array(), [0.0, 2.0, 10.0, 6.0]);
        assert_eq!(mask.to_rle().area(), 40);
        let none = Observation { bbox: None, ..o };
        assert!(region_mask(&none, 20, 10).is_err());
    }
}
