//! The binary as an operator runs it: `guanxi serve --data-dir D --listen A`
//! with the admin env vars, on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use guanxi_store::DbTarget;
use guanxi_store::testing;
use serde_json::{Value, json};

struct Server {
    child: Child,
    url: String,
    /// What the server wrote on stderr so far (its log).
    log: Arc<Mutex<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data_dir: &std::path::Path, database_url: Option<&str>, extra: &[&str]) -> Server {
    // The administrator signs in with the password alone (no TOTP set-up).
    start_env(data_dir, database_url, extra, &[("GUANXI_TOTP_REQUIRED_ROLES", Some("none"))])
}

/// As [`start`], with environment variables set (`Some`) or removed (`None`).
fn start_env(
    data_dir: &std::path::Path,
    database_url: Option<&str>,
    extra: &[&str],
    vars: &[(&str, Option<&str>)],
) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_guanxi"));
    cmd.args(["serve", "--data-dir"])
        .arg(data_dir)
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .env("GUANXI_ADMIN_EMAIL", "ops@test.cn")
        .env("GUANXI_ADMIN_PASSWORD", "ops-password-1")
        .env("RUST_LOG", "warn")
        .env_remove("DATABASE_URL")
        .env_remove("GUANXI_DATA_KEY")
        .env_remove("GUANXI_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in vars {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    if let Some(u) = database_url {
        cmd.env("DATABASE_URL", u);
    }
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("{line}");
            let mut l = sink.lock().unwrap();
            l.push_str(&line);
            l.push('\n');
        }
    });
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.split("serving on ").nth(1) {
                let _ = tx.send(url.trim().to_string());
            }
        }
    });
    // A cold start includes migrations and the demo load; allow a slow machine.
    let url = rx.recv_timeout(Duration::from_secs(120)).expect("the server never said where it listens");
    Server { child, url, log }
}

/// The status of `POST /api/v1/auth/token` for a password sign-in.
async fn token_status(server: &Server, email: &str, password: &str) -> u16 {
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/token", server.url))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    r.status().as_u16()
}

#[tokio::test]
async fn the_demo_does_not_require_two_factor_unless_told_to() {
    let supervisor = ("chen.jing@demo.guanxi.cn", "guanxi-demo");
    let admin = ("admin@demo.guanxi.cn", "guanxi-demo");
    // --demo, GUANXI_TOTP_REQUIRED_ROLES unset: nobody needs it, and the log says so.
    let (dir, _guard) = testing::temp_dir().unwrap();
    let server = start_env(&dir, None, &["--demo"], &[("GUANXI_TOTP_REQUIRED_ROLES", None)]);
    assert_eq!(token_status(&server, supervisor.0, supervisor.1).await, 200, "the demo supervisor");
    assert_eq!(token_status(&server, admin.0, admin.1).await, 200, "the demo administrator");
    let log = server.log.lock().unwrap().clone();
    assert!(log.contains("WARN") && log.contains("GUANXI_TOTP_REQUIRED_ROLES=admin,supervisor"), "{log}");
    drop(server);
    // Set explicitly, it wins under --demo too: no second factor set up, refused.
    let server = start_env(&dir, None, &["--demo"], &[("GUANXI_TOTP_REQUIRED_ROLES", Some("admin,supervisor"))]);
    assert_eq!(token_status(&server, supervisor.0, supervisor.1).await, 403, "required again");
    assert_eq!(token_status(&server, admin.0, admin.1).await, 403);
    assert!(!server.log.lock().unwrap().contains("GUANXI_TOTP_REQUIRED_ROLES=admin"), "no warning");
    drop(server);
    // Without --demo the default requires it of administrators and supervisors.
    let server = start_env(&dir, None, &[], &[("GUANXI_TOTP_REQUIRED_ROLES", None)]);
    assert_eq!(token_status(&server, supervisor.0, supervisor.1).await, 403, "the default stands");
    assert_eq!(token_status(&server, "ops@test.cn", "ops-password-1").await, 403);
    assert!(!server.log.lock().unwrap().contains("GUANXI_TOTP_REQUIRED_ROLES=admin"), "no warning");
}

