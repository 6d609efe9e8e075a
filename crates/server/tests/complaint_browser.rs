//! A real browser on the complaint pages: the monthly review (SPEC P7) of a
//! month with complaints in every category — the Pareto chart drawn, the
//! timeout rate, the average handling time, frequent problems and repeat
//! complainants — and an agent registering a complaint through the form
//! (customer search, demand type, the customer's words) to its page, where
//! the urgency and the words that raised it are shown. Screenshots land in
//! target/screenshots (copied to docs/screenshots by hand).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use guanxi_store::testing;
use jiff::Timestamp;
use reqwest::Method;
use serde_json::{Value, json};
use support::app::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp};
use support::webdriver::Browser;

fn at(s: &str) -> Timestamp {
    jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M", s)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap())
        .unwrap()
        .timestamp()
}

async fn call(app: &TestApp, token: &str, method: Method, path: &str, body: Value) -> Value {
    let r = app.call(method, path, Some(token), Some(body)).await;
    let s = r.status();
    let v: Value = r.json().await.unwrap();
    assert!(s.is_success(), "{path}: {s} {v}");
    v
}

/// Takes a complaint from registration to the customer's confirmation.
async fn close(app: &TestApp, token: &str, id: i64, group: i64, when: &str) {
    let path = format!("/api/v1/complaints/{id}/steps");
    for step in [
        json!({"action": "investigate", "department_id": group}),
        json!({"action": "report", "responsible_party": "company", "root_cause": "出厂检测漏检"}),
        json!({"action": "propose", "solution": "换新并补偿 50 元优惠券"}),
        json!({"action": "approve"}),
        json!({"action": "agree", "promised_at": "2026-11-30 18:00"}),
        json!({"action": "execute"}),
    ] {
        call(app, token, Method::POST, &path, step).await;
    }
    app.clock.set(at(when));
    call(app, token, Method::POST, &path, json!({"action": "confirm", "satisfaction": 4})).await;
}

