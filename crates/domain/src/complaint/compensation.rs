//! Compensation (SPEC P4, 补偿选项): a catalogue of options (coupon,
//! refund, free service, gift, other) that administrators keep, and a limit
//! per role in CNY. A solution may carry compensation lines (option and
//! amount); approving it needs a role whose limit covers the total, so
//! above a supervisor's limit an administrator must approve.

use serde::{Deserialize, Serialize};

use crate::Lang;
use crate::customer::vocabulary;
use crate::money::Money;
use crate::user::Role;
use crate::validation::{Issue, ValidationErrors, required_text};

vocabulary!(
    /// What kind of compensation an option is.
    Kind {
        Coupon = "coupon", "优惠券", "Coupon";
        Refund = "refund", "退款", "Refund";
        FreeService = "free_service", "免费服务", "Free service";
        Gift = "gift", "礼品", "Gift";
        Other = "other", "其他", "Other";
    }
);

/// One option of the catalogue; `code` identifies it in solutions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogueOption {
    pub code: String,
    pub kind: Kind,
    pub name: String,
    pub active: bool,
}

/// The catalogue and the limits; a limit of `None` is no limit. Amounts in fen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalogue {
    pub options: Vec<CatalogueOption>,
    pub agent_limit_fen: Option<i64>,
    pub supervisor_limit_fen: Option<i64>,
    pub admin_limit_fen: Option<i64>,
}

impl Default for Catalogue {
    /// The same as migration 0021 seeds.
    fn default() -> Self {
        let o =
            |code: &str, kind, name: &str| CatalogueOption { code: code.into(), kind, name: name.into(), active: true };
        Catalogue {
            options: vec![
                o("coupon", Kind::Coupon, "优惠券"),
                o("refund", Kind::Refund, "退款"),
                o("free_service", Kind::FreeService, "免费上门服务"),
                o("gift", Kind::Gift, "礼品"),
            ],
            agent_limit_fen: Some(20_000),
            supervisor_limit_fen: Some(200_000),
            admin_limit_fen: None,
        }
    }
}

/// The roles that may approve, lowest first, with their limits.
const APPROVERS: [Role; 3] = [Role::Agent, Role::Supervisor, Role::Admin];

impl Catalogue {
    pub fn limit(&self, role: Role) -> Option<Option<Money>> {
        let fen = match role {
            Role::Agent => self.agent_limit_fen,
            Role::Supervisor => self.supervisor_limit_fen,
            Role::Admin => self.admin_limit_fen,
            _ => return None,
        };
        Some(fen.map(Money::from_fen))
    }

    /// Whether `role` may approve a total: its limit is at least the total.
    pub fn covers(&self, role: Role, total: Money) -> bool {
        match self.limit(role) {
            Some(None) => true,
            Some(Some(limit)) => total <= limit,
            None => false,
        }
    }

    /// The lowest role whose limit covers the total (`None`: nobody's does).
    pub fn lowest_approver(&self, total: Money) -> Option<Role> {
        APPROVERS.into_iter().find(|r| self.covers(*r, total))
    }

    pub fn option(&self, code: &str) -> Option<&CatalogueOption> {
        self.options.iter().find(|o| o.code == code)
    }

