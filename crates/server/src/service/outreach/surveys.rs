//! Surveys (SPEC O4): CSAT 1–5 or NPS 0–10 with a comment, asked once per
//! resolved matter (a ticket, a maintenance record) by a link with a
//! one-time token that expires; answered on a public page without login.
//! Only the token's SHA-256 is stored. The answer lands on the customer's
//! timeline.

use std::collections::BTreeMap;

use guanxi_domain::outreach::{OutChannel, Scenario, SurveyKind};
use guanxi_domain::validation::optional_text;
use guanxi_domain::{Issue, Lang, ValidationErrors};
use guanxi_store::jobs::{self, Lease};
use guanxi_store::outreach::{self as store, NewMessage, NewSurvey, Survey};
use guanxi_store::users::User;
use guanxi_store::{customers as store_customers, tickets as store_tickets, timeline};
use jiff::SignedDuration;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{settings, templates};
use crate::auth::{random_token, sha256_hex};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// How long a survey link works.
pub const VALID_FOR: SignedDuration = SignedDuration::from_hours(7 * 24);
/// The timeline kind of survey answers.
pub const TIMELINE_KIND: &str = "survey";

/// A survey to send.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SurveyInput {
    pub customer_id: i64,
    /// `csat` or `nps`.
    pub kind: String,
    /// `ticket`, `maintenance` or `manual`.
    pub source: String,
    /// The ticket's or maintenance record's id (required unless `manual`).
    pub source_id: Option<i64>,
    /// What the survey asks about, shown on its page.
    pub subject: String,
}

/// A survey created, with its link (shown once: only its hash is kept).
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct SentSurvey {
    pub id: i64,
    pub link: String,
    /// The outbox row that carries the link; absent when the customer has no address.
    pub outbox_id: Option<i64>,
}

/// Creates the survey of a matter and queues its message; a matter that
/// already has a survey of this kind is refused (asked once, SPEC T2).
pub async fn send(state: &AppState, user: &User, input: SurveyInput) -> AppResult<SentSurvey> {
    if !user.role.can_edit_customers() {
        return Err(AppError::Forbidden);
    }
    let mut e = ValidationErrors::new();
    let kind = e.check("kind", SurveyKind::parse(&input.kind));
    let source = e.check(
        "source",
        match input.source.trim() {
            s @ ("ticket" | "maintenance" | "manual") => Ok(s.to_string()),
            _ => Err(Issue::NotAllowed),
        },
    );
    if source.as_deref().is_some_and(|s| s != "manual") && input.source_id.is_none() {
        e.add("source_id", Issue::Required);
    }
    let subject = e.check("subject", guanxi_domain::validation::required_text(&input.subject, 200));
    let (Some(kind), Some(source), Some(subject)) = (kind, source, subject) else { return Err(e.into()) };
    if !e.is_empty() {
        return Err(e.into());
    }
    let u = user.clone();
    let cid = input.customer_id;
    let customer = state
        .db
        .read(move |c| {
            let scope = crate::service::customer_scope(c, &u)?;
            store_customers::get(c, &scope, cid)
        })
        .await
        .map_err(|e| match AppError::from(e) {
            AppError::NotFound => AppError::field("customer_id", Issue::Unknown),
            other => other,
        })?;
    let created =
        create_and_queue(state, &customer, kind, &source, input.source_id, &subject, Some(user.id), None).await?;
    created.ok_or_else(|| ValidationErrors::single("source_id", Issue::Taken).into())
}

