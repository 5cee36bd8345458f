//! The `causerie` command: serve, manage accounts, check a setup.
//!
//! Thin by design: it parses the command line (clap), loads the typed
//! configuration, sets up logging, and calls into `causerie-server` and
//! `causerie-store`. Messages are for operators, in English.

/// jemalloc instead of glibc's malloc: the benchmark's profile of a login spent
/// about a fifth of the server's CPU in glibc's allocator (`malloc_consolidate`,
/// `_int_malloc`, `_int_free`: many small, short-lived allocations per stanza
/// across the runtime's threads). Measured (BENCHMARKS.md, F6): less CPU per
/// login and per message, and less memory per idle connection than glibc;
/// mimalloc, also tried, was as fast but held 1.5 KiB more per TLS connection.
mod collectivite;

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use causerie_server::changes::{self, Actor, Applied, Change, ChangeError};
use causerie_server::{Config, Server, app_passwords, auth, tls};
use std::collections::HashMap;

use causerie_ent::{
    Directory, Profile, QuietHours, QuietWindow, Retention, Shutdown, ShutdownMode,
};
use causerie_proto::scram::{self, ScramHash, ScramKeys};
use causerie_store::{
    Access, AccountArchiveStore, AccountStore, AdminStore, DirectoryStore, SafetyStore, Store,
    StoreError,
};
use clap::{Parser, Subcommand};

mod aaf;

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
    /// The school directory.
    #[command(subcommand)]
    Directory(DirectoryCommand),
    /// Chat access per structure (S1, S2).
    #[command(subcommand)]
    Access(AccessCommand),
    /// Collectivités (région, département, commune): their chat access above their
    /// structures', and their administrators.
    #[command(subcommand)]
    Collectivite(collectivite::CollectiviteCommand),
    /// The communication rules of a structure (S3).
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Administrators of the admin console (docs/admin-api.md).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// The accounts' one-to-one archives: retention per structure, purge.
    #[command(subcommand)]
    Archive(ArchiveCommand),
    /// File sharing (XEP-0363) per structure.
    #[command(subcommand)]
    Upload(UploadCommand),
    /// Reports (« Signalements ») and each structure's safety staff (docs/admin-api.md).
    #[command(subcommand)]
    Reports(ReportsCommand),
    /// Quiet hours (« Heures calmes ») per structure (docs/safety.md).
    #[command(subcommand)]
    Quiet(QuietCommand),
    /// The kill switch (« Coupure ») per structure (docs/safety.md).
    #[command(subcommand)]
    Shutdown(ShutdownCommand),
    /// Whether a structure's pupils may have profile photos (off by default).
    #[command(subcommand)]
    Photos(PhotosCommand),
    /// Who may have app passwords per structure (adults on, pupils off by default).
    #[command(subcommand)]
    AppPasswords(AppPasswordsCommand),
}

#[derive(Subcommand)]
enum QuietCommand {
    /// Show a structure's quiet hours (its own, or the default).
    Show { structure: String },
    /// Set a structure's quiet hours: its time zone and its windows, each
    /// PROFILES@START-END (`--window student@21:00-07:00 --window relative@22:00-06:00`);
    /// no window: no quiet hours at all.
    Set {
        structure: String,
        /// An IANA time zone (default: `[quiet_hours] time_zone`).
        #[arg(long)]
        time_zone: Option<String>,
        #[arg(long = "window")]
        windows: Vec<String>,
    },
    /// Go back to the default (`[quiet_hours]`).
    Reset { structure: String },
}

#[derive(Subcommand)]
enum ShutdownCommand {
    /// Show a structure's kill switch.
    Show { structure: String },
    /// Set a structure's kill switch: normal, staff_to_families, read_only or off, with
    /// the school's text shown to its users.
    Set {
        structure: String,
        mode: String,
        #[arg(long)]
        message: Option<String>,
    },
}

#[derive(Subcommand)]
enum AppPasswordCommand {
    /// Create an app password: the server makes the secret and prints it once.
    Add {
        jid: String,
        /// What it is for (« Téléphone de Léa »).
        #[arg(long)]
        label: String,
    },
    /// List an account's app passwords (never their secrets).
    List { jid: String },
    /// Revoke an app password by its id (`list` shows it). A running server refuses it
    /// from then on; the sessions already logged in with it stay until they end.
    Revoke { jid: String, id: i64 },
}

#[derive(Subcommand)]
enum AppPasswordsCommand {
    /// Show who may have app passwords in a structure.
    Show { structure: String },
    /// Allow (`on`) or forbid (`off`) app passwords to a structure's pupils and adults.
    Set {
        structure: String,
        #[arg(long)]
        pupils: String,
        #[arg(long)]
        adults: String,
    },
    /// Go back to the default (adults on, pupils off).
    Reset { structure: String },
}

#[derive(Subcommand)]
enum PhotosCommand {
    /// Show whether a structure's pupils may have profile photos.
    Show { structure: String },
    /// Allow (`on`) or forbid (`off`) a structure's pupils' profile photos.
    Set { structure: String, value: String },
    /// Go back to the default (off).
    Reset { structure: String },
}

