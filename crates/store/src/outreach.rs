//! Outreach rows (SPEC O1–O5): message templates, the outbox, surveys and
//! the public feedback form's throttle. The outbox row is the truth about a
//! message: the `outbox.deliver` job of the scheduler sends it and records
//! each attempt here.

use jiff::Timestamp;
use serde::Serialize;

use crate::sql::{Conn, Row};
use crate::{Result, StoreError, args};

// ---- Message templates ----

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageTemplate {
    pub id: i64,
    pub name: String,
    pub channel: String,
    pub scenario: String,
    pub subject: String,
    pub body: String,
    pub updated_at: Timestamp,
}

const TEMPLATE_COLS: &str = "id, name, channel, scenario, subject, body, updated_at FROM message_templates";

fn template(r: &Row) -> Result<MessageTemplate> {
    Ok(MessageTemplate {
        id: r.get(0)?,
        name: r.get(1)?,
        channel: r.get(2)?,
        scenario: r.get(3)?,
        subject: r.get(4)?,
        body: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

/// The fields of a template as saved (already checked).
#[derive(Debug, Clone)]
pub struct TemplateRow<'a> {
    pub name: &'a str,
    pub channel: &'a str,
    pub scenario: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
}

pub fn create_template(c: &mut Conn, t: &TemplateRow<'_>, by: i64, now: Timestamp) -> Result<i64> {
    c.insert_id(
        "INSERT INTO message_templates (name, channel, scenario, subject, body, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        args![t.name, t.channel, t.scenario, t.subject, t.body, by, now],
    )
}

pub fn update_template(c: &mut Conn, id: i64, t: &TemplateRow<'_>, now: Timestamp) -> Result<()> {
    let n = c.execute(
        "UPDATE message_templates SET name = $2, channel = $3, scenario = $4, subject = $5, body = $6, updated_at = $7
         WHERE id = $1",
        args![id, t.name, t.channel, t.scenario, t.subject, t.body, now],
    )?;
    if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

pub fn get_template(c: &mut Conn, id: i64) -> Result<MessageTemplate> {
    c.query_opt(&format!("SELECT {TEMPLATE_COLS} WHERE id = $1"), args![id])?
        .as_ref()
        .map(template)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

/// The template of a scenario for a channel (the newest if several).
pub fn template_for(c: &mut Conn, scenario: &str, channel: &str) -> Result<Option<MessageTemplate>> {
    c.query_opt(
        &format!("SELECT {TEMPLATE_COLS} WHERE scenario = $1 AND channel = $2 ORDER BY id DESC LIMIT 1"),
        args![scenario, channel],
    )?
    .as_ref()
    .map(template)
    .transpose()
}

/// A page of templates by id, after `after`.
pub fn templates(c: &mut Conn, after: i64, limit: i64) -> Result<Vec<MessageTemplate>> {
    c.query(&format!("SELECT {TEMPLATE_COLS} WHERE id > $1 ORDER BY id LIMIT $2"), args![after, limit])?
        .iter()
        .map(template)
        .collect()
}

// ---- Outbox ----

/// A message to queue (the address already sealed).
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub idempotency_key: String,
    pub channel: String,
    pub scenario: String,
    pub customer_id: Option<i64>,
    pub recipient_enc: String,
    pub recipient_masked: String,
    pub subject: String,
    pub body: String,
    /// `queued`, or `suppressed` (with the reason in `last_error`).
    pub status: String,
    pub last_error: Option<String>,
    pub not_before: Timestamp,
    pub created_by: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxMessage {
    pub id: i64,
    pub idempotency_key: String,
    pub channel: String,
    pub scenario: String,
    pub customer_id: Option<i64>,
    #[serde(skip)]
    pub recipient_enc: String,
    pub recipient_masked: String,
    pub subject: String,
    pub body: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub not_before: Timestamp,
    pub pair_id: Option<i64>,
    pub acknowledged_at: Option<Timestamp>,
    pub sent_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

const OUTBOX_COLS: &str =
    "id, idempotency_key, channel, scenario, customer_id, recipient_enc, recipient_masked, subject,
    body, status, attempts, last_error, not_before, pair_id, acknowledged_at, sent_at, created_at FROM outbox";

fn message(r: &Row) -> Result<OutboxMessage> {
    Ok(OutboxMessage {
        id: r.get(0)?,
        idempotency_key: r.get(1)?,
        channel: r.get(2)?,
        scenario: r.get(3)?,
        customer_id: r.get(4)?,
        recipient_enc: r.get(5)?,
        recipient_masked: r.get(6)?,
        subject: r.get(7)?,
        body: r.get(8)?,
        status: r.get(9)?,
        attempts: r.get(10)?,
        last_error: r.get(11)?,
        not_before: r.get(12)?,
        pair_id: r.get(13)?,
        acknowledged_at: r.get(14)?,
        sent_at: r.get(15)?,
        created_at: r.get(16)?,
    })
}

/// Queues a message; `None` when a message with this idempotency key is
/// already queued (the caller's repeat is a no-op).
pub fn enqueue(c: &mut Conn, m: &NewMessage, now: Timestamp) -> Result<Option<i64>> {
    let rows = c.query(
        "INSERT INTO outbox (idempotency_key, channel, scenario, customer_id, recipient_enc, recipient_masked, subject,
             body, status, last_error, not_before, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)
         ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
        args![
            m.idempotency_key.as_str(),
            m.channel.as_str(),
            m.scenario.as_str(),
            m.customer_id,
            m.recipient_enc.as_str(),
            m.recipient_masked.as_str(),
            m.subject.as_str(),
            m.body.as_str(),
            m.status.as_str(),
            m.last_error.clone(),
            m.not_before,
            m.created_by,
            now
        ],
    )?;
    rows.first().map(|r| r.get(0)).transpose()
}

/// Links the two messages of a dual-channel pair.
pub fn pair(c: &mut Conn, a: i64, b: i64) -> Result<()> {
    c.execute("UPDATE outbox SET pair_id = $2 WHERE id = $1", args![a, b])?;
    c.execute("UPDATE outbox SET pair_id = $2 WHERE id = $1", args![b, a])?;
    Ok(())
}

pub fn get_message(c: &mut Conn, id: i64) -> Result<OutboxMessage> {
    c.query_opt(&format!("SELECT {OUTBOX_COLS} WHERE id = $1"), args![id])?
        .as_ref()
        .map(message)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

/// Records that an attempt starts (committed before the send): the row is
/// `sending` until [`mark_sent`] or [`mark_failed`]. A row still `sending`
/// when its job is claimed again had its sender die mid-send.
pub fn mark_sending(c: &mut Conn, id: i64, now: Timestamp) -> Result<()> {
    c.execute(
        "UPDATE outbox SET status = 'sending', attempts = attempts + 1, updated_at = $2 WHERE id = $1 AND status <> 'sent'",
        args![id, now],
    )?;
    Ok(())
}

pub fn mark_sent(c: &mut Conn, id: i64, now: Timestamp) -> Result<()> {
    c.execute(
        "UPDATE outbox SET status = 'sent', sent_at = $2, last_error = NULL, updated_at = $2 WHERE id = $1",
        args![id, now],
    )?;
    Ok(())
}

/// Records a failed attempt: `queued` again (retried at `retry_at`) or `failed` for good.
pub fn mark_failed(
    c: &mut Conn,
    id: i64,
    error: &str,
    give_up: bool,
    retry_at: Timestamp,
    now: Timestamp,
) -> Result<()> {
    let error: String = error.chars().take(500).collect();
    let status = if give_up { "failed" } else { "queued" };
    c.execute(
        "UPDATE outbox SET status = $2, last_error = $3, not_before = $4, updated_at = $5 WHERE id = $1 AND status <> 'sent'",
        args![id, status, error, retry_at, now],
    )?;
    Ok(())
}

/// Records the customer's acknowledgement of an important message (both of its pair).
pub fn acknowledge(c: &mut Conn, id: i64, now: Timestamp) -> Result<()> {
    let m = get_message(c, id)?;
    c.execute(
        "UPDATE outbox SET acknowledged_at = $2, updated_at = $2 WHERE (id = $1 OR pair_id = $1) AND acknowledged_at IS NULL",
        args![m.id, now],
    )?;
    Ok(())
}

/// A page of the outbox, newest first (before id `before`), optionally of one status.
pub fn outbox_page(c: &mut Conn, status: Option<&str>, before: Option<i64>, limit: i64) -> Result<Vec<OutboxMessage>> {
    let before = before.unwrap_or(i64::MAX);
    let rows = match status {
        Some(s) => c.query(
            &format!("SELECT {OUTBOX_COLS} WHERE status = $1 AND id < $2 ORDER BY id DESC LIMIT $3"),
            args![s, before, limit],
        )?,
        None => {
            c.query(&format!("SELECT {OUTBOX_COLS} WHERE id < $1 ORDER BY id DESC LIMIT $2"), args![before, limit])?
        }
    };
    rows.iter().map(message).collect()
}

// ---- Surveys ----

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Survey {
    pub id: i64,
    pub kind: String,
    pub customer_id: i64,
    pub source: String,
    pub source_id: Option<i64>,
    pub subject: String,
    pub expires_at: Timestamp,
    pub answered_at: Option<Timestamp>,
    pub score: Option<i64>,
    pub comment: Option<String>,
    pub created_at: Timestamp,
}

const SURVEY_COLS: &str = "id, kind, customer_id, source, source_id, subject, expires_at, answered_at, score, comment, created_at FROM surveys";

fn survey(r: &Row) -> Result<Survey> {
    Ok(Survey {
        id: r.get(0)?,
        kind: r.get(1)?,
        customer_id: r.get(2)?,
        source: r.get(3)?,
        source_id: r.get(4)?,
        subject: r.get(5)?,
        expires_at: r.get(6)?,
        answered_at: r.get(7)?,
        score: r.get(8)?,
        comment: r.get(9)?,
        created_at: r.get(10)?,
    })
}

/// The fields of a new survey.
#[derive(Debug, Clone)]
pub struct NewSurvey<'a> {
    pub token_hash: &'a str,
    pub kind: &'a str,
    pub customer_id: i64,
    pub source: &'a str,
    pub source_id: Option<i64>,
    pub subject: &'a str,
    pub expires_at: Timestamp,
}

/// Creates a survey; `None` when this matter already has one of this kind.
pub fn create_survey(c: &mut Conn, s: &NewSurvey<'_>, now: Timestamp) -> Result<Option<i64>> {
    let rows = c.query(
        "INSERT INTO surveys (token_hash, kind, customer_id, source, source_id, subject, expires_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (source, source_id, kind) DO NOTHING RETURNING id",
        args![s.token_hash, s.kind, s.customer_id, s.source, s.source_id, s.subject, s.expires_at, now],
    )?;
    rows.first().map(|r| r.get(0)).transpose()
}

pub fn survey_by_token(c: &mut Conn, token_hash: &str) -> Result<Option<Survey>> {
    c.query_opt(&format!("SELECT {SURVEY_COLS} WHERE token_hash = $1"), args![token_hash])?
        .as_ref()
        .map(survey)
        .transpose()
}

/// Records the answer, once: `false` when it was already answered or has expired.
pub fn answer_survey(c: &mut Conn, id: i64, score: i64, comment: Option<&str>, now: Timestamp) -> Result<bool> {
    let n = c.execute(
        "UPDATE surveys SET answered_at = $2, score = $3, comment = $4 WHERE id = $1 AND answered_at IS NULL AND expires_at > $2",
        args![id, now, score, comment],
    )?;
    Ok(n == 1)
}

/// A customer's surveys, newest first.
pub fn surveys_of(c: &mut Conn, customer_id: i64, limit: i64) -> Result<Vec<Survey>> {
    c.query(
        &format!("SELECT {SURVEY_COLS} WHERE customer_id = $1 ORDER BY id DESC LIMIT $2"),
        args![customer_id, limit],
    )?
    .iter()
    .map(survey)
    .collect()
}

// ---- Public feedback throttle ----

/// Counts an attempt from `addr` and returns how many it made since `since`
/// (this one included); rows older than `since` are pruned.
pub fn throttle_hit(c: &mut Conn, addr: &str, since: Timestamp, now: Timestamp) -> Result<i64> {
    c.execute("DELETE FROM feedback_throttle WHERE addr = $1 AND at < $2", args![addr, since])?;
    c.execute("INSERT INTO feedback_throttle (addr, at) VALUES ($1, $2)", args![addr, now])?;
    c.scalar("SELECT COUNT(*) FROM feedback_throttle WHERE addr = $1 AND at >= $2", args![addr, since])
}

/// Withdraws a message that has not gone yet (`queued`): `suppressed` with
/// the reason. `false` when it is already sending, sent or settled.
pub fn suppress(c: &mut Conn, id: i64, reason: &str, now: Timestamp) -> Result<bool> {
    let n = c.execute(
        "UPDATE outbox SET status = 'suppressed', last_error = $2, updated_at = $3 WHERE id = $1 AND status = 'queued'",
        args![id, reason, now],
    )?;
    Ok(n == 1)
}

// ---- Consent per channel (SPEC O3) ----

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelConsent {
    pub id: i64,
    pub customer_id: i64,
    pub channel: String,
    pub granted: bool,
    pub source: String,
    pub note: Option<String>,
    pub actor_id: Option<i64>,
    pub at: Timestamp,
}

const CONSENT_COLS: &str = "id, customer_id, channel, granted, source, note, actor_id, at FROM channel_consents";

fn consent(r: &Row) -> Result<ChannelConsent> {
    Ok(ChannelConsent {
        id: r.get(0)?,
        customer_id: r.get(1)?,
        channel: r.get(2)?,
        granted: r.get(3)?,
        source: r.get(4)?,
        note: r.get(5)?,
        actor_id: r.get(6)?,
        at: r.get(7)?,
    })
}

/// Records a change of the customer's consent to a channel (kept as history).
#[allow(clippy::too_many_arguments)]
pub fn record_consent(
    c: &mut Conn,
    customer_id: i64,
    channel: &str,
    granted: bool,
    source: &str,
    note: Option<&str>,
    actor_id: Option<i64>,
    now: Timestamp,
) -> Result<i64> {
    c.insert_id(
        "INSERT INTO channel_consents (customer_id, channel, granted, source, note, actor_id, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        args![customer_id, channel, granted, source, note, actor_id, now],
    )
}

/// The customer's consent changes, newest first.
pub fn consent_history(c: &mut Conn, customer_id: i64, limit: i64) -> Result<Vec<ChannelConsent>> {
    c.query(
        &format!("SELECT {CONSENT_COLS} WHERE customer_id = $1 ORDER BY id DESC LIMIT $2"),
        args![customer_id, limit],
    )?
    .iter()
    .map(consent)
    .collect()
}

/// The consent in force per channel: the newest row of each channel.
pub fn consents_in_force(c: &mut Conn, customer_id: i64) -> Result<Vec<ChannelConsent>> {
    c.query(
        &format!(
            "SELECT {CONSENT_COLS} WHERE customer_id = $1 AND id IN
             (SELECT MAX(id) FROM channel_consents WHERE customer_id = $1 GROUP BY channel) ORDER BY channel"
        ),
        args![customer_id],
    )?
    .iter()
    .map(consent)
    .collect()
}

/// Whether the customer has refused this channel (the consent in force).
pub fn channel_refused(c: &mut Conn, customer_id: i64, channel: &str) -> Result<bool> {
    let row = c.query_opt(
        "SELECT granted FROM channel_consents WHERE customer_id = $1 AND channel = $2 ORDER BY id DESC LIMIT 1",
        args![customer_id, channel],
    )?;
    Ok(match row {
        Some(r) => !r.get::<bool>(0)?,
        None => false,
    })
}

// ---- Revisit appointments (SPEC O3) ----

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Appointment {
    pub id: i64,
    pub task_id: i64,
    pub customer_id: i64,
    pub at: Timestamp,
    pub agent_id: Option<i64>,
    pub status: String,
    pub version: i64,
    pub reminder_id: Option<i64>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const APPOINTMENT_COLS: &str = "id, task_id, customer_id, at, agent_id, status, version, reminder_id, created_at, updated_at FROM revisit_appointments";

fn appointment(r: &Row) -> Result<Appointment> {
    Ok(Appointment {
        id: r.get(0)?,
        task_id: r.get(1)?,
        customer_id: r.get(2)?,
        at: r.get(3)?,
        agent_id: r.get(4)?,
        status: r.get(5)?,
        version: r.get(6)?,
        reminder_id: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
    })
}

pub fn appointment_of_task(c: &mut Conn, task_id: i64) -> Result<Option<Appointment>> {
    c.query_opt(&format!("SELECT {APPOINTMENT_COLS} WHERE task_id = $1"), args![task_id])?
        .as_ref()
        .map(appointment)
        .transpose()
}

/// Schedules the task's appointment, or moves it (a new version; a
/// cancelled one is scheduled again). Returns the row as it now is.
pub fn upsert_appointment(
    c: &mut Conn,
    task_id: i64,
    customer_id: i64,
    at: Timestamp,
    agent_id: Option<i64>,
    by: i64,
    now: Timestamp,
) -> Result<Appointment> {
    match appointment_of_task(c, task_id)? {
        Some(a) => {
            c.execute(
                "UPDATE revisit_appointments SET at = $2, agent_id = $3, status = 'scheduled', version = version + 1,
                     reminder_id = NULL, updated_at = $4 WHERE id = $1",
                args![a.id, at, agent_id, now],
            )?;
        }
        None => {
            c.execute(
                "INSERT INTO revisit_appointments (task_id, customer_id, at, agent_id, status, version, created_by,
                     created_at, updated_at) VALUES ($1, $2, $3, $4, 'scheduled', 1, $5, $6, $6)",
                args![task_id, customer_id, at, agent_id, by, now],
            )?;
        }
    }
    appointment_of_task(c, task_id)?.ok_or(StoreError::NotFound)
}

pub fn set_appointment_reminder(c: &mut Conn, id: i64, reminder_id: Option<i64>) -> Result<()> {
    c.execute("UPDATE revisit_appointments SET reminder_id = $2 WHERE id = $1", args![id, reminder_id])?;
    Ok(())
}

/// Ends an appointment: `cancelled`, or `done` when its task was recorded.
pub fn close_appointment(c: &mut Conn, id: i64, status: &str, now: Timestamp) -> Result<()> {
    c.execute("UPDATE revisit_appointments SET status = $2, updated_at = $3 WHERE id = $1", args![id, status, now])?;
    Ok(())
}
