//! End to end through the real `sever` and a real headless Chromium (`console/browser.rs`):
//! the responder console at `/console` — a dry-run shows the planned, redacted request and
//! sends nothing; a confirmed disconnect shows `done` and the simulator got exactly one
//! call; a fan-out picked by tags answers 207 and the page shows each backend's result; a
//! forbidden backend shows the 403 problem; a request an `approvals` rule holds shows 202,
//! its requester cannot approve it, and an approver sees its plan and approves it (one
//! vendor call). The token never reaches the URL, web storage
//! or a cookie. Each test saves a screenshot under `target/console-screenshots/`. Without
//! the browser the tests fail (scripts/setup installs `chromium` and `chromium-driver`).
//!
//! The headers of the console's files (CSP, nosniff, types, caching) are checked over
//! plain HTTP, and `server.console: false` turns the page off.
//!
//! Needs `cargo build --workspace` first (the `sever` binary and `libsever_cedalo.so`).
#![allow(clippy::unwrap_used)]

mod browser;

use crate::common::*;
use browser::{is_png, run, Browser};
use sever_tests::harness::{http, Sever};
use sever_tests::sim::{CedaloSim, SimConfig};
use std::time::Duration;

/// Each browser test's own deadline.
const LIMIT: Duration = Duration::from_secs(120);

/// `mqtt-eu` (the common project and broker, so the common call assertions hold) and
/// `mqtt-us`, both tagged `mqtt`; `narrow` may disconnect on `mqtt-us` only.
const CONFIG: &str = r#"server: { listen: "127.0.0.1:{{PORT}}", request_timeout_ms: 3000 @SERVER@ }
plugins: [ { path: "{{PLUGIN_DIR}}/libsever_cedalo.so" } ]
auth:
  tokens:
    - { name: oncall, token_env: ONCALL_TOKEN, allow: [ { backends: ["*"], actions: ["disconnect", "terminate", "unbind"] } ] }
    - { name: narrow, token_env: NARROW_TOKEN, allow: [ { backends: ["mqtt-us"], actions: ["disconnect"] } ] }
audit: { path: "audit.jsonl" }
backends:
  mqtt-eu:
    plugin: cedalo
    url: "@EU@"
    timeout_ms: 1000
    retries: 0
    tags: ["mqtt", "eu"]
    settings: { project_id: "proj-7f3a", broker_id: "brk-19c2", token: "${CEDALO_TOKEN}" }
  mqtt-us:
    plugin: cedalo
    url: "@US@"
    timeout_ms: 1000
    retries: 0
    tags: ["mqtt", "us"]
    settings: { project_id: "p-us", broker_id: "b1", token: "${CEDALO_TOKEN}" }
"#;

struct Fleet {
    eu: CedaloSim,
    us: CedaloSim,
    sever: Sever,
}

/// `sensor-1` is connected on `mqtt-eu` only.
fn fleet(server_extra: &str) -> Fleet {
    let eu = sim(&["sensor-1"]);
    let us = sim_with(SimConfig::new("p-us", "b1", CEDALO_TOKEN), &[]);
    let config = CONFIG
        .replace("@EU@", &eu.url())
        .replace("@US@", &us.url())
        .replace("@SERVER@", server_extra);
    let sever = Sever::start(&config, &env());
    Fleet { eu, us, sever }
}

/// Opens the console and enters `token`; the backends are listed once it is accepted.
async fn signed_in(sever: &Sever, token: &str) -> Browser {
    let browser = Browser::start().await;
    browser.client.goto(&sever.url("/console")).await.unwrap();
    browser.element("body[data-ready=\"true\"]").await;
    browser.type_into("#token", token).await;
    browser.click("#token-use").await;
    browser.element("#select:not([hidden]) input.backend").await;
    browser
}

