//! Reading a file into rows of text: CSV (UTF-8, with or without a BOM, or
//! GB18030 as a Chinese-locale Excel saves it; comma, semicolon or tab
//! separated) and Excel .xlsx (the first worksheet).

use std::borrow::Cow;

/// The formats an import reads and an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    Csv,
    Xlsx,
}

pub const XLSX_MIME: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
pub const CSV_MIME: &str = "text/csv; charset=utf-8";

impl FileFormat {
    /// By a file name's extension (`.csv`, `.txt`, `.xlsx`).
    pub fn from_path(path: &std::path::Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" | "txt" | "tsv" => Some(Self::Csv),
            "xlsx" => Some(Self::Xlsx),
            _ => None,
        }
    }

    /// By a request's `Content-Type`, else by the content itself (an
    /// .xlsx file is a zip archive).
    pub fn detect(content_type: Option<&str>, bytes: &[u8]) -> Option<Self> {
        let ct = content_type.unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match ct.as_str() {
            XLSX_MIME => Some(Self::Xlsx),
            "text/csv" | "application/csv" | "text/plain" | "text/tab-separated-values" => Some(Self::Csv),
            "" | "application/octet-stream" => Some(Self::sniff(bytes)),
            _ => None,
        }
    }

    /// Of an uploaded file: by its name's extension when it has one (a
    /// browser may send a .csv as `application/vnd.ms-excel`), else by its
    /// `Content-Type` and content.
    pub fn of_upload(file_name: &str, content_type: Option<&str>, bytes: &[u8]) -> Option<Self> {
        let path = std::path::Path::new(file_name);
        if path.extension().is_some() { Self::from_path(path) } else { Self::detect(content_type, bytes) }
    }

    pub fn sniff(bytes: &[u8]) -> Self {
        if bytes.starts_with(b"PK\x03\x04") { Self::Xlsx } else { Self::Csv }
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Xlsx => "xlsx",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "csv" => Some(Self::Csv),
            "xlsx" | "excel" => Some(Self::Xlsx),
            _ => None,
        }
    }
}

/// A data row: its number as a spreadsheet shows it (the header is row 1
/// when it is the first line) and its cells in column order.
#[derive(Debug, Clone)]
pub struct Row {
    pub line: usize,
    pub cells: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Table {
    pub headers: Vec<String>,
    /// Spreadsheet column index of the first column (0 = A).
    pub first_column: usize,
    pub rows: Vec<Row>,
}

impl Table {
    /// The column's letters as Excel shows them: A, B, …, Z, AA, …
    pub fn column_letters(&self, index: usize) -> String {
        let mut n = self.first_column + index + 1;
        let mut s = Vec::new();
        while n > 0 {
            let rem = (n - 1) % 26;
            s.push(char::from(b'A' + u8::try_from(rem).unwrap_or(0)));
            n = (n - 1) / 26;
        }
        s.iter().rev().collect()
    }
}

/// Why a file could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// The CSV reader's complaint.
    Csv(String),
    /// The Excel reader's complaint.
    Excel(String),
    /// More data rows than the caller accepts.
    TooManyRows(usize),
}

impl ReadError {
    pub fn message(&self, lang: guanxi_domain::Lang) -> String {
        use guanxi_domain::Lang;
        match (self, lang) {
            (Self::Csv(e), Lang::Zh) => format!("CSV 文件无法读取：{e}"),
            (Self::Csv(e), Lang::En) => format!("CSV: {e}"),
            (Self::Excel(e), Lang::Zh) => format!("Excel 文件无法读取：{e}"),
            (Self::Excel(e), Lang::En) => format!("Excel: {e}"),
            (Self::TooManyRows(n), Lang::Zh) => format!("超过 {n} 行，请拆分文件后再导入"),
            (Self::TooManyRows(n), Lang::En) => format!("more than {n} rows; split the file"),
        }
    }
}

pub fn read(format: FileFormat, bytes: &[u8], max_rows: usize) -> Result<Table, ReadError> {
    let mut table = match format {
        FileFormat::Csv => read_csv(bytes, max_rows)?,
        FileFormat::Xlsx => read_xlsx(bytes, max_rows)?,
    };
    // Rows where every cell is blank are not data (formatting, trailing lines).
    table.rows.retain(|r| r.cells.iter().any(|c| !c.trim().is_empty()));
    Ok(table)
}

/// UTF-8 (a BOM is dropped); anything that is not UTF-8 is read as GB18030,
/// the encoding of a CSV saved by Excel on a Chinese Windows.
fn decode(bytes: &[u8]) -> Cow<'_, str> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => encoding_rs::GB18030.decode(bytes).0,
    }
}

