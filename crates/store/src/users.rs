//! Staff accounts, groups, login sessions and API tokens. Secrets are stored
//! only as hashes: argon2id for passwords (computed by the caller), SHA-256
//! for session ids and tokens (they are long random values).

use guanxi_domain::user::{GroupKind, Role, UserDraft};
use guanxi_domain::{Issue, ValidationErrors};
use jiff::Timestamp;
use serde::Serialize;

use crate::sql::{Conn, Row};
use crate::{Result, StoreError, args};

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub group_id: Option<i64>,
    pub group_name: Option<String>,
    pub active: bool,
    pub certified: bool,
}

const USER_COLS: &str = "u.id, u.email, u.name, u.role, u.group_id, g.name, u.active, u.certified FROM users u LEFT JOIN groups g ON g.id = u.group_id";

fn user(r: &Row) -> Result<User> {
    let role: String = r.get(3)?;
    Ok(User {
        id: r.get(0)?,
        email: r.get(1)?,
        name: r.get(2)?,
        role: Role::parse(&role)
            .map_err(|_| StoreError::Decode { column: 3, reason: format!("unknown role {role}") })?,
        group_id: r.get(4)?,
        group_name: r.get(5)?,
        active: r.get(6)?,
        certified: r.get(7)?,
    })
}

pub fn count(c: &mut Conn) -> Result<i64> {
    c.scalar("SELECT COUNT(*) FROM users", &[])
}

pub fn get(c: &mut Conn, id: i64) -> Result<User> {
    user(&c.query_one(&format!("SELECT {USER_COLS} WHERE u.id = $1"), args![id])?)
}

pub fn list(c: &mut Conn) -> Result<Vec<User>> {
    c.query(&format!("SELECT {USER_COLS} ORDER BY u.active DESC, u.role, u.name LIMIT 1000"), &[])?
        .iter()
        .map(user)
        .collect()
}

/// Active users, for owner pickers.
pub fn list_active(c: &mut Conn) -> Result<Vec<User>> {
    c.query(&format!("SELECT {USER_COLS} WHERE u.active = $1 ORDER BY u.name LIMIT 1000"), args![true])?
        .iter()
        .map(user)
        .collect()
}

/// The ids of the active members of a group.
pub fn group_member_ids(c: &mut Conn, group_id: i64) -> Result<Vec<i64>> {
    c.query("SELECT id FROM users WHERE group_id = $1", args![group_id])?.iter().map(|r| r.get(0)).collect()
}

/// Login lookup: the user and their password hash.
pub fn find_for_login(c: &mut Conn, email: &str) -> Result<Option<(User, String)>> {
    let sql = format!("SELECT {USER_COLS_HASH} WHERE lower(u.email) = lower($1)");
    match c.query_opt(&sql, args![email.trim()])? {
        Some(r) => Ok(Some((user(&r)?, r.get(8)?))),
        None => Ok(None),
    }
}

const USER_COLS_HASH: &str = "u.id, u.email, u.name, u.role, u.group_id, g.name, u.active, u.certified, u.password_hash FROM users u LEFT JOIN groups g ON g.id = u.group_id";

fn check_group(c: &mut Conn, group_id: Option<i64>) -> Result<()> {
    if let Some(g) = group_id {
        let n: i64 = c.scalar("SELECT COUNT(*) FROM groups WHERE id = $1", args![g])?;
        if n == 0 {
            return Err(ValidationErrors::single("group_id", Issue::Unknown).into());
        }
    }
    Ok(())
}

fn email_taken(c: &mut Conn, email: &str, except: Option<i64>) -> Result<bool> {
    let n: i64 = c.scalar(
        "SELECT COUNT(*) FROM users WHERE lower(email) = lower($1) AND id <> $2",
        args![email, except.unwrap_or(0)],
    )?;
    Ok(n > 0)
}

