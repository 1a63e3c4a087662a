//! The `tracing` layer that turns the engine's spans into OpenTelemetry spans (see the
//! parent module's doc for the ids, sampling and kinds it reads from span fields).

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, IdGenerator, RandomIdGenerator, SpanData, SpanEvents, SpanLinks,
    SpanProcessor,
};
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// A `tracing` layer that exports the engine's spans (see the module doc). Add it with
/// [`SpanExport::wants`] as its filter, so that `RUST_LOG` governs the log alone.
pub(crate) struct SpanExport {
    processor: Arc<BatchSpanProcessor>,
    scope: InstrumentationScope,
    ids: RandomIdGenerator,
}

impl fmt::Debug for SpanExport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanExport").finish_non_exhaustive()
    }
}

impl SpanExport {
    /// A layer handing every closed, sampled span to `processor`.
    pub(crate) fn new(processor: Arc<BatchSpanProcessor>) -> Self {
        SpanExport {
            processor,
            scope: InstrumentationScope::builder("sever")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
            ids: RandomIdGenerator::default(),
        }
    }

    /// The spans exported: the engine's, at info level or above. Events never.
    pub(crate) fn wants(meta: &Metadata<'_>) -> bool {
        meta.is_span() && meta.target().starts_with("sever_engine") && *meta.level() <= Level::INFO
    }
}

/// A span being recorded, kept in the `tracing` span's extensions until it closes.
#[derive(Debug)]
struct Open {
    trace_id: TraceId,
    span_id: SpanId,
    parent_span_id: SpanId,
    /// The parent is the caller's span (from its `traceparent`), not one of Sever's.
    parent_is_remote: bool,
    /// Not sampled: kept only so that its children know, never exported.
    sampled: bool,
    kind: SpanKind,
    start: SystemTime,
    attributes: Vec<KeyValue>,
}

