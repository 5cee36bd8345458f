//! Reports (« Signaler », XEP-0377; tables `reports`, `report_messages`, `report_notes`)
//! and each structure's designated safety staff (table `structure_safety`).
//!
//! A report is made in one transaction ([`ReportStore::create_report`]) that checks what
//! the reporter may report and copies the evidence:
//! - no more than `per_hour` reports by one reporter in the last hour;
//! - a person: the reported messages must be in the reporter's own archive, with that
//!   person; without messages, the reporter must have had contact with him (a message in
//!   his archive, a roster item or a contact request, a room both are members of);
//! - a room: the reporter must be a member, the reported messages in the room's archive,
//!   all sent by one other person, who is the reported person.
//!
//! The context (the `context` messages before and after each reported one in the same
//! conversation, or the last `context` messages with a person reported without messages)
//! is copied from the reporter's archive or the room's only: a report never reveals a
//! message its reporter could not read. The copies do not depend on the archives any more.
//!
//! A status change and a note are written with their audit row in one transaction; so is
//! a structure's safety staff ([`ReportStore::set_safety_staff_audited`], action
//! `structure.safety_staff`).

use std::collections::BTreeMap;

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::account_archive;
use crate::audit::{NewAudit, insert_audit};
use crate::directory::rows::structure_exists;
use crate::{Result, Store, StoreError, get_flag};

/// Why a report is made (XEP-0377's reasons, and « autre »).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportReason {
    Abuse,
    Spam,
    Other,
}

impl ReportReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportReason::Abuse => "abuse",
            ReportReason::Spam => "spam",
            ReportReason::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<ReportReason> {
        match s {
            "abuse" => Some(ReportReason::Abuse),
            "spam" => Some(ReportReason::Spam),
            "other" => Some(ReportReason::Other),
            _ => None,
        }
    }
}

/// Where a report is in the staff's handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportStatus {
    New,
    InProgress,
    Closed,
}

impl ReportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportStatus::New => "new",
            ReportStatus::InProgress => "in_progress",
            ReportStatus::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<ReportStatus> {
        match s {
            "new" => Some(ReportStatus::New),
            "in_progress" => Some(ReportStatus::InProgress),
            "closed" => Some(ReportStatus::Closed),
            _ => None,
        }
    }
}

/// Whom or what a report is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportTarget {
    /// A person, by bare JID; `login` his account when he is local (for the shared rooms).
    Person { jid: String, login: Option<String> },
    /// Messages of a room (by its name): the reported person is their sender.
    Room { name: String },
}

/// A report to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReport {
    /// The structure it is routed to.
    pub structure: String,
    /// The reporter's login and bare JID.
    pub reporter: String,
    pub reporter_jid: String,
    pub target: ReportTarget,
    pub reason: ReportReason,
    pub text: String,
    /// XEP-0359 ids of the reported messages (in the reporter's archive or the room's).
    pub stanza_ids: Vec<String>,
    pub now_ms: i64,
}

/// What [`ReportStore::create_report`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportOutcome {
    /// Stored with this id; the reported person's bare JID.
    Created { id: i64, reported: String },
    /// The reporter made `per_hour` reports in the last hour already.
    RateLimited,
    /// A reported message is not one the reporter may report (not in his archive with
    /// that person, not in the room's, his own, or of several senders).
    UnknownMessage,
    /// The reporter never had contact with the person, or is not a member of the room.
    NoContact,
}

/// A stored report (without its messages and notes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub id: i64,
    pub structure: String,
    pub reporter: String,
    pub reported: String,
    pub room: Option<String>,
    pub reason: ReportReason,
    pub text: String,
    pub stanza_ids: Vec<String>,
    pub status: ReportStatus,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// One message copied with a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportMessage {
    pub stanza_id: String,
    /// The sender's bare JID.
    pub sender: String,
    /// The message as archived (XML).
    pub stanza: String,
    pub stamp_ms: i64,
    /// One of the reported messages (else context).
    pub reported: bool,
}

