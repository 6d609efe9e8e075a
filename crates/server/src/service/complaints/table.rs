//! The complaint tracking table (投诉处理跟踪表, P6): the seed's columns,
//! filterable, a page at a time (newest first, keyset), and its export to
//! Excel (every matching row, read a page at a time, audited).

use guanxi_domain::complaint::Urgency;
use guanxi_domain::complaint::workflow::State;
use guanxi_domain::ticket::Category;
use guanxi_domain::{Issue, Lang, ValidationErrors};
use guanxi_store::audit::{self, AuditEntry};
use guanxi_store::complaints::{self as store, Complaint, ListQuery};
use guanxi_store::users::User;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Deserialize;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The filters of the table (query string of the page, the API and the export).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct TableParams {
    /// Only this state (`registered`, `investigating`, …, `closed`).
    pub state: Option<String>,
    /// `urgent`, `general` or `routine`.
    pub urgency: Option<String>,
    /// `product`, `service`, `communication`, `logistics` or `other`.
    pub category: Option<String>,
    /// `yes` (archived only) or `no` (open only).
    pub archived: Option<String>,
    /// Registered on or after this date (`YYYY-MM-DD`, business time zone).
    pub from: Option<String>,
    /// Registered on or before this date.
    pub to: Option<String>,
    /// The cursor of the previous page (`next`).
    pub before: Option<String>,
    /// At most 200, default 50.
    pub limit: Option<i64>,
}

