//! The two ways Nexus accepts a caller, the settings that choose one, and the credentials
//! they make.

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
    /// The option the settings chose; `None` if they chose none (the settings reader has
    /// refused that already, with the choice's own error).
    pub(crate) fn from_settings(settings: &NexusSettings) -> Option<Auth> {
        match (settings, &settings.username) {
            (
                NexusSettings {
                    bearer_token: Some(bearer_token),
                    application_token: Some(application_token),
                    ..
                },
                None,
            ) => Some(Auth::Bearer {
                bearer_token: bearer_token.clone(),
                application_token: application_token.clone(),
                header: settings
                    .application_token_header
                    .clone()
                    .unwrap_or_else(|| DEFAULT_APPLICATION_TOKEN_HEADER.to_owned()),
            }),
            (
                NexusSettings {
                    password: Some(password),
                    bearer_token: None,
                    ..
                },
                Some(username),
            ) => Some(Auth::Basic {
                credentials: encode::basic_auth(username, password),
            }),
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

/// An HTTP Basic user id: the first colon ends it (RFC 7617).
fn basic_user(username: &str) -> Result<(), String> {
    if username.contains(':') {
        Err("must not contain ':' (HTTP Basic, RFC 7617)".into())
    } else {
        Ok(())
    }
}

/// `application_token_header` must be an HTTP field name (RFC 9110 `token`) that Sever
/// does not set itself.
fn header_name(name: &str) -> Result<(), String> {
    let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if !name.chars().all(tchar) {
        return Err("must be an HTTP header name (letters, digits and !#$%&'*+-.^_`|~)".into());
    }
    if RESERVED_HEADERS
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name))
    {
        return Err(format!(
            "must not be a header Sever sets itself ({})",
            RESERVED_HEADERS.join(", ")
        ));
    }
    Ok(())
}

/// A Nexus backend's settings: the tenant, and exactly one auth option.
#[derive(Debug, Settings)]
#[settings(choice = AUTH)]
pub struct NexusSettings {
    /// the Nexus tenant id
    pub(crate) tenant_id: String,
    /// bearer option: access token, sent as Authorization: Bearer (with application_token)
    #[setting(secret, check = settings::visible_ascii)]
    bearer_token: Option<String>,
    /// bearer option: application token, sent in application_token_header
    #[setting(secret, check = settings::visible_ascii)]
    application_token: Option<String>,
    /// bearer option: the application token's header (default ApplicationToken; assumed)
    #[setting(check = header_name)]
    application_token_header: Option<String>,
    /// HTTP Basic option: user name (with password)
    #[setting(check = basic_user)]
    username: Option<String>,
    /// HTTP Basic option: password
    #[setting(secret)]
    password: Option<String>,
}
