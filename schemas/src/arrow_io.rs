//! [`ArrowRecord`]: conversion of canonical records to and from Arrow `RecordBatch`es, plus the
//! column helpers the record modules share (typed column lookup, nested array assembly).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type, Int32Type, UInt32Type};
use arrow_array::{
    Array, ArrayRef, BooleanArray, FixedSizeListArray, Float32Array, Float64Array, Int32Array,
    ListArray, RecordBatch, StringArray, StructArray, UInt8Array, UInt32Array,
};
use arrow_buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, FieldRef, Fields, SchemaRef};

use crate::error::{Error, Result};

/// A record type with one Arrow schema, convertible to and from record batches.
///
/// The schema is defined once, in [`ArrowRecord::schema`]; the conversions build exactly
/// that schema and read it back, so `from_batch(to_batch(rows)) == rows`.
pub trait ArrowRecord: Sized {
    /// Name stored in Parquet metadata (`crossview.record`), e.g. `qa_sample`.
    const NAME: &'static str;
    /// The Arrow schema of a batch of these records.
    fn schema() -> SchemaRef;
    /// Builds a batch from records.
    fn to_batch(rows: &[Self]) -> Result<RecordBatch>;
    /// Reads records back from a batch with this schema (extra columns are ignored).
    fn from_batch(batch: &RecordBatch) -> Result<Vec<Self>>;
    /// Parquet leaf-column paths whose values are (nearly) unique per row, written without
    /// dictionary or page statistics.
    fn unique_columns() -> &'static [&'static [&'static str]] {
        &[]
    }
    /// Parquet leaf-column paths written without statistics: free text (wording,
    /// provenance) and strings inside lists, which readers do not select row groups by.
    /// Min/max over millions of mostly equal strings compares each one twice for nothing.
    fn unstatistical_columns() -> &'static [&'static [&'static str]] {
        &[]
    }
}

/// A non-null field.
pub(crate) fn field(name: &str, dt: DataType) -> Field {
    Field::new(name, dt, false)
}

/// A nullable field.
pub(crate) fn nullable(name: &str, dt: DataType) -> Field {
    Field::new(name, dt, true)
}

/// `list<item>` of a type.
pub(crate) fn list_of(dt: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(dt, true)))
}

/// `fixed_size_list<item>[n]` of a type.
pub(crate) fn fixed_of(dt: DataType, n: i32) -> DataType {
    DataType::FixedSizeList(Arc::new(Field::new_list_field(dt, true)), n)
}

/// `list<struct{fields}>`.
pub(crate) fn list_of_struct(fields: Vec<Field>) -> DataType {
    list_of(DataType::Struct(Fields::from(fields)))
}

/// The child field of a list or fixed-size-list field of `schema`.
pub(crate) fn child_field(dt: &DataType) -> Result<FieldRef> {
    match dt {
        DataType::List(f) | DataType::FixedSizeList(f, _) => Ok(f.clone()),
        other => Err(Error::Internal(format!(
            "expected a list type, found {other}"
        ))),
    }
}

/// The fields of a struct type.
pub(crate) fn struct_fields(dt: &DataType) -> Result<Fields> {
    match dt {
        DataType::Struct(f) => Ok(f.clone()),
        other => Err(Error::Internal(format!(
            "expected a struct type, found {other}"
        ))),
    }
}

/// A validity buffer from per-row presence, `None` when all rows are present.
pub(crate) fn validity(present: &[bool]) -> Option<NullBuffer> {
    if present.iter().all(|&p| p) {
        None
    } else {
        Some(NullBuffer::from(present.to_vec()))
    }
}

/// A fixed-size list column from flat values (`n` per row; rows absent in `present` hold
/// placeholder values).
pub(crate) fn fixed_list(dt: &DataType, values: ArrayRef, present: &[bool]) -> Result<ArrayRef> {
    let (child, n) = match dt {
        DataType::FixedSizeList(f, n) => (f.clone(), *n),
        other => {
            return Err(Error::Internal(format!(
                "expected fixed_size_list, found {other}"
            )));
        }
    };
    Ok(Arc::new(FixedSizeListArray::try_new(
        child,
        n,
        values,
        validity(present),
    )?))
}

