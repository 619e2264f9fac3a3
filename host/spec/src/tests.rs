//! Small descriptions of each dialect written inline, then the published
//! descriptions in `shared/specs` beside the repository.

use std::path::PathBuf;
use std::time::Instant;

use serde_json::{Value, json};

use super::*;

const OPENAPI_31: &str = r##"{
  "openapi": "3.1.0",
  "info": { "title": "shop", "version": "1" },
  "servers": [{ "url": "http://localhost:8000/api" }],
  "paths": {
    "/search/order": {
      "post": {
        "operationId": "searchOrder",
        "parameters": [
          { "name": "page", "in": "query", "required": true, "schema": { "type": "integer" } },
          { "name": "mode", "in": "query", "schema": { "type": "string", "enum": ["fast", "full"] } }
        ],
        "requestBody": { "required": true, "content": { "application/json": {
          "schema": { "$ref": "#/components/schemas/Criteria" } } } },
        "responses": {
          "200": { "description": "found", "content": { "application/json": { "schema": {
            "type": "object", "required": ["total"],
            "properties": { "total": { "type": "integer" },
                            "data": { "type": "array", "items": { "$ref": "#/components/schemas/Order" } } } } } } },
          "4XX": { "description": "refused", "content": { "application/json": { "schema": {
            "type": "object", "required": ["errors"] } } } }
        }
      }
    },
    "/order/{id}": {
      "parameters": [{ "name": "id", "in": "path", "required": true,
                       "schema": { "type": "string", "pattern": "^[0-9a-f]{4}$" } }],
      "patch": {
        "operationId": "updateOrder",
        "requestBody": { "content": { "application/json": {
          "schema": { "$ref": "#/components/schemas/Order" } } } },
        "responses": { "204": { "description": "updated" } }
      }
    }
  },
  "components": { "schemas": {
    "Criteria": { "type": "object", "properties": {
      "limit": { "type": "integer" }, "ids": { "type": "array", "items": { "type": "string" } } } },
    "Order": { "type": "object", "required": ["id", "state", "createdAt"], "properties": {
      "id": { "type": "string" },
      "state": { "type": ["string", "null"] },
      "createdAt": { "type": "string", "readOnly": true } } }
  } }
}"##;

const OPENAPI_30: &str = r##"
openapi: 3.0.3
info: { title: shop, version: "1" }
servers:
  - url: https://api.{environment}/v2
    variables: { environment: { default: shop.example } }
paths:
  /orders:
    get:
      operationId: getOrders
      parameters:
        - $ref: '#/components/parameters/Status'
        - { name: limit, in: query, schema: { type: integer, maximum: 50 } }
        - { name: ids, in: query, explode: false, schema: { type: array, items: { type: integer } } }
      responses:
        200:
          description: orders
          content:
            application/json:
              schema: { type: array, items: { $ref: '#/components/schemas/Order' } }
    post:
      operationId: createOrder
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: '#/components/schemas/Order' }
      responses:
        default: { description: any }
components:
  parameters:
    Status: { name: status, in: query, required: true, schema: { type: string, enum: [open, shipped] } }
  schemas:
    Order:
      type: object
      required: [id, note]
      properties:
        id: { type: integer }
        note: { type: string, nullable: true }
"##;

const SWAGGER_2: &str = r##"
swagger: "2.0"
info: { title: shop, version: "1" }
basePath: /rest/default
paths:
  /V1/orders:
    get:
      operationId: GetV1Orders
      parameters:
        - { name: "searchCriteria[pageSize]", in: query, type: integer, required: true }
      responses:
        200: { description: ok, schema: { $ref: '#/definitions/order-list' } }
  /V1/order/{orderId}/ship:
    post:
      operationId: PostV1OrderOrderIdShip
      parameters:
        - { name: orderId, in: path, type: integer, required: true }
        - name: body
          in: body
          required: true
          schema:
            type: object
            properties:
              tracks: { type: array, items: { $ref: '#/definitions/track' } }
      responses:
        200: { description: shipment id, schema: { type: integer } }
definitions:
  order-list:
    type: object
    required: [items]
    properties: { items: { type: array }, total_count: { type: integer, x-nullable: true } }
  track:
    type: object
    required: [track_number]
    properties: { track_number: { type: string }, carrier_code: { type: string } }
"##;

fn description(text: &str) -> Description {
    Description::parse("inline", text).expect("the inline description loads")
}

