//! The HTTP API end to end, on every engine: health, OpenAPI, tokens,
//! customers round trip, field validation that changes nothing, permissions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::app::{TestApp, apps};

fn full_customer() -> Value {
    json!({
        "name": "上海明远机械有限公司",
        "kind": "enterprise",
        "industry": "制造业",
        "scale": "medium",
        "region": "上海市浦东新区",
        "decision_chain": "采购经理初选，副总拍板",
        "phone": "138 1234 5678",
        "email": "Service@MingYuan.cn",
        "cooperation_start": "2023-08-15",
        "first_purchase_on": "2023-09-01",
        "last_cooperation_on": "2026-10-30",
        "preferred_channel": "wecom",
        "contact_window": "工作日 20:00 后",
        "marketing_consent": true,
        "notes": "年底有扩产计划",
        "stage": "mature",
        "contract_end": "2027-01-31",
        "renewal_date": "2027-01-15",
        "verified_on": "2026-06-01",
        "tags": ["高价值", "活跃"],
        "external_id": "ERP-0001"
    })
}

#[tokio::test]
async fn health_openapi_and_tokens() {
    for app in apps().await {
        let r = app.call(Method::GET, "/healthz", None, None).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), "ok");

        let doc: Value = app.call(Method::GET, "/api/openapi.json", None, None).await.json().await.unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        for path in ["/api/v1/auth/token", "/api/v1/customers", "/api/v1/customers/{id}", "/api/v1/users", "/healthz"] {
            assert!(doc["paths"][path].is_object(), "OpenAPI lacks {path}");
        }
        assert!(doc["components"]["schemas"]["CustomerInput"]["properties"]["phone"].is_object());

        // Wrong password: 401 problem, in the requested language.
        let r = app
            .http
            .post(format!("{}/api/v1/auth/token", app.url))
            .header("accept-language", "en")
            .json(&json!({"email": support::app::ADMIN_EMAIL, "password": "wrong-password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["title"], "Authentication required");

        // No token, a bad token: 401.
        assert_eq!(app.call(Method::GET, "/api/v1/customers", None, None).await.status(), 401);
        let r = app.call(Method::GET, "/api/v1/customers", Some("not-a-token"), None).await;
        assert_eq!(r.status(), 401);
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["title"], "请先登录", "Chinese by default");

        let token = app.admin_token().await;
        let me: Value = app.call(Method::GET, "/api/v1/me", Some(&token), None).await.json().await.unwrap();
        assert_eq!(me["role"], "admin");
    }
}

