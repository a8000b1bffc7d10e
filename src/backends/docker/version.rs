//! Which Docker API version to speak, asked the way the docker CLI asks it: `HEAD /_ping`,
//! whose answer names the daemon's version in its `Api-Version` header.
//!
//! Why not bollard's own negotiation: it asks `GET /version`, and Docker 20.10 answers that by
//! starting `runc --version` and `docker-init --version` on its side (seen with
//! `perf record -e sched:sched_process_exec -a` during `chaos reality`): 10 to 20 ms of every
//! `chaos` command that talks to Docker, spent before its first request. A ping starts nothing.
//! Where the ping gives no version (an old daemon or a proxy that drops the header), bollard's
//! negotiation is used as before.

use std::time::Duration;

use bollard::{API_DEFAULT_VERSION, ClientVersion, Docker};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long the ping may take before bollard's negotiation is tried instead.
const PING_TIMEOUT: Duration = Duration::from_secs(5);
/// The request timeout bollard's local defaults use, in seconds.
const REQUEST_TIMEOUT_SECS: u64 = 120;
/// The most of a ping's answer read (its headers are a few hundred bytes).
const MAX_ANSWER: u64 = 16 * 1024;

/// A client of the daemon at `socket` (`unix:///path`) speaking the version its ping names,
/// at most bollard's own; `None` when the ping names none.
pub async fn connect_pinged(socket: &str) -> Option<Docker> {
    let path = socket.strip_prefix("unix://").unwrap_or(socket);
    let version = ping(path).await?;
    Docker::connect_with_unix(socket, REQUEST_TIMEOUT_SECS, &version).ok()
}

async fn ping(path: &str) -> Option<ClientVersion> {
    let exchange = async {
        let mut stream = tokio::net::UnixStream::connect(path).await.ok()?;
        stream
            .write_all(b"HEAD /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut answer = Vec::with_capacity(1024);
        (&mut stream)
            .take(MAX_ANSWER)
            .read_to_end(&mut answer)
            .await
            .ok()?;
        Some(answer)
    };
    let answer = tokio::time::timeout(PING_TIMEOUT, exchange).await.ok()??;
    api_version(&String::from_utf8_lossy(&answer))
}

/// The version to speak after a ping answered `answer`: the daemon's `Api-Version`, capped at
/// bollard's; `None` unless the answer is a 200 naming one.
fn api_version(answer: &str) -> Option<ClientVersion> {
    let mut lines = answer.split("\r\n");
    let status = lines.next()?;
    if status.split_whitespace().nth(1) != Some("200") {
        return None;
    }
    let value = lines.take_while(|l| !l.is_empty()).find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("api-version")
            .then(|| value.trim())
    })?;
    let (major, minor) = value.split_once('.')?;
    let daemon = ClientVersion {
        major_version: major.parse().ok()?,
        minor_version: minor.parse().ok()?,
    };
    Some(if daemon < *API_DEFAULT_VERSION {
        daemon
    } else {
        *API_DEFAULT_VERSION
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(major: usize, minor: usize) -> ClientVersion {
        ClientVersion {
            major_version: major,
            minor_version: minor,
        }
    }

    #[test]
    fn the_daemons_version_capped_at_bollards() {
        let answer = |version: &str| {
            format!(
                "HTTP/1.1 200 OK\r\nApi-Version: {version}\r\nContent-Length: 0\r\nServer: Docker/20.10.24 (linux)\r\n\r\n"
            )
        };
        assert_eq!(api_version(&answer("1.41")), Some(v(1, 41)));
        assert_eq!(api_version(&answer("1.99")), Some(*API_DEFAULT_VERSION));
        // Header names are case-insensitive.
        let lower = "HTTP/1.1 200 OK\r\napi-version: 1.43\r\n\r\n";
        assert_eq!(api_version(lower), Some(v(1, 43)));
    }

    #[test]
    fn no_version_without_a_200_naming_one() {
        assert_eq!(api_version("HTTP/1.1 200 OK\r\nServer: x\r\n\r\n"), None);
        assert_eq!(
            api_version("HTTP/1.1 404 Not Found\r\nApi-Version: 1.41\r\n\r\n"),
            None
        );
        assert_eq!(
            api_version("HTTP/1.1 200 OK\r\nApi-Version: one\r\n\r\n"),
            None
        );
        // A header after the blank line is body, not a header.
        assert_eq!(
            api_version("HTTP/1.1 200 OK\r\n\r\nApi-Version: 1.41\r\n"),
            None
        );
        assert_eq!(api_version(""), None);
    }

    /// A daemon's socket that answers one ping with `answer`.
    fn daemon(answer: &'static str) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docker.sock");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 512];
            let n = s.read(&mut request).await.unwrap();
            assert!(request[..n].starts_with(b"HEAD /_ping HTTP/1.1\r\n"));
            s.write_all(answer.as_bytes()).await.unwrap();
        });
        let socket = format!("unix://{}", path.display());
        (dir, socket)
    }

    #[tokio::test]
    async fn a_client_at_the_version_the_ping_names() {
        let (_dir, socket) = daemon("HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\n\r\n");
        let docker = connect_pinged(&socket).await.unwrap();
        assert_eq!(docker.client_version(), v(1, 41));
    }

    #[tokio::test]
    async fn none_when_the_ping_names_no_version_or_nobody_answers() {
        let (_dir, socket) = daemon("HTTP/1.1 500 Internal Server Error\r\n\r\n");
        assert!(connect_pinged(&socket).await.is_none());
        assert!(
            connect_pinged("unix:///nonexistent/docker.sock")
                .await
                .is_none()
        );
    }
}
