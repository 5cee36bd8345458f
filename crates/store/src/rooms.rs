//! Multi-user conversations (XEP-0045 rooms): the rooms and their configuration (table
//! `rooms`), their members (table `room_members`) and the archive of their groupchat
//! messages (table `room_archive`, queried page by page for XEP-0313).
//!
//! Rooms are named by the localpart of their JID (`name` in `name@conference.DOMAIN`).
//! Occupants (who is in a room right now) are not stored: they live in the server's memory.
//! The limits that must hold under concurrency (rooms per user, members per room) are
//! checked inside the write transaction that would break them.

use sqlx::any::AnyRow;
use sqlx::{Any, AssertSqlSafe, Row};

use crate::paging::{self, Bind, Filter};
// A page request is the paging's own vocabulary, shared with the accounts' archive.
pub use crate::paging::ArchiveQuery;
use crate::{Backend, Result, Store, StoreError, get_flag};

/// A member's standing in a room (XEP-0045 affiliations that Causerie uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Affiliation {
    /// The creator: configures the room and may remove participants.
    Owner,
    /// An invited member.
    Member,
}

impl Affiliation {
    /// The XEP-0045 attribute value: "owner" or "member".
    pub fn as_str(self) -> &'static str {
        match self {
            Affiliation::Owner => "owner",
            Affiliation::Member => "member",
        }
    }

    /// Parses "owner" or "member"; None otherwise.
    pub fn parse(s: &str) -> Option<Affiliation> {
        match s {
            "owner" => Some(Affiliation::Owner),
            "member" => Some(Affiliation::Member),
            _ => None,
        }
    }
}

/// A room and its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    pub id: i64,
    /// Localpart of the room's JID.
    pub name: String,
    /// The conversation's name (`muc#roomconfig_roomname`); may be empty.
    pub title: String,
    pub description: String,
    pub subject: String,
    /// Nickname of whoever set the subject ("" when none).
    pub subject_by: String,
    /// A new room stays locked until its owner configures it.
    pub locked: bool,
    pub created_ms: i64,
}

/// One member of a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomMember {
    /// The member's account localpart.
    pub user: String,
    pub affiliation: Affiliation,
    /// Localpart of whoever invited the member (None for the owner).
    pub invited_by: Option<String>,
    /// The nickname the member last used in the room.
    pub nick: Option<String>,
    pub added_ms: i64,
}

/// Outcome of [`RoomStore::create_room`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateRoom {
    /// Made, locked, with its creator as owner.
    Created(Room),
    /// A room of that name exists.
    Exists,
    /// The creator already belongs to the maximum number of rooms; nothing was made.
    TooManyRooms,
}

/// Outcome of [`RoomStore::add_member`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddMember {
    Added,
    /// Already a member (with this affiliation): nothing changed.
    AlreadyMember(Affiliation),
    /// The user already belongs to the maximum number of rooms.
    TooManyRooms,
    /// The room already has the maximum number of members.
    RoomFull,
}

/// One archived groupchat message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedMessage {
    /// Its XEP-0359 stanza-id (unique over the whole archive).
    pub stanza_id: String,
    /// The sender's account localpart.
    pub sender: String,
    /// The sender's nickname in the room.
    pub nick: String,
    /// The message as the occupants received it (XML).
    pub stanza: String,
    pub stamp_ms: i64,
}

/// One message to archive with [`RoomStore::archive_messages`], with its room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveEntry {
    pub room_id: i64,
    /// The room's name (kept with the message after the room is destroyed).
    pub room: String,
    pub message: ArchivedMessage,
}

/// One page of an archive (a room's: [`ArchivedMessage`]; an account's:
/// `AccountMessage`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchivePage<M = ArchivedMessage> {
    /// Oldest first.
    pub messages: Vec<M>,
    /// No more messages in the direction of the query (XEP-0313 `complete`).
    pub complete: bool,
    /// Messages matching the time bounds, in all pages.
    pub count: i64,
    /// Position of the page's first message among those (XEP-0059 `first@index`).
    pub first_index: i64,
}

