//! XEP-0163 personal eventing (PEP): the pubsub service on each account's bare JID —
//! publish (auto-create, publish-options as preconditions), retrieve (all, by id,
//! `max_items`), retract, create, node configuration (get and set), default
//! configuration, delete. The notifications they cause and the last items sent on
//! presence are `features::pep_events`; which nodes a client wants, `features::caps`.
//!
//! Who may read a node besides its owner, on top of the gate (which already decided the
//! request to the owner's bare JID: the school's rules must allow the pair): with access
//! model `presence`, the accounts subscribed to the owner's presence; with `whitelist`,
//! nobody. Anyone else gets `item-not-found`, whether the node exists or not. The access
//! model `open` (and `roster`, `authorize`) is refused with `not-acceptable` and a text:
//! in a school, « everyone » is not a public (docs/directory.md).
//!
//! Nodes that hold their owner's private data (XEP-0223: the bookmarks of XEP-0402 and of
//! XEP-0048 over PEP, whose conferences may carry a room's password; XEP-0490's displayed
//! markers) are whitelist whatever a client asks (`pep_events::private_node`, `pep_events::access`): a client
//! that publishes without publish-options gets a private node, one that asks `presence` for
//! them is refused with a text, and such a node made `presence` before is read as whitelist.
//!
//! The bookmarks node (XEP-0402) is also XEP-0048's list in private storage
//! (`features::bookmarks`, `#compat`): conferences left there from before are moved to the
//! node when the owner first uses it.
//!
//! Requests are parsed with xmpp-parsers' `PubSub` and `pubsub::Owner`; answers and
//! forms are built here (minidom), the shapes being small.

use causerie_proto::errors::{Condition, StanzaError};
use causerie_proto::parsers::data_forms::DataForm;
use causerie_proto::parsers::pubsub::owner::Payload as OwnerPayload;
use causerie_proto::parsers::pubsub::pubsub::{Item, Publish, PublishOptions, Retract};
use causerie_proto::parsers::pubsub::{Owner, PubSub};
use causerie_proto::{Element, xml};
use causerie_store::{
    AccessModel, PepItem, PepNode, PepStore, Published, SendLast, StoreError, Subscription,
};
use tracing::warn;

use super::bookmarks;
use super::pep_events::{self, Event};
pub use super::pep_limits::NS_ERRORS;
use super::pep_limits::{pubsub_error, quota, too_many_nodes};
use super::profile_policy;
use super::vcard4;
use crate::server::Server;
use crate::session::Session;
use crate::stanza::{IqResult, error, internal};

pub const NS_PUBSUB: &str = "http://jabber.org/protocol/pubsub";
pub const NS_OWNER: &str = "http://jabber.org/protocol/pubsub#owner";
pub use super::pep_events::NS_EVENT;
const NS_NODE_CONFIG: &str = "http://jabber.org/protocol/pubsub#node_config";
#[cfg(test)]
const NS_PUBLISH_OPTIONS: &str = "http://jabber.org/protocol/pubsub#publish-options";
const NS_DATA: &str = "jabber:x:data";

/// The PEP features advertised on every account's bare JID: only what works.
pub const FEATURES: &[&str] = &[
    NS_PUBSUB,
    "http://jabber.org/protocol/pubsub#access-presence",
    "http://jabber.org/protocol/pubsub#access-whitelist",
    "http://jabber.org/protocol/pubsub#auto-create",
    "http://jabber.org/protocol/pubsub#auto-subscribe",
    "http://jabber.org/protocol/pubsub#config-node",
    "http://jabber.org/protocol/pubsub#config-node-max",
    "http://jabber.org/protocol/pubsub#create-and-configure",
    "http://jabber.org/protocol/pubsub#create-nodes",
    "http://jabber.org/protocol/pubsub#delete-items",
    "http://jabber.org/protocol/pubsub#delete-nodes",
    "http://jabber.org/protocol/pubsub#filtered-notifications",
    "http://jabber.org/protocol/pubsub#item-ids",
    "http://jabber.org/protocol/pubsub#last-published",
    "http://jabber.org/protocol/pubsub#multi-items",
    "http://jabber.org/protocol/pubsub#persistent-items",
    "http://jabber.org/protocol/pubsub#presence-notifications",
    "http://jabber.org/protocol/pubsub#publish",
    "http://jabber.org/protocol/pubsub#publish-options",
    "http://jabber.org/protocol/pubsub#retract-items",
    "http://jabber.org/protocol/pubsub#retrieve-default",
    "http://jabber.org/protocol/pubsub#retrieve-items",
];

