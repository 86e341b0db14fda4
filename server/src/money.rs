//! Money on the wire of `/v2`: a decimal string in the currency's major
//! unit (`"12.50"` EUR) with as many fraction digits as ISO 4217 gives the
//! currency. The store keeps integer minor units, as `/v1` shows them, so
//! both versions read and write the same rows and only the representation
//! differs.

/// The largest amount in minor units either version accepts (the spec's
/// `maximum` on v1's `amount_minor`).
pub const MAX_MINOR: i64 = 100_000_000_000;

/// The ISO 4217 minor-unit exponent of a currency: how many fraction digits
/// its major unit has. Every code not listed has two (EUR, USD, GBP, ...).
pub fn exponent(currency: &str) -> u32 {
    match currency {
        // Zero fraction digits.
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        // Three.
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        // Four.
        "CLF" | "UYW" => 4,
        _ => 2,
    }
}

/// Minor units as v2's decimal string: `1250` EUR is `"12.50"`, `1250` JPY
/// is `"1250"`.
pub fn to_decimal(minor: i64, currency: &str) -> String {
    let exp = exponent(currency);
    if exp == 0 {
        return minor.to_string();
    }
    let scale = 10i64.pow(exp);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let scale_u = scale.unsigned_abs();
    format!(
        "{sign}{}.{:0width$}",
        abs / scale_u,
        abs % scale_u,
        width = exp as usize
    )
}

/// Parses v2's decimal string into minor units of `currency`. The edge has
/// already checked the spec's pattern; this checks what depends on the
/// currency (its number of fraction digits) and the upper bound. The error
/// says what was expected.
pub fn from_decimal(amount: &str, currency: &str) -> Result<i64, String> {
    let exp = exponent(currency);
    let (whole, fraction) = match amount.split_once('.') {
        Some((w, f)) => (w, f),
        None => (amount, ""),
    };
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits_ok(whole) || !digits_ok(fraction) {
        return Err(format!(
            "{amount:?} is not a decimal amount; expected digits with an optional fraction, like \"12.50\""
        ));
    }
    if amount.contains('.') && fraction.is_empty() {
        return Err(format!(
            "{amount:?} ends in a decimal point; write the fraction digits or drop the point"
        ));
    }
    if fraction.len() > exp as usize {
        return Err(match exp {
            0 => format!("{currency} has no fraction digits; write {amount:?} as a whole number"),
            1 => format!(
                "{currency} has 1 fraction digit; {amount:?} has {}",
                fraction.len()
            ),
            n => format!(
                "{currency} has {n} fraction digits; {amount:?} has {}",
                fraction.len()
            ),
        });
    }
    let too_big = || {
        format!(
            "{amount:?} {currency} is above the largest amount, {}",
            to_decimal(MAX_MINOR, currency)
        )
    };
    let whole: i64 = whole.parse().map_err(|_| too_big())?;
    let mut minor = whole.checked_mul(10i64.pow(exp)).ok_or_else(too_big)?;
    if !fraction.is_empty() {
        let f: i64 = fraction.parse().map_err(|_| too_big())?;
        let pad = 10i64.pow(exp - fraction.len() as u32);
        minor = minor.checked_add(f * pad).ok_or_else(too_big)?;
    }
    if minor > MAX_MINOR {
        return Err(too_big());
    }
    Ok(minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_with_the_currency_s_fraction_digits() {
        assert_eq!(to_decimal(1250, "EUR"), "12.50");
        assert_eq!(to_decimal(5, "USD"), "0.05");
        assert_eq!(to_decimal(0, "EUR"), "0.00");
        assert_eq!(to_decimal(1250, "JPY"), "1250");
        assert_eq!(to_decimal(1250, "KWD"), "1.250");
        assert_eq!(to_decimal(1, "CLF"), "0.0001");
        assert_eq!(to_decimal(MAX_MINOR, "EUR"), "1000000000.00");
    }

    #[test]
    fn parses_what_it_renders_and_shorter_fractions() {
        for (minor, cur) in [
            (1250, "EUR"),
            (0, "EUR"),
            (7, "JPY"),
            (1001, "KWD"),
            (MAX_MINOR, "USD"),
        ] {
            assert_eq!(
                from_decimal(&to_decimal(minor, cur), cur),
                Ok(minor),
                "{minor} {cur}"
            );
        }
        assert_eq!(from_decimal("12.5", "EUR"), Ok(1250));
        assert_eq!(from_decimal("12", "EUR"), Ok(1200));
        assert_eq!(from_decimal("1.2", "KWD"), Ok(1200));
    }

    #[test]
    fn refuses_more_fraction_digits_than_the_currency_has() {
        let e = from_decimal("12.505", "EUR").unwrap_err();
        assert!(e.contains("EUR has 2 fraction digits"), "{e}");
        let e = from_decimal("12.5", "JPY").unwrap_err();
        assert!(e.contains("JPY has no fraction digits"), "{e}");
    }

    #[test]
    fn refuses_amounts_above_the_bound_and_malformed_text() {
        let e = from_decimal("1000000000.01", "EUR").unwrap_err();
        assert!(e.contains("above the largest amount, 1000000000.00"), "{e}");
        assert!(from_decimal("999999999999", "JPY").is_err());
        assert!(
            from_decimal("99999999999999999999999", "EUR").is_err(),
            "no overflow panic"
        );
        for bad in ["", ".5", "1.", "1,5", "-1", "1e3", "+1"] {
            assert!(from_decimal(bad, "EUR").is_err(), "{bad:?}");
        }
    }
}
