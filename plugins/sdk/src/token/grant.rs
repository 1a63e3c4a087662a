//! The token request: which grant, how the client authenticates, and the form body,
//! encoded once per backend.

use sever_plugin_abi::{Env, Problem, VendorRequest};

use super::answer::Words;
use super::SHARE_KEY;
use crate::encode;

const FORM: &str = "application/x-www-form-urlencoded";

/// What the token is asked for with (RFC 6749 §4).
#[derive(Clone, PartialEq, Eq)]
pub enum Grant {
    /// `grant_type=client_credentials`: the client acts for itself (a service account:
    /// Keycloak, Entra ID, Okta service apps).
    ClientCredentials,
    /// `grant_type=password&username=…&password=…`: a resource owner's credentials (PrivX
    /// API clients).
    Password {
        /// The resource owner's name.
        username: String,
        /// The resource owner's password (secret).
        password: String,
    },
}

// By hand: the password is never printed.
impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Grant::ClientCredentials => f.write_str("ClientCredentials"),
            Grant::Password { username, .. } => f
                .debug_struct("Password")
                .field("username", username)
                .finish_non_exhaustive(),
        }
    }
}

impl Grant {
    /// The password grant with these credentials.
    pub fn password(username: &str, password: &str) -> Self {
        Grant::Password {
            username: username.to_owned(),
            password: password.to_owned(),
        }
    }
}

/// How the client authenticates to the token endpoint (RFC 6749 §2.3, RFC 7523).
#[derive(Clone)]
pub enum ClientAuth {
    /// `Authorization: Basic base64(id:secret)` (`client_secret_basic`; the id and secret
    /// are sent as they are, as Go's `SetBasicAuth` and most servers do).
    Basic { id: String, secret: String },
    /// `client_id=…&client_secret=…` in the form body (`client_secret_post`).
    Post { id: String, secret: String },
    /// A JWT signed with the client's private key (`private_key_jwt`), signed afresh for
    /// every token request.
    #[cfg(feature = "client-assertion")]
    Assertion(Box<super::ClientAssertion>),
}

// By hand: secrets are never printed.
impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (kind, id) = match self {
            ClientAuth::Basic { id, .. } => ("Basic", id.as_str()),
            ClientAuth::Post { id, .. } => ("Post", id.as_str()),
            #[cfg(feature = "client-assertion")]
            ClientAuth::Assertion(assertion) => ("Assertion", assertion.client_id()),
        };
        f.debug_struct(kind)
            .field("id", &id)
            .finish_non_exhaustive()
    }
}

impl ClientAuth {
    /// HTTP Basic credentials.
    pub fn basic(id: &str, secret: &str) -> Self {
        ClientAuth::Basic {
            id: id.to_owned(),
            secret: secret.to_owned(),
        }
    }

    /// The id and secret in the form body.
    pub fn post(id: &str, secret: &str) -> Self {
        ClientAuth::Post {
            id: id.to_owned(),
            secret: secret.to_owned(),
        }
    }

    /// A signed JWT assertion (`private_key_jwt`).
    #[cfg(feature = "client-assertion")]
    pub fn assertion(signer: super::ClientAssertion) -> Self {
        ClientAuth::Assertion(Box::new(signer))
    }
}

/// The token request, encoded once per backend; only a client assertion is made per
/// request.
pub(crate) struct Prepared {
    /// `Authorization: Basic …`, for `client_secret_basic`.
    authorization: Option<String>,
    /// The form body, without the client assertion.
    form: String,
    /// Every literal that would reveal a secret where the token request is shown.
    secrets: Vec<String>,
    #[cfg(feature = "client-assertion")]
    assertion: Option<Box<super::ClientAssertion>>,
}

// By hand: the form and the credentials hold secrets.
impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared").finish_non_exhaustive()
    }
}

impl Prepared {
    pub(crate) fn new(grant: Grant, auth: ClientAuth) -> Self {
        let mut form = String::new();
        let mut secrets = Vec::new();
        let push = |form: &mut String, key: &str, value: &str| {
            if !form.is_empty() {
                form.push('&');
            }
            form.push_str(key);
            form.push('=');
            encode::push_component(form, value);
        };
        match &grant {
            Grant::ClientCredentials => push(&mut form, "grant_type", "client_credentials"),
            Grant::Password { username, password } => {
                push(&mut form, "grant_type", "password");
                push(&mut form, "username", username);
                push(&mut form, "password", password);
                secrets.extend([password.clone(), encode::component(password)]);
            }
        }
        let mut authorization = None;
        #[cfg(feature = "client-assertion")]
        let mut assertion = None;
        match auth {
            ClientAuth::Basic { id, secret } => {
                let basic = encode::basic_auth(&id, &secret);
                authorization = Some(format!("Basic {basic}"));
                secrets.extend([basic, secret]);
            }
            ClientAuth::Post { id, secret } => {
                push(&mut form, "client_id", &id);
                push(&mut form, "client_secret", &secret);
                secrets.extend([encode::component(&secret), secret]);
            }
            #[cfg(feature = "client-assertion")]
            ClientAuth::Assertion(signer) => assertion = Some(signer),
        }
        secrets.sort();
        secrets.dedup();
        Prepared {
            authorization,
            form,
            secrets,
            #[cfg(feature = "client-assertion")]
            assertion,
        }
    }

    pub(crate) fn add_scope(&mut self, scope: &str) {
        self.form.push_str("&scope=");
        encode::push_component(&mut self.form, scope);
    }

    /// `POST endpoint`: shared, safe to repeat, every secret listed for redaction.
    pub(crate) fn request(
        &self,
        endpoint: &str,
        env: &Env,
        words: &Words,
    ) -> Result<VendorRequest, Problem> {
        let mut request = VendorRequest::new("POST", endpoint.to_owned());
        if let Some(authorization) = &self.authorization {
            request = request.header("authorization", authorization.clone());
        }
        #[allow(unused_mut)]
        let mut form = self.form.clone();
        #[allow(unused_mut)]
        let mut secrets = self.secrets.clone();
        #[cfg(feature = "client-assertion")]
        if let Some(signer) = &self.assertion {
            let jwt = signer.sign(endpoint, env).map_err(|why| {
                Problem::new(
                    crate::ProblemKind::Rejected,
                    format!("{}: cannot sign the client assertion: {why}", words.vendor),
                )
            })?;
            form.push_str("&client_assertion_type=");
            encode::push_component(&mut form, super::assertion::ASSERTION_TYPE);
            form.push_str("&client_assertion=");
            encode::push_component(&mut form, &jwt);
            secrets.push(jwt);
        }
        let _ = (env, words);
        request = request
            .header("content-type", FORM)
            .body(form)
            .idempotent(true)
            .share(SHARE_KEY)
            .purpose("token");
        request.redact.extend(secrets);
        Ok(request)
    }
}
