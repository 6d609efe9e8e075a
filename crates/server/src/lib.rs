//! The Guanxi server: JSON API under `/api/v1` (with its OpenAPI document),
//! server-rendered pages, authentication, and start-up (database, data key,
//! first administrator).

pub mod api;
pub mod auth;
pub mod authz;
pub mod bench_data;
pub mod bench_kb;
pub mod bench_tickets;
pub mod config;
pub mod crypto;
pub mod demo;
mod demo_360;
mod demo_kb;
mod demo_surveys;
mod demo_tickets;
pub mod error;
pub mod export;
pub mod import;
pub mod jobs;
pub mod lang;
pub mod service;
pub mod state;
pub mod web;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::http::{HeaderValue, header};
use guanxi_domain::Clock;
use guanxi_domain::user::{UserDraft, UserInput};
use guanxi_store::{Db, settings, users};
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::Config;
use crate::crypto::PiiCipher;
use crate::state::AppState;

/// Opens the database, loads the data key and makes sure an administrator
/// exists. Everything `serve` needs before it listens.
pub async fn prepare(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
    let target = config.db_target()?;
    tracing::info!(database = ?target, "opening database");
    let db = Db::open(&target, &config.db_options()).with_context(|| format!("cannot open database {target:?}"))?;
    let cipher = load_data_key(&config, &db, clock.now()).await?;
    bootstrap_admin(&config, &db, clock.as_ref()).await?;
    service::privacy::arm_retention(&db, &config, clock.now()).await?;
    Ok(AppState::new(state::Shared {
        db,
        clock,
        cipher,
        templates: Arc::new(web::templates::Templates::new()?),
        config: Arc::new(config),
        ticket_setup: Default::default(),
        api_tokens: Default::default(),
    }))
}

/// The key for personal data: `GUANXI_DATA_KEY`, else the key file. A new
/// database gets a generated key file; a database that already has
/// encrypted data refuses a missing or different key.
async fn load_data_key(config: &Config, db: &Db, now: jiff::Timestamp) -> anyhow::Result<PiiCipher> {
    let stored_check = db.read(|c| settings::get(c, "data_key_check")).await?;
    let key_file = config.key_file();
    let key = match &config.data_key {
        Some(k) => k.clone(),
        None if key_file.exists() => std::fs::read_to_string(&key_file)
            .with_context(|| format!("cannot read the data key file {}", key_file.display()))?,
        None if stored_check.is_none() => {
            let key = PiiCipher::generate_key();
            if let Some(dir) = key_file.parent() {
                std::fs::create_dir_all(dir)?;
            }
            write_private(&key_file, &key)?;
            tracing::warn!(file = %key_file.display(), "generated a new data key for personal data; back it up with the database");
            key
        }
        None => anyhow::bail!(
            "personal data in this database is encrypted, but no data key was found: set GUANXI_DATA_KEY or restore {}",
            key_file.display()
        ),
    };
    let cipher = PiiCipher::from_base64(&key).context("GUANXI_DATA_KEY / data key file")?;
    match stored_check {
        Some(check) if check != cipher.key_check() => anyhow::bail!(
            "the data key does not match the one this database was encrypted with (GUANXI_DATA_KEY or {})",
            key_file.display()
        ),
        Some(_) => {}
        None => {
            let check = cipher.key_check().to_string();
            db.write(move |c| settings::set(c, "data_key_check", &check, now)).await?;
        }
    }
    Ok(cipher)
}

fn write_private(path: &std::path::Path, content: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(content.as_bytes())?;
    Ok(())
}

