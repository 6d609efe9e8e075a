//! Finding customers by a fragment of their name or a contact's name (SPEC
//! C8) through the `name_grams` index instead of a scan of every name.
//!
//! Every whitespace-separated word of a name is lower-cased and cut into its
//! two-character windows, plus its last character followed by U+0001, so
//! that every character of the name starts at least one gram. A fragment of
//! two or more characters is looked up by its rarest gram (walked newest
//! customer first), the customer must hold the fragment's other grams too,
//! and the name itself is checked with `LIKE` so that the grams' order is
//! right. A one-character fragment is a range of grams. Every lookup is
//! capped: the caller asks for at most `cap` customers.

use std::collections::{BTreeMap, BTreeSet};

use crate::sql::{Conn, Value};
use crate::{Result, args};

/// Appended to the last character of each word.
const END: char = '\u{1}';
/// At most this many grams of a fragment are checked.
const MAX_GRAMS: usize = 6;
/// A walk reads at most this many postings (so a fragment made only of
/// common grams, such as digits, costs a bounded amount and its result says
/// it may be incomplete).
const PROBE_LIMIT: i64 = 2_000;

fn words(text: &str) -> impl Iterator<Item = Vec<char>> + '_ {
    text.split_whitespace().map(|w| w.chars().flat_map(char::to_lowercase).collect::<Vec<char>>())
}

/// The grams under which a name is indexed.
pub fn grams_of(name: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for w in words(name) {
        for pair in w.windows(2) {
            out.insert(pair.iter().collect());
        }
        if let Some(last) = w.last() {
            out.insert([*last, END].iter().collect());
        }
    }
    out
}

/// How a search fragment is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Every one of these grams (the fragment has a word of 2+ characters).
    Grams(Vec<String>),
    /// Any gram starting with this character.
    Prefix(char),
    Nothing,
}

pub fn lookup_for(q: &str) -> Lookup {
    let ws: Vec<Vec<char>> = words(q).collect();
    let mut grams: Vec<String> = Vec::new();
    for w in &ws {
        for pair in w.windows(2) {
            let g: String = pair.iter().collect();
            if !grams.contains(&g) {
                grams.push(g);
            }
        }
    }
    if !grams.is_empty() {
        return Lookup::Grams(grams);
    }
    match ws.first().and_then(|w| w.first()) {
        Some(c) => Lookup::Prefix(*c),
        None => Lookup::Nothing,
    }
}

/// `%word%word%`, lower-cased, with LIKE's wildcards escaped.
pub fn like_pattern(q: &str) -> String {
    let mut out = String::from("%");
    for w in q.split_whitespace() {
        for ch in w.chars().flat_map(char::to_lowercase) {
            if matches!(ch, '\\' | '%' | '_') {
                out.push('\\');
            }
            out.push(ch);
        }
        out.push('%');
    }
    out
}

/// Rewrites the name grams of one customer from its name and its contacts'
/// names. Called whenever one of them changes.
pub fn refresh(c: &mut Conn, customer_id: i64) -> Result<()> {
    let mut names: Vec<String> = c
        .query("SELECT name FROM contacts WHERE customer_id = $1", args![customer_id])?
        .iter()
        .map(|r| r.get(0))
        .collect::<Result<_>>()?;
    if let Some(r) = c.query_opt("SELECT name FROM customers WHERE id = $1", args![customer_id])? {
        names.push(r.get(0)?);
    }
    forget(c, customer_id)?;
    index_new(c, &[(customer_id, names)])
}

/// Removes a customer's grams (before the customer is deleted, or to
/// rewrite them), keeping `gram_counts` right.
pub fn forget(c: &mut Conn, customer_id: i64) -> Result<()> {
    let gone = c.query("DELETE FROM name_grams WHERE customer_id = $1 RETURNING gram", args![customer_id])?;
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    for r in gone {
        *counts.entry(r.get(0)?).or_default() -= 1;
    }
    add_counts(c, counts)
}

/// Adds to (or, with negative numbers, subtracts from) the number of
/// customers under each gram.
fn add_counts(c: &mut Conn, counts: BTreeMap<String, i64>) -> Result<()> {
    let mut v: Vec<Value> = Vec::with_capacity(counts.len() * 2);
    for (g, n) in counts {
        v.push(g.into());
        v.push(n.into());
    }
    crate::sql::insert_rows(
        c,
        "INSERT INTO gram_counts (gram, n) VALUES",
        2,
        v,
        "ON CONFLICT (gram) DO UPDATE SET n = gram_counts.n + excluded.n",
    )
}

