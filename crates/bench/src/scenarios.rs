//! The scenarios: login, resume, idle, chat, storm, muc. Each prints one JSON line on stdout
//! and a human summary on stderr.
//!
//! Who talks to whom follows the accounts' indices: chat pairs are (2p, 2p + 1), a room is
//! `size` consecutive accounts. With Causerie's school provisioning (classes of 30 from
//! the first account, `provision::School`) both stay within one class, where the default
//! rules allow the traffic and everyone is a mutual contact; changing either pairing
//! means changing the school's classes with it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;
use tokio::time::{Interval, MissedTickBehavior, sleep, sleep_until, timeout};

use crate::client::{Session, Target, login, resume};
use crate::stats::{Errors, Latencies, Procs, r3, self_cpu_s, self_rss_kib, slab_kib};
use crate::xml::{self, Event, Framer};

/// Sessions kept open (reading and discarding what the server sends) until released.
pub struct Held {
    stop: watch::Sender<bool>,
    handles: Mutex<Vec<JoinHandle<()>>>,
    /// Sessions the server closed while held.
    pub dropped: AtomicU64,
}

impl Held {
    pub fn new() -> Arc<Held> {
        Arc::new(Held {
            stop: watch::channel(false).0,
            handles: Mutex::new(Vec::new()),
            dropped: AtomicU64::new(0),
        })
    }

    pub fn hold(self: &Arc<Self>, mut s: Session) {
        let mut stop = self.stop.subscribe();
        let me = self.clone();
        let h = tokio::spawn(async move {
            s.fr = Framer::new();
            let mut buf = [0u8; 1024];
            loop {
                tokio::select! {
                    r = s.io.read(&mut buf) => match r {
                        Ok(0) | Err(_) => {
                            me.dropped.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                        Ok(_) => {}
                    },
                    _ = stop.changed() => break,
                }
            }
            s.close().await;
        });
        self.handles.lock().expect("held lock").push(h);
    }

    /// Closes every held session (bounded in time).
    pub async fn release(&self) {
        let _ = self.stop.send(true);
        let handles = std::mem::take(&mut *self.handles.lock().expect("held lock"));
        let _ = timeout(Duration::from_secs(60), async {
            for h in handles {
                let _ = h.await;
            }
        })
        .await;
    }
}

/// The outcome of many logins.
pub struct Logins {
    pub ok: u64,
    pub lat: Latencies,
    pub errors: Errors,
    pub started: Instant,
    /// When the last login finished (successfully or not).
    pub last_done: Instant,
}

impl Logins {
    fn elapsed_s(&self) -> f64 {
        (self.last_done - self.started).as_secs_f64()
    }
}

type Sink = Arc<dyn Fn(u64, Session) + Send + Sync>;

async fn one_login(target: &Target, i: u64) -> (Result<Session>, u64) {
    let t = Instant::now();
    let r = match timeout(Duration::from_secs(target.login_timeout), login(target, i)).await {
        Ok(r) => r,
        Err(_) => Err(anyhow::anyhow!("login timed out")),
    };
    (r, t.elapsed().as_micros() as u64)
}

/// Logs accounts 0..n in with at most `concurrency` logins under way.
pub async fn logins_closed(target: Arc<Target>, n: u64, concurrency: u64, sink: Sink) -> Logins {
    logins_closed_range(target, 0, n, concurrency, sink).await
}

/// [`logins_closed`] for the accounts `first..n` only.
pub async fn logins_closed_range(
    target: Arc<Target>,
    first: u64,
    n: u64,
    concurrency: u64,
    sink: Sink,
) -> Logins {
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(first));
    let mut workers = Vec::new();
    for _ in 0..concurrency.clamp(1, n.saturating_sub(first).max(1)) {
        let (target, next, sink) = (target.clone(), next.clone(), sink.clone());
        workers.push(tokio::spawn(async move {
            let mut lat = Latencies::default();
            let mut errors = Errors::default();
            let mut ok = 0;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                match one_login(&target, i).await {
                    (Ok(s), us) => {
                        lat.push_us(us);
                        ok += 1;
                        sink(i, s);
                    }
                    (Err(e), _) => errors.add(&e),
                }
            }
            (ok, lat, errors, Instant::now())
        }));
    }
    collect(started, workers).await
}

/// Starts login i at `started + i * within / n` (open loop: arrivals do not wait for
/// earlier logins to finish).
pub async fn logins_scheduled(target: Arc<Target>, n: u64, within: Duration, sink: Sink) -> Logins {
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(n as usize);
    for i in 0..n {
        let at = started + within.mul_f64(i as f64 / n.max(1) as f64);
        sleep_until(at.into()).await;
        let (target, sink) = (target.clone(), sink.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Latencies::default();
            let mut errors = Errors::default();
            let mut ok = 0;
            match one_login(&target, i).await {
                (Ok(s), us) => {
                    lat.push_us(us);
                    ok = 1;
                    sink(i, s);
                }
                (Err(e), _) => errors.add(&e),
            }
            (ok, lat, errors, Instant::now())
        }));
    }
    collect(started, tasks).await
}

async fn collect(
    started: Instant,
    tasks: Vec<JoinHandle<(u64, Latencies, Errors, Instant)>>,
) -> Logins {
    let mut out = Logins {
        ok: 0,
        lat: Latencies::default(),
        errors: Errors::default(),
        started,
        last_done: started,
    };
    for t in tasks {
        match t.await {
            Ok((ok, lat, errors, done)) => {
                out.ok += ok;
                out.lat.merge(lat);
                out.errors.merge(errors);
                out.last_done = out.last_done.max(done);
            }
            Err(e) => out.errors.add_kind(&format!("task failed: {e}")),
        }
    }
    out
}

