//! The administrator's ticket settings (SPEC T2–T4): the SLA policy,
//! routing rules, escalation paths, each group's schedule and assignment
//! mode, and the default group. Everyone may read them (they explain what
//! happens to a ticket); administrators change them. Every change is
//! audited and drops the cached setup.

use guanxi_domain::ticket::escalation::{self, EscalationStep, PathConditions, StepTarget};
use guanxi_domain::ticket::routing::{self, AssignMode, RuleConditions};
use guanxi_domain::ticket::sla::SlaPolicy;
use guanxi_domain::{Issue, ValidationErrors, validation};
use guanxi_store::escalation::{self as store_paths, PathRow, StoredPath};
use guanxi_store::routing::{self as store_routing, GroupSettings, RuleRow, StoredRule};
use guanxi_store::users::{self as store_users, User};
use guanxi_store::{Conn, audit, calendar as store_calendar, settings as store_settings};
use serde::Deserialize;
use utoipa::ToSchema;

use super::setup::{self, DEFAULT_GROUP_KEY, POLICY_KEY};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

fn admin(user: &User) -> AppResult<()> {
    if user.role.can_configure_service() { Ok(()) } else { Err(AppError::Forbidden) }
}

fn audit(
    c: &mut Conn,
    user: &User,
    now: jiff::Timestamp,
    action: &str,
    entity: &str,
    id: Option<i64>,
    detail: String,
) -> guanxi_store::Result<()> {
    audit::record(
        c,
        now,
        &audit::AuditEntry { actor_id: Some(user.id), action, entity, entity_id: id, detail, ip: None },
    )
}

fn schedule_exists(c: &mut Conn, code: &str, field: &str) -> guanxi_store::Result<()> {
    if store_calendar::schedule(c, code)?.is_none() {
        return Err(ValidationErrors::single(field, Issue::Unknown).into());
    }
    Ok(())
}

// ---- SLA policy ----

pub async fn policy(state: &AppState) -> AppResult<SlaPolicy> {
    Ok(setup::get(state).await?.policy.clone())
}

pub async fn save_policy(state: &AppState, user: &User, policy: SlaPolicy) -> AppResult<SlaPolicy> {
    admin(user)?;
    policy.check()?;
    let json = serde_json::to_string(&policy).map_err(|e| AppError::Internal(e.to_string()))?;
    let now = state.clock.now();
    let user = user.clone();
    let schedule = policy.high_value_schedule.clone();
    state
        .db
        .write(move |c| {
            schedule_exists(c, &schedule, "high_value_schedule")?;
            store_settings::set(c, POLICY_KEY, &json, now)?;
            audit(c, &user, now, "update", "sla_policy", None, json)
        })
        .await?;
    state.ticket_setup.invalidate();
    Ok(policy)
}

// ---- Routing rules ----

/// A routing rule as an administrator writes it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    pub name: String,
    /// Lower first; rules are tried in order and the first match wins.
    pub position: Option<i64>,
    pub enabled: Option<bool>,
    #[serde(default)]
    pub conditions: RuleConditions,
    pub group_id: Option<i64>,
    /// Only agents with this skill take the ticket.
    pub skill: Option<String>,
}

struct CleanRule {
    name: String,
    position: Option<i64>,
    enabled: bool,
    conditions: RuleConditions,
    group_id: i64,
    skill: Option<String>,
}

fn clean_rule(input: RuleInput) -> Result<CleanRule, ValidationErrors> {
    let mut e = ValidationErrors::new();
    let name = e.check("name", validation::required_text(&input.name, 30));
    let conditions = match input.conditions.normalise() {
        Ok(c) => Some(c),
        Err(errs) => {
            e.0.extend(errs.0);
            None
        }
    };
    let group_id = e.check("group_id", input.group_id.filter(|g| *g > 0).ok_or(Issue::Required));
    let skill = match input.skill.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => e.check("skill", routing::parse_skill(s).map(Some)),
        None => Some(None),
    };
    match (name, conditions, group_id, skill) {
        (Some(name), Some(conditions), Some(group_id), Some(skill)) if e.is_empty() => Ok(CleanRule {
            name,
            position: input.position,
            enabled: input.enabled.unwrap_or(true),
            conditions,
            group_id,
            skill,
        }),
        _ => Err(e),
    }
}

pub async fn rules(state: &AppState) -> AppResult<Vec<StoredRule>> {
    Ok(state.db.read(store_routing::rules).await?)
}

/// Creates (`id` None) or replaces a rule.
pub async fn save_rule(state: &AppState, user: &User, id: Option<i64>, input: RuleInput) -> AppResult<StoredRule> {
    admin(user)?;
    let r = clean_rule(input)?;
    let now = state.clock.now();
    let user = user.clone();
    let saved = state
        .db
        .write(move |c| {
            let position = match r.position {
                Some(p) => p,
                None => store_routing::next_rule_position(c)?,
            };
            let row = RuleRow {
                name: &r.name,
                position,
                enabled: r.enabled,
                conditions: &r.conditions,
                group_id: r.group_id,
                skill: r.skill.as_deref(),
            };
            let id = match id {
                Some(id) => {
                    store_routing::update_rule(c, id, &row, user.id, now)?;
                    id
                }
                None => store_routing::create_rule(c, &row, user.id, now)?,
            };
            let rule = store_routing::rule_by_id(c, id)?;
            audit(c, &user, now, "update", "routing_rule", Some(id), serde_json::to_string(&rule).unwrap_or_default())?;
            Ok(rule)
        })
        .await?;
    state.ticket_setup.invalidate();
    Ok(saved)
}

