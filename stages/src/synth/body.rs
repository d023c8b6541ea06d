//! Synthetic people: COCO-17 keypoints from a walking/reaching pose model, and the solids (capsule
//! limbs, ellipsoid torso and head) that make their bodies, dressed by an [`Outfit`].

use crossview_schemas::glam::{DMat3, DVec3};
use crossview_schemas::{Rotation, WorldToCamera};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::appearance::{Appearance, Pattern, Rgb};
use super::shapes::{Placement, Shape};
use super::world::{FrameWorld, InstanceState, WorldPart};

/// COCO-17 keypoint indices.
pub mod kp {
    /// Nose.
    pub const NOSE: usize = 0;
    /// Left eye.
    pub const LEFT_EYE: usize = 1;
    /// Right eye.
    pub const RIGHT_EYE: usize = 2;
    /// Left ear.
    pub const LEFT_EAR: usize = 3;
    /// Right ear.
    pub const RIGHT_EAR: usize = 4;
    /// Left shoulder.
    pub const LEFT_SHOULDER: usize = 5;
    /// Right shoulder.
    pub const RIGHT_SHOULDER: usize = 6;
    /// Left elbow.
    pub const LEFT_ELBOW: usize = 7;
    /// Right elbow.
    pub const RIGHT_ELBOW: usize = 8;
    /// Left wrist.
    pub const LEFT_WRIST: usize = 9;
    /// Right wrist.
    pub const RIGHT_WRIST: usize = 10;
    /// Left hip.
    pub const LEFT_HIP: usize = 11;
    /// Right hip.
    pub const RIGHT_HIP: usize = 12;
    /// Left knee.
    pub const LEFT_KNEE: usize = 13;
    /// Right knee.
    pub const RIGHT_KNEE: usize = 14;
    /// Left ankle.
    pub const LEFT_ANKLE: usize = 15;
    /// Right ankle.
    pub const RIGHT_ANKLE: usize = 16;
}

/// COCO-17 keypoint names, in order (EgoHumans' spelling).
pub const COCO17_NAMES: [&str; 17] = [
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
];

/// Body proportions of one person.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Build {
    /// Standing height, metres.
    pub height: f64,
    /// Girth factor (1 = average).
    pub girth: f64,
}

/// Clothes and skin.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outfit {
    /// Torso and upper arms.
    pub shirt: Appearance,
    /// Thighs and shins.
    pub trousers: Appearance,
    /// Head, forearms and hands.
    pub skin: Rgb,
    /// Hair.
    pub hair: Rgb,
}

impl Outfit {
    /// A random outfit.
    pub fn random(rng: &mut ChaCha8Rng) -> Self {
        let palette: [Rgb; 10] = [
            [0.8, 0.1, 0.1],
            [0.1, 0.3, 0.7],
            [0.15, 0.55, 0.25],
            [0.9, 0.85, 0.8],
            [0.12, 0.12, 0.14],
            [0.95, 0.6, 0.1],
            [0.45, 0.2, 0.55],
            [0.5, 0.5, 0.52],
            [0.35, 0.6, 0.85],
            [0.9, 0.8, 0.2],
        ];
        let shirt = palette[rng.random_range(0..palette.len())];
        let accent = palette[rng.random_range(0..palette.len())];
        let pattern = match rng.random_range(0..4) {
            0 => Pattern::Stripes {
                axis: 2,
                period: 0.05,
            },
            1 => Pattern::Checker { period: 0.06 },
            _ => Pattern::Solid,
        };
        let trousers = [
            [0.15, 0.2, 0.35],
            [0.1, 0.1, 0.1],
            [0.45, 0.38, 0.28],
            [0.3, 0.3, 0.32],
        ][rng.random_range(0..4)];
        let skins: [Rgb; 4] = [
            [0.93, 0.76, 0.65],
            [0.78, 0.58, 0.45],
            [0.55, 0.38, 0.28],
            [0.38, 0.26, 0.2],
        ];
        let hairs: [Rgb; 4] = [
            [0.1, 0.08, 0.06],
            [0.35, 0.22, 0.12],
            [0.75, 0.6, 0.35],
            [0.5, 0.5, 0.5],
        ];
        Outfit {
            shirt: Appearance {
                base: shirt,
                accent,
                pattern,
                grain: 0.05,
            },
            trousers: Appearance::solid(trousers),
            skin: skins[rng.random_range(0..4)],
            hair: hairs[rng.random_range(0..4)],
        }
    }
}

