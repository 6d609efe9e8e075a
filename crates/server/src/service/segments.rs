//! Segmentation and churn warning (SPEC G1–G7): the settings, the recompute
//! job, and what pages and the API read.
//!
//! The job reads customers a range of ids at a time (orders, communications
//! and product events summed by the database from indexes), keeps one small
//! record per customer in memory, then computes RFM cut-offs over everyone,
//! fits BG/NBD on a deterministic sample, and writes back only the rows that
//! changed — with a timeline entry for each change of tier, activity,
//! churn state or rule tags (evaluated by `service::rule_tags`), and a
//! `churn_warning` event (the hook maintenance plans consume) for each
//! customer newly at risk.

use guanxi_domain::Lang;
use guanxi_domain::churn::bgnbd::{self, CustomerHistory, Params};
use guanxi_domain::customer::LifecycleStage;
use guanxi_domain::money::Money;
use guanxi_domain::segment::{
    self, Activity, ActivityRules, Change, ChurnReason, Counts, CustomerFacts, RfmInput, Segment, Signal, SignalFacts,
    SignalKind, SignalRule, Standing, TierPeriod, TierThresholds, ValueTier,
};
use guanxi_store::segments::{self, ContactFigures, OrderFigures, Stored};
use guanxi_store::timeline::{self, NewEntry};
use guanxi_store::{audit, settings as store_settings};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};
use crate::state::AppState;
use guanxi_store::users::User;

/// The settings key holding [`SegmentSettings`] as JSON.
const SETTINGS_KEY: &str = "segmentation";
/// Customers read per round trip.
const BATCH: i64 = 5_000;
/// BG/NBD is fitted on at most this many customers (every k-th by id).
const FIT_SAMPLE: usize = 20_000;
/// A customer who keeps this tag is "in contact with a competitor" (G4).
pub const COMPETITOR_TAG: &str = "竞品接触";
/// The timeline entry of a recomputation that changed something.
pub const TIMELINE_TITLE: &str = "segment.changed";

/// Everything an administrator sets for segmentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SegmentSettings {
    pub tiers: TierThresholds,
    pub period: TierPeriod,
    pub activity: ActivityRules,
    pub signals: Vec<SignalRule>,
    /// Expected purchases are predicted this many weeks ahead.
    pub horizon_weeks: i64,
}

impl Default for SegmentSettings {
    fn default() -> Self {
        Self {
            tiers: TierThresholds::default(),
            period: TierPeriod::Rolling,
            activity: ActivityRules::default(),
            signals: SignalRule::defaults(),
            horizon_weeks: 13,
        }
    }
}

impl SegmentSettings {
    fn rule(&self, kind: SignalKind) -> SignalRule {
        self.signals.iter().find(|r| r.kind == kind).copied().unwrap_or_else(|| SignalRule::default_for(kind))
    }

    pub fn validate(&self) -> Result<(), guanxi_domain::ValidationErrors> {
        let mut e = guanxi_domain::ValidationErrors::new();
        for r in [self.tiers.validate(), self.activity.validate(), SignalRule::validate_all(&self.signals)] {
            if let Err(x) = r {
                e.0.extend(x.0);
            }
        }
        if !(1..=104).contains(&self.horizon_weeks) {
            e.add("horizon_weeks", guanxi_domain::Issue::OutOfRange);
        }
        e.into_result(|| ())
    }
}

pub async fn load_settings(state: &AppState) -> AppResult<SegmentSettings> {
    let raw = state.db.read(|c| store_settings::get(c, SETTINGS_KEY)).await?;
    Ok(raw.and_then(|r| serde_json::from_str(&r).ok()).unwrap_or_default())
}

/// Saves new settings (administrators); the next recomputation uses them.
pub async fn save_settings(state: &AppState, user: &User, s: SegmentSettings) -> AppResult<()> {
    if !user.role.can_administer_users() {
        return Err(AppError::Forbidden);
    }
    s.validate()?;
    let json = serde_json::to_string(&s).map_err(|e| AppError::Internal(e.to_string()))?;
    let now = state.clock.now();
    let actor = user.id;
    state
        .db
        .write(move |c| {
            store_settings::set(c, SETTINGS_KEY, &json, now)?;
            audit::record(
                c,
                now,
                &audit::AuditEntry {
                    actor_id: Some(actor),
                    action: "update",
                    entity: "segment_settings",
                    entity_id: None,
                    detail: json.clone(),
                    ip: None,
                },
            )
        })
        .await?;
    Ok(())
}

