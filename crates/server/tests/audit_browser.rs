//! The audit log page in a real browser: an admin filters the demo's log by
//! action and date, sees who did what to which record from where, and finds
//! the export links carrying the same filter. Screenshots land in
//! target/screenshots (copied to docs/screenshots).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use guanxi_server::demo::{DEMO_PASSWORD, DemoOptions};
use guanxi_store::testing;
use reqwest::Method;
use serde_json::json;
use support::app::TestApp;
use support::webdriver::Browser;

#[tokio::test]
async fn an_admin_searches_the_audit_log_in_a_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(testing::sqlite().unwrap()).await;
    guanxi_server::load_demo(&app.state, &DemoOptions { seed: 7, customers: 40 }).await.unwrap();
    let sup = app.token("chen.jing@demo.guanxi.cn", DEMO_PASSWORD).await;
    let ids: Vec<i64> = app
        .state
        .db
        .read(|c| c.query("SELECT id FROM customers ORDER BY id LIMIT 3", &[])?.iter().map(|r| r.get(0)).collect())
        .await
        .unwrap();
    for id in &ids {
        let r = app
            .call(Method::POST, &format!("/api/v1/customers/{id}/reveal"), Some(&sup), Some(json!({"field": "phone"})))
            .await;
        assert!(r.status().is_success() || r.status() == 404, "{}", r.status());
    }

    let b = &browser;
    b.resize(1366, 900).await;
    b.goto(&format!("{}/login", app.url)).await;
    b.fill("#email", "admin@demo.guanxi.cn").await;
    b.fill("#password", DEMO_PASSWORD).await;
    b.click("button[type=submit]").await;
    b.wait_for(".sidebar").await;
    b.goto(&format!("{}/admin/audit", app.url)).await;
    b.wait_for("#audit-table").await;
    assert!(b.count("#audit-table tbody tr").await > 3);
    b.screenshot("audit-log").await;

    // Only the reveals.
    b.client.execute("document.querySelector('select[name=action]').value = 'reveal'", vec![]).await.unwrap();
    b.click("#audit-search button[type=submit]").await;
    b.wait_url("action=reveal").await;
    b.wait_for("#audit-table").await;
    let rows = b.count("#audit-table tbody tr").await;
    assert!((1..=3).contains(&rows), "{rows}");
    let first = b.text("#audit-table tbody tr:first-child").await;
    assert!(first.contains("陈静") && first.contains("reveal") && first.contains("customer #"), "{first}");
    let href = b.client.find(fantoccini::Locator::Css("#export-xlsx")).await.unwrap().attr("href").await.unwrap();
    assert!(href.unwrap().contains("action=reveal"));
    b.screenshot("audit-log-reveals").await;

    // A date the wrong way round is named beside the form.
    b.goto(&format!("{}/admin/audit?from=2026-11-23&until=2026-11-01", app.url)).await;
    b.wait_for("#form-errors").await;
    assert!(b.text("#form-errors").await.contains("结束日期"));
    b.resize(390, 844).await;
    b.goto(&format!("{}/admin/audit", app.url)).await;
    b.wait_for("#audit-table").await;
    b.screenshot("audit-log-phone").await;
    browser.close().await;
}
