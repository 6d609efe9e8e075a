//! Measurement (SPEC R1–R3): a KPI of the registry
//! ([`guanxi_domain::kpi::REGISTRY`]) computed over a date range, by day,
//! week or month and by slice (team, agent, channel, category, tier), for
//! the API, the dashboard and the reports. Ticket figures are counted per
//! local day by SQL aggregates (store::kpi) and added up into periods here;
//! the maintenance execution rate reuses the maintenance module's figures.
//! Supervisors and administrators only.

use std::collections::{BTreeMap, HashMap};

use guanxi_domain::customer::Channel;
use guanxi_domain::kpi::{self, GroupBy, KpiDef, Period, RatioFigures, Source, TicketFigures};
use guanxi_domain::plan::ExecutionFigures;
use guanxi_domain::segment::ValueTier;
use guanxi_domain::ticket::Category;
use guanxi_domain::user::Role;
use guanxi_domain::{Issue, Lang, ValidationErrors};
use guanxi_store::kpi::{self as store, Duration};
use guanxi_store::maintenance::{self as maint, QueueScope, RateBy};
use guanxi_store::users::User;
use jiff::civil::Date;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The most periods one series holds.
pub const MAX_BUCKETS: usize = 400;

/// What to compute: the periods of `[from, to]` (both included) and the slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KpiQuery {
    pub period: Period,
    pub group: GroupBy,
    pub from: Date,
    pub to: Date,
}

/// Reads `from`, `to`, `by` and `group`; defaults: the last 30 days, by
/// day, not sliced. Errors name the field.
pub fn parse_query(
    from: Option<&str>,
    to: Option<&str>,
    by: Option<&str>,
    group: Option<&str>,
    today: Date,
) -> Result<KpiQuery, ValidationErrors> {
    let mut e = ValidationErrors::new();
    let period = e.check("by", Period::parse(by.map(str::trim).filter(|s| !s.is_empty()).unwrap_or("day")));
    let group = e.check("group", GroupBy::parse(group.unwrap_or("")));
    let default_from = today.checked_sub(jiff::Span::new().days(29)).unwrap_or(today).to_string();
    let default_to = today.to_string();
    let blank = |s: Option<&str>| s.map(str::trim).filter(|s| !s.is_empty()).is_none();
    let from = if blank(from) { Some(default_from.as_str()) } else { from };
    let to = if blank(to) { Some(default_to.as_str()) } else { to };
    let range = guanxi_domain::calendar::parse_range(from, to);
    match (period, group, range) {
        (Some(period), Some(group), Ok((from, to))) if e.is_empty() => Ok(KpiQuery { period, group, from, to }),
        (_, _, Err(more)) => {
            e.0.extend(more.0);
            Err(e)
        }
        _ => Err(e),
    }
}

/// Reports are for supervisors and administrators.
pub fn require_reader(user: &User) -> AppResult<()> {
    if matches!(user.role, Role::Supervisor | Role::Admin) { Ok(()) } else { Err(AppError::Forbidden) }
}

/// One slice's values, one per period, and over the whole range.
#[derive(Debug, Clone)]
pub struct SliceValues {
    pub key: String,
    pub label: String,
    pub values: Vec<Option<f64>>,
    pub total: Option<f64>,
    /// The tickets (or tasks due) the total is computed over.
    pub base: i64,
    /// The slice's effective target: its own (service::kpi_targets), else
    /// the KPI's default.
    pub target: Option<kpi::Target>,
}

/// A KPI over the periods of a query.
#[derive(Debug, Clone)]
pub struct Series {
    pub def: &'static KpiDef,
    pub query: KpiQuery,
    pub buckets: Vec<Date>,
    pub slices: Vec<SliceValues>,
    /// The KPI's default target: the overall override, else the registry's.
    pub default_target: Option<kpi::Target>,
}

/// Figures per slice: (key, label, per period, total).
type Slices<F> = Vec<(String, String, Vec<F>, F)>;

/// Figures per slice, per period and in total.
struct Grid<F> {
    buckets: Vec<Date>,
    slices: Slices<F>,
}

