//! Keeps each consuming application within the limits of its agreement: a burst limit (GCRA:
//! `per_second` sustained, `burst` at once) and daily and monthly quotas of requests.
//!
//! Days and months are India Standard Time (UTC+05:30, no DST), because agreements are written
//! in the state's calendar: a day starts at 00:00 IST, i.e. 18:30 UTC the day before.
//!
//! The time is always passed in, never read here, so the hub's tests can move the clock and
//! every server process judges a request by the same instant it logs.
//!
//! Counting rules:
//! - a refused request counts against nothing: not the quotas, and not the burst (quotas are
//!   judged first, and a request refused by a quota never reaches the burst limiter);
//! - counts are per process; [`Limiter::seed`] brings in what is stored (at start, or from the
//!   other processes) and [`Limiter::drain`] hands back what this process counted, so quotas
//!   hold across restarts and across processes, to within one synchronisation interval.
//!
//! The burst limit is `governor`'s GCRA, driven by the injected time through a clock of our own
//! (`InjectedClock`): each application has its own governor limiter and clock, and the clock
//! is set and the limiter consulted under the application's lock, so no other request can move
//! the clock in between.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, TimeDelta, Utc};
use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use serde::{Deserialize, Serialize};

/// India Standard Time's offset from UTC, in seconds.
pub(crate) const IST_OFFSET_SECS: i32 = 5 * 3600 + 30 * 60;

const IST: FixedOffset = match FixedOffset::east_opt(IST_OFFSET_SECS) {
    Some(offset) => offset,
    None => panic!("IST offset out of range"),
};

/// Enough shards that requests of different applications rarely wait on each other on a
/// server with a few dozen cores; an application's own requests serialise on its shard anyway.
const SHARDS: usize = 16;

/// A misconfigured (zero) burst limit refuses everything; a minute spaces the client's retries
/// while an administrator corrects the agreement.
const MISCONFIGURED_RETRY_SECS: u64 = 60;

/// An application's limits, from its agreement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Sustained requests per second.
    pub per_second: u32,
    /// Requests allowed at once after a quiet spell.
    pub burst: u32,
    /// Requests per IST day.
    pub daily: u64,
    /// Requests per IST calendar month.
    pub monthly: u64,
}

impl Limits {
    /// Checks that every limit is positive, for the admin API; the message names the field.
    ///
    /// [`Limiter::check`] does not repeat the check: a zero there allows nothing.
    pub fn check_valid(&self) -> Result<(), String> {
        let fields = [
            ("per_second", u64::from(self.per_second)),
            ("burst", u64::from(self.burst)),
            ("daily", self.daily),
            ("monthly", self.monthly),
        ];
        match fields.iter().find(|(_, value)| *value == 0) {
            Some((name, _)) => Err(format!("{name} must be a positive number")),
            None => Ok(()),
        }
    }
}

/// Which limit refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LimitKind {
    /// Too many requests at once.
    Burst,
    /// The day's quota is used up.
    Daily,
    /// The month's quota is used up.
    Monthly,
}

impl LimitKind {
    /// A stable code for responses, logs and metrics.
    pub fn code(self) -> &'static str {
        match self {
            LimitKind::Burst => "rate.burst",
            LimitKind::Daily => "quota.daily",
            LimitKind::Monthly => "quota.monthly",
        }
    }
}

/// A refused request: which limit, and when to try again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{} exceeded (limit {limit}), retry after {retry_after_secs} s", .kind.code())]
pub struct Refusal {
    /// The limit that refused it.
    pub kind: LimitKind,
    /// Seconds until a retry can succeed, at least 1: for the burst limit, until the next
    /// request conforms; for a quota, until the next IST day or month begins.
    pub retry_after_secs: u64,
    /// The limit's value: requests per second for the burst limit, else the quota.
    pub limit: u64,
}

/// An application's usage as this process knows it, for responses and the admin API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageSnapshot {
    /// The IST day counted.
    pub day: NaiveDate,
    /// Requests that day.
    pub today: u64,
    /// The daily quota.
    pub daily_limit: u64,
    /// The IST month counted, as `YYYY-MM`.
    pub month: String,
    /// Requests that month, including today.
    pub this_month: u64,
    /// The monthly quota.
    pub monthly_limit: u64,
}

