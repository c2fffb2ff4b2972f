//! The engine: trains a model on the data it is given and finds the same people in it.
//!
//! Two tasks share one path. To *link* a file of queries (a scheme's beneficiaries) to a
//! file of targets (the base registry), the targets are indexed by their blocking keys and
//! every query looks up its candidates; a query links to its best candidate when that one's
//! probability reaches the threshold. To *de-duplicate* one file, it is both the queries and
//! the targets, each pair is scored once, and every pair above the threshold counts. Pairs
//! are never all held at once: memory grows with the records and the accepted pairs only.

use std::sync::atomic::{AtomicU32, Ordering};

use chrono::NaiveDate;
use rand::{Rng, SeedableRng, seq::SliceRandom};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::blocking::{BlockIndex, Rule, candidates, choose_rules};
use crate::cluster::Clusters;
use crate::compare::{Comparison, MAX_COMPARISONS};
use crate::error::MatchError;
use crate::model::{Explanation, Frequencies, Model, PatternRow, probability, weight_of};
use crate::record::{PLACE_ROLES, Record};
use crate::roles::Role;

/// Knobs of a run; the defaults suit welfare data from a few thousand to a few million rows.
#[derive(Debug, Clone)]
pub struct Options {
    /// Match probability at or above which a pair is accepted.
    pub threshold: f64,
    /// The day ages in the data were declared on.
    pub reference_date: NaiveDate,
    /// Keys held by more target records than this are not used for blocking.
    pub max_block: usize,
    /// Random pairs drawn to estimate `u`.
    pub u_sample_pairs: usize,
    /// Candidate pairs drawn to estimate `m` and the prior.
    pub em_sample_pairs: usize,
    /// Most EM iterations.
    pub em_iterations: usize,
    /// Seed for the random samples: the same data and seed give the same result.
    pub seed: u64,
    /// Which ID numbers keep two records apart whatever else agrees.
    pub id_policy: IdPolicy,
}

/// Which ID numbers the clustering treats as proof that two records are different people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdPolicy {
    /// Numbers with a valid check digit (Aadhaar); other identifiers are evidence only.
    #[default]
    Checked,
    /// Every ID number, whatever its form.
    Strict,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            threshold: 0.5,
            reference_date: chrono::Local::now().date_naive(),
            max_block: 1_000,
            u_sample_pairs: 1_000_000,
            em_sample_pairs: 2_000_000,
            em_iterations: 50,
            seed: 42,
            id_policy: IdPolicy::Checked,
        }
    }
}

/// What a task matches: one set of records against itself, or queries against targets.
#[derive(Debug, Clone, Copy)]
pub enum Task<'a> {
    Dedupe(&'a [Record]),
    Link {
        queries: &'a [Record],
        targets: &'a [Record],
    },
}

impl<'a> Task<'a> {
    fn queries(&self) -> &'a [Record] {
        match self {
            Task::Dedupe(r) => r,
            Task::Link { queries, .. } => queries,
        }
    }

    fn targets(&self) -> &'a [Record] {
        match self {
            Task::Dedupe(r) => r,
            Task::Link { targets, .. } => targets,
        }
    }

    fn dedupe(&self) -> bool {
        matches!(self, Task::Dedupe(_))
    }
}

/// What training found, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct TrainingReport {
    pub comparisons: Vec<&'static str>,
    pub rules: Vec<String>,
    pub oversized_keys: usize,
    pub u_pairs: usize,
    pub em_pairs: usize,
    pub em_patterns: usize,
    pub em_iterations: usize,
    /// The comparison whose exact agreements fitted `m` (EM ran only without one).
    pub anchored_on: Option<&'static str>,
    /// Share of matches among candidate pairs, as EM estimated it.
    pub prior_among_candidates: f64,
    /// Chance that two records drawn at random match: the prior pairs are scored from.
    pub prior: f64,
}

/// A trained engine over a set of target records.
#[derive(Debug)]
pub struct Engine {
    model: Model,
    rules: Vec<Rule>,
    index: BlockIndex,
    options: Options,
    report: TrainingReport,
}

