//! Demo data (`guanxi demo`): service teams and collaborating departments,
//! about ten staff accounts and a few hundred customers with realistic
//! Simplified-Chinese names, regions, decision chains, contact preferences,
//! lifecycle stages, contracts and tags, so that every page has something
//! meaningful to show.
//!
//! Everything is derived from [`DemoOptions::seed`] and the `today` argument
//! (never the wall clock): the same seed and date give the same records, in
//! the same insertion order. All demo staff share one password,
//! [`DEMO_PASSWORD`], whose hash the caller provides. Loading is recorded
//! under the settings key `demo_loaded` and happens only once.

use std::collections::{BTreeMap, HashSet};

use guanxi_domain::contact::{Email, PhoneNumber};
use guanxi_domain::customer::{CustomerDraft, CustomerInput};
use guanxi_domain::user::{GroupKind, Role, UserDraft, UserInput};
use guanxi_store::customers::{self, Sealed};
use guanxi_store::{Conn, Db, StoreError, args, settings, users};
use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What to generate.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub seed: u64,
    /// How many customers (the default is 300).
    pub customers: usize,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self { seed: 20261123, customers: 300 }
    }
}

/// Seals personal fields (encrypt, mask, blind-index) with the server's key.
pub struct Sealers<'a> {
    pub phone: &'a (dyn Fn(&PhoneNumber) -> Sealed + Sync),
    pub email: &'a (dyn Fn(&Email) -> Sealed + Sync),
}

/// What a load created (records that already existed are not counted).
#[derive(Debug)]
pub struct DemoSummary {
    pub groups: usize,
    pub users: usize,
    pub customers: usize,
}

/// The password of every demo staff account.
pub const DEMO_PASSWORD: &str = "guanxi-demo";

const LOADED_KEY: &str = "demo_loaded";
const BATCH: usize = 100;

const GROUPS: &[(&str, GroupKind)] = &[
    ("华东客服组", GroupKind::Team),
    ("华南客服组", GroupKind::Team),
    ("VIP顾问组", GroupKind::Team),
    ("技术支持部", GroupKind::Department),
    ("物流部", GroupKind::Department),
    ("产品部", GroupKind::Department),
];

