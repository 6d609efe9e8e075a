//! What routing reads and keeps (SPEC T3): the ordered routing rules, each
//! group's service settings (schedule, assignment mode), and each agent's
//! availability, skills and load — the number of tickets in hand, kept
//! up to date by the ticket actions so that choosing the least-loaded agent
//! never counts tickets.

use std::rc::Rc;

use guanxi_domain::ticket::routing::{AssignMode, Candidate, RuleConditions};
use jiff::Timestamp;
use serde::Serialize;

use crate::sql::{Conn, Row};
use crate::{Result, StoreError, args};

// ---- Rules ----

#[derive(Debug, Clone, Serialize)]
pub struct StoredRule {
    pub id: i64,
    pub name: String,
    pub position: i64,
    pub enabled: bool,
    pub conditions: RuleConditions,
    pub group_id: i64,
    pub group_name: String,
    pub skill: Option<String>,
    pub updated_at: Timestamp,
}

const RULE_COLS: &str = "r.id, r.name, r.position, r.enabled, r.conditions, r.group_id, g.name, r.skill, r.updated_at
    FROM routing_rules r JOIN groups g ON g.id = r.group_id";

fn rule(r: &Row) -> Result<StoredRule> {
    let raw: String = r.get(4)?;
    Ok(StoredRule {
        id: r.get(0)?,
        name: r.get(1)?,
        position: r.get(2)?,
        enabled: r.get(3)?,
        conditions: serde_json::from_str(&raw).map_err(|e| StoreError::Decode { column: 4, reason: e.to_string() })?,
        group_id: r.get(5)?,
        group_name: r.get(6)?,
        skill: r.get(7)?,
        updated_at: r.get(8)?,
    })
}

/// Every rule, in order.
pub fn rules(c: &mut Conn) -> Result<Vec<StoredRule>> {
    c.query(&format!("SELECT {RULE_COLS} ORDER BY r.position, r.id"), &[])?.iter().map(rule).collect()
}

pub fn rule_by_id(c: &mut Conn, id: i64) -> Result<StoredRule> {
    rule(&c.query_one(&format!("SELECT {RULE_COLS} WHERE r.id = $1"), args![id])?)
}

#[derive(Debug, Clone)]
pub struct RuleRow<'a> {
    pub name: &'a str,
    pub position: i64,
    pub enabled: bool,
    pub conditions: &'a RuleConditions,
    pub group_id: i64,
    pub skill: Option<&'a str>,
}

fn conditions_json(c: &RuleConditions) -> Result<String> {
    serde_json::to_string(c).map_err(|e| StoreError::Other(e.to_string()))
}

fn taken(e: StoreError) -> StoreError {
    if e.is_unique_violation() {
        guanxi_domain::ValidationErrors::single("name", guanxi_domain::Issue::Taken).into()
    } else {
        e
    }
}

pub fn group_exists(c: &mut Conn, group_id: i64) -> Result<bool> {
    Ok(c.query_opt("SELECT 1 FROM groups WHERE id = $1", args![group_id])?.is_some())
}

pub fn group_by_name(c: &mut Conn, name: &str) -> Result<Option<i64>> {
    c.query_opt("SELECT id FROM groups WHERE name = $1", args![name])?.map(|r| r.get(0)).transpose()
}

/// The position after the last rule.
pub fn next_rule_position(c: &mut Conn) -> Result<i64> {
    c.scalar("SELECT CAST(COALESCE(MAX(position), 0) + 10 AS BIGINT) FROM routing_rules", &[])
}

fn check_group(c: &mut Conn, group_id: i64) -> Result<()> {
    if !group_exists(c, group_id)? {
        return Err(guanxi_domain::ValidationErrors::single("group_id", guanxi_domain::Issue::Unknown).into());
    }
    Ok(())
}

pub fn create_rule(c: &mut Conn, r: &RuleRow<'_>, by: i64, now: Timestamp) -> Result<i64> {
    check_group(c, r.group_id)?;
    c.insert_id(
        "INSERT INTO routing_rules (name, position, enabled, conditions, group_id, skill, updated_by, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        args![r.name, r.position, r.enabled, conditions_json(r.conditions)?, r.group_id, r.skill, by, now],
    )
    .map_err(taken)
}

