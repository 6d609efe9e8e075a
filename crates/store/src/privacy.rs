//! Erasure by anonymisation (SPEC S2): a customer's personal data goes,
//! the facts statistics need stay — orders (dates, amounts), tickets and
//! complaints (types, categories, times, SLA, satisfaction), segments and
//! tags, the timeline's entries without their text.

use jiff::Timestamp;

use crate::sql::Conn;
use crate::{Result, args};

/// What replaces free text that may name or describe a person.
pub const ERASED: &str = "[已匿名]";

/// Anonymises one customer in the caller's transaction: the record is
/// renamed `label` and loses phone, email, notes and external id; contacts
/// lose every personal field; free text of communication records, action
/// items, tickets, replies, complaints, the outbox and the timeline is
/// replaced; attachment rows are removed. Returns the content addresses of
/// the removed attachments (the caller deletes unheld files after COMMIT).
pub fn anonymise(c: &mut Conn, customer_id: i64, label: &str, now: Timestamp) -> Result<Vec<String>> {
    let files = crate::tickets::attachment_addresses_of_customer(c, customer_id)?;
    let tickets = "SELECT id FROM tickets WHERE customer_id = $1";
    let statements: Vec<(String, Vec<crate::Value>)> = vec![
        (
            "UPDATE customers SET name = $2, phone_enc = NULL, phone_masked = NULL, phone_index = NULL,
             email_enc = NULL, email_masked = NULL, email_index = NULL, decision_chain = NULL, notes = NULL,
             contact_window = NULL, external_id = NULL, marketing_consent = $3, updated_at = $4 WHERE id = $1"
                .into(),
            args![customer_id, label, false, now].to_vec(),
        ),
        ("DELETE FROM contact_index WHERE customer_id = $1".into(), args![customer_id].to_vec()),
        (
            "UPDATE contacts SET name = $2, title = NULL, phone_enc = NULL, phone_masked = NULL, email_enc = NULL,
             email_masked = NULL, wechat_enc = NULL, wechat_masked = NULL, birthday_enc = NULL, address_enc = NULL,
             updated_at = $3 WHERE customer_id = $1"
                .into(),
            args![customer_id, "—", now].to_vec(),
        ),
        (
            "UPDATE communications SET summary = $2, feedback = NULL, result = NULL, notes = NULL WHERE customer_id = $1"
                .into(),
            args![customer_id, ERASED].to_vec(),
        ),
        ("UPDATE action_items SET content = $2 WHERE customer_id = $1".into(), args![customer_id, ERASED].to_vec()),
        (
            "UPDATE tickets SET subject = $2, description = $2 WHERE customer_id = $1".into(),
            args![customer_id, ERASED].to_vec(),
        ),
        (
            format!("UPDATE ticket_messages SET body = $2 WHERE ticket_id IN ({tickets})"),
            args![customer_id, ERASED].to_vec(),
        ),
        (format!("DELETE FROM ticket_attachments WHERE ticket_id IN ({tickets})"), args![customer_id].to_vec()),
        (
            "UPDATE complaints SET evidence = NULL, solution = NULL, feedback = NULL, root_cause = NULL,
             rejection_reason = NULL, close_reason = NULL WHERE customer_id = $1"
                .into(),
            args![customer_id].to_vec(),
        ),
        (
            "UPDATE outbox SET recipient_enc = '', recipient_masked = '***', subject = $2, body = $2 WHERE customer_id = $1"
                .into(),
            args![customer_id, ERASED].to_vec(),
        ),
        ("UPDATE timeline SET body = NULL WHERE customer_id = $1".into(), args![customer_id].to_vec()),
    ];
    for (sql, params) in statements {
        c.execute(&sql, &params)?;
    }
    crate::search::refresh(c, customer_id)?;
    Ok(files)
}

/// One batch of closed tickets scrubbed by the retention job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScrubbedBatch {
    /// `(id, number)` of the tickets whose free text was replaced now.
    pub tickets: Vec<(i64, String)>,
    /// Where the walk stopped (`closed_at`, id): the next batch starts after it.
    pub last: Option<(Timestamp, i64)>,
    /// Content addresses of the removed attachments (the caller deletes
    /// unheld files after COMMIT).
    pub files: Vec<String>,
}

/// Retention of closed tickets (SPEC S2), one batch in the caller's
/// transaction: of the tickets closed before `cutoff`, after `after` in
/// (`closed_at`, id) order, up to `limit` are visited; those not yet
/// scrubbed lose their subject, description, replies and notes (replaced by
/// [`ERASED`]), their timeline text and their attachment rows. The figures
/// — times, type, category, priority, SLA clocks and results — stay.
/// Tickets already scrubbed are passed over, so a second run changes nothing.
pub fn scrub_closed_tickets(
    c: &mut Conn,
    cutoff: Timestamp,
    after: Option<(Timestamp, i64)>,
    limit: i64,
) -> Result<ScrubbedBatch> {
    let rows = match after {
        None => c.query(
            "SELECT id, number, closed_at, subject FROM tickets WHERE closed_at IS NOT NULL AND closed_at < $1
             ORDER BY closed_at, id LIMIT $2",
            args![cutoff, limit],
        )?,
        Some((at, id)) => c.query(
            "SELECT id, number, closed_at, subject FROM tickets WHERE closed_at IS NOT NULL AND closed_at < $1
             AND (closed_at > $2 OR (closed_at = $2 AND id > $3)) ORDER BY closed_at, id LIMIT $4",
            args![cutoff, at, id, limit],
        )?,
    };
    let mut out = ScrubbedBatch::default();
    let mut ids = Vec::new();
    for r in &rows {
        let (id, number, closed_at, subject): (i64, String, Timestamp, String) =
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
        out.last = Some((closed_at, id));
        if subject != ERASED {
            ids.push(id);
            out.tickets.push((id, number));
        }
    }
    if ids.is_empty() {
        return Ok(out);
    }
    // Integers only: safe to write into the statement.
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
    out.files = c
        .query(&format!("SELECT DISTINCT sha256 FROM ticket_attachments WHERE ticket_id IN ({list})"), &[])?
        .iter()
        .map(|r| r.get(0))
        .collect::<Result<_>>()?;
    c.execute(&format!("UPDATE tickets SET subject = $1, description = $1 WHERE id IN ({list})"), args![ERASED])?;
    c.execute(&format!("UPDATE ticket_messages SET body = $1 WHERE ticket_id IN ({list})"), args![ERASED])?;
    c.execute(&format!("DELETE FROM ticket_attachments WHERE ticket_id IN ({list})"), &[])?;
    c.execute(
        &format!("UPDATE timeline SET body = NULL WHERE kind = $1 AND ref_id IN ({list})"),
        args![crate::timeline::kind::TICKET],
    )?;
    Ok(out)
}
