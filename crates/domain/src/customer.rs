//! The customer record (SPEC C1): its code, its closed vocabularies, the
//! parse of a create/edit input into a valid [`CustomerDraft`], and the
//! facts that follow from it (cooperation length, anniversary, review due).

use jiff::civil::Date;
use jiff::{Span, ToSpan};
use serde::{Deserialize, Serialize};

use crate::Lang;
use crate::contact::{Email, PhoneNumber};
use crate::validation::{self, Issue, ValidationErrors};

/// `KH` followed by at least six digits, e.g. `KH000123`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct CustomerCode(String);

impl CustomerCode {
    pub fn from_sequence(n: i64) -> Self {
        Self(format!("KH{n:06}"))
    }

    pub fn parse(raw: &str) -> Result<Self, Issue> {
        let s = raw.trim().to_ascii_uppercase();
        match s.strip_prefix("KH") {
            Some(d) if d.len() >= 6 && d.chars().all(|c| c.is_ascii_digit()) => Ok(Self(s)),
            _ => Err(Issue::NotAllowed),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Declares a closed vocabulary: each value has a stable code (stored and
/// sent over the API) and a Chinese and English label.
macro_rules! vocabulary {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $code:literal, $zh:literal, $en:literal;)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            pub fn parse(raw: &str) -> Result<Self, Issue> {
                match raw.trim() { $($code => Ok($name::$variant),)+ _ => Err(Issue::NotAllowed) }
            }

            pub fn label(self, lang: $crate::Lang) -> &'static str {
                match self { $($name::$variant => lang.pick($zh, $en)),+ }
            }
        }
    };
}
pub(crate) use vocabulary;

vocabulary!(
    /// Enterprise or individual customer.
    CustomerKind {
        Enterprise = "enterprise", "企业客户", "Enterprise";
        Individual = "individual", "个人客户", "Individual";
    }
);

vocabulary!(
    /// Company size.
    Scale {
        Micro = "micro", "微型（<10人）", "Micro (<10)";
        Small = "small", "小型（10–99人）", "Small (10–99)";
        Medium = "medium", "中型（100–999人）", "Medium (100–999)";
        Large = "large", "大型（1000人以上）", "Large (1000+)";
    }
);

vocabulary!(
    /// Lifecycle stage (客户生命周期).
    LifecycleStage {
        Prospect = "prospect", "潜在客户", "Prospect";
        New = "new", "新客户", "New";
        Growing = "growing", "成长期", "Growing";
        Mature = "mature", "成熟期", "Mature";
        Churned = "churned", "已流失", "Churned";
    }
);

vocabulary!(
    /// Communication channel (SPEC C5).
    Channel {
        Phone = "phone", "电话", "Phone";
        Wechat = "wechat", "微信", "WeChat";
        Wecom = "wecom", "企业微信", "WeCom";
        Email = "email", "邮件", "Email";
        Sms = "sms", "短信", "SMS";
        OnlineChat = "online_chat", "在线客服", "Online chat";
        Visit = "visit", "线下拜访", "On-site visit";
    }
);

/// Industries offered in forms; the field itself accepts any short text.
pub const INDUSTRIES: &[(&str, &str)] = &[
    ("电子商务", "E-commerce"),
    ("金融", "Finance"),
    ("制造业", "Manufacturing"),
    ("软件与信息服务", "Software & IT"),
    ("零售", "Retail"),
    ("教育", "Education"),
    ("医疗健康", "Healthcare"),
    ("物流", "Logistics"),
    ("餐饮", "Food & beverage"),
    ("房地产", "Real estate"),
];

/// A tag (标签): 1–20 characters, no separators.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Tag(String);

impl Tag {
    pub const MAX_LEN: usize = 20;

