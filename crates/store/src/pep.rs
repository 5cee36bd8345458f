//! XEP-0163 personal eventing: each account's PEP nodes with their configuration (table
//! `pep_nodes`) and their items (table `pep_items`, each payload stored as its XML text).
//!
//! The store keeps the bounds it is given in the same transaction as the write (items
//! per node, nodes and bytes per account), so two devices publishing at once cannot
//! overshoot them. Whether someone may read or be told of a node is the server's
//! business (the gate and the node's access model), not the store's.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::{Result, Store, StoreError, account_id, get_flag, now_ms};

/// Who may see a node's items besides its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessModel {
    /// The accounts subscribed to the owner's presence (as the school's rules allow).
    Presence,
    /// Nobody but the owner (Causerie keeps no whitelist entries).
    Whitelist,
}

impl AccessModel {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessModel::Presence => "presence",
            AccessModel::Whitelist => "whitelist",
        }
    }

    pub fn parse(s: &str) -> Option<AccessModel> {
        match s {
            "presence" => Some(AccessModel::Presence),
            "whitelist" => Some(AccessModel::Whitelist),
            _ => None,
        }
    }
}

/// When the last item goes to a new subscriber (`pubsub#send_last_published_item`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendLast {
    Never,
    OnSub,
    OnSubAndPresence,
}

impl SendLast {
    pub fn as_str(self) -> &'static str {
        match self {
            SendLast::Never => "never",
            SendLast::OnSub => "on_sub",
            SendLast::OnSubAndPresence => "on_sub_and_presence",
        }
    }

    pub fn parse(s: &str) -> Option<SendLast> {
        match s {
            "never" => Some(SendLast::Never),
            "on_sub" => Some(SendLast::OnSub),
            "on_sub_and_presence" => Some(SendLast::OnSubAndPresence),
            _ => None,
        }
    }
}

/// A node and its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PepNode {
    pub node: String,
    pub access_model: AccessModel,
    pub persist_items: bool,
    /// At least 1; the oldest items beyond it are dropped.
    pub max_items: u32,
    pub send_last: SendLast,
    pub notify_retract: bool,
    pub notify_delete: bool,
}

impl PepNode {
    /// A node with the PEP defaults (XEP-0163 §4): presence access, one persistent item,
    /// the last item sent on subscription and presence.
    pub fn new(node: impl Into<String>) -> PepNode {
        PepNode {
            node: node.into(),
            access_model: AccessModel::Presence,
            persist_items: true,
            max_items: 1,
            send_last: SendLast::OnSubAndPresence,
            notify_retract: true,
            notify_delete: true,
        }
    }

    /// How many items the node keeps: `max_items`, or one when items do not persist (the
    /// last one is still what a new subscriber is sent, XEP-0163 §4.3.4).
    pub fn kept(&self) -> u32 {
        if self.persist_items {
            self.max_items.max(1)
        } else {
            1
        }
    }
}

/// One published item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PepItem {
    pub id: String,
    /// The payload element, as XML text.
    pub xml: String,
}

/// The last item of a node, with its owner and configuration ([`PepStore::pep_last_items`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastItem {
    pub owner: String,
    pub node: PepNode,
    pub item: PepItem,
}

/// Bounds a publication must respect, checked in its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PepQuota {
    /// Nodes one account may have.
    pub max_nodes: u32,
    /// Bytes of items one account may keep, all nodes together.
    pub max_bytes: u64,
}

/// What [`PepStore::pep_publish`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// Stored (the node created if it was not there).
    Stored { created: bool },
    /// Refused: the account would have more nodes than allowed.
    TooManyNodes,
    /// Refused: the account would keep more bytes than allowed.
    OverQuota,
}