/// What a recomputation did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RecomputeReport {
    pub customers: usize,
    /// Rows written (new or changed).
    pub changed: usize,
    pub at_risk: usize,
    /// Churn warnings newly raised (events for maintenance plans).
    pub warnings_raised: usize,
    /// The BG/NBD parameters fitted, if the history allowed a fit.
    pub params: Option<Params>,
    pub fitted_on: usize,
    /// Why the model could not be fitted (then P(alive) is left empty).
    pub fit_error: Option<String>,
}

/// One customer's figures between the read and the write.
struct Figures {
    id: i64,
    industry: Option<String>,
    region: Option<String>,
    stage: String,
    tags: Vec<String>,
    orders: Option<OrderFigures>,
    contacts: Option<ContactFigures>,
    last_login: Option<Timestamp>,
    last_event: Option<Timestamp>,
}

/// The instant window for a date window `(after, through]`: a timestamp is
/// in it when its local date is.
fn instants(w: (Date, Date), tz: &jiff::tz::TimeZone) -> (Timestamp, Timestamp) {
    let start = |d: Date| {
        d.tomorrow()
            .ok()
            .and_then(|n| n.to_zoned(tz.clone()).ok())
            .map_or(Timestamp::UNIX_EPOCH, |z| z.timestamp())
            .checked_sub(jiff::SignedDuration::from_millis(1))
            .unwrap_or(Timestamp::UNIX_EPOCH)
    };
    (start(w.0), start(w.1))
}

fn days_between(from: Date, to: Date) -> i64 {
    (to - from).get_days().into()
}

/// One recomputation at a time per process (nightly and on demand).
static RUNNING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Whether the nightly run is due: the last scheduled instant (today's
/// `hour` o'clock local time if it has passed, else yesterday's) is later
/// than the last run.
pub fn nightly_due(last_run: Option<Timestamp>, now: Timestamp, hour: i8, tz: &jiff::tz::TimeZone) -> bool {
    let local = now.to_zoned(tz.clone());
    let today_at = local.date().at(hour, 0, 0, 0).to_zoned(tz.clone()).map(|z| z.timestamp());
    let Ok(today_at) = today_at else { return false };
    let slot = if now >= today_at { today_at } else { today_at - jiff::SignedDuration::from_hours(24) };
    last_run.is_none_or(|last| last < slot)
}

/// The nightly job: checks once a minute (times from the state's clock).
pub fn spawn_nightly(state: AppState) {
    let Some(hour) = state.config.segment_recompute_hour else { return };
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            let last = match state.db.read(|c| store_settings::get(c, "segmentation_computed_at")).await {
                Ok(v) => v.and_then(|s| s.parse::<Timestamp>().ok()),
                Err(e) => {
                    tracing::warn!(error = %e, "segmentation schedule: cannot read the last run");
                    continue;
                }
            };
            if nightly_due(last, state.clock.now(), hour, &state.config.time_zone) {
                match recompute(&state, &|_, _| {}).await {
                    Ok(r) => tracing::info!(customers = r.customers, changed = r.changed, "segmentation recomputed"),
                    Err(e) => tracing::warn!(error = %e, "segmentation recompute failed"),
                }
            }
        }
    });
}

