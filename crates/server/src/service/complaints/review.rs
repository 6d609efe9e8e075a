//! The monthly complaint review (投诉复盘, P7): the complaints registered in
//! a calendar month of the business time zone, by category as a Pareto
//! table, by demand type, the timeout rate (超时率: a deadline missed or met
//! late), the average handling time of the closed ones, the batches and
//! the repeat complainants.

use guanxi_domain::Issue;
use guanxi_domain::complaint::DemandType;
use guanxi_domain::complaint::review::{ParetoBar, pareto, permille};
use guanxi_domain::ticket::Category;
use guanxi_store::complaints as store;
use guanxi_store::users::User;
use jiff::civil::Date;
use serde::Serialize;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The review of one month.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MonthlyReview {
    /// `YYYY-MM`.
    pub month: String,
    pub total: i64,
    /// Categories, most frequent first, with the cumulative share (‰).
    #[schema(value_type = Vec<Object>)]
    pub pareto: Vec<ParetoBar>,
    /// Pairs of demand type code and count, e.g. `["refund", 3]`.
    #[schema(value_type = Vec<Vec<Value>>)]
    pub by_demand: Vec<(String, i64)>,
    pub overdue: i64,
    /// 超时率 in per mille.
    pub timeout_permille: i64,
    pub closed: i64,
    /// Average minutes from registration to closing (closed ones).
    pub average_handling_minutes: Option<i64>,
    pub batches: i64,
    /// (customer id, name, complaints), most first.
    #[schema(value_type = Vec<Object>)]
    pub repeat_customers: Vec<(i64, String, i64)>,
    /// The most frequent subjects of each category (高频问题): (category,
    /// subject, complaints), at most five a category, most first, e.g.
    /// `["logistics", "快递延误", 2]`.
    #[schema(value_type = Vec<Vec<Value>>)]
    pub top_subjects: Vec<(String, String, i64)>,
}

/// Parses `YYYY-MM` into the month's first day.
pub fn parse_month(raw: &str) -> Result<Date, Issue> {
    let raw = raw.trim();
    let (y, m) = raw.split_once('-').ok_or(Issue::InvalidDate)?;
    if y.len() != 4 || m.len() != 2 {
        return Err(Issue::InvalidDate);
    }
    let y: i16 = y.parse().map_err(|_| Issue::InvalidDate)?;
    let m: i8 = m.parse().map_err(|_| Issue::InvalidDate)?;
    Date::new(y, m, 1).map_err(|_| Issue::InvalidDate)
}

/// Reviews and exports are for supervisors and administrators.
pub fn may_review(user: &User) -> bool {
    user.role.sees_all_tickets()
}

pub async fn monthly(state: &AppState, user: &User, first: Date) -> AppResult<MonthlyReview> {
    if !may_review(user) {
        return Err(AppError::Forbidden);
    }
    let tz = state.config.time_zone.clone();
    let start = first.to_zoned(tz.clone()).map_err(|e| AppError::Internal(e.to_string()))?.timestamp();
    let next =
        first.checked_add(jiff::Span::new().months(1)).map_err(|_| AppError::field("month", Issue::OutOfRange))?;
    let end = next.to_zoned(tz).map_err(|e| AppError::Internal(e.to_string()))?.timestamp();
    let f = state.db.read(move |c| store::review(c, start, end)).await?;
    let mut counts: Vec<(String, i64)> = Category::ALL
        .iter()
        .map(|k| (k.code().to_string(), f.by_category.iter().find(|(c, _)| c == k.code()).map_or(0, |(_, n)| *n)))
        .collect();
    counts.retain(|(_, n)| *n > 0);
    let by_demand = DemandType::ALL
        .iter()
        .map(|d| (d.code().to_string(), f.by_demand.iter().find(|(c, _)| c == d.code()).map_or(0, |(_, n)| *n)))
        .collect();
    Ok(MonthlyReview {
        month: first.strftime("%Y-%m").to_string(),
        total: f.total,
        pareto: pareto(counts),
        by_demand,
        overdue: f.overdue,
        timeout_permille: permille(f.overdue, f.total),
        closed: f.closed,
        average_handling_minutes: (f.closed > 0).then(|| f.handling_ms_sum / f.closed / 60_000),
        batches: f.batches,
        repeat_customers: f.repeat_customers,
        top_subjects: top_five(f.top_subjects),
    })
}

/// At most five subjects a category, keeping the order (most first).
fn top_five(rows: Vec<(String, String, i64)>) -> Vec<(String, String, i64)> {
    let mut seen: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    rows.into_iter()
        .filter(|(cat, _, _)| {
            let n = seen.entry(cat.clone()).or_default();
            *n += 1;
            *n <= 5
        })
        .collect()
}
