//! Import and export of customers, contacts and orders (SPEC C9) over the
//! API, on every engine: bad rows are all reported and nothing is written;
//! a clean file inserts; the same file again changes nothing; Excel files
//! both ways; contacts and orders find their customer by code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use calamine::Reader as _;
use reqwest::Method;
use serde_json::{Value, json};
use support::app::{TestApp, apps};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

async fn upload(app: &TestApp, token: &str, path: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    let r = app
        .http
        .post(format!("{}{path}", app.url))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn import_csv(app: &TestApp, token: &str, kind: &str, query: &str, csv: &str) -> (u16, Value) {
    upload(app, token, &format!("/api/v1/import/{kind}{query}"), "text/csv", csv.as_bytes().to_vec()).await
}

async fn get_json(app: &TestApp, path: &str, token: &str) -> Value {
    let r = app.call(Method::GET, path, Some(token), None).await;
    assert_eq!(r.status(), 200, "[{}] GET {path}", app.engine);
    r.json().await.unwrap()
}

/// Every table an import of contacts or orders touches, in full.
async fn relationship_snapshot(app: &TestApp) -> Vec<String> {
    let mut out = Vec::new();
    for (t, order) in [
        ("contacts", "id"),
        ("orders", "id"),
        ("timeline", "id"),
        ("contact_index", "digest, ending, customer_id, contact_id"),
        ("audit_log", "id"),
    ] {
        let rows =
            app.state.db.read(move |c| c.query(&format!("SELECT * FROM {t} ORDER BY {order}"), &[])).await.unwrap();
        out.push(format!("{t}: {rows:?}"));
    }
    out
}

const GOOD: &str = "\
客户名称,联系电话,联系邮箱,所属行业,企业规模,标签,生命周期阶段,合作开始,营销授权,外部编号
北京星辰科技,13812345678,li@xingchen.cn,金融,中型,\"高价值,活跃\",成长期,2024/5/1,是,CRM-001
上海云帆贸易,021-12345678,,零售,small,,new,2023-01-15,否,CRM-002
广州恒达物流,,,物流,,重点,,,,
";

#[tokio::test]
async fn bad_rows_are_all_reported_and_nothing_is_written() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        let csv = "\
客户名称,联系电话,所属行业,合作开始,外部编号
北京星辰科技,13812345678,金融,2024-05-01,A-1
,13912345678,零售,,A-2
上海云帆贸易,12345,零售,,A-3
广州恒达物流,13712345678,物流,2024-05-01,A-4
深圳创新科技,13612345678,软件与信息服务,2030-01-01,A-5
成都天府餐饮,13512345678,餐饮,,A-6
";
        let before = app.snapshot().await;
        let (s, p) = import_csv(&app, &admin, "customers", "", csv).await;
        assert_eq!(s, 422, "[{e}] {p}");
        assert_eq!(p["bad_rows"], 3, "[{e}] {p}");
        assert_eq!(p["rows"], 6);
        let got: Vec<(i64, String, String)> = p["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (x["row"].as_i64().unwrap(), x["column"].as_str().unwrap().into(), x["code"].as_str().unwrap().into())
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (3, "客户名称".into(), "required".into()),
                (4, "联系电话".into(), "invalid_phone".into()),
                (6, "合作开始".into(), "in_future".into()),
            ],
            "[{e}]"
        );
        // Chinese by default, English on request.
        assert_eq!(p["errors"][0]["message"], "必填");
        assert!(p["errors"][1]["message"].as_str().unwrap().contains("不是有效的电话号码"));
        assert_eq!(app.snapshot().await, before, "[{e}] nothing written");

        let (s, p) = import_csv(&app, &admin, "customers", "?lang=en", csv).await;
        assert_eq!(s, 422);
        assert_eq!(p["errors"][2]["message"], "cannot be later than today");

        // Header problems: an unknown column is named; a missing required
        // column is reported alone.
        let (s, p) = import_csv(&app, &admin, "customers", "", "客户名称,电话号码x\n甲,1\n").await;
        assert_eq!(
            (s, p["errors"][0]["row"].as_i64(), p["errors"][0]["code"].as_str()),
            (422, Some(1), Some("unknown_column"))
        );
        let (s, p) = import_csv(&app, &admin, "customers", "", "所属行业\n金融\n").await;
        assert_eq!(
            (s, p["errors"][0]["code"].as_str(), p["bad_rows"].as_i64()),
            (422, Some("missing_column"), Some(1))
        );
        // A duplicate external id in the file.
        let (s, p) = import_csv(&app, &admin, "customers", "", "name,external_id\n甲,X\n乙,X\n").await;
        assert_eq!(s, 422);
        assert_eq!(p["errors"][0]["row"], 3);
        assert_eq!(p["errors"][0]["message"], "与第 2 行重复");
        assert_eq!(app.snapshot().await, before, "[{e}] nothing written");

        // Only supervisors and admins import; only CSV and Excel.
        let (_, agent) = app.user(&admin, "agent@test.cn", "agent", None).await;
        let (s, _) = import_csv(&app, &agent, "customers", "", GOOD).await;
        assert_eq!(s, 403);
        let (s, _) = upload(&app, &admin, "/api/v1/import/customers", "image/png", vec![1, 2, 3]).await;
        assert_eq!(s, 415);
        let (s, _) = import_csv(&app, &admin, "tickets", "", GOOD).await;
        assert_eq!(s, 404);
    }
}

