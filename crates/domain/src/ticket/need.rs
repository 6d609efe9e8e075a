//! The need record of a `need` ticket (SPEC T1, 需求-响应-反馈 closed loop;
//! R3's needs report): which department (product, R&D, sales — a group)
//! the need is routed to, where it stands, what version or date it is
//! planned for, and when the customer was told the outcome.
//!
//! Status flow: 已提交 → 评估中 → 已采纳 / 已排期 → 已上线, or 未采纳 (with a
//! reason) from any open status. [`transition`] says where a change leads or
//! why it is refused, before anything is written; [`parse_update`] reads the
//! form or API body with field-named errors; [`may_close`] keeps a need
//! ticket open until the customer was told; [`report`] computes the needs
//! report's numbers from the records.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::Lang;
use crate::customer::vocabulary;
use crate::ticket::Category;
use crate::validation::{self, Issue, ValidationErrors};

vocabulary!(
    /// Where a need stands.
    NeedStatus {
        Submitted = "submitted", "已提交", "Submitted";
        Evaluating = "evaluating", "评估中", "Evaluating";
        Accepted = "accepted", "已采纳", "Accepted";
        Planned = "planned", "已排期", "Planned";
        Delivered = "delivered", "已上线", "Delivered";
        Declined = "declined", "未采纳", "Declined";
    }
);

impl NeedStatus {
    /// Delivered or declined: the customer must now be told.
    pub fn is_outcome(self) -> bool {
        matches!(self, NeedStatus::Delivered | NeedStatus::Declined)
    }
}

/// Whether the need may move from one status to another.
pub fn allowed(from: NeedStatus, to: NeedStatus) -> bool {
    use NeedStatus::*;
    matches!(
        (from, to),
        (Submitted, Evaluating)
            | (Submitted | Evaluating, Accepted | Planned)
            | (Accepted, Planned)
            | (Accepted | Planned, Delivered)
            | (Submitted | Evaluating | Accepted | Planned, Declined)
    )
}

/// Why a status change was refused (HTTP 409). Nothing is changed when it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NeedTransitionError {
    #[error("a need that is {} cannot become {}", .from.code(), .to.code())]
    NotFrom { from: NeedStatus, to: NeedStatus },
}

impl NeedTransitionError {
    pub fn code(&self) -> &'static str {
        "need_transition_not_allowed"
    }

    pub fn message(&self, lang: Lang) -> String {
        let NeedTransitionError::NotFrom { from, to } = self;
        let possible: Vec<&str> =
            NeedStatus::ALL.iter().filter(|s| allowed(*from, **s)).map(|s| s.label(lang)).collect();
        let possible = if possible.is_empty() {
            lang.pick("无", "none").to_string()
        } else {
            possible.join(lang.pick("、", ", "))
        };
        match lang {
            Lang::Zh => {
                format!("需求当前为「{}」，不能改为「{}」（可改为：{possible}）", from.label(lang), to.label(lang))
            }
            Lang::En => format!(
                "The need is {}; it cannot become {} (possible: {possible})",
                from.label(lang).to_lowercase(),
                to.label(lang).to_lowercase()
            ),
        }
    }
}

/// The status a change leads to, or why it is refused.
pub fn transition(from: NeedStatus, to: NeedStatus) -> Result<NeedStatus, NeedTransitionError> {
    if allowed(from, to) { Ok(to) } else { Err(NeedTransitionError::NotFrom { from, to }) }
}

/// Longest planned version text.
pub const VERSION_MAX: usize = 40;
/// Longest reason for declining.
pub const REASON_MAX: usize = 500;

/// The raw fields of a need update (form or JSON); all optional strings.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct NeedUpdateInput {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub department_id: Option<String>,
    #[serde(default)]
    pub planned_version: Option<String>,
    #[serde(default)]
    pub planned_date: Option<String>,
    #[serde(default)]
    pub decline_reason: Option<String>,
}

/// A need update that passed the field checks (the transition itself is
/// checked against the stored status with [`transition`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeedUpdate {
    pub status: NeedStatus,
    /// The target department (a group id); must be checked to exist.
    pub department_id: Option<i64>,
    pub planned_version: Option<String>,
    pub planned_date: Option<Date>,
    pub decline_reason: Option<String>,
}

