//! KPI targets on a slice (SPEC R1, 监控-分析-优化-再监控): a supervisor or
//! administrator sets a KPI's target for one slice (an agent, a team, a
//! channel, a category, a tier) or overrides its default (grouping `none`).
//! Wherever a KPI is shown per slice, the slice's own target applies, else
//! the KPI's default (the override, else the registry's); a slice below
//! its target is flagged.
//!
//! Values are in the KPI's unit as the API reports values: a share 0–1 for
//! percentages (−1–1 for NPS, which can be negative), minutes 0–525 600
//! (a year), a score 0–10.

use guanxi_domain::customer::Channel;
use guanxi_domain::kpi::{self, GroupBy, KpiDef, Target, Unit};
use guanxi_domain::segment::ValueTier;
use guanxi_domain::ticket::Category;
use guanxi_domain::{Issue, ValidationErrors};
use guanxi_store::audit::{self, AuditEntry};
use guanxi_store::kpi_targets::{self as store, KpiAction, KpiTarget};
use guanxi_store::users::User;
use guanxi_store::{Conn, StoreError};

use crate::error::{AppError, AppResult};
use crate::service::kpis::{Series, require_reader};
use crate::state::AppState;

/// A target as asked for.
#[derive(Debug, Clone, Default)]
pub struct TargetInput {
    pub kpi: String,
    pub group_by: String,
    pub slice_key: String,
    /// `true`: the value must be at least the target; `false`: at most.
    pub at_least: Option<bool>,
    pub value: Option<f64>,
}

/// The accepted range of a target's value for a KPI.
pub fn value_range(def: &KpiDef) -> (f64, f64) {
    match def.unit {
        Unit::Percent if def.name == "nps" => (-1.0, 1.0),
        Unit::Percent => (0.0, 1.0),
        Unit::Minutes => (0.0, 525_600.0),
        Unit::Score => (0.0, 10.0),
        Unit::WorkingDays => (0.0, 365.0),
    }
}

/// Checks a target; errors name the field (`kpi`, `group_by`, `slice_key`,
/// `at_least`, `value`).
pub fn validate(input: &TargetInput) -> Result<(&'static KpiDef, GroupBy, String, bool, f64), ValidationErrors> {
    let mut e = ValidationErrors::new();
    let def = check_kpi(&mut e, &input.kpi);
    let (group, key) = check_slice(&mut e, def, &input.group_by, &input.slice_key);
    if input.at_least.is_none() {
        e.add("at_least", Issue::Required);
    }
    match (input.value, def) {
        (None, _) => e.add("value", Issue::Required),
        (Some(v), Some(d)) => {
            let (lo, hi) = value_range(d);
            if !v.is_finite() || v < lo || v > hi {
                e.add("value", Issue::OutOfRange);
            }
        }
        _ => {}
    }
    match (def, group, input.at_least, input.value) {
        (Some(d), Some(g), Some(a), Some(v)) if e.is_empty() => Ok((d, g, key, a, v)),
        _ => Err(e),
    }
}

/// An available KPI of the registry (`kpi`).
fn check_kpi(e: &mut ValidationErrors, name: &str) -> Option<&'static KpiDef> {
    match kpi::find(name.trim()) {
        None => {
            e.add("kpi", if name.trim().is_empty() { Issue::Required } else { Issue::Unknown });
            None
        }
        Some(d) if !d.available() => {
            e.add("kpi", Issue::NotAllowed);
            None
        }
        Some(d) => Some(d),
    }
}

/// Checks a KPI's grouping and slice key (`group_by`, `slice_key`).
fn check_slice(
    e: &mut ValidationErrors,
    def: Option<&'static KpiDef>,
    group_by: &str,
    slice_key: &str,
) -> (Option<GroupBy>, String) {
    let group = e.check("group_by", GroupBy::parse(group_by.trim()));
    if let (Some(d), Some(g)) = (def, group)
        && !d.supports(g)
    {
        e.add("group_by", Issue::NotAllowed);
    }
    let key = slice_key.trim().to_string();
    if let Some(g) = group {
        let ok = match g {
            GroupBy::None => key.is_empty(),
            GroupBy::Team | GroupBy::Agent => key.parse::<i64>().is_ok_and(|id| id >= 0),
            GroupBy::Channel => Channel::parse(&key).is_ok(),
            GroupBy::Category => Category::parse(&key).is_ok(),
            GroupBy::Tier => ValueTier::parse(&key).is_ok(),
        };
        if !ok {
            e.add("slice_key", if key.is_empty() { Issue::Required } else { Issue::NotAllowed });
        }
    }
    (group, key)
}

