//! [`Frame`]: one image of one camera at one time (0-based frame index), where its pixels are,
//! and the camera pose for moving cameras; with its Arrow schema.

use std::sync::{Arc, OnceLock};

use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use super::pose_columns;
use crate::arrow_io::{
    ArrowRecord, Columns, arr_f64, arr_opt_str, arr_opt_u32, arr_str, arr_u32, field, nullable,
};
use crate::error::Result;
use crate::pose::WorldToCamera;

/// Where a frame's pixels are.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImageRef {
    /// No image (annotation-only trees, `synth --no-images`).
    None,
    /// An image file, relative to the source tree's root.
    File(String),
    /// A frame of a video file (relative to the tree's root), 0-based.
    VideoFrame {
        /// The video.
        path: String,
        /// Frame index within the video.
        frame: u32,
    },
}

/// One image of one camera at one time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    /// The scene.
    pub scene_id: String,
    /// The camera.
    pub camera_id: String,
    /// 0-based frame index, shared by all cameras of the scene (synchronised).
    pub frame_index: u32,
    /// Seconds since the start of the scene.
    pub timestamp_s: f64,
    /// Where the pixels are.
    pub image: ImageRef,
    /// The camera pose at this frame, for moving (ego) cameras.
    pub world_to_camera: Option<WorldToCamera>,
}

impl ArrowRecord for Frame {
    const NAME: &'static str = "frame";

    fn schema() -> SchemaRef {
        static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
        SCHEMA
            .get_or_init(|| {
                let mut fields = vec![
                    field("scene_id", DataType::Utf8),
                    field("camera_id", DataType::Utf8),
                    field("frame_index", DataType::UInt32),
                    field("timestamp_s", DataType::Float64),
                    nullable("image_path", DataType::Utf8),
                    nullable("video_frame", DataType::UInt32),
                ];
                fields.extend(pose_columns::fields());
                Arc::new(Schema::new(fields))
            })
            .clone()
    }

    fn to_batch(rows: &[Self]) -> Result<RecordBatch> {
        let [rot, trans] = pose_columns::arrays(rows.iter().map(|r| r.world_to_camera.as_ref()))?;
        let path = |r: &'_ Frame| -> Option<String> {
            match &r.image {
                ImageRef::None => None,
                ImageRef::File(p) | ImageRef::VideoFrame { path: p, .. } => Some(p.clone()),
            }
        };
        let paths: Vec<Option<String>> = rows.iter().map(path).collect();
        let columns = vec![
            arr_str(rows.iter().map(|r| r.scene_id.as_str())),
            arr_str(rows.iter().map(|r| r.camera_id.as_str())),
            arr_u32(rows.iter().map(|r| r.frame_index).collect()),
            arr_f64(rows.iter().map(|r| r.timestamp_s).collect()),
            arr_opt_str(paths.iter().map(|p| p.as_deref())),
            arr_opt_u32(rows.iter().map(|r| match r.image {
                ImageRef::VideoFrame { frame, .. } => Some(frame),
                _ => None,
            })),
            rot,
            trans,
        ];
        Ok(RecordBatch::try_new(Self::schema(), columns)?)
    }

    fn from_batch(batch: &RecordBatch) -> Result<Vec<Self>> {
        let c = Columns::new(batch, Self::NAME);
        let (scene, cam) = (c.utf8("scene_id")?, c.utf8("camera_id")?);
        let (idx, ts) = (c.u32("frame_index")?, c.f64("timestamp_s")?);
        let (path, vf) = (c.utf8("image_path")?, c.u32("video_frame")?);
        (0..batch.num_rows())
            .map(|i| {
                if idx.is_null(i) || ts.is_null(i) {
                    return Err(c.row_error(i, "null frame_index or timestamp_s"));
                }
                let image = match (Columns::opt_str(path, i), vf.is_null(i)) {
                    (None, true) => ImageRef::None,
                    (Some(p), true) => ImageRef::File(p.to_string()),
                    (Some(p), false) => ImageRef::VideoFrame {
                        path: p.to_string(),
                        frame: vf.value(i),
                    },
                    (None, false) => return Err(c.row_error(i, "video_frame without image_path")),
                };
                Ok(Frame {
                    scene_id: c.req_str(scene, "scene_id", i)?.to_string(),
                    camera_id: c.req_str(cam, "camera_id", i)?.to_string(),
                    frame_index: idx.value(i),
                    timestamp_s: ts.value(i),
                    image,
                    world_to_camera: pose_columns::read(&c, i)?,
                })
            })
            .collect()
    }
}
