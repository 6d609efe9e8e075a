//! Complaint handling over HTTP on every engine, with the test clock (SPEC
//! P1–P7): CP numbers gapless and unique under 50 concurrent
//! registrations; urgency from safety words, an explainable emotion score
//! and batches of similar complaints; a complaint walked through every
//! state — a missed investigation escalated by the scheduler, a rejected
//! solution, refusals that change nothing — to its closure, which archives
//! the ticket and creates exactly one complaint-repair revisit three
//! working days later; the tracking table filtered and exported to Excel
//! (read back with calamine); the monthly review's figures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use calamine::Reader as _;
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

async fn json_of(r: reqwest::Response) -> (u16, Value) {
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn group(app: &TestApp, admin: &str, name: &str) -> i64 {
    let (s, v) = json_of(
        app.call(Method::POST, "/api/v1/groups", Some(admin), Some(json!({"name": name, "kind": "team"}))).await,
    )
    .await;
    assert_eq!(s, 201, "[{}] group {name}: {v}", app.engine);
    v["id"].as_i64().unwrap()
}

async fn staff(app: &TestApp, admin: &str, email: &str, role: &str, group_id: Option<i64>) -> (i64, String) {
    let body = json!({"email": email, "name": email.split('@').next().unwrap(), "role": role,
        "password": "password-123", "group_id": group_id, "certified": true});
    let (s, v) = json_of(app.call(Method::POST, "/api/v1/users", Some(admin), Some(body)).await).await;
    assert_eq!(s, 201, "[{}] user {email}: {v}", app.engine);
    (v["id"].as_i64().unwrap(), app.token(email, "password-123").await)
}

async fn customer(app: &TestApp, token: &str, name: &str, owner: i64) -> i64 {
    let (s, v) = json_of(
        app.call(Method::POST, "/api/v1/customers", Some(token), Some(json!({"name": name, "owner_id": owner}))).await,
    )
    .await;
    assert_eq!(s, 201, "[{}] customer {name}: {v}", app.engine);
    v["id"].as_i64().unwrap()
}

fn body(customer: i64, category: &str, subject: &str, description: &str) -> Value {
    json!({"customer_id": customer, "channel": "phone", "category": category, "demand_type": "exchange",
        "subject": subject, "description": description})
}

async fn register(app: &TestApp, token: &str, b: Value) -> Value {
    let (s, v) = json_of(app.call(Method::POST, "/api/v1/complaints", Some(token), Some(b.clone())).await).await;
    assert_eq!(s, 201, "[{}] register {b}: {v}", app.engine);
    v
}

async fn step(app: &TestApp, token: &str, id: i64, b: Value) -> (u16, Value) {
    json_of(app.call(Method::POST, &format!("/api/v1/complaints/{id}/steps"), Some(token), Some(b)).await).await
}

async fn detail(app: &TestApp, token: &str, id: i64) -> Value {
    let (s, v) = json_of(app.call(Method::GET, &format!("/api/v1/complaints/{id}"), Some(token), None).await).await;
    assert_eq!(s, 200, "[{}] {v}", app.engine);
    v
}

fn history(d: &Value) -> Vec<String> {
    d["history"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_string()).collect()
}

fn deadline<'a>(c: &'a Value, kind: &str) -> &'a Value {
    c["deadlines"].as_array().unwrap().iter().find(|d| d["kind"] == kind).unwrap_or_else(|| panic!("no {kind} in {c}"))
}

struct Desk {
    admin: String,
    sup: (i64, String),
    agent: (i64, String),
    logistics: i64,
    customer: i64,
}

async fn desk(app: &TestApp) -> Desk {
    app.clock.set(at("2026-11-23 10:00"));
    let admin = app.admin_token().await;
    let team = group(app, &admin, "一线客服组").await;
    let logistics = group(app, &admin, "物流部").await;
    let sup = staff(app, &admin, "chen.jing@test.cn", "supervisor", Some(team)).await;
    let agent = staff(app, &admin, "wang.fang@test.cn", "agent", Some(team)).await;
    let customer = customer(app, &sup.1, "杭州明远科技有限公司", agent.0).await;
    Desk { admin, sup, agent, logistics, customer }
}

