//! The PostgreSQL engine: a fixed set of worker threads, each owning a
//! connection, take jobs from one queue. Several `guanxi serve` instances may
//! share the database; PostgreSQL does the locking.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use bytes::BytesMut;
use crossbeam_channel::{Receiver, Sender};
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio::sync::oneshot;

use crate::sql::{Conn, Engine, PgConn, Row, Value};
use crate::{DbOptions, Result, StoreError, migrate};

type Job = Box<dyn FnOnce(&mut Conn) + Send>;

#[derive(Clone)]
pub(crate) struct PgDb {
    jobs: Sender<Job>,
}

fn connect(url: &str) -> Result<Conn> {
    let client = postgres::Client::connect(url, postgres::NoTls)?;
    Ok(Conn::Postgres(Box::new(PgConn { client, statements: HashMap::new() })))
}

impl PgDb {
    pub(crate) fn open(url: &str, options: &DbOptions) -> Result<Self> {
        let mut first = connect(url)?;
        migrate::apply_outside_transaction(&mut first, Engine::Postgres)?;
        let mut conns = vec![first];
        for _ in 1..options.pool_size.max(1) {
            conns.push(connect(url)?);
        }
        let (tx, rx) = crossbeam_channel::unbounded::<Job>();
        let url: Arc<str> = Arc::from(url);
        for (i, conn) in conns.into_iter().enumerate() {
            let rx = rx.clone();
            let url = url.clone();
            std::thread::Builder::new()
                .name(format!("pg-{i}"))
                .spawn(move || worker(conn, &url, rx))
                .map_err(|e| StoreError::Other(format!("cannot start database thread: {e}")))?;
        }
        Ok(Self { jobs: tx })
    }

    pub(crate) async fn run<T, F>(&self, write: bool, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T>>();
        let job: Job = Box::new(move |conn| {
            let r = (|| {
                conn.batch(if write { "BEGIN" } else { "BEGIN READ ONLY" })?;
                match f(conn) {
                    Ok(v) => {
                        conn.batch("COMMIT").map_err(|e| StoreError::Commit(e.to_string()))?;
                        Ok(v)
                    }
                    Err(e) => {
                        conn.batch("ROLLBACK")?;
                        Err(e)
                    }
                }
            })();
            let _ = tx.send(r);
        });
        self.jobs.send(job).map_err(|_| StoreError::WorkerGone)?;
        rx.await.map_err(|_| StoreError::WorkerGone)?
    }
}

fn worker(mut conn: Conn, url: &str, rx: Receiver<Job>) {
    while let Ok(job) = rx.recv() {
        if let Conn::Postgres(c) = &conn
            && c.client.is_closed()
        {
            match connect(url) {
                Ok(fresh) => conn = fresh,
                Err(e) => tracing::error!(error = %e, "cannot reconnect to PostgreSQL"),
            }
        }
        if catch_unwind(AssertUnwindSafe(|| job(&mut conn))).is_err() {
            tracing::error!("a database job panicked");
        }
        if let Conn::Postgres(c) = &mut conn {
            // A job that failed half-way may leave a transaction open.
            if !c.client.is_closed() {
                let _ = c.client.batch_execute("ROLLBACK");
            }
        }
    }
}

/// Parameters accept whatever column type PostgreSQL infers, so one `Value`
/// works for BIGINT, INTEGER, TEXT or BOOLEAN columns alike.
impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::I64(i) => match *ty {
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::FLOAT8 =>
                {
                    #[allow(clippy::cast_precision_loss)]
                    (*i as f64).to_sql(ty, out)
                }
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => i.to_string().to_sql(ty, out),
                _ => i.to_sql(ty, out),
            },
            Value::F64(f) => f.to_sql(ty, out),
            Value::Bool(b) => match *ty {
                Type::INT8 => i64::from(*b).to_sql(ty, out),
                _ => b.to_sql(ty, out),
            },
            Value::Text(s) => s.as_str().to_sql(ty, out),
            Value::Bytes(b) => b.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

pub(crate) fn params(args: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

pub(crate) fn row(r: &postgres::Row) -> Result<Row> {
    let mut vals = Vec::with_capacity(r.len());
    for (i, col) in r.columns().iter().enumerate() {
        let err = |e: postgres::Error| StoreError::Decode { column: i, reason: e.to_string() };
        let v = match *col.type_() {
            Type::INT8 => r.try_get::<_, Option<i64>>(i).map_err(err)?.map(Value::I64),
            Type::INT4 => r.try_get::<_, Option<i32>>(i).map_err(err)?.map(|x| Value::I64(i64::from(x))),
            Type::INT2 => r.try_get::<_, Option<i16>>(i).map_err(err)?.map(|x| Value::I64(i64::from(x))),
            Type::BOOL => r.try_get::<_, Option<bool>>(i).map_err(err)?.map(Value::Bool),
            Type::FLOAT8 => r.try_get::<_, Option<f64>>(i).map_err(err)?.map(Value::F64),
            Type::FLOAT4 => r.try_get::<_, Option<f32>>(i).map_err(err)?.map(|x| Value::F64(f64::from(x))),
            Type::VOID => None,
            Type::BYTEA => r.try_get::<_, Option<Vec<u8>>>(i).map_err(err)?.map(Value::Bytes),
            _ => r.try_get::<_, Option<String>>(i).map_err(err)?.map(Value::Text),
        };
        vals.push(v.unwrap_or(Value::Null));
    }
    Ok(Row(vals))
}