/// Creates a user; `password_hash` is the argon2id hash of the draft's password.
pub fn create(c: &mut Conn, d: &UserDraft, password_hash: &str, now: Timestamp) -> Result<i64> {
    check_group(c, d.group_id)?;
    if email_taken(c, d.email.as_str(), None)? {
        return Err(ValidationErrors::single("email", Issue::Taken).into());
    }
    c.insert_id(
        "INSERT INTO users (email, name, role, group_id, password_hash, active, certified, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        args![d.email.as_str(), d.name.as_str(), d.role.code(), d.group_id, password_hash, d.active, d.certified, now],
    )
}

/// Updates a user; a new password hash is given only when it changes, and
/// then every session of the user ends.
pub fn update(c: &mut Conn, id: i64, d: &UserDraft, password_hash: Option<&str>, now: Timestamp) -> Result<()> {
    get(c, id)?;
    check_group(c, d.group_id)?;
    if email_taken(c, d.email.as_str(), Some(id))? {
        return Err(ValidationErrors::single("email", Issue::Taken).into());
    }
    c.execute(
        "UPDATE users SET email = $2, name = $3, role = $4, group_id = $5, active = $6, certified = $7, updated_at = $8 WHERE id = $1",
        args![id, d.email.as_str(), d.name.as_str(), d.role.code(), d.group_id, d.active, d.certified, now],
    )?;
    if let Some(h) = password_hash {
        c.execute("UPDATE users SET password_hash = $2 WHERE id = $1", args![id, h])?;
    }
    if password_hash.is_some() || !d.active {
        c.execute("DELETE FROM sessions WHERE user_id = $1", args![id])?;
        c.execute("DELETE FROM api_tokens WHERE user_id = $1", args![id])?;
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub id: i64,
    pub name: String,
    pub kind: GroupKind,
    pub members: i64,
}

pub fn list_groups(c: &mut Conn) -> Result<Vec<Group>> {
    c.query(
        "SELECT g.id, g.name, g.kind, (SELECT COUNT(*) FROM users u WHERE u.group_id = g.id)
         FROM groups g ORDER BY g.kind DESC, g.name LIMIT 1000",
        &[],
    )?
    .iter()
    .map(|r| {
        let kind: String = r.get(2)?;
        Ok(Group {
            id: r.get(0)?,
            name: r.get(1)?,
            kind: GroupKind::parse(&kind).unwrap_or(GroupKind::Team),
            members: r.get(3)?,
        })
    })
    .collect()
}

pub fn create_group(c: &mut Conn, name: &str, kind: GroupKind, now: Timestamp) -> Result<i64> {
    let n: i64 = c.scalar("SELECT COUNT(*) FROM groups WHERE name = $1", args![name])?;
    if n > 0 {
        return Err(ValidationErrors::single("name", Issue::Taken).into());
    }
    c.insert_id("INSERT INTO groups (name, kind, created_at) VALUES ($1, $2, $3)", args![name, kind.code(), now])
}

pub fn delete_group(c: &mut Conn, id: i64) -> Result<()> {
    if c.execute("DELETE FROM groups WHERE id = $1", args![id])? == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// How far a session has got: the password alone (`Totp`), the password
/// of a user whose role requires two-factor that is not set up yet
/// (`Enrol`), or signed in (`Full`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStage {
    Totp,
    Enrol,
    Full,
}

impl SessionStage {
    pub fn code(self) -> &'static str {
        match self {
            SessionStage::Totp => "totp",
            SessionStage::Enrol => "enrol",
            SessionStage::Full => "full",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "full" => SessionStage::Full,
            "enrol" => SessionStage::Enrol,
            _ => SessionStage::Totp,
        }
    }
}

/// A logged-in browser session.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub csrf_token: String,
    pub expires_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub stage: SessionStage,
    pub handle: String,
}

/// A session about to be stored: only the SHA-256 of its id.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub id_hash: &'a str,
    pub handle: &'a str,
    pub user_id: i64,
    pub csrf_token: &'a str,
    pub now: Timestamp,
    pub expires_at: Timestamp,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub stage: SessionStage,
}

