//! SLA policies and clocks (SPEC T2), on business time.
//!
//! A [`SlaPolicy`] gives each ticket its targets: first response and
//! resolution by priority, a progress update to the customer every 24 h
//! while open, and a revisit within 24 h of resolution. Extra
//! [`SlaRule`]s key on channel, type, priority and customer tier; when
//! several apply to one clock **the earliest deadline wins** (a chat
//! complaint is due by the sooner of the channel's 10 minutes and its
//! priority's target).
//!
//! A [`SlaClock`] counts working time on the ticket's calendar (its
//! group's schedule, or 7×12 for high-value customers): it runs, pauses
//! while the ticket waits for the customer, resumes where it stopped, and
//! stops when its obligation is met. It knows its deadline and its warning
//! instant (80 % of the target by default), and reports each warning and
//! breach once ([`SlaClocks::due_events`]); the scheduler fires at
//! [`SlaClocks::next_event`].

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::{Priority, TicketType};
use crate::calendar::BusinessCalendar;
use crate::customer::{Channel, vocabulary};
use crate::segment::ValueTier;
use crate::validation::{Issue, ValidationErrors};

vocabulary!(
    /// The clocks a ticket can have.
    ClockKind {
        FirstResponse = "first_response", "首次响应", "First response";
        Progress = "progress", "进度更新", "Progress update";
        Resolution = "resolution", "解决时限", "Resolution";
        Revisit = "revisit", "解决后回访", "Revisit";
        Plan = "plan", "绿色通道：2 小时内出方案", "Green channel: plan within 2 h";
    }
);

/// The green channel (T5): an urgent-and-important ticket gets a plan
/// within 2 working hours (the `plan` clock, met by the first message —
/// a reply or an internal note — or the resolution).
pub const GREEN_CHANNEL_PLAN_MINUTES: u32 = 120;

/// Whether a ticket of this priority is in the green channel: the priority
/// matrix maps urgent-and-important to `urgent`.
pub fn is_green_channel(p: Priority) -> bool {
    p == Priority::Urgent
}

/// Minutes of working time per priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PriorityMinutes {
    pub urgent: u32,
    pub high: u32,
    pub normal: u32,
    pub low: u32,
}

impl PriorityMinutes {
    pub fn get(&self, p: Priority) -> u32 {
        match p {
            Priority::Urgent => self.urgent,
            Priority::High => self.high,
            Priority::Normal => self.normal,
            Priority::Low => self.low,
        }
    }
}

/// An extra target: every condition given must hold; `minutes` then
/// competes with the base target of `clock` and the sooner deadline wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SlaRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub channel: Option<Channel>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub ticket_type: Option<TicketType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub priority: Option<Priority>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub tier: Option<ValueTier>,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub clock: ClockKind,
    pub minutes: u32,
}

/// The SLA policy: every number an administrator may change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SlaPolicy {
    /// First response per priority, minutes of working time.
    pub first_response: PriorityMinutes,
    /// Resolution per priority, minutes of working time.
    pub resolution: PriorityMinutes,
    /// A progress update to the customer at least this often while open.
    pub progress_update_minutes: u32,
    /// The revisit after resolution (not for complaints: their repair
    /// revisit, SPEC M1, replaces it).
    pub revisit_minutes: u32,
    /// Warn the assignee at this share of a target (50–99).
    pub warn_percent: u32,
    /// Extra targets by channel, type, priority and tier.
    pub rules: Vec<SlaRule>,
    /// High-value customers get a priority one step higher (SPEC G1).
    pub high_value_raise_priority: bool,
    /// …and their tickets run on this schedule (`7x12`).
    pub high_value_schedule: String,
}