/// A staff member's note on a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportNote {
    pub author: String,
    pub text: String,
    pub created_ms: i64,
}

/// A report with its copied messages (oldest first) and its notes (oldest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportDetail {
    pub report: Report,
    pub messages: Vec<ReportMessage>,
    pub notes: Vec<ReportNote>,
}

#[async_trait::async_trait]
pub trait ReportStore: Send + Sync {
    /// Checks and stores a report with the copies of its messages (module docs): at most
    /// `context` messages before and after each reported one, at most `per_hour` reports
    /// per reporter and hour. Err(NotFound) when the reporter has no account.
    async fn create_report(
        &self,
        report: &NewReport,
        context: u32,
        per_hour: u32,
    ) -> Result<ReportOutcome>;
    /// A structure's reports, newest first, at most `limit`.
    async fn reports(&self, structure: &str, limit: i64) -> Result<Vec<Report>>;
    /// One report with its messages and notes.
    async fn report(&self, id: i64) -> Result<Option<ReportDetail>>;
    /// Sets a report's status with its audit row (action `report.status`); returns the
    /// one before. Err(NotFound) when there is no such report.
    async fn set_report_status_audited(
        &self,
        id: i64,
        status: ReportStatus,
        actor: &str,
        now_ms: i64,
    ) -> Result<ReportStatus>;
    /// Adds a note by `author` with its audit row (action `report.note`). Err(NotFound)
    /// when there is no such report.
    async fn add_report_note_audited(
        &self,
        id: i64,
        author: &str,
        text: &str,
        now_ms: i64,
    ) -> Result<()>;
    /// A structure's designated safety staff (None: the default, its local administrators).
    async fn safety_staff(&self, structure: &str) -> Result<Option<Vec<String>>>;
    /// Every structure's designated safety staff, sorted by structure.
    async fn all_safety_staff(&self) -> Result<Vec<(String, Vec<String>)>>;
    /// Sets (or, with None, resets) a structure's safety staff with its audit row (action
    /// `structure.safety_staff`); returns the one before. Err(NotFound) when the
    /// structure does not exist.
    async fn set_safety_staff_audited(
        &self,
        structure: &str,
        logins: Option<&[String]>,
        actor: &str,
    ) -> Result<Option<Vec<String>>>;
}

const REPORT_COLUMNS: &str = "id, structure_id, reporter, reported, room, reason, text, \
     stanza_ids, status, created_ms, updated_ms";

fn read_report(row: &AnyRow) -> Result<Report> {
    let reason: String = row.try_get("reason")?;
    let status: String = row.try_get("status")?;
    let ids: String = row.try_get("stanza_ids")?;
    Ok(Report {
        id: row.try_get("id")?,
        structure: row.try_get("structure_id")?,
        reporter: row.try_get("reporter")?,
        reported: row.try_get("reported")?,
        room: row.try_get("room")?,
        reason: ReportReason::parse(&reason)
            .ok_or_else(|| StoreError::Corrupt(format!("report reason {reason:?}")))?,
        text: row.try_get("text")?,
        stanza_ids: ids.split_whitespace().map(str::to_string).collect(),
        status: ReportStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("report status {status:?}")))?,
        created_ms: row.try_get("created_ms")?,
        updated_ms: row.try_get("updated_ms")?,
    })
}

/// A message read from an archive, with its row id there (the conversation's order).
struct Copied {
    row: i64,
    message: ReportMessage,
}

