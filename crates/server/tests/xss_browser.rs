//! Stored XSS (SPEC S4, issue 10): 36 hostile payloads — script tags, event
//! handlers, javascript: and data: URLs, svg/onload, srcdoc iframes,
//! attribute and element breakouts, template-ish `{{…}}`, markdown links —
//! are stored through the API in customer fields, ticket subjects,
//! descriptions and replies, complaint text and knowledge-base articles;
//! then every page that shows them is opened in real Chromium. On each page
//! no payload ran (none set `window.__xss` or opened a dialog), none became
//! markup (no element carries the `data-xss` attribute every payload's
//! markup has, no javascript: link or frame), and the text is shown as
//! typed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use guanxi_store::testing;
use reqwest::Method;
use serde_json::{Value, json};
use support::app::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp};
use support::webdriver::Browser;

/// `{n}` is the payload's number; when one runs it sets `top.__xss`.
const PAYLOADS: &[&str] = &[
    "<script>top.__xss={n}</script>",
    "<img src=x onerror=\"top.__xss={n}\" data-xss={n}>",
    "<svg onload=\"top.__xss={n}\" data-xss={n}>",
    "<svg><script>top.__xss={n}</script></svg>",
    "<iframe srcdoc=\"<script>top.__xss={n}</script>\" data-xss={n}></iframe>",
    "<iframe src=\"javascript:top.__xss={n}\" data-xss={n}></iframe>",
    "<a href=\"javascript:top.__xss={n}\" data-xss={n}>click me</a>",
    "javascript:top.__xss={n}",
    "\"><img src=x onerror=\"top.__xss={n}\" data-xss={n}>",
    "'><img src=x onerror='top.__xss={n}' data-xss={n}>",
    "\" onmouseover=\"top.__xss={n}\" data-xss=\"{n}",
    "' onfocus='top.__xss={n}' autofocus data-xss='{n}",
    "</textarea><img src=x onerror=\"top.__xss={n}\" data-xss={n}>",
    "</title><img src=x onerror=\"top.__xss={n}\" data-xss={n}>",
    "</script><img src=x onerror=\"top.__xss={n}\" data-xss={n}>",
    "<body onload=\"top.__xss={n}\" data-xss={n}>",
    "<details open ontoggle=\"top.__xss={n}\" data-xss={n}>",
    "<input autofocus onfocus=\"top.__xss={n}\" data-xss={n}>",
    "<video><source onerror=\"top.__xss={n}\" data-xss={n}></video>",
    "<math><mtext><table><mglyph><style><img src=x onerror=\"top.__xss={n}\" data-xss={n}>",
    "<object data=\"javascript:top.__xss={n}\" data-xss={n}></object>",
    "<embed src=\"javascript:top.__xss={n}\" data-xss={n}>",
    "<marquee onstart=\"top.__xss={n}\" data-xss={n}>m</marquee>",
    "{{constructor.constructor('top.__xss={n}')()}}",
    "{{ 7*7 }} ${7*7} <%= 7*7 %> {% raw %}#{n}",
    "[click](javascript:top.__xss={n}) ![x](javascript:top.__xss={n})",
    "<a href=\"data:text/html,<script>top.__xss={n}</script>\" data-xss={n}>d</a>",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:top.__xss={n}\" data-xss={n}>",
    "<form action=\"javascript:top.__xss={n}\" data-xss={n}><button>go</button></form>",
    "&lt;img src=x onerror=top.__xss={n} data-xss={n}&gt;",
    "<scr<script>ipt>top.__xss={n}</scr</script>ipt>",
    "<IMG SRC=x OnErRoR=\"top.__xss={n}\" DATA-XSS={n}>",
    "\\u003cimg src=x onerror=top.__xss={n} data-xss={n}\\u003e",
    "</script><script>top.__xss={n}</script>",
    "<img src=x onerror=alert({n}) data-xss={n}>",
    "<style>*{background:url(\"javascript:top.__xss={n}\")}</style><b data-xss={n}>b</b>",
];

fn payload(i: usize) -> String {
    PAYLOADS[i].replace("{n}", &(i + 1).to_string())
}

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let r = app.call(Method::POST, path, Some(token), Some(body.clone())).await;
    let s = r.status();
    let v: Value = r.json().await.unwrap();
    assert!(s.is_success(), "{path}: {s} {v} for {body}");
    v
}

/// What the current page shows of the payloads: whether any ran or
/// became markup, and its text.
async fn check(b: &Browser) -> Value {
    b
        .client
        .execute(
            r#"
            const bad = (el) => ['href', 'src', 'action', 'data', 'formaction']
                .some((a) => /^\s*(javascript|data):/i.test(el.getAttribute(a) || ''));
            const frames = Array.from(document.querySelectorAll('iframe'));
            return {
                ran: typeof window.__xss !== 'undefined' ? String(window.__xss) : null,
                injected: document.querySelectorAll('[data-xss]').length,
                bad_urls: Array.from(document.querySelectorAll('a, iframe, form, object, embed, button')).filter(bad).length,
                frames: frames.length,
                metas: document.querySelectorAll('body meta, head meta[http-equiv]').length,
                text: document.body ? document.body.innerText : '',
            };
            "#,
            vec![],
        )
        .await
        .unwrap()
}

