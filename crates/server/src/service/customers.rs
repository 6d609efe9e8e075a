//! Customer actions (SPEC C1).

use guanxi_domain::customer::{CustomerDraft, CustomerInput};
use guanxi_domain::{Issue, ValidationErrors};
use guanxi_store::audit::{self, AuditEntry};
use guanxi_store::customers::{self, Customer, CustomerFilter, CustomerPage, Scope};
use guanxi_store::timeline::{self, NewEntry, kind};
use guanxi_store::users::User;

use super::customer_scope;
use crate::crypto::{CryptoError, PiiCipher};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Parses and seals an input: the draft plus the encrypted personal fields.
fn prepare(
    state: &AppState,
    input: &CustomerInput,
) -> AppResult<(CustomerDraft, Option<customers::Sealed>, Option<customers::Sealed>)> {
    let draft = CustomerDraft::parse(input, state.today())?;
    let phone = draft.phone.as_ref().map(|p| state.cipher.seal_phone(p));
    let email = draft.email.as_ref().map(|e| state.cipher.seal_email(e));
    Ok((draft, phone, email))
}

/// Owners a user may assign: anyone in their scope.
fn check_owner(scope: &Scope, draft: &CustomerDraft) -> Result<(), ValidationErrors> {
    match (scope, draft.owner_id) {
        (Scope::OwnedBy(ids), Some(owner)) if !ids.contains(&owner) => {
            Err(ValidationErrors::single("owner_id", Issue::NotAllowed))
        }
        _ => Ok(()),
    }
}

pub async fn create(state: &AppState, actor: &User, input: CustomerInput, ip: Option<String>) -> AppResult<Customer> {
    if !actor.role.can_edit_customers() {
        return Err(AppError::Forbidden);
    }
    let (mut draft, phone, email) = prepare(state, &input)?;
    // A customer created by an agent without an owner is theirs.
    if draft.owner_id.is_none() && !actor.role.sees_all_customers() {
        draft.owner_id = Some(actor.id);
    }
    let actor = actor.clone();
    let now = state.clock.now();
    let customer = state
        .db
        .write(move |c| {
            let scope = customer_scope(c, &actor)?;
            check_owner(&scope, &draft)?;
            let (id, code) = customers::insert(c, &draft, &phone, &email, Some(actor.id), now)?;
            timeline::append(
                c,
                &NewEntry {
                    customer_id: id,
                    at: now,
                    kind: kind::CUSTOMER,
                    ref_id: None,
                    title: "customer.created".into(),
                    body: Some(format!("{code} {}", draft.name)),
                    actor_id: Some(actor.id),
                },
            )?;
            audit::record(
                c,
                now,
                &AuditEntry {
                    actor_id: Some(actor.id),
                    action: "create",
                    entity: "customer",
                    entity_id: Some(id),
                    detail: format!("{code} {}", draft.name),
                    ip: ip.as_deref(),
                },
            )?;
            customers::get(c, &scope, id)
        })
        .await?;
    Ok(customer)
}

pub async fn update(
    state: &AppState,
    actor: &User,
    id: i64,
    input: CustomerInput,
    ip: Option<String>,
) -> AppResult<Customer> {
    if !actor.role.can_edit_customers() {
        return Err(AppError::Forbidden);
    }
    let (draft, phone, email) = prepare(state, &input)?;
    let actor = actor.clone();
    let now = state.clock.now();
    let (cipher, today) = (state.cipher.clone(), state.today());
    let customer = state
        .db
        .write(move |c| {
            let scope = customer_scope(c, &actor)?;
            let before = customers::get(c, &scope, id)?;
            check_owner(&scope, &draft)?;
            customers::update(c, &scope, id, &draft, &phone, &email, now)?;
            let changed = changed_fields(&before, &draft, &cipher, today);
            timeline::append(
                c,
                &NewEntry {
                    customer_id: id,
                    at: now,
                    kind: kind::CUSTOMER,
                    ref_id: None,
                    title: "customer.updated".into(),
                    body: Some(changed.clone()),
                    actor_id: Some(actor.id),
                },
            )?;
            audit::record(
                c,
                now,
                &AuditEntry {
                    actor_id: Some(actor.id),
                    action: "update",
                    entity: "customer",
                    entity_id: Some(id),
                    detail: changed,
                    ip: ip.as_deref(),
                },
            )?;
            customers::get(c, &Scope::All, id)
        })
        .await?;
    Ok(customer)
}