fn opt(raw: &Option<String>) -> Option<&str> {
    raw.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn day_start(d: jiff::civil::Date, tz: &TimeZone) -> Result<Timestamp, Issue> {
    d.to_zoned(tz.clone()).map(|z| z.timestamp()).map_err(|_| Issue::InvalidDate)
}

/// Parses the filters; errors name the field.
pub fn parse(p: &TableParams, tz: &TimeZone) -> Result<ListQuery, ValidationErrors> {
    let mut e = ValidationErrors::new();
    let state = opt(&p.state).and_then(|s| e.check("state", State::parse(s)));
    let urgency = opt(&p.urgency).and_then(|s| e.check("urgency", Urgency::parse(s)));
    let category = opt(&p.category).and_then(|s| e.check("category", Category::parse(s)));
    let archived = match opt(&p.archived) {
        None => None,
        Some("yes") => Some(true),
        Some("no") => Some(false),
        Some(_) => {
            e.add("archived", Issue::NotAllowed);
            None
        }
    };
    let date = |e: &mut ValidationErrors, field: &str, raw: &Option<String>| {
        opt(raw).and_then(|s| {
            e.check(field, guanxi_domain::calendar::parse_date(s).and_then(|d| day_start(d, tz).map(|t| (d, t))))
        })
    };
    let from = date(&mut e, "from", &p.from).map(|(_, t)| t);
    let until = date(&mut e, "to", &p.to).and_then(|(d, _)| d.tomorrow().ok()).and_then(|d| day_start(d, tz).ok());
    if let (Some(f), Some(u)) = (from, until)
        && f >= u
    {
        e.add("to", Issue::OutOfRange);
    }
    let before = opt(&p.before).and_then(|raw| {
        let parsed = raw.split_once('_').and_then(|(a, b)| Some((a.parse::<i64>().ok()?, b.parse::<i64>().ok()?)));
        if parsed.is_none() {
            e.add("before", Issue::NotAllowed);
        }
        parsed
    });
    let limit = match p.limit {
        None => 50,
        Some(n) if (1..=200).contains(&n) => n,
        Some(_) => {
            e.add("limit", Issue::OutOfRange);
            50
        }
    };
    e.into_result(|| ListQuery { state, urgency, category, from, until, archived, before, limit, visible_to: None })
}

/// The cursor after a row.
pub fn cursor_of(p: &Complaint) -> String {
    format!("{}_{}", p.registered_at.as_millisecond(), p.id)
}

/// A page of the table and the cursor of the next one.
pub struct TablePage {
    pub items: Vec<Complaint>,
    pub next: Option<String>,
}

/// A page of the table. Supervisors and administrators see every
/// complaint; others those they may see (their own, their group's, their
/// department's, escalated to them), filtered in the query so that pages
/// are full.
pub async fn list(state: &AppState, user: &User, mut q: ListQuery) -> AppResult<TablePage> {
    if !user.role.sees_all_tickets() {
        q.visible_to = Some((user.id, user.group_id));
    }
    Ok(state
        .db
        .read(move |c| {
            let items = store::list(c, &q)?;
            let next =
                (i64::try_from(items.len()).unwrap_or(0) == q.limit).then(|| items.last().map(cursor_of)).flatten();
            Ok(TablePage { items, next })
        })
        .await?)
}

/// The table's columns (the seed's 投诉处理跟踪表; the export keeps them).
pub const HEADERS: [&str; 16] = [
    "投诉编号",
    "客户",
    "投诉时间",
    "紧急程度",
    "问题类别",
    "诉求类型",
    "投诉描述",
    "责任部门",
    "责任方",
    "处理方案",
    "处理人",
    "处理时限",
    "客户反馈",
    "满意度",
    "状态",
    "归档",
];

/// [`HEADERS`] on the English page.
pub const HEADERS_EN: [&str; 16] = [
    "Number",
    "Customer",
    "Registered",
    "Urgency",
    "Category",
    "Demand",
    "Description",
    "Department",
    "Responsible party",
    "Solution",
    "Handler",
    "Deadline",
    "Customer feedback",
    "Satisfaction",
    "State",
    "Archived",
];

/// One row of the table, in the page's language for vocabularies.
pub fn row(p: &Complaint, tz: &TimeZone, lang: Lang) -> Vec<String> {
    let time = |t: Timestamp| t.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M").to_string();
    let deadline = p
        .promised_at
        .or_else(|| p.deadlines.get(guanxi_domain::complaint::DeadlineKind::Solution).map(|d| d.due_at))
        .map(time)
        .unwrap_or_default();
    vec![
        p.number.clone(),
        p.customer_name.clone(),
        time(p.registered_at),
        p.urgency.label(lang).into(),
        p.category.label(lang).into(),
        p.demand_type.label(lang).into(),
        p.subject.clone(),
        p.department_name.clone().unwrap_or_default(),
        p.responsible_party.map(|r| r.label(lang).to_string()).unwrap_or_default(),
        [p.solution.clone(), guanxi_domain::complaint::compensation::summary(&p.compensation, lang)]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("\n"),
        p.handler_name.clone().unwrap_or_default(),
        deadline,
        p.feedback.clone().unwrap_or_default(),
        p.satisfaction.map(|s| s.to_string()).unwrap_or_default(),
        p.state.label(lang).into(),
        if p.state == State::Closed { lang.pick("已归档", "Archived") } else { lang.pick("未归档", "Open") }.into(),
    ]
}

fn xlsx_err(e: rust_xlsxwriter::XlsxError) -> AppError {
    AppError::Internal(format!("xlsx: {e}"))
}

/// Rows an export holds at most.
pub const EXPORT_MAX: usize = 100_000;

/// Every row matching the filters as an .xlsx workbook (audited).
pub async fn export(state: &AppState, user: &User, mut q: ListQuery, ip: Option<String>) -> AppResult<Vec<u8>> {
    let tz = state.config.time_zone.clone();
    let mut rows: Vec<Vec<String>> = Vec::new();
    q.limit = 200;
    q.before = None;
    loop {
        let page = list(state, user, q.clone()).await?;
        rows.extend(page.items.iter().map(|p| row(p, &tz, Lang::Zh)));
        match page.next.as_deref().and_then(|n| n.split_once('_')) {
            Some((a, b)) if rows.len() < EXPORT_MAX => {
                q.before = Some((a.parse().unwrap_or(0), b.parse().unwrap_or(0)));
            }
            _ => break,
        }
    }
    let n = rows.len();
    let bytes = tokio::task::spawn_blocking(move || -> AppResult<Vec<u8>> {
        let mut book = rust_xlsxwriter::Workbook::new();
        let ws = book.add_worksheet();
        ws.set_name("投诉处理跟踪表").map_err(xlsx_err)?;
        ws.set_freeze_panes(1, 0).map_err(xlsx_err)?;
        let bold = rust_xlsxwriter::Format::new().set_bold();
        for (col, h) in HEADERS.iter().enumerate() {
            let col = u16::try_from(col).unwrap_or(0);
            ws.write_string_with_format(0, col, *h, &bold).map_err(xlsx_err)?;
            ws.set_column_width(col, 16).map_err(xlsx_err)?;
        }
        for (i, r) in rows.iter().enumerate() {
            let row = u32::try_from(i + 1).unwrap_or(u32::MAX);
            for (col, cell) in r.iter().enumerate() {
                ws.write_string(row, u16::try_from(col).unwrap_or(0), cell).map_err(xlsx_err)?;
            }
        }
        book.save_to_buffer().map_err(xlsx_err)
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))??;
    let (actor, now) = (user.id, state.clock.now());
    state
        .db
        .write(move |c| {
            audit::record(
                c,
                now,
                &AuditEntry {
                    actor_id: Some(actor),
                    action: "export",
                    entity: "complaint",
                    entity_id: None,
                    detail: format!("{n} complaints as xlsx"),
                    ip: ip.as_deref(),
                },
            )
        })
        .await?;
    Ok(bytes)
}