#[async_trait::async_trait]
pub trait PepStore: Send + Sync {
    /// The node `node` of `user`, if any.
    async fn pep_node(&self, user: &str, node: &str) -> Result<Option<PepNode>>;
    /// Every node of `user`, sorted by name.
    async fn pep_nodes(&self, user: &str) -> Result<Vec<PepNode>>;
    /// Creates a node. Err(AlreadyExists) when it exists, Err(NotFound) without account;
    /// false (nothing created) past `max_nodes`.
    async fn pep_create(&self, user: &str, node: &PepNode, max_nodes: u32) -> Result<bool>;
    /// Replaces a node's configuration, dropping the oldest items past its new bound.
    /// Err(NotFound) when the node does not exist.
    async fn pep_configure(&self, user: &str, node: &PepNode) -> Result<()>;
    /// Deletes a node and its items; false when there was none.
    async fn pep_delete(&self, user: &str, node: &str) -> Result<bool>;
    /// Publishes `item` to `node.node` (created with `node` as configuration when absent;
    /// an existing node keeps its own), replacing an item of the same id, which becomes
    /// the newest; the oldest items past the node's bound are dropped.
    /// Err(NotFound) without account.
    async fn pep_publish(
        &self,
        user: &str,
        node: &PepNode,
        item: &PepItem,
        quota: PepQuota,
    ) -> Result<Published>;
    /// The node's items, newest first, at most `max` of them.
    async fn pep_items(&self, user: &str, node: &str, max: Option<u32>) -> Result<Vec<PepItem>>;
    /// The node's items with these ids (those that exist), newest first.
    async fn pep_items_by_id(&self, user: &str, node: &str, ids: &[String])
    -> Result<Vec<PepItem>>;
    /// Removes one item; false when it was not there.
    async fn pep_retract(&self, user: &str, node: &str, id: &str) -> Result<bool>;
    /// The newest item of each of `nodes` of each of `owners` that has one.
    async fn pep_last_items(&self, owners: &[String], nodes: &[String]) -> Result<Vec<LastItem>>;
}

/// Node columns, formatted (a constant) into queries whose values are all bound.
const NODE_COLUMNS: &str = "n.node, n.access_model, n.persist_items, n.max_items, n.send_last, \
                            n.notify_retract, n.notify_delete";

fn read_node(row: &AnyRow, backend: crate::Backend) -> Result<PepNode> {
    let access: String = row.try_get("access_model")?;
    let send_last: String = row.try_get("send_last")?;
    let max: i64 = row.try_get("max_items")?;
    Ok(PepNode {
        node: row.try_get("node")?,
        access_model: AccessModel::parse(&access)
            .ok_or_else(|| StoreError::Corrupt(format!("access model {access:?}")))?,
        persist_items: get_flag(row, "persist_items", backend)?,
        max_items: u32::try_from(max)
            .map_err(|_| StoreError::Corrupt(format!("max_items {max}")))?,
        send_last: SendLast::parse(&send_last)
            .ok_or_else(|| StoreError::Corrupt(format!("send_last {send_last:?}")))?,
        notify_retract: get_flag(row, "notify_retract", backend)?,
        notify_delete: get_flag(row, "notify_delete", backend)?,
    })
}

fn read_item(row: &AnyRow) -> Result<PepItem> {
    Ok(PepItem {
        id: row.try_get("item_id")?,
        xml: row.try_get("xml")?,
    })
}

