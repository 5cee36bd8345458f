//! XEP-0363 HTTP File Upload, the XMPP half: the service at `upload.DOMAIN` (its
//! disco#info, with the asker's largest file in its data form) and the slot request.
//!
//! What a user may share is his structures' settings (`causerie_ent::upload`): each
//! structure's own (`UploadStore`), else the default (`[upload]`, off for a primary
//! school); a user of several structures gets the strictest; an account outside the
//! directory the default. The server lists the service among its items
//! (`features::disco`) only for users who may share, so clients (and the web client)
//! show no paperclip to the others. A refusal is an XMPP error: `not-allowed` with the
//! reason when sharing is off, `not-acceptable` with `<file-too-large><max-file-size/>`
//! past the largest file, `not-acceptable` for a type not allowed, `resource-constraint`
//! past the account's rate or quota.
//!
//! The slot's URLs (`services::uploads`) are on the HTTP listener (`causerie_web`,
//! `upload.rs`): the PUT URL signed and bound to the size and type asked, single use,
//! valid `[upload] slot_validity_secs`; the GET URL unguessable. The URL travels only in
//! messages, which the gate decides like any other: a pupil who may not write to someone
//! cannot send him a file either.

use crate::stanza::addressed;
use causerie_ent::Text;
use causerie_ent::upload::{self, Refusal, UploadSettings};
use causerie_proto::errors::{Condition, ErrorType, StanzaError};
use causerie_proto::{Element, ns, xml};
use causerie_store::{NewUpload, SlotOutcome, UploadStore};

use crate::server::Server;
use crate::services::uploads::Uploads;
use crate::session::Session;
use crate::stanza::{IqResult, internal};

/// The protocol's namespace.
pub const NS_UPLOAD: &str = "urn:xmpp:http:upload:0";

/// Longest file name a client may give, in bytes (it is made safe and shortened after).
const MAX_FILENAME_BYTES: usize = 1024;

/// What structure `id` (named `name`) allows, and whether it is its own setting (else
/// the default: `[upload]`, off for a primary school).
pub async fn structure_settings(
    store: &causerie_store::Store,
    configured: &UploadSettings,
    id: &str,
    name: &str,
) -> Result<(UploadSettings, bool), causerie_store::StoreError> {
    Ok(match store.upload_settings(id).await? {
        Some(s) => (s, true),
        None => (upload::default_for(name, configured), false),
    })
}

/// What `user` may share now.
pub async fn settings_for(server: &Server, user: &str) -> Result<UploadSettings, StanzaError> {
    let configured = server.config.upload.default_settings();
    let dir = server.directory().await;
    let Some(u) = dir.user(user) else {
        return Ok(configured);
    };
    let mut all = Vec::new();
    for id in &u.structures {
        let own = server.store.upload_settings(id).await.map_err(internal)?;
        all.push(match own {
            Some(s) => s,
            None => {
                let name = dir.structure(id).map(|s| s.name.as_str()).unwrap_or("");
                upload::default_for(name, &configured)
            }
        });
    }
    Ok(upload::combine(all.iter()).unwrap_or(configured))
}

/// Whether the server offers the service to `user` (listed among its items).
pub async fn offered_to(server: &Server, user: &str) -> bool {
    server.uploads.is_some() && settings_for(server, user).await.is_ok_and(|s| s.enabled)
}

/// The service's disco#info: `store/file`, the protocol, and the asker's largest file.
pub async fn info(server: &Server, session: &Session, payload: &Element, set: bool) -> IqResult {
    if set {
        return Err(StanzaError::new(Condition::BadRequest));
    }
    if payload.attr("node").is_some() {
        return Err(StanzaError::new(Condition::ItemNotFound));
    }
    let settings = settings_for(server, &session.user).await?;
    let mut q = Element::bare("query", ns::DISCO_INFO);
    q.append_child(xml::elem(
        "identity",
        ns::DISCO_INFO,
        &[
            ("category", "store"),
            ("type", "file"),
            ("name", "Partage de fichiers"),
        ],
    ));
    for f in [ns::DISCO_INFO, NS_UPLOAD] {
        q.append_child(xml::elem("feature", ns::DISCO_INFO, &[("var", f)]));
    }
    let mut form = xml::elem("x", ns::DATA, &[("type", "result")]);
    for (var, value, hidden) in [
        ("FORM_TYPE", NS_UPLOAD.to_string(), true),
        ("max-file-size", settings.max_bytes.to_string(), false),
    ] {
        let mut field = xml::elem("field", ns::DATA, &[("var", var)]);
        if hidden {
            xml::set_attr(&mut field, "type", "hidden");
        }
        field.append_child(xml::text_elem("value", ns::DATA, value));
        form.append_child(field);
    }
    q.append_child(form);
    Ok(Some(q))
}

