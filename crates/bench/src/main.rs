//! `causerie-bench`: a load generator for XMPP servers (Causerie, Prosody, ejabberd,
//! any other), far lighter than the servers it loads. See BENCHMARKS.md.
//!
//! Every scenario prints one JSON line on stdout and a human summary on stderr.
//! Only loopback addresses are loaded; every loop is bounded in count and time
//! (`--max-secs` bounds a whole run).

mod client;
mod provision;
mod sasl;
mod scenarios;
mod stats;
mod xml;

use std::time::Duration;

use anyhow::{Result, bail};
use clap::{Parser, Subcommand};

use client::Target;
use stats::Procs;

#[derive(Parser)]
#[command(name = "causerie-bench", version, about)]
struct Cli {
    /// Worker threads of the generator (default: one per core).
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// Upper bound on the whole run, in seconds.
    #[arg(long, global = true, default_value_t = 900)]
    max_secs: u64,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Args, Debug, Clone)]
struct Server {
    /// PID(s) of the server (comma-separated), for its CPU and memory from /proc.
    #[arg(long)]
    server_pid: Option<String>,
}

#[derive(Subcommand)]
enum Cmd {
    /// N full logins (TLS, SASL, bind, roster get, initial presence) at a concurrency.
    Login {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        server: Server,
        #[arg(long, default_value_t = 1000)]
        n: u64,
        #[arg(long, default_value_t = 50)]
        concurrency: u64,
    },
    /// N sessions held idle: the server's memory per connection and idle CPU.
    Idle {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        server: Server,
        #[arg(long, default_value_t = 1000)]
        n: u64,
        #[arg(long, default_value_t = 50)]
        concurrency: u64,
        /// Seconds to let presence traffic settle before measuring.
        #[arg(long, default_value_t = 5)]
        settle_secs: u64,
        /// Seconds over which idle CPU is measured.
        #[arg(long, default_value_t = 10)]
        idle_secs: u64,
    },
    /// P pairs exchange 1:1 messages, W in flight per direction, for D seconds.
    Chat {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        server: Server,
        #[arg(long, default_value_t = 100)]
        pairs: u64,
        #[arg(long, default_value_t = 10)]
        window: usize,
        /// Measured seconds.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Unmeasured seconds before.
        #[arg(long, default_value_t = 2)]
        warmup: u64,
        /// Offered messages per second in total (open loop, each sender ticking);
        /// without it, closed loop: as fast as the window allows.
        #[arg(long)]
        rate: Option<u64>,
        /// Body size in bytes.
        #[arg(long, default_value_t = 100)]
        body_bytes: usize,
        /// Logins under way at once while connecting the pairs.
        #[arg(long, default_value_t = 50)]
        concurrency: u64,
    },
    /// N sessions with stream management lose their connection and resume (XEP-0198).
    Resume {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        server: Server,
        #[arg(long, default_value_t = 1000)]
        n: u64,
        #[arg(long, default_value_t = 50)]
        concurrency: u64,
    },
    /// N users log in within T seconds (arrivals spread evenly, open loop).
    Storm {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        server: Server,
        #[arg(long, default_value_t = 10000)]
        n: u64,
        #[arg(long, default_value_t = 10)]
        within: u64,
    },
    /// R rooms of S occupants (a class) each posting, W posts in flight per occupant.
    Muc {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        server: Server,
        #[arg(long, default_value_t = 10)]
        rooms: u64,
        /// Occupants per room.
        #[arg(long, default_value_t = 30)]
        size: u64,
        #[arg(long, default_value_t = 2)]
        window: usize,
        #[arg(long, default_value_t = 10)]
        duration: u64,
        #[arg(long, default_value_t = 2)]
        warmup: u64,
        /// Posts per second in total (each delivered to every occupant), open loop;
        /// without it, closed loop.
        #[arg(long)]
        rate: Option<u64>,
        #[arg(long, default_value_t = 100)]
        body_bytes: usize,
        #[arg(long, default_value_t = 50)]
        concurrency: u64,
        /// The MUC service (default: conference.DOMAIN).
        #[arg(long)]
        service: Option<String>,
        /// Rooms are ROOM_PREFIX{r}@SERVICE: another prefix for each set of accounts
        /// that share a server (a room belongs to whoever created it first).
        #[arg(long, default_value = "bench")]
        room_prefix: String,
        /// In each of the first FLOODERS rooms, the first occupant floods (room posts
        /// and one-to-one messages, as fast as the server reads them) and is not
        /// measured: what a flooding pupil does to his class.
        #[arg(long, default_value_t = 0)]
        flooders: u64,
    },
    /// Creates the benchmark accounts and rosters.
    #[command(subcommand)]
    Provision(provision::Provision),
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(t) = cli.threads {
        rt.worker_threads(t.max(1));
    }
    let rt = rt.build()?;
    let max = Duration::from_secs(cli.max_secs);
    let result = rt.block_on(async move {
        match tokio::time::timeout(max, run(cli.cmd)).await {
            Ok(r) => r,
            Err(_) => bail!("the run exceeded --max-secs {}", max.as_secs()),
        }
    });
    // Sessions still open are dropped with the runtime, without waiting.
    rt.shutdown_timeout(Duration::from_secs(1));
    result
}

