//! The need record API (SPEC T1 需求-响应-反馈) on every engine, with the
//! test clock: a need ticket starts submitted; status changes follow the
//! flow with who/when in the ticket's history; a refused transition is 409
//! and an unknown department or a missing reason 422 naming the field, and
//! neither changes anything; tickets of another type have no need record.
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

#[tokio::test]
async fn a_need_moves_through_its_flow_and_refusals_change_nothing() {
    for app in apps().await {
        let e = app.engine.clone();
        let t0: Timestamp = "2026-11-23T02:00:00Z".parse().unwrap();
        app.clock.set(t0);
        let admin = app.admin_token().await;
        let team = post(&app, &admin, "/api/v1/groups", json!({"name": "一线客服组", "kind": "team"})).await;
        let product = post(&app, &admin, "/api/v1/groups", json!({"name": "产品部", "kind": "department"})).await;
        let product = product["id"].as_i64().unwrap();
        let body = json!({"email": "wang.fang@test.cn", "name": "王芳", "role": "agent",
            "password": "password-123", "group_id": team["id"], "certified": true});
        let agent_id = post(&app, &admin, "/api/v1/users", body).await["id"].as_i64().unwrap();
        let agent = app.token("wang.fang@test.cn", "password-123").await;
        let cust =
            post(&app, &agent, "/api/v1/customers", json!({"name": "杭州明远科技有限公司", "owner_id": agent_id}))
                .await;
        let ticket = |ty: &str| {
            json!({"type": ty, "channel": "email", "category": "product", "priority": "normal",
                "customer_id": cust["id"], "subject": "希望支持批量导出", "description": "客户希望报表可以批量导出",
                "assignee_id": agent_id})
        };
        let id = post(&app, &agent, "/api/v1/tickets", ticket("need")).await["id"].as_i64().unwrap();
        let path = format!("/api/v1/tickets/{id}/need");

        let (s, v) = call(&app, Method::GET, &agent, &path, None).await;
        assert_eq!((s, v["status"].as_str()), (200, Some("submitted")), "[{e}] {v}");
        assert_eq!(v["status_label_zh"], "已提交");

        let put = |body: Value| {
            let (app, agent, path) = (&app, agent.clone(), path.clone());
            async move { call(app, Method::PUT, &agent, &path, Some(body)).await }
        };
        app.clock.set(t0 + jiff::SignedDuration::from_hours(1));
        let (s, v) = put(json!({"status": "evaluating", "department_id": product.to_string()})).await;
        assert_eq!(
            (s, v["status"].as_str(), v["department_name"].as_str()),
            (200, Some("evaluating"), Some("产品部")),
            "[{e}] {v}"
        );

        // Refusals: straight to delivered (409), an unknown department, a
        // plan with neither version nor date, a decline without a reason (422).
        let before = call(&app, Method::GET, &agent, &path, None).await.1;
        let (s, v) = put(json!({"status": "delivered"})).await;
        assert_eq!(s, 409, "[{e}] {v}");
        assert!(v.to_string().contains("评估中"), "[{e}] {v}");
        let (s, v) = put(json!({"status": "planned", "planned_version": "v2.3", "department_id": "999999"})).await;
        assert_eq!(s, 422, "[{e}] {v}");
        assert!(v.to_string().contains("department_id"), "[{e}] {v}");
        let (s, v) = put(json!({"status": "planned"})).await;
        assert_eq!(s, 422, "[{e}] {v}");
        assert!(v.to_string().contains("planned_version"), "[{e}] {v}");
        let (s, v) = put(json!({"status": "declined"})).await;
        assert_eq!(s, 422, "[{e}] {v}");
        assert!(v.to_string().contains("decline_reason"), "[{e}] {v}");
        assert_eq!(call(&app, Method::GET, &agent, &path, None).await.1, before, "[{e}] nothing changed");

        let (s, v) = put(json!({"status": "planned", "planned_version": "v2.3", "planned_date": "2027-01-15"})).await;
        assert_eq!(
            (s, v["planned_version"].as_str(), v["planned_date"].as_str()),
            (200, Some("v2.3"), Some("2027-01-15")),
            "[{e}] {v}"
        );
        let t1 = t0 + jiff::SignedDuration::from_hours(48);
        app.clock.set(t1);
        let (s, v) = put(json!({"status": "delivered"})).await;
        assert_eq!((s, v["status"].as_str()), (200, Some("delivered")), "[{e}] {v}");
        assert_eq!(v["outcome_at"].as_str(), Some(t1.to_string().as_str()), "[{e}] {v}");
        assert!(v["customer_told_at"].is_null(), "[{e}] {v}");
        // Not closed before the customer was told; told once, then closed.
        let act = |action: &str| {
            let (app, agent) = (&app, agent.clone());
            let body = json!({"action": action});
            async move { call(app, Method::POST, &agent, &format!("/api/v1/tickets/{id}/actions"), Some(body)).await }
        };
        let (s, v) = act("resolve").await;
        assert_eq!(s, 200, "[{e}] {v}");
        let (s, v) = act("close").await;
        assert_eq!(s, 409, "[{e}] {v}");
        assert!(v.to_string().contains("尚未告知客户"), "[{e}] {v}");
        let told = format!("{path}/customer-told");
        let (s, v) = call(&app, Method::POST, &agent, &told, None).await;
        assert_eq!((s, v["customer_told_at"].as_str()), (200, Some(t1.to_string().as_str())), "[{e}] {v}");
        let (s, v) = act("close").await;
        assert_eq!((s, v["status"].as_str()), (200, Some("closed")), "[{e}] {v}");
        // An outcome is final.
        let (s, _) = put(json!({"status": "declined", "decline_reason": "改主意了"})).await;
        assert_eq!(s, 409, "[{e}]");

        // Another type of ticket has no need record.
        let other = post(&app, &agent, "/api/v1/tickets", ticket("consultation")).await["id"].as_i64().unwrap();
        let (s, v) = call(&app, Method::GET, &agent, &format!("/api/v1/tickets/{other}/need"), None).await;
        assert_eq!(s, 409, "[{e}] {v}");
        // Without an outcome the customer cannot be told, nor the ticket closed.
        let open_need = post(&app, &agent, "/api/v1/tickets", ticket("need")).await["id"].as_i64().unwrap();
        let (s, v) =
            call(&app, Method::POST, &agent, &format!("/api/v1/tickets/{open_need}/need/customer-told"), None).await;
        assert_eq!(s, 409, "[{e}] {v}");
        let close = json!({"action": "resolve"});
        call(&app, Method::POST, &agent, &format!("/api/v1/tickets/{open_need}/actions"), Some(close)).await;
        let close = json!({"action": "close"});
        let (s, v) =
            call(&app, Method::POST, &agent, &format!("/api/v1/tickets/{open_need}/actions"), Some(close)).await;
        assert_eq!(s, 409, "[{e}] {v}");
        assert!(v.to_string().contains("需求尚无结果"), "[{e}] {v}");
    }
}
