//! The knowledge base and the script library (SPEC K1–K3): articles with
//! every version, their term index (terms and BM25 impacts from
//! `guanxi_domain::knowledge::search`), ranked search, and scripts with the
//! record of their use.
//!
//! A search reads, for each of the query's rarest terms, at most
//! [`PER_TERM`] postings in impact order (an index range), adds
//! `idf × impact` per article and keeps the best: its cost does not grow
//! with the number of articles.

use std::collections::{BTreeMap, HashMap};

use guanxi_domain::knowledge::search::{self as terms, MAX_QUERY_TERMS};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;

use crate::sql::{Conn, Row, Value};
use crate::{Result, args};

/// Postings read per query term.
const PER_TERM: i64 = 1_000;
/// Postings read per term when suggesting articles for a ticket's text.
const PER_TERM_SUGGEST: i64 = 200;
/// Terms of a ticket's text used to suggest articles.
const SUGGEST_TERMS: usize = 24;

#[derive(Debug, Clone, Serialize)]
pub struct Article {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub category: String,
    pub tags: Vec<String>,
    pub owner_id: Option<i64>,
    pub owner_name: Option<String>,
    pub version: i64,
    pub review_on: Option<Date>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const ARTICLE_COLS: &str = "a.id, a.title, a.body, a.category, a.tags, a.owner_id, u.name, a.version, a.review_on,
    a.created_at, a.updated_at FROM kb_articles a LEFT JOIN users u ON u.id = a.owner_id";

fn article(r: &Row) -> Result<Article> {
    let tags: String = r.get(4)?;
    Ok(Article {
        id: r.get(0)?,
        title: r.get(1)?,
        body: r.get(2)?,
        category: r.get(3)?,
        tags: tags.split(',').filter(|t| !t.is_empty()).map(str::to_string).collect(),
        owner_id: r.get(5)?,
        owner_name: r.get(6)?,
        version: r.get(7)?,
        review_on: r.get(8)?,
        created_at: r.get(9)?,
        updated_at: r.get(10)?,
    })
}

/// An article's content as written (already validated).
#[derive(Debug, Clone)]
pub struct ArticleInput {
    pub title: String,
    pub body: String,
    pub category: String,
    pub tags: Vec<String>,
    pub owner_id: Option<i64>,
    pub review_on: Option<Date>,
}

fn add_version(
    c: &mut Conn,
    id: i64,
    version: i64,
    a: &ArticleInput,
    editor: Option<i64>,
    now: Timestamp,
) -> Result<()> {
    c.execute(
        "INSERT INTO kb_article_versions (article_id, version, title, body, category, tags, editor_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        args![id, version, a.title.as_str(), a.body.as_str(), a.category.as_str(), a.tags.join(","), editor, now],
    )?;
    Ok(())
}

pub fn insert(c: &mut Conn, a: &ArticleInput, editor: Option<i64>, now: Timestamp) -> Result<i64> {
    let id: i64 = c.insert_id(
        "INSERT INTO kb_articles (title, body, category, tags, owner_id, version, review_on, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $7)",
        args![a.title.as_str(), a.body.as_str(), a.category.as_str(), a.tags.join(","), a.owner_id, a.review_on, now],
    )?;
    add_version(c, id, 1, a, editor, now)?;
    index(c, &[(id, a.title.as_str(), a.body.as_str())], 1)?;
    Ok(id)
}

/// Writes a new version of an article; returns its number.
pub fn update(c: &mut Conn, id: i64, a: &ArticleInput, editor: Option<i64>, now: Timestamp) -> Result<i64> {
    let version: i64 = c.scalar(
        "UPDATE kb_articles SET title = $2, body = $3, category = $4, tags = $5, owner_id = $6, review_on = $7,
         version = version + 1, updated_at = $8 WHERE id = $1 RETURNING version",
        args![
            id,
            a.title.as_str(),
            a.body.as_str(),
            a.category.as_str(),
            a.tags.join(","),
            a.owner_id,
            a.review_on,
            now
        ],
    )?;
    add_version(c, id, version, a, editor, now)?;
    forget(c, id)?;
    index(c, &[(id, a.title.as_str(), a.body.as_str())], 0)?;
    Ok(version)
}

/// Removes an article's postings, keeping the term counts right.
fn forget(c: &mut Conn, id: i64) -> Result<()> {
    let gone = c.query("DELETE FROM kb_terms WHERE article_id = $1 RETURNING term", args![id])?;
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    for r in gone {
        *counts.entry(r.get(0)?).or_default() -= 1;
    }
    add_counts(c, counts)
}

fn add_counts(c: &mut Conn, counts: BTreeMap<String, i64>) -> Result<()> {
    let mut v: Vec<Value> = Vec::with_capacity(counts.len() * 2);
    for (t, n) in counts.into_iter().filter(|(_, n)| *n != 0) {
        v.push(t.into());
        v.push(n.into());
    }
    crate::sql::insert_rows(
        c,
        "INSERT INTO kb_term_counts (term, n) VALUES",
        2,
        v,
        "ON CONFLICT (term) DO UPDATE SET n = kb_term_counts.n + excluded.n",
    )
}

/// Indexes articles' terms; `new_articles` is how many of them are new
/// (counted under the empty term).
fn index(c: &mut Conn, articles: &[(i64, &str, &str)], new_articles: i64) -> Result<()> {
    let mut rows: Vec<(String, i64, i64)> = Vec::new();
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    for (id, title, body) in articles {
        for (t, impact) in terms::article_impacts(title, body) {
            *counts.entry(t.clone()).or_default() += 1;
            rows.push((t, *id, impact));
        }
    }
    rows.sort_unstable();
    let mut v: Vec<Value> = Vec::with_capacity(rows.len() * 3);
    for (t, id, impact) in rows {
        v.push(t.into());
        v.push(id.into());
        v.push(impact.into());
    }
    crate::sql::insert_rows(c, "INSERT INTO kb_terms (term, article_id, impact) VALUES", 3, v, "")?;
    if new_articles != 0 {
        *counts.entry(String::new()).or_default() += new_articles;
    }
    add_counts(c, counts)
}

/// Inserts many articles at once (demo data, benchmarks, tests) as their
/// first version; returns their ids in order.
pub fn insert_many(c: &mut Conn, articles: &[ArticleInput], editor: Option<i64>, now: Timestamp) -> Result<Vec<i64>> {
    let mut v: Vec<Value> = Vec::with_capacity(articles.len() * 9);
    for a in articles {
        v.extend([
            a.title.as_str().into(),
            a.body.as_str().into(),
            a.category.as_str().into(),
            a.tags.join(",").into(),
            a.owner_id.into(),
            1i64.into(),
            a.review_on.into(),
            now.into(),
            now.into(),
        ]);
    }
    let rows = crate::sql::insert_rows_returning(
        c,
        "INSERT INTO kb_articles (title, body, category, tags, owner_id, version, review_on, created_at, updated_at) VALUES",
        9,
        v,
        "RETURNING id",
    )?;
    // Identities are handed out in the order of the rows.
    let mut ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect::<Result<_>>()?;
    ids.sort_unstable();
    let mut versions: Vec<Value> = Vec::with_capacity(articles.len() * 8);
    for (id, a) in ids.iter().zip(articles) {
        versions.extend([
            (*id).into(),
            1i64.into(),
            a.title.as_str().into(),
            a.body.as_str().into(),
            a.category.as_str().into(),
            a.tags.join(",").into(),
            editor.into(),
            now.into(),
        ]);
    }
    crate::sql::insert_rows(
        c,
        "INSERT INTO kb_article_versions (article_id, version, title, body, category, tags, editor_id, created_at) VALUES",
        8,
        versions,
        "",
    )?;
    let texts: Vec<(i64, &str, &str)> =
        ids.iter().zip(articles).map(|(id, a)| (*id, a.title.as_str(), a.body.as_str())).collect();
    index(c, &texts, texts.len() as i64)?;
    Ok(ids)
}

pub fn get(c: &mut Conn, id: i64) -> Result<Article> {
    c.query_opt(&format!("SELECT {ARTICLE_COLS} WHERE a.id = $1"), args![id])?
        .as_ref()
        .map(article)
        .transpose()?
        .ok_or(crate::StoreError::NotFound)
}

/// Articles newest first, a page at a time (keyset on the id), optionally
/// of one category or only those due for review by `stale_by`.
pub fn list(
    c: &mut Conn,
    category: Option<&str>,
    stale_by: Option<Date>,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<Article>> {
    let mut cond = vec!["a.id < $1".to_string()];
    let mut p: Vec<Value> = vec![before_id.unwrap_or(i64::MAX).into()];
    if let Some(cat) = category {
        p.push(cat.into());
        cond.push(format!("a.category = ${}", p.len()));
    }
    if let Some(d) = stale_by {
        p.push(d.into());
        cond.push(format!("a.review_on <= ${}", p.len()));
    }
    p.push(limit.into());
    let sql = format!("SELECT {ARTICLE_COLS} WHERE {} ORDER BY a.id DESC LIMIT ${}", cond.join(" AND "), p.len());
    c.query(&sql, &p)?.iter().map(article).collect()
}

/// One version of an article, as listed in its history.
#[derive(Debug, Clone, Serialize)]
pub struct ArticleVersion {
    pub version: i64,
    pub title: String,
    pub editor_name: Option<String>,
    pub created_at: Timestamp,
}

pub fn versions(c: &mut Conn, id: i64, limit: i64) -> Result<Vec<ArticleVersion>> {
    c.query(
        "SELECT v.version, v.title, u.name, v.created_at FROM kb_article_versions v
         LEFT JOIN users u ON u.id = v.editor_id WHERE v.article_id = $1 ORDER BY v.version DESC LIMIT $2",
        args![id, limit],
    )?
    .iter()
    .map(|r| Ok(ArticleVersion { version: r.get(0)?, title: r.get(1)?, editor_name: r.get(2)?, created_at: r.get(3)? }))
    .collect()
}

/// An article found by a search, with its score.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub article: Article,
    pub score: f64,
}

/// Articles for a query, best first, at most `limit`.
pub fn search(c: &mut Conn, q: &str, limit: i64) -> Result<Vec<Hit>> {
    ranked(c, terms::query_terms(q), MAX_QUERY_TERMS, PER_TERM, limit)
}

/// Articles that may answer a ticket or complaint, from its text.
pub fn suggest(c: &mut Conn, text: &str, limit: i64) -> Result<Vec<Hit>> {
    ranked(c, terms::query_terms(text), SUGGEST_TERMS, PER_TERM_SUGGEST, limit)
}

fn ranked(c: &mut Conn, mut wanted: Vec<String>, max_terms: usize, per_term: i64, limit: i64) -> Result<Vec<Hit>> {
    wanted.truncate(200);
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    wanted.push(String::new());
    let marks: Vec<String> = (1..=wanted.len()).map(|i| format!("${i}")).collect();
    let args: Vec<Value> = wanted.iter().map(|t| Value::Text(t.clone())).collect();
    let counts: HashMap<String, i64> = c
        .query(&format!("SELECT term, n FROM kb_term_counts WHERE term IN ({})", marks.join(", ")), &args)?
        .iter()
        .map(|r| Ok((r.get(0)?, r.get(1)?)))
        .collect::<Result<_>>()?;
    let n = counts.get("").copied().unwrap_or(0);
    let mut held: Vec<(i64, String)> =
        wanted.into_iter().filter(|t| !t.is_empty()).filter_map(|t| counts.get(&t).map(|df| (*df, t))).collect();
    held.retain(|(df, _)| *df > 0);
    held.sort();
    held.truncate(max_terms);
    let mut scores: HashMap<i64, f64> = HashMap::new();
    for (df, t) in &held {
        let idf = terms::idf(n, *df);
        for r in c.query(
            "SELECT article_id, impact FROM kb_terms WHERE term = $1 ORDER BY impact DESC, article_id LIMIT $2",
            args![t.as_str(), per_term],
        )? {
            let impact: i64 = r.get(1)?;
            *scores.entry(r.get(0)?).or_default() += idf * impact as f64 / terms::IMPACT_SCALE;
        }
    }
    let mut best: Vec<(i64, f64)> = scores.into_iter().collect();
    best.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.0.cmp(&a.0)));
    best.truncate(usize::try_from(limit).unwrap_or(0));
    if best.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (1..=best.len()).map(|i| format!("${i}")).collect();
    let ids: Vec<Value> = best.iter().map(|(id, _)| Value::from(*id)).collect();
    let mut found: HashMap<i64, Article> = c
        .query(&format!("SELECT {ARTICLE_COLS} WHERE a.id IN ({})", marks.join(", ")), &ids)?
        .iter()
        .map(|r| article(r).map(|a| (a.id, a)))
        .collect::<Result<_>>()?;
    Ok(best.into_iter().filter_map(|(id, score)| found.remove(&id).map(|article| Hit { article, score })).collect())
}

