//! End-to-end loader benchmark (issue 4): each source of the `--no-images` synthetic world read
//! whole, at paper scale and at a tenth of its scenes: observations per CPU-second and peak RSS.
//!
//! `cargo bench --bench load_e2e [-- RUNS]` (default 5 runs per source; the best CPU time and
//! the highest peak are printed). Each run is a fresh process reading one tree in this program
//! (the loader alone: no summary, no tables), timed by the process CPU clock around the read,
//! so CPU is user plus system time of every thread, which is what "per core" means. A last line
//! gives the whole paper tree: all sources' observations over the sum of their CPU times.

use std::path::{Path, PathBuf};
use std::process::Command;

use crossview::stages::sources::{self, SourceOptions};

mod world;

// The allocator the binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Issue 4's target, observations per CPU-second.
const TARGET_PER_CPU_SECOND: f64 = 500_000.0;

/// The paper world's scenes per profile, and the tenth of them the small world has.
const PROFILES: [(&str, usize); 4] = [
    ("messytable", 5_579),
    ("mmptrack", 100),
    ("egohumans", 133),
    ("egoexo4d", 200),
];

/// This process's CPU seconds: user plus system time of all its threads, finished or not.
fn cpu_seconds() -> f64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

/// One run, in a child process: reads the tree at `dir` and prints
/// `scenes observations cpu_seconds peak_mib`.
fn read_one(dir: &Path) {
    // The page policy the binary uses.
    crossview::pages::prefer_small_pages();
    let options = SourceOptions {
        require_images: false,
        ..SourceOptions::default()
    };
    let cpu0 = cpu_seconds();
    let reader = sources::open(dir, None, &options).expect("a source tree");
    let (mut scenes, mut observations) = (0usize, 0usize);
    let errors = reader
        .read(&mut |scene| {
            scenes += 1;
            observations += scene.observations.len();
            Ok(())
        })
        .expect("the tree reads");
    let cpu1 = cpu_seconds();
    let peak = crossview::build::peak_rss_mib().expect("/proc/self/status has VmHWM");
    assert!(
        errors.is_empty(),
        "{} tree errors in {}",
        errors.len(),
        dir.display()
    );
    println!("{scenes} {observations} {} {peak}", cpu1 - cpu0);
}

/// What `runs` child runs over `dir` measured: scenes, observations, best CPU seconds and
/// highest peak MiB.
fn measure(dir: &Path, runs: usize) -> (usize, usize, f64, f64) {
    let me = std::env::current_exe().expect("this benchmark's path");
    let mut best = (0, 0, f64::INFINITY, 0.0f64);
    for _ in 0..runs {
        let out = Command::new(&me)
            .arg("--one")
            .arg(dir)
            .output()
            .expect("a run starts");
        assert!(
            out.status.success(),
            "reading {}: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let f: Vec<&str> = text.split_whitespace().collect();
        let num = |i: usize| {
            f.get(i)
                .and_then(|x| x.parse::<f64>().ok())
                .expect("a figure")
        };
        best = (
            num(0) as usize,
            num(1) as usize,
            best.2.min(num(2)),
            best.3.max(num(3)),
        );
    }
    best
}

/// The tenth-scale world: each profile's tree with a tenth of the paper's scenes.
fn tenth_world(root: &Path) {
    for (profile, scenes) in PROFILES {
        if root.join(profile).exists() {
            continue;
        }
        eprintln!("synthesizing the tenth-scale {profile} tree");
        world::crossview(&[
            "synth",
            "--profile",
            profile,
            "--scenes",
            &(scenes / 10).to_string(),
            "--max-side",
            "320",
            "--no-images",
            "--out",
            &root.join(profile).display().to_string(),
        ]);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|a| a == "--one") {
        read_one(&PathBuf::from(&args[at + 1]));
        return;
    }
    let runs = args
        .iter()
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(5);
    let target = world::target_dir();
    let paper = target.join("bench-world-paper");
    let tenth = target.join("bench-world-tenth");
    world::ensure_paper_world(&paper);
    tenth_world(&tenth);
    println!("loaders, best of {runs} runs (CPU = user + system seconds of all threads):");
    // The whole paper tree: every source's observations over the sum of their best CPU times.
    let (mut tree_obs, mut tree_cpu) = (0usize, 0.0f64);
    for (profile, _) in PROFILES {
        let (scenes, obs, cpu, peak) = measure(&paper.join(profile), runs);
        tree_obs += obs;
        tree_cpu += cpu;
        let (small_scenes, _, _, small_peak) = measure(&tenth.join(profile), runs);
        let rate = obs as f64 / cpu;
        println!(
            "{profile}: {scenes} scenes, {obs} observations, {cpu:.3} s CPU, {:.0} K per \
             CPU-second ({}); peak RSS {peak:.0} MiB ({small_scenes} scenes: {small_peak:.0} MiB)",
            rate / 1e3,
            verdict(rate)
        );
    }
    let rate = tree_obs as f64 / tree_cpu;
    println!(
        "the whole paper tree: {tree_obs} observations, {tree_cpu:.3} s CPU, {:.0} K per \
         CPU-second ({})",
        rate / 1e3,
        verdict(rate)
    );
}

/// Whether `rate` observations per CPU-second meets the target.
fn verdict(rate: f64) -> &'static str {
    if rate >= TARGET_PER_CPU_SECOND {
        "target 500 K met"
    } else {
        "target 500 K not met"
    }
}