fn read_csv(bytes: &[u8], max_rows: usize) -> Result<Table, ReadError> {
    let text = decode(bytes);
    let first_line = text.lines().next().unwrap_or("");
    let count = |ch: char| first_line.matches(ch).count();
    let delimiter = [(b',', count(',')), (b'\t', count('\t')), (b';', count(';'))]
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .filter(|(_, n)| *n > 0)
        .map_or(b',', |(d, _)| d);
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(text.as_bytes());
    let mut table = Table::default();
    // The row number a spreadsheet shows: blank lines (which the reader
    // skips) are rows there, line breaks inside a quoted cell are not.
    let (mut row, mut last_line) = (0usize, 0u64);
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| ReadError::Csv(e.to_string()))?;
        let start = record.position().map_or(last_line + 1, csv::Position::line);
        row += 1 + usize::try_from(start.saturating_sub(last_line + 1)).unwrap_or(0);
        let breaks: usize = record.iter().map(|f| f.matches('\n').count()).sum();
        last_line = start + breaks as u64;
        let cells: Vec<String> = record.iter().map(unescape_formula).collect();
        if i == 0 {
            table.headers = cells;
        } else {
            if table.rows.len() >= max_rows {
                return Err(ReadError::TooManyRows(max_rows));
            }
            table.rows.push(Row { line: row, cells });
        }
    }
    Ok(table)
}

/// An export protects cells that a spreadsheet would run as a formula with a
/// leading apostrophe; reading drops it again.
fn unescape_formula(cell: &str) -> String {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest.to_string(),
        _ => cell.to_string(),
    }
}

fn read_xlsx(bytes: &[u8], max_rows: usize) -> Result<Table, ReadError> {
    use calamine::Reader as _;
    let mut book: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes))
        .map_err(|e: calamine::XlsxError| ReadError::Excel(e.to_string()))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| ReadError::Excel("the workbook has no worksheet".into()))?
        .map_err(|e| ReadError::Excel(e.to_string()))?;
    let (first_row, first_col) = range.start().unwrap_or((0, 0));
    let mut table = Table { first_column: first_col as usize, ..Table::default() };
    for (i, cells) in range.rows().enumerate() {
        let cells: Vec<String> = cells.iter().map(cell_text).collect();
        if i == 0 {
            table.headers = cells;
        } else {
            if table.rows.len() >= max_rows {
                return Err(ReadError::TooManyRows(max_rows));
            }
            table.rows.push(Row { line: first_row as usize + i + 1, cells });
        }
    }
    Ok(table)
}

/// A cell as the text a person sees: whole numbers without `.0` (phone
/// numbers typed as numbers), dates as `YYYY-MM-DD`.
fn cell_text(cell: &calamine::Data) -> String {
    use calamine::Data;
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) => {
            let (y, m, d, hh, mm, ss, _) = dt.to_ymd_hms_milli();
            if (hh, mm, ss) == (0, 0, 0) {
                format!("{y:04}-{m:02}-{d:02}")
            } else {
                format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}")
            }
        }
        Data::DateTimeIso(s) => s.strip_suffix("T00:00:00").unwrap_or(s).to_string(),
        Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#{e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_bom_gbk_and_tabs() {
        let t = read(FileFormat::Csv, "\u{feff}name,notes\n甲,\"a\nb\"\n\n,\n乙,139\n".as_bytes(), 10).unwrap();
        assert_eq!(t.headers, vec!["name", "notes"]);
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.rows[0].cells, vec!["甲", "a\nb"]);
        assert_eq!(t.rows[1].line, 5);
        let (gbk, _, _) = encoding_rs::GB18030.encode("客户名称\t联系电话\n北京星辰\t13812345678\n");
        let t = read(FileFormat::Csv, &gbk, 10).unwrap();
        assert_eq!(t.headers, vec!["客户名称", "联系电话"]);
        assert_eq!(t.rows[0].cells, vec!["北京星辰", "13812345678"]);
        assert_eq!(read(FileFormat::Csv, b"a\n1\n2\n3\n", 2).unwrap_err(), ReadError::TooManyRows(2));
    }

    #[test]
    fn formula_escapes_are_dropped() {
        assert_eq!(unescape_formula("'=1+1"), "=1+1");
        assert_eq!(unescape_formula("'abc"), "'abc");
    }

    #[test]
    fn column_letters() {
        let t = Table::default();
        assert_eq!(t.column_letters(0), "A");
        assert_eq!(t.column_letters(25), "Z");
        assert_eq!(t.column_letters(26), "AA");
    }

    #[test]
    fn formats() {
        assert_eq!(FileFormat::detect(Some("text/csv; charset=utf-8"), b""), Some(FileFormat::Csv));
        assert_eq!(FileFormat::detect(None, b"PK\x03\x04"), Some(FileFormat::Xlsx));
        assert_eq!(FileFormat::detect(Some("image/png"), b""), None);
        assert_eq!(FileFormat::of_upload("客户.CSV", Some("application/vnd.ms-excel"), b""), Some(FileFormat::Csv));
        assert_eq!(FileFormat::of_upload("客户.xls", None, b""), None);
        assert_eq!(FileFormat::of_upload("export", None, b"PK\x03\x04"), Some(FileFormat::Xlsx));
    }
}
