//! Configuration: built-in defaults, then an optional TOML file, then
//! environment variables. The server starts with none of them set. Every
//! setting is listed in the README.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use guanxi_domain::Lang;
use guanxi_store::{DbOptions, DbTarget};
use serde::Deserialize;

#[derive(Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub database_url: Option<String>,
    pub db_pool_size: Option<usize>,
    pub sqlite_full_sync: bool,
    /// The SQLite writer's page cache, MiB (`GUANXI_SQLITE_CACHE_MB`); unset,
    /// `serve` takes a small one and bulk commands a large one.
    pub sqlite_cache_mb: Option<u32>,
    /// SQLite's soft heap limit, MiB (`GUANXI_SQLITE_HEAP_MB`, 0 = none);
    /// unset, `serve` takes [`DbOptions::SERVE_SOFT_HEAP_MB`] and bulk
    /// commands none.
    pub sqlite_heap_mb: Option<u32>,
    pub admin_email: String,
    pub admin_password: Option<String>,
    pub data_key: Option<String>,
    pub data_key_file: Option<PathBuf>,
    pub time_zone: jiff::tz::TimeZone,
    /// A browser session's absolute lifetime, hours.
    pub session_hours: i64,
    /// A browser session ends after this many minutes without a request.
    pub session_idle_minutes: i64,
    /// Roles that must sign in with a second factor (TOTP); a user of such a
    /// role without one sets it up at the next sign-in.
    pub totp_required_roles: Vec<guanxi_domain::user::Role>,
    /// Whether `totp_required_roles` was set (environment or file) rather
    /// than defaulted: `serve --demo` relaxes only the default.
    pub totp_roles_explicit: bool,
    pub token_days: i64,
    pub cookie_secure: bool,
    pub default_lang: Lang,
    /// Months after which an unverified profile is listed for review (C1).
    pub review_months: i32,
    /// The local hour (0–23) of the nightly segmentation recompute (G7);
    /// `None` (`off`) leaves it to on-demand runs.
    pub segment_recompute_hour: Option<i8>,
    /// The local hour (0–23) of the nightly maintenance-task generation
    /// (M1); `None` (`off`) leaves it to `guanxi maintenance generate` and
    /// the API. Churn warnings are turned into tasks within a minute while
    /// it is on.
    pub maintenance_hour: Option<i8>,
    /// How often the scheduler looks for due jobs (SLA timers, escalations),
    /// milliseconds; `None` (`off`) runs no scheduler in this instance.
    pub scheduler_poll_ms: Option<u64>,
    /// The largest file attached to a ticket, MiB (T1).
    pub attachment_max_mb: u64,
    /// Days after its closing (archiving) a ticket keeps its free text and
    /// attachments (S2); then a daily job replaces them, keeping the
    /// figures. `None` (`off`, the default) keeps them.
    pub ticket_retention_days: Option<i64>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("database", &self.db_target().ok())
            .field("admin_email", &self.admin_email)
            .field("admin_password", &self.admin_password.as_ref().map(|_| "***"))
            .field("data_key", &self.data_key.as_ref().map(|_| "***"))
            .field("time_zone", &self.time_zone.iana_name())
            .finish_non_exhaustive()
    }
}

/// The optional TOML file: the same names as the environment variables,
/// without the `GUANXI_` prefix, in lower case.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    listen: Option<String>,
    database_url: Option<String>,
    db_pool_size: Option<usize>,
    sqlite_full_sync: Option<bool>,
    sqlite_cache_mb: Option<u32>,
    sqlite_heap_mb: Option<u32>,
    admin_email: Option<String>,
    admin_password: Option<String>,
    data_key: Option<String>,
    data_key_file: Option<PathBuf>,
    time_zone: Option<String>,
    session_hours: Option<i64>,
    session_idle_minutes: Option<i64>,
    totp_required_roles: Option<String>,
    token_days: Option<i64>,
    cookie_secure: Option<bool>,
    default_lang: Option<String>,
    review_months: Option<i32>,
    segment_recompute_hour: Option<String>,
    maintenance_hour: Option<String>,
    scheduler_poll_ms: Option<String>,
    attachment_max_mb: Option<u64>,
    ticket_retention_days: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: None,
            db_pool_size: None,
            sqlite_full_sync: false,
            sqlite_cache_mb: None,
            sqlite_heap_mb: None,
            admin_email: "admin@guanxi.local".into(),
            admin_password: None,
            data_key: None,
            data_key_file: None,
            time_zone: jiff::tz::TimeZone::get("Asia/Shanghai").unwrap_or(jiff::tz::TimeZone::UTC),
            session_hours: 12,
            session_idle_minutes: 30,
            totp_required_roles: vec![guanxi_domain::user::Role::Admin, guanxi_domain::user::Role::Supervisor],
            totp_roles_explicit: false,
            token_days: 90,
            cookie_secure: false,
            default_lang: Lang::Zh,
            review_months: 12,
            segment_recompute_hour: Some(2),
            maintenance_hour: Some(3),
            scheduler_poll_ms: Some(1_000),
            attachment_max_mb: 20,
            ticket_retention_days: None,
        }
    }
}

