//! The knowledge-base benchmark at a tiny scale (SPEC K1's figure is for
//! 100,000 articles / 2,000,000 ticket texts, see BENCHMARKS.md): generate
//! customers, tickets and articles, serve, drive `kb-search` and
//! `kb-suggest`. Asserts that everything completes without errors, never
//! how fast (tests must pass on a slow, busy machine).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use guanxi_store::testing;

fn guanxi(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_guanxi"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn knowledge_base_search_benchmark_at_a_tiny_scale() {
    let (dir, _guard) = testing::temp_dir().unwrap();
    guanxi(&dir, &["bench", "generate", "--scale", "0.00005"]);
    assert!(guanxi(&dir, &["bench", "tickets", "--count", "200"]).contains("Generated 200 tickets"));
    let said = guanxi(&dir, &["bench", "articles", "--count", "2500"]);
    assert!(said.contains("Generated 2500 articles"), "{said}");

    let bin = env!("CARGO_BIN_EXE_guanxi");
    let mut server = Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&dir)
        .env_remove("DATABASE_URL")
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
    let json = dir.join("bench-kb.json");
    let run = Command::new(bin)
        .args(["bench", "run", "--url", &url, "--scenario", "kb-search,kb-suggest", "--duration", "1"])
        .args(["--connections", "2", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert!(run.status.success(), "{}\n{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    let results: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    let names: Vec<&str> = results.as_array().unwrap().iter().map(|r| r["scenario"].as_str().unwrap()).collect();
    assert_eq!(names, ["kb-search", "kb-suggest"]);
    for r in results.as_array().unwrap() {
        assert!(r["requests"].as_u64().unwrap() > 0, "{r}");
        assert_eq!(r["errors"], 0, "{r}");
    }
}