fn tz_offset_ms(state: &AppState) -> i64 {
    i64::from(state.config.time_zone.to_offset(state.clock.now()).seconds()) * 1000
}

fn bucket_index(buckets: &[Date], period: Period, d: Date) -> Option<usize> {
    buckets.binary_search(&period.start(d)).ok()
}

/// The label of a slice key.
pub fn slice_label(group: GroupBy, key: &str, names: &HashMap<String, String>, lang: Lang) -> String {
    match group {
        GroupBy::None => lang.pick("合计", "Total").to_string(),
        GroupBy::Team | GroupBy::Agent if key == "0" => match group {
            GroupBy::Team => lang.pick("未分组", "No team").to_string(),
            _ => lang.pick("未分配", "Unassigned").to_string(),
        },
        GroupBy::Team | GroupBy::Agent => names.get(key).cloned().unwrap_or_else(|| format!("#{key}")),
        GroupBy::Channel | GroupBy::Category if key.is_empty() => lang.pick("无工单", "No ticket").to_string(),
        GroupBy::Channel => Channel::parse(key).map_or_else(|_| key.to_string(), |c| c.label(lang).to_string()),
        GroupBy::Category => Category::parse(key).map_or_else(|_| key.to_string(), |c| c.label(lang).to_string()),
        GroupBy::Tier if key.is_empty() => lang.pick("未分层", "No tier").to_string(),
        GroupBy::Tier => ValueTier::parse(key).map_or_else(|_| key.to_string(), |t| t.label(lang).to_string()),
    }
}

/// Every slice a dimension always lists, even without data (all agents,
/// all channels, …), in order, and the names of staff.
fn known_slices(c: &mut guanxi_store::Conn, group: GroupBy) -> guanxi_store::Result<Vec<(String, Option<String>)>> {
    Ok(match group {
        GroupBy::None => vec![(String::new(), None)],
        GroupBy::Team | GroupBy::Agent => {
            store::staff_slices(c, group)?.into_iter().map(|(k, n)| (k, Some(n))).collect()
        }
        GroupBy::Channel => Channel::ALL.iter().map(|c| (c.code().to_string(), None)).collect(),
        GroupBy::Category => Category::ALL.iter().map(|c| (c.code().to_string(), None)).collect(),
        GroupBy::Tier => ValueTier::ALL.iter().map(|t| (t.code().to_string(), None)).collect(),
    })
}

/// Orders the slices: the known ones first, then those met only in the data.
fn arrange<F: Default + Clone>(
    c: &mut guanxi_store::Conn,
    group: GroupBy,
    lang: Lang,
    n: usize,
    mut data: BTreeMap<String, (Vec<F>, F)>,
) -> guanxi_store::Result<Slices<F>> {
    let known = known_slices(c, group)?;
    let mut names: HashMap<String, String> =
        known.iter().filter_map(|(k, n)| n.clone().map(|n| (k.clone(), n))).collect();
    let missing: Vec<i64> = data
        .keys()
        .filter(|k| !names.contains_key(*k))
        .filter_map(|k| k.parse::<i64>().ok())
        .filter(|id| *id != 0)
        .collect();
    names.extend(store::staff_names(c, group, &missing)?);
    let mut out = Vec::new();
    for (key, _) in &known {
        let (per, total) = data.remove(key).unwrap_or_else(|| (vec![F::default(); n], F::default()));
        out.push((key.clone(), slice_label(group, key, &names, lang), per, total));
    }
    for (key, (per, total)) in data {
        out.push((key.clone(), slice_label(group, &key, &names, lang), per, total));
    }
    Ok(out)
}