/// Requests of one application on one IST day counted since the last [`Limiter::drain`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageDelta {
    /// The application.
    pub app: String,
    /// The IST day the requests were counted in.
    pub day: NaiveDate,
    /// How many.
    pub requests: u64,
}

/// A governor clock whose "now" is whatever it was last set to. Each application's limiter has
/// its own, set under that application's lock just before the limiter reads it.
#[derive(Debug, Default)]
struct InjectedClock(AtomicU64);

impl InjectedClock {
    fn set(&self, at: Nanos) {
        self.0.store(at.as_u64(), Ordering::Relaxed);
    }
}

impl Clock for InjectedClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::new(self.0.load(Ordering::Relaxed))
    }
}

type Gcra = RateLimiter<NotKeyed, InMemoryState, InjectedClock, NoOpMiddleware<Nanos>>;

struct Burst {
    per_second: NonZeroU32,
    burst: NonZeroU32,
    gcra: Gcra,
}

impl Burst {
    fn new(per_second: NonZeroU32, burst: NonZeroU32) -> Burst {
        // The clock reads 0 when the limiter is built, so governor's origin is the Unix epoch
        // and instants are absolute: requests arriving slightly out of order are still judged
        // each at its own time.
        let quota = Quota::per_second(per_second).allow_burst(burst);
        Burst {
            per_second,
            burst,
            gcra: RateLimiter::direct_with_clock(quota, InjectedClock::default()),
        }
    }
}

/// One application's counters. `day` only moves forward: a request stamped just before
/// midnight that is counted after one stamped just after it counts toward the new day.
struct AppState {
    burst: Option<Burst>,
    day: NaiveDate,
    today: u64,
    this_month: u64,
    /// Counted here and not yet drained, by day.
    pending: BTreeMap<NaiveDate, u64>,
}

impl AppState {
    fn new(day: NaiveDate) -> AppState {
        AppState {
            burst: None,
            day,
            today: 0,
            this_month: 0,
            pending: BTreeMap::new(),
        }
    }

    /// The day, today's and this month's counts as of `day`, without changing anything.
    fn rolled(&self, day: NaiveDate) -> (NaiveDate, u64, u64) {
        if day <= self.day {
            (self.day, self.today, self.this_month)
        } else if same_month(day, self.day) {
            (day, 0, self.this_month)
        } else {
            (day, 0, 0)
        }
    }

    fn roll_to(&mut self, day: NaiveDate) {
        (self.day, self.today, self.this_month) = self.rolled(day);
    }

    fn pending_month(&self, day: NaiveDate) -> u64 {
        self.pending
            .iter()
            .filter(|(d, _)| same_month(**d, day))
            .map(|(_, n)| *n)
            .sum()
    }

    fn check_burst(&mut self, limits: &Limits, now: DateTime<Utc>) -> Result<(), Refusal> {
        let (Some(per_second), Some(burst)) = (
            NonZeroU32::new(limits.per_second),
            NonZeroU32::new(limits.burst),
        ) else {
            return Err(Refusal {
                kind: LimitKind::Burst,
                retry_after_secs: MISCONFIGURED_RETRY_SECS,
                limit: u64::from(limits.per_second),
            });
        };
        // Changed limits take effect at once, with a full burst.
        let state = match &mut self.burst {
            Some(b) if b.per_second == per_second && b.burst == burst => b,
            slot => slot.insert(Burst::new(per_second, burst)),
        };
        let at = epoch_nanos(now);
        state.gcra.clock().set(at);
        state.gcra.check().map_err(|not_until| Refusal {
            kind: LimitKind::Burst,
            retry_after_secs: ceil_secs(not_until.wait_time_from(at)),
            limit: u64::from(limits.per_second),
        })
    }

    fn snapshot(&self, limits: &Limits) -> UsageSnapshot {
        snapshot(self.day, self.today, self.this_month, limits)
    }
}

