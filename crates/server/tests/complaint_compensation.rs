//! Complaint compensation on every engine (SPEC P4): the catalogue and the
//! approval limit per role, edited by administrators and checked field by
//! field; a solution proposed with compensation lines (unknown, inactive
//! options and bad amounts refused, nothing written); a supervisor approves
//! within the limit and is refused above it (state, complaint and database
//! unchanged), where an administrator approves; the same on the pages, and
//! in Chromium with screenshots (target/screenshots/complaint-compensation-*).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::app::TestApp;
use support::webdriver::Browser;

async fn json_of(r: reqwest::Response) -> (u16, Value) {
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn call(app: &TestApp, m: Method, path: &str, token: &str, b: Option<Value>) -> (u16, Value) {
    json_of(app.call(m, path, Some(token), b).await).await
}

fn fields(v: &Value) -> Vec<String> {
    v["errors"].as_array().unwrap().iter().map(|x| x["field"].as_str().unwrap().to_string()).collect()
}

struct Desk {
    admin: String,
    sup: String,
    agent: String,
    department: i64,
    customer: i64,
}

async fn desk(app: &TestApp) -> Desk {
    let admin = app.admin_token().await;
    let (s, team) =
        call(app, Method::POST, "/api/v1/groups", &admin, Some(json!({"name": "一线客服组", "kind": "team"}))).await;
    assert_eq!(s, 201, "{team}");
    let (_, dept) =
        call(app, Method::POST, "/api/v1/groups", &admin, Some(json!({"name": "售后部", "kind": "team"}))).await;
    let mut tokens = Vec::new();
    let mut agent_id = 0;
    for (email, role) in [("chen.jing@test.cn", "supervisor"), ("wang.fang@test.cn", "agent")] {
        let b = json!({"email": email, "name": email.split('@').next().unwrap(), "role": role,
            "password": "password-123", "group_id": team["id"], "certified": true});
        let (s, v) = call(app, Method::POST, "/api/v1/users", &admin, Some(b)).await;
        assert_eq!(s, 201, "{v}");
        agent_id = v["id"].as_i64().unwrap();
        tokens.push(app.token(email, "password-123").await);
    }
    let (s, c) = call(
        app,
        Method::POST,
        "/api/v1/customers",
        &tokens[0],
        Some(json!({"name": "杭州明远科技有限公司", "owner_id": agent_id})),
    )
    .await;
    assert_eq!(s, 201, "{c}");
    let agent = tokens.pop().unwrap();
    let sup = tokens.pop().unwrap();
    Desk { admin, sup, agent, department: dept["id"].as_i64().unwrap(), customer: c["id"].as_i64().unwrap() }
}

/// A complaint registered, investigated and reported: ready for a solution.
async fn investigated(app: &TestApp, d: &Desk, subject: &str) -> i64 {
    let b = json!({"customer_id": d.customer, "channel": "phone", "category": "product", "demand_type": "refund",
        "subject": subject, "description": "收到的净水器滤芯破损，要求退款"});
    let (s, v) = call(app, Method::POST, "/api/v1/complaints", &d.agent, Some(b)).await;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_i64().unwrap();
    for b in [
        json!({"action": "investigate", "department_id": d.department}),
        json!({"action": "report", "responsible_party": "company", "root_cause": "仓库包装不当"}),
    ] {
        let (s, v) = call(app, Method::POST, &format!("/api/v1/complaints/{id}/steps"), &d.agent, Some(b)).await;
        assert_eq!(s, 200, "{v}");
    }
    id
}

async fn complaint(app: &TestApp, token: &str, id: i64) -> Value {
    let (s, v) = call(app, Method::GET, &format!("/api/v1/complaints/{id}"), token, None).await;
    assert_eq!(s, 200, "{v}");
    v
}

#[tokio::test]
async fn administrators_keep_the_catalogue_and_the_limits() {
    for app in support::app::apps().await {
        let e = app.engine.clone();
        let d = desk(&app).await;
        // The seeded catalogue: four options, ¥200 / ¥2,000 / no limit.
        let (s, v) = call(&app, Method::GET, "/api/v1/complaints/compensation", &d.admin, None).await;
        assert_eq!(s, 200, "[{e}] {v}");
        let codes: Vec<&str> = v["options"].as_array().unwrap().iter().map(|o| o["code"].as_str().unwrap()).collect();
        assert_eq!(codes, ["coupon", "refund", "free_service", "gift"], "[{e}]");
        assert_eq!((v["agent_limit"].as_str(), v["supervisor_limit"].as_str()), (Some("200.00"), Some("2,000.00")));
        assert_eq!(v["admin_limit"], "", "[{e}] administrators have no limit");
        let (s, _) = call(&app, Method::GET, "/api/v1/complaints/compensation", &d.sup, None).await;
        assert_eq!(s, 403, "[{e}] supervisors do not edit the catalogue");

        // Bad input names every field, in zh-CN, and writes nothing.
        let before = app.snapshot().await;
        let bad = json!({"options": [
                {"code": "Coupon 1", "kind": "coupon", "name": "优惠券", "active": true},
                {"code": "cash", "kind": "cash", "name": "", "active": true}],
            "agent_limit": "abc", "supervisor_limit": "100", "admin_limit": "50"});
        let (s, v) = call(&app, Method::PUT, "/api/v1/complaints/compensation", &d.admin, Some(bad)).await;
        assert_eq!(s, 422, "[{e}] {v}");
        assert_eq!(
            fields(&v),
            ["options[0].code", "options[1].kind", "options[1].name", "agent_limit", "admin_limit"],
            "[{e}] {v}"
        );
        assert!(v["errors"][3]["message"].as_str().unwrap().chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)));
        assert_eq!(app.snapshot().await, before, "[{e}] nothing written");

        // A new option, the gift retired, a higher supervisor limit: saved and audited.
        let good = json!({"options": [
                {"code": "coupon", "kind": "coupon", "name": "优惠券", "active": true},
                {"code": "refund", "kind": "refund", "name": "退款", "active": true},
                {"code": "gift", "kind": "gift", "name": "礼品", "active": false},
                {"code": "vip_service", "kind": "free_service", "name": "VIP 免费保养", "active": true}],
            "agent_limit": "200", "supervisor_limit": "3,000", "admin_limit": ""});
        let (s, v) = call(&app, Method::PUT, "/api/v1/complaints/compensation", &d.admin, Some(good)).await;
        assert_eq!(s, 200, "[{e}] {v}");
        let (_, v) = call(&app, Method::GET, "/api/v1/complaints/compensation", &d.admin, None).await;
        assert_eq!(v["supervisor_limit"], "3,000.00", "[{e}]");
        assert_eq!(v["options"][3]["name"], "VIP 免费保养", "[{e}]");
        assert_eq!(v["options"][2]["active"], false, "[{e}]");

        // The retired gift and an unknown option are refused in a solution.
        let id = investigated(&app, &d, "滤芯破损").await;
        let before_c = complaint(&app, &d.agent, id).await;
        let (s, v) = call(
            &app,
            Method::POST,
            &format!("/api/v1/complaints/{id}/steps"),
            &d.agent,
            Some(json!({"action": "propose", "solution": "退款并赠礼",
                "compensation": [{"option": "gift", "amount": "50"}, {"option": "cash", "amount": "1"},
                    {"option": "refund", "amount": "-5"}]})),
        )
        .await;
        assert_eq!(s, 422, "[{e}] {v}");
        assert_eq!(
            fields(&v),
            ["compensation[0].option", "compensation[1].option", "compensation[2].amount"],
            "[{e}] {v}"
        );
        assert_eq!(complaint(&app, &d.agent, id).await, before_c, "[{e}] nothing written");
    }
}

