//! Parquet I/O for [`ArrowRecord`]s: [`RecordWriter`] (zstd, configured row groups, schema version
//! and config hash in key-value metadata, atomic publish) and [`RecordReader`] (row group by row group).

use std::fs::File;
use std::io::Write;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::arrow_writer::{ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves};
use parquet::basic::{Compression, ZstdLevel};
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::{KeyValue, PageIndexPolicy};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::statistics::Statistics;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use rayon::prelude::*;

use crate::arrow_io::ArrowRecord;
use crate::error::{Error, Result};

/// Version of the record schemas; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;
/// Rows per row group unless configured otherwise: small enough that a streaming reader
/// holds little, large enough for good compression.
pub const DEFAULT_ROW_GROUP_ROWS: usize = 16_384;
/// zstd level unless configured otherwise (level 1 writes about twice as fast as level 3 on
/// mask-heavy rows for a few percent of size).
pub const DEFAULT_ZSTD_LEVEL: i32 = 1;

/// Metadata key naming the record type of a file.
pub const META_RECORD: &str = "crossview.record";
/// Metadata key holding [`SCHEMA_VERSION`].
pub const META_SCHEMA_VERSION: &str = "crossview.schema_version";
/// Metadata key holding the hash of the config that produced the file.
pub const META_CONFIG_HASH: &str = "crossview.config_hash";

/// How records are written.
#[derive(Clone, Debug, PartialEq)]
pub struct WriteOptions {
    /// Rows per row group.
    pub row_group_rows: usize,
    /// zstd compression level (1..=22).
    pub zstd_level: i32,
    /// Hash of the config that produced the file (stored in metadata).
    pub config_hash: String,
    /// Encode a batch's columns in parallel on the rayon pool (the same bytes): for a writer
    /// that would otherwise leave the pool's threads idle. Writers that already keep every
    /// thread busy lose a little to waiting on each batch's slowest column.
    pub parallel_columns: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            row_group_rows: DEFAULT_ROW_GROUP_ROWS,
            zstd_level: DEFAULT_ZSTD_LEVEL,
            config_hash: String::new(),
            parallel_columns: false,
        }
    }
}

/// A file written under a temporary name and renamed into place on [`AtomicFile::commit`],
/// so readers never see it half-written; dropped uncommitted, the temporary is removed.
pub struct AtomicFile {
    file: Option<File>,
    tmp: PathBuf,
    target: PathBuf,
}

impl AtomicFile {
    /// Starts writing `target` (its directory must exist).
    pub fn create(target: impl AsRef<Path>) -> Result<Self> {
        let target = target.as_ref().to_path_buf();
        let name = target
            .file_name()
            .ok_or_else(|| Error::InvalidValue {
                what: "output path",
                reason: format!("{} has no file name", target.display()),
            })?
            .to_string_lossy()
            .into_owned();
        let tmp = target.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        Ok(AtomicFile {
            file: Some(file),
            tmp,
            target,
        })
    }

    /// The file being written.
    pub fn file(&mut self) -> &mut File {
        // Only `commit` takes the file, and it consumes self.
        self.file
            .as_mut()
            .unwrap_or_else(|| unreachable!("file taken before commit"))
    }