/// Recomputes every customer's segmentation. `progress(done, total)` is
/// called per batch of customers read and written.
pub async fn recompute(state: &AppState, progress: &(dyn Fn(usize, usize) + Sync)) -> AppResult<RecomputeReport> {
    let _one_at_a_time = RUNNING.lock().await;
    let s = load_settings(state).await?;
    let today = state.today();
    let now = state.clock.now();
    let tz = state.config.time_zone.clone();
    let (od, sd) = (s.rule(SignalKind::OrderDrop), s.rule(SignalKind::SpendDrop));
    let (cd, cs, nf) =
        (s.rule(SignalKind::ConsultationDrop), s.rule(SignalKind::ContactSpike), s.rule(SignalKind::NegativeFeedback));
    let order_windows = vec![
        segment::spend_window(s.period, today),
        od.recent_window(today),
        od.prior_window(today),
        sd.recent_window(today),
        sd.prior_window(today),
    ];
    let contact_windows: Vec<(Timestamp, Timestamp)> = [
        cd.recent_window(today),
        cd.prior_window(today),
        cs.recent_window(today),
        cs.prior_window(today),
        nf.recent_window(today),
        nf.prior_window(today),
    ]
    .into_iter()
    .map(|w| instants(w, &tz))
    .collect();

    // Pass 1: read.
    let max_id = state.db.read(segments::max_customer_id).await?;
    let total = usize::try_from(max_id).unwrap_or(0);
    let mut figs: Vec<Figures> = Vec::new();
    let mut after = 0i64;
    while after < max_id {
        let through = (after + BATCH).min(max_id);
        let (ow, cw) = (order_windows.clone(), contact_windows.clone());
        let batch = state
            .db
            .read(move |c| {
                let fields = segments::customer_fields(c, after, through)?;
                let orders = segments::order_figures(c, after, through, today, &ow)?;
                let contacts = segments::contact_figures(c, after, through, &cw)?;
                let events = segments::event_figures(c, after, through)?;
                Ok((fields, orders, contacts, events))
            })
            .await?;
        let (fields, orders, contacts, events) = batch;
        let mut orders = orders.into_iter().peekable();
        let mut contacts = contacts.into_iter().peekable();
        let mut events = events.into_iter().peekable();
        for f in fields {
            let mut take_orders = None;
            while let Some(o) = orders.next_if(|o| o.customer_id <= f.id) {
                if o.customer_id == f.id {
                    take_orders = Some(o);
                }
            }
            let mut take_contacts = None;
            while let Some(x) = contacts.next_if(|x| x.customer_id <= f.id) {
                if x.customer_id == f.id {
                    take_contacts = Some(x);
                }
            }
            let (mut last_login, mut last_event) = (None, None);
            while let Some(e) = events.next_if(|e| e.0 <= f.id) {
                if e.0 == f.id {
                    (last_login, last_event) = (e.1, e.2);
                }
            }
            figs.push(Figures {
                id: f.id,
                industry: f.industry,
                region: f.region,
                stage: f.stage,
                tags: f.tags,
                orders: take_orders,
                contacts: take_contacts,
                last_login,
                last_event,
            });
        }
        after = through;
        progress(usize::try_from(after).unwrap_or(0) / 2, total);
    }

    // Pass 2: what needs everyone — RFM cut-offs and the BG/NBD fit.
    let rfm_of = |f: &Figures| -> Option<RfmInput> {
        let o = f.orders.as_ref()?;
        Some(RfmInput {
            recency_days: days_between(o.last_on?, today).max(0),
            frequency: o.orders,
            monetary_fen: o.spend_fen,
        })
    };
    let inputs: Vec<RfmInput> = figs.iter().filter_map(rfm_of).collect();
    let cutoffs = segment::rfm_cutoffs(&inputs);
    drop(inputs);
    let history_of = |f: &Figures| -> Option<CustomerHistory> {
        let o = f.orders.as_ref()?;
        let (first, last) = (o.first_on?, o.last_on?);
        let t = days_between(first, today) as f64 / 7.0;
        (t > 0.0).then(|| CustomerHistory {
            x: (o.days - 1).max(0) as f64,
            t_x: days_between(first, last) as f64 / 7.0,
            t,
        })
    };
    let with_history = figs.iter().filter(|f| history_of(f).is_some()).count();
    let step = with_history.div_ceil(FIT_SAMPLE).max(1);
    let sample: Vec<CustomerHistory> = figs.iter().filter_map(history_of).step_by(step).collect();
    let fitted_on = sample.len();
    let fit = if sample.is_empty() {
        Err(bgnbd::FitError::NoCustomers.to_string())
    } else {
        tokio::task::spawn_blocking(move || bgnbd::fit(&sample).map(|f| f.params).map_err(|e| e.to_string()))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?
    };
    if let Err(e) = &fit {
        tracing::warn!(error = %e, "BG/NBD: no fit, P(alive) left empty");
    }
    let (params, fit_error) = match fit {
        Ok(p) => (Some(p), None),
        Err(e) => (None, Some(e)),
    };

    // Pass 3: decide and write what changed.
    let rules = super::rule_tags::load_set(state).await?;
    let mut report = RecomputeReport { customers: figs.len(), params, fitted_on, fit_error, ..Default::default() };
    let mut done = 0usize;
    let mut in_flight: Option<tokio::task::JoinHandle<guanxi_store::Result<()>>> = None;
    for chunk in figs.chunks(BATCH as usize) {
        // The stored results of this chunk, read now rather than kept from
        // pass 1: memory stays at one small record per customer.
        let (first, last) = (chunk.first().map_or(0, |f| f.id), chunk.last().map_or(0, |f| f.id));
        let previous = state.db.read(move |c| segments::stored_range(c, first - 1, last)).await?;
        let mut previous = previous.into_iter().peekable();
        let mut rows: Vec<Stored> = Vec::new();
        let mut entries: Vec<(i64, String)> = Vec::new();
        let mut events: Vec<(i64, &'static str, String)> = Vec::new();
        for f in chunk {
            let o = f.orders.clone().unwrap_or_default();
            let w = |k: usize| o.windows.get(k).copied().unwrap_or((0, 0));
            let cf = f.contacts.clone().unwrap_or_default();
            let cwin = |k: usize| cf.windows.get(k).copied().unwrap_or((0, 0));
            let date_of = |t: Timestamp| guanxi_domain::clock::local_date(t, &tz);
            let last_interaction =
                [o.last_on, cf.last_communication.map(date_of), f.last_event.map(date_of)].into_iter().flatten().max();
            let spend = Money::from_fen(w(0).1);
            let tier = segment::classify(spend, &s.tiers);
            let activity = segment::activity(last_interaction, today, &s.activity);
            let facts = SignalFacts {
                orders: Counts { recent: w(1).0, prior: w(2).0 },
                spend_fen: Counts { recent: w(3).1, prior: w(4).1 },
                consultations: Counts { recent: cwin(0).0, prior: cwin(1).0 },
                contacts: Counts { recent: cwin(2).0, prior: cwin(3).0 },
                negative_feedback: Counts { recent: cwin(4).1, prior: cwin(5).1 },
                last_login: f.last_login.map(date_of),
                last_interaction,
                competitor_flag: f.tags.iter().any(|t| t == COMPETITOR_TAG),
            };
            let signals: Vec<Signal> = s.signals.iter().filter_map(|r| segment::evaluate(r, &facts, today)).collect();
            let rfm = rfm_of(f).map(|i| cutoffs.score(&i));
            let rfm_segment = rfm.map(segment::rfm_segment);
            let history = history_of(f);
            let (p_alive, expected) = match (&report.params, &history) {
                (Some(p), Some(h)) => (
                    Some(bgnbd::p_alive(p, h)).filter(|x| x.is_finite()),
                    Some(bgnbd::expected_purchases(p, h, s.horizon_weeks as f64)).filter(|x| x.is_finite()),
                ),
                _ => (None, None),
            };
            let facts_for_tags = CustomerFacts {
                tier,
                activity,
                rfm: rfm_segment,
                signals: signals.iter().map(|x| x.kind).collect(),
                tags: f.tags.clone(),
                industry: f.industry.clone(),
                region: f.region.clone(),
                stage: LifecycleStage::parse(&f.stage).unwrap_or(LifecycleStage::Prospect),
                spend_12m: spend,
            };
            let row = Stored {
                customer_id: f.id,
                tier: tier.code().into(),
                activity: activity.code().into(),
                spend_fen: spend.fen(),
                orders_total: o.orders,
                last_order_on: o.last_on,
                last_interaction_on: last_interaction,
                rfm: rfm.map(|r| r.code()),
                rfm_segment: rfm_segment.map(|r| r.code().to_string()),
                signals: signals.iter().map(|x| x.kind.code().to_string()).collect(),
                evidence: serde_json::to_string(&signals).unwrap_or_else(|_| "[]".into()),
                rule_tags: super::rule_tags::evaluate(&rules, facts_for_tags),
                p_alive,
                expected_purchases: expected,
                computed_at: now,
            };
            if row.at_risk() {
                report.at_risk += 1;
            }
            let mut before = None;
            while let Some(x) = previous.next_if(|x| x.customer_id <= f.id) {
                if x.customer_id == f.id {
                    before = Some(x);
                }
            }
            let before = before.as_ref();
            if before.is_some_and(|b| b.same_as(&row)) {
                continue;
            }
            if row.at_risk() && !before.is_some_and(Stored::at_risk) {
                let detail: Vec<String> = signals.iter().map(|x| x.text(Lang::Zh)).collect();
                events.push((f.id, segments::event::CHURN_WARNING, detail.join("；")));
            }
            if let Some(b) = before.and_then(standing) {
                let after = Standing {
                    tier,
                    activity,
                    signals: signals.iter().map(|x| x.kind).collect(),
                    rule_tags: row.rule_tags.clone(),
                };
                let changes = segment::changes(&b, &after);
                if !changes.is_empty() {
                    entries.push((f.id, serde_json::to_string(&changes).unwrap_or_default()));
                }
            }
            rows.push(row);
        }
        report.changed += rows.len();
        report.warnings_raised += events.len();
        // This chunk is written while the next one is computed.
        if let Some(write) = in_flight.take() {
            write.await.map_err(|e| AppError::Internal(e.to_string()))??;
        }
        if !rows.is_empty() {
            let db = state.db.clone();
            in_flight = Some(tokio::spawn(async move {
                db.write_bulk(move |c| {
                    // A bulk write checks its references itself: customers
                    // deleted since they were read are left out.
                    let ids: Vec<i64> = rows.iter().map(|r| r.customer_id).collect();
                    let live = guanxi_store::customers::existing_ids(c, &ids)?;
                    rows.retain(|r| live.contains(&r.customer_id));
                    entries.retain(|e| live.contains(&e.0));
                    events.retain(|e| live.contains(&e.0));
                    segments::upsert(c, &rows)?;
                    let list: Vec<NewEntry<'_>> = entries
                        .iter()
                        .map(|(id, body)| NewEntry {
                            customer_id: *id,
                            at: now,
                            kind: timeline::kind::SEGMENT,
                            ref_id: None,
                            title: TIMELINE_TITLE.into(),
                            body: Some(body.clone()),
                            actor_id: None,
                        })
                        .collect();
                    timeline::append_many(c, &list)?;
                    segments::add_events(c, &events, now)
                })
                .await
            }));
        }
        done += chunk.len();
        progress(total / 2 + done * total.max(1) / figs.len().max(1) / 2, total);
    }
    if let Some(write) = in_flight.take() {
        write.await.map_err(|e| AppError::Internal(e.to_string()))??;
    }
    // The dashboard's tier × activity counts, once per run (R2).
    state.db.write(move |c| guanxi_store::kpi::refresh_tier_activity(c, now)).await?;
    state.db.write(move |c| store_settings::set(c, "segmentation_computed_at", &now.to_string(), now)).await?;
    Ok(report)
}

/// The standing a stored row records.
fn standing(s: &Stored) -> Option<Standing> {
    Some(Standing {
        tier: ValueTier::parse(&s.tier).ok()?,
        activity: Activity::parse(&s.activity).ok()?,
        signals: s.signals.iter().filter_map(|k| SignalKind::parse(k).ok()).collect(),
        rule_tags: s.rule_tags.clone(),
    })
}

/// A timeline body written by the job, in words.
pub fn describe_changes(body: &str, lang: Lang) -> Option<String> {
    let changes: Vec<Change> = serde_json::from_str(body).ok()?;
    let texts: Vec<String> = changes.iter().map(|c| c.text(lang)).collect();
    Some(texts.join(lang.pick("；", "; ")))
}

/// A stored row's signals, parsed back.
pub fn signals_of(s: &Stored) -> Vec<Signal> {
    serde_json::from_str(&s.evidence).unwrap_or_default()
}

/// The segment of a saved definition (JSON), checked.
pub fn parse_segment(json: &str) -> Result<Segment, guanxi_domain::ValidationErrors> {
    let seg: Segment = serde_json::from_str(json).map_err(|_| {
        let mut e = guanxi_domain::ValidationErrors::new();
        e.add("definition", guanxi_domain::Issue::NotAllowed);
        e
    })?;
    seg.validate()?;
    Ok(seg)
}

/// A customer's stored segmentation, if computed (scope-checked).
pub async fn for_customer(state: &AppState, user: &User, id: i64) -> AppResult<Option<Stored>> {
    super::customers::get(state, user, id).await?;
    Ok(state.db.read(move |c| segments::get(c, id)).await?)
}

/// Counts per tier × activity and per RFM segment, within the user's scope.
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    pub tier_activity: Vec<(String, String, i64)>,
    pub rfm: Vec<(String, i64)>,
    pub computed_at: Option<String>,
}

