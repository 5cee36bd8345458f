//! The school's directory as the server applies it: the current [`View`] (the indexed
//! directory with its rules, who is deactivated or locked, each structure's chat access)
//! and its reloading when the store's directory generation moves.
//!
//! The rules themselves are pure functions in `causerie-ent`; the view answers the two
//! questions every path asks — may this account reach that one ([`View::reach`]), may this
//! account use the chat at all ([`View::access`]) — and the gate (`services::gate`) turns
//! the answers into decisions.
//!
//! **A rules change is atomic for stanzas.** Every import, sync call, rules, access or
//! lock change bumps the generation in the same transaction as the change. Once the
//! server knows the generation moved — the signal file written by the `causerie` command
//! changed (watched with inotify through `notify`), this process changed the directory
//! ([`Policy::invalidate`]), or the poller read a new generation (every second, for other
//! processes and nodes) — [`Policy::view`] no longer hands out the old view: callers wait
//! for the new one. The generation is not read per stanza (each query costs two thread
//! hand-offs with sqlx's SQLite driver: BENCHMARKS.md).
//!
//! Each new view is published ([`Policy::subscribe`]) so that the server enforces it on
//! what is already open: sessions it now refuses, room memberships it no longer allows.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use causerie_ent::shutdown::{self, Refusal};
use causerie_ent::{
    Access, Decision, Denied, DenyReason, Directory, Profile, Quiet, QuietHours, Register,
    Shutdown, ShutdownMode, Snapshot, Text, User,
};
use causerie_proto::Element;
use causerie_proto::errors::{Condition, StanzaError};
use causerie_store::{AdminStore, CollectiviteStore, DirectoryStore, SafetyStore, Store};
use tokio::sync::{Notify, watch};
use tracing::{info, warn};

use crate::config::PolicyMode;

/// Namespace of Causerie's application-specific error conditions.
pub const NS_POLICY: &str = "urn:causerie:policy:0";

/// How often the store's directory generation is read when nothing signalled a change
/// (another node, or a tool that does not touch the signal file).
pub const POLL_EVERY: Duration = Duration::from_millis(400);

/// The name of the file, in the data directory, whose modification tells the server that
/// the directory, the rules or the access changed (written by the `causerie` command
/// after each such change).
pub const SIGNAL_FILE: &str = "directory.changed";
/// The directory of [`SIGNAL_FILE`] under the data directory: a directory of its own, so
/// that watching it is not woken by every write of the database next to it (the SQLite
/// file and its WAL in the data directory: a wake-up per write was 15 % of the server's
/// CPU under a 1:1 load with the archive on).
pub const SIGNAL_DIR: &str = "signal";

/// Where the signal file of `data_dir` is.
pub fn signal_path(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join(SIGNAL_DIR).join(SIGNAL_FILE)
}

/// The name of the file, in the data directory, where a running server writes its process
/// id and the directory generation it applies (after each load), so that the `causerie`
/// command can return once the server applies its change ([`wait_applied`]).
pub const LOADED_FILE: &str = "directory.loaded";

/// The directory as loaded at one generation, with the deployment's policy options.
#[derive(Debug)]
pub struct View {
    /// The store's generation this view was loaded at (-1 before the first load).
    pub generation: i64,
    pub dir: Arc<Directory>,
    inactive: HashSet<String>,
    locked: HashSet<String>,
    /// Each structure's own chat access, as set.
    access: HashMap<String, Access>,
    /// Each collectivité's chat access, as set.
    collectivite_access: HashMap<String, Access>,
    /// Each structure's effective access (`causerie_ent::collectivite::effective`: its
    /// own narrowed by its collectivités'), for those where any level set one: what the
    /// access decision reads.
    effective: HashMap<String, Access>,
    /// Each structure's own quiet hours; `quiet_default` for the others.
    quiet: HashMap<String, QuietHours>,
    quiet_default: Option<Arc<QuietHours>>,
    /// Each structure's kill switch that is not normal.
    shutdown: HashMap<String, Shutdown>,
    mode: PolicyMode,
    plain_reach: bool,
}

impl View {
    fn empty(mode: PolicyMode, plain_reach: bool) -> View {
        View {
            generation: -1,
            dir: Arc::new(Directory::new(Snapshot::default(), HashMap::new())),
            inactive: HashSet::new(),
            locked: HashSet::new(),
            access: HashMap::new(),
            collectivite_access: HashMap::new(),
            effective: HashMap::new(),
            quiet: HashMap::new(),
            quiet_default: None,
            shutdown: HashMap::new(),
            mode,
            plain_reach,
        }
    }

