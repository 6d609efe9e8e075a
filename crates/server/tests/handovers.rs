//! Cross-department hand-overs (SPEC T4, R1 跨部门处理时长) over HTTP on
//! every engine, with the test clock: an escalation step to a department
//! collaborator opens a hand-over, the collaborator's first reply, note or
//! action answers it (even after the chain moved past them), the working
//! time between is counted on the business calendar (lunch, nights, the
//! weekend), and the KPI averages the hand-overs answered in a period, in
//! total and per department, flagged above its ≤ 2 working days target.
//! Steps to a supervisor are not hand-overs; an unanswered one counts for
//! nothing yet.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use reqwest::Method;
use serde_json::{Value, json};
use support::app::{TestApp, apps};

/// An instant in Shanghai time, `YYYY-MM-DD HH:MM`.
fn at(s: &str) -> Timestamp {
    jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M", s)
        .unwrap()
        .to_zoned(TimeZone::get("Asia/Shanghai").unwrap())
        .unwrap()
        .timestamp()
}

async fn call(app: &TestApp, method: Method, path: &str, token: &str, body: Option<Value>) -> Value {
    let r = app.call(method, path, Some(token), body).await;
    let s = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    assert!(s == 200 || s == 201, "[{}] {path}: {s} {v}", app.engine);
    v
}

/// A certified, active member of staff: (id, token).
async fn staff(app: &TestApp, admin: &str, email: &str, role: &str, group_id: i64) -> (i64, String) {
    let body = json!({"email": email, "name": email.split('@').next().unwrap(), "role": role,
        "password": "password-123", "group_id": group_id, "certified": true});
    let v = call(app, Method::POST, "/api/v1/users", admin, Some(body)).await;
    (v["id"].as_i64().unwrap(), app.token(email, "password-123").await)
}

async fn group(app: &TestApp, admin: &str, name: &str, kind: &str) -> i64 {
    call(app, Method::POST, "/api/v1/groups", admin, Some(json!({"name": name, "kind": kind}))).await["id"]
        .as_i64()
        .unwrap()
}

/// A product ticket created now by `agent` and escalated by them at once.
async fn escalated(app: &TestApp, agent: &str, customer: i64) -> i64 {
    let body = json!({"type": "consultation", "channel": "email", "category": "product", "priority": "normal",
        "customer_id": customer, "subject": "导出报表时系统报错", "description": "客户无法导出月报"});
    let id = call(app, Method::POST, "/api/v1/tickets", agent, Some(body)).await["id"].as_i64().unwrap();
    call(app, Method::POST, &format!("/api/v1/tickets/{id}/escalate"), agent, Some(json!({"reason": "需技术支持"})))
        .await;
    id
}

async fn note(app: &TestApp, token: &str, id: i64, body: &str) {
    call(
        app,
        Method::POST,
        &format!("/api/v1/tickets/{id}/messages"),
        token,
        Some(json!({"kind": "note", "body": body})),
    )
    .await;
}

/// The ticket's hand-overs as the API shows them: (person, department, answered, working days).
async fn handovers(app: &TestApp, token: &str, id: i64) -> Vec<(String, String, bool, Option<f64>)> {
    let v = call(app, Method::GET, &format!("/api/v1/tickets/{id}"), token, None).await;
    v["handovers"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|h| {
            (
                h["user_name"].as_str().unwrap().to_string(),
                h["department"].as_str().unwrap_or("").to_string(),
                !h["answered_at"].is_null(),
                h["working_days"].as_f64(),
            )
        })
        .collect()
}

/// Who a hand-over needs: a team (supervisor, agent), two departments with
/// an interface person each, the path product tickets escalate along, and
/// the agent's customer.
struct Desk {
    sup: (i64, String),
    agent: (i64, String),
    engineer: (i64, String),
    pm: (i64, String),
    customer: i64,
}

