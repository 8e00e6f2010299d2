//! What the lab's port answers, asked once the way a person would (a
//! pooled reqwest client: readiness and status want no timing precision;
//! the probe has its own sockets for that).

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::lab::Lab;
use crate::probe::Pages;

/// What `http://127.0.0.1:<port>/` answered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProxyAnswer {
    pub status: Option<u16>,
    /// The node whose page came back.
    pub node: Option<String>,
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

    /// An answer with `status` and `body`, credited to the node whose page
    /// `body` is.
    fn of(status: u16, body: &str, pages: &Pages) -> ProxyAnswer {
        let node = pages.node_of(body).map(str::to_string);
        ProxyAnswer {
            status: Some(status),
            body: node.is_none().then(|| body.chars().take(200).collect()),
            node,
            error: None,
        }
    }
}

impl fmt::Display for ProxyAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.status, &self.node, &self.error) {
            (_, _, Some(e)) => write!(f, "no answer ({e})"),
            (Some(s), Some(n), _) => write!(f, "{s} with the page of {n}"),
            (Some(s), None, _) => write!(
                f,
                "{s} {}",
                self.body.as_deref().unwrap_or("").trim().replace('\n', " ")
            ),
            (None, _, None) => f.write_str("nothing"),
        }
    }
}

/// The URL the lab's proxy is published on.
pub fn url(port: u16) -> String {
    format!("http://127.0.0.1:{port}/")
}

/// GET http://127.0.0.1:<port>/ once.
pub async fn fetch(port: u16, lab: &Lab, timeout: Duration) -> ProxyAnswer {
    let client = match reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .build()
    {
        Ok(c) => c,
        Err(e) => return ProxyAnswer::failed(e.to_string()),
    };
    match client.get(url(port)).send().await {
        Err(e) => ProxyAnswer::failed(crate::ui::one_line(&e)),
        Ok(resp) => {
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            let pages = Pages::new(&crate::render::page_markers(lab));
            ProxyAnswer::of(status, &body, &pages)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pages() -> Pages {
        Pages::new(&[
            ("nginx_master".into(), "主机".into()),
            ("nginx_slave".into(), "从机".into()),
        ])
    }

    #[test]
    fn an_answer_is_credited_to_the_node_whose_page_it_is() {
        let a = ProxyAnswer::of(200, "<div>主机</div>", &pages());
        assert!(a.is_page_of("nginx_master"));
        assert!(!a.is_page_of("nginx_slave"));
        assert_eq!(a.body, None);
        assert_eq!(a.to_string(), "200 with the page of nginx_master");
    }

    #[test]
    fn haproxy_s_503_is_shown_with_its_body_on_one_line() {
        let body = "<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n";
        let a = ProxyAnswer::of(503, body, &pages());
        assert!(!a.is_page_of("nginx_master"));
        assert_eq!(
            a.to_string(),
            "503 <html><body><h1>503 Service Unavailable</h1> No server is available to handle this request. </body></html>"
        );
        let long = ProxyAnswer::of(200, &"x".repeat(500), &pages());
        assert_eq!(long.body.unwrap().len(), 200);
    }

    #[test]
    fn no_answer_and_nothing_read_as_such() {
        let a = ProxyAnswer::failed("connection refused".into());
        assert_eq!(a.to_string(), "no answer (connection refused)");
        assert_eq!(ProxyAnswer::default().to_string(), "nothing");
    }

    #[tokio::test]
    async fn a_closed_port_is_no_answer_with_its_reason() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let lab = crate::lab::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/nginx-keepalived.yaml"),
        )
        .unwrap();
        let a = fetch(port, &lab, Duration::from_secs(1)).await;
        assert_eq!(a.status, None);
        let e = a.error.unwrap();
        assert!(e.contains("onnection refused"), "{e}");
    }
}
