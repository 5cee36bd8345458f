//! Rosters (RFC 6121): roster items with their subscription state and groups (tables
//! `roster_items`, `roster_groups`), and the inbound subscription requests not answered
//! yet (table `pending_in`).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::reader::{Columns, SqlxRow};
use crate::{Backend, Result, Store, StoreError, account_id};

/// Subscription state of a roster item (RFC 6121 §2.1.2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Subscription {
    #[default]
    None,
    To,
    From,
    Both,
}

impl Subscription {
    /// The RFC 6121 attribute value: "none", "to", "from" or "both".
    pub fn as_str(self) -> &'static str {
        match self {
            Subscription::None => "none",
            Subscription::To => "to",
            Subscription::From => "from",
            Subscription::Both => "both",
        }
    }

    /// Parses an RFC 6121 attribute value ("none", "to", "from", "both"); None otherwise.
    pub fn parse(s: &str) -> Option<Subscription> {
        match s {
            "none" => Some(Subscription::None),
            "to" => Some(Subscription::To),
            "from" => Some(Subscription::From),
            "both" => Some(Subscription::Both),
            _ => None,
        }
    }
}

impl fmt::Display for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error of `"…".parse::<Subscription>()`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid subscription state {0:?}")]
pub struct ParseSubscriptionError(pub String);

impl FromStr for Subscription {
    type Err = ParseSubscriptionError;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Subscription::parse(s).ok_or_else(|| ParseSubscriptionError(s.to_owned()))
    }
}

/// One roster item (RFC 6121). `contact` is a bare JID string ("bob@example.org").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterItem {
    pub contact: String,
    pub name: Option<String>,
    pub subscription: Subscription,
    /// Outbound subscription request pending ("Pending Out", shown as ask="subscribe").
    pub ask: bool,
    /// Subscription pre-approved by the user (RFC 6121 §3.4), shown as approved="true".
    pub approved: bool,
    /// The contact refused our request; kept until a new request (school product: « Invitation refusée »).
    pub refused: bool,
    /// Roster groups (the seed's categories), order-insensitive; stored in their own table.
    pub groups: Vec<String>,
}

impl RosterItem {
    /// An item for `contact` with no name, subscription "none", no flag and no group.
    pub fn new(contact: impl Into<String>) -> RosterItem {
        RosterItem {
            contact: contact.into(),
            name: None,
            subscription: Subscription::None,
            ask: false,
            approved: false,
            refused: false,
            groups: Vec::new(),
        }
    }
}

