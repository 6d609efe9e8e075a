//! Rule tags and saved segments (SPEC G6): a small condition language over
//! the segmentation results and a few customer fields.
//!
//! Conditions are stored as externally tagged JSON, one key per condition:
//!
//! ```text
//! {"all": [{"tier": "high"}, {"activity": "active"}, {"has_tag": "偏好新品"}]}
//! {"all": [{"any": [{"has_signal": "contact_spike"}, {"has_signal": "negative_feedback"}]}]}
//! {"all": ["at_risk", {"min_spend": 5000000}]}          // min_spend in fen
//! ```

use serde::{Deserialize, Serialize};

use crate::Lang;
use crate::customer::{LifecycleStage, Tag};
use crate::money::Money;
use crate::validation::{self, Issue, ValidationErrors};

use super::rfm::RfmSegment;
use super::signals::SignalKind;
use super::tier::{Activity, ValueTier};

/// One condition on a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    Tier(ValueTier),
    Activity(Activity),
    /// Never holds for a customer without RFM segment (no orders).
    RfmSegment(RfmSegment),
    HasSignal(SignalKind),
    /// At least one churn-warning signal fired.
    AtRisk,
    /// Has this tag (manual or rule tag), compared exactly.
    HasTag(String),
    /// The industry field equals this text.
    Industry(String),
    /// The region field starts with this text, so `广东` also matches
    /// `广东省深圳市`.
    Region(String),
    Stage(LifecycleStage),
    /// Spend in the tier period (G1) at least this much; JSON in fen.
    MinSpend(#[serde(with = "super::fen")] Money),
    /// At least one of the conditions holds (none: never).
    Any(Vec<Condition>),
}

/// What conditions are tested against: one customer's segmentation results
/// and fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerFacts {
    pub tier: ValueTier,
    pub activity: Activity,
    /// `None` for a customer without orders.
    pub rfm: Option<RfmSegment>,
    /// The kinds of the signals that fired.
    pub signals: Vec<SignalKind>,
    /// Manual and rule tags.
    pub tags: Vec<String>,
    pub industry: Option<String>,
    pub region: Option<String>,
    pub stage: LifecycleStage,
    /// Spend in the tier period (rolling 12 months by default).
    pub spend_12m: Money,
}

impl Condition {
    pub fn holds(&self, c: &CustomerFacts) -> bool {
        let field_eq = |field: &Option<String>, want: &str| field.as_deref().map(str::trim) == Some(want.trim());
        match self {
            Condition::Tier(t) => c.tier == *t,
            Condition::Activity(a) => c.activity == *a,
            Condition::RfmSegment(s) => c.rfm == Some(*s),
            Condition::HasSignal(k) => c.signals.contains(k),
            Condition::AtRisk => !c.signals.is_empty(),
            Condition::HasTag(t) => c.tags.iter().any(|x| x.trim() == t.trim()),
            Condition::Industry(i) => field_eq(&c.industry, i),
            Condition::Region(r) => c.region.as_deref().is_some_and(|x| x.trim().starts_with(r.trim())),
            Condition::Stage(s) => c.stage == *s,
            Condition::MinSpend(m) => c.spend_12m >= *m,
            Condition::Any(any) => any.iter().any(|x| x.holds(c)),
        }
    }

