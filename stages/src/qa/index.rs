//! [`SceneIndex`]: one scene arranged for question instantiation: views (camera x frame) with
//! the instances they observe and show, per-view answers the templates share, per-frame 3D
//! estimates, and stable name hashes.

use std::cell::OnceCell;

use crossview_schemas::glam::{DVec2, DVec3};
use crossview_schemas::{BoxXyxy, SourceKind};

use crate::geometry::{ObservationFacts, SceneGeometry, measures_visibility, visible_box};
use crate::sources::SceneData;

/// A stable 64-bit hash of a few words (xxh3 of their little-endian bytes): the same words
/// give the same hash on every platform and run.
pub fn hash_words(words: &[u64]) -> u64 {
    const STACK_WORDS: usize = 24;
    if words.len() <= STACK_WORDS {
        let mut buf = [0u8; 8 * STACK_WORDS];
        for (chunk, w) in buf.chunks_exact_mut(8).zip(words) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        return xxhash_rust::xxh3::xxh3_64(&buf[..8 * words.len()]);
    }
    let mut h = xxhash_rust::xxh3::Xxh3Default::new();
    for w in words {
        h.update(&w.to_le_bytes());
    }
    h.digest()
}

/// A stable hash of a name.
pub fn hash_name(s: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(s.as_bytes())
}

/// A camera of the scene.
#[derive(Clone, Debug)]
pub struct CameraInfo<'a> {
    /// Camera id.
    pub id: &'a str,
    /// [`hash_name`] of the id.
    pub hash: u64,
    /// Image width, pixels.
    pub width: u32,
    /// Image height, pixels.
    pub height: u32,
}

/// An instance of the scene.
#[derive(Clone, Debug)]
pub struct InstanceInfo<'a> {
    /// Instance id.
    pub id: &'a str,
    /// [`hash_name`] of the id.
    pub hash: u64,
    /// Category name.
    pub category: &'a str,
    /// Finer class, where the source has one.
    pub subcategory: Option<&'a str>,
    /// The category's rank among the scene's categories, and the finer class's among its
    /// finer classes: equal ranks are equal names, compared without the strings.
    category_rank: u32,
    subcategory_rank: Option<u32>,
}

/// One annotated frame index of the scene, with the views annotated at it.
#[derive(Clone, Debug)]
pub struct Moment {
    /// Frame index.
    pub frame: u32,
    /// Seconds since the start of the scene.
    pub timestamp_s: f64,
    /// Indices into [`SceneIndex::views`].
    pub views: Vec<u32>,
    /// Per instance (index into [`SceneIndex::instances`]): 3D centre and extent, metres.
    pub estimates: Vec<Option<(DVec3, DVec3)>>,
}

/// One camera at one frame.
#[derive(Clone, Debug)]
pub struct View {
    /// Index into [`SceneIndex::cameras`].
    pub camera: u32,
    /// Index into [`SceneIndex::moments`].
    pub moment: u32,
    /// Frame index.
    pub frame: u32,
    /// (instance, observation index), sorted by instance; one observation per instance.
    pub observed: Vec<(u32, u32)>,
    /// Instances with at least the minimum region area here, sorted.
    pub visible: Vec<u32>,
    /// Index of this camera's frame record in the scene's frames, if it has one.
    pub frame_record: Option<u32>,
}

/// Whether two boxes share some area.
fn intersect(a: Option<BoxXyxy>, b: Option<BoxXyxy>) -> bool {
    a.zip(b).is_some_and(|(a, b)| {
        a.x1().max(b.x1()) < a.x2().min(b.x2()) && a.y1().max(b.y1()) < a.y2().min(b.y2())
    })
}

