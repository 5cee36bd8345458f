//! The `causerie` command: serve, manage accounts, check a setup.
//!
//! Thin by design: it parses the command line (clap), loads the typed
//! configuration, sets up logging, and calls into `causerie-server` and
//! `causerie-store`. Messages are for operators, in English.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use causerie_server::{Config, Server, auth, tls};
use causerie_store::{AccountStore, Store, StoreError};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "causerie",
    version,
    about = "Causerie: the chat server of a school digital workspace (XMPP)"
)]
struct Cli {
    /// Configuration file (TOML); defaults apply without one.
    #[arg(long, short = 'c', global = true, env = "CAUSERIE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Create the demo school's accounts (see README.md) when missing.
        #[arg(long)]
        demo: bool,
    },
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Check the configuration, the TLS certificate and the database.
    Check,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account.
    Add {
        /// user@domain
        jid: String,
        #[arg(long, short = 'p')]
        password: String,
    },
    /// Change an account's password.
    Passwd {
        jid: String,
        #[arg(long, short = 'p')]
        password: String,
    },
    /// Delete an account and all its data.
    Del { jid: String },
    /// List accounts.
    List,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config, matches!(cli.command, Command::Serve { .. }));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(config: &Config, serving: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if serving {
        config.log.level.as_str()
    } else {
        "warn"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    if config.log.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn run(command: Command, config: Config) -> Result<()> {
    match command {
        Command::Serve { demo } => {
            if demo {
                demo_accounts(&config).await?;
            }
            serve(config).await
        }
        Command::User(cmd) => user(cmd, &config).await,
        Command::Check => check(&config).await,
    }
}

async fn serve(config: Config) -> Result<()> {
    let running = Server::start(config).await?;
    for (name, addr) in &running.addresses {
        tracing::info!(listener = name, address = %addr, "ready");
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    running.shutdown(Duration::from_secs(10)).await;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The account localpart of `jid`, which must be on the configured domain.
fn localpart(jid: &str, config: &Config) -> Result<String> {
    let bare = jid::BareJid::new(jid).with_context(|| format!("`{jid}` is not a valid JID"))?;
    let Some(node) = bare.node() else {
        bail!("`{jid}` has no user part (expected user@{})", config.domain);
    };
    if bare.domain().as_str() != config.domain.to_lowercase() {
        bail!("`{jid}` is not on this server's domain `{}`", config.domain);
    }
    Ok(node.to_string())
}

async fn open_store(config: &Config) -> Result<Store> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    Store::connect(&config.storage_url())
        .await
        .with_context(|| "cannot open the database".to_string())
}

async fn user(cmd: UserCommand, config: &Config) -> Result<()> {
    let store = open_store(config).await?;
    let iterations = config.auth.scram_iterations;
    match cmd {
        UserCommand::Add { jid, password } => {
            let user = localpart(&jid, config)?;
            let creds =
                auth::credentials_for(&password, iterations).context("unusable password")?;
            match store.create_account(&user, &creds).await {
                Ok(()) => println!("created {user}@{}", config.domain),
                Err(StoreError::AlreadyExists) => bail!("account {jid} already exists"),
                Err(e) => return Err(e.into()),
            }
        }
        UserCommand::Passwd { jid, password } => {
            let user = localpart(&jid, config)?;
            let creds =
                auth::credentials_for(&password, iterations).context("unusable password")?;
            match store.set_credentials(&user, &creds).await {
                Ok(()) => println!("password changed for {user}@{}", config.domain),
                Err(StoreError::NotFound) => bail!("no account {jid}"),
                Err(e) => return Err(e.into()),
            }
        }
        UserCommand::Del { jid } => {
            let user = localpart(&jid, config)?;
            match store.delete_account(&user).await {
                Ok(()) => println!("deleted {user}@{}", config.domain),
                Err(StoreError::NotFound) => bail!("no account {jid}"),
                Err(e) => return Err(e.into()),
            }
        }
        UserCommand::List => {
            for user in store.list_accounts().await? {
                println!("{user}@{}", config.domain);
            }
        }
    }
    store.close().await;
    Ok(())
}

/// The demo school's accounts: (login, password, « NOM Prénom »).
const DEMO: &[(&str, &str, &str)] = &[
    ("lea.martin", "demo", "MARTIN Léa"),
    ("hugo.bernard", "demo", "BERNARD Hugo"),
    ("paul.martin", "demo", "MARTIN Paul"),
    ("anne.durand", "demo", "DURAND Anne"),
];

/// Creates the demo accounts that are missing, with their vCard full name.
async fn demo_accounts(config: &Config) -> Result<()> {
    use causerie_store::VcardStore;
    let store = open_store(config).await?;
    for (login, password, name) in DEMO {
        if store.account_exists(login).await? {
            continue;
        }
        let creds = auth::credentials_for(password, config.auth.scram_iterations)
            .context("demo password")?;
        store.create_account(login, &creds).await?;
        let card = format!(
            "<vCard xmlns='vcard-temp'><FN>{}</FN></vCard>",
            causerie_proto::errors::escape(name)
        );
        store.set_vcard(login, &card).await?;
        tracing::info!(account = %format!("{login}@{}", config.domain), "created demo account");
    }
    store.close().await;
    Ok(())
}

async fn check(config: &Config) -> Result<()> {
    println!("config: ok (domain {})", config.domain);
    let (cert, key, generated) = tls::cert_paths(config);
    if generated && !cert.exists() {
        println!(
            "tls: no certificate yet; a self-signed one will be generated at {}",
            cert.display()
        );
    } else {
        tls::load(config).with_context(|| {
            format!("TLS certificate {} / key {}", cert.display(), key.display())
        })?;
        println!("tls: ok ({})", cert.display());
    }
    let store = open_store(config).await?;
    store.ping().await.context("database does not answer")?;
    let n = store.list_accounts().await?.len();
    println!("database: ok ({:?}, {n} accounts)", store.backend());
    store.close().await;
    Ok(())
}
