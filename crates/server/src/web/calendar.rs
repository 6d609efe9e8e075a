//! 工作日历 (administrators): a month of the business calendar — working
//! days, holidays, 调休 and festivals with their names — the form that
//! overrides a day, and the default schedule's weekly hours.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use guanxi_domain::calendar::hours::{WEEKDAYS, split_day_text, weekday_code, weekday_label};
use guanxi_domain::calendar::{self, CalendarDay, DayKind, ScheduleHours, WeeklySchedule, statutory};
use guanxi_domain::{Lang, ValidationErrors};
use jiff::ToSpan;
use jiff::civil::Date;
use minijinja::{Value, context};

use super::{form_get, form_pairs, page_ctx, render};
use crate::auth::{PageAdmin, PageUser};
use crate::error::{AppError, AppResult};
use crate::lang::ReqLang;
use crate::service::calendar as svc;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/calendar", get(page))
        .route("/admin/calendar/overrides", post(save_override))
        .route("/admin/calendar/overrides/{date}/delete", post(clear_override))
        .route("/admin/calendar/schedule", post(save_schedule))
}

/// The first day of the month a `YYYY-MM` parameter names, if it is one
/// the calendar answers for.
fn month_param(raw: Option<&str>) -> Option<Date> {
    let (y, m) = raw?.trim().split_once('-')?;
    let d = Date::new(y.parse().ok()?, m.parse().ok()?, 1).ok()?;
    calendar::YEARS.contains(&d.year()).then_some(d)
}

fn month_code(d: Date) -> String {
    format!("{:04}-{:02}", d.year(), d.month())
}

fn month_title(d: Date, lang: Lang) -> String {
    const EN: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    match lang {
        Lang::Zh => format!("{}年{}月", d.year(), d.month()),
        Lang::En => format!("{} {}", EN[usize::from(d.month().unsigned_abs()).saturating_sub(1)], d.year()),
    }
}

/// What the override form shows.
#[derive(Debug, Default)]
struct OverrideForm {
    date: String,
    working: String,
    name: String,
}

/// What the page shows besides the month.
struct Shown<'a> {
    month: Date,
    form: OverrideForm,
    override_errors: &'a ValidationErrors,
    schedule_values: Option<BTreeMap<String, String>>,
    schedule_errors: &'a ValidationErrors,
    flash: Option<&'static str>,
}

fn field_label(field: &str, lang: Lang) -> String {
    match field {
        "date" => lang.pick("日期", "Date").into(),
        "working" => lang.pick("这一天", "This day").into(),
        "name" => lang.pick("名称", "Name").into(),
        "hours" => lang.pick("工作时段", "Working hours").into(),
        code => WEEKDAYS
            .iter()
            .find(|w| weekday_code(**w) == code)
            .map_or_else(|| code.to_string(), |w| weekday_label(*w, lang).to_string()),
    }
}

fn errors_ctx(e: &ValidationErrors, lang: Lang) -> (Vec<Value>, BTreeMap<String, String>) {
    let list = e
        .0
        .iter()
        .map(|f| context! { field => f.field, label => field_label(&f.field, lang), message => f.issue.message(lang) })
        .collect();
    let map = e.0.iter().map(|f| (f.field.clone(), f.issue.message(lang))).collect();
    (list, map)
}

fn kind_class(d: &CalendarDay) -> &'static str {
    match d.kind {
        DayKind::Workday => "cal-work",
        DayKind::RestDay => "cal-rest",
        DayKind::Holiday => "cal-holiday",
        DayKind::AdjustedWorkday => "cal-makeup",
    }
}

/// The weeks of a month, Monday first, padded with the neighbouring days.
fn weeks(days: &[CalendarDay], month: Date, today: Date, lang: Lang) -> Vec<Vec<Value>> {
    days.chunks(7)
        .map(|week| {
            week.iter()
                .map(|d| {
                    context! {
                        date => d.date.to_string(),
                        day => d.date.day(),
                        in_month => d.date.month() == month.month(),
                        class => kind_class(d),
                        kind => d.kind.code(),
                        kind_label => d.kind.label(lang),
                        working => d.working,
                        name => d.name,
                        overridden => d.overridden,
                        today => d.date == today,
                    }
                })
                .collect()
        })
        .collect()
}

/// A schedule in words, runs of weekdays with the same hours together:
/// "周一至周五 09:00-12:00, 13:30-18:00（按法定节假日与调休）".
fn schedule_summary(w: &WeeklySchedule, lang: Lang) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < WEEKDAYS.len() {
        let hours = join_hours(w, WEEKDAYS[i]);
        let mut j = i;
        while j + 1 < WEEKDAYS.len() && join_hours(w, WEEKDAYS[j + 1]) == hours {
            j += 1;
        }
        if !hours.is_empty() {
            let days = match (i, j) {
                (0, 6) => lang.pick("每天", "Every day").to_string(),
                _ if i == j => weekday_label(WEEKDAYS[i], lang).to_string(),
                _ => format!(
                    "{}{}{}",
                    weekday_label(WEEKDAYS[i], lang),
                    lang.pick("至", "–"),
                    weekday_label(WEEKDAYS[j], lang)
                ),
            };
            parts.push(format!("{days} {hours}"));
        }
        i = j + 1;
    }
    let mut s = parts.join(lang.pick("；", "; "));
    s.push_str(if w.observes_holidays {
        lang.pick("（按法定节假日与调休）", " (statutory holidays and 调休 apply)")
    } else {
        lang.pick("（节假日照常）", " (works on holidays)")
    });
    s
}

