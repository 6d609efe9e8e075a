//! The outreach settings (administrators): the SMTP server and sender,
//! the webhook targets per channel and their signing secret, quiet hours,
//! the hosts a webhook may reach though private or loopback, and the
//! public address that survey links start with. Kept as one JSON row in
//! `settings`; the SMTP password and webhook secret encrypted with the data
//! key, and never shown again.

use guanxi_domain::outreach::{OutChannel, QuietHours};
use guanxi_domain::validation::{optional_text, text};
use guanxi_domain::{Issue, ValidationErrors};
use guanxi_store::users::User;
use guanxi_store::{audit, settings as store_settings};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::delivery;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

const KEY: &str = "outreach";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct OutreachSettings {
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_starttls: bool,
    pub smtp_username: String,
    pub smtp_password_enc: String,
    pub from_address: String,
    pub sms_webhook_url: String,
    pub wecom_webhook_url: String,
    pub webhook_url: String,
    pub webhook_secret_enc: String,
    pub quiet_hours: Option<QuietHours>,
    pub allowed_hosts: Vec<String>,
    pub public_url: String,
    /// Send a CSAT survey when a ticket is resolved (not complaints: their repair revisit asks).
    pub survey_after_resolution: bool,
    /// Send a CSAT survey when a maintenance task is recorded done.
    pub survey_after_maintenance: bool,
    /// The channel for a customer who has not said which they prefer (`email` or `sms`).
    pub default_channel: OutChannel,
    /// Important notices go by email and SMS both (双渠道确认).
    pub dual_channel_important: bool,
    /// How long before a scheduled revisit its reminder goes out (hours).
    pub reminder_hours_before: i64,
}

impl Default for OutreachSettings {
    fn default() -> Self {
        Self {
            smtp_host: String::new(),
            smtp_port: 25,
            smtp_starttls: false,
            smtp_username: String::new(),
            smtp_password_enc: String::new(),
            from_address: String::new(),
            sms_webhook_url: String::new(),
            wecom_webhook_url: String::new(),
            webhook_url: String::new(),
            webhook_secret_enc: String::new(),
            quiet_hours: None,
            allowed_hosts: Vec::new(),
            public_url: String::new(),
            survey_after_resolution: false,
            survey_after_maintenance: false,
            default_channel: OutChannel::Email,
            dual_channel_important: true,
            reminder_hours_before: DEFAULT_REMINDER_HOURS,
        }
    }
}

/// A revisit reminder goes out this long before the appointment, unless set otherwise.
pub const DEFAULT_REMINDER_HOURS: i64 = 24;

impl OutreachSettings {
    /// The configured target of a webhook channel.
    pub fn webhook_url(&self, ch: OutChannel) -> Option<&str> {
        let u = match ch {
            OutChannel::Sms => &self.sms_webhook_url,
            OutChannel::Wecom => &self.wecom_webhook_url,
            OutChannel::Webhook => &self.webhook_url,
            OutChannel::Email => return None,
        };
        (!u.is_empty()).then_some(u.as_str())
    }

    fn view(&self) -> SettingsView {
        SettingsView {
            smtp_host: self.smtp_host.clone(),
            smtp_port: self.smtp_port,
            smtp_starttls: self.smtp_starttls,
            smtp_username: self.smtp_username.clone(),
            has_smtp_password: !self.smtp_password_enc.is_empty(),
            from_address: self.from_address.clone(),
            sms_webhook_url: self.sms_webhook_url.clone(),
            wecom_webhook_url: self.wecom_webhook_url.clone(),
            webhook_url: self.webhook_url.clone(),
            has_webhook_secret: !self.webhook_secret_enc.is_empty(),
            quiet_hours: self.quiet_hours.map(|q| q.render()).unwrap_or_default(),
            allowed_hosts: self.allowed_hosts.clone(),
            public_url: self.public_url.clone(),
            survey_after_resolution: self.survey_after_resolution,
            survey_after_maintenance: self.survey_after_maintenance,
            default_channel: self.default_channel.code().to_string(),
            dual_channel_important: self.dual_channel_important,
            reminder_hours_before: self.reminder_hours_before,
        }
    }
}

