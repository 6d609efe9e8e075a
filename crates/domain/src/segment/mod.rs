//! Segmentation (SPEC G): the value tier (G1), activity (G2), RFM scores and
//! segments (G3), churn-warning signals with their evidence (G4), rule tags
//! and saved segments (G6), and the changes worth a timeline entry (G7).
//!
//! Everything here is pure: the store gathers the facts (spend in a window,
//! counts per window, last dates), these functions decide. `today` is always
//! an argument, and every threshold is a setting with a default.
//!
//! Date windows follow one convention throughout: a window of N days or
//! months ending today is `(today − N, today]` — the day N days (months) ago
//! is *outside*, today is inside. Functions that return a window return it
//! as `(after, through)`: a date `d` is in it when `after < d && d <= through`
//! (see [`in_window`]).

mod change;
mod condition;
mod rfm;
mod rule_tag;
mod signals;
mod tier;

pub use change::{Change, Standing, changes};
pub use condition::{Condition, CustomerFacts, Segment, default_rule_tags, matches};
pub use rfm::{RfmCutoffs, RfmInput, RfmScore, RfmSegment, rfm_cutoffs, rfm_scores, rfm_segment};
pub use rule_tag::{RULE_TAG_NAME_MAX, RuleTagSet, tags_tested, validate_rule_tag};
pub use signals::{ChurnReason, Counts, Evidence, Signal, SignalFacts, SignalKind, SignalRule, evaluate};
pub use tier::{Activity, ActivityRules, TierPeriod, TierThresholds, ValueTier, activity, classify, spend_window};

use jiff::civil::Date;

/// Money as an integer number of fen in JSON, both ways.
pub(crate) mod fen {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::money::Money;

    pub fn serialize<S: Serializer>(m: &Money, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(m.fen())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Money, D::Error> {
        i64::deserialize(d).map(Money::from_fen)
    }
}

/// Whether `d` lies in the window `(after, through]`.
pub fn in_window(window: (Date, Date), d: Date) -> bool {
    window.0 < d && d <= window.1
}

/// Whole days from `from` to `to` (negative when `to` is earlier).
pub(crate) fn days_between(from: Date, to: Date) -> i64 {
    from.until(to).map_or(0, |s| i64::from(s.get_days()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::Lang;
    use serde::Deserialize;
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error as DeError, StrDeserializer};

    /// The serde name of every vocabulary value is its code, so JSON and the
    /// database agree.
    fn codes_round_trip<'de, T>(all: &[T], code: impl Fn(T) -> &'static str, label: impl Fn(T, Lang) -> &'static str)
    where
        T: Copy + PartialEq + std::fmt::Debug + Deserialize<'de>,
    {
        for v in all {
            let d: StrDeserializer<'_, DeError> = code(*v).into_deserializer();
            assert_eq!(T::deserialize(d).unwrap(), *v);
            assert!(!label(*v, Lang::Zh).is_empty() && !label(*v, Lang::En).is_empty());
        }
    }

    #[test]
    fn vocabulary_codes_are_serde_names() {
        codes_round_trip(ValueTier::ALL, ValueTier::code, ValueTier::label);
        codes_round_trip(TierPeriod::ALL, TierPeriod::code, TierPeriod::label);
        codes_round_trip(Activity::ALL, Activity::code, Activity::label);
        codes_round_trip(RfmSegment::ALL, RfmSegment::code, RfmSegment::label);
        codes_round_trip(SignalKind::ALL, SignalKind::code, SignalKind::label);
        codes_round_trip(ChurnReason::ALL, ChurnReason::code, ChurnReason::label);
    }

    #[test]
    fn window_membership() {
        let w = (jiff::civil::date(2026, 1, 1), jiff::civil::date(2026, 1, 31));
        assert!(!in_window(w, w.0));
        assert!(in_window(w, w.1));
        assert_eq!(days_between(w.0, w.1), 30);
        assert_eq!(days_between(w.1, w.0), -30);
    }
}
