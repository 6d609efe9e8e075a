//! Measurement (SPEC R1): the registry of KPIs — each one's name, its
//! definition in words (shown next to it on every page), its unit, its
//! target and whether its source has landed — the periods and slices it is
//! computed by, and the arithmetic that turns counted figures into a value.
//! A KPI whose source has not landed is listed as not yet available and is
//! never given a number. "No data" is `None`, shown as "—", never a zero
//! from a division by zero.

use jiff::civil::{Date, Weekday};

use crate::Lang;
use crate::validation::Issue;

/// What a KPI's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A share, 0.0–1.0, shown as a percentage.
    Percent,
    /// Whole minutes.
    Minutes,
    /// An average score.
    Score,
    /// Working days of the business calendar (fractional).
    WorkingDays,
}

impl Unit {
    /// The unit's name beside a bare number (minutes, working days); `None`
    /// where the value carries its own (`95.0%`) or needs none (a score).
    pub fn label(self, lang: Lang) -> Option<&'static str> {
        match self {
            Unit::Minutes => Some(lang.pick("分钟", "min")),
            Unit::WorkingDays => Some(lang.pick("工作日", "working days")),
            Unit::Percent | Unit::Score => None,
        }
    }
}

/// A target line: the value must be at least (or at most) this.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Target {
    pub at_least: bool,
    pub value: f64,
}

impl Target {
    /// Whether a value meets the target; `None` when there is no value.
    pub fn met(self, value: Option<f64>) -> Option<bool> {
        value.map(|v| if self.at_least { v >= self.value - 1e-9 } else { v <= self.value + 1e-9 })
    }
}

/// Where a KPI's figures come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Tickets,
    Maintenance,
    /// Complaints (by registration).
    Complaints,
    /// CSAT and NPS surveys.
    Surveys,
    /// Scripts used on maintenance records, with their effect.
    Scripts,
    /// Orders per customer (churn, retention, repurchase).
    Orders,
    /// Customers as created and segmented.
    Customers,
    /// Outgoing messages.
    Outbox,
    /// Feedback and suggestion tickets with the message telling the
    /// customer of their resolution (SPEC O5).
    Feedback,
    /// Hand-overs of tickets to a collaborating department (an escalation
    /// step to a department collaborator) and their answers.
    Handovers,
    /// Not computed yet: its source (complaints, surveys, scripts, …) has
    /// not landed, or this KPI is not wired to it yet.
    Pending,
}

/// One KPI of the registry.
#[derive(Debug, Clone, Copy)]
pub struct KpiDef {
    pub name: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
    pub def_zh: &'static str,
    pub def_en: &'static str,
    pub unit: Unit,
    pub target: Option<Target>,
    pub source: Source,
    /// For a pending KPI: what it waits for.
    pub pending_zh: &'static str,
    pub pending_en: &'static str,
}

impl KpiDef {
    pub fn label(&self, lang: Lang) -> &'static str {
        lang.pick(self.zh, self.en)
    }

    /// The label with the unit of a bare number, inside its parentheses
    /// if it has some: 首次响应时长（中位数，分钟）, 跨部门处理时长（工作日）.
    pub fn label_with_unit(&self, lang: Lang) -> String {
        let label = self.label(lang);
        let Some(unit) = self.unit.label(lang) else { return label.to_string() };
        match lang {
            Lang::Zh => match label.strip_suffix('）') {
                Some(head) => format!("{head}，{unit}）"),
                None => format!("{label}（{unit}）"),
            },
            Lang::En => match label.strip_suffix(')') {
                Some(head) => format!("{head}, {unit})"),
                None => format!("{label} ({unit})"),
            },
        }
    }

    pub fn definition(&self, lang: Lang) -> &'static str {
        lang.pick(self.def_zh, self.def_en)
    }

    pub fn available(&self) -> bool {
        self.source != Source::Pending
    }

    /// Whether this KPI can be sliced by `group`.
    pub fn supports(&self, group: GroupBy) -> bool {
        match self.source {
            Source::Tickets => true,
            Source::Maintenance => matches!(group, GroupBy::None | GroupBy::Agent | GroupBy::Tier),
            Source::Complaints | Source::Surveys | Source::Feedback | Source::Handovers => true,
            Source::Scripts => matches!(group, GroupBy::None | GroupBy::Agent | GroupBy::Team),
            Source::Orders => matches!(group, GroupBy::None | GroupBy::Tier),
            Source::Customers => group == GroupBy::None,
            Source::Outbox => matches!(group, GroupBy::None | GroupBy::Channel),
            Source::Pending => false,
        }
    }

    /// The target in words, e.g. `≥ 95%`.
    pub fn target_text(&self) -> Option<String> {
        self.target.map(|t| format!("{} {}", if t.at_least { "≥" } else { "≤" }, display(Some(t.value), self.unit)))
    }
}

