//! Sessions and accounts (SPEC S1, S4; issue 10) on every engine: a
//! disabled user's cookie and token stop working at once, session ids are
//! rotated at sign-in, idle and absolute timeouts on the app clock, users
//! see and end their sessions (page and API), a password change ends the
//! others, TOTP two-factor with recovery codes, rate limiting and lockout,
//! and the log of sign-in attempts and refused requests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use guanxi_domain::user::Role;
use guanxi_server::auth::totp;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE, USER_AGENT};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use support::app::{TestApp, apps, apps_with, browser, csrf};

const PW: &str = "password-123";

/// The session cookie a response set.
fn session_cookie(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("guanxi_session=").map(|rest| rest.split(';').next().unwrap_or("").to_string()))
}

async fn sign_in(app: &TestApp, http: &Client, email: &str, password: &str) -> reqwest::Response {
    http.post(format!("{}/login", app.url))
        .form(&[("email", email), ("password", password), ("next", "/customers")])
        .send()
        .await
        .unwrap()
}

/// A GET with only this session cookie (no cookie jar).
async fn get_with_cookie(app: &TestApp, sid: &str, path: &str) -> reqwest::Response {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}{path}", app.url))
        .header(COOKIE, format!("guanxi_session={sid}"))
        .send()
        .await
        .unwrap()
}

async fn events(app: &TestApp, kind: &str) -> Vec<(Option<i64>, Option<String>, Option<String>, String)> {
    let k = kind.to_string();
    app.state
        .db
        .read(move |c| {
            c.query(
                "SELECT user_id, email, ip, detail FROM security_events WHERE kind = $1 ORDER BY id",
                guanxi_store::args![k.as_str()],
            )?
            .iter()
            .map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .collect()
        })
        .await
        .unwrap()
}

fn mins(n: i64) -> jiff::SignedDuration {
    jiff::SignedDuration::from_mins(n)
}

#[tokio::test]
async fn a_disabled_users_cookie_and_token_stop_working_on_the_next_request() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        let (id, token) = app.user(&admin, "agent@test.cn", "agent", None).await;
        let http = app.signed_in("agent@test.cn", PW).await;
        assert_eq!(app.page(&http, "/customers").await.0, StatusCode::OK, "[{e}]");
        assert_eq!(app.call(Method::GET, "/api/v1/me", Some(&token), None).await.status(), 200);

        let r = app
            .call(
                Method::PUT,
                &format!("/api/v1/users/{id}"),
                Some(&admin),
                Some(json!({"email": "agent@test.cn", "name": "agent", "role": "agent", "active": false})),
            )
            .await;
        assert_eq!(r.status(), 200, "[{e}] disable");

        // The very next request of the signed-in browser goes to the login page.
        let r = http.get(format!("{}/customers", app.url)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "[{e}]");
        assert!(r.headers()[LOCATION].to_str().unwrap().starts_with("/login"), "[{e}]");
        // And the token is refused; the refusal is logged with the address.
        let r = app.call(Method::GET, "/api/v1/me", Some(&token), None).await;
        assert_eq!(r.status(), 401, "[{e}]");
        let denied = events(&app, "denied").await;
        assert!(
            denied.iter().any(|d| d.3 == "401 GET /api/v1/me" && d.2.as_deref() == Some("127.0.0.1")),
            "[{e}] {denied:?}"
        );
        // Signing in again is refused like a wrong password.
        let r = sign_in(&app, &browser(), "agent@test.cn", PW).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "[{e}]");
        let n: i64 = app
            .state
            .db
            .read(move |c| c.scalar("SELECT COUNT(*) FROM sessions WHERE user_id = $1", guanxi_store::args![id]))
            .await
            .unwrap();
        assert_eq!(n, 0, "[{e}] the disabled user's sessions are gone");

        // An admin's password reset also ends the user's sessions and tokens.
        let (id2, token2) = app.user(&admin, "agent2@test.cn", "agent", None).await;
        let http2 = app.signed_in("agent2@test.cn", PW).await;
        let r = app
            .call(
                Method::PUT,
                &format!("/api/v1/users/{id2}"),
                Some(&admin),
                Some(
                    json!({"email": "agent2@test.cn", "name": "agent2", "role": "agent", "password": "new-password-9"}),
                ),
            )
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(app.page(&http2, "/customers").await.0, StatusCode::SEE_OTHER, "[{e}]");
        assert_eq!(app.call(Method::GET, "/api/v1/me", Some(&token2), None).await.status(), 401);
    }
}

