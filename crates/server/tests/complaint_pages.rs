//! The complaint pages on every engine: the tracking table (SPEC P6) with
//! the seed's columns in Chinese, the urgency filter, the nav entry, and
//! the Excel export behind the page's link (read back with calamine); the
//! register form (P1) with its customer search, refusals beside the field
//! and the urgency shown with its words after saving; the complaint page
//! taking a complaint through every step by its forms (CSRF, field
//! errors, the rejection, evidence files, waiting for the customer, the
//! notification through the outbox, closure); the investigation report
//! (P3) as a page and an Excel file; the monthly review (P7) as a page and
//! an Excel file; the administrator's thresholds (P2) checked and used.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use calamine::Reader as _;
use jiff::Timestamp;
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use support::app::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, apps, csrf};

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

/// An instant in Shanghai time, `YYYY-MM-DD HH:MM`.
fn at(s: &str) -> Timestamp {
    jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M", s)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap())
        .unwrap()
        .timestamp()
}

async fn api(app: &TestApp, token: &str, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let r = app.call(method, path, Some(token), body).await;
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// Posts a form of the page; (status, location or body).
async fn post(app: &TestApp, http: &reqwest::Client, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let r = http.post(format!("{}{path}", app.url)).form(form).send().await.unwrap();
    let s = r.status().as_u16();
    let loc = r.headers().get("location").map(|l| l.to_str().unwrap().to_string());
    (s, loc.unwrap_or(r.text().await.unwrap()))
}

/// The deadline's box on the complaint page.
fn deadline_block(html: &str, kind: &str) -> String {
    let at = html.find(&format!("data-deadline=\"{kind}\"")).unwrap_or_else(|| panic!("no {kind} deadline: {html}"));
    html[at..].chars().take(260).collect()
}

fn sheet_rows(bytes: Vec<u8>, name: &str) -> Vec<Vec<String>> {
    let mut book: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let sheet = book.worksheet_range(name).unwrap();
    sheet.rows().map(|r| r.iter().map(|c| c.to_string()).collect()).collect()
}

#[tokio::test]
async fn the_tracking_table_page_lists_filters_and_exports() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        let r = app
            .call(Method::POST, "/api/v1/customers", Some(&admin), Some(json!({"name": "杭州明远科技有限公司"})))
            .await;
        let customer = r.json::<serde_json::Value>().await.unwrap()["id"].as_i64().unwrap();
        for (subject, text) in [("热水器漏电", "热水器漏电了"), ("盖子松了", "水壶盖子有点松，想换一个")]
        {
            let r = app
                .call(
                    Method::POST,
                    "/api/v1/complaints",
                    Some(&admin),
                    Some(json!({"customer_id": customer, "channel": "phone", "category": "product",
                        "demand_type": "exchange", "subject": subject, "description": text})),
                )
                .await;
            assert_eq!(r.status().as_u16(), 201, "[{e}]");
        }
        let http = app.signed_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let (s, html) = app.page(&http, "/complaints").await;
        assert_eq!(s, 200, "[{e}] {html}");
        for text in [
            "投诉处理跟踪表",
            "投诉编号",
            "责任部门",
            "处理时限",
            "客户反馈",
            "CP20261123001",
            "CP20261123002",
            "aria-current=\"page\">投诉</a>",
        ] {
            assert!(html.contains(text), "[{e}] {text}");
        }
        let r = http.get(format!("{}/complaints", app.url)).header("accept-language", "en").send().await.unwrap();
        let html = r.text().await.unwrap();
        assert!(
            html.contains("<th>Responsible party</th>") && !html.contains("<th>责任部门</th>"),
            "[{e}] the English page's columns"
        );
        let (s, html) = app.page(&http, "/complaints?urgency=urgent").await;
        assert_eq!(s, 200);
        assert!(html.contains("热水器漏电") && !html.contains("盖子松了"), "[{e}] the urgency filter");
        let (s, _) = app.page(&http, "/complaints?urgency=loud").await;
        assert_eq!(s, 422, "[{e}] a bad filter is refused");
        let r = http.get(format!("{}/complaints/export?urgency=urgent", app.url)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "[{e}]");
        let bytes = r.bytes().await.unwrap().to_vec();
        let mut book: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
        let sheet = book.worksheet_range("投诉处理跟踪表").unwrap();
        let rows: Vec<Vec<String>> = sheet.rows().map(|r| r.iter().map(|c| c.to_string()).collect()).collect();
        assert_eq!(rows.len(), 2, "[{e}] {rows:?}");
        assert_eq!(rows[1][6], "热水器漏电");
    }
}

