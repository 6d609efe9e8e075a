//! The monthly complaint review page (投诉复盘, P7): a month picker, the
//! month's figures (complaints, 超时率, average handling time, batches),
//! high-frequency problems by category as a Pareto table and chart (drawn
//! by the reports' ECharts script from the page's JSON), the demand types,
//! the repeat complainants, and the same figures as an Excel download.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use guanxi_domain::Lang;
use guanxi_domain::complaint::DemandType;
use guanxi_domain::ticket::Category;
use minijinja::{Value, context};

use crate::auth::PageUser;
use crate::error::{AppError, AppResult};
use crate::lang::ReqLang;
use crate::service::complaints::review::{self, MonthlyReview};
use crate::state::AppState;
use crate::web::{form_get, page_ctx, render};

/// 12.5% from per mille.
pub fn percent(permille: i64) -> String {
    format!("{}.{}%", permille / 10, permille % 10)
}

/// "1 天 3 小时" / "1 d 3 h", "3 小时 20 分" / "3 h 20 min" (calendar time), or "—".
fn minutes_words(m: Option<i64>, lang: Lang) -> String {
    match m {
        None => "—".into(),
        Some(m) if m >= 24 * 60 => match lang {
            Lang::Zh => format!("{} 天 {} 小时", m / 1440, m % 1440 / 60),
            Lang::En => format!("{} d {} h", m / 1440, m % 1440 / 60),
        },
        Some(m) => crate::web::tickets::duration_words(jiff::SignedDuration::from_mins(m), lang),
    }
}

fn category_label(code: &str, lang: Lang) -> String {
    Category::parse(code).map_or_else(|_| code.to_string(), |c| c.label(lang).to_string())
}

/// One row of the category table: the Pareto order first, then the
/// categories without complaints (the four of the seed are always shown).
struct CategoryRow {
    code: String,
    label: String,
    count: i64,
    share: String,
    cumulative: String,
}

fn category_rows(r: &MonthlyReview, lang: Lang) -> Vec<CategoryRow> {
    let mut rows: Vec<CategoryRow> = r
        .pareto
        .iter()
        .map(|b| CategoryRow {
            code: b.key.clone(),
            label: category_label(&b.key, lang),
            count: b.count,
            share: percent(guanxi_domain::complaint::review::permille(b.count, r.total)),
            cumulative: percent(b.cumulative_permille),
        })
        .collect();
    for k in Category::ALL {
        if !rows.iter().any(|x| x.code == k.code()) {
            rows.push(CategoryRow {
                code: k.code().into(),
                label: k.label(lang).into(),
                count: 0,
                share: percent(0),
                cumulative: "—".into(),
            });
        }
    }
    rows
}

fn month_of(state: &AppState, raw: Option<&str>) -> AppResult<jiff::civil::Date> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or("")).unwrap_or_default();
    crate::api::complaints::month_of(state, form_get(&pairs, "month"))
}