#[async_trait::async_trait]
pub trait RosterStore: Send + Sync {
    /// All items of `user`, sorted by contact (byte-wise, the same on both backends).
    /// Empty when `user` has no account.
    async fn roster(&self, user: &str) -> Result<Vec<RosterItem>>;
    async fn roster_item(&self, user: &str, contact: &str) -> Result<Option<RosterItem>>;
    /// Insert or replace the item, its groups included, in one transaction.
    /// Groups are stored deduplicated. Err(NotFound) when `user` has no account.
    async fn put_roster_item(&self, user: &str, item: &RosterItem) -> Result<()>;
    /// true when an item was removed.
    async fn remove_roster_item(&self, user: &str, contact: &str) -> Result<bool>;
    /// Users whose roster holds `contact` (bare JID) — used to push presence/roster changes.
    /// Sorted by username.
    async fn users_with_contact(&self, contact: &str) -> Result<Vec<String>>;
    /// Inbound subscription requests kept while not answered (RFC 6121 §3.1.3), even without a roster item.
    /// `stanza` is the presence stanza's XML as received (to redeliver at login).
    ///
    /// Upsert: a repeated request from the same contact replaces the stored stanza but keeps
    /// its place in the order (the request is as old as the first one).
    /// Err(NotFound) when `user` has no account.
    async fn add_pending_in(&self, user: &str, contact: &str, stanza: &str) -> Result<()>;
    async fn remove_pending_in(&self, user: &str, contact: &str) -> Result<bool>;
    /// (contact, stanza) pairs, oldest first.
    async fn pending_in(&self, user: &str) -> Result<Vec<(String, String)>>;
    async fn has_pending_in(&self, user: &str, contact: &str) -> Result<bool>;
    /// Records that `user` refused the contact request of `requester` (a bare JID) for
    /// good: [`RosterStore::has_refused`] answers true until [`RosterStore::lift_refusal`].
    /// Err(NotFound) when `user` has no account.
    async fn refuse(&self, user: &str, requester: &str, now_ms: i64) -> Result<()>;
    /// Whether `user` refused `requester`'s request and has not lifted the refusal.
    async fn has_refused(&self, user: &str, requester: &str) -> Result<bool>;
    /// `user` asked `requester` himself (or pre-approved him): the refusal ends.
    /// true when there was one.
    async fn lift_refusal(&self, user: &str, requester: &str) -> Result<bool>;
    /// The roster's version (RFC 6121 §2.6): 0 at first, bumped by every
    /// [`RosterStore::put_roster_item`] and every [`RosterStore::remove_roster_item`] that
    /// removed something, in the write's own transaction. 0 when `user` has no account.
    async fn roster_version(&self, user: &str) -> Result<i64>;
    /// The roster (as [`RosterStore::roster`]) and its version (as
    /// [`RosterStore::roster_version`]) in one read, so that they are of the same moment:
    /// what a versioned roster get needs. `(0, [])` when `user` has no account.
    async fn roster_with_version(&self, user: &str) -> Result<(i64, Vec<RosterItem>)>;
}

/// Bumps the roster version of `account` inside a write transaction.
async fn bump_version(tx: &mut sqlx::Transaction<'static, sqlx::Any>, account: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO roster_versions (account_id, version) VALUES ($1, 1) \
         ON CONFLICT (account_id) DO UPDATE SET version = roster_versions.version + 1",
    )
    .bind(account)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Builds an item (without its groups) from a `roster_items` row.
fn read_item(row: &AnyRow, backend: Backend) -> Result<(i64, RosterItem)> {
    read_item_columns(&SqlxRow(row, backend))
}

fn read_item_columns(row: &(impl Columns + ?Sized)) -> Result<(i64, RosterItem)> {
    let id = row.int("id")?;
    let subscription = row.text("subscription")?;
    let subscription = Subscription::parse(&subscription)
        .ok_or_else(|| StoreError::Corrupt(format!("roster subscription {subscription:?}")))?;
    let item = RosterItem {
        contact: row.text("contact")?,
        name: row.opt_text("name")?,
        subscription,
        ask: row.flag("ask")?,
        approved: row.flag("approved")?,
        refused: row.flag("refused")?,
        groups: Vec::new(),
    };
    Ok((id, item))
}

/// An item and the `group_name` of its row.
fn item_in_group(row: &(impl Columns + ?Sized)) -> Result<(i64, RosterItem, Option<String>)> {
    let (id, item) = read_item_columns(row)?;
    Ok((id, item, row.opt_text("group_name")?))
}

/// A roster from its rows (an item per row, or several rows for an item in several
/// groups, `group_name` NULL for an item without): items in byte-wise contact order,
/// groups sorted.
fn roster_from(rows: Vec<(i64, RosterItem, Option<String>)>) -> Vec<RosterItem> {
    let mut items: BTreeMap<i64, RosterItem> = BTreeMap::new();
    for (id, item, group) in rows {
        items.entry(id).or_insert(item).groups.extend(group);
    }
    let mut items: Vec<RosterItem> = items.into_values().collect();
    for item in &mut items {
        item.groups.sort_unstable();
    }
    // Byte-wise order, the same on both backends (PostgreSQL collations vary).
    items.sort_unstable_by(|a, b| a.contact.cmp(&b.contact));
    items
}

/// The `roster_items` columns [`read_item`] reads, as a literal for `concat!`.
macro_rules! item_columns {
    () => {
        "r.id, r.contact, r.name, r.subscription, r.ask, r.approved, r.refused"
    };
}

