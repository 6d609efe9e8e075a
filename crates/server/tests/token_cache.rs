//! The API's token cache (a request need not read its token and user from
//! the database again) never lets a stale answer through, on every engine:
//! a changed role, a removed group, a disabled user, a revoked token and
//! an expired token take effect on the very next request.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::app::apps;

#[tokio::test]
async fn changes_to_users_and_tokens_take_effect_at_once() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        let g: Value = app
            .call(Method::POST, "/api/v1/groups", Some(&admin), Some(json!({"name": "一组", "kind": "team"})))
            .await
            .json()
            .await
            .unwrap();
        let gid = g["id"].as_i64().unwrap();
        let (id, token) = app.user(&admin, "cached@test.cn", "agent", Some(gid)).await;
        let me = |t: String| {
            let app = &app;
            async move { app.call(Method::GET, "/api/v1/me", Some(&t), None).await }
        };
        for _ in 0..3 {
            let r = me(token.clone()).await;
            assert_eq!(r.status(), 200, "[{e}]");
            let v: Value = r.json().await.unwrap();
            assert_eq!((v["role"].as_str(), v["group_name"].as_str()), (Some("agent"), Some("一组")), "[{e}]");
        }
        // SQLite keeps the answers; PostgreSQL (other instances write too) does not.
        assert_eq!(app.state.api_tokens.is_empty(), e != "sqlite", "[{e}] cache used only on SQLite");

        // A changed role shows on the next request.
        let edit = |role: &str, active: bool| json!({"email": "cached@test.cn", "name": "cached", "role": role, "group_id": gid, "active": active});
        let r =
            app.call(Method::PUT, &format!("/api/v1/users/{id}"), Some(&admin), Some(edit("supervisor", true))).await;
        assert_eq!(r.status(), 200, "[{e}]");
        let v: Value = me(token.clone()).await.json().await.unwrap();
        assert_eq!(v["role"], "supervisor", "[{e}] the new role at once");

        // The group deleted: the user has none on the next request.
        let r = app.call(Method::DELETE, &format!("/api/v1/groups/{gid}"), Some(&admin), None).await;
        assert_eq!(r.status(), 204, "[{e}]");
        let v: Value = me(token.clone()).await.json().await.unwrap();
        assert!(v["group_id"].is_null() && v["group_name"].is_null(), "[{e}] no group at once: {v}");

        // Disabled: refused on the next request, and again once enabled.
        let edit =
            |active: bool| json!({"email": "cached@test.cn", "name": "cached", "role": "supervisor", "active": active});
        let r = app.call(Method::PUT, &format!("/api/v1/users/{id}"), Some(&admin), Some(edit(false))).await;
        assert_eq!(r.status(), 200, "[{e}]");
        assert_eq!(me(token.clone()).await.status(), 401, "[{e}] a disabled user is refused at once");
        let r = app.call(Method::PUT, &format!("/api/v1/users/{id}"), Some(&admin), Some(edit(true))).await;
        assert_eq!(r.status(), 200, "[{e}]");

        // A revoked token: refused on the next request; another token of the same user still works.
        let second = app.token("cached@test.cn", "password-123").await;
        assert_eq!(me(second.clone()).await.status(), 200, "[{e}]");
        let mine: Value = app.call(Method::GET, "/api/v1/me/sessions", Some(&second), None).await.json().await.unwrap();
        let current =
            mine["tokens"].as_array().unwrap().iter().find(|t| t["current"] == true).unwrap()["id"].as_i64().unwrap();
        assert_eq!(me(second.clone()).await.status(), 200, "[{e}]");
        let r = app.call(Method::DELETE, &format!("/api/v1/me/tokens/{current}"), Some(&second), None).await;
        assert_eq!(r.status(), 204, "[{e}]");
        assert_eq!(me(second.clone()).await.status(), 401, "[{e}] a revoked token is refused at once");

        // Expired by the clock: refused although the answer was kept.
        let third = app.token("cached@test.cn", "password-123").await;
        assert_eq!(me(third.clone()).await.status(), 200, "[{e}]");
        app.clock.advance(jiff::SignedDuration::from_hours(24 * app.state.config.token_days + 1));
        assert_eq!(me(third.clone()).await.status(), 401, "[{e}] an expired token is refused");
    }
}
