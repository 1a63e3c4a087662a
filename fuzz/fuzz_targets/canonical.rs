//! The canonical request parser (`canonical::parse`) and the fitting of a parsed target to
//! an action's field sets (`canonical::fit_target`), on arbitrary bytes.
//!
//! The input is the request body followed by 8 bytes that pick the field sets: one to
//! three alternatives of one to three fields, plus optional fields outside them (the shapes
//! the adapters declare: cedalo's one field, nexus's two, privx's three alternatives,
//! iudx's optional `client_id`, and shapes no adapter has yet). No adapter crate is linked:
//! each exports the same `sever_plugin_descriptor` symbol.
//!
//! Beyond "no panic": a parsed request holds only identifiers the spec allows, and a fitted
//! target holds only fields of the request, unchanged, forming exactly one of the field sets
//! (plus declared optional fields).
#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use sever_engine::canonical::{self, Selection};
use sever_plugin_sdk::{ActionSpec, TargetField};

const FIELDS: [TargetField; 7] = [
    TargetField::ClientId,
    TargetField::ConnectionId,
    TargetField::UserId,
    TargetField::HostId,
    TargetField::Source,
    TargetField::Topic,
    TargetField::MessageType,
];
/// Bytes at the end of the input that pick the field sets.
const SPEC_BYTES: usize = 8;

fn allowed(value: &str) -> bool {
    canonical::check_identifier("x", value).is_ok()
}

/// Field sets for `action`, picked by `bytes`.
fn spec(action: sever_plugin_sdk::Action, bytes: &[u8]) -> ActionSpec {
    let mut u = Unstructured::new(bytes);
    let count = u.int_in_range(1..=3usize).unwrap_or(1);
    let mut sets: Vec<Vec<TargetField>> = Vec::new();
    for _ in 0..count {
        let size = u.int_in_range(1..=3usize).unwrap_or(1);
        let mut set = Vec::new();
        for _ in 0..size {
            let field = *u.choose(&FIELDS).unwrap_or(&TargetField::ClientId);
            if !set.contains(&field) {
                set.push(field);
            }
        }
        sets.push(set);
    }
    let optional: Vec<TargetField> = FIELDS
        .into_iter()
        .filter(|f| !sets.iter().any(|s| s.contains(f)))
        .filter(|_| u.ratio(1, 4).unwrap_or(false))
        .collect();
    ActionSpec::new(action, sets, "fuzzed").optional_fields(optional)
}

fuzz_target!(|data: &[u8]| {
    let split = data.len().saturating_sub(SPEC_BYTES);
    let (body, spec_bytes) = data.split_at(split);
    let Ok(request) = canonical::parse(body) else {
        return;
    };
    match &request.selection {
        Selection::One(name) => assert!(allowed(name), "backend {name:?}"),
        Selection::Names(names) | Selection::Tags(names) => {
            assert!(!names.is_empty());
            assert!(names.iter().all(|n| allowed(n)), "{names:?}");
        }
    }
    for field in FIELDS {
        if let Some(value) = request.target.get(field) {
            assert!(allowed(value), "target.{field} {value:?}");
        }
    }
    if let Some(reason) = &request.reason {
        assert!(reason.len() <= canonical::MAX_REASON_BYTES);
        assert!(!reason.chars().any(char::is_control), "reason {reason:?}");
    }
    let spec = spec(request.action, spec_bytes);
    let Ok(fitted) = canonical::fit_target(&request.target, &spec) else {
        return;
    };
    let present: Vec<TargetField> = FIELDS
        .into_iter()
        .filter(|f| fitted.get(*f).is_some())
        .collect();
    for field in &present {
        assert_eq!(fitted.get(*field), request.target.get(*field), "{field}");
    }
    let matching = spec.target_sets.iter().filter(|set| {
        set.iter().all(|f| present.contains(f))
            && present
                .iter()
                .all(|f| set.contains(f) || spec.optional_fields.contains(f))
    });
    assert_eq!(
        matching.count(),
        1,
        "{present:?} for {:?}",
        spec.target_sets
    );
});
