//! [`Observation`]: one object seen in one frame of one camera, as the source annotates it (box,
//! mask with provenance, keypoints, optional 3D), with its Arrow schema.

use std::sync::{Arc, OnceLock};

use arrow_array::cast::AsArray;
use arrow_array::types::UInt8Type;
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Schema, SchemaRef};
use glam::DVec3;
use serde::{Deserialize, Serialize};

use crate::arrow_io::{
    ArrowRecord, Columns, arr_f32, arr_f64, arr_i32, arr_opt_f32, arr_opt_str, arr_str, arr_u8,
    arr_u32, field, fixed_f32_row, fixed_f64_row, fixed_i32_row, fixed_list, fixed_of, list,
    list_of_struct, nullable, struct_columns, struct_of_list,
};
use crate::bbox::BoxXyxy;
use crate::error::Result;
use crate::mask::Rle;
use crate::vocab::{MaskSource, MaskSourceKind};

/// A 2D keypoint with COCO visibility: 0 not labelled, 1 labelled but hidden, 2 visible.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Keypoint {
    /// Column, continuous pixel coordinates.
    pub x: f32,
    /// Row, continuous pixel coordinates.
    pub y: f32,
    /// COCO visibility flag.
    pub visibility: u8,
}

/// A mask and where it came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObservedMask {
    /// The modal (visible-part) mask.
    pub rle: Rle,
    /// Its provenance.
    pub source: MaskSource,
}

/// One object in one frame of one camera.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// The scene.
    pub scene_id: String,
    /// The camera.
    pub camera_id: String,
    /// 0-based frame index.
    pub frame_index: u32,
    /// The same physical object has the same id in every view of a scene.
    pub instance_id: String,
    /// Category name (`person`, `mug`, MessyTable `cls3`).
    pub category: String,
    /// Finer class where the source has one (MessyTable `subcls17`): equal subcategories
    /// look alike.
    pub subcategory: Option<String>,
    /// The box, in stored-image pixels, if the source gives one.
    pub bbox: Option<BoxXyxy>,
    /// The mask, if the source gives one or a later stage completed it.
    pub mask: Option<ObservedMask>,
    /// 2D keypoints (COCO-17 order for people); empty when none.
    pub keypoints: Vec<Keypoint>,
    /// World position (metres) if the source gives one.
    pub world_position: Option<DVec3>,
    /// Size along the world axes (metres), if known.
    pub world_extent: Option<DVec3>,
}

fn keypoint_fields() -> Vec<arrow_schema::Field> {
    vec![
        field("x", DataType::Float32),
        field("y", DataType::Float32),
        field("v", DataType::UInt8),
    ]
}

impl ArrowRecord for Observation {
    const NAME: &'static str = "observation";

