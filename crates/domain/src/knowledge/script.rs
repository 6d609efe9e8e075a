//! Scripts (话术, SPEC K2): per scenario and step, with variants per
//! persona, written as minijinja templates whose variables are rendered for
//! the customer at hand. A script that names a variable the library does
//! not know, or that does not parse, is refused when it is saved (the error
//! names the variable); one whose variable has no value for this customer
//! is shown to the agent with the gap named, never with a blank.

use std::collections::BTreeMap;

use minijinja::{Environment, UndefinedBehavior, Value};

use crate::customer::vocabulary;
use crate::validation::Issue;

vocabulary!(
    /// The step of a conversation a script serves.
    ScriptStep {
        Opening = "opening", "开场白", "Opening";
        Identity = "identity", "身份核实", "Identity check";
        Empathy = "empathy", "共情", "Empathy";
        Discovery = "discovery", "需求挖掘", "Needs discovery";
        Value = "value", "价值传递", "Value delivery";
        Confirm = "confirm", "复述确认", "Restate and confirm";
        Commitment = "commitment", "承诺", "Commitment";
        Closing = "closing", "结束语", "Closing";
    }
);

vocabulary!(
    /// Who the wording is for.
    Persona {
        General = "general", "通用", "General";
        Young = "young", "年轻客户（口语化）", "Young customers (plain spoken)";
        Enterprise = "enterprise", "企业客户（专业）", "Enterprise (professional terms)";
    }
);

/// Where a script is used beyond the maintenance scenarios
/// ([`crate::plan::Scenario`] codes).
pub const TICKET_SCENARIOS: &[(&str, &str, &str)] =
    &[("ticket", "工单处理", "Ticket handling"), ("complaint", "投诉处理", "Complaint handling")];

/// Whether a scenario code is one a script may be filed under.
pub fn parse_scenario(raw: &str) -> Result<String, Issue> {
    let raw = raw.trim();
    if crate::plan::Scenario::parse(raw).is_ok() || TICKET_SCENARIOS.iter().any(|(c, _, _)| *c == raw) {
        Ok(raw.to_string())
    } else {
        Err(Issue::NotAllowed)
    }
}

pub fn scenario_label(code: &str, lang: crate::Lang) -> String {
    if let Ok(s) = crate::plan::Scenario::parse(code) {
        return s.label(lang).to_string();
    }
    TICKET_SCENARIOS
        .iter()
        .find(|(c, _, _)| *c == code)
        .map_or_else(|| code.to_string(), |(_, zh, en)| lang.pick(zh, en).to_string())
}

/// The variables a script may use, with what they hold.
pub const VARIABLES: &[(&str, &str, &str)] = &[
    ("customer.name", "客户名称", "the customer's name"),
    ("customer.contact", "主要联系人姓名", "the primary contact's name"),
    ("agent.name", "客服姓名", "the agent's name"),
    ("product", "客户最近购买的产品", "the product the customer bought last"),
    ("ticket.number", "工单号", "the ticket number"),
    ("ticket.subject", "工单主题", "the ticket's subject"),
    ("occasion", "维护任务的事由（节日、到期日等）", "the maintenance task's occasion"),
    ("today", "今天的日期", "today's date"),
];

pub const MAX_TITLE: usize = 100;
pub const MAX_BODY: usize = 2_000;

fn env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env
}

/// The variables a script body names (dotted paths such as `customer.name`).
fn named_variables(body: &str) -> Result<Vec<String>, Issue> {
    let env = env();
    let tmpl = env.template_from_str(body).map_err(|e| Issue::ScriptSyntax { detail: e.to_string() })?;
    let mut names: Vec<String> = tmpl.undeclared_variables(true).into_iter().collect();
    names.sort();
    Ok(names)
}

/// A script body checked at save time: it parses, and every variable it
/// names is one of [`VARIABLES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptBody(String);

impl ScriptBody {
    pub fn parse(raw: &str) -> Result<Self, Issue> {
        let body = raw.trim();
        if body.is_empty() {
            return Err(Issue::Required);
        }
        if body.chars().count() > MAX_BODY {
            return Err(Issue::TooLong { max: MAX_BODY });
        }
        for name in named_variables(body)? {
            if !VARIABLES.iter().any(|(v, _, _)| *v == name) {
                return Err(Issue::UnknownScriptVariable { name });
            }
        }
        Ok(Self(body.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The values at hand for one customer (dotted names of [`VARIABLES`]).
pub type ScriptVars = BTreeMap<&'static str, String>;

/// A script rendered for a customer, or the variables it lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rendered {
    Text(String),
    /// The variables with no value for this customer; the agent sees the
    /// script's source and these names instead of a sentence with a gap.
    Missing(Vec<String>),
}

/// Renders a script body for the values at hand.
pub fn render(body: &str, vars: &ScriptVars) -> Rendered {
    let names = match named_variables(body) {
        Ok(n) => n,
        Err(_) => return Rendered::Missing(vec!["(syntax)".into()]),
    };
    let missing: Vec<String> =
        names.into_iter().filter(|n| vars.get(n.as_str()).is_none_or(|v| v.trim().is_empty())).collect();
    if !missing.is_empty() {
        return Rendered::Missing(missing);
    }
    let mut root: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    let mut flat: BTreeMap<String, Value> = BTreeMap::new();
    for (k, v) in vars {
        match k.split_once('.') {
            Some((head, tail)) => {
                root.entry(head.to_string()).or_default().insert(tail.to_string(), Value::from(v.as_str()));
            }
            None => {
                flat.insert(k.to_string(), Value::from(v.as_str()));
            }
        }
    }
    for (k, v) in root {
        flat.insert(k, Value::from_serialize(&v));
    }
    let env = env();
    match env.render_str(body, Value::from_serialize(&flat)) {
        Ok(text) => Rendered::Text(text),
        Err(e) => Rendered::Missing(vec![e.to_string()]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_variable_is_refused_by_name() {
        assert_eq!(
            ScriptBody::parse("您好，{{ customer.nmae }}").unwrap_err(),
            Issue::UnknownScriptVariable { name: "customer.nmae".into() }
        );
        assert!(matches!(ScriptBody::parse("您好 {{ customer.name").unwrap_err(), Issue::ScriptSyntax { .. }));
        assert!(ScriptBody::parse("您好，{{ customer.name }}，我是{{ agent.name }}。").is_ok());
        assert_eq!(ScriptBody::parse("  ").unwrap_err(), Issue::Required);
    }

    #[test]
    fn renders_for_the_customer_or_names_the_gap() {
        let mut vars = ScriptVars::new();
        vars.insert("customer.name", "华光科技".into());
        vars.insert("agent.name", "李娜".into());
        let body = "您好，{{ customer.name }}，我是{{ agent.name }}。";
        assert_eq!(render(body, &vars), Rendered::Text("您好，华光科技，我是李娜。".into()));
        assert_eq!(render("您购买的{{ product }}", &vars), Rendered::Missing(vec!["product".into()]));
        // Text is not HTML-escaped here; the page escapes it once.
        vars.insert("product", "<b>".into());
        assert_eq!(render("{{ product }}", &vars), Rendered::Text("<b>".into()));
    }

    #[test]
    fn scenarios_are_maintenance_or_ticket_ones() {
        assert!(parse_scenario("revisit").is_ok());
        assert!(parse_scenario("complaint").is_ok());
        assert_eq!(parse_scenario("nope"), Err(Issue::NotAllowed));
    }
}