    /// The condition for the UI, e.g. "价值分层 = 高价值" / "Value tier = High value".
    pub fn describe(&self, lang: Lang) -> String {
        let eq = |name_zh: &str, name_en: &str, value: &str| format!("{} = {value}", lang.pick(name_zh, name_en));
        match self {
            Condition::Tier(t) => eq("价值分层", "Value tier", t.label(lang)),
            Condition::Activity(a) => eq("活跃度", "Activity", a.label(lang)),
            Condition::RfmSegment(s) => eq("RFM分群", "RFM segment", s.label(lang)),
            Condition::HasSignal(k) => eq("流失信号", "Churn signal", k.label(lang)),
            Condition::AtRisk => lang.pick("处于流失预警", "At risk of churn").into(),
            Condition::HasTag(t) => eq("标签", "Tag", t),
            Condition::Industry(i) => eq("行业", "Industry", i),
            Condition::Region(r) => eq("地区", "Region", r),
            Condition::Stage(s) => eq("生命周期", "Lifecycle stage", s.label(lang)),
            Condition::MinSpend(m) => format!("{} ≥ ¥{m}", lang.pick("近12个月消费", "Spend in the last 12 months")),
            Condition::Any(any) => {
                let parts: Vec<String> = any.iter().map(|x| x.describe(lang)).collect();
                match lang {
                    Lang::Zh => format!("（{}）", parts.join(" 或 ")),
                    Lang::En => format!("({})", parts.join(" or ")),
                }
            }
        }
    }

    fn validate_into(&self, field: &str, depth: usize, count: &mut usize, e: &mut ValidationErrors) {
        *count += 1;
        match self {
            Condition::HasTag(t) => {
                if let Err(issue) = Tag::parse(t) {
                    e.add(field, issue);
                }
            }
            Condition::Industry(s) | Condition::Region(s) => {
                if let Err(issue) = validation::required_text(s, 50) {
                    e.add(field, issue);
                }
            }
            Condition::MinSpend(m) => {
                if m.fen() < 0 {
                    e.add(field, Issue::OutOfRange);
                }
            }
            Condition::Any(any) => {
                if any.is_empty() {
                    e.add(field, Issue::Required);
                } else if depth >= Segment::MAX_DEPTH {
                    e.add(field, Issue::NotAllowed);
                } else {
                    for (i, c) in any.iter().enumerate() {
                        c.validate_into(&format!("{field}.any[{i}]"), depth + 1, count, e);
                    }
                }
            }
            Condition::Tier(_)
            | Condition::Activity(_)
            | Condition::RfmSegment(_)
            | Condition::HasSignal(_)
            | Condition::AtRisk
            | Condition::Stage(_) => {}
        }
    }
}

/// A saved segment or the rule of a rule tag: all conditions hold (AND).
/// No condition matches every customer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    #[serde(default)]
    pub all: Vec<Condition>,
}

impl Segment {
    /// At most this many conditions in all, nested ones included.
    pub const MAX_CONDITIONS: usize = 30;
    /// `any` may nest this deep (an `any` inside an `any` is refused).
    pub const MAX_DEPTH: usize = 1;

    pub fn new(all: Vec<Condition>) -> Self {
        Self { all }
    }

    /// Checks a segment that came from a form or the API. Errors name the
    /// condition: `all[2]`, `all[0].any[1]`; too many conditions is
    /// reported under `all`.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        let mut count = 0;
        for (i, c) in self.all.iter().enumerate() {
            c.validate_into(&format!("all[{i}]"), 0, &mut count, &mut e);
        }
        if count > Self::MAX_CONDITIONS {
            e.add("all", Issue::TooMany { max: Self::MAX_CONDITIONS });
        }
        e.into_result(|| ())
    }

    /// The segment for the UI: "价值分层 = 高价值 且 活跃度 = 活跃".
    pub fn describe(&self, lang: Lang) -> String {
        if self.all.is_empty() {
            return lang.pick("全部客户", "All customers").into();
        }
        let parts: Vec<String> = self.all.iter().map(|c| c.describe(lang)).collect();
        parts.join(lang.pick(" 且 ", " and "))
    }
}

/// Whether a customer is in a segment: every condition holds.
pub fn matches(seg: &Segment, c: &CustomerFacts) -> bool {
    seg.all.iter().all(|x| x.holds(c))
}

