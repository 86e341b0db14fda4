//! Cursor pagination of list operations (detected by
//! [`crate::spec::Spec::pagination`]): a walk of every page while
//! resources are created through the collection's create operation sees
//! every item once; tampered, made-up and foreign cursors are 400; the page
//! size bounds of the spec are enforced.

use std::collections::HashSet;

use serde_json::Value;

use super::{Ctx, rules};
use crate::client::{Exchange, Req};
use crate::factory::encode;
use crate::report::CheckResult;
use crate::spec::{Operation, Pagination};

/// Most pages one walk reads.
const MAX_PAGES: usize = 200;

/// What a walk left for the cursor checks.
pub struct Walked {
    pub op: String,
    pub list: Req,
    pub pagination: Pagination,
    pub cursor: Option<String>,
}

fn with_query(req: &Req, pairs: &[(&str, &str)]) -> Req {
    let mut r = req.clone();
    for (k, v) in pairs {
        r.path.push(if r.path.contains('?') { '&' } else { '?' });
        r.path.push_str(&format!("{}={}", encode(k), encode(v)));
    }
    r
}

fn item_key(item: &Value) -> String {
    item.get("id")
        .map(Value::to_string)
        .unwrap_or_else(|| item.to_string())
}

pub async fn walk(ctx: &Ctx<'_>, op: &Operation, p: &Pagination) -> (CheckResult, Option<Walked>) {
    let mut r = CheckResult::new("pagination.walk", &op.id);
    let limit = 3u64.clamp(
        p.limit_min.unwrap_or(1),
        p.limit_max.unwrap_or(u64::MAX).max(1),
    );
    let list = match ctx.factory.request(op).await {
        Ok(req) => req,
        Err(e) => {
            r.not_run(format!("cannot build a request: {e}"));
            return (r, None);
        }
    };
    let creator = ctx.spec.create_for(op);
    let create = async |r: &mut CheckResult| -> Option<String> {
        let creator = creator?;
        let req = ctx.factory.request(creator).await.ok()?;
        match ctx.client.send_patient(&req).await {
            Ok(e) if e.is_success() => e.json().map(|b| item_key(&b)),
            Ok(e) => {
                r.note(format!(
                    "creating through {} was answered {}",
                    creator.id, e.status
                ));
                None
            }
            Err(_) => None,
        }
    };
    let mut created_before = Vec::new();
    match creator {
        Some(c) => {
            for _ in 0..(2 * limit + 1) {
                if let Some(id) = create(&mut r).await {
                    created_before.push(id);
                }
            }
            r.note(format!(
                "created {} items through {} before the walk",
                created_before.len(),
                c.id
            ));
        }
        None => r.note(
            "no create operation on the collection's path: the walk reads what exists, without creating during it",
        ),
    }
    let limit_text = limit.to_string();
    let documents_link = op.success().is_some_and(|s| {
        s.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("link"))
    });
    let mut seen: HashSet<String> = HashSet::new();
    let mut cursor: Option<String> = None;
    let mut first_cursor = None;
    let mut pages = 0;
    let mut created_during = 0;
    let mut last_page: Option<Exchange>;
    loop {
        let mut pairs = vec![(p.limit_param.as_str(), limit_text.as_str())];
        if let Some(c) = &cursor {
            pairs.push((p.cursor_param.as_str(), c.as_str()));
        }
        let req = with_query(&list, &pairs);
        let page = match ctx.client.send_patient(&req).await {
            Ok(e) => e,
            Err(e) => {
                r.not_run(e.to_string());
                return (r, None);
            }
        };
        pages += 1;
        last_page = Some(page.clone());
        if page.status != 200 {
            r.violation(
                rules::PAGE_WALK,
                format!("page {pages} was answered {}, expected 200", page.status),
                Some(&page),
            );
            return (r, None);
        }
        let body = page.json().unwrap_or(Value::Null);
        let items = body
            .get(&p.items_field)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if items.len() as u64 > limit {
            r.violation(
                rules::PAGE_SIZE,
                format!(
                    "page {pages} holds {} items with {}={limit}",
                    items.len(),
                    p.limit_param
                ),
                Some(&page),
            );
        }
        for item in &items {
            let key = item_key(item);
            if !seen.insert(key.clone()) {
                r.violation(
                    rules::PAGE_WALK,
                    format!("item {key} appears again on page {pages}"),
                    Some(&page),
                );
            }
        }
        let next = body
            .get(&p.next_field)
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        if first_cursor.is_none() {
            first_cursor = next.clone();
        }
        if documents_link {
            check_next_link(&mut r, &page, p, next.as_deref(), pages);
        }
        let Some(next) = next else { break };
        if pages >= MAX_PAGES {
            r.not_run(format!("the walk did not end within {MAX_PAGES} pages"));
            return (r, None);
        }
        // An item created between two pages must not shift the pages.
        if create(&mut r).await.is_some() {
            created_during += 1;
        }
        cursor = Some(next);
    }
    for id in &created_before {
        if !seen.contains(id) {
            r.violation(
                rules::PAGE_WALK,
                format!("item {id}, created before the walk, was on no page: it was skipped"),
                last_page.as_ref(),
            );
        }
    }
    r.note(format!(
        "walked {pages} pages of {} with {}={limit}: {} items, none repeated{}; {created_during} created during the walk",
        op.id,
        p.limit_param,
        seen.len(),
        if created_before.is_empty() { "" } else { ", none skipped" }
    ));
    if r.violations.iter().any(|v| v.message.contains("skipped")) {
        r.notes.pop();
    }
    let walked = Walked {
        op: op.id.clone(),
        list,
        pagination: p.clone(),
        cursor: first_cursor,
    };
    (r, Some(walked))
}

