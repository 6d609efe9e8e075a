//! Chromium shows an agent's SLA notifications at the top of 工作台: the
//! breach flagged, the count on the nav item; marking all read clears them.
//! Screenshot `workbench-sla-notifications`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use guanxi_store::testing;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use reqwest::Method;
use serde_json::{Value, json};
use support::app::TestApp;
use support::webdriver::Browser;

fn at(s: &str) -> Timestamp {
    jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M", s)
        .unwrap()
        .to_zoned(TimeZone::get("Asia/Shanghai").unwrap())
        .unwrap()
        .timestamp()
}

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let r = app.call(Method::POST, path, Some(token), Some(body)).await;
    let s = r.status();
    let v: Value = r.json().await.unwrap();
    assert!(s.is_success(), "{path}: {s} {v}");
    v
}

#[tokio::test]
async fn the_workbench_flags_unread_sla_notifications_in_a_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(testing::sqlite().unwrap()).await;
    app.clock.set(at("2026-11-23 10:00"));
    let admin = app.admin_token().await;
    let team = post(&app, &admin, "/api/v1/groups", json!({"name": "一线客服组", "kind": "team"})).await;
    let body = json!({"email": "wang.fang@test.cn", "name": "王芳", "role": "agent",
        "password": "password-123", "group_id": team["id"], "certified": true});
    let agent = post(&app, &admin, "/api/v1/users", body).await;
    let tok = app.token("wang.fang@test.cn", "password-123").await;
    let cust =
        post(&app, &admin, "/api/v1/customers", json!({"name": "杭州明远科技有限公司", "owner_id": agent["id"]})).await;
    for subject in ["发票抬头开错了", "生产线停机，设备无法启动"] {
        let t = json!({"type": "consultation", "channel": "email", "category": "service", "priority": "urgent",
            "customer_id": cust["id"], "subject": subject, "description": "客户来电", "assignee_id": agent["id"]});
        post(&app, &tok, "/api/v1/tickets", t).await;
    }
    for when in ["2026-11-23 10:24", "2026-11-23 10:30"] {
        app.clock.set(at(when));
        guanxi_server::jobs::run_due(&app.state).await.unwrap();
    }

    let b = &browser;
    b.resize(1366, 900).await;
    b.goto(&format!("{}/login", app.url)).await;
    b.fill("#email", "wang.fang@test.cn").await;
    b.fill("#password", "password-123").await;
    b.click("button[type=submit]").await;
    b.wait_for("#my-notifications").await;
    assert_eq!(b.text("#notif-count").await, "4", "a warning and a breach per ticket");
    assert_eq!(b.text("#nav-notif-count").await, "4");
    assert_eq!(b.count("#my-notifications .notif-breach").await, 2);
    assert!(b.text("#my-notifications").await.contains("首次响应"));
    b.screenshot("workbench-sla-notifications").await;
    b.click("#my-notifications form[action='/notifications/read-all'] button").await;
    // The workbench comes back at the same address: wait until the new page
    // (without the card) replaced the old one.
    for _ in 0..300 {
        if b.count("#my-notifications").await == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    b.wait_for("#my-actions").await;
    assert_eq!(b.count("#my-notifications").await, 0, "all read");
    assert_eq!(b.count("#nav-notif-count").await, 0);
    browser.close().await;
}
