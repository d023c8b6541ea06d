//! Masks without a segmenter: [`keypoint_hull`], the union of limb capsules, torso and head
//! drawn from a person's COCO-17 keypoints; and [`box_mask`], the box filled in.

use crossview_schemas::{BoxXyxy, Keypoint, Rle};

use super::segmenter::PixelWindow;
use crate::Result;

/// COCO-17 limbs drawn as capsules: arms, legs, shoulders, hips, flanks, neck to nose.
const LIMBS: [(usize, usize); 12] = [
    (5, 7),
    (7, 9),
    (6, 8),
    (8, 10),
    (11, 13),
    (13, 15),
    (12, 14),
    (14, 16),
    (5, 6),
    (11, 12),
    (5, 11),
    (6, 12),
];

/// Limb radius as a fraction of the person's height in the image (the box's height).
const LIMB_RADIUS: f32 = 0.045;
/// Head radius as a fraction of that height.
const HEAD_RADIUS: f32 = 0.065;
/// Fewest labelled keypoints that outline a body.
const MIN_KEYPOINTS: usize = 5;

/// A person's mask from keypoints: capsules along the limbs, the torso quadrilateral, a disc
/// around the head, clipped to the box and the image. `None` when fewer than five
/// keypoints are labelled (COCO visibility >= 1) or nothing lands in the image.
pub fn keypoint_hull(
    keypoints: &[Keypoint],
    bbox: &BoxXyxy,
    width: u32,
    height: u32,
) -> Result<Option<Rle>> {
    let labelled = |k: usize| {
        keypoints
            .get(k)
            .filter(|p| p.visibility >= 1 && p.x.is_finite() && p.y.is_finite())
            .map(|p| (p.x, p.y))
    };
    if (0..keypoints.len().min(17))
        .filter(|&k| labelled(k).is_some())
        .count()
        < MIN_KEYPOINTS
    {
        return Ok(None);
    }
    let Some(window) = PixelWindow::of_box(bbox, width, height) else {
        return Ok(None);
    };
    let scale = bbox.height().max(bbox.width() * 0.5);
    let (limb_r, head_r) = (LIMB_RADIUS * scale, HEAD_RADIUS * scale);
    let segments: Vec<((f32, f32), (f32, f32))> = LIMBS
        .iter()
        .filter_map(|&(a, b)| Some((labelled(a)?, labelled(b)?)))
        .collect();
    let torso: Option<[(f32, f32); 4]> =
        (|| Some([labelled(5)?, labelled(6)?, labelled(12)?, labelled(11)?]))();
    // The head: around the face keypoints that are labelled.
    let face: Vec<(f32, f32)> = (0..5).filter_map(labelled).collect();
    let head = (!face.is_empty()).then(|| {
        let n = face.len() as f32;
        (
            face.iter().map(|p| p.0).sum::<f32>() / n,
            face.iter().map(|p| p.1).sum::<f32>() / n,
        )
    });
    let mut on = vec![false; window.area()];
    let ww = window.width() as usize;
    // Each shape is drawn over its own bounding box only.
    let mut draw = |lo: (f32, f32), hi: (f32, f32), inside: &dyn Fn((f32, f32)) -> bool| {
        let x0 = (lo.0.floor().max(window.x0 as f32) as u32).min(window.x1);
        let y0 = (lo.1.floor().max(window.y0 as f32) as u32).min(window.y1);
        let x1 = (hi.0.ceil().max(0.0) as u32).clamp(x0, window.x1);
        let y1 = (hi.1.ceil().max(0.0) as u32).clamp(y0, window.y1);
        for y in y0..y1 {
            for x in x0..x1 {
                if inside((x as f32 + 0.5, y as f32 + 0.5)) {
                    on[(y - window.y0) as usize * ww + (x - window.x0) as usize] = true;
                }
            }
        }
    };
    for &(a, b) in &segments {
        draw(
            (a.0.min(b.0) - limb_r, a.1.min(b.1) - limb_r),
            (a.0.max(b.0) + limb_r, a.1.max(b.1) + limb_r),
            &|p| segment_distance_sq(p, a, b) <= limb_r * limb_r,
        );
    }
    if let Some(q) = torso {
        let lo = q
            .iter()
            .fold((f32::MAX, f32::MAX), |m, p| (m.0.min(p.0), m.1.min(p.1)));
        let hi = q
            .iter()
            .fold((f32::MIN, f32::MIN), |m, p| (m.0.max(p.0), m.1.max(p.1)));
        draw(lo, hi, &|p| in_convex_quad(p, &q));
    }
    if let Some(c) = head {
        draw(
            (c.0 - head_r, c.1 - head_r),
            (c.0 + head_r, c.1 + head_r),
            &|p| (p.0 - c.0).powi(2) + (p.1 - c.1).powi(2) <= head_r * head_r,
        );
    }
    if !on.iter().any(|&v| v) {
        return Ok(None);
    }
    Ok(Some(window.encode(&on, width, height)?))
}

