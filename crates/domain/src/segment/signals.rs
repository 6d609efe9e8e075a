//! Churn-warning signals (流失预警, SPEC G4): one rule per kind, each with its
//! own threshold and window, and each firing signal carrying the numbers
//! that explain it.
//!
//! A customer is *at risk* (流失风险) when at least one signal fires; that is
//! independent of the activity status (G2).
//!
//! The caller computes the facts of a rule's window (see [`SignalFacts`]);
//! [`evaluate`] decides. Every comparison with a threshold is `>=`: a value
//! exactly at the threshold fires.

use jiff::ToSpan;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::Lang;
use crate::customer::vocabulary;
use crate::money::Money;
use crate::validation::{Issue, ValidationErrors};

use super::days_between;

vocabulary!(
    /// The kinds of churn-warning signal.
    SignalKind {
        OrderDrop = "order_drop", "订单量下降", "Order volume drop";
        SpendDrop = "spend_drop", "消费金额下降", "Spend drop";
        NoLogin = "no_login", "长期未登录", "No login";
        ConsultationDrop = "consultation_drop", "咨询频率下降", "Consultation drop";
        ContactSpike = "contact_spike", "投诉/咨询激增", "Complaint/consultation spike";
        NegativeFeedback = "negative_feedback", "负面反馈增加", "More negative feedback";
        NoInteraction = "no_interaction", "连续两个月无互动", "No interaction for two months";
        CompetitorContact = "competitor_contact", "接触竞品", "Competitor contact";
    }
);

impl SignalKind {
    /// The accepted thresholds of this kind, inclusive; `None` when the kind
    /// has no threshold (the manual competitor flag).
    ///
    /// | kind | threshold means | range |
    /// |---|---|---|
    /// | order / spend / consultation drop | drop in percent of the prior window | 1–100 |
    /// | no login, no interaction | days since the last one | 1–730 |
    /// | contact spike | recent count in percent of the prior one (200 = twice) | 101–1000 |
    /// | negative feedback | recent count minus prior count | 1–1000 |
    pub fn threshold_range(self) -> Option<(i64, i64)> {
        match self {
            SignalKind::OrderDrop | SignalKind::SpendDrop | SignalKind::ConsultationDrop => Some((1, 100)),
            SignalKind::NoLogin | SignalKind::NoInteraction => Some((1, 730)),
            SignalKind::ContactSpike => Some((101, 1000)),
            SignalKind::NegativeFeedback => Some((1, 1000)),
            SignalKind::CompetitorContact => None,
        }
    }

    /// The unit of the threshold, for settings forms.
    pub fn threshold_unit(self, lang: Lang) -> &'static str {
        match self {
            SignalKind::OrderDrop | SignalKind::SpendDrop | SignalKind::ConsultationDrop => {
                lang.pick("下降幅度（%）", "drop (%)")
            }
            SignalKind::NoLogin | SignalKind::NoInteraction => lang.pick("天", "days"),
            SignalKind::ContactSpike => {
                lang.pick("为前期的百分比（200 = 2倍）", "% of the period before (200 = twice)")
            }
            SignalKind::NegativeFeedback => lang.pick("比前期增加条数", "more than the period before"),
            SignalKind::CompetitorContact => "",
        }
    }

    /// Whether the rule's window matters: the day counts and the manual flag
    /// ignore it (it is still validated, so settings stay uniform).
    pub fn uses_window(self) -> bool {
        !matches!(self, SignalKind::NoLogin | SignalKind::NoInteraction | SignalKind::CompetitorContact)
    }
}

/// One signal's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalRule {
    pub kind: SignalKind,
    pub enabled: bool,
    /// See [`SignalKind::threshold_range`] for its meaning per kind.
    pub threshold: i64,
    /// The length of the recent window, and of the prior window it is
    /// compared with, in days (7–365).
    pub window_days: i64,
}

impl SignalRule {
    /// The accepted windows, inclusive.
    pub const WINDOW_DAYS: (i64, i64) = (7, 365);
    /// A contact spike also needs at least this many complaints and
    /// consultations in the recent window, so that 1 → 2 is no spike.
    pub const SPIKE_MIN_CONTACTS: i64 = 3;

