//! Crash durability (SPEC S5) and online backup/restore, against the real
//! binary on both engines.
//!
//! The kill-9 test streams acknowledged writes (customers, tickets,
//! communication records) from several concurrent clients, SIGKILLs the
//! server at a random moment, and then opens the database itself to prove
//! that every acknowledged write is there and that nothing is half-written:
//! foreign keys hold, every ticket has its history, audit and timeline rows,
//! the per-day ticket counters match the numbers handed out, and the name
//! search index matches the names.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use guanxi_store::{Db, DbOptions, DbTarget, Engine, args, testing};
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data_dir: &Path, database_url: Option<&str>) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_guanxi"));
    cmd.args(["serve", "--data-dir"])
        .arg(data_dir)
        .args(["--listen", "127.0.0.1:0"])
        .env("GUANXI_ADMIN_EMAIL", "ops@test.cn")
        .env("GUANXI_ADMIN_PASSWORD", "ops-password-1")
        .env("RUST_LOG", "error")
        // The operator's API token without a second factor.
        .env("GUANXI_TOTP_REQUIRED_ROLES", "none")
        .env_remove("DATABASE_URL")
        .env_remove("GUANXI_DATA_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(u) = database_url {
        cmd.env("DATABASE_URL", u);
    }
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.split("serving on ").nth(1) {
                let _ = tx.send(url.trim().to_string());
            }
        }
    });
    let url = rx.recv_timeout(Duration::from_secs(120)).expect("the server never said where it listens");
    Server { child, url }
}

fn database_url(db: &testing::TestDb) -> Option<String> {
    match &db.target {
        DbTarget::Postgres(u) => Some(u.clone()),
        DbTarget::Sqlite(_) => None,
    }
}

fn target_of(db: &testing::TestDb, data_dir: &Path) -> DbTarget {
    match &db.target {
        DbTarget::Postgres(u) => DbTarget::Postgres(u.clone()),
        DbTarget::Sqlite(_) => DbTarget::Sqlite(data_dir.join("guanxi.sqlite3")),
    }
}

async fn healthy(http: &reqwest::Client, url: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match http.get(format!("{url}/healthz")).send().await {
            Ok(r) if r.status() == 200 => return,
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(20)).await,
            other => panic!("healthz never answered: {other:?}"),
        }
    }
}

