//! Bulk provisioning of benchmark accounts `PREFIX{i}` and their rosters.
//!
//! Users are grouped in classes: each member has every other member of its class as a
//! mutual contact (subscription both on both sides). Classes are consecutive indices
//! starting at the first account, which is what keeps the scenarios' traffic inside a
//! class (see [`School`]).
//!
//! - Causerie, as a school runs it (`provision causerie-school`): the accounts are
//!   directory users of a generated school ([`School`]: collèges, classes of 30 pupils,
//!   two teachers per class, the default communication rules), written in one
//!   `DirectoryStore::import_snapshot` as `causerie directory import` does, then the
//!   rosters of classmates.
//! - Causerie, plain accounts (`provision causerie`): written through the store crate
//!   (`AccountStore::create_account`, `RosterStore::put_roster_item`), far faster than
//!   one `causerie user add` process per account; classes of `contacts + 1`. Plain
//!   accounts are outside the directory, so the school's rules never apply to them.
//! - Either way the SCRAM credentials are derived ONCE per password and reused: all bench
//!   accounts share one salt (a real deployment gives each its own; the server's work per
//!   login does not depend on it), which makes provisioning 19,000 users a matter of
//!   seconds instead of one PBKDF2 pair per user.
//! - Prosody: files in Prosody's own internal storage format (util.datamanager,
//!   `HOST/accounts/USER.dat` with SCRAM keys as mod_auth_internal_hashed keeps
//!   them, `HOST/roster/USER.dat` as mod_roster keeps it). The same directory is
//!   then imported into ejabberd by its own `ejabberdctl import_prosody`.

use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use causerie_ent::{Class, Profile, Snapshot, Structure, User, is_valid_login};
use causerie_proto::scram::{self, ScramHash};
use causerie_store::{
    AccountStore, Credentials, DirectoryStore, RosterItem, RosterStore, Store, StoreError,
    Subscription,
};

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
    /// Mutual contacts per account (classes of CONTACTS + 1); 30 when not given. Not for
    /// the school, whose pupils' contacts are their classmates (`--class-size`).
    #[arg(long)]
    pub contacts: Option<u64>,
    /// PBKDF2 iterations of the stored SCRAM keys.
    #[arg(long, default_value_t = 4096)]
    pub iterations: u32,
}

impl Accounts {
    fn contacts(&self) -> u64 {
        self.contacts.unwrap_or(30)
    }

