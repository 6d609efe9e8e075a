//! A real browser walks an agent's ticket queue on the demo data: 我的工单
//! sorted by the nearest SLA deadline with its badges (a breach, a warning,
//! a paused clock, an escalation), the keyboard shortcuts, the ticket page
//! with its clocks, routing reason and history, and the create form
//! refusing an empty subject beside the field, then creating the ticket.
//! Screenshots land in target/screenshots.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use guanxi_server::demo::{DEMO_PASSWORD, DemoOptions};
use guanxi_store::testing;
use reqwest::Method;
use serde_json::{Value, json};
use support::app::TestApp;
use support::webdriver::Browser;

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let r = app.call(Method::POST, path, Some(token), Some(body)).await;
    let s = r.status();
    let v: Value = r.json().await.unwrap();
    assert!(s.is_success(), "{path}: {s} {v}");
    v
}

async fn key(b: &Browser, k: &str) {
    b.client
        .execute(
            &format!("document.dispatchEvent(new KeyboardEvent('keydown', {{key: '{k}', bubbles: true}}))"),
            vec![],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn an_agent_works_the_ticket_queue_in_a_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(testing::sqlite().unwrap()).await;
    guanxi_server::load_demo(&app.state, &DemoOptions { seed: 7, customers: 80 }).await.unwrap();
    let sup = app.token("chen.jing@demo.guanxi.cn", DEMO_PASSWORD).await;
    let agent: i64 = app
        .state
        .db
        .read(|c| c.scalar("SELECT id FROM users WHERE email = 'wang.fang@demo.guanxi.cn'", &[]))
        .await
        .unwrap();
    let customers: Vec<i64> = app
        .state
        .db
        .read(|c| c.query("SELECT id FROM customers ORDER BY id LIMIT 8", &[])?.iter().map(|r| r.get(0)).collect())
        .await
        .unwrap();
    // Monday 2026-11-23 10:00 in Shanghai. A queue with a little of everything.
    let cases = [
        (
            "complaint",
            "phone",
            "logistics",
            "urgent",
            "快递显示已签收但客户未收到货",
            Some("2026-11-20T15:00:00+08:00"),
        ),
        ("consultation", "online_chat", "product", "normal", "如何批量导出本月订单", None),
        ("need", "email", "product", "low", "希望报表支持按区域汇总", None),
        ("feedback", "wechat", "service", "high", "上门安装师傅迟到两小时", Some("2026-11-23T08:10:00+08:00")),
        ("consultation", "phone", "service", "normal", "发票抬头需要更改", None),
        ("suggestion", "email", "communication", "low", "建议短信通知加上物流单号", None),
    ];
    let mut ids = Vec::new();
    for (i, (ty, ch, cat, prio, subject, received)) in cases.iter().enumerate() {
        let t = post(
            &app,
            &sup,
            "/api/v1/tickets",
            json!({"type": ty, "channel": ch, "category": cat, "priority": prio, "customer_id": customers[i],
                "subject": subject, "description": "客户来电反映的问题，详见沟通记录。", "assignee_id": agent, "received_at": received}),
        )
        .await;
        ids.push(t["id"].as_i64().unwrap());
    }
    // The scheduler reports the breaches (and escalates), and a warning.
    app.clock.set("2026-11-23T02:40:00Z".parse().unwrap());
    guanxi_server::jobs::run_due(&app.state).await.unwrap();
    // One waits for the customer; one was answered.
    post(
        &app,
        &sup,
        &format!("/api/v1/tickets/{}/messages", ids[4]),
        json!({"kind": "reply", "body": "请提供新的开票信息"}),
    )
    .await;
    post(&app, &sup, &format!("/api/v1/tickets/{}/actions", ids[4]), json!({"action": "wait_customer"})).await;
    post(
        &app,
        &sup,
        &format!("/api/v1/tickets/{}/messages", ids[1]),
        json!({"kind": "reply", "body": "您好，可以在订单列表点击导出。"}),
    )
    .await;

    let b = &browser;
    b.resize(1366, 900).await;
    b.goto(&format!("{}/login", app.url)).await;
    b.fill("#email", "wang.fang@demo.guanxi.cn").await;
    b.fill("#password", DEMO_PASSWORD).await;
    b.click("button[type=submit]").await;
    b.wait_for(".sidebar").await;

    // The queue: the breached complaint first.
    b.click("a.nav-item[href='/tickets']").await;
    b.wait_for("#ticket-table").await;
    assert_eq!(b.count("#ticket-table tbody tr").await, 6);
    let first = b.text("#ticket-table tbody tr:first-child").await;
    assert!(first.contains("快递显示已签收但客户未收到货") && first.contains("已超时"), "{first}");
    assert!(b.count(".badge.sla-breached").await >= 1);
    assert!(b.count(".badge.sla-paused").await == 1);
    assert!(b.count(".badge-esc").await >= 1, "the breach escalated");
    b.screenshot("ticket-queue").await;

    // Keyboard: j, j, Enter opens the second row.
    key(b, "j").await;
    key(b, "j").await;
    assert_eq!(b.count("tr.tk-current").await, 1);
    let second = b.text("tr.tk-current").await;
    key(b, "Enter").await;
    b.wait_for("#ticket-head").await;
    let head = b.text("#ticket-head").await;
    assert!(second.contains(head.lines().next().unwrap_or("?")), "{second} / {head}");
    // On the ticket, r puts the cursor in the reply box.
    key(b, "r").await;
    let focused =
        b.client.execute("return document.activeElement ? document.activeElement.id : ''", vec![]).await.unwrap();
    assert_eq!(focused, Value::from("f-body"), "r focuses the reply box");

    // The breached complaint's page: clocks, routing, escalation, history.
    b.goto(&format!("{}/tickets/{}", app.url, ids[0])).await;
    b.wait_for("#clocks").await;
    assert!(b.text("#clocks").await.contains("已超时"));
    assert!(b.text("#escalation").await.contains("主管升级"));
    assert!(b.text("#history").await.contains("已超时"));
    b.fill("#f-body", "您好，已联系快递公司核实签收记录，今天下班前给您答复。").await;
    b.resize(1366, 1500).await;
    b.screenshot("ticket-view").await;
    b.click("#send").await;
    b.wait_for(".flash").await;
    assert!(b.text("#messages").await.contains("已联系快递公司核实签收记录"));
    assert!(b.text("#clocks").await.contains("首次响应"));

    // The create form: an empty subject is refused beside the field.
    b.resize(1366, 1000).await;
    b.goto(&format!("{}/tickets/new?customer_id={}", app.url, customers[6])).await;
    b.wait_for("#ticket-form").await;
    b.fill("#f-description", "客户询问续费优惠").await;
    b.click("#save").await;
    b.wait_for("#form-errors").await;
    assert!(b.text("#e-subject").await.contains("必填"));
    b.screenshot("ticket-form-error").await;
    b.fill("#f-subject", "续费优惠咨询").await;
    b.click("#save").await;
    b.wait_for("#ticket-head").await;
    assert!(b.text("#ticket-head").await.contains("续费优惠咨询"));
    assert!(b.text(".flash").await.contains("工单已创建"));

    // On a phone the queue becomes cards.
    b.resize(390, 844).await;
    b.goto(&format!("{}/tickets", app.url)).await;
    b.wait_for("#ticket-table").await;
    b.screenshot("ticket-queue-phone").await;
    // The administrator's settings: targets, groups, rules, paths.
    b.resize(1366, 900).await;
    b.click("form[action='/logout'] button").await;
    b.wait_for("#email").await;
    b.fill("#email", "admin@demo.guanxi.cn").await;
    b.fill("#password", DEMO_PASSWORD).await;
    b.click("button[type=submit]").await;
    b.wait_for(".sidebar").await;
    b.goto(&format!("{}/admin/tickets", app.url)).await;
    b.wait_for("#sla").await;
    assert!(b.text("#paths").await.contains("主管升级"));
    b.resize(1366, 2700).await;
    b.screenshot("ticket-settings").await;

    browser.close().await;
}