/// The box filled in (the paper's box-as-mask), clipped to the image; `None` when the box
/// is wholly outside.
pub fn box_mask(bbox: &BoxXyxy, width: u32, height: u32) -> Result<Option<Rle>> {
    match bbox.clip(width, height) {
        Some(b) => Ok(Some(Rle::from_box(&b, height, width)?)),
        None => Ok(None),
    }
}

fn segment_distance_sq(p: (f32, f32), a: (f32, f32), b: (f32, f32)) -> f32 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len = dx * dx + dy * dy;
    let t = if len > 0.0 {
        (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (cx, cy) = (a.0 + t * dx, a.1 + t * dy);
    (p.0 - cx).powi(2) + (p.1 - cy).powi(2)
}

/// Whether `p` is inside the quadrilateral (taken as convex; either winding).
fn in_convex_quad(p: (f32, f32), q: &[(f32, f32); 4]) -> bool {
    let mut sign = 0f32;
    for i in 0..4 {
        let (a, b) = (q[i], q[(i + 1) % 4]);
        let cross = (b.0 - a.0) * (p.1 - a.1) - (b.1 - a.1) * (p.0 - a.0);
        if cross != 0.0 {
            if sign != 0.0 && cross.signum() != sign {
                return false;
            }
            sign = cross.signum();
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kp(x: f32, y: f32) -> Keypoint {
        Keypoint {
            x,
            y,
            visibility: 2,
        }
    }

    /// A standing figure 100 px tall, centred at x = 50.
    fn figure() -> Vec<Keypoint> {
        vec![
            kp(50.0, 10.0), // nose
            kp(48.0, 8.0),  // eyes
            kp(52.0, 8.0),
            kp(45.0, 9.0), // ears
            kp(55.0, 9.0),
            kp(40.0, 25.0), // shoulders
            kp(60.0, 25.0),
            kp(36.0, 42.0), // elbows
            kp(64.0, 42.0),
            kp(34.0, 58.0), // wrists
            kp(66.0, 58.0),
            kp(43.0, 55.0), // hips
            kp(57.0, 55.0),
            kp(43.0, 75.0), // knees
            kp(57.0, 75.0),
            kp(43.0, 95.0), // ankles
            kp(57.0, 95.0),
        ]
    }

    #[test]
    fn the_hull_covers_the_body_and_not_the_space_between_the_legs() {
        let bbox = BoxXyxy::try_new(30.0, 0.0, 70.0, 100.0).unwrap();
        let m = keypoint_hull(&figure(), &bbox, 120, 110).unwrap().unwrap();
        let bits = m.decode_row_major();
        let at = |x: usize, y: usize| bits[y * 120 + x] == 1;
        assert!(at(50, 40), "torso");
        assert!(at(50, 10), "head");
        assert!(at(43, 85) && at(57, 85), "shins");
        assert!(!at(50, 88), "between the ankles");
        assert!(!at(31, 5), "box corner");
        // Clearly smaller than the box it lies in (a stick figure fills about half).
        let box_area = Rle::from_box(&bbox, 110, 120).unwrap().area();
        assert!(m.area() * 3 < box_area * 2, "{} of {box_area}", m.area());
        assert!(m.bbox().is_some_and(|b| bbox.contains(&b, 0.0)));
    }

    #[test]
    fn too_few_keypoints_or_a_box_outside_give_none() {
        let bbox = BoxXyxy::try_new(30.0, 0.0, 70.0, 100.0).unwrap();
        let mut few = figure();
        for k in few.iter_mut().skip(4) {
            k.visibility = 0;
        }
        assert!(keypoint_hull(&few, &bbox, 120, 110).unwrap().is_none());
        let outside = BoxXyxy::try_new(200.0, 0.0, 240.0, 100.0).unwrap();
        assert!(
            keypoint_hull(&figure(), &outside, 120, 110)
                .unwrap()
                .is_none()
        );
        assert!(box_mask(&outside, 120, 110).unwrap().is_none());
        assert_eq!(box_mask(&bbox, 120, 110).unwrap().unwrap().area(), 40 * 100);
    }
}