async fn token(http: &reqwest::Client, url: &str) -> String {
    let r = http
        .post(format!("{url}/api/v1/auth/token"))
        .json(&json!({"email": "ops@test.cn", "password": "ops-password-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string()
}

/// The writes the server acknowledged (answered 201 to).
#[derive(Debug, Default, Clone)]
struct Acked {
    customers: Vec<(i64, String)>,
    tickets: Vec<(i64, String)>,
    communications: Vec<i64>,
}

async fn create_customer(http: &reqwest::Client, url: &str, token: &str, name: &str) -> Option<i64> {
    let r = http
        .post(format!("{url}/api/v1/customers"))
        .bearer_auth(token)
        .json(&json!({"name": name, "phone": "13712345678"}))
        .send()
        .await
        .ok()?;
    if r.status() != 201 {
        return None;
    }
    r.json::<Value>().await.ok()?["id"].as_i64()
}

/// One client: writes until the server stops answering. Only a 201 with
/// its body read counts as acknowledged.
async fn stream_writes(url: String, token: String, customers: Vec<i64>, client: u64, acked: Arc<Mutex<Acked>>) {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(client);
    for n in 0u64.. {
        let customer = customers[rng.random_range(0..customers.len())];
        let pick = rng.random_range(0..10);
        if pick < 5 {
            let r = http
                .post(format!("{url}/api/v1/tickets"))
                .bearer_auth(&token)
                .json(&json!({
                    "type": "consultation", "channel": "phone", "category": "product",
                    "customer_id": customer, "subject": format!("设备报修 {client}-{n}"),
                    "description": "客户来电询问设备保养周期"
                }))
                .send()
                .await;
            let Ok(r) = r else { return };
            assert!(r.status() == 201 || r.status().is_server_error(), "ticket create answered {}", r.status());
            let Ok(body) = r.json::<Value>().await else { return };
            if let (Some(id), Some(number)) = (body["id"].as_i64(), body["number"].as_str()) {
                acked.lock().unwrap().tickets.push((id, number.to_string()));
            }
        } else if pick < 9 {
            let r = http
                .post(format!("{url}/api/v1/customers/{customer}/communications"))
                .bearer_auth(&token)
                .json(&json!({
                    "channel": "wechat", "purpose": "回访", "summary": format!("确认到货情况 {client}-{n}"),
                    "action_items": []
                }))
                .send()
                .await;
            let Ok(r) = r else { return };
            assert!(r.status() == 201 || r.status().is_server_error(), "communication answered {}", r.status());
            let Ok(body) = r.json::<Value>().await else { return };
            if let Some(id) = body["id"].as_i64() {
                acked.lock().unwrap().communications.push(id);
            }
        } else {
            let name = format!("江苏恒达精密机械 {client}号{n}");
            match create_customer(&http, &url, &token, &name).await {
                Some(id) => acked.lock().unwrap().customers.push((id, name)),
                None => return,
            }
        }
    }
}

async fn count(db: &Db, sql: &'static str) -> i64 {
    db.read(move |c| c.scalar::<i64>(sql, &[])).await.unwrap()
}

/// Every acknowledged write is present and the database is consistent.
async fn check(db: &Db, acked: &Acked, max_unacked: usize) {
    let engine = db.engine();
    if engine == Engine::Sqlite {
        let ok: String = db.read(|c| c.scalar("PRAGMA integrity_check", &[])).await.unwrap();
        assert_eq!(ok, "ok");
        let broken = db.read(|c| c.query("PRAGMA foreign_key_check", &[])).await.unwrap();
        assert!(broken.is_empty(), "foreign keys broken: {broken:?}");
    }
    let a = acked.clone();
    db.read(move |c| {
        for (id, number) in &a.tickets {
            let got: Option<String> =
                c.query_opt("SELECT number FROM tickets WHERE id = $1", args![*id])?.map(|r| r.get(0)).transpose()?;
            assert_eq!(got.as_deref(), Some(number.as_str()), "acknowledged ticket {id} {number} lost");
        }
        for id in &a.communications {
            let n: i64 = c.scalar("SELECT COUNT(*) FROM communications WHERE id = $1", args![*id])?;
            assert_eq!(n, 1, "acknowledged communication {id} lost");
        }
        for (id, name) in &a.customers {
            let got: Option<String> =
                c.query_opt("SELECT name FROM customers WHERE id = $1", args![*id])?.map(|r| r.get(0)).transpose()?;
            assert_eq!(got.as_deref(), Some(name.as_str()), "acknowledged customer {id} lost");
        }
        Ok(())
    })
    .await
    .unwrap();
    // Nothing half-written: each ticket with its history, audit entry and
    // timeline entry; each communication and customer with theirs.
    for (what, sql) in [
        (
            "ticket without its created event",
            "SELECT COUNT(*) FROM tickets t WHERE NOT EXISTS (SELECT 1 FROM ticket_events e WHERE e.ticket_id = t.id AND e.kind = 'created')",
        ),
        (
            "ticket without its audit entry",
            "SELECT COUNT(*) FROM tickets t WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.entity = 'ticket' AND a.entity_id = t.id)",
        ),
        (
            "ticket without its timeline entry",
            "SELECT COUNT(*) FROM tickets t WHERE NOT EXISTS (SELECT 1 FROM timeline l WHERE l.kind = 'ticket' AND l.ref_id = t.id AND l.customer_id = t.customer_id)",
        ),
        (
            "communication without its timeline entry",
            "SELECT COUNT(*) FROM communications m WHERE NOT EXISTS (SELECT 1 FROM timeline l WHERE l.kind = 'communication' AND l.ref_id = m.id)",
        ),
        (
            "customer without its audit entry",
            "SELECT COUNT(*) FROM customers k WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.entity = 'customer' AND a.entity_id = k.id)",
        ),
        (
            "customer without name grams",
            "SELECT COUNT(*) FROM customers k WHERE NOT EXISTS (SELECT 1 FROM name_grams g WHERE g.customer_id = k.id)",
        ),
        (
            "gram count that does not match the grams",
            "SELECT COUNT(*) FROM (SELECT gram, COUNT(*) AS n FROM name_grams GROUP BY gram) g LEFT JOIN gram_counts k ON k.gram = g.gram WHERE k.n IS NULL OR k.n <> g.n",
        ),
        (
            "gram count without grams",
            "SELECT COUNT(*) FROM gram_counts k WHERE k.n > 0 AND NOT EXISTS (SELECT 1 FROM name_grams g WHERE g.gram = k.gram)",
        ),
        (
            "ticket event without its ticket",
            "SELECT COUNT(*) FROM ticket_events e WHERE NOT EXISTS (SELECT 1 FROM tickets t WHERE t.id = e.ticket_id)",
        ),
        (
            "timeline entry without its customer",
            "SELECT COUNT(*) FROM timeline l WHERE NOT EXISTS (SELECT 1 FROM customers k WHERE k.id = l.customer_id)",
        ),
    ] {
        assert_eq!(count(db, sql).await, 0, "{what}");
    }
    // Gapless numbering: each day's counter equals its tickets, numbered 1..n.
    let counters = db
        .read(|c| {
            c.query("SELECT name, value FROM counters WHERE name LIKE 'ticket:%'", &[])?
                .iter()
                .map(|r| Ok((r.get::<String>(0)?, r.get::<i64>(1)?)))
                .collect::<guanxi_store::Result<Vec<_>>>()
        })
        .await
        .unwrap();
    let numbers: Vec<String> =
        db.read(|c| c.query("SELECT number FROM tickets", &[])?.iter().map(|r| r.get(0)).collect()).await.unwrap();
    let mut per_day: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for n in &numbers {
        per_day.entry(n[2..10].to_string()).or_default().push(n[10..].parse().unwrap());
    }
    assert_eq!(counters.len(), per_day.len(), "{counters:?}");
    for (name, value) in counters {
        let mut seqs = per_day.remove(&name["ticket:".len()..]).unwrap_or_default();
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=value).collect::<Vec<_>>(), "ticket numbers of {name}");
    }
    // No phantom writes: at most one unacknowledged write per client and round.
    let tickets = count(db, "SELECT COUNT(*) FROM tickets").await;
    let unacked = usize::try_from(tickets).unwrap() - acked.tickets.len();
    assert!(unacked <= max_unacked, "{unacked} tickets that nobody was told about");
}

fn open(target: &DbTarget) -> Db {
    Db::open(target, &DbOptions { pool_size: 1, ..DbOptions::default() }).unwrap()
}

const CLIENTS: usize = 4;

fn rounds() -> usize {
    std::env::var("GUANXI_KILL_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(20)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_write_survives_kill_9_on_every_engine() {
    let rounds = rounds();
    for db in testing::engines().unwrap() {
        let started = Instant::now();
        let (dir, _guard) = testing::temp_dir().unwrap();
        let url = database_url(&db);
        let target = target_of(&db, &dir);
        let acked = Arc::new(Mutex::new(Acked::default()));
        let http = reqwest::Client::new();
        let (token, customers) = {
            let server = start(&dir, url.as_deref());
            let token = token(&http, &server.url).await;
            let mut customers = Vec::new();
            for name in ["武汉恒通物流", "杭州云杉科技", "成都蜀南茶业"] {
                let id = create_customer(&http, &server.url, &token, name).await.unwrap();
                customers.push(id);
                acked.lock().unwrap().customers.push((id, name.to_string()));
            }
            (token, customers)
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for round in 0..rounds {
            let mut server = start(&dir, url.as_deref());
            healthy(&http, &server.url).await;
            let clients: Vec<_> = (0..CLIENTS)
                .map(|i| {
                    tokio::spawn(stream_writes(
                        server.url.clone(),
                        token.clone(),
                        customers.clone(),
                        (round * CLIENTS + i) as u64,
                        acked.clone(),
                    ))
                })
                .collect();
            // A random moment in the stream: after some acknowledged writes,
            // plus a few milliseconds.
            let total = |a: &Acked| a.tickets.len() + a.communications.len() + a.customers.len();
            let base = total(&acked.lock().unwrap());
            let wanted = rng.random_range(5..40);
            let deadline = Instant::now() + Duration::from_secs(20);
            while total(&acked.lock().unwrap()) < base + wanted && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..30))).await;
            server.child.kill().unwrap(); // SIGKILL
            server.child.wait().unwrap();
            for c in clients {
                c.await.unwrap();
            }
            let snapshot = acked.lock().unwrap().clone();
            let store = open(&target);
            check(&store, &snapshot, CLIENTS * (round + 1)).await;
            drop(store);
            eprintln!(
                "{} round {round}: {} tickets, {} communications, {} customers acknowledged so far",
                db.name,
                snapshot.tickets.len(),
                snapshot.communications.len(),
                snapshot.customers.len()
            );
        }
        let a = acked.lock().unwrap().clone();
        assert!(
            a.tickets.len() + a.communications.len() >= rounds * 5,
            "the rounds were too short to test anything: {a:?}"
        );
        eprintln!("{}: {rounds} rounds in {:?}", db.name, started.elapsed());
    }
}

