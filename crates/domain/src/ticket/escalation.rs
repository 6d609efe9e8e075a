//! Escalation paths (T4, 升级路径): ordered steps, each naming who takes
//! the matter — a department's interface person (协作接口人) or the
//! supervisor of the ticket's group — and how long they have to respond,
//! on business time. A breach (or an agent) starts a path; when a step's
//! time runs out unanswered the scheduler moves to the next step, and after
//! the last the chain ends. A step may also promise the customer a
//! progress update within some minutes (a complex issue at the supervisor:
//! the customer hears within 30 min).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::sla::MAX_MINUTES;
use super::{Category, TicketType};
use crate::Lang;
use crate::validation::{self, Issue, ValidationErrors};

/// Who takes a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum StepTarget {
    /// A named person (a department's interface person, a product manager).
    User { user_id: i64 },
    /// A supervisor of the ticket's group (any supervisor if it has none).
    Supervisor,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EscalationStep {
    /// What the step is called: 技术支持, 产品经理, 客服主管.
    pub name: String,
    pub target: StepTarget,
    /// Minutes of working time to respond before the next step.
    pub respond_minutes: u32,
    /// Minutes within which the customer must hear of progress, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_update_minutes: Option<u32>,
}

/// Which tickets a path applies to (empty: all).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct PathConditions {
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub types: Vec<TicketType>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub categories: Vec<Category>,
}

impl PathConditions {
    pub fn matches(&self, t: TicketType, c: Category) -> bool {
        (self.types.is_empty() || self.types.contains(&t))
            && (self.categories.is_empty() || self.categories.contains(&c))
    }
}

/// A path as stored, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationPath {
    pub id: i64,
    pub name: String,
    pub conditions: PathConditions,
    pub steps: Vec<EscalationStep>,
}

pub const MAX_STEPS: usize = 10;

/// Checks a path's name and steps; errors name `name`, `steps`,
/// `steps[1].respond_minutes`, ….
pub fn check_path(name: &str, steps: &[EscalationStep]) -> Result<String, ValidationErrors> {
    let mut e = ValidationErrors::new();
    let name = e.check("name", validation::required_text(name, 30));
    if steps.is_empty() {
        e.add("steps", Issue::Required);
    } else if steps.len() > MAX_STEPS {
        e.add("steps", Issue::TooMany { max: MAX_STEPS });
    }
    for (i, s) in steps.iter().enumerate() {
        if let Err(issue) = validation::required_text(&s.name, 30) {
            e.add(&format!("steps[{i}].name"), issue);
        }
        for (field, v) in
            [("respond_minutes", Some(s.respond_minutes)), ("customer_update_minutes", s.customer_update_minutes)]
        {
            match v {
                Some(0) => e.add(&format!("steps[{i}].{field}"), Issue::NotPositive),
                Some(m) if m > MAX_MINUTES => e.add(&format!("steps[{i}].{field}"), Issue::OutOfRange),
                _ => {}
            }
        }
        if matches!(s.target, StepTarget::User { user_id } if user_id <= 0) {
            e.add(&format!("steps[{i}].target"), Issue::Unknown);
        }
    }
    match name {
        Some(n) if e.is_empty() => Ok(n),
        _ => Err(e),
    }
}

/// The first path that applies to a ticket.
pub fn path_for(paths: &[EscalationPath], t: TicketType, c: Category) -> Option<&EscalationPath> {
    paths.iter().find(|p| p.conditions.matches(t, c))
}

/// Why a chain started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cause", rename_all = "snake_case")]
pub enum Cause {
    /// A clock of the ticket was breached (the clock's code).
    Breach { clock: String },
    /// An agent escalated it, with a reason.
    Manual { reason: String },
}

/// How a chain ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ended {
    /// The step's person responded in time.
    Answered,
    /// The ticket was resolved or archived.
    Settled,
    /// The last step's time ran out.
    Exhausted,
}

/// A ticket's escalation, kept on the ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    pub path_id: i64,
    pub path_name: String,
    pub cause: Cause,
    /// The current step (index into the path's steps).
    pub step: usize,
    pub step_name: String,
    /// Who has the current step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<i64>,
    #[serde(with = "jiff::fmt::serde::timestamp::millisecond::required")]
    pub started_at: Timestamp,
    #[serde(with = "jiff::fmt::serde::timestamp::millisecond::required")]
    pub step_started_at: Timestamp,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "jiff::fmt::serde::timestamp::millisecond::optional"
    )]
    pub step_due_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<Ended>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "jiff::fmt::serde::timestamp::millisecond::optional"
    )]
    pub ended_at: Option<Timestamp>,
}

/// What to do when a step's time is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepDue {
    /// Nothing more to do: the chain already ended.
    Nothing,
    /// Move to this step.
    Next(usize),
    /// That was the last step: the chain ends unanswered.
    Exhausted,
}