    /// A structure's quiet hours in force: its own, else the deployment's default (None:
    /// none).
    pub fn quiet_hours_of(&self, structure: &str) -> Option<&QuietHours> {
        self.quiet.get(structure).or(self.quiet_default.as_deref())
    }

    /// Whether a structure set its own quiet hours.
    pub fn quiet_hours_set(&self, structure: &str) -> Option<&QuietHours> {
        self.quiet.get(structure)
    }

    /// Whether `user` (an active directory user) is in quiet hours at `now_ms`, and until
    /// when: in any of his structures' windows for his profile (the latest end).
    pub fn quiet_until(&self, user: &str, now_ms: i64) -> Option<Quiet> {
        if self.quiet.is_empty() && self.quiet_default.is_none() {
            return None;
        }
        let u = self.dir.user(user)?;
        causerie_ent::quiet::combine(
            u.structures
                .iter()
                .filter_map(|s| self.quiet_hours_of(s))
                .filter_map(|q| q.quiet_at(u.profile, now_ms)),
        )
    }

    /// A structure's kill switch (normal when never set).
    pub fn shutdown_setting(&self, structure: &str) -> Shutdown {
        self.shutdown.get(structure).cloned().unwrap_or_default()
    }

    /// The strictest kill switch among `user`'s structures, when one is not normal.
    pub fn shutdown_of(&self, user: &str) -> Option<&Shutdown> {
        if self.shutdown.is_empty() {
            return None;
        }
        let u = self.dir.user(user)?;
        shutdown::strictest(u.structures.iter().filter_map(|s| self.shutdown.get(s)))
    }

    /// Whether `from` may send something (a message with content, a room post, an
    /// invitation, a contact request) to `to` (an account; None for a room) under his
    /// structures' kill switch; Err: the refusal with the school's text, in `from`'s
    /// forms.
    pub fn may_send(&self, from: &str, to: Option<&str>) -> Result<(), Text<String>> {
        let Some(s) = self.shutdown_of(from) else {
            return Ok(());
        };
        let profile = self.dir.user(from).map_or(Profile::Guest, |u| u.profile);
        // Outside the directory: as a guest (not family, not staff).
        let recipient = to.map(|t| self.dir.user(t).map_or(Profile::Guest, |u| u.profile));
        shutdown::may_send(Some(s), profile, recipient)
            .map_err(|r: Refusal| r.with_message(s.message.as_deref()))
    }

    /// The text of a refusal of `user`'s access, in its three forms: for the kill
    /// switch, with the school's own text.
    pub fn denied_text(&self, user: &str, denied: Denied) -> Text<String> {
        match denied {
            Denied::Shutdown => shutdown::with_school_text(
                shutdown::mode_text(ShutdownMode::Off),
                self.shutdown_of(user).and_then(|s| s.message.as_deref()),
            ),
            other => other.text(),
        }
    }

    /// [`View::denied_text`] as « French — English » for a reader in `register`.
    pub fn denied_both(&self, user: &str, denied: Denied, register: Register) -> String {
        let t = self.denied_text(user, denied);
        format!("{} — {}", t.fr(register), t.en())
    }

    /// Whether `user` is a directory user, active or not.
    pub fn knows(&self, user: &str) -> bool {
        self.dir.contains(user) || self.inactive.contains(user)
    }

    /// Whether `user` is an active directory user.
    pub fn is_directory_user(&self, user: &str) -> bool {
        self.dir.contains(user)
    }

    /// Whether `user` is a pupil of the directory.
    pub fn is_pupil(&self, user: &str) -> bool {
        self.user(user)
            .is_some_and(|u| u.profile == causerie_ent::Profile::Student)
    }

    /// The directory record of an active user.
    pub fn user(&self, user: &str) -> Option<&User> {
        self.dir.user(user)
    }

    /// Whether the deployment applies no rules (`[policy] mode = "open"`).
    pub fn is_open(&self) -> bool {
        self.mode == PolicyMode::Open
    }

