//! `guanxi maintenance generate` as an operator runs it: over the
//! benchmark data set (tiny), after the segmentation job; a second run
//! creates nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use guanxi_store::testing;

fn run(bin: &str, dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(bin)
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
fn generate_is_idempotent_over_the_benchmark_data_set() {
    let (dir, _guard) = testing::temp_dir().unwrap();
    let bin = env!("CARGO_BIN_EXE_guanxi");
    run(bin, &dir, &["bench", "generate", "--scale", "0.00005"]);
    run(bin, &dir, &["segments", "recompute", "--json"]);
    let first: serde_json::Value =
        serde_json::from_str(&run(bin, &dir, &["maintenance", "generate", "--json"])).unwrap();
    assert_eq!(first["customers"], 50, "{first}");
    let created = first["created"].as_u64().unwrap();
    assert!(created > 0, "the churn warnings of the data set become recovery tasks: {first}");
    assert_eq!(first["churn_warnings"].as_u64(), first["by_scenario"]["churn_recovery"].as_u64(), "{first}");
    let sum: u64 = first["by_scenario"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(sum, created);
    let again = run(bin, &dir, &["maintenance", "generate"]);
    assert!(again.contains("Checked 50 customers") && again.contains(": 0 tasks created (none)"), "{again}");
}