pub async fn list(state: &AppState, user: &User) -> AppResult<Vec<KpiTarget>> {
    require_reader(user)?;
    Ok(state.db.read(store::list).await?)
}

/// Writes a change of a target or an action to the audit log (SPEC S3)
/// with the caller's address.
#[allow(clippy::too_many_arguments)]
fn audited(
    c: &mut Conn,
    now: jiff::Timestamp,
    by: i64,
    action: &str,
    entity: &str,
    id: i64,
    detail: &serde_json::Value,
    ip: Option<&str>,
) -> guanxi_store::Result<()> {
    audit::record(
        c,
        now,
        &AuditEntry { actor_id: Some(by), action, entity, entity_id: Some(id), detail: detail.to_string(), ip },
    )
}

/// A target as the audit log keeps it.
fn target_detail(t: &KpiTarget) -> serde_json::Value {
    serde_json::json!({ "kpi": t.kpi, "group_by": t.group_by, "slice_key": t.slice_key,
        "at_least": t.at_least, "value": t.value })
}

/// Sets (or replaces) the target of a slice; audited (`create` or, when
/// it replaces one, `update` of a `kpi_target`, with before and after).
pub async fn set(state: &AppState, user: &User, input: TargetInput, ip: Option<String>) -> AppResult<KpiTarget> {
    require_reader(user)?;
    let (def, group, key, at_least, value) = validate(&input)?;
    let (by, now) = (user.id, state.clock.now());
    Ok(state
        .db
        .write(move |c| {
            let before = store::find(c, def.name, group.code(), &key)?;
            let t = store::upsert(c, def.name, group.code(), &key, at_least, value, by, now)?;
            let (action, detail) = match &before {
                Some(b) => ("update", serde_json::json!({ "before": target_detail(b), "after": target_detail(&t) })),
                None => ("create", target_detail(&t)),
            };
            audited(c, now, by, action, "kpi_target", t.id, &detail, ip.as_deref())?;
            Ok(t)
        })
        .await?)
}

/// Removes a slice target; audited.
pub async fn delete(state: &AppState, user: &User, id: i64, ip: Option<String>) -> AppResult<()> {
    require_reader(user)?;
    let (by, now) = (user.id, state.clock.now());
    Ok(state
        .db
        .write(move |c| {
            let t = store::get(c, id)?.ok_or(StoreError::NotFound)?;
            store::delete(c, id)?;
            audited(c, now, by, "delete", "kpi_target", id, &target_detail(&t), ip.as_deref())
        })
        .await?)
}

/// Gives every slice of the series its effective target: its own, else
/// the KPI's overall override, else the registry's default.
pub async fn apply(state: &AppState, all: &mut [Series]) -> AppResult<()> {
    let Some(first) = all.first() else { return Ok(()) };
    let group = first.query.group.code();
    let rows = state.db.read(store::list).await?;
    for s in all.iter_mut() {
        let mine: Vec<&KpiTarget> = rows.iter().filter(|t| t.kpi == s.def.name).collect();
        let default = mine
            .iter()
            .find(|t| t.group_by == "none")
            .map(|t| Target { at_least: t.at_least, value: t.value })
            .or(s.def.target);
        s.default_target = default;
        for sl in &mut s.slices {
            sl.target = mine
                .iter()
                .find(|t| t.group_by == group && t.slice_key == sl.key && group != "none")
                .map(|t| Target { at_least: t.at_least, value: t.value })
                .or(default);
        }
    }
    Ok(())
}

