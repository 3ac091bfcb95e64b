//! The load generator of `make bench-scale` (server/bench/scale.sh): real HTTP against running
//! servers, each measurement printed as one JSON line. Not part of the product.
//!
//! ```text
//! scale effective BASE TOKEN USERS_FILE SECONDS CONNECTIONS
//! scale replica-lag WRITER READER TOKEN TENANT USER KEY COUNT
//! scale watch-fanout BASE TOKEN USERS_FILE STREAMS TENANT KEY PID
//! scale mixed BASE TOKEN USERS_FILE SECONDS READERS TENANT KEY
//! ```
//! `USERS_FILE` holds one user id per line (random users are drawn from it); `PID` is the
//! server's, whose resident memory is read before and after the streams open.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use serde_json::json;

type Error = Box<dyn std::error::Error + Send + Sync>;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A small deterministic generator (xorshift): no dependency for random picks.
struct Picks(u64);

impl Picks {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn client(connections: usize) -> Result<Client, Error> {
    Ok(Client::builder()
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(10))
        .build()?)
}

fn users(path: &str) -> Result<Arc<Vec<String>>, Error> {
    Ok(Arc::new(
        std::fs::read_to_string(path)?
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
    ))
}

fn rss_kib(pid: &str) -> Result<u64, Error> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or("no VmRSS")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .ok_or("no VmRSS value")?
        .parse()?)
}

/// Closed-loop GETs of `url_of(i)` on `connections` connections for `seconds`: requests per
/// second, latency percentiles, and how many failed or timed out.
async fn hammer(
    http: &Client,
    token: &str,
    connections: usize,
    seconds: u64,
    url_of: Arc<dyn Fn(&mut Picks) -> String + Send + Sync>,
) -> (f64, Vec<f64>, u64) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let failures = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..connections {
        let (http, token, url_of, failures) = (
            http.clone(),
            token.to_owned(),
            url_of.clone(),
            failures.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut picks = Picks(0x9e37_79b9_7f4a_7c15 ^ (c as u64 + 1));
            let mut timings = Vec::new();
            while Instant::now() < deadline {
                let url = url_of(&mut picks);
                let started = Instant::now();
                let ok = match http.get(&url).bearer_auth(&token).send().await {
                    Ok(response) => {
                        response.status() == StatusCode::OK && response.bytes().await.is_ok()
                    }
                    Err(_) => false,
                };
                if ok {
                    timings.push(ms(started.elapsed()));
                } else {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
            timings
        }));
    }
    let started = Instant::now();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap_or_default());
    }
    let rate = all.len() as f64 / started.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    (rate, all, failures.load(Ordering::Relaxed))
}

/// `/effective` for random users against `/healthz`, in the same run.
async fn effective(args: &[String]) -> Result<(), Error> {
    let [base, token, users_file, seconds, connections] = args else {
        return Err("effective BASE TOKEN USERS_FILE SECONDS CONNECTIONS".into());
    };
    let (seconds, connections): (u64, usize) = (seconds.parse()?, connections.parse()?);
    let users = users(users_file)?;
    let http = client(connections)?;
    let health = format!("{base}/healthz");
    let (healthz, _, healthz_failed) = hammer(
        &http,
        token,
        connections,
        seconds,
        Arc::new(move |_| health.clone()),
    )
    .await;
    let base = base.clone();
    let (effective, timings, failed) = hammer(
        &http,
        token,
        connections,
        seconds,
        Arc::new(move |picks| {
            format!(
                "{base}/api/v1/effective?user={}",
                users[picks.next(users.len())]
            )
        }),
    )
    .await;
    println!(
        "{}",
        json!({"measure": "effective_vs_healthz", "healthz_rps": round(healthz), "effective_rps": round(effective),
            "ratio": round(effective / healthz), "effective_p50_ms": round(percentile(&timings, 0.5)),
            "effective_p99_ms": round(percentile(&timings, 0.99)), "failed": failed + healthz_failed})
    );
    Ok(())
}