    /// The default rules, one per kind, all enabled:
    /// - order, spend and consultation drop: a fall of 50% or more over the
    ///   last 90 days against the 90 days before;
    /// - no login for 30 days or more;
    /// - contact spike: complaints + consultations in the last 60 days at
    ///   least twice (200%) those of the 60 days before, and at least 3;
    /// - negative feedback: at least 2 more in the last 90 days than in the
    ///   90 days before;
    /// - no interaction for 60 days or more (two months);
    /// - competitor contact: the manual flag is set.
    pub fn defaults() -> Vec<SignalRule> {
        let rule = |kind, threshold, window_days| SignalRule { kind, enabled: true, threshold, window_days };
        vec![
            rule(SignalKind::OrderDrop, 50, 90),
            rule(SignalKind::SpendDrop, 50, 90),
            rule(SignalKind::NoLogin, 30, 30),
            rule(SignalKind::ConsultationDrop, 50, 90),
            rule(SignalKind::ContactSpike, 200, 60),
            rule(SignalKind::NegativeFeedback, 2, 90),
            rule(SignalKind::NoInteraction, 60, 60),
            rule(SignalKind::CompetitorContact, 0, 90),
        ]
    }

    /// The default rule of a kind.
    pub fn default_for(kind: SignalKind) -> SignalRule {
        Self::defaults().into_iter().find(|r| r.kind == kind).unwrap_or(SignalRule {
            kind,
            enabled: false,
            threshold: 0,
            window_days: 90,
        })
    }

    /// Parses the numbers of a settings form. Errors name `threshold` and
    /// `window_days`.
    pub fn parse(
        kind: SignalKind,
        enabled: bool,
        threshold_raw: &str,
        window_raw: &str,
    ) -> Result<SignalRule, ValidationErrors> {
        let number = |raw: &str| -> Result<i64, Issue> {
            let t = raw.trim();
            if t.is_empty() {
                return Err(Issue::Required);
            }
            t.parse::<i64>().map_err(|_| Issue::OutOfRange)
        };
        let mut e = ValidationErrors::new();
        let threshold = if kind.threshold_range().is_none() && threshold_raw.trim().is_empty() {
            Some(0)
        } else {
            e.check("threshold", number(threshold_raw))
        };
        let window_days = e.check("window_days", number(window_raw));
        if let (Some(threshold), Some(window_days)) = (threshold, window_days)
            && let Err(more) = (SignalRule { kind, enabled, threshold, window_days }).validate()
        {
            e.0.extend(more.0);
        }
        match (threshold, window_days) {
            (Some(threshold), Some(window_days)) if e.is_empty() => {
                Ok(SignalRule { kind, enabled, threshold, window_days })
            }
            _ => Err(e),
        }
    }

    /// The threshold must lie in its kind's range
    /// ([`SignalKind::threshold_range`]) and the window in 7–365 days.
    /// Errors name `threshold` and `window_days`.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        if let Some((lo, hi)) = self.kind.threshold_range()
            && !(lo..=hi).contains(&self.threshold)
        {
            e.add("threshold", Issue::OutOfRange);
        }
        let (lo, hi) = Self::WINDOW_DAYS;
        if !(lo..=hi).contains(&self.window_days) {
            e.add("window_days", Issue::OutOfRange);
        }
        e.into_result(|| ())
    }

    /// Validates a whole rule set: each rule as in [`SignalRule::validate`]
    /// with fields named `<kind>.threshold` / `<kind>.window_days` (e.g.
    /// `order_drop.threshold`), and at most one rule per kind (a second one
    /// is refused under `<kind>`).
    pub fn validate_all(rules: &[SignalRule]) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        for (i, rule) in rules.iter().enumerate() {
            let kind = rule.kind.code();
            if rules[..i].iter().any(|r| r.kind == rule.kind) {
                e.add(kind, Issue::Taken);
                continue;
            }
            if let Err(errors) = rule.validate() {
                for f in errors.0 {
                    e.add(&format!("{kind}.{}", f.field), f.issue);
                }
            }
        }
        e.into_result(|| ())
    }

    /// The recent window as `(after, through)`: `(today − window, today]`.
    pub fn recent_window(&self, today: Date) -> (Date, Date) {
        (today.saturating_sub(self.window_days.days()), today)
    }

    /// The prior window as `(after, through)`: the `window_days` before the
    /// recent one, `(today − 2·window, today − window]`.
    pub fn prior_window(&self, today: Date) -> (Date, Date) {
        let (after, _) = self.recent_window(today);
        (after.saturating_sub(self.window_days.days()), after)
    }
}

