//! [`ColourModel`]: a Gaussian mixture over RGB colours (full covariances), fitted by hard
//! assignment as GrabCut does, for the graph cut's data term.

/// One Gaussian of the mixture.
#[derive(Clone, Copy, Debug)]
struct Component {
    weight: f32,
    mean: [f32; 3],
    /// Inverse covariance (symmetric, row-major).
    inverse: [f32; 9],
    /// log(weight) - 0.5 * log(det(covariance)), the constant part of the log density.
    log_norm: f32,
}

/// Added to the covariance diagonal so flat colour regions (and JPEG's quantised colours)
/// keep a usable density.
const COVARIANCE_FLOOR: f32 = 4.0;

/// A colour mixture.
#[derive(Clone, Debug, Default)]
pub struct ColourModel {
    components: Vec<Component>,
}

impl ColourModel {
    /// Fits `k` components to `colours` (at most `k`; fewer when there are too few samples):
    /// k-means from luminance-quantile seeds (deterministic), then each cluster's weight,
    /// mean and covariance.
    pub fn fit(colours: &[[f32; 3]], k: usize) -> ColourModel {
        let k = k.min(colours.len()).max(1);
        if colours.is_empty() {
            return ColourModel::default();
        }
        let mut order: Vec<usize> = (0..colours.len()).collect();
        let luma = |c: &[f32; 3]| 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
        order.sort_by(|&a, &b| luma(&colours[a]).total_cmp(&luma(&colours[b])));
        let mut centres: Vec<[f32; 3]> = (0..k)
            .map(|i| colours[order[(2 * i + 1) * colours.len() / (2 * k)]])
            .collect();
        let mut label = vec![0usize; colours.len()];
        for _ in 0..6 {
            for (l, c) in label.iter_mut().zip(colours) {
                *l = nearest(&centres, c);
            }
            let mut sums = vec![([0f64; 3], 0usize); k];
            for (l, c) in label.iter().zip(colours) {
                for (sum, v) in sums[*l].0.iter_mut().zip(c) {
                    *sum += f64::from(*v);
                }
                sums[*l].1 += 1;
            }
            for (centre, (s, n)) in centres.iter_mut().zip(&sums) {
                if *n > 0 {
                    *centre = s.map(|v| (v / *n as f64) as f32);
                }
            }
        }
        Self::from_labels(colours, &label, k)
    }

    /// Re-estimates the mixture with each colour given to its most likely component of
    /// `self` (GrabCut's iteration step).
    pub fn refit(&self, colours: &[[f32; 3]]) -> ColourModel {
        if self.components.is_empty() || colours.is_empty() {
            return ColourModel::fit(colours, self.components.len().max(1));
        }
        let label: Vec<usize> = colours.iter().map(|c| self.most_likely(c)).collect();
        Self::from_labels(colours, &label, self.components.len())
    }

    fn from_labels(colours: &[[f32; 3]], label: &[usize], k: usize) -> ColourModel {
        let mut n = vec![0f64; k];
        let mut sum = vec![[0f64; 3]; k];
        let mut prod = vec![[0f64; 9]; k];
        for (&l, c) in label.iter().zip(colours) {
            n[l] += 1.0;
            for i in 0..3 {
                sum[l][i] += f64::from(c[i]);
                for j in 0..3 {
                    prod[l][3 * i + j] += f64::from(c[i]) * f64::from(c[j]);
                }
            }
        }
        let total = colours.len() as f64;
        let components = (0..k)
            .filter(|&l| n[l] > 0.0)
            .filter_map(|l| {
                let mean = sum[l].map(|s| s / n[l]);
                let mut cov = [0f64; 9];
                for i in 0..3 {
                    for j in 0..3 {
                        cov[3 * i + j] = prod[l][3 * i + j] / n[l] - mean[i] * mean[j];
                    }
                    cov[4 * i] += f64::from(COVARIANCE_FLOOR);
                }
                let (inverse, det) = invert3(&cov)?;
                let weight = n[l] / total;
                Some(Component {
                    weight: weight as f32,
                    mean: mean.map(|m| m as f32),
                    inverse: inverse.map(|v| v as f32),
                    log_norm: (weight.ln() - 0.5 * det.ln()) as f32,
                })
            })
            .collect();
        ColourModel { components }
    }

    /// Whether the model has no components (fitted to nothing).
    pub fn is_empty(&self) -> bool {
        self.components.is_empty()
    }

    /// -log of the mixture density at `c`, taken as its most likely component's (the
    /// usual max approximation; it skips an exp and a log per component), without the
    /// constant 1.5 log(2 pi): only differences between models matter.
    pub fn neg_log_likelihood(&self, c: &[f32; 3]) -> f32 {
        let best = self
            .components
            .iter()
            .map(|comp| comp.log_norm - 0.5 * mahalanobis(comp, c))
            .fold(f32::NEG_INFINITY, f32::max);
        if best.is_finite() {
            -best
        } else {
            f32::MAX / 4.0
        }
    }

