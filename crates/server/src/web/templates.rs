//! Page templates (minijinja), compiled into the binary. Templates carry
//! both languages inline — `{{ t("客户", "Customers") }}` — and `t` picks
//! by the page's `lang`, so a page never shows a missing-translation key.

use minijinja::{Environment, State, Value};

use crate::error::AppError;

pub struct Templates {
    env: Environment<'static>,
}

macro_rules! embed {
    ($env:expr, $($name:literal),* $(,)?) => {
        $( $env.add_template($name, include_str!(concat!("../../../../templates/", $name)))?; )*
    };
}

fn t(state: &State, zh: &str, en: &str) -> String {
    let is_en = state.lookup("lang").is_some_and(|l| l.as_str() == Some("en"));
    if is_en { en.to_string() } else { zh.to_string() }
}

impl Templates {
    pub fn new() -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        embed!(
            env,
            "base.html",
            "macros.html",
            "login.html",
            "login_totp.html",
            "account/security.html",
            "home.html",
            "error.html",
            "customers/list.html",
            "customers/form.html",
            "customers/view.html",
            "customers/delete.html",
            "customers/contact_form.html",
            "customers/communication_form.html",
            "customers/order_form.html",
            "admin/users.html",
            "admin/user_form.html",
            "admin/groups.html",
            "admin/audit.html",
            "admin/security.html",
            "admin/calendar.html",
            "import/form.html",
            "import/report.html",
            "segments/parts.html",
            "segments/overview.html",
            "segments/churn_risk.html",
            "segments/members.html",
            "segments/builder.html",
            "segments/saved.html",
            "segments/settings.html",
            "segments/conditions.html",
            "segments/rule_tags.html",
            "segments/rule_tag_form.html",
            "segments/rule_tag_delete.html",
            "segments/delete.html",
            "tickets/queue.html",
            "complaints/table.html",
            "complaints/parts.html",
            "complaints/review.html",
            "complaints/form.html",
            "complaints/view.html",
            "complaints/report.html",
            "complaints/settings.html",
            "tickets/view.html",
            "tickets/form.html",
            "tickets/settings.html",
            "maintenance/parts.html",
            "maintenance/queue.html",
            "maintenance/task.html",
            "maintenance/record_form.html",
            "maintenance/execution.html",
            "maintenance/settings.html",
            "knowledge/index.html",
            "knowledge/article.html",
            "knowledge/article_form.html",
            "knowledge/scripts.html",
            "knowledge/script_form.html",
            "knowledge/script_text.html",
            "knowledge/ticket_panel.html",
            "outreach/outbox.html",
            "outreach/survey.html",
            "outreach/feedback.html",
            "outreach/templates.html",
            "outreach/template_form.html",
            "outreach/settings.html",
            "reports/parts.html",
            "reports/dashboard.html",
            "reports/monitoring.html",
            "reports/problems.html",
            "reports/diagnosis.html",
            "reports/needs.html",
            "reports/targets.html",
            "reports/actions.html",
            "reports/action_edit.html",
        );
        env.add_function("t", t);
        Ok(Self { env })
    }

    pub fn render(&self, name: &str, ctx: Value) -> Result<String, AppError> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(|e| AppError::Internal(format!("template {name}: {e:#}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        Templates::new().unwrap();
    }
}