async fn render_page(state: &AppState, lang: Lang, u: &PageUser, shown: Shown<'_>) -> AppResult<Response> {
    let month = shown.month;
    let first = month.first_of_month();
    let last = month.last_of_month();
    let grid_from = first.checked_sub(i64::from(first.weekday().to_monday_zero_offset()).days()).unwrap_or(first);
    let grid_to = last.checked_add(i64::from(6 - last.weekday().to_monday_zero_offset()).days()).unwrap_or(last);
    let cal = svc::load(state, svc::DEFAULT_SCHEDULE).await?;
    let days = cal.days(grid_from, grid_to);
    let today = state.today();
    let month_overrides: Vec<Value> = {
        let rows = state.db.read(move |c| guanxi_store::calendar::overrides_between(c, first, last)).await?;
        rows.iter()
            .map(|o| {
                context! {
                    date => o.date.to_string(),
                    working => o.working,
                    name => o.name,
                    by => o.updated_by_name,
                }
            })
            .collect()
    };
    let schedules = svc::schedules(state).await?;
    let default = schedules.iter().find(|(s, _)| s.code == svc::DEFAULT_SCHEDULE);
    let stored_values: BTreeMap<String, String> = default
        .map(|(_, w)| {
            let mut v: BTreeMap<String, String> =
                WEEKDAYS.iter().map(|d| (weekday_code(*d).to_string(), join_hours(w, *d))).collect();
            if w.observes_holidays {
                v.insert("observes_holidays".into(), "1".into());
            }
            v
        })
        .unwrap_or_default();
    let values = shown.schedule_values.unwrap_or(stored_values);
    let (schedule_errors, schedule_err) = errors_ctx(shown.schedule_errors, lang);
    let (override_errors, override_err) = errors_ctx(shown.override_errors, lang);
    let weekdays: Vec<Value> = WEEKDAYS
        .iter()
        .map(|d| {
            let code = weekday_code(*d);
            context! { code => code, label => weekday_label(*d, lang), value => values.get(code).cloned().unwrap_or_default() }
        })
        .collect();
    let others: Vec<Value> = schedules
        .iter()
        .filter(|(s, _)| s.code != svc::DEFAULT_SCHEDULE)
        .map(|(s, w)| context! { code => s.code, name => s.name, summary => schedule_summary(w, lang) })
        .collect();
    let years = statutory::years();
    let notice = statutory::notice(month.year());
    let title = lang.pick("工作日历", "Business calendar");
    let ctx = context! { ..page_ctx(u, lang, "settings", title), ..context! {
        tab => "calendar",
        month => month_code(month),
        month_title => month_title(month, lang),
        prev => month.checked_sub(1.month()).ok().filter(|d| calendar::YEARS.contains(&d.year())).map(month_code),
        next => month.checked_add(1.month()).ok().filter(|d| calendar::YEARS.contains(&d.year())).map(month_code),
        this_month => month_code(today),
        weekday_heads => WEEKDAYS.iter().map(|d| weekday_label(*d, lang)).collect::<Vec<_>>(),
        weeks => weeks(&days, month, today, lang),
        notice => notice.map(|n| n.document),
        shipped_from => years.start(),
        shipped_to => years.end(),
        month_overrides => month_overrides,
        form => context! { date => shown.form.date, working => shown.form.working, name => shown.form.name },
        override_errors => override_errors,
        override_err => override_err,
        weekdays => weekdays,
        observes_holidays => values.contains_key("observes_holidays"),
        schedule_errors => schedule_errors,
        schedule_err => schedule_err,
        default_name => default.map(|(s, _)| s.name.clone()),
        others => others,
        flash => shown.flash.map(|f| flash_text(f, lang)),
        max_name => calendar::MAX_NAME,
    }};
    let failed = !shown.override_errors.is_empty() || !shown.schedule_errors.is_empty();
    let status = if failed { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok((status, render(state, "admin/calendar.html", ctx)?).into_response())
}

fn join_hours(w: &WeeklySchedule, day: jiff::civil::Weekday) -> String {
    w.on(day).iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

fn flash_text(code: &str, lang: Lang) -> &'static str {
    match code {
        "override_saved" => lang.pick("已保存这一天的设置", "The day is saved"),
        "override_cleared" => lang.pick("已恢复为法定安排", "The day follows the statutory calendar again"),
        "schedule_saved" => lang.pick("工作时段已保存", "Working hours saved"),
        _ => "",
    }
}

fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    serde_urlencoded::from_str(raw.unwrap_or("")).unwrap_or_default()
}