/// The outcome of a run: a cluster per record and the evidence behind it.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// For each record (queries first, then targets when linking), the position of the first
    /// record of its cluster.
    pub cluster: Vec<u32>,
    /// For each record, the highest match probability found between it and any other record
    /// (below the threshold for records left alone).
    pub best_probability: Vec<f32>,
    pub stats: RunStats,
}

/// Counts from a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunStats {
    pub candidate_pairs: u64,
    pub accepted_pairs: usize,
    pub refused_for_id_numbers: usize,
    pub clusters: usize,
    pub records_in_clusters_of_two_or_more: usize,
}

impl Engine {
    /// Chooses comparisons and blocking rules from the fields both sides hold, indexes the
    /// targets, estimates `u` from random pairs, and `m` and the prior by expectation
    /// maximisation over a sample of candidate pairs.
    pub fn train(task: Task<'_>, options: Options) -> Result<Engine, MatchError> {
        Self::train_with_labels(task, options, &[])
    }

    /// As [`Engine::train`], with reviewed pairs (query, target, is a match) guiding `m`.
    pub fn train_with_labels(
        task: Task<'_>,
        options: Options,
        labels: &[(&Record, &Record, bool)],
    ) -> Result<Engine, MatchError> {
        if !(0.0..=1.0).contains(&options.threshold) {
            return Err(MatchError::Option(format!(
                "the threshold is a probability between 0 and 1, not {}",
                options.threshold
            )));
        }
        let (queries, targets) = (task.queries(), task.targets());
        let active = active_comparisons(queries, targets);
        let describe = |records: &[Record]| -> String {
            let held: Vec<&str> = Comparison::all()
                .into_iter()
                .filter(|c| records.iter().any(|r| c.present(r)))
                .map(|c| c.name())
                .collect();
            if held.is_empty() {
                "none".into()
            } else {
                held.join(", ")
            }
        };
        let place = [
            Role::VillageCode,
            Role::Pincode,
            Role::Village,
            Role::Locality,
            Role::City,
        ]
        .iter()
        .filter_map(|r| PLACE_ROLES.iter().position(|p| p == r))
        .find(|slot| {
            queries.iter().any(|r| r.places[*slot].is_some())
                && targets.iter().any(|r| r.places[*slot].is_some())
        });
        let rules = choose_rules(&active, place);
        if active.is_empty() || rules.is_empty() {
            return Err(MatchError::NothingToCompare {
                left: describe(queries),
                right: describe(targets),
            });
        }
        let informs: Vec<u32> = rules
            .iter()
            .map(|rule| {
                let uses = rule.uses();
                active
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| !uses.contains(c))
                    .fold(0u32, |acc, (k, _)| acc | 1 << k)
            })
            .collect();
        let index = BlockIndex::build(targets, &rules, options.max_block);

        let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
        let (u_counts, u_pairs) = sample_u(&active, task, options.u_sample_pairs, &mut rng);
        let mut model = Model::new(&active, &u_counts, 0.01);
        for (k, c) in active.iter().enumerate() {
            if !frequency_adjusted(*c) {
                continue;
            }
            let count = |records: &[Record]| {
                records
                    .par_iter()
                    .fold(Frequencies::default, |mut f, r| {
                        if let Some(key) = c.frequency_key(r) {
                            f.add(key);
                        }
                        f
                    })
                    .reduce(Frequencies::default, |mut a, b| {
                        a.merge(b);
                        a
                    })
            };
            let mut frequencies = count(targets);
            if !task.dedupe() {
                frequencies.merge(count(queries));
            }
            model.set_frequencies(k, frequencies);
        }

