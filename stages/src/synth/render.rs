//! The synthetic renderer: a per-part z-buffer scan whose depths come from exact ray-primitive
//! intersections along each pixel's lens ray, giving instance ids, modal and amodal masks, probes
//! and shaded RGB.
//!
//! Why ray intersection rather than triangle rasterization: under fisheye distortion a straight
//! 3D edge projects to a curve, so rasterizing projected triangles misplaces silhouettes; a
//! per-pixel ray through the exact lens model is right by construction. Parts are still visited
//! one at a time over their projected bounds with a depth test, as a z-buffer does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crossview_schemas::glam::{DMat3, DVec2, DVec3};
use crossview_schemas::{BoxXyxy, CameraModel, Rle, RleBuilder, WorldToCamera};

use super::appearance::{Rgb, grain_hash};
use super::shapes::Shape;
use super::world::{BACKGROUND, Room, WorldPart};

/// Unit camera-frame rays through every pixel centre of one camera model.
pub struct RayTable {
    width: u32,
    height: u32,
    /// Row-major; `x` is NaN where the lens model cannot be inverted.
    dirs: Vec<[f32; 3]>,
    /// Rays every [`COARSE`] pixels over the window `[-4w, 5w) x [-4h, 5h)` the unclipped
    /// area is measured in, for sampling large off-image regions without inverting the lens.
    coarse: Vec<[f32; 3]>,
    coarse_cols: usize,
}

/// Spacing of the coarse off-image ray grid, pixels.
const COARSE: i64 = 8;

impl RayTable {
    /// The (cached) table of a camera model: models repeat across scenes and frames, and
    /// inverting a fisheye lens per pixel is the costly part.
    pub fn for_model(model: &CameraModel) -> Arc<RayTable> {
        static CACHE: OnceLock<Mutex<HashMap<String, Arc<RayTable>>>> = OnceLock::new();
        let key = format!("{model:?}");
        let cache = CACHE.get_or_init(Default::default);
        if let Some(t) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return t.clone();
        }
        let (w, h) = (model.width(), model.height());
        let dirs = (0..h as usize * w as usize)
            .map(|i| {
                let px = DVec2::new((i % w as usize) as f64 + 0.5, (i / w as usize) as f64 + 0.5);
                match model.unproject(px) {
                    Some(d) => [d.x as f32, d.y as f32, d.z as f32],
                    None => [f32::NAN; 3],
                }
            })
            .collect();
        let (cw, ch) = (9 * i64::from(w) / COARSE, 9 * i64::from(h) / COARSE);
        let coarse = (0..cw * ch)
            .map(|i| {
                let (gx, gy) = (i % cw, i / cw);
                let px = DVec2::new(
                    (gx * COARSE - 4 * i64::from(w)) as f64 + 0.5,
                    (gy * COARSE - 4 * i64::from(h)) as f64 + 0.5,
                );
                match model.unproject(px) {
                    Some(d) => [d.x as f32, d.y as f32, d.z as f32],
                    None => [f32::NAN; 3],
                }
            })
            .collect();
        let table = Arc::new(RayTable {
            width: w,
            height: h,
            dirs,
            coarse,
            coarse_cols: cw as usize,
        });
        let mut guard = cache.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded: a run uses a handful of distinct models; start over if something odd
        // (thousands of models) happens rather than grow without end.
        if guard.len() > 256 {
            guard.clear();
        }
        guard.insert(key, table.clone());
        table
    }

    fn dir(&self, i: usize) -> Option<DVec3> {
        let d = self.dirs[i];
        (!d[0].is_nan()).then(|| DVec3::new(f64::from(d[0]), f64::from(d[1]), f64::from(d[2])))
    }

    /// The coarse-grid ray at pixel `(x, y)` (both multiples of [`COARSE`] after the
    /// window's offset), if the grid has one there.
    fn coarse_dir(&self, x: i64, y: i64) -> Option<DVec3> {
        let gx = (x + 4 * i64::from(self.width)) / COARSE;
        let gy = (y + 4 * i64::from(self.height)) / COARSE;
        if gx < 0 || gy < 0 || gx as usize >= self.coarse_cols {
            return None;
        }
        let d = *self
            .coarse
            .get(gy as usize * self.coarse_cols + gx as usize)?;
        (!d[0].is_nan()).then(|| DVec3::new(f64::from(d[0]), f64::from(d[1]), f64::from(d[2])))
    }
}

