//! Who may call what (SPEC S1): one table for every route of the API and the
//! pages, and the middleware that enforces it before any handler runs.
//!
//! Each rule names a method and a route pattern exactly as the router has
//! it (`/api/v1/customers/{id}`), who may call it, and which data scope the
//! handler then applies. A route that the table does not name is refused
//! (deny by default), so a new route cannot be reached until it has a rule;
//! `tests/authz.rs` enumerates the application's router and fails for a
//! route without one, then calls every route as each role.
//!
//! The role check here is the first gate; the services keep their own
//! checks of role and data scope (an id outside the caller's scope answers
//! 404, as a missing one does), which the data-scope column describes.

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use guanxi_domain::user::Role;

use crate::auth::{ApiUser, PageUser};
use crate::error::AppError;
use crate::state::AppState;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not (login, health, survey links, assets).
    Public,
    /// Any signed-in user, whatever the role.
    SignedIn,
    /// A session at any stage of signing in (the second-factor page and
    /// its set-up): the handler checks the session itself.
    SigningIn,
    /// Signed-in users with one of these roles.
    Roles(&'static [Role]),
}

impl Access {
    /// Whether a caller with `role` (None: anonymous) may call the route.
    pub fn allows(self, role: Option<Role>) -> bool {
        match self {
            Access::Public => true,
            Access::SignedIn | Access::SigningIn => role.is_some(),
            Access::Roles(roles) => role.is_some_and(|r| roles.contains(&r)),
        }
    }
}

/// Which records a permitted caller reaches through the route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataScope {
    /// Not about customers' records (health, vocabularies, own settings).
    None,
    /// Customers in the caller's scope (`service::customer_scope`: own and
    /// group members' customers; supervisors and admins all; collaborators
    /// none) and everything hanging off them (contacts, orders,
    /// communications, timeline, segments, maintenance tasks, outbox).
    Customers,
    /// Tickets and complaints the caller may see (own, their group's queue,
    /// escalated to them; supervisors and admins all).
    Tickets,
    /// The caller's own records (their session, availability, action items,
    /// the segments they saved).
    Own,
    /// Everything: configuration and administration, or aggregate figures.
    All,
    /// A capability in the URL (survey token) or the login itself.
    Token,
}

/// One line of the table.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
    pub scope: DataScope,
}

use guanxi_domain::user::Role::{Admin, Advisor, Agent, Collaborator, Supervisor};

/// Every role.
pub const EVERYONE: &[Role] = &[Agent, Supervisor, Advisor, Collaborator, Admin];
/// Service staff: everyone but collaborating departments, who only see what
/// is escalated to them (`Role::can_edit_customers`, `can_create_tickets`).
pub const STAFF: &[Role] = &[Agent, Supervisor, Advisor, Admin];
/// Supervisors and administrators (`Role::sees_all_customers`, `can_import`,
/// `can_delete_customers`).
pub const LEADS: &[Role] = &[Supervisor, Admin];
/// Administrators (`Role::can_administer_users`, `can_configure_service`).
pub const ADMIN: &[Role] = &[Admin];

const fn r(method: &'static str, path: &'static str, access: Access, scope: DataScope) -> Rule {
    Rule { method, path, access, scope }
}

use Access::{Public, Roles, SignedIn, SigningIn};
use DataScope::{All, Customers, Own, Tickets, Token};

const NONE: DataScope = DataScope::None;
const STAFF_ONLY: Access = Roles(STAFF);
const LEADS_ONLY: Access = Roles(LEADS);
const ADMIN_ONLY: Access = Roles(ADMIN);

