//! `causerie directory import-aaf DIR`: the académie's directory feed (AAF exports)
//! read from a directory, mapped by `causerie_ent::aaf`, its report printed (and written
//! whole with `--report`), then applied as `directory import` applies a JSON snapshot:
//! the same change layer, validation and audit.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};
use causerie_ent::aaf::{Feed, Mapped, Reason};
use causerie_ent::{Profile, Snapshot};
use causerie_server::Config;

/// Skips printed on the terminal; `--report FILE` has them all.
const SHOWN: usize = 40;

pub async fn import_aaf(
    config: &Config,
    dir: &Path,
    dry_run: bool,
    report_file: Option<&Path>,
    json_file: Option<&Path>,
    force: bool,
) -> Result<()> {
    let mapped = read_feed(dir)?;
    let summary = summary(dir, &mapped);
    print!("{summary}");
    let lines: Vec<String> = mapped
        .report
        .skipped
        .iter()
        .map(|s| s.to_string())
        .collect();
    for line in lines.iter().take(SHOWN) {
        println!("  {line}");
    }
    if lines.len() > SHOWN {
        match report_file {
            Some(f) => println!("  … {} more in {}", lines.len() - SHOWN, f.display()),
            None => println!(
                "  … {} more (--report FILE writes them all)",
                lines.len() - SHOWN
            ),
        }
    }
    if let Some(f) = report_file {
        let mut text = summary.clone();
        for line in &lines {
            let _ = writeln!(text, "  {line}");
        }
        std::fs::write(f, text).with_context(|| format!("cannot write {}", f.display()))?;
    }
    if let Some(f) = json_file {
        let json = serde_json::to_string_pretty(&mapped.snapshot)?;
        std::fs::write(f, json).with_context(|| format!("cannot write {}", f.display()))?;
    }
    if dry_run {
        if let Err(e) = causerie_ent::validate(&mapped.snapshot) {
            bail!("the mapped snapshot would be refused: {e}");
        }
        println!("dry run: nothing was imported");
        return Ok(());
    }
    // A full snapshot deactivates whoever it misses: an unreadable file, or a feed that
    // maps to nobody, would deactivate a whole school.
    let unread: Vec<&str> = mapped
        .report
        .skipped
        .iter()
        .filter(|s| matches!(s.reason, Reason::MalformedFile(_)))
        .map(|s| s.file.as_str())
        .collect();
    if !unread.is_empty() {
        bail!(
            "{} could not be read: nothing was imported (an incomplete feed would deactivate everyone it misses)",
            unread.join(", ")
        );
    }
    if mapped.snapshot.users.is_empty() {
        bail!("the feed maps to no user: nothing was imported");
    }
    crate::import_snapshot(config, mapped.snapshot, &dir.display().to_string(), force).await
}

/// Reads the `*.xml` files of `dir` in name order into a feed, and maps it.
fn read_feed(dir: &Path) -> Result<Mapped> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.to_ascii_lowercase().ends_with(".xml") && entry.file_type()?.is_file() {
            names.push(name);
        }
    }
    if names.is_empty() {
        bail!("no .xml file in {}", dir.display());
    }
    names.sort();
    let mut feed = Feed::new();
    for name in &names {
        let path = dir.join(name);
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        feed.add_file(name, &bytes);
    }
    Ok(feed.finish())
}

/// What was read and made, and the skips counted by reason.
fn summary(dir: &Path, m: &Mapped) -> String {
    let s: &Snapshot = &m.snapshot;
    let count = |p: Profile| s.users.iter().filter(|u| u.profile == p).count();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "read {} files from {}: {} structures, {} classes, {} groups; users: {} pupils, {} relatives, {} teachers, {} staff",
        m.report.files,
        dir.display(),
        s.structures.len(),
        s.classes.len(),
        s.groups.len(),
        count(Profile::Student),
        count(Profile::Relative),
        count(Profile::Teacher),
        count(Profile::Personnel),
    );
    for (category, n) in &m.report.ignored {
        let _ = writeln!(
            out,
            "ignored: {n} entries of category {category} (not used)"
        );
    }
    let _ = writeln!(
        out,
        "skipped: {} entries; dropped: {} references",
        m.report.entries_skipped(),
        m.report.references_dropped()
    );
    for (reason, n) in m.report.by_reason() {
        let _ = writeln!(out, "  {reason}: {n}");
    }
    out
}
