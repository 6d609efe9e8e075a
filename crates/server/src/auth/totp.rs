//! Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP): HMAC-SHA-1,
//! 30-second steps, six digits, the form every authenticator app reads from
//! an `otpauth://` URI. One step of clock drift is accepted either way.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha1::Sha1;

pub const STEP_SECS: i64 = 30;
pub const DIGITS: u32 = 6;

/// A new 160-bit secret, base32 (RFC 4648, no padding) as apps expect.
pub fn new_secret() -> String {
    let mut b = [0u8; 20];
    rand::rng().fill_bytes(&mut b);
    base32_encode(&b)
}

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

pub fn base32_encode(data: &[u8]) -> String {
    let mut out = String::new();
    let mut buf: u32 = 0;
    let mut bits = 0;
    for &b in data {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buf >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buf << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Decodes base32, ignoring case, spaces and padding; `None` on other
/// characters.
pub fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf: u32 = 0;
    let mut bits = 0;
    for ch in s.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let c = ch.to_ascii_uppercase() as u8;
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        buf = (buf << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buf >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// The HOTP value of `key` at `counter`.
pub fn hotp(key: &[u8], counter: u64) -> u32 {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(key) else {
        return u32::MAX;
    };
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = (h[19] & 0x0f) as usize;
    let bin = (u32::from(h[offset]) & 0x7f) << 24
        | u32::from(h[offset + 1]) << 16
        | u32::from(h[offset + 2]) << 8
        | u32::from(h[offset + 3]);
    bin % 10u32.pow(DIGITS)
}

/// The time step of an instant.
pub fn step_at(unix_secs: i64) -> i64 {
    unix_secs.div_euclid(STEP_SECS)
}

/// The six-digit code of a base32 secret at a Unix time.
pub fn code_at(secret_b32: &str, unix_secs: i64) -> Option<String> {
    let key = base32_decode(secret_b32)?;
    let step = u64::try_from(step_at(unix_secs)).ok()?;
    Some(format!("{:06}", hotp(&key, step)))
}

/// The step whose code `code` is, within one step of `unix_secs`.
pub fn verify(secret_b32: &str, code: &str, unix_secs: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let key = base32_decode(secret_b32)?;
    let now = step_at(unix_secs);
    [now - 1, now, now + 1].into_iter().find(|&s| {
        u64::try_from(s).is_ok_and(|c| {
            let want = format!("{:06}", hotp(&key, c));
            want.as_bytes().iter().zip(code.as_bytes()).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0
        })
    })
}

/// The `otpauth://` URI an authenticator app imports (also as a QR code).
pub fn otpauth_uri(issuer: &str, account: &str, secret_b32: &str) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={secret_b32}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        enc(issuer),
        enc(account),
        enc(issuer)
    )
}

/// Ten recovery codes, `xxxxx-xxxxx` from an alphabet without look-alikes.
pub fn new_recovery_codes() -> Vec<String> {
    const A: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..10)
        .map(|_| {
            let mut s = String::with_capacity(11);
            for i in 0..10 {
                if i == 5 {
                    s.push('-');
                }
                s.push(A[(rng.next_u32() as usize) % A.len()] as char);
            }
            s
        })
        .collect()
}

/// A recovery code as typed, normalised for hashing.
pub fn normalise_recovery(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1, eight digits: the low six are ours.
    #[test]
    fn rfc6238_vectors() {
        let key = b"12345678901234567890";
        let secret = base32_encode(key);
        assert_eq!(secret, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        for (t, eight) in
            [(59, "94287082"), (1_111_111_109, "07081804"), (1_234_567_890, "89005924"), (2_000_000_000, "69279037")]
        {
            assert_eq!(code_at(&secret, t).unwrap(), eight[2..], "t={t}");
        }
        assert_eq!(verify(&secret, "287082", 59), Some(1));
        assert_eq!(verify(&secret, "287 082", 89), Some(1), "one step late is accepted");
        assert_eq!(verify(&secret, "287082", 59 + 90), None, "three steps late is not");
        assert_eq!(verify(&secret, "28708", 59), None);
        assert_eq!(verify(&secret, "abcdef", 59), None);
    }

    #[test]
    fn base32_round_trip() {
        for n in 0..25 {
            let data: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(base32_decode(&base32_encode(&data)).unwrap(), data);
        }
        assert_eq!(base32_decode("gezd gnbv"), base32_decode("GEZDGNBV"));
        assert!(base32_decode("A1").is_none());
        assert_eq!(new_secret().len(), 32);
    }

    #[test]
    fn uri_and_recovery_codes() {
        let u = otpauth_uri("关系 Guanxi", "a@b.cn", "ABC");
        assert!(u.starts_with("otpauth://totp/%E5%85%B3"), "{u}");
        assert!(u.contains("secret=ABC&issuer="));
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        assert_eq!(normalise_recovery(&codes[0].to_uppercase()).len(), 10);
    }
}