/// The table: every route of the application.
pub const RULES: &[Rule] = &[
    // ---- API: system and authentication
    r("GET", "/healthz", Public, NONE),
    r("GET", "/api/openapi.json", Public, NONE),
    r("POST", "/api/v1/auth/token", Public, Token),
    r("GET", "/api/v1/me", SignedIn, Own),
    r("GET", "/api/v1/me/sessions", SignedIn, Own),
    r("DELETE", "/api/v1/me/sessions/{handle}", SignedIn, Own),
    r("DELETE", "/api/v1/me/tokens/{id}", SignedIn, Own),
    r("GET", "/api/v1/me/notifications", SignedIn, Own),
    r("POST", "/api/v1/me/notifications/{id}/read", SignedIn, Own),
    r("POST", "/api/v1/me/notifications/read-all", SignedIn, Own),
    r("POST", "/notifications/{id}/read", SignedIn, Own),
    r("POST", "/notifications/read-all", SignedIn, Own),
    r("GET", "/api/v1/security-events", ADMIN_ONLY, All),
    // ---- API: customers and their records (C1–C9)
    r("GET", "/api/v1/customers", SignedIn, Customers),
    r("POST", "/api/v1/customers", STAFF_ONLY, Customers),
    r("GET", "/api/v1/customers/export", SignedIn, Customers),
    r("GET", "/api/v1/customers/{id}", SignedIn, Customers),
    r("PUT", "/api/v1/customers/{id}", STAFF_ONLY, Customers),
    r("DELETE", "/api/v1/customers/{id}", LEADS_ONLY, Customers),
    r("POST", "/api/v1/customers/{id}/reveal", STAFF_ONLY, Customers),
    r("GET", "/api/v1/customers/{id}/personal-data", STAFF_ONLY, Customers),
    r("POST", "/api/v1/customers/{id}/anonymise", LEADS_ONLY, Customers),
    r("GET", "/api/v1/customers/{id}/contacts", SignedIn, Customers),
    r("POST", "/api/v1/customers/{id}/contacts", STAFF_ONLY, Customers),
    r("PUT", "/api/v1/contacts/{id}", STAFF_ONLY, Customers),
    r("DELETE", "/api/v1/contacts/{id}", STAFF_ONLY, Customers),
    r("POST", "/api/v1/contacts/{id}/reveal", STAFF_ONLY, Customers),
    r("GET", "/api/v1/customers/{id}/orders", SignedIn, Customers),
    r("POST", "/api/v1/customers/{id}/orders", STAFF_ONLY, Customers),
    r("POST", "/api/v1/events", LEADS_ONLY, Customers),
    r("POST", "/api/v1/customers/{id}/communications", STAFF_ONLY, Customers),
    r("GET", "/api/v1/action-items", SignedIn, Own),
    r("PATCH", "/api/v1/action-items/{id}", SignedIn, Own),
    r("GET", "/api/v1/customers/{id}/timeline", SignedIn, Customers),
    r("POST", "/api/v1/import/{kind}", LEADS_ONLY, All),
    // ---- API: segments, churn, rule tags (G)
    r("GET", "/api/v1/customers/{id}/segment", SignedIn, Customers),
    r("GET", "/api/v1/segments/overview", SignedIn, Customers),
    r("GET", "/api/v1/segments/churn-risk", SignedIn, Customers),
    r("POST", "/api/v1/segments/preview", SignedIn, Customers),
    r("GET", "/api/v1/segments", SignedIn, Own),
    r("POST", "/api/v1/segments", STAFF_ONLY, Own),
    r("GET", "/api/v1/segments/{id}", SignedIn, Customers),
    r("PATCH", "/api/v1/segments/{id}", STAFF_ONLY, Own),
    r("DELETE", "/api/v1/segments/{id}", STAFF_ONLY, Own),
    r("POST", "/api/v1/segments/recompute", LEADS_ONLY, All),
    r("POST", "/api/v1/customers/{id}/churn-reason", STAFF_ONLY, Customers),
    r("GET", "/api/v1/segments/churn-reasons", SignedIn, Customers),
    r("GET", "/api/v1/rule-tags", SignedIn, All),
    r("POST", "/api/v1/rule-tags", ADMIN_ONLY, All),
    r("GET", "/api/v1/rule-tags/{id}", SignedIn, All),
    r("PATCH", "/api/v1/rule-tags/{id}", ADMIN_ONLY, All),
    r("DELETE", "/api/v1/rule-tags/{id}", ADMIN_ONLY, All),
    // ---- API: relationship maintenance (M)
    r("GET", "/api/v1/maintenance/tasks", SignedIn, Customers),
    r("GET", "/api/v1/maintenance/tasks/{id}", SignedIn, Customers),
    r("POST", "/api/v1/maintenance/tasks/{id}/record", STAFF_ONLY, Customers),
    r("GET", "/api/v1/maintenance/vocabularies", SignedIn, NONE),
    r("GET", "/api/v1/maintenance/execution", SignedIn, Customers),
    r("POST", "/api/v1/maintenance/generate", LEADS_ONLY, All),
    r("GET", "/api/v1/maintenance/rules", SignedIn, All),
    r("PUT", "/api/v1/maintenance/rules", ADMIN_ONLY, All),
    // ---- API: business calendar (M3)
    r("GET", "/api/v1/calendar/days", SignedIn, All),
    r("PUT", "/api/v1/calendar/overrides/{date}", ADMIN_ONLY, All),
    r("DELETE", "/api/v1/calendar/overrides/{date}", ADMIN_ONLY, All),
    r("GET", "/api/v1/calendar/schedules", SignedIn, All),
    r("PUT", "/api/v1/calendar/schedules/{code}", ADMIN_ONLY, All),
    // ---- API: complaints (P)
    r("GET", "/api/v1/complaints", SignedIn, Tickets),
    r("POST", "/api/v1/complaints", STAFF_ONLY, Tickets),
    r("GET", "/api/v1/complaints/export", LEADS_ONLY, Tickets),
    r("GET", "/api/v1/complaints/review", LEADS_ONLY, All),
    r("GET", "/api/v1/complaints/{id}", SignedIn, Tickets),
    r("POST", "/api/v1/complaints/{id}/steps", SignedIn, Tickets),
    r("POST", "/api/v1/complaints/{id}/urgency", STAFF_ONLY, Tickets),
    r("GET", "/api/v1/complaints/settings", ADMIN_ONLY, All),
    r("PUT", "/api/v1/complaints/settings", ADMIN_ONLY, All),
    r("GET", "/api/v1/complaints/compensation", ADMIN_ONLY, All),
    r("PUT", "/api/v1/complaints/compensation", ADMIN_ONLY, All),
    // ---- API: tickets (T)
    r("GET", "/api/v1/tickets", SignedIn, Tickets),
    r("POST", "/api/v1/tickets", STAFF_ONLY, Tickets),
    r("GET", "/api/v1/tickets/{id}", SignedIn, Tickets),
    r("POST", "/api/v1/tickets/{id}/actions", SignedIn, Tickets),
    r("POST", "/api/v1/tickets/{id}/messages", SignedIn, Tickets),
    r("POST", "/api/v1/tickets/{id}/attachments", SignedIn, Tickets),
    r("GET", "/api/v1/tickets/{id}/attachments/{attachment_id}", SignedIn, Tickets),
    r("POST", "/api/v1/tickets/{id}/revisit", STAFF_ONLY, Tickets),
    r("PUT", "/api/v1/tickets/{id}/assignment", STAFF_ONLY, Tickets),
    r("POST", "/api/v1/tickets/{id}/escalate", STAFF_ONLY, Tickets),
    r("GET", "/api/v1/tickets/{id}/need", SignedIn, Tickets),
    r("PUT", "/api/v1/tickets/{id}/need", STAFF_ONLY, Tickets),
    r("POST", "/api/v1/tickets/{id}/need/customer-told", STAFF_ONLY, Tickets),
    r("GET", "/api/v1/reports/needs", LEADS_ONLY, All),
    r("GET", "/api/v1/needs/departments", ADMIN_ONLY, All),
    r("PUT", "/api/v1/needs/departments", ADMIN_ONLY, All),
    r("GET", "/api/v1/agents/me/availability", SignedIn, Own),
    r("PUT", "/api/v1/agents/me/availability", SignedIn, Own),
    r("GET", "/api/v1/ticket-settings/sla", SignedIn, All),
    r("PUT", "/api/v1/ticket-settings/sla", ADMIN_ONLY, All),
    r("GET", "/api/v1/ticket-settings/routing-rules", SignedIn, All),
    r("POST", "/api/v1/ticket-settings/routing-rules", ADMIN_ONLY, All),
    r("PUT", "/api/v1/ticket-settings/routing-rules/{id}", ADMIN_ONLY, All),
    r("DELETE", "/api/v1/ticket-settings/routing-rules/{id}", ADMIN_ONLY, All),
    r("GET", "/api/v1/ticket-settings/escalation-paths", SignedIn, All),
    r("POST", "/api/v1/ticket-settings/escalation-paths", ADMIN_ONLY, All),
    r("PUT", "/api/v1/ticket-settings/escalation-paths/{id}", ADMIN_ONLY, All),
    r("DELETE", "/api/v1/ticket-settings/escalation-paths/{id}", ADMIN_ONLY, All),
    r("GET", "/api/v1/ticket-settings/groups", SignedIn, All),
    r("PUT", "/api/v1/ticket-settings/groups/{id}", ADMIN_ONLY, All),
    r("PUT", "/api/v1/ticket-settings/default-group", ADMIN_ONLY, All),
    // ---- API: knowledge base and scripts (K)
    r("GET", "/api/v1/kb/articles", SignedIn, All),
    r("POST", "/api/v1/kb/articles", STAFF_ONLY, All),
    r("GET", "/api/v1/kb/articles/{id}", SignedIn, All),
    r("PUT", "/api/v1/kb/articles/{id}", STAFF_ONLY, All),
    r("GET", "/api/v1/kb/search", SignedIn, All),
    r("GET", "/api/v1/tickets/{id}/suggested-articles", SignedIn, Tickets),
    r("GET", "/api/v1/tickets/{id}/scripts", SignedIn, Tickets),
    r("GET", "/api/v1/scripts", SignedIn, All),
    r("POST", "/api/v1/scripts", LEADS_ONLY, All),
    r("PUT", "/api/v1/scripts/{id}", LEADS_ONLY, All),
    r("POST", "/api/v1/scripts/{id}/uses", STAFF_ONLY, Tickets),
    // ---- API: users and groups (S1)
    r("GET", "/api/v1/users", ADMIN_ONLY, All),
    r("POST", "/api/v1/users", ADMIN_ONLY, All),
    r("PUT", "/api/v1/users/{id}", ADMIN_ONLY, All),
    r("GET", "/api/v1/groups", ADMIN_ONLY, All),
    r("POST", "/api/v1/groups", ADMIN_ONLY, All),
    r("DELETE", "/api/v1/groups/{id}", ADMIN_ONLY, All),
    // ---- API: the audit log (S3)
    r("GET", "/api/v1/audit", ADMIN_ONLY, All),
    r("GET", "/api/v1/audit/export", ADMIN_ONLY, All),
    // ---- API: outreach (O)
    r("POST", "/api/v1/outbox", STAFF_ONLY, Customers),
    r("GET", "/api/v1/outbox", LEADS_ONLY, All),
    r("POST", "/api/v1/outbox/{id}/acknowledge", STAFF_ONLY, Customers),
    r("GET", "/api/v1/message-templates", SignedIn, All),
    r("POST", "/api/v1/message-templates", ADMIN_ONLY, All),
    r("PUT", "/api/v1/message-templates/{id}", ADMIN_ONLY, All),
    r("GET", "/api/v1/outreach-settings", ADMIN_ONLY, All),
    r("PUT", "/api/v1/outreach-settings", ADMIN_ONLY, All),
    r("POST", "/api/v1/surveys", STAFF_ONLY, Tickets),
    r("GET", "/api/v1/customers/{id}/consents", SignedIn, Customers),
    r("POST", "/api/v1/customers/{id}/consents", STAFF_ONLY, Customers),
    r("GET", "/api/v1/maintenance/tasks/{id}/appointment", SignedIn, Customers),
    r("PUT", "/api/v1/maintenance/tasks/{id}/appointment", STAFF_ONLY, Customers),
    r("DELETE", "/api/v1/maintenance/tasks/{id}/appointment", STAFF_ONLY, Customers),
    // ---- API: reports (R)
    r("GET", "/api/v1/kpis", LEADS_ONLY, All),
    r("GET", "/api/v1/kpis/{name}", LEADS_ONLY, All),
    r("GET", "/api/v1/kpi-targets", LEADS_ONLY, All),
    r("PUT", "/api/v1/kpi-targets", LEADS_ONLY, All),
    r("DELETE", "/api/v1/kpi-targets/{id}", LEADS_ONLY, All),
    r("GET", "/api/v1/kpi-actions", LEADS_ONLY, All),
    r("POST", "/api/v1/kpi-actions", LEADS_ONLY, All),
    r("GET", "/api/v1/kpi-actions/{id}", LEADS_ONLY, All),
    r("PUT", "/api/v1/kpi-actions/{id}", LEADS_ONLY, All),
    r("DELETE", "/api/v1/kpi-actions/{id}", LEADS_ONLY, All),
    // ---- Pages: shell, login, assets
    r("GET", "/", SignedIn, Customers),
    r("GET", "/login", Public, Token),
    r("POST", "/login", Public, Token),
    r("GET", "/login/totp", SigningIn, Own),
    r("POST", "/login/totp", SigningIn, Own),
    r("POST", "/logout", SigningIn, Own),
    r("GET", "/account/security", SigningIn, Own),
    r("POST", "/account/totp/start", SigningIn, Own),
    r("POST", "/account/totp/confirm", SigningIn, Own),
    r("POST", "/account/totp/disable", SigningIn, Own),
    r("POST", "/account/sessions/{handle}/end", SigningIn, Own),
    r("POST", "/account/sessions/end-others", SigningIn, Own),
    r("POST", "/account/tokens/{id}/revoke", SigningIn, Own),
    r("POST", "/account/password", SigningIn, Own),
    r("GET", "/lang/{code}", Public, NONE),
    r("GET", "/assets/{*file}", Public, NONE),
    // ---- Pages: customers and their records
    r("GET", "/customers", SignedIn, Customers),
    r("GET", "/customers/new", STAFF_ONLY, Customers),
    r("POST", "/customers/new", STAFF_ONLY, Customers),
    r("GET", "/customers/export", SignedIn, Customers),
    r("GET", "/customers/{id}", SignedIn, Customers),
    r("GET", "/customers/{id}/edit", STAFF_ONLY, Customers),
    r("POST", "/customers/{id}/edit", STAFF_ONLY, Customers),
    r("GET", "/customers/{id}/delete", LEADS_ONLY, Customers),
    r("POST", "/customers/{id}/delete", LEADS_ONLY, Customers),
    r("POST", "/customers/{id}/reveal", STAFF_ONLY, Customers),
    r("GET", "/customers/{id}/contacts/new", STAFF_ONLY, Customers),
    r("POST", "/customers/{id}/contacts/new", STAFF_ONLY, Customers),
    r("POST", "/contacts/{id}/delete", STAFF_ONLY, Customers),
    r("POST", "/contacts/{id}/reveal", STAFF_ONLY, Customers),
    r("GET", "/customers/{id}/communications/new", STAFF_ONLY, Customers),
    r("POST", "/customers/{id}/communications/new", STAFF_ONLY, Customers),
    r("GET", "/customers/{id}/orders/new", STAFF_ONLY, Customers),
    r("POST", "/customers/{id}/orders/new", STAFF_ONLY, Customers),
    r("POST", "/action-items/{id}/status", SignedIn, Own),
    r("POST", "/customers/{id}/churn-reason", STAFF_ONLY, Customers),
    r("GET", "/import", LEADS_ONLY, All),
    r("POST", "/import", LEADS_ONLY, All),
    // ---- Pages: segments
    r("GET", "/segments", SignedIn, Customers),
    r("POST", "/segments/recompute", LEADS_ONLY, All),
    r("GET", "/segments/churn-risk", SignedIn, Customers),
    r("GET", "/segments/members", SignedIn, Customers),
    r("GET", "/segments/saved", SignedIn, Own),
    r("GET", "/segments/saved/{id}", SignedIn, Customers),
    r("GET", "/segments/saved/{id}/edit", STAFF_ONLY, Own),
    r("GET", "/segments/saved/{id}/delete", STAFF_ONLY, Own),
    r("POST", "/segments/saved/{id}/delete", STAFF_ONLY, Own),
    r("GET", "/segments/builder", SignedIn, Customers),
    r("POST", "/segments/builder", STAFF_ONLY, Own),
    r("GET", "/segments/builder/count", SignedIn, Customers),
    r("GET", "/segments/rule-tags", SignedIn, All),
    r("GET", "/segments/rule-tags/new", ADMIN_ONLY, All),
    r("POST", "/segments/rule-tags/new", ADMIN_ONLY, All),
    r("GET", "/segments/rule-tags/{id}", ADMIN_ONLY, All),
    r("POST", "/segments/rule-tags/{id}", ADMIN_ONLY, All),
    r("POST", "/segments/rule-tags/{id}/toggle", ADMIN_ONLY, All),
    r("GET", "/segments/rule-tags/{id}/delete", ADMIN_ONLY, All),
    r("POST", "/segments/rule-tags/{id}/delete", ADMIN_ONLY, All),
    r("GET", "/segments/settings", ADMIN_ONLY, All),
    r("POST", "/segments/settings", ADMIN_ONLY, All),
    // ---- Pages: tickets and complaints
    r("GET", "/tickets", SignedIn, Tickets),
    r("GET", "/tickets/new", STAFF_ONLY, Tickets),
    r("POST", "/tickets/new", STAFF_ONLY, Tickets),
    r("POST", "/tickets/availability", SignedIn, Own),
    r("GET", "/tickets/{id}", SignedIn, Tickets),
    r("POST", "/tickets/{id}/action", SignedIn, Tickets),
    r("POST", "/tickets/{id}/message", SignedIn, Tickets),
    r("GET", "/tickets/{id}/attachments/{attachment_id}", SignedIn, Tickets),
    r("POST", "/tickets/{id}/revisit", STAFF_ONLY, Tickets),
    r("POST", "/tickets/{id}/assign", STAFF_ONLY, Tickets),
    r("POST", "/tickets/{id}/escalate", STAFF_ONLY, Tickets),
    r("POST", "/tickets/{id}/need", STAFF_ONLY, Tickets),
    r("POST", "/tickets/{id}/need/told", STAFF_ONLY, Tickets),
    r("POST", "/tickets/{id}/scripts/{script_id}/use", STAFF_ONLY, Tickets),
    r("GET", "/complaints", SignedIn, Tickets),
    r("GET", "/complaints/export", LEADS_ONLY, Tickets),
    r("GET", "/complaints/review", LEADS_ONLY, All),
    r("GET", "/complaints/review.xlsx", LEADS_ONLY, All),
    r("GET", "/complaints/new", STAFF_ONLY, Tickets),
    r("POST", "/complaints/new", STAFF_ONLY, Tickets),
    r("GET", "/complaints/{id}", SignedIn, Tickets),
    r("POST", "/complaints/{id}/urgency", STAFF_ONLY, Tickets),
    r("POST", "/complaints/{id}/step", SignedIn, Tickets),
    r("GET", "/complaints/{id}/report", SignedIn, Tickets),
    r("GET", "/complaints/{id}/report.xlsx", SignedIn, Tickets),
    // ---- Pages: maintenance
    r("GET", "/maintenance", SignedIn, Customers),
    r("POST", "/maintenance/generate", LEADS_ONLY, All),
    r("GET", "/maintenance/tasks/{id}", SignedIn, Customers),
    r("GET", "/maintenance/tasks/{id}/record", STAFF_ONLY, Customers),
    r("POST", "/maintenance/tasks/{id}/record", STAFF_ONLY, Customers),
    r("GET", "/maintenance/execution", SignedIn, Customers),
    r("GET", "/maintenance/settings", ADMIN_ONLY, All),
    r("POST", "/maintenance/settings", ADMIN_ONLY, All),
    // ---- Pages: knowledge base
    r("GET", "/kb", SignedIn, All),
    r("GET", "/kb/articles/new", STAFF_ONLY, All),
    r("POST", "/kb/articles/new", STAFF_ONLY, All),
    r("GET", "/kb/articles/{id}", SignedIn, All),
    r("GET", "/kb/articles/{id}/edit", STAFF_ONLY, All),
    r("POST", "/kb/articles/{id}/edit", STAFF_ONLY, All),
    r("GET", "/kb/scripts", SignedIn, All),
    r("GET", "/kb/scripts/new", LEADS_ONLY, All),
    r("POST", "/kb/scripts/new", LEADS_ONLY, All),
    r("GET", "/kb/scripts/{id}/edit", LEADS_ONLY, All),
    r("POST", "/kb/scripts/{id}/edit", LEADS_ONLY, All),
    // ---- Pages: reports
    r("GET", "/reports", LEADS_ONLY, All),
    r("GET", "/reports/monitoring", LEADS_ONLY, All),
    r("GET", "/reports/monitoring.xlsx", LEADS_ONLY, All),
    r("GET", "/reports/problems", LEADS_ONLY, All),
    r("GET", "/reports/problems.xlsx", LEADS_ONLY, All),
    r("GET", "/reports/diagnosis", LEADS_ONLY, All),
    r("GET", "/reports/diagnosis.xlsx", LEADS_ONLY, All),
    r("GET", "/reports/needs", LEADS_ONLY, All),
    r("GET", "/reports/needs.xlsx", LEADS_ONLY, All),
    r("GET", "/reports/targets", LEADS_ONLY, All),
    r("POST", "/reports/targets", LEADS_ONLY, All),
    r("POST", "/reports/targets/{id}/delete", LEADS_ONLY, All),
    r("GET", "/reports/actions", LEADS_ONLY, All),
    r("POST", "/reports/actions", LEADS_ONLY, All),
    r("GET", "/reports/actions/{id}", LEADS_ONLY, All),
    r("POST", "/reports/actions/{id}", LEADS_ONLY, All),
    r("POST", "/reports/actions/{id}/delete", LEADS_ONLY, All),
    // ---- Pages: outreach (public survey and feedback links)
    r("GET", "/admin/outbox", ADMIN_ONLY, All),
    r("GET", "/admin/templates", ADMIN_ONLY, All),
    r("POST", "/admin/templates", ADMIN_ONLY, All),
    r("GET", "/admin/templates/new", ADMIN_ONLY, All),
    r("GET", "/admin/templates/{id}", ADMIN_ONLY, All),
    r("POST", "/admin/templates/{id}", ADMIN_ONLY, All),
    r("GET", "/admin/outreach", ADMIN_ONLY, All),
    r("POST", "/admin/outreach", ADMIN_ONLY, All),
    r("POST", "/customers/{id}/consents", STAFF_ONLY, Customers),
    r("POST", "/maintenance/tasks/{id}/appointment", STAFF_ONLY, Customers),
    r("GET", "/s/{token}", Public, Token),
    r("POST", "/s/{token}", Public, Token),
    r("GET", "/feedback", Public, Token),
    r("POST", "/feedback", Public, Token),
    // ---- Pages: administration
    r("GET", "/admin/users", ADMIN_ONLY, All),
    r("POST", "/admin/users", ADMIN_ONLY, All),
    r("GET", "/admin/users/{id}", ADMIN_ONLY, All),
    r("POST", "/admin/users/{id}", ADMIN_ONLY, All),
    r("GET", "/admin/groups", ADMIN_ONLY, All),
    r("POST", "/admin/groups", ADMIN_ONLY, All),
    r("POST", "/admin/groups/{id}/delete", ADMIN_ONLY, All),
    r("GET", "/admin/audit", ADMIN_ONLY, All),
    r("GET", "/admin/audit/export", ADMIN_ONLY, All),
    r("GET", "/admin/security", ADMIN_ONLY, All),
    r("GET", "/admin/calendar", ADMIN_ONLY, All),
    r("POST", "/admin/calendar/overrides", ADMIN_ONLY, All),
    r("POST", "/admin/calendar/overrides/{date}/delete", ADMIN_ONLY, All),
    r("POST", "/admin/calendar/schedule", ADMIN_ONLY, All),
    r("GET", "/admin/complaints", ADMIN_ONLY, All),
    r("POST", "/admin/complaints", ADMIN_ONLY, All),
    r("POST", "/admin/complaints/compensation", ADMIN_ONLY, All),
    r("GET", "/admin/tickets", ADMIN_ONLY, All),
    r("POST", "/admin/tickets/sla", ADMIN_ONLY, All),
    r("POST", "/admin/tickets/groups/{id}", ADMIN_ONLY, All),
    r("POST", "/admin/tickets/rules", ADMIN_ONLY, All),
    r("POST", "/admin/tickets/rules/{id}/delete", ADMIN_ONLY, All),
    r("POST", "/admin/tickets/paths", ADMIN_ONLY, All),
    r("POST", "/admin/tickets/paths/{id}/delete", ADMIN_ONLY, All),
];

