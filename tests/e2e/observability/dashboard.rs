//! Reading `config/grafana/sever-dashboard.json`: the structure Grafana needs to import it,
//! and the metric names its PromQL expressions use.

use serde_json::Value;

/// Panel types the dashboard may use (built into every Grafana since 8).
const PANEL_TYPES: &[&str] = &["timeseries", "stat"];
/// PromQL words that are not metric names (aggregations, which `by (…)` may follow before
/// their `(`, among them).
const KEYWORDS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "bool",
    "and",
    "or",
    "unless",
    "inf",
    "nan",
];

/// The dashboard file, parsed; panics if it is not JSON.
pub(crate) fn load() -> Value {
    let path = super::support::workspace_file("config/grafana/sever-dashboard.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Every problem that would stop Grafana from importing and drawing the dashboard.
pub(crate) fn structure_problems(dashboard: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut need = |ok: bool, what: String| {
        if !ok {
            problems.push(what);
        }
    };
    need(
        dashboard["title"].as_str().is_some_and(|t| !t.is_empty()),
        "title: a non-empty string".into(),
    );
    let uid = dashboard["uid"].as_str().unwrap_or_default();
    need(
        (1..=40).contains(&uid.len())
            && uid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        format!("uid: 1–40 characters of [A-Za-z0-9_-], not {uid:?}"),
    );
    need(
        dashboard["schemaVersion"]
            .as_u64()
            .is_some_and(|v| (36..=41).contains(&v)),
        "schemaVersion: a number near 39".into(),
    );
    let variables = dashboard["templating"]["list"].as_array();
    need(
        variables.is_some_and(|list| {
            list.iter()
                .any(|v| v["type"] == "datasource" && v["query"] == "prometheus")
        }),
        "templating: a `datasource` variable of type prometheus".into(),
    );
    let panels = dashboard["panels"].as_array().cloned().unwrap_or_default();
    need(!panels.is_empty(), "panels: a non-empty list".into());
    let mut ids = Vec::new();
    for (i, panel) in panels.iter().enumerate() {
        let at = format!("panels[{i}] ({})", panel["title"]);
        let id = panel["id"].as_u64();
        need(
            id.is_some_and(|id| !ids.contains(&id)),
            format!("{at}: a unique numeric id"),
        );
        ids.extend(id);
        let kind = panel["type"].as_str().unwrap_or_default();
        need(
            PANEL_TYPES.contains(&kind),
            format!("{at}: type one of {PANEL_TYPES:?}, not {kind:?}"),
        );
        need(
            panel["title"].as_str().is_some_and(|t| !t.is_empty()),
            format!("{at}: a title"),
        );
        let grid = &panel["gridPos"];
        let cell = |k: &str| grid[k].as_u64();
        need(
            matches!(
                (cell("h"), cell("w"), cell("x"), cell("y")),
                (Some(h), Some(w), Some(x), Some(_)) if h > 0 && w > 0 && x + w <= 24
            ),
            format!("{at}: gridPos with h, w, x, y inside 24 columns"),
        );
        need(
            panel["datasource"]["type"] == "prometheus"
                && panel["datasource"]["uid"].as_str().is_some(),
            format!("{at}: a prometheus datasource with a uid"),
        );
        let targets = panel["targets"].as_array().cloned().unwrap_or_default();
        need(!targets.is_empty(), format!("{at}: at least one target"));
        let mut ref_ids = Vec::new();
        for (j, target) in targets.iter().enumerate() {
            need(
                target["expr"]
                    .as_str()
                    .is_some_and(|e| !e.trim().is_empty()),
                format!("{at}.targets[{j}]: an expr"),
            );
            let ref_id = target["refId"].as_str().unwrap_or_default();
            need(
                !ref_id.is_empty() && !ref_ids.contains(&ref_id),
                format!("{at}.targets[{j}]: a unique refId"),
            );
            ref_ids.push(ref_id);
            need(
                target["datasource"]["type"] == "prometheus",
                format!("{at}.targets[{j}]: a prometheus datasource"),
            );
        }
    }
    problems
}

/// Every (panel title, PromQL expression) of the dashboard.
pub(crate) fn expressions(dashboard: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().into_iter().flatten() {
        let title = panel["title"].as_str().unwrap_or_default().to_owned();
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = target["expr"].as_str() {
                out.push((title.clone(), expr.to_owned()));
            }
        }
    }
    out
}

/// The metric names a PromQL expression selects: identifiers outside strings, label
/// matchers (`{…}`), ranges (`[…]`) and `by`/`without`/`on`/`ignoring` lists, that are
/// neither functions (followed by `(`) nor keywords.
pub(crate) fn metric_names(expr: &str) -> Vec<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = Vec::new();
    let mut i = 0;
    let mut after_grouping = false;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => i = skip_string(&chars, i),
            '{' => i = skip_to(&chars, i, '}'),
            '[' => i = skip_to(&chars, i, ']'),
            '(' if after_grouping => {
                i = skip_to(&chars, i, ')');
                after_grouping = false;
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let next = chars[i..].iter().find(|c| !c.is_whitespace());
                let lower = word.to_ascii_lowercase();
                if [
                    "by",
                    "without",
                    "on",
                    "ignoring",
                    "group_left",
                    "group_right",
                ]
                .contains(&lower.as_str())
                {
                    after_grouping = true;
                } else {
                    after_grouping = false;
                    if next != Some(&'(') && !KEYWORDS.contains(&lower.as_str()) {
                        names.push(word);
                    }
                }
                continue;
            }
            // Numbers (0.99, 1e3) and durations (5m) are not names.
            c if c.is_ascii_digit() || c == '.' => {
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
                continue;
            }
            _ => i += 1,
        }
    }
    names
}

/// The index after the closing quote of the string starting at `i`.
fn skip_string(chars: &[char], i: usize) -> usize {
    let quote = chars[i];
    let mut j = i + 1;
    while j < chars.len() && chars[j] != quote {
        if chars[j] == '\\' && quote != '`' {
            j += 1;
        }
        j += 1;
    }
    j + 1
}

/// The index after the `close` that ends the group opened at `i` (strings inside skipped).
fn skip_to(chars: &[char], i: usize, close: char) -> usize {
    let mut j = i + 1;
    while j < chars.len() && chars[j] != close {
        if matches!(chars[j], '"' | '\'' | '`') {
            j = skip_string(chars, j);
        } else {
            j += 1;
        }
    }
    j + 1
}

/// The expression as Grafana would send it with every variable at its default ("All"
/// backends, a 1 m rate interval).
pub(crate) fn as_sent(expr: &str) -> String {
    expr.replace("$__rate_interval", "1m")
        .replace("$__interval", "15s")
        .replace("$__range", "5m")
        .replace("$backend", ".*")
}