#[tokio::test]
async fn customer_round_trip() {
    for app in apps().await {
        let e = app.engine.clone();
        let token = app.admin_token().await;
        let r = app.call(Method::POST, "/api/v1/customers", Some(&token), Some(full_customer())).await;
        assert_eq!(r.status(), 201, "[{e}]");
        let c: Value = r.json().await.unwrap();
        assert_eq!(c["code"], "KH000001");
        assert_eq!(c["phone"], "138****5678", "phone is masked in responses");
        assert_eq!(c["email"], "S***@mingyuan.cn");
        assert_eq!(c["cooperation_months"], 39);
        assert_eq!(c["next_anniversary"], "2027-08-15");
        assert_eq!(c["needs_review"], false);
        assert_eq!(c["tags"], json!(["活跃", "高价值"]));
        let id = c["id"].as_i64().unwrap();

        // Read back.
        let got: Value =
            app.call(Method::GET, &format!("/api/v1/customers/{id}"), Some(&token), None).await.json().await.unwrap();
        assert_eq!(got["name"], "上海明远机械有限公司");
        assert_eq!(got["contract_end"], "2027-01-31");

        // Stored encrypted: the raw table holds no plaintext phone or email.
        let raw = app
            .state
            .db
            .read(move |c| {
                c.query(
                    "SELECT phone_enc, email_enc, phone_masked FROM customers WHERE id = $1",
                    guanxi_store::args![id],
                )
            })
            .await
            .unwrap();
        let dump = format!("{raw:?}");
        assert!(!dump.contains("13812345678") && !dump.to_lowercase().contains("service@mingyuan"), "[{e}] {dump}");
        assert!(dump.contains("138****5678"));

        // Reveal decrypts and is logged.
        let r: Value = app
            .call(
                Method::POST,
                &format!("/api/v1/customers/{id}/reveal"),
                Some(&token),
                Some(json!({"field": "phone"})),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(r["value"], "13812345678");
        let reveals: i64 = app
            .state
            .db
            .read(move |c| {
                c.scalar(
                    "SELECT COUNT(*) FROM audit_log WHERE action = 'reveal' AND entity_id = $1",
                    guanxi_store::args![id],
                )
            })
            .await
            .unwrap();
        assert_eq!(reveals, 1);

        // A second customer, then list with filters and sorting.
        let r = app
            .call(Method::POST, "/api/v1/customers", Some(&token), Some(json!({"name": "杭州青禾电子商务", "industry": "电子商务", "tags": ["价格敏感"], "phone": "0571-88886666"})))
            .await;
        assert_eq!(r.status(), 201);
        let list = |q: &'static str| {
            let app = &app;
            let token = token.clone();
            async move {
                let r = app.call(Method::GET, &format!("/api/v1/customers{q}"), Some(&token), None).await;
                assert_eq!(r.status(), 200, "{q}");
                r.json::<Value>().await.unwrap()
            }
        };
        assert_eq!(list("").await["total"], 2);
        assert_eq!(list("?industry=制造业").await["items"][0]["code"], "KH000001");
        assert_eq!(list("?tag=价格敏感").await["items"][0]["code"], "KH000002");
        assert_eq!(list("?q=青禾").await["total"], 1);
        assert_eq!(list("?q=13812345678").await["items"][0]["id"], id, "[{e}] search by full phone");
        assert_eq!(list("?q=service@mingyuan.cn").await["total"], 1, "[{e}] search by email");
        assert_eq!(list("?sort=code_asc&per_page=1&page=2").await["items"][0]["code"], "KH000002");
        assert_eq!(list("?sort=name_asc").await["items"][0]["code"], "KH000001", "上 sorts before 杭 by code point");
        let admin_id =
            app.call(Method::GET, "/api/v1/me", Some(&token), None).await.json::<Value>().await.unwrap()["id"]
                .as_i64()
                .unwrap();
        assert_eq!(list("?needs_review=true").await["total"], 1, "the second was never verified");
        let _ = admin_id;

        // Update replaces fields.
        let mut changed = full_customer();
        changed["name"] = json!("上海明远机械股份有限公司");
        changed["tags"] = json!(["战略客户"]);
        changed["phone"] = json!("13900001111");
        let r = app.call(Method::PUT, &format!("/api/v1/customers/{id}"), Some(&token), Some(changed)).await;
        assert_eq!(r.status(), 200, "[{e}]");
        let c: Value = r.json().await.unwrap();
        assert_eq!(c["name"], "上海明远机械股份有限公司");
        assert_eq!(c["tags"], json!(["战略客户"]));
        assert_eq!(c["phone"], "139****1111");
        assert_eq!(list("?q=13812345678").await["total"], 0, "the old number no longer matches");
        let detail: String = app
            .state
            .db
            .read(move |c| {
                c.scalar(
                    "SELECT detail FROM audit_log WHERE action = 'update' AND entity_id = $1",
                    guanxi_store::args![id],
                )
            })
            .await
            .unwrap();
        assert_eq!(detail, "name, phone, tags", "[{e}] the audit names exactly the changed fields");

        // Delete, then it is gone.
        let r = app.call(Method::DELETE, &format!("/api/v1/customers/{id}"), Some(&token), None).await;
        assert_eq!(r.status(), 204);
        let r = app.call(Method::GET, &format!("/api/v1/customers/{id}"), Some(&token), None).await;
        assert_eq!(r.status(), 404);
        assert_eq!(list("").await["total"], 1);
    }
}