pub fn create_session(c: &mut Conn, s: &NewSession<'_>) -> Result<()> {
    // Expired sessions of anyone are swept as new ones are made.
    c.execute("DELETE FROM sessions WHERE expires_at < $1", args![s.now])?;
    c.execute(
        "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, expires_at, handle, ip, user_agent, stage)
         VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8, $9)",
        args![s.id_hash, s.user_id, s.csrf_token, s.now, s.expires_at, s.handle, s.ip, s.user_agent, s.stage.code()],
    )?;
    Ok(())
}

/// The live session with this id hash: not past its absolute end, seen
/// after `idle_since`, and its user still active.
pub fn find_session(c: &mut Conn, id_hash: &str, now: Timestamp, idle_since: Timestamp) -> Result<Option<Session>> {
    let sql = format!(
        "SELECT {USER_COLS_SESSION} WHERE s.id_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3 AND u.active = $4"
    );
    match c.query_opt(&sql, args![id_hash, now, idle_since, true])? {
        Some(r) => {
            let stage: String = r.get(11)?;
            Ok(Some(Session {
                user: user(&r)?,
                csrf_token: r.get(8)?,
                expires_at: r.get(9)?,
                last_seen_at: r.get(10)?,
                stage: SessionStage::parse(&stage),
                handle: r.get(12)?,
            }))
        }
        None => Ok(None),
    }
}

const USER_COLS_SESSION: &str =
    "u.id, u.email, u.name, u.role, u.group_id, g.name, u.active, u.certified, s.csrf_token, s.expires_at,
    s.last_seen_at, s.stage, s.handle
    FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN groups g ON g.id = u.group_id";

/// Records activity on a session (for the idle timeout and the list).
pub fn touch_session(c: &mut Conn, id_hash: &str, now: Timestamp) -> Result<()> {
    c.execute("UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1", args![id_hash, now])?;
    Ok(())
}

/// Gives a session a new id (and CSRF token) as it moves to `stage`: the
/// old id stops working. False when the old session is gone.
pub fn rotate_session(
    c: &mut Conn,
    old_hash: &str,
    new_hash: &str,
    csrf_token: &str,
    stage: SessionStage,
    now: Timestamp,
) -> Result<bool> {
    Ok(c.execute(
        "UPDATE sessions SET id_hash = $2, csrf_token = $3, stage = $4, last_seen_at = $5 WHERE id_hash = $1",
        args![old_hash, new_hash, csrf_token, stage.code(), now],
    )? == 1)
}

pub fn delete_session(c: &mut Conn, id_hash: &str) -> Result<()> {
    c.execute("DELETE FROM sessions WHERE id_hash = $1", args![id_hash])?;
    Ok(())
}

/// A session as its owner sees it in the list.
#[derive(Debug, Clone, Serialize)]
pub struct SessionInfo {
    pub handle: String,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub expires_at: Timestamp,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub stage: String,
}

/// A user's live sessions, newest activity first.
pub fn list_sessions(c: &mut Conn, user_id: i64, now: Timestamp, idle_since: Timestamp) -> Result<Vec<SessionInfo>> {
    c.query(
        "SELECT handle, created_at, last_seen_at, expires_at, ip, user_agent, stage FROM sessions
         WHERE user_id = $1 AND expires_at > $2 AND last_seen_at > $3 ORDER BY last_seen_at DESC, created_at DESC LIMIT 200",
        args![user_id, now, idle_since],
    )?
    .iter()
    .map(|r| {
        Ok(SessionInfo {
            handle: r.get(0)?,
            created_at: r.get(1)?,
            last_seen_at: r.get(2)?,
            expires_at: r.get(3)?,
            ip: r.get(4)?,
            user_agent: r.get(5)?,
            stage: r.get(6)?,
        })
    })
    .collect()
}

