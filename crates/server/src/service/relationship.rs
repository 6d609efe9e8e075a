//! Customer 360 actions (SPEC C2–C7): contacts, orders, behaviour events,
//! communication records with action items, and the timeline they feed.
//! Every action first checks that the customer is in the caller's scope.

use guanxi_domain::communication::{ActionStatus, CommunicationDraft, CommunicationInput};
use guanxi_domain::contact::{ContactDraft, ContactInput, mask_wechat};
use guanxi_domain::order::{OrderDraft, OrderInput};
use guanxi_domain::{Issue, ValidationErrors};
use guanxi_store::audit::{self, AuditEntry};
use guanxi_store::communications::{self, ActionItem};
use guanxi_store::contacts::{self, Contact, SealedContact};
use guanxi_store::customers::{self, Customer};
use guanxi_store::timeline::{self, NewEntry, kind};
use guanxi_store::users::User;
use guanxi_store::{Conn, args, orders};

use super::customer_scope;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The customer, if the caller may see it.
fn customer_in_scope(c: &mut Conn, actor: &User, id: i64) -> guanxi_store::Result<Customer> {
    let scope = customer_scope(c, actor)?;
    customers::get(c, &scope, id)
}

fn require_edit(actor: &User) -> AppResult<()> {
    if actor.role.can_edit_customers() { Ok(()) } else { Err(AppError::Forbidden) }
}

/// Users named as owners must exist and be active.
fn check_active_users(c: &mut Conn, fields: &[(String, i64)]) -> guanxi_store::Result<()> {
    let mut e = ValidationErrors::new();
    for (field, id) in fields {
        let n: i64 = c.scalar("SELECT COUNT(*) FROM users WHERE id = $1 AND active = $2", args![*id, true])?;
        if n == 0 {
            e.add(field, Issue::Unknown);
        }
    }
    if e.is_empty() { Ok(()) } else { Err(e.into()) }
}

/// The audit entry of a change (SPEC S3) with the caller's address;
/// personal fields appear masked.
#[allow(clippy::too_many_arguments)]
fn audited(
    c: &mut Conn,
    now: jiff::Timestamp,
    actor: &User,
    action: &str,
    entity: &str,
    id: i64,
    detail: &serde_json::Value,
    ip: Option<&str>,
) -> guanxi_store::Result<()> {
    audit::record(
        c,
        now,
        &AuditEntry { actor_id: Some(actor.id), action, entity, entity_id: Some(id), detail: detail.to_string(), ip },
    )
}

fn seal_contact(state: &AppState, d: &ContactDraft) -> SealedContact {
    let cipher = &state.cipher;
    SealedContact {
        phone: d.phone.as_ref().map(|p| cipher.seal_phone(p)),
        email: d.email.as_ref().map(|e| cipher.seal_email(e)),
        wechat: d.wechat.as_ref().map(|w| cipher.seal_text(w, mask_wechat(w))),
        birthday: d.birthday.map(|b| cipher.seal_text(&b.to_string(), "****-**-**".into())),
        address: d.address.as_ref().map(|a| cipher.seal_text(a, "***".into())),
    }
}

pub async fn create_contact(
    state: &AppState,
    actor: &User,
    customer_id: i64,
    input: ContactInput,
    ip: Option<String>,
) -> AppResult<Contact> {
    require_edit(actor)?;
    let draft = ContactDraft::parse(&input, state.today())?;
    let sealed = seal_contact(state, &draft);
    let actor = actor.clone();
    let now = state.clock.now();
    Ok(state
        .db
        .write(move |c| {
            customer_in_scope(c, &actor, customer_id)?;
            let id = contacts::insert(c, customer_id, &draft, &sealed, now)?;
            timeline::append(
                c,
                &NewEntry {
                    customer_id,
                    at: now,
                    kind: kind::CONTACT,
                    ref_id: Some(id),
                    title: "contact.created".into(),
                    body: Some(match &draft.title {
                        Some(t) => format!("{} · {t}", draft.name),
                        None => draft.name.clone(),
                    }),
                    actor_id: Some(actor.id),
                },
            )?;
            let created = contacts::get(c, id)?;
            audited(c, now, &actor, "create", "contact", id, &serde_json::json!({ "after": created }), ip.as_deref())?;
            Ok(created)
        })
        .await?)
}

