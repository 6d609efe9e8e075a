//! The business calendar over HTTP, on every engine: the days endpoint
//! names holidays, adjusted working days, festivals and ordinary weekends
//! as the State Council's notices say; bad ranges are refused naming the
//! field; an administrator's override and weekly hours change the answer,
//! an agent can change nothing, and a refused edit changes nothing; the
//! admin page shows the month and refuses bad input beside its field.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};
use support::app::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, apps, csrf};

/// The days of a range, by date.
async fn days(app: &TestApp, token: &str, from: &str, to: &str) -> BTreeMap<String, Value> {
    let r = app.call(Method::GET, &format!("/api/v1/calendar/days?from={from}&to={to}"), Some(token), None).await;
    assert_eq!(r.status(), 200, "[{}] {from}..{to}", app.engine);
    let list: Vec<Value> = r.json().await.unwrap();
    list.into_iter().map(|d| (d["date"].as_str().unwrap().to_string(), d)).collect()
}

/// (working, name, kind) of a day.
fn day(all: &BTreeMap<String, Value>, date: &str) -> (bool, Option<String>, String) {
    let d = all.get(date).unwrap_or_else(|| panic!("no {date}"));
    (d["working"].as_bool().unwrap(), d["name"].as_str().map(str::to_string), d["kind"].as_str().unwrap().to_string())
}

fn named(working: bool, name: &str, kind: &str) -> (bool, Option<String>, String) {
    (working, Some(name.to_string()), kind.to_string())
}

/// The rows an edit may touch.
async fn calendar_rows(app: &TestApp) -> String {
    let mut out = String::new();
    for sql in [
        "SELECT * FROM calendar_overrides ORDER BY day",
        "SELECT * FROM work_schedules ORDER BY code",
        "SELECT COUNT(*) FROM audit_log",
    ] {
        let rows = app.state.db.read(move |c| c.query(sql, &[])).await.unwrap();
        out.push_str(&format!("{rows:?}\n"));
    }
    out
}

