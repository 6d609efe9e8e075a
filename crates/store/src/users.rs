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
    c.scalar(
        "INSERT INTO users (email, name, role, group_id, password_hash, active, certified, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
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
    c.scalar(
        "INSERT INTO groups (name, kind, created_at) VALUES ($1, $2, $3) RETURNING id",
        args![name, kind.code(), now],
    )
}

pub fn delete_group(c: &mut Conn, id: i64) -> Result<()> {
    if c.execute("DELETE FROM groups WHERE id = $1", args![id])? == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// A logged-in browser session.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub csrf_token: String,
    pub expires_at: Timestamp,
}

pub fn create_session(
    c: &mut Conn,
    id_hash: &str,
    user_id: i64,
    csrf_token: &str,
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<()> {
    // Expired sessions of anyone are swept as new ones are made.
    c.execute("DELETE FROM sessions WHERE expires_at < $1", args![now])?;
    c.execute(
        "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $4, $5)",
        args![id_hash, user_id, csrf_token, now, expires_at],
    )?;
    Ok(())
}

/// The live session with this id hash, if its user is still active.
pub fn find_session(c: &mut Conn, id_hash: &str, now: Timestamp) -> Result<Option<Session>> {
    let sql = format!("SELECT {USER_COLS_SESSION} WHERE s.id_hash = $1 AND s.expires_at > $2 AND u.active = $3");
    match c.query_opt(&sql, args![id_hash, now, true])? {
        Some(r) => Ok(Some(Session { user: user(&r)?, csrf_token: r.get(8)?, expires_at: r.get(9)? })),
        None => Ok(None),
    }
}

const USER_COLS_SESSION: &str =
    "u.id, u.email, u.name, u.role, u.group_id, g.name, u.active, u.certified, s.csrf_token, s.expires_at
    FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN groups g ON g.id = u.group_id";

pub fn delete_session(c: &mut Conn, id_hash: &str) -> Result<()> {
    c.execute("DELETE FROM sessions WHERE id_hash = $1", args![id_hash])?;
    Ok(())
}

pub fn create_token(
    c: &mut Conn,
    user_id: i64,
    token_hash: &str,
    name: &str,
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<i64> {
    c.scalar(
        "INSERT INTO api_tokens (user_id, token_hash, name, created_at, expires_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        args![user_id, token_hash, name, now, expires_at],
    )
}

/// The active user owning a live API token.
pub fn find_token_user(c: &mut Conn, token_hash: &str, now: Timestamp) -> Result<Option<User>> {
    let sql = format!("SELECT {USER_COLS_TOKEN} WHERE t.token_hash = $1 AND t.expires_at > $2 AND u.active = $3");
    c.query_opt(&sql, args![token_hash, now, true])?.as_ref().map(user).transpose()
}

const USER_COLS_TOKEN: &str = "u.id, u.email, u.name, u.role, u.group_id, g.name, u.active, u.certified
    FROM api_tokens t JOIN users u ON u.id = t.user_id LEFT JOIN groups g ON g.id = u.group_id";