/// An open `/watch` stream, read for its events' ids.
struct Watch {
    response: reqwest::Response,
    buffer: String,
}

impl Watch {
    async fn open(http: &Client, base: &str, token: &str, query: &str) -> Result<Watch, Error> {
        let response = http
            .get(format!("{base}/api/v1/watch?{query}"))
            .bearer_auth(token)
            .timeout(Duration::from_secs(3600))
            .send()
            .await?;
        if response.status() != StatusCode::OK {
            return Err(format!("watch answered {}", response.status()).into());
        }
        Ok(Watch {
            response,
            buffer: String::new(),
        })
    }

    /// The next event's name and id.
    async fn next(&mut self) -> Result<(String, u64), Error> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = None;
                let mut id = None;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event: ") {
                        event = Some(v.to_owned());
                    } else if let Some(v) = line.strip_prefix("id: ") {
                        id = v.parse().ok();
                    }
                }
                if let (Some(event), Some(id)) = (event, id) {
                    return Ok((event, id));
                }
                continue;
            }
            let chunk = self.response.chunk().await?.ok_or("the stream ended")?;
            self.buffer.push_str(std::str::from_utf8(&chunk)?);
        }
    }
}

async fn put(
    http: &Client,
    base: &str,
    token: &str,
    key: &str,
    scope: &str,
    value: serde_json::Value,
    locked: bool,
) -> Result<Duration, Error> {
    let started = Instant::now();
    let response = http
        .put(format!("{base}/api/v1/entries/{key}?scope={scope}"))
        .bearer_auth(token)
        .json(&json!({"value": value, "locked": locked}))
        .send()
        .await?;
    let elapsed = started.elapsed();
    if response.status() != StatusCode::OK {
        return Err(format!("write answered {}", response.status()).into());
    }
    Ok(elapsed)
}

