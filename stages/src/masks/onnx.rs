//! [`OnnxSegmenter`]: SAM-style exported image encoder + prompt decoder pairs run through ONNX
//! Runtime (`ort`, loaded dynamically), in the SAM 1 and SAM 2 export conventions.
//!
//! Per frame the encoder runs once; the frame's prompts go to the decoder in batches (or one
//! at a time where the export fixes the batch at 1). Pre- and post-processing follow each
//! convention: SAM 1 resizes the longest side to the model size and pads bottom-right, with
//! 0-255 pixel statistics; SAM 2 resizes to the square model size, with 0-1 ImageNet
//! statistics. Logits are upscaled to the image, thresholded at 0, and the multimask output
//! with the highest predicted IoU is kept.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use image::RgbImage;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::{DynValue, TensorRef, ValueType};
use serde::{Deserialize, Serialize};

use super::segmenter::{FramePrep, PixelWindow, Prediction, PreparedFrame, Prompt, Segmenter};
use crate::{Error, Result};

/// Which export convention a model pair follows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SamConvention {
    /// segment-anything's `export_onnx_model.py` decoder (`image_embeddings`, `point_coords`,
    /// `point_labels`, `mask_input`, `has_mask_input`, `orig_im_size` -> `masks`,
    /// `iou_predictions`[, `low_res_masks`]) with an encoder of one NCHW input and the image
    /// embeddings as its first output.
    Sam1,
    /// The SAM 2 image-predictor export (`image` -> `high_res_feats_0`, `high_res_feats_1`,
    /// `image_embed`; decoder `image_embed`, `high_res_feats_0`, `high_res_feats_1`,
    /// `point_coords`, `point_labels`, `mask_input`, `has_mask_input` -> `masks`,
    /// `iou_predictions`).
    #[default]
    Sam2,
}

/// Where the ONNX model and the runtime are; every field but the model files has a default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OnnxConfig {
    /// The image encoder `.onnx` (relative to the config file).
    pub encoder: PathBuf,
    /// The prompt decoder `.onnx` (relative to the config file).
    pub decoder: PathBuf,
    /// The export convention.
    pub convention: SamConvention,
    /// The ONNX Runtime shared library (`libonnxruntime.so.1.NN.N`). Unset: the
    /// `ORT_DYLIB_PATH` environment variable, else the library of the `onnxruntime` wheel
    /// that `python3` (or `CROSSVIEW_PYTHON`) imports.
    pub runtime: Option<PathBuf>,
    /// ONNX Runtime threads per session (each build worker has its own session, so 1
    /// keeps the workers from competing); 0 lets the runtime choose.
    pub threads: usize,
    /// Most prompts per decoder run.
    pub max_batch: usize,
}

impl Default for OnnxConfig {
    fn default() -> Self {
        OnnxConfig {
            encoder: PathBuf::new(),
            decoder: PathBuf::new(),
            convention: SamConvention::Sam2,
            runtime: None,
            threads: 1,
            max_batch: DEFAULT_MAX_BATCH,
        }
    }
}

impl OnnxConfig {
    /// The config with relative paths taken from `base`.
    pub fn resolved(&self, base: &Path) -> OnnxConfig {
        OnnxConfig {
            encoder: base.join(&self.encoder),
            decoder: base.join(&self.decoder),
            runtime: self.runtime.as_ref().map(|r| base.join(r)),
            ..self.clone()
        }
    }
}

/// The default model input side when an export leaves it dynamic.
const DEFAULT_INPUT_SIDE: usize = 1024;
/// Decoder prompts per run by default (and when the config says 0).
const DEFAULT_MAX_BATCH: usize = 64;

const SAM2_ENCODER_OUTPUTS: [&str; 3] = ["high_res_feats_0", "high_res_feats_1", "image_embed"];
const SAM2_DECODER_INPUTS: [&str; 7] = [
    "image_embed",
    "high_res_feats_0",
    "high_res_feats_1",
    "point_coords",
    "point_labels",
    "mask_input",
    "has_mask_input",
];
const SAM1_DECODER_INPUTS: [&str; 6] = [
    "image_embeddings",
    "point_coords",
    "point_labels",
    "mask_input",
    "has_mask_input",
    "orig_im_size",
];

