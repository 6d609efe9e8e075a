//! Customer records (SPEC C1). Personal fields arrive already sealed
//! (encrypted, masked and blind-indexed by the caller, who holds the key);
//! this module never sees them in clear.

use guanxi_domain::customer::{CustomerCode, CustomerDraft};
use guanxi_domain::{Issue, ValidationErrors};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;

use crate::sql::{Conn, Row, Value};
use crate::{Result, StoreError, args, settings};

/// A personal value as stored: ciphertext, the masked form for lists, a
/// keyed hash for exact lookups, and the keyed hashes it can be searched by
/// (a phone number: its last four digits; an email: the address).
#[derive(Debug, Clone, Default)]
pub struct Sealed {
    pub ciphertext: String,
    pub masked: String,
    pub index: String,
    pub search: Vec<String>,
    /// A phone number's keyed hash of its last seven digits, stored in the
    /// `ending` column of its `search` rows (migration 0026): every number's
    /// row sits under its last four digits, so that a bulk insert touches
    /// few index pages, and a search by seven digits or more still reads
    /// one index range, `(digest, ending)`.
    pub ending: Option<String>,
}

/// A search digest and, for a phone number, the digest of its last seven
/// digits (see [`Sealed::ending`]).
pub type SearchKey<'a> = (&'a str, Option<&'a str>);

/// Adds search digests for new customers or contacts: (customer, contact, digests).
pub fn add_search_digests(c: &mut Conn, items: &[(i64, Option<i64>, Vec<SearchKey<'_>>)]) -> Result<()> {
    let mut rows: Vec<(&str, Option<&str>, i64, Option<i64>)> = Vec::new();
    for (customer_id, contact_id, digests) in items {
        rows.extend(digests.iter().map(|(d, e)| (*d, *e, *customer_id, *contact_id)));
    }
    // In index order, without repeats.
    rows.sort_unstable();
    rows.dedup();
    let mut v: Vec<Value> = Vec::with_capacity(rows.len() * 4);
    for (d, e, customer_id, contact_id) in rows {
        v.extend([d.into(), e.into(), customer_id.into(), contact_id.into()]);
    }
    crate::sql::insert_rows(c, "INSERT INTO contact_index (digest, ending, customer_id, contact_id) VALUES", 4, v, "")
}

/// The search digests of some sealed values.
pub fn digests_of<'a>(sealed: &[&'a Option<Sealed>]) -> Vec<SearchKey<'a>> {
    sealed
        .iter()
        .filter_map(|s| s.as_ref())
        .flat_map(|s| s.search.iter().map(|d| (d.as_str(), s.ending.as_deref())))
        .collect()
}

/// Replaces the search digests of a customer's own fields (`contact_id`
/// None) or of one of its contacts.
pub fn replace_search_index(
    c: &mut Conn,
    customer_id: i64,
    contact_id: Option<i64>,
    sealed: &[&Option<Sealed>],
) -> Result<()> {
    match contact_id {
        None => {
            c.execute("DELETE FROM contact_index WHERE customer_id = $1 AND contact_id IS NULL", args![customer_id])?
        }
        Some(id) => c.execute("DELETE FROM contact_index WHERE contact_id = $1", args![id])?,
    };
    add_search_digests(c, &[(customer_id, contact_id, digests_of(sealed))])
}

/// Which of these customers exist.
pub fn existing_ids(c: &mut Conn, ids: &[i64]) -> Result<std::collections::HashSet<i64>> {
    let mut out = std::collections::HashSet::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let v: Vec<Value> = chunk.iter().map(|id| Value::I64(*id)).collect();
        for r in c.query(&format!("SELECT id FROM customers WHERE id IN ({})", marks(1, chunk.len())), &v)? {
            out.insert(r.get(0)?);
        }
    }
    Ok(out)
}

/// Refuses a bulk write whose rows name a customer that does not exist
/// (bulk writes do not rely on foreign keys: see `Db::write_bulk`).
pub(crate) fn check_customers_exist(c: &mut Conn, ids: impl IntoIterator<Item = i64>) -> Result<()> {
    let mut ids: Vec<i64> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    for chunk in ids.chunks(500) {
        let v: Vec<Value> = chunk.iter().map(|id| Value::I64(*id)).collect();
        let n: i64 =
            c.scalar(&format!("SELECT COUNT(*) FROM customers WHERE id IN ({})", marks(1, chunk.len())), &v)?;
        if usize::try_from(n).unwrap_or(0) != chunk.len() {
            let mut e = ValidationErrors::new();
            e.add("customer_id", Issue::Unknown);
            return Err(e.into());
        }
    }
    Ok(())
}