/// A scene arranged for the task templates.
#[derive(Debug)]
pub struct SceneIndex<'a> {
    /// The scene's records.
    pub data: &'a SceneData,
    /// Its geometry.
    pub geometry: &'a SceneGeometry,
    /// Source dataset.
    pub source: SourceKind,
    /// Scene id.
    pub scene_id: &'a str,
    /// Hash of source and scene id.
    pub scene_hash: u64,
    /// Cameras, sorted by id.
    pub cameras: Vec<CameraInfo<'a>>,
    /// Instances, sorted by id.
    pub instances: Vec<InstanceInfo<'a>>,
    /// Annotated frames, in frame order.
    pub moments: Vec<Moment>,
    /// Views, grouped by moment.
    pub views: Vec<View>,
    /// Per observation: whether its area measures what is visible (a real mask, or a box
    /// the source draws tight).
    pub measures_visibility: Vec<bool>,
    /// Whether the source leaves no visible object unannotated.
    pub unannotated_means_unseen: bool,
    /// Explicit non-observations as (view, instance), sorted.
    absences: Vec<(u32, u32)>,
    min_area: f64,
    /// Per view, made when first asked: whether each of `observed` has an occluder among
    /// the view's observations (every pair of views asks it of the same view again).
    occluded: Vec<OnceCell<Vec<bool>>>,
    /// Per view, made when first asked: [`SceneIndex::overlapping`].
    overlapping: Vec<OnceCell<Vec<(u32, u32)>>>,
    /// Per view and target instance, made when first asked: [`SceneIndex::confusable`].
    confusable: Vec<OnceCell<Vec<OnceCell<Vec<u32>>>>>,
}

