//! The HTTP side of `--metrics-addr`: one thread answering `/metrics`,
//! `/health` and `/ready` with tiny_http (synchronous; tiny_http reads
//! each request on its own thread, so a slow client holds nobody up).

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::Context;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::registry::Registry;
use tiny_http::{Header, Method, Server};

use super::health::{check_health, check_ready, READY_PATIENCE};
use super::{registry, Node};

/// An HTTP answer before it is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub code: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Response {
    fn text(code: u16, line: String) -> Response {
        Response {
            code,
            content_type: "text/plain; charset=utf-8",
            body: line + "\n",
        }
    }
}

/// The metrics and health server of one node; stops when dropped.
pub struct MetricsServer {
    server: Arc<Server>,
    addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// Listens on `addr` and serves `node` on a `metrics-http` thread.
    pub fn start(addr: SocketAddr, node: Node) -> anyhow::Result<MetricsServer> {
        let server = Server::http(addr)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("cannot listen on {addr} for metrics"))?;
        let addr = server
            .server_addr()
            .to_ip()
            .context("the metrics server has no IP address")?;
        let server = Arc::new(server);
        let thread = {
            let server = server.clone();
            std::thread::Builder::new()
                .name("metrics-http".into())
                .spawn(move || serve(&server, &node))
                .context("cannot start the metrics thread")?
        };
        Ok(MetricsServer {
            server,
            addr,
            thread: Some(thread),
        })
    }

    /// The address it listens on (the port chosen, if 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops answering and joins the thread; idempotent.
    pub fn shutdown(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.server.unblock();
            let _ = thread.join();
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Answers requests one at a time until [`MetricsServer::shutdown`].
fn serve(server: &Server, node: &Node) {
    let registry = registry(node);
    for request in server.incoming_requests() {
        let answer = match request.method() {
            Method::Get | Method::Head => respond(request.url(), &registry, node),
            _ => Response::text(405, "only GET is served".into()),
        };
        let header =
            Header::from_bytes("Content-Type", answer.content_type).expect("a valid header");
        let response = tiny_http::Response::from_string(answer.body)
            .with_status_code(answer.code)
            .with_header(header);
        if let Err(e) = request.respond(response) {
            tracing::debug!(error = %e, "a metrics client went away");
        }
    }
}

/// The answer to a GET of `url` (a path, maybe with a query, which is ignored).
pub fn respond(url: &str, registry: &Registry, node: &Node) -> Response {
    let path = url.split('?').next().unwrap_or(url);
    match path {
        "/metrics" => {
            let mut body = String::new();
            match prometheus_text::encode(&mut body, registry) {
                Ok(()) => Response {
                    code: 200,
                    content_type: prometheus_text::CONTENT_TYPE,
                    body,
                },
                Err(_) => Response::text(500, "cannot encode the metrics".into()),
            }
        }
        "/health" => {
            let (code, line) = check_health(&node.kv).answer();
            Response::text(code, line)
        }
        "/ready" => {
            let (code, line) = check_ready(&node.kv, READY_PATIENCE).answer();
            Response::text(code, line)
        }
        _ => Response::text(404, "not found: try /metrics, /health or /ready".into()),
    }
}
