//! The monthly review (投诉复盘, P7): high-frequency problems by category as
//! a Pareto table (counts in falling order with their cumulative share),
//! the timeout rate, the average handling time and repeat complainants.

use serde::Serialize;

/// One bar of the Pareto chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParetoBar {
    pub key: String,
    pub count: i64,
    /// Cumulative share in per mille after this bar (1000 at the last).
    pub cumulative_permille: i64,
}

/// Orders counts from the largest (ties by key) and adds the cumulative share.
pub fn pareto(mut counts: Vec<(String, i64)>) -> Vec<ParetoBar> {
    counts.retain(|(_, n)| *n > 0);
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    let mut running = 0;
    counts
        .into_iter()
        .map(|(key, count)| {
            running += count;
            ParetoBar { key, count, cumulative_permille: if total == 0 { 0 } else { running * 1000 / total } }
        })
        .collect()
}

/// A share in per mille, 0 when there is nothing to share.
pub fn permille(part: i64, whole: i64) -> i64 {
    if whole <= 0 { 0 } else { part * 1000 / whole }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_largest_category_comes_first_and_the_share_ends_at_one() {
        let p =
            pareto(vec![("service".into(), 2), ("product".into(), 5), ("logistics".into(), 3), ("other".into(), 0)]);
        let keys: Vec<&str> = p.iter().map(|b| b.key.as_str()).collect();
        assert_eq!(keys, vec!["product", "logistics", "service"]);
        assert_eq!(p.iter().map(|b| b.cumulative_permille).collect::<Vec<_>>(), vec![500, 800, 1000]);
    }

    proptest! {
        #[test]
        fn shares_rise_and_end_at_one(counts in proptest::collection::vec(1i64..1000, 1..8)) {
            let p = pareto(counts.iter().enumerate().map(|(i, n)| (format!("k{i}"), *n)).collect());
            prop_assert!(p.windows(2).all(|w| w[0].count >= w[1].count && w[0].cumulative_permille <= w[1].cumulative_permille));
            prop_assert_eq!(p.last().map(|b| b.cumulative_permille), Some(1000));
        }
    }
}
