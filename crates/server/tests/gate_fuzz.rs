//! A property test of the gate, through the real server: random stanzas of every kind,
//! type and attribute, sent by the accounts of a generated school to random others (bare
//! and full JIDs, real and made-up resources, forged `from`, answers with guessed and
//! real ids), in two phases with a directory change between them (a pupil changes class,
//! another leaves the directory, a group grows).
//!
//! The property: nothing a sender wrote (each stanza carries a token naming its sender
//! and phase), and nothing from his address, reaches an account the rules keep apart from
//! him in that phase — but the server's own error replies to the recipient's stanzas and
//! presence ends stripped of everything (unavailable, unsubscribe, unsubscribed with no
//! child). "Apart" is computed here from the snapshots with `causerie_ent::Directory`,
//! independently of the server, and from the blocks (XEP-0191): each account blocks a few
//! others at random when it logs in, before its initial presence, and nothing may cross
//! between an account and one it blocked, either way. The seed is printed; `GATE_FUZZ_SEED` replays one and
//! `GATE_FUZZ_STANZAS` sets the size of a phase.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use causerie_ent::{Class, Decision, Directory, Group, Profile, Snapshot, Structure, User};
use causerie_proto::Element;
use causerie_proto::framing::{FramingLimits, StreamEvent, StreamParser};
use causerie_server::Config;
use causerie_store::{AccountStore, DirectoryStore, RosterItem, RosterStore, Subscription};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

const DOMAIN: &str = "localhost";
const PASSWORD: &str = "fuzz-password";
const PLAIN: [&str; 2] = ["plain1", "plain2"];

fn user(login: &str, profile: Profile, structure: &str, classes: &[&str]) -> User {
    User {
        login: login.into(),
        last_name: login.to_uppercase(),
        first_name: login.into(),
        profile,
        structures: vec![structure.into()],
        classes: classes.iter().map(|c| c.to_string()).collect(),
        children: Vec::new(),
        password: None,
        admin_of: Vec::new(),
        functions: Vec::new(),
    }
}

/// The school of phase 1; `moved` gives phase 2 (a1 in A2, b3 gone, a3 in the group).
fn school(moved: bool) -> Snapshot {
    let class = |id: &str, s: &str| Class {
        id: id.into(),
        structure: s.into(),
        name: id.into(),
    };
    let mut users = vec![
        user(
            "a1",
            Profile::Student,
            "S1",
            &[if moved { "A2" } else { "A1" }],
        ),
        user("a2", Profile::Student, "S1", &["A1"]),
        user("a3", Profile::Student, "S1", &["A1"]),
        user("a4", Profile::Student, "S1", &["A1"]),
        user("b1", Profile::Student, "S1", &["A2"]),
        user("b2", Profile::Student, "S1", &["A2"]),
        user("b3", Profile::Student, "S1", &["A2"]),
        user("b4", Profile::Student, "S1", &["A2"]),
        user("ta", Profile::Teacher, "S1", &["A1"]),
        user("cpe", Profile::Personnel, "S1", &[]),
        user("guest", Profile::Guest, "S1", &[]),
        user("c1", Profile::Student, "S2", &["C1"]),
        user("c2", Profile::Student, "S2", &["C1"]),
        user("tc", Profile::Teacher, "S2", &["C1"]),
    ];
    let mut parent = user("pa", Profile::Relative, "S1", &[]);
    parent.children = vec!["a1".into()];
    users.push(parent);
    if moved {
        users.retain(|u| u.login != "b3");
    }
    let mut members = vec!["a2".to_string(), "b2".to_string()];
    if moved {
        members.push("a3".into());
    }
    Snapshot {
        structures: vec![
            Structure {
                id: "S1".into(),
                name: "Collège".into(),
            },
            Structure {
                id: "S2".into(),
                name: "Lycée".into(),
            },
        ],
        classes: vec![class("A1", "S1"), class("A2", "S1"), class("C1", "S2")],
        users,
        groups: vec![Group {
            id: "g".into(),
            name: "Chorale".into(),
            structure: Some("S1".into()),
            members,
        }],
        collectivites: None,
    }
}

