//! Contact persons of a customer (SPEC C2). Phone, email, WeChat id,
//! birthday and address arrive sealed by the caller.

use guanxi_domain::contact::ContactDraft;
use jiff::Timestamp;
use serde::Serialize;

use crate::customers::{Sealed, replace_search_index};
use crate::sql::{Conn, Row, Value};
use crate::{Result, StoreError, args};

/// The sealed personal fields of a contact.
#[derive(Debug, Clone, Default)]
pub struct SealedContact {
    pub phone: Option<Sealed>,
    pub email: Option<Sealed>,
    pub wechat: Option<Sealed>,
    pub birthday: Option<Sealed>,
    pub address: Option<Sealed>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Contact {
    pub id: i64,
    pub customer_id: i64,
    pub name: String,
    pub title: Option<String>,
    pub phone_masked: Option<String>,
    pub email_masked: Option<String>,
    pub wechat_masked: Option<String>,
    pub has_birthday: bool,
    pub has_address: bool,
    pub decision_maker: bool,
    #[serde(skip)]
    pub ciphertexts: [Option<String>; 5],
}

const COLS: &str = "id, customer_id, name, title, phone_masked, email_masked, wechat_masked, birthday_enc, address_enc,
    decision_maker, phone_enc, email_enc, wechat_enc";

fn contact(r: &Row) -> Result<Contact> {
    let birthday: Option<String> = r.get(7)?;
    let address: Option<String> = r.get(8)?;
    Ok(Contact {
        id: r.get(0)?,
        customer_id: r.get(1)?,
        name: r.get(2)?,
        title: r.get(3)?,
        phone_masked: r.get(4)?,
        email_masked: r.get(5)?,
        wechat_masked: r.get(6)?,
        has_birthday: birthday.is_some(),
        has_address: address.is_some(),
        decision_maker: r.get(9)?,
        ciphertexts: [r.get(10)?, r.get(11)?, r.get(12)?, birthday, address],
    })
}

fn sealed_values(d: &ContactDraft, s: &SealedContact) -> Vec<Value> {
    let enc = |x: &Option<Sealed>| -> Value { x.as_ref().map(|s| s.ciphertext.clone()).into() };
    let masked = |x: &Option<Sealed>| -> Value { x.as_ref().map(|s| s.masked.clone()).into() };
    vec![
        d.name.as_str().into(),
        d.title.clone().into(),
        enc(&s.phone),
        masked(&s.phone),
        enc(&s.email),
        masked(&s.email),
        enc(&s.wechat),
        masked(&s.wechat),
        enc(&s.birthday),
        enc(&s.address),
        d.decision_maker.into(),
    ]
}

pub fn insert(c: &mut Conn, customer_id: i64, d: &ContactDraft, s: &SealedContact, now: Timestamp) -> Result<i64> {
    let mut v = sealed_values(d, s);
    v.extend([customer_id.into(), now.into()]);
    let id: i64 = c.insert_id(
        "INSERT INTO contacts (name, title, phone_enc, phone_masked, email_enc, email_masked, wechat_enc, wechat_masked,
            birthday_enc, address_enc, decision_maker, customer_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)",
        &v,
    )?;
    replace_search_index(c, customer_id, Some(id), &[&s.phone, &s.email])?;
    crate::search::index_new(c, &[(customer_id, vec![d.name.clone()])])?;
    Ok(id)
}

/// Inserts many contacts with a few multi-row statements: (customer,
/// contact, sealed values). Returns their ids, in order.
pub fn insert_many(c: &mut Conn, items: &[(i64, &ContactDraft, &SealedContact)], now: Timestamp) -> Result<Vec<i64>> {
    crate::customers::check_customers_exist(c, items.iter().map(|x| x.0))?;
    let ids = crate::sql::reserve_ids(c, "contacts", items.len())?;
    let mut rows: Vec<Value> = Vec::with_capacity(items.len() * 15);
    let mut digests = Vec::with_capacity(items.len());
    let mut names = Vec::with_capacity(items.len());
    for ((customer_id, d, s), id) in items.iter().zip(&ids) {
        rows.extend(sealed_values(d, s));
        rows.extend([(*id).into(), (*customer_id).into(), now.into(), now.into()]);
        digests.push((*customer_id, Some(*id), crate::customers::digests_of(&[&s.phone, &s.email])));
        names.push((*customer_id, vec![d.name.clone()]));
    }
    crate::sql::insert_rows(
        c,
        "INSERT INTO contacts (name, title, phone_enc, phone_masked, email_enc, email_masked, wechat_enc, wechat_masked,
            birthday_enc, address_enc, decision_maker, id, customer_id, created_at, updated_at) VALUES",
        15,
        rows,
        "",
    )?;
    crate::customers::add_search_digests(c, &digests)?;
    crate::search::index_new(c, &names)?;
    Ok(ids)
}

pub fn update(c: &mut Conn, id: i64, d: &ContactDraft, s: &SealedContact, now: Timestamp) -> Result<()> {
    let existing = get(c, id)?;
    let mut v = sealed_values(d, s);
    v.extend([now.into(), id.into()]);
    c.execute(
        "UPDATE contacts SET name = $1, title = $2, phone_enc = $3, phone_masked = $4, email_enc = $5, email_masked = $6,
            wechat_enc = $7, wechat_masked = $8, birthday_enc = $9, address_enc = $10, decision_maker = $11,
            updated_at = $12 WHERE id = $13",
        &v,
    )?;
    replace_search_index(c, existing.customer_id, Some(id), &[&s.phone, &s.email])?;
    if existing.name != d.name.as_str() {
        crate::search::refresh(c, existing.customer_id)?;
    }
    Ok(())
}

pub fn get(c: &mut Conn, id: i64) -> Result<Contact> {
    contact(&c.query_one(&format!("SELECT {COLS} FROM contacts WHERE id = $1"), args![id])?)
}

pub fn delete(c: &mut Conn, id: i64) -> Result<Contact> {
    let existing = get(c, id)?;
    if c.execute("DELETE FROM contacts WHERE id = $1", args![id])? == 0 {
        return Err(StoreError::NotFound);
    }
    crate::search::refresh(c, existing.customer_id)?;
    Ok(existing)
}

pub fn for_customer(c: &mut Conn, customer_id: i64) -> Result<Vec<Contact>> {
    c.query(
        &format!("SELECT {COLS} FROM contacts WHERE customer_id = $1 ORDER BY decision_maker DESC, id LIMIT 200"),
        args![customer_id],
    )?
    .iter()
    .map(contact)
    .collect()
}

/// The contacts of several customers (an import matches its rows against
/// them). One query per 500 customers.
pub fn for_customers(c: &mut Conn, customer_ids: &[i64]) -> Result<Vec<Contact>> {
    let mut out = Vec::new();
    for chunk in customer_ids.chunks(500) {
        let values: Vec<Value> = chunk.iter().map(|id| Value::I64(*id)).collect();
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!("SELECT {COLS} FROM contacts WHERE customer_id IN ({}) ORDER BY id", marks.join(", "));
        for r in c.query(&sql, &values)? {
            out.push(contact(&r)?);
        }
    }
    Ok(out)
}
