//! Signs that a consuming application is harvesting records instead of looking residents up
//! one at a time for its stated purpose: it serves itself far more distinct records than its
//! approved volume, walks identifiers in sequence, gets mostly "not found", or touches a
//! honeytoken (a decoy resident no legitimate query returns).
//!
//! Windows are fixed, not sliding: hours are UTC clock hours (14:00 to 15:00 UTC, which is
//! 19:30 to 20:30 IST) and days are IST days, like the quotas in [`crate::limits`]. A harvester
//! cannot hide in a fixed window for long: at worst it spreads twice the threshold over the two
//! halves of a boundary, and the day window still sees it.
//!
//! Each kind of alert is raised at most once per window per application (the day for
//! [`AlertKind::DistinctPerDay`], the hour for the others), so a running scraper raises one
//! alert, not thousands. Alerts carry counts and thresholds, never an identifier.
//!
//! Memory is bounded per application: records are kept as 64-bit keyed hashes, never as
//! identifiers, and a distinct set stops growing once it is over its threshold (the answer is
//! known by then); the walk detector keeps the last [`WALK_LOOKBACK`] numeric keys.
//!
//! The time is that of the access, passed in; nothing here reads the clock.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, DurationRound, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::limits::ist_day;

/// How many of the previous walkable keys a key is compared with. A walk survives up to this
/// many minus one unrelated lookups between two of its steps, so interleaving random lookups
/// does not hide it; more than that and the scraper has slowed its walk several-fold.
pub const WALK_LOOKBACK: usize = 8;

const SHARDS: usize = 16;

/// Thresholds for one application, from its agreement.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ScrapingPolicy {
    /// Distinct records served in an hour above which the application is alerted.
    pub distinct_per_hour: u64,
    /// Distinct records served in an IST day above which the application is alerted.
    pub distinct_per_day: u64,
    /// How long a chain of near-sequential identifiers counts as a walk (0: walks are not
    /// watched).
    pub walk_run: usize,
    /// "Near": a key differs from one of the previous keys by 1 to `walk_gap`.
    pub walk_gap: u64,
    /// The not-found ratio is judged only after this many lookups in the hour.
    pub not_found_min: u64,
    /// The share of lookups in an hour finding nothing at or above which the application is
    /// alerted.
    pub not_found_ratio: f64,
    /// Whether an alert suspends the application (applied by the hub, not here).
    pub suspend: bool,
}

impl ScrapingPolicy {
    /// Thresholds from the agreement's approved daily volume of records.
    ///
    /// - per day: twice the approved volume, at least 100. Approved volumes are estimates and
    ///   a legitimate client has busy days (a scheme's closing date); twice the estimate is
    ///   well past a busy day, and still far below what harvesting a district needs.
    /// - per hour: a quarter of the daily threshold (half the approved day), at least 50.
    ///   Clients work office hours in bursts, so an hour may carry much more than 1/24 of the
    ///   day; half a day's volume in one hour is not a burst of ordinary work, and catching it
    ///   within the hour limits what a harvester takes before the day's threshold would.
    /// - walks of 20 keys within 3 of each other, and the not-found ratio of 1/2 after 50
    ///   lookups in the hour: random lookups of a real population essentially never form
    ///   such chains, and a client looking up people it has on file finds most of them.
    pub fn from_approved_volume(records_per_day: u64) -> ScrapingPolicy {
        let distinct_per_day = records_per_day.saturating_mul(2).max(100);
        ScrapingPolicy {
            distinct_per_hour: (distinct_per_day / 4).max(50),
            distinct_per_day,
            walk_run: 20,
            walk_gap: 3,
            not_found_min: 50,
            not_found_ratio: 0.5,
            suspend: true,
        }
    }
}