#[tokio::test]
async fn an_agent_registers_a_complaint_and_takes_it_through_every_step_on_its_page() {
    for app in apps().await {
        let e = app.engine.clone();
        app.clock.set(at("2026-11-23 10:00"));
        let admin = app.admin_token().await;
        let (s, v) =
            api(&app, &admin, Method::POST, "/api/v1/groups", Some(json!({"name": "物流部", "kind": "team"}))).await;
        assert_eq!(s, 201, "[{e}] {v}");
        let logistics = v["id"].as_i64().unwrap();
        let (s, v) = api(
            &app,
            &admin,
            Method::POST,
            "/api/v1/customers",
            Some(json!({"name": "杭州明远科技有限公司", "email": "li.ming@mingyuan.cn"})),
        )
        .await;
        assert_eq!(s, 201, "[{e}] {v}");
        let customer = v["id"].as_i64().unwrap();
        let mut http = app.signed_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;

        // The customer picker: a search, then the form for the one chosen.
        let (s, html) = app.page(&http, "/complaints/new?q=明远").await;
        assert_eq!(s, 200, "[{e}] {html}");
        assert!(html.contains(&format!("/complaints/new?customer_id={customer}")), "[{e}] found by name");
        assert!(!html.contains("id=\"complaint-form\""), "[{e}] no form before a customer is chosen");
        let (s, html) = app.page(&http, &format!("/complaints/new?customer_id={customer}")).await;
        assert_eq!(s, 200);
        assert!(html.contains("杭州明远科技有限公司") && html.contains("id=\"complaint-form\""), "[{e}]");
        let mut token = csrf(&html);
        let cid = customer.to_string();

        // Refused beside the fields, what was typed kept; nothing registered.
        let (s, html) = post(
            &app,
            &http,
            "/complaints/new",
            &[
                ("_csrf", &token),
                ("customer_id", &cid),
                ("channel", "phone"),
                ("category", "logistics"),
                ("demand_type", ""),
                ("subject", ""),
                ("description", "快递三天没动了"),
            ],
        )
        .await;
        assert_eq!(s, 422, "[{e}] {html}");
        assert!(html.contains("id=\"e-subject\"") && html.contains("id=\"e-demand_type\""), "[{e}] {html}");
        assert!(html.contains("快递三天没动了"), "[{e}] kept");
        let (s, _) = post(&app, &http, "/complaints/new", &[("customer_id", &cid), ("subject", "x")]).await;
        assert_eq!(s, 403, "[{e}] no CSRF token, nothing");
        let n: i64 = app.state.db.read(|c| c.scalar("SELECT COUNT(*) FROM complaints", &[])).await.unwrap();
        assert_eq!(n, 0, "[{e}]");

        // Registered: the page shows the urgency and the words that raised it.
        let (s, loc) = post(
            &app,
            &http,
            "/complaints/new",
            &[
                ("_csrf", &token),
                ("customer_id", &cid),
                ("channel", "phone"),
                ("category", "logistics"),
                ("demand_type", "refund"),
                ("subject", "包裹丢失"),
                ("description", "太糟糕了！！再不处理我就投诉到消协"),
            ],
        )
        .await;
        assert_eq!(s, 303, "[{e}] {loc}");
        assert!(loc.ends_with("?flash=registered"), "[{e}] {loc}");
        let path = loc.split('?').next().unwrap().to_string();
        let id: i64 = path.rsplit('/').next().unwrap().parse().unwrap();
        let (s, html) = app.page(&http, &loc).await;
        assert_eq!(s, 200, "[{e}]");
        for text in [
            "投诉已登记",
            "CP20261123001",
            "id=\"complaint-urgency\"",
            "紧急",
            "太糟糕",
            "消协",
            "+2.0",
            "登记（1 小时内）",
            "按时完成",
        ] {
            assert!(html.contains(text), "[{e}] {text}");
        }
        let step = format!("{path}/step");

        // Each step is a form; a refusal names the field and changes nothing.
        let (s, html) = post(&app, &http, &step, &[("_csrf", &token), ("action", "investigate")]).await;
        assert_eq!(s, 422, "[{e}]");
        assert!(html.contains("id=\"e-investigate-department_id\"") && html.contains("责任部门"), "[{e}] {html}");
        let (s, html) = post(&app, &http, &step, &[("_csrf", &token), ("action", "approve")]).await;
        assert_eq!(s, 409, "[{e}] out of order");
        assert!(html.contains("不能「批准方案」"), "[{e}]");
        let dep = logistics.to_string();
        let (s, _) =
            post(&app, &http, &step, &[("_csrf", &token), ("action", "investigate"), ("department_id", &dep)]).await;
        assert_eq!(s, 303, "[{e}]");

        // Waiting for the customer stops the deadlines; the answer restarts them later.
        let due = |html: &str| deadline_block(html, "investigation");
        let (s, html) = app.page(&http, &path).await;
        assert_eq!(s, 200, "[{e}] {path}: {html}");
        assert!(due(&html).contains("2026-11-26 11:30"), "[{e}] 24 working hours: {}", due(&html));
        // An hour later (sessions lapse when idle: sign in again).
        app.clock.set(at("2026-11-23 11:00"));
        http = app.signed_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        token = csrf(&app.page(&http, &path).await.1);
        let (s, _) = post(&app, &http, &step, &[("_csrf", &token), ("action", "wait_customer")]).await;
        assert_eq!(s, 303, "[{e}]");
        let (s, html) = app.page(&http, &path).await;
        assert_eq!(s, 200, "[{e}]");
        assert!(due(&html).contains("已暂停"), "[{e}] {}", due(&html));
        // A day later.
        app.clock.set(at("2026-11-24 11:00"));
        http = app.signed_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        token = csrf(&app.page(&http, &path).await.1);
        let (s, _) = post(&app, &http, &step, &[("_csrf", &token), ("action", "resume")]).await;
        assert_eq!(s, 303, "[{e}]");
        let (s, html) = app.page(&http, &path).await;
        assert_eq!(s, 200, "[{e}] {html}");
        assert!(due(&html).contains("2026-11-27 11:30"), "[{e}] 7.5 working hours later: {}", due(&html));
        assert!(html.contains("等待客户，时限暂停") && html.contains("客户已回复，时限恢复"), "[{e}] on the timeline");

        // The report with an evidence file (kept as the ticket's attachment).
        let form = Form::new()
            .text("_csrf", token.clone())
            .text("action", "report")
            .text("responsible_party", "")
            .text("root_cause", "");
        let r = http.post(format!("{}{step}", app.url)).multipart(form).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 422, "[{e}]");
        let html = r.text().await.unwrap();
        assert!(
            html.contains("id=\"e-report-responsible_party\"") && html.contains("id=\"e-report-root_cause\""),
            "[{e}]"
        );
        let form = Form::new()
            .text("_csrf", token.clone())
            .text("action", "report")
            .text("responsible_party", "third_party")
            .text("root_cause", "快递公司中转站分拣错误，包裹被发往外省")
            .text("evidence", "快递公司工单 SF-20261123-88\n中转站扫描记录")
            .part("file", Part::bytes(PDF.to_vec()).file_name("签收记录.pdf").mime_str("application/pdf").unwrap());
        let r = http.post(format!("{}{step}", app.url)).multipart(form).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 303, "[{e}] {}", r.text().await.unwrap());
        let (_, html) = app.page(&http, &path).await;
        assert!(html.contains("第三方") && html.contains("分拣错误") && html.contains("签收记录.pdf"), "[{e}]");

        // The investigation report: a page and an Excel file with the same rows.
        let (s, html) = app.page(&http, &format!("{path}/report")).await;
        assert_eq!(s, 200, "[{e}]");
        for text in [
            "投诉核查报告",
            "CP20261123001",
            "物流部",
            "第三方",
            "快递公司中转站分拣错误",
            "SF-20261123-88",
            "签收记录.pdf",
        ] {
            assert!(html.contains(text), "[{e}] report: {text}");
        }
        let r = http.get(format!("{}{path}/report.xlsx", app.url)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "[{e}]");
        let rows = sheet_rows(r.bytes().await.unwrap().to_vec(), "投诉核查报告");
        let cell = |label: &str| rows.iter().find(|r| r[0] == label).map(|r| r[1].clone()).unwrap_or_default();
        assert_eq!(cell("投诉编号"), "CP20261123001", "[{e}] {rows:?}");
        assert_eq!(cell("责任方"), "第三方（如物流）", "[{e}]");
        assert!(cell("证据").contains("中转站扫描记录") && cell("证据附件") == "签收记录.pdf", "[{e}] {rows:?}");

        // A solution, rejected with a reason (refused without one), proposed again, approved.
        let (s, _) =
            post(&app, &http, &step, &[("_csrf", &token), ("action", "propose"), ("solution", "补发一件")]).await;
        assert_eq!(s, 303);
        let (s, html) = post(&app, &http, &step, &[("_csrf", &token), ("action", "reject"), ("reason", "")]).await;
        assert_eq!(s, 422, "[{e}]");
        assert!(html.contains("id=\"e-reject-reason\""), "[{e}]");
        let (s, _) =
            post(&app, &http, &step, &[("_csrf", &token), ("action", "reject"), ("reason", "客户要求退款，不要补发")])
                .await;
        assert_eq!(s, 303);
        let (_, html) = app.page(&http, &path).await;
        assert!(html.contains("主管驳回：客户要求退款，不要补发"), "[{e}] the reason beside the new proposal");
        let (s, _) =
            post(&app, &http, &step, &[("_csrf", &token), ("action", "propose"), ("solution", "全额退款 299 元")])
                .await;
        assert_eq!(s, 303);
        let (s, _) = post(&app, &http, &step, &[("_csrf", &token), ("action", "approve")]).await;
        assert_eq!(s, 303);
        let (s, html) =
            post(&app, &http, &step, &[("_csrf", &token), ("action", "agree"), ("promised_at", "2026-11-20T10:00")])
                .await;
        assert_eq!(s, 422, "[{e}] a promise in the past");
        assert!(html.contains("id=\"e-agree-promised_at\""), "[{e}]");
        let (s, _) =
            post(&app, &http, &step, &[("_csrf", &token), ("action", "agree"), ("promised_at", "2026-11-25T16:00")])
                .await;
        assert_eq!(s, 303);

        // Executed: the customer is told through the outbox, within the hour.
        app.clock.set(at("2026-11-25 15:00"));
        http = app.signed_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        token = csrf(&app.page(&http, &path).await.1);
        let (s, _) =
            post(&app, &http, &step, &[("_csrf", &token), ("action", "execute"), ("message", "退款 299 元已原路退回")])
                .await;
        assert_eq!(s, 303, "[{e}]");
        let q = format!("SELECT channel, scenario, body, recipient_masked FROM outbox WHERE customer_id = {customer}");
        let rows = app.state.db.read(move |c| c.query(&q, &[])).await.unwrap();
        assert_eq!(rows.len(), 1, "[{e}] one message queued");
        let (ch, sc, body): (String, String, String) =
            (rows[0].get(0).unwrap(), rows[0].get(1).unwrap(), rows[0].get(2).unwrap());
        assert_eq!((ch.as_str(), sc.as_str()), ("email", "progress_update"), "[{e}]");
        assert!(body.contains("CP20261123001") && body.contains("退款 299 元已原路退回"), "[{e}] {body}");
        let (_, html) = app.page(&http, &path).await;
        assert!(html.contains("经发件箱 · 邮件"), "[{e}] the timeline names the channel");
        assert!(deadline_block(&html, "notification").contains("按时完成"), "[{e}]");

        // Confirmed: archived.
        let (s, html) =
            post(&app, &http, &step, &[("_csrf", &token), ("action", "confirm"), ("satisfaction", "9")]).await;
        assert_eq!(s, 422, "[{e}]");
        assert!(html.contains("id=\"e-confirm-satisfaction\""), "[{e}]");
        let (s, _) = post(
            &app,
            &http,
            &step,
            &[("_csrf", &token), ("action", "confirm"), ("satisfaction", "5"), ("feedback", "退款很快")],
        )
        .await;
        assert_eq!(s, 303);
        let (_, html) = app.page(&http, &path).await;
        assert!(html.contains("id=\"complaint-state\">已归档"), "[{e}]");
        assert!(!html.contains("id=\"workflow\""), "[{e}] no more steps");
        let v = api(&app, &admin, Method::GET, &format!("/api/v1/complaints/{id}"), None).await.1;
        assert_eq!(v["complaint"]["state"], "closed", "[{e}]");
        // The same page in English.
        let (s, html) = app.page(&http, &format!("{path}?lang=en")).await;
        assert_eq!(s, 200, "[{e}]");
        for text in ["Closed (archived)", "Deadlines (working time)", "Timeline", "Investigation report", "Third party"]
        {
            assert!(html.contains(text), "[{e}] en: {text}");
        }

        // The override with a reason on another complaint, from its page.
        let (_, html) = app.page(&http, &format!("/complaints/new?customer_id={customer}")).await;
        let (s, loc) = post(
            &app,
            &http,
            "/complaints/new",
            &[
                ("_csrf", &csrf(&html)),
                ("customer_id", &cid),
                ("channel", "wechat"),
                ("category", "service"),
                ("demand_type", "apology"),
                ("subject", "客服态度"),
                ("description", "客服说话有点冲"),
            ],
        )
        .await;
        assert_eq!(s, 303, "[{e}]");
        let other = loc.split('?').next().unwrap().to_string();
        let (s, html) =
            post(&app, &http, &format!("{other}/urgency"), &[("_csrf", &token), ("urgency", "urgent"), ("reason", "")])
                .await;
        assert_eq!(s, 422, "[{e}]");
        assert!(html.contains("id=\"e-urgency-reason\""), "[{e}]");
        let (s, _) = post(
            &app,
            &http,
            &format!("{other}/urgency"),
            &[("_csrf", &token), ("urgency", "urgent"), ("reason", "VIP 客户，已多次来电")],
        )
        .await;
        assert_eq!(s, 303, "[{e}]");
        let (_, html) = app.page(&http, &other).await;
        assert!(html.contains("人工调整：常规 → 紧急，VIP 客户，已多次来电"), "[{e}]");
    }
}