#[tokio::test]
async fn numbers_are_gapless_and_unique_under_fifty_concurrent_registrations() {
    for app in apps().await {
        let e = app.engine.clone();
        let d = desk(&app).await;
        let mut set = tokio::task::JoinSet::new();
        for i in 0..50 {
            let (url, tok, http) = (app.url.clone(), d.agent.1.clone(), app.http.clone());
            let b = body(d.customer, "product", &format!("第{i}台电水壶底座漏水"), "底座一直漏水，要求换货");
            set.spawn(async move {
                let r = http.post(format!("{url}/api/v1/complaints")).bearer_auth(tok).json(&b).send().await.unwrap();
                let s = r.status().as_u16();
                (s, r.json::<Value>().await.unwrap())
            });
        }
        let mut numbers = Vec::new();
        while let Some(r) = set.join_next().await {
            let (s, v) = r.unwrap();
            assert_eq!(s, 201, "[{e}] {v}");
            numbers.push(v["number"].as_str().unwrap().to_string());
        }
        numbers.sort();
        let expected: Vec<String> = (1..=50).map(|i| format!("CP20261123{i:03}")).collect();
        assert_eq!(numbers, expected, "[{e}] gapless and unique");
        // The next day starts again at 001.
        app.clock.set(at("2026-11-24 09:10"));
        let v = register(&app, &d.agent.1, body(d.customer, "service", "客服不回电话", "等了一天没人回电")).await;
        assert_eq!(v["number"], "CP20261124001", "[{e}]");
        // Bad input names every field and changes nothing.
        let before = app.snapshot().await;
        let (s, v) = json_of(
            app.call(
                Method::POST,
                "/api/v1/complaints",
                Some(&d.agent.1),
                Some(
                    json!({"customer_id": d.customer, "channel": "fax", "category": "product", "demand_type": "money",
                    "subject": "", "description": "x"}),
                ),
            )
            .await,
        )
        .await;
        assert_eq!(s, 422, "[{e}] {v}");
        let fields: Vec<&str> = v["errors"].as_array().unwrap().iter().map(|x| x["field"].as_str().unwrap()).collect();
        for f in ["channel", "subject", "demand_type"] {
            assert!(fields.contains(&f), "[{e}] {f} in {fields:?}");
        }
        assert_eq!(app.snapshot().await, before, "[{e}] a refused registration writes nothing");
    }
}

