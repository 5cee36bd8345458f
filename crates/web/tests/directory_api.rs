//! The directory sync API over a real server (SQLite in a temp dir): every
//! route refuses anonymous and wrong-token calls, and accepted calls change
//! what the directory says.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use causerie_server::{Config, Server};
use causerie_store::DirectoryStore;
use http_body_util::BodyExt;
use tower::ServiceExt;

const TOKEN: &str = "s3cret-token-for-tests";

async fn start(dir: &tempfile::TempDir) -> causerie_server::Running {
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    // Tests run at any hour: no default quiet hours holding the pupils' messages.
    config.quiet_hours.default = false;
    config.listen.c2s = Some("127.0.0.1:0".parse().unwrap());
    config.listen.c2s_tls = Some("127.0.0.1:0".parse().unwrap());
    config.directory.api_token = Some(TOKEN.into());
    Server::start(config).await.unwrap()
}

async fn call(
    server: &Arc<Server>,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: &str,
) -> (StatusCode, String) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = causerie_web::router(server.clone())
        .oneshot(req.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

const STRUCTURE: &str = r#"{"id":"0750001A","name":"Collège Jean Moulin"}"#;
const CLASS: &str = r#"{"id":"0750001A-6A","structure":"0750001A","name":"6e A"}"#;
const USER: &str = r#"{"login":"lea.martin","last_name":"Martin","first_name":"Léa","profile":"student","structures":["0750001A"],"classes":["0750001A-6A"],"password":"demo"}"#;

const COLLECTIVITE: &str = r#"{"id":"dep-75","name":"Département de Paris","kind":"departement","structures":["0750001A"]}"#;

#[tokio::test]
async fn every_route_needs_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(&dir).await;
    let s = &running.server;
    let routes = [
        ("PUT", "/api/v1/directory/structures/0750001A", STRUCTURE),
        ("PUT", "/api/v1/directory/classes/0750001A-6A", CLASS),
        ("DELETE", "/api/v1/directory/classes/0750001A-6A", ""),
        ("PUT", "/api/v1/directory/users/lea.martin", USER),
        ("DELETE", "/api/v1/directory/users/lea.martin", ""),
        (
            "PUT",
            "/api/v1/directory/groups/chorale",
            r#"{"id":"chorale","name":"Chorale","members":[]}"#,
        ),
        ("DELETE", "/api/v1/directory/groups/chorale", ""),
        (
            "PUT",
            "/api/v1/directory/collectivites/dep-75",
            COLLECTIVITE,
        ),
        ("DELETE", "/api/v1/directory/collectivites/dep-75", ""),
    ];
    for (method, uri, body) in routes {
        assert_eq!(
            call(s, method, uri, None, body).await.0,
            StatusCode::UNAUTHORIZED,
            "{method} {uri}"
        );
        assert_eq!(
            call(s, method, uri, Some("wrong-token-wrong-token"), body)
                .await
                .0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert!(
        s.store().snapshot().await.unwrap().structures.is_empty(),
        "nothing applied"
    );
    running.shutdown(std::time::Duration::from_secs(2)).await;
}

#[tokio::test]
async fn incremental_changes_apply_and_bad_input_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(&dir).await;
    let s = &running.server;
    let t = Some(TOKEN);
    assert_eq!(
        call(
            s,
            "PUT",
            "/api/v1/directory/structures/0750001A",
            t,
            STRUCTURE
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(s, "PUT", "/api/v1/directory/classes/0750001A-6A", t, CLASS)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(s, "PUT", "/api/v1/directory/users/lea.martin", t, USER)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.store().directory_user_active("lea.martin").await.unwrap(),
        Some(true)
    );
    let dir_now = s.directory().await;
    assert_eq!(
        dir_now.user("lea.martin").unwrap().display_name(),
        "MARTIN Léa"
    );

    // A wrong profile names the field.
    let bad = USER.replace("\"student\"", "\"pupil\"");
    let (status, body) = call(s, "PUT", "/api/v1/directory/users/lea.martin", t, &bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("\"field\":\"profile\""), "{body}");
    // A class of an unknown structure is refused with a message.
    let (status, body) = call(
        s,
        "PUT",
        "/api/v1/directory/classes/X-6C",
        t,
        r#"{"id":"X-6C","structure":"nowhere","name":"6e C"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // URL and body must agree.
    let (status, body) = call(s, "PUT", "/api/v1/directory/users/someone.else", t, USER).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("login"), "{body}");

    assert_eq!(
        call(s, "DELETE", "/api/v1/directory/users/lea.martin", t, "")
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.store().directory_user_active("lea.martin").await.unwrap(),
        Some(false)
    );
    assert_eq!(
        call(s, "DELETE", "/api/v1/directory/users/nobody", t, "")
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    running.shutdown(std::time::Duration::from_secs(2)).await;
}

/// Issue 13, item 9: a body followed by anything but whitespace is refused with 400 and
/// changes nothing (the value it starts with is not applied).
#[tokio::test]
async fn trailing_bytes_after_the_json_body_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(&dir).await;
    let s = &running.server;
    let t = Some(TOKEN);
    for (uri, body) in [
        ("/api/v1/directory/structures/0750001A", STRUCTURE),
        ("/api/v1/directory/classes/0750001A-6A", CLASS),
    ] {
        assert_eq!(call(s, "PUT", uri, t, body).await.0, StatusCode::NO_CONTENT);
    }
    let before = s.store().snapshot().await.unwrap();
    for trailing in [" xx", "{}", r#" {"login":"other"}"#] {
        let (status, body) = call(
            s,
            "PUT",
            "/api/v1/directory/users/lea.martin",
            t,
            &format!("{USER}{trailing}"),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{trailing:?}: {body}");
        assert!(body.contains("trailing characters"), "{body}");
    }
    let renamed = STRUCTURE.replace("Jean Moulin", "Victor Hugo");
    let (status, _) = call(
        s,
        "PUT",
        "/api/v1/directory/structures/0750001A",
        t,
        &format!("{renamed} xx"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        s.store().snapshot().await.unwrap(),
        before,
        "nothing changed"
    );
    assert_eq!(
        s.store().directory_user_active("lea.martin").await.unwrap(),
        None
    );
    // Trailing whitespace is not garbage.
    let (status, body) = call(
        s,
        "PUT",
        "/api/v1/directory/users/lea.martin",
        t,
        &format!("{USER}\n  "),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    running.shutdown(std::time::Duration::from_secs(2)).await;
}

/// A collectivité round trip: put, read back (store and the server's view), refused with
/// the field at fault, its access narrowing its structure's, deleted, audited as `api`.
#[tokio::test]
async fn a_collectivite_round_trip() {
    use causerie_store::{AdminStore, AuditQuery, CollectiviteStore};
    let dir = tempfile::tempdir().unwrap();
    let running = start(&dir).await;
    let s = &running.server;
    let t = Some(TOKEN);
    let uri = "/api/v1/directory/collectivites/dep-75";
    // Its structure must exist first.
    let (status, body) = call(s, "PUT", uri, t, COLLECTIVITE).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("\"field\":\"structures[0]\""), "{body}");
    assert!(body.contains("unknown structure"), "{body}");
    let structure = "/api/v1/directory/structures/0750001A";
    assert_eq!(
        call(s, "PUT", structure, t, STRUCTURE).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(s, "PUT", uri, t, COLLECTIVITE).await.0,
        StatusCode::NO_CONTENT
    );
    let stored = s.store().collectivites().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].name, "Département de Paris");
    assert_eq!(stored[0].structures, vec!["0750001A".to_string()]);
    let view = s.view().await;
    assert_eq!(
        view.dir.collectivites_of("0750001A")[0].kind,
        causerie_ent::CollectiviteKind::Departement
    );
    // Its access (set by an administrator) narrows the structure's effective access.
    let off = causerie_ent::Access {
        enabled: false,
        profiles: vec![],
    };
    s.apply(
        &causerie_server::changes::Actor::Cli,
        causerie_server::changes::Change::SetCollectiviteAccess {
            collectivite: "dep-75".into(),
            access: off,
        },
    )
    .await
    .unwrap();
    let view = s.view().await;
    assert!(
        view.access_setting("0750001A").is_none(),
        "the school set nothing"
    );
    assert!(!view.effective_access("0750001A").unwrap().enabled);
    // A bad kind names the field; URL and body must agree.
    let bad = COLLECTIVITE.replace("departement", "canton");
    let (status, body) = call(s, "PUT", uri, t, &bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("\"field\":\"kind\""), "{body}");
    let (status, body) = call(
        s,
        "PUT",
        "/api/v1/directory/collectivites/reg-11",
        t,
        COLLECTIVITE,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("\"field\":\"id\""), "{body}");
    // Deleted, then not found.
    assert_eq!(
        call(s, "DELETE", uri, t, "").await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(call(s, "DELETE", uri, t, "").await.0, StatusCode::NOT_FOUND);
    assert!(s.store().collectivites().await.unwrap().is_empty());
    assert!(s.view().await.effective_access("0750001A").is_none());
    let rows = s
        .store()
        .audit_log(&AuditQuery {
            structures: None,
            before_id: None,
            limit: 20,
        })
        .await
        .unwrap();
    let api: Vec<&str> = rows
        .iter()
        .filter(|r| r.actor == "api" && r.action.starts_with("directory.collectivite"))
        .map(|r| r.action.as_str())
        .collect();
    assert_eq!(
        api,
        vec!["directory.collectivite_deleted", "directory.collectivite"]
    );
    running.shutdown(std::time::Duration::from_secs(2)).await;
}
