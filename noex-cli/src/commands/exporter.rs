//! `noex exporter`: /metrics over HTTP for every live noex application of this user,
//! as node_exporter serves a machine's. Each scrape lists the agents, reads a
//! snapshot from each (each within `--agent-timeout`) and answers; nothing is read
//! between scrapes. Scrapes take turns, so the exporter holds at most one connection
//! to each application however many clients ask.
//!
//! It listens on loopback only unless told `--allow-remote`: the metrics name every
//! process of every application of the user, and the endpoint has no authentication.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ACCEPT, ALLOW, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use noex_agent::discovery::{self, AgentEntry};
use tokio::net::TcpListener;

use crate::cli::{ExporterArgs, ScrapeArgs};
use crate::commands::{Context, write_err, write_out};
use crate::error::CliError;
use crate::metrics::collect::{scrape_agents, scrape_dir};
use crate::metrics::exposition::{Format, encode};
use crate::metrics::families::families;

const INDEX: &str = "<!doctype html>\n<html><head><title>noex exporter</title></head>\n\
<body><h1>noex exporter</h1>\n<p>Metrics of every noex application of this user on \
this host: <a href=\"metrics\">/metrics</a>.</p>\n</body></html>\n";

pub async fn run(ctx: &Context, args: &ExporterArgs) -> Result<(), CliError> {
    if let Some(host) = &ctx.target.host {
        return Err(CliError::usage(format!(
            "the exporter serves the applications of the machine it runs on, not over --host {host}"
        ))
        .with_hint("run `noex exporter` on that machine and let Prometheus scrape it there"));
    }
    if !args.listen.ip().is_loopback() && !args.allow_remote {
        return Err(CliError::usage(format!(
            "refusing to listen on {}: other hosts could read the names of every process \
             of every noex application of this user, with no authentication",
            args.listen
        ))
        .with_hint(
            "listen on 127.0.0.1 (the default) and let Prometheus scrape it there, or add \
             --allow-remote behind a firewall",
        ));
    }
    let exporter = Arc::new(Exporter {
        agents: agents_of(ctx),
        scrape: args.scrape.clone(),
        turn: tokio::sync::Mutex::new(()),
    });
    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|error| CliError::failed(format!("cannot listen on {}: {error}", args.listen)))?;
    let address = listener.local_addr()?;
    write_out(&format!(
        "noex exporter: serving http://{address}/metrics (Ctrl-C stops)\n"
    ))?;

    let stop = stop_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(serve_connection(Arc::clone(&exporter), stream));
                }
                Err(error) => {
                    // Out of file descriptors, most likely: wait instead of spinning.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    write_err("noex exporter: stopped\n");
    Ok(())
}

/// Which agents a scrape reads: the one `--pid`/`--socket` names, else every live one
/// in the agent directory at the time of the scrape.
enum Agents {
    One(AgentEntry),
    All(PathBuf),
}

fn agents_of(ctx: &Context) -> Agents {
    if let Some(path) = &ctx.target.socket {
        // The pid comes from the agent's greeting.
        return Agents::One(AgentEntry {
            pid: 0,
            path: path.clone(),
        });
    }
    let dir = discovery::agent_dir();
    match ctx.target.pid {
        Some(pid) => Agents::One(AgentEntry {
            pid,
            path: discovery::socket_path(&dir, pid),
        }),
        None => Agents::All(dir),
    }
}

struct Exporter {
    agents: Agents,
    scrape: ScrapeArgs,
    /// Held through a scrape: one at a time.
    turn: tokio::sync::Mutex<()>,
}

impl Exporter {
    async fn metrics(&self, format: Format) -> Result<String, String> {
        let _turn = self.turn.lock().await;
        let began = Instant::now();
        let limit = self.scrape.agent_timeout;
        let scrapes = match &self.agents {
            Agents::One(agent) => scrape_agents(std::slice::from_ref(agent), limit).await,
            Agents::All(dir) => scrape_dir(dir, limit)
                .await
                .map_err(|error| error.to_string())?,
        };
        let families = families(&scrapes, self.scrape.max_process_series, began.elapsed());
        Ok(encode(&families, format))
    }
}

async fn serve_connection(exporter: Arc<Exporter>, stream: tokio::net::TcpStream) {
    let service = service_fn(move |request| {
        let exporter = Arc::clone(&exporter);
        async move { Ok::<_, Infallible>(respond(&exporter, &request).await) }
    });
    // The timer lets hyper drop a client that never finishes its request headers.
    let served = http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), service)
        .await;
    if let Err(error) = served {
        tracing::debug!(%error, "an HTTP connection ended with an error");
    }
}

async fn respond(exporter: &Exporter, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    if request.method() != Method::GET {
        let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "only GET\n");
        response
            .headers_mut()
            .insert(ALLOW, hyper::header::HeaderValue::from_static("GET"));
        return response;
    }
    match request.uri().path() {
        "/" => with_type(
            StatusCode::OK,
            "text/html; charset=utf-8",
            INDEX.to_string(),
        ),
        "/metrics" => {
            let accept = request
                .headers()
                .get(ACCEPT)
                .and_then(|value| value.to_str().ok());
            let format = Format::negotiate(accept);
            match exporter.metrics(format).await {
                Ok(body) => with_type(StatusCode::OK, format.content_type(), body),
                Err(error) => text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("cannot list the noex agents: {error}\n"),
                ),
            }
        }
        _ => text(StatusCode::NOT_FOUND, "not found: try /metrics\n"),
    }
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    with_type(status, "text/plain; charset=utf-8", body.to_string())
}

fn with_type(
    status: StatusCode,
    content_type: &'static str,
    body: String,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    response
}

/// Ctrl-C, or SIGTERM where there are signals.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
