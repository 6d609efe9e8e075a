//! The audit log (SPEC S3) on every engine: the database refuses to change
//! or remove an entry, and the admins' search narrows by actor, entity,
//! action and date range, in keyset pages.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use guanxi_store::audit::{self, AuditEntry, AuditFilter};
use guanxi_store::{Db, DbOptions, testing};
use jiff::Timestamp;

fn at(minute: i64) -> Timestamp {
    Timestamp::from_second(1_796_000_000 + minute * 60).unwrap()
}

#[tokio::test]
async fn the_audit_log_is_append_only_and_searchable_on_every_engine() {
    for test_db in testing::engines().unwrap() {
        let db = Db::open(&test_db.target, &DbOptions::default()).unwrap();
        db.write(|c| {
            for i in 0..30i64 {
                audit::record(
                    c,
                    at(i),
                    &AuditEntry {
                        actor_id: Some(1 + i % 3),
                        action: if i % 2 == 0 { "update" } else { "reveal" },
                        entity: if i % 5 == 0 { "ticket" } else { "customer" },
                        entity_id: Some(100 + i % 4),
                        detail: format!("entry {i}"),
                        ip: Some("10.1.2.3"),
                    },
                )?;
            }
            Ok(())
        })
        .await
        .unwrap();

        // Neither an update nor a delete gets through, and both leave the row.
        let err = db.write(|c| c.execute("UPDATE audit_log SET detail = 'forged'", &[])).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{}: {err}", test_db.name);
        let err = db.write(|c| c.execute("DELETE FROM audit_log WHERE id > 0", &[])).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{}: {err}", test_db.name);
        let n: i64 =
            db.read(|c| c.scalar("SELECT COUNT(*) FROM audit_log WHERE detail LIKE 'entry %'", &[])).await.unwrap();
        assert_eq!(n, 30);

        let search = |f: AuditFilter, limit: i64| {
            let db = db.clone();
            async move { db.read(move |c| audit::search(c, &f, limit)).await.unwrap() }
        };
        // By actor, newest first.
        let rows = search(AuditFilter { actor_id: Some(2), ..Default::default() }, 100).await;
        assert_eq!(rows.len(), 10);
        assert!(rows.iter().all(|r| r.actor_id == Some(2) && r.ip.as_deref() == Some("10.1.2.3")));
        assert!(rows.windows(2).all(|w| w[0].at > w[1].at));
        // By entity and action within a date range [from, until).
        let rows = search(
            AuditFilter {
                entity: Some("customer".into()),
                action: Some("reveal".into()),
                from: Some(at(10)),
                until: Some(at(20)),
                ..Default::default()
            },
            100,
        )
        .await;
        let details: Vec<_> = rows.iter().map(|r| r.detail.as_str()).collect();
        assert_eq!(details, ["entry 19", "entry 17", "entry 13", "entry 11"]);
        // One record's history.
        let rows =
            search(AuditFilter { entity: Some("ticket".into()), entity_id: Some(100), ..Default::default() }, 100)
                .await;
        assert_eq!(rows.iter().map(|r| r.detail.as_str()).collect::<Vec<_>>(), ["entry 20", "entry 0"]);
        // Keyset pages of 7 walk every entry once, in order.
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let page = search(AuditFilter { before, ..Default::default() }, 7).await;
            if page.is_empty() {
                break;
            }
            before = page.last().map(|r| (r.at, r.id));
            seen.extend(page.into_iter().map(|r| r.detail));
        }
        let expected: Vec<String> = (0..30).rev().map(|i| format!("entry {i}")).collect();
        assert_eq!(seen, expected);
        let (entities, actions) = db.read(audit::vocabulary).await.unwrap();
        assert_eq!(entities, ["customer", "ticket"]);
        assert_eq!(actions, ["reveal", "update"]);
    }
}
