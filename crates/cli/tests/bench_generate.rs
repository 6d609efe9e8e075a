//! `guanxi bench generate` defers the secondary indexes of the tables it
//! fills (issue 11: random index writes made the generation disk-bound) and
//! leaves, on every engine, a database with every index of the schema —
//! read from the catalog right after the command, before anything opens
//! the database again (an open would restore missing ones itself).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use guanxi_store::bulk_load::{self, IndexDef};
use guanxi_store::{Db, DbOptions, DbTarget, testing};

fn generate(dir: &std::path::Path, database_url: Option<&str>) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_guanxi"));
    cmd.args(["bench", "generate", "--scale", "0.0005", "--data-dir"]).arg(dir).env("RUST_LOG", "info");
    match database_url {
        Some(url) => cmd.env("DATABASE_URL", url),
        None => cmd.env_remove("DATABASE_URL"),
    };
    let out = cmd.output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{said}");
    said
}

/// The index list of a freshly migrated database of the same engine.
fn fresh(target: &DbTarget) -> Vec<IndexDef> {
    drop(Db::open(target, &DbOptions::default()).unwrap());
    bulk_load::indexes_of(target).unwrap()
}

fn check(said: &str, generated: &[IndexDef], fresh: &[IndexDef], engine: &str) {
    assert!(said.contains("Generated 500 customers") && said.contains("1000 tickets"), "{engine}: {said}");
    // Both phases deferred indexes and created them again.
    assert_eq!(said.matches("deferred the secondary indexes").count(), 2, "{engine}: {said}");
    assert!(said.contains("created a deferred index"), "{engine}: {said}");
    assert!(said.contains("tickets_kpi") && said.contains("orders_day_customer"), "{engine}: {said}");
    assert!(fresh.iter().any(|d| d.name == "tickets_kpi"), "{engine}: {fresh:?}");
    assert_eq!(generated, fresh, "{engine}: every index of the schema, with its definition");
}

#[test]
fn the_generated_database_has_every_index_on_every_engine() {
    let (dir, _guard) = testing::temp_dir().unwrap();
    let said = generate(&dir.join("data"), None);
    let generated = bulk_load::indexes_of(&DbTarget::Sqlite(dir.join("data/guanxi.sqlite3"))).unwrap();
    let other = testing::sqlite().unwrap();
    check(&said, &generated, &fresh(&other.target), "sqlite");

    let Some(url) = testing::postgres_url() else {
        eprintln!("no PostgreSQL: skipped");
        return;
    };
    let db = testing::postgres(&url).unwrap();
    let DbTarget::Postgres(db_url) = &db.target else { unreachable!() };
    let said = generate(&dir.join("data-pg"), Some(db_url));
    let generated = bulk_load::indexes_of(&db.target).unwrap();
    let other = testing::postgres(&url).unwrap();
    check(&said, &generated, &fresh(&other.target), "postgres");
}
