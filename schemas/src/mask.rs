//! [`Rle`]: a binary mask as COCO run-length encoding, exactly as pycocotools reads and writes
//! it (column-major, runs start with zeros); the codec itself is the `hotcoco` crate's.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::bbox::BoxXyxy;
use crate::error::{Error, Result};
use crate::lzstring;

/// A binary mask of a `height x width` image as COCO run-length encoding.
///
/// Runs alternate background and foreground, start with background (possibly an empty
/// run) and cover the pixels in column-major order: pixel `i` is `(row i % height,
/// col i / height)`. The runs always sum to exactly `height * width`.
///
/// Serializes as the JSON object pycocotools uses, `{"size": [h, w], "counts": "..."}`.
///
/// ```
/// use crossview_schemas::Rle;
/// // 3x3, ones at (row 0, col 1) and (row 1, col 1): formats/egoexo4d.md 5.3.
/// let bitmap = [0, 1, 0, 0, 1, 0, 0, 0, 0]; // row-major
/// let rle = Rle::encode_row_major(&bitmap, 3, 3).unwrap();
/// assert_eq!(rle.counts(), &[3, 2, 4]);
/// assert_eq!(rle.to_coco_string(), "324");
/// assert_eq!(rle.area(), 2);
/// assert_eq!(rle.bbox().unwrap().to_array(), [1.0, 0.0, 2.0, 2.0]);
/// ```
#[derive(Clone, PartialEq)]
pub struct Rle(hotcoco::Rle);

impl Eq for Rle {}

impl std::hash::Hash for Rle {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.h.hash(state);
        self.0.w.hash(state);
        self.0.counts.hash(state);
    }
}

impl Rle {
    /// An RLE from its runs; fails unless they sum to `height * width`.
    pub fn from_counts(height: u32, width: u32, counts: Vec<u32>) -> Result<Self> {
        let got: u64 = counts.iter().map(|&c| u64::from(c)).sum();
        let expected = u64::from(height) * u64::from(width);
        if got != expected {
            return Err(Error::RleSize {
                height,
                width,
                expected,
                got,
            });
        }
        if expected > u64::from(u32::MAX) {
            return Err(Error::InvalidValue {
                what: "mask size",
                reason: format!("{height}x{width} exceeds the 2^32 pixels COCO RLE can hold"),
            });
        }
        Ok(Rle(hotcoco::Rle {
            h: height,
            w: width,
            counts,
        }))
    }

    /// The all-background mask.
    pub fn empty(height: u32, width: u32) -> Self {
        Rle(hotcoco::Rle {
            h: height,
            w: width,
            counts: vec![height * width],
        })
    }

    /// Encodes a column-major bitmap (any nonzero byte is foreground).
    pub fn encode_col_major(bitmap: &[u8], height: u32, width: u32) -> Result<Self> {
        check_bitmap(bitmap, height, width)?;
        let rle = hotcoco::mask::encode(bitmap, height, width)
            .map_err(|e| Error::Internal(e.to_string()))?;
        Ok(Rle(rle))
    }

    /// Encodes a row-major bitmap (image order; any nonzero byte is foreground).
    pub fn encode_row_major(bitmap: &[u8], height: u32, width: u32) -> Result<Self> {
        check_bitmap(bitmap, height, width)?;
        let (h, w) = (height as usize, width as usize);
        let mut col_major = vec![0u8; bitmap.len()];
        for (row, line) in bitmap.chunks_exact(w.max(1)).enumerate().take(h) {
            for (col, &v) in line.iter().enumerate() {
                col_major[col * h + row] = v;
            }
        }
        Self::encode_col_major(&col_major, height, width)
    }

    /// Decodes into a column-major bitmap of 0/1 bytes.
    pub fn decode_col_major(&self) -> Vec<u8> {
        hotcoco::mask::decode(&self.0)
    }

    /// Decodes into a row-major bitmap of 0/1 bytes (image order).
    pub fn decode_row_major(&self) -> Vec<u8> {
        let (h, w) = (self.0.h as usize, self.0.w as usize);
        let mut out = vec![0u8; h * w];
        let mut pos = 0usize;
        for (i, &run) in self.0.counts.iter().enumerate() {
            let run = run as usize;
            if i % 2 == 1 {
                for p in pos..pos + run {
                    out[(p % h) * w + p / h] = 1;
                }
            }
            pos += run;
        }
        out
    }

