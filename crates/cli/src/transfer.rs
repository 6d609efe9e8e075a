//! `guanxi import` and `guanxi export`: files in and out, as the first
//! active administrator.

use std::path::Path;

use anyhow::Context as _;
use guanxi_domain::Lang;
use guanxi_domain::user::Role;
use guanxi_server::import::{self, FileFormat, ImportKind, ImportOptions, ImportReport};
use guanxi_server::state::AppState;
use guanxi_store::users::{self, User};

pub const IMPORT_HELP: &str = "\
Columns are found by their header: the field name or a Chinese name.
  customers: name 客户名称 (required), code 客户编号, external_id 外部编号, kind 客户类型,
             industry 所属行业, scale 企业规模, region 地区, phone 联系电话, email 联系邮箱,
             owner_id 负责人 (user id, email or name), stage 生命周期阶段, tags 标签 (comma-separated),
             preferred_channel 偏好渠道, marketing_consent 营销授权, cooperation_start 合作开始,
             last_cooperation_on 最近合作时间, contract_end 合同到期, renewal_date 续约日期,
             verified_on 资料核实日期, notes 备注, …
  contacts:  customer_code 客户编号 or customer_external_id 客户外部编号, name 联系人 (required),
             title 职务, phone 电话, email 邮箱, wechat 微信, birthday 生日, address 地址,
             decision_maker 关键决策人
  orders:    customer_code 客户编号 or customer_external_id 客户外部编号, ordered_on 下单日期,
             amount 金额, external_id 订单号 (all required), product 产品, channel 渠道
Customers are matched by code, then external id, and updated (a column missing from the file
keeps its value, an empty cell clears it); others are inserted. Contacts are matched by name
within their customer. Orders already recorded (same external id) are skipped.

Example: guanxi import customers 客户.xlsx --dry-run --map 公司=name";

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum KindArg {
    Customers,
    Contacts,
    Orders,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportArg {
    Customers,
}

/// The first active administrator: the CLI acts as them.
async fn acting_admin(state: &AppState) -> anyhow::Result<User> {
    let all = state.db.read(users::list).await?;
    all.into_iter()
        .filter(|u| u.active && u.role == Role::Admin)
        .min_by_key(|u| u.id)
        .context("there is no active administrator to act as")
}

/// An error with its detail (the fields a store check refused, the reason
/// a file could not be read).
fn describe(e: &guanxi_server::error::AppError, lang: Lang) -> String {
    let p = e.problem(lang);
    match p.detail {
        Some(d) => format!("{}: {d}", p.title),
        None => format!("{e}"),
    }
}

fn print_report(report: &ImportReport, lang: Lang) {
    for e in &report.errors {
        match lang {
            Lang::Zh => println!("第 {} 行 · {}：{}", e.row, e.column, e.message),
            Lang::En => println!("row {} · {}: {}", e.row, e.column, e.message),
        }
    }
    if report.bad_rows > 0 {
        if report.errors.len() < report.bad_rows {
            match lang {
                Lang::Zh => println!("（仅列出前 {} 个错误）", report.errors.len()),
                Lang::En => println!("(only the first {} errors are listed)", report.errors.len()),
            }
        }
        return;
    }
    let (r, i, u, s) = (report.rows, report.inserted, report.updated, report.unchanged);
    match (lang, report.dry_run) {
        (Lang::Zh, true) => println!("检查通过，共 {r} 行：将新增 {i}，更新 {u}，未变 {s}（试运行，未写入）。"),
        (Lang::Zh, false) => println!("导入完成，共 {r} 行：新增 {i}，更新 {u}，未变 {s}。"),
        (Lang::En, true) => {
            println!(
                "All {r} rows are valid: {i} would be inserted, {u} updated, {s} unchanged (dry run, nothing written)."
            )
        }
        (Lang::En, false) => println!("Imported {r} rows: {i} inserted, {u} updated, {s} unchanged."),
    }
}

pub async fn import(
    state: &AppState,
    kind: KindArg,
    file: &Path,
    dry_run: bool,
    map: &[String],
    lang: &str,
) -> anyhow::Result<()> {
    let lang = Lang::from_tag(lang);
    let kind = match kind {
        KindArg::Customers => ImportKind::Customers,
        KindArg::Contacts => ImportKind::Contacts,
        KindArg::Orders => ImportKind::Orders,
    };
    let mut mapping = Vec::new();
    for m in map {
        let (col, field) = m.split_once('=').with_context(|| format!("--map {m}: expected COLUMN=FIELD"))?;
        mapping.push((col.to_string(), field.to_string()));
    }
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let format = FileFormat::from_path(file).unwrap_or_else(|| FileFormat::sniff(&bytes));
    let actor = acting_admin(state).await?;
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let progress = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let opts = ImportOptions { dry_run, mapping, lang, ..ImportOptions::default() };
    let report = import::import_file(state, &actor, kind, format, bytes, &opts, &progress)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {}", file.display(), describe(&e, lang)))?;
    bar.finish_and_clear();
    print_report(&report, lang);
    if report.bad_rows > 0 {
        eprintln!(
            "{}",
            match lang {
                Lang::Zh => format!("{} 行有误，未导入任何数据。", report.bad_rows),
                Lang::En => format!("{} rows have errors; nothing was imported.", report.bad_rows),
            }
        );
        // Nothing was written, so nothing is left to flush.
        std::process::exit(1);
    }
    Ok(())
}

pub async fn export_customers(state: &AppState, file: &Path) -> anyhow::Result<()> {
    let format = FileFormat::from_path(file)
        .with_context(|| format!("{}: the file name must end in .csv or .xlsx", file.display()))?;
    let actor = acting_admin(state).await?;
    let filter = guanxi_store::customers::CustomerFilter::default();
    let bytes = guanxi_server::export::export_customers(state, &actor, filter, format, None)
        .await
        .map_err(|e| anyhow::anyhow!("export: {}", describe(&e, Lang::Zh)))?;
    std::fs::write(file, &bytes).with_context(|| format!("cannot write {}", file.display()))?;
    println!("Wrote {} ({} bytes).", file.display(), bytes.len());
    Ok(())
}
