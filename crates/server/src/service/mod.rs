//! Service functions: one per user action, shared by the API and the pages.
//! Each parses input into domain types, checks permission and scope, and
//! runs its store calls (with the audit entry) in one transaction.

pub mod audit;
pub mod calendar;
pub mod complaints;
pub mod customers;
pub mod knowledge;
pub mod kpi_targets;
pub mod kpis;
pub mod maintenance;
pub mod needs;
pub mod outreach;
pub mod privacy;
pub mod relationship;
pub mod rule_tags;
pub mod segments;
pub mod tickets;
pub mod users;

use guanxi_domain::user::Role;
use guanxi_store::customers::Scope;
use guanxi_store::users::{self as store_users, User};
use guanxi_store::{Conn, Result};

/// Which customers a user may see: supervisors and admins all; others the
/// customers owned by themselves or by members of their group.
pub fn customer_scope(c: &mut Conn, user: &User) -> Result<Scope> {
    if user.role.sees_all_customers() {
        return Ok(Scope::All);
    }
    if user.role == Role::Collaborator {
        // Collaborating departments see only what is escalated to them.
        return Ok(Scope::OwnedBy(Vec::new()));
    }
    let mut ids = match user.group_id {
        Some(g) => store_users::group_member_ids(c, g)?,
        None => Vec::new(),
    };
    if !ids.contains(&user.id) {
        ids.push(user.id);
    }
    Ok(Scope::OwnedBy(ids))
}
