//! Error rates of a verifier from labelled comparisons: false-match and false-non-match rates at
//! a threshold, the threshold for a target false-match rate, the equal-error rate, the DET curve,
//! histograms, and the operating points a calibration is built from. A score at or above the
//! threshold is a match. Pure functions over score lists; `vigil eval` feeds them.

use serde::Serialize;

/// Scores of genuine (same person) and impostor (different people) comparisons, each sorted
/// ascending.
#[derive(Debug, Clone, Default)]
pub struct Scores {
    genuine: Vec<f64>,
    impostor: Vec<f64>,
}

/// The rates at one threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rates {
    pub threshold: f64,
    /// Impostor comparisons at or above the threshold, over all impostor comparisons.
    pub fmr: f64,
    /// Genuine comparisons below the threshold, over all genuine comparisons.
    pub fnmr: f64,
}

/// Normal distribution moments of the impostor scores, for tails the data cannot reach.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Moments {
    pub mean: f64,
    pub sd: f64,
}

/// How an operating point was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Read off the impostor scores: at least ten impostors lie above it.
    Empirical,
    /// Beyond what the impostor scores show: a normal tail fitted to them, never below the
    /// highest impostor score seen (so it never claims less than the data).
    Extrapolated,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    pub fmr: f64,
    pub threshold: f64,
    pub method: Method,
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.retain(|x| x.is_finite());
    v.sort_by(f64::total_cmp);
    v
}

/// How many of the ascending `v` are at or above `t`.
fn at_or_above(v: &[f64], t: f64) -> usize {
    v.len() - v.partition_point(|&x| x < t)
}

impl Scores {
    pub fn new(genuine: Vec<f64>, impostor: Vec<f64>) -> Scores {
        Scores { genuine: sorted(genuine), impostor: sorted(impostor) }
    }

    pub fn genuine(&self) -> &[f64] {
        &self.genuine
    }

    pub fn impostor(&self) -> &[f64] {
        &self.impostor
    }

    /// The rates at `t`; a side with no comparisons has rate 0.
    pub fn rates(&self, t: f64) -> Rates {
        let frac = |n: usize, of: usize| if of == 0 { 0.0 } else { n as f64 / of as f64 };
        Rates {
            threshold: t,
            fmr: frac(at_or_above(&self.impostor, t), self.impostor.len()),
            fnmr: frac(self.genuine.len() - at_or_above(&self.genuine, t), self.genuine.len()),
        }
    }

    /// The lowest threshold whose empirical false-match rate is at most `target`: just above the
    /// impostor score that would make it exceed the target.
    pub fn threshold_for_fmr(&self, target: f64) -> Option<f64> {
        let n = self.impostor.len();
        if n == 0 {
            return None;
        }
        let allowed = (target * n as f64).floor() as usize;
        if allowed >= n {
            return Some(self.impostor[0]);
        }
        // The (allowed + 1)-th highest impostor must fall below the threshold.
        let v = self.impostor[n - 1 - allowed];
        Some(next_up(v))
    }

    /// The equal-error rate and its threshold: where FMR and FNMR cross, taken over every score
    /// as a candidate threshold (the mean of the two rates where they are closest).
    pub fn eer(&self) -> Option<Rates> {
        if self.genuine.is_empty() || self.impostor.is_empty() {
            return None;
        }
        let mut best: Option<Rates> = None;
        for &t in self.genuine.iter().chain(&self.impostor).chain(std::iter::once(&f64::INFINITY)) {
            let r = self.rates(t);
            if best.is_none_or(|b| (r.fmr - r.fnmr).abs() < (b.fmr - b.fnmr).abs()) {
                best = Some(r);
            }
        }
        best.map(|b| {
            let e = (b.fmr + b.fnmr) / 2.0;
            Rates { threshold: b.threshold, fmr: e, fnmr: e }
        })
    }

    /// The DET curve: (FMR, FNMR) at every distinct score, from the lowest threshold up.
    pub fn det(&self) -> Vec<Rates> {
        let mut ts: Vec<f64> = self.genuine.iter().chain(&self.impostor).copied().collect();
        ts.sort_by(f64::total_cmp);
        ts.dedup();
        ts.push(f64::INFINITY);
        ts.into_iter().map(|t| self.rates(t)).collect()
    }

    /// Mean and standard deviation of the impostor scores (`None` under two scores).
    pub fn impostor_moments(&self) -> Option<Moments> {
        let n = self.impostor.len();
        if n < 2 {
            return None;
        }
        let mean = self.impostor.iter().sum::<f64>() / n as f64;
        let var = self.impostor.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
        Some(Moments { mean, sd: var.sqrt() })
    }

    /// The threshold for a false-match rate of `fmr`: read off the data when at least ten
    /// impostor scores lie above it, otherwise extrapolated (see [`Method::Extrapolated`]).
    pub fn estimate(&self, fmr: f64) -> Option<Estimate> {
        let n = self.impostor.len();
        let empirical = self.threshold_for_fmr(fmr)?;
        if fmr * n as f64 >= 10.0 {
            return Some(Estimate { fmr, threshold: empirical, method: Method::Empirical });
        }
        let m = self.impostor_moments()?;
        let normal = m.mean + m.sd * inverse_normal_upper(fmr);
        Some(Estimate { fmr, threshold: normal.max(empirical), method: Method::Extrapolated })
    }
}