        let (mut rows, sampled_queries) =
            sample_patterns(&model, &rules, &informs, &index, task, &options, &mut rng);
        let em_pairs = rows.iter().map(|r| r.count as usize).sum::<usize>();
        let em_patterns = rows.len();
        if em_pairs > 0 {
            // Start from "about one match per query among its candidates".
            let guess = sampled_queries as f64 / em_pairs as f64 * 0.5;
            model.set_prior(guess.clamp(1e-6, 0.5));
        }
        let all = (1u32 << active.len()) - 1;
        for (a, b, is_match) in labels {
            rows.push(PatternRow {
                pattern: model.pattern(a, b),
                informs: all,
                count: 1.0,
                label: Some(if *is_match { 1.0 } else { 0.0 }),
            });
        }
        // Pairs agreeing on an ID number fit the model directly; EM from a guess only when
        // the data has too few. (Not a phone number: in India a household often shares one,
        // and pairs tied by it are as often siblings as the same person.)
        let anchored = active
            .iter()
            .position(|c| *c == Comparison::IdNumber)
            .filter(|k| model.fit_from_anchor(&rows, *k, 20.0))
            .map(|k| active[k].name());
        let em_iterations = if anchored.is_some() {
            0
        } else {
            model.train(&rows, options.em_iterations)
        };
        let prior_among_candidates = model.prior;
        // EM's prior is the share of matches among candidate pairs, but a pair that shares
        // only a weak key (a house number and a postcode) is far less likely a match than
        // the average candidate. Scoring starts instead from the chance that two records
        // drawn at random are the same person (the matches EM expects among all candidate
        // pairs, over all pairs), so that only the pair's own agreements can lift it.
        let candidate_pairs =
            em_pairs as f64 / sampled_queries.max(1) as f64 * queries.len() as f64;
        let all_pairs = if task.dedupe() {
            queries.len() as f64 * (queries.len() as f64 - 1.0) / 2.0
        } else {
            queries.len() as f64 * targets.len() as f64
        };
        if all_pairs > 0.0 && candidate_pairs > 0.0 {
            model.set_prior(prior_among_candidates * candidate_pairs / all_pairs);
        }
        let report = TrainingReport {
            comparisons: active.iter().map(|c| c.name()).collect(),
            rules: rules.iter().map(|r| r.name()).collect(),
            oversized_keys: index.oversized_keys,
            u_pairs,
            em_pairs,
            em_patterns,
            em_iterations,
            anchored_on: anchored,
            prior_among_candidates,
            prior: model.prior,
        };
        Ok(Engine {
            model,
            rules,
            index,
            options,
            report,
        })
    }

    /// What training found.
    pub fn report(&self) -> &TrainingReport {
        &self.report
    }

    /// The trained model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The waterfall of weights for one pair.
    pub fn explain(&self, a: &Record, b: &Record) -> Explanation {
        self.model.explain(a, b)
    }

    /// The targets that could be `record`, best first, with their match probabilities:
    /// the online lookup of one new record, with no batch run. `targets` must be the records
    /// the engine was trained over.
    pub fn lookup(&self, record: &Record, targets: &[Record], limit: usize) -> Vec<(u32, f64)> {
        let mut found = Vec::new();
        let mut scratch = Vec::new();
        candidates(record, &self.rules, &self.index, &mut found, &mut scratch);
        // Candidates sharing the most keys first: the best is usually among them, and once
        // `limit` are held, a candidate that cannot beat the weakest of them is dropped
        // before its names are compared.
        found.sort_unstable_by_key(|(j, mask)| (std::cmp::Reverse(mask.count_ones()), *j));
        let q = self.model.query_weights(record);
        let mut best: Vec<(u32, f64)> = Vec::with_capacity(limit + 1);
        for (j, _) in &found {
            let Some(t) = targets.get(*j as usize) else {
                continue;
            };
            let floor = if best.len() < limit {
                f64::NEG_INFINITY
            } else {
                best.last().map_or(f64::NEG_INFINITY, |b| b.1)
            };
            let Some(w) = self.model.weight_above(&q, record, t, floor) else {
                continue;
            };
            if best.len() == limit && w <= floor {
                continue;
            }
            let at = best.partition_point(|b| b.1 >= w);
            best.insert(at, (*j, w));
            best.truncate(limit);
        }
        best.into_iter().map(|(j, w)| (j, probability(w))).collect()
    }

    /// Scores every candidate pair and clusters the accepted ones.
    pub fn run(&self, task: Task<'_>) -> Outcome {
        let (queries, targets) = (task.queries(), task.targets());
        let dedupe = task.dedupe();
        let offset = if dedupe { 0 } else { queries.len() };
        let total = offset + targets.len();
        let best: Vec<AtomicU32> = (0..total).map(|_| AtomicU32::new(0)).collect();
        let threshold = weight_of(self.options.threshold);
        let (mut edges, candidate_pairs) = (0..queries.len())
            .into_par_iter()
            .fold(
                || (Vec::new(), 0u64, Vec::new(), Vec::new()),
                |(mut edges, mut pairs, mut found, mut scratch), i| {
                    let query = &queries[i];
                    candidates(query, &self.rules, &self.index, &mut found, &mut scratch);
                    let mut top: Option<(u32, f64)> = None;
                    for &(j, _) in found.iter() {
                        if dedupe && j as usize <= i {
                            continue;
                        }
                        pairs += 1;
                        let w = self.model.weight(query, &targets[j as usize]);
                        let p = probability(w) as f32;
                        best[offset + j as usize].fetch_max(p.to_bits(), Ordering::Relaxed);
                        best[i].fetch_max(p.to_bits(), Ordering::Relaxed);
                        if dedupe {
                            if w >= threshold {
                                edges.push((i as u32, j, w as f32));
                            }
                        } else if top.is_none_or(|(_, tw)| w > tw) {
                            top = Some((j, w));
                        }
                    }
                    if let Some((j, w)) = top
                        && w >= threshold
                    {
                        edges.push((i as u32, offset as u32 + j, w as f32));
                    }
                    (edges, pairs, found, scratch)
                },
            )
            .map(|(edges, pairs, _, _)| (edges, pairs))
            .reduce(
                || (Vec::new(), 0),
                |(mut a, pa), (b, pb)| {
                    a.extend(b);
                    (a, pa + pb)
                },
            );
        let mut clusters = Clusters::new(
            queries
                .iter()
                .chain(if dedupe { &[][..] } else { targets })
                .map(|r| match self.options.id_policy {
                    IdPolicy::Strict => r.id_number.as_deref(),
                    IdPolicy::Checked => r.id_number.as_deref().filter(|_| r.id_checked),
                }),
        );
        clusters.join_all(&mut edges);
        let cluster = clusters.labels();
        let mut sizes: FxHashMap<u32, usize> = FxHashMap::default();
        for c in &cluster {
            *sizes.entry(*c).or_insert(0) += 1;
        }
        let stats = RunStats {
            candidate_pairs,
            accepted_pairs: edges.len(),
            refused_for_id_numbers: clusters.refused,
            clusters: sizes.len(),
            records_in_clusters_of_two_or_more: sizes.values().filter(|s| **s > 1).sum(),
        };
        Outcome {
            cluster,
            best_probability: best
                .into_iter()
                .map(|b| f32::from_bits(b.into_inner()))
                .collect(),
            stats,
        }
    }
}

