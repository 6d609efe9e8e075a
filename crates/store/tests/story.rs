//! One story over the store API, run on every engine available (SQLite
//! always, PostgreSQL when GUANXI_TEST_POSTGRES_URL is set).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use guanxi_domain::customer::{CustomerDraft, CustomerInput};
use guanxi_domain::user::{GroupKind, UserDraft, UserInput};
use guanxi_store::customers::{self, CustomerFilter, CustomerSort, Scope};
use guanxi_store::{Db, DbOptions, StoreError, args, settings, testing, users};
use jiff::Timestamp;

fn now() -> Timestamp {
    "2026-11-23T02:00:00Z".parse().unwrap()
}

fn draft(name: &str, owner: Option<i64>, tags: &[&str]) -> CustomerDraft {
    CustomerDraft::parse(
        &CustomerInput {
            name: name.into(),
            industry: Some("制造业".into()),
            owner_id: owner,
            tags: Some(tags.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        },
        jiff::civil::date(2026, 11, 23),
    )
    .unwrap()
}

async fn story(db: Db) {
    let g = db.write(|c| users::create_group(c, "华东客服组", GroupKind::Team, now())).await.unwrap();
    let agent = UserDraft::parse(
        &UserInput {
            email: "wang@corp.cn".into(),
            name: "王芳".into(),
            role: "agent".into(),
            group_id: Some(g),
            password: Some("password123".into()),
            ..Default::default()
        },
        true,
    )
    .unwrap();
    let a = agent.clone();
    let agent_id = db.write(move |c| users::create(c, &a, "hash", now())).await.unwrap();
    // The same email again is refused with a field error, and nothing is written.
    let a = agent.clone();
    match db.write(move |c| users::create(c, &a, "hash", now())).await {
        Err(StoreError::Invalid(e)) => assert_eq!(e.fields(), vec!["email"]),
        other => panic!("expected a field error, got {other:?}"),
    }
    assert_eq!(db.read(users::count).await.unwrap(), 1);

    let d1 = draft("上海明远机械有限公司", Some(agent_id), &["高价值", "活跃"]);
    let (id1, code1) = db.write(move |c| customers::insert(c, &d1, &None, &None, None, now())).await.unwrap();
    assert_eq!(code1, "KH000001");
    let d2 = draft("杭州青禾电子商务", None, &["活跃"]);
    let (id2, code2) = db.write(move |c| customers::insert(c, &d2, &None, &None, None, now())).await.unwrap();
    assert_eq!(code2, "KH000002");

    // Unknown owner: a field error, and the counter did not move.
    let bad = draft("不存在的负责人", Some(9999), &[]);
    match db.write(move |c| customers::insert(c, &bad, &None, &None, None, now())).await {
        Err(StoreError::Invalid(e)) => assert_eq!(e.fields(), vec!["owner_id"]),
        other => panic!("expected a field error, got {other:?}"),
    }
    let counter = db.read(|c| settings::get(c, "x")).await.unwrap();
    assert_eq!(counter, None);
    let n: i64 =
        db.read(|c| c.scalar("SELECT value FROM counters WHERE name = $1", args!["customer_code"])).await.unwrap();
    assert_eq!(n, 2);

    // Filters and scope.
    let list = |f: CustomerFilter, s: Scope| {
        let db = db.clone();
        async move { db.read(move |c| customers::list(c, &s, &f)).await.unwrap() }
    };
    let all = list(CustomerFilter { per_page: 10, ..Default::default() }, Scope::All).await;
    assert_eq!(all.total, 2);
    let tagged =
        list(CustomerFilter { tag: Some("高价值".into()), per_page: 10, ..Default::default() }, Scope::All).await;
    assert_eq!(tagged.items.iter().map(|c| c.id).collect::<Vec<_>>(), vec![id1]);
    assert_eq!(tagged.items[0].tags, vec!["活跃", "高价值"]);
    let by_name = list(CustomerFilter { q: Some("青禾".into()), per_page: 10, ..Default::default() }, Scope::All).await;
    assert_eq!(by_name.items.iter().map(|c| c.id).collect::<Vec<_>>(), vec![id2]);
    let by_code =
        list(CustomerFilter { q: Some("kh000001".into()), per_page: 10, ..Default::default() }, Scope::All).await;
    assert_eq!(by_code.total, 1);
    let wildcard = list(CustomerFilter { q: Some("%".into()), per_page: 10, ..Default::default() }, Scope::All).await;
    assert_eq!(wildcard.total, 0, "LIKE wildcards in the query are literal");
    let mine = list(CustomerFilter { per_page: 10, ..Default::default() }, Scope::OwnedBy(vec![agent_id])).await;
    assert_eq!(mine.total, 1);
    let sorted =
        list(CustomerFilter { sort: CustomerSort::CodeAsc, per_page: 1, page: 2, ..Default::default() }, Scope::All)
            .await;
    assert_eq!(sorted.items[0].code, "KH000002");
    assert_eq!(sorted.total, 2);

    // Out of scope looks like missing.
    let err = db.read(move |c| customers::get(c, &Scope::OwnedBy(vec![agent_id]), id2)).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound));

    // Update replaces fields and tags; delete removes tags too.
    let d = draft("上海明远机械股份有限公司", Some(agent_id), &["战略客户"]);
    db.write(move |c| customers::update(c, &Scope::All, id1, &d, &None, &None, now())).await.unwrap();
    let got = db.read(move |c| customers::get(c, &Scope::All, id1)).await.unwrap();
    assert_eq!(got.name, "上海明远机械股份有限公司");
    assert_eq!(got.tags, vec!["战略客户"]);
    assert_eq!(got.owner_name.as_deref(), Some("王芳"));
    db.write(move |c| customers::delete(c, &Scope::All, id1)).await.unwrap();
    let tags: i64 = db.read(|c| c.scalar("SELECT COUNT(*) FROM customer_tags", &[])).await.unwrap();
    assert_eq!(tags, 1);
}

