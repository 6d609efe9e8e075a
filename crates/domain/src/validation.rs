//! Field-level validation errors. Parsing a form or an API body collects
//! every problem at once, each naming its field and a reason that the server
//! renders in the user's language.

use crate::Lang;

/// Why a field was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issue {
    Required,
    TooLong {
        max: usize,
    },
    TooShort {
        min: usize,
    },
    /// Not one of the allowed values.
    NotAllowed,
    InvalidPhone,
    InvalidEmail,
    InvalidDate,
    /// A date that may not lie after today.
    InFuture,
    /// A date or number outside the accepted range.
    OutOfRange,
    TooMany {
        max: usize,
    },
    /// A referenced record (owner, group) does not exist or is inactive.
    Unknown,
    /// Another record already uses this value.
    Taken,
    InvalidCharacters,
    InvalidWechat,
    /// Not an amount of money with at most two decimals.
    InvalidAmount,
    /// Not a date and time.
    InvalidDateTime,
    /// A number or amount that must be greater than zero.
    NotPositive,
    /// A number or amount that must be less than another setting; `limit` is
    /// that setting's value as shown to the user (e.g. `100,000.00`).
    NotBelow {
        limit: String,
    },
    /// Not a list of time ranges such as `09:00-12:00`.
    InvalidTimeRange,
    /// A time range that does not end after it starts.
    EndNotAfterStart,
    /// Time ranges that overlap.
    Overlapping,
    /// The end of a date range lies before its start.
    BeforeStart,
    /// A date range longer than allowed.
    RangeTooLong {
        max_days: u32,
    },
    /// A script names a variable the script library does not know.
    UnknownScriptVariable {
        name: String,
    },
    /// A script that is not a valid template.
    ScriptSyntax {
        detail: String,
    },
    /// The JSON body or form could not be read at all.
    Malformed(String),
    /// A rule that would depend on itself (a rule tag testing its own tag,
    /// directly or through other rule tags).
    Circular,
    /// A file larger than allowed.
    FileTooLarge {
        max_bytes: u64,
    },
    /// A file whose bytes are not an allowed kind, or do not match its name.
    FileType,
    /// A message template uses a variable its scenario does not provide.
    UndefinedVariable {
        name: String,
    },
    /// An outbound address (webhook, channel endpoint) that is, or resolves
    /// to, a private, loopback, link-local or otherwise internal address.
    PrivateAddress,
}