/// Every KPI's effective default target (the one of its overall figure):
/// its override set with grouping `none`, else the registry's.
pub async fn default_targets(state: &AppState) -> AppResult<std::collections::HashMap<&'static str, Target>> {
    let rows = state.db.read(store::list).await?;
    Ok(kpi::REGISTRY
        .iter()
        .filter_map(|d| {
            rows.iter()
                .find(|t| t.kpi == d.name && t.group_by == "none")
                .map(|t| Target { at_least: t.at_least, value: t.value })
                .or(d.target)
                .map(|t| (d.name, t))
        })
        .collect())
}

/// A target in words, e.g. `≥ 95.0%`.
pub fn target_text(t: Option<Target>, unit: Unit) -> Option<String> {
    t.map(|t| format!("{} {}", if t.at_least { "≥" } else { "≤" }, kpi::display(Some(t.value), unit)))
}

/// How many days before an action's start its "before" figure covers.
pub const BEFORE_DAYS: i64 = 30;

/// An improvement action as asked for.
#[derive(Debug, Clone, Default)]
pub struct ActionInput {
    pub kpi: String,
    pub group_by: String,
    pub slice_key: String,
    pub title: String,
    pub note: String,
    pub owner_id: Option<i64>,
    /// `YYYY-MM-DD`.
    pub started_on: String,
    /// `YYYY-MM-DD`, optional; not before `started_on`.
    pub review_on: String,
}

/// An action with its figures: before (as captured), after (now) and the
/// change.
#[derive(Debug, Clone)]
pub struct ActionFigures {
    pub action: guanxi_store::kpi_targets::KpiAction,
    pub def: &'static KpiDef,
    /// The period the "after" figure covers; `None` before the start.
    pub after_range: Option<(jiff::civil::Date, jiff::civil::Date)>,
    pub after_value: Option<f64>,
    /// after − before, when both exist.
    pub change: Option<f64>,
}

/// One slice's KPI value over `[from, to]`.
async fn slice_value(
    state: &AppState,
    user: &User,
    def: &'static KpiDef,
    group: GroupBy,
    key: &str,
    from: jiff::civil::Date,
    to: jiff::civil::Date,
) -> AppResult<Option<f64>> {
    let q = crate::service::kpis::KpiQuery { period: kpi::Period::Month, group, from, to };
    let s = crate::service::kpis::series(state, user, def, q, guanxi_domain::Lang::default()).await?;
    Ok(s.slices.iter().find(|sl| sl.key == key).and_then(|sl| sl.total))
}

fn parse_date(e: &mut ValidationErrors, field: &str, raw: &str, required: bool) -> Option<jiff::civil::Date> {
    let raw = raw.trim();
    if raw.is_empty() {
        if required {
            e.add(field, Issue::Required);
        }
        return None;
    }
    match raw.parse::<jiff::civil::Date>() {
        Ok(d) => Some(d),
        Err(_) => {
            e.add(field, Issue::InvalidDate);
            None
        }
    }
}

/// What may change of a recorded action (the KPI, slice, start and the
/// captured "before" figure stay).
#[derive(Debug, Clone, Default)]
pub struct ActionChange {
    pub title: String,
    pub note: String,
    pub owner_id: Option<i64>,
    /// `YYYY-MM-DD`, optional; not before the action's start.
    pub review_on: String,
}

/// The checked editable fields of an action: title, note, review date.
struct ActionDetails {
    title: String,
    note: String,
    review: Option<jiff::civil::Date>,
}

/// Checks an action's title, note, owner and review date (not before
/// `started`); errors name the field.
async fn check_details(
    state: &AppState,
    e: &mut ValidationErrors,
    change: &ActionChange,
    started: Option<jiff::civil::Date>,
) -> AppResult<ActionDetails> {
    let title = change.title.trim().to_string();
    if title.is_empty() {
        e.add("title", Issue::Required);
    } else if title.chars().count() > 200 {
        e.add("title", Issue::TooLong { max: 200 });
    }
    let note = change.note.trim().to_string();
    if note.chars().count() > 4000 {
        e.add("note", Issue::TooLong { max: 4000 });
    }
    let review = parse_date(e, "review_on", &change.review_on, false);
    if let (Some(s), Some(r)) = (started, review)
        && r < s
    {
        e.add("review_on", Issue::EndNotAfterStart);
    }
    if let Some(owner) = change.owner_id
        && !state.db.read(move |c| store::user_exists(c, owner)).await?
    {
        e.add("owner_id", Issue::Unknown);
    }
    Ok(ActionDetails { title, note, review })
}