pub async fn update_contact(
    state: &AppState,
    actor: &User,
    contact_id: i64,
    input: ContactInput,
    ip: Option<String>,
) -> AppResult<Contact> {
    require_edit(actor)?;
    let draft = ContactDraft::parse(&input, state.today())?;
    let sealed = seal_contact(state, &draft);
    let actor = actor.clone();
    let now = state.clock.now();
    Ok(state
        .db
        .write(move |c| {
            let existing = contacts::get(c, contact_id)?;
            customer_in_scope(c, &actor, existing.customer_id)?;
            contacts::update(c, contact_id, &draft, &sealed, now)?;
            let after = contacts::get(c, contact_id)?;
            audited(
                c,
                now,
                &actor,
                "update",
                "contact",
                contact_id,
                &serde_json::json!({ "before": existing, "after": after }),
                ip.as_deref(),
            )?;
            Ok(after)
        })
        .await?)
}

pub async fn delete_contact(state: &AppState, actor: &User, contact_id: i64, ip: Option<String>) -> AppResult<()> {
    require_edit(actor)?;
    let actor = actor.clone();
    let now = state.clock.now();
    state
        .db
        .write(move |c| {
            let existing = contacts::get(c, contact_id)?;
            customer_in_scope(c, &actor, existing.customer_id)?;
            contacts::delete(c, contact_id)?;
            audit::record(
                c,
                now,
                &AuditEntry {
                    actor_id: Some(actor.id),
                    action: "delete",
                    entity: "contact",
                    entity_id: Some(contact_id),
                    detail: existing.name,
                    ip: ip.as_deref(),
                },
            )
        })
        .await?;
    Ok(())
}

pub async fn list_contacts(state: &AppState, actor: &User, customer_id: i64) -> AppResult<Vec<Contact>> {
    let actor = actor.clone();
    Ok(state
        .db
        .read(move |c| {
            customer_in_scope(c, &actor, customer_id)?;
            contacts::for_customer(c, customer_id)
        })
        .await?)
}

/// Records an order; `None` when an order with the same external id was
/// already recorded (nothing changes).
pub async fn create_order(
    state: &AppState,
    actor: &User,
    customer_id: i64,
    input: OrderInput,
    ip: Option<String>,
) -> AppResult<Option<i64>> {
    require_edit(actor)?;
    let draft = OrderDraft::parse(&input, state.today())?;
    let tz = state.config.time_zone.clone();
    let actor = actor.clone();
    let now = state.clock.now();
    Ok(state
        .db
        .write(move |c| {
            customer_in_scope(c, &actor, customer_id)?;
            let id = orders::insert(c, customer_id, &draft, now)?;
            if let Some(id) = id {
                audited(
                    c,
                    now,
                    &actor,
                    "create",
                    "order",
                    id,
                    &serde_json::json!({
                        "customer_id": customer_id, "ordered_on": draft.ordered_on.to_string(),
                        "amount": draft.amount.to_string(), "product": draft.product,
                    }),
                    ip.as_deref(),
                )?;
                timeline::append(
                    c,
                    &NewEntry {
                        customer_id,
                        // An order has a date, not a time: noon in the business time zone.
                        at: draft.ordered_on.at(12, 0, 0, 0).to_zoned(tz.clone()).map_or(now, |z| z.timestamp()),
                        kind: kind::ORDER,
                        ref_id: Some(id),
                        title: "order.created".into(),
                        body: Some(format!(
                            "¥{}{}",
                            draft.amount,
                            draft.product.as_deref().map(|p| format!(" · {p}")).unwrap_or_default()
                        )),
                        actor_id: None,
                    },
                )?;
                // The customer's first order: the new-customer first follow-up (M1).
                super::maintenance::first_order_in(c, &tz, customer_id, now)?;
            }
            Ok(id)
        })
        .await?)
}

