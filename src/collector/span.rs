//! The collector's stored span: what every receiver (OTLP, Zipkin) turns a
//! payload into, shaped like the span Jaeger v2's query path builds from
//! storage (its `model.Span`) before the adjusters run.
//!
//! Tags keep their types and the translator's order; the adjusters
//! ([`super::adjust`]) sort and rewrite them per query. Beside them the span
//! keeps where the raw attributes Jaeger v2 searches are (a `tag=` filter
//! matches attributes, not derived tags such as `span.kind`): usually a
//! range of its tags, read as text when searched, so nothing is stored twice.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashSet;
use std::ops::Range;
use std::sync::Arc;

use base64::Engine as _;

use super::{go_json, go_text};

/// 128-bit trace id; Jaeger prints it as 16 hex digits when the high half is 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(pub u128);

impl TraceId {
    /// 16 bytes, not all zero.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let arr: [u8; 16] = bytes.try_into().ok()?;
        let id = u128::from_be_bytes(arr);
        (id != 0).then_some(TraceId(id))
    }

    /// Jaeger's `TraceIDFromString`: up to 32 hex digits, with its errors.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.len() > 32 {
            return Err(format!(
                "TraceID cannot be longer than 32 hex characters: {text}"
            ));
        }
        if text.len() > 16 {
            let split = text.len() - 16;
            let (Some(high), Some(low)) = (text.get(..split), text.get(split..)) else {
                return Err(go_text::parse_hex_u64(text).unwrap_err());
            };
            let high = go_text::parse_hex_u64(high)?;
            let low = go_text::parse_hex_u64(low)?;
            return Ok(TraceId((u128::from(high) << 64) | u128::from(low)));
        }
        go_text::parse_hex_u64(text).map(|low| TraceId(u128::from(low)))
    }

    pub fn to_jaeger_string(self) -> String {
        let high = (self.0 >> 64) as u64;
        let low = self.0 as u64;
        if high == 0 {
            format!("{low:016x}")
        } else {
            format!("{high:016x}{low:016x}")
        }
    }
}

/// 8 bytes, not all zero.
pub fn span_id_from_bytes(bytes: &[u8]) -> Option<u64> {
    let arr: [u8; 8] = bytes.try_into().ok()?;
    let id = u64::from_be_bytes(arr);
    (id != 0).then_some(id)
}