/// Reads rows of the reporter's archive with `with` (or the room's) around row `row`:
/// `limit` before (`before` true) or after it.
async fn around(
    tx: &mut Transaction<'static, Any>,
    store: &Store,
    source: &Source,
    row: i64,
    before: bool,
    limit: i64,
) -> Result<Vec<Copied>> {
    match source {
        Source::Account { owner, me, with } => {
            let placed =
                account_archive::conversation_around(tx, store, *owner, with, row, before, limit)
                    .await?;
            Ok(placed.into_iter().map(|p| account_copy(me, p)).collect())
        }
        Source::Room {
            name,
            domain,
            since_ms,
        } => {
            let (cmp, order) = if before { ("<", "DESC") } else { (">", "ASC") };
            let sql = format!(
                "SELECT id, stanza_id, sender, stanza, stamp_ms FROM room_archive \
                 WHERE room = $1 AND id {cmp} $2 AND stamp_ms >= $4 ORDER BY id {order} LIMIT $3"
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(name.clone())
                .bind(row)
                .bind(limit)
                .bind(*since_ms)
                .fetch_all(&mut **tx)
                .await?;
            rows.iter().map(|r| room_copy(r, domain)).collect()
        }
    }
}

/// The archive a report's messages come from.
enum Source {
    /// The reporter's (owner id, bare JID) with `with`.
    Account {
        owner: i64,
        me: String,
        with: String,
    },
    /// A room's, by name; `domain` to make its senders' bare JIDs; from `since_ms` on,
    /// when the reporter was made a member (what he may read of it: a report never shows
    /// the school a conversation its reporter could not read, docs/safety.md).
    Room {
        name: String,
        domain: String,
        since_ms: i64,
    },
}

/// A message of the reporter's archive (`me`, his bare JID): sent by him, or by the other
/// party, whose bare JID the archive keeps.
fn account_copy(me: &str, placed: account_archive::Placed) -> Copied {
    let m = placed.message;
    Copied {
        row: placed.place,
        message: ReportMessage {
            stanza_id: m.stanza_id,
            sender: if m.outgoing { me.to_string() } else { m.with },
            stanza: m.stanza,
            stamp_ms: m.stamp_ms,
            reported: false,
        },
    }
}

/// A row of a room's archive; `domain` makes its sender's bare JID.
fn room_copy(r: &AnyRow, domain: &str) -> Result<Copied> {
    let login: String = r.try_get("sender")?;
    Ok(Copied {
        row: r.try_get("id")?,
        message: ReportMessage {
            stanza_id: r.try_get("stanza_id")?,
            sender: format!("{login}@{domain}"),
            stanza: r.try_get("stanza")?,
            stamp_ms: r.try_get("stamp_ms")?,
            reported: false,
        },
    })
}

impl Source {
    /// The row of message `stanza_id` in this archive, if it is there.
    async fn find(
        &self,
        tx: &mut Transaction<'static, Any>,
        store: &Store,
        stanza_id: &str,
    ) -> Result<Option<Copied>> {
        match self {
            Source::Account { owner, me, with } => Ok(account_archive::conversation_message(
                tx, store, *owner, with, stanza_id,
            )
            .await?
            .map(|p| account_copy(me, p))),
            Source::Room {
                name,
                domain,
                since_ms,
            } => {
                let row = sqlx::query(
                    "SELECT id, stanza_id, sender, stanza, stamp_ms FROM room_archive \
                     WHERE room = $1 AND stanza_id = $2 AND stamp_ms >= $3",
                )
                .bind(name.clone())
                .bind(stanza_id.to_owned())
                .bind(*since_ms)
                .fetch_optional(&mut **tx)
                .await?;
                row.map(|r| room_copy(&r, domain)).transpose()
            }
        }
    }
}

/// Whether the reporter (account `owner`) had contact with `jid` (account `login`): a
/// message with him in his archive, a roster item, a request from him, or a room they
/// are both members of.
async fn had_contact(
    store: &Store,
    tx: &mut Transaction<'static, Any>,
    owner: i64,
    jid: &str,
    login: Option<&str>,
) -> Result<bool> {
    if account_archive::exchanged_with(store, tx, owner, jid).await? {
        return Ok(true);
    }
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT CAST(1 AS BIGINT) WHERE \
           EXISTS (SELECT 1 FROM roster_items WHERE account_id = $1 AND contact = $2) \
           OR EXISTS (SELECT 1 FROM pending_in WHERE account_id = $1 AND contact = $2) \
           OR EXISTS (SELECT 1 FROM room_members m1 \
                      JOIN room_members m2 ON m2.room_id = m1.room_id \
                      JOIN accounts a ON a.id = m2.account_id \
                      WHERE m1.account_id = $1 AND a.username = $3)",
    )
    .bind(owner)
    .bind(jid.to_owned())
    .bind(login.map(str::to_owned))
    .fetch_optional(&mut **tx)
    .await?;
    Ok(found.is_some())
}

