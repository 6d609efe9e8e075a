//! Staff accounts (SPEC S1): roles, groups and the rules for their fields.
//! What each role may do is decided here, so that handlers ask a question
//! ("may this user administer users?") instead of comparing role names.

use serde::Deserialize;

use crate::contact::Email;
use crate::customer::vocabulary;
use crate::validation::{self, Issue, ValidationErrors};

vocabulary!(
    /// What a user is in the department.
    Role {
        Agent = "agent", "客服专员", "Agent";
        Supervisor = "supervisor", "客服主管", "Supervisor";
        Advisor = "advisor", "专属顾问", "Account advisor";
        Collaborator = "collaborator", "协作部门", "Department collaborator";
        Admin = "admin", "管理员", "Administrator";
    }
);

impl Role {
    pub fn can_administer_users(self) -> bool {
        self == Role::Admin
    }

    /// Creating and editing customers: everyone but collaborating departments,
    /// who only see what is escalated to them.
    pub fn can_edit_customers(self) -> bool {
        self != Role::Collaborator
    }

    /// Deleting a customer removes its history; supervisors and admins only.
    pub fn can_delete_customers(self) -> bool {
        matches!(self, Role::Supervisor | Role::Admin)
    }

    /// Sees every customer, not only the ones they own.
    pub fn sees_all_customers(self) -> bool {
        matches!(self, Role::Supervisor | Role::Admin)
    }

    /// Importing files writes customers of every owner at once (SPEC C9):
    /// supervisors and admins.
    pub fn can_import(self) -> bool {
        matches!(self, Role::Supervisor | Role::Admin)
    }

    /// May reveal masked personal data of customers in scope.
    pub fn can_reveal_personal_data(self) -> bool {
        matches!(self, Role::Supervisor | Role::Admin | Role::Advisor | Role::Agent)
    }
}

vocabulary!(
    /// A group is a service team (客服组) or a collaborating department (协作部门).
    GroupKind {
        Team = "team", "客服小组", "Service team";
        Department = "department", "协作部门", "Department";
    }
);

/// Raw input to create or edit a user.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct UserInput {
    pub email: String,
    pub name: String,
    /// `agent`, `supervisor`, `advisor`, `collaborator` or `admin`.
    pub role: String,
    pub group_id: Option<i64>,
    /// 8–128 characters; required when creating, optional when editing.
    pub password: Option<String>,
    /// Certified (考核通过) agents take live work.
    pub certified: Option<bool>,
    pub active: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UserDraft {
    pub email: Email,
    pub name: String,
    pub role: Role,
    pub group_id: Option<i64>,
    pub password: Option<Password>,
    pub certified: bool,
    pub active: bool,
}

/// A new password: 8–128 characters. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    pub fn parse(raw: &str) -> Result<Self, Issue> {
        let n = raw.chars().count();
        if n < 8 {
            Err(Issue::TooShort { min: 8 })
        } else if n > 128 {
            Err(Issue::TooLong { max: 128 })
        } else {
            Ok(Self(raw.to_string()))
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl UserDraft {
    /// `creating` makes the password required.
    pub fn parse(input: &UserInput, creating: bool) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::new();
        let email = if input.email.trim().is_empty() {
            e.add("email", Issue::Required);
            None
        } else {
            e.check("email", Email::parse(&input.email))
        };
        let name = e.check("name", validation::required_text(&input.name, 50));
        let role = if input.role.trim().is_empty() {
            e.add("role", Issue::Required);
            None
        } else {
            e.check("role", Role::parse(&input.role))
        };
        let password = match input.password.as_deref().filter(|p| !p.is_empty()) {
            None if creating => {
                e.add("password", Issue::Required);
                None
            }
            None => Some(None),
            Some(p) => e.check("password", Password::parse(p).map(Some)),
        };
        if matches!(input.group_id, Some(id) if id <= 0) {
            e.add("group_id", Issue::Unknown);
        }
        match (email, name, role, password) {
            (Some(email), Some(name), Some(role), Some(password)) if e.is_empty() => Ok(UserDraft {
                email,
                name,
                role,
                group_id: input.group_id,
                password,
                certified: input.certified.unwrap_or(false),
                active: input.active.unwrap_or(true),
            }),
            _ => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admins_administer_users() {
        for r in Role::ALL {
            assert_eq!(r.can_administer_users(), *r == Role::Admin);
        }
    }

    #[test]
    fn user_input_rules() {
        let ok = UserInput {
            email: "li@corp.cn".into(),
            name: "李娜".into(),
            role: "agent".into(),
            password: Some("correct horse".into()),
            ..Default::default()
        };
        assert!(UserDraft::parse(&ok, true).is_ok());
        let bad = UserInput {
            email: "x".into(),
            name: "".into(),
            role: "boss".into(),
            password: Some("short".into()),
            ..Default::default()
        };
        let e = UserDraft::parse(&bad, true).unwrap_err();
        assert_eq!(e.fields(), vec!["email", "name", "role", "password"]);
        let no_pw = UserInput { password: None, ..ok };
        assert_eq!(UserDraft::parse(&no_pw, true).unwrap_err().fields(), vec!["password"]);
        assert!(UserDraft::parse(&no_pw, false).is_ok());
    }

    #[test]
    fn password_is_not_printed() {
        let p = Password::parse("secret-password").unwrap();
        assert_eq!(format!("{p:?}"), "Password(***)");
    }
}