/// Adds the grams of these names to their customers (new customers and
/// contacts), several customers per statement, and counts the customers
/// each gram gained in `gram_counts`.
pub fn index_new(c: &mut Conn, customers: &[(i64, Vec<String>)]) -> Result<()> {
    let added = write_grams(c, customers, true)?;
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    for r in added {
        *counts.entry(r.get(0)?).or_default() += 1;
    }
    add_counts(c, counts)
}

/// [`index_new`] for customers just inserted, which have no grams yet: no
/// conflict to skip, so the grams' counts are known without asking which
/// rows went in (a bulk import's millions of grams).
pub fn index_fresh(c: &mut Conn, customers: &[(i64, Vec<String>)]) -> Result<()> {
    let pairs = gram_pairs(customers);
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    for (g, _) in &pairs {
        match counts.get_mut(g.as_str()) {
            Some(n) => *n += 1,
            None => {
                counts.insert(g.clone(), 1);
            }
        }
    }
    crate::sql::insert_rows(c, "INSERT INTO name_grams (gram, customer_id) VALUES", 2, pair_values(pairs), "")?;
    add_counts(c, counts)
}

/// Each customer's grams (from all its names, once each), in index order:
/// consecutive inserts land on the same pages.
fn gram_pairs(customers: &[(i64, Vec<String>)]) -> Vec<(String, i64)> {
    let mut pairs: Vec<(String, i64)> = Vec::new();
    for (id, names) in customers {
        let mut all = BTreeSet::new();
        for n in names {
            all.extend(grams_of(n));
        }
        pairs.extend(all.into_iter().map(|g| (g, *id)));
    }
    pairs.sort_unstable();
    pairs
}

fn pair_values(pairs: Vec<(String, i64)>) -> Vec<Value> {
    let mut rows: Vec<Value> = Vec::with_capacity(pairs.len() * 2);
    for (g, id) in pairs {
        rows.push(g.into());
        rows.push(id.into());
    }
    rows
}

/// Inserts the grams of these names; with `returning`, the grams each
/// customer did not have yet (one row each).
fn write_grams(c: &mut Conn, customers: &[(i64, Vec<String>)], returning: bool) -> Result<Vec<crate::sql::Row>> {
    let rows = pair_values(gram_pairs(customers));
    let head = "INSERT INTO name_grams (gram, customer_id) VALUES";
    if returning {
        crate::sql::insert_rows_returning(c, head, 2, rows, "ON CONFLICT DO NOTHING RETURNING gram")
    } else {
        crate::sql::insert_rows(c, head, 2, rows, "ON CONFLICT DO NOTHING").map(|()| Vec::new())
    }
}

/// Fills `name_grams` for every customer (after the migration that created it).
pub(crate) fn rebuild_all(c: &mut Conn) -> Result<()> {
    let mut after = 0i64;
    loop {
        let ids: Vec<i64> = c
            .query("SELECT id FROM customers WHERE id > $1 ORDER BY id LIMIT 2000", args![after])?
            .iter()
            .map(|r| r.get(0))
            .collect::<Result<_>>()?;
        let Some(last) = ids.last().copied() else { return Ok(()) };
        let mut names: std::collections::BTreeMap<i64, Vec<String>> = std::collections::BTreeMap::new();
        for r in c.query(
            "SELECT id, name FROM customers WHERE id > $1 AND id <= $2
             UNION ALL SELECT customer_id, name FROM contacts WHERE customer_id > $1 AND customer_id <= $2",
            args![after, last],
        )? {
            names.entry(r.get(0)?).or_default().push(r.get(1)?);
        }
        let batch: Vec<(i64, Vec<String>)> = names.into_iter().collect();
        // Counted by the migration that creates `gram_counts`.
        write_grams(c, &batch, false)?;
        after = last;
    }
}

