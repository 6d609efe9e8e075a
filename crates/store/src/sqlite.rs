//! The SQLite engine: one writer thread that owns the only write connection
//! and group-commits whatever is queued, and a pool of reader threads with
//! read-only connections. WAL mode, so readers never wait for the writer.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crossbeam_channel::{Receiver, Sender};
use rusqlite::{OpenFlags, types::ValueRef};
use tokio::sync::oneshot;

use crate::sql::{Conn, Engine, Value};
use crate::{DbOptions, Result, StoreError, migrate, routing};

/// A queued write. It runs inside the writer's transaction and answers its
/// caller once that transaction has ended.
trait Write: Send {
    /// Whether it may run again after a rollback (see
    /// [`crate::Db::write_repeatable`]): such writes share a transaction
    /// without a savepoint each.
    fn repeatable(&self) -> bool;
    /// Runs the write and keeps its result; whether it succeeded. A
    /// repeatable write may be attempted again after a rollback, and the
    /// last attempt's result is the answer.
    fn attempt(&mut self, conn: &mut Conn) -> bool;
    /// Answers the caller: its result, or the COMMIT's error.
    fn finish(self: Box<Self>, commit: Result<(), String>);
}

/// A write's last result and where its answer goes.
struct Reply<T> {
    result: Option<Result<T>>,
    tx: oneshot::Sender<Result<T>>,
}

impl<T> Reply<T> {
    fn new(tx: oneshot::Sender<Result<T>>) -> Self {
        Self { result: None, tx }
    }

    /// Keeps a run's result; whether it succeeded.
    fn keep(&mut self, r: Result<T>) -> bool {
        let ok = r.is_ok();
        self.result = Some(r);
        ok
    }

    /// The kept result once COMMIT has returned, or COMMIT's error.
    fn send(self, commit: Result<(), String>) {
        let r = self.result.unwrap_or(Err(StoreError::WorkerGone));
        let _ = self.tx.send(match commit {
            Ok(()) => r,
            Err(e) => Err(StoreError::Commit(e)),
        });
    }
}

/// A write of [`crate::Db::write`] or [`crate::Db::write_bulk`]: runs once.
struct Once<T, F> {
    f: Option<F>,
    reply: Reply<T>,
}

/// A write of [`crate::Db::write_repeatable`].
struct Again<T, F> {
    f: F,
    reply: Reply<T>,
}

impl<T: Send, F: FnOnce(&mut Conn) -> Result<T> + Send> Write for Once<T, F> {
    fn repeatable(&self) -> bool {
        false
    }
    fn attempt(&mut self, conn: &mut Conn) -> bool {
        self.f.take().is_some_and(|f| self.reply.keep(f(conn)))
    }
    fn finish(self: Box<Self>, commit: Result<(), String>) {
        self.reply.send(commit);
    }
}

impl<T: Send, F: Fn(&mut Conn) -> Result<T> + Send> Write for Again<T, F> {
    fn repeatable(&self) -> bool {
        true
    }
    fn attempt(&mut self, conn: &mut Conn) -> bool {
        self.reply.keep((self.f)(conn))
    }
    fn finish(self: Box<Self>, commit: Result<(), String>) {
        self.reply.send(commit);
    }
}

/// A queued write; a bulk one runs alone in its transaction with
/// foreign-key enforcement off (see [`crate::Db::write_bulk`]).
struct WriteJob {
    write: Box<dyn Write>,
    bulk: bool,
}
type ReadJob = Box<dyn FnOnce(&mut Conn) + Send>;

/// Upper bound on writes committed together.
const MAX_BATCH: usize = 512;

#[derive(Clone)]
pub(crate) struct SqliteDb {
    writer: Sender<WriteJob>,
    readers: Sender<ReadJob>,
    users: Arc<UsersEpoch>,
    _threads: Arc<ThreadsGuard>,
}

/// The tables a signed-in user is read from (see [`crate::Db::users_epoch`]).
const USER_TABLES: [&str; 3] = ["users", "api_tokens", "groups"];

/// Counts the committed transactions that changed a row of
/// [`USER_TABLES`]: the writer connection's update hook marks the open
/// transaction, and the writer moves the count on once its COMMIT (or
/// ROLLBACK) has returned and before it answers any of the transaction's
/// callers. A reader that noted the count before its read transaction
/// began and finds it unchanged afterwards read no user row older than the
/// latest such commit.
#[derive(Default)]
struct UsersEpoch {
    touched: AtomicBool,
    epoch: AtomicU64,
}

