//! A real browser (Debian's Chromium) walks through the product as a user:
//! log in, list customers, create one with a bad phone number (the error is
//! shown and nothing is saved), then a good one; import a file; recompute
//! the segmentation and read the churn-risk list. Screenshots land in
//! target/screenshots.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use guanxi_server::demo::DemoOptions;
use guanxi_store::testing;
use reqwest::Method;
use serde_json::{Value, json};
use support::app::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp};
use support::webdriver::Browser;

async fn customer_count(app: &TestApp) -> i64 {
    app.state.db.read(guanxi_store::customers::count).await.unwrap()
}

#[tokio::test]
async fn a_user_logs_in_lists_and_creates_customers() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(testing::sqlite().unwrap()).await;
    guanxi_server::load_demo(&app.state, &DemoOptions { seed: 7, customers: 80 }).await.unwrap();
    let b = &browser;

    // Login page; a wrong password is explained.
    b.goto(&format!("{}/customers", app.url)).await;
    b.wait_for("#email").await;
    assert!(b.path().await.starts_with("/login"));
    b.screenshot("login").await;
    b.fill("#email", ADMIN_EMAIL).await;
    b.fill("#password", "not-the-password").await;
    b.click("button[type=submit]").await;
    assert!(b.text(".alert-error").await.contains("邮箱或密码不正确"));
    b.fill("#email", ADMIN_EMAIL).await;
    b.fill("#password", ADMIN_PASSWORD).await;
    b.click("button[type=submit]").await;

    // Back where we wanted to go: the customer list, 25 rows, phones masked.
    b.wait_for("#customer-table").await;
    assert_eq!(b.path().await, "/customers");
    assert_eq!(b.count("#customer-table tbody tr").await, 25);
    let table = b.text("#customer-table").await;
    assert!(table.contains("KH0000"), "codes shown");
    assert!(table.contains("****"), "phones masked");
    b.screenshot("customers-list").await;

    // A demo customer's 360 page: a filled timeline, contacts, orders.
    let busiest: i64 = app
        .state
        .db
        .read(|c| {
            c.scalar(
                "SELECT customer_id FROM timeline GROUP BY customer_id ORDER BY COUNT(*) DESC, customer_id LIMIT 1",
                &[],
            )
        })
        .await
        .unwrap();
    // Search results: a fragment of that customer's name
    // (through the gram index) lists it, among others.
    let name: String = app
        .state
        .db
        .read(move |c| c.scalar("SELECT name FROM customers WHERE id = $1", guanxi_store::args![busiest]))
        .await
        .unwrap();
    let fragment: String = name.chars().skip(2).take(4).collect();
    b.goto(&format!("{}/customers", app.url)).await;
    b.fill("#q", &fragment).await;
    b.click("form[role=search] button[type=submit]").await;
    b.wait_url("q=").await;
    b.wait_for("#customer-table").await;
    let results = b.text("#customer-table").await;
    assert!(results.contains(&name), "searching {fragment:?} finds {name}");
    b.screenshot("customers-search").await;

    b.goto(&format!("{}/customers/{busiest}", app.url)).await;
    b.wait_for("#timeline-list").await;
    assert!(b.count("#timeline-list li").await >= 5);
    b.screenshot("demo-customer-360").await;
    b.goto(&format!("{}/customers", app.url)).await;
    b.wait_for("#customer-table").await;

    // Filter by a tag through the form.
    let before = customer_count(&app).await;
    b.fill("#q", "KH000003").await;
    b.click(".filter-actions button[type=submit]").await;
    b.wait_url("q=KH000003").await;
    b.wait_for("#customer-table").await;
    assert_eq!(b.count("#customer-table tbody tr").await, 1);

    // New customer with a bad phone number: the error is shown, nothing saved.
    b.goto(&format!("{}/customers/new", app.url)).await;
    b.wait_for("#customer-form").await;
    b.screenshot("customer-form").await;
    b.fill("#f-name", "苏州博瑞精密机械有限公司").await;
    b.fill("#f-phone", "1380013800").await;
    b.fill("#f-tags", "高价值，偏好新品").await;
    b.click("#save").await;
    let err = b.text("#e-phone").await;
    assert!(err.contains("不是有效的电话号码"), "{err}");
    assert!(b.text("#form-errors").await.contains("联系电话"));
    assert_eq!(customer_count(&app).await, before, "nothing saved");
    b.screenshot("customer-form-error").await;

    // Corrected: saved and shown, phone masked.
    b.fill("#f-phone", "13800138000").await;
    b.click("#save").await;
    b.wait_for(".profile-name").await;
    assert_eq!(b.text(".profile-name").await, "苏州博瑞精密机械有限公司");
    assert_eq!(b.text("#phone-value").await, "138****8000");
    assert!(b.text(".flash").await.contains("客户已创建"));
    assert_eq!(customer_count(&app).await, before + 1);
    b.screenshot("customer-view").await;

    // Customer 360: a contact, a communication with a follow-up, an order.
    let profile = b.path().await;
    let profile = profile.split('?').next().unwrap().to_string();
    b.click("#add-contact").await;
    b.fill("#f-name", "周婷").await;
    b.fill("#f-title", "行政总监").await;
    b.fill("#f-phone", "13655554321").await;
    b.click("#save").await;
    b.wait_url("flash=contact").await;
    assert!(b.text(".grid-360").await.contains("周婷"));

    b.click("#log-communication").await;
    b.wait_for("#communication-form").await;
    b.fill("#f-purpose", "首次拜访").await;
    b.fill("#f-summary", "客户关注交付周期，希望下周拿到报价").await;
    b.fill("#f-action_items_0__content", "3 个工作日内发送正式报价").await;
    b.click("#save").await;
    // The follow-up has no due time: refused, with the reason beside the field.
    assert!(b.text("#form-errors").await.contains("完成时限"));
    assert_eq!(b.count("#f-action_items_0__content").await, 1);
    b.screenshot("communication-form-error").await;
    b.client
        .execute("document.getElementById('f-action_items_0__due').value = '2026-11-26T18:00'", vec![])
        .await
        .unwrap();
    b.click("#save").await;
    b.wait_url("flash=communication").await;
    let timeline = b.text("#timeline-list").await;
    assert!(timeline.contains("沟通 · 电话") && timeline.contains("首次拜访"), "{timeline}");
    assert!(b.text(".grid-360").await.contains("3 个工作日内发送正式报价"));

    b.click("#add-order").await;
    b.fill("#f-amount", "12800.5").await;
    b.fill("#f-product", "精密轴承").await;
    b.click("#save").await;
    b.wait_url("flash=order").await;
    assert!(b.text(".kv").await.contains("¥12,800.50"));
    b.screenshot("customer-360").await;
    assert!(b.text(".grid-360").await.contains("136****4321"), "contact phone masked");
    b.click(".reveal-contact").await;
    b.wait_url("/reveal").await;
    b.wait_for(".contact-pii").await;
    assert!(b.text(".grid-360").await.contains("13655554321"), "revealed on request");
    let logged: i64 = app
        .state
        .db
        .read(|c| c.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'reveal' AND entity = 'contact'", &[]))
        .await
        .unwrap();
    assert_eq!(logged, 1, "the reveal is in the audit log");

    // Found again by the last four digits of the contact's phone.
    b.goto(&format!("{}/customers?q=4321", app.url)).await;
    b.wait_for("#customer-table").await;
    assert!(b.text("#customer-table").await.contains("苏州博瑞精密机械有限公司"));
    b.goto(&format!("{}{profile}", app.url)).await;
    b.wait_for("#timeline").await;

    // The workbench, and the list on a phone-sized screen.
    b.goto(&format!("{}/", app.url)).await;
    b.wait_for(".stats").await;
    assert!(
        b.text("#my-actions").await.contains("3 个工作日内发送正式报价"),
        "the follow-up is on the owner's workbench"
    );
    b.screenshot("workbench").await;
    b.click("#my-actions form button").await;
    b.wait_for("#my-actions .empty").await;
    b.resize(390, 844).await;
    b.goto(&format!("{}/customers", app.url)).await;
    b.wait_for("#customer-table").await;
    b.screenshot("customers-phone").await;

    // English.
    b.resize(1366, 900).await;
    b.goto(&format!("{}/lang/en?back=/customers", app.url)).await;
    b.wait_for("#customer-table").await;
    assert!(b.text("#new-customer").await.contains("New customer"));
    b.screenshot("customers-list-en").await;

    browser.close().await;
}

