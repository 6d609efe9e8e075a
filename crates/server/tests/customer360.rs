//! Customer 360 over the API, on every engine: contacts with encrypted
//! personal data, search by the last digits of a phone, orders with exact
//! money, behaviour events, communications with action items, the timeline.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::app::{TestApp, apps};

async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> (u16, Value) {
    let r = app.call(Method::POST, path, Some(token), Some(body)).await;
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn get(app: &TestApp, path: &str, token: &str) -> Value {
    let r = app.call(Method::GET, path, Some(token), None).await;
    assert_eq!(r.status(), 200, "[{}] GET {path}", app.engine);
    r.json().await.unwrap()
}

async fn customer(app: &TestApp, token: &str, name: &str, phone: &str) -> i64 {
    let (s, c) = post(app, "/api/v1/customers", token, json!({"name": name, "phone": phone})).await;
    assert_eq!(s, 201);
    c["id"].as_i64().unwrap()
}

#[tokio::test]
async fn contacts_are_encrypted_and_searchable_by_the_last_digits() {
    for app in apps().await {
        let e = app.engine.clone();
        let token = app.admin_token().await;
        let id = customer(&app, &token, "南京致远机械", "13912345678").await;
        let other = customer(&app, &token, "西安鼎盛食品", "13800009999").await;
        let (s, c) = post(
            &app,
            &format!("/api/v1/customers/{id}/contacts"),
            &token,
            json!({"name": "李强", "title": "采购经理", "phone": "137-0000-4321", "email": "li.qiang@zhiyuan.cn",
                   "wechat": "liqiang_88", "birthday": "1985-06-18", "address": "南京市江宁区将军大道100号", "decision_maker": true}),
        )
        .await;
        assert_eq!(s, 201, "[{e}] {c}");
        assert_eq!(c["phone"], "137****4321");
        assert_eq!(c["wechat"], "li***8");
        assert_eq!(c["has_birthday"], true);

        // No plaintext in the raw table.
        let raw = app.state.db.read(|c| c.query("SELECT * FROM contacts", &[])).await.unwrap();
        let dump = format!("{raw:?}");
        for secret in ["13700004321", "li.qiang@zhiyuan.cn", "liqiang_88", "1985-06-18", "将军大道"] {
            assert!(!dump.contains(secret), "[{e}] {secret} stored in clear: {dump}");
        }

        // Search: last 4 digits of the contact's phone, of the customer's own,
        // longer endings, the full number, the contact's name and email; an
        // ending or a number that only shares the last four digits finds nothing.
        for (q, expect) in [
            ("4321", vec![id]),
            ("5678", vec![id]),
            ("0000-4321", vec![id]),
            ("12345678", vec![id]),
            ("13700004321", vec![id]),
            ("99994321", vec![]),
            ("13600004321", vec![]),
            ("9999", vec![other]),
            ("李强", vec![id]),
            ("li.qiang@zhiyuan.cn", vec![id]),
            ("1234", vec![]),
        ] {
            let r = get(&app, &format!("/api/v1/customers?q={}", urlencode(q)), &token).await;
            let ids: Vec<i64> = r["items"].as_array().unwrap().iter().map(|x| x["id"].as_i64().unwrap()).collect();
            assert_eq!(ids, expect, "[{e}] search {q}");
        }

        // Bad contact input: every field named, nothing written.
        let before = app.snapshot().await;
        let (s, p) = post(
            &app,
            &format!("/api/v1/customers/{id}/contacts"),
            &token,
            json!({"name": "", "phone": "123", "email": "x@", "wechat": "9x", "birthday": "2099-01-01"}),
        )
        .await;
        assert_eq!(s, 422);
        let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().map(|x| x["field"].as_str().unwrap()).collect();
        assert_eq!(fields, vec!["name", "phone", "email", "wechat", "birthday"]);
        assert_eq!(app.snapshot().await, before);

        // Revealing decrypts one field and writes the access to the audit log.
        let cid = c["id"].as_i64().unwrap();
        let (s, r) = post(&app, &format!("/api/v1/contacts/{cid}/reveal"), &token, json!({"field": "wechat"})).await;
        assert_eq!((s, r["value"].as_str()), (200, Some("liqiang_88")));
        let (_, r) = post(&app, &format!("/api/v1/contacts/{cid}/reveal"), &token, json!({"field": "birthday"})).await;
        assert_eq!(r["value"], "1985-06-18");
        let logged: i64 = app
            .state
            .db
            .read(move |c| {
                c.scalar(
                    "SELECT COUNT(*) FROM audit_log WHERE action = 'reveal' AND entity = 'contact' AND entity_id = $1",
                    guanxi_store::args![cid],
                )
            })
            .await
            .unwrap();
        assert_eq!(logged, 2);
        let (s, _) = post(&app, &format!("/api/v1/contacts/{cid}/reveal"), &token, json!({"field": "salary"})).await;
        assert_eq!(s, 422);

        // Updating the phone moves the search index.
        let r = app
            .call(
                Method::PUT,
                &format!("/api/v1/contacts/{cid}"),
                Some(&token),
                Some(json!({"name": "李强", "phone": "13600002222"})),
            )
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(get(&app, "/api/v1/customers?q=4321", &token).await["total"], 0);
        assert_eq!(get(&app, "/api/v1/customers?q=2222", &token).await["total"], 1);
        let r = app.call(Method::DELETE, &format!("/api/v1/contacts/{cid}"), Some(&token), None).await;
        assert_eq!(r.status(), 204);
        assert_eq!(get(&app, "/api/v1/customers?q=2222", &token).await["total"], 0);
    }
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("q", s)]).unwrap().trim_start_matches("q=").to_string()
}