#[tokio::test]
async fn urgency_comes_from_safety_emotion_and_batches() {
    for app in apps().await {
        let e = app.engine.clone();
        let d = desk(&app).await;
        let tok = &d.agent.1;
        // Safety: 漏电 and 起火 make it urgent whatever the tone.
        let v = register(&app, tok, body(d.customer, "product", "热水器漏电", "洗澡时热水器漏电，插座还起火了")).await;
        assert_eq!(v["urgency"], "urgent", "[{e}] {v}");
        assert_eq!(v["safety_words"], json!(["漏电", "起火"]), "[{e}]");
        let (_, t) =
            json_of(app.call(Method::GET, &format!("/api/v1/tickets/{}", v["ticket_id"]), Some(tok), None).await).await;
        let t = &t["ticket"];
        assert_eq!(t["type"], "complaint");
        assert_eq!(t["priority"], "urgent", "[{e}]");
        let fr = t["clocks"].as_array().unwrap().iter().find(|c| c["clock"] == "first_response").unwrap();
        // Two clocks, the sooner wins: the urgent priority's 30 minutes beat
        // the complaint's 2 hours.
        assert_eq!(fr["due_at"], at("2026-11-23 10:30").to_string(), "[{e}] {fr}");

        // Emotion: the angry text scores higher and names its words.
        let angry =
            register(&app, tok, body(d.customer, "service", "服务太差", "太糟糕了！！再不处理我就投诉到消协")).await;
        let calm =
            register(&app, tok, body(d.customer, "service", "盖子松了", "你好，我买的水壶盖子有点松，想换一个，谢谢"))
                .await;
        assert!(angry["emotion_score"].as_f64().unwrap() > calm["emotion_score"].as_f64().unwrap(), "[{e}]");
        let words: Vec<&str> =
            angry["emotion_words"].as_array().unwrap().iter().map(|w| w["word"].as_str().unwrap()).collect();
        for w in ["太糟糕", "投诉", "消协"] {
            assert!(words.contains(&w), "[{e}] {w} in {words:?}");
        }
        assert_eq!(angry["urgency"], "urgent", "[{e}]");
        assert_eq!(calm["urgency"], "routine", "[{e}]");
        assert!(angry["urgency_reasons"].as_array().unwrap().iter().any(|r| r.as_str().unwrap().contains("太糟糕")));
        // The agent's override, with its reason; without one it is refused.
        let id = calm["id"].as_i64().unwrap();
        let (s, v) = json_of(
            app.call(
                Method::POST,
                &format!("/api/v1/complaints/{id}/urgency"),
                Some(tok),
                Some(json!({"urgency": "general", "reason": ""})),
            )
            .await,
        )
        .await;
        assert_eq!((s, v["errors"][0]["field"].as_str()), (422, Some("reason")), "[{e}] {v}");
        let (s, v) = json_of(
            app.call(
                Method::POST,
                &format!("/api/v1/complaints/{id}/urgency"),
                Some(tok),
                Some(json!({"urgency": "general", "reason": "客户为 VIP，主动升级"})),
            )
            .await,
        )
        .await;
        assert_eq!((s, v["urgency"].as_str()), (200, Some("general")), "[{e}] {v}");
        assert_eq!(v["urgency_override"]["reason"], "客户为 VIP，主动升级");

        // A batch: five customers' similar complaints within the window.
        let texts = [
            "新买的智能电饭煲显示屏不亮，按键没有反应",
            "电饭煲显示屏不亮了，按键也没反应，刚买一周",
            "智能电饭煲的显示屏突然不亮，按键失灵",
            "电饭煲显示屏不亮，所有按键都没有反应",
            "刚收到的电饭煲显示屏不亮，按键无反应",
        ];
        let mut ids = Vec::new();
        for (i, text) in texts.iter().enumerate() {
            app.clock.set(at(&format!("2026-11-23 1{}:00", i + 1)));
            let c = customer(&app, &d.sup.1, &format!("批量客户{i}"), d.agent.0).await;
            let v = register(&app, tok, body(c, "product", "电饭煲显示屏不亮", text)).await;
            ids.push(v["id"].as_i64().unwrap());
        }
        // An unrelated complaint of the same category stays out.
        let other = register(&app, tok, body(d.customer, "product", "快递破损", "快递三天了还没送到，外箱破损")).await;
        let first = detail(&app, tok, ids[0]).await;
        assert_eq!(first["batch"].as_array().unwrap().len(), 5, "[{e}] {first}");
        let batch_ids: Vec<i64> = first["batch"].as_array().unwrap().iter().map(|b| b[0].as_i64().unwrap()).collect();
        assert_eq!(batch_ids, ids, "[{e}] the five are linked");
        let last = detail(&app, tok, ids[4]).await;
        assert_eq!(last["complaint"]["batch_id"], first["complaint"]["batch_id"]);
        assert!(
            last["complaint"]["urgency_reasons"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r.as_str().unwrap().contains("批量客诉")),
            "[{e}] the batch raised its impact: {}",
            last["complaint"]
        );
        assert_eq!(last["complaint"]["urgency"], "general", "[{e}] routine raised one step");
        assert!(history(&last).contains(&"complaint_batch".to_string()));
        // The earlier members were raised too, once, when the batch formed.
        assert_eq!(first["complaint"]["urgency"], "general", "[{e}] the first member raised with the batch");
        assert!(first["complaint"]["urgency_reasons"][0].as_str().unwrap().starts_with("批量客诉"), "[{e}] {first}");
        let raised = history(&first).iter().filter(|k| *k == "complaint_batch_raised").count();
        assert_eq!(raised, 1, "[{e}] raised once, not again for each new member");
        // Each grading counts the batch as it was when the complaint joined
        // it (three customers formed it): the members already in it are not
        // read and rewritten by every later registration.
        let reason = |d: &Value| d["complaint"]["urgency_reasons"][0].as_str().unwrap().to_string();
        assert!(reason(&first).contains("3 位客户"), "[{e}] {}", reason(&first));
        assert!(reason(&last).contains("5 位客户"), "[{e}] {}", reason(&last));
        assert!(other["batch_id"].is_null(), "[{e}]");
    }
}

