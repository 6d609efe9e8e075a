//! The scenarios of M1, each a pure function from one customer's facts,
//! the rules and today to the task that must exist, if any. The store
//! finds the candidate customers of each scenario with set-based queries;
//! these functions decide.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

use super::placement::{plus_hours, shift};
use super::{Assignee, ChurnOwner, Occasion, PlanRules, Scenario, Target};
use crate::calendar::BusinessCalendar;
use crate::clock::local_date;
use crate::segment::ValueTier;

/// A task that must exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub scenario: Scenario,
    pub occasion: Occasion,
    pub target: Target,
    pub assignee: Assignee,
}

impl Planned {
    fn new(scenario: Scenario, occasion: Occasion, target: Target) -> Self {
        Self { scenario, occasion, target, assignee: Assignee::Owner }
    }
}

fn plus_months(d: Date, months: i64) -> Option<Date> {
    d.checked_add(Span::new().months(months)).ok()
}

fn months_between(from: Date, to: Date) -> i64 {
    (i64::from(to.year()) - i64::from(from.year())) * 12 + i64::from(to.month()) - i64::from(from.month())
}

// ---- New-customer first follow-up ----

/// What makes a customer new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewCustomerFacts {
    /// When the customer was registered (the record was created).
    pub registered_at: Timestamp,
    pub cooperation_start: Option<Date>,
    /// The first purchase: the customer's field or its earliest order.
    pub first_purchase_on: Option<Date>,
}

/// 新客户首次跟进: between 24 and 48 hours after the first purchase or the
/// registration, whichever came first — once per customer. A customer whose
/// cooperation or purchases go back further than the look-back (imported
/// history) is not new.
pub fn first_follow_up(r: &PlanRules, f: &NewCustomerFacts, now: Timestamp, tz: &TimeZone) -> Option<Planned> {
    let rule = &r.first_follow_up;
    if !rule.enabled {
        return None;
    }
    let since = shift(local_date(now, tz), -i64::from(rule.lookback_days));
    if f.cooperation_start.is_some_and(|d| d < since) || f.first_purchase_on.is_some_and(|d| d < since) {
        return None;
    }
    // A purchase has a date, not a time: noon of that day.
    let purchase =
        f.first_purchase_on.and_then(|d| d.at(12, 0, 0, 0).to_zoned(tz.clone()).ok()).map(|z| (z.timestamp(), true));
    let registration = (local_date(f.registered_at, tz) >= since).then_some((f.registered_at, false));
    let (anchor, by_purchase) = [registration, purchase].into_iter().flatten().min_by_key(|(t, _)| *t)?;
    let earliest = local_date(plus_hours(anchor, i64::from(rule.earliest_hours)), tz);
    let latest = local_date(plus_hours(anchor, i64::from(rule.latest_hours)), tz);
    Some(Planned::new(
        Scenario::FirstFollowUp,
        Occasion::FirstFollowUp { on: local_date(anchor, tz), by_purchase },
        Target::Within { earliest, latest },
    ))
}

// ---- Periodic revisit ----

/// A customer's revisit stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevisitFacts {
    pub tier: ValueTier,
    /// Cooperation start (else first purchase): `None` for a prospect.
    pub cooperating_since: Option<Date>,
    /// The last stream task done (revisit, deep interview, complaint repair,
    /// churn recovery).
    pub last_contact_on: Option<Date>,
    pub last_deep_on: Option<Date>,
    /// A stream task is open: its completion will restart the window.
    pub stream_open: bool,
}