impl<'a> SceneIndex<'a> {
    /// Arranges a scene; `min_area` is the smallest region area (pixels) that counts as shown.
    pub fn new(data: &'a SceneData, geometry: &'a SceneGeometry, min_area: f64) -> Self {
        let (source, scene_id) = match &data.scene {
            Some(s) => (s.source, s.scene_id.as_str()),
            None => (
                SourceKind::MessyTable,
                data.observations
                    .first()
                    .map_or("", |o| o.scene_id.as_str()),
            ),
        };
        let scene_hash = hash_words(&[hash_name(source.name()), hash_name(scene_id)]);

        let mut cameras: Vec<CameraInfo<'a>> = data
            .cameras
            .iter()
            .map(|c| CameraInfo {
                id: c.camera_id.as_str(),
                hash: hash_name(&c.camera_id),
                width: c.model.width(),
                height: c.model.height(),
            })
            .collect();
        cameras.sort_by(|a, b| a.id.cmp(b.id));
        cameras.dedup_by(|a, b| a.id == b.id);

        let mut instances: Vec<InstanceInfo<'a>> = data
            .observations
            .iter()
            .map(|o| InstanceInfo {
                id: o.instance_id.as_str(),
                hash: hash_name(&o.instance_id),
                category: o.category.as_str(),
                subcategory: o.subcategory.as_deref(),
                category_rank: 0,
                subcategory_rank: None,
            })
            .collect();
        instances.sort_by(|a, b| a.id.cmp(b.id));
        instances.dedup_by(|a, b| a.id == b.id);
        let mut categories: Vec<&str> = instances.iter().map(|i| i.category).collect();
        let mut subcategories: Vec<&str> = instances.iter().filter_map(|i| i.subcategory).collect();
        for names in [&mut categories, &mut subcategories] {
            names.sort_unstable();
            names.dedup();
        }
        let rank_in = |names: &[&str], name: &str| match names.binary_search(&name) {
            Ok(k) | Err(k) => k as u32,
        };
        for i in &mut instances {
            i.category_rank = rank_in(&categories, i.category);
            i.subcategory_rank = i.subcategory.map(|n| rank_in(&subcategories, n));
        }

        let camera_of = |id: &str| {
            cameras
                .binary_search_by(|c| c.id.cmp(id))
                .ok()
                .map(|i| i as u32)
        };
        let instance_of = |id: &str| {
            instances
                .binary_search_by(|c| c.id.cmp(id))
                .ok()
                .map(|i| i as u32)
        };

        // (frame, camera, instance, observation), sorted: the views fall out in order.
        let mut rows: Vec<(u32, u32, u32, u32)> = data
            .observations
            .iter()
            .enumerate()
            .filter_map(|(k, o)| {
                Some((
                    o.frame_index,
                    camera_of(&o.camera_id)?,
                    instance_of(&o.instance_id)?,
                    k as u32,
                ))
            })
            .collect();
        rows.sort_unstable();
        let facts = &geometry.facts;
        let area = |k: u32| facts.get(k as usize).map_or(0.0, |f| f.area);

        let mut moments: Vec<Moment> = Vec::new();
        let mut views: Vec<View> = Vec::new();
        for &(frame, camera, instance, obs) in &rows {
            if moments.last().is_none_or(|m| m.frame != frame) {
                moments.push(Moment {
                    frame,
                    timestamp_s: f64::NAN,
                    views: Vec::new(),
                    estimates: vec![None; instances.len()],
                });
            }
            let moment = (moments.len() - 1) as u32;
            if views
                .last()
                .is_none_or(|v| v.frame != frame || v.camera != camera)
            {
                moments[moment as usize].views.push(views.len() as u32);
                views.push(View {
                    camera,
                    moment,
                    frame,
                    observed: Vec::new(),
                    visible: Vec::new(),
                    frame_record: None,
                });
            }
            let v = views.last_mut().unwrap_or_else(|| unreachable!());
            // A repeated (camera, frame, instance) keeps its first observation.
            if v.observed.last().is_none_or(|&(i, _)| i != instance) {
                v.observed.push((instance, obs));
                if area(obs) >= min_area && area(obs) > 0.0 {
                    v.visible.push(instance);
                }
            }
        }
        for (k, f) in data.frames.iter().enumerate() {
            if let Ok(m) = moments.binary_search_by(|m| m.frame.cmp(&f.frame_index)) {
                let t = &mut moments[m].timestamp_s;
                if t.is_nan() || f.timestamp_s < *t {
                    *t = f.timestamp_s;
                }
                let camera = camera_of(&f.camera_id);
                if let Some(&v) = moments[m]
                    .views
                    .iter()
                    .find(|&&v| Some(views[v as usize].camera) == camera)
                {
                    views[v as usize].frame_record.get_or_insert(k as u32);
                }
            }
        }
        for ((frame, id), e) in &geometry.instances {
            if let (Ok(m), Some(i)) = (
                moments.binary_search_by(|m| m.frame.cmp(frame)),
                instance_of(id),
            ) {
                moments[m].estimates[i as usize] = Some((e.position, e.extent));
            }
        }
        let tight = crate::sources::boxes_are_tight(source);
        let measures_visibility = data
            .observations
            .iter()
            .map(|o| measures_visibility(o, tight))
            .collect();
        let mut absences: Vec<(u32, u32)> = data
            .absences
            .iter()
            .filter_map(|a| {
                let m = moments
                    .binary_search_by(|m| m.frame.cmp(&a.frame_index))
                    .ok()?;
                let camera = camera_of(&a.camera_id)?;
                let view = *moments[m]
                    .views
                    .iter()
                    .find(|&&v| views[v as usize].camera == camera)?;
                Some((view, instance_of(&a.instance_id)?))
            })
            .collect();
        absences.sort_unstable();
        let occluded = (0..views.len()).map(|_| OnceCell::new()).collect();
        let overlapping = (0..views.len()).map(|_| OnceCell::new()).collect();
        let confusable = (0..views.len()).map(|_| OnceCell::new()).collect();
        SceneIndex {
            data,
            geometry,
            source,
            scene_id,
            scene_hash,
            cameras,
            instances,
            moments,
            views,
            measures_visibility,
            unannotated_means_unseen: crate::sources::unannotated_means_unseen(source),
            absences,
            min_area,
            occluded,
            overlapping,
            confusable,
        }
    }

    /// The smallest region area that counts as shown.
    pub fn min_area(&self) -> f64 {
        self.min_area
    }

    /// The observation of an instance in a view, if any (possibly of area 0).
    pub fn observation(&self, view: u32, instance: u32) -> Option<u32> {
        let v = &self.views[view as usize];
        v.observed
            .binary_search_by(|&(i, _)| i.cmp(&instance))
            .ok()
            .map(|k| v.observed[k].1)
    }

    /// Whether an instance's observation in a view has an occluder among the view's
    /// observations ([`SceneGeometry::has_occluder_among`]); false when it has none there.
    pub fn is_occluded(&self, view: u32, instance: u32) -> bool {
        let v = &self.views[view as usize];
        let Ok(k) = v.observed.binary_search_by(|&(i, _)| i.cmp(&instance)) else {
            return false;
        };
        let flags = self.occluded[view as usize].get_or_init(|| {
            let among = || v.observed.iter().map(|&(_, o)| o as usize);
            v.observed
                .iter()
                .map(|&(_, o)| {
                    self.geometry.has_occluder_among(
                        self.data,
                        o as usize,
                        among(),
                        &self.geometry.config,
                    )
                })
                .collect()
        });
        flags[k]
    }

