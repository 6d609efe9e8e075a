//! The segmentation pages over HTTP, on every engine: the overview counts
//! per tier × activity after a recomputation started from the page; the
//! churn-risk list with each signal's evidence sentence; the builder's
//! preview and saving a segment; bad input refused beside its field with
//! nothing saved; the settings (administrators only); an agent sees only the
//! customers in their scope and can neither recompute nor open the settings;
//! English. Then "any of" groups built, saved and edited through the form,
//! a saved segment deleted by its creator or an administrator and refused
//! to another agent, and rule tags administered from their pages.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use reqwest::{Client, Method, StatusCode, header};
use serde_json::{Value, json};
use support::app::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, apps, csrf};

async fn login(app: &TestApp, email: &str, password: &str) -> Client {
    app.signed_in(email, password).await
}

async fn get(app: &TestApp, http: &Client, path: &str) -> (StatusCode, String) {
    app.page(http, path).await
}

/// Posts a form; returns the status, the redirect target and the body.
async fn post(app: &TestApp, http: &Client, path: &str, form: &[(&str, &str)]) -> (StatusCode, String, String) {
    let r = http.post(format!("{}{path}", app.url)).form(form).send().await.unwrap();
    let location = r.headers().get(header::LOCATION).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (r.status(), location, r.text().await.unwrap())
}