#[async_trait::async_trait]
impl RosterStore for Store {
    async fn roster(&self, user: &str) -> Result<Vec<RosterItem>> {
        // One statement for the items and their groups (a row per item and
        // group, one with a NULL group for an item without): one consistent
        // read, and one query instead of two (BENCHMARKS.md, F5); on a SQLite
        // file, read on this thread (reader.rs).
        const SQL: &str = concat!(
            "SELECT ",
            item_columns!(),
            ", g.name AS group_name \
             FROM roster_items r JOIN accounts a ON a.id = r.account_id \
             LEFT JOIN roster_groups g ON g.item_id = r.id \
             WHERE a.username = $1"
        );
        let rows = self
            .rows_by("roster", SQL, user, |row| item_in_group(row))
            .await?;
        Ok(roster_from(rows))
    }

    async fn roster_item(&self, user: &str, contact: &str) -> Result<Option<RosterItem>> {
        // Item and groups in one statement, as in `roster`.
        let rows = sqlx::query(concat!(
            "SELECT ",
            item_columns!(),
            ", g.name AS group_name \
             FROM roster_items r JOIN accounts a ON a.id = r.account_id \
             LEFT JOIN roster_groups g ON g.item_id = r.id \
             WHERE a.username = $1 AND r.contact = $2"
        ))
        .bind(user.to_owned())
        .bind(contact.to_owned())
        .fetch_all(self.pool())
        .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let (_, mut item) = read_item(first, self.backend())?;
        for row in &rows {
            let group: Option<String> = row.try_get("group_name")?;
            item.groups.extend(group);
        }
        item.groups.sort_unstable();
        Ok(Some(item))
    }