/// What to render.
#[derive(Clone, Copy, Debug)]
pub struct RenderOptions {
    /// Produce shaded RGB pixels (otherwise only ids and masks).
    pub shade: bool,
    /// Seed of the sensor noise.
    pub noise_seed: u64,
    /// Full-resolution masks in the result (otherwise areas and boxes only).
    pub keep_masks: bool,
}

/// How one instance came out in a view.
#[derive(Clone, Debug)]
pub struct InstanceRender {
    /// 1-based owner index.
    pub owner: u16,
    /// Visible pixels, when masks are kept.
    pub modal: Option<Rle>,
    /// Pixels of the whole object inside the image, when masks are kept.
    pub amodal: Option<Rle>,
    /// Number of visible pixels.
    pub modal_area: u64,
    /// Number of pixels of the whole object inside the image.
    pub amodal_area: u64,
    /// Pixels of the whole object on an unbounded image plane.
    pub amodal_area_unclipped: u64,
    /// Tight box around the visible pixels.
    pub bbox: Option<BoxXyxy>,
    /// A visible surface point (world) and its pixel centre.
    pub probe: Option<(DVec3, [f32; 2])>,
    /// Box around the projected whole object, unclipped (may exceed the image).
    pub amodal_bbox: Option<BoxXyxy>,
}

/// One rendered view.
pub struct ViewRender {
    /// Image width.
    pub width: u32,
    /// Image height.
    pub height: u32,
    /// Instances whose whole object projects onto the (unbounded) image plane.
    pub instances: Vec<InstanceRender>,
    /// Shaded pixels, RGB8 row-major, when requested.
    pub rgb: Option<Vec<u8>>,
}

impl ViewRender {
    /// The same view's annotations for the image resized to `width x height` (boxes, probe
    /// pixels and areas scale; masks are dropped, as they would need re-rendering).
    pub fn rescaled(self, width: u32, height: u32) -> ViewRender {
        let sx = f64::from(width) / f64::from(self.width);
        let sy = f64::from(height) / f64::from(self.height);
        let scale_box = |b: BoxXyxy| {
            BoxXyxy::try_new(
                (f64::from(b.x1()) * sx) as f32,
                (f64::from(b.y1()) * sy) as f32,
                (f64::from(b.x2()) * sx) as f32,
                (f64::from(b.y2()) * sy) as f32,
            )
            .ok()
        };
        let area = |a: u64| (a as f64 * sx * sy).round() as u64;
        let instances = self
            .instances
            .into_iter()
            .map(|r| InstanceRender {
                owner: r.owner,
                modal: None,
                amodal: None,
                modal_area: area(r.modal_area),
                amodal_area: area(r.amodal_area),
                amodal_area_unclipped: area(r.amodal_area_unclipped),
                bbox: r.bbox.and_then(scale_box),
                probe: r.probe.map(|(p, px)| {
                    (
                        p,
                        [
                            (f64::from(px[0]) * sx) as f32,
                            (f64::from(px[1]) * sy) as f32,
                        ],
                    )
                }),
                amodal_bbox: r.amodal_bbox.and_then(scale_box),
            })
            .collect();
        ViewRender {
            width,
            height,
            instances,
            rgb: None,
        }
    }
}

/// A part moved into the camera frame, with its projected bounds.
struct CamPart<'a> {
    part: &'a WorldPart,
    /// Camera-to-local rotation.
    to_local: DMat3,
    /// Local-to-camera rotation (for normals).
    to_cam: DMat3,
    /// Camera origin in the local frame.
    origin_local: DVec3,
    /// Centre in the camera frame.
    center: DVec3,
    radius: f64,
    /// Projected bounds `[x0, y0, x1, y1)` on the unbounded image plane.
    bounds: [i64; 4],
}