impl<S> Layer<S> for SpanExport
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        // The nearest exported ancestor (spans this layer does not see are skipped).
        let parent = span.parent().and_then(|p| {
            p.extensions()
                .get::<Open>()
                .map(|o| (o.trace_id, o.span_id, o.sampled))
        });
        let (trace_id, parent_span_id, parent_is_remote, sampled) = match parent {
            Some((trace_id, span_id, sampled)) => (trace_id, span_id, false, sampled),
            None => (
                fields.trace_id.unwrap_or_else(|| self.ids.new_trace_id()),
                fields.parent_id.unwrap_or(SpanId::INVALID),
                fields.parent_id.is_some(),
                fields.sampled.unwrap_or(true),
            ),
        };
        span.extensions_mut().insert(Open {
            trace_id,
            span_id: fields.span_id.unwrap_or_else(|| self.ids.new_span_id()),
            parent_span_id,
            parent_is_remote,
            sampled,
            kind: fields.kind.unwrap_or(SpanKind::Internal),
            start: SystemTime::now(),
            attributes: fields.attributes,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut fields = Fields::default();
        values.record(&mut fields);
        let mut extensions = span.extensions_mut();
        let Some(open) = extensions.get_mut::<Open>() else {
            return;
        };
        for kv in fields.attributes {
            match open.attributes.iter_mut().find(|old| old.key == kv.key) {
                Some(old) => *old = kv,
                None => open.attributes.push(kv),
            }
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let Some(open) = span.extensions_mut().remove::<Open>() else {
            return;
        };
        if !open.sampled {
            return;
        }
        let status = match open.kind {
            SpanKind::Client => client_status(&open.attributes),
            _ => Status::Unset,
        };
        self.processor.on_end(SpanData {
            span_context: SpanContext::new(
                open.trace_id,
                open.span_id,
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: open.parent_span_id,
            parent_span_is_remote: open.parent_is_remote,
            span_kind: open.kind,
            name: Cow::Borrowed(span.metadata().name()),
            start_time: open.start,
            end_time: SystemTime::now(),
            attributes: open.attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status,
            instrumentation_scope: self.scope.clone(),
        });
    }
}

/// A client span (a vendor call) is an error when it got no answer or a 5xx (the
/// OpenTelemetry HTTP client convention); a 4xx is the vendor's verdict on the request, not
/// a failed call.
fn client_status(attributes: &[KeyValue]) -> Status {
    let status = attributes
        .iter()
        .find(|kv| kv.key.as_str() == "status")
        .map(|kv| &kv.value);
    match status {
        Some(Value::I64(code)) if *code < 500 => Status::Unset,
        Some(Value::I64(code)) => Status::error(format!("vendor answered {code}")),
        _ => Status::error("no answer from the vendor"),
    }
}

/// A span's fields as attributes; the trace context fields (see the module doc) as the
/// span's own ids, sampling and kind instead.
#[derive(Default)]
struct Fields {
    trace_id: Option<TraceId>,
    span_id: Option<SpanId>,
    parent_id: Option<SpanId>,
    sampled: Option<bool>,
    kind: Option<SpanKind>,
    attributes: Vec<KeyValue>,
}

impl Fields {
    fn push(&mut self, field: &Field, value: Value) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "trace_id" => self.trace_id = parse_trace_id(value),
            "span_id" => self.span_id = parse_span_id(value),
            "parent_id" => self.parent_id = parse_span_id(value),
            "otel.kind" => self.kind = parse_kind(value),
            _ => self.push(field, Value::from(value.to_owned())),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `%` fields arrive here too, their Debug being their Display.
        self.record_str(field, &format!("{value:?}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Value::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match i64::try_from(value) {
            Ok(v) => self.push(field, Value::I64(v)),
            Err(_) => self.push(field, Value::from(value.to_string())),
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, Value::F64(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.name() == "sampled" {
            self.sampled = Some(value);
            return;
        }
        self.push(field, Value::Bool(value));
    }
}

/// A valid (32 lowercase hex digits, not all zero) trace id.
fn parse_trace_id(text: &str) -> Option<TraceId> {
    let valid = text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    TraceId::from_hex(text)
        .ok()
        .filter(|id| valid && *id != TraceId::INVALID)
}

/// A valid (16 lowercase hex digits, not all zero) span id; `None` for anything else,
/// the empty `parent_id` of a root span included.
fn parse_span_id(text: &str) -> Option<SpanId> {
    let valid = text.len() == 16 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    SpanId::from_hex(text)
        .ok()
        .filter(|id| valid && *id != SpanId::INVALID)
}

/// `otel.kind`, as OpenTelemetry names span kinds.
fn parse_kind(text: &str) -> Option<SpanKind> {
    match text {
        "server" => Some(SpanKind::Server),
        "client" => Some(SpanKind::Client),
        "internal" => Some(SpanKind::Internal),
        "producer" => Some(SpanKind::Producer),
        "consumer" => Some(SpanKind::Consumer),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_a_well_formed_trace_id_is_taken() {
        assert_eq!(
            parse_trace_id("4bf92f3577b34da6a3ce929d0e0e4736"),
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").ok()
        );
        for bad in [
            "",
            "4bf92f3577b34da6a3ce929d0e0e473",
            "4BF92F3577B34DA6A3CE929D0E0E4736",
            "00000000000000000000000000000000",
            "4bf92f3577b34da6a3ce929d0e0e473g",
        ] {
            assert_eq!(parse_trace_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_a_well_formed_span_id_and_a_known_kind_are_taken() {
        assert_eq!(
            parse_span_id("00f067aa0ba902b7"),
            SpanId::from_hex("00f067aa0ba902b7").ok()
        );
        for bad in [
            "",
            "00F067AA0BA902B7",
            "0000000000000000",
            "00f067aa0ba902b",
        ] {
            assert_eq!(parse_span_id(bad), None, "{bad}");
        }
        assert_eq!(parse_kind("client"), Some(SpanKind::Client));
        assert_eq!(parse_kind("server"), Some(SpanKind::Server));
        assert_eq!(parse_kind("Client"), None);
    }

    #[test]
    fn a_vendor_call_without_answer_or_with_a_5xx_is_an_error() {
        let status = |code: Option<i64>| {
            let attrs: Vec<KeyValue> = code
                .map(|c| KeyValue::new("status", c))
                .into_iter()
                .collect();
            client_status(&attrs)
        };
        assert_eq!(status(Some(200)), Status::Unset);
        assert_eq!(status(Some(404)), Status::Unset);
        assert!(matches!(status(Some(503)), Status::Error { .. }));
        assert!(matches!(status(None), Status::Error { .. }));
    }

    #[test]
    fn only_the_engines_info_spans_are_exported() {
        use tracing::callsite::Identifier;
        use tracing::field::FieldSet;
        use tracing::metadata::Kind;
        struct Site;
        impl tracing::Callsite for Site {
            fn set_interest(&self, _: tracing::subscriber::Interest) {}
            fn metadata(&self) -> &Metadata<'_> {
                unreachable!()
            }
        }
        static SITE: Site = Site;
        let meta = |target: &'static str, level: Level, kind: Kind| {
            Metadata::new(
                "x",
                target,
                level,
                None,
                None,
                None,
                FieldSet::new(&[], Identifier(&SITE)),
                kind,
            )
        };
        assert!(SpanExport::wants(&meta(
            "sever_engine::api",
            Level::INFO,
            Kind::SPAN
        )));
        assert!(!SpanExport::wants(&meta(
            "sever_engine::api",
            Level::DEBUG,
            Kind::SPAN
        )));
        assert!(!SpanExport::wants(&meta(
            "sever_engine::api",
            Level::INFO,
            Kind::EVENT
        )));
        assert!(!SpanExport::wants(&meta(
            "h2::proto",
            Level::INFO,
            Kind::SPAN
        )));
    }
}