#[tokio::test]
async fn a_clean_import_inserts_and_the_same_file_again_changes_nothing() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;

        // A dry run checks and counts, and writes nothing.
        let before = app.snapshot().await;
        let (s, r) = import_csv(&app, &admin, "customers", "?dry_run=true", GOOD).await;
        assert_eq!(s, 200, "[{e}] {r}");
        assert_eq!(
            (r["dry_run"].as_bool(), r["inserted"].as_i64(), r["rows"].as_i64()),
            (Some(true), Some(3), Some(3))
        );
        assert_eq!(app.snapshot().await, before, "[{e}] a dry run writes nothing");

        let (s, r) = import_csv(&app, &admin, "customers", "", GOOD).await;
        assert_eq!(s, 200, "[{e}] {r}");
        assert_eq!(
            (r["inserted"].as_i64(), r["updated"].as_i64(), r["unchanged"].as_i64()),
            (Some(3), Some(0), Some(0))
        );
        let list = get_json(&app, "/api/v1/customers?sort=code_asc", &admin).await;
        assert_eq!(list["total"], 3);
        let first = &list["items"][0];
        assert_eq!(first["name"], "北京星辰科技");
        assert_eq!(first["phone"], "138****5678");
        assert_eq!(first["email"], "l***@xingchen.cn");
        assert_eq!(first["scale"], "medium");
        assert_eq!(first["stage"], "growing");
        assert_eq!(first["cooperation_start"], "2024-05-01");
        assert_eq!(first["marketing_consent"], true);
        assert_eq!(first["tags"], json!(["活跃", "高价值"]));
        assert_eq!(list["items"][1]["phone"], "021****5678");
        // Personal data is sealed as the form seals it: searchable, never in clear.
        assert_eq!(get_json(&app, "/api/v1/customers?q=5678", &admin).await["total"], 2);
        let raw = app.state.db.read(|c| c.query("SELECT * FROM customers", &[])).await.unwrap();
        assert!(!format!("{raw:?}").contains("13812345678"), "[{e}] phone stored in clear");
        let audit: i64 = app
            .state
            .db
            .read(|c| c.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'import'", &[]))
            .await
            .unwrap();
        assert_eq!(audit, 1);

        // The same file again: rows with an external id are found and
        // unchanged; the row without one is a new customer.
        let (s, r) = import_csv(&app, &admin, "customers", "", GOOD).await;
        assert_eq!(s, 200);
        assert_eq!((r["inserted"].as_i64(), r["unchanged"].as_i64()), (Some(1), Some(2)), "[{e}] {r}");
        let before = app.snapshot().await;
        let matched = GOOD.lines().take(3).collect::<Vec<_>>().join("\n");
        let (s, r) = import_csv(&app, &admin, "customers", "", &matched).await;
        assert_eq!((s, r["unchanged"].as_i64(), r["inserted"].as_i64()), (200, Some(2), Some(0)));
        assert_eq!(app.snapshot().await, before, "[{e}] re-importing changes nothing");

        // A file with fewer columns updates only those: the phone stays.
        let (s, r) =
            import_csv(&app, &admin, "customers", "", "external_id,name,industry\nCRM-001,北京星辰科技,制造业\n").await;
        assert_eq!((s, r["updated"].as_i64()), (200, Some(1)), "[{e}] {r}");
        let c = get_json(&app, "/api/v1/customers?q=CRM", &admin).await;
        let _ = c;
        let one = get_json(&app, &format!("/api/v1/customers/{}", first["id"]), &admin).await;
        assert_eq!((one["industry"].as_str(), one["phone"].as_str()), (Some("制造业"), Some("138****5678")));
        assert_eq!(one["tags"], json!(["活跃", "高价值"]));
        // A column mapping and the owner by email.
        let (s, r) = import_csv(
            &app,
            &admin,
            "customers",
            "?map=%E5%85%AC%E5%8F%B8%3Dname",
            "公司,负责人,外部编号\n北京星辰科技,admin@test.cn,CRM-001\n",
        )
        .await;
        assert_eq!((s, r["updated"].as_i64()), (200, Some(1)), "[{e}] {r}");
        let one = get_json(&app, &format!("/api/v1/customers/{}", first["id"]), &admin).await;
        assert_eq!(one["owner_name"], "管理员");
        let (s, r) =
            import_csv(&app, &admin, "customers", "", "客户名称,负责人,外部编号\n北京星辰科技,nobody@x.cn,CRM-001\n")
                .await;
        assert_eq!(
            (s, r["errors"][0]["code"].as_str(), r["errors"][0]["column"].as_str()),
            (422, Some("unknown"), Some("负责人"))
        );
    }
}

