//! The limits of each account's PEP service that both PEP (`features::pep`) and the
//! bookmarks' private-storage view (`features::bookmarks`) enforce: nodes and bytes per
//! account, and the pubsub#errors shape of their refusals. Below both, so that neither
//! imports the other for them.

use causerie_proto::errors::{Condition, StanzaError};
use causerie_proto::{Element, xml};
use causerie_store::PepQuota;

use crate::server::Server;
use crate::stanza::error;

/// The pubsub#errors namespace (XEP-0060 application conditions).
pub const NS_ERRORS: &str = "http://jabber.org/protocol/pubsub#errors";

/// An error with a pubsub#errors condition (`app`, with an optional `feature`).
pub(crate) fn pubsub_error(
    condition: Condition,
    app: &str,
    feature: Option<&str>,
    fr: impl Into<String>,
    en: impl Into<String>,
) -> StanzaError {
    let mut e = error(condition, fr, en);
    let mut el = Element::bare(app, NS_ERRORS);
    if let Some(f) = feature {
        xml::set_attr(&mut el, "feature", f);
    }
    e.app = Some(Box::new(el));
    e
}

pub(crate) fn quota(server: &Server) -> PepQuota {
    PepQuota {
        max_nodes: server.config.pep.max_nodes_per_user,
        max_bytes: server.config.pep.max_bytes_per_user,
    }
}

pub(crate) fn too_many_nodes(server: &Server) -> StanzaError {
    let n = server.config.pep.max_nodes_per_user;
    pubsub_error(
        Condition::NotAllowed,
        "max-nodes-exceeded",
        None,
        format!("Ce compte a déjà {n} nœuds, le maximum : il faut en supprimer un d'abord."),
        format!("You already have {n} nodes, the maximum: delete one first."),
    )
}