    /// The pairs `(x, y)`, `x < y`, of instances shown in a view whose regions overlap
    /// there: their visible boxes intersect, or one's visible box covers part of where the
    /// other's whole outline projects (one stands in front of the other). In order.
    pub fn overlapping(&self, view: u32) -> &[(u32, u32)] {
        self.overlapping[view as usize].get_or_init(|| {
            let shown = &self.views[view as usize].visible;
            // (visible box, whole-object box) of each.
            let boxes: Vec<(Option<BoxXyxy>, Option<BoxXyxy>)> = shown
                .iter()
                .map(|&i| match self.shown(view, i) {
                    Some(o) => (
                        visible_box(&self.data.observations[o as usize]),
                        self.facts(o).full_box,
                    ),
                    None => (None, None),
                })
                .collect();
            let mut pairs = Vec::new();
            for (i, &(vi, fi)) in boxes.iter().enumerate() {
                for (j, &(vj, fj)) in boxes.iter().enumerate().skip(i + 1) {
                    if intersect(vi, vj) || intersect(vi, fj) || intersect(fi, vj) {
                        pairs.push((shown[i], shown[j]));
                    }
                }
            }
            pairs
        })
    }

    /// The observation of an instance shown in a view (area at least the minimum).
    pub fn shown(&self, view: u32, instance: u32) -> Option<u32> {
        let v = &self.views[view as usize];
        v.visible.binary_search(&instance).ok()?;
        self.observation(view, instance)
    }

    /// The observation of an instance shown in a view whose area measures what is visible
    /// (so the instance is seen, not merely in the field of view behind something).
    pub fn visibly_shown(&self, view: u32, instance: u32) -> Option<u32> {
        self.shown(view, instance)
            .filter(|&k| self.measures_visibility[k as usize])
    }

    /// Whether the records prove an instance has no visible pixel in a view: an empty mask,
    /// an explicit absence, or no annotation where the source annotates every visible object.
    pub fn is_hidden(&self, view: u32, instance: u32) -> bool {
        match self.observation(view, instance) {
            Some(k) => self.facts(k).area <= 0.0 && self.measures_visibility[k as usize],
            None => {
                self.unannotated_means_unseen
                    || self.absences.binary_search(&(view, instance)).is_ok()
            }
        }
    }

    /// Geometry facts of an observation.
    pub fn facts(&self, obs: u32) -> &ObservationFacts {
        &self.geometry.facts[obs as usize]
    }

    /// The 3D centre and extent of an instance at a view's frame.
    pub fn estimate(&self, view: u32, instance: u32) -> Option<(DVec3, DVec3)> {
        let m = self.views[view as usize].moment;
        self.moments[m as usize].estimates[instance as usize]
    }

    /// The camera of a view.
    pub fn camera(&self, view: u32) -> &CameraInfo<'a> {
        &self.cameras[self.views[view as usize].camera as usize]
    }

    /// How hard `other` is to tell from `target` as seen in `view`: same look, same category,
    /// nearby in 3D (or, without 3D, in the image) and similar apparent size score higher.
    pub fn confusability(&self, view: u32, target: u32, other: u32) -> f64 {
        self.confusion(view, target).with(other)
    }

    /// The instances shown in a view other than `target`, hardest to tell from it first
    /// ([`Confusion::with`]), ties to the smaller instance hash; ranked once per view and
    /// target (the templates ask it of every pair of views that shares the view).
    pub fn confusable(&self, view: u32, target: u32) -> &[u32] {
        let per_target = self.confusable[view as usize]
            .get_or_init(|| (0..self.instances.len()).map(|_| OnceCell::new()).collect());
        per_target[target as usize].get_or_init(|| {
            let confusion = self.confusion(view, target);
            let mut scored: Vec<(f64, u64, u32)> = self.views[view as usize]
                .visible
                .iter()
                .filter(|&&i| i != target)
                .map(|&i| (confusion.with(i), self.instances[i as usize].hash, i))
                .collect();
            scored.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
            scored.into_iter().map(|s| s.2).collect()
        })
    }

    /// [`SceneIndex::confusability`] of many others against one target: the target's side
    /// is looked up once.
    pub fn confusion(&self, view: u32, target: u32) -> Confusion<'_, 'a> {
        let observation = self.observation(view, target).map(|k| self.facts(k));
        Confusion {
            ix: self,
            view,
            target: &self.instances[target as usize],
            estimate: self.estimate(view, target).map(|(centre, _)| centre),
            centroid: observation.map(|f| f.centroid),
            area: observation.map(|f| f.area),
        }
    }
}

