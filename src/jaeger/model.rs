//! Jaeger's HTTP query API JSON, as the Jaeger UI reads it.
//!
//! The embedded collector serialises these types and the assertions read
//! them back through [`super::client`], so both ends of tracelab speak the
//! same bytes as a real Jaeger (`internal/uimodel` in jaeger v2).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The envelope every `/api/...` answer is wrapped in.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Envelope<T> {
    pub data: T,
    pub total: usize,
    pub limit: usize,
    pub offset: usize,
    pub errors: Option<Vec<ApiError>>,
}

impl<T> Envelope<T> {
    /// A successful answer; Jaeger fills `total` only for lists of names.
    pub fn ok(data: T, total: usize) -> Self {
        Envelope {
            data,
            total,
            limit: 0,
            offset: 0,
            errors: None,
        }
    }
}

/// One entry of the envelope's `errors`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApiError {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub code: u16,
    pub msg: String,
    #[serde(rename = "traceID", default, skip_serializing_if = "String::is_empty")]
    pub trace_id: String,
}

fn is_zero(n: &u16) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Trace {
    #[serde(rename = "traceID")]
    pub trace_id: String,
    pub spans: Vec<Span>,
    pub processes: BTreeMap<String, Process>,
    pub warnings: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Span {
    #[serde(rename = "traceID")]
    pub trace_id: String,
    #[serde(rename = "spanID")]
    pub span_id: String,
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub flags: u32,
    #[serde(rename = "operationName")]
    pub operation_name: String,
    pub references: Vec<Reference>,
    /// Microseconds since the Unix epoch.
    #[serde(rename = "startTime")]
    pub start_time: u64,
    /// Microseconds.
    pub duration: u64,
    pub tags: Vec<KeyValue>,
    pub logs: Vec<Log>,
    #[serde(
        rename = "processID",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub process_id: String,
    pub warnings: Option<Vec<String>>,
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

impl Span {
    /// The first CHILD_OF reference within the same trace: the parent.
    pub fn parent_span_id(&self) -> Option<&str> {
        self.references
            .iter()
            .find(|r| r.ref_type == RefType::ChildOf && r.trace_id == self.trace_id)
            .map(|r| r.span_id.as_str())
    }

    pub fn tag(&self, key: &str) -> Option<&KeyValue> {
        self.tags.iter().find(|t| t.key == key)
    }

    /// The `span.kind` tag Jaeger derives from OTLP's span kind.
    pub fn kind(&self) -> Option<&str> {
        self.tag("span.kind").and_then(|t| t.value.as_str())
    }

    /// Jaeger marks a failed span with the bool tag `error=true`.
    pub fn is_error(&self) -> bool {
        self.tag("error")
            .is_some_and(|t| t.value.as_bool() == Some(true) || t.value.as_str() == Some("true"))
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum RefType {
    #[serde(rename = "CHILD_OF")]
    ChildOf,
    #[serde(rename = "FOLLOWS_FROM")]
    FollowsFrom,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Reference {
    #[serde(rename = "refType")]
    pub ref_type: RefType,
    #[serde(rename = "traceID")]
    pub trace_id: String,
    #[serde(rename = "spanID")]
    pub span_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Process {
    #[serde(rename = "serviceName")]
    pub service_name: String,
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Log {
    pub timestamp: u64,
    pub fields: Vec<KeyValue>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ValueType {
    String,
    Bool,
    Int64,
    Float64,
    Binary,
}

/// A tag: `value` is a JSON string, bool or number as `type` says (int64
/// beyond ±2^53 and binary values are strings, as Jaeger writes them).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KeyValue {
    pub key: String,
    #[serde(rename = "type")]
    pub value_type: ValueType,
    pub value: serde_json::Value,
}

impl KeyValue {
    pub fn string(key: impl Into<String>, value: impl Into<String>) -> Self {
        KeyValue {
            key: key.into(),
            value_type: ValueType::String,
            value: serde_json::Value::String(value.into()),
        }
    }

    pub fn bool(key: impl Into<String>, value: bool) -> Self {
        KeyValue {
            key: key.into(),
            value_type: ValueType::Bool,
            value: serde_json::Value::Bool(value),
        }
    }

    /// The value as text, the way the Jaeger UI shows it and tag searches
    /// compare it.
    pub fn value_text(&self) -> String {
        match &self.value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_serialises_with_jaeger_field_names_and_omits_empty_optionals() {
        let span = Span {
            trace_id: "00000000000000000000000000000001".into(),
            span_id: "0000000000000002".into(),
            flags: 0,
            operation_name: "checkStock".into(),
            references: vec![],
            start_time: 1,
            duration: 2,
            tags: vec![KeyValue::string("component", "proxy")],
            logs: vec![],
            process_id: String::new(),
            warnings: None,
        };
        let json = serde_json::to_value(&span).unwrap();
        let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "duration",
                "logs",
                "operationName",
                "references",
                "spanID",
                "startTime",
                "tags",
                "traceID",
                "warnings"
            ]
        );
        assert_eq!(json["warnings"], serde_json::Value::Null);
        assert_eq!(
            json["tags"][0],
            serde_json::json!({"key": "component", "type": "string", "value": "proxy"})
        );
    }

    #[test]
    fn parent_is_the_child_of_reference_in_the_same_trace() {
        let mut span: Span = serde_json::from_value(serde_json::json!({
            "traceID": "t", "spanID": "b", "operationName": "op",
            "references": [
                {"refType": "FOLLOWS_FROM", "traceID": "t", "spanID": "x"},
                {"refType": "CHILD_OF", "traceID": "t", "spanID": "a"}
            ],
            "startTime": 0, "duration": 0, "tags": [], "logs": [], "warnings": null
        }))
        .unwrap();
        assert_eq!(span.parent_span_id(), Some("a"));
        span.references[1].trace_id = "other".into();
        assert_eq!(span.parent_span_id(), None);
    }
}
