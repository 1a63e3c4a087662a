//! The types a setting can have, and the checks the SDK offers for them.

use serde_json::Value;

/// A type a settings key can be read as. `value` is `None` when the key is absent or
/// `null`; `secret` says the value must never be echoed. Errors name no value.
pub trait SettingValue: Sized {
    /// What `#[setting(check = …)]` functions receive (`String` for `Option<String>`).
    type Inner;
    /// True unless the key may be left out.
    const REQUIRED: bool;
    /// Reads the value.
    fn from_setting(value: Option<&Value>, secret: bool) -> Result<Self, String>;
    /// The value a check looks at, if present.
    fn inner(&self) -> Option<&Self::Inner>;
}

const MISSING: &str = "required setting is missing";

/// A non-empty string without control characters. A number is accepted for a plain
/// setting (`port: 8883`) and read as its decimal text; never for a secret.
impl SettingValue for String {
    type Inner = String;
    const REQUIRED: bool = true;

    fn from_setting(value: Option<&Value>, secret: bool) -> Result<Self, String> {
        match value {
            None => Err(MISSING.into()),
            Some(Value::String(s)) if s.is_empty() => Err("must not be empty".into()),
            Some(Value::String(s)) if s.chars().any(char::is_control) => {
                Err("must not contain control characters".into())
            }
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Number(n)) if !secret => Ok(n.to_string()),
            Some(_) => Err("must be a string".into()),
        }
    }

    fn inner(&self) -> Option<&String> {
        Some(self)
    }
}

/// `true` or `false`; also the strings `"true"` and `"false"` (what `${VAR}` expands to).
impl SettingValue for bool {
    type Inner = bool;
    const REQUIRED: bool = true;

    fn from_setting(value: Option<&Value>, _secret: bool) -> Result<Self, String> {
        match value {
            None => Err(MISSING.into()),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) if s == "true" => Ok(true),
            Some(Value::String(s)) if s == "false" => Ok(false),
            Some(_) => Err("must be true or false".into()),
        }
    }

    fn inner(&self) -> Option<&bool> {
        Some(self)
    }
}

macro_rules! integer {
    ($($ty:ty),*) => {$(
        /// A whole number in the type's range; also its decimal text (what `${VAR}`
        /// expands to).
        impl SettingValue for $ty {
            type Inner = $ty;
            const REQUIRED: bool = true;

            fn from_setting(value: Option<&Value>, _secret: bool) -> Result<Self, String> {
                let range = || format!("must be a whole number from {} to {}", <$ty>::MIN, <$ty>::MAX);
                match value {
                    None => Err(MISSING.into()),
                    Some(Value::Number(n)) => n
                        .as_u64()
                        .and_then(|n| <$ty>::try_from(n).ok())
                        .ok_or_else(range),
                    Some(Value::String(s)) => s.parse::<$ty>().map_err(|_| range()),
                    Some(_) => Err(range()),
                }
            }

            fn inner(&self) -> Option<&$ty> {
                Some(self)
            }
        }
    )*};
}

integer!(u16, u32, u64);

/// A non-empty text that may span lines (a PEM key): like `String`, but line breaks
/// (`\n`, `\r\n`) and tabs are allowed; other control characters are not. Never a
/// number.
#[derive(Clone, PartialEq, Eq)]
pub struct Multiline(pub String);

impl std::fmt::Debug for Multiline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Multi-line settings are keys and certificates: never printed.
        f.write_str("Multiline(..)")
    }
}

impl SettingValue for Multiline {
    type Inner = String;
    const REQUIRED: bool = true;

    fn from_setting(value: Option<&Value>, _secret: bool) -> Result<Self, String> {
        match value {
            None => Err(MISSING.into()),
            Some(Value::String(s)) if s.trim().is_empty() => Err("must not be empty".into()),
            Some(Value::String(s))
                if s.chars()
                    .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) =>
            {
                Err("must not contain control characters other than line breaks and tabs".into())
            }
            Some(Value::String(s)) => Ok(Multiline(s.clone())),
            Some(_) => Err("must be a string".into()),
        }
    }

    fn inner(&self) -> Option<&String> {
        Some(&self.0)
    }
}

/// A key a backend may leave out.
impl<T: SettingValue> SettingValue for Option<T> {
    type Inner = T::Inner;
    const REQUIRED: bool = false;

    fn from_setting(value: Option<&Value>, secret: bool) -> Result<Self, String> {
        match value {
            None => Ok(None),
            Some(v) => T::from_setting(Some(v), secret).map(Some),
        }
    }

    fn inner(&self) -> Option<&T::Inner> {
        self.as_ref().and_then(T::inner)
    }
}

/// For a value that goes into an HTTP header as it is (a token, an API key): visible
/// ASCII only, no spaces.
pub fn visible_ascii(value: &str) -> Result<(), String> {
    if value.chars().all(|c| c.is_ascii_graphic()) {
        Ok(())
    } else {
        Err("must be visible ASCII without spaces".into())
    }
}

/// No whitespace anywhere (an access key id, a token).
pub fn no_whitespace(value: &str) -> Result<(), String> {
    if value.contains(char::is_whitespace) {
        Err("must not contain whitespace".into())
    } else {
        Ok(())
    }
}

/// No `:` (an HTTP Basic user id: the first colon ends it, RFC 7617).
pub fn no_colon(value: &str) -> Result<(), String> {
    if value.contains(':') {
        Err("must not contain ':'".into())
    } else {
        Ok(())
    }
}
