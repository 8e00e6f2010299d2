//! The open-loop HTTP probe: port 8000 as a client sees it.
//!
//! A request is fired every `interval` on a fixed schedule (`origin + n ×
//! interval`), whatever earlier requests are doing; each runs in its own task
//! with its own deadline, so a hung server costs nothing but that request and
//! an outage is timed to one interval instead of one timeout. Every answer is
//! sent as a [`timeline::Event`] (`at` = `done`) on the sink the caller gives,
//! so a chaos runner merges them with its fault/heal/VIP events.
//!
//! Each request is one fresh TCP connection carrying a minimal HTTP/1.1
//! `GET` with `Connection: close`, spoken by hyper's low-level client
//! connection over the socket the probe opened (the HTTP stack under
//! reqwest, without reqwest's pool). Why not reqwest itself: a client with a
//! pool, a resolver and its own background tasks adds work and shared state
//! between `sent` and the first byte on the wire; here `sent` is read right
//! before `connect`, the connection is driven inside the request's own task,
//! and nothing is shared between requests, so one stuck request cannot delay
//! another. Only IP literals (and `localhost`) are accepted: no name lookup in
//! the timed path, and no way to point the probe outside the lab by a name.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::timeline::{self, Clock, Event, EventKind, Outcome, Request};

/// A body larger than this is cut (the answer is judged by its first MiB):
/// a node's page is a few bytes, and the probe must not be made to buffer
/// without bound.
pub const MAX_BODY: usize = 1 << 20;

/// What to probe and how often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeConfig {
    /// `http://127.0.0.1:<port>/` (an IP literal or `localhost`).
    pub url: String,
    /// Time between two request starts (the schedule, not a pause).
    pub interval: Duration,
    /// Deadline of each request, from its start to the last body byte.
    pub timeout: Duration,
    /// `(node, page text)`: an answer containing a node's text is that node's.
    pub pages: Vec<(String, String)>,
    /// The production shape: `(load balancer, X-Halab-LB value)`. When set,
    /// an answer is the LB's its header names, and `pages` tell the web
    /// server that served it (`Request.backend`).
    pub lbs: Vec<(String, String)>,
}

/// Why the probe could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot probe `{url}`: {reason}\n  fix: give an address like `http://127.0.0.1:8000/` (http, an IP literal or `localhost`)")]
    BadUrl { url: String, reason: String },
    #[error("probe interval must be above zero (got {interval:?})\n  fix: set an interval such as `10ms`")]
    ZeroInterval { interval: Duration },
    #[error(
        "probe timeout must be above zero (got {timeout:?})\n  fix: set a timeout such as `1s`"
    )]
    ZeroTimeout { timeout: Duration },
    #[error("cannot start the probe's scheduling thread\n  fix: the machine is out of threads or memory; stop other work and retry")]
    Thread {
        #[source]
        source: std::io::Error,
    },
}

/// Tells node pages apart. Texts are tried longest first, so a page whose
/// text contains another's (`从机二` ⊃ `从机`) is still told apart; equal
/// lengths keep the given order. Texts are expected distinct and non-empty
/// (the lab loader checks that).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pages {
    by_length: Vec<(String, String)>,
}

impl Pages {
    pub fn new(pages: &[(String, String)]) -> Pages {
        let mut by_length = pages.to_vec();
        // Stable: ties keep the caller's order.
        by_length.sort_by_key(|(_, text)| std::cmp::Reverse(text.len()));
        Pages { by_length }
    }

    /// The node whose page text `body` contains.
    pub fn node_of(&self, body: &str) -> Option<&str> {
        self.by_length
            .iter()
            .find(|(_, text)| body.contains(text.as_str()))
            .map(|(node, _)| node.as_str())
    }

    /// The outcome of an HTTP answer with this status and body.
    pub fn outcome(&self, status: u16, body: &str) -> Outcome {
        if status != 200 {
            return Outcome::Http { status };
        }
        match self.node_of(body) {
            Some(node) => Outcome::Page {
                node: node.to_string(),
            },
            None => Outcome::UnknownPage,
        }
    }
}

