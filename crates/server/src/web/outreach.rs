//! Outreach pages: the outbox for administrators (status, attempts, last
//! error), and the public survey page `/s/{token}` — no login, a phone-sized
//! layout, answered once.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use guanxi_domain::outreach::{OutChannel, Scenario, SurveyKind};
use guanxi_domain::{Issue, Lang};
use minijinja::context;

use super::{ClientIp, form_get, form_pairs, page_ctx, render};
use crate::auth::{PageAdmin, PageUser};
use crate::error::{AppError, AppResult};
use crate::lang::ReqLang;
use crate::service::outreach::consent::{self, ConsentInput};
use crate::service::outreach::feedback::{self, FeedbackForm, Outcome};
use crate::service::outreach::reminders::{self, AppointmentInput};
use crate::service::outreach::settings::{self, SettingsInput};
use crate::service::outreach::templates::{self, TemplateInput};
use crate::service::outreach::{self as svc, surveys};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/outbox", get(outbox))
        .route("/s/{token}", get(survey_page).post(survey_answer))
        .route("/feedback", get(feedback_page).post(feedback_submit))
        .route("/customers/{id}/consents", post(consent_submit))
        .route("/maintenance/tasks/{id}/appointment", post(appointment_submit))
        .route("/admin/templates", get(template_list).post(template_create))
        .route("/admin/templates/new", get(template_new))
        .route("/admin/templates/{id}", get(template_edit).post(template_update))
        .route("/admin/outreach", get(settings_form).post(settings_submit))
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

// ---- Consent per channel on the customer page (O3) ----

fn state_label(state: &str, lang: Lang) -> &'static str {
    match state {
        "granted" => lang.pick("同意接收", "Accepts"),
        "refused" => lang.pick("拒绝接收", "Refuses"),
        _ => lang.pick("未记录", "Not recorded"),
    }
}

