//! Ground-truth records of a synthetic world (the `_truth/` sidecar of `crossview synth`):
//! [`TruthInstance`], per-time [`TruthState`] and per-view [`TruthObservation`], with schemas.

use std::sync::{Arc, OnceLock};

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_schema::{DataType, Schema, SchemaRef};
use glam::DVec3;
use serde::{Deserialize, Serialize};

use crate::arrow_io::{
    ArrowRecord, Columns, arr_bool, arr_f32, arr_f64, arr_i32, arr_opt_str, arr_str, arr_u32,
    field, fixed_f32_row, fixed_f64_row, fixed_i32_row, fixed_list, fixed_of, list, list_of,
    nullable,
};
use crate::bbox::BoxXyxy;
use crate::error::Result;
use crate::mask::CocoRle;

/// One physical instance of a synthetic scene.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TruthInstance {
    /// The scene.
    pub scene_id: String,
    /// The canonical instance id a loader must produce (MessyTable `"3"`, MMPTrack `"7"`,
    /// EgoHumans `aria02`, Ego-Exo4D `bowl_0`).
    pub instance_id: String,
    /// Category name.
    pub category: String,
    /// Appearance model: instances with the same model look identical.
    pub model: String,
    /// Coarse class number (MessyTable `cls`).
    pub coarse_class: u32,
    /// Fine class number (MessyTable `subcls`): equal for identical-looking instances.
    pub fine_class: u32,
    /// Whether the instance is a person.
    pub is_person: bool,
}

/// Where an instance is at one frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TruthState {
    /// The scene.
    pub scene_id: String,
    /// 0-based frame index.
    pub frame_index: u32,
    /// The instance.
    pub instance_id: String,
    /// Centre of its 3D bounding box, world metres.
    pub position: DVec3,
    /// Full size of the box along the object's axes, metres.
    pub extent: DVec3,
    /// Object-to-world rotation as a unit quaternion `[x, y, z, w]`.
    pub rotation_xyzw: [f64; 4],
    /// COCO-17 body keypoints (world metres) for people; empty for objects.
    pub keypoints: Vec<DVec3>,
}

/// How one instance appears in one view at one frame: rendered ground truth.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TruthObservation {
    /// The scene.
    pub scene_id: String,
    /// The camera.
    pub camera_id: String,
    /// 0-based frame index.
    pub frame_index: u32,
    /// The instance.
    pub instance_id: String,
    /// Whether the native tree annotates this observation (sources omit invisible ones, and
    /// Ego-Exo4D annotates only every 30th frame).
    pub annotated: bool,
    /// Tight box around the visible pixels; `None` when no pixel is visible.
    pub bbox: Option<BoxXyxy>,
    /// Visible (modal) mask, when rendered at full resolution.
    pub modal: Option<CocoRle>,
    /// Full-object (amodal) mask inside the image, when rendered at full resolution.
    pub amodal: Option<CocoRle>,
    /// Visible pixels.
    pub modal_area: u64,
    /// Pixels of the whole object inside the image (ignoring occluders).
    pub amodal_area: u64,
    /// Pixels of the whole object on an unbounded image plane (ignoring the frame too).
    pub amodal_area_unclipped: u64,
    /// `modal_area / amodal_area_unclipped`: what truncation and occlusion leave visible.
    pub visible_fraction: f32,
    /// Camera-frame depth (z) of the instance's centre, metres.
    pub depth: f64,
    /// A visible surface point of the instance (world metres) ...
    pub probe_world: Option<DVec3>,
    /// ... and the centre of the pixel whose ray hit it, in stored-image pixels.
    pub probe_pixel: Option<[f32; 2]>,
}

impl ArrowRecord for TruthInstance {
    const NAME: &'static str = "truth_instance";

    fn schema() -> SchemaRef {
        static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
        SCHEMA
            .get_or_init(|| {
                Arc::new(Schema::new(vec![
                    field("scene_id", DataType::Utf8),
                    field("instance_id", DataType::Utf8),
                    field("category", DataType::Utf8),
                    field("model", DataType::Utf8),
                    field("coarse_class", DataType::UInt32),
                    field("fine_class", DataType::UInt32),
                    field("is_person", DataType::Boolean),
                ]))
            })
            .clone()
    }

