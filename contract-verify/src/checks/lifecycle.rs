//! Lifecycle headers of deprecated operations (`deprecated: true`, with
//! `x-deprecated-since` and `x-sunset`): `Deprecation` (RFC 9745),
//! `Sunset` (RFC 8594), `Link` with `successor-version` and `deprecation`
//! (RFC 8288), and `410 Gone` from a server past the sunset.

use std::time::UNIX_EPOCH;

use super::{Ctx, rules};
use crate::client::{Exchange, Target};
use crate::report::CheckResult;
use crate::spec::Operation;

pub async fn run(ctx: &Ctx<'_>, op: &Operation) -> Vec<CheckResult> {
    let mut headers = CheckResult::new("lifecycle.headers", &op.id);
    let mut retired = CheckResult::new("lifecycle.retired", &op.id);
    let req = match ctx.factory.request(op).await {
        Ok(r) => r,
        Err(e) => {
            headers.not_run(format!("cannot build a request: {e}"));
            retired.not_run(format!("cannot build a request: {e}"));
            return vec![headers, retired];
        }
    };
    match ctx.client.send_patient(&req).await {
        Ok(e) => check_headers(&mut headers, op, &e),
        Err(e) => headers.not_run(e.to_string()),
    }
    let mut old = req.clone();
    old.target = Target::Retired;
    match ctx.client.send_patient(&old).await {
        Ok(e) => {
            let problem = e
                .header("content-type")
                .is_some_and(|c| c.starts_with("application/problem+json"));
            if e.status != 410 || !problem {
                retired.violation(
                    rules::GONE,
                    format!(
                        "past the sunset the operation was answered {} ({}), expected a 410 problem",
                        e.status,
                        e.header("content-type").unwrap_or("no content type")
                    ),
                    Some(&e),
                );
            } else {
                retired.note("the retired server answers 410 with a problem");
            }
        }
        Err(e) => retired.not_run(e.to_string()),
    }
    vec![headers, retired]
}

fn check_headers(r: &mut CheckResult, op: &Operation, e: &Exchange) {
    let deprecation = match e.header("deprecation") {
        None => {
            r.violation(
                rules::DEPRECATION,
                "a deprecated operation's response carries no Deprecation header",
                Some(e),
            );
            None
        }
        Some(v) => {
            match sfv::Parser::new(v).parse::<sfv::Item>() {
                Ok(item) => match item.bare_item.as_date() {
                    Some(d) => Some(i64::from(d.unix_seconds())),
                    None => {
                        r.violation(
                        rules::DEPRECATION,
                        format!("Deprecation `{v}` is not a Structured Field date (`@` + Unix seconds)"),
                        Some(e),
                    );
                        None
                    }
                },
                Err(err) => {
                    r.violation(
                        rules::DEPRECATION,
                        format!("Deprecation `{v}` is not a Structured Field item: {err}"),
                        Some(e),
                    );
                    None
                }
            }
        }
    };
    let sunset = match e.header("sunset") {
        None => {
            if op.sunset.is_some() {
                r.violation(
                    rules::SUNSET,
                    "the spec declares x-sunset but the response carries no Sunset header",
                    Some(e),
                );
            }
            None
        }
        Some(v) => {
            match httpdate::parse_http_date(v) {
                // Only IMF-fixdate: what httpdate writes back must be the
                // same text (the obsolete RFC 850 and asctime forms differ).
                Ok(t) if httpdate::fmt_http_date(t) == v.trim() => t
                    .duration_since(UNIX_EPOCH)
                    .ok()
                    .map(|d| d.as_secs() as i64),
                _ => {
                    r.violation(
                    rules::SUNSET,
                    format!("Sunset `{v}` is not an IMF-fixdate (e.g. `Wed, 30 Jun 2027 23:59:59 GMT`)"),
                    Some(e),
                );
                    None
                }
            }
        }
    };
    if let (Some(d), Some(s)) = (deprecation, sunset)
        && s < d
    {
        r.violation(
            rules::SUNSET_ORDER,
            format!("Sunset ({s}) is earlier than Deprecation (@{d})"),
            Some(e),
        );
    }
    for (declared, seen, what) in [
        (&op.sunset, sunset, "x-sunset"),
        (&op.deprecated_since, deprecation, "x-deprecated-since"),
    ] {
        if let (Some(declared), Some(seen)) = (declared, seen)
            && let Some(day) = civil_day(declared)
            && day != seen.div_euclid(86_400)
        {
            r.violation(
                rules::LIFECYCLE_SPEC,
                format!("the header's date is not the spec's {what} `{declared}`"),
                Some(e),
            );
        }
    }
    let rels = link_rels(&e.header_joined("link").unwrap_or_default());
    for wanted in ["successor-version", "deprecation"] {
        if !rels.iter().any(|r| r.eq_ignore_ascii_case(wanted)) {
            r.violation(
                rules::LINK,
                format!("no Link with rel=\"{wanted}\""),
                Some(e),
            );
        }
    }
}

/// Every relation type named by a `Link` field value (RFC 8288 §3).
pub fn link_rels(value: &str) -> Vec<String> {
    links(value)
        .into_iter()
        .flat_map(|(_, rels)| rels)
        .collect()
}

/// The links of a `Link` field value: target and relation types.
pub fn links(value: &str) -> Vec<(String, Vec<String>)> {
    let mut inside = false;
    let mut start = 0;
    let mut parts = Vec::new();
    for (i, c) in value.char_indices() {
        match c {
            '<' => inside = true,
            '>' => inside = false,
            ',' if !inside => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    let mut out = Vec::new();
    for part in parts {
        let mut pieces = part.split(';');
        let target = pieces
            .next()
            .unwrap_or("")
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_owned();
        let mut rels = Vec::new();
        for param in pieces {
            if let Some((k, v)) = param.split_once('=')
                && k.trim().eq_ignore_ascii_case("rel")
            {
                rels.extend(
                    v.trim()
                        .trim_matches('"')
                        .split_whitespace()
                        .map(str::to_owned),
                );
            }
        }
        if !target.is_empty() {
            out.push((target, rels));
        }
    }
    out
}

/// Days since 1970-01-01 of a `YYYY-MM-DD...` date (the spec's
/// extensions), or `None` when it is not one.
fn civil_day(s: &str) -> Option<i64> {
    let y: i64 = s.get(0..4)?.parse().ok()?;
    let m: i64 = s.get(5..7)?.parse().ok()?;
    let d: i64 = s.get(8..10)?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}