fn customers_xlsx() -> Vec<u8> {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    for (i, h) in ["客户名称", "联系电话", "所属行业", "合作开始", "外部编号", "备注"].iter().enumerate()
    {
        ws.write_string(0, i as u16, *h).unwrap();
    }
    let rows = [
        ("杭州西湖茶业", 13812345678.0, "零售", (2022, 3, 8), "XL-1"),
        ("南京钟山科技", 13912340000.0, "金融", (2021, 11, 30), "XL-2"),
    ];
    for (r, (name, phone, industry, (y, m, d), ext)) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        ws.write_string(r, 0, *name).unwrap();
        // Phone numbers typed as numbers, dates as Excel dates.
        ws.write_number(r, 1, *phone).unwrap();
        ws.write_string(r, 2, *industry).unwrap();
        ws.write_datetime_with_format(r, 3, ExcelDateTime::from_ymd(*y, *m, *d).unwrap(), &date).unwrap();
        ws.write_string(r, 4, *ext).unwrap();
        ws.write_string(r, 5, "第一行\n第二行").unwrap();
    }
    book.save_to_buffer().unwrap()
}

fn read_xlsx(bytes: Vec<u8>) -> Vec<Vec<String>> {
    let mut book: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    range.rows().map(|r| r.iter().map(|c| c.to_string()).collect()).collect()
}

#[tokio::test]
async fn excel_files_both_ways_and_an_export_imports_back_unchanged() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        let (s, r) = upload(&app, &admin, "/api/v1/import/customers", XLSX, customers_xlsx()).await;
        assert_eq!(s, 200, "[{e}] {r}");
        assert_eq!(r["inserted"], 2);
        let list = get_json(&app, "/api/v1/customers?sort=code_asc", &admin).await;
        assert_eq!(list["items"][0]["phone"], "138****5678");
        assert_eq!(list["items"][0]["cooperation_start"], "2022-03-08");
        assert_eq!(list["items"][1]["notes"], "第一行\n第二行");
        let (s, _) = import_csv(&app, &admin, "customers", "", GOOD).await;
        assert_eq!(s, 200);

        // Export to Excel: Chinese headers, masked personal data.
        let r = app.call(Method::GET, "/api/v1/customers/export?format=xlsx", Some(&admin), None).await;
        assert_eq!(r.status(), 200, "[{e}]");
        assert_eq!(r.headers()["content-type"], XLSX);
        assert!(r.headers()["content-disposition"].to_str().unwrap().contains("customers-20261123.xlsx"));
        let bytes = r.bytes().await.unwrap().to_vec();
        let rows = read_xlsx(bytes.clone());
        assert_eq!(rows.len(), 6, "[{e}] header and five customers");
        assert_eq!(&rows[0][..4], &["客户编号", "客户名称", "客户类型", "所属行业"]);
        let phone_col = rows[0].iter().position(|h| h == "联系电话").unwrap();
        assert_eq!(rows[1][1], "杭州西湖茶业");
        assert_eq!(rows[1][2], "企业客户");
        assert_eq!(rows[1][phone_col], "138****5678");
        let flat = format!("{rows:?}");
        assert!(!flat.contains("13812345678") && !flat.contains("li@xingchen.cn"), "[{e}] nothing decrypted");

        // The exported file imports back without changing anything: rows
        // match by code, masked values keep the stored ones.
        let before = app.snapshot().await;
        let (s, r) = upload(&app, &admin, "/api/v1/import/customers", XLSX, bytes).await;
        assert_eq!(s, 200, "[{e}] {r}");
        assert_eq!(
            (r["unchanged"].as_i64(), r["inserted"].as_i64(), r["updated"].as_i64()),
            (Some(5), Some(0), Some(0))
        );
        assert_eq!(app.snapshot().await, before, "[{e}] export → import changes nothing");

        // CSV export: UTF-8 with BOM, the list's filters apply.
        let r = app.call(Method::GET, "/api/v1/customers/export?industry=%E9%87%91%E8%9E%8D", Some(&admin), None).await;
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
        let body = r.bytes().await.unwrap();
        assert!(body.starts_with(b"\xEF\xBB\xBF"), "[{e}] BOM");
        let text = String::from_utf8(body[3..].to_vec()).unwrap();
        assert!(text.starts_with("客户编号,客户名称"), "{text}");
        assert_eq!(text.matches("\nKH0").count(), 2, "[{e}] the two customers in 金融: {text}");
        assert!(text.contains("\"第一行\n第二行\""), "[{e}] a multi-line cell is quoted");
        assert!(text.contains("139****0000"));
        let r = app.call(Method::GET, "/api/v1/customers/export?format=pdf", Some(&admin), None).await;
        assert_eq!(r.status(), 422);
    }
}

