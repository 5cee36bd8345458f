//! Several nodes serving one domain (`[cluster]`, docs/operations.md): this node's link to
//! the others through NATS, never a protocol of our own.
//!
//! - **Who is alive**: each node puts its incarnation (its name and a random suffix, new
//!   at each start) in the key-value bucket `NAME_nodes` every `heartbeat_ms`; every node
//!   watches the bucket and holds a node dead after `dead_after_ms` without a heartbeat,
//!   or at once when it deletes its key (a clean stop).
//! - **Where each session is**: each node keeps its sessions' visible state in the bucket
//!   `NAME_sessions` (key `INCARNATION.USER.RESOURCE`, base64url), from the registry's
//!   outbox (`services::remote`); every node watches it into its [`Remote`] view. Both
//!   buckets are in memory: if NATS restarts, each node puts its sessions again.
//! - **Stanzas to a session of another node**: published on `NAME.node.INCARNATION`
//!   (core NATS), after the sending node's gate decided; the receiving node delivers it
//!   (`Sessions::deliver_relayed`), or keeps a message offline if the session is gone.
//!   What a client sent is acknowledged (XEP-0198) once it is in the archive, which every
//!   node shares: a message lost with a dying node is found again in the archive.
//! - **Caches**: roster and blocklist writes, capabilities learnt, portal sign-outs and
//!   app-password revocations are broadcast on `NAME.invalidate`; the directory's
//!   generation is read from the database by every node (`services::policy`), at once
//!   when another node says it loaded a newer one.
//! - **Rooms**: each room lives on one node, named in the bucket `NAME_rooms` (key: the
//!   room, base64url; value: the node). The first node a stanza for a room reaches
//!   claims it (a key-value `create`, which one node only wins), or takes it over from a
//!   dead node (an `update` at the revision it read). Stanzas for it from sessions of
//!   other nodes come whole ([`What::Muc`]); here a stand-in [`Session`] per remote
//!   session (its queue relayed back to the sender's node) enters the room as the
//!   session would, so the rooms' code runs unchanged. A room is loaded from the
//!   database by whichever node holds it: when its node dies, the next stanza for it
//!   makes another node take it over, and its occupants elsewhere, no longer in it
//!   there, are told so by their XEP-0410 self-ping and join again.
//! - **A node dies**: the others forget its sessions at once, and the stand-ins of its
//!   sessions leave their rooms; the first live node in name order (the janitor)
//!   deletes their keys and tells its users' contacts they are gone.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, kv};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use bytes::Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use crate::config::Cluster as ClusterConfig;
use crate::mailbox::{Inbox, Next};
use crate::outbound::{Outbound, to_attribute};
use crate::server::Server;
use crate::services::remote::{Envelope, Invalidation, Outgoing, Remote, RemoteSession, What};
use crate::services::sessions::{Departed, Full};
use crate::session::{Session, SessionHandle};

/// Why this node could not join its cluster.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot connect to NATS at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("NATS JetStream key-value bucket {bucket}: {reason}")]
    Bucket { bucket: String, reason: String },
    #[error("NATS subscription {subject}: {reason}")]
    Subscribe { subject: String, reason: String },
}

/// This node's membership, as `Running` keeps it for the end.
pub struct Membership {
    incarnation: Arc<str>,
    client: async_nats::Client,
    nodes: kv::Store,
    rooms: kv::Store,
    remote: Arc<Remote>,
    flush: mpsc::UnboundedSender<oneshot::Sender<()>>,
}

/// What a node says of itself in the nodes' bucket.
#[derive(Debug, Serialize, Deserialize)]
struct Heartbeat {
    name: String,
    started_ms: i64,
}

/// An invalidation, with the node it comes from.
#[derive(Debug, Serialize, Deserialize)]
struct Broadcast {
    from: String,
    what: Invalidation,
}

fn session_key(node: &str, user: &str, resource: &str) -> String {
    format!("{node}.{}.{}", B64.encode(user), B64.encode(resource))
}

fn parse_session_key(key: &str) -> Option<(String, String, String)> {
    let mut parts = key.splitn(3, '.');
    let node = parts.next()?.to_string();
    let user = String::from_utf8(B64.decode(parts.next()?).ok()?).ok()?;
    let resource = String::from_utf8(B64.decode(parts.next()?).ok()?).ok()?;
    Some((node, user, resource))
}

