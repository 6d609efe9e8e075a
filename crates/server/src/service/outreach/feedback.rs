//! The public feedback form (SPEC O5, 客户反馈平台): anyone may send
//! feedback or a suggestion without logging in; it becomes a ticket of
//! that type through the ticket service, with the resolution target of
//! its weight (general: the policy's `normal` priority, 24 h by default;
//! complex: `low`, 48 h). Abuse is kept out by a per-address limit (5 an
//! hour), a honeypot field, a signed form-start time (a form sent back in
//! under 3 s, or not from our page, is dropped silently), length limits,
//! and refusing markup: the text is stored as the plain text it was.

use guanxi_domain::contact::{Email, PhoneNumber};
use guanxi_domain::customer::CustomerInput;
use guanxi_domain::ticket::TicketInput;
use guanxi_domain::validation::required_text;
use guanxi_domain::{Issue, ValidationErrors};
use guanxi_store::{args, outreach as store, users as store_users};
use jiff::{SignedDuration, Timestamp};

use crate::error::{AppError, AppResult};
use crate::service::{customers, tickets};
use crate::state::AppState;

/// Submissions per address per hour.
pub const PER_HOUR: i64 = 5;
/// A person takes at least this long to fill in the form.
pub const MIN_FILL: SignedDuration = SignedDuration::from_secs(3);

/// The form as sent.
#[derive(Debug, Clone, Default)]
pub struct FeedbackForm {
    pub name: String,
    /// A mobile number or an email address, to answer on.
    pub contact: String,
    /// `feedback` or `suggestion`.
    pub kind: String,
    /// `general` or `complex`.
    pub weight: String,
    pub category: String,
    pub subject: String,
    pub description: String,
    /// The honeypot: hidden from people, filled in by bots.
    pub website: String,
    /// [`form_stamp`] of the page the form came from.
    pub stamp: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A ticket was created: its number.
    Created(String),
    /// Looked like a bot: nothing stored, the sender is thanked all the same.
    Dropped,
    /// Too many from this address: nothing stored.
    Throttled,
}

/// The signed time a form page was served: `{ms}.{mac}`.
pub fn form_stamp(state: &AppState, now: Timestamp) -> String {
    let ms = now.as_millisecond().to_string();
    let mac = state.cipher.index("feedback_form", &ms);
    format!("{ms}.{mac}")
}

fn stamp_ok(state: &AppState, stamp: &str, now: Timestamp) -> bool {
    let Some((ms, mac)) = stamp.split_once('.') else { return false };
    if state.cipher.index("feedback_form", ms) != mac {
        return false;
    }
    let Ok(at) = ms.parse::<i64>().map(Timestamp::from_millisecond) else { return false };
    let Ok(at) = at else { return false };
    let age = now.duration_since(at);
    age >= MIN_FILL && age <= SignedDuration::from_hours(24)
}

/// Text a person typed: trimmed, bounded, no control characters and no markup.
fn plain(raw: &str, max: usize, multiline: bool) -> Result<String, Issue> {
    let t = guanxi_domain::validation::text(raw, max, multiline)?;
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '<' && chars.peek().is_some_and(|n| n.is_ascii_alphabetic() || matches!(n, '/' | '!' | '?')) {
            return Err(Issue::InvalidCharacters);
        }
    }
    if t.to_ascii_lowercase().contains("javascript:") {
        return Err(Issue::InvalidCharacters);
    }
    Ok(t)
}

struct Checked {
    name: String,
    phone: Option<PhoneNumber>,
    email: Option<Email>,
    kind: &'static str,
    priority: &'static str,
    category: String,
    subject: String,
    description: String,
}