// ---- Scripts ----

#[derive(Debug, Clone, Serialize)]
pub struct Script {
    pub id: i64,
    pub scenario: String,
    pub step: String,
    pub persona: String,
    pub position: i64,
    pub title: String,
    pub body: String,
    pub active: bool,
    pub updated_at: Timestamp,
}

const SCRIPT_COLS: &str = "id, scenario, step, persona, position, title, body, active, updated_at FROM scripts";

fn script(r: &Row) -> Result<Script> {
    Ok(Script {
        id: r.get(0)?,
        scenario: r.get(1)?,
        step: r.get(2)?,
        persona: r.get(3)?,
        position: r.get(4)?,
        title: r.get(5)?,
        body: r.get(6)?,
        active: r.get(7)?,
        updated_at: r.get(8)?,
    })
}

/// A script as written (already validated).
#[derive(Debug, Clone)]
pub struct ScriptInput {
    pub scenario: String,
    pub step: String,
    pub persona: String,
    pub position: i64,
    pub title: String,
    pub body: String,
    pub active: bool,
}

/// Scripts of a scenario (or all), in order, at most `limit`.
pub fn scripts(c: &mut Conn, scenario: Option<&str>, active_only: bool, limit: i64) -> Result<Vec<Script>> {
    let sql = format!(
        "SELECT {SCRIPT_COLS} WHERE ($1 = '' OR scenario = $1) AND (active OR NOT $2)
         ORDER BY scenario, position, id LIMIT $3"
    );
    c.query(&sql, args![scenario.unwrap_or(""), active_only, limit])?.iter().map(script).collect()
}

