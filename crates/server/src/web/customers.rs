//! Customer pages: list with filters, form, profile, delete confirmation.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use guanxi_domain::customer::{self as dc, Channel, CustomerInput, CustomerKind, LifecycleStage, Scale};
use guanxi_domain::{Issue, Lang, ValidationErrors};
use guanxi_store::customers::{self as store, Customer};
use guanxi_store::{audit, users};
use minijinja::{Value, context};

use super::{ClientIp, form_get, form_pairs, page_ctx, render};
use crate::api::customers::parse_filter;
use crate::auth::PageUser;
use crate::error::{AppError, AppResult};
use crate::lang::ReqLang;
use crate::service::customer_scope;
use crate::service::customers::{self as svc, PersonalField};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/customers", get(list))
        .route("/customers/new", get(new_form).post(create))
        .route("/customers/export", get(export))
        .route("/customers/{id}", get(view))
        .route("/customers/{id}/edit", get(edit_form).post(update))
        .route("/customers/{id}/delete", get(confirm_delete).post(delete))
        .route("/customers/{id}/reveal", post(reveal))
}

fn options<T: Copy>(
    all: &[T],
    code: fn(T) -> &'static str,
    label: fn(T, Lang) -> &'static str,
    lang: Lang,
) -> Vec<Value> {
    all.iter().map(|x| context! { value => code(*x), label => label(*x, lang) }).collect()
}

fn label_of<T: Copy>(
    raw: Option<&str>,
    parse: fn(&str) -> Result<T, Issue>,
    label: fn(T, Lang) -> &'static str,
    lang: Lang,
) -> Option<String> {
    raw.and_then(|r| parse(r).ok()).map(|x| label(x, lang).to_string())
}

/// The form label of a customer field, for the error summary.
fn field_label(field: &str, lang: Lang) -> Option<&'static str> {
    let (zh, en) = match field {
        "name" => ("客户名称", "Name"),
        "kind" => ("客户类型", "Kind"),
        "industry" => ("所属行业", "Industry"),
        "scale" => ("企业规模", "Scale"),
        "region" => ("所在地区", "Region"),
        "decision_chain" => ("决策链", "Decision chain"),
        "phone" => ("联系电话", "Phone"),
        "email" => ("联系邮箱", "Email"),
        "owner_id" => ("专属客服/顾问", "Owner"),
        "cooperation_start" => ("合作开始", "Cooperation start"),
        "first_purchase_on" => ("首次购买", "First purchase"),
        "last_cooperation_on" => ("最近合作时间", "Last cooperation"),
        "preferred_channel" => ("偏好渠道", "Preferred channel"),
        "contact_window" => ("偏好联系时段", "Contact window"),
        "notes" => ("备注", "Notes"),
        "stage" => ("生命周期阶段", "Lifecycle stage"),
        "contract_end" => ("合同到期", "Contract end"),
        "renewal_date" => ("续约日期", "Renewal date"),
        "verified_on" => ("资料核实日期", "Profile verified on"),
        "tags" => ("标签", "Tags"),
        "external_id" => ("外部系统编号", "External id"),
        _ => return None,
    };
    Some(lang.pick(zh, en))
}

/// One row of the list, as the template shows it.
fn row(c: &Customer, state: &AppState, lang: Lang) -> Value {
    let today = state.today();
    context! {
        id => c.id,
        code => c.code,
        name => c.name,
        kind => label_of(Some(&c.kind), CustomerKind::parse, CustomerKind::label, lang),
        industry => c.industry,
        region => c.region,
        owner => c.owner_name,
        stage => c.stage,
        stage_label => label_of(Some(&c.stage), LifecycleStage::parse, LifecycleStage::label, lang),
        phone => c.phone_masked,
        tags => c.tags,
        cooperation => c.cooperation_start.map(|s| dc::cooperation_length_text(dc::cooperation_months(s, today), lang)),
        needs_review => dc::needs_review(c.verified_on, today, state.config.review_months),
        updated => c.updated_at.to_zoned(state.config.time_zone.clone()).strftime("%Y-%m-%d %H:%M").to_string(),
    }
}

