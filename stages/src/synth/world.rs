//! What a synthetic scene is before it is rendered or written: instances, their posed parts and
//! 3D state per frame, static background, and calibrated cameras (static or worn).

use crossview_schemas::glam::{DMat3, DVec3};
use crossview_schemas::{CameraKind, CameraModel, WorldToCamera};

use super::appearance::Appearance;
use super::shapes::{Placement, Shape};

/// Owner index of background parts (floor, walls, tables: never annotated).
pub const BACKGROUND: u16 = 0;

/// One solid of the world at one frame.
#[derive(Clone, Debug)]
pub struct WorldPart {
    /// Its shape.
    pub shape: Shape,
    /// Local-to-world placement.
    pub placement: Placement,
    /// How it looks.
    pub appearance: Appearance,
    /// 1-based instance index, or [`BACKGROUND`].
    pub owner: u16,
    /// Head or torso of a person: not rendered in that person's own worn camera, which sits
    /// inside it.
    pub wearer_hidden: bool,
}

/// Identity and class of one instance.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceSpec {
    /// Canonical instance id (what the native tree and the loaders call it).
    pub instance_id: String,
    /// Category name.
    pub category: String,
    /// Appearance model (identical models look identical).
    pub model: String,
    /// Coarse class number.
    pub coarse_class: u32,
    /// Fine class number (one per model).
    pub fine_class: u32,
    /// Whether it is a person.
    pub is_person: bool,
}

/// Where one instance is at one frame.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceState {
    /// Centre of its 3D box, world metres.
    pub position: DVec3,
    /// Full box size along its axes.
    pub extent: DVec3,
    /// Object-to-world rotation.
    pub rotation: DMat3,
    /// COCO-17 world keypoints for people; empty for objects.
    pub keypoints: Vec<DVec3>,
}

/// The posed world at one frame.
#[derive(Clone, Debug, Default)]
pub struct FrameWorld {
    /// Parts of all instances (background parts live in [`SceneWorld::background`]).
    pub parts: Vec<WorldPart>,
    /// State of each instance, indexed like [`SceneWorld::instances`].
    pub states: Vec<InstanceState>,
}

/// A calibrated camera of the scene at native resolution.
#[derive(Clone, Debug)]
pub struct SynthCamera {
    /// Camera id as the source names it.
    pub camera_id: String,
    /// Worn or static.
    pub kind: CameraKind,
    /// Intrinsics at the source's native resolution.
    pub model: CameraModel,
    /// One pose (static camera) or one per frame (worn camera).
    pub poses: Vec<WorldToCamera>,
    /// Owner index of the person wearing it.
    pub wearer: Option<u16>,
}

impl SynthCamera {
    /// The camera pose at a frame.
    pub fn pose(&self, frame: usize) -> &WorldToCamera {
        &self.poses[frame.min(self.poses.len() - 1)]
    }
}

/// An axis-aligned room (floor at `min.z`): the far background, hit from inside.
#[derive(Clone, Debug)]
pub struct Room {
    /// Lower corner, world metres.
    pub min: DVec3,
    /// Upper corner.
    pub max: DVec3,
    /// Floor look (pattern over world x, y).
    pub floor: Appearance,
    /// Wall look.
    pub walls: Appearance,
    /// Ceiling look.
    pub ceiling: Appearance,
}

impl Room {
    /// Where a ray from `origin` (inside) along unit `dir` leaves the room: distance and
    /// face (0 floor, 1 ceiling, 2..=5 walls).
    pub fn exit(&self, origin: DVec3, dir: DVec3) -> Option<(f64, u8)> {
        let mut best = (f64::INFINITY, 0u8);
        for axis in 0..3 {
            let d = dir[axis];
            if d.abs() < 1e-12 {
                continue;
            }
            let (plane, face) = if d > 0.0 {
                (self.max[axis], [3u8, 5, 1][axis])
            } else {
                (self.min[axis], [2u8, 4, 0][axis])
            };
            let t = (plane - origin[axis]) / d;
            if t > 0.0 && t < best.0 {
                best = (t, face);
            }
        }
        best.0.is_finite().then_some(best)
    }

    /// Inward normal of a face.
    pub fn normal(face: u8) -> DVec3 {
        match face {
            0 => DVec3::Z,
            1 => -DVec3::Z,
            2 => DVec3::X,
            3 => -DVec3::X,
            4 => DVec3::Y,
            _ => -DVec3::Y,
        }
    }
}

/// A whole synthetic scene.
#[derive(Clone, Debug)]
pub struct SceneWorld {
    /// Position of the scene in the run (scene `index` of the profile).
    pub index: usize,
    /// The source's own id for the scene (`20190921-00003-01`, `retail_0`, ...).
    pub native_id: String,
    /// The source's own split (`train`, `val`, ...).
    pub source_split: String,
    /// The source's grouping above the scene, if any: MMPTrack recording session (`63am`),
    /// EgoHumans big sequence (`01_tagging`), Ego-Exo4D capture name.
    pub group: String,
    /// Instances; owner index `k` is `instances[k - 1]`.
    pub instances: Vec<InstanceSpec>,
    /// The room around everything (`None`: open sky).
    pub room: Option<Room>,
    /// Static background parts (tables, furniture).
    pub background: Vec<WorldPart>,
    /// The world at each frame.
    pub frames: Vec<FrameWorld>,
    /// Frames per second (0 for stills).
    pub fps: f64,
    /// The cameras.
    pub cameras: Vec<SynthCamera>,
    /// Direction the light travels, world frame (unit).
    pub light: DVec3,
}