/// What a person is doing at one instant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pose {
    /// Point on the floor under the pelvis, world metres.
    pub ground: DVec3,
    /// Facing direction, radians about world z (0 = +x).
    pub heading: f64,
    /// Gait phase, radians (advances with distance walked).
    pub phase: f64,
    /// Stride amplitude, 0 (standing) to 1 (brisk walk).
    pub stride: f64,
    /// Head turn relative to the body (yaw, pitch), radians.
    pub look: (f64, f64),
    /// Hand targets for reaching (world), if the person is manipulating something.
    pub reach: Option<(DVec3, DVec3)>,
}

/// The 17 COCO keypoints of a person in a pose (world metres).
pub fn keypoints(build: &Build, pose: &Pose) -> [DVec3; 17] {
    let h = build.height;
    let f = DVec3::new(pose.heading.cos(), pose.heading.sin(), 0.0);
    let l = DVec3::new(-pose.heading.sin(), pose.heading.cos(), 0.0);
    let up = DVec3::Z;
    let swing = 0.42 * pose.stride * pose.phase.sin();
    let bounce = 0.012 * pose.stride * (2.0 * pose.phase).cos();
    let pelvis = pose.ground + up * (0.53 * h + bounce);
    let hip_w = 0.095 * h * build.girth;
    let (thigh, shin) = (0.245 * h, 0.245 * h);
    let mut out = [DVec3::ZERO; 17];
    let leg = |side: f64, angle: f64, bend: f64| {
        let hip = pelvis + l * (side * hip_w);
        let d1 = -up * angle.cos() + f * angle.sin();
        let knee = hip + d1 * thigh;
        let d2 = -up * (angle - bend).cos() + f * (angle - bend).sin();
        (hip, knee, knee + d2 * shin)
    };
    let bend_l = 0.6 * pose.stride * (pose.phase + 0.6).sin().max(0.0);
    let bend_r = 0.6 * pose.stride * (pose.phase + 0.6 + std::f64::consts::PI).sin().max(0.0);
    let (lh, lk, la) = leg(1.0, swing, bend_l);
    let (rh, rk, ra) = leg(-1.0, -swing, bend_r);
    out[kp::LEFT_HIP] = lh;
    out[kp::LEFT_KNEE] = lk;
    out[kp::LEFT_ANKLE] = la;
    out[kp::RIGHT_HIP] = rh;
    out[kp::RIGHT_KNEE] = rk;
    out[kp::RIGHT_ANKLE] = ra;
    let chest = pelvis + up * (0.29 * h) + f * (0.03 * pose.stride);
    let sh_w = 0.13 * h * build.girth;
    let (upper, fore) = (0.17 * h, 0.15 * h);
    let arm = |side: f64, angle: f64, target: Option<DVec3>| {
        let shoulder = chest + l * (side * sh_w);
        match target {
            Some(t) => {
                // Two-bone reach: elbow on the bisector plane, bent outwards and down.
                let to = t - shoulder;
                let dist = to.length().clamp(0.05, upper + fore - 1e-3);
                let dir = to.normalize_or(f);
                let a = (upper * upper + dist * dist - fore * fore) / (2.0 * dist);
                let r = (upper * upper - a * a).max(0.0).sqrt();
                let out_dir = (l * side - up * 0.6).normalize();
                let bend = (out_dir - dir * out_dir.dot(dir)).normalize_or(-up);
                let elbow = shoulder + dir * a + bend * r;
                (shoulder, elbow, shoulder + dir * dist)
            }
            None => {
                let d1 = -up * angle.cos() + f * angle.sin() + l * (side * 0.08);
                let elbow = shoulder + d1.normalize() * upper;
                let d2 = -up * (angle + 0.3).cos() + f * (angle + 0.3).sin();
                (shoulder, elbow, elbow + d2.normalize() * fore)
            }
        }
    };
    let (ls, le, lw) = arm(1.0, -swing * 0.8, pose.reach.map(|r| r.0));
    let (rs, re, rw) = arm(-1.0, swing * 0.8, pose.reach.map(|r| r.1));
    out[kp::LEFT_SHOULDER] = ls;
    out[kp::LEFT_ELBOW] = le;
    out[kp::LEFT_WRIST] = lw;
    out[kp::RIGHT_SHOULDER] = rs;
    out[kp::RIGHT_ELBOW] = re;
    out[kp::RIGHT_WRIST] = rw;
    let (hf, hl, hu) = head_axes(pose);
    let head = head_center(build, pose);
    out[kp::NOSE] = head + hf * 0.1 - hu * 0.01;
    out[kp::LEFT_EYE] = head + hf * 0.08 + hl * 0.032 + hu * 0.025;
    out[kp::RIGHT_EYE] = head + hf * 0.08 - hl * 0.032 + hu * 0.025;
    out[kp::LEFT_EAR] = head + hl * 0.075;
    out[kp::RIGHT_EAR] = head - hl * 0.075;
    out
}

