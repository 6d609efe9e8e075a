//! Personal data rights (SPEC S2) on every engine: erasing a customer also
//! removes the files attached to their tickets from the data directory,
//! except a file another customer's ticket still holds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use support::app::{TestApp, apps};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

fn files_on_disk(app: &TestApp) -> Vec<String> {
    let mut out = Vec::new();
    let root = app.state.config.data_dir.join("attachments");
    for dir in std::fs::read_dir(root).into_iter().flatten().flatten() {
        for f in std::fs::read_dir(dir.path()).into_iter().flatten().flatten() {
            out.push(f.file_name().to_string_lossy().into_owned());
        }
    }
    out.sort();
    out
}

async fn customer_with_ticket(app: &TestApp, admin: &str, name: &str, files: &[(&str, &[u8], &str)]) -> i64 {
    let r = app.call(Method::POST, "/api/v1/customers", Some(admin), Some(json!({"name": name}))).await;
    assert_eq!(r.status(), 201);
    let customer = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let body = json!({"type": "complaint", "channel": "email", "category": "product", "customer_id": customer,
        "subject": "收到的货有破损", "description": "客户附上了照片和签收单"});
    let r = app.call(Method::POST, "/api/v1/tickets", Some(admin), Some(body)).await;
    assert_eq!(r.status(), 201, "[{}] ticket", app.engine);
    let ticket = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let mut form = Form::new().text("kind", "note").text("body", "客户发来的附件");
    for (file, bytes, mime) in files {
        form = form.part("file", Part::bytes(bytes.to_vec()).file_name(file.to_string()).mime_str(mime).unwrap());
    }
    let r = app
        .http
        .post(format!("{}/api/v1/tickets/{ticket}/attachments", app.url))
        .bearer_auth(admin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "[{}] upload", app.engine);
    customer
}

#[tokio::test]
async fn erasing_a_customer_removes_the_files_of_their_tickets_on_every_engine() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        let a = customer_with_ticket(
            &app,
            &admin,
            "宁波海曙贸易",
            &[("破损照片.png", PNG, "image/png"), ("签收单.pdf", PDF, "application/pdf")],
        )
        .await;
        let b = customer_with_ticket(&app, &admin, "温州鹿城鞋业", &[("同一张照片.png", PNG, "image/png")]).await;
        assert_eq!(files_on_disk(&app).len(), 2, "[{e}] one file per content");

        let r = app.call(Method::DELETE, &format!("/api/v1/customers/{a}"), Some(&admin), None).await;
        assert_eq!(r.status(), 204, "[{e}] erase A");
        let left = files_on_disk(&app);
        assert_eq!(left.len(), 1, "[{e}] the PDF only A held is gone: {left:?}");
        let rows: i64 = app.state.db.read(|c| c.scalar("SELECT COUNT(*) FROM ticket_attachments", &[])).await.unwrap();
        assert_eq!(rows, 1, "[{e}]");

        let r = app.call(Method::DELETE, &format!("/api/v1/customers/{b}"), Some(&admin), None).await;
        assert_eq!(r.status(), 204, "[{e}] erase B");
        assert!(files_on_disk(&app).is_empty(), "[{e}] the shared photo is gone with its last holder");
    }
}