impl UsersEpoch {
    /// Called by the writer after every COMMIT or ROLLBACK.
    fn settle(&self) {
        if self.touched.swap(false, Ordering::SeqCst) {
            self.epoch.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Closing the channels (dropping the senders) ends the threads; dropping
/// the guard's sender ends the checkpointer.
struct ThreadsGuard {
    _stop_checkpoints: Sender<()>,
}

fn open_conn(path: &Path, read_only: bool, options: &DbOptions) -> Result<rusqlite::Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI
    };
    let conn = rusqlite::Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.set_prepared_statement_cache_capacity(256);
    // The writer keeps more pages: bulk writes into large indexes (search
    // digests, name grams) touch pages all over them. Readers sort in
    // temporary files (cached by the OS, not held by the process): a
    // report's GROUP BY over millions of rows would otherwise hold them all
    // in the process's memory.
    let (cache_mb, temp_store) =
        if read_only { (options.sqlite_reader_cache_mb, "FILE") } else { (options.sqlite_writer_cache_mb, "MEMORY") };
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = ON; PRAGMA temp_store = {temp_store}; PRAGMA cache_size = -{}; PRAGMA synchronous = {};",
        u64::from(cache_mb.max(1)) * 1024,
        if options.sqlite_full_sync { "FULL" } else { "NORMAL" }
    ))?;
    if !read_only {
        // The writer checkpoints only past [`AUTOCHECKPOINT`] pages of WAL
        // (SQLite's default is 1,000): the checkpointer thread copies the
        // WAL on the other core, and a checkpoint by the writer holds up
        // every queued write.
        conn.execute_batch(&format!("PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT};"))?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Config(format!("SQLite refused WAL mode (got {mode})")));
        }
    }
    Ok(conn)
}

impl SqliteDb {
    pub(crate) fn open(path: &Path, options: &DbOptions) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Config(format!("cannot create {}: {e}", dir.display())))?;
        }
        let write_conn = open_conn(path, false, options)?;
        // Process-wide: set once, from the writer's connection.
        let limit = i64::from(options.sqlite_soft_heap_mb) * 1024 * 1024;
        write_conn.query_row(&format!("PRAGMA soft_heap_limit = {limit}"), [], |_| Ok(()))?;
        let mut write = Conn::Sqlite(write_conn);
        migrate::apply_outside_transaction(&mut write, Engine::Sqlite)?;
        let users = Arc::new(UsersEpoch::default());
        if let Conn::Sqlite(c) = &write {
            let marks = users.clone();
            c.update_hook(Some(move |_: rusqlite::hooks::Action, _: &str, table: &str, _: i64| {
                if USER_TABLES.contains(&table) {
                    marks.touched.store(true, Ordering::SeqCst);
                }
                if routing::memo::reads(table) {
                    routing::memo::changed();
                }
            }));
        }

        let (wtx, wrx) = crossbeam_channel::unbounded::<WriteJob>();
        let epoch = users.clone();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(write, wrx, &epoch))
            .map_err(|e| StoreError::Other(format!("cannot start writer thread: {e}")))?;

        let (rtx, rrx) = crossbeam_channel::unbounded::<ReadJob>();
        for i in 0..options.pool_size.max(1) {
            let conn = Conn::Sqlite(open_conn(path, true, options)?);
            let rx = rrx.clone();
            std::thread::Builder::new()
                .name(format!("sqlite-reader-{i}"))
                .spawn(move || reader_loop(conn, rx))
                .map_err(|e| StoreError::Other(format!("cannot start reader thread: {e}")))?;
        }
        // Checkpoints run beside the writer: a PASSIVE checkpoint takes no
        // lock a writer or a reader waits for, so the copy of WAL frames
        // into the database and its fsync no longer stall every queued
        // write (the writer's own autocheckpoint stays as a safety net).
        let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);
        let ckpt = open_conn(path, false, options)?;
        std::thread::Builder::new()
            .name("sqlite-checkpointer".into())
            .spawn(move || checkpoint_loop(&ckpt, &stop_rx))
            .map_err(|e| StoreError::Other(format!("cannot start checkpointer thread: {e}")))?;
        Ok(Self { writer: wtx, readers: rtx, users, _threads: Arc::new(ThreadsGuard { _stop_checkpoints: stop_tx }) })
    }

    /// See [`crate::Db::users_epoch`].
    pub(crate) fn users_epoch(&self) -> u64 {
        self.users.epoch.load(Ordering::SeqCst)
    }

    pub(crate) async fn write<T, F>(&self, bulk: bool, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<T> + Send + 'static,
    {
        self.submit(bulk, |tx| Box::new(Once { f: Some(f), reply: Reply::new(tx) })).await
    }

    /// See [`crate::Db::write_repeatable`].
    pub(crate) async fn write_repeatable<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(&mut Conn) -> Result<T> + Send + 'static,
    {
        self.submit(false, |tx| Box::new(Again { f, reply: Reply::new(tx) })).await
    }

    /// Queues a write made around the sender of its answer and waits for it.
    async fn submit<T: Send + 'static>(
        &self,
        bulk: bool,
        make: impl FnOnce(oneshot::Sender<Result<T>>) -> Box<dyn Write>,
    ) -> Result<T> {
        let (tx, rx) = oneshot::channel::<Result<T>>();
        self.writer.send(WriteJob { write: make(tx), bulk }).map_err(|_| StoreError::WorkerGone)?;
        rx.await.map_err(|_| StoreError::WorkerGone)?
    }

    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T>>();
        let job: ReadJob = Box::new(move |conn| {
            let r = (|| {
                control(conn, "BEGIN")?;
                let r = f(conn);
                control(conn, "COMMIT")?;
                r
            })();
            let _ = tx.send(r);
        });
        self.readers.send(job).map_err(|_| StoreError::WorkerGone)?;
        rx.await.map_err(|_| StoreError::WorkerGone)?
    }
}

