//! In-app SLA notifications (SPEC T2) on every engine, with the test clock:
//! the first-response clock at 80 % notifies the assignee once however often
//! the job runs; the breach notifies the assignee and the group's
//! supervisor; nobody else sees them; the workbench lists them flagged with
//! a count; marking one and all read; keyset paging of the API.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use reqwest::Method;
use serde_json::{Value, json};
use support::app::{TestApp, apps, csrf};

fn at(s: &str) -> Timestamp {
    jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M", s)
        .unwrap()
        .to_zoned(TimeZone::get("Asia/Shanghai").unwrap())
        .unwrap()
        .timestamp()
}

async fn json_of(r: reqwest::Response) -> (u16, Value) {
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn post(app: &TestApp, tok: &str, path: &str, body: Value) -> Value {
    let (s, v) = json_of(app.call(Method::POST, path, Some(tok), Some(body.clone())).await).await;
    assert!(s == 200 || s == 201, "[{}] {path} {body}: {s} {v}", app.engine);
    v
}

async fn staff(app: &TestApp, admin: &str, email: &str, role: &str, group_id: i64) -> (i64, String) {
    let body = json!({"email": email, "name": email.split('@').next().unwrap(), "role": role,
        "password": "password-123", "group_id": group_id, "certified": true});
    let v = post(app, admin, "/api/v1/users", body).await;
    (v["id"].as_i64().unwrap(), app.token(email, "password-123").await)
}

async fn notes(app: &TestApp, tok: &str, query: &str) -> Value {
    let (s, v) =
        json_of(app.call(Method::GET, &format!("/api/v1/me/notifications{query}"), Some(tok), None).await).await;
    assert_eq!(s, 200, "[{}] {v}", app.engine);
    v
}

fn kinds(v: &Value) -> Vec<(String, String)> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["kind"].as_str().unwrap().to_string(), n["clock"].as_str().unwrap().to_string()))
        .collect()
}

async fn run_at(app: &TestApp, when: &str) {
    app.clock.set(at(when));
    guanxi_server::jobs::run_due(&app.state).await.unwrap();
}