/// A count (or amount) in the recent window and in the prior window of the
/// same length just before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counts {
    pub recent: i64,
    pub prior: i64,
}

/// The facts [`evaluate`] needs for one rule, counted over that rule's
/// windows: `recent` over [`SignalRule::recent_window`], `prior` over
/// [`SignalRule::prior_window`]. A rule reads only the fields of its kind.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SignalFacts {
    /// Number of orders.
    pub orders: Counts,
    /// Spend in fen.
    pub spend_fen: Counts,
    /// Consultations (inquiries) received.
    pub consultations: Counts,
    /// Complaints plus consultations.
    pub contacts: Counts,
    /// Negative feedback: low survey scores, negative reviews.
    pub negative_feedback: Counts,
    /// The last login to the customer portal or app, if any was ever seen.
    pub last_login: Option<Date>,
    /// The last interaction of any kind, if any.
    pub last_interaction: Option<Date>,
    /// An agent marked the customer as talking to a competitor.
    pub competitor_flag: bool,
}

/// The numbers behind a signal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Evidence {
    /// A fall from the prior window to the recent one; `percent` is the fall
    /// in percent of `prior`, rounded down. Spend is in fen.
    Drop { window_days: i64, prior: i64, recent: i64, percent: i64 },
    /// Days since the last login or interaction.
    DaysSince { days: i64, last: Option<Date> },
    /// Complaints and consultations up from the prior window.
    Spike { window_days: i64, prior: i64, recent: i64 },
    /// Negative feedback up from the prior window.
    Increase { window_days: i64, prior: i64, recent: i64 },
    /// Set by hand (competitor contact).
    Manual,
}

/// `recent / prior` with one decimal, rounded down, without a trailing `.0`.
fn ratio_text(recent: i64, prior: i64) -> String {
    let tenths = i128::from(recent) * 10 / i128::from(prior.max(1));
    if tenths % 10 == 0 { format!("{}", tenths / 10) } else { format!("{}.{}", tenths / 10, tenths % 10) }
}