#[allow(clippy::too_many_arguments)]
const fn ready(
    name: &'static str,
    zh: &'static str,
    en: &'static str,
    def_zh: &'static str,
    def_en: &'static str,
    unit: Unit,
    target: Option<Target>,
    source: Source,
) -> KpiDef {
    KpiDef { name, zh, en, def_zh, def_en, unit, target, source, pending_zh: "", pending_en: "" }
}

const fn at_least(value: f64) -> Option<Target> {
    Some(Target { at_least: true, value })
}

const fn at_most(value: f64) -> Option<Target> {
    Some(Target { at_least: false, value })
}

/// Every KPI of SPEC R1, in the order pages show them.
pub const REGISTRY: &[KpiDef] = &[
    ready(
        "first_response_median",
        "首次响应时长（中位数）",
        "First response time (median)",
        "期内受理且已首次响应的工单，从受理到首次回复的分钟数（取整分钟）的中位数（最近秩法）。",
        "Of the tickets received in the period that have a first response: the median (nearest rank) of the whole minutes from receipt to the first reply.",
        Unit::Minutes,
        None,
        Source::Tickets,
    ),
    ready(
        "first_response_p90",
        "首次响应时长（P90）",
        "First response time (p90)",
        "同上，第 90 百分位（最近秩法）：九成工单的首次响应不超过此分钟数。",
        "As above, the 90th percentile (nearest rank): nine tickets in ten had their first reply within this many minutes.",
        Unit::Minutes,
        None,
        Source::Tickets,
    ),
    ready(
        "resolution_time_median",
        "解决时长（中位数）",
        "Resolution time (median)",
        "期内受理且已解决的工单，从受理到解决的分钟数（取整分钟）的中位数（最近秩法）。",
        "Of the tickets received in the period that are resolved: the median (nearest rank) of the whole minutes from receipt to resolution.",
        Unit::Minutes,
        None,
        Source::Tickets,
    ),
    ready(
        "resolution_rate",
        "问题解决率",
        "Resolution rate",
        "期内受理的工单中，已解决（有解决时间）的比例。目标 ≥ 95%。",
        "Of the tickets received in the period, the share that is resolved. Target ≥ 95%.",
        Unit::Percent,
        at_least(0.95),
        Source::Tickets,
    ),
    ready(
        "sla_attainment",
        "SLA 达成率",
        "SLA attainment",
        "期内受理的工单中，没有任何 SLA 时钟超时的比例。",
        "Of the tickets received in the period, the share none of whose SLA clocks was breached.",
        Unit::Percent,
        None,
        Source::Tickets,
    ),
    ready(
        "repeat_inquiry_rate",
        "重复咨询率",
        "Repeat-inquiry rate",
        "期内受理的工单中，被标记为同一客户同一类别 7 天内重复咨询的比例（越低越好）。",
        "Of the tickets received in the period, the share flagged as a repeat of the same customer's same category within 7 days (lower is better).",
        Unit::Percent,
        None,
        Source::Tickets,
    ),
    ready(
        "maintenance_execution_rate",
        "维护计划执行率",
        "Maintenance execution rate",
        "到期日落在期内（且已到期）的电话维护任务中，按时完成的比例。目标 ≥ 95%。",
        "Of the call maintenance tasks due in the period (and already due), the share done by their due time. Target ≥ 95%.",
        Unit::Percent,
        at_least(0.95),
        Source::Maintenance,
    ),
    ready(
        "complaint_timeout_rate",
        "投诉处理超时率",
        "Complaint timeout rate",
        "期内登记的投诉中，有处理时限（调查、方案、执行、回复等）被错过或逾期才完成的比例（越低越好）。",
        "Of the complaints registered in the period, the share that missed a handling deadline (investigation, solution, execution, reply…) or met it late (lower is better).",
        Unit::Percent,
        None,
        Source::Complaints,
    ),
    ready(
        "csat_average",
        "满意度（CSAT）均分",
        "CSAT average",
        "期内回收（作答）的满意度问卷（1–5 分）的平均分。",
        "The average score (1–5) of the satisfaction surveys answered in the period.",
        Unit::Score,
        None,
        Source::Surveys,
    ),
    ready(
        "csat_satisfied_share",
        "满意率",
        "Satisfied share",
        "期内回收的满意度问卷中，4 分及以上的比例。目标 ≥ 85%。",
        "Of the satisfaction surveys answered in the period, the share scoring 4 or 5. Target ≥ 85%.",
        Unit::Percent,
        at_least(0.85),
        Source::Surveys,
    ),
    ready(
        "nps",
        "净推荐值（NPS）",
        "NPS",
        "期内回收的推荐意愿问卷（0–10 分）中，推荐者（9–10 分）占比减去贬损者（0–6 分）占比。",
        "Of the net-promoter surveys (0–10) answered in the period: the share of promoters (9–10) minus the share of detractors (0–6).",
        Unit::Percent,
        None,
        Source::Surveys,
    ),
    ready(
        "feedback_collection_rate",
        "反馈收集率",
        "Feedback collection rate",
        "期内发出的满意度与推荐意愿问卷中，已被客户作答的比例。目标 ≥ 90%。",
        "Of the satisfaction and net-promoter surveys sent in the period, the share the customer answered. Target ≥ 90%.",
        Unit::Percent,
        at_least(0.90),
        Source::Surveys,
    ),
    ready(
        "channel_reach_rate",
        "渠道触达率",
        "Channel reach rate",
        "期内创建、已有结果的外发消息（邮件、短信、Webhook 等）中，成功送达渠道的比例（发送中、排队中的不计）。目标 ≥ 95%。",
        "Of the outgoing messages (email, SMS, webhook…) created in the period that have an outcome, the share delivered to the channel (queued or sending ones are not counted). Target ≥ 95%.",
        Unit::Percent,
        at_least(0.95),
        Source::Outbox,
    ),
    ready(
        "churn_rate",
        "客户流失率",
        "Churn rate",
        "期初前 12 个月内下过单的客户中，到期末已连续 12 个月没有订单（期内流失）的比例（越低越好）。",
        "Of the customers who ordered in the 12 months before the period's start, the share that by its end had gone 12 months without an order (churned during the period; lower is better).",
        Unit::Percent,
        None,
        Source::Orders,
    ),
    ready(
        "core_customer_retention",
        "核心客户留存率",
        "Core-customer retention",
        "当前为高价值层级、且期初前 12 个月内下过单的客户中，到期末仍在 12 个月内下过单（未流失）的比例。目标 ≥ 90%。",
        "Of the customers now in the high-value tier who ordered in the 12 months before the period's start, the share still having ordered within 12 months at its end (not churned). Target ≥ 90%.",
        Unit::Percent,
        at_least(0.90),
        Source::Orders,
    ),
    ready(
        "churn_warning_recall",
        "流失预警召回率",
        "Churn-warning recall",
        "期内流失的客户（定义同客户流失率）中，在期末之前曾被发出流失预警的比例。目标 ≥ 90%。",
        "Of the customers who churned in the period (as in the churn rate), the share that had been given a churn warning before the period's end. Target ≥ 90%.",
        Unit::Percent,
        at_least(0.90),
        Source::Orders,
    ),
    ready(
        "repurchase_rate",
        "复购率",
        "Repurchase rate",
        "期内下单的客户中，在期初之前已有过订单的比例。",
        "Of the customers who ordered in the period, the share who had ordered before the period's start.",
        Unit::Percent,
        None,
        Source::Orders,
    ),
    ready(
        "new_customer_activation",
        "新客户激活率",
        "New-customer activation rate",
        "期内新建档的客户中，期内已下单的比例。",
        "Of the customers created in the period, the share who placed an order within it.",
        Unit::Percent,
        None,
        Source::Customers,
    ),
    ready(
        "tier_coverage",
        "分层覆盖率",
        "Tier coverage",
        "期末前已建档的客户中，已由分层计算给出价值层级的比例。",
        "Of the customers created before the period's end, the share the segmentation has given a value tier.",
        Unit::Percent,
        None,
        Source::Customers,
    ),
    ready(
        "script_effect",
        "话术效果",
        "Script effect",
        "期内使用了话术、且已评估效果的维护记录中，本次维护评为“达成”的比例。",
        "Of the maintenance records made in the period that used a script and have an effect evaluation, the share rated achieved.",
        Unit::Percent,
        None,
        Source::Scripts,
    ),
    ready(
        "feedback_closed_loop_rate",
        "反馈闭环率",
        "Feedback closed-loop rate",
        "期内受理的反馈/建议工单中，已解决、且告知客户处理结果的消息在解决后 2 小时内发送成功的比例。目标 ≥ 95%。",
        "Of the feedback and suggestion tickets received in the period, the share resolved whose message telling the customer the result was sent within 2 h of resolution. Target ≥ 95%.",
        Unit::Percent,
        at_least(0.95),
        Source::Feedback,
    ),
    ready(
        "cross_department_time",
        "跨部门处理时长",
        "Cross-department handling time",
        "期内得到答复的转交：从工单转交协作部门（升级到部门接口人）到该部门答复（接口人在工单上回复、备注或处理）的工作日数的平均值，按工单的营业日历计（一个工作日为日历一天的工作时长）。按团队切片时为接手的部门。目标 ≤ 2 个工作日。",
        "Over the hand-overs answered in the period: the average working days from handing a ticket to a collaborating department (an escalation to its interface person) to the department's answer (the interface person replying, noting or acting on the ticket), on the ticket's business calendar (a working day is one day's working hours). Sliced by team, the department that took it. Target ≤ 2 working days.",
        Unit::WorkingDays,
        at_most(2.0),
        Source::Handovers,
    ),
];

