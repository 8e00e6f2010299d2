//! How halab's requests reach the engine: one connection per call, spoken
//! with hyper's low-level HTTP/1 client, under a deadline on silence and a
//! bound on what is read.
//!
//! Why not bollard's own clients: they read a whole answer into memory with
//! no size limit, and time only the wait for the headers (2 min by default),
//! so an engine that streams an endless body ate 24 GB and one that stalls
//! after its status line hung `status` for good. Here every byte passes
//! through [`Guarded`], which
//! - fails a call when nothing moved either way for the deadline
//!   (`HALAB_ENGINE_TIMEOUT`, 15 s by default): a connect, the wait for the
//!   headers, a gap inside an answer. Uploads reset it, so a long import is
//!   timed by its silences, not by its length. After the headers, streams
//!   get their own rule: a build's or pull's progress may be quiet for
//!   [`PROGRESS_GAP`]; logs and command output (`logs --follow`, watchers)
//!   may be silent for as long as the thing they follow;
//! - fails a call that reads more than [`MAX_ANSWER`] for one answer (JSON
//!   decoded whole) or [`MAX_STREAM`] for one stream.

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bollard::errors::Error as BollardError;
use bollard::BollardRequest;
use hyper::body::Incoming;
use hyper::Response;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The environment variable that sets the deadline.
pub const TIMEOUT_ENV: &str = "HALAB_ENGINE_TIMEOUT";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
/// One answer decoded whole (an inspect, a list): far above any real one.
pub const MAX_ANSWER: u64 = 64 << 20;
/// One stream (build output, logs, a command's output).
pub const MAX_STREAM: u64 = 1 << 30;
/// Silence allowed inside a build's, import's or pull's progress: one build
/// step (an `apt-get install`) may print nothing for minutes.
pub const PROGRESS_GAP: Duration = Duration::from_secs(600);

/// Why a call was cut: the one wording of both limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Breach {
    #[error("the engine sent nothing for {} ({TIMEOUT_ENV})", humantime::format_duration(*.after))]
    Silent { after: Duration },
    #[error("the engine sent more than {} MiB for one answer", .limit >> 20)]
    TooLarge { limit: u64 },
}

impl From<Breach> for io::Error {
    fn from(b: Breach) -> io::Error {
        let kind = match b {
            Breach::Silent { .. } => io::ErrorKind::TimedOut,
            Breach::TooLarge { .. } => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, b)
    }
}

/// The breach somewhere in `e`'s causes, if a limit ended the call.
pub fn breach_in(e: &BollardError) -> Option<Breach> {
    fn of(e: &(dyn std::error::Error + 'static)) -> Option<Breach> {
        if let Some(b) = e.downcast_ref::<Breach>() {
            return Some(*b);
        }
        // io::Error's `source` skips the error it wraps: look inside.
        e.downcast_ref::<io::Error>()?
            .get_ref()?
            .downcast_ref::<Breach>()
            .copied()
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = match e {
        BollardError::IOError { err } => Some(err),
        BollardError::HyperResponseError { err } => Some(err),
        other => std::error::Error::source(other),
    };
    while let Some(c) = cause {
        if let Some(b) = of(c) {
            return Some(b);
        }
        cause = c.source();
    }
    None
}

/// Where the engine listens, from `DOCKER_HOST`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    /// `host:port`
    Tcp(String),
}

impl Endpoint {
    /// `unix:///path`, `tcp://host:port` or `http://host:port`; the reason
    /// when it is none of them.
    pub fn parse(host: &str) -> Result<Endpoint, String> {
        if let Some(path) = host.strip_prefix("unix://") {
            if path.is_empty() {
                return Err("no socket path after `unix://`".into());
            }
            return Ok(Endpoint::Unix(PathBuf::from(path)));
        }
        let addr = host
            .strip_prefix("tcp://")
            .or_else(|| host.strip_prefix("http://"))
            .ok_or_else(|| {
                "halab speaks to `unix://` sockets and plain `tcp://` ports only".to_string()
            })?
            .trim_end_matches('/');
        if addr.is_empty() || addr.contains('/') {
            return Err(format!("`{addr}` is not `host:port`"));
        }
        let has_port = addr.rsplit_once(':').is_some_and(|(_, p)| !p.contains(']'));
        Ok(Endpoint::Tcp(if has_port {
            addr.to_string()
        } else {
            format!("{addr}:2375")
        }))
    }

    /// The address bollard writes into its URIs (its authority becomes the
    /// Host header; the path is what the engine routes on).
    pub fn client_addr(&self) -> String {
        match self {
            Endpoint::Unix(_) => "http://localhost".into(),
            Endpoint::Tcp(addr) => format!("http://{addr}"),
        }
    }
}

/// The deadline from `HALAB_ENGINE_TIMEOUT` (`15s`, `2m`, or seconds), the
/// default when unset; the reason when it is not a duration above zero.
pub fn timeout_from(value: Option<&str>) -> Result<Duration, String> {
    let Some(text) = value else {
        return Ok(DEFAULT_TIMEOUT);
    };
    let parsed = match text.trim().parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => humantime::parse_duration(text.trim()).map_err(|e| e.to_string())?,
    };
    if parsed.is_zero() {
        return Err("it must be above zero".into());
    }
    Ok(parsed)
}

