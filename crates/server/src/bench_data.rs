//! The benchmark data set: a deterministic, large population of customers
//! with contacts and orders, written through the store with the same
//! encryption, search digests and timeline entries as real use. Used by
//! `guanxi bench generate`.

use guanxi_domain::contact::{ContactDraft, ContactInput, Email, PhoneNumber};
use guanxi_domain::customer::{CustomerDraft, CustomerInput};
use guanxi_domain::order::{OrderDraft, OrderInput};
use guanxi_domain::user::{UserDraft, UserInput};
use guanxi_store::contacts::SealedContact;
use guanxi_store::timeline::{self, NewEntry, kind};
use guanxi_store::{bulk_load, communications, contacts, customers, orders, settings, users};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::state::AppState;

#[derive(Debug, Clone)]
pub struct BenchScale {
    pub customers: usize,
    pub contacts_per_customer: usize,
    pub orders_per_customer: usize,
    /// Mean communication records a customer (0–2 × this, uniformly).
    pub communications_per_customer: usize,
    pub seed: u64,
}

impl BenchScale {
    /// Scale 1: 1,000,000 customers, 2,000,000 contacts, about 20,000,000
    /// orders (`orders_per_customer` is the mean parameter of
    /// `purchase_days`).
    pub fn from_scale(scale: f64) -> Self {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let customers = ((1_000_000.0 * scale).round() as usize).max(10);
        // A mean parameter of 22 gives about 20.1 orders a customer (dropout
        // and the cap take some): 20,000,000 orders at scale 1.
        Self { customers, contacts_per_customer: 2, orders_per_customer: 22, communications_per_customer: 5, seed: 42 }
    }
}

pub const BENCH_PASSWORD: &str = "bench-password";
pub const BENCH_AGENTS: usize = 20;
pub const BENCH_SUPERVISOR: &str = "lead@bench.guanxi.cn";
const BATCH: usize = 1_000;

const CITIES: &[&str] =
    &["北京", "上海", "深圳", "杭州", "成都", "武汉", "南京", "苏州", "广州", "西安", "重庆", "天津"];
const BRANDS: &[&str] =
    &["明远", "星辰", "青禾", "华信", "博瑞", "致远", "恒通", "嘉禾", "云帆", "鼎盛", "金桥", "瑞丰"];
const TRADES: &[&str] = &["科技", "机械", "电子商务", "食品", "物流", "医疗器械", "教育科技", "新材料"];
const SURNAMES: &[&str] = &["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"];
const GIVEN: &[&str] = &["伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "婷", "杰", "涛", "丽"];

fn pick<'a>(rng: &mut StdRng, xs: &[&'a str]) -> &'a str {
    xs[rng.random_range(0..xs.len())]
}

/// When a customer bought, in days before today: a repeat-buying process
/// like the one BG/NBD assumes (Fader, Hardie & Lee 2005), so that churn
/// signals and P(alive) have something real to find. The customer's first
/// purchase is 60–1,095 days ago; purchases then follow at a rate drawn
/// from a gamma distribution, and after each one the customer drops out
/// with a probability drawn from a beta distribution. Tuned so that a
/// customer makes `mean` purchases on average (about 43% drop out); at
/// most `3 × mean`.
fn purchase_days(rng: &mut StdRng, mean: usize) -> Vec<i64> {
    let unit = |rng: &mut StdRng| rng.random_range(f64::MIN_POSITIVE..1.0);
    let exp = |rng: &mut StdRng| -unit(rng).ln();
    let joined = rng.random_range(60.0..1095.0);
    // λ ~ Gamma(2, mean rate 0.08 a day, scaled by mean / 20); p ~ Beta(1, b)
    // with b = 4 (fickle customers) or 80 (loyal ones), half each.
    let rate = 0.04 * (exp(rng) + exp(rng)) * mean as f64 / 20.0;
    let b = if rng.random_bool(0.5) { 4.0 } else { 80.0 };
    let dropout = 1.0 - unit(rng).powf(1.0 / b);
    let mut days = vec![joined];
    let mut t = 0.0;
    while days.len() < 3 * mean.max(1) {
        t += exp(rng) / rate;
        if t > joined {
            break;
        }
        days.push(joined - t);
        if rng.random_bool(dropout.clamp(0.0, 1.0)) {
            break;
        }
    }
    #[allow(clippy::cast_possible_truncation)]
    days.into_iter().map(|d| d.floor() as i64).collect()
}