#[tokio::test]
async fn the_monthly_review_and_the_register_form_in_a_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(testing::sqlite().unwrap()).await;
    app.clock.set(at("2026-11-02 09:30"));
    let admin = app.admin_token().await;
    let group =
        call(&app, &admin, Method::POST, "/api/v1/groups", json!({"name": "质量部", "kind": "team"})).await["id"]
            .as_i64()
            .unwrap();
    let mut customers = Vec::new();
    for name in ["杭州明远科技有限公司", "宁波海曙贸易有限公司", "绍兴越城电器商行", "温州鹿城家居", "嘉兴南湖食品"]
    {
        customers.push(
            call(&app, &admin, Method::POST, "/api/v1/customers", json!({"name": name})).await["id"].as_i64().unwrap(),
        );
    }
    // November: product 6, logistics 4, service 2, communication 1; the
    // first customer complains four times; two are registered late (and one
    // closed below agrees its solution late: three of 13 timed out).
    let cases: [(usize, &str, &str, &str, bool); 13] = [
        (0, "product", "热水器漏电", "热水器用的时候漏电，太危险了", false),
        (1, "product", "电饭煲显示屏不亮", "新买的电饭煲显示屏不亮，按键没有反应", false),
        (2, "product", "电饭煲显示屏不亮", "电饭煲显示屏不亮了，按键也没反应", false),
        (0, "product", "水壶盖子松动", "水壶盖子有点松，想换一个", false),
        (3, "product", "电饭煲显示屏不亮", "电饭煲显示屏不亮，按键没反应，刚买一周", true),
        (4, "product", "冰箱噪音大", "冰箱晚上噪音很大，很失望", false),
        (0, "logistics", "快递延误", "快递三天了还没送到，太糟糕了！！", false),
        (1, "logistics", "快递延误", "物流信息一直不更新", false),
        (2, "logistics", "包裹破损", "收到的包裹破损，里面的杯子碎了", true),
        (3, "logistics", "快递延误", "说好次日达，现在第四天了", false),
        (0, "service", "客服态度差", "客服态度差，推诿，再不处理我就投诉到消协", false),
        (4, "service", "安装师傅迟到", "上门安装师傅迟到两小时", false),
        (1, "communication", "短信通知缺少单号", "发货短信里没有物流单号", false),
    ];
    let mut ids = Vec::new();
    for (i, (who, cat, subject, text, late)) in cases.iter().enumerate() {
        let when = format!("2026-11-{:02} 10:00", 2 + i);
        app.clock.set(at(&when));
        let received = late.then(|| format!("2026-11-{:02}T08:00:00+08:00", 1 + i));
        let v = call(
            &app,
            &admin,
            Method::POST,
            "/api/v1/complaints",
            json!({"customer_id": customers[*who],
            "channel": "phone", "category": cat, "demand_type": if *cat == "product" { "exchange" } else { "apology" },
            "subject": subject, "description": text, "received_at": received}),
        )
        .await;
        ids.push(v["id"].as_i64().unwrap());
    }
    // Two are closed: in 13 days and in 7 days 6 hours (10 days 3 hours on average).
    app.clock.set(at("2026-11-16 10:00"));
    close(&app, &admin, ids[3], group, "2026-11-18 10:00").await;
    app.clock.set(at("2026-11-18 10:00"));
    close(&app, &admin, ids[11], group, "2026-11-20 16:00").await;
    app.clock.set(at("2026-11-23 10:00"));

    let b = &browser;
    b.resize(1366, 1200).await;
    b.goto(&format!("{}/login", app.url)).await;
    b.fill("#email", ADMIN_EMAIL).await;
    b.fill("#password", ADMIN_PASSWORD).await;
    b.click("button[type=submit]").await;
    b.wait_for(".sidebar").await;

    // The tracking table, then the review from the complaint tabs.
    b.goto(&format!("{}/complaints", app.url)).await;
    b.wait_for("#complaint-table").await;
    assert_eq!(b.count("#complaint-table tbody tr").await, 13);
    b.resize(1366, 900).await;
    b.screenshot("complaint-table").await;
    b.resize(1366, 1200).await;
    b.click("#complaint-tabs a[href='/complaints/review']").await;
    b.wait_for("#chart-pareto[data-rendered='1']").await;
    let figures = b.text("#review-figures").await;
    assert!(figures.contains("13"), "{figures}");
    assert!(figures.contains("23.0%"), "3 of 13 late: {figures}");
    assert!(figures.contains("10 天 3 小时"), "{figures}");
    let table = b.text("#category-table").await;
    let rows: Vec<&str> = table.lines().collect();
    assert!(rows[1].starts_with("产品类 6 46.1% 46.1%"), "{table}");
    assert!(rows[2].starts_with("物流类 4 30.7% 76.9%"), "{table}");
    assert!(b.text("#repeat-complainants").await.contains("杭州明远科技有限公司 4"));
    assert!(b.text(".top-issues[data-category='product']").await.contains("电饭煲显示屏不亮 3"));
    b.resize(1366, 1800).await;
    b.screenshot("complaint-monthly-review").await;

    // An agent's registration: find the customer, fill the form, save.
    b.resize(1366, 1000).await;
    b.click("#complaint-tabs a[href='/complaints/new']").await;
    b.fill("#f-q", "明远").await;
    b.click("#search-customer").await;
    b.click(&format!("#customer-results a[data-customer='{}']", customers[0])).await;
    b.wait_for("#complaint-form").await;
    b.client.execute("document.getElementById('f-category').value = 'logistics'", vec![]).await.unwrap();
    b.client.execute("document.getElementById('f-demand_type').value = 'refund'", vec![]).await.unwrap();
    b.fill("#f-subject", "包裹丢失").await;
    b.fill("#f-description", "订单显示已签收但我根本没收到，太糟糕了！！再不处理我就投诉到消协").await;
    b.click("#save").await;
    b.wait_for("#complaint-head").await;
    assert!(b.text(".flash").await.contains("投诉已登记"));
    assert!(b.text("#complaint-urgency").await.contains("紧急"));
    let words = b.text("#emotion-words").await;
    for w in ["太糟糕", "投诉", "消协", "！！"] {
        assert!(words.contains(w), "{w} in {words}");
    }
    assert!(b.text("#deadlines").await.contains("登记（1 小时内）"));
    b.resize(1366, 1400).await;
    b.screenshot("complaint-view").await;

    // The investigation report's print button prints (its handler is in
    // reports.js: the page's CSP refuses inline handlers).
    let view = b.path().await;
    let view = view.split('?').next().unwrap();
    b.goto(&format!("{}{view}/report", app.url)).await;
    b.wait_for("#investigation-report").await;
    b.client
        .execute("window.print = function () { document.body.setAttribute('data-printed', '1'); };", vec![])
        .await
        .unwrap();
    b.click("[data-print]").await;
    assert_eq!(b.count("body[data-printed='1']").await, 1, "the report's print button calls window.print");

    browser.close().await;
}
