//! What occasioned a task. Its [`Occasion::key`] makes a task unique per
//! customer and scenario (M2: generating twice creates nothing twice), and
//! the occasion itself is kept with the task so that pages can say in
//! either language why it exists.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::Lang;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Occasion {
    /// The customer registered or bought for the first time.
    FirstFollowUp {
        on: Date,
        by_purchase: bool,
    },
    /// A revisit of the cadence window that ends on `due`.
    Revisit {
        due: Date,
    },
    /// A complaint (or major problem) was closed.
    Complaint {
        reference: String,
        closed_on: Date,
    },
    /// A churn warning was raised (the `segment_events` row).
    ChurnWarning {
        event_id: i64,
        evidence: String,
    },
    /// The contract ends.
    ContractEnd {
        on: Date,
    },
    Birthday {
        contact_id: i64,
        contact: String,
        on: Date,
    },
    Anniversary {
        years: i16,
        on: Date,
    },
    Holiday {
        name: String,
        on: Date,
    },
    /// The customer went silent after their last interaction.
    Silent {
        since: Option<Date>,
    },
    /// One content cycle (its first month, `YYYY-MM`).
    Content {
        cycle: String,
    },
}

impl Occasion {
    /// Unique per customer and scenario.
    pub fn key(&self) -> String {
        match self {
            Occasion::FirstFollowUp { .. } => "first".into(),
            Occasion::Revisit { due } => format!("revisit:{due}"),
            Occasion::Complaint { reference, .. } => format!("complaint:{reference}"),
            Occasion::ChurnWarning { event_id, .. } => format!("warning:{event_id}"),
            Occasion::ContractEnd { on } => format!("contract:{on}"),
            Occasion::Birthday { contact_id, on, .. } => format!("birthday:{contact_id}:{}", on.year()),
            Occasion::Anniversary { on, .. } => format!("anniversary:{}", on.year()),
            Occasion::Holiday { name, on } => format!("holiday:{name}:{}", on.year()),
            Occasion::Silent { since } => {
                format!("silent:{}", since.map_or_else(|| "none".to_string(), |d| d.to_string()))
            }
            Occasion::Content { cycle } => format!("content:{cycle}"),
        }
    }

    /// Why the task exists, in words.
    pub fn text(&self, lang: Lang) -> String {
        match (self, lang) {
            (Occasion::FirstFollowUp { on, by_purchase: true }, Lang::Zh) => format!("{on} 首次购买"),
            (Occasion::FirstFollowUp { on, by_purchase: true }, Lang::En) => format!("first purchase on {on}"),
            (Occasion::FirstFollowUp { on, by_purchase: false }, Lang::Zh) => format!("{on} 登记为新客户"),
            (Occasion::FirstFollowUp { on, by_purchase: false }, Lang::En) => format!("registered on {on}"),
            (Occasion::Revisit { due }, Lang::Zh) => format!("按维护周期 {due} 回访"),
            (Occasion::Revisit { due }, Lang::En) => format!("cadence revisit due {due}"),
            (Occasion::Complaint { reference, closed_on }, Lang::Zh) => format!("投诉 {reference} 于 {closed_on} 办结"),
            (Occasion::Complaint { reference, closed_on }, Lang::En) => {
                format!("complaint {reference} closed on {closed_on}")
            }
            (Occasion::ChurnWarning { evidence, .. }, Lang::Zh) if evidence.is_empty() => "流失预警".into(),
            (Occasion::ChurnWarning { evidence, .. }, Lang::En) if evidence.is_empty() => "churn warning".into(),
            (Occasion::ChurnWarning { evidence, .. }, Lang::Zh) => format!("流失预警：{evidence}"),
            (Occasion::ChurnWarning { evidence, .. }, Lang::En) => format!("churn warning: {evidence}"),
            (Occasion::ContractEnd { on }, Lang::Zh) => format!("合同 {on} 到期"),
            (Occasion::ContractEnd { on }, Lang::En) => format!("contract ends on {on}"),
            (Occasion::Birthday { contact, on, .. }, Lang::Zh) => format!("{contact} 生日（{on}）"),
            (Occasion::Birthday { contact, on, .. }, Lang::En) => format!("{contact}'s birthday ({on})"),
            (Occasion::Anniversary { years, on }, Lang::Zh) => format!("合作 {years} 周年（{on}）"),
            (Occasion::Anniversary { years, on }, Lang::En) => format!("{years} years of cooperation ({on})"),
            (Occasion::Holiday { name, on }, Lang::Zh) => format!("{name}（{on}）"),
            (Occasion::Holiday { name, on }, Lang::En) => format!("{name} ({on})"),
            (Occasion::Silent { since: Some(d) }, Lang::Zh) => format!("自 {d} 起无互动（沉默）"),
            (Occasion::Silent { since: Some(d) }, Lang::En) => format!("silent since {d}"),
            (Occasion::Silent { since: None }, Lang::Zh) => "长期无互动（沉默）".into(),
            (Occasion::Silent { since: None }, Lang::En) => "silent, no interaction recorded".into(),
            (Occasion::Content { cycle }, Lang::Zh) => format!("{cycle} 期内容推送"),
            (Occasion::Content { cycle }, Lang::En) => format!("content for the cycle from {cycle}"),
        }
    }

    /// The date the occasion falls on, when it has one (birthday, holiday,
    /// contract end …): what the greeting or the renewal is about.
    pub fn date(&self) -> Option<Date> {
        match self {
            Occasion::FirstFollowUp { on, .. }
            | Occasion::ContractEnd { on }
            | Occasion::Birthday { on, .. }
            | Occasion::Anniversary { on, .. }
            | Occasion::Holiday { on, .. } => Some(*on),
            Occasion::Revisit { due } => Some(*due),
            Occasion::Complaint { closed_on, .. } => Some(*closed_on),
            Occasion::Silent { since } => *since,
            Occasion::ChurnWarning { .. } | Occasion::Content { .. } => None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn keys_are_one_per_occasion() {
        let b = Occasion::Birthday { contact_id: 7, contact: "张伟".into(), on: date(2025, 3, 17) };
        assert_eq!(b.key(), "birthday:7:2025");
        assert_eq!(b.text(Lang::Zh), "张伟 生日（2025-03-17）");
        let h = Occasion::Holiday { name: "中秋节".into(), on: date(2025, 10, 6) };
        assert_eq!(h.key(), "holiday:中秋节:2025");
        assert_eq!(Occasion::Silent { since: None }.key(), "silent:none");
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(serde_json::from_str::<Occasion>(&json).unwrap(), h);
        assert!(json.contains("\"kind\":\"holiday\""));
    }
}