async fn ticket_grid(state: &AppState, q: KpiQuery, lang: Lang) -> AppResult<Grid<TicketFigures>> {
    let buckets = q.period.buckets(q.from, q.to, MAX_BUCKETS);
    let offset = tz_offset_ms(state);
    let (from_day, to_day) = (store::day_number(q.from), store::day_number(q.to));
    let b = buckets.clone();
    let slices = state
        .db
        .read(move |c| {
            let n = b.len();
            let mut data: BTreeMap<String, (Vec<TicketFigures>, TicketFigures)> = BTreeMap::new();
            let slot = |key: &str, day: i64| -> Option<(String, usize)> {
                bucket_index(&b, q.period, store::day_date(day)).map(|i| (key.to_string(), i))
            };
            let mut rows = Vec::new();
            for r in store::ticket_counts(c, from_day, to_day, offset, q.group)? {
                if let Some(s) = slot(&r.key, r.day) {
                    rows.push((s, r));
                }
            }
            for ((key, i), r) in rows {
                let e =
                    data.entry(key).or_insert_with(|| (vec![TicketFigures::default(); n], TicketFigures::default()));
                let f = TicketFigures {
                    received: r.received,
                    resolved: r.resolved,
                    breached: r.breached,
                    repeats: r.repeats,
                    ..Default::default()
                };
                e.0[i].merge(&f);
                e.1.merge(&f);
            }
            for which in [Duration::FirstResponse, Duration::Resolution] {
                // A month holds tens of thousands of (day, minutes) rows:
                // gather each (slice, bucket)'s histogram first and merge it
                // once, not row by row (which re-sorted the whole histogram
                // for every row: seconds over a month at scale 1).
                let mut hists: BTreeMap<(String, usize), Vec<(i64, i64)>> = BTreeMap::new();
                store::ticket_durations(c, from_day, to_day, offset, q.group, which, |day, key, minutes, count| {
                    if let Some(at) = slot(&key, day) {
                        hists.entry(at).or_default().push((minutes, count));
                    }
                })?;
                for ((key, i), hist) in hists {
                    let e = data
                        .entry(key)
                        .or_insert_with(|| (vec![TicketFigures::default(); n], TicketFigures::default()));
                    let f = match which {
                        Duration::FirstResponse => TicketFigures { first_response: hist, ..Default::default() },
                        Duration::Resolution => TicketFigures { resolution: hist, ..Default::default() },
                    };
                    e.0[i].merge(&f);
                    e.1.merge(&f);
                }
            }
            arrange(c, q.group, lang, n, data)
        })
        .await?;
    Ok(Grid { buckets, slices })
}

fn add_execution(into: &mut ExecutionFigures, f: &ExecutionFigures) {
    into.due += f.due;
    into.on_time += f.on_time;
    into.done += f.done;
    into.achieved += f.achieved;
    into.evaluated += f.evaluated;
    into.satisfaction_sum += f.satisfaction_sum;
    into.satisfaction_count += f.satisfaction_count;
}

/// The maintenance module's execution figures (store::maintenance::execution),
/// one aggregate per period.
async fn maintenance_grid(state: &AppState, q: KpiQuery, lang: Lang) -> AppResult<Grid<ExecutionFigures>> {
    let by = match q.group {
        GroupBy::None => RateBy::Scenario,
        GroupBy::Agent => RateBy::Agent,
        GroupBy::Tier => RateBy::Tier,
        _ => {
            return Err(ValidationErrors::single("group", Issue::NotAllowed).into());
        }
    };
    let buckets = q.period.buckets(q.from, q.to, MAX_BUCKETS);
    let tz = state.config.time_zone.clone();
    let start =
        move |d: Date| d.to_zoned(tz.clone()).map(|z| z.timestamp()).map_err(|e| AppError::Internal(e.to_string()));
    let mut ranges = Vec::new();
    let end = q.to.tomorrow().unwrap_or(q.to);
    for b in &buckets {
        let lo = (*b).max(q.from);
        let hi = q.period.next(*b).min(end);
        ranges.push((start(lo)?, start(hi)?));
    }
    let now = state.clock.now();
    let b = buckets.clone();
    let slices = state
        .db
        .read(move |c| {
            let n = b.len();
            let mut data: BTreeMap<String, (Vec<ExecutionFigures>, ExecutionFigures)> = BTreeMap::new();
            for (i, (lo, hi)) in ranges.iter().enumerate() {
                for (key, _, f) in maint::execution(c, &QueueScope::All, by, *lo, *hi, now)? {
                    let key = if q.group == GroupBy::None { String::new() } else { key };
                    let e = data
                        .entry(key)
                        .or_insert_with(|| (vec![ExecutionFigures::default(); n], ExecutionFigures::default()));
                    add_execution(&mut e.0[i], &f);
                    add_execution(&mut e.1, &f);
                }
            }
            arrange(c, q.group, lang, n, data)
        })
        .await?;
    Ok(Grid { buckets, slices })
}

