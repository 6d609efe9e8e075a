//! Outreach pages: the outbox for administrators (status, attempts, last
//! error), and the public survey page `/s/{token}` — no login, a phone-sized
//! layout, answered once.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use guanxi_domain::Lang;
use guanxi_domain::outreach::{OutChannel, Scenario, SurveyKind};
use minijinja::context;

use super::{ClientIp, form_get, form_pairs, page_ctx, render};
use crate::auth::PageAdmin;
use crate::error::{AppError, AppResult};
use crate::lang::ReqLang;
use crate::service::outreach::feedback::{self, FeedbackForm, Outcome};
use crate::service::outreach::{self as svc, surveys};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/outbox", get(outbox))
        .route("/s/{token}", get(survey_page).post(survey_answer))
        .route("/feedback", get(feedback_page).post(feedback_submit))
}

const STATUSES: &[(&str, &str, &str)] = &[
    ("queued", "排队中", "Queued"),
    ("sending", "发送中", "Sending"),
    ("sent", "已发送", "Sent"),
    ("failed", "失败", "Failed"),
    ("suppressed", "未发送", "Suppressed"),
];

fn status_label(code: &str, lang: Lang) -> &'static str {
    STATUSES.iter().find(|(c, ..)| *c == code).map_or("", |(_, zh, en)| lang.pick(zh, en))
}

async fn outbox(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    PageAdmin(u): PageAdmin,
    RawQuery(raw): RawQuery,
) -> AppResult<Html<String>> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let status = form_get(&pairs, "status").filter(|s| !s.is_empty()).map(str::to_string);
    let before = form_get(&pairs, "before").and_then(|b| b.parse::<i64>().ok());
    let limit = 50;
    let rows = svc::outbox(&state, &u.user, status.clone(), before, limit).await?;
    let next = (rows.len() == 50).then(|| rows.last().map(|m| m.id)).flatten();
    let tz = state.config.time_zone.clone();
    let time = |t: jiff::Timestamp| t.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M").to_string();
    let items: Vec<minijinja::Value> = rows
        .iter()
        .map(|m| {
            context! {
                id => m.id,
                channel => OutChannel::parse(&m.channel).map_or(m.channel.as_str(), |c| c.label(lang)),
                scenario => Scenario::parse(&m.scenario).map_or(m.scenario.as_str(), |s| s.label(lang)),
                recipient => m.recipient_masked,
                subject => m.subject,
                status => m.status,
                status_label => status_label(&m.status, lang),
                attempts => m.attempts,
                last_error => m.last_error,
                not_before => time(m.not_before),
                sent_at => m.sent_at.map(time),
                created_at => time(m.created_at),
            }
        })
        .collect();
    let statuses: Vec<minijinja::Value> =
        STATUSES.iter().map(|(c, zh, en)| context! { value => c, label => lang.pick(zh, en) }).collect();
    let mut ctx = page_ctx(&u, lang, "settings", lang.pick("发件箱", "Outbox"));
    ctx = context! { ..ctx, ..context! { items => items, statuses => statuses, status => status, next => next } };
    render(&state, "outreach/outbox.html", ctx)
}

fn survey_ctx(lang: Lang) -> minijinja::Value {
    context! { lang => if lang == Lang::En { "en" } else { "zh" }, html_lang => lang.code() }
}

fn survey_view(
    state: &AppState,
    lang: Lang,
    s: &guanxi_store::outreach::Survey,
    extra: minijinja::Value,
) -> AppResult<Html<String>> {
    let kind = SurveyKind::parse(&s.kind).map_err(|_| AppError::Internal(format!("survey kind {}", s.kind)))?;
    let (lo, hi) = kind.range();
    let ctx = context! {
        ..survey_ctx(lang),
        ..extra,
        ..context! { open => true, kind => kind.code(), question => match kind {
                SurveyKind::Csat => lang.pick("您对本次服务满意吗？", "How satisfied are you with our service?"),
                SurveyKind::Nps => lang.pick("您有多大可能向朋友或同事推荐我们？", "How likely are you to recommend us to a friend or colleague?"),
            },
            subject => s.subject, scores => (lo..=hi).collect::<Vec<i64>>(),
            low => match kind { SurveyKind::Csat => lang.pick("非常不满意", "Very dissatisfied"), SurveyKind::Nps => lang.pick("不可能", "Not at all likely") },
            high => match kind { SurveyKind::Csat => lang.pick("非常满意", "Very satisfied"), SurveyKind::Nps => lang.pick("非常可能", "Extremely likely") },
        }
    };
    render(state, "outreach/survey.html", ctx)
}

fn closed_page(state: &AppState, lang: Lang, c: surveys::Closed) -> AppResult<Response> {
    let status = match c {
        surveys::Closed::Unknown => StatusCode::NOT_FOUND,
        surveys::Closed::Answered | surveys::Closed::Expired => StatusCode::GONE,
    };
    let page = render(
        state,
        "outreach/survey.html",
        context! { ..survey_ctx(lang), ..context! { open => false, message => c.message(lang) } },
    )?;
    Ok((status, page).into_response())
}

