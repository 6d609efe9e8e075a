//! 报表 (SPEC R2–R3): the supervisors' dashboard with Apache ECharts
//! (trend lines with their targets, SLA gauges, the Pareto of categories,
//! tier × activity), and the service monitoring table (服务流程优化效果监控表)
//! by day, week or month as a page, a print layout and an Excel download.
//! Every figure comes from the KPI engine (service::kpis), so the page, the
//! API and the Excel file show the same numbers.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use guanxi_domain::Lang;
use guanxi_domain::kpi::{self, KpiDef, Unit};
use guanxi_domain::segment::{Activity, ValueTier};
use guanxi_domain::ticket::Category;
use minijinja::{Value, context};

use super::{form_get, page_ctx, render};
use crate::auth::PageUser;
use crate::error::{AppError, AppResult};
use crate::lang::ReqLang;
use crate::service::kpis::{self as svc, KpiQuery, Series};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/reports", get(dashboard))
        .route("/reports/monitoring", get(monitoring))
        .route("/reports/monitoring.xlsx", get(monitoring_xlsx))
        .route("/reports/problems", get(problems))
        .route("/reports/problems.xlsx", get(problems_xlsx))
        .route("/reports/diagnosis", get(diagnosis))
        .route("/reports/diagnosis.xlsx", get(diagnosis_xlsx))
        .route("/reports/needs", get(needs))
        .route("/reports/needs.xlsx", get(needs_xlsx))
        .route("/reports/targets", get(targets).post(save_target))
        .route("/reports/targets/{id}/delete", axum::routing::post(delete_target))
        .route("/reports/actions", get(actions).post(record_action))
        .route("/reports/actions/{id}", get(edit_action).post(save_action))
        .route("/reports/actions/{id}/delete", axum::routing::post(delete_action))
}

fn query(state: &AppState, raw: Option<&str>, default_by: &str) -> AppResult<KpiQuery> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or("")).unwrap_or_default();
    let by = form_get(&pairs, "by").filter(|s| !s.trim().is_empty()).unwrap_or(default_by);
    svc::parse_query(form_get(&pairs, "from"), form_get(&pairs, "to"), Some(by), Some("none"), state.today())
        .map_err(AppError::Invalid)
}

/// A KPI's card: its value over the range, target and definition.
fn kpi_card(def: &KpiDef, series: Option<&Series>, lang: Lang) -> Value {
    let total = series.and_then(|s| s.slices.first()).and_then(|s| s.total);
    let target = series.map_or(def.target, |s| s.slices.first().and_then(|sl| sl.target));
    context! {
        name => def.name,
        label => def.label(lang),
        definition => def.definition(lang),
        available => def.available(),
        pending => lang.pick(def.pending_zh, def.pending_en),
        value => kpi::display(total, def.unit),
        unit => total.and(def.unit.label(lang)),
        target => crate::service::kpi_targets::target_text(target, def.unit),
        missed => target.and_then(|t| t.met(total)) == Some(false),
    }
}

/// Chart numbers: percentages in percent, minutes as they are.
fn chart_value(v: Option<f64>, unit: Unit) -> Option<f64> {
    v.map(|v| match unit {
        Unit::Percent => (v * 1000.0).round() / 10.0,
        _ => v,
    })
}

fn find<'a>(all: &'a [Series], name: &str) -> Option<&'a Series> {
    all.iter().find(|s| s.def.name == name)
}

fn trend(s: &Series, lang: Lang) -> serde_json::Value {
    let values: Vec<Option<f64>> =
        s.slices.first().map(|sl| sl.values.iter().map(|v| chart_value(*v, s.def.unit)).collect()).unwrap_or_default();
    serde_json::json!({
        "name": s.def.name,
        "label": s.def.label(lang),
        "unit": match s.def.unit {
            Unit::Percent => "%",
            unit => unit.label(lang).unwrap_or_default(),
        },
        "target": s.default_target.map(|t| chart_value(Some(t.value), s.def.unit)),
        "at_least": s.default_target.map(|t| t.at_least),
        "values": values,
    })
}

/// JSON for a `<script type="application/json">` block: `<` is escaped so
/// no value can close the element.
fn script_json(v: &serde_json::Value) -> String {
    v.to_string().replace('<', "\\u003c")
}

