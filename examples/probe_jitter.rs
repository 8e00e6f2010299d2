//! How precisely the probe keeps its schedule, and what it adds to an answer.
//!
//! Runs the open-loop probe against a loopback server (on its own thread and
//! runtime, like a separate process would be) and prints p50/p99 of the send
//! jitter (actual start − scheduled start) and of the answer latency (start →
//! last body byte). Usage: `probe_jitter [INTERVAL] [DURATION] [URL]`, e.g.
//! `cargo run --release --example probe_jitter -- 10ms 10s`; with a URL
//! (loopback, e.g. a running lab's `http://127.0.0.1:8000/`) that is probed
//! instead, and its pages are the shipped labs' `主机`/`从机`/`从机二`.

use std::time::Duration;

use halab::probe::{collect, percentile, Probe, ProbeConfig};
use halab::timeline::Clock;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PAGE: &str = "<h1>主机</h1>\n";

fn arg(n: usize, default: &str) -> Duration {
    let text = std::env::args()
        .nth(n)
        .unwrap_or_else(|| default.to_string());
    humantime::parse_duration(&text).unwrap_or_else(|e| {
        eprintln!("error: `{text}` is not a duration ({e}); write it like `10ms` or `10s`");
        std::process::exit(2)
    })
}

/// A loopback HTTP server answering every request with `PAGE`, as nginx
/// behind HAProxy would, with its own single-threaded runtime.
fn serve() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let addr = listener.local_addr().expect("local address");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("server runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{PAGE}",
                PAGE.len()
            );
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    continue;
                };
                let answer = answer.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    let _ = stream.read(&mut buf).await;
                    let _ = stream.write_all(answer.as_bytes()).await;
                });
            }
        });
    });
    addr
}

fn show(samples: &[Duration]) -> String {
    let at = |p| percentile(samples, p).unwrap_or_default();
    format!(
        "p50 {:>9.3?}  p90 {:>9.3?}  p99 {:>9.3?}  max {:>9.3?}",
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    )
}

#[tokio::main]
async fn main() {
    let interval = arg(1, "10ms");
    let length = arg(2, "10s");
    let url = match std::env::args().nth(3) {
        Some(url) => url,
        None => format!("http://{}/", serve()),
    };
    let pages = [
        ("master", "主机"),
        ("backup", "从机"),
        ("backup2", "从机二"),
    ];
    let config = ProbeConfig {
        url: url.clone(),
        interval,
        timeout: Duration::from_secs(1),
        pages: pages
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect(),
        lbs: vec![],
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let probe = Probe::start(config, Clock::start(), tx).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(2)
    });
    tokio::time::sleep(length).await;
    let summary = probe.stop().await;
    let timeline = collect(&mut rx);
    let latency: Vec<Duration> = timeline.requests().map(|r| r.latency()).collect();
    println!(
        "probe every {interval:?} for {length:?} against {url}: {} fired ({:.1} expected), {} pages, {} failed",
        summary.fired,
        length.as_secs_f64() / interval.as_secs_f64(),
        summary.pages,
        summary.failures()
    );
    println!("send jitter  {}", show(&summary.send_jitter));
    println!("latency      {}", show(&latency));
    let mut outcomes = std::collections::BTreeMap::new();
    for r in timeline.requests() {
        *outcomes.entry(format!("{:?}", r.outcome)).or_insert(0u64) += 1;
    }
    for (outcome, count) in outcomes {
        println!("  {count:>6}  {outcome}");
    }
}
