//! Ticket attachments (SPEC T1): what a file is is decided by its first
//! bytes, never by the name or the content type the uploader sent — and the
//! name's extension must agree with what the bytes are, so that a program
//! renamed `.pdf` is refused. Only the kinds agents exchange with customers
//! are allowed: images, PDF, Office documents and plain text.

use crate::validation::{self, Issue};

/// The longest file name kept (characters).
pub const MAX_NAME: usize = 200;

/// An allowed kind of file, as its bytes show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Png,
    Jpeg,
    Gif,
    Webp,
    Pdf,
    /// Word, Excel or PowerPoint 2007+ (a ZIP container; the extension says which).
    OfficeOpenXml,
    /// Word, Excel or PowerPoint 97–2003 (an OLE2 compound file).
    OfficeLegacy,
    /// UTF-8 text without control bytes (txt, csv, log, md).
    Text,
}

impl FileKind {
    /// The extensions a file of this kind may carry.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            FileKind::Png => &["png"],
            FileKind::Jpeg => &["jpg", "jpeg"],
            FileKind::Gif => &["gif"],
            FileKind::Webp => &["webp"],
            FileKind::Pdf => &["pdf"],
            FileKind::OfficeOpenXml => &["docx", "xlsx", "pptx"],
            FileKind::OfficeLegacy => &["doc", "xls", "ppt"],
            FileKind::Text => &["txt", "csv", "log", "md"],
        }
    }

    /// The content type a download is served with (by extension where the
    /// container holds several kinds of document).
    pub fn mime(self, extension: &str) -> &'static str {
        match (self, extension) {
            (FileKind::Png, _) => "image/png",
            (FileKind::Jpeg, _) => "image/jpeg",
            (FileKind::Gif, _) => "image/gif",
            (FileKind::Webp, _) => "image/webp",
            (FileKind::Pdf, _) => "application/pdf",
            (FileKind::OfficeOpenXml, "docx") => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            (FileKind::OfficeOpenXml, "xlsx") => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            (FileKind::OfficeOpenXml, _) => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            (FileKind::OfficeLegacy, "doc") => "application/msword",
            (FileKind::OfficeLegacy, "xls") => "application/vnd.ms-excel",
            (FileKind::OfficeLegacy, _) => "application/vnd.ms-powerpoint",
            (FileKind::Text, "csv") => "text/csv; charset=utf-8",
            (FileKind::Text, _) => "text/plain; charset=utf-8",
        }
    }

    /// Whether the file is an image (shown as one in the history).
    pub fn is_image(self) -> bool {
        matches!(self, FileKind::Png | FileKind::Jpeg | FileKind::Gif | FileKind::Webp)
    }
}

/// What the first bytes of a file say it is; `None` for anything not allowed.
pub fn sniff(bytes: &[u8]) -> Option<FileKind> {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if starts(b"\x89PNG\r\n\x1a\n") {
        Some(FileKind::Png)
    } else if starts(&[0xFF, 0xD8, 0xFF]) {
        Some(FileKind::Jpeg)
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Some(FileKind::Gif)
    } else if bytes.len() >= 12 && starts(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some(FileKind::Webp)
    } else if starts(b"%PDF-") {
        Some(FileKind::Pdf)
    } else if starts(b"PK\x03\x04") {
        // Every Office Open XML package names its parts list; a plain ZIP
        // (or a JAR, an APK) does not carry one near its start.
        let head = &bytes[..bytes.len().min(64 * 1024)];
        contains(head, b"[Content_Types].xml").then_some(FileKind::OfficeOpenXml)
    } else if starts(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        Some(FileKind::OfficeLegacy)
    } else if is_text(bytes) {
        Some(FileKind::Text)
    } else {
        None
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// UTF-8 (a BOM allowed) without NUL or other control bytes than tab,
/// line feed, carriage return and form feed. A multi-byte character cut
/// by the sample's end still counts as text.
fn is_text(bytes: &[u8]) -> bool {
    if bytes.is_empty() {
        return false;
    }
    let sample = &bytes[..bytes.len().min(64 * 1024)];
    let valid = match std::str::from_utf8(sample) {
        Ok(s) => s,
        Err(e) if e.error_len().is_none() && sample.len() < bytes.len() => {
            // Cut mid-character by the sample boundary only.
            match std::str::from_utf8(&sample[..e.valid_up_to()]) {
                Ok(s) => s,
                Err(_) => return false,
            }
        }
        Err(_) => return false,
    };
    !valid.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{c}'))
}

/// The lower-case extension of a file name ("" when none).
pub fn extension(name: &str) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext.to_lowercase(),
        _ => String::new(),
    }
}