/// Head frame: forward, left, up (with the pose's look direction).
pub fn head_axes(pose: &Pose) -> (DVec3, DVec3, DVec3) {
    let yaw = pose.heading + pose.look.0;
    let pitch = pose.look.1;
    let f = DVec3::new(
        yaw.cos() * pitch.cos(),
        yaw.sin() * pitch.cos(),
        -pitch.sin(),
    );
    let l = DVec3::new(-yaw.sin(), yaw.cos(), 0.0);
    (f, l, f.cross(l).normalize())
}

/// Centre of the head, world metres.
pub fn head_center(build: &Build, pose: &Pose) -> DVec3 {
    let h = build.height;
    pose.ground + DVec3::Z * (0.53 * h + 0.29 * h + 0.115 * h)
}

/// Where worn glasses sit: in front of the head centre, at eye height.
pub fn eye_point(build: &Build, pose: &Pose) -> DVec3 {
    let (f, _, u) = head_axes(pose);
    head_center(build, pose) + f * 0.085 + u * 0.025
}

/// World-to-sensor pose of worn Aria glasses. The sensor sits rotated so that its image,
/// turned 90 degrees clockwise, is upright: sensor x = upright down, sensor y = upright left
/// (which pairs with [`crossview_schemas::SensorRotation::Cw90`]).
pub fn worn_camera_pose(build: &Build, pose: &Pose) -> WorldToCamera {
    let (f, l, u) = head_axes(pose);
    let eye = eye_point(build, pose);
    let rotation = Rotation::from_camera_axes(-u, l, f)
        .unwrap_or_else(|e| unreachable!("orthonormal head axes: {e}"));
    WorldToCamera {
        rotation,
        translation: -rotation.apply(eye),
    }
}