#[tokio::test]
async fn the_monthly_review_page_and_its_excel_file_show_the_same_figures() {
    for app in apps().await {
        let e = app.engine.clone();
        app.clock.set(at("2026-11-02 10:00"));
        let admin = app.admin_token().await;
        let mut customers = Vec::new();
        for name in ["甲公司", "乙公司", "丙公司"] {
            let (s, v) = api(&app, &admin, Method::POST, "/api/v1/customers", Some(json!({"name": name}))).await;
            assert_eq!(s, 201, "[{e}]");
            customers.push(v["id"].as_i64().unwrap());
        }
        // Logistics 3, product 2, service 1; 甲公司 complains three times.
        let cases = [
            (0, "logistics", "快递延误"),
            (0, "logistics", "快递延误"),
            (1, "logistics", "包裹破损"),
            (0, "product", "屏幕不亮"),
            (2, "product", "电池鼓包"),
            (1, "service", "客服不回复"),
        ];
        for (i, (who, cat, subject)) in cases.iter().enumerate() {
            app.clock.set(at(&format!("2026-11-{:02} 10:00", 2 + i)));
            let (s, v) = api(&app, &admin, Method::POST, "/api/v1/complaints", Some(json!({"customer_id": customers[*who],
                "channel": "phone", "category": cat, "demand_type": "refund", "subject": subject, "description": subject}))).await;
            assert_eq!(s, 201, "[{e}] {v}");
        }
        let http = app.signed_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let (s, html) = app.page(&http, "/complaints/review?month=2026-11").await;
        assert_eq!(s, 200, "[{e}] {html}");
        for text in [
            "投诉月度复盘",
            "超时率",
            "平均处理时长",
            "重复投诉客户",
            "甲公司",
            "帕累托",
            "快递延误 <b>2</b>",
            "name=\"month\" type=\"month\" value=\"2026-11\"",
        ] {
            assert!(html.contains(text), "[{e}] {text}");
        }
        // The category table in Pareto order with the cumulative share; the
        // chart's data in the same order.
        let table = &html[html.find("id=\"category-table\"").unwrap()..];
        let order: Vec<usize> =
            ["物流类", "产品类", "服务类", "沟通类"].iter().map(|c| table.find(c).unwrap()).collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "[{e}] {order:?}");
        assert!(table.contains("50.0%") && table.contains("83.3%") && table.contains("100.0%"), "[{e}]");
        let data = &html[html.find("id=\"report-data\">").unwrap()..];
        assert!(
            data.contains("\"counts\":[3,2,1]") && data.contains("\"cumulative\":[50.0,83.3,100.0]"),
            "[{e}] {}",
            &data[..300]
        );
        let (_, html) = app.page(&http, "/complaints/review?month=2026-11&lang=en").await;
        for text in ["Monthly complaint review", "Timeout rate", "Repeat complainants", "Logistics"] {
            assert!(html.contains(text), "[{e}] en: {text}");
        }
        let (s, _) = app.page(&http, "/complaints/review?month=2026-13").await;
        assert_eq!(s, 422, "[{e}] a bad month is refused");
        let (s, html) = app.page(&http, "/complaints/review?month=2026-10").await;
        assert_eq!(s, 200);
        assert!(html.contains("本月没有投诉"), "[{e}]");

        let r = http.get(format!("{}/complaints/review.xlsx?month=2026-11", app.url)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "[{e}]");
        let rows = sheet_rows(r.bytes().await.unwrap().to_vec(), "投诉复盘");
        let find = |k: &str| rows.iter().find(|r| r[0] == k).cloned().unwrap_or_default();
        assert_eq!(find("投诉总数")[1], "6", "[{e}] {rows:?}");
        assert_eq!(find("物流类")[1..4], ["3".to_string(), "50.0%".into(), "50.0%".into()], "[{e}]");
        assert_eq!(find("甲公司")[1], "3", "[{e}]");

        // An agent may not see the review.
        let (s, v) = api(
            &app,
            &admin,
            Method::POST,
            "/api/v1/users",
            Some(json!({"email": "a@test.cn", "name": "a",
            "role": "agent", "password": "password-123"})),
        )
        .await;
        assert_eq!(s, 201, "{v}");
        let agent = app.signed_in("a@test.cn", "password-123").await;
        let (s, _) = app.page(&agent, "/complaints/review").await;
        assert_eq!(s, 403, "[{e}]");
    }
}