/// Tampered, made-up and foreign cursors.
pub async fn cursors(ctx: &Ctx<'_>, w: &Walked, foreign: Option<&Walked>) -> CheckResult {
    let mut r = CheckResult::new("pagination.cursor", &w.op);
    let limit = |req: &Req, c: &str| with_query(req, &[(w.pagination.cursor_param.as_str(), c)]);
    let mut cases: Vec<(String, String)> = vec![(
        "made up".to_owned(),
        "Y29udHJhY3QtdmVyaWZ5LW1hZGUtdXA".to_owned(),
    )];
    match &w.cursor {
        Some(c) => cases.push(("tampered (one character changed)".to_owned(), tamper(c))),
        None => r.note("the list had a single page: no issued cursor to tamper with"),
    }
    match foreign.and_then(|f| f.cursor.as_ref().map(|c| (f, c))) {
        Some((f, c)) => cases.push((format!("foreign (issued by {})", f.op), c.clone())),
        None => r.note("no other paginated list issued a cursor: foreign cursors not checked"),
    }
    for (what, cursor) in cases {
        match ctx.client.send_patient(&limit(&w.list, &cursor)).await {
            Ok(e) => {
                if e.status != 400 {
                    r.violation(
                        rules::CURSOR,
                        format!("a {what} cursor was answered {}, expected 400", e.status),
                        Some(&e),
                    );
                } else if !is_problem(&e) {
                    r.violation(
                        rules::CURSOR,
                        format!("a {what} cursor was answered 400 but not as a problem"),
                        Some(&e),
                    );
                } else {
                    r.note(format!("a {what} cursor drew a 400 problem"));
                }
            }
            Err(e) => {
                r.not_run(e.to_string());
                return r;
            }
        }
    }
    r
}

/// Page size bounds.
pub async fn limits(ctx: &Ctx<'_>, w: &Walked) -> CheckResult {
    let p = &w.pagination;
    let mut r = CheckResult::new("pagination.limit", &w.op);
    let mut cases: Vec<(String, u16)> = Vec::new();
    if let Some(max) = p.limit_max {
        cases.push(((max + 1).to_string(), 400));
        cases.push((max.to_string(), 200));
    }
    if let Some(min) = p.limit_min
        && min >= 1
    {
        cases.push(((min - 1).to_string(), 400));
    }
    if cases.is_empty() {
        r.not_run(format!(
            "the spec declares no minimum or maximum for `{}`",
            p.limit_param
        ));
        return r;
    }
    for (value, expected) in cases {
        let req = with_query(&w.list, &[(p.limit_param.as_str(), value.as_str())]);
        match ctx.client.send_patient(&req).await {
            Ok(e) if e.status != expected => r.violation(
                rules::LIMIT,
                format!(
                    "{}={value} was answered {}, expected {expected}",
                    p.limit_param, e.status
                ),
                Some(&e),
            ),
            Ok(e) => {
                if expected == 200 {
                    let n = e
                        .json()
                        .and_then(|b| {
                            b.get(&p.items_field)
                                .and_then(Value::as_array)
                                .map(Vec::len)
                        })
                        .unwrap_or(0);
                    if n as u64 > p.limit_max.unwrap_or(u64::MAX) {
                        r.violation(
                            rules::PAGE_SIZE,
                            format!("{}={value} returned {n} items", p.limit_param),
                            Some(&e),
                        );
                    }
                }
                r.note(format!("{}={value}: {}", p.limit_param, e.status));
            }
            Err(e) => {
                r.not_run(e.to_string());
                return r;
            }
        }
    }
    r
}

/// Where the spec documents `Link` on the page, `rel="next"` must carry
/// the same cursor as the envelope, and the last page must have none.
fn check_next_link(
    r: &mut CheckResult,
    page: &Exchange,
    p: &Pagination,
    next: Option<&str>,
    number: usize,
) {
    let value = page.header_joined("link").unwrap_or_default();
    let target = super::lifecycle::links(&value)
        .into_iter()
        .find(|(_, rels)| rels.iter().any(|r| r.eq_ignore_ascii_case("next")))
        .map(|(t, _)| t);
    match (next, target) {
        (None, None) => {}
        (Some(_), None) => r.violation(
            rules::NEXT_LINK,
            format!("page {number} has a next cursor but no Link rel=\"next\""),
            Some(page),
        ),
        (None, Some(t)) => r.violation(
            rules::NEXT_LINK,
            format!("the last page (page {number}) still links rel=\"next\" to {t}"),
            Some(page),
        ),
        (Some(cursor), Some(t)) => {
            let query = t.split_once('?').map(|(_, q)| q).unwrap_or("");
            let linked = query.split('&').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                (decode(k) == p.cursor_param).then(|| decode(v))
            });
            if linked.as_deref() != Some(cursor) {
                r.violation(
                    rules::NEXT_LINK,
                    format!(
                        "page {number}: Link rel=\"next\" <{t}> carries {} {linked:?}, the body's {} is {cursor:?}",
                        p.cursor_param, p.next_field
                    ),
                    Some(page),
                );
            }
        }
    }
}

/// Percent-decoding of a query component (`+` is a space).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn is_problem(e: &Exchange) -> bool {
    e.header("content-type")
        .is_some_and(|c| c.starts_with("application/problem+json"))
}

/// The cursor with the character in its middle replaced by another of the
/// base64url alphabet.
fn tamper(c: &str) -> String {
    let mut chars: Vec<char> = c.chars().collect();
    if chars.is_empty() {
        return "x".to_owned();
    }
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}
