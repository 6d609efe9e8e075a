//! A real browser uses the knowledge base and the script library: searching
//! 退款 lists the refund article first with its snippet; the article form
//! refuses an empty title beside the field; the script form refuses a script
//! naming an unknown variable with that name; on a ticket the suggested
//! articles and the scripts filled in for the customer are shown, and
//! "插入回复框" puts the text into the reply box and records the use.
//! Screenshots land in target/screenshots.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::app::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp};
use support::webdriver::Browser;

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let r = app.call(Method::POST, path, Some(token), Some(body)).await;
    let s = r.status();
    let v: Value = r.json().await.unwrap();
    assert!(s.is_success(), "{path}: {s} {v}");
    v
}

#[tokio::test]
async fn the_knowledge_base_and_script_panel_in_a_browser() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(guanxi_store::testing::sqlite().unwrap()).await;
    let admin = app.admin_token().await;
    let articles = [
        (
            "如何申请退款",
            "solution",
            "订单签收后 7 天内可申请退款。\n退款审核通过后 1–3 个工作日原路退回，可在订单详情查看退款进度。",
        ),
        (
            "物流信息查询与延迟处理",
            "sop",
            "物流信息一般在发货后 24 小时内更新。\n长时间未更新时，先核对运单号，再联系承运商。",
        ),
        ("发票重开流程", "policy", "发票抬头错误时，可在开票后 30 天内申请重开。"),
        ("退换货政策说明", "policy", "商品签收 7 天内支持无理由退货；退款金额按实付金额计算。"),
        ("会员积分规则", "product", "每消费 1 元积 1 分，积分可抵扣运费。"),
    ];
    for (title, category, body) in articles {
        post(
            &app,
            &admin,
            "/api/v1/kb/articles",
            json!({"title": title, "category": category, "body": body, "tags": "售后", "review_on": "2027-03-31"}),
        )
        .await;
    }
    let c = post(&app, &admin, "/api/v1/customers", json!({"name": "华光科技有限公司"})).await;
    let t = post(
        &app,
        &admin,
        "/api/v1/tickets",
        json!({"type": "consultation", "channel": "phone", "category": "service", "priority": "normal",
            "customer_id": c["id"], "subject": "客户申请退款", "description": "商品有划痕，客户想知道退款多久到账"}),
    )
    .await;
    let tid = t["id"].as_i64().unwrap();

    b.goto(&format!("{}/login", app.url)).await;
    b.fill("#email", ADMIN_EMAIL).await;
    b.fill("#password", ADMIN_PASSWORD).await;
    b.click("button[type=submit]").await;
    b.wait_for(".sidebar").await;

    // Search from the navigation.
    b.click("a.nav-item[href='/kb']").await;
    b.wait_for("#kb-list").await;
    b.fill("#kb-q", "退款").await;
    b.click(".kb-search button[type=submit]").await;
    b.wait_for("#kb-results").await;
    assert_eq!(b.text(".kb-hit h3 a").await, "如何申请退款");
    assert_eq!(b.count(".kb-hit").await, 2, "the refund article and the returns policy");
    b.screenshot("kb-search").await;

    // The article form names a refused field beside it.
    b.goto(&format!("{}/kb/articles/new", app.url)).await;
    b.wait_for("#article-form").await;
    b.fill("#f-body", "正文").await;
    b.click("#article-form button[type=submit]").await;
    b.wait_for("#form-errors").await;
    assert!(b.text("#e-title").await.contains("必填"));

    // The script form refuses an unknown variable by name.
    b.goto(&format!("{}/kb/scripts/new", app.url)).await;
    b.wait_for("#script-form").await;
    b.fill("#f-title", "开场").await;
    b.fill("#f-body", "您好，{{ customer.nmae }}").await;
    b.click("#script-form button[type=submit]").await;
    b.wait_for("#form-errors").await;
    assert!(b.text("#e-body").await.contains("customer.nmae"));
    b.screenshot("script-form-error").await;

    // The ticket's knowledge panel (a tall window shows it beside the reply box).
    b.resize(1366, 1900).await;
    b.goto(&format!("{}/tickets/{tid}", app.url)).await;
    b.wait_for("#kb-scripts").await;
    assert!(b.text("#kb-suggestions").await.contains("如何申请退款"));
    let first = b.wait_for("#kb-scripts details").await;
    first.click().await.unwrap();
    let text = b.text("#kb-scripts details .kb-script-text").await;
    assert!(text.contains("华光科技有限公司") && text.contains(t["number"].as_str().unwrap()), "{text}");
    b.click("#kb-scripts details form.kb-use button").await;
    let mut uses = 0i64;
    for _ in 0..50 {
        uses = app
            .state
            .db
            .read(move |c| c.scalar(&format!("SELECT COUNT(*) FROM script_uses WHERE ticket_id = {tid}"), &[]))
            .await
            .unwrap();
        if uses > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(uses, 1, "the use is recorded; the page: {}", b.text("#kb-scripts").await);
    let body: String = b
        .client
        .execute("return document.getElementById('f-body').value", vec![])
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(body, text);
    assert_eq!(b.path().await, format!("/tickets/{tid}"), "still on the ticket");
    b.screenshot("ticket-script-panel").await;
    b.close().await;
}