/// One KPI over the query's periods and slices.
pub async fn series(state: &AppState, user: &User, def: &'static KpiDef, q: KpiQuery, lang: Lang) -> AppResult<Series> {
    require_reader(user)?;
    if !def.supports(q.group) {
        return Err(ValidationErrors::single(if def.available() { "group" } else { "name" }, Issue::NotAllowed).into());
    }
    let s = match def.source {
        Source::Tickets => ticket_series(def, q, &ticket_grid(state, q, lang).await?),
        Source::Maintenance => maintenance_series(def, q, &maintenance_grid(state, q, lang).await?),
        Source::Pending => return Err(ValidationErrors::single("name", Issue::NotAllowed).into()),
        _ => ratio_series(def, q, &ratio_grid(state, def, q, lang, true).await?),
    };
    let mut all = [s];
    crate::service::kpi_targets::apply(state, &mut all).await?;
    let [s] = all;
    Ok(s)
}

/// Whether a KPI's total over several periods is the sum of theirs: not
/// for those counting customers (one may order in several periods) or
/// taken at the period's end.
fn additive(def: &KpiDef) -> bool {
    !matches!(def.source, Source::Orders | Source::Customers)
}

/// A ratio KPI's two counts per period and slice (store::kpi::ratio_counts,
/// one aggregate per period), and over the whole range: the periods' sum
/// where that is exact, else one more aggregate over the range.
async fn ratio_grid(
    state: &AppState,
    def: &'static KpiDef,
    q: KpiQuery,
    lang: Lang,
    per_period: bool,
) -> AppResult<Grid<RatioFigures>> {
    let mut grids = ratio_grids(state, vec![def], q, lang, per_period).await?;
    grids.pop().ok_or_else(|| AppError::Internal("no grid".into()))
}

/// The two counts of each of `defs` (ratio KPIs), as [`ratio_grid`], in
/// one read: the churn KPIs among them (store::kpi::CHURN_KPIS) share one
/// statement per period, which scans a year of orders once for all three.
async fn ratio_grids(
    state: &AppState,
    defs: Vec<&'static KpiDef>,
    q: KpiQuery,
    lang: Lang,
    per_period: bool,
) -> AppResult<Vec<Grid<RatioFigures>>> {
    let buckets = q.period.buckets(q.from, q.to, MAX_BUCKETS);
    let tz = state.config.time_zone.clone();
    let start =
        move |d: Date| d.to_zoned(tz.clone()).map(|z| z.timestamp()).map_err(|e| AppError::Internal(e.to_string()));
    let end = q.to.tomorrow().unwrap_or(q.to);
    let mut ranges = Vec::new();
    for b in &buckets {
        let lo = (*b).max(q.from);
        let hi = q.period.next(*b).min(end);
        ranges.push((start(lo)?, start(hi)?, lo, hi));
    }
    let whole = (start(q.from)?, start(end)?, q.from, end);
    // One period covering the whole range is its own total.
    let sum_up: Vec<bool> =
        defs.iter().map(|def| per_period && (additive(def) || (ranges.len() == 1 && ranges[0] == whole))).collect();
    if !per_period {
        ranges.clear();
    }
    let b = buckets.clone();
    let all_slices = state
        .db
        .read(move |c| {
            let n = b.len();
            let names: Vec<&str> = defs.iter().map(|d| d.name).collect();
            let mut data: Vec<BTreeMap<String, (Vec<RatioFigures>, RatioFigures)>> = vec![BTreeMap::new(); defs.len()];
            for (i, (lo, hi, lo_day, hi_day)) in ranges.iter().enumerate() {
                for (j, rows) in counts(c, &names, *lo, *hi, *lo_day, *hi_day, q.group)?.into_iter().enumerate() {
                    for (key, num, den) in rows {
                        let e = data[j]
                            .entry(key)
                            .or_insert_with(|| (vec![RatioFigures::default(); n], RatioFigures::default()));
                        let f = RatioFigures { num, den };
                        e.0[i].merge(&f);
                        if sum_up[j] {
                            e.1.merge(&f);
                        }
                    }
                }
            }
            let rest: Vec<&str> = names.iter().zip(&sum_up).filter(|(_, s)| !**s).map(|(n, _)| *n).collect();
            if !rest.is_empty() {
                let (lo, hi, lo_day, hi_day) = whole;
                for (name, rows) in rest.iter().zip(counts(c, &rest, lo, hi, lo_day, hi_day, q.group)?) {
                    let Some(j) = names.iter().position(|n| n == name) else { continue };
                    for (key, num, den) in rows {
                        let e = data[j]
                            .entry(key)
                            .or_insert_with(|| (vec![RatioFigures::default(); n], RatioFigures::default()));
                        e.1.merge(&RatioFigures { num, den });
                    }
                }
            }
            data.into_iter().map(|d| arrange(c, q.group, lang, n, d)).collect::<guanxi_store::Result<Vec<_>>>()
        })
        .await?;
    Ok(all_slices.into_iter().map(|slices| Grid { buckets: buckets.clone(), slices }).collect())
}