    async fn put_roster_item(&self, user: &str, item: &RosterItem) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let account = account_id(&mut *tx, user)
            .await?
            .ok_or(StoreError::NotFound)?;
        let item_id: i64 = sqlx::query_scalar(
            "INSERT INTO roster_items \
                 (account_id, contact, name, subscription, ask, approved, refused) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (account_id, contact) DO UPDATE SET \
                 name = excluded.name, subscription = excluded.subscription, \
                 ask = excluded.ask, approved = excluded.approved, refused = excluded.refused \
             RETURNING id",
        )
        .bind(account)
        .bind(item.contact.clone())
        .bind(item.name.clone())
        .bind(item.subscription.as_str())
        .bind(item.ask)
        .bind(item.approved)
        .bind(item.refused)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM roster_groups WHERE item_id = $1")
            .bind(item_id)
            .execute(&mut *tx)
            .await?;
        let mut groups: Vec<&String> = item.groups.iter().collect();
        groups.sort_unstable();
        groups.dedup();
        for group in groups {
            sqlx::query("INSERT INTO roster_groups (item_id, name) VALUES ($1, $2)")
                .bind(item_id)
                .bind(group.clone())
                .execute(&mut *tx)
                .await?;
        }
        bump_version(&mut tx, account).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn remove_roster_item(&self, user: &str, contact: &str) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let Some(account) = account_id(&mut *tx, user).await? else {
            return Ok(false);
        };
        let done = sqlx::query("DELETE FROM roster_items WHERE account_id = $1 AND contact = $2")
            .bind(account)
            .bind(contact.to_owned())
            .execute(&mut *tx)
            .await?;
        let removed = done.rows_affected() > 0;
        if removed {
            bump_version(&mut tx, account).await?;
        }
        tx.commit().await?;
        Ok(removed)
    }

    async fn users_with_contact(&self, contact: &str) -> Result<Vec<String>> {
        let mut users: Vec<String> = sqlx::query_scalar(
            "SELECT a.username FROM roster_items r JOIN accounts a ON a.id = r.account_id \
             WHERE r.contact = $1",
        )
        .bind(contact.to_owned())
        .fetch_all(self.pool())
        .await?;
        users.sort_unstable();
        Ok(users)
    }

    async fn add_pending_in(&self, user: &str, contact: &str, stanza: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let account = account_id(&mut *tx, user)
            .await?
            .ok_or(StoreError::NotFound)?;
        sqlx::query(
            "INSERT INTO pending_in (account_id, contact, stanza) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id, contact) DO UPDATE SET stanza = excluded.stanza",
        )
        .bind(account)
        .bind(contact.to_owned())
        .bind(stanza.to_owned())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn remove_pending_in(&self, user: &str, contact: &str) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM pending_in WHERE contact = $2 \
             AND account_id = (SELECT id FROM accounts WHERE username = $1)",
        )
        .bind(user.to_owned())
        .bind(contact.to_owned())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn pending_in(&self, user: &str) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT p.contact, p.stanza FROM pending_in p \
             JOIN accounts a ON a.id = p.account_id \
             WHERE a.username = $1 ORDER BY p.id",
        )
        .bind(user.to_owned())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("contact")?, row.try_get("stanza")?)))
            .collect()
    }

    async fn has_pending_in(&self, user: &str, contact: &str) -> Result<bool> {
        let id: Option<i64> = sqlx::query_scalar(
            "SELECT p.id FROM pending_in p JOIN accounts a ON a.id = p.account_id \
             WHERE a.username = $1 AND p.contact = $2",
        )
        .bind(user.to_owned())
        .bind(contact.to_owned())
        .fetch_optional(self.pool())
        .await?;
        Ok(id.is_some())
    }

    async fn refuse(&self, user: &str, requester: &str, now_ms: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let account = account_id(&mut *tx, user)
            .await?
            .ok_or(StoreError::NotFound)?;
        sqlx::query(
            "INSERT INTO refusals (account_id, requester, refused_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id, requester) DO NOTHING",
        )
        .bind(account)
        .bind(requester.to_owned())
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn has_refused(&self, user: &str, requester: &str) -> Result<bool> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT r.refused_ms FROM refusals r JOIN accounts a ON a.id = r.account_id \
             WHERE a.username = $1 AND r.requester = $2",
        )
        .bind(user.to_owned())
        .bind(requester.to_owned())
        .fetch_optional(self.pool())
        .await?;
        Ok(found.is_some())
    }

    async fn lift_refusal(&self, user: &str, requester: &str) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM refusals WHERE requester = $2 \
             AND account_id = (SELECT id FROM accounts WHERE username = $1)",
        )
        .bind(user.to_owned())
        .bind(requester.to_owned())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn roster_version(&self, user: &str) -> Result<i64> {
        // On a SQLite file, read on this thread (reader.rs): a roster push reads it.
        const SQL: &str = "SELECT v.version AS version FROM roster_versions v \
             JOIN accounts a ON a.id = v.account_id WHERE a.username = $1";
        let v = self
            .rows_by("roster version", SQL, user, |row| row.int("version"))
            .await?;
        Ok(v.first().copied().unwrap_or(0))
    }

    async fn roster_with_version(&self, user: &str) -> Result<(i64, Vec<RosterItem>)> {
        // One statement from the account: a row with the version and no item (NULL
        // columns) when the roster is empty, else a row per item and group as in
        // `roster`, each with the version.
        const SQL: &str = concat!(
            "SELECT ",
            item_columns!(),
            ", g.name AS group_name, COALESCE(v.version, 0) AS version \
             FROM accounts a LEFT JOIN roster_versions v ON v.account_id = a.id \
             LEFT JOIN roster_items r ON r.account_id = a.id \
             LEFT JOIN roster_groups g ON g.item_id = r.id \
             WHERE a.username = $1"
        );
        let rows = self
            .rows_by("roster and version", SQL, user, |row| {
                let version = row.int("version")?;
                match row.opt_text("contact")? {
                    None => Ok((version, None)),
                    Some(_) => Ok((version, Some(item_in_group(row)?))),
                }
            })
            .await?;
        let version = rows.first().map_or(0, |(v, _)| *v);
        let items = rows.into_iter().filter_map(|(_, item)| item).collect();
        Ok((version, roster_from(items)))
    }
}
