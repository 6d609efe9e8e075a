//! The portable SQL layer: values, rows and a connection that runs the same
//! statement text on SQLite or PostgreSQL.
//!
//! Conventions that keep one SQL text valid on both engines: placeholders
//! are `$1, $2, …`; integers are BIGINT; instants are BIGINT milliseconds
//! since the Unix epoch (UTC); calendar dates are `YYYY-MM-DD` text; money is
//! BIGINT fen; aggregates that PostgreSQL widens (SUM) are cast back with
//! `CAST(… AS BIGINT)`.

use std::collections::HashMap;

use crate::{Result, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A parameter or column value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    I64(i64),
    F64(f64),
    Bool(bool),
    Text(String),
    Bytes(Vec<u8>),
}

macro_rules! value_from {
    ($($t:ty => $v:expr),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(x: $t) -> Self {
                #[allow(clippy::redundant_closure_call)]
                ($v)(x)
            }
        }
    )*};
}

value_from! {
    i64 => Value::I64,
    i32 => |x: i32| Value::I64(i64::from(x)),
    u32 => |x: u32| Value::I64(i64::from(x)),
    f64 => Value::F64,
    bool => Value::Bool,
    String => Value::Text,
    &str => |x: &str| Value::Text(x.to_string()),
    &String => |x: &String| Value::Text(x.clone()),
    Vec<u8> => Value::Bytes,
    jiff::civil::Date => |d: jiff::civil::Date| Value::Text(d.to_string()),
    jiff::Timestamp => |t: jiff::Timestamp| Value::I64(t.as_millisecond()),
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(x: Option<T>) -> Self {
        x.map_or(Value::Null, Into::into)
    }
}

/// Builds a parameter slice: `args![id, name]`.
#[macro_export]
macro_rules! args {
    ($($x:expr),* $(,)?) => { &[$($crate::Value::from($x)),*][..] };
}

/// Reads a column value into a Rust type.
pub trait FromValue: Sized {
    fn from_value(v: Value) -> std::result::Result<Self, String>;
}

impl FromValue for Value {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        Ok(v)
    }
}

impl FromValue for i64 {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        match v {
            Value::I64(i) => Ok(i),
            Value::Bool(b) => Ok(i64::from(b)),
            other => Err(format!("expected integer, got {other:?}")),
        }
    }
}

impl FromValue for f64 {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        match v {
            Value::F64(f) => Ok(f),
            #[allow(clippy::cast_precision_loss)]
            Value::I64(i) => Ok(i as f64),
            other => Err(format!("expected number, got {other:?}")),
        }
    }
}

impl FromValue for bool {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        match v {
            Value::Bool(b) => Ok(b),
            Value::I64(i) => Ok(i != 0),
            other => Err(format!("expected boolean, got {other:?}")),
        }
    }
}

impl FromValue for String {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        match v {
            Value::Text(s) => Ok(s),
            other => Err(format!("expected text, got {other:?}")),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        match v {
            Value::Bytes(b) => Ok(b),
            Value::Text(s) => Ok(s.into_bytes()),
            other => Err(format!("expected bytes, got {other:?}")),
        }
    }
}

impl FromValue for jiff::civil::Date {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        String::from_value(v)?.parse().map_err(|e| format!("bad date: {e}"))
    }
}

