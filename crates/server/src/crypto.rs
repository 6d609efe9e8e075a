//! Personal data at rest (SPEC S2): AES-256-GCM encryption with a random
//! nonce per value, and a keyed blind index (HMAC-SHA256) so that exact
//! lookups by phone or email work without storing them in clear.
//!
//! The key comes from configuration (`GUANXI_DATA_KEY`, base64 of 32 bytes)
//! or a key file in the data directory. A database that already holds
//! encrypted data refuses to start with a missing or different key.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use guanxi_domain::contact::{Email, PhoneNumber};
use std::sync::Arc;

use guanxi_store::customers::{ContactLookup, PhoneCheck, Sealed};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone)]
pub struct PiiCipher {
    cipher: Aes256Gcm,
    index_key: [u8; 32],
    check: String,
}

impl std::fmt::Debug for PiiCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PiiCipher(***)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the data key must be base64 of exactly 32 bytes")]
    BadKey,
    #[error("a stored value could not be decrypted (wrong key or damaged data)")]
    Undecryptable,
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length; this cannot fail.
    let mut mac = match <HmacSha256 as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0; 32],
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

impl PiiCipher {
    pub fn from_base64(key: &str) -> Result<Self, CryptoError> {
        let bytes = B64.decode(key.trim()).map_err(|_| CryptoError::BadKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadKey)?;
        Ok(Self::from_bytes(&key))
    }

    pub fn from_bytes(key: &[u8; 32]) -> Self {
        let index_key = hmac(key, &[b"guanxi blind index v1"]);
        let check = hex(&hmac(key, &[b"guanxi key check v1"])[..16]);
        Self { cipher: Aes256Gcm::new(key.into()), index_key, check }
    }

    /// A fresh random key, base64-encoded.
    pub fn generate_key() -> String {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        B64.encode(key)
    }

    /// A fingerprint of the key, stored in the database to detect a wrong key.
    pub fn key_check(&self) -> &str {
        &self.check
    }

    pub fn encrypt(&self, plain: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        // Encrypting into a Vec only fails for absurdly large inputs.
        let ct = self.cipher.encrypt(Nonce::from_slice(&nonce), plain.as_bytes()).unwrap_or_default();
        let mut out = Vec::with_capacity(12 + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        format!("v1:{}", B64.encode(out))
    }

    pub fn decrypt(&self, stored: &str) -> Result<String, CryptoError> {
        let raw = stored.strip_prefix("v1:").and_then(|b| B64.decode(b).ok()).ok_or(CryptoError::Undecryptable)?;
        if raw.len() < 12 {
            return Err(CryptoError::Undecryptable);
        }
        let (nonce, ct) = raw.split_at(12);
        let plain = self.cipher.decrypt(Nonce::from_slice(nonce), ct).map_err(|_| CryptoError::Undecryptable)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Undecryptable)
    }

    /// The blind index of a normalised value of a kind ("phone", "email").
    pub fn index(&self, kind: &str, normalised: &str) -> String {
        hex(&hmac(&self.index_key, &[kind.as_bytes(), b":", normalised.as_bytes()])[..16])
    }

    pub fn seal_phone(&self, p: &PhoneNumber) -> Sealed {
        Sealed {
            ciphertext: self.encrypt(p.as_str()),
            masked: p.masked(),
            index: self.index("contact", p.as_str()),
            search: vec![self.index("phone", p.search_ending())],
            ending: Some(self.index("phone", p.long_ending())),
        }
    }

    pub fn seal_email(&self, e: &Email) -> Sealed {
        let lower = e.as_str().to_lowercase();
        Sealed {
            ciphertext: self.encrypt(e.as_str()),
            masked: e.masked(),
            index: self.index("contact", &lower),
            search: vec![self.index("email", &lower)],
            ending: None,
        }
    }

    /// A personal value that is encrypted and masked but not searchable.
    pub fn seal_text(&self, value: &str, masked: String) -> Sealed {
        Sealed { ciphertext: self.encrypt(value), masked, index: String::new(), search: Vec::new(), ending: None }
    }