    /// Flushes, fsyncs and renames into place, then fsyncs the directory.
    pub fn commit(mut self) -> Result<()> {
        let mut file = self
            .file
            .take()
            .ok_or_else(|| Error::Internal("atomic file committed twice".into()))?;
        file.flush().map_err(|e| Error::io(&self.tmp, e))?;
        file.sync_all().map_err(|e| Error::io(&self.tmp, e))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.target).map_err(|e| Error::io(&self.target, e))?;
        if let Some(dir) = self.target.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Persist the rename itself; a failure here (e.g. on filesystems that cannot
            // open directories) leaves the data intact, so it is not an error.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file().write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file().flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes bytes to `path` atomically.
pub fn write_atomic(path: impl AsRef<Path>, data: &[u8]) -> Result<()> {
    let mut f = AtomicFile::create(path.as_ref())?;
    f.file()
        .write_all(data)
        .map_err(|e| Error::io(path.as_ref(), e))?;
    f.commit()
}

/// The Parquet properties [`RecordWriter`] writes `T` with (compression, row groups,
/// metadata, per-column statistics and dictionaries).
pub fn writer_properties<T: ArrowRecord>(opts: &WriteOptions) -> Result<WriterProperties> {
    let level = ZstdLevel::try_new(opts.zstd_level)?;
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_max_row_group_row_count(Some(opts.row_group_rows.max(1)))
        .set_created_by(format!("crossview {}", env!("CARGO_PKG_VERSION")))
        .set_key_value_metadata(Some(vec![
            KeyValue::new(META_RECORD.to_string(), T::NAME.to_string()),
            KeyValue::new(META_SCHEMA_VERSION.to_string(), SCHEMA_VERSION.to_string()),
            KeyValue::new(META_CONFIG_HASH.to_string(), opts.config_hash.clone()),
        ]));
    // Unique-per-row columns gain nothing from dictionaries or page statistics.
    for path in T::unique_columns() {
        let col = ColumnPath::new(path.iter().map(|s| s.to_string()).collect());
        b = b
            .set_column_dictionary_enabled(col.clone(), false)
            .set_column_statistics_enabled(col, EnabledStatistics::None);
    }
    for path in T::unstatistical_columns() {
        let col = ColumnPath::new(path.iter().map(|s| s.to_string()).collect());
        b = b.set_column_statistics_enabled(col, EnabledStatistics::None);
    }
    Ok(b.build())
}

/// Writes records of one type to a Parquet file, published atomically by
/// [`RecordWriter::finish`].
///
/// The bytes are those of parquet's `ArrowWriter` given the same batches; with
/// [`WriteOptions::parallel_columns`] a batch's columns are encoded in parallel on the rayon
/// pool (a rebuild that rewrites one shard would otherwise encode it on one core).
///
/// ```
/// use crossview_schemas::{RecordReader, RecordWriter, Scene, SourceKind, WriteOptions};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("scenes.parquet");
/// let scene = Scene { scene_id: "messytable/s1".into(), source: SourceKind::MessyTable,
///                     source_split: "train".into() };
/// let mut w = RecordWriter::<Scene>::create(&path, &WriteOptions::default()).unwrap();
/// w.write(&[scene.clone()]).unwrap();
/// assert_eq!(w.finish().unwrap(), 1);
/// assert_eq!(RecordReader::<Scene>::read_all(&path).unwrap(), vec![scene]);
/// ```
pub struct RecordWriter<T: ArrowRecord> {
    file: SerializedFileWriter<File>,
    columns: ArrowRowGroupWriterFactory,
    /// The row group being encoded: its column writers and rows.
    group: Option<(Vec<ArrowColumnWriter>, usize)>,
    row_group_rows: usize,
    parallel: bool,
    atomic: AtomicFile,
    rows: u64,
    _record: PhantomData<T>,
}

impl<T: ArrowRecord> RecordWriter<T> {
    /// Starts a file at `path` (visible only after [`RecordWriter::finish`]).
    pub fn create(path: impl AsRef<Path>, opts: &WriteOptions) -> Result<Self> {
        let mut atomic = AtomicFile::create(path)?;
        let file = atomic
            .file()
            .try_clone()
            .map_err(|e| Error::io(&atomic.tmp, e))?;
        // The high-level writer sets the file up (schema, Arrow schema metadata); its parts
        // are then driven here.
        let (file, columns) =
            ArrowWriter::try_new(file, T::schema(), Some(writer_properties::<T>(opts)?))?
                .into_serialized_writer()?;
        Ok(RecordWriter {
            file,
            columns,
            group: None,
            row_group_rows: opts.row_group_rows.max(1),
            parallel: opts.parallel_columns,
            atomic,
            rows: 0,
            _record: PhantomData,
        })
    }

    /// Appends records.
    pub fn write(&mut self, rows: &[T]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        self.write_batch(&T::to_batch(rows)?)
    }

    /// Appends a batch already in this record's schema. Row groups are cut where
    /// `ArrowWriter` cuts them: a batch that overfills one is split.
    pub fn write_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.schema().fields() != T::schema().fields() {
            return Err(Error::Internal(format!(
                "a batch of another schema written as {} records",
                T::NAME
            )));
        }
        let mut at = 0;
        while at < batch.num_rows() {
            let group = match &mut self.group {
                Some(group) => group,
                slot => slot.insert((
                    self.columns
                        .create_column_writers(self.file.flushed_row_groups().len())?,
                    0,
                )),
            };
            let take = (batch.num_rows() - at).min(self.row_group_rows - group.1);
            let part = batch.slice(at, take);
            let mut leaves = Vec::with_capacity(group.0.len());
            for (field, column) in part.schema().fields().iter().zip(part.columns()) {
                leaves.extend(compute_leaves(field, column)?);
            }
            if leaves.len() != group.0.len() {
                return Err(Error::Internal(format!(
                    "{} leaf columns for {} column writers",
                    leaves.len(),
                    group.0.len()
                )));
            }
            if self.parallel {
                group
                    .0
                    .par_iter_mut()
                    .zip(leaves.par_iter())
                    .try_for_each(|(writer, leaf)| writer.write(leaf))?;
            } else {
                for (writer, leaf) in group.0.iter_mut().zip(&leaves) {
                    writer.write(leaf)?;
                }
            }
            group.1 += take;
            at += take;
            if group.1 >= self.row_group_rows {
                self.flush_group()?;
            }
        }
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Closes the row group being encoded (its columns' last pages in parallel when
    /// configured) and appends it to the file.
    fn flush_group(&mut self) -> Result<()> {
        let Some((writers, _)) = self.group.take() else {
            return Ok(());
        };
        let chunks = if self.parallel {
            writers
                .into_par_iter()
                .map(ArrowColumnWriter::close)
                .collect::<std::result::Result<Vec<_>, _>>()?
        } else {
            writers
                .into_iter()
                .map(ArrowColumnWriter::close)
                .collect::<std::result::Result<Vec<_>, _>>()?
        };
        let mut group = self.file.next_row_group()?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut group)?;
        }
        group.close()?;
        Ok(())
    }

    /// Closes the row group being written (none if it has no rows): the next rows start
    /// another, whatever the configured row group size.
    pub fn end_row_group(&mut self) -> Result<()> {
        self.flush_group()
    }

    /// Appends row group `group` of `source` as it is in that file, its column chunks copied
    /// byte for byte (no decoding or encoding). The bytes are those of writing the group's
    /// rows when the source was written with the same options and the group started at the
    /// same row (pages follow the batches written). Only between row groups: the rows written
    /// so far must have closed theirs. `source` must be opened with
    /// [`RecordReader::open_for_copy`].
    pub fn append_row_group(&mut self, source: &RecordReader<T>, group: usize) -> Result<()> {
        if self.group.as_ref().is_some_and(|(_, rows)| *rows > 0) {
            return Err(Error::Internal(
                "a row group copied into one being written".into(),
            ));
        }
        self.group = None;
        let metadata = source.metadata.metadata();
        let Some(row_group) = metadata.row_groups().get(group) else {
            return Err(Error::Internal(format!(
                "row group {group} of {} copied; it has {}",
                source.path.display(),
                metadata.num_row_groups()
            )));
        };
        let page_index = metadata.page_index_for_row_group(group);
        let file = File::open(&source.path).map_err(|e| Error::io(&source.path, e))?;
        let rows = row_group.num_rows() as u64;
        let mut out = self.file.next_row_group()?;
        for (c, chunk) in row_group.columns().iter().enumerate() {
            let mut metadata = chunk.clone();
            if let Some(stats) = chunk.statistics() {
                // Read back, statistics forget that the writer also wrote the deprecated
                // min/max fields (it does for signed sort orders).
                let signed = chunk.column_descr().sort_order().is_signed();
                metadata = metadata
                    .into_builder()
                    .set_statistics(as_written(stats.clone(), signed))
                    .build()?;
            }
            let close = ColumnCloseResult {
                bytes_written: chunk.compressed_size() as u64,
                rows_written: rows,
                metadata,
                bloom_filter: None,
                column_index: page_index.column_index(c).cloned(),
                offset_index: page_index.offset_index(c).cloned(),
            };
            out.append_column(&file, close)?;
        }
        out.close()?;
        self.rows += rows;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Closes the file and publishes it; returns the number of rows.
    pub fn finish(mut self) -> Result<u64> {
        self.flush_group()?;
        self.file.close()?;
        self.atomic.commit()?;
        Ok(self.rows)
    }
}

/// Statistics read from a file as the writer holds them: with the deprecated min/max fields
/// written too when the sort order is signed.
fn as_written(stats: Statistics, signed: bool) -> Statistics {
    match stats {
        Statistics::Boolean(s) => Statistics::Boolean(s.with_backwards_compatible_min_max(signed)),
        Statistics::Int32(s) => Statistics::Int32(s.with_backwards_compatible_min_max(signed)),
        Statistics::Int64(s) => Statistics::Int64(s.with_backwards_compatible_min_max(signed)),
        Statistics::Int96(s) => Statistics::Int96(s.with_backwards_compatible_min_max(signed)),
        Statistics::Float(s) => Statistics::Float(s.with_backwards_compatible_min_max(signed)),
        Statistics::Double(s) => Statistics::Double(s.with_backwards_compatible_min_max(signed)),
        Statistics::ByteArray(s) => {
            Statistics::ByteArray(s.with_backwards_compatible_min_max(signed))
        }
        Statistics::FixedLenByteArray(s) => {
            Statistics::FixedLenByteArray(s.with_backwards_compatible_min_max(signed))
        }
    }
}

/// Reads a Parquet file of one record type, one row group at a time.
pub struct RecordReader<T: ArrowRecord> {
    path: PathBuf,
    metadata: ArrowReaderMetadata,
    next_group: usize,
    _record: PhantomData<T>,
}

impl<T: ArrowRecord> RecordReader<T> {
    /// Opens a file and checks that it holds `T` records of this [`SCHEMA_VERSION`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path.as_ref(), ArrowReaderOptions::default())
    }

    /// Opens a file like [`RecordReader::open`], with what its row groups need to be copied
    /// into another file as they are ([`RecordWriter::append_row_group`]): the page index and
    /// the pages' encoding counts as written.
    pub fn open_for_copy(path: impl AsRef<Path>) -> Result<Self> {
        let options = ArrowReaderOptions::default()
            .with_page_index_policy(PageIndexPolicy::Optional)
            .with_encoding_stats_as_mask(false);
        Self::open_with(path.as_ref(), options)
    }

    fn open_with(path: &Path, options: ArrowReaderOptions) -> Result<Self> {
        let path = path.to_path_buf();
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        let metadata = ArrowReaderMetadata::load(&file, options)?;
        let kv = |key: &str| -> Option<String> {
            metadata
                .metadata()
                .file_metadata()
                .key_value_metadata()?
                .iter()
                .find(|k| k.key == key)
                .and_then(|k| k.value.clone())
        };
        let contract = |reason: String| Error::FileContract {
            path: path.clone(),
            reason,
        };
        match kv(META_RECORD) {
            Some(r) if r == T::NAME => {}
            other => {
                return Err(contract(format!(
                    "holds {other:?} records, expected {:?}",
                    T::NAME
                )));
            }
        }
        match kv(META_SCHEMA_VERSION) {
            Some(v) if v == SCHEMA_VERSION.to_string() => {}
            other => {
                return Err(contract(format!(
                    "schema version {other:?}, this build reads {SCHEMA_VERSION}"
                )));
            }
        }
        Ok(RecordReader {
            path,
            metadata,
            next_group: 0,
            _record: PhantomData,
        })
    }

    /// The config hash stored in the file.
    pub fn config_hash(&self) -> Option<String> {
        self.metadata
            .metadata()
            .file_metadata()
            .key_value_metadata()?
            .iter()
            .find(|k| k.key == META_CONFIG_HASH)
            .and_then(|k| k.value.clone())
    }

    /// The Arrow schema the file holds (to compare with `T::schema()`).
    pub fn arrow_schema(&self) -> arrow_schema::SchemaRef {
        self.metadata.schema().clone()
    }

    /// Total rows in the file.
    pub fn num_rows(&self) -> u64 {
        self.metadata.metadata().file_metadata().num_rows() as u64
    }

    /// Number of row groups.
    pub fn num_row_groups(&self) -> usize {
        self.metadata.metadata().num_row_groups()
    }

    /// Rows of row group `group` (0 past the last).
    pub fn row_group_rows(&self, group: usize) -> u64 {
        (self.metadata.metadata().row_groups().get(group)).map_or(0, |g| g.num_rows() as u64)
    }

    /// The next row group as one batch, or `None` at the end.
    pub fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        if self.next_group >= self.num_row_groups() {
            return Ok(None);
        }
        let group = self.next_group;
        self.next_group += 1;
        self.row_group(group).map(Some)
    }

