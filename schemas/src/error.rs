//! The error type of crossview-schemas: bad masks, bad geometry, Arrow/Parquet failures.
//! User-data problems carry what was expected and what was found; bugs say `Internal`.

use std::path::PathBuf;

/// Result with this crate's [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in crossview-schemas.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An RLE whose runs do not cover exactly `height * width` pixels.
    #[error("RLE runs sum to {got} pixels but the mask is {height}x{width} = {expected}")]
    RleSize {
        /// Mask height in pixels.
        height: u32,
        /// Mask width in pixels.
        width: u32,
        /// `height * width`.
        expected: u64,
        /// The sum of the runs.
        got: u64,
    },
    /// A COCO compressed-counts string that does not decode.
    #[error("malformed COCO RLE counts string for a {height}x{width} mask: {reason}")]
    RleString {
        /// Mask height in pixels.
        height: u32,
        /// Mask width in pixels.
        width: u32,
        /// What the decoder reported.
        reason: String,
    },
    /// A bitmap whose length does not match its declared size.
    #[error("bitmap has {got} pixels but its size is {height}x{width}")]
    BitmapSize {
        /// Declared height.
        height: u32,
        /// Declared width.
        width: u32,
        /// Pixels supplied.
        got: usize,
    },
    /// Two masks of different sizes combined.
    #[error("mask sizes differ: {a:?} vs {b:?} (height, width)")]
    MaskSizeMismatch {
        /// First mask (height, width).
        a: (u32, u32),
        /// Second mask (height, width).
        b: (u32, u32),
    },
    /// A polygon with fewer than three vertices or an odd number of coordinates.
    #[error("polygon needs an even number (>= 6) of coordinates, got {0}")]
    Polygon(usize),
    /// An LZ-string stream that does not decode.
    #[error("LZ-string (URI component) stream does not decode: {reason}")]
    LzString {
        /// What went wrong, e.g. the offending character.
        reason: String,
    },
    /// A number that must be finite is NaN or infinite.
    #[error("{what} is not finite: {value}")]
    NonFinite {
        /// Which quantity.
        what: &'static str,
        /// The offending value.
        value: f64,
    },
    /// A value outside what the type allows (negative size, x2 < x1, not a rotation...).
    #[error("invalid {what}: {reason}")]
    InvalidValue {
        /// Which quantity.
        what: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// A column missing from a record batch, or of the wrong Arrow type.
    #[error("column `{column}` of {record}: {reason}")]
    Column {
        /// Record type being read.
        record: &'static str,
        /// The column.
        column: String,
        /// Missing, wrong type, unexpected null...
        reason: String,
    },
    /// A value in a record batch that does not form a valid record.
    #[error("row {row} of {record}: {reason}")]
    Row {
        /// Record type being read.
        record: &'static str,
        /// 0-based row within the batch.
        row: usize,
        /// Why the row is invalid.
        reason: String,
    },
    /// A Parquet file written for another record type or schema version.
    #[error("{path}: {reason}")]
    FileContract {
        /// The file.
        path: PathBuf,
        /// What does not match.
        reason: String,
    },
    /// I/O on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An Arrow error.
    #[error(transparent)]
    Arrow(#[from] arrow_schema::ArrowError),
    /// A Parquet error.
    #[error(transparent)]
    Parquet(#[from] parquet::errors::ParquetError),
    /// A bug in crossview, not a problem with the input.
    #[error("internal error (a bug in crossview): {0}")]
    Internal(String),
}

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// Fails with [`Error::NonFinite`] unless `value` is finite.
pub(crate) fn finite(what: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(Error::NonFinite { what, value })
    }
}
