//! Outreach rules over HTTP on every engine (SPEC O3, O4), with a real SMTP
//! server process (Python's aiosmtpd, `outreach_smtp_sink.py`): the survey
//! after a maintenance record; revisit appointment reminders sent ahead,
//! after quiet hours, withdrawn when the revisit is moved, cancelled or
//! done; consent per channel with its history, honoured when a message is
//! queued and again when it is sent; the settings of channels.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use guanxi_domain::Clock;
use guanxi_server::jobs::run_due;
use guanxi_server::service::maintenance as maint;
use jiff::Timestamp;
use reqwest::Method;
use serde_json::{Value, json};
use support::app::{TestApp, apps};

async fn json_of(r: reqwest::Response) -> (u16, Value) {
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

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

async fn settings(app: &TestApp, admin: &str, sink: &SmtpSink, extra: Value) -> (u16, Value) {
    let mut body = json!({"smtp_host": "127.0.0.1", "smtp_port": sink.port, "from_address": "service@guanxi.test",
        "public_url": "http://crm.example.cn"});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    json_of(app.call(Method::PUT, "/api/v1/outreach-settings", Some(admin), Some(body)).await).await
}

async fn customer(app: &TestApp, admin: &str, body: Value) -> i64 {
    let (s, v) = json_of(app.call(Method::POST, "/api/v1/customers", Some(admin), Some(body.clone())).await).await;
    assert_eq!(s, 201, "[{}] customer {body}: {v}", app.engine);
    v["id"].as_i64().unwrap()
}

/// A complaint-repair revisit task of the customer (a call task).
async fn task(app: &TestApp, customer: i64, reference: &str) -> i64 {
    maint::on_complaint_closed(&app.state, customer, app.clock.now(), reference).await.unwrap().unwrap()
}

async fn record(app: &TestApp, admin: &str, task: i64, completion: &str) {
    let body = json!({"channel": "phone", "summary": "确认投诉问题已解决", "feedback": "客户表示满意",
        "completion": completion, "effect": "achieved", "satisfaction": 5});
    let path = format!("/api/v1/maintenance/tasks/{task}/record");
    let (s, v) = json_of(app.call(Method::POST, &path, Some(admin), Some(body)).await).await;
    assert!(s == 200 || s == 201, "[{}] record: {s} {v}", app.engine);
}

async fn appoint(app: &TestApp, admin: &str, task: i64, at: &str) -> (u16, Value) {
    let path = format!("/api/v1/maintenance/tasks/{task}/appointment");
    json_of(app.call(Method::PUT, &path, Some(admin), Some(json!({"at": at}))).await).await
}

async fn outbox_row(app: &TestApp, admin: &str, id: i64) -> Value {
    let (s, v) = json_of(app.call(Method::GET, "/api/v1/outbox?limit=200", Some(admin), None).await).await;
    assert_eq!(s, 200);
    v["items"].as_array().unwrap().iter().find(|m| m["id"] == id).cloned().unwrap()
}

async fn count(app: &TestApp, sql: &'static str) -> i64 {
    app.state.db.read(move |c| c.scalar(sql, &[])).await.unwrap()
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// With `survey_after_maintenance` on, recording a maintenance call done
/// sends one CSAT survey about it by email (through the real SMTP server);
/// a customer not reached is not asked; with the setting off nobody is.
#[tokio::test]
async fn a_recorded_maintenance_call_gets_one_survey() {
    for app in apps().await {
        let sink = SmtpSink::start().await;
        let admin = app.admin_token().await;
        let (s, v) = settings(&app, &admin, &sink, json!({})).await;
        assert_eq!(s, 200, "{v}");
        let c = customer(&app, &admin, json!({"name": "李雷", "email": "lilei@example.cn"})).await;
        let off = task(&app, c, "TS20261120-0001").await;
        record(&app, &admin, off, "completed").await;
        run_due(&app.state).await.unwrap();
        assert_eq!(count(&app, "SELECT COUNT(*) FROM surveys").await, 0, "[{}] off: no survey", app.engine);

        let (s, v) = settings(&app, &admin, &sink, json!({"survey_after_maintenance": true})).await;
        assert_eq!((s, v["survey_after_maintenance"].as_bool()), (200, Some(true)), "{v}");
        let on = task(&app, c, "TS20261121-0002").await;
        record(&app, &admin, on, "completed").await;
        run_due(&app.state).await.unwrap();
        let mail = sink.received();
        assert_eq!(mail.len(), 1, "[{}] one survey email", app.engine);
        let body = mail[0]["body"].as_str().unwrap();
        assert!(body.contains("http://crm.example.cn/s/"), "{body}");
        assert!(body.contains("关于“投诉修复（"), "the survey names the maintenance: {body}");
        assert_eq!(count(&app, "SELECT COUNT(*) FROM surveys WHERE source = 'maintenance'").await, 1);
        run_due(&app.state).await.unwrap();
        assert_eq!(sink.received().len(), 1, "[{}] asked once", app.engine);

        let unreached = task(&app, c, "TS20261122-0003").await;
        record(&app, &admin, unreached, "unreachable").await;
        run_due(&app.state).await.unwrap();
        assert_eq!(count(&app, "SELECT COUNT(*) FROM surveys").await, 1, "[{}] not reached: not asked", app.engine);
    }
}

/// Quiet hours 21:00–09:00 Shanghai, reminders 24 h ahead. On Monday
/// 15:00 a revisit is set for Wednesday 08:00: its reminder waits for
/// Tuesday 09:00 and says 明日08:00. Moved to Thursday 10:00, the first
/// reminder is withdrawn and the new one goes Wednesday 10:00, once. A
/// cancelled appointment and a task recorded done send nothing; a
/// reminder that could only go after the appointment is not sent.
#[tokio::test]
async fn revisit_reminders_go_ahead_after_quiet_hours_and_follow_the_appointment() {
    for app in apps().await {
        let sink = SmtpSink::start().await;
        let admin = app.admin_token().await;
        let (s, v) = settings(&app, &admin, &sink, json!({"quiet_hours": "21:00-09:00"})).await;
        assert_eq!((s, v["reminder_hours_before"].as_i64()), (200, Some(24)), "{v}");
        app.clock.set(at("2026-11-23T07:00:00Z")); // Monday 15:00 in Shanghai
        let c = customer(&app, &admin, json!({"name": "韩梅梅", "email": "hmm@example.cn"})).await;
        let t = task(&app, c, "TS20261123-0001").await;

        let (s, a) = appoint(&app, &admin, t, "2026-11-25 08:00").await;
        assert_eq!(s, 200, "[{}] {a}", app.engine);
        assert_eq!(a["at"], "2026-11-25T00:00:00Z");
        assert_eq!(a["reminder_at"], "2026-11-24T01:00:00Z", "[{}] Tuesday 09:00, after quiet hours", app.engine);
        assert!(a["reminder_body"].as_str().unwrap().contains("将于明日08:00回访您"), "{a}");
        let first = a["reminder_id"].as_i64().unwrap();

        app.clock.set(at("2026-11-24T00:59:00Z"));
        run_due(&app.state).await.unwrap();
        assert!(sink.received().is_empty(), "[{}] not in quiet hours", app.engine);

        // Moved before the first reminder went.
        let (s, b) = appoint(&app, &admin, t, "2026-11-26 10:00").await;
        assert_eq!((s, b["version"].as_i64()), (200, Some(2)), "{b}");
        assert_eq!(b["reminder_at"], "2026-11-25T02:00:00Z", "[{}] Wednesday 10:00", app.engine);
        assert!(b["reminder_body"].as_str().unwrap().contains("明日10:00"), "{b}");
        assert_eq!(outbox_row(&app, &admin, first).await["status"], "suppressed", "[{}] withdrawn", app.engine);
        app.clock.set(at("2026-11-24T01:00:00Z"));
        run_due(&app.state).await.unwrap();
        assert!(sink.received().is_empty(), "[{}] the withdrawn reminder does not go", app.engine);
        app.clock.set(at("2026-11-25T02:00:00Z"));
        run_due(&app.state).await.unwrap();
        let mail = sink.received();
        assert_eq!(mail.len(), 1, "[{}] one reminder", app.engine);
        assert!(mail[0]["body"].as_str().unwrap().contains("韩梅梅您好"), "{}", mail[0]["body"]);
        assert!(mail[0]["body"].as_str().unwrap().contains("明日10:00"), "{}", mail[0]["body"]);

        // Cancelled: withdrawn. Done before the reminder: withdrawn.
        let t2 = task(&app, c, "TS20261125-0002").await;
        let (_, a2) = appoint(&app, &admin, t2, "2026-11-28 14:00").await;
        let path = format!("/api/v1/maintenance/tasks/{t2}/appointment");
        let (s, x) = json_of(app.call(Method::DELETE, &path, Some(&admin), None).await).await;
        assert_eq!((s, x["status"].as_str()), (200, Some("cancelled")), "{x}");
        assert_eq!(outbox_row(&app, &admin, a2["reminder_id"].as_i64().unwrap()).await["status"], "suppressed");
        let t3 = task(&app, c, "TS20261125-0003").await;
        let (_, a3) = appoint(&app, &admin, t3, "2026-11-29 15:00").await;
        record(&app, &admin, t3, "completed").await;
        let (_, x) = json_of(
            app.call(Method::GET, &format!("/api/v1/maintenance/tasks/{t3}/appointment"), Some(&admin), None).await,
        )
        .await;
        assert_eq!(x["status"], "done", "{x}");
        assert_eq!(outbox_row(&app, &admin, a3["reminder_id"].as_i64().unwrap()).await["status"], "suppressed");
        app.clock.set(at("2026-11-30T02:00:00Z"));
        run_due(&app.state).await.unwrap();
        assert_eq!(sink.received().len(), 1, "[{}] nothing more was sent", app.engine);

        // Set at 22:00 for 08:00 the next morning: quiet hours end after it.
        app.clock.set(at("2026-11-30T14:00:00Z"));
        let t4 = task(&app, c, "TS20261130-0004").await;
        let (s, a4) = appoint(&app, &admin, t4, "2026-12-01 08:00").await;
        assert_eq!((s, a4["reminder_status"].as_str()), (200, Some("suppressed")), "{a4}");
        assert!(a4["reminder_note"].as_str().unwrap().contains("免打扰"), "{a4}");

        // Bad input names the field.
        let (s, v) = appoint(&app, &admin, t4, "2026-11-01 08:00").await;
        assert_eq!((s, v["errors"][0]["field"].as_str()), (422, Some("at")), "in the past: {v}");
        let (s, v) = appoint(&app, &admin, t4, "明天上午").await;
        assert_eq!((s, v["errors"][0]["field"].as_str()), (422, Some("at")), "{v}");
        let (s, v) = settings(&app, &admin, &sink, json!({"reminder_hours_before": 0})).await;
        assert_eq!((s, v["errors"][0]["field"].as_str()), (422, Some("reminder_hours_before")), "{v}");
    }
}

/// A customer accepts email and refuses SMS: messages go by email even
/// though SMS is preferred, an SMS asked for is refused (nothing queued),
/// an important notice goes on email alone; refusing email after a message
/// was queued stops it at send time. Every change is in the history.
#[tokio::test]
async fn consent_per_channel_is_honoured_and_kept_as_history() {
    for app in apps().await {
        let sink = SmtpSink::start().await;
        let admin = app.admin_token().await;
        let (s, v) = settings(&app, &admin, &sink, json!({})).await;
        assert_eq!(s, 200, "{v}");
        let c = customer(
            &app,
            &admin,
            json!({"name": "李雷", "email": "lilei@example.cn", "phone": "13912345678", "preferred_channel": "sms"}),
        )
        .await;
        let consents = format!("/api/v1/customers/{c}/consents");
        let change = |channel: &str, granted: bool| json!({"channel": channel, "granted": granted, "source": "电话", "note": "客户来电说明"});
        let (s, v) = json_of(app.call(Method::POST, &consents, Some(&admin), Some(change("sms", false))).await).await;
        assert_eq!(s, 201, "[{}] {v}", app.engine);
        let (s, v) = json_of(app.call(Method::POST, &consents, Some(&admin), Some(change("email", true))).await).await;
        assert_eq!(s, 201, "{v}");
        let state = |v: &Value, ch: &str| {
            v["channels"].as_array().unwrap().iter().find(|x| x["channel"] == ch).unwrap()["state"].clone()
        };
        assert_eq!(
            (state(&v, "email"), state(&v, "sms"), state(&v, "wecom")),
            (json!("granted"), json!("refused"), json!("unknown"))
        );
        let (s, v) = json_of(
            app.call(Method::POST, &consents, Some(&admin), Some(json!({"channel": "fax", "granted": true}))).await,
        )
        .await;
        assert_eq!((s, v["errors"][0]["field"].as_str()), (422, Some("channel")), "{v}");

        let reminder = |channel: Option<&str>, key: &str| {
            let mut b = json!({"customer_id": c, "scenario": "revisit_reminder", "idempotency_key": key,
                "variables": {"agent_name": "王芳", "revisit_time": "明日10:00"}});
            if let Some(ch) = channel {
                b["channel"] = json!(ch);
            }
            b
        };
        let send = |b: Value| {
            let app = &app;
            let admin = admin.clone();
            async move { json_of(app.call(Method::POST, "/api/v1/outbox", Some(&admin), Some(b)).await).await }
        };
        let (s, v) = send(reminder(None, "r1")).await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v[0]["channel"], "email", "[{}] SMS is preferred but refused", app.engine);
        let (s, v) = send(reminder(Some("sms"), "r2")).await;
        assert_eq!((s, v["errors"][0]["code"].as_str()), (409, Some("channel_refused")), "{v}");
        assert!(v["errors"][0]["message"].as_str().unwrap().contains("短信"), "{v}");
        let (s, v) = send(json!({"customer_id": c, "scenario": "important_notice", "idempotency_key": "n1",
            "variables": {"notice": "服务条款将于12月1日起变更。"}}))
        .await;
        assert_eq!(s, 201, "{v}");
        let chans: Vec<&str> = v.as_array().unwrap().iter().map(|m| m["channel"].as_str().unwrap()).collect();
        assert_eq!(chans, ["email"], "[{}] the refused channel is left out of the pair", app.engine);
        run_due(&app.state).await.unwrap();
        assert_eq!(sink.received().len(), 2, "[{}] reminder and notice by email", app.engine);

        // Queued, then email refused: suppressed when its turn comes.
        let (s, v) = send(reminder(None, "r3")).await;
        assert_eq!(s, 201, "{v}");
        let queued = v[0]["id"].as_i64().unwrap();
        let (s, _) = json_of(app.call(Method::POST, &consents, Some(&admin), Some(change("email", false))).await).await;
        assert_eq!(s, 201);
        run_due(&app.state).await.unwrap();
        assert_eq!(sink.received().len(), 2, "[{}] nothing more arrived", app.engine);
        let row = outbox_row(&app, &admin, queued).await;
        assert_eq!(row["status"], "suppressed", "{row}");
        // Now every channel with an address is refused: refused, nothing queued.
        let (s, v) = send(reminder(None, "r4")).await;
        assert_eq!((s, v["errors"][0]["code"].as_str()), (409, Some("channel_refused")), "{v}");

        let (s, v) = json_of(app.call(Method::GET, &consents, Some(&admin), None).await).await;
        assert_eq!(s, 200);
        let hist: Vec<(String, bool)> = v["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| (h["channel"].as_str().unwrap().to_string(), h["granted"].as_bool().unwrap()))
            .collect();
        assert_eq!(
            hist,
            [("email".to_string(), false), ("email".to_string(), true), ("sms".to_string(), false)],
            "[{}] newest first",
            app.engine
        );
        assert_eq!(v["history"][2]["source"], "电话");
    }
}

/// The settings choose the default channel and whether important notices
/// go on two channels; a bad default channel is refused naming the field.
#[tokio::test]
async fn default_channel_and_dual_channel_settings() {
    for app in apps().await {
        let sink = SmtpSink::start().await;
        let admin = app.admin_token().await;
        let both = json!({"default_channel": "sms",
            "dual_channel_important": false});
        let (s, v) = settings(&app, &admin, &sink, both).await;
        assert_eq!(
            (s, v["default_channel"].as_str(), v["dual_channel_important"].as_bool()),
            (200, Some("sms"), Some(false)),
            "{v}"
        );
        let c =
            customer(&app, &admin, json!({"name": "李雷", "email": "lilei@example.cn", "phone": "13912345678"})).await;
        let (s, v) = json_of(
            app.call(
                Method::POST,
                "/api/v1/outbox",
                Some(&admin),
                Some(json!({"customer_id": c, "scenario": "important_notice",
                "variables": {"notice": "服务变更"}})),
            )
            .await,
        )
        .await;
        assert_eq!(s, 201, "{v}");
        let chans: Vec<&str> = v.as_array().unwrap().iter().map(|m| m["channel"].as_str().unwrap()).collect();
        assert_eq!(chans, ["sms"], "[{}] one channel, the default", app.engine);
        let (s, v) = settings(&app, &admin, &sink, json!({"default_channel": "wecom"})).await;
        assert_eq!((s, v["errors"][0]["field"].as_str()), (422, Some("default_channel")), "{v}");
    }
}
