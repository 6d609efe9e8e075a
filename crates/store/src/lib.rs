//! The only crate that speaks SQL. One API over two engines: embedded SQLite
//! (the default, a file in the data directory) and PostgreSQL (when
//! `DATABASE_URL` says so).
//!
//! Both engines are driven the same way: a closure that receives a
//! [`Conn`] runs on a thread that owns a connection. Query functions in the
//! modules below are written once, with `$1` placeholders and portable SQL,
//! and run on either engine. On SQLite one writer thread group-commits the
//! queued writes; reads go to a pool of read-only connections.

mod error;
pub mod migrate;
mod pg;
mod sql;
mod sqlite;

pub mod audit;
pub mod backup;
pub mod bulk_load;
pub mod calendar;
pub mod communications;
pub mod complaints;
pub mod contacts;
pub mod customers;
pub mod escalation;
pub mod jobs;
pub mod knowledge;
pub mod kpi;
pub mod kpi_targets;
pub mod maintenance;
pub mod needs;
pub mod notifications;
pub mod orders;
pub mod outreach;
pub mod privacy;
pub mod routing;
pub mod rule_tags;
pub mod search;
pub mod segments;
pub mod settings;
pub mod testing;
pub mod tickets;
pub mod timeline;
pub mod users;

use std::path::PathBuf;

pub use error::StoreError;
pub use sql::{Conn, Engine, FromValue, Row, Value, insert_rows};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Where the data lives.
#[derive(Clone)]
pub enum DbTarget {
    Sqlite(PathBuf),
    Postgres(String),
}

impl std::fmt::Debug for DbTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbTarget::Sqlite(p) => write!(f, "sqlite:{}", p.display()),
            DbTarget::Postgres(url) => write!(f, "postgres:{}", redact_url(url)),
        }
    }
}

/// Hides the password of a connection URL for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl DbTarget {
    /// Reads `DATABASE_URL`-style text. Only `postgres://`, `postgresql://`
    /// and `sqlite://` are accepted, so a typo cannot silently create a new
    /// empty database somewhere.
    pub fn parse(url: &str) -> Result<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DbTarget::Postgres(url.to_string()))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            Ok(DbTarget::Sqlite(PathBuf::from(path)))
        } else {
            Err(StoreError::Config(format!(
                "DATABASE_URL must start with postgres:// or sqlite:// (got {})",
                redact_url(url)
            )))
        }
    }
}

#[derive(Debug, Clone)]
pub struct DbOptions {
    /// SQLite reader threads, or PostgreSQL connections.
    pub pool_size: usize,
    /// SQLite `synchronous=FULL` (survives power loss) instead of NORMAL
    /// (survives a process crash).
    pub sqlite_full_sync: bool,
    /// The SQLite writer's page cache, MiB. Bulk writes into large indexes
    /// (imports, recomputes, the bench generator) want a large one; a
    /// serving process a small one, since the operating system caches the
    /// file anyway and the cache counts in the process's memory.
    pub sqlite_writer_cache_mb: u32,
    /// Each SQLite reader's page cache, MiB. Readers sort on disk (temporary
    /// files), so a report's large sort does not grow the process.
    pub sqlite_reader_cache_mb: u32,
    /// SQLite's soft heap limit, MiB, for the whole process (0: none). Near
    /// it, SQLite recycles page-cache pages instead of allocating more and
    /// its sorters spill to temporary files, so every cache together stays
    /// about this size whatever the queries do.
    pub sqlite_soft_heap_mb: u32,
}

impl DbOptions {
    /// The writer's cache for bulk commands (import, recompute, generate).
    pub const BULK_WRITER_CACHE_MB: u32 = 256;
    /// The writer's cache for a serving process: 16 MiB kept the server's
    /// peak under the scale-1 mixed load at 140–142 MB where 32 MiB took
    /// 177–178 MB, with ticket creation no slower (BENCHMARKS.md).
    pub const SERVE_WRITER_CACHE_MB: u32 = 16;
    /// SQLite's soft heap limit for a serving process (BENCHMARKS.md,
    /// Server memory at scale 1).
    pub const SERVE_SOFT_HEAP_MB: u32 = 32;
}

impl Default for DbOptions {
    fn default() -> Self {
        Self {
            pool_size: 4,
            sqlite_full_sync: false,
            sqlite_writer_cache_mb: Self::BULK_WRITER_CACHE_MB,
            sqlite_reader_cache_mb: 8,
            sqlite_soft_heap_mb: 0,
        }
    }
}

/// A handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    inner: DbInner,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Db({:?})", self.engine())
    }
}

#[derive(Clone)]
enum DbInner {
    Sqlite(sqlite::SqliteDb),
    Postgres(pg::PgDb),
}

impl Db {
    /// Opens the database and applies the embedded migrations.
    pub fn open(target: &DbTarget, options: &DbOptions) -> Result<Self> {
        let inner = match target {
            DbTarget::Sqlite(path) => DbInner::Sqlite(sqlite::SqliteDb::open(path, options)?),
            DbTarget::Postgres(url) => DbInner::Postgres(off_runtime(|| pg::PgDb::open(url, options))?),
        };
        Ok(Self { inner })
    }

