//! The need record (SPEC T1 需求-响应-反馈, R3) on every engine: the full
//! loop with a controlled clock, refused transitions and unknown
//! departments change nothing, every change is a ticket event, and the
//! report rows give the needs report's numbers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use guanxi_domain::ticket::need::{self, NeedStatus, NeedUpdateInput, parse_update};
use guanxi_store::{Db, DbOptions, StoreError, args, needs, testing};
use jiff::Timestamp;
use jiff::tz::TimeZone;

fn at(day: i64) -> Timestamp {
    // 2026-12-01T00:00:00Z plus whole days.
    Timestamp::from_second(1_796_083_200 + day * 86_400).unwrap()
}

fn upd(status: &str, f: impl FnOnce(&mut NeedUpdateInput)) -> need::NeedUpdate {
    let mut i = NeedUpdateInput { status: Some(status.into()), ..NeedUpdateInput::default() };
    f(&mut i);
    parse_update(&i).unwrap()
}

#[tokio::test]
async fn the_need_loop_and_its_report_on_every_engine() {
    for test_db in testing::engines().unwrap() {
        let name = test_db.name.clone();
        let db = Db::open(&test_db.target, &DbOptions::default()).unwrap();
        let (product, rnd, t1, t2, t3) = db
            .write(|c| {
                let now = at(0);
                c.execute(
                    "INSERT INTO groups (name, kind, created_at) VALUES ('产品部', 'department', $1), ('研发部', 'department', $1)",
                    args![now],
                )?;
                let product: i64 = c.scalar("SELECT id FROM groups WHERE name = '产品部'", &[])?;
                let rnd: i64 = c.scalar("SELECT id FROM groups WHERE name = '研发部'", &[])?;
                c.execute(
                    "INSERT INTO customers (code, name, kind, stage, created_at, updated_at)
                     VALUES ('C-NEED', '需求客户', 'enterprise', 'new', $1, $1)",
                    args![now],
                )?;
                let customer: i64 = c.scalar("SELECT id FROM customers WHERE code = 'C-NEED'", &[])?;
                let mut ids = Vec::new();
                for n in 1..=3 {
                    c.execute(
                        "INSERT INTO tickets (number, ticket_type, channel, category, priority, status, active,
                            customer_id, subject, description, schedule_code, routing, sla, sla_due_at,
                            received_at, created_at, updated_at)
                         VALUES ($1, 'need', 'phone', 'product', 'normal', 'new', $2, $3, 'need', 'need',
                            'default', '{}', '{}', $4, $4, $4, $4)",
                        args![format!("T-NEED-{n}"), true, customer, now],
                    )?;
                    ids.push(c.scalar::<i64>("SELECT id FROM tickets WHERE number = $1", args![format!("T-NEED-{n}")])?);
                }
                Ok((product, rnd, ids[0], ids[1], ids[2]))
            })
            .await
            .unwrap();

        // Submitted to product; evaluated, planned, delivered, customer told.
        let r = db.write(move |c| needs::submit(c, t1, Some(product), at(0))).await.unwrap();
        assert_eq!((r.status, r.department_name.as_deref()), (NeedStatus::Submitted, Some("产品部")), "{name}");
        let step = |t: i64, u: need::NeedUpdate, day: i64| {
            let db = db.clone();
            async move { db.write(move |c| needs::update(c, t, &u, Some(1), at(day))).await }
        };
        step(t1, upd("evaluating", |_| {}), 1).await.unwrap().unwrap();
        let r = step(t1, upd("planned", |i| i.planned_version = Some("v2.3".into())), 2).await.unwrap().unwrap();
        assert_eq!((r.status, r.planned_version.as_deref()), (NeedStatus::Planned, Some("v2.3")), "{name}");

        // A refused transition and an unknown department change nothing.
        let before = db.read(move |c| needs::get(c, t1)).await.unwrap().unwrap();
        let err = step(t1, upd("submitted", |_| {}), 3).await.unwrap().unwrap_err();
        assert_eq!(err.code(), "need_transition_not_allowed");
        let err = step(t1, upd("delivered", |i| i.department_id = Some("999999".into())), 3).await.unwrap_err();
        assert!(matches!(&err, StoreError::Invalid(e) if e.fields() == vec!["department_id"]), "{name}: {err}");
        assert_eq!(db.read(move |c| needs::get(c, t1)).await.unwrap().unwrap(), before, "{name}");
        assert_eq!(need::may_close(before.status, before.customer_told_at), Err(need::CloseRefused::NoOutcome));

        let r = step(t1, upd("delivered", |_| {}), 10).await.unwrap().unwrap();
        assert_eq!((r.status, r.outcome_at), (NeedStatus::Delivered, Some(at(10))), "{name}");
        assert_eq!(need::may_close(r.status, r.customer_told_at), Err(need::CloseRefused::CustomerNotTold));
        db.write(move |c| needs::mark_told(c, t1, None, Some(1), at(10))).await.unwrap();
        // Told once: a second call keeps the first time.
        db.write(move |c| needs::mark_told(c, t1, None, Some(1), at(11))).await.unwrap();
        let r = db.read(move |c| needs::get(c, t1)).await.unwrap().unwrap();
        assert_eq!(r.customer_told_at, Some(at(10)), "{name}");
        assert_eq!(need::may_close(r.status, r.customer_told_at), Ok(()));

        // Every change is a ticket event with who and when.
        let kinds: Vec<(String, Option<i64>, Timestamp)> = db
            .read(move |c| {
                c.query("SELECT kind, actor_id, at FROM ticket_events WHERE ticket_id = $1 ORDER BY id", args![t1])?
                    .iter()
                    .map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .collect::<guanxi_store::Result<Vec<_>>>()
            })
            .await
            .unwrap();
        let expected: Vec<(String, Option<i64>, Timestamp)> = vec![
            ("need_status".into(), Some(1), at(1)),
            ("need_status".into(), Some(1), at(2)),
            ("need_status".into(), Some(1), at(10)),
            ("need_customer_told".into(), Some(1), at(10)),
        ];
        assert_eq!(kinds, expected, "{name}");

        // A second need declined by R&D (reason kept) but the customer not told;
        // a third, never updated, has no record and is not in the report.
        db.write(move |c| needs::submit(c, t2, Some(rnd), at(1))).await.unwrap();
        let r =
            step(t2, upd("declined", |i| i.decline_reason = Some("与产品路线不符".into())), 5).await.unwrap().unwrap();
        assert_eq!(r.decline_reason.as_deref(), Some("与产品路线不符"), "{name}");
        let _ = t3;

        let rows = db.read(|c| needs::report_rows(c, at(0), at(31))).await.unwrap();
        let report = need::report(&rows, &TimeZone::UTC, "未分派");
        assert_eq!(report.total.total, 2, "{name}");
        assert_eq!((report.total.with_outcome, report.total.told), (2, 1), "{name}");
        assert_eq!(report.total.share_told(), Some(0.5), "{name}");
        // (10 days + 4 days) / 2.
        assert_eq!(report.total.avg_days_to_outcome, Some(7.0), "{name}");
        let deps: Vec<(&str, u32)> = report.by_department.iter().map(|g| (g.key.as_str(), g.total)).collect();
        assert_eq!(deps, vec![("产品部", 1), ("研发部", 1)], "{name}");
        assert_eq!(report.by_month.len(), 1, "{name}");
        assert_eq!(report.by_month[0].key, "2026-12", "{name}");
        // Outside the range: nothing.
        assert!(db.read(|c| needs::report_rows(c, at(31), at(62))).await.unwrap().is_empty());
    }
}
