//! Generation of maintenance tasks: nightly, on demand (`guanxi maintenance
//! generate`, the API) and within a minute of a churn warning.
//!
//! One pass reads every customer a range of ids at a time with the facts
//! the customer-level scenarios need (segmentation, revisit stream,
//! contract end, cooperation start, contact window), plus the customers
//! with an open stream task and the first order dates of the few that may
//! be new — a handful of indexed queries per range, none per customer. The
//! domain decides; the tasks of a range are written in one transaction
//! with `INSERT … ON CONFLICT DO NOTHING` on the (customer, scenario,
//! occasion) key, so that a second run creates nothing. Birthdays are found
//! through the contacts' month-and-day digests, churn warnings through the
//! pending `segment_events` rows, consumed in the transaction that creates
//! their tasks.

use std::collections::{BTreeMap, HashMap, HashSet};

use guanxi_domain::plan::scenarios::{self, NewCustomerFacts, RevisitFacts};
use guanxi_domain::plan::{PlanRules, Planned};
use guanxi_store::maintenance::{self as store, PlanFacts};
use guanxi_store::segments::{self, event};
use guanxi_store::settings as store_settings;
use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use serde::Serialize;

use super::{Batch, GENERATED_AT_KEY, ORDERS_SEEN_KEY, Planner, tier_of, write_batch};
use crate::error::AppResult;
use crate::state::AppState;
use guanxi_store::users::User;

/// Customers read per round trip.
const BATCH: i64 = 20_000;
/// Churn warnings handled per transaction: few large transactions write
/// each hot index page to the WAL once instead of once per small one.
const CHURN_BATCH: i64 = 20_000;
/// Birthdays handled per transaction (each decrypted once, when new).
const EVENT_BATCH: i64 = 5_000;

/// What a generation did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GenerationReport {
    pub customers: usize,
    /// Tasks created, in all.
    pub created: usize,
    /// Tasks created per scenario.
    pub by_scenario: BTreeMap<String, usize>,
    /// Churn warnings consumed.
    pub churn_warnings: usize,
    /// Contact birthdays given their month-and-day digest.
    pub birthdays_keyed: usize,
    pub seconds: f64,
}

/// One generation at a time per process (nightly, on demand, churn polling).
static RUNNING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The nightly job (checks once a minute, by the state's clock) and the
/// churn-warning poll, when `GUANXI_MAINTENANCE_HOUR` is set.
pub fn spawn_jobs(state: AppState) {
    let Some(hour) = state.config.maintenance_hour else { return };
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            match consume_churn_warnings(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(tasks = n, "churn recovery tasks created"),
                Err(e) => tracing::warn!(error = %e, "churn recovery: cannot create tasks"),
            }
            let last = match state.db.read(|c| store_settings::get(c, GENERATED_AT_KEY)).await {
                Ok(v) => v.and_then(|s| s.parse::<Timestamp>().ok()),
                Err(e) => {
                    tracing::warn!(error = %e, "maintenance schedule: cannot read the last run");
                    continue;
                }
            };
            if crate::service::segments::nightly_due(last, state.clock.now(), hour, &state.config.time_zone) {
                match generate(&state, &|_, _| {}).await {
                    Ok(r) => {
                        tracing::info!(customers = r.customers, created = r.created, "maintenance tasks generated")
                    }
                    Err(e) => tracing::warn!(error = %e, "maintenance generation failed"),
                }
            }
        }
    });
}

/// Generation on demand (supervisors and administrators).
pub async fn generate_now(state: &AppState, user: &User) -> AppResult<GenerationReport> {
    if !user.role.sees_all_customers() {
        return Err(crate::error::AppError::Forbidden);
    }
    generate(state, &|_, _| {}).await
}

/// Turns pending churn warnings into churn-recovery tasks; returns how
/// many tasks were created.
pub async fn consume_churn_warnings(state: &AppState) -> AppResult<usize> {
    // The minute's poll usually finds nothing: ask before loading the rules.
    let pending = state.db.read(|c| segments::pending_events(c, event::CHURN_WARNING, 1)).await?;
    if pending.is_empty() {
        return Ok(0);
    }
    let _one = RUNNING.lock().await;
    let tz = state.config.time_zone.clone();
    let planner = state.db.read(move |c| Planner::read(c, &tz)).await?;
    let mut report = GenerationReport::default();
    churn(state, &planner, &mut report).await?;
    Ok(report.created)
}

