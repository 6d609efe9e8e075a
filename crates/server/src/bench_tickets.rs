//! The tickets of the benchmark data set (scale 1: 2,000,000): two years
//! of history over the generated customers — most archived with their
//! stopped clocks, a reply and their history, about 2 % still open in the
//! agents' queues with running clocks and armed SLA jobs — written through
//! the store's bulk paths. The bench agents become one team, the default
//! group of routing, so that `bench run`'s ticket creation routes to the
//! least-loaded of them. Half of the complaint-type tickets carry a
//! complaint (SPEC P1, scale 1: about 200,000) with generated Chinese
//! complaint text, its grading, signature and registration/solution
//! deadlines. Used by `guanxi bench generate` and `guanxi bench tickets`.

use guanxi_domain::calendar::{BusinessCalendar, WeeklySchedule};
use guanxi_domain::complaint::grading::{self, Grading};
use guanxi_domain::complaint::workflow::State as ComplaintState;
use guanxi_domain::complaint::{DeadlineKind, Deadlines, DemandType, REGISTRATION_WITHIN, SOLUTION_WITHIN};
use guanxi_domain::customer::Channel;
use guanxi_domain::ticket::routing::{AssigneeBy, GroupBy, RoutingReason};
use guanxi_domain::ticket::sla::{ClockKind, SlaClocks, SlaFacts, SlaPolicy};
use guanxi_domain::ticket::{Category, Priority, Status, TicketType};
use guanxi_domain::user::GroupKind;
use guanxi_store::complaints::{self as complaints_store, NewComplaint};
use guanxi_store::tickets::{self as store, NewTicket};
use guanxi_store::timeline::{self, NewEntry, kind};
use guanxi_store::{jobs, routing, settings, users};
use jiff::SignedDuration;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::service::tickets::SLA_JOB;
use crate::service::tickets::setup::DEFAULT_GROUP_KEY;
use crate::state::AppState;

/// Tickets per customer-scale unit: scale 1 has 2,000,000.
pub const TICKETS_PER_SCALE: f64 = 2_000_000.0;
/// The team the bench agents join.
pub const BENCH_TEAM: &str = "基准客服组";
/// Tickets per write transaction. With the tables' secondary indexes
/// deferred (see [`TICKET_TABLES`]) a transaction appends to the tables'
/// ends, so a larger one only means fewer commits.
const BATCH: usize = 10_000;
/// The tables [`generate_tickets`] fills, whose plain secondary indexes it
/// defers (`guanxi_store::bulk_load`): at scale 1, 2,000,000 tickets with
/// as many history rows, replies and timeline entries, which would
/// otherwise land on random pages of every index.
pub const TICKET_TABLES: &[&str] = &["tickets", "ticket_events", "ticket_messages", "complaints", "timeline"];
/// What customers complain about (the ticket's subject, then the
/// customer's words), how they feel and what they ask for: complaint texts
/// are one of each (10 × 8 × 6 = 480 distinct texts).
const PROBLEMS: &[(&str, &str)] = &[
    ("货物外包装破损，零件有划痕", "收到的货物外包装破损，里面的零件有划痕"),
    ("快递超过一周未送达", "快递超过一周还没送到，物流信息也不更新"),
    ("退款申请十天未到账", "退款申请十天了还没到账"),
    ("安装师傅迟到且态度差", "上门安装的师傅迟到两个小时，态度也不好"),
    ("发票抬头再次开错", "发票抬头又开错了，耽误了报销"),
    ("新设备三天就无法开机", "设备用了三天就无法开机"),
    ("客服电话长期打不通", "客服电话一直打不通，在线客服也没人回复"),
    ("账单金额与合同不符", "账单金额和合同约定的不一致"),
    ("维修后故障再次出现", "维修后同样的故障又出现了"),
    ("促销承诺的赠品未发放", "促销时承诺的赠品一直没有发"),
];
const FEELINGS: &[&str] = &[
    "",
    "非常失望，",
    "太不负责任了！",
    "已经是第三次反映了，",
    "再不处理就要投诉到消协，",
    "希望尽快给个说法，",
    "严重影响了我们的生产，",
    "很不满意，",
];