async fn problem(r: reqwest::Response) -> (u16, Value) {
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

fn fields(p: &Value) -> Vec<(String, String)> {
    p["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| (e["field"].as_str().unwrap().to_string(), e["code"].as_str().unwrap().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_days_endpoint_follows_the_notices_and_the_lunar_calendar() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        let (_, agent) = app.user(&admin, "wang.fang@test.cn", "agent", None).await;

        // 2026's Spring Festival: 15–23 February off, Saturdays 14 and 28 worked.
        let feb = days(&app, &agent, "2026-02-01", "2026-02-28").await;
        assert_eq!(feb.len(), 28, "[{e}] one entry per day");
        assert_eq!(day(&feb, "2026-02-14"), named(true, "春节调休上班", "adjusted_workday"), "[{e}]");
        assert_eq!(day(&feb, "2026-02-16"), named(false, "春节、除夕", "holiday"), "[{e}]");
        assert_eq!(day(&feb, "2026-02-17"), named(false, "春节", "holiday"), "[{e}]");
        assert_eq!(day(&feb, "2026-02-23"), named(false, "春节", "holiday"), "[{e}]");
        assert_eq!(day(&feb, "2026-02-24"), (true, None, "workday".into()), "[{e}]");
        assert_eq!(day(&feb, "2026-02-28"), named(true, "春节调休上班", "adjusted_workday"), "[{e}]");
        assert_eq!(day(&feb, "2026-02-08"), (false, None, "rest_day".into()), "[{e}] an ordinary Sunday");
        assert!(feb["2026-02-08"]["name"].is_null(), "name is null on an ordinary day");

        // Autumn 2026: 中秋节 25–27 September, 国庆节 1–7 October, Sunday
        // 20 September and Saturday 10 October worked.
        let autumn = days(&app, &agent, "2026-09-19", "2026-10-11").await;
        assert_eq!(day(&autumn, "2026-09-19"), (false, None, "rest_day".into()), "[{e}]");
        assert_eq!(day(&autumn, "2026-09-20"), named(true, "国庆节调休上班", "adjusted_workday"), "[{e}]");
        assert_eq!(day(&autumn, "2026-09-25"), named(false, "中秋节", "holiday"), "[{e}]");
        assert_eq!(day(&autumn, "2026-10-01"), named(false, "国庆节", "holiday"), "[{e}]");
        assert_eq!(day(&autumn, "2026-10-10"), named(true, "国庆节调休上班", "adjusted_workday"), "[{e}]");
        assert_eq!(day(&autumn, "2026-10-11"), (false, None, "rest_day".into()), "[{e}]");

        // Festivals name working days too; 2025's combined holiday keeps its name.
        let spring = days(&app, &agent, "2026-03-03", "2026-03-03").await;
        assert_eq!(day(&spring, "2026-03-03"), named(true, "元宵节", "workday"), "[{e}]");
        let y2025 = days(&app, &agent, "2025-01-01", "2025-12-31").await;
        assert_eq!(y2025.len(), 365);
        assert_eq!(day(&y2025, "2025-10-06"), named(false, "国庆节、中秋节", "holiday"), "[{e}]");
        assert_eq!(
            day(&y2025, "2025-01-28"),
            named(false, "春节、除夕", "holiday"),
            "[{e}] 除夕 is a holiday since 2025"
        );
        assert_eq!(day(&y2025, "2025-08-29"), named(true, "七夕节", "workday"), "[{e}]");
        // Beyond the shipped years the festivals are still there.
        let y2030 = days(&app, &agent, "2030-02-02", "2030-02-03").await;
        assert_eq!(day(&y2030, "2030-02-03"), named(false, "春节", "rest_day"), "[{e}] a Sunday");
    }
}

#[tokio::test]
async fn bad_ranges_are_refused_naming_the_field() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        for (query, field, code) in [
            ("to=2026-02-01", "from", "required"),
            ("from=2026-02-30&to=2026-03-01", "from", "invalid_date"),
            ("from=2026-02-01&to=tomorrow", "to", "invalid_date"),
            ("from=2026-03-01&to=2026-02-01", "to", "before_start"),
            ("from=2026-01-01&to=2027-01-02", "to", "range_too_long"),
            ("from=1949-12-31&to=1950-01-01", "from", "out_of_range"),
        ] {
            let r = app.call(Method::GET, &format!("/api/v1/calendar/days?{query}"), Some(&admin), None).await;
            let (s, p) = problem(r).await;
            assert_eq!(s, 422, "[{e}] {query}: {p}");
            assert_eq!(fields(&p), vec![(field.to_string(), code.to_string())], "[{e}] {query}");
        }
        // The reason speaks the caller's language.
        let r = app
            .http
            .get(format!("{}/api/v1/calendar/days?from=2026-01-01&to=2027-06-01", app.url))
            .bearer_auth(&admin)
            .header("Accept-Language", "en")
            .send()
            .await
            .unwrap();
        let (_, p) = problem(r).await;
        assert_eq!(p["errors"][0]["message"], "the range may cover at most 366 days", "[{e}] {p}");
        let r = app.call(Method::GET, "/api/v1/calendar/days?from=2026-03-01&to=2026-02-01", Some(&admin), None).await;
        let (_, p) = problem(r).await;
        assert_eq!(p["errors"][0]["message"], "不能早于开始日期", "[{e}] {p}");
        // 366 days is one request (a leap year); no token, no calendar.
        assert_eq!(days(&app, &admin, "2024-01-01", "2024-12-31").await.len(), 366);
        assert_eq!(days(&app, &admin, "2026-01-01", "2027-01-01").await.len(), 366);
        let r = app.call(Method::GET, "/api/v1/calendar/days?from=2026-01-01&to=2026-01-02", None, None).await;
        assert_eq!(r.status(), 401);
    }
}

