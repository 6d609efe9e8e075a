//! Which column holds which field: the fields of each kind of import with
//! their Chinese aliases, the user's `column=field` overrides, and the
//! clean-up of cell text (dates as Excel writes them, yes/no, labels of
//! closed vocabularies).

use std::collections::HashMap;

use guanxi_domain::{Issue, Lang};

use super::table::Table;

/// How a cell's text is cleaned before the domain parser sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellKind {
    Text,
    Date,
    Bool,
    Amount,
    /// Known, and not imported (e.g. 创建时间 in an export).
    Ignored,
}

#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub kind: CellKind,
}

pub const fn text(name: &'static str, aliases: &'static [&'static str]) -> Field {
    Field { name, aliases, kind: CellKind::Text }
}
pub const fn date(name: &'static str, aliases: &'static [&'static str]) -> Field {
    Field { name, aliases, kind: CellKind::Date }
}
pub const fn boolean(name: &'static str, aliases: &'static [&'static str]) -> Field {
    Field { name, aliases, kind: CellKind::Bool }
}
pub const fn amount(name: &'static str, aliases: &'static [&'static str]) -> Field {
    Field { name, aliases, kind: CellKind::Amount }
}
pub const fn ignored(name: &'static str, aliases: &'static [&'static str]) -> Field {
    Field { name, aliases, kind: CellKind::Ignored }
}

/// Why a row or a column was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    Field(Issue),
    UnknownColumn,
    DuplicateColumn,
    MissingColumn,
    UnknownTarget,
    NoSuchColumn,
    UnnamedColumn,
    /// The same record as an earlier row of the file.
    DuplicateRow(usize),
    /// Several active users have this name.
    Ambiguous,
    NoRows,
}

impl Reason {
    pub fn code(&self) -> &'static str {
        match self {
            Reason::Field(i) => i.code(),
            Reason::UnknownColumn => "unknown_column",
            Reason::DuplicateColumn => "duplicate_column",
            Reason::MissingColumn => "missing_column",
            Reason::UnknownTarget => "unknown_field",
            Reason::NoSuchColumn => "no_such_column",
            Reason::UnnamedColumn => "unnamed_column",
            Reason::DuplicateRow(_) => "duplicate_row",
            Reason::Ambiguous => "ambiguous",
            Reason::NoRows => "no_rows",
        }
    }

    pub fn message(&self, lang: Lang) -> String {
        match self {
            Reason::Field(i) => i.message(lang),
            Reason::UnknownColumn => lang
                .pick(
                    "无法识别的列；请把表头改成字段名，或用列映射 列名=字段 指定（列名=- 忽略该列）",
                    "is not a known column; rename it to a field name or map it with column=field (column=- ignores it)",
                )
                .into(),
            Reason::DuplicateColumn => lang.pick("与前面的列对应同一字段", "maps to the same field as an earlier column").into(),
            Reason::MissingColumn => lang.pick("缺少必需的列", "is a required column and is missing").into(),
            Reason::UnknownTarget => lang.pick("映射的目标不是可导入的字段", "is mapped to a field that cannot be imported").into(),
            Reason::NoSuchColumn => lang.pick("文件中没有这一列", "is not a column of the file").into(),
            Reason::UnnamedColumn => lang.pick("这一列有内容但没有表头", "has values but no header").into(),
            Reason::DuplicateRow(first) => match lang {
                Lang::Zh => format!("与第 {first} 行重复"),
                Lang::En => format!("repeats row {first}"),
            },
            Reason::Ambiguous => lang.pick("有多个同名的在职用户，请改用邮箱", "matches several active users; use the email").into(),
            Reason::NoRows => lang.pick("文件中没有数据行", "the file has no data rows").into(),
        }
    }
}

impl From<Issue> for Reason {
    fn from(i: Issue) -> Self {
        Reason::Field(i)
    }
}

/// A refused cell, column or row, before it is put in the user's language.
#[derive(Debug, Clone)]
pub struct Problem {
    pub row: usize,
    pub column: String,
    pub field: Option<String>,
    pub reason: Reason,
}

/// A header as compared: no spaces, no trailing `*` (a required-column
/// mark), no note in parentheses ("金额（元）"), ASCII lower case.
pub fn normalise_header(h: &str) -> String {
    let mut s: String = h.trim_start_matches('\u{feff}').chars().filter(|c| !c.is_whitespace()).collect();
    s = s.trim_end_matches(['*', '＊']).to_string();
    for (open, close) in [('（', '）'), ('(', ')')] {
        if s.ends_with(close)
            && let Some(i) = s.rfind(open)
            && i > 0
        {
            s.truncate(i);
        }
    }
    s.to_ascii_lowercase()
}

/// Which column holds which field.
#[derive(Debug, Clone, Default)]
pub struct Mapping {
    by_field: HashMap<&'static str, usize>,
    headers: Vec<String>,
}

impl Mapping {
    /// Maps the file's headers to `fields`: the user's overrides first, then
    /// field names, then aliases. Every header problem is reported on row 1.
    pub fn resolve(
        table: &Table,
        fields: &'static [Field],
        overrides: &[(String, String)],
        problems: &mut Vec<Problem>,
    ) -> Mapping {
        let header_problem = |problems: &mut Vec<Problem>, column: &str, field: Option<&str>, reason: Reason| {
            problems.push(Problem { row: 1, column: column.into(), field: field.map(Into::into), reason });
        };
        let find = |wanted: &str| -> Option<&'static Field> {
            let w = normalise_header(wanted);
            fields
                .iter()
                .find(|f| f.name == w)
                .or_else(|| fields.iter().find(|f| f.aliases.iter().any(|a| normalise_header(a) == w)))
        };
        // The overrides: `column=field`, `column=-` to ignore the column.
        let mut forced: HashMap<usize, Option<&'static Field>> = HashMap::new();
        for (column, target) in overrides {
            let col = table
                .headers
                .iter()
                .position(|h| h.trim() == column.trim())
                .or_else(|| table.headers.iter().position(|h| normalise_header(h) == normalise_header(column)));
            let Some(col) = col else {
                header_problem(problems, column, None, Reason::NoSuchColumn);
                continue;
            };
            let target = target.trim();
            if target.is_empty() || target == "-" {
                forced.insert(col, None);
            } else {
                match fields.iter().find(|f| f.name == target) {
                    Some(f) => {
                        forced.insert(col, Some(f));
                    }
                    None => header_problem(problems, column, Some(target), Reason::UnknownTarget),
                }
            }
        }
        let mut mapping = Mapping { by_field: HashMap::new(), headers: table.headers.clone() };
        for (col, header) in table.headers.iter().enumerate() {
            let field = match forced.get(&col) {
                Some(f) => *f,
                None if header.trim().is_empty() => {
                    if table.rows.iter().any(|r| r.cells.get(col).is_some_and(|c| !c.trim().is_empty())) {
                        let name = table.column_letters(col);
                        header_problem(problems, &name, None, Reason::UnnamedColumn);
                    }
                    None
                }
                None => match find(header) {
                    Some(f) => Some(f),
                    None => {
                        header_problem(problems, header, None, Reason::UnknownColumn);
                        None
                    }
                },
            };
            let Some(field) = field else { continue };
            if field.kind == CellKind::Ignored {
                continue;
            }
            if mapping.by_field.contains_key(field.name) {
                header_problem(problems, header, Some(field.name), Reason::DuplicateColumn);
                continue;
            }
            mapping.by_field.insert(field.name, col);
        }
        // Cells beyond the last header.
        let width = table.headers.len();
        if let Some(r) = table.rows.iter().find(|r| r.cells.iter().skip(width).any(|c| !c.trim().is_empty())) {
            let col = r.cells.iter().enumerate().skip(width).find(|(_, c)| !c.trim().is_empty()).map_or(width, |x| x.0);
            header_problem(problems, &table.column_letters(col), None, Reason::UnnamedColumn);
        }
        mapping
    }

    pub fn has(&self, field: &str) -> bool {
        self.by_field.contains_key(field)
    }

    /// The header of the column that holds `field`, or the field's name.
    pub fn column(&self, field: &str) -> String {
        self.by_field.get(field).and_then(|c| self.headers.get(*c)).cloned().unwrap_or_else(|| field.to_string())
    }

    /// Reports a required field without a column.
    pub fn require(&self, field: &str, problems: &mut Vec<Problem>) {
        if !self.has(field) {
            problems.push(Problem {
                row: 1,
                column: field.into(),
                field: Some(field.into()),
                reason: Reason::MissingColumn,
            });
        }
    }

    /// The cell of `field` in a row, cleaned for its kind; None when the file
    /// has no such column (an empty cell is `Some("")`).
    pub fn cell(&self, cells: &[String], field: &Field) -> Option<String> {
        let col = *self.by_field.get(field.name)?;
        let raw = cells.get(col).map_or("", |s| s.trim());
        Some(match field.kind {
            CellKind::Date => normalise_date(raw),
            CellKind::Amount => raw.trim_end_matches('元').trim().to_string(),
            _ => raw.to_string(),
        })
    }
}

/// The fields of a kind, by name.
pub fn field(fields: &'static [Field], name: &str) -> &'static Field {
    static FALLBACK: Field = text("", &[]);
    fields.iter().find(|f| f.name == name).unwrap_or(&FALLBACK)
}

/// `2024/5/1`, `2024.05.01`, `2024年5月1日` and `2024-5-1` become
/// `2024-05-01`; anything else is left for the date parser to refuse.
pub fn normalise_date(raw: &str) -> String {
    let s = raw.trim();
    // Excel's date with a midnight time.
    let s = s
        .strip_suffix(" 00:00:00")
        .or_else(|| s.strip_suffix(" 0:00:00"))
        .or_else(|| s.strip_suffix(" 0:00"))
        .unwrap_or(s);
    let parts: Vec<&str> = s.split(['/', '.', '-', '年', '月', '日']).filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        [y, m, d]
            if y.len() == 4
                && (1..=2).contains(&m.len())
                && (1..=2).contains(&d.len())
                && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_digit())) =>
        {
            format!("{y}-{m:0>2}-{d:0>2}")
        }
        _ => s.to_string(),
    }
}