    fn to_batch(rows: &[Self]) -> Result<RecordBatch> {
        Ok(RecordBatch::try_new(
            Self::schema(),
            vec![
                arr_str(rows.iter().map(|r| r.scene_id.as_str())),
                arr_str(rows.iter().map(|r| r.instance_id.as_str())),
                arr_str(rows.iter().map(|r| r.category.as_str())),
                arr_str(rows.iter().map(|r| r.model.as_str())),
                arr_u32(rows.iter().map(|r| r.coarse_class).collect()),
                arr_u32(rows.iter().map(|r| r.fine_class).collect()),
                arr_bool(rows.iter().map(|r| r.is_person).collect()),
            ],
        )?)
    }

    fn from_batch(batch: &RecordBatch) -> Result<Vec<Self>> {
        let c = Columns::new(batch, Self::NAME);
        let (scene, inst, cat, model) = (
            c.utf8("scene_id")?,
            c.utf8("instance_id")?,
            c.utf8("category")?,
            c.utf8("model")?,
        );
        let (coarse, fine, person) = (
            c.u32("coarse_class")?,
            c.u32("fine_class")?,
            c.bool("is_person")?,
        );
        (0..batch.num_rows())
            .map(|i| {
                Ok(TruthInstance {
                    scene_id: c.req_str(scene, "scene_id", i)?.to_string(),
                    instance_id: c.req_str(inst, "instance_id", i)?.to_string(),
                    category: c.req_str(cat, "category", i)?.to_string(),
                    model: c.req_str(model, "model", i)?.to_string(),
                    coarse_class: coarse.value(i),
                    fine_class: fine.value(i),
                    is_person: person.value(i),
                })
            })
            .collect()
    }
}

impl ArrowRecord for TruthState {
    const NAME: &'static str = "truth_state";

    fn schema() -> SchemaRef {
        static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
        SCHEMA
            .get_or_init(|| {
                Arc::new(Schema::new(vec![
                    field("scene_id", DataType::Utf8),
                    field("frame_index", DataType::UInt32),
                    field("instance_id", DataType::Utf8),
                    field("position", fixed_of(DataType::Float64, 3)),
                    field("extent", fixed_of(DataType::Float64, 3)),
                    field("rotation_xyzw", fixed_of(DataType::Float64, 4)),
                    // Flattened x, y, z triples.
                    field("keypoints", list_of(DataType::Float64)),
                ]))
            })
            .clone()
    }

    fn to_batch(rows: &[Self]) -> Result<RecordBatch> {
        let schema = Self::schema();
        let dt = |name: &str| -> Result<DataType> {
            Ok(schema.field_with_name(name)?.data_type().clone())
        };
        let all = vec![true; rows.len()];
        let mut off = vec![0i32];
        let mut kp = Vec::new();
        for r in rows {
            kp.extend(r.keypoints.iter().flat_map(|k| k.to_array()));
            off.push(kp.len() as i32);
        }
        let columns = vec![
            arr_str(rows.iter().map(|r| r.scene_id.as_str())),
            arr_u32(rows.iter().map(|r| r.frame_index).collect()),
            arr_str(rows.iter().map(|r| r.instance_id.as_str())),
            fixed_list(
                &dt("position")?,
                arr_f64(rows.iter().flat_map(|r| r.position.to_array()).collect()),
                &all,
            )?,
            fixed_list(
                &dt("extent")?,
                arr_f64(rows.iter().flat_map(|r| r.extent.to_array()).collect()),
                &all,
            )?,
            fixed_list(
                &dt("rotation_xyzw")?,
                arr_f64(rows.iter().flat_map(|r| r.rotation_xyzw).collect()),
                &all,
            )?,
            list(&dt("keypoints")?, off, arr_f64(kp), &all)?,
        ];
        Ok(RecordBatch::try_new(schema, columns)?)
    }

