//! The host's checks against hand-made descriptors: everything a broken plugin could hand
//! it is refused or contained with a message, never undefined behaviour.
#![allow(clippy::unwrap_used)]

use crate::{load_static, InstanceError, LoadError, PluginFault, Resume};
use sever_plugin_abi::raw::{
    SeverBuf, SeverDescriptor, SeverEnv, SeverRequest, SeverStep, SEVER_FLAG_PANIC_ABORTS,
};
use sever_plugin_abi::StaticDescriptor;
use sever_plugin_sdk::prelude::*;
use std::ffi::c_void;
use std::path::Path;

/// Answers every flow `done`, naming the response headers it was given.
struct HeaderNames;

impl Adapter for HeaderNames {
    const NAME: &'static str = "header-names";
    const VERSION: &'static str = "1";
    type Settings = ();
    type Flow = ();

    fn info() -> PluginInfo {
        PluginInfo::new(
            "test adapter",
            vec![ActionSpec::new(
                Action::Disconnect,
                [[TargetField::ClientId]],
                "x",
            )],
        )
    }
    fn new(_: Backend<()>) -> Result<Self, Vec<SettingError>> {
        Ok(HeaderNames)
    }
    fn start(&self, _: &Request, _: &Env) -> ((), Step) {
        (
            (),
            Step::Send(VendorRequest::new("GET", "http://h/".into())),
        )
    }
    fn resume(&self, _: &mut (), input: Input<'_>, _: &Env) -> Step {
        let Input::Response(response) = input else {
            return Step::Fail(Problem::new(ProblemKind::VendorError, "no response"));
        };
        let names: Vec<&str> = response.headers.iter().map(|(n, _)| *n).collect();
        let mut vendor = serde_json::Map::new();
        vendor.insert("headers".into(), names.join(",").into());
        Step::Done(Success {
            outcome: Outcome::Done,
            vendor,
        })
    }
}

const ENV: Env = Env {
    unix_ms: 1,
    random: [3; 32],
};

fn request() -> Request {
    Request {
        request_id: "r".into(),
        action: Action::Disconnect,
        target: Target {
            client_id: Some("c".into()),
            ..Target::default()
        },
        reason: None,
    }
}

fn spec() -> BackendSpec {
    BackendSpec {
        name: "b".into(),
        url: "http://h".into(),
        settings: serde_json::Map::new(),
    }
}

/// The SDK's descriptor of [`HeaderNames`], changed by `edit`.
fn descriptor(edit: impl FnOnce(&mut SeverDescriptor)) -> StaticDescriptor {
    let base = sever_plugin_sdk::static_descriptor!(HeaderNames).get();
    let mut copy = SeverDescriptor {
        magic: base.magic,
        abi_major: base.abi_major,
        size: base.size,
        abi_minor: base.abi_minor,
        flags: base.flags,
        name: base.name,
        version: base.version,
        metadata: base.metadata,
        instance_new: base.instance_new,
        instance_free: base.instance_free,
        flow_start: base.flow_start,
        flow_resume: base.flow_resume,
        flow_free: base.flow_free,
        buf_free: base.buf_free,
        instance_connection: base.instance_connection,
    };
    edit(&mut copy);
    // SAFETY: every entry is the SDK's own or one of this file's, each keeping its
    // contract (a broken answer is what the host must survive, not undefined behaviour).
    unsafe { StaticDescriptor::new(Box::leak(Box::new(copy))) }
}

fn refused(edit: impl FnOnce(&mut SeverDescriptor)) -> LoadError {
    load_static(descriptor(edit), Path::new("<test>")).unwrap_err()
}

#[test]
fn a_good_plugin_loads_and_every_response_header_crosses_the_boundary() {
    let plugin = load_static(descriptor(|_| {}), Path::new("<test>")).unwrap();
    assert_eq!(plugin.abi(), "3.1");
    let instance = plugin.instantiate(&spec()).unwrap();
    for count in [0, 1, 16, 17, 40] {
        let headers: Vec<(String, Vec<u8>)> = (0..count)
            .map(|i| (format!("h{i}"), b"v".to_vec()))
            .collect();
        let (mut flow, _) = instance.start(&request(), &ENV).unwrap();
        let answer = Resume::Response {
            status: 200,
            headers: &headers,
            body: b"",
        };
        let Step::Done(success) = flow.resume(answer, &ENV).unwrap() else {
            panic!("expected done")
        };
        let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            success.vendor["headers"],
            names.join(","),
            "{count} headers"
        );
    }
}