    /// Indices (0-based) of the class-mates of `i`.
    fn contacts_of(&self, i: u64) -> impl Iterator<Item = u64> + use<> {
        let size = self.contacts() + 1;
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
    /// Directory users of a generated school, with their classmates as contacts, in a
    /// Causerie database (the server may be running): what a school runs.
    CauserieSchool {
        /// The store URL, as `[storage] url` (sqlite://DATA_DIR/causerie.db?mode=rwc).
        #[arg(long)]
        store_url: String,
        /// Parallel roster writers.
        #[arg(long, default_value_t = 4)]
        jobs: u64,
        /// Pupils per class; each pupil's contacts are his classmates, so `--contacts`
        /// does not apply. Keep it even and a multiple of the rooms' size, so that the
        /// chat pairs and the rooms stay within one class.
        #[arg(long, default_value_t = 30)]
        class_size: u64,
        /// Classes per structure: 20 is a collège of four year groups (6e to 3e) of five
        /// classes, 600 pupils.
        #[arg(long, default_value_t = 20)]
        classes_per_structure: u64,
        #[command(flatten)]
        accounts: Accounts,
    },
    /// Plain accounts (outside the directory) and rosters in a Causerie database (the
    /// server may be running).
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
        Provision::CauserieSchool {
            store_url,
            jobs,
            class_size,
            classes_per_structure,
            accounts,
        } => {
            causerie_school(
                &store_url,
                jobs,
                class_size,
                classes_per_structure,
                accounts,
            )
            .await
        }
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

/// One derivation for every account: they share the salt (see the module's doc).
fn shared_credentials(a: &Accounts) -> Result<Credentials> {
    causerie_server::auth::credentials_for(&a.password, a.iterations)
        .map_err(|e| anyhow::anyhow!("unusable password: {e}"))
}

async fn causerie(url: &str, jobs: u64, a: Accounts) -> Result<()> {
    let t0 = Instant::now();
    let store = Arc::new(Store::connect(url).await.context("open the store")?);
    let creds = shared_credentials(&a)?;
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
    write_rosters(&store, &a, jobs).await?;
    store.close().await;
    eprintln!(
        "causerie: {} plain accounts ({} new) in {:.1}s, rosters of up to {} contacts in {:.1}s",
        a.n,
        created.load(Ordering::Relaxed),
        accounts_s,
        a.contacts(),
        t0.elapsed().as_secs_f64() - accounts_s
    );
    Ok(())
}

async fn causerie_school(
    url: &str,
    jobs: u64,
    class_size: u64,
    classes_per_structure: u64,
    mut a: Accounts,
) -> Result<()> {
    if class_size == 0 || classes_per_structure == 0 {
        bail!("--class-size and --classes-per-structure must be positive");
    }
    if a.n == 0 {
        bail!("--n must be positive");
    }
    if a.contacts.is_some() {
        bail!(
            "--contacts does not apply to the school: a pupil's contacts are his classmates (--class-size)"
        );
    }
    // The scenarios name accounts PREFIX{i}: the prefix must make directory logins.
    if !is_valid_login(&a.user(0)) || !is_valid_login(&School::teacher_login(&a, 0)) {
        bail!(
            "--prefix {:?} does not make valid directory logins (lowercase ASCII letters, \
             digits, '.', '-' and '_')",
            a.prefix
        );
    }
    let t0 = Instant::now();
    let school = School {
        pupils: a.n,
        class_size,
        classes_per_structure,
    };
    let snapshot = school.snapshot(&a);
    causerie_ent::validate(&snapshot)
        .map_err(|e| anyhow::anyhow!("the generated school is refused: {e}"))?;
    let store = Arc::new(Store::connect(url).await.context("open the store")?);
    let creds = shared_credentials(&a)?;
    // import_snapshot takes the credentials already derived, by login: the same ones
    // for every user.
    let credentials: HashMap<String, Credentials> = snapshot
        .users
        .iter()
        .map(|u| (u.login.clone(), creds.clone()))
        .collect();
    let report = store
        .import_snapshot(&snapshot, &credentials, None)
        .await
        .context("import the generated school")?;
    let import_s = t0.elapsed().as_secs_f64();
    a.contacts = Some(class_size - 1);
    let a = Arc::new(a);
    write_rosters(&store, &a, jobs).await?;
    store.close().await;
    eprintln!(
        "causerie: a school of {} pupils in {} class(es) of up to {} in {} collège(s), {} teacher(s) \
         ({} directory users new) imported in {:.1}s; rosters of up to {} classmates in {:.1}s",
        a.n,
        snapshot.classes.len(),
        class_size,
        snapshot.structures.len(),
        snapshot.users.len() as u64 - a.n,
        report.users_created,
        import_s,
        a.contacts(),
        t0.elapsed().as_secs_f64() - import_s
    );
    Ok(())
}

/// Every account's classmates as contacts, subscription both on both sides.
async fn write_rosters(store: &Arc<Store>, a: &Arc<Accounts>, jobs: u64) -> Result<()> {
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
    Ok(())
}

/// The generated school of `provision causerie-school`.
///
/// Pupil `i` (0-based; login `PREFIX{first + i}`) is in class `i / class_size`, and class
/// `k` in structure `k / classes_per_structure`; the last class and structure may be
/// smaller. Classes start at the first account, so the scenarios' traffic stays within
/// one class, where the default rules allow it and everyone is a mutual contact: the chat
/// pairs are accounts (2p, 2p + 1), in one class when `class_size` is even; a room is
/// `size` consecutive accounts starting at a multiple of `size`, in one class when
/// `class_size` is a multiple of `size` (30 and 30 in the benchmark).
///
/// Each structure has as many teachers as classes: teacher `t` teaches classes `t` and
/// `t + 1` of his structure (wrapping), so every class has two teachers and every teacher
/// two classes, as in a collège where a teacher has several classes. Teachers log in as
/// `PREFIX.t{k}`, which no pupil's `PREFIX{digits}` can be; the scenarios do not use them.
/// No custom rules are set: the structures follow `causerie_ent::default_rules`.
#[derive(Debug, Clone, Copy)]
struct School {
    pupils: u64,
    class_size: u64,
    classes_per_structure: u64,
}

impl School {
    fn classes(&self) -> u64 {
        self.pupils.div_ceil(self.class_size)
    }

    fn structures(&self) -> u64 {
        self.classes().div_ceil(self.classes_per_structure)
    }

    fn class_of(&self, pupil: u64) -> u64 {
        pupil / self.class_size
    }

    fn structure_of(&self, class: u64) -> u64 {
        class / self.classes_per_structure
    }

    /// The classes (global indices) of structure `s`.
    fn classes_of(&self, s: u64) -> Range<u64> {
        let first = s * self.classes_per_structure;
        first..(first + self.classes_per_structure).min(self.classes())
    }

    /// The classes teacher `t` (one per class, same numbering) teaches.
    fn taught_by(&self, t: u64) -> Vec<u64> {
        let own = self.classes_of(self.structure_of(t));
        let next = if t + 1 < own.end { t + 1 } else { own.start };
        if next == t { vec![t] } else { vec![t, next] }
    }

    fn structure_id(s: u64) -> String {
        format!("clg{:03}", s + 1)
    }

    fn class_id(&self, k: u64) -> String {
        let s = self.structure_of(k);
        format!(
            "{}-{}",
            Self::structure_id(s),
            k - s * self.classes_per_structure + 1
        )
    }

    /// « 6e A », « 5e A », « 4e A », « 3e A », « 6e B »…: a collège's year groups.
    fn class_name(&self, k: u64) -> String {
        let local = k % self.classes_per_structure;
        let letter = match u8::try_from(local / 4) {
            Ok(l) if l < 26 => char::from(b'A' + l).to_string(),
            _ => (local / 4 + 1).to_string(),
        };
        format!("{}e {letter}", 6 - local % 4)
    }

    fn teacher_login(a: &Accounts, t: u64) -> String {
        format!("{}.t{}", a.prefix, t + 1)
    }

    fn snapshot(&self, a: &Accounts) -> Snapshot {
        let structures = (0..self.structures())
            .map(|s| Structure {
                id: Self::structure_id(s),
                name: format!("Collège {}", s + 1),
            })
            .collect();
        let classes = (0..self.classes())
            .map(|k| Class {
                id: self.class_id(k),
                structure: Self::structure_id(self.structure_of(k)),
                name: self.class_name(k),
            })
            .collect();
        let user = |login: String, last_name: &str, profile, classes: Vec<u64>| {
            let s = self.structure_of(classes[0]);
            User {
                first_name: login.clone(),
                login,
                last_name: last_name.into(),
                profile,
                structures: vec![Self::structure_id(s)],
                classes: classes.into_iter().map(|k| self.class_id(k)).collect(),
                children: Vec::new(),
                password: None,
                admin_of: Vec::new(),
                functions: Vec::new(),
            }
        };
        let pupils = (0..self.pupils)
            .map(|i| user(a.user(i), "Élève", Profile::Student, vec![self.class_of(i)]));
        let teachers = (0..self.classes()).map(|t| {
            let login = Self::teacher_login(a, t);
            user(login, "Professeur", Profile::Teacher, self.taught_by(t))
        });
        Snapshot {
            structures,
            classes,
            users: pupils.chain(teachers).collect(),
            groups: Vec::new(),
            collectivites: None,
        }
    }
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

    fn accounts(n: u64, contacts: u64) -> Accounts {
        Accounts {
            n,
            prefix: "u".into(),
            first: 1,
            password: "p".into(),
            domain: "localhost".into(),
            contacts: Some(contacts),
            iterations: 4096,
        }
    }

    fn school(pupils: u64) -> School {
        School {
            pupils,
            class_size: 30,
            classes_per_structure: 20,
        }
    }

    #[test]
    fn classes_of_contacts() {
        let a = accounts(7, 2);
        assert_eq!(a.contacts_of(0).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(a.contacts_of(4).collect::<Vec<_>>(), vec![3, 5]);
        assert_eq!(a.contacts_of(6).collect::<Vec<_>>(), Vec::<u64>::new());
        assert_eq!(prosody_encode("local.host"), "local%2ehost");
    }

    #[test]
    fn the_school_has_the_expected_shape() {
        // The full run's accounts: 10,000 pupils.
        let s = school(10_000);
        assert_eq!((s.classes(), s.structures()), (334, 17));
        assert_eq!(s.classes_of(16), 320..334);
        // Teachers of a collège teach two of its classes, wrapping at its end.
        assert_eq!(s.taught_by(0), vec![0, 1]);
        assert_eq!(s.taught_by(19), vec![19, 0]);
        assert_eq!(s.taught_by(20), vec![20, 21]);
        assert_eq!(s.taught_by(333), vec![333, 320]);
        // A structure of one class has one teacher for it.
        assert_eq!(school(10).taught_by(0), vec![0]);
        assert_eq!(s.class_id(21), "clg002-2");
        let names: Vec<String> = (0..6).map(|k| s.class_name(k)).collect();
        assert_eq!(names, ["6e A", "5e A", "4e A", "3e A", "6e B", "5e B"]);
    }

    #[test]
    fn the_generated_snapshot_is_valid() {
        for pupils in [1, 29, 30, 40, 601, 10_000] {
            let a = accounts(pupils, 30);
            let snap = school(pupils).snapshot(&a);
            causerie_ent::validate(&snap).unwrap();
            let students = snap
                .users
                .iter()
                .filter(|u| u.profile == Profile::Student)
                .count();
            assert_eq!(students as u64, pupils);
        }
    }

    /// The scenarios' traffic (chat pairs (2p, 2p + 1), rooms of consecutive accounts) is
    /// between classmates, whom the default rules allow to reach each other.
    #[test]
    fn the_scenarios_traffic_stays_within_a_class() {
        let s = school(10_000);
        for p in 0..5_000 {
            assert_eq!(s.class_of(2 * p), s.class_of(2 * p + 1), "pair {p}");
        }
        for size in [30, 10] {
            for r in 0..(10_000 / size) {
                let members = r * size..(r + 1) * size;
                assert!(
                    members
                        .clone()
                        .all(|i| s.class_of(i) == s.class_of(r * size)),
                    "room {r} of {size}"
                );
            }
        }
        let a = accounts(100, 30);
        let dir = causerie_ent::Directory::new(s.snapshot(&a), HashMap::new());
        let may = |x: &str, y: &str| dir.may_reach(x, y).is_allowed();
        // Classmates, both ways; a pupil and the teachers of his collège (rule 6 is
        // two-way), not those of another.
        assert!(may("u1", "u2") && may("u2", "u1") && may("u29", "u30"));
        assert!(may("u1", "u.t1") && may("u1", "u.t2") && !may("u1", "u.t21"));
        // Not across classes: the rules are really there.
        assert!(!may("u30", "u31") && !may("u31", "u30"));
    }
}