/// A write on one replica until a watcher of the other sees it, `COUNT` times.
async fn replica_lag(args: &[String]) -> Result<(), Error> {
    let [writer, reader, token, tenant, user, key, count] = args else {
        return Err("replica-lag WRITER READER TOKEN TENANT USER KEY COUNT".into());
    };
    let count: usize = count.parse()?;
    let http = client(4)?;
    let mut watch = Watch::open(&http, reader, token, &format!("user={user}")).await?;
    watch.next().await?;
    let mut lags = Vec::new();
    for i in 0..count {
        let started = Instant::now();
        put(
            &http,
            writer,
            token,
            key,
            &format!("tenant:{tenant}"),
            json!((i % 500) as i64 + 1000),
            false,
        )
        .await?;
        let (event, _) = tokio::time::timeout(Duration::from_secs(10), watch.next())
            .await
            .map_err(|_| "the other replica never sent the change")??;
        if event != "change" {
            return Err(format!("expected a change, got {event}").into());
        }
        lags.push(ms(started.elapsed()));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    lags.sort_by(f64::total_cmp);
    println!(
        "{}",
        json!({"measure": "replica_lag", "count": count, "p50_ms": round(percentile(&lags, 0.5)),
            "p99_ms": round(percentile(&lags, 0.99)), "max_ms": round(percentile(&lags, 1.0))})
    );
    Ok(())
}

/// `STREAMS` open `/watch` streams on the users of `TENANT`: the server's memory per stream,
/// and the time for one tenant-level change to reach every stream.
async fn watch_fanout(args: &[String]) -> Result<(), Error> {
    let [base, token, users_file, streams, tenant, key, pid] = args else {
        return Err("watch-fanout BASE TOKEN USERS_FILE STREAMS TENANT KEY PID".into());
    };
    let streams: usize = streams.parse()?;
    let users = users(users_file)?;
    let http = client(streams + 4)?;
    let before = rss_kib(pid)?;
    let mut watches = Vec::new();
    for i in 0..streams {
        let user = &users[i % users.len()];
        let mut watch = Watch::open(&http, base, token, &format!("user={user}")).await?;
        watch.next().await?;
        watches.push(watch);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_kib(pid)?;
    let started = Instant::now();
    let mut arrivals = Vec::new();
    for mut watch in watches {
        arrivals.push(tokio::spawn(async move {
            tokio::time::timeout(Duration::from_secs(30), watch.next())
                .await
                .ok()
                .and_then(Result::ok)
                .map(|_| started.elapsed())
        }));
    }
    put(
        &http,
        base,
        token,
        key,
        &format!("tenant:{tenant}"),
        json!(4242),
        // Locked, so it reaches every user of the tenant, however they override the key.
        true,
    )
    .await?;
    let mut reached = Vec::new();
    for arrival in arrivals {
        if let Ok(Some(at)) = arrival.await {
            reached.push(ms(at));
        }
    }
    reached.sort_by(f64::total_cmp);
    println!(
        "{}",
        json!({"measure": "watch_fanout", "streams": streams, "reached": reached.len(),
            "rss_before_mib": before / 1024, "rss_after_mib": after / 1024,
            "kib_per_stream": round(after.saturating_sub(before) as f64 / streams as f64),
            "all_reached_ms": round(percentile(&reached, 1.0)), "p50_ms": round(percentile(&reached, 0.5))})
    );
    Ok(())
}

/// `READERS` connections reading `/effective` for random users while one client writes every
/// 50 ms.
async fn mixed(args: &[String]) -> Result<(), Error> {
    let [base, token, users_file, seconds, readers, tenant, key] = args else {
        return Err("mixed BASE TOKEN USERS_FILE SECONDS READERS TENANT KEY".into());
    };
    let (seconds, readers): (u64, usize) = (seconds.parse()?, readers.parse()?);
    let users = users(users_file)?;
    let http = client(readers)?;
    let stop = Arc::new(AtomicBool::new(false));
    // The writer is another application: its own thread, runtime and connection, so what it
    // measures is the server's answer, not a turn in this generator's queue of 1,000 readers.
    let writer = {
        let (base, token, key, stop) = (base.clone(), token.clone(), key.clone(), stop.clone());
        let scope = format!("tenant:{tenant}");
        std::thread::spawn(move || -> Result<(Vec<f64>, u64), String> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async move {
                let http = client(1).map_err(|e| e.to_string())?;
                let mut ticks = tokio::time::interval(Duration::from_millis(50));
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                let (mut timings, mut failed, mut n) = (Vec::new(), 0u64, 0i64);
                while !stop.load(Ordering::Relaxed) {
                    ticks.tick().await;
                    n += 1;
                    match put(&http, &base, &token, &key, &scope, json!(n % 1000), false).await {
                        Ok(took) => timings.push(ms(took)),
                        Err(_) => failed += 1,
                    }
                }
                Ok((timings, failed))
            })
        })
    };
    let read_base = base.clone();
    let (rate, reads, read_failed) = hammer(
        &http,
        token,
        readers,
        seconds,
        Arc::new(move |picks| {
            format!(
                "{read_base}/api/v1/effective?user={}",
                users[picks.next(users.len())]
            )
        }),
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    let (mut writes, write_failed) = writer.join().map_err(|_| "the writer panicked")??;
    writes.sort_by(f64::total_cmp);
    println!(
        "{}",
        json!({"measure": "readers_with_writes", "readers": readers, "seconds": seconds,
            "reads_rps": round(rate), "read_p50_ms": round(percentile(&reads, 0.5)),
            "read_p99_ms": round(percentile(&reads, 0.99)), "read_failures": read_failed,
            "writes": writes.len(), "writes_expected": seconds * 20, "write_failures": write_failed,
            "write_p50_ms": round(percentile(&writes, 0.5)), "write_p99_ms": round(percentile(&writes, 0.99))})
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        return Err("usage: scale effective|replica-lag|watch-fanout|mixed ...".into());
    };
    match command.as_str() {
        "effective" => effective(rest).await,
        "replica-lag" => replica_lag(rest).await,
        "watch-fanout" => watch_fanout(rest).await,
        "mixed" => mixed(rest).await,
        other => Err(format!("unknown measurement {other}").into()),
    }
}