/// The body solids of a person with keypoints `k`, owned by `owner`.
pub fn body_parts(
    build: &Build,
    outfit: &Outfit,
    pose: &Pose,
    k: &[DVec3; 17],
    owner: u16,
) -> Vec<WorldPart> {
    let g = build.girth;
    let skin = Appearance::solid(outfit.skin);
    let part = |shape: Shape, placement: Placement, appearance: Appearance, wearer_hidden: bool| {
        WorldPart {
            shape,
            placement,
            appearance,
            owner,
            wearer_hidden,
        }
    };
    let capsule = |a: DVec3, b: DVec3, r: f64, look: Appearance| {
        part(
            Shape::Capsule {
                half_length: (b - a).length() / 2.0,
                radius: r,
            },
            Placement::along(a, b),
            look,
            false,
        )
    };
    let mid = |a: usize, b: usize| (k[a] + k[b]) * 0.5;
    let hips = mid(kp::LEFT_HIP, kp::RIGHT_HIP);
    let shoulders = mid(kp::LEFT_SHOULDER, kp::RIGHT_SHOULDER);
    let axis = (shoulders - hips).normalize_or(DVec3::Z);
    let left = (k[kp::LEFT_SHOULDER] - k[kp::RIGHT_SHOULDER]).normalize_or(DVec3::Y);
    let fwd = left.cross(axis).normalize_or(DVec3::X);
    let left = axis.cross(fwd);
    let torso_len = (shoulders - hips).length();
    let (hf, hl, hu) = head_axes(pose);
    let head = head_center(build, pose);
    let h = build.height;
    let mut parts = vec![
        part(
            Shape::Ellipsoid {
                radii: DVec3::new(0.19 * g, 0.12 * g, torso_len * 0.62),
            },
            Placement {
                rotation: DMat3::from_cols(left, fwd, axis),
                translation: (hips + shoulders) * 0.5 + axis * 0.02,
            },
            outfit.shirt,
            true,
        ),
        part(
            Shape::Ellipsoid {
                radii: DVec3::new(0.075, 0.095, 0.115) * (h / 1.75),
            },
            Placement {
                rotation: DMat3::from_cols(hl, hf, hu),
                translation: head,
            },
            skin,
            true,
        ),
        part(
            Shape::Ellipsoid {
                radii: DVec3::new(0.08, 0.095, 0.07) * (h / 1.75),
            },
            Placement {
                rotation: DMat3::from_cols(hl, hf, hu),
                translation: head + hu * 0.045 - hf * 0.015,
            },
            Appearance::solid(outfit.hair),
            true,
        ),
        capsule(
            k[kp::LEFT_SHOULDER],
            k[kp::LEFT_ELBOW],
            0.048 * g,
            outfit.shirt,
        ),
        capsule(
            k[kp::RIGHT_SHOULDER],
            k[kp::RIGHT_ELBOW],
            0.048 * g,
            outfit.shirt,
        ),
        capsule(k[kp::LEFT_ELBOW], k[kp::LEFT_WRIST], 0.04 * g, skin),
        capsule(k[kp::RIGHT_ELBOW], k[kp::RIGHT_WRIST], 0.04 * g, skin),
        capsule(
            k[kp::LEFT_HIP],
            k[kp::LEFT_KNEE],
            0.075 * g,
            outfit.trousers,
        ),
        capsule(
            k[kp::RIGHT_HIP],
            k[kp::RIGHT_KNEE],
            0.075 * g,
            outfit.trousers,
        ),
        capsule(
            k[kp::LEFT_KNEE],
            k[kp::LEFT_ANKLE],
            0.058 * g,
            outfit.trousers,
        ),
        capsule(
            k[kp::RIGHT_KNEE],
            k[kp::RIGHT_ANKLE],
            0.058 * g,
            outfit.trousers,
        ),
        capsule(
            k[kp::LEFT_HIP],
            k[kp::RIGHT_HIP],
            0.085 * g,
            outfit.trousers,
        ),
    ];
    // Hands and shoes.
    for w in [kp::LEFT_WRIST, kp::RIGHT_WRIST] {
        parts.push(part(
            Shape::Ellipsoid {
                radii: DVec3::splat(0.045),
            },
            Placement::upright(k[w], 0.0),
            skin,
            false,
        ));
    }
    for a in [kp::LEFT_ANKLE, kp::RIGHT_ANKLE] {
        let foot = DVec3::new(pose.heading.cos(), pose.heading.sin(), 0.0);
        parts.push(part(
            Shape::Cuboid {
                half: DVec3::new(0.13, 0.05, 0.04),
            },
            Placement::upright(k[a] + foot * 0.05 - DVec3::Z * 0.02, pose.heading),
            Appearance::solid([0.12, 0.1, 0.1]),
            false,
        ));
    }
    parts
}

/// The 3D state of a person: box around the body, facing `heading`.
pub fn person_state(build: &Build, pose: &Pose, k: &[DVec3; 17]) -> InstanceState {
    let head_top = head_center(build, pose) + DVec3::Z * 0.12;
    let (mut lo, mut hi) = (head_top, head_top);
    for p in k {
        lo = lo.min(*p);
        hi = hi.max(*p);
    }
    lo = lo.min(pose.ground).min(lo - DVec3::splat(0.12));
    hi = hi.max(hi + DVec3::new(0.12, 0.12, 0.0));
    InstanceState {
        position: (lo + hi) * 0.5,
        extent: hi - lo,
        rotation: DMat3::from_rotation_z(pose.heading),
        keypoints: k.to_vec(),
    }
}

