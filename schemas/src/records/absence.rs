//! [`Absence`]: an instance that the source looked for in one view at one frame and did not see
//! (an Ego-Exo4D annotated frame without a mask), with its Arrow schema.

use std::sync::{Arc, OnceLock};

use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use crate::arrow_io::{ArrowRecord, Columns, arr_str, arr_u32, field};
use crate::error::Result;

/// A known non-observation: the instance is not visible in this view at this frame.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Absence {
    /// The scene.
    pub scene_id: String,
    /// The camera.
    pub camera_id: String,
    /// 0-based frame index.
    pub frame_index: u32,
    /// The instance that is not visible.
    pub instance_id: String,
}

impl ArrowRecord for Absence {
    const NAME: &'static str = "absence";

    fn schema() -> SchemaRef {
        static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
        SCHEMA
            .get_or_init(|| {
                Arc::new(Schema::new(vec![
                    field("scene_id", DataType::Utf8),
                    field("camera_id", DataType::Utf8),
                    field("frame_index", DataType::UInt32),
                    field("instance_id", DataType::Utf8),
                ]))
            })
            .clone()
    }

    fn to_batch(rows: &[Self]) -> Result<RecordBatch> {
        Ok(RecordBatch::try_new(
            Self::schema(),
            vec![
                arr_str(rows.iter().map(|r| r.scene_id.as_str())),
                arr_str(rows.iter().map(|r| r.camera_id.as_str())),
                arr_u32(rows.iter().map(|r| r.frame_index).collect()),
                arr_str(rows.iter().map(|r| r.instance_id.as_str())),
            ],
        )?)
    }

    fn from_batch(batch: &RecordBatch) -> Result<Vec<Self>> {
        let c = Columns::new(batch, Self::NAME);
        let (scene, cam, frame, inst) = (
            c.utf8("scene_id")?,
            c.utf8("camera_id")?,
            c.u32("frame_index")?,
            c.utf8("instance_id")?,
        );
        (0..batch.num_rows())
            .map(|i| {
                if frame.is_null(i) {
                    return Err(c.row_error(i, "null frame_index"));
                }
                Ok(Absence {
                    scene_id: c.req_str(scene, "scene_id", i)?.to_string(),
                    camera_id: c.req_str(cam, "camera_id", i)?.to_string(),
                    frame_index: frame.value(i),
                    instance_id: c.req_str(inst, "instance_id", i)?.to_string(),
                })
            })
            .collect()
    }
}
