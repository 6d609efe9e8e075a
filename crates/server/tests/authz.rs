//! Authorisation (SPEC S1, S4; issue 10) end to end, on every engine:
//! - the table in `authz.rs` has a rule for every route of the
//!   application's router (read from the router itself) and no rule for a
//!   route that does not exist;
//! - every route answers anonymous callers and each role as its rule says;
//! - agent A reaches none of agent B's customers (nor their contacts,
//!   orders, communications, action items, tickets, complaints, reveals,
//!   exports, search hits, 360 page) through any route, and every refused
//!   write leaves every table's rows exactly as they were;
//! - JSON request bodies refuse unknown fields, naming them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::{BTreeMap, BTreeSet};

use guanxi_domain::user::Role;
use guanxi_server::authz::{self, Access};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use support::app::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, apps, csrf};

/// (method, route pattern) of every route of the application's router. axum
/// does not list routes, but its Debug output names each route's path and
/// which methods it answers; this reads them from there, so a route added
/// anywhere in the router is found.
fn router_routes(app: &TestApp) -> Vec<(String, String)> {
    let router = guanxi_server::app(app.state.clone());
    let dump = format!("{router:?}");
    let main = dump.split("fallback_router:").next().unwrap();
    let mut paths: BTreeMap<u64, String> = BTreeMap::new();
    let mut methods: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for piece in main.split("RouteId(").skip(1) {
        let Some((id, rest)) = piece.split_once("): ") else { continue };
        let Ok(id) = id.parse::<u64>() else { continue };
        if let Some(p) = rest.strip_prefix('"') {
            paths.insert(id, p.split('"').next().unwrap().to_string());
        } else if let Some(m) = rest.strip_prefix("MethodRouter(MethodRouter { ") {
            let fields = m.split(", fallback:").next().unwrap();
            let ms = fields
                .split(", ")
                .filter_map(|f| f.split_once(": "))
                .filter(|(_, v)| *v != "None")
                .map(|(k, _)| k.to_uppercase())
                .collect();
            methods.insert(id, ms);
        } else {
            panic!("route {id} is not a method router: {}", &rest[..rest.len().min(120)]);
        }
    }
    let mut out = Vec::new();
    for (id, path) in &paths {
        if path.contains("__private__axum") {
            continue;
        }
        let ms = methods.get(id).unwrap_or_else(|| panic!("no methods read for {path}"));
        assert!(!ms.is_empty(), "no methods read for {path}");
        for m in ms {
            out.push((m.clone(), path.clone()));
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn every_route_has_a_rule() {
    let app = apps().await.remove(0);
    let found = router_routes(&app);
    assert!(found.len() > 150, "the router listing looks broken: {} routes", found.len());
    for probe in [("GET", "/api/v1/customers/{id}"), ("POST", "/login"), ("POST", "/tickets/{id}/message")] {
        assert!(found.iter().any(|(m, p)| m == probe.0 && p == probe.1), "{probe:?} not read from the router");
    }
    let missing: Vec<_> = found.iter().filter(|(m, p)| authz::rule(&m.parse().unwrap(), p).is_none()).collect();
    assert!(missing.is_empty(), "routes without a rule in authz::RULES: {missing:#?}");
    let stale: Vec<_> = authz::RULES
        .iter()
        .filter(|r| !found.iter().any(|(m, p)| m == r.method && p == r.path))
        .map(|r| (r.method, r.path))
        .collect();
    assert!(stale.is_empty(), "rules in authz::RULES for routes that do not exist: {stale:#?}");
    let mut seen = BTreeSet::new();
    let twice: Vec<_> =
        authz::RULES.iter().filter(|r| !seen.insert((r.method, r.path))).map(|r| (r.method, r.path)).collect();
    assert!(twice.is_empty(), "routes with more than one rule in authz::RULES: {twice:?}");

    // The OpenAPI document and the router agree on the API.
    let doc: Value = app.call(Method::GET, "/api/openapi.json", None, None).await.json().await.unwrap();
    let mut documented = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for m in ops.as_object().unwrap().keys() {
            documented.insert((m.to_uppercase(), path.clone()));
        }
    }
    let routed: BTreeSet<_> =
        found.iter().filter(|(m, p)| authz::is_api(p) && p != "/api/openapi.json" && m != "HEAD").cloned().collect();
    assert_eq!(routed, documented, "API routes and the OpenAPI document differ");
    // Each operation says who may call it.
    let op = &doc["paths"]["/api/v1/customers/{id}"]["delete"];
    assert!(op["description"].as_str().unwrap().contains("Access: roles supervisor, admin."), "{op}");
    let op = &doc["paths"]["/api/v1/auth/token"]["post"];
    assert!(op["description"].as_str().unwrap().contains("Access: anyone"), "{op}");
}

// ---- Callers ----

struct Caller {
    id: i64,
    label: &'static str,
    role: Option<Role>,
    token: Option<String>,
    page: Client,
    csrf: String,
}

async fn json_of(r: reqwest::Response) -> (u16, Value) {
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn group(app: &TestApp, admin: &str, name: &str) -> i64 {
    let body = json!({"name": name, "kind": "team"});
    let (s, v) = json_of(app.call(Method::POST, "/api/v1/groups", Some(admin), Some(body)).await).await;
    assert_eq!(s, 201, "[{}] group {name}: {v}", app.engine);
    v["id"].as_i64().unwrap()
}

/// A user of `role` with an API token and a signed-in page session.
async fn caller(app: &TestApp, admin: &str, label: &'static str, role: Role, group_id: Option<i64>) -> (i64, Caller) {
    let email = format!("{label}@authz.test.cn");
    let body = json!({"email": email, "name": label, "role": role.code(), "password": "password-123",
        "group_id": group_id, "certified": true});
    let (s, v) = json_of(app.call(Method::POST, "/api/v1/users", Some(admin), Some(body)).await).await;
    assert_eq!(s, 201, "[{}] user {label}: {v}", app.engine);
    let token = app.token(&email, "password-123").await;
    let page = app.signed_in(&email, "password-123").await;
    let (_, html) = app.page(&page, "/").await;
    let id = v["id"].as_i64().unwrap();
    (id, Caller { id, label, role: Some(role), token: Some(token), page, csrf: csrf(&html) })
}

async fn admin_caller(app: &TestApp) -> Caller {
    let token = app.admin_token().await;
    let page = app.signed_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let (_, html) = app.page(&page, "/").await;
    let me: Value = app.call(Method::GET, "/api/v1/me", Some(&token), None).await.json().await.unwrap();
    let id = me["id"].as_i64().unwrap();
    Caller { id, label: "admin", role: Some(Role::Admin), token: Some(token), page, csrf: csrf(&html) }
}

fn anonymous() -> Caller {
    Caller { id: 0, label: "anonymous", role: None, token: None, page: support::app::browser(), csrf: String::new() }
}

async fn post_json(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let (s, v) = json_of(app.call(Method::POST, path, Some(token), Some(body.clone())).await).await;
    assert!(s == 200 || s == 201, "[{}] POST {path} {body}: {s} {v}", app.engine);
    v
}

/// One request: API routes with the bearer token and a JSON body, pages
/// with the session cookie and a form carrying the CSRF token. Returns the
/// status, the Location header and the body.
async fn send(
    app: &TestApp,
    who: &Caller,
    method: &str,
    path: &str,
    body: Option<&Value>,
    form: &[(&str, String)],
) -> (StatusCode, String, String) {
    let m: Method = method.parse().unwrap();
    let url = format!("{}{path}", app.url);
    let route = path.split('?').next().unwrap();
    let r = if authz::is_api(route) {
        let mut r = app.http.request(m.clone(), url);
        if let Some(t) = &who.token {
            r = r.bearer_auth(t);
        }
        if m == Method::POST && route.ends_with("/attachments") {
            // The upload is a form with files.
            let file =
                reqwest::multipart::Part::bytes(b"hello".to_vec()).file_name("a.txt").mime_str("text/plain").unwrap();
            r = r.multipart(
                reqwest::multipart::Form::new().text("kind", "note").text("body", "附件").part("file", file),
            );
        } else if m != Method::GET && m != Method::DELETE {
            r = r.json(body.unwrap_or(&json!({})));
        }
        r.send().await.unwrap()
    } else {
        let mut r = who.page.request(m.clone(), url);
        if m == Method::POST {
            let mut pairs: Vec<(&str, String)> = vec![("_csrf", who.csrf.clone())];
            pairs.extend(form.iter().cloned());
            r = r.form(&pairs);
        }
        r.send().await.unwrap()
    };
    let status = r.status();
    let location = r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let bytes = r.bytes().await.unwrap_or_default();
    (status, location, String::from_utf8_lossy(&bytes).into_owned())
}

/// Route patterns in an order that keeps the session alive and the objects
/// present as long as possible: reads and ordinary writes, then deletions,
/// then logging out.
fn ordered(routes: Vec<(String, String)>) -> Vec<(String, String)> {
    let rank = |(m, p): &(String, String)| -> u8 {
        if p == "/logout" {
            3
        } else if m == "DELETE" || p.ends_with("/delete") {
            2
        } else {
            u8::from(m != "GET")
        }
    };
    let mut v: Vec<_> = routes.into_iter().filter(|(m, _)| m != "HEAD").collect();
    v.sort_by_key(|r| (rank(r), r.1.clone(), r.0.clone()));
    v
}

/// Fills a route pattern's parameters.
fn fill(pattern: &str, ids: &BTreeMap<&str, i64>) -> String {
    let id_for = |prefix: &str| -> i64 {
        let key = ids.keys().filter(|k| prefix.contains(&format!("/{k}/"))).max_by_key(|k| k.len()).copied();
        key.map_or(999_999, |k| ids[k])
    };
    let mut out = String::new();
    for seg in pattern.split('/').skip(1) {
        out.push('/');
        let value = match seg {
            "{id}" => id_for(&out).to_string(),
            "{attachment_id}" | "{script_id}" => "999999".into(),
            "{date}" => "2026-12-25".into(),
            "{code}" if out.starts_with("/lang") => "en".into(),
            "{code}" => "default".into(),
            "{kind}" => "customers".into(),
            "{name}" => "first_response".into(),
            "{token}" => "not-a-survey-token".into(),
            "{*file}" => "app.css".into(),
            s => s.to_string(),
        };
        out.push_str(&value);
    }
    if out.is_empty() { "/".into() } else { out }
}

#[tokio::test]
async fn every_route_answers_each_role_as_its_rule_says() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = admin_caller(&app).await;
        let at = admin.token.clone().unwrap();
        let g = group(&app, &at, "甲组").await;
        let (agent_id, agent) = caller(&app, &at, "agent", Role::Agent, Some(g)).await;
        let (_, supervisor) = caller(&app, &at, "supervisor", Role::Supervisor, Some(g)).await;
        let (_, advisor) = caller(&app, &at, "advisor", Role::Advisor, Some(g)).await;
        let (_, collaborator) = caller(&app, &at, "collaborator", Role::Collaborator, None).await;
        // Objects the routes' ids point at: the agent's customer, its
        // contact and a ticket on it.
        let cust =
            post_json(&app, &at, "/api/v1/customers", json!({"name": "授权测试客户", "owner_id": agent_id})).await;
        let cust = cust["id"].as_i64().unwrap();
        let contact =
            post_json(&app, &at, &format!("/api/v1/customers/{cust}/contacts"), json!({"name": "王芳"})).await;
        let ticket = post_json(
            &app,
            &at,
            "/api/v1/tickets",
            json!({"type": "consultation", "channel": "phone", "category": "product", "customer_id": cust,
                "subject": "咨询发票", "description": "客户询问发票开具时间"}),
        )
        .await;
        let ids: BTreeMap<&str, i64> = [
            ("customers", cust),
            ("contacts", contact["id"].as_i64().unwrap()),
            ("tickets", ticket["id"].as_i64().unwrap()),
        ]
        .into_iter()
        .collect();
        let callers = [anonymous(), collaborator, advisor, agent, supervisor, admin];

        let mut wrong = Vec::new();
        for (method, pattern) in ordered(router_routes(&app)) {
            let rule = authz::rule(&method.parse().unwrap(), &pattern)
                .unwrap_or_else(|| panic!("no rule for {method} {pattern} in authz::RULES"));
            let path = fill(&pattern, &ids);
            for who in &callers {
                // Agents may assign tickets to themselves only.
                let body = json!({"assignee_id": who.id});
                let form = [("assignee_id", who.id.to_string())];
                let (status, location, body) = send(&app, who, &method, &path, Some(&body), &form).await;
                // Logging out ends at the login page.
                let to_login = status.is_redirection() && location.starts_with("/login") && pattern != "/logout";
                let ok = if rule.access.allows(who.role) {
                    status != StatusCode::UNAUTHORIZED
                        && status != StatusCode::FORBIDDEN
                        && !(to_login && rule.access != Access::Public)
                        && !status.is_server_error()
                } else if who.role.is_none() {
                    if authz::is_api(&pattern) {
                        status == StatusCode::UNAUTHORIZED
                    } else {
                        status.is_redirection() && location.starts_with("/login")
                    }
                } else {
                    status == StatusCode::FORBIDDEN
                };
                if !ok {
                    let body: String = body.chars().take(160).collect();
                    wrong.push(format!(
                        "{method} {path} as {}: {status} {location} (rule {:?}) {body}",
                        who.label, rule.access
                    ));
                }
            }
        }
        assert!(wrong.is_empty(), "[{e}] {} answers differ from the table:\n{}", wrong.len(), wrong.join("\n"));
    }
}

// ---- Data scope: agent A and agent B ----

/// Every row of every table, sorted, by table: what a refused request must
/// leave exactly as it was.
async fn full_snapshot(app: &TestApp, skip: &BTreeSet<String>) -> BTreeMap<String, Vec<String>> {
    let pg = app.state.db.engine() == guanxi_store::Engine::Postgres;
    let tables: Vec<String> = app
        .state
        .db
        .read(move |c| {
            let sql = if pg {
                "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
            } else {
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            };
            c.query(sql, &[])?.iter().map(|r| r.get::<String>(0)).collect()
        })
        .await
        .unwrap();
    let mut out = BTreeMap::new();
    for t in tables {
        if skip.contains(&t) {
            continue;
        }
        let sql = if pg { format!("SELECT CAST(x AS TEXT) FROM \"{t}\" x") } else { format!("SELECT * FROM \"{t}\"") };
        let rows = app.state.db.read(move |c| c.query(&sql, &[])).await.unwrap();
        let mut v: Vec<String> = rows.iter().map(|r| format!("{r:?}")).collect();
        v.sort();
        out.insert(t, v);
    }
    out
}

/// The log of refused authorisations: the one thing a refusal adds.
const REFUSAL_LOG: &str = "security_events";

/// The tables whose rows differ between two snapshots. The refusal log may
/// only have gained rows (it is kept apart from the data a refusal must
/// leave alone).
fn changed(a: &BTreeMap<String, Vec<String>>, b: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let mut out: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|t| a.get(*t) != b.get(*t) && t.as_str() != REFUSAL_LOG)
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if let (Some(before), Some(after)) = (a.get(REFUSAL_LOG), b.get(REFUSAL_LOG))
        && !before.iter().all(|row| after.contains(row))
    {
        out.push(format!("{REFUSAL_LOG} (rows changed or removed)"));
    }
    out
}