#[async_trait::async_trait]
pub trait RoomStore: Send + Sync {
    /// Makes a locked room `name` with `owner` as its owner, unless `owner` already belongs
    /// to `max_rooms_per_user` rooms or more. Err(NotFound) when `owner` has no account.
    async fn create_room(
        &self,
        name: &str,
        owner: &str,
        now_ms: i64,
        max_rooms_per_user: i64,
    ) -> Result<CreateRoom>;
    async fn room(&self, name: &str) -> Result<Option<Room>>;
    /// Saves the configuration (title, description, subject, subject_by, locked) of the
    /// room with `room.id`. Err(NotFound) when it no longer exists.
    async fn save_room(&self, room: &Room) -> Result<()>;
    /// Deletes a room with its memberships; its archive stays until purged. true when a
    /// room was deleted.
    async fn delete_room(&self, name: &str) -> Result<bool>;
    /// Deletes every room still locked (made but never configured); returns their names,
    /// sorted.
    async fn delete_locked_rooms(&self) -> Result<Vec<String>>;
    /// Makes `user` a member of the room, unless already one, or the user belongs to
    /// `max_rooms_per_user` rooms, or the room has `max_members` members. Err(NotFound) when
    /// the room or the account does not exist.
    async fn add_member(
        &self,
        room_id: i64,
        user: &str,
        invited_by: Option<&str>,
        now_ms: i64,
        max_rooms_per_user: i64,
        max_members: i64,
    ) -> Result<AddMember>;
    /// Ends a membership (the owner's too). true when there was one.
    async fn remove_member(&self, room_id: i64, user: &str) -> Result<bool>;
    async fn member(&self, room_id: i64, user: &str) -> Result<Option<RoomMember>>;
    /// Every member, sorted by localpart.
    async fn members(&self, room_id: i64) -> Result<Vec<RoomMember>>;
    /// Remembers the nickname a member uses (nothing when not a member).
    async fn set_member_nick(&self, room_id: i64, user: &str, nick: &str) -> Result<()>;
    /// Rooms `user` is a member of, sorted by name.
    async fn rooms_of(&self, user: &str) -> Result<Vec<Room>>;
    /// How many rooms `user` is a member of.
    async fn room_count_of(&self, user: &str) -> Result<i64>;
    /// Archives a message of the room. Err(AlreadyExists) when its stanza-id is taken.
    async fn archive_message(&self, room: &Room, message: &ArchivedMessage) -> Result<()>;
    /// Archives messages of any rooms in one transaction, in the order given; a message
    /// whose stanza-id is taken is skipped. Returns how many were written.
    async fn archive_messages(&self, entries: &[ArchiveEntry]) -> Result<u64>;
    /// A page of the room's archive. Err(NotFound) when `after_id` or `before_id` is not a
    /// message of this room.
    async fn archive_page(&self, room_id: i64, query: &ArchiveQuery) -> Result<ArchivePage>;
    /// Deletes archived messages stamped before `before_ms` (of every room, destroyed or
    /// not); returns how many.
    async fn purge_archive(&self, before_ms: i64) -> Result<u64>;
}

/// The `rooms` columns [`read_room`] reads.
const ROOM_COLUMNS: &str =
    "r.id, r.name, r.title, r.description, r.subject, r.subject_by, r.locked, r.created_ms";

fn read_room(row: &AnyRow, backend: Backend) -> Result<Room> {
    Ok(Room {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        subject: row.try_get("subject")?,
        subject_by: row.try_get("subject_by")?,
        locked: get_flag(row, "locked", backend)?,
        created_ms: row.try_get("created_ms")?,
    })
}

fn read_member(row: &AnyRow) -> Result<RoomMember> {
    let affiliation: String = row.try_get("affiliation")?;
    Ok(RoomMember {
        user: row.try_get("username")?,
        affiliation: Affiliation::parse(&affiliation)
            .ok_or_else(|| StoreError::Corrupt(format!("room affiliation {affiliation:?}")))?,
        invited_by: row.try_get("invited_by")?,
        nick: row.try_get("nick")?,
        added_ms: row.try_get("added_ms")?,
    })
}

