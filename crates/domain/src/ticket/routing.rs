//! Smart routing (T3, 智能路由): ordered rules on the customer's tier and
//! tags and the ticket's type, category, channel, priority and keywords
//! choose a group (and may require a skill); inside the group a high-value
//! customer's dedicated advisor takes it, else the least-loaded available
//! agent (or the next in turn, per group). Every automatic choice is kept
//! as a [`RoutingReason`] and shown on the ticket.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Category, Priority, TicketType};
use crate::Lang;
use crate::customer::{Channel, vocabulary};
use crate::segment::ValueTier;
use crate::validation::{self, Issue, ValidationErrors};

/// What a rule tests. An empty list means "any"; a non-empty list means
/// "one of these"; all non-empty lists must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct RuleConditions {
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub tiers: Vec<ValueTier>,
    /// Customer tags (manual or rule tags); one of them.
    pub tags: Vec<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub types: Vec<TicketType>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub categories: Vec<Category>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub channels: Vec<Channel>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub priorities: Vec<Priority>,
    /// Words of which one must occur in the subject or description
    /// (case-insensitive).
    pub keywords: Vec<String>,
}

/// The facts a rule is tested against.
#[derive(Debug, Clone, Copy)]
pub struct RoutingFacts<'a> {
    pub ticket_type: TicketType,
    pub category: Category,
    pub channel: Channel,
    pub priority: Priority,
    pub tier: Option<ValueTier>,
    pub tags: &'a [String],
    pub subject: &'a str,
    pub description: &'a str,
}

fn one_of<T: PartialEq>(list: &[T], v: &T) -> bool {
    list.is_empty() || list.contains(v)
}

impl RuleConditions {
    pub fn matches(&self, f: &RoutingFacts<'_>) -> bool {
        one_of(&self.types, &f.ticket_type)
            && one_of(&self.categories, &f.category)
            && one_of(&self.channels, &f.channel)
            && one_of(&self.priorities, &f.priority)
            && (self.tiers.is_empty() || f.tier.is_some_and(|t| self.tiers.contains(&t)))
            && (self.tags.is_empty() || self.tags.iter().any(|t| f.tags.contains(t)))
            && (self.keywords.is_empty() || {
                let (s, d) = (f.subject.to_lowercase(), f.description.to_lowercase());
                self.keywords.iter().map(|k| k.to_lowercase()).any(|k| s.contains(&k) || d.contains(&k))
            })
    }

    /// Trims the words; errors name `conditions.tags` / `conditions.keywords`.
    pub fn normalise(mut self) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::new();
        for (field, list) in [("conditions.tags", &mut self.tags), ("conditions.keywords", &mut self.keywords)] {
            let mut clean = Vec::new();
            for w in list.iter() {
                match validation::required_text(w, 30) {
                    Ok(w) if !clean.contains(&w) => clean.push(w),
                    Ok(_) => {}
                    Err(i) => {
                        e.add(field, i);
                        break;
                    }
                }
            }
            if clean.len() > 30 {
                e.add(field, Issue::TooMany { max: 30 });
            }
            *list = clean;
        }
        e.into_result(|| self)
    }
}

/// One routing rule, as the store keeps it (in order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingRule {
    pub id: i64,
    pub name: String,
    pub conditions: RuleConditions,
    pub group_id: i64,
    /// Only agents with this skill take the ticket.
    pub skill: Option<String>,
}

/// The first enabled rule that matches (rules come in their order).
pub fn first_match<'a>(rules: &'a [RoutingRule], f: &RoutingFacts<'_>) -> Option<&'a RoutingRule> {
    rules.iter().find(|r| r.conditions.matches(f))
}

/// A skill or rule name: 1–30 characters.
pub fn parse_skill(raw: &str) -> Result<String, Issue> {
    validation::required_text(raw, 30)
}

vocabulary!(
    /// How a group hands out its tickets.
    AssignMode {
        LeastLoaded = "least_loaded", "负载最低优先", "Least loaded first";
        RoundRobin = "round_robin", "轮流分配", "Round robin";
    }
);

/// A member of the group who might take the ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub user_id: i64,
    /// Tickets in hand (not resolved or archived).
    pub load: i64,
    pub last_assigned_at: Option<Timestamp>,
    /// Marked available (在线) by themselves.
    pub available: bool,
    /// Active and certified (考核通过后上岗, SPEC S1).
    pub certified: bool,
    pub skills: Vec<String>,
}

impl Candidate {
    fn can_take(&self, skill: Option<&str>) -> bool {
        self.available && self.certified && skill.is_none_or(|s| self.skills.iter().any(|k| k == s))
    }
}

/// Who takes the ticket and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum AssigneeBy {
    /// Chosen by the person who created the ticket.
    Manual,
    /// The high-value customer's dedicated advisor (1V1专属顾问).
    DedicatedAdvisor,
    LeastLoaded {
        load: i64,
        candidates: usize,
    },
    RoundRobin {
        candidates: usize,
    },
    /// Nobody in the group could take it now; it waits in the group's queue.
    NobodyAvailable {
        members: usize,
    },
    /// No group, so nobody.
    Unassigned,
}

