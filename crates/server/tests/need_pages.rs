//! The need section of the ticket page (SPEC T1 需求-响应-反馈) on every
//! engine, as a browser without JavaScript: a need ticket created on the
//! page starts its record routed to the category's department; bad input is
//! refused beside the field with nothing saved; the status moves along the
//! flow; "customer told" with the notify box queues the outcome message
//! once; English; other ticket types have no need section.
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

async fn need_row(app: &TestApp, id: i64) -> (String, Option<String>, Option<i64>, Option<i64>) {
    app.state
        .db
        .read(move |c| {
            let r = c
                .query_opt(
                    "SELECT n.status, g.name, n.customer_told_at, n.told_outreach_id FROM ticket_needs n
                     LEFT JOIN groups g ON g.id = n.department_id WHERE n.ticket_id = $1",
                    guanxi_store::args![id],
                )?
                .unwrap();
            let told: Option<jiff::Timestamp> = r.get(2)?;
            Ok((r.get(0)?, r.get(1)?, told.map(|t| t.as_millisecond()), r.get(3)?))
        })
        .await
        .unwrap()
}

async fn outbox_count(app: &TestApp, id: i64) -> i64 {
    let key = format!("need-outcome-{id}");
    app.state
        .db
        .read(move |c| {
            c.scalar("SELECT COUNT(*) FROM outbox WHERE idempotency_key = $1", guanxi_store::args![key.as_str()])
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn an_agent_tracks_a_need_on_the_ticket_page_and_tells_the_customer() {
    for app in apps().await {
        let e = app.engine.clone();
        app.clock.set("2026-11-23T02:00:00Z".parse().unwrap());
        let admin = app.admin_token().await;
        let team = ok_json(&app, Method::POST, "/api/v1/groups", &admin, json!({"name": "一线客服组", "kind": "team"}))
            .await["id"]
            .clone();
        ok_json(&app, Method::POST, "/api/v1/groups", &admin, json!({"name": "产品部", "kind": "department"})).await;
        let rd = ok_json(&app, Method::POST, "/api/v1/groups", &admin, json!({"name": "研发部", "kind": "department"}))
            .await["id"]
            .as_i64()
            .unwrap();
        let body = json!({"email": "wang.fang@test.cn", "name": "王芳", "role": "agent",
            "password": "password-123", "group_id": team, "certified": true});
        let agent = ok_json(&app, Method::POST, "/api/v1/users", &admin, body).await["id"].as_i64().unwrap();
        let agent_token = app.token("wang.fang@test.cn", "password-123").await;
        let customer = ok_json(
            &app,
            Method::POST,
            "/api/v1/customers",
            &agent_token,
            json!({"name": "杭州明远科技有限公司", "owner_id": agent, "email": "contact@mingyuan.cn"}),
        )
        .await["id"]
            .as_i64()
            .unwrap();
        let http = app.signed_in("wang.fang@test.cn", "password-123").await;

        // Created on the page as a need: routed to 产品部 (product category).
        let (_, html) = app.page(&http, &format!("/tickets/new?customer_id={customer}")).await;
        let token = csrf(&html);
        let cid = customer.to_string();
        let form = [
            ("_csrf", token.as_str()),
            ("customer_id", cid.as_str()),
            ("type", "need"),
            ("channel", "email"),
            ("category", "product"),
            ("subject", "希望支持批量导出报表"),
            ("description", "客户每月需要导出 30 多张报表"),
        ];
        let r = http.post(format!("{}/tickets/new", app.url)).form(&form).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "[{e}]");
        let to = r.headers()["location"].to_str().unwrap().to_string();
        let id: i64 = to.trim_start_matches("/tickets/").split('?').next().unwrap().parse().unwrap();
        assert_eq!(need_row(&app, id).await.0, "submitted", "[{e}]");
        assert_eq!(need_row(&app, id).await.1.as_deref(), Some("产品部"), "[{e}]");
        let page = format!("/tickets/{id}");
        let (s, html) = app.page(&http, &page).await;
        assert_eq!(s, StatusCode::OK, "[{e}]");
        assert!(html.contains("id=\"need\"") && html.contains("需求跟踪"), "[{e}] the need section");
        assert!(html.contains("id=\"need-department\">产品部<"), "[{e}] its department");
        assert!(html.contains("id=\"need-status\">已提交<"), "[{e}] its status");
        assert!(html.contains("需求分派至「产品部」"), "[{e}] the routing in the history");
        assert!(!html.contains("id=\"need-told-form\""), "[{e}] nothing to tell yet");

        let post = |path: String, fields: Vec<(&'static str, String)>| {
            let (http, url) = (http.clone(), app.url.clone());
            async move {
                let r = http.post(format!("{url}{path}")).form(&fields).send().await.unwrap();
                let s = r.status();
                (s, r.headers().get("location").map(|l| l.to_str().unwrap().to_string()), r.text().await.unwrap())
            }
        };
        let need_path = format!("/tickets/{id}/need");
        // Declined without a reason: refused beside the field, what was typed kept, nothing saved.
        let (_, html) = app.page(&http, &page).await;
        let token = csrf(&html);
        let (s, _, html) = post(
            need_path.clone(),
            vec![
                ("_csrf", token.clone()),
                ("status", "declined".into()),
                ("department_id", rd.to_string()),
                ("planned_version", "v9".into()),
            ],
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "[{e}]");
        assert!(html.contains("id=\"e-need-reason\""), "[{e}] the reason's error beside it");
        assert!(html.contains("value=\"v9\""), "[{e}] the version typed is kept");
        assert_eq!(need_row(&app, id).await.0, "submitted", "[{e}] nothing saved");
        // An unknown department and a bad date: each beside its field.
        let (s, _, html) = post(
            need_path.clone(),
            vec![
                ("_csrf", token.clone()),
                ("status", "evaluating".into()),
                ("department_id", "999999".into()),
                ("planned_date", "2027-02-30".into()),
            ],
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "[{e}]");
        assert!(html.contains("id=\"e-need-date\""), "[{e}] the date's error");
        let (s, _, html) = post(
            need_path.clone(),
            vec![("_csrf", token.clone()), ("status", "evaluating".into()), ("department_id", "999999".into())],
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "[{e}]");
        assert!(html.contains("id=\"e-need-department\""), "[{e}] the department's error");
        assert_eq!(need_row(&app, id).await, ("submitted".into(), Some("产品部".into()), None, None), "[{e}]");
        // A transition the flow refuses: the reason, nothing saved.
        let (s, _, html) =
            post(need_path.clone(), vec![("_csrf", token.clone()), ("status", "delivered".into())]).await;
        assert_eq!(s, StatusCode::CONFLICT, "[{e}]");
        assert!(html.contains("不能改为「已上线」"), "[{e}]");

        // Along the flow: to R&D and evaluating, planned, delivered.
        for fields in [
            vec![("status", "evaluating".to_string()), ("department_id", rd.to_string())],
            vec![
                ("status", "planned".into()),
                ("planned_version", "v2.3".into()),
                ("planned_date", "2027-01-15".into()),
            ],
            vec![("status", "delivered".into())],
        ] {
            let mut fields = fields;
            fields.insert(0, ("_csrf", token.clone()));
            let (s, to, _) = post(need_path.clone(), fields).await;
            assert_eq!(
                (s, to.as_deref()),
                (StatusCode::SEE_OTHER, Some(format!("{page}?flash=need").as_str())),
                "[{e}]"
            );
        }
        let (_, html) = app.page(&http, &format!("{page}?flash=need")).await;
        assert!(html.contains("需求记录已更新"), "[{e}]");
        assert!(html.contains("id=\"need-status\">已上线<"), "[{e}]");
        assert!(html.contains("id=\"need-department\">研发部<"), "[{e}]");
        assert!(html.contains("版本 v2.3 · 2027-01-15"), "[{e}] the plan");
        assert!(!html.contains("id=\"need-form\""), "[{e}] an outcome is final");
        assert!(html.contains("id=\"need-told-form\"") && html.contains("id=\"f-need-notify\" checked"), "[{e}]");
        assert!(html.contains("已上线（版本 v2.3）"), "[{e}] what the customer will be told");
        assert!(html.contains("需求状态：已排期 → 已上线"), "[{e}] history");

        // Told with the notify box: one message, shown with its number.
        let told = format!("/tickets/{id}/need/told");
        let (s, to, _) = post(told.clone(), vec![("_csrf", token.clone()), ("notify", "1".into())]).await;
        assert_eq!(
            (s, to.as_deref()),
            (StatusCode::SEE_OTHER, Some(format!("{page}?flash=notified").as_str())),
            "[{e}]"
        );
        let row = need_row(&app, id).await;
        assert!(row.2.is_some() && row.3.is_some(), "[{e}] {row:?}");
        assert_eq!(outbox_count(&app, id).await, 1, "[{e}]");
        let (_, html) = app.page(&http, &format!("{page}?flash=notified")).await;
        assert!(html.contains("结果通知已进入发送队列"), "[{e}]");
        assert!(html.contains(&format!("消息 #{}", row.3.unwrap())), "[{e}] the message's number");
        assert!(!html.contains("id=\"need-told-form\""), "[{e}] told once");
        // A second post (another tab) changes nothing.
        let (s, _, _) = post(told, vec![("_csrf", token.clone()), ("notify", "1".into())]).await;
        assert_eq!(s, StatusCode::SEE_OTHER, "[{e}]");
        assert_eq!(outbox_count(&app, id).await, 1, "[{e}] still one message");
        assert_eq!(need_row(&app, id).await, row, "[{e}]");

        // English.
        let (_, html) = app.page(&http, &format!("{page}?lang=en")).await;
        assert!(html.contains("Need tracking") && html.contains("id=\"need-status\">Delivered<"), "[{e}]");
        assert!(html.contains("Need status: Planned → Delivered"), "[{e}]");

        // Another type of ticket has no need section.
        let other = ok_json(
            &app,
            Method::POST,
            "/api/v1/tickets",
            &agent_token,
            json!({"type": "consultation", "channel": "email", "category": "product", "priority": "normal",
                "customer_id": customer, "subject": "发票怎么开", "description": "", "assignee_id": agent}),
        )
        .await["id"]
            .as_i64()
            .unwrap();
        let (_, html) = app.page(&http, &format!("/tickets/{other}")).await;
        assert!(!html.contains("id=\"need\""), "[{e}]");
    }
}