/// The customers file of the import benchmark (`guanxi bench import-file`):
/// `rows` customers with company names varied enough that their name grams
/// spread over the whole index as real names do (city, two characters from
/// 150, trade, legal form), a mobile, industry, region and external id.
pub fn write_import_file(out: &mut impl std::io::Write, rows: usize, seed: u64) -> std::io::Result<()> {
    const CHARS: &str = "安百邦宝北博昌诚创达大德鼎东方飞丰福富光广国海航豪和恒宏鸿华辉汇佳嘉建金锦京晶精聚君凯康科蓝乐力立利联良林龙隆美铭明南宁鹏品平普齐启强乾清庆瑞润森山尚盛石实世泰腾天通同万旺威伟文鑫新信星兴旭雅阳耀亿益银英永优宇元远悦云展长正之志智中众卓资祥翔欣合发";
    const FORMS: &[&str] = &["有限公司", "股份有限公司", "集团有限公司", "有限责任公司"];
    let chars: Vec<char> = CHARS.chars().collect();
    let mut rng = StdRng::seed_from_u64(seed);
    writeln!(out, "客户名称,联系电话,所属行业,所在地区,外部编号")?;
    for i in 0..rows {
        let a = chars[rng.random_range(0..chars.len())];
        let b = chars[rng.random_range(0..chars.len())];
        writeln!(
            out,
            "{}{a}{b}{}{},{},{},{},IMP{i:08}",
            pick(&mut rng, CITIES),
            pick(&mut rng, TRADES),
            pick(&mut rng, FORMS),
            mobile(&mut rng),
            pick(&mut rng, &["制造业", "零售", "互联网", "金融", "医疗", "教育"]),
            pick(&mut rng, &["华北", "华东", "华南", "西南", "华中"]),
        )?;
    }
    Ok(())
}

const PURPOSES: &[&str] =
    &["售后回访", "续约沟通", "需求调研", "投诉跟进", "新品推荐", "账期确认", "节日问候", "培训安排"];
const SUBJECTS_OF_TALK: &[&str] = &[
    "本季度订单交付情况",
    "设备运行状况",
    "明年的采购计划",
    "上次反馈的发票问题",
    "新版系统的使用体验",
    "合同续签条款",
];
const OUTCOMES: &[&str] = &[
    "客户表示满意，暂无新的需求",
    "客户希望下周安排技术人员上门",
    "已约定月底前再次沟通",
    "客户对价格有顾虑，需要主管审批优惠",
    "客户提出两条改进建议，已记录",
    "联系人已更换，已更新联系方式",
];

/// One communication record of a bench customer (SPEC C5).
struct BenchTalk {
    at: jiff::Timestamp,
    channel: &'static str,
    direction: &'static str,
    purpose: &'static str,
    summary: String,
    result: Option<&'static str>,
    satisfaction: Option<i64>,
}

fn talk(rng: &mut StdRng, now: jiff::Timestamp) -> BenchTalk {
    BenchTalk {
        at: now - jiff::SignedDuration::from_mins(rng.random_range(60..730 * 24 * 60)),
        channel: pick(rng, &["phone", "wechat", "wecom", "email", "visit"]),
        direction: if rng.random_bool(0.7) { "outbound" } else { "inbound" },
        purpose: pick(rng, PURPOSES),
        summary: format!("与客户沟通{}，{}。", pick(rng, SUBJECTS_OF_TALK), pick(rng, OUTCOMES)),
        result: rng.random_bool(0.5).then(|| pick(rng, &["已解决", "待跟进", "已转交"])),
        satisfaction: rng.random_bool(0.4).then(|| rng.random_range(3..=5)),
    }
}