    /// Checks an administrator's catalogue; fields are named
    /// `options[i].code|kind|name` and `agent_limit`, `supervisor_limit`, `admin_limit`.
    pub fn parse(input: &CatalogueInput) -> Result<Catalogue, ValidationErrors> {
        let mut e = ValidationErrors::new();
        if input.options.len() > MAX_OPTIONS {
            e.add("options", Issue::TooMany { max: MAX_OPTIONS });
        }
        let mut options = Vec::new();
        for (i, o) in input.options.iter().enumerate() {
            let f = |name: &str| format!("options[{i}].{name}");
            let code = o.code.trim();
            let code = if code.is_empty() {
                e.add(&f("code"), Issue::Required);
                None
            } else if code.len() > 40 || !code.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                e.add(&f("code"), Issue::InvalidCharacters);
                None
            } else if options.iter().any(|x: &CatalogueOption| x.code == code) {
                e.add(&f("code"), Issue::Taken);
                None
            } else {
                Some(code.to_string())
            };
            let kind = e.check(&f("kind"), Kind::parse(o.kind.trim()));
            let name = e.check(&f("name"), required_text(&o.name, 60));
            let name = name.filter(|n| {
                let taken = options.iter().any(|x: &CatalogueOption| &x.name == n);
                if taken {
                    e.add(&f("name"), Issue::Taken);
                }
                !taken
            });
            if let (Some(code), Some(kind), Some(name)) = (code, kind, name) {
                options.push(CatalogueOption { code, kind, name, active: o.active });
            }
        }
        let mut limit = |field: &str, raw: &str| -> Option<i64> {
            if raw.trim().is_empty() {
                return None;
            }
            e.check(field, Money::parse(raw)).map(Money::fen)
        };
        let agent = limit("agent_limit", &input.agent_limit);
        let supervisor = limit("supervisor_limit", &input.supervisor_limit);
        let admin = limit("admin_limit", &input.admin_limit);
        // A higher role's limit is never below a lower one's.
        let below = |higher: Option<i64>, lower: Option<i64>| match (higher, lower) {
            (Some(h), Some(l)) => h < l,
            (Some(_), None) => true,
            _ => false,
        };
        if e.get("agent_limit").is_none() && below(supervisor, agent) {
            e.add("supervisor_limit", Issue::OutOfRange);
        }
        if e.get("supervisor_limit").is_none() && below(admin, supervisor) {
            e.add("admin_limit", Issue::OutOfRange);
        }
        if e.is_empty() {
            Ok(Catalogue { options, agent_limit_fen: agent, supervisor_limit_fen: supervisor, admin_limit_fen: admin })
        } else {
            Err(e)
        }
    }

    /// Checks a solution's compensation lines against the active options;
    /// fields are named `compensation[i].option|amount`.
    pub fn lines(&self, input: &[LineInput]) -> Result<Vec<Line>, ValidationErrors> {
        let mut e = ValidationErrors::new();
        if input.len() > MAX_LINES {
            e.add("compensation", Issue::TooMany { max: MAX_LINES });
        }
        let mut out = Vec::new();
        for (i, l) in input.iter().enumerate() {
            let opt = match self.option(l.option.trim()).filter(|o| o.active) {
                Some(o) => Some(o),
                None if l.option.trim().is_empty() => {
                    e.add(&format!("compensation[{i}].option"), Issue::Required);
                    None
                }
                None => {
                    e.add(&format!("compensation[{i}].option"), Issue::Unknown);
                    None
                }
            };
            let amount = match Money::parse(&l.amount) {
                Ok(m) if m.fen() > 0 => Some(m),
                Ok(_) => {
                    e.add(&format!("compensation[{i}].amount"), Issue::NotPositive);
                    None
                }
                Err(issue) => {
                    e.add(&format!("compensation[{i}].amount"), issue);
                    None
                }
            };
            if let (Some(o), Some(a)) = (opt, amount) {
                out.push(Line { option: o.code.clone(), kind: o.kind, name: o.name.clone(), amount_fen: a.fen() });
            }
        }
        if e.is_empty() && total(&out).is_none() {
            e.add("compensation", Issue::OutOfRange);
        }
        if e.is_empty() { Ok(out) } else { Err(e) }
    }

    /// Why `role` may not approve `total`, or `None` when it may.
    pub fn refusal(&self, role: Role, total: Money) -> Option<(String, String)> {
        if self.covers(role, total) {
            return None;
        }
        let limit = self.limit(role).flatten().map_or_else(|| "0.00".to_string(), |m| m.to_string());
        let who = |lang: Lang| match self.lowest_approver(total) {
            Some(r) => r.label(lang).to_string(),
            None => lang
                .pick("（无角色的限额足够，请先调高限额）", "(no role's limit is enough; raise a limit first)")
                .into(),
        };
        Some((
            format!("补偿合计 ¥{total} 超出{}的审批限额 ¥{limit}，需由{}批准", role.label(Lang::Zh), who(Lang::Zh)),
            format!(
                "The compensation of CNY {total} exceeds the {} approval limit of CNY {limit}; it needs approval by: {}",
                role.label(Lang::En).to_lowercase(),
                who(Lang::En)
            ),
        ))
    }
}

const MAX_OPTIONS: usize = 50;
const MAX_LINES: usize = 20;

/// The sum of the lines (`None` on overflow).
pub fn total(lines: &[Line]) -> Option<Money> {
    lines.iter().try_fold(Money::from_fen(0), |acc, l| acc.checked_add(Money::from_fen(l.amount_fen)))
}

