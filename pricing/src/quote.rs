//! The operation itself, protocol-free: a basket in, one quote per line
//! out. Both the gRPC service and the internal REST endpoint call
//! [`quote_basket`], so they answer the same thing.

use crate::catalog::{Catalog, CatalogError};
use crate::proto::{LineError, LineQuote, LineRequest, Product};

/// The largest amount the public contract can carry (its `Money` schema):
/// a larger line total is a per-line error, never an overflow.
pub const MONEY_MAX_MINOR: i64 = 1_000_000_000_000;

/// The most lines one call may carry; more is INVALID_ARGUMENT.
pub const MAX_LINES: usize = 10_000;

/// Prices every line against the catalog. Per-line problems go in the
/// line's `error`; only a catalog failure fails the call.
pub fn quote_basket(
    catalog: &dyn Catalog,
    lines: &[LineRequest],
) -> Result<Vec<LineQuote>, CatalogError> {
    let ids: Vec<&str> = lines.iter().map(|l| l.product_id.as_str()).collect();
    let found = catalog.lookup(&ids)?;
    Ok(lines
        .iter()
        .zip(found)
        .map(|(req, product)| {
            let mut q = LineQuote {
                product_id: req.product_id.clone(),
                quantity: req.quantity,
                product: None,
                line_total_minor: 0,
                error: LineError::Unspecified as i32,
            };
            let Some(p) = product else {
                q.error = LineError::UnknownProduct as i32;
                return q;
            };
            let total = p
                .unit_price_minor
                .checked_mul(i64::from(req.quantity))
                .filter(|t| *t <= MONEY_MAX_MINOR);
            q.error = if req.quantity == 0 {
                LineError::ZeroQuantity
            } else if !p.active {
                LineError::Inactive
            } else if total.is_none() {
                LineError::TooLarge
            } else {
                LineError::Unspecified
            } as i32;
            if q.error == LineError::Unspecified as i32 {
                q.line_total_minor = total.unwrap_or(0);
            }
            q.product = Some(Product {
                sku: p.sku,
                name: p.name,
                unit_price_minor: p.unit_price_minor,
                currency: p.currency,
                active: p.active,
            });
            q
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::CatalogProduct;
    use std::collections::HashMap;

    fn catalog() -> HashMap<String, CatalogProduct> {
        let p = |price, active| CatalogProduct {
            sku: "S".into(),
            name: "N".into(),
            unit_price_minor: price,
            currency: "EUR".into(),
            active,
        };
        HashMap::from([
            ("a".to_string(), p(250, true)),
            ("off".to_string(), p(100, false)),
            ("huge".to_string(), p(MONEY_MAX_MINOR, true)),
        ])
    }

    fn check(id: &str, quantity: u32, error: LineError, total: i64) {
        let req = [LineRequest {
            product_id: id.into(),
            quantity,
        }];
        let q = quote_basket(&catalog(), &req).expect("quote");
        assert_eq!(q.len(), 1);
        assert_eq!(
            (q[0].error(), q[0].line_total_minor),
            (error, total),
            "{id} x {quantity}"
        );
        assert_eq!(q[0].product.is_some(), id != "nope");
    }

    #[test]
    fn every_line_gets_its_own_answer() {
        check("a", 4, LineError::Unspecified, 1000);
        check("nope", 1, LineError::UnknownProduct, 0);
        check("off", 1, LineError::Inactive, 0);
        check("a", 0, LineError::ZeroQuantity, 0);
        check("huge", 2, LineError::TooLarge, 0);
        check("huge", 1, LineError::Unspecified, MONEY_MAX_MINOR);
    }
}
