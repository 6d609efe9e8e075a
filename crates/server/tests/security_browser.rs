//! 设置 › 安全事件 in a real browser: an admin sees failed sign-ins and a
//! refused request, then only the failures of one account. Screenshots
//! land in target/screenshots (copied to docs/screenshots).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use guanxi_store::testing;
use serde_json::json;
use support::app::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp};
use support::webdriver::Browser;

#[tokio::test]
async fn an_admin_reads_the_security_events_in_a_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(testing::sqlite().unwrap()).await;
    let admin = app.admin_token().await;
    let (_, agent) = app.user(&admin, "li.na@test.cn", "agent", None).await;
    for who in ["zhang.wei@test.cn", "li.na@test.cn"] {
        let r = app
            .http
            .post(format!("{}/api/v1/auth/token", app.url))
            .json(&json!({"email": who, "password": "wrong-password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let r = app.http.get(format!("{}/api/v1/security-events", app.url)).bearer_auth(&agent).send().await.unwrap();
    assert_eq!(r.status(), 403);

    let b = &browser;
    b.resize(1366, 900).await;
    b.goto(&format!("{}/login", app.url)).await;
    b.fill("#email", ADMIN_EMAIL).await;
    b.fill("#password", ADMIN_PASSWORD).await;
    b.click("button[type=submit]").await;
    b.wait_for(".sidebar").await;
    b.goto(&format!("{}/admin/audit", app.url)).await;
    b.click("a[href='/admin/security']").await;
    b.wait_for("#security-table").await;
    let all = b.text("#security-table").await;
    assert!(all.contains("登录失败") && all.contains("请求被拒绝") && all.contains("登录成功"), "{all}");
    b.screenshot("security-events").await;

    b.fill("#f-email", "li.na@test.cn").await;
    b.client.execute("document.querySelector('#f-kind').value = 'login_failed'", vec![]).await.unwrap();
    b.click("#security-search button[type=submit]").await;
    b.wait_url("kind=login_failed").await;
    b.wait_for("#security-table").await;
    assert_eq!(b.count("#security-table tbody tr").await, 1);
    // Every settings page links both logs.
    b.goto(&format!("{}/admin/templates", app.url)).await;
    b.wait_for(".tabs a[href='/admin/security']").await;
    b.screenshot("settings-tabs").await;
    // On a phone the tabs wrap instead of running off the screen.
    b.resize(390, 844).await;
    b.goto(&format!("{}/admin/security", app.url)).await;
    b.wait_for("#security-table").await;
    b.screenshot("security-events-phone").await;
    browser.close().await;
}
