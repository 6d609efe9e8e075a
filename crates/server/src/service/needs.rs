//! The need closed loop beyond the record itself (SPEC T1 需求-响应-反馈,
//! R3 客户需求分析报告): telling the customer the outcome through the
//! outbox, and the needs report for a period (the page, its Excel file and
//! the API read the same [`NeedsReportData`]).

use std::collections::BTreeMap;

use guanxi_domain::outreach::Scenario;
use guanxi_domain::ticket::need::{self, NeedsReport};
use guanxi_domain::{Issue, Lang, ValidationErrors};
use guanxi_store::customers::{self as store_customers, Scope};
use guanxi_store::needs::{self as store, NeedListRow, NeedRecord};
use guanxi_store::outreach::{self as store_outreach, NewMessage};
use guanxi_store::users::User;
use jiff::Timestamp;
use jiff::civil::Date;

use crate::error::{AppError, AppResult};
use crate::service::outreach::{self as outreach, consent, settings, templates};
use crate::state::AppState;

/// The idempotency key of the outcome message of a need ticket: one per ticket.
pub fn outcome_key(ticket_id: i64) -> String {
    format!("need-outcome-{ticket_id}")
}

fn no_outcome() -> AppError {
    let e = need::CloseRefused::NoOutcome;
    AppError::Refused { code: e.code(), zh: e.message(Lang::Zh).into(), en: e.message(Lang::En).into() }
}

/// Records that the customer was told the outcome of the need (delivered or
/// declined); with `notify`, the telling is an outbox message of the
/// `need_outcome` scenario on the customer's channel (consent and quiet
/// hours as for any service message), whose id is kept with the record.
/// Told once: a second call changes nothing and queues nothing. Refused
/// (409, nothing written) before there is an outcome, or when the message
/// cannot go (the customer refuses every channel they have, or has none).
pub async fn tell(state: &AppState, user: &User, id: i64, notify: bool) -> AppResult<NeedRecord> {
    let who = user.clone();
    let (ticket, record) = state
        .db
        .read(move |c| {
            if let Err(e) = crate::api::needs::need_ticket(c, &who, id)? {
                return Ok(Err(e));
            }
            let t = guanxi_store::tickets::get(c, id)?;
            Ok(Ok((t, store::get(c, id)?)))
        })
        .await??;
    if !user.role.can_create_tickets() {
        return Err(AppError::Forbidden);
    }
    let now = state.clock.now();
    if let Some(r) = &record
        && r.customer_told_at.is_some()
    {
        return Ok(r.clone());
    }
    if !record.as_ref().is_some_and(|r| r.status.is_outcome()) {
        return Err(no_outcome());
    }
    let mut message = None;
    if notify && let Some(r) = &record {
        let cfg = settings::load(state).await?;
        let customer_id = ticket.customer_id;
        let (customer, refused) = state
            .db
            .read(move |c| {
                Ok((store_customers::get(c, &Scope::All, customer_id)?, consent::refused_in(c, customer_id)?))
            })
            .await?;
        let scenario = Scenario::NeedOutcome;
        let Some(ch) = outreach::channels_for(scenario, None, Some(&customer), &refused, &cfg).first().copied() else {
            return Err(match refused.first() {
                Some(ch) => consent::refused_error(*ch),
                None => AppError::Refused {
                    code: "no_channel",
                    zh: "客户没有可用的邮箱或手机号，无法发送通知；请用其他方式告知后再记录".into(),
                    en: "The customer has no email address or phone number to notify; tell them another way, then record it"
                        .into(),
                },
            });
        };
        let tpl = state
            .db
            .read(move |c| store_outreach::template_for(c, scenario.code(), ch.code()))
            .await?
            .ok_or_else(|| AppError::field("notify", Issue::Unknown))?;
        let outcome =
            need::outcome_text(r.status, r.planned_version.as_deref(), r.planned_date, r.decline_reason.as_deref())
                .unwrap_or_default();
        let vars = BTreeMap::from([
            ("customer_name".to_string(), customer.name.clone()),
            ("ticket_number".to_string(), ticket.number.clone()),
            ("subject".to_string(), ticket.subject.clone()),
            ("outcome".to_string(), outcome),
        ]);
        let (recipient_enc, recipient_masked) = outreach::recipient(state, ch, Some(&customer), &cfg)?;
        message = Some(NewMessage {
            idempotency_key: outcome_key(id),
            channel: ch.code().into(),
            scenario: scenario.code().into(),
            customer_id: Some(customer.id),
            recipient_enc,
            recipient_masked,
            subject: templates::render(&tpl.subject, &vars).map_err(|i| AppError::field("notify", i))?,
            body: templates::render(&tpl.body, &vars).map_err(|i| AppError::field("notify", i))?,
            status: "queued".into(),
            last_error: None,
            not_before: cfg.quiet_hours.map_or(now, |q| q.release_at(now, &state.config.time_zone)),
            created_by: Some(user.id),
        });
    }
    let uid = user.id;
    state
        .db
        .write(move |c| {
            let r = store::get(c, id)?.ok_or(guanxi_store::StoreError::NotFound)?;
            if r.customer_told_at.is_some() {
                return Ok(Ok(r));
            }
            if !r.status.is_outcome() {
                return Ok(Err(no_outcome()));
            }
            let outreach_id = match &message {
                Some(m) => outreach::queue(c, std::slice::from_ref(m), Some(uid), now)?.first().copied(),
                None => None,
            };
            store::mark_told(c, id, outreach_id, Some(uid), now)?;
            store::get(c, id)?.ok_or(guanxi_store::StoreError::NotFound).map(Ok)
        })
        .await?
}