/// Longest node name and item id, in bytes.
const MAX_NAME_BYTES: usize = 1024;

// -- errors -------------------------------------------------------------------------------

fn not_found() -> StanzaError {
    error(
        Condition::ItemNotFound,
        "Ce nœud n'existe pas ou n'est pas visible par ce compte.",
        "This node does not exist or is not visible to you.",
    )
}

fn not_owner() -> StanzaError {
    error(
        Condition::Forbidden,
        "Seul le titulaire du compte peut modifier ses nœuds.",
        "Only the account's owner may change its nodes.",
    )
}

fn unsupported(feature: &str) -> StanzaError {
    pubsub_error(
        Condition::FeatureNotImplemented,
        "unsupported",
        Some(feature),
        format!(
            "Cette opération ({feature}) n'existe pas ici : on reçoit les publications de ses contacts selon ses capacités (XEP-0115)."
        ),
        format!(
            "This operation ({feature}) is not offered here: one receives one's contacts' publications according to one's capabilities (XEP-0115)."
        ),
    )
}

fn open_refused(value: &str) -> StanzaError {
    error(
        Condition::NotAcceptable,
        format!(
            "Le modèle d'accès « {value} » n'est pas proposé : dans l'établissement, une publication est visible des contacts de son auteur (presence) ou de lui seul (whitelist)."
        ),
        format!(
            "The access model '{value}' is not offered: in the school, what you publish is visible to your contacts (presence) or to you alone (whitelist)."
        ),
    )
}

fn bad(fr: impl Into<String>, en: impl Into<String>) -> StanzaError {
    error(Condition::BadRequest, fr, en)
}

fn node_name(name: &str) -> Result<&str, StanzaError> {
    if name.is_empty() {
        return Err(pubsub_error(
            Condition::BadRequest,
            "nodeid-required",
            None,
            "Le nom du nœud est requis.",
            "The node's name is required.",
        ));
    }
    if name.len() > MAX_NAME_BYTES || name.chars().any(char::is_control) {
        return Err(bad(
            format!(
                "Nom de nœud invalide (au plus {MAX_NAME_BYTES} octets, sans caractère de contrôle)."
            ),
            format!("Invalid node name (at most {MAX_NAME_BYTES} bytes, no control character)."),
        ));
    }
    Ok(name)
}

// -- configuration ------------------------------------------------------------------------

/// The options a form sets (publish-options or a node configuration).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Options {
    access: Option<AccessModel>,
    persist: Option<bool>,
    max: Option<u32>,
    send_last: Option<SendLast>,
    notify_retract: Option<bool>,
    notify_delete: Option<bool>,
}

impl Options {
    fn apply(&self, node: &mut PepNode) {
        if let Some(a) = self.access {
            node.access_model = a;
        }
        if let Some(p) = self.persist {
            node.persist_items = p;
        }
        if let Some(m) = self.max {
            node.max_items = m;
        }
        if let Some(s) = self.send_last {
            node.send_last = s;
        }
        if let Some(r) = self.notify_retract {
            node.notify_retract = r;
        }
        if let Some(d) = self.notify_delete {
            node.notify_delete = d;
        }
    }

    /// The first option whose value differs from `node`'s.
    fn mismatch(&self, node: &PepNode) -> Option<&'static str> {
        let mut probe = node.clone();
        self.apply(&mut probe);
        [
            (
                "pubsub#access_model",
                probe.access_model != node.access_model,
            ),
            (
                "pubsub#persist_items",
                probe.persist_items != node.persist_items,
            ),
            ("pubsub#max_items", probe.max_items != node.max_items),
            (
                "pubsub#send_last_published_item",
                probe.send_last != node.send_last,
            ),
            (
                "pubsub#notify_retract",
                probe.notify_retract != node.notify_retract,
            ),
            (
                "pubsub#notify_delete",
                probe.notify_delete != node.notify_delete,
            ),
        ]
        .into_iter()
        .find(|(_, differs)| *differs)
        .map(|(f, _)| f)
    }
}

