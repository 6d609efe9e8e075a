//! Outreach over HTTP on every engine (SPEC O1–O4), with real parts: email
//! goes through a real SMTP server process (Python's aiosmtpd, see
//! `outreach_smtp_sink.py`) and webhooks to a local HTTP receiver. Proves:
//! delivery at least once with one idempotency key, also across a crash
//! injected between send and mark, and never twice otherwise (two
//! schedulers at once); retries with backoff; the HMAC signature; the
//! webhook target gate; templates refused at save for an unknown
//! variable; quiet hours; marketing consent; two channels for an
//! important notice; surveys answered once, expiring, on the timeline.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use guanxi_domain::Clock;
use guanxi_server::jobs::run_due;
use guanxi_server::service::outreach::delivery;
use jiff::SignedDuration;
use reqwest::Method;
use serde_json::{Value, json};
use support::app::{TestApp, apps};

async fn json_of(r: reqwest::Response) -> (u16, Value) {
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

// ---- A real SMTP server ----

struct SmtpSink {
    port: u16,
    dir: PathBuf,
    _child: tokio::process::Child,
}

impl SmtpSink {
    async fn start() -> SmtpSink {
        let dir = std::env::temp_dir().join(format!("guanxi-smtp-{}", guanxi_server::auth::random_token()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/outreach_smtp_sink.py");
        let mut child = tokio::process::Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .arg(&dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 with aiosmtpd (pip install aiosmtpd)");
        let mut out = tokio::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        tokio::time::timeout(Duration::from_secs(20), tokio::io::AsyncBufReadExt::read_line(&mut out, &mut line))
            .await
            .expect("the SMTP server did not start")
            .unwrap();
        assert_eq!(line.trim(), "ready", "SMTP server: {line}");
        SmtpSink { port, dir, _child: child }
    }

    /// What arrived, in order.
    fn received(&self) -> Vec<Value> {
        let mut files: Vec<_> = std::fs::read_dir(&self.dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files.iter().map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()).collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---- A local webhook receiver ----

#[derive(Clone, Default)]
struct Hooks {
    got: Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>>,
    /// Answer HTTP 500 to this many requests first.
    fail_first: Arc<Mutex<u32>>,
}

async fn receiver() -> (String, Hooks) {
    let hooks = Hooks::default();
    let h = hooks.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let h = h.clone();
            async move {
                h.got.lock().unwrap().push((headers, body));
                let mut f = h.fail_first.lock().unwrap();
                if *f > 0 {
                    *f -= 1;
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    axum::http::StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("127.0.0.1:{}", addr.port()), hooks)
}

// ---- Helpers ----

async fn settings(app: &TestApp, admin: &str, body: Value) -> (u16, Value) {
    json_of(app.call(Method::PUT, "/api/v1/outreach-settings", Some(admin), Some(body)).await).await
}

async fn email_settings(app: &TestApp, admin: &str, sink: &SmtpSink, extra: Value) {
    let mut body = json!({"smtp_host": "127.0.0.1", "smtp_port": sink.port, "from_address": "service@guanxi.test",
        "public_url": "http://crm.example.cn"});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let (s, v) = settings(app, admin, body).await;
    assert_eq!(s, 200, "[{}] settings: {v}", app.engine);
}

async fn customer(app: &TestApp, admin: &str, body: Value) -> i64 {
    let (s, v) = json_of(app.call(Method::POST, "/api/v1/customers", Some(admin), Some(body.clone())).await).await;
    assert_eq!(s, 201, "[{}] customer {body}: {v}", app.engine);
    v["id"].as_i64().unwrap()
}

async fn send(app: &TestApp, token: &str, body: Value) -> (u16, Value) {
    json_of(app.call(Method::POST, "/api/v1/outbox", Some(token), Some(body)).await).await
}

async fn outbox_row(app: &TestApp, admin: &str, id: i64) -> Value {
    let (s, v) = json_of(app.call(Method::GET, "/api/v1/outbox?limit=200", Some(admin), None).await).await;
    assert_eq!(s, 200);
    v["items"].as_array().unwrap().iter().find(|m| m["id"] == id).cloned().unwrap()
}

async fn count(app: &TestApp, table: &'static str) -> i64 {
    app.state.db.read(move |c| c.scalar(&format!("SELECT COUNT(*) FROM {table}"), &[])).await.unwrap()
}

fn advance(app: &TestApp, d: SignedDuration) {
    app.clock.set(app.clock.now().checked_add(d).unwrap());
}

fn revisit(customer: i64, key: &str) -> Value {
    json!({"customer_id": customer, "scenario": "revisit_reminder", "idempotency_key": key,
        "variables": {"agent_name": "王芳", "revisit_time": "明日10:00"}})
}

// ---- Tests ----

/// The decision in docs/decisions.md: at least once, one idempotency key.
/// A crash between the send and the mark sends the message again when the
/// dead run's lease runs out — with the same Message-ID — and then never
/// again; a message without a crash arrives exactly once.
#[tokio::test]
async fn email_through_a_real_smtp_server_survives_a_crash_between_send_and_mark() {
    for app in apps().await {
        let sink = SmtpSink::start().await;
        let admin = app.admin_token().await;
        email_settings(&app, &admin, &sink, json!({})).await;
        let c = customer(&app, &admin, json!({"name": "李雷", "email": "lilei@example.cn"})).await;
        let key = format!("crash-{}", app.engine);
        let (s, v) = send(&app, &admin, revisit(c, &key)).await;
        assert_eq!(s, 201, "[{}] {v}", app.engine);
        let id = v[0]["id"].as_i64().unwrap();
        assert_eq!(v[0]["status"], "queued");
        assert_eq!(v[0]["recipient"], "l***@example.cn", "[{}] the address is masked", app.engine);

        delivery::inject_crash_after_send(&key);
        run_due(&app.state).await.unwrap();
        let got = sink.received();
        assert_eq!(got.len(), 1, "[{}] sent before the crash", app.engine);
        assert_eq!(got[0]["to"], json!(["lilei@example.cn"]));
        assert_eq!(got[0]["subject"], "预约回访提醒");
        assert!(got[0]["body"].as_str().unwrap().contains("客服专员王芳将于明日10:00回访您"), "{}", got[0]["body"]);
        let row = outbox_row(&app, &admin, id).await;
        assert_eq!(
            (row["status"].as_str(), row["attempts"].as_i64()),
            (Some("sending"), Some(1)),
            "[{}] not marked",
            app.engine
        );

        // The dead run still holds the lease: nobody sends meanwhile.
        advance(&app, SignedDuration::from_secs(30));
        run_due(&app.state).await.unwrap();
        assert_eq!(sink.received().len(), 1, "[{}] no second send while the lease holds", app.engine);

        // The lease runs out: sent again, same Message-ID, then marked.
        advance(&app, SignedDuration::from_secs(31));
        run_due(&app.state).await.unwrap();
        let got = sink.received();
        assert_eq!(got.len(), 2, "[{}] resent once after the crash", app.engine);
        assert_eq!(got[0]["message_id"], got[1]["message_id"], "[{}] one idempotency key", app.engine);
        assert_eq!(got[1]["message_id"], format!("<{key}@guanxi.outbox>"));
        let row = outbox_row(&app, &admin, id).await;
        assert_eq!((row["status"].as_str(), row["attempts"].as_i64()), (Some("sent"), Some(2)), "[{}]", app.engine);

        // Never again.
        advance(&app, SignedDuration::from_hours(2));
        run_due(&app.state).await.unwrap();
        assert_eq!(sink.received().len(), 2, "[{}] a sent message is not sent again", app.engine);

        // The same key again queues nothing new.
        let (s, v) = send(&app, &admin, revisit(c, &key)).await;
        assert_eq!((s, v[0]["id"].as_i64()), (201, Some(id)), "[{}] repeat of a key", app.engine);
        run_due(&app.state).await.unwrap();
        assert_eq!(sink.received().len(), 2);
    }
}

/// Twenty messages, two schedulers running at once: each arrives exactly once.
#[tokio::test]
async fn two_schedulers_at_once_send_each_message_once() {
    for app in apps().await {
        let sink = SmtpSink::start().await;
        let admin = app.admin_token().await;
        email_settings(&app, &admin, &sink, json!({})).await;
        let c = customer(&app, &admin, json!({"name": "韩梅梅", "email": "hmm@example.cn"})).await;
        for i in 0..20 {
            let (s, v) = send(&app, &admin, revisit(c, &format!("k{i}"))).await;
            assert_eq!(s, 201, "{v}");
        }
        let (a, b) = tokio::join!(run_due(&app.state), run_due(&app.state));
        a.unwrap();
        b.unwrap();
        run_due(&app.state).await.unwrap();
        let got = sink.received();
        let ids: BTreeSet<String> = got.iter().map(|m| m["message_id"].as_str().unwrap().to_string()).collect();
        assert_eq!((got.len(), ids.len()), (20, 20), "[{}] each once", app.engine);
        let (_, page) = json_of(app.call(Method::GET, "/api/v1/outbox?status=sent", Some(&admin), None).await).await;
        assert_eq!(page["items"].as_array().unwrap().len(), 20);
        assert!(
            page["items"].as_array().unwrap().iter().all(|m| m["attempts"] == 1),
            "[{}] one attempt each",
            app.engine
        );
    }
}

/// The webhook channel: the target must be allow-listed when it is
/// loopback; the body is signed (HMAC-SHA256 of `timestamp.body`); a
/// failure is retried after its backoff, with the same idempotency key.
#[tokio::test]
async fn webhooks_are_signed_gated_and_retried() {
    for app in apps().await {
        let admin = app.admin_token().await;
        let (host, hooks) = receiver().await;
        let url = format!("http://{host}/hook");
        let (s, v) = settings(&app, &admin, json!({"sms_webhook_url": url, "webhook_secret": "s3cret"})).await;
        assert_eq!(s, 422, "[{}] a loopback target needs the allow-list: {v}", app.engine);
        assert_eq!(v["errors"][0]["field"], "sms_webhook_url", "{v}");
        let (s, v) = settings(
            &app,
            &admin,
            json!({"sms_webhook_url": url, "webhook_secret": "s3cret", "allowed_hosts": [host.clone()]}),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["has_webhook_secret"], true);
        assert!(v.get("webhook_secret").is_none() && !v.to_string().contains("s3cret"), "the secret is never shown");

        let c =
            customer(&app, &admin, json!({"name": "张伟", "phone": "13812345678", "preferred_channel": "sms"})).await;
        *hooks.fail_first.lock().unwrap() = 1;
        let body = json!({"customer_id": c, "scenario": "progress_update",
            "variables": {"ticket_number": "GD-1", "subject": "物流延迟", "status": "处理中"}});
        let (s, v) = send(&app, &admin, body).await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v[0]["channel"], "sms", "[{}] the preferred channel", app.engine);
        let id = v[0]["id"].as_i64().unwrap();

        run_due(&app.state).await.unwrap();
        assert_eq!(hooks.got.lock().unwrap().len(), 1);
        let row = outbox_row(&app, &admin, id).await;
        assert_eq!(row["status"], "queued", "[{}] retried later: {row}", app.engine);
        assert!(row["last_error"].as_str().unwrap().contains("500"), "{row}");
        run_due(&app.state).await.unwrap();
        assert_eq!(hooks.got.lock().unwrap().len(), 1, "[{}] not before the backoff", app.engine);
        advance(&app, SignedDuration::from_secs(61));
        run_due(&app.state).await.unwrap();
        let got = hooks.got.lock().unwrap().clone();
        assert_eq!(got.len(), 2, "[{}] delivered on the retry", app.engine);
        let row = outbox_row(&app, &admin, id).await;
        assert_eq!((row["status"].as_str(), row["attempts"].as_i64()), (Some("sent"), Some(2)));

        for (headers, body) in &got {
            let ts: i64 = headers["x-guanxi-timestamp"].to_str().unwrap().parse().unwrap();
            let expected = {
                use hmac::Mac;
                let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").unwrap();
                m.update(format!("{ts}.{body}").as_bytes());
                let hex: String = m.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
                format!("sha256={hex}")
            };
            assert_eq!(headers["x-guanxi-signature"].to_str().unwrap(), expected, "[{}] signature", app.engine);
            assert_eq!(headers["idempotency-key"].to_str().unwrap(), row["idempotency_key"].as_str().unwrap());
            let payload: Value = serde_json::from_str(body).unwrap();
            assert_eq!(payload["to"], "13812345678", "the gateway gets the number");
            assert!(payload["body"].as_str().unwrap().contains("GD-1（物流延迟）当前状态：处理中"), "{payload}");
        }
        assert_eq!(row["recipient"], "138****5678", "[{}] masked in the list", app.engine);
    }
}

/// A template with a variable its scenario does not have is refused at
/// save, naming it in both languages; nothing is saved. A send missing a
/// variable is refused too, and queues nothing.
#[tokio::test]
async fn templates_refuse_unknown_and_missing_variables() {
    for app in apps().await {
        let admin = app.admin_token().await;
        let before = count(&app, "message_templates").await;
        let bad = json!({"name": "回访", "channel": "email", "scenario": "revisit_reminder", "subject": "回访",
            "body": "{{ customer_nmae }}您好，{{ agent_name }}将于{{ revisit_time }}回访"});
        let r = app
            .http
            .post(format!("{}/api/v1/message-templates", app.url))
            .bearer_auth(&admin)
            .json(&bad)
            .send()
            .await
            .unwrap();
        let (s, v) = json_of(r).await;
        assert_eq!(s, 422, "[{}] {v}", app.engine);
        assert_eq!(v["errors"][0]["field"], "body");
        assert!(v["errors"][0]["message"].as_str().unwrap().contains("未定义的变量 customer_nmae"), "{v}");
        let r = app
            .http
            .post(format!("{}/api/v1/message-templates", app.url))
            .bearer_auth(&admin)
            .header("accept-language", "en")
            .json(&bad)
            .send()
            .await
            .unwrap();
        let (_, v) = json_of(r).await;
        assert!(v["errors"][0]["message"].as_str().unwrap().contains("undefined variable customer_nmae"), "{v}");
        let broken = json!({"name": "坏", "channel": "email", "scenario": "greeting", "subject": "", "body": "{{ customer_name "});
        let (s, v) =
            json_of(app.call(Method::POST, "/api/v1/message-templates", Some(&admin), Some(broken)).await).await;
        assert_eq!((s, v["errors"][0]["field"].as_str()), (422, Some("body")), "{v}");
        assert_eq!(count(&app, "message_templates").await, before, "[{}] nothing saved", app.engine);

        let good = json!({"name": "回访（新）", "channel": "email", "scenario": "revisit_reminder", "subject": "回访",
            "body": "{{ customer_name }}您好，{{ agent_name }}将于{{ revisit_time }}回访"});
        let (s, v) = json_of(app.call(Method::POST, "/api/v1/message-templates", Some(&admin), Some(good)).await).await;
        assert_eq!(s, 201, "{v}");

        let c = customer(&app, &admin, json!({"name": "李雷", "email": "lilei@example.cn"})).await;
        let (s, v) = send(
            &app,
            &admin,
            json!({"customer_id": c, "scenario": "revisit_reminder",
            "variables": {"agent_name": "王芳"}}),
        )
        .await;
        assert_eq!(s, 422, "{v}");
        assert!(v["errors"][0]["message"].as_str().unwrap().contains("revisit_time"), "{v}");
        assert_eq!(count(&app, "outbox").await, 0, "[{}] nothing queued", app.engine);
    }
}

/// Quiet hours (21:00–09:00 Shanghai): a message queued at 22:00 waits
/// until 09:00 and goes then.
#[tokio::test]
async fn quiet_hours_hold_a_message_until_the_window_opens() {
    for app in apps().await {
        let sink = SmtpSink::start().await;
        let admin = app.admin_token().await;
        email_settings(&app, &admin, &sink, json!({"quiet_hours": "21:00-09:00"})).await;
        let c = customer(&app, &admin, json!({"name": "李雷", "email": "lilei@example.cn"})).await;
        app.clock.set("2026-11-23T14:00:00Z".parse().unwrap()); // 22:00 in Shanghai
        let (s, v) = send(&app, &admin, revisit(c, "night")).await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v[0]["not_before"], "2026-11-24T01:00:00Z", "[{}] 09:00 Shanghai", app.engine);
        run_due(&app.state).await.unwrap();
        app.clock.set("2026-11-24T00:59:00Z".parse().unwrap());
        run_due(&app.state).await.unwrap();
        assert!(sink.received().is_empty(), "[{}] nothing in quiet hours", app.engine);
        app.clock.set("2026-11-24T01:00:00Z".parse().unwrap());
        run_due(&app.state).await.unwrap();
        assert_eq!(sink.received().len(), 1, "[{}] sent when the window opens", app.engine);

        let (s, v) = settings(&app, &admin, json!({"quiet_hours": "9点-21点"})).await;
        assert_eq!((s, v["errors"][0]["field"].as_str()), (422, Some("quiet_hours")), "{v}");
    }
}

/// Marketing needs consent (refused, nothing queued); an important notice
/// goes by email and SMS, and the acknowledgement covers both.
#[tokio::test]
async fn consent_and_dual_channel_notices() {
    for app in apps().await {
        let admin = app.admin_token().await;
        let (host, _hooks) = receiver().await;
        let (s, v) =
            settings(&app, &admin, json!({"sms_webhook_url": format!("http://{host}/hook"), "allowed_hosts": [host]}))
                .await;
        assert_eq!(s, 200, "{v}");
        let no = customer(&app, &admin, json!({"name": "甲", "email": "a@example.cn"})).await;
        let yes = customer(
            &app,
            &admin,
            json!({"name": "乙", "email": "b@example.cn", "phone": "13912345678", "marketing_consent": true}),
        )
        .await;
        let coupon = |c: i64| json!({"customer_id": c, "scenario": "coupon", "variables": {"coupon_code": "VIP-88", "expires_on": "2026-12-31"}});
        let (s, v) = send(&app, &admin, coupon(no)).await;
        assert_eq!((s, v["errors"][0]["code"].as_str()), (409, Some("no_marketing_consent")), "[{}] {v}", app.engine);
        assert_eq!(count(&app, "outbox").await, 0, "nothing queued");
        let (s, v) = send(&app, &admin, coupon(yes)).await;
        assert_eq!(s, 201, "{v}");

        let (s, v) = send(
            &app,
            &admin,
            json!({"customer_id": yes, "scenario": "important_notice",
            "variables": {"notice": "服务条款将于12月1日起变更。"}}),
        )
        .await;
        assert_eq!(s, 201, "{v}");
        let chans: Vec<&str> = v.as_array().unwrap().iter().map(|m| m["channel"].as_str().unwrap()).collect();
        assert_eq!(chans, ["email", "sms"], "[{}] two channels", app.engine);
        assert_eq!(v[0]["pair_id"], v[1]["id"]);
        let first = v[0]["id"].as_i64().unwrap();
        let r = app.call(Method::POST, &format!("/api/v1/outbox/{first}/acknowledge"), Some(&admin), None).await;
        assert_eq!(r.status(), 200);
        let other = outbox_row(&app, &admin, v[1]["id"].as_i64().unwrap()).await;
        assert!(other["acknowledged_at"].is_string(), "[{}] both acknowledged: {other}", app.engine);
    }
}

fn token_of(link: &str) -> String {
    link.rsplit('/').next().unwrap().to_string()
}

/// A survey link works once and expires; a bad score is refused naming
/// the field; the answer is on the customer's timeline, the comment
/// stored as the plain text it was.
#[tokio::test]
async fn a_survey_link_works_once_and_expires() {
    for app in apps().await {
        let sink = SmtpSink::start().await;
        let admin = app.admin_token().await;
        email_settings(&app, &admin, &sink, json!({})).await;
        let c = customer(&app, &admin, json!({"name": "李雷", "email": "lilei@example.cn"})).await;
        let body = json!({"customer_id": c, "kind": "csat", "source": "ticket", "source_id": 7, "subject": "工单 GD-7 物流延迟"});
        let (s, v) = json_of(app.call(Method::POST, "/api/v1/surveys", Some(&admin), Some(body.clone())).await).await;
        assert_eq!(s, 201, "[{}] {v}", app.engine);
        let link = v["link"].as_str().unwrap().to_string();
        assert!(link.starts_with("http://crm.example.cn/s/"), "{link}");
        let (s, v2) = json_of(app.call(Method::POST, "/api/v1/surveys", Some(&admin), Some(body)).await).await;
        assert_eq!((s, v2["errors"][0]["field"].as_str()), (422, Some("source_id")), "asked once: {v2}");
        run_due(&app.state).await.unwrap();
        let mail = sink.received();
        assert_eq!(mail.len(), 1);
        assert!(mail[0]["body"].as_str().unwrap().contains(&link), "the email carries the link: {}", mail[0]["body"]);

        let page = format!("{}/s/{}", app.url, token_of(&link));
        let r = app.http.get(&page).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let html = r.text().await.unwrap();
        assert!(html.contains("您对本次服务满意吗") && html.contains("工单 GD-7 物流延迟"), "{html}");

        let r = app.http.post(&page).form(&[("score", "9"), ("comment", "")]).send().await.unwrap();
        assert_eq!(r.status(), 422, "[{}] CSAT is 1–5", app.engine);
        assert!(r.text().await.unwrap().contains("评分：超出允许范围"));
        let evil = "<script>alert(1)</script> 送货太慢";
        let r = app.http.post(&page).form(&[("score", "4"), ("comment", evil)]).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.text().await.unwrap().contains("感谢您的反馈"));
        let r = app.http.post(&page).form(&[("score", "5"), ("comment", "")]).send().await.unwrap();
        assert_eq!(r.status(), 410, "[{}] once only", app.engine);
        assert_eq!(app.http.get(&page).send().await.unwrap().status(), 410);

        let (score, comment): (i64, String) = app
            .state
            .db
            .read(|c| {
                let r = c.query_opt("SELECT score, comment FROM surveys", &[])?.unwrap();
                Ok((r.get(0)?, r.get(1)?))
            })
            .await
            .unwrap();
        assert_eq!((score, comment.as_str()), (4, evil), "stored as plain text");
        let (s, v) =
            json_of(app.call(Method::GET, &format!("/api/v1/customers/{c}/timeline"), Some(&admin), None).await).await;
        assert_eq!(s, 200, "{v}");
        assert!(v.to_string().contains("满意度（1–5 分）：4"), "[{}] on the timeline: {v}", app.engine);

        // Another survey expires after 7 days.
        let body =
            json!({"customer_id": c, "kind": "nps", "source": "maintenance", "source_id": 3, "subject": "季度回访"});
        let (_, v) = json_of(app.call(Method::POST, "/api/v1/surveys", Some(&admin), Some(body)).await).await;
        let page = format!("{}/s/{}", app.url, token_of(v["link"].as_str().unwrap()));
        assert_eq!(app.http.get(&page).send().await.unwrap().status(), 200);
        advance(&app, SignedDuration::from_hours(7 * 24));
        assert_eq!(app.http.get(&page).send().await.unwrap().status(), 410, "[{}] expired", app.engine);
        let r = app.http.post(&page).form(&[("score", "10")]).send().await.unwrap();
        assert_eq!(r.status(), 410);
        assert_eq!(app.http.get(format!("{}/s/not-a-token", app.url)).send().await.unwrap().status(), 404);
    }
}

/// The outbox page: administrators see status, attempts and the last error; others may not.
#[tokio::test]
async fn the_outbox_page_shows_status_and_errors() {
    for app in apps().await {
        let admin = app.admin_token().await;
        let c = customer(&app, &admin, json!({"name": "李雷", "email": "lilei@example.cn"})).await;
        // No SMTP server configured: the attempt fails and says why.
        let (s, _) = send(&app, &admin, revisit(c, "no-smtp")).await;
        assert_eq!(s, 201);
        run_due(&app.state).await.unwrap();
        let http = app.signed_in(support::app::ADMIN_EMAIL, support::app::ADMIN_PASSWORD).await;
        let (s, html) = app.page(&http, "/admin/outbox").await;
        assert_eq!(s, 200);
        assert!(
            html.contains("排队中")
                && html.contains("no SMTP server is configured")
                && html.contains("l***@example.cn"),
            "{html}"
        );
        assert!(!html.contains("lilei@example.cn"), "masked");
        let (_, users) = app.page(&http, "/admin/users").await;
        assert!(users.contains("href=\"/admin/outbox\""), "the settings tabs lead to the outbox");
        app.user(&admin, "agent@test.cn", "agent", None).await;
        let agent = app.signed_in("agent@test.cn", "password-123").await;
        let (s, _) = app.page(&agent, "/admin/outbox").await;
        assert_eq!(s, 403);
    }
}

fn stamp_of(html: &str) -> String {
    let at = html.find("name=\"stamp\" value=\"").expect("no stamp") + 20;
    html[at..].split('"').next().unwrap().to_string()
}

/// The public feedback form (O5): a bot (too fast, or the honeypot
/// filled) is thanked and nothing is stored; oversize and markup are
/// refused naming the field, nothing stored; a real submission becomes a
/// feedback ticket with the weight's resolution target, stored as plain
/// text; the sixth try in an hour from one address is refused.
#[tokio::test]
async fn the_public_feedback_form_makes_a_ticket_and_keeps_abuse_out() {
    for app in apps().await {
        let admin = app.admin_token().await;
        let r = app.http.get(format!("{}/feedback", app.url)).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let stamp = stamp_of(&r.text().await.unwrap());
        let customers_before = count(&app, "customers").await;
        let post = |fields: Vec<(&'static str, String)>| {
            let http = app.http.clone();
            let url = format!("{}/feedback", app.url);
            async move {
                let r = http.post(url).form(&fields).send().await.unwrap();
                (r.status().as_u16(), r.text().await.unwrap())
            }
        };
        let form = |subject: &str, description: &str, website: &str| {
            vec![
                ("name", "王女士".to_string()),
                ("contact", "13712345678".to_string()),
                ("kind", "feedback".to_string()),
                ("weight", "general".to_string()),
                ("category", "logistics".to_string()),
                ("subject", subject.to_string()),
                ("description", description.to_string()),
                ("website", website.to_string()),
                ("stamp", stamp.clone()),
            ]
        };
        // Sent back at once: a bot. Thanked, nothing stored.
        let (s, html) = post(form("快递太慢", "三天还没到", "")).await;
        assert!(s == 200 && html.contains("感谢您的反馈") && !html.contains("id=\"number\""), "[{}] {s}", app.engine);
        advance(&app, SignedDuration::from_secs(20));
        let (s, html) = post(form("快递太慢", "三天还没到", "http://spam.example")).await;
        assert!(s == 200 && !html.contains("id=\"number\""), "honeypot");
        assert_eq!(count(&app, "tickets").await, 0, "[{}] bots store nothing", app.engine);

        let (s, html) = post(form("快递太慢", &"慢".repeat(2001), "")).await;
        assert_eq!(s, 422);
        assert!(html.contains("详细描述：不能超过 2000 个字符"), "{html}");
        let (s, html) = post(form("<script>alert('x')</script>", "三天还没到", "")).await;
        assert_eq!(s, 422);
        assert!(html.contains("标题：包含不允许的字符"), "{html}");
        assert!(!html.contains("<script>alert"), "the refused text is shown escaped");
        assert_eq!(count(&app, "tickets").await, 0, "[{}] refused input stores nothing", app.engine);
        assert_eq!(count(&app, "customers").await, customers_before);

        let text = "价格 <5 元 & 质量 >3，包装也破了";
        let (s, html) = post(form("快递太慢", text, "")).await;
        assert_eq!(s, 200, "{html}");
        assert!(html.contains("id=\"number\""), "{html}");
        let (s, v) = json_of(app.call(Method::GET, "/api/v1/tickets?queue=all", Some(&admin), None).await).await;
        assert_eq!(s, 200, "{v}");
        let t = &v["items"][0];
        assert_eq!((t["type"].as_str(), t["priority"].as_str()), (Some("feedback"), Some("normal")), "{t}");
        let desc: String = app.state.db.read(|c| c.scalar("SELECT description FROM tickets", &[])).await.unwrap();
        assert_eq!(desc, text, "stored as the plain text it was");

        let (s, html) = post(form("包装破损", "第二次反馈", "")).await;
        assert_eq!(s, 429, "[{}] the sixth in an hour: {html}", app.engine);
        assert_eq!(count(&app, "tickets").await, 1);
    }
}

/// With `survey_after_resolution` on, resolving a ticket sends one CSAT
/// survey by email (through the real SMTP server); resolving it again
/// after a reopen asks nothing more. A complaint gets none (its repair
/// revisit is its satisfaction contact).
#[tokio::test]
async fn a_resolved_ticket_gets_one_survey() {
    for app in apps().await {
        let sink = SmtpSink::start().await;
        let admin = app.admin_token().await;
        email_settings(&app, &admin, &sink, json!({"survey_after_resolution": true})).await;
        let c = customer(&app, &admin, json!({"name": "李雷", "email": "lilei@example.cn"})).await;
        let ticket = |ty: &str| {
            json!({"type": ty, "channel": "email", "category": "logistics", "priority": "normal", "customer_id": c,
                "subject": "快递三天未送达", "description": "客户来电反映快递三天未送达。"})
        };
        let (s, t) =
            json_of(app.call(Method::POST, "/api/v1/tickets", Some(&admin), Some(ticket("consultation"))).await).await;
        assert_eq!(s, 201, "{t}");
        let id = t["id"].as_i64().unwrap();
        let act = |action: &'static str| {
            let path = format!("/api/v1/tickets/{id}/actions");
            let app = &app;
            let admin = admin.clone();
            async move {
                let r = app.call(Method::POST, &path, Some(&admin), Some(json!({"action": action}))).await;
                assert_eq!(r.status(), 200, "{action}");
            }
        };
        act("resolve").await;
        run_due(&app.state).await.unwrap();
        let mail = sink.received();
        assert_eq!(mail.len(), 1, "[{}] one survey email", app.engine);
        assert!(mail[0]["body"].as_str().unwrap().contains("/s/"), "{}", mail[0]["body"]);
        assert!(mail[0]["body"].as_str().unwrap().contains("快递三天未送达"), "{}", mail[0]["body"]);
        act("reopen").await;
        act("resolve").await;
        run_due(&app.state).await.unwrap();
        assert_eq!(sink.received().len(), 1, "[{}] asked once", app.engine);
        assert_eq!(count(&app, "surveys").await, 1);

        let (_, t) =
            json_of(app.call(Method::POST, "/api/v1/tickets", Some(&admin), Some(ticket("complaint"))).await).await;
        let cid = t["id"].as_i64().unwrap();
        let r = app
            .call(
                Method::POST,
                &format!("/api/v1/tickets/{cid}/actions"),
                Some(&admin),
                Some(json!({"action": "resolve"})),
            )
            .await;
        assert_eq!(r.status(), 200);
        run_due(&app.state).await.unwrap();
        assert_eq!(count(&app, "surveys").await, 1, "[{}] no survey for a complaint", app.engine);
    }
}