/// 老客户定期回访: one stream per customer, by the tier's cadence. After a
/// stream task is done the next revisit is due a cadence later; a customer
/// never revisited is revisited on the cadence counted from the start of
/// cooperation (so a first generation spreads them over the cadence instead
/// of calling everyone at once), once cooperating for the minimum months.
/// Every `deep_interview_months` the revisit is a deep interview. Created
/// `lookahead_days` before it is due.
pub fn revisit(r: &PlanRules, f: &RevisitFacts, today: Date) -> Option<Planned> {
    if !r.revisit.enabled || f.stream_open {
        return None;
    }
    let p = next_revisit(r, f, today)?;
    let due = match p.occasion {
        Occasion::Revisit { due } => due,
        _ => return None,
    };
    (due <= shift(today, i64::from(r.lookahead_days))).then_some(p)
}

/// The next revisit of a stream, however far ahead (a record that closes a
/// stream task schedules it at once).
pub fn next_revisit(r: &PlanRules, f: &RevisitFacts, today: Date) -> Option<Planned> {
    let cadence = r.cadence_of(f.tier);
    let m = i64::from(cadence.revisit_months.max(1));
    let start = f.cooperating_since?;
    let eligible = plus_months(start, i64::from(r.revisit.min_cooperation_months))?;
    let due = match f.last_contact_on {
        Some(last) => plus_months(last, m)?.max(eligible),
        None => {
            // The first date start + n·m months on or after both today and
            // the eligibility date.
            let floor = today.max(eligible);
            let mut n = (months_between(start, floor) / m).max(0);
            loop {
                let d = plus_months(start, n * m)?;
                if d >= floor {
                    break d;
                }
                n += 1;
            }
        }
    };
    let deep = cadence.deep_interview_months.is_some_and(|k| {
        let last_deep = f.last_deep_on.unwrap_or(start);
        plus_months(last_deep, i64::from(k)).is_some_and(|d| d <= due)
    });
    let scenario = if deep { Scenario::DeepInterview } else { Scenario::Revisit };
    Some(Planned::new(scenario, Occasion::Revisit { due }, Target::OnOrAfter(due.max(today))))
}

// ---- Complaint repair ----

/// 投诉修复: a satisfaction revisit within N working days of the closure of
/// a complaint or major problem (the N-th working day after the closing
/// day: closed Tuesday 2025-09-30, due Saturday 2025-10-11, the Golden Week
/// skipped and its adjusted Saturday counted).
pub fn complaint_repair(
    r: &PlanRules,
    reference: &str,
    closed_at: Timestamp,
    cal: &BusinessCalendar,
) -> Option<Planned> {
    if !r.complaint_repair.enabled {
        return None;
    }
    let closed_on = local_date(closed_at, cal.time_zone());
    let latest = cal.add_working_days(closed_on, u32::from(r.complaint_repair.working_days))?;
    Some(Planned::new(
        Scenario::ComplaintRepair,
        Occasion::Complaint { reference: reference.to_string(), closed_on },
        Target::Within { earliest: closed_on, latest },
    ))
}

// ---- Churn recovery ----

/// 流失挽回: when a churn warning is raised, a call within 24 hours, owned
/// by the supervisor of the owner's group with the owner collaborating (or
/// by the owner, as a setting).
pub fn churn_recovery(r: &PlanRules, event_id: i64, evidence: &str, raised_at: Timestamp) -> Option<Planned> {
    if !r.churn_recovery.enabled {
        return None;
    }
    let deadline = plus_hours(raised_at, i64::from(r.churn_recovery.within_hours));
    let mut p = Planned::new(
        Scenario::ChurnRecovery,
        Occasion::ChurnWarning { event_id, evidence: evidence.to_string() },
        Target::By { from: raised_at, deadline },
    );
    if r.churn_recovery.owner == ChurnOwner::Supervisor {
        p.assignee = Assignee::SupervisorWithOwner;
    }
    Some(p)
}

// ---- Renewal ----

/// 续约: a task `days_before` the contract end (default 30), one per
/// contract end date.
pub fn renewal(r: &PlanRules, contract_end: Date, today: Date) -> Option<Planned> {
    if !r.renewal.enabled || contract_end < today {
        return None;
    }
    let target = before(contract_end, i64::from(r.renewal.days_before), today, r.lookahead_days)?;
    Some(Planned::new(Scenario::Renewal, Occasion::ContractEnd { on: contract_end }, target))
}

