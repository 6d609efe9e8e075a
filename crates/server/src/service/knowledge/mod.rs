//! The knowledge base (SPEC K1): writing articles (every save a new
//! version), listing, ranked search, and suggestions for a ticket from its
//! text. Scripts (K2, K3) are in [`scripts`].

pub mod scripts;

use guanxi_domain::knowledge::ArticleCategory;
use guanxi_domain::{Issue, ValidationErrors};
use guanxi_store::knowledge::{self as store, Article, ArticleInput, ArticleVersion, Hit};
use guanxi_store::users::{self as store_users, User};
use guanxi_store::{Conn, audit};
use jiff::civil::Date;
use serde::Deserialize;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

pub const MAX_TITLE: usize = 200;
pub const MAX_BODY: usize = 20_000;
pub const MAX_TAGS: usize = 10;
pub const MAX_TAG: usize = 20;
/// A search query is cut to this many characters.
pub const MAX_QUERY: usize = 100;

/// An article as a form or the API sends it.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticleForm {
    pub title: String,
    pub body: String,
    /// `solution`, `case`, `sop`, `policy`, `product` or `guide`.
    pub category: String,
    /// Tags, comma- or space-separated.
    #[serde(default)]
    pub tags: String,
    /// The member of staff who keeps it up to date.
    #[serde(default)]
    pub owner_id: Option<i64>,
    /// The date by which it should be reviewed (YYYY-MM-DD).
    #[serde(default)]
    pub review_on: Option<String>,
}

/// Checks an article's fields (all problems at once).
pub fn parse_article(f: &ArticleForm) -> Result<ArticleInput, ValidationErrors> {
    let mut e = ValidationErrors::new();
    let text = |e: &mut ValidationErrors, field: &str, raw: &str, max: usize| {
        let v = raw.trim();
        if v.is_empty() {
            e.add(field, Issue::Required);
        } else if v.chars().count() > max {
            e.add(field, Issue::TooLong { max });
        }
        v.to_string()
    };
    let title = text(&mut e, "title", &f.title, MAX_TITLE);
    let body = text(&mut e, "body", &f.body, MAX_BODY);
    let category = e.check("category", ArticleCategory::parse(&f.category)).map(|c| c.code().to_string());
    let mut tags: Vec<String> = Vec::new();
    for t in f.tags.split(|c: char| c == ',' || c == '，' || c.is_whitespace()).filter(|t| !t.is_empty()) {
        if t.chars().count() > MAX_TAG {
            e.add("tags", Issue::TooLong { max: MAX_TAG });
            break;
        }
        if !tags.iter().any(|x| x == t) {
            tags.push(t.to_string());
        }
    }
    if tags.len() > MAX_TAGS {
        e.add("tags", Issue::TooMany { max: MAX_TAGS });
    }
    let review_on = match f.review_on.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => e.check("review_on", raw.parse::<Date>().map_err(|_| Issue::InvalidDate)),
    };
    match (e.is_empty(), category) {
        (true, Some(category)) => Ok(ArticleInput { title, body, category, tags, owner_id: f.owner_id, review_on }),
        _ => Err(e),
    }
}

fn may_write(user: &User) -> AppResult<()> {
    if user.role.can_edit_customers() { Ok(()) } else { Err(AppError::Forbidden) }
}

fn check_owner(c: &mut Conn, owner: Option<i64>) -> guanxi_store::Result<()> {
    if let Some(id) = owner {
        match store_users::get(c, id) {
            Ok(u) if u.active => {}
            Ok(_) | Err(guanxi_store::StoreError::NotFound) => {
                return Err(guanxi_store::StoreError::Invalid(ValidationErrors::single("owner_id", Issue::Unknown)));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn audit_article(
    c: &mut Conn,
    user: &User,
    action: &str,
    id: i64,
    title: &str,
    now: jiff::Timestamp,
    ip: Option<&str>,
) -> guanxi_store::Result<()> {
    audit::record(
        c,
        now,
        &audit::AuditEntry {
            actor_id: Some(user.id),
            action,
            entity: "kb_article",
            entity_id: Some(id),
            detail: title.to_string(),
            ip,
        },
    )
}

pub async fn create(state: &AppState, user: &User, form: &ArticleForm, ip: Option<String>) -> AppResult<Article> {
    may_write(user)?;
    let mut input = parse_article(form)?;
    if input.owner_id.is_none() {
        input.owner_id = Some(user.id);
    }
    let now = state.clock.now();
    let user = user.clone();
    Ok(state
        .db
        .write(move |c| {
            check_owner(c, input.owner_id)?;
            let id = store::insert(c, &input, Some(user.id), now)?;
            audit_article(c, &user, "kb_article.create", id, &input.title, now, ip.as_deref())?;
            store::get(c, id)
        })
        .await?)
}

pub async fn update(
    state: &AppState,
    user: &User,
    id: i64,
    form: &ArticleForm,
    ip: Option<String>,
) -> AppResult<Article> {
    may_write(user)?;
    let input = parse_article(form)?;
    let now = state.clock.now();
    let user = user.clone();
    Ok(state
        .db
        .write(move |c| {
            store::get(c, id)?;
            check_owner(c, input.owner_id)?;
            store::update(c, id, &input, Some(user.id), now)?;
            audit_article(c, &user, "kb_article.update", id, &input.title, now, ip.as_deref())?;
            store::get(c, id)
        })
        .await?)
}

pub async fn get(state: &AppState, id: i64) -> AppResult<(Article, Vec<ArticleVersion>)> {
    Ok(state.db.read(move |c| Ok((store::get(c, id)?, store::versions(c, id, 50)?))).await?)
}

/// A page of articles, newest first.
pub async fn list(
    state: &AppState,
    category: Option<String>,
    stale: bool,
    before: Option<i64>,
    limit: i64,
) -> AppResult<Vec<Article>> {
    let stale_by = stale.then(|| state.today());
    Ok(state.db.read(move |c| store::list(c, category.as_deref(), stale_by, before, limit)).await?)
}

/// The query as searched: trimmed and cut to [`MAX_QUERY`] characters.
pub fn clean_query(q: &str) -> String {
    q.trim().chars().take(MAX_QUERY).collect()
}

pub async fn search(state: &AppState, q: &str, limit: i64) -> AppResult<Vec<Hit>> {
    let q = clean_query(q);
    Ok(state.db.read(move |c| store::search(c, &q, limit)).await?)
}

/// Articles that may answer a ticket (one the user may see).
pub async fn suggest_for_ticket(state: &AppState, user: &User, ticket_id: i64, limit: i64) -> AppResult<Vec<Hit>> {
    let t = crate::service::tickets::get(state, user, ticket_id).await?;
    let text = format!("{} {}", t.subject, t.description);
    Ok(state.db.read(move |c| store::suggest(c, &text, limit)).await?)
}

/// A few lines of the body around the first query term, for result lists.
pub fn snippet(body: &str, q: &str, width: usize) -> String {
    let chars: Vec<char> = body.chars().collect();
    let at = guanxi_domain::knowledge::search::query_terms(q)
        .iter()
        .filter_map(|t| body.find(t.as_str()))
        .min()
        .map_or(0, |byte| body[..byte].chars().count());
    let start = at.saturating_sub(width / 4);
    let end = (start + width).min(chars.len());
    let mut s: String = chars[start..end].iter().collect();
    if start > 0 {
        s.insert(0, '…');
    }
    if end < chars.len() {
        s.push('…');
    }
    s
}
