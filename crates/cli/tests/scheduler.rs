//! SPEC T7 with real processes: two `guanxi serve` instances on one
//! PostgreSQL database run every due job exactly once. One instance, with
//! its scheduler off, creates tickets whose SLA deadlines are long past
//! (received 25 days ago), so their jobs wait in the table; then two
//! instances start at once and race for them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use guanxi_store::testing;
use guanxi_store::{Db, DbOptions, DbTarget};
use serde_json::{Value, json};

const KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
const TICKETS: usize = 80;

struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `guanxi serve`; the receiver yields its URL once it listens.
fn spawn(data_dir: &std::path::Path, database_url: &str, poll: &str, name: &str) -> (Server, Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_guanxi"))
        .args(["serve", "--data-dir"])
        .arg(data_dir)
        .args(["--listen", "127.0.0.1:0"])
        .env("DATABASE_URL", database_url)
        .env("GUANXI_DATA_KEY", KEY)
        .env("GUANXI_ADMIN_EMAIL", "ops@test.cn")
        .env("GUANXI_ADMIN_PASSWORD", "ops-password-1")
        // The administrator signs in with the password alone (no TOTP set-up).
        .env("GUANXI_TOTP_REQUIRED_ROLES", "none")
        .env("GUANXI_SCHEDULER_POLL_MS", poll)
        .env("GUANXI_SEGMENT_RECOMPUTE_HOUR", "off")
        .env("GUANXI_MAINTENANCE_HOUR", "off")
        .env("HOSTNAME", name)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.split("serving on ").nth(1) {
                let _ = tx.send(url.trim().to_string());
            }
        }
    });
    (Server { child }, rx)
}

fn url(rx: &Receiver<String>) -> String {
    rx.recv_timeout(Duration::from_secs(120)).expect("the server never said where it listens")
}