#[tokio::test]
async fn approval_needs_a_role_whose_limit_covers_the_compensation() {
    for app in support::app::apps().await {
        let e = app.engine.clone();
        let d = desk(&app).await;
        let steps = |id: i64| format!("/api/v1/complaints/{id}/steps");

        // ¥1,500.50 within the supervisor's ¥2,000: approved by the supervisor.
        let id = investigated(&app, &d, "滤芯破损").await;
        let b = json!({"action": "propose", "solution": "退款并送优惠券",
            "compensation": [{"option": "refund", "amount": "1,200.50"}, {"option": "coupon", "amount": "300"}]});
        let (s, v) = call(&app, Method::POST, &steps(id), &d.agent, Some(b)).await;
        assert_eq!((s, v["state"].as_str()), (200, Some("solution_pending")), "[{e}] {v}");
        assert_eq!(v["compensation_total"], "1,500.50", "[{e}] {v}");
        assert_eq!(v["compensation"][0]["name"], "退款", "[{e}] {v}");
        assert_eq!(v["compensation"][1]["amount"], "300.00", "[{e}] {v}");
        let (s, v) = call(&app, Method::POST, &steps(id), &d.sup, Some(json!({"action": "approve"}))).await;
        assert_eq!((s, v["state"].as_str()), (200, Some("solution_approved")), "[{e}] {v}");

        // ¥5,000: the supervisor is refused, naming the limit and the role needed; nothing changes.
        let id = investigated(&app, &d, "净水器漏水泡坏地板").await;
        let b = json!({"action": "propose", "solution": "赔偿地板维修费",
            "compensation": [{"option": "refund", "amount": "4500"}, {"option": "free_service", "amount": "500"}]});
        let (s, v) = call(&app, Method::POST, &steps(id), &d.agent, Some(b)).await;
        assert_eq!((s, v["compensation_total"].as_str()), (200, Some("5,000.00")), "[{e}] {v}");
        let before = app.snapshot().await;
        let before_c = complaint(&app, &d.sup, id).await;
        let (s, v) = call(&app, Method::POST, &steps(id), &d.sup, Some(json!({"action": "approve"}))).await;
        assert_eq!((s, v["errors"][0]["code"].as_str()), (409, Some("over_compensation_limit")), "[{e}] {v}");
        let msg = v["errors"][0]["message"].as_str().unwrap();
        assert!(msg.contains("2,000.00") && msg.contains("管理员") && msg.contains("5,000.00"), "[{e}] {msg}");
        let r = app
            .http
            .post(format!("{}{}", app.url, steps(id)))
            .bearer_auth(&d.sup)
            .header("accept-language", "en")
            .json(&json!({"action": "approve"}))
            .send()
            .await
            .unwrap();
        let (_, v) = json_of(r).await;
        let msg = v["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(msg.contains("2,000.00") && msg.contains("Administrator"), "[{e}] {v}");
        assert_eq!(complaint(&app, &d.sup, id).await, before_c, "[{e}] the complaint is unchanged");
        assert_eq!(app.snapshot().await, before, "[{e}] the database is unchanged");
        assert_eq!(before_c["complaint"]["state"], "solution_pending");

        // The administrator approves it.
        let (s, v) = call(&app, Method::POST, &steps(id), &d.admin, Some(json!({"action": "approve"}))).await;
        assert_eq!((s, v["state"].as_str()), (200, Some("solution_approved")), "[{e}] {v}");
    }
}

/// Posts a form of the page; (status, location or body).
async fn post(app: &TestApp, http: &reqwest::Client, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let r = http.post(format!("{}{path}", app.url)).form(form).send().await.unwrap();
    let s = r.status().as_u16();
    let loc = r.headers().get("location").map(|l| l.to_str().unwrap().to_string());
    (s, loc.unwrap_or(r.text().await.unwrap()))
}

#[tokio::test]
async fn the_pages_edit_the_catalogue_propose_compensation_and_show_who_approves() {
    for app in support::app::apps().await {
        let e = app.engine.clone();
        let d = desk(&app).await;
        let admin = app.signed_in(support::app::ADMIN_EMAIL, support::app::ADMIN_PASSWORD).await;
        let (s, html) = app.page(&admin, "/admin/complaints").await;
        assert_eq!(s, 200, "[{e}]");
        assert!(html.contains("免费上门服务") && html.contains("value=\"2,000.00\""), "[{e}] the seeded catalogue");
        let token = support::app::csrf(&html);
        // Row 2 without a kind, a bad supervisor limit: refused beside the fields, nothing saved.
        let form = [
            ("_csrf", token.as_str()),
            ("option_rows", "3"),
            ("opt_code_0", "coupon"),
            ("opt_kind_0", "coupon"),
            ("opt_name_0", "优惠券"),
            ("opt_active_0", "1"),
            ("opt_code_1", "repair"),
            ("opt_kind_1", ""),
            ("opt_name_1", "免费维修"),
            ("opt_active_1", "1"),
            ("agent_limit", "200"),
            ("supervisor_limit", "两千"),
            ("admin_limit", ""),
        ];
        let (s, html) = post(&app, &admin, "/admin/complaints/compensation", &form).await;
        assert_eq!(s, 422, "[{e}] {html}");
        assert!(html.contains("补偿选项第2行类型") && html.contains("客服主管审批限额"), "[{e}] {html}");
        assert!(html.contains("value=\"免费维修\"") && html.contains("value=\"两千\""), "[{e}] what was typed is kept");
        let (_, v) = call(&app, Method::GET, "/api/v1/complaints/compensation", &d.admin, None).await;
        assert_eq!(v["options"].as_array().unwrap().len(), 4, "[{e}] nothing saved");
        let mut form = form.to_vec();
        form[7] = ("opt_kind_1", "free_service");
        form[11] = ("supervisor_limit", "2000");
        let (s, loc) = post(&app, &admin, "/admin/complaints/compensation", &form).await;
        assert_eq!((s, loc.as_str()), (303, "/admin/complaints?flash=saved"), "[{e}]");
        let (_, v) = call(&app, Method::GET, "/api/v1/complaints/compensation", &d.admin, None).await;
        let names: Vec<&str> = v["options"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["优惠券", "免费维修"], "[{e}] {v}");

        // The agent proposes ¥2,600 by the form; a bad amount first.
        let id = investigated(&app, &d, "维修后仍漏水").await;
        let agent = app.signed_in("wang.fang@test.cn", "password-123").await;
        let (_, html) = app.page(&agent, &format!("/complaints/{id}")).await;
        assert!(html.contains("免费维修 · 免费服务") && html.contains("客服主管 ¥2,000.00"), "[{e}] {html}");
        let token = support::app::csrf(&html);
        let path = format!("/complaints/{id}/step");
        let mut form = vec![
            ("_csrf", token.as_str()),
            ("action", "propose"),
            ("solution", "免费维修并送优惠券"),
            ("comp_option_0", "repair"),
            ("comp_amount_0", "2,400"),
            ("comp_option_1", "coupon"),
            ("comp_amount_1", "2OO"),
        ];
        let (s, html) = post(&app, &agent, &path, &form).await;
        assert_eq!(s, 422, "[{e}]");
        assert!(html.contains("第2行补偿金额") && html.contains("value=\"2OO\""), "[{e}] {html}");
        form[6] = ("comp_amount_1", "200");
        let (s, _) = post(&app, &agent, &path, &form).await;
        assert_eq!(s, 303, "[{e}]");

        // The supervisor sees who must approve and is refused; the administrator approves.
        let sup = app.signed_in("chen.jing@test.cn", "password-123").await;
        let (_, html) = app.page(&sup, &format!("/complaints/{id}")).await;
        assert!(html.contains("id=\"over-limit\"") && html.contains("¥2,600.00 · 需由管理员批准"), "[{e}] {html}");
        let token = support::app::csrf(&html);
        let (s, html) = post(&app, &sup, &path, &[("_csrf", &token), ("action", "approve")]).await;
        assert_eq!(s, 409, "[{e}]");
        assert!(html.contains("超出客服主管的审批限额 ¥2,000.00，需由管理员批准"), "[{e}] {html}");
        let (_, html) = app.page(&admin, &format!("/complaints/{id}")).await;
        assert!(!html.contains("id=\"over-limit\""), "[{e}]");
        let token = support::app::csrf(&html);
        let (s, _) = post(&app, &admin, &path, &[("_csrf", &token), ("action", "approve")]).await;
        assert_eq!(s, 303, "[{e}]");
        let (_, html) = app.page(&admin, &format!("/complaints/{id}")).await;
        assert!(html.contains("免费维修（免费服务）¥2,400.00") && html.contains("合计 ¥2,600.00"), "[{e}] {html}");
        // In the tracking table's solution column and the investigation report.
        let words = "补偿：免费维修 ¥2,400.00、优惠券 ¥200.00，合计 ¥2,600.00";
        let (_, html) = app.page(&admin, "/complaints").await;
        assert!(html.contains(words), "[{e}] {html}");
        let (_, html) = app.page(&admin, &format!("/complaints/{id}/report")).await;
        assert!(html.contains(words), "[{e}] {html}");
    }
}

#[tokio::test]
async fn the_compensation_pages_in_a_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(guanxi_store::testing::sqlite().unwrap()).await;
    let d = desk(&app).await;
    let id = investigated(&app, &d, "净水器漏水泡坏地板").await;
    let b = json!({"action": "propose", "solution": "赔偿地板维修费，并上门更换滤芯",
        "compensation": [{"option": "refund", "amount": "4500"}, {"option": "free_service", "amount": "500"}]});
    let (s, v) = call(&app, Method::POST, &format!("/api/v1/complaints/{id}/steps"), &d.agent, Some(b)).await;
    assert_eq!(s, 200, "{v}");

    let b = &browser;
    b.resize(1366, 1000).await;
    let url = app.url.clone();
    let login = |email: &'static str, password: &'static str| {
        let url = url.clone();
        async move {
            b.client.delete_all_cookies().await.unwrap();
            b.goto(&format!("{url}/login")).await;
            b.fill("#email", email).await;
            b.fill("#password", password).await;
            b.click("button[type=submit]").await;
            b.wait_for(".sidebar").await;
        }
    };
    login("chen.jing@test.cn", "password-123").await;
    b.goto(&format!("{}/complaints/{id}", app.url)).await;
    let warn = b.text("#over-limit").await;
    assert!(warn.contains("管理员") && warn.contains("2,000.00"), "{warn}");
    assert!(b.text("#compensation").await.contains("合计 ¥5,000.00"));
    b.screenshot("complaint-compensation-over-limit").await;
    b.click("#step-approve button").await;
    b.wait_for("#form-errors").await;
    assert!(b.text("#form-errors").await.contains("需由管理员批准"));

    login(support::app::ADMIN_EMAIL, support::app::ADMIN_PASSWORD).await;
    b.goto(&format!("{}/admin/complaints", app.url)).await;
    b.wait_for("#compensation-options").await;
    assert_eq!(b.count("#compensation-options tbody tr").await, 6, "four options and two blank rows");
    b.fill("input[name=supervisor_limit]", "abc").await;
    b.click("#save-compensation").await;
    b.wait_for("#compensation-errors").await;
    b.client.execute("document.getElementById('compensation-settings').scrollIntoView()", vec![]).await.unwrap();
    b.screenshot("complaint-compensation-settings").await;
    browser.close().await;
}
