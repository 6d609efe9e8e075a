//! The scheduler's durable jobs (SPEC T7): one row per (kind, key), due at
//! an instant. A scheduler instance *leases* due rows — on PostgreSQL with
//! `FOR UPDATE SKIP LOCKED`, so that instances sharing the database never
//! take the same row; on SQLite the one writer thread serialises claims —
//! runs each job, and completes it with [`finish`] **inside the
//! transaction of the job's effects**: `finish` succeeds only for the
//! current lease, so a run whose lease was lost (expired, or the job was
//! re-armed meanwhile) rolls back instead of acting twice.
//!
//! Rows are kept after completion (`done_at`) with the number of claims and
//! completed runs; a job is re-armed by [`schedule`] (same row, new due
//! instant). Claims, runs and lease owners are the evidence that each due
//! job ran once.

use jiff::{SignedDuration, Timestamp};

use crate::sql::{Conn, Engine, Row};
use crate::{Result, args};

/// A leased job: run it, then [`finish`] it in the same transaction as its effects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub id: i64,
    pub kind: String,
    pub ref_key: String,
    pub payload: String,
    pub due_at: Timestamp,
    pub owner: String,
    /// Which claim of the row this is; a later claim invalidates this lease.
    pub claim: i64,
}

/// Arms a job (or re-arms it at a new instant, with a new payload). A
/// lease held on it is revoked: that run will not complete.
pub fn schedule(
    c: &mut Conn,
    kind: &str,
    ref_key: &str,
    due_at: Timestamp,
    payload: &str,
    now: Timestamp,
) -> Result<()> {
    c.execute(
        "INSERT INTO jobs (kind, ref_key, due_at, payload, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)
         ON CONFLICT (kind, ref_key) DO UPDATE SET due_at = excluded.due_at, payload = excluded.payload,
             done_at = NULL, leased_until = NULL, lease_owner = NULL, last_error = NULL, updated_at = excluded.updated_at",
        args![kind, ref_key, due_at, payload, now],
    )?;
    Ok(())
}

/// Arms many jobs of one kind at once (bulk loads).
pub fn schedule_many(c: &mut Conn, kind: &str, items: &[(String, Timestamp)], now: Timestamp) -> Result<()> {
    let mut v = Vec::with_capacity(items.len() * 6);
    for (key, due) in items {
        v.extend([kind.into(), key.as_str().into(), (*due).into(), "".into(), now.into(), now.into()]);
    }
    crate::sql::insert_rows(
        c,
        "INSERT INTO jobs (kind, ref_key, due_at, payload, created_at, updated_at) VALUES",
        6,
        v,
        "ON CONFLICT (kind, ref_key) DO UPDATE SET due_at = excluded.due_at, done_at = NULL, leased_until = NULL, lease_owner = NULL",
    )
}

/// Disarms a pending job without running it.
pub fn cancel(c: &mut Conn, kind: &str, ref_key: &str, now: Timestamp) -> Result<()> {
    c.execute(
        "UPDATE jobs SET done_at = $3, leased_until = NULL, lease_owner = NULL, updated_at = $3
         WHERE kind = $1 AND ref_key = $2 AND done_at IS NULL",
        args![kind, ref_key, now],
    )?;
    Ok(())
}

/// Leases up to `limit` due jobs for `lease` to `owner`, the most overdue
/// first. A job whose lease ran out (its runner died) is due again.
pub fn claim(c: &mut Conn, owner: &str, now: Timestamp, lease: SignedDuration, limit: i64) -> Result<Vec<Lease>> {
    let until = now.checked_add(lease).unwrap_or(now);
    let lock = match c.engine() {
        Engine::Postgres => "FOR UPDATE SKIP LOCKED",
        Engine::Sqlite => "",
    };
    let sql = format!(
        "UPDATE jobs SET leased_until = $1, lease_owner = $2, claims = claims + 1, updated_at = $3
         WHERE id IN (SELECT id FROM jobs WHERE done_at IS NULL AND due_at <= $3
                          AND (leased_until IS NULL OR leased_until <= $3)
                      ORDER BY due_at LIMIT $4 {lock})
         RETURNING id, kind, ref_key, payload, due_at, claims"
    );
    let rows = c.query(&sql, args![until, owner, now, limit])?;
    let mut out: Vec<Lease> = rows
        .iter()
        .map(|r: &Row| {
            Ok(Lease {
                id: r.get(0)?,
                kind: r.get(1)?,
                ref_key: r.get(2)?,
                payload: r.get(3)?,
                due_at: r.get(4)?,
                owner: owner.to_string(),
                claim: r.get(5)?,
            })
        })
        .collect::<Result<_>>()?;
    out.sort_by_key(|l| (l.due_at, l.id));
    Ok(out)
}

