//! Import of customers, contacts and orders from CSV and Excel files
//! (SPEC C9), shared by `POST /api/v1/import/{kind}` and `guanxi import`.
//!
//! 1. The file is read into rows of text ([`table`]) and its headers are
//!    mapped to fields ([`fields`]): field names, Chinese aliases such as
//!    客户名称 or 联系电话, and the user's `column=field` overrides.
//! 2. Every row is parsed with the domain parsers, and what only the
//!    database knows is looked up in batches of [`BATCH`] rows (`IN (…)`
//!    queries of 500 keys): the customer a row names, the record it
//!    updates, the owner. (Customers are parsed a batch at a time too, so
//!    that only the plan of what to write is kept for the whole file.)
//!    Every bad cell is reported with its row number as a spreadsheet shows
//!    it, its column and the reason. One bad row and nothing is written.
//! 3. Otherwise the rows are written [`BATCH`] per transaction (customers
//!    [`CUSTOMER_WRITE_BATCH`]). Customers are
//!    matched by 客户编号 (`code`) or `external_id` and updated (a column
//!    missing from the file keeps its value; an empty cell clears it; a
//!    masked phone or email equal to the stored one keeps it), else
//!    inserted. Contacts are matched by name within their customer. Orders
//!    are idempotent by their `external_id`, which the file must give. A
//!    record the file does not change is not touched, so importing the same
//!    file twice changes nothing the second time.
//!
//! Checks and writes are separate transactions: a concurrent edit between
//! them can still refuse a batch, and the batches before it stay written.

mod contacts;
mod customers;
mod fields;
mod orders;
pub mod table;

use guanxi_domain::{Lang, ValidationErrors};
use guanxi_store::users::User;
use serde::Serialize;

use self::fields::{Mapping, Problem, Reason};
pub use self::table::{CSV_MIME, FileFormat, XLSX_MIME};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Rows per write transaction and per lookup query.
pub const BATCH: usize = 10_000;
/// `items` in order, [`BATCH`] at a time, each moved out once (draining
/// batches from the front of a long vector would move the rest each time).
fn batches<T>(items: Vec<T>) -> impl Iterator<Item = Vec<T>> {
    batches_of(items, BATCH)
}

/// `items` in order, `size` at a time (see [`batches`]).
fn batches_of<T>(items: Vec<T>, size: usize) -> impl Iterator<Item = Vec<T>> {
    let mut it = items.into_iter();
    let size = size.max(1);
    std::iter::from_fn(move || {
        let batch: Vec<T> = it.by_ref().take(size).collect();
        (!batch.is_empty()).then_some(batch)
    })
}

/// The most data rows one file may have (`guanxi import`).
pub const MAX_ROWS: usize = 1_000_000;
/// The most data rows of a file sent to the API, so that an import ends
/// well within the request timeout even on PostgreSQL.
pub const MAX_API_ROWS: usize = 50_000;
/// The largest file `POST /api/v1/import/{kind}` accepts.
pub const MAX_UPLOAD_BYTES: usize = 20 * 1024 * 1024;
/// The most row errors a report lists (`bad_rows` counts them all).
pub const MAX_REPORTED_ERRORS: usize = 1_000;

/// What is imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    Customers,
    Contacts,
    Orders,
}

