//! Starts the real server in-process on a random port against a fresh
//! database (SQLite file, or a new PostgreSQL database), with a test clock.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use guanxi_domain::TestClock;
use guanxi_server::config::Config;
use guanxi_server::state::AppState;
use guanxi_store::testing::{self, TempDirGuard, TestDb};
use reqwest::{Client, Method, Response};
use serde_json::{Value, json};

pub const ADMIN_EMAIL: &str = "admin@test.cn";
pub const ADMIN_PASSWORD: &str = "admin-password-1";

pub struct TestApp {
    pub url: String,
    pub http: Client,
    pub clock: Arc<TestClock>,
    pub state: AppState,
    pub engine: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    _db: TestDb,
    _dir: TempDirGuard,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
    }
}

/// One app per engine available (SQLite always, PostgreSQL when configured).
pub async fn apps() -> Vec<TestApp> {
    let mut v = Vec::new();
    for db in testing::engines().unwrap() {
        v.push(TestApp::spawn(db).await);
    }
    v
}

/// As [`apps`], with a configuration changed by `f`.
pub async fn apps_with(f: impl Fn(&mut Config)) -> Vec<TestApp> {
    let mut v = Vec::new();
    for db in testing::engines().unwrap() {
        v.push(TestApp::spawn_with(db, &f).await);
    }
    v
}

impl TestApp {
    pub async fn spawn(db: TestDb) -> TestApp {
        Self::spawn_with(db, |_| {}).await
    }

    pub async fn spawn_with(db: TestDb, f: impl Fn(&mut Config)) -> TestApp {
        let (dir, guard) = testing::temp_dir().unwrap();
        let mut config = Config {
            data_dir: dir,
            admin_email: ADMIN_EMAIL.into(),
            admin_password: Some(ADMIN_PASSWORD.into()),
            database_url: Some(match &db.target {
                guanxi_store::DbTarget::Sqlite(p) => format!("sqlite://{}", p.display()),
                guanxi_store::DbTarget::Postgres(u) => u.clone(),
            }),
            db_pool_size: Some(2),
            // Tests run recomputations themselves.
            segment_recompute_hour: None,
            // Tests run due jobs themselves (guanxi_server::jobs::run_due).
            scheduler_poll_ms: None,
            maintenance_hour: None,
            // Two-factor sign-in is tested on its own (tests/sessions.rs);
            // other tests sign admins in with the password alone.
            totp_required_roles: Vec::new(),
            // Tests move the clock by hours between a user's requests; the
            // idle timeout is tested on its own (tests/sessions.rs), here
            // only the absolute lifetime ends a session.
            session_idle_minutes: 24 * 60,
            ..Config::default()
        };
        f(&mut config);
        let clock = Arc::new(TestClock::new("2026-11-23T02:00:00Z".parse().unwrap()));
        let state = guanxi_server::prepare(config, clock.clone()).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let st = state.clone();
        tokio::spawn(async move {
            guanxi_server::serve_with_listener(st, listener, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        TestApp {
            url: format!("http://{addr}"),
            http: Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
            clock,
            state,
            engine: db.name.clone(),
            shutdown: Some(tx),
            _db: db,
            _dir: guard,
        }
    }

    pub async fn token(&self, email: &str, password: &str) -> String {
        let r = self
            .http
            .post(format!("{}/api/v1/auth/token", self.url))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "[{}] login of {email}", self.engine);
        r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string()
    }

    pub async fn admin_token(&self) -> String {
        self.token(ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Response {
        let mut r = self.http.request(method, format!("{}{path}", self.url));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send().await.unwrap()
    }

    /// Creates a user through the admin API; returns (id, token).
    pub async fn user(&self, admin: &str, email: &str, role: &str, group_id: Option<i64>) -> (i64, String) {
        let r = self
            .call(
                Method::POST,
                "/api/v1/users",
                Some(admin),
                Some(json!({"email": email, "name": email.split('@').next().unwrap(), "role": role, "password": "password-123", "group_id": group_id})),
            )
            .await;
        assert_eq!(r.status(), 201, "[{}] create user {email}", self.engine);
        let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
        (id, self.token(email, "password-123").await)
    }

    /// A fingerprint of every table that a refused request must not change.
    pub async fn snapshot(&self) -> Vec<(String, i64)> {
        let tables =
            ["customers", "customer_tags", "users", "groups", "audit_log", "counters", "settings", "api_tokens"];
        let mut out = Vec::new();
        for t in tables {
            let n: i64 =
                self.state.db.read(move |c| c.scalar(&format!("SELECT COUNT(*) FROM {t}"), &[])).await.unwrap();
            out.push((t.to_string(), n));
        }
        // Full contents of the tables a customer or user write touches.
        for t in ["customers", "customer_tags", "users", "counters", "groups"] {
            let rows =
                self.state.db.read(move |c| c.query(&format!("SELECT * FROM {t} ORDER BY 1, 2"), &[])).await.unwrap();
            out.push((format!("{t}: {rows:?}"), 0));
        }
        out
    }
}

// ---- Pages: a cookie-keeping client, as a browser without JavaScript ----

/// A client that keeps cookies and does not follow redirects.
pub fn browser() -> Client {
    Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// The CSRF token of a page's forms.
pub fn csrf(html: &str) -> String {
    let at = html.find("name=\"_csrf\" value=\"").expect("no CSRF field") + 20;
    html[at..].split('"').next().unwrap().to_string()
}

impl TestApp {
    /// A [`browser`] signed in through the login form.
    pub async fn signed_in(&self, email: &str, password: &str) -> Client {
        let http = browser();
        let r = http
            .post(format!("{}/login", self.url))
            .form(&[("email", email), ("password", password), ("next", "/")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::SEE_OTHER, "[{}] login of {email}", self.engine);
        http
    }

    /// GETs a page: its status and HTML.
    pub async fn page(&self, http: &Client, path: &str) -> (reqwest::StatusCode, String) {
        let r = http.get(format!("{}{path}", self.url)).send().await.unwrap();
        (r.status(), r.text().await.unwrap())
    }
}
