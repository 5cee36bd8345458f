//! The admin API over a real server (SQLite in a temp dir): every route called as
//! anonymous, as a plain user, as the local administrator of another structure, as the
//! right local administrator and as the super-administrator, and only the last two
//! succeed; no answer leaks another structure's users. Then the safety nets: CSRF and
//! Origin, the lockout, session expiry, HTML kept as data, invalid input changing nothing,
//! the audit log and its CSV.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use causerie_ent::{Class, Group, Profile, Snapshot, Structure, User};
use causerie_server::{Config, Server};
use causerie_store::{Access, AdminSession, AdminStore, AuditQuery, Credentials, DirectoryStore};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

const A: &str = "0750001A";
const B: &str = "0750002B";

fn person(login: &str, last: &str, first: &str, profile: Profile, s: &str) -> User {
    User {
        login: login.into(),
        last_name: last.into(),
        first_name: first.into(),
        profile,
        structures: vec![s.into()],
        classes: Vec::new(),
        children: Vec::new(),
        password: None,
        admin_of: Vec::new(),
        functions: Vec::new(),
    }
}

/// Two schools; `admin.a` administers A (from the import), `admin.b` administers B.
fn school() -> Snapshot {
    let mut lea = person("lea.martin", "Martin", "Léa", Profile::Student, A);
    lea.classes = vec![format!("{A}-6A")];
    let mut hugo = person("hugo.petit", "Petit", "<img src=x>", Profile::Student, A);
    hugo.classes = vec![format!("{A}-6B")];
    let mut anne = person("anne.durand", "Durand", "Anne", Profile::Teacher, A);
    anne.classes = vec![format!("{A}-6A")];
    let mut admin_a = person("admin.a", "Admin", "Alice", Profile::Personnel, A);
    admin_a.admin_of = vec![A.into()];
    let mut marc = person("marc.roux", "Roux", "Marc", Profile::Student, B);
    marc.classes = vec![format!("{B}-2A")];
    let mut admin_b = person("admin.b", "Admin", "Bob", Profile::Personnel, B);
    admin_b.admin_of = vec![B.into()];
    Snapshot {
        structures: vec![
            Structure {
                id: A.into(),
                name: "Collège <b>Jean</b> Moulin".into(),
            },
            Structure {
                id: B.into(),
                name: "Lycée Victor Hugo".into(),
            },
        ],
        classes: vec![
            Class {
                id: format!("{A}-6A"),
                structure: A.into(),
                name: "6e A".into(),
            },
            Class {
                id: format!("{A}-6B"),
                structure: A.into(),
                name: "6e B".into(),
            },
            Class {
                id: format!("{B}-2A"),
                structure: B.into(),
                name: "2de A".into(),
            },
        ],
        users: vec![lea, hugo, anne, admin_a, marc, admin_b],
        groups: vec![
            Group {
                id: "chorale".into(),
                name: "<script>alert('chorale')</script>".into(),
                structure: Some(A.into()),
                members: vec!["lea.martin".into(), "anne.durand".into()],
            },
            Group {
                id: "club".into(),
                name: "Club".into(),
                structure: Some(B.into()),
                members: vec!["marc.roux".into()],
            },
        ],
        collectivites: None,
    }
}

fn password(login: &str) -> String {
    format!("pw-{login}-secret")
}

async fn start(dir: &tempfile::TempDir) -> causerie_server::Running {
    start_with(dir, |_| {}).await
}

/// [`start`] with some of the configuration changed by `tune`.
async fn start_with(
    dir: &tempfile::TempDir,
    tune: impl FnOnce(&mut Config),
) -> causerie_server::Running {
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    // Tests run at any hour: no default quiet hours holding the pupils' messages.
    config.quiet_hours.default = false;
    config.listen.c2s = Some("127.0.0.1:0".parse().unwrap());
    config.listen.c2s_tls = Some("127.0.0.1:0".parse().unwrap());
    config.admin.super_admins = vec!["root".into()];
    config.admin.session_idle_minutes = 30;
    config.directory.api_token = Some(SYNC_TOKEN.into());
    tune(&mut config);
    let running = Server::start(config).await.unwrap();
    let store = running.server.store();
    let mut creds: HashMap<String, Credentials> = HashMap::new();
    for u in school().users {
        creds.insert(
            u.login.clone(),
            causerie_server::auth::credentials_for(&password(&u.login), 4096).unwrap(),
        );
    }
    store
        .import_snapshot(&school(), &creds, None)
        .await
        .unwrap();
    use causerie_store::AccountStore;
    store
        .create_account(
            "root",
            &causerie_server::auth::credentials_for(&password("root"), 4096).unwrap(),
        )
        .await
        .unwrap();
    running.server.directory_changed().await;
    running
}