async fn post(http: &reqwest::Client, url: &str, token: Option<&str>, body: Value) -> Value {
    let mut r = http.post(url).json(&body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert!(status.is_success(), "{url}: {status} {v}");
    v
}

#[tokio::test]
async fn two_instances_on_one_postgres_run_each_due_job_once() {
    let Some(pg) = testing::engines().unwrap().into_iter().find(|d| matches!(d.target, DbTarget::Postgres(_))) else {
        eprintln!("skipped: no PostgreSQL (set GUANXI_TEST_POSTGRES_URL)");
        return;
    };
    let DbTarget::Postgres(database_url) = pg.target.clone() else { unreachable!() };
    let (dir, _guard) = testing::temp_dir().unwrap();
    let http = reqwest::Client::new();

    // Instance A, its scheduler off, creates the tickets.
    let (a, a_url) = spawn(&dir.join("a"), &database_url, "off", "instance-a");
    let base = url(&a_url);
    let token = post(
        &http,
        &format!("{base}/api/v1/auth/token"),
        None,
        json!({"email": "ops@test.cn", "password": "ops-password-1"}),
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let team =
        post(&http, &format!("{base}/api/v1/groups"), Some(&token), json!({"name": "一线客服组", "kind": "team"}))
            .await;
    let customer =
        post(&http, &format!("{base}/api/v1/customers"), Some(&token), json!({"name": "武汉恒通物流"})).await;
    let received = jiff::Timestamp::from_second(
        i64::try_from(std::time::UNIX_EPOCH.elapsed().unwrap().as_secs()).unwrap() - 25 * 24 * 3600,
    )
    .unwrap();
    let mut ids = Vec::new();
    for i in 0..TICKETS {
        let t = post(
            &http,
            &format!("{base}/api/v1/tickets"),
            Some(&token),
            json!({"type": "consultation", "channel": "email", "category": "service", "priority": "low",
                "customer_id": customer["id"], "group_id": team["id"], "subject": format!("积压工单 {i}"),
                "received_at": received.to_string(), "external_id": format!("EXT-{i}")}),
        )
        .await;
        ids.push(t["id"].as_i64().unwrap());
    }
    drop(a);

    let db = Db::open(&pg.target, &DbOptions { pool_size: 1, ..DbOptions::default() }).unwrap();
    // SLA jobs due now and not run (a run re-arms the job for the ticket's
    // next SLA instant, e.g. the escalation's 30-minute customer update).
    let pending = |db: &Db| {
        let db = db.clone();
        let now = i64::try_from(std::time::UNIX_EPOCH.elapsed().unwrap().as_millis()).unwrap();
        async move {
            db.read(move |c| {
                c.scalar::<i64>(
                    "SELECT COUNT(*) FROM jobs WHERE kind = 'ticket.sla' AND done_at IS NULL AND due_at <= $1",
                    guanxi_store::args![now],
                )
            })
            .await
            .unwrap()
        }
    };
    assert_eq!(pending(&db).await, TICKETS as i64, "every ticket's SLA job waits, due, while no scheduler runs");

    // Two instances start together and race for the due jobs.
    let (b, b_url) = spawn(&dir.join("b"), &database_url, "20", "instance-b");
    let (c, c_url) = spawn(&dir.join("c"), &database_url, "20", "instance-c");
    let (_b, _c) = (url(&b_url), url(&c_url));
    let deadline = Instant::now() + Duration::from_secs(90);
    while pending(&db).await > 0 {
        if Instant::now() > deadline {
            let rows = db.read(|c| c.query("SELECT * FROM jobs ORDER BY id LIMIT 5", &[])).await.unwrap();
            panic!("the due jobs were not all run: {rows:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let any double run that might still be under way finish before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop((b, c));

    let jobs = db
        .read(|c| {
            c.query("SELECT ref_key, claims, runs, lease_owner FROM jobs WHERE kind = 'ticket.sla' ORDER BY id", &[])?
                .iter()
                .map(|r| Ok((r.get::<String>(0)?, r.get::<i64>(1)?, r.get::<i64>(2)?, r.get::<Option<String>>(3)?)))
                .collect::<guanxi_store::Result<Vec<_>>>()
        })
        .await
        .unwrap();
    assert_eq!(jobs.len(), TICKETS);
    let mut owners: BTreeMap<String, usize> = BTreeMap::new();
    for (key, claims, runs, owner) in &jobs {
        assert_eq!((*claims, *runs), (1, 1), "job of ticket {key} was leased {claims} and run {runs} times");
        *owners.entry(owner.clone().unwrap_or_default()).or_default() += 1;
    }
    let names: BTreeSet<String> = owners.keys().map(|o| o.split('-').take(2).collect::<Vec<_>>().join("-")).collect();
    assert_eq!(
        names,
        BTreeSet::from(["instance-b".to_string(), "instance-c".to_string()]),
        "both instances took jobs: {owners:?}"
    );
    eprintln!("jobs run per instance: {owners:?}");

    // The effects, once each: two breaches (first response, resolution)
    // and one escalation per ticket, on the history and the timeline.
    let counts = db
        .read(|c| {
            let events: Vec<(i64, String, i64)> = c
                .query(
                    "SELECT ticket_id, kind, COUNT(*) FROM ticket_events
                     WHERE kind IN ('sla_breach', 'sla_warning', 'escalated') GROUP BY ticket_id, kind",
                    &[],
                )?
                .iter()
                .map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .collect::<guanxi_store::Result<_>>()?;
            let timeline: i64 = c.scalar(
                "SELECT COUNT(*) FROM timeline WHERE kind = 'ticket' AND title LIKE 'ticket.sla_breach.%'",
                &[],
            )?;
            Ok((events, timeline))
        })
        .await
        .unwrap();
    let (events, timeline) = counts;
    for id in &ids {
        let n = |kind: &str| events.iter().find(|(t, k, _)| t == id && k == kind).map_or(0, |e| e.2);
        assert_eq!((n("sla_breach"), n("sla_warning"), n("escalated")), (2, 0, 1), "ticket {id}");
    }
    assert_eq!(timeline, 2 * TICKETS as i64, "each breach on the timeline once");
}
