//! Orders (订单/消费记录, SPEC C3): exact money, a date, a product.

use jiff::civil::Date;
use serde::Deserialize;

use crate::customer::parse_date;
use crate::money::Money;
use crate::validation::{self, Issue, ValidationErrors};

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct OrderInput {
    /// `YYYY-MM-DD`, not after today. Required.
    pub ordered_on: String,
    /// Yuan as text with at most two decimals, e.g. `"1234.50"` (never a float). Required.
    pub amount: String,
    /// Up to 100 characters.
    pub product: Option<String>,
    /// Sales channel, up to 30 characters.
    pub channel: Option<String>,
    /// The order's id in the company's system: re-sending it changes nothing.
    pub external_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderDraft {
    pub ordered_on: Date,
    pub amount: Money,
    pub product: Option<String>,
    pub channel: Option<String>,
    pub external_id: Option<String>,
}

impl OrderDraft {
    pub fn parse(input: &OrderInput, today: Date) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::new();
        let ordered_on = if input.ordered_on.trim().is_empty() {
            e.add("ordered_on", Issue::Required);
            None
        } else {
            e.check(
                "ordered_on",
                parse_date(&input.ordered_on).and_then(|d| if d > today { Err(Issue::InFuture) } else { Ok(d) }),
            )
        };
        let amount = e.check("amount", Money::parse(&input.amount));
        let product = e.check("product", validation::optional_text(input.product.as_deref(), 100, false));
        let channel = e.check("channel", validation::optional_text(input.channel.as_deref(), 30, false));
        let external_id = e.check("external_id", validation::optional_text(input.external_id.as_deref(), 64, false));
        match (ordered_on, amount, product, channel, external_id) {
            (Some(ordered_on), Some(amount), Some(product), Some(channel), Some(external_id)) if e.is_empty() => {
                Ok(OrderDraft { ordered_on, amount, product, channel, external_id })
            }
            _ => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders() {
        let today = jiff::civil::date(2026, 11, 23);
        let ok = OrderInput { ordered_on: "2026-11-01".into(), amount: "1,299.90".into(), ..Default::default() };
        assert_eq!(OrderDraft::parse(&ok, today).unwrap().amount.fen(), 129_990);
        let bad = OrderInput { ordered_on: "2026-12-01".into(), amount: "12.345".into(), ..Default::default() };
        assert_eq!(OrderDraft::parse(&bad, today).unwrap_err().fields(), vec!["ordered_on", "amount"]);
    }
}
