//! The condition fields shared by the segment builder and the rule-tag form
//! (SPEC G6): one field per condition that must hold (AND), and up to
//! [`MAX_GROUPS`] "any of" groups (OR) inside that list. A page without
//! JavaScript builds every segment the API accepts that the form can show.
//!
//! Field names: the AND fields are `tier`, `activity`, `rfm_segment`,
//! `signal`, `at_risk`, `tag`, `industry`, `region`, `stage`, `min_spend`
//! (as links to member lists have always used); group `n` (from 1) has
//! `g{n}_tier`, `g{n}_activity`, `g{n}_rfm_segment`, `g{n}_signal`,
//! `g{n}_stage` (ticked boxes, repeated), `g{n}_at_risk`, and `g{n}_tag`,
//! `g{n}_industry`, `g{n}_region` (several values separated by 、 or
//! commas) and `g{n}_min_spend`. The AND tag field takes several tags
//! joined by `+`, all of which must be present ("高价值+活跃+偏好新品").

use guanxi_domain::customer::{LifecycleStage, Tag};
use guanxi_domain::money::Money;
use guanxi_domain::segment::{Activity, Condition, RfmSegment, Segment, SignalKind, ValueTier};
use guanxi_domain::{Issue, Lang, ValidationErrors, validation};
use minijinja::{Value, context};

use crate::web::form_get;

/// "Any of" groups a form holds.
pub(super) const MAX_GROUPS: usize = 3;

/// The AND fields, in form order.
const FIELDS: [&str; 10] =
    ["tier", "activity", "rfm_segment", "signal", "at_risk", "tag", "industry", "region", "stage", "min_spend"];
/// A group's tick-box fields, in form order.
const CHOICES: [&str; 5] = ["tier", "activity", "rfm_segment", "signal", "stage"];
/// A group's text fields, in form order.
const TEXTS: [&str; 4] = ["tag", "industry", "region", "min_spend"];
/// What separates the tags of the AND tag field (all must be present).
const ALL_SEPARATORS: [char; 7] = ['+', '＋', '、', ',', '，', ';', '；'];
/// What separates the values of a group's text field (any may match).
const ANY_SEPARATORS: [char; 5] = ['、', ',', '，', ';', '；'];

/// One "any of" group as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct AnyGroup {
    tier: Vec<String>,
    activity: Vec<String>,
    rfm_segment: Vec<String>,
    signal: Vec<String>,
    stage: Vec<String>,
    at_risk: bool,
    tag: String,
    industry: String,
    region: String,
    min_spend: String,
}

impl AnyGroup {
    fn choice(&self, field: &str) -> &[String] {
        match field {
            "tier" => &self.tier,
            "activity" => &self.activity,
            "rfm_segment" => &self.rfm_segment,
            "signal" => &self.signal,
            _ => &self.stage,
        }
    }

    fn choice_mut(&mut self, field: &str) -> &mut Vec<String> {
        match field {
            "tier" => &mut self.tier,
            "activity" => &mut self.activity,
            "rfm_segment" => &mut self.rfm_segment,
            "signal" => &mut self.signal,
            _ => &mut self.stage,
        }
    }

    fn text(&self, field: &str) -> &str {
        match field {
            "tag" => &self.tag,
            "industry" => &self.industry,
            "region" => &self.region,
            _ => &self.min_spend,
        }
    }

    fn text_mut(&mut self, field: &str) -> &mut String {
        match field {
            "tag" => &mut self.tag,
            "industry" => &mut self.industry,
            "region" => &mut self.region,
            _ => &mut self.min_spend,
        }
    }

    fn is_empty(&self) -> bool {
        !self.at_risk
            && CHOICES.iter().all(|f| self.choice(f).is_empty())
            && TEXTS.iter().all(|f| self.text(f).is_empty())
    }
}

