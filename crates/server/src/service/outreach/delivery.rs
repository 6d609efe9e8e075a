//! Delivering the outbox (SPEC O2): the scheduler's `outbox.deliver` job
//! sends one row — email over SMTP (lettre), or a webhook POST signed with
//! HMAC-SHA256 — and records the attempt.
//!
//! **At-least-once with an idempotency key** (docs/decisions.md): an
//! attempt is recorded (`sending`, committed) before the send and the
//! result after it. Leases keep two instances from sending one row at the
//! same time, and a row marked `sent` is never sent again. A crash between
//! the send and the mark cannot be told from a crash before the send, so
//! the row is sent again when its lease runs out — with the same
//! idempotency key (the email's `Message-ID`, the webhook's
//! `Idempotency-Key` header), by which the receiver drops the repeat.

use std::sync::Mutex;
use std::time::Duration;

use guanxi_domain::outreach::OutChannel;
use guanxi_store::jobs::{self, Lease};
use guanxi_store::outreach::{self as store, OutboxMessage};
use guanxi_store::{StoreError, args};
use hmac::{Hmac, Mac};
use jiff::{SignedDuration, Timestamp};
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sha2::Sha256;

use super::settings::{self, OutreachSettings};
use crate::error::{AppError, AppResult};
use crate::service::tickets::clocks::LEASE_LOST;
use crate::state::AppState;

/// A message is given up after this many attempts (kept as `failed` with its error).
pub const MAX_ATTEMPTS: i64 = 8;
/// One send may take at most this long; a lease with less time left is
/// not used for a send (its next holder sends instead).
const SEND_BUDGET: SignedDuration = SignedDuration::from_secs(25);
const SEND_TIMEOUT: Duration = Duration::from_secs(20);

static CRASH_AFTER_SEND: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Test fault point: the next send of the message with this idempotency
/// key stops right after the message left, before it is marked — as if
/// the process died there. The job keeps its lease until it runs out,
/// like a dead instance's.
#[doc(hidden)]
pub fn inject_crash_after_send(idempotency_key: &str) {
    if let Ok(mut v) = CRASH_AFTER_SEND.lock() {
        v.push(idempotency_key.to_string());
    }
}

fn crash_injected(key: &str) -> bool {
    let Ok(mut v) = CRASH_AFTER_SEND.lock() else { return false };
    let found = v.iter().position(|k| k == key);
    found.map(|i| v.swap_remove(i)).is_some()
}

fn lost() -> AppError {
    AppError::Internal(format!("outbox: {LEASE_LOST}"))
}

/// The one gate every webhook target goes through (the settings page and
/// each send): http(s) only, and a loopback, private or link-local host
/// only when allow-listed. A later change may harden it (DNS pinning).
pub fn check_target(url: &str, allowed_hosts: &[String]) -> Result<reqwest::Url, guanxi_domain::Issue> {
    use guanxi_domain::Issue;
    let u = reqwest::Url::parse(url).map_err(|_| Issue::NotAllowed)?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(Issue::NotAllowed);
    }
    let host = u.host_str().ok_or(Issue::NotAllowed)?.trim_matches(['[', ']']).to_ascii_lowercase();
    let with_port = u.port().map_or_else(|| host.clone(), |p| format!("{host}:{p}"));
    if allowed_hosts.iter().any(|a| *a == host || *a == with_port) {
        return Ok(u);
    }
    let internal = match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => {
            ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified() || ip.is_broadcast()
        }
        Ok(std::net::IpAddr::V6(ip)) => {
            ip.is_loopback() || ip.is_unspecified() || (ip.segments()[0] & 0xfe00) == 0xfc00
        }
        Err(_) => host == "localhost" || host.ends_with(".localhost") || host.ends_with(".local"),
    };
    if internal { Err(Issue::NotAllowed) } else { Ok(u) }
}

/// The host (and port) of a target, for lists.
pub fn target_host(url: &str) -> Option<String> {
    let u = reqwest::Url::parse(url).ok()?;
    Some(match u.port() {
        Some(p) => format!("{}:{p}", u.host_str()?),
        None => u.host_str()?.to_string(),
    })
}