/// A list column from offsets and child values.
pub(crate) fn list(
    dt: &DataType,
    offsets: Vec<i32>,
    values: ArrayRef,
    present: &[bool],
) -> Result<ArrayRef> {
    let child = child_field(dt)?;
    Ok(Arc::new(ListArray::try_new(
        child,
        OffsetBuffer::new(ScalarBuffer::from(offsets)),
        values,
        validity(present),
    )?))
}

/// A struct array of the list child of `dt`, from its columns in field order.
pub(crate) fn struct_of_list(dt: &DataType, columns: Vec<ArrayRef>) -> Result<ArrayRef> {
    let fields = struct_fields(child_field(dt)?.data_type())?;
    Ok(Arc::new(StructArray::try_new(fields, columns, None)?))
}

/// Typed, named access to the columns of a batch, with errors that name the record type.
pub(crate) struct Columns<'a> {
    batch: &'a RecordBatch,
    record: &'static str,
}

impl<'a> Columns<'a> {
    pub(crate) fn new(batch: &'a RecordBatch, record: &'static str) -> Self {
        Columns { batch, record }
    }

    fn column(&self, name: &str) -> Result<&'a ArrayRef> {
        self.batch
            .column_by_name(name)
            .ok_or_else(|| Error::Column {
                record: self.record,
                column: name.into(),
                reason: "missing".into(),
            })
    }

    fn wrong_type(&self, name: &str, want: &str, col: &ArrayRef) -> Error {
        Error::Column {
            record: self.record,
            column: name.into(),
            reason: format!("expected {want}, found {}", col.data_type()),
        }
    }

    pub(crate) fn utf8(&self, name: &str) -> Result<&'a StringArray> {
        let c = self.column(name)?;
        c.as_string_opt::<i32>()
            .ok_or_else(|| self.wrong_type(name, "utf8", c))
    }
    pub(crate) fn f64(&self, name: &str) -> Result<&'a Float64Array> {
        let c = self.column(name)?;
        c.as_primitive_opt::<Float64Type>()
            .ok_or_else(|| self.wrong_type(name, "float64", c))
    }
    pub(crate) fn f32(&self, name: &str) -> Result<&'a Float32Array> {
        let c = self.column(name)?;
        c.as_primitive_opt::<Float32Type>()
            .ok_or_else(|| self.wrong_type(name, "float32", c))
    }
    pub(crate) fn i32(&self, name: &str) -> Result<&'a Int32Array> {
        let c = self.column(name)?;
        c.as_primitive_opt::<Int32Type>()
            .ok_or_else(|| self.wrong_type(name, "int32", c))
    }
    pub(crate) fn u32(&self, name: &str) -> Result<&'a UInt32Array> {
        let c = self.column(name)?;
        c.as_primitive_opt::<UInt32Type>()
            .ok_or_else(|| self.wrong_type(name, "uint32", c))
    }
    pub(crate) fn bool(&self, name: &str) -> Result<&'a BooleanArray> {
        let c = self.column(name)?;
        c.as_boolean_opt()
            .ok_or_else(|| self.wrong_type(name, "bool", c))
    }
    pub(crate) fn list(&self, name: &str) -> Result<&'a ListArray> {
        let c = self.column(name)?;
        c.as_list_opt::<i32>()
            .ok_or_else(|| self.wrong_type(name, "list", c))
    }
    pub(crate) fn fixed(&self, name: &str) -> Result<&'a FixedSizeListArray> {
        let c = self.column(name)?;
        c.as_fixed_size_list_opt()
            .ok_or_else(|| self.wrong_type(name, "fixed_size_list", c))
    }

    /// An error about one row.
    pub(crate) fn row_error(&self, row: usize, reason: impl std::fmt::Display) -> Error {
        Error::Row {
            record: self.record,
            row,
            reason: reason.to_string(),
        }
    }

    /// A required string value.
    pub(crate) fn req_str(&self, col: &'a StringArray, name: &str, row: usize) -> Result<&'a str> {
        if col.is_null(row) {
            return Err(self.row_error(row, format!("`{name}` is null")));
        }
        Ok(col.value(row))
    }

    /// An optional string value.
    pub(crate) fn opt_str(col: &'a StringArray, row: usize) -> Option<&'a str> {
        (!col.is_null(row)).then(|| col.value(row))
    }
}

/// The columns of a struct array (list child), looked up like batch columns.
pub(crate) fn struct_columns(
    array: &ArrayRef,
    record: &'static str,
    name: &str,
) -> Result<RecordBatch> {
    let s = array.as_struct_opt().ok_or_else(|| Error::Column {
        record,
        column: name.into(),
        reason: format!("expected a list of structs, found {}", array.data_type()),
    })?;
    Ok(RecordBatch::from(s.clone()))
}

/// The `n` values of row `row` of a fixed-size list of f64, or `None` if null.
pub(crate) fn fixed_f64_row(arr: &FixedSizeListArray, row: usize) -> Option<Vec<f64>> {
    if arr.is_null(row) {
        return None;
    }
    let n = arr.value_length() as usize;
    let values = arr.values().as_primitive_opt::<Float64Type>()?;
    Some(values.values()[row * n..(row + 1) * n].to_vec())
}

/// The `n` values of row `row` of a fixed-size list of f32, or `None` if null.
pub(crate) fn fixed_f32_row(arr: &FixedSizeListArray, row: usize) -> Option<&[f32]> {
    if arr.is_null(row) {
        return None;
    }
    let n = arr.value_length() as usize;
    let values = arr.values().as_primitive_opt::<Float32Type>()?;
    Some(&values.values()[row * n..(row + 1) * n])
}

/// The `n` values of row `row` of a fixed-size list of i32, or `None` if null.
pub(crate) fn fixed_i32_row(arr: &FixedSizeListArray, row: usize) -> Option<&[i32]> {
    if arr.is_null(row) {
        return None;
    }
    let n = arr.value_length() as usize;
    let values = arr.values().as_primitive_opt::<Int32Type>()?;
    Some(&values.values()[row * n..(row + 1) * n])
}

/// Helpers for building arrays from Rust vectors.
pub(crate) fn arr_f64(v: Vec<f64>) -> ArrayRef {
    Arc::new(Float64Array::from(v))
}
pub(crate) fn arr_f32(v: Vec<f32>) -> ArrayRef {
    Arc::new(Float32Array::from(v))
}
pub(crate) fn arr_i32(v: Vec<i32>) -> ArrayRef {
    Arc::new(Int32Array::from(v))
}
pub(crate) fn arr_u32(v: Vec<u32>) -> ArrayRef {
    Arc::new(UInt32Array::from(v))
}
pub(crate) fn arr_u8(v: Vec<u8>) -> ArrayRef {
    Arc::new(UInt8Array::from(v))
}
pub(crate) fn arr_bool(v: Vec<bool>) -> ArrayRef {
    Arc::new(BooleanArray::from(v))
}
pub(crate) fn arr_str<'s>(v: impl IntoIterator<Item = &'s str>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(v))
}
pub(crate) fn arr_opt_str<'s>(v: impl IntoIterator<Item = Option<&'s str>>) -> ArrayRef {
    Arc::new(v.into_iter().collect::<StringArray>())
}
pub(crate) fn arr_opt_f32(v: impl IntoIterator<Item = Option<f32>>) -> ArrayRef {
    Arc::new(v.into_iter().collect::<Float32Array>())
}
pub(crate) fn arr_opt_u32(v: impl IntoIterator<Item = Option<u32>>) -> ArrayRef {
    Arc::new(v.into_iter().collect::<UInt32Array>())
}
