//! XEP-0092 software version of the server.

use causerie_proto::errors::{Condition, StanzaError};
use causerie_proto::{Element, ns, xml};

use crate::stanza::IqResult;

pub fn handle(set: bool) -> IqResult {
    if set {
        return Err(StanzaError::new(Condition::BadRequest));
    }
    let mut q = Element::bare("query", ns::VERSION);
    q.append_child(xml::text_elem("name", ns::VERSION, "Causerie"));
    q.append_child(xml::text_elem(
        "version",
        ns::VERSION,
        env!("CARGO_PKG_VERSION"),
    ));
    Ok(Some(q))
}
