//! [`MaskCompleter`]: one scene's observations without masks completed, frame by frame:
//! prompts from boxes and keypoints, cache lookups, one segmenter call per frame for the
//! misses, the confidence filter, and the fallbacks; with [`MaskStats`] of what happened.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crossview_schemas::{
    BoxXyxy, ErrorClass, Frame, ImageRef, InputError, MaskSource, Observation, ObservedMask,
    SourceKind,
};

use super::cache::{CachedMask, MaskCache, content_key};
use super::fallback::keypoint_hull;
use super::segmenter::{FramePrep, Prediction, PreparedFrame, Prompt, PromptPoint, Segmenter};
use super::{BelowMinScore, MaskConfig};
use crate::Result;
use crate::frames::{FrameReader, decode_rgb};
use crate::sources::SceneData;

/// What happened to the observations of one source.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskCounts {
    /// Observations that came with a mask (annotated).
    pub annotated: u64,
    /// Segmenter masks kept (score at or above `min_score`).
    pub segmented: u64,
    /// Segmenter masks below `min_score` (then fallen back or dropped).
    pub low_score: u64,
    /// Observations dropped for a low score.
    pub dropped: u64,
    /// Fallback: limb-capsule hulls.
    pub keypoint_hull: u64,
    /// Fallback: left to box-as-mask.
    pub boxes: u64,
    /// Observations whose frame has no image to segment.
    pub no_image: u64,
    /// Prompts answered by the cache.
    pub cached: u64,
    /// Prompts answered by the segmenter.
    pub computed: u64,
}

impl MaskCounts {
    fn add(&mut self, o: &MaskCounts) {
        self.annotated += o.annotated;
        self.segmented += o.segmented;
        self.low_score += o.low_score;
        self.dropped += o.dropped;
        self.keypoint_hull += o.keypoint_hull;
        self.boxes += o.boxes;
        self.no_image += o.no_image;
        self.cached += o.cached;
        self.computed += o.computed;
    }
}

/// Counts of the mask stage, per source, and the segmenter calls made.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskStats {
    /// Per source.
    pub by_source: BTreeMap<SourceKind, MaskCounts>,
    /// Calls of the segmenter (one per frame with cache misses).
    pub model_calls: u64,
}

impl MaskStats {
    /// Adds another part's counts.
    pub fn merge(&mut self, o: &MaskStats) {
        for (k, v) in &o.by_source {
            self.by_source.entry(*k).or_default().add(v);
        }
        self.model_calls += o.model_calls;
    }

    /// These counts as a rebuild that finds the scene's work done reports them: every
    /// segmenter answer from the cache, no segmenter call.
    pub fn replayed(&self) -> MaskStats {
        let mut out = self.clone();
        for c in out.by_source.values_mut() {
            c.cached += c.computed;
            c.computed = 0;
        }
        out.model_calls = 0;
        out
    }

    /// All sources together.
    pub fn total(&self) -> MaskCounts {
        let mut t = MaskCounts::default();
        for v in self.by_source.values() {
            t.add(v);
        }
        t
    }
}

/// A scene after mask completion.
#[derive(Debug)]
pub struct Completed {
    /// The scene with its masks (the same allocation when nothing needed completing).
    pub scene: Arc<SceneData>,
    /// What happened.
    pub stats: MaskStats,
    /// Frames that could not be segmented (unreadable, undecodable, of the wrong size);
    /// their observations fell back.
    pub errors: Vec<InputError>,
}

/// The mask stage: settings, a segmenter (none: fallbacks only), an optional cache.
pub struct MaskCompleter {
    cfg: MaskConfig,
    segmenter: Option<Box<dyn Segmenter>>,
    cache: Option<MaskCache>,
    /// Cache entries looked up or written since the last `take_cache_keys`.
    cache_keys: Vec<String>,
}

/// One observation's outcome in its frame.
enum Outcome {
    Mask(ObservedMask),
    Fallback,
    Drop,
}

