//! The pages over HTTP, on every engine: login, CSRF, the customer form's
//! validation, masking, the admin area, the language switch, logout.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use reqwest::{Client, StatusCode};
use support::app::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, apps, browser, csrf};

async fn get(app: &TestApp, http: &Client, path: &str) -> (StatusCode, String) {
    app.page(http, path).await
}

async fn login(app: &TestApp, http: &Client, email: &str, password: &str) -> reqwest::Response {
    http.post(format!("{}/login", app.url))
        .form(&[("email", email), ("password", password), ("next", "/customers")])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn login_customer_form_and_masking() {
    for app in apps().await {
        let e = app.engine.clone();
        let http = browser();
        // Not logged in: to the login page, remembering where to go back.
        let r = http.get(format!("{}/customers?tag=x", app.url)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()["location"], "/login?next=%2Fcustomers%3Ftag%3Dx");

        let r = login(&app, &http, ADMIN_EMAIL, "wrong").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.text().await.unwrap().contains("邮箱或密码不正确"));
        let r = login(&app, &http, ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()["location"], "/customers");
        assert!(r.headers()["set-cookie"].to_str().unwrap().contains("HttpOnly"));

        let (s, html) = get(&app, &http, "/customers").await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("没有符合条件的客户"), "[{e}] empty list");
        let (_, form) = get(&app, &http, "/customers/new").await;
        let token = csrf(&form);

        // Without the CSRF token: refused, nothing saved.
        let before = app.snapshot().await;
        let r = http.post(format!("{}/customers/new", app.url)).form(&[("name", "无令牌客户")]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(app.snapshot().await, before);

        // A bad phone number: the form comes back with the error, nothing saved.
        let r = http
            .post(format!("{}/customers/new", app.url))
            .form(&[
                ("_csrf", token.as_str()),
                ("name", "深圳云帆科技"),
                ("phone", "1234"),
                ("email", "bad@"),
                ("tags", "高价值，活跃"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = r.text().await.unwrap();
        assert!(html.contains("不是有效的电话号码"), "[{e}] phone error shown");
        assert!(html.contains("不是有效的邮箱地址"), "[{e}] email error shown");
        assert!(html.contains("value=\"深圳云帆科技\""), "[{e}] the input is kept");
        assert_eq!(app.snapshot().await, before);

        // A good one: saved, shown with the phone masked.
        let r = http
            .post(format!("{}/customers/new", app.url))
            .form(&[
                ("_csrf", token.as_str()),
                ("name", "深圳云帆科技"),
                ("phone", "13912345678"),
                ("tags", "高价值，活跃"),
                ("marketing_consent", "1"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "[{e}]");
        let location = r.headers()["location"].to_str().unwrap().to_string();
        assert!(location.starts_with("/customers/"));
        let (_, view) = get(&app, &http, &location).await;
        assert!(view.contains("客户已创建"));
        assert!(view.contains("139****5678") && !view.contains("13912345678"), "[{e}] masked on the profile");
        assert!(view.contains("高价值") && view.contains("KH000001"));
        let (_, list) = get(&app, &http, "/customers").await;
        assert!(list.contains("139****5678") && !list.contains("13912345678"), "[{e}] masked in the list");

        // The list's export buttons download the filtered list, masked.
        let (_, list) = get(&app, &http, "/customers?tag=%E9%AB%98%E4%BB%B7%E5%80%BC").await;
        let at = list.find("id=\"export-csv\"").expect("export button");
        let href = list[..at]
            .rsplit("href=\"")
            .next()
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .replace("&amp;", "&")
            .replace("&#x2f;", "/");
        assert!(
            href.starts_with("/customers/export?") && href.contains("format=csv") && href.contains("tag="),
            "{href}"
        );
        let r = http.get(format!("{}{href}", app.url)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers()["content-disposition"].to_str().unwrap().contains("attachment"));
        let bytes = r.bytes().await.unwrap();
        assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 BOM for Excel");
        let csv = String::from_utf8_lossy(&bytes);
        assert!(
            csv.contains("深圳云帆科技") && csv.contains("139****5678") && !csv.contains("13912345678"),
            "[{e}] {csv}"
        );
        let (s, _) = get(&app, &http, "/customers/export?format=pdf").await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "an unknown format is refused");

        // Reveal shows it and logs it.
        let id = location.trim_start_matches("/customers/").split('?').next().unwrap().to_string();
        let r = http
            .post(format!("{}/customers/{id}/reveal", app.url))
            .form(&[("_csrf", token.as_str()), ("field", "phone")])
            .send()
            .await
            .unwrap();
        assert!(r.text().await.unwrap().contains("13912345678"));

        // Editing with the phone left empty keeps it.
        let r = http
            .post(format!("{}/customers/{id}/edit", app.url))
            .form(&[("_csrf", token.as_str()), ("name", "深圳云帆科技股份"), ("phone", "")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let (_, view) = get(&app, &http, &format!("/customers/{id}")).await;
        assert!(view.contains("深圳云帆科技股份") && view.contains("139****5678"), "[{e}] phone kept");

        // Delete asks first, then deletes.
        let (s, confirm) = get(&app, &http, &format!("/customers/{id}/delete")).await;
        assert_eq!(s, StatusCode::OK);
        assert!(confirm.contains("确认删除"));
        let r = http
            .post(format!("{}/customers/{id}/delete", app.url))
            .form(&[("_csrf", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["location"], "/customers?flash=deleted");
        let (s, _) = get(&app, &http, &format!("/customers/{id}")).await;
        assert_eq!(s, StatusCode::NOT_FOUND);

        // English switch.
        let r = http.get(format!("{}/lang/en?back=/customers", app.url)).send().await.unwrap();
        assert_eq!(r.headers()["location"], "/customers");
        let (_, html) = get(&app, &http, "/customers").await;
        assert!(html.contains("New customer") && html.contains("lang=\"en\""));

        // Logout ends the session.
        http.post(format!("{}/logout", app.url)).form(&[("_csrf", token.as_str())]).send().await.unwrap();
        let (s, _) = get(&app, &http, "/customers").await;
        assert_eq!(s, StatusCode::SEE_OTHER);
    }
}

#[tokio::test]
async fn agents_cannot_reach_the_admin_pages() {
    for app in apps().await {
        let admin = app.admin_token().await;
        app.user(&admin, "agent@test.cn", "agent", None).await;
        let http = browser();
        assert_eq!(login(&app, &http, "agent@test.cn", "password-123").await.status(), StatusCode::SEE_OTHER);
        let (s, html) = get(&app, &http, "/admin/users").await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert!(html.contains("没有权限"));
        let (_, home) = get(&app, &http, "/").await;
        assert!(!home.contains("href=\"/admin/users\""), "no settings link for agents");
        let token = csrf(&home);
        let before = app.snapshot().await;
        let r = http
            .post(format!("{}/admin/users", app.url))
            .form(&[
                ("_csrf", token.as_str()),
                ("email", "x@test.cn"),
                ("name", "x"),
                ("role", "admin"),
                ("password", "password-123"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(app.snapshot().await, before);

        // The admin can.
        let http = browser();
        login(&app, &http, ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let (s, html) = get(&app, &http, "/admin/users").await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("agent@test.cn"));
        let token = csrf(&html);
        let r = http
            .post(format!("{}/admin/users", app.url))
            .form(&[
                ("_csrf", token.as_str()),
                ("email", "not-an-email"),
                ("name", ""),
                ("role", "agent"),
                ("password", "short"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = r.text().await.unwrap();
        assert!(html.contains("不是有效的邮箱地址") && html.contains("至少需要 8 个字符"));
        assert_eq!(app.snapshot().await, before);
    }
}