fn boolean(var: &str, v: &str) -> Result<bool, StanzaError> {
    match v {
        "1" | "true" => Ok(true),
        "0" | "false" => Ok(false),
        _ => Err(bad(
            format!("{var} : valeur booléenne attendue (true ou false), reçu « {v} »."),
            format!("{var}: a boolean (true or false) is expected, got '{v}'."),
        )),
    }
}

/// Reads a submitted form. `unknown` is the error for a field not offered here.
fn parse_options(
    form: &DataForm,
    max_allowed: u32,
    unknown: impl Fn(&str) -> StanzaError,
) -> Result<Options, StanzaError> {
    let mut o = Options::default();
    for field in &form.fields {
        let Some(var) = field.var.as_deref() else {
            continue;
        };
        let value = field.values.first().map(String::as_str).unwrap_or("");
        match var {
            "FORM_TYPE" => {}
            "pubsub#access_model" => {
                o.access = Some(match AccessModel::parse(value) {
                    Some(a) => a,
                    None => return Err(open_refused(value)),
                })
            }
            "pubsub#persist_items" => o.persist = Some(boolean(var, value)?),
            "pubsub#max_items" => {
                let n = if value == "max" {
                    max_allowed
                } else {
                    match value.parse::<u32>() {
                        Ok(n) if (1..=max_allowed).contains(&n) => n,
                        _ => {
                            return Err(error(
                                Condition::NotAcceptable,
                                format!(
                                    "pubsub#max_items : un nombre de 1 à {max_allowed}, ou « max », reçu « {value} »."
                                ),
                                format!(
                                    "pubsub#max_items: a number from 1 to {max_allowed}, or 'max', got '{value}'."
                                ),
                            ));
                        }
                    }
                };
                o.max = Some(n);
            }
            "pubsub#send_last_published_item" => {
                o.send_last = Some(SendLast::parse(value).ok_or_else(|| {
                    bad(
                        format!("pubsub#send_last_published_item : never, on_sub ou on_sub_and_presence, reçu « {value} »."),
                        format!("pubsub#send_last_published_item: never, on_sub or on_sub_and_presence, got '{value}'."),
                    )
                })?)
            }
            "pubsub#notify_retract" => o.notify_retract = Some(boolean(var, value)?),
            "pubsub#notify_delete" => o.notify_delete = Some(boolean(var, value)?),
            // Always on in PEP: accepted when asked as they are.
            "pubsub#deliver_payloads" | "pubsub#deliver_notifications"
            | "pubsub#presence_based_delivery"
                if boolean(var, value)? => {}
            other => return Err(unknown(other)),
        }
    }
    Ok(o)
}

fn field(var: &str, kind: &str, values: &[&str], options: &[&str]) -> Element {
    let mut f = xml::elem("field", NS_DATA, &[("var", var), ("type", kind)]);
    for o in options {
        let mut opt = Element::bare("option", NS_DATA);
        opt.append_child(xml::text_elem("value", NS_DATA, *o));
        f.append_child(opt);
    }
    for v in values {
        f.append_child(xml::text_elem("value", NS_DATA, *v));
    }
    f
}

