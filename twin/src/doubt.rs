//! Doubt about alerted nodes: the ensemble's belief that each is compromised, carried
//! into its estimates and forecasts as a probability rather than as one member's draw.
//!
//! Each member decides an alert on a node it holds clean by one draw from its own
//! posterior (the alert was the attacker, or a false alarm), and resampling soon leaves
//! the members one lineage, one draw. Once an outbreak was isolated the members then
//! agreed on a count with an interval of zero width, off by the few false alarms that
//! lineage had taken for compromises (or the few compromises it had taken for false
//! alarms), and 80 % forecast intervals held the truth in 1–3 of 18 cycles. The
//! ensemble now keeps, per alerted node, the weighted mean of the members' posteriors at
//! the alert's tick, before any resampling ([`Doubt`]); a count counts each node still in
//! doubt as an independent Bernoulli draw of its belief — a Poisson-binomial ([`Pmf`]) —
//! in place of what the member drew, and quantiles come from the mixture over the members
//! ([`mixture_quantile`]). A node leaves the doubt when the network settles it (released
//! and rebuilt, found clean, confirmed compromised, removed or added again); in a
//! forecast, when the member rebuilds it.

use std::collections::BTreeMap;
use std::sync::Arc;

use paraverse_lab::stats::predictive_level;

/// The ensemble's belief that each alerted node is compromised, for the nodes where it is
/// in doubt (strictly between [`Doubt::SURE`] and 1 − it).
#[derive(Debug, Clone, Default)]
pub struct Doubt {
    belief: BTreeMap<u32, f64>,
    /// The distribution of the number of doubtful nodes compromised, while the beliefs
    /// stay as they are.
    cached: Option<Arc<Pmf>>,
}

impl Doubt {
    /// Beliefs this close to 0 or 1 are taken as certain.
    pub const SURE: f64 = 1e-9;

    /// Sets a node's belief (a certain one leaves the doubt).
    pub fn set(&mut self, node: u32, belief: f64) {
        let doubtful = belief > Self::SURE && belief < 1.0 - Self::SURE;
        let changed = if doubtful {
            self.belief.insert(node, belief) != Some(belief)
        } else {
            self.belief.remove(&node).is_some()
        };
        if changed {
            self.cached = None;
        }
    }

    /// The network settled the node: no doubt is left.
    pub fn settle(&mut self, node: u32) {
        if self.belief.remove(&node).is_some() {
            self.cached = None;
        }
    }

    /// The doubtful nodes and their beliefs, in node order.
    pub fn nodes(&self) -> Vec<(u32, f64)> {
        self.belief.iter().map(|(&n, &b)| (n, b)).collect()
    }

    /// How many doubtful nodes are compromised: the Poisson-binomial of the beliefs.
    pub fn distribution(&mut self) -> Arc<Pmf> {
        let belief = &self.belief;
        self.cached
            .get_or_insert_with(|| {
                let beliefs: Vec<f64> = belief.values().copied().collect();
                Arc::new(Pmf::poisson_binomial(&beliefs))
            })
            .clone()
    }
}

/// A distribution on 0, 1, 2, …: `p[k]` is the probability of k.
#[derive(Debug, Clone, PartialEq)]
pub struct Pmf {
    p: Vec<f64>,
    /// `cdf[k]`: the probability of at most k.
    cdf: Vec<f64>,
}

impl Pmf {
    /// Zero, surely.
    pub fn certain() -> Self {
        Self::from_probabilities(vec![1.0])
    }

    fn from_probabilities(p: Vec<f64>) -> Self {
        let mut acc = 0.0;
        let cdf = p
            .iter()
            .map(|x| {
                acc += x;
                acc
            })
            .collect();
        Self { p, cdf }
    }

    /// The number of successes among independent trials of probabilities `beliefs`, by
    /// the textbook recurrence (exact; quadratic in the trials, which are the nodes in
    /// doubt: tens to hundreds).
    pub fn poisson_binomial(beliefs: &[f64]) -> Self {
        let mut pmf = vec![0.0; beliefs.len() + 1];
        pmf[0] = 1.0;
        for (i, &b) in beliefs.iter().enumerate() {
            for k in (1..=i + 1).rev() {
                pmf[k] = pmf[k] * (1.0 - b) + pmf[k - 1] * b;
            }
            pmf[0] *= 1.0 - b;
        }
        Self::from_probabilities(pmf)
    }

    /// Whether it is zero surely.
    pub fn is_certain(&self) -> bool {
        self.p.len() == 1
    }

    /// The mean.
    pub fn mean(&self) -> f64 {
        self.p.iter().enumerate().map(|(k, p)| k as f64 * p).sum()
    }

    /// The variance.
    pub fn variance(&self) -> f64 {
        let mean = self.mean();
        self.p
            .iter()
            .enumerate()
            .map(|(k, p)| (k as f64 - mean) * (k as f64 - mean) * p)
            .sum()
    }

    /// The largest value it can take.
    fn max(&self) -> u64 {
        self.p.len().saturating_sub(1) as u64
    }

    /// P(value ≤ k).
    fn at_most(&self, k: u64) -> f64 {
        self.cdf.get(k as usize).copied().unwrap_or(1.0)
    }
}

