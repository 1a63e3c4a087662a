//! `GET /openapi.json`: the OpenAPI 3.1 document of the canonical API (spec §3–§6 and the
//! README's extensions).
//!
//! The document is written by hand in `core/engine/openapi.json` (prose, examples and
//! structure read better there than in code) and embedded in the binary. The tests below
//! hold it to the code: every problem code with its status, `type` and `title`, every
//! action, every target field and its limits, every route with its methods and whether it
//! needs a token, the refusals every route can answer (401, 405, 413, 415) and their
//! headers. Change the code and the document together, or these tests fail.

use crate::problem::Answer;

/// The document, as served.
pub const DOCUMENT: &str = include_str!("../openapi.json");

/// The `Content-Type` it is served with. `application/json` rather than the registered
/// `application/vnd.oai.openapi+json`: every OpenAPI tool (schemathesis, Swagger UI,
/// generators) and every HTTP client reads it as JSON, while the vendor type makes some
/// of them fall back to guessing the format from the body.
pub const CONTENT_TYPE: &str = "application/json";

/// The `GET /openapi.json` answer (no token needed).
pub fn answer() -> Answer {
    Answer::text(200, CONTENT_TYPE, DOCUMENT)
}

#[cfg(test)]
#[path = "openapi_tests.rs"]
mod tests;