/// Records a communication with its action items; each item goes on the
/// timeline and on its owner's list.
pub async fn create_communication(
    state: &AppState,
    actor: &User,
    customer_id: i64,
    input: CommunicationInput,
    ip: Option<String>,
) -> AppResult<i64> {
    require_edit(actor)?;
    let draft = CommunicationDraft::parse(&input, state.clock.now(), &state.config.time_zone)?;
    let actor = actor.clone();
    let now = state.clock.now();
    Ok(state
        .db
        .write(move |c| {
            customer_in_scope(c, &actor, customer_id)?;
            let owner = draft.owner_id.unwrap_or(actor.id);
            let mut owners = vec![("owner_id".to_string(), owner)];
            owners.extend(
                draft.action_items.iter().enumerate().map(|(i, a)| (format!("action_items[{i}].owner_id"), a.owner_id)),
            );
            check_active_users(c, &owners)?;
            if let Some(contact) = draft.contact_id {
                let belongs: i64 = c.scalar(
                    "SELECT COUNT(*) FROM contacts WHERE id = $1 AND customer_id = $2",
                    args![contact, customer_id],
                )?;
                if belongs == 0 {
                    return Err(ValidationErrors::single("contact_id", Issue::Unknown).into());
                }
            }
            let (id, items) = communications::insert(c, customer_id, &draft, owner, actor.id, now)?;
            audited(
                c,
                now,
                &actor,
                "create",
                "communication",
                id,
                &serde_json::json!({
                    "customer_id": customer_id, "channel": draft.channel.code(), "purpose": draft.purpose,
                    "action_items": items,
                }),
                ip.as_deref(),
            )?;
            timeline::append(
                c,
                &NewEntry {
                    customer_id,
                    at: draft.occurred_at,
                    kind: kind::COMMUNICATION,
                    ref_id: Some(id),
                    title: format!("communication.{}", draft.channel.code()),
                    body: Some(format!("{}：{}", draft.purpose, draft.summary)),
                    actor_id: Some(actor.id),
                },
            )?;
            for (item_id, item) in items.iter().zip(&draft.action_items) {
                timeline::append(
                    c,
                    &NewEntry {
                        customer_id,
                        at: draft.occurred_at,
                        kind: kind::ACTION_ITEM,
                        ref_id: Some(*item_id),
                        title: "action_item.created".into(),
                        body: Some(item.content.clone()),
                        actor_id: Some(actor.id),
                    },
                )?;
            }
            Ok(id)
        })
        .await?)
}

/// Moves an action item to a new status. Its owner, or anyone who may see
/// the customer, may do it.
pub async fn set_action_status(
    state: &AppState,
    actor: &User,
    item_id: i64,
    status: ActionStatus,
    ip: Option<String>,
) -> AppResult<ActionItem> {
    require_edit(actor)?;
    let actor = actor.clone();
    let now = state.clock.now();
    Ok(state
        .db
        .write(move |c| {
            let item = communications::get_item(c, item_id)?;
            if item.owner_id != actor.id {
                customer_in_scope(c, &actor, item.customer_id)?;
            }
            if item.status == status {
                return Ok(item);
            }
            communications::set_status(c, item_id, status, now)?;
            audited(
                c,
                now,
                &actor,
                "update",
                "action_item",
                item_id,
                &serde_json::json!({ "before": item.status.code(), "after": status.code() }),
                ip.as_deref(),
            )?;
            timeline::append(
                c,
                &NewEntry {
                    customer_id: item.customer_id,
                    at: now,
                    kind: kind::ACTION_ITEM,
                    ref_id: Some(item_id),
                    title: format!("action_item.{}", status.code()),
                    body: Some(item.content.clone()),
                    actor_id: Some(actor.id),
                },
            )?;
            communications::get_item(c, item_id)
        })
        .await?)
}