fn frequency_adjusted(c: Comparison) -> bool {
    matches!(
        c,
        Comparison::Name | Comparison::RelativeName | Comparison::BirthDate
    )
}

/// Comparisons both sides hold values for (at most [`MAX_COMPARISONS`]).
fn active_comparisons(queries: &[Record], targets: &[Record]) -> Vec<Comparison> {
    Comparison::all()
        .into_iter()
        .filter(|c| queries.iter().any(|r| c.present(r)) && targets.iter().any(|r| c.present(r)))
        .take(MAX_COMPARISONS)
        .collect()
}

/// Level counts per comparison among random pairs, which are nearly all non-matches.
fn sample_u(
    active: &[Comparison],
    task: Task<'_>,
    pairs: usize,
    rng: &mut ChaCha8Rng,
) -> (Vec<Vec<u64>>, usize) {
    let (queries, targets) = (task.queries(), task.targets());
    let possible = if task.dedupe() {
        (queries.len() as u128 * queries.len().saturating_sub(1) as u128 / 2) as f64
    } else {
        queries.len() as f64 * targets.len() as f64
    };
    let wanted = (pairs as f64).min(possible) as usize;
    let mut draws = Vec::with_capacity(wanted);
    if !queries.is_empty() && !targets.is_empty() {
        while draws.len() < wanted {
            let i = rng.random_range(0..queries.len());
            let j = rng.random_range(0..targets.len());
            if task.dedupe() && i == j {
                if queries.len() < 2 {
                    break;
                }
                continue;
            }
            draws.push((i as u32, j as u32));
        }
    }
    let counts = draws
        .par_iter()
        .fold(
            || vec![vec![0u64; 8]; active.len()],
            |mut acc, &(i, j)| {
                let (a, b) = (&queries[i as usize], &targets[j as usize]);
                for (k, c) in active.iter().enumerate() {
                    acc[k][c.level(a, b) as usize] += 1;
                }
                acc
            },
        )
        .reduce(
            || vec![vec![0u64; 8]; active.len()],
            |mut a, b| {
                for (x, y) in a.iter_mut().zip(b) {
                    for (p, q) in x.iter_mut().zip(y) {
                        *p += q;
                    }
                }
                a
            },
        );
    (counts, draws.len())
}