fn writer_loop(mut conn: Conn, rx: Receiver<WriteJob>, users: &UsersEpoch) {
    routing::memo::enable();
    let mut data_version = None;
    // A bulk write taken off the queue while collecting a group waits for
    // the group's COMMIT and then runs alone.
    let mut next: Option<WriteJob> = None;
    loop {
        let first = match next.take() {
            Some(job) => job,
            None => match rx.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        if first.bulk {
            run_bulk(&mut conn, first.write, users, &mut data_version);
            continue;
        }
        let mut batch = vec![first.write];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) if job.bulk => {
                    next = Some(job);
                    break;
                }
                Ok(job) => batch.push(job.write),
                Err(_) => break,
            }
        }
        if let Err(e) = control(&mut conn, "BEGIN IMMEDIATE") {
            tracing::error!(error = %e, "sqlite writer could not begin");
            // Each job's sender is dropped with it: its caller sees WorkerGone.
            continue;
        }
        note_other_commits(&conn, &mut data_version);
        if batch.len() == 1
            && let Some(job) = batch.pop()
        {
            run_alone(&mut conn, job, users);
            continue;
        }
        run_group(&mut conn, batch, users);
    }
}

/// Runs a group of writes in the open transaction and commits them
/// together. The repeatable ones go first, without a savepoint each (a
/// savepoint copies every page a write touches to a journal in memory, a
/// tenth of a ticket's creation): if one of them fails, the transaction is
/// rolled back and begun again, and every write then runs in a savepoint
/// of its own, so that one failure undoes only itself.
fn run_group(conn: &mut Conn, mut batch: Vec<Box<dyn Write>>, users: &UsersEpoch) {
    // Stable: the callers' order is kept within each kind. The writes of
    // one group come from concurrent callers, so any order is theirs.
    batch.sort_by_key(|w| !w.repeatable());
    let unguarded = batch.iter().take_while(|w| w.repeatable()).count();
    let mut jobs: Vec<Option<Box<dyn Write>>> = batch.into_iter().map(Some).collect();
    let mut guarded_from = 0;
    if unguarded > 0 {
        match run_unguarded(conn, &mut jobs[..unguarded]) {
            Ok(()) => guarded_from = unguarded,
            Err(()) => {
                undo(conn, "ROLLBACK");
                users.settle();
                if let Err(e) = control(conn, "BEGIN IMMEDIATE") {
                    tracing::error!(error = %e, "sqlite writer could not begin again");
                    return;
                }
            }
        }
    }
    for slot in &mut jobs[guarded_from..] {
        let Some(job) = slot else { continue };
        if let Err(e) = control(conn, "SAVEPOINT w") {
            tracing::error!(error = %e, "sqlite savepoint failed");
            *slot = None;
            continue;
        }
        match catch_unwind(AssertUnwindSafe(|| job.attempt(conn))) {
            Ok(true) => {
                let _ = control(conn, "RELEASE w");
            }
            Ok(false) => {
                undo(conn, "ROLLBACK TO w; RELEASE w");
            }
            Err(_) => {
                tracing::error!("a write job panicked; its changes were rolled back");
                undo(conn, "ROLLBACK TO w; RELEASE w");
                *slot = None;
            }
        }
    }
    let commit = control(conn, "COMMIT").map_err(|e| e.to_string());
    if commit.is_err() {
        undo(conn, "ROLLBACK");
    }
    users.settle();
    for job in jobs.into_iter().flatten() {
        job.finish(commit.clone());
    }
}

