//! One way to change the school: a typed [`Change`] (a directory import, one user, class,
//! group, structure or collectivité, a structure's rules, chat access (a structure's or a
//! collectivité's), a collectivité administrator's grant, archive retention or file
//! sharing or safety staff or pupils' photos, quiet hours, the kill switch, an account
//! lock, an administrator's grant, a console group edit, the staff's moderation of a
//! report, a structure's choice for app passwords, an app password added or revoked) and
//! one [`apply`] that every door calls — the `causerie` command line, the ENT's directory
//! sync API, the admin API, and for his own app passwords the user himself (web client).
//!
//! `apply` checks that the door may make the change ([`Actor`]), validates it with the
//! same code whatever the door (a user put through the sync API is checked by the
//! import's own per-user checks, `causerie_ent::check_user`, against the directory in
//! force), then writes the change, its audit row and the directory generation in one
//! transaction (`causerie_store`). Nothing is half done: a refused change writes neither
//! itself nor an audit row.
//!
//! Enforcement does not hang on the door but on the generation: every running server
//! loads the new generation (this process at once, `Server::apply`; another process
//! within a second, or at once after the command's signal) and applies it to what is open
//! (`enforce`: sessions the new state refuses are closed with the reason, presences and
//! room memberships it no longer allows end). What the generation does not carry is done
//! here: the console sessions of an account that is locked or leaves the directory end.

use std::collections::HashMap;

use causerie_ent::app_passwords::{self, Policy as AppPasswordPolicy};
use causerie_ent::{
    Access, Class, Collectivite, Directory, Group, ImportError, Profile, QuietHours, Retention,
    Rule, Shutdown, Snapshot, Structure, UploadSettings, User, check_class, check_collectivite,
    check_group, check_structure, check_user, validate, validate_rules,
};
use causerie_store::{
    AccountArchiveStore, AccountStore, AdminStore, AppPassword, AppPasswordStore,
    CollectiviteStore, Credentials, DirectoryStore, GroupChange, ImportReport, NewAudit,
    PrivacyStore, ReportStore, SafetyStore, Store, StoreError, UploadStore,
};
use serde_json::{Value, json};

/// The most rules one structure may have.
pub const MAX_RULES: usize = 200;

/// Who makes a change: which door it comes through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The `causerie` command line, run by an operator on the server's machine.
    Cli,
    /// The ENT's directory sync API (its bearer token).
    SyncApi,
    /// An administrator of the console, by login (the admin API checked his role for the
    /// change before asking).
    Admin(String),
    /// A user himself, by login (the web client): only his own app passwords.
    User(String),
}

impl Actor {
    /// The actor's name in the audit log.
    pub fn name(&self) -> &str {
        match self {
            Actor::Cli => "cli",
            Actor::SyncApi => "api",
            Actor::Admin(login) | Actor::User(login) => login,
        }
    }
}