    /// Parses a COCO compressed-counts string; fails unless it decodes to runs that sum
    /// to exactly `height * width` (pycocotools itself accepts short runs; we do not).
    pub fn from_coco_string(counts: &str, height: u32, width: u32) -> Result<Self> {
        let rle = hotcoco::mask::rle_from_string(counts, height, width).map_err(|e| {
            Error::RleString {
                height,
                width,
                reason: e.to_string(),
            }
        })?;
        Self::from_counts(height, width, rle.counts)
    }

    /// The COCO compressed-counts string, byte for byte what pycocotools writes.
    pub fn to_coco_string(&self) -> String {
        hotcoco::mask::rle_to_string(&self.0)
    }

    /// Decodes an Ego-Exo4D `encodedMask`: LZ-string URI-component around a COCO counts
    /// string (formats/egoexo4d.md 5.2).
    pub fn from_lz_encoded(encoded: &str, height: u32, width: u32) -> Result<Self> {
        Self::from_lz_encoded_with(&mut lzstring::LzDecoder::default(), encoded, height, width)
    }

    /// [`Rle::from_lz_encoded`] with a decoder that is reused from mask to mask.
    pub fn from_lz_encoded_with(
        decoder: &mut lzstring::LzDecoder,
        encoded: &str,
        height: u32,
        width: u32,
    ) -> Result<Self> {
        Self::from_coco_string(decoder.decode(encoded)?, height, width)
    }

    /// The Ego-Exo4D `encodedMask` form of this mask.
    pub fn to_lz_encoded(&self) -> String {
        lzstring::compress_to_encoded_uri(&self.to_coco_string())
    }

    /// The mask of a box, rasterized as pycocotools' `frPyObjects` does for a bbox.
    pub fn from_box(b: &BoxXyxy, height: u32, width: u32) -> Result<Self> {
        if let Some(rle) = Self::from_box_direct(b, height, width) {
            return Ok(rle);
        }
        let xywh = b.to_xywh().map(f64::from);
        let rle = hotcoco::mask::fr_bbox(&xywh, height, width)
            .map_err(|e| Error::Internal(e.to_string()))?;
        Self::from_counts(height, width, rle.counts)
    }

    /// A box's runs written directly (hand-written: pycocotools rasterizes the box as a
    /// polygon, which costs a polygon fill per box): pixel `c` is covered when
    /// `floor(x1 + 0.5) <= c < floor(x2 + 0.5)`, and likewise for rows. That rule matches
    /// pycocotools except for edges within float noise of a half pixel, where its polygon
    /// arithmetic decides; those boxes return `None` and take the polygon path.
    fn from_box_direct(b: &BoxXyxy, height: u32, width: u32) -> Option<Self> {
        const NEAR_TIE: f64 = 1e-3;
        let edge = |v: f32, n: u32| -> Option<u32> {
            let t = f64::from(v) + 0.5;
            let frac = t - t.floor();
            if !(NEAR_TIE..=1.0 - NEAR_TIE).contains(&frac) {
                return None;
            }
            Some(t.floor().clamp(0.0, f64::from(n)) as u32)
        };
        if b.width() <= 0.0 || b.height() <= 0.0 {
            return None;
        }
        let (c0, c1) = (edge(b.x1(), width)?, edge(b.x2(), width)?);
        let (r0, r1) = (edge(b.y1(), height)?, edge(b.y2(), height)?);
        let mut rb = RleBuilder::new(height, width);
        if c1 > c0 && r1 > r0 {
            for c in c0..c1 {
                rb.skip_to(u64::from(c) * u64::from(height) + u64::from(r0));
                rb.push(true, r1 - r0);
            }
        }
        rb.finish().ok()
    }

    /// The mask of a polygon `[x0, y0, x1, y1, ...]`, rasterized as pycocotools does.
    pub fn from_polygon(xy: &[f64], height: u32, width: u32) -> Result<Self> {
        if xy.len() < 6 || !xy.len().is_multiple_of(2) {
            return Err(Error::Polygon(xy.len()));
        }
        for &v in xy {
            crate::error::finite("polygon coordinate", v)?;
        }
        let rle = hotcoco::mask::fr_poly(xy, height, width)
            .map_err(|e| Error::Internal(e.to_string()))?;
        Self::from_counts(height, width, rle.counts)
    }