/// Due `days` before `on` (as late as possible on a working day in the week
/// before that), created `lookahead` days ahead; `None` before then.
fn before(on: Date, days: i64, today: Date, lookahead: u16) -> Option<Target> {
    let due = shift(on, -days);
    if due > shift(today, i64::from(lookahead)) || on < today {
        return None;
    }
    let latest = due.max(today);
    Some(Target::Within { earliest: shift(due, -7).max(today), latest })
}

// ---- Milestone care ----

/// The next time a month and day come round on or after `today` (29
/// February on 28 February in other years).
pub fn next_occurrence(month: i8, day: i8, today: Date) -> Option<Date> {
    let on = |y: i16| Date::new(y, month, day).or_else(|_| Date::new(y, month, day - 1)).ok();
    let this = on(today.year())?;
    if this >= today { Some(this) } else { on(today.year().checked_add(1)?) }
}

/// The longest run of days off a greeting is moved back over (a Spring
/// Festival break with its adjustments is at most about ten days).
const MAX_BREAK_DAYS: i64 = 31;

/// The day a greeting for `on` is due: `days` before it, moved back to the
/// last working day when that falls in a break — a birthday during the
/// Spring Festival is greeted before the break, never after the day.
pub fn greeting_due(on: Date, days: i64, cal: &BusinessCalendar) -> Date {
    let first = shift(on, -days);
    let mut d = first;
    for _ in 0..MAX_BREAK_DAYS {
        if cal.is_working_day(d) {
            return d;
        }
        d = shift(d, -1);
    }
    first
}

/// The dates whose milestones are generated today: from today on, every
/// date whose greeting falls due within the look-ahead (the store looks up
/// birthdays and anniversaries by their month and day).
pub fn care_dates(r: &PlanRules, today: Date, cal: &BusinessCalendar) -> Vec<Date> {
    let span = i64::from(r.milestone.days_before) + i64::from(r.lookahead_days) + MAX_BREAK_DAYS;
    let horizon = shift(today, i64::from(r.lookahead_days));
    (0..=span)
        .map(|k| shift(today, k))
        .filter(|d| greeting_due(*d, i64::from(r.milestone.days_before), cal) <= horizon)
        .collect()
}

fn care(r: &PlanRules, occasion: Occasion, on: Date, today: Date, cal: &BusinessCalendar) -> Option<Planned> {
    if !r.milestone.enabled {
        return None;
    }
    let due = greeting_due(on, i64::from(r.milestone.days_before), cal);
    let target = before(on, i64::from((on - due).get_days()), today, r.lookahead_days)?;
    Some(Planned::new(Scenario::Milestone, occasion, target))
}

/// A contact's birthday, `days_before` it (生日关怀).
pub fn birthday(
    r: &PlanRules,
    contact_id: i64,
    contact: &str,
    birthday: Date,
    today: Date,
    cal: &BusinessCalendar,
) -> Option<Planned> {
    if !r.milestone.birthdays {
        return None;
    }
    let on = next_occurrence(birthday.month(), birthday.day(), today)?;
    care(r, Occasion::Birthday { contact_id, contact: contact.to_string(), on }, on, today, cal)
}

/// The cooperation anniversary (合作周年), from the first one on.
pub fn anniversary(r: &PlanRules, cooperation_start: Date, today: Date, cal: &BusinessCalendar) -> Option<Planned> {
    if !r.milestone.anniversaries {
        return None;
    }
    let on = next_occurrence(cooperation_start.month(), cooperation_start.day(), today)?;
    let years = on.year() - cooperation_start.year();
    if years < 1 {
        return None;
    }
    care(r, Occasion::Anniversary { years, on }, on, today, cal)
}

