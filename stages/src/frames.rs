//! [`FrameReader`]: a frame's stored bytes (an image file, a file in a zip archive, or one
//! frame of an MJPEG video) resolved against its tree, and [`decode_rgb`] for its pixels.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crossview_schemas::ImageRef;
use image::RgbImage;

use crate::sources::folder::{Archives, read_tree_file};
use crate::video::mp4_sample;

/// A frame's encoded bytes and the file extension they call for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameBytes {
    /// The encoded image (JPEG or PNG).
    pub bytes: Vec<u8>,
    /// `jpg` or `png`.
    pub extension: &'static str,
}

/// Reads frames of one tree; a video is read once and its frames cut from it, an archive
/// of frames (`<folder>.zip/<file>`) opened once.
pub struct FrameReader {
    root: PathBuf,
    videos: HashMap<String, Option<Arc<Vec<u8>>>>,
    archives: Archives,
}

impl FrameReader {
    /// Frames whose paths are relative to `root`.
    pub fn new(root: &Path) -> Self {
        FrameReader {
            root: root.to_path_buf(),
            videos: HashMap::new(),
            archives: Archives::default(),
        }
    }

    /// The tree's root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file a frame is stored in (the video, for a video frame), relative to the root.
    pub fn file_of(image: &ImageRef) -> Option<&str> {
        match image {
            ImageRef::None => None,
            ImageRef::File(p) | ImageRef::VideoFrame { path: p, .. } => Some(p),
        }
    }

    /// The frame's bytes; `Ok(None)` for a frame without an image; `Err` names the file and
    /// the reason it could not be read.
    pub fn bytes(&mut self, image: &ImageRef) -> Result<Option<FrameBytes>, String> {
        match image {
            ImageRef::None => Ok(None),
            ImageRef::File(rel) => {
                let path = self.root.join(rel);
                let extension = match path.extension().and_then(|e| e.to_str()) {
                    Some(e) if e.eq_ignore_ascii_case("png") => "png",
                    _ => "jpg",
                };
                read_tree_file(&self.root, rel, &mut self.archives)
                    .map(|bytes| Some(FrameBytes { bytes, extension }))
                    .map_err(|e| format!("{}: {e}", path.display()))
            }
            ImageRef::VideoFrame { path, frame } => {
                let root = &self.root;
                let video = self
                    .videos
                    .entry(path.clone())
                    .or_insert_with(|| std::fs::read(root.join(path)).ok().map(Arc::new))
                    .clone();
                let video = video.ok_or_else(|| format!("{path}: unreadable video"))?;
                mp4_sample(&video, *frame as usize)
                    .map(|s| {
                        Some(FrameBytes {
                            bytes: s.to_vec(),
                            extension: "jpg",
                        })
                    })
                    .ok_or_else(|| format!("{path}: no frame {frame}"))
            }
        }
    }
}

/// Decodes a JPEG or PNG to 8-bit RGB.
pub fn decode_rgb(bytes: &[u8]) -> Result<RgbImage, String> {
    image::load_from_memory(bytes)
        .map(|i| i.into_rgb8())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_read_relative_to_the_root_and_missing_ones_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let img = RgbImage::from_pixel(4, 3, image::Rgb([10, 200, 30]));
        let mut png = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        std::fs::write(dir.path().join("a.png"), &png).unwrap();
        let mut r = FrameReader::new(dir.path());
        let got = r.bytes(&ImageRef::File("a.png".into())).unwrap().unwrap();
        assert_eq!(got.extension, "png");
        assert_eq!(decode_rgb(&got.bytes).unwrap(), img);
        assert_eq!(r.bytes(&ImageRef::None).unwrap(), None);
        let err = r.bytes(&ImageRef::File("gone.jpg".into())).unwrap_err();
        assert!(err.contains("gone.jpg"), "{err}");
        assert!(decode_rgb(b"not an image").is_err());
    }
}