    /// Union (`intersect == false`) or intersection of masks of one size.
    pub fn merge(masks: &[Rle], intersect: bool) -> Result<Self> {
        let Some(first) = masks.first() else {
            return Err(Error::InvalidValue {
                what: "mask list",
                reason: "cannot merge zero masks".into(),
            });
        };
        for m in masks {
            first.same_size(m)?;
        }
        let parts: Vec<hotcoco::Rle> = masks.iter().map(|m| m.0.clone()).collect();
        let rle =
            hotcoco::mask::merge(&parts, intersect).map_err(|e| Error::Internal(e.to_string()))?;
        Ok(Rle(rle))
    }

    /// Image height in pixels.
    pub fn height(&self) -> u32 {
        self.0.h
    }
    /// Image width in pixels.
    pub fn width(&self) -> u32 {
        self.0.w
    }
    /// `[height, width]`, as COCO writes `size`.
    pub fn size(&self) -> [u32; 2] {
        [self.0.h, self.0.w]
    }
    /// The runs.
    pub fn counts(&self) -> &[u32] {
        &self.0.counts
    }

    /// Number of foreground pixels.
    pub fn area(&self) -> u64 {
        hotcoco::mask::area(&self.0)
    }

    /// Whether no pixel is foreground.
    pub fn is_empty(&self) -> bool {
        self.0.counts.iter().skip(1).step_by(2).all(|&c| c == 0)
    }

    /// The tight box around the foreground, or `None` for an empty mask.
    pub fn bbox(&self) -> Option<BoxXyxy> {
        if self.is_empty() {
            return None;
        }
        let [x, y, w, h] = hotcoco::mask::to_bbox(&self.0);
        BoxXyxy::from_xywh(x, y, w, h).ok()
    }

    /// Foreground centroid `(x, y)` in continuous pixel coordinates, or `None` if empty.
    pub fn centroid(&self) -> Option<(f64, f64)> {
        let h = u64::from(self.0.h);
        let (mut sx, mut sy, mut n) = (0f64, 0f64, 0u64);
        let mut pos = 0u64;
        for (i, &run) in self.0.counts.iter().enumerate() {
            let run = u64::from(run);
            if i % 2 == 1 {
                // Sum of rows and columns over the run, walking it column by column.
                let mut p = pos;
                let end = pos + run;
                while p < end {
                    let col = p / h;
                    let row = p % h;
                    let in_col = (h - row).min(end - p);
                    sx += (col as f64 + 0.5) * in_col as f64;
                    sy += (row as f64 + 0.5) * in_col as f64 + (in_col * (in_col - 1) / 2) as f64;
                    n += in_col;
                    p += in_col;
                }
            }
            pos += run;
        }
        (n > 0).then(|| (sx / n as f64, sy / n as f64))
    }

    /// Intersection over union with a mask of the same size (0 when both are empty).
    pub fn iou(&self, other: &Rle) -> Result<f64> {
        self.same_size(other)?;
        let m = hotcoco::mask::iou(
            std::slice::from_ref(&self.0),
            std::slice::from_ref(&other.0),
            &[false],
        );
        Ok(m.first().and_then(|r| r.first()).copied().unwrap_or(0.0))
    }

    /// Number of pixels foreground in both masks.
    pub fn intersection_area(&self, other: &Rle) -> Result<u64> {
        Ok(Rle::merge(&[self.clone(), other.clone()], true)?.area())
    }

    fn same_size(&self, other: &Rle) -> Result<()> {
        if self.size() == other.size() {
            Ok(())
        } else {
            Err(Error::MaskSizeMismatch {
                a: (self.0.h, self.0.w),
                b: (other.0.h, other.0.w),
            })
        }
    }
}

/// Builds an [`Rle`] from runs given in column-major order, for producers that know their
/// mask as a sub-rectangle or a run stream (renderers, segmenters) and need no full bitmap.
///
/// ```
/// use crossview_schemas::RleBuilder;
/// // 3x3 image, foreground at column 1, rows 0..2.
/// let mut b = RleBuilder::new(3, 3);
/// b.skip_to(3);
/// b.push(true, 2);
/// assert_eq!(b.finish().unwrap().counts(), &[3, 2, 4]);
/// ```
#[derive(Clone, Debug)]
pub struct RleBuilder {
    height: u32,
    width: u32,
    counts: Vec<u32>,
    on: bool,
    len: u32,
    pos: u64,
}

