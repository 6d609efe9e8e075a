//! 客户需求分析报告 (SPEC R3) on every engine, on a hand-built set of needs
//! made through the API with the test clock: the page's figures worked by
//! hand (by department, status and month, adoption rate, share told,
//! median days to an outcome, the list), the Excel file holding the same
//! values sheet by sheet, the JSON API the same numbers; agents are
//! refused, a bad month names the field. In Chromium: the charts draw and
//! the screenshots of the report and of a need ticket's page.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use jiff::Timestamp;
use reqwest::Method;
use serde_json::{Value, json};
use support::app::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, apps};

async fn call(app: &TestApp, m: Method, tok: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let r = app.call(m, path, Some(tok), body).await;
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn ok(app: &TestApp, m: Method, tok: &str, path: &str, body: Option<Value>) -> Value {
    let (s, v) = call(app, m, tok, path, body).await;
    assert!((200..300).contains(&s), "[{}] {path}: {s} {v}", app.engine);
    v
}

/// 10:00 in Shanghai on a day of 2026.
fn day(md: &str) -> Timestamp {
    format!("2026-{md}T02:00:00Z").parse().unwrap()
}

/// The needs of November 2026 (and one of December), each change at its
/// day; returns the ids of the tickets (P1, P2, P3, S1, S2, O1, D1).
async fn build(app: &TestApp) -> Vec<i64> {
    app.clock.set(day("11-01"));
    let admin = app.admin_token().await;
    let team =
        ok(app, Method::POST, &admin, "/api/v1/groups", Some(json!({"name": "一线客服组", "kind": "team"}))).await;
    for name in ["产品部", "研发部", "售后服务部"] {
        ok(app, Method::POST, &admin, "/api/v1/groups", Some(json!({"name": name, "kind": "department"}))).await;
    }
    let body = json!({"email": "wang.fang@test.cn", "name": "王芳", "role": "agent",
        "password": "password-123", "group_id": team["id"], "certified": true});
    let agent_id = ok(app, Method::POST, &admin, "/api/v1/users", Some(body)).await["id"].as_i64().unwrap();
    let agent = app.token("wang.fang@test.cn", "password-123").await;
    let cust = ok(
        app,
        Method::POST,
        &agent,
        "/api/v1/customers",
        Some(json!({"name": "杭州明远科技有限公司", "owner_id": agent_id})),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let create = |at: &str, category: &str, subject: &str| {
        let (agent, body) = (
            agent.clone(),
            json!({"type": "need", "channel": "phone", "category": category, "priority": "normal",
                "customer_id": cust, "subject": subject, "description": "", "assignee_id": agent_id}),
        );
        app.clock.set(day(at));
        async move { ok(app, Method::POST, &agent, "/api/v1/tickets", Some(body)).await["id"].as_i64().unwrap() }
    };
    let put = |at: &str, id: i64, body: Value| {
        let agent = agent.clone();
        app.clock.set(day(at));
        async move { ok(app, Method::PUT, &agent, &format!("/api/v1/tickets/{id}/need"), Some(body)).await }
    };
    let told = |at: &str, id: i64| {
        let agent = agent.clone();
        app.clock.set(day(at));
        async move { ok(app, Method::POST, &agent, &format!("/api/v1/tickets/{id}/need/customer-told"), None).await }
    };
    let p1 = create("11-02", "product", "报表支持批量导出").await;
    let p2 = create("11-03", "product", "增加深色主题").await;
    put("11-04", p1, json!({"status": "evaluating"})).await;
    let p3 = create("11-05", "product", "开放订单查询接口").await;
    put("11-05", p3, json!({"status": "evaluating"})).await;
    let s1 = create("11-06", "service", "延长上门服务时间到晚上八点").await;
    put("11-07", p2, json!({"status": "declined", "decline_reason": "与品牌规范冲突"})).await;
    put("11-08", s1, json!({"status": "accepted"})).await;
    let s2 = create("11-09", "service", "周日也能预约安装").await;
    put("11-10", s2, json!({"status": "declined", "decline_reason": "周日无安装人员"})).await;
    told("11-10", s2).await;
    let o1 = create("11-10", "other", "希望提供纸质发票邮寄").await;
    put("11-11", p1, json!({"status": "planned", "planned_version": "v2.3"})).await;
    put("11-12", p1, json!({"status": "delivered"})).await;
    told("11-12", p1).await;
    let d1 = create("12-01", "product", "移动端支持指纹登录").await;
    app.clock.set(day("12-04"));
    vec![p1, p2, p3, s1, s2, o1, d1]
}

/// The rows (header cell, then the data cells) of the table with this id.
fn html_table(html: &str, id: &str) -> Vec<Vec<String>> {
    let at = html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no table {id}"));
    let table = &html[at..at + html[at..].find("</table>").unwrap()];
    let body = &table[table.find("<tbody>").unwrap()..];
    body.split("<tr")
        .skip(1)
        .filter(|r| r.contains("<th"))
        .map(|r| {
            let mut out = Vec::new();
            for part in r.split("<t").skip(1) {
                if let Some(rest) = part.strip_prefix('h').or_else(|| part.strip_prefix('d')) {
                    let c = &rest[rest.find('>').unwrap() + 1..];
                    out.push(c[..c.find("</t").unwrap()].trim().to_string());
                }
            }
            out
        })
        .collect()
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn the_needs_report_page_excel_and_api_show_the_same_numbers() {
    use calamine::Reader;
    for app in apps().await {
        let e = app.engine.clone();
        build(&app).await;
        let http = app.signed_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        // The reports navigation links to it.
        let (_, html) = app.page(&http, "/reports").await;
        assert!(html.contains("href=\"/reports/needs\""), "[{e}] linked from the reports' tabs");

        let (s, html) = app.page(&http, "/reports/needs?month=2026-11").await;
        assert_eq!(s, 200, "[{e}] {html}");
        assert!(html.contains("客户需求分析报告 · 2026-11"), "[{e}]");
        // November: 6 needs; decided 4 (accepted, delivered; two declined):
        // adoption 50%; 3 with an outcome, 2 told: 66.7%; days to outcome
        // 10, 4, 1 → median (nearest rank) 4.
        let summary = html_table(&html, "needs-summary");
        let values: Vec<&str> = summary.iter().map(|r| r[1].as_str()).collect();
        assert_eq!(values, ["6", "4", "50.0%", "3", "2", "66.7%", "4.0"], "[{e}] {summary:?}");
        // By department: status columns 已提交 评估中 已采纳 已排期 已上线 未采纳.
        let deps = html_table(&html, "needs-departments");
        assert_eq!(deps[0], strs(&["产品部", "3", "0", "1", "0", "0", "1", "1", "50.0%", "50.0%", "4.0"]), "[{e}]");
        assert_eq!(
            deps[1],
            strs(&["售后服务部", "2", "0", "0", "1", "0", "0", "1", "50.0%", "100.0%", "1.0"]),
            "[{e}]"
        );
        assert_eq!(deps[2], strs(&["未分派", "1", "1", "0", "0", "0", "0", "0", "—", "—", "—"]), "[{e}]");
        assert_eq!(deps[3], strs(&["合计", "6", "1", "1", "1", "0", "1", "2", "50.0%", "66.7%", "4.0"]), "[{e}]");
        let months = html_table(&html, "needs-months");
        assert_eq!(months.len(), 2, "[{e}] November and the total");
        assert_eq!(months[0][..2], strs(&["2026-11", "6"])[..], "[{e}]");
        // The list, oldest first, with its plan or reason and times.
        let list = html_table(&html, "needs-list");
        assert_eq!(list.len(), 6, "[{e}]");
        assert_eq!(
            list[0][1..7],
            strs(&["报表支持批量导出", "杭州明远科技有限公司", "产品类", "产品部", "已上线", "v2.3"])[..]
        );
        assert_eq!(list[0][7..], strs(&["2026-11-02 10:00", "2026-11-12 10:00", "2026-11-12 10:00"])[..], "[{e}]");
        assert_eq!(list[1][5..7], strs(&["未采纳", "与品牌规范冲突"])[..], "[{e}]");
        assert_eq!(list[5][4], "未分派", "[{e}]");
        // The chart's data: departments × statuses, monthly rates.
        let open = r#"id="report-data">"#;
        let data = &html[html.find(open).unwrap() + open.len()..];
        let data: Value = serde_json::from_str(&data[..data.find("</script>").unwrap()]).unwrap();
        assert_eq!(data["needs"]["departments"], json!(["产品部", "售后服务部", "未分派"]), "[{e}]");
        assert_eq!(data["needs"]["data"][0], json!([0, 1, 0, 0, 1, 1]), "[{e}]");
        assert_eq!(data["rates"][0]["values"], json!([50.0]), "[{e}]");
        assert_eq!(data["rates"][1]["values"], json!([66.7]), "[{e}]");

        // The Excel file: every table of the page, sheet by sheet, the same values.
        let r = http.get(format!("{}/reports/needs.xlsx?month=2026-11", app.url)).send().await.unwrap();
        assert_eq!(r.status(), 200, "[{e}]");
        assert!(r.headers()["content-disposition"].to_str().unwrap().contains("needs-20261101-20261130.xlsx"));
        let bytes = r.bytes().await.unwrap().to_vec();
        let mut book: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
        for (sheet, id, head) in [
            ("概览", "needs-summary", "指标"),
            ("按部门", "needs-departments", "部门"),
            ("按月份", "needs-months", "月份"),
            ("需求清单", "needs-list", "工单号"),
        ] {
            let range = book.worksheet_range(sheet).unwrap_or_else(|err| panic!("[{e}] sheet {sheet}: {err}"));
            let rows: Vec<Vec<String>> = range.rows().map(|r| r.iter().map(ToString::to_string).collect()).collect();
            assert!(rows[0][0].starts_with("客户需求分析报告（2026-11-01 ~ 2026-11-30）"), "[{e}] {:?}", rows[0]);
            assert_eq!(rows[1][0], head, "[{e}]");
            assert_eq!(rows[2..].to_vec(), html_table(&html, id), "[{e}] {sheet} in Excel and on the page");
        }

        // The API: the same numbers.
        let admin = app.admin_token().await;
        let v = ok(&app, Method::GET, &admin, "/api/v1/reports/needs?month=2026-11", None).await;
        assert_eq!((v["from"].as_str(), v["to"].as_str()), (Some("2026-11-01"), Some("2026-11-30")), "[{e}]");
        assert_eq!(v["total"]["total"], 6, "[{e}] {v}");
        assert_eq!(v["total"]["adoption_rate"], 0.5, "[{e}]");
        assert_eq!(v["total"]["median_days_to_outcome"], 4.0, "[{e}]");
        assert_eq!((v["total"]["told"].as_u64(), v["total"]["with_outcome"].as_u64()), (Some(2), Some(3)), "[{e}]");
        assert_eq!(v["total"]["by_status"]["declined"], 2, "[{e}]");
        assert_eq!(v["by_department"][1]["key"], "售后服务部", "[{e}]");
        assert_eq!(v["by_department"][1]["share_told"], 1.0, "[{e}]");
        assert_eq!(v["needs"].as_array().unwrap().len(), 6, "[{e}]");
        // A period of two months: December's need too, by month.
        let v = ok(&app, Method::GET, &admin, "/api/v1/reports/needs?from=2026-11-01&to=2026-12-31", None).await;
        assert_eq!(v["total"]["total"], 7, "[{e}]");
        let months: Vec<&str> = v["by_month"].as_array().unwrap().iter().map(|m| m["key"].as_str().unwrap()).collect();
        assert_eq!(months, ["2026-11", "2026-12"], "[{e}]");
        // English.
        let (_, html) = app.page(&http, "/reports/needs?month=2026-11&lang=en").await;
        assert!(html.contains("Customer needs analysis report · 2026-11"), "[{e}]");
        assert_eq!(html_table(&html, "needs-departments")[2][0], "Not routed", "[{e}]");
        assert_eq!(html_table(&html, "needs-list")[0][5], "Delivered", "[{e}]");
        // The default period is the current month (December: one need).
        let (_, html) = app.page(&http, "/reports/needs").await;
        assert_eq!(html_table(&html, "needs-summary")[0][1], "1", "[{e}]");

        // Refusals: a bad month names the field; agents see no reports.
        let (s, v) = call(&app, Method::GET, &admin, "/api/v1/reports/needs?month=2026-13", None).await;
        assert_eq!(s, 422, "[{e}] {v}");
        assert!(v.to_string().contains("month"), "[{e}] {v}");
        let (s, _) = app.page(&http, "/reports/needs?from=2026-12-01&to=2026-11-01").await;
        assert_eq!(s, 422, "[{e}]");
        let agent = app.token("wang.fang@test.cn", "password-123").await;
        let (s, _) = call(&app, Method::GET, &agent, "/api/v1/reports/needs", None).await;
        assert_eq!(s, 403, "[{e}]");
        let agent_http = app.signed_in("wang.fang@test.cn", "password-123").await;
        assert_eq!(app.page(&agent_http, "/reports/needs").await.0, 403, "[{e}]");
        assert_eq!(app.page(&agent_http, "/reports/needs.xlsx").await.0, 403, "[{e}]");
    }
}

#[tokio::test]
async fn the_needs_report_draws_its_charts_in_a_browser() {
    let Some(b) = support::webdriver::Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(guanxi_store::testing::sqlite().unwrap()).await;
    let ids = build(&app).await;
    b.resize(1366, 2000).await;
    b.goto(&format!("{}/login", app.url)).await;
    b.fill("#email", ADMIN_EMAIL).await;
    b.fill("#password", ADMIN_PASSWORD).await;
    b.click("button[type=submit]").await;
    b.wait_for(".sidebar").await;
    b.goto(&format!("{}/reports", app.url)).await;
    b.click(".report-tabs a[href='/reports/needs']").await;
    b.wait_url("/reports/needs").await;
    b.goto(&format!("{}/reports/needs?month=2026-11", app.url)).await;
    b.wait_for("body[data-charts='2']").await;
    for id in ["chart-needs", "chart-rates"] {
        assert_eq!(b.count(&format!("#{id}[data-rendered='1'] canvas")).await, 1, "{id} drew a canvas");
    }
    assert!(b.text("#needs-adoption").await.contains("50.0%"));
    b.screenshot("reports-needs").await;

    // A need ticket's page with its need section (P3: evaluating).
    b.goto(&format!("{}/tickets/{}", app.url, ids[2])).await;
    b.wait_for("#need-form").await;
    assert!(b.text("#need-status").await.contains("评估中"));
    b.screenshot("ticket-need").await;
    b.close().await;
}
