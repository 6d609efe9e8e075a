//! The outreach pages in a real browser (SPEC O1, O3): the settings page
//! refuses bad quiet hours naming the field and saves good ones; a message
//! template with a variable its scenario does not have is refused at save,
//! the error naming the variable; the customer page shows and records
//! consent per channel; a maintenance task schedules a revisit whose
//! reminder says 明日10:00. Screenshots land in target/screenshots.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use guanxi_domain::Clock;
use guanxi_server::service::maintenance as maint;
use guanxi_store::testing;
use reqwest::Method;
use serde_json::{Value, json};
use support::app::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp};
use support::webdriver::Browser;

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let r = app.call(Method::POST, path, Some(token), Some(body)).await;
    let s = r.status();
    let v: Value = r.json().await.unwrap();
    assert!(s.is_success(), "{path}: {s} {v}");
    v
}

#[tokio::test]
async fn outreach_settings_templates_consent_and_appointments_in_a_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(testing::sqlite().unwrap()).await;
    app.clock.set("2026-11-23T07:00:00Z".parse().unwrap()); // Monday 15:00 in Shanghai
    let admin = app.admin_token().await;
    let c = post(
        &app,
        &admin,
        "/api/v1/customers",
        json!({"name": "北京明远科技", "email": "contact@mingyuan.cn", "phone": "13912345678", "preferred_channel": "sms"}),
    )
    .await;
    let cid = c["id"].as_i64().unwrap();
    let task = maint::on_complaint_closed(&app.state, cid, app.clock.now(), "TS20261123-0001").await.unwrap().unwrap();

    let b = &browser;
    b.resize(1366, 900).await;
    b.goto(&format!("{}/login", app.url)).await;
    b.fill("#email", ADMIN_EMAIL).await;
    b.fill("#password", ADMIN_PASSWORD).await;
    b.click("button[type=submit]").await;
    b.wait_for(".sidebar").await;

    // Settings: bad quiet hours are refused naming the field; good ones saved.
    b.goto(&format!("{}/admin/outreach", app.url)).await;
    b.wait_for("#outreach-settings").await;
    b.fill("#f-quiet_hours", "9点-21点").await;
    b.click("#save-outreach").await;
    b.wait_for("#form-errors").await;
    let err = b.text("#form-errors").await;
    assert!(err.contains("免打扰时段"), "the error names the field: {err}");
    b.fill("#f-quiet_hours", "21:00-09:00").await;
    b.fill("#f-public_url", &app.url).await;
    b.click("#save-outreach").await;
    b.wait_url("flash=saved").await;
    assert_eq!(
        b.client
            .find(fantoccini::Locator::Css("#f-quiet_hours"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("21:00-09:00")
    );
    assert!(b.text(".tabs a.active").await.contains("触达设置"));
    b.screenshot("outreach-settings").await;

    // Templates: a variable the scenario does not have is refused, named.
    b.goto(&format!("{}/admin/templates", app.url)).await;
    b.wait_for("#templates").await;
    assert!(b.count("#templates tbody tr").await >= 7, "the seeded templates are listed");
    let listed = b.text("#templates tbody").await;
    assert!(listed.contains("系统内置") && !listed.contains("1970"), "seeded templates show no 1970 time: {listed}");
    b.click("#new-template").await;
    b.wait_for("#template-form").await;
    b.fill("#f-name", "新年问候（邮件）").await;
    b.fill("#f-subject", "新年快乐").await;
    b.fill("#f-body", "{{ customer_name }}您好，送您一张优惠券 {{ coupon_code }}。").await;
    b.click("#save-template").await;
    b.wait_for("#form-errors").await;
    let err = b.text("#form-errors").await;
    assert!(err.contains("coupon_code"), "the error names the variable: {err}");
    assert!(b.text("#e-body").await.contains("coupon_code"));
    b.screenshot("template-form-error").await;
    b.fill("#f-body", "{{ customer_name }}您好，新年快乐！{{ agent_name }}敬上").await;
    b.click("#save-template").await;
    b.wait_url("flash=saved").await;
    assert!(b.text("#templates").await.contains("新年问候（邮件）"));

    // Consent on the customer page: SMS refused, recorded with its history.
    b.goto(&format!("{}/customers/{cid}", app.url)).await;
    b.wait_for("#consent-form").await;
    assert_eq!(
        b.client
            .find(fantoccini::Locator::Css("#consent li[data-channel=sms]"))
            .await
            .unwrap()
            .attr("data-state")
            .await
            .unwrap()
            .as_deref(),
        Some("unknown")
    );
    b.client
        .find(fantoccini::Locator::Css("#consent-form select[name=channel]"))
        .await
        .unwrap()
        .select_by_value("sms")
        .await
        .unwrap();
    b.client
        .find(fantoccini::Locator::Css("#consent-form select[name=granted]"))
        .await
        .unwrap()
        .select_by_value("false")
        .await
        .unwrap();
    b.fill("#consent-form input[name=note]", "客户来电表示不希望收到短信").await;
    b.click("#save-consent").await;
    b.wait_for("#consent li[data-channel=sms][data-state=refused]").await;
    assert!(b.text("#consent").await.contains("拒绝接收"));
    b.click("#consent details summary").await;
    assert!(b.text("#consent details").await.contains("客户来电表示不希望收到短信"));
    let el = b.client.find(fantoccini::Locator::Css("#consent")).await.unwrap();
    let png = el.screenshot().await.unwrap();
    std::fs::write(support::webdriver::screenshot_dir().join("customer-consent.png"), png).unwrap();

    // The revisit appointment: reminder by email (SMS refused), 明日10:00.
    b.goto(&format!("{}/maintenance/tasks/{task}", app.url)).await;
    b.wait_for("#appointment-form").await;
    b.client.execute("document.getElementById('f-appt-at').value = '2026-11-25T10:00'", vec![]).await.unwrap();
    b.click("#save-appointment").await;
    b.wait_url("flash=appointment_saved").await;
    let panel = b.text("#appointment").await;
    assert!(panel.contains("2026-11-25 10:00"), "{panel}");
    assert!(panel.contains("将于明日10:00回访您"), "{panel}");
    assert!(panel.contains("邮件") && panel.contains("2026-11-24 10:00"), "by email the day before: {panel}");
    b.screenshot("maintenance-appointment").await;
    b.client.execute("document.getElementById('f-appt-at').value = '2026-11-20T10:00'", vec![]).await.unwrap();
    b.click("#save-appointment").await;
    b.wait_for("#appointment-error").await;
    assert!(b.text("#appointment-error").await.contains("回访时间"), "the error names the field");
    b.click("#cancel-appointment").await;
    b.wait_url("flash=appointment_cancelled").await;
    assert!(b.text("#appointment").await.contains("已取消"));
    browser.close().await;
}
