//! The Pub/Sub emulator's REST surface on arbitrary requests: a method byte, a path line and a
//! JSON body, through the whole router (handlers, JSON forms, broker) of one emulator that
//! lives for the whole run, so state built by earlier inputs is exercised by later ones.
#![no_main]

use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request};
use fleetgate_pubsub::server::router;
use fleetgate_pubsub::{Emulator, EmulatorConfig};
use libfuzzer_sys::fuzz_target;
use tokio::runtime::Runtime;
use tower::ServiceExt;

const METHODS: [Method; 4] = [Method::GET, Method::PUT, Method::POST, Method::DELETE];

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap_or_else(|e| panic!("a runtime: {e}"))
    })
}

fn app() -> Router {
    static APP: OnceLock<Router> = OnceLock::new();
    APP.get_or_init(|| runtime().block_on(async { router(Emulator::new(EmulatorConfig::default())) }))
        .clone()
}

fuzz_target!(|data: &[u8]| {
    let Some((&method, rest)) = data.split_first() else {
        return;
    };
    let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let path = String::from_utf8_lossy(&rest[..end]);
    let body = rest.get(end + 1..).unwrap_or_default().to_vec();
    let uri = format!("/v1/{}", path.trim_start_matches('/'));
    let Ok(request) = Request::builder()
        .method(METHODS[usize::from(method % 4)].clone())
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body))
    else {
        return;
    };
    // The router is built (once, in its own `block_on`) before this input's `block_on`.
    let app = app();
    runtime().block_on(async {
        if let Ok(response) = app.oneshot(request).await {
            let _ = http_body_util::BodyExt::collect(response.into_body()).await;
        }
    });
});