impl ImportKind {
    pub const ALL: &'static [ImportKind] = &[Self::Customers, Self::Contacts, Self::Orders];

    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim() {
            "customers" => Some(Self::Customers),
            "contacts" => Some(Self::Contacts),
            "orders" => Some(Self::Orders),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::Customers => "customers",
            Self::Contacts => "contacts",
            Self::Orders => "orders",
        }
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            Self::Customers => lang.pick("客户", "Customers"),
            Self::Contacts => lang.pick("联系人", "Contacts"),
            Self::Orders => lang.pick("订单", "Orders"),
        }
    }

    fn field_list(self) -> &'static [fields::Field] {
        match self {
            Self::Customers => customers::FIELDS,
            Self::Contacts => contacts::FIELDS,
            Self::Orders => orders::FIELDS,
        }
    }

    /// The fields a file may have, with their aliases (for help texts).
    pub fn fields(self) -> Vec<(&'static str, &'static [&'static str])> {
        self.field_list().iter().filter(|f| f.kind != fields::CellKind::Ignored).map(|f| (f.name, f.aliases)).collect()
    }

    /// The columns a file must have: one field of each group (contacts and
    /// orders name their customer by code or by external id). A missing
    /// group is reported under its first field.
    pub fn required(self) -> &'static [&'static [&'static str]] {
        const CUSTOMER: &[&str] = &["customer_code", "customer_external_id"];
        match self {
            Self::Customers => &[&["name"]],
            Self::Contacts => &[CUSTOMER, &["name"]],
            Self::Orders => &[CUSTOMER, &["ordered_on"], &["amount"], &["external_id"]],
        }
    }
}

#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Check and report only; write nothing.
    pub dry_run: bool,
    /// `(column, field)` overrides; a field of `-` or empty ignores the column.
    pub mapping: Vec<(String, String)>,
    /// The language of the report's messages.
    pub lang: Lang,
    /// The caller's address, for the audit log.
    pub ip: Option<String>,
    /// The most data rows accepted (a longer file is refused whole).
    pub max_rows: usize,
    /// Customers written per transaction ([`CUSTOMER_WRITE_BATCH`]).
    pub customer_write_batch: usize,
}

/// Customers per write transaction. New customers' name grams and phone
/// digests land all over their indexes, so each transaction rewrites a
/// share of those indexes' pages that grows with them; five times fewer
/// transactions than [`BATCH`] write each page about five times less
/// often (see BENCHMARKS.md, Import).
pub const CUSTOMER_WRITE_BATCH: usize = 5 * BATCH;

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            mapping: Vec::new(),
            lang: Lang::default(),
            ip: None,
            max_rows: MAX_ROWS,
            customer_write_batch: CUSTOMER_WRITE_BATCH,
        }
    }
}

/// One refused cell, column or row.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RowError {
    /// The row as a spreadsheet numbers it: the header is row 1.
    pub row: usize,
    /// The column's header as in the file (or its letter when it has none).
    pub column: String,
    /// The field the column maps to, when known.
    pub field: Option<String>,
    /// A stable code, e.g. `invalid_phone`, `unknown_column`.
    pub code: String,
    /// The reason in the requested language.
    pub message: String,
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub kind: ImportKind,
    pub dry_run: bool,
    /// Data rows in the file (blank rows are not counted).
    pub rows: usize,
    pub inserted: usize,
    pub updated: usize,
    /// Rows whose record already exists as the file says (nothing written).
    pub unchanged: usize,
    /// How many rows (or the header) have errors. When not 0, nothing was written.
    pub bad_rows: usize,
    /// The errors, in row order; at most 1000.
    pub errors: Vec<RowError>,
}

impl ImportReport {
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Reports progress: rows done, rows in all.
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Sync);

/// Counts of a finished import.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    inserted: usize,
    updated: usize,
    unchanged: usize,
}

/// Everything a kind's import needs.
struct Cx<'a> {
    state: &'a AppState,
    actor: &'a User,
    dry_run: bool,
    ip: Option<String>,
    progress: Progress<'a>,
    customer_write_batch: usize,
}

impl Cx<'_> {
    fn today(&self) -> jiff::civil::Date {
        self.state.today()
    }
}