#[test]
fn a_bad_header_is_refused_before_anything_else_is_read() {
    let e = refused(|d| d.magic = 1);
    assert!(matches!(e, LoadError::BadMagic { .. }), "{e}");
    let e = refused(|d| d.abi_major = 2);
    assert_eq!(
        e.to_string(),
        format!(
            "<test> was built for Sever plugin ABI 2, this sever speaks ABI 3.1; rebuild the \
             plugin against sever-plugin-sdk {} (or include/sever_plugin.h of this release)",
            env!("CARGO_PKG_VERSION")
        )
    );
    let e = refused(|d| d.size = 64);
    assert_eq!(
        e.to_string(),
        "<test>: broken plugin: descriptor size 64 is less than ABI 3.0's 112"
    );
    // A 3.0 plugin's descriptor ends before 3.1's entry: it loads, the entry read as null.
    let plugin = load_static(
        descriptor(|d| {
            d.size = 112;
            d.abi_minor = 0;
        }),
        Path::new("<test>"),
    )
    .unwrap();
    assert_eq!(plugin.abi(), "3.0");
    let instance = plugin.instantiate(&spec()).unwrap();
    assert_eq!(instance.connection().unwrap(), None);
}

#[test]
fn a_null_entry_is_refused_naming_it() {
    type Edit = fn(&mut SeverDescriptor);
    let cases: [(&str, Edit); 7] = [
        ("metadata", |d| d.metadata = None),
        ("instance_new", |d| d.instance_new = None),
        ("instance_free", |d| d.instance_free = None),
        ("flow_start", |d| d.flow_start = None),
        ("flow_resume", |d| d.flow_resume = None),
        ("flow_free", |d| d.flow_free = None),
        ("buf_free", |d| d.buf_free = None),
    ];
    for (entry, edit) in cases {
        let e = refused(edit);
        assert_eq!(
            e.to_string(),
            format!("<test>: broken plugin: the descriptor's {entry} entry is null")
        );
    }
}

#[test]
fn a_plugin_whose_panics_abort_is_refused() {
    let e = refused(|d| d.flags = SEVER_FLAG_PANIC_ABORTS);
    assert!(matches!(e, LoadError::AbortOnPanic { .. }), "{e}");
}

unsafe extern "C" fn metadata_pigeon(out: *mut SeverBuf) -> u32 {
    let json =
        br#"{"name":"header-names","version":"1","transport":"pigeon","actions":[],"settings":[]}"#
            .to_vec();
    let mut json = std::mem::ManuallyDrop::new(json);
    // SAFETY: the host passes a valid out pointer; the buffer is freed by the SDK's
    // buf_free, which rebuilds a Vec<u8> from it.
    unsafe {
        out.write(SeverBuf {
            ptr: json.as_mut_ptr(),
            len: json.len(),
            cap: json.capacity(),
        })
    };
    0
}

#[test]
fn a_transport_the_host_does_not_know_is_refused_naming_it() {
    let e = refused(|d| d.metadata = Some(metadata_pigeon));
    assert_eq!(
        e.to_string(),
        "<test>: broken plugin: its transport \"pigeon\" is not one this sever (ABI 3.1) \
         performs (http, redis, postgres, mqtt, nats): upgrade sever"
    );
}

unsafe extern "C" fn start_with_status_9(
    _: *const c_void,
    _: *const SeverRequest,
    _: *const SeverEnv,
    _: *mut *mut c_void,
    _: *mut SeverStep,
    _: *mut SeverBuf,
) -> u32 {
    9
}

unsafe extern "C" fn start_with_no_flow(
    _: *const c_void,
    _: *const SeverRequest,
    _: *const SeverEnv,
    _: *mut *mut c_void,
    out_step: *mut SeverStep,
    _: *mut SeverBuf,
) -> u32 {
    // SAFETY: a valid out pointer from the host.
    unsafe {
        out_step.write(SeverStep {
            kind: 2,
            size: 0,
            payload: std::ptr::null(),
        })
    };
    0
}

#[test]
fn an_unknown_status_or_a_missing_output_is_a_fault_naming_the_plugin() {
    let plugin = load_static(
        descriptor(|d| d.flow_start = Some(start_with_status_9)),
        Path::new("<test>"),
    )
    .unwrap();
    let instance = plugin.instantiate(&spec()).unwrap();
    let fault = instance.start(&request(), &ENV).unwrap_err();
    assert!(!fault.is_panic());
    assert_eq!(
        fault.to_string(),
        "plugin header-names failed: flow_start returned an unknown status 9"
    );
    let plugin = load_static(
        descriptor(|d| d.flow_start = Some(start_with_no_flow)),
        Path::new("<test>"),
    )
    .unwrap();
    let instance = plugin.instantiate(&spec()).unwrap();
    let fault = instance.start(&request(), &ENV).unwrap_err();
    assert_eq!(
        fault.to_string(),
        "plugin header-names failed: unreadable step: the done step has no payload"
    );
}

/// A settings-refusing instance_new that reports no errors: not a settings problem.
unsafe extern "C" fn refuse_without_reason(
    _: sever_plugin_abi::raw::SeverBytes,
    _: *mut *mut c_void,
    _: *mut SeverBuf,
) -> u32 {
    1
}

#[test]
fn a_refusal_without_settings_errors_is_a_fault() {
    let plugin = load_static(
        descriptor(|d| d.instance_new = Some(refuse_without_reason)),
        Path::new("<test>"),
    )
    .unwrap();
    let error = plugin.instantiate(&spec()).unwrap_err();
    assert!(
        matches!(&error, InstanceError::Fault(PluginFault::Broken { .. })),
        "{error:?}"
    );
}