/// Burst limits and quotas of all applications, shared by every request of a server process.
pub struct Limiter {
    shards: Box<[Mutex<HashMap<String, AppState>>]>,
    hasher: RandomState,
}

impl fmt::Debug for Limiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let apps: usize = self.shards.iter().map(|s| lock(s).len()).sum();
        f.debug_struct("Limiter").field("apps", &apps).finish()
    }
}

impl Default for Limiter {
    fn default() -> Self {
        Limiter::new()
    }
}

impl Limiter {
    /// A limiter that has counted nothing.
    pub fn new() -> Limiter {
        Limiter {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
        }
    }

    fn shard(&self, app: &str) -> MutexGuard<'_, HashMap<String, AppState>> {
        // The modulo keeps the index below SHARDS, so the cast cannot truncate a used bit.
        let index = (self.hasher.hash_one(app) % SHARDS as u64) as usize;
        lock(&self.shards[index])
    }

    /// Counts one request of `app` at `now` if its limits allow it.
    ///
    /// Quotas are judged before the burst limit (the month's before the day's, so the longer
    /// wait is the one reported), and a refused request counts against nothing.
    pub fn check(
        &self,
        app: &str,
        limits: &Limits,
        now: DateTime<Utc>,
    ) -> Result<UsageSnapshot, Refusal> {
        let day = ist_day(now);
        let mut shard = self.shard(app);
        if !shard.contains_key(app) {
            shard.insert(app.to_owned(), AppState::new(day));
        }
        let Some(state) = shard.get_mut(app) else {
            unreachable!("inserted above under the same lock")
        };
        state.roll_to(day);
        if state.this_month >= limits.monthly {
            return Err(Refusal {
                kind: LimitKind::Monthly,
                retry_after_secs: secs_until(next_month_start(state.day), now),
                limit: limits.monthly,
            });
        }
        if state.today >= limits.daily {
            return Err(Refusal {
                kind: LimitKind::Daily,
                retry_after_secs: secs_until(next_day_start(state.day), now),
                limit: limits.daily,
            });
        }
        state.check_burst(limits, now)?;
        state.today += 1;
        state.this_month += 1;
        *state.pending.entry(state.day).or_default() += 1;
        Ok(state.snapshot(limits))
    }

    /// `app`'s usage at `now`, counting nothing.
    pub fn usage(&self, app: &str, limits: &Limits, now: DateTime<Utc>) -> UsageSnapshot {
        let day = ist_day(now);
        let shard = self.shard(app);
        match shard.get(app) {
            Some(state) => {
                let (day, today, this_month) = state.rolled(day);
                snapshot(day, today, this_month, limits)
            }
            None => snapshot(day, 0, 0, limits),
        }
    }

    /// Counts already stored (at start, or from other server processes), so quotas hold across
    /// restarts: `requests_that_day` on IST day `day`, `requests_that_month` in its month up to
    /// and including that day.
    ///
    /// The stored counts do not include what this process has not drained yet, so that is added
    /// to them; and a seed never lowers a count, so a stored total read just before this
    /// process's last drain was written cannot undo that drain's requests. A seed for an
    /// earlier day than the one being counted still raises the month's count if it is the same
    /// month; a seed for a later day moves the count on to that day.
    pub fn seed(
        &self,
        app: &str,
        day: NaiveDate,
        requests_that_day: u64,
        requests_that_month: u64,
    ) {
        let mut shard = self.shard(app);
        if !shard.contains_key(app) {
            shard.insert(app.to_owned(), AppState::new(day));
        }
        let Some(state) = shard.get_mut(app) else {
            unreachable!("inserted above under the same lock")
        };
        state.roll_to(day);
        if !same_month(day, state.day) {
            return;
        }
        let pending_month = state.pending_month(day);
        state.this_month = state
            .this_month
            .max(requests_that_month.saturating_add(pending_month));
        if day == state.day {
            let pending_day = state.pending.get(&day).copied().unwrap_or(0);
            state.today = state
                .today
                .max(requests_that_day.saturating_add(pending_day));
        }
    }

    /// The requests counted since the last drain, for the hub to add to its stored usage; each
    /// request is handed back exactly once. Sorted by application and day.
    pub fn drain(&self) -> Vec<UsageDelta> {
        let mut deltas = Vec::new();
        for shard in &self.shards {
            let mut shard = lock(shard);
            for (app, state) in shard.iter_mut() {
                for (day, requests) in std::mem::take(&mut state.pending) {
                    deltas.push(UsageDelta {
                        app: app.clone(),
                        day,
                        requests,
                    });
                }
            }
        }
        deltas.sort_by(|a, b| (&a.app, a.day).cmp(&(&b.app, b.day)));
        deltas
    }

    /// Starts `app` afresh (e.g. after its agreement's limits change): a full burst and zero
    /// counts, until the hub [seeds](Limiter::seed) its stored usage again. Requests counted
    /// and not yet drained are kept for the next [`Limiter::drain`], since they were served.
    pub fn forget(&self, app: &str) {
        let mut shard = self.shard(app);
        let Some(state) = shard.get_mut(app) else {
            return;
        };
        if state.pending.is_empty() {
            shard.remove(app);
        } else {
            // NaiveDate::MIN is before any real day, so the next request rolls to zero counts.
            let pending = std::mem::take(&mut state.pending);
            *state = AppState::new(NaiveDate::MIN);
            state.pending = pending;
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Counters stay consistent even if a holder panicked: every update is a plain assignment.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn snapshot(day: NaiveDate, today: u64, this_month: u64, limits: &Limits) -> UsageSnapshot {
    UsageSnapshot {
        day,
        today,
        daily_limit: limits.daily,
        month: format!("{:04}-{:02}", day.year(), day.month()),
        this_month,
        monthly_limit: limits.monthly,
    }
}

/// The IST calendar day `at` falls in: the day agreements and quotas are counted in.
pub fn ist_day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&IST).date_naive()
}

