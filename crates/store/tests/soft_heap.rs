//! SQLite's soft heap limit (`DbOptions::sqlite_soft_heap_mb`) is set for
//! the process when a SQLite database opens, and 0 lifts it. Its own test
//! binary: the limit is process-wide, so other tests opening databases
//! beside it would change it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use guanxi_store::{Db, DbOptions, testing};

async fn limit(db: &Db) -> i64 {
    db.read(|c| c.query_one("PRAGMA soft_heap_limit", &[])?.get::<i64>(0)).await.unwrap()
}

#[tokio::test]
async fn opening_sqlite_sets_the_process_soft_heap_limit() {
    let test_db = testing::sqlite().unwrap();
    let db = Db::open(&test_db.target, &DbOptions { sqlite_soft_heap_mb: 48, ..DbOptions::default() }).unwrap();
    assert_eq!(limit(&db).await, 48 * 1024 * 1024);
    drop(db);
    let db = Db::open(&test_db.target, &DbOptions::default()).unwrap();
    assert_eq!(limit(&db).await, 0, "the default (bulk commands) has no limit");
}