    /// Whether `from` may reach `to` (account localparts) under the school's rules:
    /// the same account always; never an account that may not chat ([`View::access`]);
    /// plain accounts among themselves; a plain account and a directory user only with
    /// `[policy] plain_accounts_reach_directory`; two directory users as the directory
    /// decides.
    pub fn reach(&self, from: &str, to: &str) -> Result<(), DenyReason> {
        self.reach_detail(from, to).map(|_| ())
    }

    /// [`View::reach`], and when allowed whether the seed's "only accepted contacts" rule
    /// applies between the two (both are directory users, and the rules are on). Each
    /// account is looked up once: this is on every message's path.
    pub fn reach_detail(&self, from: &str, to: &str) -> Result<bool, DenyReason> {
        if from == to {
            return Ok(false);
        }
        let (fu, tu) = (self.dir.user(from), self.dir.user(to));
        // Nobody reaches, or is reached by, an account that may not chat (locked,
        // deactivated, access turned off): its sessions are being closed.
        if !self.may_chat(from, fu) || !self.may_chat(to, tu) {
            return Err(DenyReason::Inactive);
        }
        if self.is_open() {
            return Ok(false);
        }
        // A deactivated user was refused above: the directory's users are the active ones.
        match (fu.is_some(), tu.is_some()) {
            (false, false) => Ok(false),
            (true, true) => match self.dir.may_reach(from, to) {
                Decision::Allow(_) => Ok(true),
                Decision::Deny(reason) => Err(reason),
            },
            _ if self.plain_reach => Ok(false),
            _ => Err(DenyReason::NoRule),
        }
    }

    /// Whether `login` (`user`, his directory record if active) may chat.
    fn may_chat(&self, login: &str, user: Option<&User>) -> bool {
        let inactive = user.is_none() && self.inactive.contains(login);
        let locked = !self.locked.is_empty() && self.locked.contains(login);
        causerie_ent::access::decide(user, inactive, locked, |s| self.effective.get(s)).is_ok()
            && !self.is_shut(login)
    }

    /// Whether one of `user`'s structures turned its kill switch off.
    fn is_shut(&self, user: &str) -> bool {
        self.shutdown_of(user)
            .is_some_and(|s| s.mode == ShutdownMode::Off)
    }

    /// Whether `user` may use the chat (`causerie_ent::access::decide` on his structures'
    /// effective access, narrowed by their collectivités', then his structures' kill
    /// switch); `DisabledByCollectivite` when his structures' own settings alone would
    /// have let him in.
    pub fn access(&self, user: &str) -> Result<(), Denied> {
        self.decide(
            self.dir.user(user),
            self.inactive.contains(user),
            self.locked.contains(user),
        )?;
        if self.is_shut(user) {
            return Err(Denied::Shutdown);
        }
        Ok(())
    }

    /// `causerie_ent::access::decide` on the structures' access in force for a directory
    /// `record` (None: a plain account), without the kill switch; refused by the access in
    /// force (chat off) while the structures' own settings would let him in, it is
    /// `DisabledByCollectivite`: a collectivité above them decided.
    pub fn decide(
        &self,
        record: Option<&User>,
        inactive: bool,
        locked: bool,
    ) -> Result<(), Denied> {
        let Err(denied) =
            causerie_ent::access::decide(record, inactive, locked, |s| self.effective.get(s))
        else {
            return Ok(());
        };
        let own = causerie_ent::access::decide(record, inactive, locked, |s| self.access.get(s));
        Err(match (denied, own) {
            // (A profile left out stays said as such: the profile is the reason.)
            (Denied::Disabled, Ok(())) => Denied::DisabledByCollectivite,
            _ => denied,
        })
    }

    /// A structure's own chat access as set, None when never set (on for everyone).
    pub fn access_setting(&self, structure: &str) -> Option<&Access> {
        self.access.get(structure)
    }

    /// A collectivité's chat access as set, None when never set (on for everyone).
    pub fn collectivite_access(&self, collectivite: &str) -> Option<&Access> {
        self.collectivite_access.get(collectivite)
    }

    /// A structure's effective chat access: its own narrowed by the collectivités that
    /// cover it; None when no level set one (on for everyone).
    pub fn effective_access(&self, structure: &str) -> Option<&Access> {
        self.effective.get(structure)
    }

    /// Whether an administrator locked `user`'s account.
    pub fn is_locked(&self, user: &str) -> bool {
        self.locked.contains(user)
    }

    /// The accounts an administrator locked.
    pub fn locked_users(&self) -> impl Iterator<Item = &str> {
        self.locked.iter().map(String::as_str)
    }

