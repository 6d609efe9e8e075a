//! Ways to reach a person: phone numbers and email addresses. Both are
//! personal information (SPEC S2), so each also knows how to mask itself.

use std::fmt;

use crate::Issue;

/// A Chinese phone number, normalised to its digits without country code:
/// an 11-digit mobile (`1[3-9]…`), a landline with area code (`0…`, 10–12
/// digits) or a 400/800 service number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(raw: &str) -> Result<Self, Issue> {
        let mut s: String = raw.trim().chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '（' | '）')).collect();
        if let Some(rest) = s.strip_prefix("+86") {
            s = rest.to_string();
        } else if let Some(rest) = s.strip_prefix("0086") {
            s = rest.to_string();
        }
        if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit()) {
            return Err(Issue::InvalidPhone);
        }
        let b = s.as_bytes();
        let ok = match (b.first(), b.len()) {
            (Some(b'1'), 11) => matches!(b.get(1), Some(b'3'..=b'9')),
            (Some(b'0'), 10..=12) => b.get(1) != Some(&b'0'),
            (Some(b'4' | b'8'), 10) => s.starts_with("400") || s.starts_with("800"),
            _ => false,
        };
        if ok { Ok(Self(s)) } else { Err(Issue::InvalidPhone) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `138****5678`: the first three and the last four digits.
    pub fn masked(&self) -> String {
        mask_digits(&self.0)
    }

    /// The ending the blind index files a number under: its last four
    /// digits. A search by any ending of four to six digits finds the few
    /// hundred numbers sharing its last four; longer endings are then
    /// checked on the decrypted numbers.
    pub fn search_ending(&self) -> &str {
        self.tail(4)
    }

    /// The ending whose keyed hash the blind index keeps beside
    /// [`Self::search_ending`]: the last seven digits, so that a search by
    /// seven digits or more (the whole number, say) finds the one or two
    /// numbers sharing them.
    pub fn long_ending(&self) -> &str {
        self.tail(7)
    }

    fn tail(&self, n: usize) -> &str {
        self.0.get(self.0.len().saturating_sub(n)..).unwrap_or(&self.0)
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Masks a stored phone number (already normalised).
pub fn mask_digits(digits: &str) -> String {
    let n = digits.chars().count();
    if n <= 7 {
        return "*".repeat(n);
    }
    let head: String = digits.chars().take(3).collect();
    let tail: String = digits.chars().skip(n - 4).collect();
    format!("{head}{}{tail}", "*".repeat(n - 7))
}

/// An email address, checked for shape (not deliverability); the domain is
/// lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, Issue> {
        let s = raw.trim();
        if s.len() > 254 {
            return Err(Issue::TooLong { max: 254 });
        }
        let (local, domain) = s.split_once('@').ok_or(Issue::InvalidEmail)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(|c| c.is_ascii_alphanumeric() || "._%+-'".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if local_ok && domain_ok {
            Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
        } else {
            Err(Issue::InvalidEmail)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `z***@example.com`
    pub fn masked(&self) -> String {
        mask_email(&self.0)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn mobile_numbers() {
        assert_eq!(PhoneNumber::parse("138 1234 5678").unwrap().as_str(), "13812345678");
        assert_eq!(PhoneNumber::parse("+86 138-1234-5678").unwrap().as_str(), "13812345678");
        assert_eq!(PhoneNumber::parse("12812345678"), Err(Issue::InvalidPhone));
        assert_eq!(PhoneNumber::parse("1381234567"), Err(Issue::InvalidPhone));
        assert_eq!(PhoneNumber::parse("138123456789"), Err(Issue::InvalidPhone));
        assert_eq!(PhoneNumber::parse("abc"), Err(Issue::InvalidPhone));
        assert_eq!(PhoneNumber::parse(""), Err(Issue::InvalidPhone));
    }

    #[test]
    fn landlines_and_service_numbers() {
        assert_eq!(PhoneNumber::parse("010-12345678").unwrap().as_str(), "01012345678");
        assert_eq!(PhoneNumber::parse("(0755) 8765 4321").unwrap().as_str(), "075587654321");
        assert_eq!(PhoneNumber::parse("400-123-4567").unwrap().as_str(), "4001234567");
        assert_eq!(PhoneNumber::parse("00-12345678"), Err(Issue::InvalidPhone));
    }

    #[test]
    fn masking() {
        assert_eq!(PhoneNumber::parse("13812345678").unwrap().masked(), "138****5678");
        assert_eq!(Email::parse("zhang.wei@Example.COM").unwrap().masked(), "z***@example.com");
    }

    #[test]
    fn emails() {
        assert!(Email::parse("a@b.cn").is_ok());
        for bad in ["", "a", "a@", "@b.cn", "a@b", "a b@c.cn", "a@b..cn", "a@-b.cn", ".a@b.cn"] {
            assert_eq!(Email::parse(bad), Err(Issue::InvalidEmail), "{bad}");
        }
    }

    #[test]
    fn search_endings() {
        let p = PhoneNumber::parse("13812345678").unwrap();
        assert_eq!((p.search_ending(), p.long_ending()), ("5678", "2345678"));
        let p = PhoneNumber::parse("010-6212 3456").unwrap();
        assert_eq!((p.search_ending(), p.long_ending()), ("3456", "2123456"));
    }

    proptest! {
        #[test]
        fn every_valid_mobile_masks_to_eleven_chars(rest in "[3-9][0-9]{9}") {
            let p = PhoneNumber::parse(&format!("1{rest}")).unwrap();
            let m = p.masked();
            prop_assert_eq!(m.len(), 11);
            prop_assert!(m.contains("****"));
            prop_assert_eq!(&m[7..], &p.as_str()[7..]);
        }
    }
}

/// A WeChat id: 6–20 characters, starting with a letter; letters, digits,
/// `_` and `-`. (Phone numbers used as WeChat ids are accepted too.)
pub fn parse_wechat(raw: &str) -> Result<String, Issue> {
    let s = raw.trim();
    if PhoneNumber::parse(s).is_ok() {
        return Ok(s.to_string());
    }
    let ok = (6..=20).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok { Ok(s.to_string()) } else { Err(Issue::InvalidWechat) }
}

/// Masks a WeChat id: `wx***9`.
pub fn mask_wechat(s: &str) -> String {
    let first: String = s.chars().take(2).collect();
    let last: String = s.chars().last().map(String::from).unwrap_or_default();
    format!("{first}***{last}")
}

/// Raw input for a contact person (SPEC C2).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct ContactInput {
    /// 1–50 characters. Required.
    pub name: String,
    /// 职务, up to 50 characters.
    pub title: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// 微信号.
    pub wechat: Option<String>,
    /// `YYYY-MM-DD`, not after today.
    pub birthday: Option<String>,
    /// Up to 200 characters.
    pub address: Option<String>,
    /// 关键决策人.
    pub decision_maker: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ContactDraft {
    pub name: String,
    pub title: Option<String>,
    pub phone: Option<PhoneNumber>,
    pub email: Option<Email>,
    pub wechat: Option<String>,
    pub birthday: Option<jiff::civil::Date>,
    pub address: Option<String>,
    pub decision_maker: bool,
}

impl ContactDraft {
    pub fn parse(input: &ContactInput, today: jiff::civil::Date) -> Result<Self, crate::ValidationErrors> {
        use crate::validation;
        let mut e = crate::ValidationErrors::new();
        let present = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        let name = e.check("name", validation::required_text(&input.name, 50));
        let title = e.check("title", validation::optional_text(input.title.as_deref(), 50, false));
        let phone = match present(&input.phone) {
            None => Some(None),
            Some(p) => e.check("phone", PhoneNumber::parse(&p).map(Some)),
        };
        let email = match present(&input.email) {
            None => Some(None),
            Some(p) => e.check("email", Email::parse(&p).map(Some)),
        };
        let wechat = match present(&input.wechat) {
            None => Some(None),
            Some(p) => e.check("wechat", parse_wechat(&p).map(Some)),
        };
        let birthday = match present(&input.birthday) {
            None => Some(None),
            Some(p) => e.check(
                "birthday",
                crate::customer::parse_date(&p)
                    .and_then(|d| if d > today { Err(Issue::InFuture) } else { Ok(Some(d)) }),
            ),
        };
        let address = e.check("address", validation::optional_text(input.address.as_deref(), 200, false));
        match (name, title, phone, email, wechat, birthday, address) {
            (Some(name), Some(title), Some(phone), Some(email), Some(wechat), Some(birthday), Some(address))
                if e.is_empty() =>
            {
                Ok(ContactDraft {
                    name,
                    title,
                    phone,
                    email,
                    wechat,
                    birthday,
                    address,
                    decision_maker: input.decision_maker.unwrap_or(false),
                })
            }
            _ => Err(e),
        }
    }
}

#[cfg(test)]
mod contact_tests {
    use super::*;

    #[test]
    fn wechat_ids() {
        assert!(parse_wechat("wxid_abc123").is_ok());
        assert!(parse_wechat("13812345678").is_ok());
        assert_eq!(parse_wechat("1abcdef"), Err(Issue::InvalidWechat));
        assert_eq!(parse_wechat("abc"), Err(Issue::InvalidWechat));
        assert_eq!(mask_wechat("wxid_abc123"), "wx***3");
    }

    #[test]
    fn contact_rules() {
        let today = jiff::civil::date(2026, 11, 23);
        let ok = ContactInput { name: "李强".into(), phone: Some("13812345678".into()), ..Default::default() };
        assert!(ContactDraft::parse(&ok, today).is_ok());
        let bad = ContactInput {
            name: "".into(),
            phone: Some("1".into()),
            email: Some("x".into()),
            wechat: Some("1".into()),
            birthday: Some("2030-01-01".into()),
            ..Default::default()
        };
        assert_eq!(
            ContactDraft::parse(&bad, today).unwrap_err().fields(),
            vec!["name", "phone", "email", "wechat", "birthday"]
        );
    }
}