/// The condition fields as typed. Every field left empty is no condition.
#[derive(Debug, Clone, Default)]
pub(super) struct ConditionForm {
    pub(super) tier: String,
    pub(super) activity: String,
    pub(super) rfm_segment: String,
    pub(super) signal: String,
    pub(super) at_risk: bool,
    pub(super) tag: String,
    pub(super) industry: String,
    pub(super) region: String,
    pub(super) stage: String,
    /// Yuan, as typed.
    pub(super) min_spend: String,
    /// The groups that hold something, renumbered from 1.
    groups: Vec<AnyGroup>,
}

/// A condition built from the form, with the fields it came from, so an
/// error the segment's own validation finds is said beside its field.
struct Part {
    field: String,
    /// For an "any of" group: the field of each alternative.
    alternatives: Vec<String>,
    condition: Condition,
}

fn split(raw: &str, separators: &[char]) -> Vec<String> {
    raw.split(separators).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// An amount as the form shows it: yuan without grouping, e.g. `50000` or `1234.5`.
pub(super) fn yuan(m: Money) -> String {
    let (y, f) = (m.fen() / 100, m.fen() % 100);
    match f {
        0 => y.to_string(),
        f if f % 10 == 0 => format!("{y}.{}", f / 10),
        f => format!("{y}.{f:02}"),
    }
}

fn parse_choice(field: &str, raw: &str) -> Result<Condition, Issue> {
    match field {
        "tier" => ValueTier::parse(raw).map(Condition::Tier),
        "activity" => Activity::parse(raw).map(Condition::Activity),
        "rfm_segment" => RfmSegment::parse(raw).map(Condition::RfmSegment),
        "signal" => SignalKind::parse(raw).map(Condition::HasSignal),
        _ => LifecycleStage::parse(raw).map(Condition::Stage),
    }
}

fn parse_text(field: &str, raw: &str) -> Result<Condition, Issue> {
    match field {
        "tag" => Tag::parse(raw).map(|t| Condition::HasTag(t.as_str().to_string())),
        "industry" => validation::required_text(raw, 50).map(Condition::Industry),
        "region" => validation::required_text(raw, 50).map(Condition::Region),
        _ => Money::parse(raw).map(Condition::MinSpend),
    }
}

impl ConditionForm {
    pub(super) fn from_pairs(pairs: &[(String, String)]) -> Self {
        let get = |k: &str| form_get(pairs, k).unwrap_or("").trim().to_string();
        let ticked = |k: &str| matches!(form_get(pairs, k), Some(v) if !v.is_empty());
        let mut groups = Vec::new();
        for n in 1..=MAX_GROUPS {
            let mut g = AnyGroup { at_risk: ticked(&format!("g{n}_at_risk")), ..AnyGroup::default() };
            for f in CHOICES {
                let key = format!("g{n}_{f}");
                *g.choice_mut(f) = pairs
                    .iter()
                    .filter(|(k, v)| *k == key && !v.trim().is_empty())
                    .map(|(_, v)| v.trim().to_string())
                    .collect();
            }
            for f in TEXTS {
                *g.text_mut(f) = get(&format!("g{n}_{f}"));
            }
            if !g.is_empty() {
                groups.push(g);
            }
        }
        ConditionForm {
            tier: get("tier"),
            activity: get("activity"),
            rfm_segment: get("rfm_segment"),
            signal: get("signal"),
            at_risk: ticked("at_risk"),
            tag: get("tag"),
            industry: get("industry"),
            region: get("region"),
            stage: get("stage"),
            min_spend: get("min_spend"),
            groups,
        }
    }

    /// The form of a segment, when the form can show it: at most one value
    /// per AND field (tags excepted), at most [`MAX_GROUPS`] groups, one
    /// amount per group, and no value holding a separator.
    pub(super) fn from_segment(seg: &Segment) -> Option<Self> {
        let mut f = ConditionForm::default();
        let set = |slot: &mut String, v: &str| -> Option<()> {
            if !slot.is_empty() {
                return None;
            }
            *slot = v.to_string();
            Some(())
        };
        let mut tags: Vec<&str> = Vec::new();
        for c in &seg.all {
            match c {
                Condition::Tier(t) => set(&mut f.tier, t.code())?,
                Condition::Activity(a) => set(&mut f.activity, a.code())?,
                Condition::RfmSegment(r) => set(&mut f.rfm_segment, r.code())?,
                Condition::HasSignal(k) => set(&mut f.signal, k.code())?,
                Condition::AtRisk => f.at_risk = true,
                Condition::HasTag(t) if !t.contains(ALL_SEPARATORS) => tags.push(t),
                Condition::Industry(i) => set(&mut f.industry, i)?,
                Condition::Region(r) => set(&mut f.region, r)?,
                Condition::Stage(s) => set(&mut f.stage, s.code())?,
                Condition::MinSpend(m) => set(&mut f.min_spend, &yuan(*m))?,
                Condition::Any(xs) if f.groups.len() < MAX_GROUPS && !xs.is_empty() => {
                    f.groups.push(group_of(xs)?);
                }
                Condition::HasTag(_) | Condition::Any(_) => return None,
            }
        }
        f.tag = tags.join("+");
        Some(f)
    }

    /// The conditions as query pairs, for links.
    pub(super) fn pairs(&self) -> Vec<(String, String)> {
        let mut q: Vec<(String, String)> = FIELDS
            .iter()
            .filter(|k| **k != "at_risk")
            .filter_map(|k| Some((k.to_string(), self.value(k)?.to_string())))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        if self.at_risk {
            q.push(("at_risk".into(), "1".into()));
        }
        for (i, g) in self.groups.iter().enumerate() {
            let n = i + 1;
            for f in CHOICES {
                q.extend(g.choice(f).iter().map(|v| (format!("g{n}_{f}"), v.clone())));
            }
            if g.at_risk {
                q.push((format!("g{n}_at_risk"), "1".into()));
            }
            q.extend(TEXTS.iter().filter(|f| !g.text(f).is_empty()).map(|f| (format!("g{n}_{f}"), g.text(f).into())));
        }
        q
    }

    /// The conditions as a query string, for links (names are not part of it).
    pub(super) fn query(&self) -> String {
        serde_urlencoded::to_string(self.pairs()).unwrap_or_default()
    }

    fn value(&self, field: &str) -> Option<&str> {
        Some(match field {
            "tier" => &self.tier,
            "activity" => &self.activity,
            "rfm_segment" => &self.rfm_segment,
            "signal" => &self.signal,
            "tag" => &self.tag,
            "industry" => &self.industry,
            "region" => &self.region,
            "stage" => &self.stage,
            "min_spend" => &self.min_spend,
            _ => return None,
        })
    }

    pub(super) fn has_conditions(&self) -> bool {
        self.at_risk || !self.groups.is_empty() || FIELDS.iter().any(|k| self.value(k).is_some_and(|v| !v.is_empty()))
    }

    /// The segment the fields describe. Errors name the form field
    /// (`min_spend`, `g1_tag`…); too many conditions is said under `all`.
    pub(super) fn segment(&self) -> Result<Segment, ValidationErrors> {
        let mut e = ValidationErrors::new();
        let mut parts: Vec<Part> = Vec::new();
        let mut single = |parts: &mut Vec<Part>, field: &str, r: Result<Condition, Issue>| match r {
            Ok(condition) => parts.push(Part { field: field.into(), alternatives: Vec::new(), condition }),
            Err(issue) => e.add(field, issue),
        };
        for field in FIELDS {
            match field {
                "at_risk" if self.at_risk => single(&mut parts, field, Ok(Condition::AtRisk)),
                "tag" => {
                    for t in split(&self.tag, &ALL_SEPARATORS) {
                        single(&mut parts, field, parse_text(field, &t));
                    }
                }
                "tier" | "activity" | "rfm_segment" | "signal" | "stage"
                    if !self.value(field).unwrap_or("").is_empty() =>
                {
                    single(&mut parts, field, parse_choice(field, self.value(field).unwrap_or("")));
                }
                "industry" | "region" | "min_spend" if !self.value(field).unwrap_or("").is_empty() => {
                    single(&mut parts, field, parse_text(field, self.value(field).unwrap_or("")));
                }
                _ => {}
            }
        }
        for (i, g) in self.groups.iter().enumerate() {
            let n = i + 1;
            let mut alternatives = Vec::new();
            let mut any = Vec::new();
            let mut take = |field: String, r: Result<Condition, Issue>| match r {
                Ok(c) => {
                    alternatives.push(field);
                    any.push(c);
                }
                Err(issue) => e.add(&field, issue),
            };
            for f in CHOICES {
                for v in g.choice(f) {
                    take(format!("g{n}_{f}"), parse_choice(f, v));
                }
            }
            if g.at_risk {
                take(format!("g{n}_at_risk"), Ok(Condition::AtRisk));
            }
            for f in TEXTS {
                let values =
                    if f == "min_spend" { vec![g.min_spend.clone()] } else { split(g.text(f), &ANY_SEPARATORS) };
                for v in values.into_iter().filter(|v| !v.is_empty()) {
                    take(format!("g{n}_{f}"), parse_text(f, &v));
                }
            }
            if !any.is_empty() {
                parts.push(Part { field: format!("g{n}"), alternatives, condition: Condition::Any(any) });
            }
        }
        let seg = Segment::new(parts.iter().map(|p| p.condition.clone()).collect());
        if let Err(more) = seg.validate() {
            for f in more.0 {
                e.add(&field_of(&parts, &f.field), f.issue);
            }
        }
        e.into_result(|| seg)
    }

    /// The values for the template: the AND fields, the groups that hold
    /// something with their tick boxes, and one blank group to add (while
    /// there is room).
    pub(super) fn values(&self, lang: Lang) -> Value {
        let mut groups: Vec<Value> =
            self.groups.iter().enumerate().map(|(i, g)| group_ctx(i + 1, g, lang, false)).collect();
        if self.groups.len() < MAX_GROUPS {
            groups.push(group_ctx(self.groups.len() + 1, &AnyGroup::default(), lang, true));
        }
        context! {
            tier => self.tier, activity => self.activity, rfm_segment => self.rfm_segment, signal => self.signal,
            at_risk => self.at_risk, tag => self.tag, industry => self.industry, region => self.region,
            stage => self.stage, min_spend => self.min_spend, groups => groups,
        }
    }
}

/// The group form of an `any` condition.
fn group_of(xs: &[Condition]) -> Option<AnyGroup> {
    let mut g = AnyGroup::default();
    let mut texts: [Vec<&str>; 3] = Default::default();
    for x in xs {
        match x {
            Condition::Tier(t) => g.tier.push(t.code().into()),
            Condition::Activity(a) => g.activity.push(a.code().into()),
            Condition::RfmSegment(r) => g.rfm_segment.push(r.code().into()),
            Condition::HasSignal(k) => g.signal.push(k.code().into()),
            Condition::Stage(s) => g.stage.push(s.code().into()),
            Condition::AtRisk => g.at_risk = true,
            Condition::HasTag(t) if !t.contains(ANY_SEPARATORS) => texts[0].push(t),
            Condition::Industry(i) if !i.contains(ANY_SEPARATORS) => texts[1].push(i),
            Condition::Region(r) if !r.contains(ANY_SEPARATORS) => texts[2].push(r),
            Condition::MinSpend(m) if g.min_spend.is_empty() => g.min_spend = yuan(*m),
            _ => return None,
        }
    }
    [g.tag, g.industry, g.region] = texts.map(|t| t.join("、"));
    Some(g)
}

/// The form field of an error of the segment's own validation.
fn field_of(parts: &[Part], path: &str) -> String {
    let index = |s: &str| s.split(']').next().and_then(|i| i.parse::<usize>().ok());
    let Some(rest) = path.strip_prefix("all[") else { return "all".into() };
    let Some(part) = index(rest).and_then(|i| parts.get(i)) else { return "all".into() };
    match rest.split_once(".any[").and_then(|(_, j)| index(j)) {
        Some(j) => part.alternatives.get(j).cloned().unwrap_or_else(|| part.field.clone()),
        None => part.field.clone(),
    }
}

fn choice_label(field: &str, lang: Lang) -> &'static str {
    match field {
        "tier" => lang.pick("价值分层", "Value tier"),
        "activity" => lang.pick("活跃度", "Activity"),
        "rfm_segment" => lang.pick("RFM 分群", "RFM segment"),
        "signal" => lang.pick("流失信号", "Churn signal"),
        _ => lang.pick("生命周期", "Lifecycle stage"),
    }
}

