//! The school's communication rules at the server's edge.
//!
//! The rules themselves are pure functions in `causerie-ent`; this module
//! keeps the current [`Directory`] (reloaded whenever the store's directory
//! generation changes, so an import made by another process applies from the
//! next stanza on, without a restart) and turns a refusal into the stanza
//! error users see, in French and English.
//!
//! Accounts outside the directory (`causerie user add`) are plain XMPP
//! accounts: unrestricted among themselves, and kept apart from directory
//! users unless `[policy] plain_accounts_reach_directory` is set.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use causerie_ent::{Decision, DenyReason, Directory, Snapshot};
use causerie_proto::Element;
use causerie_proto::errors::{Condition, StanzaError};
use causerie_store::DirectoryStore;
use tracing::warn;

use crate::Server;
use crate::config::PolicyMode;

/// Namespace of Causerie's application-specific error conditions.
pub const NS_POLICY: &str = "urn:causerie:policy:0";

/// How often the store's directory generation is read when nothing signalled
/// a change (another node, or a tool that does not touch the signal file).
const RECHECK_EVERY: Duration = Duration::from_secs(1);

/// The name of the file, in the data directory, whose modification tells the
/// server that the directory, the rules or the access changed (written by the
/// `causerie` command after each such change).
pub const SIGNAL_FILE: &str = "directory.changed";

/// The directory as last loaded: the store's generation it was loaded at, the
/// directory itself, and who is a deactivated directory user.
///
/// Reading the store's generation on every stanza cost two thread hand-offs
/// per query (the benchmark's profile, BENCHMARKS.md); instead the generation
/// is read when the signal file changed, when [`DirectoryCache::invalidate`]
/// was called (changes made by this process), or at most [`RECHECK_EVERY`]
/// after the last read. The signal file is watched (inotify, through `notify`):
/// a `stat` of it per stanza was still 7 % of the CPU of a login. Where no
/// watcher can be had, it is `stat`ed per check as before.
pub struct DirectoryCache {
    current: RwLock<Loaded>,
    reload: tokio::sync::Mutex<()>,
    signal: PathBuf,
    /// Modification time of the signal file at the last check (nanoseconds).
    signal_seen: AtomicU64,
    /// Set to force a generation read at the next check.
    dirty: AtomicBool,
    /// The last generation read or reload failed: what is loaded may be out of
    /// date (a login is then refused rather than let in on old lock lists).
    stale: AtomicBool,
    /// Set by the watcher when the signal file changed.
    signalled: Arc<AtomicBool>,
    /// Watches the data directory for the signal file; `None` when the
    /// platform refused (then the file is `stat`ed per check).
    watcher: Option<notify::RecommendedWatcher>,
    checked_at: Mutex<Instant>,
}

#[derive(Clone)]
struct Loaded {
    generation: i64,
    dir: Arc<Directory>,
    inactive: Arc<HashSet<String>>,
    /// Accounts an administrator locked.
    locked: Arc<HashSet<String>>,
}

impl Loaded {
    /// Whether `user` is a directory user, active or not.
    fn knows(&self, user: &str) -> bool {
        self.dir.contains(user) || self.inactive.contains(user)
    }
}

impl DirectoryCache {
    /// A cache watching the signal file of `data_dir`.
    pub fn new(data_dir: &Path) -> Self {
        let signalled = Arc::new(AtomicBool::new(false));
        let watcher = watch_signal(data_dir, signalled.clone());
        DirectoryCache {
            signalled,
            watcher,
            current: RwLock::new(Loaded {
                generation: -1,
                dir: Arc::new(Directory::new(Snapshot::default(), HashMap::new())),
                inactive: Arc::new(HashSet::new()),
                locked: Arc::new(HashSet::new()),
            }),
            reload: tokio::sync::Mutex::new(()),
            signal: data_dir.join(SIGNAL_FILE),
            signal_seen: AtomicU64::new(0),
            dirty: AtomicBool::new(true),
            stale: AtomicBool::new(false),
            checked_at: Mutex::new(Instant::now()),
        }
    }

