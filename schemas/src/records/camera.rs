//! [`Camera`]: one calibrated camera of a scene (lens model plus, for static cameras, its
//! world-to-camera extrinsic), with its Arrow schema.

use std::sync::{Arc, OnceLock};

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use super::pose_columns;
use crate::arrow_io::{ArrowRecord, Columns, arr_f64, arr_str, arr_u32, field, list, list_of};
use crate::camera::{CameraModel, SensorRotation};
use crate::distortion::Distortion;
use crate::error::Result;
use crate::pose::WorldToCamera;
use crate::vocab::CameraKind;

/// One camera of one scene.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Camera {
    /// The scene.
    pub scene_id: String,
    /// The source's camera id (`"3"`, `cam02`, `aria01`).
    pub camera_id: String,
    /// Ego (worn) or exo (static).
    pub kind: CameraKind,
    /// Image size, intrinsics and lens for the stored images.
    pub model: CameraModel,
    /// The static extrinsic; `None` for moving cameras, whose frames carry their poses.
    pub world_to_camera: Option<WorldToCamera>,
}

impl ArrowRecord for Camera {
    const NAME: &'static str = "camera";

    fn schema() -> SchemaRef {
        static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
        SCHEMA
            .get_or_init(|| {
                let mut fields = vec![
                    field("scene_id", DataType::Utf8),
                    field("camera_id", DataType::Utf8),
                    field("kind", DataType::Utf8),
                    field("width", DataType::UInt32),
                    field("height", DataType::UInt32),
                    field("fx", DataType::Float64),
                    field("fy", DataType::Float64),
                    field("cx", DataType::Float64),
                    field("cy", DataType::Float64),
                    field("distortion_model", DataType::Utf8),
                    field("distortion", list_of(DataType::Float64)),
                    field("sensor_rotation", DataType::Utf8),
                ];
                fields.extend(pose_columns::fields());
                Arc::new(Schema::new(fields))
            })
            .clone()
    }

    fn to_batch(rows: &[Self]) -> Result<RecordBatch> {
        let schema = Self::schema();
        let f64_col =
            |get: fn(&CameraModel) -> f64| arr_f64(rows.iter().map(|r| get(&r.model)).collect());
        let mut offsets = vec![0i32];
        let mut coeffs = Vec::new();
        for r in rows {
            coeffs.extend(r.model.distortion().coefficients());
            offsets.push(coeffs.len() as i32);
        }
        let [rot, trans] = pose_columns::arrays(rows.iter().map(|r| r.world_to_camera.as_ref()))?;
        let columns = vec![
            arr_str(rows.iter().map(|r| r.scene_id.as_str())),
            arr_str(rows.iter().map(|r| r.camera_id.as_str())),
            arr_str(rows.iter().map(|r| r.kind.name())),
            arr_u32(rows.iter().map(|r| r.model.width()).collect()),
            arr_u32(rows.iter().map(|r| r.model.height()).collect()),
            f64_col(|m| m.focal().0),
            f64_col(|m| m.focal().1),
            f64_col(|m| m.principal_point().0),
            f64_col(|m| m.principal_point().1),
            arr_str(rows.iter().map(|r| r.model.distortion().name())),
            list(
                schema.field_with_name("distortion")?.data_type(),
                offsets,
                arr_f64(coeffs),
                &vec![true; rows.len()],
            )?,
            arr_str(rows.iter().map(|r| r.model.sensor_rotation().name())),
            rot,
            trans,
        ];
        Ok(RecordBatch::try_new(schema, columns)?)
    }

    fn from_batch(batch: &RecordBatch) -> Result<Vec<Self>> {
        let c = Columns::new(batch, Self::NAME);
        let (scene, cam, kind) = (c.utf8("scene_id")?, c.utf8("camera_id")?, c.utf8("kind")?);
        let (w, h) = (c.u32("width")?, c.u32("height")?);
        let (fx, fy, cx, cy) = (c.f64("fx")?, c.f64("fy")?, c.f64("cx")?, c.f64("cy")?);
        let (dm, dist, rot) = (
            c.utf8("distortion_model")?,
            c.list("distortion")?,
            c.utf8("sensor_rotation")?,
        );
        let dist_values = dist
            .values()
            .as_primitive_opt::<Float64Type>()
            .ok_or_else(|| c.row_error(0, "`distortion` must be a list of float64"))?;
        let offsets = dist.value_offsets();
        (0..batch.num_rows())
            .map(|i| {
                if w.is_null(i)
                    || h.is_null(i)
                    || fx.is_null(i)
                    || fy.is_null(i)
                    || cx.is_null(i)
                    || cy.is_null(i)
                {
                    return Err(c.row_error(i, "null size or intrinsics"));
                }
                let coeffs = &dist_values.values()[offsets[i] as usize..offsets[i + 1] as usize];
                let distortion =
                    Distortion::from_name(c.req_str(dm, "distortion_model", i)?, coeffs)
                        .map_err(|e| c.row_error(i, e))?;
                let sensor = SensorRotation::from_name(c.req_str(rot, "sensor_rotation", i)?)
                    .map_err(|e| c.row_error(i, e))?;
                let model = CameraModel::new(
                    w.value(i),
                    h.value(i),
                    fx.value(i),
                    fy.value(i),
                    cx.value(i),
                    cy.value(i),
                    distortion,
                    sensor,
                )
                .map_err(|e| c.row_error(i, e))?;
                Ok(Camera {
                    scene_id: c.req_str(scene, "scene_id", i)?.to_string(),
                    camera_id: c.req_str(cam, "camera_id", i)?.to_string(),
                    kind: CameraKind::from_name(c.req_str(kind, "kind", i)?)
                        .map_err(|e| c.row_error(i, e))?,
                    model,
                    world_to_camera: pose_columns::read(&c, i)?,
                })
            })
            .collect()
    }
}
