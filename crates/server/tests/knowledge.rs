//! The knowledge base and script library over HTTP on every engine: ranked
//! Chinese search among 10,000 articles (two-character words 退款 and 物流
//! find the right articles first; characters that only appear apart do not
//! match), versions, suggestions from a ticket's text, a script naming an
//! unknown variable refused at save with its name (nothing written), and
//! scripts rendered for a ticket's customer with their use recorded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use guanxi_store::knowledge::{self, ArticleInput};
use reqwest::Method;
use serde_json::{Value, json};
use support::app::{TestApp, apps};

async fn json_of(r: reqwest::Response) -> (u16, Value) {
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// 10,000 articles of ordinary service text; a few hundred mention 退款 or
/// 物流 in passing, and one holds 退 and 款 only apart.
async fn seed_filler(app: &TestApp) {
    let topics = ["发票", "账号", "密码", "安装", "保修", "积分", "会员", "合同", "配送时间", "售后"];
    let verbs = ["如何处理", "常见问题", "操作说明", "注意事项", "办理流程"];
    let now = app.clock_now();
    for chunk in 0..10 {
        let batch: Vec<ArticleInput> = (0..1000)
            .map(|i| {
                let n = chunk * 1000 + i;
                let topic = topics[n % topics.len()];
                let mut body = format!(
                    "关于{topic}的{}：客户可以通过官网、App 或客服热线办理，一般在三个工作日内完成。编号 {n}。",
                    verbs[n % verbs.len()]
                );
                if n % 37 == 0 {
                    body.push_str("如需退款请另见相关文章。");
                }
                if n % 41 == 0 {
                    body.push_str("涉及物流的问题请联系承运商。");
                }
                if n == 4242 {
                    body = "退货后，款项原路返回。".into();
                }
                ArticleInput {
                    title: format!("{topic}{}（{n}）", verbs[n % verbs.len()]),
                    body,
                    category: "solution".into(),
                    tags: vec![topic.to_string()],
                    owner_id: None,
                    review_on: None,
                }
            })
            .collect();
        app.state.db.write(move |c| knowledge::insert_many(c, &batch, None, now)).await.unwrap();
    }
}

trait Now {
    fn clock_now(&self) -> jiff::Timestamp;
}

impl Now for TestApp {
    fn clock_now(&self) -> jiff::Timestamp {
        guanxi_domain::Clock::now(self.clock.as_ref())
    }
}

async fn article(app: &TestApp, token: &str, title: &str, body: &str, category: &str) -> i64 {
    let (s, v) = json_of(
        app.call(
            Method::POST,
            "/api/v1/kb/articles",
            Some(token),
            Some(json!({"title": title, "body": body, "category": category, "tags": "售后, 财务"})),
        )
        .await,
    )
    .await;
    assert_eq!(s, 201, "[{}] article {title}: {v}", app.engine);
    v["id"].as_i64().unwrap()
}

async fn search(app: &TestApp, token: &str, q: &str) -> Vec<Value> {
    let url = format!("/api/v1/kb/search?q={}&limit=20", urlencode(q));
    let (s, v) = json_of(app.call(Method::GET, &url, Some(token), None).await).await;
    assert_eq!(s, 200, "[{}] search {q}: {v}", app.engine);
    v.as_array().unwrap().clone()
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

async fn count(app: &TestApp, table: &'static str) -> i64 {
    app.state.db.read(move |c| c.scalar(&format!("SELECT COUNT(*) FROM {table}"), &[])).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_ranks_the_right_articles_first_among_10000() {
    for app in apps().await {
        let admin = app.admin_token().await;
        seed_filler(&app).await;
        let refund = article(
            &app,
            &admin,
            "如何申请退款",
            "订单签收后 7 天内可申请退款。退款在审核通过后 1–3 个工作日原路退回；退款进度可在订单详情查看。",
            "solution",
        )
        .await;
        let logistics = article(
            &app,
            &admin,
            "物流信息查询与延迟处理",
            "物流信息一般在发货后 24 小时内更新。物流长时间未更新时，请先核对运单号，再联系物流承运商。",
            "sop",
        )
        .await;
        assert_eq!(count(&app, "kb_articles").await, 10_002);

        let hits = search(&app, &admin, "退款").await;
        assert_eq!(hits[0]["article"]["id"], refund, "[{}] 退款 first: {:?}", app.engine, hits[0]);
        assert!(hits.len() > 5, "the filler that mentions 退款 follows");
        assert!(hits.iter().all(|h| h["article"]["body"].as_str().unwrap().contains("退款")
            || h["article"]["title"].as_str().unwrap().contains("退款")));
        assert!(hits[0]["snippet"].as_str().unwrap().contains("退款"));
        assert!(hits[0]["score"].as_f64().unwrap() > hits[1]["score"].as_f64().unwrap());

        let hits = search(&app, &admin, "物流").await;
        assert_eq!(hits[0]["article"]["id"], logistics, "[{}] 物流 first", app.engine);
        let hits = search(&app, &admin, "物流 延迟").await;
        assert_eq!(hits[0]["article"]["id"], logistics);

        // 退 and 款 apart (退货 … 款项) is not 退款.
        let hits = search(&app, &admin, "退款").await;
        assert!(hits.iter().all(|h| !h["article"]["body"].as_str().unwrap().starts_with("退货后")));
        assert!(search(&app, &admin, "量子纠缠").await.is_empty());
        // No query, a bad limit: refused by name.
        let (s, v) = json_of(app.call(Method::GET, "/api/v1/kb/search?q=%20", Some(&admin), None).await).await;
        assert_eq!((s, v["errors"][0]["field"].as_str()), (422, Some("q")));
        let (s, v) = json_of(app.call(Method::GET, "/api/v1/kb/search?q=a&limit=0", Some(&admin), None).await).await;
        assert_eq!((s, v["errors"][0]["field"].as_str()), (422, Some("limit")));

        // A new version re-indexes: the old words no longer find it.
        let (s, v) = json_of(
            app.call(
                Method::PUT,
                &format!("/api/v1/kb/articles/{logistics}"),
                Some(&admin),
                Some(json!({"title": "快递签收说明", "body": "签收时请当面验货。", "category": "sop", "review_on": "2026-12-31"})),
            )
            .await,
        )
        .await;
        assert_eq!((s, v["version"].as_i64()), (200, Some(2)), "{v}");
        assert!(search(&app, &admin, "物流").await.iter().all(|h| h["article"]["id"] != logistics));
        assert_eq!(search(&app, &admin, "验货").await[0]["article"]["id"], logistics);
        let (_, d) =
            json_of(app.call(Method::GET, &format!("/api/v1/kb/articles/{logistics}"), Some(&admin), None).await).await;
        assert_eq!(d["versions"].as_array().unwrap().len(), 2);
        assert_eq!(d["versions"][1]["title"], "物流信息查询与延迟处理");

        // Bad input names each field and writes nothing.
        let before = count(&app, "kb_article_versions").await;
        let (s, v) = json_of(
            app.call(
                Method::POST,
                "/api/v1/kb/articles",
                Some(&admin),
                Some(json!({"title": " ", "body": "x", "category": "nope", "review_on": "31/12/2026"})),
            )
            .await,
        )
        .await;
        assert_eq!(s, 422);
        let fields: Vec<&str> = v["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, vec!["title", "category", "review_on"], "{v}");
        assert_eq!(count(&app, "kb_article_versions").await, before);

        // The list is paged.
        let (s, v) = json_of(app.call(Method::GET, "/api/v1/kb/articles?limit=2", Some(&admin), None).await).await;
        assert_eq!((s, v["items"].as_array().unwrap().len()), (200, 2));
        let next = v["next"].as_i64().unwrap();
        let (_, v2) = json_of(
            app.call(Method::GET, &format!("/api/v1/kb/articles?limit=2&before={next}"), Some(&admin), None).await,
        )
        .await;
        assert!(v2["items"][0]["id"].as_i64().unwrap() < next);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_are_checked_at_save_rendered_for_the_customer_and_their_use_recorded() {
    for app in apps().await {
        let admin = app.admin_token().await;
        let (_agent_id, agent) = app.user(&admin, "li.na@test.cn", "agent", None).await;

        // An unknown variable is refused at save, named, in both languages.
        let before = count(&app, "scripts").await;
        let bad =
            json!({"scenario": "ticket", "step": "opening", "title": "开场", "body": "您好，{{ customer.nmae }}"});
        let (s, v) = json_of(app.call(Method::POST, "/api/v1/scripts", Some(&admin), Some(bad.clone())).await).await;
        assert_eq!(s, 422, "{v}");
        assert_eq!(v["errors"][0]["field"], "body");
        assert!(v["errors"][0]["message"].as_str().unwrap().contains("customer.nmae"), "{v}");
        let r = app
            .http
            .post(format!("{}/api/v1/scripts", app.url))
            .bearer_auth(&admin)
            .header("accept-language", "en")
            .json(&bad)
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        assert!(v["errors"][0]["message"].as_str().unwrap().contains("unknown variable customer.nmae"), "{v}");
        let (s, v) = json_of(
            app.call(
                Method::POST,
                "/api/v1/scripts",
                Some(&admin),
                Some(json!({"scenario": "nope", "step": "hello", "title": "", "body": "{{ x"})),
            )
            .await,
        )
        .await;
        assert_eq!(s, 422);
        let fields: Vec<&str> = v["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, vec!["scenario", "step", "title", "body"]);
        assert_eq!(count(&app, "scripts").await, before, "nothing written");
        // Agents use the library; they do not author it.
        let good = json!({"scenario": "ticket", "step": "value", "persona": "enterprise", "position": 55,
            "title": "产品价值", "body": "{{ customer.name }}正在使用的{{ product }}，本次升级后响应更快。"});
        let (s, _) = json_of(app.call(Method::POST, "/api/v1/scripts", Some(&agent), Some(good.clone())).await).await;
        assert_eq!(s, 403);
        let (s, v) = json_of(app.call(Method::POST, "/api/v1/scripts", Some(&admin), Some(good)).await).await;
        assert_eq!(s, 201, "{v}");
        let product_script = v["id"].as_i64().unwrap();

        // The seeded library covers every step of a ticket.
        let (_, list) =
            json_of(app.call(Method::GET, "/api/v1/scripts?scenario=ticket", Some(&agent), None).await).await;
        let steps: Vec<&str> = list.as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
        for step in ["opening", "identity", "empathy", "discovery", "value", "confirm", "commitment", "closing"] {
            assert!(steps.contains(&step), "{step} in {steps:?}");
        }
        // The maintenance scenarios' scripts are library scripts now.
        let (_, list) =
            json_of(app.call(Method::GET, "/api/v1/scripts?scenario=renewal", Some(&agent), None).await).await;
        assert!(list.as_array().unwrap().iter().any(|s| s["body"].as_str().unwrap().contains("{{ occasion }}")));

        // A ticket of a customer without orders: the product script names the gap.
        let (s, c) = json_of(
            app.call(Method::POST, "/api/v1/customers", Some(&admin), Some(json!({"name": "华光科技有限公司"}))).await,
        )
        .await;
        assert_eq!(s, 201, "{c}");
        let refund = article(&app, &admin, "如何申请退款", "签收后 7 天内可申请退款，退款原路退回。", "solution").await;
        article(&app, &admin, "发票重开流程", "发票抬头错误时可申请重开发票。", "sop").await;
        let (s, t) = json_of(
            app.call(
                Method::POST,
                "/api/v1/tickets",
                Some(&admin),
                Some(json!({"type": "consultation", "channel": "phone", "category": "service", "priority": "normal",
                    "customer_id": c["id"], "subject": "客户要求退款", "description": "商品有划痕，客户申请退款并询问退款多久到账"})),
            )
            .await,
        )
        .await;
        assert_eq!(s, 201, "{t}");
        let tid = t["id"].as_i64().unwrap();
        let number = t["number"].as_str().unwrap();

        let (s, sugg) = json_of(
            app.call(Method::GET, &format!("/api/v1/tickets/{tid}/suggested-articles"), Some(&admin), None).await,
        )
        .await;
        assert_eq!(s, 200);
        assert_eq!(sugg[0]["article"]["id"], refund, "{sugg}");

        let (s, scripts) =
            json_of(app.call(Method::GET, &format!("/api/v1/tickets/{tid}/scripts"), Some(&admin), None).await).await;
        assert_eq!(s, 200, "{scripts}");
        let scripts = scripts.as_array().unwrap();
        let opening = scripts.iter().find(|s| s["title"] == "受理开场").unwrap();
        let text = opening["text"].as_str().unwrap();
        assert!(text.contains("华光科技有限公司") && text.contains(number) && text.contains("管理员"), "{text}");
        assert!(!text.contains("{{"));
        let product = scripts.iter().find(|s| s["id"] == product_script).unwrap();
        assert!(product["text"].is_null(), "never a blank before the customer: {product}");
        assert_eq!(product["missing"], json!(["product"]));

        // Using a script records who used it on which ticket.
        let (s, used) = json_of(
            app.call(
                Method::POST,
                &format!("/api/v1/scripts/{}/uses", opening["id"]),
                Some(&admin),
                Some(json!({"ticket_id": tid})),
            )
            .await,
        )
        .await;
        assert_eq!(s, 201, "{used}");
        assert_eq!(used["text"], opening["text"]);
        let uses: Vec<(i64, Option<i64>)> = app
            .state
            .db
            .read(|c| {
                c.query("SELECT script_id, ticket_id FROM script_uses", &[])?
                    .iter()
                    .map(|r| Ok((r.get(0)?, r.get(1)?)))
                    .collect()
            })
            .await
            .unwrap();
        assert_eq!(uses, vec![(opening["id"].as_i64().unwrap(), Some(tid))]);
        // Not on a ticket the agent cannot see; not on nothing.
        let (s, _) = json_of(
            app.call(
                Method::POST,
                &format!("/api/v1/scripts/{}/uses", opening["id"]),
                Some(&agent),
                Some(json!({"ticket_id": tid})),
            )
            .await,
        )
        .await;
        assert_eq!(s, 404);
        let (s, _) = json_of(
            app.call(Method::POST, &format!("/api/v1/scripts/{}/uses", opening["id"]), Some(&agent), Some(json!({})))
                .await,
        )
        .await;
        assert_eq!(s, 422);
        assert_eq!(count(&app, "script_uses").await, 1);
    }
}

/// `guanxi serve --demo` fills the knowledge base with useful Chinese
/// articles: 退款, 物流, 发票, 保修 and 密码 each find their article first.
#[tokio::test]
async fn the_demo_knowledge_base_answers_common_questions() {
    for app in apps().await {
        let opts = guanxi_server::demo::DemoOptions { seed: 7, customers: 5 };
        guanxi_server::load_demo(&app.state, &opts).await.unwrap();
        let admin = app.admin_token().await;
        assert!(count(&app, "kb_articles").await >= 15, "[{}] demo articles", app.engine);
        for (q, first) in [("退款", "退款"), ("物流", "物流"), ("发票", "发票"), ("保修", "保修"), ("密码", "密码")]
        {
            let hits = search(&app, &admin, q).await;
            assert!(!hits.is_empty(), "[{}] {q}: no hit", app.engine);
            let title = hits[0]["article"]["title"].as_str().unwrap();
            assert!(title.contains(first), "[{}] {q}: first hit {title}", app.engine);
        }
    }
}
