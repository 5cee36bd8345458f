//! The retention of the accounts' one-to-one archives (docs/config.md, "Archive"): each
//! structure's cutoff, and the purge that deletes what is older for real.
//!
//! A retention (`causerie_ent::Retention`) becomes a cutoff, a time before which messages
//! go: the school year's start (`[archive] school_year_start`, midnight in the server's
//! time zone) for `school_year`, or `now - days`. The purge ([`purge`]) hands the store the
//! default cutoff (`[archive] retention`, for accounts in no structure and structures that
//! set nothing) and each structure's own; a user of several structures keeps his archive
//! no longer than the shortest of theirs. The server runs it at start and every hour
//! (`features::mam::start`); `causerie archive purge` runs the same now.
//!
//! Shared files (XEP-0363) follow the same retention, by their owner's structures
//! ([`purge_uploads`]): their rows go, then their files on disk; so do slots never
//! filled past their deadline and the files of deleted accounts.
//!
//! The other data classes ([`purge_classes`], docs/safety.md « Durées de conservation »):
//! closed reports `[archive] reports_days` after their last change (and archive access
//! grants once ended that long), the audit log's rows after `[archive] audit_days`, and
//! the accounts of users who left the directory `[archive] departed_days` after they left
//! (their archive, offline messages, PEP, vCard, roster, private storage, memberships;
//! their shared files then go with the next [`purge_uploads`]).

use causerie_ent::{Retention, YearStart};
use causerie_store::{AccountArchiveStore, PrivacyStore, Store, StoreError, UploadStore};
use chrono::{DateTime, Local, NaiveDate, TimeZone};

use crate::config::Archive;

/// Milliseconds since the epoch before which a structure with `retention` deletes its
/// users' messages, at `now`.
pub fn cutoff_ms(retention: Retention, start: YearStart, now: DateTime<Local>) -> i64 {
    match retention {
        Retention::Days(days) => now
            .timestamp_millis()
            .saturating_sub(i64::from(days) * 86_400_000),
        Retention::SchoolYear => {
            let today = now.date_naive();
            let (y, m, d) = start.current((
                chrono::Datelike::year(&today),
                chrono::Datelike::month(&today),
                chrono::Datelike::day(&today),
            ));
            let midnight = NaiveDate::from_ymd_opt(y, m, d)
                .and_then(|date| date.and_hms_opt(0, 0, 0))
                .unwrap_or_default();
            // A midnight a clock change skips or repeats: its earliest instant, else UTC.
            Local.from_local_datetime(&midnight).earliest().map_or_else(
                || midnight.and_utc().timestamp_millis(),
                |t| t.timestamp_millis(),
            )
        }
    }
}

/// Deletes every archived one-to-one message past its owner's retention, at `now`;
/// returns how many.
pub async fn purge(
    store: &Store,
    config: &Archive,
    now: DateTime<Local>,
) -> Result<u64, StoreError> {
    let default = cutoff_ms(config.retention, config.school_year_start, now);
    let overrides: Vec<(String, i64)> = store
        .retentions()
        .await?
        .into_iter()
        .map(|(s, r)| (s, cutoff_ms(r, config.school_year_start, now)))
        .collect();
    store.purge_account_archive(default, &overrides).await
}

/// Deletes every shared file past its owner's retention at `now` (rows, then the files
/// in `dir`), slots never filled whose deadline passed, and deleted accounts' files;
/// returns how many.
pub async fn purge_uploads(
    store: &Store,
    config: &Archive,
    dir: &std::path::Path,
    now: DateTime<Local>,
) -> Result<usize, StoreError> {
    let default = cutoff_ms(config.retention, config.school_year_start, now);
    let overrides: Vec<(String, i64)> = store
        .retentions()
        .await?
        .into_iter()
        .map(|(s, r)| (s, cutoff_ms(r, config.school_year_start, now)))
        .collect();
    let ids = store
        .purge_uploads(default, &overrides, now.timestamp_millis())
        .await?;
    super::uploads::delete_files(dir, &ids);
    Ok(ids.len())
}

/// [`purge_uploads`] at the present time, in the configured directory.
pub async fn purge_uploads_now(
    store: &Store,
    config: &crate::config::Config,
) -> Result<usize, StoreError> {
    purge_uploads(store, &config.archive, &config.upload_dir(), Local::now()).await
}

/// What [`purge_classes`] deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Purged {
    /// Closed reports.
    pub reports: u64,
    /// Rows of the audit log.
    pub audit_rows: u64,
    /// Accounts of users who left the directory.
    pub departed: Vec<String>,
}

const DAY_MS: i64 = 86_400_000;

/// Deletes, at `now` (milliseconds), the closed reports, the audit log's rows and the
/// departed users' accounts past their retention (see the module docs).
pub async fn purge_classes(
    store: &Store,
    config: &Archive,
    now_ms: i64,
) -> Result<Purged, StoreError> {
    let days = |d: u32| now_ms.saturating_sub(i64::from(d) * DAY_MS);
    let reports = store
        .purge_closed_reports(days(config.reports_days))
        .await?;
    let audit_rows = store.purge_audit(days(config.audit_days)).await?;
    let before = days(config.departed_days);
    let mut departed = Vec::new();
    for login in store.departed_before(before).await? {
        if store.purge_departed(&login, before, "retention").await? {
            departed.push(login);
        }
    }
    Ok(Purged {
        reports,
        audit_rows,
        departed,
    })
}

/// [`purge_classes`] at the present time.
pub async fn purge_classes_now(store: &Store, config: &Archive) -> Result<Purged, StoreError> {
    purge_classes(store, config, Local::now().timestamp_millis()).await
}

/// [`purge`] at the present time.
pub async fn purge_now(store: &Store, config: &Archive) -> Result<u64, StoreError> {
    purge(store, config, Local::now()).await
}

/// Deletes the rooms' messages older than `days` (`[muc] archive_retention_days`; 0 keeps
/// them): the server's hourly purge and `causerie archive purge`. How many went.
pub async fn purge_rooms_now(store: &Store, days: u32) -> Result<u64, StoreError> {
    if days == 0 {
        return Ok(0);
    }
    let now = chrono::Utc::now().timestamp_millis();
    let cutoff = now.saturating_sub(i64::from(days) * 86_400_000);
    causerie_store::RoomStore::purge_archive(store, cutoff).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoffs() {
        let now = Local.with_ymd_and_hms(2026, 2, 10, 15, 0, 0).unwrap();
        let start = YearStart::default();
        assert_eq!(
            cutoff_ms(Retention::SchoolYear, start, now),
            Local
                .with_ymd_and_hms(2025, 9, 1, 0, 0, 0)
                .unwrap()
                .timestamp_millis()
        );
        assert_eq!(
            cutoff_ms(Retention::Days(2), start, now),
            now.timestamp_millis() - 2 * 86_400_000
        );
        // On the first day of the school year, the past year goes.
        let first = Local.with_ymd_and_hms(2026, 9, 1, 8, 0, 0).unwrap();
        assert_eq!(
            cutoff_ms(Retention::SchoolYear, start, first),
            Local
                .with_ymd_and_hms(2026, 9, 1, 0, 0, 0)
                .unwrap()
                .timestamp_millis()
        );
        let august = YearStart::parse("08-25").unwrap();
        assert_eq!(
            cutoff_ms(Retention::SchoolYear, august, first),
            Local
                .with_ymd_and_hms(2026, 8, 25, 0, 0, 0)
                .unwrap()
                .timestamp_millis()
        );
    }
}