impl MaskCompleter {
    /// The stage with the segmenter the settings name and, when `cache_dir` is given and
    /// the settings allow, a cache there.
    pub fn open(cfg: &MaskConfig, cache_dir: Option<&Path>) -> Result<Self> {
        cfg.validate()?;
        let segmenter = cfg.open_segmenter()?;
        let cache = match cache_dir {
            Some(d) if cfg.cache && segmenter.is_some() => Some(MaskCache::open(d)?),
            _ => None,
        };
        Ok(Self::with_segmenter(cfg.clone(), segmenter, cache))
    }

    /// The stage with a given segmenter and cache.
    pub fn with_segmenter(
        cfg: MaskConfig,
        segmenter: Option<Box<dyn Segmenter>>,
        cache: Option<MaskCache>,
    ) -> Self {
        MaskCompleter {
            cfg,
            segmenter,
            cache,
            cache_keys: Vec::new(),
        }
    }

    /// The cache entries this stage used since the last call (to prune the others).
    pub fn take_cache_keys(&mut self) -> Vec<String> {
        std::mem::take(&mut self.cache_keys)
    }

    /// The segmenter's model id, if there is a segmenter.
    pub fn model_id(&self) -> Option<&str> {
        self.segmenter.as_deref().map(|s| s.model_id())
    }

    /// The segmenter, to read its own counters (tests, benchmarks).
    pub fn segmenter(&self) -> Option<&dyn Segmenter> {
        self.segmenter.as_deref()
    }

