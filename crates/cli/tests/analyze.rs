//! `guanxi analyze bgnbd` end to end: a simulated orders file of 20,000
//! customers, drawn from known BG/NBD parameters, goes through the binary and
//! the fitted parameters come back near the truth.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::f64::consts::PI;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Output};

use jiff::ToSpan;
use jiff::civil::Date;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const R: f64 = 0.5;
const ALPHA: f64 = 4.0;
const A: f64 = 0.6;
const B: f64 = 2.5;

/// Gamma(shape, rate) by Marsaglia & Tsang (2000); normals by Box–Muller.
fn gamma(rng: &mut StdRng, shape: f64, rate: f64) -> f64 {
    if shape < 1.0 {
        let u: f64 = 1.0 - rng.random::<f64>();
        return gamma(rng, shape + 1.0, rate) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let (u1, u2): (f64, f64) = (1.0 - rng.random::<f64>(), rng.random());
        let normal = (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos();
        let v = (1.0 + c * normal).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u: f64 = 1.0 - rng.random::<f64>();
        if u.ln() < 0.5 * normal * normal + d - d * v + d * v.ln() {
            return d * v / rate;
        }
    }
}

fn start() -> Date {
    Date::constant(2024, 1, 1)
}

/// The calibration period: 52 weeks from 2024-01-01.
fn until() -> Date {
    start().checked_add(364.days()).unwrap()
}

/// Writes the orders of `customers` customers drawn from the model, who
/// first buy in the first 12 weeks of 2024 and are followed for two years
/// (orders after `until` must be ignored); every tenth purchase is two orders
/// on one day (one purchase). Ten more customers first buy after `until`.
fn write_orders(path: &Path, customers: usize, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut csv = String::from("customer,date,amount\n");
    let order = |csv: &mut String, customer: usize, day: i64, rng: &mut StdRng| {
        let date = start().checked_add(day.days()).unwrap();
        let amount = rng.random_range(100..100_000) as f64 / 100.0;
        writeln!(csv, "C{customer:06},{date},{amount:.2}").unwrap();
    };
    for customer in 0..customers {
        let lambda = gamma(&mut rng, R, ALPHA) / 7.0; // per day
        let (g1, g2) = (gamma(&mut rng, A, 1.0), gamma(&mut rng, B, 1.0));
        let p = g1 / (g1 + g2);
        let first = rng.random_range(0..84);
        order(&mut csv, customer, first, &mut rng);
        let mut now = first as f64;
        loop {
            now += -(1.0 - rng.random::<f64>()).ln() / lambda;
            if now > 730.0 {
                break;
            }
            let day = now.floor() as i64;
            order(&mut csv, customer, day, &mut rng);
            if rng.random::<f64>() < 0.1 {
                order(&mut csv, customer, day, &mut rng);
            }
            if rng.random::<f64>() < p {
                break;
            }
        }
    }
    for late in 0..10 {
        order(&mut csv, customers + late, 400 + late as i64, &mut rng);
    }
    std::fs::write(path, csv).unwrap();
}

fn guanxi(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_guanxi"))
        .args(args)
        .current_dir(dir)
        .env_remove("GUANXI_CONFIG")
        .env("RUST_LOG", "error")
        .output()
        .unwrap()
}

/// The output with every number (a value after `: `) replaced by N.
fn regex_free_shape(text: &str) -> String {
    let mut shape = String::new();
    let mut in_number = false;
    for ch in text.trim().chars() {
        if in_number && (ch.is_ascii_digit() || matches!(ch, '-' | '+' | '.' | 'e' | 'E')) {
            continue;
        }
        in_number = false;
        if (ch.is_ascii_digit() || ch == '-') && shape.ends_with(": ") {
            shape.push('N');
            in_number = true;
        } else {
            shape.push(ch);
        }
    }
    shape
}

#[test]
fn fits_a_simulated_orders_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("orders.csv");
    write_orders(&file, 20_000, 42_005);
    let until = until().to_string();
    let out =
        guanxi(dir.path(), &["analyze", "bgnbd", "--orders", file.to_str().unwrap(), "--until", &until, "--json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(json["customers"], 20_000, "{json}");
    // Exactly this shape, keys in this order.
    let shape = regex_free_shape(&stdout);
    assert_eq!(shape, r#"{"customers": N, "params": {"r": N, "alpha": N, "a": N, "b": N}, "log_likelihood": N}"#);
    assert!(json["log_likelihood"].as_f64().unwrap() < 0.0);
    // Over days rather than continuous time, and with 20,000 customers: r and
    // α come within a few per cent, a and b (less well determined) within 10–15%.
    for (name, truth, tolerance) in [("r", R, 0.15), ("alpha", ALPHA, 0.15), ("a", A, 0.25), ("b", B, 0.25)] {
        let fitted = json["params"][name].as_f64().unwrap();
        assert!((fitted / truth - 1.0).abs() <= tolerance, "{name}: fitted {fitted}, true {truth} ({json})");
    }

    // The table says the same in words.
    let out = guanxi(dir.path(), &["analyze", "bgnbd", "--orders", file.to_str().unwrap(), "--until", &until]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(table.contains("customers         20000 (10 more first ordered after that day"), "{table}");
}

#[test]
fn bad_rows_fail_with_their_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("orders.csv");
    std::fs::write(&file, "customer,date,amount\nC1,2024-01-05,10\nC1,2024-02-30,10\n").unwrap();
    let out = guanxi(dir.path(), &["analyze", "bgnbd", "--orders", file.to_str().unwrap(), "--until", "2024-12-31"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("row 2 (line 3), column `date`: `2024-02-30`"), "{stderr}");

    std::fs::write(&file, "customer,date,amount\nC1,2024-01-05,10\nC2,2024-02-03,-4\n").unwrap();
    let out = guanxi(dir.path(), &["analyze", "bgnbd", "--orders", file.to_str().unwrap(), "--until", "2024-12-31"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("row 2 (line 3), column `amount`: `-4`"), "{stderr}");

    // Nobody bought twice: nothing to fit.
    std::fs::write(&file, "customer,date,amount\nC1,2024-01-05,10\n").unwrap();
    let out = guanxi(dir.path(), &["analyze", "bgnbd", "--orders", file.to_str().unwrap(), "--until", "2024-12-31"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no customer made a repeat purchase"));
}