/// A client of the API: its session cookie and CSRF token, when logged in.
#[derive(Clone, Default)]
struct Client {
    cookie: Option<String>,
    csrf: Option<String>,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

async fn call(server: &Arc<Server>, c: &Client, method: &str, uri: &str, body: &str) -> Answer {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json");
    if let Some(cookie) = &c.cookie {
        req = req.header("cookie", format!("causerie_admin={cookie}"));
    }
    if let Some(csrf) = &c.csrf {
        req = req.header("x-csrf-token", csrf);
    }
    let resp = causerie_web::router(server.clone())
        .oneshot(req.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn login_as(server: &Arc<Server>, login: &str, pw: &str) -> (Answer, Client) {
    let a = call(
        server,
        &Client::default(),
        "POST",
        "/admin/api/login",
        &json!({"login": login, "password": pw}).to_string(),
    )
    .await;
    let cookie = a
        .headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("causerie_admin="))
        .and_then(|v| v.split(';').next())
        .map(String::from);
    let csrf = a.json()["csrf"].as_str().map(String::from);
    (a, Client { cookie, csrf })
}

async fn login(server: &Arc<Server>, login: &str) -> Client {
    let (a, c) = login_as(server, login, &password(login)).await;
    assert_eq!(a.status, StatusCode::OK, "login {login}: {}", a.body);
    c
}

/// A session for a plain user (as if his administration had been revoked after login):
/// the API must refuse him on every route.
async fn plain_user_session(server: &Arc<Server>, login: &str) -> Client {
    let token = format!("plain-token-of-{login}");
    let now = chrono::Utc::now().timestamp_millis();
    server
        .store()
        .create_admin_session(&AdminSession {
            token_hash: causerie_web::admin::auth::token_hash(&token),
            login: login.into(),
            csrf: "plain-csrf".into(),
            created_ms: now,
            last_seen_ms: now,
            expires_ms: now + 3_600_000,
        })
        .await
        .unwrap();
    Client {
        cookie: Some(token),
        csrf: Some("plain-csrf".into()),
    }
}

const SYNC_TOKEN: &str = "sync-token-for-the-tests";

const OK: u16 = 200;
const NO: u16 = 204;

/// Logins of structure A's users: none may appear in an answer to B's administrator.
const A_LOGINS: [&str; 4] = ["lea.martin", "hugo.petit", "anne.durand", "admin.a"];

#[tokio::test]
async fn every_route_answers_only_the_right_administrator() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(&dir).await;
    let s = &running.server;
    let anon = Client::default();
    let plain = plain_user_session(s, "lea.martin").await;
    let other = login(s, "admin.b").await;
    let right = login(s, "admin.a").await;
    let root = login(s, "root").await;

    let rules = serde_json::to_string(&json!({"rules": causerie_ent::default_rules()})).unwrap();
    let access = json!({"enabled": true, "profiles": ["student", "relative", "teacher", "personnel", "guest"]}).to_string();
    // (method, uri, body, status for the other structure's admin, for the right admin and
    // the super-administrator). Anonymous calls get 401 and the plain user 403 everywhere.
    let routes: Vec<(&str, String, String, u16, u16)> = vec![
        ("GET", "/admin/api/session".into(), String::new(), OK, OK),
        (
            "GET",
            format!("/admin/api/structures/{A}"),
            String::new(),
            403,
            OK,
        ),
        (
            "PUT",
            format!("/admin/api/structures/{A}/access"),
            access.clone(),
            403,
            OK,
        ),
        (
            "PUT",
            format!("/admin/api/structures/{A}/rules"),
            rules.clone(),
            403,
            OK,
        ),
        (
            "DELETE",
            format!("/admin/api/structures/{A}/rules"),
            String::new(),
            403,
            OK,
        ),
        (
            "PUT",
            format!("/admin/api/structures/{A}/archive"),
            json!({"retention": 30}).to_string(),
            403,
            OK,
        ),
        (
            "DELETE",
            format!("/admin/api/structures/{A}/archive"),
            String::new(),
            403,
            OK,
        ),
        (
            "PUT",
            format!("/admin/api/structures/{A}/upload"),
            json!({"enabled": true, "max_bytes": 1000, "types": ["image/png"]}).to_string(),
            403,
            OK,
        ),
        (
            "DELETE",
            format!("/admin/api/structures/{A}/upload"),
            String::new(),
            403,
            OK,
        ),
        (
            "GET",
            format!("/admin/api/structures/{A}/groups"),
            String::new(),
            403,
            OK,
        ),
        (
            "POST",
            format!("/admin/api/structures/{A}/groups"),
            json!({"name": "Atelier", "members": ["lea.martin"]}).to_string(),
            403,
            OK,
        ),
        (
            "PUT",
            "/admin/api/groups/chorale".into(),
            json!({"name": "Chorale"}).to_string(),
            403,
            OK,
        ),
        (
            "POST",
            "/admin/api/groups/chorale/members".into(),
            json!({"login": "hugo.petit"}).to_string(),
            403,
            OK,
        ),
        (
            "DELETE",
            "/admin/api/groups/chorale/members/hugo.petit".into(),
            String::new(),
            403,
            OK,
        ),
        (
            "GET",
            "/admin/api/groups/chorale/reach".into(),
            String::new(),
            403,
            OK,
        ),
        (
            "GET",
            format!("/admin/api/users?structure={A}"),
            String::new(),
            403,
            OK,
        ),
        (
            "GET",
            "/admin/api/users/lea.martin".into(),
            String::new(),
            404,
            OK,
        ),
        (
            "POST",
            "/admin/api/users/lea.martin/disconnect".into(),
            String::new(),
            404,
            OK,
        ),
        (
            "POST",
            "/admin/api/users/lea.martin/lock".into(),
            String::new(),
            404,
            OK,
        ),
        (
            "POST",
            "/admin/api/users/lea.martin/unlock".into(),
            String::new(),
            404,
            OK,
        ),
        (
            "GET",
            "/admin/api/users/lea.martin/reach".into(),
            String::new(),
            404,
            OK,
        ),
        (
            "GET",
            format!("/admin/api/audit?structure={A}"),
            String::new(),
            403,
            OK,
        ),
        (
            "GET",
            format!("/admin/api/audit.csv?structure={A}"),
            String::new(),
            403,
            OK,
        ),
    ];
    for (method, uri, body, for_other, _) in &routes {
        let a = call(s, &anon, method, uri, body).await;
        assert_eq!(a.status, 401, "anonymous {method} {uri}: {}", a.body);
        assert_eq!(a.json()["error"]["code"], "no-session");
        let a = call(s, &plain, method, uri, body).await;
        assert_eq!(a.status, 403, "plain user {method} {uri}: {}", a.body);
        assert_eq!(a.json()["error"]["code"], "not-admin");
        let a = call(s, &other, method, uri, body).await;
        assert_eq!(
            a.status.as_u16(),
            *for_other,
            "other admin {method} {uri}: {}",
            a.body
        );
        for login in A_LOGINS {
            assert!(
                !a.body.contains(login) || uri.contains(login),
                "{method} {uri} leaks {login} to B's admin: {}",
                a.body
            );
        }
    }
    // Each administrator in turn runs them all (adding a member, then removing him…).
    for (who, c) in [("right admin", &right), ("super admin", &root)] {
        for (method, uri, body, _, for_right) in &routes {
            let a = call(s, c, method, uri, body).await;
            assert_eq!(
                a.status.as_u16(),
                *for_right,
                "{who} {method} {uri}: {}",
                a.body
            );
            assert!(a.json().is_object() || a.json().is_array() || a.body.starts_with("id,"));
        }
    }

    // Locking Léa (above) ended her console session too: she opens another.
    let plain = plain_user_session(s, "lea.martin").await;
    // Routes every administrator may call, each seeing his own structures only.
    for uri in [
        "/admin/api/structures",
        "/admin/api/users",
        "/admin/api/live",
        "/admin/api/audit",
        "/admin/api/audit.csv",
    ] {
        assert_eq!(call(s, &anon, "GET", uri, "").await.status, 401, "{uri}");
        assert_eq!(call(s, &plain, "GET", uri, "").await.status, 403, "{uri}");
        let a = call(s, &other, "GET", uri, "").await;
        assert_eq!(a.status, 200, "{uri}");
        for login in A_LOGINS {
            assert!(!a.body.contains(login), "{uri} leaks {login}: {}", a.body);
        }
        assert!(!a.body.contains(A), "{uri} leaks structure A: {}", a.body);
        let a = call(s, &right, "GET", uri, "").await;
        assert_eq!(a.status, 200, "{uri}");
        assert!(
            !a.body.contains("marc.roux"),
            "{uri} leaks B to A: {}",
            a.body
        );
    }
    let mine = call(s, &right, "GET", "/admin/api/structures", "")
        .await
        .json();
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_eq!(mine[0]["id"], A);
    assert_eq!(
        call(s, &root, "GET", "/admin/api/structures", "")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let users = call(s, &right, "GET", "/admin/api/users?q=LEA", "")
        .await
        .json();
    assert_eq!(users.as_array().unwrap().len(), 1);
    assert_eq!(users[0]["login"], "lea.martin");
    assert_eq!(users[0]["classes"], json!(["6e A"]));
    let live = call(s, &right, "GET", "/admin/api/live", "").await.json();
    assert_eq!(
        live["rooms"],
        Value::Null,
        "whole-server figures are the super's"
    );
    let live = call(s, &root, "GET", "/admin/api/live", "").await.json();
    assert_eq!(live["messages_per_minute"].as_array().unwrap().len(), 60);
    assert_eq!(live["store"], "ok");

    // Super-administrator only.
    let grant = json!({"login": "anne.durand", "structures": [A]}).to_string();
    let revoke = format!("/admin/api/admins/anne.durand/structures/{A}");
    for (method, uri, body) in [
        ("GET", "/admin/api/admins", ""),
        ("POST", "/admin/api/admins", grant.as_str()),
        ("DELETE", revoke.as_str(), ""),
    ] {
        assert_eq!(call(s, &anon, method, uri, body).await.status, 401);
        assert_eq!(call(s, &plain, method, uri, body).await.status, 403);
        assert_eq!(call(s, &other, method, uri, body).await.status, 403);
        assert_eq!(call(s, &right, method, uri, body).await.status, 403);
        let a = call(s, &root, method, uri, body).await;
        assert!(
            a.status == 200 || a.status == 204,
            "{method} {uri}: {}",
            a.body
        );
    }
    let admins = call(s, &root, "GET", "/admin/api/admins", "").await.json();
    let sources: Vec<(String, String)> = admins
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["login"].as_str().unwrap().to_string(),
                a["source"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(sources.contains(&("root".into(), "config".into())));
    assert!(sources.contains(&("admin.a".into(), "import".into())));
    assert!(!sources.iter().any(|(l, _)| l == "anne.durand"), "revoked");

    // Deleting a group: the other admin cannot, the right one can, then it is gone.
    let created = call(
        s,
        &right,
        "POST",
        &format!("/admin/api/structures/{A}/groups"),
        &json!({"name": "Temp"}).to_string(),
    )
    .await
    .json();
    let gid = created["id"].as_str().unwrap().to_string();
    let uri = format!("/admin/api/groups/{gid}");
    assert_eq!(call(s, &anon, "DELETE", &uri, "").await.status, 401);
    assert_eq!(call(s, &plain, "DELETE", &uri, "").await.status, 403);
    assert_eq!(call(s, &other, "DELETE", &uri, "").await.status, 403);
    assert_eq!(call(s, &right, "DELETE", &uri, "").await.status, NO);
    assert_eq!(call(s, &root, "DELETE", &uri, "").await.status, 404);

    // Logout ends the session.
    for c in [&other, &right, &root] {
        assert_eq!(call(s, c, "POST", "/admin/api/logout", "").await.status, NO);
        assert_eq!(
            call(s, c, "GET", "/admin/api/session", "").await.status,
            401
        );
    }
    running.shutdown(std::time::Duration::from_secs(2)).await;
}

#[tokio::test]
async fn login_cookies_csrf_and_origin() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(&dir).await;
    let s = &running.server;
    let (a, c) = login_as(s, "admin.a", &password("admin.a")).await;
    assert_eq!(a.status, 200);
    let cookie = a.headers.get("set-cookie").unwrap().to_str().unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    let session = a.json();
    assert_eq!(session["login"], "admin.a");
    assert_eq!(session["name"], "ADMIN Alice");
    assert_eq!(session["role"], "local");
    assert_eq!(
        session["structures"],
        json!([{"id": A, "name": "Collège <b>Jean</b> Moulin"}])
    );
    assert_eq!(a.headers.get("x-content-type-options").unwrap(), "nosniff");

    // Wrong password, unknown login: the same answer. A plain user is not an admin.
    let (a, _) = login_as(s, "admin.a", "wrong").await;
    assert_eq!(
        (a.status.as_u16(), a.json()["error"]["code"].clone()),
        (401, json!("bad-credentials"))
    );
    assert!(
        a.json()["error"]["message_fr"].is_string() && a.json()["error"]["message_en"].is_string()
    );
    let (a, _) = login_as(s, "nobody", "wrong").await;
    assert_eq!(
        (a.status.as_u16(), a.json()["error"]["code"].clone()),
        (401, json!("bad-credentials"))
    );
    let (a, _) = login_as(s, "lea.martin", &password("lea.martin")).await;
    assert_eq!(
        (a.status.as_u16(), a.json()["error"]["code"].clone()),
        (403, json!("not-admin"))
    );

    // A change without the CSRF header, or with a wrong one: 403 csrf, nothing changed.
    let uri = format!("/admin/api/structures/{A}/access");
    let body = json!({"enabled": false, "profiles": []}).to_string();
    for csrf in [None, Some("wrong".to_string())] {
        let bad = Client {
            cookie: c.cookie.clone(),
            csrf,
        };
        let a = call(s, &bad, "PUT", &uri, &body).await;
        assert_eq!(
            (a.status.as_u16(), a.json()["error"]["code"].clone()),
            (403, json!("csrf"))
        );
        let a = call(s, &bad, "POST", "/admin/api/logout", "").await;
        assert_eq!(a.status, 403);
    }
    assert_eq!(s.store().access(A).await.unwrap(), Access::default());
    // A foreign Origin: refused even with the right token.
    let resp = causerie_web::router(s.clone())
        .oneshot(
            Request::builder()
                .method("PUT")
                .uri(&uri)
                .header("host", "chat.example.org")
                .header("origin", "https://evil.example.org")
                .header(
                    "cookie",
                    format!("causerie_admin={}", c.cookie.clone().unwrap()),
                )
                .header("x-csrf-token", c.csrf.clone().unwrap())
                .body(Body::from(body.clone()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(s.store().access(A).await.unwrap(), Access::default());
    // The same Origin as the Host: accepted.
    let resp = causerie_web::router(s.clone())
        .oneshot(
            Request::builder()
                .method("PUT")
                .uri(&uri)
                .header("host", "chat.example.org")
                .header("origin", "https://chat.example.org")
                .header(
                    "cookie",
                    format!("causerie_admin={}", c.cookie.clone().unwrap()),
                )
                .header("x-csrf-token", c.csrf.clone().unwrap())
                .body(Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(!s.store().access(A).await.unwrap().enabled);
    running.shutdown(std::time::Duration::from_secs(2)).await;
}

#[tokio::test]
async fn lockout_after_five_failures_even_with_the_right_password() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(&dir).await;
    let s = &running.server;
    for i in 0..5 {
        let (a, _) = login_as(s, "admin.a", &format!("wrong-{i}")).await;
        assert_eq!(a.status, 401, "failure {i}");
    }
    let (a, _) = login_as(s, "admin.a", &password("admin.a")).await;
    assert_eq!(a.status, 429, "{}", a.body);
    assert_eq!(a.json()["error"]["code"], "locked-out");
    let retry = a.json()["error"]["retry_after_s"].as_u64().unwrap();
    assert!((800..=900).contains(&retry), "{retry}");
    assert!(a.headers.get("set-cookie").is_none());
    // Another login is not locked.
    let (a, _) = login_as(s, "admin.b", &password("admin.b")).await;
    assert_eq!(a.status, 200);
    running.shutdown(std::time::Duration::from_secs(2)).await;
}

#[tokio::test]
async fn sessions_expire_when_idle_and_after_their_maximum() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(&dir).await;
    let s = &running.server;
    let c = login(s, "admin.a").await;
    let hash = causerie_web::admin::auth::token_hash(c.cookie.as_deref().unwrap());
    assert_eq!(
        call(s, &c, "GET", "/admin/api/session", "").await.status,
        200
    );
    let now = chrono::Utc::now().timestamp_millis();
    // Idle for 32 minutes (the limit is 30, and the last request may have come up to a
    // minute after the stored last_seen).
    s.store()
        .touch_admin_session(&hash, now - 32 * 60_000)
        .await
        .unwrap();
    let a = call(s, &c, "GET", "/admin/api/session", "").await;
    assert_eq!(
        (a.status.as_u16(), a.json()["error"]["code"].clone()),
        (401, json!("no-session"))
    );
    assert!(
        s.store().admin_session(&hash).await.unwrap().is_none(),
        "deleted"
    );
    // Past its absolute end, however recently used.
    let c = login(s, "admin.a").await;
    let hash = causerie_web::admin::auth::token_hash(c.cookie.as_deref().unwrap());
    let mut session = s.store().admin_session(&hash).await.unwrap().unwrap();
    s.store().delete_admin_session(&hash).await.unwrap();
    session.expires_ms = now - 1;
    s.store().create_admin_session(&session).await.unwrap();
    assert_eq!(
        call(s, &c, "GET", "/admin/api/session", "").await.status,
        401
    );
    running.shutdown(std::time::Duration::from_secs(2)).await;
}

#[tokio::test]
async fn html_from_the_directory_is_data() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(&dir).await;
    let s = &running.server;
    let c = login(s, "admin.a").await;
    let a = call(
        s,
        &c,
        "GET",
        &format!("/admin/api/structures/{A}/groups"),
        "",
    )
    .await;
    assert_eq!(a.status, 200);
    assert!(
        a.headers
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(a.headers.get("x-content-type-options").unwrap(), "nosniff");
    let groups = a.json();
    let chorale = groups
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["id"] == "chorale")
        .unwrap();
    assert_eq!(chorale["name"], "<script>alert('chorale')</script>");
    let hugo = call(s, &c, "GET", "/admin/api/users/hugo.petit", "")
        .await
        .json();
    assert_eq!(hugo["name"], "PETIT <img src=x>");
    // A name given through the API is stored and returned as typed.
    let a = call(
        s,
        &c,
        "PUT",
        "/admin/api/groups/chorale",
        &json!({"name": "<b onmouseover=x>Chœur</b>"}).to_string(),
    )
    .await;
    assert_eq!(a.json()["name"], "<b onmouseover=x>Chœur</b>");
    // The CSV is an attachment of type text/csv, never rendered as HTML.
    let a = call(s, &c, "GET", "/admin/api/audit.csv", "").await;
    assert!(
        a.headers
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        a.headers
            .get("content-disposition")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert_eq!(a.headers.get("x-content-type-options").unwrap(), "nosniff");
    running.shutdown(std::time::Duration::from_secs(2)).await;
}

#[tokio::test]
async fn invalid_input_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(&dir).await;
    let s = &running.server;
    let c = login(s, "admin.a").await;
    let root = login(s, "root").await;
    let generation = s.store().generation().await.unwrap();
    let cases: Vec<(&Client, &str, String, String, &str)> = vec![
        (&c, "PUT", format!("/admin/api/structures/{A}/access"), r#"{"enabled": true, "profiles": ["pupil"]}"#.into(), "profiles[0]"),
        (&c, "PUT", format!("/admin/api/structures/{A}/access"), r#"{"enabled": true, "profiles": ["student", "student"]}"#.into(), "profiles[1]"),
        (&c, "PUT", format!("/admin/api/structures/{A}/access"), r#"{"enabled": "yes", "profiles": []}"#.into(), "enabled"),
        (&c, "PUT", format!("/admin/api/structures/{A}/access"), r#"{"profiles": []}"#.into(), ""),
        (&c, "PUT", format!("/admin/api/structures/{A}/access"), "not json".into(), ""),
        (&c, "PUT", format!("/admin/api/structures/{A}/archive"), r#"{"retention": 0}"#.into(), "retention"),
        (&c, "PUT", format!("/admin/api/structures/{A}/archive"), r#"{"retention": "forever"}"#.into(), "retention"),
        (&c, "PUT", format!("/admin/api/structures/{A}/upload"), r#"{"enabled": true, "max_bytes": 0, "types": []}"#.into(), "upload"),
        (&c, "PUT", format!("/admin/api/structures/{A}/upload"), r#"{"enabled": true, "max_bytes": 10, "types": ["text/html\r\nX: y"]}"#.into(), "upload"),
        (&c, "PUT", format!("/admin/api/structures/{A}/upload"), r#"{"enabled": "yes", "max_bytes": 10, "types": []}"#.into(), "enabled"),
        (&c, "PUT", format!("/admin/api/structures/{A}/rules"), r#"{"rules": [{"from": [], "to": ["student"], "scope": "same_class"}]}"#.into(), "rules[0].from"),
        (&c, "PUT", format!("/admin/api/structures/{A}/rules"), r#"{"rules": [{"from": ["student"], "to": ["student"], "scope": "everywhere"}]}"#.into(), "rules[0].scope"),
        (&c, "PUT", format!("/admin/api/structures/{A}/rules"), r#"{"rules": [{"from": ["student"], "to": ["student"], "scope": "same_class", "extra": 1}]}"#.into(), "rules[0].extra"),
        (&c, "POST", format!("/admin/api/structures/{A}/groups"), r#"{"name": "   "}"#.into(), "name"),
        (&c, "POST", format!("/admin/api/structures/{A}/groups"), format!(r#"{{"name": "{}"}}"#, "x".repeat(201)), "name"),
        (&c, "POST", format!("/admin/api/structures/{A}/groups"), r#"{"name": "Bad\u0007"}"#.into(), "name"),
        (&c, "POST", format!("/admin/api/structures/{A}/groups"), r#"{"name": "Mixte", "members": ["lea.martin", "marc.roux"]}"#.into(), "members[1]"),
        (&c, "PUT", "/admin/api/groups/chorale".into(), r#"{"name": ""}"#.into(), "name"),
        (&c, "POST", "/admin/api/groups/chorale/members".into(), r#"{"login": "marc.roux"}"#.into(), "login"),
        (&c, "POST", "/admin/api/groups/chorale/members".into(), r#"{"login": "nobody"}"#.into(), "login"),
        (&c, "GET", "/admin/api/users?limit=0".into(), String::new(), "limit"),
        (&c, "GET", "/admin/api/users?limit=abc".into(), String::new(), "limit"),
        (&c, "GET", "/admin/api/audit?before=x".into(), String::new(), "before"),
        (&root, "POST", "/admin/api/admins".into(), r#"{"login": "nobody", "structures": ["0750001A"]}"#.into(), "login"),
        (&root, "POST", "/admin/api/admins".into(), r#"{"login": "anne.durand", "structures": ["0750001A", "nowhere"]}"#.into(), "structures[1]"),
        (&root, "POST", "/admin/api/admins".into(), r#"{"login": "anne.durand", "structures": []}"#.into(), "structures"),
    ];
    for (client, method, uri, body, field) in &cases {
        let a = call(s, client, method, uri, body).await;
        assert_eq!(a.status, 400, "{method} {uri} {body}: {}", a.body);
        let e = &a.json()["error"];
        assert_eq!(e["code"], "invalid", "{body}");
        let expected = if field.is_empty() {
            Value::Null
        } else {
            json!(field)
        };
        assert_eq!(e["field"], expected, "{method} {uri} {body}: {}", a.body);
        assert!(!e["message_fr"].as_str().unwrap().is_empty());
        assert!(!e["message_en"].as_str().unwrap().is_empty());
    }
    assert_eq!(
        s.store().generation().await.unwrap(),
        generation,
        "nothing written"
    );
    assert!(
        s.store()
            .audit_log(&AuditQuery {
                limit: 100,
                ..AuditQuery::default()
            })
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.store().access(A).await.unwrap(), Access::default());
    assert!(
        s.store()
            .admin_grants_of("anne.durand")
            .await
            .unwrap()
            .is_empty()
    );
    let g = s.store().group("chorale").await.unwrap().unwrap();
    assert_eq!(
        g.members,
        vec!["anne.durand".to_string(), "lea.martin".to_string()]
    );
    // Unknown things are 404, a structure not administered 403.
    assert_eq!(
        call(s, &c, "GET", "/admin/api/users/nobody", "")
            .await
            .status,
        404
    );
    assert_eq!(
        call(s, &c, "GET", "/admin/api/groups/nope/reach", "")
            .await
            .status,
        404
    );
    assert_eq!(
        call(s, &c, "GET", "/admin/api/structures/nowhere", "")
            .await
            .status,
        403
    );
    assert_eq!(
        call(s, &root, "GET", "/admin/api/structures/nowhere", "")
            .await
            .status,
        404
    );
    assert_eq!(
        call(s, &c, "GET", "/admin/api/nothing-here", "")
            .await
            .status,
        404
    );
    running.shutdown(std::time::Duration::from_secs(2)).await;
}

#[tokio::test]
async fn changes_apply_at_once_and_are_audited() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(&dir).await;
    let s = &running.server;
    let c = login(s, "admin.a").await;
    // Access: students off.
    let a = call(
        s,
        &c,
        "PUT",
        &format!("/admin/api/structures/{A}/access"),
        r#"{"enabled": true, "profiles": ["teacher", "personnel"]}"#,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["profiles"], json!(["teacher", "personnel"]));
    assert!(
        s.login_allowed("lea.martin").await.is_err(),
        "applies without restart"
    );
    assert!(s.login_allowed("anne.durand").await.is_ok());
    let lea = call(s, &c, "GET", "/admin/api/users/lea.martin", "")
        .await
        .json();
    assert_eq!(lea["chat_allowed"], false);
    assert_eq!(lea["chat_refused_because"], "profile-not-allowed");
    assert_eq!(lea["sessions"], json!([]));
    // Chat off for the whole structure, then on again for the teachers and staff.
    for (body, why) in [
        (
            r#"{"enabled": false, "profiles": []}"#,
            "structure-disabled",
        ),
        (
            r#"{"enabled": true, "profiles": ["teacher", "personnel"]}"#,
            "profile-not-allowed",
        ),
    ] {
        let a = call(
            s,
            &c,
            "PUT",
            &format!("/admin/api/structures/{A}/access"),
            body,
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
        let anne = call(s, &c, "GET", "/admin/api/users/anne.durand", "")
            .await
            .json();
        let lea = call(s, &c, "GET", "/admin/api/users/lea.martin", "")
            .await
            .json();
        assert_eq!(lea["chat_refused_because"], why);
        assert_eq!(anne["chat_allowed"], why == "profile-not-allowed");
    }
    // Nobody reaches, nor is reached by, an account that may not chat; chat on again
    // for everyone.
    assert!(s.view().await.reach("lea.martin", "anne.durand").is_err());
    let a = call(
        s,
        &c,
        "PUT",
        &format!("/admin/api/structures/{A}/access"),
        r#"{"enabled": true, "profiles": ["student", "relative", "teacher", "personnel", "guest"]}"#,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    // Rules: nobody reaches anybody by rule, then the defaults again.
    assert!(s.view().await.reach("lea.martin", "anne.durand").is_ok());
    let a = call(
        s,
        &c,
        "PUT",
        &format!("/admin/api/structures/{A}/rules"),
        r#"{"rules": []}"#,
    )
    .await;
    assert_eq!(a.json()["custom_rules"], true);
    assert!(s.view().await.reach("lea.martin", "hugo.petit").is_err());
    // Members of a group still reach each other; the group's reach lists them.
    assert!(s.view().await.reach("lea.martin", "anne.durand").is_ok());
    let pairs = call(s, &c, "GET", "/admin/api/groups/chorale/reach", "")
        .await
        .json();
    assert_eq!(pairs.as_array().unwrap().len(), 1);
    let reach = call(s, &c, "GET", "/admin/api/users/lea.martin/reach", "")
        .await
        .json();
    assert_eq!(reach["total"], 1);
    assert_eq!(reach["users"][0]["login"], "anne.durand");
    assert_eq!(reach["users"][0]["why"], "group");
    assert_eq!(reach["users"][0]["group"], "chorale");
    let a = call(
        s,
        &c,
        "DELETE",
        &format!("/admin/api/structures/{A}/rules"),
        "",
    )
    .await;
    assert_eq!(a.json()["custom_rules"], false);
    assert!(
        s.view().await.reach("lea.martin", "hugo.petit").is_err(),
        "different classes"
    );
    assert!(s.view().await.reach("lea.martin", "admin.a").is_ok());
    // Lock and unlock.
    let a = call(s, &c, "POST", "/admin/api/users/anne.durand/lock", "")
        .await
        .json();
    assert_eq!(
        (a["locked"].clone(), a["chat_refused_because"].clone()),
        (json!(true), json!("account-locked"))
    );
    assert!(s.login_allowed("anne.durand").await.is_err());
    let a = call(s, &c, "POST", "/admin/api/users/anne.durand/unlock", "")
        .await
        .json();
    assert_eq!(a["locked"], false);
    assert!(s.login_allowed("anne.durand").await.is_ok());
    let a = call(s, &c, "POST", "/admin/api/users/anne.durand/disconnect", "")
        .await
        .json();
    assert_eq!(a["disconnected"], 0);

    // The audit log, newest first, with before and after.
    let rows = call(s, &c, "GET", "/admin/api/audit", "").await.json();
    let actions: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "user.disconnect",
            "user.unlock",
            "user.lock",
            "structure.rules_reset",
            "structure.rules",
            "structure.access",
            "structure.access",
            "structure.access",
            "structure.access"
        ]
    );
    let access = &rows[8];
    assert_eq!(access["actor"], "admin.a");
    assert_eq!(access["structure"], A);
    assert_eq!(
        access["before"],
        json!({"enabled": true, "profiles": ["student", "relative", "teacher", "personnel", "guest"]})
    );
    assert_eq!(
        access["after"],
        json!({"enabled": true, "profiles": ["teacher", "personnel"]})
    );
    assert!(access["at"].as_str().unwrap().ends_with('Z'));
    let page = call(
        s,
        &c,
        "GET",
        &format!("/admin/api/audit?limit=2&before={}", rows[1]["id"]),
        "",
    )
    .await
    .json();
    assert_eq!(page.as_array().unwrap().len(), 2);
    assert_eq!(page[0]["action"], "user.lock");
    // CSV: a header and one line per row, JSON fields quoted.
    let csv = call(s, &c, "GET", "/admin/api/audit.csv", "").await.body;
    let lines: Vec<&str> = csv.trim_end().split("\r\n").collect();
    assert_eq!(lines[0], "id,at,actor,action,structure,target,before,after");
    assert_eq!(lines.len(), 10);
    assert!(
        lines[9].contains(",admin.a,structure.access,0750001A,0750001A,\"{\"\"enabled\"\":true"),
        "{}",
        lines[9]
    );
    // B's administrator sees none of it.
    let b = login(s, "admin.b").await;
    assert_eq!(
        call(s, &b, "GET", "/admin/api/audit", "").await.json(),
        json!([])
    );
    running.shutdown(std::time::Duration::from_secs(2)).await;
}

#[tokio::test]
async fn the_live_view_shows_the_last_directory_import() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(&dir).await;
    let s = &running.server;
    let root = login(s, "root").await;
    assert_eq!(
        call(s, &root, "GET", "/admin/api/live", "").await.json()["last_import"],
        Value::Null
    );
    let sync = |uri: &'static str, body: &'static str| {
        let s = s.clone();
        async move {
            causerie_web::router(s)
                .oneshot(
                    Request::builder()
                        .method("PUT")
                        .uri(uri)
                        .header("authorization", format!("Bearer {SYNC_TOKEN}"))
                        .body(Body::from(body))
                        .unwrap(),
                )
                .await
                .unwrap()
                .status()
        }
    };
    let st = sync(
        "/api/v1/directory/structures/0750003C",
        r#"{"id": "0750003C", "name": "École Jules Ferry"}"#,
    )
    .await;
    assert_eq!(st, 204);
    let last = call(s, &root, "GET", "/admin/api/live", "").await.json()["last_import"].clone();
    assert_eq!(last["source"], "api");
    assert_eq!(last["ok"], true);
    assert_eq!(last["counts"], json!({"structures_put": 1}));
    assert_eq!(last["errors"], json!([]));
    let st = sync(
        "/api/v1/directory/structures/0750003C",
        r#"{"id": "0750003C", "name": ""}"#,
    )
    .await;
    assert_eq!(st, 422);
    let last = call(s, &root, "GET", "/admin/api/live", "").await.json()["last_import"].clone();
    assert_eq!(last["ok"], false);
    assert_eq!(last["errors"].as_array().unwrap().len(), 1);
    running.shutdown(std::time::Duration::from_secs(2)).await;
}

/// Locks and deactivations are checked from the directory cache at login: when the store
/// cannot be read, logins are refused rather than let in on lists that may be out of date.
#[tokio::test]
async fn logins_are_refused_while_the_lock_list_cannot_be_read() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(&dir).await;
    let s = running.server.clone();
    assert!(s.login_allowed("anne.durand").await.is_ok());
    s.store().close().await;
    s.directory_changed().await;
    let refused = s.login_allowed("anne.durand").await;
    assert!(
        refused
            .as_ref()
            .is_err_and(|why| why.contains("Erreur interne")),
        "{refused:?}"
    );
    // Still refused at the next login, not only at the one that saw the failure.
    assert!(s.login_allowed("anne.durand").await.is_err());
}

/// A sync API request as the ENT would send it, with `token` (or none).
async fn sync_call(
    server: &Arc<Server>,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Vec<u8>,
) -> StatusCode {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    causerie_web::router(server.clone())
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap()
        .status()
}

/// Issue 13, item 8: a call of the sync API without a valid token is answered 401 and
/// leaves no trace in the import log, whatever else is wrong with it (a method the route
/// does not have, a body too large): the console's live view must not show a failed
/// import that never happened.
#[tokio::test]
async fn sync_calls_without_a_valid_token_are_not_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(&dir).await;
    let s = &running.server;
    let root = login(s, "root").await;
    let before = s.store().snapshot().await.unwrap();
    let structure = br#"{"id": "0750003C", "name": "Ecole"}"#.to_vec();
    let huge = vec![b' '; 3 << 20];
    for token in [None, Some("not-the-sync-token-at-all")] {
        for (method, uri, body) in [
            ("PUT", "/api/v1/directory/structures/0750003C", &structure),
            ("DELETE", "/api/v1/directory/users/lea.martin", &Vec::new()),
            ("POST", "/api/v1/directory/users/lea.martin", &structure),
            (
                "DELETE",
                "/api/v1/directory/structures/0750001A",
                &Vec::new(),
            ),
            ("PUT", "/api/v1/directory/structures/0750003C", &huge),
        ] {
            let status = sync_call(s, method, uri, token, body.clone()).await;
            assert_eq!(status, 401, "{method} {uri} with {token:?}");
        }
    }
    assert_eq!(
        call(s, &root, "GET", "/admin/api/live", "").await.json()["last_import"],
        Value::Null,
        "nothing recorded"
    );
    assert!(s.store().last_import().await.unwrap().is_none());
    assert_eq!(
        s.store().snapshot().await.unwrap(),
        before,
        "nothing changed"
    );
    // An authorised call that is refused did happen: it is recorded.
    let status = sync_call(
        s,
        "POST",
        "/api/v1/directory/users/lea.martin",
        Some(SYNC_TOKEN),
        structure.clone(),
    )
    .await;
    assert_eq!(status, 405);
    let last = call(s, &root, "GET", "/admin/api/live", "").await.json()["last_import"].clone();
    assert_eq!(
        (last["source"].clone(), last["ok"].clone()),
        (json!("api"), json!(false))
    );
    running.shutdown(std::time::Duration::from_secs(2)).await;
}

/// Issue 13, item 9: a body followed by anything but whitespace is refused (400, the
/// body as a whole) and changes nothing; the same body with trailing whitespace applies.
#[tokio::test]
async fn trailing_bytes_after_the_json_body_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(&dir).await;
    let s = &running.server;
    let c = login(s, "admin.a").await;
    let uri = format!("/admin/api/structures/{A}/access");
    let body = json!({"enabled": false, "profiles": []}).to_string();
    let structure_before = call(s, &c, "GET", &format!("/admin/api/structures/{A}"), "")
        .await
        .body;
    let audit_before = call(s, &c, "GET", "/admin/api/audit", "").await.body;
    for trailing in [" xx", "{}", "\n]", " {\"enabled\": true}"] {
        let a = call(s, &c, "PUT", &uri, &format!("{body}{trailing}")).await;
        assert_eq!(a.status, 400, "{trailing:?}: {}", a.body);
        let e = &a.json()["error"];
        assert_eq!(e["code"], "invalid");
        assert!(e.get("field").is_none(), "{e}");
        assert!(e["message_fr"].as_str().unwrap().contains("JSON"), "{e}");
        assert!(e["message_en"].as_str().unwrap().contains("JSON"), "{e}");
    }
    assert_eq!(
        call(s, &c, "GET", &format!("/admin/api/structures/{A}"), "")
            .await
            .body,
        structure_before
    );
    assert_eq!(
        call(s, &c, "GET", "/admin/api/audit", "").await.body,
        audit_before
    );
    assert_eq!(s.store().access(A).await.unwrap(), Access::default());
    // Whitespace after the value is not garbage.
    let a = call(s, &c, "PUT", &uri, &format!("{body} \r\n\t")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(!s.store().access(A).await.unwrap().enabled);
    running.shutdown(std::time::Duration::from_secs(2)).await;
}

/// A console login from address `ip`, as the listener would hand it over (the handler
/// reads the peer's address from `ConnectInfo`): its status, whether it set a session
/// cookie, and how long the answer took.
async fn login_from(
    server: &Arc<Server>,
    ip: &str,
    login: &str,
    pw: &str,
) -> (StatusCode, bool, std::time::Duration) {
    let addr = std::net::SocketAddr::new(ip.parse().unwrap(), 40000);
    let mut req = Request::builder()
        .method("POST")
        .uri("/admin/api/login")
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"login": login, "password": pw}).to_string(),
        ))
        .unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(addr));
    let started = std::time::Instant::now();
    let resp = causerie_web::router(server.clone())
        .oneshot(req)
        .await
        .unwrap();
    let cookie = resp.headers().get("set-cookie").is_some();
    (resp.status(), cookie, started.elapsed())
}

/// Issue 13, item 10: a chat user who is not an administrator, logging in to the console
/// with his own correct password (403 not-admin), does not reset the per-address slowdown
/// of failed logins; an administrator's login does.
#[tokio::test]
async fn a_chat_user_cannot_reset_the_console_slowdown() {
    const STEP_MS: u64 = 300;
    let dir = tempfile::tempdir().unwrap();
    let running = start_with(&dir, |c| c.auth.failure_delay_ms = STEP_MS).await;
    let s = &running.server;
    let ip = "192.0.2.10";
    let step = std::time::Duration::from_millis(STEP_MS);
    // Three failures (on unknown logins, so that no login's own lockout is involved):
    // answered after 0, 1 and 2 steps.
    for i in 0..3 {
        let (status, cookie, _) = login_from(s, ip, &format!("guess{i}"), "wrong").await;
        assert_eq!((status.as_u16(), cookie), (401, false));
    }
    let (status, cookie, _) = login_from(s, ip, "lea.martin", &password("lea.martin")).await;
    assert_eq!(
        (status.as_u16(), cookie),
        (403, false),
        "not-admin, no session"
    );
    assert!(
        s.store()
            .admin_failures_since("lea.martin", 0)
            .await
            .unwrap()
            .is_empty()
    );
    // The fourth failure still waits three steps.
    let (status, _, took) = login_from(s, ip, "guess3", "wrong").await;
    assert_eq!(status, 401);
    assert!(took >= step * 3 - step / 4, "slowdown was reset: {took:?}");
    // Another address was never slowed down.
    let (_, _, took) = login_from(s, "192.0.2.11", "guess4", "wrong").await;
    assert!(took < step * 2, "{took:?}");
    // An administrator's login from the address resets it.
    let (status, cookie, _) = login_from(s, ip, "admin.a", &password("admin.a")).await;
    assert_eq!((status.as_u16(), cookie), (200, true));
    let (status, _, took) = login_from(s, ip, "guess5", "wrong").await;
    assert_eq!(status, 401);
    assert!(took < step * 2, "not reset by the administrator: {took:?}");
    running.shutdown(std::time::Duration::from_secs(2)).await;
}

/// Issue 13, item 11: « Qui peut-il joindre ? » names only groups the caller administers.
/// Léa and Hugo (structure A) reach each other only through B's group « club » (put by
/// the ENT's sync API, which takes members of any structure): A's administrator learns
/// that a group lets them, not which; the super-administrator sees its id.
#[tokio::test]
async fn the_reach_view_names_only_groups_the_caller_administers() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(&dir).await;
    let s = &running.server;
    let a = login(s, "admin.a").await;
    let root = login(s, "root").await;
    let hugo_of = |reach: &Value| {
        reach["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["login"] == "hugo.petit")
            .cloned()
    };
    let before = call(s, &a, "GET", "/admin/api/users/lea.martin/reach", "")
        .await
        .json();
    assert_eq!(hugo_of(&before), None, "the rules alone do not let them");
    let status = sync_call(
        s,
        "PUT",
        "/api/v1/directory/groups/club",
        Some(SYNC_TOKEN),
        json!({"id": "club", "name": "Club", "structure": B,
               "members": ["marc.roux", "lea.martin", "hugo.petit"]})
        .to_string()
        .into_bytes(),
    )
    .await;
    assert_eq!(status, 204);
    assert!(s.view().await.reach("lea.martin", "hugo.petit").is_ok());

    let reach = call(s, &a, "GET", "/admin/api/users/lea.martin/reach", "").await;
    assert_eq!(reach.status, 200);
    let hugo = hugo_of(&reach.json()).expect("Hugo is reachable, and A's user");
    assert_eq!(hugo["why"], "group");
    assert!(hugo.get("group").is_none(), "{hugo}");
    assert!(!reach.body.contains("club"), "{}", reach.body);
    // Groups of his own structure are still named.
    let anne = reach.json()["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["login"] == "anne.durand")
        .cloned()
        .unwrap();
    assert_eq!(
        (anne["why"].clone(), anne["group"].clone()),
        (json!("group"), json!("chorale"))
    );
    for uri in [
        "/admin/api/users/lea.martin",
        "/admin/api/groups/chorale/reach",
        "/admin/api/users/hugo.petit/reach",
    ] {
        let answer = call(s, &a, "GET", uri, "").await;
        assert_eq!(answer.status, 200, "{uri}");
        assert!(!answer.body.contains("club"), "{uri}: {}", answer.body);
    }
    // The super-administrator administers every group.
    let reach = call(s, &root, "GET", "/admin/api/users/lea.martin/reach", "")
        .await
        .json();
    let hugo = hugo_of(&reach).unwrap();
    assert_eq!(
        (hugo["why"].clone(), hugo["group"].clone()),
        (json!("group"), json!("club"))
    );
    // B's administrator is refused A's user, and learns nothing of him.
    let b = login(s, "admin.b").await;
    let refused = call(s, &b, "GET", "/admin/api/users/lea.martin/reach", "").await;
    assert_eq!(refused.status, 404);
    assert!(!refused.body.contains("hugo"), "{}", refused.body);
    running.shutdown(std::time::Duration::from_secs(2)).await;
}

/// Issue 13, item 12: the idle expiry never ends a session in use early. `last_seen` is
/// written at most once a minute, so a request 59 s after it leaves it as it is; a request
/// just under the idle limit after that one is still answered. A session idle for longer
/// than the limit since any request ends, and its refused request changes nothing.
#[tokio::test]
async fn an_active_console_session_never_ends_early() {
    use causerie_web::admin::auth::{TOUCH_EVERY_MS, token_hash};
    let dir = tempfile::tempdir().unwrap();
    let running = start(&dir).await;
    let s = &running.server;
    let idle_ms = 30 * 60_000; // start()'s session_idle_minutes
    let c = login(s, "admin.a").await;
    let hash = token_hash(c.cookie.as_deref().unwrap());
    let last_seen = |s: &Arc<Server>| {
        let s = s.clone();
        let hash = hash.clone();
        async move {
            s.store()
                .admin_session(&hash)
                .await
                .unwrap()
                .map(|x| x.last_seen_ms)
        }
    };
    // The last write was 59 s ago: this request is not written.
    let now = chrono::Utc::now().timestamp_millis();
    let written = now - (TOUCH_EVERY_MS - 1000);
    s.store().touch_admin_session(&hash, written).await.unwrap();
    assert_eq!(
        call(s, &c, "GET", "/admin/api/session", "").await.status,
        200
    );
    assert_eq!(last_seen(s).await, Some(written), "not touched");
    // Idle for the limit less 2 s since that request (the clock moved by moving
    // last_seen back): the session answers, and the request is written.
    let shifted = written - (idle_ms - 2000);
    s.store().touch_admin_session(&hash, shifted).await.unwrap();
    let a = call(s, &c, "GET", "/admin/api/session", "").await;
    assert_eq!(a.status, 200, "ended early: {}", a.body);
    assert!(last_seen(s).await.unwrap() >= now, "touched");
    // Idle for longer than the limit since any request it may have had: ended, and the
    // change it asked for is not made.
    let now = chrono::Utc::now().timestamp_millis();
    s.store()
        .touch_admin_session(&hash, now - idle_ms - TOUCH_EVERY_MS - 2000)
        .await
        .unwrap();
    let a = call(s, &c, "POST", "/admin/api/users/hugo.petit/lock", "").await;
    assert_eq!(
        (a.status.as_u16(), a.json()["error"]["code"].clone()),
        (401, json!("no-session"))
    );
    assert!(!s.store().account_locked("hugo.petit").await.unwrap());
    assert_eq!(last_seen(s).await, None, "the session is gone");
    running.shutdown(std::time::Duration::from_secs(2)).await;
}

/// Issue 13, items 3 and 4: every request re-checks the caller's account. A deactivated
/// directory user (sync API `DELETE`, or a full import without him) and a locked
/// administrator (locked through the API, or by another process writing the store) lose
/// the console from their next request on: it is refused (`403 account-inactive` /
/// `account-locked`), changes nothing, and ends their sessions; a fresh login with the
/// right password is refused the same way.
#[tokio::test]
async fn a_deactivated_or_locked_administrator_loses_the_console_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(&dir).await;
    let s = &running.server;
    let root = login(s, "root").await;
    let a = login(s, "admin.a").await;
    let b = login(s, "admin.b").await;
    let audit = |c: Client| {
        let s = s.clone();
        async move { call(&s, &c, "GET", "/admin/api/audit", "").await.body }
    };
    let session_of = |c: &Client| {
        let s = s.clone();
        let hash = causerie_web::admin::auth::token_hash(c.cookie.as_deref().unwrap());
        async move { s.store().admin_session(&hash).await.unwrap() }
    };
    let code = |a: &Answer| (a.status.as_u16(), a.json()["error"]["code"].clone());

    // Deactivated by the ENT's sync API while his session is open (the change writes
    // its own audit row).
    let status = sync_call(
        s,
        "DELETE",
        "/api/v1/directory/users/admin.a",
        Some(SYNC_TOKEN),
        Vec::new(),
    )
    .await;
    assert_eq!(status, 204);
    let before = audit(root.clone()).await;
    assert!(before.contains("directory.user_deactivated"), "{before}");
    // His console sessions ended with the change: the next request has none.
    let refused = call(s, &a, "POST", "/admin/api/users/lea.martin/lock", "").await;
    assert_eq!(
        code(&refused),
        (401, json!("no-session")),
        "{}",
        refused.body
    );
    assert!(
        !s.store().account_locked("lea.martin").await.unwrap(),
        "not applied"
    );
    assert_eq!(audit(root.clone()).await, before, "no audit row");
    assert!(session_of(&a).await.is_none(), "his session ended");
    let again = call(s, &a, "GET", "/admin/api/session", "").await;
    assert_eq!(code(&again), (401, json!("no-session")));
    let (fresh, cookie) = login_as(s, "admin.a", &password("admin.a")).await;
    assert_eq!(code(&fresh), (403, json!("account-inactive")));
    assert!(cookie.cookie.is_none());

    // Locked by the super-administrator: his console sessions end with the lock, his
    // next change is refused at once.
    let locked = call(s, &root, "POST", "/admin/api/users/admin.b/lock", "").await;
    assert_eq!(locked.status, 200, "{}", locked.body);
    let before = audit(root.clone()).await;
    let refused = call(s, &b, "POST", "/admin/api/users/marc.roux/lock", "").await;
    assert_eq!(code(&refused), (401, json!("no-session")));
    assert!(
        !s.store().account_locked("marc.roux").await.unwrap(),
        "not applied"
    );
    assert_eq!(audit(root.clone()).await, before, "no audit row");
    assert!(session_of(&b).await.is_none(), "his session ended");
    let (fresh, cookie) = login_as(s, "admin.b", &password("admin.b")).await;
    assert_eq!(code(&fresh), (403, json!("account-locked")));
    assert!(cookie.cookie.is_none());

    // Locked by another process writing the store (another node): no cache to wait for.
    let unlocked = call(s, &root, "POST", "/admin/api/users/admin.b/unlock", "").await;
    assert_eq!(unlocked.status, 200);
    let b = login(s, "admin.b").await;
    assert_eq!(
        call(s, &b, "GET", "/admin/api/session", "").await.status,
        200
    );
    s.store()
        .set_locked_audited("admin.b", true, "cli", None)
        .await
        .unwrap();
    let refused = call(s, &b, "GET", "/admin/api/session", "").await;
    assert_eq!(code(&refused), (403, json!("account-locked")));
    s.store()
        .set_locked_audited("admin.b", false, "cli", None)
        .await
        .unwrap();

    // Deactivated by a full import (`causerie directory import`) although a hand-made
    // grant keeps him an administrator of B.
    let granted = call(
        s,
        &root,
        "POST",
        "/admin/api/admins",
        &json!({"login": "admin.b", "structures": [B]}).to_string(),
    )
    .await;
    assert_eq!(granted.status, 200, "{}", granted.body);
    let b = login(s, "admin.b").await;
    let mut without_b = school();
    without_b.users.retain(|u| u.login != "admin.b");
    s.store()
        .import_snapshot(&without_b, &HashMap::new(), None)
        .await
        .unwrap();
    let refused = call(s, &b, "GET", "/admin/api/structures", "").await;
    assert_eq!(code(&refused), (403, json!("account-inactive")));
    assert!(session_of(&b).await.is_none());
    running.shutdown(std::time::Duration::from_secs(2)).await;
}

/// Issue 13, item 5: the role order. A local administrator may not lock, unlock or
/// disconnect another local administrator of his structure, nor a super-administrator
/// who is also a user of his structure (403, nothing changed, no audit row); he may act
/// on the users below him, and the super-administrator on anyone.
#[tokio::test]
async fn a_local_administrator_may_not_act_on_an_equal_or_higher_role() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(&dir).await;
    let s = &running.server;
    let root = login(s, "root").await;
    let granted = call(
        s,
        &root,
        "POST",
        "/admin/api/admins",
        &json!({"login": "anne.durand", "structures": [A]}).to_string(),
    )
    .await;
    assert_eq!(granted.status, 200, "{}", granted.body);
    // `causerie admin add hugo.petit --super`: a super-administrator who is a user of A.
    s.store()
        .set_super_admin_audited("hugo.petit", true, "cli")
        .await
        .unwrap();
    let a = login(s, "admin.a").await;
    let before = call(s, &root, "GET", "/admin/api/audit", "").await.body;
    for target in ["anne.durand", "hugo.petit", "admin.a"] {
        for action in ["lock", "unlock", "disconnect"] {
            let uri = format!("/admin/api/users/{target}/{action}");
            let refused = call(s, &a, "POST", &uri, "").await;
            assert_eq!(refused.status, 403, "{uri}: {}", refused.body);
            assert_eq!(refused.json()["error"]["code"], "forbidden");
            assert!(
                refused.json()["error"]["message_en"]
                    .as_str()
                    .unwrap()
                    .contains("role")
            );
        }
        assert!(!s.store().account_locked(target).await.unwrap(), "{target}");
        // He still sees the user's card.
        let card = call(s, &a, "GET", &format!("/admin/api/users/{target}"), "").await;
        assert_eq!(card.status, 200);
    }
    assert_eq!(
        call(s, &root, "GET", "/admin/api/audit", "").await.body,
        before,
        "no audit row"
    );
    // Below him: allowed.
    let a_lea = call(s, &a, "POST", "/admin/api/users/lea.martin/lock", "").await;
    assert_eq!(a_lea.status, 200, "{}", a_lea.body);
    assert!(s.store().account_locked("lea.martin").await.unwrap());
    // The super-administrator may act on anyone.
    for target in ["anne.durand", "hugo.petit", "admin.a"] {
        let uri = format!("/admin/api/users/{target}/lock");
        assert_eq!(call(s, &root, "POST", &uri, "").await.status, 200, "{uri}");
        assert!(s.store().account_locked(target).await.unwrap());
    }
    running.shutdown(std::time::Duration::from_secs(2)).await;
}

/// Issue 13, item 14, at the console's door: an unknown login is answered like a wrong
/// password, body and time alike (the one password check derives keys for both), and
/// neither opens a session; the right password still logs in.
#[tokio::test]
async fn an_unknown_login_is_answered_like_a_wrong_password() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(&dir).await;
    let s = &running.server;
    let attempt = |login: &'static str, pw: &'static str| {
        let s = s.clone();
        async move {
            let started = std::time::Instant::now();
            let (a, c) = login_as(&s, login, pw).await;
            (a, c, started.elapsed())
        }
    };
    let mut wrong = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..3 {
        let (a, c, took) = attempt("admin.b", "not-his-password").await;
        assert_eq!(a.status, 401);
        assert!(c.cookie.is_none());
        wrong.push((a.body, took));
        let (a, c, took) = attempt("nobody.here", "not-his-password").await;
        assert_eq!(a.status, 401);
        assert!(c.cookie.is_none());
        unknown.push((a.body, took));
    }
    assert_eq!(wrong[0].0, unknown[0].0, "the same answer");
    let fastest = |v: &[(String, std::time::Duration)]| v.iter().map(|x| x.1).min().unwrap();
    let (wrong, unknown) = (fastest(&wrong), fastest(&unknown));
    assert!(
        unknown * 3 > wrong,
        "an unknown login answered faster: {unknown:?} vs {wrong:?}"
    );
    let (a, c) = login_as(s, "admin.b", &password("admin.b")).await;
    assert_eq!(a.status, 200);
    assert!(c.cookie.is_some());
    running.shutdown(std::time::Duration::from_secs(2)).await;
}

/// Issue 14: a structure's archive retention, set and reset through the change layer with
/// its audit row; the structure shows its own and the default.
#[tokio::test]
async fn archive_retention_is_set_reset_and_audited() {
    use causerie_store::AccountArchiveStore;
    let dir = tempfile::tempdir().unwrap();
    let running = start(&dir).await;
    let s = &running.server;
    let c = login(s, "admin.a").await;
    let generation = s.store().generation().await.unwrap();
    let uri = format!("/admin/api/structures/{A}/archive");
    let shown = call(s, &c, "GET", &format!("/admin/api/structures/{A}"), "").await;
    assert_eq!(shown.json()["archive_retention"], json!(null));
    assert_eq!(
        shown.json()["archive_retention_default"],
        json!("school_year")
    );
    let a = call(s, &c, "PUT", &uri, &json!({"retention": 45}).to_string()).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["archive_retention"], json!(45));
    assert_eq!(
        s.store().retention(A).await.unwrap(),
        Some(causerie_ent::Retention::Days(45))
    );
    let a = call(
        s,
        &c,
        "PUT",
        &uri,
        &json!({"retention": "school_year"}).to_string(),
    )
    .await;
    assert_eq!(a.json()["archive_retention"], json!("school_year"));
    let a = call(s, &c, "DELETE", &uri, "").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["archive_retention"], json!(null));
    assert_eq!(s.store().retention(A).await.unwrap(), None);
    // Not a directory change.
    assert_eq!(s.store().generation().await.unwrap(), generation);
    let audit = call(s, &c, "GET", "/admin/api/audit", "").await.json();
    let rows: Vec<(String, String, String)> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "structure.archive_retention")
        .map(|r| {
            (
                r["actor"].as_str().unwrap().to_string(),
                r["before"].to_string(),
                r["after"].to_string(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("admin.a".into(), "\"school_year\"".into(), "null".into()),
            ("admin.a".into(), "45".into(), "\"school_year\"".into()),
            ("admin.a".into(), "null".into(), "45".into()),
        ]
    );
    running.shutdown(std::time::Duration::from_secs(2)).await;
}

/// Issue 15: a structure's file sharing (XEP-0363), set and reset through the change layer
/// with its audit row; the structure shows what applies and whether it is its own.
#[tokio::test]
async fn file_sharing_is_set_reset_and_audited() {
    use causerie_store::UploadStore;
    let dir = tempfile::tempdir().unwrap();
    let running = start(&dir).await;
    let s = &running.server;
    let c = login(s, "admin.a").await;
    let generation = s.store().generation().await.unwrap();
    let uri = format!("/admin/api/structures/{A}/upload");
    let shown = call(s, &c, "GET", &format!("/admin/api/structures/{A}"), "").await;
    // A collège: the configured default, on.
    assert_eq!(shown.json()["upload"]["enabled"], json!(true));
    assert_eq!(shown.json()["upload"]["max_bytes"], json!(10_485_760));
    assert_eq!(shown.json()["upload_own"], json!(false));
    let a = call(
        s,
        &c,
        "PUT",
        &uri,
        &json!({"enabled": false, "max_bytes": 2000, "types": ["Image/PNG", "application/pdf"]})
            .to_string(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["upload"]["enabled"], json!(false));
    assert_eq!(
        a.json()["upload"]["types"],
        json!(["image/png", "application/pdf"])
    );
    assert_eq!(a.json()["upload_own"], json!(true));
    assert_eq!(
        s.store()
            .upload_settings(A)
            .await
            .unwrap()
            .map(|u| u.max_bytes),
        Some(2000)
    );
    let a = call(s, &c, "DELETE", &uri, "").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["upload_own"], json!(false));
    assert_eq!(s.store().upload_settings(A).await.unwrap(), None);
    // Not a directory change.
    assert_eq!(s.store().generation().await.unwrap(), generation);
    let audit = call(s, &c, "GET", "/admin/api/audit", "").await.json();
    let rows: Vec<String> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "structure.upload")
        .map(|r| r["actor"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(rows, vec!["admin.a".to_string(), "admin.a".to_string()]);
    running.shutdown(std::time::Duration::from_secs(2)).await;
}

/// A collectivité administrator (issue 18): granted by the super-administrator, he sees
/// the structures his collectivité covers and sets their chat access and its own, and
/// nothing of their users (403/404 on every user route); the school's own administrator
/// cannot widen what the collectivité turned off.
#[tokio::test]
async fn a_collectivite_administrator_sets_access_and_sees_no_users() {
    use causerie_server::changes::{Actor, Change};
    use causerie_store::AccountStore;
    let dir = tempfile::tempdir().unwrap();
    let running = start(&dir).await;
    let s = &running.server;
    s.apply(
        &Actor::Cli,
        Change::PutCollectivite(causerie_ent::Collectivite {
            id: "dep-75".into(),
            name: "Département de Paris".into(),
            kind: causerie_ent::CollectiviteKind::Departement,
            structures: vec![A.into()],
        }),
    )
    .await
    .unwrap();
    s.store()
        .create_account(
            "elu",
            &causerie_server::auth::credentials_for(&password("elu"), 4096).unwrap(),
        )
        .await
        .unwrap();
    // Before the grant he is nobody's administrator.
    let (a, _) = login_as(s, "elu", &password("elu")).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    // Only the super-administrator grants the role.
    let admin_a = login(s, "admin.a").await;
    let grant = json!({"login": "elu"}).to_string();
    let uri = "/admin/api/collectivites/dep-75/admins";
    assert_eq!(call(s, &admin_a, "POST", uri, &grant).await.status, 403);
    let root = login(s, "root").await;
    let a = call(s, &root, "POST", uri, &grant).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()[0]["login"], "elu");
    let a = call(s, &root, "GET", "/admin/api/admins", "").await;
    assert!(
        a.json()
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["login"] == "elu" && x["role"] == "collectivite"),
        "{}",
        a.body
    );

    let elu = login(s, "elu").await;
    let session = call(s, &elu, "GET", "/admin/api/session", "").await.json();
    assert_eq!(session["role"], "collectivite");
    assert_eq!(session["collectivites"][0]["id"], "dep-75");
    assert_eq!(session["access_structures"][0]["id"], A);
    assert_eq!(session["structures"], json!([]));
    let list = call(s, &elu, "GET", "/admin/api/structures", "").await;
    assert_eq!(list.status, 200);
    let list = list.json();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["id"], A);
    assert_eq!(list[0]["access_only"], true);
    assert!(list[0].get("users").is_none() && list[0].get("online").is_none());
    assert_eq!(
        call(s, &elu, "GET", &format!("/admin/api/structures/{A}"), "")
            .await
            .status,
        200
    );
    // He sets the school's chat access…
    let off = json!({"enabled": false, "profiles": []}).to_string();
    let a = call(
        s,
        &elu,
        "PUT",
        &format!("/admin/api/structures/{A}/access"),
        &off,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["access_only"], true);
    assert!(!s.store().access(A).await.unwrap().enabled);
    // …not another's, and nothing else of his structures.
    let routes: Vec<(&str, String, u16)> = vec![
        ("GET", format!("/admin/api/structures/{B}"), 403),
        ("PUT", format!("/admin/api/structures/{B}/access"), 403),
        ("PUT", format!("/admin/api/structures/{A}/rules"), 403),
        ("DELETE", format!("/admin/api/structures/{A}/rules"), 403),
        ("GET", format!("/admin/api/structures/{A}/groups"), 403),
        ("GET", format!("/admin/api/structures/{A}/reports"), 403),
        (
            "GET",
            format!("/admin/api/structures/{A}/safety-staff"),
            403,
        ),
        (
            "GET",
            format!("/admin/api/structures/{A}/archive-access"),
            403,
        ),
        ("PUT", format!("/admin/api/structures/{A}/shutdown"), 403),
        ("GET", "/admin/api/users".into(), 403),
        ("GET", format!("/admin/api/users?structure={A}"), 403),
        ("GET", "/admin/api/users/lea.martin".into(), 404),
        ("GET", "/admin/api/users/lea.martin/reach".into(), 404),
        ("POST", "/admin/api/users/lea.martin/lock".into(), 404),
        ("GET", "/admin/api/users/lea.martin/export".into(), 404),
        ("GET", "/admin/api/groups/chorale/reach".into(), 403),
        ("GET", "/admin/api/live".into(), 403),
        ("GET", "/admin/api/audit".into(), 403),
        ("GET", "/admin/api/audit.csv".into(), 403),
        ("GET", "/admin/api/admins".into(), 403),
        ("POST", uri.into(), 403),
        ("GET", "/admin/api/collectivites/nowhere".into(), 404),
    ];
    for (method, uri, want) in &routes {
        let a = call(s, &elu, method, uri, &off).await;
        assert_eq!(a.status.as_u16(), *want, "{method} {uri}: {}", a.body);
        for login in A_LOGINS {
            assert!(!a.body.contains(login), "{method} {uri} names {login}");
        }
    }
    // The collectivité's own access: off beats the school's on.
    let a = call(s, &elu, "GET", "/admin/api/collectivites", "").await;
    assert_eq!(a.json()[0]["id"], "dep-75", "{}", a.body);
    let a = call(
        s,
        &elu,
        "PUT",
        "/admin/api/collectivites/dep-75/access",
        &json!({"enabled": false, "profiles": ["teacher"]}).to_string(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["access"]["enabled"], false);
    let on = json!({"enabled": true, "profiles": ["student", "relative", "teacher", "personnel", "guest"]}).to_string();
    let a = call(
        s,
        &admin_a,
        "PUT",
        &format!("/admin/api/structures/{A}/access"),
        &on,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let v = a.json();
    assert_eq!(v["enabled"], true, "the school's own setting");
    assert_eq!(v["effective"]["enabled"], false, "cannot widen: {v}");
    assert_eq!(v["collectivites"][0]["access"]["enabled"], false);
    assert_eq!(
        s.view().await.access("lea.martin"),
        Err(causerie_ent::Denied::DisabledByCollectivite)
    );
    // The school's administrator cannot touch the collectivité.
    assert_eq!(
        call(
            s,
            &admin_a,
            "PUT",
            "/admin/api/collectivites/dep-75/access",
            &on
        )
        .await
        .status,
        403
    );
    let a = call(s, &admin_a, "GET", "/admin/api/collectivites", "").await;
    assert_eq!(a.json(), json!([]));
    // Audited under his name.
    let rows = s
        .store()
        .audit_log(&AuditQuery {
            structures: None,
            before_id: None,
            limit: 50,
        })
        .await
        .unwrap();
    assert!(
        rows.iter()
            .any(|r| r.actor == "elu" && r.action == "structure.access")
    );
    assert!(
        rows.iter()
            .any(|r| r.actor == "elu" && r.action == "collectivite.access")
    );
    assert!(
        rows.iter()
            .any(|r| r.actor == "root" && r.action == "admin.collectivite_grant")
    );
    // Revoked: the console is closed to him from the next request.
    assert_eq!(
        call(
            s,
            &root,
            "DELETE",
            "/admin/api/collectivites/dep-75/admins/elu",
            ""
        )
        .await
        .status,
        204
    );
    assert_eq!(
        call(s, &elu, "GET", "/admin/api/structures", "")
            .await
            .status,
        403
    );
    running.shutdown(std::time::Duration::from_secs(2)).await;
}