pub fn get_script(c: &mut Conn, id: i64) -> Result<Script> {
    c.query_opt(&format!("SELECT {SCRIPT_COLS} WHERE id = $1"), args![id])?
        .as_ref()
        .map(script)
        .transpose()?
        .ok_or(crate::StoreError::NotFound)
}

pub fn insert_script(c: &mut Conn, s: &ScriptInput, now: Timestamp) -> Result<i64> {
    c.insert_id(
        "INSERT INTO scripts (scenario, step, persona, position, title, body, active, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        args![
            s.scenario.as_str(),
            s.step.as_str(),
            s.persona.as_str(),
            s.position,
            s.title.as_str(),
            s.body.as_str(),
            s.active,
            now
        ],
    )
}

pub fn update_script(c: &mut Conn, id: i64, s: &ScriptInput, now: Timestamp) -> Result<()> {
    let n = c.execute(
        "UPDATE scripts SET scenario = $2, step = $3, persona = $4, position = $5, title = $6, body = $7,
         active = $8, updated_at = $9 WHERE id = $1",
        args![
            id,
            s.scenario.as_str(),
            s.step.as_str(),
            s.persona.as_str(),
            s.position,
            s.title.as_str(),
            s.body.as_str(),
            s.active,
            now
        ],
    )?;
    if n == 0 { Err(crate::StoreError::NotFound) } else { Ok(()) }
}

