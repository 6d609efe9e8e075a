//! The ticket scenarios of `guanxi bench run` (SPEC T, issue 6):
//! `ticket-create` posts new tickets over the API as the benchmark
//! supervisor (routing then picks the least-loaded bench agent), and
//! `ticket-queue` reads an agent's 我的工单 (the 25 nearest SLA deadlines)
//! as each of the bench agents in turn; `complaint-register` registers a
//! complaint over the API as the supervisor. `bench run` calls [`request`] for
//! every request of these scenarios.

use anyhow::Context as _;

use crate::bench::Mix;

pub const SCENARIOS: &[&str] = &["ticket-create", "ticket-queue"];

const SUBJECTS: &[&str] =
    &["发票抬头开错需要重开", "快递显示已签收但未收到货", "如何批量导出本月订单", "退款申请三天未到账"];
const TYPES: &[&str] = &["consultation", "complaint", "suggestion", "feedback", "need"];
const CHANNELS: &[&str] = &["phone", "online_chat", "email", "wechat"];
const CATEGORIES: &[&str] = &["product", "service", "communication", "logistics", "other"];
/// Complaints as customers word them (graded for emotion, compared for batches).
const COMPLAINTS: &[(&str, &str)] = &[
    ("收到的商品外包装破损", "收到的货外包装破了，里面的零件也有划痕，希望尽快给个说法。"),
    ("快递一周还没送到", "下单一周了快递还没到，客服电话一直打不通，太失望了！"),
    ("退款迟迟不到账", "申请退款已经十天了还没到账，每次问都说在处理，请给个明确时间。"),
    ("安装师傅态度差", "上门安装的师傅迟到两个小时，态度还很差，要求道歉。"),
    ("发票开错多次", "发票抬头第三次开错了，耽误我们报销，非常不满意。"),
    ("设备使用三天就坏了", "新买的设备用了三天就无法开机，要求换货并赔偿损失。"),
];
const DEMANDS: &[&str] = &["refund", "exchange", "repair", "apology", "compensation", "other"];

fn pick<'a>(rng: &mut Mix, xs: &[&'a str]) -> &'a str {
    xs[usize::try_from(rng.below(xs.len() as u64)).unwrap_or(0)]
}

/// Bearer tokens of the bench agents (agent0 … agent19), for `ticket-queue`.
pub async fn agent_tokens(api: &reqwest::Client, base: &str, password: &str) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for i in 0..guanxi_server::bench_data::BENCH_AGENTS {
        let v: serde_json::Value = api
            .post(format!("{base}/api/v1/auth/token"))
            .json(&serde_json::json!({"email": format!("agent{i}@bench.guanxi.cn"), "password": password}))
            .send()
            .await?
            .error_for_status()
            .context("login of a bench agent failed")?
            .json()
            .await?;
        out.push(v["token"].as_str().context("no token")?.to_string());
    }
    Ok(out)
}

/// The request of a ticket scenario, or `None` for another scenario.
pub fn request(
    api: &reqwest::Client,
    base: &str,
    scenario: &str,
    rng: &mut Mix,
    customers: u64,
    token: &str,
    agents: &[String],
) -> Option<reqwest::RequestBuilder> {
    match scenario {
        "ticket-create" => {
            let body = serde_json::json!({
                "type": pick(rng, TYPES), "channel": pick(rng, CHANNELS), "category": pick(rng, CATEGORIES),
                "customer_id": 1 + rng.below(customers.max(1)), "subject": pick(rng, SUBJECTS),
                "description": "客户来电反映的问题，已记录，待处理。",
            });
            Some(api.post(format!("{base}/api/v1/tickets")).bearer_auth(token).json(&body))
        }
        // 投诉登记 (SPEC P1): a complaint and its ticket, graded, checked for
        // a batch of similar complaints, deadlines armed.
        "complaint-register" => {
            let (subject, words) = COMPLAINTS[usize::try_from(rng.below(COMPLAINTS.len() as u64)).unwrap_or(0)];
            let body = serde_json::json!({
                "customer_id": 1 + rng.below(customers.max(1)), "channel": pick(rng, CHANNELS),
                "category": pick(rng, CATEGORIES), "demand_type": pick(rng, DEMANDS),
                "subject": subject, "description": words,
            });
            Some(api.post(format!("{base}/api/v1/complaints")).bearer_auth(token).json(&body))
        }
        "ticket-queue" => {
            let agent = agents.get(usize::try_from(rng.below(agents.len() as u64)).unwrap_or(0))?;
            Some(api.get(format!("{base}/api/v1/tickets?queue=mine&limit=25")).bearer_auth(agent))
        }
        _ => None,
    }
}