/// The resume scenario: N sessions log in with stream management (XEP-0198), then all
/// lose their connection at once (dropped, no closing: a phone losing its network); each
/// then reconnects and resumes (TLS from a ticket with `--tls-resume`, SASL, `<resume/>`; with
/// `--fast`, one SASL2 `<authenticate/>` with the FAST token and `<resume/>` inline)
/// at a concurrency. Measured: the resumptions only (server CPU per resumption, rate,
/// latency), against the same server's full logins in the login scenario.
pub async fn run_resume(mut target: Target, procs: Procs, n: u64, concurrency: u64) -> Result<()> {
    target.sm = true;
    let target = Arc::new(target);
    let detached: Arc<Mutex<Vec<(u64, String, u64)>>> = Arc::new(Mutex::new(Vec::new()));
    let keep = detached.clone();
    let sink: Sink = Arc::new(move |i, s: Session| {
        if let Some(id) = s.sm_id.clone() {
            keep.lock().expect("detached lock").push((i, id, s.handled));
        }
        drop(s);
    });
    let first = logins_closed(target.clone(), n, concurrency, sink).await;
    // Let the server see every connection's end and detach the sessions.
    sleep(Duration::from_secs(1)).await;
    // What the first logins were (bench/instructions.sh starts counting here).
    eprintln!(
        "warm: {}/{n} first logins ({} errors)",
        first.ok, first.errors.total
    );
    let todo = Arc::new(Mutex::new(std::mem::take(
        &mut *detached.lock().expect("detached lock"),
    )));
    let resumable = todo.lock().expect("todo lock").len() as u64;
    let held = Held::new();
    let cpu0 = procs.cpu_s();
    let gen0 = self_cpu_s();
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency.clamp(1, resumable.max(1)) {
        let (target, todo, held) = (target.clone(), todo.clone(), held.clone());
        workers.push(tokio::spawn(async move {
            let (mut lat, mut errors, mut ok) = (Latencies::default(), Errors::default(), 0);
            loop {
                let Some((i, id, h)) = todo.lock().expect("todo lock").pop() else {
                    break;
                };
                let t = Instant::now();
                let limit = Duration::from_secs(target.login_timeout);
                match timeout(limit, resume(&target, i, &id, h)).await {
                    Ok(Ok(s)) => {
                        lat.push_us(t.elapsed().as_micros() as u64);
                        ok += 1;
                        held.hold(s);
                    }
                    Ok(Err(e)) => errors.add(&e),
                    Err(_) => errors.add_kind("resumption timed out"),
                }
            }
            (ok, lat, errors, Instant::now())
        }));
    }
    let mut r = collect(started, workers).await;
    let cpu = procs.cpu_s().zip(cpu0).map(|(b, a)| b - a);
    let gen_cpu = self_cpu_s() - gen0;
    held.release().await;
    let el = r.elapsed_s();
    let per = |c: f64| c * 1e6 / r.ok.max(1) as f64;
    let (p50, p99) = (r.lat.quantile_ms(0.5), r.lat.quantile_ms(0.99));
    let mut m = base("resume", &target);
    m.insert("n".into(), json!(n));
    m.insert("concurrency".into(), json!(concurrency));
    m.insert("logged_in".into(), json!(first.ok));
    m.insert("resumable".into(), json!(resumable));
    m.insert("ok".into(), json!(r.ok));
    m.insert("errors".into(), json!(r.errors.total));
    m.insert("error_kinds".into(), r.errors.json());
    m.insert("elapsed_s".into(), json!(r3(el)));
    m.insert(
        "resumes_per_s".into(),
        json!(r3(r.ok as f64 / el.max(1e-9))),
    );
    m.insert("p50_ms".into(), json!(p50));
    m.insert("p99_ms".into(), json!(p99));
    m.insert("server_cpu_s".into(), opt(cpu));
    m.insert("server_cpu_us_per_resume".into(), opt(cpu.map(per)));
    m.insert("gen_cpu_us_per_resume".into(), json!(r3(per(gen_cpu))));
    emit(
        m,
        format!(
            "resume [{}]: {}/{} sessions resumed in {:.2}s; latency p50 {:.1} ms, p99 {:.1} ms; {} errors; server CPU {} µs/resume",
            target.label,
            r.ok,
            resumable,
            el,
            p50,
            p99,
            r.errors.total,
            cpu.map_or("?".into(), |c| format!("{:.0}", per(c)))
        ),
    );
    Ok(())
}

fn hold_sink(held: &Arc<Held>) -> Sink {
    let held = held.clone();
    Arc::new(move |_, s| held.hold(s))
}

fn base(scenario: &str, t: &Target) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert("scenario".into(), json!(scenario));
    m.insert("server".into(), json!(t.label));
    m.insert("tls".into(), json!(format!("{:?}", t.tls).to_lowercase()));
    m.insert("mech".into(), json!(t.mech.name()));
    m.insert("sm".into(), json!(t.sm));
    m.insert("tls_resume".into(), json!(t.tls_resume));
    m.insert("fast".into(), json!(t.fast));
    m
}

fn emit(m: serde_json::Map<String, serde_json::Value>, summary: String) {
    println!("{}", serde_json::Value::Object(m));
    eprintln!("{summary}");
}

fn opt(x: Option<f64>) -> serde_json::Value {
    x.map_or(serde_json::Value::Null, |v| json!(r3(v)))
}

pub async fn run_login(target: Target, procs: Procs, n: u64, concurrency: u64) -> Result<()> {
    let target = Arc::new(target);
    if target.fast {
        // Each account's first login (SCRAM-SHA-256) asks for its FAST token; not
        // measured: the measured logins are the token logins that follow.
        let close: Sink = Arc::new(|_, s: crate::client::Session| {
            tokio::spawn(s.close());
        });
        let warm = logins_closed(target.clone(), n, concurrency, close).await;
        let with_token = (0..n).filter(|i| crate::client::has_token(*i)).count();
        eprintln!(
            "fast: {}/{n} first logins, {with_token} tokens ({} errors)",
            warm.ok, warm.errors.total
        );
        sleep(Duration::from_secs(2)).await;
    }
    let held = Held::new();
    let cpu0 = procs.cpu_s();
    let gen0 = self_cpu_s();
    let mut r = logins_closed(target.clone(), n, concurrency, hold_sink(&held)).await;
    let cpu = procs.cpu_s().zip(cpu0).map(|(b, a)| b - a);
    let gen_cpu = self_cpu_s() - gen0;
    let dropped = held.dropped.load(Ordering::Relaxed);
    held.release().await;
    let el = r.elapsed_s();
    let rate = r.ok as f64 / el.max(1e-9);
    let per_login = |c: f64| c * 1e6 / r.ok.max(1) as f64;
    let (p50, p99) = (r.lat.quantile_ms(0.5), r.lat.quantile_ms(0.99));
    let mut m = base("login", &target);
    m.insert("n".into(), json!(n));
    m.insert("concurrency".into(), json!(concurrency));
    m.insert("ok".into(), json!(r.ok));
    m.insert("errors".into(), json!(r.errors.total));
    m.insert("error_kinds".into(), r.errors.json());
    m.insert("dropped".into(), json!(dropped));
    m.insert("elapsed_s".into(), json!(r3(el)));
    m.insert("logins_per_s".into(), json!(r3(rate)));
    m.insert("p50_ms".into(), json!(p50));
    m.insert("p99_ms".into(), json!(p99));
    m.insert("max_ms".into(), json!(r.lat.max_ms()));
    m.insert("server_cpu_s".into(), opt(cpu));
    m.insert("server_cpu_us_per_login".into(), opt(cpu.map(per_login)));
    m.insert("gen_cpu_us_per_login".into(), json!(r3(per_login(gen_cpu))));
    m.insert(
        "gen_pbkdf2_derivations".into(),
        json!(crate::sasl::derivations()),
    );
    emit(
        m,
        format!(
            "login [{}]: {}/{} sessions in {:.2}s = {:.0} logins/s; latency p50 {:.1} ms, p99 {:.1} ms; {} errors; server CPU {} µs/login",
            target.label,
            r.ok,
            n,
            el,
            rate,
            p50,
            p99,
            r.errors.total,
            cpu.map_or("?".into(), |c| format!("{:.0}", per_login(c)))
        ),
    );
    Ok(())
}