/// The dashboard (工作台 of supervisors): every KPI's card, the trends, the
/// gauges, the Pareto of categories and tier × activity.
async fn dashboard(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Html<String>> {
    let q = query(&state, raw.as_deref(), "day")?;
    let all = svc::all_series_with(&state, &u.user, q, lang, false).await?;
    let categories = svc::category_counts(&state, &u.user, q.from, q.to).await?;
    let tiers = svc::tier_activity(&state, &u.user).await?;
    let periods: Vec<String> =
        all.first().map(|s| s.buckets.iter().map(|b| q.period.name(*b)).collect()).unwrap_or_default();

    let total: i64 = categories.iter().map(|c| c.1).sum();
    let mut running = 0;
    let pareto = serde_json::json!({
        "labels": categories.iter().map(|(c, _)| Category::parse(c).map_or_else(|_| c.clone(), |c| c.label(lang).to_string())).collect::<Vec<_>>(),
        "counts": categories.iter().map(|c| c.1).collect::<Vec<_>>(),
        "cumulative": categories.iter().map(|c| { running += c.1; kpi::ratio(running, total).map(|r| (r * 1000.0).round() / 10.0) }).collect::<Vec<_>>(),
    });
    let tier_data: Vec<Vec<i64>> = ValueTier::ALL
        .iter()
        .map(|t| {
            Activity::ALL
                .iter()
                .map(|a| tiers.iter().filter(|(tt, aa, _)| tt == t.code() && aa == a.code()).map(|x| x.2).sum())
                .collect()
        })
        .collect();
    let gauges: Vec<serde_json::Value> = ["sla_attainment", "resolution_rate"]
        .iter()
        .filter_map(|n| find(&all, n))
        .map(|s| {
            let v = s.slices.first().and_then(|sl| sl.total);
            serde_json::json!({
                "label": s.def.label(lang),
                "value": chart_value(v, s.def.unit),
                "target": s.default_target.map(|t| chart_value(Some(t.value), s.def.unit)),
                "missed": s.default_target.and_then(|t| t.met(v)) == Some(false),
            })
        })
        .collect();
    let trends = |names: &[&str]| -> Vec<serde_json::Value> {
        names.iter().filter_map(|n| find(&all, n)).map(|s| trend(s, lang)).collect()
    };
    let rates = trends(&["resolution_rate", "sla_attainment", "maintenance_execution_rate", "csat_satisfied_share"]);
    let times = trends(&["first_response_median", "first_response_p90", "resolution_time_median"]);
    let charts = serde_json::json!({
        "periods": periods,
        "rates": rates,
        "times": times,
        "gauges": gauges,
        "pareto": pareto,
        "tiers": {
            "tiers": ValueTier::ALL.iter().map(|t| t.label(lang)).collect::<Vec<_>>(),
            "activities": Activity::ALL.iter().map(|a| a.label(lang)).collect::<Vec<_>>(),
            "data": tier_data,
        },
        "labels": {
            "target": lang.pick("目标", "Target"),
            "tickets": lang.pick("工单数", "Tickets"),
            "cumulative": lang.pick("累计占比", "Cumulative share"),
            "no_data": lang.pick("暂无数据", "No data"),
        },
    });
    let cards: Vec<Value> = kpi::REGISTRY.iter().map(|d| kpi_card(d, find(&all, d.name), lang)).collect();
    let title = lang.pick("报表 · 服务看板", "Reports · Dashboard");
    let ctx = context! { ..page_ctx(&u, lang, "reports", title), ..context! {
        tab => "dashboard",
        from => q.from.to_string(), to => q.to.to_string(), by => q.period.code(),
        periods => [("day", lang.pick("按日", "Daily")), ("week", lang.pick("按周", "Weekly")), ("month", lang.pick("按月", "Monthly"))]
            .iter().map(|(c, l)| context! { code => c, label => l, active => *c == q.period.code() }).collect::<Vec<_>>(),
        cards => cards,
        ticket_total => total,
        charts => script_json(&charts),
    }};
    render(&state, "reports/dashboard.html", ctx)
}

/// One row of the monitoring table.
struct Row {
    label: String,
    definition: String,
    target: Option<String>,
    cells: Vec<(String, bool)>,
    total: (String, bool),
}

fn rows(all: &[Series], lang: Lang) -> Vec<Row> {
    all.iter()
        .map(|s| {
            let sl = s.slices.first();
            let target = sl.and_then(|sl| sl.target);
            let missed = |v: Option<f64>| target.and_then(|t| t.met(v)) == Some(false);
            Row {
                // The cells are bare numbers of minutes or working days.
                label: s.def.label_with_unit(lang),
                definition: s.def.definition(lang).to_string(),
                target: crate::service::kpi_targets::target_text(target, s.def.unit),
                cells: sl
                    .map(|sl| sl.values.iter().map(|v| (kpi::display(*v, s.def.unit), missed(*v))).collect())
                    .unwrap_or_default(),
                total: sl.map_or(("—".into(), false), |sl| (kpi::display(sl.total, s.def.unit), missed(sl.total))),
            }
        })
        .collect()
}

/// 服务流程优化效果监控表: every available KPI by day, week or month, with
/// its target and definition; KPIs whose source has not landed are listed
/// below as not yet available.
async fn monitoring(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Html<String>> {
    let q = query(&state, raw.as_deref(), "week")?;
    let all = svc::all_series(&state, &u.user, q, lang).await?;
    let periods: Vec<String> =
        all.first().map(|s| s.buckets.iter().map(|b| q.period.name(*b)).collect()).unwrap_or_default();
    let title = lang.pick("服务流程优化效果监控表", "Service monitoring table");
    let ctx = context! { ..page_ctx(&u, lang, "reports", title), ..context! {
        tab => "monitoring",
        from => q.from.to_string(), to => q.to.to_string(), by => q.period.code(),
        periods_nav => [("day", lang.pick("日报", "Daily")), ("week", lang.pick("周报", "Weekly")), ("month", lang.pick("月报", "Monthly"))]
            .iter().map(|(c, l)| context! { code => c, label => l, active => *c == q.period.code() }).collect::<Vec<_>>(),
        periods => periods,
        rows => rows(&all, lang).into_iter().map(|r| context! {
            label => r.label, definition => r.definition, target => r.target,
            cells => r.cells.into_iter().map(|(v, m)| context! { value => v, missed => m }).collect::<Vec<_>>(),
            total => r.total.0, total_missed => r.total.1,
        }).collect::<Vec<_>>(),
        pending => kpi::REGISTRY.iter().filter(|k| !k.available()).map(|k| context! {
            label => k.label(lang), definition => k.definition(lang), why => lang.pick(k.pending_zh, k.pending_en),
        }).collect::<Vec<_>>(),
        xlsx => format!("/reports/monitoring.xlsx?by={}&from={}&to={}", q.period.code(), q.from, q.to),
    }};
    render(&state, "reports/monitoring.html", ctx)
}

/// The monitoring table as an Excel file: Chinese headers, values (not
/// formulas) exactly as the page shows them.
async fn monitoring_xlsx(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    let q = query(&state, raw.as_deref(), "week")?;
    let all = svc::all_series(&state, &u.user, q, lang).await?;
    let periods: Vec<String> =
        all.first().map(|s| s.buckets.iter().map(|b| q.period.name(*b)).collect()).unwrap_or_default();
    let table = rows(&all, lang);
    let bytes = monitoring_book(&periods, &table, q, lang).map_err(|e| AppError::Internal(e.to_string()))?;
    let name = format!("monitoring-{}-{}-{}.xlsx", q.period.code(), q.from.strftime("%Y%m%d"), q.to.strftime("%Y%m%d"));
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(crate::import::XLSX_MIME));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

fn monitoring_book(
    periods: &[String],
    rows: &[Row],
    q: KpiQuery,
    lang: Lang,
) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(lang.pick("监控表", "Monitoring"))?;
    let bold = Format::new().set_bold();
    let red = Format::new().set_font_color(rust_xlsxwriter::Color::RGB(0x00C4_1D24)).set_bold();
    sheet.write_string_with_format(
        0,
        0,
        format!(
            "{}（{}，{} ~ {}）",
            lang.pick("服务流程优化效果监控表", "Service monitoring table"),
            q.period.label(lang),
            q.from,
            q.to
        ),
        &bold,
    )?;
    let mut col: u16 = 0;
    for h in [lang.pick("指标", "KPI"), lang.pick("目标", "Target")] {
        sheet.write_string_with_format(1, col, h, &bold)?;
        col += 1;
    }
    for p in periods {
        sheet.write_string_with_format(1, col, p, &bold)?;
        col += 1;
    }
    sheet.write_string_with_format(1, col, lang.pick("合计", "Total"), &bold)?;
    sheet.write_string_with_format(1, col + 1, lang.pick("定义", "Definition"), &bold)?;
    for (i, r) in rows.iter().enumerate() {
        let row = u32::try_from(i).unwrap_or(u32::MAX - 2) + 2;
        sheet.write_string(row, 0, &r.label)?;
        sheet.write_string(row, 1, r.target.as_deref().unwrap_or("—"))?;
        let mut col: u16 = 2;
        for (v, missed) in &r.cells {
            if *missed {
                sheet.write_string_with_format(row, col, v, &red)?
            } else {
                sheet.write_string(row, col, v)?
            };
            col += 1;
        }
        if r.total.1 {
            sheet.write_string_with_format(row, col, &r.total.0, &red)?;
        } else {
            sheet.write_string(row, col, &r.total.0)?;
        }
        sheet.write_string(row, col + 1, &r.definition)?;
    }
    sheet.set_column_width(0, 22)?;
    book.save_to_buffer()
}

/// 问题分析报告 (R3): the month's tickets by category (产品类/服务类/沟通类/…),
/// each with its figures and its most frequent subjects, and their Pareto.
async fn problems(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Html<String>> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let month = parse_month(&state, &pairs)?;
    let cats = svc::problem_analysis(&state, &u.user, month, lang).await?;
    let resolution_target = crate::service::kpi_targets::default_targets(&state).await?.get("resolution_rate").copied();
    let total: i64 = cats.iter().map(|c| c.tickets).sum();
    let mut running = 0;
    let shown: Vec<&svc::ProblemCategory> = cats.iter().filter(|c| c.tickets > 0).collect();
    let charts = serde_json::json!({
        "pareto": {
            "labels": shown.iter().map(|c| c.label.clone()).collect::<Vec<_>>(),
            "counts": shown.iter().map(|c| c.tickets).collect::<Vec<_>>(),
            "cumulative": shown.iter().map(|c| { running += c.tickets; kpi::ratio(running, total).map(|r| (r * 1000.0).round() / 10.0) }).collect::<Vec<_>>(),
        },
        "labels": {
            "target": lang.pick("目标", "Target"),
            "tickets": lang.pick("工单数", "Tickets"),
            "cumulative": lang.pick("累计占比", "Cumulative share"),
            "no_data": lang.pick("暂无数据", "No data"),
        },
    });
    let fig = |c: &svc::ProblemCategory, name: &str| {
        let def = kpi::find(name);
        kpi::display(c.figures.value(name), def.map_or(Unit::Percent, |d| d.unit))
    };
    let month_text = month.strftime("%Y-%m").to_string();
    let title = lang.pick("问题分析报告", "Problem analysis report");
    let ctx = context! { ..page_ctx(&u, lang, "reports", title), ..context! {
        tab => "problems",
        month => month_text,
        resolution_target => crate::service::kpi_targets::target_text(resolution_target, Unit::Percent).unwrap_or_else(|| lang.pick("未设", "none").to_string()),
        total => total,
        categories => cats.iter().map(|c| context! {
            code => c.code, label => c.label, tickets => c.tickets,
            share => kpi::display(c.share, Unit::Percent),
            resolution_rate => fig(c, "resolution_rate"),
            missed => resolution_target.and_then(|t| t.met(c.figures.value("resolution_rate"))) == Some(false),
            first_response => fig(c, "first_response_median"),
            sla => fig(c, "sla_attainment"),
            repeat => fig(c, "repeat_inquiry_rate"),
            top => c.top.iter().map(|(s, n)| context! { subject => s, tickets => n }).collect::<Vec<_>>(),
        }).collect::<Vec<_>>(),
        charts => script_json(&charts),
    }};
    render(&state, "reports/problems.html", ctx)
}

/// One table of a report, exactly as the page and the Excel file show it.
struct Table {
    id: &'static str,
    title: String,
    head: Vec<String>,
    rows: Vec<TableRow>,
}

struct TableRow {
    label: String,
    /// (shown value, missed its target).
    cells: Vec<(String, bool)>,
    total: bool,
}

impl Table {
    fn ctx(&self) -> Value {
        context! {
            id => self.id, title => self.title, head => self.head,
            rows => self.rows.iter().map(|r| context! {
                label => r.label, total => r.total,
                cells => r.cells.iter().map(|(v, m)| context! { value => v, missed => m }).collect::<Vec<_>>(),
            }).collect::<Vec<_>>(),
        }
    }
}

/// Each KPI's effective default target (see `kpi_targets::default_targets`).
type Targets = std::collections::HashMap<&'static str, kpi::Target>;

/// The diagnosis's tables: response and resolution per month, satisfaction
/// per month, the ticket mix, churn reasons and the top pain points;
/// figures below their KPI's effective target are flagged.
fn diagnosis_tables(d: &svc::Diagnosis, targets: &Targets, lang: Lang) -> Vec<Table> {
    use guanxi_domain::kpi::TicketFigures;
    let missed_of = |name: &str, v: Option<f64>| targets.get(name).and_then(|t| t.met(v)) == Some(false);
    let cell = |f: &TicketFigures, name: &str| {
        let v = f.value(name);
        (kpi::display(v, kpi::find(name).map_or(Unit::Percent, |k| k.unit)), missed_of(name, v))
    };
    let ticket_row = |label: String, f: &TicketFigures, total: bool| TableRow {
        label,
        cells: std::iter::once((f.received.to_string(), false))
            .chain(
                [
                    "first_response_median",
                    "first_response_p90",
                    "resolution_time_median",
                    "resolution_rate",
                    "sla_attainment",
                    "repeat_inquiry_rate",
                ]
                .iter()
                .map(|n| cell(f, n)),
            )
            .collect(),
        total,
    };
    let total_label = lang.pick("合计", "Total").to_string();
    let month_label = |m: &jiff::civil::Date| m.strftime("%Y-%m").to_string();
    let mut months: Vec<TableRow> = d.months.iter().map(|(m, f)| ticket_row(month_label(m), f, false)).collect();
    months.push(ticket_row(total_label.clone(), &d.total, true));

    // Satisfaction: one column per KPI, then the surveys answered (CSAT).
    let mut satisfaction = Vec::new();
    let n = d.months.len();
    for i in 0..=n {
        let label = if i < n { month_label(&d.months[i].0) } else { total_label.clone() };
        let mut cells = Vec::new();
        for s in &d.satisfaction {
            let v = s.slices.first().and_then(|sl| if i < n { sl.values.get(i).copied().flatten() } else { sl.total });
            cells.push((kpi::display(v, s.def.unit), missed_of(s.def.name, v)));
        }
        satisfaction.push(TableRow { label, cells, total: i == n });
    }

    let total_tickets: i64 = d.categories.iter().map(|c| c.1).sum();
    let share = |n: i64| kpi::display(kpi::ratio(n, total_tickets), Unit::Percent);
    let cat_label = |c: &str| Category::parse(c).map_or_else(|_| c.to_string(), |c| c.label(lang).to_string());
    let h = |zh: &str, en: &str| lang.pick(zh, en).to_string();
    vec![
        Table {
            id: "diagnosis-months",
            title: h("响应与解决", "Response and resolution"),
            head: vec![
                h("月份", "Month"),
                h("工单数", "Tickets"),
                h("首次响应中位数（分钟）", "First response median (min)"),
                h("首次响应 P90（分钟）", "First response p90 (min)"),
                h("解决时长中位数（分钟）", "Resolution median (min)"),
                h("解决率", "Resolved"),
                h("SLA 达成率", "SLA attainment"),
                h("重复咨询率", "Repeat inquiries"),
            ],
            rows: months,
        },
        Table {
            id: "diagnosis-satisfaction",
            title: h("客户满意度", "Satisfaction"),
            head: std::iter::once(h("月份", "Month"))
                .chain(d.satisfaction.iter().map(|s| s.def.label(lang).to_string()))
                .collect(),
            rows: satisfaction,
        },
        Table {
            id: "diagnosis-mix",
            title: h("工单构成（按类别）", "Ticket mix by category"),
            head: vec![h("类别", "Category"), h("工单数", "Tickets"), h("占比", "Share")],
            rows: d
                .categories
                .iter()
                .map(|(c, n)| TableRow {
                    label: cat_label(c),
                    cells: vec![(n.to_string(), false), (share(*n), false)],
                    total: false,
                })
                .collect(),
        },
        Table {
            id: "diagnosis-churn",
            title: h("流失原因", "Churn reasons"),
            head: vec![h("原因", "Reason"), h("次数", "Times recorded")],
            rows: d
                .churn_reasons
                .iter()
                .map(|(r, n)| TableRow {
                    label: guanxi_domain::segment::ChurnReason::parse(r)
                        .map_or_else(|_| r.clone(), |x| x.label(lang).to_string()),
                    cells: vec![(n.to_string(), false)],
                    total: false,
                })
                .collect(),
        },
        Table {
            id: "diagnosis-pain",
            title: h("主要痛点（最常见的问题）", "Top pain points (most frequent problems)"),
            head: vec![h("问题", "Problem"), h("类别", "Category"), h("工单数", "Tickets"), h("占比", "Share")],
            rows: d
                .pain_points
                .iter()
                .map(|(c, s, n)| TableRow {
                    label: s.clone(),
                    cells: vec![(cat_label(c), false), (n.to_string(), false), (share(*n), false)],
                    total: false,
                })
                .collect(),
        },
    ]
}

/// Chart numbers of a displayed percentage (`75.0%` → 75.0), else none.
fn percent_number(shown: &str) -> Option<f64> {
    shown.strip_suffix('%').and_then(|v| v.parse().ok())
}

/// 现状诊断报告 (R3): the last six months — response and resolution times
/// and rates per month, satisfaction per month, the ticket mix, churn
/// reasons, the top pain points with their figures — with its charts.
async fn diagnosis(State(state): State<AppState>, ReqLang(lang): ReqLang, u: PageUser) -> AppResult<Html<String>> {
    let d = svc::diagnosis(&state, &u.user, lang).await?;
    let targets = crate::service::kpi_targets::default_targets(&state).await?;
    let tables = diagnosis_tables(&d, &targets, lang);
    let months: Vec<&TableRow> = tables[0].rows.iter().filter(|r| !r.total).collect();
    let sat: Vec<&TableRow> = tables[1].rows.iter().filter(|r| !r.total).collect();
    let column = |rows: &[&TableRow], i: usize| -> Vec<Option<f64>> {
        rows.iter().map(|r| r.cells.get(i).and_then(|c| percent_number(&c.0))).collect()
    };
    let trend = |name: &str, values: Vec<Option<f64>>| {
        let def = kpi::find(name);
        let target = targets.get(name);
        serde_json::json!({
            "name": name,
            "label": def.map(|k| k.label(lang)),
            "target": target.map(|t| chart_value(Some(t.value), Unit::Percent)),
            "at_least": target.map(|t| t.at_least),
            "values": values,
        })
    };
    let target_text = |name: &str| {
        crate::service::kpi_targets::target_text(targets.get(name).copied(), Unit::Percent)
            .unwrap_or_else(|| lang.pick("未设", "none").to_string())
    };
    let charts = serde_json::json!({
        "periods": months.iter().map(|r| r.label.clone()).collect::<Vec<_>>(),
        // Resolution rate and SLA attainment (cells 4 and 5), satisfied share (cell 1).
        "rates": [
            trend("resolution_rate", column(&months, 4)),
            trend("sla_attainment", column(&months, 5)),
            trend("csat_satisfied_share", column(&sat, 1)),
        ],
        // The shares as the mix table shows them (ECharts would round its own).
        "mix": tables[2].rows.iter().map(|r| serde_json::json!({
            "name": r.label, "value": r.cells.first().and_then(|c| c.0.parse::<i64>().ok()),
            "share": r.cells.get(1).map(|c| c.0.clone()),
        })).collect::<Vec<_>>(),
        "labels": {
            "target": lang.pick("目标", "Target"),
            "tickets": lang.pick("工单数", "Tickets"),
            "no_data": lang.pick("暂无数据", "No data"),
        },
    });
    let title = lang.pick("现状诊断报告", "Current-state diagnosis");
    let ctx = context! { ..page_ctx(&u, lang, "reports", title), ..context! {
        tab => "diagnosis",
        from => d.from.to_string(), to => d.to.to_string(),
        targets => context! { resolution => target_text("resolution_rate"), satisfied => target_text("csat_satisfied_share") },
        tables => tables.iter().map(Table::ctx).collect::<Vec<_>>(),
        charts => script_json(&charts),
    }};
    render(&state, "reports/diagnosis.html", ctx)
}

/// The diagnosis as an Excel file: one sheet per table of the page, the
/// same values (counts as numbers, the rest as shown), Chinese headers.
async fn diagnosis_xlsx(State(state): State<AppState>, ReqLang(lang): ReqLang, u: PageUser) -> AppResult<Response> {
    let d = svc::diagnosis(&state, &u.user, lang).await?;
    let targets = crate::service::kpi_targets::default_targets(&state).await?;
    let tables = diagnosis_tables(&d, &targets, lang);
    let title = format!("{}（{} ~ {}）", lang.pick("现状诊断报告", "Current-state diagnosis"), d.from, d.to);
    let bytes = tables_book(&tables, &title).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(xlsx_response(bytes, &format!("diagnosis-{}-{}.xlsx", d.from.strftime("%Y%m%d"), d.to.strftime("%Y%m%d"))))
}

/// Tables as a workbook, one sheet each (named by the table's title): the
/// report's title, the header row, then the rows.
fn tables_book(tables: &[Table], title: &str) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let red = Format::new().set_font_color(rust_xlsxwriter::Color::RGB(0x00C4_1D24)).set_bold();
    for t in tables {
        let sheet = book.add_worksheet();
        sheet.set_name(t.title.chars().filter(|c| !"[]:*?/\\".contains(*c)).take(31).collect::<String>())?;
        sheet.write_string_with_format(0, 0, format!("{title} · {}", t.title), &bold)?;
        for (i, h) in t.head.iter().enumerate() {
            sheet.write_string_with_format(1, u16::try_from(i).unwrap_or(0), h, &bold)?;
        }
        for (i, r) in t.rows.iter().enumerate() {
            let row = u32::try_from(i).unwrap_or(0) + 2;
            if r.total {
                sheet.write_string_with_format(row, 0, &r.label, &bold)?;
            } else {
                sheet.write_string(row, 0, &r.label)?;
            }
            for (j, (v, missed)) in r.cells.iter().enumerate() {
                let col = u16::try_from(j).unwrap_or(0) + 1;
                match (v.parse::<i64>(), missed) {
                    #[allow(clippy::cast_precision_loss)]
                    (Ok(n), _) => sheet.write_number(row, col, n as f64)?,
                    (Err(_), true) => sheet.write_string_with_format(row, col, v, &red)?,
                    (Err(_), false) => sheet.write_string(row, col, v)?,
                };
            }
        }
        sheet.set_column_width(0, 24)?;
    }
    book.save_to_buffer()
}

