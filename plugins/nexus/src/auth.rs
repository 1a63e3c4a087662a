//! The two ways Nexus accepts a caller, and reading the chosen one from the settings.

use sever_plugin_sdk::prelude::*;
use sever_plugin_sdk::settings::{Choice, OptionGroup};
use std::fmt;

/// The application token's header when `application_token_header` is not set. Assumed:
/// the vendor's OpenAPI page names the security scheme `ApplicationToken`, not the header.
pub(crate) const DEFAULT_APPLICATION_TOKEN_HEADER: &str = "ApplicationToken";

/// The two auth options, of which a backend sets exactly one.
const AUTH: Choice<'static> = Choice {
    name: "auth",
    lacking: "credentials",
    options: &[
        OptionGroup {
            name: "bearer",
            keys: &[
                "bearer_token",
                "application_token",
                "application_token_header",
            ],
            required: &["bearer_token", "application_token"],
        },
        OptionGroup {
            name: "HTTP Basic",
            keys: &["username", "password"],
            required: &["username", "password"],
        },
    ],
};
/// The bearer option's index in [`AUTH`].
const BEARER: usize = 0;
/// The HTTP Basic option's index in [`AUTH`].
const BASIC: usize = 1;

/// Headers Sever or the HTTP layer set themselves; the application token may not use them.
const RESERVED_HEADERS: [&str; 6] = [
    "authorization",
    "content-type",
    "content-length",
    "host",
    "transfer-encoding",
    "connection",
];

/// How Sever authenticates to Nexus: exactly one option per backend.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Auth {
    /// `Authorization: Bearer {bearer_token}` and `{header}: {application_token}`.
    Bearer {
        bearer_token: String,
        application_token: String,
        header: String,
    },
    /// `Authorization: Basic {credentials}`, `credentials` = base64(`username:password`).
    Basic { credentials: String },
}

impl fmt::Debug for Auth {
    /// Never shows a secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Bearer { header, .. } => f
                .debug_struct("Bearer")
                .field("application_token_header", header)
                .finish_non_exhaustive(),
            Auth::Basic { .. } => f.debug_struct("Basic").finish_non_exhaustive(),
        }
    }
}

impl Auth {
    /// Reads the auth option from the settings, recording every problem in `settings`:
    /// neither option, both, or half of one. `None` when there is a problem.
    pub(crate) fn read(settings: &mut Settings<'_>) -> Option<Auth> {
        match settings.exactly_one_of(&AUTH)? {
            BEARER => read_bearer(settings),
            BASIC => read_basic(settings),
            _ => None,
        }
    }

    /// Adds the credentials to a request and lists the secrets in it for redaction.
    pub(crate) fn apply(&self, request: VendorRequest) -> VendorRequest {
        match self {
            Auth::Bearer {
                bearer_token,
                application_token,
                header,
            } => request
                .header("authorization", format!("Bearer {bearer_token}"))
                .header(header, application_token.as_str())
                .redact(bearer_token.as_str())
                .redact(application_token.as_str()),
            Auth::Basic { credentials } => request
                .header("authorization", format!("Basic {credentials}"))
                .redact(credentials.as_str()),
        }
    }

    /// The option's name, for problem details.
    pub(crate) fn option(&self) -> &'static str {
        match self {
            Auth::Bearer { .. } => "bearer and application token",
            Auth::Basic { .. } => "HTTP Basic",
        }
    }
}

fn read_bearer(settings: &mut Settings<'_>) -> Option<Auth> {
    let bearer_token = settings.optional_string("bearer_token");
    let application_token = settings.optional_string("application_token");
    let header = settings
        .optional_string("application_token_header")
        .unwrap_or_else(|| DEFAULT_APPLICATION_TOKEN_HEADER.to_owned());
    check_token(settings, "bearer_token", bearer_token.as_deref());
    check_token(settings, "application_token", application_token.as_deref());
    let header_ok = check_header_name(settings, &header);
    match (bearer_token, application_token) {
        (Some(bearer_token), Some(application_token)) if header_ok => Some(Auth::Bearer {
            bearer_token,
            application_token,
            header,
        }),
        _ => None,
    }
}

fn read_basic(settings: &mut Settings<'_>) -> Option<Auth> {
    let username = settings.optional_string("username");
    let password = settings.optional_string("password");
    if username.as_deref().is_some_and(|u| u.contains(':')) {
        settings.error("username", "must not contain ':' (HTTP Basic, RFC 7617)");
        return None;
    }
    let (username, password) = (username?, password?);
    let credentials = encode::basic_auth(&username, &password);
    Some(Auth::Basic { credentials })
}

/// A token goes into a header as is: visible ASCII, no spaces. Never echoes the value.
fn check_token(settings: &mut Settings<'_>, key: &str, value: Option<&str>) {
    if let Some(value) = value {
        settings.check_visible_ascii(key, value);
    }
}

/// `application_token_header` must be an HTTP field name (RFC 9110 `token`) that Sever
/// does not set itself.
fn check_header_name(settings: &mut Settings<'_>, name: &str) -> bool {
    let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if !name.chars().all(tchar) {
        settings.error(
            "application_token_header",
            "must be an HTTP header name (letters, digits and !#$%&'*+-.^_`|~)",
        );
        return false;
    }
    if RESERVED_HEADERS
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name))
    {
        settings.error(
            "application_token_header",
            format!(
                "must not be a header Sever sets itself ({})",
                RESERVED_HEADERS.join(", ")
            ),
        );
        return false;
    }
    true
}

/// The plugin's settings keys.
pub(crate) fn setting_specs() -> Vec<SettingSpec> {
    vec![
        SettingSpec::required("tenant_id", "the Nexus tenant id"),
        SettingSpec::optional_secret(
            "bearer_token",
            "bearer option: access token, sent as Authorization: Bearer (with application_token)",
        ),
        SettingSpec::optional_secret(
            "application_token",
            "bearer option: application token, sent in application_token_header",
        ),
        SettingSpec::optional(
            "application_token_header",
            "bearer option: the application token's header (default ApplicationToken; assumed)",
        ),
        SettingSpec::optional("username", "HTTP Basic option: user name (with password)"),
        SettingSpec::optional_secret("password", "HTTP Basic option: password"),
    ]
}