fn staff_json(s: Option<&[String]>) -> serde_json::Value {
    match s {
        None => serde_json::Value::Null,
        Some(l) => serde_json::json!(l),
    }
}

async fn report_structure(tx: &mut Transaction<'static, Any>, id: i64) -> Result<String> {
    sqlx::query_scalar("SELECT structure_id FROM reports WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NotFound)
}

#[async_trait::async_trait]
impl ReportStore for Store {
    async fn create_report(
        &self,
        report: &NewReport,
        context: u32,
        per_hour: u32,
    ) -> Result<ReportOutcome> {
        let mut tx = self.begin_write().await?;
        let owner = crate::account_id(&mut *tx, &report.reporter)
            .await?
            .ok_or(StoreError::NotFound)?;
        let recent: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM reports WHERE reporter = $1 AND created_ms > $2",
        )
        .bind(report.reporter.clone())
        .bind(report.now_ms - 3_600_000)
        .fetch_one(&mut *tx)
        .await?;
        if recent >= i64::from(per_hour) {
            return Ok(ReportOutcome::RateLimited);
        }
        let domain = report
            .reporter_jid
            .split_once('@')
            .map(|(_, d)| d.to_string())
            .unwrap_or_default();
        let (source, room) = match &report.target {
            ReportTarget::Person { jid, login } => {
                if !had_contact(self, &mut tx, owner, jid, login.as_deref()).await? {
                    return Ok(ReportOutcome::NoContact);
                }
                (
                    Source::Account {
                        owner,
                        me: report.reporter_jid.clone(),
                        with: jid.clone(),
                    },
                    None,
                )
            }
            ReportTarget::Room { name } => {
                let member_since: Option<i64> = sqlx::query_scalar(
                    "SELECT m.added_ms FROM room_members m JOIN rooms r ON r.id = m.room_id \
                     WHERE r.name = $1 AND m.account_id = $2",
                )
                .bind(name.clone())
                .bind(owner)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(since_ms) = member_since else {
                    return Ok(ReportOutcome::NoContact);
                };
                if report.stanza_ids.is_empty() {
                    return Ok(ReportOutcome::UnknownMessage);
                }
                (
                    Source::Room {
                        name: name.clone(),
                        domain,
                        since_ms,
                    },
                    Some(name.clone()),
                )
            }
        };
        let limit = i64::from(context);
        let mut copied: BTreeMap<i64, ReportMessage> = BTreeMap::new();
        let mut reported_jid = match &report.target {
            ReportTarget::Person { jid, .. } => Some(jid.clone()),
            ReportTarget::Room { .. } => None,
        };
        for id in &report.stanza_ids {
            let Some(mut found) = source.find(&mut tx, self, id).await? else {
                return Ok(ReportOutcome::UnknownMessage);
            };
            // Never the reporter's own message (its deletion would erase his own words
            // from the other's archive).
            if found.message.sender == report.reporter_jid {
                return Ok(ReportOutcome::UnknownMessage);
            }
            if let Source::Room { .. } = source {
                // Every reported message of a room is of one sender, not the reporter.
                if found.message.sender == report.reporter_jid
                    || reported_jid
                        .as_ref()
                        .is_some_and(|j| *j != found.message.sender)
                {
                    return Ok(ReportOutcome::UnknownMessage);
                }
                reported_jid = Some(found.message.sender.clone());
            }
            for c in around(&mut tx, self, &source, found.row, true, limit).await? {
                copied.entry(c.row).or_insert(c.message);
            }
            for c in around(&mut tx, self, &source, found.row, false, limit).await? {
                copied.entry(c.row).or_insert(c.message);
            }
            found.message.reported = true;
            copied.insert(found.row, found.message);
        }
        if report.stanza_ids.is_empty() {
            // A person without messages: the last messages with him.
            if let Source::Account { owner, me, with } = &source {
                for p in
                    account_archive::conversation_last(&mut tx, self, *owner, with, limit).await?
                {
                    let c = account_copy(me, p);
                    copied.insert(c.row, c.message);
                }
            }
        }
        let reported = reported_jid.ok_or(StoreError::Invalid("no reported person".into()))?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO reports (structure_id, reporter, reported, room, reason, text, \
             stanza_ids, status, created_ms, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'new', $8, $8) RETURNING id",
        )
        .bind(report.structure.clone())
        .bind(report.reporter.clone())
        .bind(reported.clone())
        .bind(room)
        .bind(report.reason.as_str())
        .bind(report.text.clone())
        .bind(report.stanza_ids.join(" "))
        .bind(report.now_ms)
        .fetch_one(&mut *tx)
        .await?;
        for (pos, m) in copied.into_values().enumerate() {
            sqlx::query(
                "INSERT INTO report_messages (report_id, pos, stanza_id, sender, stanza, \
                 stamp_ms, reported) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(id)
            .bind(i64::try_from(pos).unwrap_or(i64::MAX))
            .bind(m.stanza_id)
            .bind(m.sender)
            .bind(m.stanza)
            .bind(m.stamp_ms)
            .bind(m.reported)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(ReportOutcome::Created { id, reported })
    }

    async fn reports(&self, structure: &str, limit: i64) -> Result<Vec<Report>> {
        let sql = format!(
            "SELECT {REPORT_COLUMNS} FROM reports WHERE structure_id = $1 ORDER BY id DESC LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(structure.to_owned())
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(read_report).collect()
    }

    async fn report(&self, id: i64) -> Result<Option<ReportDetail>> {
        let mut tx = self.begin_read().await?;
        let sql = format!("SELECT {REPORT_COLUMNS} FROM reports WHERE id = $1");
        let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            tx.commit().await?;
            return Ok(None);
        };
        let report = read_report(&row)?;
        let messages = sqlx::query(
            "SELECT stanza_id, sender, stanza, stamp_ms, reported FROM report_messages \
             WHERE report_id = $1 ORDER BY pos",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            Ok(ReportMessage {
                stanza_id: r.try_get("stanza_id")?,
                sender: r.try_get("sender")?,
                stanza: r.try_get("stanza")?,
                stamp_ms: r.try_get("stamp_ms")?,
                reported: get_flag(r, "reported", self.backend())?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let notes = sqlx::query(
            "SELECT author, text, created_ms FROM report_notes WHERE report_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            Ok(ReportNote {
                author: r.try_get("author")?,
                text: r.try_get("text")?,
                created_ms: r.try_get("created_ms")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        tx.commit().await?;
        Ok(Some(ReportDetail {
            report,
            messages,
            notes,
        }))
    }

    async fn set_report_status_audited(
        &self,
        id: i64,
        status: ReportStatus,
        actor: &str,
        now_ms: i64,
    ) -> Result<ReportStatus> {
        let mut tx = self.begin_write().await?;
        let before: String = sqlx::query_scalar("SELECT status FROM reports WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let before = ReportStatus::parse(&before)
            .ok_or_else(|| StoreError::Corrupt(format!("report status {before:?}")))?;
        let structure = report_structure(&mut tx, id).await?;
        sqlx::query("UPDATE reports SET status = $1, updated_ms = $2 WHERE id = $3")
            .bind(status.as_str())
            .bind(now_ms)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        insert_audit(
            &mut tx,
            &NewAudit {
                actor: actor.into(),
                action: "report.status".into(),
                structure: Some(structure),
                target: Some(id.to_string()),
                before: Some(serde_json::json!(before.as_str())),
                after: Some(serde_json::json!(status.as_str())),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(before)
    }

    async fn add_report_note_audited(
        &self,
        id: i64,
        author: &str,
        text: &str,
        now_ms: i64,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let structure = report_structure(&mut tx, id).await?;
        sqlx::query(
            "INSERT INTO report_notes (report_id, author, text, created_ms) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(author.to_owned())
        .bind(text.to_owned())
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE reports SET updated_ms = $1 WHERE id = $2")
            .bind(now_ms)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        insert_audit(
            &mut tx,
            &NewAudit {
                actor: author.into(),
                action: "report.note".into(),
                structure: Some(structure),
                target: Some(id.to_string()),
                // Not the note itself: the audit log is read by more people than the
                // reports (a structure's administrators), and a note may name a pupil.
                before: None,
                after: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn safety_staff(&self, structure: &str) -> Result<Option<Vec<String>>> {
        let logins: Option<String> =
            sqlx::query_scalar("SELECT logins FROM structure_safety WHERE structure_id = $1")
                .bind(structure.to_owned())
                .fetch_optional(self.pool())
                .await?;
        Ok(logins.map(|l| l.split_whitespace().map(str::to_string).collect()))
    }

    async fn all_safety_staff(&self) -> Result<Vec<(String, Vec<String>)>> {
        let rows =
            sqlx::query("SELECT structure_id, logins FROM structure_safety ORDER BY structure_id")
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|r| {
                let logins: String = r.try_get("logins")?;
                Ok((
                    r.try_get("structure_id")?,
                    logins.split_whitespace().map(str::to_string).collect(),
                ))
            })
            .collect()
    }

    async fn set_safety_staff_audited(
        &self,
        structure: &str,
        logins: Option<&[String]>,
        actor: &str,
    ) -> Result<Option<Vec<String>>> {
        let mut tx = self.begin_write().await?;
        if !structure_exists(&mut tx, structure).await? {
            return Err(StoreError::NotFound);
        }
        let before: Option<String> =
            sqlx::query_scalar("SELECT logins FROM structure_safety WHERE structure_id = $1")
                .bind(structure.to_owned())
                .fetch_optional(&mut *tx)
                .await?;
        let before: Option<Vec<String>> =
            before.map(|l| l.split_whitespace().map(str::to_string).collect());
        match logins {
            None => {
                sqlx::query("DELETE FROM structure_safety WHERE structure_id = $1")
                    .bind(structure.to_owned())
                    .execute(&mut *tx)
                    .await?;
            }
            Some(l) => {
                if l.iter()
                    .any(|x| x.is_empty() || x.chars().any(char::is_whitespace))
                {
                    return Err(StoreError::Invalid("invalid login".into()));
                }
                sqlx::query(
                    "INSERT INTO structure_safety (structure_id, logins) VALUES ($1, $2) \
                     ON CONFLICT (structure_id) DO UPDATE SET logins = excluded.logins",
                )
                .bind(structure.to_owned())
                .bind(l.join(" "))
                .execute(&mut *tx)
                .await?;
            }
        }
        insert_audit(
            &mut tx,
            &NewAudit {
                actor: actor.into(),
                action: "structure.safety_staff".into(),
                structure: Some(structure.into()),
                target: Some(structure.into()),
                before: Some(staff_json(before.as_deref())),
                after: Some(staff_json(logins)),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(before)
    }
}
