//! The problem analysis's top issues (SPEC R3 问题分析报告) on every engine:
//! one pass gives each category's most frequent subjects, most first, ties
//! by subject, at most `limit` a category, and only tickets of the period.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use guanxi_store::{Db, DbOptions, args, kpi, testing};
use jiff::Timestamp;

fn at(day: i64) -> Timestamp {
    // 2026-03-01T00:00:00Z plus whole days.
    Timestamp::from_second(1_772_323_200 + day * 86_400).unwrap()
}

#[tokio::test]
async fn top_subjects_per_category_in_one_pass_on_every_engine() {
    for test_db in testing::engines().unwrap() {
        let name = test_db.name.clone();
        let db = Db::open(&test_db.target, &DbOptions::default()).unwrap();
        // Product: seven subjects, A×4, B×3, C×3, D×2, E×2, F×1, G×1;
        // service: one subject twice; logistics: only before the period.
        let mut tickets: Vec<(&str, &str, i64)> = Vec::new();
        for (subject, n) in [("A", 4), ("B", 3), ("C", 3), ("D", 2), ("E", 2), ("F", 1), ("G", 1)] {
            tickets.extend(std::iter::repeat_n(("product", subject, 3), n));
        }
        tickets.extend([("service", "S", 5), ("service", "S", 6), ("logistics", "L", -1), ("product", "A", 40)]);
        db.write(move |c| {
            c.execute(
                "INSERT INTO customers (code, name, kind, stage, created_at, updated_at)
                 VALUES ('C-TOP', '客户', 'enterprise', 'new', $1, $1)",
                args![at(0)],
            )?;
            let customer: i64 = c.scalar("SELECT id FROM customers WHERE code = 'C-TOP'", &[])?;
            for (i, (category, subject, day)) in tickets.into_iter().enumerate() {
                c.execute(
                    "INSERT INTO tickets (number, ticket_type, channel, category, priority, status, active,
                        customer_id, subject, description, schedule_code, routing, sla, sla_due_at,
                        received_at, created_at, updated_at)
                     VALUES ($1, 'consultation', 'phone', $2, 'normal', 'new', $3, $4, $5, '', 'default', '{}', '{}',
                        $6, $6, $6, $6)",
                    args![format!("T-TOP-{i}"), category, true, customer, subject, at(day)],
                )?;
            }
            Ok(())
        })
        .await
        .unwrap();

        let top = db.read(|c| kpi::top_subjects_by_category(c, at(0), at(31), 5)).await.unwrap();
        let got: Vec<(&str, &str, i64)> = top.iter().map(|(c, s, n)| (c.as_str(), s.as_str(), *n)).collect();
        assert_eq!(
            got,
            [
                ("product", "A", 4),
                ("product", "B", 3),
                ("product", "C", 3),
                ("product", "D", 2),
                ("product", "E", 2),
                ("service", "S", 2),
            ],
            "{name}"
        );
        let one = db.read(|c| kpi::top_subjects_by_category(c, at(0), at(31), 1)).await.unwrap();
        assert_eq!(one.len(), 2, "{name}: one a category");
        assert!(db.read(|c| kpi::top_subjects_by_category(c, at(50), at(60), 5)).await.unwrap().is_empty());
    }
}