fn mobile(rng: &mut StdRng) -> String {
    format!("1{}{:09}", rng.random_range(3..=9), rng.random_range(0..1_000_000_000u32))
}

/// The tables the customer phase of [`generate`] fills (millions of rows at
/// scale 1), whose plain secondary indexes it defers.
pub const CUSTOMER_TABLES: &[&str] =
    &["customers", "contacts", "contact_index", "name_grams", "orders", "timeline", "communications"];

/// Drops the plain secondary indexes of `tables` for a bulk load
/// (`guanxi_store::bulk_load`: their definitions are saved first, and any
/// open of the database creates them again). Returns how many.
pub async fn defer_indexes(state: &AppState, tables: &'static [&'static str]) -> anyhow::Result<usize> {
    let now = state.clock.now();
    let dropped = state.db.write(move |c| bulk_load::defer_indexes(c, tables, now)).await?;
    tracing::info!(indexes = dropped.len(), "deferred the secondary indexes of the bulk load");
    Ok(dropped.len())
}

/// Creates every deferred index again, one transaction each (one sort
/// each, and on SQLite a WAL the size of one index), then on PostgreSQL
/// analyses `tables`: the planner's statistics still describe them before
/// the load. Returns how many indexes were created.
pub async fn restore_indexes(state: &AppState, tables: &'static [&'static str]) -> anyhow::Result<usize> {
    let pending = state.db.read(bulk_load::pending).await?;
    let mut created = 0;
    for def in pending {
        let started = std::time::Instant::now();
        let now = state.clock.now();
        let name = def.name.clone();
        if state.db.write(move |c| bulk_load::restore_index(c, &name, now)).await? {
            created += 1;
        }
        tracing::info!(index = %def.name, secs = started.elapsed().as_secs_f64(), "created a deferred index");
    }
    if !tables.is_empty() && state.db.engine() == guanxi_store::Engine::Postgres {
        let started = std::time::Instant::now();
        state.db.write(move |c| bulk_load::analyze(c, tables)).await?;
        tracing::info!(secs = started.elapsed().as_secs_f64(), "analysed the filled tables");
    }
    Ok(created)
}

/// Runs `fill` with the secondary indexes of `tables` deferred, and creates
/// them again whether it succeeded or not.
pub async fn with_deferred_indexes<T>(
    state: &AppState,
    tables: &'static [&'static str],
    fill: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    // Left over by an interrupted load (opening the database restores them
    // too): restored before anything else.
    restore_indexes(state, &[]).await?;
    defer_indexes(state, tables).await?;
    let filled = fill.await;
    let restored = restore_indexes(state, tables).await;
    let made = filled?;
    restored?;
    Ok(made)
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, Copy)]
pub struct Generated {
    pub customers: usize,
    pub orders: usize,
    pub communications: usize,
}