/// An Excel download.
fn xlsx_response(bytes: Vec<u8>, name: &str) -> Response {
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(crate::import::XLSX_MIME));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn parse_month(state: &AppState, pairs: &[(String, String)]) -> AppResult<jiff::civil::Date> {
    match form_get(pairs, "month").map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(state.today().first_of_month()),
        Some(m) => format!("{m}-01").parse::<jiff::civil::Date>().map_err(|_| {
            AppError::Invalid(guanxi_domain::ValidationErrors::single("month", guanxi_domain::Issue::InvalidDate))
        }),
    }
}

/// The problem analysis as an Excel file: the page's category table and
/// its top issues, values as shown.
async fn problems_xlsx(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let month = parse_month(&state, &pairs)?;
    let cats = svc::problem_analysis(&state, &u.user, month, lang).await?;
    let fig = |c: &svc::ProblemCategory, name: &str| {
        kpi::display(c.figures.value(name), kpi::find(name).map_or(Unit::Percent, |d| d.unit))
    };
    let build = || -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
        use rust_xlsxwriter::{Format, Workbook};
        let mut book = Workbook::new();
        let sheet = book.add_worksheet();
        sheet.set_name(lang.pick("问题分析", "Problems"))?;
        let bold = Format::new().set_bold();
        let title = format!("{} {}", lang.pick("问题分析报告", "Problem analysis report"), month.strftime("%Y-%m"));
        sheet.write_string_with_format(0, 0, title, &bold)?;
        let heads = [
            lang.pick("类别", "Category"),
            lang.pick("工单数", "Tickets"),
            lang.pick("占比", "Share"),
            lang.pick("解决率", "Resolved"),
            lang.pick("首次响应中位数（分钟）", "First response median (min)"),
            lang.pick("SLA 达成率", "SLA attainment"),
            lang.pick("重复咨询率", "Repeat inquiries"),
            lang.pick("主要问题", "Top issues"),
        ];
        for (i, h) in heads.iter().enumerate() {
            sheet.write_string_with_format(1, u16::try_from(i).unwrap_or(0), *h, &bold)?;
        }
        for (i, c) in cats.iter().enumerate() {
            let row = u32::try_from(i).unwrap_or(0) + 2;
            sheet.write_string(row, 0, &c.label)?;
            sheet.write_number(row, 1, c.tickets as f64)?;
            let cells = [
                kpi::display(c.share, Unit::Percent),
                fig(c, "resolution_rate"),
                fig(c, "first_response_median"),
                fig(c, "sla_attainment"),
                fig(c, "repeat_inquiry_rate"),
                c.top.iter().map(|(s, n)| format!("{s}（{n}）")).collect::<Vec<_>>().join("；"),
            ];
            for (j, v) in cells.iter().enumerate() {
                sheet.write_string(row, u16::try_from(j).unwrap_or(0) + 2, v)?;
            }
        }
        sheet.set_column_width(7, 60)?;
        book.save_to_buffer()
    };
    let bytes = build().map_err(|e| AppError::Internal(e.to_string()))?;
    let name = format!("problems-{}.xlsx", month.strftime("%Y%m"));
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(crate::import::XLSX_MIME));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

