//! RFM scores and named segments (SPEC G3).
//!
//! Each of recency, frequency and monetary value is scored 1–5 by quintile of
//! rank in the scored population, 5 being best (most recent, most frequent,
//! most spend). A value's rank is the number of values in the population
//! that are strictly *worse*, so tied values share the rank of their first
//! occurrence and always get the same score:
//!
//! ```text
//! score = 1 + ⌊5 · (number of strictly worse values) / n⌋
//! ```
//!
//! With n distinct values each score holds ⌊n/5⌋ or ⌈n/5⌉ of them.
//!
//! **Who is scored**: customers with at least one order. A customer without
//! orders has no recency, so is left out of the population and has no RFM
//! segment (`None` in [`super::CustomerFacts::rfm`]) — they would otherwise
//! drag every cut-off. [`RfmInput::from_orders`] returns `None` for them.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::customer::vocabulary;
use crate::money::Money;
use crate::validation::Issue;

use super::days_between;

/// One customer's raw RFM figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RfmInput {
    /// Days from the last order to today (0 = ordered today). Lower is better.
    pub recency_days: i64,
    /// Number of orders. Higher is better.
    pub frequency: i64,
    /// Total spend in fen. Higher is better.
    pub monetary_fen: i64,
}

impl RfmInput {
    /// The figures of a customer's orders `(date, amount)` on `today`;
    /// `None` when there is no order (see the module notes). Recency of an
    /// order dated after today is 0. The caller chooses which orders to pass
    /// (the whole history, or a window such as the tier period).
    pub fn from_orders(orders: &[(Date, Money)], today: Date) -> Option<Self> {
        let last = orders.iter().map(|(d, _)| *d).max()?;
        let monetary_fen = orders.iter().fold(0i64, |sum, (_, m)| sum.saturating_add(m.fen()));
        Some(Self {
            recency_days: days_between(last, today).max(0),
            frequency: i64::try_from(orders.len()).unwrap_or(i64::MAX),
            monetary_fen,
        })
    }
}

/// Quintile scores, each 1..=5 with 5 best.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RfmScore {
    pub r: u8,
    pub f: u8,
    pub m: u8,
}

impl RfmScore {
    /// The combined frequency–monetary score: the mean of `f` and `m`,
    /// rounded half up (so `f = 4, m = 5` gives 5).
    pub fn fm(self) -> u8 {
        u8::try_from((u16::from(self.f) + u16::from(self.m)).div_ceil(2)).unwrap_or(u8::MAX)
    }

    /// The usual three-digit code, e.g. `"545"`.
    pub fn code(self) -> String {
        format!("{}{}{}", self.r, self.f, self.m)
    }
}

/// The quintile cut-offs of one population, computed once by [`rfm_cutoffs`]
/// and then used to score customers one by one or in batches
/// ([`RfmCutoffs::score`]) with exactly the scores [`rfm_scores`] gives.
///
/// For frequency and monetary, a value scores `1 + (number of cut-offs it is
/// strictly greater than)`; for recency, `1 + (number of cut-offs it is
/// strictly less than)`. Cut-offs are values of the population, in
/// non-decreasing order of the score they lead to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RfmCutoffs {
    /// The size of the population.
    pub population: usize,
    pub recency: [i64; 4],
    pub frequency: [i64; 4],
    pub monetary: [i64; 4],
}

/// The cut-offs of a population in O(n log n). With no input every value
/// scores 1.
pub fn rfm_cutoffs(inputs: &[RfmInput]) -> RfmCutoffs {
    let mut r: Vec<i64> = inputs.iter().map(|i| i.recency_days).collect();
    let mut f: Vec<i64> = inputs.iter().map(|i| i.frequency).collect();
    let mut m: Vec<i64> = inputs.iter().map(|i| i.monetary_fen).collect();
    // Worst first: recency descending, the others ascending.
    r.sort_unstable_by(|a, b| b.cmp(a));
    f.sort_unstable();
    m.sort_unstable();
    RfmCutoffs {
        population: inputs.len(),
        recency: bounds(&r, i64::MIN),
        frequency: bounds(&f, i64::MAX),
        monetary: bounds(&m, i64::MAX),
    }
}