/// One target's side of [`SceneIndex::confusability`] in one view.
pub struct Confusion<'i, 'a> {
    ix: &'i SceneIndex<'a>,
    view: u32,
    target: &'i InstanceInfo<'a>,
    estimate: Option<DVec3>,
    centroid: Option<DVec2>,
    area: Option<f64>,
}

impl Confusion<'_, '_> {
    /// How hard `other` is to tell from the target.
    pub fn with(&self, other: u32) -> f64 {
        let ix = self.ix;
        let (t, o) = (self.target, &ix.instances[other as usize]);
        let mut score = 0.0;
        if t.category_rank == o.category_rank {
            score += 2.0;
            if t.subcategory_rank.is_some() && t.subcategory_rank == o.subcategory_rank {
                score += 2.0;
            }
        }
        let observation = ix.observation(self.view, other).map(|k| ix.facts(k));
        match (self.estimate, ix.estimate(self.view, other)) {
            (Some(a), Some((b, _))) => score += 1.0 / (1.0 + (a - b).length()),
            _ => {
                if let (Some(a), Some(b)) = (self.centroid, observation) {
                    let w = f64::from(ix.camera(self.view).width.max(1));
                    let d = (a - b.centroid).length() / w;
                    if d.is_finite() {
                        score += 1.0 / (1.0 + 4.0 * d);
                    }
                }
            }
        }
        if let (Some(x), Some(b)) = (self.area, observation) {
            let y = b.area;
            if x > 0.0 && y > 0.0 {
                score += 0.5 * x.min(y) / x.max(y);
            }
        }
        score
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_stable_values() {
        // Pinned against Python's `xxhash.xxh3_64` (a change here reshuffles every corpus).
        assert_eq!(hash_name(""), 0x2d06800538d394c2);
        assert_eq!(hash_words(&[1, 2]), 0x07ee86c281446bef);
        assert_ne!(hash_words(&[1, 2]), hash_words(&[2, 1]));
        assert_eq!(hash_words(&[]), hash_name(""));
        // The long (streamed) form hashes the same bytes.
        let long: Vec<u64> = (0..40).collect();
        let bytes: Vec<u8> = long.iter().flat_map(|w| w.to_le_bytes()).collect();
        assert_eq!(hash_words(&long), xxhash_rust::xxh3::xxh3_64(&bytes));
    }

    proptest::proptest! {
        #[test]
        fn equal_ranks_are_equal_names(
            names in proptest::collection::vec((0..5usize, proptest::option::of(0..4usize)), 1..30)
        ) {
            let categories = ["mug", "box", "cup", "bowl", "mug2"];
            let finer = ["red", "blue", "b", "red "];
            let observations = names
                .iter()
                .enumerate()
                .map(|(k, &(c, f))| crossview_schemas::Observation {
                    scene_id: "t".into(),
                    camera_id: "cam".into(),
                    frame_index: 0,
                    instance_id: format!("i{k}"),
                    category: categories[c].into(),
                    subcategory: f.map(|f| finer[f].to_string()),
                    bbox: None,
                    mask: None,
                    keypoints: Vec::new(),
                    world_position: None,
                    world_extent: None,
                })
                .collect();
            let data = SceneData { observations, ..SceneData::default() };
            let geometry = SceneGeometry::unmeasured(&Default::default());
            let ix = SceneIndex::new(&data, &geometry, 0.0);
            for a in &ix.instances {
                for b in &ix.instances {
                    proptest::prop_assert_eq!(
                        a.category_rank == b.category_rank,
                        a.category == b.category
                    );
                    proptest::prop_assert_eq!(
                        a.subcategory_rank == b.subcategory_rank,
                        a.subcategory == b.subcategory
                    );
                }
            }
        }
    }
}
