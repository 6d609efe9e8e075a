//! What every handler shares.

use std::sync::Arc;

use guanxi_domain::Clock;
use guanxi_store::Db;

use crate::config::Config;
use crate::crypto::PiiCipher;
use crate::web::templates::Templates;

/// Cloned for every request (and by each layer that extracts it): one
/// reference count, not a copy of the fields (the cipher alone is ~600
/// bytes and a string), which was a tenth of the server's request time.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<Config>,
    pub cipher: PiiCipher,
    pub templates: Arc<Templates>,
    /// Ticket handling's settings and calendars, read once every few seconds.
    pub ticket_setup: crate::service::tickets::setup::SetupCache,
    /// API tokens recently found valid (see [`crate::auth::token_cache`]).
    pub api_tokens: crate::auth::token_cache::TokenCache,
}

impl Shared {
    /// Today in the business time zone.
    pub fn today(&self) -> jiff::civil::Date {
        guanxi_domain::clock::local_date(self.clock.now(), &self.config.time_zone)
    }
}
