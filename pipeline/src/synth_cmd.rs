//! `crossview synth`: writes synthetic source trees with a progress line per profile.

use std::path::PathBuf;

use anyhow::Context;
use crossview_stages::synth::{self, Profile, SynthOptions};

/// A synthetic source profile the command can write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SynthProfile {
    /// Tabletop stills, 9 cameras.
    MessyTable,
    /// People in rooms, 4-6 static cameras, video.
    MmpTrack,
    /// Aria wearers plus exo fisheye cameras, video.
    EgoHumans,
    /// One wearer manipulating objects, Aria plus GoPros, frame-aligned MP4s.
    EgoExo4d,
}

impl SynthProfile {
    /// Every profile, in the order `--profile all` writes them.
    pub const ALL: &'static [SynthProfile] = &[
        SynthProfile::MessyTable,
        SynthProfile::MmpTrack,
        SynthProfile::EgoHumans,
        SynthProfile::EgoExo4d,
    ];

    fn profile(&self) -> &'static dyn Profile {
        match self {
            SynthProfile::MessyTable => &synth::messytable::MessyTable,
            SynthProfile::MmpTrack => &synth::mmptrack::MmpTrack,
            SynthProfile::EgoHumans => &synth::egohumans::EgoHumans,
            SynthProfile::EgoExo4d => &synth::egoexo4d::EgoExo4d,
        }
    }

    /// Scenes at paper scale (the paper's source mix, enough for >8M QA candidates).
    fn paper_scenes(&self) -> usize {
        match self {
            SynthProfile::MessyTable => 5_579,
            SynthProfile::MmpTrack => 100,
            SynthProfile::EgoHumans => 133,
            SynthProfile::EgoExo4d => 200,
        }
    }
}

/// Parsed `synth` arguments.
#[derive(Clone, Debug)]
pub struct SynthArgs {
    /// Profiles to write.
    pub profiles: Vec<SynthProfile>,
    /// Write each profile under `out/<profile>` (for `--profile all`).
    pub nested: bool,
    /// Scenes per profile.
    pub scenes: usize,
    /// Master seed.
    pub seed: u64,
    /// Output directory.
    pub out: PathBuf,
    /// Render images.
    pub images: bool,
    /// Paper scale.
    pub paper: bool,
    /// Longest image side.
    pub max_side: u32,
    /// Frames per video scene.
    pub frames: Option<usize>,
    /// Worker threads.
    pub threads: Option<usize>,
}

/// Runs the command.
pub fn run(args: &SynthArgs) -> anyhow::Result<()> {
    let pool = rayon_pool(args.threads)?;
    for p in &args.profiles {
        let profile = p.profile();
        let root = if args.nested {
            args.out.join(profile.kind().name())
        } else {
            args.out.clone()
        };
        let opts = SynthOptions {
            seed: args.seed,
            scenes: if args.paper {
                p.paper_scenes()
            } else {
                args.scenes
            },
            images: args.images,
            max_side: args.max_side,
            frames: args.frames,
        };
        let summary = pool
            .install(|| synth::run(profile, &root, &opts))
            .with_context(|| {
                format!("writing the {} tree at {}", profile.kind(), root.display())
            })?;
        println!(
            "{}: {} scenes, {} views, {} observations ({} annotated) in {:.1} s -> {}",
            profile.kind(),
            summary.scenes,
            summary.views,
            summary.observations,
            summary.annotated,
            summary.seconds,
            root.display()
        );
    }
    Ok(())
}

fn rayon_pool(threads: Option<usize>) -> anyhow::Result<rayon::ThreadPool> {
    let mut b = rayon::ThreadPoolBuilder::new();
    if let Some(n) = threads {
        b = b.num_threads(n.max(1));
    }
    b.build().context("cannot start worker threads")
}