/// The `q` quantile (the smallest count whose distribution function reaches `q`) of a
/// mixture whose part `(base, extra, weight)` is `base` plus a draw of `extra`, with that
/// weight (weights summing to 1).
pub fn mixture_quantile(parts: &[(u64, &Pmf, f64)], q: f64) -> f64 {
    let cdf = |x: u64| -> f64 {
        parts
            .iter()
            .filter(|(base, _, _)| *base <= x)
            .map(|&(base, extra, w)| w * extra.at_most(x - base))
            .sum()
    };
    let mut lo = parts.iter().map(|p| p.0).min().unwrap_or(0);
    let mut hi = parts.iter().map(|p| p.0 + p.1.max()).max().unwrap_or(0);
    // Bisection on the distribution function; the tolerance absorbs rounding in weights
    // that should sum to 1.
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if cdf(mid) >= q - 1e-12 {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo as f64
}

/// The level at which to invert the mixture of `parts` (a forecast's members, equally
/// weighted) for the `p` quantile of one more member's count.
///
/// The members are a finite sample of the futures: where their parts are certain counts
/// that differ, the mixture is their sample and one more member's quantile sits at
/// [`predictive_level`]; where every member holds the same distribution, the mixture is
/// that distribution, known exactly, and `p` is right. In between, the share of the
/// mixture's variance that lies between the members' means moves the level from one to the
/// other.
pub fn predictive_mixture_level(parts: &[(u64, &Pmf, f64)], p: f64) -> f64 {
    let n = parts.len();
    if n < 2 {
        return p;
    }
    let means: Vec<f64> = parts.iter().map(|(b, e, _)| *b as f64 + e.mean()).collect();
    let mean = means.iter().sum::<f64>() / n as f64;
    let between = means.iter().map(|m| (m - mean) * (m - mean)).sum::<f64>() / n as f64;
    let within = parts.iter().map(|(_, e, _)| e.variance()).sum::<f64>() / n as f64;
    if between + within <= 0.0 {
        return p;
    }
    p + between / (between + within) * (predictive_level(p, n) - p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_poisson_binomial_is_exact_on_small_cases() {
        let pmf = Pmf::poisson_binomial(&[0.5, 0.5]);
        assert_eq!(pmf.p, vec![0.25, 0.5, 0.25]);
        let pmf = Pmf::poisson_binomial(&[0.1, 0.2, 0.3]);
        // P(0) = .9 × .8 × .7; P(3) = .1 × .2 × .3; the mean is the sum of the beliefs.
        assert!((pmf.p[0] - 0.504).abs() < 1e-12);
        assert!((pmf.p[3] - 0.006).abs() < 1e-12);
        assert!((pmf.mean() - 0.6).abs() < 1e-12);
        assert!((pmf.at_most(3) - 1.0).abs() < 1e-12);
        assert!(Pmf::poisson_binomial(&[]).is_certain());
    }

    #[test]
    fn a_mixture_quantile_adds_the_doubt_to_each_part() {
        let none = Pmf::certain();
        // Two members at 10 and 20, no doubt: the quantiles are theirs.
        let parts = [(10, &none, 0.5), (20, &none, 0.5)];
        assert_eq!(mixture_quantile(&parts, 0.05), 10.0);
        assert_eq!(mixture_quantile(&parts, 0.5), 10.0);
        assert_eq!(mixture_quantile(&parts, 0.95), 20.0);
        // One member at 100 and four nodes in doubt at 0.9 each: 100 + Bin(4, 0.9).
        // P(≤ 102) = 1 − P(3) − P(4) = 1 − 0.2916 − 0.6561 = 0.0523.
        let doubt = Pmf::poisson_binomial(&[0.9; 4]);
        let parts = [(100, &doubt, 1.0)];
        assert_eq!(mixture_quantile(&parts, 0.05), 102.0);
        assert_eq!(mixture_quantile(&parts, 0.06), 103.0);
        assert_eq!(mixture_quantile(&parts, 0.95), 104.0);
    }

    #[test]
    fn the_mixture_level_corrects_for_the_members_only_as_far_as_they_differ() {
        let none = Pmf::certain();
        let doubt = Pmf::poisson_binomial(&[0.5; 4]);
        // Sixteen certain counts that differ: a sample, one more member's level.
        let parts: Vec<(u64, &Pmf, f64)> = (0..16).map(|i| (10 + i, &none, 1.0 / 16.0)).collect();
        assert!((predictive_mixture_level(&parts, 0.1) - predictive_level(0.1, 16)).abs() < 1e-12);
        assert!((predictive_mixture_level(&parts, 0.9) - predictive_level(0.9, 16)).abs() < 1e-12);
        // Members that agree on a count and a doubt: that distribution, as it is.
        let parts: Vec<(u64, &Pmf, f64)> = (0..16).map(|_| (10, &doubt, 1.0 / 16.0)).collect();
        assert_eq!(predictive_mixture_level(&parts, 0.9), 0.9);
        // One member: its own distribution.
        assert_eq!(predictive_mixture_level(&[(10, &none, 1.0)], 0.1), 0.1);
        // Counts 10 and 12 (between-member variance 1), each with Bin(4, ½) (variance 1):
        // half-way.
        let parts = [(10, &doubt, 0.5), (12, &doubt, 0.5)];
        let half = 0.9 + 0.5 * (predictive_level(0.9, 2) - 0.9);
        assert!((predictive_mixture_level(&parts, 0.9) - half).abs() < 1e-12);
    }

    #[test]
    fn doubt_is_kept_only_while_uncertain_and_unsettled() {
        let mut d = Doubt::default();
        d.set(3, 0.5);
        d.set(1, 1.0);
        d.set(2, 0.0);
        d.set(4, 0.99);
        assert_eq!(d.nodes(), vec![(3, 0.5), (4, 0.99)]);
        assert!((d.distribution().mean() - 1.49).abs() < 1e-12);
        d.settle(3);
        d.set(4, 1.0);
        assert!(d.nodes().is_empty());
        assert!(d.distribution().is_certain());
    }
}