/// The signature of a webhook body: hex HMAC-SHA256 of `{timestamp}.{body}`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length: this cannot fail.
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()) else { return String::new() };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// The job's lease still this run's, with time left for a send.
fn lease_fresh(c: &mut guanxi_store::Conn, lease: &Lease, now: Timestamp) -> guanxi_store::Result<bool> {
    let until = now.checked_add(SEND_BUDGET).unwrap_or(now);
    let n: i64 = c.scalar(
        "SELECT COUNT(*) FROM jobs WHERE id = $1 AND lease_owner = $2 AND claims = $3 AND done_at IS NULL
             AND leased_until >= $4",
        args![lease.id, lease.owner.as_str(), lease.claim, until],
    )?;
    Ok(n == 1)
}

/// Runs one `outbox.deliver` job.
pub async fn run(state: &AppState, lease: Lease) -> AppResult<()> {
    let id: i64 =
        lease.ref_key.parse().map_err(|_| AppError::Internal(format!("outbox job key {:?}", lease.ref_key)))?;
    let now = state.clock.now();
    let l = lease.clone();
    // Record the attempt, if the row still needs one and the lease is ours.
    let msg = state
        .db
        .write(move |c| {
            let m = store::get_message(c, id)?;
            if m.status != "queued" && m.status != "sending" {
                jobs::finish(c, &l, now, None)?;
                return Ok(None);
            }
            if !lease_fresh(c, &l, now)? {
                return Err(StoreError::Other(LEASE_LOST.into()));
            }
            store::mark_sending(c, id, now)?;
            Ok(Some(m))
        })
        .await
        .map_err(|e| match e {
            StoreError::Other(m) if m == LEASE_LOST => lost(),
            StoreError::NotFound => AppError::Internal(format!("outbox row {id} is gone")),
            e => e.into(),
        })?;
    let Some(msg) = msg else { return Ok(()) };
    let cfg = settings::load(state).await?;
    let result = deliver(state, &cfg, &msg).await;
    if result.is_ok() && crash_injected(&msg.idempotency_key) {
        tracing::warn!(outbox = id, "fault injected: stopping between send and mark");
        return Err(lost());
    }
    let now = state.clock.now();
    let attempts = msg.attempts + 1;
    state
        .db
        .write(move |c| {
            match &result {
                Ok(()) => {
                    store::mark_sent(c, id, now)?;
                    jobs::finish(c, &lease, now, None)?;
                }
                Err(err) => {
                    let give_up = attempts >= MAX_ATTEMPTS;
                    // Back off: 1, 2, 4 … minutes, at most an hour.
                    let wait = SignedDuration::from_mins(1_i64 << (attempts - 1).clamp(0, 6));
                    let retry = now.checked_add(wait.min(SignedDuration::from_hours(1))).unwrap_or(now);
                    store::mark_failed(c, id, err, give_up, retry, now)?;
                    jobs::finish(c, &lease, now, (!give_up).then_some(retry))?;
                }
            }
            Ok(())
        })
        .await?;
    Ok(())
}

/// Sends one message by its channel; the error is what the outbox records.
async fn deliver(state: &AppState, cfg: &OutreachSettings, m: &OutboxMessage) -> Result<(), String> {
    let to = state.cipher.decrypt(&m.recipient_enc).map_err(|e| format!("recipient: {e}"))?;
    match OutChannel::parse(&m.channel) {
        Ok(OutChannel::Email) => send_email(state, cfg, m, &to).await,
        Ok(ch) => {
            let url = cfg.webhook_url(ch).ok_or("no webhook target is configured for this channel")?;
            let recipient = if m.customer_id.is_some() { Some(to.as_str()) } else { None };
            send_webhook(state, cfg, m, ch, url, recipient).await
        }
        Err(_) => Err(format!("unknown channel {:?}", m.channel)),
    }
}

