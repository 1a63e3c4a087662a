//! The adapter pages (`docs/adapters/<name>.md`) are held to the plugins themselves: each
//! shipped library's metadata, as `sever plugins --json` prints it, names the page's
//! subject, and every action, target field and settings key it declares must be on the
//! page — as must the CLI's every command and flag in `docs/cli.md`. (Config keys, metrics
//! and problem codes are held to the code by `core/engine/tests/docs.rs`.)
//!
//! Needs `cargo build --workspace` first.
#![allow(clippy::unwrap_used)]

use serde_json::Value;
use sever_tests::harness::{plugin_path, run_cli, workspace_dir, write_config};

/// The shipped adapters: every plugin crate under `plugins/` but the template.
fn shipped() -> Vec<String> {
    sever_tests::harness::shipped_adapters()
}

#[test]
fn every_shipped_adapter_has_a_page_naming_its_actions_fields_and_settings() {
    let libraries: Vec<String> = shipped()
        .iter()
        .map(|n| {
            let file = format!("libsever_{}.so", n.replace('-', "_"));
            plugin_path(&file).display().to_string()
        })
        .collect();
    let mut args = vec!["plugins", "--json"];
    args.extend(libraries.iter().map(String::as_str));
    let (code, stdout, stderr) = run_cli(&args, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let listing: Value = serde_json::from_str(stdout.trim()).unwrap();
    let plugins = listing["plugins"].as_array().unwrap();
    assert_eq!(plugins.len(), shipped().len());

    let mut missing = Vec::new();
    for p in plugins {
        let name = p["name"].as_str().unwrap();
        let page = workspace_dir().join(format!("docs/adapters/{name}.md"));
        let Ok(text) = std::fs::read_to_string(&page) else {
            missing.push(format!("{}: no such page", page.display()));
            continue;
        };
        let mut words: Vec<String> = vec![name.to_owned()];
        for a in p["actions"].as_array().unwrap() {
            words.push(a["action"].as_str().unwrap().to_owned());
            for set in a["target_sets"].as_array().unwrap() {
                words.extend(
                    set.as_array()
                        .unwrap()
                        .iter()
                        .map(|f| f.as_str().unwrap().to_owned()),
                );
            }
            words.extend(
                a["optional_fields"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f.as_str().unwrap().to_owned()),
            );
        }
        for s in p["settings"].as_array().unwrap() {
            let key = s["key"].as_str().unwrap();
            words.push(key.to_owned());
            // Secret settings must be marked as such on the page's settings row.
            if s["secret"] == true {
                let row = format!("| `{key}` |");
                let marked = text
                    .lines()
                    .any(|l| l.starts_with(&row) && l.contains("secret"));
                if !marked {
                    missing.push(format!(
                        "{name}: setting {key} not marked secret in its row"
                    ));
                }
            }
        }
        for w in words {
            if !text.contains(&format!("`{w}`")) {
                missing.push(format!("{name}: `{w}`"));
            }
        }
        for heading in [
            "## Actions and target fields",
            "## Settings",
            "**Confirmed**",
            "**Assumed",
        ] {
            if !text.contains(heading) {
                missing.push(format!("{name}: no {heading}"));
            }
        }
        if !text.contains("**What the cut does.**") {
            missing.push(format!("{name}: does not say what the cut does"));
        }
    }
    assert!(missing.is_empty(), "adapter pages incomplete: {missing:#?}");
}

#[test]
fn no_page_describes_an_adapter_that_is_not_shipped() {
    let shipped = shipped();
    for entry in std::fs::read_dir(workspace_dir().join("docs/adapters")).unwrap() {
        let file = entry.unwrap().file_name().to_string_lossy().into_owned();
        let name = file.trim_end_matches(".md");
        assert!(
            shipped.iter().any(|s| s == name),
            "docs/adapters/{file} has no plugin"
        );
    }
}

#[test]
fn every_adapter_pages_example_backend_passes_check() {
    for name in shipped() {
        let page = workspace_dir().join(format!("docs/adapters/{name}.md"));
        let text = std::fs::read_to_string(&page).unwrap();
        let start = text
            .find("```yaml\n")
            .unwrap_or_else(|| panic!("{}: no example", page.display()));
        let example = &text[start + 8..];
        let example = &example[..example.find("```").unwrap()];
        assert!(example.starts_with("backends:"), "{name}: {example}");
        let library = format!("libsever_{}.so", name.replace('-', "_"));
        let yaml = format!(
            "server: {{ listen: \"127.0.0.1:{{{{PORT}}}}\" }}\n\
             plugins: [ {{ path: \"{{{{PLUGIN_DIR}}}}/{library}\" }} ]\n\
             auth: {{ tokens: [ {{ name: t, token_env: DOCS_TOKEN, allow: [] }} ] }}\n{example}"
        );
        let config = write_config(&yaml);
        let vars: Vec<String> = yaml
            .split("${")
            .skip(1)
            .filter_map(|rest| rest.split_once('}').map(|(v, _)| v.to_owned()))
            .chain(std::iter::once("DOCS_TOKEN".to_owned()))
            .collect();
        let values: Vec<String> = vars.iter().map(|v| format!("value-of-{v}")).collect();
        let env: Vec<(&str, &str)> = vars
            .iter()
            .zip(&values)
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let (code, stdout, stderr) = run_cli(
            &["check", "--config", config.path().to_str().unwrap()],
            &env,
        );
        assert_eq!(
            code, 0,
            "docs/adapters/{name}.md's example: {stdout}{stderr}"
        );
    }
}