async fn list(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    let (q, filter) = match parse_filter(raw.as_deref(), &state) {
        Ok(x) => x,
        // A hand-edited URL with a bad parameter shows the unfiltered list.
        Err(AppError::Invalid(_)) => return Ok(Redirect::to("/customers").into_response()),
        Err(e) => return Err(e),
    };
    let page = svc::list(&state, &u.user, filter.clone()).await?;
    let user = u.user.clone();
    let (owners, industries, tags) = state
        .db
        .read(move |c| {
            let scope = customer_scope(c, &user)?;
            let owners = owners_in_scope(c, &scope)?;
            Ok((owners, store::industries(c)?, store::popular_tags(c, 30)?))
        })
        .await?;
    let pages = (page.total + page.per_page - 1) / page.per_page;
    // Links keep the filters and change only the page.
    let mut base: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    base.retain(|(k, v)| k != "page" && k != "flash" && !v.is_empty());
    let link = |p: i64| {
        let mut q = base.clone();
        q.push(("page".into(), p.to_string()));
        format!("/customers?{}", serde_urlencoded::to_string(&q).unwrap_or_default())
    };
    let title = lang.pick("客户", "Customers");
    let ctx = context! { ..page_ctx(&u, lang, "customers", title), ..context! {
        items => page.items.iter().map(|c| row(c, &state, lang)).collect::<Vec<_>>(),
        total => page.total,
        total_capped => page.total_capped,
        page => page.page,
        pages => pages,
        prev => (page.page > 1).then(|| link(page.page - 1)),
        next => (page.page < pages).then(|| link(page.page + 1)),
        first_index => if page.total == 0 { 0 } else { (page.page - 1).saturating_mul(page.per_page).saturating_add(1) },
        last_index => (page.page - 1).saturating_mul(page.per_page).saturating_add(page.items.len() as i64),
        f => context! {
            q => q.q, owner_id => q.owner_id, industry => q.industry, tag => q.tag, stage => q.stage,
            needs_review => q.needs_review.as_deref() == Some("true"), sort => q.sort.clone().unwrap_or_else(|| "updated_desc".into()),
        },
        owners => owners,
        industries => industries,
        tags => tags.into_iter().map(|(t, _)| t).collect::<Vec<_>>(),
        stages => options(LifecycleStage::ALL, LifecycleStage::code, LifecycleStage::label, lang),
        can_create => u.user.role.can_edit_customers(),
        can_import => u.user.role.can_import(),
        flash => flash_text(raw.as_deref(), lang),
        export_csv => { let mut q = base.clone(); q.push(("format".into(), "csv".into())); format!("/customers/export?{}", serde_urlencoded::to_string(&q).unwrap_or_default()) },
        export_xlsx => { let mut q = base.clone(); q.push(("format".into(), "xlsx".into())); format!("/customers/export?{}", serde_urlencoded::to_string(&q).unwrap_or_default()) },
    }};
    Ok(render(&state, "customers/list.html", ctx)?.into_response())
}

fn flash_text(raw: Option<&str>, lang: Lang) -> Option<&'static str> {
    let flash = raw?.split('&').find_map(|kv| kv.strip_prefix("flash="))?;
    match flash {
        "created" => Some(lang.pick("客户已创建", "Customer created")),
        "saved" => Some(lang.pick("修改已保存", "Changes saved")),
        "deleted" => Some(lang.pick("客户已删除", "Customer deleted")),
        "contact" => Some(lang.pick("联系人已添加", "Contact added")),
        "communication" => Some(lang.pick("沟通记录已保存", "Communication recorded")),
        "order" => Some(lang.pick("订单已录入", "Order recorded")),
        _ => None,
    }
}