fn local_time(state: &AppState, raw: &str) -> String {
    raw.parse::<jiff::Timestamp>()
        .map(|t| t.to_zoned(state.config.time_zone.clone()).strftime("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// The consent panel of the customer page: in force per channel, the
/// history, and (for editors) the form that records a change.
pub(crate) async fn consent_panel(
    state: &AppState,
    user: &guanxi_store::users::User,
    customer_id: i64,
    lang: Lang,
) -> AppResult<minijinja::Value> {
    let v = consent::view(state, user, customer_id).await?;
    let label = |code: &str| match OutChannel::parse(code) {
        Ok(OutChannel::Wecom) => lang.pick("企业微信", "WeCom").to_string(),
        Ok(c) => c.label(lang).to_string(),
        Err(_) => code.to_string(),
    };
    let ids: Vec<i64> = v.history.iter().filter_map(|h| h.actor_id).collect();
    let names = state
        .db
        .read(move |c| {
            let mut out = std::collections::BTreeMap::new();
            for id in ids {
                if let Ok(u) = guanxi_store::users::get(c, id) {
                    out.insert(id, u.name);
                }
            }
            Ok(out)
        })
        .await?;
    Ok(context! {
        channels => v.channels.iter().map(|c| context! {
            code => c.channel, label => label(&c.channel), state => c.state, state_label => state_label(&c.state, lang),
            since => c.since.as_deref().map(|s| local_time(state, s)),
        }).collect::<Vec<_>>(),
        history => v.history.iter().map(|h| context! {
            channel => label(&h.channel), granted => h.granted,
            state_label => state_label(if h.granted { "granted" } else { "refused" }, lang),
            source => h.source, note => h.note, at => local_time(state, &h.at),
            who => h.actor_id.and_then(|id| names.get(&id).cloned()),
        }).collect::<Vec<_>>(),
        options => consent::CHANNELS.iter().map(|c| context! { value => c.code(), label => label(c.code()) }).collect::<Vec<_>>(),
        can_edit => user.role.can_edit_customers(),
    })
}

async fn consent_submit(
    State(state): State<AppState>,
    u: PageUser,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let input = ConsentInput {
        channel: form_get(&pairs, "channel").unwrap_or("").to_string(),
        granted: form_get(&pairs, "granted") == Some("true"),
        source: form_get(&pairs, "source").unwrap_or("").to_string(),
        note: form_get(&pairs, "note").filter(|n| !n.trim().is_empty()).map(str::to_string),
    };
    consent::record(&state, &u.user, id, input).await?;
    Ok(Redirect::to(&format!("/customers/{id}?flash=consent#consent")).into_response())
}

// ---- The revisit appointment on a maintenance task (O3) ----

/// The appointment panel of a maintenance task: when, the reminder and its
/// status, and the form that sets, moves or cancels it.
pub(crate) async fn appointment_panel(
    state: &AppState,
    user: &guanxi_store::users::User,
    task_id: i64,
    lang: Lang,
    raw_query: Option<&str>,
) -> AppResult<minijinja::Value> {
    let a = reminders::get(state, user, task_id).await?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw_query.unwrap_or("")).unwrap_or_default();
    let error = form_get(&pairs, "appointment_error").map(str::to_string);
    let tz = state.config.time_zone.clone();
    let at_input = |raw: &str| {
        raw.parse::<jiff::Timestamp>().map(|t| t.to_zoned(tz.clone()).strftime("%Y-%m-%dT%H:%M").to_string()).ok()
    };
    let status_text = |s: &str| match s {
        "scheduled" => lang.pick("已预约", "Scheduled"),
        "cancelled" => lang.pick("已取消", "Cancelled"),
        _ => lang.pick("已完成", "Done"),
    };
    Ok(context! {
        error => error,
        can_edit => user.role.can_edit_customers(),
        appointment => a.as_ref().map(|a| context! {
            at => local_time(state, &a.at), at_input => at_input(&a.at), status => a.status,
            status_label => status_text(&a.status), version => a.version,
            reminder => a.reminder_id.map(|_| context! {
                channel => a.reminder_channel.as_deref().and_then(|c| OutChannel::parse(c).ok()).map(|c| c.label(lang)),
                status => a.reminder_status, status_label => a.reminder_status.as_deref().map(|s| status_label(s, lang)),
                at => a.reminder_at.as_deref().map(|s| local_time(state, s)),
                body => a.reminder_body, note => a.reminder_note,
            }),
        }),
    })
}

async fn appointment_submit(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let r = if form_get(&pairs, "action") == Some("cancel") {
        reminders::cancel(&state, &u.user, id).await.map(|_| "appointment_cancelled")
    } else {
        let input = AppointmentInput { at: form_get(&pairs, "at").unwrap_or("").to_string(), agent_id: None };
        reminders::schedule(&state, &u.user, id, input).await.map(|_| "appointment_saved")
    };
    match r {
        Ok(flash) => Ok(Redirect::to(&format!("/maintenance/tasks/{id}?flash={flash}#appointment")).into_response()),
        Err(AppError::Invalid(e)) => {
            let msg: Vec<String> =
                e.0.iter()
                    .map(|f| {
                        let name = match f.field.as_str() {
                            "at" => lang.pick("回访时间", "Revisit time"),
                            "agent_id" => lang.pick("回访人", "Agent"),
                            _ => lang.pick("任务", "Task"),
                        };
                        format!("{name}{}{}", lang.pick("：", ": "), f.issue.message(lang))
                    })
                    .collect();
            let q = serde_urlencoded::to_string([("appointment_error", msg.join("; "))]).unwrap_or_default();
            Ok(Redirect::to(&format!("/maintenance/tasks/{id}?{q}#appointment")).into_response())
        }
        Err(e) => Err(e),
    }
}

// ---- Message templates (O1) and outreach settings (O2, O3) ----

fn nav_ctx(active: &str) -> minijinja::Value {
    context! { active_tab => active }
}

async fn template_list(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    PageAdmin(u): PageAdmin,
    RawQuery(raw): RawQuery,
) -> AppResult<Html<String>> {
    let rows = templates::list(&state, 0, 200).await?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let items: Vec<minijinja::Value> = rows
        .iter()
        .map(|t| {
            context! {
                id => t.id, name => t.name,
                channel => OutChannel::parse(&t.channel).map_or(t.channel.as_str(), |c| c.label(lang)),
                scenario => Scenario::parse(&t.scenario).map_or(t.scenario.as_str(), |s| s.label(lang)),
                subject => t.subject,
                body => if t.body.chars().count() > 60 { format!("{}…", t.body.chars().take(60).collect::<String>()) } else { t.body.clone() },
                // The seeded templates carry no time of their own.
                updated => if t.updated_at == jiff::Timestamp::UNIX_EPOCH {
                    lang.pick("系统内置", "Built in").to_string()
                } else {
                    local_time(&state, &t.updated_at.to_string())
                },
            }
        })
        .collect();
    let flash = (form_get(&pairs, "flash") == Some("saved")).then(|| lang.pick("模板已保存", "Template saved"));
    let mut ctx = page_ctx(&u, lang, "settings", lang.pick("消息模板", "Message templates"));
    ctx = context! { ..ctx, ..nav_ctx("templates"), ..context! { items => items, flash => flash } };
    render(&state, "outreach/templates.html", ctx)
}

fn template_field(field: &str, lang: Lang) -> &'static str {
    match field {
        "name" => lang.pick("名称", "Name"),
        "channel" => lang.pick("渠道", "Channel"),
        "scenario" => lang.pick("场景", "Scenario"),
        "subject" => lang.pick("标题", "Subject"),
        _ => lang.pick("正文", "Body"),
    }
}

fn template_form(
    state: &AppState,
    lang: Lang,
    u: &PageUser,
    id: Option<i64>,
    v: &TemplateInput,
    errors: Option<&guanxi_domain::ValidationErrors>,
) -> AppResult<Html<String>> {
    let (summary, err) = super::form_errors(errors, lang, |f| template_field(f, lang));
    let title = if id.is_some() {
        lang.pick("编辑消息模板", "Edit template")
    } else {
        lang.pick("新建消息模板", "New template")
    };
    let ctx = context! { ..page_ctx(u, lang, "settings", title), ..nav_ctx("templates"), ..context! {
        id => id, v => context! { name => v.name, channel => v.channel, scenario => v.scenario, subject => v.subject, body => v.body },
        err => err, errors => summary,
        channels => OutChannel::ALL.iter().map(|c| context! { value => c.code(), label => c.label(lang) }).collect::<Vec<_>>(),
        scenarios => Scenario::ALL.iter().map(|s| context! {
            value => s.code(), label => s.label(lang),
            variables => s.variables().iter().map(|x| format!("{{{{ {x} }}}}")).collect::<Vec<_>>().join("  "),
        }).collect::<Vec<_>>(),
    }};
    render(state, "outreach/template_form.html", ctx)
}

async fn template_new(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    PageAdmin(u): PageAdmin,
) -> AppResult<Html<String>> {
    let v = TemplateInput {
        name: String::new(),
        channel: "email".into(),
        scenario: "greeting".into(),
        subject: String::new(),
        body: String::new(),
    };
    template_form(&state, lang, &u, None, &v, None)
}

async fn template_edit(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    PageAdmin(u): PageAdmin,
    Path(id): Path<i64>,
) -> AppResult<Html<String>> {
    let t = state.db.read(move |c| guanxi_store::outreach::get_template(c, id)).await?;
    let v = TemplateInput { name: t.name, channel: t.channel, scenario: t.scenario, subject: t.subject, body: t.body };
    template_form(&state, lang, &u, Some(id), &v, None)
}

async fn template_save(state: AppState, lang: Lang, u: PageUser, id: Option<i64>, body: Bytes) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let get = |k: &str| form_get(&pairs, k).unwrap_or("").to_string();
    let v = TemplateInput {
        name: get("name"),
        channel: get("channel"),
        scenario: get("scenario"),
        subject: get("subject"),
        body: get("body"),
    };
    match templates::save(&state, &u.user, id, v.clone()).await {
        Ok(_) => Ok(Redirect::to("/admin/templates?flash=saved").into_response()),
        Err(AppError::Invalid(e)) => {
            Ok((StatusCode::UNPROCESSABLE_ENTITY, template_form(&state, lang, &u, id, &v, Some(&e))?).into_response())
        }
        Err(e) => Err(e),
    }
}

