//! The audit log (SPEC S3) as admins use it, on every engine: changes and
//! reveals of personal data are logged with who, what (before/after), when
//! and from where; the log is searched by actor, record, action and date
//! range in pages, exported as CSV and Excel (the export logged too), and
//! shown on the admin page; only admins read it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use calamine::Reader as _;
use reqwest::Method;
use serde_json::{Value, json};
use support::app::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, apps};

async fn search(app: &TestApp, token: &str, query: &str) -> Value {
    let r = app.call(Method::GET, &format!("/api/v1/audit?{query}"), Some(token), None).await;
    assert_eq!(r.status(), 200, "[{}] {query}", app.engine);
    r.json().await.unwrap()
}

fn actions(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| format!("{} {}", i["action"].as_str().unwrap(), i["entity"].as_str().unwrap()))
        .collect()
}

#[tokio::test]
async fn admins_search_and_export_the_audit_log_on_every_engine() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        let (agent_id, agent) = app.user(&admin, "li.na@test.cn", "agent", None).await;

        // The agent's day: a customer, a contact changed, a phone revealed,
        // an order and a communication record.
        let r = app
            .call(
                Method::POST,
                "/api/v1/customers",
                Some(&agent),
                Some(json!({"name": "苏州东吴精工", "phone": "13912345678"})),
            )
            .await;
        assert_eq!(r.status(), 201);
        let customer = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
        let r = app
            .call(
                Method::POST,
                &format!("/api/v1/customers/{customer}/contacts"),
                Some(&agent),
                Some(json!({"name": "周敏", "title": "采购经理", "phone": "13612345678"})),
            )
            .await;
        assert_eq!(r.status(), 201, "[{e}] contact");
        let contact = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
        let r = app
            .call(
                Method::PUT,
                &format!("/api/v1/contacts/{contact}"),
                Some(&agent),
                Some(json!({"name": "周敏", "title": "采购总监", "phone": "13612345678"})),
            )
            .await;
        assert_eq!(r.status(), 200, "[{e}] contact update");
        let r = app
            .call(
                Method::POST,
                &format!("/api/v1/customers/{customer}/reveal"),
                Some(&agent),
                Some(json!({"field": "phone"})),
            )
            .await;
        assert_eq!(r.status(), 200);
        let r = app
            .call(
                Method::POST,
                &format!("/api/v1/customers/{customer}/orders"),
                Some(&agent),
                Some(json!({"ordered_on": "2026-11-20", "amount": "1280.50", "product": "数控刀具"})),
            )
            .await;
        assert_eq!(r.status(), 201, "[{e}] order");
        let r = app
            .call(
                Method::POST,
                &format!("/api/v1/customers/{customer}/communications"),
                Some(&agent),
                Some(json!({"channel": "phone", "purpose": "回访", "summary": "确认交付", "action_items": []})),
            )
            .await;
        assert_eq!(r.status(), 201, "[{e}] communication");

        // By actor: every one of the agent's changes, newest first, with the address.
        let page = search(&app, &admin, &format!("actor_id={agent_id}")).await;
        assert_eq!(
            actions(&page),
            [
                "create communication",
                "create order",
                "reveal customer",
                "update contact",
                "create contact",
                "create customer"
            ],
            "[{e}]"
        );
        let items = page["items"].as_array().unwrap();
        assert!(items.iter().all(|i| i["actor_id"] == agent_id && i["actor_name"] == "li.na"), "[{e}] {page}");
        assert_eq!(items[5]["ip"], "127.0.0.1", "[{e}] the address of the customer's creation");
        assert!(
            items.iter().all(|i| i["ip"] == "127.0.0.1"),
            "[{e}] contacts, orders and communication records carry the address too: {page}"
        );
        // The contact's change shows before and after, personal data masked.
        let update = &items[3]["detail"];
        let detail: Value = serde_json::from_str(update.as_str().unwrap()).unwrap();
        assert_eq!(detail["before"]["title"], "采购经理");
        assert_eq!(detail["after"]["title"], "采购总监");
        assert_eq!(detail["after"]["phone_masked"], "136****5678");
        assert!(!update.as_str().unwrap().contains("13612345678"), "[{e}] a phone in clear in the log");

        // By record and by action.
        let page = search(&app, &admin, &format!("entity=contact&entity_id={contact}")).await;
        assert_eq!(actions(&page), ["update contact", "create contact"]);
        let page = search(&app, &admin, "action=reveal").await;
        assert_eq!(actions(&page), ["reveal customer"]);

        // A date range: two days later, the admin creates a group.
        app.clock.advance(jiff::SignedDuration::from_hours(48));
        let r = app
            .call(Method::POST, "/api/v1/groups", Some(&admin), Some(json!({"name": "华南客服组", "kind": "team"})))
            .await;
        assert_eq!(r.status(), 201, "[{e}] group");
        let page = search(&app, &admin, "from=2026-11-25").await;
        assert_eq!(actions(&page), ["create group"], "[{e}]");
        let page = search(&app, &admin, &format!("until=2026-11-24&actor_id={agent_id}")).await;
        assert_eq!(page["items"].as_array().unwrap().len(), 6, "[{e}]");

        // Pages of two walk the agent's six entries once.
        let mut seen = Vec::new();
        let mut query = format!("actor_id={agent_id}&limit=2");
        loop {
            let page = search(&app, &admin, &query).await;
            seen.extend(actions(&page));
            match page["next"].as_str() {
                Some(n) => query = format!("actor_id={agent_id}&limit=2&before={n}"),
                None => break,
            }
        }
        assert_eq!(seen.len(), 6, "[{e}] {seen:?}");

        // Bad searches name the field and the reason.
        let r = app
            .http
            .get(format!("{}/api/v1/audit?from=2026-13-40&until=2026-11-01&limit=0", app.url))
            .bearer_auth(&admin)
            .header("Accept-Language", "en")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let p: Value = r.json().await.unwrap();
        let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().map(|x| x["field"].as_str().unwrap()).collect();
        assert!(fields.contains(&"from") && fields.contains(&"limit"), "{p}");
        let r = app.call(Method::GET, "/api/v1/audit?from=2026-11-20&until=2026-11-19", Some(&admin), None).await;
        assert_eq!(r.status(), 422);
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["errors"][0]["field"], "until", "{p}");

        // Only admins read the log.
        let r = app.call(Method::GET, "/api/v1/audit", Some(&agent), None).await;
        assert_eq!(r.status(), 403, "[{e}]");
        let r = app.call(Method::GET, "/api/v1/audit/export", Some(&agent), None).await;
        assert_eq!(r.status(), 403, "[{e}]");

        // Export: CSV with a BOM and Chinese headers; Excel read back.
        let r = app.call(Method::GET, &format!("/api/v1/audit/export?actor_id={agent_id}"), Some(&admin), None).await;
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
        let bytes = r.bytes().await.unwrap();
        assert!(bytes.starts_with(b"\xEF\xBB\xBF"));
        let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next().unwrap(), "时间,操作人,操作人ID,动作,对象,对象ID,详情,来源地址");
        assert_eq!(lines.count(), 6, "[{e}] {text}");
        let r = app.call(Method::GET, "/api/v1/audit/export?format=xlsx&action=reveal", Some(&admin), None).await;
        assert_eq!(r.status(), 200);
        let bytes = r.bytes().await.unwrap().to_vec();
        let mut book: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
        let sheet = book.worksheet_range("审计日志").unwrap();
        let rows: Vec<Vec<String>> = sheet.rows().map(|r| r.iter().map(|c| c.to_string()).collect()).collect();
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(rows[1][1], "li.na");
        assert_eq!(rows[1][3], "reveal");
        assert_eq!(rows[1][4], "customer");
        // Each export is itself in the log.
        let page = search(&app, &admin, "entity=audit_log&action=export").await;
        assert_eq!(page["items"].as_array().unwrap().len(), 2, "[{e}]");

        // The page: admins search it; others are refused.
        let browser = app.signed_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let (status, html) = app.page(&browser, &format!("/admin/audit?actor_id={agent_id}&action=update")).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("id=\"audit-table\"") && html.contains("contact #"), "[{e}]");
        assert!(html.contains("采购总监"));
        assert!(!html.contains("reveal</span>"), "[{e}] filtered out");
        let (status, html) = app.page(&browser, "/admin/audit?from=abc").await;
        assert_eq!(status, 422);
        assert!(html.contains("开始日期"), "[{e}] the field is named");
        let agent_browser = app.signed_in("li.na@test.cn", "password-123").await;
        let (status, _) = app.page(&agent_browser, "/admin/audit").await;
        assert_eq!(status, 403, "[{e}]");
    }
}