#[tokio::test]
async fn contacts_and_orders_attach_to_customers_by_code() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        let (s, _) = import_csv(&app, &admin, "customers", "", GOOD).await;
        assert_eq!(s, 200);
        let list = get_json(&app, "/api/v1/customers?sort=code_asc", &admin).await;
        let id = |i: usize| list["items"][i]["id"].as_i64().unwrap();
        let code = |i: usize| list["items"][i]["code"].as_str().unwrap().to_string();

        let contacts = format!(
            "客户编号,客户外部编号,联系人,职务,手机,微信,生日,关键决策人\n\
             {},,李强,采购经理,13700004321,liqiang_88,1985-06-18,是\n\
             ,CRM-002,王芳,财务,,,,\n\
             {},,赵敏,,,,,否\n",
            code(0),
            code(2).to_lowercase()
        );
        let before = relationship_snapshot(&app).await;
        let (s, r) = import_csv(&app, &admin, "contacts", "?dry_run=true", &contacts).await;
        assert_eq!((s, r["inserted"].as_i64()), (200, Some(3)), "[{e}] {r}");
        assert_eq!(relationship_snapshot(&app).await, before, "[{e}] a dry run writes nothing");
        let (s, r) = import_csv(&app, &admin, "contacts", "", &contacts).await;
        assert_eq!((s, r["inserted"].as_i64()), (200, Some(3)), "[{e}] {r}");
        let c0 = get_json(&app, &format!("/api/v1/customers/{}/contacts", id(0)), &admin).await;
        assert_eq!(c0[0]["name"], "李强");
        assert_eq!(c0[0]["phone"], "137****4321");
        assert_eq!(c0[0]["wechat"], "li***8");
        assert_eq!(c0[0]["decision_maker"], true);
        assert_eq!(get_json(&app, &format!("/api/v1/customers/{}/contacts", id(1)), &admin).await[0]["name"], "王芳");
        assert_eq!(get_json(&app, "/api/v1/customers?q=4321", &admin).await["total"], 1, "[{e}] searchable");
        let before = relationship_snapshot(&app).await;
        let (s, r) = import_csv(&app, &admin, "contacts", "", &contacts).await;
        assert_eq!((s, r["unchanged"].as_i64()), (200, Some(3)), "[{e}] {r}");
        assert_eq!(relationship_snapshot(&app).await, before, "[{e}] re-importing contacts changes nothing");
        // Same name, new title: updated in place.
        let (s, r) =
            import_csv(&app, &admin, "contacts", "", &format!("客户编号,联系人,职务\n{},李强,采购总监\n", code(0)))
                .await;
        assert_eq!((s, r["updated"].as_i64()), (200, Some(1)), "[{e}] {r}");
        let c0 = get_json(&app, &format!("/api/v1/customers/{}/contacts", id(0)), &admin).await;
        assert_eq!((c0[0]["title"].as_str(), c0[0]["phone"].as_str()), (Some("采购总监"), Some("137****4321")));
        // An unknown customer is a row error.
        let (s, r) = import_csv(&app, &admin, "contacts", "", "客户编号,联系人\nKH999999,某人\n").await;
        assert_eq!(
            (s, r["errors"][0]["column"].as_str(), r["errors"][0]["code"].as_str()),
            (422, Some("客户编号"), Some("unknown"))
        );

        let orders = format!(
            "客户编号,客户外部编号,下单日期,金额,产品,订单号\n\
             {},,2026/3/1,\"120,000.50\",企业版年费,ERP-1\n\
             ,CRM-002,2025-06-01,80000元,,ERP-2\n\
             {},,2026-11-20,0.99,试用,ERP-3\n",
            code(0),
            code(0)
        );
        let (s, r) = import_csv(&app, &admin, "orders", "", &orders).await;
        assert_eq!((s, r["inserted"].as_i64()), (200, Some(3)), "[{e}] {r}");
        let o = get_json(&app, &format!("/api/v1/customers/{}/orders", id(0)), &admin).await;
        assert_eq!(o.to_string().matches("ERP-").count(), 2, "[{e}] {o}");
        assert!(o.to_string().contains("12000050"), "[{e}] exact money: {o}");
        let before = relationship_snapshot(&app).await;
        let (s, r) = import_csv(&app, &admin, "orders", "", &orders).await;
        assert_eq!((s, r["unchanged"].as_i64(), r["inserted"].as_i64()), (200, Some(3), Some(0)), "[{e}] {r}");
        assert_eq!(relationship_snapshot(&app).await, before, "[{e}] re-importing orders changes nothing");
        // Orders need their own id, a date not in the future and an amount.
        let (s, r) = import_csv(
            &app,
            &admin,
            "orders",
            "",
            &format!(
                "客户编号,下单日期,金额,订单号\n{c},2026-11-20,10,\n{c},2027-01-01,10,E-9\n{c},2026-11-20,1.234,E-10\n",
                c = code(0)
            ),
        )
        .await;
        assert_eq!(s, 422);
        let codes: Vec<(i64, &str)> = r["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| (x["row"].as_i64().unwrap(), x["code"].as_str().unwrap()))
            .collect();
        assert_eq!(codes, vec![(2, "required"), (3, "in_future"), (4, "invalid_amount")], "[{e}]");
        assert_eq!(relationship_snapshot(&app).await, before);
    }
}

