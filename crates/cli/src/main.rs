//! `guanxi`: the one binary. `serve` runs the server, `migrate` applies the
//! database migrations, `demo` loads realistic demo data.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use guanxi_domain::SystemClock;
use guanxi_server::config::Config;
use guanxi_server::demo::DemoOptions;

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
    /// Loads the demo data set into the database and exits.
    Demo {
        #[arg(long, default_value_t = DemoOptions::default().seed)]
        seed: u64,
        #[arg(long, default_value_t = DemoOptions::default().customers)]
        customers: usize,
    },
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
        Some(s) => println!(
            "Loaded demo data: {} groups, {} staff, {} customers. Demo staff log in with password \"{}\" (e.g. chen.jing@demo.guanxi.cn, supervisor; admin@demo.guanxi.cn, admin).",
            s.groups,
            s.users,
            s.customers,
            guanxi_server::demo::DEMO_PASSWORD
        ),
        None => println!("Demo data is already loaded."),
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .init();
    let cli = Cli::parse();
    let mut config = load_config(&cli)?;
    match cli.command {
        Command::Serve { listen, demo: with_demo } => {
            if let Some(l) = listen {
                config.listen = l;
            }
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
        Command::Demo { seed, customers } => {
            let state = guanxi_server::prepare(config, Arc::new(SystemClock)).await?;
            demo(&state, &DemoOptions { seed, customers }).await
        }
    }
}