/// Imports a file. Bad rows are not an error: the report lists them and
/// nothing is written. An unreadable file is a `BadRequest`.
pub async fn import_file(
    state: &AppState,
    actor: &User,
    kind: ImportKind,
    format: FileFormat,
    bytes: Vec<u8>,
    opts: &ImportOptions,
    progress: Progress<'_>,
) -> AppResult<ImportReport> {
    if !actor.role.can_import() {
        return Err(AppError::Forbidden);
    }
    let max_rows = opts.max_rows;
    let table = tokio::task::spawn_blocking(move || table::read(format, &bytes, max_rows))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|e| AppError::BadRequest(e.message(opts.lang)))?;
    let mut problems = Vec::new();
    let mapping = Mapping::resolve(&table, kind.field_list(), &opts.mapping, &mut problems);
    for group in kind.required() {
        if let Some(first) = group.first()
            && !group.iter().any(|f| mapping.has(f))
        {
            mapping.require(first, &mut problems);
        }
    }
    if table.rows.is_empty() && problems.is_empty() {
        problems.push(Problem { row: 2, column: String::new(), field: None, reason: Reason::NoRows });
    }
    let rows = table.rows.len();
    let mut report = ImportReport {
        kind,
        dry_run: opts.dry_run,
        rows,
        inserted: 0,
        updated: 0,
        unchanged: 0,
        bad_rows: 0,
        errors: Vec::new(),
    };
    // Without a required column every row would be refused for it: report
    // the header alone. Other header problems are reported with the rows'.
    if problems.iter().any(|p| matches!(p.reason, Reason::MissingColumn | Reason::NoRows)) {
        return Ok(with_problems(report, problems, opts.lang));
    }
    let header_ok = problems.is_empty();
    let cx = Cx {
        state,
        actor,
        dry_run: opts.dry_run || !header_ok,
        ip: opts.ip.clone(),
        progress,
        customer_write_batch: opts.customer_write_batch,
    };
    let outcome = match kind {
        ImportKind::Customers => customers::run(&cx, table, mapping).await?,
        ImportKind::Contacts => contacts::run(&cx, table, mapping).await?,
        ImportKind::Orders => orders::run(&cx, table, mapping).await?,
    };
    match outcome {
        Err(rows) => {
            problems.extend(rows);
            Ok(with_problems(report, problems, opts.lang))
        }
        Ok(_) if !header_ok => Ok(with_problems(report, problems, opts.lang)),
        Ok(counts) => {
            report.inserted = counts.inserted;
            report.updated = counts.updated;
            report.unchanged = counts.unchanged;
            Ok(report)
        }
    }
}

/// [`import_file`] for a request (the API's and the import page's): the
/// import runs as its own task, so that once started it finishes even if the
/// client goes away or the request times out, instead of stopping between
/// two batches. Files sent over HTTP are limited to [`MAX_API_ROWS`].
pub async fn import_upload(
    state: &AppState,
    actor: User,
    kind: ImportKind,
    format: FileFormat,
    bytes: Vec<u8>,
    opts: ImportOptions,
) -> AppResult<ImportReport> {
    let st = state.clone();
    let opts = ImportOptions { max_rows: opts.max_rows.min(MAX_API_ROWS), ..opts };
    tokio::spawn(async move { import_file(&st, &actor, kind, format, bytes, &opts, &|_, _| {}).await })
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
}

/// One `column=field` entry of a column mapping (the API's `map`
/// parameter, a line of the import page's mapping box); None without an
/// `=` or a column. A field of `-` or nothing ignores the column.
pub fn mapping_entry(raw: &str) -> Option<(String, String)> {
    let (column, field) = raw.split_once('=')?;
    let column = column.trim();
    (!column.is_empty()).then(|| (column.to_string(), field.trim().to_string()))
}

fn with_problems(mut report: ImportReport, mut problems: Vec<Problem>, lang: Lang) -> ImportReport {
    problems.sort_by_key(|p| p.row);
    report.bad_rows = fields::bad_rows(&problems);
    report.errors = problems
        .into_iter()
        .take(MAX_REPORTED_ERRORS)
        .map(|p| RowError {
            row: p.row,
            column: p.column,
            field: p.field,
            code: p.reason.code().into(),
            message: p.reason.message(lang),
        })
        .collect();
    report
}