/// Finds the ONNX Runtime library: the configured path, else `ORT_DYLIB_PATH`, else the
/// library of the installed `onnxruntime` wheel (`site-packages/onnxruntime/capi/
/// libonnxruntime.so.*`, found by asking `python3`, or `CROSSVIEW_PYTHON`). A configured path
/// or variable that names no file is an error, not a reason to look elsewhere.
pub fn find_runtime(configured: Option<&Path>) -> Result<PathBuf> {
    let missing = |what: String| Error::OnnxRuntime {
        reason: format!(
            "{what}: no such file (the ONNX Runtime shared library, e.g. site-packages/onnxruntime/capi/libonnxruntime.so.1.NN.N)"
        ),
    };
    if let Some(p) = configured {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(missing(format!("masks.onnx.runtime = {}", p.display())))
        };
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(missing(format!("ORT_DYLIB_PATH = {}", p.display())))
        };
    }
    let python = std::env::var("CROSSVIEW_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let probe = std::process::Command::new(&python)
        .args([
            "-c",
            "import onnxruntime, os; print(os.path.dirname(onnxruntime.__file__))",
        ])
        .output();
    let reason = match probe {
        Ok(out) if out.status.success() => {
            let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("capi");
            let mut libs: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map(|rd| {
                    rd.flatten()
                        .map(|e| e.path())
                        .filter(|p| {
                            p.file_name()
                                .and_then(|n| n.to_str())
                                .is_some_and(is_runtime_library)
                        })
                        .collect()
                })
                .unwrap_or_default();
            libs.sort();
            match libs.pop() {
                Some(lib) => return Ok(lib),
                None => format!(
                    "{python} has onnxruntime, but {} holds no libonnxruntime",
                    dir.display()
                ),
            }
        }
        Ok(_) => format!("{python} cannot import onnxruntime"),
        Err(e) => format!("cannot run {python}: {e}"),
    };
    Err(Error::OnnxRuntime {
        reason: format!(
            "the ONNX Runtime library was not found ({reason}): `pip install onnxruntime`, or \
             name the library in masks.onnx.runtime or ORT_DYLIB_PATH"
        ),
    })
}

/// Whether a file name is the ONNX Runtime library of some platform (the wheel ships it
/// versioned, `libonnxruntime.so.1.NN.N`).
fn is_runtime_library(name: &str) -> bool {
    name.starts_with("libonnxruntime.so")
        || (name.starts_with("libonnxruntime.") && name.ends_with(".dylib"))
        || name == "onnxruntime.dll"
}

/// The process's ONNX Runtime environment: ONNX Runtime allows one per process, and its
/// library is loaded once (by the first segmenter opened).
static ENVIRONMENT: std::sync::Mutex<Option<ort::environment::Environment>> =
    std::sync::Mutex::new(None);

fn environment(configured: Option<&Path>) -> Result<ort::environment::Environment> {
    let mut env = ENVIRONMENT
        .lock()
        .map_err(|_| onnx_error("the ONNX Runtime environment", "poisoned by a panic"))?;
    // A configured library must be there even when one is loaded already (ONNX Runtime
    // loads one per process, whichever segmenter came first).
    let named = configured.map(|p| find_runtime(Some(p))).transpose()?;
    if let Some(e) = env.as_ref() {
        return Ok(e.clone());
    }
    let lib = match named {
        Some(lib) => lib,
        None => find_runtime(None)?,
    };
    let e = ort::init_from(&lib)
        .map_err(|e| onnx_error(&format!("loading {}", lib.display()), e))?
        .with_name("crossview")
        .build()
        .map_err(|e| onnx_error("creating the ONNX Runtime environment", e))?;
    *env = Some(e.clone());
    Ok(e)
}

/// Time spent inside ONNX Runtime and in the whole segmenter.
#[derive(Clone, Copy, Debug, Default)]
pub struct OnnxTimings {
    /// Inside `Session::run` (encoder and decoder).
    pub runtime: Duration,
    /// In `segment` altogether (pre- and post-processing included).
    pub total: Duration,
    /// Encoder runs.
    pub encoder_runs: u64,
    /// Decoder runs.
    pub decoder_runs: u64,
}

/// A SAM-style model pair on ONNX Runtime.
pub struct OnnxSegmenter {
    convention: SamConvention,
    encoder: Session,
    decoder: Session,
    encoder_input: String,
    /// Encoder outputs, in the order the decoder takes them.
    embeddings: Vec<String>,
    /// Model input side (square).
    side: usize,
    /// Decoder `mask_input` side.
    mask_input_side: usize,
    /// Whether the decoder takes a batch of prompts.
    batched: bool,
    /// `has_mask_input` length when the export fixes it.
    has_mask_len: Option<usize>,
    /// Which decoder output holds the logits (`low_res_masks` when there is one).
    logits_output: String,
    max_batch: usize,
    id: String,
    timings: OnnxTimings,
    /// The encoder's input, reused from frame to frame.
    input: Vec<f32>,
    /// Zeros for the decoder's `mask_input`.
    zeros: Vec<f32>,
}

fn onnx_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::OnnxRuntime {
        reason: format!("{what}: {e}"),
    }
}

