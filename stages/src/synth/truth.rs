//! The `_truth/` sidecar of a synthetic tree: Parquet tables of what the native format does not
//! carry (exact calibration, 3D states, modal and amodal masks, visibility, probes).
//!
//! Tables (all crossview-schemas records): `scenes`, `cameras` (at the written image size),
//! `frames`, `instances`, `states` (3D per frame) and `observations` (per view).

use std::path::Path;

use crossview_schemas::{
    Camera, CameraKind, CocoRle, Frame, RecordWriter, Rotation, Scene, TruthInstance,
    TruthObservation, TruthState, WriteOptions,
};

use super::driver::{Profile, SceneRender};
use super::world::SceneWorld;
use crate::error::{Error, Result};

/// Writers of the sidecar tables.
pub struct TruthSink {
    scenes: RecordWriter<Scene>,
    cameras: RecordWriter<Camera>,
    frames: RecordWriter<Frame>,
    instances: RecordWriter<TruthInstance>,
    states: RecordWriter<TruthState>,
    observations: RecordWriter<TruthObservation>,
}

impl TruthSink {
    /// Starts the tables in `dir`.
    pub fn create(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let o = WriteOptions::default();
        Ok(TruthSink {
            scenes: RecordWriter::create(dir.join("scenes.parquet"), &o)?,
            cameras: RecordWriter::create(dir.join("cameras.parquet"), &o)?,
            frames: RecordWriter::create(dir.join("frames.parquet"), &o)?,
            instances: RecordWriter::create(dir.join("instances.parquet"), &o)?,
            states: RecordWriter::create(dir.join("states.parquet"), &o)?,
            observations: RecordWriter::create(dir.join("observations.parquet"), &o)?,
        })
    }

    /// Adds a rendered scene; returns (observations, annotated observations).
    pub fn add(
        &mut self,
        profile: &dyn Profile,
        world: &SceneWorld,
        render: &SceneRender,
    ) -> Result<(usize, usize)> {
        let scene_id = Scene::make_id(profile.kind(), &profile.scene_native_id(world));
        self.scenes.write(&[Scene {
            scene_id: scene_id.clone(),
            source: profile.kind(),
            source_split: world.source_split.clone(),
        }])?;
        let cameras: Vec<Camera> = world
            .cameras
            .iter()
            .zip(&render.cameras)
            .map(|(cam, r)| Camera {
                scene_id: scene_id.clone(),
                camera_id: cam.camera_id.clone(),
                kind: cam.kind,
                model: r.model.clone(),
                world_to_camera: (cam.kind == CameraKind::Exo).then(|| *cam.pose(0)),
            })
            .collect();
        self.cameras.write(&cameras)?;
        let mut frames = Vec::new();
        for (c, cam) in world.cameras.iter().enumerate() {
            for &f in &render.cameras[c].frame_indices {
                frames.push(Frame {
                    scene_id: scene_id.clone(),
                    camera_id: cam.camera_id.clone(),
                    frame_index: f as u32,
                    timestamp_s: if world.fps > 0.0 {
                        f as f64 / world.fps
                    } else {
                        0.0
                    },
                    image: profile.frame_image(world, c, f),
                    world_to_camera: (cam.kind == CameraKind::Ego).then(|| *cam.pose(f)),
                });
            }
        }
        self.frames.write(&frames)?;
        let instances: Vec<TruthInstance> = world
            .instances
            .iter()
            .map(|i| TruthInstance {
                scene_id: scene_id.clone(),
                instance_id: i.instance_id.clone(),
                category: i.category.clone(),
                model: i.model.clone(),
                coarse_class: i.coarse_class,
                fine_class: i.fine_class,
                is_person: i.is_person,
            })
            .collect();
        self.instances.write(&instances)?;
        let mut states = Vec::new();
        for (f, frame) in world.frames.iter().enumerate() {
            for (k, s) in frame.states.iter().enumerate() {
                let rot = Rotation::from_col_major(s.rotation.to_cols_array())?;
                states.push(TruthState {
                    scene_id: scene_id.clone(),
                    frame_index: f as u32,
                    instance_id: world.instances[k].instance_id.clone(),
                    position: s.position,
                    extent: s.extent,
                    rotation_xyzw: rot.to_quat_xyzw(),
                    keypoints: s.keypoints.clone(),
                });
            }
        }
        self.states.write(&states)?;
        let mut observations = Vec::new();
        let mut annotated = 0;
        for (c, (cam, cr)) in world.cameras.iter().zip(&render.cameras).enumerate() {
            for (&f, view) in cr.frame_indices.iter().zip(&cr.frames) {
                let pose = cam.pose(f);
                for r in &view.instances {
                    let k = usize::from(r.owner) - 1;
                    let is_annotated = profile.annotated(world, c, &cr.model, f, r);
                    annotated += usize::from(is_annotated);
                    observations.push(TruthObservation {
                        scene_id: scene_id.clone(),
                        camera_id: cam.camera_id.clone(),
                        frame_index: f as u32,
                        instance_id: world.instances[k].instance_id.clone(),
                        annotated: is_annotated,
                        bbox: r.bbox,
                        modal: r.modal.as_ref().map(CocoRle::from),
                        amodal: r.amodal.as_ref().map(CocoRle::from),
                        modal_area: r.modal_area,
                        amodal_area: r.amodal_area,
                        amodal_area_unclipped: r.amodal_area_unclipped,
                        visible_fraction: (r.modal_area as f64
                            / r.amodal_area_unclipped.max(1) as f64)
                            as f32,
                        depth: pose.apply(world.frames[f].states[k].position).z,
                        probe_world: r.probe.map(|p| p.0),
                        probe_pixel: r.probe.map(|p| p.1),
                    });
                }
            }
        }
        self.observations.write(&observations)?;
        Ok((observations.len(), annotated))
    }

    /// Publishes every table.
    pub fn finish(self) -> Result<()> {
        self.scenes.finish()?;
        self.cameras.finish()?;
        self.frames.finish()?;
        self.instances.finish()?;
        self.states.finish()?;
        self.observations.finish()?;
        Ok(())
    }
}