pub async fn delete_rule(state: &AppState, user: &User, id: i64) -> AppResult<()> {
    admin(user)?;
    let now = state.clock.now();
    let user = user.clone();
    state
        .db
        .write(move |c| {
            store_routing::delete_rule(c, id)?;
            audit(c, &user, now, "delete", "routing_rule", Some(id), String::new())
        })
        .await?;
    state.ticket_setup.invalidate();
    Ok(())
}

// ---- Escalation paths ----

/// An escalation path as an administrator writes it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PathInput {
    pub name: String,
    /// Lower first; the first path that applies to a ticket is used.
    pub position: Option<i64>,
    pub enabled: Option<bool>,
    #[serde(default)]
    pub conditions: PathConditions,
    pub steps: Vec<EscalationStep>,
}

pub async fn paths(state: &AppState) -> AppResult<Vec<StoredPath>> {
    Ok(state.db.read(store_paths::paths).await?)
}

pub async fn save_path(state: &AppState, user: &User, id: Option<i64>, input: PathInput) -> AppResult<StoredPath> {
    admin(user)?;
    let name = escalation::check_path(&input.name, &input.steps)?;
    let mut steps = input.steps;
    for s in &mut steps {
        s.name = s.name.trim().to_string();
    }
    let now = state.clock.now();
    let user = user.clone();
    let saved = state
        .db
        .write(move |c| {
            for (i, s) in steps.iter().enumerate() {
                if let StepTarget::User { user_id } = s.target {
                    match store_users::get(c, user_id) {
                        Ok(u) if u.active => {}
                        Ok(_) | Err(guanxi_store::StoreError::NotFound) => {
                            return Err(ValidationErrors::single(&format!("steps[{i}].target"), Issue::Unknown).into());
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
            let position = match input.position {
                Some(p) => p,
                None => store_paths::next_path_position(c)?,
            };
            let row = PathRow {
                name: &name,
                position,
                enabled: input.enabled.unwrap_or(true),
                conditions: &input.conditions,
                steps: &steps,
            };
            let id = match id {
                Some(id) => {
                    store_paths::update_path(c, id, &row, user.id, now)?;
                    id
                }
                None => store_paths::create_path(c, &row, user.id, now)?,
            };
            let path = store_paths::path_by_id(c, id)?;
            audit(
                c,
                &user,
                now,
                "update",
                "escalation_path",
                Some(id),
                serde_json::to_string(&path).unwrap_or_default(),
            )?;
            Ok(path)
        })
        .await?;
    state.ticket_setup.invalidate();
    Ok(saved)
}

pub async fn delete_path(state: &AppState, user: &User, id: i64) -> AppResult<()> {
    admin(user)?;
    let now = state.clock.now();
    let user = user.clone();
    state
        .db
        .write(move |c| {
            store_paths::delete_path(c, id)?;
            audit(c, &user, now, "delete", "escalation_path", Some(id), String::new())
        })
        .await?;
    state.ticket_setup.invalidate();
    Ok(())
}

// ---- Groups ----

pub async fn groups(state: &AppState) -> AppResult<(Vec<GroupSettings>, Option<i64>)> {
    Ok(state
        .db
        .read(|c| {
            Ok((
                store_routing::group_settings(c)?,
                store_settings::get(c, DEFAULT_GROUP_KEY)?.and_then(|g| g.parse().ok()),
            ))
        })
        .await?)
}

/// A group's schedule (`default`, `7x24`, `7x12`, …) and assignment mode.
pub async fn save_group(
    state: &AppState,
    user: &User,
    group_id: i64,
    schedule: &str,
    mode: &str,
) -> AppResult<GroupSettings> {
    admin(user)?;
    let mut e = ValidationErrors::new();
    let schedule = e.check("schedule_code", validation::required_text(schedule, 30));
    let mode = e.check("assign_mode", AssignMode::parse(mode));
    let (Some(schedule), Some(mode)) = (schedule, mode) else { return Err(e.into()) };
    let now = state.clock.now();
    let user = user.clone();
    let saved = state
        .db
        .write(move |c| {
            schedule_exists(c, &schedule, "schedule_code")?;
            store_routing::save_group_settings(c, group_id, &schedule, mode, now)?;
            audit(c, &user, now, "update", "ticket_group", Some(group_id), format!("{schedule} {}", mode.code()))?;
            store_routing::group_setting(c, group_id)
        })
        .await?;
    state.ticket_setup.invalidate();
    Ok(saved)
}

/// The group tickets go to when no rule matches (`None`: the creator's group).
pub async fn set_default_group(state: &AppState, user: &User, group_id: Option<i64>) -> AppResult<()> {
    admin(user)?;
    let now = state.clock.now();
    let user = user.clone();
    state
        .db
        .write(move |c| {
            if let Some(g) = group_id
                && !store_routing::group_exists(c, g)?
            {
                return Err(ValidationErrors::single("default_group_id", Issue::Unknown).into());
            }
            let v = group_id.map(|g| g.to_string()).unwrap_or_default();
            store_settings::set(c, DEFAULT_GROUP_KEY, &v, now)?;
            audit(c, &user, now, "update", "ticket_default_group", group_id, v)
        })
        .await?;
    state.ticket_setup.invalidate();
    Ok(())
}
