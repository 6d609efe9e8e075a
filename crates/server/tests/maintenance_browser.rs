//! A real browser walks an agent's maintenance day on the demo data: the
//! task queue 我的维护任务, a task's preparation view, the maintenance
//! record form refusing an action item without its owner (the message
//! beside the field, nothing saved), then saved; the execution rate.
//! Screenshots land in target/screenshots.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use guanxi_server::demo::DemoOptions;
use guanxi_store::testing;
use support::app::TestApp;
use support::webdriver::Browser;

async fn records(app: &TestApp) -> i64 {
    app.state.db.read(|c| c.scalar("SELECT COUNT(*) FROM maintenance_records", &[])).await.unwrap()
}

#[tokio::test]
async fn an_agent_prepares_and_records_a_maintenance_task() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(testing::sqlite().unwrap()).await;
    guanxi_server::load_demo(&app.state, &DemoOptions { seed: 7, customers: 80 }).await.unwrap();
    guanxi_server::service::segments::recompute(&app.state, &|_, _| {}).await.unwrap();
    let report = guanxi_server::service::maintenance::generate(&app.state, &|_, _| {}).await.unwrap();
    assert!(report.created > 0, "{report:?}");
    let b = &browser;
    b.resize(1366, 1000).await;

    b.goto(&format!("{}/login", app.url)).await;
    b.fill("#email", "wang.fang@demo.guanxi.cn").await;
    b.fill("#password", guanxi_server::demo::DEMO_PASSWORD).await;
    b.click("button[type=submit]").await;
    b.wait_for("#my-maintenance").await;
    b.screenshot("maintenance-workbench").await;

    // The queue: sections, scenarios, the tasks soonest due first.
    b.click("a.nav-item[href='/maintenance']").await;
    b.wait_for("#task-table").await;
    assert!(b.count("#task-table tbody tr").await > 0);
    assert!(b.text("#sections").await.contains("即将到期"));
    b.screenshot("maintenance-queue").await;

    // The preparation view of the first task to call (content goes through outreach).
    b.click("#task-table tbody tr[data-kind=call] a.btn").await;
    b.wait_for("#task-goal").await;
    assert!(b.text("#task-goal").await.contains("维护目标"));
    assert!(b.count("#scripts details").await > 0);
    b.resize(1366, 1400).await;
    b.screenshot("maintenance-preparation").await;

    // The record form: an action item without its owner is refused beside it.
    b.click("#fill-record").await;
    b.wait_for("#record-form").await;
    let before = records(&app).await;
    b.fill("#f-summary", "电话回访，客户反馈近期使用顺畅，关注新功能上线时间").await;
    b.fill("#f-feedback", "希望能提前了解新版本功能").await;
    b.fill("#f-needs_explicit", "新版本培训").await;
    b.fill("#f-needs_implicit", "有扩大使用范围的可能").await;
    b.wait_for("#f-completion").await.select_by_value("completed").await.unwrap();
    b.wait_for("#f-satisfaction").await.select_by_value("5").await.unwrap();
    b.click("#f-effect input[value=achieved]").await;
    if b.count("#f-churn_reason").await > 0 {
        b.wait_for("#f-churn_reason").await.select_by_value("needs").await.unwrap();
    }
    b.fill("#f-action_items_0__content", "下周三前发送新版本培训安排").await;
    // A datetime-local field takes its value in the browser's own format
    // when typed; set it as the form would send it.
    b.client
        .execute("document.querySelector('#f-action_items_0__due').value = '2026-11-25T18:00'", vec![])
        .await
        .unwrap();
    b.click("#save").await;
    b.wait_for("#e-action_items_0__owner_id").await;
    assert!(b.text("#e-action_items_0__owner_id").await.contains("请选择负责人"));
    assert!(b.text("#form-errors").await.contains("行动项 1 · 负责人"));
    assert_eq!(records(&app).await, before, "nothing saved");
    b.resize(1366, 2200).await;
    b.screenshot("maintenance-record-error").await;

    // With the owner: saved, the task done, its record shown.
    b.wait_for("#f-action_items_0__owner_id").await.select_by_label("王芳").await.unwrap();
    b.click("#save").await;
    b.wait_url("flash=recorded").await;
    b.wait_for("#record").await;
    assert_eq!(records(&app).await, before + 1);
    b.resize(1366, 1400).await;
    b.screenshot("maintenance-recorded").await;

    // Ten days on, the week's tasks have fallen due: the execution rate.
    app.clock.advance(jiff::SignedDuration::from_hours(24 * 10));
    b.goto(&format!("{}/login", app.url)).await;
    b.fill("#email", "wang.fang@demo.guanxi.cn").await;
    b.fill("#password", guanxi_server::demo::DEMO_PASSWORD).await;
    b.click("button[type=submit]").await;
    b.wait_for("#my-maintenance").await;
    b.goto(&format!("{}/maintenance/execution", app.url)).await;
    b.wait_for("#rate-table").await;
    assert!(b.text("#rate-table").await.contains("流失挽回"));
    b.resize(1366, 900).await;
    b.screenshot("maintenance-execution").await;
    browser.close().await;
}