/// The rule tags every installation starts with (SPEC G6), seeded as
/// editable rows by migration 0006 (`rule_tags`); administrators change,
/// disable or add to them. Tags that need data the system does not derive
/// (偏好新品, 对功能有需求, 近期可能升级服务) are manual tags.
///
/// - 高价值: tier high value;
/// - 活跃: activity active;
/// - 流失预警: at least one churn signal;
/// - 投诉风险: a complaint/consultation spike or more negative feedback.
pub fn default_rule_tags() -> Vec<(&'static str, Segment)> {
    vec![
        ("高价值", Segment::new(vec![Condition::Tier(ValueTier::High)])),
        ("活跃", Segment::new(vec![Condition::Activity(Activity::Active)])),
        ("流失预警", Segment::new(vec![Condition::AtRisk])),
        (
            "投诉风险",
            Segment::new(vec![Condition::Any(vec![
                Condition::HasSignal(SignalKind::ContactSpike),
                Condition::HasSignal(SignalKind::NegativeFeedback),
            ])]),
        ),
    ]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error as DeError, MapDeserializer, StrDeserializer};

    fn customer() -> CustomerFacts {
        CustomerFacts {
            tier: ValueTier::High,
            activity: Activity::Active,
            rfm: Some(RfmSegment::Champions),
            signals: vec![],
            tags: vec!["偏好新品".into()],
            industry: Some("制造业".into()),
            region: Some("广东省深圳市".into()),
            stage: LifecycleStage::Mature,
            spend_12m: Money::from_fen(12_000_000),
        }
    }

    #[test]
    fn all_conditions_must_hold() {
        let c = customer();
        let seg = Segment::new(vec![
            Condition::Tier(ValueTier::High),
            Condition::Activity(Activity::Active),
            Condition::HasTag("偏好新品".into()),
        ]);
        assert!(matches(&seg, &c));
        assert!(matches(&Segment::default(), &c));
        let mut silent = c.clone();
        silent.activity = Activity::Silent;
        assert!(!matches(&seg, &silent));
        let mut untagged = c.clone();
        untagged.tags.clear();
        assert!(!matches(&seg, &untagged));
    }

    #[test]
    fn each_condition() {
        let c = customer();
        let holds = |x: Condition| x.holds(&c);
        assert!(holds(Condition::RfmSegment(RfmSegment::Champions)));
        assert!(!holds(Condition::RfmSegment(RfmSegment::Lost)));
        assert!(!holds(Condition::AtRisk));
        assert!(!holds(Condition::HasSignal(SignalKind::NoLogin)));
        assert!(holds(Condition::Industry("制造业".into())));
        assert!(!holds(Condition::Industry("制造".into())));
        assert!(holds(Condition::Region("广东".into())));
        assert!(!holds(Condition::Region("深圳".into())));
        assert!(holds(Condition::Stage(LifecycleStage::Mature)));
        assert!(holds(Condition::MinSpend(Money::from_fen(12_000_000))));
        assert!(!holds(Condition::MinSpend(Money::from_fen(12_000_001))));
        assert!(!holds(Condition::Any(vec![])));
        let mut no_orders = c.clone();
        no_orders.rfm = None;
        assert!(!Condition::RfmSegment(RfmSegment::Champions).holds(&no_orders));
        let mut risky = c.clone();
        risky.signals = vec![SignalKind::NoLogin];
        assert!(Condition::AtRisk.holds(&risky));
        assert!(Condition::HasSignal(SignalKind::NoLogin).holds(&risky));
    }

    #[test]
    fn default_rule_tags_apply() {
        let rules = default_rule_tags();
        let names: Vec<&str> = rules.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, vec!["高价值", "活跃", "流失预警", "投诉风险"]);
        for (n, seg) in &rules {
            assert!(Tag::parse(n).is_ok());
            assert!(seg.validate().is_ok());
        }
        let set = super::super::RuleTagSet::new(rules.into_iter().map(|(n, s)| (n.to_string(), s)).collect());
        let mut c = customer();
        assert_eq!(set.apply(c.clone()), vec!["高价值", "活跃"]);
        c.signals = vec![SignalKind::NoLogin];
        assert_eq!(set.apply(c.clone()), vec!["高价值", "活跃", "流失预警"]);
        c.signals = vec![SignalKind::NegativeFeedback];
        c.tier = ValueTier::Potential;
        assert_eq!(set.apply(c.clone()), vec!["活跃", "流失预警", "投诉风险"]);
        c.signals = vec![SignalKind::ContactSpike];
        assert!(set.apply(c).contains(&"投诉风险".to_string()));
    }

    #[test]
    fn descriptions() {
        assert_eq!(Condition::Tier(ValueTier::High).describe(Lang::Zh), "价值分层 = 高价值");
        assert_eq!(Condition::Tier(ValueTier::High).describe(Lang::En), "Value tier = High value");
        assert_eq!(Condition::MinSpend(Money::from_fen(5_000_000)).describe(Lang::Zh), "近12个月消费 ≥ ¥50,000.00");
        let seg = &default_rule_tags()[3].1;
        assert_eq!(seg.describe(Lang::Zh), "（流失信号 = 投诉/咨询激增 或 流失信号 = 负面反馈增加）");
        let seg = Segment::new(vec![Condition::Tier(ValueTier::High), Condition::Activity(Activity::Active)]);
        assert_eq!(seg.describe(Lang::Zh), "价值分层 = 高价值 且 活跃度 = 活跃");
        assert_eq!(seg.describe(Lang::En), "Value tier = High value and Activity = Active");
        assert_eq!(Segment::default().describe(Lang::Zh), "全部客户");
    }

    #[test]
    fn validation_names_the_condition() {
        let seg = Segment::new(vec![
            Condition::Tier(ValueTier::High),
            Condition::HasTag("a,b".into()),
            Condition::Any(vec![Condition::Region(" ".into()), Condition::Any(vec![Condition::AtRisk])]),
            Condition::Any(vec![]),
            Condition::MinSpend(Money::from_fen(-1)),
        ]);
        let e = seg.validate().unwrap_err();
        assert_eq!(e.fields(), vec!["all[1]", "all[2].any[0]", "all[2].any[1]", "all[3]", "all[4]"]);
        assert_eq!(e.get("all[1]"), Some(&Issue::InvalidCharacters));
        let many = Segment::new(vec![Condition::AtRisk; 31]);
        assert_eq!(many.validate().unwrap_err().fields(), vec!["all"]);
    }

    /// `{"key": "value"}` through serde's own value deserializers.
    fn from_pair(key: &'static str, value: &'static str) -> Condition {
        let map = MapDeserializer::<_, DeError>::new(std::iter::once((key, value)));
        Condition::deserialize(serde::de::value::MapAccessDeserializer::new(map)).unwrap()
    }

    #[test]
    fn json_keys_are_snake_case_codes() {
        assert_eq!(from_pair("tier", "high"), Condition::Tier(ValueTier::High));
        assert_eq!(from_pair("rfm_segment", "cannot_lose"), Condition::RfmSegment(RfmSegment::CannotLose));
        assert_eq!(from_pair("has_signal", "contact_spike"), Condition::HasSignal(SignalKind::ContactSpike));
        assert_eq!(from_pair("has_tag", "偏好新品"), Condition::HasTag("偏好新品".into()));
        assert_eq!(from_pair("stage", "mature"), Condition::Stage(LifecycleStage::Mature));
        let at_risk: StrDeserializer<'_, DeError> = "at_risk".into_deserializer();
        assert_eq!(Condition::deserialize(at_risk).unwrap(), Condition::AtRisk);
        let map = MapDeserializer::<_, DeError>::new(std::iter::once(("min_spend", 5_000_000i64)));
        assert_eq!(
            Condition::deserialize(serde::de::value::MapAccessDeserializer::new(map)).unwrap(),
            Condition::MinSpend(Money::from_fen(5_000_000))
        );
    }
}