/// JSON bodies (API) and form fields (pages) that would be accepted if the
/// record were the caller's, so that a missing scope check shows as a write.
fn api_body(method: &str, pattern: &str, b: &BTreeMap<&str, i64>, me: i64) -> Value {
    let customer = b["customers"];
    match (method, pattern) {
        ("PUT", "/api/v1/customers/{id}") => json!({"name": "改名的客户"}),
        ("POST", "/api/v1/customers/{id}/contacts") | ("PUT", "/api/v1/contacts/{id}") => json!({"name": "新联系人"}),
        ("POST", "/api/v1/customers/{id}/reveal") | ("POST", "/api/v1/contacts/{id}/reveal") => {
            json!({"field": "phone"})
        }
        ("POST", "/api/v1/customers/{id}/orders") => json!({"ordered_on": "2026-11-01", "amount": "100"}),
        ("POST", "/api/v1/customers/{id}/communications") => {
            json!({"channel": "phone", "purpose": "回访", "summary": "甲方写入"})
        }
        ("POST", "/api/v1/customers/{id}/churn-reason") => json!({"reason": "price"}),
        ("POST", "/api/v1/customers/{id}/consents") => json!({"channel": "email", "granted": false, "source": "电话"}),
        ("PUT", "/api/v1/maintenance/tasks/{id}/appointment") => json!({"at": "2026-11-25 10:00"}),
        ("PATCH", "/api/v1/action-items/{id}") => json!({"status": "done"}),
        ("POST", "/api/v1/tickets") => json!({"type": "consultation", "channel": "phone", "category": "product",
            "customer_id": customer, "subject": "甲方代开", "description": "甲方代开的工单"}),
        ("POST", "/api/v1/complaints") => json!({"customer_id": customer, "channel": "phone", "category": "product",
            "demand_type": "exchange", "subject": "甲方代登记", "description": "甲方代登记的投诉"}),
        ("POST", "/api/v1/tickets/{id}/actions") => json!({"action": "start"}),
        ("POST", "/api/v1/tickets/{id}/messages") => json!({"kind": "note", "body": "甲方备注"}),
        ("POST", "/api/v1/tickets/{id}/revisit") => json!({"note": "甲方回访"}),
        ("PUT", "/api/v1/tickets/{id}/assignment") => json!({"assignee_id": me}),
        ("POST", "/api/v1/tickets/{id}/escalate") => json!({"reason": "甲方升级"}),
        ("POST", "/api/v1/complaints/{id}/urgency") => json!({"urgency": "urgent", "reason": "甲方改"}),
        ("POST", "/api/v1/complaints/{id}/steps") => json!({"action": "propose", "solution": "甲方的方案"}),
        ("POST", "/api/v1/maintenance/tasks/{id}/record") => json!({"channel": "phone", "summary": "甲方记录"}),
        ("POST", "/api/v1/outbox") => json!({"customer_id": customer, "scenario": "care", "channel": "email"}),
        ("POST", "/api/v1/surveys") => {
            json!({"customer_id": customer, "kind": "csat", "source": "ticket", "source_id": b["tickets"]})
        }
        _ => json!({}),
    }
}