    /// The deactivated directory users.
    pub fn inactive_users(&self) -> impl Iterator<Item = &str> {
        self.inactive.iter().map(String::as_str)
    }
}

/// The stanza error for a refusal by the rules.
pub fn refusal(reason: &DenyReason) -> StanzaError {
    let mut err = crate::stanza::addressed(Condition::Forbidden, reason.text());
    err.app = Some(Box::new(Element::bare("school-rules", NS_POLICY)));
    err
}

/// The stanza error of a message (or request) to a directory user who is not a mutual
/// contact (the seed: one writes only to contacts who accepted).
pub fn not_a_contact() -> StanzaError {
    let mut err = crate::stanza::addressed(
        Condition::PolicyViolation,
        Text::new(
            "Tu ne peux écrire qu'aux contacts qui ont accepté ta demande de contact.",
            "Vous ne pouvez écrire qu'aux contacts qui ont accepté votre demande de contact.",
            "You can only write to contacts who accepted your contact request.",
        ),
    );
    err.app = Some(Box::new(Element::bare("not-a-contact", NS_POLICY)));
    err
}

/// The directory service (see the module docs).
pub struct Policy {
    store: Store,
    data_dir: PathBuf,
    current: RwLock<Arc<View>>,
    /// Held while a generation is read and a view loaded.
    reload: tokio::sync::Mutex<()>,
    /// Bumped whenever a change is known to have happened; views are handed out only
    /// once `satisfied` caught up with it.
    wanted: Arc<AtomicU64>,
    satisfied: AtomicU64,
    /// The last generation read or load failed: what is loaded may be out of date (a
    /// login is then refused rather than let in on old lock lists).
    stale: AtomicBool,
    /// Wakes the poller (a signal, an invalidation).
    wake: Arc<Notify>,
    /// Watches the data directory for the signal file; `None` when the platform refused
    /// (the poller then reads the generation every second only).
    _watcher: Option<notify::RecommendedWatcher>,
    published: watch::Sender<Arc<View>>,
    /// The quiet hours of structures that set none (`[quiet_hours]`).
    quiet_default: Option<Arc<QuietHours>>,
}

impl Policy {
    /// A service over `store`, watching the signal file of `data_dir`. Nothing is loaded
    /// until [`Policy::refresh`] (the server does it before accepting anyone).
    pub fn new(store: Store, data_dir: &Path, mode: PolicyMode, plain_reach: bool) -> Policy {
        let wanted = Arc::new(AtomicU64::new(1));
        let wake = Arc::new(Notify::new());
        let watcher = watch_signal(data_dir, wanted.clone(), wake.clone());
        let empty = Arc::new(View::empty(mode, plain_reach));
        let (published, _) = watch::channel(empty.clone());
        Policy {
            store,
            data_dir: data_dir.to_path_buf(),
            current: RwLock::new(empty),
            reload: tokio::sync::Mutex::new(()),
            wanted,
            satisfied: AtomicU64::new(0),
            stale: AtomicBool::new(false),
            wake,
            _watcher: watcher,
            published,
            quiet_default: None,
        }
    }

    /// The quiet hours of structures that set none (None: none), from the next load on.
    pub fn with_quiet_default(mut self, quiet: Option<QuietHours>) -> Policy {
        self.quiet_default = quiet.map(Arc::new);
        self
    }

    fn current(&self) -> Arc<View> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The view to decide with: the loaded one, unless a change is known, in which case
    /// the new one (waiting for its load).
    pub async fn view(&self) -> Arc<View> {
        let wanted = self.wanted.load(Ordering::Acquire);
        if self.satisfied.load(Ordering::Acquire) >= wanted {
            return self.current();
        }
        self.load_for(wanted, false).await
    }

    /// The view as loaded, without waiting for a change in progress (for figures that
    /// need no decision).
    pub fn loaded(&self) -> Arc<View> {
        self.current()
    }

    /// Whether the loaded view may be out of date (its last reload failed), or was never
    /// loaded: decisions that let someone in are then refused.
    pub fn is_stale(&self) -> bool {
        self.stale.load(Ordering::Acquire) || self.current().generation < 0
    }

    /// The directory changed through this process: the next decision waits for the new
    /// view, and the poller loads it now.
    pub fn invalidate(&self) {
        self.wanted.fetch_add(1, Ordering::AcqRel);
        self.wake.notify_one();
    }

