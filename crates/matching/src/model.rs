//! The Fellegi–Sunter model: how much each level of agreement says about a match.
//!
//! For every comparison and level, `m` is the probability of that level among pairs that are
//! the same person and `u` among pairs that are not; a pair's weight is the prior log-odds
//! plus the sum of `log2(m / u)` over its comparisons, and its match probability follows.
//! `u` comes from random pairs (almost all non-matches); `m` and the prior from expectation
//! maximisation over the candidate pairs, without labels. Exact agreements on a value are
//! adjusted by how common the value is: two records called "Lakshmi" agree by chance far more
//! often than two called "Vaishnavi".

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::compare::{Comparison, MAX_LEVELS};
use crate::record::Record;

/// How often each value of a field occurs, for term-frequency adjustments.
#[derive(Debug, Clone, Default)]
pub struct Frequencies {
    counts: FxHashMap<u64, u32>,
    total: u64,
}

impl Frequencies {
    /// Counts one occurrence of a value.
    pub fn add(&mut self, key: u64) {
        *self.counts.entry(key).or_insert(0) += 1;
        self.total += 1;
    }

    /// Merges counts gathered elsewhere.
    pub fn merge(&mut self, other: Frequencies) {
        for (k, c) in other.counts {
            *self.counts.entry(k).or_insert(0) += c;
        }
        self.total += other.total;
    }

    /// The share of records holding `key` (at least one record's worth).
    pub fn share(&self, key: u64) -> f64 {
        let count = self.counts.get(&key).copied().unwrap_or(1).max(1);
        count as f64 / self.total.max(1) as f64
    }
}

/// One comparison's parameters.
#[derive(Debug, Clone, Serialize)]
pub struct Parameters {
    pub comparison: Comparison,
    /// Probability of each level among matches (index 0, missing, unused).
    pub m: Vec<f64>,
    /// Probability of each level among non-matches.
    pub u: Vec<f64>,
}

/// A trained model.
#[derive(Debug, Clone)]
pub struct Model {
    pub parameters: Vec<Parameters>,
    /// Share of candidate pairs that are matches, before looking at them.
    pub prior: f64,
    frequencies: Vec<Option<Frequencies>>,
    weights: Vec<[f64; MAX_LEVELS]>,
    prior_weight: f64,
}

/// One query's term-frequency adjustments and bounds; see [`Model::query_weights`].
#[derive(Debug, Clone)]
pub struct QueryWeights {
    order: Vec<usize>,
    tf: Vec<f64>,
    /// `rest_upper[i]`: the most comparisons `order[i..]` can add.
    rest_upper: Vec<f64>,
}

/// A group of identical comparison patterns seen while training.
#[derive(Debug, Clone, Copy)]
pub struct PatternRow {
    /// Levels, 4 bits per comparison.
    pub pattern: u64,
    /// Comparisons whose `m` this group may inform (bit per comparison): those not used by
    /// every blocking rule that found the pairs.
    pub informs: u32,
    /// Number of pairs.
    pub count: f64,
    /// A reviewer's decision, when the pairs are labelled: 1 match, 0 non-match.
    pub label: Option<f64>,
}

/// Level of comparison `k` in a packed pattern.
pub fn level_of(pattern: u64, k: usize) -> usize {
    ((pattern >> (4 * k)) & 0xF) as usize
}

const SMOOTHING: f64 = 1e-6;

impl Model {
    /// A model with `u` from random-pair level counts (`u_counts[k][level]`) and starting
    /// guesses for `m`: strong agreement likely among matches.
    pub fn new(comparisons: &[Comparison], u_counts: &[Vec<u64>], prior: f64) -> Model {
        debug_assert!(comparisons.len() <= crate::compare::MAX_COMPARISONS);
        let parameters = comparisons
            .iter()
            .zip(u_counts)
            .map(|(c, counts)| {
                let levels = c.levels();
                let seen: u64 = counts.iter().skip(1).sum();
                let mut u = vec![0.0; levels];
                for (l, slot) in u.iter_mut().enumerate().skip(1) {
                    // Half a pair of pseudo-count: a level never met among random pairs (an
                    // exact ID number) is rare, not impossible.
                    *slot = (counts.get(l).copied().unwrap_or(0) as f64 + 0.5)
                        / (seen as f64 + 0.5 * (levels - 1) as f64);
                }
                let mut m = vec![0.0; levels];
                for (l, slot) in m.iter_mut().enumerate().skip(1) {
                    *slot = if l == levels - 1 {
                        0.05
                    } else {
                        0.5f64.powi(l as i32)
                    };
                }
                normalise(&mut m);
                Parameters {
                    comparison: *c,
                    m,
                    u,
                }
            })
            .collect();
        let mut model = Model {
            parameters,
            prior: prior.clamp(1e-9, 0.5),
            frequencies: vec![None; comparisons.len()],
            weights: Vec::new(),
            prior_weight: 0.0,
        };
        model.refresh();
        model
    }