#[derive(Subcommand)]
enum ReportsCommand {
    /// A structure's reports, newest first.
    List {
        structure: String,
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// One report with its copied messages and notes.
    Show { id: i64 },
    /// Set a report's status: new, in_progress or closed.
    Status { id: i64, status: String },
    /// Add a note to a report (the author is `cli`).
    Note { id: i64, text: String },
    /// Name a structure's safety staff (teachers or staff of the structure), or go back to
    /// the default (its local administrators) with `--reset`.
    Staff {
        structure: String,
        logins: Vec<String>,
        #[arg(long, conflicts_with = "logins")]
        reset: bool,
    },
}

#[derive(Subcommand)]
enum UploadCommand {
    /// Show what a structure allows (its own settings, or the default).
    Show { structure: String },
    /// Set a structure's file sharing; what is not given stays as it is now.
    Set {
        structure: String,
        /// File sharing on or off.
        #[arg(long, action = clap::ArgAction::Set)]
        enabled: Option<bool>,
        /// Largest file, in bytes (at most 104857600).
        #[arg(long)]
        max_bytes: Option<u64>,
        /// Comma-separated MIME types allowed (e.g. image/png,application/pdf).
        #[arg(long, value_delimiter = ',')]
        types: Option<Vec<String>>,
    },
    /// Go back to the default (`[upload]`; off for a primary school).
    Reset { structure: String },
}

#[derive(Subcommand)]
enum ArchiveCommand {
    /// Show a structure's retention (its own, or the configured default).
    Show { structure: String },
    /// Set how long a structure keeps its users' archives: `school_year` or a number of
    /// days (1 to 3650).
    Retention {
        structure: String,
        retention: String,
    },
    /// Go back to the configured default (`[archive] retention`).
    Reset { structure: String },
    /// Delete now every archived message and shared file past its retention, closed
    /// reports and audit rows past theirs, and the accounts of users who left the
    /// directory past `[archive] departed_days` (the server does it every hour).
    Purge,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Make an account a super-administrator (`--super`); local administrators are made
    /// with `admin grant`.
    Add {
        login: String,
        #[arg(long = "super")]
        superadmin: bool,
    },
    /// Grant an account the administration of a structure.
    Grant { login: String, structure: String },
    /// Revoke the administration of a structure, or with `--super` (no structure) the
    /// super-administrator role.
    Revoke {
        login: String,
        structure: Option<String>,
        #[arg(long = "super")]
        superadmin: bool,
    },
    /// List the administrators and what they administer.
    List,
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Print a structure's rules as JSON (the defaults when none were set).
    Show { structure: String },
    /// Replace a structure's rules with those of a JSON file (docs/directory.md).
    Set { structure: String, file: PathBuf },
    /// Go back to the default rules.
    Reset { structure: String },
}

#[derive(Subcommand)]
enum DirectoryCommand {
    /// Apply a full directory snapshot (JSON, docs/directory.md) in one transaction.
    Import {
        /// The snapshot file.
        file: PathBuf,
        /// Apply it even if it would deactivate more than half of the active directory
        /// users (a wrong or partial file otherwise stops there).
        #[arg(long)]
        force: bool,
    },
    /// Map the académie's directory feed (AAF exports: the *.xml files of DIR, full
    /// « Complet » exports) onto a snapshot (docs/aaf-import.md), print what was skipped
    /// and why, then apply it as `directory import` does.
    ImportAaf {
        /// The directory holding the feed's files (…_EtabEducNat_0000.xml,
        /// …_Eleve_0000.xml, …_PersRelEleve_0000.xml, …_PersEducNat_0000.xml).
        dir: PathBuf,
        /// Map and report only; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Write the whole report (every skipped entry and dropped reference) to FILE.
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
        /// Write the mapped snapshot (the JSON of `directory import`) to FILE.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Apply it even if it would deactivate more than half of the active directory
        /// users (a feed missing a file otherwise stops there).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum AccessCommand {
    /// Turn chat on or off for a structure, and choose the profiles allowed.
    Set {
        /// The structure's id.
        structure: String,
        #[arg(long, action = clap::ArgAction::Set)]
        enabled: bool,
        /// Comma-separated profiles (student,relative,teacher,personnel,guest); default: all.
        #[arg(long, value_delimiter = ',')]
        profiles: Option<Vec<String>>,
    },
    /// Show a structure's chat access.
    Show { structure: String },
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
    /// Delete an account's XEP-0484 FAST login tokens: its apps then need the password
    /// again (all of them, or the one client whose user-agent id is given).
    RevokeTokens {
        jid: String,
        /// The client's user-agent id (XEP-0388); all clients without it.
        #[arg(long)]
        agent: Option<String>,
    },
    /// An account's app passwords, for standard XMPP apps (docs/web-client.md).
    #[command(subcommand)]
    AppPassword(AppPasswordCommand),
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
        Command::Directory(DirectoryCommand::Import { file, force }) => {
            let json = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            import(&config, &json, &file.display().to_string(), force).await
        }
        Command::Directory(DirectoryCommand::ImportAaf {
            dir,
            dry_run,
            report,
            json,
            force,
        }) => {
            aaf::import_aaf(
                &config,
                &dir,
                dry_run,
                report.as_deref(),
                json.as_deref(),
                force,
            )
            .await
        }
        Command::Access(cmd) => access(cmd, &config).await,
        Command::Collectivite(cmd) => collectivite::run(cmd, &config).await,
        Command::Archive(cmd) => archive(cmd, &config).await,
        Command::Upload(cmd) => upload(cmd, &config).await,
        Command::Photos(cmd) => photos(cmd, &config).await,
        Command::AppPasswords(cmd) => app_password_policy(cmd, &config).await,
        Command::Reports(cmd) => reports(cmd, &config).await,
        Command::Quiet(cmd) => quiet(cmd, &config).await,
        Command::Shutdown(cmd) => shutdown(cmd, &config).await,
        Command::Rules(cmd) => rules(cmd, &config).await,
        Command::Admin(cmd) => admin(cmd, &config).await,
    }
}

async fn serve(config: Config) -> Result<()> {
    let http = config.listen.http;
    let https = config.listen.https;
    let running = Server::start(config).await?;
    for (name, addr) in &running.addresses {
        tracing::info!(listener = name, address = %addr, "ready");
    }
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let http_task = match http {
        Some(addr) => {
            let (bound, task) = causerie_web::serve(running.server.clone(), addr, async {
                let _ = http_stopped.await;
            })
            .await
            .with_context(|| format!("cannot listen on {addr} (http)"))?;
            tracing::info!(listener = "http", address = %bound, "ready");
            Some(task)
        }
        None => None,
    };
    let (stop_https, https_stopped) = tokio::sync::oneshot::channel::<()>();
    let https_task = match https {
        Some(addr) => {
            let (bound, task) = causerie_web::https::serve(running.server.clone(), addr, async {
                let _ = https_stopped.await;
            })
            .await
            .with_context(|| format!("cannot listen on {addr} (https)"))?;
            tracing::info!(listener = "https", address = %bound, "ready");
            Some(task)
        }
        None => None,
    };
    shutdown_signal().await;
    tracing::info!("shutting down");
    let _ = stop_http.send(());
    let _ = stop_https.send(());
    running.shutdown(Duration::from_secs(10)).await;
    for task in [http_task, https_task].into_iter().flatten() {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
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
            // With his app passwords' salt when he has some: they keep working.
            let creds = app_passwords::password_credentials(&store, &user, &password, iterations)
                .await
                .context("unusable password")?;
            match store.set_credentials(&user, &creds).await {
                Ok(()) => println!("password changed for {user}@{}", config.domain),
                Err(StoreError::NotFound) => bail!("no account {jid}"),
                Err(e) => return Err(e.into()),
            }
        }
        UserCommand::RevokeTokens { jid, agent } => {
            let user = localpart(&jid, config)?;
            if !store.account_exists(&user).await? {
                bail!("no account {jid}");
            }
            let n = causerie_store::FastStore::fast_revoke(&store, &user, agent.as_deref()).await?;
            println!("{n} login token(s) of {user}@{} deleted", config.domain);
        }
        UserCommand::AppPassword(cmd) => {
            store.close().await;
            return app_password(cmd, config).await;
        }
        UserCommand::Del { jid } => {
            let user = localpart(&jid, config)?;
            match store.delete_account(&user).await {
                Ok(()) => {
                    signal(config).await;
                    println!("deleted {user}@{}", config.domain)
                }
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

/// The demo school (a collège with two classes), imported by `serve --demo`.
const DEMO_SCHOOL: &str = include_str!("demo-school.json");

/// Imports the demo school unless the directory already has users.
async fn demo_accounts(config: &Config) -> Result<()> {
    let store = open_store(config).await?;
    let empty = store.snapshot().await?.users.is_empty();
    store.close().await;
    if empty {
        import(config, DEMO_SCHOOL, "the demo school", false).await?;
    }
    demo_super_admin(config).await
}

/// The demo's super-administrator: the plain account `admin` (password `demo`), made
/// when missing.
async fn demo_super_admin(config: &Config) -> Result<()> {
    let store = open_store(config).await?;
    if !store.account_exists("admin").await? {
        let creds = auth::credentials_for("demo", config.auth.scram_iterations)
            .context("unusable password")?;
        store.create_account("admin", &creds).await?;
        store.set_super_admin_audited("admin", true, "demo").await?;
    }
    store.close().await;
    Ok(())
}

/// Validates and applies a directory snapshot.
async fn import(config: &Config, json: &str, source: &str, force: bool) -> Result<()> {
    let snapshot = match causerie_ent::parse_snapshot(json) {
        Ok(s) => s,
        Err(e) => {
            // Recorded for the admin console's live view, then reported.
            let store = open_store(config).await?;
            store
                .record_import("cli", false, &serde_json::json!({}), &[e.to_string()])
                .await?;
            store.close().await;
            bail!("{source} is refused, nothing was changed: {e}");
        }
    };
    import_snapshot(config, snapshot, source, force).await
}

/// Applies a parsed directory snapshot through the change layer (validated there, with
/// its audit row), records the import for the console, and tells a running server.
/// Most active directory users a full import may deactivate without `--force`: half of
/// them (and always 20): a misspelt key, another school's file or a feed missing its
/// pupils' file would deactivate a whole school.
fn deactivation_allowed(active: usize) -> usize {
    (active / 2).max(20)
}

async fn import_snapshot(
    config: &Config,
    snapshot: causerie_ent::Snapshot,
    source: &str,
    force: bool,
) -> Result<()> {
    let store = open_store(config).await?;
    if !force {
        let current = store.snapshot().await?;
        let kept: std::collections::HashSet<&str> =
            snapshot.users.iter().map(|u| u.login.as_str()).collect();
        let leaving = current
            .users
            .iter()
            .filter(|u| !kept.contains(u.login.as_str()))
            .count();
        if leaving > deactivation_allowed(current.users.len()) {
            store.close().await;
            bail!(
                "{source} would deactivate {leaving} of the {} directory users: nothing was \
                 changed (a wrong or incomplete file?); run again with --force to apply it",
                current.users.len()
            );
        }
    }
    let mut credentials = HashMap::new();
    for u in &snapshot.users {
        let Some(password) = &u.password else {
            continue;
        };
        // Keep the stored keys when the password is unchanged, so that a
        // re-import of the same file changes nothing.
        if let Some(current) = store.credentials(&u.login).await? {
            let keys = ScramKeys {
                salt: current.sha256.salt,
                iterations: current.sha256.iterations,
                stored_key: current.sha256.stored_key,
                server_key: current.sha256.server_key,
            };
            if scram::verify_password(ScramHash::Sha256, &keys, password) {
                continue;
            }
        }
        let creds = app_passwords::password_credentials(
            &store,
            &u.login,
            password,
            config.auth.scram_iterations,
        )
        .await
        .with_context(|| format!("unusable password for user {}", u.login))?;
        credentials.insert(u.login.clone(), creds);
    }
    let dir = Directory::new(store.snapshot().await?, store.rules().await?);
    let imported = changes::apply(
        &store,
        &dir,
        &Actor::Cli,
        Change::Import {
            snapshot: snapshot.clone(),
            credentials,
        },
    )
    .await;
    let report = match imported {
        Ok(Applied {
            import: Some(r), ..
        }) => r,
        Ok(_) => bail!("the import reported nothing"),
        Err(e) => {
            store
                .record_import("cli", false, &serde_json::json!({}), &[e.to_string()])
                .await?;
            store.close().await;
            bail!("{source} is refused, nothing was changed: {e}");
        }
    };
    store
        .record_import(
            "cli",
            true,
            &serde_json::json!({
                "structures": report.structures,
                "classes": report.classes,
                "groups": report.groups,
                "users_created": report.users_created,
                "users_updated": report.users_updated,
                "users_deactivated": report.users_deactivated,
                "admins": snapshot.users.iter().filter(|u| !u.admin_of.is_empty()).count(),
            }),
            &[],
        )
        .await?;
    store.close().await;
    signal(config).await;
    println!(
        "imported {source}: {} structures, {} classes, {} groups; users: {} created, {} updated, {} deactivated",
        report.structures,
        report.classes,
        report.groups,
        report.users_created,
        report.users_updated,
        report.users_deactivated
    );
    Ok(())
}

/// Applies a change of the school through the change layer (`causerie_server::changes`,
/// as the sync API and the console do: validated, written with its audit row, actor
/// `cli`), then tells a running server, which enforces it. `what` names the change in
/// errors.
async fn change(config: &Config, change: Change, what: &str) -> Result<Applied> {
    let moves = change.moves_generation();
    let store = open_store(config).await?;
    let dir = Directory::new(store.snapshot().await?, store.rules().await?);
    let applied = changes::apply(&store, &dir, &Actor::Cli, change).await;
    store.close().await;
    let applied = applied.map_err(|e| match e {
        ChangeError::Invalid(e) => anyhow::anyhow!("{what} is refused, nothing was changed: {e}"),
        ChangeError::NotFound => anyhow::anyhow!("{what}: not found, nothing was changed"),
        other => anyhow::anyhow!("{what}: {other}"),
    })?;
    if moves {
        signal(config).await;
    }
    Ok(applied)
}

/// Tells a running server on the same data directory that the directory, rules or access
/// changed, and waits (at most a few seconds) until it applies the change: when the
/// command returns, the running server decides every stanza with the new rules.
async fn signal(config: &Config) {
    let generation = match open_store(config).await {
        Ok(store) => {
            let g = store.generation().await;
            store.close().await;
            g.ok()
        }
        Err(_) => None,
    };
    if let Err(e) = causerie_server::signal_change(&config.data_dir) {
        eprintln!(
            "warning: could not signal the change to a running server ({e}); it applies within a second"
        );
        return;
    }
    let Some(generation) = generation else {
        return;
    };
    let applied =
        causerie_server::wait_applied(&config.data_dir, generation, Duration::from_secs(5)).await;
    if applied == causerie_server::Applied::NotYet {
        eprintln!(
            "warning: the running server has not applied the change yet; it applies within a second"
        );
    }
}

async fn rules(cmd: RulesCommand, config: &Config) -> Result<()> {
    let store = open_store(config).await?;
    let known = |id: &str, snapshot: &causerie_ent::Snapshot| {
        snapshot.structures.iter().any(|s| s.id == id)
    };
    let snapshot = store.snapshot().await?;
    match cmd {
        RulesCommand::Show { structure } => {
            if !known(&structure, &snapshot) {
                bail!("no structure `{structure}` in the directory");
            }
            let stored = store.rules().await?.remove(&structure);
            let custom = stored.is_some();
            let rules = stored.unwrap_or_else(causerie_ent::default_rules);
            println!("{}", serde_json::to_string_pretty(&rules)?);
            eprintln!(
                "({} rules of {structure})",
                if custom { "custom" } else { "default" }
            );
        }
        RulesCommand::Set { structure, file } => {
            if !known(&structure, &snapshot) {
                bail!("no structure `{structure}` in the directory");
            }
            let json = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let rules = causerie_ent::parse_rules(&json).map_err(|e| {
                anyhow::anyhow!("{} is refused, nothing was changed: {e}", file.display())
            })?;
            let n = rules.len();
            let what = file.display().to_string();
            change(
                config,
                Change::SetRules {
                    structure: structure.clone(),
                    rules: Some(rules),
                },
                &what,
            )
            .await?;
            println!("{n} rules set for {structure}");
        }
        RulesCommand::Reset { structure } => {
            change(
                config,
                Change::SetRules {
                    structure: structure.clone(),
                    rules: None,
                },
                &format!("the rules of {structure}"),
            )
            .await?;
            println!("default rules restored for {structure}");
        }
    }
    store.close().await;
    Ok(())
}

async fn access(cmd: AccessCommand, config: &Config) -> Result<()> {
    let store = open_store(config).await?;
    match cmd {
        AccessCommand::Set {
            structure,
            enabled,
            profiles,
        } => {
            let known = store
                .snapshot()
                .await?
                .structures
                .iter()
                .any(|s| s.id == structure);
            if !known {
                bail!("no structure `{structure}` in the directory");
            }
            let profiles = match profiles {
                None => Profile::ALL.to_vec(),
                Some(list) => list
                    .iter()
                    .map(|p| {
                        Profile::parse(p.trim()).with_context(|| {
                            format!("unknown profile `{p}` (expected student, relative, teacher, personnel or guest)")
                        })
                    })
                    .collect::<Result<Vec<_>>>()?,
            };
            change(
                config,
                Change::SetAccess {
                    structure: structure.clone(),
                    access: Access { enabled, profiles },
                },
                &format!("the access of {structure}"),
            )
            .await?;
            println!("access for {structure} updated");
        }
        AccessCommand::Show { structure } => {
            let a = store.access(&structure).await?;
            let names: Vec<_> = a.profiles.iter().map(|p| p.as_str()).collect();
            println!(
                "{structure}: chat {}, profiles: {}",
                if a.enabled { "on" } else { "off" },
                names.join(",")
            );
            // Its collectivités narrow it: say what is in force.
            let settings =
                causerie_store::CollectiviteStore::all_collectivite_access(&store).await?;
            let above: Vec<Access> = store
                .snapshot()
                .await?
                .collectivites()
                .iter()
                .filter(|c| c.structures.contains(&structure))
                .filter_map(|c| settings.get(&c.id).cloned())
                .collect();
            if !above.is_empty()
                && let Some(e) = causerie_ent::collectivite::effective(Some(&a), &above)
            {
                let names: Vec<_> = e.profiles.iter().map(|p| p.as_str()).collect();
                println!(
                    "{structure}: effective under its collectivités: chat {}, profiles: {}",
                    if e.enabled { "on" } else { "off" },
                    names.join(",")
                );
            }
        }
    }
    store.close().await;
    Ok(())
}

/// Writes a reader's access to reports in the audit log (actor `cli`).
async fn audit_report_read(
    store: &causerie_store::Store,
    action: &str,
    structure: &str,
    target: Option<String>,
) -> Result<()> {
    store
        .audit(&causerie_store::NewAudit {
            actor: "cli".into(),
            action: action.into(),
            structure: Some(structure.into()),
            target,
            before: None,
            after: None,
        })
        .await?;
    Ok(())
}

fn stamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

async fn reports(cmd: ReportsCommand, config: &Config) -> Result<()> {
    use causerie_store::{ReportStatus, ReportStore};
    match cmd {
        ReportsCommand::List { structure, limit } => {
            let store = open_store(config).await?;
            let list = store.reports(&structure, limit.clamp(1, 10_000)).await?;
            audit_report_read(&store, "report.list", &structure, None).await?;
            store.close().await;
            for r in list {
                println!(
                    "{}\t{}\t{}\t{} -> {}{}\t{}",
                    r.id,
                    stamp(r.created_ms),
                    r.status.as_str(),
                    r.reporter,
                    r.reported,
                    r.room.map(|x| format!(" (room {x})")).unwrap_or_default(),
                    r.reason.as_str()
                );
            }
        }
        ReportsCommand::Show { id } => {
            let store = open_store(config).await?;
            let d = store.report(id).await?;
            if let Some(d) = &d {
                audit_report_read(
                    &store,
                    "report.read",
                    &d.report.structure,
                    Some(id.to_string()),
                )
                .await?;
            }
            store.close().await;
            let d = d.ok_or_else(|| anyhow::anyhow!("report {id}: not found"))?;
            let r = &d.report;
            println!("report {} of {} ({})", r.id, r.structure, r.status.as_str());
            println!(
                "made {} by {} about {}",
                stamp(r.created_ms),
                r.reporter,
                r.reported
            );
            if let Some(room) = &r.room {
                println!("in room {room}");
            }
            println!("reason: {}; text: {:?}", r.reason.as_str(), r.text);
            println!("messages:");
            for m in &d.messages {
                let body = m
                    .stanza
                    .parse::<causerie_proto::Element>()
                    .ok()
                    .and_then(|e| e.children().find(|c| c.name() == "body").map(|b| b.text()))
                    .unwrap_or_default();
                println!(
                    "{} {} {}: {:?}",
                    if m.reported { "*" } else { " " },
                    stamp(m.stamp_ms),
                    m.sender,
                    body
                );
            }
            println!("notes:");
            for n in &d.notes {
                println!("  {} {}: {:?}", stamp(n.created_ms), n.author, n.text);
            }
        }
        ReportsCommand::Status { id, status } => {
            let status = ReportStatus::parse(&status).ok_or_else(|| {
                anyhow::anyhow!("unknown status {status:?}: new, in_progress or closed")
            })?;
            let store = open_store(config).await?;
            let done = store
                .set_report_status_audited(id, status, "cli", chrono::Utc::now().timestamp_millis())
                .await;
            store.close().await;
            let before = done.map_err(|e| anyhow::anyhow!("report {id}: {e}"))?;
            println!("report {id}: {} -> {}", before.as_str(), status.as_str());
        }
        ReportsCommand::Note { id, text } => {
            let text = text.trim();
            if text.is_empty() || text.chars().count() > 2000 {
                anyhow::bail!("a note has 1 to 2000 characters");
            }
            let store = open_store(config).await?;
            let done = store
                .add_report_note_audited(id, "cli", text, chrono::Utc::now().timestamp_millis())
                .await;
            store.close().await;
            done.map_err(|e| anyhow::anyhow!("report {id}: {e}"))?;
            println!("report {id}: note added");
        }
        ReportsCommand::Staff {
            structure,
            logins,
            reset,
        } => {
            if !reset && logins.is_empty() {
                anyhow::bail!("name at least one login, or --reset");
            }
            change(
                config,
                Change::SetSafetyStaff {
                    structure: structure.clone(),
                    logins: (!reset).then_some(logins.clone()),
                },
                &format!("the safety staff of {structure}"),
            )
            .await?;
            if reset {
                println!("safety staff of {structure}: its local administrators (the default)");
            } else {
                println!("safety staff of {structure}: {}", logins.join(" "));
            }
        }
    }
    Ok(())
}

async fn archive(cmd: ArchiveCommand, config: &Config) -> Result<()> {
    let default = config.archive.retention;
    match cmd {
        ArchiveCommand::Show { structure } => {
            let store = open_store(config).await?;
            let own = store.retention(&structure).await?;
            store.close().await;
            match own {
                Some(r) => println!("{structure}: {} (its own)", r.as_text()),
                None => println!("{structure}: {} (the default)", default.as_text()),
            }
        }
        ArchiveCommand::Retention {
            structure,
            retention,
        } => {
            let retention = Retention::parse(&retention).map_err(|e| anyhow::anyhow!(e))?;
            change(
                config,
                Change::SetRetention {
                    structure: structure.clone(),
                    retention: Some(retention),
                },
                &format!("the archive retention of {structure}"),
            )
            .await?;
            println!("archive retention of {structure}: {}", retention.as_text());
        }
        ArchiveCommand::Reset { structure } => {
            change(
                config,
                Change::SetRetention {
                    structure: structure.clone(),
                    retention: None,
                },
                &format!("the archive retention of {structure}"),
            )
            .await?;
            println!(
                "archive retention of {structure}: the default ({})",
                default.as_text()
            );
        }
        ArchiveCommand::Purge => {
            let store = open_store(config).await?;
            let n = causerie_server::services::retention::purge_now(&store, &config.archive).await;
            let rooms = causerie_server::services::retention::purge_rooms_now(
                &store,
                config.muc.archive_retention_days,
            )
            .await;
            // Departed users first: their shared files go with the files' purge.
            let classes =
                causerie_server::services::retention::purge_classes_now(&store, &config.archive)
                    .await;
            let files =
                causerie_server::services::retention::purge_uploads_now(&store, config).await;
            store.close().await;
            let classes = classes?;
            if !classes.departed.is_empty() {
                signal(config).await;
            }
            println!("{} archived messages purged", n?);
            println!("{} room messages purged", rooms?);
            println!("{} shared files purged", files?);
            println!("{} closed reports purged", classes.reports);
            println!("{} audit log rows purged", classes.audit_rows);
            println!(
                "{} departed users purged{}",
                classes.departed.len(),
                if classes.departed.is_empty() {
                    String::new()
                } else {
                    format!(": {}", classes.departed.join(", "))
                }
            );
        }
    }
    Ok(())
}

/// A structure's file sharing now: (settings, its own?).
async fn upload_now(
    config: &Config,
    structure: &str,
) -> Result<(causerie_ent::UploadSettings, bool)> {
    let store = open_store(config).await?;
    let snapshot = store.snapshot().await?;
    let Some(s) = snapshot.structures.iter().find(|s| s.id == structure) else {
        store.close().await;
        bail!("structure {structure} not found");
    };
    let now = causerie_server::features::upload::structure_settings(
        &store,
        &config.upload.default_settings(),
        structure,
        &s.name,
    )
    .await;
    store.close().await;
    Ok(now?)
}

async fn app_password(cmd: AppPasswordCommand, config: &Config) -> Result<()> {
    use causerie_store::AppPasswordStore;
    let when = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default()
    };
    match cmd {
        AppPasswordCommand::Add { jid, label } => {
            let user = localpart(&jid, config)?;
            let store = open_store(config).await?;
            let made = app_passwords::new_secret(&store, &user, config.auth.scram_iterations).await;
            store.close().await;
            let (secret, keys) = made?;
            let applied = change(
                config,
                Change::AddAppPassword {
                    login: user.clone(),
                    label,
                    keys: Box::new(keys),
                },
                &format!("an app password for {user}"),
            )
            .await?;
            let id = applied.app_password.map(|a| a.id).unwrap_or_default();
            println!("app password {id} of {user}@{}: {secret}", config.domain);
            println!("(shown once: the server keeps only its SCRAM keys)");
        }
        AppPasswordCommand::List { jid } => {
            let user = localpart(&jid, config)?;
            let store = open_store(config).await?;
            let exists = store.account_exists(&user).await;
            let list = store.app_passwords(&user).await;
            store.close().await;
            if !exists? {
                bail!("no account {jid}");
            }
            for a in list? {
                println!(
                    "{}\t{}\tcreated {} by {}\tlast used {}",
                    a.id,
                    a.label,
                    when(a.created_ms),
                    a.created_by.as_deref().unwrap_or(&user),
                    a.last_used_ms.map(when).unwrap_or_else(|| "never".into())
                );
            }
        }
        AppPasswordCommand::Revoke { jid, id } => {
            let user = localpart(&jid, config)?;
            let applied = change(
                config,
                Change::RevokeAppPassword {
                    login: user.clone(),
                    id,
                },
                &format!("app password {id} of {user}"),
            )
            .await?;
            let label = applied.app_password.map(|a| a.label).unwrap_or_default();
            println!(
                "app password {id} ({label}) of {user}@{} revoked",
                config.domain
            );
        }
    }
    Ok(())
}

async fn app_password_policy(cmd: AppPasswordsCommand, config: &Config) -> Result<()> {
    use causerie_ent::app_passwords::Policy;
    use causerie_store::AppPasswordStore;
    let on_off = |b: bool| if b { "on" } else { "off" };
    let flag = |v: &str| match v {
        "on" | "true" => Ok(true),
        "off" | "false" => Ok(false),
        other => Err(anyhow::anyhow!("`{other}` is not on or off")),
    };
    let (structure, policy) = match cmd {
        AppPasswordsCommand::Show { structure } => {
            let store = open_store(config).await?;
            let own = store.app_password_policy(&structure).await;
            store.close().await;
            let own = own?;
            let p = own.unwrap_or_default();
            println!(
                "{structure}: app passwords for pupils {}, for adults {} ({})",
                on_off(p.pupils),
                on_off(p.adults),
                if own.is_some() {
                    "its own"
                } else {
                    "the default"
                }
            );
            return Ok(());
        }
        AppPasswordsCommand::Set {
            structure,
            pupils,
            adults,
        } => (
            structure,
            Some(Policy {
                pupils: flag(&pupils)?,
                adults: flag(&adults)?,
            }),
        ),
        AppPasswordsCommand::Reset { structure } => (structure, None),
    };
    change(
        config,
        Change::SetAppPasswords {
            structure: structure.clone(),
            policy,
        },
        &format!("the app passwords of {structure}"),
    )
    .await?;
    let p = policy.unwrap_or_default();
    println!(
        "{structure}: app passwords for pupils {}, for adults {}",
        on_off(p.pupils),
        on_off(p.adults)
    );
    Ok(())
}

async fn photos(cmd: PhotosCommand, config: &Config) -> Result<()> {
    use causerie_store::PrivacyStore;
    let (structure, allowed) = match cmd {
        PhotosCommand::Show { structure } => {
            let store = open_store(config).await?;
            let own = store.pupil_photos(&structure).await;
            store.close().await;
            match own? {
                Some(on) => println!(
                    "{structure}: pupils' photos {} (its own)",
                    if on { "on" } else { "off" }
                ),
                None => println!("{structure}: pupils' photos off (the default)"),
            }
            return Ok(());
        }
        PhotosCommand::Set { structure, value } => {
            let on = match value.as_str() {
                "on" | "true" => true,
                "off" | "false" => false,
                other => bail!("`{other}` is not on or off"),
            };
            (structure, Some(on))
        }
        PhotosCommand::Reset { structure } => (structure, None),
    };
    change(
        config,
        Change::SetPupilPhotos {
            structure: structure.clone(),
            allowed,
        },
        &format!("the pupils' photos of {structure}"),
    )
    .await?;
    println!(
        "{structure}: pupils' photos {}",
        match allowed {
            Some(true) => "on",
            Some(false) => "off",
            None => "off (the default)",
        }
    );
    Ok(())
}

async fn upload(cmd: UploadCommand, config: &Config) -> Result<()> {
    let show = |structure: &str, s: &causerie_ent::UploadSettings, own: bool| {
        println!(
            "{structure}: file sharing {}, at most {} bytes, types {} ({})",
            if s.enabled { "on" } else { "off" },
            s.max_bytes,
            s.types.join(","),
            if own { "its own" } else { "the default" }
        );
    };
    match cmd {
        UploadCommand::Show { structure } => {
            let (s, own) = upload_now(config, &structure).await?;
            show(&structure, &s, own);
        }
        UploadCommand::Set {
            structure,
            enabled,
            max_bytes,
            types,
        } => {
            let (mut s, _) = upload_now(config, &structure).await?;
            if let Some(e) = enabled {
                s.enabled = e;
            }
            if let Some(m) = max_bytes {
                s.max_bytes = m;
            }
            if let Some(t) = types {
                s.types = t;
            }
            change(
                config,
                Change::SetUpload {
                    structure: structure.clone(),
                    settings: Some(s),
                },
                &format!("the file sharing of {structure}"),
            )
            .await?;
            let (s, own) = upload_now(config, &structure).await?;
            show(&structure, &s, own);
        }
        UploadCommand::Reset { structure } => {
            change(
                config,
                Change::SetUpload {
                    structure: structure.clone(),
                    settings: None,
                },
                &format!("the file sharing of {structure}"),
            )
            .await?;
            let (s, own) = upload_now(config, &structure).await?;
            show(&structure, &s, own);
        }
    }
    Ok(())
}

/// A structure's quiet hours now: (setting in force, its own?); Err when the structure
/// does not exist.
async fn quiet_now(config: &Config, structure: &str) -> Result<(Option<QuietHours>, bool)> {
    let store = open_store(config).await?;
    let known = store
        .snapshot()
        .await?
        .structures
        .iter()
        .any(|s| s.id == structure);
    let own = store.quiet_hours(structure).await;
    store.close().await;
    if !known {
        bail!("structure {structure} not found");
    }
    Ok(match own? {
        Some(q) => (Some(q), true),
        None => (
            config.quiet_hours.default.then(|| {
                let mut q = QuietHours::school_default();
                q.time_zone = config.quiet_hours.time_zone.clone();
                q
            }),
            false,
        ),
    })
}

async fn quiet(cmd: QuietCommand, config: &Config) -> Result<()> {
    let show = |structure: &str, q: &Option<QuietHours>, own: bool| {
        let whose = if own { "its own" } else { "the default" };
        match q {
            Some(q) if !q.windows.is_empty() => {
                let windows: Vec<String> = q.windows.iter().map(|w| w.to_string()).collect();
                println!(
                    "{structure}: quiet hours {} ({}, {whose})",
                    windows.join(" "),
                    q.time_zone
                );
            }
            _ => println!("{structure}: no quiet hours ({whose})"),
        }
    };
    let structure = match &cmd {
        QuietCommand::Show { structure }
        | QuietCommand::Set { structure, .. }
        | QuietCommand::Reset { structure } => structure.clone(),
    };
    let what = format!("the quiet hours of {structure}");
    match cmd {
        QuietCommand::Show { .. } => {}
        QuietCommand::Set {
            time_zone, windows, ..
        } => {
            let windows = windows
                .iter()
                .map(|w| QuietWindow::parse(w))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| anyhow::anyhow!("{what} is refused, nothing was changed: {e}"))?;
            let quiet = QuietHours {
                time_zone: time_zone.unwrap_or_else(|| config.quiet_hours.time_zone.clone()),
                windows,
            };
            change(
                config,
                Change::SetQuietHours {
                    structure: structure.clone(),
                    quiet: Some(quiet),
                },
                &what,
            )
            .await?;
        }
        QuietCommand::Reset { .. } => {
            change(
                config,
                Change::SetQuietHours {
                    structure: structure.clone(),
                    quiet: None,
                },
                &what,
            )
            .await?;
        }
    }
    let (q, own) = quiet_now(config, &structure).await?;
    show(&structure, &q, own);
    Ok(())
}

async fn shutdown(cmd: ShutdownCommand, config: &Config) -> Result<()> {
    let structure = match &cmd {
        ShutdownCommand::Show { structure } | ShutdownCommand::Set { structure, .. } => {
            structure.clone()
        }
    };
    if let ShutdownCommand::Set { mode, message, .. } = cmd {
        let Some(mode) = ShutdownMode::parse(&mode) else {
            bail!("unknown mode {mode:?}: normal, staff_to_families, read_only or off");
        };
        change(
            config,
            Change::SetShutdown {
                structure: structure.clone(),
                shutdown: Shutdown { mode, message },
            },
            &format!("the kill switch of {structure}"),
        )
        .await?;
    }
    let store = open_store(config).await?;
    let known = store
        .snapshot()
        .await?
        .structures
        .iter()
        .any(|s| s.id == structure);
    let s = store.shutdown(&structure).await;
    store.close().await;
    if !known {
        bail!("structure {structure} not found");
    }
    let s = s?;
    match &s.message {
        Some(m) => println!("{structure}: kill switch {} « {m} »", s.mode.as_str()),
        None => println!("{structure}: kill switch {}", s.mode.as_str()),
    }
    Ok(())
}

/// An account's login from `LOGIN` or `LOGIN@DOMAIN`.
fn admin_login(given: &str, config: &Config) -> Result<String> {
    if given.contains('@') {
        localpart(given, config)
    } else {
        auth::localpart(given).with_context(|| format!("`{given}` is not a valid login"))
    }
}

async fn admin(cmd: AdminCommand, config: &Config) -> Result<()> {
    let store = open_store(config).await?;
    match cmd {
        AdminCommand::Add { login, superadmin } => {
            if !superadmin {
                bail!(
                    "say `--super` to make a super-administrator; a local administrator is made with `causerie admin grant LOGIN STRUCTURE`"
                );
            }
            let login = admin_login(&login, config)?;
            let done = change(
                config,
                Change::SetSuper {
                    login: login.clone(),
                    on: true,
                },
                &format!("`{login}`"),
            )
            .await
            .map_err(|_| anyhow::anyhow!("no account `{login}`"))?;
            if done.changed {
                println!("{login} is now a super-administrator");
            } else {
                println!("{login} already was a super-administrator");
            }
        }
        AdminCommand::Grant { login, structure } => {
            let login = admin_login(&login, config)?;
            let done = change(
                config,
                Change::Grant {
                    login: login.clone(),
                    structures: vec![structure.clone()],
                },
                "the grant",
            )
            .await?;
            if done.changed {
                println!("{login} now administers {structure}");
            } else {
                println!("{login} already administered {structure}");
            }
        }
        AdminCommand::Revoke {
            login,
            structure,
            superadmin,
        } => {
            let login = admin_login(&login, config)?;
            match (structure, superadmin) {
                (None, true) => {
                    let done = change(
                        config,
                        Change::SetSuper {
                            login: login.clone(),
                            on: false,
                        },
                        &format!("`{login}`"),
                    )
                    .await
                    .map_err(|_| anyhow::anyhow!("no account `{login}`"))?;
                    if done.changed {
                        println!("{login} is no longer a super-administrator");
                    } else {
                        println!("{login} was not a super-administrator (stored)");
                    }
                }
                (Some(structure), false) => {
                    change(
                        config,
                        Change::Revoke {
                            login: login.clone(),
                            structure: structure.clone(),
                        },
                        "the revocation",
                    )
                    .await
                    .map_err(|_| {
                        anyhow::anyhow!(
                            "{login} had no grant for {structure} (grants from the directory import change with the import)"
                        )
                    })?;
                    println!("{login} no longer administers {structure}");
                }
                _ => bail!("give either a STRUCTURE or `--super`"),
            }
        }
        AdminCommand::List => {
            for login in &config.admin.super_admins {
                println!("{login}\tsuper\t(config)");
            }
            for login in store.super_admins().await? {
                println!("{login}\tsuper\t(stored)");
            }
            for g in store.admin_grants().await? {
                println!("{}\t{}\t({})", g.login, g.structure, g.source.as_str());
            }
            for (login, id) in
                causerie_store::CollectiviteStore::collectivite_grants(&store).await?
            {
                println!("{login}\tcollectivite {id}\t(grant)");
            }
        }
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