fn guanxi(args: &[&str], data_dir: &Path, database_url: Option<&str>) -> Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_guanxi"));
    cmd.args(args).arg("--json").arg("--data-dir").arg(data_dir).env("RUST_LOG", "error").env_remove("DATABASE_URL");
    if let Some(u) = database_url {
        cmd.env("DATABASE_URL", u);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "guanxi {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Rows per table of a backup or restore report.
fn tables(report: &Value) -> BTreeMap<String, i64> {
    report["tables"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_i64().unwrap())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_writing_restores_a_consistent_prefix_on_every_engine() {
    for db in testing::engines().unwrap() {
        let (dir, _guard) = testing::temp_dir().unwrap();
        let url = database_url(&db);
        let http = reqwest::Client::new();
        let server = start(&dir, url.as_deref());
        let token = token(&http, &server.url).await;
        let acked = Arc::new(Mutex::new(Acked::default()));
        let mut customers = Vec::new();
        for name in ["武汉恒通物流", "杭州云杉科技"] {
            let id = create_customer(&http, &server.url, &token, name).await.unwrap();
            customers.push(id);
            acked.lock().unwrap().customers.push((id, name.to_string()));
        }
        let clients: Vec<_> = (0..CLIENTS as u64)
            .map(|i| {
                tokio::spawn(stream_writes(server.url.clone(), token.clone(), customers.clone(), i, acked.clone()))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(600)).await;
        let before = acked.lock().unwrap().clone();
        let file = dir.join("backup.guanxi");
        let (d, u, f) = (dir.clone(), url.clone(), file.clone());
        let backup = tokio::task::spawn_blocking(move || guanxi(&["backup", f.to_str().unwrap()], &d, u.as_deref()))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let after = acked.lock().unwrap().clone();
        drop(server);
        for c in clients {
            c.await.unwrap();
        }
        assert!(after.tickets.len() > before.tickets.len(), "writes went on during the backup");
        let bytes = std::fs::read(&file).unwrap();
        assert!(!bytes.windows(11).any(|w| w == b"13712345678"), "a phone number in clear in the backup");

        // Restore into a fresh place, with the data key kept apart.
        let (dir2, _guard2) = testing::temp_dir().unwrap();
        std::fs::copy(dir.join("data.key"), dir2.join("data.key")).unwrap();
        let fresh = match &db.target {
            DbTarget::Postgres(_) => Some(testing::postgres(&testing::postgres_url().unwrap()).unwrap()),
            DbTarget::Sqlite(_) => None,
        };
        let url2 = fresh.as_ref().and_then(database_url);
        let (d, u, f) = (dir2.clone(), url2.clone(), file.clone());
        let restored = tokio::task::spawn_blocking(move || guanxi(&["restore", f.to_str().unwrap()], &d, u.as_deref()))
            .await
            .unwrap();
        assert_eq!(tables(&restored), tables(&backup));
        let claimed = tables(&backup);
        assert!(claimed["tickets"] > 0 && claimed["audit_log"] > 0, "{claimed:?}");
        // A second restore into the now full place is refused.
        let mut again = Command::new(env!("CARGO_BIN_EXE_guanxi"));
        again.args(["restore", file.to_str().unwrap(), "--data-dir"]).arg(&dir2).env_remove("DATABASE_URL");
        if let Some(u) = &url2 {
            again.env("DATABASE_URL", u);
        }
        let out = again.output().unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("empty"), "{}", String::from_utf8_lossy(&out.stderr));

        let target2 = match &url2 {
            Some(u) => DbTarget::Postgres(u.clone()),
            None => DbTarget::Sqlite(dir2.join("guanxi.sqlite3")),
        };
        {
            let store = open(&target2);
            for (table, n) in &claimed {
                let sql = format!("SELECT COUNT(*) FROM {table}");
                let got = store.read(move |c| c.scalar::<i64>(&sql, &[])).await.unwrap();
                assert_eq!(got, *n, "{table}: the backup claims {n} rows");
            }
            // Everything acknowledged before the backup began, nothing after the end.
            check(&store, &before, usize::MAX).await;
            let tickets = count(&store, "SELECT COUNT(*) FROM tickets").await;
            assert!(usize::try_from(tickets).unwrap() <= after.tickets.len() + CLIENTS);
        }

        // A server on the restored database: the old token, personal data
        // readable with the key, and new writes numbered after the old.
        let server = start(&dir2, url2.as_deref());
        let r = http
            .post(format!("{}/api/v1/customers/{}/reveal", server.url, customers[0]))
            .bearer_auth(&token)
            .json(&json!({"field": "phone"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap()["value"], "13712345678");
        let id = create_customer(&http, &server.url, &token, "南京紫金文具").await.unwrap();
        let max_before = after.customers.iter().map(|(id, _)| *id).max().unwrap();
        assert!(id > customers[1], "{id} {max_before}");
        let r = http
            .post(format!("{}/api/v1/tickets", server.url))
            .bearer_auth(&token)
            .json(&json!({"type": "consultation", "channel": "phone", "category": "product",
                "customer_id": id, "subject": "恢复后的第一张工单", "description": "测试"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        drop(server);
        let store = open(&target2);
        check(&store, &before, usize::MAX).await;
        drop(fresh);
    }
}
