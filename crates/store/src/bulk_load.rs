//! Deferred secondary indexes for a bulk load into an empty or young
//! database (the benchmark generator, issue 11): each row of a bulk
//! transaction otherwise lands on its own page of every secondary index —
//! random writes all over indexes far larger than the cache, which SQLite's
//! checkpointer then copies again after every transaction (201 GB written
//! for a 9.6 GB data set). Dropping a table's secondary indexes, filling the
//! table and creating each index again with one `CREATE INDEX` (a sort)
//! writes each index page once.
//!
//! Only plain secondary indexes are deferred: unique indexes, primary keys
//! and indexes backing a constraint stay, since inserts rely on them
//! (`ON CONFLICT`, duplicate checks). The definitions are saved in the
//! `settings` table in the transaction that drops the indexes, and
//! [`restore_indexes`] — run by every open of the database (see
//! `migrate::apply`) — creates any saved index that is missing, so an
//! interrupted load never leaves a database without its indexes.
//!
//! Never used by the serving process or by imports of real data: a table
//! without its indexes answers queries by scanning.

use serde::{Deserialize, Serialize};

use crate::sql::{Conn, Engine};
use crate::{Result, StoreError, args, settings};

/// The settings key holding the definitions of the deferred indexes.
pub const SETTINGS_KEY: &str = "bulk_load.deferred_indexes";

/// One index: its table, name and `CREATE INDEX` statement as the catalog
/// gives it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IndexDef {
    pub table: String,
    pub name: String,
    pub sql: String,
}

/// An index dropped for a bulk load, to be created again.
pub type DeferredIndex = IndexDef;

/// Every index of the schema that has an SQL definition (SQLite leaves out
/// the automatic indexes of PRIMARY KEY and UNIQUE columns, which cannot be
/// dropped; PostgreSQL's list includes the indexes backing constraints),
/// sorted by table and name. `deferrable` keeps only plain secondary
/// indexes.
fn catalog(c: &mut Conn, table: Option<&str>, deferrable: bool) -> Result<Vec<IndexDef>> {
    let rows = match c.engine() {
        Engine::Sqlite => c.query(
            "SELECT tbl_name, name, sql FROM sqlite_master
             WHERE type = 'index' AND sql IS NOT NULL AND ($1 IS NULL OR tbl_name = $1)
             ORDER BY tbl_name, name",
            args![table],
        )?,
        Engine::Postgres => c.query(
            "SELECT i.tablename, i.indexname, i.indexdef, x.indisunique,
                    EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)
             FROM pg_indexes i
             JOIN pg_namespace n ON n.nspname = i.schemaname
             JOIN pg_class ci ON ci.relname = i.indexname AND ci.relnamespace = n.oid
             JOIN pg_index x ON x.indexrelid = ci.oid
             WHERE i.schemaname = current_schema() AND ($1::text IS NULL OR i.tablename = $1::text)
             ORDER BY i.tablename, i.indexname",
            args![table],
        )?,
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let def = IndexDef { table: r.get(0)?, name: r.get(1)?, sql: r.get(2)? };
        let plain = match c.engine() {
            Engine::Sqlite => !def.sql.trim_start().to_ascii_uppercase().starts_with("CREATE UNIQUE"),
            Engine::Postgres => !r.get::<bool>(3)? && !r.get::<bool>(4)?,
        };
        if !deferrable || plain {
            out.push(def);
        }
    }
    Ok(out)
}

/// Every index of the schema with its definition (for checks: a database
/// after a bulk load has the same list as a freshly migrated one).
pub fn indexes(c: &mut Conn) -> Result<Vec<IndexDef>> {
    catalog(c, None, false)
}

/// The definitions saved by [`defer_indexes`] and not yet restored.
pub fn pending(c: &mut Conn) -> Result<Vec<DeferredIndex>> {
    match settings::get(c, SETTINGS_KEY)? {
        None => Ok(Vec::new()),
        Some(text) if text.trim().is_empty() => Ok(Vec::new()),
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| StoreError::Other(format!("unreadable {SETTINGS_KEY} setting: {e}"))),
    }
}

fn save(c: &mut Conn, defs: &[DeferredIndex], now: jiff::Timestamp) -> Result<()> {
    if defs.is_empty() {
        c.execute("DELETE FROM settings WHERE key = $1", args![SETTINGS_KEY])?;
        return Ok(());
    }
    let text = serde_json::to_string(defs).map_err(|e| StoreError::Other(e.to_string()))?;
    settings::set(c, SETTINGS_KEY, &text, now)
}

