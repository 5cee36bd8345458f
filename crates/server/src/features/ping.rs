//! XEP-0199 ping: the server answers a `get` with an empty result.

use causerie_proto::errors::{Condition, StanzaError};

use crate::stanza::IqResult;

pub fn handle(set: bool) -> IqResult {
    if set {
        return Err(StanzaError::new(Condition::BadRequest));
    }
    Ok(None)
}