async fn desk(app: &TestApp) -> Desk {
    app.clock.set(at("2026-11-23 09:00"));
    let admin = app.admin_token().await;
    let team = group(app, &admin, "一线客服组", "team").await;
    let tech = group(app, &admin, "技术支持部", "department").await;
    let product = group(app, &admin, "产品部", "department").await;
    let sup = staff(app, &admin, "chen.jing@test.cn", "supervisor", team).await;
    let agent = staff(app, &admin, "wang.fang@test.cn", "agent", team).await;
    let engineer = staff(app, &admin, "liu.gong@test.cn", "collaborator", tech).await;
    let pm = staff(app, &admin, "pm.zhang@test.cn", "collaborator", product).await;
    let path = json!({"name": "产品功能问题", "conditions": {"categories": ["product"]}, "steps": [
        {"name": "技术支持", "target": {"kind": "user", "user_id": engineer.0}, "respond_minutes": 120},
        {"name": "产品经理", "target": {"kind": "user", "user_id": pm.0}, "respond_minutes": 1440},
        {"name": "客服主管", "target": {"kind": "supervisor"}, "respond_minutes": 30}]});
    call(app, Method::POST, "/api/v1/ticket-settings/escalation-paths", &admin, Some(path)).await;
    let customer = call(
        app,
        Method::POST,
        "/api/v1/customers",
        &sup.1,
        Some(json!({"name": "杭州明远科技有限公司", "owner_id": agent.0})),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    Desk { sup, agent, engineer, pm, customer }
}

#[tokio::test]
async fn hand_overs_are_timed_in_working_days_and_averaged_per_department() {
    for app in apps().await {
        let e = app.engine.clone();
        let Desk { sup, agent, engineer, pm, customer } = desk(&app).await;
        // A: handed to the engineer Monday 10:00, answered 11:30 — 1.5 h of
        // a 7.5 h working day: 0.2.
        app.clock.set(at("2026-11-23 10:00"));
        let a = escalated(&app, &agent.1, customer).await;
        assert_eq!(
            handovers(&app, &agent.1, a).await,
            [("liu.gong".into(), "技术支持部".into(), false, None)],
            "[{e}]"
        );
        // The agent's own note is no department answer.
        app.clock.set(at("2026-11-23 10:30"));
        note(&app, &agent.1, a, "已提醒技术支持").await;
        assert!(!handovers(&app, &agent.1, a).await[0].2, "[{e}] the agent's note answered the hand-over");
        app.clock.set(at("2026-11-23 11:30"));
        note(&app, &engineer.1, a, "已定位：导出模块时区问题").await;
        // A second note later changes nothing.
        app.clock.set(at("2026-11-24 16:00"));
        note(&app, &engineer.1, a, "已修复，待发布").await;
        assert_eq!(
            handovers(&app, &agent.1, a).await,
            [("liu.gong".into(), "技术支持部".into(), true, Some(0.2))],
            "[{e}]"
        );

        // B: handed to the engineer Monday 10:00; nobody answers by 12:00,
        // so the chain moves to the product manager (a second hand-over).
        // The engineer answers late, Wednesday 10:00: 6.5 + 7.5 + 1 h = 2.0
        // days; the product manager the next Monday 09:00: 4.5 h Monday
        // 12:00 (lunch) → 18:00, + Tuesday–Friday 30 h = 4.6 days.
        app.clock.set(at("2026-11-23 10:00"));
        let b = escalated(&app, &agent.1, customer).await;
        app.clock.set(at("2026-11-23 12:00"));
        guanxi_server::jobs::run_due(&app.state).await.unwrap();
        let hs = handovers(&app, &agent.1, b).await;
        assert_eq!(
            hs.iter().map(|h| (h.0.as_str(), h.2)).collect::<Vec<_>>(),
            [("liu.gong", false), ("pm.zhang", false)],
            "[{e}]"
        );
        app.clock.set(at("2026-11-25 10:00"));
        note(&app, &engineer.1, b, "抱歉晚了：问题已定位").await;
        app.clock.set(at("2026-11-30 09:00"));
        note(&app, &pm.1, b, "产品侧已排期修复").await;
        let hs = handovers(&app, &agent.1, b).await;
        assert_eq!(hs.iter().map(|h| h.3).collect::<Vec<_>>(), [Some(2.0), Some(4.6)], "[{e}] {hs:?}");

        // C: handed over, never answered: shown as awaiting, not counted.
        app.clock.set(at("2026-11-26 10:00"));
        let c = escalated(&app, &agent.1, customer).await;
        app.clock.set(at("2026-11-30 10:00"));
        let http = app.signed_in("wang.fang@test.cn", "password-123").await;
        let (s, html) = app.page(&http, &format!("/tickets/{c}")).await;
        assert_eq!(s, 200, "[{e}]");
        assert_eq!(html.matches("data-handover").count(), 1, "[{e}]");
        assert!(
            html.contains("技术支持部") && html.contains("待部门答复"),
            "[{e}] the ticket page shows the hand-over"
        );
        let (_, html) = app.page(&http, &format!("/tickets/{b}")).await;
        assert!(html.contains("4.60") && html.contains("产品部"), "[{e}] answered hand-overs with their working days");
        // A supervisor step is no hand-over to a department: C's chain
        // runs on to the product manager (Tuesday 15:00) and then to the
        // supervisor (24 working hours later, Friday 16:30).
        app.clock.set(at("2026-12-01 15:00"));
        guanxi_server::jobs::run_due(&app.state).await.unwrap();
        app.clock.set(at("2026-12-04 17:00"));
        guanxi_server::jobs::run_due(&app.state).await.unwrap();
        let v = call(&app, Method::GET, &format!("/api/v1/tickets/{c}"), &agent.1, None).await;
        assert_eq!(v["ticket"]["escalation"]["step"], 3, "[{e}] {}", v["ticket"]["escalation"]);
        let hs = handovers(&app, &agent.1, c).await;
        assert_eq!(
            hs.iter().map(|h| (h.0.as_str(), h.2)).collect::<Vec<_>>(),
            [("liu.gong", false), ("pm.zhang", false)],
            "[{e}]"
        );
        note(&app, &sup.1, c, "主管已介入").await;
        assert_eq!(handovers(&app, &agent.1, c).await.len(), 2, "[{e}]");

        // November: (0.2 + 2.0 + 4.6) / 3 = 2.27 working days, above the
        // target; per department 1.10 (met) and 4.60 (missed).
        let v = call(
            &app,
            Method::GET,
            "/api/v1/kpis/cross_department_time?from=2026-11-01&to=2026-11-30&by=month",
            &sup.1,
            None,
        )
        .await;
        let total =
            v["slices"].as_array().unwrap().iter().find(|s| s["label"] == "合计").unwrap_or_else(|| panic!("{v}"));
        assert_eq!(
            (total["total_display"].as_str(), total["total_met"].as_bool()),
            (Some("2.27"), Some(false)),
            "[{e}] {v}"
        );
        let v = call(
            &app,
            Method::GET,
            "/api/v1/kpis/cross_department_time?from=2026-11-01&to=2026-11-30&by=month&group=team",
            &sup.1,
            None,
        )
        .await;
        let by: Vec<(String, String, bool)> = v["slices"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| !s["total"].is_null())
            .map(|s| {
                (
                    s["label"].as_str().unwrap().to_string(),
                    s["total_display"].as_str().unwrap().to_string(),
                    s["total_met"] == true,
                )
            })
            .collect();
        assert_eq!(
            by,
            [("产品部".to_string(), "4.60".to_string(), false), ("技术支持部".to_string(), "1.10".to_string(), true)],
            "[{e}] {v}"
        );
        // By answer date: the week of 23 November holds A and B's engineer
        // (1.10), the week of 30 November the product manager (4.60).
        let v = call(
            &app,
            Method::GET,
            "/api/v1/kpis/cross_department_time?from=2026-11-23&to=2026-12-06&by=week",
            &sup.1,
            None,
        )
        .await;
        let total = v["slices"].as_array().unwrap().iter().find(|s| s["label"] == "合计").unwrap();
        let shown: Vec<&str> =
            total["points"].as_array().unwrap().iter().map(|p| p["display"].as_str().unwrap()).collect();
        assert_eq!(shown, ["1.10", "4.60"], "[{e}] {v}");
    }
}

/// The ticket page of a ticket with an answered hand-over and one awaiting
/// its department, in a real browser (screenshot `ticket-handovers`).
#[tokio::test]
async fn the_ticket_page_shows_hand_overs_in_a_browser() {
    let Some(b) = support::webdriver::Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(guanxi_store::testing::sqlite().unwrap()).await;
    let d = desk(&app).await;
    app.clock.set(at("2026-11-23 10:00"));
    let id = escalated(&app, &d.agent.1, d.customer).await;
    app.clock.set(at("2026-11-23 12:00"));
    guanxi_server::jobs::run_due(&app.state).await.unwrap();
    app.clock.set(at("2026-11-24 11:00"));
    note(&app, &d.engineer.1, id, "已定位：导出模块的时区转换问题，需产品确认口径").await;
    b.resize(1366, 1100).await;
    b.goto(&format!("{}/login", app.url)).await;
    b.fill("#email", "wang.fang@test.cn").await;
    b.fill("#password", "password-123").await;
    b.click("button[type=submit]").await;
    b.wait_for(".sidebar").await;
    b.goto(&format!("{}/tickets/{id}", app.url)).await;
    b.wait_for("#escalation").await;
    let card = b.text("#escalation").await;
    assert!(card.contains("转交协作部门") && card.contains("技术支持部") && card.contains("产品部"), "{card}");
    assert!(card.contains("答复于") && card.contains("待部门答复"), "{card}");
    // Monday 10:00 → Tuesday 11:00: 6.5 + 2 working hours = 1.13 days.
    assert!(card.contains("1.13"), "{card}");
    b.client.execute("document.getElementById('escalation').scrollIntoView({block: 'center'})", vec![]).await.unwrap();
    b.screenshot("ticket-handovers").await;
    b.close().await;
}