    /// Completes a scene read from the tree at `root`: every observation without a mask
    /// gets a segmenter mask (score at or above `min_score`), or falls back (a keypoint
    /// hull for people, else nothing: the region writer fills the box), or is dropped, as
    /// configured. A frame that cannot be read or decoded is an input error and its
    /// observations fall back; a failing model is an error of the stage.
    pub fn complete(&mut self, scene: Arc<SceneData>, root: &Path) -> Result<Completed> {
        let mut stats = MaskStats::default();
        let mut errors = Vec::new();
        let Some(meta) = &scene.scene else {
            return Ok(Completed {
                scene,
                stats,
                errors,
            });
        };
        let source = meta.source;
        let tight = crate::sources::boxes_are_tight(source);
        let mut counts = MaskCounts {
            annotated: scene
                .observations
                .iter()
                .filter(|o| o.mask.is_some())
                .count() as u64,
            ..MaskCounts::default()
        };
        // Observations to complete (those with a box), by view in a stable order.
        let mut views: BTreeMap<(&str, u32), Vec<(usize, BoxXyxy)>> = BTreeMap::new();
        for (i, o) in scene.observations.iter().enumerate() {
            if let (None, Some(b)) = (&o.mask, o.bbox) {
                views
                    .entry((o.camera_id.as_str(), o.frame_index))
                    .or_default()
                    .push((i, b));
            }
        }
        let frames: HashMap<(&str, u32), &Frame> = scene
            .frames
            .iter()
            .map(|f| ((f.camera_id.as_str(), f.frame_index), f))
            .collect();
        let sizes: HashMap<&str, (u32, u32)> = scene
            .cameras
            .iter()
            .map(|c| (c.camera_id.as_str(), (c.model.width(), c.model.height())))
            .collect();
        // The views to complete, in order, with their prompts.
        let jobs: Vec<ViewJob<'_>> = views
            .iter()
            .filter_map(|(&(camera, frame_index), obs)| {
                let &(w, h) = sizes.get(camera)?;
                let prompts = obs
                    .iter()
                    .map(|&(i, b)| self.prompt(&scene.observations[i], b, (w, h), tight))
                    .collect();
                Some(ViewJob {
                    obs,
                    size: (w, h),
                    prompts,
                    frame: frames.get(&(camera, frame_index)).copied(),
                })
            })
            .collect();
        // Frames are read, looked up in the cache, decoded and prepared for the model one
        // ahead, on a helper thread, while the model runs on the current one.
        let prefetch = self.segmenter.is_some()
            && jobs
                .iter()
                .any(|j| j.frame.is_some_and(|f| !matches!(f.image, ImageRef::None)));
        let model_id = self.model_id().unwrap_or_default().to_string();
        let prep = self.segmenter.as_deref().and_then(|s| s.preparer());
        // The fields the loop uses, borrowed apart (the helper thread shares the cache).
        let (cfg, cache, cache_keys) = (&self.cfg, self.cache.as_ref(), &mut self.cache_keys);
        let segmenter_slot = &mut self.segmenter;
        let (sender, fetched) = std::sync::mpsc::sync_channel::<Fetched>(1);
        let mut outcome: HashMap<usize, Outcome> = HashMap::new();
        std::thread::scope(|threads| -> Result<()> {
            // Owned here, so an error that ends the loop drops it and the helper's next send
            // fails (it stops) rather than waiting forever on a full channel.
            let fetched = fetched;
            if prefetch {
                let (jobs, model_id, prep) = (&jobs, &model_id, prep.as_deref());
                threads.spawn(move || {
                    let mut reader = FrameReader::new(root);
                    for job in jobs {
                        let f = fetch(&mut reader, cache, model_id, prep, job);
                        if sender.send(f).is_err() {
                            // The stage stopped (a model error): nothing more is wanted.
                            return;
                        }
                    }
                });
            } else {
                drop(sender);
            }
            for job in &jobs {
                let (obs, (w, h)) = (job.obs, job.size);
                let predictions = match (job.frame, segmenter_slot.as_deref_mut()) {
                    (Some(f), Some(segmenter)) if prefetch => {
                        let got = fetched.recv().map_err(|_| {
                            crate::Error::Options("the frame reader thread stopped".into())
                        })?;
                        let mut problems = Problems {
                            source,
                            frame: f,
                            errors: &mut errors,
                        };
                        answer(
                            segmenter,
                            cache.map(|c| (c, &mut *cache_keys)),
                            got,
                            &job.prompts,
                            &mut counts,
                            &mut stats.model_calls,
                            &mut problems,
                        )?
                    }
                    _ => {
                        if prefetch {
                            // The helper sent this view's (empty) answer too.
                            let _ = fetched.recv();
                        }
                        None
                    }
                };
                if predictions.is_none() {
                    counts.no_image += obs.len() as u64;
                }
                for (k, &(i, _)) in obs.iter().enumerate() {
                    let result = match predictions.as_ref().map(|p| &p[k]) {
                        Some(p) if p.score >= cfg.min_score => {
                            counts.segmented += 1;
                            Outcome::Mask(ObservedMask {
                                rle: p.mask.clone(),
                                source: MaskSource::segmenter(model_id.as_str(), p.score),
                            })
                        }
                        Some(_) => {
                            counts.low_score += 1;
                            match cfg.below_min_score {
                                BelowMinScore::Drop => {
                                    counts.dropped += 1;
                                    Outcome::Drop
                                }
                                BelowMinScore::Fallback => Outcome::Fallback,
                            }
                        }
                        None => Outcome::Fallback,
                    };
                    let result = match result {
                        Outcome::Fallback => match hull(cfg, &scene.observations[i], w, h)? {
                            Some(m) => {
                                counts.keypoint_hull += 1;
                                Outcome::Mask(m)
                            }
                            None => {
                                counts.boxes += 1;
                                Outcome::Fallback
                            }
                        },
                        r => r,
                    };
                    outcome.insert(i, result);
                }
            }
            Ok(())
        })?;
        stats.by_source.insert(source, counts);
        if !outcome.values().any(|o| !matches!(o, Outcome::Fallback)) {
            // Nothing to change: the scene stays shared.
            return Ok(Completed {
                scene,
                stats,
                errors,
            });
        }
        // Copied only when someone else holds the scene too.
        let mut data = Arc::unwrap_or_clone(scene);
        let mut kept = Vec::with_capacity(data.observations.len());
        for (i, mut o) in std::mem::take(&mut data.observations)
            .into_iter()
            .enumerate()
        {
            match outcome.remove(&i) {
                Some(Outcome::Mask(m)) => o.mask = Some(m),
                Some(Outcome::Drop) => continue,
                Some(Outcome::Fallback) | None => {}
            }
            kept.push(o);
        }
        data.observations = kept;
        Ok(Completed {
            scene: Arc::new(data),
            stats,
            errors,
        })
    }