#[tokio::test]
async fn an_administrator_overrides_days_and_edits_the_hours_an_agent_cannot() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        let (_, agent) = app.user(&admin, "li.lei@test.cn", "agent", None).await;
        let (_, supervisor) = app.user(&admin, "chen.jing@test.cn", "supervisor", None).await;
        let before = calendar_rows(&app).await;

        // Agents and supervisors change nothing.
        for token in [&agent, &supervisor] {
            let r = app
                .call(
                    Method::PUT,
                    "/api/v1/calendar/overrides/2026-02-14",
                    Some(token),
                    Some(json!({"working": false})),
                )
                .await;
            assert_eq!(r.status(), 403, "[{e}]");
            let r = app.call(Method::DELETE, "/api/v1/calendar/overrides/2026-02-14", Some(token), None).await;
            assert_eq!(r.status(), 403, "[{e}]");
            let body = json!({"mon": ["08:00-17:00"], "observes_holidays": true});
            let r = app.call(Method::PUT, "/api/v1/calendar/schedules/default", Some(token), Some(body)).await;
            assert_eq!(r.status(), 403, "[{e}]");
        }
        // Bad input is refused naming the field, and changes nothing.
        for (path, body, field, code) in [
            ("/api/v1/calendar/overrides/2026-02-30", json!({"working": false}), "date", "invalid_date"),
            ("/api/v1/calendar/overrides/2026-02-14", json!({"name": "年会"}), "working", "required"),
            (
                "/api/v1/calendar/overrides/2026-02-14",
                json!({"working": false, "name": "很".repeat(21)}),
                "name",
                "too_long",
            ),
            ("/api/v1/calendar/overrides/2026-02-14", json!({"working": "no"}), "working", "malformed"),
            (
                "/api/v1/calendar/schedules/default",
                json!({"mon": ["09:00-12:00", "11:00-13:00"]}),
                "mon",
                "overlapping",
            ),
            ("/api/v1/calendar/schedules/default", json!({"tue": ["18:00-09:00"]}), "tue", "end_not_after_start"),
            ("/api/v1/calendar/schedules/default", json!({"wed": ["9点-12点"]}), "wed", "invalid_time_range"),
            ("/api/v1/calendar/schedules/default", json!({"observes_holidays": true}), "hours", "required"),
        ] {
            let (s, p) = problem(app.call(Method::PUT, path, Some(&admin), Some(body.clone())).await).await;
            assert_eq!(s, 422, "[{e}] {path} {body}: {p}");
            assert_eq!(fields(&p), vec![(field.to_string(), code.to_string())], "[{e}] {path} {body}");
        }
        let r = app
            .call(Method::PUT, "/api/v1/calendar/schedules/nope", Some(&admin), Some(json!({"mon": ["09:00-18:00"]})))
            .await;
        assert_eq!(r.status(), 404, "[{e}]");
        assert_eq!(calendar_rows(&app).await, before, "[{e}] refused edits change nothing");

        // The company holds its annual party on the make-up Saturday.
        let r = app
            .call(
                Method::PUT,
                "/api/v1/calendar/overrides/2026-02-14",
                Some(&admin),
                Some(json!({"working": false, "name": "公司年会"})),
            )
            .await;
        let (s, d) = problem(r).await;
        assert_eq!(s, 200, "[{e}] {d}");
        assert_eq!(
            (d["working"].as_bool(), d["name"].as_str(), d["overridden"].as_bool()),
            (Some(false), Some("公司年会"), Some(true))
        );
        let feb = days(&app, &agent, "2026-02-13", "2026-02-14").await;
        assert_eq!(day(&feb, "2026-02-14"), named(false, "公司年会", "holiday"), "[{e}]");
        assert_ne!(calendar_rows(&app).await, before, "[{e}] the override and its audit entry are stored");
        // Undone: the notice decides again; undoing twice finds nothing.
        let r = app.call(Method::DELETE, "/api/v1/calendar/overrides/2026-02-14", Some(&admin), None).await;
        assert_eq!(r.status(), 204, "[{e}]");
        let feb = days(&app, &agent, "2026-02-14", "2026-02-14").await;
        assert_eq!(day(&feb, "2026-02-14"), named(true, "春节调休上班", "adjusted_workday"), "[{e}]");
        let r = app.call(Method::DELETE, "/api/v1/calendar/overrides/2026-02-14", Some(&admin), None).await;
        assert_eq!(r.status(), 404, "[{e}]");
        // A year without a shipped notice: the administrator enters its days.
        let r = app
            .call(
                Method::PUT,
                "/api/v1/calendar/overrides/2027-02-08",
                Some(&admin),
                Some(json!({"working": false, "name": "春节"})),
            )
            .await;
        assert_eq!(r.status(), 200, "[{e}]");
        let y2027 = days(&app, &agent, "2027-02-06", "2027-02-08").await;
        assert_eq!(day(&y2027, "2027-02-08"), named(false, "春节", "holiday"), "[{e}] a Monday off");

        // Saturdays worked in the mornings: an ordinary Saturday is now a working day.
        let hours = json!({
            "mon": ["09:00-12:00", "13:30-18:00"], "tue": ["09:00-12:00", "13:30-18:00"],
            "wed": ["09:00-12:00", "13:30-18:00"], "thu": ["09:00-12:00", "13:30-18:00"],
            "fri": ["13:30-18:00", "09:00-12:00"], "sat": ["09:00-12:00"], "observes_holidays": true
        });
        let (s, v) =
            problem(app.call(Method::PUT, "/api/v1/calendar/schedules/default", Some(&admin), Some(hours)).await).await;
        assert_eq!(s, 200, "[{e}] {v}");
        assert_eq!(v["hours"]["fri"], json!(["09:00-12:00", "13:30-18:00"]), "[{e}] stored in order");
        let march = days(&app, &agent, "2026-03-07", "2026-03-08").await;
        assert_eq!(day(&march, "2026-03-07"), (true, None, "workday".into()), "[{e}]");
        assert_eq!(day(&march, "2026-03-08"), (false, None, "rest_day".into()), "[{e}]");
        let r = app.call(Method::GET, "/api/v1/calendar/schedules", Some(&agent), None).await;
        let all: Vec<Value> = r.json().await.unwrap();
        let codes: Vec<&str> = all.iter().map(|s| s["code"].as_str().unwrap()).collect();
        assert_eq!(codes, vec!["default", "7x12", "7x24"], "[{e}]");
        assert_eq!(all[0]["hours"]["sat"], json!(["09:00-12:00"]));
        assert_eq!(all[2]["hours"]["observes_holidays"], false);
    }
}