/// The rule of a method and route pattern; HEAD is answered by GET's.
pub fn rule(method: &Method, path: &str) -> Option<&'static Rule> {
    /// The rules by (method, route), built once: every request looks its rule up.
    static BY_ROUTE: std::sync::LazyLock<std::collections::HashMap<(&'static str, &'static str), &'static Rule>> =
        std::sync::LazyLock::new(|| {
            let mut map = std::collections::HashMap::with_capacity(RULES.len());
            for r in RULES {
                // The first rule of a route counts, as a search in order would find it.
                map.entry((r.method, r.path)).or_insert(r);
            }
            map
        });
    let m = if method == Method::HEAD { "GET" } else { method.as_str() };
    let by_route: &std::collections::HashMap<(&str, &str), &'static Rule> = &BY_ROUTE;
    by_route.get(&(m, path)).copied()
}

impl Access {
    /// In words, for the API document.
    pub fn describe(self) -> String {
        match self {
            Access::Public => "anyone, without a token".into(),
            Access::SignedIn | Access::SigningIn => "any signed-in user".into(),
            Access::Roles(roles) => {
                let names: Vec<&str> = roles.iter().map(|r| r.code()).collect();
                format!("roles {}", names.join(", "))
            }
        }
    }
}

impl DataScope {
    /// In words, for the API document.
    pub fn describe(self) -> &'static str {
        match self {
            DataScope::None => "no customer records",
            DataScope::Customers => {
                "customers in the caller's scope (own and group members'; supervisors and admins all; \
                 collaborators none); other ids answer 404"
            }
            DataScope::Tickets => {
                "tickets and complaints the caller may see (own, their group's, escalated to them; \
                 supervisors and admins all); other ids answer 404"
            }
            DataScope::Own => "the caller's own records",
            DataScope::All => "all records",
            DataScope::Token => "what the token or credentials in the request name",
        }
    }
}