impl Default for SlaPolicy {
    fn default() -> Self {
        Self {
            first_response: PriorityMinutes { urgent: 30, high: 60, normal: 240, low: 480 },
            resolution: PriorityMinutes { urgent: 240, high: 480, normal: 1_440, low: 2_880 },
            progress_update_minutes: 1_440,
            revisit_minutes: 1_440,
            warn_percent: 80,
            rules: vec![
                SlaRule {
                    channel: Some(Channel::OnlineChat),
                    ticket_type: None,
                    priority: None,
                    tier: None,
                    clock: ClockKind::FirstResponse,
                    minutes: 10,
                },
                SlaRule {
                    channel: Some(Channel::Phone),
                    ticket_type: None,
                    priority: None,
                    tier: None,
                    clock: ClockKind::FirstResponse,
                    minutes: 120,
                },
            ],
            high_value_raise_priority: true,
            high_value_schedule: "7x12".into(),
        }
    }
}

/// The longest target: a year of minutes.
pub const MAX_MINUTES: u32 = 525_600;

/// What the targets depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaFacts {
    pub channel: Channel,
    pub ticket_type: TicketType,
    pub priority: Priority,
    pub tier: Option<ValueTier>,
}

fn minutes(m: u32) -> SignedDuration {
    SignedDuration::from_mins(i64::from(m))
}

impl SlaPolicy {
    /// Checks the numbers; errors name the field (`resolution.urgent`,
    /// `rules[0].minutes`, …). The schedule's existence is the caller's to check.
    pub fn check(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        let mut m = |field: String, v: u32| {
            if v == 0 {
                e.add(&field, Issue::NotPositive);
            } else if v > MAX_MINUTES {
                e.add(&field, Issue::OutOfRange);
            }
        };
        for (name, pm) in [("first_response", &self.first_response), ("resolution", &self.resolution)] {
            for p in Priority::ALL {
                m(format!("{name}.{}", p.code()), pm.get(*p));
            }
        }
        m("progress_update_minutes".into(), self.progress_update_minutes);
        m("revisit_minutes".into(), self.revisit_minutes);
        for (i, r) in self.rules.iter().enumerate() {
            m(format!("rules[{i}].minutes"), r.minutes);
        }
        if !(50..=99).contains(&self.warn_percent) {
            e.add("warn_percent", Issue::OutOfRange);
        }
        if self.high_value_schedule.trim().is_empty() {
            e.add("high_value_schedule", Issue::Required);
        }
        if self.rules.len() > 100 {
            e.add("rules", Issue::TooMany { max: 100 });
        }
        e.into_result(|| ())
    }

    /// The priority a ticket gets: high-value customers one step higher.
    pub fn effective_priority(&self, asked: Priority, tier: Option<ValueTier>) -> Priority {
        if self.high_value_raise_priority && tier == Some(ValueTier::High) { asked.raised() } else { asked }
    }

    /// The target of a clock: the base target, or a matching rule's if sooner.
    pub fn target(&self, clock: ClockKind, f: &SlaFacts) -> SignedDuration {
        let base = match clock {
            ClockKind::FirstResponse => self.first_response.get(f.priority),
            ClockKind::Resolution => self.resolution.get(f.priority),
            ClockKind::Progress => self.progress_update_minutes,
            ClockKind::Revisit => self.revisit_minutes,
            ClockKind::Plan => GREEN_CHANNEL_PLAN_MINUTES,
        };
        let matching = self.rules.iter().filter(|r| {
            r.clock == clock
                && r.channel.is_none_or(|c| c == f.channel)
                && r.ticket_type.is_none_or(|t| t == f.ticket_type)
                && r.priority.is_none_or(|p| p == f.priority)
                && r.tier.is_none_or(|t| Some(t) == f.tier)
        });
        minutes(matching.map(|r| r.minutes).fold(base, u32::min))
    }

    /// Whether a resolved ticket of this type gets the 24 h revisit clock:
    /// a complaint's repair revisit (SPEC M1) replaces it, so that a closed
    /// matter gets one satisfaction contact.
    pub fn has_revisit(ticket_type: TicketType) -> bool {
        ticket_type != TicketType::Complaint
    }
}

