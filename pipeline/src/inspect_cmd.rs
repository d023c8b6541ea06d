//! `crossview inspect`: what a native tree holds (counts, input errors), optionally as JSON and
//! as Parquet tables of its canonical records.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use crossview_schemas::{
    Absence, Camera, Frame, InputError, Observation, RecordWriter, Scene, SourceKind, WriteOptions,
};
use crossview_stages::sources::{self, SourceOptions};
use serde::Serialize;

/// Parsed `inspect` arguments.
#[derive(Clone, Debug)]
pub struct InspectArgs {
    /// The native tree.
    pub dir: PathBuf,
    /// Force the source kind instead of detecting it.
    pub source: Option<SourceKind>,
    /// Print JSON instead of text.
    pub json: bool,
    /// Write the records as Parquet tables here.
    pub out: Option<PathBuf>,
    /// Reading options.
    pub options: SourceOptions,
}

/// What a tree holds.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Summary {
    /// Source kind.
    pub source: String,
    /// Scenes.
    pub scenes: usize,
    /// Cameras (per scene).
    pub cameras: usize,
    /// Frames (per camera).
    pub frames: usize,
    /// Observations (one object in one frame of one camera, as the source annotates it).
    pub observations: usize,
    /// Distinct instances (per scene).
    pub instances: usize,
    /// Known non-observations (Ego-Exo4D annotated frames without a mask).
    pub absences: usize,
    /// Input errors and warnings.
    pub errors: Vec<InputError>,
    /// Seconds spent reading.
    pub seconds: f64,
}

/// Parquet writers of the canonical tables.
struct Tables {
    scenes: RecordWriter<Scene>,
    cameras: RecordWriter<Camera>,
    frames: RecordWriter<Frame>,
    observations: RecordWriter<Observation>,
    absences: RecordWriter<Absence>,
}

impl Tables {
    fn create(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let o = WriteOptions::default();
        Ok(Tables {
            scenes: RecordWriter::create(dir.join("scenes.parquet"), &o)?,
            cameras: RecordWriter::create(dir.join("cameras.parquet"), &o)?,
            frames: RecordWriter::create(dir.join("frames.parquet"), &o)?,
            observations: RecordWriter::create(dir.join("observations.parquet"), &o)?,
            absences: RecordWriter::create(dir.join("absences.parquet"), &o)?,
        })
    }
}

/// Reads the tree and returns its summary, writing tables if asked.
pub fn summarize(args: &InspectArgs) -> anyhow::Result<Summary> {
    let start = std::time::Instant::now();
    let reader = sources::open(&args.dir, args.source, &args.options)?;
    let mut tables = args.out.as_deref().map(Tables::create).transpose()?;
    let mut s = Summary {
        source: reader.kind().name().to_string(),
        ..Summary::default()
    };
    let mut instances: BTreeSet<(String, String)> = BTreeSet::new();
    let tree_errors = reader.read(&mut |scene| {
        s.scenes += 1;
        s.cameras += scene.cameras.len();
        s.frames += scene.frames.len();
        s.observations += scene.observations.len();
        s.absences += scene.absences.len();
        // Distinct within the scene first: one insert per instance, not per observation.
        let in_scene: BTreeSet<(&str, &str)> = scene
            .observations
            .iter()
            .map(|o| (o.scene_id.as_str(), o.instance_id.as_str()))
            .collect();
        instances.extend(
            in_scene
                .into_iter()
                .map(|(scene, instance)| (scene.to_string(), instance.to_string())),
        );
        s.errors.extend(scene.errors.iter().cloned());
        if let Some(t) = tables.as_mut() {
            t.scenes.write(scene.scene.as_slice())?;
            t.cameras.write(&scene.cameras)?;
            t.frames.write(&scene.frames)?;
            t.observations.write(&scene.observations)?;
            t.absences.write(&scene.absences)?;
        }
        Ok(())
    })?;
    s.errors.extend(tree_errors);
    s.instances = instances.len();
    s.seconds = start.elapsed().as_secs_f64();
    if let (Some(t), Some(dir)) = (tables, args.out.as_deref()) {
        t.scenes.finish()?;
        t.cameras.finish()?;
        t.frames.finish()?;
        t.observations.finish()?;
        t.absences.finish()?;
        let mut w = RecordWriter::<InputError>::create(
            dir.join("errors.parquet"),
            &WriteOptions::default(),
        )?;
        w.write(&s.errors)?;
        w.finish()?;
    }
    Ok(s)
}

/// Runs the command, printing text or JSON.
pub fn run(args: &InspectArgs) -> anyhow::Result<()> {
    let s = summarize(args)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(());
    }
    println!("{}: {}", s.source, args.dir.display());
    println!("  scenes        {}", s.scenes);
    println!("  cameras       {}", s.cameras);
    println!("  frames        {}", s.frames);
    println!("  observations  {}", s.observations);
    println!("  instances     {}", s.instances);
    if s.absences > 0 {
        println!("  absences      {}", s.absences);
    }
    let (errors, warnings): (Vec<&InputError>, Vec<&InputError>) =
        s.errors.iter().partition(|e| e.class.is_error());
    println!("  errors        {}", errors.len());
    for e in errors.iter().take(20) {
        println!("    {e}");
    }
    if errors.len() > 20 {
        println!(
            "    ... {} more (all in --json or errors.parquet)",
            errors.len() - 20
        );
    }
    for w in &warnings {
        println!("  warning: {w}");
    }
    if let Some(dir) = &args.out {
        println!("  tables written to {}", dir.display());
    }
    println!(
        "  read in {:.2} s ({:.0} observations/s)",
        s.seconds,
        s.observations as f64 / s.seconds.max(1e-9)
    );
    Ok(())
}