/// A change of the school (see the module docs).
#[derive(Debug, Clone)]
pub enum Change {
    /// A full directory snapshot: what it lacks is deactivated (users) or removed.
    /// `credentials` by login, for the users whose entry had a password.
    Import {
        snapshot: Snapshot,
        credentials: HashMap<String, Credentials>,
    },
    /// One user, created or replaced (and active); his credentials when a password came.
    PutUser {
        user: Box<User>,
        credentials: Option<Box<Credentials>>,
    },
    /// One user leaves the directory (deactivated: his archives stay).
    DeleteUser(String),
    PutStructure(Structure),
    PutClass(Class),
    DeleteClass(String),
    PutGroup(Group),
    DeleteGroup(String),
    /// A structure's rules (None: back to the defaults).
    SetRules {
        structure: String,
        rules: Option<Vec<Rule>>,
    },
    /// A structure's chat access.
    SetAccess {
        structure: String,
        access: Access,
    },
    /// One collectivité (région, département, commune) and the structures it covers,
    /// created or replaced.
    PutCollectivite(Collectivite),
    /// One collectivité leaves the directory (its access setting and administrators'
    /// grants stay, for when it comes back).
    DeleteCollectivite(String),
    /// A collectivité's chat access: it narrows the access of every structure it covers
    /// (`causerie_ent::collectivite::effective`).
    SetCollectiviteAccess {
        collectivite: String,
        access: Access,
    },
    /// `login` administers collectivité `collectivite` (its access and its structures'
    /// access, nothing of their users). Not a directory change.
    GrantCollectivite {
        login: String,
        collectivite: String,
    },
    /// `login` no longer administers collectivité `collectivite`.
    RevokeCollectivite {
        login: String,
        collectivite: String,
    },
    /// How long a structure keeps its users' one-to-one archives (None: back to the
    /// configured default, `[archive] retention`). Not a directory change: the generation
    /// does not move (no stanza decision depends on it; the purge reads it each time).
    SetRetention {
        structure: String,
        retention: Option<Retention>,
    },
    /// A structure's file sharing (XEP-0363; None: back to the default, `[upload]`, off
    /// for a primary school). Not a directory change: each slot request reads it.
    SetUpload {
        structure: String,
        settings: Option<UploadSettings>,
    },
    /// A structure's designated safety staff, who read its reports (None: back to the
    /// default, its local administrators). Each login must be an adult of the structure
    /// (teacher or personnel). Not a directory change.
    SetSafetyStaff {
        structure: String,
        logins: Option<Vec<String>>,
    },
    /// A structure's quiet hours (None: back to the default, `[quiet_hours]`). Moves the
    /// generation: every node holds messages with the new windows at once.
    SetQuietHours {
        structure: String,
        quiet: Option<QuietHours>,
    },
    /// A structure's kill switch (docs/safety.md « Coupure »). Moves the generation:
    /// every node refuses (or, `off`, closes the sessions) within a second.
    SetShutdown {
        structure: String,
        shutdown: Shutdown,
    },
    /// Whether a structure's pupils may have profile photos (vCard PHOTO, XEP-0084
    /// avatars; None: back to the default, off). Not a directory change: each
    /// publication reads it.
    SetPupilPhotos {
        structure: String,
        allowed: Option<bool>,
    },
    /// Who may have app passwords in a structure (None: back to the default, adults yes,
    /// pupils no). Not a directory change: each login and creation reads it.
    SetAppPasswords {
        structure: String,
        policy: Option<AppPasswordPolicy>,
    },
    /// An app password for account `login` (`keys`: its secret's SCRAM keys, made by
    /// `crate::app_passwords::new_secret`). Refused when one of his structures does not
    /// allow it or he has as many as allowed.
    AddAppPassword {
        login: String,
        label: String,
        keys: Box<Credentials>,
    },
    /// Account `login`'s app password `id` revoked (a running server ends the sessions
    /// logged in with it).
    RevokeAppPassword {
        login: String,
        id: i64,
    },
    /// An account locked or unlocked by an administrator; `structure` is the one the
    /// administrator acted for (audit).
    Lock {
        login: String,
        locked: bool,
        structure: Option<String>,
    },
    /// `login` administers `structures` (local administrator).
    Grant {
        login: String,
        structures: Vec<String>,
    },
    /// `login` no longer administers `structure`.
    Revoke {
        login: String,
        structure: String,
    },
    /// `login` is, or is no longer, a super-administrator.
    SetSuper {
        login: String,
        on: bool,
    },
    /// A console edit of an ENT group.
    EditGroup(GroupChange),
    /// What a structure's safety staff (or its administrators) do about a report, in
    /// `structure` (the audit rows' structure); `report` the report acted on. Only a
    /// running server does these (they reach sessions and rooms): `Server::apply`; here
    /// it is refused (the command line).
    Moderate {
        structure: String,
        report: Option<i64>,
        action: Moderation,
    },
}

