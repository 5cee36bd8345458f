//! Bulk provisioning of benchmark accounts `PREFIX{i}` and their rosters.
//!
//! Users are grouped in "classes" of `contacts + 1`: each member has every other
//! member of its class as a mutual contact (subscription both on both sides).
//!
//! - Causerie: written through the store crate (`AccountStore::create_account`,
//!   `RosterStore::put_roster_item`), far faster than one `causerie user add`
//!   process per account. The credentials are derived ONCE per password and reused:
//!   all bench accounts share one salt (a real deployment gives each its own).
//! - Prosody: files in Prosody's own internal storage format (util.datamanager,
//!   `HOST/accounts/USER.dat` with SCRAM keys as mod_auth_internal_hashed keeps
//!   them, `HOST/roster/USER.dat` as mod_roster keeps it). The same directory is
//!   then imported into ejabberd by its own `ejabberdctl import_prosody`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};
use causerie_proto::scram::{self, ScramHash};
use causerie_store::{AccountStore, RosterItem, RosterStore, Store, StoreError, Subscription};

#[derive(Debug, Clone, clap::Args)]
pub struct Accounts {
    /// Number of accounts.
    #[arg(long)]
    pub n: u64,
    #[arg(long, default_value = "u")]
    pub prefix: String,
    #[arg(long, default_value_t = 1)]
    pub first: u64,
    #[arg(long, default_value = "bench")]
    pub password: String,
    #[arg(long, default_value = "localhost")]
    pub domain: String,
    /// Mutual contacts per account (classes of CONTACTS + 1).
    #[arg(long, default_value_t = 30)]
    pub contacts: u64,
    /// PBKDF2 iterations of the stored SCRAM keys.
    #[arg(long, default_value_t = 4096)]
    pub iterations: u32,
}

impl Accounts {
    /// Indices (0-based) of the class-mates of `i`.
    fn contacts_of(&self, i: u64) -> impl Iterator<Item = u64> + use<> {
        let size = self.contacts + 1;
        let start = i / size * size;
        let end = (start + size).min(self.n);
        (start..end).filter(move |&j| j != i)
    }

