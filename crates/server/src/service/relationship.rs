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
            contacts::get(c, id)
        })
        .await?)
}

pub async fn update_contact(
    state: &AppState,
    actor: &User,
    contact_id: i64,
    input: ContactInput,
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
            contacts::get(c, contact_id)
        })
        .await?)
}

pub async fn delete_contact(state: &AppState, actor: &User, contact_id: i64) -> AppResult<()> {
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
                    ip: None,
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
) -> AppResult<Option<i64>> {
    require_edit(actor)?;
    let draft = OrderDraft::parse(&input, state.today())?;
    let actor = actor.clone();
    let now = state.clock.now();
    Ok(state
        .db
        .write(move |c| {
            customer_in_scope(c, &actor, customer_id)?;
            let id = orders::insert(c, customer_id, &draft, now)?;
            if let Some(id) = id {
                timeline::append(
                    c,
                    &NewEntry {
                        customer_id,
                        at: draft
                            .ordered_on
                            .at(12, 0, 0, 0)
                            .to_zoned(jiff::tz::TimeZone::UTC)
                            .map_or(now, |z| z.timestamp()),
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
                        at: now,
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