/// Ends one of a user's sessions by its handle; false when there was none.
pub fn end_session(c: &mut Conn, user_id: i64, handle: &str) -> Result<bool> {
    Ok(c.execute("DELETE FROM sessions WHERE user_id = $1 AND handle = $2", args![user_id, handle])? > 0)
}

/// Ends every session and API token of a user, except the session `keep`.
pub fn end_all_sessions(c: &mut Conn, user_id: i64, keep: Option<&str>) -> Result<()> {
    c.execute("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2", args![user_id, keep.unwrap_or("")])?;
    c.execute("DELETE FROM api_tokens WHERE user_id = $1", args![user_id])?;
    Ok(())
}

/// Replaces a user's password hash.
pub fn set_password(c: &mut Conn, user_id: i64, password_hash: &str, now: Timestamp) -> Result<()> {
    c.execute(
        "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1",
        args![user_id, password_hash, now],
    )?;
    Ok(())
}

/// The password hash of a user (to confirm it before a change).
pub fn password_hash(c: &mut Conn, user_id: i64) -> Result<String> {
    c.scalar("SELECT password_hash FROM users WHERE id = $1", args![user_id])
}

/// An API token as its owner sees it.
#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

pub fn list_tokens(c: &mut Conn, user_id: i64, now: Timestamp) -> Result<Vec<TokenInfo>> {
    c.query(
        "SELECT id, name, created_at, expires_at, last_used_at FROM api_tokens
         WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC, id DESC LIMIT 200",
        args![user_id, now],
    )?
    .iter()
    .map(|r| {
        Ok(TokenInfo {
            id: r.get(0)?,
            name: r.get(1)?,
            created_at: r.get(2)?,
            expires_at: r.get(3)?,
            last_used_at: r.get(4)?,
        })
    })
    .collect()
}

/// Revokes one of a user's tokens; false when there was none.
pub fn delete_token(c: &mut Conn, user_id: i64, id: i64) -> Result<bool> {
    Ok(c.execute("DELETE FROM api_tokens WHERE user_id = $1 AND id = $2", args![user_id, id])? > 0)
}

/// A user's two-factor state; secrets as stored (encrypted by the caller).
#[derive(Debug, Clone, Default)]
pub struct TotpState {
    pub secret: Option<String>,
    pub pending: Option<String>,
    pub enabled_at: Option<Timestamp>,
    pub last_step: Option<i64>,
    pub recovery_left: i64,
}

pub fn totp_state(c: &mut Conn, user_id: i64) -> Result<TotpState> {
    let r = c.query_one(
        "SELECT totp_secret, totp_pending, totp_enabled_at, totp_last_step,
                (SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL)
         FROM users WHERE id = $1",
        args![user_id],
    )?;
    Ok(TotpState {
        secret: r.get(0)?,
        pending: r.get(1)?,
        enabled_at: r.get(2)?,
        last_step: r.get(3)?,
        recovery_left: r.get(4)?,
    })
}

/// Stores a secret being set up (not yet in force).
pub fn set_totp_pending(c: &mut Conn, user_id: i64, sealed: Option<&str>) -> Result<()> {
    c.execute("UPDATE users SET totp_pending = $2 WHERE id = $1", args![user_id, sealed])?;
    Ok(())
}

/// Puts the pending secret in force with the step of the code that
/// confirmed it, and replaces the recovery codes.
pub fn enable_totp(c: &mut Conn, user_id: i64, step: i64, code_hashes: &[String], now: Timestamp) -> Result<()> {
    c.execute(
        "UPDATE users SET totp_secret = totp_pending, totp_pending = NULL, totp_enabled_at = $2, totp_last_step = $3
         WHERE id = $1 AND totp_pending IS NOT NULL",
        args![user_id, now, step],
    )?;
    c.execute("DELETE FROM recovery_codes WHERE user_id = $1", args![user_id])?;
    for h in code_hashes {
        c.execute("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)", args![user_id, h.as_str()])?;
    }
    Ok(())
}

