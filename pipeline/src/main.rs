//! The `crossview` command line (clap). Exit codes: 0 success, 1 failure, 2 usage or config
//! error.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use crossview::synth_cmd;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// crossview: cross-view spatial intelligence data engine.
#[derive(Parser, Debug)]
#[command(name = "crossview", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Which synthetic source trees to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ProfileArg {
    Messytable,
    Mmptrack,
    Egohumans,
    Egoexo4d,
    All,
}

/// A segmenter for `crossview masks --segmenter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum SegmenterArg {
    Graphcut,
    Onnx,
    None,
}

/// An ONNX export convention.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ConventionArg {
    Sam1,
    Sam2,
}

/// A source kind for `--source`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum SourceArg {
    Messytable,
    Mmptrack,
    Egohumans,
    Egoexo4d,
}

impl SourceArg {
    fn kind(self) -> crossview::schemas::SourceKind {
        use crossview::schemas::SourceKind;
        match self {
            SourceArg::Messytable => SourceKind::MessyTable,
            SourceArg::Mmptrack => SourceKind::MmpTrack,
            SourceArg::Egohumans => SourceKind::EgoHumans,
            SourceArg::Egoexo4d => SourceKind::EgoExo4d,
        }
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show what a native dataset tree holds: counts and input errors (source auto-detected).
    Inspect {
        /// The tree (a MessyTable, MMPTrack, EgoHumans or Ego-Exo4D root).
        dir: PathBuf,
        /// The source kind, instead of detecting it.
        #[arg(long, value_enum)]
        source: Option<SourceArg>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Write the canonical records as Parquet tables (scenes, cameras, frames,
        /// observations, absences, errors) to this directory.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Frames without their image are fine (annotation-only trees).
        #[arg(long)]
        allow_missing_images: bool,
        /// Metres per unit of MessyTable extrinsic translations (default 1.0).
        #[arg(long, default_value_t = 1.0)]
        messytable_translation_scale: f64,
        /// Read MMPTrack extrinsics as world-to-camera instead of the documented
        /// camera-to-world.
        #[arg(long)]
        mmptrack_world_to_camera: bool,
    },
    /// Instantiate, filter and split the QA corpus of native trees with the plain engine (no
    /// incremental graph) and print its quality report.
    Qa {
        /// Native trees, or folders of them (e.g. `synth --profile all` output). None: the
        /// embedded default, a synthetic world of all four profiles written to `--world` when
        /// absent.
        trees: Vec<PathBuf>,
        /// Where the embedded default world lives (used when no tree is given).
        #[arg(long, default_value = "out/synth")]
        world: PathBuf,
        /// Corpus settings (TOML: [geometry], [qa], [filter], [split], [open_ended]).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Write the samples (`data/{train,bench}-*.parquet`), `report.json` and `report.png` here.
        #[arg(long)]
        out: Option<PathBuf>,
        /// With --out, also write the samples in the paper's JSONL (`jsonl/{train,bench}.jsonl`).
        #[arg(long, requires = "out")]
        jsonl: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Frames without their image are fine (annotation-only trees).
        #[arg(long)]
        allow_missing_images: bool,
        /// Worker threads (default: all cores); the output does not depend on it.
        #[arg(short = 'j', long)]
        threads: Option<usize>,
    },
    /// Build the QA corpus through the dataflow graph: native trees -> sharded Parquet
    /// (`OUT/data`), frame store, `errors.parquet`, `report.json`, `manifest.json` (last).
    /// Without --config: the embedded default, a synthetic world of all four profiles.
    Build {
        /// Build config (TOML: sources, [output], [geometry], [qa], [filter], [split],
        /// [open_ended]; see configs/build/).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Output folder.
        #[arg(long, default_value = "out/build")]
        out: PathBuf,
        /// Worker threads (default: all cores); the output does not depend on it.
        #[arg(short = 'w', long)]
        workers: Option<usize>,
        /// Processes in timely's cluster mode (each runs `-w` workers; every process sees
        /// the same inputs and output folder at the same paths).
        #[arg(long, requires_all = ["process", "hostfile"])]
        processes: Option<usize>,
        /// This process's index, `0..processes` (process 0 publishes the output).
        #[arg(long, requires = "processes")]
        process: Option<usize>,
        /// `host:port` per line, one line per process.
        #[arg(long, requires = "processes")]
        hostfile: Option<PathBuf>,
        /// Fail (exit 1, nothing published) on any input error.
        #[arg(long)]
        strict: bool,
        /// No progress or summary output.
        #[arg(long)]
        quiet: bool,
        /// Keep running: the graph stays alive, and each change of the inputs is fed to it
        /// (an epoch) and republished. In cluster mode process 0 watches and publishes.
        #[arg(long)]
        watch: bool,
        /// With --watch, how often to look at the inputs, in milliseconds.
        #[arg(long, default_value_t = 2000, requires = "watch")]
        interval_ms: u64,
    },
    /// Complete the masks of native trees (observations without one) with the configured
    /// segmenter and score them against the `_truth/` sidecar where there is one: mean IoU
    /// per source for box-as-mask, keypoint hulls, the segmenter and the completed result.
    Masks {
        /// Native trees, or folders of them. None: the embedded default world (`--world`).
        trees: Vec<PathBuf>,
        /// Where the embedded default world lives (used when no tree is given).
        #[arg(long, default_value = "out/synth")]
        world: PathBuf,
        /// A build config whose `[masks]` section to use (paths relative to it).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The segmenter, instead of the config's.
        #[arg(long, value_enum)]
        segmenter: Option<SegmenterArg>,
        /// ONNX image encoder (with `--segmenter onnx`).
        #[arg(long)]
        encoder: Option<PathBuf>,
        /// ONNX prompt decoder (with `--segmenter onnx`).
        #[arg(long)]
        decoder: Option<PathBuf>,
        /// The ONNX export convention.
        #[arg(long, value_enum)]
        convention: Option<ConventionArg>,
        /// The confidence a segmenter mask needs, instead of the config's.
        #[arg(long)]
        min_score: Option<f32>,
        /// Keep segmenter results in this cache folder (and reuse them).
        #[arg(long)]
        cache: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Frames without their image are fine (annotation-only trees).
        #[arg(long)]
        allow_missing_images: bool,
        /// Worker threads (default: all cores).
        #[arg(short = 'j', long)]
        threads: Option<usize>,
    },
    /// Check a build output: shards against the manifest's hashes and rows, the record schema,
    /// scene-disjoint splits, and every shown frame present. Exit 1 on any failure.
    Verify {
        /// The build output folder.
        out: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Render a synthetic multi-camera world and write it in the source datasets' own formats.
    Synth {
        /// Which dataset format(s); `all` writes OUT/<profile> for each.
        #[arg(long, value_enum)]
        profile: ProfileArg,
        /// Scenes (takes, sequences) per profile.
        #[arg(long, default_value_t = 4)]
        scenes: usize,
        /// Master seed: the same flags give the same bytes.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Write annotations and truth only, no images.
        #[arg(long)]
        no_images: bool,
        /// `paper`: a tree large enough for the paper's >8M QA candidates (sets --scenes).
        #[arg(long)]
        scale: Option<String>,
        /// Longest side of written images, in pixels (calibration is scaled to match);
        /// default 640, or 320 with `--scale paper`.
        #[arg(long)]
        max_side: Option<u32>,
        /// Frames per video scene (default: the profile's).
        #[arg(long)]
        frames: Option<usize>,
        /// Worker threads (default: all cores); the output does not depend on it.
        #[arg(short = 'j', long)]
        threads: Option<usize>,
    },
}

/// A failure that is the user's input or configuration (exit 2) rather than a run failure.
#[derive(Debug)]
struct UsageError(String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Inspect {
            dir,
            source,
            json,
            out,
            allow_missing_images,
            messytable_translation_scale,
            mmptrack_world_to_camera,
        } => {
            if !(messytable_translation_scale.is_finite() && messytable_translation_scale > 0.0) {
                return Err(UsageError(format!(
                    "--messytable-translation-scale must be a positive number, got {messytable_translation_scale}"
                ))
                .into());
            }
            let options = crossview::stages::sources::SourceOptions {
                require_images: !allow_missing_images,
                messytable_translation_scale,
                mmptrack_extrinsics: if mmptrack_world_to_camera {
                    crossview::stages::sources::MmpExtrinsics::WorldToCamera
                } else {
                    crossview::stages::sources::MmpExtrinsics::CameraToWorld
                },
            };
            let args = crossview::inspect_cmd::InspectArgs {
                dir,
                source: source.map(SourceArg::kind),
                json,
                out,
                options,
            };
            crossview::inspect_cmd::run(&args)
        }
        Command::Qa {
            trees,
            world,
            config,
            out,
            jsonl,
            json,
            allow_missing_images,
            threads,
        } => {
            let config = match config {
                None => crossview::stages::corpus::CorpusConfig::default(),
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    let mut cfg: crossview::stages::corpus::CorpusConfig = toml::from_str(&text)
                        .map_err(|e| UsageError(format!("{}: {e}", path.display())))?;
                    cfg.masks
                        .resolve_paths(path.parent().unwrap_or(std::path::Path::new(".")));
                    cfg.validate()
                        .map_err(|e| UsageError(format!("{}: {e}", path.display())))?;
                    cfg
                }
            };
            let trees = if trees.is_empty() {
                crossview::qa_cmd::embedded_world(&world, threads)?;
                vec![world]
            } else {
                trees
            };
            let args = crossview::qa_cmd::QaArgs {
                trees,
                config,
                options: crossview::stages::sources::SourceOptions {
                    require_images: !allow_missing_images,
                    ..Default::default()
                },
                out,
                jsonl,
                json,
                threads,
            };
            crossview::qa_cmd::run(&args)
        }
        Command::Build {
            config,
            out,
            workers,
            processes,
            process,
            hostfile,
            strict,
            quiet,
            watch,
            interval_ms,
        } => {
            let config_file = config;
            let (config, base) = match &config_file {
                None => (crossview::build::BuildConfig::default(), PathBuf::from(".")),
                Some(path) => crossview::build::BuildConfig::load(path)
                    .map_err(|e| UsageError(format!("{e:#}")))?,
            };
            let workers = workers.unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
            });
            if workers == 0 {
                return Err(UsageError("-w must be at least 1".into()).into());
            }
            // `-w` bounds the build's compute threads, the stage functions' own parallel
            // parts (rayon) included.
            rayon::ThreadPoolBuilder::new()
                .num_threads(workers)
                .build_global()
                .context("starting the thread pool")?;
            let cluster = match (processes, process, hostfile) {
                (Some(n), Some(i), Some(hostfile)) => {
                    if config.sources.is_empty() {
                        return Err(UsageError(
                            "a cluster build needs --config with `sources` (the embedded \
                             default is written by a single process)"
                                .into(),
                        )
                        .into());
                    }
                    let cluster = crossview::build::Cluster::from_hostfile(&hostfile, n, i)
                        .map_err(|e| UsageError(format!("{e:#}")))?;
                    crossview::build::exit_when_a_process_is_lost();
                    Some(cluster)
                }
                _ => None,
            };
            let args = crossview::build::BuildArgs {
                config,
                base,
                out,
                workers,
                strict,
                quiet,
                cluster,
            };
            if watch {
                crossview::build::watch(
                    &args,
                    std::time::Duration::from_millis(interval_ms),
                    config_file.as_deref(),
                )
            } else {
                crossview::build::run(&args)
            }
        }
        Command::Masks {
            trees,
            world,
            config,
            segmenter,
            encoder,
            decoder,
            convention,
            min_score,
            cache,
            json,
            allow_missing_images,
            threads,
        } => {
            use crossview::stages::masks::{SamConvention, SegmenterKind};
            let config = match config {
                None => crossview::build::BuildConfig::default(),
                Some(path) => {
                    crossview::build::BuildConfig::load(&path)
                        .map_err(|e| UsageError(format!("{e:#}")))?
                        .0
                }
            };
            let mut masks = config.masks.clone();
            if let Some(s) = segmenter {
                masks.segmenter = match s {
                    SegmenterArg::Graphcut => SegmenterKind::Graphcut,
                    SegmenterArg::Onnx => SegmenterKind::Onnx,
                    SegmenterArg::None => SegmenterKind::None,
                };
            }
            // Model files given here are relative to the working folder.
            if let Some(e) = encoder {
                masks.onnx.encoder = e;
            }
            if let Some(d) = decoder {
                masks.onnx.decoder = d;
            }
            if let Some(c) = convention {
                masks.onnx.convention = match c {
                    ConventionArg::Sam1 => SamConvention::Sam1,
                    ConventionArg::Sam2 => SamConvention::Sam2,
                };
            }
            if let Some(m) = min_score {
                masks.min_score = m;
            }
            masks.validate().map_err(|e| UsageError(format!("{e:#}")))?;
            let trees = if trees.is_empty() {
                crossview::qa_cmd::embedded_world(&world, threads)?;
                vec![world]
            } else {
                trees
            };
            let args = crossview::masks_cmd::MasksArgs {
                trees,
                config: masks,
                options: crossview::stages::sources::SourceOptions {
                    require_images: !allow_missing_images,
                    ..config.source_options()
                },
                cache,
                json,
                threads,
            };
            crossview::masks_cmd::run(&args)
        }
        Command::Verify { out, json } => crossview::verify_cmd::run(&out, json),
        Command::Synth {
            profile,
            scenes,
            seed,
            out,
            no_images,
            scale,
            max_side,
            frames,
            threads,
        } => {
            let paper = match scale.as_deref() {
                None => false,
                Some("paper") => true,
                Some(other) => {
                    return Err(UsageError(format!(
                        "unknown --scale {other:?} (expected `paper`)"
                    ))
                    .into());
                }
            };
            let profiles = match profile {
                ProfileArg::Messytable => vec![synth_cmd::SynthProfile::MessyTable],
                ProfileArg::Mmptrack => vec![synth_cmd::SynthProfile::MmpTrack],
                ProfileArg::Egohumans => vec![synth_cmd::SynthProfile::EgoHumans],
                ProfileArg::Egoexo4d => vec![synth_cmd::SynthProfile::EgoExo4d],
                ProfileArg::All => synth_cmd::SynthProfile::ALL.to_vec(),
            };
            let args = synth_cmd::SynthArgs {
                profiles,
                nested: profile == ProfileArg::All,
                scenes,
                seed,
                out,
                images: !no_images,
                paper,
                max_side: max_side.unwrap_or(if paper {
                    crossview::PAPER_MAX_SIDE
                } else {
                    crossview::DEFAULT_MAX_SIDE
                }),
                frames,
                threads,
            };
            synth_cmd::run(&args).context("synth failed")
        }
    }
}

fn main() -> ExitCode {
    crossview::pages::prefer_small_pages();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