/// One lookup by an application, as the server saw it.
#[derive(Clone, Copy, Debug)]
pub struct Access<'a> {
    /// When it was served.
    pub at: DateTime<Utc>,
    /// Opaque ids of the records served (empty when nothing was found). Hashed, never kept.
    pub records: &'a [&'a str],
    /// The numeric part of the identifier asked for when it is a walkable one (a ration card
    /// number's digits, a resident id's number); `None` for reference keys and searches.
    pub walk_key: Option<u64>,
    /// Whether the lookup found anything.
    pub found: bool,
    /// Whether the lookup touched a decoy.
    pub honeytoken: bool,
}

/// What kind of harvesting an alert is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AlertKind {
    /// Too many distinct records in an hour.
    DistinctPerHour,
    /// Too many distinct records in an IST day.
    DistinctPerDay,
    /// Identifiers asked for in sequence.
    SequentialWalk,
    /// Too many lookups finding nothing.
    NotFoundRatio,
    /// A decoy record was touched.
    Honeytoken,
}

impl AlertKind {
    /// A stable code for the audit log, notifications and metrics.
    pub fn code(self) -> &'static str {
        match self {
            AlertKind::DistinctPerHour => "scraping.distinct_per_hour",
            AlertKind::DistinctPerDay => "scraping.distinct_per_day",
            AlertKind::SequentialWalk => "scraping.sequential_walk",
            AlertKind::NotFoundRatio => "scraping.not_found_ratio",
            AlertKind::Honeytoken => "scraping.honeytoken",
        }
    }
}

/// A sign of harvesting: the kind, and counts and thresholds only (no identifiers).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// What was seen.
    pub kind: AlertKind,
    /// For people: e.g. "412 distinct records in the hour from 2025-03-14 14:00 UTC, threshold
    /// 400".
    pub detail: String,
}

/// What is watched of one application.
struct Watch {
    hour: DateTime<Utc>,
    hour_distinct: HashSet<u64>,
    hour_lookups: u64,
    hour_not_found: u64,
    hour_honeytokens: u64,
    /// Indexed by `AlertKind as usize`; the day's kind has `day_raised` instead.
    hour_raised: [bool; 5],
    day: NaiveDate,
    day_distinct: HashSet<u64>,
    day_raised: bool,
    /// The last distinct walkable keys, each with the length of the chain it ends.
    walk: VecDeque<(u64, usize)>,
}

impl Watch {
    fn new(hour: DateTime<Utc>, day: NaiveDate) -> Watch {
        Watch {
            hour,
            hour_distinct: HashSet::new(),
            hour_lookups: 0,
            hour_not_found: 0,
            hour_honeytokens: 0,
            hour_raised: [false; 5],
            day,
            day_distinct: HashSet::new(),
            day_raised: false,
            walk: VecDeque::with_capacity(WALK_LOOKBACK + 1),
        }
    }

    /// Moves to a later hour or day; an access stamped earlier than the current window (they
    /// arrive from many tasks) counts in the current one.
    fn roll_to(&mut self, hour: DateTime<Utc>, day: NaiveDate) {
        if hour > self.hour {
            self.hour = hour;
            self.hour_distinct = HashSet::new();
            self.hour_lookups = 0;
            self.hour_not_found = 0;
            self.hour_honeytokens = 0;
            self.hour_raised = [false; 5];
        }
        if day > self.day {
            self.day = day;
            self.day_distinct = HashSet::new();
            self.day_raised = false;
        }
    }

    /// Marks `kind` raised in its hour; false if it already was.
    fn raise_in_hour(&mut self, kind: AlertKind) -> bool {
        !std::mem::replace(&mut self.hour_raised[kind as usize], true)
    }

    fn hour_label(&self) -> String {
        format!("the hour from {}", self.hour.format("%Y-%m-%d %H:%M UTC"))
    }