/// For values sorted worst first: the value at position ⌈k·n/5⌉ − 1 for
/// k = 1..=4. A value strictly better than it has at least ⌈k·n/5⌉ values
/// strictly worse, i.e. a score above k.
fn bounds(worst_first: &[i64], empty: i64) -> [i64; 4] {
    let n = worst_first.len();
    let mut out = [empty; 4];
    for (k, slot) in (1..=4usize).zip(out.iter_mut()) {
        let at = (k * n).div_ceil(5);
        if let Some(v) = at.checked_sub(1).and_then(|i| worst_first.get(i)) {
            *slot = *v;
        }
    }
    out
}

fn count_u8(n: usize) -> u8 {
    u8::try_from(n).unwrap_or(u8::MAX)
}

impl RfmCutoffs {
    pub fn score(&self, input: &RfmInput) -> RfmScore {
        RfmScore {
            r: 1 + count_u8(self.recency.iter().filter(|c| input.recency_days < **c).count()),
            f: 1 + count_u8(self.frequency.iter().filter(|c| input.frequency > **c).count()),
            m: 1 + count_u8(self.monetary.iter().filter(|c| input.monetary_fen > **c).count()),
        }
    }
}

/// The scores of a population, in input order, in O(n log n).
pub fn rfm_scores(inputs: &[RfmInput]) -> Vec<RfmScore> {
    let cutoffs = rfm_cutoffs(inputs);
    inputs.iter().map(|i| cutoffs.score(i)).collect()
}

vocabulary!(
    /// The usual named RFM segments (RFM客户分群), see [`rfm_segment`].
    RfmSegment {
        Champions = "champions", "重要价值客户", "Champions";
        Loyal = "loyal", "忠诚客户", "Loyal";
        PotentialLoyalist = "potential_loyalist", "潜在忠诚客户", "Potential loyalist";
        NewCustomer = "new_customer", "新客户", "New customer";
        Promising = "promising", "潜力新客", "Promising";
        NeedAttention = "need_attention", "需要关注客户", "Needs attention";
        AboutToSleep = "about_to_sleep", "即将沉睡客户", "About to sleep";
        AtRisk = "at_risk", "流失风险客户", "At risk";
        CannotLose = "cannot_lose", "重要挽留客户", "Can't lose them";
        Hibernating = "hibernating", "沉睡客户", "Hibernating";
        Lost = "lost", "已流失客户", "Lost";
    }
);