/// Generates the data set into an empty database; `progress(done, total)`
/// is called after each batch.
pub async fn generate(
    state: &AppState,
    scale: &BenchScale,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> anyhow::Result<Generated> {
    if state.db.read(|c| settings::get(c, "bench_generated")).await?.is_some() {
        anyhow::bail!("this database already holds a benchmark data set");
    }
    let now = state.clock.now();
    let today = state.today();
    let hash = crate::auth::password::hash(BENCH_PASSWORD.to_string()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut agent_ids = Vec::with_capacity(BENCH_AGENTS);
    // One supervisor (sees every customer: the load generator's user) and the agents.
    for i in 0..=BENCH_AGENTS {
        let (email, name, role) = if i == BENCH_AGENTS {
            (BENCH_SUPERVISOR.to_string(), "主管".to_string(), "supervisor")
        } else {
            (format!("agent{i}@bench.guanxi.cn"), format!("坐席{i}"), "agent")
        };
        let d = UserDraft::parse(
            &UserInput {
                email,
                name,
                role: role.into(),
                password: Some(BENCH_PASSWORD.into()),
                certified: Some(true),
                ..Default::default()
            },
            true,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let h = hash.clone();
        let id = state.db.write(move |c| users::create(c, &d, &h, now)).await?;
        if i < BENCH_AGENTS {
            agent_ids.push(id);
        }
    }
    let written =
        with_deferred_indexes(state, CUSTOMER_TABLES, fill(state, scale, &agent_ids, now, today, progress)).await?;
    let marker = format!("customers={}", scale.customers);
    state.db.write(move |c| settings::set(c, "bench_generated", &marker, now)).await?;
    Ok(written)
}

/// The customers with their contacts, orders and communication records.
async fn fill(
    state: &AppState,
    scale: &BenchScale,
    agent_ids: &[i64],
    now: jiff::Timestamp,
    today: jiff::civil::Date,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> anyhow::Result<Generated> {
    let mut rng = StdRng::seed_from_u64(scale.seed);
    // Communication records from their own generator: customers, contacts
    // and orders stay those of the data set before they were added.
    let mut trng = StdRng::seed_from_u64(scale.seed ^ 0x7461_6c6b);
    let mut orders_written = 0usize;
    let mut talks_written = 0usize;
    let mut done = 0;
    let mut in_flight: Option<tokio::task::JoinHandle<guanxi_store::Result<()>>> = None;
    while done < scale.customers {
        let n = BATCH.min(scale.customers - done);
        // Build and seal everything outside the write: the writer thread only writes.
        let mut batch = Vec::with_capacity(n);
        for i in done..done + n {
            let input = CustomerInput {
                name: format!(
                    "{}{}{}{}有限公司",
                    pick(&mut rng, CITIES),
                    pick(&mut rng, BRANDS),
                    pick(&mut rng, TRADES),
                    i
                ),
                industry: Some(pick(&mut rng, &["制造业", "电子商务", "软件与信息服务", "物流", "零售"]).into()),
                phone: Some(mobile(&mut rng)),
                owner_id: Some(agent_ids[i % agent_ids.len()]),
                cooperation_start: Some(
                    today.checked_sub(jiff::Span::new().days(rng.random_range(30..1500))).unwrap_or(today).to_string(),
                ),
                tags: Some(if rng.random_bool(0.2) { vec!["高价值".into()] } else { Vec::new() }),
                external_id: Some(format!("BENCH-{i}")),
                ..Default::default()
            };
            let draft = CustomerDraft::parse(&input, today).map_err(|e| anyhow::anyhow!("{e}"))?;
            let phone = draft.phone.as_ref().map(|p| state.cipher.seal_phone(p));
            let mut people = Vec::new();
            for k in 0..scale.contacts_per_customer {
                let ci = ContactInput {
                    name: format!("{}{}", pick(&mut rng, SURNAMES), pick(&mut rng, GIVEN)),
                    phone: Some(mobile(&mut rng)),
                    email: Some(format!("c{i}_{k}@bench.example.cn")),
                    ..Default::default()
                };
                let cd = ContactDraft::parse(&ci, today).map_err(|e| anyhow::anyhow!("{e}"))?;
                let sealed = SealedContact {
                    phone: cd.phone.as_ref().map(|p: &PhoneNumber| state.cipher.seal_phone(p)),
                    email: cd.email.as_ref().map(|e: &Email| state.cipher.seal_email(e)),
                    ..Default::default()
                };
                people.push((cd, sealed));
            }
            let mut order_drafts = Vec::with_capacity(scale.orders_per_customer * 2);
            for (k, days_ago) in purchase_days(&mut rng, scale.orders_per_customer).into_iter().enumerate() {
                let on = today.checked_sub(jiff::Span::new().days(days_ago)).unwrap_or(today);
                let oi = OrderInput {
                    ordered_on: on.to_string(),
                    amount: format!("{}.{:02}", rng.random_range(100..20_000), rng.random_range(0..100)),
                    product: Some(pick(&mut rng, &["云服务年费", "精密轴承", "维保套餐", "定制开发"]).into()),
                    channel: None,
                    external_id: Some(format!("BO-{i}-{k}")),
                };
                order_drafts.push(OrderDraft::parse(&oi, today).map_err(|e| anyhow::anyhow!("{e}"))?);
            }
            orders_written += order_drafts.len();
            let talks: Vec<BenchTalk> = (0..trng.random_range(0..=2 * scale.communications_per_customer))
                .map(|_| talk(&mut trng, now))
                .collect();
            talks_written += talks.len();
            batch.push((draft, phone, people, order_drafts, talks));
        }
        // This batch is written while the next one is built and sealed.
        if let Some(write) = in_flight.take() {
            write.await??;
            progress(done, scale.customers);
        }
        let db = state.db.clone();
        in_flight = Some(tokio::spawn(async move {
            db.write_bulk(move |c| {
                // The bulk paths an import uses: a few multi-row statements per batch.
                let new: Vec<customers::NewCustomer<'_>> = batch
                    .iter()
                    .map(|(draft, phone, _, _, _)| customers::NewCustomer { draft, phone, email: &None })
                    .collect();
                let made = customers::insert_many(c, &new, None, now)?;
                let mut people = Vec::new();
                let mut orders_of = Vec::new();
                let mut talks = Vec::new();
                for ((id, _), (draft, _, ps, os, ts)) in made.iter().zip(&batch) {
                    people.extend(ps.iter().map(|(cd, sealed)| (*id, cd, sealed)));
                    orders_of.extend(os.iter().map(|od| (*id, od)));
                    talks.extend(ts.iter().map(|t| communications::NewCommunication {
                        customer_id: *id,
                        occurred_at: t.at,
                        channel: t.channel,
                        direction: t.direction,
                        purpose: t.purpose,
                        summary: t.summary.clone(),
                        result: t.result,
                        owner_id: draft.owner_id,
                        satisfaction: t.satisfaction,
                    }));
                }
                contacts::insert_many(c, &people, now)?;
                let order_ids = orders::insert_many(c, &orders_of, now)?;
                let entries: Vec<NewEntry<'_>> = orders_of
                    .iter()
                    .zip(order_ids)
                    .filter_map(|((id, od), oid)| {
                        Some(NewEntry {
                            customer_id: *id,
                            at: od
                                .ordered_on
                                .at(12, 0, 0, 0)
                                .to_zoned(jiff::tz::TimeZone::UTC)
                                .map_or(now, |z| z.timestamp()),
                            kind: kind::ORDER,
                            ref_id: Some(oid?),
                            title: "order.created".into(),
                            body: Some(format!("¥{}", od.amount)),
                            actor_id: None,
                        })
                    })
                    .collect();
                timeline::append_many(c, &entries)?;
                // Communication records, each with its timeline entry as
                // recording one in the app writes.
                let talk_ids = communications::insert_many(c, &talks, now)?;
                let entries: Vec<NewEntry<'_>> = talks
                    .iter()
                    .zip(talk_ids)
                    .map(|(t, id)| NewEntry {
                        customer_id: t.customer_id,
                        at: t.occurred_at,
                        kind: kind::COMMUNICATION,
                        ref_id: Some(id),
                        title: format!("communication.{}", t.channel),
                        body: Some(format!("{}：{}", t.purpose, t.summary)),
                        actor_id: None,
                    })
                    .collect();
                timeline::append_many(c, &entries)?;
                Ok(())
            })
            .await
        }));
        done += n;
    }
    if let Some(write) = in_flight.take() {
        write.await??;
    }
    progress(done, scale.customers);
    Ok(Generated { customers: done, orders: orders_written, communications: talks_written })
}