    /// Replaces the prior (say, EM's share of matches among candidate pairs by the share among
    /// all pairs, once training is done).
    pub fn set_prior(&mut self, prior: f64) {
        self.prior = prior.clamp(1e-15, 0.999);
        self.refresh();
    }

    /// Sets the value frequencies of comparison `k` for term-frequency adjustments.
    pub fn set_frequencies(&mut self, k: usize, frequencies: Frequencies) {
        if let Some(slot) = self.frequencies.get_mut(k) {
            *slot = Some(frequencies);
        }
    }

    fn refresh(&mut self) {
        self.weights = self
            .parameters
            .iter()
            .map(|p| {
                let mut w = [0.0; MAX_LEVELS];
                for (l, (m, u)) in p.m.iter().zip(&p.u).enumerate().skip(1) {
                    w[l] = (m.max(SMOOTHING) / u.max(SMOOTHING * SMOOTHING)).log2();
                }
                w
            })
            .collect();
        self.prior_weight = (self.prior / (1.0 - self.prior)).log2();
    }

    /// The comparisons, in pattern order.
    pub fn comparisons(&self) -> impl Iterator<Item = Comparison> + '_ {
        self.parameters.iter().map(|p| p.comparison)
    }

    /// The packed levels of a pair.
    pub fn pattern(&self, a: &Record, b: &Record) -> u64 {
        self.parameters
            .iter()
            .enumerate()
            .fold(0u64, |acc, (k, p)| {
                acc | u64::from(p.comparison.level(a, b)) << (4 * k)
            })
    }

    /// The pair's total weight (log2 of the posterior odds).
    pub fn weight(&self, a: &Record, b: &Record) -> f64 {
        let mut w = self.prior_weight;
        for (k, p) in self.parameters.iter().enumerate() {
            let l = p.comparison.level(a, b) as usize;
            if l == 0 {
                continue;
            }
            w += self.weights[k][l];
            if l == 1 {
                w += self.frequency_adjustment(k, a);
            }
        }
        w
    }

    /// What the model needs of one query to score many candidates against it: its
    /// term-frequency adjustments (they depend on the query's values only) and, per
    /// comparison, the most a candidate can add, so that [`Model::weight_above`] can drop a
    /// candidate as soon as it cannot reach a floor.
    pub fn query_weights(&self, a: &Record) -> QueryWeights {
        let n = self.parameters.len();
        let tf: Vec<f64> = (0..n).map(|k| self.frequency_adjustment(k, a)).collect();
        // Cheap comparisons first, names last: a candidate whose date of birth, gender or
        // place already rule it out never has its names compared.
        let cost = |c: Comparison| match c {
            Comparison::IdNumber | Comparison::Gender | Comparison::BirthDate => 0,
            Comparison::Phone | Comparison::Email | Comparison::Place => 1,
            Comparison::Address => 2,
            Comparison::RelativeName => 3,
            Comparison::Name => 4,
        };
        let mut order: Vec<usize> = (0..n)
            .filter(|k| self.parameters[*k].comparison.present(a))
            .collect();
        order.sort_by_key(|k| cost(self.parameters[*k].comparison));
        let upper = |k: usize| {
            (1..self.parameters[k].m.len())
                .map(|l| self.weights[k][l] + if l == 1 { tf[k] } else { 0.0 })
                .fold(0.0f64, f64::max)
        };
        let mut rest_upper = vec![0.0; order.len() + 1];
        for i in (0..order.len()).rev() {
            rest_upper[i] = rest_upper[i + 1] + upper(order[i]);
        }
        QueryWeights {
            order,
            tf,
            rest_upper,
        }
    }

    /// The weight of the pair, as [`Model::weight`] gives it, or `None` as soon as it is
    /// certain not to reach `floor`.
    pub fn weight_above(
        &self,
        q: &QueryWeights,
        a: &Record,
        b: &Record,
        floor: f64,
    ) -> Option<f64> {
        let mut w = self.prior_weight;
        for (i, &k) in q.order.iter().enumerate() {
            if w + q.rest_upper[i] < floor {
                return None;
            }
            let l = self.parameters[k].comparison.level(a, b) as usize;
            if l == 0 {
                continue;
            }
            w += self.weights[k][l];
            if l == 1 {
                w += q.tf[k];
            }
        }
        (w >= floor).then_some(w)
    }

    fn frequency_adjustment(&self, k: usize, a: &Record) -> f64 {
        match (
            &self.frequencies[k],
            self.parameters[k].comparison.frequency_key(a),
        ) {
            (Some(f), Some(key)) => (self.parameters[k].u[1] / f.share(key)).log2(),
            _ => 0.0,
        }
    }

    /// Estimates `m` from the pairs that agree exactly on comparison `anchor` (an ID
    /// number), which are nearly all the same person: for every other comparison, how often
    /// each level occurs among them is its `m` (records that lack the number are no
    /// different in how their names are spelt). Reviewers' matches count with them. Then the
    /// anchor's own `m` from pairs judged on everything but the anchor, and the prior.
    ///
    /// Plain EM over welfare data tends to settle on the wrong split: siblings and
    /// neighbours share a village, a pincode and a father's name, and EM can take them for
    /// matches and drift from there. Pairs tied by an ID number are evidence it cannot
    /// argue with. Returns false, changing nothing, with fewer than `min_pairs` such pairs.
    pub fn fit_from_anchor(&mut self, rows: &[PatternRow], anchor: usize, min_pairs: f64) -> bool {
        let n = self.parameters.len();
        let mut counts: Vec<[f64; MAX_LEVELS]> = vec![[0.0; MAX_LEVELS]; n];
        let (mut agreeing, mut both_present) = (0.0, 0.0);
        for row in rows {
            let a = level_of(row.pattern, anchor);
            if row.label.is_none() && a != 0 {
                both_present += row.count;
            }
            let is_match = match row.label {
                Some(label) => label >= 0.5,
                None => a == 1,
            };
            if !is_match {
                continue;
            }
            agreeing += row.count;
            for (k, c) in counts.iter_mut().enumerate() {
                c[level_of(row.pattern, k)] += row.count;
            }
        }
        if agreeing < min_pairs {
            return false;
        }
        for (k, p) in self.parameters.iter_mut().enumerate() {
            let levels = p.m.len();
            if k == anchor {
                // The anchor's own m cannot be read off pairs chosen for agreeing on it.
                for (l, m) in p.m.iter_mut().enumerate().skip(1) {
                    *m = if l == 1 {
                        0.9
                    } else {
                        0.1 / (levels - 2).max(1) as f64
                    };
                }
                continue;
            }
            let seen: f64 = counts[k][1..levels].iter().sum();
            if seen <= 0.0 {
                continue;
            }
            for (l, m) in p.m.iter_mut().enumerate().skip(1) {
                // A little mass on every level: a level no anchored pair showed is still
                // possible among matches.
                *m = (counts[k][l] + 0.5) / (seen + 0.5 * (levels - 1) as f64);
            }
        }
        if both_present > 0.0 {
            self.prior = (agreeing / both_present).clamp(1e-6, 0.5);
        }
        self.refresh();

        // The anchor's m: posteriors from the other comparisons only, over pairs holding
        // the anchor on both sides.
        // Only pairs the rest calls near-certain count: the many family members who share
        // a village and a father's name would otherwise lend the anchor's "different" level
        // a weight among matches it does not have.
        let mut anchor_mass = [0.0; MAX_LEVELS];
        for row in rows.iter().filter(|r| r.label.is_none()) {
            let a = level_of(row.pattern, anchor);
            if a != 0 && probability(self.log_odds(row.pattern, Some(anchor))) >= 0.99 {
                anchor_mass[a] += row.count;
            }
        }
        let p = &mut self.parameters[anchor];
        let levels = p.m.len();
        let total: f64 = anchor_mass[1..levels].iter().sum();
        if total > 0.0 {
            for (l, m) in p.m.iter_mut().enumerate().skip(1) {
                *m = (anchor_mass[l] + 0.5) / (total + 0.5 * (levels - 1) as f64);
            }
        }
        self.refresh();

        // The prior among candidates: one expectation step with everything known.
        let (mut matched, mut total) = (0.0, 0.0);
        for row in rows.iter().filter(|r| r.label.is_none()) {
            matched += probability(self.log_odds(row.pattern, None)) * row.count;
            total += row.count;
        }
        if total > 0.0 {
            self.prior = (matched / total).clamp(1e-9, 0.999);
        }
        self.refresh();
        true
    }

    /// Log-odds of a pattern (without frequency adjustments), optionally leaving one
    /// comparison out.
    fn log_odds(&self, pattern: u64, without: Option<usize>) -> f64 {
        let mut w = self.prior_weight;
        for (k, weights) in self.weights.iter().enumerate() {
            let l = level_of(pattern, k);
            if l != 0 && Some(k) != without {
                w += weights[l];
            }
        }
        w
    }

    /// Expectation maximisation of `m` and the prior over grouped candidate patterns; `u`
    /// stays as random sampling found it. Labelled rows keep their label as the posterior.
    /// Returns the number of iterations run.
    pub fn train(&mut self, rows: &[PatternRow], max_iterations: usize) -> usize {
        let n = self.parameters.len();
        for iteration in 1..=max_iterations {
            let mut numerators: Vec<[f64; MAX_LEVELS]> = vec![[0.0; MAX_LEVELS]; n];
            let mut matched = 0.0;
            let mut total = 0.0;
            for row in rows {
                let posterior = match row.label {
                    Some(label) => label,
                    None => probability(self.log_odds(row.pattern, None)),
                };
                let mass = posterior * row.count;
                if row.label.is_none() {
                    matched += mass;
                    total += row.count;
                }
                for (k, numerator) in numerators.iter_mut().enumerate() {
                    let l = level_of(row.pattern, k);
                    if l != 0 && row.informs & (1 << k) != 0 {
                        numerator[l] += mass;
                    }
                }
            }
            let mut change: f64 = 0.0;
            for (p, numerator) in self.parameters.iter_mut().zip(&numerators) {
                let sum: f64 = numerator[1..p.m.len()].iter().sum();
                if sum <= 0.0 {
                    continue;
                }
                let levels = p.m.len() as f64;
                for (m, n) in p.m.iter_mut().zip(numerator).skip(1) {
                    let next = (n + SMOOTHING) / (sum + SMOOTHING * levels);
                    change = change.max((next - *m).abs());
                    *m = next;
                }
            }
            if total > 0.0 {
                let next = (matched / total).clamp(1e-9, 0.999);
                change = change.max((next - self.prior).abs());
                self.prior = next;
            }
            self.refresh();
            if change < 1e-5 {
                return iteration;
            }
        }
        max_iterations
    }

    /// Each comparison's contribution to a pair's weight, in order: the waterfall.
    pub fn explain(&self, a: &Record, b: &Record) -> Explanation {
        let mut cumulative = self.prior_weight;
        let mut steps = Vec::new();
        for (k, p) in self.parameters.iter().enumerate() {
            let l = p.comparison.level(a, b) as usize;
            let (weight, adjustment) = if l == 0 {
                (0.0, 0.0)
            } else {
                let adj = if l == 1 {
                    self.frequency_adjustment(k, a)
                } else {
                    0.0
                };
                (self.weights[k][l], adj)
            };
            cumulative += weight + adjustment;
            steps.push(Step {
                comparison: p.comparison.name(),
                level: l as u8,
                label: p.comparison.labels()[l],
                left: p.comparison.display(a),
                right: p.comparison.display(b),
                m: p.m[l],
                u: p.u[l],
                weight,
                frequency_adjustment: adjustment,
                cumulative,
            });
        }
        Explanation {
            prior_weight: self.prior_weight,
            steps,
            weight: cumulative,
            probability: probability(cumulative),
        }
    }
}

