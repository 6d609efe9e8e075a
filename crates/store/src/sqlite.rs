//! The SQLite engine: one writer thread that owns the only write connection
//! and group-commits whatever is queued, and a pool of reader threads with
//! read-only connections. WAL mode, so readers never wait for the writer.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

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

/// How long a connection waits for a lock another one holds.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

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
    conn.busy_timeout(BUSY_TIMEOUT)?;
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
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Config(format!("SQLite refused WAL mode (got {mode})")));
        }
        // No automatic checkpoint at commit: the checkpointer thread copies
        // the WAL on the other core, and the writer only starts the WAL over
        // (see [`WalRestart`]). The hook replaces SQLite's default one.
        conn.wal_hook(Some(note_wal_frames));
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
            }))?;
        }

        let (wtx, wrx) = crossbeam_channel::unbounded::<WriteJob>();
        let epoch = users.clone();
        let progress = Arc::new(WalProgress::default());
        let wal = WalRestart::new(progress.clone());
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(write, wrx, &epoch, wal))
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
        // write. The writer only starts the WAL over ([`WalRestart`]).
        let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);
        let ckpt = open_conn(path, false, options)?;
        let db_file = sync_handle(path)?;
        std::thread::Builder::new()
            .name("sqlite-checkpointer".into())
            .spawn(move || checkpoint_loop(&ckpt, &db_file, &stop_rx, &progress))
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
            let _ = tx.send(in_read_transaction(conn, f));
        });
        self.readers.send(job).map_err(|_| StoreError::WorkerGone)?;
        rx.await.map_err(|_| StoreError::WorkerGone)?
    }

    /// See [`crate::Db::read_then_write`]: the reader thread queues the
    /// write, whose answer goes straight to the caller.
    pub(crate) async fn read_then_write<A, T, R, W>(&self, read: R) -> Result<Result<T, A>>
    where
        A: Send + 'static,
        T: Send + 'static,
        R: FnOnce(&mut Conn) -> Result<Result<W, A>> + Send + 'static,
        W: Fn(&mut Conn) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<Result<T, A>>>();
        let writer = self.writer.clone();
        let job: ReadJob = Box::new(move |conn| match in_read_transaction(conn, read) {
            Ok(Ok(write)) => {
                let write = Again { f: move |c: &mut Conn| write(c).map(Ok), reply: Reply::new(tx) };
                // Should the writer be gone, the answer's sender is dropped
                // with the job: the caller sees WorkerGone.
                let _ = writer.send(WriteJob { write: Box::new(write), bulk: false });
            }
            Ok(Err(answer)) => {
                let _ = tx.send(Ok(Err(answer)));
            }
            Err(e) => {
                let _ = tx.send(Err(e));
            }
        });
        self.readers.send(job).map_err(|_| StoreError::WorkerGone)?;
        rx.await.map_err(|_| StoreError::WorkerGone)?
    }
}

fn writer_loop(mut conn: Conn, rx: Receiver<WriteJob>, users: &UsersEpoch, mut wal: WalRestart) {
    routing::memo::enable();
    let mut data_version = None;
    // A bulk write taken off the queue while collecting a group waits for
    // the group's COMMIT and then runs alone.
    let mut next: Option<WriteJob> = None;
    // Writes of a group whose transaction SQLite rolled back before their
    // turn: they go first in the next one.
    let mut carried: Vec<Box<dyn Write>> = Vec::new();
    loop {
        let mut batch = std::mem::take(&mut carried);
        if batch.is_empty() {
            let first = match next.take() {
                Some(job) => job,
                None => match rx.recv() {
                    Ok(job) => job,
                    Err(_) => return,
                },
            };
            if first.bulk {
                run_bulk(&mut conn, first.write, users, &mut data_version);
                wal.after(&conn, BULK_RESTART_FRAMES, BULK_RESTART_FRAMES);
                continue;
            }
            batch.push(first.write);
        }
        while batch.len() < MAX_BATCH && next.is_none() {
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
        } else {
            carried = run_group(&mut conn, batch, users);
        }
        wal.after(&conn, RESTART_FRAMES, 2 * RESTART_FRAMES);
    }
}

