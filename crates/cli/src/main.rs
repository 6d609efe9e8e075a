//! `guanxi`: the one binary. `serve` runs the server, `migrate` applies the
//! database migrations, `demo` loads realistic demo data.

mod analyze;
mod bench;
mod bench_all;
mod bench_tickets;
mod transfer;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use guanxi_domain::SystemClock;
use guanxi_server::config::Config;
use guanxi_server::demo::DemoOptions;

/// mimalloc for Rust's allocations (SQLite keeps the C library's malloc:
/// taking it over too, with mimalloc's `override` feature, raised the
/// server's peak memory and saved no import time). glibc's per-thread
/// arenas kept the server's memory far above what it used, and its
/// merging of freed blocks cost an import of 1,000,000 customers ~10 s of
/// CPU (BENCHMARKS.md, Import and Server memory). Built without
/// transparent huge pages (`no_thp`): mimalloc's 2 MiB pages kept ~30 MB
/// more resident after the reports at scale 1.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "guanxi", version, about = "关系 Guanxi: customer service and customer-relationship maintenance")]
struct Cli {
    /// A TOML configuration file (also GUANXI_CONFIG).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// The data directory (also GUANXI_DATA_DIR; default ./data).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the server.
    Serve {
        /// Address to listen on (also GUANXI_LISTEN; default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Loads the demo data first (once; staff password "guanxi-demo").
        #[arg(long)]
        demo: bool,
    },
    /// Applies pending database migrations and exits.
    Migrate,
    /// Statistical models over an exported file, offline (no database).
    Analyze {
        #[command(subcommand)]
        command: analyze::Analyze,
    },
    /// Benchmarks: generate the data set, or drive a running server.
    Bench {
        #[command(subcommand)]
        action: BenchAction,
    },
    /// Segmentation and churn warning (SPEC G): recompute now.
    Segments {
        #[command(subcommand)]
        action: SegmentsAction,
    },
    /// Relationship maintenance plans (SPEC M): generate the tasks now.
    Maintenance {
        #[command(subcommand)]
        action: MaintenanceAction,
    },
    /// Loads the demo data set into the database and exits.
    Demo {
        #[arg(long, default_value_t = DemoOptions::default().seed)]
        seed: u64,
        #[arg(long, default_value_t = DemoOptions::default().customers)]
        customers: usize,
    },
    /// Imports customers, contacts or orders from a CSV or Excel (.xlsx) file.
    ///
    /// Runs as the first active administrator (the one with the lowest id),
    /// who is named in the audit log. Every row is checked first: if any row
    /// is bad, nothing is written, each bad cell is printed with its row
    /// number and column, and the exit code is 1. Importing the same file
    /// again changes nothing.
    #[command(after_long_help = transfer::IMPORT_HELP)]
    Import {
        kind: transfer::KindArg,
        /// The file: .csv (UTF-8 or GB18030) or .xlsx (the first sheet).
        file: PathBuf,
        /// Checks every row and reports; writes nothing.
        #[arg(long)]
        dry_run: bool,
        /// Maps a column to a field, e.g. --map 公司=name; `--map 列=-` ignores a column. Repeatable.
        #[arg(long = "map", value_name = "COLUMN=FIELD")]
        map: Vec<String>,
        /// The language of the report: zh or en.
        #[arg(long, default_value = "zh")]
        lang: String,
    },
    /// Writes a consistent copy of the database to FILE (which must not
    /// exist) while servers keep running: SQLite `VACUUM INTO`, PostgreSQL
    /// one repeatable-read snapshot as JSON lines. Personal data stays
    /// encrypted; the data key is not in the backup — keep it separately.
    Backup {
        file: PathBuf,
        /// Print the rows per table as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Restores a backup into an empty data directory (SQLite) or an empty
    /// database (PostgreSQL, `DATABASE_URL`). Start the server with the
    /// data key of the database the backup was made from.
    Restore {
        file: PathBuf,
        /// Print the rows per table as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Exports all customers to a CSV (UTF-8 with BOM) or Excel (.xlsx) file,
    /// with Chinese headers and masked personal data.
    ///
    /// Runs as the first active administrator (the one with the lowest id);
    /// the export is written to the audit log.
    Export {
        what: transfer::ExportArg,
        /// The file to write: FILE.csv or FILE.xlsx.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum SegmentsAction {
    /// Recomputes every customer's tier, activity, RFM, churn signals and
    /// P(alive) (the nightly job, on demand), and prints what it did.
    Recompute {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum MaintenanceAction {
    /// Generates every maintenance task that should exist now and does not
    /// yet (the nightly job, on demand), and prints what it created.
    /// Running it twice creates nothing twice.
    Generate {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum BenchAction {
    /// Writes the deterministic benchmark data set into an empty database
    /// (scale 1: 1,000,000 customers, 2,000,000 contacts, 20,000,000 orders,
    /// 5,000,000 communication records, 2,000,000 tickets of which 200,000
    /// complaints, 100,000 knowledge-base articles).
    Generate {
        #[arg(long, default_value_t = 0.01)]
        scale: f64,
    },
    /// Adds benchmark tickets (scale 1: 2,000,000) to a database that holds
    /// the benchmark customers: mostly archived history, about 2 % open in
    /// the bench agents' queues.
    Tickets {
        #[arg(long)]
        count: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Adds knowledge-base articles (SPEC K1's benchmark: 100,000) with
    /// deterministic Chinese text, for `bench run --scenario kb-search,kb-suggest`.
    Articles {
        #[arg(long)]
        count: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Writes the deterministic customers file of the import benchmark:
    /// varied company names, mobiles, industry, region and external ids.
    ImportFile {
        #[arg(long, default_value_t = 1_000_000)]
        rows: usize,
        #[arg(long)]
        out: PathBuf,
    },
    /// Every figure of BENCHMARKS.md in one command: generates the data set
    /// (unless DATA_DIR holds one of this scale), times the offline jobs
    /// (recompute, maintenance plans, import), measures the storage floor,
    /// starts `guanxi serve` on free ports, runs every scenario with the
    /// connections BENCHMARKS.md uses and reports the server's peak RSS.
    All {
        #[arg(long, default_value_t = 0.01)]
        scale: f64,
        /// Delete the data set (one `bench all` made) and generate it again.
        #[arg(long)]
        fresh: bool,
        /// Seconds per scenario.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Run against PostgreSQL (an empty database the first time);
        /// the data directory keeps the data key and the run's logs.
        #[arg(long)]
        database_url: Option<String>,
        /// Server instances behind the one database (round robin).
        #[arg(long, default_value_t = 1)]
        instances: usize,
        /// Also write the report as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Drives a running server over HTTP and reports throughput and latency.
    Run {
        /// The server; repeat for several instances behind one database
        /// (connections are spread over them round robin).
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: Vec<String>,
        /// Comma-separated scenarios (default: all).
        #[arg(long, value_delimiter = ',')]
        scenario: Vec<String>,
        /// Seconds per scenario.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        #[arg(long, default_value_t = 16)]
        connections: usize,
        #[arg(long, default_value = guanxi_server::bench_data::BENCH_SUPERVISOR)]
        email: String,
        #[arg(long, default_value = guanxi_server::bench_data::BENCH_PASSWORD)]
        password: String,
        /// Also write the results as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

async fn generate_tickets(
    state: &guanxi_server::state::AppState,
    count: usize,
    seed: u64,
) -> anyhow::Result<(usize, usize)> {
    let started = std::time::Instant::now();
    let bar = indicatif::ProgressBar::new(count as u64);
    let (n, complaints) =
        guanxi_server::bench_tickets::generate_tickets(state, count, seed, &|done, _| bar.set_position(done as u64))
            .await?;
    bar.finish_and_clear();
    println!("Generated {n} tickets ({complaints} with a complaint) in {:.1} s.", started.elapsed().as_secs_f64());
    Ok((n, complaints))
}

async fn generate_articles(state: &guanxi_server::state::AppState, count: usize, seed: u64) -> anyhow::Result<usize> {
    let started = std::time::Instant::now();
    let bar = indicatif::ProgressBar::new(count as u64);
    let n = guanxi_server::bench_kb::generate_articles(state, count, seed, &|done, _| bar.set_position(done as u64))
        .await?;
    bar.finish_and_clear();
    println!("Generated {n} articles in {:.1} s.", started.elapsed().as_secs_f64());
    Ok(n)
}

fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    let mut config = Config::from_env(cli.config.as_deref())?;
    if let Some(d) = &cli.data_dir {
        config.data_dir = d.clone();
    }
    Ok(config)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

async fn demo(state: &guanxi_server::state::AppState, opts: &DemoOptions) -> anyhow::Result<()> {
    match guanxi_server::load_demo(state, opts).await? {
        Some(s) => {
            let tickets = guanxi_server::load_demo_tickets(state, opts).await?;
            println!(
                "Loaded demo data: {} groups, {} staff, {} customers, {tickets} tickets. Demo staff log in with password \"{}\" (e.g. chen.jing@demo.guanxi.cn, supervisor; admin@demo.guanxi.cn, admin).",
                s.groups,
                s.users,
                s.customers,
                guanxi_server::demo::DEMO_PASSWORD
            );
        }
        None => println!("Demo data is already loaded."),
    }
    Ok(())
}

fn print_copy_report(report: &guanxi_store::backup::BackupReport, json: bool, what: &str) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::json!({"tables": report.tables, "rows": report.rows()}));
    } else {
        println!("{what}: {} tables, {} rows.", report.tables.len(), report.rows());
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Serve { .. }) {
        one_malloc_arena();
    }
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(run(cli))
}

/// The variable that limits glibc malloc's arenas.
const MALLOC_ARENA_MAX: &str = "MALLOC_ARENA_MAX";

/// A serving process runs with glibc malloc limited to one arena, unless
/// the operator chose otherwise: SQLite allocates with the C library's
/// malloc (Rust's allocations go to mimalloc), and glibc gives every
/// thread that allocates its own arena, whose freed memory stays resident.
/// Each SQLite reader's arena held ~37 MB after the scale-1 reports; one
/// shared arena took the server's peak from 161 to 132 MB (BENCHMARKS.md,
/// Server memory at scale 1). glibc reads the setting only at start-up and
/// the workspace forbids the `unsafe` call that would change it in-process
/// (`mallopt`), so the process executes itself again, with the same
/// arguments and process id, with `MALLOC_ARENA_MAX=1` set.
fn one_malloc_arena() {
    if !cfg!(all(target_os = "linux", target_env = "gnu")) || std::env::var_os(MALLOC_ARENA_MAX).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else { return };
    let mut args = std::env::args_os();
    let mut cmd = std::process::Command::new(exe);
    if let Some(arg0) = args.next() {
        std::os::unix::process::CommandExt::arg0(&mut cmd, arg0);
    }
    let err = std::os::unix::process::CommandExt::exec(cmd.args(args).env(MALLOC_ARENA_MAX, "1"));
    // Only reached when the exec failed: serve as we are.
    eprintln!("guanxi: could not restart with {MALLOC_ARENA_MAX}=1 ({err}); serving with glibc's default arenas");
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        // Logs on stderr: stdout is for results (`--json`, reports).
        .with_writer(std::io::stderr)
        .init();
    let mut config = load_config(&cli)?;
    match cli.command {
        Command::Serve { listen, demo: with_demo } => {
            if let Some(l) = listen {
                config.listen = l;
            }
            if with_demo && let Some(warning) = config.relax_for_demo() {
                tracing::warn!("{warning}");
            }
            config.for_serving();
            let addr = config.listen;
            let state = guanxi_server::prepare(config, Arc::new(SystemClock)).await?;
            if with_demo {
                demo(&state, &DemoOptions::default()).await?;
            }
            let listener =
                tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
            println!("Guanxi is serving on http://{}", listener.local_addr()?);
            guanxi_server::serve_with_listener(state, listener, shutdown_signal()).await
        }
        Command::Migrate => {
            let target = config.db_target()?;
            let db = guanxi_store::Db::open(&target, &config.db_options())?;
            let n = db.migrate().await?;
            println!("Database {target:?} is up to date.");
            let _ = n;
            Ok(())
        }
        Command::Bench { action: BenchAction::Generate { scale } } => {
            if !(scale > 0.0 && scale <= 10.0) {
                anyhow::bail!("--scale must be between 0 and 10");
            }
            let state = guanxi_server::prepare(config, Arc::new(SystemClock)).await?;
            let plan = guanxi_server::bench_data::BenchScale::from_scale(scale);
            let started = std::time::Instant::now();
            let bar = indicatif::ProgressBar::new(plan.customers as u64);
            let made =
                guanxi_server::bench_data::generate(&state, &plan, &|done, _| bar.set_position(done as u64)).await?;
            bar.finish_and_clear();
            println!(
                "Generated {} customers, {} contacts, {} orders, {} communication records in {:.1} s.",
                made.customers,
                made.customers * plan.contacts_per_customer,
                made.orders,
                made.communications,
                started.elapsed().as_secs_f64()
            );
            let per = |n: f64| {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let n = (n * scale).round() as usize;
                n.max(1)
            };
            let (tickets, complaints) =
                generate_tickets(&state, per(guanxi_server::bench_tickets::TICKETS_PER_SCALE), plan.seed).await?;
            let articles =
                generate_articles(&state, per(guanxi_server::bench_kb::ARTICLES_PER_SCALE), plan.seed).await?;
            println!(
                "Generated the data set of scale {scale} in {:.1} s: {} customers, {} orders, {} communication records, {tickets} tickets, {complaints} complaints, {articles} articles.",
                started.elapsed().as_secs_f64(),
                made.customers,
                made.orders,
                made.communications
            );
            Ok(())
        }
        Command::Bench { action: BenchAction::Tickets { count, seed } } => {
            let state = guanxi_server::prepare(config, Arc::new(SystemClock)).await?;
            generate_tickets(&state, count, seed).await.map(|_| ())
        }
        Command::Bench { action: BenchAction::Articles { count, seed } } => {
            let state = guanxi_server::prepare(config, Arc::new(SystemClock)).await?;
            generate_articles(&state, count, seed).await.map(|_| ())
        }
        Command::Bench { action: BenchAction::ImportFile { rows, out } } => {
            let file = std::fs::File::create(&out).with_context(|| format!("cannot create {}", out.display()))?;
            let mut w = std::io::BufWriter::new(file);
            guanxi_server::bench_data::write_import_file(&mut w, rows, 7)?;
            std::io::Write::flush(&mut w)?;
            println!("Wrote {rows} customers to {}.", out.display());
            Ok(())
        }
        Command::Segments { action: SegmentsAction::Recompute { json } } => {
            let state = guanxi_server::prepare(config, Arc::new(SystemClock)).await?;
            let started = std::time::Instant::now();
            let bar = indicatif::ProgressBar::new(100);
            let report = guanxi_server::service::segments::recompute(&state, &|done, total| {
                bar.set_position((done * 100 / total.max(1)) as u64)
            })
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            bar.finish_and_clear();
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!(
                    "Recomputed {} customers in {:.1} s: {} rows changed, {} at risk, {} churn warnings raised.",
                    report.customers,
                    started.elapsed().as_secs_f64(),
                    report.changed,
                    report.at_risk,
                    report.warnings_raised
                );
            }
            Ok(())
        }
        Command::Maintenance { action: MaintenanceAction::Generate { json } } => {
            let state = guanxi_server::prepare(config, Arc::new(SystemClock)).await?;
            let bar = indicatif::ProgressBar::new(100);
            let report = guanxi_server::service::maintenance::generate(&state, &|done, total| {
                bar.set_position((done * 100 / total.max(1)) as u64)
            })
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            bar.finish_and_clear();
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                let per: Vec<String> = report.by_scenario.iter().map(|(k, n)| format!("{k} {n}")).collect();
                println!(
                    "Checked {} customers in {:.1} s: {} tasks created ({}), {} churn warnings consumed, {} birthdays indexed.",
                    report.customers,
                    report.seconds,
                    report.created,
                    if per.is_empty() { "none".to_string() } else { per.join(", ") },
                    report.churn_warnings,
                    report.birthdays_keyed
                );
            }
            Ok(())
        }
        Command::Bench { action: BenchAction::Run { url, scenario, duration, connections, email, password, json } } => {
            let scenarios =
                if scenario.is_empty() { bench::SCENARIOS.iter().map(|s| s.to_string()).collect() } else { scenario };
            let known = |s: &str| bench::SCENARIOS.contains(&s) || bench::KB_SCENARIOS.contains(&s);
            if let Some(bad) = scenarios.iter().find(|s| !known(s.as_str())) {
                anyhow::bail!(
                    "unknown scenario {bad:?}; known: {}, {}",
                    bench::SCENARIOS.join(", "),
                    bench::KB_SCENARIOS.join(", ")
                );
            }
            let opts = bench::RunOptions {
                urls: url,
                scenarios,
                duration: std::time::Duration::from_secs(duration.max(1)),
                connections: connections.max(1),
                email,
                password,
                seed: 7,
            };
            let results = bench::run(&opts).await?;
            bench::print_table(&results);
            if let Some(path) = json {
                std::fs::write(&path, serde_json::to_string_pretty(&results)?)?;
            }
            if results.iter().any(|r| r.errors > 0) {
                anyhow::bail!("some requests failed");
            }
            Ok(())
        }
        Command::Bench { action: BenchAction::All { scale, fresh, duration, database_url, instances, json } } => {
            if !(scale > 0.0 && scale <= 10.0) {
                anyhow::bail!("--scale must be between 0 and 10");
            }
            let data_dir = cli.data_dir.clone().context("bench all needs --data-dir (its data set lives there)")?;
            let opts = bench_all::AllOptions {
                scale,
                data_dir,
                fresh,
                duration: std::time::Duration::from_secs(duration.max(1)),
                database_url,
                instances: instances.max(1),
                json,
            };
            let report = bench_all::run(&opts).await?;
            if let Some(path) = &opts.json {
                bench_all::write_json(&report, path)?;
            }
            if !bench_all::clean(&report) {
                anyhow::bail!("some scenarios had errors");
            }
            Ok(())
        }
        Command::Backup { file, json } => {
            let target = config.db_target()?;
            let report = guanxi_store::backup::backup(&target, &file)
                .with_context(|| format!("cannot back up {target:?} to {}", file.display()))?;
            print_copy_report(&report, json, &format!("Backed up {target:?} to {}", file.display()))?;
            eprintln!(
                "The data key is not in the backup: keep GUANXI_DATA_KEY or {} with it, apart from the file.",
                config.key_file().display()
            );
            Ok(())
        }
        Command::Restore { file, json } => {
            let target = config.db_target()?;
            let report = guanxi_store::backup::restore(&target, &file)
                .with_context(|| format!("cannot restore {} into {target:?}", file.display()))?;
            print_copy_report(&report, json, &format!("Restored {} into {target:?}", file.display()))?;
            eprintln!(
                "Start the server with the data key of the backed-up database (GUANXI_DATA_KEY or {}).",
                config.key_file().display()
            );
            Ok(())
        }
        Command::Analyze { command } => analyze::run(command),
        Command::Demo { seed, customers } => {
            let state = guanxi_server::prepare(config, Arc::new(SystemClock)).await?;
            demo(&state, &DemoOptions { seed, customers }).await
        }
        Command::Import { kind, file, dry_run, map, lang } => {
            let state = guanxi_server::prepare(config, Arc::new(SystemClock)).await?;
            transfer::import(&state, kind, &file, dry_run, &map, &lang).await
        }
        Command::Export { what: transfer::ExportArg::Customers, file } => {
            let state = guanxi_server::prepare(config, Arc::new(SystemClock)).await?;
            transfer::export_customers(&state, &file).await
        }
    }
}
