//! The quality report as a PNG chart (plotters, glyphs from a TrueType font found on the
//! machine): kept samples per task and source beside the paper, the candidate funnel, answers.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Context;
use plotters::coord::Shift;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crossview_schemas::{SourceKind, Task};
use crossview_stages::corpus::{CorpusStats, PAPER_TRAIN_PER_TASK};

const WIDTH: u32 = 1400;
const HEIGHT: u32 = 1000;
const FONT: &str = "sans-serif";

/// Where a TrueType font is looked for (`CROSSVIEW_FONT` first).
const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// Registers a font for the charts once; the error says where fonts were looked for.
fn ensure_font() -> anyhow::Result<()> {
    static FONT_LOADED: OnceLock<Result<(), String>> = OnceLock::new();
    FONT_LOADED
        .get_or_init(|| {
            let candidates: Vec<PathBuf> = std::env::var_os("CROSSVIEW_FONT")
                .map(PathBuf::from)
                .into_iter()
                .chain(FONT_PATHS.iter().map(PathBuf::from))
                .collect();
            for path in &candidates {
                if let Ok(bytes) = std::fs::read(path) {
                    // plotters keeps fonts for the life of the process.
                    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                    if plotters::style::register_font(FONT, FontStyle::Normal, bytes).is_ok() {
                        return Ok(());
                    }
                }
            }
            Err(format!(
                "no TrueType font for the chart (looked at {}; set CROSSVIEW_FONT to a .ttf file)",
                candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
        .clone()
        .map_err(|e| anyhow::anyhow!(e))
}

fn source_color(s: SourceKind) -> RGBColor {
    match s {
        SourceKind::MessyTable => RGBColor(31, 119, 180),
        SourceKind::MmpTrack => RGBColor(255, 127, 14),
        SourceKind::EgoHumans => RGBColor(44, 160, 44),
        SourceKind::EgoExo4d => RGBColor(214, 39, 40),
    }
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// One bar of the funnel: its name, colour and count per task.
type FunnelStage<'a> = (&'static str, RGBColor, Box<dyn Fn(Task) -> u64 + 'a>);

/// The task name at an integer x (bars are centred on their task's index).
fn task_label(x: &f64) -> String {
    let k = x.round();
    if (x - k).abs() > 1e-6 || k < 0.0 {
        return String::new();
    }
    Task::ALL
        .get(k as usize)
        .map_or(String::new(), |t| t.name().to_string())
}

type Chart<'a, 'b, Y> = ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, Y>>;

/// Task names along x, counts (formatted by `y_label`) along y.
fn task_axes<Y>(
    chart: &mut Chart<'_, '_, Y>,
    y_label: &dyn Fn(&f64) -> String,
) -> anyhow::Result<()>
where
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(18)
        .x_label_formatter(&task_label)
        .y_label_formatter(y_label)
        .label_style((FONT, 12))
        .draw()?;
    Ok(())
}

/// The series legend, in the upper right.
fn legend<'a, 'b: 'a, Y>(chart: &mut Chart<'a, 'b, Y>) -> anyhow::Result<()>
where
    Y: Ranged<ValueType = f64>,
{
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font((FONT, 12))
        .draw()?;
    Ok(())
}

/// Stacked bars per task, one layer per source, from a count per (source, task); optional
/// black ticks (the paper's figure per task).
fn stacked_by_source(
    area: &Area<'_>,
    title: &str,
    count: &dyn Fn(SourceKind, Task) -> u64,
    reference: Option<&[u64; 17]>,
) -> anyhow::Result<()> {
    let totals: Vec<u64> = Task::ALL
        .iter()
        .map(|&t| SourceKind::ALL.iter().map(|&s| count(s, t)).sum())
        .collect();
    let top = totals
        .iter()
        .copied()
        .chain(reference.into_iter().flatten().copied())
        .max()
        .unwrap_or(1)
        .max(1) as f64
        * 1.1;
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 18))
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5f64..16.5f64, 0f64..top)?;
    task_axes(&mut chart, &|y| format!("{y:.0}"))?;
    for (k, &t) in Task::ALL.iter().enumerate() {
        let mut base = 0.0;
        for &s in SourceKind::ALL {
            let v = count(s, t) as f64;
            if v > 0.0 {
                let x = k as f64;
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x - 0.35, base), (x + 0.35, base + v)],
                    source_color(s).filled(),
                )))?;
                base += v;
            }
        }
        if let Some(r) = reference {
            let (x, y) = (k as f64, r[k] as f64);
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(x - 0.45, y), (x + 0.45, y)],
                BLACK.stroke_width(3),
            )))?;
        }
    }
    for &s in SourceKind::ALL {
        chart
            .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())?
            .label(s.name())
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 10, y + 5)], source_color(s).filled())
            });
    }
    if reference.is_some() {
        chart
            .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())?
            .label("paper mix")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 10, y)], BLACK.stroke_width(3)));
    }
    legend(&mut chart)?;
    Ok(())
}