/// The pixel-space bounds of a part, or `None` if it is entirely behind the camera.
fn project_bounds(
    model: &CameraModel,
    to_cam: DMat3,
    center: DVec3,
    shape: &Shape,
) -> Option<[i64; 4]> {
    let half = shape.extent() * 0.5;
    let (w, h) = (i64::from(model.width()), i64::from(model.height()));
    let mut lo = DVec2::splat(f64::INFINITY);
    let mut hi = DVec2::splat(f64::NEG_INFINITY);
    let mut behind = 0;
    let mut n = 0;
    // Corners, edge midpoints and face centres of the local box: under distortion a box
    // edge bows, so its midpoint can stick out past its corners.
    for sx in [-1.0, 0.0, 1.0] {
        for sy in [-1.0, 0.0, 1.0] {
            for sz in [-1.0, 0.0, 1.0] {
                if sx == 0.0 && sy == 0.0 && sz == 0.0 {
                    continue;
                }
                n += 1;
                let p = center + to_cam * (half * DVec3::new(sx, sy, sz));
                match model.project(p) {
                    Some(px) if p.z > 1e-3 => {
                        lo = lo.min(px);
                        hi = hi.max(px);
                    }
                    _ => behind += 1,
                }
            }
        }
    }
    if behind == n {
        return None;
    }
    if behind > 0 {
        // Straddles the camera plane (or leaves the lens's valid field): its projection is
        // unbounded, so it may cover any pixel of the window the unclipped area is taken over.
        return Some([-4 * w, -4 * h, 5 * w, 5 * h]);
    }
    let clamp = |v: f64, limit: i64| (v as i64).clamp(-4 * limit, 5 * limit);
    Some([
        clamp(lo.x.floor() - 2.0, w),
        clamp(lo.y.floor() - 2.0, h),
        clamp(hi.x.ceil() + 2.0, w),
        clamp(hi.y.ceil() + 2.0, h),
    ])
}

/// Per-instance accumulation while scanning.
struct InstanceAcc {
    bounds: [i64; 4],
    /// Clipped bounds and a row-major bitmap of the whole object over them.
    clip: [usize; 4],
    amodal: Vec<u8>,
}

/// Marker in the part buffer for "nothing hit".
const NO_PART: u32 = u32::MAX;
/// Part-buffer codes `ROOM_BASE + face` for room faces.
const ROOM_BASE: u32 = u32::MAX - 8;

/// The world as one frame shows it to every camera.
#[derive(Clone, Copy, Debug)]
pub struct FrameScene<'a> {
    /// The room around everything, if any.
    pub room: Option<&'a Room>,
    /// Parts that do not move.
    pub background: &'a [WorldPart],
    /// The frame's posed parts.
    pub parts: &'a [WorldPart],
    /// How many instances own parts (owners are 1-based).
    pub instances: usize,
    /// Direction the light travels, in world coordinates.
    pub light: DVec3,
}