    pub fn engine(&self) -> Engine {
        match self.inner {
            DbInner::Sqlite(_) => Engine::Sqlite,
            DbInner::Postgres(_) => Engine::Postgres,
        }
    }

    /// Runs `f` in one write transaction. On SQLite the writer thread may
    /// commit it together with other queued writes; the future resolves only
    /// after COMMIT returned. An error from `f` rolls back its own changes.
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<T> + Send + 'static,
    {
        match &self.inner {
            DbInner::Sqlite(db) => db.write(false, f).await,
            DbInner::Postgres(db) => db.run(true, f).await,
        }
    }

    /// [`Db::write`] for a write that may run more than once: `f` must have
    /// no effect outside the transaction (only the last run's effects are
    /// committed, and its result is the answer). On SQLite the writer then
    /// commits it with other queued writes without a savepoint of its own,
    /// and, should one such write fail, rolls the group back and runs each
    /// again in a savepoint; on PostgreSQL it is [`Db::write`]. For the hot
    /// writes (ticket creation).
    pub async fn write_repeatable<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(&mut Conn) -> Result<T> + Send + 'static,
    {
        match &self.inner {
            DbInner::Sqlite(db) => db.write_repeatable(f).await,
            DbInner::Postgres(db) => db.run(true, f).await,
        }
    }

    /// Runs `read` on a read connection (one read transaction) and then,
    /// unless it answered without writing (`Ok(Err(answer))`), the
    /// repeatable write it returned, as [`Db::write_repeatable`] does. On
    /// SQLite the reader thread queues the write itself: the caller is woken
    /// once, when the write has committed, instead of once between the two
    /// (a thread hand-off less for every ticket created). The read's snapshot
    /// ends before the write begins: the write must check again whatever
    /// must still hold when it commits.
    pub async fn read_then_write<A, T, R, W>(&self, read: R) -> Result<Result<T, A>>
    where
        A: Send + 'static,
        T: Send + 'static,
        R: FnOnce(&mut Conn) -> Result<Result<W, A>> + Send + 'static,
        W: Fn(&mut Conn) -> Result<T> + Send + 'static,
    {
        match &self.inner {
            DbInner::Sqlite(db) => db.read_then_write(read).await,
            DbInner::Postgres(db) => match db.run(false, read).await? {
                Ok(write) => Ok(Ok(db.run(true, write).await?)),
                Err(answer) => Ok(Err(answer)),
            },
        }
    }

    /// Runs a bulk insert (an import batch, the benchmark data set) in one
    /// write transaction. On SQLite it runs alone in its transaction with
    /// foreign keys not enforced, so that its multi-row INSERTs need no
    /// statement journal (a third of the time of a bulk write into large
    /// indexes); `f` must therefore only use the bulk functions
    /// (`customers::insert_many`, `contacts::insert_many`,
    /// `orders::insert_many`, `timeline::append_many`, …), which check the
    /// rows they refer to themselves. On PostgreSQL it is [`Db::write`].
    pub async fn write_bulk<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<T> + Send + 'static,
    {
        match &self.inner {
            DbInner::Sqlite(db) => db.write(true, f).await,
            DbInner::Postgres(db) => db.run(true, f).await,
        }
    }

    /// Runs `f` on a read connection, inside one read transaction (a
    /// consistent snapshot).
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<T> + Send + 'static,
    {
        match &self.inner {
            DbInner::Sqlite(db) => db.read(f).await,
            DbInner::Postgres(db) => db.run(false, f).await,
        }
    }

    /// A count that moves on whenever a committed write changed a user, an
    /// API token or a group, before that write's caller is answered; `None`
    /// when the engine cannot tell (PostgreSQL, where other instances write
    /// too). A caller may keep what it read about a user for as long as the
    /// count it noted before the read is unchanged (the API's token cache).
    /// Writes by another process on the same SQLite file are not seen.
    pub fn users_epoch(&self) -> Option<u64> {
        match &self.inner {
            DbInner::Sqlite(db) => Some(db.users_epoch()),
            DbInner::Postgres(_) => None,
        }
    }

    /// Applies pending migrations (also done by [`Db::open`]).
    pub async fn migrate(&self) -> Result<usize> {
        let engine = self.engine();
        self.write(move |c| migrate::apply(c, engine)).await
    }
}

/// Runs blocking database setup on a plain thread. The synchronous
/// PostgreSQL client starts its own small runtime, which may not happen on a
/// thread that is already inside tokio.
pub(crate) fn off_runtime<T: Send, F: FnOnce() -> Result<T> + Send>(f: F) -> Result<T> {
    std::thread::scope(|s| {
        s.spawn(f).join().unwrap_or_else(|_| Err(StoreError::Other("database setup panicked".into())))
    })
}