/// Text with the tags taken out and the whitespace collapsed.
fn text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for ch in html.chars() {
        match ch {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The text of the element with this id (up to its first closing tag).
fn by_id(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[at..];
    let start = rest.find('>')? + 1;
    let end = rest[start..].find("</")? + start;
    Some(text(&rest[start..end]))
}

fn number(html: &str, id: &str) -> i64 {
    let t = by_id(html, id).unwrap_or_else(|| panic!("no #{id}"));
    t.parse().unwrap_or_else(|_| panic!("#{id} is “{t}”"))
}

async fn api_post(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let r = app.call(Method::POST, path, Some(token), Some(body)).await;
    assert_eq!(r.status(), 201, "[{}] {path}", app.engine);
    r.json().await.unwrap()
}

async fn customer(app: &TestApp, token: &str, body: Value) -> i64 {
    api_post(app, token, "/api/v1/customers", body).await["id"].as_i64().unwrap()
}

async fn order(app: &TestApp, token: &str, id: i64, ext: &str, on: &str, amount: &str) {
    let body = json!({"ordered_on": on, "amount": amount, "external_id": ext});
    api_post(app, token, &format!("/api/v1/customers/{id}/orders"), body).await;
}

async fn saved_count(app: &TestApp) -> i64 {
    app.state.db.read(|c| c.scalar("SELECT COUNT(*) FROM saved_segments", &[])).await.unwrap()
}

/// The customers of the story, on 2026-11-23.
struct Data {
    a: i64,
    c: i64,
    agent_email: &'static str,
}

/// A: high value and active, orders down 70% (10 → 3). B: potential, in
/// contact with a competitor. C: ordinary, silent for 100 days (the agent's).
/// D: no orders nor contact, dormant. E: high value and active, no signal
/// (the agent's).
async fn story(app: &TestApp) -> Data {
    let admin = app.admin_token().await;
    let agent_email = "agent@corp.cn";
    let (agent, _) = app.user(&admin, agent_email, "agent", None).await;
    let a = customer(app, &admin, json!({"name": "北京明远科技", "industry": "制造业"})).await;
    for k in 0..10 {
        order(app, &admin, a, &format!("A-P{k}"), &format!("2026-07-{:02}", 1 + k), "9000").await;
    }
    for k in 0..3 {
        order(app, &admin, a, &format!("A-R{k}"), &format!("2026-11-{:02}", 1 + k), "10000").await;
    }
    let b = customer(app, &admin, json!({"name": "上海星辰机械", "tags": ["竞品接触"]})).await;
    order(app, &admin, b, "B-1", "2026-10-10", "60000").await;
    let c = customer(app, &admin, json!({"name": "杭州青禾食品", "owner_id": agent})).await;
    let call =
        json!({"channel": "phone", "purpose": "回访", "summary": "客户暂无新需求", "occurred_at": "2026-08-15 10:00"});
    api_post(app, &admin, &format!("/api/v1/customers/{c}/communications"), call).await;
    customer(app, &admin, json!({"name": "武汉金桥物流"})).await;
    let e = customer(app, &admin, json!({"name": "成都博瑞医疗", "owner_id": agent})).await;
    order(app, &admin, e, "E-1", "2026-11-01", "150000").await;
    Data { a, c, agent_email }
}

#[tokio::test]
async fn overview_churn_risk_and_builder() {
    for app in apps().await {
        let e = app.engine.clone();
        let http = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;

        // Never computed: the page says so and offers the first run.
        let (s, html) = get(&app, &http, "/segments").await;
        assert_eq!(s, StatusCode::OK, "[{e}]");
        assert!(by_id(&html, "seg-empty").is_some_and(|t| t.contains("还没有进行过客户分层计算")), "[{e}] {html}");
        assert!(html.contains("客户分层"), "the navigation names the area");

        let d = story(&app).await;
        let token = csrf(&html);
        let (s, to, _) = post(&app, &http, "/segments/recompute", &[("_csrf", &token)]).await;
        assert_eq!(s, StatusCode::SEE_OTHER, "[{e}]");
        assert!(to.starts_with("/segments?flash=recomputed"), "{to}");
        let (_, html) = get(&app, &http, &to).await;
        assert!(
            text(&html).contains("已重新计算 5 位客户的分层：5 位有变化，3 位处于流失预警"),
            "[{e}] {}",
            text(&html)
        );
        assert!(by_id(&html, "computed-at").is_some_and(|t| t.starts_with("2026-11-23")), "[{e}]");
        for (id, n) in [
            ("cell-high-active", 2),
            ("cell-potential-active", 1),
            ("cell-ordinary-silent", 1),
            ("cell-ordinary-dormant", 1),
            ("cell-high-silent", 0),
            ("total-high", 2),
            ("total-ordinary", 2),
            ("total-active", 3),
            ("total-all", 5),
            ("stat-risk", 3),
        ] {
            assert_eq!(number(&html, id), n, "[{e}] #{id}");
        }
        assert!(html.contains("id=\"rfm-table\""));
        assert!(html.contains("重要价值客户"), "RFM segments are named");
        assert!(html.contains("id=\"recompute\""), "supervisors and admins may recompute");

        // The members of a cell.
        let (s, html) = get(&app, &http, "/segments/members?tier=high&activity=active").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(number(&html, "member-total"), 2, "[{e}]");
        let t = text(&html);
        assert!(t.contains("北京明远科技") && t.contains("成都博瑞医疗"), "[{e}] {t}");
        assert!(t.contains("价值分层 = 高价值 且 活跃度 = 活跃"), "{t}");

        // The churn-risk list: the evidence in words, links to the 360 page.
        let (s, html) = get(&app, &http, "/segments/churn-risk").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(number(&html, "risk-total"), 3, "[{e}]");
        let t = text(&html);
        assert!(t.contains("订单量下降 ：近90天订单数较前90天下降70%（10单 → 3单）"), "[{e}] {t}");
        assert!(t.contains("已连续100天无互动（最近互动：2026-08-15）"), "{t}");
        assert!(t.contains("接触竞品"), "{t}");
        assert!(
            html.contains(&format!("href=\"/customers/{}\"", d.a)) || html.contains(&format!("customers&#x2f;{}", d.a))
        );
        assert!(!t.contains("武汉金桥物流"), "not at risk, not listed");
        // P(alive) as a percentage, when the model could be fitted.
        let a = d.a;
        let stored = app.state.db.read(move |c| guanxi_store::segments::get(c, a)).await.unwrap().unwrap();
        match stored.p_alive {
            Some(p) => assert!(t.contains(&format!("{:.0}%", p * 100.0)), "[{e}] P(alive) {p} in {t}"),
            None => assert!(html.contains("暂无估计"), "[{e}] no estimate is said"),
        }
        let (_, page2) = get(&app, &http, "/segments/churn-risk?page=2").await;
        assert!(by_id(&page2, "churn-table").is_none(), "one page holds them all");

        // Builder: preview, then save.
        let (s, html) = get(&app, &http, "/segments/builder").await;
        assert_eq!(s, StatusCode::OK);
        assert!(!html.contains("id=\"preview-result\""), "nothing to preview yet");
        let token = csrf(&html);
        let (s, _, html) =
            post(&app, &http, "/segments/builder", &[("_csrf", &token), ("action", "preview"), ("tier", "high")]).await;
        assert_eq!(s, StatusCode::OK, "[{e}]");
        assert_eq!(number(&html, "preview-total"), 2, "[{e}]");
        assert_eq!(by_id(&html, "preview-description").unwrap(), "价值分层 = 高价值");
        let (_, html) = get(&app, &http, "/segments/builder?tier=high&at_risk=1&min_spend=100000").await;
        assert_eq!(number(&html, "preview-total"), 1, "[{e}]");
        assert!(text(&html).contains("北京明远科技"));

        let form = [
            ("_csrf", token.as_str()),
            ("action", "save"),
            ("tier", "high"),
            ("at_risk", "1"),
            ("name", "高价值流失预警客户"),
        ];
        let (s, to, _) = post(&app, &http, "/segments/builder", &form).await;
        assert_eq!(s, StatusCode::SEE_OTHER, "[{e}]");
        assert!(to.starts_with("/segments/saved/") && to.ends_with("?flash=saved"), "{to}");
        let (_, html) = get(&app, &http, &to).await;
        let t = text(&html);
        assert!(t.contains("客群已保存") && t.contains("高价值流失预警客户"), "[{e}] {t}");
        assert!(t.contains("价值分层 = 高价值 且 处于流失预警"), "{t}");
        assert_eq!(number(&html, "member-total"), 1);
        let (_, html) = get(&app, &http, "/segments/builder").await;
        assert!(by_id(&html, "saved-segments").is_some());
        assert!(text(&html).contains("高价值流失预警客户 价值分层 = 高价值 且 处于流失预警"), "the saved list");
        let (s, html) = get(&app, &http, "/segments/saved").await;
        assert_eq!(s, StatusCode::OK);
        assert!(text(&html).contains("高价值流失预警客户"));
        assert_eq!(get(&app, &http, "/segments/saved/9999").await.0, StatusCode::NOT_FOUND);

        // Bad input: said beside the field, nothing saved.
        let before = (app.snapshot().await, saved_count(&app).await);
        for (field, value, name, error_id, message) in [
            ("min_spend", "abc", "新客群", "e-min_spend", "金额格式不正确"),
            ("tier", "gold", "新客群", "e-tier", "不是允许的取值"),
            ("tag", "<b>", "新客群", "e-tag", "包含不允许的字符"),
            ("tier", "high", "", "e-name", "必填"),
            ("tier", "high", "高价值流失预警客户", "e-name", "已被使用"),
        ] {
            let form = [("_csrf", token.as_str()), ("action", "save"), (field, value), ("name", name)];
            let (s, _, html) = post(&app, &http, "/segments/builder", &form).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "[{e}] {field}={value} name={name}");
            let shown = by_id(&html, error_id).unwrap_or_else(|| panic!("[{e}] no #{error_id}"));
            assert!(shown.contains(message), "[{e}] {shown}");
            assert!(by_id(&html, "form-errors").is_some(), "the summary lists it");
        }
        let (s, _, html) = post(
            &app,
            &http,
            "/segments/builder",
            &[("_csrf", &token), ("action", "preview"), ("min_spend", "abc"), ("tier", "high")],
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("value=\"abc\""), "the typed value is kept");
        assert!(!html.contains("id=\"preview-result\""));
        let (s, _, _) = post(&app, &http, "/segments/builder", &[("action", "save"), ("name", "x")]).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "the CSRF token is required");
        // A bad link to a member list opens the builder with the error.
        let r = http.get(format!("{}/segments/members?min_spend=abc", app.url)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let (s, html) = get(&app, &http, r.headers()[header::LOCATION].to_str().unwrap()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(by_id(&html, "e-min_spend").unwrap().contains("金额格式不正确"));
        assert_eq!((app.snapshot().await, saved_count(&app).await), before, "[{e}] nothing was saved");

        // An agent sees the customers in their scope only, and may neither
        // recompute nor open the settings; they may save a segment (its
        // members are read within each viewer's scope).
        let agent = login(&app, d.agent_email, "password-123").await;
        let (s, html) = get(&app, &agent, "/segments").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(number(&html, "total-all"), 2, "[{e}]");
        assert_eq!(number(&html, "cell-high-active"), 1);
        assert_eq!(number(&html, "cell-ordinary-silent"), 1);
        assert!(!html.contains("id=\"recompute\"") && !html.contains("id=\"tab-settings\""));
        let agent_token = csrf(&html);
        let (s, _, _) = post(&app, &agent, "/segments/recompute", &[("_csrf", &agent_token)]).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "[{e}]");
        assert_eq!(get(&app, &agent, "/segments/settings").await.0, StatusCode::FORBIDDEN);
        let (s, _, _) = post(&app, &agent, "/segments/settings", &[("_csrf", &agent_token), ("tier_high", "1")]).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (_, html) = get(&app, &agent, "/segments/churn-risk").await;
        assert_eq!(number(&html, "risk-total"), 1, "[{e}]");
        let t = text(&html);
        assert!(t.contains("杭州青禾食品") && !t.contains("北京明远科技"), "[{e}] {t}");
        assert!(html.contains(&format!("/customers/{}", d.c)) || html.contains(&format!("customers&#x2f;{}", d.c)));
        let (_, html) = get(&app, &agent, "/segments/builder?tier=high").await;
        assert_eq!(number(&html, "preview-total"), 1, "[{e}] only the agent's own");
        assert_eq!((app.snapshot().await, saved_count(&app).await), before, "[{e}] nothing was saved");
        assert!(html.contains("id=\"save-segment\""));
        let form = [("_csrf", agent_token.as_str()), ("action", "save"), ("tier", "high"), ("name", "我的客群")];
        assert_eq!(post(&app, &agent, "/segments/builder", &form).await.0, StatusCode::SEE_OTHER);
        assert_eq!(saved_count(&app).await, before.1 + 1, "[{e}]");

        // English.
        let r = http.get(format!("{}/lang/en?back=/segments", app.url)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let (_, html) = get(&app, &http, "/segments").await;
        let t = text(&html);
        assert!(t.contains("Value tier × activity") && t.contains("High value") && t.contains("Dormant"), "{t}");
        assert!(t.contains("Recompute now") && t.contains("Segments"), "{t}");
        let (_, html) = get(&app, &http, "/segments/churn-risk").await;
        let t = text(&html);
        assert!(t.contains("Orders in the last 90 days fell 70% vs the 90 days before (10 → 3)"), "[{e}] {t}");
        let (s, _, html) = post(
            &app,
            &http,
            "/segments/builder",
            &[("_csrf", &token), ("action", "save"), ("min_spend", "abc"), ("name", "")],
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(by_id(&html, "e-min_spend").unwrap().contains("is not an amount such as 1234.50"));
        assert_eq!(by_id(&html, "e-name").unwrap(), "is required");
        assert!(text(&html).contains("Spend in 12 months at least (yuan)"), "the summary names the field");
    }
}

#[tokio::test]
async fn administrators_edit_the_settings() {
    for app in apps().await {
        let e = app.engine.clone();
        let http = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
        story(&app).await;
        let (s, html) = get(&app, &http, "/segments/settings").await;
        assert_eq!(s, StatusCode::OK, "[{e}]");
        assert!(html.contains("name=\"tier_high\" type=\"text\" value=\"100000\""), "[{e}] the defaults are shown");
        assert!(html.contains("id=\"rule-order_drop\""));
        let token = csrf(&html);
        // The whole form as the page sends it, with some fields changed.
        let form = |over: &[(&str, &str)]| -> Vec<(String, String)> {
            let mut f: Vec<(String, String)> = [
                ("_csrf", token.as_str()),
                ("tier_high", "200000"),
                ("tier_potential", "50000"),
                ("period", "rolling"),
                ("active_months", "3"),
                ("dormant_months", "6"),
                ("horizon_weeks", "13"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            for (kind, threshold, window) in [
                ("order_drop", "50", "90"),
                ("spend_drop", "50", "90"),
                ("no_login", "30", "30"),
                ("consultation_drop", "50", "90"),
                ("contact_spike", "200", "60"),
                ("negative_feedback", "2", "90"),
                ("no_interaction", "60", "60"),
                ("competitor_contact", "0", "90"),
            ] {
                f.push((format!("{kind}_enabled"), "1".into()));
                f.push((format!("{kind}_threshold"), threshold.into()));
                f.push((format!("{kind}_window_days"), window.into()));
            }
            for (k, v) in over {
                f.retain(|(x, _)| x != k);
                f.push((k.to_string(), v.to_string()));
            }
            f
        };
        let send = |f: Vec<(String, String)>| {
            let http = http.clone();
            let url = format!("{}/segments/settings", app.url);
            async move {
                let r = http.post(url).form(&f).send().await.unwrap();
                let to = r.headers().get(header::LOCATION).map(|v| v.to_str().unwrap().to_string());
                (r.status(), to, r.text().await.unwrap())
            }
        };

        // Refused, each reason beside its field; nothing saved.
        let before = app.snapshot().await;
        let (s, _, html) = send(form(&[
            ("tier_high", "abc"),
            ("order_drop_threshold", "150"),
            ("dormant_months", "2"),
            ("contact_spike_window_days", "3"),
        ]))
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "[{e}]");
        assert!(by_id(&html, "e-tier_high").unwrap().contains("金额格式不正确"));
        assert_eq!(by_id(&html, "e-order_drop_threshold").unwrap(), "超出允许范围");
        assert_eq!(by_id(&html, "e-active_months").unwrap(), "必须小于 2");
        assert_eq!(by_id(&html, "e-contact_spike_window_days").unwrap(), "超出允许范围");
        let summary = text(&by_id_block(&html, "form-errors"));
        assert!(summary.contains("订单量下降 · 阈值") && summary.contains("高价值门槛（元）"), "{summary}");
        assert!(html.contains("value=\"abc\""), "the typed value is kept");
        let (s, _, html) = send(form(&[("tier_potential", "300000")])).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(by_id(&html, "e-tier_potential").unwrap(), "必须小于 200,000.00");
        assert_eq!(app.snapshot().await, before, "[{e}] nothing saved");

        // Saved (a box left unticked is sent as nothing): customers at
        // 120,000 and 150,000 yuan become potential.
        let mut f = form(&[]);
        f.retain(|(k, _)| k != "spend_drop_enabled");
        let (s, to, _) = send(f).await;
        assert_eq!((s, to.as_deref()), (StatusCode::SEE_OTHER, Some("/segments/settings?flash=settings")), "[{e}]");
        let (_, html) = get(&app, &http, "/segments/settings?flash=settings").await;
        assert!(text(&html).contains("分层设置已保存"));
        assert!(html.contains("value=\"200000\""));
        assert!(!html.contains("name=\"spend_drop_enabled\" id=\"f-spend_drop_enabled\" value=\"1\" checked"));
        let saved = guanxi_server::service::segments::load_settings(&app.state).await.unwrap();
        assert_eq!(saved.tiers.high.fen(), 20_000_000);
        assert!(!saved.signals.iter().find(|r| r.kind.code() == "spend_drop").unwrap().enabled);
        let (_, html) = get(&app, &http, "/segments").await;
        let (s, _, _) = post(&app, &http, "/segments/recompute", &[("_csrf", &csrf(&html))]).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (_, html) = get(&app, &http, "/segments").await;
        assert_eq!(number(&html, "cell-high-active"), 0, "[{e}]");
        assert_eq!(number(&html, "cell-potential-active"), 3, "[{e}]");
    }
}

/// The whole element with this id, nested tags included (up to its closing
/// `</div>`).
fn by_id_block(html: &str, id: &str) -> String {
    let at = html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id}"));
    let rest = &html[at..];
    rest[..rest.find("</div>").unwrap_or(rest.len())].to_string()
}

async fn saved_definition(app: &TestApp, id: i64) -> (String, Value) {
    let s = app.state.db.read(move |c| guanxi_store::segments::saved_segment(c, id)).await.unwrap();
    (s.name, serde_json::from_str(&s.definition).unwrap())
}

/// The id at the end of a `/segments/saved/{id}?…` redirect.
fn saved_id(location: &str) -> i64 {
    location.trim_start_matches("/segments/saved/").split('?').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn any_groups_are_built_saved_edited_and_deleted_through_the_pages() {
    for app in apps().await {
        let e = app.engine.clone();
        let d = story(&app).await;
        let admin = app.admin_token().await;
        app.user(&admin, "other@corp.cn", "agent", None).await;
        let r = app.call(Method::POST, "/api/v1/segments/recompute", Some(&admin), Some(json!({}))).await;
        assert_eq!(r.status(), StatusCode::OK);
        let agent = login(&app, d.agent_email, "password-123").await;
        let (_, html) = get(&app, &agent, "/segments/builder").await;
        assert!(html.contains("id=\"group-new\""), "[{e}] a blank group to add");
        let token = csrf(&html);

        // Active, and (potential or in manufacturing): A and B — previewed
        // as the administrator sees everyone.
        let http = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let (_, html) = get(&app, &http, "/segments/builder").await;
        let admin_token = csrf(&html);
        let conditions =
            [("activity", "active"), ("g1_tier", "potential"), ("g1_industry", "制造业"), ("g1_tier", "high")];
        let mut form = vec![("_csrf", admin_token.as_str()), ("action", "preview")];
        form.extend(conditions.iter().take(3));
        let (s, _, html) = post(&app, &http, "/segments/builder", &form).await;
        assert_eq!(s, StatusCode::OK, "[{e}]");
        assert_eq!(number(&html, "preview-total"), 2, "[{e}]");
        assert_eq!(
            by_id(&html, "preview-description").unwrap(),
            "活跃度 = 活跃 且 （价值分层 = 潜力 或 行业 = 制造业）"
        );
        assert!(
            html.contains("id=\"group-1\"") && html.contains("id=\"group-new\""),
            "[{e}] the group, and room for another"
        );
        assert!(html.contains("name=\"g1_tier\" value=\"potential\" checked"), "[{e}] the ticked box stays ticked");
        assert!(html.contains("name=\"g1_industry\" type=\"text\" value=\"制造业\""), "[{e}]");
        assert_eq!(number(&html, "live-count"), 2, "[{e}] the live count starts at the preview's");
        // The live count the page's script asks for.
        let q = serde_urlencoded::to_string(conditions).unwrap();
        let r = http.get(format!("{}/segments/builder/count?{q}", app.url)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["total"], 3, "[{e}] A, B and E: {v}");
        let r = http.get(format!("{}/segments/builder/count?g2_min_spend=abc", app.url)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["errors"][0]["field"], "g1_min_spend", "[{e}] groups are numbered as shown: {v}");
        // A bad value in a group is said beside it, named in the summary.
        let (s, _, html) = post(
            &app,
            &http,
            "/segments/builder",
            &[("_csrf", &admin_token), ("action", "preview"), ("g1_tier", "gold"), ("g1_tag", "<b>")],
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(by_id(&html, "e-g1_tier").unwrap(), "不是允许的取值");
        assert_eq!(by_id(&html, "e-g1_tag").unwrap(), "包含不允许的字符");
        assert!(text(&by_id_block(&html, "form-errors")).contains("条件组1 · 价值分层"), "[{e}]");

        // The agent saves it: the group is stored as an "any".
        let mut form = vec![("_csrf", token.as_str()), ("action", "save"), ("name", "活跃潜力或制造业")];
        form.extend(conditions.iter().take(3));
        let (s, to, _) = post(&app, &agent, "/segments/builder", &form).await;
        assert_eq!(s, StatusCode::SEE_OTHER, "[{e}]");
        let id = saved_id(&to);
        let expected =
            json!({"all": [{"activity": "active"}, {"any": [{"tier": "potential"}, {"industry": "制造业"}]}]});
        assert_eq!(saved_definition(&app, id).await, ("活跃潜力或制造业".to_string(), expected.clone()), "[{e}]");
        let (_, html) = get(&app, &agent, &to).await;
        assert!(
            html.contains("id=\"edit-segment\"") && html.contains("id=\"delete-segment\""),
            "[{e}] its creator manages it"
        );

        // Another agent sees it but may not change or delete it.
        let other = login(&app, "other@corp.cn", "password-123").await;
        let (_, html) = get(&app, &other, &format!("/segments/saved/{id}")).await;
        assert!(!html.contains("id=\"edit-segment\"") && !html.contains("id=\"delete-segment\""), "[{e}]");
        let other_token = csrf(&html);
        assert_eq!(get(&app, &other, &format!("/segments/saved/{id}/edit")).await.0, StatusCode::FORBIDDEN);
        assert_eq!(get(&app, &other, &format!("/segments/saved/{id}/delete")).await.0, StatusCode::FORBIDDEN);
        let (s, _, _) = post(&app, &other, &format!("/segments/saved/{id}/delete"), &[("_csrf", &other_token)]).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "[{e}]");
        let form = [
            ("_csrf", other_token.as_str()),
            ("action", "save"),
            ("segment_id", &id.to_string()),
            ("name", "我的"),
            ("tier", "high"),
        ];
        assert_eq!(post(&app, &other, "/segments/builder", &form).await.0, StatusCode::FORBIDDEN, "[{e}]");
        assert_eq!(saved_definition(&app, id).await.1, expected, "[{e}] unchanged");

        // The creator edits it: the builder opens with the group ticked and
        // the name; a rename with a second group saves over it.
        let (s, html) = get(&app, &agent, &format!("/segments/saved/{id}/edit")).await;
        assert_eq!(s, StatusCode::OK, "[{e}]");
        assert!(html.contains(&format!("name=\"segment_id\" value=\"{id}\"")), "[{e}]");
        assert!(html.contains("name=\"g1_tier\" value=\"potential\" checked"));
        assert!(html.contains("value=\"活跃潜力或制造业\""));
        let sid = id.to_string();
        let mut form = vec![("_csrf", token.as_str()), ("action", "save"), ("segment_id", sid.as_str()), ("name", "")];
        form.extend(conditions.iter().take(3));
        let (s, _, html) = post(&app, &agent, "/segments/builder", &form).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "[{e}]");
        assert_eq!(by_id(&html, "e-name").unwrap(), "必填");
        let count = saved_count(&app).await;
        let mut form = vec![("_csrf", token.as_str()), ("action", "save"), ("segment_id", sid.as_str())];
        form.extend([("name", "活跃重点客户"), ("g2_at_risk", "1"), ("g2_tag", "偏好新品、对功能有需求")]);
        form.extend(conditions.iter().take(3));
        let (s, to, _) = post(&app, &agent, "/segments/builder", &form).await;
        assert_eq!(
            (s, to.as_str()),
            (StatusCode::SEE_OTHER, format!("/segments/saved/{id}?flash=updated").as_str()),
            "[{e}]"
        );
        let (name, def) = saved_definition(&app, id).await;
        assert_eq!(name, "活跃重点客户");
        assert_eq!(
            def["all"][2],
            json!({"any": ["at_risk", {"has_tag": "偏好新品"}, {"has_tag": "对功能有需求"}]}),
            "[{e}] {def}"
        );
        assert_eq!(saved_count(&app).await, count, "[{e}] saved over, not added");
        let (_, html) = get(&app, &agent, &to).await;
        assert!(text(&html).contains("客群已更新"), "[{e}]");
        // "另存为新客群" keeps the original.
        form.retain(|(k, _)| *k != "action" && *k != "name");
        form.extend([("action", "save_new"), ("name", "活跃重点客户（副本）")]);
        let (s, to, _) = post(&app, &agent, "/segments/builder", &form).await;
        assert_eq!(s, StatusCode::SEE_OTHER, "[{e}]");
        let copy = saved_id(&to);
        assert_ne!(copy, id);
        assert_eq!(saved_count(&app).await, count + 1);

        // Deleted by its creator after the confirmation page; the copy by
        // an administrator.
        let (s, html) = get(&app, &agent, &format!("/segments/saved/{id}/delete")).await;
        assert_eq!(s, StatusCode::OK);
        assert!(text(&html).contains("确认删除该客群？") && text(&html).contains("活跃重点客户"), "[{e}]");
        let (s, _, _) = post(&app, &agent, &format!("/segments/saved/{id}/delete"), &[("_csrf", "forged")]).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "[{e}] the CSRF token is required");
        let (s, to, _) = post(&app, &agent, &format!("/segments/saved/{id}/delete"), &[("_csrf", &token)]).await;
        assert_eq!((s, to.as_str()), (StatusCode::SEE_OTHER, "/segments/saved?flash=deleted"), "[{e}]");
        let (_, html) = get(&app, &agent, &to).await;
        assert!(text(&html).contains("客群已删除") && !text(&html).contains("活跃重点客户 "), "[{e}]");
        assert_eq!(get(&app, &agent, &format!("/segments/saved/{id}")).await.0, StatusCode::NOT_FOUND);
        let (s, _, _) = post(&app, &http, &format!("/segments/saved/{copy}/delete"), &[("_csrf", &admin_token)]).await;
        assert_eq!(s, StatusCode::SEE_OTHER, "[{e}]");
        assert_eq!(saved_count(&app).await, count - 1, "[{e}]");
    }
}

async fn rule_tag_count(app: &TestApp) -> i64 {
    app.state.db.read(|c| c.scalar("SELECT COUNT(*) FROM rule_tags", &[])).await.unwrap()
}

#[tokio::test]
async fn administrators_manage_rule_tags_from_their_pages() {
    for app in apps().await {
        let e = app.engine.clone();
        let d = story(&app).await;
        let http = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let (_, html) = get(&app, &http, "/segments").await;
        post(&app, &http, "/segments/recompute", &[("_csrf", &csrf(&html))]).await;

        let (s, html) = get(&app, &http, "/segments/rule-tags").await;
        assert_eq!(s, StatusCode::OK, "[{e}]");
        let t = text(&html);
        for name in ["高价值", "活跃", "流失预警", "投诉风险"] {
            assert!(t.contains(name), "[{e}] {name} in {t}");
        }
        assert!(t.contains("系统预置") && t.contains("价值分层 = 高价值"), "{t}");
        assert!(html.contains("id=\"new-rule-tag\""));

        // Agents read the list, and nothing more.
        let agent = login(&app, d.agent_email, "password-123").await;
        let (s, html) = get(&app, &agent, "/segments/rule-tags").await;
        assert_eq!(s, StatusCode::OK);
        assert!(!html.contains("id=\"new-rule-tag\"") && !html.contains("/toggle"), "[{e}]");
        let agent_token = csrf(&html);
        assert_eq!(get(&app, &agent, "/segments/rule-tags/new").await.0, StatusCode::FORBIDDEN);
        let form = [("_csrf", agent_token.as_str()), ("action", "save"), ("name", "我的"), ("tier", "high")];
        assert_eq!(post(&app, &agent, "/segments/rule-tags/new", &form).await.0, StatusCode::FORBIDDEN);

        // The form: enabled by default; a preview counts who matches now.
        let (s, html) = get(&app, &http, "/segments/rule-tags/new").await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("name=\"enabled\" value=\"1\" checked"), "[{e}]");
        let token = csrf(&html);
        // Active, and (manufacturing or in contact with a competitor): A, B.
        let conditions = [("activity", "active"), ("g1_industry", "制造业"), ("g1_tag", "竞品接触")];
        let mut form = vec![("_csrf", token.as_str()), ("action", "preview"), ("name", "重点关注"), ("enabled", "1")];
        form.extend(conditions);
        let (s, _, html) = post(&app, &http, "/segments/rule-tags/new", &form).await;
        assert_eq!(s, StatusCode::OK, "[{e}]");
        assert_eq!(number(&html, "preview-total"), 2, "[{e}]");

        // Refused beside each field; nothing saved.
        let before = (rule_tag_count(&app).await, app.snapshot().await);
        for (over, error_id, message) in [
            (vec![("name", "")], "e-name", "必填"),
            (vec![("name", "高价值")], "e-name", "已被使用"),
            (vec![("name", "坏组"), ("g1_min_spend", "abc")], "e-g1_min_spend", "金额格式不正确"),
            (vec![("name", "自指"), ("tag", "自指")], "e-definition", "不能依赖自身"),
        ] {
            let mut form = vec![("_csrf", token.as_str()), ("action", "save"), ("enabled", "1")];
            form.extend(conditions);
            for (k, v) in &over {
                form.retain(|(x, _)| x != k);
                form.push((k, v));
            }
            let (s, _, html) = post(&app, &http, "/segments/rule-tags/new", &form).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "[{e}] {over:?}");
            let shown = by_id(&html, error_id).unwrap_or_else(|| panic!("[{e}] no #{error_id}"));
            assert!(shown.contains(message), "[{e}] {shown}");
        }
        let (s, _, html) =
            post(&app, &http, "/segments/rule-tags/new", &[("_csrf", &token), ("action", "save"), ("name", "全体")])
                .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(by_id(&html, "e-definition").unwrap(), "必填", "[{e}] a rule needs a condition");
        assert_eq!((rule_tag_count(&app).await, app.snapshot().await), before, "[{e}] nothing saved");

        // Saved; applied by the next recomputation.
        let mut form = vec![("_csrf", token.as_str()), ("action", "save"), ("name", "重点关注"), ("enabled", "1")];
        form.extend(conditions);
        let (s, to, _) = post(&app, &http, "/segments/rule-tags/new", &form).await;
        assert_eq!((s, to.as_str()), (StatusCode::SEE_OTHER, "/segments/rule-tags?flash=rule_saved"), "[{e}]");
        let (_, html) = get(&app, &http, &to).await;
        assert!(text(&html).contains("规则标签已保存") && text(&html).contains("重点关注"), "[{e}]");
        post(&app, &http, "/segments/recompute", &[("_csrf", &token)]).await;
        let a = d.a;
        let stored = app.state.db.read(move |c| guanxi_store::segments::get(c, a)).await.unwrap().unwrap();
        assert!(stored.rule_tags.contains(&"重点关注".to_string()), "[{e}] {:?}", stored.rule_tags);
        let (_, html) = get(&app, &http, "/segments/members?tag=%E9%87%8D%E7%82%B9%E5%85%B3%E6%B3%A8").await;
        assert_eq!(number(&html, "member-total"), 2, "[{e}] usable as a segment condition");

        // Edited: the form shows it; disabled with the switch.
        let id: i64 =
            app.state.db.read(|c| c.scalar("SELECT id FROM rule_tags WHERE name = '重点关注'", &[])).await.unwrap();
        let (s, html) = get(&app, &http, &format!("/segments/rule-tags/{id}")).await;
        assert_eq!(s, StatusCode::OK, "[{e}]");
        assert!(html.contains("value=\"重点关注\"") && html.contains("value=\"竞品接触\""), "[{e}]");
        let mut form = vec![("_csrf", token.as_str()), ("action", "save"), ("name", "重点关注客户"), ("enabled", "1")];
        form.extend(conditions);
        let (s, _, _) = post(&app, &http, &format!("/segments/rule-tags/{id}"), &form).await;
        assert_eq!(s, StatusCode::SEE_OTHER, "[{e}]");
        let (s, to, _) = post(&app, &http, &format!("/segments/rule-tags/{id}/toggle"), &[("_csrf", &token)]).await;
        assert_eq!((s, to.as_str()), (StatusCode::SEE_OTHER, "/segments/rule-tags?flash=rule_disabled"), "[{e}]");
        let (_, html) = get(&app, &http, &to).await;
        let row = text(&by_id_block(&html, &format!("rule-tag-{id}")));
        assert!(row.contains("重点关注客户") && row.contains("已停用"), "[{e}] {row}");
        assert_eq!(rule_tag_count(&app).await, before.0 + 1);
    }
}

