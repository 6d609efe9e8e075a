//! Export of the customer list (SPEC C9) as CSV or Excel: Chinese headers,
//! vocabulary values as their Chinese labels, personal data masked exactly
//! as the list shows it (an export never decrypts anything). The headers
//! are ones the import understands, so an exported file can be edited and
//! imported again: rows match by 客户编号, and a masked phone or email
//! left as it is keeps the stored value.

use guanxi_domain::Lang;
use guanxi_domain::customer::{Channel, CustomerKind, LifecycleStage, Scale};
use guanxi_store::audit::{self, AuditEntry};
use guanxi_store::customers::{self, Customer, CustomerFilter, CustomerSort};
use guanxi_store::users::User;

use crate::error::{AppError, AppResult};
pub use crate::import::FileFormat;
use crate::service::customer_scope;
use crate::state::AppState;

/// Customers read per database round trip.
pub const PAGE: usize = 1000;

pub const HEADERS: &[&str] = &[
    "客户编号",
    "客户名称",
    "客户类型",
    "所属行业",
    "企业规模",
    "地区",
    "联系电话",
    "联系邮箱",
    "负责人",
    "生命周期阶段",
    "偏好渠道",
    "偏好联系时段",
    "营销授权",
    "合作开始",
    "首次购买",
    "最近合作时间",
    "合同到期",
    "续约日期",
    "资料核实日期",
    "标签",
    "外部编号",
    "决策链备注",
    "备注",
    "创建时间",
    "更新时间",
];

fn label<T: Copy>(
    code: &str,
    parse: fn(&str) -> Result<T, guanxi_domain::Issue>,
    label: fn(T, Lang) -> &'static str,
) -> String {
    parse(code).map_or_else(|_| code.to_string(), |v| label(v, Lang::Zh).to_string())
}

fn row(c: &Customer, tz: &jiff::tz::TimeZone) -> Vec<String> {
    let d = |x: Option<jiff::civil::Date>| x.map(|x| x.to_string()).unwrap_or_default();
    let o = |x: &Option<String>| x.clone().unwrap_or_default();
    let t = |x: jiff::Timestamp| x.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M").to_string();
    vec![
        c.code.clone(),
        c.name.clone(),
        label(&c.kind, CustomerKind::parse, CustomerKind::label),
        o(&c.industry),
        c.scale.as_deref().map(|s| label(s, Scale::parse, Scale::label)).unwrap_or_default(),
        o(&c.region),
        o(&c.phone_masked),
        o(&c.email_masked),
        o(&c.owner_name),
        label(&c.stage, LifecycleStage::parse, LifecycleStage::label),
        c.preferred_channel.as_deref().map(|s| label(s, Channel::parse, Channel::label)).unwrap_or_default(),
        o(&c.contact_window),
        if c.marketing_consent { "是" } else { "否" }.to_string(),
        d(c.cooperation_start),
        d(c.first_purchase_on),
        d(c.last_cooperation_on),
        d(c.contract_end),
        d(c.renewal_date),
        d(c.verified_on),
        c.tags.join(", "),
        o(&c.external_id),
        o(&c.decision_chain),
        o(&c.notes),
        t(c.created_at),
        t(c.updated_at),
    ]
}

/// A spreadsheet runs a CSV cell that starts with `=`, `+`, `-` or `@` as
/// a formula; a leading apostrophe keeps it text (the import drops it).
fn defuse(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{cell}") } else { cell }
}

enum Sink {
    Csv(Box<csv::Writer<Vec<u8>>>),
    Xlsx(Box<rust_xlsxwriter::Worksheet>, u32),
}

fn xlsx_err(e: rust_xlsxwriter::XlsxError) -> AppError {
    AppError::Internal(format!("xlsx: {e}"))
}

impl Sink {
    fn new(format: FileFormat) -> AppResult<Self> {
        Ok(match format {
            FileFormat::Csv => {
                // UTF-8 with a BOM: Excel then reads the Chinese correctly.
                let mut buf = Vec::with_capacity(64 * 1024);
                buf.extend_from_slice(b"\xEF\xBB\xBF");
                Sink::Csv(Box::new(csv::WriterBuilder::new().from_writer(buf)))
            }
            FileFormat::Xlsx => {
                let mut ws = rust_xlsxwriter::Worksheet::new();
                ws.set_name("客户").map_err(xlsx_err)?;
                ws.set_freeze_panes(1, 0).map_err(xlsx_err)?;
                for (i, h) in HEADERS.iter().enumerate() {
                    let width = match *h {
                        "客户名称" | "备注" | "决策链备注" | "标签" => 24,
                        "联系邮箱" | "创建时间" | "更新时间" => 18,
                        _ => 13,
                    };
                    ws.set_column_width(u16::try_from(i).unwrap_or(0), width).map_err(xlsx_err)?;
                }
                Sink::Xlsx(Box::new(ws), 0)
            }
        })
    }