fn request<'a>(method: &'a str, url: &'a str, body: Option<&'a Value>) -> Request<'a> {
    Request {
        method,
        url,
        body,
        ..Request::default()
    }
}

fn one(mismatches: Vec<Mismatch>) -> Mismatch {
    assert_eq!(mismatches.len(), 1, "{mismatches:#?}");
    mismatches.into_iter().next().unwrap()
}

#[test]
fn openapi_31_request_that_conforms_has_no_mismatch() {
    let d = description(OPENAPI_31);
    assert_eq!(d.dialect(), Dialect::OpenApi31);
    let body = json!({ "limit": 10, "ids": ["a"] });
    let r = request(
        "POST",
        "http://127.0.0.1:4000/api/search/order?page=2&mode=fast",
        Some(&body),
    );
    assert_eq!(d.check_request(&r), vec![]);
    let found = d.operation("POST", r.url, None).unwrap();
    assert_eq!(found.to_string(), "searchOrder (POST /search/order)");
}

#[test]
fn openapi_31_wrong_type_in_body_names_the_schema_keyword() {
    let d = description(OPENAPI_31);
    let body = json!({ "limit": "ten" });
    let m = one(d.check_request(&request("POST", "/api/search/order?page=1", Some(&body))));
    assert_eq!(m.part, Part::RequestBody);
    assert_eq!(m.instance_path, "/limit");
    assert_eq!(
        m.schema_path.as_deref(),
        Some("#/components/schemas/Criteria/properties/limit/type")
    );
    assert_eq!(
        m.to_string(),
        "searchOrder (POST /search/order): request body at /limit: \"ten\" is not of type \"integer\" (schema #/components/schemas/Criteria/properties/limit/type)"
    );
}

#[test]
fn openapi_31_query_is_read_as_the_parameter_type() {
    let d = description(OPENAPI_31);
    let body = json!({});
    let m = one(d.check_request(&request("POST", "/api/search/order?page=two", Some(&body))));
    assert_eq!(m.part, Part::QueryParameter("page".into()));
    assert_eq!(
        m.schema_path.as_deref(),
        Some("#/paths/~1search~1order/post/parameters/0/schema/type")
    );
    let m = one(d.check_request(&request(
        "POST",
        "/api/search/order?page=1&mode=slow",
        Some(&body),
    )));
    assert_eq!(m.part, Part::QueryParameter("mode".into()));
    assert!(m.message.contains("\"slow\" is not one of"), "{m}");
}

#[test]
fn openapi_31_missing_required_query_parameter_and_body() {
    let d = description(OPENAPI_31);
    let mismatches = d.check_request(&request("POST", "/api/search/order", None));
    let shown: Vec<String> = mismatches.iter().map(Mismatch::to_string).collect();
    assert_eq!(
        shown,
        [
            "searchOrder (POST /search/order): query parameter page: required query parameter \"page\" is missing (schema #/paths/~1search~1order/post/parameters/0/required)",
            "searchOrder (POST /search/order): request body: the request has no JSON body; the description requires one (schema #/paths/~1search~1order/post/requestBody/content/application~1json/schema)",
        ]
    );
}

#[test]
fn unknown_path_and_method_are_mismatches() {
    let d = description(OPENAPI_31);
    let m = one(d.check_request(&request("GET", "/api/search/customer", None)));
    assert_eq!(m.part, Part::Route);
    assert!(m.operation.is_none());
    assert!(
        m.message
            .starts_with("GET /api/search/customer is no operation of inline"),
        "{m}"
    );
    let m = one(d.check_request(&request("DELETE", "/api/order/abcd", None)));
    assert_eq!(
        m.message,
        "/order/{id} has no DELETE operation (documented: PATCH)"
    );
}

#[test]
fn path_parameters_are_checked_and_patch_bodies_may_be_partial() {
    let d = description(OPENAPI_31);
    let body = json!({ "state": null });
    assert_eq!(
        d.check_request(&request("PATCH", "/api/order/ab12", Some(&body))),
        vec![]
    );
    let m = one(d.check_request(&request("PATCH", "/api/order/o1", Some(&body))));
    assert_eq!(m.part, Part::PathParameter("id".into()));
    assert_eq!(
        m.schema_path.as_deref(),
        Some("#/paths/~1order~1{id}/parameters/0/schema/pattern")
    );
    let body = json!({ "state": 3 });
    let m = one(d.check_request(&request("PATCH", "/api/order/ab12", Some(&body))));
    assert_eq!(m.instance_path, "/state");
}

