//! The quality report of a corpus: composition by source x task x split beside the paper's
//! figures (TASKS.md), candidates against kept per filter, answer positions; JSON and a table.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crossview_schemas::{SourceKind, Task, TaskCategory};

use super::stats::CorpusStats;

/// The paper's training samples per task (TASKS.md), Q1..Q17.
pub const PAPER_TRAIN_PER_TASK: [u64; 17] = [
    99_000, 107_000, 191_000, 119_000, 116_000, 116_000, 119_000, 25_000, 36_000, 109_000, 22_000,
    100_000, 121_000, 117_000, 116_000, 122_000, 8_000,
];
/// The paper's bench questions per task.
pub const PAPER_BENCH_PER_TASK: u64 = 1_000;
/// The paper's candidates before filtering ("more than 8M").
pub const PAPER_CANDIDATES: u64 = 8_000_000;

fn idx(t: Task) -> usize {
    usize::from(t.number() - 1)
}

/// The report as JSON.
pub fn report_json(s: &CorpusStats) -> Value {
    let per_task: serde_json::Map<String, Value> = Task::ALL
        .iter()
        .map(|&t| {
            let pos = &s.positions[idx(t)];
            let closed: u64 = pos.iter().sum();
            (
                t.name().to_string(),
                json!({
                    "category": t.category().name(),
                    "drawn": s.drawn.task(t),
                    "margin": s.margin.task(t),
                    "missing_geometry": s.missing_geometry.task(t),
                    "no_evidence": s.no_evidence.task(t),
                    "duplicate": s.duplicate.task(t),
                    "eligible_train": s.eligible_train.task(t),
                    "eligible_bench": s.eligible_bench.task(t),
                    "kept_train": s.kept_train.task(t),
                    "kept_bench": s.kept_bench.task(t),
                    "open_chosen": s.open_chosen.task(t),
                    "open_kept": s.open_kept.task(t),
                    "open_not_unique": s.open_not_unique.task(t),
                    "answer_positions": pos,
                    "answer_position_share": pos.iter().map(|&p| if closed > 0 { p as f64 / closed as f64 } else { 0.0 }).collect::<Vec<_>>(),
                    "paper_train": PAPER_TRAIN_PER_TASK[idx(t)],
                    "paper_bench": PAPER_BENCH_PER_TASK,
                }),
            )
        })
        .collect();
    let per_category: serde_json::Map<String, Value> = TaskCategory::ALL
        .iter()
        .map(|&c| {
            let tasks: Vec<Task> = Task::ALL
                .iter()
                .copied()
                .filter(|t| t.category() == c)
                .collect();
            let sum = |f: &dyn Fn(Task) -> u64| tasks.iter().map(|&t| f(t)).sum::<u64>();
            (
                c.name().to_string(),
                json!({
                    "train": sum(&|t| s.kept_train.task(t)),
                    "bench": sum(&|t| s.kept_bench.task(t)),
                    "paper_train": sum(&|t| PAPER_TRAIN_PER_TASK[idx(t)]),
                    "paper_bench": tasks.len() as u64 * PAPER_BENCH_PER_TASK,
                }),
            )
        })
        .collect();
    let scenes: serde_json::Map<String, Value> = SourceKind::ALL
        .iter()
        .enumerate()
        .filter(|(k, _)| s.scenes[*k] > 0)
        .map(|(k, src)| {
            (
                src.name().to_string(),
                json!({"train": s.scenes[k] - s.bench_scenes[k], "bench": s.bench_scenes[k]}),
            )
        })
        .collect();
    let margin = s.margin.total();
    let missing = s.missing_geometry.total();
    let dup = s.duplicate.total();
    json!({
        "scenes": scenes,
        "funnel": {
            "drawn": s.drawn.total(),
            "dropped_margin": margin,
            "dropped_missing_geometry": missing,
            "dropped_no_evidence": s.no_evidence.total(),
            "dropped_duplicate": dup,
            "eligible_train": s.eligible_train.total(),
            "eligible_bench": s.eligible_bench.total(),
            "kept_train": s.kept_train.total(),
            "kept_bench": s.kept_bench.total(),
            "dropped_balance_quota_train": s.eligible_train.total().saturating_sub(s.kept_train.total()),
            "dropped_bench_sampling": s.eligible_bench.total().saturating_sub(s.kept_bench.total()),
            "open_chosen": s.open_chosen.total(),
            "open_kept": s.open_kept.total(),
            "open_dropped_not_unique": s.open_not_unique.total(),
            "paper_candidates": PAPER_CANDIDATES,
        },
        "per_task": per_task,
        "per_category": per_category,
        "composition": {
            "train": s.kept_train.to_json(),
            "bench": s.kept_bench.to_json(),
            "drawn": s.drawn.to_json(),
        },
    })
}