/// A complaint's subject and text.
fn complaint_text(rng: &mut StdRng, demand: DemandType) -> (&'static str, String) {
    let ask = match demand {
        DemandType::Refund => "要求全额退款",
        DemandType::Exchange => "要求换货",
        DemandType::Repair => "请尽快安排维修",
        DemandType::Apology => "要求书面道歉",
        DemandType::Compensation => "要求赔偿损失",
        DemandType::Other => "请给出处理方案",
    };
    let (subject, words) = pick(rng, PROBLEMS);
    (subject, format!("{words}，{}{ask}。", pick(rng, FEELINGS)))
}

/// The complaint row of a bench ticket, made before the write.
struct BenchComplaint {
    number: String,
    demand: DemandType,
    grading: Grading,
    signature: String,
    deadlines: Deadlines,
    registered: jiff::Timestamp,
}

/// One ticket in this many is still open.
const OPEN_ONE_IN: u64 = 50;

const SUBJECTS: &[&str] = &[
    "发票抬头开错需要重开",
    "快递显示已签收但未收到货",
    "如何批量导出本月订单",
    "上门安装师傅迟到",
    "希望报表支持按区域汇总",
    "账号无法登录提示密码错误",
    "退款申请三天未到账",
    "产品使用中出现异响",
    "建议增加短信通知",
    "续费优惠咨询",
];

fn pick<T: Copy>(rng: &mut StdRng, xs: &[T]) -> T {
    xs[rng.random_range(0..xs.len())]
}