fn read_archived(row: &AnyRow) -> Result<ArchivedMessage> {
    Ok(ArchivedMessage {
        stanza_id: row.try_get("stanza_id")?,
        sender: row.try_get("sender")?,
        nick: row.try_get("nick")?,
        stanza: row.try_get("stanza")?,
        stamp_ms: row.try_get("stamp_ms")?,
    })
}

/// The id of an account, locked for the transaction on PostgreSQL (SQLite's
/// `BEGIN IMMEDIATE` already serialises writers).
async fn locked_account(
    tx: &mut sqlx::Transaction<'static, Any>,
    backend: Backend,
    user: &str,
) -> Result<Option<i64>> {
    let sql = match backend {
        Backend::Sqlite => "SELECT id FROM accounts WHERE username = $1",
        Backend::Postgres => "SELECT id FROM accounts WHERE username = $1 FOR UPDATE",
    };
    Ok(sqlx::query_scalar(sql)
        .bind(user.to_owned())
        .fetch_optional(&mut **tx)
        .await?)
}

async fn membership_count(tx: &mut sqlx::Transaction<'static, Any>, account: i64) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM room_members WHERE account_id = $1")
            .bind(account)
            .fetch_one(&mut **tx)
            .await?,
    )
}

/// Inserts room messages in the caller's transaction, in the order given, skipping those
/// whose stanza-id is taken; returns how many were written.
pub(crate) async fn insert_room_archive(
    tx: &mut sqlx::Transaction<'static, Any>,
    entries: &[ArchiveEntry],
) -> Result<u64> {
    // Rows per INSERT: 7 parameters each, well under both backends' limits.
    const ROWS: usize = 64;
    let mut written = 0;
    for chunk in entries.chunks(ROWS) {
        let mut sql = String::from(
            "INSERT INTO room_archive (room_id, room, stanza_id, sender, nick, stanza, stamp_ms) VALUES ",
        );
        for i in 0..chunk.len() {
            let b = i * 7;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7
            ));
        }
        sql.push_str(" ON CONFLICT (stanza_id) DO NOTHING");
        // Only placeholders are formatted into the text; every value is bound.
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for e in chunk {
            q = q
                .bind(e.room_id)
                .bind(e.room.clone())
                .bind(e.message.stanza_id.clone())
                .bind(e.message.sender.clone())
                .bind(e.message.nick.clone())
                .bind(e.message.stanza.clone())
                .bind(e.message.stamp_ms);
        }
        written += q.execute(&mut **tx).await?.rows_affected();
    }
    Ok(written)
}

