//! SPEC O5 on every engine: resolving a feedback or suggestion ticket
//! queues, in the same transaction, one `feedback_resolved` message to the
//! customer (key `feedback-told-{id}`); a reopen and second resolution
//! queues nothing new; a customer refusing their only channel, or with no
//! channel at all, gets nothing and the resolution still succeeds; other
//! ticket types queue nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use jiff::Timestamp;
use reqwest::Method;
use serde_json::{Value, json};
use support::app::{TestApp, apps};

async fn call(app: &TestApp, m: Method, tok: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let r = app.call(m, path, Some(tok), body).await;
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn post(app: &TestApp, tok: &str, path: &str, body: Value) -> Value {
    let (s, v) = call(app, Method::POST, tok, path, Some(body.clone())).await;
    assert!(s == 200 || s == 201, "[{}] {path} {body}: {s} {v}", app.engine);
    v
}

async fn outbox_rows(app: &TestApp, key: String) -> Vec<(String, String, String)> {
    app.state
        .db
        .read(move |c| {
            c.query(
                "SELECT channel, scenario, body FROM outbox WHERE idempotency_key = $1 ORDER BY id",
                guanxi_store::args![key.as_str()],
            )?
            .iter()
            .map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .collect::<guanxi_store::Result<Vec<_>>>()
        })
        .await
        .unwrap()
}

async fn outbox_count(app: &TestApp) -> i64 {
    app.state.db.read(|c| c.scalar("SELECT COUNT(*) FROM outbox", guanxi_store::args![])).await.unwrap()
}

#[tokio::test]
async fn resolving_a_feedback_tells_the_customer_once() {
    for app in apps().await {
        let e = app.engine.clone();
        let t0: Timestamp = "2026-11-23T02:00:00Z".parse().unwrap();
        app.clock.set(t0);
        let admin = app.admin_token().await;
        let customer = |body: Value| {
            let (app, admin) = (&app, admin.clone());
            async move { post(app, &admin, "/api/v1/customers", body).await["id"].as_i64().unwrap() }
        };
        let mailed = customer(json!({"name": "杭州明远科技有限公司", "email": "contact@mingyuan.cn"})).await;
        let sms_only = customer(json!({"name": "宁波海蓝贸易有限公司", "phone": "13912345678"})).await;
        let unreachable = customer(json!({"name": "温州启航电子商行"})).await;
        let consent = json!({"channel": "sms", "granted": false, "source": "电话", "note": "客户来电要求不发短信"});
        post(&app, &admin, &format!("/api/v1/customers/{sms_only}/consents"), consent).await;
        let ticket = |ty: &'static str, cust: i64| {
            let (app, admin) = (&app, admin.clone());
            let body = json!({"type": ty, "channel": "email", "category": "product", "priority": "normal",
                "customer_id": cust, "subject": "建议增加夜间客服", "description": "客户建议增加夜间客服"});
            async move { post(app, &admin, "/api/v1/tickets", body).await["id"].as_i64().unwrap() }
        };
        let act = |id: i64, action: &'static str| {
            let (app, admin) = (&app, admin.clone());
            async move {
                let (s, v) = call(
                    app,
                    Method::POST,
                    &admin,
                    &format!("/api/v1/tickets/{id}/actions"),
                    Some(json!({"action": action})),
                )
                .await;
                assert_eq!(s, 200, "[{}] {action}: {v}", app.engine);
            }
        };

        let before = outbox_count(&app).await;
        let fb = ticket("feedback", mailed).await;
        act(fb, "resolve").await;
        let rows = outbox_rows(&app, format!("feedback-told-{fb}")).await;
        assert_eq!(rows.len(), 1, "[{e}] one message: {rows:?}");
        let (channel, scenario, body) = &rows[0];
        assert_eq!((channel.as_str(), scenario.as_str()), ("email", "feedback_resolved"), "[{e}]");
        assert!(body.contains("杭州明远科技有限公司") && body.contains("建议增加夜间客服"), "[{e}] {body}");
        assert_eq!(outbox_count(&app).await, before + 1, "[{e}] nothing else queued");
        // Reopened and resolved again: still that one message.
        act(fb, "reopen").await;
        act(fb, "resolve").await;
        assert_eq!(outbox_rows(&app, format!("feedback-told-{fb}")).await.len(), 1, "[{e}] told once");
        assert_eq!(outbox_count(&app).await, before + 1, "[{e}]");

        // A suggestion is told the same way.
        let sg = ticket("suggestion", mailed).await;
        act(sg, "resolve").await;
        assert_eq!(outbox_rows(&app, format!("feedback-told-{sg}")).await.len(), 1, "[{e}]");

        // Refused consent on the only channel, or no channel: resolved, nothing queued.
        let before = outbox_count(&app).await;
        let refused = ticket("feedback", sms_only).await;
        act(refused, "resolve").await;
        let none = ticket("suggestion", unreachable).await;
        act(none, "resolve").await;
        assert!(outbox_rows(&app, format!("feedback-told-{refused}")).await.is_empty(), "[{e}]");
        assert!(outbox_rows(&app, format!("feedback-told-{none}")).await.is_empty(), "[{e}]");
        // Another type: no told message.
        let other = ticket("consultation", mailed).await;
        act(other, "resolve").await;
        assert!(outbox_rows(&app, format!("feedback-told-{other}")).await.is_empty(), "[{e}]");
        let (_, t) = call(&app, Method::GET, &admin, &format!("/api/v1/tickets/{refused}"), None).await;
        assert_eq!(t["ticket"]["status"], "resolved", "[{e}] {t}");
        assert_eq!(outbox_count(&app).await, before, "[{e}] nothing queued");
    }
}