pub async fn page(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Html<String>> {
    let first = month_of(&state, raw.as_deref())?;
    let r = review::monthly(&state, &u.user, first).await?;
    let rows = category_rows(&r, lang);
    let charts = serde_json::json!({
        "pareto": {
            "labels": r.pareto.iter().map(|b| category_label(&b.key, lang)).collect::<Vec<_>>(),
            "counts": r.pareto.iter().map(|b| b.count).collect::<Vec<_>>(),
            "cumulative": r.pareto.iter().map(|b| b.cumulative_permille as f64 / 10.0).collect::<Vec<_>>(),
        },
        "labels": {
            "target": lang.pick("目标", "Target"),
            "tickets": lang.pick("投诉数", "Complaints"),
            "cumulative": lang.pick("累计占比", "Cumulative share"),
        },
    });
    let top: Vec<Value> = rows
        .iter()
        .filter_map(|row| {
            let items: Vec<Value> = r
                .top_subjects
                .iter()
                .filter(|(c, _, _)| *c == row.code)
                .map(|(_, s, n)| context! { subject => s, count => n })
                .collect();
            (!items.is_empty()).then(|| context! { code => row.code, label => row.label, items => items })
        })
        .collect();
    let title = lang.pick("投诉月度复盘", "Monthly complaint review");
    let ctx = context! { ..page_ctx(&u, lang, "complaints", title), ..context! {
        month => r.month,
        total => r.total,
        timeout_rate => percent(r.timeout_permille),
        overdue => r.overdue,
        closed => r.closed,
        average_handling => minutes_words(r.average_handling_minutes, lang),
        batches => r.batches,
        categories => rows.iter().map(|x| context! {
            code => x.code, label => x.label, count => x.count, share => x.share, cumulative => x.cumulative,
        }).collect::<Vec<_>>(),
        top => top,
        demands => r.by_demand.iter().map(|(d, n)| context! {
            label => DemandType::parse(d).map_or_else(|_| d.clone(), |x| x.label(lang).to_string()), count => n,
            share => percent(guanxi_domain::complaint::review::permille(*n, r.total)),
        }).collect::<Vec<_>>(),
        repeats => r.repeat_customers.iter().map(|(id, name, n)| context! { id => id, name => name, count => n }).collect::<Vec<_>>(),
        charts => serde_json::to_string(&charts).unwrap_or_default().replace('<', "\\u003c"),
    }};
    render(&state, "complaints/review.html", ctx)
}

/// The review as an Excel file: the page's figures and tables.
pub async fn xlsx(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    let first = month_of(&state, raw.as_deref())?;
    let r = review::monthly(&state, &u.user, first).await?;
    let bytes = book(&r, lang).map_err(|e| AppError::Internal(e.to_string()))?;
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(crate::import::XLSX_MIME));
    let name = format!("complaint-review-{}.xlsx", first.strftime("%Y%m"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

fn book(r: &MonthlyReview, lang: Lang) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(lang.pick("投诉复盘", "Complaint review"))?;
    let bold = Format::new().set_bold();
    sheet.write_string_with_format(
        0,
        0,
        format!("{} {}", lang.pick("投诉月度复盘", "Monthly complaint review"), r.month),
        &bold,
    )?;
    let figures = [
        (lang.pick("投诉总数", "Complaints"), r.total.to_string()),
        (lang.pick("超时率", "Timeout rate"), percent(r.timeout_permille)),
        (lang.pick("超时件数", "Overdue"), r.overdue.to_string()),
        (lang.pick("已结案", "Closed"), r.closed.to_string()),
        (lang.pick("平均处理时长", "Average handling time"), minutes_words(r.average_handling_minutes, lang)),
        (lang.pick("批量客诉", "Batches"), r.batches.to_string()),
    ];
    let mut row = 2u32;
    for (k, v) in figures {
        sheet.write_string_with_format(row, 0, k, &bold)?;
        sheet.write_string(row, 1, v)?;
        row += 1;
    }
    row += 1;
    let heads = [
        lang.pick("问题类别", "Category"),
        lang.pick("投诉数", "Complaints"),
        lang.pick("占比", "Share"),
        lang.pick("累计占比", "Cumulative share"),
    ];
    for (i, h) in heads.iter().enumerate() {
        sheet.write_string_with_format(row, u16::try_from(i).unwrap_or(0), *h, &bold)?;
    }
    for x in category_rows(r, lang) {
        row += 1;
        sheet.write_string(row, 0, &x.label)?;
        sheet.write_number(row, 1, x.count as f64)?;
        sheet.write_string(row, 2, &x.share)?;
        sheet.write_string(row, 3, &x.cumulative)?;
    }
    row += 2;
    sheet.write_string_with_format(row, 0, lang.pick("高频问题", "Frequent problems"), &bold)?;
    for (c, s, n) in &r.top_subjects {
        row += 1;
        sheet.write_string(row, 0, category_label(c, lang))?;
        sheet.write_string(row, 1, s)?;
        sheet.write_number(row, 2, *n as f64)?;
    }
    row += 2;
    sheet.write_string_with_format(row, 0, lang.pick("诉求类型", "Demand type"), &bold)?;
    for (d, n) in &r.by_demand {
        row += 1;
        sheet.write_string(row, 0, DemandType::parse(d).map_or(d.as_str(), |x| x.label(lang)))?;
        sheet.write_number(row, 1, *n as f64)?;
    }
    row += 2;
    sheet.write_string_with_format(row, 0, lang.pick("重复投诉客户", "Repeat complainants"), &bold)?;
    for (_, name, n) in &r.repeat_customers {
        row += 1;
        sheet.write_string(row, 0, name)?;
        sheet.write_number(row, 1, *n as f64)?;
    }
    sheet.set_column_width(0, 24)?;
    sheet.set_column_width(1, 36)?;
    book.save_to_buffer()
}
