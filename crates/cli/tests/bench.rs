//! The benchmark suite's one command end to end at a small scale, on both
//! engines: `guanxi bench all` generates the data set, times the offline
//! jobs, measures the storage floor, starts the server (two instances
//! behind PostgreSQL) and drives every scenario. Asserts that every job and
//! scenario completes without errors, never how fast (tests must pass on a
//! slow, busy machine).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use guanxi_store::testing;

/// The scale of the smoke test (issue 11's CI run): 10,000 customers,
/// 20,000 tickets; the debug build runs it in about a minute.
const SCALE: &str = "0.01";

fn bench_all(dir: &std::path::Path, scale: &str, extra: &[&str]) -> serde_json::Value {
    let json = dir.join("bench-all.json");
    let out = Command::new(env!("CARGO_BIN_EXE_guanxi"))
        .args(["bench", "all", "--scale", scale, "--duration", "1", "--data-dir"])
        .arg(dir.join("data"))
        .arg("--json")
        .arg(&json)
        .args(extra)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{said}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("Server peak RSS (VmHWM)"), "{said}");
    serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap()
}

fn names(v: &serde_json::Value, key: &str, field: &str) -> Vec<String> {
    v[key].as_array().unwrap().iter().map(|r| r[field].as_str().unwrap().to_string()).collect()
}

fn assert_clean(report: &serde_json::Value) {
    assert_eq!(
        names(report, "jobs", "job"),
        [
            "generate",
            "segments-recompute",
            "segments-recompute-again",
            "maintenance-generate",
            "maintenance-generate-again",
            "import-file",
            "import-customers"
        ]
    );
    for j in report["jobs"].as_array().unwrap() {
        assert_eq!(j["ok"], true, "{j}");
    }
    let mut scenarios = names(report, "scenarios", "scenario");
    scenarios.sort();
    scenarios.dedup();
    assert_eq!(
        scenarios,
        [
            "complaint-register",
            "customer-360",
            "customer-list",
            "dashboard",
            "kb-search",
            "kb-suggest",
            "report-monitoring",
            "report-monthly",
            "search-code",
            "search-name",
            "search-phone",
            "search-phone-long",
            "ticket-create",
            "ticket-queue"
        ]
    );
    assert_eq!(names(report, "storage_floor", "scenario"), ["storage-floor", "storage-floor"]);
    assert_eq!(names(report, "http_floor", "scenario").len(), 5);
    for r in ["scenarios", "http_floor", "storage_floor"].iter().flat_map(|k| report[*k].as_array().unwrap()) {
        assert!(r["requests"].as_u64().unwrap() > 0, "{r}");
        assert_eq!(r["errors"], 0, "{r}");
    }
    for r in report["scenarios"].as_array().unwrap() {
        assert!(r["p50_over_floor"].as_f64().unwrap() > 0.0, "every scenario has its floor: {r}");
    }
    assert!(report["server_peak_rss_mb"][0].as_f64().unwrap() > 0.0, "{report}");
    assert_eq!(report["rss_by_group"].as_array().unwrap().len(), 5, "the peak after each group of the plan");
}

#[test]
fn bench_all_runs_every_scenario_on_sqlite() {
    let (dir, _guard) = testing::temp_dir().unwrap();
    let report = bench_all(&dir, SCALE, &[]);
    assert_eq!(report["database"], "sqlite");
    assert_clean(&report);
    // The data set of scale 0.01: every kind of row of issue 11 in proportion.
    let said = report["jobs"][0]["said"].as_str().unwrap();
    let count = |what: &str| -> u64 {
        let before = said.split(&format!(" {what}")).next().unwrap();
        before.rsplit(' ').next().unwrap().parse().unwrap_or_else(|_| panic!("{what} in {said}"))
    };
    assert_eq!((count("customers"), count("tickets"), count("articles")), (10_000, 20_000, 1_000), "{said}");
    assert!((40_000..60_000).contains(&count("communication records")), "{said}");
    assert!((1_500..2_500).contains(&count("complaints")), "{said}");
    // The data set is kept: a second run skips the generation, and a data
    // directory of another scale is refused.
    assert_eq!(std::fs::read_to_string(dir.join("data/bench-scale.txt")).unwrap(), SCALE);
    let out = Command::new(env!("CARGO_BIN_EXE_guanxi"))
        .args(["bench", "all", "--scale", "0.02", "--data-dir"])
        .arg(dir.join("data"))
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds the data set of scale 0.01"));
}

#[test]
fn bench_all_runs_two_instances_behind_postgres() {
    let Some(url) = testing::postgres_url() else {
        eprintln!("no PostgreSQL: skipped");
        return;
    };
    let db = testing::postgres(&url).unwrap();
    let guanxi_store::DbTarget::Postgres(db_url) = &db.target else { unreachable!() };
    let (dir, _guard) = testing::temp_dir().unwrap();
    // A smaller scale: PostgreSQL generates more slowly, and two servers share the 2 cores.
    let report = bench_all(&dir, "0.002", &["--database-url", db_url, "--instances", "2"]);
    assert_eq!((report["database"].as_str(), report["instances"].as_u64()), (Some("postgresql"), Some(2)));
    assert_clean(&report);
    assert_eq!(report["server_peak_rss_mb"].as_array().unwrap().len(), 2);
}
