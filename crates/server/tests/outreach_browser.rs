//! A customer answers a satisfaction survey in a real browser on a
//! phone-sized screen: the one-time link opens without login, the page
//! fits the width, a score is picked and a comment written, and the link
//! then says it was already answered; the public feedback form keeps its
//! honeypot out of sight. Screenshots land in target/screenshots.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use guanxi_store::testing;
use reqwest::Method;
use serde_json::{Value, json};
use support::app::TestApp;
use support::webdriver::Browser;

async fn post(app: &TestApp, token: &str, method: Method, path: &str, body: Value) -> Value {
    let r = app.call(method, path, Some(token), Some(body)).await;
    let s = r.status();
    let v: Value = r.json().await.unwrap();
    assert!(s.is_success(), "{path}: {s} {v}");
    v
}

#[tokio::test]
async fn a_customer_answers_a_survey_on_a_phone() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(testing::sqlite().unwrap()).await;
    let admin = app.admin_token().await;
    post(&app, &admin, Method::PUT, "/api/v1/outreach-settings", json!({"public_url": app.url})).await;
    let c = post(&app, &admin, Method::POST, "/api/v1/customers", json!({"name": "李雷", "email": "lilei@example.cn"}))
        .await;
    let s = post(
        &app,
        &admin,
        Method::POST,
        "/api/v1/surveys",
        json!({"customer_id": c["id"], "kind": "csat", "source": "ticket", "source_id": 1, "subject": "工单 GD-20261123-0001 快递未送达"}),
    )
    .await;
    let link = s["link"].as_str().unwrap().to_string();

    browser.resize(390, 844).await;
    browser.goto(&link).await;
    assert!(browser.text("h1").await.contains("您对本次服务满意吗"));
    assert_eq!(browser.text("#subject").await, "工单 GD-20261123-0001 快递未送达");
    assert_eq!(browser.count("input[name=score]").await, 5, "CSAT 1–5");
    let overflow = browser
        .client
        .execute("return document.documentElement.scrollWidth - window.innerWidth", vec![])
        .await
        .unwrap();
    assert!(overflow.as_i64().unwrap() <= 0, "no sideways scrolling on a phone: {overflow}");
    browser.click("label:has(input[value='5'])").await;
    browser.fill("#comment", "师傅很耐心，问题当天解决了").await;
    browser.screenshot("survey-phone").await;
    browser.click("button[type=submit]").await;
    browser.wait_for("#message").await;
    assert!(browser.text("#message").await.contains("感谢您的反馈"));
    browser.screenshot("survey-phone-thanks").await;

    browser.goto(&link).await;
    assert!(browser.text("#message").await.contains("已经提交过"), "the link works once");

    // The public feedback form on the same phone: the honeypot field is
    // not in sight of a person.
    browser.goto(&format!("{}/feedback", app.url)).await;
    browser.wait_for("#subject").await;
    let hp = browser
        .client
        .execute(
            "const r = document.getElementById('website').getBoundingClientRect(); return r.right < 0 || r.width <= 1",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(hp, serde_json::Value::Bool(true), "the honeypot is off screen");
    browser.screenshot("feedback-phone").await;
    browser.close().await;
}
