//! [`SampleRef`]: a [`QaSample`] borrowed from wherever its parts live, and what is made from
//! it: the content id and, through [`SampleColumns`], the shard's Arrow columns.

use std::borrow::Cow;
use std::sync::Arc;

use arrow_array::builder::{ArrayBuilder, Float32Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::DataType;

use super::qa::{QaSample, Region, ViewRef};
use crate::arrow_io::{
    ArrowRecord, arr_bool, arr_f32, arr_i32, child_field, fixed_list, list, struct_fields,
    struct_of_list,
};
use crate::bbox::BoxXyxy;
use crate::error::{Error, Result};
use crate::hash::SampleIdHasher;
use crate::mask::CocoRle;
use crate::vocab::{MaskSource, SourceKind, Split, Task};

/// A region borrowed from its observation and mask, with its mask's digest when made
/// already: a mask shown in many samples is digested once for all their ids.
#[derive(Clone, Copy, Debug)]
pub struct BorrowedRegion<'a> {
    /// Index into the sample's views.
    pub view_index: u32,
    /// The instance.
    pub instance_id: &'a str,
    /// The instance's category.
    pub category: &'a str,
    /// Box in that view's pixels.
    pub bbox: BoxXyxy,
    /// Mask in that view.
    pub mask: &'a CocoRle,
    /// [`mask_digest`] of `mask`, if made already (else the id makes it).
    pub mask_digest: Option<u128>,
    /// Mask provenance.
    pub mask_source: &'a MaskSource,
}

/// The xxh3-128 digest of a mask's counts, as the sample id takes it.
pub fn mask_digest(mask: &CocoRle) -> u128 {
    xxhash_rust::xxh3::xxh3_128(mask.counts().as_bytes())
}

impl<'a> BorrowedRegion<'a> {
    /// A region of an owned sample (its mask digested only if an id is made).
    pub fn of(r: &'a Region) -> Self {
        BorrowedRegion {
            view_index: r.view_index,
            instance_id: &r.instance_id,
            category: &r.category,
            bbox: r.bbox,
            mask: &r.mask,
            mask_digest: None,
            mask_source: &r.mask_source,
        }
    }

    /// The owned region.
    pub fn to_region(&self) -> Region {
        Region {
            view_index: self.view_index,
            instance_id: self.instance_id.to_string(),
            category: self.category.to_string(),
            bbox: self.bbox,
            mask: self.mask.clone(),
            mask_source: self.mask_source.clone(),
        }
    }
}

/// One sample, its views and regions borrowed (a build makes millions of samples from a
/// few thousand views and masks per scene, so it copies them only into the columns).
/// Field meanings are [`QaSample`]'s.
#[derive(Clone, Debug)]
pub struct SampleRef<'a> {
    /// Stable id: [`SampleRef::content_id`] (empty until set).
    pub sample_id: Cow<'a, str>,
    /// Q1..Q17.
    pub task: Task,
    /// Source dataset.
    pub source: SourceKind,
    /// Scene.
    pub scene_id: &'a str,
    /// train or bench.
    pub split: Split,
    /// Question text with one `<region>` per region.
    pub question: Cow<'a, str>,
    /// Options (empty when open-ended).
    pub options: Vec<&'a str>,
    /// Index of the correct option, -1 when open-ended.
    pub answer_index: i32,
    /// Answer text.
    pub answer: Cow<'a, str>,
    /// Short-answer form without options.
    pub open_ended: bool,
    /// Views shown.
    pub views: Vec<&'a ViewRef>,
    /// Regions in placeholder order.
    pub regions: Vec<BorrowedRegion<'a>>,
    /// Template (paraphrase) id.
    pub template_id: Cow<'a, str>,
    /// Generation provenance.
    pub generator: &'a str,
}

impl QaSample {
    /// The sample borrowed.
    pub fn as_sample_ref(&self) -> SampleRef<'_> {
        SampleRef {
            sample_id: Cow::Borrowed(&self.sample_id),
            task: self.task,
            source: self.source,
            scene_id: &self.scene_id,
            split: self.split,
            question: Cow::Borrowed(&self.question),
            options: self.options.iter().map(String::as_str).collect(),
            answer_index: self.answer_index,
            answer: Cow::Borrowed(&self.answer),
            open_ended: self.open_ended,
            views: self.views.iter().collect(),
            regions: self.regions.iter().map(BorrowedRegion::of).collect(),
            template_id: Cow::Borrowed(&self.template_id),
            generator: &self.generator,
        }
    }

    /// The content hash that makes a stable sample id: everything a reader sees except the
    /// split (a function of the scene) and the id itself. 32 hex digits.
    pub fn content_id(&self) -> String {
        self.as_sample_ref().content_id()
    }
}