/// Reads a need update, collecting every field problem: the status is
/// required; a department id must be a positive number; planned needs a
/// version or a date; declined needs a reason.
pub fn parse_update(input: &NeedUpdateInput) -> Result<NeedUpdate, ValidationErrors> {
    let mut e = ValidationErrors::new();
    let status = match input.status.as_deref().map(str::trim) {
        None | Some("") => {
            e.add("status", Issue::Required);
            None
        }
        Some(raw) => e.check("status", NeedStatus::parse(raw)),
    };
    let department_id = match input.department_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => match raw.parse::<i64>() {
            Ok(id) if id > 0 => Some(id),
            _ => {
                e.add("department_id", Issue::Unknown);
                None
            }
        },
    };
    let planned_version =
        e.check("planned_version", validation::optional_text(input.planned_version.as_deref(), VERSION_MAX, false));
    let planned_date = match input.planned_date.as_deref().map(str::trim) {
        None | Some("") => Some(None),
        Some(raw) => e.check("planned_date", raw.parse::<Date>().map(Some).map_err(|_| Issue::InvalidDate)),
    };
    let decline_reason =
        e.check("decline_reason", validation::optional_text(input.decline_reason.as_deref(), REASON_MAX, true));
    if let (Some(NeedStatus::Planned), Some(None), Some(None)) = (status, &planned_version, planned_date) {
        e.add("planned_version", Issue::Required);
    }
    if let (Some(NeedStatus::Declined), Some(None)) = (status, &decline_reason) {
        e.add("decline_reason", Issue::Required);
    }
    let Some(status) = status.filter(|_| e.is_empty()) else {
        return Err(e);
    };
    Ok(NeedUpdate {
        status,
        department_id,
        planned_version: planned_version.flatten(),
        planned_date: planned_date.flatten(),
        decline_reason: decline_reason.flatten(),
    })
}

/// The setting holding the administrators' choice of department per
/// ticket category: a JSON object `{"product": 12, ...}` of group ids.
pub const DEPARTMENTS_SETTING: &str = "need.departments";

/// The department names a new need is routed to by default, by the
/// ticket's category, most fitting first: product needs to product then
/// R&D, service needs to after-sales, communication to sales, logistics to
/// logistics; "other" is left for the agent to route. The first existing
/// group with one of these names is chosen.
pub fn default_departments(category: Category) -> &'static [&'static str] {
    match category {
        Category::Product => &["产品部", "研发部", "技术支持部", "Product", "R&D"],
        Category::Service => &["售后服务部", "售后部", "客户服务部", "After-sales"],
        Category::Communication => &["销售部", "市场部", "Sales"],
        Category::Logistics => &["物流部", "Logistics"],
        Category::Other => &[],
    }
}

/// The outcome as told to the customer (the `outcome` variable of the
/// `need_outcome` message; customers' messages are in Chinese).
pub fn outcome_text(
    status: NeedStatus,
    planned_version: Option<&str>,
    planned_date: Option<Date>,
    decline_reason: Option<&str>,
) -> Option<String> {
    match status {
        NeedStatus::Delivered => {
            let plan = match (planned_version, planned_date) {
                (Some(v), _) => format!("（版本 {v}）"),
                (None, Some(d)) => format!("（{}）", d.strftime("%Y年%-m月%-d日")),
                (None, None) => String::new(),
            };
            Some(format!("已上线{plan}，欢迎使用并继续提出宝贵意见"))
        }
        NeedStatus::Declined => Some(format!(
            "经评估暂不采纳，原因：{}。感谢您的建议，我们会持续关注",
            decline_reason.unwrap_or("暂不符合产品规划")
        )),
        _ => None,
    }
}

/// Why a need ticket may not be closed yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CloseRefused {
    /// The need has no outcome yet (not delivered or declined).
    #[error("the need has no outcome yet")]
    NoOutcome,
    /// The outcome is known but the customer has not been told.
    #[error("the customer has not been told the outcome")]
    CustomerNotTold,
}

