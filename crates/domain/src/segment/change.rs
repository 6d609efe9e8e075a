//! The changes of a recomputation worth a timeline entry (SPEC G7): tier,
//! activity, churn state and rule tags (G6).

use serde::{Deserialize, Serialize};

use crate::Lang;

use super::signals::SignalKind;
use super::tier::{Activity, ValueTier};

/// A customer's segmentation state, as stored after a recomputation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standing {
    pub tier: ValueTier,
    pub activity: Activity,
    /// The kinds of the signals that fired.
    pub signals: Vec<SignalKind>,
    /// The rule tags given.
    pub rule_tags: Vec<String>,
}

/// One change between two standings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    Tier { from: ValueTier, to: ValueTier },
    Activity { from: Activity, to: Activity },
    SignalRaised { kind: SignalKind },
    SignalCleared { kind: SignalKind },
    TagAdded { tag: String },
    TagRemoved { tag: String },
}

/// What changed from `before` to `after`: tier, then activity, then signals
/// raised and cleared in [`SignalKind::ALL`] order, then rule tags given
/// (in `after`'s order) and taken away (in `before`'s). Empty when nothing did.
pub fn changes(before: &Standing, after: &Standing) -> Vec<Change> {
    let mut out = Vec::new();
    if before.tier != after.tier {
        out.push(Change::Tier { from: before.tier, to: after.tier });
    }
    if before.activity != after.activity {
        out.push(Change::Activity { from: before.activity, to: after.activity });
    }
    for kind in SignalKind::ALL.iter().copied() {
        match (before.signals.contains(&kind), after.signals.contains(&kind)) {
            (false, true) => out.push(Change::SignalRaised { kind }),
            (true, false) => out.push(Change::SignalCleared { kind }),
            _ => {}
        }
    }
    for tag in after.rule_tags.iter().filter(|t| !before.rule_tags.contains(t)) {
        out.push(Change::TagAdded { tag: tag.clone() });
    }
    for tag in before.rule_tags.iter().filter(|t| !after.rule_tags.contains(t)) {
        out.push(Change::TagRemoved { tag: tag.clone() });
    }
    out
}

impl Change {
    /// A timeline line, e.g. "价值分层：潜力 → 高价值".
    pub fn text(&self, lang: Lang) -> String {
        match self {
            Change::Tier { from, to } => match lang {
                Lang::Zh => format!("价值分层：{} → {}", from.label(lang), to.label(lang)),
                Lang::En => format!("Value tier: {} → {}", from.label(lang), to.label(lang)),
            },
            Change::Activity { from, to } => match lang {
                Lang::Zh => format!("活跃度：{} → {}", from.label(lang), to.label(lang)),
                Lang::En => format!("Activity: {} → {}", from.label(lang), to.label(lang)),
            },
            Change::SignalRaised { kind } => match lang {
                Lang::Zh => format!("触发流失预警：{}", kind.label(lang)),
                Lang::En => format!("Churn warning raised: {}", kind.label(lang)),
            },
            Change::SignalCleared { kind } => match lang {
                Lang::Zh => format!("流失预警解除：{}", kind.label(lang)),
                Lang::En => format!("Churn warning cleared: {}", kind.label(lang)),
            },
            Change::TagAdded { tag } => match lang {
                Lang::Zh => format!("获得规则标签：{tag}"),
                Lang::En => format!("Rule tag given: {tag}"),
            },
            Change::TagRemoved { tag } => match lang {
                Lang::Zh => format!("规则标签移除：{tag}"),
                Lang::En => format!("Rule tag removed: {tag}"),
            },
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn changes_in_order_with_text() {
        let before = Standing {
            tier: ValueTier::Potential,
            activity: Activity::Active,
            signals: vec![SignalKind::NoLogin, SignalKind::OrderDrop],
            rule_tags: vec!["高价值".into(), "活跃".into()],
        };
        assert!(changes(&before, &before).is_empty());
        let after = Standing {
            tier: ValueTier::High,
            activity: Activity::Active,
            signals: vec![SignalKind::ContactSpike, SignalKind::OrderDrop],
            rule_tags: vec!["重点客户".into(), "活跃".into()],
        };
        let c = changes(&before, &after);
        assert_eq!(
            c,
            vec![
                Change::Tier { from: ValueTier::Potential, to: ValueTier::High },
                Change::SignalCleared { kind: SignalKind::NoLogin },
                Change::SignalRaised { kind: SignalKind::ContactSpike },
                Change::TagAdded { tag: "重点客户".into() },
                Change::TagRemoved { tag: "高价值".into() },
            ]
        );
        assert_eq!(c[3].text(Lang::Zh), "获得规则标签：重点客户");
        assert_eq!(c[4].text(Lang::En), "Rule tag removed: 高价值");
        assert_eq!(c[0].text(Lang::Zh), "价值分层：潜力 → 高价值");
        assert_eq!(c[0].text(Lang::En), "Value tier: Potential → High value");
        assert_eq!(c[1].text(Lang::Zh), "流失预警解除：长期未登录");
        assert_eq!(c[2].text(Lang::En), "Churn warning raised: Complaint/consultation spike");
        let quiet = Standing { activity: Activity::Silent, ..after.clone() };
        assert_eq!(changes(&after, &quiet)[0].text(Lang::Zh), "活跃度：活跃 → 沉默");
        assert_eq!(changes(&after, &quiet)[0].text(Lang::En), "Activity: Active → Silent");
    }
}