impl Evidence {
    /// A sentence for the signal's card, e.g.
    /// "近90天订单数较前90天下降70%（10单 → 3单）" /
    /// "Orders in the last 90 days fell 70% vs the 90 days before (10 → 3)".
    pub fn text(&self, kind: SignalKind, lang: Lang) -> String {
        match (self, lang) {
            (Evidence::Drop { window_days: w, prior, recent, percent: p }, Lang::Zh) => match kind {
                SignalKind::OrderDrop => format!("近{w}天订单数较前{w}天下降{p}%（{prior}单 → {recent}单）"),
                SignalKind::SpendDrop => format!(
                    "近{w}天消费金额较前{w}天下降{p}%（¥{} → ¥{}）",
                    Money::from_fen(*prior),
                    Money::from_fen(*recent)
                ),
                SignalKind::ConsultationDrop => format!("近{w}天咨询次数较前{w}天下降{p}%（{prior}次 → {recent}次）"),
                _ => format!("{}：近{w}天较前{w}天下降{p}%（{prior} → {recent}）", kind.label(lang)),
            },
            (Evidence::Drop { window_days: w, prior, recent, percent: p }, Lang::En) => match kind {
                SignalKind::OrderDrop => {
                    format!("Orders in the last {w} days fell {p}% vs the {w} days before ({prior} → {recent})")
                }
                SignalKind::SpendDrop => format!(
                    "Spend in the last {w} days fell {p}% vs the {w} days before (¥{} → ¥{})",
                    Money::from_fen(*prior),
                    Money::from_fen(*recent)
                ),
                SignalKind::ConsultationDrop => {
                    format!("Consultations in the last {w} days fell {p}% vs the {w} days before ({prior} → {recent})")
                }
                _ => format!(
                    "{}: the last {w} days fell {p}% vs the {w} days before ({prior} → {recent})",
                    kind.label(lang)
                ),
            },
            (Evidence::DaysSince { days, last: Some(last) }, Lang::Zh) => match kind {
                SignalKind::NoLogin => format!("已连续{days}天未登录（最近登录：{last}）"),
                SignalKind::NoInteraction => format!("已连续{days}天无互动（最近互动：{last}）"),
                _ => format!("{}：已{days}天（最近：{last}）", kind.label(lang)),
            },
            (Evidence::DaysSince { days, last: Some(last) }, Lang::En) => match kind {
                SignalKind::NoLogin => format!("No login for {days} days (last login {last})"),
                SignalKind::NoInteraction => format!("No interaction for {days} days (last interaction {last})"),
                _ => format!("{}: {days} days (last {last})", kind.label(lang)),
            },
            (Evidence::DaysSince { last: None, .. }, _) => match kind {
                SignalKind::NoLogin => lang.pick("从未登录", "Has never logged in").into(),
                SignalKind::NoInteraction => lang.pick("从未有过互动", "No interaction on record").into(),
                _ => kind.label(lang).into(),
            },
            (Evidence::Spike { window_days: w, prior, recent }, Lang::Zh) => {
                if *prior > 0 {
                    format!("近{w}天投诉与咨询共{recent}次，是前{w}天（{prior}次）的{}倍", ratio_text(*recent, *prior))
                } else {
                    format!("近{w}天投诉与咨询共{recent}次，前{w}天为0次")
                }
            }
            (Evidence::Spike { window_days: w, prior, recent }, Lang::En) => {
                if *prior > 0 {
                    format!(
                        "{recent} complaints and consultations in the last {w} days, {}× the {w} days before ({prior})",
                        ratio_text(*recent, *prior)
                    )
                } else {
                    format!("{recent} complaints and consultations in the last {w} days, none in the {w} days before")
                }
            }
            (Evidence::Increase { window_days: w, prior, recent }, Lang::Zh) => {
                format!("近{w}天负面反馈{recent}条，比前{w}天（{prior}条）增加{}条", recent - prior)
            }
            (Evidence::Increase { window_days: w, prior, recent }, Lang::En) => format!(
                "Negative feedback in the last {w} days: {recent}, up {} from the {w} days before ({prior})",
                recent - prior
            ),
            (Evidence::Manual, _) => match kind {
                SignalKind::CompetitorContact => {
                    lang.pick("已标记：客户接触过竞品", "Flagged: the customer has been talking to a competitor").into()
                }
                _ => lang.pick("人工标记", "Flagged by hand").into(),
            },
        }
    }
}

/// A signal that fired, with its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    pub kind: SignalKind,
    pub evidence: Evidence,
}

impl Signal {
    /// The evidence as a sentence; see [`Evidence::text`].
    pub fn text(&self, lang: Lang) -> String {
        self.evidence.text(self.kind, lang)
    }
}