impl SampleRef<'_> {
    /// [`QaSample::content_id`] of this sample.
    pub fn content_id(&self) -> String {
        let mut h = SampleIdHasher::new("crossview.qa_sample.v3")
            .str(self.task.name())
            .str(self.source.name())
            .str(self.scene_id)
            .str(&self.question)
            .u64(self.options.len() as u64);
        for o in &self.options {
            h = h.str(o);
        }
        h = h
            .i64(i64::from(self.answer_index))
            .str(&self.answer)
            .u64(u64::from(self.open_ended))
            .str(&self.template_id)
            .u64(self.views.len() as u64);
        for v in &self.views {
            h = h.str(&v.view_id).str(&v.frame_id).str(&v.image);
        }
        h = h.u64(self.regions.len() as u64);
        for r in &self.regions {
            h = h
                .u64(u64::from(r.view_index))
                .str(r.instance_id)
                .str(r.category);
            for v in r.bbox.to_array() {
                h = h.u64(u64::from(v.to_bits()));
            }
            h = h
                .u64(u64::from(r.mask.height()))
                .u64(u64::from(r.mask.width()))
                .long_digest(
                    r.mask.counts().len() as u64,
                    r.mask_digest.unwrap_or_else(|| mask_digest(r.mask)),
                )
                .str(r.mask_source.kind.name());
        }
        h.finish_hex()
    }

    /// The owned sample.
    pub fn to_sample(&self) -> QaSample {
        QaSample {
            sample_id: self.sample_id.to_string(),
            task: self.task,
            source: self.source,
            scene_id: self.scene_id.to_string(),
            split: self.split,
            question: self.question.to_string(),
            options: self.options.iter().map(|o| o.to_string()).collect(),
            answer_index: self.answer_index,
            answer: self.answer.to_string(),
            open_ended: self.open_ended,
            views: self.views.iter().map(|&v| v.clone()).collect(),
            regions: self.regions.iter().map(BorrowedRegion::to_region).collect(),
            template_id: self.template_id.to_string(),
            generator: self.generator.to_string(),
        }
    }
}

/// [`QaSample`]'s Arrow columns filled one sample at a time, then taken as a batch: the one
/// place samples become Arrow (owned ones go through [`QaSample::as_sample_ref`]).
pub struct SampleColumns {
    rows: usize,
    sample_id: StringBuilder,
    task: StringBuilder,
    category: StringBuilder,
    source: StringBuilder,
    scene_id: StringBuilder,
    split: StringBuilder,
    question: StringBuilder,
    option_offsets: Vec<i32>,
    options: StringBuilder,
    answer_index: Vec<i32>,
    answer: StringBuilder,
    open_ended: Vec<bool>,
    view_offsets: Vec<i32>,
    view_id: StringBuilder,
    frame_id: StringBuilder,
    image: StringBuilder,
    width: Vec<i32>,
    height: Vec<i32>,
    region_offsets: Vec<i32>,
    view_index: Vec<i32>,
    instance_id: StringBuilder,
    region_category: StringBuilder,
    bbox: Vec<f32>,
    mask_size: Vec<i32>,
    mask_counts: StringBuilder,
    mask_source: StringBuilder,
    mask_model: StringBuilder,
    mask_score: Float32Builder,
    template_id: StringBuilder,
    generator: StringBuilder,
}

impl Default for SampleColumns {
    fn default() -> Self {
        SampleColumns {
            rows: 0,
            sample_id: StringBuilder::new(),
            task: StringBuilder::new(),
            category: StringBuilder::new(),
            source: StringBuilder::new(),
            scene_id: StringBuilder::new(),
            split: StringBuilder::new(),
            question: StringBuilder::new(),
            option_offsets: vec![0],
            options: StringBuilder::new(),
            answer_index: Vec::new(),
            answer: StringBuilder::new(),
            open_ended: Vec::new(),
            view_offsets: vec![0],
            view_id: StringBuilder::new(),
            frame_id: StringBuilder::new(),
            image: StringBuilder::new(),
            width: Vec::new(),
            height: Vec::new(),
            region_offsets: vec![0],
            view_index: Vec::new(),
            instance_id: StringBuilder::new(),
            region_category: StringBuilder::new(),
            bbox: Vec::new(),
            mask_size: Vec::new(),
            mask_counts: StringBuilder::new(),
            mask_source: StringBuilder::new(),
            mask_model: StringBuilder::new(),
            mask_score: Float32Builder::new(),
            template_id: StringBuilder::new(),
            generator: StringBuilder::new(),
        }
    }
}

/// A list's next end offset (Arrow's i32 offsets; a batch is kept far below 2^31 entries).
fn next_offset(offsets: &mut Vec<i32>, added: usize) {
    let last = offsets.last().copied().unwrap_or(0);
    offsets.push(last + added as i32);
}

impl SampleColumns {
    /// Empty columns.
    pub fn new() -> Self {
        Self::default()
    }

