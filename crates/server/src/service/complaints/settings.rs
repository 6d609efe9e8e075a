//! The complaint thresholds administrators set (SPEC P2): the emotion
//! scores for urgent and general, the safety words, and the batch window
//! and size. Kept as one JSON setting (`complaint.rules`); registration
//! reads it inside its own transaction, so a complaint is graded by the
//! rules in force when it is written.

use guanxi_domain::complaint::compensation::{Catalogue, CatalogueInput};
use guanxi_domain::complaint::grading::{Rules, RulesInput};
use guanxi_store::audit::{self, AuditEntry};
use guanxi_store::users::User;
use guanxi_store::{Conn, settings as store_settings};

use crate::error::{AppError, AppResult};
use crate::state::AppState;

const KEY: &str = "complaint.rules";

/// The rules in force (the defaults until an administrator saves some).
pub fn rules_in(c: &mut Conn) -> guanxi_store::Result<Rules> {
    Ok(store_settings::get(c, KEY)?.and_then(|raw| serde_json::from_str(&raw).ok()).unwrap_or_default())
}

pub async fn load(state: &AppState) -> AppResult<Rules> {
    Ok(state.db.read(rules_in).await?)
}

/// Whether a user may change the rules (as the service settings).
pub fn may_configure(user: &User) -> bool {
    user.role.can_configure_service()
}

/// Checks and saves the rules (administrators), audited with the old and new values.
pub async fn save(state: &AppState, user: &User, input: &RulesInput, ip: Option<String>) -> AppResult<Rules> {
    if !may_configure(user) {
        return Err(AppError::Forbidden);
    }
    let rules = Rules::parse(input)?;
    let json = serde_json::to_string(&rules).map_err(|e| AppError::Internal(e.to_string()))?;
    let now = state.clock.now();
    let actor = user.id;
    state
        .db
        .write(move |c| {
            let before = rules_in(c)?;
            store_settings::set(c, KEY, &json, now)?;
            let detail = format!("{} -> {json}", serde_json::to_string(&before).unwrap_or_default());
            audit::record(
                c,
                now,
                &AuditEntry {
                    actor_id: Some(actor),
                    action: "update",
                    entity: "complaint_rules",
                    entity_id: None,
                    detail,
                    ip: ip.as_deref(),
                },
            )
        })
        .await?;
    Ok(rules)
}

const COMPENSATION_KEY: &str = "complaint.compensation";

/// The compensation catalogue and limits in force (SPEC P4; seeded by
/// migration 0021, the same as the defaults).
pub fn catalogue_in(c: &mut Conn) -> guanxi_store::Result<Catalogue> {
    Ok(store_settings::get(c, COMPENSATION_KEY)?.and_then(|raw| serde_json::from_str(&raw).ok()).unwrap_or_default())
}

pub async fn load_catalogue(state: &AppState) -> AppResult<Catalogue> {
    Ok(state.db.read(catalogue_in).await?)
}

/// Checks and saves the catalogue and limits (administrators), audited with the old and new values.
pub async fn save_catalogue(
    state: &AppState,
    user: &User,
    input: &CatalogueInput,
    ip: Option<String>,
) -> AppResult<Catalogue> {
    if !may_configure(user) {
        return Err(AppError::Forbidden);
    }
    let catalogue = Catalogue::parse(input)?;
    let json = serde_json::to_string(&catalogue).map_err(|e| AppError::Internal(e.to_string()))?;
    let now = state.clock.now();
    let actor = user.id;
    state
        .db
        .write(move |c| {
            let before = store_settings::get(c, COMPENSATION_KEY)?.unwrap_or_default();
            store_settings::set(c, COMPENSATION_KEY, &json, now)?;
            audit::record(
                c,
                now,
                &AuditEntry {
                    actor_id: Some(actor),
                    action: "update",
                    entity: "complaint_compensation",
                    entity_id: None,
                    detail: format!("{before} -> {json}"),
                    ip: ip.as_deref(),
                },
            )
        })
        .await?;
    Ok(catalogue)
}
