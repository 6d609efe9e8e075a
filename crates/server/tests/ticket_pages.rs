//! Ticket pages on every engine, as a browser without JavaScript: the
//! create form refuses bad fields beside them (nothing saved), the ticket
//! page shows its clocks, routing reason and actions, a reply and a refused
//! action from the page, the queue with its SLA badges and the agent's
//! availability, English, data scope, and the customer timeline's labels.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::app::{TestApp, apps, csrf};

async fn ok_json(app: &TestApp, method: Method, path: &str, token: &str, body: Value) -> Value {
    let r = app.call(method, path, Some(token), Some(body)).await;
    let s = r.status();
    let v: Value = r.json().await.unwrap();
    assert!(s.is_success(), "[{}] {path}: {s} {v}", app.engine);
    v
}

async fn tickets(app: &TestApp) -> i64 {
    app.state.db.read(|c| c.scalar("SELECT COUNT(*) FROM tickets", &[])).await.unwrap()
}

#[tokio::test]
async fn an_agent_works_a_ticket_through_the_pages() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        let team = ok_json(&app, Method::POST, "/api/v1/groups", &admin, json!({"name": "一线客服组", "kind": "team"}))
            .await["id"]
            .as_i64()
            .unwrap();
        let dept =
            ok_json(&app, Method::POST, "/api/v1/groups", &admin, json!({"name": "物流部", "kind": "department"}))
                .await["id"]
                .as_i64()
                .unwrap();
        let mk = |email: &str, role: &str, group: i64| {
            json!({"email": email, "name": email.split('@').next().unwrap(), "role": role, "password": "password-123",
                "group_id": group, "certified": true})
        };
        let agent = ok_json(&app, Method::POST, "/api/v1/users", &admin, mk("wang.fang@test.cn", "agent", team)).await
            ["id"]
            .as_i64()
            .unwrap();
        ok_json(&app, Method::POST, "/api/v1/users", &admin, mk("li.wuliu@test.cn", "collaborator", dept)).await;
        let agent_token = app.token("wang.fang@test.cn", "password-123").await;
        let customer = ok_json(
            &app,
            Method::POST,
            "/api/v1/customers",
            &agent_token,
            json!({"name": "杭州明远科技有限公司", "owner_id": agent}),
        )
        .await["id"]
            .as_i64()
            .unwrap();
        let http = app.signed_in("wang.fang@test.cn", "password-123").await;

        // The empty queue.
        let (s, html) = app.page(&http, "/tickets").await;
        assert_eq!(s, StatusCode::OK, "[{e}]");
        assert!(html.contains("我的工单") && html.contains("这个队列里没有工单"), "[{e}]");
        assert!(html.contains("在线接单"), "[{e}] agents see their availability");

        // The form, from the customer's page: the customer is filled in.
        let (s, html) = app.page(&http, &format!("/tickets/new?customer_id={customer}")).await;
        assert_eq!(s, StatusCode::OK, "[{e}]");
        assert!(html.contains("杭州明远科技有限公司"), "[{e}]");
        let token = csrf(&html);
        // Bad fields are refused beside them; nothing is saved.
        let cid = customer.to_string();
        let bad = [
            ("_csrf", token.as_str()),
            ("customer_id", cid.as_str()),
            ("type", "consultation"),
            ("channel", "pigeon"),
            ("category", "product"),
            ("subject", "  "),
            ("description", ""),
        ];
        let r = http.post(format!("{}/tickets/new", app.url)).form(&bad).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "[{e}]");
        let html = r.text().await.unwrap();
        assert!(html.contains("id=\"e-subject\"") && html.contains("必填"), "[{e}] the subject's error beside it");
        assert!(html.contains("id=\"e-channel\"") && html.contains("不是允许的取值"), "[{e}]");
        assert!(html.contains("请修正以下问题后再保存"), "[{e}] the summary");
        assert_eq!(tickets(&app).await, 0, "[{e}] nothing saved");
        // A good one.
        let good = [
            ("_csrf", token.as_str()),
            ("customer_id", cid.as_str()),
            ("type", "consultation"),
            ("channel", "email"),
            ("category", "product"),
            ("subject", "导出报表时报错"),
            ("description", "点击导出后页面提示 500"),
            ("urgent", "true"),
        ];
        let r = http.post(format!("{}/tickets/new", app.url)).form(&good).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "[{e}]");
        let to = r.headers()["location"].to_str().unwrap().to_string();
        assert!(to.ends_with("?flash=created"), "[{e}] {to}");
        let id: i64 = to.trim_start_matches("/tickets/").split('?').next().unwrap().parse().unwrap();
        let (s, html) = app.page(&http, &to).await;
        assert_eq!(s, StatusCode::OK, "[{e}]");
        assert!(html.contains("工单已创建") && html.contains("GD20261123"), "[{e}]");
        // Urgent, not important: high. First response 1 h, resolution 8 h, in working time.
        assert!(html.contains("优先级 高"), "[{e}]");
        assert!(html.contains("首次响应") && html.contains("剩 1 小时"), "[{e}]");
        assert!(html.contains("解决时限") && html.contains("剩 8 小时"), "[{e}]");
        assert!(html.contains("无匹配规则，创建人所在小组：一线客服组"), "[{e}] the routing reason");
        assert!(html.contains("value=\"accept\"") && html.contains("value=\"resolve\""), "[{e}] the actions");

        // A reply from the page meets the first response.
        let token = csrf(&html);
        let r = http
            .post(format!("{}/tickets/{id}/message", app.url))
            .form(&[("_csrf", token.as_str()), ("kind", "reply"), ("body", "您好，我们正在排查导出问题。")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "[{e}]");
        let (_, html) = app.page(&http, &format!("/tickets/{id}")).await;
        assert!(html.contains("您好，我们正在排查导出问题。") && html.contains("按时完成"), "[{e}]");
        assert!(html.contains("已受理"), "[{e}] the first reply accepted it");
        // An empty reply is refused beside the box, and a forbidden action says why.
        let r = http
            .post(format!("{}/tickets/{id}/message", app.url))
            .form(&[("_csrf", token.as_str()), ("kind", "note"), ("body", " ")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "[{e}]");
        assert!(r.text().await.unwrap().contains("id=\"e-body\""), "[{e}]");
        let r = http
            .post(format!("{}/tickets/{id}/action", app.url))
            .form(&[("_csrf", token.as_str()), ("action", "close")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CONFLICT, "[{e}]");
        let html = r.text().await.unwrap();
        assert!(html.contains("工单当前状态为「已受理」，不能执行「归档」"), "[{e}] the reason on the page");
        let r =
            http.post(format!("{}/tickets/{id}/action", app.url)).form(&[("action", "resolve")]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "[{e}] no CSRF token, no change");
        let r = http
            .post(format!("{}/tickets/{id}/action", app.url))
            .form(&[("_csrf", token.as_str()), ("action", "wait_customer"), ("note", "请客户提供截图")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "[{e}]");

        // The queue: the row, its paused clock, the status tabs.
        let (_, html) = app.page(&http, "/tickets").await;
        assert!(html.contains("导出报表时报错") && html.contains("sla-paused") && html.contains("待客户反馈"), "[{e}]");
        assert!(html.contains("快捷键"), "[{e}] the keyboard shortcuts are told");
        let (_, html) = app.page(&http, "/tickets?queue=team&status=waiting_customer").await;
        assert!(html.contains("导出报表时报错"), "[{e}]");
        let (s, _) = app.page(&http, "/tickets?queue=all").await;
        assert_eq!(s, StatusCode::FORBIDDEN, "[{e}]");
        let (_, html) = app.page(&http, "/tickets?lang=en").await;
        assert!(html.contains("My tickets") && html.contains("paused"), "[{e}]");
        // Going away: no new tickets are routed to the agent.
        let (_, html) = app.page(&http, "/tickets").await;
        let token = csrf(&html);
        let r = http
            .post(format!("{}/tickets/availability", app.url))
            .form(&[("_csrf", token.as_str()), ("available", "false")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let (_, html) = app.page(&http, "/tickets?flash=away").await;
        assert!(html.contains("已设为离线") && html.contains("设为在线"), "[{e}]");

        // Someone outside the ticket's scope does not see it.
        let other = app.signed_in("li.wuliu@test.cn", "password-123").await;
        let (s, _) = app.page(&other, &format!("/tickets/{id}")).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "[{e}]");
        // The customer's timeline names the ticket events.
        let (_, html) = app.page(&http, &format!("/customers/{customer}?kind=ticket")).await;
        assert!(html.contains("新建工单") && html.contains("工单回复") && html.contains("工单待客户反馈"), "[{e}]");
    }
}

#[tokio::test]
async fn an_administrator_sets_targets_rules_and_paths_on_the_settings_page() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        let team = ok_json(&app, Method::POST, "/api/v1/groups", &admin, json!({"name": "物流专线", "kind": "team"}))
            .await["id"]
            .as_i64()
            .unwrap();
        ok_json(
            &app,
            Method::POST,
            "/api/v1/users",
            &admin,
            json!({"email": "wang.fang@test.cn", "name": "王芳",
            "role": "agent", "password": "password-123", "group_id": team, "certified": true}),
        )
        .await;
        let http = app.signed_in(support::app::ADMIN_EMAIL, support::app::ADMIN_PASSWORD).await;
        let (s, html) = app.page(&http, "/admin/tickets").await;
        assert_eq!(s, StatusCode::OK, "[{e}]");
        assert!(html.contains("SLA 时限") && html.contains("路由规则") && html.contains("主管升级"), "[{e}]");
        let token = csrf(&html);
        let policy_row =
            || async { app.state.db.read(|c| guanxi_store::settings::get(c, "ticket_sla_policy")).await.unwrap() };
        // A bad target is refused beside its field; nothing saved.
        let mut form: Vec<(String, String)> = vec![("_csrf".into(), token.clone())];
        for (p, fr, rs) in
            [("urgent", "0", "240"), ("high", "60", "480"), ("normal", "240", "1440"), ("low", "480", "2880")]
        {
            form.push((format!("first_response.{p}"), fr.into()));
            form.push((format!("resolution.{p}"), rs.into()));
        }
        form.extend([
            ("progress_update_minutes".into(), "1440".into()),
            ("revisit_minutes".into(), "1440".into()),
            ("warn_percent".into(), "80".into()),
            ("high_value_schedule".into(), "7x12".into()),
        ]);
        let r = http.post(format!("{}/admin/tickets/sla", app.url)).form(&form).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "[{e}]");
        assert!(r.text().await.unwrap().contains("必须大于 0"), "[{e}]");
        assert_eq!(policy_row().await, None, "[{e}] nothing saved");
        form[1].1 = "15".into();
        let r = http.post(format!("{}/admin/tickets/sla", app.url)).form(&form).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "[{e}]");
        assert!(policy_row().await.unwrap().contains("\"urgent\":15"), "[{e}]");
        // The group works round the clock and hands out in turn, and is the default.
        let r = http
            .post(format!("{}/admin/tickets/groups/{team}", app.url))
            .form(&[
                ("_csrf", token.as_str()),
                ("schedule_code", "7x24"),
                ("assign_mode", "round_robin"),
                ("default", "true"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "[{e}]");
        let groups = ok_json(&app, Method::GET, "/api/v1/ticket-settings/groups", &admin, Value::Null).await;
        assert_eq!(groups["default_group_id"], team, "[{e}] {groups}");
        assert!(
            groups["groups"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g["group_id"] == team && g["schedule_code"] == "7x24" && g["assign_mode"] == "round_robin"),
            "[{e}]"
        );
        // A rule from the form.
        let tid = team.to_string();
        let r = http
            .post(format!("{}/admin/tickets/rules", app.url))
            .form(&[
                ("_csrf", token.as_str()),
                ("name", "物流问题"),
                ("group_id", tid.as_str()),
                ("categories", "logistics"),
                ("channels", "phone"),
                ("keywords", "快递，物流"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "[{e}]");
        let (_, html) = app.page(&http, "/admin/tickets").await;
        assert!(html.contains("分类：物流类；渠道：电话；关键词：快递、物流"), "[{e}]");
        // A path without a step's response time is refused.
        let r = http
            .post(format!("{}/admin/tickets/paths", app.url))
            .form(&[
                ("_csrf", token.as_str()),
                ("name", "物流升级"),
                ("step0_name", "物流部"),
                ("step0_target", "supervisor"),
                ("step0_minutes", ""),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "[{e}]");
        let r = http
            .post(format!("{}/admin/tickets/paths", app.url))
            .form(&[
                ("_csrf", token.as_str()),
                ("name", "物流升级"),
                ("categories", "logistics"),
                ("step0_name", "物流部"),
                ("step0_target", "supervisor"),
                ("step0_minutes", "60"),
                ("step0_update", "30"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "[{e}]");
        let paths = ok_json(&app, Method::GET, "/api/v1/ticket-settings/escalation-paths", &admin, Value::Null).await;
        assert_eq!(paths[0]["name"], "物流升级", "[{e}] before the seeded fallback: {paths}");
        // Agents may not.
        let agent = app.signed_in("wang.fang@test.cn", "password-123").await;
        let (s, _) = app.page(&agent, "/admin/tickets").await;
        assert_eq!(s, StatusCode::FORBIDDEN, "[{e}]");
    }
}

/// The customer 360 page lists the customer's tickets newest first, five
/// at a time, with their status and SLA badge; a bad page cursor is named.
#[tokio::test]
async fn the_customer_page_lists_its_tickets_a_page_at_a_time() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        let team = ok_json(&app, Method::POST, "/api/v1/groups", &admin, json!({"name": "一线客服组", "kind": "team"}))
            .await["id"]
            .as_i64()
            .unwrap();
        let agent = ok_json(
            &app,
            Method::POST,
            "/api/v1/users",
            &admin,
            json!({"email": "wang.fang@test.cn", "name": "王芳", "role": "agent", "password": "password-123",
                "group_id": team, "certified": true}),
        )
        .await["id"]
            .as_i64()
            .unwrap();
        let tok = app.token("wang.fang@test.cn", "password-123").await;
        let customer = ok_json(
            &app,
            Method::POST,
            "/api/v1/customers",
            &tok,
            json!({"name": "杭州明远科技有限公司", "owner_id": agent}),
        )
        .await["id"]
            .as_i64()
            .unwrap();
        let other =
            ok_json(&app, Method::POST, "/api/v1/customers", &tok, json!({"name": "宁波海纳贸易", "owner_id": agent}))
                .await["id"]
                .as_i64()
                .unwrap();
        let mut numbers = Vec::new();
        for i in 1..=7 {
            app.clock.advance(jiff::SignedDuration::from_mins(5));
            let t = ok_json(
                &app,
                Method::POST,
                "/api/v1/tickets",
                &tok,
                json!({"type": "consultation", "channel": "email", "category": if i == 7 { "product" } else { "service" },
                    "priority": "normal", "customer_id": customer, "subject": format!("第{i}个问题"), "description": "详情"}),
            )
            .await;
            numbers.push(t["number"].as_str().unwrap().to_string());
        }
        ok_json(
            &app,
            Method::POST,
            "/api/v1/tickets",
            &tok,
            json!({"type": "consultation", "channel": "email", "category": "service", "priority": "normal",
                "customer_id": other, "subject": "别家客户的问题", "description": "详情"}),
        )
        .await;
        let http = app.signed_in("wang.fang@test.cn", "password-123").await;
        let (s, html) = app.page(&http, &format!("/customers/{customer}")).await;
        assert_eq!(s, StatusCode::OK, "[{e}]");
        let panel = &html[html.find("id=\"tickets\"").unwrap()..];
        let panel = &panel[..panel.find("</section>").unwrap()];
        for i in [7, 6, 5, 4, 3] {
            assert!(panel.contains(&format!("第{i}个问题")), "[{e}] ticket {i} on the first page");
        }
        assert!(panel.find("第7个问题").unwrap() < panel.find("第3个问题").unwrap(), "[{e}] newest first");
        assert!(!panel.contains("第2个问题") && !panel.contains("别家客户"), "[{e}]");
        assert!(panel.contains("新建") && panel.contains("sla-running"), "[{e}] status and SLA badge");
        assert!(panel.contains("重复咨询"), "[{e}] the repeat inquiry is flagged");
        let at = panel.find("id=\"tickets-more\"").expect("a link to older tickets");
        let href = panel[..at]
            .rsplit("href=\"")
            .next()
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .replace("&#x2f;", "/")
            .replace("&amp;", "&");
        let (s, html) = app.page(&http, &href).await;
        assert_eq!(s, StatusCode::OK, "[{e}] {href}");
        let panel = &html[html.find("id=\"tickets\"").unwrap()..];
        let panel = &panel[..panel.find("</section>").unwrap()];
        assert!(panel.contains("第2个问题") && panel.contains("第1个问题"), "[{e}] the older page");
        assert!(!panel.contains("第3个问题") && !panel.contains("tickets-more"), "[{e}]");
        // The repeat inquiries over the API: the same customer and category within 7 days.
        let page = app.call(Method::GET, "/api/v1/tickets?queue=team&repeat=true", Some(&tok), None).await;
        assert_eq!(page.status(), 200, "[{e}]");
        let page: Value = page.json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), 5, "[{e}] tickets 2–6 repeat ticket 1's category: {page}");
        assert!(items.iter().all(|t| t["repeat_of"].is_i64() && t["customer_id"] == customer), "[{e}] {page}");
        let all =
            app.call(Method::GET, "/api/v1/tickets?queue=team", Some(&tok), None).await.json::<Value>().await.unwrap();
        assert_eq!(all["items"].as_array().unwrap().len(), 8, "[{e}]");
        let (s, html) = app.page(&http, &format!("/customers/{customer}?tickets_before=yesterday")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "[{e}]");
        assert!(html.contains("提交的内容有误"), "[{e}] refused, not an internal error");
    }
}

/// The SLA badges of a page: (state class, words), in order.
fn sla_badges(html: &str) -> Vec<(String, String)> {
    html.split("class=\"badge sla sla-")
        .skip(1)
        .map(|rest| {
            let state = rest.split('"').next().unwrap().to_string();
            let text = rest.split_once('>').unwrap().1.split("</span>").next().unwrap().to_string();
            (state, text)
        })
        .collect()
}

#[tokio::test]
async fn a_badge_reads_and_looks_breached_before_the_scheduler_records_it() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        let team = ok_json(&app, Method::POST, "/api/v1/groups", &admin, json!({"name": "一线客服组", "kind": "team"}))
            .await["id"]
            .as_i64()
            .unwrap();
        let agent = ok_json(
            &app,
            Method::POST,
            "/api/v1/users",
            &admin,
            json!({"email": "wang.fang@test.cn", "name": "王芳", "role": "agent", "password": "password-123",
                "group_id": team, "certified": true}),
        )
        .await["id"]
            .as_i64()
            .unwrap();
        let tok = app.token("wang.fang@test.cn", "password-123").await;
        let customer = ok_json(
            &app,
            Method::POST,
            "/api/v1/customers",
            &tok,
            json!({"name": "杭州明远科技有限公司", "owner_id": agent}),
        )
        .await["id"]
            .as_i64()
            .unwrap();
        // Monday 10:00; high priority: first response 1 h (warning at 48 min), resolution 8 h.
        let id = ok_json(
            &app,
            Method::POST,
            "/api/v1/tickets",
            &tok,
            json!({"type": "consultation", "channel": "email", "category": "product", "priority": "high",
                "customer_id": customer, "subject": "导出报表时报错", "description": "点击导出后页面提示 500"}),
        )
        .await["id"]
            .as_i64()
            .unwrap();
        ok_json(&app, Method::PUT, &format!("/api/v1/tickets/{id}/assignment"), &admin, json!({"assignee_id": agent}))
            .await;
        let http = app.signed_in("wang.fang@test.cn", "password-123").await;
        let pages = [
            format!("/tickets/{id}"),
            "/tickets?queue=mine".to_string(),
            format!("/tickets?queue=team&group_id={team}"),
            format!("/customers/{customer}"),
        ];
        let first = |badges: &[(String, String)]| badges.first().cloned().unwrap();

        // 10:50, no job run: the first response is at 83 %.
        app.clock.advance(jiff::SignedDuration::from_mins(50));
        for p in &pages {
            let (s, html) = app.page(&http, p).await;
            assert_eq!(s, StatusCode::OK, "[{e}] {p}");
            let b = sla_badges(&html);
            assert_eq!(first(&b), ("warning".into(), "即将超时 · 剩 10 分钟".into()), "[{e}] {p}: {b:?}");
        }
        let (_, html) = app.page(&http, &format!("/tickets/{id}")).await;
        assert_eq!(sla_badges(&html)[1], ("running".into(), "剩 7 小时 10 分".into()), "[{e}] the resolution clock");

        // 11:10, still no job run: 10 minutes past the deadline, red and saying so.
        app.clock.advance(jiff::SignedDuration::from_mins(20));
        for p in &pages {
            let (_, html) = app.page(&http, p).await;
            let b = sla_badges(&html);
            assert_eq!(first(&b), ("breached".into(), "已超时 10 分钟".into()), "[{e}] {p}: {b:?}");
            assert!(!b.iter().any(|(s, t)| s != "breached" && t.contains("已超时")), "[{e}] {p}: {b:?}");
        }
        let (_, html) = app.page(&http, &format!("/tickets/{id}?lang=en")).await;
        assert_eq!(first(&sla_badges(&html)), ("breached".into(), "overdue 10 min".into()), "[{e}]");
        // The API evaluates at the same instant; nothing was recorded yet.
        let t = ok_json(&app, Method::GET, &format!("/api/v1/tickets/{id}"), &tok, Value::Null).await;
        assert_eq!(t["ticket"]["clocks"][0]["state"], "breached", "[{e}] {t}");
        assert_eq!(t["ticket"]["clocks"][0]["remaining_minutes"], -10, "[{e}] {t}");
        assert!(t["ticket"]["clocks"][0]["breached_at"].is_null(), "[{e}] the scheduler has not run: {t}");
        let q = ok_json(&app, Method::GET, "/api/v1/tickets?queue=mine", &tok, Value::Null).await;
        assert_eq!(q["items"][0]["sla_state"], "breached", "[{e}] {q}");
    }
}