pub async fn overview(state: &AppState, user: &User) -> AppResult<Overview> {
    let u = user.clone();
    Ok(state
        .db
        .read(move |c| {
            let scope = super::customer_scope(c, &u)?;
            Ok(Overview {
                tier_activity: segments::tier_activity_counts(c, &scope)?,
                rfm: segments::rfm_counts(c, &scope)?,
                computed_at: store_settings::get(c, "segmentation_computed_at")?,
            })
        })
        .await?)
}

/// The customers of a segment within the user's scope, a page at a time.
pub async fn members(
    state: &AppState,
    user: &User,
    seg: Segment,
    order: segments::MemberOrder,
    page: i64,
    per_page: i64,
) -> AppResult<segments::MemberPage> {
    seg.validate()?;
    let u = user.clone();
    Ok(state
        .db
        .read(move |c| {
            let scope = super::customer_scope(c, &u)?;
            segments::members(c, &scope, &seg, order, page, per_page)
        })
        .await?)
}

/// The churn-risk list: customers with at least one signal, lowest
/// probability alive first.
pub async fn churn_risk(state: &AppState, user: &User, page: i64, per_page: i64) -> AppResult<segments::MemberPage> {
    members(
        state,
        user,
        Segment::new(vec![guanxi_domain::segment::Condition::AtRisk]),
        segments::MemberOrder::PAliveAsc,
        page,
        per_page,
    )
    .await
}

