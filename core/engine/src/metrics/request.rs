//! The per-request label cache: each backend's counters and histograms by action and
//! outcome, looked up once, so that counting a request never hashes or formats a label.

use super::Metrics;
use crate::plugin::{Action, Outcome};
use crate::problem::ProblemCode;
use prometheus::{Histogram, HistogramVec, IntCounter, IntCounterVec};
use std::sync::OnceLock;

/// The `outcome` label of `sever_requests_total`: `done`, `accepted`, `dry_run`,
/// `unknown` or a problem code, with its slot in a handle cache so that counting never formats or looks
/// up a label. (How a request ended is `crate::api::Ended`; this is its label.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutcomeLabel {
    index: usize,
    name: &'static str,
}

impl OutcomeLabel {
    /// How many label values there are.
    pub const COUNT: usize = 4 + ProblemCode::ALL.len();

    /// `dry_run`.
    pub const DRY_RUN: OutcomeLabel = OutcomeLabel {
        index: 2,
        name: "dry_run",
    };

    /// `unknown`: the request's vendor calls were started, and Sever stopped (drain past
    /// `shutdown_grace_ms`) or the request was dropped before it could tell how they
    /// ended.
    pub const UNKNOWN: OutcomeLabel = OutcomeLabel {
        index: 3,
        name: "unknown",
    };

    /// `done` or `accepted`.
    pub fn success(outcome: Outcome) -> Self {
        let index = match outcome {
            Outcome::Done => 0,
            Outcome::Accepted => 1,
        };
        OutcomeLabel {
            index,
            name: outcome.as_str(),
        }
    }

    /// A problem code.
    pub fn problem(code: ProblemCode) -> Self {
        OutcomeLabel {
            // A fieldless enum's discriminants follow its declaration order (= `ALL`).
            index: 4 + code as usize,
            name: code.as_str(),
        }
    }

    /// The label value.
    pub fn name(self) -> &'static str {
        self.name
    }

    /// The slot in `0..COUNT`.
    pub fn index(self) -> usize {
        self.index
    }
}

/// `sever_requests_total` and `sever_request_duration_seconds` handles for one `backend`
/// label (`""` for requests whose backend is unknown), resolved once on first use: the
/// hot path then increments a cached counter without hashing or formatting label values.
#[derive(Debug)]
pub struct RequestMetrics {
    backend: String,
    requests: IntCounterVec,
    durations: HistogramVec,
    /// `[action][outcome]`; action index 3 is the empty action label.
    counters: Vec<OnceLock<IntCounter>>,
    histograms: [OnceLock<Histogram>; 4],
}

fn action_index(action: Option<Action>) -> usize {
    match action {
        Some(Action::Disconnect) => 0,
        Some(Action::Terminate) => 1,
        Some(Action::Unbind) => 2,
        None => 3,
    }
}

impl RequestMetrics {
    /// Handles for `backend` (a configured name, or `""`).
    pub fn new(metrics: &Metrics, backend: &str) -> Self {
        RequestMetrics {
            backend: backend.to_owned(),
            requests: metrics.requests.clone(),
            durations: metrics.request_duration.clone(),
            counters: (0..4 * OutcomeLabel::COUNT)
                .map(|_| OnceLock::new())
                .collect(),
            histograms: std::array::from_fn(|_| OnceLock::new()),
        }
    }

    /// Counts one request and, when it has an action, its duration.
    pub fn record(&self, action: Option<Action>, outcome: OutcomeLabel, seconds: Option<f64>) {
        let a = action_index(action);
        let label = action.map_or("", Action::as_str);
        self.counters[a * OutcomeLabel::COUNT + outcome.index]
            .get_or_init(|| {
                self.requests
                    .with_label_values(&[label, self.backend.as_str(), outcome.name])
            })
            .inc();
        if let Some(s) = seconds {
            self.histograms[a]
                .get_or_init(|| {
                    self.durations
                        .with_label_values(&[label, self.backend.as_str()])
                })
                .observe(s);
        }
    }
}
