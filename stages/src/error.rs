//! The error type of crossview-stages: I/O on named files, encoding, and the schema errors of
//! the records the stages produce. Problems with input data are records, not these errors.

use std::path::PathBuf;

/// Result with this crate's [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can stop a stage outright (bad input data instead becomes an `InputError` record).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// I/O on a named file or directory.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Encoding a file (JPEG, video) failed.
    #[error("{path}: cannot encode: {reason}")]
    Encode {
        /// The file.
        path: PathBuf,
        /// What the encoder reported.
        reason: String,
    },
    /// Serializing JSON failed.
    #[error("{path}: cannot write JSON: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: serde_json::Error,
    },
    /// A record or mask operation failed.
    #[error(transparent)]
    Schema(#[from] crossview_schemas::Error),
    /// ONNX Runtime could not be loaded or failed while running a model.
    #[error("ONNX Runtime: {reason}")]
    OnnxRuntime {
        /// What failed and why.
        reason: String,
    },
    /// A model file that is missing or does not fit what it should be.
    #[error("{path}: {reason}")]
    Model {
        /// The model file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Options that cannot work together.
    #[error("invalid options: {0}")]
    Options(String),
}

impl Error {
    /// Wraps an I/O error with its path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
