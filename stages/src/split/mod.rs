//! Scene-disjoint split: a scene belongs to the bench when a salted hash of its id falls below
//! the configured fraction, so a scene's split never depends on any other scene.

use serde::{Deserialize, Serialize};

use crossview_schemas::{ContentHasher, Split};

/// Default share of scenes in the bench.
pub const DEFAULT_BENCH_FRACTION: f64 = 0.1;
/// Default bench questions per task (the paper's 1,000).
pub const DEFAULT_BENCH_PER_TASK: u64 = 1000;

/// How scenes are split and how large the bench is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SplitConfig {
    /// Share of scenes whose questions may enter the bench.
    pub bench_fraction: f64,
    /// Bench questions per task (closed form), where enough candidates exist.
    pub bench_per_task: u64,
    /// Salt of the scene hash: changing it draws another split.
    pub salt: String,
}

impl Default for SplitConfig {
    fn default() -> Self {
        SplitConfig {
            bench_fraction: DEFAULT_BENCH_FRACTION,
            bench_per_task: DEFAULT_BENCH_PER_TASK,
            salt: "crossview-split-v1".into(),
        }
    }
}

impl SplitConfig {
    /// Checks the values.
    pub fn validate(&self) -> crate::Result<()> {
        if !(0.0..=1.0).contains(&self.bench_fraction) {
            return Err(crate::Error::Options(
                "split: bench_fraction must be in [0, 1]".into(),
            ));
        }
        Ok(())
    }

    /// The split of a scene (by its id, unique across sources).
    pub fn split_of(&self, scene_id: &str) -> Split {
        let h = ContentHasher::new("crossview.split")
            .str(&self.salt)
            .str(scene_id)
            .finish_u64();
        // The top 53 bits as a uniform number in [0, 1).
        let u = (h >> 11) as f64 / (1u64 << 53) as f64;
        if u < self.bench_fraction {
            Split::Bench
        } else {
            Split::Train
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_a_function_of_the_scene_alone_with_the_configured_share() {
        let cfg = SplitConfig::default();
        let ids: Vec<String> = (0..20_000)
            .map(|i| format!("messytable/scene-{i:05}"))
            .collect();
        let bench = ids
            .iter()
            .filter(|id| cfg.split_of(id) == Split::Bench)
            .count();
        // 10% of 20,000 = 2,000; the binomial sd is 42.
        assert!((bench as i64 - 2000).abs() < 200, "{bench}");
        for id in &ids[..100] {
            assert_eq!(cfg.split_of(id), cfg.split_of(id));
        }
        let none = SplitConfig {
            bench_fraction: 0.0,
            ..SplitConfig::default()
        };
        assert!(ids.iter().all(|id| none.split_of(id) == Split::Train));
        let all = SplitConfig {
            bench_fraction: 1.0,
            ..SplitConfig::default()
        };
        assert!(ids.iter().all(|id| all.split_of(id) == Split::Bench));
        let other = SplitConfig {
            salt: "x".into(),
            ..SplitConfig::default()
        };
        assert!(ids.iter().any(|id| other.split_of(id) != cfg.split_of(id)));
    }
}