fn check(f: &FeedbackForm) -> Result<Checked, ValidationErrors> {
    let mut e = ValidationErrors::new();
    let name = e.check("name", required_text(&f.name, 50).and_then(|_| plain(&f.name, 50, false)));
    let contact = f.contact.trim();
    let (phone, email) = if contact.is_empty() {
        e.add("contact", Issue::Required);
        (None, None)
    } else if contact.contains('@') {
        (None, e.check("contact", Email::parse(contact)))
    } else {
        (e.check("contact", PhoneNumber::parse(contact)), None)
    };
    let kind = e.check(
        "kind",
        match f.kind.trim() {
            "feedback" => Ok("feedback"),
            "suggestion" => Ok("suggestion"),
            _ => Err(Issue::NotAllowed),
        },
    );
    let priority = e.check(
        "weight",
        match f.weight.trim() {
            "" | "general" => Ok("normal"),
            "complex" => Ok("low"),
            _ => Err(Issue::NotAllowed),
        },
    );
    let category = e.check(
        "category",
        match f.category.trim() {
            "" => Ok("other".to_string()),
            c => guanxi_domain::ticket::Category::parse(c).map(|c| c.code().to_string()),
        },
    );
    let subject = e.check("subject", required_text(&f.subject, 100).and_then(|_| plain(&f.subject, 100, false)));
    let description =
        e.check("description", required_text(&f.description, 2000).and_then(|_| plain(&f.description, 2000, true)));
    let (Some(name), Some(kind), Some(priority), Some(category), Some(subject), Some(description)) =
        (name, kind, priority, category, subject, description)
    else {
        return Err(e);
    };
    e.into_result(|| Checked { name, phone, email, kind, priority, category, subject, description })
}

/// Handles one submission from address `ip`.
pub async fn submit(state: &AppState, form: FeedbackForm, ip: Option<String>) -> AppResult<Outcome> {
    let now = state.clock.now();
    let addr = ip.clone().unwrap_or_else(|| "unknown".into());
    let since = now.checked_sub(SignedDuration::from_hours(1)).unwrap_or(now);
    let hits = state.db.write(move |c| store::throttle_hit(c, &addr, since, now)).await?;
    if hits > PER_HOUR {
        return Ok(Outcome::Throttled);
    }
    if !form.website.trim().is_empty() || !stamp_ok(state, &form.stamp, now) {
        tracing::info!(ip = ?ip, "feedback form: dropped as automated");
        return Ok(Outcome::Dropped);
    }
    let f = check(&form)?;
    // The public form acts as the first active administrator (the system).
    let actor = state
        .db
        .read(|c| {
            let id: i64 =
                c.scalar("SELECT id FROM users WHERE role = 'admin' AND active = $1 ORDER BY id LIMIT 1", args![true])?;
            store_users::get(c, id)
        })
        .await
        .map_err(|e| AppError::Internal(format!("feedback form: no administrator: {e}")))?;
    let index = match (&f.phone, &f.email) {
        (Some(p), _) => state.cipher.index("contact", p.as_str()),
        (_, Some(m)) => state.cipher.index("contact", &m.as_str().to_lowercase()),
        _ => String::new(),
    };
    let known: Option<i64> = state
        .db
        .read(move |c| {
            c.query_opt(
                "SELECT id FROM customers WHERE phone_index = $1 OR email_index = $1 ORDER BY id LIMIT 1",
                args![index],
            )?
            .map(|r| r.get(0))
            .transpose()
        })
        .await?;
    let customer_id = match known {
        Some(id) => id,
        None => {
            let input = CustomerInput {
                name: f.name.clone(),
                kind: Some("individual".into()),
                phone: f.phone.as_ref().map(|p| p.as_str().to_string()),
                email: f.email.as_ref().map(|m| m.as_str().to_string()),
                notes: Some("来自公开反馈表单 / from the public feedback form".into()),
                ..Default::default()
            };
            customers::create(state, &actor, input, ip.clone()).await?.id
        }
    };
    let input = TicketInput {
        ticket_type: f.kind.into(),
        // The form answers by the contact given; email carries no channel-specific SLA rule.
        channel: "email".into(),
        category: f.category,
        priority: Some(f.priority.into()),
        customer_id: Some(customer_id),
        subject: f.subject,
        description: f.description,
        ..Default::default()
    };
    let t = tickets::create(state, &actor, input, ip).await?;
    Ok(Outcome::Created(t.number))
}