/// Runs repeatable writes one after the other in the open transaction;
/// `Err` as soon as one fails (one that panicked is dropped: its caller
/// sees [`StoreError::WorkerGone`]).
fn run_unguarded(conn: &mut Conn, jobs: &mut [Option<Box<dyn Write>>]) -> std::result::Result<(), ()> {
    for slot in jobs {
        let Some(job) = slot else { continue };
        match catch_unwind(AssertUnwindSafe(|| job.attempt(conn))) {
            Ok(true) => {}
            Ok(false) => return Err(()),
            Err(_) => {
                tracing::error!("a write job panicked; its group is run again without it");
                *slot = None;
                return Err(());
            }
        }
    }
    Ok(())
}

/// Runs one write as the whole of the open transaction and ends it. Alone,
/// it needs no savepoint: a failure rolls the transaction back. (Inside a
/// savepoint SQLite first copies every page a write touches to a journal in
/// memory, which costs a bulk write into large indexes much of its time.)
fn run_alone(conn: &mut Conn, mut job: Box<dyn Write>, users: &UsersEpoch) {
    match catch_unwind(AssertUnwindSafe(|| job.attempt(conn))) {
        Ok(true) => {
            let commit = control(conn, "COMMIT").map_err(|e| e.to_string());
            if commit.is_err() {
                undo(conn, "ROLLBACK");
            }
            users.settle();
            job.finish(commit);
        }
        Ok(false) => {
            undo(conn, "ROLLBACK");
            users.settle();
            job.finish(Ok(()));
        }
        Err(_) => {
            tracing::error!("a write job panicked; its changes were rolled back");
            undo(conn, "ROLLBACK");
            users.settle();
        }
    }
}

/// A bulk write: alone in its transaction, with foreign keys not enforced
/// (the pragma only changes between transactions), so that SQLite needs no
/// statement journal for its multi-row INSERTs.
///
/// Its commit does not checkpoint unless the WAL has grown past
/// [`BULK_AUTOCHECKPOINT`] pages: a bulk write commits tens of thousands of
/// pages at once, past the writer's usual threshold every time, and the
/// checkpointer thread copies them on the other core while the writer goes
/// on with the next write (the copy was an eighth of an import's writer).
fn run_bulk(conn: &mut Conn, job: Box<dyn Write>, users: &UsersEpoch, data_version: &mut Option<i64>) {
    let begin =
        format!("PRAGMA foreign_keys = OFF; PRAGMA wal_autocheckpoint = {BULK_AUTOCHECKPOINT}; BEGIN IMMEDIATE");
    let restore = format!("PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT}");
    if let Err(e) = conn.batch(&begin) {
        tracing::error!(error = %e, "sqlite writer could not begin a bulk write");
        let _ = conn.batch(&restore);
        return;
    }
    note_other_commits(conn, data_version);
    run_alone(conn, job, users);
    if let Err(e) = conn.batch(&restore) {
        tracing::error!(error = %e, "sqlite writer could not enforce foreign keys again");
    }
}

/// The writer's own checkpoint threshold in WAL pages (see `open_conn`).
/// 50,000 pages (200 MB): reached only when the checkpointer falls behind
/// or the WAL cannot start over (readers in it all the time). At 10,000,
/// creating tickets at 32 connections had the writer checkpoint after
/// almost every commit: 7 % of its time, with an fsync each.
const AUTOCHECKPOINT: u32 = 50_000;
/// The same after a bulk write (see [`run_bulk`]): 400 MB of WAL, reached
/// only if the checkpointer falls behind.
const BULK_AUTOCHECKPOINT: u32 = 100_000;

