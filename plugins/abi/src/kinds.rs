//! The integer codes of [`crate::raw`] as Rust enums, converted with checked `TryFrom`s:
//! an unknown value is an error the reader reports, never undefined behaviour.

use crate::raw::*;
use std::fmt;

/// An integer that is not one of the codes of its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownCode {
    /// What kind of code (`status`, `step kind`…).
    pub what: &'static str,
    pub value: u32,
}

impl fmt::Display for UnknownCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} {}", self.what, self.value)
    }
}

impl std::error::Error for UnknownCode {}

/// Declares a `#[repr(u32)]`-free enum over ABI codes with `code()` and a checked
/// `TryFrom<u32>`.
macro_rules! codes {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $variant:ident = $code:ident,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every value, in code order.
            pub const ALL: [$name; [$(stringify!($variant)),+].len()] = [$($name::$variant,)+];

            /// The ABI code.
            pub const fn code(self) -> u32 {
                match self {
                    $($name::$variant => $code,)+
                }
            }
        }

        impl TryFrom<u32> for $name {
            type Error = $crate::kinds::UnknownCode;

            fn try_from(value: u32) -> Result<Self, $crate::kinds::UnknownCode> {
                match value {
                    $($code => Ok($name::$variant),)+
                    _ => Err($crate::kinds::UnknownCode { what: $what, value }),
                }
            }
        }
    };
}

codes! {
    /// What a plugin call returned.
    Status, "status" {
        /// [`SEVER_STATUS_OK`].
        Ok = SEVER_STATUS_OK,
        /// [`SEVER_STATUS_ERROR`].
        Error = SEVER_STATUS_ERROR,
        /// [`SEVER_STATUS_PANIC`].
        Panic = SEVER_STATUS_PANIC,
    }
}

codes! {
    /// [`SeverStep::kind`].
    StepKind, "step kind" {
        /// [`SEVER_STEP_HTTP`].
        Http = SEVER_STEP_HTTP,
        /// [`SEVER_STEP_DONE`].
        Done = SEVER_STEP_DONE,
        /// [`SEVER_STEP_FAIL`].
        Fail = SEVER_STEP_FAIL,
    }
}

codes! {
    /// [`SeverInput::kind`].
    InputKind, "input kind" {
        /// [`SEVER_INPUT_HTTP_RESPONSE`].
        HttpResponse = SEVER_INPUT_HTTP_RESPONSE,
        /// [`SEVER_INPUT_RETRY`].
        Retry = SEVER_INPUT_RETRY,
    }
}

impl StepKind {
    /// The kind's name (`http`, `done`, `fail`): what dry-run output and conformance cases
    /// call an exchange.
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Http => "http",
            StepKind::Done => "done",
            StepKind::Fail => "fail",
        }
    }
}