/// One clock of one ticket. Instants are stored as milliseconds and the
/// keys are short: every ticket carries its clocks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaClock {
    #[serde(rename = "k")]
    pub kind: ClockKind,
    /// The target, milliseconds of working time.
    #[serde(rename = "t")]
    pub target_ms: i64,
    /// The warning point, milliseconds of working time.
    #[serde(rename = "w")]
    pub warn_ms: i64,
    /// Working time counted before `running_since` (across pauses).
    #[serde(rename = "e", default)]
    pub elapsed_ms: i64,
    #[serde(
        rename = "r",
        default,
        skip_serializing_if = "Option::is_none",
        with = "jiff::fmt::serde::timestamp::millisecond::optional"
    )]
    pub running_since: Option<Timestamp>,
    #[serde(
        rename = "d",
        default,
        skip_serializing_if = "Option::is_none",
        with = "jiff::fmt::serde::timestamp::millisecond::optional"
    )]
    pub due_at: Option<Timestamp>,
    #[serde(
        rename = "wa",
        default,
        skip_serializing_if = "Option::is_none",
        with = "jiff::fmt::serde::timestamp::millisecond::optional"
    )]
    pub warn_at: Option<Timestamp>,
    #[serde(rename = "wd", default, skip_serializing_if = "std::ops::Not::not")]
    pub warned: bool,
    #[serde(
        rename = "b",
        default,
        skip_serializing_if = "Option::is_none",
        with = "jiff::fmt::serde::timestamp::millisecond::optional"
    )]
    pub breached_at: Option<Timestamp>,
    #[serde(rename = "p", default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    #[serde(
        rename = "s",
        default,
        skip_serializing_if = "Option::is_none",
        with = "jiff::fmt::serde::timestamp::millisecond::optional"
    )]
    pub stopped_at: Option<Timestamp>,
}

/// What a clock reports when its time comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaEvent {
    /// The warning share of the target is used up.
    Warning,
    /// The target is used up.
    Breach,
}

impl SlaEvent {
    pub fn code(self) -> &'static str {
        match self {
            SlaEvent::Warning => "sla_warning",
            SlaEvent::Breach => "sla_breach",
        }
    }
}

/// What a clock shows at an instant: the one evaluation every badge uses
/// (colour and words alike), so a clock past its deadline reads as breached
/// before the scheduler has recorded the breach ([`SlaClock::state_at`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockState {
    Running,
    /// The warning share of the target is used up.
    Warning,
    Paused,
    /// Past the deadline, recorded or not.
    Breached,
    /// Stopped in time.
    Met,
    /// Stopped after the deadline.
    Late,
}

impl ClockState {
    pub fn code(self) -> &'static str {
        match self {
            ClockState::Running => "running",
            ClockState::Warning => "warning",
            ClockState::Paused => "paused",
            ClockState::Breached => "breached",
            ClockState::Met => "met",
            ClockState::Late => "late",
        }
    }
}

/// How a stopped clock ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Met,
    /// Met after the deadline.
    Late,
}

