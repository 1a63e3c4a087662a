//! The two ways Sever authenticates to Okta, the settings that choose one, and the query
//! every revocation carries.

use sever_plugin_sdk::prelude::*;
use sever_plugin_sdk::settings::{Choice, Multiline, OptionGroup};
use sever_plugin_sdk::token::{ClientAssertion, ClientAuth, Grant, TokenClient};

/// The scope asked for when `scopes` is not set.
const DEFAULT_SCOPES: &str = "okta.users.manage";

/// The two auth options, of which a backend sets exactly one.
const AUTH: Choice<'static> = Choice {
    name: "auth",
    lacking: "credentials",
    options: &[
        OptionGroup {
            name: "API token",
            keys: &["api_token"],
            required: &["api_token"],
        },
        OptionGroup {
            name: "OAuth service app",
            keys: &["client_id", "private_key", "key_id", "scopes"],
            required: &["client_id", "private_key"],
        },
    ],
};

/// An Okta backend's settings: one auth option, and what the revocation also ends.
#[derive(Debug, Settings)]
#[settings(choice = AUTH)]
pub struct OktaSettings {
    /// API token (sent as Authorization: SSWS …)
    #[setting(secret, check = settings::visible_ascii)]
    api_token: Option<String>,
    /// client id of an API Services app (private_key_jwt; OAuth option)
    #[setting(check = settings::no_whitespace)]
    client_id: Option<String>,
    /// the app's RSA private key, PEM (PKCS#1 or PKCS#8; OAuth option)
    #[setting(secret)]
    private_key: Option<Multiline>,
    /// the key's JWK kid (OAuth option; optional)
    #[setting(check = settings::visible_ascii)]
    key_id: Option<String>,
    /// scopes to ask for, space-separated (OAuth option; default okta.users.manage)
    scopes: Option<String>,
    /// also revoke the user's OAuth/OIDC tokens (default true; Okta's own default is false)
    revoke_oauth_tokens: Option<bool>,
    /// also forget the user's devices (absent: not sent, Okta's default applies)
    forget_devices: Option<bool>,
}

/// How Sever authenticates to Okta.
pub(crate) enum Auth {
    /// `Authorization: SSWS {api_token}`, ready to send.
    ApiToken { authorization: String },
    /// A bearer token from the org authorization server.
    OAuth(TokenClient),
}

impl std::fmt::Debug for Auth {
    /// Never shows a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::ApiToken { .. } => f.write_str("ApiToken(<redacted>)"),
            Auth::OAuth(tokens) => f.debug_tuple("OAuth").field(tokens).finish(),
        }
    }
}

impl Auth {
    pub(crate) fn is_oauth(&self) -> bool {
        matches!(self, Auth::OAuth(_))
    }
}

/// The auth option the settings chose, and the revocation's query string.
pub(crate) fn from_settings(
    url: &str,
    settings: OktaSettings,
) -> Result<(Auth, String), Vec<SettingError>> {
    let OktaSettings {
        api_token,
        client_id,
        private_key,
        key_id,
        scopes,
        revoke_oauth_tokens,
        forget_devices,
    } = settings;
    let mut query = format!("?oauthTokens={}", revoke_oauth_tokens.unwrap_or(true));
    if let Some(forget) = forget_devices {
        query.push_str(&format!("&forgetDevices={forget}"));
    }
    let auth = match (api_token, client_id, private_key) {
        (Some(token), _, _) => Auth::ApiToken {
            authorization: format!("SSWS {token}"),
        },
        (None, Some(client_id), Some(Multiline(pem))) => {
            let signer = ClientAssertion::rs256(&client_id, &pem, key_id.as_deref())
                .map_err(|message| vec![SettingError::new("private_key", message)])?;
            let endpoint = encode::url_with_segments(url, &["oauth2", "v1", "token"]);
            let scopes = scopes.unwrap_or_else(|| DEFAULT_SCOPES.to_owned());
            let tokens = TokenClient::new(
                "okta",
                endpoint,
                Grant::ClientCredentials,
                ClientAuth::assertion(signer),
            )
            .scope(&scopes)
            .credentials_noun("the service app's client assertion")
            .default_lifetime_s(3600);
            Auth::OAuth(tokens)
        }
        // The choice has reported what is missing; the SDK never calls `new` then.
        _ => return Err(vec![SettingError::new("", "no credentials")]),
    };
    Ok((auth, query))
}