    /// The prompt of an observation: its box, and its visible keypoints inside the image.
    fn prompt(&self, o: &Observation, bbox: BoxXyxy, (w, h): (u32, u32), tight: bool) -> Prompt {
        let points = if self.cfg.keypoint_prompts {
            o.keypoints
                .iter()
                .filter(|k| {
                    k.visibility == 2
                        && (0.0..w as f32).contains(&k.x)
                        && (0.0..h as f32).contains(&k.y)
                })
                .map(|k| PromptPoint {
                    x: k.x,
                    y: k.y,
                    positive: true,
                })
                .collect()
        } else {
            Vec::new()
        };
        Prompt {
            bbox,
            points,
            tight,
        }
    }
}

/// The keypoint-hull fallback of a person, when configured.
fn hull(cfg: &MaskConfig, o: &Observation, w: u32, h: u32) -> Result<Option<ObservedMask>> {
    if !cfg.keypoint_hull || o.keypoints.is_empty() {
        return Ok(None);
    }
    let Some(bbox) = o.bbox else {
        return Ok(None);
    };
    Ok(
        keypoint_hull(&o.keypoints, &bbox, w, h)?.map(|rle| ObservedMask {
            rle,
            source: MaskSource::keypoint_hull(),
        }),
    )
}

/// One view to complete: its observations (index, box), image size, prompts and frame.
struct ViewJob<'a> {
    obs: &'a [(usize, BoxXyxy)],
    size: (u32, u32),
    prompts: Vec<Prompt>,
    frame: Option<&'a Frame>,
}

/// A frame made ready for the segmenter (see [`fetch`]).
enum Fetched {
    /// No image to segment.
    NoImage,
    /// An image that cannot be used, and why.
    Unusable(ErrorClass, String),
    /// What the cache holds for the prompts, and the image when some are missing.
    Ready(Box<Ready>),
}

struct Ready {
    frame_key: String,
    cached: BTreeMap<String, CachedMask>,
    keys: Vec<String>,
    out: Vec<Option<Prediction>>,
    /// The decoded image (and what the segmenter's preparer made of it) when prompts are
    /// missing from the cache; why not when it cannot be decoded or has the wrong size.
    image: Option<std::result::Result<DecodedFrame, (ErrorClass, String)>>,
}

/// A decoded frame, and what the segmenter's preparer made of it.
type DecodedFrame = (RgbImage, Option<PreparedFrame>);

/// The model-free part of one view's prediction: the frame read, its cache entry looked up,
/// and, for prompts the cache lacks, the image decoded and prepared.
fn fetch(
    reader: &mut FrameReader,
    cache: Option<&MaskCache>,
    model_id: &str,
    prep: Option<&dyn FramePrep>,
    job: &ViewJob<'_>,
) -> Fetched {
    let Some(frame) = job.frame else {
        return Fetched::NoImage;
    };
    let (w, h) = job.size;
    let bytes = match reader.bytes(&frame.image) {
        Ok(Some(b)) => b.bytes,
        Ok(None) => return Fetched::NoImage,
        Err(reason) => {
            return Fetched::Unusable(
                ErrorClass::MissingFile,
                format!("mask completion cannot read the frame: {reason}"),
            );
        }
    };
    let frame_key = MaskCache::frame_key(&content_key(&bytes), model_id);
    let cached = cache.map(|c| c.load(&frame_key)).unwrap_or_default();
    let keys: Vec<String> = job
        .prompts
        .iter()
        .map(|p| MaskCache::prompt_key(&p.key_bytes()))
        .collect();
    let out: Vec<Option<Prediction>> = keys
        .iter()
        .map(|k| {
            let c = cached.get(k)?;
            let mask = c.mask().filter(|m| m.size() == [h, w])?;
            Some(Prediction {
                mask,
                score: c.score,
            })
        })
        .collect();
    let image = out.iter().any(Option::is_none).then(|| {
        let image = decode_rgb(&bytes).map_err(|reason| {
            (
                ErrorClass::Malformed,
                format!("mask completion cannot decode the frame: {reason}"),
            )
        })?;
        if image.dimensions() != (w, h) {
            return Err((
                ErrorClass::Inconsistent,
                format!(
                    "the frame is {}x{} but its camera's calibration is {w}x{h}",
                    image.width(),
                    image.height()
                ),
            ));
        }
        let prepared = prep.map(|p| p.prepare(&image));
        Ok((image, prepared))
    });
    Fetched::Ready(Box::new(Ready {
        frame_key,
        cached,
        keys,
        out,
        image,
    }))
}

