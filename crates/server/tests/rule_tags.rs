//! Rule tags defined by administrators (SPEC G6) over the API, on every
//! engine: the seeded defaults; creating, changing, disabling and deleting them with
//! every refusal named by field in zh/en and nothing changed; agents
//! refused; the recompute job gives an admin-defined combined tag to
//! exactly the customers that match and takes it away when they stop
//! matching, on their timelines; the tag works in a segment condition and
//! shows on the 360 page.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use guanxi_domain::segment::{Segment, default_rule_tags};
use reqwest::Method;
use serde_json::{Value, json};
use support::app::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, apps};

async fn call(app: &TestApp, method: Method, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let r = app.call(method, path, Some(token), body).await;
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> (u16, Value) {
    call(app, Method::POST, path, token, Some(body)).await
}

async fn patch(app: &TestApp, path: &str, token: &str, body: Value) -> (u16, Value) {
    call(app, Method::PATCH, path, token, Some(body)).await
}

async fn get(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    call(app, Method::GET, path, token, None).await
}

async fn customer(app: &TestApp, token: &str, body: Value) -> i64 {
    let (s, c) = post(app, "/api/v1/customers", token, body).await;
    assert_eq!(s, 201, "{c}");
    c["id"].as_i64().unwrap()
}

async fn order(app: &TestApp, token: &str, id: i64, ext: &str, on: &str, amount: &str) {
    let body = json!({"ordered_on": on, "amount": amount, "external_id": ext});
    let (s, o) = post(app, &format!("/api/v1/customers/{id}/orders"), token, body).await;
    assert_eq!(s, 201, "{o}");
}

async fn recompute(app: &TestApp, token: &str) -> Value {
    let (s, r) = post(app, "/api/v1/segments/recompute", token, json!({})).await;
    assert_eq!(s, 200, "[{}] {r}", app.engine);
    r
}

async fn rule_tags_of(app: &TestApp, token: &str, id: i64) -> Vec<String> {
    let (s, v) = get(app, &format!("/api/v1/customers/{id}/segment"), token).await;
    assert_eq!(s, 200, "{v}");
    v["rule_tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect()
}

/// Every row of the rule-tag table, and the audit count: what a refused
/// request must leave as it was.
async fn rule_tag_rows(app: &TestApp) -> (Vec<String>, Vec<(String, i64)>) {
    let rows = app
        .state
        .db
        .read(|c| c.query("SELECT * FROM rule_tags ORDER BY id", &[]))
        .await
        .unwrap()
        .iter()
        .map(|r| format!("{r:?}"))
        .collect();
    (rows, app.snapshot().await)
}

/// The segment timeline entries of a customer (their stored change lists).
async fn segment_timeline(app: &TestApp, token: &str, id: i64) -> Vec<String> {
    let (_, tl) = get(app, &format!("/api/v1/customers/{id}/timeline?kind=segment"), token).await;
    tl["items"].as_array().unwrap().iter().map(|x| x["detail"].as_str().unwrap_or_default().to_string()).collect()
}

const COMBINED: &str = "重点新品客户";

#[tokio::test]
async fn administrators_define_rule_tags_the_job_applies() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        let (_, agent) = app.user(&admin, "agent@corp.cn", "agent", None).await;

        // The defaults are seeded as ordinary, editable rows.
        let (s, list) = get(&app, "/api/v1/rule-tags", &agent).await;
        assert_eq!(s, 200, "[{e}] anyone may read them: {list}");
        let list = list.as_array().unwrap().clone();
        let names: Vec<&str> = list.iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(names, vec!["高价值", "活跃", "流失预警", "投诉风险"], "[{e}]");
        for ((name, seg), r) in default_rule_tags().into_iter().zip(&list) {
            assert_eq!(r["name"], name);
            assert_eq!(serde_json::from_value::<Segment>(r["definition"].clone()).unwrap(), seg, "[{e}] {name}");
            assert_eq!((r["enabled"].as_bool(), r["builtin"].as_bool()), (Some(true), Some(true)));
        }
        assert_eq!(list[0]["description"], "价值分层 = 高价值");
        let high_id = list[0]["id"].as_i64().unwrap();
        let active_id = list[1]["id"].as_i64().unwrap();

        // A: high value, active, prefers new products. B: high value, no
        // such preference. C: potential, prefers new products. D: nothing.
        let a = customer(&app, &admin, json!({"name": "北京明远科技", "tags": ["偏好新品"]})).await;
        order(&app, &admin, a, "A-1", "2026-11-01", "150000").await;
        let b = customer(&app, &admin, json!({"name": "上海星辰机械"})).await;
        order(&app, &admin, b, "B-1", "2026-11-02", "120000").await;
        let c = customer(&app, &admin, json!({"name": "杭州青禾食品", "tags": ["偏好新品"]})).await;
        order(&app, &admin, c, "C-1", "2026-11-03", "60000").await;
        let d = customer(&app, &admin, json!({"name": "武汉金桥物流", "tags": ["偏好新品"]})).await;
        recompute(&app, &admin).await;
        assert_eq!(rule_tags_of(&app, &admin, a).await, vec!["高价值", "活跃"], "[{e}]");

        // The combination 高价值+活跃+偏好新品, as a rule tag.
        let def = json!({"all": [{"has_tag": "高价值"}, {"has_tag": "活跃"}, {"has_tag": "偏好新品"}]});
        let (s, created) = post(&app, "/api/v1/rule-tags", &admin, json!({"name": COMBINED, "definition": def})).await;
        assert_eq!(s, 201, "[{e}] {created}");
        assert_eq!(created["description"], "标签 = 高价值 且 标签 = 活跃 且 标签 = 偏好新品");
        assert_eq!((created["enabled"].as_bool(), created["builtin"].as_bool()), (Some(true), Some(false)));
        let combined_id = created["id"].as_i64().unwrap();
        let (s, one) = get(&app, &format!("/api/v1/rule-tags/{combined_id}"), &agent).await;
        assert_eq!((s, one["name"].as_str()), (200, Some(COMBINED)));
        // Not applied before the next recomputation.
        assert!(!rule_tags_of(&app, &admin, a).await.contains(&COMBINED.to_string()));

        // Refused, each reason named by field, and nothing changed.
        let before = rule_tag_rows(&app).await;
        let refused: Vec<(Value, &str, &str)> = vec![
            (json!({"name": "a,b", "definition": def}), "name", "invalid_characters"),
            (json!({"name": "", "definition": def}), "name", "required"),
            (json!({"name": "高价值", "definition": {"all": ["at_risk"]}}), "name", "taken"),
            (json!({"name": "全体", "definition": {"all": []}}), "definition", "required"),
            (json!({"name": "金牌", "definition": {"all": [{"tier": "gold"}]}}), "definition", "not_allowed"),
            (json!({"name": "坏组", "definition": {"all": [{"any": []}]}}), "all[0]", "required"),
            (json!({"name": "自指", "definition": {"all": [{"has_tag": "自指"}]}}), "definition", "circular"),
            (json!({"name": "x", "definition": def, "colour": "red"}), "colour", "malformed"),
        ];
        for (body, field, code) in refused {
            let (s, p) = post(&app, "/api/v1/rule-tags", &admin, body.clone()).await;
            assert_eq!(s, 422, "[{e}] {body} → {p}");
            assert_eq!(
                (p["errors"][0]["field"].as_str(), p["errors"][0]["code"].as_str()),
                (Some(field), Some(code)),
                "[{e}] {p}"
            );
            assert!(!p["errors"][0]["message"].as_str().unwrap().is_empty());
        }
        // A bad name and a bad definition are both said.
        let (_, p) =
            post(&app, "/api/v1/rule-tags", &admin, json!({"name": "a;b", "definition": {"all": [{"tier": "gold"}]}}))
                .await;
        let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().map(|x| x["field"].as_str().unwrap()).collect();
        assert_eq!(fields, vec!["name", "definition"], "[{e}] {p}");
        // 高价值 testing the combination would be a cycle through it.
        let (s, p) = patch(
            &app,
            &format!("/api/v1/rule-tags/{high_id}"),
            &admin,
            json!({"definition": {"all": [{"has_tag": COMBINED}]}}),
        )
        .await;
        assert_eq!((s, p["errors"][0]["code"].as_str()), (422, Some("circular")), "[{e}] {p}");
        assert!(p["errors"][0]["message"].as_str().unwrap().contains("不能依赖自身"), "{p}");
        let r = app
            .http
            .patch(format!("{}/api/v1/rule-tags/{combined_id}", app.url))
            .bearer_auth(&admin)
            .header("Accept-Language", "en")
            .json(&json!({"name": "活跃"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let p: Value = r.json().await.unwrap();
        assert_eq!(
            (p["errors"][0]["field"].as_str(), p["errors"][0]["message"].as_str()),
            (Some("name"), Some("is already in use"))
        );
        assert_eq!(patch(&app, "/api/v1/rule-tags/9999", &admin, json!({"enabled": false})).await.0, 404);
        // Agents may not write.
        let (s, _) = post(&app, "/api/v1/rule-tags", &agent, json!({"name": "我的标签", "definition": def})).await;
        assert_eq!(s, 403, "[{e}]");
        let (s, _) = patch(&app, &format!("/api/v1/rule-tags/{high_id}"), &agent, json!({"enabled": false})).await;
        assert_eq!(s, 403, "[{e}]");
        assert_eq!(rule_tag_rows(&app).await, before, "[{e}] nothing changed");

        // The job gives the combination to exactly A, on A's timeline.
        recompute(&app, &admin).await;
        assert_eq!(rule_tags_of(&app, &admin, a).await, vec!["高价值", "活跃", COMBINED], "[{e}]");
        for x in [b, c, d] {
            assert!(!rule_tags_of(&app, &admin, x).await.contains(&COMBINED.to_string()), "[{e}] {x}");
        }
        let tl = segment_timeline(&app, &admin, a).await;
        assert_eq!(tl.len(), 1, "[{e}] {tl:?}");
        assert!(tl[0].contains("tag_added") && tl[0].contains(COMBINED), "[{e}] {tl:?}");
        assert!(segment_timeline(&app, &admin, b).await.is_empty(), "[{e}] nothing changed for B");
        let http = app.signed_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let (_, page) = app.page(&http, &format!("/customers/{a}")).await;
        assert!(
            page.contains(&format!("<span class=\"tag tag-rule\">{COMBINED}</span>")),
            "[{e}] the 360 panel shows it"
        );
        assert!(page.contains(&format!("获得规则标签：{COMBINED}")), "[{e}] the timeline says it in words");

        // Usable in a segment condition, alone or in an "any of".
        let (s, m) =
            post(&app, "/api/v1/segments/preview", &admin, json!({"definition": {"all": [{"has_tag": COMBINED}]}}))
                .await;
        assert_eq!((s, m["total"].as_i64()), (200, Some(1)), "[{e}] {m}");
        assert_eq!(m["items"][0]["customer_id"], a);
        let any = json!({"all": [{"any": [{"has_tag": COMBINED}, {"tier": "potential"}]}]});
        let (_, m) = post(&app, "/api/v1/segments/preview", &admin, json!({"definition": any})).await;
        assert_eq!(m["total"], 2, "[{e}] A or C: {m}");

        // A no longer prefers new products: the job takes the tag away.
        let (s, _) = call(
            &app,
            Method::PUT,
            &format!("/api/v1/customers/{a}"),
            &admin,
            Some(json!({"name": "北京明远科技", "tags": []})),
        )
        .await;
        assert_eq!(s, 200, "[{e}]");
        recompute(&app, &admin).await;
        assert_eq!(rule_tags_of(&app, &admin, a).await, vec!["高价值", "活跃"], "[{e}]");
        let tl = segment_timeline(&app, &admin, a).await;
        assert_eq!(tl.len(), 2, "[{e}] {tl:?}");
        assert!(tl.iter().any(|x| x.contains("tag_removed") && x.contains(COMBINED)), "[{e}] {tl:?}");
        let (_, m) =
            post(&app, "/api/v1/segments/preview", &admin, json!({"definition": {"all": [{"has_tag": COMBINED}]}}))
                .await;
        assert_eq!(m["total"], 0, "[{e}]");

        // Disabled: nobody keeps 活跃 after the next run; enabled again, back.
        let (s, v) = patch(&app, &format!("/api/v1/rule-tags/{active_id}"), &admin, json!({"enabled": false})).await;
        assert_eq!((s, v["enabled"].as_bool()), (200, Some(false)), "[{e}] {v}");
        let r = recompute(&app, &admin).await;
        assert!(r["changed"].as_i64().unwrap() >= 3, "[{e}] {r}");
        for x in [a, b, c] {
            assert!(!rule_tags_of(&app, &admin, x).await.contains(&"活跃".to_string()), "[{e}]");
        }
        patch(&app, &format!("/api/v1/rule-tags/{active_id}"), &admin, json!({"enabled": true})).await;
        recompute(&app, &admin).await;
        assert!(rule_tags_of(&app, &admin, b).await.contains(&"活跃".to_string()), "[{e}]");
        // A change is audited.
        let n: i64 = app
            .state
            .db
            .read(|c| c.scalar("SELECT COUNT(*) FROM audit_log WHERE entity = 'rule_tag'", &[]))
            .await
            .unwrap();
        assert_eq!(n, 3, "[{e}] one create, two switches");

        // A name with LIKE's wildcards is matched literally in conditions.
        let (s, _) = post(
            &app,
            "/api/v1/rule-tags",
            &admin,
            json!({"name": "大客户_VIP%", "definition": {"all": [{"tier": "high"}]}}),
        )
        .await;
        assert_eq!(s, 201, "[{e}]");
        recompute(&app, &admin).await;
        for (tag, total) in [("大客户_VIP%", 2), ("大客户xVIP%", 0), ("大客户_VIPx", 0)] {
            let (_, m) =
                post(&app, "/api/v1/segments/preview", &admin, json!({"definition": {"all": [{"has_tag": tag}]}}))
                    .await;
            assert_eq!(m["total"], total, "[{e}] {tag}: {m}");
        }
    }
}

#[tokio::test]
async fn administrators_delete_rule_tags_and_the_job_takes_them_away() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        let (_, agent) = app.user(&admin, "agent@corp.cn", "agent", None).await;
        // A: high value, prefers new products; B: nothing special.
        let a = customer(&app, &admin, json!({"name": "北京明远科技", "tags": ["偏好新品"]})).await;
        order(&app, &admin, a, "A-1", "2026-11-01", "150000").await;
        let b = customer(&app, &admin, json!({"name": "上海星辰机械"})).await;
        let (s, big) = post(
            &app,
            "/api/v1/rule-tags",
            &admin,
            json!({"name": "大单客户", "definition": {"all": [{"tier": "high"}]}}),
        )
        .await;
        assert_eq!(s, 201, "[{e}] {big}");
        let big = big["id"].as_i64().unwrap();
        let (s, combo) = post(
            &app,
            "/api/v1/rule-tags",
            &admin,
            json!({"name": "大单新品", "definition": {"all": [{"has_tag": "大单客户"}, {"has_tag": "偏好新品"}]}}),
        )
        .await;
        assert_eq!(s, 201, "[{e}] {combo}");
        let combo = combo["id"].as_i64().unwrap();
        recompute(&app, &admin).await;
        assert_eq!(rule_tags_of(&app, &admin, a).await, vec!["高价值", "活跃", "大单客户", "大单新品"], "[{e}]");
        let timeline_before = segment_timeline(&app, &admin, a).await.len();

        // Refused, nothing changed: an agent; a rule tag another one tests
        // (named, in zh and en); one that does not exist.
        let before = rule_tag_rows(&app).await;
        let (s, v) = call(&app, Method::DELETE, &format!("/api/v1/rule-tags/{big}"), &agent, None).await;
        assert_eq!(s, 403, "[{e}] {v}");
        let (s, v) = call(&app, Method::DELETE, &format!("/api/v1/rule-tags/{big}"), &admin, None).await;
        assert_eq!(s, 409, "[{e}] {v}");
        assert_eq!(v["errors"][0]["code"], "rule_tag_in_use", "[{e}] {v}");
        assert!(v["detail"].as_str().unwrap().contains("其他规则标签的条件引用了该标签：大单新品"), "[{e}] {v}");
        let (s, v) = call(&app, Method::DELETE, &format!("/api/v1/rule-tags/{big}?lang=en"), &admin, None).await;
        assert_eq!(s, 409, "[{e}]");
        assert!(v["detail"].as_str().unwrap().contains("Other rule tags test this tag in their conditions: 大单新品"));
        let (s, _) = call(&app, Method::DELETE, "/api/v1/rule-tags/9999", &admin, None).await;
        assert_eq!(s, 404, "[{e}]");
        assert_eq!(rule_tag_rows(&app).await, before, "[{e}] nothing changed");

        // The combination first, then the tag it tested: both gone, audited.
        for id in [combo, big] {
            let (s, v) = call(&app, Method::DELETE, &format!("/api/v1/rule-tags/{id}"), &admin, None).await;
            assert_eq!(s, 204, "[{e}] {v}");
            assert_eq!(get(&app, &format!("/api/v1/rule-tags/{id}"), &admin).await.0, 404, "[{e}]");
        }
        let (_, list) = get(&app, "/api/v1/rule-tags", &agent).await;
        let names: Vec<&str> = list.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(names, vec!["高价值", "活跃", "流失预警", "投诉风险"], "[{e}]");
        let deletes: Vec<String> = app
            .state
            .db
            .read(|c| {
                c.query("SELECT detail FROM audit_log WHERE entity = 'rule_tag' AND action = 'delete' ORDER BY id", &[])
            })
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String>(0).unwrap())
            .collect();
        assert_eq!(deletes.len(), 2, "[{e}] {deletes:?}");
        assert!(deletes[0].contains("大单新品") && deletes[1].contains("大单客户"), "[{e}] {deletes:?}");

        // The customers keep the tags until the next recomputation, which
        // takes them away on the timeline.
        assert!(rule_tags_of(&app, &admin, a).await.contains(&"大单客户".to_string()), "[{e}]");
        recompute(&app, &admin).await;
        assert_eq!(rule_tags_of(&app, &admin, a).await, vec!["高价值", "活跃"], "[{e}]");
        let tl = segment_timeline(&app, &admin, a).await;
        assert_eq!(tl.len(), timeline_before + 1, "[{e}] {tl:?}");
        assert!(
            tl.iter().any(|x| x.contains("tag_removed") && x.contains("大单客户") && x.contains("大单新品")),
            "[{e}] {tl:?}"
        );
        assert!(segment_timeline(&app, &admin, b).await.is_empty(), "[{e}] nothing changed for B");
    }
}