    pub fn parse(raw: &str) -> Result<Self, Issue> {
        let t = validation::required_text(raw, Self::MAX_LEN)?;
        if t.contains([',', '，', ';', '；', '<', '>', '"']) {
            return Err(Issue::InvalidCharacters);
        }
        Ok(Self(t))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Raw customer input, as it arrives from a form or the API. Every field is
/// text (or absent) so that all problems can be reported together.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct CustomerInput {
    /// Customer name (客户名称), 1–100 characters. Required.
    pub name: String,
    /// `enterprise` (default) or `individual`.
    pub kind: Option<String>,
    /// 所属行业, up to 50 characters.
    pub industry: Option<String>,
    /// `micro`, `small`, `medium` or `large`.
    pub scale: Option<String>,
    /// 地区, up to 50 characters.
    pub region: Option<String>,
    /// 决策链备注, up to 2000 characters.
    pub decision_chain: Option<String>,
    /// 联系电话: an 11-digit mobile, a landline with area code or a 400/800 number.
    pub phone: Option<String>,
    /// 联系邮箱.
    pub email: Option<String>,
    /// The owning user (专属客服/顾问).
    pub owner_id: Option<i64>,
    /// 合作开始, `YYYY-MM-DD`, not after today.
    pub cooperation_start: Option<String>,
    /// 首次购买, `YYYY-MM-DD`, not after today.
    pub first_purchase_on: Option<String>,
    /// 最近合作时间, `YYYY-MM-DD`, not after today nor before the cooperation start.
    pub last_cooperation_on: Option<String>,
    /// Preferred channel: `phone`, `wechat`, `wecom`, `email`, `sms`, `online_chat`, `visit`.
    pub preferred_channel: Option<String>,
    /// 偏好联系时段, free text up to 100 characters (e.g. "工作日20:00后").
    pub contact_window: Option<String>,
    /// 营销授权.
    pub marketing_consent: Option<bool>,
    /// 备注, up to 2000 characters.
    pub notes: Option<String>,
    /// Lifecycle stage: `prospect`, `new` (default), `growing`, `mature`, `churned`.
    pub stage: Option<String>,
    /// 合同到期, `YYYY-MM-DD`.
    pub contract_end: Option<String>,
    /// 续约日期, `YYYY-MM-DD`.
    pub renewal_date: Option<String>,
    /// 资料核实日期, `YYYY-MM-DD`, not after today.
    pub verified_on: Option<String>,
    /// Up to 20 tags of 1–20 characters.
    pub tags: Option<Vec<String>>,
    /// The id in the company's own system, for idempotent imports.
    pub external_id: Option<String>,
}

/// A customer input that has passed every rule.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerDraft {
    pub name: String,
    pub kind: CustomerKind,
    pub industry: Option<String>,
    pub scale: Option<Scale>,
    pub region: Option<String>,
    pub decision_chain: Option<String>,
    pub phone: Option<PhoneNumber>,
    pub email: Option<Email>,
    pub owner_id: Option<i64>,
    pub cooperation_start: Option<Date>,
    pub first_purchase_on: Option<Date>,
    pub last_cooperation_on: Option<Date>,
    pub preferred_channel: Option<Channel>,
    pub contact_window: Option<String>,
    pub marketing_consent: bool,
    pub notes: Option<String>,
    pub stage: LifecycleStage,
    pub contract_end: Option<Date>,
    pub renewal_date: Option<Date>,
    pub verified_on: Option<Date>,
    pub tags: Vec<Tag>,
    pub external_id: Option<String>,
}

pub const MAX_TAGS: usize = 20;

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A calendar date between 1900 and 2100.
pub fn parse_date(raw: &str) -> Result<Date, Issue> {
    let d: Date = raw.trim().parse().map_err(|_| Issue::InvalidDate)?;
    if d.year() < 1900 || d.year() > 2100 {
        return Err(Issue::OutOfRange);
    }
    Ok(d)
}

fn past_date(raw: &str, today: Date) -> Result<Date, Issue> {
    let d = parse_date(raw)?;
    if d > today { Err(Issue::InFuture) } else { Ok(d) }
}

