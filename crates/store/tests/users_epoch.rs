//! `Db::users_epoch`: on SQLite it moves on with every committed write that
//! changed a user, an API token or a group (also inside a group commit, and
//! before the write's caller is answered), and stays put otherwise; on
//! PostgreSQL there is none (other instances write too).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use guanxi_store::{Db, DbOptions, testing};

#[tokio::test]
async fn the_users_epoch_moves_with_changes_to_users_tokens_and_groups() {
    for test_db in testing::engines().unwrap() {
        let e = test_db.name.clone();
        let db = Db::open(&test_db.target, &DbOptions::default()).unwrap();
        let Some(start) = db.users_epoch() else {
            assert_eq!(e, "postgres", "only PostgreSQL has no epoch");
            continue;
        };
        assert_eq!(e, "sqlite");
        let epoch = || db.users_epoch().unwrap();

        // Writes elsewhere leave it.
        db.write(|c| c.execute("INSERT INTO settings (key, value, updated_at) VALUES ('a', 'b', 0)", &[]))
            .await
            .unwrap();
        assert_eq!(epoch(), start, "a settings row is no user");

        // Each table of a user moves it, by the time the write returns.
        db.write(|c| c.execute("INSERT INTO groups (name, kind, created_at) VALUES ('g', 'team', 0)", &[]))
            .await
            .unwrap();
        let after_group = epoch();
        assert!(after_group > start, "a new group");
        let uid: i64 = db
            .write(|c| {
                c.scalar(
                    "INSERT INTO users (email, name, role, password_hash, active, certified, created_at, updated_at)
                     VALUES ('u@x.cn', 'u', 'agent', 'x', 1, 0, 0, 0) RETURNING id",
                    &[],
                )
            })
            .await
            .unwrap();
        let after_user = epoch();
        assert!(after_user > after_group, "a new user");
        db.write(move |c| {
            c.execute(
                "INSERT INTO api_tokens (user_id, token_hash, name, created_at, expires_at) VALUES ($1, 'h', 'api', 0, 1)",
                &[uid.into()],
            )
        })
        .await
        .unwrap();
        let after_token = epoch();
        assert!(after_token > after_user, "a new token");

        // Many writes committed together, one of them disabling the user:
        // every caller sees the epoch moved once its write has returned.
        let mut tasks = Vec::new();
        for i in 0..20i64 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                let r = db
                    .write(move |c| {
                        if i == 7 {
                            c.execute("UPDATE users SET active = 0 WHERE id = $1", &[uid.into()])
                        } else {
                            c.execute(
                                "INSERT INTO settings (key, value, updated_at) VALUES ($1, 'v', 0)",
                                &[format!("k{i}").into()],
                            )
                        }
                    })
                    .await
                    .unwrap();
                (i, r, db.users_epoch().unwrap())
            }));
        }
        for t in tasks {
            let (i, changed, seen) = t.await.unwrap();
            assert_eq!(changed, 1);
            if i == 7 {
                assert!(seen > after_token, "the disabling write returned after the epoch moved");
            }
        }
        let after_batch = epoch();
        assert!(after_batch > after_token);

        // A refused write that had changed a user moves it too (never too
        // little), and reads move nothing.
        let refused = db
            .write(move |c| {
                c.execute("UPDATE users SET name = 'v' WHERE id = $1", &[uid.into()])?;
                c.execute("INSERT INTO no_such_table VALUES (1)", &[])
            })
            .await;
        assert!(refused.is_err());
        let after_refused = epoch();
        assert!(after_refused > after_batch);
        let name: String =
            db.read(move |c| c.scalar("SELECT name FROM users WHERE id = $1", &[uid.into()])).await.unwrap();
        assert_eq!(name, "u", "the refused write was undone");
        assert_eq!(epoch(), after_refused);
    }
}
