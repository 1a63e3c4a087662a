//! The endpoints that read state and change nothing (spec §6): health, readiness,
//! metrics, and the lists of backends and plugins.

use crate::plugin::{Plugin, SEVER_ABI_MAJOR};
use crate::problem::Answer;
use crate::Sever;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;

impl Sever {
    /// `GET /healthz`.
    pub fn healthz(&self) -> Answer {
        Answer::json(200, &json!({"status": "ok"}))
    }

    /// `GET /readyz`: 200 once config and plugins are loaded and the listener serves.
    /// 503 while starting, and while the audit log cannot be written (so that load
    /// balancers stop sending requests that would be refused).
    pub fn readyz(&self) -> Answer {
        if !self.ready.load(Ordering::Acquire) {
            Answer::json(503, &json!({"status": "starting"}))
        } else if self.audit.as_ref().is_some_and(|a| !a.ready()) {
            Answer::json(503, &json!({"status": "audit_unavailable"}))
        } else {
            Answer::json(200, &json!({"status": "ready"}))
        }
    }

    /// `GET /metrics`.
    pub fn metrics_answer(&self) -> Answer {
        Answer::text(
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            self.metrics.render(),
        )
    }

    /// `GET /v1/backends`: names, plugins, tags, actions and breaker state; no settings.
    pub fn backends_answer(&self) -> Answer {
        let list: Vec<Value> = self
            .backends
            .iter()
            .map(|b| {
                let info = b.plugin().info();
                json!({
                    "name": b.name,
                    "plugin": info.name,
                    "tags": b.tags,
                    "actions": info.actions.iter().map(|a| a.action).collect::<Vec<_>>(),
                    "breaker": b.circuit_state().as_str(),
                })
            })
            .collect();
        Answer::json(200, &json!({ "backends": list }))
    }

    /// `GET /v1/plugins`: name, version, ABI version, actions with their target fields.
    pub fn plugins_answer(&self) -> Answer {
        let list: Vec<Value> = self.plugins.iter().map(|p| plugin_json(p)).collect();
        Answer::json(200, &json!({ "plugins": list }))
    }
}

/// The JSON shape of one plugin for `/v1/plugins` and `sever plugins`.
pub fn plugin_json(p: &Plugin) -> Value {
    let info = p.info();
    json!({
        "name": info.name,
        "version": info.version,
        "abi": SEVER_ABI_MAJOR,
        "abi_minor": p.abi_minor(),
        "transport": info.transport,
        "url_schemes": info.schemes(),
        "description": info.description,
        "path": p.path(),
        "actions": info.actions.iter().map(|a| json!({
            "action": a.action,
            "target_sets": a.target_sets,
            "optional_fields": a.optional_fields,
            "description": a.description,
        })).collect::<Vec<_>>(),
        "settings": info.settings.iter().map(|s| json!({
            "key": s.key, "secret": s.secret, "required": s.required, "description": s.description,
        })).collect::<Vec<_>>(),
    })
}
