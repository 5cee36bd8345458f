//! The web client's routes: the pages with their security headers, the
//! built assets, the client configuration, and 404 for anything else.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use causerie_server::{Config, Server};
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn start(dir: &tempfile::TempDir) -> causerie_server::Running {
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    // Tests run at any hour: no default quiet hours holding the pupils' messages.
    config.quiet_hours.default = false;
    config.listen.c2s = Some("127.0.0.1:0".parse().unwrap());
    config.listen.c2s_tls = Some("127.0.0.1:0".parse().unwrap());
    Server::start(config).await.unwrap()
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

async fn get(running: &causerie_server::Running, uri: &str, extra: &[(&str, &str)]) -> Reply {
    let mut req = Request::builder()
        .uri(uri)
        .header(header::HOST, "chat.example:5280");
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let resp = causerie_web::router(running.server.clone())
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

#[tokio::test]
async fn pages_assets_and_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(&dir).await;

    let index = get(&running, "/", &[]).await;
    assert_eq!(index.status, StatusCode::OK);
    assert_eq!(
        index.headers[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
    assert!(index.body.contains(r#"<div id="app">"#), "{}", index.body);
    let csp = index.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("ws://chat.example:5280"), "{csp}");
    assert_eq!(index.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");

    // The script the page loads is served, cached for good (its name has a hash).
    let script = index
        .body
        .split('"')
        .find(|s| s.starts_with("/assets/") && s.ends_with(".js"))
        .expect("index.html loads a script from /assets/")
        .to_string();
    let js = get(&running, &script, &[]).await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(
        js.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    assert!(
        js.headers[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("immutable")
    );

    // Revalidation with the ETag.
    let etag = index.headers[header::ETAG].to_str().unwrap().to_string();
    let again = get(&running, "/", &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);

    let portal = get(&running, "/demo-portal", &[]).await;
    assert_eq!(portal.status, StatusCode::OK);
    assert!(portal.body.contains("/embed.js"));
    let embed = get(&running, "/embed.js", &[]).await;
    assert_eq!(embed.status, StatusCode::OK);
    assert!(embed.body.contains("data-causerie-chat"));

    let config = get(&running, "/client.json", &[]).await;
    assert_eq!(config.status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&config.body).unwrap();
    assert_eq!(v["domain"], "localhost");
    assert_eq!(v["websocket"], "/xmpp-websocket");

    for missing in ["/nope", "/index.html", "/assets/nope.js", "/../Cargo.toml"] {
        assert_eq!(
            get(&running, missing, &[]).await.status,
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }
    // The other routes are still theirs.
    assert_eq!(get(&running, "/healthz", &[]).await.body, "ok\n");
    running.shutdown(std::time::Duration::from_secs(2)).await;
}
