//! The case file (`conformance.yaml`): its types, read with serde, and the checks that
//! make a mistake in it an error naming the case instead of a confusing failure.

use super::matcher::Matcher;
use serde::Deserialize;
use serde_json::{Map, Value};
use sever_plugin_abi::{Action, BackendSpec, Env, ProblemKind, Request, Target};

pub(crate) use super::step::{Expect, RequestExpect, StepSpec};

/// The clock every call sees unless the file or a case says otherwise:
/// 2023-11-14T22:13:20Z.
pub(crate) const DEFAULT_UNIX_MS: u64 = 1_700_000_000_000;
/// The random bytes every call sees unless the file or a case says otherwise: 32 × `7`.
pub(crate) const DEFAULT_RANDOM: u8 = 7;
/// The `request_id` of a request that names none.
pub(crate) const DEFAULT_REQUEST_ID: &str = "conformance-request";

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CaseFile {
    /// The name the plugin's descriptor must report (`cedalo`).
    pub(crate) plugin: String,
    /// The library's file stem when it is not the package name (`sever_cedalo` for
    /// `libsever_cedalo.so`).
    #[serde(default)]
    pub(crate) library: Option<String>,
    /// The clock and random bytes of every call (each case may override them).
    #[serde(default)]
    pub(crate) env: EnvSpec,
    /// The backend every case is run on (each case may patch it).
    pub(crate) backend: BackendSpec,
    pub(crate) cases: Vec<Case>,
}

/// `env:` — a clock and random bytes; absent parts are inherited.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct EnvSpec {
    pub(crate) unix_ms: Option<u64>,
    pub(crate) random: Option<RandomSpec>,
}

/// `random:` — one byte repeated 32 times (`7`), or 64 hex digits.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum RandomSpec {
    Fill(u8),
    Hex(String),
}

impl EnvSpec {
    /// This env with `over`'s parts replacing its own.
    pub(crate) fn patched(&self, over: Option<&EnvSpec>) -> EnvSpec {
        let Some(over) = over else {
            return self.clone();
        };
        EnvSpec {
            unix_ms: over.unix_ms.or(self.unix_ms),
            random: over.random.clone().or_else(|| self.random.clone()),
        }
    }

    /// The env passed to the plugin.
    pub(crate) fn to_env(&self) -> Result<Env, String> {
        let random = match &self.random {
            None => [DEFAULT_RANDOM; 32],
            Some(RandomSpec::Fill(byte)) => [*byte; 32],
            Some(RandomSpec::Hex(hex)) => parse_hex32(hex)?,
        };
        Ok(Env {
            unix_ms: self.unix_ms.unwrap_or(DEFAULT_UNIX_MS),
            random,
        })
    }
}

fn parse_hex32(hex: &str) -> Result<[u8; 32], String> {
    let bad = || format!("env.random: {hex:?} is neither a byte (0-255) nor 64 hex digits");
    if hex.len() != 64 || !hex.is_ascii() {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// `backend:` inside a case: replaces the name or URL, and patches settings key by key
/// (a key set to `null` is removed).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct BackendPatch {
    pub(crate) name: Option<String>,
    pub(crate) url: Option<String>,
    pub(crate) settings: Map<String, Value>,
}

impl BackendPatch {
    pub(crate) fn apply(&self, base: &BackendSpec) -> BackendSpec {
        let mut spec = base.clone();
        if let Some(name) = &self.name {
            spec.name.clone_from(name);
        }
        if let Some(url) = &self.url {
            spec.url.clone_from(url);
        }
        for (key, value) in &self.settings {
            if value.is_null() {
                spec.settings.remove(key);
            } else {
                spec.settings.insert(key.clone(), value.clone());
            }
        }
        spec
    }
}

/// One case: a backend (the file's, patched), then either the settings errors creating it
/// must give, or a flow (and optionally further flows on the same instance, `then`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Case {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) backend: Option<BackendPatch>,
    /// The keys of the settings errors creating the instance must give (any order).
    #[serde(default)]
    pub(crate) settings_errors: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) env: Option<EnvSpec>,
    #[serde(default)]
    pub(crate) request: Option<RequestSpec>,
    #[serde(default)]
    pub(crate) steps: Vec<StepSpec>,
    #[serde(default)]
    pub(crate) outcome: Option<String>,
    #[serde(default)]
    pub(crate) vendor: Option<Map<String, Value>>,
    #[serde(default)]
    pub(crate) detail: Option<Matcher>,
    #[serde(default)]
    pub(crate) retryable: Option<bool>,
    #[serde(default)]
    pub(crate) retry_after: Option<Matcher>,
    /// Further flows on the same backend instance (a cached token, for example).
    #[serde(default)]
    pub(crate) then: Vec<FlowSpec>,
}

/// A flow after the first one of a case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FlowSpec {
    #[serde(default)]
    pub(crate) env: Option<EnvSpec>,
    pub(crate) request: RequestSpec,
    #[serde(default)]
    pub(crate) steps: Vec<StepSpec>,
    pub(crate) outcome: String,
    #[serde(default)]
    pub(crate) vendor: Option<Map<String, Value>>,
    #[serde(default)]
    pub(crate) detail: Option<Matcher>,
    #[serde(default)]
    pub(crate) retryable: Option<bool>,
    #[serde(default)]
    pub(crate) retry_after: Option<Matcher>,
}

/// `request:` — the canonical request as the host hands it to the adapter.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RequestSpec {
    pub(crate) action: Action,
    pub(crate) target: Target,
    #[serde(default)]
    pub(crate) reason: Option<String>,
    #[serde(default)]
    pub(crate) request_id: Option<String>,
}