async fn survey_page(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    Path(token): Path<String>,
) -> AppResult<Response> {
    match surveys::open(&state, &token).await? {
        Ok(s) => Ok(survey_view(&state, lang, &s, context! {})?.into_response()),
        Err(c) => closed_page(&state, lang, c),
    }
}

async fn survey_answer(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    Path(token): Path<String>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    let score = form_get(&pairs, "score").unwrap_or("");
    let comment = form_get(&pairs, "comment").unwrap_or("");
    match surveys::answer(&state, &token, score, comment).await {
        Ok(Ok(_)) => {
            let page = render(
                &state,
                "outreach/survey.html",
                context! { ..survey_ctx(lang), ..context! { open => false, thanks => true,
                message => lang.pick("感谢您的反馈！", "Thank you for your feedback!") } },
            )?;
            Ok(page.into_response())
        }
        Ok(Err(c)) => closed_page(&state, lang, c),
        Err(AppError::Invalid(e)) => {
            let Ok(s) = surveys::open(&state, &token).await? else {
                return closed_page(&state, lang, surveys::Closed::Unknown);
            };
            let errors: Vec<String> =
                e.0.iter().map(|f| format!("{}{}", field_name(&f.field, lang), f.issue.message(lang))).collect();
            let page =
                survey_view(&state, lang, &s, context! { errors => errors, comment => comment, chosen => score })?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}

fn field_name(field: &str, lang: Lang) -> String {
    let name = match field {
        "score" => lang.pick("评分", "Score"),
        "comment" => lang.pick("意见", "Comment"),
        other => other,
    };
    format!("{name}{}", lang.pick("：", ": "))
}

// ---- The public feedback form (O5) ----

fn feedback_field(field: &str, lang: Lang) -> &'static str {
    match field {
        "name" => lang.pick("您的称呼", "Your name"),
        "contact" => lang.pick("联系方式", "Contact"),
        "kind" => lang.pick("类型", "Type"),
        "weight" => lang.pick("复杂程度", "Complexity"),
        "category" => lang.pick("分类", "Category"),
        "subject" => lang.pick("标题", "Subject"),
        _ => lang.pick("详细描述", "Details"),
    }
}

fn feedback_render(
    state: &AppState,
    lang: Lang,
    values: &[(String, String)],
    extra: minijinja::Value,
) -> AppResult<Html<String>> {
    let v: std::collections::BTreeMap<&str, &str> = values.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let categories: Vec<minijinja::Value> = guanxi_domain::ticket::Category::ALL
        .iter()
        .map(|c| context! { value => c.code(), label => c.label(lang) })
        .collect();
    let ctx = context! {
        ..survey_ctx(lang),
        ..extra,
        ..context! { v => v, categories => categories, stamp => feedback::form_stamp(state, state.clock.now()) }
    };
    render(state, "outreach/feedback.html", ctx)
}

async fn feedback_page(State(state): State<AppState>, ReqLang(lang): ReqLang) -> AppResult<Html<String>> {
    feedback_render(&state, lang, &[], context! {})
}

async fn feedback_submit(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    let get = |k: &str| form_get(&pairs, k).unwrap_or("").to_string();
    let form = FeedbackForm {
        name: get("name"),
        contact: get("contact"),
        kind: get("kind"),
        weight: get("weight"),
        category: get("category"),
        subject: get("subject"),
        description: get("description"),
        website: get("website"),
        stamp: get("stamp"),
    };
    let thanks = |number: Option<String>| {
        feedback_render(
            &state,
            lang,
            &[],
            context! { done => true, number => number,
            message => lang.pick("感谢您的反馈！我们会在 24 小时内（复杂问题 48 小时内）答复您。",
                "Thank you! We answer within 24 hours (48 hours for complex matters).") },
        )
    };
    match feedback::submit(&state, form, ip).await {
        Ok(Outcome::Created(n)) => Ok(thanks(Some(n))?.into_response()),
        Ok(Outcome::Dropped) => Ok(thanks(None)?.into_response()),
        Ok(Outcome::Throttled) => {
            let msg = lang.pick("提交过于频繁，请一小时后再试", "Too many submissions; please try again in an hour");
            let page = feedback_render(&state, lang, &pairs, context! { errors => vec![msg] })?;
            Ok((StatusCode::TOO_MANY_REQUESTS, page).into_response())
        }
        Err(AppError::Invalid(e)) => {
            let errors: Vec<String> =
                e.0.iter()
                    .map(|f| {
                        format!("{}{}{}", feedback_field(&f.field, lang), lang.pick("：", ": "), f.issue.message(lang))
                    })
                    .collect();
            let page = feedback_render(&state, lang, &pairs, context! { errors => errors })?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}
