//! Load benchmark of the HTTP API on loopback: starts `statusport serve`
//! (the release binary) on a fresh data directory, enters orders, then
//! drives it with keep-alive HTTP/1.1 connections like `wrk` does and
//! prints requests per second and latency percentiles for
//!
//! - `GET /api/orders/{id}` (a random order of those entered), and
//! - `POST /api/orders/{id}/events` (a durable event on a random order),
//! - `GET /api/orders?limit=20` (the first page of the list), and
//! - `GET /api/orders?status=order:processing&limit=20` (a status one order
//!   in 500 holds, found through the status index).
//!
//! Usage: `statusport-load [STATUSPORT_BINARY] [--seconds N]
//! [--connections N] [--orders N]`; see BENCHMARKS.md.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request};

struct Host(Child);

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Options {
    binary: PathBuf,
    seconds: u64,
    connections: usize,
    orders: u64,
}

fn options() -> anyhow::Result<Options> {
    let mut options = Options {
        binary: statusport_tests::root().join("target/release/statusport"),
        seconds: 10,
        connections: 64,
        orders: 2000,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> anyhow::Result<u64> {
            args.next()
                .and_then(|v| v.parse().ok())
                .with_context(|| format!("{name} takes a number"))
        };
        match arg.as_str() {
            "--seconds" => options.seconds = number("--seconds")?,
            "--connections" => options.connections = number("--connections")? as usize,
            "--orders" => options.orders = number("--orders")?,
            other if !other.starts_with('-') => options.binary = PathBuf::from(other),
            other => bail!("unknown option {other}"),
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = options()?;
    let root = statusport_tests::root();
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let config = dir.path().join("statusport.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = \"{}\"\nplugin_dir = \"{}\"\n[plugins]\ncache_dir = \"{}\"\n",
            dir.path().join("data").display(),
            root.join("dist/plugins").display(),
            root.join("statusport-data/compiled").display()
        ),
    )?;
    let _host = Host(
        Command::new(&options.binary)
            .args(["serve", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", options.binary.display()))?,
    );
    let addr = format!("127.0.0.1:{port}");
    let started = Instant::now();
    while tokio::net::TcpStream::connect(&addr).await.is_err() {
        if started.elapsed() > Duration::from_secs(60) {
            bail!("the host did not start");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let token = std::fs::read_to_string(dir.path().join("data/admin-token"))?
        .trim()
        .to_owned();

    // Set-up: a generic channel and the orders.
    let mut setup = Connection::open(&addr, &token).await?;
    setup
        .send(
            Method::POST,
            "/api/channels",
            Some(r#"{"id":"bench","name":"Bench","plugin":"generic"}"#.into()),
        )
        .await?;
    let mut ids = Vec::new();
    for i in 0..options.orders {
        let body = format!(
            r#"{{"channel":"bench","platform_order_id":"b-{i}","customer":"c-{}","lines":[{{"article":"A-{}","name":"Thing","quantity":1,"unit_price":"9.99 EUR"}}],"currency":"EUR","payment_method":"card"}}"#,
            i % 500,
            i % 50
        );
        let (status, text) = setup.send(Method::POST, "/api/orders", Some(body)).await?;
        if status != 201 {
            bail!("creating order {i}: {status} {text}");
        }
        let v: serde_json::Value = serde_json::from_str(&text)?;
        let id = v["id"].as_u64().context("an order id")?;
        ids.push(id);
        if i % 500 == 0 {
            let (status, text) = setup
                .send(
                    Method::POST,
                    &format!("/api/orders/{id}/status"),
                    Some(r#"{"dimension":"order","to":"processing"}"#.into()),
                )
                .await?;
            if status != 200 {
                bail!("setting order {id} to processing: {status} {text}");
            }
        }
    }
    // Order ids come from the store's one sequence, so they have gaps.
    let ids: &'static [u64] = Box::leak(ids.into_boxed_slice());
    println!(
        "host: statusport serve ({}), {} orders, {} connections, {} s per run, on {} cores",
        options.binary.display(),
        options.orders,
        options.connections,
        options.seconds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    run(
        "GET  /api/orders/{id}",
        &addr,
        &token,
        &options,
        move |_, _| {
            let id = ids[fastrand::usize(..ids.len())];
            (Method::GET, format!("/api/orders/{id}"), None)
        },
    )
    .await?;
    run(
        "POST /api/orders/{id}/events",
        &addr,
        &token,
        &options,
        move |connection, n| {
            let id = ids[fastrand::usize(..ids.len())];
            let body = format!(
                r#"{{"id":"load-{connection}-{n}","event":{{"type":"delivery_number_entered","number":"D-{n}"}}}}"#
            );
            (Method::POST, format!("/api/orders/{id}/events"), Some(body))
        },
    )
    .await?;
    run(
        "GET  /api/orders?limit=20",
        &addr,
        &token,
        &options,
        |_, _| (Method::GET, "/api/orders?limit=20".into(), None),
    )
    .await?;
    run(
        "GET  /api/orders?status=order:processing&limit=20",
        &addr,
        &token,
        &options,
        |_, _| {
            (
                Method::GET,
                "/api/orders?status=order:processing&limit=20".into(),
                None,
            )
        },
    )
    .await?;
    Ok(())
}

/// One keep-alive connection.
struct Connection {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    authorization: String,
}

impl Connection {
    async fn open(addr: &str, token: &str) -> anyhow::Result<Connection> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        Ok(Connection {
            sender,
            authorization: format!("Bearer {token}"),
        })
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> anyhow::Result<(u16, String)> {
        self.sender.ready().await?;
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost")
            .header("authorization", &self.authorization);
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let request = request.body(Full::new(Bytes::from(body.unwrap_or_default())))?;
        let response = self.sender.send_request(request).await?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
    }
}

type Plan = (Method, String, Option<String>);

/// Runs `options.connections` connections for `options.seconds`, each
/// sending the requests `next` plans, and prints the figures.
async fn run(
    name: &str,
    addr: &str,
    token: &str,
    options: &Options,
    next: impl Fn(usize, u64) -> Plan + Send + Sync + Copy + 'static,
) -> anyhow::Result<()> {
    let until = Instant::now() + Duration::from_secs(options.seconds);
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..options.connections {
        let mut connection = Connection::open(addr, token).await?;
        let errors = errors.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = 0u64;
            while Instant::now() < until {
                let (method, path, body) = next(c, n);
                n += 1;
                let sent = Instant::now();
                match connection.send(method, &path, body).await {
                    Ok((200, _)) => latencies.push(sent.elapsed()),
                    Ok(_) | Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies
        }));
    }
    let started = Instant::now();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "{name}: {:>8.0} requests/s  ({} ok, {} errors in {elapsed:.1} s)  latency p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        latencies.len() as f64 / elapsed,
        latencies.len(),
        errors.load(Ordering::Relaxed),
        at(0.50),
        at(0.99),
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
    );
    Ok(())
}