/// The report as a printed table: one row per task, then totals.
pub fn report_table(s: &CorpusStats) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<4} {:>10} {:>9} {:>8} {:>7} {:>10} {:>9} {:>6} {:>6}  {:<23} {:>9}",
        "task",
        "drawn",
        "margin",
        "no-3D",
        "dup",
        "eligible",
        "train",
        "bench",
        "open",
        "answer A/B/C/D %",
        "paper"
    );
    for &t in Task::ALL {
        let pos = &s.positions[idx(t)];
        let closed: u64 = pos.iter().sum();
        let shares = if closed == 0 {
            "-".to_string()
        } else {
            pos.iter()
                .map(|&p| format!("{:.0}", 100.0 * p as f64 / closed as f64))
                .collect::<Vec<_>>()
                .join("/")
        };
        let _ = writeln!(
            out,
            "{:<4} {:>10} {:>9} {:>8} {:>7} {:>10} {:>9} {:>6} {:>6}  {:<23} {:>9}",
            t.name(),
            s.drawn.task(t),
            s.margin.task(t),
            s.missing_geometry.task(t) + s.no_evidence.task(t),
            s.duplicate.task(t),
            s.eligible_train.task(t) + s.eligible_bench.task(t),
            s.kept_train.task(t),
            s.kept_bench.task(t),
            s.open_kept.task(t),
            shares,
            PAPER_TRAIN_PER_TASK[idx(t)],
        );
    }
    let _ = writeln!(
        out,
        "{:<4} {:>10} {:>9} {:>8} {:>7} {:>10} {:>9} {:>6} {:>6}  {:<23} {:>9}",
        "all",
        s.drawn.total(),
        s.margin.total(),
        s.missing_geometry.total() + s.no_evidence.total(),
        s.duplicate.total(),
        s.eligible_train.total() + s.eligible_bench.total(),
        s.kept_train.total(),
        s.kept_bench.total(),
        s.open_kept.total(),
        "",
        PAPER_TRAIN_PER_TASK.iter().sum::<u64>(),
    );
    let _ = writeln!(out, "\nby source (train / bench kept, drawn):");
    for &src in SourceKind::ALL {
        if s.drawn.source(src) == 0 {
            continue;
        }
        let _ = writeln!(
            out,
            "  {:<11} {:>9} / {:<6} of {:>10} drawn",
            src.name(),
            s.kept_train.source(src),
            s.kept_bench.source(src),
            s.drawn.source(src)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_figures_add_up_as_tasks_md_says() {
        // TASKS.md: train 1,643K; per group 632K / 260K / 743K / 8K.
        assert_eq!(PAPER_TRAIN_PER_TASK.iter().sum::<u64>(), 1_643_000);
        let group = |c: TaskCategory| -> u64 {
            Task::ALL
                .iter()
                .filter(|t| t.category() == c)
                .map(|&t| PAPER_TRAIN_PER_TASK[idx(t)])
                .sum()
        };
        assert_eq!(group(TaskCategory::Correspondence), 632_000);
        assert_eq!(group(TaskCategory::VisibilityOcclusion), 260_000);
        assert_eq!(group(TaskCategory::Geometric), 743_000);
        assert_eq!(group(TaskCategory::Physical), 8_000);
    }

    #[test]
    fn report_counts_come_from_the_stats() {
        let mut s = CorpusStats::default();
        s.drawn.add(SourceKind::MessyTable, Task::Q5, 10);
        s.margin.add(SourceKind::MessyTable, Task::Q5, 4);
        s.kept(
            SourceKind::MessyTable,
            Task::Q5,
            crossview_schemas::Split::Train,
            1,
        );
        let j = report_json(&s);
        assert_eq!(j["per_task"]["Q5"]["drawn"], 10);
        assert_eq!(j["per_task"]["Q5"]["answer_positions"][1], 1);
        assert_eq!(j["funnel"]["dropped_margin"], 4);
        assert!(report_table(&s).contains("Q5"));
    }
}