/// The choice inside a group. The advisor is given only for high-value
/// customers whose advisor is a member who can take work.
pub fn choose(
    candidates: &[Candidate],
    mode: AssignMode,
    skill: Option<&str>,
    advisor: Option<i64>,
) -> (Option<i64>, AssigneeBy) {
    let able: Vec<&Candidate> = candidates.iter().filter(|c| c.can_take(skill)).collect();
    if let Some(a) = advisor.filter(|a| able.iter().any(|c| c.user_id == *a)) {
        return (Some(a), AssigneeBy::DedicatedAdvisor);
    }
    // Never assigned sorts before any instant: a new agent gets the next one.
    let turn = |c: &Candidate| (c.last_assigned_at.map_or(i64::MIN, Timestamp::as_millisecond), c.user_id);
    let n = able.len();
    let pick = match mode {
        AssignMode::LeastLoaded => able.iter().min_by_key(|c| (c.load, turn(c))),
        AssignMode::RoundRobin => able.iter().min_by_key(|c| turn(c)),
    };
    match (pick, mode) {
        (Some(c), AssignMode::LeastLoaded) => {
            (Some(c.user_id), AssigneeBy::LeastLoaded { load: c.load, candidates: n })
        }
        (Some(c), AssignMode::RoundRobin) => (Some(c.user_id), AssigneeBy::RoundRobin { candidates: n }),
        (None, _) => (None, AssigneeBy::NobodyAvailable { members: candidates.len() }),
    }
}

/// How the group was chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum GroupBy {
    Manual,
    Rule {
        rule: String,
    },
    /// No rule matched: the default group of the settings.
    Default,
    /// No rule matched and there is no default group: the creator's group.
    CreatorGroup,
    None,
}

/// Everything the ticket shows about how it was routed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingReason {
    pub group_by: GroupBy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skill: Option<String>,
    pub assignee_by: AssigneeBy,
    /// A high-value customer's priority was raised (from, to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raised: Option<(Priority, Priority)>,
    /// The schedule the SLA runs on, when the tier chose it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier_schedule: Option<String>,
    /// The customer's value tier when the ticket was created (its SLA
    /// rules may key on it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<ValueTier>,
}

