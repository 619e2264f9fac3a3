//! The OpenAPI document: valid, and the same set of routes as the server.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::{Api, problem};

const METHODS: &[&str] = &["get", "post", "put", "delete", "patch"];

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if item.get(*method).is_some() {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    routes
}

#[tokio::test(flavor = "multi_thread")]
async fn the_document_is_valid_openapi() {
    let api = Api::start().await;
    let (status, doc) = api.get("/api/openapi.json", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let file = api.dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let output = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "the OpenAPI document is invalid (or openapi-spec-validator is missing: `cargo xtask test` installs it):\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // Every operation documents its refusals as problems, and says who
    // may call it.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(op) = item.get(*method) else {
                continue;
            };
            if path.starts_with("/api/") && path != "/api/openapi.json" {
                assert!(
                    op["responses"]["401"].is_object(),
                    "{method} {path} does not document 401"
                );
            }
            assert!(
                op["summary"].is_string() || op["description"].is_string(),
                "{method} {path} is undescribed"
            );
        }
    }
    assert!(doc["components"]["securitySchemes"]["token"].is_object());
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_documented_route_exists_and_every_route_is_documented() {
    let api = Api::start().await;
    let (_, doc) = api.get("/api/openapi.json", "").await;
    let routes = documented(&doc);
    assert!(
        routes.len() >= 60,
        "{} operations: {routes:?}",
        routes.len()
    );
    for (method, path) in &routes {
        let concrete = path
            .replace("{id}", "1")
            .replace("{shipment}", "s-1")
            .replace("{customer}", "c-1")
            .replace("{article}", "A-100")
            .replace("{name}", "shipped");
        // Only methods that change nothing for real: the body is empty, so
        // writes are refused before they act; deletes hit an id that does
        // not exist.
        let concrete = if *method == "DELETE" {
            concrete.replace("/1", "/none").replace("shipped", "none")
        } else {
            concrete
        };
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let (status, body) = api.call(method.clone(), &concrete, &api.admin, None).await;
        assert_ne!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {concrete}: {body}"
        );
        let fallback = status == StatusCode::NOT_FOUND
            && body["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with("no such route"));
        assert!(!fallback, "{method} {path} is documented but not served");
        assert_ne!(problem(&body), "internal", "{method} {concrete}: {body}");
    }
    // Every route the server answered in this test run, by its matched
    // template, is in the document.
    let metrics = api.metrics().await;
    let paths: BTreeSet<&str> = routes.iter().map(|(_, p)| p.as_str()).collect();
    let mut served = BTreeSet::new();
    for line in metrics
        .lines()
        .filter(|l| l.starts_with("statusport_http_requests_total{"))
    {
        let route = line
            .split("route=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap();
        if route != "unmatched" {
            served.insert(route.to_owned());
        }
    }
    assert!(served.len() >= 20, "{served:?}");
    for route in &served {
        assert!(
            paths.contains(route.as_str()),
            "route {route} is served but missing from the OpenAPI document"
        );
    }
    api.stop().await;
}