pub fn update_rule(c: &mut Conn, id: i64, r: &RuleRow<'_>, by: i64, now: Timestamp) -> Result<()> {
    check_group(c, r.group_id)?;
    let n = c
        .execute(
            "UPDATE routing_rules SET name = $2, position = $3, enabled = $4, conditions = $5, group_id = $6, skill = $7,
                 updated_by = $8, updated_at = $9 WHERE id = $1",
            args![id, r.name, r.position, r.enabled, conditions_json(r.conditions)?, r.group_id, r.skill, by, now],
        )
        .map_err(taken)?;
    if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

pub fn delete_rule(c: &mut Conn, id: i64) -> Result<()> {
    if c.execute("DELETE FROM routing_rules WHERE id = $1", args![id])? == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

// ---- Group settings ----

#[derive(Debug, Clone, Serialize)]
pub struct GroupSettings {
    pub group_id: i64,
    pub group_name: String,
    pub schedule_code: String,
    pub assign_mode: AssignMode,
}

/// Every service team with its settings (defaults where none are stored:
/// the default schedule, least-loaded first).
pub fn group_settings(c: &mut Conn) -> Result<Vec<GroupSettings>> {
    c.query(
        "SELECT g.id, g.name, COALESCE(s.schedule_code, 'default'), COALESCE(s.assign_mode, 'least_loaded')
         FROM groups g LEFT JOIN ticket_groups s ON s.group_id = g.id ORDER BY g.kind DESC, g.name",
        &[],
    )?
    .iter()
    .map(|r| {
        let mode: String = r.get(3)?;
        Ok(GroupSettings {
            group_id: r.get(0)?,
            group_name: r.get(1)?,
            schedule_code: r.get(2)?,
            assign_mode: AssignMode::parse(&mode).unwrap_or(AssignMode::LeastLoaded),
        })
    })
    .collect()
}

pub fn group_setting(c: &mut Conn, group_id: i64) -> Result<GroupSettings> {
    group_settings(c)?.into_iter().find(|g| g.group_id == group_id).ok_or(StoreError::NotFound)
}

pub fn save_group_settings(
    c: &mut Conn,
    group_id: i64,
    schedule: &str,
    mode: AssignMode,
    now: Timestamp,
) -> Result<()> {
    check_group(c, group_id)?;
    c.execute(
        "INSERT INTO ticket_groups (group_id, schedule_code, assign_mode, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (group_id) DO UPDATE SET schedule_code = excluded.schedule_code,
             assign_mode = excluded.assign_mode, updated_at = excluded.updated_at",
        args![group_id, schedule, mode.code(), now],
    )?;
    Ok(())
}

// ---- Agents ----

/// The members of a group who take tickets (agents and advisors), with
/// their availability, skills and load, and their names, in user order.
#[derive(Debug, Clone)]
pub struct GroupCandidates {
    pub candidates: Vec<Candidate>,
    pub names: Vec<String>,
}

impl GroupCandidates {
    pub fn name_of(&self, user_id: i64) -> Option<&str> {
        self.candidates.iter().position(|c| c.user_id == user_id).map(|i| self.names[i].as_str())
    }
}

/// A group's candidates. On the SQLite writer they come from its memo (see
/// [`memo`]) while no row of `users` or `ticket_agents` has changed but
/// through [`add_load`]: creating a ticket reads them once per group, not
/// once per ticket.
pub fn candidates(c: &mut Conn, group_id: i64) -> Result<Rc<GroupCandidates>> {
    if let Some(hit) = memo::get(group_id) {
        return Ok(hit);
    }
    let rows = c.query(
        "SELECT u.id, u.certified, a.available, a.skills, a.open_tickets, a.last_assigned_at, u.name
         FROM users u LEFT JOIN ticket_agents a ON a.user_id = u.id
         WHERE u.group_id = $1 AND u.active = $2 AND u.role IN ('agent', 'advisor') ORDER BY u.id",
        args![group_id, true],
    )?;
    let mut found =
        GroupCandidates { candidates: Vec::with_capacity(rows.len()), names: Vec::with_capacity(rows.len()) };
    for r in rows.iter() {
        let skills: Option<String> = r.get(3)?;
        found.candidates.push(Candidate {
            user_id: r.get(0)?,
            certified: r.get(1)?,
            // Available until they say otherwise.
            available: r.get::<Option<bool>>(2)?.unwrap_or(true),
            skills: split_skills(skills.as_deref().unwrap_or("")),
            load: r.get::<Option<i64>>(4)?.unwrap_or(0),
            last_assigned_at: r.get(5)?,
        });
        found.names.push(r.get(6)?);
    }
    let found = Rc::new(found);
    memo::put(group_id, &found);
    Ok(found)
}

/// The SQLite writer's memo of [`candidates`], on its thread only (no other
/// thread has one: readers and PostgreSQL connections always read).
///
/// It is kept while nothing it was read from has changed: the writer
/// connection's update hook counts every row change of `users` and
/// `ticket_agents` ([`changed`]), and the memo is emptied when the count has
/// moved since it was filled. [`add_load`] patches it instead when its own
/// upsert was the only change. A rollback (of a transaction or a savepoint)
/// and a commit by another connection (the data version the writer checks
/// when it begins) undo or make changes the hook did not report:
/// [`forget`] empties the memo then.
pub(crate) mod memo {
    use std::cell::{Cell, RefCell};
    use std::collections::HashMap;
    use std::rc::Rc;

    use super::GroupCandidates;

    struct Memo {
        groups: HashMap<i64, Rc<GroupCandidates>>,
        /// The change count the entries were read at.
        at: u64,
    }

    thread_local! {
        static MEMO: RefCell<Option<Memo>> = const { RefCell::new(None) };
        static CHANGES: Cell<u64> = const { Cell::new(0) };
    }

    /// The tables [`super::candidates`] reads.
    pub(crate) fn reads(table: &str) -> bool {
        table == "users" || table == "ticket_agents"
    }

    /// Gives the calling thread (the SQLite writer) a memo.
    pub(crate) fn enable() {
        MEMO.with(|m| *m.borrow_mut() = Some(Memo { groups: HashMap::new(), at: CHANGES.get() }));
    }

    /// A row of a table the memo reads changed (the update hook).
    pub(crate) fn changed() {
        CHANGES.set(CHANGES.get() + 1);
    }

    /// Changes were made the hook did not see, or undone.
    pub(crate) fn forget() {
        changed();
    }

    pub(crate) fn changes() -> u64 {
        CHANGES.get()
    }

    fn with<T>(f: impl FnOnce(&mut Memo) -> Option<T>) -> Option<T> {
        MEMO.with(|m| {
            let mut m = m.borrow_mut();
            let m = m.as_mut()?;
            let now = CHANGES.get();
            if m.at != now {
                m.groups.clear();
                m.at = now;
            }
            f(m)
        })
    }

    pub(super) fn get(group_id: i64) -> Option<Rc<GroupCandidates>> {
        with(|m| m.groups.get(&group_id).cloned())
    }

    pub(super) fn put(group_id: i64, found: &Rc<GroupCandidates>) {
        with(|m| m.groups.insert(group_id, found.clone()));
    }

    /// After an upsert of the agent's load: if it was the only change since
    /// the memo was read (`before`, the count before it), the agent's entry
    /// is brought up to date and the memo kept.
    pub(super) fn loaded(before: u64, user_id: i64, delta: i64, at: Option<jiff::Timestamp>) {
        MEMO.with(|m| {
            let mut m = m.borrow_mut();
            let Some(m) = m.as_mut() else { return };
            let now = CHANGES.get();
            if m.at != before || now != before + 1 {
                return;
            }
            m.at = now;
            for entry in m.groups.values_mut() {
                if let Some(i) = entry.candidates.iter().position(|c| c.user_id == user_id) {
                    let c = &mut Rc::make_mut(entry).candidates[i];
                    c.load = (c.load + delta).max(0);
                    if at.is_some() {
                        c.last_assigned_at = at;
                    }
                }
            }
        });
    }
}

fn split_skills(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|x| !x.is_empty()).map(str::to_string).collect()
}

/// Puts users in a group (the benchmark's agents into their team).
pub fn set_group(c: &mut Conn, user_ids: &[i64], group_id: i64) -> Result<()> {
    for id in user_ids {
        c.execute("UPDATE users SET group_id = $2 WHERE id = $1", args![*id, group_id])?;
    }
    Ok(())
}

/// One agent's routing profile.
#[derive(Debug, Clone, Serialize)]
pub struct AgentProfile {
    pub user_id: i64,
    pub available: bool,
    pub skills: Vec<String>,
    pub open_tickets: i64,
}

pub fn agent(c: &mut Conn, user_id: i64) -> Result<AgentProfile> {
    let row =
        c.query_opt("SELECT available, skills, open_tickets FROM ticket_agents WHERE user_id = $1", args![user_id])?;
    Ok(match row {
        Some(r) => AgentProfile {
            user_id,
            available: r.get(0)?,
            skills: split_skills(&r.get::<String>(1)?),
            open_tickets: r.get(2)?,
        },
        None => AgentProfile { user_id, available: true, skills: Vec::new(), open_tickets: 0 },
    })
}

pub fn set_agent(c: &mut Conn, user_id: i64, available: bool, skills: &[String], now: Timestamp) -> Result<()> {
    c.execute(
        "INSERT INTO ticket_agents (user_id, available, skills, open_tickets, updated_at) VALUES ($1, $2, $3, 0, $4)
         ON CONFLICT (user_id) DO UPDATE SET available = excluded.available, skills = excluded.skills,
             updated_at = excluded.updated_at",
        args![user_id, available, skills.join(","), now],
    )?;
    Ok(())
}

/// A ticket in hand more (`+1`, stamping the assignment) or less (`-1`).
pub fn add_load(c: &mut Conn, user_id: i64, delta: i64, now: Timestamp) -> Result<()> {
    let before = memo::changes();
    if delta > 0 {
        c.execute(
            "INSERT INTO ticket_agents (user_id, available, skills, open_tickets, last_assigned_at, updated_at)
             VALUES ($1, $2, '', $3, $4, $4)
             ON CONFLICT (user_id) DO UPDATE SET open_tickets = ticket_agents.open_tickets + excluded.open_tickets,
                 last_assigned_at = excluded.last_assigned_at",
            args![user_id, true, delta, now],
        )?;
        // Stored to the millisecond: the memo holds what a read would give.
        match Timestamp::from_millisecond(now.as_millisecond()) {
            Ok(at) => memo::loaded(before, user_id, delta, Some(at)),
            Err(_) => memo::forget(),
        }
    } else if delta < 0 {
        c.execute(
            "UPDATE ticket_agents SET open_tickets = CASE WHEN open_tickets + $2 < 0 THEN 0 ELSE open_tickets + $2 END
             WHERE user_id = $1",
            args![user_id, delta],
        )?;
        memo::loaded(before, user_id, delta, None);
    }
    Ok(())
}

/// Recounts every agent's load from the tickets (after a bulk load).
pub fn recount_loads(c: &mut Conn, now: Timestamp) -> Result<()> {
    c.execute("UPDATE ticket_agents SET open_tickets = 0", &[])?;
    c.execute(
        "INSERT INTO ticket_agents (user_id, available, skills, open_tickets, updated_at)
         SELECT assignee_id, $1, '', COUNT(*), $2 FROM tickets
         WHERE assignee_id IS NOT NULL AND status NOT IN ('resolved', 'closed') GROUP BY assignee_id
         ON CONFLICT (user_id) DO UPDATE SET open_tickets = excluded.open_tickets",
        args![true, now],
    )?;
    Ok(())
}
