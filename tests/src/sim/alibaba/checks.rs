//! The simulator's contract checks, in the order of the module documentation.

use std::collections::BTreeMap;

use axum::http::{request::Parts, Method, StatusCode};

use super::rpc;
use super::{Alibaba, AlibabaCall, Answer, COMMON, MAX_SKEW_SECS, OPTIONAL, VERSION};
use crate::sim::calls::media_type;
use crate::sim::Canned;

impl Alibaba {
    /// Runs every check on one call and, when all pass, closes the connection; `error` (a
    /// fault's) answers once the call is authenticated. Fills `call` with what it read as it
    /// goes.
    pub(super) fn close_connection(
        &self,
        parts: &Parts,
        body: &[u8],
        error: Option<Canned>,
        call: &mut AlibabaCall,
    ) -> Answer {
        match self.check(parts, body, error, call) {
            Ok(answer) | Err(answer) => answer,
        }
    }

    fn check(
        &self,
        parts: &Parts,
        body: &[u8],
        error: Option<Canned>,
        call: &mut AlibabaCall,
    ) -> Result<Answer, Answer> {
        if parts.uri.path() != "/" {
            return Err(Answer::error(
                StatusCode::NOT_FOUND,
                "InvalidAction.NotFound",
                "Specified api is not found, please check your url and method.",
            ));
        }
        if parts.method != Method::GET && parts.method != Method::POST {
            return Err(Answer::error(
                StatusCode::METHOD_NOT_ALLOWED,
                "UnsupportedHTTPMethod",
                format!("The HTTP method {} is not supported.", parts.method),
            ));
        }
        let params = &parameters(parts, body)?;
        call.params.clone_from(params);
        let param = |name: &str| params.get(name).map(String::as_str).unwrap_or_default();
        check_names(params)?;

        if param("Action") != "CloseConnection" {
            return Err(Answer::error(
                StatusCode::NOT_FOUND,
                "InvalidAction.NotFound",
                "Specified api is not found, please check your url and method.",
            ));
        }
        if param("Version") != VERSION {
            return Err(Answer::bad_request(
                "InvalidVersion",
                "Specified parameter Version is not valid.",
            ));
        }
        for (name, expected) in [
            ("Format", "JSON"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureVersion", "1.0"),
        ] {
            if param(name) != expected {
                return Err(Answer::bad_request(
                    "InvalidParameter",
                    format!(
                        "The specified parameter \"{name}\" is not valid (expected {expected})."
                    ),
                ));
            }
        }
        let Some(timestamp) = rpc::parse_timestamp(param("Timestamp")) else {
            return Err(Answer::bad_request(
                "InvalidTimeStamp.Format",
                "Specified time stamp or date value is not well formatted.",
            ));
        };
        if (self.now() - timestamp).abs() > MAX_SKEW_SECS {
            return Err(Answer::bad_request(
                "InvalidTimeStamp.Expired",
                format!(
                    "Specified time stamp or date value is expired. The server's time is {} \
                     seconds from the request's.",
                    self.now() - timestamp
                ),
            ));
        }
        let Some((secret, permitted)) = self.keys.get(param("AccessKeyId")) else {
            return Err(Answer::error(
                StatusCode::NOT_FOUND,
                "InvalidAccessKeyId.NotFound",
                "Specified access key is not found.",
            ));
        };
        self.check_token(params.get("SecurityToken"))?;

        let method = parts.method.as_str();
        let string_to_sign = rpc::string_to_sign(method, params);
        let valid = rpc::sign(secret, &string_to_sign) == param("Signature");
        call.signature_valid = Some(valid);
        if !valid {
            return Err(Answer::bad_request(
                "SignatureDoesNotMatch",
                format!(
                    "Specified signature is not matched with our calculation. server string \
                     to sign is:{string_to_sign}"
                ),
            ));
        }
        if !self
            .nonces
            .lock()
            .insert(param("SignatureNonce").to_owned())
        {
            return Err(Answer::bad_request(
                "SignatureNonceUsed",
                "Specified signature nonce was used already.",
            ));
        }

        if let Some(error) = error {
            return Err(Answer::from(error));
        }
        if let (Some(region), Some(sent)) = (&self.region_id, params.get("RegionId")) {
            if region != sent {
                return Err(Answer::bad_request(
                    "InvalidRegionId",
                    "The specified region does not exist.",
                ));
            }
        }
        if !permitted {
            return Err(Answer::bad_request(
                "InstancePermissionCheckFailed",
                "An error occurred while validating the permissions of the instance. Please \
                 verify the account that created the instance and its permissions settings.",
            ));
        }
        let mut instances = self.instances.lock();
        let Some(clients) = instances.get_mut(param("InstanceId")) else {
            return Err(Answer::bad_request(
                "MqttInstanceNotFound",
                "Specified instance is not found.",
            ));
        };
        // A client that is not connected is a no-op success (assumed; the documents are
        // silent).
        clients.remove(param("ClientId"));
        Ok(Answer::ok())
    }

    fn check_token(&self, sent: Option<&String>) -> Result<(), Answer> {
        match (&self.security_token, sent) {
            (None, None) => Ok(()),
            (Some(expected), Some(sent)) if expected == sent => Ok(()),
            (None, Some(_)) => Err(Answer::bad_request(
                "InvalidSecurityToken.Malformed",
                "Specified SecurityToken is malformed.",
            )),
            (Some(_), _) => Err(Answer::bad_request(
                "InvalidSecurityToken.MismatchWithAccessKey",
                "Specified SecurityToken mismatch with the AccessKey.",
            )),
        }
    }
}

/// The call's parameters: the query string's and, for a POST with the form content type,
/// the body's. A name given twice is refused.
fn parameters(parts: &Parts, body: &[u8]) -> Result<BTreeMap<String, String>, Answer> {
    let invalid = |message: String| Answer::bad_request("InvalidParameter", message);
    let mut pairs = rpc::decode_form(parts.uri.query().unwrap_or_default()).map_err(invalid)?;
    if parts.method == Method::POST
        && media_type(&parts.headers).eq_ignore_ascii_case("application/x-www-form-urlencoded")
    {
        let Ok(text) = std::str::from_utf8(body) else {
            return Err(invalid("the form body is not UTF-8".to_owned()));
        };
        pairs.extend(rpc::decode_form(text).map_err(invalid)?);
    }
    let mut params = BTreeMap::new();
    for (name, value) in pairs {
        if params.contains_key(&name) {
            return Err(invalid(format!("The parameter \"{name}\" is given twice.")));
        }
        params.insert(name, value);
    }
    Ok(params)
}

/// Every required parameter present and non-empty; no unknown one.
fn check_names(params: &BTreeMap<String, String>) -> Result<(), Answer> {
    let required = COMMON.iter().chain(["InstanceId", "ClientId"].iter());
    for name in required {
        if params.get(*name).is_none_or(String::is_empty) {
            return Err(Answer::bad_request(
                "MissingParameter",
                format!(
                    "The input parameter \"{name}\" that is mandatory for processing this \
                     request is not supplied."
                ),
            ));
        }
    }
    let known = |name: &str| {
        COMMON.contains(&name)
            || OPTIONAL.contains(&name)
            || name == "InstanceId"
            || name == "ClientId"
    };
    if let Some(name) = params.keys().find(|name| !known(name)) {
        return Err(Answer::bad_request(
            "InvalidParameter",
            format!("The parameter \"{name}\" is not known to CloseConnection."),
        ));
    }
    Ok(())
}