/// The settings as shown: secrets only as "set or not".
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SettingsView {
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_starttls: bool,
    pub smtp_username: String,
    pub has_smtp_password: bool,
    pub from_address: String,
    pub sms_webhook_url: String,
    pub wecom_webhook_url: String,
    pub webhook_url: String,
    pub has_webhook_secret: bool,
    pub quiet_hours: String,
    pub allowed_hosts: Vec<String>,
    pub public_url: String,
    pub survey_after_resolution: bool,
    pub survey_after_maintenance: bool,
    pub default_channel: String,
    pub dual_channel_important: bool,
    pub reminder_hours_before: i64,
}

/// The settings as an administrator writes them; an absent secret keeps the saved one.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsInput {
    #[serde(default)]
    pub smtp_host: String,
    pub smtp_port: Option<u16>,
    #[serde(default)]
    pub smtp_starttls: bool,
    #[serde(default)]
    pub smtp_username: String,
    pub smtp_password: Option<String>,
    #[serde(default)]
    pub from_address: String,
    #[serde(default)]
    pub sms_webhook_url: String,
    #[serde(default)]
    pub wecom_webhook_url: String,
    #[serde(default)]
    pub webhook_url: String,
    pub webhook_secret: Option<String>,
    /// `HH:MM-HH:MM` in the business time zone, e.g. `21:00-09:00`; empty: none.
    #[serde(default)]
    pub quiet_hours: String,
    /// Hosts a webhook may reach although private or loopback (`127.0.0.1:8099`, `gw.intra`).
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// The public address of this server, for survey links (`https://crm.example.cn`).
    #[serde(default)]
    pub public_url: String,
    /// Send a CSAT survey when a ticket is resolved (off by default).
    #[serde(default)]
    pub survey_after_resolution: bool,
    /// Send a CSAT survey when a maintenance task is recorded done (off by default).
    #[serde(default)]
    pub survey_after_maintenance: bool,
    /// `email` (default) or `sms`: the channel of a customer without a preference.
    pub default_channel: Option<String>,
    /// Important notices on two channels (default on).
    pub dual_channel_important: Option<bool>,
    /// Hours before a scheduled revisit that its reminder goes (1–168, default 24).
    pub reminder_hours_before: Option<i64>,
}

/// The settings as read inside a transaction (defaults when never saved).
pub fn load_in(c: &mut guanxi_store::Conn) -> guanxi_store::Result<OutreachSettings> {
    Ok(store_settings::get(c, KEY)?.and_then(|r| serde_json::from_str(&r).ok()).unwrap_or_default())
}

/// Whether resolved tickets get a survey, read inside a transaction.
pub fn survey_after_resolution(c: &mut guanxi_store::Conn) -> guanxi_store::Result<bool> {
    Ok(store_settings::get(c, KEY)?
        .and_then(|r| serde_json::from_str::<OutreachSettings>(&r).ok())
        .is_some_and(|s| s.survey_after_resolution))
}

pub async fn load(state: &AppState) -> AppResult<OutreachSettings> {
    let raw = state.db.read(|c| store_settings::get(c, KEY)).await?;
    Ok(raw.and_then(|r| serde_json::from_str(&r).ok()).unwrap_or_default())
}

pub async fn view(state: &AppState, user: &User) -> AppResult<SettingsView> {
    if !user.role.can_configure_service() {
        return Err(AppError::Forbidden);
    }
    Ok(load(state).await?.view())
}

