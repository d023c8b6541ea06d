//! The frame store: every frame a sample shows, copied once under `OUT/frames/` named by the
//! SHA-256 of its bytes, so trainers and eval jobs need the build output only.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crossview_schemas::{AtomicFile, Frame, ImageRef, sha256_hex};
use crossview_stages::qa::FrameImages;
use crossview_stages::video::mp4_sample;

/// One scene's view of the store: frames resolved against the scene's tree, each stored once
/// (by content) and looked up once per scene.
pub struct SceneFrames<'a> {
    /// `OUT/frames`, or `None` to store nothing (every image is then "").
    store: Option<&'a Path>,
    /// The native tree the frames' paths are relative to.
    root: &'a Path,
    resolved: RefCell<HashMap<(String, u32), String>>,
    videos: RefCell<HashMap<String, Option<Arc<Vec<u8>>>>>,
    problems: RefCell<Vec<String>>,
}

impl<'a> SceneFrames<'a> {
    /// A scene's frames from `root`, stored under `store`.
    pub fn new(store: Option<&'a Path>, root: &'a Path) -> Self {
        SceneFrames {
            store,
            root,
            resolved: RefCell::new(HashMap::new()),
            videos: RefCell::new(HashMap::new()),
            problems: RefCell::new(Vec::new()),
        }
    }

    /// Frames that could not be stored (file and reason).
    pub fn into_problems(self) -> Vec<String> {
        self.problems.into_inner()
    }

    fn bytes(&self, image: &ImageRef) -> Result<Option<(Vec<u8>, &'static str)>, String> {
        match image {
            ImageRef::None => Ok(None),
            ImageRef::File(rel) => {
                let path = self.root.join(rel);
                let ext = match path.extension().and_then(|e| e.to_str()) {
                    Some(e) if e.eq_ignore_ascii_case("png") => "png",
                    _ => "jpg",
                };
                std::fs::read(&path)
                    .map(|b| Some((b, ext)))
                    .map_err(|e| format!("{}: {e}", path.display()))
            }
            ImageRef::VideoFrame { path, frame } => {
                let mut videos = self.videos.borrow_mut();
                let video = videos
                    .entry(path.clone())
                    .or_insert_with(|| std::fs::read(self.root.join(path)).ok().map(Arc::new))
                    .clone();
                let video = video.ok_or_else(|| format!("{}: unreadable video", path))?;
                mp4_sample(&video, *frame as usize)
                    .map(|s| Some((s.to_vec(), "jpg")))
                    .ok_or_else(|| format!("{path}: no frame {frame}"))
            }
        }
    }

    fn store(&self, dir: &Path, image: &ImageRef) -> Result<String, String> {
        let Some((bytes, ext)) = self.bytes(image)? else {
            return Ok(String::new());
        };
        let name = format!("{}.{ext}", &sha256_hex(&bytes)[..32]);
        let target = dir.join(&name);
        if !target.exists() {
            // Atomic: a reader never sees half a frame; two writers write the same bytes.
            let mut f = AtomicFile::create(&target).map_err(|e| e.to_string())?;
            f.write_all(&bytes)
                .map_err(|e| format!("{}: {e}", target.display()))?;
            f.commit().map_err(|e| e.to_string())?;
        }
        Ok(name)
    }
}

impl FrameImages for SceneFrames<'_> {
    fn image(&self, frame: &Frame) -> String {
        let Some(dir) = self.store else {
            return String::new();
        };
        let key = (frame.camera_id.clone(), frame.frame_index);
        if let Some(name) = self.resolved.borrow().get(&key) {
            return name.clone();
        }
        let name = self.store(dir, &frame.image).unwrap_or_else(|problem| {
            self.problems.borrow_mut().push(problem);
            String::new()
        });
        self.resolved.borrow_mut().insert(key, name.clone());
        name
    }
}

/// `OUT/frames`, created.
pub fn frames_dir(out: &Path) -> anyhow::Result<PathBuf> {
    let dir = out.join("frames");
    std::fs::create_dir_all(&dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(image: ImageRef) -> Frame {
        Frame {
            scene_id: "s".into(),
            camera_id: "c".into(),
            frame_index: 0,
            timestamp_s: 0.0,
            image,
            world_to_camera: None,
        }
    }

    #[test]
    fn frames_are_stored_once_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let (root, store) = (dir.path().join("tree"), dir.path().join("frames"));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&store).unwrap();
        std::fs::write(root.join("a.jpg"), b"same bytes").unwrap();
        std::fs::write(root.join("b.jpg"), b"same bytes").unwrap();
        let s = SceneFrames::new(Some(&store), &root);
        let a = s.image(&frame(ImageRef::File("a.jpg".into())));
        let mut fb = frame(ImageRef::File("b.jpg".into()));
        fb.camera_id = "d".into();
        let b = s.image(&fb);
        assert_eq!(a, b);
        assert_eq!(a, format!("{}.jpg", &sha256_hex(b"same bytes")[..32]));
        assert_eq!(std::fs::read_dir(&store).unwrap().count(), 1);
        assert_eq!(
            s.image(&frame(ImageRef::None)),
            a,
            "cached per (camera, frame)"
        );
        let mut missing = frame(ImageRef::File("gone.jpg".into()));
        missing.camera_id = "e".into();
        assert_eq!(s.image(&missing), "");
        assert_eq!(s.into_problems().len(), 1);
    }
}
