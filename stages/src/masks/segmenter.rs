//! The [`Segmenter`] trait (an image and prompts in, masks with scores out) and what crosses
//! it: [`Prompt`], [`Prediction`], and [`PixelWindow`], a box's pixel range and mask encoder.

use std::sync::Arc;

use crossview_schemas::{BoxXyxy, Rle, RleBuilder};
use image::RgbImage;

use crate::Result;

/// A point prompt: a pixel the object covers (`positive`) or does not.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PromptPoint {
    /// Column, continuous pixel coordinates.
    pub x: f32,
    /// Row, continuous pixel coordinates.
    pub y: f32,
    /// Inside the object (SAM label 1) or outside (label 0).
    pub positive: bool,
}

/// What a segmenter is asked about one object: its box, and optional points.
#[derive(Clone, Debug, PartialEq)]
pub struct Prompt {
    /// The object's box in image pixels (may reach outside the image).
    pub bbox: BoxXyxy,
    /// Points on (or off) the object.
    pub points: Vec<PromptPoint>,
    /// The box is drawn tight around the visible object (MessyTable), so the object
    /// reaches each of its sides; otherwise it may be loose (a projected or padded box).
    pub tight: bool,
}

impl Prompt {
    /// The prompt's bytes for cache keys: box corners and points, as exact bit patterns.
    pub fn key_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(16 + 9 * self.points.len());
        for v in self.bbox.to_array() {
            b.extend(v.to_bits().to_le_bytes());
        }
        for p in &self.points {
            b.extend(p.x.to_bits().to_le_bytes());
            b.extend(p.y.to_bits().to_le_bytes());
            b.push(u8::from(p.positive));
        }
        b.push(u8::from(self.tight));
        b
    }
}

/// A segmenter's answer to one prompt.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// The mask, at the image's size.
    pub mask: Rle,
    /// Confidence in `[0, 1]` (SAM's predicted IoU, or the graph cut's stability).
    pub score: f32,
}

/// Turns an image and prompts into masks with scores, one per prompt, in prompt order.
pub trait Segmenter: Send {
    /// Identifies the model and its settings: a content hash of its files (ONNX), or the
    /// algorithm version and parameters; part of every cache key.
    fn model_id(&self) -> &str;

    /// Segments the prompts of one image (all prompts of a frame come in one call, so a
    /// model encodes the image once and batches the prompts).
    fn segment(&mut self, image: &RgbImage, prompts: &[Prompt]) -> Result<Vec<Prediction>>;

    /// Time spent inside an inference runtime so far, for segmenters that run one (ONNX
    /// Runtime); `None` for those that do not.
    fn runtime_time(&self) -> Option<std::time::Duration> {
        None
    }

    /// The segmenter's work on an image that needs no model (resizing, normalising), to run
    /// on another thread while the model runs on the previous frame; `None` when it has none.
    fn preparer(&self) -> Option<Arc<dyn FramePrep>> {
        None
    }

    /// [`Segmenter::segment`] with what this segmenter's [`Segmenter::preparer`] made of the
    /// image.
    fn segment_prepared(
        &mut self,
        image: &RgbImage,
        prepared: PreparedFrame,
        prompts: &[Prompt],
    ) -> Result<Vec<Prediction>> {
        let _ = prepared;
        self.segment(image, prompts)
    }
}

/// Model-free preparation of a frame (see [`Segmenter::preparer`]).
pub trait FramePrep: Send + Sync {
    /// What the model will take of `image`.
    fn prepare(&self, image: &RgbImage) -> PreparedFrame;
}

/// A frame made ready for a model: its input tensor's values, and the size the image was
/// resized to inside it.
#[derive(Debug, Default)]
pub struct PreparedFrame {
    /// The model input (layout is the segmenter's).
    pub input: Vec<f32>,
    /// The resized image's width and height inside the input.
    pub resized: (usize, usize),
}

