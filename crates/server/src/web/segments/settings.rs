//! Segmentation settings (administrators): the tier thresholds in yuan and
//! the period they apply to, the activity months, the BG/NBD horizon, and
//! each churn signal's switch, threshold and window. Saved through
//! `service::segments::save_settings`; the next recomputation uses them.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use guanxi_domain::segment::{ActivityRules, SignalKind, SignalRule, TierPeriod, TierThresholds};
use guanxi_domain::{Issue, Lang, ValidationErrors};
use minijinja::{Value, context};

use super::{flash_text, query_pairs};
use crate::auth::PageUser;
use crate::error::{AppError, AppResult};
use crate::lang::ReqLang;
use crate::service::segments::{self as svc, SegmentSettings};
use crate::state::AppState;
use crate::web::{form_get, form_pairs, page_ctx, render};

/// The form's values by field name, as typed (or as stored).
type Values = BTreeMap<String, String>;

fn threshold_field(k: SignalKind) -> String {
    format!("{}_threshold", k.code())
}

fn window_field(k: SignalKind) -> String {
    format!("{}_window_days", k.code())
}

fn enabled_field(k: SignalKind) -> String {
    format!("{}_enabled", k.code())
}

/// An amount in yuan without grouping, e.g. `100000`.
fn yuan(m: guanxi_domain::money::Money) -> String {
    let (y, f) = (m.fen() / 100, m.fen() % 100);
    if f == 0 { y.to_string() } else { format!("{y}.{f:02}") }
}

fn rule_of(s: &SegmentSettings, k: SignalKind) -> SignalRule {
    s.signals.iter().find(|r| r.kind == k).copied().unwrap_or_else(|| SignalRule::default_for(k))
}

fn values_of(s: &SegmentSettings) -> Values {
    let mut v = Values::new();
    v.insert("tier_high".into(), yuan(s.tiers.high));
    v.insert("tier_potential".into(), yuan(s.tiers.potential));
    v.insert("period".into(), s.period.code().into());
    v.insert("active_months".into(), s.activity.active_months.to_string());
    v.insert("dormant_months".into(), s.activity.dormant_months.to_string());
    v.insert("horizon_weeks".into(), s.horizon_weeks.to_string());
    for k in SignalKind::ALL {
        let r = rule_of(s, *k);
        v.insert(threshold_field(*k), r.threshold.to_string());
        v.insert(window_field(*k), r.window_days.to_string());
        if r.enabled {
            v.insert(enabled_field(*k), "1".into());
        }
    }
    v
}

/// Reads the posted form. Errors name the form's fields (`tier_high`,
/// `order_drop_threshold`, …).
fn parse(v: &Values) -> Result<SegmentSettings, ValidationErrors> {
    let get = |k: &str| v.get(k).map_or("", String::as_str);
    let mut e = ValidationErrors::new();
    let mut take = |r: Result<(), ValidationErrors>| {
        if let Err(more) = r {
            e.0.extend(more.0);
        }
    };
    let tiers = TierThresholds::parse(get("tier_high"), get("tier_potential"));
    take(tiers.as_ref().map(|_| ()).map_err(Clone::clone));
    let activity = ActivityRules::parse(get("active_months"), get("dormant_months"));
    take(activity.as_ref().map(|_| ()).map_err(Clone::clone));
    let mut signals = Vec::new();
    for k in SignalKind::ALL {
        let enabled = !get(&enabled_field(*k)).is_empty();
        match SignalRule::parse(*k, enabled, get(&threshold_field(*k)), get(&window_field(*k))) {
            Ok(r) => signals.push(r),
            Err(more) => {
                for f in more.0 {
                    e.add(&format!("{}_{}", k.code(), f.field), f.issue);
                }
            }
        }
    }
    let period = TierPeriod::parse(get("period")).map_err(|i| e.add("period", i)).ok();
    let horizon = match get("horizon_weeks").trim() {
        "" => Err(Issue::Required),
        t => t.parse::<i64>().map_err(|_| Issue::OutOfRange),
    };
    let horizon_weeks = horizon.map_err(|i| e.add("horizon_weeks", i)).ok();
    match (tiers, activity, period, horizon_weeks) {
        (Ok(tiers), Ok(activity), Some(period), Some(horizon_weeks)) if e.is_empty() => {
            Ok(SegmentSettings { tiers, period, activity, signals, horizon_weeks })
        }
        _ => Err(e),
    }
}