/// Who blocked whom: (blocker, blocked).
type Blocks = HashSet<(String, String)>;

/// Whether the rules keep `a` and `b` apart under `dir` (plain accounts reach each other
/// only), or either blocked the other.
fn apart(dir: &Directory, blocks: &Blocks, a: &str, b: &str) -> bool {
    if a == b {
        return false;
    }
    if blocks.contains(&(a.to_string(), b.to_string()))
        || blocks.contains(&(b.to_string(), a.to_string()))
    {
        return true;
    }
    let plain = |x: &str| PLAIN.contains(&x);
    match (plain(a), plain(b)) {
        (true, true) => false,
        (false, false) => !matches!(dir.may_reach(a, b), Decision::Allow(_)),
        _ => true,
    }
}

/// One raw client: a plain TCP stream (PLAIN is offered on loopback), everything it
/// receives recorded in order.
struct Client {
    login: String,
    /// Ids of the stanzas this client sent: the server's error replies carry them back.
    sent_ids: Mutex<std::collections::HashSet<String>>,
    writer: tokio::sync::Mutex<OwnedWriteHalf>,
    inbox: Arc<Mutex<Vec<Element>>>,
    closed: Arc<AtomicBool>,
}

struct Reader {
    half: OwnedReadHalf,
    parser: StreamParser,
    pending: VecDeque<StreamEvent>,
}

impl Reader {
    async fn next(&mut self) -> StreamEvent {
        loop {
            if let Some(ev) = self.pending.pop_front() {
                return ev;
            }
            let mut buf = [0u8; 8192];
            let n = tokio::time::timeout(Duration::from_secs(20), self.half.read(&mut buf))
                .await
                .expect("the server answers")
                .expect("read");
            assert!(n > 0, "the server closed the stream during the login");
            let mut out = Vec::new();
            self.parser.feed(&buf[..n], &mut out).expect("well-formed");
            self.pending.extend(out);
        }
    }

    async fn element(&mut self) -> Element {
        loop {
            if let StreamEvent::Element(el) = self.next().await {
                return el;
            }
        }
    }
}

const HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
     xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";