/// Every 200 ms, copies what the WAL holds into the database file.
fn checkpoint_loop(conn: &rusqlite::Connection, stop: &Receiver<()>) {
    loop {
        match stop.recv_timeout(std::time::Duration::from_millis(200)) {
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "sqlite checkpoint failed");
        }
    }
}

/// Rolls back the writer's transaction or savepoint: the writer's memos
/// may hold what was undone.
fn undo(conn: &mut Conn, sql: &str) {
    let _ = conn.batch(sql);
    routing::memo::forget();
}

/// Empties the writer's memos when another connection (a command run
/// beside the server) has committed since the writer's last look: the
/// update hook sees only the writer's own changes.
fn note_other_commits(conn: &Conn, seen: &mut Option<i64>) {
    let Conn::Sqlite(c) = conn else { return };
    let version = c.prepare_cached("PRAGMA data_version").and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)));
    match version {
        Ok(v) if *seen == Some(v) => {}
        Ok(v) => {
            *seen = Some(v);
            routing::memo::forget();
        }
        Err(e) => {
            tracing::warn!(error = %e, "sqlite data_version failed");
            *seen = None;
            routing::memo::forget();
        }
    }
}

/// Runs a transaction-control statement (`BEGIN`, `COMMIT`, `SAVEPOINT w`,
/// `RELEASE w`) from the connection's statement cache: every read and every
/// write runs two or more of them, and `execute_batch` would parse and
/// compile each again.
fn control(conn: &mut Conn, sql: &'static str) -> Result<()> {
    match conn {
        Conn::Sqlite(c) => {
            c.prepare_cached(sql)?.raw_execute()?;
            Ok(())
        }
        Conn::Postgres(_) => conn.batch(sql),
    }
}

fn reader_loop(mut conn: Conn, rx: Receiver<ReadJob>) {
    while let Ok(job) = rx.recv() {
        if catch_unwind(AssertUnwindSafe(|| job(&mut conn))).is_err() {
            tracing::error!("a read job panicked");
        }
        // A failed job may leave its read transaction open.
        if let Conn::Sqlite(c) = &conn
            && !c.is_autocommit()
        {
            let _ = c.execute_batch("ROLLBACK");
        }
    }
}

/// `$1` → `?1`: SQLite binds `?NNN` by number, while a `$name` parameter
/// is looked up by name, linear in the number of parameters (quadratic
/// over a multi-row INSERT). Our SQL has `$` only in placeholders.
pub(crate) fn positional(sql: &str) -> std::borrow::Cow<'_, str> {
    if sql.contains('$') { std::borrow::Cow::Owned(sql.replace('$', "?")) } else { std::borrow::Cow::Borrowed(sql) }
}

/// Binds argument i to `?i+1` (the order of placeholders in the text, and
/// repeats, do not matter).
/// Runs one statement through the statement cache; the rows it changed.
pub(crate) fn execute(c: &rusqlite::Connection, sql: &str, args: &[Value]) -> Result<usize> {
    let mut stmt = c.prepare_cached(&positional(sql))?;
    bind(&mut stmt, args)?;
    Ok(stmt.raw_execute()?)
}

pub(crate) fn bind(stmt: &mut rusqlite::CachedStatement<'_>, args: &[Value]) -> Result<()> {
    stmt.clear_bindings();
    // The SQL reached SQLite with `$n` rewritten to `?n` (see
    // [`positional`]): argument i binds to parameter i + 1, no name lookup.
    let n = stmt.parameter_count();
    for (i, v) in args.iter().enumerate() {
        let idx = i + 1;
        if idx > n {
            break;
        }
        match v {
            Value::Null => stmt.raw_bind_parameter(idx, rusqlite::types::Null)?,
            Value::I64(x) => stmt.raw_bind_parameter(idx, x)?,
            Value::F64(x) => stmt.raw_bind_parameter(idx, x)?,
            Value::Bool(x) => stmt.raw_bind_parameter(idx, i64::from(*x))?,
            Value::Text(x) => stmt.raw_bind_parameter(idx, x.as_str())?,
            Value::Bytes(x) => stmt.raw_bind_parameter(idx, x.as_slice())?,
        }
    }
    Ok(())
}

pub(crate) fn value(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::I64(i),
        ValueRef::Real(f) => Value::F64(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
    }
}