/// Renders one view of a posed world: `scene` seen by a camera of `model` at `pose`, worn
/// by instance `wearer` if any (whose parts hidden to the wearer are left out).
pub fn render_view(
    model: &CameraModel,
    pose: &WorldToCamera,
    wearer: Option<u16>,
    scene: &FrameScene<'_>,
    opts: &RenderOptions,
) -> ViewRender {
    let FrameScene {
        room,
        background,
        parts,
        instances: n_instances,
        light: _,
    } = *scene;
    let rays = RayTable::for_model(model);
    let (w, h) = (rays.width as usize, rays.height as usize);
    let r_wc = pose.rotation.matrix();
    let cam_parts: Vec<CamPart<'_>> = background
        .iter()
        .chain(parts)
        .filter(|p| !(p.wearer_hidden && wearer == Some(p.owner)))
        .filter_map(|part| {
            let to_cam = r_wc * part.placement.rotation;
            let center = r_wc * part.placement.translation + pose.translation;
            let bounds = project_bounds(model, to_cam, center, &part.shape)?;
            let to_local = to_cam.transpose();
            Some(CamPart {
                part,
                to_local,
                to_cam,
                origin_local: -(to_local * center),
                center,
                radius: part.shape.bounding_radius(),
                bounds,
            })
        })
        .collect();

    // Per-instance union of part bounds.
    let mut accs: Vec<Option<InstanceAcc>> = (0..n_instances).map(|_| None).collect();
    for cp in &cam_parts {
        if cp.part.owner == BACKGROUND {
            continue;
        }
        let slot = &mut accs[usize::from(cp.part.owner) - 1];
        let b = match slot {
            Some(acc) => [
                acc.bounds[0].min(cp.bounds[0]),
                acc.bounds[1].min(cp.bounds[1]),
                acc.bounds[2].max(cp.bounds[2]),
                acc.bounds[3].max(cp.bounds[3]),
            ],
            None => cp.bounds,
        };
        *slot = Some(InstanceAcc {
            bounds: b,
            clip: [0; 4],
            amodal: Vec::new(),
        });
    }
    for acc in accs.iter_mut().flatten() {
        acc.clip = clip_bounds(acc.bounds, w, h);
        let [x0, y0, x1, y1] = acc.clip;
        acc.amodal = vec![0; (x1 - x0) * (y1 - y0)];
    }

    // Depth (distance along the ray) and the part that owns each pixel.
    let mut zbuf = vec![f32::INFINITY; w * h];
    let mut pbuf = vec![NO_PART; w * h];
    let cam_center = pose.camera_center();
    let r_cw = r_wc.transpose();
    // Instances first, then background. Without shading, a background part only matters
    // where it may hide an instance, so it is tested only at pixels an instance covers.
    let order = cam_parts
        .iter()
        .enumerate()
        .filter(|(_, cp)| cp.part.owner != BACKGROUND)
        .chain(
            cam_parts
                .iter()
                .enumerate()
                .filter(|(_, cp)| cp.part.owner == BACKGROUND),
        );
    for (pi, cp) in order {
        let only_covered = cp.part.owner == BACKGROUND && !opts.shade;
        let [x0, y0, x1, y1] = clip_bounds(cp.bounds, w, h);
        let owner = cp.part.owner;
        let sphere_test = !matches!(cp.part.shape, Shape::Cuboid { .. });
        let r2 = cp.radius * cp.radius;
        let c2 = cp.center.length_squared();
        let mut acc = if owner == BACKGROUND {
            None
        } else {
            accs[usize::from(owner) - 1].as_mut()
        };
        for y in y0..y1 {
            for x in x0..x1 {
                let i = y * w + x;
                if only_covered && zbuf[i] == f32::INFINITY {
                    continue;
                }
                let Some(d) = rays.dir(i) else { continue };
                if sphere_test {
                    let along = cp.center.dot(d);
                    if along + cp.radius < 0.0 || c2 - along * along > r2 {
                        continue;
                    }
                }
                let Some(hit) = cp.part.shape.intersect(cp.origin_local, cp.to_local * d) else {
                    continue;
                };
                if let Some(acc) = acc.as_deref_mut() {
                    let [ax0, ay0, ax1, _] = acc.clip;
                    acc.amodal[(y - ay0) * (ax1 - ax0) + (x - ax0)] = 1;
                }
                let t = hit.t as f32;
                if t < zbuf[i] {
                    zbuf[i] = t;
                    pbuf[i] = pi as u32;
                }
            }
        }
    }
    // The room encloses everything, so it only shows where no part was hit; and it only
    // matters for shading.
    if let (Some(room), true) = (room, opts.shade) {
        for (i, (z, p)) in zbuf.iter_mut().zip(pbuf.iter_mut()).enumerate() {
            if *p != NO_PART {
                continue;
            }
            if let Some((t, face)) = rays.dir(i).and_then(|d| room.exit(cam_center, r_cw * d)) {
                *z = t as f32;
                *p = ROOM_BASE + u32::from(face);
            }
        }
    }
    let owner_of = |p: u32| -> u16 {
        if p >= ROOM_BASE {
            BACKGROUND
        } else {
            cam_parts[p as usize].part.owner
        }
    };
    let ids: Vec<u16> = pbuf.iter().map(|&p| owner_of(p)).collect();

    let mut instances = Vec::new();
    for (k, acc) in accs.iter().enumerate() {
        let Some(acc) = acc else { continue };
        let owner = (k + 1) as u16;
        let [x0, y0, x1, y1] = acc.clip;
        let bw = x1 - x0;
        let mut modal_b = RleBuilder::new(h as u32, w as u32);
        let mut amodal_b = RleBuilder::new(h as u32, w as u32);
        let (mut modal_area, mut amodal_area) = (0u64, 0u64);
        let mut visible_cols: Vec<usize> = Vec::new();
        for x in x0..x1 {
            let col = (x * h + y0) as u64;
            modal_b.skip_to(col);
            amodal_b.skip_to(col);
            for y in y0..y1 {
                let vis = ids[y * w + x] == owner;
                let whole = acc.amodal[(y - y0) * bw + (x - x0)] != 0;
                modal_b.push(vis, 1);
                amodal_b.push(whole, 1);
                modal_area += u64::from(vis);
                amodal_area += u64::from(whole);
                if vis {
                    visible_cols.push(y * w + x);
                }
            }
        }
        let unclipped = amodal_area + outside_area(model, &rays, &cam_parts, owner, acc.bounds);
        if unclipped == 0 {
            continue;
        }
        let modal = modal_b
            .finish()
            .unwrap_or_else(|e| unreachable!("pushed exactly the image: {e}"));
        let amodal = amodal_b
            .finish()
            .unwrap_or_else(|e| unreachable!("pushed exactly the image: {e}"));
        // The probe is the middle visible pixel in column-major order: deterministic and
        // inside the mask.
        let probe = visible_cols.get(visible_cols.len() / 2).and_then(|&i| {
            let d = rays.dir(i)?;
            let p_cam = d * f64::from(zbuf[i]);
            let world = r_cw * (p_cam - pose.translation);
            Some((world, [(i % w) as f32 + 0.5, (i / w) as f32 + 0.5]))
        });
        let amodal_bbox = BoxXyxy::try_new(
            acc.bounds[0] as f32,
            acc.bounds[1] as f32,
            acc.bounds[2].max(acc.bounds[0]) as f32,
            acc.bounds[3].max(acc.bounds[1]) as f32,
        )
        .ok();
        instances.push(InstanceRender {
            owner,
            bbox: modal.bbox(),
            modal: opts.keep_masks.then_some(modal),
            amodal: opts.keep_masks.then_some(amodal),
            modal_area,
            amodal_area,
            amodal_area_unclipped: unclipped,
            probe,
            amodal_bbox,
        });
    }

    let rgb = opts.shade.then(|| {
        shade(
            &rays,
            &cam_parts,
            &pbuf,
            &zbuf,
            scene,
            pose,
            opts.noise_seed,
        )
    });
    ViewRender {
        width: w as u32,
        height: h as u32,
        instances,
        rgb,
    }
}

