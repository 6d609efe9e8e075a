//! Staff administration (SPEC S1): admins only.

use guanxi_domain::user::{GroupKind, UserDraft, UserInput};
use guanxi_domain::{Issue, ValidationErrors, validation};
use guanxi_store::audit::{self, AuditEntry};
use guanxi_store::users::{self, User};

use crate::auth::password;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

fn require_admin(actor: &User) -> AppResult<()> {
    if actor.role.can_administer_users() { Ok(()) } else { Err(AppError::Forbidden) }
}

pub async fn create(state: &AppState, actor: &User, input: UserInput) -> AppResult<User> {
    require_admin(actor)?;
    let draft = UserDraft::parse(&input, true)?;
    let hash = match &draft.password {
        Some(p) => password::hash(p.expose().to_string()).await?,
        None => return Err(AppError::field("password", Issue::Required)),
    };
    let now = state.clock.now();
    let actor_id = actor.id;
    Ok(state
        .db
        .write(move |c| {
            let id = users::create(c, &draft, &hash, now)?;
            audit::record(
                c,
                now,
                &AuditEntry {
                    actor_id: Some(actor_id),
                    action: "create",
                    entity: "user",
                    entity_id: Some(id),
                    detail: format!("{} {}", draft.email, draft.role.code()),
                    ip: None,
                },
            )?;
            users::get(c, id)
        })
        .await?)
}

pub async fn update(state: &AppState, actor: &User, id: i64, input: UserInput) -> AppResult<User> {
    require_admin(actor)?;
    let draft = UserDraft::parse(&input, false)?;
    // An administrator cannot lock themselves out.
    if id == actor.id && (!draft.active || !draft.role.can_administer_users()) {
        return Err(AppError::Invalid(ValidationErrors::single("role", Issue::NotAllowed)));
    }
    let hash = match &draft.password {
        Some(p) => Some(password::hash(p.expose().to_string()).await?),
        None => None,
    };
    let now = state.clock.now();
    let actor_id = actor.id;
    Ok(state
        .db
        .write(move |c| {
            users::update(c, id, &draft, hash.as_deref(), now)?;
            audit::record(
                c,
                now,
                &AuditEntry {
                    actor_id: Some(actor_id),
                    action: "update",
                    entity: "user",
                    entity_id: Some(id),
                    detail: format!(
                        "{} {} active={}{}",
                        draft.email,
                        draft.role.code(),
                        draft.active,
                        if hash.is_some() { " password" } else { "" }
                    ),
                    ip: None,
                },
            )?;
            users::get(c, id)
        })
        .await?)
}

pub async fn create_group(state: &AppState, actor: &User, name: &str, kind: &str) -> AppResult<i64> {
    require_admin(actor)?;
    let mut e = ValidationErrors::new();
    let name = e.check("name", validation::required_text(name, 50));
    let kind = e.check("kind", GroupKind::parse(kind));
    let (Some(name), Some(kind)) = (name, kind) else {
        return Err(e.into());
    };
    let (now, actor_id) = (state.clock.now(), actor.id);
    Ok(state
        .db
        .write(move |c| {
            let id = users::create_group(c, &name, kind, now)?;
            audit::record(
                c,
                now,
                &AuditEntry {
                    actor_id: Some(actor_id),
                    action: "create",
                    entity: "group",
                    entity_id: Some(id),
                    detail: serde_json::json!({ "after": { "name": name, "kind": kind.code() } }).to_string(),
                    ip: None,
                },
            )?;
            Ok(id)
        })
        .await?)
}

pub async fn delete_group(state: &AppState, actor: &User, id: i64) -> AppResult<()> {
    require_admin(actor)?;
    let now = state.clock.now();
    let actor_id = actor.id;
    state
        .db
        .write(move |c| {
            users::delete_group(c, id)?;
            audit::record(
                c,
                now,
                &AuditEntry {
                    actor_id: Some(actor_id),
                    action: "delete",
                    entity: "group",
                    entity_id: Some(id),
                    detail: String::new(),
                    ip: None,
                },
            )
        })
        .await?;
    Ok(())
}
