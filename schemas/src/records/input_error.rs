//! [`InputError`]: one problem with the input (file, place in the file, class, reason), kept as
//! data so the rest of a tree still loads; with its Arrow schema (`errors.parquet`).

use std::sync::{Arc, OnceLock};

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use crate::arrow_io::{ArrowRecord, Columns, arr_opt_str, arr_str, field, nullable};
use crate::error::Result;
use crate::vocab::ErrorClass;

/// A problem with one input file.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct InputError {
    /// Source kind (`messytable`, ...) or the stage that found it.
    pub source: String,
    /// The file, relative to the tree's root where possible.
    pub file: String,
    /// Where in the file: a JSON path, `line 12`, a frame number; empty for the whole file.
    pub location: String,
    /// What kind of problem.
    pub class: ErrorClass,
    /// Human-readable reason.
    pub reason: String,
    /// The scene affected, when known.
    pub scene_id: Option<String>,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file)?;
        if !self.location.is_empty() {
            write!(f, " ({})", self.location)?;
        }
        write!(f, ": {} [{}]", self.reason, self.class)
    }
}

impl ArrowRecord for InputError {
    const NAME: &'static str = "input_error";

    fn schema() -> SchemaRef {
        static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
        SCHEMA
            .get_or_init(|| {
                Arc::new(Schema::new(vec![
                    field("source", DataType::Utf8),
                    field("file", DataType::Utf8),
                    field("location", DataType::Utf8),
                    field("class", DataType::Utf8),
                    field("reason", DataType::Utf8),
                    nullable("scene_id", DataType::Utf8),
                ]))
            })
            .clone()
    }

    fn to_batch(rows: &[Self]) -> Result<RecordBatch> {
        Ok(RecordBatch::try_new(
            Self::schema(),
            vec![
                arr_str(rows.iter().map(|r| r.source.as_str())),
                arr_str(rows.iter().map(|r| r.file.as_str())),
                arr_str(rows.iter().map(|r| r.location.as_str())),
                arr_str(rows.iter().map(|r| r.class.name())),
                arr_str(rows.iter().map(|r| r.reason.as_str())),
                arr_opt_str(rows.iter().map(|r| r.scene_id.as_deref())),
            ],
        )?)
    }

    fn from_batch(batch: &RecordBatch) -> Result<Vec<Self>> {
        let c = Columns::new(batch, Self::NAME);
        let (src, file, loc) = (c.utf8("source")?, c.utf8("file")?, c.utf8("location")?);
        let (class, reason, scene) = (c.utf8("class")?, c.utf8("reason")?, c.utf8("scene_id")?);
        (0..batch.num_rows())
            .map(|i| {
                Ok(InputError {
                    source: c.req_str(src, "source", i)?.to_string(),
                    file: c.req_str(file, "file", i)?.to_string(),
                    location: c.req_str(loc, "location", i)?.to_string(),
                    class: ErrorClass::from_name(c.req_str(class, "class", i)?)
                        .map_err(|e| c.row_error(i, e))?,
                    reason: c.req_str(reason, "reason", i)?.to_string(),
                    scene_id: Columns::opt_str(scene, i).map(str::to_string),
                })
            })
            .collect()
    }
}
