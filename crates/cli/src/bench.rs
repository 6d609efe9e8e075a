//! `guanxi bench`: generate the deterministic benchmark data set, and drive
//! a running server over HTTP from this separate process with a fixed number
//! of connections, reporting throughput and latency percentiles per scenario.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;

pub const SCENARIOS: &[&str] = &[
    "health",
    "search-phone",
    "search-phone-long",
    "search-name",
    "search-code",
    "customer-list",
    "customer-360",
    "ticket-create",
    "ticket-queue",
    "complaint-register",
    "report-monthly",
    "report-monitoring",
    "dashboard",
];

/// Knowledge-base scenarios (SPEC K1), run when named: they need the
/// articles of `guanxi bench articles` (and the tickets of `bench tickets`).
pub const KB_SCENARIOS: &[&str] = &["kb-search", "kb-suggest"];

/// What agents search the knowledge base for.
const KB_QUERIES: &[&str] = &[
    "退款",
    "物流",
    "发票",
    "保修",
    "密码",
    "安装",
    "积分",
    "续约",
    "对账",
    "导出",
    "退款 到账",
    "物流 延迟",
    "发票 红冲",
];

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// One server, or several instances behind one database: connection
    /// `i` talks to `urls[i % urls.len()]` (a tiny round robin).
    pub urls: Vec<String>,
    pub scenarios: Vec<String>,
    pub duration: Duration,
    pub connections: usize,
    pub email: String,
    pub password: String,
    pub seed: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    pub scenario: String,
    pub connections: usize,
    pub requests: usize,
    pub errors: usize,
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// A tiny deterministic generator (splitmix64) so that every connection
/// issues a reproducible sequence of requests without shared state.
pub struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

const NAME_QUERIES: &[&str] =
    &["明远科技", "星辰机械", "青禾食品", "华信物流", "博瑞", "致远电子商务", "恒通", "云帆新材料"];

fn path_for(scenario: &str, rng: &mut Mix, customers: u64) -> String {
    match scenario {
        "health" => "/healthz".into(),
        "search-phone" => format!("/api/v1/customers?q={:04}", rng.below(10_000)),
        // Seven digits: found by the last four, each candidate decrypted and checked.
        "search-phone-long" => format!("/api/v1/customers?q={:07}", rng.below(10_000_000)),
        "search-name" => {
            let q = NAME_QUERIES[usize::try_from(rng.below(NAME_QUERIES.len() as u64)).unwrap_or(0)];
            format!(
                "/api/v1/customers?q={}",
                serde_urlencoded::to_string([("", q)]).unwrap_or_default().trim_start_matches('=')
            )
        }
        "search-code" => format!("/api/v1/customers?q=KH{:06}", 1 + rng.below(customers.max(1))),
        "kb-search" => {
            let q = KB_QUERIES[usize::try_from(rng.below(KB_QUERIES.len() as u64)).unwrap_or(0)];
            format!(
                "/api/v1/kb/search?q={}&limit=10",
                serde_urlencoded::to_string([("", q)]).unwrap_or_default().trim_start_matches('=')
            )
        }
        // Suggestions from a ticket's text (about two bench tickets per customer).
        "kb-suggest" => format!("/api/v1/tickets/{}/suggested-articles", 1 + rng.below(customers.max(1) * 2)),
        "customer-list" => format!("/api/v1/customers?page={}", 1 + rng.below(40)),
        // The monthly problem analysis report (问题分析报告, SPEC R3) of last
        // month, and the monitoring table of every KPI over that month.
        "report-monthly" => format!("/reports/problems?month={}", last_month().strftime("%Y-%m")),
        "report-monitoring" => {
            let m = last_month();
            format!("/reports/monitoring?by=month&from={m}&to={}", m.last_of_month())
        }
        // The supervisors' dashboard (SPEC R2) over its default range.
        "dashboard" => "/reports".into(),
        _ => format!("/customers/{}", 1 + rng.below(customers.max(1))),
    }
}