fn model_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::Model {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn dims(t: &ValueType) -> Vec<i64> {
    t.tensor_shape().map(|s| s.to_vec()).unwrap_or_default()
}

impl OnnxSegmenter {
    /// Loads the runtime and both models, and checks their inputs and outputs against the
    /// convention; every failure names the file and what is wrong.
    pub fn open(cfg: &OnnxConfig) -> Result<Self> {
        for (what, p) in [("encoder", &cfg.encoder), ("decoder", &cfg.decoder)] {
            if p.as_os_str().is_empty() {
                return Err(Error::Options(format!(
                    "masks.onnx.{what} is not set (segmenter = \"onnx\" needs both model files)"
                )));
            }
            if !p.is_file() {
                return Err(model_error(p, "no such model file"));
            }
        }
        let id = model_id(cfg)?;
        let env = environment(cfg.runtime.as_deref())?;
        let session = |path: &Path| -> Result<Session> {
            let mut b = Session::builder(&env)
                .map_err(|e| onnx_error("session builder", e))?
                .with_optimization_level(GraphOptimizationLevel::Level3)
                .map_err(|e| onnx_error("session builder", e))?
                .with_inter_threads(1)
                .map_err(|e| onnx_error("session builder", e))?;
            if cfg.threads > 0 {
                b = b
                    .with_intra_threads(cfg.threads)
                    .map_err(|e| onnx_error("session builder", e))?;
            }
            b.commit_from_file(path)
                .map_err(|e| model_error(path, format!("ONNX Runtime cannot load it: {e}")))
        };
        let encoder = session(&cfg.encoder)?;
        let decoder = session(&cfg.decoder)?;
        let names = |outlets: &[ort::value::Outlet]| -> Vec<String> {
            outlets.iter().map(|o| o.name().to_string()).collect()
        };
        let (enc_in, enc_out) = (names(encoder.inputs()), names(encoder.outputs()));
        let (dec_in, dec_out) = (names(decoder.inputs()), names(decoder.outputs()));
        let require = |path: &Path, kind: &str, have: &[String], want: &[&str]| -> Result<()> {
            let missing: Vec<&&str> = want
                .iter()
                .filter(|w| !have.iter().any(|h| h == **w))
                .collect();
            if missing.is_empty() {
                return Ok(());
            }
            Err(model_error(
                path,
                format!(
                    "not a {:?} export: {kind} {missing:?} missing (expected {want:?}, the model has {have:?})",
                    cfg.convention
                ),
            ))
        };
        let (encoder_input, embeddings) = match cfg.convention {
            SamConvention::Sam2 => {
                require(&cfg.encoder, "input", &enc_in, &["image"])?;
                require(&cfg.encoder, "outputs", &enc_out, &SAM2_ENCODER_OUTPUTS)?;
                require(&cfg.decoder, "inputs", &dec_in, &SAM2_DECODER_INPUTS)?;
                (
                    "image".to_string(),
                    vec![
                        "image_embed".to_string(),
                        "high_res_feats_0".to_string(),
                        "high_res_feats_1".to_string(),
                    ],
                )
            }
            SamConvention::Sam1 => {
                require(&cfg.decoder, "inputs", &dec_in, &SAM1_DECODER_INPUTS)?;
                let (Some(i), Some(o)) = (enc_in.first(), enc_out.first()) else {
                    return Err(model_error(
                        &cfg.encoder,
                        "the encoder has no input or no output",
                    ));
                };
                (i.clone(), vec![o.clone()])
            }
        };
        require(
            &cfg.decoder,
            "outputs",
            &dec_out,
            &["masks", "iou_predictions"],
        )?;
        let input_dims = dims(encoder.inputs()[0].dtype());
        if input_dims.len() != 4 || input_dims[1] != 3 {
            return Err(model_error(
                &cfg.encoder,
                format!("the encoder input must be NCHW with 3 channels, got {input_dims:?}"),
            ));
        }
        let side = match (input_dims[2], input_dims[3]) {
            (h, w) if h > 0 && h == w => h as usize,
            (h, w) if h <= 0 && w <= 0 => DEFAULT_INPUT_SIDE,
            (h, w) => {
                return Err(model_error(
                    &cfg.encoder,
                    format!("the encoder input must be square, got {h}x{w}"),
                ));
            }
        };
        let dec_dims = |name: &str| {
            decoder
                .inputs()
                .iter()
                .find(|o| o.name() == name)
                .map(|o| dims(o.dtype()))
                .unwrap_or_default()
        };
        let mask_dims = dec_dims("mask_input");
        let mask_input_side = match mask_dims.get(2) {
            Some(&s) if s > 0 => s as usize,
            _ => side / 4,
        };
        let batched = dec_dims("point_coords").first().is_none_or(|&d| d < 0);
        let has_mask_len = match dec_dims("has_mask_input").first() {
            Some(&d) if d > 0 => Some(d as usize),
            _ => None,
        };
        let logits_output = if dec_out.iter().any(|o| o == "low_res_masks") {
            "low_res_masks"
        } else {
            "masks"
        }
        .to_string();
        Ok(OnnxSegmenter {
            convention: cfg.convention,
            encoder,
            decoder,
            encoder_input,
            embeddings,
            side,
            mask_input_side,
            batched,
            has_mask_len,
            logits_output,
            max_batch: if cfg.max_batch == 0 {
                DEFAULT_MAX_BATCH
            } else {
                cfg.max_batch
            },
            id,
            timings: OnnxTimings::default(),
            input: Vec::new(),
            zeros: Vec::new(),
        })
    }

    /// Time inside ONNX Runtime against the whole, so far.
    pub fn timings(&self) -> OnnxTimings {
        self.timings
    }

    /// The model-free half of a frame: resize, normalise, pad.
    fn prep(&self) -> SamPrep {
        SamPrep {
            convention: self.convention,
            side: self.side,
        }
    }

    /// [`Self::segment_frame`] timed into the segmenter's total; a frame without prompts is
    /// not run at all.
    fn segment_timed(
        &mut self,
        image: &RgbImage,
        prepared: Option<PreparedFrame>,
        prompts: &[Prompt],
    ) -> Result<Vec<Prediction>> {
        if prompts.is_empty() {
            return Ok(Vec::new());
        }
        let start = Instant::now();
        let out = self.segment_frame(image, prepared, prompts);
        self.timings.total += start.elapsed();
        out
    }

    fn segment_frame(
        &mut self,
        image: &RgbImage,
        prepared: Option<PreparedFrame>,
        prompts: &[Prompt],
    ) -> Result<Vec<Prediction>> {
        let (w, h) = image.dimensions();
        let prepared = match prepared {
            Some(p) if p.input.len() == 3 * self.side * self.side => p,
            _ => {
                let mut input = std::mem::take(&mut self.input);
                let resized = self.prep().prepare_into(image, &mut input);
                PreparedFrame { input, resized }
            }
        };
        let (rw, rh) = prepared.resized;
        let s = self.side as i64;
        let start = Instant::now();
        let input = TensorRef::from_array_view(([1i64, 3, s, s], prepared.input.as_slice()))
            .map_err(|e| onnx_error("encoder input", e))?;
        let mut enc = self
            .encoder
            .run(ort::inputs![self.encoder_input.as_str() => input])
            .map_err(|e| onnx_error("running the encoder", e))?;
        self.timings.runtime += start.elapsed();
        self.timings.encoder_runs += 1;
        let embeddings: Vec<DynValue> = self
            .embeddings
            .iter()
            .map(|name| {
                enc.remove(name.as_str())
                    .ok_or_else(|| onnx_error("encoder output", format!("{name} missing")))
            })
            .collect::<Result<_>>()?;
        drop(enc);
        self.input = prepared.input;

        let per_run = if self.batched { self.max_batch } else { 1 };
        let mut out = Vec::with_capacity(prompts.len());
        for batch in prompts.chunks(per_run) {
            out.extend(self.decode(&embeddings, batch, w, h, (rw, rh))?);
        }
        Ok(out)
    }

    /// One decoder run over a batch of prompts.
    fn decode(
        &mut self,
        embeddings: &[DynValue],
        batch: &[Prompt],
        w: u32,
        h: u32,
        resized: (usize, usize),
    ) -> Result<Vec<Prediction>> {
        let n = batch.len();
        // Prompt points in model-input coordinates: box corners (labels 2, 3), then the
        // points (1 positive, 0 negative), padded with label -1. SAM 1 wants a padding point
        // when no box is given; every prompt here has a box.
        let (sx, sy) = (resized.0 as f32 / w as f32, resized.1 as f32 / h as f32);
        let most = batch.iter().map(|p| 2 + p.points.len()).max().unwrap_or(2);
        let mut coords = vec![0f32; n * most * 2];
        let mut labels = vec![-1f32; n * most];
        for (i, p) in batch.iter().enumerate() {
            let b = p.bbox.to_array();
            let mut put = |k: usize, x: f32, y: f32, label: f32| {
                coords[(i * most + k) * 2] = x * sx;
                coords[(i * most + k) * 2 + 1] = y * sy;
                labels[i * most + k] = label;
            };
            put(0, b[0], b[1], 2.0);
            put(1, b[2], b[3], 3.0);
            for (k, pt) in p.points.iter().enumerate() {
                put(2 + k, pt.x, pt.y, if pt.positive { 1.0 } else { 0.0 });
            }
        }
        let ms = self.mask_input_side;
        // No mask prompts: zeros, allocated once for the largest batch.
        if self.zeros.len() < n * ms * ms {
            self.zeros = vec![0f32; n * ms * ms];
        }
        let mask_input = &self.zeros[..n * ms * ms];
        let has_mask = vec![0f32; self.has_mask_len.unwrap_or(n)];
        let orig = [h as f32, w as f32];
        let (ni, mi) = (n as i64, most as i64);
        let start = Instant::now();
        let t = |e| onnx_error("decoder input", e);
        let coords_t = TensorRef::from_array_view(([ni, mi, 2], coords.as_slice())).map_err(t)?;
        let labels_t = TensorRef::from_array_view(([ni, mi], labels.as_slice())).map_err(t)?;
        let mask_t =
            TensorRef::from_array_view(([ni, 1, ms as i64, ms as i64], mask_input)).map_err(t)?;
        let has_t = TensorRef::from_array_view(([has_mask.len() as i64], has_mask.as_slice()))
            .map_err(t)?;
        let outputs = match self.convention {
            SamConvention::Sam2 => self.decoder.run(ort::inputs![
                "image_embed" => &embeddings[0],
                "high_res_feats_0" => &embeddings[1],
                "high_res_feats_1" => &embeddings[2],
                "point_coords" => coords_t,
                "point_labels" => labels_t,
                "mask_input" => mask_t,
                "has_mask_input" => has_t,
            ]),
            SamConvention::Sam1 => {
                let orig_t = TensorRef::from_array_view(([2i64], orig.as_slice())).map_err(t)?;
                self.decoder.run(ort::inputs![
                    "image_embeddings" => &embeddings[0],
                    "point_coords" => coords_t,
                    "point_labels" => labels_t,
                    "mask_input" => mask_t,
                    "has_mask_input" => has_t,
                    "orig_im_size" => orig_t,
                ])
            }
        }
        .map_err(|e| onnx_error("running the decoder", e))?;
        self.timings.runtime += start.elapsed();
        self.timings.decoder_runs += 1;
        let (mshape, logits) = outputs[self.logits_output.as_str()]
            .try_extract_tensor::<f32>()
            .map_err(|e| onnx_error("decoder masks", e))?;
        let (ishape, ious) = outputs["iou_predictions"]
            .try_extract_tensor::<f32>()
            .map_err(|e| onnx_error("decoder iou_predictions", e))?;
        let (mshape, ishape) = (mshape.to_vec(), ishape.to_vec());
        if mshape.len() != 4
            || mshape[0] != ni
            || ishape.len() != 2
            || ishape[0] != ni
            || ishape[1] != mshape[1]
        {
            return Err(onnx_error(
                "decoder outputs",
                format!("masks {mshape:?} and iou_predictions {ishape:?} do not fit {n} prompts"),
            ));
        }
        let (k, lh, lw) = (mshape[1] as usize, mshape[2] as usize, mshape[3] as usize);
        let upscale = Upscale::new(lw, lh, w, h, resized, self.side);
        (0..n)
            .map(|i| {
                // SAM's four outputs are the single-mask token then three multimask tokens;
                // the best multimask one is kept. A three-output export holds those three.
                let first = if k == 4 { 1 } else { 0 };
                let ious_i = &ious[i * k..(i + 1) * k];
                let best = (first..k)
                    .max_by(|&a, &b| ious_i[a].total_cmp(&ious_i[b]).then(b.cmp(&a)))
                    .unwrap_or(0);
                let plane = &logits[(i * k + best) * lh * lw..(i * k + best + 1) * lh * lw];
                Ok(Prediction {
                    mask: upscale.threshold(plane)?,
                    score: ious_i[best].clamp(0.0, 1.0),
                })
            })
            .collect()
    }
}

impl Segmenter for OnnxSegmenter {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn runtime_time(&self) -> Option<Duration> {
        Some(self.timings.runtime)
    }

    fn segment(&mut self, image: &RgbImage, prompts: &[Prompt]) -> Result<Vec<Prediction>> {
        self.segment_timed(image, None, prompts)
    }

    fn preparer(&self) -> Option<Arc<dyn FramePrep>> {
        Some(Arc::new(self.prep()))
    }

    fn segment_prepared(
        &mut self,
        image: &RgbImage,
        prepared: PreparedFrame,
        prompts: &[Prompt],
    ) -> Result<Vec<Prediction>> {
        self.segment_timed(image, Some(prepared), prompts)
    }
}

/// The encoder input of a SAM export: the image resized (SAM 2: to the square; SAM 1: its
/// longest side to the square's), normalised by the convention's mean and deviation, padded.
struct SamPrep {
    convention: SamConvention,
    side: usize,
}

impl SamPrep {
    /// The resized image size (before padding) for a `w x h` image.
    fn resized(&self, w: u32, h: u32) -> (usize, usize) {
        match self.convention {
            SamConvention::Sam2 => (self.side, self.side),
            SamConvention::Sam1 => {
                let scale = self.side as f64 / f64::from(w.max(h));
                (
                    ((f64::from(w) * scale) + 0.5) as usize,
                    ((f64::from(h) * scale) + 0.5) as usize,
                )
            }
        }
    }

    /// Writes the input into `out` (its allocation reused); returns the resized size.
    fn prepare_into(&self, image: &RgbImage, out: &mut Vec<f32>) -> (usize, usize) {
        let (w, h) = image.dimensions();
        let resized = self.resized(w, h);
        let norm = match self.convention {
            SamConvention::Sam1 => ([123.675, 116.28, 103.53], [58.395, 57.12, 57.375], 1.0),
            SamConvention::Sam2 => ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225], 1.0 / 255.0),
        };
        resize_normalize(image, resized, self.side, norm, out);
        resized
    }
}