/// Adds a row's field errors, each under the column that holds its field.
fn push_field_errors(problems: &mut Vec<Problem>, line: usize, mapping: &Mapping, errors: ValidationErrors) {
    for e in errors.0 {
        problems.push(Problem {
            row: line,
            column: mapping.column(&e.field),
            field: Some(e.field),
            reason: e.issue.into(),
        });
    }
}

fn problem(line: usize, mapping: &Mapping, field: &str, reason: impl Into<Reason>) -> Problem {
    Problem { row: line, column: mapping.column(field), field: Some(field.into()), reason: reason.into() }
}

/// The customer a contact or order row names: by code, else by external id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum CustomerRef {
    Code(String),
    External(String),
}

impl CustomerRef {
    fn from_row(
        mapping: &Mapping,
        cells: &[String],
        list: &'static [fields::Field],
        line: usize,
    ) -> Result<Self, Problem> {
        let code = mapping.cell(cells, fields::field(list, "customer_code")).filter(|s| !s.is_empty());
        let ext = mapping.cell(cells, fields::field(list, "customer_external_id")).filter(|s| !s.is_empty());
        match (code, ext) {
            (Some(code), _) => guanxi_domain::customer::CustomerCode::parse(&code)
                .map(|c| CustomerRef::Code(c.as_str().to_string()))
                .map_err(|i| problem(line, mapping, "customer_code", i)),
            (None, Some(ext)) => Ok(CustomerRef::External(ext)),
            (None, None) => {
                let f = if mapping.has("customer_code") { "customer_code" } else { "customer_external_id" };
                Err(problem(line, mapping, f, guanxi_domain::Issue::Required))
            }
        }
    }

    fn field(&self) -> &'static str {
        match self {
            CustomerRef::Code(_) => "customer_code",
            CustomerRef::External(_) => "customer_external_id",
        }
    }
}

/// Looks up the customer ids of references, one query per 500 keys.
async fn resolve_customers(
    state: &AppState,
    refs: Vec<CustomerRef>,
) -> AppResult<std::collections::HashMap<CustomerRef, i64>> {
    let mut codes = Vec::new();
    let mut exts = Vec::new();
    for r in refs {
        match r {
            CustomerRef::Code(c) => codes.push(c),
            CustomerRef::External(e) => exts.push(e),
        }
    }
    codes.sort_unstable();
    codes.dedup();
    exts.sort_unstable();
    exts.dedup();
    let (by_code, by_ext) =
        state.db.read(move |c| guanxi_store::customers::ids_by_codes_or_external_ids(c, &codes, &exts)).await?;
    let mut out: std::collections::HashMap<CustomerRef, i64> =
        by_code.into_iter().map(|(k, v)| (CustomerRef::Code(k), v)).collect();
    out.extend(by_ext.into_iter().map(|(k, v)| (CustomerRef::External(k), v)));
    Ok(out)
}

/// `rows 2–501` for the audit log.
fn row_span(lines: &[usize]) -> String {
    match (lines.iter().min(), lines.iter().max()) {
        (Some(a), Some(b)) if a != b => format!("rows {a}–{b}"),
        (Some(a), _) => format!("row {a}"),
        _ => "no rows".into(),
    }
}

/// The audit entry of one written batch.
fn audit_batch(
    c: &mut guanxi_store::Conn,
    now: jiff::Timestamp,
    actor_id: i64,
    entity: &str,
    lines: &[usize],
    counts: Counts,
    ip: Option<&str>,
) -> guanxi_store::Result<()> {
    if counts.inserted + counts.updated == 0 {
        return Ok(());
    }
    guanxi_store::audit::record(
        c,
        now,
        &guanxi_store::audit::AuditEntry {
            actor_id: Some(actor_id),
            action: "import",
            entity,
            entity_id: None,
            detail: format!("{}: {} inserted, {} updated", row_span(lines), counts.inserted, counts.updated),
            ip,
        },
    )
}