/// The segmenter's answers for one frame's prompts, from the cache where it has them;
/// `None` when the frame has no usable image (then an input error says why, unless the
/// frame simply has none). `cache` is the segmenter cache with the keys looked up in it so
/// far, which this frame's key joins.
fn answer(
    segmenter: &mut dyn Segmenter,
    cache: Option<(&MaskCache, &mut Vec<String>)>,
    fetched: Fetched,
    prompts: &[Prompt],
    counts: &mut MaskCounts,
    model_calls: &mut u64,
    problems: &mut Problems<'_>,
) -> Result<Option<Vec<Prediction>>> {
    let ready = match fetched {
        Fetched::NoImage => return Ok(None),
        Fetched::Unusable(class, reason) => {
            problems.push(class, reason);
            return Ok(None);
        }
        Fetched::Ready(r) => *r,
    };
    let Ready {
        frame_key,
        mut cached,
        keys,
        mut out,
        image,
    } = ready;
    let cache = cache.map(|(cache, keys)| {
        keys.push(frame_key.clone());
        cache
    });
    counts.cached += out.iter().filter(|p| p.is_some()).count() as u64;
    if let Some(image) = image {
        let (image, prepared) = match image {
            Ok(i) => i,
            Err((class, reason)) => {
                problems.push(class, reason);
                return Ok(None);
            }
        };
        let missing: Vec<usize> = (0..prompts.len()).filter(|&i| out[i].is_none()).collect();
        let asked: Vec<Prompt> = missing.iter().map(|&i| prompts[i].clone()).collect();
        let answers = match prepared {
            Some(p) => segmenter.segment_prepared(&image, p, &asked)?,
            None => segmenter.segment(&image, &asked)?,
        };
        if answers.len() != asked.len() {
            return Err(crate::Error::Options(format!(
                "segmenter {} answered {} of {} prompts",
                segmenter.model_id(),
                answers.len(),
                asked.len()
            )));
        }
        *model_calls += 1;
        counts.computed += missing.len() as u64;
        for (&i, p) in missing.iter().zip(answers) {
            cached.insert(keys[i].clone(), CachedMask::new(&p.mask, p.score));
            out[i] = Some(p);
        }
        // The entry keeps this frame's prompts only (an edited box's old answer goes).
        cached.retain(|k, _| keys.contains(k));
        if let Some(cache) = cache {
            // A cache that cannot be written only costs time on the next build.
            let _ = cache.store(&frame_key, &cached);
        }
    }
    Ok(Some(out.into_iter().flatten().collect()))
}

/// Input errors of one frame.
struct Problems<'a> {
    source: SourceKind,
    frame: &'a Frame,
    errors: &'a mut Vec<InputError>,
}

impl Problems<'_> {
    fn push(&mut self, class: ErrorClass, reason: String) {
        self.errors.push(InputError {
            source: self.source.name().to_string(),
            file: FrameReader::file_of(&self.frame.image)
                .unwrap_or_default()
                .to_string(),
            location: format!(
                "frame {} of camera {}",
                self.frame.frame_index, self.frame.camera_id
            ),
            class,
            reason,
            scene_id: Some(self.frame.scene_id.clone()),
        });
    }
}