#[tokio::test]
async fn orders_events_communications_and_the_timeline() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        let (agent_id, agent) = app.user(&admin, "agent@test.cn", "agent", None).await;
        let (_, stranger) = app.user(&admin, "stranger@test.cn", "agent", None).await;
        let (s, c) = post(&app, "/api/v1/customers", &agent, json!({"name": "成都云帆科技"})).await;
        assert_eq!(s, 201);
        let id = c["id"].as_i64().unwrap();
        let code = c["code"].as_str().unwrap().to_string();

        // Orders: exact money, idempotent by external id, refused bad amounts.
        for (ext, on, amount) in
            [("ERP-1", "2026-03-01", "120000.50"), ("ERP-2", "2025-06-01", "80000"), ("ERP-3", "2026-11-20", "0.99")]
        {
            let (s, _) = post(
                &app,
                &format!("/api/v1/customers/{id}/orders"),
                &agent,
                json!({"ordered_on": on, "amount": amount, "external_id": ext, "product": "云服务年费"}),
            )
            .await;
            assert_eq!(s, 201, "[{e}]");
        }
        let (s, dup) = post(
            &app,
            &format!("/api/v1/customers/{id}/orders"),
            &agent,
            json!({"ordered_on": "2026-03-01", "amount": "1", "external_id": "ERP-1"}),
        )
        .await;
        assert_eq!((s, dup["duplicate"].as_bool()), (200, Some(true)));
        let before = app.snapshot().await;
        let (s, p) = post(
            &app,
            &format!("/api/v1/customers/{id}/orders"),
            &agent,
            json!({"ordered_on": "2026-03-01", "amount": "12.345"}),
        )
        .await;
        assert_eq!(s, 422);
        assert_eq!(p["errors"][0]["field"], "amount");
        let (s, _) = post(
            &app,
            &format!("/api/v1/customers/{id}/orders"),
            &agent,
            json!({"ordered_on": "2026-03-01", "amount": 12.5}),
        )
        .await;
        assert_eq!(s, 422, "a float amount is refused");
        assert_eq!(app.snapshot().await, before);
        let o = get(&app, &format!("/api/v1/customers/{id}/orders"), &agent).await;
        assert_eq!(o["spend_12m_fen"], 12_000_050 + 99, "[{e}] last 12 months only: {o}");
        assert_eq!(o["orders_total"], 3);
        assert_eq!(o["spend_total_fen"], 12_000_050 + 8_000_000 + 99);
        assert_eq!(o["last_order_on"], "2026-11-20");
        assert_eq!(o["recent"][0]["amount"], "0.99");

        // Behaviour events: batch, idempotent, all-or-nothing, not for agents.
        let events = json!({"events": [
            {"customer_code": code, "event_id": "ev-1", "kind": "login", "occurred_at": "2026-11-22T08:00:00Z"},
            {"customer_id": id, "event_id": "ev-2", "kind": "feature_use", "occurred_at": "2026-11-22 16:10", "duration_secs": 300, "feature": "报表导出"},
        ]});
        assert_eq!(post(&app, "/api/v1/events", &agent, events.clone()).await.0, 403);
        let (s, r) = post(&app, "/api/v1/events", &admin, events.clone()).await;
        assert_eq!((s, r["stored"].as_u64()), (200, Some(2)), "[{e}] {r}");
        let (_, r) = post(&app, "/api/v1/events", &admin, events).await;
        assert_eq!(r["stored"], 0, "re-sent events are ignored");
        let before = app.snapshot().await;
        let (s, p) = post(
            &app,
            "/api/v1/events",
            &admin,
            json!({"events": [
                {"customer_code": code, "event_id": "ev-3", "kind": "login", "occurred_at": "2026-11-22T08:00:00Z"},
                {"customer_code": "KH999999", "event_id": "ev-4", "kind": "dance", "occurred_at": "soon"},
            ]}),
        )
        .await;
        assert_eq!(s, 422);
        let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().map(|x| x["field"].as_str().unwrap()).collect();
        assert_eq!(fields, vec!["events[1].kind", "events[1].occurred_at"]);
        let (s, p) = post(&app, "/api/v1/events", &admin, json!({"events": [
            {"customer_code": "KH999999", "event_id": "ev-5", "kind": "login", "occurred_at": "2026-11-22T08:00:00Z"},
        ]})).await;
        assert_eq!((s, p["errors"][0]["field"].as_str()), (422, Some("events[0].customer_code")));
        assert_eq!(app.snapshot().await, before);

        // A communication whose follow-up lacks an owner is refused whole.
        let before = app.snapshot().await;
        let (s, p) = post(
            &app,
            &format!("/api/v1/customers/{id}/communications"),
            &agent,
            json!({
                "channel": "phone", "purpose": "季度回访", "summary": "客户反馈报表导出慢",
                "action_items": [{"content": "两个工作日内发送优化方案", "due": "2026-11-25"}]
            }),
        )
        .await;
        assert_eq!(s, 422);
        assert_eq!(p["errors"][0]["field"], "action_items[0].owner_id");
        assert_eq!(app.snapshot().await, before);
        let (s, _) = post(
            &app,
            &format!("/api/v1/customers/{id}/communications"),
            &agent,
            json!({
                "channel": "phone", "purpose": "季度回访", "summary": "客户反馈报表导出慢",
                "action_items": [{"content": "两个工作日内发送优化方案", "due": "2026-11-25", "owner_id": 99999}]
            }),
        )
        .await;
        assert_eq!(s, 422, "an unknown owner is refused");
        let (s, m) = post(
            &app,
            &format!("/api/v1/customers/{id}/communications"),
            &agent,
            json!({
                "channel": "phone", "direction": "outbound", "purpose": "季度回访", "summary": "客户反馈报表导出慢",
                "feedback": "希望支持按部门导出", "result": "已记录需求", "satisfaction": 4,
                "action_items": [{"content": "两个工作日内发送优化方案", "due": "2026-11-25", "owner_id": agent_id}]
            }),
        )
        .await;
        assert_eq!(s, 201, "[{e}] {m}");

        // The action item is on the owner's list, overdue once its time passes.
        let items = get(&app, "/api/v1/action-items", &agent).await;
        assert_eq!(items.as_array().unwrap().len(), 1);
        assert_eq!(items[0]["overdue"], false);
        let item_id = items[0]["id"].as_i64().unwrap();
        app.clock.advance(jiff::SignedDuration::from_hours(24 * 3));
        assert_eq!(get(&app, "/api/v1/action-items", &agent).await[0]["overdue"], true);
        let r = app
            .call(
                Method::PATCH,
                &format!("/api/v1/action-items/{item_id}"),
                Some(&stranger),
                Some(json!({"status": "done"})),
            )
            .await;
        assert_eq!(r.status(), 404, "out of scope");
        let r = app
            .call(
                Method::PATCH,
                &format!("/api/v1/action-items/{item_id}"),
                Some(&agent),
                Some(json!({"status": "finished"})),
            )
            .await;
        assert_eq!(r.status(), 422);
        let r = app
            .call(
                Method::PATCH,
                &format!("/api/v1/action-items/{item_id}"),
                Some(&agent),
                Some(json!({"status": "done"})),
            )
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(get(&app, "/api/v1/action-items", &agent).await.as_array().unwrap().len(), 0);

        // The timeline: newest first, filterable, paged by cursor.
        let t = get(&app, &format!("/api/v1/customers/{id}/timeline"), &agent).await;
        let events: Vec<&str> = t["items"].as_array().unwrap().iter().map(|x| x["event"].as_str().unwrap()).collect();
        assert_eq!(events.first(), Some(&"action_item.done"), "[{e}] {events:?}");
        assert!(events.contains(&"communication.phone") && events.contains(&"customer.created"));
        let ats: Vec<&str> = t["items"].as_array().unwrap().iter().map(|x| x["at"].as_str().unwrap()).collect();
        let mut sorted = ats.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(ats, sorted, "newest first");
        let orders_only = get(&app, &format!("/api/v1/customers/{id}/timeline?kind=order"), &agent).await;
        let kinds: Vec<&str> =
            orders_only["items"].as_array().unwrap().iter().map(|x| x["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, vec!["order"; 3]);
        assert_eq!(orders_only["items"][0]["detail"], "¥0.99 · 云服务年费");
        let page1 = get(&app, &format!("/api/v1/customers/{id}/timeline?limit=2"), &agent).await;
        let next = page1["next"].as_str().unwrap().to_string();
        let page2 = get(&app, &format!("/api/v1/customers/{id}/timeline?limit=2&before={next}"), &agent).await;
        let all: Vec<i64> = t["items"].as_array().unwrap().iter().map(|x| x["id"].as_i64().unwrap()).collect();
        let paged: Vec<i64> = page1["items"]
            .as_array()
            .unwrap()
            .iter()
            .chain(page2["items"].as_array().unwrap())
            .map(|x| x["id"].as_i64().unwrap())
            .collect();
        assert_eq!(paged, all[..4].to_vec(), "[{e}] cursor paging continues where the page ended");
        let r =
            app.call(Method::GET, &format!("/api/v1/customers/{id}/timeline?kind=gossip"), Some(&agent), None).await;
        assert_eq!(r.status(), 422);
        let r = app.call(Method::GET, &format!("/api/v1/customers/{id}/timeline"), Some(&stranger), None).await;
        assert_eq!(r.status(), 404, "another agent's customer");
    }
}
