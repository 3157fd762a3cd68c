//! OpenAPI 3.0 → Swagger 2.0, the shapes `/openapi/v2` uses: `#/definitions/` references,
//! `$ref` next to its description instead of `allOf`, parameters with their `type` inline,
//! request bodies as `body` parameters, `consumes` / `produces` lists.

use serde_json::{Map, Value, json};

use super::REF_PREFIX;

/// A v3 schema as v2 writes it.
pub fn schema(v3: &Value) -> Value {
    let Some(obj) = v3.as_object() else {
        return v3.clone();
    };
    let mut out = Map::new();
    // `allOf: [{$ref}]` with siblings is a plain `$ref` with siblings in v2.
    let single_ref = obj
        .get("allOf")
        .and_then(Value::as_array)
        .filter(|a| a.len() == 1)
        .and_then(|a| a[0].get("$ref"))
        .and_then(Value::as_str);
    for (key, value) in obj {
        match key.as_str() {
            "$ref" => {
                out.insert(
                    key.clone(),
                    json!(convert_ref(value.as_str().unwrap_or(""))),
                );
            }
            "allOf" if single_ref.is_some() => {
                out.insert("$ref".into(), json!(convert_ref(single_ref.unwrap_or(""))));
            }
            "default" if single_ref.is_some() => {}
            "nullable" => {}
            "properties" => {
                let props: Map<String, Value> = value
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), schema(v)))
                    .collect();
                out.insert(key.clone(), Value::Object(props));
            }
            "items" | "additionalProperties" | "not" => {
                out.insert(key.clone(), schema(value));
            }
            "allOf" | "oneOf" | "anyOf" => {
                let list: Vec<Value> = value.as_array().into_iter().flatten().map(schema).collect();
                out.insert(key.clone(), Value::Array(list));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(out)
}

fn convert_ref(r: &str) -> String {
    match r.strip_prefix(REF_PREFIX) {
        Some(name) => format!("#/definitions/{name}"),
        None => r.to_string(),
    }
}

/// A v3 parameter (with `schema`) as a v2 non-body parameter.
fn parameter(p: &Value) -> Value {
    let mut out = json!({ "name": p["name"], "in": p["in"] });
    for key in ["description", "required"] {
        if let Some(v) = p.get(key) {
            out[key] = v.clone();
        }
    }
    for key in ["type", "uniqueItems"] {
        if let Some(v) = p["schema"].get(key) {
            out[key] = v.clone();
        }
    }
    out
}

/// The schema of the first content entry of a body or response.
fn content_schema(content: &Value) -> Option<Value> {
    content
        .as_object()?
        .values()
        .next()?
        .get("schema")
        .map(schema)
}

fn operation(op: &Value) -> Value {
    let mut out = Map::new();
    for key in [
        "description",
        "operationId",
        "tags",
        "x-kubernetes-action",
        "x-kubernetes-group-version-kind",
    ] {
        if let Some(v) = op.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    let mut params: Vec<Value> = op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(parameter)
        .collect();
    let consumes: Vec<String> = match op.get("requestBody") {
        Some(body) => {
            let mut p = json!({ "name": "body", "in": "body" });
            if body["required"] == true {
                p["required"] = json!(true);
            }
            if let Some(s) = content_schema(&body["content"]) {
                p["schema"] = s;
            }
            params.insert(0, p);
            body["content"]
                .as_object()
                .map(|c| c.keys().cloned().collect())
                .unwrap_or_default()
        }
        None => vec!["*/*".to_string()],
    };
    if !params.is_empty() {
        out.insert("parameters".into(), Value::Array(params));
    }
    out.insert("consumes".into(), json!(consumes));
    let produces: Vec<String> = op["responses"]["200"]["content"]
        .as_object()
        .map(|c| c.keys().cloned().collect())
        .unwrap_or_default();
    out.insert("produces".into(), json!(produces));
    out.insert("schemes".into(), json!(["https"]));
    let mut responses = Map::new();
    for (code, resp) in op["responses"].as_object().into_iter().flatten() {
        let mut r = json!({ "description": resp["description"] });
        if let Some(s) = content_schema(&resp["content"]) {
            r["schema"] = s;
        }
        responses.insert(code.clone(), r);
    }
    out.insert("responses".into(), Value::Object(responses));
    Value::Object(out)
}

/// A v3 path item as v2 writes it.
pub fn path_item(item: &Value) -> Value {
    let mut out = Map::new();
    for (key, value) in item.as_object().into_iter().flatten() {
        match key.as_str() {
            "parameters" => {
                let params: Vec<Value> = value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(parameter)
                    .collect();
                out.insert(key.clone(), Value::Array(params));
            }
            "get" | "put" | "post" | "delete" | "patch" | "head" | "options" => {
                out.insert(key.clone(), operation(value));
            }
            _ => {}
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_and_all_of_become_v2() {
        let v3 = json!({"properties": {
            "metadata": {"allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}], "default": {}, "description": "meta"},
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/X"}},
            "maybe": {"type": "string", "nullable": true}
        }});
        let v2 = schema(&v3);
        assert_eq!(
            v2["properties"]["metadata"],
            json!({"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "description": "meta"})
        );
        assert_eq!(
            v2["properties"]["items"]["items"]["$ref"],
            "#/definitions/X"
        );
        assert_eq!(v2["properties"]["maybe"], json!({"type": "string"}));
    }

    #[test]
    fn operations_get_body_consumes_and_produces() {
        let item = json!({
            "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string", "uniqueItems": true}}],
            "patch": {
                "operationId": "patchCoreV1NamespacedConfigMap",
                "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}}],
                "requestBody": {"content": {"application/merge-patch+json": {"schema": {"$ref": "#/components/schemas/P"}}}, "required": true},
                "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/C"}}}}},
                "x-kubernetes-group-version-kind": {"group": "", "kind": "ConfigMap", "version": "v1"}
            }
        });
        let v2 = path_item(&item);
        assert_eq!(
            v2["parameters"][0],
            json!({"name": "name", "in": "path", "required": true, "type": "string", "uniqueItems": true})
        );
        let patch = &v2["patch"];
        assert_eq!(
            patch["parameters"][0],
            json!({"name": "body", "in": "body", "required": true, "schema": {"$ref": "#/definitions/P"}})
        );
        assert_eq!(patch["parameters"][1]["name"], "fieldValidation");
        assert_eq!(patch["consumes"], json!(["application/merge-patch+json"]));
        assert_eq!(patch["produces"], json!(["application/json"]));
        assert_eq!(
            patch["responses"]["200"]["schema"]["$ref"],
            "#/definitions/C"
        );
    }
}
