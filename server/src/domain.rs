//! Domain rules that do not depend on storage: what makes an order valid,
//! what it costs, and which status moves its lifecycle allows. A storage backend loads the facts (does the customer
//! exist, what does each product cost) and asks [`price_order`]; it never
//! re-implements the rules, so a second backend cannot disagree with the
//! first.
//!
//! Nothing here does I/O or reads a clock.

/// The largest amount of money the contract can carry: the spec's
/// `Money.amount_minor` maximum (a test checks the two agree).
pub const MONEY_MAX_MINOR: i64 = 100_000_000_000;

/// The status of an order. Its lifecycle is [`OrderStatus::can_transition_to`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    Pending,
    Processing,
    Shipped,
    Delivered,
    Cancelled,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 5] = [
        OrderStatus::Pending,
        OrderStatus::Processing,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Processing => "processing",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<OrderStatus> {
        OrderStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
    }

    /// The lifecycle: pending -> processing -> shipped -> delivered, and
    /// cancelled from pending or processing. Staying put is not a move.
    pub fn can_transition_to(self, to: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, to),
            (Pending, Processing)
                | (Pending, Cancelled)
                | (Processing, Shipped)
                | (Processing, Cancelled)
                | (Shipped, Delivered)
        )
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem with one field of a request, located by a JSON pointer in
/// URI fragment form (`#/items/1/product_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldIssue {
    pub pointer: String,
    pub detail: String,
}

impl FieldIssue {
    pub fn new(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldIssue {
            pointer: pointer.into(),
            detail: detail.into(),
        }
    }
}

/// What pricing needs to know about a catalog product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogProduct {
    pub sku: String,
    pub name: String,
    pub price_minor: i64,
    pub currency: String,
    pub active: bool,
}

/// One requested line with what the catalog knows of its product (`None`:
/// no such product).
#[derive(Debug, Clone)]
pub struct RequestedLine {
    pub product_id: String,
    pub quantity: u32,
    pub product: Option<CatalogProduct>,
}

/// A priced line of a valid order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedLine {
    /// 1-based position in the order.
    pub line: u32,
    pub product_id: String,
    pub sku: String,
    pub name: String,
    pub quantity: u32,
    pub unit_price_minor: i64,
    pub line_total_minor: i64,
    pub currency: String,
}

/// A valid order's lines, total and currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedOrder {
    pub lines: Vec<PricedLine>,
    pub total_minor: i64,
    pub currency: String,
}