    /// Reads the generation now and loads the new view if it moved; returns the view in
    /// force afterwards.
    pub async fn refresh(&self) -> Arc<View> {
        let wanted = self.wanted.load(Ordering::Acquire);
        self.load_for(wanted, true).await
    }

    /// Every new view, as it is loaded (the first value is the one in force).
    pub fn subscribe(&self) -> watch::Receiver<Arc<View>> {
        self.published.subscribe()
    }

    /// What wakes the poller (see [`Policy::next_poll`]), for a poller that must not
    /// keep the service alive while it waits.
    pub fn poll_signal(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Waits for the poller's next turn: a signal or an invalidation, or [`POLL_EVERY`].
    pub async fn next_poll(&self) {
        tokio::select! {
            () = self.wake.notified() => {}
            () = tokio::time::sleep(POLL_EVERY) => {}
        }
    }

    /// Loads the view if the generation moved. `force`: read the generation even if no
    /// change is known (the poller); a new generation found that way is announced first,
    /// so that no decision uses the old view while the new one loads.
    async fn load_for(&self, wanted: u64, force: bool) -> Arc<View> {
        let _guard = self.reload.lock().await;
        if !force && self.satisfied.load(Ordering::Acquire) >= wanted {
            return self.current();
        }
        let cached = self.current();
        let generation = match self.store.generation().await {
            Ok(g) => g,
            Err(e) => {
                warn!(error = %e, "cannot read the directory generation; keeping the loaded directory");
                self.stale.store(true, Ordering::Release);
                self.satisfied.store(wanted, Ordering::Release);
                return cached;
            }
        };
        if generation == cached.generation {
            self.stale.store(false, Ordering::Release);
            self.satisfied.fetch_max(wanted, Ordering::AcqRel);
            return cached;
        }
        // From here on, decisions wait for this load.
        let wanted = self.wanted.fetch_add(1, Ordering::AcqRel) + 1;
        let fresh = match self.load(generation, cached.mode, cached.plain_reach).await {
            Ok(v) => Arc::new(v),
            Err(e) => {
                warn!(error = %e, "cannot load the directory; keeping the loaded one");
                self.stale.store(true, Ordering::Release);
                self.satisfied.fetch_max(wanted, Ordering::AcqRel);
                return cached;
            }
        };
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = fresh.clone();
        self.stale.store(false, Ordering::Release);
        self.satisfied.fetch_max(wanted, Ordering::AcqRel);
        if cached.generation >= 0 {
            info!(
                generation,
                users = fresh.dir.len(),
                "directory generation loaded"
            );
        }
        self.published.send_replace(fresh.clone());
        self.write_loaded(generation);
        fresh
    }

    /// Removes [`LOADED_FILE`] (a clean shutdown: no server applies changes any more).
    pub fn forget_loaded(&self) {
        let path = self.data_dir.join(LOADED_FILE);
        if std::fs::read_to_string(&path)
            .is_ok_and(|t| t.split_whitespace().next() == Some(&std::process::id().to_string()))
        {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Writes [`LOADED_FILE`]: this process applies `generation` (atomically: a reader
    /// never sees half a file).
    fn write_loaded(&self, generation: i64) {
        let tmp = self.data_dir.join(format!("{LOADED_FILE}.tmp"));
        let written = std::fs::write(&tmp, format!("{} {generation}\n", std::process::id()))
            .and_then(|()| std::fs::rename(&tmp, self.data_dir.join(LOADED_FILE)));
        if let Err(e) = written {
            warn!(error = %e, "cannot write the directory.loaded file; the causerie command will not wait for this server");
        }
    }

    async fn load(
        &self,
        generation: i64,
        mode: PolicyMode,
        plain_reach: bool,
    ) -> causerie_store::Result<View> {
        let snapshot = self.store.snapshot().await?;
        let rules = self.store.rules().await?;
        let inactive = self.store.inactive_users().await?;
        let locked = self.store.locked_accounts().await?;
        let access = self.store.all_access().await?;
        let collectivite_access = self.store.all_collectivite_access().await?;
        let quiet = self.store.all_quiet_hours().await?;
        let shutdown = self.store.all_shutdowns().await?;
        let dir = Directory::new(snapshot, rules);
        let effective = effective_access(&dir, &access, &collectivite_access);
        Ok(View {
            generation,
            dir: Arc::new(dir),
            inactive: inactive.into_iter().collect(),
            locked: locked.into_iter().collect(),
            access,
            collectivite_access,
            effective,
            quiet,
            quiet_default: self.quiet_default.clone(),
            shutdown,
            mode,
            plain_reach,
        })
    }
}

/// Each structure's effective access where any level set one (see [`View::effective_access`]).
fn effective_access(
    dir: &Directory,
    own: &HashMap<String, Access>,
    collectivites: &HashMap<String, Access>,
) -> HashMap<String, Access> {
    let mut ids: HashSet<&str> = own.keys().map(String::as_str).collect();
    for c in dir.collectivites() {
        if collectivites.contains_key(&c.id) {
            ids.extend(c.structures.iter().map(String::as_str));
        }
    }
    ids.into_iter()
        .filter_map(|s| {
            let above = dir
                .collectivites_of(s)
                .into_iter()
                .filter_map(|c| collectivites.get(&c.id));
            causerie_ent::collectivite::effective(own.get(s), above).map(|a| (s.to_string(), a))
        })
        .collect()
}

/// A watcher of `data_dir` that announces a change (and wakes the poller) whenever the
/// signal file is written; `None` (with a warning) when it cannot be set up.
fn watch_signal(
    data_dir: &Path,
    wanted: Arc<AtomicU64>,
    wake: Arc<Notify>,
) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher as _;
    let handler = move |event: notify::Result<notify::Event>| {
        let ours = match &event {
            Ok(e) => e
                .paths
                .iter()
                .any(|p| p.file_name().is_some_and(|n| n == SIGNAL_FILE)),
            // Events may have been lost: check anyway.
            Err(_) => true,
        };
        if ours {
            wanted.fetch_add(1, Ordering::AcqRel);
            wake.notify_one();
        }
    };
    let dir = data_dir.join(SIGNAL_DIR);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        warn!(error = %e, dir = %dir.display(), "cannot create the signal directory");
    }
    let watched = notify::recommended_watcher(handler).and_then(|mut w| {
        w.watch(&dir, notify::RecursiveMode::NonRecursive)
            .map(|()| w)
    });
    match watched {
        Ok(w) => Some(w),
        Err(e) => {
            warn!(error = %e, dir = %dir.display(), "cannot watch the signal directory; changes made by the causerie command apply within a second");
            None
        }
    }
}

/// Tells running servers that the directory, rules or access changed (called by the
/// `causerie` command after it wrote to the store).
pub fn signal_change(data_dir: &Path) -> std::io::Result<()> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let path = signal_path(data_dir);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, nanos.to_string())
}

