//! Outreach (SPEC O1–O4): message templates, the outbox and its rules
//! (consent, quiet hours, preferred channel, two channels for important
//! changes), and surveys. Every outgoing message is an `outbox` row queued
//! in the transaction that decides it, with an `outbox.deliver` job of the
//! scheduler armed for the instant it may go ([`delivery`] sends it).

pub mod consent;
pub mod delivery;
pub mod feedback;
pub mod reminders;
pub mod settings;
pub mod surveys;
pub mod templates;

use std::collections::BTreeMap;

use guanxi_domain::outreach::{OutChannel, Scenario};
use guanxi_domain::{Issue, ValidationErrors};
use guanxi_store::customers::{self as store_customers, Customer};
use guanxi_store::outreach::{self as store, NewMessage, OutboxMessage};
use guanxi_store::users::User;
use guanxi_store::{Conn, audit, jobs};
use jiff::Timestamp;
use serde::Deserialize;
use utoipa::ToSchema;

use self::settings::OutreachSettings;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The scheduler's job kind that delivers one outbox row (key: its id).
pub const OUTBOX_JOB: &str = "outbox.deliver";

/// A message to send, as a user or a rule asks for it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendInput {
    /// The customer it goes to; absent for internal alerts on the WeCom or webhook channel.
    pub customer_id: Option<i64>,
    /// `greeting`, `revisit_reminder`, `progress_update`, `holiday_greeting`,
    /// `coupon`, `survey`, `important_notice`.
    pub scenario: String,
    /// `email`, `sms`, `wecom`, `webhook`; absent: the customer's preferred
    /// channel (two channels for an important notice).
    pub channel: Option<String>,
    /// The template's variables; `customer_name` is filled in from the customer.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// The caller's key: the same key twice queues one message.
    pub idempotency_key: Option<String>,
}

/// The channels a customer message goes by: the one asked for, else two
/// for an important notice (双渠道确认, unless turned off), else the
/// customer's preferred one, else the default channel of the settings —
/// never a channel the customer refuses or has no address for.
pub(crate) fn channels_for(
    scenario: Scenario,
    asked: Option<OutChannel>,
    customer: Option<&Customer>,
    refused: &[OutChannel],
    cfg: &OutreachSettings,
) -> Vec<OutChannel> {
    if let Some(c) = asked {
        return vec![c];
    }
    let Some(cu) = customer else { return vec![OutChannel::Wecom] };
    let open = |ch: OutChannel| {
        !refused.contains(&ch)
            && match ch {
                OutChannel::Email => cu.email_ciphertext.is_some(),
                OutChannel::Sms => cu.phone_ciphertext.is_some(),
                _ => false,
            }
    };
    let both: Vec<OutChannel> = [OutChannel::Email, OutChannel::Sms].into_iter().filter(|c| open(*c)).collect();
    if scenario.is_important() && cfg.dual_channel_important {
        return both;
    }
    let preferred = match cu.preferred_channel.as_deref() {
        Some("email") => Some(OutChannel::Email),
        Some("sms" | "phone") => Some(OutChannel::Sms),
        _ => None,
    };
    preferred
        .filter(|c| open(*c))
        .or(Some(cfg.default_channel).filter(|c| open(*c)))
        .or(both.first().copied())
        .into_iter()
        .collect()
}

/// The sealed address of a channel: the customer's email or phone, or the
/// configured robot / webhook target for internal messages.
pub(crate) fn recipient(
    state: &AppState,
    channel: OutChannel,
    customer: Option<&Customer>,
    cfg: &OutreachSettings,
) -> AppResult<(String, String)> {
    let missing = || AppError::field("channel", Issue::Unknown);
    match (channel, customer) {
        (OutChannel::Email, Some(c)) => {
            let enc = c.email_ciphertext.clone().ok_or_else(missing)?;
            Ok((enc, c.email_masked.clone().unwrap_or_default()))
        }
        (OutChannel::Sms, Some(c)) => {
            let enc = c.phone_ciphertext.clone().ok_or_else(missing)?;
            Ok((enc, c.phone_masked.clone().unwrap_or_default()))
        }
        (OutChannel::Email | OutChannel::Sms, None) => Err(AppError::field("customer_id", Issue::Required)),
        (OutChannel::Wecom | OutChannel::Webhook, _) => {
            let url = cfg.webhook_url(channel).ok_or_else(missing)?;
            let shown = delivery::target_host(url).unwrap_or_default();
            Ok((state.cipher.encrypt(url), shown))
        }
    }
}