/// The segment of a score, from `r` and `fm` ([`RfmScore::fm`]), on the
/// usual R × FM grid:
///
/// ```text
///  fm \ r |   1          2           3              4                  5
///  -------+---------------------------------------------------------------------
///    5    | cannot_lose cannot_lose loyal          loyal              champions
///    4    | at_risk     at_risk     loyal          loyal              champions
///    3    | at_risk     at_risk     need_attention potential_loyalist potential_loyalist
///    2    | lost        hibernating about_to_sleep potential_loyalist potential_loyalist
///    1    | lost        hibernating about_to_sleep promising          new_customer
/// ```
///
/// Scores outside 1..=5 are clamped into it.
pub fn rfm_segment(s: RfmScore) -> RfmSegment {
    let r = s.r.clamp(1, 5);
    let fm = RfmScore { r, f: s.f.clamp(1, 5), m: s.m.clamp(1, 5) }.fm();
    match (r, fm) {
        (1, 1..=2) => RfmSegment::Lost,
        (_, 1..=2) if r <= 2 => RfmSegment::Hibernating,
        (_, 5) if r <= 2 => RfmSegment::CannotLose,
        (_, _) if r <= 2 => RfmSegment::AtRisk,
        (3, 1..=2) => RfmSegment::AboutToSleep,
        (3, 3) => RfmSegment::NeedAttention,
        (3..=4, 4..=5) => RfmSegment::Loyal,
        (4, 1) => RfmSegment::Promising,
        (5, 1) => RfmSegment::NewCustomer,
        (5, 4..=5) => RfmSegment::Champions,
        _ => RfmSegment::PotentialLoyalist,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    fn input(r: i64, f: i64, m: i64) -> RfmInput {
        RfmInput { recency_days: r, frequency: f, monetary_fen: m }
    }

    /// The definition, in O(n²).
    fn naive(inputs: &[RfmInput]) -> Vec<RfmScore> {
        let n = inputs.len();
        let score = |worse: usize| u8::try_from(1 + 5 * worse / n).unwrap();
        inputs
            .iter()
            .map(|a| RfmScore {
                r: score(inputs.iter().filter(|b| b.recency_days > a.recency_days).count()),
                f: score(inputs.iter().filter(|b| b.frequency < a.frequency).count()),
                m: score(inputs.iter().filter(|b| b.monetary_fen < a.monetary_fen).count()),
            })
            .collect()
    }

    #[test]
    fn ten_distinct_customers_make_two_per_quintile() {
        let inputs: Vec<RfmInput> = (0..10).map(|i| input(100 - i * 10, i, i * 1000)).collect();
        let s = rfm_scores(&inputs);
        let f: Vec<u8> = s.iter().map(|s| s.f).collect();
        assert_eq!(f, vec![1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
        // Lower recency is better: the last customer ordered most recently.
        assert_eq!(s.iter().map(|s| s.r).collect::<Vec<_>>(), f);
        assert_eq!(s[9], RfmScore { r: 5, f: 5, m: 5 });
        assert_eq!(s[0].code(), "111");
    }

    #[test]
    fn ties_share_the_score_of_their_first_rank() {
        // Six of ten bought once: all of them get the first occurrence's score.
        let freq = [1, 1, 1, 1, 1, 1, 2, 3, 4, 5];
        let inputs: Vec<RfmInput> = freq.iter().map(|f| input(10, *f, 100)).collect();
        let s = rfm_scores(&inputs);
        assert_eq!(s.iter().map(|s| s.f).collect::<Vec<_>>(), vec![1, 1, 1, 1, 1, 1, 4, 4, 5, 5]);
        // All recencies and amounts equal: everyone gets 1.
        assert!(s.iter().all(|s| s.r == 1 && s.m == 1));
    }

    #[test]
    fn empty_and_single_populations() {
        assert!(rfm_scores(&[]).is_empty());
        assert_eq!(rfm_cutoffs(&[]).score(&input(0, 100, 100)), RfmScore { r: 1, f: 1, m: 1 });
        assert_eq!(rfm_scores(&[input(3, 2, 1)]), vec![RfmScore { r: 1, f: 1, m: 1 }]);
    }

    #[test]
    fn from_orders() {
        let today = date(2026, 11, 23);
        assert_eq!(RfmInput::from_orders(&[], today), None);
        let orders = [(date(2026, 11, 1), Money::from_fen(1000)), (date(2026, 10, 1), Money::from_fen(250))];
        assert_eq!(RfmInput::from_orders(&orders, today), Some(input(22, 2, 1250)));
    }

    #[test]
    fn segment_grid() {
        let seg = |r, f, m| rfm_segment(RfmScore { r, f, m });
        assert_eq!(seg(5, 5, 5), RfmSegment::Champions);
        assert_eq!(seg(5, 4, 3), RfmSegment::Champions); // fm = 3.5 → 4
        assert_eq!(seg(5, 3, 3), RfmSegment::PotentialLoyalist);
        assert_eq!(seg(4, 5, 4), RfmSegment::Loyal);
        assert_eq!(seg(3, 4, 4), RfmSegment::Loyal);
        assert_eq!(seg(5, 1, 1), RfmSegment::NewCustomer);
        assert_eq!(seg(4, 1, 1), RfmSegment::Promising);
        assert_eq!(seg(4, 1, 2), RfmSegment::PotentialLoyalist);
        assert_eq!(seg(3, 3, 3), RfmSegment::NeedAttention);
        assert_eq!(seg(3, 2, 1), RfmSegment::AboutToSleep);
        assert_eq!(seg(2, 3, 4), RfmSegment::AtRisk);
        assert_eq!(seg(1, 3, 3), RfmSegment::AtRisk);
        assert_eq!(seg(1, 5, 5), RfmSegment::CannotLose);
        assert_eq!(seg(2, 5, 4), RfmSegment::CannotLose);
        assert_eq!(seg(2, 1, 2), RfmSegment::Hibernating);
        assert_eq!(seg(1, 2, 2), RfmSegment::Lost);
        assert_eq!(seg(1, 1, 1), RfmSegment::Lost);
        assert_eq!(seg(0, 9, 9), RfmSegment::CannotLose);
        // Every segment is reachable.
        let mut seen = std::collections::HashSet::new();
        for r in 1..=5 {
            for f in 1..=5 {
                for m in 1..=5 {
                    seen.insert(seg(r, f, m));
                }
            }
        }
        assert_eq!(seen.len(), RfmSegment::ALL.len());
        assert_eq!(RfmSegment::Champions.label(crate::Lang::Zh), "重要价值客户");
    }

    fn population() -> impl Strategy<Value = Vec<RfmInput>> {
        // Small ranges so that ties are common.
        prop::collection::vec((0i64..30, 0i64..8, 0i64..50).prop_map(|(r, f, m)| input(r, f, m)), 1..120)
    }

    proptest! {
        #[test]
        fn scores_follow_the_rank_definition(inputs in population()) {
            prop_assert_eq!(rfm_scores(&inputs), naive(&inputs));
        }

        #[test]
        fn equal_values_get_equal_scores_and_better_values_no_worse(inputs in population()) {
            let s = rfm_scores(&inputs);
            for (a, sa) in inputs.iter().zip(&s) {
                prop_assert!((1..=5).contains(&sa.r) && (1..=5).contains(&sa.f) && (1..=5).contains(&sa.m));
                for (b, sb) in inputs.iter().zip(&s) {
                    if a.frequency == b.frequency { prop_assert_eq!(sa.f, sb.f); }
                    if a.frequency > b.frequency { prop_assert!(sa.f >= sb.f); }
                    if a.monetary_fen == b.monetary_fen { prop_assert_eq!(sa.m, sb.m); }
                    if a.monetary_fen > b.monetary_fen { prop_assert!(sa.m >= sb.m); }
                    if a.recency_days == b.recency_days { prop_assert_eq!(sa.r, sb.r); }
                    if a.recency_days < b.recency_days { prop_assert!(sa.r >= sb.r); }
                }
            }
        }

        #[test]
        fn distinct_values_fill_quintiles_evenly(n in 1usize..400, shift in -1000i64..1000, step in 1i64..50) {
            // Distinct, shuffled by a fixed permutation of positions.
            let inputs: Vec<RfmInput> = (0..n)
                .map(|i| { let v = i64::try_from((i * 7919) % n).unwrap(); input(shift - v * step, v, v * step) })
                .collect();
            let s = rfm_scores(&inputs);
            for q in 1..=5u8 {
                for count in [
                    s.iter().filter(|x| x.r == q).count(),
                    s.iter().filter(|x| x.f == q).count(),
                    s.iter().filter(|x| x.m == q).count(),
                ] {
                    prop_assert!(count == n / 5 || count == n.div_ceil(5), "q{} has {} of {}", q, count, n);
                }
            }
        }

        #[test]
        fn cutoffs_score_newcomers_monotonically(inputs in population(), r in -5i64..40, f in -2i64..10, m in -5i64..60) {
            let c = rfm_cutoffs(&inputs);
            let a = c.score(&input(r, f, m));
            let b = c.score(&input(r + 1, f - 1, m - 1));
            prop_assert!(a.r >= b.r && a.f >= b.f && a.m >= b.m);
        }
    }
}