/// Comparison patterns of candidate pairs from a random sample of queries, grouped.
fn sample_patterns(
    model: &Model,
    rules: &[Rule],
    informs: &[u32],
    index: &BlockIndex,
    task: Task<'_>,
    options: &Options,
    rng: &mut ChaCha8Rng,
) -> (Vec<PatternRow>, usize) {
    let (queries, targets) = (task.queries(), task.targets());
    let mut order: Vec<u32> = (0..queries.len() as u32).collect();
    order.shuffle(rng);
    let mut groups: FxHashMap<(u64, u32), u64> = FxHashMap::default();
    let mut taken = 0usize;
    let mut sampled_queries = 0usize;
    for batch in order.chunks(4096) {
        if taken >= options.em_sample_pairs {
            break;
        }
        sampled_queries += batch.len();
        let local = batch
            .par_iter()
            .fold(
                || {
                    (
                        FxHashMap::<(u64, u32), u64>::default(),
                        0usize,
                        Vec::new(),
                        Vec::new(),
                    )
                },
                |(mut map, mut n, mut found, mut scratch), &i| {
                    candidates(&queries[i as usize], rules, index, &mut found, &mut scratch);
                    for &(j, mask) in found.iter() {
                        if task.dedupe() && j <= i {
                            continue;
                        }
                        let pattern = model.pattern(&queries[i as usize], &targets[j as usize]);
                        let mut informed = 0u32;
                        for (r, bits) in informs.iter().enumerate() {
                            if mask & (1 << r) != 0 {
                                informed |= bits;
                            }
                        }
                        *map.entry((pattern, informed)).or_insert(0) += 1;
                        n += 1;
                    }
                    (map, n, found, scratch)
                },
            )
            .map(|(map, n, _, _)| (map, n))
            .reduce(
                || (FxHashMap::default(), 0),
                |(mut a, na), (b, nb)| {
                    for (k, v) in b {
                        *a.entry(k).or_insert(0) += v;
                    }
                    (a, na + nb)
                },
            );
        taken += local.1;
        for (k, v) in local.0 {
            *groups.entry(k).or_insert(0) += v;
        }
    }
    let rows = groups
        .into_iter()
        .map(|((pattern, informs), count)| PatternRow {
            pattern,
            informs,
            count: count as f64,
            label: None,
        })
        .collect();
    (rows, sampled_queries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RawFields;
    use crate::roles::DateKind;

    fn person(name: &str, relative: &str, dob: &str, village: &str) -> Record {
        let mut raw = RawFields::new();
        raw.push(Role::FullName, DateKind::Date, name)
            .push(Role::RelativeName, DateKind::Date, relative)
            .push(Role::BirthDate, DateKind::Date, dob)
            .push(Role::VillageCode, DateKind::Date, village);
        raw.prepare(NaiveDate::from_ymd_opt(2026, 11, 1).expect("date"))
    }

    fn registry() -> Vec<Record> {
        let given = [
            "Ramesh", "Suresh", "Lakshmi", "Fathima", "Murugan", "Selvi", "Joseph",
        ];
        let fathers = ["Krishnan", "Gopal", "Anthony", "Rahim", "Velu"];
        let mut records = Vec::new();
        for (i, g) in given.iter().enumerate() {
            for (j, f) in fathers.iter().enumerate() {
                let dob = format!("{:02}-{:02}-19{}", 1 + i, 1 + j, 50 + i * 5 + j);
                records.push(person(g, f, &dob, &format!("6000{}", j % 3)));
            }
        }
        records
    }

    #[test]
    fn a_new_record_is_looked_up_without_a_batch() {
        let targets = registry();
        let queries = vec![person("Laxmi", "Antony", "1962-03-03", "60002")];
        let task = Task::Link {
            queries: &queries,
            targets: &targets,
        };
        let engine = Engine::train(task, Options::default()).expect("trained");
        let found = engine.lookup(&queries[0], &targets, 3);
        assert!(!found.is_empty());
        let (best, probability) = found[0];
        // Lakshmi, daughter of Anthony: given 2, father 2 in `registry`.
        assert_eq!(best, 2 * 5 + 2);
        assert!(probability > 0.5, "{probability}");
        assert!(found.windows(2).all(|w| w[0].1 >= w[1].1), "best first");
        let outcome = engine.run(task);
        assert_eq!(outcome.cluster[0], outcome.cluster[1 + best as usize]);
    }

    #[test]
    fn a_bounded_lookup_keeps_the_best_candidates_an_exhaustive_one_finds() {
        let targets = registry();
        let queries: Vec<Record> = [
            ("Laxmi", "Antony", "1962-03-03", "60002"),
            ("Suresh K", "Gopal", "1956", "60001"),
            ("Jose", "Velu", "07-05-1984", "60001"),
            ("Murugan", "", "", "60000"),
        ]
        .iter()
        .map(|(n, r, d, v)| person(n, r, d, v))
        .collect();
        let task = Task::Link {
            queries: &queries,
            targets: &targets,
        };
        let engine = Engine::train(task, Options::default()).expect("trained");
        let model = engine.model();
        for q in &queries {
            let weights = model.query_weights(q);
            for t in &targets {
                let w = model.weight(q, t);
                let bounded = model.weight_above(&weights, q, t, f64::NEG_INFINITY);
                assert!(
                    bounded.is_some_and(|b| (b - w).abs() < 1e-9),
                    "{w} {bounded:?}"
                );
                assert_eq!(model.weight_above(&weights, q, t, w + 0.5), None);
            }
            let mut found = Vec::new();
            let mut scratch = Vec::new();
            candidates(q, &engine.rules, &engine.index, &mut found, &mut scratch);
            let mut all: Vec<f64> = found
                .iter()
                .map(|(j, _)| probability(model.weight(q, &targets[*j as usize])))
                .collect();
            all.sort_by(|a, b| b.total_cmp(a));
            let got: Vec<f64> = engine.lookup(q, &targets, 3).iter().map(|f| f.1).collect();
            let want: Vec<f64> = all.into_iter().take(3).collect();
            assert_eq!(got.len(), want.len());
            // The same weights, summed in another order.
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (g - w).abs() <= 1e-9 * g.abs().max(w.abs()),
                    "{got:?} {want:?}"
                );
            }
        }
    }

    #[test]
    fn options_and_data_it_cannot_use_are_refused() {
        let records = registry();
        let options = Options {
            threshold: 1.5,
            ..Options::default()
        };
        assert!(matches!(
            Engine::train(Task::Dedupe(&records), options),
            Err(MatchError::Option(_))
        ));
        let mut raw = RawFields::new();
        raw.push(Role::Gender, DateKind::Date, "F");
        let genders = vec![raw.prepare(NaiveDate::MIN); 3];
        let names = registry();
        let task = Task::Link {
            queries: &genders,
            targets: &names,
        };
        assert!(matches!(
            Engine::train(task, Options::default()),
            Err(MatchError::NothingToCompare { .. })
        ));
    }
}
