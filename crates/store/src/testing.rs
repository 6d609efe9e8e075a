//! Fresh databases for tests: a temporary SQLite file always, and a new
//! PostgreSQL database when `GUANXI_TEST_POSTGRES_URL` is set or a local
//! server answers on 127.0.0.1:5432. With
//! `GUANXI_REQUIRE_POSTGRES=1` (CI sets it) a missing URL fails the test
//! instead of quietly testing one engine.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{DbTarget, Result, StoreError};

/// A database that exists for one test and is removed afterwards.
#[derive(Debug)]
pub struct TestDb {
    pub target: DbTarget,
    pub name: String,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    Dir(PathBuf),
    Postgres { admin_url: String, db: String },
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(d) => {
                let _ = std::fs::remove_dir_all(d);
            }
            Cleanup::Postgres { admin_url, db } => {
                let _ = crate::off_runtime(|| {
                    let mut c = postgres::Client::connect(admin_url, postgres::NoTls)?;
                    c.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))?;
                    Ok(())
                });
            }
        }
    }
}

static SEQ: AtomicU64 = AtomicU64::new(0);

fn unique(prefix: &str) -> String {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::UNIX_EPOCH.elapsed().map(|d| d.subsec_nanos()).unwrap_or_default();
    format!("{prefix}_{}_{n}_{nanos}", std::process::id())
}

/// A new temporary directory (removed with the returned guard's drop).
pub fn temp_dir() -> Result<(PathBuf, TempDirGuard)> {
    let dir = std::env::temp_dir().join(unique("guanxi_test"));
    std::fs::create_dir_all(&dir).map_err(|e| StoreError::Other(e.to_string()))?;
    Ok((dir.clone(), TempDirGuard(dir)))
}

#[derive(Debug)]
pub struct TempDirGuard(PathBuf);

impl Drop for TempDirGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn sqlite() -> Result<TestDb> {
    let dir = std::env::temp_dir().join(unique("guanxi_test"));
    std::fs::create_dir_all(&dir).map_err(|e| StoreError::Other(e.to_string()))?;
    Ok(TestDb {
        target: DbTarget::Sqlite(dir.join("guanxi.sqlite3")),
        name: "sqlite".into(),
        cleanup: Cleanup::Dir(dir),
    })
}

/// The local server a fresh machine of ours has (trust auth).
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The PostgreSQL server URL for tests: `GUANXI_TEST_POSTGRES_URL`, else the
/// local server if one answers on 127.0.0.1:5432.
pub fn postgres_url() -> Option<String> {
    let url = std::env::var("GUANXI_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()).or_else(|| {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 5432));
        std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(300))
            .is_ok()
            .then(|| DEFAULT_POSTGRES_URL.to_string())
    });
    if url.is_none() && std::env::var("GUANXI_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
        #[allow(clippy::panic)]
        {
            panic!(
                "GUANXI_REQUIRE_POSTGRES=1 but no PostgreSQL: set GUANXI_TEST_POSTGRES_URL or start the local server"
            );
        }
    }
    url
}

/// Replaces the database name (the path) of a PostgreSQL URL.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

pub fn postgres(admin_url: &str) -> Result<TestDb> {
    let db = unique("guanxi_test");
    crate::off_runtime(|| {
        let mut c = postgres::Client::connect(admin_url, postgres::NoTls)?;
        c.batch_execute(&format!("CREATE DATABASE {db}"))?;
        Ok(())
    })?;
    Ok(TestDb {
        target: DbTarget::Postgres(with_database(admin_url, &db)),
        name: "postgres".into(),
        cleanup: Cleanup::Postgres { admin_url: admin_url.to_string(), db },
    })
}

/// Every engine the tests should run on here.
pub fn engines() -> Result<Vec<TestDb>> {
    let mut v = vec![sqlite()?];
    if let Some(url) = postgres_url() {
        v.push(postgres(&url)?);
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_name_replacement() {
        assert_eq!(with_database("postgres://u@h:5432/postgres", "x"), "postgres://u@h:5432/x");
        assert_eq!(with_database("postgres://u@h:5432", "x"), "postgres://u@h:5432/x");
        assert_eq!(with_database("postgres://u@h/db?sslmode=disable", "x"), "postgres://u@h/x?sslmode=disable");
    }
}