#[test]
fn a_read_only_property_is_not_required_in_a_request() {
    let d = description(OPENAPI_31);
    let body = json!({ "limit": 1 });
    let answer = json!({ "total": 1, "data": [{ "id": "x", "state": "open" }] });
    let r = request("POST", "/api/search/order?page=1", Some(&body));
    // An answer must carry it.
    let m = one(d.check_answer(
        &r,
        &Answer {
            status: 200,
            body: Some(&answer),
        },
    ));
    assert_eq!(m.instance_path, "/data/0");
    assert_eq!(m.message, "\"createdAt\" is a required property");
}

#[test]
fn answers_are_checked_by_status_range_and_default() {
    let d = description(OPENAPI_31);
    let body = json!({});
    let r = request("POST", "/api/search/order?page=1", Some(&body));
    let ok = json!({ "total": 0, "data": [] });
    assert_eq!(
        d.check_answer(
            &r,
            &Answer {
                status: 200,
                body: Some(&ok)
            }
        ),
        vec![]
    );
    let wrong = json!({ "total": "none" });
    let m = one(d.check_answer(
        &r,
        &Answer {
            status: 200,
            body: Some(&wrong),
        },
    ));
    assert_eq!(m.part, Part::Answer(200));
    assert_eq!(
        m.schema_path.as_deref(),
        Some(
            "#/paths/~1search~1order/post/responses/200/content/application~1json/schema/properties/total/type"
        )
    );
    let m = one(d.check_answer(
        &r,
        &Answer {
            status: 404,
            body: Some(&json!({})),
        },
    ));
    assert_eq!(
        m.schema_path.as_deref(),
        Some(
            "#/paths/~1search~1order/post/responses/4XX/content/application~1json/schema/required"
        )
    );
    // A status the operation does not document is not checked.
    assert_eq!(
        d.check_answer(
            &r,
            &Answer {
                status: 500,
                body: None
            }
        ),
        vec![]
    );
}

#[test]
fn openapi_30_yaml_with_server_variables_nullable_and_parameter_refs() {
    let d = description(OPENAPI_30);
    assert_eq!(d.dialect(), Dialect::OpenApi30);
    let ok = request(
        "GET",
        "https://api.shop.example/v2/orders?status=open&limit=5&ids=1,2",
        None,
    );
    assert_eq!(d.check_request(&ok), vec![]);
    let body = json!({ "id": 1, "note": null });
    assert_eq!(
        d.check_request(&request("POST", "/v2/orders", Some(&body))),
        vec![]
    );

    let m = one(d.check_request(&request("GET", "/v2/orders?limit=5", None)));
    assert_eq!(m.part, Part::QueryParameter("status".into()));
    assert_eq!(
        m.schema_path.as_deref(),
        Some("#/components/parameters/Status/required")
    );
    let m = one(d.check_request(&request("GET", "/v2/orders?status=open&limit=500", None)));
    assert_eq!(
        m.schema_path.as_deref(),
        Some("#/paths/~1orders/get/parameters/1/schema/maximum")
    );
    let m = one(d.check_request(&request("GET", "/v2/orders?status=open&ids=1,x", None)));
    assert_eq!(m.instance_path, "/1");

    let body = json!({ "id": "1", "note": "n" });
    let m = one(d.check_request(&request("POST", "/v2/orders", Some(&body))));
    assert_eq!(
        m.schema_path.as_deref(),
        Some("#/components/schemas/Order/properties/id/type")
    );

    let r = request("GET", "/v2/orders?status=open", None);
    let answer = json!([{ "id": 1 }]);
    let m = one(d.check_answer(
        &r,
        &Answer {
            status: 200,
            body: Some(&answer),
        },
    ));
    assert_eq!(m.message, "\"note\" is a required property");
}

