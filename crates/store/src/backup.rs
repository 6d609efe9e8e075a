//! Online backups (SPEC S5): `guanxi backup FILE` while servers run, and
//! `guanxi restore FILE` into an empty database.
//!
//! SQLite: `VACUUM INTO` from a read connection writes a consistent copy of
//! one read transaction (WAL lets the writer go on meanwhile); the backup is
//! itself a SQLite database, and restoring copies it into place.
//!
//! PostgreSQL: one `REPEATABLE READ READ ONLY` transaction (one snapshot)
//! exports every table as JSON lines, in foreign-key order: a header with
//! the migrations the schema is at, then per table a line
//! `{"table":…,"rows":n}` and its n rows (`row_to_json`), and an end line.
//! Restoring migrates the empty database to the same schema and inserts the
//! rows with `json_populate_recordset` in one transaction, then moves every
//! identity sequence past the restored ids. No `pg_dump` is needed, and
//! the file does not depend on the server's version.
//!
//! Encrypted columns are copied as they are: neither format ever holds
//! personal data in clear, nor the data key, which the operator keeps
//! beside the backup (`GUANXI_DATA_KEY` or the data directory's key file).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::{DbOptions, DbTarget, Result, StoreError};

/// What a backup or a restore copied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackupReport {
    /// Rows per table.
    pub tables: BTreeMap<String, u64>,
}

impl BackupReport {
    pub fn rows(&self) -> u64 {
        self.tables.values().sum()
    }
}

const FORMAT: &str = "guanxi-backup";
const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";

fn io(context: &str, path: &Path, e: &std::io::Error) -> StoreError {
    StoreError::Config(format!("{context} {}: {e}", path.display()))
}