    fn from_batch(batch: &RecordBatch) -> Result<Vec<Self>> {
        let c = Columns::new(batch, Self::NAME);
        let (scene, frame, inst) = (
            c.utf8("scene_id")?,
            c.u32("frame_index")?,
            c.utf8("instance_id")?,
        );
        let (pos, ext, rot) = (
            c.fixed("position")?,
            c.fixed("extent")?,
            c.fixed("rotation_xyzw")?,
        );
        let kps = c.list("keypoints")?;
        let kv = kps
            .values()
            .as_primitive_opt::<Float64Type>()
            .ok_or_else(|| c.row_error(0, "keypoints must be list<float64>"))?
            .values();
        let off = kps.value_offsets();
        (0..batch.num_rows())
            .map(|i| {
                let v3 = |a| fixed_f64_row(a, i).map(|v| DVec3::new(v[0], v[1], v[2]));
                let (Some(position), Some(extent), Some(r)) =
                    (v3(pos), v3(ext), fixed_f64_row(rot, i))
                else {
                    return Err(c.row_error(i, "null position, extent or rotation"));
                };
                let flat = &kv[off[i] as usize..off[i + 1] as usize];
                if flat.len() % 3 != 0 {
                    return Err(c.row_error(i, "keypoints length is not a multiple of 3"));
                }
                Ok(TruthState {
                    scene_id: c.req_str(scene, "scene_id", i)?.to_string(),
                    frame_index: frame.value(i),
                    instance_id: c.req_str(inst, "instance_id", i)?.to_string(),
                    position,
                    extent,
                    rotation_xyzw: [r[0], r[1], r[2], r[3]],
                    keypoints: flat
                        .chunks_exact(3)
                        .map(|k| DVec3::new(k[0], k[1], k[2]))
                        .collect(),
                })
            })
            .collect()
    }
}

impl ArrowRecord for TruthObservation {
    const NAME: &'static str = "truth_observation";

    fn unique_columns() -> &'static [&'static [&'static str]] {
        &[&["modal_counts"], &["amodal_counts"]]
    }

    fn schema() -> SchemaRef {
        static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
        SCHEMA
            .get_or_init(|| {
                Arc::new(Schema::new(vec![
                    field("scene_id", DataType::Utf8),
                    field("camera_id", DataType::Utf8),
                    field("frame_index", DataType::UInt32),
                    field("instance_id", DataType::Utf8),
                    field("annotated", DataType::Boolean),
                    nullable("bbox", fixed_of(DataType::Float32, 4)),
                    // [height, width] of both masks; null when neither was rendered.
                    nullable("mask_size", fixed_of(DataType::Int32, 2)),
                    nullable("modal_counts", DataType::Utf8),
                    nullable("amodal_counts", DataType::Utf8),
                    field("modal_area", DataType::UInt64),
                    field("amodal_area", DataType::UInt64),
                    field("amodal_area_unclipped", DataType::UInt64),
                    field("visible_fraction", DataType::Float32),
                    field("depth", DataType::Float64),
                    nullable("probe_world", fixed_of(DataType::Float64, 3)),
                    nullable("probe_pixel", fixed_of(DataType::Float32, 2)),
                ]))
            })
            .clone()
    }

    fn to_batch(rows: &[Self]) -> Result<RecordBatch> {
        let schema = Self::schema();
        let dt = |name: &str| -> Result<DataType> {
            Ok(schema.field_with_name(name)?.data_type().clone())
        };
        let u64s = |get: fn(&TruthObservation) -> u64| -> arrow_array::ArrayRef {
            Arc::new(arrow_array::UInt64Array::from(
                rows.iter().map(get).collect::<Vec<_>>(),
            ))
        };
        let size = |r: &TruthObservation| r.modal.as_ref().or(r.amodal.as_ref()).map(|m| m.size());
        let columns = vec![
            arr_str(rows.iter().map(|r| r.scene_id.as_str())),
            arr_str(rows.iter().map(|r| r.camera_id.as_str())),
            arr_u32(rows.iter().map(|r| r.frame_index).collect()),
            arr_str(rows.iter().map(|r| r.instance_id.as_str())),
            arr_bool(rows.iter().map(|r| r.annotated).collect()),
            fixed_list(
                &dt("bbox")?,
                arr_f32(
                    rows.iter()
                        .flat_map(|r| r.bbox.map(|b| b.to_array()).unwrap_or([0.0; 4]))
                        .collect(),
                ),
                &rows.iter().map(|r| r.bbox.is_some()).collect::<Vec<_>>(),
            )?,
            fixed_list(
                &dt("mask_size")?,
                arr_i32(
                    rows.iter()
                        .flat_map(|r| size(r).unwrap_or([0, 0]).map(|v| v as i32))
                        .collect(),
                ),
                &rows.iter().map(|r| size(r).is_some()).collect::<Vec<_>>(),
            )?,
            arr_opt_str(rows.iter().map(|r| r.modal.as_ref().map(CocoRle::counts))),
            arr_opt_str(rows.iter().map(|r| r.amodal.as_ref().map(CocoRle::counts))),
            u64s(|r| r.modal_area),
            u64s(|r| r.amodal_area),
            u64s(|r| r.amodal_area_unclipped),
            arr_f32(rows.iter().map(|r| r.visible_fraction).collect()),
            arr_f64(rows.iter().map(|r| r.depth).collect()),
            fixed_list(
                &dt("probe_world")?,
                arr_f64(
                    rows.iter()
                        .flat_map(|r| r.probe_world.unwrap_or(DVec3::ZERO).to_array())
                        .collect(),
                ),
                &rows
                    .iter()
                    .map(|r| r.probe_world.is_some())
                    .collect::<Vec<_>>(),
            )?,
            fixed_list(
                &dt("probe_pixel")?,
                arr_f32(
                    rows.iter()
                        .flat_map(|r| r.probe_pixel.unwrap_or([0.0; 2]))
                        .collect(),
                ),
                &rows
                    .iter()
                    .map(|r| r.probe_pixel.is_some())
                    .collect::<Vec<_>>(),
            )?,
        ];
        Ok(RecordBatch::try_new(schema, columns)?)
    }