/// The (key, num, den) rows of each of `names` over one period, in order:
/// the churn KPIs together in one statement, the others one each.
fn counts(
    c: &mut guanxi_store::Conn,
    names: &[&str],
    lo: jiff::Timestamp,
    hi: jiff::Timestamp,
    lo_day: Date,
    hi_day: Date,
    group: GroupBy,
) -> guanxi_store::Result<Vec<Vec<(String, i64, i64)>>> {
    let churn: Vec<&str> = names.iter().copied().filter(|n| store::CHURN_KPIS.contains(n)).collect();
    let mut shared =
        if churn.is_empty() { Vec::new() } else { store::churn_counts(c, &churn, hi, lo_day, hi_day, group)? }
            .into_iter();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        if store::CHURN_KPIS.contains(name) {
            out.push(shared.next().unwrap_or_default());
        } else {
            out.push(store::ratio_counts(c, name, lo, hi, lo_day, hi_day, group)?);
        }
    }
    Ok(out)
}

fn ratio_series(def: &'static KpiDef, q: KpiQuery, g: &Grid<RatioFigures>) -> Series {
    Series {
        def,
        query: q,
        buckets: g.buckets.clone(),
        default_target: def.target,
        slices: g
            .slices
            .iter()
            .map(|(key, label, per, total)| SliceValues {
                key: key.clone(),
                label: label.clone(),
                values: per.iter().map(|f| f.value_in(def.unit)).collect(),
                total: total.value_in(def.unit),
                base: total.den,
                target: def.target,
            })
            .collect(),
    }
}

fn ticket_series(def: &'static KpiDef, q: KpiQuery, g: &Grid<TicketFigures>) -> Series {
    Series {
        def,
        query: q,
        buckets: g.buckets.clone(),
        default_target: def.target,
        slices: g
            .slices
            .iter()
            .map(|(key, label, per, total)| SliceValues {
                key: key.clone(),
                label: label.clone(),
                values: per.iter().map(|f| f.value(def.name)).collect(),
                total: total.value(def.name),
                base: total.received,
                target: def.target,
            })
            .collect(),
    }
}

fn maintenance_series(def: &'static KpiDef, q: KpiQuery, g: &Grid<ExecutionFigures>) -> Series {
    Series {
        def,
        query: q,
        buckets: g.buckets.clone(),
        default_target: def.target,
        slices: g
            .slices
            .iter()
            .map(|(key, label, per, total)| SliceValues {
                key: key.clone(),
                label: label.clone(),
                values: per.iter().map(ExecutionFigures::rate).collect(),
                total: total.rate(),
                base: total.due,
                target: def.target,
            })
            .collect(),
    }
}