/// Checks and prices an order: the customer exists, there is at least one
/// line, every quantity is at least 1, every product exists and is active,
/// all lines share the first priced line's currency, and no line total nor
/// the order total exceeds [`MONEY_MAX_MINOR`] (so every answer fits the
/// spec's own `Money` schema). Every problem is reported at once.
pub fn price_order(
    customer_exists: bool,
    requested: Vec<RequestedLine>,
) -> Result<PricedOrder, Vec<FieldIssue>> {
    let mut issues = Vec::new();
    if !customer_exists {
        issues.push(FieldIssue::new("#/customer_id", "no customer with this id"));
    }
    if requested.is_empty() {
        issues.push(FieldIssue::new("#/items", "must contain at least one line"));
    }
    let mut lines = Vec::with_capacity(requested.len());
    let mut currency: Option<(usize, String)> = None;
    let mut total: i64 = 0;
    let mut total_too_large = false;
    for (index, req) in requested.into_iter().enumerate() {
        let pointer = |field: &str| format!("#/items/{index}/{field}");
        let Ok(line) = u32::try_from(index + 1) else {
            issues.push(FieldIssue::new("#/items", "has too many lines"));
            break;
        };
        if req.quantity == 0 {
            issues.push(FieldIssue::new(pointer("quantity"), "must be at least 1"));
        }
        let Some(product) = req.product else {
            issues.push(FieldIssue::new(
                pointer("product_id"),
                "no product with this id",
            ));
            continue;
        };
        if !product.active {
            issues.push(FieldIssue::new(
                pointer("product_id"),
                "the product is inactive and cannot be ordered",
            ));
        }
        match &currency {
            None => currency = Some((index, product.currency.clone())),
            Some((first, expected)) if *expected != product.currency => {
                issues.push(FieldIssue::new(
                    pointer("product_id"),
                    format!(
                        "the product is priced in {}, but #/items/{first} is priced in \
                         {expected}; an order has one currency",
                        product.currency
                    ),
                ));
            }
            Some(_) => {}
        }
        // Checked arithmetic, bounded by the contract's largest amount: an
        // absurd quantity or price is a validation error, never an
        // overflow or a total the response schema cannot hold.
        let line_total = product
            .price_minor
            .checked_mul(i64::from(req.quantity))
            .filter(|t| *t <= MONEY_MAX_MINOR);
        match line_total {
            None => issues.push(FieldIssue::new(
                pointer("quantity"),
                format!(
                    "the line total exceeds the largest amount an order can carry \
                     ({MONEY_MAX_MINOR} minor units); order fewer"
                ),
            )),
            Some(t) => match total.checked_add(t).filter(|s| *s <= MONEY_MAX_MINOR) {
                Some(sum) => total = sum,
                None => total_too_large = true,
            },
        }
        lines.push(PricedLine {
            line,
            product_id: req.product_id,
            sku: product.sku,
            name: product.name,
            quantity: req.quantity,
            unit_price_minor: product.price_minor,
            line_total_minor: line_total.unwrap_or(0),
            currency: product.currency,
        });
    }
    if total_too_large {
        issues.push(FieldIssue::new(
            "#/items",
            format!(
                "the order total exceeds the largest amount an order can carry \
                 ({MONEY_MAX_MINOR} minor units); split the order"
            ),
        ));
    }
    if !issues.is_empty() {
        return Err(issues);
    }
    let Some((_, currency)) = currency else {
        // Unreachable after the checks above (no line means an issue), but
        // an error, never a panic.
        return Err(vec![FieldIssue::new(
            "#/items",
            "must contain at least one line",
        )]);
    };
    Ok(PricedOrder {
        lines,
        total_minor: total,
        currency,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(price: i64, currency: &str, active: bool) -> Option<CatalogProduct> {
        Some(CatalogProduct {
            sku: "S".into(),
            name: "N".into(),
            price_minor: price,
            currency: currency.into(),
            active,
        })
    }

    fn line(quantity: u32, p: Option<CatalogProduct>) -> RequestedLine {
        RequestedLine {
            product_id: "prd_1".into(),
            quantity,
            product: p,
        }
    }

    /// (customer exists, lines, Ok(total) or the issue pointers).
    fn check(customer: bool, lines: Vec<RequestedLine>, want: Result<i64, Vec<&str>>) {
        let got = price_order(customer, lines)
            .map(|o| o.total_minor)
            .map_err(|issues| issues.into_iter().map(|i| i.pointer).collect::<Vec<_>>());
        let want = want.map_err(|p| p.into_iter().map(String::from).collect::<Vec<_>>());
        assert_eq!(got, want);
    }

    #[test]
    fn orders_are_priced_and_every_rule_reports_its_field() {
        check(true, vec![line(2, product(1250, "EUR", true))], Ok(2500));
        check(
            true,
            vec![
                line(1, product(100, "EUR", true)),
                line(3, product(5, "EUR", true)),
            ],
            Ok(115),
        );
        check(
            false,
            vec![line(1, product(1, "EUR", true))],
            Err(vec!["#/customer_id"]),
        );
        check(true, vec![], Err(vec!["#/items"]));
        check(
            true,
            vec![line(0, product(1, "EUR", true))],
            Err(vec!["#/items/0/quantity"]),
        );
        check(true, vec![line(1, None)], Err(vec!["#/items/0/product_id"]));
        check(
            true,
            vec![line(1, product(1, "EUR", false))],
            Err(vec!["#/items/0/product_id"]),
        );
        check(
            true,
            vec![
                line(1, product(1, "EUR", true)),
                line(1, product(1, "USD", true)),
            ],
            Err(vec!["#/items/1/product_id"]),
        );
        check(
            false,
            vec![line(0, None), line(1, product(1, "EUR", false))],
            Err(vec![
                "#/customer_id",
                "#/items/0/quantity",
                "#/items/0/product_id",
                "#/items/1/product_id",
            ]),
        );
    }

    #[test]
    fn the_money_maximum_is_the_specs() {
        let rules = orderflow_server_api::COMPONENT_RULES.tree();
        assert_eq!(
            rules["Money"]["properties"]["amount_minor"]["maximum"].as_i64(),
            Some(MONEY_MAX_MINOR)
        );
    }

    #[test]
    fn totals_never_exceed_what_money_can_carry() {
        // Exactly the maximum is fine; one minor unit more is not.
        check(
            true,
            vec![line(1, product(MONEY_MAX_MINOR, "EUR", true))],
            Ok(MONEY_MAX_MINOR),
        );
        check(
            true,
            vec![line(
                10_000,
                product(MONEY_MAX_MINOR / 10_000 + 1, "EUR", true),
            )],
            Err(vec!["#/items/0/quantity"]),
        );
        check(
            true,
            vec![
                line(1, product(MONEY_MAX_MINOR, "EUR", true)),
                line(1, product(1, "EUR", true)),
            ],
            Err(vec!["#/items"]),
        );
        check(
            true,
            vec![line(u32::MAX, product(i64::MAX, "EUR", true))],
            Err(vec!["#/items/0/quantity"]),
        );
    }
}