#[tokio::test]
async fn session_id_rotates_at_sign_in_and_times_out_idle_and_absolute() {
    for app in apps_with(|c| c.session_idle_minutes = 30).await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        app.user(&admin, "agent@test.cn", "agent", None).await;
        let http = browser();
        let r = sign_in(&app, &http, "agent@test.cn", PW).await;
        let first = session_cookie(&r).unwrap();
        assert_eq!(get_with_cookie(&app, &first, "/customers").await.status(), 200, "[{e}]");
        // Signing in again with that cookie: a new id, and the old one is dead.
        let r = sign_in(&app, &http, "agent@test.cn", PW).await;
        let second = session_cookie(&r).unwrap();
        assert_ne!(first, second);
        assert_eq!(get_with_cookie(&app, &first, "/customers").await.status(), 303, "[{e}] old id");
        assert_eq!(get_with_cookie(&app, &second, "/customers").await.status(), 200, "[{e}] new id");

        // Idle timeout (30 minutes): activity keeps it alive ...
        for _ in 0..3 {
            app.clock.advance(mins(29));
            assert_eq!(get_with_cookie(&app, &second, "/customers").await.status(), 200, "[{e}] active");
        }
        // ... 31 quiet minutes end it.
        app.clock.advance(mins(31));
        let r = get_with_cookie(&app, &second, "/customers").await;
        assert_eq!(r.status(), 303, "[{e}] idle");
        assert!(r.headers()[LOCATION].to_str().unwrap().starts_with("/login?next="));

        // Absolute timeout (12 hours) however active the session is.
        let r = sign_in(&app, &browser(), "agent@test.cn", PW).await;
        let third = session_cookie(&r).unwrap();
        for i in 0..28 {
            app.clock.advance(mins(25));
            assert_eq!(get_with_cookie(&app, &third, "/").await.status(), 200, "[{e}] step {i}");
        }
        app.clock.advance(mins(25)); // 12 h 5 min after sign-in
        assert_eq!(get_with_cookie(&app, &third, "/").await.status(), 303, "[{e}] absolute");
    }
}

