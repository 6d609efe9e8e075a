//! Relationship maintenance plans end to end, on every engine: a simulated
//! year in which every scenario fires exactly when the rules say, once, to
//! the right person; the complaint hook; the task queue, preparation view,
//! maintenance record and execution rate over the API; the rules.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::{BTreeMap, BTreeSet};

use guanxi_domain::Clock;
use guanxi_server::service::maintenance as svc;
use guanxi_store::maintenance::Task;
use guanxi_store::segments::{self, Stored};
use jiff::civil::{Date, date};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use reqwest::Method;
use serde_json::{Value, json};
use support::app::{TestApp, apps};

fn tz() -> TimeZone {
    TimeZone::get("Asia/Shanghai").unwrap()
}

/// A local time in Shanghai.
fn at(d: Date, h: i8, m: i8) -> Timestamp {
    d.at(h, m, 0, 0).to_zoned(tz()).unwrap().timestamp()
}

fn local(t: Timestamp) -> String {
    t.to_zoned(tz()).strftime("%Y-%m-%d %H:%M").to_string()
}

async fn send(app: &TestApp, method: Method, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let r = app.call(method, path, Some(token), body).await;
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> (u16, Value) {
    send(app, Method::POST, path, token, Some(body)).await
}

async fn get(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    send(app, Method::GET, path, token, None).await
}

async fn customer(app: &TestApp, token: &str, body: Value) -> i64 {
    let (s, c) = post(app, "/api/v1/customers", token, body).await;
    assert_eq!(s, 201, "[{}] {c}", app.engine);
    c["id"].as_i64().unwrap()
}

/// A segmentation row as the recompute job would write it.
fn seg(customer_id: i64, tier: &str, activity: &str, last_interaction: Option<Date>, now: Timestamp) -> Stored {
    Stored {
        customer_id,
        tier: tier.into(),
        activity: activity.into(),
        spend_fen: 0,
        orders_total: 0,
        last_order_on: None,
        last_interaction_on: last_interaction,
        rfm: None,
        rfm_segment: None,
        signals: Vec::new(),
        evidence: "[]".into(),
        rule_tags: Vec::new(),
        p_alive: None,
        expected_purchases: None,
        computed_at: now,
    }
}

async fn set_segment(app: &TestApp, row: Stored) {
    app.state.db.write(move |c| segments::upsert(c, &[row])).await.unwrap();
}

async fn all_tasks(app: &TestApp) -> Vec<Task> {
    app.state
        .db
        .read(|c| {
            let ids: Vec<i64> = c
                .query("SELECT id FROM maintenance_tasks ORDER BY id", &[])?
                .iter()
                .map(|r| r.get(0))
                .collect::<guanxi_store::Result<_>>()?;
            ids.into_iter().map(|id| guanxi_store::maintenance::get_task(c, id)).collect()
        })
        .await
        .unwrap()
}

/// Staff and a team: supervisor S with agents A and B in one group.
struct Staff {
    admin: String,
    s: (i64, String),
    a: (i64, String),
    b: (i64, String),
}

async fn staff(app: &TestApp) -> Staff {
    let admin = app.admin_token().await;
    let (st, g) = post(app, "/api/v1/groups", &admin, json!({"name": "华东一组", "kind": "team"})).await;
    assert_eq!(st, 201, "{g}");
    let group = g["id"].as_i64().unwrap();
    let s = app.user(&admin, "lead@test.cn", "supervisor", Some(group)).await;
    let a = app.user(&admin, "a@test.cn", "agent", Some(group)).await;
    let b = app.user(&admin, "b@test.cn", "agent", Some(group)).await;
    Staff { admin, s, a, b }
}

/// The maintenance record an agent fills on the due day.
fn record_body(scenario: &str) -> Value {
    let mut body = json!({
        "channel": "phone",
        "summary": "按计划完成维护联系",
        "feedback": "客户对服务满意",
        "completion": "completed",
        "effect": "achieved",
        "satisfaction": 5
    });
    if scenario == "churn_recovery" {
        body["churn_reason"] = json!("price");
    }
    if matches!(scenario, "revisit" | "deep_interview") {
        body["checklist"] = json!(["usage", "needs", "questions"]);
    }
    body
}

#[tokio::test]
async fn a_simulated_year_fires_every_scenario_once_to_the_right_person() {
    for app in apps().await {
        let e = app.engine.clone();
        let st = staff(&app).await;
        let admin = st.admin.clone();
        let (a, b, s) = (st.a.0, st.b.0, st.s.0);

        // Half a year before the simulation: the customers already known.
        let setup = date(2024, 6, 1);
        app.clock.set(at(setup, 10, 0));
        let o = customer(
            &app,
            &admin,
            json!({"name": "杭州青禾食品", "owner_id": a, "cooperation_start": "2024-02-20",
                   "contact_window": "晚上8点以后，本月出差", "preferred_channel": "phone"}),
        )
        .await;
        let h = customer(
            &app,
            &admin,
            json!({"name": "北京明远科技", "owner_id": a, "cooperation_start": "2023-07-15", "contract_end": "2025-12-31"}),
        )
        .await;
        let (sc, zhang) = post(
            &app,
            &format!("/api/v1/customers/{h}/contacts"),
            &admin,
            json!({"name": "张伟", "birthday": "1975-08-08"}),
        )
        .await;
        assert_eq!(sc, 201, "[{e}] {zhang}");
        let zhang = zhang["id"].as_i64().unwrap();
        let w = customer(&app, &admin, json!({"name": "上海星辰机械", "owner_id": a})).await;
        let q = customer(&app, &admin, json!({"name": "成都云帆物流", "owner_id": a})).await;
        let t = customer(&app, &admin, json!({"name": "深圳博瑞电子", "owner_id": b})).await;
        let p = customer(&app, &admin, json!({"name": "苏州嘉禾新材料", "owner_id": b, "stage": "prospect"})).await;
        let now = app.clock.now();
        for (id, tier) in [(o, "ordinary"), (h, "high"), (w, "ordinary"), (q, "ordinary"), (t, "potential")] {
            set_segment(&app, seg(id, tier, "active", Some(date(2024, 5, 30)), now)).await;
        }
        let names: BTreeMap<i64, &str> =
            [(o, "O"), (h, "H"), (w, "W"), (q, "Q"), (t, "T"), (p, "P")].into_iter().collect();
        let mut names = names;
        let who: BTreeMap<i64, &str> = [(a, "A"), (b, "B"), (s, "S")].into_iter().collect();
        let tokens: BTreeMap<i64, String> =
            [(a, st.a.1.clone()), (b, st.b.1.clone()), (s, st.s.1.clone())].into_iter().collect();

        // (created on, customer, scenario, occasion, due, owner, collaborator)
        let mut seen: BTreeSet<(String, String, String, String, String, String, String)> = BTreeSet::new();
        let mut last_id = 0i64;
        let mut n = 0i64;
        let mut late = Vec::new();
        let mut day = date(2025, 1, 1);
        let end = date(2025, 12, 31);
        while day <= end {
            // 02:00 — the segmentation job raises churn warnings.
            if day == date(2025, 6, 10) || day == date(2025, 11, 4) {
                app.clock.set(at(day, 2, 0));
                let when = app.clock.now();
                app.state
                    .db
                    .write(move |c| {
                        segments::add_events(c, &[(w, "churn_warning", "近90天订单量下降70%".into())], when)
                    })
                    .await
                    .unwrap();
            }
            // 03:00 — the nightly generation; a second run creates nothing.
            app.clock.set(at(day, 3, 0));
            svc::generate(&app.state, &|_, _| {}).await.unwrap();
            let again = svc::generate(&app.state, &|_, _| {}).await.unwrap();
            assert_eq!(again.created, 0, "[{e}] {day}: a second run created {:?}", again.by_scenario);

            // 10:00 — what happens in the day.
            app.clock.set(at(day, 10, 0));
            if day == date(2025, 3, 5) {
                let id = customer(&app, &admin, json!({"name": "南京鼎盛科技", "owner_id": b})).await;
                names.insert(id, "N");
            }
            if day == date(2025, 5, 10) {
                set_segment(&app, seg(q, "ordinary", "silent", Some(date(2025, 2, 1)), app.clock.now())).await;
            }
            if day == date(2025, 6, 12) {
                let (sc, r) = post(
                    &app,
                    &format!("/api/v1/customers/{p}/orders"),
                    &admin,
                    json!({"ordered_on": "2025-06-12", "amount": "12800", "external_id": "P-1"}),
                )
                .await;
                assert_eq!(sc, 201, "[{e}] {r}");
                // A second order is not a first order.
                let (sc, _) = post(
                    &app,
                    &format!("/api/v1/customers/{p}/orders"),
                    &admin,
                    json!({"ordered_on": "2025-06-12", "amount": "300", "external_id": "P-2"}),
                )
                .await;
                assert_eq!(sc, 201);
            }
            if day == date(2025, 11, 1) {
                let (sc, r) = send(
                    &app,
                    Method::PUT,
                    "/api/v1/maintenance/rules",
                    &admin,
                    Some(json!({"churn_recovery": {"enabled": true, "within_hours": 24, "owner": "owner"}})),
                )
                .await;
                assert_eq!(sc, 200, "[{e}] {r}");
            }
            // 15:00 — a complaint of O is closed (the ticket engine's hook), twice.
            if day == date(2025, 9, 30) {
                app.clock.set(at(day, 15, 0));
                let first = svc::on_complaint_closed(&app.state, o, at(day, 15, 0), "TS20250930-0001").await.unwrap();
                assert!(first.is_some(), "[{e}]");
                let second = svc::on_complaint_closed(&app.state, o, at(day, 15, 0), "TS20250930-0001").await.unwrap();
                assert_eq!(second, None, "[{e}] closing the same complaint twice creates one task");
            }

            // 17:00 — the owners do the tasks due today (Q's silent care three days late).
            app.clock.set(at(day, 17, 0));
            let due: Vec<Task> = all_tasks(&app)
                .await
                .into_iter()
                .filter(|x| x.status == "open" && x.kind == "call")
                .filter(|x| if x.scenario == "silent_care" { day == date(2025, 5, 19) } else { x.due_on == day })
                .collect();
            for x in due {
                let token = &tokens[&x.owner_id.unwrap()];
                let (sc, r) =
                    post(&app, &format!("/api/v1/maintenance/tasks/{}/record", x.id), token, record_body(&x.scenario))
                        .await;
                assert_eq!(sc, 201, "[{e}] {day} recording {} {}: {r}", x.scenario, x.occasion);
                if x.scenario == "silent_care" {
                    late.push(x.id);
                }
            }

            // What was created today.
            let since = last_id;
            for x in all_tasks(&app).await.into_iter().filter(|x| x.id > since) {
                last_id = last_id.max(x.id);
                n += 1;
                assert_eq!(
                    guanxi_domain::clock::local_date(x.created_at, &tz()),
                    day,
                    "[{e}] created when the clock said"
                );
                seen.insert((
                    day.to_string(),
                    names.get(&x.customer_id).copied().unwrap_or("?").to_string(),
                    x.scenario.clone(),
                    x.occasion.replace(&format!(":{zhang}:"), ":张伟:"),
                    local(x.due_at),
                    x.owner_id.and_then(|u| who.get(&u).copied()).unwrap_or("-").to_string(),
                    x.collaborator_id.and_then(|u| who.get(&u).copied()).unwrap_or("-").to_string(),
                ));
            }
            day = day.checked_add(1.day()).unwrap();
        }

        let expected: BTreeSet<(String, String, String, String, String, String, String)> = [
            // T, potential: content every two months (outreach), holiday greetings.
            ("2025-01-01", "T", "content_push", "content:2025-01", "2025-01-02 18:00", "B", "-"),
            ("2025-03-01", "T", "content_push", "content:2025-03", "2025-03-03 18:00", "B", "-"),
            ("2025-05-01", "T", "content_push", "content:2025-05", "2025-05-06 18:00", "B", "-"),
            ("2025-07-01", "T", "content_push", "content:2025-07", "2025-07-01 18:00", "B", "-"),
            ("2025-09-01", "T", "content_push", "content:2025-09", "2025-09-01 18:00", "B", "-"),
            ("2025-11-01", "T", "content_push", "content:2025-11", "2025-11-03 18:00", "B", "-"),
            // Spring Festival 29 January 2025: three days before is Sunday
            // 26 January, an adjusted working day.
            ("2025-01-19", "T", "milestone", "holiday:春节:2025", "2025-01-26 18:00", "B", "-"),
            ("2025-01-19", "H", "milestone", "holiday:春节:2025", "2025-01-26 18:00", "A", "-"),
            // Mid-Autumn 6 October 2025 falls in the Golden Week: the last
            // working day before it, planned a week ahead of that day.
            ("2025-09-23", "T", "milestone", "holiday:中秋节:2025", "2025-09-30 18:00", "B", "-"),
            ("2025-09-23", "H", "milestone", "holiday:中秋节:2025", "2025-09-30 18:00", "A", "-"),
            // H, high value: a revisit every month from its cooperation
            // start's phase, every third one a deep interview, each
            // scheduled by the record of the one before.
            ("2025-01-08", "H", "deep_interview", "revisit:2025-01-15", "2025-01-15 18:00", "A", "-"),
            ("2025-01-15", "H", "revisit", "revisit:2025-02-15", "2025-02-17 18:00", "A", "-"),
            ("2025-02-17", "H", "revisit", "revisit:2025-03-17", "2025-03-17 18:00", "A", "-"),
            ("2025-03-17", "H", "deep_interview", "revisit:2025-04-17", "2025-04-17 18:00", "A", "-"),
            ("2025-04-17", "H", "revisit", "revisit:2025-05-17", "2025-05-19 18:00", "A", "-"),
            ("2025-05-19", "H", "revisit", "revisit:2025-06-19", "2025-06-19 18:00", "A", "-"),
            ("2025-06-19", "H", "deep_interview", "revisit:2025-07-19", "2025-07-21 18:00", "A", "-"),
            ("2025-07-21", "H", "revisit", "revisit:2025-08-21", "2025-08-21 18:00", "A", "-"),
            ("2025-08-21", "H", "revisit", "revisit:2025-09-21", "2025-09-22 18:00", "A", "-"),
            ("2025-09-22", "H", "deep_interview", "revisit:2025-10-22", "2025-10-22 18:00", "A", "-"),
            ("2025-10-22", "H", "revisit", "revisit:2025-11-22", "2025-11-24 18:00", "A", "-"),
            ("2025-11-24", "H", "revisit", "revisit:2025-12-24", "2025-12-24 18:00", "A", "-"),
            ("2025-12-24", "H", "deep_interview", "revisit:2026-01-24", "2026-01-26 18:00", "A", "-"),
            // H's second cooperation anniversary (15 July; three days before is
            // a Saturday, so it is due on Friday 11th, planned a week ahead).
            ("2025-07-04", "H", "milestone", "anniversary:2025", "2025-07-11 18:00", "A", "-"),
            // The contact's birthday (8 August), three days before.
            ("2025-07-29", "H", "milestone", "birthday:张伟:2025", "2025-08-05 18:00", "A", "-"),
            // The contract ends 31 December: renewal 30 days before.
            ("2025-11-24", "H", "renewal", "contract:2025-12-31", "2025-12-01 18:00", "A", "-"),
            // O, ordinary, prefers the evening (after 20:00): due at 22:00.
            ("2025-02-10", "O", "milestone", "anniversary:2025", "2025-02-17 22:00", "A", "-"),
            ("2025-02-13", "O", "revisit", "revisit:2025-02-20", "2025-02-20 22:00", "A", "-"),
            ("2025-02-20", "O", "revisit", "revisit:2025-05-20", "2025-05-20 22:00", "A", "-"),
            ("2025-05-20", "O", "revisit", "revisit:2025-08-20", "2025-08-20 22:00", "A", "-"),
            ("2025-08-20", "O", "revisit", "revisit:2025-11-20", "2025-11-20 22:00", "A", "-"),
            // A complaint closed on Tuesday 30 September, before the Golden
            // Week: three working days skip 1–8 October and count Saturday 11.
            ("2025-09-30", "O", "complaint_repair", "complaint:TS20250930-0001", "2025-10-11 22:00", "A", "-"),
            // Its repair restarted the window: the next revisit is a quarter
            // after it (and the one of 20 November is superseded).
            ("2025-10-11", "O", "revisit", "revisit:2026-01-11", "2026-01-12 22:00", "A", "-"),
            // New customers.
            ("2025-03-06", "N", "first_follow_up", "first", "2025-03-07 18:00", "B", "-"),
            ("2025-06-12", "P", "first_follow_up", "first", "2025-06-13 18:00", "B", "-"),
            // Churn warnings: the supervisor with the owner collaborating,
            // then (after the setting changed) the owner.
            ("2025-06-10", "W", "churn_recovery", "warning:1", "2025-06-10 18:00", "S", "A"),
            ("2025-11-04", "W", "churn_recovery", "warning:2", "2025-11-04 18:00", "A", "-"),
            // Q went silent.
            ("2025-05-11", "Q", "silent_care", "silent:2025-02-01", "2025-05-16 18:00", "A", "-"),
        ]
        .iter()
        .map(|(c, cu, sc, oc, du, ow, co)| {
            (
                c.to_string(),
                cu.to_string(),
                sc.to_string(),
                oc.to_string(),
                du.to_string(),
                ow.to_string(),
                co.to_string(),
            )
        })
        .collect();
        let missing: Vec<_> = expected.difference(&seen).collect();
        let extra: Vec<_> = seen.difference(&expected).collect();
        assert!(missing.is_empty() && extra.is_empty(), "[{e}] missing {missing:#?}\nunexpected {extra:#?}");
        assert_eq!(n, expected.len() as i64, "[{e}] each task once");

        // The superseded revisit, and the timeline: one entry per task made.
        let tasks = all_tasks(&app).await;
        let superseded: Vec<&Task> = tasks.iter().filter(|x| x.status == "superseded").collect();
        assert_eq!(superseded.len(), 1, "[{e}]");
        assert_eq!(superseded[0].occasion, "revisit:2025-11-20");
        let entries: i64 = app
            .state
            .db
            .read(|c| {
                c.scalar(
                    "SELECT COUNT(*) FROM timeline WHERE kind = 'maintenance' AND title LIKE 'maintenance.created.%'",
                    &[],
                )
            })
            .await
            .unwrap();
        assert_eq!(entries, n, "[{e}]");

        // The execution rate of 2025: every call task due was done on its
        // due day except Q's silent care, done three days late.
        assert_eq!(late.len(), 1);
        let (sc, rate) = get(&app, "/api/v1/maintenance/execution?from=2025-01-01&to=2025-12-31", &admin).await;
        assert_eq!(sc, 200, "[{e}] {rate}");
        assert_eq!(rate["total"]["due"], 29, "[{e}] {rate}");
        assert_eq!(rate["total"]["on_time"], 28, "[{e}] {rate}");
        assert_eq!(rate["total"]["meets_target"], true, "[{e}] 96.6% ≥ 95%");
        let silent = rate["rows"].as_array().unwrap().iter().find(|r| r["key"] == "silent_care").unwrap();
        assert_eq!(
            (silent["due"].as_i64(), silent["on_time"].as_i64(), silent["meets_target"].as_bool()),
            (Some(1), Some(0), Some(false))
        );
        let (_, by_agent) =
            get(&app, "/api/v1/maintenance/execution?from=2025-01-01&to=2025-12-31&by=agent", &admin).await;
        let sup = by_agent["rows"].as_array().unwrap().iter().find(|r| r["label"] == "lead").unwrap();
        assert_eq!(sup["due"], 1, "[{e}] the supervisor's churn recovery");
        assert_eq!(by_agent["total"]["achieved_rate"], 1.0);
        let (_, by_tier) =
            get(&app, "/api/v1/maintenance/execution?from=2025-01-01&to=2025-12-31&by=tier", &admin).await;
        let high = by_tier["rows"].as_array().unwrap().iter().find(|r| r["key"] == "high").unwrap();
        assert_eq!(high["due"], 17, "[{e}] {by_tier}");
        let (_, by_month) =
            get(&app, "/api/v1/maintenance/execution?from=2025-01-01&to=2025-12-31&by=month", &admin).await;
        let months: Vec<&str> =
            by_month["rows"].as_array().unwrap().iter().map(|r| r["key"].as_str().unwrap()).collect();
        assert_eq!(months.len(), 12, "[{e}] {months:?}");
        assert_eq!((months[0], months[11]), ("2025-01", "2025-12"));
        let may = by_month["rows"].as_array().unwrap().iter().find(|r| r["key"] == "2025-05").unwrap();
        assert_eq!((may["due"].as_i64(), may["on_time"].as_i64()), (Some(3), Some(2)), "[{e}] {may}");
        // The churn reasons recorded by the recoveries (G4).
        let reasons: i64 = app
            .state
            .db
            .read(move |c| {
                c.scalar("SELECT COUNT(*) FROM churn_reasons WHERE customer_id = $1", guanxi_store::args![w])
            })
            .await
            .unwrap();
        assert_eq!(reasons, 2, "[{e}]");
    }
}

/// Rows of the tables a refused record must not touch.
async fn record_tables(app: &TestApp) -> Vec<i64> {
    let mut out = Vec::new();
    for t in ["maintenance_records", "communications", "action_items", "customer_tags", "churn_reasons"] {
        out.push(app.state.db.read(move |c| c.scalar(&format!("SELECT COUNT(*) FROM {t}"), &[])).await.unwrap());
    }
    out.push(
        app.state
            .db
            .read(|c| c.scalar("SELECT COUNT(*) FROM maintenance_tasks WHERE status = 'open'", &[]))
            .await
            .unwrap(),
    );
    out
}

/// A customer of A with a complaint closed now (its repair due in three
/// working days), and one of B whose complaint was closed long ago
/// (overdue). Today is Monday 2026-11-23.
struct Scene {
    st: Staff,
    c1: i64,
    c2: i64,
    li: i64,
    repair: i64,
    overdue: i64,
}

async fn scene(app: &TestApp) -> Scene {
    let st = staff(app).await;
    let c1 = customer(
        app,
        &st.admin,
        json!({"name": "北京明远科技", "owner_id": st.a.0, "cooperation_start": "2025-01-10", "tags": ["老客户"],
               "industry": "制造业", "last_cooperation_on": "2026-10-30"}),
    )
    .await;
    let (_, li) =
        post(app, &format!("/api/v1/customers/{c1}/contacts"), &st.admin, json!({"name": "李娜", "title": "采购经理"}))
            .await;
    let c2 = customer(app, &st.admin, json!({"name": "上海星辰机械", "owner_id": st.b.0})).await;
    let now = app.clock.now();
    let repair = svc::on_complaint_closed(&app.state, c1, now, "TS20261123-0001").await.unwrap().unwrap();
    let overdue =
        svc::on_complaint_closed(&app.state, c2, now - jiff::SignedDuration::from_hours(24 * 10), "TS20261113-0009")
            .await
            .unwrap()
            .unwrap();
    Scene { st, c1, c2, li: li["id"].as_i64().unwrap(), repair, overdue }
}

#[tokio::test]
async fn queue_preparation_record_and_rates_over_the_api() {
    for app in apps().await {
        let e = app.engine.clone();
        let sc = scene(&app).await;
        let (a, b) = (&sc.st.a.1, &sc.st.b.1);
        let admin = sc.st.admin.clone();
        // A churn warning for A's customer: the supervisor owns the call.
        let (c1, now) = (sc.c1, app.clock.now());
        app.state
            .db
            .write(move |c| segments::add_events(c, &[(c1, "churn_warning", "近90天订单量下降70%".into())], now))
            .await
            .unwrap();
        set_segment(&app, seg(c1, "high", "active", Some(date(2026, 10, 30)), now)).await;
        let (s, r) = post(&app, "/api/v1/maintenance/generate", a, json!({})).await;
        assert_eq!(s, 403, "[{e}] agents do not generate: {r}");
        let (s, r) = post(&app, "/api/v1/maintenance/generate", &sc.st.s.1, json!({})).await;
        assert_eq!(s, 200, "[{e}] {r}");
        assert_eq!(r["by_scenario"]["churn_recovery"], 1, "[{e}] {r}");

        // A's queue: the repair (owned) and the churn recovery (collaborating).
        let (s, q) = get(&app, "/api/v1/maintenance/tasks", a).await;
        assert_eq!(s, 200, "[{e}] {q}");
        let scenarios: Vec<&str> =
            q["items"].as_array().unwrap().iter().map(|t| t["scenario"].as_str().unwrap()).collect();
        assert!(scenarios.contains(&"complaint_repair") && scenarios.contains(&"churn_recovery"), "[{e}] {q}");
        let repair = q["items"].as_array().unwrap().iter().find(|t| t["id"] == sc.repair).unwrap();
        assert_eq!(repair["due_on"], "2026-11-26", "[{e}] three working days after Monday");
        assert_eq!(repair["urgency"], "upcoming");
        assert_eq!(repair["scenario_label"], "投诉修复");
        let churn = q["items"].as_array().unwrap().iter().find(|t| t["scenario"] == "churn_recovery").unwrap();
        assert_eq!((churn["owner_name"].as_str(), churn["collaborator_name"].as_str()), (Some("lead"), Some("a")));
        // Raised at 10:00 on Monday: due by 10:00 on Tuesday, in working time.
        let due: Timestamp = churn["due_at"].as_str().unwrap().parse().unwrap();
        assert_eq!(local(due), "2026-11-24 10:00", "[{e}] within 24 hours");
        let (_, up) = get(&app, "/api/v1/maintenance/tasks?section=upcoming&scenario=complaint_repair", a).await;
        assert_eq!(up["total"], 1, "[{e}] {up}");
        let (_, none) = get(&app, "/api/v1/maintenance/tasks?section=overdue", a).await;
        assert_eq!(none["total"], 0);
        assert_eq!(get(&app, "/api/v1/maintenance/tasks?view=team", a).await.0, 403, "[{e}] agents see their own");
        let (s, bad) = get(&app, "/api/v1/maintenance/tasks?section=soon&scenario=gossip", a).await;
        assert_eq!(s, 422);
        let fields: Vec<&str> =
            bad["errors"].as_array().unwrap().iter().map(|x| x["field"].as_str().unwrap()).collect();
        assert_eq!(fields, vec!["section", "scenario"]);
        // The supervisor's team: B's overdue repair too.
        let (_, team) = get(&app, "/api/v1/maintenance/tasks?view=team&section=overdue", &sc.st.s.1).await;
        assert_eq!(team["total"], 1, "[{e}] {team}");
        assert_eq!(team["items"][0]["id"], sc.overdue);
        let repairs = team["counts"].as_array().unwrap().iter().find(|c| c["scenario"] == "complaint_repair").unwrap();
        assert_eq!((repairs["overdue"].as_i64(), repairs["upcoming"].as_i64()), (Some(1), Some(1)), "{team}");

        // The preparation view.
        let (s, p) = get(&app, &format!("/api/v1/maintenance/tasks/{}", sc.repair), a).await;
        assert_eq!(s, 200, "[{e}] {p}");
        assert!(p["goal"].as_str().unwrap().contains("确认问题已解决"), "{p}");
        assert!(!p["scripts"].as_array().unwrap().is_empty());
        assert_eq!(p["customer"]["tier"], "high");
        assert_eq!(p["customer"]["contacts"][0], "李娜");
        assert!(p["recent"].as_array().unwrap().iter().any(|x| x["title"] == "生成维护任务 · 投诉修复"), "{p}");
        // Another group's agent cannot see it.
        let (_, x) = app.user(&admin, "x@test.cn", "agent", None).await;
        assert_eq!(get(&app, &format!("/api/v1/maintenance/tasks/{}", sc.repair), &x).await.0, 404);
        assert_eq!(
            post(&app, &format!("/api/v1/maintenance/tasks/{}/record", sc.repair), &x, record_body("complaint_repair"))
                .await
                .0,
            404
        );

        // A record whose action item names no owner, or no due date: refused
        // beside the item, nothing saved.
        let before = record_tables(&app).await;
        let mut body = record_body("complaint_repair");
        body["action_items"] = json!([
            {"content": "两个工作日内发送物流改进方案", "due": "2026-11-25 18:00"},
            {"content": "安排技术回访", "owner_id": sc.st.a.0}
        ]);
        body["add_tags"] = json!(["对功能有需求"]);
        let (s, r) = post(&app, &format!("/api/v1/maintenance/tasks/{}/record", sc.repair), a, body.clone()).await;
        assert_eq!(s, 422, "[{e}] {r}");
        let errs: Vec<(&str, &str)> = r["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| (x["field"].as_str().unwrap(), x["message"].as_str().unwrap()))
            .collect();
        assert_eq!(errs, vec![("action_items[0].owner_id", "必填"), ("action_items[1].due", "必填")], "[{e}]");
        let en = app
            .http
            .post(format!("{}/api/v1/maintenance/tasks/{}/record", app.url, sc.repair))
            .bearer_auth(a)
            .header("accept-language", "en")
            .json(&body)
            .send()
            .await
            .unwrap();
        let en: Value = en.json().await.unwrap();
        assert_eq!(en["errors"][0]["message"], "is required");
        assert_eq!(record_tables(&app).await, before, "[{e}] nothing saved");

        // The complete record closes the task, saves the communication and
        // its action items, changes the tags and schedules the next revisit.
        body["action_items"][0]["owner_id"] = json!(sc.st.a.0);
        body["action_items"][1]["due"] = json!("2026-11-27");
        body["contact_id"] = json!(sc.li);
        body["needs_explicit"] = json!("希望增加发货提醒");
        body["needs_implicit"] = json!("可能需要更高级的服务套餐");
        body["remove_tags"] = json!(["老客户"]);
        let scripts = p["scripts"].as_array().unwrap();
        body["script_id"] = scripts[0]["id"].clone();
        let (s, saved) = post(&app, &format!("/api/v1/maintenance/tasks/{}/record", sc.repair), a, body.clone()).await;
        assert_eq!(s, 201, "[{e}] {saved}");
        assert_eq!(saved["action_item_ids"].as_array().unwrap().len(), 2);
        let next = saved["next_task_id"].as_i64().expect("the next revisit");
        let (_, n) = get(&app, &format!("/api/v1/maintenance/tasks/{next}"), a).await;
        // High value: a month after the repair (a deep interview: none was done yet).
        assert_eq!(n["task"]["occasion"], "revisit:2026-12-23", "[{e}] {n}");
        assert_eq!(n["task"]["scenario"], "deep_interview");
        let (_, done) = get(&app, &format!("/api/v1/maintenance/tasks/{}", sc.repair), a).await;
        assert_eq!(done["task"]["status"], "done");
        assert_eq!(done["task"]["on_time"], true);
        let rec = &done["record"];
        assert_eq!(rec["snapshot"]["contact"], "李娜", "[{e}] {rec}");
        assert_eq!(rec["snapshot"]["industry"], "制造业");
        assert_eq!(rec["snapshot"]["tags"], json!(["对功能有需求"]));
        assert_eq!(
            (rec["effect"].as_str(), rec["needs_implicit"].as_str()),
            (Some("achieved"), Some("可能需要更高级的服务套餐"))
        );
        let (_, cust) = get(&app, &format!("/api/v1/customers/{}", sc.c1), a).await;
        assert_eq!(cust["tags"], json!(["对功能有需求"]), "[{e}] {cust}");
        let (_, items) = get(&app, "/api/v1/action-items", a).await;
        assert_eq!(items.as_array().map(Vec::len).unwrap_or(0), 2, "[{e}] on the owner's list: {items}");
        let (_, tl) = get(&app, &format!("/api/v1/customers/{}/timeline?kind=maintenance", sc.c1), a).await;
        let titles: Vec<&str> = tl["items"].as_array().unwrap().iter().map(|x| x["event"].as_str().unwrap()).collect();
        assert!(titles.contains(&"maintenance.done.complaint_repair"), "[{e}] {titles:?}");
        // Twice: refused, nothing saved.
        let before = record_tables(&app).await;
        let (s, r) = post(&app, &format!("/api/v1/maintenance/tasks/{}/record", sc.repair), a, body).await;
        assert_eq!((s, r["errors"][0]["field"].as_str()), (422, Some("task")), "[{e}] {r}");
        assert_eq!(record_tables(&app).await, before);

        // Execution: A's own figures; the supervisor sees everyone's.
        let (s, rate) = get(&app, "/api/v1/maintenance/execution?from=2026-11-01&to=2026-11-30&by=agent", a).await;
        assert_eq!(s, 200, "{rate}");
        assert_eq!(rate["total"]["due"], 0, "[{e}] nothing of A's fell due yet: {rate}");
        let (_, all) = get(&app, "/api/v1/maintenance/execution?from=2026-11-01&to=2026-11-30", &sc.st.s.1).await;
        assert_eq!(all["total"]["due"], 1, "[{e}] B's overdue repair: {all}");
        assert_eq!(all["total"]["rate"], 0.0);
        let (s, bad) = get(&app, "/api/v1/maintenance/execution?by=weather&from=2026-13-01", a).await;
        assert_eq!(s, 422);
        assert_eq!(bad["errors"][0]["field"], "by");
        let _ = b;

        // Rules: everyone reads, administrators change; refused numbers named.
        let (s, rules) = get(&app, "/api/v1/maintenance/rules", a).await;
        assert_eq!((s, rules["renewal"]["days_before"].as_i64()), (200, Some(30)));
        assert_eq!(send(&app, Method::PUT, "/api/v1/maintenance/rules", a, Some(rules.clone())).await.0, 403);
        let mut wrong = rules.clone();
        wrong["cadence"][0]["revisit_months"] = json!(0);
        wrong["renewal"]["days_before"] = json!(500);
        let (s, r) = send(&app, Method::PUT, "/api/v1/maintenance/rules", &admin, Some(wrong)).await;
        assert_eq!(s, 422, "[{e}] {r}");
        let fields: Vec<&str> = r["errors"].as_array().unwrap().iter().map(|x| x["field"].as_str().unwrap()).collect();
        assert_eq!(fields, vec!["cadence.high.revisit_months", "renewal.days_before"]);
        assert_eq!(r["errors"][0]["message"], "超出允许范围");
        let (s, r) = send(
            &app,
            Method::PUT,
            "/api/v1/maintenance/rules",
            &admin,
            Some(json!({"renewal": {"days_before": 45}, "typo": 1})),
        )
        .await;
        assert_eq!((s, r["errors"][0]["field"].as_str()), (422, Some("typo")), "[{e}] unknown fields are refused: {r}");
        let mut good = rules.clone();
        good["renewal"]["days_before"] = json!(45);
        assert_eq!(send(&app, Method::PUT, "/api/v1/maintenance/rules", &admin, Some(good)).await.0, 200);
        assert_eq!(get(&app, "/api/v1/maintenance/rules", a).await.1["renewal"]["days_before"], 45);

        let (_, doc) = get(&app, "/api/openapi.json", a).await;
        for path in
            ["/api/v1/maintenance/tasks", "/api/v1/maintenance/tasks/{id}/record", "/api/v1/maintenance/execution"]
        {
            assert!(doc["paths"][path].is_object(), "{path} documented");
        }
        let _ = sc.c2;
    }
}

#[tokio::test]
async fn a_complaint_closed_on_the_friday_before_the_golden_week() {
    for app in apps().await {
        let admin = app.admin_token().await;
        let c = customer(&app, &admin, json!({"name": "杭州青禾食品"})).await;
        // 2022: Friday 30 September is the last working day before the
        // holiday of 1–7 October; Saturday 8 and Sunday 9 are worked.
        let closed = at(date(2022, 9, 30), 16, 30);
        let id = svc::on_complaint_closed(&app.state, c, closed, "TS20220930-0001").await.unwrap().unwrap();
        let t = app.state.db.read(move |c| guanxi_store::maintenance::get_task(c, id)).await.unwrap();
        assert_eq!(
            (t.due_on, local(t.due_at)),
            (date(2022, 10, 10), "2022-10-10 18:00".to_string()),
            "[{}]",
            app.engine
        );
        assert_eq!(t.owner_id, None, "no owner: unassigned, for the supervisors' queue");
        assert_eq!(svc::on_complaint_closed(&app.state, c, closed, "TS20220930-0001").await.unwrap(), None);
        // Another complaint of the same customer is another task.
        assert!(svc::on_complaint_closed(&app.state, c, closed, "TS20220930-0002").await.unwrap().is_some());
    }
}

/// Posts a form; returns the status, the redirect target and the body.
async fn form(app: &TestApp, http: &reqwest::Client, path: &str, fields: &[(&str, &str)]) -> (u16, String, String) {
    let r = http.post(format!("{}{path}", app.url)).form(fields).send().await.unwrap();
    let location =
        r.headers().get(reqwest::header::LOCATION).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (r.status().as_u16(), location, r.text().await.unwrap())
}

/// The text of the element with this id (up to its first closing tag).
fn by_id(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[at..];
    let start = rest.find('>')? + 1;
    let end = rest[start..].find("</")? + start;
    Some(rest[start..end].trim().to_string())
}

#[tokio::test]
async fn the_pages_queue_preparation_record_form_rates_and_rules() {
    for app in apps().await {
        let e = app.engine.clone();
        let sc = scene(&app).await;
        let http = app.signed_in("a@test.cn", "password-123").await;

        // The workbench links the queue; the navigation too.
        let (s, home) = app.page(&http, "/").await;
        assert_eq!(s, 200, "[{e}]");
        assert!(home.contains("id=\"my-maintenance\"") && home.contains("href=\"/maintenance\""), "[{e}]");
        assert!(home.contains("投诉修复 · 北京明远科技"), "[{e}] the open task on the workbench");

        // The queue: A's repair, upcoming; nothing overdue; a bad filter is refused.
        let (s, q) = app.page(&http, "/maintenance").await;
        assert_eq!(s, 200, "[{e}]");
        assert!(q.contains("id=\"task-table\"") && q.contains("北京明远科技") && q.contains("即将到期"), "[{e}]");
        assert!(!q.contains("上海星辰机械"), "[{e}] B's task is not A's");
        let (_, overdue) = app.page(&http, "/maintenance?section=overdue").await;
        assert!(overdue.contains("这里没有维护任务"), "[{e}]");
        assert_eq!(app.page(&http, "/maintenance?section=soon").await.0, 422);
        assert_eq!(app.page(&http, "/maintenance?view=team").await.0, 403);
        let lead = app.signed_in("lead@test.cn", "password-123").await;
        let (_, team) = app.page(&lead, "/maintenance?view=team&section=overdue").await;
        assert!(team.contains("上海星辰机械") && team.contains("已逾期"), "[{e}] the supervisor's team view");

        // The preparation view.
        let (s, p) = app.page(&http, &format!("/maintenance/tasks/{}", sc.repair)).await;
        assert_eq!(s, 200, "[{e}]");
        let goal = &p[p.find("id=\"task-goal\"").unwrap()..];
        assert!(goal[..goal.find("</p>").unwrap()].contains("确认问题已解决"), "[{e}] the goal");
        assert!(p.contains("id=\"scripts\"") && p.contains("确认问题已解决") && p.contains("李娜"), "[{e}]");
        assert!(p.contains("生成维护任务 · 投诉修复"), "[{e}] the recent timeline");

        let (_, en) = app.page(&http, &format!("/maintenance/tasks/{}?lang=en", sc.repair)).await;
        assert!(
            en.contains("Complaint repair") && en.contains("Suggested scripts") && en.contains("Customer picture"),
            "[{e}]"
        );
        let (_, en) = app.page(&http, "/maintenance?lang=en").await;
        assert!(en.contains("My maintenance tasks") && en.contains("Upcoming"), "[{e}]");

        // The record form: the snapshot and the fields of the seed's form.
        let path = format!("/maintenance/tasks/{}/record", sc.repair);
        let (s, f) = app.page(&http, &path).await;
        assert_eq!(s, 200, "[{e}]");
        for field in [
            "contact_id",
            "occurred_at",
            "channel",
            "owner_id",
            "summary",
            "feedback",
            "needs_explicit",
            "needs_implicit",
            "completion",
            "satisfaction",
            "effect_note",
            "notes",
            "add_tags",
        ] {
            assert!(f.contains(&format!("name=\"{field}\"")), "[{e}] {field}");
        }
        assert!(
            f.contains("name=\"effect\"") && f.contains("name=\"item0_owner\"") && f.contains("name=\"item0_due\"")
        );
        assert!(f.contains("客户关系维护记录表") && f.contains("北京明远科技") && f.contains("制造业"), "[{e}]");
        let token = support::app::csrf(&f);
        let li = sc.li.to_string();
        let a = sc.st.a.0.to_string();
        let base: Vec<(&str, &str)> = vec![
            ("_csrf", &token),
            ("contact_id", &li),
            ("occurred_at", "2026-11-23T10:00"),
            ("channel", "phone"),
            ("owner_id", &a),
            ("summary", "回访投诉处理结果，客户表示满意"),
            ("feedback", "物流已改善"),
            ("needs_explicit", "希望增加发货提醒"),
            ("completion", "completed"),
            ("satisfaction", "5"),
            ("effect", "achieved"),
            ("add_tags", "对功能有需求、偏好新品"),
        ];
        // An action item without its owner (row 1) and one without its due date (row 3).
        let before = record_tables(&app).await;
        let mut fields = base.clone();
        fields.extend([("item0_content", "发送物流改进方案"), ("item0_due", "2026-11-25T18:00")]);
        fields.extend([("item2_content", "安排技术回访"), ("item2_owner", a.as_str())]);
        let (s, _, html) = form(&app, &http, &path, &fields).await;
        assert_eq!(s, 422, "[{e}]");
        assert_eq!(
            by_id(&html, "e-action_items_0__owner_id").as_deref(),
            Some("请选择负责人：每个行动项都要写明由谁来做"),
            "[{e}]"
        );
        assert_eq!(
            by_id(&html, "e-action_items_2__due").as_deref(),
            Some("请填写完成时限：每个行动项都要写明何时完成"),
            "[{e}]"
        );
        assert!(
            html.contains("行动项 1 · 负责人") && html.contains("行动项 3 · 完成时限"),
            "[{e}] the summary names them"
        );
        assert!(html.contains("value=\"发送物流改进方案\""), "[{e}] what was typed stays");
        assert_eq!(record_tables(&app).await, before, "[{e}] nothing saved");
        let (s, _, html) = form(&app, &http, &format!("{path}?lang=en"), &fields).await;
        assert_eq!(s, 422);
        assert_eq!(
            by_id(&html, "e-action_items_0__owner_id").as_deref(),
            Some("Choose who does it: every action item names its owner")
        );

        // Complete: saved, the task closed, the record shown.
        let mut fields = base.clone();
        fields.extend([
            ("item0_content", "发送物流改进方案"),
            ("item0_due", "2026-11-25T18:00"),
            ("item0_owner", a.as_str()),
        ]);
        let (s, location, _) = form(&app, &http, &path, &fields).await;
        assert_eq!(
            (s, location.as_str()),
            (303, format!("/maintenance/tasks/{}?flash=recorded", sc.repair).as_str()),
            "[{e}]"
        );
        let (_, done) = app.page(&http, &location).await;
        assert!(done.contains("维护记录已保存") && done.contains("id=\"record\"") && done.contains("达成"), "[{e}]");
        assert!(!done.contains("id=\"fill-record\""), "[{e}] no second record");
        let (s, _, _) = form(&app, &http, &path, &fields).await;
        assert_eq!(s, 422, "[{e}] a done task refuses a second record");
        let r = http.get(format!("{}{path}", app.url)).send().await.unwrap();
        assert_eq!(r.status(), 303, "[{e}] the form of a done task goes back to the task");
        let (_, view360) = app.page(&http, &format!("/customers/{}?kind=maintenance", sc.c1)).await;
        assert!(view360.contains("完成维护 · 投诉修复"), "[{e}] on the 360 timeline");

        // The execution rate page.
        let (s, rates) = app.page(&lead, "/maintenance/execution?by=scenario&from=2026-11-01&to=2026-11-30").await;
        assert_eq!(s, 200, "[{e}]");
        assert!(rates.contains("id=\"rate-table\"") && rates.contains("投诉修复"), "[{e}]");

        // The rules: administrators only; a refused number is named beside it.
        assert_eq!(app.page(&http, "/maintenance/settings").await.0, 403);
        let admin = app.signed_in(support::app::ADMIN_EMAIL, support::app::ADMIN_PASSWORD).await;
        let (s, page) = app.page(&admin, "/maintenance/settings").await;
        assert_eq!(s, 200, "[{e}]");
        let token = support::app::csrf(&page);
        let mut values: Vec<(String, String)> = Vec::new();
        for name in [
            "lookahead_days",
            "first_follow_up_earliest_hours",
            "first_follow_up_latest_hours",
            "first_follow_up_lookback_days",
            "revisit_min_cooperation_months",
            "complaint_repair_working_days",
            "churn_recovery_within_hours",
            "renewal_days_before",
            "milestone_days_before",
            "silent_care_working_days",
            "cadence_high_revisit_months",
            "cadence_potential_revisit_months",
            "cadence_ordinary_revisit_months",
        ] {
            let at = page.find(&format!("name=\"{name}\"")).unwrap_or_else(|| panic!("{name}"));
            let v = page[at..].split("value=\"").nth(1).unwrap().split('"').next().unwrap();
            values.push((name.to_string(), v.to_string()));
        }
        let mut post: Vec<(&str, &str)> = values.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        post.push(("_csrf", &token));
        post.push(("churn_recovery_owner", "supervisor"));
        post.push(("renewal_enabled", "1"));
        let mut bad = post.clone();
        bad.retain(|(k, _)| *k != "cadence_high_revisit_months");
        bad.push(("cadence_high_revisit_months", "0"));
        let (s, _, html) = form(&app, &admin, "/maintenance/settings", &bad).await;
        assert_eq!(s, 422, "[{e}]");
        assert_eq!(by_id(&html, "e-cadence_high_revisit_months").as_deref(), Some("超出允许范围"));
        assert!(html.contains("高价值 · 回访周期（月）"), "[{e}] the summary names the field");
        let (s, location, _) = form(&app, &admin, "/maintenance/settings", &post).await;
        assert_eq!((s, location.as_str()), (303, "/maintenance/settings?flash=settings"), "[{e}]");
        let rules = svc::load_rules(&app.state).await.unwrap();
        assert!(rules.renewal.enabled && !rules.revisit.enabled, "[{e}] unticked switches are off");
    }
}

#[tokio::test]
async fn a_changed_birthday_is_found_again() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        let c = customer(&app, &admin, json!({"name": "广州金桥软件", "cooperation_start": "2020-03-01"})).await;
        let (_, p) = post(
            &app,
            &format!("/api/v1/customers/{c}/contacts"),
            &admin,
            json!({"name": "李静", "birthday": "1980-06-01"}),
        )
        .await;
        let id = p["id"].as_i64().unwrap();
        let key = |app: &TestApp| {
            let db = app.state.db.clone();
            async move {
                db.read(move |c| {
                    c.scalar::<Option<String>>(
                        "SELECT birthday_key FROM contacts WHERE id = $1",
                        guanxi_store::args![id],
                    )
                })
                .await
                .unwrap()
            }
        };
        // Today is Monday 2026-11-23: June is far away; the birthday gets its digest.
        let r = svc::generate(&app.state, &|_, _| {}).await.unwrap();
        assert_eq!((r.birthdays_keyed, r.by_scenario.get("milestone").copied()), (1, None), "[{e}] {r:?}");
        let first = key(&app).await.expect("keyed");
        // Corrected to 30 November: the trigger drops the digest, the next
        // run computes the new one and greets three days before.
        let (s, _) = send(
            &app,
            Method::PUT,
            &format!("/api/v1/contacts/{id}"),
            &admin,
            Some(json!({"name": "李静", "birthday": "1980-11-30"})),
        )
        .await;
        assert_eq!(s, 200, "[{e}]");
        assert_eq!(key(&app).await, None, "[{e}] a changed birthday loses its digest");
        let r = svc::generate(&app.state, &|_, _| {}).await.unwrap();
        assert_eq!((r.birthdays_keyed, r.by_scenario.get("milestone").copied()), (1, Some(1)), "[{e}] {r:?}");
        assert_ne!(key(&app).await.unwrap(), first);
        let t = all_tasks(&app).await.into_iter().find(|t| t.scenario == "milestone").unwrap();
        assert_eq!(
            (t.occasion, t.contact_id, local(t.due_at)),
            (format!("birthday:{id}:2026"), Some(id), "2026-11-27 18:00".into())
        );
    }
}