/// The configured holidays whose greeting falls in today's horizon, with
/// their dates (春节 and 中秋节 on the lunar calendar).
pub fn holidays_ahead(r: &PlanRules, today: Date, cal: &BusinessCalendar) -> Vec<(String, Date)> {
    if !r.milestone.enabled {
        return Vec::new();
    }
    let horizon = shift(today, i64::from(r.lookahead_days));
    let mut out = Vec::new();
    for name in &r.milestone.holidays {
        for y in [today.year(), today.year().saturating_add(1)] {
            if let Some(d) = super::holiday_date(name, y)
                && d >= today
                && greeting_due(d, i64::from(r.milestone.days_before), cal) <= horizon
            {
                out.push((name.clone(), d));
            }
        }
    }
    out
}

/// A holiday greeting for a customer of a greeted tier.
pub fn holiday(
    r: &PlanRules,
    name: &str,
    on: Date,
    tier: ValueTier,
    today: Date,
    cal: &BusinessCalendar,
) -> Option<Planned> {
    if !r.milestone.holiday_tiers.contains(&tier) {
        return None;
    }
    care(r, Occasion::Holiday { name: name.to_string(), on }, on, today, cal)
}

// ---- Silent-customer care ----

/// 沉默客户关怀: once per silence (keyed by the last interaction before it),
/// due within N working days.
pub fn silent_care(
    r: &PlanRules,
    last_interaction_on: Option<Date>,
    today: Date,
    cal: &BusinessCalendar,
) -> Option<Planned> {
    if !r.silent_care.enabled {
        return None;
    }
    let latest = cal.add_working_days(today, u32::from(r.silent_care.working_days))?;
    Some(Planned::new(
        Scenario::SilentCare,
        Occasion::Silent { since: last_interaction_on },
        Target::Within { earliest: today, latest },
    ))
}

/// "Why did you stop buying": the short survey of silent-customer care.
pub fn silent_questions(lang: crate::Lang) -> Vec<&'static str> {
    vec![
        lang.pick(
            "最近一段时间没有再合作/购买，主要是什么原因？",
            "What is the main reason you have not bought lately?",
        ),
        lang.pick("我们的产品或服务有哪些地方让您不满意？", "What about our product or service did not satisfy you?"),
        lang.pick(
            "您目前的需求有变化吗？是否在使用其他供应商？",
            "Have your needs changed? Are you using another supplier?",
        ),
        lang.pick("价格方面是否是您考虑的因素？", "Is price a factor for you?"),
        lang.pick("我们怎样做，您会愿意再次合作？", "What would make you work with us again?"),
    ]
}

// ---- Content pushes ----

