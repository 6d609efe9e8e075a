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
use guanxi_store::kpi_targets::{self as store, KpiTarget};
use guanxi_store::users::User;

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
    }
}

/// Checks a target; errors name the field (`kpi`, `group_by`, `slice_key`,
/// `at_least`, `value`).
pub fn validate(input: &TargetInput) -> Result<(&'static KpiDef, GroupBy, String, bool, f64), ValidationErrors> {
    let mut e = ValidationErrors::new();
    let def = kpi::find(input.kpi.trim());
    if def.is_none() {
        e.add("kpi", if input.kpi.trim().is_empty() { Issue::Required } else { Issue::Unknown });
    }
    let def = def.filter(|d| {
        if d.available() {
            true
        } else {
            e.add("kpi", Issue::NotAllowed);
            false
        }
    });
    let group = e.check("group_by", GroupBy::parse(input.group_by.trim()));
    if let (Some(d), Some(g)) = (def, group)
        && !d.supports(g)
    {
        e.add("group_by", Issue::NotAllowed);
    }
    let key = input.slice_key.trim().to_string();
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

pub async fn list(state: &AppState, user: &User) -> AppResult<Vec<KpiTarget>> {
    require_reader(user)?;
    Ok(state.db.read(store::list).await?)
}

/// Sets (or replaces) the target of a slice.
pub async fn set(state: &AppState, user: &User, input: TargetInput) -> AppResult<KpiTarget> {
    require_reader(user)?;
    let (def, group, key, at_least, value) = validate(&input)?;
    let (by, now) = (user.id, state.clock.now());
    Ok(state.db.write(move |c| store::upsert(c, def.name, group.code(), &key, at_least, value, by, now)).await?)
}

pub async fn delete(state: &AppState, user: &User, id: i64) -> AppResult<()> {
    require_reader(user)?;
    if state.db.write(move |c| store::delete(c, id)).await? { Ok(()) } else { Err(AppError::NotFound) }
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

/// A target in words, e.g. `≥ 95.0%`.
pub fn target_text(t: Option<Target>, unit: Unit) -> Option<String> {
    t.map(|t| format!("{} {}", if t.at_least { "≥" } else { "≤" }, kpi::display(Some(t.value), unit)))
}
