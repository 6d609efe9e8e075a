//! `guanxi bench all`: every figure of BENCHMARKS.md from one command.
//! Generates the data set (unless the data directory already holds one of
//! that scale), times the offline jobs as subprocesses of this same binary
//! (segmentation recompute, maintenance plan generation, a customers
//! import into an empty database), measures the storage floor against the
//! data set, starts `guanxi serve` on it (one instance, or several behind
//! one PostgreSQL) on free ports, drives every HTTP scenario with the
//! connection counts BENCHMARKS.md uses, records the server's peak RSS and
//! prints one table (and JSON).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;

use crate::bench::{self, ScenarioResult, WRITES};

/// The HTTP scenarios and the connections they run with (as BENCHMARKS.md
/// reports them): reads at 2 and 16, writes and the agent queue at 32 and
/// 4, reports one at a time. Each group starts with its HTTP floor.
pub const PLAN: &[(usize, &[&str])] = &[
    (
        2,
        &[
            "health",
            "search-phone",
            "search-phone-long",
            "search-name",
            "search-code",
            "customer-list",
            "customer-360",
            "kb-search",
            "kb-suggest",
        ],
    ),
    (
        16,
        &[
            "health",
            "search-phone",
            "search-phone-long",
            "search-name",
            "search-code",
            "customer-list",
            "customer-360",
            "kb-search",
            "kb-suggest",
        ],
    ),
    (32, &["health", "ticket-queue", "ticket-create", "complaint-register"]),
    (4, &["health", "ticket-queue", "ticket-create", "complaint-register"]),
    (1, &["health", "report-monthly", "report-monitoring", "dashboard"]),
];

/// The marker `bench all` leaves in the data directory after generating.
const MARKER: &str = "bench-scale.txt";

#[derive(Debug, Clone)]
pub struct AllOptions {
    pub scale: f64,
    pub data_dir: PathBuf,
    pub fresh: bool,
    pub duration: Duration,
    pub database_url: Option<String>,
    pub instances: usize,
    pub json: Option<PathBuf>,
}

/// An offline job, timed as a subprocess.
#[derive(Debug, Serialize)]
pub struct JobResult {
    pub job: String,
    pub ok: bool,
    pub seconds: f64,
    pub peak_rss_mb: f64,
    /// What the job printed (its last line).
    pub said: String,
}

#[derive(Debug, Serialize)]
pub struct Row {
    #[serde(flatten)]
    pub result: ScenarioResult,
    /// `health` or `storage-floor`, at the same connections.
    pub floor: String,
    /// p50 as a multiple of the floor's p50.
    pub p50_over_floor: f64,
    /// Throughput as a fraction of the floor's.
    pub rps_of_floor: f64,
}

#[derive(Debug, Serialize)]
pub struct GroupRss {
    pub connections: usize,
    pub scenarios: Vec<String>,
    pub server_peak_rss_mb: Vec<f64>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub scale: f64,
    pub database: &'static str,
    pub instances: usize,
    pub seconds_per_scenario: f64,
    pub jobs: Vec<JobResult>,
    /// `health` at each connection count of the plan.
    pub http_floor: Vec<ScenarioResult>,
    pub storage_floor: Vec<ScenarioResult>,
    pub scenarios: Vec<Row>,
    /// Peak RSS (`VmHWM`) of each server instance over the whole HTTP run.
    pub server_peak_rss_mb: Vec<f64>,
    /// The servers' peak RSS so far after each group of the plan: which
    /// load raised it.
    pub rss_by_group: Vec<GroupRss>,
    pub total_seconds: f64,
}

/// `VmHWM` of a process, in kB.
fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[allow(clippy::cast_precision_loss)]
fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn drain(mut r: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut r, &mut s);
        s
    })
}

/// Runs `guanxi ARGS` to the end, sampling its peak RSS.
fn time_job(name: &str, mut cmd: Command) -> anyhow::Result<JobResult> {
    let started = Instant::now();
    let mut child =
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().with_context(|| format!("cannot start {name}"))?;
    let out = drain(child.stdout.take().context("stdout")?);
    let err = drain(child.stderr.take().context("stderr")?);
    let (status, peak) = wait_with_peak(&mut child)?;
    let seconds = started.elapsed().as_secs_f64();
    let out = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    let said = out.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
    if !status.success() {
        anyhow::bail!("{name} failed ({status}):\n{out}\n{err}");
    }
    eprintln!("  {name}: {seconds:.1} s, peak {:.0} MB — {said}", mb(peak));
    Ok(JobResult { job: name.into(), ok: true, seconds, peak_rss_mb: mb(peak), said })
}

