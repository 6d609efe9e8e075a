//! Tickets over HTTP on every engine, with the test clock: every SLA
//! target on business time (lunch, nights, a weekend, National Day and its
//! make-up Saturday), pause and resume while waiting for the customer,
//! warnings and breaches fired once by the scheduler, routing rules and the
//! least-loaded choice, the high-value customer's priority, 7×12 calendar
//! and advisor, an escalation chain run to its end (and one answered), the
//! status flow's refusals (nothing changed), and the queues.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use reqwest::Method;
use serde_json::{Value, json};
use support::app::{TestApp, apps};

/// An instant in Shanghai time, `YYYY-MM-DD HH:MM`.
fn at(s: &str) -> Timestamp {
    jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M", s)
        .unwrap()
        .to_zoned(TimeZone::get("Asia/Shanghai").unwrap())
        .unwrap()
        .timestamp()
}

fn iso(s: &str) -> String {
    at(s).to_string()
}

async fn json_of(r: reqwest::Response) -> (u16, Value) {
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn group(app: &TestApp, admin: &str, name: &str, kind: &str) -> i64 {
    let (s, v) =
        json_of(app.call(Method::POST, "/api/v1/groups", Some(admin), Some(json!({"name": name, "kind": kind}))).await)
            .await;
    assert_eq!(s, 201, "[{}] group {name}: {v}", app.engine);
    v["id"].as_i64().unwrap()
}

/// A certified, active member of staff: (id, token).
async fn staff(app: &TestApp, admin: &str, email: &str, role: &str, group_id: Option<i64>) -> (i64, String) {
    let body = json!({"email": email, "name": email.split('@').next().unwrap(), "role": role,
        "password": "password-123", "group_id": group_id, "certified": true});
    let (s, v) = json_of(app.call(Method::POST, "/api/v1/users", Some(admin), Some(body)).await).await;
    assert_eq!(s, 201, "[{}] user {email}: {v}", app.engine);
    (v["id"].as_i64().unwrap(), app.token(email, "password-123").await)
}

async fn customer(app: &TestApp, token: &str, name: &str, owner: Option<i64>) -> i64 {
    let (s, v) = json_of(
        app.call(Method::POST, "/api/v1/customers", Some(token), Some(json!({"name": name, "owner_id": owner}))).await,
    )
    .await;
    assert_eq!(s, 201, "[{}] customer {name}: {v}", app.engine);
    v["id"].as_i64().unwrap()
}

async fn create(app: &TestApp, token: &str, body: Value) -> Value {
    let (s, v) = json_of(app.call(Method::POST, "/api/v1/tickets", Some(token), Some(body.clone())).await).await;
    assert_eq!(s, 201, "[{}] create {body}: {v}", app.engine);
    v
}

fn ticket_body(customer: i64, channel: &str, priority: &str) -> Value {
    json!({"type": "consultation", "channel": channel, "category": "service", "priority": priority,
        "customer_id": customer, "subject": "发票抬头开错了", "description": "客户要求重开发票"})
}

async fn get(app: &TestApp, token: &str, id: i64) -> Value {
    let (s, v) = json_of(app.call(Method::GET, &format!("/api/v1/tickets/{id}"), Some(token), None).await).await;
    assert_eq!(s, 200, "[{}] ticket {id}: {v}", app.engine);
    v
}

async fn act(app: &TestApp, token: &str, id: i64, action: &str) -> (u16, Value) {
    json_of(
        app.call(Method::POST, &format!("/api/v1/tickets/{id}/actions"), Some(token), Some(json!({"action": action})))
            .await,
    )
    .await
}

async fn message(app: &TestApp, token: &str, id: i64, kind: &str, body: &str) -> Value {
    let (s, v) = json_of(
        app.call(
            Method::POST,
            &format!("/api/v1/tickets/{id}/messages"),
            Some(token),
            Some(json!({"kind": kind, "body": body})),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200, "[{}] {kind} on {id}: {v}", app.engine);
    v
}

/// A clock of a ticket view.
fn clock<'a>(t: &'a Value, kind: &str) -> &'a Value {
    t["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["clock"] == kind)
        .unwrap_or_else(|| panic!("no {kind} clock in {t}"))
}

fn due(t: &Value, kind: &str) -> String {
    clock(t, kind)["due_at"].as_str().unwrap_or("none").to_string()
}

/// Moves the clock and runs what is due, as the scheduler would.
async fn at_time(app: &TestApp, when: &str) -> usize {
    app.clock.set(at(when));
    guanxi_server::jobs::run_due(&app.state).await.unwrap()
}

/// The kinds of a ticket's history, in order.
fn history(d: &Value) -> Vec<String> {
    d["history"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_string()).collect()
}

fn count(d: &Value, kind: &str) -> usize {
    history(d).iter().filter(|k| *k == kind).count()
}

/// The ticket entries of a customer's timeline (event codes).
async fn timeline(app: &TestApp, token: &str, customer: i64) -> Vec<String> {
    let (s, v) = json_of(
        app.call(
            Method::GET,
            &format!("/api/v1/customers/{customer}/timeline?kind=ticket&limit=200"),
            Some(token),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v["items"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap().to_string()).collect()
}

struct Desk {
    admin: String,
    sup: (i64, String),
    agent: (i64, String),
    team: i64,
    customer: i64,
}

/// One team on the default schedule with a supervisor and an agent, and a customer.
async fn desk(app: &TestApp) -> Desk {
    app.clock.set(at("2026-11-23 10:00"));
    let admin = app.admin_token().await;
    let team = group(app, &admin, "一线客服组", "team").await;
    let sup = staff(app, &admin, "chen.jing@test.cn", "supervisor", Some(team)).await;
    let agent = staff(app, &admin, "wang.fang@test.cn", "agent", Some(team)).await;
    let customer = customer(app, &sup.1, "杭州明远科技有限公司", Some(agent.0)).await;
    Desk { admin, sup, agent, team, customer }
}

#[tokio::test]
async fn every_sla_target_is_counted_in_working_time() {
    for app in apps().await {
        let e = app.engine.clone();
        let d = desk(&app).await;
        let tok = &d.agent.1;
        // Monday 2026-11-23 10:00, standard hours 09:00–12:00, 13:30–18:00.
        let cases = [
            ("email", "urgent", "2026-11-23 10:30", "2026-11-23 15:30"),
            ("email", "high", "2026-11-23 11:00", "2026-11-24 10:30"),
            ("email", "normal", "2026-11-23 15:30", "2026-11-26 11:30"),
            ("email", "low", "2026-11-24 10:30", "2026-12-01 14:30"),
            // Channel targets compete with the priority's: the sooner wins.
            ("online_chat", "normal", "2026-11-23 10:10", "2026-11-26 11:30"),
            ("phone", "normal", "2026-11-23 12:00", "2026-11-26 11:30"),
            ("phone", "urgent", "2026-11-23 10:30", "2026-11-23 15:30"),
        ];
        for (channel, priority, first, resolution) in cases {
            let t = create(&app, tok, ticket_body(d.customer, channel, priority)).await;
            assert_eq!(due(&t, "first_response"), iso(first), "[{e}] {channel}/{priority} first response");
            assert_eq!(due(&t, "resolution"), iso(resolution), "[{e}] {channel}/{priority} resolution");
            assert_eq!(clock(&t, "resolution")["state"], "running");
            assert_eq!(t["schedule"], "default");
            assert_eq!(t["status"], "new");
            assert!(t["number"].as_str().unwrap().starts_with("GD20261123"), "[{e}] {}", t["number"]);
        }
        // The progress update: 24 working hours after each public reply.
        let t = create(&app, tok, ticket_body(d.customer, "email", "normal")).await;
        let id = t["id"].as_i64().unwrap();
        app.clock.set(at("2026-11-23 10:20"));
        let t = message(&app, tok, id, "reply", "您好，已收到，我们正在核实开票信息。").await;
        assert_eq!(clock(&t, "first_response")["state"], "met", "[{e}]");
        assert_eq!(t["first_response_at"], iso("2026-11-23 10:20"));
        assert_eq!(t["status"], "accepted", "[{e}] the first reply accepts a new ticket");
        assert_eq!(due(&t, "progress"), iso("2026-11-26 11:50"), "[{e}] progress update");
        app.clock.set(at("2026-11-24 09:00"));
        let t = message(&app, tok, id, "reply", "新发票已开具。").await;
        assert_eq!(due(&t, "progress"), iso("2026-11-27 10:30"), "[{e}] each reply restarts the progress clock");
        // The revisit: 24 working hours after resolution; not for complaints.
        app.clock.set(at("2026-11-24 10:30"));
        let (s, t) = act(&app, tok, id, "resolve").await;
        assert_eq!(s, 200, "[{e}] {t}");
        assert_eq!(clock(&t, "resolution")["state"], "met");
        assert_eq!(clock(&t, "progress")["state"], "met");
        assert_eq!(due(&t, "revisit"), iso("2026-11-27 12:00"), "[{e}] revisit");
        let mut complaint = ticket_body(d.customer, "email", "normal");
        complaint["type"] = json!("complaint");
        let c = create(&app, tok, complaint).await;
        let complaint_id = c["id"].as_i64().unwrap();
        let (_, c) = act(&app, tok, complaint_id, "resolve").await;
        assert!(c["clocks"].as_array().unwrap().iter().all(|k| k["clock"] != "revisit"), "[{e}] {c}");
        // …the complaint-repair revisit of maintenance plans (SPEC M1) replaces it, made as it closes.
        let repairs = |app: &TestApp| {
            let db = app.state.db.clone();
            async move {
                db.read(|c| {
                    c.scalar::<i64>("SELECT COUNT(*) FROM maintenance_tasks WHERE scenario = 'complaint_repair'", &[])
                })
                .await
                .unwrap()
            }
        };
        assert_eq!(repairs(&app).await, 0);
        let (s, _) = act(&app, tok, complaint_id, "close").await;
        assert_eq!((s, repairs(&app).await), (200, 1), "[{e}]");
        // The revisit recorded stops its clock.
        let (s, t) = json_of(
            app.call(
                Method::POST,
                &format!("/api/v1/tickets/{id}/revisit"),
                Some(tok),
                Some(json!({"note": "客户表示满意"})),
            )
            .await,
        )
        .await;
        assert_eq!(s, 200, "[{e}] {t}");
        assert_eq!(clock(&t, "revisit")["state"], "met");

        // An administrator's targets apply to new tickets.
        let (s, mut policy) =
            json_of(app.call(Method::GET, "/api/v1/ticket-settings/sla", Some(tok), None).await).await;
        assert_eq!(s, 200);
        policy["first_response"]["normal"] = json!(60);
        policy["rules"] = json!([{"type": "complaint", "clock": "resolution", "minutes": 90}]);
        let (s, v) =
            json_of(app.call(Method::PUT, "/api/v1/ticket-settings/sla", Some(&d.admin), Some(policy.clone())).await)
                .await;
        assert_eq!(s, 200, "[{e}] {v}");
        let (s, _) =
            json_of(app.call(Method::PUT, "/api/v1/ticket-settings/sla", Some(tok), Some(policy.clone())).await).await;
        assert_eq!(s, 403, "[{e}] agents do not change the policy");
        app.clock.set(at("2026-11-24 10:00"));
        let t = create(&app, tok, ticket_body(d.customer, "email", "normal")).await;
        assert_eq!(due(&t, "first_response"), iso("2026-11-24 11:00"), "[{e}]");
        let mut complaint = ticket_body(d.customer, "email", "normal");
        complaint["type"] = json!("complaint");
        let t = create(&app, tok, complaint).await;
        assert_eq!(due(&t, "resolution"), iso("2026-11-24 11:30"), "[{e}] the complaint rule's 90 minutes win");
        // Bad numbers are refused naming the field.
        policy["resolution"]["urgent"] = json!(0);
        policy["warn_percent"] = json!(120);
        policy["high_value_schedule"] = json!("nope");
        let (s, v) =
            json_of(app.call(Method::PUT, "/api/v1/ticket-settings/sla", Some(&d.admin), Some(policy)).await).await;
        assert_eq!(s, 422, "[{e}] {v}");
        let fields: Vec<&str> = v["errors"].as_array().unwrap().iter().map(|x| x["field"].as_str().unwrap()).collect();
        assert_eq!(fields, vec!["resolution.urgent", "warn_percent"], "[{e}]");
    }
}

#[tokio::test]
async fn warnings_and_breaches_fire_once_across_a_weekend_and_national_day() {
    for app in apps().await {
        let e = app.engine.clone();
        let d = desk(&app).await;
        let tok = &d.agent.1;
        // Wednesday 30 September 2026, 17:00: 国庆节 is 1–7 October, Saturday
        // 10 October is worked (调休), Sunday 11 is not.
        app.clock.set(at("2026-09-30 17:00"));
        let t = create(&app, tok, ticket_body(d.customer, "email", "normal")).await;
        let id = t["id"].as_i64().unwrap();
        assert_eq!(due(&t, "first_response"), iso("2026-10-08 12:00"), "[{e}] 1 h on Wednesday, 3 h after the holiday");
        assert_eq!(
            due(&t, "resolution"),
            iso("2026-10-12 09:30"),
            "[{e}] the make-up Saturday counts, Sunday does not"
        );
        // On a 7×24 team the holiday is worked.
        let night = group(&app, &d.admin, "夜间值班组", "team").await;
        let (s, v) = json_of(
            app.call(
                Method::PUT,
                &format!("/api/v1/ticket-settings/groups/{night}"),
                Some(&d.admin),
                Some(json!({"schedule_code": "7x24", "assign_mode": "least_loaded"})),
            )
            .await,
        )
        .await;
        assert_eq!(s, 200, "[{e}] {v}");
        let mut b = ticket_body(d.customer, "email", "normal");
        b["group_id"] = json!(night);
        let t24 = create(&app, &d.sup.1, b).await;
        assert_eq!(t24["schedule"], "7x24");
        assert_eq!(due(&t24, "resolution"), iso("2026-10-01 17:00"), "[{e}] 24 h straight on 7×24");
        let t24_id = t24["id"].as_i64().unwrap();
        let (s, _) = act(&app, &d.sup.1, t24_id, "resolve").await;
        assert_eq!(s, 200);
        let r = app
            .call(
                Method::POST,
                &format!("/api/v1/tickets/{t24_id}/revisit"),
                Some(&d.sup.1),
                Some(json!({"note": "已回访"})),
            )
            .await;
        assert_eq!(r.status(), 200);

        // Nothing is due during the holiday.
        assert_eq!(at_time(&app, "2026-10-03 12:00").await, 0, "[{e}]");
        // The agent answers on the first working day, before the warning.
        app.clock.set(at("2026-10-08 09:30"));
        let t = message(&app, tok, id, "reply", "您好，节后第一时间为您处理。").await;
        assert_eq!(clock(&t, "first_response")["state"], "met");
        assert_eq!(due(&t, "progress"), iso("2026-10-12 11:00"), "[{e}]");
        // Resolution: warning at 80 % (19.2 working hours) on the Saturday at 13:42.
        at_time(&app, "2026-10-10 13:41").await;
        assert_eq!(count(&get(&app, tok, id).await, "sla_warning"), 0, "[{e}] not yet");
        assert_eq!(at_time(&app, "2026-10-10 13:42").await, 1, "[{e}] the job ran");
        let dd = get(&app, tok, id).await;
        assert_eq!(count(&dd, "sla_warning"), 1, "[{e}] {:?}", history(&dd));
        assert_eq!(clock(&dd["ticket"], "resolution")["state"], "warning");
        // The progress update's warning: Saturday 15:12.
        at_time(&app, "2026-10-10 15:12").await;
        assert_eq!(count(&get(&app, tok, id).await, "sla_warning"), 2, "[{e}]");
        // Sunday passes quietly; running again changes nothing.
        at_time(&app, "2026-10-11 18:00").await;
        at_time(&app, "2026-10-12 09:29").await;
        let dd = get(&app, tok, id).await;
        assert_eq!((count(&dd, "sla_warning"), count(&dd, "sla_breach")), (2, 0), "[{e}]");
        // Monday 09:30: the resolution target is breached, and the breach escalates.
        at_time(&app, "2026-10-12 09:30").await;
        let dd = get(&app, tok, id).await;
        assert_eq!(count(&dd, "sla_breach"), 1, "[{e}]");
        assert_eq!(clock(&dd["ticket"], "resolution")["state"], "breached");
        assert_eq!(dd["ticket"]["sla_breached"], true);
        assert_eq!(count(&dd, "escalated"), 1, "[{e}] the breach started the supervisor path");
        assert_eq!(dd["ticket"]["escalation"]["step_name"], "客服主管");
        assert_eq!(dd["ticket"]["escalation"]["target_id"], d.sup.0);
        // 11:00: the progress update is late too; no second escalation.
        at_time(&app, "2026-10-12 11:00").await;
        at_time(&app, "2026-10-12 11:30").await;
        let dd = get(&app, tok, id).await;
        assert_eq!((count(&dd, "sla_breach"), count(&dd, "escalated")), (2, 1), "[{e}] {:?}", history(&dd));
        // Each event is on the customer's timeline once.
        let tl = timeline(&app, tok, d.customer).await;
        let n = |code: &str| tl.iter().filter(|x| *x == code).count();
        assert_eq!(n("ticket.sla_warning.resolution"), 1, "[{e}] {tl:?}");
        assert_eq!(n("ticket.sla_warning.progress"), 1, "[{e}]");
        assert_eq!(n("ticket.sla_breach.resolution"), 1, "[{e}]");
        assert_eq!(n("ticket.sla_breach.progress"), 1, "[{e}]");
        assert_eq!(n("ticket.escalated"), 1, "[{e}]");
        assert!(n("ticket.created") >= 2 && n("ticket.reply") == 1, "[{e}] {tl:?}");
        // The SLA job of the resolved 7×24 ticket never fired: its clocks stopped.
        let d24 = get(&app, &d.sup.1, t24_id).await;
        assert_eq!(count(&d24, "sla_breach"), 0, "[{e}] {:?}", history(&d24));
    }
}

#[tokio::test]
async fn waiting_for_the_customer_pauses_the_clocks() {
    for app in apps().await {
        let e = app.engine.clone();
        let d = desk(&app).await;
        let tok = &d.agent.1;
        let t = create(&app, tok, ticket_body(d.customer, "email", "normal")).await;
        let id = t["id"].as_i64().unwrap();
        assert_eq!(due(&t, "resolution"), iso("2026-11-26 11:30"));
        app.clock.set(at("2026-11-23 11:00"));
        let (s, t) = act(&app, tok, id, "start").await;
        assert_eq!((s, t["status"].as_str()), (200, Some("in_progress")), "[{e}] {t}");
        let (s, t) = act(&app, tok, id, "wait_customer").await;
        assert_eq!(s, 200, "[{e}] {t}");
        assert_eq!(t["status_label"], "待客户反馈");
        assert_eq!(clock(&t, "resolution")["state"], "paused");
        assert_eq!(clock(&t, "resolution")["remaining_minutes"], 23 * 60, "[{e}] one working hour used");
        assert_eq!(due(&t, "resolution"), "none");
        // Long past the old deadline nothing fires while paused.
        assert_eq!(at_time(&app, "2026-11-26 17:00").await, 0, "[{e}]");
        // Wednesday… the customer answers on Thursday 26th at 15:00.
        app.clock.set(at("2026-11-26 15:00"));
        let t = message(&app, tok, id, "customer", "补充：发票抬头为杭州明远科技有限公司").await;
        assert_eq!(t["status"], "in_progress", "[{e}] the customer's answer resumes the ticket");
        // 23 h left: Thu 3 h, Fri 7.5 h, Mon 7.5 h, Tue 5 h.
        assert_eq!(due(&t, "resolution"), iso("2026-12-01 15:30"), "[{e}]");
        assert_eq!(due(&t, "first_response"), iso("2026-11-26 18:00"), "[{e}] 3 h of the first response were left");
        let dd = get(&app, tok, id).await;
        assert_eq!(count(&dd, "sla_breach") + count(&dd, "sla_warning"), 0, "[{e}]");
        // Its job follows the clocks: the first response's warning (80 % of 4 h) at Thu 17:12.
        let job = app
            .state
            .db
            .read(move |c| guanxi_store::jobs::get(c, "ticket.sla", &id.to_string()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(job.due_at, at("2026-11-26 17:12"), "[{e}] {job:?}");
        assert_eq!(job.done_at, None);
    }
}

#[tokio::test]
async fn routing_rules_pick_the_group_and_the_least_loaded_agent() {
    for app in apps().await {
        let e = app.engine.clone();
        let d = desk(&app).await;
        let admin = d.admin.clone();
        let logistics = group(&app, &admin, "物流专线", "team").await;
        let refunds = group(&app, &admin, "退款专席", "team").await;
        let vip = group(&app, &admin, "VIP 服务组", "team").await;
        let a1 = staff(&app, &admin, "li.na@test.cn", "agent", Some(logistics)).await;
        let a2 = staff(&app, &admin, "zhao.lei@test.cn", "agent", Some(logistics)).await;
        let a3 = staff(&app, &admin, "sun.li@test.cn", "agent", Some(logistics)).await;
        let r1 = staff(&app, &admin, "zhou.min@test.cn", "agent", Some(refunds)).await;
        let english = staff(&app, &admin, "amy.wu@test.cn", "agent", Some(refunds)).await;
        let advisor = staff(&app, &admin, "gu.wen@test.cn", "advisor", Some(vip)).await;
        let _vip_agent = staff(&app, &admin, "he.jun@test.cn", "agent", Some(vip)).await;
        // An uncertified agent never takes live work.
        let body = json!({"email": "new.hire@test.cn", "name": "new.hire", "role": "agent", "password": "password-123", "group_id": logistics});
        assert_eq!(app.call(Method::POST, "/api/v1/users", Some(&admin), Some(body)).await.status(), 201);

        let rule = |name: &str, conditions: Value, group: i64, skill: Option<&str>| json!({"name": name, "conditions": conditions, "group_id": group, "skill": skill});
        for r in [
            rule("高价值客户", json!({"tiers": ["high"]}), vip, None),
            rule("英文客户", json!({"keywords": ["english"]}), refunds, Some("english")),
            rule("退款诉求", json!({"keywords": ["退款", "refund"]}), refunds, None),
            rule("物流问题", json!({"categories": ["logistics"], "channels": ["phone", "email"]}), logistics, None),
        ] {
            let (s, v) =
                json_of(app.call(Method::POST, "/api/v1/ticket-settings/routing-rules", Some(&admin), Some(r)).await)
                    .await;
            assert_eq!(s, 201, "[{e}] {v}");
        }
        let (s, v) = json_of(
            app.call(
                Method::POST,
                "/api/v1/ticket-settings/routing-rules",
                Some(&admin),
                Some(rule("物流问题", json!({}), logistics, None)),
            )
            .await,
        )
        .await;
        assert_eq!((s, v["errors"][0]["code"].as_str()), (422, Some("taken")), "[{e}] {v}");
        // Only agents with the skill take English tickets.
        let (s, _) = json_of(
            app.call(
                Method::PUT,
                "/api/v1/agents/me/availability",
                Some(&english.1),
                Some(json!({"available": true, "skills": ["english"]})),
            )
            .await,
        )
        .await;
        assert_eq!(s, 200);

        let mut logistic = ticket_body(d.customer, "phone", "normal");
        logistic["category"] = json!("logistics");
        logistic["subject"] = json!("包裹三天未更新物流");
        // Three tickets: each of the three idle agents gets one.
        let mut got = Vec::new();
        for _ in 0..3 {
            app.clock.advance(jiff::SignedDuration::from_mins(1));
            let t = create(&app, &d.sup.1, logistic.clone()).await;
            assert_eq!(t["group_id"], logistics, "[{e}] {t}");
            got.push(t["assignee_id"].as_i64().unwrap());
            assert!(
                t["routing_reason"]
                    .as_str()
                    .unwrap()
                    .starts_with("规则「物流问题」→ 物流专线；组内负载最低（0 张在办，3 人可接单）"),
                "[{e}] {}",
                t["routing_reason"]
            );
        }
        got.sort_unstable();
        assert_eq!(got, vec![a1.0, a2.0, a3.0], "[{e}] least loaded, then whoever waited longest");
        // a2 resolves theirs: the next one is a2's (load 0 against 1 and 1).
        let mine: Value = app.call(Method::GET, "/api/v1/tickets", Some(&a2.1), None).await.json().await.unwrap();
        let a2_ticket = mine["items"][0]["id"].as_i64().unwrap();
        let (s, _) = act(&app, &a2.1, a2_ticket, "resolve").await;
        assert_eq!(s, 200);
        app.clock.advance(jiff::SignedDuration::from_mins(1));
        let t = create(&app, &d.sup.1, logistic.clone()).await;
        assert_eq!(t["assignee_id"], a2.0, "[{e}] {}", t["routing_reason"]);
        // a1 goes offline: only a2 and a3 remain (loads 1 and 1; a3 waited longer).
        let (s, v) = json_of(
            app.call(Method::PUT, "/api/v1/agents/me/availability", Some(&a1.1), Some(json!({"available": false})))
                .await,
        )
        .await;
        assert_eq!((s, v["open_tickets"].as_i64()), (200, Some(1)), "[{e}] {v}");
        let t = create(&app, &d.sup.1, logistic.clone()).await;
        assert_eq!(t["assignee_id"], a3.0, "[{e}] {}", t["routing_reason"]);
        assert!(
            t["routing_reason"].as_str().unwrap().contains("（1 张在办，2 人可接单）"),
            "[{e}] {}",
            t["routing_reason"]
        );
        // Keywords route refunds (any of the words, any case); the chat channel is not in the logistics rule.
        let mut refund = ticket_body(d.customer, "online_chat", "normal");
        refund["category"] = json!("logistics");
        refund["description"] = json!("客户要求全额退款");
        let t = create(&app, &d.sup.1, refund).await;
        assert_eq!(
            (t["group_id"].as_i64(), t["assignee_id"].as_i64()),
            (Some(refunds), Some(r1.0)),
            "[{e}] {}",
            t["routing_reason"]
        );
        let mut en = ticket_body(d.customer, "email", "normal");
        en["subject"] = json!("English please: REFUND");
        let t = create(&app, &d.sup.1, en).await;
        assert_eq!(t["assignee_id"], english.0, "[{e}] {}", t["routing_reason"]);
        assert!(t["routing_reason"].as_str().unwrap().contains("需要技能：english"), "[{e}]");
        // No rule: the creator's group.
        let t = create(&app, &d.agent.1, ticket_body(d.customer, "email", "normal")).await;
        assert_eq!(t["group_id"], d.team, "[{e}]");
        assert!(
            t["routing_reason"].as_str().unwrap().starts_with("无匹配规则，创建人所在小组：一线客服组"),
            "[{e}] {}",
            t["routing_reason"]
        );

        // A high-value customer (spend ≥ 100,000 in 12 months): priority
        // raised, the 7×12 schedule, the dedicated advisor.
        let rich = customer(&app, &d.sup.1, "上海星辰机械集团", Some(advisor.0)).await;
        let (s, v) = json_of(
            app.call(
                Method::POST,
                &format!("/api/v1/customers/{rich}/orders"),
                Some(&d.sup.1),
                Some(json!({"ordered_on": "2026-10-15", "amount": "150000.00"})),
            )
            .await,
        )
        .await;
        assert_eq!(s, 201, "[{e}] {v}");
        let (s, v) = json_of(app.call(Method::POST, "/api/v1/segments/recompute", Some(&d.sup.1), None).await).await;
        assert_eq!(s, 200, "[{e}] {v}");
        // Saturday 28 November, 20:30: 7×12 runs 09:00–21:00 every day.
        app.clock.set(at("2026-11-28 20:30"));
        let t = create(&app, &d.sup.1, ticket_body(rich, "email", "normal")).await;
        assert_eq!(t["priority"], "high", "[{e}] normal raised to high");
        assert_eq!(
            (t["group_id"].as_i64(), t["assignee_id"].as_i64()),
            (Some(vip), Some(advisor.0)),
            "[{e}] {}",
            t["routing_reason"]
        );
        assert_eq!(t["schedule"], "7x12");
        assert_eq!(
            due(&t, "first_response"),
            iso("2026-11-29 09:30"),
            "[{e}] 1 h: 30 min on Saturday night, 30 on Sunday"
        );
        let reason = t["routing_reason"].as_str().unwrap();
        assert!(
            reason.contains("高价值客户的专属顾问")
                && reason.contains("优先级由「普通」提升为「高」")
                && reason.contains("7×12"),
            "[{e}] {reason}"
        );

        // Repeat inquiry: the same customer and category within 7 days is flagged.
        let first = create(&app, &d.agent.1, ticket_body(d.customer, "phone", "low")).await;
        assert!(first["repeat_of"].is_number(), "[{e}] earlier service tickets of the customer exist");
        let other = customer(&app, &d.sup.1, "成都青禾食品", Some(d.agent.0)).await;
        let t1 = create(&app, &d.agent.1, ticket_body(other, "phone", "low")).await;
        assert!(t1["repeat_of"].is_null(), "[{e}]");
        app.clock.set(at("2026-12-04 20:00"));
        let t2 = create(&app, &d.agent.1, ticket_body(other, "email", "low")).await;
        assert_eq!(t2["repeat_of"], t1["id"], "[{e}] within 7 days");
        app.clock.set(at("2026-12-12 10:00"));
        let t3 = create(&app, &d.agent.1, ticket_body(other, "email", "low")).await;
        assert!(t3["repeat_of"].is_null(), "[{e}] more than 7 days after the last");
        let dd = get(&app, &d.agent.1, t2["id"].as_i64().unwrap()).await;
        assert_eq!(count(&dd, "repeat_inquiry"), 1, "[{e}]");
    }
}

#[tokio::test]
async fn an_escalation_chain_runs_to_its_end_and_an_answer_stops_one() {
    for app in apps().await {
        let e = app.engine.clone();
        let d = desk(&app).await;
        let admin = d.admin.clone();
        let tech = group(&app, &admin, "技术支持部", "department").await;
        let product = group(&app, &admin, "产品部", "department").await;
        let engineer = staff(&app, &admin, "liu.gong@test.cn", "collaborator", Some(tech)).await;
        let pm = staff(&app, &admin, "pm.zhang@test.cn", "collaborator", Some(product)).await;
        let path = json!({"name": "产品功能问题", "conditions": {"categories": ["product"]}, "steps": [
            {"name": "技术支持", "target": {"kind": "user", "user_id": engineer.0}, "respond_minutes": 120},
            {"name": "产品经理", "target": {"kind": "user", "user_id": pm.0}, "respond_minutes": 1440},
            {"name": "客服主管", "target": {"kind": "supervisor"}, "respond_minutes": 30, "customer_update_minutes": 30}]});
        let (s, v) =
            json_of(app.call(Method::POST, "/api/v1/ticket-settings/escalation-paths", Some(&admin), Some(path)).await)
                .await;
        assert_eq!(s, 201, "[{e}] {v}");
        let bad = json!({"name": "", "steps": [{"name": "x", "target": {"kind": "user", "user_id": 9999}, "respond_minutes": 0}]});
        let (s, v) =
            json_of(app.call(Method::POST, "/api/v1/ticket-settings/escalation-paths", Some(&admin), Some(bad)).await)
                .await;
        assert_eq!(s, 422, "[{e}] {v}");
        let fields: Vec<&str> = v["errors"].as_array().unwrap().iter().map(|x| x["field"].as_str().unwrap()).collect();
        assert_eq!(fields, vec!["name", "steps[0].respond_minutes"], "[{e}]");

        let mut b = ticket_body(d.customer, "email", "urgent");
        b["category"] = json!("product");
        b["subject"] = json!("导出报表时系统报错");
        let t = create(&app, &d.agent.1, b.clone()).await;
        let id = t["id"].as_i64().unwrap();
        // The engineer cannot see it before it is escalated to them.
        let r = app.call(Method::GET, &format!("/api/v1/tickets/{id}"), Some(&engineer.1), None).await;
        assert_eq!(r.status(), 404, "[{e}]");
        app.clock.set(at("2026-11-23 10:05"));
        message(&app, &d.agent.1, id, "reply", "已收到，正在排查。").await;
        // Resolution (4 working hours) is breached Monday 15:30: step 1, the engineer, 2 h.
        at_time(&app, "2026-11-23 15:30").await;
        let dd = get(&app, &d.agent.1, id).await;
        let esc = &dd["ticket"]["escalation"];
        assert_eq!(
            (esc["path"].as_str(), esc["step"].as_i64(), esc["target_id"].as_i64()),
            (Some("产品功能问题"), Some(1), Some(engineer.0)),
            "[{e}] {esc}"
        );
        assert_eq!(esc["step_due_at"], iso("2026-11-23 17:30"), "[{e}]");
        let (s, _) =
            json_of(app.call(Method::GET, &format!("/api/v1/tickets/{id}"), Some(&engineer.1), None).await).await;
        assert_eq!(s, 200, "[{e}] escalated to them, they see it");
        let esc_q: Value = app
            .call(Method::GET, "/api/v1/tickets?queue=escalated", Some(&engineer.1), None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(esc_q["items"][0]["id"], id, "[{e}] {esc_q}");
        assert_eq!(esc_q["items"][0]["escalation_level"], 1);
        // Unanswered: 17:30 → step 2, the product manager, 24 working hours.
        at_time(&app, "2026-11-23 17:29").await;
        assert_eq!(get(&app, &d.agent.1, id).await["ticket"]["escalation"]["step"], 1, "[{e}]");
        at_time(&app, "2026-11-23 17:30").await;
        let esc = get(&app, &d.agent.1, id).await["ticket"]["escalation"].clone();
        assert_eq!((esc["step"].as_i64(), esc["target_id"].as_i64()), (Some(2), Some(pm.0)), "[{e}] {esc}");
        assert_eq!(esc["step_due_at"], iso("2026-11-27 10:00"), "[{e}] 24 working hours");
        // Step 3: the supervisor, 30 min, and the customer must hear within 30 min.
        at_time(&app, "2026-11-27 10:00").await;
        let dd = get(&app, &d.agent.1, id).await;
        let esc = &dd["ticket"]["escalation"];
        assert_eq!((esc["step"].as_i64(), esc["target_id"].as_i64()), (Some(3), Some(d.sup.0)), "[{e}] {esc}");
        assert_eq!(due(&dd["ticket"], "progress"), iso("2026-11-27 10:30"), "[{e}] customer update within 30 min");
        // Nobody answers: the chain ends after the last step.
        at_time(&app, "2026-11-27 11:00").await;
        let dd = get(&app, &d.agent.1, id).await;
        assert_eq!(dd["ticket"]["escalation"]["ended"], "exhausted", "[{e}] {}", dd["ticket"]["escalation"]);
        assert_eq!(count(&dd, "escalated"), 3, "[{e}] {:?}", history(&dd));
        assert_eq!(count(&dd, "escalation_exhausted"), 1, "[{e}]");
        at_time(&app, "2026-12-31 09:00").await;
        assert_eq!(count(&get(&app, &d.agent.1, id).await, "escalation_exhausted"), 1, "[{e}] once");
        let tl = timeline(&app, &d.agent.1, d.customer).await;
        assert_eq!(tl.iter().filter(|x| *x == "ticket.escalated").count(), 3, "[{e}] {tl:?}");
        assert_eq!(tl.iter().filter(|x| *x == "ticket.escalation_exhausted").count(), 1, "[{e}]");

        // Another one: the engineer answers with a note, and the chain stops.
        app.clock.set(at("2026-12-07 09:00"));
        let t = create(&app, &d.agent.1, b).await;
        let id2 = t["id"].as_i64().unwrap();
        let (s, v) = json_of(
            app.call(
                Method::POST,
                &format!("/api/v1/tickets/{id2}/escalate"),
                Some(&d.agent.1),
                Some(json!({"reason": "客户急需，请技术支持介入"})),
            )
            .await,
        )
        .await;
        assert_eq!(s, 200, "[{e}] {v}");
        assert_eq!(v["escalation"]["step_name"], "技术支持");
        let (s, v) = json_of(
            app.call(
                Method::POST,
                &format!("/api/v1/tickets/{id2}/escalate"),
                Some(&d.agent.1),
                Some(json!({"reason": "again"})),
            )
            .await,
        )
        .await;
        assert_eq!((s, v["errors"][0]["code"].as_str()), (409, Some("already_escalated")), "[{e}] {v}");
        app.clock.set(at("2026-12-07 10:00"));
        let v = message(&app, &engineer.1, id2, "note", "已定位：导出模块的时区转换问题，今天修复").await;
        assert_eq!(v["escalation"]["ended"], "answered", "[{e}] {v}");
        // A collaborator may not reply to the customer or change the status.
        let r = app
            .call(
                Method::POST,
                &format!("/api/v1/tickets/{id2}/messages"),
                Some(&engineer.1),
                Some(json!({"kind": "reply", "body": "x"})),
            )
            .await;
        assert_eq!(r.status(), 422, "[{e}]");
        let (s, v) = act(&app, &engineer.1, id2, "resolve").await;
        assert_eq!((s, v["errors"][0]["code"].as_str()), (409, Some("not_permitted")), "[{e}] {v}");
        // Step 1's time (2 working hours, 11:00) passes without a step 2.
        at_time(&app, "2026-12-07 11:30").await;
        let dd = get(&app, &d.agent.1, id2).await;
        assert_eq!(count(&dd, "escalated"), 1, "[{e}] no step 2 after the answer: {:?}", history(&dd));
        assert_eq!(count(&dd, "escalation_answered"), 1, "[{e}]");
        let job = app
            .state
            .db
            .read(move |c| guanxi_store::jobs::get(c, "ticket.escalation", &id2.to_string()))
            .await
            .unwrap()
            .unwrap();
        assert!(job.done_at.is_some() && job.runs == 0, "[{e}] the answer disarmed the step's job: {job:?}");
    }
}

#[tokio::test]
async fn refused_transitions_say_why_and_change_nothing() {
    for app in apps().await {
        let e = app.engine.clone();
        let d = desk(&app).await;
        let tok = &d.agent.1;
        let t = create(&app, tok, ticket_body(d.customer, "email", "normal")).await;
        let id = t["id"].as_i64().unwrap();
        let rows = |app: &TestApp| {
            let db = app.state.db.clone();
            async move {
                db.read(move |c| {
                    let t = c.query("SELECT * FROM tickets WHERE id = $1", guanxi_store::args![id])?;
                    let n: i64 = c.scalar("SELECT COUNT(*) FROM ticket_events", &[])?;
                    let a: i64 = c.scalar("SELECT COUNT(*) FROM audit_log", &[])?;
                    let j = c.query("SELECT * FROM jobs ORDER BY id", &[])?;
                    Ok(format!("{t:?} {n} {a} {j:?}"))
                })
                .await
                .unwrap()
            }
        };
        let before = rows(&app).await;
        // Archiving a new ticket.
        let r = app
            .http
            .post(format!("{}/api/v1/tickets/{id}/actions", app.url))
            .bearer_auth(tok)
            .header("Accept-Language", "zh-CN")
            .json(&json!({"action": "close"}))
            .send()
            .await
            .unwrap();
        let (s, v) = json_of(r).await;
        assert_eq!(s, 409, "[{e}] {v}");
        assert_eq!(v["errors"][0]["field"], "action");
        assert_eq!(v["errors"][0]["code"], "transition_not_allowed");
        assert_eq!(v["detail"], "工单当前状态为「新建」，不能执行「归档」（可执行：受理、开始处理、解决）", "[{e}]");
        assert_eq!(rows(&app).await, before, "[{e}] nothing changed");
        let (s, v) = act(&app, tok, id, "explode").await;
        assert_eq!((s, v["errors"][0]["field"].as_str()), (422, Some("action")), "[{e}] {v}");
        // Resolve, archive, then the agent tries to reopen the archived ticket.
        assert_eq!(act(&app, tok, id, "resolve").await.0, 200);
        assert_eq!(act(&app, tok, id, "close").await.0, 200);
        let before = rows(&app).await;
        let r = app
            .http
            .post(format!("{}/api/v1/tickets/{id}/actions", app.url))
            .bearer_auth(tok)
            .header("Accept-Language", "en")
            .json(&json!({"action": "reopen"}))
            .send()
            .await
            .unwrap();
        let (s, v) = json_of(r).await;
        assert_eq!(s, 409, "[{e}] {v}");
        assert_eq!(v["errors"][0]["code"], "reopen_archived_forbidden");
        assert_eq!(v["detail"], "Only a supervisor or an administrator may reopen an archived ticket", "[{e}]");
        let (_, v) = act(&app, tok, id, "reopen").await;
        assert_eq!(v["detail"], "已归档的工单只有客服主管或管理员可以重新打开", "[{e}]");
        let r = app
            .call(
                Method::POST,
                &format!("/api/v1/tickets/{id}/messages"),
                Some(tok),
                Some(json!({"kind": "reply", "body": "还在吗"})),
            )
            .await;
        assert_eq!(r.status(), 409, "[{e}] no public reply on an archived ticket");
        assert_eq!(rows(&app).await, before, "[{e}] nothing changed");
        // The supervisor may; the resolution clock runs on from where it stopped.
        let (s, v) = act(&app, &d.sup.1, id, "reopen").await;
        assert_eq!((s, v["status"].as_str()), (200, Some("in_progress")), "[{e}] {v}");
        assert_eq!(clock(&v, "resolution")["state"], "running");
        let dd = get(&app, tok, id).await;
        assert_eq!(history(&dd).iter().filter(|k| *k == "status").count(), 3, "[{e}] {:?}", history(&dd));

        // Bad input is refused field by field.
        let (s, v) = json_of(
            app.call(
                Method::POST,
                "/api/v1/tickets",
                Some(tok),
                Some(json!({"type": "rant", "channel": "pigeon", "category": "",
                "customer_id": 999999, "subject": "", "received_at": "2027-01-01T00:00:00Z"})),
            )
            .await,
        )
        .await;
        assert_eq!(s, 422, "[{e}] {v}");
        let fields: Vec<&str> = v["errors"].as_array().unwrap().iter().map(|x| x["field"].as_str().unwrap()).collect();
        assert_eq!(fields, vec!["type", "channel", "category", "subject", "received_at"], "[{e}]");
        let (s, v) = json_of(
            app.call(
                Method::POST,
                "/api/v1/tickets",
                Some(tok),
                Some(json!({"type": "complaint", "channel": "phone",
            "category": "service", "customer_id": 999999, "subject": "x"})),
            )
            .await,
        )
        .await;
        assert_eq!(
            (s, v["errors"][0]["field"].as_str(), v["errors"][0]["code"].as_str()),
            (422, Some("customer_id"), Some("unknown")),
            "[{e}] {v}"
        );
        let (s, v) =
            json_of(app.call(Method::POST, "/api/v1/tickets", Some(tok), Some(json!({"typo": 1}))).await).await;
        assert_eq!((s, v["errors"][0]["field"].as_str()), (422, Some("typo")), "[{e}] {v}");
        // Another system's ticket with its own id: a second one with the same id is refused.
        let mut ext = ticket_body(d.customer, "email", "normal");
        ext["external_id"] = json!("CRM-2026-0001");
        ext["received_at"] = json!("2026-11-23T09:00:00+08:00");
        let t = create(&app, tok, ext.clone()).await;
        assert_eq!(t["received_at"], iso("2026-11-23 09:00"));
        assert_eq!(due(&t, "first_response"), iso("2026-11-23 14:30"), "[{e}] the clock started at receipt");
        let (s, v) = json_of(app.call(Method::POST, "/api/v1/tickets", Some(tok), Some(ext)).await).await;
        assert_eq!(
            (s, v["errors"][0]["field"].as_str(), v["errors"][0]["code"].as_str()),
            (422, Some("external_id"), Some("taken")),
            "[{e}] {v}"
        );
    }
}

#[tokio::test]
async fn queues_are_sorted_by_the_nearest_deadline_and_paged_by_keyset() {
    for app in apps().await {
        let e = app.engine.clone();
        let d = desk(&app).await;
        let tok = &d.agent.1;
        let mut ids = Vec::new();
        for (i, p) in ["low", "urgent", "normal", "high", "low", "normal", "urgent"].iter().enumerate() {
            let mut b = ticket_body(d.customer, "email", p);
            b["assignee_id"] = json!(d.agent.0);
            b["subject"] = json!(format!("工单 {i}"));
            ids.push(create(&app, tok, b).await["id"].as_i64().unwrap());
        }
        let mut seen = Vec::new();
        let mut dues = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let q = match &after {
                Some(a) => format!("/api/v1/tickets?queue=mine&limit=3&after={a}"),
                None => "/api/v1/tickets?limit=3".into(),
            };
            let (s, page) = json_of(app.call(Method::GET, &q, Some(tok), None).await).await;
            assert_eq!(s, 200, "[{e}] {page}");
            for it in page["items"].as_array().unwrap() {
                seen.push(it["id"].as_i64().unwrap());
                dues.push(it["sla_due_at"].as_str().unwrap().to_string());
                assert_eq!(it["sla_state"], "running");
            }
            match page["next"].as_str() {
                Some(n) => after = Some(n.to_string()),
                None => break,
            }
        }
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        let mut got = seen.clone();
        got.sort_unstable();
        assert_eq!(got, sorted, "[{e}] every ticket once");
        let mut by_due = dues.clone();
        by_due.sort();
        assert_eq!(dues, by_due, "[{e}] nearest deadline first");
        assert_eq!(dues[0], iso("2026-11-23 10:30"), "[{e}] the urgent first responses lead");
        // The team queue, the supervisor's view of everything, and refusals.
        let (s, team) = json_of(app.call(Method::GET, "/api/v1/tickets?queue=team", Some(tok), None).await).await;
        assert_eq!((s, team["items"].as_array().unwrap().len()), (200, 7), "[{e}]");
        let (s, _) = json_of(app.call(Method::GET, "/api/v1/tickets?queue=all", Some(tok), None).await).await;
        assert_eq!(s, 403, "[{e}] agents do not see every queue");
        let other = group(&app, &d.admin, "二线", "team").await;
        let (s, _) = json_of(
            app.call(Method::GET, &format!("/api/v1/tickets?queue=team&group_id={other}"), Some(tok), None).await,
        )
        .await;
        assert_eq!(s, 403, "[{e}] nor another group's");
        let (s, all) =
            json_of(app.call(Method::GET, "/api/v1/tickets?queue=all&status=new", Some(&d.sup.1), None).await).await;
        assert_eq!((s, all["items"].as_array().unwrap().len()), (200, 7), "[{e}]");
        let (s, v) = json_of(
            app.call(Method::GET, "/api/v1/tickets?queue=everything&status=done&after=x&limit=0", Some(tok), None)
                .await,
        )
        .await;
        assert_eq!(s, 422, "[{e}] {v}");
        let fields: Vec<&str> = v["errors"].as_array().unwrap().iter().map(|x| x["field"].as_str().unwrap()).collect();
        assert_eq!(fields, vec!["queue", "status", "after", "limit"], "[{e}]");
        // Someone outside the group sees none of it.
        let (_, outsider) = staff(&app, &d.admin, "outsider@test.cn", "agent", Some(other)).await;
        let r = app.call(Method::GET, &format!("/api/v1/tickets/{}", ids[0]), Some(&outsider), None).await;
        assert_eq!(r.status(), 404, "[{e}]");
        // Archived tickets leave the queue.
        act(&app, tok, ids[1], "resolve").await;
        act(&app, tok, ids[1], "close").await;
        let (_, page) = json_of(app.call(Method::GET, "/api/v1/tickets?limit=50", Some(tok), None).await).await;
        assert_eq!(page["items"].as_array().unwrap().len(), 6, "[{e}]");
        // The OpenAPI document describes the ticket API.
        let doc: Value =
            app.http.get(format!("{}/api/openapi.json", app.url)).send().await.unwrap().json().await.unwrap();
        for p in [
            "/api/v1/tickets",
            "/api/v1/tickets/{id}/actions",
            "/api/v1/ticket-settings/sla",
            "/api/v1/ticket-settings/escalation-paths",
        ] {
            assert!(doc["paths"][p].is_object(), "[{e}] {p}");
        }
    }
}

/// `serve --demo` adds half a year of tickets: every demo agent and
/// advisor has open tickets in their own queue and group, most of the
/// history is closed with its reply and resolution (so last month's
/// resolution rate and first-response time have values), and complaints
/// are among them.
#[tokio::test]
async fn the_demo_has_a_half_year_of_tickets() {
    use guanxi_server::demo::{DEMO_PASSWORD, DemoOptions};
    for app in apps().await {
        let e = app.engine.clone();
        let opts = DemoOptions { seed: 7, customers: 300 };
        guanxi_server::load_demo(&app.state, &opts).await.unwrap();
        let n = guanxi_server::load_demo_tickets(&app.state, &opts).await.unwrap();
        assert_eq!(n, 1500, "[{e}] five a customer");
        for email in ["wang.fang@demo.guanxi.cn", "zhang.wei@demo.guanxi.cn", "zhao.min@demo.guanxi.cn"] {
            let token = app.token(email, DEMO_PASSWORD).await;
            let r = app.call(Method::GET, "/api/v1/tickets?queue=mine&limit=100", Some(&token), None).await;
            let v: Value = r.json().await.unwrap();
            let items = v["items"].as_array().unwrap();
            assert!(!items.is_empty(), "[{e}] {email} has open tickets: {v}");
            let group = &items[0]["group_name"];
            let me = |t: &Value| t["assignee_id"] == items[0]["assignee_id"] && &t["group_name"] == group;
            assert!(group.is_string() && items.iter().all(me), "[{e}] {email}: theirs, in their group: {v}");
        }
        let (closed, answered, complaints): (i64, i64, i64) = app
            .state
            .db
            .read(|c| {
                let r = c.query_one(
                    "SELECT (SELECT COUNT(*) FROM tickets WHERE status = 'closed' AND resolved_at IS NOT NULL),
                            (SELECT COUNT(*) FROM tickets WHERE first_response_at IS NOT NULL),
                            (SELECT COUNT(*) FROM complaints)",
                    &[],
                )?;
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .await
            .unwrap();
        assert!(closed > 1200 && answered >= closed && complaints > 0, "[{e}] {closed} {answered} {complaints}");
        // Complaints are about what went wrong, not requests; most resolved
        // tickets were surveyed, and each answer is on its customer's timeline.
        let (asking, surveyed, replied, on_timeline): (i64, i64, i64, i64) = app
            .state
            .db
            .read(|c| {
                let r = c.query_one(
                    "SELECT (SELECT COUNT(*) FROM complaints p JOIN tickets t ON t.id = p.ticket_id
                             WHERE t.subject IN ('如何批量导出本月订单', '希望报表支持按区域汇总', '建议增加短信通知', '续费优惠咨询')),
                            (SELECT COUNT(*) FROM surveys WHERE source = 'ticket'),
                            (SELECT COUNT(*) FROM surveys WHERE score IS NOT NULL),
                            (SELECT COUNT(*) FROM timeline l JOIN surveys v ON v.id = l.ref_id WHERE l.kind = 'survey')",
                    &[],
                )?;
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .await
            .unwrap();
        assert_eq!(asking, 0, "[{e}] complaints with a request for a subject");
        assert!(
            surveyed > closed / 2 && replied > surveyed * 3 / 4,
            "[{e}] {closed} closed, {surveyed} surveyed, {replied}"
        );
        assert_eq!(on_timeline, replied, "[{e}] every answer on the timeline");
        let sup = app.token("chen.jing@demo.guanxi.cn", DEMO_PASSWORD).await;
        let to = app.state.today();
        let from = to.checked_sub(jiff::ToSpan::days(60)).unwrap();
        for kpi in [
            "resolution_rate",
            "first_response_median",
            "csat_average",
            "csat_satisfied_share",
            "feedback_collection_rate",
        ] {
            let path = format!("/api/v1/kpis/{kpi}?from={from}&to={to}&by=month");
            let v: Value = app.call(Method::GET, &path, Some(&sup), None).await.json().await.unwrap();
            let points = v["slices"][0]["points"].as_array().unwrap_or_else(|| panic!("[{e}] {path}: {v}"));
            assert!(points.iter().any(|p| p["value"].is_number()), "[{e}] {kpi} has values: {v}");
        }
    }
}