fn partial(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Makes a finished file durable and gives it its name.
fn finish(tmp: &Path, file: &Path) -> Result<()> {
    std::fs::File::open(tmp).and_then(|f| f.sync_all()).map_err(|e| io("cannot sync", tmp, &e))?;
    std::fs::rename(tmp, file).map_err(|e| io("cannot rename to", file, &e))?;
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// Writes a consistent copy of the database to `file`, which must not exist.
pub fn backup(target: &DbTarget, file: &Path) -> Result<BackupReport> {
    if file.exists() {
        return Err(StoreError::Config(format!("{} already exists; a backup never overwrites a file", file.display())));
    }
    let tmp = partial(file);
    let _ = std::fs::remove_file(&tmp);
    let report = match target {
        DbTarget::Sqlite(path) => sqlite_backup(path, &tmp),
        DbTarget::Postgres(url) => crate::off_runtime(|| pg_backup(url, &tmp)),
    };
    match report {
        Ok(r) => {
            finish(&tmp, file)?;
            Ok(r)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Restores `file` (made by [`backup`] on the same engine) into an empty
/// database: a SQLite file that does not exist yet, or a PostgreSQL
/// database without users.
pub fn restore(target: &DbTarget, file: &Path) -> Result<BackupReport> {
    let mut head = [0u8; 16];
    {
        use std::io::Read;
        let mut f = std::fs::File::open(file).map_err(|e| io("cannot open", file, &e))?;
        let n = f.read(&mut head).map_err(|e| io("cannot read", file, &e))?;
        if n < head.len() {
            return Err(StoreError::Config(format!("{} is not a Guanxi backup", file.display())));
        }
    }
    let is_sqlite = head == SQLITE_MAGIC;
    match target {
        DbTarget::Sqlite(path) if is_sqlite => sqlite_restore(path, file),
        DbTarget::Postgres(url) if !is_sqlite => crate::off_runtime(|| pg_restore(url, file)),
        DbTarget::Sqlite(_) => Err(StoreError::Config(format!(
            "{} is not a SQLite backup; a backup restores only into the engine it was made on",
            file.display()
        ))),
        DbTarget::Postgres(_) => Err(StoreError::Config(format!(
            "{} is a SQLite backup; a backup restores only into the engine it was made on",
            file.display()
        ))),
    }
}

fn sqlite_counts(conn: &rusqlite::Connection) -> Result<BackupReport> {
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect::<std::result::Result<_, _>>()?;
    let mut report = BackupReport::default();
    for name in names {
        let n: i64 = conn.query_row(&format!("SELECT COUNT(*) FROM \"{name}\""), [], |r| r.get(0))?;
        report.tables.insert(name, u64::try_from(n).unwrap_or_default());
    }
    Ok(report)
}

fn sqlite_backup(path: &Path, tmp: &Path) -> Result<BackupReport> {
    if !path.exists() {
        return Err(StoreError::Config(format!("there is no database at {}", path.display())));
    }
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    let out = tmp.to_str().ok_or_else(|| StoreError::Config(format!("{} is not UTF-8", tmp.display())))?;
    conn.execute("VACUUM INTO ?1", [out])?;
    drop(conn);
    let copy = rusqlite::Connection::open_with_flags(tmp, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    sqlite_counts(&copy)
}

fn sqlite_restore(path: &Path, file: &Path) -> Result<BackupReport> {
    let occupied = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.len() > 0);
    if occupied(path) {
        return Err(StoreError::Config(format!(
            "{} already holds a database; restore only into an empty data directory",
            path.display()
        )));
    }
    let report = {
        let copy = rusqlite::Connection::open_with_flags(file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let ok: String = copy.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if ok != "ok" {
            return Err(StoreError::Config(format!("{} is damaged: {ok}", file.display())));
        }
        check_versions(
            &copy
                .prepare("SELECT version FROM schema_migrations")?
                .query_map([], |r| r.get(0))?
                .collect::<std::result::Result<BTreeSet<i64>, _>>()?,
            crate::Engine::Sqlite,
            false,
        )?;
        sqlite_counts(&copy)?
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| io("cannot create", dir, &e))?;
    }
    for stale in ["-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(stale);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
    let tmp = partial(path);
    std::fs::copy(file, &tmp).map_err(|e| io("cannot copy to", &tmp, &e))?;
    finish(&tmp, path)?;
    Ok(report)
}

/// A backup's schema must be one this build knows. SQLite applies newer
/// migrations on the next start; PostgreSQL restores into a database
/// migrated by this build, so the versions must be equal.
fn check_versions(versions: &BTreeSet<i64>, engine: crate::Engine, exact: bool) -> Result<()> {
    let known: BTreeSet<i64> = crate::migrate::versions(engine).collect();
    let unknown: Vec<_> = versions.difference(&known).collect();
    if !unknown.is_empty() {
        return Err(StoreError::Config(format!(
            "the backup has migrations {unknown:?} that this version of guanxi does not know; restore it with a newer guanxi"
        )));
    }
    if exact && versions != &known {
        let missing: Vec<_> = known.difference(versions).collect();
        return Err(StoreError::Config(format!(
            "the backup was made before migrations {missing:?}; restore it with the guanxi version that made it, then upgrade"
        )));
    }
    Ok(())
}

/// The tables of the current schema, each after the tables it refers to.
fn pg_tables(c: &mut impl postgres::GenericClient) -> Result<Vec<String>> {
    let tables: Vec<String> = c
        .query("SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1", &[])?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut deps: BTreeMap<String, BTreeSet<String>> = tables.iter().map(|t| (t.clone(), BTreeSet::new())).collect();
    for r in c.query(
        "SELECT cl.relname::text, ref.relname::text FROM pg_constraint k
         JOIN pg_class cl ON cl.oid = k.conrelid JOIN pg_class ref ON ref.oid = k.confrelid
         JOIN pg_namespace n ON n.oid = cl.relnamespace
         WHERE k.contype = 'f' AND n.nspname = current_schema()",
        &[],
    )? {
        let (from, to): (String, String) = (r.get(0), r.get(1));
        if from != to {
            deps.entry(from).or_default().insert(to);
        }
    }
    let mut order = Vec::with_capacity(tables.len());
    let mut done = BTreeSet::new();
    while order.len() < tables.len() {
        let ready: Vec<String> = tables
            .iter()
            .filter(|t| !done.contains(*t) && deps.get(*t).is_none_or(|d| d.iter().all(|x| done.contains(x))))
            .cloned()
            .collect();
        if ready.is_empty() {
            return Err(StoreError::Other("the tables' foreign keys form a cycle".into()));
        }
        for t in ready {
            done.insert(t.clone());
            order.push(t);
        }
    }
    Ok(order.into_iter().filter(|t| t != "schema_migrations").collect())
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

fn pg_backup(url: &str, tmp: &Path) -> Result<BackupReport> {
    let mut client = postgres::Client::connect(url, postgres::NoTls)?;
    let mut tx =
        client.build_transaction().isolation_level(postgres::IsolationLevel::RepeatableRead).read_only(true).start()?;
    let versions: Vec<i64> =
        tx.query("SELECT version FROM schema_migrations ORDER BY version", &[])?.iter().map(|r| r.get(0)).collect();
    let tables = pg_tables(&mut tx)?;
    let f = std::fs::File::create(tmp).map_err(|e| io("cannot create", tmp, &e))?;
    let mut out = BufWriter::new(f);
    let w = |out: &mut BufWriter<std::fs::File>, line: &str| -> Result<()> {
        out.write_all(line.as_bytes()).and_then(|()| out.write_all(b"\n")).map_err(|e| io("cannot write", tmp, &e))
    };
    let taken_at: String = tx.query_one("SELECT CAST(now() AS TEXT)", &[])?.get(0);
    w(
        &mut out,
        &serde_json::json!({"format": FORMAT, "engine": "postgres", "migrations": versions, "taken_at": taken_at})
            .to_string(),
    )?;
    let mut report = BackupReport::default();
    for table in &tables {
        let q = quote(table);
        let n: i64 = tx.query_one(&format!("SELECT COUNT(*) FROM {q}"), &[])?.get(0);
        w(&mut out, &serde_json::json!({"table": table, "rows": n}).to_string())?;
        let mut written = 0i64;
        let portal = tx.bind(&format!("SELECT CAST(row_to_json(t) AS TEXT) FROM {q} t"), &[])?;
        loop {
            let rows = tx.query_portal(&portal, 2_000)?;
            if rows.is_empty() {
                break;
            }
            for r in &rows {
                let line: String = r.get(0);
                w(&mut out, &line)?;
                written += 1;
            }
        }
        if written != n {
            return Err(StoreError::Other(format!("{table}: counted {n} rows, read {written}")));
        }
        report.tables.insert(table.clone(), u64::try_from(n).unwrap_or_default());
    }
    w(&mut out, &serde_json::json!({"end": FORMAT, "tables": tables.len(), "rows": report.rows()}).to_string())?;
    out.flush().map_err(|e| io("cannot write", tmp, &e))?;
    tx.commit()?;
    Ok(report)
}

#[derive(serde::Deserialize)]
struct Header {
    format: String,
    engine: String,
    migrations: BTreeSet<i64>,
}

#[derive(serde::Deserialize)]
struct TableHeader {
    table: Option<String>,
    rows: Option<u64>,
    end: Option<String>,
}

fn pg_restore(url: &str, file: &Path) -> Result<BackupReport> {
    let bad = |why: &str| StoreError::Config(format!("{} is not a complete Guanxi backup: {why}", file.display()));
    let f = std::fs::File::open(file).map_err(|e| io("cannot open", file, &e))?;
    let mut lines = BufReader::with_capacity(1 << 20, f).lines();
    let mut next = || -> Result<Option<String>> { lines.next().transpose().map_err(|e| io("cannot read", file, &e)) };
    let header: Header =
        serde_json::from_str(&next()?.ok_or_else(|| bad("empty"))?).map_err(|e| bad(&e.to_string()))?;
    if header.format != FORMAT || header.engine != "postgres" {
        return Err(bad("unknown format"));
    }
    check_versions(&header.migrations, crate::Engine::Postgres, true)?;
    // The schema, as this build makes it.
    drop(crate::Db::open(&DbTarget::Postgres(url.to_string()), &DbOptions { pool_size: 1, ..DbOptions::default() })?);
    let mut client = postgres::Client::connect(url, postgres::NoTls)?;
    let mut tx = client.transaction()?;
    let users: i64 = tx.query_one("SELECT COUNT(*) FROM users", &[])?.get(0);
    if users > 0 {
        return Err(StoreError::Config(
            "the database already holds data (users); restore only into an empty database".into(),
        ));
    }
    let tables = pg_tables(&mut tx)?;
    // Rows the migrations themselves wrote (defaults) make way for the backup's.
    for table in tables.iter().rev() {
        let q = quote(table);
        let any: bool = tx.query_one(&format!("SELECT EXISTS (SELECT 1 FROM {q})"), &[])?.get(0);
        if any {
            tx.execute(&format!("DELETE FROM {q}"), &[])?;
        }
    }
    let mut report = BackupReport::default();
    loop {
        let line = next()?.ok_or_else(|| bad("it ends before its end line"))?;
        let th: TableHeader = serde_json::from_str(&line).map_err(|e| bad(&e.to_string()))?;
        if th.end.is_some() {
            break;
        }
        let (Some(table), Some(rows)) = (th.table, th.rows) else { return Err(bad("a table line without its name")) };
        if !tables.contains(&table) {
            return Err(bad(&format!("unknown table {table}")));
        }
        let insert = format!(
            "INSERT INTO {q} SELECT * FROM json_populate_recordset(NULL::{q}, CAST(CAST($1 AS TEXT) AS JSON))",
            q = quote(&table)
        );
        let mut batch = String::from("[");
        let mut in_batch = 0;
        for i in 0..rows {
            let row = next()?.ok_or_else(|| bad(&format!("{table} ends early")))?;
            if in_batch > 0 {
                batch.push(',');
            }
            batch.push_str(&row);
            in_batch += 1;
            if in_batch == 500 || i + 1 == rows {
                batch.push(']');
                tx.execute(&insert, &[&batch])?;
                batch = String::from("[");
                in_batch = 0;
            }
        }
        report.tables.insert(table, rows);
    }
    // Identity columns continue after the restored ids.
    for r in tx.query(
        "SELECT table_name::text, column_name::text FROM information_schema.columns
         WHERE table_schema = current_schema() AND is_identity = 'YES'",
        &[],
    )? {
        let (table, column): (String, String) = (r.get(0), r.get(1));
        tx.execute(
            &format!(
                "SELECT setval(pg_get_serial_sequence($1, $2), COALESCE(MAX({c}), 0) + 1, false) FROM {t}",
                c = quote(&column),
                t = quote(&table)
            ),
            &[&quote(&table), &column],
        )?;
    }
    tx.commit()?;
    Ok(report)
}