impl FramePrep for SamPrep {
    fn prepare(&self, image: &RgbImage) -> PreparedFrame {
        let mut input = Vec::new();
        let resized = self.prepare_into(image, &mut input);
        PreparedFrame { input, resized }
    }
}

/// Model ids already computed in this process, by the files' paths, sizes and modification
/// times (the stamps the build's input signature uses): `--watch` asks on every poll, every
/// worker asks when it opens its segmenter, and a real encoder is hundreds of megabytes.
type ModelIdMemo =
    std::collections::HashMap<(String, Vec<(PathBuf, u64, std::time::SystemTime)>), String>;
static MODEL_IDS: std::sync::Mutex<Option<ModelIdMemo>> = std::sync::Mutex::new(None);

/// The id of a model pair: its convention and a hash of both files' bytes (remembered while
/// the files keep their stamps).
pub fn model_id(cfg: &OnnxConfig) -> Result<String> {
    let stamps: Option<Vec<(PathBuf, u64, std::time::SystemTime)>> = [&cfg.encoder, &cfg.decoder]
        .iter()
        .map(|p| {
            let m = std::fs::metadata(p).ok()?;
            Some((p.to_path_buf(), m.len(), m.modified().ok()?))
        })
        .collect();
    let key = stamps.map(|s| (format!("{:?}", cfg.convention), s));
    if let Some(k) = &key
        && let Some(id) = MODEL_IDS
            .lock()
            .ok()
            .and_then(|m| m.as_ref()?.get(k).cloned())
    {
        return Ok(id);
    }
    let id = hash_model_files(cfg)?;
    if let (Some(k), Ok(mut memo)) = (key, MODEL_IDS.lock()) {
        memo.get_or_insert_with(Default::default)
            .insert(k, id.clone());
    }
    Ok(id)
}

