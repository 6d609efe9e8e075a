//! The knowledge-base articles of the benchmark (SPEC K1: search p99 ≤ 50 ms
//! on 100,000 articles / 2,000,000 ticket texts): deterministic Chinese
//! service articles from a seed, each about one or two topics (退款, 物流,
//! 发票 …) with ordinary filler, written through the store's bulk path
//! (first version and search index included). Used by `guanxi bench
//! articles`; `guanxi bench run --scenario kb-search,kb-suggest` then
//! drives the search and the suggestions from ticket texts.

use guanxi_store::knowledge::{self as store, ArticleInput};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::state::AppState;

/// Articles per customer-scale unit: scale 1 has 100,000.
pub const ARTICLES_PER_SCALE: f64 = 100_000.0;
/// Articles per write transaction.
const BATCH: usize = 1_000;

/// (topic word, category, a sentence about it)
const TOPICS: &[(&str, &str, &str)] = &[
    ("退款", "solution", "退款按原支付方式退回，到账时间一般为一到七个工作日。"),
    ("物流", "solution", "物流轨迹超过四十八小时未更新时需联系承运商催查。"),
    ("发票", "policy", "发票抬头或税号开错的需要先红冲再重新开具。"),
    ("保修", "policy", "整机保修一年，核心部件保修三年，人为损坏不在保修范围。"),
    ("密码", "guide", "忘记密码可通过注册手机号获取验证码后重置。"),
    ("安装", "sop", "上门安装前一天需向客户发送预约提醒。"),
    ("积分", "product", "积分每年年底清零，一百积分可抵扣一元。"),
    ("续约", "policy", "合同到期前三十天由客户经理沟通续约方案。"),
    ("对账", "sop", "每月五日前发送对账单，客户十个工作日内确认。"),
    ("导出", "guide", "超过五万行的数据导出在后台生成后到下载中心下载。"),
    ("投诉", "sop", "投诉需在两小时内登记，二十四小时内给出处理方案。"),
    ("换货", "policy", "质量问题换货的运费由公司承担。"),
];

const FILLER: &[&str] = &[
    "请客服人员先核实客户身份与订单信息。",
    "处理过程中及时在工单中记录进展。",
    "如客户对结果不满意，可升级至主管处理。",
    "结案后三天内回访客户，确认问题已经解决。",
    "遇到批量问题请同步相关部门负责人。",
    "与客户沟通时先表达理解，再说明方案与时限。",
    "特殊情况需经主管审批后方可执行。",
    "本说明随业务规则调整，每季度复核一次。",
];

/// One article from the generator's state.
fn article(rng: &mut StdRng, n: usize) -> ArticleInput {
    let (word, category, sentence) = TOPICS[rng.random_range(0..TOPICS.len())];
    let (other, _, other_sentence) = TOPICS[rng.random_range(0..TOPICS.len())];
    let mut body = String::new();
    body.push_str(sentence);
    for _ in 0..rng.random_range(3..8) {
        body.push_str(FILLER[rng.random_range(0..FILLER.len())]);
    }
    if rng.random_range(0..3) == 0 {
        body.push_str(other_sentence);
    }
    ArticleInput {
        title: format!("{word}相关问题处理说明（第{n}号）"),
        body,
        category: category.into(),
        tags: vec![word.to_string(), other.to_string()],
        owner_id: None,
        review_on: None,
    }
}

/// Adds `count` articles; returns how many were written.
pub async fn generate_articles(
    state: &AppState,
    count: usize,
    seed: u64,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> anyhow::Result<usize> {
    let mut rng = StdRng::seed_from_u64(seed);
    let now = state.clock.now();
    let mut done = 0;
    while done < count {
        let n = BATCH.min(count - done);
        let batch: Vec<ArticleInput> = (0..n).map(|i| article(&mut rng, done + i + 1)).collect();
        state.db.write(move |c| store::insert_many(c, &batch, None, now).map(|_| ())).await?;
        done += n;
        progress(done, count);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn articles_are_deterministic_and_about_their_topic() {
        let a: Vec<ArticleInput> = {
            let mut r = StdRng::seed_from_u64(7);
            (1..=20).map(|i| article(&mut r, i)).collect()
        };
        let b: Vec<ArticleInput> = {
            let mut r = StdRng::seed_from_u64(7);
            (1..=20).map(|i| article(&mut r, i)).collect()
        };
        assert_eq!(a.iter().map(|x| &x.body).collect::<Vec<_>>(), b.iter().map(|x| &x.body).collect::<Vec<_>>());
        for x in &a {
            assert!(x.body.contains(x.tags[0].as_str()), "{} / {}", x.title, x.body);
        }
    }
}