/// Yes/no in the ways people write it; None for an empty cell.
pub fn parse_bool(raw: &str) -> Result<Option<bool>, Issue> {
    match raw.trim().to_lowercase().as_str() {
        "" => Ok(None),
        "true" | "1" | "yes" | "y" | "是" | "对" | "√" | "✓" => Ok(Some(true)),
        "false" | "0" | "no" | "n" | "否" | "不" | "×" | "✗" => Ok(Some(false)),
        _ => Err(Issue::NotAllowed),
    }
}

/// A closed vocabulary's value: its code, or its Chinese or English label
/// (whole, or the part before a note in parentheses: "中型").
pub fn vocabulary_code<T: Copy>(
    raw: Option<String>,
    all: &[T],
    code: fn(T) -> &'static str,
    label: fn(T, Lang) -> &'static str,
) -> Option<String> {
    let raw = raw?;
    let wanted = raw.trim().to_lowercase();
    if wanted.is_empty() {
        return Some(raw);
    }
    let short = |l: &str| l.split(['（', '(']).next().unwrap_or(l).trim().to_lowercase();
    for v in all {
        for lang in [Lang::Zh, Lang::En] {
            let l = label(*v, lang);
            if l.to_lowercase() == wanted || short(l) == wanted {
                return Some(code(*v).to_string());
            }
        }
    }
    Some(raw)
}

