//! Runs a synth profile: generates scenes in parallel (deterministically, whatever the thread
//! count), renders every view, and hands images, native annotations and truth to their writers.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crossview_schemas::{AtomicFile, CameraModel, ContentHasher, ImageRef, SourceKind};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::render::{FrameScene, InstanceRender, RenderOptions, ViewRender, render_view};
use super::truth::TruthSink;
use super::world::SceneWorld;
use crate::error::{Error, Result};

/// Default longest image side of rendered images (native calibration is scaled to it).
pub const DEFAULT_MAX_SIDE: u32 = 640;
/// Longest image side at `--scale paper`: the annotations of ~100K views must render in
/// seconds, and a 320-pixel view costs a quarter of a 640-pixel one.
pub const PAPER_MAX_SIDE: u32 = 320;

/// What to synthesize.
#[derive(Clone, Debug, PartialEq)]
pub struct SynthOptions {
    /// Master seed.
    pub seed: u64,
    /// Scenes (takes, sequences) per profile.
    pub scenes: usize,
    /// Render and write images (otherwise annotations and truth only).
    pub images: bool,
    /// Longest side of written images, pixels.
    pub max_side: u32,
    /// Frames per video scene, overriding the profile's default.
    pub frames: Option<usize>,
}

impl Default for SynthOptions {
    fn default() -> Self {
        SynthOptions {
            seed: 0,
            scenes: 4,
            images: true,
            max_side: DEFAULT_MAX_SIDE,
            frames: None,
        }
    }
}

impl SynthOptions {
    /// A reproducible random generator for one purpose of one scene of one profile.
    pub fn rng(&self, profile: SourceKind, purpose: &str, index: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(
            ContentHasher::new("crossview.synth.rng")
                .u64(self.seed)
                .str(profile.name())
                .str(purpose)
                .u64(index)
                .finish_u64(),
        )
    }
}

/// The size of written images for a camera of native size `w x h`.
pub fn output_size(w: u32, h: u32, max_side: u32) -> (u32, u32) {
    let s = (f64::from(max_side) / f64::from(w.max(h))).min(1.0);
    (
        ((f64::from(w) * s).round() as u32).max(1),
        ((f64::from(h) * s).round() as u32).max(1),
    )
}

/// Where a camera's frames go, as they are rendered in order.
pub trait ImageSink: Send {
    /// Stores frame `frame` (RGB8, row-major, the camera's output size).
    fn put(&mut self, frame: usize, rgb: &[u8]) -> Result<()>;
    /// Flushes (a video is finished here).
    fn finish(self: Box<Self>) -> Result<()>;
}

/// The native annotation writer of one tree, fed scene by scene in order.
pub trait TreeWriter {
    /// Adds one rendered scene.
    fn add_scene(&mut self, scene: &SceneWorld, render: &SceneRender) -> Result<()>;
    /// Writes what aggregates over scenes and publishes it.
    fn finish(self: Box<Self>) -> Result<()>;
}

/// A source dataset's synthetic world and its on-disk format.
pub trait Profile: Sync {
    /// Which source this is.
    fn kind(&self) -> SourceKind;
    /// Frames per scene unless overridden.
    fn default_frames(&self) -> usize;
    /// Builds scene `index`.
    fn generate(&self, index: usize, opts: &SynthOptions) -> SceneWorld;
    /// The native id that makes the scene unique within the source (the canonical scene id is
    /// `<source>/<this>`); MMPTrack prefixes its recording session.
    fn scene_native_id(&self, world: &SceneWorld) -> String {
        world.native_id.clone()
    }
    /// Where a camera's rendered frames go.
    fn image_sink(
        &self,
        root: &Path,
        scene: &SceneWorld,
        camera: usize,
        size: (u32, u32),
    ) -> Result<Box<dyn ImageSink>>;
    /// Where frame `frame` of `camera` is, relative to the tree root, once written.
    fn frame_image(&self, scene: &SceneWorld, camera: usize, frame: usize) -> ImageRef;
    /// Whether the native tree annotates this observation (`model`: the camera at the
    /// written image size).
    fn annotated(
        &self,
        scene: &SceneWorld,
        camera: usize,
        model: &CameraModel,
        frame: usize,
        r: &InstanceRender,
    ) -> bool;
    /// Whether frame `frame` is rendered (all are, unless a profile needs only some of them
    /// when no images are written).
    fn renders_frame(&self, _frame: usize, _images: bool) -> bool {
        true
    }
    /// Whether the native format stores masks, so they are rendered even without images.
    fn needs_masks(&self) -> bool {
        false
    }
    /// Whether only the images tell the image size (no calibration or label file does), so
    /// that a tree without images must keep its calibration and annotations at the native
    /// size: rendering then happens at the `max_side` size and is scaled up.
    fn native_size_without_images(&self) -> bool {
        false
    }
    /// The writer of native annotations for a tree at `root`.
    fn tree_writer(&self, root: &Path, opts: &SynthOptions) -> Result<Box<dyn TreeWriter>>;
}

/// All views of one camera of a scene.
pub struct CameraRender {
    /// Calibration at the written image size.
    pub model: CameraModel,
    /// The frames rendered, in order (all of them unless the profile skips some).
    pub frame_indices: Vec<usize>,
    /// One render per rendered frame (without pixels), parallel to `frame_indices`.
    pub frames: Vec<ViewRender>,
}

/// All views of a scene, per camera.
pub struct SceneRender {
    /// Indexed like the scene's cameras.
    pub cameras: Vec<CameraRender>,
}