    /// The walk detector. Each new key extends the longest chain among the previous
    /// [`WALK_LOOKBACK`] keys that it is within `walk_gap` of (either side, so descending walks
    /// count too), or starts a chain of 1. A repeated key neither extends nor evicts anything:
    /// re-reading a record is not walking. Clusters of related numbers (a household's
    /// members) make chains no longer than the cluster, and random keys over a large
    /// population almost never land near each other, so only a walk reaches `walk_run`.
    /// Returns the chain length the key ends.
    fn step_walk(&mut self, key: u64, gap: u64) -> usize {
        if self.walk.iter().any(|&(k, _)| k == key) {
            return 0;
        }
        let chain = 1 + self
            .walk
            .iter()
            .filter(|&&(k, _)| (1..=gap).contains(&k.abs_diff(key)))
            .map(|&(_, chain)| chain)
            .max()
            .unwrap_or(0);
        if self.walk.len() == WALK_LOOKBACK {
            self.walk.pop_front();
        }
        self.walk.push_back((key, chain));
        chain
    }
}

/// Watches every application's lookups, shared by every request of a server process.
pub struct Detector {
    shards: Box<[Mutex<HashMap<String, Watch>>]>,
    /// Keyed at random per process, so the stored hashes cannot be matched to identifiers.
    hasher: RandomState,
}

impl fmt::Debug for Detector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let apps: usize = self.shards.iter().map(|s| lock(s).len()).sum();
        f.debug_struct("Detector").field("apps", &apps).finish()
    }
}

impl Default for Detector {
    fn default() -> Self {
        Detector::new()
    }
}

impl Detector {
    /// A detector that has seen nothing.
    pub fn new() -> Detector {
        Detector {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
        }
    }