/// Runs a group of writes in the open transaction and commits them
/// together. The repeatable ones go first, without a savepoint each (a
/// savepoint copies every page a write touches to a journal in memory, a
/// tenth of a ticket's creation): if one of them fails, the transaction is
/// rolled back and begun again, and every write then runs in a savepoint
/// of its own, so that one failure undoes only itself.
///
/// Should SQLite itself roll the transaction back (an I/O error, a full
/// disk: it does so on its own, and a statement after it would run, and
/// commit, outside any transaction), the writes that ran in it answer with
/// an error and the ones not yet run are returned, for the next group.
fn run_group(conn: &mut Conn, mut batch: Vec<Box<dyn Write>>, users: &UsersEpoch) -> Vec<Box<dyn Write>> {
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
                    return Vec::new();
                }
            }
        }
    }
    for i in guarded_from..jobs.len() {
        let Some(job) = &mut jobs[i] else { continue };
        if let Err(e) = control(conn, "SAVEPOINT w") {
            tracing::error!(error = %e, "sqlite savepoint failed");
            jobs[i] = None;
            continue;
        }
        let ran = catch_unwind(AssertUnwindSafe(|| job.attempt(conn)));
        if !in_transaction(conn) {
            return lost_transaction(jobs, i, matches!(ran, Ok(false)), users);
        }
        match ran {
            Ok(true) => {
                let _ = control(conn, "RELEASE w");
            }
            Ok(false) => {
                undo(conn, "ROLLBACK TO w; RELEASE w");
            }
            Err(_) => {
                tracing::error!("a write job panicked; its changes were rolled back");
                undo(conn, "ROLLBACK TO w; RELEASE w");
                jobs[i] = None;
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
    Vec::new()
}

/// Whether the writer's transaction is still open.
fn in_transaction(conn: &Conn) -> bool {
    match conn {
        Conn::Sqlite(c) => !c.is_autocommit(),
        Conn::Postgres(_) => true,
    }
}

/// SQLite rolled back the group's transaction while its write `at` ran:
/// that write answers with its own error (if it failed; else with this
/// one), every write before it with an error (what they wrote is gone);
/// the rest are returned to run in the next transaction.
fn lost_transaction(
    mut jobs: Vec<Option<Box<dyn Write>>>,
    at: usize,
    failed: bool,
    users: &UsersEpoch,
) -> Vec<Box<dyn Write>> {
    tracing::error!("sqlite rolled the writer's transaction back");
    routing::memo::forget();
    users.settle();
    let rest = jobs.split_off((at + 1).min(jobs.len()));
    let error = "SQLite rolled the transaction back after a failed write";
    for (i, job) in jobs.into_iter().enumerate() {
        let Some(job) = job else { continue };
        job.finish(if i == at && failed { Ok(()) } else { Err(error.into()) });
    }
    rest.into_iter().flatten().collect()
}

/// Runs repeatable writes one after the other in the open transaction;
/// `Err` as soon as one fails (one that panicked is dropped: its caller
/// sees [`StoreError::WorkerGone`]).
fn run_unguarded(conn: &mut Conn, jobs: &mut [Option<Box<dyn Write>>]) -> std::result::Result<(), ()> {
    for slot in jobs {
        let Some(job) = slot else { continue };
        match catch_unwind(AssertUnwindSafe(|| job.attempt(conn))) {
            // SQLite rolled the transaction back (see [`run_group`]): the
            // writes before it are gone too.
            Ok(true) if !in_transaction(conn) => return Err(()),
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
        // SQLite rolled the transaction back (see [`run_group`]).
        Ok(true) if !in_transaction(conn) => {
            routing::memo::forget();
            users.settle();
            job.finish(Err("SQLite rolled the transaction back".into()));
        }
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
fn run_bulk(conn: &mut Conn, job: Box<dyn Write>, users: &UsersEpoch, data_version: &mut Option<i64>) {
    if let Err(e) = conn.batch("PRAGMA foreign_keys = OFF; BEGIN IMMEDIATE") {
        tracing::error!(error = %e, "sqlite writer could not begin a bulk write");
        let _ = conn.batch("PRAGMA foreign_keys = ON");
        return;
    }
    note_other_commits(conn, data_version);
    run_alone(conn, job, users);
    if let Err(e) = conn.batch("PRAGMA foreign_keys = ON") {
        tracing::error!(error = %e, "sqlite writer could not enforce foreign keys again");
    }
}

thread_local! {
    /// The frames in the WAL after the last commit on this thread (the
    /// writer's WAL hook; SQLite calls it in the committing thread).
    static WAL_FRAMES: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// The writer connection's WAL hook (see `open_conn`).
fn note_wal_frames(_: &rusqlite::hooks::Wal, frames: std::ffi::c_int) -> rusqlite::Result<()> {
    WAL_FRAMES.set(u32::try_from(frames).unwrap_or(0));
    Ok(())
}

/// WAL frames (pages) past which the writer starts the WAL over, 400 MB:
/// at 7,000 tickets a second (55,000 frames), about every 2 seconds. It
/// waits until the checkpointer has copied all but a twentieth (5,000
/// frames): each restart holds up every queued write while it copies what
/// is left, about 5 ms a thousand frames at scale 1 (BENCHMARKS.md,
/// Tickets, session 14).
const RESTART_FRAMES: u32 = 100_000;
/// The same after a bulk write, which commits tens of thousands of pages
/// at once: 400 MB, so that the checkpointer thread, not the writer, copies
/// an import's pages (the copy was an eighth of an import's writer).
const BULK_RESTART_FRAMES: u32 = 100_000;
/// How often the checkpointer thread copies the WAL.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(50);
/// How long a restart waits for the readers still in the WAL.
const RESTART_WAIT: std::time::Duration = std::time::Duration::from_millis(20);

/// Starts the WAL over once it is long. SQLite reuses the WAL from its
/// start only when a write transaction begins after every frame has been
/// copied into the database and no reader is in the WAL. Under a steady
/// stream of writes the checkpointer thread never copies the last frame
/// before the next commit, so the WAL only grew: with SQLite's automatic
/// checkpoint (past 50,000 pages) the writer then copied and synced after
/// every commit until a restart happened to succeed, holding up every
/// queued write (BENCHMARKS.md, Tickets, session 12); without any, the WAL
/// would grow as long as the writes go on.
///
/// Instead the writer, between two transactions, runs one RESTART
/// checkpoint once the WAL is past its threshold and the checkpointer has
/// copied all but a twentieth of it: the writer copies the rest, waits a
/// moment for the readers, and its next transaction writes at the WAL's
/// start again. Past a limit (twice the threshold; after a bulk write, the
/// threshold) it does so whatever is left.
struct WalRestart {
    progress: Arc<WalProgress>,
    /// The WAL's frames after the previous commit: fewer now means that
    /// the WAL started over.
    last: u32,
    /// Frames to reach before trying again after a failed attempt.
    retry_at: u32,
}

/// What the checkpointer thread tells the writer: how many frames of the
/// WAL it has copied, tagged with the writer's count of restarts so that a
/// count from before a restart is not taken for the new WAL's.
#[derive(Default)]
struct WalProgress {
    /// The WAL's restarts, as the writer has seen them.
    restarts: AtomicU32,
    /// `restarts << 32 | frames copied`, from the checkpointer's last pass.
    copied: AtomicU64,
}

/// What one checkpoint pass did.
struct Pass {
    /// The writer's count of restarts when it began.
    restarts: u32,
    /// The WAL's frames copied into the database file.
    copied: u32,
    /// Whether it copied frames the last pass had not: SQLite syncs the
    /// database file only when a pass reaches the WAL's end as it is when
    /// the copy is done, which under a steady stream of commits none does,
    /// and the pass does not say which it was.
    new: bool,
}

impl WalProgress {
    /// One PASSIVE checkpoint (the checkpointer's connection): what it
    /// copied, to [`Self::publish`] once the copy is synced.
    fn pass(&self, conn: &rusqlite::Connection) -> Option<Pass> {
        let restarts = self.restarts.load(Ordering::SeqCst);
        let before = self.copied();
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(2)) {
            Ok(copied) => {
                let copied = u32::try_from(copied.max(0)).unwrap_or(u32::MAX);
                let new = before.map_or(copied > 0, |b| copied > b);
                Some(Pass { restarts, copied, new })
            }
            Err(e) => {
                tracing::warn!(error = %e, "sqlite checkpoint failed");
                None
            }
        }
    }

    /// Tells the writer what a pass copied.
    fn publish(&self, pass: &Pass) {
        self.copied.store(u64::from(pass.restarts) << 32 | u64::from(pass.copied), Ordering::SeqCst);
    }

    /// The frames copied of the current WAL, if known.
    fn copied(&self) -> Option<u32> {
        let v = self.copied.load(Ordering::SeqCst);
        let restarts = self.restarts.load(Ordering::SeqCst);
        (u32::try_from(v >> 32).ok() == Some(restarts)).then(|| (v & u64::from(u32::MAX)) as u32)
    }
}

impl WalRestart {
    fn new(progress: Arc<WalProgress>) -> Self {
        Self { progress, last: 0, retry_at: 0 }
    }

    fn after(&mut self, conn: &Conn, threshold: u32, limit: u32) {
        let frames = WAL_FRAMES.get();
        if frames < self.last {
            self.progress.restarts.fetch_add(1, Ordering::SeqCst);
        }
        self.last = frames;
        if frames < threshold {
            self.retry_at = 0;
            return;
        }
        let left = self.progress.copied().map_or(frames, |c| frames.saturating_sub(c));
        if frames < self.retry_at || (left > threshold / 20 && frames < limit) {
            return;
        }
        let Conn::Sqlite(c) = conn else { return };
        let _ = c.busy_timeout(RESTART_WAIT);
        let done =
            c.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)));
        let _ = c.busy_timeout(BUSY_TIMEOUT);
        self.retry_at = match done {
            Ok((0, _)) => 0,
            // The checkpointer held the checkpoint: nothing was done, and
            // the next commit tries again.
            Ok((_, -1)) => frames,
            // It copied the WAL but readers were still in it: a tenth more
            // frames before the next try.
            Ok(_) => frames.saturating_add(threshold / 10),
            Err(e) => {
                tracing::warn!(error = %e, "sqlite WAL restart failed");
                frames.saturating_add(threshold / 10)
            }
        };
    }
}

/// Every 50 ms, copies what the WAL holds into the database file, and
/// tells the writer how much of the WAL is copied. Short passes keep the
/// copy close behind the writer (every 200 ms, it lagged 10,000 to 30,000
/// frames at scale 1, and the writer's restarts copied that many).
///
/// The pages a pass copies are left unsynced in the OS's cache when it
/// stops short of the WAL's end, so the checkpointer syncs the database
/// file itself (`db`, its own handle on it) after every pass that copied
/// something, and only then tells the writer. Otherwise the writer's next
/// WAL restart would sync them all, every page copied since the last pass
/// that caught up, while every queued write waits (95 ms of a 100-ms
/// restart at scale 1; BENCHMARKS.md, Tickets, session 14).
fn checkpoint_loop(conn: &rusqlite::Connection, db: &std::fs::File, stop: &Receiver<()>, progress: &WalProgress) {
    loop {
        match stop.recv_timeout(CHECKPOINT_EVERY) {
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        let Some(pass) = progress.pass(conn) else { continue };
        if pass.new
            && let Err(e) = db.sync_data()
        {
            tracing::warn!(error = %e, "sqlite checkpoint could not sync the database file");
        }
        progress.publish(&pass);
    }
}

/// The checkpointer's handles on database files, one per file (device and
/// inode) this process has opened, each kept open while its file exists.
///
/// Closing any descriptor of a file drops every POSIX lock the process
/// holds on it, SQLite's included: SQLite keeps its own descriptors of a
/// file open until none of its connections holds a lock there, but it
/// cannot know of ours. Were a handle closed while a connection of this
/// process (another `Db` on the file, a backup's) still had the database
/// open, another process could take the exclusive lock meant to tell the
/// last connection, checkpoint and delete the WAL under it: every commit
/// after that would go to a file no one else reads. A handle is closed only
/// once its file is gone (no process can open it any more), when the next
/// database is opened.
static SYNC_HANDLES: std::sync::Mutex<Vec<SyncHandle>> = std::sync::Mutex::new(Vec::new());

struct SyncHandle {
    dev: u64,
    ino: u64,
    file: Arc<std::fs::File>,
}

/// This process's handle for syncing the database file at `path` (see
/// [`SYNC_HANDLES`]): read-only is enough, fdatasync syncs the file.
fn sync_handle(path: &Path) -> Result<Arc<std::fs::File>> {
    use std::os::unix::fs::MetadataExt as _;
    let failed = |e: std::io::Error| StoreError::Config(format!("cannot open {} for syncing: {e}", path.display()));
    let mut handles = SYNC_HANDLES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    handles.retain(|h| h.file.metadata().is_ok_and(|m| m.nlink() > 0));
    // Looked up by path first: a descriptor opened and then dropped for a
    // file already held would itself drop the process's locks.
    let meta = std::fs::metadata(path).map_err(failed)?;
    if let Some(h) = handles.iter().find(|h| h.dev == meta.dev() && h.ino == meta.ino()) {
        return Ok(h.file.clone());
    }
    let file = std::fs::File::open(path).map_err(failed)?;
    let meta = file.metadata().map_err(failed)?;
    let file = Arc::new(file);
    handles.push(SyncHandle { dev: meta.dev(), ino: meta.ino(), file: file.clone() });
    Ok(file)
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

/// Runs `f` in a read transaction of a reader's connection. A read that
/// failed answers with its own error, not the COMMIT's: an I/O error makes
/// SQLite roll the transaction back, and the COMMIT then only says that no
/// transaction is active.
fn in_read_transaction<T>(conn: &mut Conn, f: impl FnOnce(&mut Conn) -> Result<T>) -> Result<T> {
    control(conn, "BEGIN")?;
    let r = f(conn);
    let end = control(conn, "COMMIT");
    let r = r?;
    end?;
    Ok(r)
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// SQLite 3.7.0 to 3.51.2 (3.50.7 and 3.44.6 have the fix backported)
    /// can lose committed writes when a checkpoint starts while another
    /// connection's commit starts the WAL over: the checkpointer thread and
    /// the writer do that all day (<https://sqlite.org/wal.html#walresetbug>;
    /// a kill-9 round of `crates/cli/tests/durability.rs` lost acknowledged
    /// tickets with 3.50.2).
    #[test]
    fn the_bundled_sqlite_has_the_wal_reset_fix() {
        let v = rusqlite::version_number();
        assert!(v >= 3_051_003, "SQLite {} has the WAL-reset bug", rusqlite::version());
    }

    /// Every `Db` of a file in this process syncs through one handle, and
    /// the handle stays open (closing it would drop the process's SQLite
    /// locks on the file) until the file is gone.
    #[test]
    fn one_sync_handle_per_database_file_kept_until_the_file_is_gone() {
        let (dir, _guard) = crate::testing::temp_dir().unwrap();
        let (path, other) = (dir.join("a.sqlite3"), dir.join("b.sqlite3"));
        std::fs::write(&path, b"").unwrap();
        std::fs::write(&other, b"").unwrap();
        let (a, b) = (sync_handle(&path).unwrap(), sync_handle(&path).unwrap());
        assert!(Arc::ptr_eq(&a, &b), "one handle for one file");
        drop(b);
        assert_eq!(Arc::strong_count(&a), 2, "kept by the process while the file exists");
        std::fs::remove_file(&path).unwrap();
        let _b = sync_handle(&other).unwrap();
        assert_eq!(Arc::strong_count(&a), 1, "let go once the file is gone");
    }

    /// One write transaction of about ten pages, as the writer runs it;
    /// `beside` runs while it is open (the checkpointer's pass, which
    /// therefore copies all but this write).
    fn write(w: &mut Conn, beside: Option<&dyn Fn()>) {
        control(w, "BEGIN IMMEDIATE").unwrap();
        w.batch("INSERT INTO t (x) VALUES (zeroblob(40000))").unwrap();
        if let Some(f) = beside {
            f();
        }
        control(w, "COMMIT").unwrap();
    }

    /// A database with one table: the writer's, a reader's and the
    /// checkpointer's connections (and the guard of its directory).
    fn three_connections() -> (crate::testing::TempDirGuard, Conn, rusqlite::Connection, rusqlite::Connection) {
        let (dir, guard) = crate::testing::temp_dir().unwrap();
        let path = dir.join("wal.sqlite3");
        let options = DbOptions::default();
        let mut w = Conn::Sqlite(open_conn(&path, false, &options).unwrap());
        w.batch("CREATE TABLE t (x BLOB)").unwrap();
        let reader = open_conn(&path, true, &options).unwrap();
        let checkpointer = open_conn(&path, false, &options).unwrap();
        (guard, w, reader, checkpointer)
    }

    #[test]
    fn a_checkpoint_pass_that_copies_frames_asks_for_the_database_to_be_synced() {
        let (_guard, mut w, reader, checkpointer) = three_connections();
        let progress = Arc::new(WalProgress::default());
        // The writer's count of the WAL's restarts (no restart of its own
        // below this threshold).
        let mut wal = WalRestart::new(progress.clone());
        let mut write = |w: &mut Conn| {
            write(w, None);
            wal.after(w, 1 << 30, 1 << 30);
        };
        // One pass as the checkpointer runs it: did it ask for a sync?
        let pass = |c: &rusqlite::Connection| {
            let p = progress.pass(c).unwrap();
            progress.publish(&p);
            p.new
        };

        // Two writes (so that the WAL's restart at the next one shows as
        // fewer frames), copied by a pass.
        write(&mut w);
        write(&mut w);
        assert!(pass(&checkpointer), "the pass copied frames");
        // Nothing new: nothing copied, nothing to sync.
        assert!(!pass(&checkpointer), "nothing new to copy");

        // After the WAL's restart, a reader's snapshot holds the pass short
        // of the commits after it: it copies what it may, once.
        write(&mut w);
        reader.execute_batch("BEGIN").unwrap();
        let _: i64 = reader.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        write(&mut w);
        assert!(pass(&checkpointer), "the pass copied up to the reader's snapshot");
        assert!(!pass(&checkpointer), "held at the same frame, nothing new copied");
        reader.execute_batch("COMMIT").unwrap();
        assert!(pass(&checkpointer), "with the reader gone the pass copies the rest");
    }

    #[test]
    fn the_writer_starts_a_long_wal_over_once_no_reader_is_in_it() {
        let (_guard, mut w, reader, checkpointer) = three_connections();
        let progress = Arc::new(WalProgress::default());
        // What the checkpointer thread does every 50 ms.
        let pass = || {
            if let Some(p) = progress.pass(&checkpointer) {
                progress.publish(&p);
            }
        };
        let pass: Option<&dyn Fn()> = Some(&pass);
        let mut wal = WalRestart::new(progress.clone());
        let threshold = 400;

        // Below the threshold nothing happens: the WAL only grows.
        write(&mut w, pass);
        let first = WAL_FRAMES.get();
        assert!(first > 5, "a write of ten pages appends them to the WAL ({first} frames)");
        wal.after(&w, threshold, 2 * threshold);
        write(&mut w, pass);
        assert!(WAL_FRAMES.get() > first, "no restart below the threshold");

        // A reader inside the WAL keeps it, however long it grows.
        reader.execute_batch("BEGIN").unwrap();
        let _: i64 = reader.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        let mut longest = 0;
        for _ in 0..100 {
            write(&mut w, pass);
            wal.after(&w, threshold, 2 * threshold);
            longest = longest.max(WAL_FRAMES.get());
        }
        assert!(longest > 2 * threshold, "the reader held the WAL: {longest} frames");

        // Once the reader is done, the next attempt starts it over: the
        // next write is at the WAL's start again.
        reader.execute_batch("COMMIT").unwrap();
        for _ in 0..5 {
            write(&mut w, pass);
            wal.after(&w, threshold, 2 * threshold);
        }
        let now = WAL_FRAMES.get();
        assert!(now < threshold, "the WAL started over: {now} frames after {longest}");

        // 200 writes as the writer loop runs them: the WAL's longest and
        // how often it started over.
        let mut stream = |w: &mut Conn, beside: Option<&dyn Fn()>| {
            let (mut most, mut restarts, mut before) = (0, 0, WAL_FRAMES.get());
            for _ in 0..200 {
                write(w, beside);
                wal.after(w, threshold, 2 * threshold);
                let frames = WAL_FRAMES.get();
                restarts += usize::from(frames < before);
                (before, most) = (frames, most.max(frames));
            }
            (most, restarts)
        };

        // Under a steady stream of writes, with the checkpointer copying
        // beside them, the WAL starts over as soon as it passes the
        // threshold (SQLite alone would never start it over).
        let (most, restarts) = stream(&mut w, pass);
        assert!(restarts >= 2, "{restarts} restarts");
        assert!((threshold..threshold + 20).contains(&most), "one write past the threshold: {most} frames");

        // While the checkpointer lags, the writer leaves it the copy up to
        // twice the threshold, and then starts over all the same.
        let (most, restarts) = stream(&mut w, None);
        assert!(restarts >= 2, "{restarts} restarts without the checkpointer");
        assert!((2 * threshold..2 * threshold + 20).contains(&most), "up to twice the threshold: {most} frames");
    }
}