    fn from_batch(batch: &RecordBatch) -> Result<Vec<Self>> {
        let c = Columns::new(batch, Self::NAME);
        let (scene, cam, frame, inst) = (
            c.utf8("scene_id")?,
            c.utf8("camera_id")?,
            c.u32("frame_index")?,
            c.utf8("instance_id")?,
        );
        let (annotated, bbox, size) = (
            c.bool("annotated")?,
            c.fixed("bbox")?,
            c.fixed("mask_size")?,
        );
        let (modal, amodal) = (c.utf8("modal_counts")?, c.utf8("amodal_counts")?);
        let u64col = |name: &str| -> Result<&arrow_array::UInt64Array> {
            batch
                .column_by_name(name)
                .and_then(|a| a.as_primitive_opt::<arrow_array::types::UInt64Type>())
                .ok_or_else(|| c.row_error(0, format!("`{name}` must be uint64")))
        };
        let (ma, aa, au) = (
            u64col("modal_area")?,
            u64col("amodal_area")?,
            u64col("amodal_area_unclipped")?,
        );
        let (vf, depth) = (c.f32("visible_fraction")?, c.f64("depth")?);
        let (pw, pp) = (c.fixed("probe_world")?, c.fixed("probe_pixel")?);
        (0..batch.num_rows())
            .map(|i| {
                let hw = fixed_i32_row(size, i);
                let mask = |col: &arrow_array::StringArray| -> Result<Option<CocoRle>> {
                    match (Columns::opt_str(col, i), hw) {
                        (None, _) => Ok(None),
                        (Some(s), Some(hw)) => {
                            let (Ok(h), Ok(w)) = (u32::try_from(hw[0]), u32::try_from(hw[1]))
                            else {
                                return Err(c.row_error(i, format!("negative mask_size {hw:?}")));
                            };
                            Ok(Some(
                                CocoRle::parse(s, h, w).map_err(|e| c.row_error(i, e))?,
                            ))
                        }
                        (Some(_), None) => Err(c.row_error(i, "mask without mask_size")),
                    }
                };
                let bbox = match fixed_f32_row(bbox, i) {
                    Some(b) => Some(
                        BoxXyxy::try_new(b[0], b[1], b[2], b[3]).map_err(|e| c.row_error(i, e))?,
                    ),
                    None => None,
                };
                Ok(TruthObservation {
                    scene_id: c.req_str(scene, "scene_id", i)?.to_string(),
                    camera_id: c.req_str(cam, "camera_id", i)?.to_string(),
                    frame_index: frame.value(i),
                    instance_id: c.req_str(inst, "instance_id", i)?.to_string(),
                    annotated: annotated.value(i),
                    bbox,
                    modal: mask(modal)?,
                    amodal: mask(amodal)?,
                    modal_area: ma.value(i),
                    amodal_area: aa.value(i),
                    amodal_area_unclipped: au.value(i),
                    visible_fraction: vf.value(i),
                    depth: depth.value(i),
                    probe_world: fixed_f64_row(pw, i).map(|v| DVec3::new(v[0], v[1], v[2])),
                    probe_pixel: fixed_f32_row(pp, i).map(|v| [v[0], v[1]]),
                })
            })
            .collect()
    }
}