pub fn find(name: &str) -> Option<&'static KpiDef> {
    REGISTRY.iter().find(|k| k.name == name)
}

/// The length of a period a KPI is computed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    Week,
    Month,
}

impl Period {
    pub fn parse(raw: &str) -> Result<Self, Issue> {
        match raw.trim() {
            "day" => Ok(Period::Day),
            "week" => Ok(Period::Week),
            "month" => Ok(Period::Month),
            _ => Err(Issue::NotAllowed),
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        }
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            Period::Day => lang.pick("日", "Daily"),
            Period::Week => lang.pick("周", "Weekly"),
            Period::Month => lang.pick("月", "Monthly"),
        }
    }

    /// The first day of the period holding `d` (weeks start on Monday).
    pub fn start(self, d: Date) -> Date {
        match self {
            Period::Day => d,
            Period::Week => {
                let back = i64::from(d.weekday().to_monday_zero_offset());
                d.checked_sub(jiff::Span::new().days(back)).unwrap_or(d)
            }
            Period::Month => d.first_of_month(),
        }
    }

    /// The first day of the next period.
    pub fn next(self, start: Date) -> Date {
        let span = match self {
            Period::Day => jiff::Span::new().days(1),
            Period::Week => jiff::Span::new().weeks(1),
            Period::Month => jiff::Span::new().months(1),
        };
        start.checked_add(span).unwrap_or(Date::MAX)
    }

    /// The starts of the periods that meet `[from, to]` (both inclusive),
    /// at most `limit` of them.
    pub fn buckets(self, from: Date, to: Date, limit: usize) -> Vec<Date> {
        let mut out = Vec::new();
        let mut d = self.start(from);
        while d <= to && out.len() < limit {
            out.push(d);
            d = self.next(d);
        }
        out
    }

    /// How a period is named in tables: `2026-03-02`, `2026-03-02 周` or `2026-03`.
    pub fn name(self, start: Date) -> String {
        match self {
            Period::Day => start.to_string(),
            Period::Week => {
                debug_assert_eq!(start.weekday(), Weekday::Monday);
                format!("{start}~")
            }
            Period::Month => start.strftime("%Y-%m").to_string(),
        }
    }
}

