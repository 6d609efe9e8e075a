//! The demo's tickets: half a year of service history over the demo
//! customers, taken in turn by the demo agents and advisors in their own
//! groups — most closed with their reply and resolution (so the KPI
//! reports and the monitoring table have figures), some still open in the
//! agents' queues with running SLA clocks, and complaints among them.
//! Written through the benchmark's bulk path ([`fill_history`]), which
//! dates every step in the past; deterministic from the seed.

use guanxi_domain::user::Role;
use guanxi_store::{routing, users};

use crate::bench_tickets::{HistoryPlan, fill_history};
use crate::state::AppState;

/// Tickets per demo customer.
const PER_CUSTOMER: usize = 5;

/// Adds the demo tickets; how many were written.
pub async fn load(state: &AppState, seed: u64) -> anyhow::Result<usize> {
    let now = state.clock.now();
    let (customers, agents, last_id) = state
        .db
        .read(|c| {
            let customers: Vec<i64> = c
                .query("SELECT id FROM customers ORDER BY id LIMIT 100000", &[])?
                .iter()
                .map(|r| r.get(0))
                .collect::<guanxi_store::Result<_>>()?;
            let groups = users::list_groups(c)?;
            let staff: Vec<(i64, i64)> = users::list(c)?
                .into_iter()
                .filter(|u| u.active && matches!(u.role, Role::Agent | Role::Advisor))
                .filter_map(|u| Some((u.id, u.group_id?)))
                .collect();
            let agents = staff
                .iter()
                .filter_map(|&(id, g)| {
                    let name = groups.iter().find(|x| x.id == g)?.name.clone();
                    Some((id, g, name, staff.iter().filter(|s| s.1 == g).count()))
                })
                .collect::<Vec<_>>();
            Ok((customers, agents, guanxi_store::tickets::max_id(c)?))
        })
        .await?;
    if customers.is_empty() || agents.is_empty() {
        return Ok(0);
    }
    let count = customers.len() * PER_CUSTOMER;
    let plan = HistoryPlan {
        customers,
        agents,
        history_days: 180,
        closed_from_mins: 24 * 60,
        open_one_in: 50,
        open_within_mins: 3 * 24 * 60,
        last_id,
    };
    let (done, _) = fill_history(state, &plan, count, seed, &|_, _| {}).await?;
    state.db.write(move |c| routing::recount_loads(c, now)).await?;
    Ok(done)
}