pub fn span_id_string(id: u64) -> String {
    format!("{id:016x}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SpanKind {
    Unspecified,
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

impl SpanKind {
    /// Jaeger's name for the kind; empty for unspecified.
    pub fn as_str(self) -> &'static str {
        match self {
            SpanKind::Unspecified => "",
            SpanKind::Internal => "internal",
            SpanKind::Server => "server",
            SpanKind::Client => "client",
            SpanKind::Producer => "producer",
            SpanKind::Consumer => "consumer",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusCode {
    Unset,
    Ok,
    Error,
}

/// Shared text. Keys, names and most values repeat from span to span, so
/// each export request keeps one copy of each (an [`Interner`]), shared by
/// its spans: most of a stored span is then pointers, not strings.
pub type Text = Arc<str>;

/// One copy of each text of an export request.
#[derive(Default)]
pub struct Interner {
    texts: HashSet<Text, foldhash::fast::RandomState>,
}

impl Interner {
    pub fn text(&mut self, text: &str) -> Text {
        if let Some(shared) = self.texts.get(text) {
            return Arc::clone(shared);
        }
        let shared: Text = Arc::from(text);
        self.texts.insert(Arc::clone(&shared));
        shared
    }
}

/// A tag value with its Jaeger type (16 bytes and a tag: a span keeps
/// dozens of these).
#[derive(Debug, Clone, PartialEq)]
pub enum TagValue {
    Str(Text),
    Bool(bool),
    Int(i64),
    Float(f64),
    Binary(Box<[u8]>),
}

impl TagValue {
    /// Jaeger's `ValueType` number, which orders tags of one key.
    fn type_rank(&self) -> u8 {
        match self {
            TagValue::Str(_) => 0,
            TagValue::Bool(_) => 1,
            TagValue::Int(_) => 2,
            TagValue::Float(_) => 3,
            TagValue::Binary(_) => 4,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tag {
    pub key: Text,
    pub value: TagValue,
}

impl Tag {
    pub fn new(key: impl Into<Text>, value: TagValue) -> Self {
        Tag {
            key: key.into(),
            value,
        }
    }

    pub fn string(key: impl Into<Text>, value: impl Into<Text>) -> Self {
        Tag::new(key, TagValue::Str(value.into()))
    }

    /// pdata's `Value.AsString` of the attribute this tag was made from:
    /// what a tag search compares (lists and maps are already that text).
    pub fn search_text(&self) -> Cow<'_, str> {
        match &self.value {
            TagValue::Str(s) => Cow::Borrowed(s),
            TagValue::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            TagValue::Int(i) => Cow::Owned(i.to_string()),
            TagValue::Float(f) if !f.is_finite() => Cow::Owned(format!(
                "json: unsupported value: {}",
                go_json::go_float_g(*f)
            )),
            TagValue::Float(f) => Cow::Owned(go_json::float_text(*f)),
            TagValue::Binary(b) => Cow::Owned(base64::engine::general_purpose::STANDARD.encode(b)),
        }
    }

    /// Jaeger's `KeyValue.Compare`: key, then type, then value.
    pub fn compare(&self, other: &Tag) -> Ordering {
        self.key
            .cmp(&other.key)
            .then_with(|| self.value.type_rank().cmp(&other.value.type_rank()))
            .then_with(|| match (&self.value, &other.value) {
                (TagValue::Str(a), TagValue::Str(b)) => a.cmp(b),
                (TagValue::Bool(a), TagValue::Bool(b)) => a.cmp(b),
                (TagValue::Int(a), TagValue::Int(b)) => a.cmp(b),
                (TagValue::Float(a), TagValue::Float(b)) => {
                    a.partial_cmp(b).unwrap_or(Ordering::Equal)
                }
                (TagValue::Binary(a), TagValue::Binary(b)) => a.cmp(b),
                _ => Ordering::Equal,
            })
    }
}

/// Sort as Jaeger's adjusters do (`model.KeyValues.Sort`).
pub fn sort_tags(tags: &mut [Tag]) {
    tags.sort_by(Tag::compare);
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredRef {
    pub follows_from: bool,
    /// 0 for a link without a trace id (Jaeger drops it with a warning).
    pub trace_id: TraceId,
    pub span_id: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredLog {
    pub timestamp_unix_nano: u64,
    pub fields: Vec<Tag>,
}

/// A process (Jaeger's name for a resource): service name plus tags.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredProcess {
    pub service_name: String,
    pub tags: Vec<Tag>,
    /// Resource attributes as text, in order, for tag searches.
    pub search_attrs: Vec<(String, String)>,
}

/// Where a tag search looks, in order: the span's attributes, its
/// scope's, and each event's (as text, pdata's `AsString`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchAttributes {
    pub span: SpanAttributes,
    pub scope: Vec<(String, String)>,
    pub events: Vec<Vec<(String, String)>>,
}

/// A span's own attributes, for tag searches.
#[derive(Debug, Clone, PartialEq)]
pub enum SpanAttributes {
    /// `tags[range]`: one tag per attribute, in order (the usual case).
    Tags(Range<usize>),
    /// As text, kept apart: some attribute has no tag of its own (the
    /// warnings Jaeger's sanitizers add are not tags).
    Text(Vec<(String, String)>),
}

impl Default for SpanAttributes {
    fn default() -> Self {
        SpanAttributes::Tags(0..0)
    }
}

/// pcommon `Map.Get`: the first attribute with the key.
pub fn first_value<'a>(attrs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredSpan {
    pub trace_id: TraceId,
    pub span_id: u64,
    /// Parent first, then links, as Jaeger's translator orders them.
    pub references: Vec<StoredRef>,
    /// Whether `references[0]` is the span's own parent (OTLP's
    /// `parent_span_id`) rather than a link: what Jaeger's dependency
    /// graph follows.
    pub has_parent: bool,
    /// OTLP's span flags (W3C trace flags and the remote-parent bits),
    /// which Jaeger's v3 API returns and its v1 API drops.
    pub flags: u32,
    pub operation: Text,
    pub kind: SpanKind,
    pub status: StatusCode,
    pub start_unix_nano: u64,
    /// After Jaeger's sanitizer: always after the start.
    pub end_unix_nano: u64,
    pub tags: Vec<Tag>,
    pub logs: Vec<StoredLog>,
    pub process: Arc<StoredProcess>,
    pub search: SearchAttributes,
    pub warnings: Vec<String>,
}

impl StoredSpan {
    pub fn start_us(&self) -> u64 {
        self.start_unix_nano / 1_000
    }

    pub fn duration_nanos(&self) -> i64 {
        self.end_unix_nano as i64 - self.start_unix_nano as i64
    }

    pub fn duration_us(&self) -> u64 {
        (self.duration_nanos() / 1_000) as u64
    }

    /// Jaeger's `ParentSpanID`: the first CHILD_OF reference in the same
    /// trace, else the first FOLLOWS_FROM one.
    pub fn parent_span_id(&self) -> Option<u64> {
        parent_of(self.trace_id, &self.references)
    }

    /// OTLP's `parent_span_id`, links aside (`None` for a root).
    pub fn otlp_parent(&self) -> Option<u64> {
        self.has_parent
            .then(|| self.references.first().map(|r| r.span_id))
            .flatten()
    }

    /// Does a tag search for `key` = `value` match this span (its span,
    /// scope, resource or event attributes, first value of each key)?
    pub fn has_attribute(&self, key: &str, value: &str) -> bool {
        let matches = |attrs: &[(String, String)]| first_value(attrs, key) == Some(value);
        let in_span = match &self.search.span {
            SpanAttributes::Text(attrs) => matches(attrs),
            SpanAttributes::Tags(range) => self
                .tags
                .get(range.clone())
                .and_then(|tags| tags.iter().find(|t| &*t.key == key))
                .is_some_and(|t| t.search_text() == value),
        };
        in_span
            || matches(&self.search.scope)
            || matches(&self.process.search_attrs)
            || self.search.events.iter().any(|e| matches(e))
    }
}

pub fn parent_of(trace_id: TraceId, references: &[StoredRef]) -> Option<u64> {
    let same_trace = || references.iter().filter(|r| r.trace_id == trace_id);
    same_trace()
        .find(|r| !r.follows_from)
        .or_else(|| same_trace().next())
        .map(|r| r.span_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_id_prints_short_when_the_high_half_is_zero_as_jaeger_does() {
        assert_eq!(TraceId(0xabc).to_jaeger_string(), "0000000000000abc");
        assert_eq!(
            TraceId((1u128 << 64) | 2).to_jaeger_string(),
            "00000000000000010000000000000002"
        );
    }

    #[test]
    fn trace_id_parses_what_it_prints_and_rejects_junk_with_jaegers_messages() {
        let id = TraceId(0x1234_5678_9abc_def0_1234_5678_9abc_def0);
        assert_eq!(TraceId::parse(&id.to_jaeger_string()), Ok(id));
        assert_eq!(
            TraceId::parse("xyz").unwrap_err(),
            "strconv.ParseUint: parsing \"xyz\": invalid syntax"
        );
        assert_eq!(
            TraceId::parse(&"1".repeat(33)).unwrap_err(),
            format!(
                "TraceID cannot be longer than 32 hex characters: {}",
                "1".repeat(33)
            )
        );
        assert_eq!(
            TraceId::parse("zz0000000000000000").unwrap_err(),
            "strconv.ParseUint: parsing \"zz\": invalid syntax"
        );
    }

    #[test]
    fn all_zero_ids_are_invalid() {
        assert_eq!(TraceId::from_bytes(&[0; 16]), None);
        assert_eq!(span_id_from_bytes(&[0; 8]), None);
        assert_eq!(span_id_from_bytes(&[1; 4]), None);
    }

    #[test]
    fn tags_sort_by_key_then_type_then_value() {
        let mut tags = vec![
            Tag::new("b", TagValue::Int(2)),
            Tag::new("b", TagValue::Str("z".into())),
            Tag::new("a", TagValue::Bool(true)),
            Tag::new("b", TagValue::Int(1)),
            Tag::new("B", TagValue::Str("upper".into())),
        ];
        sort_tags(&mut tags);
        let order: Vec<_> = tags.iter().map(|t| (&*t.key, &t.value)).collect();
        assert_eq!(
            order,
            [
                ("B", &TagValue::Str("upper".into())),
                ("a", &TagValue::Bool(true)),
                ("b", &TagValue::Str("z".into())),
                ("b", &TagValue::Int(1)),
                ("b", &TagValue::Int(2)),
            ]
        );
    }

    #[test]
    fn the_parent_is_the_first_child_of_else_the_first_follows_from() {
        let r = |follows_from, span_id| StoredRef {
            follows_from,
            trace_id: TraceId(1),
            span_id,
        };
        assert_eq!(parent_of(TraceId(1), &[r(true, 5), r(false, 6)]), Some(6));
        assert_eq!(parent_of(TraceId(1), &[r(true, 5), r(true, 7)]), Some(5));
        assert_eq!(parent_of(TraceId(2), &[r(false, 5)]), None);
    }
}