/// Queues a message (one row per channel). Marketing needs consent;
/// quiet hours hold it until the window opens; the template must render
/// with the variables given (a missing one is refused, naming it).
pub async fn send(state: &AppState, user: &User, input: SendInput) -> AppResult<Vec<OutboxMessage>> {
    if !user.role.can_edit_customers() {
        return Err(AppError::Forbidden);
    }
    let mut e = ValidationErrors::new();
    let scenario = e.check("scenario", Scenario::parse(&input.scenario));
    let asked = match input.channel.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(c) => e.check("channel", OutChannel::parse(c)).map(Some),
        None => Some(None),
    };
    let key = match input.idempotency_key.as_deref() {
        Some(k) => e.check("idempotency_key", guanxi_domain::validation::required_text(k, 100)).map(Some),
        None => Some(None),
    };
    for (k, v) in &input.variables {
        if let Err(i) = guanxi_domain::validation::text(v, 2000, true) {
            e.add(&format!("variables.{k}"), i);
        }
    }
    let (Some(scenario), Some(asked), Some(key)) = (scenario, asked, key) else { return Err(e.into()) };
    if !e.is_empty() {
        return Err(e.into());
    }
    let cfg = settings::load(state).await?;
    let customer = match input.customer_id {
        Some(id) => {
            let u = user.clone();
            Some(
                state
                    .db
                    .read(move |c| {
                        let scope = crate::service::customer_scope(c, &u)?;
                        store_customers::get(c, &scope, id)
                    })
                    .await
                    .map_err(|e| match AppError::from(e) {
                        AppError::NotFound => AppError::field("customer_id", Issue::Unknown),
                        other => other,
                    })?,
            )
        }
        None => None,
    };
    if scenario.is_marketing() && !customer.as_ref().is_some_and(|c| c.marketing_consent) {
        return Err(AppError::Refused {
            code: "no_marketing_consent",
            zh: "客户未同意接收营销信息，不能发送".into(),
            en: "The customer has not consented to marketing messages; nothing was sent".into(),
        });
    }
    let refused = match &customer {
        Some(cu) => {
            let id = cu.id;
            state.db.read(move |c| consent::refused_in(c, id)).await?
        }
        None => Vec::new(),
    };
    if let Some(ch) = asked.filter(|ch| customer.is_some() && refused.contains(ch)) {
        return Err(consent::refused_error(ch));
    }
    let channels = channels_for(scenario, asked, customer.as_ref(), &refused, &cfg);
    if channels.is_empty() && !refused.is_empty() {
        return Err(consent::refused_error(refused[0]));
    }
    if channels.is_empty() {
        return Err(AppError::field("channel", Issue::Required));
    }
    let mut vars = input.variables.clone();
    if let Some(c) = &customer {
        vars.entry("customer_name".into()).or_insert_with(|| c.name.clone());
    }
    let now = state.clock.now();
    let not_before = cfg.quiet_hours.map_or(now, |q| q.release_at(now, &state.config.time_zone));
    let key = key.unwrap_or_else(crate::auth::random_token);
    let mut rows = Vec::new();
    for ch in &channels {
        let tpl = state
            .db
            .read({
                let (s, c) = (scenario.code(), ch.code());
                move |conn| store::template_for(conn, s, c)
            })
            .await?
            .ok_or_else(|| AppError::field("scenario", Issue::Unknown))?;
        let subject = templates::render(&tpl.subject, &vars).map_err(|i| AppError::field("variables", i))?;
        let body = templates::render(&tpl.body, &vars).map_err(|i| AppError::field("variables", i))?;
        let (recipient_enc, recipient_masked) = recipient(state, *ch, customer.as_ref(), &cfg)?;
        rows.push(NewMessage {
            idempotency_key: if channels.len() > 1 { format!("{key}-{}", ch.code()) } else { key.clone() },
            channel: ch.code().into(),
            scenario: scenario.code().into(),
            customer_id: customer.as_ref().map(|c| c.id),
            recipient_enc,
            recipient_masked,
            subject,
            body,
            status: "queued".into(),
            last_error: None,
            not_before,
            created_by: Some(user.id),
        });
    }
    let uid = user.id;
    let ids = state.db.write(move |c| queue(c, &rows, Some(uid), now)).await?;
    let msgs = state
        .db
        .read(move |c| ids.iter().map(|id| store::get_message(c, *id)).collect::<guanxi_store::Result<Vec<_>>>())
        .await?;
    Ok(msgs)
}