// ---- 客户需求分析报告 (R3) ----

/// Days as the needs report shows them: one decimal, or — for none.
fn days(v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_string(), |d| format!("{d:.1}"))
}

/// The needs report's tables, exactly as the page and the Excel file show
/// them: the summary, by department, by month, and the needs themselves.
fn needs_tables(d: &crate::service::needs::NeedsReportData, state: &AppState, lang: Lang) -> Vec<Table> {
    use guanxi_domain::ticket::need::{NeedGroup, NeedStatus};
    let h = |zh: &str, en: &str| lang.pick(zh, en).to_string();
    let pct = |v: Option<f64>| kpi::display(v, Unit::Percent);
    let total = &d.report.total;
    let group_head = |first: String| -> Vec<String> {
        std::iter::once(first)
            .chain(std::iter::once(h("需求数", "Needs")))
            .chain(NeedStatus::ALL.iter().map(|s| s.label(lang).to_string()))
            .chain([
                h("采纳率", "Adoption rate"),
                h("告知率", "Share told"),
                h("提交到结果中位数（天）", "Median days to outcome"),
            ])
            .collect()
    };
    let group_row = |g: &NeedGroup, label: String, is_total: bool| TableRow {
        label,
        cells: std::iter::once(g.total.to_string())
            .chain(g.by_status.iter().map(u32::to_string))
            .chain([pct(g.adoption_rate()), pct(g.share_told()), days(g.median_days_to_outcome)])
            .map(|v| (v, false))
            .collect(),
        total: is_total,
    };
    let total_label = h("合计", "Total");
    let mut deps: Vec<TableRow> = d.report.by_department.iter().map(|g| group_row(g, g.key.clone(), false)).collect();
    deps.push(group_row(total, total_label.clone(), true));
    let mut months: Vec<TableRow> = d.report.by_month.iter().map(|g| group_row(g, g.key.clone(), false)).collect();
    months.push(group_row(total, total_label, true));
    let plain = |label: String, v: String| TableRow { label, cells: vec![(v, false)], total: false };
    let local = |t: jiff::Timestamp| t.to_zoned(state.config.time_zone.clone()).strftime("%Y-%m-%d %H:%M").to_string();
    let cat = |c: &str| Category::parse(c).map_or_else(|_| c.to_string(), |c| c.label(lang).to_string());
    vec![
        Table {
            id: "needs-summary",
            title: h("概览", "Summary"),
            head: vec![h("指标", "Figure"), h("数值", "Value")],
            rows: vec![
                plain(h("需求数", "Needs"), total.total.to_string()),
                plain(h("已决定（采纳或未采纳）", "Decided (taken up or declined)"), total.decided.to_string()),
                plain(h("采纳率", "Adoption rate"), pct(total.adoption_rate())),
                plain(
                    h("已有结果（已上线或未采纳）", "With an outcome (delivered or declined)"),
                    total.with_outcome.to_string(),
                ),
                plain(h("已告知客户", "Customer told"), total.told.to_string()),
                plain(h("告知率", "Share told"), pct(total.share_told())),
                plain(h("提交到结果中位数（天）", "Median days to outcome"), days(total.median_days_to_outcome)),
            ],
        },
        Table {
            id: "needs-departments",
            title: h("按部门", "By department"),
            head: group_head(h("部门", "Department")),
            rows: deps,
        },
        Table {
            id: "needs-months",
            title: h("按月份", "By month"),
            head: group_head(h("月份", "Month")),
            rows: months,
        },
        Table {
            id: "needs-list",
            title: h("需求清单", "Needs"),
            head: vec![
                h("工单号", "Ticket"),
                h("主题", "Subject"),
                h("客户", "Customer"),
                h("类别", "Category"),
                h("部门", "Department"),
                h("状态", "Status"),
                h("排期 / 原因", "Plan / reason"),
                h("提交时间", "Submitted"),
                h("结果时间", "Outcome"),
                h("告知客户时间", "Customer told"),
            ],
            rows: d
                .needs
                .iter()
                .map(|n| {
                    let plan = match (&n.planned_version, n.planned_date, &n.decline_reason) {
                        (_, _, Some(r)) if n.status == NeedStatus::Declined => r.clone(),
                        (Some(v), Some(dt), _) => format!("{v} · {dt}"),
                        (Some(v), None, _) => v.clone(),
                        (None, Some(dt), _) => dt.to_string(),
                        _ => "—".into(),
                    };
                    TableRow {
                        label: n.number.clone(),
                        cells: [
                            n.subject.clone(),
                            n.customer_name.clone().unwrap_or_else(|| "—".into()),
                            cat(&n.category),
                            n.department_name.clone().unwrap_or_else(|| h("未分派", "Not routed")),
                            n.status.label(lang).to_string(),
                            plan,
                            local(n.submitted_at),
                            n.outcome_at.map_or_else(|| "—".into(), local),
                            n.customer_told_at.map_or_else(|| "—".into(), local),
                        ]
                        .into_iter()
                        .map(|v| (v, false))
                        .collect(),
                        total: false,
                    }
                })
                .collect(),
        },
    ]
}