/// A node's configuration as a form (`pubsub#node_config`).
fn config_form(node: &PepNode) -> Element {
    let b = |v: bool| if v { "true" } else { "false" };
    let max = node.max_items.to_string();
    let mut x = xml::elem("x", NS_DATA, &[("type", "form")]);
    x.append_child(field("FORM_TYPE", "hidden", &[NS_NODE_CONFIG], &[]));
    x.append_child(field(
        "pubsub#access_model",
        "list-single",
        &[node.access_model.as_str()],
        &["presence", "whitelist"],
    ));
    x.append_child(field(
        "pubsub#persist_items",
        "boolean",
        &[b(node.persist_items)],
        &[],
    ));
    x.append_child(field("pubsub#max_items", "text-single", &[&max], &[]));
    x.append_child(field(
        "pubsub#send_last_published_item",
        "list-single",
        &[node.send_last.as_str()],
        &["never", "on_sub", "on_sub_and_presence"],
    ));
    x.append_child(field(
        "pubsub#notify_retract",
        "boolean",
        &[b(node.notify_retract)],
        &[],
    ));
    x.append_child(field(
        "pubsub#notify_delete",
        "boolean",
        &[b(node.notify_delete)],
        &[],
    ));
    x
}

// -- access -------------------------------------------------------------------------------

/// Keeps a private node private: whitelist when the options do not say, refused when they
/// ask `presence`.
fn keep_private(node: &mut PepNode, options: &Options) -> Result<(), StanzaError> {
    if !pep_events::private_node(&node.node) {
        return Ok(());
    }
    if options.access == Some(AccessModel::Presence) {
        return Err(error(
            Condition::NotAcceptable,
            format!(
                "Le nœud « {} » garde des données privées (des signets peuvent porter le mot de passe d'un salon) : il n'est visible que de son auteur (whitelist).",
                node.node
            ),
            format!(
                "The node '{}' keeps private data (bookmarks may carry a room's password): it is visible to its owner alone (whitelist).",
                node.node
            ),
        ));
    }
    node.access_model = AccessModel::Whitelist;
    Ok(())
}

/// Whether `reader` may read `owner`'s `node` (the gate already let the pair talk).
async fn may_read(
    server: &Server,
    owner: &str,
    reader: &str,
    node: &PepNode,
) -> Result<bool, StanzaError> {
    if owner == reader {
        return Ok(true);
    }
    match pep_events::access(node) {
        AccessModel::Whitelist => Ok(false),
        AccessModel::Presence => {
            let item = server
                .contacts
                .item(owner, &server.bare_jid(reader))
                .await
                .map_err(internal)?;
            Ok(item
                .is_some_and(|i| matches!(i.subscription, Subscription::From | Subscription::Both)))
        }
    }
}