#[tokio::test]
async fn administrators_delete_rule_tags_from_their_pages() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        let mk = |name: &str, def: Value| {
            let (app, admin) = (&app, admin.clone());
            let body = json!({"name": name, "definition": def});
            async move {
                let r = app.call(Method::POST, "/api/v1/rule-tags", Some(&admin), Some(body)).await;
                assert_eq!(r.status(), StatusCode::CREATED);
                r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
            }
        };
        let big = mk("大单客户", json!({"all": [{"tier": "high"}]})).await;
        let combo = mk("大单新品", json!({"all": [{"has_tag": "大单客户"}, {"has_tag": "偏好新品"}]})).await;
        let http = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;

        // The list and the edit form link to the confirmation.
        let (_, html) = get(&app, &http, "/segments/rule-tags").await;
        assert!(html.contains(&format!("id=\"delete-rule-tag-{big}\"")), "[{e}]");
        let (_, html) = get(&app, &http, &format!("/segments/rule-tags/{combo}")).await;
        assert!(html.contains("id=\"delete-rule-tag\""), "[{e}]");
        let token = csrf(&html);

        // A tag another rule tests: the confirmation names it and offers no
        // button; a forced post is refused on the page, nothing deleted.
        let (s, html) = get(&app, &http, &format!("/segments/rule-tags/{big}/delete")).await;
        assert_eq!(s, StatusCode::OK, "[{e}]");
        assert!(by_id(&html, "delete-used-by").unwrap().contains("请先修改或删除它们"), "[{e}]");
        assert!(text(&html).contains("大单新品") && !html.contains("id=\"confirm-delete\""), "[{e}]");
        let before = (rule_tag_count(&app).await, app.snapshot().await);
        let (s, _, html) = post(&app, &http, &format!("/segments/rule-tags/{big}/delete"), &[("_csrf", &token)]).await;
        assert_eq!(s, StatusCode::CONFLICT, "[{e}]");
        assert!(by_id(&html, "delete-error").unwrap().contains("其他规则标签的条件引用了该标签：大单新品"), "[{e}]");
        let (s, _, _) = post(&app, &http, &format!("/segments/rule-tags/{big}/delete"), &[("_csrf", "forged")]).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "[{e}] the form token is checked");
        assert_eq!((rule_tag_count(&app).await, app.snapshot().await), before, "[{e}] nothing deleted");
        // In English.
        let (_, html) = get(&app, &http, &format!("/segments/rule-tags/{big}/delete?lang=en")).await;
        assert!(text(&html).contains("Delete this rule tag?") && text(&html).contains("change or delete them first"));

        // Agents may not.
        let agent_email = "agent@corp.cn";
        app.user(&admin, agent_email, "agent", None).await;
        let agent = login(&app, agent_email, "password-123").await;
        let (s, html) = get(&app, &agent, "/segments/rule-tags").await;
        assert_eq!(s, StatusCode::OK);
        assert!(!html.contains("id=\"delete-rule-tag-"), "[{e}] no delete link for agents");
        assert_eq!(get(&app, &agent, &format!("/segments/rule-tags/{combo}/delete")).await.0, StatusCode::FORBIDDEN);
        let agent_token = csrf(&html);
        let (s, _, _) =
            post(&app, &agent, &format!("/segments/rule-tags/{combo}/delete"), &[("_csrf", &agent_token)]).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "[{e}]");
        assert_eq!(rule_tag_count(&app).await, before.0, "[{e}]");

        // The combination, then the tag: confirmed, gone, said so.
        let (s, html) = get(&app, &http, &format!("/segments/rule-tags/{combo}/delete")).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("id=\"confirm-delete\"") && by_id(&html, "delete-name").unwrap() == "大单新品");
        for id in [combo, big] {
            let (s, to, _) = post(&app, &http, &format!("/segments/rule-tags/{id}/delete"), &[("_csrf", &token)]).await;
            assert_eq!((s, to.as_str()), (StatusCode::SEE_OTHER, "/segments/rule-tags?flash=rule_deleted"), "[{e}]");
        }
        let (_, html) = get(&app, &http, "/segments/rule-tags?flash=rule_deleted").await;
        let t = text(&html);
        assert!(t.contains("规则标签已删除") && !t.contains("大单客户") && !t.contains("大单新品"), "[{e}] {t}");
        assert_eq!(rule_tag_count(&app).await, before.0 - 2, "[{e}]");
        assert_eq!(get(&app, &http, &format!("/segments/rule-tags/{big}/delete")).await.0, StatusCode::NOT_FOUND);
    }
}