fn same_month(a: NaiveDate, b: NaiveDate) -> bool {
    (a.year(), a.month()) == (b.year(), b.month())
}

/// 00:00 IST of `day`, in UTC.
fn ist_midnight(day: NaiveDate) -> DateTime<Utc> {
    (day.and_time(NaiveTime::MIN) - TimeDelta::seconds(i64::from(IST_OFFSET_SECS))).and_utc()
}

fn next_day_start(day: NaiveDate) -> DateTime<Utc> {
    match day.succ_opt() {
        Some(next) => ist_midnight(next),
        None => DateTime::<Utc>::MAX_UTC,
    }
}

fn next_month_start(day: NaiveDate) -> DateTime<Utc> {
    let (year, month) = if day.month() == 12 {
        (day.year() + 1, 1)
    } else {
        (day.year(), day.month() + 1)
    };
    match NaiveDate::from_ymd_opt(year, month, 1) {
        Some(first) => ist_midnight(first),
        None => DateTime::<Utc>::MAX_UTC,
    }
}

/// Whole seconds from `now` until `then`, rounded up, at least 1: a client told 0 would retry
/// at once and be refused again.
fn secs_until(then: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    ceil_secs((then - now).to_std().unwrap_or(Duration::ZERO))
}

fn ceil_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