pub async fn run_idle(
    target: Target,
    procs: Procs,
    n: u64,
    concurrency: u64,
    settle_secs: u64,
    idle_secs: u64,
) -> Result<()> {
    let target = Arc::new(target);
    let held = Held::new();
    let rss0 = procs.rss_kib();
    let slab0 = slab_kib();
    let self0 = self_rss_kib();
    // Two halves: the second one's growth is the cost of one more connection
    // (the marginal cost), free of what the server allocates once for all of
    // them as the first ones arrive (database page cache, pools, tables).
    let half = n / 2;
    let first = logins_closed_range(target.clone(), 0, half, concurrency, hold_sink(&held)).await;
    sleep(Duration::from_secs(settle_secs)).await;
    let rss_half = procs.rss_kib();
    let held_half = first
        .ok
        .saturating_sub(held.dropped.load(Ordering::Relaxed));
    let second = logins_closed_range(target.clone(), half, n, concurrency, hold_sink(&held)).await;
    let r = Logins {
        ok: first.ok + second.ok,
        lat: {
            let mut l = first.lat;
            l.merge(second.lat);
            l
        },
        errors: {
            let mut e = first.errors;
            e.merge(second.errors);
            e
        },
        started: first.started,
        last_done: second.last_done,
    };
    sleep(Duration::from_secs(settle_secs)).await;
    let cpu0 = procs.cpu_s();
    let t0 = Instant::now();
    sleep(Duration::from_secs(idle_secs)).await;
    let cpu = procs.cpu_s().zip(cpu0).map(|(b, a)| b - a);
    let idle_el = t0.elapsed().as_secs_f64();
    let rss1 = procs.rss_kib();
    let slab1 = slab_kib();
    let self1 = self_rss_kib();
    let dropped = held.dropped.load(Ordering::Relaxed);
    let held_n = r.ok.saturating_sub(dropped);
    let per = |a: Option<u64>, b: Option<u64>| {
        a.zip(b)
            .map(|(a, b)| (b as f64 - a as f64) / held_n.max(1) as f64)
    };
    let rss_per = per(rss0, rss1);
    let marginal = rss_half
        .zip(rss1)
        .map(|(a, b)| (b as f64 - a as f64) / held_n.saturating_sub(held_half).max(1) as f64);
    let slab_per = per(slab0, slab1);
    let gen_per = per(Some(self0), Some(self1));
    let cpu_pct = cpu.map(|c| c / idle_el * 100.0);
    held.release().await;
    let mut m = base("idle", &target);
    m.insert("n".into(), json!(n));
    m.insert("ok".into(), json!(r.ok));
    m.insert("errors".into(), json!(r.errors.total));
    m.insert("error_kinds".into(), r.errors.json());
    m.insert("dropped".into(), json!(dropped));
    m.insert("held".into(), json!(held_n));
    m.insert("server_rss_before_kib".into(), json!(rss0));
    m.insert("server_rss_after_kib".into(), json!(rss1));
    m.insert("server_kib_per_conn".into(), opt(rss_per));
    m.insert("server_rss_half_kib".into(), json!(rss_half));
    m.insert("server_kib_per_extra_conn".into(), opt(marginal));
    m.insert("kernel_slab_kib_per_conn_both_ends".into(), opt(slab_per));
    m.insert("gen_kib_per_conn".into(), opt(gen_per));
    m.insert("idle_secs".into(), json!(r3(idle_el)));
    m.insert("server_idle_cpu_pct".into(), opt(cpu_pct));
    emit(
        m,
        format!(
            "idle [{}]: {} sessions held ({} errors, {} dropped); server RSS {} KiB per connection ({} KiB per connection of the second half); kernel slab {} KiB per connection (both ends); server CPU while idle {}% of a core",
            target.label,
            held_n,
            r.errors.total,
            dropped,
            rss_per.map_or("?".into(), |v| format!("{v:.1}")),
            marginal.map_or("?".into(), |v| format!("{v:.1}")),
            slab_per.map_or("?".into(), |v| format!("{v:.1}")),
            cpu_pct.map_or("?".into(), |v| format!("{v:.2}")),
        ),
    );
    Ok(())
}