fn page_form(pattern: &str, b: &BTreeMap<&str, i64>) -> Vec<(&'static str, String)> {
    let s = |v: &str| v.to_string();
    match pattern {
        "/customers/{id}/edit" => vec![("name", s("改名的客户")), ("kind", s("enterprise"))],
        "/customers/{id}/contacts/new" => vec![("name", s("新联系人"))],
        "/customers/{id}/communications/new" => {
            vec![("channel", s("phone")), ("purpose", s("回访")), ("summary", s("甲方写入"))]
        }
        "/customers/{id}/orders/new" => vec![("ordered_on", s("2026-11-01")), ("amount", s("100"))],
        "/customers/{id}/reveal" | "/contacts/{id}/reveal" => vec![("field", s("phone"))],
        "/customers/{id}/churn-reason" => vec![("reason", s("price"))],
        "/customers/{id}/consents" => vec![("channel", s("email")), ("granted", s("false")), ("source", s("电话"))],
        "/maintenance/tasks/{id}/appointment" => vec![("at", s("2026-11-25 10:00"))],
        "/action-items/{id}/status" => vec![("status", s("done"))],
        "/tickets/new" => vec![
            ("type", s("consultation")),
            ("channel", s("phone")),
            ("category", s("product")),
            ("customer_id", b["customers"].to_string()),
            ("subject", s("甲方代开")),
            ("description", s("甲方代开的工单")),
        ],
        "/tickets/{id}/action" => vec![("action", s("start"))],
        "/tickets/{id}/revisit" => vec![("note", s("甲方回访"))],
        "/tickets/{id}/escalate" => vec![("reason", s("甲方升级"))],
        "/maintenance/tasks/{id}/record" => vec![("channel", s("phone")), ("summary", s("甲方记录"))],
        _ => Vec::new(),
    }
}