/// A stored customer as an input: what the edit form shows, what an import
/// lays a row over, what an edit is compared with. With a cipher, phone and
/// email are decrypted (they never leave the server this way); without one
/// they are left empty.
pub fn stored_input(c: &Customer, cipher: Option<&PiiCipher>) -> Result<CustomerInput, CryptoError> {
    let open = |ct: &Option<String>| match (ct, cipher) {
        (Some(ct), Some(cipher)) => cipher.decrypt(ct).map(Some),
        _ => Ok(None),
    };
    let ds = |d: Option<jiff::civil::Date>| d.map(|d| d.to_string());
    Ok(CustomerInput {
        name: c.name.clone(),
        kind: Some(c.kind.clone()),
        industry: c.industry.clone(),
        scale: c.scale.clone(),
        region: c.region.clone(),
        decision_chain: c.decision_chain.clone(),
        phone: open(&c.phone_ciphertext)?,
        email: open(&c.email_ciphertext)?,
        owner_id: c.owner_id,
        cooperation_start: ds(c.cooperation_start),
        first_purchase_on: ds(c.first_purchase_on),
        last_cooperation_on: ds(c.last_cooperation_on),
        preferred_channel: c.preferred_channel.clone(),
        contact_window: c.contact_window.clone(),
        marketing_consent: Some(c.marketing_consent),
        notes: c.notes.clone(),
        stage: Some(c.stage.clone()),
        contract_end: ds(c.contract_end),
        renewal_date: ds(c.renewal_date),
        verified_on: ds(c.verified_on),
        tags: Some(c.tags.clone()),
        external_id: c.external_id.clone(),
    })
}

/// Names the fields an edit changed (personal fields by name only).
fn changed_fields(before: &Customer, after: &CustomerDraft, cipher: &PiiCipher, today: jiff::civil::Date) -> String {
    let before = stored_input(before, Some(cipher)).ok().and_then(|i| CustomerDraft::parse(&i, today).ok());
    match before.map(|b| b.changed_fields(after)) {
        Some(v) if v.is_empty() => "no changes".into(),
        Some(v) => v.join(", "),
        // A stored record that today's rules refuse: say so rather than guess.
        None => "all fields (the stored record no longer passes validation)".into(),
    }
}

pub async fn delete(state: &AppState, actor: &User, id: i64, ip: Option<String>) -> AppResult<()> {
    if !actor.role.can_delete_customers() {
        return Err(AppError::Forbidden);
    }
    let actor = actor.clone();
    let now = state.clock.now();
    let files = state
        .db
        .write(move |c| {
            let scope = customer_scope(c, &actor)?;
            // The files of the customer's tickets go with the rows (the
            // delete cascades to them); read their addresses first.
            let files = guanxi_store::tickets::attachment_addresses_of_customer(c, id)?;
            let gone = customers::delete(c, &scope, id)?;
            audit::record(
                c,
                now,
                &AuditEntry {
                    actor_id: Some(actor.id),
                    action: "delete",
                    entity: "customer",
                    entity_id: Some(id),
                    detail: format!("{} {}", gone.code, gone.name),
                    ip: ip.as_deref(),
                },
            )?;
            Ok(files)
        })
        .await?;
    // After the commit: each file no other ticket still holds is removed.
    super::tickets::attachments::forget(state, files).await;
    Ok(())
}

pub async fn get(state: &AppState, actor: &User, id: i64) -> AppResult<Customer> {
    let actor = actor.clone();
    Ok(state
        .db
        .read(move |c| {
            let scope = customer_scope(c, &actor)?;
            customers::get(c, &scope, id)
        })
        .await?)
}

pub async fn list(state: &AppState, actor: &User, mut filter: CustomerFilter) -> AppResult<CustomerPage> {
    // A query that is (part of) a phone number or an email also matches by
    // its blind index.
    if let Some(q) = filter.q.as_deref() {
        filter.contact = state.cipher.contact_lookup_for_query(q);
    }
    let actor = actor.clone();
    Ok(state
        .db
        .read(move |c| {
            let scope = customer_scope(c, &actor)?;
            customers::list(c, &scope, &filter)
        })
        .await?)
}

/// Which personal field to reveal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PersonalField {
    Phone,
    Email,
}

/// Decrypts one personal field for a permitted user and logs the access.
pub async fn reveal(
    state: &AppState,
    actor: &User,
    id: i64,
    field: PersonalField,
    ip: Option<String>,
) -> AppResult<Option<String>> {
    if !actor.role.can_reveal_personal_data() {
        return Err(AppError::Forbidden);
    }
    let actor = actor.clone();
    let now = state.clock.now();
    let stored = state
        .db
        .write(move |c| {
            let scope = customer_scope(c, &actor)?;
            let cust = customers::get(c, &scope, id)?;
            let (name, value) = match field {
                PersonalField::Phone => ("phone", cust.phone_ciphertext),
                PersonalField::Email => ("email", cust.email_ciphertext),
            };
            audit::record(
                c,
                now,
                &AuditEntry {
                    actor_id: Some(actor.id),
                    action: "reveal",
                    entity: "customer",
                    entity_id: Some(id),
                    detail: name.into(),
                    ip: ip.as_deref(),
                },
            )?;
            Ok(value)
        })
        .await?;
    stored.map(|s| state.cipher.decrypt(&s).map_err(|e| AppError::Internal(e.to_string()))).transpose()
}