/// Drops the plain secondary indexes of `tables`, inside the caller's
/// write transaction, after saving their definitions (added to any saved
/// before). Returns the indexes dropped.
pub fn defer_indexes(c: &mut Conn, tables: &[&str], now: jiff::Timestamp) -> Result<Vec<DeferredIndex>> {
    let mut saved = pending(c)?;
    let mut dropped = Vec::new();
    for table in tables {
        for def in catalog(c, Some(table), true)? {
            if !saved.iter().any(|s| s.name == def.name) {
                saved.push(def.clone());
            }
            dropped.push(def);
        }
    }
    if dropped.is_empty() {
        return Ok(dropped);
    }
    // Saved in the transaction that drops them: both happen, or neither.
    save(c, &saved, now)?;
    for def in &dropped {
        c.batch(&format!("DROP INDEX {}", quote(&def.name)))?;
    }
    Ok(dropped)
}

fn exists(c: &mut Conn, name: &str) -> Result<bool> {
    let n: i64 = match c.engine() {
        Engine::Sqlite => {
            c.scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = $1", args![name])?
        }
        Engine::Postgres => c.scalar(
            "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = $1",
            args![name],
        )?,
    };
    Ok(n > 0)
}

fn table_exists(c: &mut Conn, table: &str) -> Result<bool> {
    let n: i64 = match c.engine() {
        Engine::Sqlite => {
            c.scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1", args![table])?
        }
        Engine::Postgres => c.scalar(
            "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1",
            args![table],
        )?,
    };
    Ok(n > 0)
}

/// Creates a saved index if it is missing (and its table still exists).
/// Returns whether it did.
fn create(c: &mut Conn, def: &DeferredIndex) -> Result<bool> {
    if exists(c, &def.name)? || !table_exists(c, &def.table)? {
        return Ok(false);
    }
    if c.engine() == Engine::Postgres {
        // A sort in memory rather than in temporary files, for this
        // transaction only.
        c.batch("SET LOCAL maintenance_work_mem = '256MB'")?;
    }
    c.batch(&def.sql)?;
    Ok(true)
}

/// Creates one saved index again if it is missing and forgets its
/// definition, inside the caller's write transaction (one transaction an
/// index keeps each one's write, and the WAL, to the size of that index).
/// Returns whether it created the index.
pub fn restore_index(c: &mut Conn, name: &str, now: jiff::Timestamp) -> Result<bool> {
    let mut saved = pending(c)?;
    let Some(at) = saved.iter().position(|d| d.name == name) else {
        return Ok(false);
    };
    let def = saved.remove(at);
    let created = create(c, &def)?;
    save(c, &saved, now)?;
    Ok(created)
}

/// Creates every saved index that is missing and forgets the saved
/// definitions, inside the caller's transaction (run by every open of the
/// database). Returns the indexes created.
pub fn restore_indexes(c: &mut Conn) -> Result<Vec<DeferredIndex>> {
    let mut created = Vec::new();
    for def in pending(c)? {
        if create(c, &def)? {
            tracing::warn!(index = %def.name, table = %def.table, "created an index a bulk load had deferred");
            created.push(def);
        }
    }
    c.execute("DELETE FROM settings WHERE key = $1", args![SETTINGS_KEY])?;
    Ok(created)
}

/// Fresh planner statistics for tables a bulk load filled: PostgreSQL's
/// autovacuum analyses them only later, and until then plans assume
/// the tables are as small as before. Nothing on SQLite, whose plans were
/// tuned without `sqlite_stat1`.
pub fn analyze(c: &mut Conn, tables: &[&str]) -> Result<()> {
    if c.engine() == Engine::Postgres {
        for table in tables {
            if table_exists(c, table)? {
                c.batch(&format!("ANALYZE {}", quote(table)))?;
            }
        }
    }
    Ok(())
}

/// A double-quoted identifier.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The indexes of a database, read from its catalog over a connection of
/// their own, without opening it as a [`crate::Db`] (whose migration step
/// would restore deferred indexes first): for checks after a bulk load.
pub fn indexes_of(target: &crate::DbTarget) -> Result<Vec<IndexDef>> {
    match target {
        crate::DbTarget::Sqlite(path) => {
            let conn = rusqlite::Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            indexes(&mut Conn::Sqlite(conn))
        }
        crate::DbTarget::Postgres(url) => crate::off_runtime(|| {
            let client = postgres::Client::connect(url, postgres::NoTls)?;
            let mut c = Conn::Postgres(Box::new(crate::sql::PgConn { client, statements: Default::default() }));
            indexes(&mut c)
        }),
    }
}