impl CustomerDraft {
    /// Checks every field; `today` is the business date, for "not after today".
    pub fn parse(input: &CustomerInput, today: Date) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::new();
        let name = e.check("name", validation::required_text(&input.name, 100));
        let kind = match non_empty(&input.kind) {
            None => Some(CustomerKind::Enterprise),
            Some(k) => e.check("kind", CustomerKind::parse(k)),
        };
        let industry = e.check("industry", validation::optional_text(input.industry.as_deref(), 50, false));
        let scale = match non_empty(&input.scale) {
            None => Some(None),
            Some(s) => e.check("scale", Scale::parse(s).map(Some)),
        };
        let region = e.check("region", validation::optional_text(input.region.as_deref(), 50, false));
        let decision_chain =
            e.check("decision_chain", validation::optional_text(input.decision_chain.as_deref(), 2000, true));
        let phone = match non_empty(&input.phone) {
            None => Some(None),
            Some(p) => e.check("phone", PhoneNumber::parse(p).map(Some)),
        };
        let email = match non_empty(&input.email) {
            None => Some(None),
            Some(p) => e.check("email", Email::parse(p).map(Some)),
        };
        let owner_id = match input.owner_id {
            Some(id) if id <= 0 => {
                e.add("owner_id", Issue::Unknown);
                None
            }
            other => Some(other),
        };
        let mut past = |field: &str, v: &Option<String>| match non_empty(v) {
            None => Some(None),
            Some(s) => e.check(field, past_date(s, today).map(Some)),
        };
        let cooperation_start = past("cooperation_start", &input.cooperation_start);
        let first_purchase_on = past("first_purchase_on", &input.first_purchase_on);
        let last_cooperation_on = past("last_cooperation_on", &input.last_cooperation_on);
        let verified_on = past("verified_on", &input.verified_on);
        if let (Some(Some(start)), Some(Some(last))) = (cooperation_start, last_cooperation_on)
            && last < start
        {
            e.add("last_cooperation_on", Issue::OutOfRange);
        }
        let mut any = |field: &str, v: &Option<String>| match non_empty(v) {
            None => Some(None),
            Some(s) => e.check(field, parse_date(s).map(Some)),
        };
        let contract_end = any("contract_end", &input.contract_end);
        let renewal_date = any("renewal_date", &input.renewal_date);
        let preferred_channel = match non_empty(&input.preferred_channel) {
            None => Some(None),
            Some(c) => e.check("preferred_channel", Channel::parse(c).map(Some)),
        };
        let contact_window =
            e.check("contact_window", validation::optional_text(input.contact_window.as_deref(), 100, false));
        let notes = e.check("notes", validation::optional_text(input.notes.as_deref(), 2000, true));
        let stage = match non_empty(&input.stage) {
            None => Some(LifecycleStage::New),
            Some(s) => e.check("stage", LifecycleStage::parse(s)),
        };
        let tags = parse_tags(input.tags.as_deref().unwrap_or(&[]), &mut e);
        let external_id = e.check("external_id", validation::optional_text(input.external_id.as_deref(), 64, false));

        match (
            name,
            kind,
            industry,
            scale,
            region,
            decision_chain,
            phone,
            email,
            owner_id,
            cooperation_start,
            first_purchase_on,
            last_cooperation_on,
            preferred_channel,
            contact_window,
            notes,
            stage,
            contract_end,
            renewal_date,
            verified_on,
            tags,
            external_id,
        ) {
            (
                Some(name),
                Some(kind),
                Some(industry),
                Some(scale),
                Some(region),
                Some(decision_chain),
                Some(phone),
                Some(email),
                Some(owner_id),
                Some(cooperation_start),
                Some(first_purchase_on),
                Some(last_cooperation_on),
                Some(preferred_channel),
                Some(contact_window),
                Some(notes),
                Some(stage),
                Some(contract_end),
                Some(renewal_date),
                Some(verified_on),
                Some(tags),
                Some(external_id),
            ) if e.is_empty() => Ok(CustomerDraft {
                name,
                kind,
                industry,
                scale,
                region,
                decision_chain,
                phone,
                email,
                owner_id,
                cooperation_start,
                first_purchase_on,
                last_cooperation_on,
                preferred_channel,
                contact_window,
                marketing_consent: input.marketing_consent.unwrap_or(false),
                notes,
                stage,
                contract_end,
                renewal_date,
                verified_on,
                tags,
                external_id,
            }),
            _ => Err(e),
        }
    }
}

impl CustomerDraft {
    /// The names of the fields that differ between two drafts, in form
    /// order: what an edit or an import changed (for the audit log and the
    /// timeline; personal fields by name only).
    pub fn changed_fields(&self, other: &CustomerDraft) -> Vec<&'static str> {
        let mut v = Vec::new();
        macro_rules! cmp {
            ($($x:ident),*) => { $( if self.$x != other.$x { v.push(stringify!($x)); } )* };
        }
        cmp!(
            name,
            kind,
            industry,
            scale,
            region,
            decision_chain,
            phone,
            email,
            owner_id,
            cooperation_start,
            first_purchase_on,
            last_cooperation_on,
            preferred_channel,
            contact_window,
            marketing_consent,
            notes,
            stage,
            contract_end,
            renewal_date,
            verified_on,
            tags,
            external_id
        );
        v
    }
}

