//! [`MaskScore`]: completed masks against reference masks (the synthetic `_truth/` modal
//! masks), as mean IoU per source and method.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crossview_schemas::{Rle, SourceKind};

use crate::Result;

/// One method's tally on one source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MethodScore {
    /// Masks scored.
    pub masks: u64,
    /// Sum of their IoUs.
    pub iou_sum: f64,
}

impl MethodScore {
    /// Mean IoU (0 when nothing was scored).
    pub fn mean_iou(&self) -> f64 {
        if self.masks == 0 {
            0.0
        } else {
            self.iou_sum / self.masks as f64
        }
    }
}

/// Mean IoU per (source, method).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MaskScore {
    /// The tallies.
    pub by: BTreeMap<SourceKind, BTreeMap<String, MethodScore>>,
    /// Methods in the order they were first scored (the table's columns).
    pub methods: Vec<String>,
}

impl MaskScore {
    /// Scores one mask against its reference (an empty reference is skipped: nothing of
    /// the object is visible to segment).
    pub fn add(&mut self, source: SourceKind, method: &str, mask: &Rle, truth: &Rle) -> Result<()> {
        if truth.is_empty() {
            return Ok(());
        }
        let iou = mask.iou(truth)?;
        if !self.methods.iter().any(|m| m == method) {
            self.methods.push(method.to_string());
        }
        let s = self
            .by
            .entry(source)
            .or_default()
            .entry(method.to_string())
            .or_default();
        s.masks += 1;
        s.iou_sum += iou;
        Ok(())
    }

    /// One method's score on one source.
    pub fn get(&self, source: SourceKind, method: &str) -> Option<MethodScore> {
        self.by.get(&source)?.get(method).copied()
    }

    /// A text table: a row per source, a column per method (mean IoU, masks scored).
    pub fn table(&self) -> String {
        let mut t = format!("{:<12}", "source");
        for m in &self.methods {
            t.push_str(&format!(" {m:>22}"));
        }
        t.push('\n');
        for (source, methods) in &self.by {
            t.push_str(&format!("{:<12}", source.name()));
            for m in &self.methods {
                match methods.get(m) {
                    Some(s) => t.push_str(&format!(" {:>13.3} ({:>6})", s.mean_iou(), s.masks)),
                    None => t.push_str(&format!(" {:>22}", "-")),
                }
            }
            t.push('\n');
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_iou_by_hand() {
        // Truth: pixels 0..4 of a 4x2 image (first two columns); masks: 2 of them, and all.
        let truth = Rle::from_counts(2, 4, vec![0, 4, 4]).unwrap();
        let half = Rle::from_counts(2, 4, vec![0, 2, 6]).unwrap();
        let all = Rle::from_counts(2, 4, vec![0, 8]).unwrap();
        let mut s = MaskScore::default();
        s.add(SourceKind::MmpTrack, "box", &all, &truth).unwrap();
        s.add(SourceKind::MmpTrack, "cut", &half, &truth).unwrap();
        s.add(SourceKind::MmpTrack, "cut", &truth, &truth).unwrap();
        s.add(SourceKind::MmpTrack, "cut", &all, &Rle::empty(2, 4))
            .unwrap();
        assert_eq!(s.get(SourceKind::MmpTrack, "box").unwrap().mean_iou(), 0.5);
        // (0.5 + 1) / 2; the empty truth is not scored.
        assert_eq!(s.get(SourceKind::MmpTrack, "cut").unwrap().mean_iou(), 0.75);
        assert_eq!(s.get(SourceKind::MmpTrack, "cut").unwrap().masks, 2);
        assert_eq!(s.methods, vec!["box", "cut"]);
        assert!(s.table().contains("mmptrack"));
    }
}