#[tokio::test]
async fn store_story_on_every_engine() {
    for t in testing::engines().unwrap() {
        eprintln!("engine: {}", t.name);
        let db = Db::open(&t.target, &DbOptions::default()).unwrap();
        story(db).await;
    }
}

#[tokio::test]
async fn a_failed_write_in_a_group_commit_undoes_only_itself() {
    for t in testing::engines().unwrap() {
        let db = Db::open(&t.target, &DbOptions::default()).unwrap();
        // Migrations may seed settings of their own.
        let before: i64 = db.read(|c| c.scalar("SELECT COUNT(*) FROM settings", &[])).await.unwrap();
        let mut handles = Vec::new();
        for i in 0..50i64 {
            let db = db.clone();
            handles.push(tokio::spawn(async move {
                db.write(move |c| {
                    c.execute(
                        "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, 0)",
                        args![format!("k{i}"), "v"],
                    )?;
                    if i % 5 == 0 {
                        return Err(StoreError::Other("refused".into()));
                    }
                    Ok(i)
                })
                .await
            }));
        }
        let mut ok = 0;
        for h in handles {
            if h.await.unwrap().is_ok() {
                ok += 1;
            }
        }
        assert_eq!(ok, 40);
        let n: i64 = db.read(|c| c.scalar("SELECT COUNT(*) FROM settings", &[])).await.unwrap();
        assert_eq!(n - before, 40, "{}: only the successful writes are committed", t.name);
    }
}