impl RoutingReason {
    /// The reason in words: 规则「VIP 投诉」→ 投诉处理组；组内负载最低（2 张在办，3 人可接单）.
    pub fn describe(&self, lang: Lang) -> String {
        let group = self.group.as_deref().unwrap_or("—");
        let mut parts = vec![match &self.group_by {
            GroupBy::Manual => format!("{}{group}", lang.pick("手动指定小组：", "Group chosen by hand: ")),
            GroupBy::Rule { rule } => match lang {
                Lang::Zh => format!("规则「{rule}」→ {group}"),
                Lang::En => format!("rule \"{rule}\" → {group}"),
            },
            GroupBy::Default => {
                format!("{}{group}", lang.pick("无匹配规则，默认小组：", "no rule matched, default group: "))
            }
            GroupBy::CreatorGroup => {
                format!("{}{group}", lang.pick("无匹配规则，创建人所在小组：", "no rule matched, creator's group: "))
            }
            GroupBy::None => lang.pick("无匹配规则，未分组", "no rule matched, no group").to_string(),
        }];
        if let Some(s) = &self.skill {
            parts.push(format!("{}{s}", lang.pick("需要技能：", "skill required: ")));
        }
        parts.push(match (&self.assignee_by, lang) {
            (AssigneeBy::Manual, _) => lang.pick("手动指定处理人", "assignee chosen by hand").into(),
            (AssigneeBy::DedicatedAdvisor, _) => {
                lang.pick("高价值客户的专属顾问", "the high-value customer's dedicated advisor").into()
            }
            (AssigneeBy::LeastLoaded { load, candidates }, Lang::Zh) => {
                format!("组内负载最低（{load} 张在办，{candidates} 人可接单）")
            }
            (AssigneeBy::LeastLoaded { load, candidates }, Lang::En) => {
                format!("least loaded in the group ({load} in hand, {candidates} available)")
            }
            (AssigneeBy::RoundRobin { candidates }, Lang::Zh) => format!("组内轮流分配（{candidates} 人可接单）"),
            (AssigneeBy::RoundRobin { candidates }, Lang::En) => {
                format!("round robin in the group ({candidates} available)")
            }
            (AssigneeBy::NobodyAvailable { members }, Lang::Zh) => {
                format!("组内暂无可接单的人（{members} 名成员），在小组队列等待")
            }
            (AssigneeBy::NobodyAvailable { members }, Lang::En) => {
                format!("nobody in the group can take it now ({members} members); waiting in the group queue")
            }
            (AssigneeBy::Unassigned, _) => lang.pick("未分配", "unassigned").into(),
        });
        if let Some((from, to)) = self.raised {
            parts.push(match lang {
                Lang::Zh => format!("高价值客户：优先级由「{}」提升为「{}」", from.label(lang), to.label(lang)),
                Lang::En => {
                    format!("high-value customer: priority raised from {} to {}", from.label(lang), to.label(lang))
                }
            });
        }
        if let Some(s) = &self.tier_schedule {
            parts.push(format!("{}{s}", lang.pick("高价值客户服务时间：", "high-value service hours: ")));
        }
        parts.join(lang.pick("；", "; "))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn facts<'a>(tags: &'a [String], subject: &'a str) -> RoutingFacts<'a> {
        RoutingFacts {
            ticket_type: TicketType::Complaint,
            category: Category::Logistics,
            channel: Channel::Phone,
            priority: Priority::Normal,
            tier: Some(ValueTier::High),
            tags,
            subject,
            description: "",
        }
    }

    fn rule(id: i64, conditions: RuleConditions) -> RoutingRule {
        RoutingRule { id, name: format!("r{id}"), conditions, group_id: id * 10, skill: None }
    }

    #[test]
    fn the_first_matching_rule_wins() {
        let tags = vec!["投诉风险".to_string()];
        let rules = vec![
            rule(1, RuleConditions { channels: vec![Channel::OnlineChat], ..Default::default() }),
            rule(2, RuleConditions { keywords: vec!["退款".into()], ..Default::default() }),
            rule(
                3,
                RuleConditions {
                    tiers: vec![ValueTier::High], tags: vec!["投诉风险".into()], ..Default::default()
                },
            ),
            rule(4, RuleConditions::default()),
        ];
        assert_eq!(first_match(&rules, &facts(&tags, "要求退款")).unwrap().id, 2);
        assert_eq!(first_match(&rules, &facts(&tags, "Late parcel")).unwrap().id, 3);
        assert_eq!(first_match(&rules, &facts(&[], "Late parcel")).unwrap().id, 4);
        let kw = RuleConditions { keywords: vec!["REFUND".into()], ..Default::default() };
        assert!(kw.matches(&facts(&[], "please refund me")), "keywords ignore case");
        let f = RoutingFacts { tier: None, ..facts(&[], "") };
        assert!(!RuleConditions { tiers: vec![ValueTier::High], ..Default::default() }.matches(&f));
    }

    fn cand(user_id: i64, load: i64, last: Option<i64>) -> Candidate {
        Candidate {
            user_id,
            load,
            last_assigned_at: last.map(|s| Timestamp::from_second(s).unwrap()),
            available: true,
            certified: true,
            skills: vec![],
        }
    }

    #[test]
    fn the_least_loaded_available_certified_agent_takes_it() {
        let mut cs = vec![cand(1, 3, Some(10)), cand(2, 1, Some(50)), cand(3, 1, Some(20)), cand(4, 0, None)];
        cs[3].available = false;
        assert_eq!(
            choose(&cs, AssignMode::LeastLoaded, None, None),
            (Some(3), AssigneeBy::LeastLoaded { load: 1, candidates: 3 }),
            "equal loads: the one who waited longest"
        );
        cs[2].certified = false;
        assert_eq!(choose(&cs, AssignMode::LeastLoaded, None, None).0, Some(2));
        assert_eq!(
            choose(&cs, AssignMode::RoundRobin, None, None),
            (Some(1), AssigneeBy::RoundRobin { candidates: 2 })
        );
        cs[0].skills = vec!["english".into()];
        assert_eq!(choose(&cs, AssignMode::LeastLoaded, Some("english"), None).0, Some(1));
        assert_eq!(
            choose(&cs, AssignMode::LeastLoaded, Some("japanese"), None),
            (None, AssigneeBy::NobodyAvailable { members: 4 })
        );
        assert_eq!(choose(&cs, AssignMode::LeastLoaded, None, Some(1)), (Some(1), AssigneeBy::DedicatedAdvisor));
        assert_eq!(choose(&cs, AssignMode::LeastLoaded, None, Some(4)).0, Some(2), "an unavailable advisor is skipped");
    }

    #[test]
    fn reasons_read_well() {
        let r = RoutingReason {
            group_by: GroupBy::Rule { rule: "VIP 投诉".into() },
            group: Some("投诉处理组".into()),
            skill: None,
            assignee_by: AssigneeBy::LeastLoaded { load: 2, candidates: 3 },
            raised: Some((Priority::Normal, Priority::High)),
            tier_schedule: Some("7×12".into()),
            tier: Some(ValueTier::High),
        };
        assert_eq!(
            r.describe(Lang::Zh),
            "规则「VIP 投诉」→ 投诉处理组；组内负载最低（2 张在办，3 人可接单）；高价值客户：优先级由「普通」提升为「高」；高价值客户服务时间：7×12"
        );
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<RoutingReason>(&json).unwrap(), r);
    }
}