/// Adds `count` tickets to a database that holds the benchmark customers
/// and agents. Returns how many tickets were written, and how many of
/// them carry a complaint.
pub async fn generate_tickets(
    state: &AppState,
    count: usize,
    seed: u64,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> anyhow::Result<(usize, usize)> {
    let now = state.clock.now();
    let (customers, agents, last) = state
        .db
        .read(|c| {
            let n = guanxi_store::segments::max_customer_id(c)?;
            let last = store::max_id(c)?;
            let agents: Vec<i64> = users::list(c)?
                .into_iter()
                .filter(|u| u.email.starts_with("agent") && u.email.ends_with("@bench.guanxi.cn"))
                .map(|u| u.id)
                .collect();
            Ok((n, agents, last))
        })
        .await?;
    if customers == 0 || agents.is_empty() {
        anyhow::bail!("generate the benchmark customers first (guanxi bench generate)");
    }
    let agents2 = agents.clone();
    let team = state
        .db
        .write(move |c| {
            let team = match routing::group_by_name(c, BENCH_TEAM)? {
                Some(id) => id,
                None => users::create_group(c, BENCH_TEAM, GroupKind::Team, now)?,
            };
            routing::set_group(c, &agents2, team)?;
            settings::set(c, DEFAULT_GROUP_KEY, &team.to_string(), now)?;
            Ok(team)
        })
        .await?;
    state.ticket_setup.invalidate();
    let plan = HistoryPlan {
        customers: (1..=customers).collect(),
        agents: agents.iter().map(|a| (*a, team, BENCH_TEAM.to_string(), agents.len())).collect(),
        history_days: 730,
        closed_from_mins: 2 * 24 * 60,
        open_one_in: OPEN_ONE_IN,
        open_within_mins: 14 * 24 * 60,
        last_id: last,
    };
    let fill = fill_history(state, &plan, count, seed, progress);
    let (done, complaints) = crate::bench_data::with_deferred_indexes(state, TICKET_TABLES, fill).await?;
    state.db.write(move |c| routing::recount_loads(c, now)).await?;
    let marker = format!("tickets={count}");
    state.db.write(move |c| settings::set(c, "bench_tickets", &marker, now)).await?;
    Ok((done, complaints))
}

/// Whose and whom the tickets of [`fill_history`] are.
pub struct HistoryPlan {
    /// The customers drawn from.
    pub customers: Vec<i64>,
    /// The agents taking them in turn: (agent, their group, its name, the
    /// group's agents), as the routing reason records it.
    pub agents: Vec<(i64, i64, String, usize)>,
    /// How far back closed tickets were received: days, and the least,
    /// minutes.
    pub history_days: i64,
    pub closed_from_mins: i64,
    /// One ticket in this many is still open.
    pub open_one_in: u64,
    /// How far back open tickets were received, minutes.
    pub open_within_mins: i64,
    /// The largest ticket id before (numbers of past days follow it).
    pub last_id: i64,
}

/// Writes `count` tickets of past days through the store's bulk paths:
/// closed ones with their reply, resolution and stopped clocks, open ones
/// with running clocks and armed SLA jobs, half of the complaint-type
/// ones with a complaint. The caller recounts the agents' loads. Returns
/// how many tickets were written and how many carry a complaint.
pub async fn fill_history(
    state: &AppState,
    plan: &HistoryPlan,
    count: usize,
    seed: u64,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> anyhow::Result<(usize, usize)> {
    let now = state.clock.now();
    let (agents, last) = (&plan.agents, plan.last_id);
    let customers = i64::try_from(plan.customers.len())?;
    if plan.customers.is_empty() || agents.is_empty() {
        anyhow::bail!("tickets need customers and agents");
    }
    let policy = SlaPolicy::default();
    let cal = BusinessCalendar::new(WeeklySchedule::standard(), [], state.config.time_zone.clone());
    let tz = state.config.time_zone.clone();
    // Received up to yesterday: today's numbers belong to live tickets.
    let yesterday_end =
        guanxi_domain::clock::local_date(now, &tz).at(0, 0, 0, 0).to_zoned(tz.clone()).map_or(now, |z| z.timestamp())
            - SignedDuration::from_mins(1);
    let mut rng = StdRng::seed_from_u64(seed ^ 0x7469_636b_6574);
    // Complaints draw from their own generator: the tickets stay the same
    // as before complaints were added.
    let mut crng = StdRng::seed_from_u64(seed ^ 0x636f_6d70_6c61);
    let mut complaints = 0usize;
    let mut done = 0;
    // Each agent's routing reason, as an automatic assignment records it.
    let reasons: Vec<RoutingReason> = agents
        .iter()
        .map(|(_, _, name, candidates)| RoutingReason {
            group_by: GroupBy::Default,
            group: Some(name.clone()),
            skill: None,
            assignee_by: AssigneeBy::LeastLoaded { load: 0, candidates: *candidates },
            raised: None,
            tier_schedule: None,
            tier: None,
        })
        .collect();
    while done < count {
        let n = BATCH.min(count - done);
        let mut rows = Vec::with_capacity(n);
        for i in done..done + n {
            let open = rng.random_range(0..plan.open_one_in) == 0;
            let back_mins = if open {
                rng.random_range(10..plan.open_within_mins.max(11))
            } else {
                rng.random_range(plan.closed_from_mins..(plan.history_days * 24 * 60).max(plan.closed_from_mins + 1))
            };
            let received = yesterday_end - SignedDuration::from_mins(back_mins);
            let ticket_type = pick(&mut rng, TicketType::ALL);
            let channel = pick(&mut rng, &[Channel::Phone, Channel::OnlineChat, Channel::Email, Channel::Wechat]);
            let category = pick(&mut rng, Category::ALL);
            let priority =
                pick(&mut rng, &[Priority::Urgent, Priority::High, Priority::Normal, Priority::Normal, Priority::Low]);
            let f = SlaFacts { channel, ticket_type, priority, tier: None };
            let mut clocks = SlaClocks::default();
            for k in [ClockKind::FirstResponse, ClockKind::Resolution] {
                clocks.start(k, policy.target(k, &f), policy.warn_percent, received, &cal);
            }
            let status = if open {
                pick(
                    &mut rng,
                    &[Status::New, Status::Accepted, Status::InProgress, Status::InProgress, Status::WaitingCustomer],
                )
            } else {
                Status::Closed
            };
            let replied = received + SignedDuration::from_mins(rng.random_range(5..600));
            if status != Status::New {
                clocks.stop(ClockKind::FirstResponse, replied, &cal);
            }
            if status == Status::WaitingCustomer {
                clocks.pause_all(replied, &cal);
            }
            let resolved = replied + SignedDuration::from_mins(rng.random_range(30..5_000));
            if status == Status::Closed {
                clocks.stop_all(resolved, &cal);
            }
            let date = guanxi_domain::clock::local_date(received, &tz);
            let agent = i % agents.len();
            let seq = last + 1 + i64::try_from(i).unwrap_or(0);
            let mut priority = priority;
            let mut description = "客户来电反映的问题，详见沟通记录。".to_string();
            let mut complaint_subject = None;
            let complaint = if ticket_type == TicketType::Complaint && crng.random_bool(0.5) {
                let demand = pick(&mut crng, DemandType::ALL);
                let (subject, text) = complaint_text(&mut crng, demand);
                (complaint_subject, description) = (Some(subject), text);
                let grading = grading::grade(&description, 0);
                priority = crate::service::complaints::priority_of(grading.urgency);
                let registered = received + SignedDuration::from_mins(crng.random_range(2..90));
                let mut deadlines = Deadlines::default();
                deadlines.start(DeadlineKind::Registration, received, REGISTRATION_WITHIN, &cal);
                deadlines.meet(DeadlineKind::Registration, registered);
                deadlines.start(DeadlineKind::Solution, received, SOLUTION_WITHIN, &cal);
                if status == Status::Closed {
                    deadlines.meet(DeadlineKind::Solution, resolved);
                }
                complaints += 1;
                Some(BenchComplaint {
                    number: format!("CP{}{seq:09}", date.strftime("%Y%m%d")),
                    demand,
                    signature: grading::signature(&description).join(" "),
                    grading,
                    deadlines,
                    registered,
                })
            } else {
                None
            };
            rows.push((
                // Past days, numbered after every ticket already there
                // (live tickets take today's numbers from the day's counter).
                format!("GD{}{seq:09}", date.strftime("%Y%m%d")),
                ticket_type,
                channel,
                category,
                priority,
                status,
                // Drawn as an i64, as the bench data set always was.
                plan.customers[usize::try_from(rng.random_range(0..customers)).unwrap_or(0)],
                // Drawn for every ticket, so that the tickets stay the same.
                complaint_subject.unwrap_or(pick(&mut rng, SUBJECTS)),
                agent,
                clocks,
                received,
                replied,
                resolved,
                description,
                complaint,
            ));
        }
        // (agent id, group id, routing reason) of each row's agent index.
        let who: Vec<(i64, i64, RoutingReason)> =
            rows.iter().map(|r| (agents[r.8].0, agents[r.8].1, reasons[r.8].clone())).collect();
        state
            .db
            .write(move |c| {
                let new: Vec<NewTicket<'_>> = rows
                    .iter()
                    .zip(&who)
                    .map(|(r, w)| NewTicket {
                        number: &r.0,
                        ticket_type: r.1,
                        channel: r.2,
                        category: r.3,
                        priority: r.4,
                        status: r.5,
                        customer_id: r.6,
                        subject: r.7,
                        description: &r.13,
                        group_id: Some(w.1),
                        assignee_id: Some(w.0),
                        schedule_code: "default",
                        routing: &w.2,
                        repeat_of: None,
                        sla: &r.9,
                        external_id: None,
                        created_by: None,
                        received_at: r.10,
                        now: r.10,
                    })
                    .collect();
                let ids = store::insert_many(c, &new)?;
                let mut events = Vec::with_capacity(rows.len() * 2);
                let mut messages = Vec::with_capacity(rows.len());
                let mut entries = Vec::with_capacity(rows.len());
                let mut armed = Vec::new();
                for ((r, id), w) in rows.iter().zip(&ids).zip(&who) {
                    events.push((*id, r.10, None, "created", format!("{{\"priority\":\"{}\"}}", r.4.code())));
                    if r.5 != Status::New {
                        messages.push((*id, r.11, Some(w.0), "reply", "您好，已收到您的问题，正在为您处理。"));
                        events.push((*id, r.11, Some(w.0), "reply", "{}".to_string()));
                    }
                    if r.5 == Status::Closed {
                        events.push((
                            *id,
                            r.12,
                            Some(w.0),
                            "status",
                            "{\"from\":\"resolved\",\"to\":\"closed\",\"action\":\"close\"}".into(),
                        ));
                    }
                    entries.push(NewEntry {
                        customer_id: r.6,
                        at: r.10,
                        kind: kind::TICKET,
                        ref_id: Some(*id),
                        title: "ticket.created".into(),
                        body: Some(format!("{} {}", r.0, r.7)),
                        actor_id: None,
                    });
                    if let Some(at) = r.9.next_event() {
                        armed.push((id.to_string(), at));
                    }
                }
                // The times the KPIs read (SPEC R1): first reply and resolution.
                for (r, id) in rows.iter().zip(&ids) {
                    if r.5 != Status::New {
                        let resolved = (r.5 == Status::Closed).then_some(r.12);
                        c.execute(
                            "UPDATE tickets SET first_response_at = $1, resolved_at = $2 WHERE id = $3",
                            guanxi_store::args![r.11, resolved, *id],
                        )?;
                    }
                }
                let filed: Vec<_> = rows
                    .iter()
                    .zip(&ids)
                    .zip(&who)
                    .filter_map(|((r, id), w)| {
                        let p = r.14.as_ref()?;
                        let state =
                            if r.5 == Status::Closed { ComplaintState::Closed } else { ComplaintState::Registered };
                        let closed = (r.5 == Status::Closed).then_some(r.12);
                        let new = NewComplaint {
                            ticket_id: *id,
                            number: &p.number,
                            customer_id: r.6,
                            category: r.3,
                            demand_type: p.demand,
                            urgency: p.grading.urgency,
                            grading: &p.grading,
                            signature: &p.signature,
                            batch_id: None,
                            handler_id: Some(w.0),
                            deadlines: &p.deadlines,
                            received_at: r.10,
                            now: p.registered,
                        };
                        Some((new, state, closed))
                    })
                    .collect();
                complaints_store::insert_many(c, &filed)?;
                store::add_events(c, &events)?;
                store::add_messages(c, &messages)?;
                timeline::append_many(c, &entries)?;
                jobs::schedule_many(c, SLA_JOB, &armed, now)?;
                Ok(())
            })
            .await?;
        done += n;
        progress(done, count);
    }
    Ok((done, complaints))
}

/// The storage floor of the benchmark (issue 11): the rows one ticket
/// creation writes — the ticket, the agent's load, the history row, the
/// audit entry, the timeline entry and the SLA job — inserted in one write
/// transaction through the same writer (and group commit) a request uses,
/// from the bench process itself: no HTTP, no sign-in, no validation, no
/// routing or repeat-inquiry reads. `guanxi bench all` runs it against the
/// data set before it starts the server; `ticket-create` and
/// `complaint-register` are printed as ratios to it.
pub struct StorageFloor {
    team: i64,
    agents: Vec<i64>,
    customers: i64,
    /// Numbers of floor tickets: `BF` + a run stamp + a sequence, unique
    /// across runs.
    stamp: i64,
    reason: RoutingReason,
}

impl StorageFloor {
    pub async fn prepare(state: &AppState) -> anyhow::Result<Self> {
        let (customers, agents, team) = state
            .db
            .read(|c| {
                let n = guanxi_store::segments::max_customer_id(c)?;
                let agents: Vec<i64> = users::list(c)?
                    .into_iter()
                    .filter(|u| u.email.starts_with("agent") && u.email.ends_with("@bench.guanxi.cn"))
                    .map(|u| u.id)
                    .collect();
                Ok((n, agents, routing::group_by_name(c, BENCH_TEAM)?))
            })
            .await?;
        let team = team.filter(|_| customers > 0 && !agents.is_empty());
        let team =
            team.ok_or_else(|| anyhow::anyhow!("generate the benchmark data set first (guanxi bench generate)"))?;
        let reason = RoutingReason {
            group_by: GroupBy::Default,
            group: Some(BENCH_TEAM.into()),
            skill: None,
            assignee_by: AssigneeBy::LeastLoaded { load: 0, candidates: agents.len() },
            raised: None,
            tier_schedule: None,
            tier: None,
        };
        Ok(Self { team, agents, customers, stamp: state.clock.now().as_second() % 1_000_000, reason })
    }

    /// Writes the rows of one ticket creation (`seq` numbers it).
    pub async fn insert_one(&self, state: &AppState, seq: u64) -> anyhow::Result<()> {
        let now = state.clock.now();
        let policy = SlaPolicy::default();
        let cal = BusinessCalendar::new(WeeklySchedule::standard(), [], state.config.time_zone.clone());
        let f = SlaFacts {
            channel: Channel::Phone,
            ticket_type: TicketType::Consultation,
            priority: Priority::Normal,
            tier: None,
        };
        let mut clocks = SlaClocks::default();
        for k in [ClockKind::FirstResponse, ClockKind::Resolution] {
            clocks.start(k, policy.target(k, &f), policy.warn_percent, now, &cal);
        }
        let number = format!("BF{:06}{seq:09}", self.stamp);
        let n = i64::try_from(seq).unwrap_or(0);
        let agent = self.agents[usize::try_from(seq).unwrap_or(0) % self.agents.len()];
        let customer = 1 + n.rem_euclid(self.customers);
        let (team, reason) = (self.team, self.reason.clone());
        state
            .db
            .write(move |c| {
                let t = NewTicket {
                    number: &number,
                    ticket_type: TicketType::Consultation,
                    channel: Channel::Phone,
                    category: Category::Service,
                    priority: Priority::Normal,
                    status: Status::New,
                    customer_id: customer,
                    subject: "快递显示已签收但未收到货",
                    description: "客户来电反映的问题，已记录，待处理。",
                    group_id: Some(team),
                    assignee_id: Some(agent),
                    schedule_code: "default",
                    routing: &reason,
                    repeat_of: None,
                    sla: &clocks,
                    external_id: None,
                    created_by: None,
                    received_at: now,
                    now,
                };
                let id = store::insert(c, &t)?;
                routing::add_load(c, agent, 1, now)?;
                let detail = "{\"priority\":\"normal\"}".to_string();
                store::add_event(c, id, now, None, "created", &detail)?;
                guanxi_store::audit::record(
                    c,
                    now,
                    &guanxi_store::audit::AuditEntry {
                        actor_id: None,
                        action: "created",
                        entity: "ticket",
                        entity_id: Some(id),
                        detail: format!("{number} {detail}"),
                        ip: None,
                    },
                )?;
                timeline::append(
                    c,
                    &NewEntry {
                        customer_id: customer,
                        at: now,
                        kind: kind::TICKET,
                        ref_id: Some(id),
                        title: "ticket.created".into(),
                        body: Some(format!("{number} 快递显示已签收但未收到货")),
                        actor_id: None,
                    },
                )?;
                if let Some(at) = clocks.next_event() {
                    jobs::schedule_many(c, SLA_JOB, &[(id.to_string(), at)], now)?;
                }
                Ok(())
            })
            .await?;
        Ok(())
    }
}