/// (email, name, role, group, certified)
type Staff = (&'static str, &'static str, Role, Option<&'static str>, bool);

const STAFF: &[Staff] = &[
    ("admin@demo.guanxi.cn", "管理员", Role::Admin, None, true),
    ("chen.jing@demo.guanxi.cn", "陈静", Role::Supervisor, Some("华东客服组"), true),
    ("wang.fang@demo.guanxi.cn", "王芳", Role::Agent, Some("华东客服组"), true),
    ("li.na@demo.guanxi.cn", "李娜", Role::Agent, Some("华东客服组"), true),
    ("zhang.wei@demo.guanxi.cn", "张伟", Role::Agent, Some("华南客服组"), true),
    ("liu.yang@demo.guanxi.cn", "刘洋", Role::Agent, Some("华南客服组"), false),
    ("zhao.min@demo.guanxi.cn", "赵敏", Role::Advisor, Some("VIP顾问组"), true),
    ("sun.lei@demo.guanxi.cn", "孙磊", Role::Advisor, Some("VIP顾问组"), true),
    ("zhou.tao@demo.guanxi.cn", "周涛", Role::Collaborator, Some("技术支持部"), true),
    ("wu.hao@demo.guanxi.cn", "吴昊", Role::Collaborator, Some("物流部"), true),
    ("zheng.xue@demo.guanxi.cn", "郑雪", Role::Collaborator, Some("产品部"), true),
];

const AGENTS: &[&str] =
    &["wang.fang@demo.guanxi.cn", "li.na@demo.guanxi.cn", "zhang.wei@demo.guanxi.cn", "liu.yang@demo.guanxi.cn"];
const ADVISORS: &[&str] = &["zhao.min@demo.guanxi.cn", "sun.lei@demo.guanxi.cn"];
const CREATOR: &str = "admin@demo.guanxi.cn";

/// (city, region, landline area code)
const CITIES: &[(&str, &str, &str)] = &[
    ("北京", "北京市", "010"),
    ("上海", "上海市", "021"),
    ("深圳", "广东省深圳市", "0755"),
    ("杭州", "浙江省杭州市", "0571"),
    ("成都", "四川省成都市", "028"),
    ("武汉", "湖北省武汉市", "027"),
    ("南京", "江苏省南京市", "025"),
    ("苏州", "江苏省苏州市", "0512"),
    ("广州", "广东省广州市", "020"),
    ("西安", "陕西省西安市", "029"),
    ("天津", "天津市", "022"),
    ("重庆", "重庆市", "023"),
    ("青岛", "山东省青岛市", "0532"),
    ("厦门", "福建省厦门市", "0592"),
    ("长沙", "湖南省长沙市", "0731"),
    ("合肥", "安徽省合肥市", "0551"),
];

/// (brand word, its pinyin for the email domain)
const BRANDS: &[(&str, &str)] = &[
    ("明远", "mingyuan"),
    ("星辰", "xingchen"),
    ("青禾", "qinghe"),
    ("华信", "huaxin"),
    ("博瑞", "borui"),
    ("致远", "zhiyuan"),
    ("恒通", "hengtong"),
    ("嘉禾", "jiahe"),
    ("云帆", "yunfan"),
    ("鼎盛", "dingsheng"),
    ("瑞丰", "ruifeng"),
    ("汇通", "huitong"),
    ("天合", "tianhe"),
    ("新锐", "xinrui"),
    ("金桥", "jinqiao"),
    ("长青", "changqing"),
    ("宏达", "hongda"),
    ("启明", "qiming"),
    ("安信", "anxin"),
    ("远航", "yuanhang"),
];

/// (industry word in the name, industry from `INDUSTRIES`, domain word)
const TRADES: &[(&str, &str, &str)] = &[
    ("机械", "制造业", "machinery"),
    ("精密制造", "制造业", "precision"),
    ("新材料", "制造业", "materials"),
    ("电子商务", "电子商务", "ec"),
    ("网络科技", "电子商务", "net"),
    ("科技", "软件与信息服务", "tech"),
    ("软件", "软件与信息服务", "soft"),
    ("信息技术", "软件与信息服务", "it"),
    ("食品", "餐饮", "food"),
    ("餐饮管理", "餐饮", "catering"),
    ("物流", "物流", "logistics"),
    ("供应链管理", "物流", "scm"),
    ("医疗器械", "医疗健康", "medical"),
    ("生物医药", "医疗健康", "bio"),
    ("教育科技", "教育", "edu"),
    ("金融服务", "金融", "finance"),
    ("融资租赁", "金融", "leasing"),
    ("商贸", "零售", "trade"),
    ("百货", "零售", "retail"),
    ("置业", "房地产", "property"),
];

const SUFFIXES: &[&str] = &["有限公司", "有限公司", "有限公司", "有限公司", "股份有限公司", "股份有限公司", "集团"];
/// Inserted into a company name that is already taken.
const MIDDLES: &[&str] = &["国际", "智能", "环球", "实业", "创新", "数字"];

const SURNAMES: &[(&str, &str)] = &[
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("黄", "huang"),
    ("赵", "zhao"),
    ("吴", "wu"),
    ("周", "zhou"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("马", "ma"),
    ("朱", "zhu"),
    ("胡", "hu"),
    ("郭", "guo"),
    ("何", "he"),
    ("林", "lin"),
    ("高", "gao"),
    ("罗", "luo"),
    ("郑", "zheng"),
    ("梁", "liang"),
];

const GIVEN: &[(&str, &str)] = &[
    ("伟", "wei"),
    ("芳", "fang"),
    ("娜", "na"),
    ("秀英", "xiuying"),
    ("敏", "min"),
    ("静", "jing"),
    ("丽", "li"),
    ("强", "qiang"),
    ("磊", "lei"),
    ("军", "jun"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("艳", "yan"),
    ("杰", "jie"),
    ("娟", "juan"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("秀兰", "xiulan"),
    ("霞", "xia"),
    ("平", "ping"),
    ("刚", "gang"),
    ("婷", "ting"),
    ("浩然", "haoran"),
    ("子涵", "zihan"),
    ("欣怡", "xinyi"),
    ("宇轩", "yuxuan"),
    ("梓萱", "zixuan"),
    ("俊杰", "junjie"),
    ("思远", "siyuan"),
];

const MOBILE_PREFIXES: &[&str] = &[
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155", "157", "158", "159",
    "166", "177", "180", "181", "182", "185", "186", "187", "188", "189", "199",
];

const COMPANY_MAILBOXES: &[&str] =
    &["service", "info", "contact", "purchase", "sales", "hr", "admin", "kefu", "caigou"];
const TLDS: &[&str] = &["cn", "com", "com.cn"];
const MAIL_PROVIDERS: &[&str] = &["163.com", "126.com", "sina.com", "foxmail.com", "gmail.com"];

const DECISION_CHAINS: &[&str] = &[
    "采购经理{a}负责初选，最终由副总经理{b}拍板",
    "技术总监{a}评估方案，财务部{b}审批预算",
    "总经理{a}直接决策，行政主管{b}负责日常对接",
    "IT部门{a}提出需求，采购部{b}比价，董事长最终审批",
    "运营负责人{a}为主要联系人，合同需法务{b}审核",
    "由区域经理{a}牵头，总部采购中心{b}统一签约",
];

const CONTACT_WINDOWS: &[&str] = &[
    "工作日9:00-12:00",
    "工作日14:00-18:00",
    "晚上20:00后",
    "本月出差，请邮件联系",
    "周末不方便，工作日均可",
    "午休12:00-13:30勿扰",
    "上午10点后",
    "仅周二、周四下午",
];

const NOTES: &[&str] = &[
    "年底有扩容计划，关注报价",
    "曾反馈发票开具延迟，已解决",
    "对接人近期变更，需更新资料",
    "希望增加API对接能力，已转产品部评估",
    "春节前需确认备货计划",
    "倾向年付，对价格较敏感",
    "去年曾投诉物流时效，需重点关注",
    "推荐来源：老客户转介绍",
    "对新版报表功能很感兴趣，可安排演示",
];

const TAGS: &[&str] =
    &["高价值", "活跃", "偏好新品", "对功能有需求", "近期可能升级服务", "投诉风险", "战略客户", "价格敏感"];

/// One generated customer: its raw input (validated at load) and the email
/// of its owner among the demo staff.
#[derive(Debug, Clone)]
pub(crate) struct DemoCustomer {
    pub(crate) input: CustomerInput,
    pub(crate) owner: Option<&'static str>,
}

#[derive(Debug, Clone)]
pub(crate) struct DemoData {
    pub(crate) customers: Vec<DemoCustomer>,
}

fn pick<T: Copy>(rng: &mut StdRng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

fn shift(d: Date, days: i64) -> Date {
    d.saturating_add(days.days())
}

fn mobile(rng: &mut StdRng) -> String {
    let prefix = pick(rng, MOBILE_PREFIXES);
    format!("{prefix}{:08}", rng.random_range(0..100_000_000u32))
}

/// A landline such as `021-58123456` (local numbers start with 2–8).
fn landline(rng: &mut StdRng, area: &str) -> String {
    format!("{area}-{}", rng.random_range(20_000_000..90_000_000u32))
}

fn person(rng: &mut StdRng) -> (String, &'static str, &'static str) {
    let (s, s_py) = pick(rng, SURNAMES);
    let (g, g_py) = pick(rng, GIVEN);
    (format!("{s}{g}"), s_py, g_py)
}

/// Draws names until one is free; after 40 tries the draws are numbered.
fn claim<T>(
    rng: &mut StdRng,
    taken: &mut HashSet<String>,
    mut draw: impl FnMut(&mut StdRng, u32) -> (String, T),
) -> (String, T) {
    let mut attempt = 0u32;
    loop {
        let (name, extra) = draw(rng, attempt);
        let name = if attempt < 40 { name } else { format!("{name}（{}）", attempt - 38) };
        if taken.insert(name.clone()) {
            return (name, extra);
        }
        attempt += 1;
    }
}

/// A company name, its industry and an email domain.
fn company(rng: &mut StdRng, city: &str, taken: &mut HashSet<String>) -> (String, (&'static str, String)) {
    claim(rng, taken, |rng, attempt| {
        let (brand, brand_py) = pick(rng, BRANDS);
        let (word, industry, trade_py) = pick(rng, TRADES);
        let suffix = pick(rng, SUFFIXES);
        let middle = if attempt >= 10 { pick(rng, MIDDLES) } else { "" };
        let domain = format!("{brand_py}-{trade_py}.{}", pick(rng, TLDS));
        (format!("{city}{brand}{middle}{word}{suffix}"), (industry, domain))
    })
}

/// The sequence of demo customers for a seed; pure, so it is testable.
pub(crate) fn generate(opts: &DemoOptions, today: Date) -> DemoData {
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let mut taken = HashSet::new();
    let customers = (0..opts.customers).map(|i| customer(&mut rng, i, &mut taken, today)).collect();
    DemoData { customers }
}

fn customer(rng: &mut StdRng, i: usize, taken: &mut HashSet<String>, today: Date) -> DemoCustomer {
    let (city, region, area) = pick(rng, CITIES);
    let mut c = CustomerInput {
        region: Some(region.into()),
        external_id: Some(format!("ERP-{:06}", i + 1)),
        marketing_consent: Some(rng.random_bool(0.6)),
        ..Default::default()
    };
    let enterprise = rng.random_bool(0.85);
    if enterprise {
        let (name, (industry, domain)) = company(rng, city, taken);
        let big = name.ends_with("集团") || name.contains("股份");
        let scales: &[&str] =
            if big { &["medium", "large", "large"] } else { &["micro", "small", "small", "medium", "medium", "large"] };
        c.scale = Some(pick(rng, scales).into());
        c.name = name;
        c.kind = Some("enterprise".into());
        c.industry = Some(industry.into());
        if rng.random_bool(0.4) {
            let (a, b) = (person(rng).0, person(rng).0);
            c.decision_chain = Some(pick(rng, DECISION_CHAINS).replace("{a}", &a).replace("{b}", &b));
        }
        if rng.random_bool(0.9) {
            c.phone = Some(if rng.random_bool(0.35) { landline(rng, area) } else { mobile(rng) });
        }
        if rng.random_bool(0.8) {
            c.email = Some(format!("{}@{domain}", pick(rng, COMPANY_MAILBOXES)));
        }
        c.preferred_channel = Some(pick(rng, &["wecom", "wecom", "email", "phone", "visit"]).into());
    } else {
        let (name, (s_py, g_py)) = claim(rng, taken, |rng, _| {
            let (name, s, g) = person(rng);
            (name, (s, g))
        });
        c.name = name;
        c.kind = Some("individual".into());
        if rng.random_bool(0.95) {
            c.phone = Some(mobile(rng));
        }
        if rng.random_bool(0.6) {
            c.email = Some(match rng.random_range(0..3u8) {
                0 => format!("{}@qq.com", rng.random_range(10_000_000..3_000_000_000u64)),
                1 => format!("{s_py}{g_py}{}@{}", rng.random_range(1..100u8), pick(rng, MAIL_PROVIDERS)),
                _ => format!("{s_py}.{g_py}@{}", pick(rng, MAIL_PROVIDERS)),
            });
        }
        c.preferred_channel = Some(pick(rng, &["wechat", "wechat", "phone", "sms", "online_chat"]).into());
    }
    let stage = lifecycle(rng, &mut c, today);
    if rng.random_bool(0.55) {
        c.contact_window = Some(pick(rng, CONTACT_WINDOWS).into());
    }
    if rng.random_bool(0.35) {
        c.notes = Some(pick(rng, NOTES).into());
    }
    if rng.random_bool(0.7) {
        let ago = if rng.random_bool(0.7) { rng.random_range(0..=330) } else { rng.random_range(400..=1000) };
        c.verified_on = Some(shift(today, -ago).to_string());
    }
    let mut tags: Vec<&str> = Vec::new();
    for _ in 0..rng.random_range(0..=3u8) {
        let t = pick(rng, TAGS);
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    if stage == "churned" && tags.len() < 3 && !tags.contains(&"投诉风险") && rng.random_bool(0.4) {
        tags.push("投诉风险");
    }
    let vip = c.scale.as_deref() == Some("large") || tags.iter().any(|t| *t == "高价值" || *t == "战略客户");
    let owner = if rng.random_bool(0.1) {
        None
    } else if vip && rng.random_bool(0.7) {
        Some(pick(rng, ADVISORS))
    } else {
        let pool = if rng.random_bool(0.75) { AGENTS } else { ADVISORS };
        Some(pick(rng, pool))
    };
    c.tags = Some(tags.into_iter().map(String::from).collect());
    DemoCustomer { input: c, owner }
}

/// Stage and cooperation dates, consistent with each other; returns the stage.
fn lifecycle(rng: &mut StdRng, c: &mut CustomerInput, today: Date) -> &'static str {
    if rng.random_bool(0.12) {
        c.stage = Some("prospect".into());
        return "prospect";
    }
    let age: i64 = rng.random_range(20..=5 * 365);
    let start = shift(today, -age);
    let first = shift(start, rng.random_range(0..=age.min(60)));
    let churned = age > 500 && rng.random_bool(0.18);
    let last = if churned {
        shift(start, rng.random_range(0..=age - 200))
    } else {
        shift(today, -rng.random_range(0..=age.min(120)))
    }
    .max(first);
    let stage = match (churned, age) {
        (true, _) => "churned",
        (_, ..180) => "new",
        (_, ..730) => {
            if rng.random_bool(0.75) {
                "growing"
            } else {
                "new"
            }
        }
        _ => {
            if rng.random_bool(0.75) {
                "mature"
            } else {
                "growing"
            }
        }
    };
    if churned && rng.random_bool(0.5) {
        c.contract_end = Some(shift(last, rng.random_range(0..=180)).to_string());
    } else if !churned && rng.random_bool(0.55) {
        let end = shift(today, rng.random_range(-20..=400));
        c.contract_end = Some(end.to_string());
        if rng.random_bool(0.7) {
            c.renewal_date = Some(shift(end, -30).to_string());
        }
    }
    c.cooperation_start = Some(start.to_string());
    c.first_purchase_on = Some(first.to_string());
    c.last_cooperation_on = Some(last.to_string());
    c.stage = Some(stage.into());
    stage
}

/// A validated, sealed customer ready for insertion.
struct Prepared {
    draft: CustomerDraft,
    phone: Option<Sealed>,
    email: Option<Sealed>,
}

/// Loads demo data unless already loaded (a settings key "demo_loaded" marks it); returns None when it was already there.
pub async fn load(
    db: &Db,
    opts: &DemoOptions,
    sealers: &Sealers<'_>,
    password_hash: &str,
    now: Timestamp,
    today: Date,
) -> Result<Option<DemoSummary>, StoreError> {
    if db.read(|c| settings::get(c, LOADED_KEY)).await?.is_some() {
        return Ok(None);
    }
    let data = generate(opts, today);
    let mut drafts = Vec::with_capacity(data.customers.len());
    for dc in &data.customers {
        let draft = CustomerDraft::parse(&dc.input, today).map_err(StoreError::Invalid)?;
        drafts.push((draft, dc.owner));
    }
    let hash = password_hash.to_string();
    let (groups, users, staff_ids) = db.write(move |c| setup_staff(c, &hash, now)).await?;

    let created_by = staff_ids.get(CREATOR).copied();
    let mut batches: Vec<Vec<Prepared>> = Vec::new();
    for (mut draft, owner) in drafts {
        // An owner whose account exists but is inactive stays unassigned.
        draft.owner_id = owner.and_then(|e| staff_ids.get(e).copied());
        let phone = draft.phone.as_ref().map(|p| (sealers.phone)(p));
        let email = draft.email.as_ref().map(|e| (sealers.email)(e));
        match batches.last_mut() {
            Some(b) if b.len() < BATCH => b.push(Prepared { draft, phone, email }),
            _ => batches.push(vec![Prepared { draft, phone, email }]),
        }
    }
    let mut inserted = 0;
    for batch in batches {
        inserted += db.write(move |c| insert_batch(c, &batch, created_by, now)).await?;
    }
    let marker = format!("seed={};customers={}", opts.seed, opts.customers);
    db.write(move |c| settings::set(c, LOADED_KEY, &marker, now)).await?;
    Ok(Some(DemoSummary { groups, users, customers: inserted }))
}

/// Creates the missing demo groups and staff; returns how many of each were
/// created and the ids of all active users by lower-cased email.
fn setup_staff(
    c: &mut Conn,
    password_hash: &str,
    now: Timestamp,
) -> Result<(usize, usize, BTreeMap<String, i64>), StoreError> {
    let mut groups: BTreeMap<String, i64> = users::list_groups(c)?.into_iter().map(|g| (g.name, g.id)).collect();
    let mut new_groups = 0;
    for (name, kind) in GROUPS {
        if !groups.contains_key(*name) {
            let id = users::create_group(c, name, *kind, now)?;
            groups.insert((*name).to_string(), id);
            new_groups += 1;
        }
    }
    let existing: HashSet<String> = users::list(c)?.into_iter().map(|u| u.email.to_lowercase()).collect();
    let mut new_users = 0;
    for &(email, name, role, group, certified) in STAFF.iter().filter(|s| !existing.contains(s.0)) {
        let input = UserInput {
            email: email.into(),
            name: name.into(),
            role: role.code().into(),
            group_id: group.and_then(|g| groups.get(g).copied()),
            password: Some(DEMO_PASSWORD.into()),
            certified: Some(certified),
            active: Some(true),
        };
        let draft = UserDraft::parse(&input, true).map_err(StoreError::Invalid)?;
        users::create(c, &draft, password_hash, now)?;
        new_users += 1;
    }
    let ids = users::list(c)?.into_iter().filter(|u| u.active).map(|u| (u.email.to_lowercase(), u.id)).collect();
    Ok((new_groups, new_users, ids))
}

/// Inserts a batch, skipping customers whose external id already exists (so
/// that a load interrupted half-way can be run again).
fn insert_batch(
    c: &mut Conn,
    batch: &[Prepared],
    created_by: Option<i64>,
    now: Timestamp,
) -> Result<usize, StoreError> {
    let mut n = 0;
    for p in batch {
        if let Some(ext) = &p.draft.external_id {
            let exists: i64 = c.scalar("SELECT COUNT(*) FROM customers WHERE external_id = $1", args![ext.as_str()])?;
            if exists > 0 {
                continue;
            }
        }
        customers::insert(c, &p.draft, &p.phone, &p.email, created_by, now)?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use guanxi_domain::customer::{INDUSTRIES, LifecycleStage, needs_review};

    fn today() -> Date {
        jiff::civil::date(2026, 11, 23)
    }

    #[test]
    fn generation_is_deterministic() {
        let opts = DemoOptions::default();
        let key = |d: &DemoData| -> Vec<(String, Option<String>)> {
            d.customers.iter().map(|c| (c.input.name.clone(), c.input.phone.clone())).collect()
        };
        let (a, b) = (generate(&opts, today()), generate(&opts, today()));
        assert_eq!(key(&a), key(&b));
        assert_eq!(a.customers.len(), 300);
        let other = generate(&DemoOptions { seed: 7, ..opts }, today());
        assert_ne!(key(&a), key(&other));
    }

    #[test]
    fn every_customer_is_valid_and_varied() {
        let data = generate(&DemoOptions { seed: 1, customers: 2000 }, today());
        let mut names = HashSet::new();
        let (mut enterprises, mut stale, mut prospects, mut churned, mut unowned) = (0, 0, 0, 0, 0);
        for c in &data.customers {
            let d = CustomerDraft::parse(&c.input, today()).unwrap_or_else(|e| panic!("{:?}: {e}", c.input));
            assert!(names.insert(d.name.clone()), "duplicate name {}", d.name);
            if let Some(ind) = &d.industry {
                assert!(INDUSTRIES.iter().any(|(zh, _)| zh == ind), "{ind}");
            }
            if let (Some(s), Some(f), Some(l)) = (d.cooperation_start, d.first_purchase_on, d.last_cooperation_on) {
                assert!(s <= f && f <= l && l <= today());
            }
            assert!(d.tags.len() <= 3);
            enterprises += usize::from(c.input.kind.as_deref() == Some("enterprise"));
            stale += usize::from(d.verified_on.is_some() && needs_review(d.verified_on, today(), 12));
            prospects += usize::from(d.stage == LifecycleStage::Prospect && d.cooperation_start.is_none());
            churned += usize::from(d.stage == LifecycleStage::Churned);
            unowned += usize::from(c.owner.is_none());
        }
        assert!((1500..1900).contains(&enterprises), "{enterprises}");
        assert!(stale > 100 && prospects > 100 && churned > 20 && unowned > 100);
    }

    #[test]
    fn staff_are_valid() {
        for &(email, name, role, group, _) in STAFF {
            let input = UserInput {
                email: email.into(),
                name: name.into(),
                role: role.code().into(),
                password: Some(DEMO_PASSWORD.into()),
                ..Default::default()
            };
            assert!(UserDraft::parse(&input, true).is_ok(), "{email}");
            assert!(group.is_none_or(|g| GROUPS.iter().any(|(n, _)| *n == g)));
        }
        for e in AGENTS.iter().chain(ADVISORS).chain([&CREATOR]) {
            assert!(STAFF.iter().any(|s| s.0 == *e));
        }
    }
}