/// Who answered. In the seed's shape, the node whose page came back; in the
/// production shape, the load balancer its `X-Halab-LB` header names and
/// the web server whose page came back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credit {
    pages: Pages,
    /// `(load balancer, header value)`; empty in the seed's shape.
    lbs: Vec<(String, String)>,
}

impl Credit {
    pub fn new(pages: &[(String, String)], lbs: &[(String, String)]) -> Credit {
        Credit {
            pages: Pages::new(pages),
            lbs: lbs.to_vec(),
        }
    }

    /// A lab's: its served pages and its load balancers' header values.
    pub fn of_lab(lab: &crate::lab::Lab) -> Credit {
        Credit::new(
            &crate::render::page_markers(lab),
            &crate::render::lb_markers(lab),
        )
    }

    /// The outcome of an answer with this status, `X-Halab-LB` value and
    /// body, and the web server that served it (production shape only). An
    /// answer without a known LB or a known page is `UnknownPage`.
    pub fn judge(&self, status: u16, lb: Option<&str>, body: &str) -> (Outcome, Option<String>) {
        if self.lbs.is_empty() {
            return (self.pages.outcome(status, body), None);
        }
        if status != 200 {
            return (Outcome::Http { status }, None);
        }
        match self.who(lb, body) {
            (Some(node), Some(backend)) => (Outcome::Page { node }, Some(backend)),
            (_, backend) => (Outcome::UnknownPage, backend),
        }
    }

    /// Whatever status came with it: the node an answer credits (the LB in
    /// the production shape) and the web server (production shape only).
    pub fn who(&self, lb: Option<&str>, body: &str) -> (Option<String>, Option<String>) {
        let page = self.pages.node_of(body).map(str::to_string);
        if self.lbs.is_empty() {
            return (page, None);
        }
        let node = lb
            .and_then(|v| self.lbs.iter().find(|(_, m)| m == v))
            .map(|(n, _)| n.clone());
        (node, page)
    }
}

/// One HTTP answer: status, the `X-Halab-LB` header when present, body.
type Answer = (u16, Option<String>, Vec<u8>);

/// Where to connect and what to ask: parsed once, shared by every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub addr: SocketAddr,
    /// Origin form: path and query.
    path: http::uri::PathAndQuery,
    host: http::HeaderValue,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, ProbeError> {
        let bad = |reason: &str| ProbeError::BadUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        if parsed.scheme() != "http" {
            return Err(bad("only plain `http` is probed"));
        }
        let ip = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(url::Host::Domain("localhost")) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            Some(url::Host::Domain(_)) => {
                return Err(bad("the host must be an IP address (no name lookup)"))
            }
            None => return Err(bad("no host")),
        };
        let port = parsed.port_or_known_default().unwrap_or(80);
        let host = match parsed.port() {
            Some(p) => format!("{}:{p}", parsed.host_str().unwrap_or_default()),
            None => parsed.host_str().unwrap_or_default().to_string(),
        };
        let mut path = parsed.path().to_string();
        if let Some(q) = parsed.query() {
            path.push('?');
            path.push_str(q);
        }
        Ok(Target {
            addr: SocketAddr::new(ip, port),
            path: path
                .parse()
                .map_err(|_| bad("the path is not valid in HTTP"))?,
            host: http::HeaderValue::from_str(&host)
                .map_err(|_| bad("the host is not valid in HTTP"))?,
        })
    }

    fn request(&self) -> http::Request<Empty<Bytes>> {
        let mut req = http::Request::new(Empty::new());
        *req.uri_mut() = http::Uri::from(self.path.clone());
        let headers = req.headers_mut();
        headers.insert(http::header::HOST, self.host.clone());
        headers.insert(
            http::header::USER_AGENT,
            http::HeaderValue::from_static("halab-probe"),
        );
        headers.insert(http::header::ACCEPT, http::HeaderValue::from_static("*/*"));
        headers.insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
        req
    }
}

/// One exchange that did not end in an HTTP answer.
#[derive(Debug)]
enum Failure {
    Connect(String),
    Timeout,
}