impl CloseRefused {
    pub fn code(self) -> &'static str {
        match self {
            CloseRefused::NoOutcome => "need_without_outcome",
            CloseRefused::CustomerNotTold => "need_customer_not_told",
        }
    }

    pub fn message(self, lang: Lang) -> &'static str {
        match self {
            CloseRefused::NoOutcome => lang.pick(
                "需求尚无结果（已上线或未采纳），工单不能归档",
                "The need has no outcome yet (delivered or declined); the ticket cannot be closed",
            ),
            CloseRefused::CustomerNotTold => lang.pick(
                "尚未告知客户需求结果，工单不能归档",
                "The customer has not been told the outcome of the need; the ticket cannot be closed",
            ),
        }
    }
}

/// A need ticket may be closed only once it has an outcome and the
/// customer was told it (the closed loop).
pub fn may_close(status: NeedStatus, customer_told_at: Option<Timestamp>) -> Result<(), CloseRefused> {
    if !status.is_outcome() {
        Err(CloseRefused::NoOutcome)
    } else if customer_told_at.is_none() {
        Err(CloseRefused::CustomerNotTold)
    } else {
        Ok(())
    }
}

/// One need as the report reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeedRow {
    /// The target department's name; `None` when not yet routed.
    pub department: Option<String>,
    pub status: NeedStatus,
    pub submitted_at: Timestamp,
    /// When it became delivered or declined.
    pub outcome_at: Option<Timestamp>,
    pub customer_told_at: Option<Timestamp>,
}

/// One cell group of the needs report: a department or a month.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NeedGroup {
    pub key: String,
    pub total: u32,
    /// Count per status, in [`NeedStatus::ALL`] order.
    pub by_status: Vec<u32>,
    /// Needs with an outcome.
    pub with_outcome: u32,
    /// Of those, the customer was told.
    pub told: u32,
    /// Average days from submission to outcome, over needs with an outcome.
    pub avg_days_to_outcome: Option<f64>,
    /// Median (nearest rank) days from submission to outcome.
    pub median_days_to_outcome: Option<f64>,
    /// Needs taken up: accepted, planned or delivered.
    pub adopted: u32,
    /// Needs decided either way: taken up, or declined.
    pub decided: u32,
}

impl NeedGroup {
    /// Share of needs with an outcome whose customer was told (the closed-loop rate).
    pub fn share_told(&self) -> Option<f64> {
        (self.with_outcome > 0).then(|| f64::from(self.told) / f64::from(self.with_outcome))
    }

    /// Share of decided needs that were taken up (accepted, planned or
    /// delivered, over those and the declined ones): the adoption rate.
    pub fn adoption_rate(&self) -> Option<f64> {
        (self.decided > 0).then(|| f64::from(self.adopted) / f64::from(self.decided))
    }
}

impl NeedStatus {
    /// Taken up: accepted, planned or delivered.
    pub fn is_adopted(self) -> bool {
        matches!(self, NeedStatus::Accepted | NeedStatus::Planned | NeedStatus::Delivered)
    }
}

/// The median (nearest rank) of some values; `None` when there are none.
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = values.len().div_ceil(2);
    values.get(rank - 1).copied()
}

/// The needs report (R3): by department, by month of submission (in the
/// given time zone, `YYYY-MM`), and the total.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NeedsReport {
    pub by_department: Vec<NeedGroup>,
    pub by_month: Vec<NeedGroup>,
    pub total: NeedGroup,
}

fn group(key: String, rows: &[&NeedRow]) -> NeedGroup {
    let mut g = NeedGroup { key, by_status: vec![0; NeedStatus::ALL.len()], ..NeedGroup::default() };
    let mut days = 0.0;
    let mut each = Vec::new();
    for r in rows {
        g.total += 1;
        if r.status.is_adopted() {
            g.adopted += 1;
        }
        if r.status.is_adopted() || r.status == NeedStatus::Declined {
            g.decided += 1;
        }
        if let Some(n) = NeedStatus::ALL.iter().position(|s| *s == r.status).and_then(|i| g.by_status.get_mut(i)) {
            *n += 1;
        }
        if let (true, Some(out)) = (r.status.is_outcome(), r.outcome_at) {
            g.with_outcome += 1;
            let d = out.duration_since(r.submitted_at).as_secs_f64() / SignedDuration::from_hours(24).as_secs_f64();
            days += d;
            each.push(d);
            if r.customer_told_at.is_some() {
                g.told += 1;
            }
        }
    }
    if g.with_outcome > 0 {
        g.avg_days_to_outcome = Some(days / f64::from(g.with_outcome));
    }
    g.median_days_to_outcome = median(&mut each);
    g
}

