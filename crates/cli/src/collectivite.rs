//! `causerie collectivite`: the collectivités of the directory (régions, départements,
//! communes) for operators — list them, show one with its structures' access (each one's
//! own and the effective one under its collectivités), set its chat access, and grant or
//! revoke the console's collectivité administrator role. Changes go through
//! `causerie_server::changes` like every door's (`crate::change`: checked, audited, and
//! applied by a running server before the command returns).

use anyhow::{Context, Result, bail};
use causerie_ent::{Access, Directory, Profile};
use causerie_server::Config;
use causerie_server::changes::Change;
use causerie_store::{CollectiviteStore, DirectoryStore};
use clap::Subcommand;

#[derive(Subcommand)]
pub(crate) enum CollectiviteCommand {
    /// List the collectivités: id, kind, chat access, structures covered, name.
    List,
    /// Show one collectivité: its access and each structure it covers, with the
    /// structure's own access and its effective access under all its collectivités.
    Show { id: String },
    /// Turn chat on or off for every structure a collectivité covers, and choose the
    /// profiles it allows; a structure's own setting can only narrow this.
    Access {
        id: String,
        /// `on` or `off`.
        state: String,
        /// Comma-separated profiles (student,relative,teacher,personnel,guest); default: all.
        #[arg(long, value_delimiter = ',')]
        profiles: Option<Vec<String>>,
    },
    /// Make an account a collectivité administrator in the admin console: he sets the
    /// chat access of the collectivité and of its structures, and sees none of their users.
    Grant { id: String, login: String },
    /// Revoke a collectivité administrator's role.
    Revoke { id: String, login: String },
}

/// « on, profiles: student,teacher », for an access or the default.
fn describe(a: Option<&Access>) -> String {
    let default = Access::default();
    let a = a.unwrap_or(&default);
    let names: Vec<&str> = a.profiles.iter().map(|p| p.as_str()).collect();
    format!(
        "{}, profiles: {}",
        if a.enabled { "on" } else { "off" },
        if names.is_empty() {
            "(none)".to_string()
        } else {
            names.join(",")
        }
    )
}

pub(crate) async fn run(cmd: CollectiviteCommand, config: &Config) -> Result<()> {
    let store = crate::open_store(config).await?;
    let dir = Directory::new(store.snapshot().await?, store.rules().await?);
    let settings = store.all_collectivite_access().await?;
    store.close().await;
    match cmd {
        CollectiviteCommand::List => {
            for c in dir.collectivites() {
                println!(
                    "{}\t{}\tchat {}\t{} structures\t{}",
                    c.id,
                    c.kind.as_str(),
                    describe(settings.get(&c.id)),
                    c.structures.len(),
                    c.name
                );
            }
        }
        CollectiviteCommand::Show { id } => {
            let Some(c) = dir.collectivite(&id) else {
                bail!("no collectivité `{id}` in the directory");
            };
            let store = crate::open_store(config).await?;
            let own = store.all_access().await?;
            store.close().await;
            println!("{} ({}): {}", c.id, c.kind.as_str(), c.name);
            println!("chat {}", describe(settings.get(&c.id)));
            for s in &c.structures {
                let above = dir
                    .collectivites_of(s)
                    .into_iter()
                    .filter_map(|x| settings.get(&x.id));
                let effective = causerie_ent::collectivite::effective(own.get(s), above);
                let name = dir.structure(s).map_or("", |x| x.name.as_str());
                println!(
                    "  {s}\t{name}\town: {}\teffective: {}",
                    describe(own.get(s)),
                    describe(effective.as_ref())
                );
            }
        }
        CollectiviteCommand::Access {
            id,
            state,
            profiles,
        } => {
            let enabled = match state.as_str() {
                "on" => true,
                "off" => false,
                other => bail!("expected `on` or `off`, not `{other}`"),
            };
            if dir.collectivite(&id).is_none() {
                bail!("no collectivité `{id}` in the directory");
            }
            let profiles = match profiles {
                None => Profile::ALL.to_vec(),
                Some(list) => list
                    .iter()
                    .map(|p| {
                        Profile::parse(p.trim()).with_context(|| {
                            format!("unknown profile `{p}` (expected student, relative, teacher, personnel or guest)")
                        })
                    })
                    .collect::<Result<Vec<_>>>()?,
            };
            crate::change(
                config,
                Change::SetCollectiviteAccess {
                    collectivite: id.clone(),
                    access: Access { enabled, profiles },
                },
                &format!("the access of collectivité {id}"),
            )
            .await?;
            println!("access for collectivité {id} updated");
        }
        CollectiviteCommand::Grant { id, login } => {
            let applied = crate::change(
                config,
                Change::GrantCollectivite {
                    login: login.clone(),
                    collectivite: id.clone(),
                },
                &format!("the administration of collectivité {id}"),
            )
            .await?;
            if applied.changed {
                println!("{login} now administers collectivité {id}");
            } else {
                println!("{login} already administers collectivité {id}");
            }
        }
        CollectiviteCommand::Revoke { id, login } => {
            crate::change(
                config,
                Change::RevokeCollectivite {
                    login: login.clone(),
                    collectivite: id.clone(),
                },
                &format!("the administration of collectivité {id} by {login}"),
            )
            .await?;
            println!("{login} no longer administers collectivité {id}");
        }
    }
    Ok(())
}
