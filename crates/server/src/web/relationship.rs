//! Customer 360 pages: contact, communication and order forms, and action
//! item status changes. The 360 view itself is in `customers.rs`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use guanxi_domain::communication::{ActionItemInput, ActionStatus, CommunicationInput, Direction};
use guanxi_domain::contact::ContactInput;
use guanxi_domain::customer::Channel;
use guanxi_domain::order::OrderInput;
use guanxi_domain::{Issue, Lang, ValidationErrors};
use guanxi_store::{contacts, users};
use minijinja::{Value, context};

use super::{ClientIp, form_get, form_pairs, page_ctx, render};
use crate::auth::PageUser;
use crate::error::{AppError, AppResult};
use crate::lang::ReqLang;
use crate::service::customers as customer_svc;
use crate::service::relationship as svc;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/customers/{id}/contacts/new", get(contact_form).post(create_contact))
        .route("/contacts/{id}/delete", post(delete_contact))
        .route("/contacts/{id}/reveal", post(reveal_contact))
        .route("/customers/{id}/communications/new", get(communication_form).post(create_communication))
        .route("/customers/{id}/orders/new", get(order_form).post(create_order))
        .route("/action-items/{id}/status", post(set_status))
        .route("/customers/{id}/churn-reason", post(record_churn_reason))
}

/// How many follow-up rows the communication form offers.
const ITEM_ROWS: usize = 3;

fn errors_ctx(e: Option<&ValidationErrors>, lang: Lang) -> (Vec<Value>, std::collections::BTreeMap<String, String>) {
    let label = |f: &str| -> String {
        let base = f.rsplit('.').next().unwrap_or(f);
        let row =
            f.strip_prefix("action_items[").and_then(|r| r.split(']').next()).and_then(|n| n.parse::<usize>().ok());
        let name = match base {
            "name" => lang.pick("姓名", "Name"),
            "title" => lang.pick("职务", "Title"),
            "phone" => lang.pick("手机/电话", "Phone"),
            "email" => lang.pick("邮箱", "Email"),
            "wechat" => lang.pick("微信号", "WeChat"),
            "birthday" => lang.pick("生日", "Birthday"),
            "address" => lang.pick("地址", "Address"),
            "occurred_at" => lang.pick("沟通时间", "Time"),
            "channel" => lang.pick("沟通渠道", "Channel"),
            "direction" => lang.pick("方向", "Direction"),
            "purpose" => lang.pick("沟通事由", "Purpose"),
            "summary" => lang.pick("沟通内容摘要", "Summary"),
            "feedback" => lang.pick("客户反馈与需求", "Feedback and needs"),
            "result" => lang.pick("处理结果", "Result"),
            "owner_id" => lang.pick("负责人", "Owner"),
            "satisfaction" => lang.pick("满意度", "Satisfaction"),
            "contact_id" => lang.pick("联系人", "Contact"),
            "content" => lang.pick("行动内容", "What"),
            "due" => lang.pick("完成时限", "Due"),
            "ordered_on" => lang.pick("下单日期", "Order date"),
            "amount" => lang.pick("金额", "Amount"),
            "product" => lang.pick("产品", "Product"),
            "external_id" => lang.pick("订单编号", "Order id"),
            other => other,
        };
        match row {
            Some(n) => format!("{} {} · {name}", lang.pick("行动项", "Action item"), n + 1),
            None => name.to_string(),
        }
    };
    let list = e
        .map(|e| e.0.iter().map(|f| context! { field => f.field.replace(['[', ']', '.'], "_"), label => label(&f.field), message => f.issue.message(lang) }).collect())
        .unwrap_or_default();
    let map = e
        .map(|e| e.0.iter().map(|f| (f.field.replace(['[', ']', '.'], "_"), f.issue.message(lang))).collect())
        .unwrap_or_default();
    (list, map)
}

async fn customer_head(state: &AppState, u: &PageUser, id: i64) -> AppResult<Value> {
    let c = customer_svc::get(state, &u.user, id).await?;
    Ok(context! { id => c.id, code => c.code, name => c.name })
}

fn opt(pairs: &[(String, String)], k: &str) -> Option<String> {
    form_get(pairs, k).map(str::to_string)
}

fn contact_input(pairs: &[(String, String)]) -> ContactInput {
    ContactInput {
        name: opt(pairs, "name").unwrap_or_default(),
        title: opt(pairs, "title"),
        phone: opt(pairs, "phone"),
        email: opt(pairs, "email"),
        wechat: opt(pairs, "wechat"),
        birthday: opt(pairs, "birthday"),
        address: opt(pairs, "address"),
        decision_maker: Some(form_get(pairs, "decision_maker").is_some()),
    }
}