/// Users who may own a customer of this scope: all active users for
/// supervisors, the group's members for others.
fn owners_in_scope(c: &mut guanxi_store::Conn, scope: &store::Scope) -> guanxi_store::Result<Vec<Value>> {
    Ok(users::list_active(c)?
        .into_iter()
        .filter(|u| u.role != guanxi_domain::user::Role::Collaborator)
        .filter(|u| match scope {
            store::Scope::All => true,
            store::Scope::OwnedBy(ids) => ids.contains(&u.id),
        })
        .map(|u| context! { id => u.id, name => u.name })
        .collect())
}

/// The values shown in the form: from a customer, or as the user typed them.
fn form_values(input: &CustomerInput) -> Value {
    context! {
        name => input.name, kind => input.kind, industry => input.industry, scale => input.scale,
        region => input.region, decision_chain => input.decision_chain, phone => input.phone, email => input.email,
        owner_id => input.owner_id.map(|x| x.to_string()), cooperation_start => input.cooperation_start,
        first_purchase_on => input.first_purchase_on, last_cooperation_on => input.last_cooperation_on,
        preferred_channel => input.preferred_channel, contact_window => input.contact_window,
        marketing_consent => input.marketing_consent.unwrap_or(false), notes => input.notes, stage => input.stage,
        contract_end => input.contract_end, renewal_date => input.renewal_date, verified_on => input.verified_on,
        tags => input.tags.as_ref().map(|t| t.join(", ")), external_id => input.external_id,
    }
}

/// Reads the posted form. An owner that is not a number is a field error.
fn input_from_form(pairs: &[(String, String)]) -> Result<CustomerInput, ValidationErrors> {
    let opt = |k: &str| form_get(pairs, k).map(str::to_string);
    let owner_id = match form_get(pairs, "owner_id").map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(s.parse::<i64>().map_err(|_| ValidationErrors::single("owner_id", Issue::Unknown))?),
    };
    Ok(CustomerInput {
        name: opt("name").unwrap_or_default(),
        kind: opt("kind"),
        industry: opt("industry"),
        scale: opt("scale"),
        region: opt("region"),
        decision_chain: opt("decision_chain"),
        phone: opt("phone"),
        email: opt("email"),
        owner_id,
        cooperation_start: opt("cooperation_start"),
        first_purchase_on: opt("first_purchase_on"),
        last_cooperation_on: opt("last_cooperation_on"),
        preferred_channel: opt("preferred_channel"),
        contact_window: opt("contact_window"),
        marketing_consent: Some(form_get(pairs, "marketing_consent").is_some()),
        notes: opt("notes"),
        stage: opt("stage"),
        contract_end: opt("contract_end"),
        renewal_date: opt("renewal_date"),
        verified_on: opt("verified_on"),
        tags: Some(dc::split_tags(form_get(pairs, "tags").unwrap_or(""))),
        external_id: opt("external_id"),
    })
}

struct FormPage<'a> {
    input: &'a CustomerInput,
    errors: Option<&'a ValidationErrors>,
    customer: Option<&'a Customer>,
}

async fn render_form(state: &AppState, lang: Lang, u: &PageUser, p: FormPage<'_>) -> AppResult<Html<String>> {
    let user = u.user.clone();
    let owners = state
        .db
        .read(move |c| {
            let scope = customer_scope(c, &user)?;
            owners_in_scope(c, &scope)
        })
        .await?;
    let (errors, error_map) = super::form_errors(p.errors, lang, |f| field_label(f, lang));
    let title = match p.customer {
        Some(c) => format!("{} {}", lang.pick("编辑客户", "Edit customer"), c.name),
        None => lang.pick("新建客户", "New customer").to_string(),
    };
    let ctx = context! { ..page_ctx(u, lang, "customers", &title), ..context! {
        v => form_values(p.input),
        errors => errors,
        err => error_map,
        customer => p.customer.map(|c| context! { id => c.id, code => c.code, phone => c.phone_masked, email => c.email_masked }),
        owners => owners,
        kinds => options(CustomerKind::ALL, CustomerKind::code, CustomerKind::label, lang),
        scales => options(Scale::ALL, Scale::code, Scale::label, lang),
        stages => options(LifecycleStage::ALL, LifecycleStage::code, LifecycleStage::label, lang),
        channels => options(Channel::ALL, Channel::code, Channel::label, lang),
        industries => dc::INDUSTRIES.iter().map(|(zh, en)| lang.pick(zh, en)).collect::<Vec<_>>(),
    }};
    render(state, "customers/form.html", ctx)
}

