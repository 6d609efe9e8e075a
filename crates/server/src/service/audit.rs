//! The audit log for admins (SPEC S3): search by actor, record, action and
//! date range in keyset pages, and export as CSV or Excel. Only admins read
//! the log; each export is itself written to it.

use guanxi_domain::{Issue, ValidationErrors};
use guanxi_store::audit::{self, AuditEntry, AuditFilter, AuditRow};
use guanxi_store::users::User;
use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::error::{AppError, AppResult};
use crate::import::FileFormat;
use crate::state::AppState;

/// Entries per page unless the caller asks for another size (1–200).
pub const PAGE: i64 = 50;
/// An export holds at most this many entries (narrow the filter for more).
pub const EXPORT_MAX: usize = 100_000;

/// The search as the query string gives it; every field optional.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct AuditQuery {
    pub actor_id: Option<String>,
    pub entity: Option<String>,
    pub entity_id: Option<String>,
    pub action: Option<String>,
    /// `YYYY-MM-DD` (from the start of that day, business time zone) or RFC 3339.
    pub from: Option<String>,
    /// `YYYY-MM-DD` (to the end of that day) or RFC 3339 (exclusive).
    pub until: Option<String>,
    /// The `next` cursor of the previous page.
    pub before: Option<String>,
    pub limit: Option<String>,
}

fn present(v: Option<&String>) -> Option<&str> {
    v.map(|s| s.trim()).filter(|s| !s.is_empty())
}

/// A day boundary or an instant: a bare date means the start of that day
/// (`end`: the start of the next day) in the business time zone.
pub(crate) fn instant(raw: &str, tz: &TimeZone, end: bool) -> Result<Timestamp, Issue> {
    if let Ok(ts) = raw.parse::<Timestamp>() {
        return Ok(ts);
    }
    let d: jiff::civil::Date = raw.parse().map_err(|_| Issue::InvalidDate)?;
    if !(1900..=2100).contains(&d.year()) {
        return Err(Issue::OutOfRange);
    }
    let d = if end { d.tomorrow().map_err(|_| Issue::OutOfRange)? } else { d };
    d.to_zoned(tz.clone()).map(|z| z.timestamp()).map_err(|_| Issue::InvalidDate)
}

/// Parses the query into a store filter and a page size; each bad field is
/// named with its reason.
pub fn parse(q: &AuditQuery, tz: &TimeZone) -> Result<(AuditFilter, i64), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let mut f = AuditFilter::default();
    let mut int = |field: &str, v: Option<&String>| -> Option<i64> {
        let s = present(v)?;
        match s.parse::<i64>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                errors.add(field, Issue::NotPositive);
                None
            }
        }
    };
    f.actor_id = int("actor_id", q.actor_id.as_ref());
    f.entity_id = int("entity_id", q.entity_id.as_ref());
    let limit = int("limit", q.limit.as_ref()).unwrap_or(PAGE);
    if !(1..=200).contains(&limit) {
        errors.add("limit", Issue::OutOfRange);
    }
    for (field, v, out) in [("entity", &q.entity, &mut f.entity), ("action", &q.action, &mut f.action)] {
        if let Some(s) = present(v.as_ref()) {
            if s.chars().count() > 64 {
                errors.add(field, Issue::TooLong { max: 64 });
            } else {
                *out = Some(s.to_string());
            }
        }
    }
    if let Some(s) = present(q.from.as_ref()) {
        match instant(s, tz, false) {
            Ok(t) => f.from = Some(t),
            Err(i) => errors.add("from", i),
        }
    }
    if let Some(s) = present(q.until.as_ref()) {
        match instant(s, tz, true) {
            Ok(t) if f.from.is_some_and(|from| t <= from) => errors.add("until", Issue::BeforeStart),
            Ok(t) => f.until = Some(t),
            Err(i) => errors.add("until", i),
        }
    }
    if let Some(s) = present(q.before.as_ref()) {
        match s.split_once('.').and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?))) {
            Some(cursor) => f.before = Some(cursor),
            None => errors.add("before", Issue::Unknown),
        }
    }
    if errors.is_empty() { Ok((f, limit)) } else { Err(errors) }
}

fn require_admin(actor: &User) -> AppResult<()> {
    if actor.role.can_administer_users() { Ok(()) } else { Err(AppError::Forbidden) }
}

/// One page of entries, newest first, and the cursor of the next page.
pub async fn search(
    state: &AppState,
    actor: &User,
    filter: AuditFilter,
    limit: i64,
) -> AppResult<(Vec<AuditRow>, Option<String>)> {
    require_admin(actor)?;
    let rows = state.db.read(move |c| audit::search(c, &filter, limit + 1)).await?;
    Ok(page(rows, limit))
}

