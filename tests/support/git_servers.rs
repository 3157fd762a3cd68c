//! Real Git servers on 127.0.0.1 for integration tests: `git daemon` (git://) and
//! `git http-backend` run as a CGI behind a small std-only HTTP/1.1 server with basic auth.
//! Both stop when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// A port that was free a moment ago (bind to port 0, read it, release it).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Where git keeps its helper programs (`git --exec-path`).
fn git_exec_path() -> PathBuf {
    let out = Command::new("git").arg("--exec-path").output().unwrap();
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// `git daemon` serving every repository under a base directory, read-only.
pub struct GitDaemon {
    child: Option<Child>,
    port: u16,
}

impl GitDaemon {
    /// Starts the daemon on a free port and waits until it accepts connections.
    pub fn start(base: &Path) -> GitDaemon {
        for _attempt in 0..5 {
            let port = free_port();
            // `git daemon` would fork `git-daemon` and killing it would leave that running.
            let mut child = Command::new(git_exec_path().join("git-daemon"))
                .arg("--reuseaddr")
                .arg(format!("--base-path={}", base.display()))
                .arg("--export-all")
                .arg("--listen=127.0.0.1")
                .arg(format!("--port={port}"))
                .arg(base)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn git daemon");
            let deadline = Instant::now() + Duration::from_secs(10);
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            loop {
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return GitDaemon {
                        child: Some(child),
                        port,
                    };
                }
                if child.try_wait().unwrap().is_some() {
                    break; // lost the port to someone else: try another one
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("git daemon did not start listening on port {port}");
                }
                thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("could not start git daemon");
    }

    /// `git://127.0.0.1:PORT/<name>`.
    pub fn url(&self, name: &str) -> String {
        format!("git://127.0.0.1:{}/{name}", self.port)
    }

    /// Kills the daemon (connections already being served finish on their own).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An HTTP/1.1 server running `git http-backend` for every request that carries the right basic
/// credentials; one thread per connection, `Connection: close` always.
pub struct HttpGitServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    config: Arc<Config>,
    thread: Option<JoinHandle<()>>,
}

struct Config {
    project_root: PathBuf,
    backend: PathBuf,
    user: String,
    /// The whole expected `Authorization` header value.
    authorization: String,
    /// Connections accepted, and requests whose body came chunked.
    requests: AtomicUsize,
    chunked_requests: AtomicUsize,
}

impl HttpGitServer {
    /// Serves the repositories under `project_root` to `user`:`password`.
    pub fn start(project_root: &Path, user: &str, password: &str) -> HttpGitServer {
        let config = Arc::new(Config {
            project_root: project_root.to_path_buf(),
            backend: git_exec_path().join("git-http-backend"),
            user: user.to_string(),
            authorization: format!("Basic {}", base64(format!("{user}:{password}").as_bytes())),
            requests: AtomicUsize::new(0),
            chunked_requests: AtomicUsize::new(0),
        });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (stop2, config2) = (stop.clone(), config.clone());
        let thread = thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                config2.requests.fetch_add(1, Ordering::SeqCst);
                let config = config2.clone();
                thread::spawn(move || {
                    let _ = handle(stream, &config);
                });
            }
        });
        HttpGitServer {
            addr,
            stop,
            config,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT/<name>`.
    pub fn url(&self, name: &str) -> String {
        format!("http://{}/{name}", self.addr)
    }

    /// Connections accepted so far (one request each).
    pub fn requests(&self) -> usize {
        self.config.requests.load(Ordering::SeqCst)
    }

    /// Requests so far whose body was sent with `Transfer-Encoding: chunked`.
    pub fn chunked_requests(&self) -> usize {
        self.config.chunked_requests.load(Ordering::SeqCst)
    }
}

impl Drop for HttpGitServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)); // wake accept()
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Request {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn handle(stream: TcpStream, config: &Config) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let peer = stream.peer_addr()?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    let request = read_head(&mut reader)?;
    let authorized = request.header("Authorization") == Some(config.authorization.as_str());
    if authorized
        && request
            .header("Expect")
            .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let body = read_body(&mut reader, &request)?;
    if request.header("Transfer-Encoding").is_some() {
        config.chunked_requests.fetch_add(1, Ordering::SeqCst);
    }
    let response = if authorized {
        run_backend(config, &request, &body, &peer)?
    } else {
        b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\n\
          Content-Length: 0\r\nConnection: close\r\n\r\n"
            .to_vec()
    };
    out.write_all(&response)?;
    out.flush()?;
    out.shutdown(Shutdown::Both)
}

fn read_line(reader: &mut impl BufRead) -> std::io::Result<String> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn read_head(reader: &mut impl BufRead) -> std::io::Result<Request> {
    let line = read_line(reader)?;
    let mut parts = line.split(' ');
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader)?;
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    Ok(Request {
        method,
        path: path.to_string(),
        query: query.to_string(),
        headers,
    })
}

/// The request body, from `Content-Length` or `Transfer-Encoding: chunked`.
fn read_body(reader: &mut impl BufRead, request: &Request) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    if request
        .header("Transfer-Encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let size_line = read_line(reader)?;
            let size = size_line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size, 16)
                .map_err(|_| std::io::Error::other(format!("bad chunk size {size_line:?}")))?;
            if size == 0 {
                while !read_line(reader)?.is_empty() {} // trailers
                return Ok(body);
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..])?;
            read_line(reader)?; // CRLF after the chunk
        }
    }
    if let Some(len) = request.header("Content-Length") {
        let len: usize = len.parse().map_err(std::io::Error::other)?;
        body.resize(len, 0);
        reader.read_exact(&mut body)?;
    }
    Ok(body)
}

/// Runs `git http-backend` as a CGI and turns its output into an HTTP response.
fn run_backend(
    config: &Config,
    request: &Request,
    body: &[u8],
    peer: &SocketAddr,
) -> std::io::Result<Vec<u8>> {
    let mut command = Command::new(&config.backend);
    for var in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_CONFIG_PARAMETERS",
    ] {
        command.env_remove(var);
    }
    command
        .env("GIT_PROJECT_ROOT", &config.project_root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("SERVER_PROTOCOL", "HTTP/1.1")
        .env("REQUEST_METHOD", &request.method)
        .env("PATH_INFO", &request.path)
        .env("QUERY_STRING", &request.query)
        .env("CONTENT_TYPE", request.header("Content-Type").unwrap_or(""))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_USER", &config.user)
        .env("REMOTE_ADDR", peer.ip().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(protocol) = request.header("Git-Protocol") {
        command.env("GIT_PROTOCOL", protocol);
    }
    if let Some(encoding) = request.header("Content-Encoding") {
        command.env("HTTP_CONTENT_ENCODING", encoding);
    }
    let mut child = command.spawn()?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let body = body.to_vec();
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(&body); // dropping stdin closes it
    });
    let mut output = Vec::new();
    child
        .stdout
        .take()
        .expect("piped stdout")
        .read_to_end(&mut output)?;
    child.wait()?;
    let _ = writer.join();
    Ok(cgi_to_http(&output))
}

/// CGI output (`Status:` and other headers, a blank line, the body) as an HTTP response.
fn cgi_to_http(output: &[u8]) -> Vec<u8> {
    let (head_end, body_start) = match find(output, b"\r\n\r\n") {
        Some(i) => (i, i + 4),
        None => find(output, b"\n\n").map_or((output.len(), output.len()), |i| (i, i + 2)),
    };
    let head = String::from_utf8_lossy(&output[..head_end]);
    let mut status = "200 OK".to_string();
    let mut headers = String::new();
    for line in head.lines().filter(|l| !l.is_empty()) {
        match line.split_once(':') {
            Some((name, value)) if name.eq_ignore_ascii_case("Status") => {
                status = value.trim().to_string()
            }
            _ => headers.push_str(&format!("{line}\r\n")),
        }
    }
    let body = &output[body_start.min(output.len())..];
    let mut response = format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(body);
    response
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn base64_matches_rfc4648() {
    assert_eq!(base64(b""), "");
    assert_eq!(base64(b"f"), "Zg==");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"foo"), "Zm9v");
    assert_eq!(
        base64(b"Aladdin:open sesame"),
        "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
    );
}

#[test]
fn chunked_bodies_are_decoded() {
    let request = Request {
        method: "POST".into(),
        path: "/r".into(),
        query: String::new(),
        headers: vec![("transfer-encoding".into(), "chunked".into())],
    };
    let mut raw: &[u8] = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\n";
    assert_eq!(read_body(&mut raw, &request).unwrap(), b"Wikipedia");
}

#[test]
fn cgi_status_becomes_the_status_line() {
    let out = cgi_to_http(b"Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnope");
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.starts_with("HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"),
        "{text}"
    );
    assert!(
        text.ends_with("Content-Length: 4\r\nConnection: close\r\n\r\nnope"),
        "{text}"
    );
}
