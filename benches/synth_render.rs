//! Synthetic rendering throughput: shaded 640x480 frames (ids, modal and amodal masks, RGB,
//! JPEG) of MessyTable and MMPTrack scenes, rendered in parallel over views on every core.
//! Reports frames per second (the target: 100 on 2 cores).

use criterion::{Criterion, Throughput};
use crossview_stages::synth::driver::SynthOptions;
use crossview_stages::synth::images::encode_jpeg;
use crossview_stages::synth::render::{FrameScene, RenderOptions, render_view};
use crossview_stages::synth::{Profile, messytable::MessyTable, mmptrack::MmpTrack};
use rayon::prelude::*;
use std::hint::black_box;
use std::path::Path;

fn bench_profile(
    c: &mut Criterion,
    name: &str,
    profile: &dyn Profile,
    scenes: usize,
    frames: usize,
) {
    let opts = SynthOptions {
        frames: Some(frames),
        ..SynthOptions::default()
    };
    let worlds: Vec<_> = (0..scenes).map(|i| profile.generate(i, &opts)).collect();
    // Every (scene, camera, frame) view, with its camera resized to 640x480.
    let views: Vec<(usize, usize, usize)> = worlds
        .iter()
        .enumerate()
        .flat_map(|(s, w)| {
            (0..w.cameras.len()).flat_map(move |c| (0..frames).map(move |f| (s, c, f)))
        })
        .collect();
    let mut g = c.benchmark_group("synth_render_640x480");
    g.sample_size(10);
    g.throughput(Throughput::Elements(views.len() as u64));
    g.bench_function(name, |b| {
        b.iter(|| {
            views.par_iter().for_each(|&(s, c, f)| {
                let w = &worlds[s];
                let cam = &w.cameras[c];
                let model = cam
                    .model
                    .resized(640, 480)
                    .unwrap_or_else(|e| unreachable!("{e}"));
                let opts = RenderOptions {
                    shade: true,
                    noise_seed: f as u64,
                    keep_masks: true,
                };
                let scene = FrameScene {
                    room: w.room.as_ref(),
                    background: &w.background,
                    parts: &w.frames[f].parts,
                    instances: w.instances.len(),
                    light: w.light,
                };
                let mut v = render_view(&model, cam.pose(f), cam.wearer, &scene, &opts);
                let rgb = v.rgb.take().unwrap_or_default();
                black_box(encode_jpeg(Path::new("bench.jpg"), &rgb, 640, 480).unwrap_or_default());
                black_box(v);
            })
        })
    });
    g.finish();
}

pub fn bench(c: &mut Criterion) {
    bench_profile(c, "messytable", &MessyTable, 4, 1);
    bench_profile(c, "mmptrack", &MmpTrack, 2, 8);
}