impl Issue {
    pub fn code(&self) -> &'static str {
        match self {
            Issue::Required => "required",
            Issue::TooLong { .. } => "too_long",
            Issue::TooShort { .. } => "too_short",
            Issue::NotAllowed => "not_allowed",
            Issue::InvalidPhone => "invalid_phone",
            Issue::InvalidEmail => "invalid_email",
            Issue::InvalidDate => "invalid_date",
            Issue::InFuture => "in_future",
            Issue::OutOfRange => "out_of_range",
            Issue::TooMany { .. } => "too_many",
            Issue::Unknown => "unknown",
            Issue::Taken => "taken",
            Issue::InvalidCharacters => "invalid_characters",
            Issue::InvalidAmount => "invalid_amount",
            Issue::InvalidWechat => "invalid_wechat",
            Issue::InvalidDateTime => "invalid_datetime",
            Issue::NotPositive => "not_positive",
            Issue::NotBelow { .. } => "not_below",
            Issue::InvalidTimeRange => "invalid_time_range",
            Issue::EndNotAfterStart => "end_not_after_start",
            Issue::Overlapping => "overlapping",
            Issue::BeforeStart => "before_start",
            Issue::RangeTooLong { .. } => "range_too_long",
            Issue::UnknownScriptVariable { .. } => "unknown_variable",
            Issue::ScriptSyntax { .. } => "template_syntax",
            Issue::Malformed(_) => "malformed",
            Issue::Circular => "circular",
            Issue::UndefinedVariable { .. } => "undefined_variable",
            Issue::FileTooLarge { .. } => "file_too_large",
            Issue::FileType => "file_type",
            Issue::PrivateAddress => "private_address",
        }
    }

    pub fn message(&self, lang: Lang) -> String {
        match (self, lang) {
            (Issue::Required, Lang::Zh) => "必填".into(),
            (Issue::Required, Lang::En) => "is required".into(),
            (Issue::TooLong { max }, Lang::Zh) => format!("不能超过 {max} 个字符"),
            (Issue::TooLong { max }, Lang::En) => format!("must be at most {max} characters"),
            (Issue::TooShort { min }, Lang::Zh) => format!("至少需要 {min} 个字符"),
            (Issue::TooShort { min }, Lang::En) => format!("must be at least {min} characters"),
            (Issue::NotAllowed, Lang::Zh) => "不是允许的取值".into(),
            (Issue::NotAllowed, Lang::En) => "is not an allowed value".into(),
            (Issue::InvalidPhone, Lang::Zh) => {
                "不是有效的电话号码（手机 11 位，如 13812345678；座机如 010-12345678）".into()
            }
            (Issue::InvalidPhone, Lang::En) => {
                "is not a valid phone number (mobile: 11 digits such as 13812345678; landline such as 010-12345678)"
                    .into()
            }
            (Issue::InvalidEmail, Lang::Zh) => "不是有效的邮箱地址".into(),
            (Issue::InvalidEmail, Lang::En) => "is not a valid email address".into(),
            (Issue::InvalidDate, Lang::Zh) => "日期格式应为 YYYY-MM-DD".into(),
            (Issue::InvalidDate, Lang::En) => "must be a date in the form YYYY-MM-DD".into(),
            (Issue::InFuture, Lang::Zh) => "不能晚于今天".into(),
            (Issue::InFuture, Lang::En) => "cannot be later than today".into(),
            (Issue::OutOfRange, Lang::Zh) => "超出允许范围".into(),
            (Issue::OutOfRange, Lang::En) => "is out of the allowed range".into(),
            (Issue::TooMany { max }, Lang::Zh) => format!("最多 {max} 项"),
            (Issue::TooMany { max }, Lang::En) => format!("may have at most {max} items"),
            (Issue::Unknown, Lang::Zh) => "不存在或已停用".into(),
            (Issue::Unknown, Lang::En) => "does not exist or is disabled".into(),
            (Issue::Taken, Lang::Zh) => "已被使用".into(),
            (Issue::Taken, Lang::En) => "is already in use".into(),
            (Issue::InvalidCharacters, Lang::Zh) => "包含不允许的字符".into(),
            (Issue::InvalidCharacters, Lang::En) => "contains characters that are not allowed".into(),
            (Issue::InvalidWechat, Lang::Zh) => "不是有效的微信号（6–20 位，以字母开头）".into(),
            (Issue::InvalidWechat, Lang::En) => "is not a WeChat id (6–20 characters, starting with a letter)".into(),
            (Issue::InvalidAmount, Lang::Zh) => "金额格式不正确（如 1234.50，最多两位小数）".into(),
            (Issue::InvalidAmount, Lang::En) => "is not an amount such as 1234.50 (at most two decimals)".into(),
            (Issue::InvalidDateTime, Lang::Zh) => "时间格式应为 YYYY-MM-DD HH:MM".into(),
            (Issue::InvalidDateTime, Lang::En) => "must be a date and time such as 2026-11-23 14:30".into(),
            (Issue::NotPositive, Lang::Zh) => "必须大于 0".into(),
            (Issue::NotPositive, Lang::En) => "must be greater than 0".into(),
            (Issue::NotBelow { limit }, Lang::Zh) => format!("必须小于 {limit}"),
            (Issue::NotBelow { limit }, Lang::En) => format!("must be less than {limit}"),
            (Issue::InvalidTimeRange, Lang::Zh) => "时段格式应为 HH:MM-HH:MM，如 09:00-12:00".into(),
            (Issue::InvalidTimeRange, Lang::En) => "must be time ranges such as 09:00-12:00 (HH:MM-HH:MM)".into(),
            (Issue::EndNotAfterStart, Lang::Zh) => "结束时间必须晚于开始时间".into(),
            (Issue::EndNotAfterStart, Lang::En) => "must end after it starts".into(),
            (Issue::Overlapping, Lang::Zh) => "时段之间不能重叠".into(),
            (Issue::Overlapping, Lang::En) => "time ranges must not overlap".into(),
            (Issue::BeforeStart, Lang::Zh) => "不能早于开始日期".into(),
            (Issue::BeforeStart, Lang::En) => "cannot be before the start date".into(),
            (Issue::RangeTooLong { max_days }, Lang::Zh) => format!("日期范围最多 {max_days} 天"),
            (Issue::RangeTooLong { max_days }, Lang::En) => format!("the range may cover at most {max_days} days"),
            (Issue::UnknownScriptVariable { name }, Lang::Zh) => format!("未知变量 {name}（可用变量见话术编辑页）"),
            (Issue::UnknownScriptVariable { name }, Lang::En) => {
                format!("names the unknown variable {name} (the script editor lists the variables)")
            }
            (Issue::ScriptSyntax { detail }, Lang::Zh) => format!("模板语法错误：{detail}"),
            (Issue::ScriptSyntax { detail }, Lang::En) => format!("is not a valid template: {detail}"),
            (Issue::Malformed(detail), Lang::Zh) => format!("请求内容无法解析：{detail}"),
            (Issue::Malformed(detail), Lang::En) => format!("could not be read: {detail}"),
            (Issue::Circular, Lang::Zh) => "规则不能依赖自身（不能直接或经由其他规则标签引用本标签）".into(),
            (Issue::Circular, Lang::En) => "may not depend on itself (directly or through other rule tags)".into(),
            (Issue::UndefinedVariable { name }, Lang::Zh) => format!("使用了未定义的变量 {name}"),
            (Issue::UndefinedVariable { name }, Lang::En) => format!("uses the undefined variable {name}"),
            (Issue::FileTooLarge { max_bytes }, Lang::Zh) => format!("文件不能超过 {}", size_words(*max_bytes)),
            (Issue::FileTooLarge { max_bytes }, Lang::En) => format!("must be at most {}", size_words(*max_bytes)),
            (Issue::FileType, Lang::Zh) => {
                "文件类型不允许，或文件内容与扩展名不符（允许图片、PDF、Office 文档、文本）".into()
            }
            (Issue::FileType, Lang::En) => {
                "is not an allowed type, or its content does not match its name (images, PDF, Office documents, text)"
                    .into()
            }
            (Issue::PrivateAddress, Lang::Zh) => {
                "指向内网、本机、链路本地或保留地址；确需使用时请管理员先把该主机加入允许列表（allowed_hosts）".into()
            }
            (Issue::PrivateAddress, Lang::En) => {
                "points to a private, loopback, link-local or reserved address; an administrator must first add the host to the allow-list (allowed_hosts)"
                    .into()
            }
        }
    }
}

