//! What the lab's port answers, asked once the way a person would (a
//! pooled reqwest client: readiness and status want no timing precision;
//! the probe has its own sockets for that).

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::lab::Lab;
use crate::probe::Credit;

/// What the lab's client address ([`url`]) answered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProxyAnswer {
    pub status: Option<u16>,
    /// The node whose page came back; in the production shape the load
    /// balancer its `X-Halab-LB` header names.
    pub node: Option<String>,
    /// Production shape: the web server whose page came back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// The body (cut) when it is no node's page.
    pub body: Option<String>,
    pub error: Option<String>,
}

impl ProxyAnswer {
    /// HTTP 200 with the page of `node`.
    pub fn is_page_of(&self, node: &str) -> bool {
        self.status == Some(200) && self.node.as_deref() == Some(node)
    }

    fn failed(error: String) -> ProxyAnswer {
        ProxyAnswer {
            error: Some(error),
            ..ProxyAnswer::default()
        }
    }

    /// An answer with `status`, `X-Halab-LB` value `lb` and `body`,
    /// credited as [`Credit::who`] says.
    fn of(status: u16, lb: Option<&str>, body: &str, credit: &Credit) -> ProxyAnswer {
        let (node, backend) = credit.who(lb, body);
        ProxyAnswer {
            status: Some(status),
            body: node.is_none().then(|| body.chars().take(200).collect()),
            node,
            backend,
            error: None,
        }
    }
}

impl fmt::Display for ProxyAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.status, &self.node, &self.error) {
            (_, _, Some(e)) => write!(f, "no answer ({e})"),
            (Some(s), Some(n), _) => match &self.backend {
                Some(b) => write!(f, "{s} with the page of {b} through {n}"),
                None => write!(f, "{s} with the page of {n}"),
            },
            (Some(s), None, _) => write!(
                f,
                "{s} {}",
                self.body.as_deref().unwrap_or("").trim().replace('\n', " ")
            ),
            (None, _, None) => f.write_str("nothing"),
        }
    }
}

/// Where clients reach the lab: its front proxy published on 127.0.0.1, or
/// the VIP itself on the lab's bridge (`Lab::client_target`).
pub fn url(lab: &Lab) -> String {
    format!("http://{}/", lab.client_target())
}

/// GET the lab's [`url`] once.
pub async fn fetch(lab: &Lab, timeout: Duration) -> ProxyAnswer {
    let client = match reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .build()
    {
        Ok(c) => c,
        Err(e) => return ProxyAnswer::failed(e.to_string()),
    };
    match client.get(url(lab)).send().await {
        Err(e) => ProxyAnswer::failed(why_no_answer(&e, timeout)),
        Ok(resp) => {
            let status = resp.status().as_u16();
            let lb = resp
                .headers()
                .get(crate::lab::LB_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = String::from_utf8_lossy(&first_mib(resp).await).into_owned();
            ProxyAnswer::of(status, lb.as_deref(), &body, &Credit::of_lab(lab))
        }
    }
}

/// The body's first [`MAX_BODY`](crate::probe::MAX_BODY) bytes, as the
/// probe judges it: an endless body is not read on until the timeout.
async fn first_mib(mut resp: reqwest::Response) -> Vec<u8> {
    let max = crate::probe::MAX_BODY;
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        body.extend_from_slice(&chunk[..chunk.len().min(max - body.len())]);
        if body.len() == max {
            break;
        }
    }
    body
}

