//! [`QaSample`]: one cross-view question with its views and region masks inline; its Arrow
//! schema is the shard contract of DESIGN.md (column names fixed; more may be added).

use std::sync::{Arc, OnceLock};

use super::SampleColumns;

use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use crate::arrow_io::{
    ArrowRecord, Columns, field, fixed_f32_row, fixed_i32_row, fixed_of, list_of, list_of_struct,
    nullable, struct_columns,
};
use crate::bbox::BoxXyxy;
use crate::error::Result;
use crate::mask::CocoRle;
use crate::vocab::{MaskSource, MaskSourceKind, SourceKind, Split, Task};

/// One view a question shows: a frame of one camera.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ViewRef {
    /// The camera id.
    pub view_id: String,
    /// The frame, e.g. the frame index as a string.
    pub frame_id: String,
    /// Image path relative to the build's frame store `OUT/frames/` (`<sha256 prefix>.jpg`).
    pub image: String,
    /// Image width.
    pub width: u32,
    /// Image height.
    pub height: u32,
}

/// One region a question refers to: an instance's mask in one of the shown views.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Region {
    /// Index into the sample's views.
    pub view_index: u32,
    /// The instance (same id across views).
    pub instance_id: String,
    /// The instance's category (`person`, MessyTable `cls3`), for readers that name objects.
    pub category: String,
    /// Box in that view's pixels.
    pub bbox: BoxXyxy,
    /// Mask in that view (shared string form; [`CocoRle::to_rle`] for the runs).
    pub mask: CocoRle,
    /// Mask provenance.
    pub mask_source: MaskSource,
}

/// One question-answer sample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QaSample {
    /// Stable id: [`QaSample::content_id`].
    pub sample_id: String,
    /// Q1..Q17 (the category follows from it).
    pub task: Task,
    /// Source dataset.
    pub source: SourceKind,
    /// Scene.
    pub scene_id: String,
    /// train or bench.
    pub split: Split,
    /// Question text; the k-th `<region>` placeholder is `regions[k]`.
    pub question: String,
    /// Options (empty when open-ended).
    pub options: Vec<String>,
    /// Index of the correct option, -1 when open-ended.
    pub answer_index: i32,
    /// Answer text.
    pub answer: String,
    /// Short-answer form without options.
    pub open_ended: bool,
    /// Views shown.
    pub views: Vec<ViewRef>,
    /// Regions referred to, in placeholder order.
    pub regions: Vec<Region>,
    /// Template (paraphrase) id.
    pub template_id: String,
    /// Generation provenance (generator version and settings).
    pub generator: String,
}

/// The placeholder a question uses for each region.
pub const REGION_PLACEHOLDER: &str = "<region>";

fn view_fields() -> Vec<arrow_schema::Field> {
    vec![
        field("view_id", DataType::Utf8),
        field("frame_id", DataType::Utf8),
        field("image", DataType::Utf8),
        field("width", DataType::Int32),
        field("height", DataType::Int32),
    ]
}

fn region_fields() -> Vec<arrow_schema::Field> {
    vec![
        field("view_index", DataType::Int32),
        field("instance_id", DataType::Utf8),
        field("category", DataType::Utf8),
        field("bbox", fixed_of(DataType::Float32, 4)),
        field("mask_size", fixed_of(DataType::Int32, 2)),
        field("mask_counts", DataType::Utf8),
        field("mask_source", DataType::Utf8),
        nullable("mask_model", DataType::Utf8),
        nullable("mask_score", DataType::Float32),
    ]
}

impl ArrowRecord for QaSample {
    const NAME: &'static str = "qa_sample";

    fn unique_columns() -> &'static [&'static [&'static str]] {
        &[&["sample_id"], &["regions", "list", "item", "mask_counts"]]
    }

    fn unstatistical_columns() -> &'static [&'static [&'static str]] {
        &[
            &["question"],
            &["options", "list", "item"],
            &["answer"],
            &["generator"],
            &["views", "list", "item", "view_id"],
            &["views", "list", "item", "frame_id"],
            &["views", "list", "item", "image"],
            &["regions", "list", "item", "instance_id"],
            &["regions", "list", "item", "category"],
            &["regions", "list", "item", "mask_source"],
            &["regions", "list", "item", "mask_model"],
        ]
    }

    fn schema() -> SchemaRef {
        static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
        SCHEMA
            .get_or_init(|| {
                Arc::new(Schema::new(vec![
                    field("sample_id", DataType::Utf8),
                    field("task", DataType::Utf8),
                    field("category", DataType::Utf8),
                    field("source", DataType::Utf8),
                    field("scene_id", DataType::Utf8),
                    field("split", DataType::Utf8),
                    field("question", DataType::Utf8),
                    field("options", list_of(DataType::Utf8)),
                    field("answer_index", DataType::Int32),
                    field("answer", DataType::Utf8),
                    field("open_ended", DataType::Boolean),
                    field("views", list_of_struct(view_fields())),
                    field("regions", list_of_struct(region_fields())),
                    field("template_id", DataType::Utf8),
                    field("generator", DataType::Utf8),
                ]))
            })
            .clone()
    }

    fn to_batch(rows: &[Self]) -> Result<RecordBatch> {
        let mut columns = SampleColumns::new();
        for r in rows {
            columns.push(&r.as_sample_ref());
        }
        columns.finish()
    }

