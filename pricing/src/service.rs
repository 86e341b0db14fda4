//! Serving: the tonic implementation of `Pricing`, and the process's
//! listeners (gRPC, and optionally the internal REST twin) with a graceful
//! stop, so that tests and the benchmark can start, stop and restart it.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use tonic::{Request, Response, Status};

use crate::catalog::{Catalog, CatalogError};
use crate::proto::pricing_server::{Pricing, PricingServer as GrpcServer};
use crate::proto::{QuoteRequest, QuoteResponse};

/// The gRPC service over a catalog.
pub struct PricingService {
    catalog: Arc<dyn Catalog>,
}

impl PricingService {
    pub fn new(catalog: Arc<dyn Catalog>) -> PricingService {
        PricingService { catalog }
    }
}

#[tonic::async_trait]
impl Pricing for PricingService {
    async fn quote_basket(
        &self,
        request: Request<QuoteRequest>,
    ) -> Result<Response<QuoteResponse>, Status> {
        let lines = request.into_inner().lines;
        if lines.len() > crate::quote::MAX_LINES {
            return Err(Status::invalid_argument(format!(
                "{} lines; at most {} per call",
                lines.len(),
                crate::quote::MAX_LINES
            )));
        }
        let catalog = self.catalog.clone();
        match tokio::task::spawn_blocking(move || crate::quote::quote_basket(&*catalog, &lines))
            .await
        {
            Ok(Ok(lines)) => Ok(Response::new(QuoteResponse { lines })),
            Ok(Err(CatalogError::Unavailable(cause))) => {
                Err(Status::unavailable(format!("catalog unavailable: {cause}")))
            }
            Err(_) => Err(Status::internal("the pricing task failed")),
        }
    }
}

/// Where the pricing process listens.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub grpc: SocketAddr,
    /// The internal REST twin (`POST /internal/quote`); `None`: not served.
    pub rest: Option<SocketAddr>,
}

/// A running pricing service.
pub struct PricingServer {
    grpc_addr: SocketAddr,
    rest_addr: Option<SocketAddr>,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl PricingServer {
    /// Binds the listeners (an error names the address) and serves.
    pub async fn start(catalog: Arc<dyn Catalog>, options: ServeOptions) -> Result<PricingServer> {
        let grpc = tokio::net::TcpListener::bind(options.grpc)
            .await
            .with_context(|| format!("listening for gRPC on {}", options.grpc))?;
        let grpc_addr = grpc.local_addr()?;
        let rest = match options.rest {
            Some(a) => Some(
                tokio::net::TcpListener::bind(a)
                    .await
                    .with_context(|| format!("listening for internal REST on {a}"))?,
            ),
            None => None,
        };
        let rest_addr = rest.as_ref().map(|l| l.local_addr()).transpose()?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        let mut on_stop = stopped.clone();
        let service = GrpcServer::new(PricingService::new(catalog.clone()))
            .max_decoding_message_size(16 * 1024 * 1024);
        tasks.push(tokio::spawn(async move {
            // The builder's `tcp_nodelay` applies only to listeners it
            // binds itself: set it on every accepted socket here, or Nagle's
            // algorithm and delayed ACKs add ~40 ms to small answers.
            let incoming = tokio_stream::StreamExt::map(
                tokio_stream::wrappers::TcpListenerStream::new(grpc),
                |s| s.and_then(|s| s.set_nodelay(true).map(|()| s)),
            );
            let _ = tonic::transport::Server::builder()
                .tcp_nodelay(true)
                .add_service(service)
                .serve_with_incoming_shutdown(incoming, async move {
                    let _ = on_stop.wait_for(|s| *s).await;
                })
                .await;
        }));
        if let Some(listener) = rest {
            tasks.push(tokio::spawn(serve_rest(listener, catalog, stopped)));
        }
        Ok(PricingServer {
            grpc_addr,
            rest_addr,
            stop,
            tasks,
        })
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    pub fn rest_addr(&self) -> Option<SocketAddr> {
        self.rest_addr
    }

    /// Stops accepting and closes the connections; returns when the
    /// listeners are closed (the ports can be bound again).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            t.abort();
            let _ = t.await;
        }
    }
}

async fn serve_rest(
    listener: tokio::net::TcpListener,
    catalog: Arc<dyn Catalog>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stopped.wait_for(|s| *s) => break,
        };
        let Ok((stream, _)) = accepted else { continue };
        let _ = stream.set_nodelay(true);
        let catalog = catalog.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let catalog = catalog.clone();
                async move { Ok::<_, std::convert::Infallible>(crate::rest::handle(catalog, req).await) }
            });
            let builder =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            let _ = builder
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
    connections.abort_all();
}