fn parse_bool(name: &str, v: &str) -> Result<bool, ConfigError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(ConfigError(format!("{name} must be true or false, not {v:?}"))),
    }
}

/// `admin,supervisor`, or `none` (or empty) for no role.
fn parse_roles(v: &str) -> Result<Vec<guanxi_domain::user::Role>, ConfigError> {
    v.split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty() && *r != "none")
        .map(|r| {
            guanxi_domain::user::Role::parse(r).map_err(|_| {
                ConfigError(format!(
                    "GUANXI_TOTP_REQUIRED_ROLES: unknown role {r:?} (agent, supervisor, advisor, collaborator, admin or none)"
                ))
            })
        })
        .collect()
}

fn parse_num<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, ConfigError> {
    v.trim().parse().map_err(|_| ConfigError(format!("{name} must be a number, not {v:?}")))
}

/// SQLite reader threads by default: one per core (2–4). A reader does
/// its query's work on its own thread, so more readers than cores add no
/// throughput, while each keeps its page cache and its thread's heap
/// (about 25 MB under the report load): on 2 cores, 2 readers kept the
/// server's peak memory at 126 MB where 4 took 171 MB (BENCHMARKS.md).
fn sqlite_readers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4))
}

impl Config {
    /// The largest ticket attachment, bytes.
    pub fn attachment_max_bytes(&self) -> u64 {
        self.attachment_max_mb * 1024 * 1024
    }