/// Whether `rule` fires on `facts`, and why. A disabled rule never fires.
///
/// - **Drops** (orders, spend, consultations): `prior > 0` and the fall
///   `(prior − recent) / prior` is at least `threshold` percent. With the
///   default 50: 10 → 5 fires, 10 → 6 does not; 0 → 0 never fires.
/// - **No login / no interaction**: the last one is at least `threshold`
///   days before today. Never seen (`None`) does not fire — most customers
///   of a B2B company never log in anywhere, and a brand-new customer has
///   had no interaction yet; pass the date the relationship started as
///   `last_interaction` to count those too.
/// - **Contact spike**: `recent >= threshold% × prior` and
///   `recent >= 3` ([`SignalRule::SPIKE_MIN_CONTACTS`]); from 0 the floor
///   alone decides.
/// - **Negative feedback**: `recent − prior >= threshold`.
/// - **Competitor contact**: the flag is set.
pub fn evaluate(rule: &SignalRule, facts: &SignalFacts, today: Date) -> Option<Signal> {
    if !rule.enabled {
        return None;
    }
    let evidence = match rule.kind {
        SignalKind::OrderDrop => fall(rule, facts.orders),
        SignalKind::SpendDrop => fall(rule, facts.spend_fen),
        SignalKind::ConsultationDrop => fall(rule, facts.consultations),
        SignalKind::NoLogin => days_since(rule, facts.last_login, today),
        SignalKind::NoInteraction => days_since(rule, facts.last_interaction, today),
        SignalKind::ContactSpike => {
            let Counts { recent, prior } = facts.contacts;
            (recent >= SignalRule::SPIKE_MIN_CONTACTS
                && i128::from(recent) * 100 >= i128::from(rule.threshold) * i128::from(prior.max(0)))
            .then_some(Evidence::Spike { window_days: rule.window_days, prior, recent })
        }
        SignalKind::NegativeFeedback => {
            let Counts { recent, prior } = facts.negative_feedback;
            (i128::from(recent) - i128::from(prior) >= i128::from(rule.threshold)).then_some(Evidence::Increase {
                window_days: rule.window_days,
                prior,
                recent,
            })
        }
        SignalKind::CompetitorContact => facts.competitor_flag.then_some(Evidence::Manual),
    }?;
    Some(Signal { kind: rule.kind, evidence })
}

fn fall(rule: &SignalRule, c: Counts) -> Option<Evidence> {
    let (prior, recent) = (i128::from(c.prior), i128::from(c.recent.max(0)));
    if prior <= 0 || recent >= prior {
        return None;
    }
    let fall = (prior - recent) * 100;
    if fall < i128::from(rule.threshold) * prior {
        return None;
    }
    let percent = i64::try_from(fall / prior).unwrap_or(100);
    Some(Evidence::Drop { window_days: rule.window_days, prior: c.prior, recent: c.recent, percent })
}

fn days_since(rule: &SignalRule, last: Option<Date>, today: Date) -> Option<Evidence> {
    let last = last?;
    let days = days_between(last, today);
    (days >= rule.threshold).then_some(Evidence::DaysSince { days, last: Some(last) })
}