/// The first day of last month (the system's local time): a whole month of
/// bench tickets, which are dated back from the day they were generated.
fn last_month() -> jiff::civil::Date {
    use guanxi_domain::clock::Clock as _;
    let now = guanxi_domain::clock::SystemClock.now();
    let today = guanxi_domain::clock::local_date(now, &jiff::tz::TimeZone::system());
    today.first_of_month().checked_sub(jiff::Span::new().months(1)).unwrap_or(today)
}

/// Scenarios that request a page (with the session cookie), not the API.
fn is_page(scenario: &str) -> bool {
    matches!(scenario, "customer-360" | "report-monthly" | "report-monitoring" | "dashboard")
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let idx = (((sorted.len() as f64) * p).ceil() as usize).saturating_sub(1).min(sorted.len() - 1);
    #[allow(clippy::cast_precision_loss)]
    let ms = sorted.get(idx).copied().unwrap_or(0) as f64 / 1000.0;
    ms
}

/// How many customers the requests draw from (ids 1 to this): the list's
/// total, or, where the total is capped (a data set of a million
/// customers answers "10,000+"), the newest customer's id: the list is
/// newest first and the bench customers' ids are dense. Drawing from the
/// capped total put every request on the first 10,000 customers.
fn customer_range(first_page: &serde_json::Value) -> u64 {
    let total = first_page["total"].as_u64().unwrap_or(1);
    let newest = first_page["items"][0]["id"].as_u64().unwrap_or(0);
    if first_page["total_capped"].as_bool() == Some(true) { total.max(newest) } else { total }.max(1)
}

/// Mixed into the seed of a scenario that writes: its customers differ
/// from one run to the next. The same customers again would make every
/// ticket a repeat inquiry (SPEC T6) of the run before; reads keep one
/// sequence so that runs compare.
fn run_nonce(scenario: &str) -> u64 {
    if !WRITES.contains(&scenario) {
        return 0;
    }
    // std's hasher keys are random for each process and new for each call.
    std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), scenario)
}

/// The scenarios that create records. In `bench all` their floor is the
/// storage floor; the others' floor is `health` at the same connections.
pub const WRITES: &[&str] = &["ticket-create", "complaint-register"];

pub async fn run(opts: &RunOptions) -> anyhow::Result<Vec<ScenarioResult>> {
    let bases: Vec<String> = opts.urls.iter().map(|u| u.trim_end_matches('/').to_string()).collect();
    let base = bases.first().context("no server URL")?.clone();
    let api = reqwest::Client::builder().pool_max_idle_per_host(opts.connections).build()?;
    let token: serde_json::Value = api
        .post(format!("{base}/api/v1/auth/token"))
        .json(&serde_json::json!({"email": opts.email, "password": opts.password}))
        .send()
        .await
        .context("cannot reach the server")?
        .error_for_status()
        .context("login for the benchmark user failed")?
        .json()
        .await?;
    let token = token["token"].as_str().context("no token in the login answer")?.to_string();
    let newest: serde_json::Value =
        api.get(format!("{base}/api/v1/customers?per_page=1")).bearer_auth(&token).send().await?.json().await?;
    let customers = customer_range(&newest);
    // Pages need a session cookie: log in through the form once.
    let pages = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(opts.connections)
        .build()?;
    // Every instance shares the database, so one login serves them all;
    // the cookie store keys cookies by host, not port.
    pages
        .post(format!("{base}/login"))
        .form(&[("email", opts.email.as_str()), ("password", opts.password.as_str()), ("next", "/")])
        .send()
        .await?;

    let agents = if opts.scenarios.iter().any(|s| crate::bench_tickets::SCENARIOS.contains(&s.as_str())) {
        crate::bench_tickets::agent_tokens(&api, &base, &opts.password).await?
    } else {
        Vec::new()
    };
    let agents = Arc::new(agents);

    let mut results = Vec::new();
    for scenario in &opts.scenarios {
        let deadline = Instant::now() + opts.duration;
        let started = Instant::now();
        let mut tasks = Vec::new();
        for conn in 0..opts.connections {
            let base = bases[conn % bases.len()].clone();
            let (api, pages, token, scenario, agents) =
                (api.clone(), pages.clone(), token.clone(), Arc::new(scenario.clone()), agents.clone());
            let mut rng = Mix(opts.seed ^ ((conn as u64) << 32) ^ run_nonce(&scenario));
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut errors = 0usize;
                while Instant::now() < deadline {
                    let path = path_for(&scenario, &mut rng, customers);
                    let t = Instant::now();
                    let ticket =
                        crate::bench_tickets::request(&api, &base, &scenario, &mut rng, customers, &token, &agents);
                    let req = if let Some(r) = ticket {
                        r
                    } else if is_page(&scenario) {
                        pages.get(format!("{base}{path}"))
                    } else {
                        api.get(format!("{base}{path}")).bearer_auth(&token)
                    };
                    match req.send().await {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                        }
                        _ => errors += 1,
                    }
                    lat.push(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
                }
                (lat, errors)
            }));
        }
        let mut all = Vec::new();
        let mut errors = 0;
        for t in tasks {
            let (lat, e) = t.await?;
            all.extend(lat);
            errors += e;
        }
        results.push(summarise(scenario, opts.connections, all, errors, started.elapsed().as_secs_f64()));
    }
    Ok(results)
}

