//! [`Scene`]: one multi-view capture (a MessyTable scene, an MMPTrack scene, an EgoHumans
//! subsequence, an Ego-Exo4D take), with its Arrow schema.

use std::sync::{Arc, OnceLock};

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use crate::arrow_io::{ArrowRecord, Columns, arr_str, field};
use crate::error::Result;
use crate::vocab::SourceKind;

/// One capture of one source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scene {
    /// Unique across sources: `<source>/<native id>`, e.g. `messytable/20190921-00003-01`.
    pub scene_id: String,
    /// The dataset it comes from.
    pub source: SourceKind,
    /// The dataset's own split name (`train`, `val`, ...), not crossview's train/bench.
    pub source_split: String,
}

impl Scene {
    /// The scene id for a source's native id.
    pub fn make_id(source: SourceKind, native_id: &str) -> String {
        format!("{}/{native_id}", source.name())
    }

    /// The native id within a scene id [`make_id`](Self::make_id) made for `source`.
    pub fn native_id(source: SourceKind, scene_id: &str) -> Option<&str> {
        scene_id.strip_prefix(source.name())?.strip_prefix('/')
    }
}

impl ArrowRecord for Scene {
    const NAME: &'static str = "scene";

    fn schema() -> SchemaRef {
        static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
        SCHEMA
            .get_or_init(|| {
                Arc::new(Schema::new(vec![
                    field("scene_id", DataType::Utf8),
                    field("source", DataType::Utf8),
                    field("source_split", DataType::Utf8),
                ]))
            })
            .clone()
    }

    fn to_batch(rows: &[Self]) -> Result<RecordBatch> {
        Ok(RecordBatch::try_new(
            Self::schema(),
            vec![
                arr_str(rows.iter().map(|r| r.scene_id.as_str())),
                arr_str(rows.iter().map(|r| r.source.name())),
                arr_str(rows.iter().map(|r| r.source_split.as_str())),
            ],
        )?)
    }

    fn from_batch(batch: &RecordBatch) -> Result<Vec<Self>> {
        let c = Columns::new(batch, Self::NAME);
        let (id, source, split) = (
            c.utf8("scene_id")?,
            c.utf8("source")?,
            c.utf8("source_split")?,
        );
        (0..batch.num_rows())
            .map(|i| {
                Ok(Scene {
                    scene_id: c.req_str(id, "scene_id", i)?.to_string(),
                    source: SourceKind::from_name(c.req_str(source, "source", i)?)
                        .map_err(|e| c.row_error(i, e))?,
                    source_split: c.req_str(split, "source_split", i)?.to_string(),
                })
            })
            .collect()
    }
}