/// Writes each API operation's rule into the OpenAPI document, so that a
/// client can read who may call it and which records it reaches.
pub fn document(doc: &mut utoipa::openapi::OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let ops = [
            ("GET", &mut item.get),
            ("PUT", &mut item.put),
            ("POST", &mut item.post),
            ("DELETE", &mut item.delete),
            ("PATCH", &mut item.patch),
        ];
        for (method, op) in ops {
            let Some(op) = op.as_mut() else { continue };
            let Some(rule) = RULES.iter().find(|r| r.method == method && r.path == path) else { continue };
            let line = format!("Access: {}. Records: {}.", rule.access.describe(), rule.scope.describe());
            op.description = Some(match op.description.take() {
                Some(d) if !d.is_empty() => format!("{d}\n\n{line}"),
                _ => line,
            });
        }
    }
}

/// API routes answer with problem documents and bearer tokens; the others
/// are pages with a session cookie.
pub fn is_api(path: &str) -> bool {
    path.starts_with("/api/") || path == "/healthz"
}

/// The middleware: looks up the matched route's rule and refuses before the
/// handler runs. Unknown routes are refused; refusals are logged.
pub async fn enforce(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(matched) = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string()) else {
        // No route matched: the router answers 404 itself.
        return next.run(req).await;
    };
    let Some(rule) = rule(req.method(), &matched) else {
        if RULES.iter().any(|r| r.path == matched) {
            return StatusCode::METHOD_NOT_ALLOWED.into_response();
        }
        // A programming error: the route was added without a rule.
        tracing::error!(method = %req.method(), route = %matched, "route without an authorisation rule refused");
        let msg = format!(
            "no authorisation rule for {} {matched}: add one to RULES in crates/server/src/authz.rs",
            req.method()
        );
        return (StatusCode::INTERNAL_SERVER_ERROR, msg).into_response();
    };
    if matches!(rule.access, Access::Public | Access::SigningIn) {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let user = if is_api(&matched) {
        match ApiUser::from_request_parts(&mut parts, &state).await {
            Ok(u) => {
                // The handler's extractor takes it from here instead of
                // reading the token again.
                let user = u.0.clone();
                parts.extensions.insert(u);
                user
            }
            Err(e) => return e.into_response(),
        }
    } else {
        match PageUser::from_request_parts(&mut parts, &state).await {
            Ok(u) => {
                let user = u.user.clone();
                parts.extensions.insert(u);
                user
            }
            Err(rejection) => return rejection.into_response(),
        }
    };
    if !rule.access.allows(Some(user.role)) {
        tracing::warn!(
            user_id = user.id,
            role = user.role.code(),
            method = %parts.method,
            route = %matched,
            "authorisation refused"
        );
        return AppError::Forbidden.into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_per_route() {
        for (i, a) in RULES.iter().enumerate() {
            for b in &RULES[i + 1..] {
                assert!(!(a.method == b.method && a.path == b.path), "{} {} twice", a.method, a.path);
            }
        }
    }

    #[test]
    fn access_by_role() {
        assert!(Access::Public.allows(None));
        assert!(!Access::SignedIn.allows(None));
        assert!(Access::SignedIn.allows(Some(Role::Collaborator)));
        assert!(!STAFF_ONLY.allows(Some(Role::Collaborator)));
        assert!(STAFF_ONLY.allows(Some(Role::Agent)));
        assert!(!LEADS_ONLY.allows(Some(Role::Agent)));
        assert!(!ADMIN_ONLY.allows(Some(Role::Supervisor)));
        assert!(ADMIN_ONLY.allows(Some(Role::Admin)));
        assert_eq!(rule(&Method::HEAD, "/customers").map(|r| r.method), Some("GET"));
    }
}
