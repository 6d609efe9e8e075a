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

#[tokio::test]
async fn a_customers_personal_data_exports_as_json_and_text_on_every_engine() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        let (_, agent) = app.user(&admin, "zhao.lei@test.cn", "agent", None).await;
        let r = app
            .call(
                Method::POST,
                "/api/v1/customers",
                Some(&admin),
                Some(json!({"name": "厦门鹭岛茶业", "phone": "13812345678", "email": "tea@ludao.cn"})),
            )
            .await;
        assert_eq!(r.status(), 201);
        let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
        let calls = [
            (
                format!("/api/v1/customers/{id}/contacts"),
                json!({"name": "林晓", "phone": "13698765432", "wechat": "linxiao_88", "birthday": "1990-05-17"}),
            ),
            (
                format!("/api/v1/customers/{id}/orders"),
                json!({"ordered_on": "2026-11-01", "amount": "320.00", "product": "铁观音礼盒"}),
            ),
            (
                format!("/api/v1/customers/{id}/communications"),
                json!({"channel": "wechat", "purpose": "回访", "summary": "询问礼盒包装", "action_items": []}),
            ),
            (
                "/api/v1/tickets".to_string(),
                json!({"type": "consultation", "channel": "phone", "category": "product", "customer_id": id,
                    "subject": "礼盒能否定制", "description": "客户想在礼盒上印公司标志"}),
            ),
        ];
        for (path, body) in calls {
            let r = app.call(Method::POST, &path, Some(&admin), Some(body)).await;
            assert_eq!(r.status(), 201, "[{e}] {path}");
        }

        let r = app.call(Method::GET, &format!("/api/v1/customers/{id}/personal-data"), Some(&admin), None).await;
        assert_eq!(r.status(), 200, "[{e}]");
        assert!(r.headers()["content-disposition"].to_str().unwrap().contains("personal-data-KH"));
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["customer"]["phone"], "13812345678", "[{e}] {v}");
        assert_eq!(v["customer"]["email"], "tea@ludao.cn");
        assert_eq!(v["contacts"][0]["wechat"], "linxiao_88");
        assert_eq!(v["contacts"][0]["birthday"], "1990-05-17");
        assert_eq!(v["orders"].as_array().unwrap().len(), 1);
        assert_eq!(v["communications"][0]["summary"], "询问礼盒包装");
        assert_eq!(v["tickets"][0]["subject"], "礼盒能否定制");
        assert!(v["customer"].get("phone_ciphertext").is_none());

        let r = app
            .call(Method::GET, &format!("/api/v1/customers/{id}/personal-data?format=text"), Some(&admin), None)
            .await;
        assert_eq!(r.status(), 200);
        let text = r.text().await.unwrap();
        assert!(text.contains("电话：13812345678") && text.contains("微信：linxiao_88"), "{text}");
        assert!(text.contains("【工单】（1 条）") && text.contains("主题：礼盒能否定制"), "{text}");
        let r = app
            .call(Method::GET, &format!("/api/v1/customers/{id}/personal-data?format=pdf"), Some(&admin), None)
            .await;
        assert_eq!(r.status(), 422);

        // Audited, and out of an agent's scope it does not exist.
        let n: i64 = app
            .state
            .db
            .read(move |c| {
                c.scalar(
                    "SELECT COUNT(*) FROM audit_log WHERE action = 'export' AND entity = 'customer' AND entity_id = $1",
                    guanxi_store::args![id],
                )
            })
            .await
            .unwrap();
        assert_eq!(n, 2, "[{e}]");
        let r = app.call(Method::GET, &format!("/api/v1/customers/{id}/personal-data"), Some(&agent), None).await;
        assert_eq!(r.status(), 404, "[{e}]");
    }
}

#[tokio::test]
async fn anonymising_a_customer_erases_personal_data_and_keeps_statistics_on_every_engine() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        let (_, agent) = app.user(&admin, "qian.yu@test.cn", "agent", None).await;
        let id = customer_with_ticket(&app, &admin, "泉州晋江鞋服", &[("签收单.pdf", PDF, "application/pdf")]).await;
        let r = app
            .call(
                Method::PUT,
                &format!("/api/v1/customers/{id}"),
                Some(&admin),
                Some(json!({"name": "泉州晋江鞋服", "phone": "13812345678", "email": "shoes@jinjiang.cn", "notes": "老板姓蔡，喜欢早上联系"})),
            )
            .await;
        assert_eq!(r.status(), 200, "[{e}] update");
        for (path, body) in [
            (
                format!("/api/v1/customers/{id}/contacts"),
                json!({"name": "蔡文华", "phone": "13698765432", "wechat": "caiwenhua", "address": "晋江市陈埭镇"}),
            ),
            (
                format!("/api/v1/customers/{id}/orders"),
                json!({"ordered_on": "2026-11-02", "amount": "5600.00", "product": "运动鞋"}),
            ),
            (
                format!("/api/v1/customers/{id}/communications"),
                json!({"channel": "phone", "purpose": "回访", "summary": "蔡总说下月再订", "action_items": []}),
            ),
        ] {
            let r = app.call(Method::POST, &path, Some(&admin), Some(body)).await;
            assert_eq!(r.status(), 201, "[{e}] {path}");
        }
        let r = app.call(Method::POST, &format!("/api/v1/customers/{id}/anonymise"), Some(&agent), None).await;
        assert_eq!(r.status(), 403, "[{e}] agents may not erase");

        let r = app.call(Method::POST, &format!("/api/v1/customers/{id}/anonymise"), Some(&admin), None).await;
        assert_eq!(r.status(), 204, "[{e}]");
        let r = app.call(Method::GET, &format!("/api/v1/customers/{id}/personal-data"), Some(&admin), None).await;
        let v: Value = r.json().await.unwrap();
        let text = v.to_string();
        for gone in ["泉州晋江鞋服", "13812345678", "shoes@jinjiang", "蔡", "caiwenhua", "晋江市", "签收单"]
        {
            assert!(!text.contains(gone), "[{e}] {gone} is still there: {text}");
        }
        assert!(v["customer"]["name"].as_str().unwrap().starts_with("已匿名客户 KH"), "{v}");
        assert!(v["customer"]["phone"].is_null() && v["contacts"][0]["wechat"].is_null());
        // The statistics keep their facts.
        assert_eq!(v["orders"][0]["amount"], 560_000, "[{e}] the amount in fen: {v}");
        assert_eq!(v["tickets"].as_array().unwrap().len(), 1);
        assert_eq!(v["tickets"][0]["category"], "product");
        assert_eq!(v["communications"][0]["channel"], "phone");
        assert!(files_on_disk(&app).is_empty(), "[{e}] the attachment is gone");
        // Neither the old name nor the phone finds the customer any more.
        for q in ["晋江鞋服", "13812345678"] {
            let r = app.call(Method::GET, &format!("/api/v1/customers?q={q}"), Some(&admin), None).await;
            assert_eq!(r.json::<Value>().await.unwrap()["total"], 0, "[{e}] {q}");
        }
        let n: i64 = app
            .state
            .db
            .read(|c| c.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'anonymise'", &[]))
            .await
            .unwrap();
        assert_eq!(n, 1);
    }
}