fn hash_model_files(cfg: &OnnxConfig) -> Result<String> {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for p in [&cfg.encoder, &cfg.decoder] {
        let bytes = std::fs::read(p).map_err(|e| Error::io(p, e))?;
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    Ok(format!("{:?}-{:032x}", cfg.convention, h.digest128()).to_lowercase())
}

/// Bilinear resize (half-pixel centres) of `img` to `rw x rh`, normalised per channel as
/// `(v * scale - mean) / std`, into `out` as a zero-padded `side x side` NCHW plane set (its
/// allocation reused).
///
/// Written by hand: the `image` crate's resize yields 8-bit pixels and further passes would
/// normalise and transpose them. This one is separable: each source row that is needed is
/// interpolated across once (normalised, one plane per channel; normalising is affine, so
/// it commutes with interpolation), then each output row is a blend of two such rows.
fn resize_normalize(
    img: &RgbImage,
    (rw, rh): (usize, usize),
    side: usize,
    (mean, std, scale): ([f32; 3], [f32; 3], f32),
    out: &mut Vec<f32>,
) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let (rw, rh) = (rw.min(side), rh.min(side));
    let raw = img.as_raw();
    out.resize(3 * side * side, 0.0);
    if rw < side || rh < side {
        // Padding (SAM 1): what the image does not cover is zero.
        out.fill(0.0);
    }
    let taps = |n_in: usize, n_out: usize| -> Vec<(usize, usize, f32)> {
        let s = n_in as f32 / n_out as f32;
        (0..n_out)
            .map(|o| {
                let c = ((o as f32 + 0.5) * s - 0.5).max(0.0);
                let i0 = (c.floor() as usize).min(n_in - 1);
                let i1 = (i0 + 1).min(n_in - 1);
                (i0, i1, c - i0 as f32)
            })
            .collect()
    };
    let (xt, yt) = (taps(w, rw), taps(h, rh));
    // The horizontal taps as separate arrays. The right tap is always the next pixel (or
    // the same one at the edge), so a row is its values and its steps to the next.
    let x0: Vec<u32> = xt.iter().map(|t| t.0 as u32).collect();
    let fx: Vec<f32> = xt.iter().map(|t| t.2).collect();
    // Per channel: value -> (v * scale - mean) / std, as a * v + b.
    let a: [f32; 3] = std::array::from_fn(|c| scale / std[c]);
    let b: [f32; 3] = std::array::from_fn(|c| -mean[c] / std[c]);
    // One source row across, normalised, as three planes of rw values.
    let (mut value, mut step) = (vec![0f32; 3 * w], vec![0f32; 3 * w]);
    let mut across = |y: usize, row: &mut [f32]| {
        let src = &raw[y * w * 3..(y + 1) * w * 3];
        for c in 0..3 {
            let (v, d) = (
                &mut value[c * w..(c + 1) * w],
                &mut step[c * w..(c + 1) * w],
            );
            for (vi, px) in v.iter_mut().zip(src.chunks_exact(3)) {
                *vi = a[c] * f32::from(px[c]) + b[c];
            }
            for i in 0..w - 1 {
                d[i] = v[i + 1] - v[i];
            }
            d[w - 1] = 0.0;
            let plane = &mut row[c * rw..(c + 1) * rw];
            for ((o, &i), &f) in plane.iter_mut().zip(&x0).zip(&fx) {
                let i = i as usize;
                *o = v[i] + d[i] * f;
            }
        }
    };
    // The two source rows the current output row blends, kept while output rows reuse them.
    let (mut top, mut bottom) = (vec![0f32; 3 * rw], vec![0f32; 3 * rw]);
    let mut held: (usize, usize) = (usize::MAX, usize::MAX);
    let plane = side * side;
    for (oy, &(y0, y1, fy)) in yt.iter().enumerate() {
        if held != (y0, y1) {
            if held.1 == y0 {
                std::mem::swap(&mut top, &mut bottom);
            } else if held.0 != y0 {
                across(y0, &mut top);
            }
            if y1 != y0 {
                across(y1, &mut bottom);
            }
            held = (y0, y1);
        }
        for c in 0..3 {
            let dst = &mut out[c * plane + oy * side..c * plane + oy * side + rw];
            let (t, u) = (&top[c * rw..(c + 1) * rw], &bottom[c * rw..(c + 1) * rw]);
            if y1 == y0 {
                dst.copy_from_slice(t);
            } else {
                for ((d, &p), &q) in dst.iter_mut().zip(t).zip(u) {
                    *d = p + (q - p) * fy;
                }
            }
        }
    }
}