/// The period of a needs report: `from`..=`to` (dates), or a month
/// (`YYYY-MM`), else the current month. At most 366 days.
pub fn parse_period(
    month: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
    today: Date,
) -> Result<(Date, Date), ValidationErrors> {
    let blank = |s: Option<&str>| s.map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let (month, from, to) = (blank(month), blank(from), blank(to));
    let mut e = ValidationErrors::new();
    if from.is_some() || to.is_some() {
        let f = e.check("from", from.as_deref().unwrap_or("").parse::<Date>().map_err(|_| Issue::InvalidDate));
        let t = e.check("to", to.as_deref().unwrap_or("").parse::<Date>().map_err(|_| Issue::InvalidDate));
        if let (Some(f), Some(t)) = (f, t) {
            if t < f || (t - f).get_days() > 366 {
                e.add("to", Issue::OutOfRange);
            }
            return e.into_result(|| (f, t));
        }
        return Err(e);
    }
    let first = match month {
        Some(m) => e.check("month", format!("{m}-01").parse::<Date>().map_err(|_| Issue::InvalidDate)),
        None => Some(today.first_of_month()),
    };
    let Some(first) = first else { return Err(e) };
    Ok((first, first.last_of_month()))
}

/// Local midnight of a date as an instant.
fn midnight(d: Date, tz: &jiff::tz::TimeZone) -> AppResult<Timestamp> {
    d.to_zoned(tz.clone()).map(|z| z.timestamp()).map_err(|e| AppError::Internal(e.to_string()))
}

/// Most needs listed in a report (the figures count them all).
pub const LIST_MAX: i64 = 2000;

/// The needs report of a period: the figures and the needs themselves.
#[derive(Debug, Clone)]
pub struct NeedsReportData {
    pub from: Date,
    pub to: Date,
    pub report: NeedsReport,
    pub needs: Vec<NeedListRow>,
    /// The list stops at [`LIST_MAX`]; the figures do not.
    pub truncated: bool,
}

/// The needs submitted from `from` to `to` (local dates, inclusive).
/// Aggregate figures: supervisors and administrators (the route's rule).
pub async fn report(state: &AppState, user: &User, from: Date, to: Date, lang: Lang) -> AppResult<NeedsReportData> {
    if !user.role.sees_all_customers() {
        return Err(AppError::Forbidden);
    }
    let tz = state.config.time_zone.clone();
    let start = midnight(from, &tz)?;
    let until = midnight(to.tomorrow().map_err(|e| AppError::Internal(e.to_string()))?, &tz)?;
    let (rows, needs) = state
        .db
        .read(move |c| Ok((store::report_rows(c, start, until)?, store::list(c, start, until, LIST_MAX + 1)?)))
        .await?;
    let report = need::report(&rows, &tz, lang.pick("未分派", "Not routed"));
    let truncated = needs.len() > usize::try_from(LIST_MAX).unwrap_or(usize::MAX);
    let needs = needs.into_iter().take(usize::try_from(LIST_MAX).unwrap_or(usize::MAX)).collect();
    Ok(NeedsReportData { from, to, report, needs, truncated })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_period_is_a_month_or_two_dates() {
        let today = jiff::civil::date(2026, 12, 4);
        let d = jiff::civil::date;
        assert_eq!(parse_period(None, None, None, today), Ok((d(2026, 12, 1), d(2026, 12, 31))));
        assert_eq!(parse_period(Some("2026-02"), None, None, today), Ok((d(2026, 2, 1), d(2026, 2, 28))));
        assert_eq!(
            parse_period(None, Some("2026-01-05"), Some("2026-03-01"), today),
            Ok((d(2026, 1, 5), d(2026, 3, 1)))
        );
        assert_eq!(parse_period(Some("2026-13"), None, None, today).unwrap_err().fields(), vec!["month"]);
        assert_eq!(parse_period(None, Some("2026-03-01"), Some("2026-01-01"), today).unwrap_err().fields(), vec!["to"]);
        assert_eq!(parse_period(None, Some("2026-03-01"), None, today).unwrap_err().fields(), vec!["to"]);
    }
}