#[tokio::test]
async fn administrators_set_the_thresholds_and_new_complaints_are_graded_by_them() {
    for app in apps().await {
        let e = app.engine.clone();
        app.clock.set(at("2026-11-23 10:00"));
        let admin = app.admin_token().await;
        let (s, v) = api(&app, &admin, Method::GET, "/api/v1/complaints/settings", None).await;
        assert_eq!(
            (s, v["urgent_emotion"].as_str(), v["batch_customers"].as_i64()),
            (200, Some("6.0"), Some(3)),
            "[{e}] {v}"
        );
        let http = app.signed_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let (s, html) = app.page(&http, "/admin/complaints").await;
        assert_eq!(s, 200, "[{e}]");
        assert!(html.contains("漏电") && html.contains("value=\"72\""), "[{e}] the defaults are shown");
        let token = csrf(&html);
        let (s, html) = post(
            &app,
            &http,
            "/admin/complaints",
            &[
                ("_csrf", &token),
                ("urgent_emotion", "2"),
                ("general_emotion", "2.5"),
                ("safety_words", ""),
                ("batch_window_hours", "0"),
                ("batch_customers", "3"),
            ],
        )
        .await;
        assert_eq!(s, 422, "[{e}]");
        for id in ["e-general_emotion", "e-safety_words", "e-batch_window_hours"] {
            assert!(html.contains(&format!("id=\"{id}\"")), "[{e}] {id}");
        }
        assert!(html.contains("必须小于 2.0"), "[{e}] the reason names the limit");
        let (s, loc) = post(
            &app,
            &http,
            "/admin/complaints",
            &[
                ("_csrf", &token),
                ("urgent_emotion", "3"),
                ("general_emotion", "1.5"),
                ("safety_words", "异味\n漏电"),
                ("batch_window_hours", "24"),
                ("batch_customers", "2"),
            ],
        )
        .await;
        assert_eq!((s, loc.as_str()), (303, "/admin/complaints?flash=saved"), "[{e}]");
        let (s, v) = api(
            &app,
            &admin,
            Method::PUT,
            "/api/v1/complaints/settings",
            Some(json!({"urgent_emotion": "x",
            "general_emotion": "1", "safety_words": ["异味"], "batch_window_hours": 24, "batch_customers": 2})),
        )
        .await;
        assert_eq!((s, v["errors"][0]["field"].as_str()), (422, Some("urgent_emotion")), "[{e}] {v}");

        // Graded by the new rules: a new safety word, lower emotion thresholds, a batch of two.
        let (_, v) = api(&app, &admin, Method::POST, "/api/v1/customers", Some(json!({"name": "甲公司"}))).await;
        let a = v["id"].as_i64().unwrap();
        let (_, v) = api(&app, &admin, Method::POST, "/api/v1/customers", Some(json!({"name": "乙公司"}))).await;
        let b = v["id"].as_i64().unwrap();
        let reg = |customer: i64, text: &str| {
            json!({"customer_id": customer, "channel": "phone", "category": "product",
            "demand_type": "exchange", "subject": "售后", "description": text})
        };
        let (_, v) = api(&app, &admin, Method::POST, "/api/v1/complaints", Some(reg(a, "冰箱有异味"))).await;
        assert_eq!(v["urgency"], "urgent", "[{e}] {v}");
        let (_, v) = api(&app, &admin, Method::POST, "/api/v1/complaints", Some(reg(a, "很失望，客服态度差"))).await;
        assert_eq!(v["urgency"], "general", "[{e}] 2.5 is general from 1.5");
        let (_, v) =
            api(&app, &admin, Method::POST, "/api/v1/complaints", Some(reg(a, "电饭煲显示屏不亮，按键没有反应"))).await;
        let first = v["id"].as_i64().unwrap();
        assert_eq!((v["urgency"].as_str(), v["batch_id"].as_i64()), (Some("routine"), None), "[{e}]");
        let (_, v) =
            api(&app, &admin, Method::POST, "/api/v1/complaints", Some(reg(b, "电饭煲显示屏不亮了，按键也没反应")))
                .await;
        assert_eq!(
            (v["urgency"].as_str(), v["batch_id"].as_i64()),
            (Some("general"), Some(first)),
            "[{e}] two customers make a batch now"
        );
        // The earlier member is raised too, with its ticket, and says why.
        let (_, v) = api(&app, &admin, Method::GET, &format!("/api/v1/complaints/{first}"), None).await;
        assert_eq!(v["complaint"]["urgency"], "general", "[{e}] {v}");
        assert!(v["history"].as_array().unwrap().iter().any(|h| h["kind"] == "complaint_batch_raised"), "[{e}]");
        let t = v["complaint"]["ticket_id"].as_i64().unwrap();
        let (_, tk) = api(&app, &admin, Method::GET, &format!("/api/v1/tickets/{t}"), None).await;
        assert_eq!(tk["priority"].as_str().or(tk["ticket"]["priority"].as_str()), Some("high"), "[{e}] {tk}");

        // Only administrators.
        let (s, v) = api(
            &app,
            &admin,
            Method::POST,
            "/api/v1/users",
            Some(json!({"email": "s@test.cn", "name": "s",
            "role": "supervisor", "password": "password-123"})),
        )
        .await;
        assert_eq!(s, 201, "{v}");
        let sup = app.token("s@test.cn", "password-123").await;
        let (s, _) = api(&app, &sup, Method::GET, "/api/v1/complaints/settings", None).await;
        assert_eq!(s, 403, "[{e}]");
    }
}