    fn shard(&self, app: &str) -> MutexGuard<'_, HashMap<String, Watch>> {
        // The modulo keeps the index below SHARDS, so the cast cannot truncate a used bit.
        let index = (self.hasher.hash_one(app) % SHARDS as u64) as usize;
        lock(&self.shards[index])
    }

    /// Records one access by `app`; returns the alerts it raises (each kind at most once per
    /// window per app, so a running scraper raises one alert, not thousands).
    pub fn observe(&self, app: &str, policy: &ScrapingPolicy, access: &Access<'_>) -> Vec<Alert> {
        // Hashing outside the lock keeps the critical section to set and counter updates.
        let hashes: Vec<u64> = access
            .records
            .iter()
            .map(|record| self.hasher.hash_one(record))
            .collect();
        let hour = hour_start(access.at);
        let day = ist_day(access.at);

        let mut shard = self.shard(app);
        if !shard.contains_key(app) {
            shard.insert(app.to_owned(), Watch::new(hour, day));
        }
        let Some(watch) = shard.get_mut(app) else {
            unreachable!("inserted above under the same lock")
        };
        watch.roll_to(hour, day);

        let mut alerts = Vec::new();

        if access.honeytoken {
            watch.hour_honeytokens += 1;
            if watch.raise_in_hour(AlertKind::Honeytoken) {
                alerts.push(Alert {
                    kind: AlertKind::Honeytoken,
                    detail: format!(
                        "a decoy record was touched ({} in {})",
                        watch.hour_honeytokens,
                        watch.hour_label()
                    ),
                });
            }
        }

        if let Some(key) = access.walk_key
            && policy.walk_run > 0
        {
            let chain = watch.step_walk(key, policy.walk_gap);
            if chain >= policy.walk_run && watch.raise_in_hour(AlertKind::SequentialWalk) {
                alerts.push(Alert {
                    kind: AlertKind::SequentialWalk,
                    detail: format!(
                        "{chain} identifiers in a chain, each within {} of one of the {} \
                         looked up before it, in {}, threshold {}",
                        policy.walk_gap,
                        WALK_LOOKBACK,
                        watch.hour_label(),
                        policy.walk_run
                    ),
                });
            }
        }

        // A set over its threshold has already been reported (or is being now) for its window.
        if watch.hour_distinct.len() as u64 <= policy.distinct_per_hour {
            watch.hour_distinct.extend(hashes.iter().copied());
            let distinct = watch.hour_distinct.len() as u64;
            if distinct > policy.distinct_per_hour
                && watch.raise_in_hour(AlertKind::DistinctPerHour)
            {
                alerts.push(Alert {
                    kind: AlertKind::DistinctPerHour,
                    detail: format!(
                        "{distinct} distinct records in {}, threshold {}",
                        watch.hour_label(),
                        policy.distinct_per_hour
                    ),
                });
            }
        }
        if watch.day_distinct.len() as u64 <= policy.distinct_per_day {
            watch.day_distinct.extend(hashes.iter().copied());
            let distinct = watch.day_distinct.len() as u64;
            if distinct > policy.distinct_per_day && !watch.day_raised {
                watch.day_raised = true;
                alerts.push(Alert {
                    kind: AlertKind::DistinctPerDay,
                    detail: format!(
                        "{distinct} distinct records on {} (IST), threshold {}",
                        watch.day, policy.distinct_per_day
                    ),
                });
            }
        }

        watch.hour_lookups += 1;
        if !access.found {
            watch.hour_not_found += 1;
        }
        if watch.hour_lookups >= policy.not_found_min {
            // Counts far below 2^53, so the ratio is exact enough.
            let ratio = watch.hour_not_found as f64 / watch.hour_lookups as f64;
            if ratio >= policy.not_found_ratio && watch.raise_in_hour(AlertKind::NotFoundRatio) {
                alerts.push(Alert {
                    kind: AlertKind::NotFoundRatio,
                    detail: format!(
                        "{} of {} lookups found nothing in {}, threshold ratio {} after {} \
                         lookups",
                        watch.hour_not_found,
                        watch.hour_lookups,
                        watch.hour_label(),
                        policy.not_found_ratio,
                        policy.not_found_min
                    ),
                });
            }
        }

        alerts
    }

    /// Starts `app` afresh, e.g. after the application is reinstated: its windows, counts,
    /// walk and raised alerts are forgotten.
    pub fn forget(&self, app: &str) {
        self.shard(app).remove(app);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic mid-update leaves at worst a miscounted window, which the next window replaces.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn hour_start(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::hours(1)).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use std::sync::Arc;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    fn start() -> DateTime<Utc> {
        utc(2025, 3, 14, 5, 0, 0)
    }

    /// A policy where only walks can fire, for the walk tests.
    fn walks_only() -> ScrapingPolicy {
        ScrapingPolicy {
            distinct_per_hour: u64::MAX,
            distinct_per_day: u64::MAX,
            not_found_min: u64::MAX,
            ..ScrapingPolicy::from_approved_volume(2000)
        }
    }

    /// Looks up `key` at `at` and returns the alerts; the record id is the key's text.
    fn lookup(
        detector: &Detector,
        policy: &ScrapingPolicy,
        at: DateTime<Utc>,
        key: u64,
    ) -> Vec<Alert> {
        let id = format!("R{key}");
        let records = [id.as_str()];
        detector.observe(
            "app",
            policy,
            &Access {
                at,
                records: &records,
                walk_key: Some(key),
                found: true,
                honeytoken: false,
            },
        )
    }

    /// Runs `keys` one a second from `start()`; the 1-based request numbers that raised a walk
    /// alert.
    fn walk_alerts(keys: &[u64]) -> Vec<usize> {
        let detector = Detector::new();
        let policy = walks_only();
        let mut raised = Vec::new();
        for (i, &key) in keys.iter().enumerate() {
            let at = start() + TimeDelta::seconds(i as i64);
            let alerts = lookup(&detector, &policy, at, key);
            assert!(alerts.iter().all(|a| a.kind == AlertKind::SequentialWalk));
            if !alerts.is_empty() {
                raised.push(i + 1);
            }
        }
        raised
    }

    #[test]
    fn detector_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Detector>();
        assert_send_sync::<Arc<Detector>>();
    }

    #[test]
    fn policy_from_approved_volume() {
        let policy = ScrapingPolicy::from_approved_volume(2000);
        assert_eq!(policy.distinct_per_day, 4000);
        assert_eq!(policy.distinct_per_hour, 1000);
        assert_eq!(policy.walk_run, 20);
        assert_eq!(policy.walk_gap, 3);
        assert_eq!(policy.not_found_min, 50);
        assert_eq!(policy.not_found_ratio, 0.5);
        assert!(policy.suspend);
        let tiny = ScrapingPolicy::from_approved_volume(0);
        assert_eq!((tiny.distinct_per_day, tiny.distinct_per_hour), (100, 50));
        let huge = ScrapingPolicy::from_approved_volume(u64::MAX);
        assert_eq!(huge.distinct_per_day, u64::MAX);
    }

    #[test]
    fn codes() {
        assert_eq!(
            AlertKind::DistinctPerHour.code(),
            "scraping.distinct_per_hour"
        );
        assert_eq!(
            AlertKind::DistinctPerDay.code(),
            "scraping.distinct_per_day"
        );
        assert_eq!(AlertKind::SequentialWalk.code(), "scraping.sequential_walk");
        assert_eq!(AlertKind::NotFoundRatio.code(), "scraping.not_found_ratio");
        assert_eq!(AlertKind::Honeytoken.code(), "scraping.honeytoken");
    }

    #[test]
    fn an_ascending_walk_is_alerted_once_it_reaches_walk_run() {
        let keys: Vec<u64> = (1000..1100).collect();
        assert_eq!(walk_alerts(&keys), vec![20]);
    }

    #[test]
    fn walks_by_two_and_three_are_alerted() {
        let by_two: Vec<u64> = (0..100).map(|i| 1000 + 2 * i).collect();
        assert_eq!(walk_alerts(&by_two), vec![20]);
        let by_three: Vec<u64> = (0..100).map(|i| 1000 + 3 * i).collect();
        assert_eq!(walk_alerts(&by_three), vec![20]);
        // Beyond walk_gap it is not "near".
        let by_four: Vec<u64> = (0..100).map(|i| 1000 + 4 * i).collect();
        assert!(walk_alerts(&by_four).is_empty());
    }

    #[test]
    fn a_descending_walk_is_alerted() {
        let keys: Vec<u64> = (0..100).map(|i| 500_000 - i).collect();
        assert_eq!(walk_alerts(&keys), vec![20]);
        let by_three: Vec<u64> = (0..100).map(|i| 500_000 - 3 * i).collect();
        assert_eq!(walk_alerts(&by_three), vec![20]);
    }

    #[test]
    fn a_walk_with_random_lookups_interleaved_is_alerted() {
        let mut rng = StdRng::seed_from_u64(7);
        // Every third lookup is a random one: walk, walk, random, ...
        let mut keys = Vec::new();
        let mut next = 1000;
        while keys.len() < 100 {
            if keys.len() % 3 == 2 {
                keys.push(rng.random_range(0..1_000_000));
            } else {
                keys.push(next);
                next += 1;
            }
        }
        // The 20th step of the walk is the 29th lookup.
        assert_eq!(walk_alerts(&keys), vec![29]);

        // Even five random lookups between each step do not break the chain.
        let mut keys = Vec::new();
        for step in 0..40u64 {
            keys.push(70_000 + step);
            keys.extend((0..5).map(|_| rng.random_range(0..1_000_000u64)));
        }
        assert_eq!(walk_alerts(&keys), vec![20 + 19 * 5]);
    }

    #[test]
    fn repeated_lookups_and_households_are_not_walks() {
        // The same few records over and over.
        let keys: Vec<u64> = (0..500).map(|i| 1000 + i % 4).collect();
        assert!(walk_alerts(&keys).is_empty());
        // Households of up to 6 members with consecutive numbers, looked up together.
        let mut rng = StdRng::seed_from_u64(11);
        let mut keys = Vec::new();
        for _ in 0..300 {
            let first: u64 = rng.random_range(0..1_000_000);
            let members = rng.random_range(1..=6);
            keys.extend(first..first + members);
        }
        assert!(walk_alerts(&keys).is_empty());
    }

    #[test]
    fn a_walk_alerts_once_an_hour() {
        let detector = Detector::new();
        let policy = walks_only();
        let mut raised = Vec::new();
        // One step a minute for three hours.
        for i in 0..180u64 {
            let at = start() + TimeDelta::minutes(i as i64);
            if !lookup(&detector, &policy, at, 1000 + i).is_empty() {
                raised.push(i);
            }
        }
        // At the 20th step, then at the first step of each later hour.
        assert_eq!(raised, vec![19, 60, 120]);
    }

    #[test]
    fn a_legitimate_client_is_never_alerted() {
        // Approved for 2,000 records a day; looks up 1,500 a day at random over a population of
        // a million during office hours (09:00 to 17:00 IST), for about a week: 10,000 lookups.
        let policy = ScrapingPolicy::from_approved_volume(2000);
        for seed in 0..3 {
            let detector = Detector::new();
            let mut rng = StdRng::seed_from_u64(seed);
            let per_day = 1500;
            let office_secs = 8 * 3600;
            // 09:00 IST on 10 March is 03:30 UTC.
            let first_morning = utc(2025, 3, 10, 3, 30, 0);
            for n in 0..10_000i64 {
                let day = n / per_day;
                let offset = (n % per_day) * office_secs / per_day;
                let at = first_morning + TimeDelta::days(day) + TimeDelta::seconds(offset);
                let key: u64 = rng.random_range(0..1_000_000);
                // Most people looked up are on file; a few numbers are mistyped.
                let found = rng.random_bool(0.9);
                let id = format!("R{key}");
                let records = [id.as_str()];
                let alerts = detector.observe(
                    "app",
                    &policy,
                    &Access {
                        at,
                        records: if found { &records } else { &[] },
                        walk_key: Some(key),
                        found,
                        honeytoken: false,
                    },
                );
                assert!(alerts.is_empty(), "lookup {n}: {alerts:?}");
            }
        }
    }

    fn serve(
        detector: &Detector,
        policy: &ScrapingPolicy,
        at: DateTime<Utc>,
        id: &str,
    ) -> Vec<Alert> {
        let records = [id];
        detector.observe(
            "app",
            policy,
            &Access {
                at,
                records: &records,
                walk_key: None,
                found: true,
                honeytoken: false,
            },
        )
    }

    fn small() -> ScrapingPolicy {
        ScrapingPolicy {
            distinct_per_hour: 50,
            distinct_per_day: 1000,
            ..ScrapingPolicy::from_approved_volume(0)
        }
    }

    #[test]
    fn distinct_per_hour_fires_once_per_hour() {
        let detector = Detector::new();
        let policy = small();
        let hour = utc(2025, 3, 14, 14, 0, 0);
        for i in 0..50 {
            let at = hour + TimeDelta::seconds(i);
            assert!(serve(&detector, &policy, at, &format!("R{i}")).is_empty());
        }
        let alerts = serve(&detector, &policy, hour + TimeDelta::minutes(5), "R50");
        assert_eq!(
            alerts,
            vec![Alert {
                kind: AlertKind::DistinctPerHour,
                detail: "51 distinct records in the hour from 2025-03-14 14:00 UTC, threshold 50"
                    .into()
            }]
        );
        for i in 51..500 {
            let at = hour + TimeDelta::minutes(6) + TimeDelta::seconds(i);
            assert!(serve(&detector, &policy, at, &format!("R{i}")).is_empty());
        }
        // The set stopped growing once over its threshold.
        {
            let shard = detector.shard("app");
            let watch = &shard["app"];
            assert_eq!(watch.hour_distinct.len(), 51);
        }

        // The next hour starts a fresh count; crossing it again fires again.
        let next = utc(2025, 3, 14, 15, 0, 0);
        let mut raised = Vec::new();
        for i in 0..60 {
            let alerts = serve(&detector, &policy, next, &format!("S{i}"));
            if !alerts.is_empty() {
                assert_eq!(alerts[0].kind, AlertKind::DistinctPerHour);
                raised.push(i);
            }
        }
        assert_eq!(raised, vec![50]);
    }

    #[test]
    fn distinct_per_day_fires_once_per_ist_day() {
        let detector = Detector::new();
        let policy = ScrapingPolicy {
            distinct_per_hour: u64::MAX,
            distinct_per_day: 100,
            ..ScrapingPolicy::from_approved_volume(0)
        };
        // 17:00 to 18:29 UTC on the 14th is still the 14th in IST.
        let evening = utc(2025, 3, 14, 17, 0, 0);
        let mut raised = Vec::new();
        for i in 0..150 {
            let at = evening + TimeDelta::seconds(i * 30);
            let alerts = serve(&detector, &policy, at, &format!("R{i}"));
            if !alerts.is_empty() {
                assert_eq!(alerts[0].kind, AlertKind::DistinctPerDay);
                assert_eq!(
                    alerts[0].detail,
                    "101 distinct records on 2025-03-14 (IST), threshold 100"
                );
                raised.push(i);
            }
        }
        assert_eq!(raised, vec![100]);
        // 18:30 UTC is the 15th in IST.
        let next_day = utc(2025, 3, 14, 18, 30, 0);
        let mut raised = Vec::new();
        for i in 0..150 {
            if !serve(&detector, &policy, next_day, &format!("S{i}")).is_empty() {
                raised.push(i);
            }
        }
        assert_eq!(raised, vec![100]);
    }

    #[test]
    fn rereading_the_same_records_is_not_distinct() {
        let detector = Detector::new();
        let policy = small();
        let hour = utc(2025, 3, 14, 14, 0, 0);
        for i in 0..10_000 {
            let at = hour + TimeDelta::milliseconds(i * 300);
            let id = format!("R{}", i % 7);
            assert!(serve(&detector, &policy, at, &id).is_empty());
        }
    }

    #[test]
    fn a_search_serving_many_records_counts_each() {
        let detector = Detector::new();
        let policy = small();
        let ids: Vec<String> = (0..60).map(|i| format!("R{i}")).collect();
        let records: Vec<&str> = ids.iter().map(String::as_str).collect();
        let alerts = detector.observe(
            "app",
            &policy,
            &Access {
                at: start(),
                records: &records,
                walk_key: None,
                found: true,
                honeytoken: false,
            },
        );
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].kind, AlertKind::DistinctPerHour);
        assert!(alerts[0].detail.starts_with("60 distinct records"));
    }

    fn miss(
        detector: &Detector,
        policy: &ScrapingPolicy,
        at: DateTime<Utc>,
        found: bool,
    ) -> Vec<Alert> {
        detector.observe(
            "app",
            policy,
            &Access {
                at,
                records: &[],
                walk_key: None,
                found,
                honeytoken: false,
            },
        )
    }

    #[test]
    fn not_found_ratio_fires_after_the_minimum_not_before() {
        let detector = Detector::new();
        let policy = ScrapingPolicy::from_approved_volume(2000);
        let at = start();
        // Every lookup finds nothing, but 49 are too few to judge.
        for _ in 0..49 {
            assert!(miss(&detector, &policy, at, false).is_empty());
        }
        let alerts = miss(&detector, &policy, at, false);
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].kind, AlertKind::NotFoundRatio);
        assert_eq!(
            alerts[0].detail,
            "50 of 50 lookups found nothing in the hour from 2025-03-14 05:00 UTC, threshold \
             ratio 0.5 after 50 lookups"
        );
        // Once an hour.
        for _ in 0..100 {
            assert!(miss(&detector, &policy, at, false).is_empty());
        }
    }

    #[test]
    fn not_found_ratio_below_the_threshold_does_not_fire() {
        let policy = ScrapingPolicy::from_approved_volume(2000);
        // 24 of 50 missing: under half.
        let detector = Detector::new();
        for i in 0..50 {
            assert!(miss(&detector, &policy, start(), i % 2 == 1 || i == 0).is_empty());
        }
        // The 51st lookup missing too makes it 25 of 51: still under half.
        assert!(miss(&detector, &policy, start(), false).is_empty());
        // The 52nd makes it 26 of 52: exactly half, which fires.
        let alerts = miss(&detector, &policy, start(), false);
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].kind, AlertKind::NotFoundRatio);
    }

    fn touch_decoy(detector: &Detector, at: DateTime<Utc>) -> Vec<Alert> {
        let records = ["decoy"];
        detector.observe(
            "app",
            &ScrapingPolicy::from_approved_volume(2000),
            &Access {
                at,
                records: &records,
                walk_key: None,
                found: true,
                honeytoken: true,
            },
        )
    }

    #[test]
    fn a_honeytoken_fires_on_the_first_touch() {
        let detector = Detector::new();
        let alerts = touch_decoy(&detector, start());
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].kind, AlertKind::Honeytoken);
        assert!(touch_decoy(&detector, start()).is_empty());
        assert_eq!(
            touch_decoy(&detector, start() + TimeDelta::hours(1))[0].kind,
            AlertKind::Honeytoken
        );
    }

    #[test]
    fn alerts_carry_no_identifiers() {
        let detector = Detector::new();
        let policy = small();
        let mut alerts = Vec::new();
        for key in 987_650..987_750u64 {
            alerts.extend(lookup(&detector, &policy, start(), key));
        }
        alerts.extend(touch_decoy(&detector, start()));
        assert_eq!(alerts.len(), 3);
        for alert in alerts {
            assert!(!alert.detail.contains("9876"), "{}", alert.detail);
            assert!(!alert.detail.contains('R'), "{}", alert.detail);
        }
    }

    #[test]
    fn apps_are_watched_separately() {
        let detector = Detector::new();
        let policy = walks_only();
        let mut raised = 0;
        // Two applications take turns at runs of three steps of one walk: neither walks alone.
        for key in 1000..1100u64 {
            let app = if key % 6 < 3 { "a" } else { "b" };
            raised += detector
                .observe(
                    app,
                    &policy,
                    &Access {
                        at: start(),
                        records: &[],
                        walk_key: Some(key * 2),
                        found: true,
                        honeytoken: false,
                    },
                )
                .len();
        }
        assert_eq!(raised, 0);
        let alerts = touch_decoy(&detector, start());
        assert_eq!(alerts.len(), 1);
    }

    #[test]
    fn forget_starts_afresh() {
        let detector = Detector::new();
        let policy = walks_only();
        assert_eq!(touch_decoy(&detector, start()).len(), 1);
        for key in 0..15 {
            lookup(&detector, &policy, start(), key);
        }
        detector.forget("app");
        // The honeytoken alert can be raised again in the same hour...
        assert_eq!(touch_decoy(&detector, start()).len(), 1);
        // ...and the walk begins again from nothing: 15 + 5 steps are not a walk of 20.
        for key in 15..20 {
            assert!(lookup(&detector, &policy, start(), key).is_empty());
        }
        detector.forget("never-seen");
    }

    #[test]
    fn memory_stays_bounded() {
        let detector = Detector::new();
        let policy = small();
        for key in 0..20_000u64 {
            let at = start() + TimeDelta::milliseconds(key as i64 * 100);
            lookup(&detector, &policy, at, key * 1000);
        }
        let shard = detector.shard("app");
        let watch = &shard["app"];
        assert!(watch.hour_distinct.len() <= 51);
        assert!(watch.day_distinct.len() <= 1001);
        assert!(watch.walk.len() <= WALK_LOOKBACK);
    }
}