/// One request on a fresh connection, with `deadline` covering all of it.
async fn exchange(target: &Target, deadline: Instant) -> Result<Answer, Failure> {
    match tokio::time::timeout_at(deadline, exchange_inner(target)).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(error)) => Err(Failure::Connect(error)),
        Err(_) => Err(Failure::Timeout),
    }
}

async fn exchange_inner(target: &Target) -> Result<Answer, String> {
    let stream = TcpStream::connect(target.addr)
        .await
        .map_err(|e| e.to_string())?;
    // The request is one small write: send it now, not after Nagle's wait.
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    let answer = async {
        let response = sender
            .send_request(target.request())
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let lb = response
            .headers()
            .get(crate::lab::LB_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut body = response.into_body();
        let mut data = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| e.to_string())?;
            if let Some(chunk) = frame.data_ref() {
                let room = MAX_BODY - data.len();
                data.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if data.len() == MAX_BODY {
                    break;
                }
            }
        }
        Ok((status, lb, data))
    };
    // The connection is driven here, in the request's own task, until the
    // answer is in; its errors surface through `answer`, which then ends.
    let drive = async {
        let _ = conn.await;
        std::future::pending().await
    };
    tokio::select! {
        answer = answer => answer,
        never = drive => never,
    }
}

/// The outcome, the web server that served it (production shape), and the
/// body (empty on failure).
fn outcome_of(
    result: Result<Answer, Failure>,
    credit: &Credit,
) -> (Outcome, Option<String>, String) {
    match result {
        Ok((status, lb, body)) => {
            let body = String::from_utf8_lossy(&body).into_owned();
            let (outcome, backend) = credit.judge(status, lb.as_deref(), &body);
            (outcome, backend, body)
        }
        Err(Failure::Connect(error)) => (Outcome::Connect { error }, None, String::new()),
        Err(Failure::Timeout) => (Outcome::Timeout, None, String::new()),
    }
}

/// One request, outside any schedule: for readiness waits (`up`). With an
/// empty `pages`, a 200 is `UnknownPage`; the body is returned either way
/// (empty on failure).
pub async fn get_once(
    url: &str,
    timeout: Duration,
    pages: &Pages,
) -> Result<(Outcome, String), ProbeError> {
    let target = Target::parse(url)?;
    let result = exchange(&target, Instant::now() + timeout).await;
    let (outcome, _, body) = outcome_of(result, &Credit::new(&pages.by_length, &[]));
    Ok((outcome, body))
}

/// What a probe run did, returned by [`ProbeHandle::stop`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeSummary {
    /// Requests fired (every one of them has ended and was sent as an event).
    pub fired: u64,
    /// Answered with a node's page.
    pub pages: u64,
    pub unknown_pages: u64,
    /// Answered with a status other than 200.
    pub http_errors: u64,
    pub connect_errors: u64,
    pub timeouts: u64,
    /// Per request, in `seq` order: actual start minus scheduled start. The
    /// probe's own lateness, which bounds how finely it can time an outage.
    pub send_jitter: Vec<Duration>,
}

impl ProbeSummary {
    pub fn failures(&self) -> u64 {
        self.fired - self.pages
    }

    fn count(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Page { .. } => self.pages += 1,
            Outcome::UnknownPage => self.unknown_pages += 1,
            Outcome::Http { .. } => self.http_errors += 1,
            Outcome::Connect { .. } => self.connect_errors += 1,
            Outcome::Timeout => self.timeouts += 1,
        }
    }
}

/// The `p`-quantile (0.0–1.0, nearest rank) of `samples`; `None` if empty.
pub fn percentile(samples: &[Duration], p: f64) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let rank = (p.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.saturating_sub(1).min(sorted.len() - 1)])
}

/// Starts probes. See [`Probe::start`].
pub struct Probe;

/// A running probe. Dropping it stops firing too (in-flight requests still
/// end and are sent); call [`stop`](ProbeHandle::stop) to get the summary.
pub struct ProbeHandle {
    stop: Option<std::sync::mpsc::Sender<()>>,
    collector: tokio::task::JoinHandle<ProbeSummary>,
}

