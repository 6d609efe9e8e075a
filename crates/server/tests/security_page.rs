//! 设置 › 安全事件 (SPEC S3) on every engine: admins see sign-in attempts
//! and refused requests, filtered by account, kind and dates; an agent is
//! refused the page (and that refusal is itself an event).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::json;
use support::app::{ADMIN_EMAIL, ADMIN_PASSWORD, apps};

#[tokio::test]
async fn admins_list_security_events_and_agents_are_refused_on_every_engine() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        app.user(&admin, "li.na@test.cn", "agent", None).await;
        // A wrong password for an account nobody has.
        let r = app
            .http
            .post(format!("{}/api/v1/auth/token", app.url))
            .json(&json!({"email": "Mallory@Example.com", "password": "guess-1234"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "[{e}]");
        // The agent tries the admins' page.
        let agent = app.signed_in("li.na@test.cn", "password-123").await;
        let (s, _) = app.page(&agent, "/admin/security").await;
        assert_eq!(s, 403, "[{e}] an agent may not read the security events");

        let web = app.signed_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let (s, html) = app.page(&web, "/admin/security").await;
        assert_eq!(s, 200, "[{e}]");
        assert!(html.contains("安全事件") && html.contains("审计日志"), "[{e}] the settings tabs");
        assert!(html.contains("mallory@example.com") && html.contains("登录失败"), "[{e}] the failed sign-in");
        let (_, html) = app.page(&web, "/admin/security?kind=denied").await;
        assert!(html.contains("li.na@test.cn") && html.contains("请求被拒绝"), "[{e}] the agent's refused request");
        assert!(!html.contains("mallory@example.com"), "[{e}] filtered by kind");
        let (_, html) = app.page(&web, "/admin/security?email=MALLORY%40example.com").await;
        assert!(html.contains("登录失败") && !html.contains("li.na@test.cn"), "[{e}] filtered by account");
        let (_, html) = app.page(&web, "/admin/security?from=2026-11-24").await;
        assert!(html.contains("没有符合条件的事件"), "[{e}] filtered by date (all events are of 2026-11-23)");

        let (s, html) = app.page(&web, "/admin/security?from=2026-11-23&until=2026-11-01&kind=x").await;
        assert_eq!(s, 422, "[{e}]");
        assert!(html.contains("href=\"#f-until\">结束日期</a>"), "[{e}] the bad date is named: {html}");
        assert!(html.contains("href=\"#f-kind\">事件类型</a>"), "[{e}] the unknown kind is named");
    }
}
