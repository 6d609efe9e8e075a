//! Value tier (SPEC G1) and activity status (SPEC G2).

use jiff::ToSpan;
use jiff::civil::Date;

use crate::customer::vocabulary;
use crate::money::Money;
use crate::validation::{Issue, ValidationErrors};

vocabulary!(
    /// Value tier (价值分层) by spend in the tier period.
    ValueTier {
        High = "high", "高价值", "High value";
        Potential = "potential", "潜力", "Potential";
        Ordinary = "ordinary", "普通", "Ordinary";
    }
);

/// The lower bounds of the upper two tiers. Ranges are half-open:
/// `spend >= high` is high value, `potential <= spend < high` is potential,
/// anything below `potential` is ordinary.
/// In JSON both amounts are integer fen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TierThresholds {
    #[serde(with = "super::fen")]
    pub high: Money,
    #[serde(with = "super::fen")]
    pub potential: Money,
}

impl Default for TierThresholds {
    /// 100,000 CNY and 50,000 CNY.
    fn default() -> Self {
        Self { high: Money::from_fen(100_000 * 100), potential: Money::from_fen(50_000 * 100) }
    }
}

impl TierThresholds {
    /// Parses the two settings (yuan as text, e.g. `100000` or `¥100,000.00`).
    /// Errors name the fields `tier_high` and `tier_potential`; the potential
    /// threshold must be greater than 0 and less than the high one.
    pub fn parse(high_raw: &str, potential_raw: &str) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::new();
        let high = e.check("tier_high", Money::parse(high_raw));
        let potential = e.check("tier_potential", Money::parse(potential_raw));
        if let (Some(high), Some(potential)) = (high, potential) {
            let t = Self { high, potential };
            if let Err(more) = t.validate() {
                e.0.extend(more.0);
            }
        }
        match (high, potential) {
            (Some(high), Some(potential)) if e.is_empty() => Ok(Self { high, potential }),
            _ => Err(e),
        }
    }

    /// Checks thresholds that did not come through [`TierThresholds::parse`]
    /// (e.g. read back from settings): `0 < potential < high`.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        if self.high.fen() <= 0 {
            e.add("tier_high", Issue::NotPositive);
        }
        if self.potential.fen() <= 0 {
            e.add("tier_potential", Issue::NotPositive);
        } else if self.potential >= self.high {
            e.add("tier_potential", Issue::NotBelow { limit: self.high.to_string() });
        }
        e.into_result(|| ())
    }
}

/// The tier of a spend: see [`TierThresholds`] for the half-open ranges.
pub fn classify(spend: Money, t: &TierThresholds) -> ValueTier {
    if spend >= t.high {
        ValueTier::High
    } else if spend >= t.potential {
        ValueTier::Potential
    } else {
        ValueTier::Ordinary
    }
}

vocabulary!(
    /// Which spend the tier is computed from.
    TierPeriod {
        Rolling = "rolling", "滚动12个月", "Rolling 12 months";
        CalendarYear = "calendar_year", "自然年", "Calendar year";
    }
);

/// The window of order dates whose amounts count towards the tier, as
/// `(after, through)`: an order dated `d` counts when `after < d <= through`
/// (see [`super::in_window`]).
///
/// - [`TierPeriod::Rolling`]: the last 12 months, `(today − 12 months, today]`.
///   On 2026-11-23 that is 2025-11-24 ..= 2026-11-23; an order of 2025-11-23
///   no longer counts. (From 29 February, 12 months back is 28 February.)
/// - [`TierPeriod::CalendarYear`]: this calendar year up to today,
///   `(31 December of last year, today]`, i.e. 1 January ..= today.
///
/// Orders dated after today never count.
pub fn spend_window(period: TierPeriod, today: Date) -> (Date, Date) {
    let after = match period {
        TierPeriod::Rolling => today.saturating_sub(12.months()),
        TierPeriod::CalendarYear => today.first_of_year().saturating_sub(1.day()),
    };
    (after, today)
}

vocabulary!(
    /// Activity status (活跃度). Independent of churn risk (G4).
    Activity {
        Active = "active", "活跃", "Active";
        Silent = "silent", "沉默", "Silent";
        Dormant = "dormant", "休眠", "Dormant";
    }
);

/// The month counts that separate the activity states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ActivityRules {
    /// An interaction within this many months makes a customer active. Default 3.
    pub active_months: i32,
    /// No interaction for this many months makes a customer dormant. Default 6.
    pub dormant_months: i32,
}

impl Default for ActivityRules {
    fn default() -> Self {
        Self { active_months: 3, dormant_months: 6 }
    }
}

impl ActivityRules {
    pub const MAX_MONTHS: i32 = 60;

