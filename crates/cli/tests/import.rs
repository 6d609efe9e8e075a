//! `guanxi import` and `guanxi export` as an operator runs them, on every
//! engine: a bad file is refused with its row report and exit code 1; a good
//! file is imported once; the export shows it masked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

use guanxi_store::DbTarget;
use guanxi_store::testing;

fn guanxi(dir: &Path, database_url: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_guanxi"));
    cmd.arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("GUANXI_ADMIN_EMAIL", "ops@test.cn")
        .env("GUANXI_ADMIN_PASSWORD", "ops-password-1")
        .env("RUST_LOG", "warn")
        .env_remove("DATABASE_URL")
        .env_remove("GUANXI_DATA_KEY");
    if let Some(u) = database_url {
        cmd.env("DATABASE_URL", u);
    }
    cmd.output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

const BAD: &str = "\
客户名称,联系电话,合作开始,外部编号
北京星辰科技,13812345678,2024-05-01,C-1
上海云帆贸易,12345,,C-2
,13912345678,,C-3
";

const GOOD: &str = "\
客户名称,联系电话,所属行业,外部编号
北京星辰科技,13812345678,金融,C-1
上海云帆贸易,13912345678,零售,C-2
";

#[test]
fn import_refuses_a_bad_file_imports_a_good_one_once_and_exports_it_masked() {
    for db in testing::engines().unwrap() {
        let (dir, _guard) = testing::temp_dir().unwrap();
        let url = match &db.target {
            DbTarget::Postgres(u) => Some(u.clone()),
            DbTarget::Sqlite(_) => None,
        };
        let url = url.as_deref();
        let bad = dir.join("bad.csv");
        std::fs::write(&bad, BAD).unwrap();
        let good = dir.join("客户.csv");
        std::fs::write(&good, GOOD).unwrap();
        let bad_path = bad.to_str().unwrap();
        let good_path = good.to_str().unwrap();

        // A dry run of a bad file: every bad row printed, exit code 1.
        let out = guanxi(&dir, url, &["import", "customers", bad_path, "--dry-run"]);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(1), "[{}] {t}", db.name);
        assert!(t.contains("第 3 行 · 联系电话：不是有效的电话号码"), "{t}");
        assert!(t.contains("第 4 行 · 客户名称：必填"), "{t}");
        assert!(t.contains("2 行有误，未导入任何数据"), "{t}");
        // The same in English, without --dry-run: still nothing written.
        let out = guanxi(&dir, url, &["import", "customers", bad_path, "--lang", "en"]);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(1), "{t}");
        assert!(t.contains("row 3 · 联系电话: is not a valid phone number"), "{t}");

        // A dry run of the good file writes nothing either.
        let out = guanxi(&dir, url, &["import", "customers", good_path, "--dry-run"]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("将新增 2"), "{}", text(&out));
        let export = dir.join("out.csv");
        let out = guanxi(&dir, url, &["export", "customers", export.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out));
        let csv = std::fs::read_to_string(&export).unwrap();
        assert_eq!(csv.lines().count(), 1, "only the header: {csv}");

        // The real import, then again: the second changes nothing.
        let out = guanxi(&dir, url, &["import", "customers", good_path]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("新增 2，更新 0，未变 0"), "{}", text(&out));
        let out = guanxi(&dir, url, &["import", "customers", good_path, "--lang", "en"]);
        assert!(text(&out).contains("0 inserted, 0 updated, 2 unchanged"), "{}", text(&out));

        // Export: UTF-8 with BOM, Chinese headers, masked phones.
        let out = guanxi(&dir, url, &["export", "customers", export.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out));
        let bytes = std::fs::read(&export).unwrap();
        assert!(bytes.starts_with(b"\xEF\xBB\xBF"));
        let csv = String::from_utf8(bytes[3..].to_vec()).unwrap();
        assert!(csv.starts_with("客户编号,客户名称,客户类型"), "{csv}");
        assert!(csv.contains("KH000001,北京星辰科技,企业客户,金融"), "{csv}");
        assert!(csv.contains("138****5678") && !csv.contains("13812345678"), "{csv}");
        let xlsx = dir.join("out.xlsx");
        let out = guanxi(&dir, url, &["export", "customers", xlsx.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(std::fs::read(&xlsx).unwrap().starts_with(b"PK"));

        // A column mapping from the command line.
        let mapped = dir.join("mapped.csv");
        std::fs::write(&mapped, "公司,外部编号,内部备注\n广州恒达物流,C-3,不导入\n").unwrap();
        let out = guanxi(
            &dir,
            url,
            &["import", "customers", mapped.to_str().unwrap(), "--map", "公司=name", "--map", "内部备注=-"],
        );
        assert!(out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("新增 1"), "{}", text(&out));
    }
}

/// The import benchmark's file (`guanxi bench import-file`) is the same for
/// the same arguments and imports cleanly: every row a new customer, found
/// again by a whole phone number and by a fragment of its name.
#[test]
fn the_benchmark_import_file_is_deterministic_and_imports_cleanly() {
    let (dir, _guard) = testing::temp_dir().unwrap();
    let (a, b) = (dir.join("a.csv"), dir.join("b.csv"));
    for f in [&a, &b] {
        let out = guanxi(&dir, None, &["bench", "import-file", "--rows", "300", "--out", f.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let content = std::fs::read_to_string(&a).unwrap();
    assert_eq!(content, std::fs::read_to_string(&b).unwrap(), "deterministic");
    assert_eq!(content.lines().count(), 301, "a header and 300 rows");
    let out = guanxi(&dir, None, &["import", "customers", a.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("新增 300"), "{}", text(&out));
    let again = guanxi(&dir, None, &["import", "customers", a.to_str().unwrap()]);
    assert!(text(&again).contains("未变 300"), "{}", text(&again));
}