    fn get(&self) -> Loaded {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The directory changed through this process (the sync API): read the
    /// store's generation at the next stanza.
    pub fn invalidate(&self) {
        self.dirty.store(true, Ordering::SeqCst);
    }

    /// A generation read or a reload failed: try again at the next check.
    fn failed(&self) {
        self.stale.store(true, Ordering::SeqCst);
        self.dirty.store(true, Ordering::SeqCst);
    }

    /// Whether the store's generation must be read now.
    fn must_check(&self) -> bool {
        let signalled = if self.watcher.is_some() {
            self.signalled.swap(false, Ordering::SeqCst)
        } else {
            let modified = std::fs::metadata(&self.signal)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            self.signal_seen.swap(modified, Ordering::SeqCst) != modified
        };
        let dirty = self.dirty.swap(false, Ordering::SeqCst);
        let mut checked = self.checked_at.lock().unwrap_or_else(|e| e.into_inner());
        if signalled || dirty || checked.elapsed() >= RECHECK_EVERY {
            *checked = Instant::now();
            true
        } else {
            false
        }
    }
}

/// A watcher of `data_dir` that sets `flag` whenever the signal file is
/// written; `None` (with a warning) when it cannot be set up.
fn watch_signal(data_dir: &Path, flag: Arc<AtomicBool>) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher as _;
    let handler = move |event: notify::Result<notify::Event>| match event {
        Ok(e) => {
            if e.paths
                .iter()
                .any(|p| p.file_name().is_some_and(|n| n == SIGNAL_FILE))
            {
                flag.store(true, Ordering::SeqCst);
            }
        }
        // Events may have been lost: check anyway.
        Err(_) => flag.store(true, Ordering::SeqCst),
    };
    let watched = notify::recommended_watcher(handler).and_then(|mut w| {
        w.watch(data_dir, notify::RecursiveMode::NonRecursive)
            .map(|()| w)
    });
    match watched {
        Ok(w) => Some(w),
        Err(e) => {
            warn!(error = %e, dir = %data_dir.display(), "cannot watch the data directory; checking the directory signal file on every stanza instead");
            None
        }
    }
}

/// Tells running servers that the directory, rules or access changed (called by
/// the `causerie` command after it wrote to the store).
pub fn signal_change(data_dir: &Path) -> std::io::Result<()> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    std::fs::write(data_dir.join(SIGNAL_FILE), nanos.to_string())
}

impl Server {
    /// The current directory (reloaded when the store says it changed).
    pub async fn directory(&self) -> Arc<Directory> {
        self.loaded().await.dir
    }

    async fn loaded(&self) -> Loaded {
        let cached = self.directory.get();
        if cached.generation >= 0 && !self.directory.must_check() {
            return cached;
        }
        let generation = match self.store.generation().await {
            Ok(g) => g,
            Err(e) => {
                warn!(error = %e, "cannot read the directory generation; keeping the loaded directory");
                self.directory.failed();
                return cached;
            }
        };
        if generation == cached.generation {
            self.directory.stale.store(false, Ordering::SeqCst);
            return cached;
        }
        let _guard = self.directory.reload.lock().await;
        let cached = self.directory.get();
        if generation == cached.generation {
            return cached;
        }
        let (snapshot, rules, inactive, locked) = match (
            self.store.snapshot().await,
            self.store.rules().await,
            self.store.inactive_users().await,
            causerie_store::AdminStore::locked_accounts(&self.store).await,
        ) {
            (Ok(s), Ok(r), Ok(i), Ok(l)) => (s, r, i, l),
            (Err(e), _, _, _) | (_, Err(e), _, _) | (_, _, Err(e), _) | (_, _, _, Err(e)) => {
                warn!(error = %e, "cannot load the directory; keeping the loaded one");
                self.directory.failed();
                return cached;
            }
        };
        let fresh = Loaded {
            generation,
            dir: Arc::new(Directory::new(snapshot, rules)),
            inactive: Arc::new(inactive.into_iter().collect()),
            locked: Arc::new(locked.into_iter().collect()),
        };
        *self
            .directory
            .current
            .write()
            .unwrap_or_else(|e| e.into_inner()) = fresh.clone();
        self.directory.stale.store(false, Ordering::SeqCst);
        fresh
    }

    /// Whether `from` may reach `to` (account localparts) under the school's
    /// rules; the error to send back when not.
    pub async fn may_reach(&self, from: &str, to: &str) -> Result<(), StanzaError> {
        if from == to || self.config.policy.mode == PolicyMode::Open {
            return Ok(());
        }
        let loaded = self.loaded().await;
        let dir = &loaded.dir;
        let (from_dir, to_dir) = (loaded.knows(from), loaded.knows(to));
        match (from_dir, to_dir) {
            (false, false) => Ok(()),
            (true, true) => match dir.may_reach(from, to) {
                Decision::Allow(_) => Ok(()),
                Decision::Deny(reason) => Err(refusal(&reason)),
            },
            _ if self.config.policy.plain_accounts_reach_directory => Ok(()),
            _ => Err(refusal(&DenyReason::NoRule)),
        }
    }