/// A size limit as people say it: `20 MB`, `512 KB`, `100 B`.
fn size_words(bytes: u64) -> String {
    match bytes {
        b if b >= 1024 * 1024 && b % (1024 * 1024) == 0 => format!("{} MB", b / (1024 * 1024)),
        b if b >= 1024 && b % 1024 == 0 => format!("{} KB", b / 1024),
        b => format!("{b} B"),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub issue: Issue,
}

/// Every problem found in one input, in field order.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
#[error("invalid input: {}", self.fields().join(", "))]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    pub fn new() -> Self {
        Self(Vec::new())
    }

    pub fn single(field: &str, issue: Issue) -> Self {
        Self(vec![FieldError { field: field.into(), issue }])
    }

    pub fn add(&mut self, field: &str, issue: Issue) {
        self.0.push(FieldError { field: field.into(), issue });
    }

    /// Records the error of a parse, if any, and returns the value.
    pub fn check<T>(&mut self, field: &str, r: Result<T, Issue>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(issue) => {
                self.add(field, issue);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn fields(&self) -> Vec<&str> {
        self.0.iter().map(|e| e.field.as_str()).collect()
    }

    pub fn get(&self, field: &str) -> Option<&Issue> {
        self.0.iter().find(|e| e.field == field).map(|e| &e.issue)
    }

    pub fn into_result<T>(self, value: impl FnOnce() -> T) -> Result<T, ValidationErrors> {
        if self.0.is_empty() { Ok(value()) } else { Err(self) }
    }
}

/// Trims a text field and checks its length in characters; control
/// characters (other than line breaks and tabs in multi-line fields) are refused.
pub fn text(raw: &str, max: usize, multiline: bool) -> Result<String, Issue> {
    let t = raw.trim();
    if t.chars().count() > max {
        return Err(Issue::TooLong { max });
    }
    let bad = t.chars().any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')));
    if bad {
        return Err(Issue::InvalidCharacters);
    }
    Ok(t.to_string())
}

/// A required single-line text.
pub fn required_text(raw: &str, max: usize) -> Result<String, Issue> {
    let t = text(raw, max, false)?;
    if t.is_empty() { Err(Issue::Required) } else { Ok(t) }
}

/// An optional text: empty after trimming means absent.
pub fn optional_text(raw: Option<&str>, max: usize, multiline: bool) -> Result<Option<String>, Issue> {
    match raw {
        None => Ok(None),
        Some(r) => {
            let t = text(r, max, multiline)?;
            Ok(if t.is_empty() { None } else { Some(t) })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_counts_characters_not_bytes() {
        assert_eq!(required_text("  北京科技  ", 4), Ok("北京科技".into()));
        assert_eq!(required_text("北京科技有限", 4), Err(Issue::TooLong { max: 4 }));
        assert_eq!(required_text("   ", 4), Err(Issue::Required));
        assert_eq!(required_text("a\u{0}b", 10), Err(Issue::InvalidCharacters));
        assert_eq!(text("a\nb", 10, true), Ok("a\nb".into()));
        assert_eq!(text("a\nb", 10, false), Err(Issue::InvalidCharacters));
    }

    #[test]
    fn messages_exist_in_both_languages() {
        let i = Issue::TooLong { max: 5 };
        assert!(i.message(Lang::Zh).contains('5'));
        assert!(i.message(Lang::En).contains("at most 5"));
    }
}
