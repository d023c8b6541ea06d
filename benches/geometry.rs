//! Per-scene geometry on one core: a 9-camera MessyTable scene with about 20 objects, all of it
//! (3D estimates, facts, every observation's occluders, every pair's distance and contact).

use crate::data::synth_scenes;
use criterion::{Criterion, Throughput};
use crossview_stages::geometry::{GeometryConfig, SceneGeometry};
use crossview_stages::sources;
use crossview_stages::synth;
use std::hint::black_box;

pub fn bench(c: &mut Criterion) {
    let scenes = synth_scenes(&synth::messytable::MessyTable, 12);
    // The scene closest to 20 objects.
    let objects = |s: &sources::SceneData| {
        let mut ids: Vec<&str> = s
            .observations
            .iter()
            .map(|o| o.instance_id.as_str())
            .collect();
        ids.sort();
        ids.dedup();
        ids.len()
    };
    let scene = scenes
        .iter()
        .min_by_key(|s| objects(s).abs_diff(20))
        .unwrap_or_else(|| unreachable!("scenes"));
    println!(
        "geometry bench scene: {} cameras, {} objects, {} observations",
        scene.cameras.len(),
        objects(scene),
        scene.observations.len()
    );
    let cfg = GeometryConfig::default();
    let mut g = c.benchmark_group("geometry");
    g.throughput(Throughput::Elements(1));
    g.bench_function("messytable_scene_9cam", |b| {
        b.iter(|| {
            let geo = SceneGeometry::compute(black_box(scene), &cfg);
            let mut n = 0usize;
            for i in 0..scene.observations.len() {
                n += geo.occluders(scene, i, &cfg).len();
            }
            let ids: Vec<&String> = geo.instances.keys().map(|(_, id)| id).collect();
            let mut acc = 0.0;
            for (k, a) in ids.iter().enumerate() {
                for bb in &ids[k + 1..] {
                    acc += geo.distance(0, a, bb).unwrap_or(0.0)
                        + geo.surface_distance(0, a, bb).unwrap_or(0.0);
                }
            }
            black_box((n, acc))
        })
    });
    g.finish();
}