/// Creates the survey of a matter and queues its message in one
/// transaction (completing `lease` in it when a scheduled job asks);
/// `None` when the matter already has a survey of this kind.
#[allow(clippy::too_many_arguments)]
async fn create_and_queue(
    state: &AppState,
    customer: &guanxi_store::customers::Customer,
    kind: SurveyKind,
    source: &str,
    source_id: Option<i64>,
    subject: &str,
    created_by: Option<i64>,
    lease: Option<Lease>,
) -> AppResult<Option<SentSurvey>> {
    let cfg = settings::load(state).await?;
    let (source, subject) = (source.to_string(), subject.to_string());
    let token = random_token();
    let link = format!("{}/s/{token}", cfg.public_url);
    let now = state.clock.now();
    let not_before = cfg.quiet_hours.map_or(now, |q| q.release_at(now, &state.config.time_zone));
    // The message, on the customer's channel (none refused; none: no address).
    let refused = {
        let id = customer.id;
        state.db.read(move |c| super::consent::refused_in(c, id)).await?
    };
    let channel = super::channels_for(Scenario::Survey, None, Some(customer), &refused, &cfg).first().copied();
    let mut message = None;
    if let Some(ch) = channel {
        let tpl = state
            .db
            .read(move |c| store::template_for(c, Scenario::Survey.code(), ch.code()))
            .await?
            .ok_or_else(|| AppError::field("kind", Issue::Unknown))?;
        let vars = BTreeMap::from([
            ("customer_name".to_string(), customer.name.clone()),
            ("survey_link".to_string(), link.clone()),
            ("subject".to_string(), subject.clone()),
        ]);
        let (recipient_enc, recipient_masked) = match ch {
            OutChannel::Email => (customer.email_ciphertext.clone(), customer.email_masked.clone()),
            _ => (customer.phone_ciphertext.clone(), customer.phone_masked.clone()),
        };
        message = Some(NewMessage {
            idempotency_key: format!("survey-{}", &sha256_hex(&token)[..24]),
            channel: ch.code().into(),
            scenario: Scenario::Survey.code().into(),
            customer_id: Some(customer.id),
            recipient_enc: recipient_enc.unwrap_or_default(),
            recipient_masked: recipient_masked.unwrap_or_default(),
            subject: templates::render(&tpl.subject, &vars).map_err(|i| AppError::field("subject", i))?,
            body: templates::render(&tpl.body, &vars).map_err(|i| AppError::field("subject", i))?,
            status: "queued".into(),
            last_error: None,
            not_before,
            created_by,
        });
    }
    let hash = sha256_hex(&token);
    let expires_at = now.checked_add(VALID_FOR).map_err(|e| AppError::Internal(e.to_string()))?;
    let customer_id = customer.id;
    let created = state
        .db
        .write(move |c| {
            let s = NewSurvey {
                token_hash: &hash,
                kind: kind.code(),
                customer_id,
                source: &source,
                source_id,
                subject: &subject,
                expires_at,
            };
            let created = store::create_survey(c, &s, now)?;
            if let Some(l) = &lease {
                jobs::finish(c, l, now, None)?;
            }
            let Some(id) = created else { return Ok(None) };
            let outbox_id = match &message {
                Some(m) => super::queue(c, std::slice::from_ref(m), created_by, now)?.first().copied(),
                None => None,
            };
            Ok(Some((id, outbox_id)))
        })
        .await?;
    Ok(created.map(|(id, outbox_id)| SentSurvey { id, link, outbox_id }))
}

/// Why a survey link does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    Unknown,
    Answered,
    Expired,
}

impl Closed {
    pub fn message(self, lang: Lang) -> &'static str {
        match self {
            Closed::Unknown => lang.pick("链接无效", "This link is not valid"),
            Closed::Answered => {
                lang.pick("这份问卷已经提交过了，感谢您的反馈", "This survey was already answered. Thank you")
            }
            Closed::Expired => lang.pick("链接已过期", "This link has expired"),
        }
    }
}

/// The open survey behind a link.
pub async fn open(state: &AppState, token: &str) -> AppResult<Result<Survey, Closed>> {
    if token.len() > 100 {
        return Ok(Err(Closed::Unknown));
    }
    let hash = sha256_hex(token);
    let s = state.db.read(move |c| store::survey_by_token(c, &hash)).await?;
    let now = state.clock.now();
    Ok(match s {
        None => Err(Closed::Unknown),
        Some(s) if s.answered_at.is_some() => Err(Closed::Answered),
        Some(s) if s.expires_at <= now => Err(Closed::Expired),
        Some(s) => Ok(s),
    })
}

/// A survey's answer, as [`record_answer`] writes it.
pub struct Answer<'a> {
    pub survey_id: i64,
    pub customer_id: i64,
    pub kind: SurveyKind,
    /// The survey's subject (what it asked about).
    pub subject: &'a str,
    pub score: i64,
    pub comment: Option<&'a str>,
}

/// Records an answer in the caller's transaction and puts it on the
/// customer's timeline; `false` (and nothing written) when the survey was
/// already answered or has expired.
pub fn record_answer(c: &mut guanxi_store::Conn, a: &Answer<'_>, at: jiff::Timestamp) -> guanxi_store::Result<bool> {
    if !store::answer_survey(c, a.survey_id, a.score, a.comment, at)? {
        return Ok(false);
    }
    timeline::append(
        c,
        &timeline::NewEntry {
            customer_id: a.customer_id,
            at,
            kind: TIMELINE_KIND,
            ref_id: Some(a.survey_id),
            title: format!("{}：{}", a.kind.label(Lang::Zh), a.score),
            body: Some(format!("{}{}", a.subject, a.comment.map(|c| format!("\n{c}")).unwrap_or_default())),
            actor_id: None,
        },
    )?;
    Ok(true)
}

