//! Ticket attachments (SPEC T1) over the API and the ticket page, on every
//! engine: the bytes come back as they went in, stored under their SHA-256
//! in the data directory; a file above the limit, of a type not allowed or
//! whose bytes do not match its name is refused with the field and the
//! reason in zh/en and nothing is stored; someone who may not see the
//! ticket gets 404 for the upload and the download.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use support::app::{TestApp, apps, csrf};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
const EXE: &[u8] = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0";

async fn json_of(r: reqwest::Response) -> (u16, Value) {
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn post_json(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let (s, v) = json_of(app.call(Method::POST, path, Some(token), Some(body)).await).await;
    assert!(s == 201 || s == 200, "[{}] {path}: {s} {v}", app.engine);
    v
}

struct Desk {
    agent: String,
    outsider: String,
    ticket: i64,
    other_ticket: i64,
}

/// Two teams with an agent each; a ticket of the first team's agent, and
/// one of the second's.
async fn desk(app: &TestApp) -> Desk {
    let admin = app.admin_token().await;
    let mut teams = Vec::new();
    for name in ["一线客服组", "二线客服组"] {
        teams.push(
            post_json(app, &admin, "/api/v1/groups", json!({"name": name, "kind": "team"})).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let mut tokens = Vec::new();
    for (email, team) in [("wang.fang@test.cn", teams[0]), ("li.lei@test.cn", teams[1])] {
        let body = json!({"email": email, "name": email.split('@').next().unwrap(), "role": "agent",
            "password": "password-123", "group_id": team, "certified": true});
        let u = post_json(app, &admin, "/api/v1/users", body).await;
        tokens.push((u["id"].as_i64().unwrap(), app.token(email, "password-123").await));
    }
    let mut tickets = Vec::new();
    for (owner, tok) in &tokens {
        let c = post_json(app, &admin, "/api/v1/customers", json!({"name": "杭州明远科技有限公司", "owner_id": owner}))
            .await;
        let body = json!({"type": "consultation", "channel": "email", "category": "service", "priority": "normal",
            "customer_id": c["id"], "subject": "发票抬头开错了", "description": "客户要求重开发票", "assignee_id": owner});
        tickets.push(post_json(app, tok, "/api/v1/tickets", body).await["id"].as_i64().unwrap());
    }
    Desk { agent: tokens[0].1.clone(), outsider: tokens[1].1.clone(), ticket: tickets[0], other_ticket: tickets[1] }
}

fn file(name: &str, bytes: &[u8], mime: &str) -> Part {
    Part::bytes(bytes.to_vec()).file_name(name.to_string()).mime_str(mime).unwrap()
}

async fn upload(app: &TestApp, token: &str, ticket: i64, form: Form, lang: &str) -> (u16, Value) {
    json_of(
        app.http
            .post(format!("{}/api/v1/tickets/{ticket}/attachments", app.url))
            .bearer_auth(token)
            .header("Accept-Language", lang)
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// What a refused upload must leave unchanged: rows and files on disk.
async fn stored(app: &TestApp) -> (i64, i64, i64, usize) {
    let count = |t: &'static str| async move {
        app.state.db.read(move |c| c.scalar::<i64>(&format!("SELECT COUNT(*) FROM {t}"), &[])).await.unwrap()
    };
    let files = walk(&app.state.config.data_dir.join("attachments")).len();
    (count("ticket_attachments").await, count("ticket_messages").await, count("ticket_events").await, files)
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
        }
    }
    out
}

fn field_error(v: &Value) -> (String, String, String) {
    let e = &v["errors"][0];
    (
        e["field"].as_str().unwrap_or("").into(),
        e["code"].as_str().unwrap_or("").into(),
        e["message"].as_str().unwrap_or("").into(),
    )
}

#[tokio::test]
async fn files_go_up_and_come_back_byte_for_byte() {
    for app in apps().await {
        let e = app.engine.clone();
        let d = desk(&app).await;
        let form = Form::new()
            .text("kind", "note")
            .text("body", "客户发来的截图和发票")
            .part("file", file("截图 1.png", PNG, "image/png"))
            .part("file", file("发票.pdf", PDF, "application/octet-stream"));
        let (s, v) = upload(&app, &d.agent, d.ticket, form, "zh-CN").await;
        assert_eq!(s, 200, "[{e}] {v}");
        let files = v["attachments"].as_array().unwrap();
        assert_eq!(files.len(), 2, "[{e}] {v}");
        assert_eq!(files[0]["file_name"], "截图 1.png");
        assert_eq!(files[0]["content_type"], "image/png");
        assert_eq!(files[1]["content_type"], "application/pdf", "[{e}] the type comes from the bytes");
        assert_eq!(files[1]["size_bytes"], PDF.len());
        let note = v["messages"].as_array().unwrap().iter().find(|m| m["kind"] == "note").unwrap();
        assert_eq!(files[0]["message_id"], note["id"], "[{e}] the files belong to the note");
        assert_eq!(note["body"], "客户发来的截图和发票");
        let ev = v["history"].as_array().unwrap().iter().find(|h| h["kind"] == "attachment").unwrap();
        assert_eq!(ev["detail"]["files"][1]["name"], "发票.pdf", "[{e}] in the history");

        // Stored under the content address, never under the uploader's name.
        let on_disk = walk(&app.state.config.data_dir.join("attachments"));
        assert_eq!(on_disk.len(), 2, "[{e}] {on_disk:?}");
        for p in &on_disk {
            let name = p.file_name().unwrap().to_str().unwrap();
            assert_eq!(name.len(), 64, "[{e}] {name}");
            assert!(name.chars().all(|c| c.is_ascii_hexdigit()), "[{e}] {name}");
        }

        // Round trip, with the name offered for saving and not rendered inline.
        for (f, bytes) in files.iter().zip([PNG, PDF]) {
            let r = app
                .http
                .get(format!("{}{}", app.url, f["href"].as_str().unwrap()))
                .bearer_auth(&d.agent)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "[{e}]");
            let disposition = r.headers()["content-disposition"].to_str().unwrap().to_string();
            assert!(disposition.starts_with("attachment;"), "[{e}] {disposition}");
            let ct = r.headers()["content-type"].to_str().unwrap().to_string();
            assert_eq!(ct, f["content_type"].as_str().unwrap(), "[{e}]");
            assert_eq!(r.bytes().await.unwrap().as_ref(), bytes, "[{e}] the same bytes");
        }
        let r = app
            .http
            .get(format!("{}{}", app.url, files[0]["href"].as_str().unwrap()))
            .bearer_auth(&d.agent)
            .send()
            .await
            .unwrap();
        let disposition = r.headers()["content-disposition"].to_str().unwrap().to_string();
        assert!(disposition.contains("filename*=UTF-8''%E6%88%AA%E5%9B%BE%201.png"), "[{e}] {disposition}");
        // Each download is audited.
        let audited: i64 = app
            .state
            .db
            .read(|c| c.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'ticket.attachment_download'", &[]))
            .await
            .unwrap();
        assert_eq!(audited, 3, "[{e}]");

        // The same bytes again are stored once; a public reply with a file
        // only (no text) meets the first response.
        let form = Form::new().text("kind", "reply").part("file", file("again.png", PNG, "image/png"));
        let (s, v) = upload(&app, &d.agent, d.ticket, form, "zh-CN").await;
        assert_eq!(s, 200, "[{e}] {v}");
        assert_eq!(v["attachments"].as_array().unwrap().len(), 3);
        assert!(v["ticket"]["first_response_at"].is_string(), "[{e}] {}", v["ticket"]);
        assert_eq!(walk(&app.state.config.data_dir.join("attachments")).len(), 2, "[{e}] one file per content");
    }
}

#[tokio::test]
async fn bad_files_are_refused_and_nothing_is_stored() {
    for app in apps().await {
        let e = app.engine.clone();
        let d = desk(&app).await;
        let before = stored(&app).await;
        let max = usize::try_from(app.state.config.attachment_max_bytes()).unwrap();
        let mut big = vec![b'a'; max + 1];
        big[0] = b'x';
        let cases: Vec<(&str, Form, &str, &str)> = vec![
            (
                "one byte over the limit",
                Form::new().part("file", file("通话记录.txt", &big, "text/plain")),
                "file_too_large",
                "文件不能超过 20 MB",
            ),
            (
                "a program renamed .pdf",
                Form::new().part("file", file("发票.pdf", EXE, "application/pdf")),
                "file_type",
                "文件类型不允许",
            ),
            (
                "a PDF named .png",
                Form::new().part("file", file("photo.png", PDF, "image/png")),
                "file_type",
                "文件内容与扩展名不符",
            ),
            (
                "a good file beside a bad one",
                Form::new()
                    .part("file", file("ok.png", PNG, "image/png"))
                    .part("file", file("setup.exe", EXE, "application/octet-stream")),
                "file_type",
                "文件类型不允许",
            ),
            ("no file", Form::new().text("body", "只有文字"), "required", "必填"),
        ];
        for (what, form, code, zh) in cases {
            let (s, v) = upload(&app, &d.agent, d.ticket, form, "zh-CN").await;
            assert_eq!(s, 422, "[{e}] {what}: {v}");
            let (field, got, message) = field_error(&v);
            assert_eq!((field.as_str(), got.as_str()), ("file", code), "[{e}] {what}: {v}");
            assert!(message.contains(zh), "[{e}] {what}: {message}");
            assert_eq!(stored(&app).await, before, "[{e}] {what}: nothing stored");
        }
        // The reason in English too.
        let form = Form::new().part("file", file("发票.pdf", EXE, "application/pdf"));
        let (s, v) = upload(&app, &d.agent, d.ticket, form, "en").await;
        assert_eq!(s, 422);
        assert!(field_error(&v).2.contains("does not match its name"), "[{e}] {v}");
        let form = Form::new().text("kind", "shout").part("file", file("ok.png", PNG, "image/png"));
        let (s, v) = upload(&app, &d.agent, d.ticket, form, "en").await;
        assert_eq!((s, field_error(&v).0.as_str()), (422, "kind"), "[{e}] {v}");
        assert_eq!(stored(&app).await, before, "[{e}]");
    }
}

#[tokio::test]
async fn another_scope_gets_404_for_upload_and_download() {
    for app in apps().await {
        let e = app.engine.clone();
        let d = desk(&app).await;
        let form = Form::new().part("file", file("合同.pdf", PDF, "application/pdf"));
        let (s, v) = upload(&app, &d.agent, d.ticket, form, "zh-CN").await;
        assert_eq!(s, 200, "[{e}] {v}");
        let href = v["attachments"][0]["href"].as_str().unwrap().to_string();
        let aid = v["attachments"][0]["id"].as_i64().unwrap();
        let before = stored(&app).await;

        // The other team's agent: not the ticket, not its file, no upload.
        let r = app.http.get(format!("{}{href}", app.url)).bearer_auth(&d.outsider).send().await.unwrap();
        assert_eq!(r.status(), 404, "[{e}]");
        let form = Form::new().part("file", file("x.png", PNG, "image/png"));
        let (s, _) = upload(&app, &d.outsider, d.ticket, form, "zh-CN").await;
        assert_eq!(s, 404, "[{e}]");
        assert_eq!(stored(&app).await, before, "[{e}] no byte written for a ticket out of scope");
        // Nor through a ticket of their own: the file belongs to another.
        let r = app
            .http
            .get(format!("{}/api/v1/tickets/{}/attachments/{aid}", app.url, d.other_ticket))
            .bearer_auth(&d.outsider)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "[{e}]");
        // Without a token, nothing.
        let r = app.http.get(format!("{}{href}", app.url)).send().await.unwrap();
        assert_eq!(r.status(), 401, "[{e}]");
    }
}

#[tokio::test]
async fn the_ticket_page_uploads_lists_and_downloads() {
    for app in apps().await {
        let e = app.engine.clone();
        let d = desk(&app).await;
        let _ = &d.agent;
        let http = app.signed_in("wang.fang@test.cn", "password-123").await;
        let path = format!("/tickets/{}", d.ticket);
        let (s, html) = app.page(&http, &path).await;
        assert_eq!(s, 200, "[{e}]");
        assert!(html.contains("enctype=\"multipart/form-data\""), "[{e}] the reply form carries files");
        let token = csrf(&html);

        let form = Form::new()
            .text("_csrf", token.clone())
            .text("kind", "reply")
            .text("body", "发票已重开，请查收附件。")
            .part("file", file("新发票.pdf", PDF, "application/pdf"));
        let r = http.post(format!("{}{path}/message", app.url)).multipart(form).send().await.unwrap();
        assert_eq!(r.status(), 303, "[{e}]");
        let (_, html) = app.page(&http, &path).await;
        let html = html.replace("&#x2f;", "/");
        assert!(html.contains("新发票.pdf"), "[{e}] listed on the page");
        assert!(html.contains("上传附件：新发票.pdf"), "[{e}] and in the history");
        let at = html.find(&format!("href=\"{path}/attachments/")).unwrap() + 6;
        let href = html[at..].split('"').next().unwrap().to_string();
        let r = http.get(format!("{}{href}", app.url)).send().await.unwrap();
        assert_eq!(r.status(), 200, "[{e}]");
        assert!(r.headers()["content-disposition"].to_str().unwrap().starts_with("attachment;"));
        assert_eq!(r.bytes().await.unwrap().as_ref(), PDF, "[{e}]");

        // A bad file: the page again with the reason beside the field, the text kept.
        let before = stored(&app).await;
        let form = Form::new()
            .text("_csrf", token.clone())
            .text("kind", "note")
            .text("body", "客户的安装包")
            .part("file", file("setup.pdf", EXE, "application/pdf"));
        let r = http.post(format!("{}{path}/message", app.url)).multipart(form).send().await.unwrap();
        assert_eq!(r.status(), 422, "[{e}]");
        let html = r.text().await.unwrap();
        assert!(html.contains("文件类型不允许"), "[{e}]");
        assert!(html.contains("客户的安装包"), "[{e}] what was typed is kept");
        assert_eq!(stored(&app).await, before, "[{e}]");
        // Without the CSRF token, nothing.
        let form = Form::new().text("kind", "note").part("file", file("a.png", PNG, "image/png"));
        let r = http.post(format!("{}{path}/message", app.url)).multipart(form).send().await.unwrap();
        assert_eq!(r.status(), 403, "[{e}]");
        assert_eq!(stored(&app).await, before, "[{e}]");
        // The plain form (no file) still works.
        let r = http
            .post(format!("{}{path}/message", app.url))
            .form(&[("_csrf", token.as_str()), ("kind", "note"), ("body", "已电话确认")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "[{e}]");
        // Another team's agent cannot download it from the page either.
        let other = app.signed_in("li.lei@test.cn", "password-123").await;
        let r = other.get(format!("{}{href}", app.url)).send().await.unwrap();
        assert_eq!(r.status(), 404, "[{e}]");
    }
}
