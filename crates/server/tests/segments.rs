//! Segmentation and churn warning end to end, on every engine: the
//! recompute job over orders, communications and tags; tiers at their
//! boundary; churn signals with their evidence; the churn-risk list; the
//! churn-warning event for maintenance plans; only changes are rewritten,
//! and each change of tier goes on the timeline.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::app::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, apps};

async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> (u16, Value) {
    let r = app.call(Method::POST, path, Some(token), Some(body)).await;
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn get(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    let r = app.call(Method::GET, path, Some(token), None).await;
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn customer(app: &TestApp, token: &str, body: Value) -> i64 {
    let (s, c) = post(app, "/api/v1/customers", token, body).await;
    assert_eq!(s, 201, "{c}");
    c["id"].as_i64().unwrap()
}

async fn order(app: &TestApp, token: &str, id: i64, ext: &str, on: &str, amount: &str) {
    let (s, o) = post(
        app,
        &format!("/api/v1/customers/{id}/orders"),
        token,
        json!({"ordered_on": on, "amount": amount, "external_id": ext}),
    )
    .await;
    assert_eq!(s, 201, "{o}");
}

#[tokio::test]
async fn recompute_tiers_signals_and_changes() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        // Today is 2026-11-23. A: ten orders in the 90 days before the last
        // 90, three in the last 90 (a 70% drop), 120,000 yuan in 12 months.
        let a = customer(&app, &admin, json!({"name": "北京明远科技"})).await;
        for k in 0..10 {
            order(&app, &admin, a, &format!("A-P{k}"), &format!("2026-07-{:02}", 1 + k), "9000").await;
        }
        for k in 0..3 {
            order(&app, &admin, a, &format!("A-R{k}"), &format!("2026-11-{:02}", 1 + k), "10000").await;
        }
        // B: exactly 100,000 yuan (high value: the range is half-open), and
        // the manual competitor flag.
        let b = customer(&app, &admin, json!({"name": "上海星辰机械", "tags": ["竞品接触"]})).await;
        order(&app, &admin, b, "B-1", "2026-10-10", "100000").await;
        // C: one call 100 days ago, no orders: silent, and no interaction for 100 days.
        let c = customer(&app, &admin, json!({"name": "杭州青禾食品"})).await;
        let (s, _) = post(
            &app,
            &format!("/api/v1/customers/{c}/communications"),
            &admin,
            json!({"channel": "phone", "purpose": "回访", "summary": "客户暂无新需求", "occurred_at": "2026-08-15 10:00"}),
        )
        .await;
        assert_eq!(s, 201, "[{e}]");

        // Before the first run there is nothing to show.
        assert_eq!(get(&app, &format!("/api/v1/customers/{a}/segment"), &admin).await.0, 404);
        let (s, r) = post(&app, "/api/v1/segments/recompute", &admin, json!({})).await;
        assert_eq!(s, 200, "[{e}] {r}");
        assert_eq!(r["customers"], 3);
        assert_eq!(r["changed"], 3);

        let (_, sa) = get(&app, &format!("/api/v1/customers/{a}/segment"), &admin).await;
        assert_eq!(sa["tier"], "high", "[{e}] {sa}");
        assert_eq!(sa["spend_fen"], 12_000_000);
        assert_eq!(sa["activity"], "active");
        let drop = sa["signals"].as_array().unwrap().iter().find(|x| x["kind"] == "order_drop").expect("order drop");
        assert_eq!(drop["evidence"], "近90天订单数较前90天下降70%（10单 → 3单）");
        assert!(sa["rfm"].as_str().unwrap().len() == 3);
        assert!(sa["rule_tags"].as_array().unwrap().contains(&json!("高价值")));
        assert!(sa["rule_tags"].as_array().unwrap().contains(&json!("流失预警")));

        let (_, sb) = get(&app, &format!("/api/v1/customers/{b}/segment"), &admin).await;
        assert_eq!(sb["tier"], "high", "exactly 100,000 is high value");
        assert!(sb["signals"].as_array().unwrap().iter().any(|x| x["kind"] == "competitor_contact"));

        let (_, sc) = get(&app, &format!("/api/v1/customers/{c}/segment"), &admin).await;
        assert_eq!((sc["tier"].as_str(), sc["activity"].as_str()), (Some("ordinary"), Some("silent")));
        let quiet = sc["signals"].as_array().unwrap().iter().find(|x| x["kind"] == "no_interaction").expect("quiet");
        assert!(quiet["evidence"].as_str().unwrap().contains("100天"), "{quiet}");
        let r = app
            .http
            .get(format!("{}/api/v1/customers/{c}/segment", app.url))
            .bearer_auth(&admin)
            .header("Accept-Language", "en")
            .send()
            .await
            .unwrap();
        let en: Value = r.json().await.unwrap();
        assert_eq!(en["activity_label"], "Silent");

        // The churn-risk list holds all three; each newly at-risk customer
        // raised one churn warning for maintenance plans.
        let (_, risk) = get(&app, "/api/v1/segments/churn-risk", &admin).await;
        assert_eq!(risk["total"], 3, "[{e}] {risk}");
        let events = app
            .state
            .db
            .read(|c| guanxi_store::segments::pending_events(c, guanxi_store::segments::event::CHURN_WARNING, 10))
            .await
            .unwrap();
        let mut warned: Vec<i64> = events.iter().map(|x| x.customer_id).collect();
        warned.sort_unstable();
        assert_eq!(warned, vec![a, b, c]);
        // A consumer marks what it acted on; those are no longer pending.
        let ids: Vec<i64> = events.iter().take(2).map(|x| x.id).collect();
        let now = guanxi_domain::Clock::now(app.clock.as_ref());
        app.state.db.write(move |c| guanxi_store::segments::consume_events(c, &ids, now)).await.unwrap();
        let left = app
            .state
            .db
            .read(|c| guanxi_store::segments::pending_events(c, guanxi_store::segments::event::CHURN_WARNING, 10))
            .await
            .unwrap();
        assert_eq!(left.len(), 1, "[{e}]");

        // Overview counts.
        let (_, o) = get(&app, "/api/v1/segments/overview", &admin).await;
        let high: i64 = o["cells"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["tier"] == "high")
            .map(|x| x["customers"].as_i64().unwrap())
            .sum();
        assert_eq!(high, 2);

        // Nothing changed: nothing is rewritten, no new timeline entry.
        let before = app.snapshot().await;
        let (_, r) = post(&app, "/api/v1/segments/recompute", &admin, json!({})).await;
        assert_eq!(r["changed"], 0, "[{e}] {r}");
        assert_eq!(app.snapshot().await, before);

        // C buys 60,000 yuan: ordinary → potential, active again, and the
        // change is on its timeline in words.
        order(&app, &admin, c, "C-1", "2026-11-20", "60000").await;
        // (RFM scores are relative, so the others' rows may be rewritten too;
        // only C's tier, activity and churn state changed.)
        let (_, r) = post(&app, "/api/v1/segments/recompute", &admin, json!({})).await;
        assert_eq!(r["at_risk"], 2, "[{e}] {r}");
        let (_, tl) = get(&app, &format!("/api/v1/customers/{c}/timeline?kind=segment"), &admin).await;
        let items = tl["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "[{e}] {tl}");
        let (_, tl) = get(&app, &format!("/api/v1/customers/{a}/timeline?kind=segment"), &admin).await;
        assert!(tl["items"].as_array().unwrap().is_empty(), "[{e}] {tl}");
        let page = app
            .signed_in(ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .get(format!("{}/customers/{c}", app.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("价值分层：普通 → 潜力"), "[{e}] the 360 page tells the change");

        // The follow-up records a coded churn reason: on the timeline, in
        // the statistics; a bad code or an over-long note changes nothing.
        let before = app.snapshot().await;
        let (s, p) =
            post(&app, &format!("/api/v1/customers/{a}/churn-reason"), &admin, json!({"reason": "weather"})).await;
        assert_eq!((s, p["errors"][0]["field"].as_str()), (422, Some("reason")), "[{e}] {p}");
        let long = "长".repeat(501);
        let (s, p) = post(
            &app,
            &format!("/api/v1/customers/{a}/churn-reason"),
            &admin,
            json!({"reason": "price", "note": long}),
        )
        .await;
        assert_eq!((s, p["errors"][0]["field"].as_str()), (422, Some("note")), "[{e}] {p}");
        assert_eq!(app.snapshot().await, before);
        let (s, _) = post(
            &app,
            &format!("/api/v1/customers/{a}/churn-reason"),
            &admin,
            json!({"reason": "price", "note": "续费报价高于竞品15%"}),
        )
        .await;
        assert_eq!(s, 201);
        post(&app, &format!("/api/v1/customers/{b}/churn-reason"), &admin, json!({"reason": "price"})).await;
        post(&app, &format!("/api/v1/customers/{c}/churn-reason"), &admin, json!({"reason": "competitor"})).await;
        let (_, stats) = get(&app, "/api/v1/segments/churn-reasons?days=30", &admin).await;
        assert_eq!(stats[0]["reason"], "price", "[{e}] {stats}");
        assert_eq!((stats[0]["customers"].as_i64(), stats[0]["label"].as_str()), (Some(2), Some("价格")));
        assert_eq!(stats[1]["reason"], "competitor");
        let (s, p) = get(&app, "/api/v1/segments/churn-reasons?days=soon", &admin).await;
        assert_eq!(s, 400, "[{e}] a bad query parameter is refused: {p}");
        assert!(p["detail"].as_str().unwrap_or_default().contains("days"), "[{e}] it names the parameter: {p}");
        let http = app.signed_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let page = http.get(format!("{}/customers/{a}", app.url)).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("流失原因：价格") && page.contains("续费报价高于竞品15%"), "[{e}] on the timeline");
        // The same from the 360 page's form (CSRF token from the page).
        assert!(page.contains("id=\"churn-reason-form\""), "[{e}] the form is on the segment panel");
        let at = page.find("name=\"_csrf\" value=\"").unwrap() + 20;
        let csrf = page[at..].split('"').next().unwrap().to_string();
        let r = http
            .post(format!("{}/customers/{a}/churn-reason", app.url))
            .form(&[("_csrf", csrf.as_str()), ("reason", "service"), ("note", "")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "[{e}] recorded, back to the page");
        let (_, stats) = get(&app, "/api/v1/segments/churn-reasons?days=30", &admin).await;
        assert_eq!(stats.as_array().unwrap().len(), 3, "[{e}] {stats}");
        let r = http
            .post(format!("{}/customers/{a}/churn-reason", app.url))
            .form(&[("_csrf", "forged"), ("reason", "service")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "[{e}] a forged token is refused");

        // Agents cannot start a recomputation.
        let (_, agent) = app.user(&admin, "agent@corp.cn", "agent", None).await;
        let (s, _) = post(&app, "/api/v1/segments/recompute", &agent, json!({})).await;
        assert_eq!(s, 403);
        // An agent's churn-risk list holds only customers in their scope.
        let (_, risk) = get(&app, "/api/v1/segments/churn-risk", &agent).await;
        assert_eq!(risk["total"], 0);
    }
}

#[tokio::test]
async fn saved_segments_validate_and_list_members() {
    for app in apps().await {
        let admin = app.admin_token().await;
        let a = customer(&app, &admin, json!({"name": "成都博瑞医疗", "industry": "医疗"})).await;
        order(&app, &admin, a, "A-1", "2026-11-01", "150000").await;
        customer(&app, &admin, json!({"name": "武汉金桥物流"})).await;
        post(&app, "/api/v1/segments/recompute", &admin, json!({})).await;

        let def = json!({"all": [{"tier": "high"}, {"industry": "医疗"}]});
        let (s, seg) =
            post(&app, "/api/v1/segments", &admin, json!({"name": "高价值医疗客户", "definition": def})).await;
        assert_eq!(s, 201, "{seg}");
        assert_eq!(seg["description"], "价值分层 = 高价值 且 行业 = 医疗");
        let (s, members) = post(&app, "/api/v1/segments/preview", &admin, json!({"definition": def})).await;
        assert_eq!(s, 200);
        assert_eq!(members["total"], 1);
        assert_eq!(members["items"][0]["customer_id"], a);

        // Bad definitions and names are refused and change nothing.
        let before = app.snapshot().await;
        let (s, p) =
            post(&app, "/api/v1/segments", &admin, json!({"name": "x", "definition": {"all": [{"tier": "gold"}]}}))
                .await;
        assert_eq!(s, 422, "{p}");
        assert_eq!(p["errors"][0]["field"], "definition");
        let (s, p) = post(&app, "/api/v1/segments", &admin, json!({"name": "高价值医疗客户", "definition": def})).await;
        assert_eq!((s, p["errors"][0]["field"].as_str()), (422, Some("name")));
        assert_eq!(app.snapshot().await, before);
        let (_, list) = get(&app, "/api/v1/segments", &admin).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn saved_segments_with_any_groups_are_changed_and_deleted_by_those_allowed() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        let (_, supervisor) = app.user(&admin, "lead@corp.cn", "supervisor", None).await;
        let (agent_id, agent) = app.user(&admin, "agent@corp.cn", "agent", None).await;
        let (_, other) = app.user(&admin, "other@corp.cn", "agent", None).await;
        let a = customer(&app, &admin, json!({"name": "成都博瑞医疗", "industry": "医疗", "owner_id": agent_id})).await;
        order(&app, &admin, a, "A-1", "2026-11-01", "150000").await;
        let b =
            customer(&app, &admin, json!({"name": "武汉金桥物流", "tags": ["偏好新品"], "owner_id": agent_id})).await;
        order(&app, &admin, b, "B-1", "2026-11-02", "60000").await;
        customer(&app, &admin, json!({"name": "杭州青禾食品"})).await;
        post(&app, "/api/v1/segments/recompute", &admin, json!({})).await;

        // (high value or prefers new products) and active: an "any of"
        // group inside the all-list, saved by an agent, read back the same.
        let def = json!({"all": [{"any": [{"tier": "high"}, {"has_tag": "偏好新品"}]}, {"activity": "active"}]});
        let (s, m) = post(&app, "/api/v1/segments/preview", &agent, json!({"definition": def})).await;
        assert_eq!((s, m["total"].as_i64()), (200, Some(2)), "[{e}] {m}");
        let (s, seg) = post(&app, "/api/v1/segments", &agent, json!({"name": "重点跟进", "definition": def})).await;
        assert_eq!(s, 201, "[{e}] {seg}");
        assert_eq!(seg["definition"], def);
        assert_eq!(seg["created_by"], agent_id);
        assert_eq!(seg["description"], "（价值分层 = 高价值 或 标签 = 偏好新品） 且 活跃度 = 活跃");
        let id = seg["id"].as_i64().unwrap();
        let (s, one) = get(&app, &format!("/api/v1/segments/{id}"), &other).await;
        assert_eq!((s, &one["definition"]), (200, &def), "[{e}]");

        // Renamed and changed by its creator; bad input changes nothing.
        let path = format!("/api/v1/segments/{id}");
        let before = app.state.db.read(move |c| guanxi_store::segments::saved_segment(c, id)).await.unwrap();
        for (body, field) in [
            (json!({"name": ""}), "name"),
            (json!({"definition": {"all": [{"tier": "gold"}]}}), "definition"),
            (json!({"definition": {"all": [{"any": []}]}}), "all[0]"),
            (json!({"title": "x"}), "title"),
        ] {
            let r = app.call(Method::PATCH, &path, Some(&agent), Some(body.clone())).await;
            assert_eq!(r.status(), 422, "[{e}] {body}");
            let p: Value = r.json().await.unwrap();
            assert_eq!(p["errors"][0]["field"], field, "[{e}] {p}");
        }
        let (s, _) = post(&app, "/api/v1/segments", &agent, json!({"name": "另一个", "definition": def})).await;
        assert_eq!(s, 201);
        let r = app.call(Method::PATCH, &path, Some(&agent), Some(json!({"name": "另一个"}))).await;
        assert_eq!(r.status(), 422, "[{e}] a name in use");
        let after = app.state.db.read(move |c| guanxi_store::segments::saved_segment(c, id)).await.unwrap();
        assert_eq!(
            (after.name.as_str(), after.definition.as_str()),
            (before.name.as_str(), before.definition.as_str())
        );
        let narrower = json!({"all": [{"any": [{"tier": "high"}, {"has_tag": "偏好新品"}]}, {"industry": "医疗"}]});
        let r = app
            .call(Method::PATCH, &path, Some(&agent), Some(json!({"name": "重点跟进（医疗）", "definition": narrower})))
            .await;
        assert_eq!(r.status(), 200, "[{e}]");
        let v: Value = r.json().await.unwrap();
        assert_eq!((v["name"].as_str(), &v["definition"]), (Some("重点跟进（医疗）"), &narrower));
        let r = app.call(Method::PATCH, &path, Some(&supervisor), Some(json!({"name": "重点跟进"}))).await;
        assert_eq!(r.status(), 200, "[{e}] supervisors may too");

        // Another agent may neither change nor delete it; the creator, a
        // supervisor or an administrator may delete.
        let r = app.call(Method::PATCH, &path, Some(&other), Some(json!({"name": "我的"}))).await;
        assert_eq!(r.status(), 403, "[{e}]");
        let r = app.call(Method::DELETE, &path, Some(&other), None).await;
        assert_eq!(r.status(), 403, "[{e}]");
        assert_eq!(get(&app, &path, &admin).await.0, 200, "[{e}] still there");
        let r = app.call(Method::DELETE, &path, Some(&agent), None).await;
        assert_eq!(r.status(), 204, "[{e}] its creator deletes it");
        assert_eq!(get(&app, &path, &admin).await.0, 404);
        assert_eq!(app.call(Method::DELETE, &path, Some(&agent), None).await.status(), 404);
        let (_, list) = get(&app, "/api/v1/segments", &admin).await;
        let second = list["items"][0]["id"].as_i64().unwrap();
        let r = app.call(Method::DELETE, &format!("/api/v1/segments/{second}"), Some(&admin), None).await;
        assert_eq!(r.status(), 204, "[{e}] an administrator deletes anyone's");
        let (_, list) = get(&app, "/api/v1/segments", &admin).await;
        assert_eq!(list["total"], 0, "[{e}]");
        let n: i64 = app
            .state
            .db
            .read(|c| c.scalar("SELECT COUNT(*) FROM audit_log WHERE entity = 'saved_segment'", &[]))
            .await
            .unwrap();
        assert_eq!(n, 2, "[{e}] deletions are audited");
        // Collaborating departments may not save segments.
        let (_, collab) = app.user(&admin, "qa@corp.cn", "collaborator", None).await;
        let (s, _) = post(&app, "/api/v1/segments", &collab, json!({"name": "x", "definition": def})).await;
        assert_eq!(s, 403, "[{e}]");
    }
}