/// Each case: (field, bad value) → a 422 naming the field, nothing written.
fn bad_cases() -> Vec<(&'static str, Value)> {
    vec![
        ("name", json!("")),
        ("name", json!("名".repeat(101))),
        ("name", json!(123)),
        ("kind", json!("alien")),
        ("industry", json!("x".repeat(51))),
        ("scale", json!("huge")),
        ("region", json!("x".repeat(51))),
        ("decision_chain", json!("x".repeat(2001))),
        ("phone", json!("12345")),
        ("phone", json!("1381234567a")),
        ("email", json!("not-an-email")),
        ("owner_id", json!(99999)),
        ("owner_id", json!(0)),
        ("owner_id", json!("abc")),
        ("cooperation_start", json!("2099-01-01")),
        ("cooperation_start", json!("2024-02-30")),
        ("first_purchase_on", json!("yesterday")),
        ("last_cooperation_on", json!("2030-01-01")),
        ("preferred_channel", json!("pigeon")),
        ("contact_window", json!("x".repeat(101))),
        ("marketing_consent", json!("yes")),
        ("notes", json!("x".repeat(2001))),
        ("stage", json!("zombie")),
        ("contract_end", json!("3000-01-01")),
        ("renewal_date", json!("2027/01/01")),
        ("verified_on", json!("2027-01-01")),
        ("tags", json!(["a,b"])),
        ("tags", json!((0..21).map(|i| format!("t{i}")).collect::<Vec<_>>())),
        ("tags", json!("高价值")),
        ("external_id", json!("x".repeat(65))),
        ("external_id", json!("ERP-0001")),
        ("favourite_colour", json!("red")),
    ]
}

async fn assert_refused(app: &TestApp, method: Method, path: &str, token: &str, field: &str, value: &Value) {
    let mut body = json!({"name": "合法的客户名称"});
    body[field] = value.clone();
    let before = app.snapshot().await;
    let r = app
        .http
        .request(method, format!("{}{path}", app.url))
        .bearer_auth(token)
        .header("accept-language", "en")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "[{}] {field}={value} should be refused", app.engine);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let p: Value = r.json().await.unwrap();
    let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&field), "[{}] {field}: errors were {p}", app.engine);
    let msg = p["errors"][0]["message"].as_str().unwrap();
    assert!(msg.starts_with(|c: char| c.is_ascii_alphabetic()), "English message expected: {msg}");
    assert_eq!(app.snapshot().await, before, "[{}] {field}={value} changed the database", app.engine);
}

#[tokio::test]
async fn every_bad_customer_field_is_named_and_changes_nothing() {
    for app in apps().await {
        let token = app.admin_token().await;
        let r = app.call(Method::POST, "/api/v1/customers", Some(&token), Some(full_customer())).await;
        assert_eq!(r.status(), 201);
        let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
        // Move time on, so that an accepted write would change updated_at.
        app.clock.advance(jiff::SignedDuration::from_hours(1));
        for (field, value) in bad_cases() {
            assert_refused(&app, Method::POST, "/api/v1/customers", &token, field, &value).await;
            if field != "external_id" || value != json!("ERP-0001") {
                assert_refused(&app, Method::PUT, &format!("/api/v1/customers/{id}"), &token, field, &value).await;
            }
        }
        // Chinese messages by default.
        let r = app
            .call(Method::POST, "/api/v1/customers", Some(&token), Some(json!({"name": "甲", "phone": "123"})))
            .await;
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["errors"][0]["field"], "phone");
        assert!(p["errors"][0]["message"].as_str().unwrap().contains("电话号码"), "{p}");
        // A body that is not JSON at all: 400, nothing written.
        let before = app.snapshot().await;
        let r = app
            .http
            .post(format!("{}/api/v1/customers", app.url))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(app.snapshot().await, before);
    }
}