/// A batch being written while the next one is read and planned (the
/// writer and the readers are different threads: on two cores they overlap).
struct Pending(Vec<&'static str>, tokio::task::JoinHandle<guanxi_store::Result<Vec<Option<i64>>>>);

impl Pending {
    fn start(state: &AppState, batch: Batch, now: Timestamp, consume: Vec<i64>) -> Option<Pending> {
        if batch.is_empty() && consume.is_empty() {
            return None;
        }
        let db = state.db.clone();
        let scenarios = batch.scenarios();
        Some(Pending(
            scenarios,
            tokio::spawn(async move {
                db.write(move |c| {
                    let created = write_batch(c, &batch, now)?;
                    segments::consume_events(c, &consume, now)?;
                    Ok(created)
                })
                .await
            }),
        ))
    }

    async fn finish(this: Option<Pending>, report: &mut GenerationReport) -> AppResult<()> {
        if let Some(Pending(scenarios, handle)) = this {
            let created = handle.await.map_err(|e| crate::error::AppError::Internal(e.to_string()))??;
            tally(report, &scenarios, &created);
        }
        Ok(())
    }
}

async fn churn(state: &AppState, planner: &Planner, report: &mut GenerationReport) -> AppResult<()> {
    let mut pending: Option<Pending> = None;
    let mut after = 0i64;
    loop {
        let events = state.db.read(move |c| store::churn_warnings_after(c, after, CHURN_BATCH)).await?;
        if events.is_empty() {
            return Pending::finish(pending, report).await;
        }
        after = events.last().map_or(after, |e| e.id);
        let ids: Vec<i64> = events.iter().map(|e| e.customer_id).collect();
        let facts = state.db.read(move |c| store::facts_of(c, &ids)).await?;
        let by_id: HashMap<i64, &PlanFacts> = facts.iter().map(|f| (f.id, f)).collect();
        let mut tasks = Vec::new();
        for e in &events {
            let (Some(f), Some(p)) =
                (by_id.get(&e.customer_id), scenarios::churn_recovery(&planner.rules, e.id, &e.detail, e.at))
            else {
                continue;
            };
            tasks.push(planner.task(f, &p, None));
        }
        let consumed: Vec<i64> = events.iter().map(|e| e.id).collect();
        report.churn_warnings += consumed.len();
        let batch = Batch::new(tasks, &state.config.time_zone);
        Pending::finish(pending.take(), report).await?;
        pending = Pending::start(state, batch, state.clock.now(), consumed);
    }
}

/// Counts the created tasks per scenario (`created` is aligned with `scenarios`).
fn tally(report: &mut GenerationReport, scenarios: &[&'static str], created: &[Option<i64>]) {
    for (scenario, id) in scenarios.iter().zip(created) {
        if id.is_some() {
            report.created += 1;
            *report.by_scenario.entry((*scenario).to_string()).or_default() += 1;
        }
    }
}

/// Generates every task that should exist now and does not yet.
/// `progress(done, total)` is called per range of customers.
pub async fn generate(state: &AppState, progress: &(dyn Fn(usize, usize) + Sync)) -> AppResult<GenerationReport> {
    let _one = RUNNING.lock().await;
    let started = std::time::Instant::now();
    let now = state.clock.now();
    let today = state.today();
    let tz = state.config.time_zone.clone();
    let tz2 = tz.clone();
    let planner = state.db.read(move |c| Planner::read(c, &tz2)).await?;
    let mut report = GenerationReport::default();

    churn(state, &planner, &mut report).await?;
    tracing::debug!(ms = started.elapsed().as_millis(), "maintenance: churn warnings done");
    birthdays(state, &planner, today, &mut report).await?;
    tracing::debug!(ms = started.elapsed().as_millis(), "maintenance: birthdays done");

    // Customers with orders recorded since the last run may have bought for
    // the first time. Orders before the first run are history.
    let (seen, max_order) =
        state.db.read(|c| Ok((store_settings::get(c, ORDERS_SEEN_KEY)?, store::max_order_id(c)?))).await?;
    let new_buyers: HashSet<i64> = match seen.and_then(|s| s.parse::<i64>().ok()) {
        Some(seen) if seen < max_order => state
            .db
            .read(move |c| store::customers_with_orders_between(c, seen, max_order))
            .await?
            .into_iter()
            .collect(),
        _ => HashSet::new(),
    };

    let holidays = scenarios::holidays_ahead(&planner.rules, today, &planner.calendar);
    let care_days: HashSet<(i8, i8)> =
        scenarios::care_dates(&planner.rules, today, &planner.calendar).iter().map(|d| (d.month(), d.day())).collect();
    let lookback = now - jiff::SignedDuration::from_hours(24 * i64::from(planner.rules.first_follow_up.lookback_days));
    let since = today.checked_sub(i64::from(planner.rules.first_follow_up.lookback_days).days()).unwrap_or(today);
    let max_id = state.db.read(segments::max_customer_id).await?;
    let total = usize::try_from(max_id).unwrap_or(0);
    let mut after = 0i64;
    let mut pending: Option<Pending> = None;
    let (mut reading, mut planning, mut writing) = (0u128, 0u128, 0u128);
    while after < max_id {
        let t0 = std::time::Instant::now();
        let through = (after + BATCH).min(max_id);
        let buyers: HashSet<i64> = new_buyers.iter().copied().filter(|id| *id > after && *id <= through).collect();
        let (facts, open, firsts) = state
            .db
            .read(move |c| {
                let facts = store::facts_range(c, after, through)?;
                let open = store::open_stream_range(c, after, through)?;
                // Customers who may be new (registered, cooperating or buying
                // within the look-back, or with new orders) and whose
                // cooperation and first purchase do not go back further:
                // only they need their first order looked up.
                let candidates: Vec<i64> = facts
                    .iter()
                    .filter(|f| may_be_new(f, lookback, since, buyers.contains(&f.id)))
                    .map(|f| f.id)
                    .collect();
                let firsts = store::first_order_dates(c, &candidates)?;
                Ok((facts, open, firsts))
            })
            .await?;
        reading += t0.elapsed().as_millis();
        let t1 = std::time::Instant::now();
        let open: HashSet<i64> = open.into_iter().collect();
        let firsts: HashMap<i64, Date> = firsts.into_iter().collect();
        let mut tasks = Vec::new();
        for f in &facts {
            let may_be_new = may_be_new(f, lookback, since, new_buyers.contains(&f.id));
            let first_order = if may_be_new { firsts.get(&f.id).copied() } else { None };
            let x = Facts { open: &open, first_order, may_be_new, holidays: &holidays, care_days: &care_days };
            for p in plan_customer(&planner.rules, f, &x, today, now, &planner) {
                tasks.push(planner.task(f, &p, None));
            }
        }
        report.customers += facts.len();
        planning += t1.elapsed().as_millis();
        let t2 = std::time::Instant::now();
        let batch = Batch::new(tasks, &tz);
        // Waiting for the previous range's write (the time the writer is behind).
        Pending::finish(pending.take(), &mut report).await?;
        pending = Pending::start(state, batch, now, Vec::new());
        writing += t2.elapsed().as_millis();
        after = through;
        progress(usize::try_from(after).unwrap_or(0), total);
    }
    let t3 = std::time::Instant::now();
    Pending::finish(pending.take(), &mut report).await?;
    writing += t3.elapsed().as_millis();
    tracing::debug!(
        reading,
        planning,
        writing,
        "maintenance: customers scanned (ms; writing = waiting for the writer)"
    );
    let mark = max_order.to_string();
    state
        .db
        .write(move |c| {
            store_settings::set(c, ORDERS_SEEN_KEY, &mark, now)?;
            store_settings::set(c, GENERATED_AT_KEY, &now.to_string(), now)
        })
        .await?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Whether a customer may be new: registered, cooperating or buying within
/// the look-back (or with orders since the last run), and not cooperating
/// or buying since before it (imported history).
fn may_be_new(f: &PlanFacts, lookback: Timestamp, since: Date, bought: bool) -> bool {
    let recent = bought
        || f.created_at >= lookback
        || f.cooperation_start.is_some_and(|d| d >= since)
        || f.first_purchase_on.is_some_and(|d| d >= since);
    let old = f.cooperation_start.is_some_and(|d| d < since) || f.first_purchase_on.is_some_and(|d| d < since);
    recent && !old
}

/// What a range's queries found beside a customer's own facts.
struct Facts<'a> {
    open: &'a HashSet<i64>,
    first_order: Option<Date>,
    may_be_new: bool,
    holidays: &'a [(String, Date)],
    care_days: &'a HashSet<(i8, i8)>,
}

/// The customer-level scenarios of one customer.
fn plan_customer(
    r: &PlanRules,
    f: &PlanFacts,
    x: &Facts<'_>,
    today: Date,
    now: Timestamp,
    planner: &Planner,
) -> Vec<Planned> {
    let mut out = Vec::new();
    let tier = tier_of(f);
    let churned = f.stage == "churned";
    if x.may_be_new {
        let facts = NewCustomerFacts {
            registered_at: f.created_at,
            cooperation_start: f.cooperation_start,
            first_purchase_on: [f.first_purchase_on, x.first_order].into_iter().flatten().min(),
        };
        out.extend(scenarios::first_follow_up(r, &facts, now, planner.calendar.time_zone()));
    }
    if let Some(end) = f.contract_end {
        out.extend(scenarios::renewal(r, end, today));
    }
    if churned {
        return out;
    }
    let stream = RevisitFacts {
        tier,
        cooperating_since: f.cooperation_start.or(f.first_purchase_on),
        last_contact_on: f.last_contact_on,
        last_deep_on: f.last_deep_on,
        stream_open: x.open.contains(&f.id),
    };
    out.extend(scenarios::revisit(r, &stream, today));
    if let Some(start) = f.cooperation_start
        && x.care_days.contains(&(start.month(), start.day()))
    {
        out.extend(scenarios::anniversary(r, start, today, &planner.calendar));
    }
    for (name, on) in x.holidays {
        out.extend(scenarios::holiday(r, name, *on, tier, today, &planner.calendar));
    }
    if f.activity.as_deref() == Some("silent") {
        out.extend(scenarios::silent_care(r, f.last_interaction_on, today, &planner.calendar));
    }
    out.extend(scenarios::content_push(r, tier, today));
    out
}

/// Gives new and changed birthdays their digest, then plans the greetings
/// of the birthdays coming round.
async fn birthdays(state: &AppState, planner: &Planner, today: Date, report: &mut GenerationReport) -> AppResult<()> {
    if !planner.rules.milestone.enabled || !planner.rules.milestone.birthdays {
        return Ok(());
    }
    loop {
        let rows = state.db.read(|c| store::birthdays_without_key(c, EVENT_BATCH)).await?;
        if rows.is_empty() {
            break;
        }
        let keys: Vec<(i64, String)> = rows
            .iter()
            .map(|(id, enc)| {
                let key = state
                    .cipher
                    .decrypt(enc)
                    .ok()
                    .and_then(|s| s.parse::<Date>().ok())
                    .map(|d| birthday_key(state, d.month(), d.day()))
                    .unwrap_or_default();
                (*id, key)
            })
            .collect();
        report.birthdays_keyed += keys.len();
        state.db.write(move |c| store::set_birthday_keys(c, &keys)).await?;
    }
    // The month-and-day digests of the days whose birthdays are greeted now
    // (a 29 February birthday on 28 February in other years).
    let mut wanted: HashMap<String, (i8, i8)> = HashMap::new();
    for d in scenarios::care_dates(&planner.rules, today, &planner.calendar) {
        wanted.insert(birthday_key(state, d.month(), d.day()), (d.month(), d.day()));
        if d.month() == 2 && d.day() == 28 && !d.in_leap_year() {
            wanted.insert(birthday_key(state, 2, 29), (2, 29));
        }
    }
    let keys: Vec<String> = wanted.keys().cloned().collect();
    let rows = state.db.read(move |c| store::contacts_with_birthday_keys(c, &keys)).await?;
    let (now, tz) = (state.clock.now(), state.config.time_zone.clone());
    for chunk in rows.chunks(usize::try_from(EVENT_BATCH).unwrap_or(5_000)) {
        let mut tasks = Vec::new();
        for b in chunk {
            let Some(&(m, d)) = wanted.get(&b.key) else { continue };
            // Any leap year carries every month and day.
            let Ok(born) = Date::new(2000, m, d) else { continue };
            if let Some(p) = scenarios::birthday(&planner.rules, b.contact_id, &b.name, born, today, &planner.calendar)
            {
                tasks.push(planner.task(&b.customer, &p, Some(b.contact_id)));
            }
        }
        if tasks.is_empty() {
            continue;
        }
        let batch = Batch::new(tasks, &tz);
        Pending::finish(Pending::start(state, batch, now, Vec::new()), report).await?;
    }
    Ok(())
}

/// The keyed digest of a birthday's month and day.
pub(super) fn birthday_key(state: &AppState, month: i8, day: i8) -> String {
    state.cipher.index("birthday", &format!("{month:02}-{day:02}"))
}