/// Every available KPI over the query (the monitoring table, the
/// dashboard): the ticket figures are counted once for all ticket KPIs.
/// KPIs that cannot be sliced by the query's group are left out.
pub async fn all_series(state: &AppState, user: &User, q: KpiQuery, lang: Lang) -> AppResult<Vec<Series>> {
    all_series_with(state, user, q, lang, true).await
}

/// As [`all_series`]; without `customer_periods`, the KPIs counting
/// customers (orders, customers) get their total over the range only, one
/// statement each, and no value per period (the dashboard's cards need no
/// more, and a year of orders is not read once per day).
pub async fn all_series_with(
    state: &AppState,
    user: &User,
    q: KpiQuery,
    lang: Lang,
    customer_periods: bool,
) -> AppResult<Vec<Series>> {
    require_reader(user)?;
    let tickets = ticket_grid(state, q, lang).await?;
    let maintenance = if kpi::REGISTRY.iter().any(|k| k.source == Source::Maintenance && k.supports(q.group)) {
        Some(maintenance_grid(state, q, lang).await?)
    } else {
        None
    };
    // The churn KPIs read the same year of orders: counted together.
    let churn: Vec<&'static KpiDef> = kpi::REGISTRY
        .iter()
        .filter(|k| k.supports(q.group) && k.available() && store::CHURN_KPIS.contains(&k.name))
        .collect();
    let per_period = |def: &KpiDef| customer_periods || additive(def);
    let mut churn_grids: HashMap<&'static str, Grid<RatioFigures>> = HashMap::new();
    if let Some(first) = churn.first() {
        let names: Vec<&'static str> = churn.iter().map(|d| d.name).collect();
        let grids = ratio_grids(state, churn.clone(), q, lang, per_period(first)).await?;
        churn_grids.extend(names.into_iter().zip(grids));
    }
    let mut out = Vec::new();
    for def in kpi::REGISTRY.iter().filter(|k| k.supports(q.group)) {
        match def.source {
            Source::Tickets => out.push(ticket_series(def, q, &tickets)),
            Source::Maintenance => {
                if let Some(m) = &maintenance {
                    out.push(maintenance_series(def, q, m));
                }
            }
            Source::Pending => {}
            _ => match churn_grids.get(def.name) {
                Some(g) => out.push(ratio_series(def, q, g)),
                None => out.push(ratio_series(def, q, &ratio_grid(state, def, q, lang, per_period(def)).await?)),
            },
        }
    }
    crate::service::kpi_targets::apply(state, &mut out).await?;
    Ok(out)
}

/// Tickets received per category over `[from, to]`, most first (the Pareto chart).
pub async fn category_counts(state: &AppState, user: &User, from: Date, to: Date) -> AppResult<Vec<(String, i64)>> {
    require_reader(user)?;
    let tz = state.config.time_zone.clone();
    let at = |d: Date| d.to_zoned(tz.clone()).map(|z| z.timestamp()).map_err(|e| AppError::Internal(e.to_string()));
    let (lo, hi) = (at(from)?, at(to.tomorrow().unwrap_or(to))?);
    Ok(state.db.read(move |c| store::category_counts(c, lo, hi)).await?)
}

/// Customers per (tier, activity) as the last segmentation run counted them.
pub async fn tier_activity(state: &AppState, user: &User) -> AppResult<Vec<(String, String, i64)>> {
    require_reader(user)?;
    Ok(state.db.read(store::tier_activity_rollup).await?)
}

/// One category of the problem analysis report.
#[derive(Debug, Clone)]
pub struct ProblemCategory {
    pub code: String,
    pub label: String,
    pub tickets: i64,
    pub share: Option<f64>,
    pub figures: TicketFigures,
    /// The most frequent subjects: (subject, tickets).
    pub top: Vec<(String, i64)>,
}

