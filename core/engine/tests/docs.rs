//! The reference docs are held to the code: every config key the deserializer accepts,
//! every metric the registry exports, every problem code, every endpoint and header of the
//! OpenAPI document must be named in `docs/`. Each list is read from the code itself
//! ([`sever_engine::config::schema_keys`], [`Metrics::names`], [`ProblemCode::ALL`]), so
//! adding a key, a metric or a code without documenting it fails here.
#![allow(clippy::unwrap_used)]

use serde_json::Value;
use sever_engine::config::schema_keys;
use sever_engine::metrics::Metrics;
use sever_engine::problem::ProblemCode;
use std::path::PathBuf;

fn docs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs")
}

fn read(name: &str) -> String {
    let path = docs().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The names that `text` does not mention as inline code (`` `name` ``).
fn undocumented<'a>(text: &str, names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    names
        .into_iter()
        .filter(|n| !text.contains(&format!("`{n}`")))
        .collect()
}

#[test]
fn every_config_key_is_in_the_configuration_reference() {
    let keys = schema_keys();
    assert!(keys.len() > 30, "the probe found too few keys: {keys:#?}");
    let text = read("configuration.md");
    let missing = undocumented(&text, keys.iter().map(String::as_str));
    assert!(
        missing.is_empty(),
        "docs/configuration.md does not name these keys (as `key` in a table row): {missing:#?}"
    );
}

/// The key paths of a YAML document, in `schema_keys` notation: list items as `[]`,
/// the keys under `backends` as `<name>`.
fn example_keys(prefix: &str, value: &serde_yaml::Value, out: &mut Vec<String>) {
    match value {
        serde_yaml::Value::Mapping(map) => {
            for (k, v) in map {
                let key = k.as_str().unwrap_or_default();
                let path = match prefix {
                    "" => key.to_owned(),
                    "backends" => "backends.<name>".to_owned(),
                    _ => format!("{prefix}.{key}"),
                };
                if prefix != "backends" {
                    out.push(path.clone());
                }
                example_keys(&path, v, out);
            }
        }
        serde_yaml::Value::Sequence(items) => {
            for item in items {
                example_keys(&format!("{prefix}[]"), item, out);
            }
        }
        _ => {}
    }
}

#[test]
fn the_complete_example_has_every_key() {
    let text = read("configuration.md");
    let start = text.find("## A complete example").unwrap();
    let block = &text[start..];
    let yaml = &block[block.find("```yaml\n").unwrap() + 8..];
    let yaml = &yaml[..yaml.find("```").unwrap()];
    let doc: serde_yaml::Value = serde_yaml::from_str(yaml).unwrap();
    let mut found = Vec::new();
    example_keys("", &doc, &mut found);
    let missing: Vec<String> = schema_keys()
        .into_iter()
        .filter(|k| !found.contains(k) && !k.starts_with("backends.<name>.settings."))
        .collect();
    assert!(missing.is_empty(), "the complete example lacks {missing:?}");
}

#[test]
fn every_config_key_row_says_whether_it_reloads_or_the_section_does() {
    // Rows of the tables whose first cell is a key: each section's table has a
    // `reload` column, or the section's prose says how it reloads.
    let text = read("configuration.md");
    for section in ["server", "plugins", "audit", "idempotency", "tracing"] {
        let rows: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with(&format!("| `{section}")))
            .collect();
        assert!(!rows.is_empty(), "no table rows for {section}");
        for row in rows {
            assert!(
                row.contains("| live") || row.contains("| restart") || row.contains("| |"),
                "row without a reload column value: {row}"
            );
        }
    }
}

#[test]
fn every_metric_is_in_the_api_reference() {
    let metrics = Metrics::new();
    let names = metrics.names();
    assert!(names.len() >= 10, "{names:?}");
    let text = read("api.md");
    let missing = undocumented(&text, names.iter().map(String::as_str));
    assert!(
        missing.is_empty(),
        "docs/api.md does not name these metrics: {missing:?}"
    );
}

#[test]
fn every_problem_code_is_in_the_api_reference_with_its_status() {
    let text = read("api.md");
    let mut missing = Vec::new();
    for code in ProblemCode::ALL {
        let row = format!("| {} | `{}` |", code.status(), code.as_str());
        if !text.contains(&row) {
            missing.push(row);
        }
    }
    assert!(
        missing.is_empty(),
        "docs/api.md has no problem table row for: {missing:#?}"
    );
}

#[test]
fn every_endpoint_and_header_of_the_openapi_document_is_in_the_api_reference() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let text = read("api.md");
    let mut missing = Vec::new();
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys() {
            let method = method.to_ascii_uppercase();
            if method == "HEAD" {
                continue; // documented once: HEAD is accepted wherever GET is
            }
            let endpoint = format!("{method} {path}");
            if !text.contains(&format!("`{endpoint}`")) {
                missing.push(endpoint);
            }
        }
    }
    let mut headers = Vec::new();
    response_headers(&doc["paths"], &mut headers);
    response_headers(&doc["components"]["responses"], &mut headers);
    let parameters = doc["components"]["parameters"]
        .as_object()
        .unwrap()
        .values()
        .filter(|p| p["in"] == "header")
        .filter_map(|p| p["name"].as_str().map(str::to_owned));
    headers.extend(parameters);
    assert!(headers.len() >= 7, "{headers:?}");
    let lower = text.to_ascii_lowercase();
    for name in headers {
        if !lower.contains(&format!("`{}", name.to_ascii_lowercase())) {
            missing.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "docs/api.md does not name: {missing:#?}"
    );
}

/// The names of the headers the document's answers declare (header objects have a
/// `$ref` or a `schema`; examples of vendor requests, which also have `headers`, do not).
fn response_headers(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Object(headers)) = map.get("headers") {
                for (name, h) in headers {
                    let declared = h.get("$ref").is_some() || h.get("schema").is_some();
                    if declared && !out.contains(name) {
                        out.push(name.clone());
                    }
                }
            }
            map.values().for_each(|v| response_headers(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| response_headers(v, out)),
        _ => {}
    }
}

#[test]
fn the_readme_and_the_shipped_configs_point_at_the_docs_not_at_specs_users_lack() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = vec![
        root.join("README.md"),
        root.join("docs/writing-an-adapter.md"),
    ];
    for entry in std::fs::read_dir(root.join("config")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            files.push(path);
        }
    }
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for phrase in [
            "canonical API spec",
            "vendors spec",
            "canonical-api.md",
            "vendors.md",
        ] {
            assert!(
                !text.contains(phrase),
                "{} refers to \"{phrase}\", which is not in the repository",
                file.display()
            );
        }
    }
}