fn wait_with_peak(child: &mut Child) -> anyhow::Result<(ExitStatus, u64)> {
    let pid = child.id();
    let mut peak = 0;
    loop {
        if let Some(kb) = vm_hwm_kb(pid) {
            peak = peak.max(kb);
        }
        if let Some(status) = child.try_wait()? {
            return Ok((status, peak));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// This binary, with the data directory and database of the run.
fn guanxi(opts: &AllOptions, data_dir: &Path, args: &[&str]) -> anyhow::Result<Command> {
    let mut cmd = Command::new(std::env::current_exe().context("cannot find this binary")?);
    cmd.args(args).arg("--data-dir").arg(data_dir).env("RUST_LOG", "warn");
    match &opts.database_url {
        Some(url) => cmd.env("DATABASE_URL", url),
        None => cmd.env_remove("DATABASE_URL"),
    };
    Ok(cmd)
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> anyhow::Result<T> + Send + 'static) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(f).await?
}

/// A server instance started by `bench all`.
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

fn start_server(opts: &AllOptions, n: usize) -> anyhow::Result<Server> {
    let log = std::fs::File::create(opts.data_dir.join(format!("bench-serve-{n}.log")))?;
    let mut cmd = guanxi(opts, &opts.data_dir, &["serve", "--listen", "127.0.0.1:0"])?;
    // Nothing in the background but what requests cause: no nightly jobs,
    // and the benchmark users sign in with passwords alone.
    cmd.env("GUANXI_SEGMENT_RECOMPUTE_HOUR", "off")
        .env("GUANXI_MAINTENANCE_HOUR", "off")
        .env("GUANXI_TOTP_REQUIRED_ROLES", "none")
        .stdout(Stdio::piped())
        .stderr(log);
    let mut child = cmd.spawn().context("cannot start guanxi serve")?;
    let stdout = child.stdout.take().context("stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.split("serving on ").nth(1) {
                let _ = tx.send(url.trim().to_string());
            }
        }
    });
    let mut server = Server { child, url: String::new() };
    server.url = rx.recv_timeout(Duration::from_secs(300)).with_context(|| {
        format!("the server did not start; see {}", opts.data_dir.join(format!("bench-serve-{n}.log")).display())
    })?;
    Ok(server)
}

/// Whether the data directory holds the data set of this scale; clears it
/// first with `--fresh`.
fn existing_data_set(opts: &AllOptions) -> anyhow::Result<bool> {
    let marker = opts.data_dir.join(MARKER);
    let held = std::fs::read_to_string(&marker).ok().map(|s| s.trim().to_string());
    if opts.fresh && opts.data_dir.exists() {
        let empty = std::fs::read_dir(&opts.data_dir)?.next().is_none();
        if held.is_none() && !empty {
            anyhow::bail!(
                "--fresh clears only a data directory made by `bench all` ({} has no {MARKER})",
                opts.data_dir.display()
            );
        }
        if opts.database_url.is_some() {
            anyhow::bail!("--fresh cannot clear a PostgreSQL database: drop and create it, then run without --fresh");
        }
        std::fs::remove_dir_all(&opts.data_dir)?;
        return Ok(false);
    }
    match held {
        Some(s) if s == opts.scale.to_string() => Ok(true),
        Some(s) => anyhow::bail!(
            "{} holds the data set of scale {s}; use --fresh or another --data-dir",
            opts.data_dir.display()
        ),
        None => Ok(false),
    }
}

/// The storage floor at `connections`: tasks each writing one ticket
/// creation's rows after the other for `duration`.
async fn storage_floor(opts: &AllOptions, connections: usize) -> anyhow::Result<ScenarioResult> {
    let mut config = guanxi_server::config::Config::from_env(None)?;
    config.data_dir.clone_from(&opts.data_dir);
    config.database_url.clone_from(&opts.database_url);
    let state = guanxi_server::prepare(config, Arc::new(guanxi_domain::SystemClock)).await?;
    let floor = Arc::new(guanxi_server::bench_tickets::StorageFloor::prepare(&state).await?);
    let seq = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + opts.duration;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (state, floor, seq) = (state.clone(), floor.clone(), seq.clone());
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors) = (Vec::new(), 0usize);
            while Instant::now() < deadline {
                let t = Instant::now();
                if floor.insert_one(&state, seq.fetch_add(1, Ordering::Relaxed)).await.is_err() {
                    errors += 1;
                }
                lat.push(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
            }
            (lat, errors)
        }));
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (lat, e) = t.await?;
        all.extend(lat);
        errors += e;
    }
    Ok(bench::summarise("storage-floor", connections, all, errors, started.elapsed().as_secs_f64()))
}