impl FromValue for jiff::Timestamp {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        jiff::Timestamp::from_millisecond(i64::from_value(v)?).map_err(|e| e.to_string())
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        match v {
            Value::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// One result row; columns are read by position.
#[derive(Debug, Clone)]
pub struct Row(pub(crate) Vec<Value>);

impl Row {
    pub fn get<T: FromValue>(&self, i: usize) -> Result<T> {
        let v = self.0.get(i).cloned().ok_or(StoreError::Decode { column: i, reason: "no such column".into() })?;
        T::from_value(v).map_err(|reason| StoreError::Decode { column: i, reason })
    }

    /// Like [`Row::get`], but moves the value out (leaving NULL behind):
    /// no copy of a text column that is read once.
    pub fn take<T: FromValue>(&mut self, i: usize) -> Result<T> {
        let v = self
            .0
            .get_mut(i)
            .map(|v| std::mem::replace(v, Value::Null))
            .ok_or(StoreError::Decode { column: i, reason: "no such column".into() })?;
        T::from_value(v).map_err(|reason| StoreError::Decode { column: i, reason })
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A connection owned by a database thread, handed to query closures.
pub enum Conn {
    Sqlite(rusqlite::Connection),
    Postgres(Box<PgConn>),
}

pub struct PgConn {
    pub(crate) client: postgres::Client,
    pub(crate) statements: HashMap<String, postgres::Statement>,
}

impl Conn {
    pub fn engine(&self) -> Engine {
        match self {
            Conn::Sqlite(_) => Engine::Sqlite,
            Conn::Postgres(_) => Engine::Postgres,
        }
    }

    /// Runs a statement; returns the number of rows changed.
    pub fn execute(&mut self, sql: &str, args: &[Value]) -> Result<u64> {
        match self {
            Conn::Sqlite(c) => Ok(crate::sqlite::execute(c, sql, args)? as u64),
            Conn::Postgres(c) => {
                let stmt = c.prepare(sql)?;
                let params = crate::pg::params(args);
                Ok(c.client.execute(&stmt, &params)?)
            }
        }
    }

    pub fn query(&mut self, sql: &str, args: &[Value]) -> Result<Vec<Row>> {
        let mut out = Vec::new();
        self.query_each(sql, args, |r| {
            out.push(r);
            Ok(())
        })?;
        Ok(out)
    }

    /// As [`Conn::query`], handing each row to `f` as it is read instead of
    /// collecting them: a report that folds hundreds of thousands of rows
    /// into a few figures holds one row at a time, not all of them.
    pub fn query_each(&mut self, sql: &str, args: &[Value], mut f: impl FnMut(Row) -> Result<()>) -> Result<()> {
        match self {
            Conn::Sqlite(c) => {
                let mut stmt = c.prepare_cached(&crate::sqlite::positional(sql))?;
                crate::sqlite::bind(&mut stmt, args)?;
                let n = stmt.column_count();
                let mut rows = stmt.raw_query();
                while let Some(r) = rows.next()? {
                    let mut vals = Vec::with_capacity(n);
                    for i in 0..n {
                        vals.push(crate::sqlite::value(r.get_ref(i)?));
                    }
                    f(Row(vals))?;
                }
                Ok(())
            }
            Conn::Postgres(c) => {
                let stmt = c.prepare(sql)?;
                let mut rows = c.client.query_raw(&stmt, crate::pg::params(args))?;
                while let Some(r) = postgres::fallible_iterator::FallibleIterator::next(&mut rows)? {
                    f(crate::pg::row(&r)?)?;
                }
                Ok(())
            }
        }
    }

    pub fn query_opt(&mut self, sql: &str, args: &[Value]) -> Result<Option<Row>> {
        Ok(self.query(sql, args)?.into_iter().next())
    }

    pub fn query_one(&mut self, sql: &str, args: &[Value]) -> Result<Row> {
        self.query_opt(sql, args)?.ok_or(StoreError::NotFound)
    }

    /// Inserts one row (`sql`: a single-row INSERT without `RETURNING` or
    /// `ON CONFLICT`) and answers its `id`. SQLite reads the id back with
    /// `last_insert_rowid()` instead: `RETURNING` makes it treat the INSERT
    /// as one that may write several rows, so that a table with foreign
    /// keys gets a statement journal — every page the insert touches copied
    /// in memory first, a fifth of a ticket's insert (BENCHMARKS.md,
    /// Tickets). Without it SQLite checks the foreign keys before it writes
    /// anything (and the unique keys, as always), so a refused row still
    /// leaves nothing behind.
    pub fn insert_id(&mut self, sql: &str, args: &[Value]) -> Result<i64> {
        match self {
            Conn::Sqlite(c) => {
                crate::sqlite::execute(c, sql, args)?;
                Ok(c.last_insert_rowid())
            }
            Conn::Postgres(_) => self.scalar(&format!("{sql} RETURNING id"), args),
        }
    }

    /// The first column of the first row.
    pub fn scalar<T: FromValue>(&mut self, sql: &str, args: &[Value]) -> Result<T> {
        self.query_one(sql, args)?.get(0)
    }

    /// Runs several statements without parameters (migrations).
    pub fn batch(&mut self, sql: &str) -> Result<()> {
        match self {
            Conn::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Conn::Postgres(c) => Ok(c.client.batch_execute(sql)?),
        }
    }
}

impl PgConn {
    fn prepare(&mut self, sql: &str) -> Result<postgres::Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        if self.statements.len() > 512 {
            self.statements.clear();
        }
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

/// `($1, $2), ($3, $4), …`: placeholders for `rows` rows of `cols` values.
pub fn values_list(cols: usize, rows: usize) -> String {
    use std::fmt::Write as _;
    let mut sql = String::with_capacity(rows * cols * 8);
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for k in 0..cols {
            if k > 0 {
                sql.push_str(", ");
            }
            // Writing into a String cannot fail.
            let _ = write!(sql, "${}", r * cols + k + 1);
        }
        sql.push(')');
    }
    sql
}

/// Inserts many rows with as few statements as possible: `head` is
/// `INSERT INTO t (a, b) VALUES`, `values` holds `cols` values per row, and
/// `tail` is appended to each statement (e.g. `ON CONFLICT DO NOTHING`).
pub fn insert_rows(c: &mut Conn, head: &str, cols: usize, values: Vec<Value>, tail: &str) -> Result<()> {
    insert_chunks(c, head, cols, values, tail, |c, sql, chunk| c.execute(sql, chunk).map(|_| ()))
}

/// [`insert_rows`] with a `RETURNING …` tail: the rows the statements return.
pub fn insert_rows_returning(
    c: &mut Conn,
    head: &str,
    cols: usize,
    values: Vec<Value>,
    tail: &str,
) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    insert_chunks(c, head, cols, values, tail, |c, sql, chunk| {
        out.extend(c.query(sql, chunk)?);
        Ok(())
    })?;
    Ok(out)
}

fn insert_chunks(
    c: &mut Conn,
    head: &str,
    cols: usize,
    values: Vec<Value>,
    tail: &str,
    mut run: impl FnMut(&mut Conn, &str, &[Value]) -> Result<()>,
) -> Result<()> {
    if cols == 0 || values.is_empty() {
        return Ok(());
    }
    // Both engines take well over 30,000 parameters per statement.
    let per_statement = (30_000 / cols).clamp(1, 1_000);
    // On SQLite, OR FAIL: a violation still fails the statement (and the
    // caller's write rolls back), but SQLite need not keep a statement
    // journal to undo the statement's earlier rows, which costs a bulk
    // write a copy of every page it touches (unless foreign keys are
    // enforced: see `Db::write_bulk`).
    let or_fail;
    let head = match (c.engine(), head.strip_prefix("INSERT INTO ")) {
        (Engine::Sqlite, Some(rest)) => {
            or_fail = format!("INSERT OR FAIL INTO {rest}");
            or_fail.as_str()
        }
        _ => head,
    };
    let total = values.len() / cols;
    let mut done = 0;
    // Each statement's text, built once per shape (on SQLite with `?n`
    // already, so that running it copies nothing). No allocation of the
    // size of a statement per statement: each one (a list of its values, its
    // text) made the allocator merge every small block freed since the last
    // one, a tenth of a bulk write's time.
    let mut shapes: Vec<(usize, String)> = Vec::new();
    while done < total {
        // Few distinct statement shapes, so that prepared statements are reused.
        let left = total - done;
        let n = [per_statement, 256, 64, 16, 4, 1].into_iter().find(|k| *k <= left && *k <= per_statement).unwrap_or(1);
        let i = match shapes.iter().position(|(k, _)| *k == n) {
            Some(i) => i,
            None => {
                let sql = format!("{head} {} {tail}", values_list(cols, n));
                let sql = match c.engine() {
                    Engine::Sqlite => crate::sqlite::positional(&sql).into_owned(),
                    Engine::Postgres => sql,
                };
                shapes.push((n, sql));
                shapes.len() - 1
            }
        };
        let chunk = values.get(done * cols..(done + n) * cols).unwrap_or_default();
        run(c, &shapes[i].1, chunk)?;
        done += n;
    }
    Ok(())
}

/// Takes `n` fresh ids of `table` (whose key column is `id`) inside the
/// caller's write transaction, so that a bulk insert knows every row's id
/// without one round trip per row. On SQLite the single writer makes
/// `MAX(id)` safe; on PostgreSQL the identity sequence hands them out.
pub fn reserve_ids(c: &mut Conn, table: &str, n: usize) -> Result<Vec<i64>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let count = i64::try_from(n).map_err(|e| StoreError::Other(e.to_string()))?;
    match c.engine() {
        Engine::Sqlite => {
            let max: i64 = c.scalar(&format!("SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM {table}"), &[])?;
            Ok((max + 1..=max + count).collect())
        }
        Engine::Postgres => c
            .query(
                "SELECT nextval(pg_get_serial_sequence($1, 'id')) FROM generate_series(1, $2)",
                &[Value::Text(table.to_string()), Value::I64(count)],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect(),
    }
}
