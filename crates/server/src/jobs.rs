//! The scheduler (SPEC T7): one mechanism for every timed piece of work.
//! Work is a durable row in `jobs` (see `guanxi_store::jobs`), armed in
//! the transaction of the change that makes it due; every instance polls,
//! leases the due rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL) and runs
//! them through the handler of their kind, which completes the row in the
//! transaction of its effects. Several instances on one PostgreSQL run
//! each due job once; a restart loses nothing (the rows wait).
//!
//! A capability adds a kind by arming rows with `jobs::schedule` and
//! adding its handler to [`run`].

use std::sync::OnceLock;
use std::time::Duration;

use guanxi_store::jobs::{self, Lease};
use jiff::SignedDuration;

use crate::error::{AppError, AppResult};
use crate::service::tickets::{self, clocks};
use crate::state::AppState;

/// How long a lease lasts: a run that takes longer loses its job to the
/// next poll (and rolls back).
pub const LEASE: SignedDuration = SignedDuration::from_secs(60);
/// Jobs leased per claim.
pub const BATCH: i64 = 32;
/// A failing job is retried this many times, then given up (kept with its error).
pub const MAX_CLAIMS: i64 = 10;

/// This process's name on its leases: host, process id and a random part.
pub fn owner() -> &'static str {
    static OWNER: OnceLock<String> = OnceLock::new();
    OWNER.get_or_init(|| {
        let host = std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "guanxi".into());
        let random: String = crate::auth::random_token().chars().take(6).collect();
        format!("{host}-{}-{random}", std::process::id())
    })
}

/// Runs one leased job with the handler of its kind.
async fn run(state: &AppState, lease: Lease) -> AppResult<()> {
    match lease.kind.as_str() {
        tickets::SLA_JOB => clocks::run_sla(state, lease).await,
        tickets::ESCALATION_JOB => clocks::run_escalation(state, lease).await,
        crate::service::complaints::DEADLINE_JOB => {
            crate::service::complaints::workflow::run_deadlines(state, lease).await
        }
        crate::service::outreach::OUTBOX_JOB => crate::service::outreach::delivery::run(state, lease).await,
        crate::service::outreach::surveys::SURVEY_JOB => crate::service::outreach::surveys::run_job(state, lease).await,
        crate::service::privacy::RETENTION_JOB => crate::service::privacy::run_retention(state, lease).await,
        other => Err(AppError::Internal(format!("no handler for job kind {other:?}"))),
    }
}

fn lease_lost(e: &AppError) -> bool {
    matches!(e, AppError::Internal(m) if m.ends_with(clocks::LEASE_LOST))
}

/// Leases and runs every job due now, batch after batch; returns how many
/// ran to completion. The scheduler loop calls it; tests call it after
/// moving the clock.
pub async fn run_due(state: &AppState) -> AppResult<usize> {
    let mut done = 0;
    loop {
        let now = state.clock.now();
        let owner = owner().to_string();
        let leases = state.db.write(move |c| jobs::claim(c, &owner, now, LEASE, BATCH)).await?;
        if leases.is_empty() {
            return Ok(done);
        }
        for lease in leases {
            let (id, kind, claim_no) = (lease.id, lease.kind.clone(), lease.claim);
            match run(state, lease.clone()).await {
                Ok(()) => done += 1,
                Err(e) if lease_lost(&e) => tracing::debug!(job = id, %kind, "job lease lost; its new holder runs it"),
                Err(e) => {
                    tracing::warn!(job = id, %kind, error = %e, "job failed");
                    let now = state.clock.now();
                    // Back off: 1, 2, 4 … minutes, at most an hour.
                    let wait = SignedDuration::from_mins(1_i64 << claim_no.clamp(1, 7).saturating_sub(1))
                        .min(SignedDuration::from_hours(1));
                    let retry = now.checked_add(wait).unwrap_or(now);
                    let msg = e.to_string();
                    state.db.write(move |c| jobs::fail(c, &lease, now, &msg, retry, MAX_CLAIMS)).await?;
                }
            }
        }
    }
}

/// Starts the scheduler loop of this instance (unless polling is off).
pub fn spawn(state: AppState) {
    let Some(every) = state.config.scheduler_poll_ms else { return };
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(every.max(10)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = run_due(&state).await {
                tracing::warn!(error = %e, "scheduler: could not run due jobs");
            }
        }
    });
}