/// Maps decoder logits back to image pixels: the `lw x lh` logits cover the `side` square
/// of the model input, of which the image fills the top-left `resized` part. SAM upsamples
/// the logits to the square, crops the image part and resizes it to the image; this
/// samples the logits once at the composite position of each pixel centre (the same
/// bilinear surface within each logit cell).
struct Upscale {
    w: u32,
    h: u32,
    lw: usize,
    lh: usize,
    /// Logit-grid coordinate per image pixel is `(p + 0.5) * a - 0.5`.
    ax: f32,
    ay: f32,
}

impl Upscale {
    fn new(lw: usize, lh: usize, w: u32, h: u32, resized: (usize, usize), side: usize) -> Self {
        let (ax, ay) = if (lw, lh) == (w as usize, h as usize) {
            // Already at the image's size.
            (1.0, 1.0)
        } else {
            (
                resized.0 as f32 / w as f32 * lw as f32 / side as f32,
                resized.1 as f32 / h as f32 * lh as f32 / side as f32,
            )
        };
        Upscale {
            w,
            h,
            lw,
            lh,
            ax,
            ay,
        }
    }

    /// The mask where the upsampled logits are above 0. Only the pixels near positive
    /// logits are sampled (bilinear values elsewhere cannot be positive).
    fn threshold(&self, logits: &[f32]) -> Result<crossview_schemas::Rle> {
        let (mut c0, mut c1, mut r0, mut r1) = (usize::MAX, 0, usize::MAX, 0);
        for r in 0..self.lh {
            for c in 0..self.lw {
                if logits[r * self.lw + c] > 0.0 {
                    c0 = c0.min(c);
                    c1 = c1.max(c);
                    r0 = r0.min(r);
                    r1 = r1.max(r);
                }
            }
        }
        if c0 == usize::MAX {
            return Ok(crossview_schemas::Rle::empty(self.h, self.w));
        }
        // Pixels whose sample position lies within one logit cell of the positive ones.
        let span = |lo: usize, hi: usize, a: f32, n: u32| -> (u32, u32) {
            let first = ((lo as f32 - 0.5) / a - 0.5).floor().max(0.0) as u32;
            let last = ((hi as f32 + 1.5) / a - 0.5).ceil().max(0.0) as u32;
            (first.min(n), (last + 1).min(n))
        };
        let (x0, x1) = span(c0, c1, self.ax, self.w);
        let (y0, y1) = span(r0, r1, self.ay, self.h);
        let window = PixelWindow { x0, y0, x1, y1 };
        if window.area() == 0 {
            return Ok(crossview_schemas::Rle::empty(self.h, self.w));
        }
        let tap = |p: u32, a: f32, n: usize| -> (usize, usize, f32) {
            let c = ((p as f32 + 0.5) * a - 0.5).clamp(0.0, (n - 1) as f32);
            let i0 = c.floor() as usize;
            let i1 = (i0 + 1).min(n - 1);
            (i0, i1, c - i0 as f32)
        };
        let xt: Vec<_> = (x0..x1).map(|x| tap(x, self.ax, self.lw)).collect();
        let mut on = Vec::with_capacity(window.area());
        for y in y0..y1 {
            let (i0, i1, fy) = tap(y, self.ay, self.lh);
            let (row0, row1) = (
                &logits[i0 * self.lw..(i0 + 1) * self.lw],
                &logits[i1 * self.lw..(i1 + 1) * self.lw],
            );
            for &(j0, j1, fx) in &xt {
                let top = row0[j0] * (1.0 - fx) + row0[j1] * fx;
                let bottom = row1[j0] * (1.0 - fx) + row1[j1] * fx;
                on.push(top * (1.0 - fy) + bottom * fy > 0.0);
            }
        }
        window.encode(&on, self.w, self.h)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_model_id_is_remembered_until_a_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = OnnxConfig {
            encoder: dir.path().join("e.onnx"),
            decoder: dir.path().join("d.onnx"),
            ..OnnxConfig::default()
        };
        std::fs::write(&cfg.encoder, b"encoder").unwrap();
        std::fs::write(&cfg.decoder, b"decoder").unwrap();
        let first = model_id(&cfg).unwrap();
        assert_eq!(model_id(&cfg).unwrap(), first);
        assert_eq!(hash_model_files(&cfg).unwrap(), first);
        // Another size: another id (and the memo does not answer for the old stamps).
        std::fs::write(&cfg.decoder, b"decoder, retrained").unwrap();
        let second = model_id(&cfg).unwrap();
        assert_ne!(second, first);
        assert_eq!(second, hash_model_files(&cfg).unwrap());
        // A missing file is an error naming it, memo or not.
        std::fs::remove_file(&cfg.encoder).unwrap();
        let e = model_id(&cfg).unwrap_err().to_string();
        assert!(e.contains("e.onnx"), "{e}");
    }