/// A scenario's figures from its latencies (µs).
pub fn summarise(scenario: &str, connections: usize, mut all: Vec<u64>, errors: usize, secs: f64) -> ScenarioResult {
    all.sort_unstable();
    #[allow(clippy::cast_precision_loss)]
    let rps = all.len() as f64 / secs.max(1e-9);
    ScenarioResult {
        scenario: scenario.to_string(),
        connections,
        requests: all.len(),
        errors,
        requests_per_sec: rps,
        p50_ms: percentile(&all, 0.50),
        p90_ms: percentile(&all, 0.90),
        p99_ms: percentile(&all, 0.99),
        max_ms: percentile(&all, 1.0),
    }
}

pub fn print_table(results: &[ScenarioResult]) {
    println!(
        "{:<16} {:>9} {:>7} {:>10} {:>9} {:>9} {:>9} {:>9}",
        "scenario", "requests", "errors", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    for r in results {
        println!(
            "{:<16} {:>9} {:>7} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            r.scenario, r.requests, r.errors, r.requests_per_sec, r.p50_ms, r.p90_ms, r.p99_ms, r.max_ms
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_right_rank() {
        let xs: Vec<u64> = (1..=100).map(|x| x * 1000).collect();
        assert_eq!(percentile(&xs, 0.5), 50.0);
        assert_eq!(percentile(&xs, 0.99), 99.0);
        assert_eq!(percentile(&xs, 1.0), 100.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }

    #[test]
    fn requests_draw_from_every_customer_even_when_the_total_is_capped() {
        let capped = serde_json::json!({"total": 10_000, "total_capped": true, "items": [{"id": 1_000_000}]});
        assert_eq!(customer_range(&capped), 1_000_000);
        let exact = serde_json::json!({"total": 250, "total_capped": false, "items": [{"id": 260}]});
        assert_eq!(customer_range(&exact), 250, "an exact total is the range");
        assert_eq!(customer_range(&serde_json::json!({"total": 0, "items": []})), 1);
    }

    #[test]
    fn writes_draw_new_customers_each_run_and_reads_repeat_theirs() {
        assert_eq!(run_nonce("customer-360"), 0);
        assert_ne!(run_nonce("ticket-create"), run_nonce("ticket-create"));
    }

    #[test]
    fn request_paths_are_deterministic() {
        let a: Vec<String> = {
            let mut r = Mix(7);
            (0..5).map(|_| path_for("search-phone", &mut r, 100)).collect()
        };
        let b: Vec<String> = {
            let mut r = Mix(7);
            (0..5).map(|_| path_for("search-phone", &mut r, 100)).collect()
        };
        assert_eq!(a, b);
        assert!(a.iter().all(|p| p.starts_with("/api/v1/customers?q=")));
        let mut r = Mix(7);
        let kb = path_for("kb-search", &mut r, 100);
        assert!(kb.starts_with("/api/v1/kb/search?q=%E") && kb.ends_with("&limit=10"), "{kb}");
        let s = path_for("kb-suggest", &mut r, 100);
        assert!(s.starts_with("/api/v1/tickets/") && s.ends_with("/suggested-articles"), "{s}");
    }
}