/// The addresses of `url` (several, separated by commas) and the options with the
/// credentials the first of them carries (`nats://USER:PASSWORD@HOST` or
/// `nats://TOKEN@HOST`): the client takes them from its options only.
fn connect_options(url: &str) -> (Vec<String>, async_nats::ConnectOptions) {
    let addresses: Vec<String> = url
        .split(',')
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect();
    let mut options = async_nats::ConnectOptions::new();
    if let Some(addr) = addresses
        .iter()
        .find_map(|a| a.parse::<async_nats::ServerAddr>().ok())
    {
        match (addr.username(), addr.password()) {
            (Some(u), Some(p)) => options = options.user_and_password(u.into(), p.into()),
            (Some(t), None) if !t.is_empty() => options = options.token(t.into()),
            _ => {}
        }
    }
    (addresses, options)
}

/// After each (re)connection to NATS: the buckets made again if NATS lost them (a NATS
/// restart loses in-memory buckets), then this node's sessions and rooms put again.
async fn reconnecting(
    server: std::sync::Weak<Server>,
    js: jetstream::Context,
    prefix: String,
    me: Arc<str>,
    dead_after: Duration,
    mut on_reconnect: mpsc::UnboundedReceiver<()>,
) {
    let mut first = true;
    while on_reconnect.recv().await.is_some() {
        if std::mem::take(&mut first) {
            info!("connected to NATS");
            continue;
        }
        let Some(server) = server.upgrade() else {
            return;
        };
        info!("connected to NATS again: this node's sessions and rooms told to the others");
        let made = async {
            let nodes = bucket(&js, format!("{prefix}_nodes"), dead_after * 20).await?;
            let sessions = bucket(&js, format!("{prefix}_sessions"), Duration::ZERO).await?;
            let rooms = bucket(&js, format!("{prefix}_rooms"), Duration::ZERO).await?;
            for (b, name) in [
                (&nodes, "nodes"),
                (&sessions, "sessions"),
                (&rooms, "rooms"),
            ] {
                put_or_fail(b, MARKER, Bytes::new(), &prefix, name).await?;
            }
            Ok::<_, ClusterError>(rooms)
        }
        .await;
        match made {
            Ok(rooms) => {
                if let Some(remote) = server.sessions.remote() {
                    for room in remote.rooms_of(&me) {
                        let _ = rooms
                            .create(B64.encode(&room), Bytes::from(me.to_string()))
                            .await;
                    }
                }
                server.sessions.publish_all();
            }
            Err(e) => warn!(error = %e, "cannot make the cluster's buckets again"),
        }
    }
}

/// A stand-in's queue, in sessions' queues (`limits.send_queue_len`): it only hands its
/// stanzas to the outbox, so it falls behind only when this node is starved.
const STAND_IN_QUEUE: usize = 16;

/// Most envelopes in one NATS message to a node (well under NATS's 1 MiB payload).
const RELAY_BATCH: usize = 64;

/// A key of each bucket that is no node's and no session's.
const MARKER: &str = "cluster";

async fn put_or_fail(
    store: &kv::Store,
    key: &str,
    value: Bytes,
    prefix: &str,
    bucket: &str,
) -> Result<(), ClusterError> {
    store
        .put(key, value)
        .await
        .map(|_| ())
        .map_err(|e| ClusterError::Bucket {
            bucket: format!("{prefix}_{bucket}"),
            reason: e.to_string(),
        })
}

