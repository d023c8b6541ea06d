//! [`BoxXyxy`]: the one box type that crosses module boundaries, in continuous pixel
//! coordinates, with converters from each source's convention (xywh, inclusive xyxy).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// An axis-aligned box in continuous pixel coordinates of one image.
///
/// The image's top-left corner is `(0, 0)`; pixel `(col c, row r)` covers
/// `[c, c+1) x [r, r+1)` and its centre is `(c + 0.5, r + 0.5)`. So a box that covers
/// columns `a..=b` has `x1 = a`, `x2 = b + 1`: the tight box of a mask is exactly what
/// pycocotools' `toBbox` gives as `[x, y, w, h]`, read as `[x1, y1, x1 + w, y1 + h]`.
///
/// `x1 <= x2` and `y1 <= y2` always hold, and all four values are finite. A box may lie
/// partly or wholly outside the image (sources project boxes of truncated objects).
///
/// ```
/// use crossview_schemas::BoxXyxy;
/// // MessyTable writes inclusive pixel indices: columns 812..=901.
/// let b = BoxXyxy::from_inclusive_xyxy(812.0, 400.0, 901.0, 512.0).unwrap();
/// assert_eq!(b.width(), 90.0);
/// assert_eq!(b.to_xywh(), [812.0, 400.0, 90.0, 113.0]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BoxXyxy {
    x1: f32,
    y1: f32,
    x2: f32,
    y2: f32,
}

impl BoxXyxy {
    /// A box from its corners; fails on non-finite values or `x2 < x1`, `y2 < y1`.
    pub fn try_new(x1: f32, y1: f32, x2: f32, y2: f32) -> Result<Self> {
        for v in [x1, y1, x2, y2] {
            crate::error::finite("box coordinate", f64::from(v))?;
        }
        if x2 < x1 || y2 < y1 {
            return Err(Error::InvalidValue {
                what: "box",
                reason: format!("corners out of order: [{x1}, {y1}, {x2}, {y2}] (xyxy)"),
            });
        }
        Ok(BoxXyxy { x1, y1, x2, y2 })
    }

    /// A box from COCO-style `[x, y, width, height]` (EgoHumans COCO, Ego-Exo4D ego boxes).
    pub fn from_xywh(x: f64, y: f64, w: f64, h: f64) -> Result<Self> {
        if w < 0.0 || h < 0.0 {
            return Err(Error::InvalidValue {
                what: "box",
                reason: format!("negative size in xywh [{x}, {y}, {w}, {h}]"),
            });
        }
        Self::try_new(x as f32, y as f32, (x + w) as f32, (y + h) as f32)
    }

    /// A box from inclusive pixel indices `x1..=x2`, `y1..=y2` (MessyTable's convention).
    pub fn from_inclusive_xyxy(x1: f64, y1: f64, x2: f64, y2: f64) -> Result<Self> {
        Self::try_new(x1 as f32, y1 as f32, (x2 + 1.0) as f32, (y2 + 1.0) as f32)
    }

    /// Left edge.
    pub fn x1(&self) -> f32 {
        self.x1
    }
    /// Top edge.
    pub fn y1(&self) -> f32 {
        self.y1
    }
    /// Right edge (exclusive).
    pub fn x2(&self) -> f32 {
        self.x2
    }
    /// Bottom edge (exclusive).
    pub fn y2(&self) -> f32 {
        self.y2
    }
    /// `[x1, y1, x2, y2]`.
    pub fn to_array(&self) -> [f32; 4] {
        [self.x1, self.y1, self.x2, self.y2]
    }
    /// COCO `[x, y, width, height]`.
    pub fn to_xywh(&self) -> [f32; 4] {
        [self.x1, self.y1, self.width(), self.height()]
    }
    /// Width in pixels.
    pub fn width(&self) -> f32 {
        self.x2 - self.x1
    }
    /// Height in pixels.
    pub fn height(&self) -> f32 {
        self.y2 - self.y1
    }
    /// Area in square pixels.
    pub fn area(&self) -> f64 {
        f64::from(self.width()) * f64::from(self.height())
    }
    /// Centre `(x, y)`.
    pub fn center(&self) -> (f32, f32) {
        ((self.x1 + self.x2) * 0.5, (self.y1 + self.y2) * 0.5)
    }

    /// The part inside a `width x height` image, or `None` if nothing is inside.
    pub fn clip(&self, width: u32, height: u32) -> Option<Self> {
        let (w, h) = (width as f32, height as f32);
        let b = BoxXyxy {
            x1: self.x1.clamp(0.0, w),
            y1: self.y1.clamp(0.0, h),
            x2: self.x2.clamp(0.0, w),
            y2: self.y2.clamp(0.0, h),
        };
        (b.width() > 0.0 && b.height() > 0.0).then_some(b)
    }

    /// Intersection over union with another box (0 when both are empty).
    pub fn iou(&self, other: &Self) -> f64 {
        let iw = (self.x2.min(other.x2) - self.x1.max(other.x1)).max(0.0);
        let ih = (self.y2.min(other.y2) - self.y1.max(other.y1)).max(0.0);
        let inter = f64::from(iw) * f64::from(ih);
        let union = self.area() + other.area() - inter;
        if union > 0.0 { inter / union } else { 0.0 }
    }

    /// Whether `other` lies inside this box, allowing `slack` pixels on each side.
    pub fn contains(&self, other: &Self, slack: f32) -> bool {
        other.x1 >= self.x1 - slack
            && other.y1 >= self.y1 - slack
            && other.x2 <= self.x2 + slack
            && other.y2 <= self.y2 + slack
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conventions_convert_exactly() {
        let b = BoxXyxy::from_xywh(10.0, 20.0, 30.0, 40.0).unwrap();
        assert_eq!(b.to_array(), [10.0, 20.0, 40.0, 60.0]);
        assert_eq!(b.to_xywh(), [10.0, 20.0, 30.0, 40.0]);
        let inc = BoxXyxy::from_inclusive_xyxy(1.0, 0.0, 1.0, 1.0).unwrap();
        assert_eq!(inc.to_xywh(), [1.0, 0.0, 1.0, 2.0]);
    }

    #[test]
    fn rejects_bad_boxes() {
        assert!(BoxXyxy::try_new(5.0, 0.0, 4.0, 1.0).is_err());
        assert!(BoxXyxy::try_new(f32::NAN, 0.0, 4.0, 1.0).is_err());
        assert!(BoxXyxy::from_xywh(0.0, 0.0, -1.0, 1.0).is_err());
    }

    #[test]
    fn iou_and_clip_by_hand() {
        let a = BoxXyxy::try_new(0.0, 0.0, 2.0, 2.0).unwrap();
        let b = BoxXyxy::try_new(1.0, 1.0, 3.0, 3.0).unwrap();
        assert!((a.iou(&b) - 1.0 / 7.0).abs() < 1e-12);
        let c = BoxXyxy::try_new(-5.0, 2.0, 5.0, 20.0).unwrap();
        assert_eq!(c.clip(4, 10).unwrap().to_array(), [0.0, 2.0, 4.0, 10.0]);
        assert!(
            BoxXyxy::try_new(-5.0, -5.0, -1.0, -1.0)
                .unwrap()
                .clip(4, 4)
                .is_none()
        );
    }
}