#[tokio::test]
async fn users_see_and_end_their_sessions_and_tokens_on_the_page_and_the_api() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        let (_, token) = app.user(&admin, "agent@test.cn", "agent", None).await;
        let phone = Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let r = phone
            .post(format!("{}/login", app.url))
            .header(USER_AGENT, "Phone-Browser/1.0")
            .form(&[("email", "agent@test.cn"), ("password", PW)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let desk = app.signed_in("agent@test.cn", PW).await;
        let (s, html) = app.page(&desk, "/account/security").await;
        assert_eq!(s, 200, "[{e}]");
        assert!(html.contains("Phone-Browser&#x2f;1.0"), "[{e}] the other session's browser is shown");
        assert!(html.contains("127.0.0.1"), "[{e}] and its address");
        assert!(html.contains("当前会话"), "[{e}] this session is marked");

        // The API lists the same two sessions, and the token in use.
        let r = app.call(Method::GET, "/api/v1/me/sessions", Some(&token), None).await;
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        let sessions = v["sessions"].as_array().unwrap();
        assert_eq!(sessions.len(), 2, "[{e}] {v}");
        assert!(v["tokens"].as_array().unwrap().iter().any(|t| t["current"] == true));
        let phone_handle = sessions.iter().find(|s| s["user_agent"] == "Phone-Browser/1.0").unwrap()["handle"]
            .as_str()
            .unwrap()
            .to_string();

        // Ending the phone's session from the page.
        let token_csrf = csrf(&html);
        let r = desk
            .post(format!("{}/account/sessions/{phone_handle}/end", app.url))
            .form(&[("_csrf", token_csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "[{e}]");
        assert_eq!(app.page(&phone, "/customers").await.0, 303, "[{e}] the phone is signed out");
        assert_eq!(app.page(&desk, "/customers").await.0, 200, "[{e}] the desk is not");
        // Another user's handle (or a made-up one) is not found.
        let r = app.call(Method::DELETE, &format!("/api/v1/me/sessions/{phone_handle}"), Some(&token), None).await;
        assert_eq!(r.status(), 404);

        // Through the API: end the desk session, then revoke the token itself.
        let v: Value = app.call(Method::GET, "/api/v1/me/sessions", Some(&token), None).await.json().await.unwrap();
        let desk_handle = v["sessions"][0]["handle"].as_str().unwrap().to_string();
        let r = app.call(Method::DELETE, &format!("/api/v1/me/sessions/{desk_handle}"), Some(&token), None).await;
        assert_eq!(r.status(), 204, "[{e}]");
        assert_eq!(app.page(&desk, "/customers").await.0, 303, "[{e}] desk ended through the API");
        // Someone else's session cannot be ended.
        let other = app.signed_in(support::app::ADMIN_EMAIL, support::app::ADMIN_PASSWORD).await;
        let v: Value = app.call(Method::GET, "/api/v1/me/sessions", Some(&admin), None).await.json().await.unwrap();
        let admin_handle = v["sessions"][0]["handle"].as_str().unwrap().to_string();
        let r = app.call(Method::DELETE, &format!("/api/v1/me/sessions/{admin_handle}"), Some(&token), None).await;
        assert_eq!(r.status(), 404, "[{e}]");
        assert_eq!(app.page(&other, "/customers").await.0, 200, "[{e}] the admin's session lives on");

        let mine: Value = app.call(Method::GET, "/api/v1/me/sessions", Some(&token), None).await.json().await.unwrap();
        let tid = mine["tokens"][0]["id"].as_i64().unwrap();
        let r = app.call(Method::DELETE, &format!("/api/v1/me/tokens/{tid}"), Some(&token), None).await;
        assert_eq!(r.status(), 204);
        assert_eq!(app.call(Method::GET, "/api/v1/me", Some(&token), None).await.status(), 401, "[{e}] revoked");
    }
}

#[tokio::test]
async fn a_password_change_ends_every_other_session_and_token() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        let (_, token) = app.user(&admin, "agent@test.cn", "agent", None).await;
        let other = app.signed_in("agent@test.cn", PW).await;
        let me = app.signed_in("agent@test.cn", PW).await;
        let (_, html) = app.page(&me, "/account/security").await;
        let t = csrf(&html);
        // The current password is checked; the new one validated.
        let r = me
            .post(format!("{}/account/password", app.url))
            .form(&[("_csrf", t.as_str()), ("current_password", "nope"), ("new_password", "new-password-1")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        assert!(r.text().await.unwrap().contains("当前密码不正确"));
        let r = me
            .post(format!("{}/account/password", app.url))
            .form(&[("_csrf", t.as_str()), ("current_password", PW), ("new_password", "short")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        assert!(r.text().await.unwrap().contains("新密码"));
        assert_eq!(app.page(&other, "/customers").await.0, 200, "[{e}] nothing changed yet");

        let r = me
            .post(format!("{}/account/password", app.url))
            .form(&[("_csrf", t.as_str()), ("current_password", PW), ("new_password", "new-password-1")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "[{e}]");
        assert_eq!(app.page(&other, "/customers").await.0, 303, "[{e}] the other session ended");
        assert_eq!(app.call(Method::GET, "/api/v1/me", Some(&token), None).await.status(), 401, "[{e}] token ended");
        assert_eq!(app.page(&me, "/customers").await.0, 200, "[{e}] this session goes on");
        assert_eq!(sign_in(&app, &browser(), "agent@test.cn", PW).await.status(), 401);
        assert_eq!(sign_in(&app, &browser(), "agent@test.cn", "new-password-1").await.status(), 303);
        assert_eq!(events(&app, "password_changed").await.len(), 1);
    }
}

/// The secret shown on the set-up page.
fn secret_of(html: &str) -> String {
    let at = html.find("id=\"totp-secret\">").expect("no secret on the page") + 17;
    html[at..].split('<').next().unwrap().to_string()
}

/// The authenticator's code now, by the test clock.
fn code(secret: &str, app: &TestApp) -> String {
    totp::code_at(secret, guanxi_domain::Clock::now(app.clock.as_ref()).as_second()).unwrap()
}

#[tokio::test]
async fn totp_enrolment_at_next_sign_in_then_codes_and_recovery_codes() {
    for app in apps_with(|c| c.totp_required_roles = vec![Role::Supervisor]).await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        let (_, _) = app.user(&admin, "agent@test.cn", "agent", None).await;
        // Creating a supervisor: the helper's token request is refused (403) until enrolled.
        let r = app
            .call(
                Method::POST,
                "/api/v1/users",
                Some(&admin),
                Some(json!({"email": "sup@test.cn", "name": "sup", "role": "supervisor", "password": PW})),
            )
            .await;
        assert_eq!(r.status(), 201);
        let r = app
            .call(Method::POST, "/api/v1/auth/token", None, Some(json!({"email": "sup@test.cn", "password": PW})))
            .await;
        assert_eq!(r.status(), 403, "[{e}]");
        assert!(r.text().await.unwrap().contains("两步验证"));

        // The agent's role does not require it: straight in.
        assert_eq!(sign_in(&app, &browser(), "agent@test.cn", PW).await.headers()[LOCATION], "/customers");

        // The supervisor must set it up before anything else.
        let http = browser();
        let r = sign_in(&app, &http, "sup@test.cn", PW).await;
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers()[LOCATION], "/account/security", "[{e}]");
        let enrol_cookie = session_cookie(&r).unwrap();
        let r = http.get(format!("{}/customers", app.url)).send().await.unwrap();
        assert_eq!(r.headers()[LOCATION], "/account/security", "[{e}] pages wait for the set-up");
        let (s, html) = app.page(&http, "/account/security").await;
        assert_eq!(s, 200);
        assert!(html.contains("你的角色要求两步验证"), "[{e}]");
        let t = csrf(&html);
        let r =
            http.post(format!("{}/account/totp/start", app.url)).form(&[("_csrf", t.as_str())]).send().await.unwrap();
        assert_eq!(r.status(), 303);
        let (_, html) = app.page(&http, "/account/security").await;
        let secret = secret_of(&html);
        // (The page escapes `/` as `&#x2f;`.)
        assert!(
            html.contains(&format!("otpauth:&#x2f;&#x2f;totp&#x2f;Guanxi:sup@test.cn?secret={secret}")),
            "[{e}] {}",
            &html[html.find("totp-uri").unwrap_or(0)..][..300]
        );
        // A wrong code is refused; the right one (computed here from the secret
        // at the test clock's time) turns it on and shows ten recovery codes.
        let r = http
            .post(format!("{}/account/totp/confirm", app.url))
            .form(&[("_csrf", t.as_str()), ("code", "000000")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let r = http
            .post(format!("{}/account/totp/confirm", app.url))
            .form(&[("_csrf", t.as_str()), ("code", &code(&secret, &app))])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "[{e}]");
        let full_cookie = session_cookie(&r).expect("a new session id once enrolled");
        assert_ne!(full_cookie, enrol_cookie);
        let html = r.text().await.unwrap();
        let recovery: Vec<String> =
            html.split("<li><code>").skip(1).map(|s| s.split('<').next().unwrap().to_string()).collect();
        assert_eq!(recovery.len(), 10, "[{e}]");
        assert_eq!(get_with_cookie(&app, &enrol_cookie, "/customers").await.status(), 303, "[{e}] old id dead");
        assert_eq!(app.page(&http, "/customers").await.0, 200, "[{e}] in");

        // Next sign-in: password, then the code.
        app.clock.advance(jiff::SignedDuration::from_secs(60));
        let http = browser();
        let r = sign_in(&app, &http, "sup@test.cn", PW).await;
        assert_eq!(r.headers()[LOCATION], "/login/totp?next=%2Fcustomers", "[{e}]");
        let pending_cookie = session_cookie(&r).unwrap();
        assert_eq!(app.page(&http, "/customers").await.0, 303, "[{e}] not in before the code");
        let (s, html) = app.page(&http, "/login/totp?next=%2Fcustomers").await;
        assert_eq!(s, 200);
        let t = csrf(&html);
        let r = http
            .post(format!("{}/login/totp", app.url))
            .form(&[("_csrf", t.as_str()), ("next", "/customers"), ("code", "123456")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "[{e}]");
        assert!(r.text().await.unwrap().contains("验证码不正确"));
        let good = code(&secret, &app);
        let r = http
            .post(format!("{}/login/totp", app.url))
            .form(&[("_csrf", t.as_str()), ("next", "/customers"), ("code", good.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "[{e}]");
        assert_eq!(r.headers()[LOCATION], "/customers");
        assert_ne!(session_cookie(&r).unwrap(), pending_cookie, "[{e}] rotated after the second factor");
        assert_eq!(app.page(&http, "/customers").await.0, 200);

        // The same code cannot be used twice (API): 401; without a code: 422 naming `code`.
        let r = app
            .call(Method::POST, "/api/v1/auth/token", None, Some(json!({"email": "sup@test.cn", "password": PW})))
            .await;
        assert_eq!(r.status(), 422, "[{e}]");
        assert_eq!(r.json::<Value>().await.unwrap()["errors"][0]["field"], "code");
        let r = app
            .call(
                Method::POST,
                "/api/v1/auth/token",
                None,
                Some(json!({"email": "sup@test.cn", "password": PW, "code": good})),
            )
            .await;
        assert_eq!(r.status(), 401, "[{e}] replayed code");
        app.clock.advance(jiff::SignedDuration::from_secs(30));
        let r = app
            .call(
                Method::POST,
                "/api/v1/auth/token",
                None,
                Some(json!({"email": "sup@test.cn", "password": PW, "code": code(&secret, &app)})),
            )
            .await;
        assert_eq!(r.status(), 200, "[{e}] the next step's code");
        // A recovery code works once.
        let r = app
            .call(
                Method::POST,
                "/api/v1/auth/token",
                None,
                Some(json!({"email": "sup@test.cn", "password": PW, "code": recovery[0].to_uppercase()})),
            )
            .await;
        assert_eq!(r.status(), 200, "[{e}] recovery code");
        let r = app
            .call(
                Method::POST,
                "/api/v1/auth/token",
                None,
                Some(json!({"email": "sup@test.cn", "password": PW, "code": recovery[0]})),
            )
            .await;
        assert_eq!(r.status(), 401, "[{e}] used recovery code");
        // The supervisor cannot turn it off: the role requires it.
        let (_, html) = app.page(&http, "/account/security").await;
        assert!(!html.contains("/account/totp/disable"), "[{e}]");
        let t = csrf(&html);
        let r = http
            .post(format!("{}/account/totp/disable", app.url))
            .form(&[("_csrf", t.as_str()), ("password", PW)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        assert_eq!(events(&app, "totp_failed").await.len(), 3, "[{e}] wrong, replayed and used codes logged");
        // The secret is stored encrypted.
        let stored: String = app
            .state
            .db
            .read(|c| c.scalar("SELECT totp_secret FROM users WHERE email = 'sup@test.cn'", &[]))
            .await
            .unwrap();
        assert!(!stored.contains(&secret));
    }
}

#[tokio::test]
async fn sign_in_attempts_are_logged_rate_limited_and_locked_out() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        let (agent_id, agent) = app.user(&admin, "agent@test.cn", "agent", None).await;
        // Four wrong passwords: "wrong"; the fifth locks the account (429, zh and en).
        for _ in 0..4 {
            let r = sign_in(&app, &browser(), "agent@test.cn", "wrong-one").await;
            assert_eq!(r.status(), 401, "[{e}]");
        }
        let r = sign_in(&app, &browser(), "agent@test.cn", "wrong-one").await;
        assert_eq!(r.status(), 429, "[{e}]");
        assert!(r.text().await.unwrap().contains("该账号已暂时锁定"));
        // Locked: even the right password is refused, in English too, and by the API.
        let r = browser()
            .post(format!("{}/login", app.url))
            .header("accept-language", "en")
            .form(&[("email", "agent@test.cn"), ("password", PW)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 429);
        assert!(r.text().await.unwrap().contains("this account is locked"), "[{e}]");
        let r = app
            .call(Method::POST, "/api/v1/auth/token", None, Some(json!({"email": "AGENT@test.cn", "password": PW})))
            .await;
        assert_eq!(r.status(), 429, "[{e}] same account, any spelling");
        assert!(r.headers().contains_key("retry-after"));
        // Another account from the same address is not locked (yet).
        assert_eq!(
            sign_in(&app, &browser(), support::app::ADMIN_EMAIL, support::app::ADMIN_PASSWORD).await.status(),
            303
        );
        // 15 minutes later the account opens again.
        app.clock.advance(mins(16));
        assert_eq!(sign_in(&app, &browser(), "agent@test.cn", PW).await.status(), 303, "[{e}]");

        // Per address: 20 failures over any accounts refuse everything from it.
        for i in 0..20 {
            let r = sign_in(&app, &browser(), &format!("nobody{i}@test.cn"), "x-wrong-x").await;
            assert!(r.status() == 401 || (i == 19 && r.status() == 429), "[{e}] {i} {}", r.status());
        }
        let r = sign_in(&app, &browser(), support::app::ADMIN_EMAIL, support::app::ADMIN_PASSWORD).await;
        assert_eq!(r.status(), 429, "[{e}]");
        assert!(r.text().await.unwrap().contains("来自该地址"));

        // Everything is in the log, with the address.
        let failed = events(&app, "login_failed").await;
        assert_eq!(failed.len(), 25, "[{e}]");
        assert!(failed.iter().all(|f| f.2.as_deref() == Some("127.0.0.1")));
        assert_eq!(events(&app, "login_locked").await.len(), 3, "[{e}]");
        let ok = events(&app, "login_ok").await;
        assert!(ok.iter().any(|o| o.0 == Some(agent_id)), "[{e}]");
        // A refused authorisation (an agent at an admin route) is logged with who it was.
        let r = app.call(Method::GET, "/api/v1/users", Some(&agent), None).await;
        assert_eq!(r.status(), 403);
        let denied = events(&app, "denied").await;
        assert!(denied.iter().any(|d| d.0 == Some(agent_id) && d.3 == "403 GET /api/v1/users"), "[{e}] {denied:?}");
        // Admins read the log through the API; others may not.
        let r = app.call(Method::GET, "/api/v1/security-events?kind=login_locked", Some(&admin), None).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap().as_array().unwrap().len(), 3);
        assert_eq!(app.call(Method::GET, "/api/v1/security-events", Some(&agent), None).await.status(), 403);
    }
}