/// The world of people alone at one frame: person `k` (owner `k + 1`) in `poses[k]`.
pub fn people_frame(builds: &[Build], outfits: &[Outfit], poses: &[Pose]) -> FrameWorld {
    let mut fw = FrameWorld::default();
    for (k, pose) in poses.iter().enumerate() {
        let kps = keypoints(&builds[k], pose);
        fw.parts.extend(body_parts(
            &builds[k],
            &outfits[k],
            pose,
            &kps,
            (k + 1) as u16,
        ));
        fw.states.push(person_state(&builds[k], pose, &kps));
    }
    fw
}

/// A random build.
pub fn random_build(rng: &mut ChaCha8Rng) -> Build {
    Build {
        height: rng.random_range(1.55..1.95),
        girth: rng.random_range(0.9..1.15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standing() -> (Build, Pose) {
        let build = Build {
            height: 1.8,
            girth: 1.0,
        };
        let pose = Pose {
            ground: DVec3::new(1.0, 2.0, 0.0),
            heading: 0.0,
            phase: 0.0,
            stride: 0.0,
            look: (0.0, 0.0),
            reach: None,
        };
        (build, pose)
    }

    #[test]
    fn standing_keypoints_are_anatomical() {
        let (build, pose) = standing();
        let k = keypoints(&build, &pose);
        // Feet near the floor, head near the top, left on +y when facing +x.
        assert!(k[kp::LEFT_ANKLE].z.abs() < 0.15 && k[kp::RIGHT_ANKLE].z.abs() < 0.15);
        assert!(k[kp::NOSE].z > 1.55 && k[kp::NOSE].z < 1.8);
        assert!(k[kp::LEFT_SHOULDER].y > k[kp::RIGHT_SHOULDER].y);
        assert!(k[kp::NOSE].x > k[kp::LEFT_EAR].x);
        let s = person_state(&build, &pose, &k);
        assert!((s.extent.z - 1.85).abs() < 0.15, "{:?}", s.extent);
    }

    #[test]
    fn reaching_hands_touch_their_targets() {
        let (build, mut pose) = standing();
        // Within reach of the shoulders (about 0.42 m and 0.49 m away; the arm is 0.58 m).
        let (lt, rt) = (DVec3::new(1.3, 2.15, 1.2), DVec3::new(1.35, 1.85, 1.15));
        pose.reach = Some((lt, rt));
        let k = keypoints(&build, &pose);
        assert!((k[kp::LEFT_WRIST] - lt).length() < 1e-6);
        assert!((k[kp::RIGHT_WRIST] - rt).length() < 1e-6);
        let upper = (k[kp::LEFT_ELBOW] - k[kp::LEFT_SHOULDER]).length();
        assert!((upper - 0.17 * 1.8).abs() < 1e-6);
        // Out of reach: the arm stretches straight towards the target.
        pose.reach = Some((DVec3::new(3.0, 2.2, 1.4), rt));
        let k = keypoints(&build, &pose);
        let reach = (k[kp::LEFT_WRIST] - k[kp::LEFT_SHOULDER]).length();
        assert!((reach - 0.32 * 1.8).abs() < 2e-3, "{reach}");
    }

    #[test]
    fn walking_moves_legs_in_opposition() {
        let (build, mut pose) = standing();
        pose.stride = 1.0;
        pose.phase = std::f64::consts::FRAC_PI_2;
        let k = keypoints(&build, &pose);
        assert!(k[kp::LEFT_ANKLE].x > pose.ground.x + 0.1);
        assert!(k[kp::RIGHT_ANKLE].x < pose.ground.x - 0.1);
        assert_eq!(
            body_parts(
                &build,
                &Outfit::random(&mut rand::SeedableRng::seed_from_u64(1)),
                &pose,
                &k,
                1
            )
            .len(),
            16
        );
    }
}