async fn send_email(state: &AppState, cfg: &OutreachSettings, m: &OutboxMessage, to: &str) -> Result<(), String> {
    if cfg.smtp_host.is_empty() {
        return Err("no SMTP server is configured".into());
    }
    let email = Message::builder()
        .from(cfg.from_address.parse().map_err(|e| format!("from address: {e}"))?)
        .to(to.parse().map_err(|e| format!("recipient address: {e}"))?)
        .subject(m.subject.as_str())
        .message_id(Some(format!("<{}@guanxi.outbox>", m.idempotency_key)))
        .header(ContentType::TEXT_PLAIN)
        .body(m.body.clone())
        .map_err(|e| format!("message: {e}"))?;
    let mut builder = if cfg.smtp_starttls {
        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&cfg.smtp_host).map_err(|e| format!("SMTP: {e}"))?
    } else {
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(cfg.smtp_host.as_str())
    };
    builder = builder.port(cfg.smtp_port).timeout(Some(SEND_TIMEOUT));
    if !cfg.smtp_username.is_empty() {
        let password = if cfg.smtp_password_enc.is_empty() {
            String::new()
        } else {
            state.cipher.decrypt(&cfg.smtp_password_enc).map_err(|e| format!("SMTP password: {e}"))?
        };
        builder = builder.credentials(Credentials::new(cfg.smtp_username.clone(), password));
    }
    builder.build().send(email).await.map(|_| ()).map_err(|e| format!("SMTP: {e}"))
}

async fn send_webhook(
    state: &AppState,
    cfg: &OutreachSettings,
    m: &OutboxMessage,
    ch: OutChannel,
    url: &str,
    recipient: Option<&str>,
) -> Result<(), String> {
    let target = check_target(url, &cfg.allowed_hosts).map_err(|_| format!("webhook target {url:?} is not allowed"))?;
    let body = match ch {
        // The WeCom group robot's own message format.
        OutChannel::Wecom => serde_json::json!({
            "msgtype": "text",
            "text": {"content": if m.subject.is_empty() { m.body.clone() } else { format!("{}\n{}", m.subject, m.body) }},
        }),
        _ => serde_json::json!({
            "id": m.id, "idempotency_key": m.idempotency_key, "channel": m.channel, "scenario": m.scenario,
            "to": recipient, "subject": m.subject, "body": m.body,
        }),
    };
    let bytes = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
    let ts = state.clock.now().as_second();
    let mut req = reqwest::Client::builder()
        .timeout(SEND_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?
        .post(target)
        .header("content-type", "application/json")
        .header("idempotency-key", m.idempotency_key.as_str())
        .header("x-guanxi-timestamp", ts.to_string());
    if !cfg.webhook_secret_enc.is_empty() {
        let secret = state.cipher.decrypt(&cfg.webhook_secret_enc).map_err(|e| format!("webhook secret: {e}"))?;
        req = req.header("x-guanxi-signature", format!("sha256={}", signature(&secret, ts, &bytes)));
    }
    let r = req.body(bytes).send().await.map_err(|e| format!("webhook: {e}"))?;
    if r.status().is_success() { Ok(()) } else { Err(format!("webhook answered HTTP {}", r.status().as_u16())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_targets_pass_one_gate() {
        let none: Vec<String> = Vec::new();
        assert!(check_target("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", &none).is_ok());
        for bad in [
            "http://127.0.0.1:8080/hook",
            "http://localhost/hook",
            "http://10.1.2.3/hook",
            "http://192.168.1.9/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/hook",
            "ftp://example.cn/x",
            "not a url",
        ] {
            assert!(check_target(bad, &none).is_err(), "{bad}");
        }
        let allowed = vec!["127.0.0.1:8099".to_string(), "gw.local".to_string()];
        assert!(check_target("http://127.0.0.1:8099/hook", &allowed).is_ok());
        assert!(check_target("http://127.0.0.1:8100/hook", &allowed).is_err(), "another port is not allowed");
        assert!(check_target("http://gw.local/sms", &allowed).is_ok());
    }

    #[test]
    fn signatures_cover_time_and_body() {
        let a = signature("k", 1, b"{}");
        assert_eq!(a.len(), 64);
        assert_ne!(a, signature("k", 2, b"{}"));
        assert_ne!(a, signature("k", 1, b"{ }"));
        assert_ne!(a, signature("other", 1, b"{}"));
    }
}
