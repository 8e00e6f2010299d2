//! How precisely the probe keeps its schedule, and what it adds to an answer.
//!
//! Runs the open-loop probe against a loopback server (on its own thread and
//! runtime, like a separate process would be) and prints p50/p99 of the send
//! jitter (actual start − scheduled start) and of the answer latency (start →
//! last body byte). Usage: `probe_jitter [INTERVAL] [DURATION]`, e.g.
//! `cargo run --release --example probe_jitter -- 10ms 10s`.

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
    let addr = serve();
    let config = ProbeConfig {
        url: format!("http://{addr}/"),
        interval,
        timeout: Duration::from_secs(1),
        pages: vec![("nginx_master".to_string(), "主机".to_string())],
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let probe = Probe::start(config, Clock::start(), tx).expect("probe starts");
    tokio::time::sleep(length).await;
    let summary = probe.stop().await;
    let timeline = collect(&mut rx);
    let latency: Vec<Duration> = timeline.requests().map(|r| r.latency()).collect();
    println!(
        "probe every {interval:?} for {length:?} against {addr}: {} fired ({:.1} expected), {} pages, {} failed",
        summary.fired,
        length.as_secs_f64() / interval.as_secs_f64(),
        summary.pages,
        summary.failures()
    );
    println!("send jitter  {}", show(&summary.send_jitter));
    println!("latency      {}", show(&latency));
}