    fn user(&self, i: u64) -> String {
        format!("{}{}", self.prefix, self.first + i)
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum Provision {
    /// Accounts and rosters in a Causerie database (the server may be running).
    Causerie {
        /// The store URL, as `[storage] url` (sqlite://DATA_DIR/causerie.db?mode=rwc).
        #[arg(long)]
        store_url: String,
        /// Parallel writers.
        #[arg(long, default_value_t = 4)]
        jobs: u64,
        #[command(flatten)]
        accounts: Accounts,
    },
    /// Accounts and rosters as Prosody's internal storage files (Prosody stopped).
    Prosody {
        /// Prosody's data_path.
        #[arg(long)]
        data_dir: PathBuf,
        /// SHA-1 (Prosody's default `password_hash`, importable into ejabberd) or SHA-256.
        #[arg(long, default_value = "SHA-1")]
        hash: String,
        #[command(flatten)]
        accounts: Accounts,
    },
}

pub async fn run(cmd: Provision) -> Result<()> {
    match cmd {
        Provision::Causerie {
            store_url,
            jobs,
            accounts,
        } => causerie(&store_url, jobs, accounts).await,
        Provision::Prosody {
            data_dir,
            hash,
            accounts,
        } => prosody(&data_dir, &hash, &accounts),
    }
}

async fn causerie(url: &str, jobs: u64, a: Accounts) -> Result<()> {
    let t0 = Instant::now();
    let store = Arc::new(Store::connect(url).await.context("open the store")?);
    // One derivation for every account: they share the salt (documented above).
    let creds = causerie_server::auth::credentials_for(&a.password, a.iterations)
        .map_err(|e| anyhow::anyhow!("unusable password: {e}"))?;
    let a = Arc::new(a);
    let next = Arc::new(AtomicU64::new(0));
    let created = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..jobs.max(1) {
        let (store, creds, a, next, created) = (
            store.clone(),
            creds.clone(),
            a.clone(),
            next.clone(),
            created.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= a.n {
                    return Ok::<_, anyhow::Error>(());
                }
                match store.create_account(&a.user(i), &creds).await {
                    Ok(()) => {
                        created.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(StoreError::AlreadyExists) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let accounts_s = t0.elapsed().as_secs_f64();
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..jobs.max(1) {
        let (store, a, next) = (store.clone(), a.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= a.n {
                    return Ok::<_, anyhow::Error>(());
                }
                let user = a.user(i);
                for j in a.contacts_of(i) {
                    let mut item = RosterItem::new(format!("{}@{}", a.user(j), a.domain));
                    item.subscription = Subscription::Both;
                    store.put_roster_item(&user, &item).await?;
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    store.close().await;
    eprintln!(
        "causerie: {} accounts ({} new) in {:.1}s, rosters of up to {} contacts in {:.1}s",
        a.n,
        created.load(Ordering::Relaxed),
        accounts_s,
        a.contacts,
        t0.elapsed().as_secs_f64() - accounts_s
    );
    Ok(())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn prosody(data_dir: &std::path::Path, hash: &str, a: &Accounts) -> Result<()> {
    let t0 = Instant::now();
    let host = prosody_encode(&a.domain);
    let accounts_dir = data_dir.join(&host).join("accounts");
    let roster_dir = data_dir.join(&host).join("roster");
    std::fs::create_dir_all(&accounts_dir)?;
    std::fs::create_dir_all(&roster_dir)?;
    let scram_hash = match hash {
        "SHA-1" => ScramHash::Sha1,
        "SHA-256" => ScramHash::Sha256,
        other => anyhow::bail!("unsupported Prosody password_hash {other}"),
    };
    // One shared salt, as for Causerie; Prosody's salts are strings (UUIDs).
    let salt = format!("causerie-bench-{}", hex(&rand::random::<[u8; 8]>()));
    let keys = scram::derive_keys_with_salt(scram_hash, &a.password, salt.as_bytes(), a.iterations)
        .map_err(|e| anyhow::anyhow!("unusable password: {e}"))?;
    let account = format!(
        "return {{\n\t[\"iteration_count\"] = {};\n\t[\"salt\"] = \"{}\";\n\t[\"server_key\"] = \"{}\";\n\t[\"stored_key\"] = \"{}\";\n}};\n",
        a.iterations,
        salt,
        hex(&keys.server_key),
        hex(&keys.stored_key)
    );
    for i in 0..a.n {
        let user = prosody_encode(&a.user(i));
        std::fs::write(accounts_dir.join(format!("{user}.dat")), &account)?;
        let mut roster = String::from(
            "return {\n\t[false] = {\n\t\t[\"pending\"] = {};\n\t\t[\"version\"] = 1;\n\t};\n",
        );
        for j in a.contacts_of(i) {
            roster.push_str(&format!(
                "\t[\"{}@{}\"] = {{\n\t\t[\"groups\"] = {{}};\n\t\t[\"subscription\"] = \"both\";\n\t}};\n",
                a.user(j),
                a.domain
            ));
        }
        roster.push_str("};\n");
        std::fs::write(roster_dir.join(format!("{user}.dat")), roster)?;
    }
    eprintln!(
        "prosody: {} accounts with rosters written under {} in {:.1}s",
        a.n,
        data_dir.display(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

/// util.datamanager's path encoding: every non-alphanumeric byte as %xx.
fn prosody_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02x}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_of_contacts() {
        let a = Accounts {
            n: 7,
            prefix: "u".into(),
            first: 1,
            password: "p".into(),
            domain: "localhost".into(),
            contacts: 2,
            iterations: 4096,
        };
        assert_eq!(a.contacts_of(0).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(a.contacts_of(4).collect::<Vec<_>>(), vec![3, 5]);
        assert_eq!(a.contacts_of(6).collect::<Vec<_>>(), Vec::<u64>::new());
        assert_eq!(prosody_encode("local.host"), "local%2ehost");
    }
}