/// Turns two-factor off for a user.
pub fn disable_totp(c: &mut Conn, user_id: i64) -> Result<()> {
    c.execute(
        "UPDATE users SET totp_secret = NULL, totp_pending = NULL, totp_enabled_at = NULL, totp_last_step = NULL WHERE id = $1",
        args![user_id],
    )?;
    c.execute("DELETE FROM recovery_codes WHERE user_id = $1", args![user_id])?;
    Ok(())
}

/// Accepts a code's time step once: false if this step (or a later one)
/// was already used.
pub fn claim_totp_step(c: &mut Conn, user_id: i64, step: i64) -> Result<bool> {
    Ok(c.execute(
        "UPDATE users SET totp_last_step = $2 WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)",
        args![user_id, step],
    )? == 1)
}

/// Uses up a recovery code; false if it is unknown or used.
pub fn use_recovery_code(c: &mut Conn, user_id: i64, code_hash: &str, now: Timestamp) -> Result<bool> {
    Ok(c.execute(
        "UPDATE recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
        args![user_id, code_hash, now],
    )? == 1)
}

/// A sign-in attempt or a refused authorisation.
#[derive(Debug, Clone)]
pub struct SecurityEvent<'a> {
    /// `login_ok`, `login_failed`, `login_locked`, `totp_failed`, `denied`, ...
    pub kind: &'a str,
    pub user_id: Option<i64>,
    pub email: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub detail: String,
}

pub fn record_event(c: &mut Conn, at: Timestamp, e: &SecurityEvent<'_>) -> Result<()> {
    let email = e.email.map(|m| m.trim().to_lowercase());
    c.execute(
        "INSERT INTO security_events (at, kind, user_id, email, ip, detail) VALUES ($1, $2, $3, $4, $5, $6)",
        args![at, e.kind, e.user_id, email.as_deref(), e.ip, e.detail.as_str()],
    )?;
    Ok(())
}

/// Failed sign-ins (password or second factor) for an account since
/// `since`, not counting those before its last successful sign-in.
pub fn failures_for_email(c: &mut Conn, email: &str, since: Timestamp) -> Result<i64> {
    let email = email.trim().to_lowercase();
    let last_ok: Option<Timestamp> = c
        .query_opt(
            "SELECT at FROM security_events WHERE email = $1 AND kind = 'login_ok' ORDER BY at DESC, id DESC LIMIT 1",
            args![email.as_str()],
        )?
        .map(|r| r.get(0))
        .transpose()?;
    let since = last_ok.map_or(since, |t| t.max(since));
    c.scalar(
        "SELECT COUNT(*) FROM security_events WHERE email = $1 AND kind IN ('login_failed', 'totp_failed') AND at >= $2",
        args![email.as_str(), since],
    )
}

/// Failed sign-ins from an address since `since`.
pub fn failures_for_ip(c: &mut Conn, ip: &str, since: Timestamp) -> Result<i64> {
    c.scalar(
        "SELECT COUNT(*) FROM security_events WHERE ip = $1 AND kind IN ('login_failed', 'totp_failed') AND at >= $2",
        args![ip, since],
    )
}

#[derive(Debug, Clone, Serialize)]
pub struct SecurityEventRow {
    pub id: i64,
    pub at: Timestamp,
    pub kind: String,
    pub user_id: Option<i64>,
    pub email: Option<String>,
    pub ip: Option<String>,
    pub detail: String,
}

/// The newest events, optionally of one kind.
pub fn list_events(c: &mut Conn, kind: Option<&str>, limit: i64) -> Result<Vec<SecurityEventRow>> {
    c.query(
        "SELECT id, at, kind, user_id, email, ip, detail FROM security_events
         WHERE ($1 = '' OR kind = $1) ORDER BY at DESC, id DESC LIMIT $2",
        args![kind.unwrap_or(""), limit],
    )?
    .iter()
    .map(|r| {
        Ok(SecurityEventRow {
            id: r.get(0)?,
            at: r.get(1)?,
            kind: r.get(2)?,
            user_id: r.get(3)?,
            email: r.get(4)?,
            ip: r.get(5)?,
            detail: r.get(6)?,
        })
    })
    .collect()
}