/// Recomputes on demand (supervisors and administrators).
pub async fn recompute_now(state: &AppState, user: &User) -> AppResult<RecomputeReport> {
    if !user.role.sees_all_customers() {
        return Err(AppError::Forbidden);
    }
    recompute(state, &|_, _| {}).await
}

/// Saves a segment definition under a name: everyone who works with
/// customers (not collaborating departments). Its members are always read
/// within the viewer's scope.
pub async fn save_segment(state: &AppState, user: &User, name: &str, seg: &Segment) -> AppResult<i64> {
    if !user.role.can_edit_customers() {
        return Err(AppError::Forbidden);
    }
    let name = guanxi_domain::validation::required_text(name, 60)
        .map_err(|i| guanxi_domain::ValidationErrors::single("name", i))?;
    seg.validate()?;
    let json = serde_json::to_string(seg).map_err(|e| AppError::Internal(e.to_string()))?;
    let (by, now) = (user.id, state.clock.now());
    Ok(state.db.write(move |c| segments::save_segment(c, &name, &json, by, now)).await?)
}

/// Who may rename, change or delete a saved segment: its creator,
/// supervisors and administrators.
pub fn may_manage_segment(user: &User, s: &segments::SavedSegment) -> bool {
    user.role.sees_all_customers() || (s.created_by == Some(user.id) && user.role.can_edit_customers())
}

