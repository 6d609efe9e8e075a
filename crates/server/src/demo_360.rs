//! The demo's customer-360 layer: contacts, orders and communication records
//! with follow-ups for the demo customers, written through the same service
//! functions the pages use, so the timeline and the search index fill as
//! they would in real use. Deterministic from the seed.

use guanxi_domain::communication::{ActionItemInput, CommunicationInput};
use guanxi_domain::contact::ContactInput;
use guanxi_domain::order::OrderInput;
use guanxi_store::customers::{CustomerFilter, CustomerSort};
use guanxi_store::users::User;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::error::AppResult;
use crate::service::{customers as customer_svc, relationship as svc};
use crate::state::AppState;

const PEOPLE: &[(&str, &str)] = &[
    ("王磊", "wang.lei"),
    ("李静", "li.jing"),
    ("张敏", "zhang.min"),
    ("刘洋", "liu.yang"),
    ("陈杰", "chen.jie"),
    ("杨帆", "yang.fan"),
    ("赵丽", "zhao.li"),
    ("黄强", "huang.qiang"),
    ("周婷", "zhou.ting"),
    ("吴刚", "wu.gang"),
    ("徐磊", "xu.lei"),
    ("孙悦", "sun.yue"),
    ("马超", "ma.chao"),
    ("朱琳", "zhu.lin"),
    ("胡军", "hu.jun"),
];
const TITLES: &[&str] = &["采购经理", "总经理", "行政主管", "IT 负责人", "财务总监", "运营总监", "副总经理"];
const PRODUCTS: &[(&str, i64, i64)] = &[
    ("云服务年费", 20_000, 120_000),
    ("精密轴承", 3_000, 60_000),
    ("智能客服坐席", 5_000, 40_000),
    ("数据分析模块", 8_000, 50_000),
    ("售后维保套餐", 2_000, 15_000),
    ("定制开发服务", 30_000, 200_000),
];
const TALKS: &[(&str, &str, &str, &str)] = &[
    ("季度回访", "了解本季度使用情况，整体运行稳定", "希望报表支持按部门导出", "已记录需求，反馈产品部"),
    ("续约沟通", "合同即将到期，沟通续约方案与价格", "希望续约价格保持不变", "已提交续约报价审批"),
    ("使用咨询", "客户咨询批量导入功能的使用方法", "导入模板字段说明不够清楚", "已发送图文操作指引"),
    ("问题跟进", "跟进上周反馈的发货延迟问题", "对物流时效不太满意", "已协调物流部加急处理"),
    ("新品介绍", "介绍新上线的智能质检功能", "对功能有兴趣，想先试用", "已开通 30 天试用"),
    ("账单核对", "核对上月账单明细", "发票抬头需要变更", "已提交财务更正"),
];
const FOLLOW_UPS: &[&str] = &[
    "2 个工作日内发送优化方案",
    "下周一前回电确认试用效果",
    "本周内寄出更正后的发票",
    "3 天内提供续约报价单",
    "整理需求并同步产品部，月底前回复客户",
];

/// Adds contacts, orders and communications to every demo customer.
pub async fn load(state: &AppState, admin: &User, seed: u64) -> AppResult<usize> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x360);
    let today = state.today();
    let now = state.clock.now();
    let tz = state.config.time_zone.clone();
    let mut page = 1;
    let mut done = 0;
    loop {
        let filter = CustomerFilter { sort: CustomerSort::CodeAsc, page, per_page: 200, ..Default::default() };
        let batch = customer_svc::list(state, admin, filter).await?;
        if batch.items.is_empty() {
            break;
        }
        for c in &batch.items {
            let enterprise = c.kind == "enterprise";
            for k in 0..if enterprise { rng.random_range(1..=3) } else { 0 } {
                let (name, pinyin) = PEOPLE[rng.random_range(0..PEOPLE.len())];
                let input = ContactInput {
                    name: name.into(),
                    title: Some(TITLES[rng.random_range(0..TITLES.len())].into()),
                    phone: Some(format!("13{}{:08}", rng.random_range(5..=9), rng.random_range(0..100_000_000u32))),
                    email: Some(format!("{pinyin}{}@mail{}.demo.cn", k + 1, c.id)),
                    wechat: rng
                        .random_bool(0.6)
                        .then(|| format!("{}_{}", pinyin.replace('.', ""), rng.random_range(10..99))),
                    birthday: rng.random_bool(0.5).then(|| {
                        format!(
                            "{}-{:02}-{:02}",
                            rng.random_range(1965..2000),
                            rng.random_range(1..=12),
                            rng.random_range(1..=28)
                        )
                    }),
                    address: None,
                    decision_maker: Some(k == 0),
                };
                svc::create_contact(state, admin, c.id, input, None).await?;
            }
            if let Some(first) = c.first_purchase_on {
                let span_days = (today - first).get_days().max(1);
                for n in 0..rng.random_range(2..=10) {
                    let (product, lo, hi) = PRODUCTS[rng.random_range(0..PRODUCTS.len())];
                    let on =
                        first.checked_add(jiff::Span::new().days(rng.random_range(0..=span_days))).unwrap_or(first);
                    let input = OrderInput {
                        ordered_on: on.min(today).to_string(),
                        amount: format!("{}.{:02}", rng.random_range(lo..=hi), rng.random_range(0..100)),
                        product: Some(product.into()),
                        channel: Some(if rng.random_bool(0.7) { "官网" } else { "代理商" }.into()),
                        external_id: Some(format!("DEMO-{}-{n}", c.code)),
                    };
                    svc::create_order(state, admin, c.id, input, None).await?;
                }
            }
            if c.stage != "prospect" {
                for _ in 0..rng.random_range(1..=4) {
                    let (purpose, summary, feedback, result) = TALKS[rng.random_range(0..TALKS.len())];
                    let days_ago = rng.random_range(1..180);
                    // During working hours, some days ago.
                    let day = today.checked_sub(jiff::Span::new().days(days_ago)).unwrap_or(today);
                    let at = day
                        .at(rng.random_range(9..18), rng.random_range(0..60), 0, 0)
                        .to_zoned(tz.clone())
                        .map_or(now, |z| z.timestamp());
                    let owner = c.owner_id.unwrap_or(admin.id);
                    // Recent talks leave follow-ups, some already overdue.
                    let items = if days_ago < 20 && rng.random_bool(0.6) {
                        let due = at
                            .checked_add(jiff::SignedDuration::from_hours(24 * rng.random_range(2..25)))
                            .unwrap_or(at);
                        vec![ActionItemInput {
                            content: FOLLOW_UPS[rng.random_range(0..FOLLOW_UPS.len())].into(),
                            owner_id: Some(owner),
                            due: Some(due.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M").to_string()),
                        }]
                    } else {
                        Vec::new()
                    };
                    let input = CommunicationInput {
                        contact_id: None,
                        occurred_at: Some(at.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M").to_string()),
                        channel: ["phone", "wecom", "email", "visit", "online_chat"][rng.random_range(0..5)].into(),
                        direction: Some(if rng.random_bool(0.7) { "outbound" } else { "inbound" }.into()),
                        purpose: purpose.into(),
                        summary: summary.into(),
                        feedback: Some(feedback.into()),
                        result: Some(result.into()),
                        owner_id: Some(owner),
                        satisfaction: Some(rng.random_range(3..=5)),
                        notes: None,
                        action_items: items,
                    };
                    svc::create_communication(state, admin, c.id, input, None).await?;
                }
            }
            done += 1;
        }
        page += 1;
    }
    Ok(done)
}