pub async fn run_storm(target: Target, procs: Procs, n: u64, within: u64) -> Result<()> {
    let target = Arc::new(target);
    let held = Held::new();
    let cpu0 = procs.cpu_s();
    let mut r = logins_scheduled(
        target.clone(),
        n,
        Duration::from_secs(within),
        hold_sink(&held),
    )
    .await;
    let cpu = procs.cpu_s().zip(cpu0).map(|(b, a)| b - a);
    let rss = procs.rss_kib();
    let dropped = held.dropped.load(Ordering::Relaxed);
    held.release().await;
    let el = r.elapsed_s();
    let (p50, p99) = (r.lat.quantile_ms(0.5), r.lat.quantile_ms(0.99));
    let mut m = base("storm", &target);
    m.insert("n".into(), json!(n));
    m.insert("within_s".into(), json!(within));
    m.insert("ok".into(), json!(r.ok));
    m.insert("errors".into(), json!(r.errors.total));
    m.insert("error_kinds".into(), r.errors.json());
    m.insert("dropped".into(), json!(dropped));
    m.insert("all_online_s".into(), json!(r3(el)));
    m.insert("p50_ms".into(), json!(p50));
    m.insert("p99_ms".into(), json!(p99));
    m.insert("max_ms".into(), json!(r.lat.max_ms()));
    m.insert("server_cpu_s".into(), opt(cpu));
    m.insert("server_rss_kib".into(), json!(rss));
    emit(
        m,
        format!(
            "storm [{}]: {}/{} online {:.2}s after the first of {} arrivals spread over {}s; {} errors; login p50 {:.1} ms, p99 {:.1} ms",
            target.label, r.ok, n, el, n, within, r.errors.total, p50, p99
        ),
    );
    Ok(())
}

/// Parameters of the chat scenario.
pub struct ChatOpts {
    pub pairs: u64,
    pub window: usize,
    pub duration: u64,
    pub warmup: u64,
    pub rate: Option<u64>,
    pub body_bytes: usize,
    pub concurrency: u64,
}

struct Plan {
    base: Instant,
    measure_from: Instant,
    measure_to: Instant,
    drain_until: Instant,
    pad: String,
    window: usize,
    period: Option<Duration>,
}

#[derive(Default)]
struct Side {
    sent: u64,
    received: u64,
    in_window: u64,
    bounced: u64,
    skipped: u64,
    lat: Latencies,
    errors: Errors,
}

pub async fn run_chat(target: Target, procs: Procs, o: ChatOpts) -> Result<()> {
    let target = Arc::new(target);
    let n = o.pairs * 2;
    let slots: Arc<Mutex<Vec<Option<Session>>>> =
        Arc::new(Mutex::new((0..n).map(|_| None).collect()));
    let sink: Sink = {
        let slots = slots.clone();
        Arc::new(move |i, s| slots.lock().expect("slots")[i as usize] = Some(s))
    };
    let logins = logins_closed(target.clone(), n, o.concurrency, sink).await;
    let mut sessions = std::mem::take(&mut *slots.lock().expect("slots"));
    let start = Instant::now() + Duration::from_millis(200);
    let plan = Arc::new(Plan {
        base: start,
        measure_from: start + Duration::from_secs(o.warmup),
        measure_to: start + Duration::from_secs(o.warmup + o.duration),
        drain_until: start + Duration::from_secs(o.warmup + o.duration + 5),
        pad: "x".repeat(o.body_bytes.saturating_sub(12)),
        window: o.window,
        period: o
            .rate
            .map(|r| Duration::from_secs_f64(n as f64 / r.max(1) as f64)),
    });
    let mut tasks = Vec::new();
    let mut pairs_ok = 0;
    // Classmates in the school provisioning (see the module's doc).
    for p in 0..o.pairs as usize {
        let (a, b) = (sessions[2 * p].take(), sessions[2 * p + 1].take());
        let (Some(a), Some(b)) = (a, b) else {
            continue;
        };
        pairs_ok += 1;
        let (wa, wb) = (
            Arc::new(Semaphore::new(o.window)),
            Arc::new(Semaphore::new(o.window)),
        );
        let (ja, jb) = (a.jid.clone(), b.jid.clone());
        tasks.push(tokio::spawn(chat_side(
            a,
            bare(&jb),
            wa.clone(),
            wb.clone(),
            plan.clone(),
        )));
        tasks.push(tokio::spawn(chat_side(b, bare(&ja), wb, wa, plan.clone())));
    }
    for s in sessions.into_iter().flatten() {
        s.close().await;
    }
    sleep_until(plan.measure_from.into()).await;
    let cpu0 = procs.cpu_s();
    let gen0 = self_cpu_s();
    sleep_until(plan.measure_to.into()).await;
    let cpu = procs.cpu_s().zip(cpu0).map(|(b, a)| b - a);
    let gen_cpu = self_cpu_s() - gen0;
    let mut total = Side::default();
    for t in tasks {
        match t.await {
            Ok(s) => {
                total.sent += s.sent;
                total.received += s.received;
                total.in_window += s.in_window;
                total.bounced += s.bounced;
                total.skipped += s.skipped;
                total.lat.merge(s.lat);
                total.errors.merge(s.errors);
            }
            Err(e) => total.errors.add_kind(&format!("task failed: {e}")),
        }
    }
    let lost = total
        .sent
        .saturating_sub(total.received)
        .saturating_sub(total.bounced);
    let d = o.duration as f64;
    let rate = total.in_window as f64 / d;
    let per_msg = |c: f64| c * 1e6 / total.in_window.max(1) as f64;
    let mut lat = total.lat;
    let (p50, p99, p999) = (
        lat.quantile_ms(0.5),
        lat.quantile_ms(0.99),
        lat.quantile_ms(0.999),
    );
    let mut m = base("chat", &target);
    m.insert("pairs".into(), json!(o.pairs));
    m.insert("pairs_ok".into(), json!(pairs_ok));
    m.insert("window".into(), json!(o.window));
    m.insert("offered_rate".into(), json!(o.rate));
    m.insert("body_bytes".into(), json!(o.body_bytes));
    m.insert("duration_s".into(), json!(o.duration));
    m.insert("login_errors".into(), json!(logins.errors.total));
    m.insert("sent".into(), json!(total.sent));
    m.insert("received".into(), json!(total.received));
    m.insert("lost".into(), json!(lost));
    m.insert("bounced".into(), json!(total.bounced));
    m.insert("skipped_window_full".into(), json!(total.skipped));
    m.insert(
        "errors".into(),
        json!(total.errors.total + logins.errors.total),
    );
    let mut kinds = total.errors;
    kinds.merge(logins.errors);
    m.insert("error_kinds".into(), kinds.json());
    m.insert("messages_per_s".into(), json!(r3(rate)));
    m.insert("p50_ms".into(), json!(p50));
    m.insert("p99_ms".into(), json!(p99));
    m.insert("p999_ms".into(), json!(p999));
    m.insert("max_ms".into(), json!(lat.max_ms()));
    m.insert("server_cpu_s".into(), opt(cpu));
    m.insert("server_cpu_us_per_msg".into(), opt(cpu.map(per_msg)));
    m.insert("gen_cpu_us_per_msg".into(), json!(r3(per_msg(gen_cpu))));
    emit(
        m,
        format!(
            "chat [{}]: {} pairs, window {}{}: {:.0} messages/s delivered over {}s; latency p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms; {} lost, {} errors; server CPU {} µs/message",
            target.label,
            pairs_ok,
            o.window,
            o.rate.map_or(String::new(), |r| format!(", offered {r}/s")),
            rate,
            o.duration,
            p50,
            p99,
            p999,
            lost,
            kinds.total,
            cpu.map_or("?".into(), |c| format!("{:.1}", per_msg(c)))
        ),
    );
    Ok(())
}