#[tokio::test]
async fn a_complaint_walks_through_every_state_to_its_repair_revisit() {
    for app in apps().await {
        let e = app.engine.clone();
        let d = desk(&app).await;
        let (agent, sup) = (&d.agent.1, &d.sup.1);
        // Monday 23 November 2026, 10:00 (standard hours 09:00–12:00, 13:30–18:00).
        let c = register(&app, agent, body(d.customer, "logistics", "包裹丢失", "订单显示已签收但我没收到，要求退款"))
            .await;
        let id = c["id"].as_i64().unwrap();
        assert_eq!(c["state"], "registered");
        assert_eq!(deadline(&c, "registration")["state"], "met", "[{e}]");
        assert_eq!(deadline(&c, "solution")["due_at"], at("2026-12-01 14:30").to_string(), "[{e}] 48 working hours");

        // Refusals change nothing: a step out of order, a missing field.
        let (s, v) = step(&app, agent, id, json!({"action": "execute"})).await;
        assert_eq!((s, v["errors"][0]["code"].as_str()), (409, Some("transition_not_allowed")), "[{e}] {v}");
        assert!(
            v["detail"].as_str().unwrap_or_default().contains("交核查") || v.to_string().contains("交核查"),
            "[{e}] {v}"
        );
        let (s, v) = step(&app, agent, id, json!({"action": "investigate"})).await;
        assert_eq!((s, v["errors"][0]["field"].as_str()), (422, Some("department_id")), "[{e}] {v}");
        assert_eq!(detail(&app, agent, id).await["complaint"]["state"], "registered");

        // To the logistics department at 10:10: due in 24 working hours.
        app.clock.set(at("2026-11-23 10:10"));
        let (s, v) = step(&app, agent, id, json!({"action": "investigate", "department_id": d.logistics})).await;
        assert_eq!(s, 200, "[{e}] {v}");
        assert_eq!(v["state"], "investigating");
        assert_eq!(deadline(&v, "investigation")["due_at"], at("2026-11-26 11:40").to_string(), "[{e}]");
        // Nothing is due before; at 11:41 on Thursday the miss is reported once and escalated.
        app.clock.set(at("2026-11-26 11:00"));
        guanxi_server::jobs::run_due(&app.state).await.unwrap();
        assert!(detail(&app, agent, id).await["complaint"]["escalated_at"].is_null(), "[{e}]");
        app.clock.set(at("2026-11-26 11:41"));
        guanxi_server::jobs::run_due(&app.state).await.unwrap();
        app.clock.set(at("2026-11-26 13:00"));
        guanxi_server::jobs::run_due(&app.state).await.unwrap();
        let v = detail(&app, agent, id).await;
        assert_eq!(v["complaint"]["escalated_at"], at("2026-11-26 11:41").to_string(), "[{e}] {v}");
        assert_eq!(deadline(&v["complaint"], "investigation")["state"], "overdue");
        assert!(v["complaint"]["overdue"].as_bool().unwrap());
        let h = history(&v);
        assert_eq!(h.iter().filter(|k| *k == "complaint_deadline_missed").count(), 1, "[{e}] {h:?}");
        assert_eq!(h.iter().filter(|k| *k == "complaint_escalated").count(), 1, "[{e}] {h:?}");

        // The investigation report.
        app.clock.set(at("2026-11-26 14:00"));
        let (s, v) =
            step(&app, agent, id, json!({"action": "report", "responsible_party": "nobody", "root_cause": ""})).await;
        assert_eq!(s, 422, "[{e}] {v}");
        let fields: Vec<&str> = v["errors"].as_array().unwrap().iter().map(|x| x["field"].as_str().unwrap()).collect();
        assert_eq!(fields, vec!["responsible_party", "root_cause"], "[{e}]");
        let (s, v) = step(
            &app,
            agent,
            id,
            json!({"action": "report", "responsible_party": "third_party", "root_cause": "快递员未按地址派送，误投邻居",
                "evidence": "快递面单照片\n物流轨迹截图"}),
        )
        .await;
        assert_eq!((s, v["state"].as_str()), (200, Some("investigated")), "[{e}] {v}");
        assert_eq!(deadline(&v, "investigation")["state"], "late");

        // A solution, rejected with a reason, then approved.
        let (s, v) = step(&app, agent, id, json!({"action": "propose", "solution": "补发一件"})).await;
        assert_eq!((s, v["state"].as_str()), (200, Some("solution_pending")), "[{e}] {v}");
        let (s, v) = step(&app, agent, id, json!({"action": "approve"})).await;
        assert_eq!(
            (s, v["errors"][0]["code"].as_str()),
            (409, Some("supervisor_only")),
            "[{e}] agents do not approve: {v}"
        );
        let (s, v) = step(&app, sup, id, json!({"action": "reject", "reason": " "})).await;
        assert_eq!((s, v["errors"][0]["field"].as_str()), (422, Some("reason")), "[{e}] {v}");
        let (s, v) = step(&app, sup, id, json!({"action": "reject", "reason": "客户诉求是退款，不是补发"})).await;
        assert_eq!((s, v["state"].as_str()), (200, Some("solution_rejected")), "[{e}] {v}");
        assert_eq!(v["rejection_reason"], "客户诉求是退款，不是补发");
        let (_, v) =
            step(&app, agent, id, json!({"action": "propose", "solution": "全额退款并赠送 20 元优惠券"})).await;
        assert_eq!(v["state"], "solution_pending");
        let (s, v) = step(&app, sup, id, json!({"action": "approve"})).await;
        assert_eq!((s, v["state"].as_str()), (200, Some("solution_approved")), "[{e}] {v}");

        // Agreed with the customer, a promise in the future.
        let (s, v) = step(&app, agent, id, json!({"action": "agree", "promised_at": "2026-11-20 10:00"})).await;
        assert_eq!((s, v["errors"][0]["field"].as_str()), (422, Some("promised_at")), "[{e}] {v}");
        let (s, v) = step(&app, agent, id, json!({"action": "agree", "promised_at": "2026-11-30 12:00"})).await;
        assert_eq!((s, v["state"].as_str()), (200, Some("agreed")), "[{e}] {v}");
        assert_eq!(deadline(&v, "solution")["state"], "met", "[{e}] agreed within 48 h");
        assert_eq!(deadline(&v, "execution")["due_at"], at("2026-11-30 12:00").to_string());

        // Executed on Monday: the customer is told at once, satisfaction asked.
        app.clock.set(at("2026-11-30 11:00"));
        let (s, v) = step(&app, agent, id, json!({"action": "execute"})).await;
        assert_eq!((s, v["state"].as_str()), (200, Some("executed")), "[{e}] {v}");
        assert_eq!(deadline(&v, "execution")["state"], "met");
        assert_eq!(deadline(&v, "notification")["state"], "met");
        let dv = detail(&app, agent, id).await;
        let purposes: Vec<&str> =
            dv["notifications"].as_array().unwrap().iter().map(|n| n["purpose"].as_str().unwrap()).collect();
        assert_eq!(purposes, vec!["executed", "satisfaction"], "[{e}]");

        // The customer confirms on Tuesday 1 December: closed, the ticket
        // archived, exactly one repair revisit three working days later.
        let repairs = |app: &TestApp| {
            let db = app.state.db.clone();
            async move {
                db.read(|c| {
                    c.query("SELECT due_on FROM maintenance_tasks WHERE scenario = 'complaint_repair'", &[])
                        .map(|rows| rows.iter().map(|r| r.get::<String>(0).unwrap()).collect::<Vec<_>>())
                })
                .await
                .unwrap()
            }
        };
        assert!(repairs(&app).await.is_empty());
        app.clock.set(at("2026-12-01 10:00"));
        let (s, v) = step(&app, agent, id, json!({"action": "confirm", "satisfaction": 9})).await;
        assert_eq!((s, v["errors"][0]["field"].as_str()), (422, Some("satisfaction")), "[{e}] {v}");
        let (s, v) =
            step(&app, agent, id, json!({"action": "confirm", "satisfaction": 5, "feedback": "退款已收到，满意"}))
                .await;
        assert_eq!((s, v["state"].as_str()), (200, Some("closed")), "[{e}] {v}");
        assert_eq!(v["closed_at"], at("2026-12-01 10:00").to_string());
        assert_eq!(
            repairs(&app).await,
            vec!["2026-12-04".to_string()],
            "[{e}] one repair revisit, 3 working days later"
        );
        let (s, _) = step(&app, sup, id, json!({"action": "close", "reason": "again"})).await;
        assert_eq!(s, 409, "[{e}] an archived complaint stays archived");
        assert_eq!(repairs(&app).await.len(), 1, "[{e}]");
        let (_, t) =
            json_of(app.call(Method::GET, &format!("/api/v1/tickets/{}", c["ticket_id"]), Some(agent), None).await)
                .await;
        assert_eq!(t["ticket"]["status"], "closed", "[{e}] {t}");

        // Every step is on the customer's timeline, with who and when.
        let (s, tl) = json_of(
            app.call(
                Method::GET,
                &format!("/api/v1/customers/{}/timeline?kind=ticket&limit=200", d.customer),
                Some(agent),
                None,
            )
            .await,
        )
        .await;
        assert_eq!(s, 200, "{tl}");
        let events: Vec<&str> = tl["items"].as_array().unwrap().iter().map(|x| x["event"].as_str().unwrap()).collect();
        for step in [
            "complaint.registered",
            "complaint.investigate",
            "complaint.deadline_missed",
            "complaint.escalated",
            "complaint.report",
            "complaint.reject",
            "complaint.approve",
            "complaint.agree",
            "complaint.execute",
            "complaint.notified",
            "complaint.confirm",
        ] {
            assert!(events.contains(&step), "[{e}] {step} in {events:?}");
        }
        let _ = &d.admin;
    }
}

