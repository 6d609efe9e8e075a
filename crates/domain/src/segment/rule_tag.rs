//! Rule tags defined by administrators (SPEC G6): a tag name and a segment
//! condition; the recompute job gives the tag to every customer whose facts
//! match, and takes it away when they stop matching.
//!
//! A rule may test another rule tag (`{"has_tag": "高价值"}`), which is how
//! combined tags such as "高价值+活跃+偏好新品" are built: a rule with several
//! `has_tag`/tier/activity parts. Rules are therefore evaluated in dependency
//! order, and a rule that would depend on itself (directly or through
//! others) is refused when it is saved.

use std::collections::BTreeSet;

use crate::customer::Tag;
use crate::validation::{Issue, ValidationErrors};

use super::condition::{Condition, CustomerFacts, Segment, matches};

/// The longest rule-tag name (a tag's).
pub const RULE_TAG_NAME_MAX: usize = Tag::MAX_LEN;

/// The tag names a segment tests with `has_tag`, nested ones included.
pub fn tags_tested(seg: &Segment) -> BTreeSet<String> {
    fn walk(c: &Condition, out: &mut BTreeSet<String>) {
        match c {
            Condition::HasTag(t) => {
                out.insert(t.trim().to_string());
            }
            Condition::Any(xs) => xs.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    seg.all.iter().for_each(|c| walk(c, &mut out));
    out
}

/// Checks a rule tag an administrator submits, against the other rule tags
/// (every one, enabled or not, without the one being edited). Returns the
/// trimmed name. Errors name `name` (not a tag, or already a rule tag) and
/// `definition` (no condition: it would tag every customer; or a rule that
/// depends on itself); the segment's own errors keep their `all[i]` names.
pub fn validate_rule_tag(name: &str, seg: &Segment, others: &[(String, Segment)]) -> Result<String, ValidationErrors> {
    let mut e = ValidationErrors::new();
    let name = e.check("name", Tag::parse(name).map(|t| t.as_str().to_string()));
    if let Some(n) = &name
        && others.iter().any(|(o, _)| o.trim() == n)
    {
        e.add("name", Issue::Taken);
    }
    if seg.all.is_empty() {
        e.add("definition", Issue::Required);
    } else if let Err(more) = seg.validate() {
        e.0.extend(more.0);
    } else if let Some(n) = &name
        && depends_on(n, seg, others)
    {
        e.add("definition", Issue::Circular);
    }
    match name {
        Some(n) if e.is_empty() => Ok(n),
        _ => Err(e),
    }
}

/// Whether the rule `name` with segment `seg` would depend on itself
/// through the others.
fn depends_on(name: &str, seg: &Segment, others: &[(String, Segment)]) -> bool {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<String> = tags_tested(seg).into_iter().collect();
    while let Some(t) = todo.pop() {
        if t == name {
            return true;
        }
        if !seen.insert(t.clone()) {
            continue;
        }
        for (o, s) in others {
            if o.trim() == t {
                todo.extend(tags_tested(s));
            }
        }
    }
    false
}

/// The enabled rule tags, ready to evaluate customer after customer.
#[derive(Debug, Clone, Default)]
pub struct RuleTagSet {
    rules: Vec<(String, Segment)>,
    /// Indexes into `rules`, every rule after the rule tags it tests.
    order: Vec<usize>,
    /// Whether another rule tests this rule's tag (only then is the tag
    /// added to the facts the later rules see).
    tested: Vec<bool>,
}

impl RuleTagSet {
    /// The rules in display order (results keep it). A rule that tests
    /// another rule tag is evaluated after it; rules caught in a cycle
    /// (refused on saving, so only from a hand-edited database) are
    /// evaluated last in display order.
    pub fn new(rules: Vec<(String, Segment)>) -> Self {
        let rules: Vec<(String, Segment)> = rules.into_iter().map(|(n, s)| (n.trim().to_string(), s)).collect();
        let deps: Vec<Vec<usize>> = rules
            .iter()
            .enumerate()
            .map(|(i, (_, seg))| {
                let tested = tags_tested(seg);
                (0..rules.len()).filter(|j| *j != i && tested.contains(&rules[*j].0)).collect()
            })
            .collect();
        let mut order = Vec::with_capacity(rules.len());
        let mut placed = vec![false; rules.len()];
        loop {
            let ready: Vec<usize> =
                (0..rules.len()).filter(|i| !placed[*i] && deps[*i].iter().all(|d| placed[*d])).collect();
            if ready.is_empty() {
                break;
            }
            for i in ready {
                placed[i] = true;
                order.push(i);
            }
        }
        order.extend((0..rules.len()).filter(|i| !placed[*i]));
        let mut tested = vec![false; rules.len()];
        deps.iter().flatten().for_each(|d| tested[*d] = true);
        Self { rules, order, tested }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|(n, _)| n.as_str())
    }

    /// The rule tags a customer gets, in display order. Each rule sees the
    /// customer's own tags and the rule tags decided before it.
    pub fn apply(&self, mut c: CustomerFacts) -> Vec<String> {
        let mut hit = vec![false; self.rules.len()];
        for &i in &self.order {
            let (name, seg) = &self.rules[i];
            if matches(seg, &c) {
                hit[i] = true;
                if self.tested[i] {
                    c.tags.push(name.clone());
                }
            }
        }
        self.rules.iter().zip(hit).filter(|(_, h)| *h).map(|((n, _), _)| n.clone()).collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::customer::LifecycleStage;
    use crate::money::Money;
    use crate::segment::{Activity, SignalKind, ValueTier, default_rule_tags};

    fn customer() -> CustomerFacts {
        CustomerFacts {
            tier: ValueTier::High,
            activity: Activity::Active,
            rfm: None,
            signals: vec![],
            tags: vec!["偏好新品".into()],
            industry: None,
            region: None,
            stage: LifecycleStage::Mature,
            spend_12m: Money::from_fen(12_000_000),
        }
    }

    fn owned(rules: Vec<(&str, Segment)>) -> Vec<(String, Segment)> {
        rules.into_iter().map(|(n, s)| (n.to_string(), s)).collect()
    }

    fn has(t: &str) -> Condition {
        Condition::HasTag(t.into())
    }

    #[test]
    fn combined_tags_see_the_rule_tags_before_them() {
        // The combination is listed first but evaluated after 高价值 and 活跃.
        let mut rules = owned(vec![("重点新品客户", Segment::new(vec![has("高价值"), has("活跃"), has("偏好新品")]))]);
        rules.extend(owned(default_rule_tags()));
        let set = RuleTagSet::new(rules);
        assert_eq!(set.apply(customer()), vec!["重点新品客户", "高价值", "活跃"]);
        let mut c = customer();
        c.tags.clear();
        assert_eq!(set.apply(c), vec!["高价值", "活跃"], "without the manual tag");
        let mut c = customer();
        c.activity = Activity::Silent;
        c.signals = vec![SignalKind::NegativeFeedback];
        assert_eq!(set.apply(c), vec!["高价值", "流失预警", "投诉风险"]);
        assert!(RuleTagSet::default().apply(customer()).is_empty());
    }

    #[test]
    fn a_cycle_is_evaluated_last_and_never_loops() {
        let set = RuleTagSet::new(owned(vec![
            ("甲", Segment::new(vec![has("乙")])),
            ("乙", Segment::new(vec![has("甲")])),
            ("丙", Segment::new(vec![Condition::Tier(ValueTier::High)])),
        ]));
        assert_eq!(set.apply(customer()), vec!["丙"]);
    }

    #[test]
    fn validation_names_the_field() {
        let others = owned(default_rule_tags());
        let ok = Segment::new(vec![has("高价值"), Condition::Any(vec![has("偏好新品"), has("对功能有需求")])]);
        assert_eq!(validate_rule_tag(" 重点客户 ", &ok, &others).unwrap(), "重点客户");
        let e = validate_rule_tag("a,b", &Segment::default(), &others).unwrap_err();
        assert_eq!(e.fields(), vec!["name", "definition"]);
        assert_eq!(e.get("definition"), Some(&Issue::Required));
        let e = validate_rule_tag("高价值", &Segment::new(vec![Condition::AtRisk]), &others).unwrap_err();
        assert_eq!((e.fields(), e.get("name")), (vec!["name"], Some(&Issue::Taken)));
        let e = validate_rule_tag("x", &Segment::new(vec![Condition::Any(vec![])]), &others).unwrap_err();
        assert_eq!(e.fields(), vec!["all[0]"]);
        // Itself, directly or through another rule.
        let e = validate_rule_tag("自指", &Segment::new(vec![has("自指")]), &others).unwrap_err();
        assert_eq!(e.get("definition"), Some(&Issue::Circular));
        let mut more = others.clone();
        more.push(("乙".into(), Segment::new(vec![Condition::Any(vec![has("甲"), has("高价值")])])));
        let e = validate_rule_tag("甲", &Segment::new(vec![has("乙")]), &more).unwrap_err();
        assert_eq!(e.get("definition"), Some(&Issue::Circular));
        assert!(validate_rule_tag("丙", &Segment::new(vec![has("乙")]), &more).is_ok());
    }
}