async fn page(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    PageAdmin(u): PageAdmin,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    let q = query_pairs(raw.as_deref());
    let picked = form_get(&q, "date").and_then(|d| calendar::parse_date(d).ok());
    let month = month_param(form_get(&q, "month"))
        .or_else(|| picked.map(|d| d.first_of_month()))
        .unwrap_or_else(|| state.today().first_of_month());
    // A day picked on the grid fills the form with how it stands now.
    let form = match picked {
        Some(d) => {
            let day = svc::load(&state, svc::DEFAULT_SCHEDULE).await?.day(d);
            OverrideForm {
                date: d.to_string(),
                working: if day.working { "1" } else { "0" }.into(),
                name: if day.overridden { day.name.unwrap_or_default() } else { String::new() },
            }
        }
        None => OverrideForm { working: "0".into(), ..Default::default() },
    };
    let flash = match form_get(&q, "flash") {
        Some("override_saved") => Some("override_saved"),
        Some("override_cleared") => Some("override_cleared"),
        Some("schedule_saved") => Some("schedule_saved"),
        _ => None,
    };
    let none = ValidationErrors::new();
    let shown = Shown { month, form, override_errors: &none, schedule_values: None, schedule_errors: &none, flash };
    render_page(&state, lang, &u, shown).await
}

async fn save_override(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    PageAdmin(u): PageAdmin,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let date = form_get(&pairs, "date").unwrap_or("").trim().to_string();
    let working_raw = form_get(&pairs, "working").unwrap_or("");
    let working = match working_raw {
        "1" => Some(true),
        "0" => Some(false),
        _ => None,
    };
    let name = form_get(&pairs, "name").unwrap_or("").to_string();
    let errors = match svc::set_override(&state, &u.user, &date, working, Some(&name)).await {
        Ok(o) => {
            let to = format!("/admin/calendar?month={}&flash=override_saved", month_code(o.date));
            return Ok(Redirect::to(&to).into_response());
        }
        Err(AppError::Invalid(e)) => e,
        Err(e) => return Err(e),
    };
    let month = calendar::parse_date(&date)
        .ok()
        .map(|d| d.first_of_month())
        .or_else(|| month_param(form_get(&pairs, "month")))
        .unwrap_or_else(|| state.today().first_of_month());
    let none = ValidationErrors::new();
    let shown = Shown {
        month,
        form: OverrideForm { date, working: working_raw.to_string(), name },
        override_errors: &errors,
        schedule_values: None,
        schedule_errors: &none,
        flash: None,
    };
    render_page(&state, lang, &u, shown).await
}

async fn clear_override(
    State(state): State<AppState>,
    PageAdmin(u): PageAdmin,
    Path(date): Path<String>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let d = svc::clear_override(&state, &u.user, &date).await?;
    Ok(Redirect::to(&format!("/admin/calendar?month={}&flash=override_cleared", month_code(d))).into_response())
}

async fn save_schedule(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    PageAdmin(u): PageAdmin,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let text = |code: &str| form_get(&pairs, code).unwrap_or("").to_string();
    let observes = form_get(&pairs, "observes_holidays").is_some();
    let hours = ScheduleHours {
        mon: split_day_text(&text("mon")),
        tue: split_day_text(&text("tue")),
        wed: split_day_text(&text("wed")),
        thu: split_day_text(&text("thu")),
        fri: split_day_text(&text("fri")),
        sat: split_day_text(&text("sat")),
        sun: split_day_text(&text("sun")),
        observes_holidays: observes,
    };
    let month = month_param(form_get(&pairs, "month")).unwrap_or_else(|| state.today().first_of_month());
    let errors = match svc::save_schedule(&state, &u.user, svc::DEFAULT_SCHEDULE, &hours).await {
        Ok(_) => {
            let to = format!("/admin/calendar?month={}&flash=schedule_saved", month_code(month));
            return Ok(Redirect::to(&to).into_response());
        }
        Err(AppError::Invalid(e)) => e,
        Err(e) => return Err(e),
    };
    let mut values: BTreeMap<String, String> =
        WEEKDAYS.iter().map(|d| (weekday_code(*d).into(), text(weekday_code(*d)))).collect();
    if observes {
        values.insert("observes_holidays".into(), "1".into());
    }
    let none = ValidationErrors::new();
    let shown = Shown {
        month,
        form: OverrideForm { working: "0".into(), ..Default::default() },
        override_errors: &none,
        schedule_values: Some(values),
        schedule_errors: &errors,
        flash: None,
    };
    render_page(&state, lang, &u, shown).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn schedules_in_words() {
        assert_eq!(
            schedule_summary(&WeeklySchedule::standard(), Lang::Zh),
            "周一至周五 09:00-12:00, 13:30-18:00（按法定节假日与调休）"
        );
        assert_eq!(
            schedule_summary(&WeeklySchedule::around_the_clock(), Lang::En),
            "Every day 00:00-24:00 (works on holidays)"
        );
        assert_eq!(month_param(Some("2026-02")), Some(jiff::civil::date(2026, 2, 1)));
        assert_eq!(month_param(Some("2101-01")), None);
        assert_eq!(month_title(jiff::civil::date(2026, 10, 1), Lang::En), "October 2026");
    }
}