impl RleBuilder {
    /// An empty builder for a `height x width` mask, positioned at pixel 0.
    pub fn new(height: u32, width: u32) -> Self {
        RleBuilder {
            height,
            width,
            counts: Vec::new(),
            on: false,
            len: 0,
            pos: 0,
        }
    }

    /// Appends `n` pixels of one value.
    pub fn push(&mut self, on: bool, n: u32) {
        if n == 0 {
            return;
        }
        if on == self.on {
            self.len += n;
        } else {
            self.counts.push(self.len);
            self.on = on;
            self.len = n;
        }
        self.pos += u64::from(n);
    }

    /// Appends background up to column-major pixel index `pos` (no-op if already there).
    pub fn skip_to(&mut self, pos: u64) {
        if pos > self.pos {
            self.push(false, (pos - self.pos) as u32);
        }
    }

    /// Column-major index of the next pixel.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Fills the rest with background and returns the mask; fails if more than
    /// `height * width` pixels were pushed.
    pub fn finish(mut self) -> Result<Rle> {
        let total = u64::from(self.height) * u64::from(self.width);
        self.skip_to(total);
        self.counts.push(self.len);
        Rle::from_counts(self.height, self.width, self.counts)
    }
}

/// A mask in COCO's compressed-counts string form: validated on construction, shared on
/// clone. Samples that refer to one observation's mask share one string instead of each
/// re-encoding (or copying) the runs; [`CocoRle::to_rle`] gives the runs back.
///
/// ```
/// use crossview_schemas::{CocoRle, Rle};
/// let rle = Rle::from_counts(3, 3, vec![3, 2, 4]).unwrap();
/// let s = CocoRle::from(&rle);
/// assert_eq!(s.counts(), "324");
/// assert_eq!(s.area(), 2);
/// assert_eq!(s.to_rle(), rle);
/// assert!(CocoRle::parse("32", 3, 3).is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CocoRle {
    height: u32,
    width: u32,
    counts: Arc<str>,
}

impl CocoRle {
    /// Validates a compressed-counts string for a `height x width` mask (its runs must
    /// cover exactly `height * width` pixels).
    pub fn parse(counts: &str, height: u32, width: u32) -> Result<Self> {
        Rle::from_coco_string(counts, height, width)?;
        Ok(CocoRle {
            height,
            width,
            counts: Arc::from(counts),
        })
    }
    /// The compressed-counts string.
    pub fn counts(&self) -> &str {
        &self.counts
    }
    /// Image height.
    pub fn height(&self) -> u32 {
        self.height
    }
    /// Image width.
    pub fn width(&self) -> u32 {
        self.width
    }
    /// `[height, width]`.
    pub fn size(&self) -> [u32; 2] {
        [self.height, self.width]
    }
    /// The runs.
    pub fn to_rle(&self) -> Rle {
        Rle::from_coco_string(&self.counts, self.height, self.width)
            .unwrap_or_else(|e| unreachable!("validated at construction: {e}"))
    }
    /// Foreground pixel count, without decoding into runs.
    pub fn area(&self) -> u64 {
        hotcoco::mask::area_from_string(&self.counts, self.height, self.width)
            .unwrap_or_else(|e| unreachable!("validated at construction: {e}"))
    }
    /// The tight box, or `None` for an empty mask.
    pub fn bbox(&self) -> Option<BoxXyxy> {
        self.to_rle().bbox()
    }
}

impl From<&Rle> for CocoRle {
    fn from(rle: &Rle) -> Self {
        CocoRle {
            height: rle.height(),
            width: rle.width(),
            counts: Arc::from(rle.to_coco_string()),
        }
    }
}

impl fmt::Debug for CocoRle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CocoRle({}x{}, {:?})",
            self.height, self.width, self.counts
        )
    }
}

