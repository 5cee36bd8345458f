//! XEP-0363 HTTP File Upload, the HTTP half: `PUT` and `GET /upload/{id}/{name}`.
//!
//! The XMPP half (`causerie_server::features::upload`) granted a slot: a row in the store
//! and two URLs. A PUT is accepted only with the slot's signature
//! (`?expires=MS&sig=HMAC`, checked in constant time), before its deadline, with the
//! `Content-Length` and `Content-Type` the slot was asked with, and only once (the store
//! claims the slot before a byte is written). The body is written to a temporary file in
//! the files' directory, never more than the size asked, then renamed to the file's id.
//! Nothing of the path comes from the client but the id, checked to be 32 hex digits.
//!
//! A GET serves a stored file with `X-Content-Type-Options: nosniff`, a
//! `Content-Security-Policy` of `default-src 'none'; sandbox`, and
//! `Content-Disposition: attachment` for anything but plain images
//! (`causerie_ent::upload::served_type`: HTML, SVG and the rest are
//! `application/octet-stream` downloads). Both answer CORS requests from any origin:
//! the URLs are the capability, as other clients (Converse on another origin) need.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use causerie_ent::upload;
use causerie_server::Server;
use causerie_store::{UploadState, UploadStore};
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The signature's query.
#[derive(Deserialize)]
pub struct Signed {
    expires: Option<i64>,
    sig: Option<String>,
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut r = (status, format!("{text}\n")).into_response();
    cors(r.headers_mut());
    r
}

fn cors(h: &mut HeaderMap) {
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// `OPTIONS /upload/…`: the CORS preflight of a PUT from another origin.
pub async fn preflight() -> Response {
    let mut h = HeaderMap::new();
    cors(&mut h);
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD, PUT, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Content-Type"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("3600"),
    );
    (StatusCode::NO_CONTENT, h).into_response()
}

/// `PUT /upload/{id}/{name}?expires=…&sig=…`: fills a slot (see the module docs).
pub async fn put(
    State(server): State<Arc<Server>>,
    Path((id, name)): Path<(String, String)>,
    Query(signed): Query<Signed>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(uploads) = server.uploads() else {
        return plain(StatusCode::NOT_FOUND, "not found");
    };
    let (Some(expires), Some(sig)) = (signed.expires, signed.sig) else {
        return plain(StatusCode::FORBIDDEN, "not a signed upload URL");
    };
    if !causerie_server::services::uploads::Uploads::valid_id(&id) {
        return plain(StatusCode::FORBIDDEN, "invalid signature");
    }
    let slot = match server.store().upload(&id).await {
        Ok(Some(s)) => s,
        Ok(None) => return plain(StatusCode::FORBIDDEN, "invalid signature"),
        Err(e) => {
            tracing::warn!(error = %e, "upload: cannot read a slot");
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
        }
    };
    let size = u64::try_from(slot.size).unwrap_or(0);
    if slot.filename != name
        || slot.expires_ms != expires
        || !uploads.verify(&id, size, &slot.content_type, expires, &sig)
    {
        return plain(StatusCode::FORBIDDEN, "invalid signature");
    }
    if now_ms() > expires {
        return plain(StatusCode::FORBIDDEN, "this upload URL has expired");
    }
    if slot.state != UploadState::Slot {
        return plain(StatusCode::CONFLICT, "this upload URL was used already");
    }
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if length != Some(size) {
        return plain(
            StatusCode::BAD_REQUEST,
            "Content-Length is not the size of the slot",
        );
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(upload::normalize_type);
    if content_type.as_deref() != Some(slot.content_type.as_str()) {
        return plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type is not the type of the slot",
        );
    }
    // Once: whoever claims the slot first writes it.
    match server.store().claim_upload(&id, now_ms()).await {
        Ok(Some(_)) => {}
        Ok(None) => return plain(StatusCode::CONFLICT, "this upload URL was used already"),
        Err(e) => {
            tracing::warn!(error = %e, "upload: cannot claim a slot");
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
        }
    }
    let stored = receive(uploads, &id, size, body).await;
    if let Err(e) = server.store().finish_upload(&id, stored.is_ok()).await {
        tracing::warn!(error = %e, "upload: cannot record a file");
        if let Some(path) = uploads.path(&id) {
            let _ = tokio::fs::remove_file(path).await;
        }
        return plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
    }
    match stored {
        Ok(()) => plain(StatusCode::CREATED, "stored"),
        Err(status) => plain(status, "the body is not the size of the slot"),
    }
}

/// Writes the body to the file of `id`, exactly `size` bytes, or nothing.
async fn receive(
    uploads: &causerie_server::services::uploads::Uploads,
    id: &str,
    size: u64,
    body: Body,
) -> Result<(), StatusCode> {
    let Some(path) = uploads.path(id) else {
        return Err(StatusCode::BAD_REQUEST);
    };
    let parent = path.parent().map(std::path::Path::to_path_buf);
    let temp = uploads.dir().join(format!(".{id}.part"));
    let write = async {
        if let Some(parent) = &parent {
            tokio::fs::create_dir_all(parent).await?;
        }
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .await?;
        let mut stream = body.into_data_stream();
        let mut written: u64 = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(std::io::Error::other)?;
            written += chunk.len() as u64;
            if written > size {
                return Ok(false);
            }
            file.write_all(&chunk).await?;
        }
        if written != size {
            return Ok(false);
        }
        file.sync_all().await?;
        drop(file);
        tokio::fs::rename(&temp, &path).await?;
        Ok::<bool, std::io::Error>(true)
    };
    match write.await {
        Ok(true) => Ok(()),
        Ok(false) => {
            let _ = tokio::fs::remove_file(&temp).await;
            Err(StatusCode::BAD_REQUEST)
        }
        Err(e) => {
            tracing::warn!(error = %e, "upload: cannot write a file");
            let _ = tokio::fs::remove_file(&temp).await;
            Err(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// `GET /upload/{id}/{name}`: a stored file, with safe headers (see the module docs).
pub async fn get(
    State(server): State<Arc<Server>>,
    Path((id, name)): Path<(String, String)>,
) -> Response {
    let Some(uploads) = server.uploads() else {
        return plain(StatusCode::NOT_FOUND, "not found");
    };
    let Some(path) = uploads.path(&id) else {
        return plain(StatusCode::NOT_FOUND, "not found");
    };
    let file = match server.store().upload(&id).await {
        Ok(Some(f)) if f.state == UploadState::Stored && f.filename == name => f,
        Ok(_) => return plain(StatusCode::NOT_FOUND, "not found"),
        Err(e) => {
            tracing::warn!(error = %e, "upload: cannot read a file's row");
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
        }
    };
    let f = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(_) => return plain(StatusCode::NOT_FOUND, "not found"),
    };
    let length = match f.metadata().await {
        Ok(m) => m.len(),
        Err(_) => return plain(StatusCode::NOT_FOUND, "not found"),
    };
    let (content_type, inline) = upload::served_type(&file.content_type);
    let mut h = HeaderMap::new();
    cors(&mut h);
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400"),
    );
    // The name is made safe when the slot is granted (ASCII letters, digits, `.-_`).
    let disposition = format!(
        "{}; filename=\"{}\"",
        if inline { "inline" } else { "attachment" },
        upload::safe_filename(&file.filename)
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    let stream = futures_util::stream::unfold(Some(f), |state| async move {
        let mut f = state?;
        let mut buf = vec![0u8; 64 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(bytes::Bytes::from(buf)), Some(f)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    (StatusCode::OK, h, Body::from_stream(stream)).into_response()
}