/// 问题分析报告 (R3): every ticket of the month (not only complaints) by
/// category, with its figures and its most frequent subjects.
pub async fn problem_analysis(
    state: &AppState,
    user: &User,
    month: Date,
    lang: Lang,
) -> AppResult<Vec<ProblemCategory>> {
    require_reader(user)?;
    let from = month.first_of_month();
    let to = month.last_of_month();
    let q = KpiQuery { period: Period::Month, group: GroupBy::Category, from, to };
    let grid = ticket_grid(state, q, lang).await?;
    let tz = state.config.time_zone.clone();
    let at = |d: Date| d.to_zoned(tz.clone()).map(|z| z.timestamp()).map_err(|e| AppError::Internal(e.to_string()));
    let (lo, hi) = (at(from)?, at(to.tomorrow().unwrap_or(to))?);
    let mut tops: HashMap<String, Vec<(String, i64)>> = HashMap::new();
    for (category, subject, n) in state.db.read(move |c| store::top_subjects_by_category(c, lo, hi, 5)).await? {
        tops.entry(category).or_default().push((subject, n));
    }
    let total: i64 = grid.slices.iter().map(|s| s.3.received).sum();
    let mut out: Vec<ProblemCategory> = grid
        .slices
        .into_iter()
        .map(|(code, label, _, figures)| ProblemCategory {
            top: tops.remove(&code).unwrap_or_default(),
            code,
            label,
            tickets: figures.received,
            share: kpi::ratio(figures.received, total),
            figures,
        })
        .collect();
    out.sort_by(|a, b| b.tickets.cmp(&a.tickets).then(a.code.cmp(&b.code)));
    Ok(out)
}

/// 现状诊断报告 (R3): the last six months (this one included).
#[derive(Debug, Clone)]
pub struct Diagnosis {
    pub from: Date,
    pub to: Date,
    /// Per month: its first day and the ticket figures.
    pub months: Vec<(Date, TicketFigures)>,
    pub total: TicketFigures,
    /// Tickets per category, most first.
    pub categories: Vec<(String, i64)>,
    /// Churn reasons recorded, most first.
    pub churn_reasons: Vec<(String, i64)>,
    /// (category, subject, tickets), most first.
    pub pain_points: Vec<(String, String, i64)>,
    /// CSAT average, satisfied share and NPS per month.
    pub satisfaction: Vec<Series>,
}

pub async fn diagnosis(state: &AppState, user: &User, lang: Lang) -> AppResult<Diagnosis> {
    require_reader(user)?;
    let to = state.today();
    let from = to.first_of_month().checked_sub(jiff::Span::new().months(5)).unwrap_or(to);
    let q = KpiQuery { period: Period::Month, group: GroupBy::None, from, to };
    let grid = ticket_grid(state, q, lang).await?;
    let (months, total) = grid
        .slices
        .into_iter()
        .next()
        .map(|(_, _, per, total)| (grid.buckets.iter().copied().zip(per).collect(), total))
        .unwrap_or_default();
    let categories = category_counts(state, user, from, to).await?;
    let tz = state.config.time_zone.clone();
    let at = |d: Date| d.to_zoned(tz.clone()).map(|z| z.timestamp()).map_err(|e| AppError::Internal(e.to_string()));
    let (lo, hi) = (at(from)?, at(to.tomorrow().unwrap_or(to))?);
    let (churn_reasons, pain_points) = state
        .db
        .read(move |c| {
            Ok((
                guanxi_store::segments::churn_reason_counts(c, &guanxi_store::customers::Scope::All, lo)?,
                store::top_subjects_all(c, lo, hi, 10)?,
            ))
        })
        .await?;
    let mut satisfaction = Vec::new();
    for name in ["csat_average", "csat_satisfied_share", "nps"] {
        if let Some(def) = kpi::find(name) {
            satisfaction.push(ratio_series(def, q, &ratio_grid(state, def, q, lang, true).await?));
        }
    }
    Ok(Diagnosis { from, to, months, total, categories, churn_reasons, pain_points, satisfaction })
}
