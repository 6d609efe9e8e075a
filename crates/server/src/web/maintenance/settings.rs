//! The maintenance rules (administrators): each scenario's switch and
//! numbers, and the cadence table per tier (客户维护沟通周期表). Saved
//! through `service::maintenance::save_rules`; a refused number is shown
//! beside its field in zh/en and nothing is saved.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use guanxi_domain::plan::{
    CareRule, ChurnOwner, ChurnRule, ComplaintRule, FirstFollowUpRule, HOLIDAYS, PlanRules, RenewalRule, RevisitRule,
    SilentRule, TierCadence,
};
use guanxi_domain::segment::ValueTier;
use guanxi_domain::{Issue, Lang, ValidationErrors};
use minijinja::{Value, context};

use crate::auth::PageUser;
use crate::error::{AppError, AppResult};
use crate::lang::ReqLang;
use crate::service::maintenance as svc;
use crate::state::AppState;
use crate::web::{form_get, form_pairs, page_ctx, render};

type Pairs = Vec<(String, String)>;

fn push(v: &mut Pairs, k: &str, x: impl ToString) {
    v.push((k.to_string(), x.to_string()));
}

fn flag(v: &mut Pairs, k: &str, on: bool) {
    if on {
        push(v, k, "1");
    }
}

/// The form's values of stored rules.
fn values_of(r: &PlanRules) -> Pairs {
    let mut v = Pairs::new();
    push(&mut v, "lookahead_days", r.lookahead_days);
    let f = &r.first_follow_up;
    flag(&mut v, "first_follow_up_enabled", f.enabled);
    push(&mut v, "first_follow_up_earliest_hours", f.earliest_hours);
    push(&mut v, "first_follow_up_latest_hours", f.latest_hours);
    push(&mut v, "first_follow_up_lookback_days", f.lookback_days);
    flag(&mut v, "revisit_enabled", r.revisit.enabled);
    push(&mut v, "revisit_min_cooperation_months", r.revisit.min_cooperation_months);
    for t in ValueTier::ALL {
        let c = r.cadence_of(*t);
        let k = t.code();
        push(&mut v, &format!("cadence_{k}_revisit_months"), c.revisit_months);
        push(
            &mut v,
            &format!("cadence_{k}_deep_interview_months"),
            c.deep_interview_months.map(|m| m.to_string()).unwrap_or_default(),
        );
        push(
            &mut v,
            &format!("cadence_{k}_content_months"),
            c.content_months.map(|m| m.to_string()).unwrap_or_default(),
        );
    }
    flag(&mut v, "complaint_repair_enabled", r.complaint_repair.enabled);
    push(&mut v, "complaint_repair_working_days", r.complaint_repair.working_days);
    flag(&mut v, "churn_recovery_enabled", r.churn_recovery.enabled);
    push(&mut v, "churn_recovery_within_hours", r.churn_recovery.within_hours);
    push(&mut v, "churn_recovery_owner", r.churn_recovery.owner.code());
    flag(&mut v, "renewal_enabled", r.renewal.enabled);
    push(&mut v, "renewal_days_before", r.renewal.days_before);
    let m = &r.milestone;
    flag(&mut v, "milestone_enabled", m.enabled);
    push(&mut v, "milestone_days_before", m.days_before);
    flag(&mut v, "milestone_birthdays", m.birthdays);
    flag(&mut v, "milestone_anniversaries", m.anniversaries);
    for h in &m.holidays {
        push(&mut v, "milestone_holidays", h);
    }
    for t in &m.holiday_tiers {
        push(&mut v, "milestone_holiday_tiers", t.code());
    }
    flag(&mut v, "silent_care_enabled", r.silent_care.enabled);
    push(&mut v, "silent_care_working_days", r.silent_care.working_days);
    flag(&mut v, "content_push", r.content_push);
    v
}

fn get<'a>(v: &'a Pairs, k: &str) -> &'a str {
    form_get(v, k).map_or("", str::trim)
}

fn all<'a>(v: &'a Pairs, k: &str) -> Vec<&'a str> {
    v.iter().filter(|(n, _)| n == k).map(|(_, x)| x.as_str()).collect()
}

/// A required whole number; refused under its field name.
fn number(v: &Pairs, e: &mut ValidationErrors, k: &str) -> u16 {
    match get(v, k) {
        "" => {
            e.add(k, Issue::Required);
            0
        }
        t => t.parse::<u16>().unwrap_or_else(|_| {
            e.add(k, Issue::OutOfRange);
            0
        }),
    }
}

/// An optional number of months (empty: none).
fn optional(v: &Pairs, e: &mut ValidationErrors, k: &str) -> Option<u8> {
    match get(v, k) {
        "" => None,
        x => Some(x.parse::<u8>().unwrap_or_else(|_| {
            e.add(k, Issue::OutOfRange);
            0
        })),
    }
}