/// The slice a KPI is broken down by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    None,
    Team,
    Agent,
    Channel,
    Category,
    Tier,
}

impl GroupBy {
    pub const ALL: &'static [GroupBy] =
        &[GroupBy::None, GroupBy::Team, GroupBy::Agent, GroupBy::Channel, GroupBy::Category, GroupBy::Tier];

    pub fn parse(raw: &str) -> Result<Self, Issue> {
        match raw.trim() {
            "" | "none" => Ok(GroupBy::None),
            "team" => Ok(GroupBy::Team),
            "agent" => Ok(GroupBy::Agent),
            "channel" => Ok(GroupBy::Channel),
            "category" => Ok(GroupBy::Category),
            "tier" => Ok(GroupBy::Tier),
            _ => Err(Issue::NotAllowed),
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            GroupBy::None => "none",
            GroupBy::Team => "team",
            GroupBy::Agent => "agent",
            GroupBy::Channel => "channel",
            GroupBy::Category => "category",
            GroupBy::Tier => "tier",
        }
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            GroupBy::None => lang.pick("合计", "Total"),
            GroupBy::Team => lang.pick("团队", "Team"),
            GroupBy::Agent => lang.pick("客服", "Agent"),
            GroupBy::Channel => lang.pick("渠道", "Channel"),
            GroupBy::Category => lang.pick("类别", "Category"),
            GroupBy::Tier => lang.pick("客户层级", "Tier"),
        }
    }
}