async fn render_contact_form(
    state: &AppState,
    lang: Lang,
    u: &PageUser,
    id: i64,
    input: &ContactInput,
    e: Option<&ValidationErrors>,
) -> AppResult<Html<String>> {
    let customer = customer_head(state, u, id).await?;
    let (errors, err) = errors_ctx(e, lang);
    let ctx = context! { ..page_ctx(u, lang, "customers", lang.pick("添加联系人", "Add contact")), ..context! {
        customer => customer, errors => errors, err => err,
        v => context! { name => input.name, title => input.title, phone => input.phone, email => input.email, wechat => input.wechat,
            birthday => input.birthday, address => input.address, decision_maker => input.decision_maker.unwrap_or(false) },
    }};
    render(state, "customers/contact_form.html", ctx)
}

async fn contact_form(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    Path(id): Path<i64>,
) -> AppResult<Html<String>> {
    render_contact_form(&state, lang, &u, id, &ContactInput::default(), None).await
}

async fn create_contact(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let input = contact_input(&pairs);
    match svc::create_contact(&state, &u.user, id, input.clone(), ip).await {
        Ok(_) => Ok(Redirect::to(&format!("/customers/{id}?flash=contact")).into_response()),
        Err(AppError::Invalid(e)) => {
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render_contact_form(&state, lang, &u, id, &input, Some(&e)).await?)
                .into_response())
        }
        Err(e) => Err(e),
    }
}

async fn delete_contact(
    State(state): State<AppState>,
    u: PageUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let customer_id = state.db.read(move |c| contacts::get(c, id)).await?.customer_id;
    svc::delete_contact(&state, &u.user, id, ip).await?;
    Ok(Redirect::to(&format!("/customers/{customer_id}")).into_response())
}

fn communication_input(pairs: &[(String, String)]) -> Result<CommunicationInput, ValidationErrors> {
    let mut e = ValidationErrors::new();
    let mut num = |k: &str| -> Option<i64> {
        let v = form_get(pairs, k).map(str::trim).filter(|s| !s.is_empty())?;
        match v.parse() {
            Ok(n) => Some(n),
            Err(_) => {
                e.add(k, Issue::NotAllowed);
                None
            }
        }
    };
    let contact_id = num("contact_id");
    let owner_id = num("owner_id");
    let satisfaction = num("satisfaction");
    let mut items = Vec::new();
    for i in 0..ITEM_ROWS {
        let content = opt(pairs, &format!("item{i}_content")).unwrap_or_default();
        let due = opt(pairs, &format!("item{i}_due")).filter(|s| !s.trim().is_empty());
        let owner = num(&format!("item{i}_owner"));
        // A row left completely empty is not an action item.
        if content.trim().is_empty() && due.is_none() {
            continue;
        }
        items.push(ActionItemInput { content, owner_id: owner, due });
    }
    if !e.is_empty() {
        return Err(e);
    }
    Ok(CommunicationInput {
        contact_id,
        occurred_at: opt(pairs, "occurred_at"),
        channel: opt(pairs, "channel").unwrap_or_default(),
        direction: opt(pairs, "direction"),
        purpose: opt(pairs, "purpose").unwrap_or_default(),
        summary: opt(pairs, "summary").unwrap_or_default(),
        feedback: opt(pairs, "feedback"),
        result: opt(pairs, "result"),
        owner_id,
        satisfaction,
        notes: opt(pairs, "notes"),
        action_items: items,
    })
}

async fn render_communication_form(
    state: &AppState,
    lang: Lang,
    u: &PageUser,
    id: i64,
    pairs: &[(String, String)],
    e: Option<&ValidationErrors>,
) -> AppResult<Html<String>> {
    let customer = customer_head(state, u, id).await?;
    let (errors, err) = errors_ctx(e, lang);
    let contact_list = svc::list_contacts(state, &u.user, id).await?;
    let staff = state.db.read(users::list_active).await?;
    let value = |k: &str| form_get(pairs, k).unwrap_or("").to_string();
    let now_local = state.clock.now().to_zoned(state.config.time_zone.clone()).strftime("%Y-%m-%dT%H:%M").to_string();
    let items: Vec<Value> = (0..ITEM_ROWS)
        .map(|i| {
            context! {
                i => i,
                content => value(&format!("item{i}_content")),
                due => value(&format!("item{i}_due")),
                owner => form_get(pairs, &format!("item{i}_owner")).map(str::to_string).unwrap_or_else(|| u.user.id.to_string()),
            }
        })
        .collect();
    let ctx = context! { ..page_ctx(u, lang, "customers", lang.pick("记录沟通", "Log a communication")), ..context! {
        customer => customer, errors => errors, err => err, items => items,
        v => context! {
            occurred_at => if pairs.is_empty() { now_local } else { value("occurred_at") },
            channel => value("channel"), direction => value("direction"), purpose => value("purpose"), summary => value("summary"),
            feedback => value("feedback"), result => value("result"), satisfaction => value("satisfaction"), notes => value("notes"),
            contact_id => value("contact_id"), owner_id => form_get(pairs, "owner_id").map(str::to_string).unwrap_or_else(|| u.user.id.to_string()),
        },
        contacts => contact_list.iter().map(|c| context! { value => c.id, label => c.name }).collect::<Vec<_>>(),
        staff => staff.iter().map(|s| context! { value => s.id, label => s.name }).collect::<Vec<_>>(),
        channels => Channel::ALL.iter().map(|c| context! { value => c.code(), label => c.label(lang) }).collect::<Vec<_>>(),
        directions => Direction::ALL.iter().map(|c| context! { value => c.code(), label => c.label(lang) }).collect::<Vec<_>>(),
    }};
    render(state, "customers/communication_form.html", ctx)
}