/// Fills the target field and the reason, then previews.
async fn fill_and_preview(browser: &Browser, client_id: &str) {
    browser.type_into("#field-client_id", client_id).await;
    browser.type_into("#reason", "INC-9 console").await;
    browser.click("#preview").await;
}

/// The token is nowhere the page could leak it: URL, web storage, cookies, the field.
async fn assert_token_kept_in_memory_only(browser: &Browser, token: &str) {
    let url = browser.client.current_url().await.unwrap();
    assert!(!url.as_str().contains(token), "{url}");
    let kept = browser
        .eval(
            "return JSON.stringify([location.href, Object.entries(localStorage), \
             Object.entries(sessionStorage), document.cookie, \
             document.getElementById('token').value, history.length])",
        )
        .await;
    let kept = kept.as_str().unwrap();
    assert!(!kept.contains(token), "{kept}");
    assert!(
        kept.contains("[],[],\"\",\"\""),
        "storage, cookies and the field are empty: {kept}"
    );
}

#[test]
fn a_dry_run_shows_the_planned_redacted_request_and_sends_nothing() {
    let Fleet { eu, us, sever } = fleet("");
    run(LIMIT, async {
        let browser = signed_in(&sever, ONCALL).await;
        browser.click("#backend-mqtt-eu").await;
        fill_and_preview(&browser, "sensor-1").await;

        let planned = browser.text("#preview-out .planned-request").await;
        assert!(planned.starts_with("PUT http://127.0.0.1:"), "{planned}");
        assert!(planned.contains(&vendor_path("sensor-1")), "{planned}");
        assert!(planned.contains("authorization: <redacted>"), "{planned}");
        assert!(planned.contains(r#"{"clientId":"sensor-1"}"#), "{planned}");
        assert!(!planned.contains(CEDALO_TOKEN), "{planned}");
        let summary = browser.text("#preview-out .summary").await;
        assert_eq!(summary, "200 dry_run");
        let confirm = browser.element("#confirm").await;
        assert!(
            confirm.is_enabled().await.unwrap(),
            "a previewed request can be confirmed"
        );
        // The stylesheet loaded under the policy (style-src 'self').
        let rules = browser
            .eval("return document.styleSheets[0].cssRules.length")
            .await;
        assert!(rules.as_u64().unwrap() > 0, "{rules}");
        assert_token_kept_in_memory_only(&browser, ONCALL).await;
        let shot = browser.screenshot("dry-run", "#preview-out").await;
        assert!(is_png(&shot), "{}", shot.display());
        browser.close().await;
    });
    assert_nothing_sent(&eu);
    assert_nothing_sent(&us);
}

#[test]
fn a_confirmed_disconnect_shows_done_and_the_vendor_got_one_call() {
    let Fleet { eu, us, sever } = fleet("");
    run(LIMIT, async {
        let browser = signed_in(&sever, ONCALL).await;
        browser.click("#backend-mqtt-eu").await;
        fill_and_preview(&browser, "sensor-1").await;
        browser.element("#preview-out .planned-request").await;
        assert_nothing_sent(&eu);
        browser.click("#confirm").await;

        let done = browser
            .text("#result-out .result[data-outcome=\"done\"]")
            .await;
        assert!(done.starts_with("mqtt-eu: done"), "{done}");
        assert_eq!(browser.text("#result-out .summary").await, "200 done");
        // The audit trail shows the request, intent and outcome joined.
        let row = browser
            .text("#audit-rows[data-loads=\"2\"] tr.audit-entry td.state-ended")
            .await;
        assert_eq!(row, "mqtt-eu: done");
        let entry = browser.text("#audit-rows tr.audit-entry").await;
        assert!(
            entry.contains("oncall") && entry.contains("INC-9 console"),
            "{entry}"
        );
        assert_token_kept_in_memory_only(&browser, ONCALL).await;
        let shot = browser.screenshot("disconnect", "#result-out").await;
        assert!(is_png(&shot));
        browser.close().await;
    });
    assert_one_disconnect_call(&eu, "sensor-1");
    assert!(!eu.is_connected("sensor-1"));
    assert_nothing_sent(&us);
}

#[test]
fn a_fan_out_by_tags_answering_207_shows_each_backends_result() {
    let Fleet { eu, us, sever } = fleet("");
    run(LIMIT, async {
        let browser = signed_in(&sever, ONCALL).await;
        browser.click("#mode-tags").await;
        browser.click("#tag-mqtt").await;
        let selection = browser.text("#selection").await;
        assert_eq!(selection, "Selected: mqtt-eu, mqtt-us");
        fill_and_preview(&browser, "sensor-1").await;
        // The dry-run plans both backends' calls.
        browser
            .element("#preview-out .result[data-backend=\"mqtt-us\"] .planned-request")
            .await;
        browser.click("#confirm").await;

        browser.element("#result-out[data-status=\"207\"]").await;
        let summary = browser.text("#result-out .summary").await;
        assert!(summary.starts_with("207 partial"), "{summary}");
        assert!(
            summary.contains("done 1") && summary.contains("failed 1"),
            "{summary}"
        );
        let eu_result = browser
            .text("#result-out .result[data-backend=\"mqtt-eu\"][data-outcome=\"done\"]")
            .await;
        assert!(eu_result.starts_with("mqtt-eu: done"), "{eu_result}");
        let us_result = browser
            .text("#result-out .result[data-backend=\"mqtt-us\"][data-code=\"target_not_found\"]")
            .await;
        assert!(us_result.contains("mqtt-us: failed"), "{us_result}");
        assert!(us_result.contains("404 target_not_found"), "{us_result}");
        let shot = browser.screenshot("fan-out-207", "#result-out").await;
        assert!(is_png(&shot));
        browser.close().await;
    });
    assert_one_disconnect_call(&eu, "sensor-1");
    assert_eq!(
        us.calls().len(),
        1,
        "mqtt-us was asked and had no such client"
    );
}

#[test]
fn a_forbidden_backend_shows_the_403_problem_and_nothing_is_sent() {
    let Fleet { eu, us, sever } = fleet("");
    run(LIMIT, async {
        let browser = signed_in(&sever, NARROW).await;
        browser.click("#backend-mqtt-eu").await;
        fill_and_preview(&browser, "sensor-1").await;

        let problem = browser
            .text("#preview-out .problem[data-code=\"forbidden\"]")
            .await;
        assert!(problem.starts_with("403 forbidden"), "{problem}");
        assert!(problem.contains("mqtt-eu"), "{problem}");
        let confirm = browser.element("#confirm").await;
        assert!(
            !confirm.is_enabled().await.unwrap(),
            "a refused preview cannot be confirmed"
        );
        // The audit trail shows nothing of mqtt-eu to a caller outside it.
        browser.element("#audit-rows[data-loads=\"1\"]").await;
        browser.click("#audit-refresh").await;
        let rows = browser.text("#audit-rows[data-loads=\"2\"] td.note").await;
        assert_eq!(rows, "No entries.");
        assert_token_kept_in_memory_only(&browser, NARROW).await;
        let shot = browser.screenshot("forbidden", "#preview-out").await;
        assert!(is_png(&shot));
        browser.close().await;
    });
    assert_nothing_sent(&eu);
    assert_nothing_sent(&us);
}

/// Every disconnect on `mqtt-us` waits for `narrow` (whose allow rules cover it).
const APPROVALS: &str = r#"approvals:
  rules:
    - { backends: ["mqtt-us"], approvers: ["narrow"], ttl_ms: 600000 }
"#;

#[test]
fn a_held_request_waits_in_the_console_until_another_caller_approves_it() {
    let eu = sim(&[]);
    let us = sim_with(SimConfig::new("p-us", "b1", CEDALO_TOKEN), &["pump-4"]);
    let config = CONFIG
        .replace("@EU@", &eu.url())
        .replace("@US@", &us.url())
        .replace("@SERVER@", "")
        + APPROVALS;
    let sever = Sever::start(&config, &env());
    run(LIMIT, async {
        // oncall asks: the rule holds the request and nothing is sent.
        let browser = signed_in(&sever, ONCALL).await;
        browser.click("#backend-mqtt-us").await;
        fill_and_preview(&browser, "pump-4").await;
        browser.element("#preview-out .planned-request").await;
        browser.click("#confirm").await;
        let held = browser
            .text("#result-out[data-status=\"202\"] .summary")
            .await;
        assert_eq!(held, "202 pending approval: nothing was sent");
        assert_nothing_sent(&us);
        // Its own request is listed, and the requester may not approve it.
        browser
            .click("#approvals-list .approval[data-state=\"pending\"] button.approve")
            .await;
        let refused = browser
            .text("#approvals-list .decision[data-status=\"403\"] .problem")
            .await;
        assert!(refused.starts_with("403 forbidden"), "{refused}");
        assert_nothing_sent(&us);
        browser.close().await;

        // narrow, an approver the rule names, sees what would be sent and approves.
        let browser = signed_in(&sever, NARROW).await;
        let card = browser
            .text("#approvals-list .approval[data-state=\"pending\"]")
            .await;
        assert!(card.contains("asked by oncall"), "{card}");
        assert!(card.contains("authorization: <redacted>"), "{card}");
        assert!(!card.contains(CEDALO_TOKEN), "{card}");
        browser
            .click("#approvals-list .approval[data-state=\"pending\"] button.approve")
            .await;
        let done = browser
            .text("#approvals-list .decision[data-status=\"200\"] .result[data-outcome=\"done\"]")
            .await;
        assert!(done.starts_with("mqtt-us: done"), "{done}");
        let shot = browser.screenshot("approval", "#approvals").await;
        assert!(is_png(&shot));
        browser.close().await;
    });
    assert_eq!(us.calls().len(), 1, "the approved request ran once");
    assert!(!us.is_connected("pump-4"));
    assert_nothing_sent(&eu);
}

#[test]
fn the_consoles_files_carry_a_strict_policy_their_types_and_revalidation() {
    let Fleet { sever, .. } = fleet("");
    let csp = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
               img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
    for (path, kind) in [
        ("/console", "text/html; charset=utf-8"),
        ("/console/console.js", "text/javascript; charset=utf-8"),
        ("/console/console.css", "text/css; charset=utf-8"),
    ] {
        let reply = http::get(&sever.url(path), None);
        assert_eq!(reply.status, 200, "{path} needs no token: {reply:#?}");
        assert_eq!(reply.header("content-type"), Some(kind), "{path}");
        assert_eq!(reply.header("content-security-policy"), Some(csp), "{path}");
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(reply.header("x-frame-options"), Some("DENY"));
        assert_eq!(reply.header("cache-control"), Some("no-cache"));
        let etag = reply.header("etag").unwrap().to_owned();
        let again = http::send("GET", &sever.url(path), &[("if-none-match", &etag)], None);
        assert_eq!(again.status, 304, "{again:#?}");
        assert!(again.text.is_empty());
    }
    let page = http::get(&sever.url("/console"), None);
    assert!(page
        .text
        .contains("<script src=\"/console/console.js\" defer></script>"));
    assert_eq!(
        http::get(&sever.url("/console/nothing.js"), None).status,
        404
    );
    let post = http::send("POST", &sever.url("/console"), &[], Some(b"x"));
    assert_eq!((post.status, post.header("allow")), (405, Some("GET")));
    // API answers are still never stored.
    let api = http::get(&sever.url("/v1/backends"), Some(ONCALL));
    assert_eq!(api.header("cache-control"), Some("no-store"));

    let Fleet { sever: off, .. } = fleet(", console: false");
    http::get(&off.url("/console"), None).expect_problem(404, "not_found");
}