/// The lines in words for the tracking table and the report:
/// `补偿：退款 ¥1,200.50、优惠券 ¥300.00，合计 ¥1,500.50` (`None` without lines).
pub fn summary(lines: &[Line], lang: Lang) -> Option<String> {
    if lines.is_empty() {
        return None;
    }
    let items: Vec<String> = lines.iter().map(|l| format!("{} ¥{}", l.name, Money::from_fen(l.amount_fen))).collect();
    let sum = total(lines).unwrap_or_default();
    Some(match lang {
        Lang::Zh => format!("补偿：{}，合计 ¥{sum}", items.join("、")),
        Lang::En => format!("Compensation: {}; total CNY {sum}", items.join(", ")),
    })
}

/// One compensation line of a solution, as proposed (the option's kind
/// and name are copied, so renaming the catalogue keeps the history).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub option: String,
    pub kind: Kind,
    pub name: String,
    pub amount_fen: i64,
}

/// Raw input of one option of the catalogue.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct OptionInput {
    /// Identifier used in solutions: lower-case letters, digits, `_`.
    pub code: String,
    /// `coupon`, `refund`, `free_service`, `gift` or `other`.
    pub kind: String,
    pub name: String,
    pub active: bool,
}

/// Raw input of the catalogue and limits (empty limit: no limit).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct CatalogueInput {
    pub options: Vec<OptionInput>,
    /// CNY, e.g. `200`; empty: no limit.
    pub agent_limit: String,
    pub supervisor_limit: String,
    pub admin_limit: String,
}

/// Raw input of one compensation line.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct LineInput {
    /// The option's code.
    pub option: String,
    /// CNY, e.g. `150.00`.
    pub amount: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_supervisor_approves_up_to_the_limit_and_an_admin_above() {
        let c = Catalogue::default();
        let m = |y: &str| Money::parse(y).unwrap();
        assert!(c.covers(Role::Supervisor, m("2000")));
        assert!(!c.covers(Role::Supervisor, m("2000.01")));
        assert!(c.covers(Role::Admin, m("5000")));
        assert!(!c.covers(Role::Advisor, m("1")));
        assert_eq!(c.lowest_approver(m("150")), Some(Role::Agent));
        assert_eq!(c.lowest_approver(m("5000")), Some(Role::Admin));
        let (zh, en) = c.refusal(Role::Supervisor, m("5000")).unwrap();
        assert!(zh.contains("2,000.00") && zh.contains("管理员"), "{zh}");
        assert!(en.contains("2,000.00") && en.contains("Administrator"), "{en}");
        assert!(c.refusal(Role::Admin, m("5000")).is_none());
    }

    #[test]
    fn lines_name_the_bad_field() {
        let mut c = Catalogue::default();
        c.options[3].active = false;
        let l = |o: &str, a: &str| LineInput { option: o.into(), amount: a.into() };
        let ok = c.lines(&[l("coupon", "50"), l("refund", "100.5")]).unwrap();
        assert_eq!(total(&ok), Some(Money::from_fen(15_050)));
        let e = c.lines(&[l("gift", "10"), l("nope", "1"), l("refund", "0"), l("coupon", "1.234")]).unwrap_err();
        assert_eq!(
            e.fields(),
            vec![
                "compensation[0].option",
                "compensation[1].option",
                "compensation[2].amount",
                "compensation[3].amount"
            ]
        );
    }

    #[test]
    fn the_catalogue_is_checked_field_by_field() {
        let o = |code: &str, kind: &str, name: &str| OptionInput {
            code: code.into(),
            kind: kind.into(),
            name: name.into(),
            active: true,
        };
        let good = CatalogueInput {
            options: vec![o("coupon", "coupon", "优惠券"), o("vip_gift", "gift", "会员礼包")],
            agent_limit: "200".into(),
            supervisor_limit: "2,000".into(),
            admin_limit: "".into(),
        };
        let c = Catalogue::parse(&good).unwrap();
        assert_eq!(c.supervisor_limit_fen, Some(200_000));
        assert_eq!(c.admin_limit_fen, None);
        let bad = CatalogueInput {
            options: vec![
                o("Bad Code", "coupon", "x"),
                o("a", "cash", ""),
                o("b", "gift", "会员礼包"),
                o("c", "gift", "会员礼包"),
            ],
            agent_limit: "abc".into(),
            supervisor_limit: "".into(),
            admin_limit: "50".into(),
        };
        let e = Catalogue::parse(&bad).unwrap_err();
        assert_eq!(
            e.fields(),
            vec![
                "options[0].code",
                "options[1].kind",
                "options[1].name",
                "options[3].name",
                "agent_limit",
                "admin_limit"
            ]
        );
    }
}
