//! Consent per channel (SPEC O3, S2): a customer may accept email and
//! refuse SMS or WeCom. Every change is kept (who, when, how the customer
//! said so); the newest per channel is in force. A refused channel carries
//! nothing to the customer — neither service messages nor marketing — and
//! the outbox checks again when it sends, so a refusal recorded after a
//! message was queued still stops it. A channel never decided is open for
//! service messages; marketing also needs the customer's marketing consent.

use guanxi_domain::outreach::OutChannel;
use guanxi_domain::validation::{optional_text, text};
use guanxi_domain::{Issue, Lang, ValidationErrors};
use guanxi_store::outreach::{self as store, ChannelConsent};
use guanxi_store::users::User;
use guanxi_store::{Conn, audit, customers as store_customers};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The channels a customer gives or refuses consent to.
pub const CHANNELS: [OutChannel; 3] = [OutChannel::Email, OutChannel::Sms, OutChannel::Wecom];

/// A change of consent as a user records it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentInput {
    /// `email`, `sms` or `wecom`.
    pub channel: String,
    /// `true`: accepts messages on it; `false`: refuses them.
    pub granted: bool,
    /// How the customer said so (电话 / 邮件 / 表单 …).
    #[serde(default)]
    pub source: String,
    pub note: Option<String>,
}

/// One channel's consent in force.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChannelState {
    pub channel: String,
    /// `granted`, `refused`, or `unknown` (never recorded).
    pub state: String,
    pub since: Option<String>,
}

/// One recorded change.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConsentChange {
    pub id: i64,
    pub channel: String,
    pub granted: bool,
    pub source: String,
    pub note: Option<String>,
    pub actor_id: Option<i64>,
    pub at: String,
}

/// A customer's consent: in force per channel, and its history (newest first).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConsentView {
    pub customer_id: i64,
    pub marketing_consent: bool,
    pub channels: Vec<ChannelState>,
    pub history: Vec<ConsentChange>,
}

/// The channels the customer refuses, read in a transaction.
pub fn refused_in(c: &mut Conn, customer_id: i64) -> guanxi_store::Result<Vec<OutChannel>> {
    Ok(store::consents_in_force(c, customer_id)?
        .into_iter()
        .filter(|x| !x.granted)
        .filter_map(|x| OutChannel::parse(&x.channel).ok())
        .collect())
}

/// The refusal shown when a message is asked for on a refused channel.
pub fn refused_error(ch: OutChannel) -> AppError {
    AppError::Refused {
        code: "channel_refused",
        zh: format!("客户已拒绝通过{}接收信息，没有发送", ch.label(Lang::Zh)),
        en: format!("The customer refuses messages by {}; nothing was sent", ch.label(Lang::En)),
    }
}

fn view_in(c: &mut Conn, customer_id: i64, marketing_consent: bool) -> guanxi_store::Result<ConsentView> {
    let force = store::consents_in_force(c, customer_id)?;
    let history = store::consent_history(c, customer_id, 50)?;
    let channels = CHANNELS
        .iter()
        .map(|ch| {
            let x: Option<&ChannelConsent> = force.iter().find(|x| x.channel == ch.code());
            ChannelState {
                channel: ch.code().into(),
                state: match x {
                    Some(x) if x.granted => "granted",
                    Some(_) => "refused",
                    None => "unknown",
                }
                .into(),
                since: x.map(|x| x.at.to_string()),
            }
        })
        .collect();
    let history = history
        .into_iter()
        .map(|x| ConsentChange {
            id: x.id,
            channel: x.channel,
            granted: x.granted,
            source: x.source,
            note: x.note,
            actor_id: x.actor_id,
            at: x.at.to_string(),
        })
        .collect();
    Ok(ConsentView { customer_id, marketing_consent, channels, history })
}

/// The customer's consent, for whoever may see the customer.
pub async fn view(state: &AppState, user: &User, customer_id: i64) -> AppResult<ConsentView> {
    let u = user.clone();
    Ok(state
        .db
        .read(move |c| {
            let scope = crate::service::customer_scope(c, &u)?;
            let cu = store_customers::get(c, &scope, customer_id)?;
            view_in(c, cu.id, cu.marketing_consent)
        })
        .await?)
}

/// Records a change of consent (whoever may edit customers); audited.
pub async fn record(state: &AppState, user: &User, customer_id: i64, input: ConsentInput) -> AppResult<ConsentView> {
    if !user.role.can_edit_customers() {
        return Err(AppError::Forbidden);
    }
    let mut e = ValidationErrors::new();
    let channel = e.check(
        "channel",
        OutChannel::parse(&input.channel)
            .and_then(|c| if CHANNELS.contains(&c) { Ok(c) } else { Err(Issue::NotAllowed) }),
    );
    let source = e.check("source", text(&input.source, 50, false));
    let note = e.check("note", optional_text(input.note.as_deref(), 500, true));
    let (Some(channel), Some(source), Some(note)) = (channel, source, note) else { return Err(e.into()) };
    let now = state.clock.now();
    let (u, granted) = (user.clone(), input.granted);
    Ok(state
        .db
        .write(move |c| {
            let scope = crate::service::customer_scope(c, &u)?;
            let cu = store_customers::get(c, &scope, customer_id)?;
            let id =
                store::record_consent(c, cu.id, channel.code(), granted, &source, note.as_deref(), Some(u.id), now)?;
            audit::record(
                c,
                now,
                &audit::AuditEntry {
                    actor_id: Some(u.id),
                    action: if granted { "consent_grant" } else { "consent_refuse" },
                    entity: "customer",
                    entity_id: Some(cu.id),
                    detail: format!("{} #{id}", channel.code()),
                    ip: None,
                },
            )?;
            view_in(c, cu.id, cu.marketing_consent)
        })
        .await?)
}
