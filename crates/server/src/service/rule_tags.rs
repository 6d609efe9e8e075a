//! Rule tags defined by administrators (SPEC G6): list, create, edit,
//! enable/disable, delete, and what the recompute job needs — the enabled rules,
//! read once per run, and [`evaluate`], called once per customer from facts
//! the job has already computed (no query per customer).

use guanxi_domain::segment::{CustomerFacts, RuleTagSet, Segment, tags_tested, validate_rule_tag};
use guanxi_domain::{Issue, ValidationErrors};
use guanxi_store::rule_tags::{self as store, RuleTag};
use guanxi_store::{StoreError, audit};

use crate::error::{AppError, AppResult};
use crate::service::segments::parse_segment;
use crate::state::AppState;
use guanxi_store::users::User;

/// Every rule tag, in display order (anyone signed in may read them: they
/// say what a tag on a customer means).
pub async fn list(state: &AppState) -> AppResult<Vec<RuleTag>> {
    Ok(state.db.read(store::list).await?)
}

pub async fn get(state: &AppState, id: i64) -> AppResult<RuleTag> {
    Ok(state.db.read(move |c| store::get(c, id)).await?)
}

/// The names of the enabled rule tags (for the builder's tag suggestions).
pub async fn enabled_names(state: &AppState) -> AppResult<Vec<String>> {
    Ok(state.db.read(store::enabled).await?.into_iter().map(|(n, _)| n).collect())
}

/// The enabled rule tags, ready for a recomputation. A definition that can
/// no longer be read (only from a hand-edited database) is left out and
/// logged.
pub async fn load_set(state: &AppState) -> AppResult<RuleTagSet> {
    let rows = state.db.read(store::enabled).await?;
    let rules = rows
        .into_iter()
        .filter_map(|(name, def)| match parse_segment(&def) {
            Ok(seg) => Some((name, seg)),
            Err(e) => {
                tracing::warn!(rule_tag = %name, error = %e, "rule tag skipped: its definition cannot be read");
                None
            }
        })
        .collect();
    Ok(RuleTagSet::new(rules))
}

/// The rule tags of one customer, from the facts the recompute job already
/// has (tier, activity, RFM, signals, tags, fields).
pub fn evaluate(rules: &RuleTagSet, facts: CustomerFacts) -> Vec<String> {
    if rules.is_empty() {
        return Vec::new();
    }
    rules.apply(facts)
}

/// What an administrator submits. `None` keeps the stored value (editing).
#[derive(Debug, Clone, Default)]
pub struct RuleTagChange {
    pub name: Option<String>,
    pub definition: Option<Segment>,
    pub enabled: Option<bool>,
}

fn admin_only(user: &User) -> AppResult<()> {
    if user.role.can_administer_users() { Ok(()) } else { Err(AppError::Forbidden) }
}

/// Checks the rule tag against the others inside the write, so two
/// administrators saving at once cannot build a cycle or share a name.
/// Returns (name, definition JSON, enabled).
fn checked(
    c: &mut guanxi_store::Conn,
    id: Option<i64>,
    change: &RuleTagChange,
) -> guanxi_store::Result<(String, String, bool)> {
    let all = store::list(c)?;
    let current = match id {
        Some(id) => Some(all.iter().find(|r| r.id == id).cloned().ok_or(StoreError::NotFound)?),
        None => None,
    };
    let others: Vec<(String, Segment)> = all
        .iter()
        .filter(|r| Some(r.id) != id)
        .map(|r| (r.name.clone(), parse_segment(&r.definition).unwrap_or_default()))
        .collect();
    let name = change.name.clone().or_else(|| current.as_ref().map(|r| r.name.clone())).unwrap_or_default();
    let seg = match (&change.definition, &current) {
        (Some(s), _) => s.clone(),
        (None, Some(r)) => parse_segment(&r.definition).unwrap_or_default(),
        (None, None) => Segment::default(),
    };
    let enabled = change.enabled.or(current.as_ref().map(|r| r.enabled)).unwrap_or(true);
    let name = validate_rule_tag(&name, &seg, &others)?;
    let json = serde_json::to_string(&seg).map_err(|e| StoreError::Other(e.to_string()))?;
    Ok((name, json, enabled))
}