/// Routes whose only purpose is the caller's own session or public pages.
fn skipped(pattern: &str) -> bool {
    matches!(pattern, "/logout" | "/login" | "/api/v1/auth/token")
}

#[tokio::test]
async fn agent_reaches_none_of_another_agents_customers() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = admin_caller(&app).await;
        let at = admin.token.clone().unwrap();
        let ga = group(&app, &at, "甲组").await;
        let gb = group(&app, &at, "乙组").await;
        let (a_id, a) = caller(&app, &at, "agent_a", Role::Agent, Some(ga)).await;
        let (b_id, b) = caller(&app, &at, "agent_b", Role::Agent, Some(gb)).await;
        let bt = b.token.clone().unwrap();
        let atok = a.token.clone().unwrap();

        // B's customer and everything hanging off it, written by B.
        let cb = post_json(
            &app,
            &bt,
            "/api/v1/customers",
            json!({"name": "乙方机密客户", "phone": "139 0000 1111", "email": "secret@yifang.cn", "owner_id": b_id,
                "first_purchase_on": "2026-11-20", "contract_end": "2026-12-20", "stage": "mature"}),
        )
        .await;
        let cb_code = cb["code"].as_str().unwrap().to_string();
        let cb = cb["id"].as_i64().unwrap();
        post_json(&app, &atok, "/api/v1/customers", json!({"name": "甲方自己的客户"})).await;
        let contact = post_json(
            &app,
            &bt,
            &format!("/api/v1/customers/{cb}/contacts"),
            json!({"name": "乙方联系人", "phone": "139 2222 3333"}),
        )
        .await;
        post_json(
            &app,
            &bt,
            &format!("/api/v1/customers/{cb}/orders"),
            json!({"ordered_on": "2026-10-01", "amount": "5000", "product": "乙方专供产品"}),
        )
        .await;
        post_json(
            &app,
            &bt,
            &format!("/api/v1/customers/{cb}/communications"),
            json!({"channel": "phone", "direction": "outbound", "purpose": "乙方回访", "summary": "乙方沟通纪要",
                "action_items": [{"content": "乙方待办事项", "due": "2026-11-30", "owner_id": b_id}]}),
        )
        .await;
        let items: Value = app.call(Method::GET, "/api/v1/action-items", Some(&bt), None).await.json().await.unwrap();
        let item = items[0]["id"].as_i64().expect("B's action item");
        let ticket = post_json(
            &app,
            &bt,
            "/api/v1/tickets",
            json!({"type": "consultation", "channel": "phone", "category": "product", "customer_id": cb,
                "subject": "乙方工单主题", "description": "乙方工单描述"}),
        )
        .await;
        let complaint = post_json(
            &app,
            &bt,
            "/api/v1/complaints",
            json!({"customer_id": cb, "channel": "phone", "category": "product", "demand_type": "exchange",
                "subject": "乙方投诉主题", "description": "乙方投诉描述"}),
        )
        .await;
        // Maintenance tasks for every customer (B's included).
        let (s, v) = json_of(app.call(Method::POST, "/api/v1/maintenance/generate", Some(&at), None).await).await;
        assert_eq!(s, 200, "[{e}] {v}");
        let tasks: Value =
            app.call(Method::GET, "/api/v1/maintenance/tasks", Some(&bt), None).await.json().await.unwrap();
        let task = tasks["items"][0]["id"].as_i64().expect("a maintenance task of B's customer");
        let ids: BTreeMap<&str, i64> = [
            ("customers", cb),
            ("contacts", contact["id"].as_i64().unwrap()),
            ("tasks", task),
            ("action-items", item),
            ("tickets", ticket["id"].as_i64().unwrap()),
            ("complaints", complaint["id"].as_i64().unwrap()),
        ]
        .into_iter()
        .collect();
        let secrets = [
            "乙方机密客户".to_string(),
            cb_code.clone(),
            "乙方联系人".into(),
            "乙方专供产品".into(),
            "乙方沟通纪要".into(),
            "乙方待办事项".into(),
            "乙方工单主题".into(),
            "乙方投诉主题".into(),
            "13900001111".into(),
            "139****1111".into(),
            "secret@yifang.cn".into(),
            "13922223333".into(),
        ];
        let leaks =
            |body: &str| -> Vec<String> { secrets.iter().filter(|s| body.contains(s.as_str())).cloned().collect() };
        // A search page shows its own query back: any other secret is a hit.
        let leaks_besides = |body: &str, q: &str| -> Vec<String> {
            secrets.iter().filter(|s| s.as_str() != q && body.contains(s.as_str())).cloned().collect()
        };

        // Tables that a plain read changes (sessions touched on use) are
        // not what a refused write may leave alone; find them.
        let everything = BTreeSet::new();
        let s0 = full_snapshot(&app, &everything).await;
        send(&app, &a, "GET", "/api/v1/me", None, &[]).await;
        send(&app, &a, "GET", "/customers", None, &[]).await;
        let volatile: BTreeSet<String> = changed(&s0, &full_snapshot(&app, &everything).await).into_iter().collect();
        assert!(
            volatile.iter().all(|t| t.contains("session") || t.contains("token")),
            "[{e}] reads changed {volatile:?}"
        );

        let mut wrong = Vec::new();
        // Searches and lookups by name, code, phone and email.
        for raw in ["乙方机密客户", cb_code.as_str(), "13900001111", "secret@yifang.cn", "13922223333", "乙方工单主题"]
        {
            let q = urlencode(raw);
            for path in [
                format!("/api/v1/customers?q={q}"),
                format!("/api/v1/customers/export?q={q}"),
                format!("/customers?q={q}"),
                format!("/customers/export?q={q}"),
                format!("/api/v1/tickets?q={q}"),
                format!("/tickets?q={q}"),
                format!("/api/v1/complaints?q={q}"),
                format!("/complaints?q={q}"),
            ] {
                let (status, _, body) = send(&app, &a, "GET", &path, None, &[]).await;
                let l = leaks_besides(&body, raw);
                if !l.is_empty() || status.is_server_error() {
                    wrong.push(format!("GET {path}: {status} shows {l:?}"));
                }
            }
        }
        // Ticket and complaint by B's customer code.
        for (path, body) in [
            (
                "/api/v1/tickets",
                json!({"type": "consultation", "channel": "phone", "category": "product", "customer_code": cb_code,
                    "subject": "甲方代开", "description": "按编号"}),
            ),
            (
                "/api/v1/complaints",
                json!({"customer_code": cb_code, "channel": "phone", "category": "product", "demand_type": "exchange",
                    "subject": "甲方代登记", "description": "按编号"}),
            ),
        ] {
            let before = full_snapshot(&app, &volatile).await;
            let (status, _, text) = send(&app, &a, "POST", path, Some(&body), &[]).await;
            let diff = changed(&before, &full_snapshot(&app, &volatile).await);
            if status.is_success() || !diff.is_empty() || !leaks(&text).is_empty() {
                wrong.push(format!("POST {path} by B's code: {status} changed {diff:?} {text:.200}"));
            }
        }

        // Every route, with B's ids in its path and B's records in its body.
        for (method, pattern) in ordered(router_routes(&app)) {
            if skipped(&pattern) {
                continue;
            }
            let path = fill(&pattern, &ids);
            let about_b = path != pattern.replace("{id}", "999999") && pattern.contains("{id}");
            let body = api_body(&method, &pattern, &ids, a_id);
            let form = page_form(&pattern, &ids);
            let write = method != "GET";
            let names_b = write
                && (body.to_string().contains(&format!(":{cb}")) || form.iter().any(|(_, v)| v == &cb.to_string()));
            let before = if write { Some(full_snapshot(&app, &volatile).await) } else { None };
            let (status, location, text) = send(&app, &a, &method, &path, Some(&body), &form).await;
            let l = leaks(&text);
            if !l.is_empty() {
                wrong.push(format!("{method} {path}: {status} shows {l:?}"));
            }
            if status.is_server_error() {
                wrong.push(format!("{method} {path}: {status} {text:.200}"));
            }
            if about_b && status != StatusCode::NOT_FOUND && status != StatusCode::FORBIDDEN {
                wrong.push(format!("{method} {path} (B's record): {status} {location}, not 404"));
            }
            if names_b && (status.is_success() || status.is_redirection()) {
                wrong.push(format!("{method} {path} naming B's customer: {status} {location}"));
            }
            if let Some(before) = before {
                let refused = status.is_client_error() || about_b || names_b;
                let diff = changed(&before, &full_snapshot(&app, &volatile).await);
                if refused && !diff.is_empty() {
                    wrong.push(format!("{method} {path}: refused with {status} but changed {diff:?}"));
                }
            }
        }
        assert!(wrong.is_empty(), "[{e}] agent A reached agent B's customers:\n{}", wrong.join("\n"));

        // B still sees all of it (the setup was right, so the test can fail).
        let (status, _, body) = send(&app, &b, "GET", &format!("/customers/{cb}"), None, &[]).await;
        assert_eq!(status, StatusCode::OK, "[{e}]");
        assert!(body.contains("乙方机密客户") && body.contains("乙方联系人"), "[{e}] B's 360 page");
        let (_, _, body) = send(&app, &b, "GET", "/api/v1/tickets?q=%E4%B9%99", None, &[]).await;
        assert!(body.contains("乙方工单主题"), "[{e}] B's queue: {body:.300}");
        let (_, _, body) = send(&app, &b, "GET", "/api/v1/customers/export", None, &[]).await;
        assert!(body.contains("乙方机密客户"), "[{e}] B's export");
        // The scope is the group's: a member of B's group sees B's customer;
        // a collaborating department does not.
        let (_, peer) = caller(&app, &at, "agent_b2", Role::Agent, Some(gb)).await;
        let (status, _, _) = send(&app, &peer, "GET", &format!("/api/v1/customers/{cb}"), None, &[]).await;
        assert_eq!(status, StatusCode::OK, "[{e}] B's group peer");
        let (_, collab) = caller(&app, &at, "collab", Role::Collaborator, Some(gb)).await;
        let (status, _, _) = send(&app, &collab, "GET", &format!("/api/v1/customers/{cb}"), None, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "[{e}] a collaborator in B's group");
    }
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)]).unwrap().trim_start_matches('=').to_string()
}