/// Collects problems and turns them into the report in the user's language.
pub fn bad_rows(problems: &[Problem]) -> usize {
    let mut rows: Vec<usize> = problems.iter().map(|p| p.row).collect();
    rows.sort_unstable();
    rows.dedup();
    rows.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use guanxi_domain::customer::Scale;

    #[test]
    fn headers_and_dates() {
        assert_eq!(normalise_header(" 金额（元） "), "金额");
        assert_eq!(normalise_header("客户名称*"), "客户名称");
        assert_eq!(normalise_header("Customer Code"), "customercode");
        assert_eq!(normalise_date("2024/5/1"), "2024-05-01");
        assert_eq!(normalise_date("2024年5月1日"), "2024-05-01");
        assert_eq!(normalise_date("2024-05-01 00:00:00"), "2024-05-01");
        assert_eq!(normalise_date("01/05/2024"), "01/05/2024");
        assert_eq!(parse_bool("是"), Ok(Some(true)));
        assert_eq!(parse_bool("maybe"), Err(Issue::NotAllowed));
    }

    #[test]
    fn vocabulary_labels() {
        let v = |s: &str| vocabulary_code(Some(s.into()), Scale::ALL, Scale::code, Scale::label);
        assert_eq!(v("中型"), Some("medium".into()));
        assert_eq!(v("中型（100–999人）"), Some("medium".into()));
        assert_eq!(v("Large"), Some("large".into()));
        assert_eq!(v("巨型"), Some("巨型".into()));
    }
}