#[test]
fn swagger_2_base_path_body_parameter_and_inline_parameters() {
    let d = description(SWAGGER_2);
    assert_eq!(d.dialect(), Dialect::Swagger2);
    let body = json!({ "tracks": [{ "track_number": "1Z", "carrier_code": "ups" }] });
    let r = request(
        "POST",
        "http://shop.example/rest/default/V1/order/7/ship",
        Some(&body),
    );
    assert_eq!(d.check_request(&r), vec![]);
    assert_eq!(
        d.check_answer(
            &r,
            &Answer {
                status: 200,
                body: Some(&json!(12))
            }
        ),
        vec![]
    );

    let body = json!({ "tracks": [{ "track_number": 1 }] });
    let m = one(d.check_request(&request(
        "POST",
        "/rest/default/V1/order/7/ship",
        Some(&body),
    )));
    assert_eq!(m.instance_path, "/tracks/0/track_number");
    assert_eq!(
        m.schema_path.as_deref(),
        Some("#/definitions/track/properties/track_number/type")
    );

    let body = json!({});
    let m = one(d.check_request(&request(
        "POST",
        "/rest/default/V1/order/seven/ship",
        Some(&body),
    )))
    .to_string();
    assert!(m.contains("path parameter orderId"), "{m}");
    assert!(
        m.contains("(schema #/paths/~1V1~1order~1{orderId}~1ship/post/parameters/0/type)"),
        "{m}"
    );

    let m = one(d.check_request(&request("GET", "/rest/default/V1/orders", None)));
    assert_eq!(
        m.part,
        Part::QueryParameter("searchCriteria[pageSize]".into())
    );
    let ok = request(
        "GET",
        "/rest/default/V1/orders?searchCriteria%5BpageSize%5D=20",
        None,
    );
    assert_eq!(d.check_request(&ok), vec![]);
    let answer = json!({ "items": [], "total_count": null });
    assert_eq!(
        d.check_answer(
            &ok,
            &Answer {
                status: 200,
                body: Some(&answer)
            }
        ),
        vec![]
    );
    let m = one(d.check_answer(
        &ok,
        &Answer {
            status: 200,
            body: Some(&json!({})),
        },
    ));
    assert_eq!(
        m.schema_path.as_deref(),
        Some("#/definitions/order-list/required")
    );
}

#[test]
fn a_caller_given_base_url_is_stripped_first() {
    let d = description(OPENAPI_31);
    let body = json!({});
    let r = Request {
        base_url: Some("https://shop.example/shopware"),
        ..request(
            "POST",
            "https://shop.example/shopware/api/search/order?page=1",
            Some(&body),
        )
    };
    assert_eq!(d.check_request(&r), vec![]);
}

#[test]
fn a_file_of_no_known_dialect_is_refused() {
    let e = Description::parse("x.json", r#"{"asyncapi": "2.6.0", "info": {}}"#)
        .err()
        .unwrap();
    assert_eq!(
        e.to_string(),
        "API description x.json is not an OpenAPI or Swagger document: it has no `openapi` or `swagger` field (found fields asyncapi, info); give an OpenAPI 3.0, 3.1 or Swagger 2.0 file"
    );
    let e = Description::parse("x.yaml", "openapi: 4.0.0\npaths: {}\n")
        .err()
        .unwrap();
    assert!(
        e.to_string().contains("openapi 4.0.0 is not supported"),
        "{e}"
    );
    let e = Description::parse("x.yaml", "openapi: [\n").err().unwrap();
    assert!(
        e.to_string()
            .starts_with("API description x.yaml is neither JSON nor YAML: YAML:"),
        "{e}"
    );
    let e = Description::load(std::path::Path::new("/nonexistent/spec.json"))
        .err()
        .unwrap();
    assert!(
        e.to_string()
            .starts_with("cannot read API description /nonexistent/spec.json:"),
        "{e}"
    );
}

fn specs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/specs")
}