/// A box's whole pixels inside an image, `[x0, x1) x [y0, y1)`: the pixels whose centres
/// the box covers (the rule `Rle::from_box` follows), clipped to the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PixelWindow {
    /// First column.
    pub x0: u32,
    /// First row.
    pub y0: u32,
    /// One past the last column.
    pub x1: u32,
    /// One past the last row.
    pub y1: u32,
}

impl PixelWindow {
    /// The pixels of `b` inside a `width x height` image; `None` when there are none.
    pub fn of_box(b: &BoxXyxy, width: u32, height: u32) -> Option<PixelWindow> {
        let edge = |v: f32, n: u32| (f64::from(v) + 0.5).floor().clamp(0.0, f64::from(n)) as u32;
        let w = PixelWindow {
            x0: edge(b.x1(), width),
            y0: edge(b.y1(), height),
            x1: edge(b.x2(), width),
            y1: edge(b.y2(), height),
        };
        (w.x1 > w.x0 && w.y1 > w.y0).then_some(w)
    }

    /// This window grown by `margin` pixels on every side, clipped to the image.
    pub fn grown(&self, margin: u32, width: u32, height: u32) -> PixelWindow {
        PixelWindow {
            x0: self.x0.saturating_sub(margin),
            y0: self.y0.saturating_sub(margin),
            x1: (self.x1 + margin).min(width),
            y1: (self.y1 + margin).min(height),
        }
    }

    /// Columns.
    pub fn width(&self) -> u32 {
        self.x1 - self.x0
    }

    /// Rows.
    pub fn height(&self) -> u32 {
        self.y1 - self.y0
    }

    /// Pixels.
    pub fn area(&self) -> usize {
        self.width() as usize * self.height() as usize
    }

    /// Whether pixel `(x, y)` of the image is inside.
    pub fn contains(&self, x: u32, y: u32) -> bool {
        (self.x0..self.x1).contains(&x) && (self.y0..self.y1).contains(&y)
    }

    /// The mask of a `width x height` image whose foreground is `on` (row-major over this
    /// window) and nothing outside it.
    pub fn encode(&self, on: &[bool], width: u32, height: u32) -> Result<Rle> {
        debug_assert_eq!(on.len(), self.area());
        let ww = self.width() as usize;
        let mut rb = RleBuilder::new(height, width);
        for x in self.x0..self.x1 {
            let col = (x - self.x0) as usize;
            let base = u64::from(x) * u64::from(height);
            let mut y = self.y0;
            while y < self.y1 {
                let v = on[(y - self.y0) as usize * ww + col];
                let start = y;
                while y < self.y1 && on[(y - self.y0) as usize * ww + col] == v {
                    y += 1;
                }
                if v {
                    rb.skip_to(base + u64::from(start));
                    rb.push(true, y - start);
                }
            }
        }
        Ok(rb.finish()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_encodes_as_the_box_mask_when_full() {
        let b = BoxXyxy::try_new(2.3, 1.0, 7.6, 4.4).unwrap();
        let w = PixelWindow::of_box(&b, 10, 6).unwrap();
        assert_eq!((w.x0, w.y0, w.x1, w.y1), (2, 1, 8, 4));
        let full = w.encode(&vec![true; w.area()], 10, 6).unwrap();
        assert_eq!(full, Rle::from_box(&b, 6, 10).unwrap());
        // One pixel on, at window (1, 2) = image (3, 3): column-major index 3 * 6 + 3.
        let mut on = vec![false; w.area()];
        on[2 * w.width() as usize + 1] = true;
        let one = w.encode(&on, 10, 6).unwrap();
        assert_eq!(one.counts(), &[21, 1, 38]);
        assert!(
            PixelWindow::of_box(&BoxXyxy::try_new(11.0, 0.0, 12.0, 3.0).unwrap(), 10, 6).is_none()
        );
        assert_eq!(
            w.grown(3, 10, 6),
            PixelWindow {
                x0: 0,
                y0: 0,
                x1: 10,
                y1: 6
            }
        );
    }
}