/// Whether the server running on `data_dir` applies a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// It applies `generation` (or a later one).
    Yes,
    /// No server runs on this data directory (or none said what it applies).
    NoServer,
    /// A server runs but had not loaded it when the wait ended.
    NotYet,
}

/// Waits (at most `wait`) until the server running on `data_dir`, if any, applies the
/// directory `generation`: read from [`LOADED_FILE`], whose process must still be alive
/// (checked in `/proc`; where there is none, the command does not wait).
pub async fn wait_applied(data_dir: &Path, generation: i64, wait: Duration) -> Applied {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let Ok(text) = std::fs::read_to_string(data_dir.join(LOADED_FILE)) else {
            return Applied::NoServer;
        };
        let mut parts = text.split_whitespace();
        let (Some(pid), Some(loaded)) = (
            parts.next().and_then(|p| p.parse::<u32>().ok()),
            parts.next().and_then(|g| g.parse::<i64>().ok()),
        ) else {
            return Applied::NoServer;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            return Applied::NoServer;
        }
        if loaded >= generation {
            return Applied::Yes;
        }
        if tokio::time::Instant::now() >= deadline {
            return Applied::NotYet;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use causerie_ent::{Class, Profile, Structure};

    fn user(login: &str, profile: Profile, class: &str) -> User {
        User {
            login: login.into(),
            last_name: login.into(),
            first_name: login.into(),
            profile,
            structures: vec!["S".into()],
            classes: vec![class.into()],
            children: Vec::new(),
            password: None,
            admin_of: Vec::new(),
            functions: Vec::new(),
        }
    }

    async fn store_with_school(dir: &Path) -> Store {
        let store = Store::connect(&format!("sqlite://{}/causerie.db?mode=rwc", dir.display()))
            .await
            .unwrap();
        let snapshot = school(&["lea", "hugo"], &["ines"]);
        store
            .import_snapshot(&snapshot, &HashMap::new(), None)
            .await
            .unwrap();
        store
    }

    fn school(six_a: &[&str], six_b: &[&str]) -> Snapshot {
        let mut users: Vec<User> = six_a
            .iter()
            .map(|u| user(u, Profile::Student, "A"))
            .collect();
        users.extend(six_b.iter().map(|u| user(u, Profile::Student, "B")));
        Snapshot {
            structures: vec![Structure {
                id: "S".into(),
                name: "S".into(),
            }],
            classes: ["A", "B"]
                .iter()
                .map(|c| Class {
                    id: (*c).into(),
                    structure: "S".into(),
                    name: (*c).into(),
                })
                .collect(),
            users,
            groups: Vec::new(),
            collectivites: None,
        }
    }

    #[tokio::test]
    async fn a_known_change_is_never_decided_with_the_old_view() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store_with_school(tmp.path()).await;
        let policy = Policy::new(store.clone(), tmp.path(), PolicyMode::School, false);
        assert!(policy.is_stale(), "nothing loaded yet");
        let v = policy.refresh().await;
        assert!(!policy.is_stale());
        assert_eq!(v.reach("lea", "hugo"), Ok(()));
        assert_eq!(
            v.reach_detail("lea", "hugo"),
            Ok(true),
            "the contacts rule applies"
        );
        assert_eq!(v.reach("lea", "ines"), Err(DenyReason::NoRule));
        let mut changes = policy.subscribe();
        changes.borrow_and_update();

        // Léa moves to B: once the change is announced, the very next decision sees it.
        store
            .import_snapshot(&school(&["hugo"], &["ines", "lea"]), &HashMap::new(), None)
            .await
            .unwrap();
        policy.invalidate();
        let v = policy.view().await;
        assert_eq!(v.reach("lea", "hugo"), Err(DenyReason::NoRule));
        assert_eq!(v.reach("lea", "ines"), Ok(()));
        assert!(changes.has_changed().unwrap(), "the new view is published");

        // A change made by another process is found by a refresh (the poller's).
        store
            .import_snapshot(&school(&["hugo", "lea"], &["ines"]), &HashMap::new(), None)
            .await
            .unwrap();
        assert_eq!(
            policy.view().await.reach("lea", "hugo"),
            Err(DenyReason::NoRule),
            "not known yet: the loaded view"
        );
        policy.refresh().await;
        assert_eq!(policy.view().await.reach("lea", "hugo"), Ok(()));
    }

    #[tokio::test]
    async fn the_signal_file_announces_a_change() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store_with_school(tmp.path()).await;
        let policy = Policy::new(store.clone(), tmp.path(), PolicyMode::School, false);
        policy.refresh().await;
        if policy._watcher.is_none() {
            return; // no inotify here: the poller covers it (tested above)
        }
        store
            .import_snapshot(&school(&["hugo"], &["ines", "lea"]), &HashMap::new(), None)
            .await
            .unwrap();
        signal_change(tmp.path()).unwrap();
        // The watcher's thread announces it; a decision after that waits for the load.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while policy.wanted.load(Ordering::Acquire) <= policy.satisfied.load(Ordering::Acquire) {
            assert!(std::time::Instant::now() < deadline, "no event");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(
            policy.view().await.reach("lea", "hugo"),
            Err(DenyReason::NoRule)
        );
    }

    #[test]
    fn plain_accounts_and_open_mode() {
        let mut v = View::empty(PolicyMode::School, false);
        v.dir = Arc::new(Directory::new(school(&["lea"], &["ines"]), HashMap::new()));
        assert_eq!(v.reach("alice", "bob"), Ok(()), "plain accounts");
        assert_eq!(v.reach("alice", "lea"), Err(DenyReason::NoRule));
        assert_eq!(
            v.reach_detail("alice", "bob"),
            Ok(false),
            "no contacts rule"
        );
        assert_eq!(
            v.reach_detail("lea", "ines"),
            Err(DenyReason::NoRule),
            "two classes"
        );
        v.plain_reach = true;
        assert_eq!(v.reach("alice", "lea"), Ok(()));
        v.mode = PolicyMode::Open;
        assert_eq!(
            v.reach_detail("lea", "ines"),
            Ok(false),
            "open: no contacts rule"
        );
    }
}