/// Records the answer behind a link, once; the customer's timeline shows it.
pub async fn answer(state: &AppState, token: &str, score: &str, comment: &str) -> AppResult<Result<Survey, Closed>> {
    let s = match open(state, token).await? {
        Ok(s) => s,
        Err(c) => return Ok(Err(c)),
    };
    let Ok(kind) = SurveyKind::parse(&s.kind) else {
        return Err(AppError::Internal(format!("survey kind {}", s.kind)));
    };
    let mut e = ValidationErrors::new();
    let score = match score.trim() {
        "" => {
            e.add("score", Issue::Required);
            None
        }
        raw => e.check("score", raw.parse::<i64>().map_err(|_| Issue::OutOfRange).and_then(|n| kind.score(n))),
    };
    let comment = e.check("comment", optional_text(Some(comment), 1000, true));
    let (Some(score), Some(comment)) = (score, comment) else { return Err(e.into()) };
    let now = state.clock.now();
    let (survey_id, customer_id, subject) = (s.id, s.customer_id, s.subject.clone());
    let done = state
        .db
        .write(move |c| {
            let answer = Answer { survey_id, customer_id, kind, subject: &subject, score, comment: comment.as_deref() };
            record_answer(c, &answer, now)
        })
        .await?;
    if !done {
        // Answered (or expired) between the read and the write.
        return Ok(Err(Closed::Answered));
    }
    Ok(Ok(s))
}

/// The scheduler's job kind that sends the survey of a resolved matter
/// (key `ticket:{id}`), armed in the transaction that resolves it.
pub const SURVEY_JOB: &str = "outreach.survey";

/// Arms the survey of a resolved ticket (SPEC O4; asked once: a second
/// resolution after a reopen finds the survey already made).
/// Only when the administrators turned it on (`survey_after_resolution`).
pub fn arm_after_ticket(c: &mut guanxi_store::Conn, ticket_id: i64, now: jiff::Timestamp) -> guanxi_store::Result<()> {
    if !settings::survey_after_resolution(c)? {
        return Ok(());
    }
    jobs::schedule(c, SURVEY_JOB, &format!("ticket:{ticket_id}"), now, "", now)
}

/// Arms the survey of a maintenance task recorded done (SPEC O4: "after
/// maintenance"), by the same rules as after a resolved ticket: only when
/// the administrators turned it on (`survey_after_maintenance`), asked once
/// per record, on the customer's channel, after quiet hours. Only a call
/// task whose customer was reached asks (a greeting sent asks nothing).
pub fn arm_after_maintenance(
    c: &mut guanxi_store::Conn,
    record_id: i64,
    task_kind: &str,
    completion: &str,
    now: jiff::Timestamp,
) -> guanxi_store::Result<()> {
    if task_kind != "call" || completion == "unreachable" || !settings::load_in(c)?.survey_after_maintenance {
        return Ok(());
    }
    jobs::schedule(c, SURVEY_JOB, &format!("maintenance:{record_id}"), now, "", now)
}

/// Runs one `outreach.survey` job: a CSAT survey about the ticket or the maintenance record.
pub async fn run_job(state: &AppState, lease: Lease) -> AppResult<()> {
    if let Some(id) = lease.ref_key.strip_prefix("maintenance:").and_then(|k| k.parse::<i64>().ok()) {
        let (record, customer) = state
            .db
            .read(move |c| {
                let r = guanxi_store::maintenance::get_record(c, id)?;
                let cu = store_customers::get(c, &guanxi_store::customers::Scope::All, r.customer_id)?;
                Ok((r, cu))
            })
            .await?;
        let what = guanxi_domain::plan::Scenario::parse(&record.scenario)
            .map_or(record.scenario.clone(), |s| s.label(Lang::Zh).to_string());
        let day = record.occurred_at.to_zoned(state.config.time_zone.clone()).strftime("%Y-%m-%d");
        let subject = format!("{what}（{day}）");
        create_and_queue(state, &customer, SurveyKind::Csat, "maintenance", Some(id), &subject, None, Some(lease))
            .await?;
        return Ok(());
    }
    let Some(id) = lease.ref_key.strip_prefix("ticket:").and_then(|k| k.parse::<i64>().ok()) else {
        return Err(AppError::Internal(format!("survey job key {:?}", lease.ref_key)));
    };
    let (ticket, customer) = state
        .db
        .read(move |c| {
            let t = store_tickets::get(c, id)?;
            let cu = store_customers::get(c, &guanxi_store::customers::Scope::All, t.customer_id)?;
            Ok((t, cu))
        })
        .await?;
    let subject = format!("{} {}", ticket.number, ticket.subject);
    create_and_queue(state, &customer, SurveyKind::Csat, "ticket", Some(ticket.id), &subject, None, Some(lease))
        .await?;
    Ok(())
}