    /// How a search query finds customers by a contact detail: a query of
    /// four or more digits (a whole phone number or its ending) by the
    /// digest of its last four digits and, when it has seven or more, of
    /// its last seven, longer endings checked on the decrypted numbers; an
    /// email address by its digest.
    pub fn contact_lookup_for_query(&self, q: &str) -> Option<ContactLookup> {
        let q = q.trim();
        let digits: String = match PhoneNumber::parse(q) {
            Ok(p) => p.as_str().to_string(),
            Err(_) => q.chars().filter(|c| !matches!(c, ' ' | '-')).collect(),
        };
        if digits.len() >= 4 && digits.chars().all(|c| c.is_ascii_digit()) {
            let tail = |n: usize| digits.get(digits.len() - n..).unwrap_or(&digits);
            let digest = self.index("phone", tail(4));
            let (ending, indexed) = if digits.len() >= 7 { (Some(self.index("phone", tail(7))), 7) } else { (None, 4) };
            if digits.len() == indexed {
                return Some(ContactLookup { digest, ending, check: None });
            }
            let cipher = self.clone();
            let check: PhoneCheck =
                Arc::new(move |stored: &str| cipher.decrypt(stored).is_ok_and(|phone| phone.ends_with(&digits)));
            return Some(ContactLookup { digest, ending, check: Some(check) });
        }
        if let Ok(e) = Email::parse(q) {
            let digest = self.index("email", &e.as_str().to_lowercase());
            return Some(ContactLookup { digest, ending: None, check: None });
        }
        None
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_nonce_freshness() {
        let c = PiiCipher::from_base64(&PiiCipher::generate_key()).unwrap();
        let a = c.encrypt("13812345678");
        let b = c.encrypt("13812345678");
        assert_ne!(a, b, "a fresh nonce each time");
        assert!(!a.contains("13812345678"));
        assert_eq!(c.decrypt(&a).unwrap(), "13812345678");
        let other = PiiCipher::from_base64(&PiiCipher::generate_key()).unwrap();
        assert!(other.decrypt(&a).is_err());
        assert_ne!(c.key_check(), other.key_check());
    }

    #[test]
    fn blind_index_is_stable_and_keyed() {
        let c = PiiCipher::from_bytes(&[7; 32]);
        let p = PhoneNumber::parse("138 1234 5678").unwrap();
        let sealed = c.seal_phone(&p);
        assert_eq!(sealed.search.len(), 1, "one row per number: under its last four digits");
        assert!(sealed.ending.is_some(), "with the digest of its last seven");
        let found = |q: &str| {
            let l = c.contact_lookup_for_query(q).unwrap();
            sealed.search.contains(&l.digest)
                && l.ending.as_ref().is_none_or(|e| sealed.ending.as_ref() == Some(e))
                && l.check.as_ref().is_none_or(|check| check(&sealed.ciphertext))
        };
        assert!(found("13812345678"), "the whole number");
        assert!(found("+86 138-1234-5678"), "the whole number, written otherwise");
        assert!(found("5678"), "last four digits");
        assert!(found("345678"), "a longer ending");
        assert!(found("2345678"), "the last seven digits");
        assert!(!found("2345679"), "seven digits that are not an ending");
        assert!(!found("1234"), "not an ending");
        assert!(!found("13912345678"), "another number with the same last four digits");
        assert!(!found("445678"), "a longer ending that differs before the last four");
        assert!(c.contact_lookup_for_query("567").is_none(), "too short to search by");
        let e = c.seal_email(&Email::parse("Li@Example.cn").unwrap());
        assert!(e.search.contains(&c.contact_lookup_for_query("li@example.cn").unwrap().digest));
        assert_ne!(c.index("contact", "x"), PiiCipher::from_bytes(&[8; 32]).index("contact", "x"));
    }

    #[test]
    fn bad_keys_are_refused() {
        assert!(PiiCipher::from_base64("short").is_err());
        assert!(PiiCipher::from_base64("!!!").is_err());
    }
}