/// Watches `store` from its current values on, again whenever the watch ends.
async fn watching(store: &kv::Store, mut each: impl FnMut(kv::Entry)) {
    loop {
        match store.watch_with_history(">").await {
            Ok(mut watch) => {
                while let Some(entry) = watch.next().await {
                    match entry {
                        Ok(e) if e.key != MARKER => each(e),
                        Ok(_) => {}
                        Err(e) => warn!(error = %e, "a cluster watch failed"),
                    }
                }
                warn!("a cluster watch ended: watching again");
            }
            Err(e) => warn!(error = %e, "cannot watch a cluster bucket"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The stream error conditions another node may ask a session to close with.
fn condition(name: &str) -> &'static str {
    match name {
        "conflict" => "conflict",
        "not-authorized" => "not-authorized",
        "system-shutdown" => "system-shutdown",
        "reset" => "reset",
        _ => "policy-violation",
    }
}

async fn bucket(
    js: &jetstream::Context,
    name: String,
    max_age: Duration,
) -> Result<kv::Store, ClusterError> {
    if let Ok(store) = js.get_key_value(name.clone()).await {
        return Ok(store);
    }
    let config = kv::Config {
        bucket: name.clone(),
        history: 1,
        max_age,
        storage: jetstream::stream::StorageType::Memory,
        ..Default::default()
    };
    match js.create_key_value(config).await {
        Ok(store) => Ok(store),
        // Another node made it meanwhile.
        Err(first) => js
            .get_key_value(name.clone())
            .await
            .map_err(|_| ClusterError::Bucket {
                bucket: name,
                reason: first.to_string(),
            }),
    }
}

/// Joins the cluster `server`'s configuration names: connects to NATS, makes the buckets,
/// starts the tasks, and hands the registry, the contacts and the blocklists the view of
/// the other nodes. `None` with one node alone.
pub async fn join(server: &Arc<Server>) -> Result<Option<Membership>, ClusterError> {
    let config: &ClusterConfig = &server.config.cluster;
    let Some(url) = config.nats_url.clone() else {
        return Ok(None);
    };
    let name = config
        .node
        .clone()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|n| {
            n.trim()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect::<String>()
        })
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "node".into());
    let incarnation: Arc<str> = format!("{name}-{:08x}", rand::random::<u32>()).into();
    let prefix = config.name.clone();
    let heartbeat = Duration::from_millis(config.heartbeat_ms);
    let dead_after = Duration::from_millis(config.dead_after_ms);

    let (reconnected, on_reconnect) = mpsc::unbounded_channel::<()>();
    let (addresses, options) = connect_options(&url);
    let client = options
        .name(incarnation.to_string())
        .connection_timeout(Duration::from_secs(5))
        .event_callback(move |event| {
            let reconnected = reconnected.clone();
            async move {
                match event {
                    async_nats::Event::Connected => {
                        let _ = reconnected.send(());
                    }
                    async_nats::Event::Disconnected => {
                        warn!("NATS connection lost: other nodes unreachable until it is back")
                    }
                    async_nats::Event::SlowConsumer(_) => {
                        warn!("NATS: this node reads too slowly, stanzas from other nodes dropped")
                    }
                    other => debug!(event = %other, "NATS"),
                }
            }
        })
        .connect(addresses)
        .await
        .map_err(|e| ClusterError::Connect {
            url: url.clone(),
            reason: e.to_string(),
        })?;
    let js = jetstream::new(client.clone());
    let nodes = bucket(&js, format!("{prefix}_nodes"), dead_after * 20).await?;
    let sessions_kv = bucket(&js, format!("{prefix}_sessions"), Duration::ZERO).await?;
    let rooms_kv = bucket(&js, format!("{prefix}_rooms"), Duration::ZERO).await?;

    let (remote, outbox) = Remote::new(&incarnation);
    let remote = Arc::new(remote);
    server.sessions.join_cluster(remote.clone());
    server.contacts.join_cluster(remote.clone());
    server.blocking.join_cluster(remote.clone());
    server.caps.join_cluster(remote.clone());

    let subscribe = |subject: String| {
        let client = client.clone();
        async move {
            client
                .subscribe(subject.clone())
                .await
                .map_err(|e| ClusterError::Subscribe {
                    subject,
                    reason: e.to_string(),
                })
        }
    };
    tokio::spawn(reconnecting(
        Arc::downgrade(server),
        js.clone(),
        prefix.clone(),
        incarnation.clone(),
        dead_after,
        on_reconnect,
    ));
    let inbox = subscribe(format!("{prefix}.node.{incarnation}")).await?;
    let invalidations = subscribe(format!("{prefix}.invalidate")).await?;
    let liveness = Arc::new(Liveness::default());
    let (flush, flushes) = mpsc::unbounded_channel();
    let standins = Arc::new(StandIns::default());
    tokio::spawn(publish(
        Publisher {
            client: client.clone(),
            sessions: sessions_kv.clone(),
            rooms: rooms_kv.clone(),
            remote: remote.clone(),
            prefix: prefix.clone(),
            node: incarnation.clone(),
        },
        outbox,
        flushes,
    ));
    tokio::spawn(receive(server.clone(), standins.clone(), inbox));
    tokio::spawn(invalidated(
        server.clone(),
        standins.clone(),
        invalidations,
        incarnation.to_string(),
    ));
    // A watch with history ends at once on an empty bucket (async-nats): neither is.
    put_or_fail(&sessions_kv, MARKER, Bytes::new(), &prefix, "sessions").await?;
    put_or_fail(&nodes, MARKER, Bytes::new(), &prefix, "nodes").await?;
    put_or_fail(&rooms_kv, MARKER, Bytes::new(), &prefix, "rooms").await?;
    tokio::spawn(watch_room_keys(remote.clone(), rooms_kv.clone()));
    tokio::spawn(watch_session_keys(
        remote.clone(),
        liveness.clone(),
        sessions_kv.clone(),
    ));
    tokio::spawn(watch_node_keys(liveness.clone(), nodes.clone()));
    let started_ms = chrono::Utc::now().timestamp_millis();
    let beat = Heartbeat {
        name: name.clone(),
        started_ms,
    };
    let beat = Bytes::from(serde_json::to_vec(&beat).unwrap_or_default());
    nodes
        .put(incarnation.as_ref(), beat.clone())
        .await
        .map_err(|e| ClusterError::Bucket {
            bucket: format!("{prefix}_nodes"),
            reason: e.to_string(),
        })?;
    tokio::spawn(beating(nodes.clone(), incarnation.clone(), beat, heartbeat));
    tokio::spawn(checking(
        Arc::downgrade(server),
        remote.clone(),
        liveness,
        standins,
        sessions_kv,
        incarnation.clone(),
        (heartbeat, dead_after),
    ));
    info!(node = %incarnation, nats = %url, "joined the cluster");
    Ok(Some(Membership {
        incarnation,
        client,
        nodes,
        rooms: rooms_kv,
        remote,
        flush,
    }))
}

impl Membership {
    /// Leaves the cluster at the end: the other nodes' occupants of its rooms told they
    /// are out (status 332), then waits until what the outbox holds (the sessions just
    /// closed, their last stanzas) is out, then deletes this node's heartbeat and its
    /// rooms' claims, so that the others take over at once rather than after
    /// `dead_after_ms`.
    pub async fn leave(self, server: &Server) {
        crate::features::muc::node_leaving(server).await;
        let (done, wait) = oneshot::channel();
        if self.flush.send(done).is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(5), wait).await;
        }
        // Its rooms go to whichever node their next stanza reaches.
        for room in self.remote.rooms_of(&self.incarnation) {
            let _ = self.rooms.delete(B64.encode(&room)).await;
        }
        if let Err(e) = self.nodes.delete(self.incarnation.as_ref()).await {
            warn!(error = %e, "cannot delete this node's heartbeat");
        }
        let _ = self.client.flush().await;
        info!(node = %self.incarnation, "left the cluster");
    }
}