async fn inspect(b: &Browser, path: &str) -> (Value, String) {
    b.goto(path).await;
    // Any dialog a payload opened would be pending now.
    if let Ok(text) = b.client.get_alert_text().await {
        panic!("{path}: a dialog opened: {text}");
    }
    let v = check(b).await;
    let text = v["text"].as_str().unwrap_or("").to_string();
    assert_eq!(v["ran"], Value::Null, "{path}: a payload ran");
    assert_eq!(v["injected"], 0, "{path}: a payload became markup");
    assert_eq!(v["bad_urls"], 0, "{path}: a javascript:/data: URL became a link");
    assert_eq!(v["frames"], 0, "{path}: a frame was injected");
    assert_eq!(v["metas"], 0, "{path}: a meta element was injected");
    (v, text)
}

#[tokio::test]
async fn stored_xss_payloads_never_run_in_chromium() {
    let Some(b) = Browser::start().await else {
        return;
    };
    assert!(PAYLOADS.len() >= 30);
    // The check itself sees a payload that runs and becomes markup (a page
    // outside the application, without its escaping and CSP).
    b.goto(&format!("data:text/html,{}", payload(1).replace('"', "%22"))).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let control = check(&b).await;
    assert_eq!(control["ran"], "2", "the control payload ran: {control}");
    assert_eq!(control["injected"], 1);
    let app = TestApp::spawn(testing::sqlite().unwrap()).await;
    let admin = app.admin_token().await;
    let u = &app.url;

    let mut customers = Vec::new();
    let mut tickets = Vec::new();
    let mut complaints = Vec::new();
    let mut articles = Vec::new();
    for i in 0..PAYLOADS.len() {
        let p = payload(i);
        let name: String = format!("X{} {p}", i + 1).chars().take(100).collect();
        let c = post(
            &app,
            &admin,
            "/api/v1/customers",
            json!({"name": name, "notes": p, "decision_chain": p, "contact_window": p.chars().take(100).collect::<String>(),
                "industry": p.chars().take(50).collect::<String>(), "region": p.chars().take(50).collect::<String>(),
                "tags": ["xss"]}),
        )
        .await;
        let cid = c["id"].as_i64().unwrap();
        customers.push(cid);
        let t = post(
            &app,
            &admin,
            "/api/v1/tickets",
            json!({"type": "consultation", "channel": "phone", "category": "product", "priority": "normal",
                "customer_id": cid, "subject": p, "description": p}),
        )
        .await;
        let tid = t["id"].as_i64().unwrap();
        post(&app, &admin, &format!("/api/v1/tickets/{tid}/messages"), json!({"kind": "reply", "body": p})).await;
        post(&app, &admin, &format!("/api/v1/tickets/{tid}/messages"), json!({"kind": "note", "body": p})).await;
        tickets.push(tid);
        let pc = post(
            &app,
            &admin,
            "/api/v1/complaints",
            json!({"customer_id": cid, "channel": "phone", "category": "product", "demand_type": "refund",
                "subject": p, "description": p}),
        )
        .await;
        complaints.push(pc["id"].as_i64().unwrap());
        let a = post(
            &app,
            &admin,
            "/api/v1/kb/articles",
            json!({"title": p, "body": format!("{p}\n\n{p}"), "category": "solution", "tags": "xss"}),
        )
        .await;
        articles.push(a["id"].as_i64().unwrap());
    }

    b.goto(&format!("{u}/login")).await;
    b.fill("#email", ADMIN_EMAIL).await;
    b.fill("#password", ADMIN_PASSWORD).await;
    b.click("button[type=submit]").await;
    b.wait_for(".topbar").await;

    // The lists and searches, which show many payloads at once.
    let mut seen_lists = String::new();
    for path in [
        "/".to_string(),
        "/customers".to_string(),
        "/customers?q=X1".to_string(),
        "/customers?tag=xss".to_string(),
        "/tickets".to_string(),
        "/tickets?view=all".to_string(),
        "/complaints".to_string(),
        "/complaints/review".to_string(),
        "/kb".to_string(),
        "/kb?q=script".to_string(),
        "/kb?q=img".to_string(),
        "/admin/audit".to_string(),
    ] {
        let (_, text) = inspect(&b, &format!("{u}{path}")).await;
        seen_lists.push_str(&text);
    }
    for i in [0, 7, 23, 35] {
        assert!(seen_lists.contains(&payload(i)), "payload {} not shown in the lists", i + 1);
    }
    b.goto(&format!("{u}/customers")).await;
    b.screenshot("xss-customers").await;

    // Every record's own pages, where each payload is shown in full.
    for i in 0..PAYLOADS.len() {
        let p = payload(i);
        let pages = [
            format!("/customers/{}", customers[i]),
            format!("/customers/{}/edit", customers[i]),
            format!("/tickets/{}", tickets[i]),
            format!("/complaints/{}", complaints[i]),
            format!("/kb/articles/{}", articles[i]),
            format!("/kb/articles/{}/edit", articles[i]),
        ];
        for (k, path) in pages.iter().enumerate() {
            let (_, text) = inspect(&b, &format!("{u}{path}")).await;
            // Shown as typed (edit forms hold it in their fields instead).
            if k != 1 && k != 5 {
                assert!(text.contains(&p), "{path}: payload {} not shown as text: {p}", i + 1);
            }
        }
    }
    b.goto(&format!("{u}/tickets/{}", tickets[1])).await;
    b.screenshot("xss-ticket").await;
    b.close().await;
}
