//! The policy hooks the generated edge calls: authentication and the
//! per-request observation (logs).
//!
//! API keys arrive as `Authorization: Bearer <key>` and are looked up by
//! hash; the key itself is never logged or stored. This module does not
//! decide what a principal may do: handlers do.

use std::time::Duration;

use async_trait::async_trait;
use orderflow_server_api::{ApiError, Call, Guard, OperationMeta, Principal};
use slog::{debug, error, info};

use crate::handlers::App;
use crate::store::Role;

/// Extracts the token from a `Bearer` credential (scheme case-insensitive,
/// RFC 9110 §11.1).
pub fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[async_trait]
impl Guard for App {
    async fn authenticate(
        &self,
        _op: &'static OperationMeta,
        authorization: Option<&str>,
    ) -> Result<Principal, ApiError> {
        let Some(raw) = authorization else {
            return Err(ApiError::unauthenticated(
                "send an API key as 'Authorization: Bearer <key>'",
            ));
        };
        let Some(token) = bearer(raw) else {
            return Err(ApiError::unauthenticated(
                "the Authorization header must be 'Bearer <key>'",
            ));
        };
        let token = token.to_string();
        let store = self.store.clone();
        let found = tokio::task::spawn_blocking(move || store.authenticate(&token)).await;
        match found {
            Ok(Ok(Some(p))) => Ok(Principal {
                key_id: p.key_id,
                admin: p.role == Role::Admin,
                customer_id: p.customer_id,
            }),
            Ok(Ok(None)) => Err(ApiError::unauthenticated(
                "the API key is unknown or revoked",
            )),
            Ok(Err(e)) => {
                error!(self.log, "authentication lookup failed"; "cause" => e.to_string());
                Err(ApiError::internal())
            }
            Err(e) => {
                error!(self.log, "authentication task failed"; "cause" => e.to_string());
                Err(ApiError::internal())
            }
        }
    }

    fn observe(&self, call: &Call, status: u16, elapsed: Duration, problem: Option<&ApiError>) {
        let principal = call
            .principal
            .as_ref()
            .map(|p| p.key_id.as_str())
            .unwrap_or("-");
        let latency_us = elapsed.as_micros() as u64;
        match problem {
            Some(p) if status >= 500 => error!(self.log, "request failed";
                "request_id" => &call.request_id, "operation" => call.op.operation_id,
                "route" => call.op.route, "status" => status, "code" => p.code(),
                "principal" => principal, "latency_us" => latency_us),
            Some(p) => info!(self.log, "request refused";
                "request_id" => &call.request_id, "operation" => call.op.operation_id,
                "route" => call.op.route, "status" => status, "code" => p.code(),
                "principal" => principal, "latency_us" => latency_us),
            None => debug!(self.log, "request served";
                "request_id" => &call.request_id, "operation" => call.op.operation_id,
                "route" => call.op.route, "status" => status,
                "principal" => principal, "latency_us" => latency_us),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn bearer_credentials() {
        let cases = [
            ("Bearer of_sk_1", Some("of_sk_1")),
            ("bearer of_sk_1", Some("of_sk_1")),
            ("BEARER   of_sk_1 ", Some("of_sk_1")),
            ("Basic dXNlcjpwYXNz", None),
            ("Bearer", None),
            ("Bearer ", None),
            ("", None),
            ("of_sk_1", None),
        ];
        for (raw, want) in cases {
            assert_eq!(bearer(raw), want, "{raw:?}");
        }
    }
}