async fn template_create(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    PageAdmin(u): PageAdmin,
    body: Bytes,
) -> AppResult<Response> {
    template_save(state, lang, u, None, body).await
}

async fn template_update(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    PageAdmin(u): PageAdmin,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Response> {
    template_save(state, lang, u, Some(id), body).await
}

fn settings_field(field: &str, lang: Lang) -> String {
    let name = match field {
        "smtp_host" => lang.pick("SMTP 服务器", "SMTP server"),
        "smtp_port" => lang.pick("SMTP 端口", "SMTP port"),
        "smtp_username" => lang.pick("SMTP 用户名", "SMTP user"),
        "smtp_password" => lang.pick("SMTP 密码", "SMTP password"),
        "from_address" => lang.pick("发件地址", "From address"),
        "sms_webhook_url" => lang.pick("短信网关地址", "SMS gateway URL"),
        "wecom_webhook_url" => lang.pick("企业微信机器人地址", "WeCom robot URL"),
        "webhook_url" => lang.pick("通用 Webhook 地址", "Generic webhook URL"),
        "webhook_secret" => lang.pick("Webhook 签名密钥", "Webhook signing secret"),
        "quiet_hours" => lang.pick("免打扰时段", "Quiet hours"),
        "public_url" => lang.pick("对外访问地址", "Public address"),
        "default_channel" => lang.pick("默认渠道", "Default channel"),
        "reminder_hours_before" => lang.pick("回访提醒提前（小时）", "Reminder lead (hours)"),
        f if f.starts_with("allowed_hosts") => lang.pick("允许的内网地址", "Allowed internal hosts"),
        other => return other.to_string(),
    };
    name.to_string()
}

fn settings_page(
    state: &AppState,
    lang: Lang,
    u: &PageUser,
    v: minijinja::Value,
    errors: Option<&guanxi_domain::ValidationErrors>,
    flash: Option<&str>,
) -> AppResult<Html<String>> {
    let err: std::collections::BTreeMap<String, String> = errors
        .map(|e| {
            e.0.iter()
                .map(|f| {
                    let key = if f.field.starts_with("allowed_hosts") {
                        "allowed_hosts".to_string()
                    } else {
                        f.field.clone()
                    };
                    (key, f.issue.message(lang))
                })
                .collect()
        })
        .unwrap_or_default();
    let summary: Vec<minijinja::Value> = errors
        .map(|e| {
            e.0.iter()
                .map(|f| context! { field => f.field, label => settings_field(&f.field, lang), message => f.issue.message(lang) })
                .collect()
        })
        .unwrap_or_default();
    let ctx = context! { ..page_ctx(u, lang, "settings", lang.pick("触达设置", "Outreach settings")), ..nav_ctx("outreach"), ..context! {
        v => v, err => err, errors => summary, flash => flash,
        channels => [OutChannel::Email, OutChannel::Sms].iter().map(|c| context! { value => c.code(), label => c.label(lang) }).collect::<Vec<_>>(),
    }};
    render(state, "outreach/settings.html", ctx)
}

async fn settings_form(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    PageAdmin(u): PageAdmin,
    RawQuery(raw): RawQuery,
) -> AppResult<Html<String>> {
    let s = settings::view(&state, &u.user).await?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let flash = (form_get(&pairs, "flash") == Some("saved")).then(|| lang.pick("设置已保存", "Settings saved"));
    let v = context! { ..minijinja::Value::from_serialize(&s), ..context! { allowed_hosts_text => s.allowed_hosts.join("\n") } };
    settings_page(&state, lang, &u, v, None, flash)
}

async fn settings_submit(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    PageAdmin(u): PageAdmin,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let get = |k: &str| form_get(&pairs, k).unwrap_or("").trim().to_string();
    let on = |k: &str| form_get(&pairs, k) == Some("true");
    let mut e = guanxi_domain::ValidationErrors::new();
    let port = match get("smtp_port").as_str() {
        "" => None,
        p => e.check("smtp_port", p.parse::<u16>().map_err(|_| Issue::OutOfRange)),
    };
    let hours = match get("reminder_hours_before").as_str() {
        "" => None,
        h => e.check("reminder_hours_before", h.parse::<i64>().map_err(|_| Issue::OutOfRange)),
    };
    let secret = |k: &str| Some(get(k)).filter(|s| !s.is_empty());
    let input = SettingsInput {
        smtp_host: get("smtp_host"),
        smtp_port: port,
        smtp_starttls: on("smtp_starttls"),
        smtp_username: get("smtp_username"),
        smtp_password: secret("smtp_password"),
        from_address: get("from_address"),
        sms_webhook_url: get("sms_webhook_url"),
        wecom_webhook_url: get("wecom_webhook_url"),
        webhook_url: get("webhook_url"),
        webhook_secret: secret("webhook_secret"),
        quiet_hours: get("quiet_hours"),
        allowed_hosts: get("allowed_hosts")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
        public_url: get("public_url"),
        survey_after_resolution: on("survey_after_resolution"),
        survey_after_maintenance: on("survey_after_maintenance"),
        default_channel: Some(get("default_channel")),
        dual_channel_important: Some(on("dual_channel_important")),
        reminder_hours_before: hours,
    };
    let r = if e.is_empty() { settings::save(&state, &u.user, input).await } else { Err(AppError::Invalid(e)) };
    match r {
        Ok(_) => Ok(Redirect::to("/admin/outreach?flash=saved").into_response()),
        Err(AppError::Invalid(e)) => {
            let kept: std::collections::BTreeMap<&str, &str> = pairs
                .iter()
                .filter(|(k, _)| !k.starts_with('_') && k != "smtp_password" && k != "webhook_secret")
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let old = settings::view(&state, &u.user).await?;
            let v = context! {
                ..context! {
                    smtp_starttls => on("smtp_starttls"), survey_after_resolution => on("survey_after_resolution"),
                    survey_after_maintenance => on("survey_after_maintenance"), dual_channel_important => on("dual_channel_important"),
                    allowed_hosts_text => get("allowed_hosts"),
                    has_smtp_password => old.has_smtp_password, has_webhook_secret => old.has_webhook_secret,
                },
                ..minijinja::Value::from_serialize(&kept)
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, settings_page(&state, lang, &u, v, Some(&e), None)?).into_response())
        }
        Err(e) => Err(e),
    }
}