/// The file name as shown and offered on download: the last path segment
/// of what the browser sent, without control characters, at most
/// [`MAX_NAME`] characters. It never becomes part of a path on disk.
pub fn parse_file_name(raw: &str) -> Result<String, Issue> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last.chars().filter(|c| !c.is_control()).collect();
    let name = validation::text(&cleaned, MAX_NAME, false)?;
    if name.is_empty() || name.trim_matches('.').is_empty() { Err(Issue::Required) } else { Ok(name) }
}

/// A file accepted for storing: its kind and its extension agree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedFile {
    pub name: String,
    pub kind: FileKind,
    pub extension: String,
    pub size: u64,
}

impl CheckedFile {
    pub fn mime(&self) -> &'static str {
        self.kind.mime(&self.extension)
    }
}

/// Checks an uploaded file: a name, a size within `max_bytes`, bytes of an
/// allowed kind, and an extension of that kind.
pub fn check(raw_name: &str, bytes: &[u8], max_bytes: u64) -> Result<CheckedFile, Issue> {
    let name = parse_file_name(raw_name)?;
    let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if size > max_bytes {
        return Err(Issue::FileTooLarge { max_bytes });
    }
    if bytes.is_empty() {
        return Err(Issue::Required);
    }
    let kind = sniff(bytes).ok_or(Issue::FileType)?;
    let extension = extension(&name);
    if !kind.extensions().contains(&extension.as_str()) {
        return Err(Issue::FileType);
    }
    Ok(CheckedFile { name, kind, extension, size })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn kinds_come_from_the_bytes() {
        assert_eq!(sniff(PNG), Some(FileKind::Png));
        assert_eq!(sniff(b"%PDF-1.7\n"), Some(FileKind::Pdf));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(FileKind::Jpeg));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(FileKind::Webp));
        assert_eq!(sniff(b"PK\x03\x04....[Content_Types].xml"), Some(FileKind::OfficeOpenXml));
        assert_eq!(sniff(b"PK\x03\x04....classes.dex"), None);
        assert_eq!(sniff("客户来电记录\n第二行".as_bytes()), Some(FileKind::Text));
        assert_eq!(sniff(b"MZ\x90\0\x03\0\0\0"), None, "a Windows program");
        assert_eq!(sniff(b"\x7fELF\x02\x01"), None);
        assert_eq!(sniff(b"text with a \0 NUL"), None);
    }

    #[test]
    fn the_extension_must_agree_with_the_bytes() {
        assert_eq!(check("截图.PNG", PNG, 100).unwrap().mime(), "image/png");
        assert_eq!(check("invoice.pdf", PNG, 100), Err(Issue::FileType));
        assert_eq!(check("setup.pdf", b"MZ\x90\0", 100), Err(Issue::FileType));
        assert_eq!(check("notes.txt", b"hello", 100).unwrap().kind, FileKind::Text);
        assert_eq!(check("run.sh", b"#!/bin/sh\necho", 100), Err(Issue::FileType));
        assert_eq!(check("x.png", PNG, 4), Err(Issue::FileTooLarge { max_bytes: 4 }));
        assert_eq!(check("empty.txt", b"", 4), Err(Issue::Required));
    }

    #[test]
    fn names_lose_their_path() {
        assert_eq!(parse_file_name("C:\\Users\\王\\发票.pdf").unwrap(), "发票.pdf");
        assert_eq!(parse_file_name("../../etc/passwd").unwrap(), "passwd");
        assert_eq!(parse_file_name("a/.."), Err(Issue::Required));
        assert_eq!(parse_file_name(""), Err(Issue::Required));
    }

    proptest! {
        /// Whatever a name is, the kept name has no path separator or control character.
        #[test]
        fn kept_names_are_plain(raw in "\\PC{0,300}") {
            if let Ok(n) = parse_file_name(&raw) {
                prop_assert!(!n.contains('/') && !n.contains('\\'));
                prop_assert!(!n.chars().any(char::is_control));
                prop_assert!(n.chars().count() <= MAX_NAME);
            }
        }

        /// Nothing above the limit is ever accepted.
        #[test]
        fn oversize_is_refused(len in 1usize..2048, max in 0u64..2048) {
            let bytes = vec![b'a'; len];
            let r = check("a.txt", &bytes, max);
            prop_assert_eq!(r.is_ok(), u64::try_from(len).unwrap() <= max);
        }
    }
}