fn needs_period(state: &AppState, raw: Option<&str>) -> AppResult<(jiff::civil::Date, jiff::civil::Date)> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or("")).unwrap_or_default();
    crate::service::needs::parse_period(
        form_get(&pairs, "month"),
        form_get(&pairs, "from"),
        form_get(&pairs, "to"),
        state.today(),
    )
    .map_err(AppError::Invalid)
}

/// 客户需求分析报告 (R3): the needs submitted in a month or period by
/// department, status and month, the adoption rate, the share told, the
/// median days to an outcome, the needs themselves, with its charts.
async fn needs(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Html<String>> {
    use guanxi_domain::ticket::need::NeedStatus;
    let (from, to) = needs_period(&state, raw.as_deref())?;
    let d = crate::service::needs::report(&state, &u.user, from, to, lang).await?;
    let tables = needs_tables(&d, &state, lang);
    let percent = |v: Option<f64>| chart_value(v, Unit::Percent);
    let charts = serde_json::json!({
        "needs": {
            "departments": d.report.by_department.iter().map(|g| g.key.clone()).collect::<Vec<_>>(),
            "statuses": NeedStatus::ALL.iter().map(|s| s.label(lang)).collect::<Vec<_>>(),
            "data": d.report.by_department.iter().map(|g| g.by_status.clone()).collect::<Vec<_>>(),
        },
        "periods": d.report.by_month.iter().map(|g| g.key.clone()).collect::<Vec<_>>(),
        "rates": [
            { "name": "adoption_rate", "label": lang.pick("采纳率", "Adoption rate"), "target": null, "at_least": true,
              "values": d.report.by_month.iter().map(|g| percent(g.adoption_rate())).collect::<Vec<_>>() },
            { "name": "share_told", "label": lang.pick("告知率", "Share told"), "target": null, "at_least": true,
              "values": d.report.by_month.iter().map(|g| percent(g.share_told())).collect::<Vec<_>>() },
        ],
        "labels": {
            "target": lang.pick("目标", "Target"),
            "needs": lang.pick("需求数", "Needs"),
            "no_data": lang.pick("暂无数据", "No data"),
        },
    });
    let month =
        (from == from.first_of_month() && to == from.last_of_month()).then(|| from.strftime("%Y-%m").to_string());
    let query = match &month {
        Some(m) => format!("month={m}"),
        None => format!("from={from}&to={to}"),
    };
    let total = &d.report.total;
    let title = lang.pick("客户需求分析报告", "Customer needs analysis report");
    let ctx = context! { ..page_ctx(&u, lang, "reports", title), ..context! {
        tab => "needs",
        month => month.clone().unwrap_or_default(),
        from => from.to_string(), to => to.to_string(),
        period => match &month { Some(m) => m.clone(), None => format!("{from} ~ {to}") },
        xlsx => format!("/reports/needs.xlsx?{query}"),
        cards => [
            (lang.pick("需求数", "Needs"), total.total.to_string(), "needs-total"),
            (lang.pick("采纳率", "Adoption rate"), kpi::display(total.adoption_rate(), Unit::Percent), "needs-adoption"),
            (lang.pick("告知率", "Share told"), kpi::display(total.share_told(), Unit::Percent), "needs-told"),
            (lang.pick("提交到结果中位数（天）", "Median days to outcome"), days(total.median_days_to_outcome), "needs-median"),
        ].iter().map(|(l, v, id)| context! { label => l, value => v, id => id }).collect::<Vec<_>>(),
        tables => tables.iter().map(Table::ctx).collect::<Vec<_>>(),
        truncated => d.truncated,
        charts => script_json(&charts),
    }};
    render(&state, "reports/needs.html", ctx)
}

/// The needs report as an Excel file: one sheet per table of the page,
/// the same values (counts as numbers, the rest as shown), Chinese headers.
async fn needs_xlsx(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    let (from, to) = needs_period(&state, raw.as_deref())?;
    let d = crate::service::needs::report(&state, &u.user, from, to, lang).await?;
    let tables = needs_tables(&d, &state, lang);
    let title = format!("{}（{} ~ {}）", lang.pick("客户需求分析报告", "Customer needs analysis report"), from, to);
    let bytes = tables_book(&tables, &title).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(xlsx_response(bytes, &format!("needs-{}-{}.xlsx", from.strftime("%Y%m%d"), to.strftime("%Y%m%d"))))
}

/// The names of teams and agents, keyed `team:ID` / `agent:ID`.
async fn staff_names(state: &AppState) -> AppResult<std::collections::HashMap<String, String>> {
    use guanxi_domain::kpi::GroupBy;
    Ok(state
        .db
        .read(|c| {
            let mut m = std::collections::HashMap::new();
            for g in [GroupBy::Team, GroupBy::Agent] {
                for (k, n) in guanxi_store::kpi::staff_slices(c, g)? {
                    m.insert(format!("{}:{k}", g.code()), n);
                }
            }
            Ok(m)
        })
        .await?)
}

/// A stored slice's label: the staff member's or team's name, a code's label.
fn stored_slice_label(
    group: guanxi_domain::kpi::GroupBy,
    key: &str,
    names: &std::collections::HashMap<String, String>,
    lang: Lang,
) -> String {
    let mut own = std::collections::HashMap::new();
    if let Some(n) = names.get(&format!("{}:{key}", group.code())) {
        own.insert(key.to_string(), n.clone());
    }
    svc::slice_label(group, key, &own, lang)
}

/// The label of a target form field.
fn target_field(field: &str, lang: Lang) -> &'static str {
    match field {
        "kpi" => lang.pick("指标", "KPI"),
        "group_by" => lang.pick("维度", "Slice by"),
        "slice_key" => lang.pick("切片", "Slice"),
        "at_least" => lang.pick("方向", "Direction"),
        _ => lang.pick("目标值", "Target value"),
    }
}

