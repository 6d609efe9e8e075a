//! Files attached on the new-ticket page (SPEC T1), on every engine: they
//! are stored with the ticket and listed on its page; a refused file names
//! the field and the reason, keeps what was typed, and writes nothing — no
//! ticket, no row, no file on disk.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use support::app::{TestApp, apps, csrf};

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
const EXE: &[u8] = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0";

async fn post_json(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let r = app.call(Method::POST, path, Some(token), Some(body)).await;
    let s = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    assert!(s == 201 || s == 200, "[{}] {path}: {s} {v}", app.engine);
    v
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| if e.path().is_dir() { walk(&e.path()) } else { 1 }).sum())
        .unwrap_or(0)
}

async fn stored(app: &TestApp) -> (i64, i64, usize) {
    let count = |t: &'static str| async move {
        app.state.db.read(move |c| c.scalar::<i64>(&format!("SELECT COUNT(*) FROM {t}"), &[])).await.unwrap()
    };
    (count("tickets").await, count("ticket_attachments").await, walk(&app.state.config.data_dir.join("attachments")))
}

fn form(token: &str, customer: i64, subject: &str, name: &str, bytes: &[u8]) -> Form {
    Form::new()
        .text("_csrf", token.to_string())
        .text("type", "consultation")
        .text("channel", "phone")
        .text("category", "service")
        .text("priority", "normal")
        .text("customer_id", customer.to_string())
        .text("subject", subject.to_string())
        .text("description", "客户发来了截图")
        .part("file", Part::bytes(bytes.to_vec()).file_name(name.to_string()).mime_str("application/pdf").unwrap())
}

#[tokio::test]
async fn the_new_ticket_form_takes_files_and_refuses_bad_ones_writing_nothing() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        let team = post_json(&app, &admin, "/api/v1/groups", json!({"name": "一线客服组", "kind": "team"})).await;
        let body = json!({"email": "wang.fang@test.cn", "name": "wang.fang", "role": "agent",
            "password": "password-123", "group_id": team["id"], "certified": true});
        let agent = post_json(&app, &admin, "/api/v1/users", body).await;
        let cust = post_json(
            &app,
            &admin,
            "/api/v1/customers",
            json!({"name": "杭州明远科技有限公司", "owner_id": agent["id"]}),
        )
        .await;
        let customer = cust["id"].as_i64().unwrap();
        let http = app.signed_in("wang.fang@test.cn", "password-123").await;
        let (s, html) = app.page(&http, "/tickets/new").await;
        assert_eq!(s, 200, "[{e}]");
        assert!(html.contains("enctype=\"multipart/form-data\"") && html.contains("name=\"file\""), "[{e}]");
        let token = csrf(&html);

        // A file that is not what its name says: refused beside the field, nothing written.
        let before = stored(&app).await;
        let r = http
            .post(format!("{}/tickets/new", app.url))
            .multipart(form(&token, customer, "安装包打不开", "setup.pdf", EXE))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "[{e}]");
        let html = r.text().await.unwrap();
        assert!(html.contains("id=\"e-file\""), "[{e}] the error is beside the file field");
        assert!(html.contains("文件类型不允许"), "[{e}]");
        assert!(html.contains("安装包打不开"), "[{e}] what was typed is kept");
        assert_eq!(stored(&app).await, before, "[{e}] no ticket, no row, no file");

        // A bad ticket field with a good file: no file on disk either.
        let r = http
            .post(format!("{}/tickets/new", app.url))
            .multipart(form(&token, customer, "", "截图.pdf", PDF))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "[{e}]");
        assert!(r.text().await.unwrap().contains("id=\"e-subject\""), "[{e}]");
        assert_eq!(stored(&app).await, before, "[{e}]");

        // A good one: the ticket with its file.
        let r = http
            .post(format!("{}/tickets/new", app.url))
            .multipart(form(&token, customer, "发票抬头开错了", "发票截图.pdf", PDF))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "[{e}]");
        let to = r.headers()["location"].to_str().unwrap().split('?').next().unwrap().to_string();
        assert_eq!(stored(&app).await, (before.0 + 1, before.1 + 1, before.2 + 1), "[{e}]");
        let (_, html) = app.page(&http, &to).await;
        assert!(html.contains("发票截图.pdf"), "[{e}] listed on the ticket page");
        let at = html.replace("&#x2f;", "/").find(&format!("href=\"{to}/attachments/")).expect("a download link") + 6;
        let html = html.replace("&#x2f;", "/");
        let href = html[at..].split('"').next().unwrap().to_string();
        let r = http.get(format!("{}{href}", app.url)).send().await.unwrap();
        assert_eq!(r.bytes().await.unwrap().as_ref(), PDF, "[{e}] the bytes come back");
        // The plain form without files still works.
        let r = http
            .post(format!("{}/tickets/new", app.url))
            .form(&[
                ("_csrf", token.as_str()),
                ("type", "consultation"),
                ("channel", "phone"),
                ("category", "service"),
                ("priority", "normal"),
                ("customer_id", &customer.to_string()),
                ("subject", "没有附件"),
                ("description", "电话咨询"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "[{e}]");
    }
}
