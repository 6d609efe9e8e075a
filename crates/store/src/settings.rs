//! Administrator settings (key → text) and named counters for codes such as
//! `KH000123`.

use crate::sql::Conn;
use crate::{Result, args};

pub fn get(c: &mut Conn, key: &str) -> Result<Option<String>> {
    c.query_opt("SELECT value FROM settings WHERE key = $1", args![key])?.map(|r| r.get(0)).transpose()
}

pub fn set(c: &mut Conn, key: &str, value: &str, now: jiff::Timestamp) -> Result<()> {
    c.execute(
        "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        args![key, value, now],
    )?;
    Ok(())
}

/// Takes the next number of a counter. Inside the caller's write
/// transaction; on PostgreSQL the row lock serialises concurrent callers.
pub fn next(c: &mut Conn, name: &str) -> Result<i64> {
    c.scalar(
        "INSERT INTO counters (name, value) VALUES ($1, 1)
         ON CONFLICT (name) DO UPDATE SET value = counters.value + 1
         RETURNING value",
        args![name],
    )
}

/// Takes the next `n` numbers of a counter; returns the first.
pub fn next_n(c: &mut Conn, name: &str, n: i64) -> Result<i64> {
    let last: i64 = c.scalar(
        "INSERT INTO counters (name, value) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET value = counters.value + excluded.value
         RETURNING value",
        args![name, n],
    )?;
    Ok(last - n + 1)
}