pub async fn save(state: &AppState, user: &User, input: SettingsInput) -> AppResult<SettingsView> {
    if !user.role.can_configure_service() {
        return Err(AppError::Forbidden);
    }
    let old = load(state).await?;
    let mut e = ValidationErrors::new();
    let host = e.check("smtp_host", text(&input.smtp_host, 200, false)).unwrap_or_default();
    let username = e.check("smtp_username", text(&input.smtp_username, 200, false)).unwrap_or_default();
    let from = e.check("from_address", text(&input.from_address, 200, false)).unwrap_or_default();
    if !from.is_empty() {
        e.check("from_address", guanxi_domain::contact::Email::parse(&from).map(|_| ()));
    }
    if !host.is_empty() && from.is_empty() {
        e.add("from_address", Issue::Required);
    }
    let mut allowed = Vec::new();
    for (i, h) in input.allowed_hosts.iter().enumerate() {
        let field = format!("allowed_hosts[{i}]");
        if let Some(h) = e.check(&field, guanxi_domain::validation::required_text(h, 200)) {
            // Kept as the gate compares it (`0177.0.0.1` is 127.0.0.1).
            match delivery::normalize_allowed_host(&h) {
                Some(h) => allowed.push(h),
                None => e.add(&field, Issue::NotAllowed),
            }
        }
    }
    // Each target through the outbound gate, its name resolved now (and
    // again at each send). A name that does not resolve now is kept: the
    // send checks it when it does.
    let mut targets = Vec::new();
    for (field, raw) in [
        ("sms_webhook_url", &input.sms_webhook_url),
        ("wecom_webhook_url", &input.wecom_webhook_url),
        ("webhook_url", &input.webhook_url),
    ] {
        let raw = raw.trim();
        let ok = match raw {
            "" => true,
            _ if raw.chars().count() > 500 => {
                e.add(field, Issue::TooLong { max: 500 });
                false
            }
            _ => match delivery::vet_target(raw, &allowed).await {
                Ok(_) | Err(delivery::TargetRefusal::Unresolved(_)) => true,
                Err(delivery::TargetRefusal::Refused(issue)) => {
                    e.add(field, issue);
                    false
                }
            },
        };
        targets.push(if ok { raw.to_string() } else { String::new() });
    }
    let [sms, wecom, hook]: [String; 3] = targets.try_into().unwrap_or_default();
    let quiet = match input.quiet_hours.trim() {
        "" => None,
        q => e.check("quiet_hours", QuietHours::parse(q)),
    };
    let public_url =
        e.check("public_url", optional_text(Some(&input.public_url), 200, false)).flatten().unwrap_or_default();
    if !public_url.is_empty() && !public_url.starts_with("http://") && !public_url.starts_with("https://") {
        e.add("public_url", Issue::NotAllowed);
    }
    let secret = |raw: Option<&String>, old: &str, field: &str, e: &mut ValidationErrors| match raw {
        None => old.to_string(),
        Some(s) if s.is_empty() => String::new(),
        Some(s) => e.check(field, text(s, 200, false)).map(|s| state.cipher.encrypt(&s)).unwrap_or_default(),
    };
    let smtp_password_enc = secret(input.smtp_password.as_ref(), &old.smtp_password_enc, "smtp_password", &mut e);
    let webhook_secret_enc = secret(input.webhook_secret.as_ref(), &old.webhook_secret_enc, "webhook_secret", &mut e);
    let default_channel = match input.default_channel.as_deref().map(str::trim) {
        None | Some("") => OutChannel::Email,
        Some(raw) => e
            .check(
                "default_channel",
                OutChannel::parse(raw).and_then(|c| {
                    if matches!(c, OutChannel::Email | OutChannel::Sms) { Ok(c) } else { Err(Issue::NotAllowed) }
                }),
            )
            .unwrap_or(OutChannel::Email),
    };
    let reminder_hours_before = input.reminder_hours_before.unwrap_or(DEFAULT_REMINDER_HOURS);
    if !(1..=168).contains(&reminder_hours_before) {
        e.add("reminder_hours_before", Issue::OutOfRange);
    }
    if !e.is_empty() {
        return Err(e.into());
    }
    let new = OutreachSettings {
        smtp_host: host,
        smtp_port: input.smtp_port.unwrap_or(25),
        smtp_starttls: input.smtp_starttls,
        smtp_username: username,
        smtp_password_enc,
        from_address: from,
        sms_webhook_url: sms,
        wecom_webhook_url: wecom,
        webhook_url: hook,
        webhook_secret_enc,
        quiet_hours: quiet,
        allowed_hosts: allowed,
        public_url: public_url.trim_end_matches('/').to_string(),
        survey_after_resolution: input.survey_after_resolution,
        survey_after_maintenance: input.survey_after_maintenance,
        default_channel,
        dual_channel_important: input.dual_channel_important.unwrap_or(true),
        reminder_hours_before,
    };
    let json = serde_json::to_string(&new).map_err(|e| AppError::Internal(e.to_string()))?;
    let now = state.clock.now();
    let (uid, shown) = (user.id, serde_json::to_string(&new.view()).unwrap_or_default());
    state
        .db
        .write(move |c| {
            store_settings::set(c, KEY, &json, now)?;
            audit::record(
                c,
                now,
                &audit::AuditEntry {
                    actor_id: Some(uid),
                    action: "update",
                    entity: "outreach_settings",
                    entity_id: None,
                    detail: shown,
                    ip: None,
                },
            )
        })
        .await?;
    Ok(new.view())
}