/// One of the staff's actions on a report (docs/safety.md « Signalements »), done by the
/// running server (`moderation.rs`), each with its audit row. Serialisable: with several
/// nodes, one on a room goes to the node holding the room.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Moderation {
    /// Deletes messages of room `room` for everyone (XEP-0425: tombstones in the archive,
    /// the retraction to its occupants).
    RoomMessages {
        room: String,
        stanza_ids: Vec<String>,
    },
    /// Deletes one-to-one messages between account `user` and `with` (a bare JID) from
    /// both accounts' archives (tombstones) and offline stores, and tells both parties'
    /// clients (a retraction).
    DirectMessages {
        user: String,
        with: String,
        stanza_ids: Vec<String>,
    },
    /// `blocked` (a bare JID) can no longer reach account `user`: put in `user`'s
    /// blocklist (XEP-0191), as if he had blocked him himself.
    BlockPair { user: String, blocked: String },
    /// Account `user` is removed from room `room` (his membership ends, with the notice).
    RemoveFromRoom { room: String, user: String },
    /// Room `room` is closed: its occupants leave with the notice, it is destroyed, its
    /// archive stays for its retention.
    CloseRoom { room: String },
}

impl Change {
    /// Whether it moves the directory generation (then running servers load the new view
    /// and enforce it).
    pub fn moves_generation(&self) -> bool {
        !matches!(
            self,
            Change::SetRetention { .. }
                | Change::SetUpload { .. }
                | Change::SetSafetyStaff { .. }
                | Change::SetPupilPhotos { .. }
                | Change::SetAppPasswords { .. }
                | Change::AddAppPassword { .. }
                | Change::RevokeAppPassword { .. }
                | Change::Moderate { .. }
                | Change::GrantCollectivite { .. }
                | Change::RevokeCollectivite { .. }
        )
    }

    /// Whether it concerns the directory as the ENT feeds it (what the sync API may do).
    fn is_directory_entry(&self) -> bool {
        matches!(
            self,
            Change::PutUser { .. }
                | Change::DeleteUser(_)
                | Change::PutStructure(_)
                | Change::PutClass(_)
                | Change::DeleteClass(_)
                | Change::PutGroup(_)
                | Change::DeleteGroup(_)
                | Change::PutCollectivite(_)
                | Change::DeleteCollectivite(_)
        )
    }
}

/// What a change did.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// How many things a moderation changed (messages deleted, people removed…).
    pub moderated: usize,
    /// It changed something (an unlock of an unlocked account does not).
    pub changed: bool,
    /// What an import did.
    pub import: Option<ImportReport>,
    /// The structure's (or the collectivité's) access before (an access change).
    pub access_before: Option<Access>,
    /// The group before and after (a group edit).
    pub group: Option<(Option<Group>, Option<Group>)>,
    /// Grants that are new (a grant).
    pub granted: usize,
    /// The structure's own retention before (a retention change; None: the default).
    pub retention_before: Option<Retention>,
    /// The structure's own file sharing before (None: the default).
    pub upload_before: Option<UploadSettings>,
    /// The structure's designated safety staff before (None: the default).
    pub safety_before: Option<Vec<String>>,
    /// The structure's own quiet hours before (None: the default).
    pub quiet_before: Option<QuietHours>,
    /// The structure's kill switch before.
    pub shutdown_before: Option<Shutdown>,
    /// The structure's own choice for its pupils' photos before (None: the default).
    pub pupil_photos_before: Option<bool>,
    /// The structure's own choice for app passwords before (None: the default).
    pub app_passwords_before: Option<AppPasswordPolicy>,
    /// The app password added or revoked.
    pub app_password: Option<AppPassword>,
}

/// Why a change was refused; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// The change is not acceptable: which entry and field, and why (the import's words).
    #[error("{0}")]
    Invalid(ImportError),
    /// What it names does not exist.
    #[error("not found")]
    NotFound,
    /// This door may not make this change.
    #[error("{0} may not make this change")]
    NotAllowed(&'static str),
    /// It already exists (a group created twice).
    #[error("already exists")]
    AlreadyExists,
    /// The change cannot be made as it stands (a moderation: the room is gone, the
    /// message is not there…): why, in French and in English.
    #[error("{en}")]
    Refused { fr: String, en: String },
    /// The store refused or failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ChangeError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ChangeError::NotFound,
            StoreError::AlreadyExists => ChangeError::AlreadyExists,
            other => ChangeError::Store(other),
        }
    }
}