    fn most_likely(&self, c: &[f32; 3]) -> usize {
        let mut best = (0, f32::NEG_INFINITY);
        for (i, comp) in self.components.iter().enumerate() {
            let v = comp.log_norm - 0.5 * mahalanobis(comp, c);
            if v > best.1 {
                best = (i, v);
            }
        }
        best.0
    }

    /// Number of components.
    pub fn len(&self) -> usize {
        self.components.len()
    }

    /// Component weights (they sum to 1).
    pub fn weights(&self) -> Vec<f32> {
        self.components.iter().map(|c| c.weight).collect()
    }
}

fn nearest(centres: &[[f32; 3]], c: &[f32; 3]) -> usize {
    let mut best = (0, f32::INFINITY);
    for (i, m) in centres.iter().enumerate() {
        let d = (0..3).map(|k| (c[k] - m[k]).powi(2)).sum::<f32>();
        if d < best.1 {
            best = (i, d);
        }
    }
    best.0
}

fn mahalanobis(comp: &Component, c: &[f32; 3]) -> f32 {
    let d = [
        c[0] - comp.mean[0],
        c[1] - comp.mean[1],
        c[2] - comp.mean[2],
    ];
    let m = &comp.inverse;
    d[0] * (m[0] * d[0] + m[1] * d[1] + m[2] * d[2])
        + d[1] * (m[3] * d[0] + m[4] * d[1] + m[5] * d[2])
        + d[2] * (m[6] * d[0] + m[7] * d[1] + m[8] * d[2])
}

/// Inverse and determinant of a 3x3 matrix (row-major); `None` when singular.
fn invert3(m: &[f64; 9]) -> Option<([f64; 9], f64)> {
    let c00 = m[4] * m[8] - m[5] * m[7];
    let c01 = m[5] * m[6] - m[3] * m[8];
    let c02 = m[3] * m[7] - m[4] * m[6];
    let det = m[0] * c00 + m[1] * c01 + m[2] * c02;
    if !(det.is_finite() && det > 1e-12) {
        return None;
    }
    let inv = [
        c00 / det,
        (m[2] * m[7] - m[1] * m[8]) / det,
        (m[1] * m[5] - m[2] * m[4]) / det,
        c01 / det,
        (m[0] * m[8] - m[2] * m[6]) / det,
        (m[2] * m[3] - m[0] * m[5]) / det,
        c02 / det,
        (m[1] * m[6] - m[0] * m[7]) / det,
        (m[0] * m[4] - m[1] * m[3]) / det,
    ];
    Some((inv, det))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_times_matrix_is_identity() {
        let m = [4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0];
        let (inv, det) = invert3(&m).unwrap();
        // det by the rule of Sarrus, by hand: 24 + 0.1 + 0.1 - 0.75 - 0.16 - 2 = 21.29
        assert!((det - 21.29).abs() < 1e-9);
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| m[3 * i + k] * inv[3 * k + j]).sum();
                assert!((v - f64::from(u8::from(i == j))).abs() < 1e-12);
            }
        }
        assert!(invert3(&[1.0, 2.0, 3.0, 2.0, 4.0, 6.0, 0.0, 0.0, 1.0]).is_none());
    }

    #[test]
    fn a_colour_is_likelier_under_the_model_of_its_own_cluster() {
        let red: Vec<[f32; 3]> = (0..200)
            .map(|i| {
                [
                    200.0 + (i % 7) as f32,
                    30.0 + (i % 5) as f32,
                    20.0 + (i % 3) as f32,
                ]
            })
            .collect();
        let blue: Vec<[f32; 3]> = (0..200)
            .map(|i| {
                [
                    20.0 + (i % 3) as f32,
                    40.0 + (i % 7) as f32,
                    210.0 + (i % 5) as f32,
                ]
            })
            .collect();
        let mixed: Vec<[f32; 3]> = red.iter().chain(&blue).copied().collect();
        let r = ColourModel::fit(&red, 5);
        let b = ColourModel::fit(&blue, 5);
        let both = ColourModel::fit(&mixed, 2);
        assert!(
            r.neg_log_likelihood(&[203.0, 32.0, 21.0]) < b.neg_log_likelihood(&[203.0, 32.0, 21.0])
        );
        assert!(
            b.neg_log_likelihood(&[21.0, 43.0, 212.0]) < r.neg_log_likelihood(&[21.0, 43.0, 212.0])
        );
        // Two clusters, two components of equal weight.
        let w = both.weights();
        assert_eq!(w.len(), 2);
        assert!((w[0] - 0.5).abs() < 1e-6 && (w[1] - 0.5).abs() < 1e-6);
        // Refitting a fitted model keeps it.
        assert_eq!(both.refit(&mixed).weights(), w);
    }
}