#[test]
fn every_published_description_loads_and_known_operations_resolve() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(specs())
        .expect("shared/specs lies beside the repository")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json" || e == "yaml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 8, "{files:?}");
    for file in &files {
        let started = Instant::now();
        let d = Description::load(file).unwrap_or_else(|e| panic!("{e}"));
        println!(
            "{}: {}, {} operations, loaded in {} ms",
            file.file_name().unwrap().to_string_lossy(),
            d.dialect().as_str(),
            d.operation_count(),
            started.elapsed().as_millis()
        );
        assert!(d.operation_count() > 0);
    }
    let expect = |file: &str, method: &str, url: &str, id: &str| {
        let d = Description::load(&specs().join(file)).unwrap();
        let found = d
            .operation(method, url, None)
            .unwrap_or_else(|| panic!("{method} {url} in {file}"));
        assert_eq!(found.id.as_deref(), Some(id), "{file}");
    };
    expect(
        "shopware6-admin-api-6.7.9.1-oas3.json",
        "POST",
        "http://localhost:8000/api/search/order",
        "searchOrder",
    );
    expect(
        "shopware6-admin-api-6.7.9.1-oas3.json",
        "POST",
        "/api/_action/order/0190a3bc4f6c73aa9f3b2b1d5d2e6f10/state/process",
        "orderStateTransition",
    );
    expect(
        "amazon-sp-api-ordersV0.json",
        "GET",
        "/orders/v0/orders?MarketplaceIds=A1",
        "getOrders",
    );
    expect(
        "adobe-commerce-admin-rest-2.4.9-swagger2.yaml",
        "GET",
        "https://shop.example/rest/default/V1/orders",
        "GetV1Orders",
    );
    expect(
        "ebay-sell-fulfillment-v1-oas3.json",
        "GET",
        "/sell/fulfillment/v1/order",
        "getOrders",
    );
    expect(
        "bigcommerce-orders-v2-oas3.yaml",
        "GET",
        "https://api.bigcommerce.com/stores/abc123/v2/orders",
        "getOrders",
    );
    expect(
        "etsy-open-api-v3-oas3.json",
        "GET",
        "/v3/application/shops/12/receipts",
        "getShopReceipts",
    );
}

#[test]
fn published_descriptions_check_real_looking_requests() {
    let d = Description::load(&specs().join("amazon-sp-api-ordersV0.json")).unwrap();
    let m = one(d.check_request(&request(
        "GET",
        "/orders/v0/orders?CreatedAfter=2026-01-01",
        None,
    )));
    assert_eq!(m.part, Part::QueryParameter("MarketplaceIds".into()));
    let ok = request(
        "GET",
        "/orders/v0/orders?MarketplaceIds=ATVPDKIKX0DER&MaxResultsPerPage=20",
        None,
    );
    assert_eq!(d.check_request(&ok), vec![]);

    let d = Description::load(&specs().join("shopware6-admin-api-6.7.9.1-oas3.json")).unwrap();
    let body = json!({ "limit": "ten" });
    let m = one(d.check_request(&request("POST", "/api/search/order", Some(&body))));
    assert_eq!(
        m.schema_path.as_deref(),
        Some("#/components/schemas/Criteria/properties/limit/type")
    );
    assert_eq!(m.operation.unwrap().id.as_deref(), Some("searchOrder"));
}

/// Loads the largest description, then checks 1,000 requests and answers
/// of the operations a Shopware plugin uses, and prints the figures.
#[test]
fn a_thousand_shopware_exchanges_check_quickly() {
    let started = Instant::now();
    let d = Description::load(&specs().join("shopware6-admin-api-6.7.9.1-oas3.json")).unwrap();
    let loaded = started.elapsed();
    let id = "0190a3bc4f6c73aa9f3b2b1d5d2e6f10";
    let search = json!({ "ids": [id], "associations": { "deliveries": {} }, "limit": 1 });
    let transition = json!({});
    let patch = json!({ "trackingCodes": ["1Z999"] });
    let answer = json!({ "total": 0, "data": [] });
    let search_url = "/api/search/order".to_owned();
    let transition_url = format!("/api/_action/order/{id}/state/process");
    let patch_url = format!("/api/order-delivery/{id}");
    let exchanges = [
        request("POST", &search_url, Some(&search)),
        request("POST", &transition_url, Some(&transition)),
        request("PATCH", &patch_url, Some(&patch)),
    ];
    let started = Instant::now();
    let first = exchanges
        .iter()
        .flat_map(|r| d.check_request(r))
        .collect::<Vec<_>>();
    assert_eq!(first, vec![]);
    let compiled = started.elapsed();
    let started = Instant::now();
    let mut mismatches = 0;
    for i in 0..1000 {
        let r = &exchanges[i % exchanges.len()];
        mismatches += d.check_request(r).len();
        // Shopware answers a PATCH 204 without a body, which the
        // description does not list (it is not checked).
        let status = if r.method == "PATCH" { 204 } else { 200 };
        mismatches += d
            .check_answer(
                r,
                &Answer {
                    status,
                    body: Some(&answer),
                },
            )
            .len();
    }
    let checked = started.elapsed();
    assert_eq!(mismatches, 0);
    println!(
        "shopware: load {} ms, first check of 3 operations (compiling) {} ms, 1,000 requests and answers {} ms",
        loaded.as_millis(),
        compiled.as_millis(),
        checked.as_millis()
    );
    assert!(checked.as_secs_f64() < 2.0, "{checked:?}");
}