/// Which customers a user may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    /// Customers owned by one of these users.
    OwnedBy(Vec<i64>),
}

impl Scope {
    /// A SQL condition on `c.owner_id`, with its parameters appended to `args`.
    pub(crate) fn condition(&self, args: &mut Vec<Value>) -> String {
        match self {
            Scope::All => "1 = 1".into(),
            Scope::OwnedBy(ids) if ids.is_empty() => "1 = 0".into(),
            Scope::OwnedBy(ids) => {
                let mut marks = Vec::with_capacity(ids.len());
                for id in ids {
                    args.push(Value::I64(*id));
                    marks.push(format!("${}", args.len()));
                }
                format!("c.owner_id IN ({})", marks.join(", "))
            }
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Customer {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub industry: Option<String>,
    pub scale: Option<String>,
    pub region: Option<String>,
    pub decision_chain: Option<String>,
    #[serde(skip)]
    pub phone_ciphertext: Option<String>,
    pub phone_masked: Option<String>,
    #[serde(skip)]
    pub email_ciphertext: Option<String>,
    pub email_masked: Option<String>,
    pub owner_id: Option<i64>,
    pub owner_name: Option<String>,
    pub cooperation_start: Option<Date>,
    pub first_purchase_on: Option<Date>,
    pub last_cooperation_on: Option<Date>,
    pub preferred_channel: Option<String>,
    pub contact_window: Option<String>,
    pub marketing_consent: bool,
    pub notes: Option<String>,
    pub stage: String,
    pub contract_end: Option<Date>,
    pub renewal_date: Option<Date>,
    pub verified_on: Option<Date>,
    pub external_id: Option<String>,
    pub tags: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The columns [`customer_row`] reads, from `customers c` joined with `users u`.
pub(crate) const CUSTOMER_SELECT: &str =
    "c.id, c.code, c.name, c.kind, c.industry, c.scale, c.region, c.decision_chain,
    c.phone_enc, c.phone_masked, c.email_enc, c.email_masked, c.owner_id, u.name,
    c.cooperation_start, c.first_purchase_on, c.last_cooperation_on, c.preferred_channel, c.contact_window,
    c.marketing_consent, c.notes, c.stage, c.contract_end, c.renewal_date, c.verified_on, c.external_id,
    c.created_at, c.updated_at";
pub(crate) const CUSTOMER_SELECT_LEN: usize = 28;
const CUSTOMER_FROM: &str = "FROM customers c LEFT JOIN users u ON u.id = c.owner_id";

pub(crate) fn customer_row(r: &Row) -> Result<Customer> {
    customer(r)
}

fn customer(r: &Row) -> Result<Customer> {
    Ok(Customer {
        id: r.get(0)?,
        code: r.get(1)?,
        name: r.get(2)?,
        kind: r.get(3)?,
        industry: r.get(4)?,
        scale: r.get(5)?,
        region: r.get(6)?,
        decision_chain: r.get(7)?,
        phone_ciphertext: r.get(8)?,
        phone_masked: r.get(9)?,
        email_ciphertext: r.get(10)?,
        email_masked: r.get(11)?,
        owner_id: r.get(12)?,
        owner_name: r.get(13)?,
        cooperation_start: r.get(14)?,
        first_purchase_on: r.get(15)?,
        last_cooperation_on: r.get(16)?,
        preferred_channel: r.get(17)?,
        contact_window: r.get(18)?,
        marketing_consent: r.get(19)?,
        notes: r.get(20)?,
        stage: r.get(21)?,
        contract_end: r.get(22)?,
        renewal_date: r.get(23)?,
        verified_on: r.get(24)?,
        external_id: r.get(25)?,
        tags: Vec::new(),
        created_at: r.get(26)?,
        updated_at: r.get(27)?,
    })
}

/// One customer, if the scope allows it (else `NotFound`, so that ids out
/// of scope are indistinguishable from missing ones).
pub fn get(c: &mut Conn, scope: &Scope, id: i64) -> Result<Customer> {
    let mut params = vec![Value::I64(id)];
    let cond = scope.condition(&mut params);
    let row = c.query_one(&format!("SELECT {CUSTOMER_SELECT} {CUSTOMER_FROM} WHERE c.id = $1 AND {cond}"), &params)?;
    let mut cust = customer(&row)?;
    cust.tags = tags_of(c, id)?;
    Ok(cust)
}

pub fn find_by_code(c: &mut Conn, scope: &Scope, code: &str) -> Result<Option<Customer>> {
    let id: Option<i64> =
        c.query_opt("SELECT id FROM customers WHERE code = $1", args![code])?.map(|r| r.get(0)).transpose()?;
    match id {
        Some(id) => match get(c, scope, id) {
            Ok(x) => Ok(Some(x)),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e),
        },
        None => Ok(None),
    }
}

fn tags_of(c: &mut Conn, id: i64) -> Result<Vec<String>> {
    c.query("SELECT tag FROM customer_tags WHERE customer_id = $1 ORDER BY tag", args![id])?
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Checks what only the database knows: the owner exists and is active, the
/// external id is unused.
fn check_references(c: &mut Conn, d: &CustomerDraft, except: Option<i64>) -> Result<()> {
    let mut e = ValidationErrors::new();
    if let Some(owner) = d.owner_id {
        let n: i64 = c.scalar("SELECT COUNT(*) FROM users WHERE id = $1 AND active = $2", args![owner, true])?;
        if n == 0 {
            e.add("owner_id", Issue::Unknown);
        }
    }
    if let Some(ext) = &d.external_id {
        let n: i64 = c.scalar(
            "SELECT COUNT(*) FROM customers WHERE external_id = $1 AND id <> $2",
            args![ext.as_str(), except.unwrap_or(0)],
        )?;
        if n > 0 {
            e.add("external_id", Issue::Taken);
        }
    }
    if e.is_empty() { Ok(()) } else { Err(e.into()) }
}

fn date(d: Option<Date>) -> Value {
    d.into()
}

fn sealed_parts(s: &Option<Sealed>) -> (Value, Value, Value) {
    match s {
        Some(s) => (s.ciphertext.as_str().into(), s.masked.as_str().into(), s.index.as_str().into()),
        None => (Value::Null, Value::Null, Value::Null),
    }
}

fn draft_values(d: &CustomerDraft, phone: &Option<Sealed>, email: &Option<Sealed>) -> Vec<Value> {
    let (pe, pm, pi) = sealed_parts(phone);
    let (ee, em, ei) = sealed_parts(email);
    vec![
        d.name.as_str().into(),
        d.kind.code().into(),
        d.industry.clone().into(),
        d.scale.map(|s| s.code()).into(),
        d.region.clone().into(),
        d.decision_chain.clone().into(),
        pe,
        pm,
        pi,
        ee,
        em,
        ei,
        d.owner_id.into(),
        date(d.cooperation_start),
        date(d.first_purchase_on),
        date(d.last_cooperation_on),
        d.preferred_channel.map(|c| c.code()).into(),
        d.contact_window.clone().into(),
        d.marketing_consent.into(),
        d.notes.clone().into(),
        d.stage.code().into(),
        date(d.contract_end),
        date(d.renewal_date),
        date(d.verified_on),
        d.external_id.clone().into(),
    ]
}

const DRAFT_COLS: &str = "name, kind, industry, scale, region, decision_chain, phone_enc, phone_masked, phone_index,
    email_enc, email_masked, email_index, owner_id, cooperation_start, first_purchase_on, last_cooperation_on,
    preferred_channel, contact_window, marketing_consent, notes, stage, contract_end, renewal_date, verified_on, external_id";

fn set_tags(c: &mut Conn, id: i64, d: &CustomerDraft) -> Result<()> {
    c.execute("DELETE FROM customer_tags WHERE customer_id = $1", args![id])?;
    for t in &d.tags {
        c.execute("INSERT INTO customer_tags (customer_id, tag) VALUES ($1, $2)", args![id, t.as_str()])?;
    }
    Ok(())
}

/// Inserts a customer with the next `KH` code; returns its id and code.
pub fn insert(
    c: &mut Conn,
    d: &CustomerDraft,
    phone: &Option<Sealed>,
    email: &Option<Sealed>,
    created_by: Option<i64>,
    now: Timestamp,
) -> Result<(i64, String)> {
    check_references(c, d, None)?;
    let code = CustomerCode::from_sequence(settings::next(c, "customer_code")?);
    let mut values = draft_values(d, phone, email);
    let n = values.len();
    values.extend([code.as_str().into(), created_by.into(), now.into()]);
    let marks: Vec<String> = (1..=n).map(|i| format!("${i}")).collect();
    let sql = format!(
        "INSERT INTO customers ({DRAFT_COLS}, code, created_by, created_at, updated_at)
         VALUES ({}, ${}, ${}, ${}, ${})",
        marks.join(", "),
        n + 1,
        n + 2,
        n + 3,
        n + 3
    );
    let id = c.insert_id(&sql, &values)?;
    set_tags(c, id, d)?;
    replace_search_index(c, id, None, &[phone, email])?;
    crate::search::index_new(c, &[(id, vec![d.name.clone()])])?;
    Ok((id, code.as_str().to_string()))
}

/// A new customer for [`insert_many`].
pub struct NewCustomer<'a> {
    pub draft: &'a CustomerDraft,
    pub phone: &'a Option<Sealed>,
    pub email: &'a Option<Sealed>,
}

/// Inserts many customers with a few multi-row statements (imports, bulk
/// loads): the same checks and side tables as [`insert`], done per batch.
/// Returns (id, code) per customer, in order.
pub fn insert_many(
    c: &mut Conn,
    items: &[NewCustomer<'_>],
    created_by: Option<i64>,
    now: Timestamp,
) -> Result<Vec<(i64, String)>> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    // References, once per batch.
    let mut e = ValidationErrors::new();
    let mut owners: Vec<i64> = items.iter().filter_map(|x| x.draft.owner_id).collect();
    owners.sort_unstable();
    owners.dedup();
    for chunk in owners.chunks(500) {
        let mut v: Vec<Value> = vec![true.into()];
        v.extend(chunk.iter().map(|id| Value::I64(*id)));
        let n: i64 = c.scalar(
            &format!("SELECT COUNT(*) FROM users WHERE active = $1 AND id IN ({})", marks(2, chunk.len())),
            &v,
        )?;
        if usize::try_from(n).unwrap_or(0) != chunk.len() {
            e.add("owner_id", Issue::Unknown);
        }
    }
    let mut exts: Vec<&str> = items.iter().filter_map(|x| x.draft.external_id.as_deref()).collect();
    exts.sort_unstable();
    let before = exts.len();
    exts.dedup();
    if exts.len() != before {
        e.add("external_id", Issue::Taken);
    }
    for chunk in exts.chunks(500) {
        let v: Vec<Value> = chunk.iter().map(|x| Value::Text((*x).to_string())).collect();
        let n: i64 =
            c.scalar(&format!("SELECT COUNT(*) FROM customers WHERE external_id IN ({})", marks(1, chunk.len())), &v)?;
        if n > 0 {
            e.add("external_id", Issue::Taken);
        }
    }
    if !e.is_empty() {
        return Err(e.into());
    }
    let n = items.len();
    let first = settings::next_n(c, "customer_code", i64::try_from(n).unwrap_or(i64::MAX))?;
    let ids = crate::sql::reserve_ids(c, "customers", n)?;
    let mut rows: Vec<Value> = Vec::with_capacity(n * 30);
    let mut out = Vec::with_capacity(n);
    let mut tags: Vec<Value> = Vec::new();
    let mut digests = Vec::with_capacity(n);
    let mut names = Vec::with_capacity(n);
    for (k, (x, id)) in items.iter().zip(&ids).enumerate() {
        let code = CustomerCode::from_sequence(first + i64::try_from(k).unwrap_or(0)).as_str().to_string();
        rows.extend(draft_values(x.draft, x.phone, x.email));
        rows.extend([(*id).into(), code.as_str().into(), created_by.into(), now.into(), now.into()]);
        for t in &x.draft.tags {
            tags.extend([(*id).into(), t.as_str().into()]);
        }
        digests.push((*id, None, digests_of(&[x.phone, x.email])));
        names.push((*id, vec![x.draft.name.clone()]));
        out.push((*id, code));
    }
    let cols = DRAFT_COLS.split(',').count() + 5;
    crate::sql::insert_rows(
        c,
        &format!("INSERT INTO customers ({DRAFT_COLS}, id, code, created_by, created_at, updated_at) VALUES"),
        cols,
        rows,
        "",
    )?;
    crate::sql::insert_rows(c, "INSERT INTO customer_tags (customer_id, tag) VALUES", 2, tags, "")?;
    add_search_digests(c, &digests)?;
    crate::search::index_fresh(c, &names)?;
    Ok(out)
}

/// Replaces every editable field. `phone`/`email` of `None` clear them.
pub fn update(
    c: &mut Conn,
    scope: &Scope,
    id: i64,
    d: &CustomerDraft,
    phone: &Option<Sealed>,
    email: &Option<Sealed>,
    now: Timestamp,
) -> Result<()> {
    let before = get(c, scope, id)?;
    check_references(c, d, Some(id))?;
    let mut values = draft_values(d, phone, email);
    let sets: Vec<String> =
        DRAFT_COLS.split(',').map(str::trim).enumerate().map(|(i, col)| format!("{col} = ${}", i + 1)).collect();
    let n = values.len();
    values.extend([now.into(), id.into()]);
    c.execute(
        &format!("UPDATE customers SET {}, updated_at = ${} WHERE id = ${}", sets.join(", "), n + 1, n + 2),
        &values,
    )?;
    set_tags(c, id, d)?;
    replace_search_index(c, id, None, &[phone, email])?;
    if before.name != d.name {
        crate::search::refresh(c, id)?;
    }
    Ok(())
}

pub fn delete(c: &mut Conn, scope: &Scope, id: i64) -> Result<Customer> {
    let cust = get(c, scope, id)?;
    crate::search::forget(c, id)?;
    c.execute("DELETE FROM customers WHERE id = $1", args![id])?;
    Ok(cust)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerSort {
    #[default]
    UpdatedDesc,
    CodeAsc,
    NameAsc,
    CooperationStartAsc,
}

impl CustomerSort {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "updated_desc" => Some(Self::UpdatedDesc),
            "code_asc" => Some(Self::CodeAsc),
            "name_asc" => Some(Self::NameAsc),
            "cooperation_start_asc" => Some(Self::CooperationStartAsc),
            _ => None,
        }
    }

    fn order_by(self) -> &'static str {
        match self {
            Self::UpdatedDesc => "c.updated_at DESC, c.id DESC",
            Self::CodeAsc => "c.code ASC",
            Self::NameAsc => "c.name ASC, c.id ASC",
            Self::CooperationStartAsc => "c.cooperation_start ASC, c.id ASC",
        }
    }
}

/// Whether a stored (encrypted) phone number is the one searched for.
pub type PhoneCheck = std::sync::Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// A search by a contact detail: the blind-index digest to look up, for a
/// phone ending of seven digits or more the digest of its last seven (the
/// `ending` column), and, for an ending longer than the digests cover, the
/// check each stored number found must pass.
#[derive(Clone)]
pub struct ContactLookup {
    pub digest: String,
    pub ending: Option<String>,
    pub check: Option<PhoneCheck>,
}

impl std::fmt::Debug for ContactLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContactLookup")
            .field("digest", &self.digest)
            .field("ending", &self.ending)
            .field("check", &self.check.is_some())
            .finish()
    }
}