/// Renames a saved segment and/or replaces its conditions (`None` keeps
/// them). Refused input changes nothing.
pub async fn update_segment(
    state: &AppState,
    user: &User,
    id: i64,
    name: Option<&str>,
    seg: Option<&Segment>,
) -> AppResult<segments::SavedSegment> {
    let mut e = guanxi_domain::ValidationErrors::new();
    let name = name.and_then(|n| e.check("name", guanxi_domain::validation::required_text(n, 60)));
    if let Some(Err(more)) = seg.map(Segment::validate) {
        e.0.extend(more.0);
    }
    let json = seg.map(serde_json::to_string).transpose().map_err(|err| AppError::Internal(err.to_string()))?;
    let (u, now) = (user.clone(), state.clock.now());
    state
        .db
        .write(move |c| {
            let current = segments::saved_segment(c, id)?;
            if !may_manage_segment(&u, &current) {
                return Err(guanxi_store::StoreError::Other(FORBIDDEN.into()));
            }
            if !e.is_empty() {
                return Err(e.into());
            }
            let name = name.unwrap_or(current.name);
            let json = json.unwrap_or(current.definition);
            segments::update_segment(c, id, &name, &json, now)?;
            segments::saved_segment(c, id)
        })
        .await
        .map_err(forbidden)
}