fn choice_options(field: &str, lang: Lang) -> Vec<(&'static str, &'static str)> {
    fn all<T: Copy>(
        xs: &[T],
        code: fn(T) -> &'static str,
        label: fn(T, Lang) -> &'static str,
        lang: Lang,
    ) -> Vec<(&'static str, &'static str)> {
        xs.iter().map(|x| (code(*x), label(*x, lang))).collect()
    }
    match field {
        "tier" => all(ValueTier::ALL, ValueTier::code, ValueTier::label, lang),
        "activity" => all(Activity::ALL, Activity::code, Activity::label, lang),
        "rfm_segment" => all(RfmSegment::ALL, RfmSegment::code, RfmSegment::label, lang),
        "signal" => all(SignalKind::ALL, SignalKind::code, SignalKind::label, lang),
        _ => all(LifecycleStage::ALL, LifecycleStage::code, LifecycleStage::label, lang),
    }
}

fn group_ctx(n: usize, g: &AnyGroup, lang: Lang, blank: bool) -> Value {
    let choices: Vec<Value> = CHOICES
        .iter()
        .map(|f| {
            let options: Vec<Value> = choice_options(f, lang)
                .into_iter()
                .map(|(value, label)| context! { value, label, checked => g.choice(f).iter().any(|v| v == value) })
                .collect();
            context! { field => format!("g{n}_{f}"), label => choice_label(f, lang), options }
        })
        .collect();
    context! {
        n, blank, choices,
        at_risk => g.at_risk, tag => g.tag, industry => g.industry, region => g.region, min_spend => g.min_spend,
    }
}