/// 指标目标 (SPEC R1): every slice target with the form to set one. The
/// value is typed as shown (a percentage for percent KPIs, minutes, a
/// score) and checked as by `PUT /api/v1/kpi-targets`.
async fn targets_page(
    state: &AppState,
    lang: Lang,
    u: &PageUser,
    form: &[(String, String)],
    errors: Option<&guanxi_domain::ValidationErrors>,
    flash: Option<&str>,
) -> AppResult<Html<String>> {
    use crate::service::kpi_targets as targets;
    use guanxi_domain::kpi::GroupBy;
    let rows = targets::list(state, &u.user).await?;
    let names = staff_names(state).await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|t| {
            let def = kpi::find(&t.kpi);
            let group = GroupBy::parse(&t.group_by).unwrap_or(GroupBy::None);
            let unit = def.map_or(Unit::Percent, |d| d.unit);
            context! {
                id => t.id,
                kpi => def.map_or(t.kpi.as_str(), |d| d.label(lang)),
                group => group.label(lang),
                slice => if group == GroupBy::None { lang.pick("默认（所有切片）", "Default (every slice)").to_string() } else { stored_slice_label(group, &t.slice_key, &names, lang) },
                target => targets::target_text(Some(kpi::Target { at_least: t.at_least, value: t.value }), unit),
            }
        })
        .collect();
    let (summary, err) = super::form_errors(errors, lang, |f| target_field(f, lang));
    let v = |k: &str| form_get(form, k).unwrap_or("").to_string();
    let title = lang.pick("指标目标", "KPI targets");
    let ctx = context! { ..page_ctx(u, lang, "reports", title), ..context! {
        tab => "targets",
        items => items, err => err, errors => summary, flash => flash,
        v => context! { kpi => v("kpi"), group_by => v("group_by"), slice_key => v("slice_key"), at_least => v("at_least"), value => v("value") },
        kpis => kpi::REGISTRY.iter().filter(|k| k.available()).map(|k| context! { value => k.name, label => k.label(lang) }).collect::<Vec<_>>(),
        groups => GroupBy::ALL.iter().map(|g| context! { value => g.code(), label => if *g == GroupBy::None { lang.pick("默认（所有切片）", "Default (every slice)") } else { g.label(lang) } }).collect::<Vec<_>>(),
        directions => [("true", lang.pick("不低于 ≥", "At least ≥")), ("false", lang.pick("不高于 ≤", "At most ≤"))].iter().map(|(c, l)| context! { value => c, label => l }).collect::<Vec<_>>(),
    }};
    render(state, "reports/targets.html", ctx)
}