/// The counted figures of tickets received in one period and slice, from
/// which every ticket KPI is computed. Durations are histograms of whole
/// minutes (value, count), so that periods add up exactly (a day's
/// figures merge into its week and month) and percentiles stay exact.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketFigures {
    pub received: i64,
    pub resolved: i64,
    pub breached: i64,
    pub repeats: i64,
    pub first_response: Vec<(i64, i64)>,
    pub resolution: Vec<(i64, i64)>,
}

fn merge_hist(into: &mut Vec<(i64, i64)>, from: &[(i64, i64)]) {
    if from.is_empty() && into.is_sorted_by(|a, b| a.0 < b.0) {
        return;
    }
    // Both sides sorted (each usually is already), then one linear merge
    // that adds the counts of equal values.
    let mut from = from.to_vec();
    if !from.is_sorted() {
        from.sort_unstable();
    }
    if !into.is_sorted() {
        into.sort_unstable();
    }
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(into.len() + from.len());
    let (mut a, mut b) = (into.iter().peekable(), from.iter().peekable());
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x.0 <= y.0 => a.next(),
            (Some(_), Some(_)) | (None, Some(_)) => b.next(),
            (Some(_), None) => a.next(),
            (None, None) => break,
        };
        let Some(&(v, n)) = next else { break };
        match out.last_mut() {
            Some(last) if last.0 == v => last.1 += n,
            _ => out.push((v, n)),
        }
    }
    *into = out;
}

impl TicketFigures {
    pub fn merge(&mut self, other: &TicketFigures) {
        self.received += other.received;
        self.resolved += other.resolved;
        self.breached += other.breached;
        self.repeats += other.repeats;
        merge_hist(&mut self.first_response, &other.first_response);
        merge_hist(&mut self.resolution, &other.resolution);
    }

    /// The value of a ticket KPI; `None` when there is nothing to measure
    /// (or the KPI is not a ticket KPI).
    #[allow(clippy::cast_precision_loss)]
    pub fn value(&self, name: &str) -> Option<f64> {
        match name {
            "first_response_median" => percentile(&self.first_response, 50).map(|m| m as f64),
            "first_response_p90" => percentile(&self.first_response, 90).map(|m| m as f64),
            "resolution_time_median" => percentile(&self.resolution, 50).map(|m| m as f64),
            "resolution_rate" => ratio(self.resolved, self.received),
            "sla_attainment" => ratio(self.received - self.breached, self.received),
            "repeat_inquiry_rate" => ratio(self.repeats, self.received),
            _ => None,
        }
    }
}

/// The two counts a ratio KPI is computed from (every KPI whose source is
/// not tickets or maintenance): e.g. complaints overdue ÷ complaints, the
/// sum of CSAT scores ÷ surveys answered, promoters − detractors ÷ answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RatioFigures {
    pub num: i64,
    pub den: i64,
}