fn page(mut rows: Vec<AuditRow>, limit: i64) -> (Vec<AuditRow>, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(0);
    let next = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|r| format!("{}.{}", r.at, r.id))
    } else {
        None
    };
    (rows, next)
}

/// The search form's choices: the entities and actions the log holds.
pub async fn vocabulary(state: &AppState, actor: &User) -> AppResult<(Vec<String>, Vec<String>)> {
    require_admin(actor)?;
    Ok(state.db.read(audit::vocabulary).await?)
}

pub const HEADERS: &[&str] = &["时间", "操作人", "操作人ID", "动作", "对象", "对象ID", "详情", "来源地址"];

/// The local time of an entry, as the page and the export show it.
pub fn local_time(at_ms: i64, tz: &TimeZone) -> String {
    Timestamp::from_millisecond(at_ms)
        .map(|t| t.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

fn cells(r: &AuditRow, tz: &TimeZone) -> Vec<String> {
    vec![
        local_time(r.at, tz),
        r.actor_name.clone().unwrap_or_default(),
        r.actor_id.map(|a| a.to_string()).unwrap_or_default(),
        r.action.clone(),
        r.entity.clone(),
        r.entity_id.map(|a| a.to_string()).unwrap_or_default(),
        r.detail.clone(),
        r.ip.clone().unwrap_or_default(),
    ]
}

/// A spreadsheet runs a CSV cell that starts with `=`, `+`, `-` or `@`.
fn defuse(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{cell}") } else { cell }
}

fn internal<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> AppError {
    move |e| AppError::Internal(format!("{what}: {e}"))
}

/// Every entry matching `filter` (at most [`EXPORT_MAX`]), newest first, as
/// a file; the export is written to the log with its filter.
pub async fn export(
    state: &AppState,
    actor: &User,
    filter: AuditFilter,
    format: FileFormat,
    ip: Option<String>,
) -> AppResult<Vec<u8>> {
    require_admin(actor)?;
    let tz = state.config.time_zone.clone();
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut f = filter.clone();
    while rows.len() < EXPORT_MAX {
        let g = f.clone();
        let batch = state.db.read(move |c| audit::search(c, &g, 1000)).await?;
        let Some(last) = batch.last() else { break };
        f.before = Some((last.at, last.id));
        let done = batch.len() < 1000;
        rows.extend(batch.iter().map(|r| cells(r, &tz)));
        if done {
            break;
        }
    }
    rows.truncate(EXPORT_MAX);
    let bytes = match format {
        FileFormat::Csv => {
            let mut buf = b"\xEF\xBB\xBF".to_vec();
            {
                let mut w = csv::WriterBuilder::new().from_writer(&mut buf);
                w.write_record(HEADERS).map_err(internal("csv"))?;
                for r in rows.iter() {
                    w.write_record(r.iter().cloned().map(defuse)).map_err(internal("csv"))?;
                }
                w.flush().map_err(internal("csv"))?;
            }
            buf
        }
        FileFormat::Xlsx => {
            let mut book = rust_xlsxwriter::Workbook::new();
            let ws = book.add_worksheet();
            ws.set_name("审计日志").map_err(internal("xlsx"))?;
            ws.set_freeze_panes(1, 0).map_err(internal("xlsx"))?;
            let bold = rust_xlsxwriter::Format::new().set_bold();
            for (col, h) in HEADERS.iter().enumerate() {
                let col = u16::try_from(col).unwrap_or(0);
                ws.write_string_with_format(0, col, *h, &bold).map_err(internal("xlsx"))?;
                ws.set_column_width(col, if *h == "详情" { 60 } else { 18 }).map_err(internal("xlsx"))?;
            }
            for (i, r) in rows.iter().enumerate() {
                let row = u32::try_from(i + 1).unwrap_or(u32::MAX);
                for (col, cell) in r.iter().enumerate() {
                    if !cell.is_empty() {
                        ws.write_string(row, u16::try_from(col).unwrap_or(0), cell).map_err(internal("xlsx"))?;
                    }
                }
            }
            book.save_to_buffer().map_err(internal("xlsx"))?
        }
    };
    let detail = serde_json::json!({
        "rows": rows.len(),
        "format": match format { FileFormat::Csv => "csv", FileFormat::Xlsx => "xlsx" },
        "actor_id": filter.actor_id, "entity": filter.entity, "entity_id": filter.entity_id,
        "action": filter.action,
        "from": filter.from.map(|t| t.to_string()), "until": filter.until.map(|t| t.to_string()),
    })
    .to_string();
    let (actor_id, now) = (actor.id, state.clock.now());
    state
        .db
        .write(move |c| {
            audit::record(
                c,
                now,
                &AuditEntry {
                    actor_id: Some(actor_id),
                    action: "export",
                    entity: "audit_log",
                    entity_id: None,
                    detail,
                    ip: ip.as_deref(),
                },
            )
        })
        .await?;
    Ok(bytes)
}