    /// Parses the two settings (whole months). Errors name the fields
    /// `active_months` and `dormant_months`.
    pub fn parse(active_raw: &str, dormant_raw: &str) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::new();
        let months = |raw: &str| -> Result<i32, Issue> {
            let t = raw.trim();
            if t.is_empty() {
                return Err(Issue::Required);
            }
            t.parse::<i32>().map_err(|_| Issue::OutOfRange)
        };
        let active = e.check("active_months", months(active_raw));
        let dormant = e.check("dormant_months", months(dormant_raw));
        if let (Some(active_months), Some(dormant_months)) = (active, dormant)
            && let Err(more) = (Self { active_months, dormant_months }).validate()
        {
            e.0.extend(more.0);
        }
        match (active, dormant) {
            (Some(active_months), Some(dormant_months)) if e.is_empty() => Ok(Self { active_months, dormant_months }),
            _ => Err(e),
        }
    }

    /// `1 <= active_months < dormant_months <= 60`; an `active_months` not
    /// below `dormant_months` is refused under `active_months`.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        let in_range = |m: i32| (1..=Self::MAX_MONTHS).contains(&m);
        if !in_range(self.active_months) {
            e.add("active_months", Issue::OutOfRange);
        } else if in_range(self.dormant_months) && self.active_months >= self.dormant_months {
            e.add("active_months", Issue::NotBelow { limit: self.dormant_months.to_string() });
        }
        if !in_range(self.dormant_months) {
            e.add("dormant_months", Issue::OutOfRange);
        }
        e.into_result(|| ())
    }
}