// ---- Request bodies ----

/// Every API operation that takes a JSON body refuses a field it does not
/// know, naming it, and changes nothing.
#[tokio::test]
async fn json_bodies_refuse_unknown_fields() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = admin_caller(&app).await;
        let doc: Value = app.call(Method::GET, "/api/openapi.json", None, None).await.json().await.unwrap();
        let mut wrong = Vec::new();
        for (pattern, ops) in doc["paths"].as_object().unwrap() {
            for (method, op) in ops.as_object().unwrap() {
                let content = &op["requestBody"]["content"];
                if content.get("application/json").is_none() || pattern == "/api/v1/auth/token" {
                    continue;
                }
                let path = fill(pattern, &BTreeMap::new());
                let before = app.snapshot().await;
                let body = json!({"zz_not_a_field": 1});
                let (status, _, text) = send(&app, &admin, &method.to_uppercase(), &path, Some(&body), &[]).await;
                let named = text.contains("zz_not_a_field");
                let refused = status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST;
                // The body is read before the handler runs: no 404 first.
                if !(refused && named) {
                    wrong.push(format!("{method} {path}: {status} {text:.200}"));
                }
                if app.snapshot().await != before {
                    wrong.push(format!("{method} {path}: changed the database"));
                }
            }
        }
        // The token endpoint too (public).
        let r = app
            .call(
                Method::POST,
                "/api/v1/auth/token",
                None,
                Some(json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "zz_not_a_field": 1})),
            )
            .await;
        let status = r.status();
        let text = r.text().await.unwrap();
        if !(status.is_client_error() && text.contains("zz_not_a_field")) {
            wrong.push(format!("POST /api/v1/auth/token: {status} {text:.200}"));
        }
        assert!(wrong.is_empty(), "[{e}] bodies with an unknown field:\n{}", wrong.join("\n"));
    }
}