    /// The seed's rule that one chats only with contacts who accepted
    /// (mutual subscription), for directory users.
    pub async fn may_message(&self, from: &str, to: &str) -> Result<(), StanzaError> {
        if from == to || self.config.policy.mode == PolicyMode::Open {
            return Ok(());
        }
        let dir = self.directory().await;
        if !(dir.contains(from) && dir.contains(to)) {
            return Ok(());
        }
        let mutual = self
            .is_mutual_contact(from, to)
            .await
            .map_err(crate::features::internal)?;
        if mutual {
            Ok(())
        } else {
            let mut err = StanzaError::new(Condition::PolicyViolation)
                .with_text(
                    "fr",
                    "Tu ne peux écrire qu'aux contacts qui ont accepté ta demande de contact.",
                )
                .with_text(
                    "en",
                    "You can only write to contacts who accepted your contact request.",
                );
            err.app = Some(Box::new(Element::bare("not-a-contact", NS_POLICY)));
            Err(err)
        }
    }
}

impl Server {
    /// Whether `user` may log in to chat (S1, S2): an account no administrator
    /// locked and, for a directory user, an active one whose structure has chat
    /// on and allows his profile. Plain accounts may.
    /// The refusal is the text of the SASL failure, in French then English.
    pub async fn login_allowed(&self, user: &str) -> Result<(), String> {
        // Locked accounts and deactivated directory users are known in memory,
        // loaded with the directory at its current generation (which a lock
        // moves): two queries per login before.
        let loaded = self.loaded().await;
        if loaded.generation < 0 || self.directory.stale.load(Ordering::SeqCst) {
            // Never loaded, or the store failed since: the lock and inactive lists
            // may be out of date, so nobody gets in on them.
            return Err(
                "Erreur interne, réessaie plus tard. — Internal error, try again later.".into(),
            );
        }
        if loaded.locked.contains(user) {
            return Err("Ton compte a été bloqué par un administrateur. — \
                 Your account was locked by an administrator."
                .into());
        }
        if loaded.inactive.contains(user) {
            return Err(
                "Ton compte n'est plus actif dans l'annuaire de l'établissement. — \
                 Your account is no longer active in the school directory."
                    .into(),
            );
        }
        let Some(u) = loaded.dir.user(user) else {
            return Ok(());
        };
        let mut enabled_somewhere = false;
        for structure in &u.structures {
            match self.store.access(structure).await {
                Ok(access) if access.enabled => {
                    enabled_somewhere = true;
                    if access.profiles.contains(&u.profile) {
                        return Ok(());
                    }
                }
                Ok(_) => {}
                Err(e) => warn!(error = %e, "cannot read chat access"),
            }
        }
        if u.structures.is_empty() {
            return Ok(());
        }
        Err(if enabled_somewhere {
            format!(
                "Le chat n'est pas ouvert au profil « {} » dans ton établissement. — \
                 Chat is not open to the profile \"{}\" in your school.",
                u.profile.label_fr(),
                u.profile.label_en()
            )
        } else {
            "Le chat n'est pas activé dans ton établissement. — Chat is not enabled in your school."
                .into()
        })
    }
}

impl Server {
    /// When `user` removes `contact_bare` from his contacts, the localpart of
    /// the contact whose own item must go too: both are directory users and
    /// the school's semantics apply (symmetric deletion).
    pub async fn symmetric_removal(&self, user: &str, contact_bare: &str) -> Option<String> {
        if self.config.policy.mode == PolicyMode::Open {
            return None;
        }
        let (node, domain) = contact_bare.split_once('@')?;
        if domain != self.domain {
            return None;
        }
        let loaded = self.loaded().await;
        (loaded.knows(user) && loaded.knows(node)).then(|| node.to_string())
    }
}

/// The stanza error for a refusal by the rules.
pub fn refusal(reason: &DenyReason) -> StanzaError {
    let mut err = StanzaError::new(Condition::Forbidden)
        .with_text("fr", reason.text_fr())
        .with_text("en", reason.text_en());
    err.app = Some(Box::new(Element::bare("school-rules", NS_POLICY)));
    err
}
