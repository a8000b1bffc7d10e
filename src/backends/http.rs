//! The HTTP client of the probes: one HTTP/1.1 request over a fresh TCP connection, answered
//! with our own types, so the engine never names hyper. A fresh connection per request is what
//! a probe wants: a sample says whether a new client could be served now, not whether a kept
//! connection survived.

use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

/// The most of a body a probe reads (enough for a pattern; a probe is not a download).
const MAX_BODY: usize = 1 << 20;

/// One request: a method, an `http://` URL, and how long it may take in all.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: &'static str,
    pub url: String,
    pub timeout: Duration,
}

/// What the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpReply {
    pub status: u16,
    /// The body as text (invalid UTF-8 replaced), at most 1 MiB of it.
    pub body: String,
}

/// Sends the request; the error says why no answer came, in words for a report (`connection
/// refused`, `timed out after 2s`).
pub async fn send(req: &HttpRequest) -> Result<HttpReply, String> {
    match tokio::time::timeout(req.timeout, exchange(req)).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "timed out after {}",
            crate::playbook::values::format_duration(req.timeout)
        )),
    }
}

async fn exchange(req: &HttpRequest) -> Result<HttpReply, String> {
    let uri: hyper::Uri = req
        .url
        .parse()
        .map_err(|e| format!("invalid URL `{}`: {e}", req.url))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!("not an http:// URL: `{}`", req.url));
    }
    let authority = uri
        .authority()
        .ok_or_else(|| format!("no host in `{}`", req.url))?
        .clone();
    let port = authority.port_u16().unwrap_or(80);
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let stream = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| connect_error(&e))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    // The connection is driven beside the request and ends with it (this request is its only one).
    let driver = tokio::spawn(conn);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let request = hyper::Request::builder()
        .method(req.method)
        .uri(path)
        .header(hyper::header::HOST, authority.as_str())
        .header(hyper::header::USER_AGENT, "kind-chaos-probe")
        .header(hyper::header::CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("building the request: {e}"))?;
    let result = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("no answer: {e}"))?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| format!("reading the body: {e}"))?
            .to_bytes();
        Ok(HttpReply {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
    .await;
    drop(sender);
    driver.abort();
    result
}

/// `connection refused` rather than `Connection refused (os error 111)`.
fn connect_error(e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::ConnectionRefused => "connection refused".into(),
        ErrorKind::ConnectionReset => "connection reset".into(),
        ErrorKind::TimedOut => "connect timed out".into(),
        _ => format!("connect: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server that answers one request with `response`, then closes.
    async fn serve_once(response: &'static str) -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            s.write_all(response.as_bytes()).await.unwrap();
            s.shutdown().await.unwrap();
        });
        port
    }

    fn get(port: u16) -> HttpRequest {
        HttpRequest {
            method: "GET",
            url: format!("http://127.0.0.1:{port}/healthz"),
            timeout: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn a_reply_gives_its_status_and_body() {
        let port =
            serve_once("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\n\r\ndown").await;
        let reply = send(&get(port)).await.unwrap();
        assert_eq!(
            reply,
            HttpReply {
                status: 503,
                body: "down".into()
            }
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_connection_refused() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        assert_eq!(send(&get(port)).await.unwrap_err(), "connection refused");
    }

    #[tokio::test]
    async fn a_server_that_never_answers_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut req = get(port);
        req.timeout = Duration::from_millis(200);
        assert_eq!(send(&req).await.unwrap_err(), "timed out after 200ms");
        drop(listener);
    }
}