fn clip_bounds(b: [i64; 4], w: usize, h: usize) -> [usize; 4] {
    let cx = |v: i64| v.clamp(0, w as i64) as usize;
    let cy = |v: i64| v.clamp(0, h as i64) as usize;
    let (x0, y0) = (cx(b[0]), cy(b[1]));
    [x0, y0, cx(b[2]).max(x0), cy(b[3]).max(y0)]
}

/// Pixels of an instance that fall outside the image, on the unbounded image plane.
/// Large regions are sampled on a grid (every `step`-th pixel, counted `step^2` times, at
/// most about 8,000 samples: a fraction of a percent of error on the visible fraction).
fn outside_area(
    model: &CameraModel,
    rays: &RayTable,
    parts: &[CamPart<'_>],
    owner: u16,
    b: [i64; 4],
) -> u64 {
    let (w, h) = (i64::from(rays.width), i64::from(rays.height));
    if b[0] >= 0 && b[1] >= 0 && b[2] <= w && b[3] <= h {
        return 0;
    }
    let mine: Vec<&CamPart<'_>> = parts.iter().filter(|p| p.part.owner == owner).collect();
    let area = (b[2] - b[0]).max(0) * (b[3] - b[1]).max(0);
    let mut step = ((area as f64 / 8_000.0).sqrt().ceil() as i64).max(1);
    // Large regions sample the cached coarse grid (its spacing, or a multiple of it) instead
    // of inverting the lens per sample.
    let coarse = step >= COARSE;
    let (mut x0, mut y0) = (b[0], b[1]);
    if coarse {
        step = (step + COARSE - 1) / COARSE * COARSE;
        let snap = |v: i64, off: i64| (v + off).div_euclid(COARSE) * COARSE - off;
        (x0, y0) = (snap(x0, 4 * w), snap(y0, 4 * h));
    }
    let mut count = 0u64;
    let mut y = y0;
    while y < b[3] {
        let mut x = x0;
        while x < b[2] {
            let inside = x >= 0 && y >= 0 && x < w && y < h;
            if !inside {
                // Only parts whose own projected bounds hold the pixel can cover it.
                let near: Vec<&&CamPart<'_>> = mine
                    .iter()
                    .filter(|cp| {
                        x >= cp.bounds[0]
                            && x < cp.bounds[2]
                            && y >= cp.bounds[1]
                            && y < cp.bounds[3]
                    })
                    .collect();
                let ray = if near.is_empty() {
                    None
                } else if coarse {
                    rays.coarse_dir(x, y)
                } else {
                    model.unproject(DVec2::new(x as f64 + 0.5, y as f64 + 0.5))
                };
                let hit = ray.is_some_and(|d| {
                    near.iter().any(|cp| {
                        cp.part
                            .shape
                            .intersect(cp.origin_local, cp.to_local * d)
                            .is_some()
                    })
                });
                if hit {
                    count += (step * step) as u64;
                }
            }
            x += step;
        }
        y += step;
    }
    count
}

/// Ambient share of the lighting.
const AMBIENT: f32 = 0.35;
/// Colour where a ray hits nothing (open sky).
const SKY: Rgb = [0.62, 0.72, 0.85];

fn shade(
    rays: &RayTable,
    parts: &[CamPart<'_>],
    pbuf: &[u32],
    zbuf: &[f32],
    scene: &FrameScene<'_>,
    pose: &WorldToCamera,
    seed: u64,
) -> Vec<u8> {
    let (room, light_world) = (scene.room, scene.light);
    let (w, h) = (rays.width as usize, rays.height as usize);
    let r_wc = pose.rotation.matrix();
    let r_cw = r_wc.transpose();
    let light_cam = r_wc * light_world;
    let cam_center = pose.camera_center();
    let mut out = vec![0u8; w * h * 3];
    for i in 0..w * h {
        let Some(d) = rays.dir(i) else { continue };
        let p = pbuf[i];
        let t = f64::from(zbuf[i]);
        let (albedo, lambert) = if p == NO_PART {
            (SKY, 1.0 - AMBIENT)
        } else if p >= ROOM_BASE {
            let face = (p - ROOM_BASE) as u8;
            let world = cam_center + (r_cw * d) * t;
            let n = Room::normal(face);
            let room = room.unwrap_or_else(|| unreachable!("room faces exist only with a room"));
            let look = match face {
                0 => &room.floor,
                1 => &room.ceiling,
                _ => &room.walls,
            };
            (look.albedo(world), (-n.dot(light_world)).max(0.0) as f32)
        } else {
            let cp = &parts[p as usize];
            let local = cp.origin_local + (cp.to_local * d) * t;
            let n = cp.to_cam * cp.part.shape.normal(local);
            (
                cp.part.appearance.albedo(local),
                (-n.dot(light_cam)).max(0.0) as f32,
            )
        };
        let k = AMBIENT + (1.0 - AMBIENT) * lambert;
        // About +-1.5 grey levels of sensor noise: visible texture, not a JPEG size bomb.
        let noise = (grain_hash(seed as i64, i as i64, 17) - 0.5) * 0.012;
        for c in 0..3 {
            // +0.5 then truncate: rounding without a libm call.
            out[i * 3 + c] = ((albedo[c] * k + noise).clamp(0.0, 1.0) * 255.0 + 0.5) as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::appearance::Appearance;
    use crate::synth::shapes::Placement;
    use crossview_schemas::{CameraToWorld, Distortion, Rotation, SensorRotation};

    fn camera() -> (CameraModel, WorldToCamera) {
        let model = CameraModel::new(
            64,
            48,
            60.0,
            60.0,
            32.0,
            24.0,
            Distortion::Pinhole,
            SensorRotation::None,
        )
        .unwrap();
        // At (0, -3, 0) looking along +y with z up: camera axes right = x, down = -z, forward = y.
        let rot = Rotation::from_camera_axes(DVec3::X, -DVec3::Z, DVec3::Y).unwrap();
        let pose = CameraToWorld::new(rot.inverse(), DVec3::new(0.0, -3.0, 0.0))
            .unwrap()
            .inverse();
        (model, pose)
    }

    /// `parts` of `instances` owners alone: no room, no background, light from above.
    fn lone(parts: &[WorldPart], instances: usize) -> FrameScene<'_> {
        FrameScene {
            room: None,
            background: &[],
            parts,
            instances,
            light: -DVec3::Z,
        }
    }

    fn cube(owner: u16, at: DVec3, half: f64) -> WorldPart {
        WorldPart {
            shape: Shape::Cuboid {
                half: DVec3::splat(half),
            },
            placement: Placement::upright(at, 0.0),
            appearance: Appearance::solid([0.5, 0.5, 0.5]),
            owner,
            wearer_hidden: false,
        }
    }

    #[test]
    fn occlusion_gives_modal_inside_amodal() {
        let (model, pose) = camera();
        // Instance 1 far, instance 2 near and to the side, partly in front of it.
        let parts = vec![
            cube(1, DVec3::new(0.0, 1.0, 0.0), 0.5),
            cube(2, DVec3::new(0.4, -1.0, 0.0), 0.25),
        ];
        let opts = RenderOptions {
            shade: true,
            noise_seed: 1,
            keep_masks: true,
        };
        let v = render_view(&model, &pose, None, &lone(&parts, 2), &opts);
        assert_eq!(v.instances.len(), 2);
        let far = &v.instances[0];
        let near = &v.instances[1];
        assert!(far.modal_area < far.amodal_area, "far cube is occluded");
        assert_eq!(near.modal_area, near.amodal_area, "near cube is not");
        let m = far.modal.as_ref().unwrap();
        let a = far.amodal.as_ref().unwrap();
        assert_eq!(m.intersection_area(a).unwrap(), m.area());
        // The far cube's front face spans x in [-0.5, 0.5] at distance 3.5: 60 * 1 / 3.5 px.
        let bb = far.amodal_bbox.unwrap();
        assert!(
            bb.width() >= 60.0 / 3.5 && bb.width() < 60.0 / 3.5 + 8.0,
            "{bb:?}"
        );
        // The probe lies on the far cube's surface and projects to its pixel.
        let (world, px) = far.probe.unwrap();
        let (proj, _) = model.project_world(&pose, world).unwrap();
        assert!(
            (proj.x - f64::from(px[0])).abs() < 1e-3 && (proj.y - f64::from(px[1])).abs() < 1e-3
        );
        assert_eq!(v.rgb.unwrap().len(), 64 * 48 * 3);
    }

    #[test]
    fn truncated_objects_count_outside_pixels() {
        let (model, pose) = camera();
        // A cube centred near the right image border.
        let parts = vec![cube(1, DVec3::new(1.5, 0.0, 0.0), 0.3)];
        let opts = RenderOptions {
            shade: false,
            noise_seed: 0,
            keep_masks: false,
        };
        let v = render_view(&model, &pose, None, &lone(&parts, 1), &opts);
        let r = &v.instances[0];
        assert!(r.amodal_area > 0 && r.amodal_area_unclipped > r.amodal_area);
        // The same camera with the image extended to the right sees the whole cube.
        let wide = CameraModel::new(
            128,
            48,
            60.0,
            60.0,
            32.0,
            24.0,
            Distortion::Pinhole,
            SensorRotation::None,
        )
        .unwrap();
        let vw = render_view(&wide, &pose, None, &lone(&parts, 1), &opts);
        let rw = &vw.instances[0];
        assert_eq!(rw.amodal_area, rw.amodal_area_unclipped);
        assert_eq!(r.amodal_area_unclipped, rw.amodal_area);
    }
}