#[async_trait::async_trait]
impl RoomStore for Store {
    async fn create_room(
        &self,
        name: &str,
        owner: &str,
        now_ms: i64,
        max_rooms_per_user: i64,
    ) -> Result<CreateRoom> {
        let mut tx = self.begin_write().await?;
        let account = locked_account(&mut tx, self.backend(), owner)
            .await?
            .ok_or(StoreError::NotFound)?;
        if membership_count(&mut tx, account).await? >= max_rooms_per_user {
            return Ok(CreateRoom::TooManyRooms);
        }
        let row = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO rooms (name, locked, created_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING RETURNING {}",
            ROOM_COLUMNS.replace("r.", "")
        )))
        .bind(name.to_owned())
        .bind(true)
        .bind(now_ms)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(CreateRoom::Exists);
        };
        let room = read_room(&row, self.backend())?;
        sqlx::query(
            "INSERT INTO room_members (room_id, account_id, affiliation, added_ms) \
             VALUES ($1, $2, 'owner', $3)",
        )
        .bind(room.id)
        .bind(account)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(CreateRoom::Created(room))
    }

    async fn room(&self, name: &str) -> Result<Option<Room>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {ROOM_COLUMNS} FROM rooms r WHERE r.name = $1"
        )))
        .bind(name.to_owned())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| read_room(&r, self.backend())).transpose()
    }

    async fn save_room(&self, room: &Room) -> Result<()> {
        let done = sqlx::query(
            "UPDATE rooms SET title = $2, description = $3, subject = $4, subject_by = $5, \
             locked = $6 WHERE id = $1",
        )
        .bind(room.id)
        .bind(room.title.clone())
        .bind(room.description.clone())
        .bind(room.subject.clone())
        .bind(room.subject_by.clone())
        .bind(room.locked)
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn delete_room(&self, name: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM rooms WHERE name = $1")
            .bind(name.to_owned())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_locked_rooms(&self) -> Result<Vec<String>> {
        let mut tx = self.begin_write().await?;
        let locked = match self.backend() {
            Backend::Sqlite => "locked = 1",
            Backend::Postgres => "locked",
        };
        let mut names: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT name FROM rooms WHERE {locked}"
        )))
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query(AssertSqlSafe(format!("DELETE FROM rooms WHERE {locked}")))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        names.sort_unstable();
        Ok(names)
    }

    async fn add_member(
        &self,
        room_id: i64,
        user: &str,
        invited_by: Option<&str>,
        now_ms: i64,
        max_rooms_per_user: i64,
        max_members: i64,
    ) -> Result<AddMember> {
        let mut tx = self.begin_write().await?;
        // Lock the room, then the account (always in this order), on PostgreSQL.
        let room_sql = match self.backend() {
            Backend::Sqlite => "SELECT id FROM rooms WHERE id = $1",
            Backend::Postgres => "SELECT id FROM rooms WHERE id = $1 FOR UPDATE",
        };
        let room: Option<i64> = sqlx::query_scalar(room_sql)
            .bind(room_id)
            .fetch_optional(&mut *tx)
            .await?;
        if room.is_none() {
            return Err(StoreError::NotFound);
        }
        let account = locked_account(&mut tx, self.backend(), user)
            .await?
            .ok_or(StoreError::NotFound)?;
        let existing: Option<String> = sqlx::query_scalar(
            "SELECT affiliation FROM room_members WHERE room_id = $1 AND account_id = $2",
        )
        .bind(room_id)
        .bind(account)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(a) = existing {
            let a = Affiliation::parse(&a)
                .ok_or_else(|| StoreError::Corrupt(format!("room affiliation {a:?}")))?;
            return Ok(AddMember::AlreadyMember(a));
        }
        let members: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM room_members WHERE room_id = $1")
                .bind(room_id)
                .fetch_one(&mut *tx)
                .await?;
        if members >= max_members {
            return Ok(AddMember::RoomFull);
        }
        if membership_count(&mut tx, account).await? >= max_rooms_per_user {
            return Ok(AddMember::TooManyRooms);
        }
        sqlx::query(
            "INSERT INTO room_members (room_id, account_id, affiliation, invited_by, added_ms) \
             VALUES ($1, $2, 'member', $3, $4)",
        )
        .bind(room_id)
        .bind(account)
        .bind(invited_by.map(str::to_owned))
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(AddMember::Added)
    }

    async fn remove_member(&self, room_id: i64, user: &str) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM room_members WHERE room_id = $1 \
             AND account_id = (SELECT id FROM accounts WHERE username = $2)",
        )
        .bind(room_id)
        .bind(user.to_owned())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn member(&self, room_id: i64, user: &str) -> Result<Option<RoomMember>> {
        let row = sqlx::query(
            "SELECT a.username, m.affiliation, m.invited_by, m.nick, m.added_ms \
             FROM room_members m JOIN accounts a ON a.id = m.account_id \
             WHERE m.room_id = $1 AND a.username = $2",
        )
        .bind(room_id)
        .bind(user.to_owned())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| read_member(&r)).transpose()
    }

    async fn members(&self, room_id: i64) -> Result<Vec<RoomMember>> {
        let rows = sqlx::query(
            "SELECT a.username, m.affiliation, m.invited_by, m.nick, m.added_ms \
             FROM room_members m JOIN accounts a ON a.id = m.account_id \
             WHERE m.room_id = $1",
        )
        .bind(room_id)
        .fetch_all(self.pool())
        .await?;
        let mut members = rows.iter().map(read_member).collect::<Result<Vec<_>>>()?;
        // Byte-wise order, the same on both backends.
        members.sort_unstable_by(|a, b| a.user.cmp(&b.user));
        Ok(members)
    }

    async fn set_member_nick(&self, room_id: i64, user: &str, nick: &str) -> Result<()> {
        sqlx::query(
            "UPDATE room_members SET nick = $3 WHERE room_id = $1 \
             AND account_id = (SELECT id FROM accounts WHERE username = $2)",
        )
        .bind(room_id)
        .bind(user.to_owned())
        .bind(nick.to_owned())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn rooms_of(&self, user: &str) -> Result<Vec<Room>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {ROOM_COLUMNS} FROM rooms r \
             JOIN room_members m ON m.room_id = r.id \
             JOIN accounts a ON a.id = m.account_id WHERE a.username = $1"
        )))
        .bind(user.to_owned())
        .fetch_all(self.pool())
        .await?;
        let mut rooms = rows
            .iter()
            .map(|r| read_room(r, self.backend()))
            .collect::<Result<Vec<_>>>()?;
        rooms.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Ok(rooms)
    }

    async fn room_count_of(&self, user: &str) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM room_members m JOIN accounts a ON a.id = m.account_id \
             WHERE a.username = $1",
        )
        .bind(user.to_owned())
        .fetch_one(self.pool())
        .await?)
    }

    async fn archive_message(&self, room: &Room, message: &ArchivedMessage) -> Result<()> {
        let done = sqlx::query(
            "INSERT INTO room_archive (room_id, room, stanza_id, sender, nick, stanza, stamp_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (stanza_id) DO NOTHING",
        )
        .bind(room.id)
        .bind(room.name.clone())
        .bind(message.stanza_id.clone())
        .bind(message.sender.clone())
        .bind(message.nick.clone())
        .bind(message.stanza.clone())
        .bind(message.stamp_ms)
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::AlreadyExists);
        }
        Ok(())
    }

    async fn archive_messages(&self, entries: &[ArchiveEntry]) -> Result<u64> {
        if entries.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin_write().await?;
        let written = insert_room_archive(&mut tx, entries).await?;
        tx.commit().await?;
        Ok(written)
    }

    async fn archive_page(&self, room_id: i64, query: &ArchiveQuery) -> Result<ArchivePage> {
        let mut tx = self.begin_read().await?;
        let key = Filter::key("room_id", Bind::Int(room_id));
        let query = ArchiveQuery {
            with: None,
            ..query.clone()
        };
        let rows = paging::page(
            &mut tx,
            paging::Table::Rows("room_archive"),
            "stanza_id, sender, nick, stanza, stamp_ms",
            &key,
            &query,
        )
        .await?;
        tx.commit().await?;
        Ok(ArchivePage {
            messages: rows.rows.iter().map(read_archived).collect::<Result<_>>()?,
            complete: rows.complete,
            count: rows.count,
            first_index: rows.first_index,
        })
    }

    async fn purge_archive(&self, before_ms: i64) -> Result<u64> {
        // For real (secure_delete on SQLite: the purged text is overwritten in the file),
        // in chunks so that a year's purge does not hold the write lock at once.
        crate::privacy::delete_in_chunks(
            self,
            "DELETE FROM room_archive WHERE id IN (SELECT id FROM room_archive \
             WHERE stamp_ms < $1 LIMIT $2)",
            before_ms,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affiliation_strings_round_trip() {
        for a in [Affiliation::Owner, Affiliation::Member] {
            assert_eq!(Affiliation::parse(a.as_str()), Some(a));
        }
        assert_eq!(Affiliation::parse("admin"), None);
    }
}