/// `$first, $first+1, …` for `n` bound values.
fn marks(first: usize, n: usize) -> String {
    (0..n)
        .map(|i| format!("${}", first + i))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn insert_node(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    account: i64,
    node: &PepNode,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO pep_nodes (account_id, node, access_model, persist_items, max_items, \
             send_last, notify_retract, notify_delete, created_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(account)
    .bind(node.node.clone())
    .bind(node.access_model.as_str())
    .bind(node.persist_items)
    .bind(i64::from(node.max_items.max(1)))
    .bind(node.send_last.as_str())
    .bind(node.notify_retract)
    .bind(node.notify_delete)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn node_count(tx: &mut sqlx::Transaction<'static, sqlx::Any>, account: i64) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM pep_nodes WHERE account_id = $1")
            .bind(account)
            .fetch_one(&mut **tx)
            .await?,
    )
}

/// Drops the oldest items of a node past `keep`.
async fn trim(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    account: i64,
    node: &str,
    keep: u32,
) -> Result<()> {
    sqlx::query(
        "DELETE FROM pep_items WHERE account_id = $1 AND node = $2 AND seq NOT IN \
           (SELECT seq FROM pep_items WHERE account_id = $3 AND node = $4 \
            ORDER BY seq DESC LIMIT $5)",
    )
    .bind(account)
    .bind(node.to_owned())
    .bind(account)
    .bind(node.to_owned())
    .bind(i64::from(keep))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait::async_trait]
impl PepStore for Store {
    async fn pep_node(&self, user: &str, node: &str) -> Result<Option<PepNode>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {NODE_COLUMNS} FROM pep_nodes n JOIN accounts a ON a.id = n.account_id \
             WHERE a.username = $1 AND n.node = $2"
        )))
        .bind(user.to_owned())
        .bind(node.to_owned())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| read_node(&r, self.backend())).transpose()
    }

    async fn pep_nodes(&self, user: &str) -> Result<Vec<PepNode>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {NODE_COLUMNS} FROM pep_nodes n JOIN accounts a ON a.id = n.account_id \
             WHERE a.username = $1"
        )))
        .bind(user.to_owned())
        .fetch_all(self.pool())
        .await?;
        let mut nodes = rows
            .iter()
            .map(|r| read_node(r, self.backend()))
            .collect::<Result<Vec<_>>>()?;
        // Byte-wise order, the same on both backends.
        nodes.sort_unstable_by(|a, b| a.node.cmp(&b.node));
        Ok(nodes)
    }

    async fn pep_create(&self, user: &str, node: &PepNode, max_nodes: u32) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let account = account_id(&mut *tx, user)
            .await?
            .ok_or(StoreError::NotFound)?;
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM pep_nodes WHERE account_id = $1 AND node = $2")
                .bind(account)
                .bind(node.node.clone())
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_some() {
            return Err(StoreError::AlreadyExists);
        }
        if node_count(&mut tx, account).await? >= i64::from(max_nodes) {
            return Ok(false);
        }
        insert_node(&mut tx, account, node).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn pep_configure(&self, user: &str, node: &PepNode) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let account = account_id(&mut *tx, user)
            .await?
            .ok_or(StoreError::NotFound)?;
        let changed = sqlx::query(
            "UPDATE pep_nodes SET access_model = $3, persist_items = $4, max_items = $5, \
                 send_last = $6, notify_retract = $7, notify_delete = $8 \
             WHERE account_id = $1 AND node = $2",
        )
        .bind(account)
        .bind(node.node.clone())
        .bind(node.access_model.as_str())
        .bind(node.persist_items)
        .bind(i64::from(node.max_items.max(1)))
        .bind(node.send_last.as_str())
        .bind(node.notify_retract)
        .bind(node.notify_delete)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        trim(&mut tx, account, &node.node, node.kept()).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn pep_delete(&self, user: &str, node: &str) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let Some(account) = account_id(&mut *tx, user).await? else {
            return Ok(false);
        };
        // Items first: the cascade of the composite key is not relied upon on every
        // SQLite build.
        sqlx::query("DELETE FROM pep_items WHERE account_id = $1 AND node = $2")
            .bind(account)
            .bind(node.to_owned())
            .execute(&mut *tx)
            .await?;
        let gone = sqlx::query("DELETE FROM pep_nodes WHERE account_id = $1 AND node = $2")
            .bind(account)
            .bind(node.to_owned())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(gone > 0)
    }

    async fn pep_publish(
        &self,
        user: &str,
        node: &PepNode,
        item: &PepItem,
        quota: PepQuota,
    ) -> Result<Published> {
        let mut tx = self.begin_write().await?;
        let account = account_id(&mut *tx, user)
            .await?
            .ok_or(StoreError::NotFound)?;
        let existing = sqlx::query(AssertSqlSafe(format!(
            "SELECT {NODE_COLUMNS} FROM pep_nodes n WHERE n.account_id = $1 AND n.node = $2"
        )))
        .bind(account)
        .bind(node.node.clone())
        .fetch_optional(&mut *tx)
        .await?;
        let (config, created) = match existing {
            Some(row) => (read_node(&row, self.backend())?, false),
            None => {
                if node_count(&mut tx, account).await? >= i64::from(quota.max_nodes) {
                    return Ok(Published::TooManyNodes);
                }
                insert_node(&mut tx, account, node).await?;
                (node.clone(), true)
            }
        };
        let bytes = i64::try_from(item.xml.len()).unwrap_or(i64::MAX);
        // What the account keeps once this item replaces one of the same id.
        let others: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(bytes), 0) AS BIGINT) FROM pep_items \
             WHERE account_id = $1 AND NOT (node = $2 AND item_id = $3)",
        )
        .bind(account)
        .bind(config.node.clone())
        .bind(item.id.clone())
        .fetch_one(&mut *tx)
        .await?;
        if u64::try_from(others.saturating_add(bytes)).unwrap_or(u64::MAX) > quota.max_bytes {
            return Ok(Published::OverQuota);
        }
        let seq: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM pep_items WHERE account_id = $1 AND node = $2",
        )
        .bind(account)
        .bind(config.node.clone())
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO pep_items (account_id, node, item_id, seq, xml, bytes, published_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (account_id, node, item_id) DO UPDATE SET \
                 seq = excluded.seq, xml = excluded.xml, bytes = excluded.bytes, \
                 published_ms = excluded.published_ms",
        )
        .bind(account)
        .bind(config.node.clone())
        .bind(item.id.clone())
        .bind(seq)
        .bind(item.xml.clone())
        .bind(bytes)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        trim(&mut tx, account, &config.node, config.kept()).await?;
        tx.commit().await?;
        Ok(Published::Stored { created })
    }

    async fn pep_items(&self, user: &str, node: &str, max: Option<u32>) -> Result<Vec<PepItem>> {
        let limit = max.map_or(i64::MAX, i64::from);
        let rows = sqlx::query(
            "SELECT i.item_id, i.xml FROM pep_items i JOIN accounts a ON a.id = i.account_id \
             WHERE a.username = $1 AND i.node = $2 ORDER BY i.seq DESC LIMIT $3",
        )
        .bind(user.to_owned())
        .bind(node.to_owned())
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(read_item).collect()
    }

    async fn pep_items_by_id(
        &self,
        user: &str,
        node: &str,
        ids: &[String],
    ) -> Result<Vec<PepItem>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // Only placeholders are formatted into the text; every value is bound.
        let sql = format!(
            "SELECT i.item_id, i.xml FROM pep_items i JOIN accounts a ON a.id = i.account_id \
             WHERE a.username = $1 AND i.node = $2 AND i.item_id IN ({}) ORDER BY i.seq DESC",
            marks(3, ids.len())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql))
            .bind(user.to_owned())
            .bind(node.to_owned());
        for id in ids {
            q = q.bind(id.clone());
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter().map(read_item).collect()
    }

    async fn pep_retract(&self, user: &str, node: &str, id: &str) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let Some(account) = account_id(&mut *tx, user).await? else {
            return Ok(false);
        };
        let gone = sqlx::query(
            "DELETE FROM pep_items WHERE account_id = $1 AND node = $2 AND item_id = $3",
        )
        .bind(account)
        .bind(node.to_owned())
        .bind(id.to_owned())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(gone > 0)
    }

    async fn pep_last_items(&self, owners: &[String], nodes: &[String]) -> Result<Vec<LastItem>> {
        if owners.is_empty() || nodes.is_empty() {
            return Ok(Vec::new());
        }
        // Only placeholders are formatted into the text; every value is bound.
        let sql = format!(
            "SELECT a.username, {NODE_COLUMNS}, i.item_id, i.xml \
             FROM pep_items i JOIN accounts a ON a.id = i.account_id \
             JOIN pep_nodes n ON n.account_id = i.account_id AND n.node = i.node \
             WHERE a.username IN ({}) AND i.node IN ({}) \
               AND i.seq = (SELECT MAX(j.seq) FROM pep_items j \
                            WHERE j.account_id = i.account_id AND j.node = i.node)",
            marks(1, owners.len()),
            marks(1 + owners.len(), nodes.len())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for o in owners {
            q = q.bind(o.clone());
        }
        for n in nodes {
            q = q.bind(n.clone());
        }
        let rows = q.fetch_all(self.pool()).await?;
        let mut out = rows
            .iter()
            .map(|r| {
                Ok(LastItem {
                    owner: r.try_get("username")?,
                    node: read_node(r, self.backend())?,
                    item: read_item(r)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        out.sort_unstable_by(|a, b| (&a.owner, &a.node.node).cmp(&(&b.owner, &b.node.node)));
        Ok(out)
    }
}