async fn communication_form(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    Path(id): Path<i64>,
) -> AppResult<Html<String>> {
    render_communication_form(&state, lang, &u, id, &[], None).await
}

async fn create_communication(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let result = match communication_input(&pairs) {
        Ok(input) => svc::create_communication(&state, &u.user, id, input, ip).await,
        Err(e) => Err(AppError::Invalid(e)),
    };
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/customers/{id}?flash=communication")).into_response()),
        Err(AppError::Invalid(e)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render_communication_form(&state, lang, &u, id, &pairs, Some(&e)).await?,
        )
            .into_response()),
        Err(e) => Err(e),
    }
}

async fn render_order_form(
    state: &AppState,
    lang: Lang,
    u: &PageUser,
    id: i64,
    input: &OrderInput,
    e: Option<&ValidationErrors>,
) -> AppResult<Html<String>> {
    let customer = customer_head(state, u, id).await?;
    let (errors, err) = errors_ctx(e, lang);
    let ctx = context! { ..page_ctx(u, lang, "customers", lang.pick("录入订单", "Record an order")), ..context! {
        customer => customer, errors => errors, err => err,
        v => context! { ordered_on => if input.ordered_on.is_empty() { state.today().to_string() } else { input.ordered_on.clone() },
            amount => input.amount, product => input.product, channel => input.channel, external_id => input.external_id },
    }};
    render(state, "customers/order_form.html", ctx)
}

async fn order_form(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    Path(id): Path<i64>,
) -> AppResult<Html<String>> {
    render_order_form(&state, lang, &u, id, &OrderInput::default(), None).await
}

async fn create_order(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let input = OrderInput {
        ordered_on: opt(&pairs, "ordered_on").unwrap_or_default(),
        amount: opt(&pairs, "amount").unwrap_or_default(),
        product: opt(&pairs, "product"),
        channel: opt(&pairs, "channel"),
        external_id: opt(&pairs, "external_id"),
    };
    match svc::create_order(&state, &u.user, id, input.clone(), ip).await {
        Ok(_) => Ok(Redirect::to(&format!("/customers/{id}?flash=order")).into_response()),
        Err(AppError::Invalid(e)) => {
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render_order_form(&state, lang, &u, id, &input, Some(&e)).await?)
                .into_response())
        }
        Err(e) => Err(e),
    }
}

/// From the workbench or the 360 page: done / waiting / reopen.
async fn set_status(
    State(state): State<AppState>,
    u: PageUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let status =
        ActionStatus::parse(form_get(&pairs, "status").unwrap_or("")).map_err(|i| AppError::field("status", i))?;
    let item = svc::set_action_status(&state, &u.user, id, status, ip).await?;
    let back = match form_get(&pairs, "back") {
        Some("home") => "/".to_string(),
        _ => format!("/customers/{}", item.customer_id),
    };
    Ok(Redirect::to(&back).into_response())
}

/// From the 360 page's segment panel: the coded reason of a churn warning (G4).
async fn record_churn_reason(
    State(state): State<AppState>,
    u: PageUser,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let note = form_get(&pairs, "note").filter(|n| !n.trim().is_empty());
    crate::service::segments::record_churn_reason(&state, &u.user, id, form_get(&pairs, "reason").unwrap_or(""), note)
        .await?;
    Ok(Redirect::to(&format!("/customers/{id}#segment")).into_response())
}

/// Shows every personal field of one contact on the 360 page; the access is
/// written to the audit log.
async fn reveal_contact(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    super::ClientIp(ip): super::ClientIp,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Html<String>> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let values = svc::reveal_contact(&state, &u.user, id, svc::ContactField::ALL.to_vec(), ip).await?;
    let customer_id = state.db.read(move |c| contacts::get(c, id)).await?.customer_id;
    let c = customer_svc::get(&state, &u.user, customer_id).await?;
    let shown: super::customers::RevealedContact = (id, values.into_iter().map(|(f, v)| (f.code(), v)).collect());
    let tq = crate::api::relationship::TimelineQuery { limit: 30, ..Default::default() };
    super::customers::render_view(
        &state,
        lang,
        &u,
        &c,
        super::customers::ViewExtras { contact: Some(&shown), ..Default::default() },
        &tq,
    )
    .await
}