impl Probe {
    /// Fire the first request now, then one every `config.interval`, until
    /// stopped. Each ended request is sent on `sink` as an
    /// `EventKind::Request` at its `done` time (a closed sink is ignored).
    ///
    /// The schedule is kept by a thread of its own, not by a Tokio timer:
    /// Tokio's timer wheel rounds every sleep up to the next millisecond,
    /// which made the probe start ≈1 ms late on average (p99 ≈3–4 ms on a
    /// busy 2-core machine); a thread blocked with a precise timeout wakes
    /// within tens of µs and hands each request to the runtime as a task.
    ///
    /// Panics outside a Tokio runtime (like `tokio::spawn`).
    pub fn start(
        config: ProbeConfig,
        clock: Clock,
        sink: mpsc::UnboundedSender<Event>,
    ) -> Result<ProbeHandle, ProbeError> {
        if config.interval.is_zero() {
            return Err(ProbeError::ZeroInterval {
                interval: config.interval,
            });
        }
        if config.timeout.is_zero() {
            return Err(ProbeError::ZeroTimeout {
                timeout: config.timeout,
            });
        }
        let shared = Arc::new(Shared {
            target: Target::parse(&config.url)?,
            credit: Credit::new(&config.pages, &config.lbs),
            timeout: config.timeout,
            clock,
            sink,
        });
        let runtime = tokio::runtime::Handle::current();
        let (stop, stopped) = std::sync::mpsc::channel();
        let (fired, fired_rx) = mpsc::unbounded_channel();
        let interval = config.interval;
        std::thread::Builder::new()
            .name("halab-probe".to_string())
            .spawn(move || schedule(shared, interval, stopped, fired, runtime))
            .map_err(|source| ProbeError::Thread { source })?;
        Ok(ProbeHandle {
            stop: Some(stop),
            collector: tokio::spawn(tally(fired_rx)),
        })
    }
}

impl ProbeHandle {
    /// Stop firing, wait for the requests in flight (each ends by its own
    /// deadline), and count what happened.
    pub async fn stop(mut self) -> ProbeSummary {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.collector).await {
            Ok(summary) => summary,
            // A request task panicked: re-raise it rather than hide it in
            // the counts.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => ProbeSummary::default(),
        }
    }
}

struct Shared {
    target: Target,
    credit: Credit,
    timeout: Duration,
    clock: Clock,
    sink: mpsc::UnboundedSender<Event>,
}

/// What a request task reports back.
struct Ended {
    jitter: Duration,
    outcome: Outcome,
}