    use super::*;

    #[test]
    fn resize_normalize_keeps_flat_colours_and_pads_with_zeros() {
        let img = RgbImage::from_pixel(6, 3, image::Rgb([255, 0, 128]));
        // SAM 1: longest side 6 -> 8, so 8 x 4, padded to 8 x 8.
        let mut out = vec![7.0; 5];
        resize_normalize(
            &img,
            (8, 4),
            8,
            ([1.0, 2.0, 3.0], [2.0, 4.0, 5.0], 1.0),
            &mut out,
        );
        assert_eq!(out.len(), 3 * 64);
        assert_eq!(out[0], (255.0 - 1.0) / 2.0);
        assert_eq!(out[64 + 3 * 8 + 7], (0.0 - 2.0) / 4.0);
        assert_eq!(out[128], (128.0 - 3.0) / 5.0);
        assert_eq!(out[4 * 8], 0.0, "row 4 is padding");
    }

    #[test]
    fn resize_interpolates_between_pixel_centres() {
        // Two columns, 0 and 100: upsampled x2 (half-pixel centres) gives 0, 25, 75, 100.
        let mut img = RgbImage::new(2, 1);
        img.put_pixel(1, 0, image::Rgb([100, 100, 100]));
        let mut out = Vec::new();
        resize_normalize(&img, (4, 2), 4, ([0.0; 3], [1.0; 3], 1.0), &mut out);
        assert_eq!(&out[0..4], &[0.0, 25.0, 75.0, 100.0]);
    }