/// The list as a CSV or Excel download, with the list's filters.
async fn export(
    State(state): State<AppState>,
    u: PageUser,
    ClientIp(ip): ClientIp,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    crate::api::import::export_response(&state, &u.user, ip, raw.as_deref()).await
}

async fn new_form(State(state): State<AppState>, ReqLang(lang): ReqLang, u: PageUser) -> AppResult<Html<String>> {
    if !u.user.role.can_edit_customers() {
        return Err(AppError::Forbidden);
    }
    let input = CustomerInput { owner_id: Some(u.user.id), ..Default::default() };
    render_form(&state, lang, &u, FormPage { input: &input, errors: None, customer: None }).await
}

async fn create(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let result = match input_from_form(&pairs) {
        Ok(input) => (svc::create(&state, &u.user, input.clone(), ip).await, input),
        Err(e) => (
            Err(AppError::Invalid(e)),
            CustomerInput { name: form_get(&pairs, "name").unwrap_or("").into(), ..Default::default() },
        ),
    };
    match result {
        (Ok(c), _) => Ok(Redirect::to(&format!("/customers/{}?flash=created", c.id)).into_response()),
        (Err(AppError::Invalid(e)), input) => {
            let page =
                render_form(&state, lang, &u, FormPage { input: &input, errors: Some(&e), customer: None }).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        (Err(e), _) => Err(e),
    }
}

async fn edit_form(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    Path(id): Path<i64>,
) -> AppResult<Html<String>> {
    if !u.user.role.can_edit_customers() {
        return Err(AppError::Forbidden);
    }
    let c = svc::get(&state, &u.user, id).await?;
    // Personal fields are not put back into the form in clear: left empty,
    // they keep their stored value (see `keep_personal`).
    let input = svc::stored_input(&c, None).map_err(|e| AppError::Internal(e.to_string()))?;
    render_form(&state, lang, &u, FormPage { input: &input, errors: None, customer: Some(&c) }).await
}

/// In the edit form an empty phone/email keeps the stored value, unless the
/// "clear" box was ticked: the clear value is never sent to the browser.
async fn keep_personal(
    state: &AppState,
    u: &PageUser,
    id: i64,
    pairs: &[(String, String)],
    input: &mut CustomerInput,
) -> AppResult<()> {
    let empty = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
    let keep_phone = empty(&input.phone) && form_get(pairs, "clear_phone").is_none();
    let keep_email = empty(&input.email) && form_get(pairs, "clear_email").is_none();
    if !(keep_phone || keep_email) {
        return Ok(());
    }
    let c = svc::get(state, &u.user, id).await?;
    let stored = svc::stored_input(&c, Some(&state.cipher)).map_err(|e| AppError::Internal(e.to_string()))?;
    if keep_phone {
        input.phone = stored.phone;
    }
    if keep_email {
        input.email = stored.email;
    }
    Ok(())
}

async fn update(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let parsed = input_from_form(&pairs);
    let (result, shown) = match parsed {
        Ok(input) => {
            let shown = input.clone();
            let mut full = input;
            keep_personal(&state, &u, id, &pairs, &mut full).await?;
            (svc::update(&state, &u.user, id, full, ip).await, shown)
        }
        Err(e) => (
            Err(AppError::Invalid(e)),
            CustomerInput { name: form_get(&pairs, "name").unwrap_or("").into(), ..Default::default() },
        ),
    };
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/customers/{id}?flash=saved")).into_response()),
        Err(AppError::Invalid(e)) => {
            let c = svc::get(&state, &u.user, id).await?;
            let page =
                render_form(&state, lang, &u, FormPage { input: &shown, errors: Some(&e), customer: Some(&c) }).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}

/// The label of a timeline event code, e.g. `communication.phone`.
/// The body of a timeline entry in the page's language: job-written
/// entries keep JSON that is told here, others their text.
pub(crate) fn timeline_body(title: &str, body: Option<&str>, lang: Lang) -> Option<String> {
    if title == crate::service::segments::TIMELINE_TITLE {
        body.and_then(|b| crate::service::segments::describe_changes(b, lang))
    } else if title.starts_with("maintenance.") {
        body.and_then(|b| crate::service::maintenance::describe(b, lang))
    } else {
        body.map(str::to_string)
    }
}

pub(crate) fn event_label(code: &str, lang: Lang) -> String {
    if let Some(label) = crate::service::maintenance::event_label(code, lang) {
        return label;
    }
    if let Some(step) = code.strip_prefix("complaint.") {
        return crate::service::complaints::event_label(step, lang);
    }
    if let Some(ticket) = code.strip_prefix("ticket.") {
        return super::tickets::timeline_label(ticket, lang);
    }
    let (zh, en) = match code {
        "customer.created" => ("建立客户档案", "Customer record created"),
        "customer.updated" => ("更新客户资料", "Profile updated"),
        "contact.created" => ("添加联系人", "Contact added"),
        "order.created" => ("订单", "Order"),
        "action_item.created" => ("新增行动项", "Action item"),
        "action_item.done" => ("行动项完成", "Action item done"),
        "action_item.waiting_customer" => ("行动项待客户确认", "Action item waiting for the customer"),
        "action_item.open" => ("行动项重新打开", "Action item reopened"),
        crate::service::segments::TIMELINE_TITLE => ("分层、标签与流失预警变化", "Segmentation changed"),
        other => {
            if let Some(r) =
                other.strip_prefix("churn_reason.").and_then(|r| guanxi_domain::segment::ChurnReason::parse(r).ok())
            {
                return format!("{}{}", lang.pick("流失原因：", "Churn reason: "), r.label(lang));
            }
            match other.strip_prefix("communication.").and_then(|c| Channel::parse(c).ok()) {
                Some(ch) => return format!("{}{}", lang.pick("沟通 · ", "Communication · "), ch.label(lang)),
                None => return other.to_string(),
            }
        }
    };
    lang.pick(zh, en).to_string()
}

/// Everything the 360 page shows besides the profile, read in one transaction.
struct View360 {
    contacts: Vec<guanxi_store::contacts::Contact>,
    summary: guanxi_store::orders::OrderSummary,
    recent_orders: Vec<guanxi_store::orders::Order>,
    items: Vec<guanxi_store::communications::ActionItem>,
    timeline: Vec<guanxi_store::timeline::Entry>,
    segment: Option<guanxi_store::segments::Stored>,
}

/// A contact whose personal fields were just revealed: (contact id, field → value).
pub(super) type RevealedContact = (i64, Vec<(&'static str, Option<String>)>);

/// What a profile view shows beyond the stored record.
#[derive(Default)]
pub(super) struct ViewExtras<'a> {
    /// A customer field just revealed: (field, value).
    pub revealed: Option<(&'a str, Option<String>)>,
    pub flash: Option<&'a str>,
    pub contact: Option<&'a RevealedContact>,
    /// The tickets panel's page: after this (received at ms, id).
    pub tickets_before: Option<(i64, i64)>,
}

pub(super) async fn render_view(
    state: &AppState,
    lang: Lang,
    u: &PageUser,
    c: &Customer,
    extras: ViewExtras<'_>,
    tq: &crate::api::relationship::TimelineQuery,
) -> AppResult<Html<String>> {
    let ViewExtras { revealed, flash, contact: contact_revealed, tickets_before } = extras;
    let id = c.id;
    let today = state.today();
    let q = tq.clone();
    let v360 = state
        .db
        .read(move |cn| {
            Ok(View360 {
                contacts: guanxi_store::contacts::for_customer(cn, id)?,
                summary: guanxi_store::orders::summary(cn, id, today)?,
                recent_orders: guanxi_store::orders::recent(cn, id, 5)?,
                items: guanxi_store::communications::for_customer_items(cn, id)?,
                timeline: guanxi_store::timeline::page(cn, id, &q.kinds, q.before, q.limit)?,
                segment: guanxi_store::segments::get(cn, id)?,
            })
        })
        .await?;
    let now = state.clock.now();
    let history = state.db.read(move |cn| audit::for_entity(cn, "customer", id, 20)).await?;
    // The tickets panel: five at a time, newest first (a sixth says there are more).
    let tickets = crate::service::tickets::of_customer(state, id, tickets_before, 6).await?;
    let ticket_setup = crate::service::tickets::setup::get(state).await?;
    let today = state.today();
    let tz = state.config.time_zone.clone();
    let action_label = |a: &str| -> String {
        match a {
            "create" => lang.pick("创建", "created").into(),
            "update" => lang.pick("修改", "edited").into(),
            "reveal" => lang.pick("查看敏感信息", "revealed").into(),
            other => other.into(),
        }
    };
    let ds = |d: Option<jiff::civil::Date>| d.map(|d| d.to_string());
    let revealed_phone = revealed.as_ref().filter(|(f, _)| *f == "phone").map(|(_, v)| v.clone().unwrap_or_default());
    let revealed_email = revealed.as_ref().filter(|(f, _)| *f == "email").map(|(_, v)| v.clone().unwrap_or_default());
    let consent = super::outreach::consent_panel(state, &u.user, id, lang).await?;
    let ctx = context! { ..page_ctx(u, lang, "customers", &c.name), ..context! {
            consent => consent,
            c => context! {
                id => c.id, code => c.code, name => c.name,
                kind => label_of(Some(&c.kind), CustomerKind::parse, CustomerKind::label, lang),
                industry => c.industry, scale => label_of(c.scale.as_deref(), Scale::parse, Scale::label, lang),
                region => c.region, decision_chain => c.decision_chain,
                phone => revealed_phone.or_else(|| c.phone_masked.clone()), phone_revealed => revealed.as_ref().is_some_and(|(f, _)| *f == "phone"),
                email => revealed_email.or_else(|| c.email_masked.clone()), email_revealed => revealed.as_ref().is_some_and(|(f, _)| *f == "email"),
                has_phone => c.phone_masked.is_some(), has_email => c.email_masked.is_some(),
                owner => c.owner_name,
                stage => c.stage, stage_label => label_of(Some(&c.stage), LifecycleStage::parse, LifecycleStage::label, lang),
                cooperation_start => ds(c.cooperation_start),
                cooperation => c.cooperation_start.map(|s| dc::cooperation_length_text(dc::cooperation_months(s, today), lang)),
                anniversary => c.cooperation_start.map(|s| dc::next_anniversary(s, today).to_string()),
                first_purchase_on => ds(c.first_purchase_on), last_cooperation_on => ds(c.last_cooperation_on),
                contract_end => ds(c.contract_end), renewal_date => ds(c.renewal_date),
                channel => label_of(c.preferred_channel.as_deref(), Channel::parse, Channel::label, lang),
                contact_window => c.contact_window, marketing_consent => c.marketing_consent, notes => c.notes,
                verified_on => ds(c.verified_on), needs_review => dc::needs_review(c.verified_on, today, state.config.review_months),
                external_id => c.external_id, tags => c.tags,
                created => c.created_at.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M").to_string(),
            },
            history => history.iter().map(|h| context! {
                at => jiff::Timestamp::from_millisecond(h.at).map(|t| t.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M").to_string()).unwrap_or_default(),
                who => h.actor_name,
                action => action_label(&h.action), detail => h.detail,
            }).collect::<Vec<_>>(),
            can_edit => u.user.role.can_edit_customers(),
            can_delete => u.user.role.can_delete_customers(),
            can_reveal => u.user.role.can_reveal_personal_data(),
            flash => flash,
    contacts => v360.contacts.iter().map(|p| {
                let shown = contact_revealed.filter(|(id, _)| *id == p.id).map(|(_, v)| v.clone());
                let field = |name: &str, masked: &Option<String>| -> Option<String> {
                    shown.as_ref().and_then(|v| v.iter().find(|(f, _)| *f == name).and_then(|(_, x)| x.clone())).or_else(|| masked.clone())
                };
                context! {
                    id => p.id, name => p.name, title => p.title, decision_maker => p.decision_maker,
                    phone => field("phone", &p.phone_masked), email => field("email", &p.email_masked),
                    wechat => field("wechat", &p.wechat_masked),
                    birthday => shown.as_ref().and_then(|v| v.iter().find(|(f, _)| *f == "birthday").and_then(|(_, x)| x.clone())),
                    address => shown.as_ref().and_then(|v| v.iter().find(|(f, _)| *f == "address").and_then(|(_, x)| x.clone())),
                    revealed => shown.is_some(),
                    has_personal => p.phone_masked.is_some() || p.email_masked.is_some() || p.wechat_masked.is_some() || p.has_birthday || p.has_address,
                }
            }).collect::<Vec<_>>(),
            orders => context! {
                spend_12m => v360.summary.spend_12m.to_string(), orders_12m => v360.summary.orders_12m,
                orders_total => v360.summary.orders_total, spend_total => v360.summary.spend_total.to_string(),
                last_order_on => v360.summary.last_order_on.map(|d| d.to_string()),
                recent => v360.recent_orders.iter().map(|o| context! {
                    on => o.ordered_on.to_string(), amount => o.amount.to_string(), product => o.product,
                }).collect::<Vec<_>>(),
            },
            items => v360.items.iter().filter(|a| a.status != guanxi_domain::communication::ActionStatus::Done).map(|a| context! {
                id => a.id, content => a.content, owner => a.owner_name, status => a.status.label(lang),
                due => a.due_at.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M").to_string(),
                overdue => guanxi_domain::communication::is_overdue(a.status, a.due_at, now),
            }).collect::<Vec<_>>(),
            timeline => v360.timeline.iter().map(|e| context! {
                kind => e.kind, label => event_label(&e.title, lang), who => e.actor_name,
                body => timeline_body(&e.title, e.body.as_deref(), lang),
                at => e.at.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M").to_string(),
            }).collect::<Vec<_>>(),
            timeline_more => (v360.timeline.len() as i64 == tq.limit).then(|| v360.timeline.last().map(|e| {
                let mut q = vec![("before".to_string(), format!("{}:{}", e.at.as_millisecond(), e.id))];
                if !tq.kinds.is_empty() { q.push(("kind".into(), tq.kinds.join(","))); }
                format!("/customers/{id}?{}#timeline", serde_urlencoded::to_string(&q).unwrap_or_default())
            })).flatten(),
            tickets => tickets.iter().take(5).map(|t| super::tickets::queue_row(t, &ticket_setup, now, state, lang)).collect::<Vec<_>>(),
            tickets_more => tickets.get(4).filter(|_| tickets.len() > 5)
                .map(|t| format!("/customers/{id}?tickets_before={}_{}#tickets", t.received_at.as_millisecond(), t.id)),
            tickets_paged => tickets_before.is_some(),
            seg => v360.segment.as_ref().map(|s| {
                let v = crate::api::segments::SegmentView::new(s, lang);
                context! {
                    tier => v.tier, tier_label => v.tier_label, activity => v.activity, activity_label => v.activity_label,
                    spend => guanxi_domain::money::Money::from_fen(v.spend_fen).to_string(),
                    rfm => v.rfm, rfm_label => v.rfm_segment_label, at_risk => v.at_risk,
                    p_alive => v.p_alive.map(|p| format!("{:.0}%", p * 100.0)),
                    expected => v.expected_purchases.map(|x| format!("{x:.1}")),
                    signals => v.signals.iter().map(|x| context! { label => x.label, evidence => x.evidence }).collect::<Vec<_>>(),
                    rule_tags => v.rule_tags,
                    reasons => guanxi_domain::segment::ChurnReason::ALL.iter()
                        .map(|r| context! { code => r.code(), label => r.label(lang) }).collect::<Vec<_>>(),
                    computed => s.computed_at.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M").to_string(),
                }
            }),
            kind_tabs => std::iter::once(("", lang.pick("全部", "All")))
                .chain([("communication", lang.pick("沟通", "Communications")), ("action_item", lang.pick("行动项", "Action items")),
                        ("order", lang.pick("订单", "Orders")), ("contact", lang.pick("联系人", "Contacts")), ("customer", lang.pick("档案", "Profile")),
                        ("segment", lang.pick("分层", "Segment")), ("maintenance", lang.pick("维护", "Maintenance")),
                        ("ticket", lang.pick("工单", "Tickets"))])
                .map(|(k, label)| context! { kind => k, label => label, active => tq.kinds.join(",") == k })
                .collect::<Vec<_>>(),
        }};
    render(state, "customers/view.html", ctx)
}

async fn view(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    Path(id): Path<i64>,
    RawQuery(raw): RawQuery,
) -> AppResult<Html<String>> {
    let c = svc::get(&state, &u.user, id).await?;
    let tq = crate::api::relationship::parse_timeline_query(raw.as_deref())
        .unwrap_or(crate::api::relationship::TimelineQuery { limit: 30, ..Default::default() });
    let tq = crate::api::relationship::TimelineQuery { limit: 30, ..tq };
    if tq.kinds.iter().any(|k| !guanxi_store::timeline::kind::ALL.contains(&k.as_str())) {
        return Err(AppError::field("kind", Issue::NotAllowed));
    }
    let raw_before = raw.as_deref().unwrap_or("").split('&').find_map(|kv| kv.strip_prefix("tickets_before="));
    let tickets_before = match raw_before {
        Some(v) => Some(crate::service::tickets::parse_cursor(v).map_err(|i| AppError::field("tickets_before", i))?),
        None => None,
    };
    let extras = ViewExtras { flash: flash_text(raw.as_deref(), lang), tickets_before, ..Default::default() };
    render_view(&state, lang, &u, &c, extras, &tq).await
}

async fn reveal(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Html<String>> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let (field, name) = match form_get(&pairs, "field") {
        Some("phone") => (PersonalField::Phone, "phone"),
        Some("email") => (PersonalField::Email, "email"),
        _ => return Err(AppError::field("field", Issue::NotAllowed)),
    };
    let value = svc::reveal(&state, &u.user, id, field, ip).await?;
    let c = svc::get(&state, &u.user, id).await?;
    let tq = crate::api::relationship::TimelineQuery { limit: 30, ..Default::default() };
    render_view(&state, lang, &u, &c, ViewExtras { revealed: Some((name, value)), ..Default::default() }, &tq).await
}

async fn confirm_delete(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    Path(id): Path<i64>,
) -> AppResult<Html<String>> {
    if !u.user.role.can_delete_customers() {
        return Err(AppError::Forbidden);
    }
    let c = svc::get(&state, &u.user, id).await?;
    let title = lang.pick("删除客户", "Delete customer");
    let ctx = context! { ..page_ctx(&u, lang, "customers", title), ..context! {
        c => context! { id => c.id, code => c.code, name => c.name },
    }};
    render(&state, "customers/delete.html", ctx)
}

async fn delete(
    State(state): State<AppState>,
    u: PageUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    svc::delete(&state, &u.user, id, ip).await?;
    Ok(Redirect::to("/customers?flash=deleted").into_response())
}
