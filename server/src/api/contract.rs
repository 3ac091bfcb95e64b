//! What utoipa's attributes cannot say, added to the generated OpenAPI document so that it
//! describes exactly what the server accepts (schemathesis holds the document and the server
//! together in `make test`):
//! - a context is `user=U`, or `tenant=T` with an optional `department` and any `group`s, never
//!   both: one exploded query object whose two shapes are the `oneOf` alternatives;
//! - a token's scopes name each scope once and always hold `read`;
//! - a key definition sent to `PUT /keys/{key}` may leave out `key`.
//!
//! Each change names what it changes and panics when that is missing, so a renamed route or
//! schema fails the tests instead of leaving the document quietly loose.

use serde_json::{Value, json};

/// The routes whose query names a context, and where their context parameters sit.
const CONTEXT_ROUTES: [&str; 3] = ["/api/v1/effective", "/api/v1/watch", "/api/v1/chain/{key}"];
const CONTEXT_PARAMETERS: [&str; 4] = ["user", "tenant", "department", "group"];

/// The exact document.
pub fn exact(mut doc: Value) -> Value {
    for path in CONTEXT_ROUTES {
        one_context(&mut doc, path);
    }
    token_scopes(&mut doc);
    key_definition_body(&mut doc);
    doc
}

/// `PUT /keys/{key}` takes a key definition whose `key` may be left out (the path names it).
fn key_definition_body(doc: &mut Value) {
    let mut body = doc["components"]["schemas"]["KeyDoc"].clone();
    let required = body["required"]
        .as_array_mut()
        .expect("KeyDoc has required fields");
    required.retain(|field| field != "key");
    body["description"] = json!("A key definition; `key` may be left out, the path names it");
    doc["components"]["schemas"]["KeyDefinition"] = body;
    let content = &mut doc["paths"]["/api/v1/keys/{key}"]["put"]["requestBody"]["content"]["application/json"]
        ["schema"];
    assert_eq!(
        content["$ref"], "#/components/schemas/KeyDoc",
        "PUT /keys/{{key}} takes a KeyDoc"
    );
    *content = json!({"$ref": "#/components/schemas/KeyDefinition"});
}

fn slug() -> Value {
    json!({"$ref": "#/components/schemas/Slug"})
}

fn one_context(doc: &mut Value, path: &str) {
    let parameters = doc["paths"][path]["get"]["parameters"]
        .as_array_mut()
        .unwrap_or_else(|| panic!("GET {path} has no parameters"));
    let before = parameters.len();
    parameters.retain(|p| {
        !(p["in"] == "query"
            && CONTEXT_PARAMETERS.contains(&p["name"].as_str().unwrap_or_default()))
    });
    assert_eq!(
        before - parameters.len(),
        CONTEXT_PARAMETERS.len(),
        "GET {path} does not document every context parameter"
    );
    parameters.insert(
        0,
        json!({
            "name": "context",
            "in": "query",
            "required": true,
            "style": "form",
            "explode": true,
            "description": "Whose configuration: `user=U` (a real user: their tenant, department \
                and groups), or the what-if context `tenant=T` with an optional \
                `department=D` and any number of `group=G`",
            "schema": {"oneOf": [
                {
                    "type": "object",
                    "title": "A user",
                    "required": ["user"],
                    "properties": {"user": slug()},
                    "additionalProperties": false
                },
                {
                    "type": "object",
                    "title": "A what-if context",
                    "required": ["tenant"],
                    "properties": {
                        "tenant": slug(),
                        "department": slug(),
                        "group": {"type": "array", "items": slug()}
                    },
                    "additionalProperties": false
                }
            ]}
        }),
    );
}

fn token_scopes(doc: &mut Value) {
    let scopes = &mut doc["components"]["schemas"]["NewToken"]["properties"]["scopes"];
    assert!(scopes.is_object(), "NewToken has no scopes");
    scopes["uniqueItems"] = json!(true);
    scopes["contains"] = json!({"const": "read"});
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_document_is_made_exact_where_attributes_cannot_say_it() {
        let doc = crate::api::document();
        for path in super::CONTEXT_ROUTES {
            let parameters = doc["paths"][path]["get"]["parameters"].as_array().unwrap();
            let names: Vec<&str> = parameters
                .iter()
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            assert!(
                names.contains(&"context") && !names.contains(&"user"),
                "{path}: {names:?}"
            );
        }
        let scopes = &doc["components"]["schemas"]["NewToken"]["properties"]["scopes"];
        assert_eq!(scopes["contains"]["const"], "read");
    }
}