#[tokio::test]
async fn the_tracking_table_filters_and_exports_to_excel_and_the_month_is_reviewed() {
    for app in apps().await {
        let e = app.engine.clone();
        let d = desk(&app).await;
        let tok = &d.agent.1;
        let other = customer(&app, &d.sup.1, "宁波海曙贸易公司", d.agent.0).await;
        register(&app, tok, body(d.customer, "product", "热水器漏电", "热水器漏电了")).await;
        register(&app, tok, body(d.customer, "product", "屏幕坏了", "屏幕有坏点")).await;
        register(&app, tok, body(other, "service", "态度差", "客服态度差")).await;
        app.clock.set(at("2026-12-02 10:00"));
        register(&app, tok, body(other, "logistics", "发货慢", "一周还没发货")).await;

        let (s, v) = json_of(app.call(Method::GET, "/api/v1/complaints?category=product", Some(tok), None).await).await;
        assert_eq!(s, 200, "[{e}] {v}");
        assert_eq!(v["items"].as_array().unwrap().len(), 2, "[{e}]");
        let (s, v) = json_of(app.call(Method::GET, "/api/v1/complaints?limit=2", Some(tok), None).await).await;
        assert_eq!(s, 200);
        let next = v["next"].as_str().unwrap().to_string();
        assert_eq!(v["items"][0]["subject"], "发货慢", "[{e}] newest first");
        let (_, v2) =
            json_of(app.call(Method::GET, &format!("/api/v1/complaints?limit=2&before={next}"), Some(tok), None).await)
                .await;
        assert_eq!(v2["items"].as_array().unwrap().len(), 2, "[{e}] the second page");
        // Another department's agent sees none of them (scoped in the query:
        // empty, not a page of others' rows taken away).
        let outsider = staff(&app, &d.admin, "zhao.lei@test.cn", "agent", Some(d.logistics)).await;
        let (s, v) = json_of(app.call(Method::GET, "/api/v1/complaints?limit=2", Some(&outsider.1), None).await).await;
        assert_eq!(s, 200, "[{e}] {v}");
        assert_eq!(v["items"].as_array().unwrap().len(), 0, "[{e}] {v}");
        assert!(v["next"].is_null(), "[{e}] {v}");
        let (s, v) =
            json_of(app.call(Method::GET, "/api/v1/complaints?urgency=loud&from=2026-13-01", Some(tok), None).await)
                .await;
        assert_eq!(s, 422, "[{e}] {v}");
        let fields: Vec<&str> = v["errors"].as_array().unwrap().iter().map(|x| x["field"].as_str().unwrap()).collect();
        assert_eq!(fields, vec!["urgency", "from"]);

        // The export: supervisors; the seed's columns; opens as a workbook.
        let r = app.call(Method::GET, "/api/v1/complaints/export?from=2026-11-01&to=2026-11-30", Some(tok), None).await;
        assert_eq!(r.status().as_u16(), 403, "[{e}] agents do not export");
        let r = app
            .call(Method::GET, "/api/v1/complaints/export?from=2026-11-01&to=2026-11-30", Some(&d.sup.1), None)
            .await;
        assert_eq!(r.status().as_u16(), 200, "[{e}]");
        let bytes = r.bytes().await.unwrap().to_vec();
        let mut book: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
        let sheet = book.worksheet_range("投诉处理跟踪表").unwrap();
        let rows: Vec<Vec<String>> = sheet.rows().map(|r| r.iter().map(|c| c.to_string()).collect()).collect();
        assert_eq!(rows[0][..4], ["投诉编号", "客户", "投诉时间", "紧急程度"], "[{e}]");
        assert_eq!(rows.len(), 4, "[{e}] header and November's three: {rows:?}");
        assert_eq!(rows[1][0], "CP20261123003");
        assert_eq!(rows[3][3], "紧急", "[{e}] the 漏电 complaint is urgent");

        // The month's review.
        let (s, v) =
            json_of(app.call(Method::GET, "/api/v1/complaints/review?month=2026-11", Some(&d.sup.1), None).await).await;
        assert_eq!(s, 200, "[{e}] {v}");
        assert_eq!(v["total"], 3);
        assert_eq!(v["pareto"][0]["key"], "product");
        assert_eq!(v["pareto"][0]["count"], 2);
        assert_eq!(v["pareto"][1]["cumulative_permille"], 1000);
        assert_eq!(v["repeat_customers"][0][2], 2, "[{e}] {v}");
        let (s, _) =
            json_of(app.call(Method::GET, "/api/v1/complaints/review?month=2026-13", Some(&d.sup.1), None).await).await;
        assert_eq!(s, 422);
        let (s, _) = json_of(app.call(Method::GET, "/api/v1/complaints/review", Some(tok), None).await).await;
        assert_eq!(s, 403, "[{e}] the review is for supervisors");
    }
}
