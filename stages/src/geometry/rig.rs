//! [`Rig`]: a scene's cameras by id, with the pose of each camera at each frame (static
//! extrinsics, or per-frame poses of worn cameras), and pixel rays in the world.

use std::collections::BTreeMap;

use crossview_schemas::glam::{DVec2, DVec3};
use crossview_schemas::{Camera, CameraModel, Frame, WorldToCamera};

/// A ray in the world: a camera centre and a unit direction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ray {
    /// Start (the camera centre), metres.
    pub origin: DVec3,
    /// Unit direction.
    pub dir: DVec3,
}

/// Cameras and poses of one scene.
#[derive(Clone, Debug, Default)]
pub struct Rig<'a> {
    cameras: BTreeMap<&'a str, &'a Camera>,
    frame_poses: BTreeMap<(&'a str, u32), WorldToCamera>,
}

impl<'a> Rig<'a> {
    /// The rig of a scene's cameras and frames.
    pub fn new(cameras: &'a [Camera], frames: &'a [Frame]) -> Self {
        Rig {
            cameras: cameras.iter().map(|c| (c.camera_id.as_str(), c)).collect(),
            frame_poses: frames
                .iter()
                .filter_map(|f| Some(((f.camera_id.as_str(), f.frame_index), f.world_to_camera?)))
                .collect(),
        }
    }

    /// A camera's intrinsics.
    pub fn model(&self, camera: &str) -> Option<&'a CameraModel> {
        self.cameras.get(camera).map(|c| &c.model)
    }

    /// A camera's pose at a frame: its static extrinsic, or the frame's own pose.
    pub fn pose(&self, camera: &str, frame: u32) -> Option<WorldToCamera> {
        let c = self.cameras.get(camera)?;
        c.world_to_camera
            .or_else(|| self.frame_poses.get(&(camera, frame)).copied())
    }

    /// The world ray through a pixel of a camera at a frame.
    pub fn ray(&self, camera: &str, frame: u32, pixel: DVec2) -> Option<Ray> {
        let model = self.model(camera)?;
        let pose = self.pose(camera, frame)?;
        let d = model.unproject(pixel)?;
        let c2w = pose.inverse();
        Some(Ray {
            origin: c2w.center,
            dir: c2w.rotation.apply(d).normalize(),
        })
    }

    /// A world point's pixel and camera depth in a camera at a frame.
    pub fn project(&self, camera: &str, frame: u32, p: DVec3) -> Option<(DVec2, f64)> {
        self.model(camera)?
            .project_world(&self.pose(camera, frame)?, p)
    }

    /// Camera-frame depth (z) of a world point.
    pub fn depth(&self, camera: &str, frame: u32, p: DVec3) -> Option<f64> {
        Some(self.pose(camera, frame)?.apply(p).z)
    }
}