/// Customers whose name or a contact's name contains `q`, newest first, at
/// most `cap`. `cond` is an extra SQL condition on the customer `c` (scope
/// and filters) whose parameters are `params`; placeholders of this query
/// are numbered after them. The flag is true when the walk stopped at
/// [`PROBE_LIMIT`] postings, so that more customers may match.
pub fn name_matches(c: &mut Conn, q: &str, cond: &str, params: &[Value], cap: i64) -> Result<(Vec<i64>, bool)> {
    let mut bounded = false;
    let mut p: Vec<Value> = params.to_vec();
    let push = |p: &mut Vec<Value>, v: Value| {
        p.push(v);
        format!("${}", p.len())
    };
    let like = push(&mut p, like_pattern(q).into());
    let verify = format!(
        "(LOWER(c.name) LIKE {like} ESCAPE '\\'
          OR EXISTS (SELECT 1 FROM contacts k WHERE k.customer_id = c.id AND LOWER(k.name) LIKE {like} ESCAPE '\\'))"
    );
    let sql = match lookup_for(q) {
        Lookup::Nothing => return Ok((Vec::new(), false)),
        Lookup::Prefix(ch) => {
            let lo = push(&mut p, ch.to_string().into());
            let hi = push(&mut p, format!("{ch}\u{10FFFF}").into());
            let limit = push(&mut p, cap.into());
            format!(
                "SELECT c.id FROM customers c WHERE c.id IN
                   (SELECT customer_id FROM name_grams WHERE gram >= {lo} AND gram < {hi})
                 AND {verify} AND {cond} ORDER BY c.id DESC LIMIT {limit}"
            )
        }
        Lookup::Grams(mut grams) => {
            // Walk the shortest posting list (by the counts kept in
            // `gram_counts`); the others are membership tests.
            let marks: Vec<String> = (1..=grams.len()).map(|i| format!("${i}")).collect();
            let args: Vec<Value> = grams.iter().map(|g| Value::Text(g.clone())).collect();
            let known: std::collections::HashMap<String, i64> = c
                .query(&format!("SELECT gram, n FROM gram_counts WHERE gram IN ({})", marks.join(", ")), &args)?
                .iter()
                .map(|r| Ok((r.get(0)?, r.get(1)?)))
                .collect::<Result<_>>()?;
            let mut sized = Vec::with_capacity(grams.len());
            for g in grams.drain(..) {
                let n = known.get(&g).copied().unwrap_or(0);
                if n <= 0 {
                    return Ok((Vec::new(), false));
                }
                sized.push((n, g));
            }
            sized.sort();
            sized.truncate(MAX_GRAMS);
            bounded = sized.first().is_some_and(|(n, _)| *n > PROBE_LIMIT);
            let mut it = sized.into_iter().map(|(_, g)| g);
            let Some(first) = it.next() else { return Ok((Vec::new(), false)) };
            let walk = push(&mut p, first.into());
            let walk_limit = push(&mut p, PROBE_LIMIT.into());
            let mut also = String::new();
            for g in it {
                let m = push(&mut p, g.into());
                also.push_str(&format!(
                    " AND EXISTS (SELECT 1 FROM name_grams h WHERE h.gram = {m} AND h.customer_id = g.customer_id)"
                ));
            }
            let limit = push(&mut p, cap.into());
            format!(
                "SELECT g.customer_id FROM
                   (SELECT customer_id FROM name_grams WHERE gram = {walk} ORDER BY customer_id DESC LIMIT {walk_limit}) g
                 JOIN customers c ON c.id = g.customer_id
                 WHERE 1 = 1{also} AND {verify} AND {cond}
                 ORDER BY g.customer_id DESC LIMIT {limit}"
            )
        }
    };
    let ids = c.query(&sql, &p)?.iter().map(|r| r.get(0)).collect::<Result<Vec<i64>>>()?;
    Ok((ids, bounded))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn grams_cover_every_character() {
        let g = grams_of("明远 AB科技");
        for want in ["明远", "远\u{1}", "ab", "b科", "科技", "技\u{1}"] {
            assert!(g.contains(want), "{want:?} in {g:?}");
        }
        assert!(!g.contains("远a"), "words are indexed apart");
        assert_eq!(grams_of("王").into_iter().collect::<Vec<_>>(), vec!["王\u{1}".to_string()]);
    }

    #[test]
    fn lookups() {
        assert_eq!(lookup_for(" 明远科技 "), Lookup::Grams(vec!["明远".into(), "远科".into(), "科技".into()]));
        assert_eq!(lookup_for("王"), Lookup::Prefix('王'));
        assert_eq!(lookup_for("   "), Lookup::Nothing);
        assert_eq!(lookup_for("Ab 王"), Lookup::Grams(vec!["ab".into()]));
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("明远 科技"), "%明远%科技%");
        assert_eq!(like_pattern("50%_a\\"), "%50\\%\\_a\\\\%");
    }
}
