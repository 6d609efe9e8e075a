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

/// The one gate every outbound target (webhooks, channel endpoints) goes
/// through, without the network: http(s) only; an allow-listed host passes;
/// an address literal in any spelling the URL standard reads (`0177.0.0.1`,
/// `0x7f.1`, `2130706433`, `127.1`, `[::ffff:127.0.0.1]`, trailing dots)
/// is read as the address it is and must be public; a name must not be a
/// local one (`localhost`, `*.localhost`, `*.local`, `*.internal`). A name
/// that passes still has to resolve to public addresses only — see
/// [`vet_target`], which each send uses and pins.
pub fn check_target(url: &str, allowed_hosts: &[String]) -> Result<reqwest::Url, guanxi_domain::Issue> {
    use guanxi_domain::Issue;
    let u = reqwest::Url::parse(url.trim()).map_err(|_| Issue::NotAllowed)?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(Issue::NotAllowed);
    }
    if is_allowed(&u, allowed_hosts) {
        return Ok(u);
    }
    let public = match host_of(&u).ok_or(Issue::NotAllowed)? {
        Host::Ip(ip) => is_public_ip(ip),
        Host::Name(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            !(name.is_empty()
                || name == "localhost"
                || [".localhost", ".local", ".internal", ".localdomain", ".home.arpa"]
                    .iter()
                    .any(|s| name.ends_with(s)))
        }
    };
    if public { Ok(u) } else { Err(Issue::PrivateAddress) }
}

/// A target that passed the gate, with the addresses its name resolved to
/// when it is checked by name: the connection goes to exactly those
/// addresses (no second lookup a rebinding DNS server could answer
/// differently).
#[derive(Debug, Clone)]
pub struct VettedTarget {
    pub url: reqwest::Url,
    pub pinned: Option<(String, Vec<std::net::SocketAddr>)>,
}

/// Why [`vet_target`] refused a target.
#[derive(Debug, Clone, PartialEq)]
pub enum TargetRefusal {
    /// Refused by what it is (scheme, address, name, or what it resolves to).
    Refused(guanxi_domain::Issue),
    /// The name did not resolve (now): no address to check.
    Unresolved(String),
}

/// How long a target's name may take to resolve.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// [`check_target`], and for a name that is not allow-listed: resolves it
/// and refuses it unless every address is public; the addresses are kept
/// for the connection ([`VettedTarget::pinned`]).
pub async fn vet_target(url: &str, allowed_hosts: &[String]) -> Result<VettedTarget, TargetRefusal> {
    let u = check_target(url, allowed_hosts).map_err(TargetRefusal::Refused)?;
    let name = match host_of(&u) {
        Some(Host::Name(name)) if !is_allowed(&u, allowed_hosts) => name,
        _ => return Ok(VettedTarget { url: u, pinned: None }),
    };
    let port = u.port_or_known_default().unwrap_or(80);
    let lookup = tokio::net::lookup_host((name.trim_end_matches('.'), port));
    let addrs: Vec<std::net::SocketAddr> = match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
        Ok(Ok(a)) => a.collect(),
        Ok(Err(e)) => return Err(TargetRefusal::Unresolved(format!("{name}: {e}"))),
        Err(_) => return Err(TargetRefusal::Unresolved(format!("{name}: no answer in time"))),
    };
    if addrs.is_empty() {
        return Err(TargetRefusal::Unresolved(format!("{name}: no address")));
    }
    if addrs.iter().any(|a| !is_public_ip(a.ip())) {
        return Err(TargetRefusal::Refused(guanxi_domain::Issue::PrivateAddress));
    }
    Ok(VettedTarget { url: u, pinned: Some((name, addrs)) })
}

/// An allow-list entry as compared: the host as the URL standard reads it
/// (lower case, addresses canonical, no trailing dot), with `:port` when
/// one is given and not the scheme's default. `None` when it is not a host.
pub fn normalize_allowed_host(entry: &str) -> Option<String> {
    let entry = entry.trim();
    if entry.is_empty() || entry.contains(['/', '@', '?', '#', ' ']) {
        return None;
    }
    let u = reqwest::Url::parse(&format!("http://{entry}/")).ok()?;
    host_key(&u)
}

fn host_key(u: &reqwest::Url) -> Option<String> {
    let host = match host_of(u)? {
        Host::Name(d) => d.trim_end_matches('.').to_ascii_lowercase(),
        Host::Ip(std::net::IpAddr::V4(ip)) => ip.to_string(),
        Host::Ip(std::net::IpAddr::V6(ip)) => format!("[{ip}]"),
    };
    if host.is_empty() {
        return None;
    }
    Some(match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    })
}