/// An action as the audit log keeps it.
fn action_detail(a: &KpiAction) -> serde_json::Value {
    serde_json::json!({ "kpi": a.kpi, "group_by": a.group_by, "slice_key": a.slice_key, "title": a.title,
        "note": a.note, "owner_id": a.owner_id, "started_on": a.started_on.to_string(),
        "review_on": a.review_on.map(|d| d.to_string()), "before_value": a.before_value })
}

/// The editable fields of an action, for the audit log's before and after.
fn editable_detail(a: &KpiAction) -> serde_json::Value {
    serde_json::json!({ "title": a.title, "note": a.note, "owner_id": a.owner_id,
        "review_on": a.review_on.map(|d| d.to_string()) })
}

/// Records an action: the "before" figure is the KPI on the slice over the
/// [`BEFORE_DAYS`] days before `started_on`, computed now and kept.
/// Audited (`create` of a `kpi_action`).
pub async fn record_action(state: &AppState, user: &User, input: ActionInput, ip: Option<String>) -> AppResult<i64> {
    require_reader(user)?;
    let mut e = ValidationErrors::new();
    let def = check_kpi(&mut e, &input.kpi);
    let (group, key) = check_slice(&mut e, def, &input.group_by, &input.slice_key);
    let started = parse_date(&mut e, "started_on", &input.started_on, true);
    let change =
        ActionChange { title: input.title, note: input.note, owner_id: input.owner_id, review_on: input.review_on };
    let ActionDetails { title, note, review } = check_details(state, &mut e, &change, started).await?;
    let (Some(def), Some(group), Some(started)) = (def, group, started) else { return Err(e.into()) };
    if !e.is_empty() {
        return Err(e.into());
    }
    let before_to = started.yesterday().map_err(|err| AppError::Internal(err.to_string()))?;
    let before_from =
        started.checked_sub(jiff::Span::new().days(BEFORE_DAYS)).map_err(|err| AppError::Internal(err.to_string()))?;
    let before_value = slice_value(state, user, def, group, &key, before_from, before_to).await?;
    let new = guanxi_store::kpi_targets::NewKpiAction {
        kpi: def.name.to_string(),
        group_by: group.code().to_string(),
        slice_key: key,
        title,
        note,
        owner_id: input.owner_id,
        started_on: started,
        review_on: review,
        before_value,
        before_from,
        before_to,
    };
    let (by, now) = (user.id, state.clock.now());
    Ok(state
        .db
        .write(move |c| {
            let id = store::insert_action(c, &new, by, now)?;
            let a = store::get_action(c, id)?.ok_or(StoreError::NotFound)?;
            audited(c, now, by, "create", "kpi_action", id, &action_detail(&a), ip.as_deref())?;
            Ok(id)
        })
        .await?)
}

/// Changes an action's title, note, owner and review date, checked as
/// when it was recorded (the review date not before its start); audited
/// (`update` of a `kpi_action`, with before and after). 404 for none.
pub async fn update_action(
    state: &AppState,
    user: &User,
    id: i64,
    change: ActionChange,
    ip: Option<String>,
) -> AppResult<()> {
    require_reader(user)?;
    let current = state.db.read(move |c| store::get_action(c, id)).await?.ok_or(AppError::NotFound)?;
    let mut e = ValidationErrors::new();
    let ActionDetails { title, note, review } = check_details(state, &mut e, &change, Some(current.started_on)).await?;
    if !e.is_empty() {
        return Err(e.into());
    }
    let (by, now, owner) = (user.id, state.clock.now(), change.owner_id);
    Ok(state
        .db
        .write(move |c| {
            let before = store::get_action(c, id)?.ok_or(StoreError::NotFound)?;
            store::update_action(c, id, &title, &note, owner, review)?;
            let after = store::get_action(c, id)?.ok_or(StoreError::NotFound)?;
            let detail = serde_json::json!({ "before": editable_detail(&before), "after": editable_detail(&after) });
            audited(c, now, by, "update", "kpi_action", id, &detail, ip.as_deref())
        })
        .await?)
}

