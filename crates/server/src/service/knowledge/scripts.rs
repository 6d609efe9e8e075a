//! The script library (SPEC K2, K3): authoring scripts (a body that names
//! an unknown variable is refused with its name), rendering them for the
//! customer at hand, and recording which script was used on which ticket or
//! maintenance task.

use guanxi_domain::Lang;
use guanxi_domain::knowledge::script::{self, Persona, Rendered, ScriptBody, ScriptStep, ScriptVars};
use guanxi_domain::plan::Occasion;
use guanxi_domain::ticket::TicketType;
use guanxi_domain::user::Role;
use guanxi_domain::{Issue, ValidationErrors};
use guanxi_store::knowledge::{self as store, Script, ScriptInput};
use guanxi_store::maintenance::Task;
use guanxi_store::tickets::Ticket;
use guanxi_store::users::User;
use guanxi_store::{Conn, args, audit};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// At most this many scripts are listed at once (the library is small).
pub const LIST_LIMIT: i64 = 500;

/// A script as a form or the API sends it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScriptForm {
    /// A maintenance scenario code, `ticket` or `complaint`.
    pub scenario: String,
    /// `opening`, `identity`, `empathy`, `discovery`, `value`, `confirm`, `commitment` or `closing`.
    pub step: String,
    /// `general`, `young` or `enterprise`.
    #[serde(default)]
    pub persona: Option<String>,
    #[serde(default)]
    pub position: Option<i64>,
    pub title: String,
    /// A template: `{{ customer.name }}`, `{{ agent.name }}`, `{{ product }}`, …
    pub body: String,
    #[serde(default)]
    pub active: Option<bool>,
}

pub fn parse_script(f: &ScriptForm) -> Result<ScriptInput, ValidationErrors> {
    let mut e = ValidationErrors::new();
    let scenario = e.check("scenario", script::parse_scenario(&f.scenario));
    let step = e.check("step", ScriptStep::parse(&f.step));
    let persona = e.check("persona", Persona::parse(f.persona.as_deref().unwrap_or("general")));
    let position = f.position.unwrap_or(100);
    if !(0..=10_000).contains(&position) {
        e.add("position", Issue::OutOfRange);
    }
    let title = f.title.trim().to_string();
    if title.is_empty() {
        e.add("title", Issue::Required);
    } else if title.chars().count() > script::MAX_TITLE {
        e.add("title", Issue::TooLong { max: script::MAX_TITLE });
    }
    let body = e.check("body", ScriptBody::parse(&f.body));
    match (scenario, step, persona, body) {
        (Some(scenario), Some(step), Some(persona), Some(body)) if e.is_empty() => Ok(ScriptInput {
            scenario,
            step: step.code().into(),
            persona: persona.code().into(),
            position,
            title,
            body: body.as_str().to_string(),
            active: f.active.unwrap_or(true),
        }),
        _ => Err(e),
    }
}

fn may_author(user: &User) -> AppResult<()> {
    if matches!(user.role, Role::Supervisor | Role::Admin) { Ok(()) } else { Err(AppError::Forbidden) }
}

/// Creates (`id` None) or changes a script.
pub async fn save(
    state: &AppState,
    user: &User,
    id: Option<i64>,
    form: &ScriptForm,
    ip: Option<String>,
) -> AppResult<Script> {
    may_author(user)?;
    let input = parse_script(form)?;
    let now = state.clock.now();
    let actor = user.id;
    Ok(state
        .db
        .write(move |c| {
            let id = match id {
                Some(id) => {
                    store::update_script(c, id, &input, now)?;
                    id
                }
                None => store::insert_script(c, &input, now)?,
            };
            audit::record(
                c,
                now,
                &audit::AuditEntry {
                    actor_id: Some(actor),
                    action: "script.save",
                    entity: "script",
                    entity_id: Some(id),
                    detail: input.title.clone(),
                    ip: ip.as_deref(),
                },
            )?;
            store::get_script(c, id)
        })
        .await?)
}

pub async fn list(state: &AppState, scenario: Option<String>, active_only: bool) -> AppResult<Vec<Script>> {
    Ok(state.db.read(move |c| store::scripts(c, scenario.as_deref(), active_only, LIST_LIMIT)).await?)
}

pub async fn get(state: &AppState, id: i64) -> AppResult<Script> {
    Ok(state.db.read(move |c| store::get_script(c, id)).await?)
}

/// A script as the agent sees it for one customer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RenderedScript {
    pub id: i64,
    pub scenario: String,
    pub step: String,
    pub step_label: String,
    pub persona: String,
    pub persona_label: String,
    pub title: String,
    /// The text for this customer; absent when a variable has no value.
    pub text: Option<String>,
    /// The variables with no value for this customer (the agent fills them in).
    pub missing: Vec<String>,
    /// The script's template.
    pub source: String,
}

pub fn rendered(s: &Script, vars: &ScriptVars, lang: Lang) -> RenderedScript {
    let (text, missing) = match script::render(&s.body, vars) {
        Rendered::Text(t) => (Some(t), Vec::new()),
        Rendered::Missing(m) => (None, m),
    };
    RenderedScript {
        id: s.id,
        scenario: s.scenario.clone(),
        step: s.step.clone(),
        step_label: ScriptStep::parse(&s.step).map_or_else(|_| s.step.clone(), |x| x.label(lang).to_string()),
        persona: s.persona.clone(),
        persona_label: Persona::parse(&s.persona).map_or_else(|_| s.persona.clone(), |x| x.label(lang).to_string()),
        title: s.title.clone(),
        text,
        missing,
        source: s.body.clone(),
    }
}