impl ContactLookup {
    /// The condition on `contact_index x`, its parameters appended to `p`.
    /// With an ending, a row written before migration 0026 (when the last
    /// seven digits had a row of their own, `digest` = that hash) is found
    /// too.
    fn condition(&self, p: &mut Vec<Value>) -> String {
        p.push(self.digest.as_str().into());
        let d = p.len();
        match &self.ending {
            None => format!("x.digest = ${d}"),
            Some(e) => {
                p.push(e.as_str().into());
                let e = p.len();
                format!("(x.digest = ${d} AND x.ending = ${e} OR x.digest = ${e})")
            }
        }
    }
}

/// A phone search reads at most this many numbers ending in the same four
/// digits to check their longer endings.
const PHONE_CANDIDATES: i64 = 20_000;

#[derive(Debug, Clone, Default)]
pub struct CustomerFilter {
    /// Code, or part of the name.
    pub q: Option<String>,
    /// A phone number (whole or its last 4+ digits) or an email, of the
    /// customer or one of its contacts.
    pub contact: Option<ContactLookup>,
    pub owner_id: Option<i64>,
    pub industry: Option<String>,
    pub tag: Option<String>,
    pub stage: Option<String>,
    /// Only profiles never verified or verified before this date.
    pub verified_before: Option<Date>,
    pub sort: CustomerSort,
    pub page: i64,
    pub per_page: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CustomerPage {
    pub items: Vec<Customer>,
    /// At most [`COUNT_CAP`], or with a search [`SEARCH_CAP`] (see `total_capped`).
    pub total: i64,
    /// There are more: a list counted past [`COUNT_CAP`], or a search found
    /// more than [`SEARCH_CAP`] customers (only the newest are listed) or
    /// stopped early on a very common fragment.
    pub total_capped: bool,
    pub page: i64,
    pub per_page: i64,
}

/// A search lists at most this many customers (newest first within each
/// way of matching: code, phone/email, name); a broader search says so.
pub const SEARCH_CAP: usize = 200;

/// A list without a search counts at most this many customers
/// (`total_capped` above it).
pub const COUNT_CAP: i64 = 10_000;

/// The ids a search box query finds, filtered by `cond`: the exact code
/// first, then phone/email matches, then name matches; at most
/// `SEARCH_CAP + 1` (one more tells that there are more), and whether a
/// name lookup stopped early (more customers may match).
fn search_ids(
    c: &mut Conn,
    q: Option<&str>,
    contact: Option<&ContactLookup>,
    cond: &str,
    params: &[Value],
) -> Result<(Vec<i64>, bool)> {
    let cap = SEARCH_CAP + 1;
    let cap_i64 = i64::try_from(cap).unwrap_or(i64::MAX);
    let mut ids: Vec<i64> = Vec::new();
    let add = |ids: &mut Vec<i64>, found: Vec<i64>| {
        for id in found {
            if ids.len() < cap && !ids.contains(&id) {
                ids.push(id);
            }
        }
    };
    let n = params.len();
    let mut p = params.to_vec();
    if let Some(q) = q {
        p.push(q.to_ascii_uppercase().into());
        let found = c
            .query(&format!("SELECT c.id FROM customers c WHERE c.code = ${} AND {cond}", n + 1), &p)?
            .iter()
            .map(|r| r.get(0))
            .collect::<Result<Vec<i64>>>()?;
        add(&mut ids, found);
        p.truncate(n);
    }
    let mut incomplete = false;
    match contact {
        Some(l @ ContactLookup { check: None, .. }) => {
            let found_by = l.condition(&mut p);
            p.push(cap_i64.into());
            let found = c
                .query(
                    &format!(
                        "SELECT c.id FROM customers c WHERE c.id IN (SELECT x.customer_id FROM contact_index x WHERE {found_by})
                         AND {cond} ORDER BY c.id DESC LIMIT ${}",
                        p.len()
                    ),
                    &p,
                )?
                .iter()
                .map(|r| r.get(0))
                .collect::<Result<Vec<i64>>>()?;
            add(&mut ids, found);
            p.truncate(n);
        }
        Some(l @ ContactLookup { check: Some(check), .. }) => {
            // The numbers found by their last four (or seven) digits,
            // newest customer first, each checked for the longer ending.
            let found_by = l.condition(&mut p);
            p.push(PHONE_CANDIDATES.into());
            let rows = c.query(
                &format!(
                    "SELECT c.id, CASE WHEN x.contact_id IS NULL THEN c.phone_enc
                                  ELSE (SELECT k.phone_enc FROM contacts k WHERE k.id = x.contact_id) END
                     FROM contact_index x JOIN customers c ON c.id = x.customer_id
                     WHERE {found_by} AND {cond} ORDER BY c.id DESC LIMIT ${}",
                    p.len()
                ),
                &p,
            )?;
            incomplete = rows.len() >= usize::try_from(PHONE_CANDIDATES).unwrap_or(usize::MAX);
            let mut found = Vec::new();
            for r in &rows {
                let stored: Option<String> = r.get(1)?;
                if stored.is_some_and(|s| check(&s)) {
                    found.push(r.get(0)?);
                }
            }
            add(&mut ids, found);
            p.truncate(n);
        }
        None => {}
    }
    // Four or more digits and nothing else is a phone number (or its last
    // digits): names are not searched for it.
    let phone_like = q.is_some_and(|q| q.len() >= 4 && q.bytes().all(|b| b.is_ascii_digit()));
    if let Some(q) = q
        && ids.len() < cap
        && !phone_like
    {
        let (found, bounded) = crate::search::name_matches(c, q, cond, &p, cap_i64)?;
        incomplete |= bounded;
        add(&mut ids, found);
    }
    Ok((ids, incomplete))
}

pub fn list(c: &mut Conn, scope: &Scope, f: &CustomerFilter) -> Result<CustomerPage> {
    let mut params: Vec<Value> = Vec::new();
    let mut conds = vec![scope.condition(&mut params)];
    let push = |params: &mut Vec<Value>, v: Value| {
        params.push(v);
        format!("${}", params.len())
    };
    if let Some(o) = f.owner_id {
        let p = push(&mut params, o.into());
        conds.push(format!("c.owner_id = {p}"));
    }
    if let Some(i) = &f.industry {
        let p = push(&mut params, i.as_str().into());
        conds.push(format!("c.industry = {p}"));
    }
    if let Some(s) = &f.stage {
        let p = push(&mut params, s.as_str().into());
        conds.push(format!("c.stage = {p}"));
    }
    if let Some(t) = &f.tag {
        let p = push(&mut params, t.as_str().into());
        conds.push(format!("EXISTS (SELECT 1 FROM customer_tags t WHERE t.customer_id = c.id AND t.tag = {p})"));
    }
    if let Some(d) = f.verified_before {
        let p = push(&mut params, d.into());
        conds.push(format!("(c.verified_on IS NULL OR c.verified_on < {p})"));
    }
    let mut where_ = conds.join(" AND ");
    let per_page = f.per_page.clamp(1, 200);
    let page = f.page.max(1);
    let q = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let (total, total_capped) = if q.is_some() || f.contact.is_some() {
        // The search box: the customers found by code, by a phone/email
        // digest and by name (each an index lookup with the filters
        // applied), at most SEARCH_CAP of them; the page is cut from those.
        let (hits, incomplete) = search_ids(c, q, f.contact.as_ref(), &where_, &params)?;
        let capped = hits.len() > SEARCH_CAP || incomplete;
        params.clear();
        let ids: Vec<String> = hits.iter().take(SEARCH_CAP).map(|id| push(&mut params, Value::I64(*id))).collect();
        where_ = if ids.is_empty() { "1 = 0".into() } else { format!("c.id IN ({})", ids.join(", ")) };
        (i64::try_from(ids.len()).unwrap_or(i64::MAX), capped)
    } else {
        // Counted up to COUNT_CAP: nobody pages through a million rows, and
        // counting them all costs more than the page.
        let n: i64 = c.scalar(
            &format!("SELECT COUNT(*) FROM (SELECT 1 FROM customers c WHERE {where_} LIMIT {}) x", COUNT_CAP + 1),
            &params,
        )?;
        (n.min(COUNT_CAP), n > COUNT_CAP)
    };
    let limit = push(&mut params, per_page.into());
    let offset = push(&mut params, (page - 1).saturating_mul(per_page).into());
    let sql = format!(
        "SELECT {CUSTOMER_SELECT} {CUSTOMER_FROM} WHERE {where_} ORDER BY {} LIMIT {limit} OFFSET {offset}",
        f.sort.order_by()
    );
    let mut items: Vec<Customer> = c.query(&sql, &params)?.iter().map(customer).collect::<Result<_>>()?;
    attach_tags(c, &mut items)?;
    Ok(CustomerPage { items, total, total_capped, page, per_page })
}

/// Loads the tags of a page of customers in one query.
fn attach_tags(c: &mut Conn, items: &mut [Customer]) -> Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let ids: Vec<Value> = items.iter().map(|x| Value::I64(x.id)).collect();
    let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let rows = c.query(
        &format!("SELECT customer_id, tag FROM customer_tags WHERE customer_id IN ({}) ORDER BY tag", marks.join(", ")),
        &ids,
    )?;
    for r in rows {
        let id: i64 = r.get(0)?;
        let tag: String = r.get(1)?;
        if let Some(x) = items.iter_mut().find(|x| x.id == id) {
            x.tags.push(tag);
        }
    }
    Ok(())
}