    fn unique_columns() -> &'static [&'static [&'static str]] {
        &[&["mask_counts"]]
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
                    field("category", DataType::Utf8),
                    nullable("subcategory", DataType::Utf8),
                    nullable("bbox", fixed_of(DataType::Float32, 4)),
                    nullable("mask_size", fixed_of(DataType::Int32, 2)),
                    nullable("mask_counts", DataType::Utf8),
                    nullable("mask_source", DataType::Utf8),
                    nullable("mask_model", DataType::Utf8),
                    nullable("mask_score", DataType::Float32),
                    field("keypoints", list_of_struct(keypoint_fields())),
                    nullable("world_position", fixed_of(DataType::Float64, 3)),
                    nullable("world_extent", fixed_of(DataType::Float64, 3)),
                ]))
            })
            .clone()
    }

    fn to_batch(rows: &[Self]) -> Result<RecordBatch> {
        let schema = Self::schema();
        let dt = |name: &str| -> Result<DataType> {
            Ok(schema.field_with_name(name)?.data_type().clone())
        };
        let n = rows.len();
        let mut bbox = Vec::with_capacity(n * 4);
        let mut bbox_present = Vec::with_capacity(n);
        let mut size = Vec::with_capacity(n * 2);
        let mut counts: Vec<Option<String>> = Vec::with_capacity(n);
        for r in rows {
            bbox.extend(r.bbox.map(|b| b.to_array()).unwrap_or([0.0; 4]));
            bbox_present.push(r.bbox.is_some());
            match &r.mask {
                Some(m) => {
                    size.extend([m.rle.height() as i32, m.rle.width() as i32]);
                    counts.push(Some(m.rle.to_coco_string()));
                }
                None => {
                    size.extend([0, 0]);
                    counts.push(None);
                }
            }
        }
        let mask_present: Vec<bool> = rows.iter().map(|r| r.mask.is_some()).collect();
        let (mut kx, mut ky, mut kv, mut koff) = (Vec::new(), Vec::new(), Vec::new(), vec![0i32]);
        for r in rows {
            for k in &r.keypoints {
                kx.push(k.x);
                ky.push(k.y);
                kv.push(k.visibility);
            }
            koff.push(kx.len() as i32);
        }
        let vec3 = |get: fn(&Observation) -> Option<DVec3>| -> Result<_> {
            let vals: Vec<f64> = rows
                .iter()
                .flat_map(|r| get(r).unwrap_or(DVec3::ZERO).to_array())
                .collect();
            let present: Vec<bool> = rows.iter().map(|r| get(r).is_some()).collect();
            fixed_list(&fixed_of(DataType::Float64, 3), arr_f64(vals), &present)
        };
        let kp_dt = dt("keypoints")?;
        let columns = vec![
            arr_str(rows.iter().map(|r| r.scene_id.as_str())),
            arr_str(rows.iter().map(|r| r.camera_id.as_str())),
            arr_u32(rows.iter().map(|r| r.frame_index).collect()),
            arr_str(rows.iter().map(|r| r.instance_id.as_str())),
            arr_str(rows.iter().map(|r| r.category.as_str())),
            arr_opt_str(rows.iter().map(|r| r.subcategory.as_deref())),
            fixed_list(&dt("bbox")?, arr_f32(bbox), &bbox_present)?,
            fixed_list(&dt("mask_size")?, arr_i32(size), &mask_present)?,
            arr_opt_str(counts.iter().map(|c| c.as_deref())),
            arr_opt_str(
                rows.iter()
                    .map(|r| r.mask.as_ref().map(|m| m.source.kind.name())),
            ),
            arr_opt_str(
                rows.iter()
                    .map(|r| r.mask.as_ref().and_then(|m| m.source.model.as_deref())),
            ),
            arr_opt_f32(
                rows.iter()
                    .map(|r| r.mask.as_ref().and_then(|m| m.source.score)),
            ),
            list(
                &kp_dt,
                koff,
                struct_of_list(&kp_dt, vec![arr_f32(kx), arr_f32(ky), arr_u8(kv)])?,
                &vec![true; n],
            )?,
            vec3(|r| r.world_position)?,
            vec3(|r| r.world_extent)?,
        ];
        Ok(RecordBatch::try_new(schema, columns)?)
    }

    fn from_batch(batch: &RecordBatch) -> Result<Vec<Self>> {
        let c = Columns::new(batch, Self::NAME);
        let (scene, cam, idx) = (
            c.utf8("scene_id")?,
            c.utf8("camera_id")?,
            c.u32("frame_index")?,
        );
        let (inst, cat, subcat) = (
            c.utf8("instance_id")?,
            c.utf8("category")?,
            c.utf8("subcategory")?,
        );
        let (bbox, msize, mcounts) = (
            c.fixed("bbox")?,
            c.fixed("mask_size")?,
            c.utf8("mask_counts")?,
        );
        let (msrc, mmodel, mscore) = (
            c.utf8("mask_source")?,
            c.utf8("mask_model")?,
            c.f32("mask_score")?,
        );
        let (pos, ext) = (c.fixed("world_position")?, c.fixed("world_extent")?);
        let kps = c.list("keypoints")?;
        let kcols = struct_columns(kps.values(), Self::NAME, "keypoints")?;
        let kc = Columns::new(&kcols, Self::NAME);
        let (kx, ky) = (kc.f32("x")?.values(), kc.f32("y")?.values());
        let kv = kcols
            .column_by_name("v")
            .and_then(|a| a.as_primitive_opt::<UInt8Type>())
            .ok_or_else(|| c.row_error(0, "keypoints.v must be uint8"))?
            .values();
        let koff = kps.value_offsets();
        let vec3 = |v: Option<Vec<f64>>| v.map(|v| DVec3::new(v[0], v[1], v[2]));
        (0..batch.num_rows())
            .map(|i| {
                if idx.is_null(i) {
                    return Err(c.row_error(i, "null frame_index"));
                }
                let bbox = match fixed_f32_row(bbox, i) {
                    Some(b) => Some(
                        BoxXyxy::try_new(b[0], b[1], b[2], b[3]).map_err(|e| c.row_error(i, e))?,
                    ),
                    None => None,
                };
                let mask = match (Columns::opt_str(mcounts, i), fixed_i32_row(msize, i)) {
                    (Some(s), Some(hw)) => {
                        let (h, w) = (u32::try_from(hw[0]), u32::try_from(hw[1]));
                        let (Ok(h), Ok(w)) = (h, w) else {
                            return Err(c.row_error(i, format!("negative mask_size {hw:?}")));
                        };
                        let rle = Rle::from_coco_string(s, h, w).map_err(|e| c.row_error(i, e))?;
                        let kind = MaskSourceKind::from_name(c.req_str(msrc, "mask_source", i)?)
                            .map_err(|e| c.row_error(i, e))?;
                        let source = MaskSource {
                            kind,
                            model: Columns::opt_str(mmodel, i).map(str::to_string),
                            score: (!mscore.is_null(i)).then(|| mscore.value(i)),
                        };
                        Some(ObservedMask { rle, source })
                    }
                    (None, None) => None,
                    _ => {
                        return Err(c.row_error(
                            i,
                            "mask_counts and mask_size must be both present or both null",
                        ));
                    }
                };
                let (a, b) = (koff[i] as usize, koff[i + 1] as usize);
                let keypoints = (a..b)
                    .map(|k| Keypoint {
                        x: kx[k],
                        y: ky[k],
                        visibility: kv[k],
                    })
                    .collect();
                Ok(Observation {
                    scene_id: c.req_str(scene, "scene_id", i)?.to_string(),
                    camera_id: c.req_str(cam, "camera_id", i)?.to_string(),
                    frame_index: idx.value(i),
                    instance_id: c.req_str(inst, "instance_id", i)?.to_string(),
                    category: c.req_str(cat, "category", i)?.to_string(),
                    subcategory: Columns::opt_str(subcat, i).map(str::to_string),
                    bbox,
                    mask,
                    keypoints,
                    world_position: vec3(fixed_f64_row(pos, i)),
                    world_extent: vec3(fixed_f64_row(ext, i)),
                })
            })
            .collect()
    }
}