/// 内容推送: one per content cycle of the tier's cadence (cycles start in
/// the months divisible by the cadence, counted from January 2000), sent
/// through outreach.
pub fn content_push(r: &PlanRules, tier: ValueTier, today: Date) -> Option<Planned> {
    if !r.content_push {
        return None;
    }
    let k = i64::from(r.cadence_of(tier).content_months?.max(1));
    let index = (i64::from(today.year()) - 2000) * 12 + i64::from(today.month()) - 1;
    let start = index - index.rem_euclid(k);
    let (y, m) = (2000 + start.div_euclid(12), start.rem_euclid(12) + 1);
    Some(Planned::new(
        Scenario::ContentPush,
        Occasion::Content { cycle: format!("{y:04}-{m:02}") },
        Target::OnOrAfter(today),
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::calendar::WeeklySchedule;
    use crate::plan::place;
    use jiff::civil::date;

    fn tz() -> TimeZone {
        TimeZone::get("Asia/Shanghai").unwrap()
    }

    fn cal() -> BusinessCalendar {
        BusinessCalendar::new(WeeklySchedule::standard(), [], tz())
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn due_of(p: &Planned) -> String {
        place(&p.target, &cal(), None).at.to_zoned(tz()).strftime("%Y-%m-%d %H:%M").to_string()
    }

    #[test]
    fn first_follow_up_between_24_and_48_hours() {
        let r = PlanRules::default();
        // Registered Thursday 2025-09-25 10:00: due Saturday? No — the 48th
        // hour is Saturday 27th, not worked; Friday 26th is the latest
        // working day in the range.
        let f = NewCustomerFacts {
            registered_at: at("2025-09-25T02:00:00Z"),
            cooperation_start: None,
            first_purchase_on: None,
        };
        let p = first_follow_up(&r, &f, at("2025-09-25T02:00:00Z"), &tz()).unwrap();
        assert_eq!(p.occasion.key(), "first");
        assert_eq!(due_of(&p), "2025-09-26 18:00");
        // A first purchase before the registration anchors it.
        let f2 = NewCustomerFacts { first_purchase_on: Some(date(2025, 9, 22)), ..f };
        let p2 = first_follow_up(&r, &f2, at("2025-09-25T02:00:00Z"), &tz()).unwrap();
        assert_eq!(p2.occasion, Occasion::FirstFollowUp { on: date(2025, 9, 22), by_purchase: true });
        assert_eq!(due_of(&p2), "2025-09-24 18:00");
        // Imported history is not new.
        let old = NewCustomerFacts { cooperation_start: Some(date(2023, 1, 1)), ..f };
        assert_eq!(first_follow_up(&r, &old, at("2025-09-25T02:00:00Z"), &tz()), None);
        let long_ago = NewCustomerFacts { registered_at: at("2025-01-01T02:00:00Z"), ..f };
        assert_eq!(first_follow_up(&r, &long_ago, at("2025-09-25T02:00:00Z"), &tz()), None);
        // A prospect registered long ago who buys for the first time is new.
        let buys = NewCustomerFacts { first_purchase_on: Some(date(2025, 9, 25)), ..long_ago };
        let p3 = first_follow_up(&r, &buys, at("2025-09-25T06:00:00Z"), &tz()).unwrap();
        assert_eq!(due_of(&p3), "2025-09-26 18:00");
    }

    #[test]
    fn revisits_follow_the_tier_cadence() {
        let r = PlanRules::default();
        let f = RevisitFacts {
            tier: ValueTier::Ordinary,
            cooperating_since: Some(date(2024, 1, 10)),
            last_contact_on: None,
            last_deep_on: None,
            stream_open: false,
        };
        // Never revisited: on the quarterly phase of the cooperation start.
        assert_eq!(revisit(&r, &f, date(2025, 3, 1)), None, "2025-04-10 is beyond the look-ahead");
        let p = revisit(&r, &f, date(2025, 4, 3)).unwrap();
        assert_eq!((p.scenario, p.occasion.key()), (Scenario::Revisit, "revisit:2025-04-10".to_string()));
        // Done for another reason (complaint repair on 2025-04-01): the
        // window restarts from then.
        let after = RevisitFacts { last_contact_on: Some(date(2025, 4, 1)), ..f };
        assert_eq!(next_revisit(&r, &after, date(2025, 4, 3)).unwrap().occasion.key(), "revisit:2025-07-01");
        assert_eq!(revisit(&r, &RevisitFacts { stream_open: true, ..f }, date(2025, 4, 3)), None);
        // Not cooperating three months yet.
        let young = RevisitFacts { cooperating_since: Some(date(2025, 3, 1)), ..f };
        assert_eq!(next_revisit(&r, &young, date(2025, 3, 5)).unwrap().occasion.key(), "revisit:2025-06-01");
        // A prospect has no revisits.
        assert_eq!(next_revisit(&r, &RevisitFacts { cooperating_since: None, ..f }, date(2025, 3, 5)), None);
    }

    #[test]
    fn high_value_monthly_with_a_quarterly_deep_interview() {
        let r = PlanRules::default();
        let f = RevisitFacts {
            tier: ValueTier::High,
            cooperating_since: Some(date(2024, 1, 10)),
            last_contact_on: Some(date(2025, 1, 10)),
            last_deep_on: Some(date(2025, 1, 10)),
            stream_open: false,
        };
        let p = next_revisit(&r, &f, date(2025, 1, 11)).unwrap();
        assert_eq!((p.scenario, p.occasion.key()), (Scenario::Revisit, "revisit:2025-02-10".to_string()));
        let f3 = RevisitFacts { last_contact_on: Some(date(2025, 3, 10)), ..f };
        let p3 = next_revisit(&r, &f3, date(2025, 3, 11)).unwrap();
        assert_eq!((p3.scenario, p3.occasion.key()), (Scenario::DeepInterview, "revisit:2025-04-10".to_string()));
    }

    #[test]
    fn complaint_closed_before_the_golden_week() {
        let r = PlanRules::default();
        // 2025: the holiday is 1–8 October; Sunday 28 September and
        // Saturday 11 October are worked.
        let p = complaint_repair(&r, "TS-1", at("2025-09-30T07:00:00Z"), &cal()).unwrap();
        assert_eq!(due_of(&p), "2025-10-11 18:00");
        // 2022: closed on Friday 30 September, the last day before the
        // holiday of 1–7 October; Saturday 8 and Sunday 9 October are worked.
        let p = complaint_repair(&r, "TS-2", at("2022-09-30T07:00:00Z"), &cal()).unwrap();
        assert_eq!(due_of(&p), "2022-10-10 18:00");
    }

    #[test]
    fn churn_recovery_goes_to_the_supervisor_unless_set_otherwise() {
        let mut r = PlanRules::default();
        let p = churn_recovery(&r, 9, "订单量下降", at("2025-06-09T18:00:00Z")).unwrap();
        assert_eq!(p.assignee, Assignee::SupervisorWithOwner);
        assert_eq!(p.occasion.key(), "warning:9");
        assert_eq!(due_of(&p), "2025-06-10 18:00");
        r.churn_recovery.owner = ChurnOwner::Owner;
        assert_eq!(churn_recovery(&r, 9, "", at("2025-06-09T18:00:00Z")).unwrap().assignee, Assignee::Owner);
    }

    #[test]
    fn renewal_thirty_days_before_the_contract_end() {
        let r = PlanRules::default();
        assert_eq!(renewal(&r, date(2025, 12, 31), date(2025, 11, 20)), None, "not yet in the look-ahead");
        let p = renewal(&r, date(2025, 12, 31), date(2025, 11, 25)).unwrap();
        assert_eq!(p.occasion.key(), "contract:2025-12-31");
        assert_eq!(due_of(&p), "2025-12-01 18:00");
        // 30 days before 8 July 2025 is a Sunday: the Friday before.
        let p = renewal(&r, date(2025, 7, 8), date(2025, 6, 1)).unwrap();
        assert_eq!(due_of(&p), "2025-06-06 18:00");
        assert_eq!(renewal(&r, date(2025, 1, 1), date(2025, 6, 1)), None, "ended");
    }

    #[test]
    fn milestones_three_days_before() {
        let r = PlanRules::default();
        let p = birthday(&r, 5, "张伟", date(1980, 3, 17), date(2025, 3, 7), &cal()).unwrap();
        assert_eq!(p.occasion.key(), "birthday:5:2025");
        assert_eq!(due_of(&p), "2025-03-14 18:00");
        assert_eq!(birthday(&r, 5, "张伟", date(1980, 3, 17), date(2025, 3, 6), &cal()), None);
        // A birthday on Monday 3 February 2020, just after the Spring
        // Festival break (24 January – 2 February): greeted on Thursday 23
        // January, the last working day before the break, and planned a week
        // ahead of that — never on or after the day itself.
        assert_eq!(birthday(&r, 5, "张伟", date(1990, 2, 3), date(2020, 1, 15), &cal()), None);
        let p = birthday(&r, 5, "张伟", date(1990, 2, 3), date(2020, 1, 16), &cal()).unwrap();
        assert_eq!(due_of(&p), "2020-01-23 18:00");
        assert!(care_dates(&r, date(2020, 1, 16), &cal()).contains(&date(2020, 2, 3)));
        assert!(!care_dates(&r, date(2020, 1, 15), &cal()).contains(&date(2020, 2, 3)));
        assert_eq!(next_occurrence(2, 29, date(2025, 1, 1)), Some(date(2025, 2, 28)));
        assert_eq!(next_occurrence(2, 29, date(2028, 1, 1)), Some(date(2028, 2, 29)));
        assert_eq!(next_occurrence(1, 5, date(2025, 3, 1)), Some(date(2026, 1, 5)));
        let a = anniversary(&r, date(2023, 10, 20), date(2025, 10, 10), &cal()).unwrap();
        assert_eq!(a.occasion, Occasion::Anniversary { years: 2, on: date(2025, 10, 20) });
        assert_eq!(anniversary(&r, date(2025, 10, 20), date(2025, 10, 10), &cal()), None, "no anniversary in year 0");
        // The Spring Festival of 2026 is 17 February; three days before is
        // Saturday 14 February, an adjusted working day.
        let ahead = holidays_ahead(&r, date(2026, 2, 7), &cal());
        assert_eq!(ahead, vec![("春节".to_string(), date(2026, 2, 17))]);
        let h = holiday(&r, "春节", date(2026, 2, 17), ValueTier::High, date(2026, 2, 7), &cal()).unwrap();
        assert_eq!(due_of(&h), "2026-02-14 18:00");
        assert_eq!(holiday(&r, "春节", date(2026, 2, 17), ValueTier::Ordinary, date(2026, 2, 7), &cal()), None);
        // Mid-Autumn 2025 (6 October) is inside the Golden Week: the last
        // working day before it.
        let m = holiday(&r, "中秋节", date(2025, 10, 6), ValueTier::Potential, date(2025, 9, 30), &cal()).unwrap();
        assert_eq!(due_of(&m), "2025-09-30 18:00");
        // From Friday 7 March 2025 the look-ahead ends on Friday 14 March:
        // birthdays up to Wednesday 19 March are greeted by then (the 15th
        // and 16th are a weekend).
        let dates = care_dates(&r, date(2025, 3, 7), &cal());
        assert_eq!((dates.len(), dates.last()), (13, Some(&date(2025, 3, 19))));
    }

    mod properties {
        use super::*;
        use crate::plan::{Due, Target};
        use proptest::prelude::*;

        fn day(k: i64) -> Date {
            shift(date(2020, 1, 1), k)
        }

        fn tier(k: u8) -> ValueTier {
            ValueTier::ALL[usize::from(k) % 3]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            /// A placed task is due on a working day, at the end of the
            /// window when there is one, and — for a range — on the latest
            /// working day of it (or the first one after).
            #[test]
            fn due_on_the_last_working_day_of_the_range(e in 0i64..2500, len in 0i64..12, evening in any::<bool>()) {
                let cal = cal();
                let (earliest, latest) = (day(e), day(e + len));
                let window = evening.then(|| crate::plan::ContactWindow::parse("20:00以后").unwrap());
                let Due { on, at } = place(&Target::Within { earliest, latest }, &cal, window);
                prop_assert!(cal.is_working_day(on));
                let hour = at.to_zoned(tz()).hour();
                prop_assert_eq!(hour, if evening { 22 } else { 18 });
                let mut d = latest;
                let mut last_working = None;
                while d >= earliest {
                    if cal.is_working_day(d) { last_working = Some(d); break; }
                    d = shift(d, -1);
                }
                match last_working {
                    Some(w) => prop_assert_eq!(on, w),
                    None => prop_assert!(on > latest),
                }
            }

            /// A customer never revisited is revisited on the cadence counted
            /// from the start of cooperation: the first such date on or after
            /// today and the eligibility date, less than a cadence after it.
            #[test]
            fn first_revisits_keep_the_phase_of_the_cooperation(start in 0i64..2000, ahead in 0i64..900, t in 0u8..3) {
                let r = PlanRules::default();
                let (start, today) = (day(start), day(start + ahead));
                let f = RevisitFacts {
                    tier: tier(t), cooperating_since: Some(start), last_contact_on: None, last_deep_on: None, stream_open: false,
                };
                let p = next_revisit(&r, &f, today).unwrap();
                let Occasion::Revisit { due } = p.occasion else { panic!("{:?}", p.occasion) };
                let m = i64::from(r.cadence_of(tier(t)).revisit_months);
                let floor = today.max(start.checked_add(Span::new().months(3)).unwrap());
                prop_assert!(due >= floor);
                prop_assert!(due < floor.checked_add(Span::new().months(m)).unwrap().checked_add(Span::new().days(3)).unwrap());
                let months = months_between(start, due);
                prop_assert_eq!(months % m, 0, "{} is not a whole number of cadences after {}", due, start);
            }

            /// Generating every day of a year creates each greeting once,
            /// before its day, `days_before` ahead at the latest.
            #[test]
            fn a_birthday_is_greeted_once_a_year_before_it(born in 0i64..366, from in 0i64..2000) {
                let r = PlanRules::default();
                let birthday = day(born);
                let mut keys = std::collections::BTreeMap::new();
                for k in 0..366 {
                    let today = day(from + k);
                    let Some(p) = scenarios_birthday(&r, birthday, today) else { continue };
                    if keys.contains_key(&p.occasion.key()) {
                        // Planned again on later days: the stored task wins (the key).
                        continue;
                    }
                    // The first time it is planned (a run starting within the
                    // greeting's days may only be in time for the day itself).
                    let on = p.occasion.date().unwrap();
                    let due = place(&p.target, &cal(), None).on;
                    if k >= 1 {
                        // Planned in time: due before the day, on a working
                        // day, and with only days off between it and three
                        // days before the day.
                        prop_assert!(due < on, "due {} for {}", due, on);
                        prop_assert!(cal().is_working_day(due));
                        let mut d = shift(due, 1);
                        while d <= shift(on, -3) {
                            prop_assert!(!cal().is_working_day(d), "{} is a working day between {} and {}", d, due, on);
                            d = shift(d, 1);
                        }
                    }
                    keys.insert(p.occasion.key(), today);
                }
                // One occasion a year: at most two keys in any 366 days.
                prop_assert!((1..=2).contains(&keys.len()), "{:?}", keys);
            }
        }

        fn scenarios_birthday(r: &PlanRules, born: Date, today: Date) -> Option<Planned> {
            birthday(r, 1, "张伟", born, today, &cal())
        }
    }

    #[test]
    fn silent_care_and_content() {
        let r = PlanRules::default();
        let p = silent_care(&r, Some(date(2025, 4, 1)), date(2025, 9, 26), &cal()).unwrap();
        assert_eq!(p.occasion.key(), "silent:2025-04-01");
        // Five working days from Friday 26 September 2025: 28 (Sun, worked), 29, 30, 9 and 10 October.
        assert_eq!(due_of(&p), "2025-10-10 18:00");
        assert_eq!(silent_questions(crate::Lang::Zh).len(), 5);
        let c = content_push(&r, ValueTier::Potential, date(2025, 6, 15)).unwrap();
        assert_eq!(c.occasion.key(), "content:2025-05");
        assert_eq!(content_push(&r, ValueTier::Potential, date(2025, 7, 1)).unwrap().occasion.key(), "content:2025-07");
        assert_eq!(content_push(&r, ValueTier::Ordinary, date(2025, 7, 1)), None);
    }
}