impl RequestSpec {
    pub(crate) fn to_request(&self) -> Request {
        Request {
            request_id: self
                .request_id
                .clone()
                .unwrap_or_else(|| DEFAULT_REQUEST_ID.to_owned()),
            action: self.action,
            target: self.target.clone(),
            reason: self.reason.clone(),
        }
    }
}

/// How a flow must end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    Done,
    Accepted,
    /// A problem of exactly this kind (`unreadable`, `credentials_refused`…).
    Kind(ProblemKind),
    /// A problem of any kind Sever answers with this canonical code (`upstream_error`:
    /// `vendor_error` or `unreadable`).
    Code(&'static str),
}

impl Ending {
    pub(crate) fn parse(text: &str) -> Result<Ending, String> {
        match text {
            "done" => Ok(Ending::Done),
            "accepted" => Ok(Ending::Accepted),
            other => {
                if let Some(kind) = ProblemKind::parse(other) {
                    return Ok(Ending::Kind(kind));
                }
                ProblemKind::ALL
                    .iter()
                    .map(|k| k.canonical_code())
                    .find(|code| *code == other)
                    .map(Ending::Code)
                    .ok_or_else(|| {
                        format!(
                            "outcome {other:?} is not `done`, `accepted`, a problem kind \
                             (`target_not_found`, `unreadable`…) or the canonical code of one \
                             (`upstream_error`…)"
                        )
                    })
            }
        }
    }

    /// True when a problem of `kind` ends the flow as expected (`self` is a problem).
    pub(crate) fn accepts(self, kind: ProblemKind) -> bool {
        match self {
            Ending::Kind(expected) => kind == expected,
            Ending::Code(code) => kind.canonical_code() == code,
            Ending::Done | Ending::Accepted => false,
        }
    }
}

impl std::fmt::Display for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ending::Done => f.write_str("done"),
            Ending::Accepted => f.write_str("accepted"),
            Ending::Kind(kind) => write!(f, "problem {kind}"),
            Ending::Code(code) => write!(f, "problem {code}"),
        }
    }
}

/// A flow ready to run: what every `then` entry and the case's own first flow become.
#[derive(Debug)]
pub(crate) struct Flow<'a> {
    pub(crate) env: EnvSpec,
    pub(crate) request: &'a RequestSpec,
    pub(crate) steps: &'a [StepSpec],
    pub(crate) ending: Ending,
    pub(crate) vendor: Option<&'a Map<String, Value>>,
    pub(crate) detail: Option<&'a Matcher>,
    pub(crate) retryable: Option<bool>,
    pub(crate) retry_after: Option<&'a Matcher>,
}

impl Case {
    /// The case's flows, checked for mistakes in the file.
    pub(crate) fn flows<'a>(&'a self, file_env: &EnvSpec) -> Result<Vec<Flow<'a>>, String> {
        let case_env = file_env.patched(self.env.as_ref());
        if self.settings_errors.is_some() {
            let extra = self.request.is_some()
                || !self.steps.is_empty()
                || self.outcome.is_some()
                || !self.then.is_empty();
            return if extra {
                Err("a case with `settings_errors` has no request, steps, outcome or then".into())
            } else {
                Ok(Vec::new())
            };
        }
        let (Some(request), Some(outcome)) = (&self.request, &self.outcome) else {
            return Err("a case needs `request` and `outcome` (or `settings_errors`)".into());
        };
        let first = flow(
            case_env.clone(),
            request,
            &self.steps,
            outcome,
            Parts {
                vendor: self.vendor.as_ref(),
                detail: self.detail.as_ref(),
                retryable: self.retryable,
                retry_after: self.retry_after.as_ref(),
            },
        )?;
        let mut flows = vec![first];
        for (i, then) in self.then.iter().enumerate() {
            let parts = Parts {
                vendor: then.vendor.as_ref(),
                detail: then.detail.as_ref(),
                retryable: then.retryable,
                retry_after: then.retry_after.as_ref(),
            };
            let next = flow(
                case_env.patched(then.env.as_ref()),
                &then.request,
                &then.steps,
                &then.outcome,
                parts,
            )
            .map_err(|e| format!("then[{i}]: {e}"))?;
            flows.push(next);
        }
        Ok(flows)
    }
}

struct Parts<'a> {
    vendor: Option<&'a Map<String, Value>>,
    detail: Option<&'a Matcher>,
    retryable: Option<bool>,
    retry_after: Option<&'a Matcher>,
}

fn flow<'a>(
    env: EnvSpec,
    request: &'a RequestSpec,
    steps: &'a [StepSpec],
    outcome: &str,
    parts: Parts<'a>,
) -> Result<Flow<'a>, String> {
    let ending = Ending::parse(outcome)?;
    env.to_env()?;
    for (i, step) in steps.iter().enumerate() {
        let n = i + 1;
        step.check(n)?;
        if let Some(env) = &step.env {
            EnvSpec::default().patched(Some(env)).to_env()?;
        }
    }
    if matches!(ending, Ending::Done | Ending::Accepted)
        && (parts.detail.is_some() || parts.retryable.is_some() || parts.retry_after.is_some())
    {
        return Err(format!(
            "`detail`, `retryable` and `retry_after` describe a problem, not `{outcome}`"
        ));
    }
    Ok(Flow {
        env,
        request,
        steps,
        ending,
        vendor: parts.vendor,
        detail: parts.detail,
        retryable: parts.retryable,
        retry_after: parts.retry_after,
    })
}

#[cfg(test)]
#[path = "file_tests.rs"]
mod tests;
