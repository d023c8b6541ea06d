//! Image sinks for synthetic frames: one JPEG file per frame at a path the profile chooses
//! (MessyTable, MMPTrack and EgoHumans store frames as JPEG files).

use std::path::{Path, PathBuf};

use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

use super::driver::{ImageSink, write_file};
use crate::error::{Error, Result};

/// JPEG quality of synthetic frames.
pub const JPEG_QUALITY: u8 = 90;

/// Encodes RGB8 pixels as a JPEG.
pub fn encode_jpeg(path: &Path, rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let (w, h) = match (u16::try_from(width), u16::try_from(height)) {
        (Ok(w), Ok(h)) => (w, h),
        _ => {
            return Err(Error::Options(format!(
                "{}: {width}x{height} is too large for JPEG",
                path.display()
            )));
        }
    };
    let mut encoder = Encoder::new(&mut bytes, JPEG_QUALITY);
    // 4:2:0 chroma, as cameras and video encoders store it (half the bytes of 4:4:4).
    encoder.set_sampling_factor(SamplingFactor::R_4_2_0);
    encoder
        .encode(rgb, w, h, ColorType::Rgb)
        .map_err(|e| Error::Encode {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    Ok(bytes)
}

/// Writes each frame to its own JPEG file, named by a function of the frame index.
pub struct JpegFiles<F: Fn(usize) -> PathBuf + Send> {
    /// Path of frame `i`.
    pub path_of: F,
    /// Image size.
    pub size: (u32, u32),
}

impl<F: Fn(usize) -> PathBuf + Send> ImageSink for JpegFiles<F> {
    fn put(&mut self, frame: usize, rgb: &[u8]) -> Result<()> {
        let path = (self.path_of)(frame);
        let bytes = encode_jpeg(&path, rgb, self.size.0, self.size.1)?;
        write_file(&path, &bytes)
    }

    fn finish(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}
