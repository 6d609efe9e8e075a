//! Deferred indexes of a bulk load (issue 11's generator) on every engine:
//! deferring drops exactly the plain secondary indexes of the named tables
//! (unique ones stay), restoring creates them again with the definitions
//! they had, and a load interrupted with its indexes dropped gets them back
//! when the database is next opened.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use guanxi_store::bulk_load::{self, IndexDef};
use guanxi_store::{Db, DbOptions, args, testing};
use jiff::Timestamp;

fn now() -> Timestamp {
    Timestamp::from_second(1_796_083_200).unwrap()
}

fn of<'a>(all: &'a [IndexDef], table: &str) -> Vec<&'a IndexDef> {
    all.iter().filter(|d| d.table == table).collect()
}

#[tokio::test]
async fn deferred_indexes_come_back_identical_on_every_engine() {
    for test_db in testing::engines().unwrap() {
        let name = test_db.name.clone();
        let db = Db::open(&test_db.target, &DbOptions::default()).unwrap();
        let before = db.read(bulk_load::indexes).await.unwrap();
        // The queues, the customer's tickets, the KPI slice and the closed ones.
        assert!(of(&before, "tickets").len() >= 6, "{name}: {before:?}");

        let dropped = db.write(|c| bulk_load::defer_indexes(c, &["tickets", "timeline"], now())).await.unwrap();
        let mut names: Vec<&str> = dropped.iter().map(|d| d.name.as_str()).collect();
        names.sort_unstable();
        assert!(names.contains(&"tickets_kpi") && names.contains(&"timeline_customer"), "{name}: {names:?}");
        // Unique indexes and primary keys stay: inserts rely on them.
        assert!(!names.iter().any(|n| n.contains("number") || n.ends_with("_pkey")), "{name}: {names:?}");

        let during = db.read(bulk_load::indexes).await.unwrap();
        for d in &dropped {
            assert!(!during.contains(d), "{name}: {} still there", d.name);
        }
        // Everything else is untouched, including the tickets' unique indexes.
        let kept: Vec<&IndexDef> = before.iter().filter(|d| !dropped.contains(d)).collect();
        assert_eq!(during.iter().collect::<Vec<_>>(), kept, "{name}");
        assert!(!of(&during, "customers").is_empty(), "{name}");
        assert_eq!(db.read(bulk_load::pending).await.unwrap(), dropped, "{name}: saved before dropping");

        // Rows go in without the indexes, and a unique index still refuses a duplicate.
        let dup = db
            .write(|c| {
                c.execute(
                    "INSERT INTO customers (code, name, kind, stage, created_at, updated_at)
                     VALUES ('C-BULK', '批量客户', 'enterprise', 'new', $1, $1)",
                    args![now()],
                )?;
                c.execute(
                    "INSERT INTO customers (code, name, kind, stage, created_at, updated_at)
                     VALUES ('C-BULK', '重复客户', 'enterprise', 'new', $1, $1)",
                    args![now()],
                )
            })
            .await
            .unwrap_err();
        assert!(dup.is_unique_violation(), "{name}: {dup}");

        // Restored one transaction an index, as the generator does.
        for d in &dropped {
            let n = d.name.clone();
            assert!(db.write(move |c| bulk_load::restore_index(c, &n, now())).await.unwrap(), "{name}: {}", d.name);
        }
        assert_eq!(db.read(bulk_load::indexes).await.unwrap(), before, "{name}: the same definitions");
        assert!(db.read(bulk_load::pending).await.unwrap().is_empty(), "{name}");
        let n: i64 = db
            .read(|c| c.scalar("SELECT COUNT(*) FROM settings WHERE key = $1", args![bulk_load::SETTINGS_KEY]))
            .await
            .unwrap();
        assert_eq!(n, 0, "{name}: the saved definitions are forgotten");
        // Nothing left to restore: a second restore creates nothing.
        assert!(db.write(bulk_load::restore_indexes).await.unwrap().is_empty(), "{name}");

        // Deferring twice adds to what is saved; restoring all at once brings both back.
        db.write(|c| bulk_load::defer_indexes(c, &["orders"], now())).await.unwrap();
        db.write(|c| bulk_load::defer_indexes(c, &["communications", "orders"], now())).await.unwrap();
        let saved = db.read(bulk_load::pending).await.unwrap();
        let mut saved_names: Vec<&str> = saved.iter().map(|d| d.name.as_str()).collect();
        saved_names.sort_unstable();
        assert_eq!(
            saved_names,
            ["communications_customer", "communications_customer_dir", "orders_customer_amount", "orders_day_customer"],
            "{name}"
        );
        let created = db.write(bulk_load::restore_indexes).await.unwrap();
        assert_eq!(created, saved, "{name}");
        assert_eq!(db.read(bulk_load::indexes).await.unwrap(), before, "{name}");
        assert_eq!(bulk_load::indexes_of(&test_db.target).unwrap(), before, "{name}: read without opening");

        // ANALYZE runs on PostgreSQL (and is nothing on SQLite).
        db.write(|c| bulk_load::analyze(c, &["tickets", "timeline"])).await.unwrap();
    }
}

#[tokio::test]
async fn an_interrupted_load_gets_its_indexes_back_when_the_database_is_opened() {
    for test_db in testing::engines().unwrap() {
        let name = test_db.name.clone();
        let fresh = {
            let db = Db::open(&test_db.target, &DbOptions::default()).unwrap();
            db.read(bulk_load::indexes).await.unwrap()
        };
        {
            let db = Db::open(&test_db.target, &DbOptions::default()).unwrap();
            let dropped = db
                .write(|c| bulk_load::defer_indexes(c, &["customers", "contacts", "orders", "timeline"], now()))
                .await
                .unwrap();
            assert!(dropped.len() >= 10, "{name}: {dropped:?}");
            // The process "crashes" mid-load: the database as it is on disk
            // lacks the indexes, and says which.
            let on_disk = bulk_load::indexes_of(&test_db.target).unwrap();
            assert_eq!(on_disk.len(), fresh.len() - dropped.len(), "{name}");
            assert_eq!(db.read(bulk_load::pending).await.unwrap(), dropped, "{name}");
        }
        // The next open (a server's start, `guanxi migrate`, the next
        // `bench generate`) creates them before anything else.
        let db = Db::open(&test_db.target, &DbOptions::default()).unwrap();
        assert_eq!(db.read(bulk_load::indexes).await.unwrap(), fresh, "{name}");
        assert!(db.read(bulk_load::pending).await.unwrap().is_empty(), "{name}");
        // A saved index that exists already (created by hand, or restored
        // by another instance) is simply forgotten.
        db.write(|c| bulk_load::defer_indexes(c, &["orders"], now())).await.unwrap();
        let sql = fresh.iter().find(|d| d.name == "orders_day_customer").unwrap().sql.clone();
        db.write(move |c| c.batch(&sql)).await.unwrap();
        let created = db.write(bulk_load::restore_indexes).await.unwrap();
        assert!(created.iter().all(|d| d.name != "orders_day_customer"), "{name}: {created:?}");
        assert_eq!(db.read(bulk_load::indexes).await.unwrap(), fresh, "{name}");
    }
}
