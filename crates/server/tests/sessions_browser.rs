//! A supervisor, whose role requires two-factor sign-in, signs in for the
//! first time in Chromium: the password leads to the set-up page, the code
//! computed from the shown key turns it on and shows recovery codes; the
//! next sign-in asks for the code; the sessions list shows both browsers'
//! sessions. Screenshots land in target/screenshots.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use guanxi_domain::user::Role;
use guanxi_server::auth::totp;
use guanxi_store::testing;
use reqwest::Method;
use serde_json::json;
use support::app::TestApp;
use support::webdriver::Browser;

fn code(app: &TestApp, secret: &str) -> String {
    totp::code_at(secret, guanxi_domain::Clock::now(app.clock.as_ref()).as_second()).unwrap()
}

async fn sign_in(b: &Browser, app: &TestApp) {
    b.goto(&format!("{}/login", app.url)).await;
    b.fill("#email", "sup@test.cn").await;
    b.fill("#password", "password-123").await;
    b.click("button[type=submit]").await;
}

#[tokio::test]
async fn a_supervisor_sets_up_two_factor_at_first_sign_in() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn_with(testing::sqlite().unwrap(), |c| c.totp_required_roles = vec![Role::Supervisor]).await;
    let admin = app.admin_token().await;
    let r = app
        .call(
            Method::POST,
            "/api/v1/users",
            Some(&admin),
            Some(json!({"email": "sup@test.cn", "name": "陈静", "role": "supervisor", "password": "password-123"})),
        )
        .await;
    assert_eq!(r.status(), 201);
    // Another session of the same user, from elsewhere, to see in the list.
    let other = support::app::browser();
    other
        .post(format!("{}/login", app.url))
        .header("user-agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Mobile/15E148")
        .form(&[("email", "sup@test.cn"), ("password", "password-123")])
        .send()
        .await
        .unwrap();

    sign_in(&b, &app).await;
    b.wait_url("/account/security").await;
    assert!(b.text(".alert-error").await.contains("你的角色要求两步验证"));
    // Nothing else opens before the set-up.
    b.goto(&format!("{}/customers", app.url)).await;
    b.wait_url("/account/security").await;
    b.click("form[action='/account/totp/start'] button").await;
    let secret = b.text("#totp-secret").await;
    assert_eq!(secret.len(), 32);
    assert!(b.text("#totp-uri").await.starts_with("otpauth://totp/Guanxi:sup@test.cn?secret="));
    b.screenshot("account-totp-setup").await;
    b.fill("#code", &code(&app, &secret)).await;
    b.click("form[action='/account/totp/confirm'] button").await;
    b.wait_for(".recovery-codes").await;
    assert_eq!(b.count(".recovery-codes li").await, 10);
    assert_eq!(b.count("#sessions tbody tr").await, 2, "this browser and the phone");
    assert!(b.text("#sessions").await.contains("iPhone"));
    b.screenshot("account-security").await;
    b.resize(390, 844).await;
    b.goto(&format!("{}/account/security", app.url)).await;
    b.wait_for("#sessions").await;
    b.screenshot("account-security-phone").await;
    b.resize(1366, 900).await;

    // Sign out and in again: now the code is asked for.
    b.click("form[action='/logout'] button").await;
    b.wait_url("/login").await;
    app.clock.advance(jiff::SignedDuration::from_secs(60));
    sign_in(&b, &app).await;
    b.wait_url("/login/totp").await;
    b.fill("#code", "000000").await;
    b.click("form[action='/login/totp'] button[type=submit]").await;
    assert!(b.text(".alert-error").await.contains("验证码不正确"));
    b.screenshot("login-totp").await;
    b.fill("#code", &code(&app, &secret)).await;
    b.click("form[action='/login/totp'] button[type=submit]").await;
    b.wait_for(".topbar").await;
    assert_eq!(b.path().await, "/");
    b.close().await;
}