impl RatioFigures {
    pub fn merge(&mut self, other: &RatioFigures) {
        self.num += other.num;
        self.den += other.den;
    }

    /// `None` when there is nothing to measure.
    pub fn value(&self) -> Option<f64> {
        ratio(self.num, self.den)
    }

    /// The value in a KPI's unit: working days are counted in thousandths
    /// (integer sums add up exactly across periods and slices).
    pub fn value_in(&self, unit: Unit) -> Option<f64> {
        let v = self.value()?;
        Some(if unit == Unit::WorkingDays { v / 1000.0 } else { v })
    }
}

/// `num ÷ den`, `None` when `den` is zero.
#[allow(clippy::cast_precision_loss)]
pub fn ratio(num: i64, den: i64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// The nearest-rank `p`th percentile of a histogram sorted by value: the
/// smallest value whose cumulative count reaches `ceil(p/100 · n)`.
/// `None` for an empty histogram.
pub fn percentile(hist: &[(i64, i64)], p: u32) -> Option<i64> {
    let n: i64 = hist.iter().map(|h| h.1).sum();
    if n <= 0 {
        return None;
    }
    let rank = ((i64::from(p) * n) + 99) / 100;
    let rank = rank.max(1);
    let mut seen = 0;
    for &(v, c) in hist {
        seen += c;
        if seen >= rank {
            return Some(v);
        }
    }
    hist.last().map(|h| h.0)
}

/// A value as shown: `95.0%`, `42 分钟`-less plain minutes, or `—`.
pub fn display(value: Option<f64>, unit: Unit) -> String {
    match (value, unit) {
        (None, _) => "—".to_string(),
        (Some(v), Unit::Percent) => format!("{:.1}%", v * 100.0),
        (Some(v), Unit::Score) => format!("{v:.2}"),
        (Some(v), Unit::WorkingDays) => format!("{v:.2}"),
        (Some(v), Unit::Minutes) => {
            if (v - v.round()).abs() < 1e-9 {
                format!("{v:.0}")
            } else {
                format!("{v:.1}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn bare_numbers_get_their_unit_in_the_label() {
        let label = |name: &str, lang: Lang| find(name).map(|k| k.label_with_unit(lang));
        assert_eq!(label("first_response_median", Lang::Zh).as_deref(), Some("首次响应时长（中位数，分钟）"));
        assert_eq!(label("first_response_p90", Lang::En).as_deref(), Some("First response time (p90, min)"));
        assert_eq!(label("cross_department_time", Lang::Zh).as_deref(), Some("跨部门处理时长（工作日）"));
        assert_eq!(
            label("cross_department_time", Lang::En).as_deref(),
            Some("Cross-department handling time (working days)")
        );
        assert_eq!(label("resolution_rate", Lang::Zh).as_deref(), find("resolution_rate").map(|k| k.zh));
        assert_eq!(label("csat_average", Lang::En).as_deref(), Some("CSAT average"));
    }

    #[test]
    fn registry_names_are_unique_and_found() {
        for k in REGISTRY {
            assert_eq!(find(k.name).map(|f| f.name), Some(k.name));
            assert_eq!(REGISTRY.iter().filter(|o| o.name == k.name).count(), 1);
            assert!(!k.def_zh.is_empty() && !k.def_en.is_empty());
            assert_eq!(k.available(), k.pending_en.is_empty());
        }
    }

    #[test]
    fn registry_holds_every_kpi_of_spec_r1() {
        // SPEC R1, in its order; the satisfied share is CSAT's second figure.
        let r1 = [
            "first_response_median",
            "first_response_p90",
            "resolution_time_median",
            "resolution_rate",
            "sla_attainment",
            "complaint_timeout_rate",
            "repeat_inquiry_rate",
            "csat_average",
            "csat_satisfied_share",
            "nps",
            "maintenance_execution_rate",
            "feedback_closed_loop_rate",
            "channel_reach_rate",
            "feedback_collection_rate",
            "churn_warning_recall",
            "core_customer_retention",
            "new_customer_activation",
            "cross_department_time",
            "churn_rate",
            "repurchase_rate",
            "tier_coverage",
            "script_effect",
        ];
        for name in r1 {
            assert!(find(name).is_some(), "{name} is missing");
        }
        assert_eq!(REGISTRY.len(), r1.len());
        // The SPEC's targets.
        let target = |n: &str| find(n).and_then(|k| k.target).map(|t| (t.at_least, t.value));
        assert_eq!(target("resolution_rate"), Some((true, 0.95)));
        assert_eq!(target("csat_satisfied_share"), Some((true, 0.85)));
        assert_eq!(target("feedback_collection_rate"), Some((true, 0.90)));
        assert_eq!(target("churn_warning_recall"), Some((true, 0.90)));
        assert_eq!(target("core_customer_retention"), Some((true, 0.90)));
        assert_eq!(target("channel_reach_rate"), Some((true, 0.95)));
        // Which slices each source has.
        assert!(find("churn_rate").unwrap().supports(GroupBy::Tier));
        assert!(!find("churn_rate").unwrap().supports(GroupBy::Agent));
        assert!(find("csat_average").unwrap().supports(GroupBy::Channel));
        assert!(!find("tier_coverage").unwrap().supports(GroupBy::Tier));
        let f = RatioFigures { num: 0, den: 0 };
        assert_eq!(f.value(), None, "nothing to measure is no value, not a division by zero");
        // Working days are summed in thousandths: 1.5 + 2.25 days over two hand-overs.
        let f = RatioFigures { num: 3750, den: 2 };
        assert_eq!(f.value_in(Unit::WorkingDays), Some(1.875));
        assert_eq!(f.value_in(Unit::Score), Some(1875.0));
        assert_eq!(display(f.value_in(Unit::WorkingDays), Unit::WorkingDays), "1.88");
        let t = find("cross_department_time").unwrap().target.unwrap();
        assert_eq!((t.met(Some(2.0)), t.met(Some(2.01))), (Some(true), Some(false)), "≤ 2 working days");
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let h = [(1, 1), (2, 1), (3, 1), (4, 1), (10, 1)];
        assert_eq!(percentile(&h, 50), Some(3));
        assert_eq!(percentile(&h, 90), Some(10));
        assert_eq!(percentile(&[(7, 4)], 90), Some(7));
        assert_eq!(percentile(&[], 50), None);
        // 10 values 1..=10: p90 is the 9th.
        let ten: Vec<(i64, i64)> = (1..=10).map(|v| (v, 1)).collect();
        assert_eq!(percentile(&ten, 90), Some(9));
        assert_eq!(percentile(&ten, 50), Some(5));
    }

    #[test]
    fn empty_figures_have_no_value() {
        let f = TicketFigures::default();
        for k in REGISTRY.iter().filter(|k| k.source == Source::Tickets) {
            assert_eq!(f.value(k.name), None, "{}", k.name);
        }
        assert_eq!(display(None, Unit::Percent), "—");
        assert_eq!(display(Some(0.95), Unit::Percent), "95.0%");
    }

    #[test]
    fn periods_start_and_step() {
        let d: Date = "2026-03-04".parse().unwrap(); // a Wednesday
        assert_eq!(Period::Week.start(d).to_string(), "2026-03-02");
        assert_eq!(Period::Month.start(d).to_string(), "2026-03-01");
        let b = Period::Week.buckets("2026-03-01".parse().unwrap(), "2026-03-16".parse().unwrap(), 100);
        assert_eq!(
            b.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["2026-02-23", "2026-03-02", "2026-03-09", "2026-03-16"]
        );
    }

    proptest! {
        #[test]
        fn merged_percentile_matches_sorted_list(values in proptest::collection::vec(0i64..500, 1..60), split in 0usize..60) {
            let split = split.min(values.len());
            let hist = |vs: &[i64]| { let mut h = Vec::new(); merge_hist(&mut h, &vs.iter().map(|v| (*v, 1)).collect::<Vec<_>>()); h };
            let mut a = TicketFigures { first_response: hist(&values[..split]), ..Default::default() };
            a.merge(&TicketFigures { first_response: hist(&values[split..]), ..Default::default() });
            let mut sorted = values.clone();
            sorted.sort_unstable();
            for p in [50u32, 90] {
                let rank = (p as usize * sorted.len()).div_ceil(100);
                prop_assert_eq!(percentile(&a.first_response, p), Some(sorted[rank.max(1) - 1]));
            }
        }
    }
}
