//! The frame store: every frame a sample shows, copied once under `OUT/frames/` named by the
//! SHA-256 of its bytes, so trainers and eval jobs need the build output only.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crossview_schemas::{AtomicFile, Frame, ImageRef, sha256_hex};
use crossview_stages::frames::{FrameBytes, FrameReader};
use crossview_stages::qa::FrameImages;

/// One scene's view of the store: frames resolved against the scene's tree, each stored once
/// (by content) and looked up once per scene.
pub struct SceneFrames<'a> {
    /// `OUT/frames`, or `None` to store nothing (every image is then "").
    store: Option<&'a Path>,
    /// The frames' bytes, from the native tree.
    reader: RefCell<FrameReader>,
    resolved: RefCell<HashMap<(String, u32), String>>,
    problems: RefCell<Vec<String>>,
}

impl<'a> SceneFrames<'a> {
    /// A scene's frames from `root`, stored under `store`.
    pub fn new(store: Option<&'a Path>, root: &'a Path) -> Self {
        SceneFrames {
            store,
            reader: RefCell::new(FrameReader::new(root)),
            resolved: RefCell::new(HashMap::new()),
            problems: RefCell::new(Vec::new()),
        }
    }

    /// Frames that could not be stored (file and reason).
    pub fn into_problems(self) -> Vec<String> {
        self.problems.into_inner()
    }

    fn store(&self, dir: &Path, image: &ImageRef) -> Result<String, String> {
        let Some(FrameBytes { bytes, extension }) = self.reader.borrow_mut().bytes(image)? else {
            return Ok(String::new());
        };
        let name = format!("{}.{extension}", &sha256_hex(&bytes)[..32]);
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

/// `OUT/frames` (a build creates it before each epoch).
pub fn frames_dir(out: &Path) -> PathBuf {
    out.join("frames")
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