async fn targets(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Html<String>> {
    svc::require_reader(&u.user)?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let flash = (form_get(&pairs, "flash") == Some("saved")).then(|| lang.pick("已保存", "Saved"));
    targets_page(&state, lang, &u, &[], None, flash).await
}

async fn save_target(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    super::ClientIp(ip): super::ClientIp,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    use crate::service::kpi_targets::{self as targets, TargetInput};
    svc::require_reader(&u.user)?;
    let pairs = super::form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let get = |k: &str| form_get(&pairs, k).unwrap_or("").trim().to_string();
    let mut bad_number = false;
    let value = match get("value").as_str() {
        "" => None,
        s => match s.parse::<f64>() {
            // Percent KPIs are typed as percentages.
            Ok(v) => Some(if kpi::find(&get("kpi")).is_some_and(|d| d.unit == Unit::Percent) { v / 100.0 } else { v }),
            Err(_) => {
                bad_number = true;
                None
            }
        },
    };
    let input = TargetInput {
        kpi: get("kpi"),
        group_by: get("group_by"),
        slice_key: get("slice_key"),
        at_least: match get("at_least").as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        value,
    };
    let result = if bad_number {
        Err(AppError::Invalid(guanxi_domain::ValidationErrors::single("value", guanxi_domain::Issue::OutOfRange)))
    } else {
        targets::set(&state, &u.user, input, ip).await.map(|_| ())
    };
    match result {
        Ok(()) => Ok(axum::response::Redirect::to("/reports/targets?flash=saved").into_response()),
        Err(AppError::Invalid(e)) => {
            let mut r = targets_page(&state, lang, &u, &pairs, Some(&e), None).await?.into_response();
            *r.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
            Ok(r)
        }
        Err(e) => Err(e),
    }
}

async fn delete_target(
    State(state): State<AppState>,
    u: PageUser,
    super::ClientIp(ip): super::ClientIp,
    axum::extract::Path(id): axum::extract::Path<i64>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let pairs = super::form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    crate::service::kpi_targets::delete(&state, &u.user, id, ip).await?;
    Ok(axum::response::Redirect::to("/reports/targets?flash=saved").into_response())
}

/// The label of an improvement-action form field.
fn action_field(field: &str, lang: Lang) -> &'static str {
    match field {
        "kpi" => lang.pick("指标", "KPI"),
        "group_by" => lang.pick("维度", "Slice by"),
        "slice_key" => lang.pick("切片", "Slice"),
        "title" => lang.pick("措施", "Action"),
        "note" => lang.pick("说明", "Note"),
        "owner_id" => lang.pick("负责人", "Owner"),
        "started_on" => lang.pick("开始日期", "Start"),
        _ => lang.pick("复盘日期", "Review date"),
    }
}

/// 优化措施 (SPEC R1): every improvement action with its before figure (as
/// captured), after figure (live) and change, and the form to record one.
async fn actions_page(
    state: &AppState,
    lang: Lang,
    u: &PageUser,
    form: &[(String, String)],
    errors: Option<&guanxi_domain::ValidationErrors>,
    flash: Option<&str>,
) -> AppResult<Html<String>> {
    use crate::service::kpi_targets as targets;
    use guanxi_domain::kpi::GroupBy;
    let (before, limit) = targets::parse_actions_page(form_get(form, "before"), form_get(form, "limit"))?;
    let page = targets::list_actions(state, &u.user, before, limit).await?;
    let names = staff_names(state).await?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|f| {
            let a = &f.action;
            let group = GroupBy::parse(&a.group_by).unwrap_or(GroupBy::None);
            let change = f.change.map(|c| match f.def.unit {
                Unit::Percent => format!("{:+.1} pp", c * 100.0),
                Unit::Minutes => format!("{c:+.0}"),
                Unit::Score | Unit::WorkingDays => format!("{c:+.2}"),
            });
            context! {
                id => a.id,
                title => a.title, note => a.note,
                kpi => f.def.label(lang),
                slice => if group == GroupBy::None { lang.pick("合计", "Total").to_string() } else { format!("{} · {}", group.label(lang), stored_slice_label(group, &a.slice_key, &names, lang)) },
                owner => a.owner_name,
                started_on => a.started_on.to_string(),
                review_on => a.review_on.map(|d| d.to_string()),
                before => kpi::display(a.before_value, f.def.unit),
                before_range => format!("{} – {}", a.before_from, a.before_to),
                after => kpi::display(f.after_value, f.def.unit),
                after_range => f.after_range.map(|r| format!("{} – {}", r.0, r.1)),
                change => change.unwrap_or_else(|| "—".into()),
            }
        })
        .collect();
    let (summary, err) = super::form_errors(errors, lang, |f| action_field(f, lang));
    let v = |k: &str| form_get(form, k).unwrap_or("").to_string();
    let title = lang.pick("优化措施", "Improvement actions");
    let ctx = context! { ..page_ctx(u, lang, "reports", title), ..context! {
        tab => "actions",
        items => items, err => err, errors => summary, flash => flash,
        later_pages => before.is_some(),
        next => page.next.map(|n| format!("/reports/actions?before={n}")),
        v => context! { kpi => v("kpi"), group_by => v("group_by"), slice_key => v("slice_key"), title => v("title"),
            note => v("note"), owner_id => v("owner_id"), started_on => v("started_on"), review_on => v("review_on") },
        kpis => kpi::REGISTRY.iter().filter(|k| k.available()).map(|k| context! { value => k.name, label => k.label(lang) }).collect::<Vec<_>>(),
        groups => GroupBy::ALL.iter().map(|g| context! { value => g.code(), label => g.label(lang) }).collect::<Vec<_>>(),
        owners => owner_options(state, None).await?,
    }};
    render(state, "reports/actions.html", ctx)
}