/// The label of a condition field, for the error summary.
pub(super) fn field_label(field: &str, lang: Lang) -> String {
    let base = |f: &str| -> &'static str {
        match f {
            "tier" => lang.pick("价值分层", "Value tier"),
            "activity" => lang.pick("活跃度", "Activity"),
            "rfm_segment" => lang.pick("RFM 分群", "RFM segment"),
            "signal" => lang.pick("流失信号", "Churn signal"),
            "at_risk" => lang.pick("流失预警", "At risk"),
            "tag" => lang.pick("标签", "Tag"),
            "industry" => lang.pick("行业", "Industry"),
            "region" => lang.pick("地区", "Region"),
            "stage" => lang.pick("生命周期阶段", "Lifecycle stage"),
            "min_spend" => lang.pick("近12个月消费不低于（元）", "Spend in 12 months at least (yuan)"),
            _ => lang.pick("条件", "Conditions"),
        }
    };
    let group = field.strip_prefix('g').and_then(|r| r.split_once('_')).filter(|(n, _)| n.parse::<usize>().is_ok());
    match group {
        Some((n, f)) => match lang {
            Lang::Zh => format!("条件组{n} · {}", base(f)),
            Lang::En => format!("Group {n} · {}", base(f)),
        },
        None => base(field).to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> ConditionForm {
        let owned: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        ConditionForm::from_pairs(&owned)
    }

    #[test]
    fn fields_become_conditions_in_form_order() {
        let f = form(&[("min_spend", "50000"), ("tier", "high"), ("at_risk", "1"), ("region", " 广东 ")]);
        let seg = f.segment().unwrap();
        assert_eq!(
            seg.all,
            vec![
                Condition::Tier(ValueTier::High),
                Condition::AtRisk,
                Condition::Region("广东".into()),
                Condition::MinSpend(Money::from_fen(5_000_000)),
            ]
        );
        assert_eq!(ConditionForm::from_segment(&seg).unwrap().query(), f.query());
        assert_eq!(f.query(), "tier=high&region=%E5%B9%BF%E4%B8%9C&min_spend=50000&at_risk=1");
        let grouped = form(&[("min_spend", "¥50,000.00")]).segment().unwrap();
        assert_eq!(grouped.all, vec![Condition::MinSpend(Money::from_fen(5_000_000))]);
        assert!(form(&[]).segment().unwrap().all.is_empty());
    }

    #[test]
    fn combined_tags_and_any_groups() {
        // 高价值+活跃+偏好新品, and (silent or dormant or at risk), and
        // (manufacturing or medical).
        let f = form(&[
            ("tag", "高价值+活跃＋偏好新品"),
            ("g2_activity", "silent"),
            ("g2_activity", "dormant"),
            ("g2_at_risk", "1"),
            ("g3_industry", "制造业、医疗"),
        ]);
        let seg = f.segment().unwrap();
        let has = |t: &str| Condition::HasTag(t.into());
        assert_eq!(
            seg.all,
            vec![
                has("高价值"),
                has("活跃"),
                has("偏好新品"),
                Condition::Any(vec![
                    Condition::Activity(Activity::Silent),
                    Condition::Activity(Activity::Dormant),
                    Condition::AtRisk
                ]),
                Condition::Any(vec![Condition::Industry("制造业".into()), Condition::Industry("医疗".into())]),
            ]
        );
        // Renumbered from 1, and back from the segment unchanged.
        let q = f.query();
        assert!(q.contains("g1_activity=silent&g1_activity=dormant&g1_at_risk=1&g2_industry="), "{q}");
        let back = ConditionForm::from_segment(&seg).unwrap();
        assert_eq!(back.query(), q.replace("%EF%BC%8B", "%2B"), "the full-width ＋ reads as +");
        assert_eq!(back.segment().unwrap(), seg);
        assert_eq!(back.tag, "高价值+活跃+偏好新品");
        // What the form cannot show.
        let nested = Segment::new(vec![Condition::Any(vec![Condition::Any(vec![Condition::AtRisk])])]);
        assert!(ConditionForm::from_segment(&nested).is_none());
        let four = Segment::new(vec![Condition::Any(vec![Condition::AtRisk]); 4]);
        assert!(ConditionForm::from_segment(&four).is_none());
        let two = Segment::new(vec![Condition::Tier(ValueTier::High), Condition::Tier(ValueTier::Potential)]);
        assert!(ConditionForm::from_segment(&two).is_none());
    }

    #[test]
    fn errors_name_the_field() {
        let e = form(&[("tier", "gold"), ("min_spend", "abc"), ("tag", "a,b"), ("industry", &"长".repeat(51))])
            .segment()
            .unwrap_err();
        // "a,b" is two tags for the AND field: both fine.
        assert_eq!(e.fields(), vec!["tier", "industry", "min_spend"]);
        assert_eq!(e.get("min_spend"), Some(&Issue::InvalidAmount));
        assert_eq!(e.get("industry"), Some(&Issue::TooLong { max: 50 }));
        let e = form(&[("g1_tier", "gold"), ("g1_min_spend", "-5"), ("g2_tag", "<b>")]).segment().unwrap_err();
        let mut fields = e.fields();
        fields.sort_unstable();
        assert_eq!(fields, vec!["g1_min_spend", "g1_tier", "g2_tag"]);
        assert_eq!(field_label("g2_tag", Lang::Zh), "条件组2 · 标签");
        assert_eq!(field_label("min_spend", Lang::En), "Spend in 12 months at least (yuan)");
    }

    #[test]
    fn amounts_show_as_typed_yuan() {
        assert_eq!(yuan(Money::from_fen(5_000_000)), "50000");
        assert_eq!(yuan(Money::from_fen(123_450)), "1234.5");
        assert_eq!(yuan(Money::from_fen(123_456)), "1234.56");
    }
}