/// On an empty database, creates the first administrator from
/// `GUANXI_ADMIN_EMAIL` / `GUANXI_ADMIN_PASSWORD`, or with a random password
/// printed once.
async fn bootstrap_admin(config: &Config, db: &Db, clock: &dyn Clock) -> anyhow::Result<()> {
    if db.read(users::count).await? > 0 {
        return Ok(());
    }
    let (password, generated) = match &config.admin_password {
        Some(p) => (p.clone(), false),
        None => (auth::random_token().chars().take(16).collect::<String>(), true),
    };
    let draft = UserDraft::parse(
        &UserInput {
            email: config.admin_email.clone(),
            name: "管理员".into(),
            role: "admin".into(),
            password: Some(password.clone()),
            certified: Some(true),
            ..Default::default()
        },
        true,
    )
    .map_err(|e| anyhow::anyhow!("GUANXI_ADMIN_EMAIL / GUANXI_ADMIN_PASSWORD: {e}"))?;
    let hash = auth::password::hash(password.clone()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let now = clock.now();
    db.write(move |c| users::create(c, &draft, &hash, now)).await?;
    if generated {
        // Printed once, to the console of whoever started the server.
        println!(
            "\n  Created the first administrator: {}  password: {password}\n  (set GUANXI_ADMIN_PASSWORD to choose it)\n",
            config.admin_email
        );
    } else {
        tracing::info!(email = %config.admin_email, "created the first administrator");
    }
    Ok(())
}

/// The largest request body outside file uploads (2 MiB).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// How long a request outside file uploads may take, seconds.
pub const REQUEST_SECS: u64 = 30;

/// The whole application router.
pub fn app(state: AppState) -> Router {
    let mut security = vec![
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; \
             base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
        ),
        (
            header::HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
        ),
        (header::HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
        (header::HeaderName::from_static("cross-origin-resource-policy"), "same-origin"),
        // Pages and API answers carry personal data: no copies in caches
        // (the compiled-in assets set their own).
        (header::CACHE_CONTROL, "no-store"),
    ];
    if state.config.cookie_secure {
        // Served over HTTPS (secure cookies): browsers keep to it.
        security.push((header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"));
    }
    // Each group of routes has its own body limit and time limit; a request
    // over either gets a clear 413 / 408 (problem+json or a page) from the
    // error renderer, which sits outside both and is told the limits.
    let limited = |router: Router<AppState>, body_bytes: usize, secs: u64| {
        router
            // Who may call what: refused before any handler runs (authz.rs).
            .layer(axum::middleware::from_fn_with_state(state.clone(), authz::enforce))
            .layer(axum::extract::DefaultBodyLimit::max(body_bytes))
            .layer(tower_http::limit::RequestBodyLimitLayer::new(body_bytes))
            .layer(tower_http::timeout::TimeoutLayer::with_status_code(
                axum::http::StatusCode::REQUEST_TIMEOUT,
                Duration::from_secs(secs),
            ))
            .layer(axum::middleware::from_fn_with_state(state.clone(), web::render_errors))
            .layer(axum::Extension(web::RequestLimits { body_bytes, timeout_secs: secs }))
    };
    // File imports (the API's and the import page's) are larger and slower
    // than any other request.
    let uploads = limited(api::upload_router().merge(web::upload_router()), import::MAX_UPLOAD_BYTES, 300);
    // Ticket attachments: up to the configured size, plus the form around it.
    let attachment_limit =
        usize::try_from(state.config.attachment_max_bytes()).unwrap_or(usize::MAX).saturating_add(1024 * 1024);
    let attachments = limited(api::attachment_router().merge(web::attachment_router()), attachment_limit, 300);
    let mut router = limited(Router::new().merge(api::router()).merge(web::router()), MAX_BODY_BYTES, REQUEST_SECS)
        .merge(uploads)
        .merge(attachments)
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(tower_http::trace::TraceLayer::new_for_http());
    for (name, value) in security {
        router = router.layer(SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value)));
    }
    router.with_state(state)
}

/// Serves on an already bound listener until `shutdown` resolves. Tests
/// pass a listener on port 0.
pub async fn serve_with_listener(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    service::segments::spawn_nightly(state.clone());
    service::maintenance::spawn_jobs(state.clone());
    jobs::spawn(state.clone());
    let service = app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service).with_graceful_shutdown(shutdown).await?;
    Ok(())
}

/// Adds the demo's half year of tickets (see `demo_tickets`) and the
/// satisfaction surveys of the resolved ones (`demo_surveys`) after
/// [`load_demo`] loaded the rest; `serve --demo` does both. How many
/// tickets.
pub async fn load_demo_tickets(state: &AppState, opts: &demo::DemoOptions) -> anyhow::Result<usize> {
    let tickets = demo_tickets::load(state, opts.seed).await?;
    demo_surveys::load(state, opts.seed).await?;
    Ok(tickets)
}

/// Loads the demo data set with this server's data key (see [`demo`]).
pub async fn load_demo(state: &AppState, opts: &demo::DemoOptions) -> anyhow::Result<Option<demo::DemoSummary>> {
    let cipher = state.cipher.clone();
    let cipher2 = state.cipher.clone();
    let phone = move |p: &guanxi_domain::contact::PhoneNumber| cipher.seal_phone(p);
    let email = move |e: &guanxi_domain::contact::Email| cipher2.seal_email(e);
    let sealers = demo::Sealers { phone: &phone, email: &email };
    let hash = auth::password::hash(demo::DEMO_PASSWORD.to_string()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let summary = demo::load(&state.db, opts, &sealers, &hash, state.clock.now(), state.today()).await?;
    if summary.is_some() {
        // The 360 layer goes through the services, acting as the demo admin.
        let admin = state
            .db
            .read(|c| Ok(users::list(c)?.into_iter().find(|u| u.email == "admin@demo.guanxi.cn" && u.active)))
            .await?;
        if let Some(admin) = admin {
            demo_360::load(state, &admin, opts.seed).await.map_err(|e| anyhow::anyhow!("demo 360 data: {e}"))?;
            demo_kb::load(state, &admin).await.map_err(|e| anyhow::anyhow!("demo knowledge base: {e}"))?;
        }
    }
    Ok(summary)
}