/// The values at hand for a customer, the agent, and the ticket or task.
pub fn vars_for(
    c: &mut Conn,
    customer_id: i64,
    agent: &User,
    ticket: Option<&Ticket>,
    occasion: Option<String>,
    today: Date,
) -> guanxi_store::Result<ScriptVars> {
    let mut v = ScriptVars::new();
    if let Some(r) = c.query_opt("SELECT name FROM customers WHERE id = $1", args![customer_id])? {
        v.insert("customer.name", r.get(0)?);
    }
    if let Some(r) =
        c.query_opt("SELECT name FROM contacts WHERE customer_id = $1 ORDER BY id LIMIT 1", args![customer_id])?
    {
        v.insert("customer.contact", r.get(0)?);
    }
    if let Some(r) = c.query_opt(
        "SELECT product FROM orders WHERE customer_id = $1 AND product IS NOT NULL AND product <> ''
         ORDER BY ordered_on DESC, id DESC LIMIT 1",
        args![customer_id],
    )? {
        v.insert("product", r.get(0)?);
    }
    v.insert("agent.name", agent.name.clone());
    v.insert("today", today.strftime("%Y年%-m月%-d日").to_string());
    if let Some(t) = ticket {
        v.insert("ticket.number", t.number.clone());
        v.insert("ticket.subject", t.subject.clone());
    }
    if let Some(o) = occasion {
        v.insert("occasion", o);
    }
    Ok(v)
}

/// The scenario a ticket's scripts come from.
pub fn ticket_scenario(t: &Ticket) -> &'static str {
    if t.ticket_type == TicketType::Complaint { "complaint" } else { "ticket" }
}

/// A ticket's scripts rendered for its customer (a ticket the user may see).
pub async fn for_ticket(state: &AppState, user: &User, ticket_id: i64, lang: Lang) -> AppResult<Vec<RenderedScript>> {
    let t = crate::service::tickets::get(state, user, ticket_id).await?;
    let (user, today) = (user.clone(), state.today());
    Ok(state
        .db
        .read(move |c| {
            let vars = vars_for(c, t.customer_id, &user, Some(&t), None, today)?;
            let list = store::scripts(c, Some(ticket_scenario(&t)), true, LIST_LIMIT)?;
            Ok(list.iter().map(|s| rendered(s, &vars, lang)).collect())
        })
        .await?)
}

/// A maintenance task's scripts rendered for its customer.
pub fn for_task(
    c: &mut Conn,
    task: &Task,
    user: &User,
    today: Date,
    lang: Lang,
) -> guanxi_store::Result<Vec<RenderedScript>> {
    let occasion = serde_json::from_str::<Occasion>(&task.detail).ok().map(|o| o.text(lang));
    let vars = vars_for(c, task.customer_id, user, None, occasion, today)?;
    Ok(store::scripts(c, Some(&task.scenario), true, LIST_LIMIT)?.iter().map(|s| rendered(s, &vars, lang)).collect())
}

/// A maintenance task's scripts (a task the user may see).
pub async fn for_task_of(state: &AppState, user: &User, task_id: i64, lang: Lang) -> AppResult<Vec<RenderedScript>> {
    let task = crate::service::maintenance::task_for(state, user, task_id).await?;
    let (user, today) = (user.clone(), state.today());
    Ok(state.db.read(move |c| for_task(c, &task, &user, today, lang)).await?)
}

/// Where a script was used.
#[derive(Debug, Clone, Copy)]
pub enum UsedOn {
    Ticket(i64),
    Task(i64),
}

/// Renders a script for a ticket's or task's customer and records its use
/// (K3). The ticket or task must be one the user may see.
pub async fn use_script(
    state: &AppState,
    user: &User,
    script_id: i64,
    on: UsedOn,
    lang: Lang,
) -> AppResult<RenderedScript> {
    let (ticket, task) = match on {
        UsedOn::Ticket(id) => (Some(crate::service::tickets::get(state, user, id).await?), None),
        UsedOn::Task(id) => (None, Some(crate::service::maintenance::task_for(state, user, id).await?)),
    };
    let (user, now, today) = (user.clone(), state.clock.now(), state.today());
    Ok(state
        .db
        .write(move |c| {
            let s = store::get_script(c, script_id)?;
            if !s.active {
                return Err(guanxi_store::StoreError::Invalid(ValidationErrors::single("script_id", Issue::Unknown)));
            }
            let (customer_id, occasion) = match (&ticket, &task) {
                (Some(t), _) => (t.customer_id, None),
                (_, Some(k)) => (k.customer_id, serde_json::from_str::<Occasion>(&k.detail).ok().map(|o| o.text(lang))),
                _ => return Err(guanxi_store::StoreError::NotFound),
            };
            let vars = vars_for(c, customer_id, &user, ticket.as_ref(), occasion, today)?;
            store::record_use(
                c,
                s.id,
                Some(user.id),
                ticket.as_ref().map(|t| t.id),
                task.as_ref().map(|t| t.id),
                None,
                now,
            )?;
            Ok(rendered(&s, &vars, lang))
        })
        .await?)
}