async fn run(cmd: Cmd) -> Result<()> {
    match cmd {
        Cmd::Login {
            target,
            server,
            n,
            concurrency,
        } => {
            target.check()?;
            let procs = Procs::parse(server.server_pid.as_deref())?;
            scenarios::run_login(target, procs, n, concurrency).await
        }
        Cmd::Idle {
            target,
            server,
            n,
            concurrency,
            settle_secs,
            idle_secs,
        } => {
            target.check()?;
            let procs = Procs::parse(server.server_pid.as_deref())?;
            scenarios::run_idle(target, procs, n, concurrency, settle_secs, idle_secs).await
        }
        Cmd::Chat {
            target,
            server,
            pairs,
            window,
            duration,
            warmup,
            rate,
            body_bytes,
            concurrency,
        } => {
            target.check()?;
            if window == 0 || pairs == 0 || duration == 0 {
                bail!("--pairs, --window and --duration must be positive");
            }
            let procs = Procs::parse(server.server_pid.as_deref())?;
            let o = scenarios::ChatOpts {
                pairs,
                window,
                duration,
                warmup,
                rate,
                body_bytes,
                concurrency,
            };
            scenarios::run_chat(target, procs, o).await
        }
        Cmd::Resume {
            target,
            server,
            n,
            concurrency,
        } => {
            target.check()?;
            let procs = Procs::parse(server.server_pid.as_deref())?;
            scenarios::run_resume(target, procs, n, concurrency).await
        }
        Cmd::Storm {
            target,
            server,
            n,
            within,
        } => {
            target.check()?;
            let procs = Procs::parse(server.server_pid.as_deref())?;
            scenarios::run_storm(target, procs, n, within).await
        }
        Cmd::Muc {
            target,
            server,
            rooms,
            size,
            window,
            duration,
            warmup,
            rate,
            body_bytes,
            concurrency,
            service,
            room_prefix,
            flooders,
        } => {
            target.check()?;
            if window == 0 || rooms == 0 || size == 0 || duration == 0 {
                bail!("--rooms, --size, --window and --duration must be positive");
            }
            let procs = Procs::parse(server.server_pid.as_deref())?;
            let service = service.unwrap_or_else(|| format!("conference.{}", target.domain));
            let o = scenarios::MucOpts {
                rooms,
                size,
                window,
                duration,
                warmup,
                rate,
                body_bytes,
                concurrency,
                service,
                room_prefix,
                flooders,
            };
            scenarios::run_muc(target, procs, o).await
        }
        Cmd::Provision(p) => provision::run(p).await,
    }
}