/// Why a request got no answer, in a person's words: reqwest's chain
/// ("error sending request for url (…): client error (Connect): tcp connect
/// error: Connection refused (os error 111)") says it four times.
fn why_no_answer(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("nothing within {}", humantime::format_duration(timeout));
    }
    let mut root: &dyn std::error::Error = e;
    while let Some(next) = root.source() {
        root = next;
    }
    use std::io::ErrorKind as K;
    match root.downcast_ref::<std::io::Error>().map(|io| io.kind()) {
        Some(K::ConnectionRefused) => "connection refused".into(),
        Some(K::ConnectionReset) => "connection reset".into(),
        Some(K::TimedOut) => "connect timed out".into(),
        Some(K::UnexpectedEof) => "connection closed before an answer".into(),
        _ => crate::ui::one_line(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pages() -> Credit {
        Credit::new(
            &[
                ("nginx_master".into(), "主机".into()),
                ("nginx_slave".into(), "从机".into()),
            ],
            &[],
        )
    }

    #[test]
    fn an_answer_is_credited_to_the_node_whose_page_it_is() {
        let a = ProxyAnswer::of(200, None, "<div>主机</div>", &pages());
        assert!(a.is_page_of("nginx_master"));
        assert!(!a.is_page_of("nginx_slave"));
        assert_eq!(a.body, None);
        assert_eq!(a.to_string(), "200 with the page of nginx_master");
    }

    #[test]
    fn haproxy_s_503_is_shown_with_its_body_on_one_line() {
        let body = "<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n";
        let a = ProxyAnswer::of(503, None, body, &pages());
        assert!(!a.is_page_of("nginx_master"));
        assert_eq!(
            a.to_string(),
            "503 <html><body><h1>503 Service Unavailable</h1> No server is available to handle this request. </body></html>"
        );
        let long = ProxyAnswer::of(200, None, &"x".repeat(500), &pages());
        assert_eq!(long.body.unwrap().len(), 200);
    }

    #[test]
    fn a_pair_s_answer_names_the_lb_and_the_web_server() {
        let c = Credit::new(
            &[("web1".into(), "web-one".into())],
            &[("lb1".into(), "lb1".into())],
        );
        let a = ProxyAnswer::of(200, Some("lb1"), "<div>web-one</div>", &c);
        assert!(a.is_page_of("lb1"));
        assert_eq!(a.backend.as_deref(), Some("web1"));
        assert_eq!(a.to_string(), "200 with the page of web1 through lb1");
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(
            (json["node"].as_str(), json["backend"].as_str()),
            (Some("lb1"), Some("web1"))
        );
    }

    #[test]
    fn no_answer_and_nothing_read_as_such() {
        let a = ProxyAnswer::failed("connection refused".into());
        assert_eq!(a.to_string(), "no answer (connection refused)");
        assert_eq!(ProxyAnswer::default().to_string(), "nothing");
    }

    fn seed_on(port: u16) -> Lab {
        crate::lab::load_with(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/nginx-keepalived.yaml"),
            &crate::lab::Overrides {
                port: Some(port),
                ..Default::default()
            },
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_closed_port_is_no_answer_with_its_reason() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let lab = seed_on(port);
        let a = fetch(&lab, Duration::from_secs(1)).await;
        assert_eq!(a.status, None);
        assert_eq!(a.error.as_deref(), Some("connection refused"));
    }

    /// A server that sends a body without end: the answer is judged on
    /// its first MiB, read at once, not on all it sends until the timeout.
    #[tokio::test]
    async fn an_endless_body_is_cut_at_a_mib() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 1024];
            let _ = s.read(&mut request).await;
            let head = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<div>主机</div>";
            s.write_all(head.as_bytes()).await.unwrap();
            let chunk = vec![b'x'; 64 << 10];
            while s.write_all(&chunk).await.is_ok() {}
        });
        let start = std::time::Instant::now();
        let a = fetch(&seed_on(port), Duration::from_secs(10)).await;
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        assert!(a.is_page_of("nginx_master"), "{a:?}");
    }

    #[tokio::test]
    async fn a_port_that_accepts_and_never_answers_is_nothing_within_the_timeout() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let lab = seed_on(port);
        let a = fetch(&lab, Duration::from_millis(200)).await;
        assert_eq!(a.to_string(), "no answer (nothing within 200ms)");
        drop(listener);
    }
}