impl Escalation {
    pub fn is_running(&self) -> bool {
        self.ended.is_none()
    }

    /// Ends the chain.
    pub fn end(&mut self, how: Ended, at: Timestamp) {
        if self.ended.is_none() {
            self.ended = Some(how);
            self.ended_at = Some(at);
            self.step_due_at = None;
        }
    }

    /// Whether the chain was under way at an instant: a breach that
    /// happened then is already being handled, however late the scheduler
    /// reports it.
    pub fn covers(&self, at: Timestamp) -> bool {
        self.started_at <= at && self.ended_at.is_none_or(|end| end > at)
    }

    /// The decision when the current step's time runs out.
    pub fn on_step_due(&self, steps: usize) -> StepDue {
        if !self.is_running() {
            StepDue::Nothing
        } else if self.step + 1 < steps {
            StepDue::Next(self.step + 1)
        } else {
            StepDue::Exhausted
        }
    }

    /// The level shown on queues: 1 for the first step, 0 when not escalated.
    pub fn level(&self) -> i64 {
        if self.is_running() { i64::try_from(self.step + 1).unwrap_or(i64::MAX) } else { 0 }
    }

    pub fn describe(&self, lang: Lang) -> String {
        let state = match (self.ended, lang) {
            (None, Lang::Zh) => format!("第 {} 级：{}", self.step + 1, self.step_name),
            (None, Lang::En) => format!("level {}: {}", self.step + 1, self.step_name),
            (Some(Ended::Answered), _) => lang.pick("已响应", "answered").into(),
            (Some(Ended::Settled), _) => lang.pick("工单已解决", "ticket settled").into(),
            (Some(Ended::Exhausted), _) => lang.pick("升级链已走完仍未响应", "chain ran out unanswered").into(),
        };
        format!("{} · {state}", self.path_name)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn step(name: &str, minutes: u32) -> EscalationStep {
        EscalationStep {
            name: name.into(),
            target: StepTarget::Supervisor,
            respond_minutes: minutes,
            customer_update_minutes: None,
        }
    }

    #[test]
    fn paths_are_checked_field_by_field() {
        assert_eq!(check_path(" 产品问题 ", &[step("技术支持", 120)]).unwrap(), "产品问题");
        let e = check_path("", &[]).unwrap_err();
        assert_eq!(e.fields(), vec!["name", "steps"]);
        let mut bad = step("", 0);
        bad.target = StepTarget::User { user_id: 0 };
        bad.customer_update_minutes = Some(MAX_MINUTES + 1);
        let e = check_path("x", &[step("a", 1), bad]).unwrap_err();
        assert_eq!(
            e.fields(),
            vec!["steps[1].name", "steps[1].respond_minutes", "steps[1].customer_update_minutes", "steps[1].target"]
        );
    }

    #[test]
    fn a_chain_moves_step_by_step_to_its_end() {
        let t = Timestamp::from_second(0).unwrap();
        let mut e = Escalation {
            path_id: 1,
            path_name: "产品问题".into(),
            cause: Cause::Breach { clock: "resolution".into() },
            step: 0,
            step_name: "技术支持".into(),
            target_id: Some(3),
            started_at: t,
            step_started_at: t,
            step_due_at: None,
            ended: None,
            ended_at: None,
        };
        assert_eq!(e.on_step_due(3), StepDue::Next(1));
        assert!(e.covers(t) && !e.covers(t - jiff::SignedDuration::from_secs(1)));
        e.step = 2;
        assert_eq!(e.level(), 3);
        assert_eq!(e.on_step_due(3), StepDue::Exhausted);
        e.end(Ended::Exhausted, t + jiff::SignedDuration::from_hours(1));
        assert!(!e.covers(t + jiff::SignedDuration::from_hours(2)));
        assert_eq!(e.on_step_due(3), StepDue::Nothing);
        assert_eq!(e.level(), 0);
        assert_eq!(e.describe(Lang::Zh), "产品问题 · 升级链已走完仍未响应");
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<Escalation>(&json).unwrap(), e);
    }

    #[test]
    fn the_first_matching_path_applies() {
        let paths = vec![
            EscalationPath {
                id: 1,
                name: "产品问题".into(),
                conditions: PathConditions { categories: vec![Category::Product], ..Default::default() },
                steps: vec![step("技术支持", 120)],
            },
            EscalationPath {
                id: 2,
                name: "主管".into(),
                conditions: PathConditions::default(),
                steps: vec![step("主管", 30)],
            },
        ];
        assert_eq!(path_for(&paths, TicketType::Consultation, Category::Product).unwrap().id, 1);
        assert_eq!(path_for(&paths, TicketType::Consultation, Category::Logistics).unwrap().id, 2);
    }
}