pub async fn run(opts: &AllOptions) -> anyhow::Result<Report> {
    let started = Instant::now();
    let mut jobs = Vec::new();
    if !existing_data_set(opts)? {
        eprintln!("Generating the data set of scale {} in {} …", opts.scale, opts.data_dir.display());
        std::fs::create_dir_all(&opts.data_dir)?;
        let scale = opts.scale.to_string();
        let cmd = guanxi(opts, &opts.data_dir, &["bench", "generate", "--scale", &scale])?;
        jobs.push(blocking(move || time_job("generate", cmd)).await?);
        std::fs::write(opts.data_dir.join(MARKER), &scale)?;
    } else {
        eprintln!("Using the data set of scale {} in {}.", opts.scale, opts.data_dir.display());
    }

    // The offline jobs, each as the command an operator runs.
    eprintln!("Offline jobs …");
    for (name, args) in [
        ("segments-recompute", &["segments", "recompute"][..]),
        ("segments-recompute-again", &["segments", "recompute"][..]),
        ("maintenance-generate", &["maintenance", "generate"][..]),
        ("maintenance-generate-again", &["maintenance", "generate"][..]),
    ] {
        let cmd = guanxi(opts, &opts.data_dir, args)?;
        jobs.push(blocking(move || time_job(name, cmd)).await?);
    }
    // The import: customers (1,000,000 at scale 1) into an empty SQLite
    // database beside the data set, deleted afterwards.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let rows = ((1_000_000.0 * opts.scale).round() as usize).max(10);
    let import_dir = opts.data_dir.join("import-bench");
    let _ = std::fs::remove_dir_all(&import_dir);
    std::fs::create_dir_all(&import_dir)?;
    let file = import_dir.join("customers.csv");
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(["bench", "import-file", "--rows", &rows.to_string(), "--out"]).arg(&file);
    jobs.push(blocking(move || time_job("import-file", cmd)).await?);
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(["import", "customers"])
        .arg(&file)
        .arg("--data-dir")
        .arg(import_dir.join("db"))
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .env("GUANXI_ADMIN_PASSWORD", guanxi_server::bench_data::BENCH_PASSWORD);
    jobs.push(blocking(move || time_job("import-customers", cmd)).await?);
    let _ = std::fs::remove_dir_all(&import_dir);

    // The storage floor, at the connections of the writing scenarios.
    eprintln!("Storage floor …");
    let mut floors = Vec::new();
    for (connections, scenarios) in PLAN {
        if scenarios.iter().any(|s| WRITES.contains(s)) {
            floors.push(storage_floor(opts, *connections).await?);
        }
    }

    eprintln!("HTTP scenarios ({} instance(s)) …", opts.instances);
    let mut servers = Vec::new();
    for n in 0..opts.instances.max(1) {
        servers.push(
            blocking({
                let opts = opts.clone();
                move || start_server(&opts, n)
            })
            .await?,
        );
    }
    let urls: Vec<String> = servers.iter().map(|s| s.url.clone()).collect();
    let mut results = Vec::new();
    let mut rss_by_group = Vec::new();
    for (connections, scenarios) in PLAN {
        let run = bench::RunOptions {
            urls: urls.clone(),
            scenarios: scenarios.iter().map(|s| (*s).to_string()).collect(),
            duration: opts.duration,
            connections: *connections,
            email: guanxi_server::bench_data::BENCH_SUPERVISOR.into(),
            password: guanxi_server::bench_data::BENCH_PASSWORD.into(),
            seed: 7,
        };
        let got = bench::run(&run).await?;
        bench::print_table(&got);
        results.extend(got);
        rss_by_group.push(GroupRss {
            connections: *connections,
            scenarios: run.scenarios,
            server_peak_rss_mb: servers.iter().map(|s| mb(vm_hwm_kb(s.child.id()).unwrap_or(0))).collect(),
        });
    }
    let server_peak_rss_mb = servers.iter().map(|s| mb(vm_hwm_kb(s.child.id()).unwrap_or(0))).collect();
    drop(servers);

    let scenarios = results
        .iter()
        .filter(|r| r.scenario != "health")
        .map(|r| {
            let (name, floor) = if WRITES.contains(&r.scenario.as_str()) {
                ("storage-floor", floors.iter().find(|f| f.connections == r.connections))
            } else {
                ("health", results.iter().find(|f| f.scenario == "health" && f.connections == r.connections))
            };
            let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
            Row {
                floor: name.into(),
                p50_over_floor: floor.map_or(0.0, |f| ratio(r.p50_ms, f.p50_ms)),
                rps_of_floor: floor.map_or(0.0, |f| ratio(r.requests_per_sec, f.requests_per_sec)),
                result: r.clone(),
            }
        })
        .collect::<Vec<_>>();
    let http_floor: Vec<ScenarioResult> = results.iter().filter(|r| r.scenario == "health").cloned().collect();
    let report = Report {
        scale: opts.scale,
        database: if opts.database_url.is_some() { "postgresql" } else { "sqlite" },
        instances: opts.instances.max(1),
        seconds_per_scenario: opts.duration.as_secs_f64(),
        jobs,
        http_floor,
        storage_floor: floors,
        scenarios,
        server_peak_rss_mb,
        rss_by_group,
        total_seconds: started.elapsed().as_secs_f64(),
    };
    print_report(&report);
    Ok(report)
}