    fn write(&mut self, cells: Vec<String>, header: bool) -> AppResult<()> {
        match self {
            Sink::Csv(w) => {
                w.write_record(cells.into_iter().map(defuse)).map_err(|e| AppError::Internal(format!("csv: {e}")))
            }
            Sink::Xlsx(ws, row) => {
                let bold = rust_xlsxwriter::Format::new().set_bold();
                for (col, cell) in cells.into_iter().enumerate() {
                    let col = u16::try_from(col).unwrap_or(u16::MAX);
                    if header {
                        ws.write_string_with_format(*row, col, cell, &bold).map_err(xlsx_err)?;
                    } else if !cell.is_empty() {
                        // Always text: never a formula, and phone-like values keep their digits.
                        ws.write_string(*row, col, cell).map_err(xlsx_err)?;
                    }
                }
                *row += 1;
                Ok(())
            }
        }
    }

    fn finish(self) -> AppResult<Vec<u8>> {
        match self {
            Sink::Csv(w) => w.into_inner().map_err(|e| AppError::Internal(format!("csv: {e}"))),
            Sink::Xlsx(ws, _) => {
                let mut book = rust_xlsxwriter::Workbook::new();
                book.push_worksheet(*ws);
                book.save_to_buffer().map_err(xlsx_err)
            }
        }
    }
}

/// Exports the customers in the caller's scope that match `filter` (its
/// page and sort are ignored: every match, by code). Each export is
/// written to the audit log.
pub async fn export_customers(
    state: &AppState,
    actor: &User,
    mut filter: CustomerFilter,
    format: FileFormat,
    ip: Option<String>,
) -> AppResult<Vec<u8>> {
    if let Some(q) = filter.q.as_deref() {
        filter.contact = state.cipher.contact_lookup_for_query(q);
    }
    // Code order: new customers only append, so paging stays stable.
    filter.sort = CustomerSort::CodeAsc;
    let store_page: i64 = 200; // the store's largest page
    let per_round = i64::try_from(PAGE).unwrap_or(1000) / store_page;
    let mut sink = Sink::new(format)?;
    sink.write(HEADERS.iter().map(|h| (*h).to_string()).collect(), true)?;
    let tz = state.config.time_zone.clone();
    let mut rows = 0usize;
    let mut round = 0i64;
    loop {
        let actor2 = actor.clone();
        let f = filter.clone();
        // One round trip reads up to PAGE customers.
        let batch: Vec<Customer> = state
            .db
            .read(move |c| {
                let scope = customer_scope(c, &actor2)?;
                let mut out = Vec::new();
                for i in 0..per_round {
                    let page = customers::list(
                        c,
                        &scope,
                        &CustomerFilter { page: round * per_round + i + 1, per_page: store_page, ..f.clone() },
                    )?;
                    let last = page.items.len() < usize::try_from(store_page).unwrap_or(200);
                    out.extend(page.items);
                    if last {
                        break;
                    }
                }
                Ok(out)
            })
            .await?;
        let n = batch.len();
        for c in &batch {
            sink.write(row(c, &tz), false)?;
        }
        rows += n;
        round += 1;
        if n < PAGE {
            break;
        }
    }
    let bytes = match format {
        FileFormat::Xlsx => tokio::task::spawn_blocking(move || sink.finish())
            .await
            .map_err(|e| AppError::Internal(e.to_string()))??,
        FileFormat::Csv => sink.finish()?,
    };
    let actor_id = actor.id;
    let now = state.clock.now();
    let detail = format!("{rows} customers as {}", format.code());
    state
        .db
        .write(move |c| {
            audit::record(
                c,
                now,
                &AuditEntry {
                    actor_id: Some(actor_id),
                    action: "export",
                    entity: "customer",
                    entity_id: None,
                    detail,
                    ip: ip.as_deref(),
                },
            )
        })
        .await?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused() {
        assert_eq!(defuse("=HYPERLINK(\"x\")".into()), "'=HYPERLINK(\"x\")");
        assert_eq!(defuse("北京".into()), "北京");
    }
}