async fn connect(addr: SocketAddr, login: &str, resource: &str, blocks: &[String]) -> Client {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let (half, mut writer) = tcp.into_split();
    let mut reader = Reader {
        half,
        parser: StreamParser::new(FramingLimits::default()),
        pending: VecDeque::new(),
    };
    writer.write_all(HEADER.as_bytes()).await.unwrap();
    let features = reader.element().await;
    assert_eq!(features.name(), "features");
    let token = base64::engine::general_purpose::STANDARD.encode(format!("\0{login}\0{PASSWORD}"));
    writer
        .write_all(
            format!(
                "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}</auth>"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let outcome = reader.element().await;
    assert_eq!(outcome.name(), "success", "{login} logs in");
    reader.parser.reset();
    reader.pending.clear();
    writer.write_all(HEADER.as_bytes()).await.unwrap();
    let _features = reader.element().await;
    writer
        .write_all(
            format!(
                "<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>\
                 <resource>{resource}</resource></bind></iq>"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let bound = reader.element().await;
    assert_eq!(bound.attr("type"), Some("result"), "{login} binds");
    let inbox = Arc::new(Mutex::new(Vec::new()));
    let closed = Arc::new(AtomicBool::new(false));
    let (inbox2, closed2) = (inbox.clone(), closed.clone());
    tokio::spawn(async move {
        loop {
            let mut buf = [0u8; 16384];
            let n = match reader.half.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let mut out = Vec::new();
            if reader.parser.feed(&buf[..n], &mut out).is_err() {
                break;
            }
            for ev in out {
                match ev {
                    StreamEvent::Element(el) => inbox2.lock().unwrap().push(el),
                    StreamEvent::Close | StreamEvent::Open(_) => {}
                }
            }
        }
        closed2.store(true, Ordering::SeqCst);
    });
    let c = Client {
        login: login.into(),
        sent_ids: Mutex::default(),
        writer: tokio::sync::Mutex::new(writer),
        inbox,
        closed,
    };
    if !blocks.is_empty() {
        // Blocked before anything is said (the server handles a session's stanzas in order).
        let items: String = blocks
            .iter()
            .map(|b| format!("<item jid='{b}@{DOMAIN}'/>"))
            .collect();
        c.send(&format!(
            "<iq type='set' id='block'><block xmlns='urn:xmpp:blocking'>{items}</block></iq>"
        ))
        .await;
    }
    // Initial presence, with a status only its subscribers the rules allow may read.
    c.send(&format!(
        "<presence><status>tk0x{login}xstatus</status></presence>"
    ))
    .await;
    c
}

impl Client {
    /// Sends a stanza of the test, remembering its id.
    async fn send_stanza(&self, xml: &str) {
        // The id attribute of the start tag (the stanzas are written with ' quotes).
        let start = &xml[..xml.find('>').unwrap_or(xml.len())];
        if let Some(i) = start.find(" id='")
            && let Some(len) = start[i + 5..].find('\'')
        {
            let id = &start[i + 5..i + 5 + len];
            let id = id
                .replace("&apos;", "'")
                .replace("&quot;", "\"")
                .replace("&lt;", "<");
            let id = id.replace("&gt;", ">").replace("&amp;", "&");
            self.sent_ids.lock().unwrap().insert(id);
        }
        self.send(xml).await;
    }

    async fn send(&self, xml: &str) {
        let _ = self.writer.lock().await.write_all(xml.as_bytes()).await;
    }

    fn received(&self) -> usize {
        self.inbox.lock().unwrap().len()
    }

    /// Pings the server and waits for the answer (see `barrier`).
    async fn ping(&self, id: &str) {
        self.send(&format!(
            "<iq type='get' id='{id}' to='{DOMAIN}'><ping xmlns='urn:xmpp:ping'/></iq>"
        ))
        .await;
        for _ in 0..4000 {
            if self
                .inbox
                .lock()
                .unwrap()
                .iter()
                .rev()
                .any(|e| e.name() == "iq" && e.attr("id") == Some(id))
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("{}: no answer to a ping", self.login);
    }
}

/// Waits until what every client sent has been routed and delivered: each pings the
/// server (its earlier stanzas are then routed), then each pings again (what was queued
/// for it before has then arrived).
async fn barrier(clients: &[Client], tag: &str) {
    for round in 0..2 {
        for c in clients.iter().filter(|c| !c.closed.load(Ordering::SeqCst)) {
            c.ping(&format!("bar-{tag}-{round}-{}", c.login)).await;
        }
    }
}

/// The tokens (sender login, phase) in a serialised stanza.
fn tokens(text: &str) -> Vec<(u8, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("tk") {
        rest = &rest[i + 2..];
        let mut parts = rest.splitn(3, 'x');
        let (Some(phase), Some(sender)) = (parts.next(), parts.next()) else {
            continue;
        };
        if let Ok(p) = phase.parse::<u8>()
            && parts.next().is_some()
        {
            out.push((p, sender.to_string()));
        }
    }
    out
}

/// A random stanza from client `s` to account `to` (one of `logins`, or one that does
/// not exist), with a token of phase `phase`.
fn random_stanza(
    rng: &mut StdRng,
    phase: u8,
    n: usize,
    s: &Client,
    logins: &[String],
    resources: &HashMap<String, String>,
    received: &[Element],
) -> String {
    let tk = format!("tk{phase}x{}x{n}", s.login);
    let to_login = if rng.random_bool(0.05) {
        "nobody".to_string()
    } else {
        logins.choose(rng).unwrap().clone()
    };
    let real = resources.get(&to_login).cloned().unwrap_or_default();
    let to = match rng.random_range(0..4) {
        0 => format!("{to_login}@{DOMAIN}"),
        1 | 2 => format!("{to_login}@{DOMAIN}/{real}"),
        _ => format!("{to_login}@{DOMAIN}/made-up"),
    };
    let mut attrs = format!(" to='{to}'");
    if rng.random_bool(0.1) {
        let forged = logins.choose(rng).unwrap();
        attrs.push_str(&format!(" from='{forged}@{DOMAIN}/{}'", resources[forged]));
    }
    if rng.random_bool(0.2) {
        attrs.push_str(" xml:lang='fr'");
    }
    let error_child = format!(
        "<error type='cancel'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
         <text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>{tk}</text></error>"
    );
    match rng.random_range(0..10) {
        // Messages.
        0..=3 => {
            let kind = [
                None,
                Some("chat"),
                Some("normal"),
                Some("headline"),
                Some("groupchat"),
                Some("error"),
                Some("bogus"),
            ]
            .choose(rng)
            .copied()
            .flatten();
            let mut body = format!("<body>{tk}</body>");
            if kind == Some("error") || rng.random_bool(0.1) {
                body.push_str(&error_child);
            }
            if rng.random_bool(0.1) {
                body.push_str(&format!(
                    "<x xmlns='jabber:x:conference' jid='room{n}@conference.{DOMAIN}' reason='{tk}'/>"
                ));
            }
            if rng.random_bool(0.1) {
                body.push_str(&format!("<subject>{tk}</subject><thread>{tk}</thread>"));
            }
            let t = kind.map(|k| format!(" type='{k}'")).unwrap_or_default();
            format!("<message{attrs}{t} id='m{phase}-{n}'>{body}</message>")
        }
        // Presence.
        4..=6 => {
            let kind = [
                None,
                Some("unavailable"),
                Some("subscribe"),
                Some("subscribed"),
                Some("unsubscribe"),
                Some("unsubscribed"),
                Some("probe"),
                Some("error"),
                Some("bogus"),
            ]
            .choose(rng)
            .copied()
            .flatten();
            let mut body = format!("<status>{tk}</status><show>away</show>");
            if kind == Some("error") {
                body.push_str(&error_child);
            }
            // Without `to` sometimes: a broadcast to the subscribers.
            let attrs = if rng.random_bool(0.15) && matches!(kind, None | Some("unavailable")) {
                String::new()
            } else {
                attrs
            };
            let t = kind.map(|k| format!(" type='{k}'")).unwrap_or_default();
            format!("<presence{attrs}{t} id='p{phase}-{n}'>{body}</presence>")
        }
        // Answers to requests this client received (from whoever sent them).
        7 if !received.is_empty() => {
            let requests: Vec<&Element> = received
                .iter()
                .filter(|e| e.name() == "iq" && matches!(e.attr("type"), Some("get" | "set")))
                .collect();
            match requests.choose(rng) {
                Some(req) => {
                    let kind = if rng.random_bool(0.5) {
                        "result"
                    } else {
                        "error"
                    };
                    let from = req.attr("from").unwrap_or("");
                    let id = req.attr("id").unwrap_or("");
                    let payload = if kind == "error" {
                        error_child
                    } else {
                        format!("<query xmlns='urn:x:fuzz'>{tk}</query>")
                    };
                    format!("<iq to='{from}' type='{kind}' id='{id}'>{payload}</iq>")
                }
                None => format!("<iq{attrs} type='result' id='q{phase}-{n}'/>"),
            }
        }
        // IQs of every type.
        _ => {
            let kind = [
                Some("get"),
                Some("set"),
                Some("result"),
                Some("error"),
                Some("bogus"),
                None,
            ]
            .choose(rng)
            .copied()
            .flatten();
            let payload = match rng.random_range(0..4) {
                0 => "<ping xmlns='urn:xmpp:ping'/>".to_string(),
                1 => "<query xmlns='http://jabber.org/protocol/disco#info'/>".to_string(),
                2 => "<vCard xmlns='vcard-temp'/>".to_string(),
                _ => format!("<query xmlns='urn:x:fuzz'>{tk}</query>"),
            };
            let payload = if kind == Some("error") {
                format!("{payload}{error_child}")
            } else {
                payload
            };
            let id = if rng.random_bool(0.3) {
                // Guess an id this client has seen.
                received
                    .choose(rng)
                    .and_then(|e| e.attr("id"))
                    .unwrap_or("guess")
                    .to_string()
            } else {
                format!("q{phase}-{n}")
            };
            let t = kind.map(|k| format!(" type='{k}'")).unwrap_or_default();
            format!(
                "<iq{attrs}{t} id='{}'>{payload}</iq>",
                causerie_proto::errors::escape(&id)
            )
        }
    }
}

/// What a client received in a phase that crosses a pair the rules keep apart.
fn violations(
    phase: u8,
    dir: &Directory,
    blocks: &Blocks,
    c: &Client,
    received: &[Element],
    crossed: &mut usize,
) -> Vec<String> {
    let mut out = Vec::new();
    for e in received {
        let text = causerie_proto::xml::to_string(e);
        // The server's error reply to one of this client's own stanzas.
        let own_echo = e.attr("type") == Some("error")
            && e.attr("id")
                .is_some_and(|id| c.sent_ids.lock().unwrap().contains(id));
        for (p, sender) in tokens(&text) {
            if sender == c.login {
                continue;
            }
            // Phase 0: the initial presence's status, which may come back any time.
            let now = p == phase || p == 0;
            if now && apart(dir, blocks, &sender, &c.login) {
                out.push(format!(
                    "{} received words of {sender} (phase {p}): {text}",
                    c.login
                ));
            } else if now {
                *crossed += 1;
            }
        }
        let Some(from) = e.attr("from").and_then(|f| jid::Jid::new(f).ok()) else {
            continue;
        };
        let Some(sender) = from.node().map(|n| n.to_string()) else {
            continue;
        };
        if from.domain().as_str() != DOMAIN
            || sender == c.login
            || !apart(dir, blocks, &sender, &c.login)
            || own_echo
        {
            continue;
        }
        let stripped_end = e.name() == "presence"
            && matches!(
                e.attr("type"),
                Some("unavailable" | "unsubscribe" | "unsubscribed")
            )
            && e.children().next().is_none();
        if !stripped_end {
            out.push(format!(
                "{} received a stanza from {sender}, whom the rules keep apart: {text}",
                c.login
            ));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_crosses_a_pair_the_rules_keep_apart() {
    let seed: u64 = std::env::var("GATE_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let per_phase: usize = std::env::var("GATE_FUZZ_STANZAS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    eprintln!("gate fuzz: GATE_FUZZ_SEED={seed} GATE_FUZZ_STANZAS={per_phase}");
    let mut rng = StdRng::seed_from_u64(seed);

    let tmp = tempfile::tempdir().unwrap();
    let mut config = Config {
        domain: DOMAIN.into(),
        data_dir: tmp.path().to_path_buf(),
        ..Config::default()
    };
    // Tests run at any hour: no default quiet hours holding the pupils' messages.
    config.quiet_hours.default = false;
    // No rate limits: they only refuse more (tested on their own), and with them a seed
    // whose stanzas fall on few senders let too few allowed ones through to show the
    // property is not vacuous.
    for limits in [
        &mut config.rates.pupils.messages_per_minute,
        &mut config.rates.pupils.recipients_per_minute,
        &mut config.rates.pupils.contact_requests_per_hour,
        &mut config.rates.pupils.rooms_per_day,
        &mut config.rates.pupils.invitations_per_room_per_hour,
        &mut config.rates.adults.messages_per_minute,
        &mut config.rates.adults.recipients_per_minute,
        &mut config.rates.adults.contact_requests_per_hour,
        &mut config.rates.adults.rooms_per_day,
        &mut config.rates.adults.invitations_per_room_per_hour,
    ] {
        *limits = 0;
    }
    config.listen.c2s = Some("127.0.0.1:0".parse().unwrap());
    config.listen.c2s_tls = None;
    config.listen.http = None;
    config.listen.https = None;
    config.auth.allow_plaintext_on_loopback = true;
    config.auth.failure_delay_ms = 0;
    let running = causerie_server::start(config).await.expect("server starts");
    let addr = running.address("c2s").unwrap();
    let server = running.server.clone();
    let store = server.store();

    let before = school(false);
    let creds = causerie_server::auth::credentials_for(PASSWORD, 4096).unwrap();
    let all: HashMap<String, _> = before
        .users
        .iter()
        .map(|u| (u.login.clone(), creds.clone()))
        .collect();
    store.import_snapshot(&before, &all, None).await.unwrap();
    for p in PLAIN {
        store.create_account(p, &creds).await.unwrap();
    }
    let mut logins: Vec<String> = before.users.iter().map(|u| u.login.clone()).collect();
    logins.extend(PLAIN.iter().map(|p| p.to_string()));
    // Mutual contacts at random, between allowed and forbidden pairs alike (rosters made
    // before the rules said otherwise): the gate must not trust them.
    for (i, a) in logins.iter().enumerate() {
        for b in &logins[i + 1..] {
            if rng.random_bool(0.4) {
                for (x, y) in [(a, b), (b, a)] {
                    let mut item = RosterItem::new(format!("{y}@{DOMAIN}"));
                    item.subscription = Subscription::Both;
                    store.put_roster_item(x, &item).await.unwrap();
                }
            }
        }
    }
    server.directory_changed().await;

    let mut clients = Vec::new();
    let mut resources = HashMap::new();
    let mut blocks = Blocks::new();
    for login in &logins {
        let resource = format!("r{}", rng.random_range(1000..9999));
        resources.insert(login.clone(), resource.clone());
        let blocked: Vec<String> = logins
            .iter()
            .filter(|o| *o != login && rng.random_bool(0.08))
            .cloned()
            .collect();
        for b in &blocked {
            blocks.insert((login.clone(), b.clone()));
        }
        clients.push(connect(addr, login, &resource, &blocked).await);
    }
    barrier(&clients, "start").await;

    let dirs = [
        Directory::new(before, HashMap::new()),
        Directory::new(school(true), HashMap::new()),
    ];
    let mut problems = Vec::new();
    let mut crossed = 0;
    for phase in 1..=2u8 {
        if phase == 2 {
            let after = school(true);
            let creds: HashMap<String, _> = after
                .users
                .iter()
                .map(|u| (u.login.clone(), creds.clone()))
                .collect();
            store.import_snapshot(&after, &creds, None).await.unwrap();
            server.directory_changed().await;
            // b3 left the directory: the server closes his session.
            for _ in 0..400 {
                if clients
                    .iter()
                    .any(|c| c.login == "b3" && c.closed.load(Ordering::SeqCst))
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            assert!(
                clients
                    .iter()
                    .any(|c| c.login == "b3" && c.closed.load(Ordering::SeqCst)),
                "the session of a user who left the directory is closed"
            );
            barrier(&clients, "change").await;
        }
        // Phase 1 looks at everything since the logins (initial presences, probes).
        let marks: Vec<usize> = if phase == 1 {
            vec![0; clients.len()]
        } else {
            clients.iter().map(Client::received).collect()
        };
        let live: Vec<&Client> = clients
            .iter()
            .filter(|c| !c.closed.load(Ordering::SeqCst))
            .collect();
        for n in 0..per_phase {
            let s = live.choose(&mut rng).unwrap();
            let received: Vec<Element> = {
                let inbox = s.inbox.lock().unwrap();
                inbox[inbox.len().saturating_sub(50)..].to_vec()
            };
            let xml = random_stanza(&mut rng, phase, n, s, &logins, &resources, &received);
            s.send_stanza(&xml).await;
            if n % 200 == 199 {
                // Let the answers to requests come back, so that some answer.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        barrier(&clients, &format!("p{phase}")).await;
        let dir = &dirs[usize::from(phase - 1)];
        for (c, mark) in clients.iter().zip(&marks) {
            let received = c.inbox.lock().unwrap()[*mark..].to_vec();
            problems.extend(violations(phase, dir, &blocks, c, &received, &mut crossed));
        }
    }
    assert!(
        problems.is_empty(),
        "seed {seed}: {} stanza(s) crossed a pair the rules keep apart:\n{}",
        problems.len(),
        problems[..problems.len().min(20)].join("\n")
    );
    // The property is not vacuous: allowed pairs did talk.
    assert!(
        crossed > per_phase / 20,
        "seed {seed}: only {crossed} stanzas between allowed pairs arrived"
    );
    running.shutdown(Duration::from_secs(5)).await;
}