/// Completes a leased job inside the transaction of its effects; with
/// `next`, the same job is due again then. The owner stays on the row: who
/// ran it last. `false` when the lease is no
/// longer this run's: the caller must roll back (return an error).
pub fn finish(c: &mut Conn, lease: &Lease, now: Timestamp, next: Option<Timestamp>) -> Result<bool> {
    let n = match next {
        None => c.execute(
            "UPDATE jobs SET done_at = $4, runs = runs + 1, leased_until = NULL, last_error = NULL, updated_at = $4
             WHERE id = $1 AND lease_owner = $2 AND claims = $3 AND done_at IS NULL",
            args![lease.id, lease.owner.as_str(), lease.claim, now],
        )?,
        Some(due) => c.execute(
            "UPDATE jobs SET due_at = $5, runs = runs + 1, leased_until = NULL, last_error = NULL, updated_at = $4
             WHERE id = $1 AND lease_owner = $2 AND claims = $3 AND done_at IS NULL",
            args![lease.id, lease.owner.as_str(), lease.claim, now, due],
        )?,
    };
    Ok(n == 1)
}

/// Records a failed run: the job is due again at `retry_at`, or given up
/// (done, with its error) after `max_claims` claims.
pub fn fail(
    c: &mut Conn,
    lease: &Lease,
    now: Timestamp,
    error: &str,
    retry_at: Timestamp,
    max_claims: i64,
) -> Result<()> {
    let error: String = error.chars().take(500).collect();
    c.execute(
        "UPDATE jobs SET last_error = $4, lease_owner = NULL, updated_at = $5,
             leased_until = CASE WHEN claims >= CAST($7 AS BIGINT) THEN NULL ELSE CAST($6 AS BIGINT) END,
             done_at = CASE WHEN claims >= CAST($7 AS BIGINT) THEN CAST($5 AS BIGINT) ELSE NULL END
         WHERE id = $1 AND lease_owner = $2 AND claims = $3 AND done_at IS NULL",
        args![lease.id, lease.owner.as_str(), lease.claim, error, now, retry_at, max_claims],
    )?;
    Ok(())
}

/// A job row, for pages, tests and operators.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub ref_key: String,
    pub due_at: Timestamp,
    pub lease_owner: Option<String>,
    pub claims: i64,
    pub runs: i64,
    pub last_error: Option<String>,
    pub done_at: Option<Timestamp>,
}

const JOB_COLS: &str = "id, kind, ref_key, due_at, lease_owner, claims, runs, last_error, done_at FROM jobs";

fn job(r: &Row) -> Result<Job> {
    Ok(Job {
        id: r.get(0)?,
        kind: r.get(1)?,
        ref_key: r.get(2)?,
        due_at: r.get(3)?,
        lease_owner: r.get(4)?,
        claims: r.get(5)?,
        runs: r.get(6)?,
        last_error: r.get(7)?,
        done_at: r.get(8)?,
    })
}

pub fn get(c: &mut Conn, kind: &str, ref_key: &str) -> Result<Option<Job>> {
    c.query_opt(&format!("SELECT {JOB_COLS} WHERE kind = $1 AND ref_key = $2"), args![kind, ref_key])?
        .as_ref()
        .map(job)
        .transpose()
}

/// Jobs of a kind, by id (tests and operators; at most `limit`).
pub fn of_kind(c: &mut Conn, kind: &str, limit: i64) -> Result<Vec<Job>> {
    c.query(&format!("SELECT {JOB_COLS} WHERE kind = $1 ORDER BY id LIMIT $2"), args![kind, limit])?
        .iter()
        .map(job)
        .collect()
}

/// The earliest due instant of a pending job (the scheduler sleeps until then).
pub fn next_due(c: &mut Conn) -> Result<Option<Timestamp>> {
    c.query_opt("SELECT due_at FROM jobs WHERE done_at IS NULL ORDER BY due_at LIMIT 1", &[])?
        .map(|r| r.get(0))
        .transpose()
}
