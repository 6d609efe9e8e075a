//! Retention of closed tickets' personal data (SPEC S2) on every engine:
//! the daily job scrubs the free text and attachments of tickets closed
//! longer than `GUANXI_TICKET_RETENTION_DAYS`, keeps their figures, leaves
//! younger and open tickets alone, audits what it did, and a second run
//! changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use guanxi_server::service::privacy::RETENTION_JOB;
use jiff::SignedDuration;
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use support::app::{TestApp, apps_with};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

fn files_on_disk(app: &TestApp) -> usize {
    let root = app.state.config.data_dir.join("attachments");
    let mut n = 0;
    for dir in std::fs::read_dir(root).into_iter().flatten().flatten() {
        n += std::fs::read_dir(dir.path()).into_iter().flatten().count();
    }
    n
}

async fn ticket(app: &TestApp, admin: &str, customer: i64, subject: &str, file: (&str, &[u8], &str)) -> i64 {
    let body = json!({"type": "complaint", "channel": "email", "category": "product", "customer_id": customer,
        "subject": subject, "description": "客户王先生（手机 13800138000）说收到的货有破损"});
    let r = app.call(Method::POST, "/api/v1/tickets", Some(admin), Some(body)).await;
    assert_eq!(r.status(), 201, "[{}] ticket", app.engine);
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/tickets/{id}/messages"),
            Some(admin),
            Some(json!({"kind": "reply", "body": "王先生您好，我们已安排补发"})),
        )
        .await;
    assert_eq!(r.status(), 200, "[{}] reply", app.engine);
    let (name, bytes, mime) = file;
    let form = Form::new()
        .text("kind", "note")
        .text("body", "客户发来的签收单")
        .part("file", Part::bytes(bytes.to_vec()).file_name(name.to_string()).mime_str(mime).unwrap());
    let r = app
        .http
        .post(format!("{}/api/v1/tickets/{id}/attachments", app.url))
        .bearer_auth(admin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "[{}] upload", app.engine);
    id
}

async fn act(app: &TestApp, admin: &str, id: i64, action: &str) {
    let r = app
        .call(Method::POST, &format!("/api/v1/tickets/{id}/actions"), Some(admin), Some(json!({"action": action})))
        .await;
    assert_eq!(r.status(), 200, "[{}] {action} {id}", app.engine);
}

/// Everything stored about a ticket: (figures, free text).
async fn stored(app: &TestApp, id: i64) -> (String, String) {
    app.state
        .db
        .read(move |c| {
            let r = c.query_one(
                "SELECT number, ticket_type, category, priority, status, sla, sla_breached, received_at,
                        first_response_at, resolved_at, closed_at, subject, description FROM tickets WHERE id = $1",
                &[id.into()],
            )?;
            let figures = format!(
                "{} {} {} {} {} {} {} {:?} {:?} {:?} {:?}",
                r.get::<String>(0)?,
                r.get::<String>(1)?,
                r.get::<String>(2)?,
                r.get::<String>(3)?,
                r.get::<String>(4)?,
                r.get::<String>(5)?,
                r.get::<bool>(6)?,
                r.get::<jiff::Timestamp>(7)?,
                r.get::<Option<jiff::Timestamp>>(8)?,
                r.get::<Option<jiff::Timestamp>>(9)?,
                r.get::<Option<jiff::Timestamp>>(10)?,
            );
            let mut text = vec![r.get::<String>(11)?, r.get::<String>(12)?];
            for m in c.query("SELECT body FROM ticket_messages WHERE ticket_id = $1 ORDER BY id", &[id.into()])? {
                text.push(m.get(0)?);
            }
            let files: i64 = c.scalar("SELECT COUNT(*) FROM ticket_attachments WHERE ticket_id = $1", &[id.into()])?;
            text.push(format!("{files} files"));
            Ok((figures, text.join(" / ")))
        })
        .await
        .unwrap()
}