#[tokio::test]
async fn a_supervisor_uploads_a_file_with_bad_rows_and_reads_the_report() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(testing::sqlite().unwrap()).await;
    let b = &browser;
    b.goto(&format!("{}/login?next=/customers", app.url)).await;
    b.fill("#email", ADMIN_EMAIL).await;
    b.fill("#password", ADMIN_PASSWORD).await;
    b.click("button[type=submit]").await;

    // From the customer list to the import page.
    b.click("#import-link").await;
    b.wait_for("#import-form").await;
    assert_eq!(b.path().await, "/import");
    assert!(b.text("#help-customers").await.contains("客户名称"), "the accepted headers are listed");
    b.screenshot("import-form").await;

    // A file with four bad rows out of six: every one is listed, nothing is written.
    let dir = std::env::temp_dir().join(format!("guanxi-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("客户名单-2026年11月.csv");
    std::fs::write(
        &bad,
        "客户名称,联系电话,联系邮箱,所属行业,合作开始,外部编号\n\
         北京星辰科技有限公司,13812345678,li@xingchen.cn,金融,2024-05-01,CRM-001\n\
         ,13912345678,,零售,2023-01-15,CRM-002\n\
         上海云帆贸易有限公司,1391234,wang@yunfan,零售,2023-03-01,CRM-003\n\
         广州恒达物流有限公司,020-87654321,,物流,2022-08-18,CRM-004\n\
         深圳创新科技有限公司,13612345678,,软件与信息服务,2030-01-01,CRM-005\n\
         成都天府餐饮管理有限公司,13512345678,,餐饮,2021-11-30,CRM-001\n",
    )
    .unwrap();
    let before = customer_count(&app).await;
    b.wait_for("#f-file").await.send_keys(bad.to_str().unwrap()).await.unwrap();
    b.click("#start-import").await;
    b.wait_for("#import-refused").await;
    assert!(b.text("#import-refused").await.contains("没有写入任何数据"));
    assert_eq!(b.text("#import-file").await, "客户名单-2026年11月.csv");
    assert_eq!(b.text("#count-rows").await, "6");
    assert_eq!(b.text("#count-bad").await, "4");
    let table = b.text("#import-errors").await;
    for expected in
        ["行号", "列", "原因", "必填", "不是有效的电话号码", "不是有效的邮箱地址", "不能晚于今天", "与第 2 行重复"]
    {
        assert!(table.contains(expected), "{expected} in {table}");
    }
    assert_eq!(b.count("#import-errors tbody tr").await, 5, "one line per bad cell");
    assert_eq!(customer_count(&app).await, before, "nothing written");
    b.screenshot("import-report").await;
    b.resize(390, 844).await;
    // Let the sidebar finish sliding away.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    b.screenshot("import-report-phone").await;
    b.resize(1366, 900).await;

    // Corrected and imported.
    b.click("#import-again").await;
    b.wait_for("#import-form").await;
    let good = dir.join("客户名单-已修正.csv");
    std::fs::write(
        &good,
        "客户名称,联系电话,所属行业,外部编号\n北京星辰科技有限公司,13812345678,金融,CRM-001\n上海云帆贸易有限公司,13912345678,零售,CRM-003\n",
    )
    .unwrap();
    b.wait_for("#f-file").await.send_keys(good.to_str().unwrap()).await.unwrap();
    b.click("#start-import").await;
    b.wait_for("#import-done").await;
    assert_eq!(b.text("#count-inserted").await, "2");
    assert_eq!(customer_count(&app).await, before + 2);
    b.screenshot("import-done").await;
    let _ = std::fs::remove_dir_all(&dir);
    browser.close().await;
}

/// Waits until the text of an element satisfies `ok` (e.g. a count the
/// page's script fills in); returns it.
async fn wait_text(b: &Browser, css: &str, ok: impl Fn(&str) -> bool) -> String {
    // Up to 30 s: a busy machine may be slow to answer a debounced request.
    for _ in 0..300 {
        let t = b.text(css).await;
        if ok(&t) {
            return t;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{css} never showed what was expected: {}", b.text(css).await);
}

/// Creates through the API; returns the new record's id.
async fn api_create(app: &TestApp, token: &str, path: &str, body: Value) -> i64 {
    let r = app.call(Method::POST, path, Some(token), Some(body)).await;
    assert_eq!(r.status(), 201, "{path}");
    r.json::<Value>().await.unwrap()["id"].as_i64().unwrap_or_default()
}

#[tokio::test]
async fn a_supervisor_recomputes_the_segments_and_reads_the_churn_risk_list() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(testing::sqlite().unwrap()).await;
    guanxi_server::load_demo(&app.state, &DemoOptions { seed: 7, customers: 60 }).await.unwrap();
    // Today is 2026-11-23. Besides the demo: a high-value customer whose
    // orders fell from 10 to 3, one talking to a competitor, one that went
    // quiet 100 days ago, and one whose complaints and consultations spiked.
    let admin = app.admin_token().await;
    let a = api_create(
        &app,
        &admin,
        "/api/v1/customers",
        json!({"name": "北京明远科技有限公司", "industry": "制造业", "region": "北京市海淀区"}),
    )
    .await;
    for k in 0..10 {
        let body = json!({"ordered_on": format!("2026-07-{:02}", 1 + k), "amount": "9000", "product": "云服务年费", "external_id": format!("MY-P{k}")});
        api_create(&app, &admin, &format!("/api/v1/customers/{a}/orders"), body).await;
    }
    for k in 0..3 {
        let body = json!({"ordered_on": format!("2026-11-{:02}", 1 + k), "amount": "10000", "product": "云服务年费", "external_id": format!("MY-R{k}")});
        api_create(&app, &admin, &format!("/api/v1/customers/{a}/orders"), body).await;
    }
    let b = api_create(
        &app,
        &admin,
        "/api/v1/customers",
        json!({"name": "上海星辰机械制造有限公司", "tags": ["竞品接触"]}),
    )
    .await;
    let body = json!({"ordered_on": "2026-10-10", "amount": "68000", "product": "精密轴承", "external_id": "XC-1"});
    api_create(&app, &admin, &format!("/api/v1/customers/{b}/orders"), body).await;
    let c = api_create(&app, &admin, "/api/v1/customers", json!({"name": "杭州青禾食品有限公司"})).await;
    let call = json!({"channel": "phone", "purpose": "季度回访", "summary": "客户暂无新需求", "occurred_at": "2026-08-15 10:00"});
    api_create(&app, &admin, &format!("/api/v1/customers/{c}/communications"), call).await;
    let d = api_create(&app, &admin, "/api/v1/customers", json!({"name": "广州恒达物流有限公司"})).await;
    for (k, day) in ["2026-10-20", "2026-11-02", "2026-11-12", "2026-11-18"].iter().enumerate() {
        let call = json!({"channel": "online_chat", "direction": "inbound", "purpose": "物流延误投诉", "summary": format!("第{}次反映到货延误", k + 1), "occurred_at": format!("{day} 15:00"), "satisfaction": 2});
        api_create(&app, &admin, &format!("/api/v1/customers/{d}/communications"), call).await;
    }

    let b_ = &browser;
    b_.goto(&format!("{}/login?next=/segments", app.url)).await;
    b_.fill("#email", ADMIN_EMAIL).await;
    b_.fill("#password", ADMIN_PASSWORD).await;
    b_.click("button[type=submit]").await;

    // Never computed: one click runs it.
    b_.wait_for("#seg-empty").await;
    b_.click("#recompute").await;
    b_.wait_for("#tier-activity").await;
    assert!(b_.text(".flash").await.contains("已重新计算"));
    b_.resize(1366, 1160).await;
    let total: i64 = b_.text("#total-all").await.split_whitespace().next().unwrap().parse().unwrap();
    assert_eq!(total, customer_count(&app).await, "every customer is placed");
    assert!(b_.text("#stat-risk").await.parse::<i64>().unwrap() >= 4);
    b_.screenshot("segments-overview").await;
    b_.resize(1366, 900).await;

    // A cell opens its members.
    b_.click("#cell-high-active a").await;
    b_.wait_url("/segments/members").await;
    b_.wait_for("#member-table").await;
    assert!(b_.text("#segment-description").await.contains("价值分层 = 高价值 且 活跃度 = 活跃"));
    assert!(b_.text("#member-table").await.contains("北京明远科技有限公司"));
    b_.screenshot("segment-members").await;

    // The churn-risk list says why, in words.
    b_.goto(&format!("{}/segments/churn-risk", app.url)).await;
    b_.wait_for("#churn-table").await;
    let list = b_.text("#churn-table").await;
    for expected in [
        "近90天订单数较前90天下降70%（10单 → 3单）",
        "接触竞品",
        "已连续100天无互动（最近互动：2026-08-15）",
        "北京明远科技有限公司",
    ] {
        assert!(list.contains(expected), "{expected} in {list}");
    }
    b_.screenshot("churn-risk").await;

    // The builder: high value and at risk, previewed, then saved.
    b_.click("#tab-builder").await;
    b_.wait_for("#builder-form").await;
    b_.wait_for("#f-tier").await.select_by_value("high").await.unwrap();
    b_.click("#f-at_risk").await;
    b_.click("#preview-btn").await;
    b_.wait_for("#preview-result").await;
    assert!(b_.text("#preview-description").await.contains("价值分层 = 高价值 且 处于流失预警"));
    assert!(b_.text("#preview-table").await.contains("北京明远科技有限公司"));
    b_.fill("#f-name", "高价值流失预警客户").await;
    b_.click("#save-segment").await;
    b_.wait_url("flash=saved").await;
    assert!(b_.text(".flash").await.contains("客群已保存"));
    assert!(b_.text("#member-table").await.contains("北京明远科技有限公司"));
    // A bad amount is refused beside its field; then a second segment.
    b_.goto(&format!("{}/segments/builder", app.url)).await;
    assert!(b_.text("#saved-segments").await.contains("高价值流失预警客户"));
    b_.wait_for("#f-activity").await.select_by_value("active").await.unwrap();
    b_.fill("#f-min_spend", "十万").await;
    b_.click("#preview-btn").await;
    assert!(b_.text("#e-min_spend").await.contains("金额格式不正确"));
    b_.fill("#f-min_spend", "100000").await;
    b_.click("#preview-btn").await;
    b_.wait_for("#preview-result").await;
    assert!(b_.text("#preview-description").await.contains("活跃度 = 活跃 且 近12个月消费 ≥ ¥100,000.00"));
    b_.fill("#f-name", "活跃大客户").await;
    b_.resize(1366, 1300).await;
    b_.screenshot("segment-builder").await;
    b_.resize(1366, 900).await;

    // An "any of" group inside the conditions: active, and (potential or
    // in contact with a competitor); the count follows the fields live.
    b_.goto(&format!("{}/segments/builder", app.url)).await;
    b_.wait_for("#f-activity").await.select_by_value("active").await.unwrap();
    b_.click("#group-new summary").await;
    b_.click("#group-new input[name=g1_tier][value=potential]").await;
    b_.fill("#f-g1_tag", "竞品接触").await;
    b_.click("#preview-btn").await;
    b_.wait_for("#group-1").await;
    let shown = b_.text("#preview-description").await;
    assert!(shown.contains("活跃度 = 活跃 且 （价值分层 = 潜力 或 标签 = 竞品接触）"), "{shown}");
    // The live count follows the last field filled (after a short pause):
    // it settles on the preview's figure, not on the count before the group.
    let total = b_.text("#preview-total").await;
    assert!(total.parse::<i64>().is_ok(), "{total}");
    wait_text(b_, "#live-count", |t| t == total).await;
    assert!(b_.text("#preview-table").await.contains("上海星辰机械制造有限公司"));
    b_.resize(1366, 1500).await;
    b_.screenshot("segment-builder-or").await;
    b_.fill("#f-name", "活跃的潜力或竞品接触客户").await;
    b_.click("#save-segment").await;
    b_.wait_url("flash=saved").await;
    // Deleted again, after the confirmation.
    b_.click("#delete-segment").await;
    b_.click("#confirm-delete").await;
    b_.wait_url("flash=deleted").await;
    assert!(!b_.text(".content").await.contains("活跃的潜力或竞品接触客户"));
    b_.resize(1366, 900).await;

    // Rule tags: the administrators' list and form, a combined tag.
    b_.click("#tab-rule-tags").await;
    b_.wait_for("#rule-tag-table").await;
    b_.click("#new-rule-tag").await;
    b_.fill("#f-name", "重点新品客户").await;
    b_.fill("#f-tag", "高价值+活跃").await;
    b_.click("#group-new summary").await;
    b_.fill("#f-g1_tag", "偏好新品、对功能有需求").await;
    b_.click("#preview-btn").await;
    b_.wait_for("#preview-result").await;
    b_.resize(1366, 1500).await;
    b_.screenshot("rule-tag-form").await;
    b_.click("#save-rule-tag").await;
    b_.wait_url("flash=rule_saved").await;
    assert!(b_.text("#rule-tag-table").await.contains("重点新品客户"));
    b_.resize(1366, 900).await;
    b_.screenshot("rule-tags").await;
    // Deleting 高价值 waits while 重点新品客户 tests it; 重点新品客户 itself goes.
    let high: i64 =
        app.state.db.read(|c| c.scalar("SELECT id FROM rule_tags WHERE name = '高价值'", &[])).await.unwrap();
    b_.click(&format!("#delete-rule-tag-{high}")).await;
    assert!(b_.wait_for("#delete-used-by").await.text().await.unwrap().contains("重点新品客户"));
    assert_eq!(b_.count("#confirm-delete").await, 0);
    b_.screenshot("rule-tag-delete-refused").await;
    let combined: i64 =
        app.state.db.read(|c| c.scalar("SELECT id FROM rule_tags WHERE name = '重点新品客户'", &[])).await.unwrap();
    b_.goto(&format!("{}/segments/rule-tags/{combined}", app.url)).await;
    b_.click("#delete-rule-tag").await;
    b_.wait_for("#confirm-delete").await;
    b_.screenshot("rule-tag-delete").await;
    b_.click("#confirm-delete").await;
    b_.wait_url("flash=rule_deleted").await;
    assert!(!b_.text("#rule-tag-table").await.contains("重点新品客户"));

    // Settings (administrators).
    b_.click("#tab-settings").await;
    b_.wait_for("#signal-rules").await;
    b_.fill("#f-order_drop_threshold", "150").await;
    b_.click("#save").await;
    assert_eq!(b_.text("#e-order_drop_threshold").await, "超出允许范围");
    b_.resize(1366, 1300).await;
    b_.screenshot("segment-settings").await;
    b_.resize(1366, 900).await;

    // The customer's 360 page shows the same evidence.
    b_.goto(&format!("{}/customers/{a}", app.url)).await;
    b_.wait_for("#segment").await;
    let panel = b_.text("#churn-signals").await;
    assert!(panel.contains("近90天订单数较前90天下降70%（10单 → 3单）"), "{panel}");
    b_.screenshot("customer-360-segment").await;
    // Without orders it ranks low on the list, but its panel says why too.
    b_.goto(&format!("{}/customers/{d}", app.url)).await;
    let panel = b_.text("#churn-signals").await;
    assert!(panel.contains("近60天投诉与咨询共4次，前60天为0次"), "{panel}");

    // English.
    b_.goto(&format!("{}/lang/en?back=/segments/churn-risk", app.url)).await;
    b_.wait_for("#churn-table").await;
    let list = b_.text("#churn-table").await;
    assert!(list.contains("Orders in the last 90 days fell 70% vs the 90 days before (10 → 3)"), "{list}");
    b_.screenshot("churn-risk-en").await;
    browser.close().await;
}

#[tokio::test]
async fn an_administrator_reads_and_edits_the_business_calendar() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(testing::sqlite().unwrap()).await;
    let b = &browser;
    b.goto(&format!("{}/login?next=%2Fadmin%2Fcalendar%3Fmonth%3D2026-02", app.url)).await;
    b.fill("#email", ADMIN_EMAIL).await;
    b.fill("#password", ADMIN_PASSWORD).await;
    b.click("button[type=submit]").await;

    // February 2026: the Spring Festival week off, both Saturdays around it worked.
    b.wait_for("#month-grid").await;
    assert_eq!(b.text("#month-title").await, "2026年2月");
    assert!(b.text("#d-2026-02-17").await.contains("春节"));
    assert!(b.text("#d-2026-02-16").await.contains("春节、除夕"));
    assert!(b.text("#d-2026-02-14").await.contains("春节调休上班"));
    assert!(b.text("#d-2026-01-26").await.contains("腊八节"), "the neighbouring days are shown too");
    b.resize(1366, 1250).await;
    b.screenshot("business-calendar").await;

    // A day picked on the grid fills the form; the company's party closes it.
    b.click("#d-2026-02-27 a").await;
    b.wait_url("date=2026-02-27").await;
    assert_eq!(b.wait_for("#f-date").await.prop("value").await.unwrap().as_deref(), Some("2026-02-27"));
    b.wait_for("#f-working").await.select_by_value("0").await.unwrap();
    b.fill("#f-name", "公司年会").await;
    b.click("#save-override").await;
    b.wait_url("flash=override_saved").await;
    assert!(b.text("#d-2026-02-27").await.contains("公司年会"));
    assert!(b.text("#month-overrides").await.contains("公司年会"));

    // Overlapping hours are refused beside the weekday.
    b.fill("#f-mon", "09:00-12:00, 11:00-13:00").await;
    b.click("#save-schedule").await;
    assert_eq!(b.text("#e-mon").await, "时段之间不能重叠");
    b.goto(&format!("{}/admin/calendar?month=2026-02#schedule", app.url)).await;
    b.wait_for("#schedule-form").await;

    // English, on Golden Week.
    b.goto(&format!("{}/lang/en?back=%2Fadmin%2Fcalendar%3Fmonth%3D2026-10", app.url)).await;
    b.wait_for("#month-grid").await;
    assert_eq!(b.text("#month-title").await, "October 2026");
    assert!(b.text("#d-2026-10-10").await.contains("国庆节调休上班"));
    b.screenshot("business-calendar-en").await;
    b.resize(390, 1300).await;
    b.goto(&format!("{}/admin/calendar?month=2026-10", app.url)).await;
    b.wait_for("#month-grid").await;
    b.screenshot("business-calendar-phone").await;
    browser.close().await;
}
