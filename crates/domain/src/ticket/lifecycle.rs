//! The ticket's status flow (T1): 新建 → 已受理 → 处理中 ⇄ 待客户反馈 →
//! 已解决 → 已归档, and back to 处理中 when reopened. Every change is an
//! [`Action`]; [`transition`] says where it leads or why it is refused,
//! in words the user reads (zh/en), before anything is written.

use super::Status;
use crate::Lang;
use crate::customer::vocabulary;
use crate::validation::Issue;

vocabulary!(
    /// What a user (or the customer, for `resume`) does to a ticket's status.
    Action {
        Accept = "accept", "受理", "Accept";
        Start = "start", "开始处理", "Start work";
        WaitForCustomer = "wait_customer", "等待客户反馈", "Wait for the customer";
        Resume = "resume", "恢复处理", "Resume";
        Resolve = "resolve", "解决", "Resolve";
        Close = "close", "归档", "Close (archive)";
        Reopen = "reopen", "重新打开", "Reopen";
    }
);

/// Why an action was refused. Nothing is changed when it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The action does not apply to the ticket's status.
    #[error("cannot {} a ticket that is {}", .action.code(), .from.code())]
    NotFrom { from: Status, action: Action },
    /// Reopening an archived ticket is for supervisors and administrators.
    #[error("only supervisors and administrators may reopen an archived ticket")]
    ReopenArchivedForbidden,
    /// The user may read the ticket but not change its status
    /// (collaborating departments reply with notes).
    #[error("may not change this ticket's status")]
    NotPermitted,
}

impl TransitionError {
    pub fn code(&self) -> &'static str {
        match self {
            TransitionError::NotFrom { .. } => "transition_not_allowed",
            TransitionError::ReopenArchivedForbidden => "reopen_archived_forbidden",
            TransitionError::NotPermitted => "not_permitted",
        }
    }

    pub fn message(&self, lang: Lang) -> String {
        match self {
            TransitionError::NotFrom { from, action } => {
                let allowed: Vec<&str> =
                    Action::ALL.iter().filter(|a| next(*from, **a).is_some()).map(|a| a.label(lang)).collect();
                let allowed = if allowed.is_empty() {
                    lang.pick("无", "none").to_string()
                } else {
                    allowed.join(lang.pick("、", ", "))
                };
                match lang {
                    Lang::Zh => format!(
                        "工单当前状态为「{}」，不能执行「{}」（可执行：{allowed}）",
                        from.label(lang),
                        action.label(lang)
                    ),
                    Lang::En => format!(
                        "The ticket is {}; \"{}\" is not possible now (possible: {allowed})",
                        from.label(lang).to_lowercase(),
                        action.label(lang)
                    ),
                }
            }
            TransitionError::ReopenArchivedForbidden => lang
                .pick(
                    "已归档的工单只有客服主管或管理员可以重新打开",
                    "Only a supervisor or an administrator may reopen an archived ticket",
                )
                .into(),
            TransitionError::NotPermitted => lang
                .pick(
                    "协作部门可以回复和备注，但不能更改工单状态",
                    "Collaborating departments may reply and add notes, but not change the status",
                )
                .into(),
        }
    }

    /// The form field an error belongs to.
    pub fn issue(&self) -> Issue {
        Issue::NotAllowed
    }
}

/// Where an action leads from a status, ignoring permissions.
fn next(from: Status, action: Action) -> Option<Status> {
    use Status::*;
    match (action, from) {
        (Action::Accept, New) => Some(Accepted),
        (Action::Start, New | Accepted) => Some(InProgress),
        (Action::WaitForCustomer, Accepted | InProgress) => Some(WaitingCustomer),
        (Action::Resume, WaitingCustomer) => Some(InProgress),
        (Action::Resolve, New | Accepted | InProgress | WaitingCustomer) => Some(Resolved),
        (Action::Close, Resolved) => Some(Closed),
        (Action::Reopen, Resolved | Closed) => Some(InProgress),
        _ => None,
    }
}

/// What the acting user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permissions {
    /// May change the status at all (not a collaborating department).
    pub may_change_status: bool,
    /// May reopen an archived ticket (supervisors, administrators).
    pub may_reopen_archived: bool,
}

/// The status an action leads to, or why it is refused.
pub fn transition(from: Status, action: Action, p: Permissions) -> Result<Status, TransitionError> {
    if !p.may_change_status {
        return Err(TransitionError::NotPermitted);
    }
    let to = next(from, action).ok_or(TransitionError::NotFrom { from, action })?;
    if from == Status::Closed && !p.may_reopen_archived {
        return Err(TransitionError::ReopenArchivedForbidden);
    }
    Ok(to)
}

/// The actions offered on a ticket in a status.
pub fn available(from: Status, p: Permissions) -> Vec<Action> {
    Action::ALL.iter().copied().filter(|a| transition(from, *a, p).is_ok()).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use Status::*;

    const AGENT: Permissions = Permissions { may_change_status: true, may_reopen_archived: false };
    const SUPERVISOR: Permissions = Permissions { may_change_status: true, may_reopen_archived: true };

    #[test]
    fn the_happy_path() {
        let mut s = New;
        for (a, to) in [
            (Action::Accept, Accepted),
            (Action::Start, InProgress),
            (Action::WaitForCustomer, WaitingCustomer),
            (Action::Resume, InProgress),
            (Action::Resolve, Resolved),
            (Action::Close, Closed),
        ] {
            s = transition(s, a, AGENT).unwrap();
            assert_eq!(s, to);
        }
    }

    #[test]
    fn refusals_name_the_reason() {
        let e = transition(Closed, Action::Reopen, AGENT).unwrap_err();
        assert_eq!(e, TransitionError::ReopenArchivedForbidden);
        assert!(e.message(Lang::Zh).contains("主管"));
        assert_eq!(transition(Closed, Action::Reopen, SUPERVISOR), Ok(InProgress));
        assert_eq!(transition(Resolved, Action::Reopen, AGENT), Ok(InProgress));
        let e = transition(Closed, Action::Resolve, SUPERVISOR).unwrap_err();
        assert_eq!(e.code(), "transition_not_allowed");
        assert_eq!(e.message(Lang::Zh), "工单当前状态为「已归档」，不能执行「解决」（可执行：重新打开）");
        assert!(e.message(Lang::En).contains("closed (archived)"), "{}", e.message(Lang::En));
        let e = transition(New, Action::Close, AGENT).unwrap_err();
        assert!(e.message(Lang::Zh).contains("可执行：受理、开始处理、解决"), "{}", e.message(Lang::Zh));
        let collaborator = Permissions { may_change_status: false, may_reopen_archived: false };
        assert_eq!(transition(New, Action::Accept, collaborator), Err(TransitionError::NotPermitted));
    }

    #[test]
    fn every_status_can_move_and_closed_only_by_reopening() {
        for s in Status::ALL {
            assert!(!available(*s, SUPERVISOR).is_empty(), "{s:?} is a dead end");
        }
        assert_eq!(available(Closed, SUPERVISOR), vec![Action::Reopen]);
        assert!(available(Closed, AGENT).is_empty());
    }
}