    fn from_batch(batch: &RecordBatch) -> Result<Vec<Self>> {
        let c = Columns::new(batch, Self::NAME);
        let (id, task, cat, source) = (
            c.utf8("sample_id")?,
            c.utf8("task")?,
            c.utf8("category")?,
            c.utf8("source")?,
        );
        let (scene, split, question) = (c.utf8("scene_id")?, c.utf8("split")?, c.utf8("question")?);
        let (options, ans_idx, answer, open) = (
            c.list("options")?,
            c.i32("answer_index")?,
            c.utf8("answer")?,
            c.bool("open_ended")?,
        );
        let (template, generator) = (c.utf8("template_id")?, c.utf8("generator")?);
        let opt_values = options
            .values()
            .as_string_opt::<i32>()
            .ok_or_else(|| c.row_error(0, "options must be list<utf8>"))?;

        let views = c.list("views")?;
        let vb = struct_columns(views.values(), Self::NAME, "views")?;
        let vc = Columns::new(&vb, Self::NAME);
        let (v_id, v_frame, v_img, v_w, v_h) = (
            vc.utf8("view_id")?,
            vc.utf8("frame_id")?,
            vc.utf8("image")?,
            vc.i32("width")?,
            vc.i32("height")?,
        );

        let regions = c.list("regions")?;
        let rb = struct_columns(regions.values(), Self::NAME, "regions")?;
        let rc = Columns::new(&rb, Self::NAME);
        let (g_view, g_inst, g_cat, g_bbox, g_size) = (
            rc.i32("view_index")?,
            rc.utf8("instance_id")?,
            rc.utf8("category")?,
            rc.fixed("bbox")?,
            rc.fixed("mask_size")?,
        );
        let (g_counts, g_src, g_model, g_score) = (
            rc.utf8("mask_counts")?,
            rc.utf8("mask_source")?,
            rc.utf8("mask_model")?,
            rc.f32("mask_score")?,
        );

        (0..batch.num_rows())
            .map(|i| {
                let task_v =
                    Task::from_name(c.req_str(task, "task", i)?).map_err(|e| c.row_error(i, e))?;
                let cat_v = c.req_str(cat, "category", i)?;
                if cat_v != task_v.category().name() {
                    return Err(c.row_error(
                        i,
                        format!("category {cat_v:?} does not match task {task_v}"),
                    ));
                }
                if ans_idx.is_null(i) || open.is_null(i) {
                    return Err(c.row_error(i, "null answer_index or open_ended"));
                }
                let o = options.value_offsets();
                let opts = (o[i] as usize..o[i + 1] as usize)
                    .map(|k| opt_values.value(k).to_string())
                    .collect();
                let vo = views.value_offsets();
                let view_list = (vo[i] as usize..vo[i + 1] as usize)
                    .map(|k| {
                        Ok(ViewRef {
                            view_id: v_id.value(k).to_string(),
                            frame_id: v_frame.value(k).to_string(),
                            image: v_img.value(k).to_string(),
                            width: u32::try_from(v_w.value(k))
                                .map_err(|_| c.row_error(i, "negative view width"))?,
                            height: u32::try_from(v_h.value(k))
                                .map_err(|_| c.row_error(i, "negative view height"))?,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                let ro = regions.value_offsets();
                let region_list = (ro[i] as usize..ro[i + 1] as usize)
                    .map(|k| {
                        let b = fixed_f32_row(g_bbox, k)
                            .ok_or_else(|| c.row_error(i, "null region bbox"))?;
                        let hw = fixed_i32_row(g_size, k)
                            .ok_or_else(|| c.row_error(i, "null region mask_size"))?;
                        let (Ok(h), Ok(w)) = (u32::try_from(hw[0]), u32::try_from(hw[1])) else {
                            return Err(c.row_error(i, format!("negative mask_size {hw:?}")));
                        };
                        Ok(Region {
                            view_index: u32::try_from(g_view.value(k))
                                .map_err(|_| c.row_error(i, "negative view_index"))?,
                            instance_id: g_inst.value(k).to_string(),
                            category: g_cat.value(k).to_string(),
                            bbox: BoxXyxy::try_new(b[0], b[1], b[2], b[3])
                                .map_err(|e| c.row_error(i, e))?,
                            mask: CocoRle::parse(g_counts.value(k), h, w)
                                .map_err(|e| c.row_error(i, e))?,
                            mask_source: MaskSource {
                                kind: MaskSourceKind::from_name(g_src.value(k))
                                    .map_err(|e| c.row_error(i, e))?,
                                model: Columns::opt_str(g_model, k).map(str::to_string),
                                score: (!g_score.is_null(k)).then(|| g_score.value(k)),
                            },
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(QaSample {
                    sample_id: c.req_str(id, "sample_id", i)?.to_string(),
                    task: task_v,
                    source: SourceKind::from_name(c.req_str(source, "source", i)?)
                        .map_err(|e| c.row_error(i, e))?,
                    scene_id: c.req_str(scene, "scene_id", i)?.to_string(),
                    split: Split::from_name(c.req_str(split, "split", i)?)
                        .map_err(|e| c.row_error(i, e))?,
                    question: c.req_str(question, "question", i)?.to_string(),
                    options: opts,
                    answer_index: ans_idx.value(i),
                    answer: c.req_str(answer, "answer", i)?.to_string(),
                    open_ended: open.value(i),
                    views: view_list,
                    regions: region_list,
                    template_id: c.req_str(template, "template_id", i)?.to_string(),
                    generator: c.req_str(generator, "generator", i)?.to_string(),
                })
            })
            .collect()
    }
}
