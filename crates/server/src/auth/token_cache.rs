//! API tokens recently found valid, so that a request need not read its
//! token and user from the database again: a small map from the token's
//! hash to its user, kept only while nothing about users, tokens or groups
//! has changed since the read ([`guanxi_store::Db::users_epoch`]: a
//! disabled user, a changed role or a revoked token stops working as soon
//! as the write that did it has returned), the token has not expired (by
//! the injectable clock) and for at most [`MAX_AGE`] (a backstop for writes
//! by another process on the same file). Off on PostgreSQL, whose other
//! instances change users too.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use guanxi_store::users::User;
use jiff::Timestamp;

/// How long an entry is trusted at most.
pub const MAX_AGE: Duration = Duration::from_secs(5);
/// Entries kept at most (the oldest generation is dropped when full).
pub const CAPACITY: usize = 4096;

struct Entry {
    user: User,
    expires_at: Timestamp,
    epoch: u64,
    checked: Instant,
}

#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl TokenCache {
    /// The user of a token hash, if an entry read at `epoch` is still good.
    pub fn get(&self, hash: &str, now: Timestamp, epoch: Option<u64>) -> Option<User> {
        let epoch = epoch?;
        let map = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let e = map.get(hash)?;
        (e.epoch == epoch && e.expires_at > now && e.checked.elapsed() < MAX_AGE).then(|| e.user.clone())
    }

    /// Keeps what a read found; `epoch` is the count noted before the read began.
    pub fn put(&self, hash: String, user: User, expires_at: Timestamp, epoch: Option<u64>) {
        let Some(epoch) = epoch else { return };
        let mut map = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= CAPACITY {
            map.retain(|_, e| e.epoch == epoch && e.checked.elapsed() < MAX_AGE);
            if map.len() >= CAPACITY {
                map.clear();
            }
        }
        map.insert(hash, Entry { user, expires_at, epoch, checked: Instant::now() });
    }

    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use guanxi_domain::user::Role;

    fn user(id: i64) -> User {
        User {
            id,
            email: format!("u{id}@x.cn"),
            name: "U".into(),
            role: Role::Agent,
            group_id: None,
            group_name: None,
            active: true,
            certified: false,
        }
    }

    #[test]
    fn an_entry_is_good_only_at_its_epoch_and_before_the_token_expires() {
        let c = TokenCache::default();
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let until = Timestamp::from_second(1_800_000_100).unwrap();
        c.put("h".into(), user(7), until, Some(3));
        assert_eq!(c.get("h", now, Some(3)).map(|u| u.id), Some(7));
        assert!(c.get("h", now, Some(4)).is_none(), "a user, token or group changed since");
        assert!(c.get("h", until, Some(3)).is_none(), "expired");
        assert!(c.get("other", now, Some(3)).is_none());
        assert!(c.get("h", now, None).is_none(), "no epoch: no cache");
        c.put("p".into(), user(8), until, None);
        assert!(c.get("p", now, Some(3)).is_none(), "nothing kept without an epoch");
    }

    #[test]
    fn it_stays_bounded() {
        let c = TokenCache::default();
        let until = Timestamp::from_second(1_800_000_100).unwrap();
        for i in 0..(CAPACITY as i64 + 10) {
            c.put(format!("h{i}"), user(i), until, Some(1));
        }
        assert!(c.len() <= CAPACITY);
        assert!(!c.is_empty());
    }
}