#[tokio::test]
async fn sla_warning_and_breach_notify_the_assignee_and_the_supervisor_once() {
    for app in apps().await {
        let e = app.engine.clone();
        // Monday 10:00; an urgent e-mail ticket: first response due 10:30,
        // warning at 80 % (10:24).
        app.clock.set(at("2026-11-23 10:00"));
        let admin = app.admin_token().await;
        let team = post(&app, &admin, "/api/v1/groups", json!({"name": "一线客服组", "kind": "team"})).await;
        let team = team["id"].as_i64().unwrap();
        let sup = staff(&app, &admin, "chen.jing@test.cn", "supervisor", team).await;
        let agent = staff(&app, &admin, "wang.fang@test.cn", "agent", team).await;
        let other = staff(&app, &admin, "li.lei@test.cn", "agent", team).await;
        let cust =
            post(&app, &sup.1, "/api/v1/customers", json!({"name": "杭州明远科技有限公司", "owner_id": agent.0})).await;
        let body = json!({"type": "consultation", "channel": "email", "category": "service", "priority": "urgent",
            "customer_id": cust["id"], "subject": "发票抬头开错了", "description": "客户要求重开发票",
            "assignee_id": agent.0});
        let t = post(&app, &agent.1, "/api/v1/tickets", body).await;
        let id = t["id"].as_i64().unwrap();
        assert_eq!(t["assignee_id"], agent.0, "[{e}] {t}");

        run_at(&app, "2026-11-23 10:23").await;
        assert!(kinds(&notes(&app, &agent.1, "").await).is_empty(), "[{e}] not yet at 10:23");
        run_at(&app, "2026-11-23 10:24").await;
        run_at(&app, "2026-11-23 10:25").await;
        let mine = notes(&app, &agent.1, "").await;
        assert_eq!(kinds(&mine), [("sla_warning".to_string(), "first_response".to_string())], "[{e}] once: {mine}");
        assert_eq!(mine["unread"], 1);
        assert_eq!(mine["items"][0]["link"], format!("/tickets/{id}"));
        assert_eq!(mine["items"][0]["read"], false);
        assert!(kinds(&notes(&app, &sup.1, "").await).is_empty(), "[{e}] a warning is the assignee's only");
        // The English text is rendered from the codes.
        let r = reqwest::Client::new()
            .get(format!("{}/api/v1/me/notifications", app.url))
            .bearer_auth(&agent.1)
            .header("accept-language", "en")
            .send()
            .await
            .unwrap();
        let (_, en) = json_of(r).await;
        assert!(en["items"][0]["text"].as_str().unwrap().contains("First response"), "[{e}] {en}");
        assert!(mine["items"][0]["text"].as_str().unwrap().contains("首次响应"), "[{e}] {mine}");

        // The breach at 10:30: the assignee and the supervisor, once each.
        run_at(&app, "2026-11-23 10:30").await;
        run_at(&app, "2026-11-23 10:31").await;
        let mine = notes(&app, &agent.1, "").await;
        assert_eq!(
            kinds(&mine),
            [
                ("sla_breach".to_string(), "first_response".to_string()),
                ("sla_warning".to_string(), "first_response".to_string())
            ],
            "[{e}] {mine}"
        );
        let boss = notes(&app, &sup.1, "").await;
        assert_eq!(kinds(&boss), [("sla_breach".to_string(), "first_response".to_string())], "[{e}] {boss}");
        assert!(kinds(&notes(&app, &other.1, "").await).is_empty(), "[{e}] another agent sees nothing");

        // Keyset paging: one per page.
        let p1 = notes(&app, &agent.1, "?limit=1").await;
        assert_eq!(kinds(&p1)[0].0, "sla_breach");
        let next = p1["next"].as_i64().expect("a next cursor");
        let p2 = notes(&app, &agent.1, &format!("?limit=1&after={next}")).await;
        assert_eq!(kinds(&p2)[0].0, "sla_warning");
        assert!(p2["next"].is_null(), "[{e}] last page {p2}");
        let (s, v) =
            json_of(app.call(Method::GET, "/api/v1/me/notifications?limit=0", Some(&agent.1), None).await).await;
        assert_eq!(s, 422, "[{e}] {v}");
        assert!(v.to_string().contains("limit"), "[{e}] {v}");

        // Another user cannot mark the agent's notification read.
        let nid = p1["items"][0]["id"].as_i64().unwrap();
        let r = app.call(Method::POST, &format!("/api/v1/me/notifications/{nid}/read"), Some(&other.1), None).await;
        assert_eq!(r.status(), 404, "[{e}]");
        assert_eq!(notes(&app, &agent.1, "").await["unread"], 2);

        // The workbench lists the unread ones, flagged, with the count.
        let http = app.signed_in("wang.fang@test.cn", "password-123").await;
        let (s, html) = app.page(&http, "/").await;
        assert_eq!(s, 200);
        assert!(html.contains("id=\"my-notifications\""), "[{e}] no notification card");
        assert!(html.contains("id=\"notif-count\">2<"), "[{e}] count badge");
        assert!(html.contains("id=\"nav-notif-count\">2<"), "[{e}] nav badge");
        assert!(html.contains("notif-breach") && html.contains(&format!("/tickets/{id}")), "[{e}]");
        assert!(html.contains("首次响应"), "[{e}]");
        // Mark one read from the page, then all over the API.
        let token = csrf(&html);
        let r = http
            .post(format!("{}/notifications/{nid}/read", app.url))
            .form(&[("_csrf", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "[{e}]");
        let left = notes(&app, &agent.1, "?unread=true").await;
        assert_eq!(kinds(&left), [("sla_warning".to_string(), "first_response".to_string())], "[{e}] {left}");
        assert_eq!(left["unread"], 1);
        let r = app.call(Method::POST, "/api/v1/me/notifications/read-all", Some(&agent.1), None).await;
        assert_eq!(r.status(), 204, "[{e}]");
        let all = notes(&app, &agent.1, "").await;
        assert_eq!((all["unread"].as_i64(), kinds(&all).len()), (Some(0), 2), "[{e}] read ones stay listed");
        let (_, html) = app.page(&http, "/").await;
        assert!(!html.contains("id=\"my-notifications\""), "[{e}] nothing unread, no card");
        // The supervisor's stays unread.
        assert_eq!(notes(&app, &sup.1, "").await["unread"], 1, "[{e}]");
    }
}

async fn ticket(app: &TestApp, tok: &str, id: i64) -> Value {
    json_of(app.call(Method::GET, &format!("/api/v1/tickets/{id}"), Some(tok), None).await).await.1
}

fn plan_clock(t: &Value) -> Option<&Value> {
    t["clocks"].as_array().unwrap().iter().find(|c| c["clock"] == "plan")
}

#[tokio::test]
async fn the_green_channel_plans_within_two_working_hours() {
    for app in apps().await {
        let e = app.engine.clone();
        // Monday 11:00: two working hours end at 14:30 (lunch 12:00–13:30).
        app.clock.set(at("2026-11-23 11:00"));
        let admin = app.admin_token().await;
        let team = post(&app, &admin, "/api/v1/groups", json!({"name": "专项小组", "kind": "team"})).await;
        let team = team["id"].as_i64().unwrap();
        let agent = staff(&app, &admin, "wang.fang@test.cn", "agent", team).await;
        let cust =
            post(&app, &agent.1, "/api/v1/customers", json!({"name": "杭州明远科技有限公司", "owner_id": agent.0}))
                .await;
        let body = |urgent: bool, important: bool| {
            json!({"type": "consultation", "channel": "phone", "category": "product", "urgent": urgent, "important": important,
                "customer_id": cust["id"], "subject": "生产线停机", "description": "设备无法启动", "assignee_id": agent.0})
        };
        let green = post(&app, &agent.1, "/api/v1/tickets", body(true, true)).await;
        let plan = plan_clock(&green).unwrap_or_else(|| panic!("[{e}] no plan clock: {green}"));
        assert_eq!(plan["due_at"], at("2026-11-23 14:30").to_string(), "[{e}] {plan}");
        assert_eq!(plan["target_minutes"], 120);
        assert!(plan["label"].as_str().unwrap().contains("绿色通道"), "[{e}] {plan}");
        for (u, i) in [(true, false), (false, true), (false, false)] {
            let t = post(&app, &agent.1, "/api/v1/tickets", body(u, i)).await;
            assert!(plan_clock(&t).is_none(), "[{e}] urgent {u} important {i}: no green channel");
        }
        let id = green["id"].as_i64().unwrap();
        // Warning at 80 % (96 working minutes): 14:06; breach at 14:30.
        run_at(&app, "2026-11-23 14:05").await;
        assert_eq!(plan_clock(&ticket(&app, &agent.1, id).await["ticket"]).unwrap()["state"], "running", "[{e}]");
        run_at(&app, "2026-11-23 14:06").await;
        assert_eq!(plan_clock(&ticket(&app, &agent.1, id).await["ticket"]).unwrap()["state"], "warning", "[{e}]");
        assert!(
            kinds(&notes(&app, &agent.1, "").await).contains(&("sla_warning".to_string(), "plan".to_string())),
            "[{e}] the assignee is warned"
        );
        run_at(&app, "2026-11-23 14:30").await;
        assert_eq!(plan_clock(&ticket(&app, &agent.1, id).await["ticket"]).unwrap()["state"], "breached", "[{e}]");
        // The plan written down as an internal note stops the clock (late).
        let r = app
            .call(
                Method::POST,
                &format!("/api/v1/tickets/{id}/messages"),
                Some(&agent.1),
                Some(json!({"kind": "note", "body": "方案：派工程师上门更换主板"})),
            )
            .await;
        assert_eq!(r.status(), 200, "[{e}]");
        assert_eq!(plan_clock(&ticket(&app, &agent.1, id).await["ticket"]).unwrap()["state"], "late", "[{e}]");
        // Another green ticket planned in time is met.
        let t2 = post(&app, &agent.1, "/api/v1/tickets", body(true, true)).await;
        let id2 = t2["id"].as_i64().unwrap();
        app.clock.set(at("2026-11-23 15:00"));
        let r = app
            .call(
                Method::POST,
                &format!("/api/v1/tickets/{id2}/messages"),
                Some(&agent.1),
                Some(json!({"kind": "reply", "body": "您好，工程师明早 9 点上门。"})),
            )
            .await;
        let (s, v) = json_of(r).await;
        assert_eq!(s, 200, "[{e}] {v}");
        assert_eq!(plan_clock(&v).unwrap()["state"], "met", "[{e}] {v}");
        // The ticket page shows the clock.
        let http = app.signed_in("wang.fang@test.cn", "password-123").await;
        let (s, html) = app.page(&http, &format!("/tickets/{id2}")).await;
        assert_eq!(s, 200);
        assert!(html.contains("绿色通道"), "[{e}] the page shows the plan clock");
    }
}