/// Deletes a saved segment (its creator, supervisors and administrators).
pub async fn delete_segment(state: &AppState, user: &User, id: i64) -> AppResult<()> {
    let u = user.clone();
    let now = state.clock.now();
    state
        .db
        .write(move |c| {
            let current = segments::saved_segment(c, id)?;
            if !may_manage_segment(&u, &current) {
                return Err(guanxi_store::StoreError::Other(FORBIDDEN.into()));
            }
            segments::delete_segment(c, id)?;
            audit::record(
                c,
                now,
                &audit::AuditEntry {
                    actor_id: Some(u.id),
                    action: "delete",
                    entity: "saved_segment",
                    entity_id: Some(id),
                    detail: serde_json::json!({"name": current.name, "definition": current.definition}).to_string(),
                    ip: None,
                },
            )
        })
        .await
        .map_err(forbidden)
}

/// A refusal decided inside a transaction, carried out as a store error.
const FORBIDDEN: &str = "forbidden: not the creator of the segment";

fn forbidden(e: guanxi_store::StoreError) -> AppError {
    match e {
        guanxi_store::StoreError::Other(m) if m == FORBIDDEN => AppError::Forbidden,
        e => e.into(),
    }
}

/// Records why a customer at risk is leaving (the follow-up of a churn
/// warning, G4): a coded reason and an optional note, on the timeline too.
pub async fn record_churn_reason(
    state: &AppState,
    user: &User,
    customer_id: i64,
    reason: &str,
    note: Option<&str>,
) -> AppResult<i64> {
    if !user.role.can_edit_customers() {
        return Err(AppError::Forbidden);
    }
    let mut e = guanxi_domain::ValidationErrors::new();
    let reason = e.check("reason", ChurnReason::parse(reason));
    let note = e.check("note", guanxi_domain::validation::optional_text(note, 500, true)).flatten();
    let Some(reason) = reason.filter(|_| e.is_empty()) else { return Err(e.into()) };
    let (u, now) = (user.clone(), state.clock.now());
    Ok(state
        .db
        .write(move |c| {
            let scope = super::customer_scope(c, &u)?;
            guanxi_store::customers::get(c, &scope, customer_id)?;
            let id = segments::add_churn_reason(c, customer_id, reason.code(), note.as_deref(), u.id, now)?;
            timeline::append(
                c,
                &NewEntry {
                    customer_id,
                    at: now,
                    kind: timeline::kind::SEGMENT,
                    ref_id: Some(id),
                    title: format!("churn_reason.{}", reason.code()),
                    body: note,
                    actor_id: Some(u.id),
                },
            )?;
            Ok(id)
        })
        .await?)
}

/// Churn reasons recorded in the last `days` days, per reason (R3's statistics).
pub async fn churn_reason_counts(state: &AppState, user: &User, days: i64) -> AppResult<Vec<(String, i64)>> {
    let since = state.clock.now() - jiff::SignedDuration::from_hours(24 * days.clamp(1, 3660));
    let u = user.clone();
    Ok(state
        .db
        .read(move |c| {
            let scope = super::customer_scope(c, &u)?;
            segments::churn_reason_counts(c, &scope, since)
        })
        .await?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn the_nightly_run_is_due_once_after_its_hour() {
        let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        // 02:00 in Shanghai is 18:00 UTC the day before.
        assert!(nightly_due(None, at("2026-11-22T18:00:00Z"), 2, &tz), "never run");
        assert!(!nightly_due(Some(at("2026-11-22T18:05:00Z")), at("2026-11-23T17:59:00Z"), 2, &tz), "ran tonight");
        assert!(nightly_due(Some(at("2026-11-22T18:05:00Z")), at("2026-11-23T18:00:00Z"), 2, &tz), "next night");
        assert!(nightly_due(Some(at("2026-11-22T17:59:00Z")), at("2026-11-22T18:01:00Z"), 2, &tz), "ran just before");
    }
}
