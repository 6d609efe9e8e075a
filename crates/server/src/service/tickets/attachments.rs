//! Files on a ticket (SPEC T1): checked before anything is written (size
//! within `GUANXI_ATTACHMENT_MAX_MB`, bytes of an allowed kind that agrees
//! with the name — see [`guanxi_domain::ticket::attachment`]), stored in the
//! data directory under their SHA-256 (the uploader's name is only a column,
//! never a path), attached to a reply or note in the transaction that
//! writes it, and read back only by those who may see the ticket.

use std::path::{Path, PathBuf};

use guanxi_domain::Issue;
use guanxi_domain::ticket::attachment::{self, CheckedFile};
use guanxi_store::tickets::{self as store, TicketAttachment};
use guanxi_store::users::User;
use guanxi_store::{Conn, audit};
use jiff::Timestamp;
use sha2::{Digest, Sha256};

use super::can_see;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// At most this many files come with one reply or note.
pub const MAX_FILES: usize = 10;

/// A file as the client sent it.
#[derive(Debug, Clone)]
pub struct Upload {
    pub name: String,
    pub bytes: axum::body::Bytes,
}

/// A file that passed every check, with its content address.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub file: CheckedFile,
    pub sha256: String,
    bytes: axum::body::Bytes,
}

/// Checks every file; the first bad one refuses them all (field `file`).
pub fn check_all(uploads: Vec<Upload>, max_bytes: u64) -> AppResult<Vec<Accepted>> {
    if uploads.len() > MAX_FILES {
        return Err(AppError::field("file", Issue::TooMany { max: MAX_FILES }));
    }
    uploads
        .into_iter()
        .map(|u| {
            let file = attachment::check(&u.name, &u.bytes, max_bytes).map_err(|i| AppError::field("file", i))?;
            let sha256 = format!("{:x}", Sha256::digest(&u.bytes));
            Ok(Accepted { file, sha256, bytes: u.bytes })
        })
        .collect()
}

fn root(state: &AppState) -> PathBuf {
    state.config.data_dir.join("attachments")
}

/// Where the bytes of a content address live: `attachments/ab/abcdef…`.
fn path_of(root: &Path, sha256: &str) -> PathBuf {
    root.join(&sha256[..2]).join(sha256)
}

/// Writes the files not yet on disk (synced, then renamed into place, so
/// that a file under its address is always whole). Returns the addresses
/// this call created, for [`forget`] should the database refuse.
pub async fn write_files(state: &AppState, files: &[Accepted]) -> AppResult<Vec<String>> {
    let root = root(state);
    let files: Vec<(String, axum::body::Bytes)> = files.iter().map(|f| (f.sha256.clone(), f.bytes.clone())).collect();
    tokio::task::spawn_blocking(move || -> std::io::Result<Vec<String>> {
        use std::io::Write;
        let mut created = Vec::new();
        for (sha, bytes) in files {
            let path = path_of(&root, &sha);
            if path.exists() {
                continue;
            }
            let dir = path.parent().unwrap_or(&root);
            std::fs::create_dir_all(dir)?;
            let tmp = dir.join(format!(".{sha}.{}.tmp", std::process::id()));
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            created.push(sha);
        }
        Ok(created)
    })
    .await
    .map_err(|e| AppError::Internal(format!("attachment writer: {e}")))?
    .map_err(|e| AppError::Internal(format!("writing an attachment: {e}")))
}

/// Removes files this request wrote when no row came to hold them.
pub async fn forget(state: &AppState, created: Vec<String>) {
    if created.is_empty() {
        return;
    }
    let root = root(state);
    for sha in created {
        let key = sha.clone();
        let used = state.db.read(move |c| store::attachment_bytes_used(c, &key)).await;
        if matches!(used, Ok(false)) {
            let _ = tokio::fs::remove_file(path_of(&root, &sha)).await;
        }
    }
}

/// Inserts the rows of files already written, on a message of the ticket.
pub(crate) fn insert_rows(
    c: &mut Conn,
    ticket_id: i64,
    message_id: i64,
    files: &[Accepted],
    actor: i64,
    now: Timestamp,
) -> guanxi_store::Result<Vec<serde_json::Value>> {
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        let id = store::add_attachment(
            c,
            &store::NewAttachment {
                ticket_id,
                message_id: Some(message_id),
                file_name: &f.file.name,
                content_type: f.file.mime(),
                size_bytes: i64::try_from(f.file.size).unwrap_or(i64::MAX),
                sha256: &f.sha256,
                uploaded_by: Some(actor),
                uploaded_at: now,
            },
        )?;
        out.push(
            serde_json::json!({"id": id, "name": f.file.name, "size": f.file.size, "content_type": f.file.mime()}),
        );
    }
    Ok(out)
}

/// An attachment and its bytes, for a user who may see its ticket (404
/// otherwise, also for another ticket's attachment). Each download is
/// audited: files carry personal data.
pub async fn download(
    state: &AppState,
    user: &User,
    ticket_id: i64,
    id: i64,
    ip: Option<String>,
) -> AppResult<(TicketAttachment, Vec<u8>)> {
    let reader = user.clone();
    let a = state
        .db
        .read(move |c| {
            let t = match store::get(c, ticket_id) {
                Err(guanxi_store::StoreError::NotFound) => return Ok(None),
                other => other?,
            };
            if !can_see(c, &reader, &t)? {
                return Ok(None);
            }
            match store::attachment_of(c, ticket_id, id) {
                Err(guanxi_store::StoreError::NotFound) => Ok(None),
                other => other.map(|a| Some((a, t.number))),
            }
        })
        .await?;
    let Some((a, number)) = a else { return Err(AppError::NotFound) };
    let bytes = tokio::fs::read(path_of(&root(state), &a.sha256))
        .await
        .map_err(|e| AppError::Internal(format!("attachment {} ({}): {e}", a.id, a.sha256)))?;
    let now = state.clock.now();
    let (actor, aid, detail) = (user.id, a.id, format!("{number} {}", a.file_name));
    state
        .db
        .write(move |c| {
            audit::record(
                c,
                now,
                &audit::AuditEntry {
                    actor_id: Some(actor),
                    action: "ticket.attachment_download",
                    entity: "ticket_attachment",
                    entity_id: Some(aid),
                    detail,
                    ip: ip.as_deref(),
                },
            )
        })
        .await?;
    Ok((a, bytes))
}

/// `attachment; filename="…"; filename*=UTF-8''…` (RFC 6266/5987): an
/// ASCII fallback for old clients, the real name percent-encoded.
pub fn content_disposition(name: &str) -> String {
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    let mut encoded = String::with_capacity(name.len() * 3);
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// The download: the content type the bytes showed, always as an
/// attachment (never rendered inline in the application's origin).
pub fn response(a: &TicketAttachment, bytes: Vec<u8>) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    use axum::response::IntoResponse;
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&a.content_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    if let Ok(v) = HeaderValue::from_str(&content_disposition(&a.file_name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    r
}