vocabulary!(
    /// Why a customer left or is leaving (流失原因), recorded on the follow-up
    /// of a warning; it chooses the recovery plan (M) and feeds R3.
    ChurnReason {
        Service = "service", "服务不满", "Service dissatisfaction";
        Needs = "needs", "需求变化", "Changed needs";
        Competitor = "competitor", "竞品吸引", "Competitor";
        Price = "price", "价格", "Price";
        Business = "business", "经营变化", "Business change";
        Other = "other", "其他", "Other";
    }
);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    fn today() -> Date {
        date(2026, 11, 23)
    }

    fn rule(kind: SignalKind) -> SignalRule {
        SignalRule::default_for(kind)
    }

    fn counts(prior: i64, recent: i64) -> Counts {
        Counts { recent, prior }
    }

    fn fires(kind: SignalKind, facts: SignalFacts) -> bool {
        evaluate(&rule(kind), &facts, today()).is_some()
    }

    #[test]
    fn defaults_are_valid_and_cover_every_kind_once() {
        let d = SignalRule::defaults();
        assert_eq!(d.len(), SignalKind::ALL.len());
        for k in SignalKind::ALL {
            assert_eq!(d.iter().filter(|r| r.kind == *k).count(), 1, "{k:?}");
        }
        assert!(SignalRule::validate_all(&d).is_ok());
        assert_eq!(rule(SignalKind::OrderDrop).threshold, 50);
        assert_eq!(rule(SignalKind::OrderDrop).window_days, 90);
        assert_eq!(rule(SignalKind::NoInteraction).threshold, 60);
    }

    #[test]
    fn order_drop_edge() {
        let f = |prior, recent| SignalFacts { orders: counts(prior, recent), ..Default::default() };
        assert!(fires(SignalKind::OrderDrop, f(10, 5))); // exactly 50%
        assert!(!fires(SignalKind::OrderDrop, f(10, 6))); // 40%
        assert!(fires(SignalKind::OrderDrop, f(100, 50)));
        assert!(!fires(SignalKind::OrderDrop, f(100, 51))); // 49%
        assert!(!fires(SignalKind::OrderDrop, f(0, 0)));
        assert!(!fires(SignalKind::OrderDrop, f(3, 9)));
        // 2 → 1 is 50%.
        assert!(fires(SignalKind::OrderDrop, f(2, 1)));
        // 3 → 2 is 33.3%, with threshold 34 it does not fire, with 33 it does.
        let r = |t| SignalRule { threshold: t, ..rule(SignalKind::OrderDrop) };
        assert!(evaluate(&r(33), &f(3, 2), today()).is_some());
        assert!(evaluate(&r(34), &f(3, 2), today()).is_none());
        // Only its own facts count.
        let other = SignalFacts { spend_fen: counts(10, 0), ..Default::default() };
        assert!(!fires(SignalKind::OrderDrop, other));
    }

    #[test]
    fn spend_and_consultation_drop_edges() {
        let s = |prior, recent| SignalFacts { spend_fen: counts(prior, recent), ..Default::default() };
        assert!(fires(SignalKind::SpendDrop, s(1_000_000, 500_000)));
        assert!(!fires(SignalKind::SpendDrop, s(1_000_000, 500_001)));
        let c = |prior, recent| SignalFacts { consultations: counts(prior, recent), ..Default::default() };
        assert!(fires(SignalKind::ConsultationDrop, c(4, 2)));
        assert!(!fires(SignalKind::ConsultationDrop, c(4, 3)));
        assert!(fires(SignalKind::ConsultationDrop, c(4, 0)));
    }

    #[test]
    fn no_login_and_no_interaction_edges() {
        let login = |d| SignalFacts { last_login: d, ..Default::default() };
        assert!(fires(SignalKind::NoLogin, login(Some(date(2026, 10, 24))))); // 30 days
        assert!(!fires(SignalKind::NoLogin, login(Some(date(2026, 10, 25))))); // 29 days
        assert!(!fires(SignalKind::NoLogin, login(None)));
        let talk = |d| SignalFacts { last_interaction: d, ..Default::default() };
        assert!(fires(SignalKind::NoInteraction, talk(Some(date(2026, 9, 24))))); // 60 days
        assert!(!fires(SignalKind::NoInteraction, talk(Some(date(2026, 9, 25))))); // 59 days
        assert!(!fires(SignalKind::NoInteraction, talk(None)));
        let s = evaluate(&rule(SignalKind::NoInteraction), &talk(Some(date(2026, 9, 24))), today()).unwrap();
        assert_eq!(s.evidence, Evidence::DaysSince { days: 60, last: Some(date(2026, 9, 24)) });
    }

    #[test]
    fn contact_spike_edges() {
        let f = |prior, recent| SignalFacts { contacts: counts(prior, recent), ..Default::default() };
        assert!(fires(SignalKind::ContactSpike, f(2, 4))); // exactly twice, and ≥ 3
        assert!(!fires(SignalKind::ContactSpike, f(2, 3))); // 1.5×
        assert!(fires(SignalKind::ContactSpike, f(5, 10)));
        assert!(!fires(SignalKind::ContactSpike, f(5, 9)));
        assert!(fires(SignalKind::ContactSpike, f(0, 3))); // the floor
        assert!(!fires(SignalKind::ContactSpike, f(0, 2)));
        assert!(!fires(SignalKind::ContactSpike, f(1, 2))); // twice, but below the floor
    }

    #[test]
    fn negative_feedback_edges() {
        let f = |prior, recent| SignalFacts { negative_feedback: counts(prior, recent), ..Default::default() };
        assert!(fires(SignalKind::NegativeFeedback, f(1, 3)));
        assert!(!fires(SignalKind::NegativeFeedback, f(1, 2)));
        assert!(fires(SignalKind::NegativeFeedback, f(0, 2)));
        assert!(!fires(SignalKind::NegativeFeedback, f(5, 3)));
    }

    #[test]
    fn competitor_flag_and_disabled_rules() {
        assert!(fires(SignalKind::CompetitorContact, SignalFacts { competitor_flag: true, ..Default::default() }));
        assert!(!fires(SignalKind::CompetitorContact, SignalFacts::default()));
        let off = SignalRule { enabled: false, ..rule(SignalKind::CompetitorContact) };
        assert!(evaluate(&off, &SignalFacts { competitor_flag: true, ..Default::default() }, today()).is_none());
        let off = SignalRule { enabled: false, ..rule(SignalKind::OrderDrop) };
        assert!(evaluate(&off, &SignalFacts { orders: counts(10, 0), ..Default::default() }, today()).is_none());
    }

    #[test]
    fn windows() {
        let r = rule(SignalKind::OrderDrop);
        assert_eq!(r.recent_window(today()), (date(2026, 8, 25), today()));
        assert_eq!(r.prior_window(today()), (date(2026, 5, 27), date(2026, 8, 25)));
    }

    #[test]
    fn validation_names_the_fields() {
        let e = SignalRule::parse(SignalKind::OrderDrop, true, "101", "5").unwrap_err();
        assert_eq!(e.fields(), vec!["threshold", "window_days"]);
        assert_eq!(e.get("threshold"), Some(&Issue::OutOfRange));
        let e = SignalRule::parse(SignalKind::OrderDrop, true, "", "abc").unwrap_err();
        assert_eq!(e.get("threshold"), Some(&Issue::Required));
        assert_eq!(e.get("window_days"), Some(&Issue::OutOfRange));
        assert_eq!(
            SignalRule::parse(SignalKind::OrderDrop, true, " 100 ", "365"),
            Ok(SignalRule { kind: SignalKind::OrderDrop, enabled: true, threshold: 100, window_days: 365 })
        );
        assert!(SignalRule::parse(SignalKind::OrderDrop, true, "0", "7").is_err());
        assert!(SignalRule::parse(SignalKind::ContactSpike, true, "100", "60").is_err());
        assert!(SignalRule::parse(SignalKind::ContactSpike, true, "101", "60").is_ok());
        assert!(SignalRule::parse(SignalKind::NoLogin, true, "731", "30").is_err());
        assert!(SignalRule::parse(SignalKind::CompetitorContact, true, "", "90").is_ok());
        assert!(SignalRule::parse(SignalKind::CompetitorContact, true, "", "366").is_err());

        let mut rules = SignalRule::defaults();
        rules[0].threshold = 0;
        rules[2].window_days = 6;
        rules.push(rule(SignalKind::SpendDrop));
        let e = SignalRule::validate_all(&rules).unwrap_err();
        assert_eq!(e.fields(), vec!["order_drop.threshold", "no_login.window_days", "spend_drop"]);
    }

    #[test]
    fn evidence_reads_naturally() {
        let sig = |kind, facts| evaluate(&rule(kind), &facts, today()).unwrap();
        let s = sig(SignalKind::OrderDrop, SignalFacts { orders: counts(10, 3), ..Default::default() });
        assert_eq!(s.evidence, Evidence::Drop { window_days: 90, prior: 10, recent: 3, percent: 70 });
        assert_eq!(s.text(Lang::Zh), "近90天订单数较前90天下降70%（10单 → 3单）");
        assert_eq!(s.text(Lang::En), "Orders in the last 90 days fell 70% vs the 90 days before (10 → 3)");

        let s = sig(SignalKind::SpendDrop, SignalFacts { spend_fen: counts(1_200_000, 300_050), ..Default::default() });
        assert_eq!(s.text(Lang::Zh), "近90天消费金额较前90天下降74%（¥12,000.00 → ¥3,000.50）");
        assert_eq!(
            s.text(Lang::En),
            "Spend in the last 90 days fell 74% vs the 90 days before (¥12,000.00 → ¥3,000.50)"
        );

        let s = sig(SignalKind::ConsultationDrop, SignalFacts { consultations: counts(6, 0), ..Default::default() });
        assert_eq!(s.text(Lang::Zh), "近90天咨询次数较前90天下降100%（6次 → 0次）");

        let s = sig(SignalKind::NoLogin, SignalFacts { last_login: Some(date(2026, 10, 9)), ..Default::default() });
        assert_eq!(s.text(Lang::Zh), "已连续45天未登录（最近登录：2026-10-09）");
        assert_eq!(s.text(Lang::En), "No login for 45 days (last login 2026-10-09)");

        let s = sig(
            SignalKind::NoInteraction,
            SignalFacts { last_interaction: Some(date(2026, 9, 22)), ..Default::default() },
        );
        assert_eq!(s.text(Lang::Zh), "已连续62天无互动（最近互动：2026-09-22）");
        assert_eq!(s.text(Lang::En), "No interaction for 62 days (last interaction 2026-09-22)");

        let s = sig(SignalKind::ContactSpike, SignalFacts { contacts: counts(2, 7), ..Default::default() });
        assert_eq!(s.text(Lang::Zh), "近60天投诉与咨询共7次，是前60天（2次）的3.5倍");
        assert_eq!(s.text(Lang::En), "7 complaints and consultations in the last 60 days, 3.5× the 60 days before (2)");
        let s = sig(SignalKind::ContactSpike, SignalFacts { contacts: counts(2, 6), ..Default::default() });
        assert_eq!(s.text(Lang::Zh), "近60天投诉与咨询共6次，是前60天（2次）的3倍");
        let s = sig(SignalKind::ContactSpike, SignalFacts { contacts: counts(0, 4), ..Default::default() });
        assert_eq!(s.text(Lang::Zh), "近60天投诉与咨询共4次，前60天为0次");
        assert_eq!(s.text(Lang::En), "4 complaints and consultations in the last 60 days, none in the 60 days before");

        let s =
            sig(SignalKind::NegativeFeedback, SignalFacts { negative_feedback: counts(2, 5), ..Default::default() });
        assert_eq!(s.text(Lang::Zh), "近90天负面反馈5条，比前90天（2条）增加3条");
        assert_eq!(s.text(Lang::En), "Negative feedback in the last 90 days: 5, up 3 from the 90 days before (2)");

        let s = sig(SignalKind::CompetitorContact, SignalFacts { competitor_flag: true, ..Default::default() });
        assert_eq!(s.text(Lang::Zh), "已标记：客户接触过竞品");

        assert_eq!(Evidence::DaysSince { days: 0, last: None }.text(SignalKind::NoLogin, Lang::Zh), "从未登录");
    }

    #[test]
    fn reasons_and_kinds_have_both_labels() {
        assert_eq!(ChurnReason::ALL.len(), 6);
        assert_eq!(ChurnReason::parse("competitor"), Ok(ChurnReason::Competitor));
        assert_eq!(ChurnReason::Service.label(Lang::Zh), "服务不满");
        for k in SignalKind::ALL {
            assert!(!k.label(Lang::Zh).is_empty() && !k.label(Lang::En).is_empty());
            assert_eq!(SignalKind::parse(k.code()), Ok(*k));
        }
    }

    proptest! {
        #[test]
        fn drop_fires_iff_fall_reaches_threshold(prior in 1i64..10_000, recent in 0i64..10_000, t in 1i64..=100) {
            let r = SignalRule { threshold: t, ..rule(SignalKind::OrderDrop) };
            let fired = evaluate(&r, &SignalFacts { orders: counts(prior, recent), ..Default::default() }, today());
            let fall = (prior - recent) as f64 / prior as f64 * 100.0;
            // Exact rational comparison, written without division.
            prop_assert_eq!(fired.is_some(), recent < prior && (prior - recent) * 100 >= t * prior);
            if let Some(Signal { evidence: Evidence::Drop { percent, .. }, .. }) = fired {
                prop_assert!(percent >= t && (percent as f64) <= fall + 1e-9 && (percent as f64) > fall - 1.0);
            }
        }

        #[test]
        fn days_since_fires_iff_at_least_threshold(days in 0i32..800, t in 1i64..=730) {
            let r = SignalRule { threshold: t, ..rule(SignalKind::NoLogin) };
            let last = today().checked_sub(days.days()).unwrap();
            let fired = evaluate(&r, &SignalFacts { last_login: Some(last), ..Default::default() }, today());
            prop_assert_eq!(fired.is_some(), i64::from(days) >= t);
        }
    }
}