/// The activity status on `today` given the date of the last interaction
/// (communication, ticket, order — whatever the caller counts).
///
/// With the defaults and the window convention `(today − N months, today]`:
/// - active: the last interaction is after `today − 3 months`;
/// - silent: it is on or before `today − 3 months` but after `today − 6 months`;
/// - dormant: it is on or before `today − 6 months`, or there never was one.
///
/// So on 2026-11-23 an interaction on 2026-08-24 is active, one on
/// 2026-08-23 (exactly three months ago) silent, one on 2026-05-23 dormant.
/// A last interaction dated after today counts as active.
pub fn activity(last_interaction: Option<Date>, today: Date, r: &ActivityRules) -> Activity {
    let Some(last) = last_interaction else {
        return Activity::Dormant;
    };
    if last > today.saturating_sub(r.active_months.months()) {
        Activity::Active
    } else if last > today.saturating_sub(r.dormant_months.months()) {
        Activity::Silent
    } else {
        Activity::Dormant
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::Lang;
    use crate::segment::in_window;
    use jiff::civil::date;
    use proptest::prelude::*;

    fn yuan(y: i64) -> Money {
        Money::from_fen(y * 100)
    }

    #[test]
    fn default_thresholds_and_exact_edges() {
        let t = TierThresholds::default();
        assert_eq!(t.high.fen(), 10_000_000);
        assert_eq!(t.potential.fen(), 5_000_000);
        assert_eq!(classify(yuan(100_000), &t), ValueTier::High);
        assert_eq!(classify(Money::from_fen(9_999_999), &t), ValueTier::Potential);
        assert_eq!(classify(yuan(50_000), &t), ValueTier::Potential);
        assert_eq!(classify(Money::from_fen(4_999_999), &t), ValueTier::Ordinary);
        assert_eq!(classify(Money::from_fen(0), &t), ValueTier::Ordinary);
        assert_eq!(ValueTier::High.label(Lang::Zh), "高价值");
        assert_eq!(ValueTier::parse("potential"), Ok(ValueTier::Potential));
    }

    #[test]
    fn thresholds_parse_and_name_their_fields() {
        let t = TierThresholds::parse("200000", "¥80,000.50").unwrap();
        assert_eq!(t, TierThresholds { high: yuan(200_000), potential: Money::from_fen(8_000_050) });

        let e = TierThresholds::parse("abc", "").unwrap_err();
        assert_eq!(e.fields(), vec!["tier_high", "tier_potential"]);
        assert_eq!(e.get("tier_high"), Some(&Issue::InvalidAmount));
        assert_eq!(e.get("tier_potential"), Some(&Issue::Required));

        let e = TierThresholds::parse("100000", "100000").unwrap_err();
        assert_eq!(e.fields(), vec!["tier_potential"]);
        assert_eq!(e.get("tier_potential"), Some(&Issue::NotBelow { limit: "100,000.00".into() }));
        assert_eq!(e.0[0].issue.message(Lang::Zh), "必须小于 100,000.00");

        let e = TierThresholds::parse("100000", "0").unwrap_err();
        assert_eq!(e.get("tier_potential"), Some(&Issue::NotPositive));
        let e = TierThresholds::parse("0", "0").unwrap_err();
        assert_eq!(e.fields(), vec!["tier_high", "tier_potential"]);
        assert!(TierThresholds::parse("100000", "99999.99").is_ok());
        assert!(TierThresholds::default().validate().is_ok());
    }

    #[test]
    fn rolling_window_excludes_the_day_twelve_months_ago() {
        let today = date(2026, 11, 23);
        let w = spend_window(TierPeriod::Rolling, today);
        assert_eq!(w, (date(2025, 11, 23), today));
        assert!(!in_window(w, date(2025, 11, 23)));
        assert!(in_window(w, date(2025, 11, 24)));
        assert!(in_window(w, today));
        assert!(!in_window(w, date(2026, 11, 24)));
        assert_eq!(spend_window(TierPeriod::Rolling, date(2024, 2, 29)).0, date(2023, 2, 28));
    }

    #[test]
    fn calendar_year_window_starts_on_the_first_of_january() {
        let w = spend_window(TierPeriod::CalendarYear, date(2026, 11, 23));
        assert_eq!(w, (date(2025, 12, 31), date(2026, 11, 23)));
        assert!(in_window(w, date(2026, 1, 1)));
        assert!(!in_window(w, date(2025, 12, 31)));
        let w = spend_window(TierPeriod::CalendarYear, date(2026, 1, 1));
        assert!(in_window(w, date(2026, 1, 1)));
    }

    #[test]
    fn activity_boundaries() {
        let today = date(2026, 11, 23);
        let r = ActivityRules::default();
        assert_eq!(activity(None, today, &r), Activity::Dormant);
        assert_eq!(activity(Some(today), today, &r), Activity::Active);
        assert_eq!(activity(Some(date(2026, 12, 1)), today, &r), Activity::Active);
        assert_eq!(activity(Some(date(2026, 8, 24)), today, &r), Activity::Active);
        assert_eq!(activity(Some(date(2026, 8, 23)), today, &r), Activity::Silent);
        assert_eq!(activity(Some(date(2026, 5, 24)), today, &r), Activity::Silent);
        assert_eq!(activity(Some(date(2026, 5, 23)), today, &r), Activity::Dormant);
        assert_eq!(activity(Some(date(2020, 1, 1)), today, &r), Activity::Dormant);
        // Other settings move the edges.
        let r = ActivityRules { active_months: 1, dormant_months: 2 };
        assert_eq!(activity(Some(date(2026, 10, 24)), today, &r), Activity::Active);
        assert_eq!(activity(Some(date(2026, 10, 23)), today, &r), Activity::Silent);
        assert_eq!(activity(Some(date(2026, 9, 23)), today, &r), Activity::Dormant);
    }

    #[test]
    fn activity_rules_validation_names_fields() {
        assert_eq!(ActivityRules::parse("3", "6"), Ok(ActivityRules::default()));
        let e = ActivityRules::parse("x", "").unwrap_err();
        assert_eq!(e.fields(), vec!["active_months", "dormant_months"]);
        let e = ActivityRules::parse("6", "6").unwrap_err();
        assert_eq!(e.fields(), vec!["active_months"]);
        assert_eq!(e.get("active_months"), Some(&Issue::NotBelow { limit: "6".into() }));
        let e = ActivityRules::parse("0", "61").unwrap_err();
        assert_eq!(e.fields(), vec!["active_months", "dormant_months"]);
    }

    proptest! {
        #[test]
        fn tier_is_decided_by_half_open_ranges(
            spend in 0i64..100_000_000_000, potential in 1i64..1_000_000_000, gap in 1i64..1_000_000_000
        ) {
            let t = TierThresholds { high: Money::from_fen(potential + gap), potential: Money::from_fen(potential) };
            let s = Money::from_fen(spend);
            let tier = classify(s, &t);
            prop_assert_eq!(tier == ValueTier::High, s >= t.high);
            prop_assert_eq!(tier == ValueTier::Potential, s >= t.potential && s < t.high);
            prop_assert_eq!(tier == ValueTier::Ordinary, s < t.potential);
        }

        #[test]
        fn default_tier_edges(spend in 0i64..20_000_000) {
            let tier = classify(Money::from_fen(spend), &TierThresholds::default());
            prop_assert_eq!(tier == ValueTier::High, spend >= 10_000_000);
            prop_assert_eq!(tier == ValueTier::Ordinary, spend < 5_000_000);
        }

        #[test]
        fn activity_never_improves_with_older_interactions(days in 0i32..1000, more in 1i32..200) {
            let today = date(2026, 11, 23);
            let r = ActivityRules::default();
            let rank = |a: Activity| match a { Activity::Active => 0, Activity::Silent => 1, Activity::Dormant => 2 };
            let newer = activity(Some(today.checked_sub(days.days()).unwrap()), today, &r);
            let older = activity(Some(today.checked_sub((days + more).days()).unwrap()), today, &r);
            prop_assert!(rank(older) >= rank(newer));
            // Within 89 days always active, beyond 184 days always dormant.
            if days < 89 { prop_assert_eq!(newer, Activity::Active); }
            if days > 184 { prop_assert_eq!(newer, Activity::Dormant); }
        }
    }
}
