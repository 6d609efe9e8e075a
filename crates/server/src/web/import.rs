//! The import page (SPEC C9): a supervisor uploads a CSV or Excel file of
//! customers, contacts or orders — or only checks it — and reads the report,
//! which lists every refused row with its row number, column and reason.
//! The file goes through the same service as `POST /api/v1/import/{kind}`
//! ([`import::import_upload`]), with the same body limit and timeout.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use guanxi_domain::Lang;
use minijinja::{Value, context};
use serde::Deserialize;

use super::{ClientIp, page_ctx, render};
use crate::auth::PageUser;
use crate::error::{AppError, AppResult};
use crate::import::{self, FileFormat, ImportKind, ImportOptions, ImportReport};
use crate::lang::ReqLang;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/import", get(form))
}

/// The upload; `app` in lib.rs gives it the import routes' body limit and
/// timeout.
pub fn upload_router() -> Router<AppState> {
    Router::new().route("/import", post(submit))
}

/// A file the form sent.
struct UploadedFile {
    name: String,
    content_type: Option<String>,
    bytes: Bytes,
}

/// The posted form, as sent.
#[derive(Default)]
struct Upload {
    csrf: Option<String>,
    kind: Option<String>,
    dry_run: bool,
    mapping: String,
    file: Option<UploadedFile>,
}

async fn read_upload(mut multipart: Multipart) -> Result<Upload, MultipartError> {
    let mut up = Upload::default();
    while let Some(field) = multipart.next_field().await? {
        let name = field.name().unwrap_or("").to_string();
        match name.as_str() {
            "_csrf" => up.csrf = Some(field.text().await?),
            "kind" => up.kind = Some(field.text().await?),
            "dry_run" => up.dry_run = !field.text().await?.is_empty(),
            "mapping" => up.mapping = field.text().await?,
            "file" => {
                let name = field.file_name().unwrap_or("").to_string();
                let content_type = field.content_type().map(str::to_string);
                let bytes = field.bytes().await?;
                // A file input left empty is sent as a part without a name or content.
                if !(name.is_empty() && bytes.is_empty()) {
                    up.file = Some(UploadedFile { name, content_type, bytes });
                }
            }
            _ => {}
        }
    }
    Ok(up)
}

/// What the form shows: the user's choices and the errors beside the fields.
struct FormState<'a> {
    kind: ImportKind,
    dry_run: bool,
    mapping: &'a str,
    errors: Vec<(&'static str, String)>,
}

impl FormState<'_> {
    fn error(&mut self, field: &'static str, lang: Lang, zh: &str, en: &str) {
        self.errors.push((field, lang.pick(zh, en).to_string()));
    }
}

fn form_label(field: &str, lang: Lang) -> &'static str {
    match field {
        "kind" => lang.pick("导入类型", "What to import"),
        "file" => lang.pick("文件", "File"),
        _ => lang.pick("列映射", "Column mapping"),
    }
}

/// The accepted columns of every kind, for the help beside the form.
fn help(selected: ImportKind, lang: Lang) -> Vec<Value> {
    ImportKind::ALL
        .iter()
        .map(|k| {
            let required = k.required();
            let fields: Vec<Value> = k
                .fields()
                .into_iter()
                .map(|(name, aliases)| {
                    let group = required.iter().find(|g| g.contains(&name));
                    context! {
                        name => name,
                        aliases => aliases.join(lang.pick("、", ", ")),
                        required => group.is_some(),
                        one_of => group.filter(|g| g.len() > 1).map(|g| g.join(" / ")),
                    }
                })
                .collect();
            context! { code => k.code(), label => k.label(lang), open => *k == selected, fields => fields }
        })
        .collect()
}

fn render_form(state: &AppState, lang: Lang, u: &PageUser, f: &FormState<'_>) -> AppResult<Html<String>> {
    let title = lang.pick("导入数据", "Import");
    let err: BTreeMap<&str, &str> = f.errors.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let ctx = context! { ..page_ctx(u, lang, "customers", title), ..context! {
        kinds => ImportKind::ALL.iter().map(|k| context! { value => k.code(), label => k.label(lang) }).collect::<Vec<_>>(),
        v => context! { kind => f.kind.code(), dry_run => f.dry_run, mapping => f.mapping },
        err => err,
        errors => f.errors.iter().map(|(k, m)| context! { field => k, label => form_label(k, lang), message => m }).collect::<Vec<_>>(),
        help => help(f.kind, lang),
        max_mib => import::MAX_UPLOAD_BYTES / (1024 * 1024),
        max_rows => import::MAX_API_ROWS,
    }};
    render(state, "import/form.html", ctx)
}

#[derive(Debug, Deserialize)]
struct FormQuery {
    kind: Option<String>,
}

async fn form(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    Query(q): Query<FormQuery>,
) -> AppResult<Html<String>> {
    if !u.user.role.can_import() {
        return Err(AppError::Forbidden);
    }
    let kind = q.kind.as_deref().and_then(ImportKind::parse).unwrap_or(ImportKind::Customers);
    render_form(&state, lang, &u, &FormState { kind, dry_run: false, mapping: "", errors: Vec::new() })
}

/// The mapping box: one `column=field` per line, blank lines skipped.
/// Each bad line is named with its number.
fn parse_mapping(raw: &str, kind: ImportKind, lang: Lang) -> Result<Vec<(String, String)>, String> {
    let fields = kind.fields();
    let mut entries = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in raw.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let n = i + 1;
        let line = line.trim();
        match import::mapping_entry(line) {
            None => bad.push(match lang {
                Lang::Zh => format!("第 {n} 行“{line}”应写成 列名=字段"),
                Lang::En => format!("line {n} “{line}”: write it as column=field"),
            }),
            Some((_, field)) if !(field.is_empty() || field == "-" || fields.iter().any(|(f, _)| *f == field)) => {
                let label = kind.label(lang);
                bad.push(match lang {
                    Lang::Zh => format!("第 {n} 行：“{field}”不是可导入的{label}字段（见“可识别的列名”）"),
                    Lang::En => format!("line {n}: “{field}” is not one of the “Accepted columns”"),
                });
            }
            Some(entry) => entries.push(entry),
        }
    }
    if bad.is_empty() { Ok(entries) } else { Err(bad.join(lang.pick("；", "; "))) }
}