/// Inserts the rows (pairing two as a dual-channel message), arms their
/// delivery jobs and audits; a repeated idempotency key returns the rows
/// already queued.
pub(crate) fn queue(
    c: &mut Conn,
    rows: &[NewMessage],
    actor: Option<i64>,
    now: Timestamp,
) -> guanxi_store::Result<Vec<i64>> {
    let mut ids = Vec::new();
    for m in rows {
        let id = match store::enqueue(c, m, now)? {
            Some(id) => {
                if m.status == "queued" {
                    jobs::schedule(c, OUTBOX_JOB, &id.to_string(), m.not_before, "", now)?;
                }
                audit::record(
                    c,
                    now,
                    &audit::AuditEntry {
                        actor_id: actor,
                        action: "queue",
                        entity: "outbox",
                        entity_id: Some(id),
                        detail: format!("{} {} {}", m.channel, m.scenario, m.recipient_masked),
                        ip: None,
                    },
                )?;
                id
            }
            None => c.scalar(
                "SELECT id FROM outbox WHERE idempotency_key = $1",
                guanxi_store::args![m.idempotency_key.as_str()],
            )?,
        };
        ids.push(id);
    }
    if let [a, b] = ids[..] {
        store::pair(c, a, b)?;
    }
    Ok(ids)
}

/// A page of the outbox for operators (supervisors and administrators).
pub async fn outbox(
    state: &AppState,
    user: &User,
    status: Option<String>,
    before: Option<i64>,
    limit: i64,
) -> AppResult<Vec<OutboxMessage>> {
    if !user.role.sees_all_customers() {
        return Err(AppError::Forbidden);
    }
    if let Some(s) = &status
        && !["queued", "sending", "sent", "failed", "suppressed"].contains(&s.as_str())
    {
        return Err(AppError::field("status", Issue::NotAllowed));
    }
    let limit = limit.clamp(1, 200);
    Ok(state.db.read(move |c| store::outbox_page(c, status.as_deref(), before, limit)).await?)
}

/// Records the customer's acknowledgement of an important message (O3).
pub async fn acknowledge(state: &AppState, user: &User, id: i64) -> AppResult<OutboxMessage> {
    if !user.role.can_edit_customers() {
        return Err(AppError::Forbidden);
    }
    let now = state.clock.now();
    let uid = user.id;
    Ok(state
        .db
        .write(move |c| {
            store::acknowledge(c, id, now)?;
            audit::record(
                c,
                now,
                &audit::AuditEntry {
                    actor_id: Some(uid),
                    action: "acknowledge",
                    entity: "outbox",
                    entity_id: Some(id),
                    detail: String::new(),
                    ip: None,
                },
            )?;
            store::get_message(c, id)
        })
        .await?)
}