    #[test]
    fn the_separable_resize_equals_direct_bilinear_sampling() {
        // Direct: each output pixel centre mapped back, four taps, by hand.
        let img = RgbImage::from_fn(7, 5, |x, y| {
            image::Rgb([
                (x * 37 + y * 11) as u8,
                (x * x * 5 + y * 3) as u8,
                (200 - x * y * 4) as u8,
            ])
        });
        let (rw, rh, side) = (11, 9, 12);
        let mut out = Vec::new();
        resize_normalize(
            &img,
            (rw, rh),
            side,
            ([10.0, 20.0, 30.0], [2.0, 3.0, 4.0], 0.5),
            &mut out,
        );
        let coord = |o: usize, n_in: usize, n_out: usize| {
            let c = ((o as f32 + 0.5) * n_in as f32 / n_out as f32 - 0.5).max(0.0);
            let i0 = (c.floor() as usize).min(n_in - 1);
            (i0, (i0 + 1).min(n_in - 1), c - i0 as f32)
        };
        for oy in 0..side {
            for ox in 0..side {
                for c in 0..3 {
                    let got = out[c * side * side + oy * side + ox];
                    if ox >= rw || oy >= rh {
                        assert_eq!(got, 0.0);
                        continue;
                    }
                    let (x0, x1, fx) = coord(ox, 7, rw);
                    let (y0, y1, fy) = coord(oy, 5, rh);
                    let p = |x: u32, y: u32| f32::from(img.get_pixel(x, y).0[c]);
                    let v = (p(x0 as u32, y0 as u32) * (1.0 - fx) + p(x1 as u32, y0 as u32) * fx)
                        * (1.0 - fy)
                        + (p(x0 as u32, y1 as u32) * (1.0 - fx) + p(x1 as u32, y1 as u32) * fx)
                            * fy;
                    let want = (v * 0.5 - [10.0, 20.0, 30.0][c]) / [2.0, 3.0, 4.0][c];
                    assert!(
                        (got - want).abs() < 1e-4,
                        "({ox}, {oy}, {c}): {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn upscaled_logits_threshold_where_the_surface_is_positive() {
        // A 4x4 logit grid over a 16x16 model input holding an 8x8 image (SAM 1, no pad):
        // each image pixel is half a logit cell.
        let mut logits = vec![-1.0f32; 16];
        logits[5] = 1.0; // row 1, col 1
        let up = Upscale::new(4, 4, 8, 8, (16, 16), 16);
        let m = up.threshold(&logits).unwrap();
        // Logit coordinate of pixel p is (p + 0.5) / 2 - 0.5; the surface is positive within
        // half a cell of (1, 1): pixels 2 and 3 on each axis.
        let bits = m.decode_row_major();
        let on: Vec<(usize, usize)> = (0..64)
            .filter(|i| bits[*i] == 1)
            .map(|i| (i % 8, i / 8))
            .collect();
        assert_eq!(on, vec![(2, 2), (3, 2), (2, 3), (3, 3)]);
        assert_eq!(up.threshold(&[-1.0; 16]).unwrap().area(), 0);
    }
}
