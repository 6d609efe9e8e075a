//! The import page over HTTP, on every engine: a clean file imports and the
//! report counts it; a file with bad rows lists each of them (row, column,
//! reason) and writes nothing; form errors come back beside their field;
//! only supervisors and administrators see the page; the CSRF token is
//! required; English.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use reqwest::multipart::{Form, Part};
use reqwest::{Client, StatusCode};
use support::app::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, apps, csrf};

async fn login(app: &TestApp, email: &str, password: &str) -> Client {
    app.signed_in(email, password).await
}

async fn get(app: &TestApp, http: &Client, path: &str) -> (StatusCode, String) {
    app.page(http, path).await
}

/// What the form sends: the token, the kind, the file, and the options.
struct Upload<'a> {
    csrf: Option<&'a str>,
    kind: &'a str,
    file: Option<(&'a str, Vec<u8>)>,
    dry_run: bool,
    mapping: &'a str,
}

impl<'a> Upload<'a> {
    fn csv(csrf: &'a str, kind: &'a str, name: &'a str, body: &str) -> Self {
        Upload { csrf: Some(csrf), kind, file: Some((name, body.as_bytes().to_vec())), dry_run: false, mapping: "" }
    }
}

async fn post(app: &TestApp, http: &Client, up: Upload<'_>) -> (StatusCode, String) {
    let mut form = Form::new();
    if let Some(t) = up.csrf {
        form = form.text("_csrf", t.to_string());
    }
    form = form.text("kind", up.kind.to_string()).text("mapping", up.mapping.to_string());
    if up.dry_run {
        form = form.text("dry_run", "1");
    }
    form = match up.file {
        Some((name, bytes)) => form.part("file", Part::bytes(bytes).file_name(name.to_string())),
        // A file input left empty.
        None => form.part("file", Part::bytes(Vec::new()).file_name("").mime_str("application/octet-stream").unwrap()),
    };
    let r = http.post(format!("{}/import", app.url)).multipart(form).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

/// The text of an element's content with the tags taken out.
fn text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for ch in html.chars() {
        match ch {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The report's error table: (row, column, reason) per line.
fn error_rows(html: &str) -> Vec<Vec<String>> {
    let Some(at) = html.find("id=\"import-errors\"") else { return Vec::new() };
    let body = &html[at..];
    let body = &body[body.find("<tbody>").unwrap()..body.find("</tbody>").unwrap()];
    body.split("<tr>").skip(1).map(|tr| tr.split("<td").skip(1).map(|td| text(&format!("<td{td}"))).collect()).collect()
}

/// The text of the element with this id (up to its first closing tag).
fn by_id(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[at..];
    let start = rest.find('>')? + 1;
    let end = rest[start..].find("</")? + start;
    Some(text(&rest[start..end]))
}

async fn count(app: &TestApp, table: &'static str) -> i64 {
    app.state.db.read(move |c| c.scalar(&format!("SELECT COUNT(*) FROM {table}"), &[])).await.unwrap()
}

/// Everything an import may write: the harness's snapshot and the counts of
/// the tables contacts and orders land in.
async fn snapshot(app: &TestApp) -> (Vec<(String, i64)>, Vec<i64>) {
    let mut counts = Vec::new();
    for t in ["contacts", "orders", "timeline"] {
        counts.push(count(app, t).await);
    }
    (app.snapshot().await, counts)
}

const GOOD: &str = "\
客户名称,联系电话,所属行业,标签,外部编号
北京星辰科技,13812345678,金融,\"高价值,活跃\",CRM-001
上海云帆贸易,021-12345678,零售,,CRM-002
广州恒达物流,,物流,重点,CRM-003
";

const BAD: &str = "\
客户名称,联系电话,所属行业,合作开始,外部编号
北京星辰科技,13812345678,金融,2024-05-01,A-1
,13912345678,零售,,A-2
上海云帆贸易,12345,零售,,A-3
广州恒达物流,13712345678,物流,2024-05-01,A-4
深圳创新科技,13612345678,软件与信息服务,2030-01-01,A-5
";

#[tokio::test]
async fn a_clean_file_imports_and_the_report_counts_it() {
    for app in apps().await {
        let e = app.engine.clone();
        let http = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;

        // The list links to the page; the page lists the accepted headers.
        let (_, list) = get(&app, &http, "/customers").await;
        assert!(list.contains("href=\"/import\""), "[{e}] import link for admins");
        let (s, page) = get(&app, &http, "/import").await;
        assert_eq!(s, StatusCode::OK);
        assert!(page.contains("enctype=\"multipart/form-data\""));
        for alias in ["客户名称", "联系电话", "外部系统编号", "下单日期", "客户外部编号"] {
            assert!(page.contains(alias), "[{e}] the help lists {alias}");
        }
        let token = csrf(&page);

        // A dry run counts and writes nothing.
        let before = snapshot(&app).await;
        let (s, html) =
            post(&app, &http, Upload { dry_run: true, ..Upload::csv(&token, "customers", "客户.csv", GOOD) }).await;
        assert_eq!(s, StatusCode::OK, "[{e}] {html}");
        assert!(by_id(&html, "import-checked").is_some(), "[{e}] dry-run note");
        assert!(html.contains("仅检查，未写入任何数据"));
        assert_eq!(by_id(&html, "count-rows").as_deref(), Some("3"));
        assert_eq!(by_id(&html, "count-inserted").as_deref(), Some("3"));
        assert_eq!(snapshot(&app).await, before, "[{e}] a dry run writes nothing");

        // The import itself.
        let (s, html) = post(&app, &http, Upload::csv(&token, "customers", "客户.csv", GOOD)).await;
        assert_eq!(s, StatusCode::OK, "[{e}] {html}");
        assert_eq!(by_id(&html, "import-file").as_deref(), Some("客户.csv"));
        assert!(by_id(&html, "import-done").unwrap().contains("导入完成"));
        assert_eq!(
            ["count-rows", "count-inserted", "count-updated", "count-unchanged"].map(|id| by_id(&html, id).unwrap()),
            ["3", "3", "0", "0"].map(String::from),
            "[{e}]"
        );
        assert!(error_rows(&html).is_empty());
        assert_eq!(count(&app, "customers").await, 3, "[{e}] the rows are in the database");
        let (_, list) = get(&app, &http, "/customers").await;
        assert!(list.contains("北京星辰科技") && list.contains("138****5678"), "[{e}] listed, masked");

        // The same file again changes nothing; a mapping renames a header.
        let before = snapshot(&app).await;
        let (s, html) = post(&app, &http, Upload::csv(&token, "customers", "客户.csv", GOOD)).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(by_id(&html, "count-unchanged").as_deref(), Some("3"), "[{e}]");
        assert_eq!(snapshot(&app).await, before, "[{e}] re-importing changes nothing");
        let (s, html) = post(
            &app,
            &http,
            Upload {
                mapping: "公司 = name\n\n序号=-\n",
                ..Upload::csv(
                    &token,
                    "customers",
                    "renamed.csv",
                    "序号,公司,外部编号,行业\n1,北京星辰科技,CRM-001,制造业\n",
                )
            },
        )
        .await;
        assert_eq!(s, StatusCode::OK, "[{e}] {html}");
        assert_eq!(by_id(&html, "count-updated").as_deref(), Some("1"), "[{e}]");

        // Contacts and orders find their customer by code.
        let contacts = "客户编号,联系人,职务,手机\nKH000001,李强,采购经理,13700004321\n";
        let (s, html) = post(&app, &http, Upload::csv(&token, "contacts", "联系人.csv", contacts)).await;
        assert_eq!((s, by_id(&html, "count-inserted")), (StatusCode::OK, Some("1".into())), "[{e}] {html}");
        let orders = "客户编号,下单日期,金额,订单号\nKH000001,2026-10-01,12800.50,SO-1\n";
        let (s, html) = post(&app, &http, Upload::csv(&token, "orders", "订单.csv", orders)).await;
        assert_eq!((s, by_id(&html, "count-inserted")), (StatusCode::OK, Some("1".into())), "[{e}] {html}");
        assert_eq!((count(&app, "contacts").await, count(&app, "orders").await), (1, 1), "[{e}]");
    }
}

#[tokio::test]
async fn every_bad_row_is_listed_and_nothing_is_written() {
    for app in apps().await {
        let e = app.engine.clone();
        let http = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let (_, page) = get(&app, &http, "/import").await;
        let token = csrf(&page);

        let before = snapshot(&app).await;
        let (s, html) = post(&app, &http, Upload::csv(&token, "customers", "有误的客户.csv", BAD)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "[{e}]");
        let banner = by_id(&html, "import-refused").expect("the refusal banner");
        assert!(banner.contains("没有写入任何数据"), "[{e}] {banner}");
        assert!(html.contains("文件中有 3 行有误"), "[{e}]");
        assert_eq!(by_id(&html, "count-rows").as_deref(), Some("5"));
        assert_eq!(by_id(&html, "count-bad").as_deref(), Some("3"));
        assert!(by_id(&html, "count-inserted").is_none(), "no counts of a refused import");
        let rows = error_rows(&html);
        assert_eq!(rows.len(), 3, "[{e}] {rows:?}");
        assert_eq!(rows[0][..2], ["3", "客户名称 name"]);
        assert_eq!(rows[0][2], "必填");
        assert_eq!(rows[1][..2], ["4", "联系电话 phone"]);
        assert!(rows[1][2].contains("不是有效的电话号码"), "{rows:?}");
        assert_eq!(rows[2][..2], ["6", "合作开始 cooperation_start"]);
        assert_eq!(rows[2][2], "不能晚于今天");
        assert_eq!(snapshot(&app).await, before, "[{e}] nothing written");

        // Header problems are row 1; a dry run with errors says the same.
        let (s, html) = post(
            &app,
            &http,
            Upload {
                dry_run: true, ..Upload::csv(&token, "orders", "orders.csv", "客户编号,金额,备注x\nKH1,1,\n")
            },
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(by_id(&html, "import-refused").unwrap().contains("没有写入任何数据"));
        let rows = error_rows(&html);
        assert!(rows.iter().all(|r| r[0].starts_with("1 表头")), "[{e}] {rows:?}");
        assert!(rows.iter().any(|r| r[1].starts_with("ordered_on") && r[2] == "缺少必需的列"), "[{e}] {rows:?}");
        assert_eq!(snapshot(&app).await, before, "[{e}] nothing written");

        // English: the banner, the headings and the reasons.
        http.get(format!("{}/lang/en?back=/import", app.url)).send().await.unwrap();
        let (_, page) = get(&app, &http, "/import").await;
        assert!(page.contains("Accepted columns") && page.contains("Dry run: check only, write nothing"), "[{e}]");
        let (s, html) = post(&app, &http, Upload::csv(&token, "customers", "bad.csv", BAD)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("lang=\"en\""));
        assert!(by_id(&html, "import-refused").unwrap().contains("Nothing was written"), "[{e}]");
        assert!(html.contains("3 rows of the file have errors"));
        assert!(html.contains("<th>Row</th><th>Column</th><th>Reason</th>"), "[{e}]");
        let rows = error_rows(&html);
        assert_eq!(rows.iter().map(|r| r[2].as_str()).collect::<Vec<_>>()[0], "is required", "[{e}] {rows:?}");
        assert_eq!(rows[2][2], "cannot be later than today");
        assert_eq!(snapshot(&app).await, before, "[{e}] nothing written");
    }
}

#[tokio::test]
async fn form_errors_come_back_beside_their_field() {
    for app in apps().await {
        let e = app.engine.clone();
        let http = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let (_, page) = get(&app, &http, "/import").await;
        let token = csrf(&page);
        let before = snapshot(&app).await;

        // No file.
        let (s, html) =
            post(&app, &http, Upload { file: None, dry_run: true, ..Upload::csv(&token, "contacts", "", "") }).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "[{e}]");
        assert_eq!(by_id(&html, "e-file").as_deref(), Some("请选择要导入的文件"), "[{e}]");
        assert!(by_id(&html, "form-errors").unwrap().contains("请修正以下问题后再上传"));
        assert!(html.contains("<option value=\"contacts\" selected>"), "[{e}] the choices are kept");
        assert!(html.contains("name=\"dry_run\" value=\"1\" checked"), "[{e}] the choices are kept");

        // Not CSV or Excel; an .xlsx that is not one; an empty file.
        let png = Upload {
            file: Some(("logo.png", vec![0x89, b'P', b'N', b'G'])),
            ..Upload::csv(&token, "customers", "", "")
        };
        let (s, html) = post(&app, &http, png).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(by_id(&html, "e-file").unwrap().starts_with("不支持的文件类型"), "[{e}]");
        let (s, html) = post(&app, &http, Upload::csv(&token, "customers", "客户.xlsx", "客户名称\n甲\n")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(by_id(&html, "e-file").unwrap().starts_with("Excel 文件无法读取"), "[{e}] {html}");
        let (_, html) = post(&app, &http, Upload::csv(&token, "customers", "空.csv", "")).await;
        assert_eq!(by_id(&html, "e-file").as_deref(), Some("文件是空的"));

        // A mapping line without `=`, and one naming no field; the text is kept.
        let (s, html) = post(
            &app,
            &http,
            Upload {
                mapping: "公司=name\n手机 phone\n备注=comment",
                ..Upload::csv(&token, "customers", "a.csv", GOOD)
            },
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let err = by_id(&html, "e-mapping").unwrap();
        assert!(
            err.contains("第 2 行“手机 phone”应写成 列名=字段") && err.contains("第 3 行：“comment”"),
            "[{e}] {err}"
        );
        assert!(html.contains("公司=name\n手机 phone"), "[{e}] the mapping is kept");
        assert!(by_id(&html, "e-file").is_none());
        assert_eq!(snapshot(&app).await, before, "[{e}] nothing written");

        // The same in English.
        http.get(format!("{}/lang/en?back=/import", app.url)).send().await.unwrap();
        let (_, html) = post(&app, &http, Upload { file: None, ..Upload::csv(&token, "customers", "", "") }).await;
        assert_eq!(by_id(&html, "e-file").as_deref(), Some("Choose a file to import"), "[{e}]");
        let (_, html) =
            post(&app, &http, Upload { mapping: "Company", ..Upload::csv(&token, "customers", "a.csv", GOOD) }).await;
        assert_eq!(by_id(&html, "e-mapping").as_deref(), Some("line 1 “Company”: write it as column=field"));

        // Larger than the upload limit: a page that says so.
        let big = vec![b'a'; guanxi_server::import::MAX_UPLOAD_BYTES + 1];
        let (s, html) =
            post(&app, &http, Upload { file: Some(("big.csv", big)), ..Upload::csv(&token, "customers", "", "") })
                .await;
        assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "[{e}]");
        assert!(html.contains("The file is larger than 20 MiB"), "[{e}] {html}");
    }
}

#[tokio::test]
async fn only_supervisors_and_admins_import_and_the_token_is_required() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        app.user(&admin, "agent@test.cn", "agent", None).await;
        app.user(&admin, "lead@test.cn", "supervisor", None).await;

        // An agent: no link, no page, no import.
        let http = login(&app, "agent@test.cn", "password-123").await;
        let (s, list) = get(&app, &http, "/customers").await;
        assert_eq!(s, StatusCode::OK);
        assert!(!list.contains("href=\"/import\""), "[{e}] no import link for agents");
        let (s, html) = get(&app, &http, "/import").await;
        assert_eq!(s, StatusCode::FORBIDDEN, "[{e}]");
        assert!(html.contains("没有权限"));
        let token = csrf(&list);
        let before = snapshot(&app).await;
        let (s, _) = post(&app, &http, Upload::csv(&token, "customers", "客户.csv", GOOD)).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "[{e}]");
        assert_eq!(snapshot(&app).await, before, "[{e}] nothing written");

        // A supervisor may; without the form's token, or with another, nothing happens.
        let http = login(&app, "lead@test.cn", "password-123").await;
        let (_, list) = get(&app, &http, "/customers").await;
        assert!(list.contains("href=\"/import\""), "[{e}] the supervisor sees the link");
        let (s, page) = get(&app, &http, "/import").await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = post(&app, &http, Upload { csrf: None, ..Upload::csv("", "customers", "客户.csv", GOOD) }).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "[{e}] no token");
        let (s, _) = post(&app, &http, Upload::csv(&token, "customers", "客户.csv", GOOD)).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "[{e}] another session's token");
        assert_eq!(snapshot(&app).await, before, "[{e}] nothing written");
        // An ordinary form post (no multipart) is refused as well.
        let r = http
            .post(format!("{}/import", app.url))
            .form(&[("_csrf", csrf(&page).as_str()), ("kind", "customers")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "[{e}]");
        let (s, html) = post(&app, &http, Upload::csv(&csrf(&page), "customers", "客户.csv", GOOD)).await;
        assert_eq!(s, StatusCode::OK, "[{e}] {html}");
        assert_eq!(count(&app, "customers").await, 3);
    }
}