/// Probability from log2 odds.
pub fn probability(weight: f64) -> f64 {
    1.0 / (1.0 + (-weight).exp2())
}

/// Log2 odds from a probability.
pub fn weight_of(probability: f64) -> f64 {
    let p = probability.clamp(1e-12, 1.0 - 1e-12);
    (p / (1.0 - p)).log2()
}

fn normalise(v: &mut [f64]) {
    let sum: f64 = v.iter().skip(1).sum();
    if sum > 0.0 {
        for x in v.iter_mut().skip(1) {
            *x /= sum;
        }
    }
}

/// Why a pair got its probability: each comparison's level and weight.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// Log2 odds before any comparison.
    pub prior_weight: f64,
    pub steps: Vec<Step>,
    /// Final log2 odds.
    pub weight: f64,
    pub probability: f64,
}

/// One comparison in an explanation.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub comparison: &'static str,
    pub level: u8,
    pub label: &'static str,
    /// The first record's value as compared (ID and phone numbers masked).
    pub left: Option<String>,
    pub right: Option<String>,
    pub m: f64,
    pub u: f64,
    /// log2(m / u); 0 when a value is missing.
    pub weight: f64,
    /// Added for how common the agreeing value is.
    pub frequency_adjustment: f64,
    /// Log2 odds after this step.
    pub cumulative: f64,
}