enum Host {
    Ip(std::net::IpAddr),
    Name(String),
}

/// The host of a parsed URL. The parser has already read every IPv4
/// spelling (octal, hex, integer, short forms) into the dotted form, and
/// IPv6 stands in brackets: what is not an address here is a name.
fn host_of(u: &reqwest::Url) -> Option<Host> {
    let h = u.host_str()?;
    if let Some(v6) = h.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6.parse().ok().map(Host::Ip);
    }
    Some(match h.parse::<std::net::Ipv4Addr>() {
        Ok(ip) => Host::Ip(ip.into()),
        Err(_) => Host::Name(h.to_string()),
    })
}

fn is_allowed(u: &reqwest::Url, allowed_hosts: &[String]) -> bool {
    let Some(key) = host_key(u) else { return false };
    let bare = key.rsplit_once(':').filter(|_| u.port().is_some()).map_or(key.as_str(), |(h, _)| h);
    allowed_hosts.iter().filter_map(|a| normalize_allowed_host(a)).any(|a| a == key || a == bare)
}

/// Whether an address is a public unicast one: not private, loopback,
/// link-local, unspecified, shared (CGNAT), multicast, broadcast,
/// documentation, benchmarking or reserved; for IPv6 also not unique-local,
/// site-local, IPv4-mapped or -compatible, nor a NAT64 / 6to4 / Teredo
/// wrapping of an address that isn't public.
pub fn is_public_ip(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(a == 0
                || a == 10
                || a == 127
                || (a == 100 && (64..128).contains(&b))
                || (a == 169 && b == 254)
                || (a == 172 && (16..32).contains(&b))
                || (a == 192 && b == 0 && (c == 0 || c == 2))
                || (a == 192 && b == 88 && c == 99)
                || (a == 192 && b == 168)
                || (a == 198 && (b == 18 || b == 19))
                || (a == 198 && b == 51 && c == 100)
                || (a == 203 && b == 0 && c == 113)
                || a >= 224)
        }
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            let embedded = |hi: u16, lo: u16| {
                std::net::IpAddr::V4(std::net::Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8))
            };
            if s[..5] == [0; 5] && (s[5] == 0 || s[5] == 0xffff) {
                // ::/96 (unspecified, loopback, IPv4-compatible) and ::ffff:0:0/96 (IPv4-mapped).
                return false;
            }
            if s[0] == 0x64 && s[1] == 0xff9b {
                // NAT64 (64:ff9b::/96, 64:ff9b:1::/48): the IPv4 address is the last 32 bits.
                return is_public_ip(embedded(s[6], s[7]));
            }
            if s[0] == 0x2002 {
                // 6to4: the IPv4 address is bits 16..48.
                return is_public_ip(embedded(s[1], s[2]));
            }
            !((s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (s[0] & 0xffc0) == 0xfec0 // site-local fec0::/10
                || (s[0] & 0xff00) == 0xff00 // multicast
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x2001 && s[1] == 0) // Teredo
                || (s[0] == 0x0100 && s[1..4] == [0; 3]) // discard 100::/64
                || s[0] == 0) // anything else under ::/16 is reserved
        }
    }
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
            // The customer refused this channel after the message was queued (SPEC O3).
            if m.status == "queued"
                && let Some(cid) = m.customer_id
                && store::channel_refused(c, cid, &m.channel)?
            {
                store::suppress(c, id, "客户已拒绝该渠道 / the customer refuses this channel", now)?;
                jobs::finish(c, &l, now, None)?;
                return Ok(None);
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
    let target = vet_target(url, &cfg.allowed_hosts).await.map_err(|r| match r {
        TargetRefusal::Refused(issue) => {
            format!("webhook target {url:?} is not allowed: {}", issue.message(guanxi_domain::Lang::En))
        }
        TargetRefusal::Unresolved(e) => format!("webhook target {url:?} did not resolve: {e}"),
    })?;
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
    let mut client = reqwest::Client::builder().timeout(SEND_TIMEOUT).redirect(reqwest::redirect::Policy::none());
    if let Some((name, addrs)) = &target.pinned {
        // Connect to the addresses just checked, not to a second lookup's.
        client = client.resolve_to_addrs(name, addrs);
    }
    let mut req = client
        .build()
        .map_err(|e| e.to_string())?
        .post(target.url)
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