fn ms(d: SignedDuration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl SlaClock {
    pub fn is_running(&self) -> bool {
        self.running_since.is_some()
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped_at.is_some()
    }

    /// The deadline and warning instant from `running_since` and what was
    /// already used.
    fn schedule(&mut self, cal: &BusinessCalendar) {
        let Some(since) = self.running_since else {
            self.due_at = None;
            self.warn_at = None;
            return;
        };
        let left = SignedDuration::from_millis((self.target_ms - self.elapsed_ms).max(0));
        self.due_at = cal.add_working_duration(since, left);
        let warn_left = SignedDuration::from_millis((self.warn_ms - self.elapsed_ms).max(0));
        self.warn_at = if self.warned { None } else { cal.add_working_duration(since, warn_left) };
    }

    fn new(kind: ClockKind, target: SignedDuration, warn_percent: u32, at: Timestamp, cal: &BusinessCalendar) -> Self {
        let target_ms = ms(target);
        let mut c = SlaClock {
            kind,
            target_ms,
            warn_ms: target_ms / 100 * i64::from(warn_percent) + target_ms % 100 * i64::from(warn_percent) / 100,
            elapsed_ms: 0,
            running_since: Some(at),
            due_at: None,
            warn_at: None,
            warned: false,
            breached_at: None,
            paused: false,
            stopped_at: None,
        };
        c.schedule(cal);
        c
    }

    /// Working time used so far (for display and reports).
    pub fn used(&self, now: Timestamp, cal: &BusinessCalendar) -> SignedDuration {
        let running = match self.running_since {
            Some(s) if now > s => cal.working_duration_between(s, now),
            _ => SignedDuration::ZERO,
        };
        SignedDuration::from_millis(self.elapsed_ms) + running
    }

    /// Working time left before the deadline (negative when overdue).
    pub fn remaining(&self, now: Timestamp, cal: &BusinessCalendar) -> SignedDuration {
        SignedDuration::from_millis(self.target_ms) - self.used(now, cal)
    }

    /// The clock's state at `now`: a recorded breach or warning, or one
    /// reached by the working time used so far though not yet recorded by
    /// the scheduler. A breach outranks a pause; a pause outranks a warning.
    pub fn state_at(&self, now: Timestamp, cal: &BusinessCalendar) -> ClockState {
        if self.is_stopped() {
            return if self.breached_at.is_some() { ClockState::Late } else { ClockState::Met };
        }
        if self.breached_at.is_some() {
            // Known without walking the calendar since the clock started
            // (a queue shows its most overdue tickets first).
            return ClockState::Breached;
        }
        let used = ms(self.used(now, cal));
        if used >= self.target_ms {
            ClockState::Breached
        } else if self.paused {
            ClockState::Paused
        } else if self.warned || used >= self.warn_ms {
            ClockState::Warning
        } else {
            ClockState::Running
        }
    }

    fn pause(&mut self, at: Timestamp, cal: &BusinessCalendar) {
        if let Some(since) = self.running_since.take() {
            if at > since {
                self.elapsed_ms += ms(cal.working_duration_between(since, at));
            }
            self.paused = true;
            self.schedule(cal);
        }
    }

    fn resume(&mut self, at: Timestamp, cal: &BusinessCalendar) {
        if self.paused && self.stopped_at.is_none() {
            self.paused = false;
            self.running_since = Some(at);
            self.schedule(cal);
        }
    }

    fn stop(&mut self, at: Timestamp, cal: &BusinessCalendar) -> Option<Outcome> {
        if self.stopped_at.is_some() {
            return None;
        }
        let late_by_time = self.due_at.is_some_and(|d| d < at);
        if let Some(since) = self.running_since.take()
            && at > since
        {
            self.elapsed_ms += ms(cal.working_duration_between(since, at));
        }
        if late_by_time && self.breached_at.is_none() {
            // Met late before the scheduler reported it: it counts as a breach.
            self.breached_at = self.due_at;
        }
        self.paused = false;
        self.stopped_at = Some(at);
        self.due_at = None;
        self.warn_at = None;
        Some(if self.breached_at.is_some() { Outcome::Late } else { Outcome::Met })
    }

    /// A stopped clock runs again from where it stopped (a reopened ticket).
    fn restart_from_stop(&mut self, at: Timestamp, cal: &BusinessCalendar) {
        if self.stopped_at.take().is_some() {
            self.running_since = Some(at);
            self.schedule(cal);
        }
    }
}

/// Every clock of a ticket (at most one per kind).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SlaClocks(pub Vec<SlaClock>);

impl SlaClocks {
    pub fn get(&self, kind: ClockKind) -> Option<&SlaClock> {
        self.0.iter().find(|c| c.kind == kind)
    }

    fn get_mut(&mut self, kind: ClockKind) -> Option<&mut SlaClock> {
        self.0.iter_mut().find(|c| c.kind == kind)
    }

    /// Starts (or starts over) a clock of `target` at `at`.
    pub fn start(
        &mut self,
        kind: ClockKind,
        target: SignedDuration,
        warn_percent: u32,
        at: Timestamp,
        cal: &BusinessCalendar,
    ) {
        let c = SlaClock::new(kind, target, warn_percent, at, cal);
        match self.get_mut(kind) {
            Some(old) => *old = c,
            None => self.0.push(c),
        }
    }

    /// Stops a clock whose obligation is met; `None` when it was not running or paused.
    pub fn stop(&mut self, kind: ClockKind, at: Timestamp, cal: &BusinessCalendar) -> Option<Outcome> {
        self.get_mut(kind)?.stop(at, cal)
    }

    /// Stops every clock (archiving).
    pub fn stop_all(&mut self, at: Timestamp, cal: &BusinessCalendar) {
        for c in &mut self.0 {
            c.stop(at, cal);
        }
    }

    /// Waiting for the customer: every running clock pauses.
    pub fn pause_all(&mut self, at: Timestamp, cal: &BusinessCalendar) {
        for c in &mut self.0 {
            c.pause(at, cal);
        }
    }

    /// The customer answered: every paused clock runs again from where it paused.
    pub fn resume_all(&mut self, at: Timestamp, cal: &BusinessCalendar) {
        for c in &mut self.0 {
            c.resume(at, cal);
        }
    }

    /// A reopened ticket: the stopped clock of `kind` runs on from where it stopped.
    pub fn restart(&mut self, kind: ClockKind, at: Timestamp, cal: &BusinessCalendar) {
        if let Some(c) = self.get_mut(kind) {
            c.restart_from_stop(at, cal);
        }
    }

    /// The warnings and breaches due by `now`, each reported once: they are
    /// marked on the clocks. A breach already due swallows its warning.
    pub fn due_events(&mut self, now: Timestamp) -> Vec<(ClockKind, SlaEvent, Timestamp)> {
        let mut out = Vec::new();
        for c in self.0.iter_mut().filter(|c| c.is_running()) {
            match (c.due_at, c.warn_at) {
                (Some(due), _) if due <= now && c.breached_at.is_none() => {
                    c.breached_at = Some(due);
                    c.warned = true;
                    c.warn_at = None;
                    out.push((c.kind, SlaEvent::Breach, due));
                }
                (_, Some(warn)) if warn <= now && !c.warned && c.breached_at.is_none() => {
                    c.warned = true;
                    c.warn_at = None;
                    out.push((c.kind, SlaEvent::Warning, warn));
                }
                _ => {}
            }
        }
        out
    }

    /// When the scheduler must look at this ticket next.
    pub fn next_event(&self) -> Option<Timestamp> {
        self.0
            .iter()
            .filter(|c| c.is_running())
            .flat_map(|c| {
                let warn = c.warn_at.filter(|_| !c.warned && c.breached_at.is_none());
                let due = c.due_at.filter(|_| c.breached_at.is_none());
                [warn, due]
            })
            .flatten()
            .min()
    }

    /// The nearest deadline of a running clock (breached ones included:
    /// they are the most urgent) — what the queue sorts by.
    pub fn earliest_due(&self) -> Option<Timestamp> {
        self.0.iter().filter(|c| c.is_running()).filter_map(|c| c.due_at).min()
    }

    /// Whether any clock was ever breached.
    pub fn any_breached(&self) -> bool {
        self.0.iter().any(|c| c.breached_at.is_some())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::calendar::WeeklySchedule;
    use jiff::tz::TimeZone;
    use proptest::prelude::*;

    fn cal() -> BusinessCalendar {
        BusinessCalendar::new(WeeklySchedule::standard(), [], TimeZone::get("Asia/Shanghai").unwrap())
    }

    /// An instant in Shanghai time.
    fn at(s: &str) -> Timestamp {
        jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M", s)
            .unwrap()
            .to_zoned(TimeZone::get("Asia/Shanghai").unwrap())
            .unwrap()
            .timestamp()
    }

    fn facts(channel: Channel, priority: Priority) -> SlaFacts {
        SlaFacts { channel, ticket_type: TicketType::Consultation, priority, tier: None }
    }

    #[test]
    fn targets_take_the_earliest_deadline() {
        let p = SlaPolicy::default();
        let fr = |ch, pr| p.target(ClockKind::FirstResponse, &facts(ch, pr)).as_mins();
        assert_eq!(fr(Channel::Email, Priority::Normal), 240);
        assert_eq!(fr(Channel::Phone, Priority::Normal), 120, "the phone channel's 2 h wins");
        assert_eq!(fr(Channel::Phone, Priority::Urgent), 30, "the urgent priority's 30 min wins");
        assert_eq!(fr(Channel::OnlineChat, Priority::Low), 10);
        assert_eq!(p.target(ClockKind::Resolution, &facts(Channel::OnlineChat, Priority::High)).as_mins(), 480);
        assert_eq!(p.target(ClockKind::Progress, &facts(Channel::Email, Priority::Low)).as_mins(), 1_440);
        let mut tiered = p.clone();
        tiered.rules.push(SlaRule {
            channel: None,
            ticket_type: Some(TicketType::Complaint),
            priority: None,
            tier: Some(ValueTier::High),
            clock: ClockKind::Resolution,
            minutes: 120,
        });
        let f = SlaFacts {
            ticket_type: TicketType::Complaint,
            tier: Some(ValueTier::High),
            ..facts(Channel::Email, Priority::Low)
        };
        assert_eq!(tiered.target(ClockKind::Resolution, &f).as_mins(), 120);
        assert_eq!(tiered.target(ClockKind::Resolution, &SlaFacts { tier: None, ..f }).as_mins(), 2_880);
        assert_eq!(p.effective_priority(Priority::Normal, Some(ValueTier::High)), Priority::High);
        assert_eq!(p.effective_priority(Priority::Normal, Some(ValueTier::Potential)), Priority::Normal);
    }

    #[test]
    fn bad_policies_name_the_field() {
        let mut p = SlaPolicy::default();
        p.resolution.urgent = 0;
        p.warn_percent = 100;
        p.rules[1].minutes = MAX_MINUTES + 1;
        let e = p.check().unwrap_err();
        assert_eq!(e.fields(), vec!["resolution.urgent", "rules[1].minutes", "warn_percent"]);
        assert!(SlaPolicy::default().check().is_ok());
    }

    #[test]
    fn a_deadline_skips_the_night_the_weekend_and_lunch() {
        let cal = cal();
        let mut clocks = SlaClocks::default();
        // Friday 2026-11-20 17:00, 2 working hours: 1 h on Friday, then
        // Monday 09:00 + 1 h.
        clocks.start(ClockKind::FirstResponse, SignedDuration::from_hours(2), 80, at("2026-11-20 17:00"), &cal);
        let c = clocks.get(ClockKind::FirstResponse).unwrap();
        assert_eq!(c.due_at, Some(at("2026-11-23 10:00")));
        // 80 % = 96 min: 60 on Friday, 36 on Monday.
        assert_eq!(c.warn_at, Some(at("2026-11-23 09:36")));
        assert_eq!(clocks.next_event(), Some(at("2026-11-23 09:36")));
        // Lunch is not working time: 11:30 + 1 h is 13:30 + 30 min.
        clocks.start(ClockKind::Resolution, SignedDuration::from_hours(1), 80, at("2026-11-23 11:30"), &cal);
        assert_eq!(clocks.get(ClockKind::Resolution).unwrap().due_at, Some(at("2026-11-23 14:00")));
    }

    #[test]
    fn warnings_and_breaches_are_reported_once() {
        let cal = cal();
        let mut clocks = SlaClocks::default();
        clocks.start(ClockKind::FirstResponse, SignedDuration::from_hours(1), 80, at("2026-11-23 09:00"), &cal);
        assert!(clocks.due_events(at("2026-11-23 09:47")).is_empty());
        assert_eq!(
            clocks.due_events(at("2026-11-23 09:48")),
            vec![(ClockKind::FirstResponse, SlaEvent::Warning, at("2026-11-23 09:48"))]
        );
        assert!(clocks.due_events(at("2026-11-23 09:59")).is_empty());
        assert_eq!(clocks.next_event(), Some(at("2026-11-23 10:00")));
        assert_eq!(
            clocks.due_events(at("2026-11-23 12:00")),
            vec![(ClockKind::FirstResponse, SlaEvent::Breach, at("2026-11-23 10:00"))]
        );
        assert!(clocks.due_events(at("2026-11-30 12:00")).is_empty());
        assert_eq!(clocks.next_event(), None);
        assert_eq!(clocks.earliest_due(), Some(at("2026-11-23 10:00")), "a breached clock still sorts first");
        assert_eq!(clocks.stop(ClockKind::FirstResponse, at("2026-11-23 13:40"), &cal), Some(Outcome::Late));
        assert_eq!(clocks.earliest_due(), None);
        // A breach found late swallows the warning.
        clocks.start(ClockKind::Resolution, SignedDuration::from_hours(1), 80, at("2026-11-24 09:00"), &cal);
        assert_eq!(
            clocks.due_events(at("2026-11-24 15:00")),
            vec![(ClockKind::Resolution, SlaEvent::Breach, at("2026-11-24 10:00"))]
        );
    }

    #[test]
    fn the_state_at_now_does_not_wait_for_the_scheduler() {
        let cal = cal();
        let mut clocks = SlaClocks::default();
        clocks.start(ClockKind::FirstResponse, SignedDuration::from_hours(1), 80, at("2026-11-23 09:00"), &cal);
        let c = clocks.get(ClockKind::FirstResponse).unwrap().clone();
        assert_eq!(c.state_at(at("2026-11-23 09:47"), &cal), ClockState::Running);
        assert_eq!(c.state_at(at("2026-11-23 09:48"), &cal), ClockState::Warning, "80 %, nothing recorded yet");
        assert_eq!(c.state_at(at("2026-11-23 10:00"), &cal), ClockState::Breached, "at the deadline");
        assert_eq!(c.state_at(at("2026-11-23 11:00"), &cal), ClockState::Breached);
        // Lunch is not working time: 12:00 to 13:30 adds nothing.
        let mut noon = SlaClocks::default();
        noon.start(ClockKind::Resolution, SignedDuration::from_hours(1), 80, at("2026-11-23 11:30"), &cal);
        let n = noon.get(ClockKind::Resolution).unwrap();
        assert_eq!(n.state_at(at("2026-11-23 13:30"), &cal).code(), "running");
        assert_eq!(n.state_at(at("2026-11-23 13:54"), &cal).code(), "warning");
        // Paused before the warning: paused; paused past the deadline: breached.
        clocks.pause_all(at("2026-11-23 09:30"), &cal);
        let p = clocks.get(ClockKind::FirstResponse).unwrap().clone();
        assert_eq!(p.state_at(at("2026-11-24 15:00"), &cal), ClockState::Paused);
        let mut late = SlaClocks::default();
        late.start(ClockKind::FirstResponse, SignedDuration::from_hours(1), 80, at("2026-11-23 09:00"), &cal);
        late.pause_all(at("2026-11-23 10:30"), &cal);
        assert_eq!(
            late.get(ClockKind::FirstResponse).unwrap().state_at(at("2026-11-23 10:30"), &cal),
            ClockState::Breached
        );
        // Stopped: met or late, whatever the time now.
        noon.stop(ClockKind::Resolution, at("2026-11-23 14:10"), &cal);
        assert_eq!(noon.get(ClockKind::Resolution).unwrap().state_at(at("2026-11-30 10:00"), &cal), ClockState::Late);
        clocks.stop(ClockKind::FirstResponse, at("2026-11-23 09:40"), &cal);
        assert_eq!(
            clocks.get(ClockKind::FirstResponse).unwrap().state_at(at("2026-11-30 10:00"), &cal),
            ClockState::Met
        );
    }

    #[test]
    fn waiting_for_the_customer_pauses_and_resumes() {
        let cal = cal();
        let mut clocks = SlaClocks::default();
        clocks.start(ClockKind::Resolution, SignedDuration::from_hours(8), 80, at("2026-11-23 09:00"), &cal);
        assert_eq!(clocks.get(ClockKind::Resolution).unwrap().due_at, Some(at("2026-11-24 09:30")));
        // Three working hours, then the customer is asked something.
        clocks.pause_all(at("2026-11-23 12:00"), &cal);
        let c = clocks.get(ClockKind::Resolution).unwrap();
        assert_eq!((c.elapsed_ms, c.due_at, c.paused), (3 * 3_600_000, None, true));
        assert_eq!(clocks.next_event(), None, "a paused clock never fires");
        // The customer answers on Wednesday at 16:00: 5 h left.
        clocks.resume_all(at("2026-11-25 16:00"), &cal);
        let c = clocks.get(ClockKind::Resolution).unwrap();
        assert_eq!(c.due_at, Some(at("2026-11-26 12:00")), "2 h on Wednesday, 3 h on Thursday");
        assert_eq!(c.remaining(at("2026-11-25 17:00"), &cal), SignedDuration::from_hours(4));
        assert_eq!(clocks.stop(ClockKind::Resolution, at("2026-11-26 10:00"), &cal), Some(Outcome::Met));
        // Reopened: it runs on with the 2 h left, across the lunch break.
        clocks.restart(ClockKind::Resolution, at("2026-11-26 11:00"), &cal);
        assert_eq!(clocks.get(ClockKind::Resolution).unwrap().due_at, Some(at("2026-11-26 14:30")));
    }

    #[test]
    fn clocks_round_trip_through_json_compactly() {
        let cal = cal();
        let mut clocks = SlaClocks::default();
        clocks.start(ClockKind::FirstResponse, SignedDuration::from_mins(30), 80, at("2026-11-23 09:00"), &cal);
        let json = serde_json::to_string(&clocks).unwrap();
        assert!(json.len() < 120, "{json}");
        assert_eq!(serde_json::from_str::<SlaClocks>(&json).unwrap(), clocks);
    }

    proptest! {
        /// However a clock is paused and resumed, the working time it ran
        /// until its deadline is its target.
        #[test]
        fn pauses_never_change_the_working_time_to_the_deadline(
            start_min in 0i64..(60 * 24 * 60),
            target_min in 1i64..(60 * 40),
            pauses in proptest::collection::vec((1i64..(60 * 30), 1i64..(60 * 80)), 0..4),
        ) {
            let cal = cal();
            let start = at("2026-01-05 00:00") + SignedDuration::from_mins(start_min);
            let mut clocks = SlaClocks::default();
            clocks.start(ClockKind::Resolution, SignedDuration::from_mins(target_min), 80, start, &cal);
            let mut t = start;
            let mut ran = SignedDuration::ZERO;
            for (run, wait) in pauses {
                let due = clocks.get(ClockKind::Resolution).unwrap().due_at.unwrap();
                let pause_at = t + SignedDuration::from_mins(run);
                if pause_at >= due { break; }
                ran += cal.working_duration_between(t, pause_at);
                clocks.pause_all(pause_at, &cal);
                t = pause_at + SignedDuration::from_mins(wait);
                clocks.resume_all(t, &cal);
            }
            let due = clocks.get(ClockKind::Resolution).unwrap().due_at.unwrap();
            ran += cal.working_duration_between(t, due);
            prop_assert_eq!(ran, SignedDuration::from_mins(target_min));
            let warn = clocks.get(ClockKind::Resolution).unwrap().warn_at;
            prop_assert!(warn.is_none_or(|w| w <= due));
        }
    }
}