impl Explanation {
    /// The waterfall as a plain-text table.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{:<15} {:<44} {:>22} {:>22} {:>8} {:>8}\n",
            "comparison", "level", "left", "right", "weight", "total"
        );
        out.push_str(&format!(
            "{:<15} {:<44} {:>22} {:>22} {:>8} {:>8.2}\n",
            "prior", "", "", "", "", self.prior_weight
        ));
        for s in &self.steps {
            let weight = s.weight + s.frequency_adjustment;
            out.push_str(&format!(
                "{:<15} {:<44} {:>22} {:>22} {:>+8.2} {:>8.2}\n",
                s.comparison,
                clip(s.label, 44),
                clip(s.left.as_deref().unwrap_or("-"), 22),
                clip(s.right.as_deref().unwrap_or("-"), 22),
                weight,
                s.cumulative
            ));
        }
        out.push_str(&format!(
            "match probability {:.6} (log2 odds {:.2})\n",
            self.probability, self.weight
        ));
        out
    }
}

fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        let mut c: String = s.chars().take(width.saturating_sub(1)).collect();
        c.push('…');
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn em_separates_matches_from_non_matches_without_labels() {
        // Two comparisons with levels exact(1)/different(last). Matches agree on both;
        // non-matches mostly disagree.
        let comparisons = [Comparison::Gender, Comparison::IdNumber];
        let u_counts = vec![vec![0, 50, 50], vec![0, 1, 0, 999]];
        let mut model = Model::new(&comparisons, &u_counts, 0.1);
        let all = 0b11;
        let rows = [
            PatternRow {
                pattern: 1 | 1 << 4,
                informs: all,
                count: 100.0,
                label: None,
            },
            PatternRow {
                pattern: 2 | 3 << 4,
                informs: all,
                count: 450.0,
                label: None,
            },
            PatternRow {
                pattern: 1 | 3 << 4,
                informs: all,
                count: 450.0,
                label: None,
            },
        ];
        model.train(&rows, 200);
        assert!((model.prior - 0.1).abs() < 0.02, "prior {}", model.prior);
        let id = &model.parameters[1];
        assert!(id.m[1] > 0.95, "exact ID among matches: {}", id.m[1]);
        assert!(model.weights[1][1] > 5.0 && model.weights[1][3] < -3.0);
    }

    #[test]
    fn labels_fix_the_posterior_of_their_rows() {
        let comparisons = [Comparison::Gender];
        let mut model = Model::new(&comparisons, &[vec![0, 50, 50]], 0.5);
        let rows = [
            PatternRow {
                pattern: 1,
                informs: 1,
                count: 10.0,
                label: Some(1.0),
            },
            PatternRow {
                pattern: 2,
                informs: 1,
                count: 10.0,
                label: Some(0.0),
            },
        ];
        model.train(&rows, 10);
        assert!(model.parameters[0].m[1] > 0.99);
    }
}