/// Reads the posted form into rules. Errors name the form's fields
/// (`cadence_high_revisit_months`).
fn parse(v: &Pairs) -> Result<PlanRules, ValidationErrors> {
    let mut e = ValidationErrors::new();
    let small = |n: u16| u8::try_from(n).unwrap_or(u8::MAX);
    let on = |k: &str| !get(v, k).is_empty();
    let lookahead_days = number(v, &mut e, "lookahead_days");
    let first_follow_up = FirstFollowUpRule {
        enabled: on("first_follow_up_enabled"),
        earliest_hours: number(v, &mut e, "first_follow_up_earliest_hours"),
        latest_hours: number(v, &mut e, "first_follow_up_latest_hours"),
        lookback_days: number(v, &mut e, "first_follow_up_lookback_days"),
    };
    let revisit = RevisitRule {
        enabled: on("revisit_enabled"),
        min_cooperation_months: small(number(v, &mut e, "revisit_min_cooperation_months")),
    };
    let mut cadence = Vec::new();
    for t in ValueTier::ALL {
        let k = t.code();
        cadence.push(TierCadence {
            tier: *t,
            revisit_months: small(number(v, &mut e, &format!("cadence_{k}_revisit_months"))),
            deep_interview_months: optional(v, &mut e, &format!("cadence_{k}_deep_interview_months")),
            content_months: optional(v, &mut e, &format!("cadence_{k}_content_months")),
        });
    }
    let complaint_repair = ComplaintRule {
        enabled: on("complaint_repair_enabled"),
        working_days: small(number(v, &mut e, "complaint_repair_working_days")),
    };
    let within_hours = number(v, &mut e, "churn_recovery_within_hours");
    let renewal = RenewalRule { enabled: on("renewal_enabled"), days_before: number(v, &mut e, "renewal_days_before") };
    let care_days = small(number(v, &mut e, "milestone_days_before"));
    let silent_days = small(number(v, &mut e, "silent_care_working_days"));
    let owner = match ChurnOwner::parse(get(v, "churn_recovery_owner")) {
        Ok(o) => o,
        Err(i) => {
            e.add("churn_recovery_owner", i);
            ChurnOwner::Supervisor
        }
    };
    let mut holiday_tiers = Vec::new();
    for t in all(v, "milestone_holiday_tiers") {
        match ValueTier::parse(t) {
            Ok(t) => holiday_tiers.push(t),
            Err(i) => e.add("milestone_holiday_tiers", i),
        }
    }
    let rules = PlanRules {
        lookahead_days,
        first_follow_up,
        revisit,
        cadence,
        complaint_repair,
        churn_recovery: ChurnRule { enabled: on("churn_recovery_enabled"), within_hours, owner },
        renewal,
        milestone: CareRule {
            enabled: on("milestone_enabled"),
            days_before: care_days,
            birthdays: on("milestone_birthdays"),
            anniversaries: on("milestone_anniversaries"),
            holidays: all(v, "milestone_holidays").into_iter().map(str::to_string).collect(),
            holiday_tiers,
        },
        silent_care: SilentRule { enabled: on("silent_care_enabled"), working_days: silent_days },
        content_push: on("content_push"),
    };
    // The rules' own checks, under the form's names; a field already
    // refused as unreadable keeps that reason.
    if let Err(more) = rules.validate() {
        for f in more.0 {
            let field = f.field.replace('.', "_");
            if e.get(&field).is_none() {
                e.add(&field, f.issue);
            }
        }
    }
    e.into_result(|| rules)
}

fn field_label(field: &str, lang: Lang) -> String {
    let tier = ValueTier::ALL.iter().find(|t| field.starts_with(&format!("cadence_{}_", t.code())));
    if let Some(t) = tier {
        let what = if field.ends_with("_revisit_months") {
            lang.pick("回访周期（月）", "revisit every (months)")
        } else if field.ends_with("_deep_interview_months") {
            lang.pick("深度访谈周期（月）", "deep interview every (months)")
        } else {
            lang.pick("内容推送周期（月）", "content every (months)")
        };
        return format!("{} · {what}", t.label(lang));
    }
    match field {
        "lookahead_days" => lang.pick("提前生成天数", "Days ahead"),
        "first_follow_up_earliest_hours" => {
            lang.pick("新客户首次跟进 · 最早（小时）", "First follow-up · from (hours)")
        }
        "first_follow_up_latest_hours" => lang.pick("新客户首次跟进 · 最晚（小时）", "First follow-up · by (hours)"),
        "first_follow_up_lookback_days" => {
            lang.pick("新客户首次跟进 · 新客户认定（天内）", "First follow-up · new within (days)")
        }
        "revisit_min_cooperation_months" => {
            lang.pick("定期回访 · 合作满（月）", "Revisit · cooperating at least (months)")
        }
        "complaint_repair_working_days" => {
            lang.pick("投诉修复 · 办结后（工作日）", "Complaint repair · within (working days)")
        }
        "churn_recovery_within_hours" => lang.pick("流失挽回 · 预警后（小时）", "Churn recovery · within (hours)"),
        "churn_recovery_owner" => lang.pick("流失挽回 · 负责人", "Churn recovery · owner"),
        "renewal_days_before" => lang.pick("续约 · 合同到期前（天）", "Renewal · days before the contract end"),
        "milestone_days_before" => lang.pick("节点关怀 · 提前（天）", "Milestone care · days before"),
        "milestone_holidays" => lang.pick("节点关怀 · 节日", "Milestone care · holidays"),
        "milestone_holiday_tiers" => lang.pick("节点关怀 · 节日问候的客户分层", "Milestone care · tiers greeted"),
        "silent_care_working_days" => lang.pick("沉默客户关怀 · 期限（工作日）", "Silent care · within (working days)"),
        other => other,
    }
    .to_string()
}

