//! The AWS IoT rows, run next to Alibaba's in the same run: `signature/aws-sigv4` (one
//! Signature V4 through the adapter's signer, i.e. `aws-sigv4`) and
//! `translate/aws-iot/static` (the whole path of a `DeleteConnection`, signing included).

use super::{translate, Backend, ENV};
use criterion::Criterion;
use sever_aws_iot::{signing::Signer, AwsIot};
use sever_engine::host;
use std::hint::black_box;
use std::path::Path;

/// A canonical disconnect on the AWS backend.
const CANONICAL_AWS: &[u8] = br#"{"action":"disconnect","backend":"iot-eu","target":{"client_id":"sensor-17"},"reason":"credential leak INC-4411"}"#;
/// The URL the adapter signs for that request.
const URL: &str = "https://a1b2c3-ats.iot.eu-west-1.amazonaws.com/connections/sensor-17?cleanSession=false&preventWillMessage=false";
const KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

fn spec() -> sever_plugin_sdk::BackendSpec {
    let settings = serde_json::json!({
        "region": "eu-west-1", "access_key_id": KEY_ID, "secret_access_key": SECRET,
    });
    sever_plugin_sdk::BackendSpec {
        name: "iot-eu".into(),
        url: "https://a1b2c3-ats.iot.eu-west-1.amazonaws.com".into(),
        settings: settings.as_object().cloned().unwrap_or_default(),
    }
}

/// The adapter linked statically.
pub(crate) fn backend() -> Backend {
    let descriptor = sever_plugin_sdk::static_descriptor!(AwsIot);
    let plugin = host::load_static(descriptor, Path::new("<static>"));
    Backend::new(plugin.unwrap_or_else(|e| panic!("{e}")), spec())
}

/// One signature, as the adapter computes it for every call.
pub(crate) fn sign(signer: &Signer) -> String {
    match signer.sign("DELETE", black_box(URL), &[], b"", ENV.unix_ms) {
        Ok(signed) => signed.signature,
        Err(why) => panic!("{why}"),
    }
}

pub(crate) fn signer() -> Signer {
    Signer::new(KEY_ID, SECRET, None, "eu-west-1", "iotdata")
}

pub(crate) fn bench(c: &mut Criterion, headers: &[(String, Vec<u8>)]) {
    let signer = signer();
    c.bench_function("signature/aws-sigv4", |b| b.iter(|| sign(&signer)));
    let backend = backend();
    c.bench_function("translate/aws-iot/static", |b| {
        b.iter(|| translate(&backend, black_box(CANONICAL_AWS), b"", headers))
    });
}

/// Allocations of the two rows, for the table `--allocs` prints.
pub(crate) fn allocation_rows() -> Vec<(&'static str, (f64, f64))> {
    let signer = signer();
    let backend = backend();
    let headers = sever_benches::answer_headers();
    vec![
        (
            "signature/aws-sigv4",
            sever_benches::allocations(|| sign(&signer)),
        ),
        (
            "translate/aws-iot/static",
            sever_benches::allocations(|| translate(&backend, CANONICAL_AWS, b"", &headers)),
        ),
    ]
}
