//! crossview-schemas: the canonical records every crossview stage speaks, and the conventions
//! that come with them, defined once.
//!
//! Start with:
//! - the records: [`Scene`], [`Camera`], [`Frame`], [`Observation`], [`QaSample`] (whose Arrow
//!   schema is the shard contract) and [`InputError`]; each is an [`ArrowRecord`];
//! - [`RecordWriter`] / [`RecordReader`]: Parquet with zstd, configured row groups, the schema
//!   version and config hash in key-value metadata, atomic publish, row-group streaming;
//! - [`Rle`]: COCO run-length masks exactly as pycocotools writes them (via `hotcoco`), and the
//!   Ego-Exo4D LZ-string wrapper ([`lzstring`]);
//! - [`CameraModel`], [`Distortion`], [`WorldToCamera`] / [`CameraToWorld`], [`Rotation`]:
//!   projection with the sources' lens models, in metres, directions in the type names;
//! - [`BoxXyxy`]: boxes in continuous pixel coordinates, with each source's convention as a
//!   named constructor.
//!
//! Conventions: world-to-camera transforms in metres with OpenCV camera axes (x right, y down,
//! z forward); pixel `(c, r)` covers `[c, c+1) x [r, r+1)`; frames are 0-based.

mod arrow_io;
mod bbox;
mod camera;
mod distortion;
mod error;
mod hash;
pub mod lzstring;
mod mask;
mod parquet_io;
mod pose;
mod records;
mod vocab;

pub use arrow_io::ArrowRecord;
pub use bbox::BoxXyxy;
pub use camera::{CameraModel, SensorRotation};
pub use distortion::Distortion;
pub use error::{Error, Result};
pub use hash::{ContentHasher, SampleIdHasher, sha256_hex};
pub use mask::{CocoRle, Rle, RleBuilder};
pub use parquet_io::{
    AtomicFile, DEFAULT_ROW_GROUP_ROWS, DEFAULT_ZSTD_LEVEL, META_CONFIG_HASH, META_RECORD,
    META_SCHEMA_VERSION, RecordReader, RecordWriter, SCHEMA_VERSION, WriteOptions, write_atomic,
    writer_properties,
};
pub use pose::{CameraToWorld, ROTATION_TOLERANCE, Rotation, WorldToCamera};
pub use records::{
    Absence, BorrowedRegion, Camera, Frame, ImageRef, InputError, Keypoint, Observation,
    ObservedMask, QaSample, REGION_PLACEHOLDER, Region, SampleColumns, SampleRef, Scene,
    TruthInstance, TruthObservation, TruthState, ViewRef, mask_digest,
};
pub use vocab::{
    CameraKind, ErrorClass, MaskSource, MaskSourceKind, SourceKind, Split, Task, TaskCategory,
};

/// Re-exported so users of the camera types need not depend on glam themselves.
pub use glam;
