//! QA instantiation on one core: every candidate of a few synthetic scenes of each source
//! (geometry, scene index, all 17 templates, margins, dedupe and ranks: the first corpus pass),
//! in candidates per second. Scenes are loaded before timing.

use criterion::{Criterion, Throughput};
use crossview_stages::corpus::{CorpusConfig, count_scene};
use crossview_stages::sources::{self, SceneData, SourceOptions};
use crossview_stages::synth::{self, Profile, SynthOptions};
use std::hint::black_box;

fn scenes(profile: &dyn Profile, n: usize) -> Vec<SceneData> {
    let dir = tempfile::tempdir().unwrap_or_else(|e| unreachable!("tempdir: {e}"));
    let opts = SynthOptions {
        scenes: n,
        images: false,
        ..SynthOptions::default()
    };
    synth::run(profile, dir.path(), &opts).unwrap_or_else(|e| unreachable!("{e}"));
    let reader = sources::open(
        dir.path(),
        None,
        &SourceOptions {
            require_images: false,
            ..SourceOptions::default()
        },
    )
    .unwrap_or_else(|e| unreachable!("{e}"));
    sources::read_all(reader.as_ref())
        .unwrap_or_else(|e| unreachable!("{e}"))
        .0
}

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