/// A page of a customer's timeline.
pub async fn timeline_page(
    state: &AppState,
    actor: &User,
    customer_id: i64,
    kinds: Vec<String>,
    before: Option<(jiff::Timestamp, i64)>,
    limit: i64,
) -> AppResult<Vec<timeline::Entry>> {
    if let Some(bad) = kinds.iter().find(|k| !kind::ALL.contains(&k.as_str())) {
        let _ = bad;
        return Err(AppError::field("kind", Issue::NotAllowed));
    }
    let actor = actor.clone();
    Ok(state
        .db
        .read(move |c| {
            customer_in_scope(c, &actor, customer_id)?;
            timeline::page(c, customer_id, &kinds, before, limit)
        })
        .await?)
}

/// One behaviour event as the company's product pushes it (SPEC C4).
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct EventInput {
    /// The customer, by code (`KH000123`) or by id.
    pub customer_code: Option<String>,
    pub customer_id: Option<i64>,
    /// Unique per event: a re-sent event is ignored. 1–64 characters.
    pub event_id: String,
    /// `login`, `page_view` or `feature_use`.
    pub kind: String,
    /// RFC 3339 instant or `YYYY-MM-DD HH:MM` (business time zone).
    pub occurred_at: String,
    /// Seconds spent, 0–86400.
    pub duration_secs: Option<i64>,
    /// The feature or page, up to 100 characters.
    pub feature: Option<String>,
}

pub const MAX_EVENT_BATCH: usize = 10_000;
const EVENT_KINDS: &[&str] = &["login", "page_view", "feature_use"];

/// Ingests a batch of behaviour events: all are checked first, and one bad
/// event refuses the whole batch. Returns (received, newly stored).
pub async fn ingest_events(state: &AppState, actor: &User, events: Vec<EventInput>) -> AppResult<(usize, u64)> {
    if !actor.role.sees_all_customers() {
        return Err(AppError::Forbidden);
    }
    let mut e = ValidationErrors::new();
    if events.is_empty() {
        e.add("events", Issue::Required);
    }
    if events.len() > MAX_EVENT_BATCH {
        e.add("events", Issue::TooMany { max: MAX_EVENT_BATCH });
        return Err(e.into());
    }
    let tz = state.config.time_zone.clone();
    let now = state.clock.now();
    let mut parsed = Vec::with_capacity(events.len());
    for (i, ev) in events.iter().enumerate() {
        let f = |name: &str| format!("events[{i}].{name}");
        let event_id = e.check(&f("event_id"), guanxi_domain::validation::required_text(&ev.event_id, 64));
        let kind_ok = EVENT_KINDS.contains(&ev.kind.as_str());
        if !kind_ok {
            e.add(&f("kind"), Issue::NotAllowed);
        }
        let at = e.check(
            &f("occurred_at"),
            guanxi_domain::communication::parse_datetime(&ev.occurred_at, &tz)
                .and_then(|t| if t > now { Err(Issue::InFuture) } else { Ok(t) }),
        );
        if matches!(ev.duration_secs, Some(d) if !(0..=86_400).contains(&d)) {
            e.add(&f("duration_secs"), Issue::OutOfRange);
        }
        let feature =
            e.check(&f("feature"), guanxi_domain::validation::optional_text(ev.feature.as_deref(), 100, false));
        if ev.customer_code.is_none() && ev.customer_id.is_none() {
            e.add(&f("customer_code"), Issue::Required);
        }
        parsed.push((event_id, at, feature));
    }
    if !e.is_empty() {
        return Err(e.into());
    }
    Ok(state
        .db
        .write(move |c| {
            // Resolve customer codes in chunks, one query each.
            let mut by_code = std::collections::HashMap::new();
            let codes: Vec<String> = events.iter().filter_map(|ev| ev.customer_code.clone()).collect();
            for chunk in codes.chunks(500) {
                let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
                let vals: Vec<guanxi_store::Value> =
                    chunk.iter().map(|s| s.trim().to_ascii_uppercase().into()).collect();
                for r in
                    c.query(&format!("SELECT code, id FROM customers WHERE code IN ({})", marks.join(", ")), &vals)?
                {
                    by_code.insert(r.get::<String>(0)?, r.get::<i64>(1)?);
                }
            }
            let mut ids = std::collections::HashSet::new();
            for chunk in events.iter().filter_map(|ev| ev.customer_id).collect::<Vec<_>>().chunks(500) {
                let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
                let vals: Vec<guanxi_store::Value> = chunk.iter().map(|x| (*x).into()).collect();
                for r in c.query(&format!("SELECT id FROM customers WHERE id IN ({})", marks.join(", ")), &vals)? {
                    ids.insert(r.get::<i64>(0)?);
                }
            }
            let mut e = ValidationErrors::new();
            let mut batch = Vec::with_capacity(events.len());
            for (i, (ev, (event_id, at, feature))) in events.iter().zip(parsed).enumerate() {
                let customer = match (&ev.customer_id, &ev.customer_code) {
                    (Some(id), _) => ids.contains(id).then_some(*id),
                    (None, Some(code)) => by_code.get(&code.trim().to_ascii_uppercase()).copied(),
                    (None, None) => None,
                };
                match (customer, event_id, at) {
                    (Some(customer_id), Some(event_id), Some(occurred_at)) => batch.push(orders::NewEvent {
                        customer_id,
                        event_id,
                        kind: ev.kind.clone(),
                        occurred_at,
                        duration_secs: ev.duration_secs,
                        feature: feature.flatten(),
                    }),
                    _ => e.add(
                        &format!(
                            "events[{i}].{}",
                            if ev.customer_id.is_some() { "customer_id" } else { "customer_code" }
                        ),
                        Issue::Unknown,
                    ),
                }
            }
            if !e.is_empty() {
                return Err(e.into());
            }
            let received = batch.len();
            Ok((received, orders::insert_events(c, &batch)?))
        })
        .await?)
}

