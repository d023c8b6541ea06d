//! QA instantiation on one core: every candidate of a few synthetic scenes of each source
//! (geometry, scene index, all 17 templates, margins, dedupe and ranks: the first corpus pass),
//! in candidates per second. Scenes are loaded before timing.

use crate::data::synth_scenes as scenes;
use criterion::{Criterion, Throughput};
use crossview_stages::corpus::{CorpusConfig, count_scene};
use crossview_stages::synth::{self, Profile};
use std::hint::black_box;

pub fn bench(c: &mut Criterion) {
    let cfg = CorpusConfig::default();
    let mut g = c.benchmark_group("qa_first_pass");
    g.sample_size(10);
    let profiles: [(&str, &dyn Profile, usize); 4] = [
        ("messytable", &synth::messytable::MessyTable, 8),
        ("mmptrack", &synth::mmptrack::MmpTrack, 2),
        ("egohumans", &synth::egohumans::EgoHumans, 2),
        ("egoexo4d", &synth::egoexo4d::EgoExo4d, 4),
    ];
    for (name, profile, n) in profiles {
        let scenes = scenes(profile, n);
        let drawn: u64 = scenes
            .iter()
            .map(|s| count_scene(s, &cfg).1.drawn.total())
            .sum();
        println!(
            "qa bench {name}: {} scenes, {drawn} candidates",
            scenes.len()
        );
        g.throughput(Throughput::Elements(drawn));
        g.bench_function(name, |b| {
            b.iter(|| {
                for s in &scenes {
                    black_box(count_scene(black_box(s), &cfg));
                }
            })
        });
    }
    g.finish();
}
