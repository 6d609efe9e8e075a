//! The investigation report (投诉核查报告, P3) of one complaint: the
//! complaint as registered, the responsible department, the responsible
//! party, the root cause, the evidence (lines and the ticket's files), the
//! investigation deadline and how it was kept, and the solution when there
//! is one — as a printable page and as an Excel file with the same rows.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use guanxi_domain::Lang;
use guanxi_domain::complaint::DeadlineKind;
use minijinja::context;

use super::view::local;
use crate::auth::PageUser;
use crate::error::{AppError, AppResult};
use crate::lang::ReqLang;
use crate::service::complaints::{self as svc, ComplaintDetail};
use crate::state::AppState;
use crate::web::{page_ctx, render};

/// The report's rows, (label, value), in order: the page and the file show the same.
fn rows(d: &ComplaintDetail, state: &AppState, lang: Lang) -> Vec<(String, String)> {
    let p = &d.complaint;
    let none = || "—".to_string();
    let at = |t: Option<jiff::Timestamp>| t.map_or_else(none, |t| local(t, state));
    let inv = p.deadlines.get(DeadlineKind::Investigation);
    let kept = inv.map_or_else(none, |dl| {
        let st = match dl.state(state.clock.now()) {
            "met" => lang.pick("按时完成", "met in time"),
            "late" => lang.pick("超时完成", "met late"),
            "overdue" => lang.pick("已超时", "overdue"),
            "paused" => lang.pick("暂停（等待客户）", "paused (waiting for the customer)"),
            _ => lang.pick("进行中", "running"),
        };
        format!("{} {} · {st}", lang.pick("截止", "due"), local(dl.due_at, state))
    });
    let evidence: Vec<String> =
        p.evidence.as_deref().unwrap_or("").lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect();
    let files: Vec<String> = d.attachments.iter().map(|a| a.file_name.clone()).collect();
    let l = |zh: &str, en: &str| lang.pick(zh, en).to_string();
    vec![
        (l("投诉编号", "Complaint number"), p.number.clone()),
        (l("客户", "Customer"), format!("{}（{}）", p.customer_name, p.customer_code)),
        (l("接收时间", "Received"), local(p.received_at, state)),
        (l("问题类别", "Category"), p.category.label(lang).to_string()),
        (l("诉求类型", "Demand type"), p.demand_type.label(lang).to_string()),
        (l("紧急程度", "Urgency"), p.urgency.label(lang).to_string()),
        (l("投诉内容", "Complaint"), format!("{}\n{}", p.subject, p.description).trim().to_string()),
        (l("责任部门", "Responsible department"), p.department_name.clone().unwrap_or_else(none)),
        (l("核查人", "Investigated by"), p.handler_name.clone().unwrap_or_else(none)),
        (l("核查时限", "Investigation deadline"), kept),
        (l("核查完成时间", "Investigated at"), at(p.investigated_at)),
        (l("责任方", "Responsible party"), p.responsible_party.map_or_else(none, |r| r.label(lang).to_string())),
        (l("根本原因", "Root cause"), p.root_cause.clone().unwrap_or_else(none)),
        (l("证据", "Evidence"), if evidence.is_empty() { none() } else { evidence.join("\n") }),
        (l("证据附件", "Evidence files"), if files.is_empty() { none() } else { files.join("\n") }),
        (l("处理方案", "Solution"), p.solution.clone().unwrap_or_else(none)),
        (
            l("补偿", "Compensation"),
            guanxi_domain::complaint::compensation::summary(&p.compensation, lang).unwrap_or_else(none),
        ),
        (l("当前状态", "State"), p.state.label(lang).to_string()),
    ]
}

pub async fn page(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    Path(id): Path<i64>,
) -> AppResult<Html<String>> {
    let d = svc::detail(&state, &u.user, id).await?;
    let p = &d.complaint;
    let title = format!("{} · {}", lang.pick("投诉核查报告", "Investigation report"), p.number);
    let ctx = context! { ..page_ctx(&u, lang, "complaints", &title), ..context! {
        id => p.id, number => p.number, investigated => p.investigated_at.is_some(),
        rows => rows(&d, &state, lang).into_iter().map(|(k, v)| context! { label => k, value => v }).collect::<Vec<_>>(),
        files => d.attachments.iter().map(|a| context! { name => a.file_name, href => format!("/tickets/{}/attachments/{}", p.ticket_id, a.id) }).collect::<Vec<_>>(),
        printed => local(state.clock.now(), &state),
    }};
    render(&state, "complaints/report.html", ctx)
}

pub async fn xlsx(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let d = svc::detail(&state, &u.user, id).await?;
    let rows = rows(&d, &state, lang);
    let build = || -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
        use rust_xlsxwriter::{Format, Workbook};
        let mut book = Workbook::new();
        let sheet = book.add_worksheet();
        sheet.set_name(lang.pick("投诉核查报告", "Investigation report"))?;
        let bold = Format::new().set_bold();
        let wrap = Format::new().set_text_wrap();
        sheet.write_string_with_format(0, 0, lang.pick("投诉核查报告", "Investigation report"), &bold)?;
        for (i, (k, v)) in rows.iter().enumerate() {
            let r = u32::try_from(i).unwrap_or(0) + 2;
            sheet.write_string_with_format(r, 0, k, &bold)?;
            sheet.write_string_with_format(r, 1, v, &wrap)?;
        }
        sheet.set_column_width(0, 18)?;
        sheet.set_column_width(1, 70)?;
        book.save_to_buffer()
    };
    let bytes = build().map_err(|e| AppError::Internal(e.to_string()))?;
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(crate::import::XLSX_MIME));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}-report.xlsx\"", d.complaint.number)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}