/// The schedule, on its own thread: spawn request `n` at `origin + n ×
/// interval` until told to stop (or the handle is dropped).
fn schedule(
    shared: Arc<Shared>,
    interval: Duration,
    stopped: std::sync::mpsc::Receiver<()>,
    fired: mpsc::UnboundedSender<tokio::task::JoinHandle<Ended>>,
    runtime: tokio::runtime::Handle,
) {
    // Deadlines step from the origin by exact integer additions, not from
    // the last wake-up, so lateness never accumulates; a late wake-up fires
    // at once (burst) and the count stays true to the schedule.
    let mut scheduled = std::time::Instant::now();
    for seq in 0u64.. {
        let wait = scheduled.saturating_duration_since(std::time::Instant::now());
        // The stop channel is the timer too: a message or a dropped handle
        // ends the schedule at once.
        match stopped.recv_timeout(wait) {
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        let task = runtime.spawn(request(shared.clone(), seq, scheduled));
        if fired.send(task).is_err() {
            return; // the collector is gone: the runtime is shutting down
        }
        scheduled += interval;
    }
}

/// Count requests in `seq` order as they end; done when the schedule has
/// stopped and every request it fired has ended.
async fn tally(mut fired: mpsc::UnboundedReceiver<tokio::task::JoinHandle<Ended>>) -> ProbeSummary {
    let mut summary = ProbeSummary::default();
    while let Some(task) = fired.recv().await {
        summary.fired += 1;
        match task.await {
            Ok(ended) => {
                summary.count(&ended.outcome);
                summary.send_jitter.push(ended.jitter);
            }
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Cancelled: the runtime is shutting down.
            Err(_) => {}
        }
    }
    summary
}

async fn request(shared: Arc<Shared>, seq: u64, scheduled: std::time::Instant) -> Ended {
    let started = std::time::Instant::now();
    let sent = shared.clock.at(started);
    let deadline = Instant::from_std(started) + shared.timeout;
    let result = exchange(&shared.target, deadline).await;
    let done = shared.clock.now();
    let (outcome, backend, _body) = outcome_of(result, &shared.credit);
    let _ = shared.sink.send(Event {
        at: done,
        kind: EventKind::Request(Request {
            seq,
            sent,
            done,
            backend,
            outcome: outcome.clone(),
        }),
    });
    Ended {
        jitter: started.saturating_duration_since(scheduled),
        outcome,
    }
}

/// Drain every event the probe has sent so far into a timeline (tests and
/// simple callers; a chaos runner merges the channel with its own events).
pub fn collect(events: &mut mpsc::UnboundedReceiver<Event>) -> timeline::Timeline {
    let mut timeline = timeline::Timeline::default();
    while let Ok(event) = events.try_recv() {
        timeline.push(event.at, event.kind);
    }
    timeline.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio::sync::watch;

    fn pages(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect()
    }

    #[test]
    fn longest_page_text_wins_whatever_the_order() {
        let given = pages(&[
            ("nginx_slave", "从机"),
            ("nginx_master", "主机"),
            ("nginx_slave2", "从机二"),
        ]);
        let p = Pages::new(&given);
        assert_eq!(p.node_of("<h1>从机二</h1>\n"), Some("nginx_slave2"));
        assert_eq!(p.node_of("<h1>从机</h1>\n"), Some("nginx_slave"));
        assert_eq!(p.node_of("主机"), Some("nginx_master"));
        assert_eq!(p.node_of("nginx welcome"), None);
        let mut reversed = given.clone();
        reversed.reverse();
        assert_eq!(
            Pages::new(&reversed).node_of("从机二"),
            Some("nginx_slave2")
        );
    }

    #[test]
    fn outcome_needs_status_200_for_a_page() {
        let p = Pages::new(&pages(&[("a", "主机")]));
        assert_eq!(
            p.outcome(200, "主机"),
            Outcome::Page {
                node: "a".to_string()
            }
        );
        assert_eq!(p.outcome(503, "主机"), Outcome::Http { status: 503 });
        assert_eq!(p.outcome(200, "other"), Outcome::UnknownPage);
    }

    #[test]
    fn in_the_pair_shape_the_header_names_the_lb_and_the_page_the_web_server() {
        let c = Credit::new(
            &pages(&[("web1", "web-one"), ("web2", "web-two")]),
            &pages(&[("lb1", "lb1"), ("lb2", "lb2")]),
        );
        let page = |node: &str| Outcome::Page {
            node: node.to_string(),
        };
        assert_eq!(
            c.judge(200, Some("lb2"), "<div>web-two</div>"),
            (page("lb2"), Some("web2".to_string()))
        );
        // No header, or one no LB sends: the answer is nobody's.
        assert_eq!(
            c.judge(200, None, "web-one"),
            (Outcome::UnknownPage, Some("web1".to_string()))
        );
        assert_eq!(c.judge(200, Some("lb9"), "web-one").0, Outcome::UnknownPage);
        assert_eq!(
            c.judge(200, Some("lb1"), "welcome"),
            (Outcome::UnknownPage, None)
        );
        assert_eq!(
            c.judge(503, Some("lb1"), "web-one"),
            (Outcome::Http { status: 503 }, None)
        );
        // The seed's shape: the page names the node, no backend.
        let seed = Credit::new(&pages(&[("a", "主机")]), &[]);
        assert_eq!(seed.judge(200, Some("lb1"), "主机"), (page("a"), None));
    }

    #[test]
    fn target_accepts_ip_literals_and_localhost_only() {
        let t = Target::parse("http://127.0.0.1:8000/").unwrap();
        assert_eq!(t.addr, "127.0.0.1:8000".parse().unwrap());
        let req = t.request();
        assert_eq!(req.method(), http::Method::GET);
        assert_eq!(req.uri(), "/");
        assert_eq!(req.headers()["host"], "127.0.0.1:8000");
        assert_eq!(req.headers()["connection"], "close");

        let t = Target::parse("http://localhost/x?y=1").unwrap();
        assert_eq!(t.addr, "127.0.0.1:80".parse().unwrap());
        assert_eq!(t.request().uri(), "/x?y=1");
        assert_eq!(t.request().headers()["host"], "localhost");

        for bad in ["https://127.0.0.1/", "http://example.com/", "not a url"] {
            let err = Target::parse(bad).unwrap_err();
            assert!(matches!(&err, ProbeError::BadUrl { url, .. } if url == bad));
            assert!(err.to_string().contains("fix:"), "{err}");
        }
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let ms: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&ms, 0.5), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&ms, 0.99), Some(Duration::from_millis(99)));
        assert_eq!(percentile(&ms, 1.0), Some(Duration::from_millis(100)));
        assert_eq!(percentile(&ms, 0.0), Some(Duration::from_millis(1)));
        assert_eq!(percentile(&[], 0.5), None);
    }

    /// What the loopback test server does with the next connection.
    #[derive(Debug, Clone, PartialEq)]
    enum Mode {
        Serve(&'static str),
        Status(u16),
        /// Read the request, then never answer.
        Hang,
        /// Close the listening socket: connections are refused.
        Refuse,
    }

    /// A tiny HTTP/1.1 server on 127.0.0.1:0 whose behaviour is switched by
    /// the returned sender.
    async fn server() -> (String, watch::Sender<Mode>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let (mode_tx, mut mode_rx) = watch::channel(Mode::Serve(""));
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    accepted = listener.accept() => Some(accepted),
                    _ = mode_rx.changed() => None,
                };
                let mode = mode_rx.borrow().clone();
                if mode == Mode::Refuse {
                    return; // drops the listener
                }
                let Some(accepted) = accepted else { continue };
                let Ok((mut stream, _)) = accepted else {
                    continue;
                };
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    let _ = stream.read(&mut buf).await;
                    let (status, body) = match mode {
                        Mode::Serve(body) => (200, body),
                        Mode::Status(status) => (status, "error"),
                        Mode::Hang | Mode::Refuse => {
                            tokio::time::sleep(Duration::from_secs(30)).await;
                            return;
                        }
                    };
                    let answer = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(answer.as_bytes()).await;
                });
            }
        });
        (url, mode_tx)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn get_once_reports_pages_statuses_and_refusals() {
        let (url, mode) = server().await;
        let p = Pages::new(&pages(&[("master", "主机")]));
        let t = Duration::from_secs(2);
        mode.send_replace(Mode::Serve("<h1>主机</h1>"));
        let (outcome, body) = get_once(&url, t, &p).await.unwrap();
        assert_eq!(outcome.node(), Some("master"));
        assert_eq!(body, "<h1>主机</h1>");
        mode.send_replace(Mode::Status(503));
        assert_eq!(
            get_once(&url, t, &p).await.unwrap().0,
            Outcome::Http { status: 503 }
        );
        mode.send_replace(Mode::Hang);
        let started = std::time::Instant::now();
        let short = Duration::from_millis(200);
        assert_eq!(get_once(&url, short, &p).await.unwrap().0, Outcome::Timeout);
        assert!(started.elapsed() >= short);
        mode.send_replace(Mode::Refuse);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (outcome, _) = get_once(&url, t, &p).await.unwrap();
        assert!(
            matches!(&outcome, Outcome::Connect { error } if error.contains("refused")),
            "{outcome:?}"
        );
    }

    /// What a hostile server writes after reading the request: `(bytes,
    /// pause after them)`, then it keeps the connection open (`hold`) or
    /// closes it.
    async fn hostile(script: Vec<(Vec<u8>, Duration)>, endless: bool, hold: bool) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let script = script.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    let _ = stream.read(&mut buf).await;
                    for (bytes, pause) in script {
                        if stream.write_all(&bytes).await.is_err() {
                            return;
                        }
                        tokio::time::sleep(pause).await;
                    }
                    let chunk = format!("4000\r\n{}\r\n", "x".repeat(0x4000));
                    while endless && stream.write_all(chunk.as_bytes()).await.is_ok() {}
                    if hold {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                });
            }
        });
        url
    }

    fn now(bytes: &str) -> (Vec<u8>, Duration) {
        (bytes.as_bytes().to_vec(), Duration::ZERO)
    }

    fn then_wait(bytes: &str, ms: u64) -> (Vec<u8>, Duration) {
        (bytes.as_bytes().to_vec(), Duration::from_millis(ms))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hostile_answers_end_in_the_right_outcome_within_the_deadline() {
        let p = Pages::new(&pages(&[("master", "主机")]));
        let t = Duration::from_millis(800);
        let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        let page = "<h1>主机</h1>";
        type Expected = fn(&Outcome) -> bool;
        let cases: Vec<(&str, String, Expected)> = vec![
            (
                "a chunked page split across writes",
                hostile(
                    vec![
                        then_wait(chunked, 20),
                        then_wait(&format!("4\r\n{}\r\n", &page[..4]), 20),
                        now(&format!(
                            "{:x}\r\n{}\r\n0\r\n\r\n",
                            page.len() - 4,
                            &page[4..]
                        )),
                    ],
                    false,
                    false,
                )
                .await,
                |o| o.node() == Some("master"),
            ),
            (
                "a body closed before its length",
                hostile(
                    vec![now(
                        "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n<h1>主机",
                    )],
                    false,
                    false,
                )
                .await,
                |o| matches!(o, Outcome::Connect { .. }),
            ),
            (
                "a body to the end of the connection",
                hostile(
                    vec![now("HTTP/1.0 503 Service Unavailable\r\n\r\nno server")],
                    false,
                    false,
                )
                .await,
                |o| *o == Outcome::Http { status: 503 },
            ),
            (
                "an endless chunked body, judged by its first MiB",
                hostile(
                    vec![
                        now(chunked),
                        now(&format!("{:x}\r\n{page}\r\n", page.len())),
                    ],
                    true,
                    true,
                )
                .await,
                |o| o.node() == Some("master"),
            ),
            (
                "headers that never end",
                hostile(vec![now("HTTP/1.1 200 OK\r\nContent-")], false, true).await,
                |o| *o == Outcome::Timeout,
            ),
            (
                "garbage instead of HTTP",
                hostile(vec![now("\x00garbage\r\n\r\n")], false, true).await,
                |o| matches!(o, Outcome::Connect { .. }),
            ),
        ];
        for (what, url, expected) in cases {
            let started = std::time::Instant::now();
            let (outcome, body) = get_once(&url, t, &p).await.unwrap();
            let took = started.elapsed();
            assert!(expected(&outcome), "{what}: {outcome:?}");
            assert!(body.len() <= MAX_BODY, "{what}: {} bytes kept", body.len());
            let bound = if outcome == Outcome::Timeout {
                t + Duration::from_millis(300)
            } else {
                t
            };
            assert!(took < bound, "{what}: took {took:?}");
        }
    }

    #[test]
    fn start_rejects_zero_interval_and_timeout() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let _guard = rt.enter();
        let config = |interval, timeout| ProbeConfig {
            url: "http://127.0.0.1:1/".to_string(),
            interval,
            timeout,
            pages: vec![],
            lbs: vec![],
        };
        let (tx, _rx) = mpsc::unbounded_channel();
        let one = Duration::from_secs(1);
        assert!(matches!(
            Probe::start(config(Duration::ZERO, one), Clock::start(), tx.clone()),
            Err(ProbeError::ZeroInterval { .. })
        ));
        assert!(matches!(
            Probe::start(config(one, Duration::ZERO), Clock::start(), tx),
            Err(ProbeError::ZeroTimeout { .. })
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn open_loop_timeline_follows_the_server_and_keeps_firing_while_it_hangs() {
        let (url, mode) = server().await;
        mode.send_replace(Mode::Serve("<h1>主机</h1>"));
        let interval = Duration::from_millis(20);
        let timeout = Duration::from_millis(300);
        let clock = Clock::start();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let config = ProbeConfig {
            url,
            interval,
            timeout,
            pages: pages(&[("master", "主机"), ("slave", "从机")]),
            lbs: vec![],
        };
        // Phase boundaries on the run's clock, to check what was sent when.
        let marks = Mutex::new(Vec::new());
        let mark = || marks.lock().unwrap().push(clock.now());
        let started = clock.now();
        let probe = Probe::start(config, clock, tx).unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        mark();
        mode.send_replace(Mode::Serve("<h1>从机</h1>"));
        tokio::time::sleep(Duration::from_millis(300)).await;
        mark();
        mode.send_replace(Mode::Hang);
        tokio::time::sleep(Duration::from_millis(500)).await;
        mark();
        mode.send_replace(Mode::Refuse);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let stopping = clock.now();
        let summary = probe.stop().await;
        let stopped = clock.now();
        let timeline = collect(&mut rx);
        let marks = marks.into_inner().unwrap();

        // Every fired request ended and was sent, once, by the time stop returned.
        let mut requests: Vec<&Request> = timeline.requests().collect();
        requests.sort_by_key(|r| r.seq);
        assert_eq!(requests.len() as u64, summary.fired);
        assert!(requests.iter().enumerate().all(|(i, r)| r.seq == i as u64));
        assert!(requests
            .iter()
            .all(|r| r.done <= stopped && r.sent <= r.done));
        // Stop waited for the last requests (hanging ones until their deadline).
        assert_eq!(summary.send_jitter.len() as u64, summary.fired);

        // Open loop: the count follows the schedule, not the answers.
        let elapsed = (stopping - started) as f64 / 1e6;
        let expected = elapsed / interval.as_secs_f64();
        let fired = summary.fired as f64;
        assert!(
            fired >= expected * 0.85 && fired <= expected * 1.1 + 2.0,
            "fired {fired}, expected ≈{expected:.1}"
        );
        let hang = (marks[1], marks[2]);
        let sent_while_hanging = requests
            .iter()
            .filter(|r| r.sent >= hang.0 && r.sent < hang.1)
            .count();
        assert!(
            sent_while_hanging >= 20,
            "only {sent_while_hanging} requests fired in the 500 ms the server hung"
        );

        // The outcomes come in the server's order: A, B, timeouts, refusals.
        let phase = |o: &Outcome| match o {
            Outcome::Page { node } if node == "master" => 0,
            Outcome::Page { node } if node == "slave" => 1,
            Outcome::Timeout => 2,
            Outcome::Connect { .. } => 3,
            other => panic!("unexpected outcome {other:?}"),
        };
        let phases: Vec<u8> = requests.iter().map(|r| phase(&r.outcome)).collect();
        assert!(phases.windows(2).all(|w| w[0] <= w[1]), "{phases:?}");
        for p in 0..=3 {
            assert!(phases.contains(&p), "phase {p} missing: {phases:?}");
        }
        // A request sent well inside a phase gets that phase's outcome.
        let slack = 30_000;
        for r in &requests {
            let want = if r.sent + slack < marks[0] {
                Some(0)
            } else if r.sent > marks[0] + slack && r.sent + slack < marks[1] {
                Some(1)
            } else if r.sent > marks[1] + slack && r.sent + slack < marks[2] {
                Some(2)
            } else if r.sent > marks[2] + slack {
                Some(3)
            } else {
                None
            };
            if let Some(want) = want {
                assert_eq!(phase(&r.outcome), want, "{r:?} marks {marks:?}");
            }
        }
        // A timeout ends at its deadline, not earlier and not much later.
        for r in requests.iter().filter(|r| r.outcome == Outcome::Timeout) {
            let latency = r.latency();
            assert!(latency >= timeout, "{r:?}");
            assert!(latency < timeout + Duration::from_millis(150), "{r:?}");
        }
        assert_eq!(
            summary.pages + summary.timeouts + summary.connect_errors,
            summary.fired
        );
        assert_eq!(
            summary.failures(),
            summary.timeouts + summary.connect_errors
        );
    }
}