/// Removes an action; audited (`delete`, with what it was). 404 for none.
pub async fn delete_action(state: &AppState, user: &User, id: i64, ip: Option<String>) -> AppResult<()> {
    require_reader(user)?;
    let (by, now) = (user.id, state.clock.now());
    Ok(state
        .db
        .write(move |c| {
            let a = store::get_action(c, id)?.ok_or(StoreError::NotFound)?;
            store::delete_action(c, id)?;
            audited(c, now, by, "delete", "kpi_action", id, &action_detail(&a), ip.as_deref())
        })
        .await?)
}

/// The "after" figure of an action: the KPI over `[started_on, review_on]`
/// (or up to today), computed live.
async fn figures(
    state: &AppState,
    user: &User,
    action: guanxi_store::kpi_targets::KpiAction,
) -> AppResult<Option<ActionFigures>> {
    let Some(def) = kpi::find(&action.kpi) else { return Ok(None) };
    let Ok(group) = GroupBy::parse(&action.group_by) else { return Ok(None) };
    let today = state.today();
    let end = action.review_on.map_or(today, |r| r.min(today));
    let after_range = (action.started_on <= end).then_some((action.started_on, end));
    let after_value = match after_range {
        Some((from, to)) => slice_value(state, user, def, group, &action.slice_key, from, to).await?,
        None => None,
    };
    let change = match (action.before_value, after_value) {
        (Some(b), Some(a)) => Some(a - b),
        _ => None,
    };
    Ok(Some(ActionFigures { action, def, after_range, after_value, change }))
}

/// Actions on a page when the request names no `limit`.
pub const ACTIONS_PAGE: i64 = 20;

/// A page of actions with their figures, and the cursor of the next.
#[derive(Debug, Clone)]
pub struct ActionsPage {
    pub items: Vec<ActionFigures>,
    /// Pass as `before` for the next page; `None` on the last.
    pub next: Option<String>,
}

/// The cursor after an action: `YYYY-MM-DD_id` of its start and id.
fn action_cursor(a: &KpiAction) -> String {
    format!("{}_{}", a.started_on, a.id)
}

/// Reads a page request: `before` (a cursor from `next`) and `limit`
/// (1–100, default [`ACTIONS_PAGE`]); each bad field is named.
pub fn parse_actions_page(
    before: Option<&str>,
    limit: Option<&str>,
) -> Result<(Option<(jiff::civil::Date, i64)>, i64), ValidationErrors> {
    let mut e = ValidationErrors::new();
    fn present(v: Option<&str>) -> Option<&str> {
        v.map(str::trim).filter(|s| !s.is_empty())
    }
    let cursor = present(before).and_then(|raw| {
        let parsed = raw.split_once('_').and_then(|(d, id)| Some((d.parse().ok()?, id.parse().ok()?)));
        if parsed.is_none() {
            e.add("before", Issue::Unknown);
        }
        parsed
    });
    let limit = match present(limit).map(str::parse::<i64>) {
        None => ACTIONS_PAGE,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => {
            e.add("limit", Issue::OutOfRange);
            ACTIONS_PAGE
        }
    };
    if e.is_empty() { Ok((cursor, limit)) } else { Err(e) }
}

/// A page of actions, newest start first, with their figures (each
/// action's "after" figure is its own KPI query, so a page is bounded).
pub async fn list_actions(
    state: &AppState,
    user: &User,
    before: Option<(jiff::civil::Date, i64)>,
    limit: i64,
) -> AppResult<ActionsPage> {
    require_reader(user)?;
    let mut rows = state.db.read(move |c| store::list_actions(c, before, limit + 1)).await?;
    let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next = if more { rows.last().map(action_cursor) } else { None };
    let mut items = Vec::with_capacity(rows.len());
    for a in rows {
        if let Some(f) = figures(state, user, a).await? {
            items.push(f);
        }
    }
    Ok(ActionsPage { items, next })
}

pub async fn get_action(state: &AppState, user: &User, id: i64) -> AppResult<ActionFigures> {
    require_reader(user)?;
    let a = state.db.read(move |c| guanxi_store::kpi_targets::get_action(c, id)).await?.ok_or(AppError::NotFound)?;
    figures(state, user, a).await?.ok_or(AppError::NotFound)
}
