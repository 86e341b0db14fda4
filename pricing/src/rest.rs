//! The internal REST twin of `Pricing.QuoteBasket`: `POST /internal/quote`
//! with a JSON body, answered over HTTP/1.1 or h2c (hyper's auto server),
//! with the same data as the gRPC call. It exists to compare the two
//! protocols on equal terms; it is not part of the public OpenAPI contract.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;
use crate::proto;

pub const PATH: &str = "/internal/quote";

/// The largest request body accepted (1000 lines are about 40 KiB).
pub const BODY_LIMIT: usize = 1024 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QuoteRequest {
    pub lines: Vec<LineRequest>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LineRequest {
    pub product_id: String,
    pub quantity: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QuoteResponse {
    pub lines: Vec<LineQuote>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LineQuote {
    pub product_id: String,
    pub quantity: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<crate::catalog::CatalogProduct>,
    pub line_total_minor: i64,
    /// `null`, `unknown_product`, `inactive`, `zero_quantity`, `too_large`.
    pub error: Option<String>,
}

fn error_name(e: proto::LineError) -> Option<String> {
    match e {
        proto::LineError::Unspecified => None,
        proto::LineError::UnknownProduct => Some("unknown_product".into()),
        proto::LineError::Inactive => Some("inactive".into()),
        proto::LineError::ZeroQuantity => Some("zero_quantity".into()),
        proto::LineError::TooLarge => Some("too_large".into()),
    }
}

fn json(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

fn problem(status: StatusCode, detail: &str) -> Response<Full<Bytes>> {
    json(
        status,
        serde_json::to_vec(&serde_json::json!({ "detail": detail })).unwrap_or_default(),
    )
}

/// Answers one request.
pub async fn handle(
    catalog: Arc<dyn Catalog>,
    req: Request<hyper::body::Incoming>,
) -> Response<Full<Bytes>> {
    if req.uri().path() != PATH {
        return problem(StatusCode::NOT_FOUND, "no such internal endpoint");
    }
    if req.method() != Method::POST {
        return problem(StatusCode::METHOD_NOT_ALLOWED, "use POST");
    }
    let body = match Limited::new(req.into_body(), BODY_LIMIT).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return problem(StatusCode::PAYLOAD_TOO_LARGE, "body too large or broken"),
    };
    let parsed: QuoteRequest = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => return problem(StatusCode::BAD_REQUEST, &format!("bad JSON: {e}")),
    };
    if parsed.lines.len() > crate::quote::MAX_LINES {
        return problem(StatusCode::BAD_REQUEST, "too many lines");
    }
    let lines: Vec<proto::LineRequest> = parsed
        .lines
        .into_iter()
        .map(|l| proto::LineRequest {
            product_id: l.product_id,
            quantity: l.quantity,
        })
        .collect();
    let quoted =
        tokio::task::spawn_blocking(move || crate::quote::quote_basket(&*catalog, &lines)).await;
    match quoted {
        Ok(Ok(lines)) => {
            let out = QuoteResponse {
                lines: lines
                    .into_iter()
                    .map(|q| LineQuote {
                        error: error_name(q.error()),
                        product_id: q.product_id,
                        quantity: q.quantity,
                        product: q.product.map(|p| crate::catalog::CatalogProduct {
                            sku: p.sku,
                            name: p.name,
                            unit_price_minor: p.unit_price_minor,
                            currency: p.currency,
                            active: p.active,
                        }),
                        line_total_minor: q.line_total_minor,
                    })
                    .collect(),
            };
            match serde_json::to_vec(&out) {
                Ok(body) => json(StatusCode::OK, body),
                Err(_) => problem(StatusCode::INTERNAL_SERVER_ERROR, "encoding failed"),
            }
        }
        _ => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "the catalog is unavailable",
        ),
    }
}