fn print_report(r: &Report) {
    println!();
    println!(
        "Guanxi benchmark: scale {}, {}, {} instance(s), {:.0} s a scenario",
        r.scale, r.database, r.instances, r.seconds_per_scenario
    );
    println!();
    println!("{:<28} {:>10} {:>10}  said", "offline job", "seconds", "peak MB");
    for j in &r.jobs {
        println!("{:<28} {:>10.1} {:>10.0}  {}", j.job, j.seconds, j.peak_rss_mb, j.said);
    }
    println!();
    println!(
        "{:<20} {:>5} {:>9} {:>7} {:>9} {:>8} {:>8} {:>8} {:>8}  {:<13} {:>8} {:>8}",
        "scenario",
        "conn",
        "requests",
        "errors",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "floor",
        "p50 ×",
        "req/s %"
    );
    let line = |s: &ScenarioResult, floor: &str, over: f64, of: f64| {
        println!(
            "{:<20} {:>5} {:>9} {:>7} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2}  {:<13} {:>8} {:>8}",
            s.scenario,
            s.connections,
            s.requests,
            s.errors,
            s.requests_per_sec,
            s.p50_ms,
            s.p90_ms,
            s.p99_ms,
            s.max_ms,
            floor,
            if over > 0.0 { format!("{over:.1}") } else { "-".into() },
            if of > 0.0 { format!("{:.1}", of * 100.0) } else { "-".into() },
        );
    };
    for f in r.http_floor.iter().chain(&r.storage_floor) {
        line(f, "(floor)", 0.0, 0.0);
    }
    for row in &r.scenarios {
        line(&row.result, &row.floor, row.p50_over_floor, row.rps_of_floor);
    }
    println!();
    let rss: Vec<String> = r.server_peak_rss_mb.iter().map(|m| format!("{m:.0} MB")).collect();
    println!("Server peak RSS (VmHWM): {}. Total {:.0} s.", rss.join(", "), r.total_seconds);
    for g in &r.rss_by_group {
        let rss: Vec<String> = g.server_peak_rss_mb.iter().map(|m| format!("{m:.0} MB")).collect();
        println!(
            "  peak after the {}-connection group ({}): {}",
            g.connections,
            g.scenarios.join(", "),
            rss.join(", ")
        );
    }
}

/// Writes the report as JSON.
pub fn write_json(r: &Report, path: &Path) -> anyhow::Result<()> {
    std::fs::write(path, serde_json::to_string_pretty(r)?).with_context(|| format!("cannot write {}", path.display()))
}

/// Every scenario and job without errors.
pub fn clean(r: &Report) -> bool {
    r.jobs.iter().all(|j| j.ok)
        && r.http_floor.iter().chain(&r.storage_floor).all(|f| f.errors == 0 && f.requests > 0)
        && r.scenarios.iter().all(|s| s.result.errors == 0 && s.result.requests > 0)
}
