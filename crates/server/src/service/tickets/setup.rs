//! Everything ticket handling reads on every ticket — the SLA policy, the
//! routing rules, the escalation paths, the groups' settings and the
//! calendars of every schedule — loaded in one read and kept for a few
//! seconds. Changes made through this instance drop it at once; another
//! instance on the same PostgreSQL sees them within [`MAX_AGE`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use guanxi_domain::calendar::{BusinessCalendar, DayOverride, WeeklySchedule};
use guanxi_domain::ticket::escalation::EscalationPath;
use guanxi_domain::ticket::routing::{AssignMode, RoutingRule};
use guanxi_domain::ticket::sla::SlaPolicy;
use guanxi_store::escalation::StoredPath;
use guanxi_store::routing::StoredRule;
use guanxi_store::{calendar as store_calendar, escalation, routing, settings};

use crate::error::{AppError, AppResult};
use crate::service::calendar::{DEFAULT_SCHEDULE, parse_hours};
use crate::state::AppState;

/// How long a loaded setup is used before it is read again.
pub const MAX_AGE: Duration = Duration::from_secs(5);

pub const POLICY_KEY: &str = "ticket_sla_policy";
pub const DEFAULT_GROUP_KEY: &str = "ticket_default_group";

/// A group's service settings.
#[derive(Debug, Clone)]
pub struct GroupService {
    pub name: String,
    pub schedule: String,
    pub mode: AssignMode,
}

#[derive(Debug)]
pub struct TicketSetup {
    pub policy: SlaPolicy,
    /// Enabled rules, in order.
    pub rules: Vec<RoutingRule>,
    /// Enabled paths, in order (for starting an escalation).
    pub paths: Vec<EscalationPath>,
    /// Every path by id (a running escalation follows its path even if it
    /// was disabled since).
    pub all_paths: HashMap<i64, EscalationPath>,
    pub groups: HashMap<i64, GroupService>,
    pub calendars: HashMap<String, BusinessCalendar>,
    pub schedule_names: HashMap<String, String>,
    pub default_group: Option<i64>,
}

impl TicketSetup {
    /// The calendar of a schedule (the default one when the code is unknown,
    /// e.g. a schedule removed since).
    pub fn calendar(&self, code: &str) -> &BusinessCalendar {
        self.calendars.get(code).or_else(|| self.calendars.get(DEFAULT_SCHEDULE)).unwrap_or_else(|| {
            // Every database has the default schedule (migration 0007); a
            // calendar without hours is the safe stand-in if it was removed.
            &FALLBACK
        })
    }

    pub fn schedule_name<'a>(&'a self, code: &'a str) -> &'a str {
        self.schedule_names.get(code).map_or(code, String::as_str)
    }

    pub fn group_schedule(&self, group: Option<i64>) -> String {
        group.and_then(|g| self.groups.get(&g)).map_or_else(|| DEFAULT_SCHEDULE.to_string(), |g| g.schedule.clone())
    }
}

static FALLBACK: std::sync::LazyLock<BusinessCalendar> = std::sync::LazyLock::new(|| {
    BusinessCalendar::new(
        WeeklySchedule::standard(),
        [],
        jiff::tz::TimeZone::get("Asia/Shanghai").unwrap_or(jiff::tz::TimeZone::UTC),
    )
});

/// The cached setup of one server.
#[derive(Debug, Default)]
pub struct SetupCache {
    slot: Mutex<Option<(Instant, Arc<TicketSetup>)>>,
}

impl SetupCache {
    pub fn invalidate(&self) {
        *self.slot.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

fn rule(r: StoredRule) -> RoutingRule {
    RoutingRule { id: r.id, name: r.name, conditions: r.conditions, group_id: r.group_id, skill: r.skill }
}

fn path(p: &StoredPath) -> EscalationPath {
    EscalationPath { id: p.id, name: p.name.clone(), conditions: p.conditions.clone(), steps: p.steps.clone() }
}

/// The stored SLA policy, or the defaults.
pub fn parse_policy(raw: Option<String>) -> AppResult<SlaPolicy> {
    match raw {
        None => Ok(SlaPolicy::default()),
        Some(s) => serde_json::from_str(&s).map_err(|e| AppError::Internal(format!("settings.{POLICY_KEY}: {e}"))),
    }
}

async fn load(state: &AppState) -> AppResult<TicketSetup> {
    let (policy, default_group, rules, paths, groups, schedules, overrides) = state
        .db
        .read(|c| {
            Ok((
                settings::get(c, POLICY_KEY)?,
                settings::get(c, DEFAULT_GROUP_KEY)?,
                routing::rules(c)?,
                escalation::paths(c)?,
                routing::group_settings(c)?,
                store_calendar::schedules(c)?,
                store_calendar::overrides(c)?,
            ))
        })
        .await?;
    let overrides: Vec<DayOverride> =
        overrides.iter().map(|o| DayOverride { date: o.date, working: o.working, name: o.name.clone() }).collect();
    let mut calendars = HashMap::new();
    let mut schedule_names = HashMap::new();
    for s in &schedules {
        let hours = parse_hours(s)?;
        calendars.insert(
            s.code.clone(),
            BusinessCalendar::new(hours, overrides.iter().cloned(), state.config.time_zone.clone()),
        );
        schedule_names.insert(s.code.clone(), s.name.clone());
    }
    Ok(TicketSetup {
        policy: parse_policy(policy)?,
        rules: rules.into_iter().filter(|r| r.enabled).map(rule).collect(),
        paths: paths.iter().filter(|p| p.enabled).map(path).collect(),
        all_paths: paths.iter().map(|p| (p.id, path(p))).collect(),
        groups: groups
            .into_iter()
            .map(|g| (g.group_id, GroupService { name: g.group_name, schedule: g.schedule_code, mode: g.assign_mode }))
            .collect(),
        calendars,
        schedule_names,
        default_group: default_group.and_then(|g| g.parse().ok()),
    })
}

/// The current setup (read again when older than [`MAX_AGE`]).
pub async fn get(state: &AppState) -> AppResult<Arc<TicketSetup>> {
    let cache = &state.ticket_setup;
    if let Some((at, s)) = cache.slot.lock().unwrap_or_else(|e| e.into_inner()).as_ref()
        && at.elapsed() < MAX_AGE
    {
        return Ok(s.clone());
    }
    let fresh = Arc::new(load(state).await?);
    *cache.slot.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), fresh.clone()));
    Ok(fresh)
}
