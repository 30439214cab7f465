//! A small HTTP/1.1 build-cache server on loopback, the protocol Gradle's `HttpBuildCache`
//! speaks: `GET /cache/<key>` answers 200 with the entry or 404, `PUT /cache/<key>` stores the
//! body. Every request waits the injected latency before its answer, and response bodies are
//! paced to the injected bandwidth. One thread per connection; the server stops when dropped.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The server's shared state.
struct Shared {
    entries: Mutex<HashMap<String, Arc<Vec<u8>>>>,
    latency: Duration,
    bytes_per_s: f64,
    stop: AtomicBool,
}

/// A running cache server.
pub(super) struct CacheServer {
    addr: std::net::SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl CacheServer {
    /// Starts a server on an ephemeral loopback port.
    pub(super) fn start(latency_ms: f64, bandwidth_mb_per_s: f64) -> std::io::Result<CacheServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            entries: Mutex::new(HashMap::new()),
            latency: Duration::from_secs_f64(latency_ms / 1000.0),
            bytes_per_s: bandwidth_mb_per_s * 1e6,
            stop: AtomicBool::new(false),
        });
        let s = Arc::clone(&shared);
        let accept = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(c) = conn {
                    let s = Arc::clone(&s);
                    std::thread::spawn(move || {
                        let _ = serve(c, &s);
                    });
                }
            }
        });
        Ok(CacheServer {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// Entries stored.
    pub(super) fn len(&self) -> usize {
        self.shared.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    /// Forgets every entry.
    pub(super) fn clear(&self) {
        if let Ok(mut e) = self.shared.entries.lock() {
            e.clear();
        }
    }

    /// A client for this server.
    pub(super) fn client(&self) -> Client {
        Client { addr: self.addr }
    }
}

impl Drop for CacheServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(self.addr);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn serve(conn: TcpStream, s: &Shared) -> std::io::Result<()> {
    conn.set_nodelay(true)?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut out = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            reader.read_line(&mut h)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let key = path.strip_prefix("/cache/").unwrap_or("").to_string();
        std::thread::sleep(s.latency);
        match method {
            "GET" => {
                let entry = s.entries.lock().ok().and_then(|e| e.get(&key).cloned());
                match entry {
                    Some(body) => {
                        write!(
                            out,
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                            body.len()
                        )?;
                        paced_write(&mut out, &body, s.bytes_per_s)?;
                    }
                    None => {
                        out.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")?
                    }
                }
            }
            "PUT" => {
                let mut body = vec![0; length];
                reader.read_exact(&mut body)?;
                if let Ok(mut e) = s.entries.lock() {
                    e.insert(key, Arc::new(body));
                }
                out.write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")?;
            }
            _ => out.write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")?,
        }
        out.flush()?;
    }
}

/// Writes `body` in 64 KiB chunks, each no earlier than the bandwidth allows.
fn paced_write(out: &mut TcpStream, body: &[u8], bytes_per_s: f64) -> std::io::Result<()> {
    let start = Instant::now();
    let mut sent = 0usize;
    for chunk in body.chunks(64 * 1024) {
        out.write_all(chunk)?;
        sent += chunk.len();
        let due = Duration::from_secs_f64(sent as f64 / bytes_per_s);
        let elapsed = start.elapsed();
        if due > elapsed {
            std::thread::sleep(due - elapsed);
        }
    }
    Ok(())
}

/// A client keeping one connection (HTTP keep-alive, as Gradle's client does).
#[derive(Clone, Copy)]
pub(super) struct Client {
    addr: std::net::SocketAddr,
}

/// One open connection.
pub(super) struct Connection {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    /// Opens a connection.
    pub(super) fn connect(&self) -> std::io::Result<Connection> {
        let c = TcpStream::connect(self.addr)?;
        c.set_nodelay(true)?;
        Ok(Connection {
            reader: BufReader::new(c.try_clone()?),
            writer: c,
        })
    }
}

impl Connection {
    fn response(&mut self) -> std::io::Result<(u16, Vec<u8>)> {
        let mut status = String::new();
        self.reader.read_line(&mut status)?;
        let code: u16 = status
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line `{status}`")))?;
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            self.reader.read_line(&mut h)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body)?;
        Ok((code, body))
    }

    /// `GET /cache/<key>`: the entry, or `None` on 404.
    pub(super) fn get(&mut self, key: &str) -> std::io::Result<Option<Vec<u8>>> {
        write!(
            self.writer,
            "GET /cache/{key} HTTP/1.1\r\nHost: cache\r\n\r\n"
        )?;
        let (code, body) = self.response()?;
        Ok((code == 200).then_some(body))
    }

    /// `PUT /cache/<key>` with `body`.
    pub(super) fn put(&mut self, key: &str, body: &[u8]) -> std::io::Result<()> {
        write!(
            self.writer,
            "PUT /cache/{key} HTTP/1.1\r\nHost: cache\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )?;
        self.writer.write_all(body)?;
        let (code, _) = self.response()?;
        if code / 100 == 2 {
            Ok(())
        } else {
            Err(std::io::Error::other(format!("PUT answered {code}")))
        }
    }

    /// Closes the connection.
    pub(super) fn close(self) {
        let _ = self.writer.shutdown(Shutdown::Both);
    }
}