    /// Samples added since the last [`SampleColumns::finish`].
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no sample was added since the last [`SampleColumns::finish`].
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Adds one sample as the next row.
    pub fn push(&mut self, s: &SampleRef<'_>) {
        self.rows += 1;
        self.sample_id.append_value(&s.sample_id);
        self.task.append_value(s.task.name());
        self.category.append_value(s.task.category().name());
        self.source.append_value(s.source.name());
        self.scene_id.append_value(s.scene_id);
        self.split.append_value(s.split.name());
        self.question.append_value(&s.question);
        for o in &s.options {
            self.options.append_value(o);
        }
        next_offset(&mut self.option_offsets, s.options.len());
        self.answer_index.push(s.answer_index);
        self.answer.append_value(&s.answer);
        self.open_ended.push(s.open_ended);
        for v in &s.views {
            self.view_id.append_value(&v.view_id);
            self.frame_id.append_value(&v.frame_id);
            self.image.append_value(&v.image);
            self.width.push(v.width as i32);
            self.height.push(v.height as i32);
        }
        next_offset(&mut self.view_offsets, s.views.len());
        for r in &s.regions {
            self.view_index.push(r.view_index as i32);
            self.instance_id.append_value(r.instance_id);
            self.region_category.append_value(r.category);
            self.bbox.extend_from_slice(&r.bbox.to_array());
            self.mask_size
                .extend_from_slice(&[r.mask.height() as i32, r.mask.width() as i32]);
            self.mask_counts.append_value(r.mask.counts());
            self.mask_source.append_value(r.mask_source.kind.name());
            self.mask_model
                .append_option(r.mask_source.model.as_deref());
            self.mask_score.append_option(r.mask_source.score);
        }
        next_offset(&mut self.region_offsets, s.regions.len());
        self.template_id.append_value(&s.template_id);
        self.generator.append_value(s.generator);
    }

    /// The rows added so far as one batch; the columns start empty again, with room for
    /// as much as this batch held (batches of a shard are alike, so buffers are not grown
    /// again from nothing for each).
    pub fn finish(&mut self) -> Result<RecordBatch> {
        fn strings(b: &mut StringBuilder) -> ArrayRef {
            let next = StringBuilder::with_capacity(b.len(), b.values_slice().len());
            Arc::new(std::mem::replace(b, next).finish())
        }
        fn values<T>(v: &mut Vec<T>) -> Vec<T> {
            let next = Vec::with_capacity(v.len());
            std::mem::replace(v, next)
        }
        fn offsets(v: &mut Vec<i32>) -> Vec<i32> {
            let mut next = Vec::with_capacity(v.len());
            next.push(0);
            std::mem::replace(v, next)
        }
        let rows = std::mem::take(&mut self.rows);
        let schema = QaSample::schema();
        let dt = |name: &str| -> Result<DataType> {
            Ok(schema.field_with_name(name)?.data_type().clone())
        };
        let all = vec![true; rows];

        let view_dt = dt("views")?;
        let view_struct = struct_of_list(
            &view_dt,
            vec![
                strings(&mut self.view_id),
                strings(&mut self.frame_id),
                strings(&mut self.image),
                arr_i32(values(&mut self.width)),
                arr_i32(values(&mut self.height)),
            ],
        )?;

        let reg_dt = dt("regions")?;
        let reg_fields = struct_fields(child_field(&reg_dt)?.data_type())?;
        let reg_type = |name: &str| -> Result<DataType> {
            reg_fields
                .find(name)
                .map(|(_, f)| f.data_type().clone())
                .ok_or_else(|| Error::Internal(format!("no region field {name}")))
        };
        let n_regions = self.view_index.len();
        let reg_all = vec![true; n_regions];
        let region_struct = struct_of_list(
            &reg_dt,
            vec![
                arr_i32(values(&mut self.view_index)),
                strings(&mut self.instance_id),
                strings(&mut self.region_category),
                fixed_list(
                    &reg_type("bbox")?,
                    arr_f32(values(&mut self.bbox)),
                    &reg_all,
                )?,
                fixed_list(
                    &reg_type("mask_size")?,
                    arr_i32(values(&mut self.mask_size)),
                    &reg_all,
                )?,
                strings(&mut self.mask_counts),
                strings(&mut self.mask_source),
                strings(&mut self.mask_model),
                Arc::new(self.mask_score.finish()) as ArrayRef,
            ],
        )?;

        let columns = vec![
            strings(&mut self.sample_id),
            strings(&mut self.task),
            strings(&mut self.category),
            strings(&mut self.source),
            strings(&mut self.scene_id),
            strings(&mut self.split),
            strings(&mut self.question),
            list(
                &dt("options")?,
                offsets(&mut self.option_offsets),
                strings(&mut self.options),
                &all,
            )?,
            arr_i32(values(&mut self.answer_index)),
            strings(&mut self.answer),
            arr_bool(values(&mut self.open_ended)),
            list(&view_dt, offsets(&mut self.view_offsets), view_struct, &all)?,
            list(
                &reg_dt,
                offsets(&mut self.region_offsets),
                region_struct,
                &all,
            )?,
            strings(&mut self.template_id),
            strings(&mut self.generator),
        ];
        Ok(RecordBatch::try_new(schema, columns)?)
    }
}
