//! Message templates (SPEC O1): minijinja with strict undefined, so a
//! variable the scenario does not provide is refused when the template is
//! saved (naming it), and a variable missing at send time refuses the send —
//! never a blank in front of a customer. Messages are plain text: nothing
//! is HTML-escaped here; pages escape when they show them.

use std::collections::BTreeMap;

use guanxi_domain::outreach::{OutChannel, Scenario};
use guanxi_domain::validation::{required_text, text};
use guanxi_domain::{Issue, ValidationErrors};
use guanxi_store::outreach::{self as store, MessageTemplate, TemplateRow};
use guanxi_store::users::User;
use guanxi_store::{StoreError, audit};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

fn env() -> Environment<'static> {
    let mut e = Environment::new();
    e.set_undefined_behavior(UndefinedBehavior::Strict);
    e.set_auto_escape_callback(|_| AutoEscape::None);
    e
}

fn syntax(err: &minijinja::Error) -> Issue {
    Issue::ScriptSyntax { detail: err.to_string().chars().take(200).collect() }
}

/// Checks a template text against the variables of its scenario: it must
/// parse, use only those variables, and render with them.
pub fn check(scenario: Scenario, source: &str) -> Result<(), Issue> {
    let env = env();
    let tpl = env.template_from_str(source).map_err(|e| syntax(&e))?;
    let mut unknown: Vec<String> =
        tpl.undeclared_variables(false).into_iter().filter(|v| !scenario.variables().contains(&v.as_str())).collect();
    unknown.sort();
    if let Some(name) = unknown.into_iter().next() {
        return Err(Issue::UndefinedVariable { name });
    }
    let sample: BTreeMap<&str, &str> = scenario.variables().iter().map(|v| (*v, "x")).collect();
    tpl.render(sample).map(|_| ()).map_err(|e| syntax(&e))
}

/// Renders a template with the given variables; a missing one is an error naming it.
pub fn render(source: &str, vars: &BTreeMap<String, String>) -> Result<String, Issue> {
    let env = env();
    let tpl = env.template_from_str(source).map_err(|e| syntax(&e))?;
    let mut missing: Vec<String> =
        tpl.undeclared_variables(false).into_iter().filter(|v| !vars.contains_key(v)).collect();
    missing.sort();
    if let Some(name) = missing.into_iter().next() {
        return Err(Issue::UndefinedVariable { name });
    }
    tpl.render(vars).map_err(|e| syntax(&e))
}

/// A template as an administrator writes it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateInput {
    pub name: String,
    /// `email`, `sms`, `wecom`, `webhook`.
    pub channel: String,
    /// See [`Scenario`]; decides the variables the template may use.
    pub scenario: String,
    /// The email subject (other channels: a title; may be empty).
    #[serde(default)]
    pub subject: String,
    pub body: String,
}

struct Checked {
    name: String,
    channel: OutChannel,
    scenario: Scenario,
    subject: String,
    body: String,
}

fn parse(input: &TemplateInput) -> Result<Checked, ValidationErrors> {
    let mut e = ValidationErrors::new();
    let name = e.check("name", required_text(&input.name, 100));
    let channel = e.check("channel", OutChannel::parse(&input.channel));
    let scenario = e.check("scenario", Scenario::parse(&input.scenario));
    let subject = e.check("subject", text(&input.subject, 200, false));
    let body = e.check("body", required_text(&input.body, 4000).and_then(|_| text(&input.body, 4000, true)));
    if let (Some(s), Some(sub)) = (scenario, subject.as_deref()) {
        e.check("subject", check(s, sub));
    }
    if let (Some(s), Some(b)) = (scenario, body.as_deref()) {
        e.check("body", check(s, b));
    }
    let (Some(name), Some(channel), Some(scenario), Some(subject), Some(body)) =
        (name, channel, scenario, subject, body)
    else {
        return Err(e);
    };
    e.into_result(|| Checked { name, channel, scenario, subject, body })
}

fn admin(user: &User) -> AppResult<()> {
    if user.role.can_configure_service() { Ok(()) } else { Err(AppError::Forbidden) }
}

/// Saves a new template (administrators), or replaces template `id`.
pub async fn save(state: &AppState, user: &User, id: Option<i64>, input: TemplateInput) -> AppResult<MessageTemplate> {
    admin(user)?;
    let t = parse(&input)?;
    let now = state.clock.now();
    let uid = user.id;
    let r = state
        .db
        .write(move |c| {
            let row = TemplateRow {
                name: &t.name,
                channel: t.channel.code(),
                scenario: t.scenario.code(),
                subject: &t.subject,
                body: &t.body,
            };
            let id = match id {
                Some(id) => store::update_template(c, id, &row, now).map(|()| id),
                None => store::create_template(c, &row, uid, now),
            }
            .map_err(|e| {
                if e.is_unique_violation() { ValidationErrors::single("name", Issue::Taken).into() } else { e }
            })?;
            audit::record(
                c,
                now,
                &audit::AuditEntry {
                    actor_id: Some(uid),
                    action: "save",
                    entity: "message_template",
                    entity_id: Some(id),
                    detail: t.name.clone(),
                    ip: None,
                },
            )?;
            store::get_template(c, id)
        })
        .await;
    r.map_err(|e: StoreError| e.into())
}

pub async fn list(state: &AppState, after: i64, limit: i64) -> AppResult<Vec<MessageTemplate>> {
    let limit = limit.clamp(1, 200);
    Ok(state.db.read(move |c| store::templates(c, after, limit)).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_variables_are_named_and_missing_ones_refused() {
        let s = Scenario::RevisitReminder;
        assert_eq!(check(s, "{{ customer_name }}，{{ agent_name }}将于{{ revisit_time }}回访您"), Ok(()));
        assert_eq!(check(s, "{{ coupon_code }}"), Err(Issue::UndefinedVariable { name: "coupon_code".into() }));
        assert!(matches!(check(s, "{{ customer_name "), Err(Issue::ScriptSyntax { .. })));
        let vars = BTreeMap::from([("customer_name".to_string(), "<李雷>".to_string())]);
        assert_eq!(render("{{ customer_name }}您好", &vars), Ok("<李雷>您好".into()), "plain text, not escaped");
        assert_eq!(render("{{ agent_name }}", &vars), Err(Issue::UndefinedVariable { name: "agent_name".into() }));
    }
}
