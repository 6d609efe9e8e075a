//! The administrator's maintenance rules (M1): one switch and a few numbers
//! per scenario, and the maintenance cadence table per tier (客户维护沟通周期表).
//! Every number has the SPEC's default; [`PlanRules::validate`] names each
//! refused field (`cadence.high.revisit_months`, `renewal.days_before`, …).

use jiff::civil::{Date, date};
use serde::{Deserialize, Serialize};

use crate::calendar::{lunar, statutory};
use crate::segment::ValueTier;
use crate::validation::{Issue, ValidationErrors};

/// One tier's row of the cadence table. Months are calendar months.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierCadence {
    pub tier: ValueTier,
    /// A revisit every N months.
    pub revisit_months: u8,
    /// Every N months the revisit is a deep interview (深度访谈).
    pub deep_interview_months: Option<u8>,
    /// A content push every N months (through outreach).
    pub content_months: Option<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FirstFollowUpRule {
    pub enabled: bool,
    /// The follow-up is due between these many hours after the first
    /// purchase or the registration.
    pub earliest_hours: u16,
    pub latest_hours: u16,
    /// A customer whose cooperation, first purchase or registration is
    /// older than this is not new (imported history gets no welcome call).
    pub lookback_days: u16,
}

impl Default for FirstFollowUpRule {
    fn default() -> Self {
        Self { enabled: true, earliest_hours: 24, latest_hours: 48, lookback_days: 7 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RevisitRule {
    pub enabled: bool,
    /// Only customers cooperating for at least this long are revisited.
    pub min_cooperation_months: u8,
}

impl Default for RevisitRule {
    fn default() -> Self {
        Self { enabled: true, min_cooperation_months: 3 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComplaintRule {
    pub enabled: bool,
    /// The satisfaction revisit is due this many working days after closure.
    pub working_days: u8,
}

impl Default for ComplaintRule {
    fn default() -> Self {
        Self { enabled: true, working_days: 3 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChurnOwner {
    /// The supervisor of the owner's group, the owner collaborating (default).
    Supervisor,
    /// The customer's owner.
    Owner,
}

impl ChurnOwner {
    pub fn code(self) -> &'static str {
        match self {
            ChurnOwner::Supervisor => "supervisor",
            ChurnOwner::Owner => "owner",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Issue> {
        match raw.trim() {
            "supervisor" => Ok(ChurnOwner::Supervisor),
            "owner" => Ok(ChurnOwner::Owner),
            _ => Err(Issue::NotAllowed),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChurnRule {
    pub enabled: bool,
    /// The customer is phoned within this many hours of the warning.
    pub within_hours: u16,
    pub owner: ChurnOwner,
}

impl Default for ChurnRule {
    fn default() -> Self {
        Self { enabled: true, within_hours: 24, owner: ChurnOwner::Supervisor }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RenewalRule {
    pub enabled: bool,
    pub days_before: u16,
}

impl Default for RenewalRule {
    fn default() -> Self {
        Self { enabled: true, days_before: 30 }
    }
}

/// Milestone care (节点关怀): birthdays of contacts, cooperation
/// anniversaries and holidays, each `days_before` the day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CareRule {
    pub enabled: bool,
    pub days_before: u8,
    pub birthdays: bool,
    pub anniversaries: bool,
    /// Holiday names from [`HOLIDAYS`].
    pub holidays: Vec<String>,
    /// The tiers whose customers get a holiday greeting call (the others
    /// are greeted by outreach to a segment).
    pub holiday_tiers: Vec<ValueTier>,
}

impl Default for CareRule {
    fn default() -> Self {
        Self {
            enabled: true,
            days_before: 3,
            birthdays: true,
            anniversaries: true,
            holidays: vec!["春节".into(), "中秋节".into()],
            holiday_tiers: vec![ValueTier::High, ValueTier::Potential],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SilentRule {
    pub enabled: bool,
    /// The care call is due within this many working days.
    pub working_days: u8,
}

impl Default for SilentRule {
    fn default() -> Self {
        Self { enabled: true, working_days: 5 }
    }
}

/// Everything an administrator sets for maintenance plans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlanRules {
    /// Dated tasks (revisits, renewals, care) appear this many days before
    /// they are due.
    pub lookahead_days: u16,
    pub first_follow_up: FirstFollowUpRule,
    pub revisit: RevisitRule,
    /// One row per tier.
    pub cadence: Vec<TierCadence>,
    pub complaint_repair: ComplaintRule,
    pub churn_recovery: ChurnRule,
    pub renewal: RenewalRule,
    pub milestone: CareRule,
    pub silent_care: SilentRule,
    /// Content pushes by the cadence table's content column.
    pub content_push: bool,
}

impl Default for PlanRules {
    fn default() -> Self {
        Self {
            lookahead_days: 7,
            first_follow_up: FirstFollowUpRule::default(),
            revisit: RevisitRule::default(),
            cadence: TierCadence::defaults(),
            complaint_repair: ComplaintRule::default(),
            churn_recovery: ChurnRule::default(),
            renewal: RenewalRule::default(),
            milestone: CareRule::default(),
            silent_care: SilentRule::default(),
            content_push: true,
        }
    }
}

impl TierCadence {
    /// SPEC M1: high value a revisit every month and a deep interview every
    /// quarter; potential and ordinary a revisit every quarter; potential
    /// customers get content every two months.
    pub fn defaults() -> Vec<TierCadence> {
        vec![
            TierCadence {
                tier: ValueTier::High,
                revisit_months: 1,
                deep_interview_months: Some(3),
                content_months: None,
            },
            TierCadence {
                tier: ValueTier::Potential,
                revisit_months: 3,
                deep_interview_months: None,
                content_months: Some(2),
            },
            TierCadence {
                tier: ValueTier::Ordinary,
                revisit_months: 3,
                deep_interview_months: None,
                content_months: None,
            },
        ]
    }
}

/// The holidays milestone care can greet: the traditional festivals (on the
/// lunar calendar) and the statutory holidays.
pub const HOLIDAYS: &[&str] =
    &["元旦", "春节", "元宵节", "清明节", "劳动节", "端午节", "七夕节", "中秋节", "国庆节", "重阳节", "腊八节", "除夕"];

/// The date of a holiday in a Gregorian year: lunar festivals computed,
/// fixed statutory days, 清明节 as the year's notice sets it.
pub fn holiday_date(name: &str, year: i16) -> Option<Date> {
    if let Some((d, _)) = lunar::festivals_in(year).into_iter().find(|(_, f)| f.name() == name) {
        return Some(d);
    }
    match name {
        "元旦" => Some(date(year, 1, 1)),
        "劳动节" => Some(date(year, 5, 1)),
        "国庆节" => Some(date(year, 10, 1)),
        "清明节" => statutory::notice(year)?.holidays.iter().find(|h| h.name == "清明节").map(|h| h.first),
        _ => None,
    }
}

/// The ranges each number may take.
pub(crate) mod range {
    pub const LOOKAHEAD_DAYS: (u16, u16) = (1, 60);
    pub const HOURS: (u16, u16) = (1, 168);
    pub const LOOKBACK_DAYS: (u16, u16) = (1, 90);
    pub const MIN_COOPERATION_MONTHS: (u8, u8) = (0, 24);
    pub const MONTHS: (u8, u8) = (1, 24);
    pub const WORKING_DAYS: (u8, u8) = (1, 30);
    pub const RENEWAL_DAYS: (u16, u16) = (1, 180);
    pub const CARE_DAYS: (u8, u8) = (0, 30);
}

fn check<T: PartialOrd + Copy>(e: &mut ValidationErrors, field: &str, v: T, (lo, hi): (T, T)) {
    if v < lo || v > hi {
        e.add(field, Issue::OutOfRange);
    }
}

impl PlanRules {
    /// The cadence of a tier (the default row when the table lacks it).
    pub fn cadence_of(&self, tier: ValueTier) -> TierCadence {
        self.cadence.iter().find(|c| c.tier == tier).copied().unwrap_or_else(|| {
            TierCadence::defaults().into_iter().find(|c| c.tier == tier).unwrap_or(TierCadence {
                tier,
                revisit_months: 3,
                deep_interview_months: None,
                content_months: None,
            })
        })
    }

    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        check(&mut e, "lookahead_days", self.lookahead_days, range::LOOKAHEAD_DAYS);
        let f = &self.first_follow_up;
        check(&mut e, "first_follow_up.earliest_hours", f.earliest_hours, range::HOURS);
        check(&mut e, "first_follow_up.latest_hours", f.latest_hours, range::HOURS);
        if f.latest_hours < f.earliest_hours && e.get("first_follow_up.latest_hours").is_none() {
            e.add("first_follow_up.latest_hours", Issue::BeforeStart);
        }
        check(&mut e, "first_follow_up.lookback_days", f.lookback_days, range::LOOKBACK_DAYS);
        check(
            &mut e,
            "revisit.min_cooperation_months",
            self.revisit.min_cooperation_months,
            range::MIN_COOPERATION_MONTHS,
        );
        for tier in ValueTier::ALL {
            let rows: Vec<&TierCadence> = self.cadence.iter().filter(|c| c.tier == *tier).collect();
            let prefix = format!("cadence.{}", tier.code());
            match rows.as_slice() {
                [c] => {
                    check(&mut e, &format!("{prefix}.revisit_months"), c.revisit_months, range::MONTHS);
                    if let Some(m) = c.deep_interview_months {
                        check(&mut e, &format!("{prefix}.deep_interview_months"), m, range::MONTHS);
                    }
                    if let Some(m) = c.content_months {
                        check(&mut e, &format!("{prefix}.content_months"), m, range::MONTHS);
                    }
                }
                [] => e.add(&format!("{prefix}.revisit_months"), Issue::Required),
                _ => e.add(&prefix, Issue::TooMany { max: 1 }),
            }
        }
        check(&mut e, "complaint_repair.working_days", self.complaint_repair.working_days, range::WORKING_DAYS);
        check(&mut e, "churn_recovery.within_hours", self.churn_recovery.within_hours, range::HOURS);
        check(&mut e, "renewal.days_before", self.renewal.days_before, range::RENEWAL_DAYS);
        check(&mut e, "milestone.days_before", self.milestone.days_before, range::CARE_DAYS);
        if self.milestone.holidays.iter().any(|h| !HOLIDAYS.contains(&h.as_str())) {
            e.add("milestone.holidays", Issue::NotAllowed);
        }
        check(&mut e, "silent_care.working_days", self.silent_care.working_days, range::WORKING_DAYS);
        e.into_result(|| ())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_specs_and_valid() {
        let r = PlanRules::default();
        assert_eq!(r.validate(), Ok(()));
        assert_eq!(r.cadence_of(ValueTier::High).revisit_months, 1);
        assert_eq!(r.cadence_of(ValueTier::High).deep_interview_months, Some(3));
        assert_eq!(r.cadence_of(ValueTier::Ordinary).revisit_months, 3);
        assert_eq!(r.cadence_of(ValueTier::Potential).content_months, Some(2));
        assert_eq!(r.renewal.days_before, 30);
        assert_eq!(r.complaint_repair.working_days, 3);
        // Stored rules missing a newer field read back with its default.
        let old: PlanRules = serde_json::from_str(r#"{"lookahead_days": 10}"#).unwrap();
        assert_eq!(old.lookahead_days, 10);
        assert_eq!(old.renewal, RenewalRule::default());
    }

    #[test]
    fn refused_fields_are_named() {
        let mut r = PlanRules { lookahead_days: 0, ..Default::default() };
        r.first_follow_up.earliest_hours = 50;
        r.cadence[0].revisit_months = 0;
        r.cadence.pop();
        r.milestone.holidays.push("光棍节".into());
        let e = r.validate().unwrap_err();
        assert_eq!(
            e.fields(),
            vec![
                "lookahead_days",
                "first_follow_up.latest_hours",
                "cadence.high.revisit_months",
                "cadence.ordinary.revisit_months",
                "milestone.holidays"
            ]
        );
        assert_eq!(e.get("first_follow_up.latest_hours"), Some(&Issue::BeforeStart));
    }

    #[test]
    fn holiday_dates() {
        assert_eq!(holiday_date("春节", 2026), Some(date(2026, 2, 17)));
        assert_eq!(holiday_date("中秋节", 2025), Some(date(2025, 10, 6)));
        assert_eq!(holiday_date("国庆节", 2025), Some(date(2025, 10, 1)));
        assert_eq!(holiday_date("清明节", 2025), Some(date(2025, 4, 4)));
        assert_eq!(holiday_date("除夕", 2025), Some(date(2025, 1, 28)));
        assert_eq!(holiday_date("光棍节", 2025), None);
        for h in HOLIDAYS {
            assert!(holiday_date(h, 2026).is_some(), "{h}");
        }
    }
}
