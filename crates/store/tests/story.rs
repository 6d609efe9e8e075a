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
        assert_eq!(n, 40, "{}: only the successful writes are committed", t.name);
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