async fn actions(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Html<String>> {
    svc::require_reader(&u.user)?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let flash = match form_get(&pairs, "flash") {
        Some("saved") => Some(lang.pick("已记录", "Recorded")),
        Some("updated") => Some(lang.pick("已保存修改", "Changes saved")),
        Some("deleted") => Some(lang.pick("已删除", "Deleted")),
        _ => None,
    };
    actions_page(&state, lang, &u, &pairs, None, flash).await
}

async fn record_action(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    super::ClientIp(ip): super::ClientIp,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    use crate::service::kpi_targets::ActionInput;
    svc::require_reader(&u.user)?;
    let pairs = super::form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let get = |k: &str| form_get(&pairs, k).unwrap_or("").trim().to_string();
    let input = ActionInput {
        kpi: get("kpi"),
        group_by: get("group_by"),
        slice_key: get("slice_key"),
        title: get("title"),
        note: get("note"),
        owner_id: owner_field(&get("owner_id")),
        started_on: get("started_on"),
        review_on: get("review_on"),
    };
    match crate::service::kpi_targets::record_action(&state, &u.user, input, ip).await {
        Ok(_) => Ok(axum::response::Redirect::to("/reports/actions?flash=saved").into_response()),
        Err(AppError::Invalid(e)) => {
            let mut r = actions_page(&state, lang, &u, &pairs, Some(&e), None).await?.into_response();
            *r.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
            Ok(r)
        }
        Err(e) => Err(e),
    }
}

/// The choices of an action's owner: the active staff, and the current
/// owner should they no longer be active.
async fn owner_options(state: &AppState, current: Option<(i64, Option<String>)>) -> AppResult<Vec<Value>> {
    let users = state.db.read(guanxi_store::users::list_active).await?;
    let mut out: Vec<Value> = users.iter().map(|u| context! { value => u.id.to_string(), label => u.name }).collect();
    if let Some((id, name)) = current
        && !users.iter().any(|u| u.id == id)
    {
        out.push(context! { value => id.to_string(), label => name.unwrap_or_else(|| format!("#{id}")) });
    }
    Ok(out)
}

/// The owner field of an action form: empty for none; a number that is
/// not an id is an unknown owner.
fn owner_field(raw: &str) -> Option<i64> {
    if raw.is_empty() { None } else { Some(raw.parse::<i64>().unwrap_or(-1)) }
}

/// An improvement action's edit page: what stays (KPI, slice, start, the
/// captured before figure) shown, what may change (title, note, owner,
/// review date) in the form, checked as by `PUT /api/v1/kpi-actions/{id}`.
async fn action_edit_page(
    state: &AppState,
    lang: Lang,
    u: &PageUser,
    id: i64,
    form: Option<&[(String, String)]>,
    errors: Option<&guanxi_domain::ValidationErrors>,
) -> AppResult<Html<String>> {
    use guanxi_domain::kpi::GroupBy;
    let f = crate::service::kpi_targets::get_action(state, &u.user, id).await?;
    let names = staff_names(state).await?;
    let a = &f.action;
    let group = GroupBy::parse(&a.group_by).unwrap_or(GroupBy::None);
    let (summary, err) = super::form_errors(errors, lang, |f| action_field(f, lang));
    let v = match form {
        Some(form) => {
            let v = |k: &str| form_get(form, k).unwrap_or("").to_string();
            context! { title => v("title"), note => v("note"), owner_id => v("owner_id"), review_on => v("review_on") }
        }
        None => context! {
            title => a.title, note => a.note,
            owner_id => a.owner_id.map(|o| o.to_string()).unwrap_or_default(),
            review_on => a.review_on.map(|d| d.to_string()).unwrap_or_default(),
        },
    };
    let title = lang.pick("修改优化措施", "Edit improvement action");
    let ctx = context! { ..page_ctx(u, lang, "reports", title), ..context! {
        tab => "actions",
        err => err, errors => summary, v => v,
        owners => owner_options(state, a.owner_id.map(|o| (o, a.owner_name.clone()))).await?,
        a => context! {
            id => a.id,
            title => a.title,
            kpi => f.def.label(lang),
            slice => if group == GroupBy::None { lang.pick("合计", "Total").to_string() } else { format!("{} · {}", group.label(lang), stored_slice_label(group, &a.slice_key, &names, lang)) },
            owner => a.owner_name,
            started_on => a.started_on.to_string(),
            before => kpi::display(a.before_value, f.def.unit),
            before_range => format!("{} – {}", a.before_from, a.before_to),
        },
    }};
    render(state, "reports/action_edit.html", ctx)
}

async fn edit_action(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    axum::extract::Path(id): axum::extract::Path<i64>,
) -> AppResult<Html<String>> {
    svc::require_reader(&u.user)?;
    action_edit_page(&state, lang, &u, id, None, None).await
}

async fn save_action(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    super::ClientIp(ip): super::ClientIp,
    axum::extract::Path(id): axum::extract::Path<i64>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    use crate::service::kpi_targets::ActionChange;
    svc::require_reader(&u.user)?;
    let pairs = super::form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let get = |k: &str| form_get(&pairs, k).unwrap_or("").trim().to_string();
    let change = ActionChange {
        title: get("title"),
        note: get("note"),
        owner_id: owner_field(&get("owner_id")),
        review_on: get("review_on"),
    };
    match crate::service::kpi_targets::update_action(&state, &u.user, id, change, ip).await {
        Ok(()) => Ok(axum::response::Redirect::to("/reports/actions?flash=updated").into_response()),
        Err(AppError::Invalid(e)) => {
            let mut r = action_edit_page(&state, lang, &u, id, Some(&pairs), Some(&e)).await?.into_response();
            *r.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
            Ok(r)
        }
        Err(e) => Err(e),
    }
}

async fn delete_action(
    State(state): State<AppState>,
    u: PageUser,
    super::ClientIp(ip): super::ClientIp,
    axum::extract::Path(id): axum::extract::Path<i64>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let pairs = super::form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    crate::service::kpi_targets::delete_action(&state, &u.user, id, ip).await?;
    Ok(axum::response::Redirect::to("/reports/actions?flash=deleted").into_response())
}