/// Distinct industries in use, for filter menus.
pub fn industries(c: &mut Conn) -> Result<Vec<String>> {
    c.query("SELECT DISTINCT industry FROM customers WHERE industry IS NOT NULL ORDER BY industry LIMIT 200", &[])?
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// The most used tags, for filter menus.
pub fn popular_tags(c: &mut Conn, limit: i64) -> Result<Vec<(String, i64)>> {
    c.query("SELECT tag, COUNT(*) AS n FROM customer_tags GROUP BY tag ORDER BY n DESC, tag LIMIT $1", args![limit])?
        .iter()
        .map(|r| Ok((r.get(0)?, r.get(1)?)))
        .collect()
}

/// Customers whose contract ends within `within_days` from `today`, soonest first.
pub fn renewals_due(c: &mut Conn, scope: &Scope, today: Date, within_days: i32, limit: i64) -> Result<Vec<Customer>> {
    let until = today.checked_add(jiff::Span::new().days(within_days)).unwrap_or(today);
    let mut params: Vec<Value> = vec![today.into(), until.into(), limit.into()];
    let cond = scope.condition(&mut params);
    c.query(
        &format!(
            "SELECT {CUSTOMER_SELECT} {CUSTOMER_FROM} WHERE c.contract_end >= $1 AND c.contract_end <= $2 AND {cond}
             ORDER BY c.contract_end ASC, c.id ASC LIMIT $3"
        ),
        &params,
    )?
    .iter()
    .map(customer)
    .collect()
}

/// How many customers' contracts end within `within_days` from `today`.
pub fn count_renewals_due(c: &mut Conn, scope: &Scope, today: Date, within_days: i32) -> Result<i64> {
    let until = today.checked_add(jiff::Span::new().days(within_days)).unwrap_or(today);
    let mut params: Vec<Value> = vec![today.into(), until.into()];
    let cond = scope.condition(&mut params);
    c.scalar(
        &format!("SELECT COUNT(*) FROM customers c WHERE c.contract_end >= $1 AND c.contract_end <= $2 AND {cond}"),
        &params,
    )
}

pub fn count(c: &mut Conn) -> Result<i64> {
    c.scalar("SELECT COUNT(*) FROM customers", &[])
}

// ---- Bulk lookups for import and export (SPEC C9) ----

/// Placeholders `$first, $first+1, …` for `n` values.
fn marks(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// The customers with one of these codes or external ids, with their tags:
/// an import's rows that update an existing record. One query per 500 keys.
pub fn find_by_codes_or_external_ids(c: &mut Conn, codes: &[String], external_ids: &[String]) -> Result<Vec<Customer>> {
    let mut found: Vec<Customer> = Vec::new();
    for (col, keys) in [("c.code", codes), ("c.external_id", external_ids)] {
        for chunk in keys.chunks(500) {
            let values: Vec<Value> = chunk.iter().map(|k| Value::Text(k.clone())).collect();
            let sql = format!("SELECT {CUSTOMER_SELECT} {CUSTOMER_FROM} WHERE {col} IN ({})", marks(1, chunk.len()));
            for r in c.query(&sql, &values)? {
                let cust = customer(&r)?;
                if !found.iter().any(|x| x.id == cust.id) {
                    found.push(cust);
                }
            }
        }
    }
    for chunk in found.chunks_mut(500) {
        attach_tags(c, chunk)?;
    }
    Ok(found)
}

/// Customer ids by code and by external id, for rows that name a customer
/// (contacts, orders). One query per 500 keys.
pub fn ids_by_codes_or_external_ids(
    c: &mut Conn,
    codes: &[String],
    external_ids: &[String],
) -> Result<(std::collections::HashMap<String, i64>, std::collections::HashMap<String, i64>)> {
    let mut by_code = std::collections::HashMap::new();
    let mut by_external = std::collections::HashMap::new();
    for (col, keys, map) in [("code", codes, &mut by_code), ("external_id", external_ids, &mut by_external)] {
        for chunk in keys.chunks(500) {
            let values: Vec<Value> = chunk.iter().map(|k| Value::Text(k.clone())).collect();
            let sql = format!("SELECT {col}, id FROM customers WHERE {col} IN ({})", marks(1, chunk.len()));
            for r in c.query(&sql, &values)? {
                map.insert(r.get::<String>(0)?, r.get::<i64>(1)?);
            }
        }
    }
    Ok((by_code, by_external))
}

/// An active user as an import names an owner: by id, email or name.
#[derive(Debug, Clone)]
pub struct OwnerCandidate {
    pub id: i64,
    pub email: String,
    pub name: String,
}

/// Active users whose id, email or name is one of `keys`. One query per 300 keys.
pub fn active_users_matching(c: &mut Conn, keys: &[String]) -> Result<Vec<OwnerCandidate>> {
    let mut out: Vec<OwnerCandidate> = Vec::new();
    for chunk in keys.chunks(300) {
        let n = chunk.len();
        let mut values: Vec<Value> = vec![Value::Bool(true)];
        values.extend(chunk.iter().map(|k| Value::Text(k.clone())));
        values.extend(chunk.iter().map(|k| Value::Text(k.to_lowercase())));
        values.extend(chunk.iter().map(|k| Value::I64(k.trim().parse::<i64>().unwrap_or(0))));
        let sql = format!(
            "SELECT id, email, name FROM users WHERE active = $1 AND (name IN ({}) OR LOWER(email) IN ({}) OR id IN ({}))",
            marks(2, n),
            marks(2 + n, n),
            marks(2 + 2 * n, n)
        );
        for r in c.query(&sql, &values)? {
            let u = OwnerCandidate { id: r.get(0)?, email: r.get(1)?, name: r.get(2)? };
            if !out.iter().any(|x| x.id == u.id) {
                out.push(u);
            }
        }
    }
    Ok(out)
}
