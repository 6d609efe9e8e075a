//! The complaint's workflow (P3–P5): 已登记 → 核查中 → 已核查 → 方案待审批
//! → (驳回 → 方案待审批 again | 已批准) → 客户已同意 → 已执行待客户确认 →
//! 已归档. Every step is an [`Action`]; [`transition`] says where it leads or
//! why it is refused (zh/en) before anything is written.

use crate::Lang;
use crate::customer::vocabulary;
use crate::validation::Issue;

vocabulary!(
    /// Where a complaint is.
    State {
        Registered = "registered", "已登记", "Registered";
        Investigating = "investigating", "核查中", "Investigating";
        Investigated = "investigated", "已核查", "Investigated";
        SolutionPending = "solution_pending", "方案待审批", "Solution awaiting approval";
        SolutionRejected = "solution_rejected", "方案被驳回", "Solution rejected";
        SolutionApproved = "solution_approved", "方案已批准", "Solution approved";
        Agreed = "agreed", "客户已同意方案", "Agreed with the customer";
        Executed = "executed", "已执行，待客户确认", "Executed, waiting for the customer's confirmation";
        Closed = "closed", "已归档", "Closed (archived)";
    }
);

vocabulary!(
    /// What a user does to a complaint.
    Action {
        Investigate = "investigate", "交核查", "Send to investigation";
        Report = "report", "提交核查报告", "Submit the investigation report";
        Propose = "propose", "提交处理方案", "Propose a solution";
        Approve = "approve", "批准方案", "Approve the solution";
        Reject = "reject", "驳回方案", "Reject the solution";
        Agree = "agree", "客户同意方案", "Customer agreed";
        Execute = "execute", "执行完毕", "Executed";
        Confirm = "confirm", "客户确认满意", "Customer confirmed";
        Close = "close", "主管结案", "Close by supervisor";
    }
);

impl State {
    pub fn is_open(self) -> bool {
        self != State::Closed
    }
}

impl Action {
    /// Approving, rejecting and closing without the customer's
    /// confirmation are for supervisors and administrators.
    pub fn needs_supervisor(self) -> bool {
        matches!(self, Action::Approve | Action::Reject | Action::Close)
    }
}

/// Where an action leads from a state.
pub fn next(from: State, action: Action) -> Option<State> {
    use State::*;
    match (action, from) {
        (Action::Investigate, Registered) => Some(Investigating),
        (Action::Report, Investigating) => Some(Investigated),
        (Action::Propose, Investigated | SolutionRejected) => Some(SolutionPending),
        (Action::Approve, SolutionPending) => Some(SolutionApproved),
        (Action::Reject, SolutionPending) => Some(SolutionRejected),
        (Action::Agree, SolutionApproved) => Some(Agreed),
        (Action::Execute, Agreed) => Some(Executed),
        (Action::Confirm, Executed) => Some(Closed),
        (Action::Close, Executed) => Some(Closed),
        _ => None,
    }
}

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NotFrom { from: State, action: Action },
    SupervisorOnly(Action),
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::NotFrom { .. } => "transition_not_allowed",
            Refusal::SupervisorOnly(_) => "supervisor_only",
        }
    }

    pub fn message(&self, lang: Lang) -> String {
        match self {
            Refusal::NotFrom { from, action } => {
                let allowed: Vec<&str> =
                    Action::ALL.iter().filter(|a| next(*from, **a).is_some()).map(|a| a.label(lang)).collect();
                let allowed = if allowed.is_empty() {
                    lang.pick("无", "none").to_string()
                } else {
                    allowed.join(lang.pick("、", ", "))
                };
                match lang {
                    Lang::Zh => format!(
                        "投诉当前为「{}」，不能「{}」（可执行：{allowed}）",
                        from.label(lang),
                        action.label(lang)
                    ),
                    Lang::En => format!(
                        "The complaint is {}; \"{}\" is not possible now (possible: {allowed})",
                        from.label(lang).to_lowercase(),
                        action.label(lang)
                    ),
                }
            }
            Refusal::SupervisorOnly(a) => match lang {
                Lang::Zh => format!("「{}」只有客服主管或管理员可以执行", a.label(lang)),
                Lang::En => format!("Only a supervisor or an administrator may \"{}\"", a.label(lang)),
            },
        }
    }
}

/// The state an action leads to, or why it is refused.
pub fn transition(from: State, action: Action, supervisor: bool) -> Result<State, Refusal> {
    if action.needs_supervisor() && !supervisor {
        return Err(Refusal::SupervisorOnly(action));
    }
    next(from, action).ok_or(Refusal::NotFrom { from, action })
}

/// The customer's satisfaction, 1 (very dissatisfied) to 5 (very satisfied).
pub fn parse_satisfaction(raw: i64) -> Result<u8, Issue> {
    u8::try_from(raw).ok().filter(|s| (1..=5).contains(s)).ok_or(Issue::OutOfRange)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_complaint_walks_from_registration_to_archive_with_a_rejection() {
        let steps = [
            (Action::Investigate, State::Investigating),
            (Action::Report, State::Investigated),
            (Action::Propose, State::SolutionPending),
            (Action::Reject, State::SolutionRejected),
            (Action::Propose, State::SolutionPending),
            (Action::Approve, State::SolutionApproved),
            (Action::Agree, State::Agreed),
            (Action::Execute, State::Executed),
            (Action::Confirm, State::Closed),
        ];
        let mut s = State::Registered;
        for (a, to) in steps {
            s = transition(s, a, true).unwrap_or_else(|e| panic!("{e:?}"));
            assert_eq!(s, to);
        }
    }

    #[test]
    fn refusals_say_why() {
        assert_eq!(
            transition(State::SolutionPending, Action::Approve, false),
            Err(Refusal::SupervisorOnly(Action::Approve))
        );
        let e = transition(State::Registered, Action::Execute, true).unwrap_err();
        assert!(e.message(Lang::Zh).contains("交核查"), "{}", e.message(Lang::Zh));
        for s in State::ALL {
            for a in Action::ALL {
                if *s == State::Closed {
                    assert!(next(*s, *a).is_none(), "an archived complaint stays archived");
                }
            }
        }
    }
}
