use guanxi_domain::ValidationErrors;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A rule checked against the database (an unknown owner, a taken email).
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    #[error("configuration: {0}")]
    Config(String),
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("postgres: {}", pg_message(.0))]
    Postgres(#[from] postgres::Error),
    #[error("column {column}: {reason}")]
    Decode { column: usize, reason: String },
    #[error("database worker stopped")]
    WorkerGone,
    #[error("commit failed: {0}")]
    Commit(String),
    #[error("{0}")]
    Other(String),
}

impl StoreError {
    /// A unique-constraint violation, on either engine.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            }
            StoreError::Postgres(e) => e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
            _ => false,
        }
    }
}

/// The server's own message ("db error" alone says nothing).
fn pg_message(e: &postgres::Error) -> String {
    e.as_db_error().map_or_else(|| e.to_string(), |d| format!("{} ({})", d.message(), d.code().code()))
}