/// Tags, de-duplicated and sorted; at most [`MAX_TAGS`].
fn parse_tags(raw: &[String], e: &mut ValidationErrors) -> Option<Vec<Tag>> {
    let mut tags = Vec::new();
    let mut ok = true;
    for t in raw.iter().filter(|t| !t.trim().is_empty()) {
        match Tag::parse(t) {
            Ok(t) => tags.push(t),
            Err(issue) => {
                if ok {
                    e.add("tags", issue);
                }
                ok = false;
            }
        }
    }
    tags.sort();
    tags.dedup();
    if tags.len() > MAX_TAGS {
        e.add("tags", Issue::TooMany { max: MAX_TAGS });
        ok = false;
    }
    ok.then_some(tags)
}

/// Splits a form's tag field ("高价值, 活跃，偏好新品") into tags.
pub fn split_tags(raw: &str) -> Vec<String> {
    raw.split([',', '，', ';', '；']).map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

/// Whole months of cooperation (合作时长) from the start to today.
pub fn cooperation_months(start: Date, today: Date) -> i32 {
    if today <= start {
        return 0;
    }
    let mut months = (i32::from(today.year()) - i32::from(start.year())) * 12
        + (i32::from(today.month()) - i32::from(start.month()));
    if today.day() < start.day() {
        months -= 1;
    }
    months.max(0)
}

/// 合作时长 in words: "2年3个月" / "2 years 3 months".
pub fn cooperation_length_text(months: i32, lang: Lang) -> String {
    let (y, m) = (months / 12, months % 12);
    match lang {
        Lang::Zh => match (y, m) {
            (0, m) => format!("{m}个月"),
            (y, 0) => format!("{y}年"),
            (y, m) => format!("{y}年{m}个月"),
        },
        Lang::En => {
            let plural = |n: i32, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
            match (y, m) {
                (0, m) => plural(m, "month"),
                (y, 0) => plural(y, "year"),
                (y, m) => format!("{} {}", plural(y, "year"), plural(m, "month")),
            }
        }
    }
}

/// The next cooperation anniversary on or after `today` (a 29 February start
/// is celebrated on 28 February in other years).
pub fn next_anniversary(start: Date, today: Date) -> Date {
    let on = |year: i16| {
        Date::new(year, start.month(), start.day()).or_else(|_| Date::new(year, start.month(), 28)).unwrap_or(start)
    };
    let this_year = on(today.year());
    if this_year >= today && this_year > start { this_year } else { on(today.year().saturating_add(1)) }
}

/// A profile is due for review (定期复盘) when it was never verified or was
/// verified more than `months` ago.
pub fn needs_review(verified_on: Option<Date>, today: Date, months: i32) -> bool {
    let span: Span = months.months();
    match (verified_on, today.checked_sub(span)) {
        (None, _) => true,
        (Some(v), Ok(cutoff)) => v < cutoff,
        (Some(_), Err(_)) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    fn today() -> Date {
        date(2026, 11, 23)
    }

    #[test]
    fn code_format() {
        assert_eq!(CustomerCode::from_sequence(123).as_str(), "KH000123");
        assert_eq!(CustomerCode::from_sequence(1_234_567).as_str(), "KH1234567");
        assert!(CustomerCode::parse("kh000001").is_ok());
        assert!(CustomerCode::parse("KH12345").is_err());
        assert!(CustomerCode::parse("AB000001").is_err());
    }

    #[test]
    fn minimal_input_gets_defaults() {
        let d = CustomerDraft::parse(&CustomerInput { name: " 北京星辰科技 ".into(), ..Default::default() }, today())
            .unwrap();
        assert_eq!(d.name, "北京星辰科技");
        assert_eq!(d.kind, CustomerKind::Enterprise);
        assert_eq!(d.stage, LifecycleStage::New);
        assert!(!d.marketing_consent);
    }

    #[test]
    fn every_bad_field_is_reported() {
        let input = CustomerInput {
            name: "".into(),
            kind: Some("alien".into()),
            scale: Some("huge".into()),
            phone: Some("12345".into()),
            email: Some("not-an-email".into()),
            owner_id: Some(0),
            cooperation_start: Some("2030-01-01".into()),
            first_purchase_on: Some("2026-13-01".into()),
            preferred_channel: Some("pigeon".into()),
            stage: Some("zombie".into()),
            contract_end: Some("3000-01-01".into()),
            tags: Some(vec!["a,b".into()]),
            region: Some("x".repeat(51)),
            ..Default::default()
        };
        let e = CustomerDraft::parse(&input, today()).unwrap_err();
        assert_eq!(
            e.fields(),
            vec![
                "name",
                "kind",
                "scale",
                "region",
                "phone",
                "email",
                "owner_id",
                "cooperation_start",
                "first_purchase_on",
                "contract_end",
                "preferred_channel",
                "stage",
                "tags"
            ]
        );
        assert_eq!(e.get("phone"), Some(&Issue::InvalidPhone));
        assert_eq!(e.get("cooperation_start"), Some(&Issue::InFuture));
    }

    #[test]
    fn last_cooperation_cannot_precede_start() {
        let input = CustomerInput {
            name: "甲".into(),
            cooperation_start: Some("2024-05-01".into()),
            last_cooperation_on: Some("2024-04-30".into()),
            ..Default::default()
        };
        let e = CustomerDraft::parse(&input, today()).unwrap_err();
        assert_eq!(e.get("last_cooperation_on"), Some(&Issue::OutOfRange));
    }

    #[test]
    fn tags_are_deduplicated_and_limited() {
        let input = CustomerInput {
            name: "甲".into(),
            tags: Some(vec!["活跃".into(), "高价值".into(), "活跃".into(), " ".into()]),
            ..Default::default()
        };
        let d = CustomerDraft::parse(&input, today()).unwrap();
        assert_eq!(d.tags.len(), 2);
        let many = CustomerInput {
            name: "甲".into(),
            tags: Some((0..21).map(|i| format!("t{i}")).collect()),
            ..Default::default()
        };
        let e = CustomerDraft::parse(&many, today()).unwrap_err();
        assert_eq!(e.get("tags"), Some(&Issue::TooMany { max: 20 }));
    }

    #[test]
    fn changed_fields_names_what_differs() {
        let a = CustomerDraft::parse(
            &CustomerInput { name: "甲".into(), phone: Some("13812345678".into()), ..Default::default() },
            today(),
        )
        .unwrap();
        assert!(a.changed_fields(&a).is_empty());
        // Same mask (138****5678), different number: still a change.
        let b = CustomerDraft::parse(
            &CustomerInput { name: "乙".into(), phone: Some("13811115678".into()), ..Default::default() },
            today(),
        )
        .unwrap();
        assert_eq!(a.changed_fields(&b), vec!["name", "phone"]);
    }

    #[test]
    fn split_tags_accepts_chinese_commas() {
        assert_eq!(split_tags("高价值, 活跃，偏好新品；"), vec!["高价值", "活跃", "偏好新品"]);
    }

    #[test]
    fn cooperation_length() {
        assert_eq!(cooperation_months(date(2024, 8, 23), today()), 27);
        assert_eq!(cooperation_months(date(2024, 8, 24), today()), 26);
        assert_eq!(cooperation_months(date(2027, 1, 1), today()), 0);
        assert_eq!(cooperation_length_text(27, Lang::Zh), "2年3个月");
        assert_eq!(cooperation_length_text(12, Lang::En), "1 year");
        assert_eq!(cooperation_length_text(1, Lang::En), "1 month");
    }

    #[test]
    fn anniversary() {
        assert_eq!(next_anniversary(date(2020, 12, 1), today()), date(2026, 12, 1));
        assert_eq!(next_anniversary(date(2020, 11, 23), today()), date(2026, 11, 23));
        assert_eq!(next_anniversary(date(2020, 1, 5), today()), date(2027, 1, 5));
        assert_eq!(next_anniversary(date(2024, 2, 29), date(2025, 1, 1)), date(2025, 2, 28));
        assert_eq!(next_anniversary(date(2026, 11, 23), today()), date(2027, 11, 23));
    }

    #[test]
    fn review_due() {
        assert!(needs_review(None, today(), 12));
        assert!(!needs_review(Some(date(2025, 11, 23)), today(), 12));
        assert!(needs_review(Some(date(2025, 11, 22)), today(), 12));
    }

    proptest! {
        #[test]
        fn cooperation_months_never_negative_and_monotone(
            y in 1990i16..2026, m in 1i8..=12, d in 1i8..=28, extra in 0i32..4000
        ) {
            let start = date(y, m, d);
            let a = start.checked_add(extra.days()).unwrap();
            let b = a.checked_add(1.days()).unwrap();
            let ma = cooperation_months(start, a);
            prop_assert!(ma >= 0);
            prop_assert!(cooperation_months(start, b) >= ma);
        }

        #[test]
        fn anniversary_is_never_before_today(y in 1990i16..2026, m in 1i8..=12, d in 1i8..=28, t in 0i32..3000) {
            let start = date(y, m, d);
            let today = start.checked_add(t.days()).unwrap();
            let a = next_anniversary(start, today);
            prop_assert!(a >= today);
            prop_assert!(a > start);
            prop_assert_eq!((a.month(), a.day()), (m, d));
        }
    }
}