async fn submit(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    ClientIp(ip): ClientIp,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<Response> {
    if !u.user.role.can_import() {
        return Err(AppError::Forbidden);
    }
    let multipart = multipart.map_err(|e| AppError::BadRequest(e.body_text()))?;
    let up = match read_upload(multipart).await {
        Ok(up) => up,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            // Nothing is done with the request: showing the form again needs no token.
            let f = FormState {
                kind: ImportKind::Customers,
                dry_run: false,
                mapping: "",
                errors: vec![("file", too_large(lang))],
            };
            return Ok((StatusCode::PAYLOAD_TOO_LARGE, render_form(&state, lang, &u, &f)?).into_response());
        }
        Err(e) => return Err(AppError::BadRequest(e.body_text())),
    };
    u.check_csrf(up.csrf.as_deref())?;

    let kind = up.kind.as_deref().and_then(ImportKind::parse);
    let mut f = FormState {
        kind: kind.unwrap_or(ImportKind::Customers),
        dry_run: up.dry_run,
        mapping: &up.mapping,
        errors: Vec::new(),
    };
    if kind.is_none() {
        f.error("kind", lang, "请选择要导入的数据", "Choose what to import");
    }
    let format = match &up.file {
        None => {
            f.error("file", lang, "请选择要导入的文件", "Choose a file to import");
            None
        }
        Some(file) if file.bytes.is_empty() => {
            f.error("file", lang, "文件是空的", "The file is empty");
            None
        }
        Some(file) => {
            let format = FileFormat::of_upload(&file.name, file.content_type.as_deref(), &file.bytes);
            if format.is_none() {
                f.error(
                    "file",
                    lang,
                    "不支持的文件类型：请上传 CSV 或 Excel（.xlsx）文件",
                    "Unsupported file type: upload a CSV or Excel (.xlsx) file",
                );
            }
            format
        }
    };
    let mapping = match parse_mapping(&up.mapping, f.kind, lang) {
        Ok(m) => m,
        Err(message) => {
            f.errors.push(("mapping", message));
            Vec::new()
        }
    };
    let (Some(kind), Some(format), Some(file), true) = (kind, format, &up.file, f.errors.is_empty()) else {
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render_form(&state, lang, &u, &f)?).into_response());
    };

    let opts = ImportOptions { dry_run: up.dry_run, mapping, lang, ip, ..ImportOptions::default() };
    match import::import_upload(&state, u.user.clone(), kind, format, file.bytes.to_vec(), opts).await {
        Ok(report) => {
            let status = if report.is_ok() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
            Ok((status, render_report(&state, lang, &u, &file.name, &report)?).into_response())
        }
        // The file could not be read at all: said beside the file field.
        Err(AppError::BadRequest(reason)) => {
            f.errors.push(("file", reason));
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render_form(&state, lang, &u, &f)?).into_response())
        }
        Err(e) => Err(e),
    }
}

/// Why a file over the upload limit is refused (also on the error page, see
/// `render_errors`).
pub fn too_large(lang: Lang) -> String {
    let mib = import::MAX_UPLOAD_BYTES / (1024 * 1024);
    match lang {
        Lang::Zh => format!("文件超过 {mib} MiB，请拆分后再导入"),
        Lang::En => format!("The file is larger than {mib} MiB; split it and import the parts"),
    }
}

fn render_report(
    state: &AppState,
    lang: Lang,
    u: &PageUser,
    file_name: &str,
    report: &ImportReport,
) -> AppResult<Html<String>> {
    let title = lang.pick("导入结果", "Import report");
    let ctx = context! { ..page_ctx(u, lang, "customers", title), ..context! {
        file_name => file_name,
        kind => report.kind.code(),
        kind_label => report.kind.label(lang),
        r => context! {
            dry_run => report.dry_run, ok => report.is_ok(), rows => report.rows, inserted => report.inserted,
            updated => report.updated, unchanged => report.unchanged, bad_rows => report.bad_rows,
        },
        errors => report.errors.iter().map(|e| context! {
            row => e.row,
            column => e.column,
            field => e.field.as_deref().filter(|f| *f != e.column),
            message => e.message,
        }).collect::<Vec<_>>(),
        truncated => report.errors.len() >= import::MAX_REPORTED_ERRORS,
        max_errors => import::MAX_REPORTED_ERRORS,
    }};
    render(state, "import/report.html", ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_lines() {
        let ok = parse_mapping("公司 = name\n\n序号=-\n备注二=\n", ImportKind::Customers, Lang::Zh).unwrap();
        assert_eq!(
            ok,
            vec![("公司".into(), "name".into()), ("序号".into(), "-".into()), ("备注二".into(), String::new())]
        );
        let e = parse_mapping("公司=name\n公司 name\n手机=mobile", ImportKind::Customers, Lang::Zh).unwrap_err();
        assert_eq!(e, "第 2 行“公司 name”应写成 列名=字段；第 3 行：“mobile”不是可导入的客户字段（见“可识别的列名”）");
        let e = parse_mapping("=name", ImportKind::Orders, Lang::En).unwrap_err();
        assert_eq!(e, "line 1 “=name”: write it as column=field");
    }
}