/// Records that a script was used on a ticket or a maintenance task (K3).
pub fn record_use(
    c: &mut Conn,
    script_id: i64,
    user_id: Option<i64>,
    ticket_id: Option<i64>,
    task_id: Option<i64>,
    outcome: Option<&str>,
    now: Timestamp,
) -> Result<i64> {
    c.insert_id(
        "INSERT INTO script_uses (script_id, user_id, ticket_id, task_id, used_at, outcome)
         VALUES ($1, $2, $3, $4, $5, $6)",
        args![script_id, user_id, ticket_id, task_id, now, outcome],
    )
}

/// One use of a script.
#[derive(Debug, Clone, Serialize)]
pub struct ScriptUse {
    pub script_id: i64,
    pub title: String,
    pub user_name: Option<String>,
    pub used_at: Timestamp,
    pub outcome: Option<String>,
}

/// The scripts used on a ticket, newest first.
pub fn uses_on_ticket(c: &mut Conn, ticket_id: i64, limit: i64) -> Result<Vec<ScriptUse>> {
    c.query(
        "SELECT s.id, s.title, u.name, x.used_at, x.outcome FROM script_uses x JOIN scripts s ON s.id = x.script_id
         LEFT JOIN users u ON u.id = x.user_id WHERE x.ticket_id = $1 ORDER BY x.id DESC LIMIT $2",
        args![ticket_id, limit],
    )?
    .iter()
    .map(|r| {
        Ok(ScriptUse {
            script_id: r.get(0)?,
            title: r.get(1)?,
            user_name: r.get(2)?,
            used_at: r.get(3)?,
            outcome: r.get(4)?,
        })
    })
    .collect()
}
