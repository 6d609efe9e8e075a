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

async fn outbox_rows(app: &TestApp, key: String) -> Vec<(i64, String, String, String)> {
    app.state
        .db
        .read(move |c| {
            c.query(
                "SELECT id, channel, scenario, body FROM outbox WHERE idempotency_key = $1 ORDER BY id",
                guanxi_store::args![key.as_str()],
            )?
            .iter()
            .map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .collect::<guanxi_store::Result<Vec<_>>>()
        })
        .await
        .unwrap()
}

async fn told_outreach_id(app: &TestApp, ticket: i64) -> Option<i64> {
    app.state
        .db
        .read(move |c| {
            c.scalar("SELECT told_outreach_id FROM ticket_needs WHERE ticket_id = $1", guanxi_store::args![ticket])
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_need_is_routed_by_category_and_its_customer_told_once_through_the_outbox() {
    for app in apps().await {
        let e = app.engine.clone();
        let t0: Timestamp = "2026-11-23T02:00:00Z".parse().unwrap();
        app.clock.set(t0);
        let admin = app.admin_token().await;
        let team = post(&app, &admin, "/api/v1/groups", json!({"name": "一线客服组", "kind": "team"})).await;
        let product = post(&app, &admin, "/api/v1/groups", json!({"name": "产品部", "kind": "department"})).await;
        let after_sales =
            post(&app, &admin, "/api/v1/groups", json!({"name": "售后服务部", "kind": "department"})).await;
        let after_sales = after_sales["id"].as_i64().unwrap();
        let body = json!({"email": "wang.fang@test.cn", "name": "王芳", "role": "agent",
            "password": "password-123", "group_id": team["id"], "certified": true});
        let agent_id = post(&app, &admin, "/api/v1/users", body).await["id"].as_i64().unwrap();
        let agent = app.token("wang.fang@test.cn", "password-123").await;
        let customer = |body: Value| {
            let (app, agent) = (&app, agent.clone());
            let mut body = body;
            body["owner_id"] = json!(agent_id);
            async move { post(app, &agent, "/api/v1/customers", body).await["id"].as_i64().unwrap() }
        };
        let mailed = customer(json!({"name": "杭州明远科技有限公司", "email": "contact@mingyuan.cn"})).await;
        let sms_only = customer(json!({"name": "宁波海蓝贸易有限公司", "phone": "13912345678"})).await;
        let unreachable = customer(json!({"name": "温州启航电子商行"})).await;
        // The SMS customer refuses SMS.
        let consent = json!({"channel": "sms", "granted": false, "source": "电话", "note": "客户来电要求不发短信"});
        post(&app, &admin, &format!("/api/v1/customers/{sms_only}/consents"), consent).await;
        let need = |cust: i64, category: &str| {
            let (app, agent) = (&app, agent.clone());
            let body = json!({"type": "need", "channel": "email", "category": category, "priority": "normal",
                "customer_id": cust, "subject": "希望支持批量导出", "description": "客户希望报表可以批量导出",
                "assignee_id": agent_id});
            async move { post(app, &agent, "/api/v1/tickets", body).await["id"].as_i64().unwrap() }
        };
        let get = |id: i64| {
            let (app, agent) = (&app, agent.clone());
            async move { call(app, Method::GET, &agent, &format!("/api/v1/tickets/{id}/need"), None).await.1 }
        };

        // Routed on creation: product → 产品部, service → 售后服务部, other → nobody.
        let a = need(mailed, "product").await;
        let v = get(a).await;
        assert_eq!(
            (v["status"].as_str(), v["department_name"].as_str()),
            (Some("submitted"), Some("产品部")),
            "[{e}] {v}"
        );
        assert_eq!(v["submitted_at"].as_str(), Some(t0.to_string().as_str()), "[{e}] {v}");
        let b = need(sms_only, "service").await;
        assert_eq!(get(b).await["department_name"].as_str(), Some("售后服务部"), "[{e}]");
        let c = need(unreachable, "other").await;
        assert!(get(c).await["department_name"].is_null(), "[{e}]");
        let routed: i64 = app
            .state
            .db
            .read(move |c| {
                c.scalar(
                    "SELECT COUNT(*) FROM ticket_events WHERE ticket_id = $1 AND kind = 'need_routed'",
                    guanxi_store::args![a],
                )
            })
            .await
            .unwrap();
        assert_eq!(routed, 1, "[{e}] the routing is in the ticket's history");
        // The administrators' choice per category wins over the default names;
        // an unknown category or group is refused naming it, nothing changed.
        let routes = "/api/v1/needs/departments";
        let (s, v) = call(&app, Method::GET, &admin, routes, None).await;
        assert_eq!(s, 200, "[{e}] {v}");
        assert_eq!(v[0]["category"], "product", "[{e}] {v}");
        assert_eq!((v[0]["group_name"].as_str(), v[0]["chosen"].as_bool()), (Some("产品部"), Some(false)), "[{e}] {v}");
        let (s, v) = call(&app, Method::PUT, &admin, routes, Some(json!({"fax": after_sales}))).await;
        assert_eq!(s, 422, "[{e}] {v}");
        assert!(v.to_string().contains("fax"), "[{e}] {v}");
        let (s, v) = call(&app, Method::PUT, &admin, routes, Some(json!({"product": 999999}))).await;
        assert_eq!(s, 422, "[{e}] {v}");
        let (s, _) = call(&app, Method::PUT, &agent, routes, Some(json!({"product": after_sales}))).await;
        assert_eq!(s, 403, "[{e}] administrators only");
        let (s, v) = call(&app, Method::GET, &admin, routes, None).await;
        assert_eq!((s, v[0]["chosen"].as_bool()), (200, Some(false)), "[{e}] nothing changed: {v}");
        let (s, v) = call(&app, Method::PUT, &admin, routes, Some(json!({"product": after_sales}))).await;
        assert_eq!(s, 200, "[{e}] {v}");
        assert_eq!(
            (v[0]["group_name"].as_str(), v[0]["chosen"].as_bool()),
            (Some("售后服务部"), Some(true)),
            "[{e}] {v}"
        );
        let d = need(mailed, "product").await;
        assert_eq!(get(d).await["department_name"].as_str(), Some("售后服务部"), "[{e}]");
        let _ = product;

        // A delivers: telling with notify queues one need_outcome message.
        for body in [
            json!({"status": "evaluating"}),
            json!({"status": "planned", "planned_version": "v2.3"}),
            json!({"status": "delivered"}),
        ] {
            let (s, v) = call(&app, Method::PUT, &agent, &format!("/api/v1/tickets/{a}/need"), Some(body)).await;
            assert_eq!(s, 200, "[{e}] {v}");
        }
        let told = |id: i64, notify: bool| {
            let (app, agent) = (&app, agent.clone());
            let path = format!("/api/v1/tickets/{id}/need/customer-told?notify={notify}");
            async move { call(app, Method::POST, &agent, &path, None).await }
        };
        let (s, v) = told(a, true).await;
        assert_eq!(s, 200, "[{e}] {v}");
        assert_eq!(v["customer_told_at"].as_str(), Some(t0.to_string().as_str()), "[{e}] {v}");
        let rows = outbox_rows(&app, format!("need-outcome-{a}")).await;
        assert_eq!(rows.len(), 1, "[{e}] {rows:?}");
        let (msg_id, channel, scenario, text) = &rows[0];
        assert_eq!((channel.as_str(), scenario.as_str()), ("email", "need_outcome"), "[{e}]");
        assert!(text.contains("杭州明远科技有限公司") && text.contains("已上线（版本 v2.3）"), "[{e}] {text}");
        assert_eq!(told_outreach_id(&app, a).await, Some(*msg_id), "[{e}]");
        // Told once: again is a no-op, no second message, the first time stays.
        app.clock.set(t0 + jiff::SignedDuration::from_hours(1));
        let (s, v) = told(a, true).await;
        assert_eq!((s, v["customer_told_at"].as_str()), (200, Some(t0.to_string().as_str())), "[{e}] {v}");
        assert_eq!(outbox_rows(&app, format!("need-outcome-{a}")).await.len(), 1, "[{e}] exactly one message");

        // B declines; the customer refuses SMS (their only address): nothing is
        // queued or recorded; told another way, it is recorded without a message.
        let body = json!({"status": "declined", "decline_reason": "与现有安全策略冲突"});
        let (s, v) = call(&app, Method::PUT, &agent, &format!("/api/v1/tickets/{b}/need"), Some(body)).await;
        assert_eq!(s, 200, "[{e}] {v}");
        let (s, v) = told(b, true).await;
        assert_eq!((s, v["errors"][0]["code"].as_str()), (409, Some("channel_refused")), "[{e}] {v}");
        assert!(get(b).await["customer_told_at"].is_null(), "[{e}] nothing recorded");
        assert!(outbox_rows(&app, format!("need-outcome-{b}")).await.is_empty(), "[{e}]");
        let (s, v) = told(b, false).await;
        assert_eq!(s, 200, "[{e}] {v}");
        assert!(v["customer_told_at"].is_string(), "[{e}] {v}");
        assert_eq!(told_outreach_id(&app, b).await, None, "[{e}]");
        assert!(outbox_rows(&app, format!("need-outcome-{b}")).await.is_empty(), "[{e}]");

        // C has no address at all: refused, naming why.
        let body = json!({"status": "declined", "decline_reason": "不在产品规划内"});
        call(&app, Method::PUT, &agent, &format!("/api/v1/tickets/{c}/need"), Some(body)).await;
        let (s, v) = told(c, true).await;
        assert_eq!((s, v["errors"][0]["code"].as_str()), (409, Some("no_channel")), "[{e}] {v}");
    }
}