/// Holds the SQLite writer (a write waiting for the returned sender) so
/// that the writes queued meanwhile are committed as one group; the handle
/// answers once it has let go.
async fn hold_writer(db: &Db) -> (std::sync::mpsc::Sender<()>, tokio::task::JoinHandle<guanxi_store::Result<()>>) {
    let (release, held) = std::sync::mpsc::channel::<()>();
    let db = db.clone();
    let hold = tokio::spawn(async move {
        db.write(move |_| {
            let _ = held.recv_timeout(std::time::Duration::from_secs(30));
            Ok(())
        })
        .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    (release, hold)
}

/// Repeatable writes (`Db::write_repeatable`, ticket creation) share a
/// group commit without savepoints; when one of them fails, the group is
/// rolled back and run again write by write, so that every caller still
/// gets its own answer and only the successful writes are committed, once
/// each (a write whose first run was not undone would hit its own key).
#[tokio::test]
async fn a_failed_repeatable_write_undoes_only_itself_and_the_others_run_again() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    for t in testing::engines().unwrap() {
        let db = Db::open(&t.target, &DbOptions::default()).unwrap();
        let before: i64 = db.read(|c| c.scalar("SELECT COUNT(*) FROM settings", &[])).await.unwrap();
        // Hold the SQLite writer until every write below is queued, so that
        // they are committed as one group.
        let (release, hold) = hold_writer(&db).await;
        let runs = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::new();
        for i in 0..60i64 {
            let (db, runs) = (db.clone(), runs.clone());
            handles.push(tokio::spawn(async move {
                let insert = move |c: &mut guanxi_store::Conn| {
                    c.execute(
                        "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, 0)",
                        args![format!("k{i}"), "v"],
                    )
                };
                if i % 2 == 0 {
                    db.write_repeatable(move |c| {
                        runs.fetch_add(1, Ordering::SeqCst);
                        insert(c)?;
                        // The count as this run sees it: the answer is the last run's.
                        let seen: i64 =
                            c.scalar("SELECT COUNT(*) FROM settings WHERE key = $1", args![format!("k{i}")])?;
                        if i % 10 == 4 { Err(StoreError::Other("refused".into())) } else { Ok(seen) }
                    })
                    .await
                } else {
                    db.write(move |c| {
                        insert(c)?;
                        if i % 7 == 0 { Err(StoreError::Other("refused".into())) } else { Ok(1) }
                    })
                    .await
                }
            }));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        release.send(()).unwrap();
        hold.await.unwrap().unwrap();
        let mut expected = 0;
        for (i, h) in handles.into_iter().enumerate() {
            let refused = if i % 2 == 0 { i % 10 == 4 } else { i % 7 == 0 };
            match h.await.unwrap() {
                Ok(seen) => {
                    assert!(!refused, "{}: write {i} should have been refused", t.name);
                    assert_eq!(seen, 1, "{}: write {i} saw its key once", t.name);
                    expected += 1;
                }
                Err(e) => assert!(refused, "{}: write {i} failed: {e:?}", t.name),
            }
        }
        let n: i64 = db.read(|c| c.scalar("SELECT COUNT(*) FROM settings", &[])).await.unwrap();
        assert_eq!(n - before, expected, "{}: only the successful writes are committed", t.name);
        let runs = runs.load(Ordering::SeqCst);
        if t.name == "sqlite" {
            assert!(runs > 30, "the group was rolled back and its repeatable writes run again ({runs} runs)");
        } else {
            assert_eq!(runs, 30, "{}: no group commit, each write runs once", t.name);
        }
    }
}

/// SQLite rolls a transaction back by itself on a full disk or an I/O
/// error (here: the database at its `max_page_count`). The writes of the
/// group that had run answer with an error and leave nothing; the writes
/// queued behind the one that failed run in the next transaction, not in
/// one their savepoint would begin and commit by itself.
#[tokio::test]
async fn writes_in_a_transaction_sqlite_rolled_back_fail_and_the_rest_run_in_the_next() {
    let t = testing::sqlite().unwrap();
    let db = Db::open(&t.target, &DbOptions::default()).unwrap();
    db.write(|c| {
        let pages: i64 = c.scalar("PRAGMA page_count", &[])?;
        c.query(&format!("PRAGMA max_page_count = {}", pages + 40), &[])?;
        Ok(())
    })
    .await
    .unwrap();
    let insert = |db: &Db, key: &'static str, len: usize| {
        let db = db.clone();
        tokio::spawn(async move {
            db.write(move |c| {
                c.execute(
                    "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, 0)",
                    args![key, "x".repeat(len)],
                )
            })
            .await
        })
    };
    let (release, hold) = hold_writer(&db).await;
    let mut writes = Vec::new();
    for (key, len) in [("before", 10), ("too-big", 1_000_000), ("after", 10)] {
        writes.push(insert(&db, key, len));
        // Queued in this order.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    release.send(()).unwrap();
    hold.await.unwrap().unwrap();
    let mut answers = Vec::new();
    for w in writes {
        answers.push(w.await.unwrap());
    }
    let keys: Vec<String> = db
        .read(|c| {
            c.query("SELECT key FROM settings WHERE key IN ('before', 'too-big', 'after') ORDER BY key", &[])?
                .iter()
                .map(|r| r.get(0))
                .collect()
        })
        .await
        .unwrap();
    assert_eq!(keys, ["after"], "only the write after it is there");
    assert_eq!(answers[2].as_ref().ok(), Some(&1), "the write after it ran again: {:?}", answers[2]);
    let before = answers[0].as_ref().expect_err("its transaction was rolled back").to_string();
    assert!(before.contains("rolled the transaction back"), "{before}");
    let too_big = answers[1].as_ref().expect_err("the database is full").to_string();
    assert!(too_big.contains("full"), "{too_big}");
    // The writer goes on.
    insert(&db, "later", 10).await.unwrap().unwrap();
}

/// A bulk write refuses rows naming a missing customer by itself (foreign
/// keys are off while it runs on SQLite), writes nothing then, and leaves
/// foreign keys enforced for the writes after it.
#[tokio::test]
async fn bulk_writes_check_their_references_and_leave_foreign_keys_on() {
    use guanxi_domain::contact::{ContactDraft, ContactInput};
    use guanxi_store::contacts::{self, SealedContact};
    use guanxi_store::timeline::{self, NewEntry, kind};
    for t in testing::engines().unwrap() {
        let db = Db::open(&t.target, &DbOptions::default()).unwrap();
        let person =
            ContactDraft::parse(&ContactInput { name: "赵敏".into(), ..Default::default() }, now_date()).unwrap();
        // A batch with one good customer and one missing: nothing written.
        let made = db
            .write_bulk(|c| {
                let d = draft("上海鼎盛物流", None, &[]);
                customers::insert_many(
                    c,
                    &[customers::NewCustomer { draft: &d, phone: &None, email: &None }],
                    None,
                    now(),
                )
            })
            .await
            .unwrap();
        let id = made[0].0;
        let p1 = person.clone();
        let err = db
            .write_bulk(move |c| {
                let sealed = SealedContact::default();
                contacts::insert_many(c, &[(id, &p1, &sealed), (id + 1000, &p1, &sealed)], now())
            })
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{}: {err:?}", t.name);
        let err = db
            .write_bulk(move |c| {
                timeline::append_many(
                    c,
                    &[NewEntry {
                        customer_id: id + 1000,
                        at: now(),
                        kind: kind::CUSTOMER,
                        ref_id: None,
                        title: "x".into(),
                        body: None,
                        actor_id: None,
                    }],
                )
            })
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{}: {err:?}", t.name);
        let n: i64 = db.read(|c| c.scalar("SELECT COUNT(*) FROM contacts", &[])).await.unwrap();
        assert_eq!(n, 0, "{}: the refused batch wrote nothing", t.name);
        // Foreign keys are enforced again for ordinary writes.
        let orphan = db
            .write(move |c| {
                c.execute("INSERT INTO customer_tags (customer_id, tag) VALUES ($1, $2)", args![id + 1000, "孤儿"])
            })
            .await;
        assert!(orphan.is_err(), "{}: a row naming a missing customer is refused", t.name);
        let good = db.write_bulk(move |c| {
            let sealed = SealedContact::default();
            contacts::insert_many(c, &[(id, &person, &sealed)], now())
        });
        assert_eq!(good.await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn reopening_applies_no_migration_twice() {
    for t in testing::engines().unwrap() {
        let db = Db::open(&t.target, &DbOptions::default()).unwrap();
        assert_eq!(db.migrate().await.unwrap(), 0);
        drop(db);
        let db = Db::open(&t.target, &DbOptions::default()).unwrap();
        let v: i64 = db.read(|c| c.scalar("SELECT COUNT(*) FROM schema_migrations", &[])).await.unwrap();
        assert_eq!(v as usize, guanxi_store::migrate::known(db.engine()));
        assert_eq!(
            guanxi_store::migrate::known(guanxi_store::Engine::Sqlite),
            guanxi_store::migrate::known(guanxi_store::Engine::Postgres)
        );
    }
}

/// Name search through the gram index (SPEC C8): fragments of customer and
/// contact names, one character, several words, renames, scope, and the cap.
#[tokio::test]
async fn name_search_finds_fragments_and_follows_changes() {
    use guanxi_domain::contact::{ContactDraft, ContactInput};
    use guanxi_store::contacts::{self, SealedContact};
    for t in testing::engines().unwrap() {
        let db = Db::open(&t.target, &DbOptions::default()).unwrap();
        let ids = |p: customers::CustomerPage| p.items.iter().map(|c| c.id).collect::<Vec<_>>();
        let search = |q: &str, scope: Scope| {
            let db = db.clone();
            let f = CustomerFilter { q: Some(q.into()), per_page: 50, ..Default::default() };
            async move { db.read(move |c| customers::list(c, &scope, &f)).await.unwrap() }
        };
        let owner = UserDraft::parse(
            &UserInput {
                email: "li@corp.cn".into(),
                name: "李静".into(),
                role: "agent".into(),
                password: Some("password123".into()),
                ..Default::default()
            },
            true,
        )
        .unwrap();
        let owner_id = db.write(move |c| users::create(c, &owner, "hash", now())).await.unwrap();
        let mut made = Vec::new();
        for (name, owned) in
            [("北京明远科技有限公司", true), ("深圳星辰 Robotics 有限公司", false), ("明科贸易", false)]
        {
            let d = draft(name, owned.then_some(owner_id), &[]);
            made.push(db.write(move |c| customers::insert(c, &d, &None, &None, None, now())).await.unwrap().0);
        }
        let (ming_yuan, xing_chen, ming_ke) = (made[0], made[1], made[2]);

        assert_eq!(ids(search("明远科技", Scope::All).await), vec![ming_yuan], "{}", t.name);
        assert_eq!(ids(search("远科", Scope::All).await), vec![ming_yuan]);
        assert_eq!(ids(search("明科", Scope::All).await), vec![ming_ke], "grams in the wrong order do not match");
        assert_eq!(ids(search("robot", Scope::All).await), vec![xing_chen], "case-insensitive");
        assert_eq!(ids(search("星辰 有限", Scope::All).await), vec![xing_chen], "words in order");
        assert_eq!(ids(search("司", Scope::All).await), vec![xing_chen, ming_yuan], "one character, at a word's end");
        assert_eq!(ids(search("明", Scope::All).await), vec![ming_ke, ming_yuan], "one character, newest first");
        assert!(search("明远科技集团", Scope::All).await.items.is_empty());
        assert_eq!(ids(search("明远", Scope::OwnedBy(vec![owner_id])).await), vec![ming_yuan]);
        assert!(search("明科", Scope::OwnedBy(vec![owner_id])).await.items.is_empty(), "scope applies to search");

        // A contact's name finds its customer; renaming or deleting the
        // contact moves the match.
        let contact =
            ContactDraft::parse(&ContactInput { name: "欧阳娜娜".into(), ..Default::default() }, now_date()).unwrap();
        let cd = contact.clone();
        let cid =
            db.write(move |c| contacts::insert(c, xing_chen, &cd, &SealedContact::default(), now())).await.unwrap();
        assert_eq!(ids(search("欧阳", Scope::All).await), vec![xing_chen]);
        let renamed = ContactDraft { name: "司马光".into(), ..contact };
        db.write(move |c| contacts::update(c, cid, &renamed, &SealedContact::default(), now())).await.unwrap();
        assert!(search("欧阳", Scope::All).await.items.is_empty());
        assert_eq!(ids(search("司马", Scope::All).await), vec![xing_chen]);
        db.write(move |c| contacts::delete(c, cid)).await.unwrap();
        assert!(search("司马", Scope::All).await.items.is_empty());

        // Renaming the customer moves its grams.
        let d = draft("广州青禾食品有限公司", None, &[]);
        db.write(move |c| customers::update(c, &Scope::All, ming_yuan, &d, &None, &None, now())).await.unwrap();
        assert!(search("明远", Scope::All).await.items.is_empty());
        assert_eq!(ids(search("青禾食品", Scope::All).await), vec![ming_yuan]);

        // A contact sharing grams with its customer, then the customer
        // deleted: the counts the search walks by stay those of name_grams.
        let same =
            ContactDraft::parse(&ContactInput { name: "星辰".into(), ..Default::default() }, now_date()).unwrap();
        db.write(move |c| contacts::insert(c, xing_chen, &same, &SealedContact::default(), now())).await.unwrap();
        db.write(move |c| customers::delete(c, &Scope::All, ming_ke)).await.unwrap();
        let counts = |sql: &'static str| {
            let db = db.clone();
            async move {
                db.read(move |c| {
                    c.query(sql, &[])?.iter().map(|r| Ok((r.get::<String>(0)?, r.get::<i64>(1)?))).collect()
                })
                .await
                .unwrap()
            }
        };
        let kept: Vec<(String, i64)> = counts("SELECT gram, n FROM gram_counts WHERE n <> 0 ORDER BY gram").await;
        let actual: Vec<(String, i64)> =
            counts("SELECT gram, COUNT(*) FROM name_grams GROUP BY gram ORDER BY gram").await;
        assert_eq!(kept, actual, "{}", t.name);
        assert!(kept.iter().any(|(g, n)| g == "星辰" && *n == 1), "{kept:?}");
        assert!(!kept.iter().any(|(g, _)| g == "明科"), "{kept:?}");
    }
}

fn now_date() -> jiff::civil::Date {
    jiff::civil::date(2026, 11, 23)
}

/// A search matching more than the cap lists the newest `SEARCH_CAP` and
/// says it was capped; a narrower one is exact.
#[tokio::test]
async fn broad_searches_are_capped() {
    let t = testing::sqlite().unwrap();
    let db = Db::open(&t.target, &DbOptions::default()).unwrap();
    // 华信物流0号 … 华信物流204号 (with SEARCH_CAP = 200), and 华信物流1234号.
    let n = customers::SEARCH_CAP + 5;
    db.write(move |c| {
        for i in (0..n).chain([1234]) {
            customers::insert(c, &draft(&format!("华信物流{i}号"), None, &[]), &None, &None, None, now())?;
        }
        Ok(())
    })
    .await
    .unwrap();
    let search = |q: &str| {
        let db = db.clone();
        let f = CustomerFilter { q: Some(q.into()), per_page: 20, ..Default::default() };
        async move { db.read(move |c| customers::list(c, &Scope::All, &f)).await.unwrap() }
    };
    let page = search("华信").await;
    assert!(page.total_capped);
    assert_eq!(page.total as usize, customers::SEARCH_CAP);
    assert_eq!(page.items[0].name, "华信物流1234号", "the newest first");
    // A list without a search counts up to COUNT_CAP; this one is below it.
    let f = CustomerFilter { per_page: 20, ..Default::default() };
    let all = db.read(move |c| customers::list(c, &Scope::All, &f)).await.unwrap();
    assert_eq!((all.total as usize, all.total_capped), (n + 1, false));
    // Digits only (4+) are a phone number: names are not searched for them.
    assert_eq!(search("1234").await.total, 0);
    assert_eq!(search("物流1234").await.total, 1);
    // Fewer digits still search names: 20, 120, 200–204.
    let page = search("20").await;
    assert_eq!((page.total, page.total_capped), (7, false));
    let page = search("物流20").await;
    assert_eq!((page.total, page.total_capped), (6, false), "物流20号 and 物流200号 … 物流204号");
}

/// The bulk paths (imports, the benchmark data set) write what the
/// one-by-one paths write: codes in order, tags, name grams, search
/// digests; re-sent orders are left alone.
#[tokio::test]
async fn bulk_inserts_match_single_inserts() {
    use guanxi_domain::contact::{ContactDraft, ContactInput};
    use guanxi_domain::order::{OrderDraft, OrderInput};
    use guanxi_store::contacts::{self, SealedContact};
    use guanxi_store::customers::{ContactLookup, NewCustomer, PhoneCheck, Sealed};
    use guanxi_store::orders;
    for t in testing::engines().unwrap() {
        let db = Db::open(&t.target, &DbOptions::default()).unwrap();
        let single = draft("成都博瑞医疗器械", None, &[]);
        db.write(move |c| customers::insert(c, &single, &None, &None, None, now())).await.unwrap();
        let (ids, contact_ids, first, again) = db
            .write(move |c| {
                let drafts = [draft("上海鼎盛物流", None, &["重点"]), draft("武汉金桥食品", None, &[])];
                let phone = Some(Sealed {
                    ciphertext: "x".into(),
                    masked: "138****0000".into(),
                    index: "i".into(),
                    search: vec!["d-0000".into()],
                    ending: Some("d-1230000".into()),
                });
                let new: Vec<NewCustomer<'_>> = drafts
                    .iter()
                    .enumerate()
                    .map(|(i, d)| NewCustomer { draft: d, phone: if i == 0 { &phone } else { &None }, email: &None })
                    .collect();
                let made = customers::insert_many(c, &new, None, now())?;
                let person =
                    ContactDraft::parse(&ContactInput { name: "赵敏".into(), ..Default::default() }, now_date())
                        .unwrap();
                let sealed = SealedContact {
                    phone: phone.clone().map(|p| Sealed { ciphertext: "y".into(), ..p }),
                    ..Default::default()
                };
                let contact_ids = contacts::insert_many(c, &[(made[1].0, &person, &sealed)], now())?;
                let order = |ext: &str| {
                    OrderDraft::parse(
                        &OrderInput {
                            ordered_on: "2026-10-01".into(),
                            amount: "1200.50".into(),
                            external_id: Some(ext.into()),
                            ..Default::default()
                        },
                        now_date(),
                    )
                    .unwrap()
                };
                let (o1, o2) = (order("O-1"), order("O-2"));
                let first = orders::insert_many(c, &[(made[0].0, &o1), (made[0].0, &o2)], now())?;
                let again = orders::insert_many(c, &[(made[0].0, &o1)], now())?;
                Ok((made, contact_ids, first, again))
            })
            .await
            .unwrap();
        assert_eq!(ids.iter().map(|x| x.1.as_str()).collect::<Vec<_>>(), vec!["KH000002", "KH000003"], "{}", t.name);
        let got = db.read({
            let id = ids[0].0;
            move |c| customers::get(c, &Scope::All, id)
        });
        let got = got.await.unwrap();
        assert_eq!((got.name.as_str(), got.tags.clone()), ("上海鼎盛物流", vec!["重点".to_string()]));
        assert_eq!(got.phone_masked.as_deref(), Some("138****0000"));
        assert_eq!(first.len(), 2);
        assert!(first.iter().all(Option::is_some));
        assert_eq!(again, vec![None], "a re-sent order changes nothing");
        let n_orders: i64 = db.read(|c| c.scalar("SELECT COUNT(*) FROM orders", &[])).await.unwrap();
        assert_eq!(n_orders, 2);
        let list = |f: CustomerFilter| {
            let db = db.clone();
            async move { db.read(move |c| customers::list(c, &Scope::All, &f)).await.unwrap() }
        };
        let lookup = |check: Option<&'static str>| {
            let check = check.map(|want| -> PhoneCheck { std::sync::Arc::new(move |stored: &str| stored == want) });
            CustomerFilter {
                contact: Some(ContactLookup { digest: "d-0000".into(), ending: None, check }),
                per_page: 10,
                ..Default::default()
            }
        };
        let by_digest = list(lookup(None)).await;
        assert_eq!(by_digest.items.iter().map(|c| c.id).collect::<Vec<_>>(), vec![ids[1].0, ids[0].0]);
        // A longer ending: the numbers found by the digest are checked
        // (the customer's own number, or its contact's).
        let own = list(lookup(Some("x"))).await;
        assert_eq!(own.items.iter().map(|c| c.id).collect::<Vec<_>>(), vec![ids[0].0]);
        let contact_s = list(lookup(Some("y"))).await;
        assert_eq!(contact_s.items.iter().map(|c| c.id).collect::<Vec<_>>(), vec![ids[1].0]);
        assert!(list(lookup(Some("z"))).await.items.is_empty());
        // Seven digits or more: the last four's rows, narrowed by the
        // digest of the last seven (one index range).
        let by_ending = |ending: &str| CustomerFilter {
            contact: Some(ContactLookup { digest: "d-0000".into(), ending: Some(ending.into()), check: None }),
            per_page: 10,
            ..Default::default()
        };
        let both = list(by_ending("d-1230000")).await;
        assert_eq!(both.items.iter().map(|c| c.id).collect::<Vec<_>>(), vec![ids[1].0, ids[0].0], "{}", t.name);
        assert!(list(by_ending("d-4560000")).await.items.is_empty(), "same last four, other last seven");
        let one_row: i64 =
            db.read(|c| c.scalar("SELECT COUNT(*) FROM contact_index WHERE ending = 'd-1230000'", &[])).await.unwrap();
        assert_eq!(one_row, 2, "one row per number (the customer's and its contact's)");
        // A number indexed before migration 0026 has its last seven digits
        // as a row of their own, and is still found.
        let old_id = ids[0].0;
        db.write(move |c| {
            c.execute(
                "INSERT INTO contact_index (digest, customer_id, contact_id) VALUES ('d-7654321', $1, NULL)",
                &[old_id.into()],
            )
        })
        .await
        .unwrap();
        let legacy = CustomerFilter {
            contact: Some(ContactLookup { digest: "d-4321".into(), ending: Some("d-7654321".into()), check: None }),
            per_page: 10,
            ..Default::default()
        };
        assert_eq!(list(legacy).await.items.iter().map(|c| c.id).collect::<Vec<_>>(), vec![old_id]);
        let by_contact = list(CustomerFilter { q: Some("赵敏".into()), per_page: 10, ..Default::default() }).await;
        assert_eq!(by_contact.items.iter().map(|c| c.id).collect::<Vec<_>>(), vec![ids[1].0]);
        let contact = db.read(move |c| contacts::get(c, contact_ids[0])).await.unwrap();
        assert_eq!(contact.customer_id, ids[1].0);
        // A taken external id refuses the whole batch.
        let err = db
            .write(|c| {
                let mut d = draft("重复", None, &[]);
                d.external_id = Some("E-1".into());
                let d2 = d.clone();
                customers::insert_many(
                    c,
                    &[
                        NewCustomer { draft: &d, phone: &None, email: &None },
                        NewCustomer { draft: &d2, phone: &None, email: &None },
                    ],
                    None,
                    now(),
                )
            })
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
        assert_eq!(db.read(customers::count).await.unwrap(), 3);
    }
}

/// What routing sees of a group, as plain values.
type Seen = Vec<(i64, i64, Option<Timestamp>, bool, String)>;

fn seen(c: &mut guanxi_store::Conn, group: i64) -> guanxi_store::Result<Seen> {
    let found = guanxi_store::routing::candidates(c, group)?;
    Ok(found
        .candidates
        .iter()
        .zip(&found.names)
        .map(|(c, n)| (c.user_id, c.load, c.last_assigned_at, c.available, n.clone()))
        .collect())
}

/// The SQLite writer keeps each group's routing candidates between
/// tickets (ticket creation reads them once per group, not per ticket).
/// Whatever changes them — a load through `add_load`, a user's update, a
/// write rolled back whole or to its savepoint after it had moved a load,
/// a commit by another connection — the writer sees exactly what a reader
/// of the committed rows sees.
#[tokio::test]
async fn the_writer_sees_routing_candidates_as_committed() {
    use guanxi_store::routing;
    for t in testing::engines().unwrap() {
        let db = Db::open(&t.target, &DbOptions::default()).unwrap();
        let g = db.write(|c| users::create_group(c, "售后一组", GroupKind::Team, now())).await.unwrap();
        let mut agents = Vec::new();
        for (i, name) in ["王芳", "李娜", "张伟"].iter().enumerate() {
            let d = UserDraft::parse(
                &UserInput {
                    email: format!("agent{i}@corp.cn"),
                    name: (*name).into(),
                    role: "agent".into(),
                    group_id: Some(g),
                    password: Some("password123".into()),
                    ..Default::default()
                },
                true,
            )
            .unwrap();
            agents.push(db.write(move |c| users::create(c, &d, "hash", now())).await.unwrap());
        }
        let (a, b, d) = (agents[0], agents[1], agents[2]);
        let check = |what: &'static str| {
            let db = db.clone();
            let name = t.name.clone();
            async move {
                let written = db.write(move |c| seen(c, g)).await.unwrap();
                let committed = db.read(move |c| seen(c, g)).await.unwrap();
                assert_eq!(written, committed, "{name}: {what}");
                written
            }
        };
        let first = check("first read").await;
        assert_eq!(first.iter().map(|s| s.0).collect::<Vec<_>>(), agents);

        // A load added: the writer's copy follows it, to the millisecond.
        let at: Timestamp = "2026-11-23T02:00:01.234567Z".parse().unwrap();
        db.write(move |c| routing::add_load(c, a, 1, at)).await.unwrap();
        let after = check("after a load").await;
        assert_eq!(after[0].1, 1);
        assert_eq!(after[0].2.map(|t| t.as_millisecond()), Some(at.as_millisecond()));
        db.write(move |c| routing::add_load(c, a, -1, at)).await.unwrap();
        assert_eq!(check("after a load taken off").await[0].1, 0);

        // A write that moved a load and then failed is rolled back whole.
        let failed = db
            .write(move |c| {
                routing::add_load(c, b, 1, at)?;
                assert_eq!(seen(c, g)?[1].1, 1, "the write sees its own load");
                Err::<(), _>(StoreError::Other("refused".into()))
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(check("after a rolled-back write").await[1].1, 0);

        // The same inside a group commit: rolled back to its savepoint while
        // the write queued behind it goes on in the same transaction.
        let (release, hold) = hold_writer(&db).await;
        let failing = {
            let db = db.clone();
            tokio::spawn(async move {
                db.write(move |c| {
                    routing::add_load(c, d, 1, at)?;
                    seen(c, g)?;
                    Err::<(), _>(StoreError::Other("refused".into()))
                })
                .await
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let behind = {
            let db = db.clone();
            tokio::spawn(async move { db.write(move |c| seen(c, g)).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        release.send(()).unwrap();
        hold.await.unwrap().unwrap();
        assert!(failing.await.unwrap().is_err());
        assert_eq!(behind.await.unwrap().unwrap()[2].1, 0, "{}: the savepoint's load was undone", t.name);
        assert_eq!(check("after a savepoint rolled back").await[2].1, 0);

        // A user changed by any statement of the writer.
        db.write(move |c| c.execute("UPDATE users SET active = $2 WHERE id = $1", args![b, false])).await.unwrap();
        let left = check("after a user left").await;
        assert_eq!(left.iter().map(|s| s.0).collect::<Vec<_>>(), vec![a, d]);
        db.write(move |c| c.execute("UPDATE users SET name = $2 WHERE id = $1", args![a, "王芳芳"])).await.unwrap();
        assert_eq!(check("after a rename").await[0].4, "王芳芳");

        // Another connection's commit (a command run beside the server).
        if let guanxi_store::DbTarget::Sqlite(path) = &t.target {
            let other = rusqlite::Connection::open(path).unwrap();
            other.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
            other.execute("UPDATE ticket_agents SET available = 0 WHERE user_id = ?1", [a]).unwrap();
            other.execute("UPDATE users SET name = '王芳' WHERE id = ?1", [a]).unwrap();
            let now_seen = check("after another connection's commit").await;
            assert!(!now_seen[0].3);
            assert_eq!(now_seen[0].4, "王芳");
        }
    }
}

/// A ticket or message insert answers the id of its own row (complaints:
/// the server's tests/complaints.rs), and a ticket refused by a foreign or
/// unique key leaves nothing behind:
/// on SQLite these inserts run without a statement journal
/// (`Conn::insert_id`), so it is SQLite's check before the write that
/// keeps the refused row out, inside a transaction that goes on.
#[tokio::test]
async fn inserts_answer_their_own_ids_and_refused_tickets_leave_nothing() {
    use guanxi_domain::customer::Channel;
    use guanxi_domain::ticket::routing::{AssigneeBy, GroupBy, RoutingReason};
    use guanxi_domain::ticket::sla::SlaClocks;
    use guanxi_domain::ticket::{Category, Priority, Status, TicketType};
    use guanxi_store::tickets::{self, NewTicket};
    fn new_ticket(c: &mut guanxi_store::Conn, number: &str, customer_id: i64) -> guanxi_store::Result<i64> {
        let routing = RoutingReason {
            group_by: GroupBy::None,
            group: None,
            skill: None,
            assignee_by: AssigneeBy::Unassigned,
            raised: None,
            tier_schedule: None,
            tier: None,
        };
        let sla = SlaClocks::default();
        tickets::insert(
            c,
            &NewTicket {
                number,
                ticket_type: TicketType::Consultation,
                channel: Channel::Phone,
                category: Category::Service,
                priority: Priority::Normal,
                status: Status::New,
                customer_id,
                subject: "发票抬头开错需要重开",
                description: "客户来电。",
                group_id: None,
                assignee_id: None,
                schedule_code: "default",
                routing: &routing,
                repeat_of: None,
                sla: &sla,
                external_id: None,
                created_by: None,
                received_at: now(),
                now: now(),
            },
        )
    }
    let count = |c: &mut guanxi_store::Conn| -> guanxi_store::Result<(i64, i64)> {
        Ok((c.scalar("SELECT COUNT(*) FROM tickets", &[])?, c.scalar("SELECT COUNT(*) FROM ticket_messages", &[])?))
    };
    for t in testing::engines().unwrap() {
        let db = Db::open(&t.target, &DbOptions::default()).unwrap();
        let d = draft("杭州云帆贸易", None, &[]);
        let (customer, _) = db.write(move |c| customers::insert(c, &d, &None, &None, None, now())).await.unwrap();
        let (a, b, m, by_number, message_of) = db
            .write(move |c| {
                let a = new_ticket(c, "T1", customer)?;
                let b = new_ticket(c, "T2", customer)?;
                let m = tickets::add_message(c, a, now(), None, "note", "已回电")?;
                let by_number: i64 = c.scalar("SELECT id FROM tickets WHERE number = 'T2'", &[])?;
                let message_of: i64 = c.scalar("SELECT ticket_id FROM ticket_messages WHERE id = $1", args![m])?;
                Ok((a, b, m, by_number, message_of))
            })
            .await
            .unwrap();
        assert_ne!(a, b, "{}", t.name);
        assert_eq!(b, by_number, "{}: the id answered is the row's own", t.name);
        assert_eq!(message_of, a, "{}: the message id {m} is the message's own", t.name);

        // Refused alone: an unknown customer, a number already taken.
        let before = db.read(move |c| count(c)).await.unwrap();
        let err = db.write(|c| new_ticket(c, "T3", 999_999)).await.unwrap_err();
        assert!(err.to_string().to_lowercase().contains("foreign key"), "{}: {err}", t.name);
        let err = db.write(move |c| new_ticket(c, "T1", customer)).await.unwrap_err();
        assert!(err.is_unique_violation(), "{}: {err}", t.name);
        assert_eq!(db.read(move |c| count(c)).await.unwrap(), before, "{}", t.name);

        // Refused inside a transaction that goes on (SQLite; PostgreSQL
        // aborts the whole transaction at the first error): the refused
        // rows leave no row and no index entry.
        if t.name == "sqlite" {
            let (refused, after) = db
                .write(move |c| {
                    let refused = [new_ticket(c, "T4", 999_999).is_err(), new_ticket(c, "T2", customer).is_err()];
                    let kept = new_ticket(c, "T5", customer)?;
                    let after = count(c)?;
                    let check: String = c.scalar("PRAGMA integrity_check", &[])?;
                    assert_eq!(check, "ok");
                    let numbers: i64 = c.scalar("SELECT COUNT(*) FROM tickets INDEXED BY sqlite_autoindex_tickets_1 WHERE number IN ('T4', 'T5')", &[])?;
                    assert_eq!(numbers, 1, "only T5 is in the number index");
                    assert!(kept > b);
                    Ok((refused, after))
                })
                .await
                .unwrap();
            assert_eq!(refused, [true, true]);
            assert_eq!(after, (before.0 + 1, before.1));
        }
    }
}