/// Role, password, owner and scope are never set through a general update:
/// the user endpoints are the administrator's; a customer's owner stays in
/// the caller's scope; fields that a body does not have are refused.
#[tokio::test]
async fn no_role_password_owner_or_scope_through_general_updates() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = admin_caller(&app).await;
        let at = admin.token.clone().unwrap();
        let ga = group(&app, &at, "甲组").await;
        let gb = group(&app, &at, "乙组").await;
        let (a_id, a) = caller(&app, &at, "agent_a", Role::Agent, Some(ga)).await;
        let (b_id, _) = caller(&app, &at, "agent_b", Role::Agent, Some(gb)).await;
        let atok = a.token.clone().unwrap();
        let own = post_json(&app, &atok, "/api/v1/customers", json!({"name": "甲方客户"})).await;
        let own = own["id"].as_i64().unwrap();
        let before = full_snapshot(&app, &BTreeSet::new()).await;
        let refusals = [
            // Users: administrators only, the agent's own record included.
            (
                "PUT",
                format!("/api/v1/users/{a_id}"),
                json!({"email": "agent_a@authz.test.cn", "name": "agent_a", "role": "admin", "group_id": ga}),
                403,
                None,
            ),
            (
                "PUT",
                format!("/api/v1/users/{a_id}"),
                json!({"email": "agent_a@authz.test.cn", "name": "agent_a", "role": "agent", "password": "new-password-1"}),
                403,
                None,
            ),
            (
                "POST",
                "/api/v1/users".into(),
                json!({"email": "x@authz.test.cn", "name": "x", "role": "admin", "password": "password-123"}),
                403,
                None,
            ),
            // A customer's owner outside the caller's scope.
            (
                "POST",
                "/api/v1/customers".into(),
                json!({"name": "给乙方的客户", "owner_id": b_id}),
                422,
                Some("owner_id"),
            ),
            (
                "PUT",
                format!("/api/v1/customers/{own}"),
                json!({"name": "甲方客户", "owner_id": b_id}),
                422,
                Some("owner_id"),
            ),
            // Fields a customer does not have.
            (
                "PUT",
                format!("/api/v1/customers/{own}"),
                json!({"name": "甲方客户", "scope": "all"}),
                422,
                Some("scope"),
            ),
            (
                "PUT",
                format!("/api/v1/customers/{own}"),
                json!({"name": "甲方客户", "role": "admin"}),
                422,
                Some("role"),
            ),
            (
                "PUT",
                format!("/api/v1/customers/{own}"),
                json!({"name": "甲方客户", "created_by": b_id}),
                422,
                Some("created_by"),
            ),
            ("POST", "/api/v1/customers".into(), json!({"name": "新客户", "id": 1}), 422, Some("id")),
            // A ticket given to someone else by an agent.
            (
                "POST",
                "/api/v1/tickets".into(),
                json!({"type": "consultation", "channel": "phone", "category": "product", "customer_id": own,
                    "subject": "转给乙方", "description": "转给乙方", "assignee_id": b_id}),
                422,
                Some("assignee_id"),
            ),
        ];
        for (method, path, body, want, field) in refusals {
            let (status, _, text) = send(&app, &a, method, &path, Some(&body), &[]).await;
            assert_eq!(status.as_u16(), want, "[{e}] {method} {path} {body}: {text}");
            if let Some(f) = field {
                let p: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(p["errors"][0]["field"], f, "[{e}] {method} {path}: {text}");
            }
            assert!(changed(&before, &full_snapshot(&app, &BTreeSet::new()).await).is_empty(), "[{e}] {method} {path}");
        }
        // An administrator's edit without a password keeps the password.
        let (s, v) = json_of(
            app.call(
                Method::PUT,
                &format!("/api/v1/users/{a_id}"),
                Some(&at),
                Some(json!({"email": "agent_a@authz.test.cn", "name": "甲", "role": "agent", "group_id": ga})),
            )
            .await,
        )
        .await;
        assert_eq!(s, 200, "[{e}] {v}");
        app.token("agent_a@authz.test.cn", "password-123").await;
        // The agent still has the role they had.
        let me: Value = app.call(Method::GET, "/api/v1/me", Some(&atok), None).await.json().await.unwrap();
        assert_eq!(me["role"], "agent", "[{e}]");
    }
}