fn bare(jid: &str) -> String {
    jid.split('/').next().unwrap_or(jid).to_owned()
}

async fn tick(t: &mut Option<Interval>) {
    match t {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// The send timestamp (µs since the plan's base) at the start of a body.
fn stamp(el: &[u8]) -> Option<u64> {
    let b = el.windows(5).position(|w| w == b"<body")?;
    let gt = el[b..].iter().position(|&c| c == b'>')? + b + 1;
    let digits = el[gt..].iter().take_while(|c| c.is_ascii_digit()).count();
    std::str::from_utf8(&el[gt..gt + digits]).ok()?.parse().ok()
}

/// One side of a pair: sends to `peer` with at most `window` of its messages in
/// flight (`mine`), and reads the peer's messages (giving their slots back in
/// `theirs`), until the measurement ends and the peer's messages have drained.
async fn chat_side(
    mut s: Session,
    peer: String,
    mine: Arc<Semaphore>,
    theirs: Arc<Semaphore>,
    plan: Arc<Plan>,
) -> Side {
    let mut side = Side::default();
    let mut buf = vec![0u8; 32 * 1024];
    let mut out: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut sending = true;
    let mut seq: u64 = 0;
    let mut ticker = plan.period.map(|p| {
        let phase = p.mul_f64(rand::random::<f64>());
        let mut i = tokio::time::interval_at((plan.base + phase).into(), p);
        i.set_missed_tick_behavior(MissedTickBehavior::Burst);
        i
    });
    sleep_until(plan.base.into()).await;
    let peer_attr = xml::escape(&peer);
    loop {
        let now = Instant::now();
        if !sending
            && now > plan.measure_to + Duration::from_millis(50)
            && theirs.available_permits() >= plan.window
        {
            break;
        }
        let mut batch = 0usize;
        tokio::select! {
            biased;
            r = s.io.read(&mut buf) => {
                let n = match r {
                    Ok(0) => { side.errors.add_kind("server closed the connection"); break; }
                    Ok(n) => n,
                    Err(e) => { side.errors.add(&e.into()); break; }
                };
                if let Err(e) = s.fr.feed(&buf[..n]) { side.errors.add(&e); break; }
                let now = Instant::now();
                loop {
                    match s.fr.next() {
                        Ok(Some(Event::Element(r))) => {
                            let el = s.fr.get(r);
                            if xml::name(el) != b"message" {
                                continue;
                            }
                            if xml::attr(el, "type").as_deref() == Some("error") {
                                side.bounced += 1;
                                side.errors.add_kind("message bounced with an error");
                                mine.add_permits(1);
                                continue;
                            }
                            let Some(ts) = stamp(el) else { continue };
                            side.received += 1;
                            theirs.add_permits(1);
                            if now >= plan.measure_from && now < plan.measure_to {
                                side.in_window += 1;
                                let sent_at = plan.base + Duration::from_micros(ts);
                                side.lat.push_us(now.saturating_duration_since(sent_at).as_micros() as u64);
                            }
                        }
                        Ok(Some(Event::Close)) => { side.errors.add_kind("server closed the stream"); return side; }
                        Ok(Some(Event::Open(_))) => {}
                        Ok(None) => break,
                        Err(e) => { side.errors.add(&e); return side; }
                    }
                }
            }
            p = mine.acquire(), if sending && ticker.is_none() => {
                if let Ok(p) = p {
                    p.forget();
                    batch = 1;
                    while batch < 64 {
                        match mine.try_acquire() {
                            Ok(p) => { p.forget(); batch += 1; }
                            Err(_) => break,
                        }
                    }
                }
            }
            _ = tick(&mut ticker), if sending => {
                match mine.try_acquire() {
                    Ok(p) => { p.forget(); batch = 1; }
                    Err(_) => side.skipped += 1,
                }
            }
            _ = sleep_until(plan.measure_to.into()), if sending => sending = false,
            _ = sleep_until(plan.drain_until.into()) => break,
            _ = sleep(Duration::from_millis(20)), if !sending => {}
        }
        if batch > 0 {
            if Instant::now() >= plan.measure_to {
                mine.add_permits(batch);
                sending = false;
                continue;
            }
            out.clear();
            let ts = plan.base.elapsed().as_micros() as u64;
            for _ in 0..batch {
                seq += 1;
                out.extend_from_slice(
                    format!(
                        "<message to='{peer_attr}' type='chat' id='m{seq}'><body>{ts} {}</body></message>",
                        plan.pad
                    )
                    .as_bytes(),
                );
            }
            if let Err(e) = async {
                s.io.write_all(&out).await?;
                s.io.flush().await
            }
            .await
            {
                side.errors.add(&e.into());
                break;
            }
            side.sent += batch as u64;
        }
    }
    s.close().await;
    side
}

/// Parameters of the rooms scenario.
pub struct MucOpts {
    pub rooms: u64,
    pub size: u64,
    pub window: usize,
    pub duration: u64,
    pub warmup: u64,
    /// Messages posted per second in total (each delivered to every occupant).
    pub rate: Option<u64>,
    pub body_bytes: usize,
    pub concurrency: u64,
    pub service: String,
    /// Rooms are ROOM_PREFIX{r}@SERVICE.
    pub room_prefix: String,
    /// In each of the first FLOODERS rooms, the first occupant floods instead of posting
    /// at the offered rate: room posts and one-to-one messages to his classmates, as fast
    /// as the connection takes them. His messages are not measured; the others' latency
    /// is (issue 16: a flooding pupil does not slow his class).
    pub flooders: u64,
}

const NS_MUC: &str = "http://jabber.org/protocol/muc";

/// Waits for an element matching `pred`, skipping others.
async fn wait_for(s: &mut Session, what: &str, pred: impl Fn(&[u8]) -> bool) -> Result<Vec<u8>> {
    loop {
        let el = s.element().await?;
        if pred(&el) {
            return Ok(el);
        }
        if xml::attr(&el, "type").as_deref() == Some("error")
            && (xml::name(&el) == b"presence" || xml::name(&el) == b"iq")
        {
            anyhow::bail!("{what}: {}", String::from_utf8_lossy(&el));
        }
    }
}

fn self_presence(el: &[u8]) -> bool {
    xml::name(el) == b"presence"
        && (xml::contains(el, "code='110'") || xml::contains(el, "code=\"110\""))
}

/// Creates room `room` with `owner`, makes the others members (mediated invitations:
/// Causerie's rooms are members-only) and has everyone join.
async fn setup_room(room: &str, members: &mut [Session]) -> Result<()> {
    let (owner, rest) = members.split_first_mut().expect("a room has an owner");
    owner
        .send(format!("<presence to='{room}/n0'><x xmlns='{NS_MUC}'/></presence>").as_bytes())
        .await?;
    let el = wait_for(owner, "create the room", self_presence).await?;
    if xml::contains(&el, "code='201'") || xml::contains(&el, "code=\"201\"") {
        owner
            .send(
                format!(
                    "<iq type='set' to='{room}' id='cfg1'><query xmlns='{NS_MUC}#owner'>\
                     <x xmlns='jabber:x:data' type='submit'/></query></iq>"
                )
                .as_bytes(),
            )
            .await?;
        wait_for(owner, "configure the room", |el| {
            xml::name(el) == b"iq" && xml::attr(el, "id").as_deref() == Some("cfg1")
        })
        .await?;
    }
    let mut invites = String::new();
    for m in rest.iter() {
        invites.push_str(&format!("<invite to='{}'/>", bare(&m.jid)));
    }
    owner
        .send(
            format!(
                "<message to='{room}'><x xmlns='{NS_MUC}#user'>{invites}</x></message>\
                 <iq type='get' id='inv1'><ping xmlns='urn:xmpp:ping'/></iq>"
            )
            .as_bytes(),
        )
        .await?;
    wait_for(owner, "invite", |el| {
        xml::name(el) == b"iq" && xml::attr(el, "id").as_deref() == Some("inv1")
    })
    .await?;
    for (k, m) in rest.iter_mut().enumerate() {
        m.send(
            format!(
                "<presence to='{room}/n{}'><x xmlns='{NS_MUC}'><history maxstanzas='0'/></x></presence>",
                k + 1
            )
            .as_bytes(),
        )
        .await?;
        wait_for(m, "join the room", self_presence).await?;
    }
    Ok(())
}

pub async fn run_muc(target: Target, procs: Procs, o: MucOpts) -> Result<()> {
    let target = Arc::new(target);
    let n = o.rooms * o.size;
    let slots: Arc<Mutex<Vec<Option<Session>>>> =
        Arc::new(Mutex::new((0..n).map(|_| None).collect()));
    let sink: Sink = {
        let slots = slots.clone();
        Arc::new(move |i, s| slots.lock().expect("slots")[i as usize] = Some(s))
    };
    let logins = logins_closed(target.clone(), n, o.concurrency, sink).await;
    let sessions = std::mem::take(&mut *slots.lock().expect("slots"));
    let mut errors = Errors::default();
    errors.merge(logins.errors);
    // Rooms whose every member logged in are set up, concurrently. Room r is accounts
    // r * size.., one class of the school provisioning (see the module's doc).
    let mut setups = Vec::new();
    let mut it = sessions.into_iter();
    for r in 0..o.rooms {
        let members: Vec<Option<Session>> = it.by_ref().take(o.size as usize).collect();
        if members.iter().any(Option::is_none) {
            continue;
        }
        let mut members: Vec<Session> = members.into_iter().flatten().collect();
        let room = format!("{}{r}@{}", o.room_prefix, o.service);
        setups.push(tokio::spawn(async move {
            let r = timeout(Duration::from_secs(120), setup_room(&room, &mut members)).await;
            (room, members, r)
        }));
    }
    let mut rooms = Vec::new();
    for s in setups {
        match s.await {
            Ok((room, members, Ok(Ok(())))) => rooms.push((room, members)),
            Ok((_, members, Ok(Err(e)))) => {
                errors.add(&e.context("room setup"));
                for m in members {
                    m.close().await;
                }
            }
            Ok((_, members, Err(_))) => {
                errors.add_kind("room setup timed out");
                for m in members {
                    m.close().await;
                }
            }
            Err(e) => errors.add_kind(&format!("task failed: {e}")),
        }
    }
    let rooms_ok = rooms.len() as u64;
    let senders = rooms_ok * o.size;
    let start = Instant::now() + Duration::from_millis(300);
    let plan = Arc::new(Plan {
        base: start,
        measure_from: start + Duration::from_secs(o.warmup),
        measure_to: start + Duration::from_secs(o.warmup + o.duration),
        drain_until: start + Duration::from_secs(o.warmup + o.duration + 5),
        pad: "x".repeat(o.body_bytes.saturating_sub(20)),
        window: o.window,
        period: o
            .rate
            .map(|r| Duration::from_secs_f64(senders.max(1) as f64 / r.max(1) as f64)),
    });
    let mut tasks = Vec::new();
    let mut floods = Vec::new();
    let mut idx = 0u64;
    for (r, (room, members)) in rooms.into_iter().enumerate() {
        let classmates: Vec<String> = members.iter().skip(1).map(|m| bare(&m.jid)).collect();
        for (k, m) in members.into_iter().enumerate() {
            if k == 0 && (r as u64) < o.flooders {
                floods.push(tokio::spawn(flood_side(
                    m,
                    room.clone(),
                    classmates.clone(),
                    plan.clone(),
                )));
            } else {
                tasks.push(tokio::spawn(muc_side(m, room.clone(), idx, plan.clone())));
            }
            idx += 1;
        }
    }
    let flooders = floods.len() as u64;
    sleep_until(plan.measure_from.into()).await;
    let cpu0 = procs.cpu_s();
    let gen0 = self_cpu_s();
    sleep_until(plan.measure_to.into()).await;
    let cpu = procs.cpu_s().zip(cpu0).map(|(b, a)| b - a);
    let gen_cpu = self_cpu_s() - gen0;
    let mut total = Side::default();
    for t in tasks {
        match t.await {
            Ok(s) => {
                total.sent += s.sent;
                total.received += s.received;
                total.in_window += s.in_window;
                total.bounced += s.bounced;
                total.skipped += s.skipped;
                total.lat.merge(s.lat);
                total.errors.merge(s.errors);
            }
            Err(e) => total.errors.add_kind(&format!("task failed: {e}")),
        }
    }
    errors.merge(total.errors);
    let mut flood = Flood::default();
    for t in floods {
        match t.await {
            Ok(f) => {
                flood.sent += f.sent;
                flood.refused += f.refused;
                flood.errors.merge(f.errors);
            }
            Err(e) => errors.add_kind(&format!("task failed: {e}")),
        }
    }
    errors.merge(flood.errors);
    // A post the room refused (it comes back as an error, counted in errors and bounced)
    // reaches nobody: only accepted posts are expected at every occupant, as in chat.
    // With flooders, each measured post reaches one occupant fewer per flooded room
    // (the flooder reads nothing but his refusals).
    let expected = (total.sent.saturating_sub(total.bounced) * o.size)
        .saturating_sub(total.sent.saturating_sub(total.bounced) * flooders / rooms_ok.max(1));
    let lost = expected.saturating_sub(total.received);
    let d = o.duration as f64;
    let rate = total.in_window as f64 / d;
    let per = |c: f64| c * 1e6 / total.in_window.max(1) as f64;
    let mut lat = total.lat;
    let (p50, p99, p999) = (
        lat.quantile_ms(0.5),
        lat.quantile_ms(0.99),
        lat.quantile_ms(0.999),
    );
    let mut m = base("muc", &target);
    m.insert("rooms".into(), json!(o.rooms));
    m.insert("rooms_ok".into(), json!(rooms_ok));
    m.insert("occupants".into(), json!(o.size));
    m.insert("window".into(), json!(o.window));
    m.insert("offered_rate".into(), json!(o.rate));
    m.insert("flooders".into(), json!(flooders));
    m.insert("flood_sent".into(), json!(flood.sent));
    m.insert("flood_refused".into(), json!(flood.refused));
    m.insert(
        "flood_sent_per_s".into(),
        json!(r3(flood.sent as f64 / o.duration as f64)),
    );
    m.insert(
        "offered_deliveries_per_s".into(),
        json!(o.rate.map(|r| r * o.size)),
    );
    m.insert("duration_s".into(), json!(o.duration));
    m.insert("posted".into(), json!(total.sent));
    m.insert("delivered".into(), json!(total.received));
    m.insert("lost".into(), json!(lost));
    m.insert("bounced".into(), json!(total.bounced));
    m.insert("skipped_window_full".into(), json!(total.skipped));
    m.insert("errors".into(), json!(errors.total));
    m.insert("error_kinds".into(), errors.json());
    m.insert("deliveries_per_s".into(), json!(r3(rate)));
    m.insert("p50_ms".into(), json!(p50));
    m.insert("p99_ms".into(), json!(p99));
    m.insert("p999_ms".into(), json!(p999));
    m.insert("max_ms".into(), json!(lat.max_ms()));
    m.insert("server_cpu_s".into(), opt(cpu));
    m.insert("server_cpu_us_per_delivery".into(), opt(cpu.map(per)));
    m.insert("gen_cpu_us_per_delivery".into(), json!(r3(per(gen_cpu))));
    emit(
        m,
        format!(
            "muc [{}]: {} rooms of {}{}{}: {:.0} deliveries/s over {}s; latency p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms; {} lost, {} errors; server CPU {} µs/delivery",
            target.label,
            rooms_ok,
            o.size,
            o.rate
                .map_or(String::new(), |r| format!(", {r} posts/s offered")),
            if flooders > 0 {
                format!(
                    ", {flooders} flooder(s) sending {:.0} msg/s ({} refused)",
                    flood.sent as f64 / o.duration as f64,
                    flood.refused
                )
            } else {
                String::new()
            },
            rate,
            o.duration,
            p50,
            p99,
            p999,
            lost,
            errors.total,
            cpu.map_or("?".into(), |c| format!("{:.2}", per(c)))
        ),
    );
    Ok(())
}

/// What the flooders sent.
#[derive(Default)]
struct Flood {
    sent: u64,
    refused: u64,
    errors: Errors,
}

/// A flooder: from the start to the end of the measure, writes room posts and
/// one-to-one messages to his classmates in batches as fast as the server reads them,
/// while reading (counting the refusals) whatever comes back. Its bodies carry no
/// timestamp, so the measured occupants do not count them.
async fn flood_side(s: Session, room: String, classmates: Vec<String>, plan: Arc<Plan>) -> Flood {
    let Session { io, mut fr, .. } = s;
    let (mut rd, mut wr) = tokio::io::split(io);
    let room_attr = xml::escape(&room);
    sleep_until(plan.base.into()).await;
    let writer = async {
        let mut sent = 0u64;
        let mut out: Vec<u8> = Vec::with_capacity(8 * 1024);
        let mut next = 0usize;
        let mut errors = Errors::default();
        while Instant::now() < plan.measure_to {
            out.clear();
            for _ in 0..32 {
                if next.is_multiple_of(2) || classmates.is_empty() {
                    out.extend_from_slice(
                        format!("<message to='{room_attr}' type='groupchat'>").as_bytes(),
                    );
                } else {
                    let c = &classmates[(next / 2) % classmates.len()];
                    out.extend_from_slice(
                        format!("<message to='{}' type='chat'>", xml::escape(c)).as_bytes(),
                    );
                }
                out.extend_from_slice(b"<body>flood flood flood</body></message>");
                next += 1;
            }
            let w = async {
                wr.write_all(&out).await?;
                wr.flush().await
            };
            // The server may stop reading a flooder whose allowance is spent (TCP holds
            // him back): the write then ends with the measure, not when the server
            // reads again.
            match tokio::time::timeout_at(plan.measure_to.into(), w).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    errors.add(&e.into());
                    break;
                }
                Err(_) => break,
            }
            sent += 32;
        }
        (sent, errors, wr)
    };
    let reader = async {
        let mut refused = 0u64;
        let mut errors = Errors::default();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let r = tokio::select! {
                r = rd.read(&mut buf) => r,
                _ = sleep_until(plan.drain_until.into()) => break,
            };
            let n = match r {
                Ok(0) => {
                    errors.add_kind("server closed the flooder's connection");
                    break;
                }
                Ok(n) => n,
                Err(e) => {
                    errors.add(&e.into());
                    break;
                }
            };
            if let Err(e) = fr.feed(&buf[..n]) {
                errors.add(&e);
                break;
            }
            loop {
                match fr.next() {
                    Ok(Some(Event::Element(r))) => {
                        let el = fr.get(r);
                        if xml::name(el) == b"message"
                            && xml::attr(el, "type").as_deref() == Some("error")
                        {
                            refused += 1;
                        }
                    }
                    Ok(Some(Event::Close)) => {
                        errors.add_kind("server closed the flooder's stream");
                        return (refused, errors);
                    }
                    Ok(Some(Event::Open(_))) => {}
                    Ok(None) => break,
                    Err(e) => {
                        errors.add(&e);
                        return (refused, errors);
                    }
                }
            }
        }
        (refused, errors)
    };
    let ((sent, mut errors, mut wr), (refused, rerrors)) = tokio::join!(writer, reader);
    errors.merge(rerrors);
    // The server may still be answering a backlog of refused posts that nobody reads
    // any more, and so not reading this stream: the goodbye is not waited for long.
    let _ = tokio::time::timeout(Duration::from_secs(1), wr.write_all(b"</stream:stream>")).await;
    Flood {
        sent,
        refused,
        errors,
    }
}