/// Per task: candidates drawn, past the per-scene filters, and kept, on a log scale.
fn funnel(area: &Area<'_>, s: &CorpusStats) -> anyhow::Result<()> {
    let stages: [FunnelStage<'_>; 3] = [
        (
            "drawn",
            RGBColor(160, 160, 160),
            Box::new(|t| s.drawn.task(t)),
        ),
        (
            "past margins and dedupe",
            RGBColor(100, 140, 200),
            Box::new(|t| s.eligible_train.task(t) + s.eligible_bench.task(t)),
        ),
        (
            "kept (train + bench)",
            RGBColor(30, 60, 140),
            Box::new(|t| s.kept_train.task(t) + s.kept_bench.task(t)),
        ),
    ];
    let top = Task::ALL
        .iter()
        .map(|&t| s.drawn.task(t))
        .max()
        .unwrap_or(1)
        .max(10) as f64
        * 2.0;
    let mut chart = ChartBuilder::on(area)
        .caption("candidates per task: drawn, filtered, kept", (FONT, 18))
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5f64..16.5f64, (1f64..top).log_scale())?;
    task_axes(&mut chart, &|y| format!("{y:.0}"))?;
    for (j, (name, color, value)) in stages.iter().enumerate() {
        let color = *color;
        chart
            .draw_series(Task::ALL.iter().enumerate().filter_map(|(k, &t)| {
                let v = value(t) as f64;
                let x = k as f64 - 0.4 + 0.27 * j as f64;
                (v >= 1.0).then(|| Rectangle::new([(x, 1.0), (x + 0.25, v)], color.filled()))
            }))?
            .label(*name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
    }
    legend(&mut chart)?;
    Ok(())
}

/// Per task: the share of kept closed-form answers at each option position.
fn answer_positions(area: &Area<'_>, s: &CorpusStats) -> anyhow::Result<()> {
    let colors = [
        RGBColor(102, 194, 165),
        RGBColor(252, 141, 98),
        RGBColor(141, 160, 203),
        RGBColor(231, 138, 195),
    ];
    let mut chart = ChartBuilder::on(area)
        .caption("answer position share per task (A B C D)", (FONT, 18))
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5f64..16.5f64, 0f64..1f64)?;
    task_axes(&mut chart, &|y| format!("{:.0}%", y * 100.0))?;
    for (k, pos) in s.positions.iter().enumerate() {
        let total: u64 = pos.iter().sum();
        if total == 0 {
            continue;
        }
        let mut base = 0.0;
        for (p, &n) in pos.iter().enumerate() {
            let share = n as f64 / total as f64;
            if share > 0.0 {
                let x = k as f64;
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x - 0.35, base), (x + 0.35, base + share)],
                    colors[p].filled(),
                )))?;
                base += share;
            }
        }
    }
    Ok(())
}

/// Draws the report chart into `path`.
pub fn write_report_png(s: &CorpusStats, path: &Path) -> anyhow::Result<()> {
    ensure_font()?;
    let mut buf = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let panels = root.split_evenly((2, 2));
        // The paper's composition scaled to this corpus's size, so any corpus compares.
        let total = s.kept_train.total() as f64;
        let paper_total: u64 = PAPER_TRAIN_PER_TASK.iter().sum();
        let scaled: [u64; 17] = std::array::from_fn(|k| {
            (PAPER_TRAIN_PER_TASK[k] as f64 * total / paper_total as f64).round() as u64
        });
        stacked_by_source(
            &panels[0],
            "train samples per task and source; ticks: the paper's mix at this size",
            &|src, t| s.kept_train.get(src, t),
            Some(&scaled),
        )?;
        stacked_by_source(
            &panels[1],
            "bench questions per task and source",
            &|src, t| s.kept_bench.get(src, t),
            None,
        )?;
        funnel(&panels[2], s)?;
        answer_positions(&panels[3], s)?;
        root.present()?;
    }
    let mut file = crossview_schemas::AtomicFile::create(path)?;
    {
        let mut enc = png::Encoder::new(std::io::BufWriter::new(&mut file), WIDTH, HEIGHT);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header()
            .and_then(|mut w| w.write_image_data(&buf))
            .with_context(|| format!("encoding {}", path.display()))?;
    }
    file.commit()?;
    Ok(())
}