fn render_form(
    state: &AppState,
    lang: Lang,
    u: &PageUser,
    v: &Pairs,
    e: &ValidationErrors,
    flash: Option<String>,
) -> AppResult<Response> {
    let err: BTreeMap<String, String> = e.0.iter().map(|f| (f.field.clone(), f.issue.message(lang))).collect();
    let errors: Vec<Value> = e
        .0
        .iter()
        .map(|f| context! { field => f.field, label => field_label(&f.field, lang), message => f.issue.message(lang) })
        .collect();
    let values: BTreeMap<String, String> = v.iter().cloned().collect();
    let holidays = all(v, "milestone_holidays");
    let tiers = all(v, "milestone_holiday_tiers");
    let title = lang.pick("维护规则", "Maintenance rules");
    let ctx = context! { ..page_ctx(u, lang, "tasks", title), ..context! {
        tab => "settings",
        is_admin => true,
        v => values, err => err, errors => errors, flash => flash,
        tiers => ValueTier::ALL.iter().map(|t| {
            let k = t.code();
            let f = |x: &str| format!("cadence_{k}_{x}");
            context! {
                code => k, label => t.label(lang),
                revisit => f("revisit_months"), deep => f("deep_interview_months"), content => f("content_months"),
                greeted => tiers.contains(&k),
            }
        }).collect::<Vec<_>>(),
        holidays => HOLIDAYS.iter().map(|h| context! { name => h, checked => holidays.contains(h) }).collect::<Vec<_>>(),
        owners => [("supervisor", lang.pick("所属组主管（负责人协同）", "The owner's group supervisor (owner collaborates)")), ("owner", lang.pick("客户负责人", "The customer's owner"))]
            .iter().map(|(c, l)| context! { value => c, label => l }).collect::<Vec<_>>(),
    }};
    let status = if e.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, render(state, "maintenance/settings.html", ctx)?).into_response())
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
    let rules = svc::load_rules(&state).await?;
    let pairs: Pairs = serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let flash = (form_get(&pairs, "flash") == Some("settings")).then(|| {
        lang.pick("维护规则已保存，下次生成任务时生效", "Rules saved; they apply from the next generation").to_string()
    });
    render_form(&state, lang, &u, &values_of(&rules), &ValidationErrors::new(), flash)
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
    let v: Pairs = pairs.into_iter().filter(|(k, _)| k != "_csrf").collect();
    let errors = match parse(&v) {
        Ok(rules) => match svc::save_rules(&state, &u.user, rules).await {
            Ok(()) => return Ok(Redirect::to("/maintenance/settings?flash=settings").into_response()),
            Err(AppError::Invalid(e)) => e,
            Err(e) => return Err(e),
        },
        Err(e) => e,
    };
    render_form(&state, lang, &u, &v, &errors, None)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn stored_rules_read_back_unchanged() {
        let r = PlanRules::default();
        assert_eq!(parse(&values_of(&r)).unwrap(), r);
    }

    #[test]
    fn errors_name_the_form_fields() {
        let mut v = values_of(&PlanRules::default());
        for (k, x) in v.iter_mut() {
            match k.as_str() {
                "cadence_high_revisit_months" => *x = "0".into(),
                "renewal_days_before" => *x = "abc".into(),
                "lookahead_days" => *x = "".into(),
                _ => {}
            }
        }
        let e = parse(&v).unwrap_err();
        assert_eq!(e.fields(), vec!["lookahead_days", "renewal_days_before", "cadence_high_revisit_months"]);
        assert_eq!(field_label("cadence_high_revisit_months", Lang::Zh), "高价值 · 回访周期（月）");
        assert_eq!(field_label("renewal_days_before", Lang::En), "Renewal · days before the contract end");
    }
}