/// A contact's personal field that can be revealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContactField {
    Phone,
    Email,
    Wechat,
    Birthday,
    Address,
}

impl ContactField {
    pub const ALL: [ContactField; 5] =
        [ContactField::Phone, ContactField::Email, ContactField::Wechat, ContactField::Birthday, ContactField::Address];

    pub fn code(self) -> &'static str {
        match self {
            ContactField::Phone => "phone",
            ContactField::Email => "email",
            ContactField::Wechat => "wechat",
            ContactField::Birthday => "birthday",
            ContactField::Address => "address",
        }
    }

    fn index(self) -> usize {
        match self {
            ContactField::Phone => 0,
            ContactField::Email => 1,
            ContactField::Wechat => 2,
            ContactField::Birthday => 3,
            ContactField::Address => 4,
        }
    }
}

/// Decrypts personal fields of a contact for a permitted user; the access
/// is written to the audit log (who, which contact, which fields, when).
pub async fn reveal_contact(
    state: &AppState,
    actor: &User,
    contact_id: i64,
    fields: Vec<ContactField>,
    ip: Option<String>,
) -> AppResult<Vec<(ContactField, Option<String>)>> {
    if !actor.role.can_reveal_personal_data() {
        return Err(AppError::Forbidden);
    }
    let actor = actor.clone();
    let now = state.clock.now();
    let f = fields.clone();
    let contact = state
        .db
        .write(move |c| {
            let contact = contacts::get(c, contact_id)?;
            customer_in_scope(c, &actor, contact.customer_id)?;
            audit::record(
                c,
                now,
                &AuditEntry {
                    actor_id: Some(actor.id),
                    action: "reveal",
                    entity: "contact",
                    entity_id: Some(contact_id),
                    detail: f.iter().map(|x| x.code()).collect::<Vec<_>>().join(","),
                    ip: ip.as_deref(),
                },
            )?;
            Ok(contact)
        })
        .await?;
    fields
        .into_iter()
        .map(|f| {
            let value = contact.ciphertexts[f.index()]
                .as_deref()
                .map(|s| state.cipher.decrypt(s).map_err(|e| AppError::Internal(e.to_string())))
                .transpose()?;
            Ok((f, value))
        })
        .collect()
}