#[tokio::test]
async fn the_admin_page_shows_the_month_and_refuses_bad_input() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin_http = app.signed_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let (status, html) = app.page(&admin_http, "/admin/calendar?month=2026-02").await;
        assert_eq!(status, StatusCode::OK, "[{e}]");
        for expected in
            ["2026年2月", "春节调休上班", "春节、除夕", "国办发明电〔2025〕7号", "标准工时", "09:00-12:00, 13:30-18:00"]
        {
            assert!(html.contains(expected), "[{e}] {expected}");
        }
        assert!(html.contains(r#"id="d-2026-02-17" data-kind="holiday""#), "[{e}]");
        assert!(html.contains(r#"id="d-2026-02-14" data-kind="adjusted_workday""#), "[{e}]");
        // A year whose notice is not shipped says so.
        let (_, html_2027) = app.page(&admin_http, "/admin/calendar?month=2027-03").await;
        assert!(html_2027.contains(r#"id="no-notice""#), "[{e}]");
        // Picking a day fills the form.
        let (_, picked) = app.page(&admin_http, "/admin/calendar?month=2026-02&date=2026-02-28").await;
        assert!(picked.contains(r#"value="2026-02-28""#), "[{e}]");

        let token = csrf(&html);
        let before = calendar_rows(&app).await;
        let post = |path: &'static str, form: Vec<(&'static str, String)>| {
            let http = admin_http.clone();
            let url = format!("{}{path}", app.url);
            async move {
                let r = http.post(url).form(&form).send().await.unwrap();
                let loc = r.headers().get(header::LOCATION).map(|v| v.to_str().unwrap().to_string());
                (r.status(), loc, r.text().await.unwrap())
            }
        };
        let (s, _, body) = post(
            "/admin/calendar/overrides",
            vec![
                ("_csrf", token.clone()),
                ("date", "2026-02-30".into()),
                ("working", "0".into()),
                ("name", String::new()),
            ],
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "[{e}]");
        assert!(body.contains("日期格式应为 YYYY-MM-DD"), "[{e}]");
        let (s, _, body) = post(
            "/admin/calendar/schedule",
            vec![
                ("_csrf", token.clone()),
                ("mon", "09:00-12:00, 11:30-13:00".into()),
                ("observes_holidays", "1".into()),
            ],
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "[{e}]");
        assert!(body.contains("时段之间不能重叠"), "[{e}]");
        assert!(body.contains("09:00-12:00, 11:30-13:00"), "[{e}] what was typed is kept");
        assert_eq!(calendar_rows(&app).await, before, "[{e}] nothing saved");

        let (s, loc, _) = post(
            "/admin/calendar/overrides",
            vec![
                ("_csrf", token.clone()),
                ("date", "2026-02-27".into()),
                ("working", "0".into()),
                ("name", "公司年会".into()),
            ],
        )
        .await;
        assert_eq!(
            (s, loc.as_deref()),
            (StatusCode::SEE_OTHER, Some("/admin/calendar?month=2026-02&flash=override_saved")),
            "[{e}]"
        );
        let (_, html) = app.page(&admin_http, "/admin/calendar?month=2026-02&flash=override_saved").await;
        assert!(html.contains("已保存这一天的设置") && html.contains(r#"id="o-2026-02-27""#), "[{e}]");
        assert!(html.contains(r#"id="d-2026-02-27" data-kind="holiday""#), "[{e}]");
        let (s, _, _) = post("/admin/calendar/overrides/2026-02-27/delete", vec![("_csrf", token.clone())]).await;
        assert_eq!(s, StatusCode::SEE_OTHER, "[{e}]");
        let (s, _, _) = post(
            "/admin/calendar/schedule",
            vec![
                ("_csrf", token.clone()),
                ("mon", "08:30 - 12:00，13:00-17:30".into()),
                ("tue", "08:30-12:00, 13:00-17:30".into()),
                ("observes_holidays", "1".into()),
            ],
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER, "[{e}]");
        let (_, html) = app.page(&admin_http, "/admin/calendar?month=2026-02").await;
        assert!(html.contains("08:30-12:00, 13:00-17:30"), "[{e}]");

        // A form without the CSRF token, and an agent, are turned away.
        let (s, _, _) =
            post("/admin/calendar/overrides", vec![("date", "2026-02-27".into()), ("working", "0".into())]).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "[{e}]");
        let admin = app.admin_token().await;
        app.user(&admin, "zhao.min@test.cn", "agent", None).await;
        let agent_http = app.signed_in("zhao.min@test.cn", "password-123").await;
        assert_eq!(app.page(&agent_http, "/admin/calendar").await.0, StatusCode::FORBIDDEN, "[{e}]");
        // English.
        let (_, html) = app.page(&admin_http, "/admin/calendar?month=2026-02&lang=en").await;
        assert!(html.contains("February 2026") && html.contains("Make-up working day"), "[{e}]");
    }
}