fn refusal(r: &Refusal) -> StanzaError {
    let text = r.text();
    match r {
        Refusal::Disabled => addressed(Condition::NotAllowed, text),
        Refusal::TooLarge { max } => {
            let mut app = Element::bare("file-too-large", NS_UPLOAD);
            app.append_child(xml::text_elem("max-file-size", NS_UPLOAD, max.to_string()));
            let mut e = addressed(Condition::NotAcceptable, text).with_type(ErrorType::Modify);
            e.app = Some(Box::new(app));
            e
        }
        Refusal::Empty => addressed(Condition::BadRequest, text),
        Refusal::TypeNotAllowed => {
            addressed(Condition::NotAcceptable, text).with_type(ErrorType::Modify)
        }
    }
}

/// A slot request (`<request filename size content-type/>`, type `get`).
pub async fn request(server: &Server, session: &Session, payload: &Element, set: bool) -> IqResult {
    let Some(uploads) = server.uploads.as_ref() else {
        return Err(StanzaError::new(Condition::ServiceUnavailable));
    };
    if set {
        return Err(StanzaError::new(Condition::BadRequest).with_text("en", "use type='get'"));
    }
    let filename = payload
        .attr("filename")
        .filter(|f| !f.is_empty() && f.len() <= MAX_FILENAME_BYTES)
        .ok_or_else(|| {
            StanzaError::new(Condition::BadRequest).with_text("en", "a file name is required")
        })?;
    let size: u64 = payload
        .attr("size")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            StanzaError::new(Condition::BadRequest).with_text("en", "a size in bytes is required")
        })?;
    let content_type = match payload.attr("content-type") {
        Some(t) => upload::normalize_type(t).ok_or_else(|| {
            StanzaError::new(Condition::BadRequest).with_text("en", "invalid content-type")
        })?,
        None => upload::type_from_filename(filename)
            .unwrap_or("application/octet-stream")
            .to_string(),
    };
    let settings = settings_for(server, &session.user).await?;
    upload::check(&settings, size, &content_type).map_err(|r| refusal(&r))?;
    let config = &server.config.upload;
    let id = Uploads::new_id();
    let name = upload::safe_filename(filename);
    let now = chrono::Utc::now().timestamp_millis();
    let expires = now + i64::try_from(config.slot_validity_secs).unwrap_or(300) * 1000;
    let outcome = server
        .store
        .create_upload_slot(
            &NewUpload {
                id: id.clone(),
                owner: session.user.clone(),
                filename: name.clone(),
                size: i64::try_from(size).unwrap_or(i64::MAX),
                content_type: content_type.clone(),
                created_ms: now,
                expires_ms: expires,
            },
            i64::from(config.slots_per_hour),
            i64::try_from(config.quota_bytes_per_account).unwrap_or(i64::MAX),
        )
        .await
        .map_err(internal)?;
    match outcome {
        SlotOutcome::Created => {}
        SlotOutcome::RateLimited => {
            return Err(addressed(
                Condition::ResourceConstraint,
                Text::new(
                    "Trop de fichiers envoyés en une heure : réessaie plus tard.",
                    "Trop de fichiers envoyés en une heure : réessayez plus tard.",
                    "Too many files sent in an hour: try again later.",
                ),
            )
            .with_type(ErrorType::Wait));
        }
        SlotOutcome::OverQuota => {
            return Err(addressed(
                Condition::ResourceConstraint,
                Text::new(
                    "Ton espace pour les fichiers est plein.",
                    "Votre espace pour les fichiers est plein.",
                    "Your space for files is full.",
                ),
            )
            .with_type(ErrorType::Wait));
        }
    }
    tracing::debug!(user = %session.user, size, content_type = %content_type, "upload slot granted");
    let mut slot = Element::bare("slot", NS_UPLOAD);
    slot.append_child(xml::elem(
        "put",
        NS_UPLOAD,
        &[(
            "url",
            &uploads.put_url(&id, &name, size, &content_type, expires),
        )],
    ));
    slot.append_child(xml::elem(
        "get",
        NS_UPLOAD,
        &[("url", &uploads.get_url(&id, &name))],
    ));
    Ok(Some(slot))
}