/// Nanoseconds since the Unix epoch, clamped to what governor's u64 clock can hold (1970 to
/// 2262); times outside that never occur in the hub.
fn epoch_nanos(at: DateTime<Utc>) -> Nanos {
    let nanos = match at.timestamp_nanos_opt() {
        Some(n) => u64::try_from(n).unwrap_or(0),
        None if at.timestamp() < 0 => 0,
        None => u64::MAX,
    };
    Nanos::new(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;
    use std::sync::Arc;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    const LOOSE: Limits = Limits {
        per_second: 1000,
        burst: 1000,
        daily: 1_000_000,
        monthly: 10_000_000,
    };

    #[test]
    fn limiter_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Limiter>();
        assert_send_sync::<Arc<Limiter>>();
    }

    #[test]
    fn check_valid_names_the_zero_field() {
        assert_eq!(LOOSE.check_valid(), Ok(()));
        let zero_burst = Limits { burst: 0, ..LOOSE };
        assert!(zero_burst.check_valid().unwrap_err().contains("burst"));
        let zero_daily = Limits { daily: 0, ..LOOSE };
        assert!(zero_daily.check_valid().unwrap_err().contains("daily"));
        let zero_monthly = Limits {
            monthly: 0,
            ..LOOSE
        };
        assert!(zero_monthly.check_valid().unwrap_err().contains("monthly"));
        let zero_rate = Limits {
            per_second: 0,
            ..LOOSE
        };
        assert!(zero_rate.check_valid().unwrap_err().contains("per_second"));
    }

    #[test]
    fn codes() {
        assert_eq!(LimitKind::Burst.code(), "rate.burst");
        assert_eq!(LimitKind::Daily.code(), "quota.daily");
        assert_eq!(LimitKind::Monthly.code(), "quota.monthly");
        let refusal = Refusal {
            kind: LimitKind::Daily,
            retry_after_secs: 5,
            limit: 10,
        };
        assert_eq!(
            refusal.to_string(),
            "quota.daily exceeded (limit 10), retry after 5 s"
        );
    }

    #[test]
    fn burst_then_refused_then_one_more_after_one_interval() {
        let limiter = Limiter::new();
        let limits = Limits {
            per_second: 5,
            burst: 3,
            ..LOOSE
        };
        let t0 = utc(2025, 3, 14, 10, 0, 0);
        for _ in 0..3 {
            limiter.check("a", &limits, t0).unwrap();
        }
        let refusal = limiter.check("a", &limits, t0).unwrap_err();
        assert_eq!(refusal.kind, LimitKind::Burst);
        assert_eq!(refusal.limit, 5);
        assert!(refusal.retry_after_secs >= 1);
        // Refused requests did not count.
        assert_eq!(limiter.usage("a", &limits, t0).today, 3);

        let t1 = t0 + TimeDelta::milliseconds(200);
        limiter.check("a", &limits, t1).unwrap();
        assert_eq!(
            limiter.check("a", &limits, t1).unwrap_err().kind,
            LimitKind::Burst
        );
        // Just short of the next interval is still refused.
        let t2 = t1 + TimeDelta::milliseconds(199);
        assert!(limiter.check("a", &limits, t2).is_err());
        let t3 = t1 + TimeDelta::milliseconds(200);
        assert!(limiter.check("a", &limits, t3).is_ok());
    }

    #[test]
    fn burst_retry_after_rounds_up_to_the_conforming_time() {
        let limiter = Limiter::new();
        let limits = Limits {
            per_second: 1,
            burst: 1,
            ..LOOSE
        };
        let t0 = utc(2025, 3, 14, 10, 0, 0);
        limiter.check("a", &limits, t0).unwrap();
        let refusal = limiter
            .check("a", &limits, t0 + TimeDelta::milliseconds(100))
            .unwrap_err();
        assert_eq!(refusal.retry_after_secs, 1);
    }

    #[test]
    fn changed_limits_take_effect() {
        let limiter = Limiter::new();
        let t0 = utc(2025, 3, 14, 10, 0, 0);
        let tight = Limits {
            per_second: 1,
            burst: 1,
            ..LOOSE
        };
        limiter.check("a", &tight, t0).unwrap();
        assert!(limiter.check("a", &tight, t0).is_err());
        let wider = Limits { burst: 4, ..tight };
        for _ in 0..4 {
            limiter.check("a", &wider, t0).unwrap();
        }
        assert!(limiter.check("a", &wider, t0).is_err());
    }

    #[test]
    fn zero_burst_limits_allow_nothing() {
        let limiter = Limiter::new();
        let t0 = utc(2025, 3, 14, 10, 0, 0);
        let zero = Limits { burst: 0, ..LOOSE };
        let refusal = limiter.check("a", &zero, t0).unwrap_err();
        assert_eq!(refusal.kind, LimitKind::Burst);
        assert_eq!(limiter.usage("a", &zero, t0).today, 0);
    }

    #[test]
    fn daily_quota_resets_at_ist_midnight() {
        let limiter = Limiter::new();
        let limits = Limits { daily: 3, ..LOOSE };
        // 18:00 UTC on the 14th is 23:30 IST on the 14th.
        let evening = utc(2025, 3, 14, 18, 0, 0);
        for _ in 0..3 {
            limiter.check("a", &limits, evening).unwrap();
        }
        let refusal = limiter.check("a", &limits, evening).unwrap_err();
        assert_eq!(refusal.kind, LimitKind::Daily);
        assert_eq!(refusal.limit, 3);
        assert_eq!(refusal.retry_after_secs, 30 * 60);

        // 18:29:59 UTC is 23:59:59 IST: still the 14th, one second to go.
        let last_second = utc(2025, 3, 14, 18, 29, 59);
        let refusal = limiter.check("a", &limits, last_second).unwrap_err();
        assert_eq!(refusal.kind, LimitKind::Daily);
        assert_eq!(refusal.retry_after_secs, 1);
        let usage = limiter.usage("a", &limits, last_second);
        assert_eq!((usage.day, usage.today), (date(2025, 3, 14), 3));

        // 18:30:00 UTC is 00:00 IST on the 15th: a new day.
        let midnight = utc(2025, 3, 14, 18, 30, 0);
        assert_eq!(limiter.usage("a", &limits, midnight).today, 0);
        let snapshot = limiter.check("a", &limits, midnight).unwrap();
        assert_eq!(snapshot.day, date(2025, 3, 15));
        assert_eq!(snapshot.today, 1);
        assert_eq!(snapshot.this_month, 4);
        assert_eq!(snapshot.month, "2025-03");
        assert_eq!(snapshot.daily_limit, 3);
        assert_eq!(snapshot.monthly_limit, LOOSE.monthly);
    }

    #[test]
    fn retry_after_a_fraction_of_a_second_before_midnight_is_one() {
        let limiter = Limiter::new();
        let limits = Limits { daily: 1, ..LOOSE };
        let t = utc(2025, 3, 14, 18, 29, 59) + TimeDelta::milliseconds(999);
        limiter.check("a", &limits, t).unwrap();
        assert_eq!(
            limiter.check("a", &limits, t).unwrap_err().retry_after_secs,
            1
        );
    }

    #[test]
    fn monthly_quota_resets_at_the_ist_month_boundary() {
        let limiter = Limiter::new();
        let limits = Limits {
            daily: 100,
            monthly: 5,
            ..LOOSE
        };
        // Spread over two days of March so the daily quota is not what refuses.
        for _ in 0..3 {
            limiter
                .check("a", &limits, utc(2025, 3, 30, 6, 0, 0))
                .unwrap();
        }
        for _ in 0..2 {
            limiter
                .check("a", &limits, utc(2025, 3, 31, 6, 0, 0))
                .unwrap();
        }
        // 18:29:59 UTC on 31 March is 23:59:59 IST, still March.
        let refusal = limiter
            .check("a", &limits, utc(2025, 3, 31, 18, 29, 59))
            .unwrap_err();
        assert_eq!(refusal.kind, LimitKind::Monthly);
        assert_eq!(refusal.limit, 5);
        assert_eq!(refusal.retry_after_secs, 1);
        let refusal = limiter
            .check("a", &limits, utc(2025, 3, 31, 6, 0, 0))
            .unwrap_err();
        assert_eq!(refusal.retry_after_secs, 12 * 3600 + 30 * 60);
        // 18:30 UTC on 31 March is 00:00 IST on 1 April.
        let snapshot = limiter
            .check("a", &limits, utc(2025, 3, 31, 18, 30, 0))
            .unwrap();
        assert_eq!(snapshot.month, "2025-04");
        assert_eq!((snapshot.today, snapshot.this_month), (1, 1));
    }

    #[test]
    fn monthly_refusal_wins_over_daily() {
        let limiter = Limiter::new();
        let limits = Limits {
            daily: 2,
            monthly: 2,
            ..LOOSE
        };
        let t = utc(2025, 12, 10, 6, 0, 0);
        limiter.check("a", &limits, t).unwrap();
        limiter.check("a", &limits, t).unwrap();
        let refusal = limiter.check("a", &limits, t).unwrap_err();
        assert_eq!(refusal.kind, LimitKind::Monthly);
        // Until 00:00 IST on 1 January, which is 18:30 UTC on 31 December.
        let expected = (utc(2025, 12, 31, 18, 30, 0) - t).num_seconds();
        assert_eq!(refusal.retry_after_secs, expected as u64);
    }

    #[test]
    fn a_quota_refusal_does_not_use_the_burst() {
        let limiter = Limiter::new();
        let limits = Limits {
            per_second: 1,
            burst: 2,
            daily: 1,
            monthly: 100,
        };
        let t = utc(2025, 3, 14, 6, 0, 0);
        limiter.check("a", &limits, t).unwrap();
        for _ in 0..10 {
            assert_eq!(
                limiter.check("a", &limits, t).unwrap_err().kind,
                LimitKind::Daily
            );
        }
        // Same burst limits, a larger quota, the same instant: the second token of the burst
        // is still there, so the refusals did not take it.
        let limits = Limits {
            daily: 10,
            ..limits
        };
        limiter.check("a", &limits, t).unwrap();
        assert_eq!(
            limiter.check("a", &limits, t).unwrap_err().kind,
            LimitKind::Burst
        );
    }

    #[test]
    fn seeded_counts_are_respected() {
        let limiter = Limiter::new();
        let limits = Limits {
            daily: 10,
            monthly: 100,
            ..LOOSE
        };
        let t = utc(2025, 3, 14, 6, 0, 0);
        limiter.seed("a", date(2025, 3, 14), 8, 40);
        let usage = limiter.usage("a", &limits, t);
        assert_eq!((usage.today, usage.this_month), (8, 40));
        limiter.check("a", &limits, t).unwrap();
        limiter.check("a", &limits, t).unwrap();
        assert_eq!(
            limiter.check("a", &limits, t).unwrap_err().kind,
            LimitKind::Daily
        );

        // The month's seed carries into the next day.
        let next = utc(2025, 3, 15, 6, 0, 0);
        let snapshot = limiter.check("a", &limits, next).unwrap();
        assert_eq!((snapshot.today, snapshot.this_month), (1, 43));
    }

    #[test]
    fn seed_adds_undrained_counts_and_never_lowers() {
        let limiter = Limiter::new();
        let t = utc(2025, 3, 14, 6, 0, 0);
        let day = date(2025, 3, 14);
        for _ in 0..5 {
            limiter.check("a", &LOOSE, t).unwrap();
        }
        // Another process stored 20 today, 200 this month; our 5 are not stored yet.
        limiter.seed("a", day, 20, 200);
        let usage = limiter.usage("a", &LOOSE, t);
        assert_eq!((usage.today, usage.this_month), (25, 205));
        // A stale read of the store does not lower the counts.
        limiter.seed("a", day, 3, 30);
        let usage = limiter.usage("a", &LOOSE, t);
        assert_eq!((usage.today, usage.this_month), (25, 205));
        // Nor does a seed for last month change this month.
        limiter.seed("a", date(2025, 2, 28), 1000, 1000);
        assert_eq!(limiter.usage("a", &LOOSE, t).this_month, 205);
        // A seed of an earlier day of the same month raises the month only.
        limiter.seed("a", date(2025, 3, 13), 1000, 1000);
        let usage = limiter.usage("a", &LOOSE, t);
        assert_eq!((usage.today, usage.this_month), (25, 1005));
        // Seeding never reports its counts back through drain.
        assert_eq!(
            limiter.drain(),
            vec![UsageDelta {
                app: "a".into(),
                day,
                requests: 5
            }]
        );
    }

    #[test]
    fn drain_returns_deltas_once() {
        let limiter = Limiter::new();
        let evening = utc(2025, 3, 14, 18, 0, 0); // 14 March IST
        let night = utc(2025, 3, 14, 19, 0, 0); // 15 March IST
        for _ in 0..3 {
            limiter.check("b", &LOOSE, evening).unwrap();
        }
        limiter.check("a", &LOOSE, evening).unwrap();
        limiter.check("b", &LOOSE, night).unwrap();
        let deltas = limiter.drain();
        assert_eq!(
            deltas,
            vec![
                UsageDelta {
                    app: "a".into(),
                    day: date(2025, 3, 14),
                    requests: 1
                },
                UsageDelta {
                    app: "b".into(),
                    day: date(2025, 3, 14),
                    requests: 3
                },
                UsageDelta {
                    app: "b".into(),
                    day: date(2025, 3, 15),
                    requests: 1
                },
            ]
        );
        assert!(limiter.drain().is_empty());
        // Draining does not reset the quotas.
        assert_eq!(limiter.usage("b", &LOOSE, night).this_month, 4);
        limiter.check("a", &LOOSE, night).unwrap();
        assert_eq!(limiter.drain().len(), 1);
    }

    #[test]
    fn apps_are_independent() {
        let limiter = Limiter::new();
        let limits = Limits {
            per_second: 1,
            burst: 2,
            daily: 3,
            monthly: 100,
        };
        let t = utc(2025, 3, 14, 6, 0, 0);
        limiter.check("a", &limits, t).unwrap();
        limiter.check("a", &limits, t).unwrap();
        assert!(limiter.check("a", &limits, t).is_err());
        limiter.check("b", &limits, t).unwrap();
        limiter.check("b", &limits, t).unwrap();
        assert_eq!(limiter.usage("a", &limits, t).today, 2);
        assert_eq!(limiter.usage("b", &limits, t).today, 2);
        assert_eq!(limiter.usage("c", &limits, t).today, 0);
    }

    #[test]
    fn forget_starts_afresh_but_keeps_undrained_counts() {
        let limiter = Limiter::new();
        let limits = Limits {
            per_second: 1,
            burst: 1,
            daily: 1,
            monthly: 100,
        };
        let t = utc(2025, 3, 14, 6, 0, 0);
        limiter.check("a", &limits, t).unwrap();
        assert!(limiter.check("a", &limits, t).is_err());
        limiter.forget("a");
        assert_eq!(limiter.usage("a", &limits, t).today, 0);
        limiter.check("a", &limits, t).unwrap();
        let deltas = limiter.drain();
        assert_eq!(deltas.len(), 1);
        assert_eq!(deltas[0].requests, 2);
        limiter.forget("a");
        limiter.forget("never-seen");
        assert!(limiter.drain().is_empty());
    }

    #[test]
    fn concurrent_requests_never_exceed_the_burst() {
        let limiter = Arc::new(Limiter::new());
        let limits = Limits {
            per_second: 1,
            burst: 50,
            ..LOOSE
        };
        let t = utc(2025, 3, 14, 6, 0, 0);
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let limiter = Arc::clone(&limiter);
                std::thread::spawn(move || {
                    (0..40)
                        .filter(|_| limiter.check("a", &limits, t).is_ok())
                        .count()
                })
            })
            .collect();
        let allowed: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(allowed, 50);
        assert_eq!(limiter.usage("a", &limits, t).today, 50);
    }

    proptest! {
        /// The GCRA guarantee: in any window of w seconds at most burst + per_second * w
        /// requests are allowed.
        #[test]
        fn allowed_requests_never_exceed_burst_plus_rate_times_window(
            per_second in 1u32..20,
            burst in 1u32..20,
            gaps_ms in proptest::collection::vec(0i64..400, 1..300),
        ) {
            let limiter = Limiter::new();
            let limits = Limits { per_second, burst, ..LOOSE };
            let start = utc(2025, 3, 14, 6, 0, 0);
            let mut at_ms = 0i64;
            let mut allowed = Vec::new();
            for gap in gaps_ms {
                at_ms += gap;
                let now = start + TimeDelta::milliseconds(at_ms);
                if limiter.check("a", &limits, now).is_ok() {
                    allowed.push(at_ms);
                }
            }
            for i in 0..allowed.len() {
                for j in i..allowed.len() {
                    let count = (j - i + 1) as i64;
                    let window_ms = allowed[j] - allowed[i];
                    // count <= burst + per_second * window, in milliseconds to stay exact.
                    prop_assert!(
                        (count - i64::from(burst)) * 1000 <= i64::from(per_second) * window_ms,
                        "{count} allowed in {window_ms} ms"
                    );
                }
            }
        }
    }
}
