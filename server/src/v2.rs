//! `/v2`: the same resources and the same rows as `/v1`, with money as a
//! decimal string in the major unit ([`crate::money`]). Every v2 handler
//! delegates to its v1 twin in [`crate::handlers`] (one implementation of
//! the business rules) and converts at the boundary: v2 inputs into v1's,
//! v1's answers into v2's. The conversions are total except money going in,
//! whose failures are 422 problems pointing at the field.

use orderflow_edge::FieldError;
use orderflow_server_api::ApiError;
use orderflow_server_api::types as t;

use crate::money;

/// v1's integer minor units as v2's decimal string.
pub fn money_out(m: t::Money) -> t::MoneyV2 {
    t::MoneyV2 {
        amount: money::to_decimal(m.amount_minor, &m.currency),
        currency: m.currency,
    }
}

/// v2's decimal string as v1's minor units; `pointer` names the money
/// object in the request body for the problem.
pub fn money_in(m: t::MoneyV2, pointer: &str) -> Result<t::Money, ApiError> {
    let amount_minor = money::from_decimal(&m.amount, &m.currency).map_err(|detail| {
        ApiError::invalid(
            "validation_failed",
            vec![FieldError {
                pointer: format!("{pointer}/amount"),
                detail,
            }],
        )
    })?;
    Ok(t::Money {
        amount_minor,
        currency: m.currency,
    })
}

pub fn product(p: t::Product) -> t::ProductV2 {
    t::ProductV2 {
        price: money_out(p.price),
        id: p.id,
        sku: p.sku,
        name: p.name,
        active: p.active,
        created_at: p.created_at,
        updated_at: p.updated_at,
    }
}

pub fn item(i: t::OrderItem) -> t::OrderItemV2 {
    t::OrderItemV2 {
        unit_price: money_out(i.unit_price),
        line_total: money_out(i.line_total),
        line: i.line,
        product_id: i.product_id,
        sku: i.sku,
        name: i.name,
        quantity: i.quantity,
    }
}

pub fn order(o: t::Order) -> t::OrderV2 {
    t::OrderV2 {
        total: money_out(o.total),
        items: o.items.into_iter().map(item).collect(),
        id: o.id,
        customer_id: o.customer_id,
        status: o.status,
        created_at: o.created_at,
        updated_at: o.updated_at,
    }
}

/// A v1 `Location` (`/v1/orders/ord_...`) as the v2 resource's.
pub fn location(v1: &str) -> String {
    match v1.strip_prefix("/v1/") {
        Some(rest) => format!("/v2/{rest}"),
        None => v1.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_in_points_at_the_amount_and_says_what_was_expected() {
        let e = money_in(
            t::MoneyV2 {
                amount: "1.234".into(),
                currency: "EUR".into(),
            },
            "#/price",
        )
        .unwrap_err();
        assert_eq!(e.status(), 422);
        assert_eq!(e.problem.errors[0].pointer, "#/price/amount");
        assert!(
            e.problem.errors[0]
                .detail
                .contains("EUR has 2 fraction digits")
        );
    }

    #[test]
    fn locations_move_to_v2() {
        assert_eq!(location("/v1/orders/ord_1"), "/v2/orders/ord_1");
        assert_eq!(location("/elsewhere"), "/elsewhere");
    }
}
