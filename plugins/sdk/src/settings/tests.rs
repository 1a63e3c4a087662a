#![allow(clippy::unwrap_used)]
use super::*;
use serde_json::json;

#[derive(Debug, Settings)]
#[allow(dead_code)]
struct Plain {
    /// a plain key
    a: String,
    /// a secret key
    #[setting(secret)]
    b: String,
    /// another plain key
    c: String,
}

fn keys(errors: &[SettingError]) -> Vec<&str> {
    errors.iter().map(|e| e.key.as_str()).collect()
}

fn parse_json<S: Settings>(value: serde_json::Value) -> Result<S, Vec<SettingError>> {
    parse::<S>(value.as_object().unwrap())
}

#[test]
fn every_problem_is_reported_and_no_value_is_echoed() {
    let errors = parse_json::<Plain>(json!({"b": 5, "c": "", "zz": "hunter2"})).unwrap_err();
    assert_eq!(keys(&errors), ["zz", "a", "b", "c"]);
    assert_eq!(errors[1].message, "required setting is missing");
    assert_eq!(errors[2].message, "must be a string");
    assert_eq!(errors[3].message, "must not be empty");
    assert!(errors.iter().all(|e| !e.message.contains("hunter2")));
    let errors = parse_json::<Plain>(json!({"a": "x\u{7}", "b": "s", "c": "y"})).unwrap_err();
    assert_eq!(errors[0].message, "must not contain control characters");
}

#[test]
fn specs_come_from_the_fields_and_their_doc_comments() {
    assert_eq!(
        Plain::specs(),
        [
            SettingSpec::required("a", "a plain key"),
            SettingSpec::secret("b", "a secret key"),
            SettingSpec::required("c", "another plain key"),
        ]
    );
}

#[derive(Debug, Settings)]
struct Typed {
    /// a port
    port: String,
    /// a flag
    flag: Option<bool>,
    /// a number
    count: Option<u16>,
    /// a key named otherwise
    #[setting(rename = "x-key", check = no_colon)]
    renamed: Option<String>,
}

#[test]
fn values_are_read_by_type() {
    let typed = parse_json::<Typed>(json!({"port": 8883, "flag": "true", "count": "7"})).unwrap();
    assert_eq!(
        (typed.port.as_str(), typed.flag, typed.count),
        ("8883", Some(true), Some(7))
    );
    assert_eq!(typed.renamed, None);
    let typed = parse_json::<Typed>(json!({"port": "p", "flag": false, "x-key": "a"})).unwrap();
    assert_eq!(
        (typed.flag, typed.renamed.as_deref()),
        (Some(false), Some("a"))
    );
    let errors = parse_json::<Typed>(json!({
        "port": "p", "flag": "yes", "count": 70000, "x-key": "a:b", "renamed": "r"
    }))
    .unwrap_err();
    assert_eq!(keys(&errors), ["renamed", "flag", "count", "x-key"]);
    assert_eq!(errors[1].message, "must be true or false");
    assert_eq!(errors[2].message, "must be a whole number from 0 to 65535");
    assert_eq!(errors[3].message, "must not contain ':'");
}

#[derive(Debug, Settings)]
struct Secret {
    /// a secret number would be echoed as text: refused
    #[setting(secret, check = visible_ascii)]
    token: String,
}

#[test]
fn secrets_are_never_numbers_and_checks_name_no_value() {
    let errors = parse_json::<Secret>(json!({"token": 1234})).unwrap_err();
    assert_eq!(errors[0].message, "must be a string");
    for bad in ["has space", "tab\t", "caf\u{e9}"] {
        let errors = parse_json::<Secret>(json!({ "token": bad })).unwrap_err();
        let message = if bad.contains('\t') {
            "must not contain control characters"
        } else {
            "must be visible ASCII without spaces"
        };
        assert_eq!(errors[0].message, message, "{bad:?}");
    }
    assert_eq!(
        parse_json::<Secret>(json!({"token": "ok-!~"}))
            .unwrap()
            .token,
        "ok-!~"
    );
    assert_eq!(
        no_whitespace("a b"),
        Err("must not contain whitespace".into())
    );
    assert_eq!(no_whitespace("ab"), Ok(()));
}

const CHOICE: Choice<'static> = Choice {
    name: "auth",
    lacking: "credentials",
    options: &[
        OptionGroup {
            name: "bearer",
            keys: &["bearer", "app", "app_header"],
            required: &["bearer", "app"],
        },
        OptionGroup {
            name: "HTTP Basic",
            keys: &["user", "password"],
            required: &["user", "password"],
        },
        OptionGroup {
            name: "mTLS",
            keys: &["cert"],
            required: &["cert"],
        },
    ],
};

#[derive(Debug, Settings)]
#[settings(choice = CHOICE)]
#[allow(dead_code)]
struct Auth {
    /// bearer token
    #[setting(secret)]
    bearer: Option<String>,
    /// application id
    #[setting(secret)]
    app: Option<String>,
    /// application header
    app_header: Option<String>,
    /// user
    user: Option<String>,
    /// password
    #[setting(secret)]
    password: Option<String>,
    /// certificate
    cert: Option<String>,
}

fn choose(map: serde_json::Value) -> Vec<SettingError> {
    parse_json::<Auth>(map).err().unwrap_or_default()
}

#[test]
fn one_complete_option_is_chosen_without_errors() {
    assert_eq!(choose(json!({"bearer": "b", "app": "a"})), vec![]);
    assert_eq!(
        choose(json!({"user": "u", "password": "p", "bearer": null})),
        vec![]
    );
    assert_eq!(choose(json!({"cert": "c"})), vec![]);
}

#[test]
fn half_an_option_names_each_missing_required_key() {
    let expected = "required with app_header: the bearer option needs bearer and app";
    assert_eq!(
        choose(json!({"app_header": "X"})),
        [
            SettingError::new("bearer", expected),
            SettingError::new("app", expected)
        ]
    );
    // An empty value is present: the reader reports it, not the choice.
    assert_eq!(
        choose(json!({"user": "", "password": "p"})),
        [SettingError::new("user", "must not be empty")]
    );
}

#[test]
fn no_option_is_one_error_listing_every_option() {
    assert_eq!(
        choose(json!({"bearer": null})),
        [SettingError::new(
            "",
            "no credentials: set bearer and app (bearer option), user and password \
             (HTTP Basic option), or cert (mTLS option)"
        )]
    );
    assert_eq!(choice::or_list(&["a".into(), "b".into()]), "a, or b");
}

#[test]
fn several_options_are_one_error_naming_the_keys_set_never_the_values() {
    assert_eq!(
        choose(json!({
            "password": "pw-secret", "app": "a-secret", "bearer": "b-secret", "cert": "c"
        })),
        [SettingError::new(
            "",
            "choose one auth option: bearer, app (bearer option) cannot be combined with \
             password (HTTP Basic option) and cert (mTLS option)"
        )]
    );
}
