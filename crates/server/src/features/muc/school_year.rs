//! Last year's conversations (issue 16, « L'année scolaire »): a room created before the
//! current school year began (`[archive] school_year_start`, midnight in the server's
//! time zone, as the archive's retention counts it) is archived: its members may still
//! enter it and read what its archive keeps, but nobody posts, changes its subject or
//! invites anyone any more; each attempt is refused with a text saying why and what to do
//! (start a new conversation with this year's class). Nothing is deleted here: the
//! archive's retention does that.

use causerie_ent::{Retention, Text};
use causerie_proto::errors::{Condition, StanzaError};
use causerie_store::Room;

use crate::server::Server;
use crate::services::retention::cutoff_ms;
use crate::stanza::addressed;

/// When the current school year began, in milliseconds since the epoch.
pub fn year_start_ms(server: &Server) -> i64 {
    cutoff_ms(
        Retention::SchoolYear,
        server.config.archive.school_year_start,
        chrono::Local::now(),
    )
}

/// Whether `room` belongs to a past school year.
pub fn is_archived(server: &Server, room: &Room) -> bool {
    room.created_ms < year_start_ms(server)
}

/// The refusal of a post, subject or invitation to an archived room; `None` when the
/// room is this year's.
pub fn refusal(server: &Server, room: &Room) -> Option<StanzaError> {
    is_archived(server, room).then(|| {
        addressed(
            Condition::NotAllowed,
            Text::new(
                "Cette conversation date d'une année scolaire passée : elle est archivée et ne reçoit plus de messages. Crée une nouvelle conversation.",
                "Cette conversation date d'une année scolaire passée : elle est archivée et ne reçoit plus de messages. Créez une nouvelle conversation.",
                "This conversation is from a past school year: it is archived and takes no more messages. Start a new conversation.",
            ),
        )
    })
}