/// Adds a rule tag (administrators); the next recomputation applies it.
pub async fn create(state: &AppState, user: &User, change: RuleTagChange) -> AppResult<i64> {
    admin_only(user)?;
    let (by, now) = (user.id, state.clock.now());
    Ok(state
        .db
        .write(move |c| {
            let (name, json, enabled) = checked(c, None, &change)?;
            let id = store::insert(c, &name, &json, enabled, by, now)?;
            audit::record(c, now, &entry(by, "create", id, &name, &json, enabled))?;
            Ok(id)
        })
        .await?)
}

/// Changes a rule tag's name, definition or switch (administrators). A
/// renamed tag is a new tag for the customers: the next recomputation
/// removes the old name and gives the new one.
pub async fn update(state: &AppState, user: &User, id: i64, change: RuleTagChange) -> AppResult<()> {
    admin_only(user)?;
    let (by, now) = (user.id, state.clock.now());
    Ok(state
        .db
        .write(move |c| {
            let (name, json, enabled) = checked(c, Some(id), &change)?;
            store::update(c, id, &name, &json, enabled, by, now)?;
            audit::record(c, now, &entry(by, "update", id, &name, &json, enabled))
        })
        .await?)
}

/// The other rule tags whose conditions test this one's name (`has_tag`):
/// deleting it would change what they mean, so it is refused until they
/// no longer do.
fn dependents(all: &[RuleTag], id: i64) -> Option<Vec<String>> {
    let name = all.iter().find(|r| r.id == id)?.name.trim().to_string();
    Some(
        all.iter()
            .filter(|r| r.id != id)
            .filter(|r| parse_segment(&r.definition).is_ok_and(|s| tags_tested(&s).contains(&name)))
            .map(|r| r.name.clone())
            .collect(),
    )
}

/// The rule tags that test this one (the confirmation page lists them).
pub async fn used_by(state: &AppState, id: i64) -> AppResult<Vec<String>> {
    let all = state.db.read(store::list).await?;
    dependents(&all, id).ok_or(AppError::NotFound)
}

/// Deletes a rule tag (administrators), audited. The next recomputation
/// takes the tag from the customers who had it, on their timelines, as for
/// a disabled one. Refused (409 `rule_tag_in_use`, nothing changed) while
/// another rule tag tests it.
pub async fn delete(state: &AppState, user: &User, id: i64) -> AppResult<()> {
    admin_only(user)?;
    let (by, now) = (user.id, state.clock.now());
    let outcome = state
        .db
        .write(move |c| {
            let all = store::list(c)?;
            let used_by = dependents(&all, id).ok_or(StoreError::NotFound)?;
            if !used_by.is_empty() {
                return Ok(Err(used_by));
            }
            let r = all.iter().find(|r| r.id == id).ok_or(StoreError::NotFound)?;
            store::delete(c, id)?;
            audit::record(c, now, &entry(by, "delete", id, &r.name, &r.definition, r.enabled))?;
            Ok(Ok(()))
        })
        .await?;
    outcome.map_err(|used_by| AppError::Refused {
        code: "rule_tag_in_use",
        zh: format!("其他规则标签的条件引用了该标签：{}；请先修改或删除它们", used_by.join("、")),
        en: format!(
            "Other rule tags test this tag in their conditions: {}; change or delete them first",
            used_by.join(", ")
        ),
    })
}

fn entry<'a>(by: i64, action: &'a str, id: i64, name: &str, json: &str, enabled: bool) -> audit::AuditEntry<'a> {
    audit::AuditEntry {
        actor_id: Some(by),
        action,
        entity: "rule_tag",
        entity_id: Some(id),
        detail: serde_json::json!({"name": name, "definition": json, "enabled": enabled}).to_string(),
        ip: None,
    }
}

/// The segment of a rule tag as submitted: JSON that does not describe a
/// segment is refused under `definition`.
pub fn definition_from_json(v: &serde_json::Value) -> Result<Segment, ValidationErrors> {
    serde_json::from_value::<Segment>(v.clone()).map_err(|_| ValidationErrors::single("definition", Issue::NotAllowed))
}