/// Computes the needs report. Departments are sorted by name with the
/// unrouted ones (`unrouted` label) last; months ascending.
pub fn report(rows: &[NeedRow], tz: &TimeZone, unrouted: &str) -> NeedsReport {
    use std::collections::BTreeMap;
    let mut deps: BTreeMap<(bool, String), Vec<&NeedRow>> = BTreeMap::new();
    let mut months: BTreeMap<String, Vec<&NeedRow>> = BTreeMap::new();
    for r in rows {
        let dep = match &r.department {
            Some(d) => (false, d.clone()),
            None => (true, unrouted.to_string()),
        };
        deps.entry(dep).or_default().push(r);
        let month = r.submitted_at.to_zoned(tz.clone()).strftime("%Y-%m").to_string();
        months.entry(month).or_default().push(r);
    }
    let all: Vec<&NeedRow> = rows.iter().collect();
    NeedsReport {
        by_department: deps.into_iter().map(|((_, k), v)| group(k, &v)).collect(),
        by_month: months.into_iter().map(|(k, v)| group(k, &v)).collect(),
        total: group(String::new(), &all),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(status: &str) -> NeedUpdateInput {
        NeedUpdateInput { status: Some(status.into()), ..NeedUpdateInput::default() }
    }

    #[test]
    fn the_flow_goes_forward_and_refuses_the_rest() {
        use NeedStatus::*;
        assert_eq!(transition(Submitted, Evaluating), Ok(Evaluating));
        assert_eq!(transition(Evaluating, Planned), Ok(Planned));
        assert_eq!(transition(Accepted, Planned), Ok(Planned));
        assert_eq!(transition(Planned, Delivered), Ok(Delivered));
        assert_eq!(transition(Evaluating, Declined), Ok(Declined));
        // Not delivered without being accepted or planned; outcomes are final.
        assert!(transition(Submitted, Delivered).is_err());
        assert!(transition(Delivered, Declined).is_err());
        assert!(transition(Declined, Evaluating).is_err());
        assert!(transition(Evaluating, Evaluating).is_err());
        let e = transition(Delivered, Evaluating).unwrap_err();
        assert!(e.message(Lang::Zh).contains("已上线"), "{}", e.message(Lang::Zh));
        assert!(e.message(Lang::En).contains("possible: none"), "{}", e.message(Lang::En));
        let e = transition(Submitted, Delivered).unwrap_err();
        assert!(e.message(Lang::En).contains("Evaluating"), "{}", e.message(Lang::En));
    }

    #[test]
    fn the_update_names_each_bad_field() {
        let e = parse_update(&NeedUpdateInput::default()).unwrap_err();
        assert_eq!(e.get("status"), Some(&Issue::Required));
        let e = parse_update(&NeedUpdateInput {
            status: Some("shipped".into()),
            department_id: Some("abc".into()),
            planned_date: Some("2026-13-01".into()),
            ..NeedUpdateInput::default()
        })
        .unwrap_err();
        assert_eq!(e.fields(), vec!["status", "department_id", "planned_date"]);
        assert_eq!(e.get("department_id"), Some(&Issue::Unknown));
        // Planned needs a version or a date; declined needs a reason.
        let e = parse_update(&input("planned")).unwrap_err();
        assert_eq!(e.get("planned_version"), Some(&Issue::Required));
        let e = parse_update(&input("declined")).unwrap_err();
        assert_eq!(e.get("decline_reason"), Some(&Issue::Required));
        let ok = parse_update(&NeedUpdateInput {
            status: Some("planned".into()),
            department_id: Some(" 7 ".into()),
            planned_date: Some("2027-03-31".into()),
            ..NeedUpdateInput::default()
        })
        .unwrap();
        assert_eq!(ok.status, NeedStatus::Planned);
        assert_eq!(ok.department_id, Some(7));
        assert_eq!(ok.planned_date, Some(jiff::civil::date(2027, 3, 31)));
        assert_eq!(ok.planned_version, None);
        let long = "x".repeat(VERSION_MAX + 1);
        let e = parse_update(&NeedUpdateInput { planned_version: Some(long), ..input("planned") }).unwrap_err();
        assert_eq!(e.get("planned_version"), Some(&Issue::TooLong { max: VERSION_MAX }));
    }

    #[test]
    fn medians_departments_and_the_outcome_told() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.0));
        assert_eq!(default_departments(Category::Product)[0], "产品部");
        assert!(default_departments(Category::Other).is_empty());
        let t = outcome_text(NeedStatus::Delivered, Some("v2.3"), None, None).unwrap();
        assert!(t.contains("已上线（版本 v2.3）"), "{t}");
        let t = outcome_text(NeedStatus::Delivered, None, Some(jiff::civil::date(2027, 1, 5)), None).unwrap();
        assert!(t.contains("2027年1月5日"), "{t}");
        let t = outcome_text(NeedStatus::Declined, None, None, Some("与安全策略冲突")).unwrap();
        assert!(t.contains("与安全策略冲突"), "{t}");
        assert_eq!(outcome_text(NeedStatus::Planned, Some("v2"), None, None), None);
    }

    #[test]
    fn a_need_ticket_closes_only_after_the_customer_was_told() {
        let t: Timestamp = "2026-12-01T08:00:00Z".parse().unwrap();
        assert_eq!(may_close(NeedStatus::Planned, None), Err(CloseRefused::NoOutcome));
        assert_eq!(may_close(NeedStatus::Planned, Some(t)), Err(CloseRefused::NoOutcome));
        assert_eq!(may_close(NeedStatus::Delivered, None), Err(CloseRefused::CustomerNotTold));
        assert_eq!(may_close(NeedStatus::Declined, Some(t)), Ok(()));
        assert!(CloseRefused::CustomerNotTold.message(Lang::Zh).contains("告知客户"));
    }

    #[test]
    fn the_report_counts_a_hand_built_set() {
        let ts = |s: &str| -> Timestamp { s.parse().unwrap() };
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        let row = |dep: Option<&str>, status, sub: &str, out: Option<&str>, told: Option<&str>| NeedRow {
            department: dep.map(str::to_string),
            status,
            submitted_at: ts(sub),
            outcome_at: out.map(ts),
            customer_told_at: told.map(ts),
        };
        let rows = vec![
            // Submitted 1 Nov 00:30 Shanghai = 31 Oct 16:30 UTC: a November need.
            row(
                Some("产品部"),
                NeedStatus::Delivered,
                "2026-10-31T16:30:00Z",
                Some("2026-11-10T16:30:00Z"),
                Some("2026-11-10T17:00:00Z"),
            ),
            row(Some("产品部"), NeedStatus::Declined, "2026-11-02T00:00:00Z", Some("2026-11-06T00:00:00Z"), None),
            row(Some("产品部"), NeedStatus::Evaluating, "2026-12-01T00:00:00Z", None, None),
            row(Some("研发部"), NeedStatus::Planned, "2026-12-02T00:00:00Z", None, None),
            row(None, NeedStatus::Submitted, "2026-12-03T00:00:00Z", None, None),
        ];
        let r = report(&rows, &tz, "未分派");
        let keys: Vec<&str> = r.by_department.iter().map(|g| g.key.as_str()).collect();
        assert_eq!(keys, vec!["产品部", "研发部", "未分派"]);
        let product = &r.by_department[0];
        assert_eq!(product.total, 3);
        assert_eq!(product.by_status, vec![0, 1, 0, 0, 1, 1]);
        assert_eq!((product.with_outcome, product.told), (2, 1));
        assert_eq!(product.avg_days_to_outcome, Some(7.0)); // (10 + 4) / 2
        assert_eq!(product.share_told(), Some(0.5));
        assert_eq!(r.by_department[1].share_told(), None);
        let months: Vec<(&str, u32)> = r.by_month.iter().map(|g| (g.key.as_str(), g.total)).collect();
        assert_eq!(months, vec![("2026-11", 2), ("2026-12", 3)]);
        assert_eq!(r.total.total, 5);
        assert_eq!(r.total.share_told(), Some(0.5));
        // Adoption: delivered and planned of those decided (plus the declined one).
        assert_eq!((r.total.adopted, r.total.decided), (2, 3));
        assert_eq!(product.median_days_to_outcome, Some(4.0)); // nearest rank of 4, 10
        assert_eq!(r.total.adoption_rate(), Some(2.0 / 3.0));
        assert_eq!(r.by_department[2].adoption_rate(), None);
    }
}