async fn exercise(server: &Server) {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match http.get(format!("{}/healthz", server.url)).send().await {
            Ok(r) if r.status() == 200 => break,
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            other => panic!("healthz never answered: {other:?}"),
        }
    }
    let doc: Value = http.get(format!("{}/api/openapi.json", server.url)).send().await.unwrap().json().await.unwrap();
    assert!(doc["paths"]["/api/v1/customers"].is_object());
    let r = http
        .post(format!("{}/api/v1/auth/token", server.url))
        .json(&json!({"email": "ops@test.cn", "password": "ops-password-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let token = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    let r = http
        .post(format!("{}/api/v1/customers", server.url))
        .bearer_auth(&token)
        .json(&json!({"name": "武汉恒通物流", "phone": "13712345678"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let got: Value = http
        .get(format!("{}/api/v1/customers/{id}", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["name"], "武汉恒通物流");
    assert_eq!(got["phone"], "137****5678");
}

#[tokio::test]
async fn serve_answers_health_openapi_token_and_customers_on_every_engine() {
    for db in testing::engines().unwrap() {
        let (dir, _guard) = testing::temp_dir().unwrap();
        let url = match &db.target {
            DbTarget::Postgres(u) => Some(u.clone()),
            DbTarget::Sqlite(_) => None,
        };
        let server = start(&dir, url.as_deref(), &[]);
        exercise(&server).await;
        drop(server);
        // A restart keeps the data and the generated data key.
        let server = start(&dir, url.as_deref(), &[]);
        exercise(&server).await;
    }
}

#[tokio::test]
async fn demo_data_is_loaded_once() {
    let (dir, _guard) = testing::temp_dir().unwrap();
    let server = start(&dir, None, &["--demo"]);
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/api/v1/auth/token", server.url))
        .json(&json!({"email": "chen.jing@demo.guanxi.cn", "password": "guanxi-demo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the demo supervisor can log in");
    let token = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    let list: Value = http
        .get(format!("{}/api/v1/customers?per_page=5", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let total = list["total"].as_i64().unwrap();
    assert!(total >= 300, "{total}");
    assert_eq!(list["items"].as_array().unwrap().len(), 5);
    drop(server);
    let server = start(&dir, None, &["--demo"]);
    let list: Value = http
        .get(format!("{}/api/v1/customers?per_page=1", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"].as_i64().unwrap(), total, "a second --demo adds nothing");
}

#[test]
fn a_wrong_data_key_is_refused_with_a_clear_error() {
    let (dir, _guard) = testing::temp_dir().unwrap();
    drop(start(&dir, None, &[]));
    std::fs::remove_file(dir.join("data.key")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_guanxi"))
        .args(["serve", "--data-dir"])
        .arg(&dir)
        .args(["--listen", "127.0.0.1:0"])
        .env("GUANXI_DATA_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not match"), "{err}");
}

/// The environment of a running process, as the kernel holds it.
#[cfg(target_os = "linux")]
fn environ_of(pid: u32) -> Vec<String> {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    raw.split(|b| *b == 0).map(|v| String::from_utf8_lossy(v).into_owned()).collect()
}

/// `serve` runs with glibc malloc limited to one arena (it executes itself
/// again with `MALLOC_ARENA_MAX=1`, same process id), unless the operator
/// set the variable; other commands are left alone.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[tokio::test]
async fn serve_limits_malloc_arenas_unless_told() {
    let (dir, _guard) = testing::temp_dir().unwrap();
    let none = ("GUANXI_TOTP_REQUIRED_ROLES", Some("none"));
    let server = start_env(&dir, None, &[], &[none, ("MALLOC_ARENA_MAX", None)]);
    assert_eq!(token_status(&server, "ops@test.cn", "ops-password-1").await, 200, "it serves");
    let env = environ_of(server.child.id());
    assert!(env.iter().any(|v| v == "MALLOC_ARENA_MAX=1"), "{env:?}");
    assert!(env.iter().any(|v| v == "GUANXI_ADMIN_EMAIL=ops@test.cn"), "the rest of the environment is kept");
    drop(server);
    let server = start_env(&dir, None, &[], &[none, ("MALLOC_ARENA_MAX", Some("4"))]);
    assert_eq!(token_status(&server, "ops@test.cn", "ops-password-1").await, 200);
    let env = environ_of(server.child.id());
    assert!(env.iter().any(|v| v == "MALLOC_ARENA_MAX=4") && !env.iter().any(|v| v == "MALLOC_ARENA_MAX=1"), "{env:?}");
}