/// A search of the security events (admins' page): each condition optional.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// The account's e-mail (lower case), as the attempt named it.
    pub email: Option<String>,
    pub kind: Option<String>,
    /// From this instant (inclusive).
    pub from: Option<Timestamp>,
    /// Until this instant (exclusive).
    pub until: Option<Timestamp>,
    /// Keyset cursor: only events older than this `(at, id)`.
    pub before: Option<(Timestamp, i64)>,
}

/// The newest events matching `f`, at most `limit`, newest first; an
/// e-mail narrows the (email, at) index, else the at index.
pub fn search_events(c: &mut Conn, f: &EventFilter, limit: i64) -> Result<Vec<SecurityEventRow>> {
    let mut cond: Vec<String> = Vec::new();
    let mut vals: Vec<crate::Value> = Vec::new();
    let mut push = |sql: &str, v: crate::Value, cond: &mut Vec<String>| {
        vals.push(v);
        cond.push(sql.replace('?', &format!("${}", vals.len())));
    };
    if let Some(e) = &f.email {
        push("email = ?", e.as_str().into(), &mut cond);
    }
    if let Some(k) = &f.kind {
        push("kind = ?", k.as_str().into(), &mut cond);
    }
    if let Some(t) = f.from {
        push("at >= ?", t.into(), &mut cond);
    }
    if let Some(t) = f.until {
        push("at < ?", t.into(), &mut cond);
    }
    if let Some((at, id)) = f.before {
        push("at <= ?", at.into(), &mut cond);
        let n = vals.len();
        vals.push(id.into());
        cond.push(format!("(at < ${n} OR id < ${})", n + 1));
    }
    vals.push(limit.clamp(1, 1000).into());
    let sql = format!(
        "SELECT id, at, kind, user_id, email, ip, detail FROM security_events {} ORDER BY at DESC, id DESC LIMIT ${}",
        if cond.is_empty() { String::new() } else { format!("WHERE {}", cond.join(" AND ")) },
        vals.len()
    );
    c.query(&sql, &vals)?
        .iter()
        .map(|r| {
            Ok(SecurityEventRow {
                id: r.get(0)?,
                at: r.get(1)?,
                kind: r.get(2)?,
                user_id: r.get(3)?,
                email: r.get(4)?,
                ip: r.get(5)?,
                detail: r.get(6)?,
            })
        })
        .collect()
}

pub fn create_token(
    c: &mut Conn,
    user_id: i64,
    token_hash: &str,
    name: &str,
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<i64> {
    c.insert_id(
        "INSERT INTO api_tokens (user_id, token_hash, name, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        args![user_id, token_hash, name, now, expires_at],
    )
}

/// The active user owning a live API token.
pub fn find_token_user(c: &mut Conn, token_hash: &str, now: Timestamp) -> Result<Option<User>> {
    Ok(find_token_user_until(c, token_hash, now)?.map(|(u, _)| u))
}

/// [`find_token_user`] with the instant the token expires.
pub fn find_token_user_until(c: &mut Conn, token_hash: &str, now: Timestamp) -> Result<Option<(User, Timestamp)>> {
    const SQL: &str = "SELECT u.id, u.email, u.name, u.role, u.group_id, g.name, u.active, u.certified, t.expires_at
        FROM api_tokens t JOIN users u ON u.id = t.user_id LEFT JOIN groups g ON g.id = u.group_id
        WHERE t.token_hash = $1 AND t.expires_at > $2 AND u.active = $3";
    match c.query_opt(SQL, args![token_hash, now, true])? {
        Some(r) => Ok(Some((user(&r)?, r.get(8)?))),
        None => Ok(None),
    }
}