/// What this node knows of each other node's life.
#[derive(Debug, Clone, Copy)]
enum Seen {
    /// Its last heartbeat.
    Beat(Instant),
    /// Named by a session key, not heard yet (since then).
    Named(Instant),
    /// It deleted its heartbeat: it left.
    Left,
}

/// When each other node was last heard of.
#[derive(Default)]
struct Liveness {
    seen: std::sync::Mutex<HashMap<Arc<str>, Seen>>,
}

impl Liveness {
    fn heard(&self, node: &str) {
        self.lock().insert(node.into(), Seen::Beat(Instant::now()));
    }

    /// A node named by a session key: if it never beats, it is dead after the delay,
    /// counted from now.
    fn named(&self, node: &str) {
        self.lock()
            .entry(node.into())
            .or_insert_with(|| Seen::Named(Instant::now()));
    }

    fn gone(&self, node: &str) {
        self.lock().insert(node.into(), Seen::Left);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, Seen>> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What the outbox's task publishes with.
struct Publisher {
    client: async_nats::Client,
    sessions: kv::Store,
    rooms: kv::Store,
    remote: Arc<Remote>,
    prefix: String,
    node: Arc<str>,
}

/// Claims `room` for this node unless a live node holds it (see the module docs); the
/// holder.
async fn claim(rooms: kv::Store, remote: Arc<Remote>, me: Arc<str>, room: String) -> Arc<str> {
    let key = B64.encode(&room);
    let mine = Bytes::from(me.to_string());
    for _ in 0..8 {
        match rooms.entry(key.clone()).await {
            Ok(Some(e)) if e.operation == kv::Operation::Put => {
                let owner: Arc<str> = String::from_utf8_lossy(&e.value).into();
                if owner == me || remote.is_alive(&owner) {
                    return owner;
                }
                if rooms.update(&key, mine.clone(), e.revision).await.is_ok() {
                    info!(%room, from = %owner, "took a room over from a gone node");
                    return me;
                }
            }
            Ok(_) => {
                if rooms.create(&key, mine.clone()).await.is_ok() {
                    return me;
                }
            }
            Err(e) => {
                warn!(error = %e, "cannot read a room's holder");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    me
}

/// Drains the outbox: session states to the bucket (the latest per key, in parallel),
/// stanzas and invalidations to their subjects, room claims to theirs.
async fn publish(
    p: Publisher,
    mut outbox: mpsc::UnboundedReceiver<Outgoing>,
    mut flushes: mpsc::UnboundedReceiver<oneshot::Sender<()>>,
) {
    let Publisher {
        client,
        sessions,
        rooms,
        remote,
        prefix,
        node,
    } = p;
    loop {
        let first = tokio::select! {
            item = outbox.recv() => match item { Some(i) => i, None => return },
            Some(done) = flushes.recv() => {
                let _ = client.flush().await;
                let _ = done.send(());
                continue;
            }
        };
        let mut states: HashMap<String, Option<Bytes>> = HashMap::new();
        // What goes to each node in this batch, in order: one NATS message per node and
        // up to RELAY_BATCH envelopes, not one per stanza (a room's post to occupants on
        // another node is as many envelopes).
        let mut deliveries: HashMap<Arc<str>, Vec<Envelope>> = HashMap::new();
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(item) = next.take() {
            match item {
                Outgoing::Session {
                    user,
                    resource,
                    state,
                } => {
                    let value =
                        state.map(|s| Bytes::from(serde_json::to_vec(&s).unwrap_or_default()));
                    states.insert(session_key(&node, &user, &resource), value);
                }
                Outgoing::Deliver { node: to, envelope } => {
                    deliveries.entry(to).or_default().push(envelope);
                }
                Outgoing::Invalidate(what) => {
                    let b = Broadcast {
                        from: node.to_string(),
                        what,
                    };
                    let body = Bytes::from(serde_json::to_vec(&b).unwrap_or_default());
                    if let Err(e) = client.publish(format!("{prefix}.invalidate"), body).await {
                        warn!(error = %e, "cannot tell the other nodes of a cache change");
                    }
                }
                Outgoing::Claim { room, reply } => {
                    let (rooms, remote, me) = (rooms.clone(), remote.clone(), node.clone());
                    tokio::spawn(async move {
                        let _ = reply.send(claim(rooms, remote, me, room).await);
                    });
                }
            }
            taken += 1;
            if taken < 4096 {
                next = outbox.try_recv().ok();
            }
        }
        for (to, envelopes) in deliveries {
            for chunk in envelopes.chunks(RELAY_BATCH) {
                let body = Bytes::from(serde_json::to_vec(chunk).unwrap_or_default());
                if let Err(e) = client.publish(format!("{prefix}.node.{to}"), body).await {
                    warn!(error = %e, node = %to, "cannot relay stanzas to another node");
                }
            }
        }
        let writes = states.into_iter().map(|(key, value)| {
            let sessions = sessions.clone();
            async move {
                let r = match value {
                    Some(v) => sessions
                        .put(&key, v)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string()),
                    None => sessions.delete(&key).await.map_err(|e| e.to_string()),
                };
                if let Err(e) = r {
                    warn!(error = %e, "cannot tell the other nodes of a session");
                }
            }
        });
        futures_util::future::join_all(writes).await;
    }
}

/// The stand-ins of other nodes' sessions in this node's rooms, by node and session id.
#[derive(Default)]
struct StandIns {
    map: std::sync::Mutex<StandInMap>,
}

/// Each stand-in's queue, by the node and id of the session it stands for.
type StandInMap = HashMap<(Arc<str>, u64), mpsc::UnboundedSender<ForRoom>>;

/// What a stand-in's task does, in order.
enum ForRoom {
    /// A stanza for a room (a direct invitation with its invitee), and whom to tell once
    /// what it did is durable: the sending node and its sequence number.
    Stanza(causerie_proto::Element, Option<String>, (Arc<str>, u64)),
    /// The session ended or left every room.
    End,
}

impl StandIns {
    fn lock(&self) -> std::sync::MutexGuard<'_, StandInMap> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands `item` to the stand-in of session `id` of `node`, made for `envelope`'s
    /// sender if it has none yet.
    fn handle(
        &self,
        server: &Arc<Server>,
        node: Arc<str>,
        id: u64,
        make: impl FnOnce() -> Option<Session>,
        item: ForRoom,
    ) {
        let mut map = self.lock();
        let item = match map.get(&(node.clone(), id)) {
            Some(tx) => match tx.send(item) {
                Ok(()) => return,
                Err(back) => back.0,
            },
            None => item,
        };
        let ForRoom::Stanza(_, _, (origin, seq)) = &item else {
            return;
        };
        let Some(session) = make() else {
            // Nothing was done: nothing to wait for.
            if let Some(remote) = server.sessions.remote() {
                done(remote, origin.clone(), *seq, true);
            }
            return;
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = tx.send(item);
        map.insert((node.clone(), id), tx);
        tokio::spawn(stand_in(server.clone(), session, rx));
    }

    /// Ends the stand-in of session `id` of `node`, or of every session of `node`.
    fn end(&self, node: &str, id: Option<u64>) {
        let mut map = self.lock();
        map.retain(|(n, i), tx| {
            let ends = &**n == node && id.is_none_or(|id| id == *i);
            if ends {
                let _ = tx.send(ForRoom::End);
            }
            !ends
        });
    }
}

/// One stand-in's life: the stanzas its session sent to this node's rooms, in order, then
/// its departure from them.
async fn stand_in(server: Arc<Server>, session: Session, mut rx: mpsc::UnboundedReceiver<ForRoom>) {
    while let Some(item) = rx.recv().await {
        match item {
            ForRoom::Stanza(stanza, invitee, (origin, seq)) => {
                let mark = server.archive.mark();
                let to = stanza.attr("to").and_then(|t| jid::Jid::new(t).ok());
                match invitee {
                    Some(invitee) => {
                        if let Some(room) =
                            crate::features::muc::invite::direct_room(&server, &stanza)
                        {
                            crate::features::muc::invite::direct(
                                &server, &session, stanza, &invitee, &room,
                            )
                            .await;
                        }
                    }
                    None => {
                        if let Some(dest) = crate::router::classify_muc(&server, to.as_ref()) {
                            crate::features::muc::route(&server, &session, stanza, dest).await;
                        }
                    }
                }
                // Its sender's node acknowledges it (XEP-0198) once it is committed here;
                // waited for beside the next stanzas, not before them.
                let server = server.clone();
                tokio::spawn(async move {
                    let durable = server.archive.durable(mark).await.is_ok();
                    if let Some(remote) = server.sessions.remote() {
                        done(remote, origin, seq, durable);
                    }
                });
            }
            ForRoom::End => {
                crate::features::muc::session_ended(&server, &session).await;
                return;
            }
        }
    }
}

/// Tells node `origin` that its room stanza `seq` was handled here, durably or not.
fn done(remote: &Remote, origin: Arc<str>, seq: u64, durable: bool) {
    remote.send(Outgoing::Deliver {
        node: origin,
        envelope: Envelope {
            user: String::new(),
            resource: String::new(),
            what: What::MucDone { seq, durable },
        },
    });
}

/// Relays what a stand-in's rooms send it to its session on `node`.
async fn relay_back(
    remote: Arc<Remote>,
    node: Arc<str>,
    user: String,
    resource: String,
    jid: String,
    inbox: Inbox,
) {
    let to = to_attribute(&jid);
    let mut buf = std::collections::VecDeque::new();
    let relay = |buf: &mut std::collections::VecDeque<Outbound>| {
        for item in buf.drain(..) {
            let xml = match item {
                Outbound::Stanza(el) => causerie_proto::xml::to_string(&el),
                Outbound::Shared(shared) => shared.addressed_to(&to),
                Outbound::Stop(_) | Outbound::Yield => continue,
            };
            remote.send(Outgoing::Deliver {
                node: node.clone(),
                envelope: Envelope {
                    user: user.clone(),
                    resource: resource.clone(),
                    what: What::Stanza {
                        xml,
                        fallback: false,
                        answer: false,
                    },
                },
            });
        }
    };
    loop {
        match inbox.next(&mut buf).await {
            Next::Items => relay(&mut buf),
            Next::Overflow => {
                // This task fell that far behind its rooms (its queue is STAND_IN_QUEUE
                // times a session's): what a server does with a session that cannot keep
                // up, it does here: what was queued goes, and the session is closed.
                inbox.take_now(&mut buf);
                relay(&mut buf);
                warn!(%user, "a room's stand-in fell behind: its session is closed");
                remote.send(Outgoing::Deliver {
                    node: node.clone(),
                    envelope: Envelope {
                        user: user.clone(),
                        resource: resource.clone(),
                        what: What::Stop {
                            condition: "policy-violation".into(),
                            text: Some(
                                "Trop de messages en attente : il faut se reconnecter. \
                                 — Too many stanzas waiting: connect again."
                                    .into(),
                            ),
                        },
                    },
                });
                return;
            }
            Next::Closed => return,
        }
    }
}

/// Delivers what other nodes relay to this node's sessions, and hands what they send to
/// this node's rooms to the stand-ins.
async fn receive(server: Arc<Server>, standins: Arc<StandIns>, mut inbox: async_nats::Subscriber) {
    while let Some(msg) = inbox.next().await {
        let Ok(envelopes) = serde_json::from_slice::<Vec<Envelope>>(&msg.payload) else {
            warn!("an unreadable relay from another node, dropped");
            continue;
        };
        for envelope in envelopes {
            relayed(&server, &standins, envelope).await;
        }
    }
}

/// One envelope another node sent this one.
async fn relayed(server: &Arc<Server>, standins: &StandIns, envelope: Envelope) {
    match envelope.what {
        What::Stanza {
            xml,
            fallback,
            answer,
        } => {
            let Ok(stanza) = xml.parse::<causerie_proto::Element>() else {
                warn!("an unreadable stanza relayed by another node, dropped");
                return;
            };
            let keep = (fallback && stanza.name() == "message").then(|| stanza.clone());
            let r =
                server
                    .sessions
                    .deliver_relayed(&envelope.user, &envelope.resource, stanza, answer);
            if r == Full::NoSuchResource
                && let Some(message) = keep
            {
                crate::features::message::relayed_undelivered(server, &envelope.user, message)
                    .await;
            }
        }
        What::Stop { condition: c, text } => server.sessions.stop_relayed(
            &envelope.user,
            &envelope.resource,
            condition(&c),
            text.as_deref(),
        ),
        What::Request {
            node,
            seq,
            kind,
            body,
        } => {
            let server = server.clone();
            tokio::spawn(async move {
                let answer = match kind.as_str() {
                    crate::moderation::MODERATE => server.moderate_for_node(&body).await,
                    _ => String::new(),
                };
                if let Some(remote) = server.sessions.remote() {
                    remote.reply(&node, seq, answer);
                }
            });
        }
        What::Reply { seq, body } => {
            if let Some(remote) = server.sessions.remote() {
                remote.answered(seq, body);
            }
        }
        What::MucDone { seq, durable } => {
            if let Some(remote) = server.sessions.remote() {
                remote.forward_done(seq, durable);
            }
        }
        What::Muc {
            node,
            seq,
            session: id,
            lang,
            tu,
            xml,
            invitee,
        } => {
            let Ok(stanza) = xml.parse::<causerie_proto::Element>() else {
                warn!("an unreadable room stanza relayed by another node, dropped");
                return;
            };
            let node: Arc<str> = node.into();
            let (user, resource) = (envelope.user.clone(), envelope.resource.clone());
            let make = || {
                let jid =
                    jid::FullJid::new(&format!("{user}@{}/{resource}", server.domain)).ok()?;
                let (handle, inbox) = SessionHandle::new(
                    resource.clone(),
                    server.config.limits.send_queue_len * STAND_IN_QUEUE,
                );
                let lang = if lang == "en" {
                    crate::config::Language::En
                } else {
                    crate::config::Language::Fr
                };
                let register = if tu {
                    causerie_ent::Register::Tu
                } else {
                    causerie_ent::Register::Vous
                };
                let remote = server.sessions.remote()?.clone();
                tokio::spawn(relay_back(
                    remote,
                    node.clone(),
                    user.clone(),
                    resource.clone(),
                    jid.to_string(),
                    inbox,
                ));
                Some(Session::new(user.clone(), jid, lang, register, handle))
            };
            standins.handle(
                server,
                node.clone(),
                id,
                make,
                ForRoom::Stanza(stanza, invitee, (node.clone(), seq)),
            );
        }
    }
}

/// Applies the other nodes' cache invalidations.
async fn invalidated(
    server: Arc<Server>,
    standins: Arc<StandIns>,
    mut sub: async_nats::Subscriber,
    me: String,
) {
    while let Some(msg) = sub.next().await {
        let Ok(b) = serde_json::from_slice::<Broadcast>(&msg.payload) else {
            continue;
        };
        if b.from == me {
            continue;
        }
        match b.what {
            Invalidation::Roster(user) => server.contacts.forget(&user),
            Invalidation::Blocklist(user) => {
                if let Err(e) = server.blocking.reload(&user).await {
                    warn!(error = %e, "cannot read a blocklist another node changed");
                }
            }
            Invalidation::Session { node, id } => standins.end(&node, Some(id)),
            Invalidation::CloseTagged {
                user,
                tag,
                condition: c,
                text,
            } => {
                server
                    .sessions
                    .close_tagged_here(&user, &tag, condition(&c), &text);
            }
            Invalidation::AppPasswordsPolicy => {
                server.end_app_passwords_refused_here().await;
            }
            Invalidation::Caps { key, features } => server.caps.learn_here(key, features),
            Invalidation::Generation(n) => {
                if server.policy.subscribe().borrow().generation < n {
                    server.policy.poll_signal().notify_one();
                }
            }
        }
    }
}

async fn watch_session_keys(remote: Arc<Remote>, liveness: Arc<Liveness>, store: kv::Store) {
    watching(&store, |entry| {
        let Some((node, user, resource)) = parse_session_key(&entry.key) else {
            return;
        };
        match entry.operation {
            kv::Operation::Put => {
                if let Ok(state) = serde_json::from_slice(&entry.value) {
                    liveness.named(&node);
                    remote.apply(&node, &user, &resource, Some(state));
                }
            }
            kv::Operation::Delete | kv::Operation::Purge => {
                remote.apply(&node, &user, &resource, None)
            }
        }
    })
    .await
}

async fn watch_room_keys(remote: Arc<Remote>, store: kv::Store) {
    watching(&store, |entry| {
        let Some(room) = B64
            .decode(&entry.key)
            .ok()
            .and_then(|r| String::from_utf8(r).ok())
        else {
            return;
        };
        match entry.operation {
            kv::Operation::Put => {
                remote.note_room(&room, Some(&String::from_utf8_lossy(&entry.value)))
            }
            kv::Operation::Delete | kv::Operation::Purge => remote.note_room(&room, None),
        }
    })
    .await
}

async fn watch_node_keys(liveness: Arc<Liveness>, store: kv::Store) {
    watching(&store, |entry| match entry.operation {
        kv::Operation::Put => liveness.heard(&entry.key),
        kv::Operation::Delete | kv::Operation::Purge => liveness.gone(&entry.key),
    })
    .await
}

async fn beating(nodes: kv::Store, me: Arc<str>, beat: Bytes, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if let Err(e) = nodes.put(me.as_ref(), beat.clone()).await {
            warn!(error = %e, "cannot send this node's heartbeat");
        }
    }
}

/// Holds nodes alive or dead from their heartbeats, and, when this node is the janitor,
/// cleans up after a dead one.
async fn checking(
    server: std::sync::Weak<Server>,
    remote: Arc<Remote>,
    liveness: Arc<Liveness>,
    standins: Arc<StandIns>,
    sessions_kv: kv::Store,
    me: Arc<str>,
    (every, dead_after): (Duration, Duration),
) {
    let mut alive: HashSet<Arc<str>> = HashSet::new();
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let Some(server) = server.upgrade() else {
            return;
        };
        let mut died = Vec::new();
        {
            let mut seen = liveness.lock();
            seen.retain(|node, state| {
                if **node == *me {
                    return false;
                }
                match *state {
                    Seen::Beat(at) if at.elapsed() < dead_after => {
                        if alive.insert(node.clone()) {
                            info!(node = %node, "a node joined");
                            remote.set_alive(node, true);
                        }
                        true
                    }
                    // Not heard yet: routable only once heard.
                    Seen::Named(at) if at.elapsed() < dead_after => true,
                    _ => {
                        died.push(node.clone());
                        false
                    }
                }
            });
        }
        let janitor = alive
            .iter()
            .filter(|n| !died.contains(n))
            .chain(std::iter::once(&me))
            .min()
            .is_some_and(|n| *n == me);
        for node in died {
            if alive.remove(&node) {
                warn!(node = %node, "a node is gone");
            }
            let gone = remote.set_alive(&node, false);
            // Its sessions leave this node's rooms; its rooms are nobody's; what this
            // node's sessions sent to them and was not committed there is lost (not
            // acknowledged to them).
            standins.end(&node, None);
            remote.forwards_lost_to(&node);
            let rooms = remote.rooms_of(&node);
            for room in &rooms {
                remote.note_room(room, None);
            }
            // Their keys stay: the next claim of each takes it over at the revision it
            // read, which no janitor's delete could race with.
            if janitor {
                clean_up(&server, &sessions_kv, &node, gone).await;
            }
        }
    }
}

/// The janitor's work after `node` died: its sessions' keys deleted, their contacts told
/// they left (as the node itself would have), their last activity recorded.
async fn clean_up(
    server: &Server,
    sessions_kv: &kv::Store,
    node: &str,
    gone: Vec<(String, RemoteSession)>,
) {
    if !gone.is_empty() {
        info!(node, sessions = gone.len(), "cleaning up after a gone node");
    }
    for (user, s) in gone {
        if let Err(e) = sessions_kv
            .delete(session_key(node, &user, &s.resource))
            .await
        {
            debug!(error = %e, "cannot delete a gone node's session");
        }
        let Ok(jid) = jid::FullJid::new(&format!("{user}@{}/{}", server.domain, s.resource)) else {
            continue;
        };
        let status = s
            .presence
            .as_ref()
            .and_then(|p| p.get_child("status", causerie_proto::ns::CLIENT))
            .map(|st| st.text());
        let departed = Departed {
            was_available: s.presence.is_some(),
            status: status.clone(),
            directed: HashSet::new(),
        };
        let (handle, _inbox) = crate::session::SessionHandle::new(s.resource.clone(), 1);
        let session = crate::session::Session::new(
            user.clone(),
            jid,
            server.config.language,
            causerie_ent::Register::Vous,
            handle,
        );
        crate::features::presence::departed(server, &session, departed).await;
        if !server.sessions.is_online(&user) {
            crate::features::last::record(server, &user, status.as_deref()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_keys_round_trip_any_resource() {
        let key = session_key("node1-0a0b0c0d", "lea.martin", "Gajim.ä/b c");
        assert!(
            key.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        );
        assert_eq!(
            parse_session_key(&key),
            Some((
                "node1-0a0b0c0d".into(),
                "lea.martin".into(),
                "Gajim.ä/b c".into()
            ))
        );
        assert_eq!(parse_session_key("x.%%.y"), None);
    }
}