async fn scrub_audits(app: &TestApp) -> Vec<i64> {
    app.state
        .db
        .read(|c| {
            c.query("SELECT entity_id FROM audit_log WHERE action = 'retention_scrub' ORDER BY id", &[])?
                .iter()
                .map(|r| r.get(0))
                .collect()
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn closed_tickets_past_the_retention_limit_lose_their_text_and_files_but_keep_their_figures() {
    for app in apps_with(|c| c.ticket_retention_days = Some(365)).await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        let r = app.call(Method::POST, "/api/v1/customers", Some(&admin), Some(json!({"name": "宁波海曙贸易"}))).await;
        assert_eq!(r.status(), 201);
        let customer = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();

        let old = ticket(&app, &admin, customer, "王先生的货物破损", ("签收单.pdf", PDF, "application/pdf")).await;
        let young = ticket(&app, &admin, customer, "李女士的退款", ("照片.png", PNG, "image/png")).await;
        let open = ticket(&app, &admin, customer, "赵先生的咨询", ("照片.png", PNG, "image/png")).await;
        assert_eq!(files_on_disk(&app), 2, "[{e}]");
        // `old` is closed now, `young` ten days later; `open` stays open.
        act(&app, &admin, old, "resolve").await;
        act(&app, &admin, old, "close").await;
        app.clock.advance(SignedDuration::from_hours(24 * 10));
        act(&app, &admin, young, "resolve").await;
        act(&app, &admin, young, "close").await;
        let before = [stored(&app, old).await, stored(&app, young).await, stored(&app, open).await];
        assert!(before[0].1.contains("王先生"), "[{e}] {:?}", before[0]);

        // 366 days after `old` closed: it is over the limit, `young` (356
        // days) is just under it.
        app.clock.advance(SignedDuration::from_hours(24 * 356));
        guanxi_server::jobs::run_due(&app.state).await.unwrap();
        let after = [stored(&app, old).await, stored(&app, young).await, stored(&app, open).await];
        assert_eq!(after[0].0, before[0].0, "[{e}] the figures of the scrubbed ticket stay");
        assert_eq!(after[0].1, "[已匿名] / [已匿名] / [已匿名] / [已匿名] / 0 files", "[{e}]");
        assert_eq!(after[1], before[1], "[{e}] a ticket closed under the limit is kept");
        // (Its SLA clocks ran meanwhile: only its text is compared.)
        assert_eq!(after[2].1, before[2].1, "[{e}] an open ticket is kept");
        assert_eq!(files_on_disk(&app), 1, "[{e}] the PDF only the scrubbed ticket held is gone; the photo stays");
        assert_eq!(scrub_audits(&app).await, vec![old], "[{e}] audited");
        let timeline: Option<String> = app
            .state
            .db
            .read(move |c| {
                c.scalar("SELECT MAX(body) FROM timeline WHERE kind = 'ticket' AND ref_id = $1", &[old.into()])
            })
            .await
            .unwrap();
        assert_eq!(timeline, None, "[{e}] the timeline keeps no subject of the scrubbed ticket");

        // The job is due again a day later; its second run changes nothing.
        app.clock.advance(SignedDuration::from_hours(25));
        guanxi_server::jobs::run_due(&app.state).await.unwrap();
        let job = app.state.db.read(|c| guanxi_store::jobs::get(c, RETENTION_JOB, "tickets")).await.unwrap().unwrap();
        assert_eq!(job.runs, 2, "[{e}] {job:?}");
        let again = [stored(&app, old).await, stored(&app, young).await, stored(&app, open).await];
        assert_eq!(again[..2], after[..2], "[{e}] a second run changes nothing");
        assert_eq!(again[2].1, after[2].1, "[{e}]");
        assert_eq!(scrub_audits(&app).await, vec![old], "[{e}] nor audits anything");
        assert_eq!(files_on_disk(&app), 1, "[{e}]");
    }
}

#[tokio::test]
async fn the_retention_walk_pages_through_tickets_closed_at_the_same_instant() {
    for app in apps_with(|c| c.ticket_retention_days = Some(30)).await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        let r = app.call(Method::POST, "/api/v1/customers", Some(&admin), Some(json!({"name": "杭州西湖茶业"}))).await;
        let customer = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
        let mut ids = Vec::new();
        for subject in ["一号", "二号", "三号"] {
            let id = ticket(&app, &admin, customer, subject, ("单.pdf", PDF, "application/pdf")).await;
            act(&app, &admin, id, "resolve").await;
            act(&app, &admin, id, "close").await;
            ids.push(id);
        }
        // One ticket per batch: the (closed_at, id) cursor passes ties.
        let cutoff = guanxi_domain::Clock::now(app.clock.as_ref()).checked_add(SignedDuration::from_hours(1)).unwrap();
        let mut after = None;
        let mut seen = Vec::new();
        loop {
            let b = app
                .state
                .db
                .write(move |c| guanxi_store::privacy::scrub_closed_tickets(c, cutoff, after, 1))
                .await
                .unwrap();
            let Some(last) = b.last else { break };
            seen.extend(b.tickets.iter().map(|(id, _)| *id));
            after = Some(last);
            assert!(seen.len() <= 3, "[{e}] the walk loops: {seen:?}");
        }
        assert_eq!(seen, ids, "[{e}] each ticket once, in order");
        for id in ids {
            assert!(stored(&app, id).await.1.starts_with("[已匿名] / [已匿名]"), "[{e}]");
        }
    }
}