/// The sender index after the timestamp in a body: "TS IDX pad".
fn sender_of(el: &[u8]) -> Option<u64> {
    let b = el.windows(5).position(|w| w == b"<body")?;
    let gt = el[b..].iter().position(|&c| c == b'>')? + b + 1;
    let rest = &el[gt..];
    let sp = rest.iter().position(|&c| c == b' ')? + 1;
    let digits = rest[sp..].iter().take_while(|c| c.is_ascii_digit()).count();
    std::str::from_utf8(&rest[sp..sp + digits])
        .ok()?
        .parse()
        .ok()
}

/// One occupant: posts to the room with at most `window` of its posts in flight (a
/// slot comes back with the echo of its own post) and reads every delivery.
async fn muc_side(mut s: Session, room: String, me: u64, plan: Arc<Plan>) -> Side {
    let mut side = Side::default();
    let mine = Semaphore::new(plan.window);
    let mut buf = vec![0u8; 64 * 1024];
    let mut out: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut sending = true;
    let mut ticker = plan.period.map(|p| {
        let phase = p.mul_f64(rand::random::<f64>());
        let mut i = tokio::time::interval_at((plan.base + phase).into(), p);
        i.set_missed_tick_behavior(MissedTickBehavior::Burst);
        i
    });
    let mut linger: Option<Instant> = None;
    sleep_until(plan.base.into()).await;
    let room_attr = xml::escape(&room);
    loop {
        let now = Instant::now();
        if !sending && now > plan.measure_to && mine.available_permits() >= plan.window {
            // Our posts are all back; others' may still be on their way.
            let l = *linger.get_or_insert(now + Duration::from_millis(300));
            if now >= l {
                break;
            }
        }
        let mut batch = 0usize;
        tokio::select! {
            biased;
            r = s.io.read(&mut buf) => {
                let n = match r {
                    Ok(0) => { side.errors.add_kind("server closed the connection"); break; }
                    Ok(n) => n,
                    Err(e) => { side.errors.add(&e.into()); break; }
                };
                if let Err(e) = s.fr.feed(&buf[..n]) { side.errors.add(&e); break; }
                let now = Instant::now();
                loop {
                    match s.fr.next() {
                        Ok(Some(Event::Element(r))) => {
                            let el = s.fr.get(r);
                            if xml::name(el) != b"message" {
                                continue;
                            }
                            if xml::attr(el, "type").as_deref() == Some("error") {
                                side.bounced += 1;
                                side.errors.add_kind("groupchat bounced with an error");
                                mine.add_permits(1);
                                continue;
                            }
                            let Some(ts) = stamp(el) else { continue };
                            side.received += 1;
                            if sender_of(el) == Some(me) {
                                mine.add_permits(1);
                            }
                            if now >= plan.measure_from && now < plan.measure_to {
                                side.in_window += 1;
                                let sent_at = plan.base + Duration::from_micros(ts);
                                side.lat.push_us(now.saturating_duration_since(sent_at).as_micros() as u64);
                            }
                        }
                        Ok(Some(Event::Close)) => { side.errors.add_kind("server closed the stream"); return side; }
                        Ok(Some(Event::Open(_))) => {}
                        Ok(None) => break,
                        Err(e) => { side.errors.add(&e); return side; }
                    }
                }
            }
            p = mine.acquire(), if sending && ticker.is_none() => {
                if let Ok(p) = p {
                    p.forget();
                    batch = 1;
                    while batch < 16 {
                        match mine.try_acquire() {
                            Ok(p) => { p.forget(); batch += 1; }
                            Err(_) => break,
                        }
                    }
                }
            }
            _ = tick(&mut ticker), if sending => {
                match mine.try_acquire() {
                    Ok(p) => { p.forget(); batch = 1; }
                    Err(_) => side.skipped += 1,
                }
            }
            _ = sleep_until(plan.measure_to.into()), if sending => sending = false,
            _ = sleep_until(plan.drain_until.into()) => break,
            _ = sleep(Duration::from_millis(20)), if !sending => {}
        }
        if batch > 0 {
            if Instant::now() >= plan.measure_to {
                mine.add_permits(batch);
                sending = false;
                continue;
            }
            out.clear();
            let ts = plan.base.elapsed().as_micros() as u64;
            for _ in 0..batch {
                out.extend_from_slice(
                    format!(
                        "<message to='{room_attr}' type='groupchat'><body>{ts} {me} {}</body></message>",
                        plan.pad
                    )
                    .as_bytes(),
                );
            }
            if let Err(e) = async {
                s.io.write_all(&out).await?;
                s.io.flush().await
            }
            .await
            {
                side.errors.add(&e.into());
                break;
            }
            side.sent += batch as u64;
        }
    }
    s.close().await;
    side
}
