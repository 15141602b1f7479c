//! The OpenAPI 3.1 document served at `/openapi.json`, built from the route table (so every
//! route is in it) and hand-written schemas of the bodies.

use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use crate::routes::routes;

/// The document.
pub fn document() -> Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(build).clone()
}

fn build() -> Value {
    let mut paths = Map::new();
    for route in routes() {
        let mut parameters = Vec::new();
        for name in ["namespace", "key"] {
            if route.path.contains(&format!("{{{name}}}")) {
                parameters.push(json!({
                    "name": name, "in": "path", "required": true,
                    "schema": { "type": "string" },
                    "description": if name == "key" {
                        "Any UTF-8 key up to 512 bytes, percent-encoded (`/` as `%2F`)"
                    } else {
                        "1..=64 characters of [A-Za-z0-9_-]"
                    },
                }));
            }
        }
        let (status, schema) = route.response;
        let content = match schema {
            Some(name) => {
                json!({ "application/json": { "schema": { "$ref": format!("#/components/schemas/{name}") } } })
            }
            None => json!({ "text/plain": { "schema": { "type": "string" } } }),
        };
        let mut op = json!({
            "operationId": route.operation_id,
            "summary": route.summary,
            "tags": [if route.api { "api" } else { "operations" }],
            "parameters": parameters,
            "responses": {
                status.to_string(): { "description": "Success", "content": content },
                "default": {
                    "description": "Error",
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
                }
            }
        });
        if let Some(body) = route.request {
            op["requestBody"] = json!({
                "required": true,
                "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{body}") } } }
            });
        }
        if route.api {
            op["security"] = json!([{ "bearer": [] }, {}]);
        }
        let entry = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| json!({}));
        entry[route.method.as_str().to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "vector-tier",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Embeddings with metadata and nearest-neighbour search over one API, on in-memory, Redis Stack, Weaviate or PostgreSQL + pgvector backends."
        },
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": schemas()
        }
    })
}

fn schemas() -> Value {
    let embedding = json!({ "type": "array", "items": { "type": "number" }, "minItems": 1 });
    let metadata = json!({ "type": "object", "additionalProperties": true });
    let filter = json!({
        "type": "object",
        "description": "A filter tree: {\"op\":\"eq\",\"field\":\"f\",\"value\":1}, {\"op\":\"in\",\"field\":\"f\",\"values\":[..]}, {\"op\":\"exists\",\"field\":\"f\"}, {\"op\":\"and\",\"filters\":[..]}, {\"op\":\"not\",\"filter\":{..}}; ops eq ne gt gte lt lte in nin exists and or not",
        "required": ["op"],
        "properties": { "op": { "type": "string" } }
    });
    let count = |name: &str| json!({ "type": "object", "required": [name], "properties": { name: { "type": "integer", "minimum": 0 } } });
    let vector = json!({
        "type": "object", "required": ["key", "embedding", "metadata"],
        "properties": { "key": { "type": "string" }, "embedding": embedding, "metadata": metadata }
    });
    json!({
        "Error": {
            "type": "object", "required": ["error"],
            "properties": { "error": { "type": "object", "required": ["kind", "message"], "properties": {
                "kind": { "type": "string", "description": "invalid_namespace, invalid_key, invalid_embedding, invalid_metadata, invalid_argument, dimension_mismatch, config_mismatch, unsupported, unavailable, timeout, backend, capacity_exceeded, invalid_json, invalid_request, invalid_path, unsupported_media_type, payload_too_large, not_found, method_not_allowed, unauthorized, rate_limited" },
                "message": { "type": "string" }
            } } }
        },
        "Status": { "type": "object", "properties": { "status": { "type": "string" }, "backend": { "type": "string" } } },
        "Object": { "type": "object" },
        "Filter": filter,
        "NamespaceList": { "type": "object", "properties": { "namespaces": { "type": "array", "items": { "type": "string" } } } },
        "NamespaceConfig": {
            "type": "object", "required": ["dimension"],
            "properties": {
                "dimension": { "type": "integer", "minimum": 1, "maximum": 16000 },
                "metric": { "type": "string", "enum": ["cosine", "dot_product", "euclidean"], "default": "cosine" },
                "index": { "type": "string", "enum": ["auto", "flat", "hnsw"], "default": "auto" },
                "filterable": { "type": "object", "additionalProperties": { "type": "string", "enum": ["keyword", "number", "bool"] } }
            }
        },
        "NamespaceCreated": { "type": "object", "properties": { "namespace": { "type": "string" }, "config": { "$ref": "#/components/schemas/NamespaceConfig" } } },
        "NamespaceInfo": { "type": "object", "properties": {
            "name": { "type": "string" }, "config": { "$ref": "#/components/schemas/NamespaceConfig" }, "count": { "type": "integer" }
        } },
        "Dropped": { "type": "object", "properties": { "dropped": { "type": "boolean" } } },
        "DeletedOne": { "type": "object", "properties": { "deleted": { "type": "boolean" } } },
        "Deleted": count("deleted"),
        "Upserted": count("upserted"),
        "Count": count("count"),
        "VectorBody": { "type": "object", "required": ["embedding"], "additionalProperties": false,
            "properties": { "embedding": embedding, "metadata": metadata } },
        "Vector": vector,
        "VectorList": { "type": "object", "properties": { "vectors": { "type": "array", "items": { "oneOf": [ { "$ref": "#/components/schemas/Vector" }, { "type": "null" } ] } } } },
        "Record": { "type": "object", "required": ["key", "embedding"], "properties": { "key": { "type": "string" }, "embedding": embedding, "metadata": metadata } },
        "RecordList": { "type": "object", "required": ["records"], "additionalProperties": false,
            "properties": { "records": { "type": "array", "items": { "$ref": "#/components/schemas/Record" } } } },
        "KeyList": { "type": "object", "required": ["keys"], "additionalProperties": false,
            "properties": { "keys": { "type": "array", "items": { "type": "string" } } } },
        "QueryBody": { "type": "object", "required": ["embedding"], "additionalProperties": false, "properties": {
            "embedding": embedding,
            "k": { "type": "integer", "minimum": 1, "maximum": 10000, "default": 10 },
            "threshold": { "type": ["number", "null"], "description": "Inclusive minimum score" },
            "filter": { "$ref": "#/components/schemas/Filter" },
            "include_embedding": { "type": "boolean", "default": false }
        } },
        "QueryResponse": { "type": "object", "properties": { "results": { "type": "array", "items": { "type": "object",
            "required": ["key", "score", "distance", "metadata"],
            "properties": { "key": { "type": "string" }, "score": { "type": "number" }, "distance": { "type": "number" },
                "metadata": metadata, "embedding": embedding } } } } },
        "FilterBody": { "type": "object", "additionalProperties": false, "properties": { "filter": { "$ref": "#/components/schemas/Filter" } } },
        "RequiredFilterBody": { "type": "object", "required": ["filter"], "additionalProperties": false, "properties": { "filter": { "$ref": "#/components/schemas/Filter" } } },
        "ScanBody": { "type": "object", "additionalProperties": false, "properties": {
            "cursor": { "type": ["string", "null"] },
            "page_size": { "type": "integer", "minimum": 0, "maximum": 10000, "description": "0 means 1000" },
            "filter": { "$ref": "#/components/schemas/Filter" }
        } },
        "ScanPage": { "type": "object", "properties": {
            "records": { "type": "array", "items": { "$ref": "#/components/schemas/Record" } },
            "next_cursor": { "type": ["string", "null"] }
        } }
    })
}