#[tokio::test]
async fn permissions_and_scope() {
    for app in apps().await {
        let admin = app.admin_token().await;
        let g = app
            .call(Method::POST, "/api/v1/groups", Some(&admin), Some(json!({"name": "华东客服组", "kind": "team"})))
            .await;
        assert_eq!(g.status(), 201);
        let (agent_id, agent) = app.user(&admin, "agent.a@test.cn", "agent", None).await;
        let (_, other) = app.user(&admin, "agent.b@test.cn", "agent", None).await;

        // An agent cannot administer users, and trying changes nothing.
        let before = app.snapshot().await;
        assert_eq!(app.call(Method::GET, "/api/v1/users", Some(&agent), None).await.status(), 403);
        let r = app
            .call(
                Method::POST,
                "/api/v1/users",
                Some(&agent),
                Some(json!({"email": "x@test.cn", "name": "x", "role": "admin", "password": "password-123"})),
            )
            .await;
        assert_eq!(r.status(), 403);
        let r = app
            .call(
                Method::PUT,
                &format!("/api/v1/users/{agent_id}"),
                Some(&agent),
                Some(json!({"email": "agent.a@test.cn", "name": "a", "role": "admin"})),
            )
            .await;
        assert_eq!(r.status(), 403);
        assert_eq!(
            app.call(Method::POST, "/api/v1/groups", Some(&agent), Some(json!({"name": "x", "kind": "team"})))
                .await
                .status(),
            403
        );
        let gid = g.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
        assert_eq!(app.call(Method::DELETE, &format!("/api/v1/groups/{gid}"), Some(&agent), None).await.status(), 403);
        assert_eq!(app.snapshot().await, before);

        // An agent's customers are theirs; another agent cannot see them.
        let r = app.call(Method::POST, "/api/v1/customers", Some(&agent), Some(json!({"name": "成都嘉禾食品"}))).await;
        assert_eq!(r.status(), 201);
        let c: Value = r.json().await.unwrap();
        assert_eq!(c["owner_id"], agent_id, "owner defaults to the creating agent");
        let id = c["id"].as_i64().unwrap();
        assert_eq!(app.call(Method::GET, &format!("/api/v1/customers/{id}"), Some(&other), None).await.status(), 404);
        let list: Value = app.call(Method::GET, "/api/v1/customers", Some(&other), None).await.json().await.unwrap();
        assert_eq!(list["total"], 0);
        let before = app.snapshot().await;
        let r = app
            .call(Method::PUT, &format!("/api/v1/customers/{id}"), Some(&other), Some(json!({"name": "改名"})))
            .await;
        assert_eq!(r.status(), 404);
        // Agents may not delete customers.
        assert_eq!(
            app.call(Method::DELETE, &format!("/api/v1/customers/{id}"), Some(&agent), None).await.status(),
            403
        );
        assert_eq!(app.snapshot().await, before);

        // Disabling a user ends their tokens at once.
        let r = app
            .call(
                Method::PUT,
                &format!("/api/v1/users/{agent_id}"),
                Some(&admin),
                Some(json!({"email": "agent.a@test.cn", "name": "a", "role": "agent", "active": false})),
            )
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(app.call(Method::GET, "/api/v1/me", Some(&agent), None).await.status(), 401);

        assert_eq!(app.call(Method::DELETE, &format!("/api/v1/groups/{gid}"), Some(&admin), None).await.status(), 204);
        assert_eq!(app.call(Method::DELETE, &format!("/api/v1/groups/{gid}"), Some(&admin), None).await.status(), 404);

        // The admin's own user validation: duplicate email is a field error.
        let r = app
            .call(
                Method::POST,
                "/api/v1/users",
                Some(&admin),
                Some(json!({"email": "AGENT.B@test.cn", "name": "b", "role": "agent", "password": "password-123"})),
            )
            .await;
        assert_eq!(r.status(), 422);
        assert_eq!(r.json::<Value>().await.unwrap()["errors"][0]["field"], "email");
    }
}