/// Where new needs of one category go.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DepartmentRoute {
    /// product, service, communication, logistics, other.
    pub category: String,
    /// The group new needs go to now; null: not routed.
    pub group_id: Option<i64>,
    pub group_name: Option<String>,
    /// Chosen by an administrator (else found by the default names).
    pub chosen: bool,
    /// The default names looked for, most fitting first.
    pub default_names: Vec<String>,
}

fn routes_in(c: &mut guanxi_store::Conn) -> guanxi_store::Result<Vec<DepartmentRoute>> {
    use guanxi_domain::ticket::Category;
    let chosen: BTreeMap<String, i64> = guanxi_store::settings::get(c, need::DEPARTMENTS_SETTING)?
        .and_then(|raw| serde_json::from_str(&raw).ok())
        .unwrap_or_default();
    let groups = guanxi_store::users::list_groups(c)?;
    let mut out = Vec::new();
    for cat in Category::ALL {
        let id = store::department_for(c, *cat)?;
        out.push(DepartmentRoute {
            category: cat.code().into(),
            group_id: id,
            group_name: id.and_then(|id| groups.iter().find(|g| g.id == id)).map(|g| g.name.clone()),
            chosen: id.is_some() && chosen.get(cat.code()) == id.as_ref(),
            default_names: need::default_departments(*cat).iter().map(|s| s.to_string()).collect(),
        });
    }
    Ok(out)
}

/// Where new needs go, per ticket category (administrators).
pub async fn department_routes(state: &AppState, user: &User) -> AppResult<Vec<DepartmentRoute>> {
    if !user.role.can_configure_service() {
        return Err(AppError::Forbidden);
    }
    Ok(state.db.read(routes_in).await?)
}

/// Sets the department of new needs per category (administrators): a
/// group id, or null to fall back to the default names. An unknown
/// category or group is refused naming it; nothing is written then.
pub async fn set_department_routes(
    state: &AppState,
    user: &User,
    input: BTreeMap<String, Option<i64>>,
) -> AppResult<Vec<DepartmentRoute>> {
    use guanxi_domain::ticket::Category;
    if !user.role.can_configure_service() {
        return Err(AppError::Forbidden);
    }
    for key in input.keys() {
        if Category::parse(key).is_err() {
            return Err(AppError::field(key, Issue::NotAllowed));
        }
    }
    let (uid, now) = (user.id, state.clock.now());
    Ok(state
        .db
        .write(move |c| {
            let mut chosen: BTreeMap<String, i64> = guanxi_store::settings::get(c, need::DEPARTMENTS_SETTING)?
                .and_then(|raw| serde_json::from_str(&raw).ok())
                .unwrap_or_default();
            for (key, id) in &input {
                match id {
                    Some(id) => {
                        let n: i64 = c.scalar("SELECT COUNT(*) FROM groups WHERE id = $1", guanxi_store::args![*id])?;
                        if n == 0 {
                            return Err(ValidationErrors::single(key, Issue::Unknown).into());
                        }
                        chosen.insert(key.clone(), *id);
                    }
                    None => {
                        chosen.remove(key);
                    }
                }
            }
            let value = serde_json::to_string(&chosen).map_err(|e| guanxi_store::StoreError::Other(e.to_string()))?;
            guanxi_store::settings::set(c, need::DEPARTMENTS_SETTING, &value, now)?;
            guanxi_store::audit::record(
                c,
                now,
                &guanxi_store::audit::AuditEntry {
                    actor_id: Some(uid),
                    action: "update",
                    entity: "need_departments",
                    entity_id: None,
                    detail: value,
                    ip: None,
                },
            )?;
            routes_in(c)
        })
        .await?)
}
