//! The complaint tracking table page (SPEC P6) on every engine: the
//! seed's columns in Chinese, the urgency filter, the nav entry, and the
//! Excel export behind the page's link (read back with calamine).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use calamine::Reader as _;
use reqwest::Method;
use serde_json::json;
use support::app::{ADMIN_EMAIL, ADMIN_PASSWORD, apps};

#[tokio::test]
async fn the_tracking_table_page_lists_filters_and_exports() {
    for app in apps().await {
        let e = app.engine.clone();
        let admin = app.admin_token().await;
        let r = app
            .call(Method::POST, "/api/v1/customers", Some(&admin), Some(json!({"name": "杭州明远科技有限公司"})))
            .await;
        let customer = r.json::<serde_json::Value>().await.unwrap()["id"].as_i64().unwrap();
        for (subject, text) in [("热水器漏电", "热水器漏电了"), ("盖子松了", "水壶盖子有点松，想换一个")]
        {
            let r = app
                .call(
                    Method::POST,
                    "/api/v1/complaints",
                    Some(&admin),
                    Some(json!({"customer_id": customer, "channel": "phone", "category": "product",
                        "demand_type": "exchange", "subject": subject, "description": text})),
                )
                .await;
            assert_eq!(r.status().as_u16(), 201, "[{e}]");
        }
        let http = app.signed_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let (s, html) = app.page(&http, "/complaints").await;
        assert_eq!(s, 200, "[{e}] {html}");
        for text in [
            "投诉处理跟踪表",
            "投诉编号",
            "责任部门",
            "处理时限",
            "客户反馈",
            "CP20261123001",
            "CP20261123002",
            "aria-current=\"page\">投诉</a>",
        ] {
            assert!(html.contains(text), "[{e}] {text}");
        }
        let (s, html) = app.page(&http, "/complaints?urgency=urgent").await;
        assert_eq!(s, 200);
        assert!(html.contains("热水器漏电") && !html.contains("盖子松了"), "[{e}] the urgency filter");
        let (s, _) = app.page(&http, "/complaints?urgency=loud").await;
        assert_eq!(s, 422, "[{e}] a bad filter is refused");
        let r = http.get(format!("{}/complaints/export?urgency=urgent", app.url)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "[{e}]");
        let bytes = r.bytes().await.unwrap().to_vec();
        let mut book: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
        let sheet = book.worksheet_range("投诉处理跟踪表").unwrap();
        let rows: Vec<Vec<String>> = sheet.rows().map(|r| r.iter().map(|c| c.to_string()).collect()).collect();
        assert_eq!(rows.len(), 2, "[{e}] {rows:?}");
        assert_eq!(rows[1][6], "热水器漏电");
    }
}