impl Serialize for CocoRle {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        CocoRleRef {
            size: self.size(),
            counts: &self.counts,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for CocoRle {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let c = CocoRleJson::deserialize(d)?;
        CocoRle::parse(&c.counts, c.size[0], c.size[1]).map_err(serde::de::Error::custom)
    }
}

fn check_bitmap(bitmap: &[u8], height: u32, width: u32) -> Result<()> {
    if bitmap.len() as u64 != u64::from(height) * u64::from(width) {
        return Err(Error::BitmapSize {
            height,
            width,
            got: bitmap.len(),
        });
    }
    Ok(())
}

impl fmt::Debug for Rle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Rle({}x{}, area {}, {:?})",
            self.0.h,
            self.0.w,
            self.area(),
            self.to_coco_string()
        )
    }
}

/// The pycocotools JSON form of an RLE.
#[derive(Deserialize)]
struct CocoRleJson {
    size: [u32; 2],
    counts: String,
}

/// [`CocoRleJson`] borrowed, for serializing.
#[derive(Serialize)]
struct CocoRleRef<'a> {
    size: [u32; 2],
    counts: &'a str,
}

impl Serialize for Rle {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        CocoRleRef {
            size: self.size(),
            counts: &self.to_coco_string(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Rle {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let c = CocoRleJson::deserialize(d)?;
        Rle::from_coco_string(&c.counts, c.size[0], c.size[1]).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The direct box path gives exactly what the polygon path (pycocotools' algorithm in
    /// hotcoco) gives, for boxes inside, across and outside the image, on whole, half and
    /// arbitrary pixels.
    #[test]
    fn box_runs_match_the_polygon_rasterization() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let (mut direct, mut total) = (0, 0);
        for i in 0..20_000 {
            let (h, w) = (1 + (next() * 60.0) as u32, 1 + (next() * 60.0) as u32);
            let mut v = [
                next() * f64::from(w + 10) - 5.0,
                next() * f64::from(h + 10) - 5.0,
                next() * 30.0,
                next() * 30.0,
            ];
            if i % 3 == 0 {
                v = v.map(f64::round);
            } else if i % 5 == 0 {
                v = v.map(|x| (x * 4.0).round() / 4.0);
            }
            let Ok(b) = BoxXyxy::try_new(
                v[0] as f32,
                v[1] as f32,
                (v[0] + v[2]) as f32,
                (v[1] + v[3]) as f32,
            ) else {
                continue;
            };
            let xywh = b.to_xywh().map(f64::from);
            let poly = hotcoco::mask::fr_bbox(&xywh, h, w).unwrap();
            total += 1;
            if let Some(fast) = Rle::from_box_direct(&b, h, w) {
                direct += 1;
                assert_eq!(fast.counts(), poly.counts.as_slice(), "{b:?} in {h}x{w}");
            }
            assert_eq!(
                Rle::from_box(&b, h, w).unwrap().counts(),
                poly.counts.as_slice()
            );
        }
        // Most boxes take the direct path (half-pixel edges do not).
        assert!(direct * 10 > total * 6, "{direct} of {total}");
    }

    #[test]
    fn tiny_golden_vectors_decode() {
        let rle = Rle::from_lz_encoded("MwJgLEA", 3, 3).unwrap();
        assert_eq!(rle.counts(), &[3, 2, 4]);
        assert_eq!(rle.decode_row_major(), vec![0, 1, 0, 0, 1, 0, 0, 0, 0]);
        let full = Rle::from_lz_encoded("AwFiA", 2, 2).unwrap();
        assert_eq!(full.counts(), &[0, 4]);
        assert_eq!(full.area(), 4);
    }

    /// The docs sample of formats/egoexo4d.md 5.3 (`stainless bowl_0`, aria01, frame 270).
    #[test]
    fn golden_docs_sample_decodes() {
        const SAMPLE: &str = "LYPQ6gxgDAfA2nAjAUygXQPIC4BSAWASQA4AJAThKIIFYAZAZlupwHYcA2AaXoFkAmAHJ8eeWnk7sGAxAN7D60jIMaiFfDDMRQZw9eqhKhRwesQYDpxbsNaL07VY3mlz-UIe2n+qAc9+f2s62gQEeoT4a4b4R3pGRUQmJBtpJUebBERkhmaHxqfFe9j5mFuYhLgEFgv6auVo6VvYlXkGGlp7VhWb6SjxqQq6y-I31fSL8fULjJpPyPNTcQ530nHTsNGIcOFgAYmQAIjD7FABGaAAGAPZQQA";
        assert_eq!(SAMPLE.len(), 287);
        let counts = lzstring::decompress_from_encoded_uri(SAMPLE).unwrap();
        assert!(counts.starts_with("m^Wc0>[[1e0]O:J4I8"), "{counts}");
        assert_eq!(counts.len(), 467);
        let rle = Rle::from_lz_encoded(SAMPLE, 1408, 1408).unwrap();
        assert_eq!(rle.counts().len(), 455);
        assert_eq!(&rle.counts()[..6], &[630237, 14, 1387, 35, 1368, 45]);
        assert_eq!(rle.area(), 37_866);
        // Inclusive bbox 447,765..673,977 is [447, 765, 674, 978) in our exclusive convention.
        assert_eq!(rle.bbox().unwrap().to_array(), [447.0, 765.0, 674.0, 978.0]);
        // The positive click of the docs lies inside the mask: x = column, y = row.
        let bitmap = rle.decode_row_major();
        assert_eq!(bitmap[861 * 1408 + 542], 1);
        // Re-encoding gives back the same counts string.
        assert_eq!(rle.to_coco_string(), counts);
    }

    #[test]
    fn rejects_runs_that_do_not_cover_the_image() {
        assert!(matches!(
            Rle::from_counts(2, 2, vec![1, 2]),
            Err(Error::RleSize { got: 3, .. })
        ));
        // "3" alone is one background run of 3 for a 2x2 mask: short by one pixel.
        assert!(Rle::from_coco_string("3", 2, 2).is_err());
        assert!(Rle::from_coco_string("32", 2, 2).is_err());
    }

    #[test]
    fn row_and_column_major_agree() {
        let (h, w) = (5u32, 7u32);
        let bitmap: Vec<u8> = (0..h * w).map(|i| u8::from((i * 7 + 3) % 5 < 2)).collect();
        let rle = Rle::encode_row_major(&bitmap, h, w).unwrap();
        assert_eq!(rle.decode_row_major(), bitmap);
        let col = rle.decode_col_major();
        for r in 0..h as usize {
            for c in 0..w as usize {
                assert_eq!(col[c * h as usize + r], bitmap[r * w as usize + c]);
            }
        }
        let back = Rle::from_coco_string(&rle.to_coco_string(), h, w).unwrap();
        assert_eq!(back, rle);
    }

    #[test]
    fn centroid_and_bbox_by_hand() {
        // 4x3 image, foreground at (row 1, col 0), (row 2, col 0), (row 3, col 2).
        let mut bm = vec![0u8; 12];
        bm[3] = 1;
        bm[2 * 3] = 1;
        bm[3 * 3 + 2] = 1;
        let rle = Rle::encode_row_major(&bm, 4, 3).unwrap();
        let (cx, cy) = rle.centroid().unwrap();
        assert!((cx - (0.5 + 0.5 + 2.5) / 3.0).abs() < 1e-12);
        assert!((cy - (1.5 + 2.5 + 3.5) / 3.0).abs() < 1e-12);
        assert_eq!(rle.bbox().unwrap().to_array(), [0.0, 1.0, 3.0, 4.0]);
        assert!(Rle::empty(4, 3).bbox().is_none());
        assert!(Rle::empty(4, 3).centroid().is_none());
    }

    #[test]
    fn iou_of_masks_by_hand() {
        let a = Rle::encode_row_major(&[1, 1, 0, 0], 2, 2).unwrap();
        let b = Rle::encode_row_major(&[0, 1, 0, 1], 2, 2).unwrap();
        assert!((a.iou(&b).unwrap() - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(a.intersection_area(&b).unwrap(), 1);
        assert!(a.iou(&Rle::empty(3, 2)).is_err());
        let u = Rle::merge(&[a, b], false).unwrap();
        assert_eq!(u.area(), 3);
    }

    #[test]
    fn serde_uses_the_pycocotools_form() {
        let rle = Rle::from_counts(3, 3, vec![3, 2, 4]).unwrap();
        let json = serde_json::to_string(&rle).unwrap();
        assert_eq!(json, r#"{"size":[3,3],"counts":"324"}"#);
        assert_eq!(serde_json::from_str::<Rle>(&json).unwrap(), rle);
        assert!(serde_json::from_str::<Rle>(r#"{"size":[3,3],"counts":"32"}"#).is_err());
    }
}