/// The smallest f64 above `v` (scores tie at equal values; a threshold just above one excludes it).
fn next_up(v: f64) -> f64 {
    if v.is_nan() || v == f64::INFINITY {
        return v;
    }
    let bits = v.to_bits();
    let next = if v == 0.0 {
        1
    } else if v > 0.0 {
        bits + 1
    } else {
        bits - 1
    };
    f64::from_bits(next)
}

/// z such that P(Z ≥ z) = p for a standard normal Z, for p in (0, 1) (Acklam's rational
/// approximation, relative error under 1.2e-9).
pub fn inverse_normal_upper(p: f64) -> f64 {
    -inverse_normal_cdf(p)
}

fn inverse_normal_cdf(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.38357751867269e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] =
        [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// Counts per bin of `values` over [lo, hi) in `bins` equal bins (values outside go to the end
/// bins).
pub fn histogram(values: &[f64], lo: f64, hi: f64, bins: usize) -> Vec<usize> {
    let mut out = vec![0; bins.max(1)];
    let width = (hi - lo) / out.len() as f64;
    for &v in values {
        let i = ((v - lo) / width).floor();
        let i = if i.is_nan() { 0 } else { i.clamp(0.0, (out.len() - 1) as f64) as usize };
        out[i] += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores() -> Scores {
        // Ten genuine in [0.5, 0.95], a hundred impostors in [0, 0.495].
        Scores::new(
            (0..10).map(|i| 0.5 + 0.05 * f64::from(i)).collect(),
            (0..100).map(|i| 0.005 * f64::from(i)).collect(),
        )
    }

    #[test]
    fn rates_count_at_or_above_as_a_match() {
        let s = scores();
        let r = s.rates(0.5);
        assert_eq!((r.fmr, r.fnmr), (0.0, 0.0));
        let r = s.rates(0.45);
        assert_eq!(r.fmr, 0.1, "impostors 0.45 … 0.495 match");
        let r = s.rates(0.6);
        assert_eq!(r.fnmr, 0.2, "genuine 0.5 and 0.55 miss");
    }

    #[test]
    fn threshold_for_a_target_fmr_is_the_lowest_that_meets_it() {
        let s = scores();
        let t = s.threshold_for_fmr(0.05).unwrap();
        assert!(s.rates(t).fmr <= 0.05);
        assert!(t > 0.47 && t < 0.4701, "just above the 6th highest impostor (0.47): {t}");
        assert!(s.rates(t - 1e-9).fmr > 0.05, "any lower misses the target");
        let t0 = s.threshold_for_fmr(0.0).unwrap();
        assert_eq!(s.rates(t0).fmr, 0.0);
        assert!(t0 > 0.495);
    }

    #[test]
    fn eer_where_rates_cross() {
        let s = Scores::new(vec![0.3, 0.6, 0.7, 0.8], vec![0.1, 0.2, 0.4, 0.5]);
        let e = s.eer().unwrap();
        assert_eq!(e.fmr, 0.25, "{e:?}");
        let separated = scores().eer().unwrap();
        assert_eq!(separated.fmr, 0.0);
    }

    #[test]
    fn det_runs_from_all_match_to_none() {
        let d = scores().det();
        assert_eq!((d[0].fmr, d[0].fnmr), (1.0, 0.0));
        let last = d.last().unwrap();
        assert_eq!((last.fmr, last.fnmr), (0.0, 1.0));
        assert!(d.windows(2).all(|w| w[1].fmr <= w[0].fmr && w[1].fnmr >= w[0].fnmr));
    }

    #[test]
    fn estimates_are_empirical_where_the_data_reaches_and_never_below_it() {
        let s = scores();
        let e = s.estimate(0.1).unwrap();
        assert_eq!(e.method, Method::Empirical);
        let e = s.estimate(1e-4).unwrap();
        assert_eq!(e.method, Method::Extrapolated);
        assert!(e.threshold > 0.495, "never below the highest impostor: {e:?}");
        let m = s.impostor_moments().unwrap();
        assert!((m.mean - 0.2475).abs() < 1e-9);
    }

    #[test]
    fn inverse_normal_matches_tables() {
        for (p, z) in [(0.5, 0.0), (1e-2, 2.326_347_874), (1e-3, 3.090_232_306), (1e-4, 3.719_016_485)] {
            assert!((inverse_normal_upper(p) - z).abs() < 1e-6, "{p}: {}", inverse_normal_upper(p));
        }
    }

    #[test]
    fn histogram_bins_everything() {
        let h = histogram(&[-1.0, 0.0, 0.25, 0.5, 0.99, 2.0], 0.0, 1.0, 4);
        assert_eq!(h, vec![2, 1, 1, 2]);
    }
}