fn invalid(entry: &str, field: Option<&str>, reason: impl Into<String>) -> ChangeError {
    ChangeError::Invalid(ImportError {
        entry: entry.into(),
        field: field.map(Into::into),
        reason: reason.into(),
    })
}

/// A refusal in the reader's register (the « vous » form to an administrator is the
/// door's business: it shows `en` or the form it wants).
fn refused(text: &causerie_ent::register::Text, register: causerie_ent::Register) -> ChangeError {
    ChangeError::Refused {
        fr: text.fr(register).to_string(),
        en: text.en().to_string(),
    }
}

/// An access setting in the canonical order of profiles, without repeats, whatever the
/// order given.
fn canonical(access: Access) -> Access {
    Access {
        enabled: access.enabled,
        profiles: Profile::ALL
            .into_iter()
            .filter(|p| access.profiles.contains(p))
            .collect(),
    }
}

/// A user as the audit log shows him: no password.
fn user_json(u: &User) -> Value {
    let mut v = serde_json::to_value(u).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.remove("password");
    }
    v
}

/// Applies `change` made by `actor`, checked against the directory in force `dir` (see
/// the module docs). The caller tells running servers (`Server::apply` does it for this
/// process; the command line writes the signal file).
pub async fn apply(
    store: &Store,
    dir: &Directory,
    actor: &Actor,
    change: Change,
) -> Result<Applied, ChangeError> {
    if *actor == Actor::SyncApi && !change.is_directory_entry() {
        return Err(ChangeError::NotAllowed("the directory sync API"));
    }
    if let Actor::User(me) = actor {
        let own = match &change {
            Change::AddAppPassword { login, .. } | Change::RevokeAppPassword { login, .. } => {
                login == me
            }
            _ => false,
        };
        if !own {
            return Err(ChangeError::NotAllowed("a user"));
        }
    }
    let audit = |action: &str, structure: Option<&str>, target: Option<&str>| NewAudit {
        actor: actor.name().to_string(),
        action: action.to_string(),
        structure: structure.map(Into::into),
        target: target.map(Into::into),
        before: None,
        after: None,
    };
    let done = Applied {
        changed: true,
        ..Applied::default()
    };
    match change {
        Change::Import {
            snapshot,
            credentials,
        } => {
            validate(&snapshot).map_err(ChangeError::Invalid)?;
            // A set of the snapshot's logins: with a list, a full import of 100,000 users
            // compared every pair (minutes).
            let kept: std::collections::HashSet<&str> =
                snapshot.users.iter().map(|s| s.login.as_str()).collect();
            let leaving: Vec<String> = dir
                .users()
                .iter()
                .filter(|u| !kept.contains(u.login.as_str()))
                .map(|u| u.login.clone())
                .collect();
            let report = store
                .import_snapshot(
                    &snapshot,
                    &credentials,
                    Some(&audit("directory.import", None, None)),
                )
                .await?;
            for login in leaving {
                store.delete_admin_sessions_of(&login).await?;
            }
            Ok(Applied {
                import: Some(report),
                ..done
            })
        }
        Change::PutUser { user, credentials } => {
            check_user(&user, dir).map_err(ChangeError::Invalid)?;
            let mut row = audit(
                "directory.user",
                user.structures.first().map(String::as_str),
                Some(&user.login),
            );
            row.before = dir.user(&user.login).map(user_json);
            row.after = Some(user_json(&user));
            store
                .put_user(&user, credentials.as_deref(), Some(&row))
                .await?;
            Ok(done)
        }
        Change::DeleteUser(login) => {
            let mut row = audit(
                "directory.user_deactivated",
                dir.user(&login)
                    .and_then(|u| u.structures.first())
                    .map(String::as_str),
                Some(&login),
            );
            row.before = dir.user(&login).map(user_json);
            store.deactivate_user(&login, Some(&row)).await?;
            store.delete_admin_sessions_of(&login).await?;
            Ok(done)
        }
        Change::PutStructure(s) => {
            check_structure(&s).map_err(ChangeError::Invalid)?;
            let mut row = audit("directory.structure", Some(&s.id), Some(&s.id));
            row.before = dir.structure(&s.id).map(|x| json!({"name": x.name}));
            row.after = Some(json!({"name": s.name}));
            store.put_structure(&s, Some(&row)).await?;
            Ok(done)
        }
        Change::PutClass(c) => {
            check_class(&c, dir).map_err(ChangeError::Invalid)?;
            let mut row = audit("directory.class", Some(&c.structure), Some(&c.id));
            row.before = dir
                .class(&c.id)
                .map(|x| json!({"structure": x.structure, "name": x.name}));
            row.after = Some(json!({"structure": c.structure, "name": c.name}));
            store.put_class(&c, Some(&row)).await?;
            Ok(done)
        }
        Change::DeleteClass(id) => {
            let structure = dir.class(&id).map(|c| c.structure.clone());
            let mut row = audit("directory.class_deleted", structure.as_deref(), Some(&id));
            row.before = dir
                .class(&id)
                .map(|x| json!({"structure": x.structure, "name": x.name}));
            store.delete_class(&id, Some(&row)).await?;
            Ok(done)
        }
        Change::PutGroup(g) => {
            check_group(&g, dir).map_err(ChangeError::Invalid)?;
            let mut row = audit("directory.group", g.structure.as_deref(), Some(&g.id));
            row.before = dir.group(&g.id).and_then(|x| serde_json::to_value(x).ok());
            row.after = serde_json::to_value(&g).ok();
            store.put_group(&g, Some(&row)).await?;
            Ok(done)
        }
        Change::DeleteGroup(id) => {
            let structure = dir.group(&id).and_then(|g| g.structure.clone());
            let mut row = audit("directory.group_deleted", structure.as_deref(), Some(&id));
            row.before = dir.group(&id).and_then(|x| serde_json::to_value(x).ok());
            store.delete_group(&id, Some(&row)).await?;
            Ok(done)
        }
        Change::SetRules { structure, rules } => {
            if let Some(r) = &rules {
                if r.len() > MAX_RULES {
                    return Err(invalid("rules", None, format!("at most {MAX_RULES} rules")));
                }
                validate_rules(r).map_err(|e| invalid(&e.entry, e.field.as_deref(), e.reason))?;
            }
            store
                .set_rules_audited(&structure, rules.as_deref(), actor.name())
                .await?;
            Ok(done)
        }
        Change::PutCollectivite(c) => {
            check_collectivite(&c, dir).map_err(ChangeError::Invalid)?;
            let mut row = audit("directory.collectivite", None, Some(&c.id));
            row.before = dir
                .collectivite(&c.id)
                .and_then(|x| serde_json::to_value(x).ok());
            row.after = serde_json::to_value(&c).ok();
            store.put_collectivite(&c, Some(&row)).await?;
            Ok(done)
        }
        Change::DeleteCollectivite(id) => {
            let mut row = audit("directory.collectivite_deleted", None, Some(&id));
            row.before = dir
                .collectivite(&id)
                .and_then(|x| serde_json::to_value(x).ok());
            store.delete_collectivite(&id, Some(&row)).await?;
            Ok(done)
        }
        Change::SetCollectiviteAccess {
            collectivite,
            access,
        } => {
            let access = canonical(access);
            let before = store
                .set_collectivite_access_audited(&collectivite, &access, actor.name())
                .await?;
            Ok(Applied {
                changed: before != access,
                access_before: Some(before),
                ..done
            })
        }
        Change::GrantCollectivite {
            login,
            collectivite,
        } => {
            if dir.collectivite(&collectivite).is_none() {
                return Err(invalid(
                    "admins",
                    Some("collectivite"),
                    format!("unknown collectivite \"{collectivite}\""),
                ));
            }
            let changed = store
                .grant_collectivite_audited(&login, &collectivite, actor.name())
                .await?;
            Ok(Applied {
                changed,
                granted: usize::from(changed),
                ..done
            })
        }
        Change::RevokeCollectivite {
            login,
            collectivite,
        } => {
            if !store
                .revoke_collectivite_audited(&login, &collectivite, actor.name())
                .await?
            {
                return Err(ChangeError::NotFound);
            }
            Ok(done)
        }
        Change::SetAccess { structure, access } => {
            let access = canonical(access);
            let before = store
                .set_access_audited(&structure, &access, actor.name())
                .await?;
            Ok(Applied {
                changed: before != access,
                access_before: Some(before),
                ..done
            })
        }
        Change::SetRetention {
            structure,
            retention,
        } => {
            let before = store
                .set_retention_audited(&structure, retention, actor.name())
                .await?;
            Ok(Applied {
                changed: before != retention,
                retention_before: before,
                ..done
            })
        }
        Change::SetUpload {
            structure,
            settings,
        } => {
            let settings = settings
                .map(UploadSettings::validated)
                .transpose()
                .map_err(|e| invalid(&structure, Some("upload"), e))?;
            let before = store
                .set_upload_settings_audited(&structure, settings.as_ref(), actor.name())
                .await?;
            Ok(Applied {
                changed: before != settings,
                upload_before: before,
                ..done
            })
        }
        Change::SetSafetyStaff { structure, logins } => {
            if dir.structure(&structure).is_none() {
                return Err(ChangeError::NotFound);
            }
            let logins = logins.map(|mut l| {
                l.sort();
                l.dedup();
                l
            });
            for login in logins.iter().flatten() {
                let fits = dir.user(login).is_some_and(|u| {
                    u.structures.contains(&structure)
                        && matches!(u.profile, Profile::Teacher | Profile::Personnel)
                });
                if !fits {
                    return Err(invalid(
                        &structure,
                        Some("safety_staff"),
                        format!(
                            "{login} is not a teacher or a member of staff of structure {structure}"
                        ),
                    ));
                }
            }
            if logins.as_ref().is_some_and(|l| l.len() > 50) {
                return Err(invalid(
                    &structure,
                    Some("safety_staff"),
                    "at most 50 safety staff",
                ));
            }
            let before = store
                .set_safety_staff_audited(&structure, logins.as_deref(), actor.name())
                .await?;
            Ok(Applied {
                changed: before != logins,
                safety_before: before,
                ..done
            })
        }
        Change::SetQuietHours { structure, quiet } => {
            let quiet = quiet
                .map(QuietHours::validated)
                .transpose()
                .map_err(|e| invalid(&structure, Some("quiet_hours"), e))?;
            let before = store
                .set_quiet_hours_audited(&structure, quiet.as_ref(), actor.name())
                .await?;
            Ok(Applied {
                changed: before != quiet,
                quiet_before: before,
                ..done
            })
        }
        Change::SetShutdown {
            structure,
            shutdown,
        } => {
            let shutdown = shutdown
                .validated()
                .map_err(|e| invalid(&structure, Some("shutdown"), e))?;
            let before = store
                .set_shutdown_audited(&structure, &shutdown, actor.name())
                .await?;
            Ok(Applied {
                changed: before != shutdown,
                shutdown_before: Some(before),
                ..done
            })
        }
        Change::SetPupilPhotos { structure, allowed } => {
            let before = store
                .set_pupil_photos_audited(&structure, allowed, actor.name())
                .await?;
            Ok(Applied {
                changed: before != allowed,
                pupil_photos_before: before,
                ..done
            })
        }
        Change::SetAppPasswords { structure, policy } => {
            let before = store
                .set_app_password_policy_audited(&structure, policy, actor.name())
                .await?;
            Ok(Applied {
                changed: before != policy,
                app_passwords_before: before,
                ..done
            })
        }
        Change::AddAppPassword { login, label, keys } => {
            let label = label.trim();
            if label.is_empty() || label.chars().count() > app_passwords::MAX_LABEL {
                return Err(invalid(
                    &login,
                    Some("label"),
                    format!(
                        "a label of 1 to {} characters is needed",
                        app_passwords::MAX_LABEL
                    ),
                ));
            }
            if !store.account_exists(&login).await? {
                return Err(ChangeError::NotFound);
            }
            // The user himself reads the refusal in his register; another door, about him.
            let himself = matches!(actor, Actor::User(_));
            let register = causerie_ent::Register::of(dir.user(&login).map(|u| u.profile));
            if !crate::app_passwords::allowed(store, dir, &login).await? {
                return Err(if himself {
                    refused(&app_passwords::REFUSED, register)
                } else {
                    ChangeError::Refused {
                        fr: "Les mots de passe d'application ne sont pas autorisés pour ce compte \
                             dans son établissement."
                            .into(),
                        en: "App passwords are not allowed for this account at its school.".into(),
                    }
                });
            }
            let created_by = match actor {
                Actor::User(_) => None,
                other => Some(other.name()),
            };
            match store
                .app_password_add(&login, label, &keys, created_by)
                .await
            {
                Ok(added) => Ok(Applied {
                    app_password: Some(added),
                    ..done
                }),
                Err(StoreError::Invalid(_)) if himself => {
                    Err(refused(&app_passwords::TOO_MANY, register))
                }
                Err(StoreError::Invalid(_)) => Err(ChangeError::Refused {
                    fr: format!(
                        "Ce compte a déjà {} mots de passe d'application.",
                        app_passwords::PER_ACCOUNT
                    ),
                    en: format!(
                        "This account already has {} app passwords.",
                        app_passwords::PER_ACCOUNT
                    ),
                }),
                Err(e) => Err(e.into()),
            }
        }
        Change::RevokeAppPassword { login, id } => {
            let gone = store.app_password_revoke(&login, id, actor.name()).await?;
            Ok(Applied {
                app_password: Some(gone),
                ..done
            })
        }
        Change::Lock {
            login,
            locked,
            structure,
        } => {
            let changed = store
                .set_locked_audited(&login, locked, actor.name(), structure.as_deref())
                .await?;
            if locked {
                // His console too: the generation only reaches the XMPP sessions.
                store.delete_admin_sessions_of(&login).await?;
            }
            Ok(Applied { changed, ..done })
        }
        Change::Grant { login, structures } => {
            if structures.is_empty() {
                return Err(invalid("admins", Some("structures"), "no structure"));
            }
            for (i, s) in structures.iter().enumerate() {
                if dir.structure(s).is_none() {
                    return Err(invalid(
                        "admins",
                        Some(&format!("structures[{i}]")),
                        format!("unknown structure \"{s}\""),
                    ));
                }
            }
            let granted = store
                .grant_many_audited(&login, &structures, actor.name())
                .await?;
            Ok(Applied {
                changed: granted > 0,
                granted,
                ..done
            })
        }
        Change::Revoke { login, structure } => {
            let changed = store
                .revoke_audited(&login, &structure, actor.name())
                .await?;
            if !changed {
                return Err(ChangeError::NotFound);
            }
            Ok(done)
        }
        Change::SetSuper { login, on } => {
            let changed = store
                .set_super_admin_audited(&login, on, actor.name())
                .await?;
            Ok(Applied { changed, ..done })
        }
        Change::EditGroup(edit) => {
            match &edit {
                GroupChange::Create(g) => {
                    check_group(g, dir).map_err(ChangeError::Invalid)?;
                }
                GroupChange::Rename { id, name } => {
                    let probe = Group {
                        id: id.clone(),
                        name: name.clone(),
                        structure: None,
                        members: Vec::new(),
                    };
                    check_group(&probe, dir).map_err(ChangeError::Invalid)?;
                }
                _ => {}
            }
            let (before, after) = store.change_group_audited(&edit, actor.name()).await?;
            Ok(Applied {
                group: Some((before, after)),
                ..done
            })
        }
        Change::Moderate { .. } => Err(ChangeError::NotAllowed(
            "a door without the running server (moderation reaches sessions and rooms)",
        )),
    }
}