fn field_label(field: &str, lang: Lang) -> String {
    let fixed = match field {
        "tier_high" => Some(lang.pick("高价值门槛（元）", "High value from (yuan)")),
        "tier_potential" => Some(lang.pick("潜力门槛（元）", "Potential from (yuan)")),
        "period" => Some(lang.pick("消费统计周期", "Spend period")),
        "active_months" => Some(lang.pick("活跃：最近几个月内有互动", "Active: an interaction within (months)")),
        "dormant_months" => Some(lang.pick("休眠：超过几个月无互动", "Dormant: no interaction for (months)")),
        "horizon_weeks" => Some(lang.pick("购买预测周期（周）", "Purchase forecast horizon (weeks)")),
        _ => None,
    };
    if let Some(l) = fixed {
        return l.to_string();
    }
    let kind = SignalKind::ALL.iter().find(|k| field.starts_with(k.code()));
    match kind {
        Some(k) if field.ends_with("_threshold") => format!("{} · {}", k.label(lang), lang.pick("阈值", "threshold")),
        Some(k) if field.ends_with("_window_days") => {
            format!("{} · {}", k.label(lang), lang.pick("比较窗口（天）", "window (days)"))
        }
        Some(k) => k.label(lang).to_string(),
        None => field.to_string(),
    }
}

/// What the form shows besides the values.
struct Shown<'a> {
    errors: &'a ValidationErrors,
    flash: Option<String>,
}

fn render_form(state: &AppState, lang: Lang, u: &PageUser, v: &Values, shown: Shown<'_>) -> AppResult<Response> {
    let e = shown.errors;
    // Field names of the settings' own validation (`order_drop.threshold`)
    // become the form's (`order_drop_threshold`).
    let err: BTreeMap<String, String> =
        e.0.iter().map(|f| (f.field.replace('.', "_"), f.issue.message(lang))).collect();
    let errors: Vec<Value> =
        e.0.iter()
            .map(|f| {
                let field = f.field.replace('.', "_");
                context! { label => field_label(&field, lang), field => field, message => f.issue.message(lang) }
            })
            .collect();
    let get = |k: &str| v.get(k).cloned().unwrap_or_default();
    let signals: Vec<Value> = SignalKind::ALL
        .iter()
        .map(|k| {
            let (t, w) = (threshold_field(*k), window_field(*k));
            context! {
                kind => k.code(),
                label => k.label(lang),
                unit => k.threshold_unit(lang),
                range => k.threshold_range().map(|(lo, hi)| format!("{lo}–{hi}")),
                uses_window => k.uses_window(),
                enabled => !get(&enabled_field(*k)).is_empty(),
                threshold => get(&t),
                window_days => get(&w),
                err_threshold => err.get(&t),
                err_window => err.get(&w),
            }
        })
        .collect();
    let (wlo, whi) = SignalRule::WINDOW_DAYS;
    let title = lang.pick("分层设置", "Segmentation settings");
    let ctx = context! { ..page_ctx(u, lang, "segments", title), ..context! {
        v => v,
        err => err,
        errors => errors,
        periods => TierPeriod::ALL.iter().map(|p| context! { value => p.code(), label => p.label(lang) }).collect::<Vec<_>>(),
        signals => signals,
        window_range => format!("{wlo}–{whi}"),
        max_months => ActivityRules::MAX_MONTHS,
        flash => shown.flash,
        tab => "settings",
    }};
    let status = if e.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, render(state, "segments/settings.html", ctx)?).into_response())
}

pub(super) async fn form(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    if !u.user.role.can_administer_users() {
        return Err(AppError::Forbidden);
    }
    let s = svc::load_settings(&state).await?;
    let flash = flash_text(&query_pairs(raw.as_deref()), lang);
    render_form(&state, lang, &u, &values_of(&s), Shown { errors: &ValidationErrors::new(), flash })
}

pub(super) async fn save(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    if !u.user.role.can_administer_users() {
        return Err(AppError::Forbidden);
    }
    let v: Values = pairs.into_iter().filter(|(k, _)| k != "_csrf").collect();
    let errors = match parse(&v) {
        Ok(s) => match svc::save_settings(&state, &u.user, s).await {
            Ok(()) => return Ok(Redirect::to("/segments/settings?flash=settings").into_response()),
            Err(AppError::Invalid(e)) => e,
            Err(e) => return Err(e),
        },
        Err(e) => e,
    };
    render_form(&state, lang, &u, &v, Shown { errors: &errors, flash: None })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn stored_settings_read_back_unchanged() {
        let s = SegmentSettings::default();
        assert_eq!(parse(&values_of(&s)).unwrap(), s);
    }

    #[test]
    fn errors_name_the_form_fields() {
        let mut v = values_of(&SegmentSettings::default());
        v.insert("tier_high".into(), "abc".into());
        v.insert("order_drop_threshold".into(), "150".into());
        v.insert("no_login_window_days".into(), "".into());
        v.insert("horizon_weeks".into(), "x".into());
        let e = parse(&v).unwrap_err();
        assert_eq!(e.fields(), vec!["tier_high", "order_drop_threshold", "no_login_window_days", "horizon_weeks"]);
        assert_eq!(field_label("order_drop_threshold", Lang::Zh), "订单量下降 · 阈值");
        assert_eq!(field_label("no_login_window_days", Lang::En), "No login · window (days)");
    }
}