#[tokio::test]
async fn the_import_reports_progress_and_writes_in_batches() {
    let app = apps().await.into_iter().next().unwrap();
    let mut csv = String::from("name,external_id,phone\n");
    let batch = guanxi_server::import::BATCH;
    let rows = 2 * batch + 203;
    for i in 0..rows {
        csv.push_str(&format!("客户{i},BULK-{i},138{i:08}\n"));
    }
    let actor = app
        .state
        .db
        .read(guanxi_store::users::list)
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.email == support::app::ADMIN_EMAIL)
        .unwrap();
    let seen = std::sync::Mutex::new(Vec::new());
    let progress = |done: usize, total: usize| seen.lock().unwrap().push((done, total));
    let report = guanxi_server::import::import_file(
        &app.state,
        &actor,
        guanxi_server::import::ImportKind::Customers,
        guanxi_server::import::FileFormat::Csv,
        csv.into_bytes(),
        // Customers are written in transactions of CUSTOMER_WRITE_BATCH
        // rows, too many for a debug-build test: the same path with less.
        &guanxi_server::import::ImportOptions { customer_write_batch: batch, ..Default::default() },
        &progress,
    )
    .await
    .unwrap();
    assert_eq!((report.inserted, report.bad_rows), (rows, 0));
    assert_eq!(*seen.lock().unwrap(), vec![(batch, rows), (2 * batch, rows), (rows, rows)]);
    let audit: i64 =
        app.state.db.read(|c| c.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'import'", &[])).await.unwrap();
    assert_eq!(audit, 3, "one audit entry per batch");
}

#[tokio::test]
async fn imports_may_be_larger_than_other_requests() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        // 3 MiB: refused on an ordinary route, accepted by the import.
        let mut big = String::from("客户名称,备注\n北京星辰科技,大文件\n");
        big.push_str(&"\n".repeat(3 * 1024 * 1024));
        let r = app
            .http
            .post(format!("{}/api/v1/customers", app.url))
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 413, "[{e}]");
        let (s, r) = import_csv(&app, &admin, "customers", "?dry_run=1", &big).await;
        assert_eq!((s, r["rows"].as_i64(), r["inserted"].as_i64()), (200, Some(1), Some(1)), "[{e}] {r}");
        // Too many rows for one request: refused whole, with the reason.
        let many = format!("name\n{}", "甲\n".repeat(50_001));
        let (s, r) = import_csv(&app, &admin, "customers", "", &many).await;
        assert_eq!(s, 400, "[{e}] {r}");
        assert!(r["detail"].as_str().unwrap().contains("50000"), "{r}");
    }
}
