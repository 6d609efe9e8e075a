//! The benchmark instrument end to end at a tiny scale: generate, serve,
//! drive every scenario. Asserts that everything completes without errors,
//! never how fast (tests must pass on a slow, busy machine).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use guanxi_store::testing;

#[test]
fn generate_then_run_every_scenario() {
    let (dir, _guard) = testing::temp_dir().unwrap();
    let bin = env!("CARGO_BIN_EXE_guanxi");
    let out = Command::new(bin)
        .args(["bench", "generate", "--scale", "0.00005", "--data-dir"])
        .arg(&dir)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(said.contains("Generated 50 customers, 100 contacts, "), "{said}");

    // Tickets for the ticket and report scenarios.
    let out = Command::new(bin)
        .args(["bench", "tickets", "--count", "300", "--data-dir"])
        .arg(&dir)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Generated 300 tickets"));

    // The segmentation job over the data set (its benchmark at scale 1 is in BENCHMARKS.md).
    let out = Command::new(bin)
        .args(["segments", "recompute", "--json", "--data-dir"])
        .arg(&dir)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report["customers"].as_u64(), report["changed"].as_u64()), (Some(50), Some(50)), "{report}");
    let again = Command::new(bin)
        .args(["segments", "recompute", "--json", "--data-dir"])
        .arg(&dir)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again["changed"], 0, "a second run rewrites nothing: {again}");

    let mut server = Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&dir)
        .env_remove("DATABASE_URL")
        // The benchmark signs in with passwords alone (no TOTP set-up).
        .env("GUANXI_TOTP_REQUIRED_ROLES", "none")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = server.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.split("serving on ").nth(1) {
                let _ = tx.send(url.trim().to_string());
            }
        }
    });
    let url = rx.recv_timeout(Duration::from_secs(120)).unwrap();
    let json = dir.join("bench.json");
    let run = Command::new(bin)
        .args(["bench", "run", "--url", &url, "--duration", "1", "--connections", "2", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert!(run.status.success(), "{}\n{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    let results: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    let names: Vec<&str> = results.as_array().unwrap().iter().map(|r| r["scenario"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        vec![
            "health",
            "search-phone",
            "search-phone-long",
            "search-name",
            "search-code",
            "customer-list",
            "customer-360",
            "ticket-create",
            "ticket-queue",
            "report-monthly",
            "report-monitoring"
        ]
    );
    for r in results.as_array().unwrap() {
        assert!(r["requests"].as_u64().unwrap() > 0, "{r}");
        assert_eq!(r["errors"], 0, "{r}");
    }
}