/// Whether `reader` may see `owner`'s node `name` at all (for disco#items).
pub async fn visible_nodes(server: &Server, owner: &str, reader: &str) -> Vec<String> {
    let nodes = match server.store.pep_nodes(owner).await {
        Ok(n) => n,
        Err(e) => {
            warn!(error = %e, "cannot list PEP nodes");
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for n in nodes {
        if may_read(server, owner, reader, &n).await.unwrap_or(false) {
            out.push(n.node);
        }
    }
    out
}

// -- requests -----------------------------------------------------------------------------

/// A `<pubsub/>` request (namespace `http://jabber.org/protocol/pubsub`) to `owner`'s
/// bare JID.
pub async fn handle(
    server: &Server,
    session: &Session,
    owner: &str,
    payload: &Element,
    set: bool,
) -> IqResult {
    let request = PubSub::try_from(payload.clone()).map_err(|e| {
        bad(
            format!("Requête pubsub invalide : {e}"),
            format!("Invalid pubsub request: {e}"),
        )
    })?;
    let own = owner == session.user;
    match (request, set) {
        (
            PubSub::Publish {
                publish,
                publish_options,
            },
            true,
        ) => {
            if !own {
                return Err(not_owner());
            }
            self::publish(server, session, publish, publish_options).await
        }
        (PubSub::Items(items), false) => {
            let node = node_name(&items.node.0)?.to_string();
            let ids: Vec<String> = items
                .items
                .iter()
                .filter_map(|i| i.id.as_ref().map(|id| id.0.clone()))
                .collect();
            retrieve(server, session, owner, &node, &ids, items.max_items).await
        }
        (PubSub::Retract(retract), true) => {
            if !own {
                return Err(not_owner());
            }
            self::retract(server, session, retract).await
        }
        (PubSub::Create { create, configure }, true) => {
            if !own {
                return Err(not_owner());
            }
            let Some(name) = create.node else {
                return Err(pubsub_error(
                    Condition::NotAcceptable,
                    "nodeid-required",
                    None,
                    "Un nœud doit avoir un nom : un compte n'a pas de nœud sans nom.",
                    "Name the node: an account has no unnamed (instant) node.",
                ));
            };
            let mut node = PepNode::new(node_name(&name.0)?);
            profile_policy::check_node(server, &session.user, &node.node, None).await?;
            let options = match configure.and_then(|c| c.form) {
                Some(form) => parse_options(&form, server.config.pep.max_items_per_node, |f| {
                    unknown_option(f)
                })?,
                None => Options::default(),
            };
            options.apply(&mut node);
            keep_private(&mut node, &options)?;
            match server
                .store
                .pep_create(&session.user, &node, server.config.pep.max_nodes_per_user)
                .await
            {
                Ok(true) => Ok(None),
                Ok(false) => Err(too_many_nodes(server)),
                Err(StoreError::AlreadyExists) => Err(error(
                    Condition::Conflict,
                    "Ce nœud existe déjà.",
                    "This node already exists.",
                )),
                Err(e) => Err(internal(e)),
            }
        }
        (PubSub::Default(_), _) => Err(unsupported("retrieve-default-sub")),
        (PubSub::Subscribe { .. } | PubSub::Unsubscribe(_), _) => Err(unsupported("subscribe")),
        (PubSub::Subscription(_) | PubSub::Subscriptions(_), _) => {
            Err(unsupported("retrieve-subscriptions"))
        }
        (PubSub::Affiliations(_), _) => Err(unsupported("retrieve-affiliations")),
        _ => Err(bad(
            "Cette requête pubsub ne va pas avec ce type d'IQ (get ou set).",
            "This pubsub request does not go with this IQ type (get or set).",
        )),
    }
}

fn default_node(server: &Server) -> PepNode {
    let mut n = PepNode::new("");
    n.max_items = n.max_items.min(server.config.pep.max_items_per_node);
    n
}

fn unknown_option(var: &str) -> StanzaError {
    error(
        Condition::NotAcceptable,
        format!("L'option {var} n'est pas proposée ici."),
        format!("The option {var} is not offered here."),
    )
}

async fn publish(
    server: &Server,
    session: &Session,
    publish: Publish,
    options: Option<PublishOptions>,
) -> IqResult {
    let name = node_name(&publish.node.0)?.to_string();
    if name == bookmarks::NODE {
        bookmarks::migrate(server, &session.user).await;
    }
    let mut items = publish.items.into_iter();
    let (Some(item), None) = (items.next(), items.next()) else {
        return Err(pubsub_error(
            Condition::BadRequest,
            "item-required",
            None,
            "Une publication porte exactement un élément <item/>.",
            "A publication carries exactly one <item/>.",
        ));
    };
    let Item { id, payload, .. } = item;
    let Some(mut payload) = payload else {
        return Err(pubsub_error(
            Condition::BadRequest,
            "payload-required",
            None,
            "L'élément publié est vide : il faut un contenu.",
            "The published item is empty: it needs a payload.",
        ));
    };
    profile_policy::check_node(server, &session.user, &name, Some(&payload)).await?;
    let id = match id {
        Some(id) if id.0.is_empty() || id.0.len() > MAX_NAME_BYTES => {
            return Err(bad(
                format!("Identifiant d'élément invalide (1 à {MAX_NAME_BYTES} octets)."),
                format!("Invalid item id (1 to {MAX_NAME_BYTES} bytes)."),
            ));
        }
        Some(id) => id.0,
        None => uuid::Uuid::new_v4().simple().to_string(),
    };
    if name == vcard4::NODE {
        payload = vcard4::check_publish(server, &session.user, &payload).await?;
    }
    let text = xml::to_string(&payload);
    let max_bytes = server.config.pep.max_item_bytes;
    if text.len() > max_bytes {
        return Err(pubsub_error(
            Condition::NotAcceptable,
            "payload-too-big",
            None,
            format!("L'élément publié dépasse {max_bytes} octets."),
            format!("The published item is larger than {max_bytes} bytes."),
        ));
    }
    let max_allowed = server.config.pep.max_items_per_node;
    let options = match options.and_then(|o| o.form) {
        Some(form) => parse_options(&form, max_allowed, |f| {
            pubsub_error(
                Condition::Conflict,
                "precondition-not-met",
                None,
                format!("L'option {f} n'est pas proposée ici."),
                format!("The option {f} is not offered here."),
            )
        })?,
        None => Options::default(),
    };
    let existing = server
        .store
        .pep_node(&session.user, &name)
        .await
        .map_err(internal)?;
    let config = match existing {
        Some(node) => {
            if let Some(field) = options.mismatch(&node) {
                return Err(pubsub_error(
                    Condition::Conflict,
                    "precondition-not-met",
                    None,
                    format!(
                        "Le nœud existe avec une autre valeur de {field} : sa configuration est à changer d'abord."
                    ),
                    format!(
                        "The node exists with another value of {field}: change its configuration first."
                    ),
                ));
            }
            node
        }
        None => {
            let mut node = PepNode::new(name.clone());
            node.max_items = node.max_items.min(max_allowed);
            options.apply(&mut node);
            keep_private(&mut node, &options)?;
            node
        }
    };
    let stored = PepItem {
        id: id.clone(),
        xml: text,
    };
    match server
        .store
        .pep_publish(&session.user, &config, &stored, quota(server))
        .await
        .map_err(internal)?
    {
        Published::Stored { .. } => {}
        Published::TooManyNodes => return Err(too_many_nodes(server)),
        Published::OverQuota => {
            let n = server.config.pep.max_bytes_per_user;
            return Err(error(
                Condition::ResourceConstraint,
                format!(
                    "Les publications de ce compte dépassent {n} octets en tout : il faut en retirer d'abord."
                ),
                format!("Your publications exceed {n} bytes in all: retract some first."),
            ));
        }
    }
    pep_events::tell(
        server,
        session,
        &config,
        Event::Item {
            id: &id,
            payload: &payload,
        },
    )
    .await;
    let mut p = Element::bare("pubsub", NS_PUBSUB);
    let mut pu = xml::elem("publish", NS_PUBSUB, &[("node", &name)]);
    pu.append_child(xml::elem("item", NS_PUBSUB, &[("id", &id)]));
    p.append_child(pu);
    Ok(Some(p))
}

async fn retrieve(
    server: &Server,
    session: &Session,
    owner: &str,
    name: &str,
    ids: &[String],
    max: Option<u32>,
) -> IqResult {
    if session.user != owner && !server.user_exists(owner).await {
        return Err(not_found());
    }
    if session.user == owner && name == bookmarks::NODE {
        bookmarks::migrate(server, owner).await;
    }
    let node = server.store.pep_node(owner, name).await.map_err(internal)?;
    let vcard = name == vcard4::NODE;
    let (node, virtual_card) = match node {
        Some(n) => (n, None),
        // A directory user who published no vCard4 still has the school's name.
        None if vcard => match vcard4::name_only(server, owner).await {
            Some(card) => (PepNode::new(name), Some(card)),
            None => return Err(not_found()),
        },
        None => return Err(not_found()),
    };
    if !may_read(server, owner, &session.user, &node).await? {
        return Err(not_found());
    }
    let items = if let Some(card) = virtual_card {
        if ids.is_empty() || ids.iter().any(|i| i == vcard4::ITEM) {
            vec![(vcard4::ITEM.to_string(), card)]
        } else {
            Vec::new()
        }
    } else {
        let stored = if ids.is_empty() {
            server.store.pep_items(owner, name, max).await
        } else {
            server.store.pep_items_by_id(owner, name, ids).await
        }
        .map_err(internal)?;
        let mut out = Vec::with_capacity(stored.len());
        for i in stored {
            match i.xml.parse::<Element>() {
                Ok(el) if vcard => {
                    out.push((i.id, vcard4::with_school_name(server, owner, &el).await))
                }
                Ok(el) => out.push((i.id, el)),
                Err(e) => warn!(error = %e, "unreadable PEP item skipped"),
            }
        }
        out
    };
    let mut list = xml::elem("items", NS_PUBSUB, &[("node", name)]);
    for (id, payload) in items {
        let mut it = xml::elem("item", NS_PUBSUB, &[("id", &id)]);
        it.append_child(payload);
        list.append_child(it);
    }
    let mut p = Element::bare("pubsub", NS_PUBSUB);
    p.append_child(list);
    Ok(Some(p))
}

async fn retract(server: &Server, session: &Session, retract: Retract) -> IqResult {
    let name = node_name(&retract.node.0)?.to_string();
    if name == bookmarks::NODE {
        bookmarks::migrate(server, &session.user).await;
    }
    let ids: Vec<String> = retract
        .items
        .iter()
        .filter_map(|i| i.id.as_ref().map(|id| id.0.clone()))
        .collect();
    if ids.is_empty() {
        return Err(pubsub_error(
            Condition::BadRequest,
            "item-required",
            None,
            "Dites quel élément retirer (<item id='…'/>).",
            "Say which item to retract (<item id='…'/>).",
        ));
    }
    let Some(node) = server
        .store
        .pep_node(&session.user, &name)
        .await
        .map_err(internal)?
    else {
        return Err(not_found());
    };
    let mut gone = Vec::new();
    for id in &ids {
        if server
            .store
            .pep_retract(&session.user, &name, id)
            .await
            .map_err(internal)?
        {
            gone.push(id.clone());
        }
    }
    if gone.is_empty() {
        return Err(error(
            Condition::ItemNotFound,
            "Cet élément n'existe pas.",
            "This item does not exist.",
        ));
    }
    if retract.notify || node.notify_retract {
        pep_events::tell(server, session, &node, Event::Retract { ids: &gone }).await;
    }
    Ok(None)
}

/// A `<pubsub xmlns='…#owner'/>` request: the owner configures or deletes his nodes.
pub async fn handle_owner(
    server: &Server,
    session: &Session,
    owner: &str,
    payload: &Element,
    set: bool,
) -> IqResult {
    let request = Owner::try_from(payload.clone()).map_err(|e| {
        bad(
            format!("Requête pubsub#owner invalide : {e}"),
            format!("Invalid pubsub#owner request: {e}"),
        )
    })?;
    if owner != session.user {
        return Err(not_owner());
    }
    let user = &session.user;
    match (request.payload, set) {
        (OwnerPayload::Configure { node, form: None }, false) => {
            let name = node_name(node.as_ref().map_or("", |n| &n.0))?.to_string();
            let Some(n) = server.store.pep_node(user, &name).await.map_err(internal)? else {
                return Err(not_found());
            };
            let mut c = xml::elem("configure", NS_OWNER, &[("node", &name)]);
            c.append_child(config_form(&n));
            let mut p = Element::bare("pubsub", NS_OWNER);
            p.append_child(c);
            Ok(Some(p))
        }
        (
            OwnerPayload::Configure {
                node,
                form: Some(form),
            },
            true,
        ) => {
            let name = node_name(node.as_ref().map_or("", |n| &n.0))?.to_string();
            let Some(mut n) = server.store.pep_node(user, &name).await.map_err(internal)? else {
                return Err(not_found());
            };
            if form.type_ == causerie_proto::parsers::data_forms::DataFormType::Cancel {
                return Ok(None);
            }
            let options =
                parse_options(&form, server.config.pep.max_items_per_node, unknown_option)?;
            options.apply(&mut n);
            keep_private(&mut n, &options)?;
            match server.store.pep_configure(user, &n).await {
                Ok(()) => Ok(None),
                Err(StoreError::NotFound) => Err(not_found()),
                Err(e) => Err(internal(e)),
            }
        }
        (OwnerPayload::Default { .. }, false) => {
            let mut d = Element::bare("default", NS_OWNER);
            d.append_child(config_form(&default_node(server)));
            let mut p = Element::bare("pubsub", NS_OWNER);
            p.append_child(d);
            Ok(Some(p))
        }
        (OwnerPayload::Delete { node, .. }, true) => {
            let name = node_name(&node.0)?.to_string();
            if name == bookmarks::NODE {
                bookmarks::migrate(server, user).await;
            }
            let Some(n) = server.store.pep_node(user, &name).await.map_err(internal)? else {
                return Err(not_found());
            };
            server
                .store
                .pep_delete(user, &name)
                .await
                .map_err(internal)?;
            if n.notify_delete {
                pep_events::tell(server, session, &n, Event::Delete).await;
            }
            Ok(None)
        }
        (OwnerPayload::Purge { .. }, _) => Err(unsupported("purge-nodes")),
        (OwnerPayload::Subscriptions { .. }, _) => Err(unsupported("manage-subscriptions")),
        (OwnerPayload::Affiliations { .. }, _) => Err(unsupported("modify-affiliations")),
        _ => Err(bad(
            "Cette requête pubsub#owner ne va pas avec ce type d'IQ (get ou set).",
            "This pubsub#owner request does not go with this IQ type (get or set).",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(fields: &[(&str, &str)]) -> DataForm {
        let mut x = String::from("<x xmlns='jabber:x:data' type='submit'>");
        x.push_str(&format!(
            "<field var='FORM_TYPE' type='hidden'><value>{NS_PUBLISH_OPTIONS}</value></field>"
        ));
        for (k, v) in fields {
            x.push_str(&format!("<field var='{k}'><value>{v}</value></field>"));
        }
        x.push_str("</x>");
        DataForm::try_from(x.parse::<Element>().unwrap()).unwrap()
    }

    fn unknown(f: &str) -> StanzaError {
        StanzaError::new(Condition::Conflict).with_text("en", f)
    }

    #[test]
    fn bookmarks_options_are_understood() {
        // What XEP-0402 §4 asks.
        let o = parse_options(
            &form(&[
                ("pubsub#persist_items", "true"),
                ("pubsub#max_items", "max"),
                ("pubsub#send_last_published_item", "never"),
                ("pubsub#access_model", "whitelist"),
                ("pubsub#notify_delete", "true"),
                ("pubsub#notify_retract", "true"),
            ]),
            500,
            unknown,
        )
        .unwrap();
        let mut n = PepNode::new("urn:xmpp:bookmarks:1");
        assert_eq!(o.mismatch(&n), Some("pubsub#access_model"));
        o.apply(&mut n);
        assert_eq!(n.max_items, 500);
        assert_eq!(n.access_model, AccessModel::Whitelist);
        assert_eq!(n.send_last, SendLast::Never);
        assert_eq!(o.mismatch(&n), None);
    }

    #[test]
    fn open_unknown_and_bad_values_are_refused_with_a_text() {
        for (fields, cond) in [
            (
                vec![("pubsub#access_model", "open")],
                Condition::NotAcceptable,
            ),
            (vec![("pubsub#max_items", "0")], Condition::NotAcceptable),
            (vec![("pubsub#max_items", "501")], Condition::NotAcceptable),
            (vec![("pubsub#persist_items", "yes")], Condition::BadRequest),
            (vec![("pubsub#title", "x")], Condition::Conflict),
            (
                vec![("pubsub#deliver_payloads", "false")],
                Condition::Conflict,
            ),
        ] {
            let e = parse_options(&form(&fields), 500, unknown).unwrap_err();
            assert_eq!(e.condition, cond, "{fields:?}");
            assert!(!e.texts.is_empty());
        }
        assert!(parse_options(&form(&[("pubsub#deliver_payloads", "1")]), 500, unknown).is_ok());
    }

    #[test]
    fn the_configuration_form_reads_back() {
        let mut n = PepNode::new("x");
        n.max_items = 7;
        n.access_model = AccessModel::Whitelist;
        let el = config_form(&n);
        let mut submitted = el.clone();
        xml::set_attr(&mut submitted, "type", "submit");
        let o = parse_options(&DataForm::try_from(submitted).unwrap(), 10, unknown).unwrap();
        let mut back = PepNode::new("x");
        o.apply(&mut back);
        assert_eq!(back, n);
    }
}