/// What a run produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SynthSummary {
    /// Scenes written.
    pub scenes: usize,
    /// Views (camera frames) rendered.
    pub views: usize,
    /// Observations in the truth sidecar.
    pub observations: usize,
    /// Of those, the ones the native tree annotates.
    pub annotated: usize,
    /// Wall time, seconds.
    pub seconds: f64,
}

/// Scenes processed per parallel batch: bounds memory whatever the scene count.
const BATCH: usize = 64;

/// Writes one profile's tree at `root`.
pub fn run(profile: &dyn Profile, root: &Path, opts: &SynthOptions) -> Result<SynthSummary> {
    let start = Instant::now();
    if opts.max_side < 16 {
        return Err(Error::Options(format!(
            "max side {} is too small (>= 16)",
            opts.max_side
        )));
    }
    std::fs::create_dir_all(root).map_err(|e| Error::io(root, e))?;
    let mut truth = TruthSink::create(&root.join("_truth"))?;
    let mut tree = profile.tree_writer(root, opts)?;
    let mut summary = SynthSummary::default();
    for first in (0..opts.scenes).step_by(BATCH) {
        let batch: Vec<Result<(SceneWorld, SceneRender)>> = (first
            ..(first + BATCH).min(opts.scenes))
            .into_par_iter()
            .map(|i| {
                let world = profile.generate(i, opts);
                let render = render_scene(profile, root, &world, opts)?;
                Ok((world, render))
            })
            .collect();
        for item in batch {
            let (world, render) = item?;
            let counts = truth.add(profile, &world, &render)?;
            tree.add_scene(&world, &render)?;
            summary.scenes += 1;
            summary.views += render.cameras.iter().map(|c| c.frames.len()).sum::<usize>();
            summary.observations += counts.0;
            summary.annotated += counts.1;
        }
    }
    tree.finish()?;
    truth.finish()?;
    summary.seconds = start.elapsed().as_secs_f64();
    Ok(summary)
}

/// Renders every frame of every camera of a scene, sending pixels to the profile's sinks.
fn render_scene(
    profile: &dyn Profile,
    root: &Path,
    world: &SceneWorld,
    opts: &SynthOptions,
) -> Result<SceneRender> {
    let cameras = (0..world.cameras.len())
        .into_par_iter()
        .map(|c| {
            let cam = &world.cameras[c];
            let (w, h) = output_size(cam.model.width(), cam.model.height(), opts.max_side);
            let model = cam.model.resized(w, h)?;
            let written = if !opts.images && profile.native_size_without_images() {
                cam.model.clone()
            } else {
                model.clone()
            };
            let mut sink = if opts.images {
                Some(profile.image_sink(root, world, c, (w, h))?)
            } else {
                None
            };
            let mut frames = Vec::with_capacity(world.frames.len());
            let mut frame_indices = Vec::with_capacity(world.frames.len());
            for (f, frame) in world.frames.iter().enumerate() {
                if !profile.renders_frame(f, opts.images) {
                    continue;
                }
                let render_opts = RenderOptions {
                    shade: opts.images,
                    noise_seed: ContentHasher::new("crossview.synth.noise")
                        .u64(opts.seed)
                        .str(&world.native_id)
                        .u64(c as u64)
                        .u64(f as u64)
                        .finish_u64(),
                    keep_masks: opts.images || profile.needs_masks(),
                };
                let scene = FrameScene {
                    room: world.room.as_ref(),
                    background: &world.background,
                    parts: &frame.parts,
                    instances: world.instances.len(),
                    light: world.light,
                };
                let mut view = render_view(&model, cam.pose(f), cam.wearer, &scene, &render_opts);
                if let (Some(sink), Some(rgb)) = (sink.as_mut(), view.rgb.take()) {
                    sink.put(f, &rgb)?;
                }
                if written.width() != w || written.height() != h {
                    view = view.rescaled(written.width(), written.height());
                }
                frames.push(view);
                frame_indices.push(f);
            }
            if let Some(sink) = sink {
                sink.finish()?;
            }
            Ok(CameraRender {
                model: written,
                frame_indices,
                frames,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(SceneRender { cameras })
}

/// A text file streamed to disk and published atomically on [`StreamFile::commit`].
pub struct StreamFile {
    path: PathBuf,
    atomic: AtomicFile,
    out: BufWriter<File>,
}

impl StreamFile {
    /// Starts `path`, creating its directory.
    pub fn create(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let mut atomic = AtomicFile::create(path)?;
        let file = atomic.file().try_clone().map_err(|e| Error::io(path, e))?;
        Ok(StreamFile {
            path: path.to_path_buf(),
            atomic,
            out: BufWriter::new(file),
        })
    }

    /// Appends text.
    pub fn write(&mut self, s: &str) -> Result<()> {
        self.out
            .write_all(s.as_bytes())
            .map_err(|e| Error::io(&self.path, e))
    }

    /// Flushes and publishes.
    pub fn commit(mut self) -> Result<()> {
        self.out.flush().map_err(|e| Error::io(&self.path, e))?;
        drop(self.out);
        Ok(self.atomic.commit()?)
    }
}

/// Writes a whole file under a temporary name and renames it into place, creating its
/// directory. No fsync: a synthetic tree holds tens of thousands of small files and is
/// rewritten from its seed, so per-file durability is not worth its cost (build outputs use
/// [`crossview_schemas::AtomicFile`], which syncs).
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// Serializes JSON compactly, naming the file on failure.
pub fn to_json(path: &Path, value: &serde_json::Value) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::Json {
        path: path.to_path_buf(),
        source: e,
    })
}

/// Rounds to `decimals` places, so written JSON stays short and stable.
pub fn round(v: f64, decimals: i32) -> f64 {
    let k = 10f64.powi(decimals);
    (v * k).round() / k
}