    /// Row group `group` (`< num_row_groups()`) as one batch; groups can be read in any
    /// order, and from several threads at once.
    pub fn row_group(&self, group: usize) -> Result<RecordBatch> {
        let rows = self.metadata.metadata().row_group(group).num_rows() as usize;
        // Opened again, not cloned: a cloned descriptor shares the file offset, which the
        // reader seeks, so threads reading groups at once would read each other's bytes.
        let file = File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        let reader =
            ParquetRecordBatchReaderBuilder::new_with_metadata(file, self.metadata.clone())
                .with_row_groups(vec![group])
                .with_batch_size(rows.max(1))
                .build()?;
        let batches = reader.collect::<std::result::Result<Vec<_>, _>>()?;
        arrow_select_concat(&batches)
    }

    /// Reads every record of a file.
    pub fn read_all(path: impl AsRef<Path>) -> Result<Vec<T>> {
        let mut reader = Self::open(path)?;
        let mut out = Vec::with_capacity(reader.num_rows() as usize);
        for rows in &mut reader {
            out.extend(rows?);
        }
        Ok(out)
    }
}

/// One row group yields one batch (batch size = group rows); several only if the reader
/// splits it, which it does not for a single group, so this keeps the first unless empty.
fn arrow_select_concat(batches: &[RecordBatch]) -> Result<RecordBatch> {
    match batches {
        [one] => Ok(one.clone()),
        _ => Err(Error::Internal(format!(
            "a row group read as {} batches; expected exactly one",
            batches.len()
        ))),
    }
}

impl<T: ArrowRecord> Iterator for RecordReader<T> {
    type Item = Result<Vec<T>>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_batch() {
            Ok(Some(batch)) => Some(T::from_batch(&batch).map_err(|e| match e {
                Error::Row {
                    record,
                    row,
                    reason,
                } => Error::FileContract {
                    path: self.path.clone(),
                    reason: format!(
                        "{record} row {row} of row group {}: {reason}",
                        self.next_group - 1
                    ),
                },
                other => other,
            })),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }
}
