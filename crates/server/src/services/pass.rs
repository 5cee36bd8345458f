//! [`Pass`]: the proof, handed out by the gate (`services::gate`), that a stanza may be
//! delivered to an account's sessions. The session registry delivers to another account
//! only against a pass to that account, and only the services make passes from a decision;
//! outside them, a pass is had for one's own account ([`Pass::own`]) or, explicitly, for
//! what the server itself composes ([`Pass::server_notice`]).

use crate::session::Session;

/// See the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pass {
    to: String,
}

impl Pass {
    /// A pass to `to`, from a decision of the gate.
    pub(in crate::services) fn new(to: &str) -> Pass {
        Pass { to: to.to_string() }
    }

    /// Delivery to the sender's own account (its other resources).
    pub fn own(session: &Session) -> Pass {
        Pass {
            to: session.user.clone(),
        }
    }

    /// Delivery of what the server itself composes and says to `user` (roster pushes, a
    /// room's notices, errors of its own): never a stanza that carries another person's
    /// words, which need the gate's decision.
    pub fn server_notice(user: &str) -> Pass {
        Pass {
            to: user.to_string(),
        }
    }

    /// A stanza another node's gate let through for `to` (`crate::cluster`): the
    /// decision was made there, where the sender is.
    pub(crate) fn relayed(to: &str) -> Pass {
        Pass { to: to.to_string() }
    }

    /// The account this pass lets stanzas reach.
    pub fn to(&self) -> &str {
        &self.to
    }
}
