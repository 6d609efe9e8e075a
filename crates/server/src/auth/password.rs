//! argon2id password hashes. Hashing is deliberately slow, so it runs on the
//! blocking pool rather than on the async workers.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::error::AppError;

pub fn hash_blocking(password: &str) -> Result<String, AppError> {
    let mut salt_bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut salt_bytes);
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| AppError::Internal(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(e.to_string()))
}

pub fn verify_blocking(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok()).unwrap_or(false)
}

pub async fn hash(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
}

pub async fn verify(hash: String, password: String) -> bool {
    tokio::task::spawn_blocking(move || verify_blocking(&hash, &password)).await.unwrap_or(false)
}

/// A hash that no password matches, verified against when the email is
/// unknown so that response time does not reveal which emails exist.
pub fn dummy_hash() -> &'static str {
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2nJTmFwdPkr6tgYH3AOzBkC3MWSt2GV4Ne0Oa5ZLNkU"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ() {
        let a = hash_blocking("correct horse").unwrap();
        let b = hash_blocking("correct horse").unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("$argon2id$"));
        assert!(verify_blocking(&a, "correct horse"));
        assert!(!verify_blocking(&a, "wrong horse"));
        assert!(!verify_blocking("garbage", "x"));
        assert!(!verify_blocking(dummy_hash(), "anything"));
    }
}