    /// `guanxi serve --demo`: the demo's administrator and supervisors sign
    /// in with the password alone unless `GUANXI_TOTP_REQUIRED_ROLES` (or
    /// the file's `totp_required_roles`) was set. Returns the warning to log
    /// when the requirement was dropped.
    pub fn relax_for_demo(&mut self) -> Option<&'static str> {
        if self.totp_roles_explicit || self.totp_required_roles.is_empty() {
            return None;
        }
        self.totp_required_roles.clear();
        Some(
            "--demo: two-factor sign-in (TOTP) is not required for any role; \
             set GUANXI_TOTP_REQUIRED_ROLES=admin,supervisor to require it",
        )
    }

    /// Reads the file (if given) and then the environment through `env`.
    pub fn load(file: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut c = Config::default();
        let file = file.map(Path::to_path_buf).or_else(|| env("GUANXI_CONFIG").map(PathBuf::from));
        let f: FileConfig = match &file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
                toml::from_str(&text).map_err(|e| ConfigError(format!("{}: {e}", path.display())))?
            }
            None => FileConfig::default(),
        };
        let get = |key: &str, from_file: Option<String>| env(key).or(from_file);
        if let Some(v) = get("GUANXI_DATA_DIR", f.data_dir.map(|p| p.display().to_string())) {
            c.data_dir = PathBuf::from(v);
        }
        if let Some(v) = get("GUANXI_LISTEN", f.listen) {
            c.listen = v.parse().map_err(|_| {
                ConfigError(format!("GUANXI_LISTEN must be an address such as 127.0.0.1:8080, not {v:?}"))
            })?;
        }
        c.database_url = get("DATABASE_URL", f.database_url).filter(|s| !s.is_empty());
        if let Some(v) = get("GUANXI_DB_POOL_SIZE", f.db_pool_size.map(|n| n.to_string())) {
            c.db_pool_size = Some(parse_num("GUANXI_DB_POOL_SIZE", &v)?);
        }
        if let Some(v) = get("GUANXI_SQLITE_FULL_SYNC", f.sqlite_full_sync.map(|b| b.to_string())) {
            c.sqlite_full_sync = parse_bool("GUANXI_SQLITE_FULL_SYNC", &v)?;
        }
        if let Some(v) = get("GUANXI_SQLITE_CACHE_MB", f.sqlite_cache_mb.map(|n| n.to_string())) {
            c.sqlite_cache_mb = Some(parse_num("GUANXI_SQLITE_CACHE_MB", &v)?);
        }
        if let Some(v) = get("GUANXI_SQLITE_HEAP_MB", f.sqlite_heap_mb.map(|n| n.to_string())) {
            c.sqlite_heap_mb = Some(parse_num("GUANXI_SQLITE_HEAP_MB", &v)?);
        }
        if let Some(v) = get("GUANXI_ADMIN_EMAIL", f.admin_email) {
            c.admin_email = v;
        }
        c.admin_password = get("GUANXI_ADMIN_PASSWORD", f.admin_password).filter(|s| !s.is_empty());
        c.data_key = get("GUANXI_DATA_KEY", f.data_key).filter(|s| !s.is_empty());
        c.data_key_file =
            get("GUANXI_DATA_KEY_FILE", f.data_key_file.map(|p| p.display().to_string())).map(PathBuf::from);
        if let Some(v) = get("GUANXI_TIME_ZONE", f.time_zone) {
            c.time_zone = jiff::tz::TimeZone::get(&v)
                .map_err(|_| ConfigError(format!("GUANXI_TIME_ZONE: unknown time zone {v:?}")))?;
        }
        if let Some(v) = get("GUANXI_SESSION_HOURS", f.session_hours.map(|n| n.to_string())) {
            c.session_hours = parse_num("GUANXI_SESSION_HOURS", &v)?;
        }
        if let Some(v) = get("GUANXI_SESSION_IDLE_MINUTES", f.session_idle_minutes.map(|n| n.to_string())) {
            c.session_idle_minutes = parse_num("GUANXI_SESSION_IDLE_MINUTES", &v)?;
        }
        if let Some(v) = get("GUANXI_TOTP_REQUIRED_ROLES", f.totp_required_roles) {
            c.totp_required_roles = parse_roles(&v)?;
            c.totp_roles_explicit = true;
        }
        if let Some(v) = get("GUANXI_TOKEN_DAYS", f.token_days.map(|n| n.to_string())) {
            c.token_days = parse_num("GUANXI_TOKEN_DAYS", &v)?;
        }
        if let Some(v) = get("GUANXI_COOKIE_SECURE", f.cookie_secure.map(|b| b.to_string())) {
            c.cookie_secure = parse_bool("GUANXI_COOKIE_SECURE", &v)?;
        }
        if let Some(v) = get("GUANXI_DEFAULT_LANG", f.default_lang) {
            c.default_lang = Lang::from_tag(&v);
        }
        if let Some(v) = get("GUANXI_REVIEW_MONTHS", f.review_months.map(|n| n.to_string())) {
            c.review_months = parse_num("GUANXI_REVIEW_MONTHS", &v)?;
        }
        if let Some(v) = get("GUANXI_SEGMENT_RECOMPUTE_HOUR", f.segment_recompute_hour) {
            c.segment_recompute_hour = match v.trim() {
                "off" | "" => None,
                n => Some(parse_num("GUANXI_SEGMENT_RECOMPUTE_HOUR", n)?),
            };
        }
        if let Some(v) = get("GUANXI_MAINTENANCE_HOUR", f.maintenance_hour) {
            c.maintenance_hour = match v.trim() {
                "off" | "" => None,
                n => Some(parse_num("GUANXI_MAINTENANCE_HOUR", n)?),
            };
        }
        if let Some(v) = get("GUANXI_SCHEDULER_POLL_MS", f.scheduler_poll_ms) {
            c.scheduler_poll_ms = match v.trim() {
                "off" => None,
                n => Some(parse_num("GUANXI_SCHEDULER_POLL_MS", n)?),
            };
        }
        if let Some(v) = get("GUANXI_ATTACHMENT_MAX_MB", f.attachment_max_mb.map(|n| n.to_string())) {
            c.attachment_max_mb = parse_num("GUANXI_ATTACHMENT_MAX_MB", &v)?;
            if !(1..=1024).contains(&c.attachment_max_mb) {
                return Err(ConfigError(format!("GUANXI_ATTACHMENT_MAX_MB must be 1 to 1024, not {v:?}")));
            }
        }
        if let Some(v) = get("GUANXI_TICKET_RETENTION_DAYS", f.ticket_retention_days) {
            c.ticket_retention_days = match v.trim() {
                "off" | "" => None,
                n => Some(parse_num("GUANXI_TICKET_RETENTION_DAYS", n)?),
            };
        }
        c.validate()?;
        Ok(c)
    }

    /// Reads the process environment.
    pub fn from_env(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load(file, |k| std::env::var(k).ok())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=24 * 30).contains(&self.session_hours) {
            return Err(ConfigError("GUANXI_SESSION_HOURS must be between 1 and 720".into()));
        }
        if !(1..=24 * 60).contains(&self.session_idle_minutes) {
            return Err(ConfigError("GUANXI_SESSION_IDLE_MINUTES must be between 1 and 1440".into()));
        }
        if !(1..=3650).contains(&self.token_days) {
            return Err(ConfigError("GUANXI_TOKEN_DAYS must be between 1 and 3650".into()));
        }
        if !(1..=120).contains(&self.review_months) {
            return Err(ConfigError("GUANXI_REVIEW_MONTHS must be between 1 and 120".into()));
        }
        if self.segment_recompute_hour.is_some_and(|h| !(0..=23).contains(&h)) {
            return Err(ConfigError("GUANXI_SEGMENT_RECOMPUTE_HOUR must be an hour from 0 to 23, or off".into()));
        }
        if self.maintenance_hour.is_some_and(|h| !(0..=23).contains(&h)) {
            return Err(ConfigError("GUANXI_MAINTENANCE_HOUR must be an hour from 0 to 23, or off".into()));
        }
        if self.scheduler_poll_ms.is_some_and(|ms| !(10..=3_600_000).contains(&ms)) {
            return Err(ConfigError("GUANXI_SCHEDULER_POLL_MS must be from 10 to 3600000 milliseconds, or off".into()));
        }
        if self.ticket_retention_days.is_some_and(|d| !(30..=36_500).contains(&d)) {
            return Err(ConfigError("GUANXI_TICKET_RETENTION_DAYS must be from 30 to 36500 days, or off".into()));
        }
        if self.sqlite_cache_mb.is_some_and(|mb| !(1..=65_536).contains(&mb)) {
            return Err(ConfigError("GUANXI_SQLITE_CACHE_MB must be from 1 to 65536 MiB".into()));
        }
        if self.sqlite_heap_mb.is_some_and(|mb| mb > 65_536) {
            return Err(ConfigError("GUANXI_SQLITE_HEAP_MB must be from 0 (no limit) to 65536 MiB".into()));
        }
        if matches!(self.db_pool_size, Some(0)) {
            return Err(ConfigError("GUANXI_DB_POOL_SIZE must be at least 1".into()));
        }
        self.db_target()?;
        Ok(())
    }

    pub fn db_target(&self) -> Result<DbTarget, ConfigError> {
        match &self.database_url {
            None => Ok(DbTarget::Sqlite(self.data_dir.join("guanxi.sqlite3"))),
            Some(url) => DbTarget::parse(url).map_err(|e| ConfigError(e.to_string())),
        }
    }

    pub fn db_options(&self) -> DbOptions {
        let postgres = matches!(self.db_target(), Ok(DbTarget::Postgres(_)));
        DbOptions {
            pool_size: self.db_pool_size.unwrap_or(if postgres { 8 } else { sqlite_readers() }),
            sqlite_full_sync: self.sqlite_full_sync,
            sqlite_writer_cache_mb: self.sqlite_cache_mb.unwrap_or(DbOptions::BULK_WRITER_CACHE_MB),
            sqlite_soft_heap_mb: self.sqlite_heap_mb.unwrap_or(0),
            ..DbOptions::default()
        }
    }

    /// A serving process's writer cache unless one was configured: small,
    /// so that the server's memory stays low (SPEC X, issue 11).
    pub fn for_serving(&mut self) {
        self.sqlite_cache_mb.get_or_insert(DbOptions::SERVE_WRITER_CACHE_MB);
        self.sqlite_heap_mb.get_or_insert(DbOptions::SERVE_SOFT_HEAP_MB);
    }

    pub fn key_file(&self) -> PathBuf {
        self.data_key_file.clone().unwrap_or_else(|| self.data_dir.join("data.key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn starts_with_nothing_set() {
        let c = Config::load(None, env(&[])).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert!(matches!(c.db_target().unwrap(), DbTarget::Sqlite(p) if p.ends_with("data/guanxi.sqlite3")));
    }

    #[test]
    fn env_overrides_file() {
        let dir = std::env::temp_dir().join(format!("guanxi-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("guanxi.toml");
        std::fs::write(&file, "listen = \"0.0.0.0:9000\"\nsession_hours = 4\n").unwrap();
        let c = Config::load(Some(&file), env(&[("GUANXI_LISTEN", "127.0.0.1:9100")])).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:9100");
        assert_eq!(c.session_hours, 4);
        std::fs::write(&file, "lisen = \"typo\"\n").unwrap();
        assert!(Config::load(Some(&file), env(&[])).is_err(), "unknown keys are refused");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_demo_drops_the_default_totp_requirement_only() {
        use guanxi_domain::user::Role;
        let mut c = Config::load(None, env(&[])).unwrap();
        let warning = c.relax_for_demo().unwrap();
        assert!(c.totp_required_roles.is_empty(), "demo: nobody needs a second factor");
        assert!(warning.contains("GUANXI_TOTP_REQUIRED_ROLES=admin,supervisor"), "{warning}");
        // An explicit setting wins, even the default's own value.
        for (v, roles) in [("admin,supervisor", vec![Role::Admin, Role::Supervisor]), ("agent", vec![Role::Agent])] {
            let mut c = Config::load(None, env(&[("GUANXI_TOTP_REQUIRED_ROLES", v)])).unwrap();
            assert_eq!(c.relax_for_demo(), None, "{v}");
            assert_eq!(c.totp_required_roles, roles, "{v}");
        }
        let mut c = Config::load(None, env(&[("GUANXI_TOTP_REQUIRED_ROLES", "none")])).unwrap();
        assert_eq!(c.relax_for_demo(), None, "nothing to drop, nothing to warn about");
        // Without --demo the default stands.
        let c = Config::load(None, env(&[])).unwrap();
        assert_eq!(c.totp_required_roles, vec![Role::Admin, Role::Supervisor]);
        assert!(!c.totp_roles_explicit);
    }

    #[test]
    fn bad_values_are_named() {
        let e = Config::load(None, env(&[("DATABASE_URL", "mysql://x")])).unwrap_err();
        assert!(e.0.contains("DATABASE_URL"));
        let e = Config::load(None, env(&[("GUANXI_SESSION_HOURS", "abc")])).unwrap_err();
        assert!(e.0.contains("GUANXI_SESSION_HOURS"));
        let e = Config::load(None, env(&[("GUANXI_SESSION_IDLE_MINUTES", "0")])).unwrap_err();
        assert!(e.0.contains("GUANXI_SESSION_IDLE_MINUTES"));
        let e = Config::load(None, env(&[("GUANXI_TOTP_REQUIRED_ROLES", "admin,boss")])).unwrap_err();
        assert!(e.0.contains("boss"));
        let c = Config::load(None, env(&[("GUANXI_TOTP_REQUIRED_ROLES", "none")])).unwrap();
        assert!(c.totp_required_roles.is_empty());
        let c = Config::load(None, env(&[])).unwrap();
        assert_eq!(c.totp_required_roles.len(), 2);
        assert_eq!(c.session_idle_minutes, 30);
        let e = Config::load(None, env(&[("GUANXI_TIME_ZONE", "Mars/Base")])).unwrap_err();
        assert!(e.0.contains("GUANXI_TIME_ZONE"));
        for bad in ["24", "-1", "two"] {
            let e = Config::load(None, env(&[("GUANXI_SEGMENT_RECOMPUTE_HOUR", bad)])).unwrap_err();
            assert!(e.0.contains("GUANXI_SEGMENT_RECOMPUTE_HOUR"), "{bad}: {}", e.0);
        }
        let c = Config::load(None, env(&[("GUANXI_SEGMENT_RECOMPUTE_HOUR", "off")])).unwrap();
        assert_eq!(c.segment_recompute_hour, None);
        let c = Config::load(None, env(&[("GUANXI_SEGMENT_RECOMPUTE_HOUR", "23")])).unwrap();
        assert_eq!(c.segment_recompute_hour, Some(23));
        assert_eq!(Config::default().maintenance_hour, Some(3));
        let c = Config::load(None, env(&[("GUANXI_MAINTENANCE_HOUR", "off")])).unwrap();
        assert_eq!(c.maintenance_hour, None);
        let e = Config::load(None, env(&[("GUANXI_MAINTENANCE_HOUR", "25")])).unwrap_err();
        assert!(e.0.contains("GUANXI_MAINTENANCE_HOUR"), "{}", e.0);
    }

    #[test]
    fn debug_hides_secrets() {
        let c =
            Config::load(None, env(&[("GUANXI_ADMIN_PASSWORD", "hunter22"), ("DATABASE_URL", "postgres://u:pw@h/db")]))
                .unwrap();
        let s = format!("{c:?}");
        assert!(!s.contains("hunter22") && !s.contains(":pw@"), "{s}");
    }

    /// Each bad value of a variable is refused with an error naming it.
    fn refused(var: &str, bad: &[&str]) {
        for v in bad {
            let e = Config::load(None, env(&[(var, v)])).unwrap_err();
            assert!(e.0.contains(var), "{v}: {}", e.0);
        }
    }

    #[test]
    fn serving_takes_a_small_writer_cache_unless_told() {
        let mut c = Config::load(None, env(&[])).unwrap();
        assert_eq!(c.db_options().sqlite_writer_cache_mb, DbOptions::BULK_WRITER_CACHE_MB, "bulk commands");
        c.for_serving();
        assert_eq!(c.db_options().sqlite_writer_cache_mb, DbOptions::SERVE_WRITER_CACHE_MB);
        let mut c = Config::load(None, env(&[("GUANXI_SQLITE_CACHE_MB", "96")])).unwrap();
        c.for_serving();
        assert_eq!(c.db_options().sqlite_writer_cache_mb, 96, "an explicit setting wins");
        refused("GUANXI_SQLITE_CACHE_MB", &["0", "lots", "100000"]);
    }

    #[test]
    fn serving_limits_sqlite_heap_unless_told() {
        let mut c = Config::load(None, env(&[])).unwrap();
        assert_eq!(c.db_options().sqlite_soft_heap_mb, 0, "bulk commands: no limit");
        c.for_serving();
        assert_eq!(c.db_options().sqlite_soft_heap_mb, DbOptions::SERVE_SOFT_HEAP_MB);
        let mut c = Config::load(None, env(&[("GUANXI_SQLITE_HEAP_MB", "0")])).unwrap();
        c.for_serving();
        assert_eq!(c.db_options().sqlite_soft_heap_mb, 0, "an explicit setting wins");
        refused("GUANXI_SQLITE_HEAP_MB", &["-1", "lots", "100000"]);
    }

    #[test]
    fn the_scheduler_polls_every_second_unless_told() {
        assert_eq!(Config::load(None, env(&[])).unwrap().scheduler_poll_ms, Some(1_000));
        assert_eq!(Config::load(None, env(&[("GUANXI_SCHEDULER_POLL_MS", "off")])).unwrap().scheduler_poll_ms, None);
        assert_eq!(
            Config::load(None, env(&[("GUANXI_SCHEDULER_POLL_MS", "250")])).unwrap().scheduler_poll_ms,
            Some(250)
        );
        for bad in ["5", "never"] {
            let e = Config::load(None, env(&[("GUANXI_SCHEDULER_POLL_MS", bad)])).unwrap_err();
            assert!(e.0.contains("GUANXI_SCHEDULER_POLL_MS"), "{bad}: {}", e.0);
        }
    }
}