/// What kind of answer a call gets, which decides its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    /// One JSON document (or nothing), read whole.
    Answer,
    /// Build, import or pull progress.
    Progress,
    /// Logs or a command's output: silence is normal.
    Events,
}

/// The kind of call, and how long the engine may take on top of the
/// deadline before answering (a stop waits for the container's grace time).
fn classify(uri: &hyper::Uri) -> (Call, Duration) {
    let path = uri.path();
    // Without the `/v1.41` prefix.
    let path = match path.strip_prefix("/v") {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => {
            rest.find('/').map_or("", |i| &rest[i..])
        }
        _ => path,
    };
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let call = match segments.as_slice() {
        ["build"] | ["images", "create"] | ["images", "load"] => Call::Progress,
        ["containers", _, "logs" | "attach"] | ["exec", _, "start"] | ["events"] => Call::Events,
        _ => Call::Answer,
    };
    let grace = match segments.as_slice() {
        ["containers", _, "stop" | "restart"] => uri
            .query()
            .into_iter()
            .flat_map(|q| q.split('&'))
            .find_map(|kv| kv.strip_prefix("t="))
            .and_then(|t| t.parse::<u64>().ok())
            .map_or(Duration::from_secs(10), Duration::from_secs),
        _ => Duration::ZERO,
    };
    (call, grace)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// A connection under the limits. `gap_ms` (0: no limit) is shared with
/// [`send`], which changes it once the headers are in.
struct Guarded<S> {
    io: S,
    gap_ms: Arc<AtomicU64>,
    last: Instant,
    timer: Pin<Box<Sleep>>,
    read: u64,
    max: u64,
}

impl<S> Guarded<S> {
    fn new(io: S, gap_ms: Arc<AtomicU64>, max: u64) -> Guarded<S> {
        let now = Instant::now();
        Guarded {
            io,
            gap_ms,
            last: now,
            timer: Box::pin(tokio::time::sleep_until(now)),
            read: 0,
            max,
        }
    }

    /// Called when the inner side is pending: the breach once the silence
    /// has lasted the current gap, else arms the timer to wake us then.
    fn silence(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        let gap = self.gap_ms.load(Ordering::Relaxed);
        if gap == 0 {
            return None;
        }
        let after = Duration::from_millis(gap);
        let deadline = self.last + after;
        if self.timer.deadline() != deadline {
            self.timer.as_mut().reset(deadline);
        }
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => Some(Breach::Silent { after }.into()),
            Poll::Pending => None,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let n = (buf.filled().len() - before) as u64;
                if n > 0 {
                    this.last = Instant::now();
                    this.read = this.read.saturating_add(n);
                    if this.read > this.max {
                        return Poll::Ready(Err(Breach::TooLarge { limit: this.max }.into()));
                    }
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => match this.silence(cx) {
                Some(e) => Poll::Ready(Err(e)),
                None => Poll::Pending,
            },
            ready => ready,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_write(cx, data) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    this.last = Instant::now();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Pending => match this.silence(cx) {
                Some(e) => Poll::Ready(Err(e)),
                None => Poll::Pending,
            },
            ready => ready,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// One call on a fresh connection to `endpoint`, under the limits.
pub async fn send(
    endpoint: Arc<Endpoint>,
    timeout: Duration,
    mut req: BollardRequest,
) -> Result<Response<Incoming>, BollardError> {
    let (call, grace) = classify(req.uri());
    let gap_ms = Arc::new(AtomicU64::new(millis(timeout.saturating_add(grace))));
    let max = match call {
        Call::Answer => MAX_ANSWER,
        Call::Progress | Call::Events => MAX_STREAM,
    };
    // The low-level client sends what it is given: the origin form of the
    // URI, and a Host header (HTTP/1.1 servers, the engine's too, need one).
    if let Some(authority) = req.uri().authority().cloned() {
        if let Ok(host) = hyper::header::HeaderValue::from_str(authority.as_str()) {
            req.headers_mut().entry(hyper::header::HOST).or_insert(host);
        }
    }
    if let Some(pq) = req.uri().path_and_query().cloned() {
        *req.uri_mut() = hyper::Uri::from(pq);
    }
    let silent = || BollardError::from(io::Error::from(Breach::Silent { after: timeout }));
    let res = match &*endpoint {
        Endpoint::Unix(path) => {
            let io = tokio::time::timeout(timeout, tokio::net::UnixStream::connect(path))
                .await
                .map_err(|_| silent())??;
            exchange(Guarded::new(io, gap_ms.clone(), max), req).await?
        }
        Endpoint::Tcp(addr) => {
            let io = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr.as_str()))
                .await
                .map_err(|_| silent())??;
            let _ = io.set_nodelay(true);
            exchange(Guarded::new(io, gap_ms.clone(), max), req).await?
        }
    };
    match call {
        Call::Answer => {}
        Call::Progress => gap_ms.store(millis(PROGRESS_GAP.max(timeout)), Ordering::Relaxed),
        Call::Events => gap_ms.store(0, Ordering::Relaxed),
    }
    Ok(res)
}

async fn exchange<S>(
    io: Guarded<S>,
    req: BollardRequest,
) -> Result<Response<Incoming>, BollardError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    // The connection's errors reach the caller through the response or its
    // body; upgrades carry `exec` attach streams.
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    Ok(sender.send_request(req).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_host_forms() {
        assert_eq!(
            Endpoint::parse("unix:///var/run/docker.sock"),
            Ok(Endpoint::Unix("/var/run/docker.sock".into()))
        );
        assert_eq!(
            Endpoint::parse("tcp://127.0.0.1:2376"),
            Ok(Endpoint::Tcp("127.0.0.1:2376".into()))
        );
        assert_eq!(
            Endpoint::parse("tcp://10.0.0.1"),
            Ok(Endpoint::Tcp("10.0.0.1:2375".into()))
        );
        assert_eq!(
            Endpoint::parse("http://[::1]:2375/"),
            Ok(Endpoint::Tcp("[::1]:2375".into()))
        );
        for bad in [
            "ssh://u@h",
            "unix://",
            "tcp://",
            "npipe:////./pipe/x",
            "h:1",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timeout_is_a_duration_above_zero() {
        assert_eq!(timeout_from(None), Ok(DEFAULT_TIMEOUT));
        assert_eq!(timeout_from(Some("30")), Ok(Duration::from_secs(30)));
        assert_eq!(timeout_from(Some("2m")), Ok(Duration::from_secs(120)));
        assert_eq!(timeout_from(Some("500ms")), Ok(Duration::from_millis(500)));
        assert!(timeout_from(Some("0s")).is_err());
        assert!(timeout_from(Some("soon")).is_err());
    }

    #[test]
    fn calls_are_classified_by_path() {
        let c = |u: &str| classify(&u.parse().unwrap());
        let zero = Duration::ZERO;
        assert_eq!(
            c("http://h/v1.41/containers/json?all=1"),
            (Call::Answer, zero)
        );
        assert_eq!(c("http://h/version"), (Call::Answer, zero));
        assert_eq!(c("http://h/v1.41/build?t=x"), (Call::Progress, zero));
        assert_eq!(c("/images/create?fromSrc=-"), (Call::Progress, zero));
        assert_eq!(c("/v1.41/containers/a/logs?follow=1"), (Call::Events, zero));
        assert_eq!(c("/v1.41/exec/abc/start"), (Call::Events, zero));
        // A container's start answers at once; a stop after its grace time.
        assert_eq!(c("/v1.41/containers/a/start"), (Call::Answer, zero));
        assert_eq!(
            c("/v1.41/containers/a/stop?t=30"),
            (Call::Answer, Duration::from_secs(30))
        );
        assert_eq!(
            c("/v1.41/containers/a/stop"),
            (Call::Answer, Duration::from_secs(10))
        );
    }

    /// A server that writes `head` then `endless` bytes, or stalls.
    async fn serve(head: &'static [u8], endless: bool) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    let _ = s.write_all(head).await;
                    let chunk = format!("{:x}\r\n{}\r\n", 8192, "x".repeat(8192));
                    while endless && s.write_all(chunk.as_bytes()).await.is_ok() {}
                    tokio::time::sleep(Duration::from_secs(60)).await;
                });
            }
        });
        addr
    }

    async fn body_of(addr: String, path: &str, timeout: Duration) -> Result<u64, Breach> {
        use http_body_util::BodyExt;
        let req = hyper::Request::get(format!("http://{addr}{path}"))
            .body(bollard::body_full(Default::default()))
            .unwrap();
        let endpoint = Arc::new(Endpoint::Tcp(addr));
        let err = |e: BollardError| breach_in(&e).expect("a breach");
        let res = send(endpoint, timeout, req).await.map_err(err)?;
        let mut body = res.into_body();
        let mut n = 0u64;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| err(e.into()))?;
            n += frame.data_ref().map_or(0, |d| d.len() as u64);
        }
        Ok(n)
    }

    const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";

    #[tokio::test]
    async fn an_endless_answer_is_cut_at_the_limit() {
        let addr = serve(CHUNKED, true).await;
        let r = body_of(addr, "/v1.41/containers/json", Duration::from_secs(5)).await;
        assert_eq!(r, Err(Breach::TooLarge { limit: MAX_ANSWER }));
    }

    #[tokio::test]
    async fn silence_before_or_after_the_headers_ends_the_call() {
        let t = Duration::from_millis(300);
        for head in [&b""[..], CHUNKED, b"HTTP/1.1 200 OK\r\n"] {
            let addr = serve(head, false).await;
            let started = std::time::Instant::now();
            let r = body_of(addr, "/version", t).await;
            assert_eq!(r, Err(Breach::Silent { after: t }));
            let took = started.elapsed();
            assert!(took >= t && took < t * 4, "{took:?}");
        }
    }

    #[tokio::test]
    async fn a_log_stream_may_be_silent_after_its_headers() {
        let addr = serve(CHUNKED, false).await;
        let t = Duration::from_millis(200);
        let read = body_of(addr, "/v1.41/containers/a/logs?follow=1", t);
        // Still reading well after the deadline: silence is not an error here.
        assert!(tokio::time::timeout(t * 5, read).await.is_err());
    }
}
