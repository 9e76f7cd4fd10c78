//! Jaeger's query-time adjusters, applied to a stored trace before it is
//! rendered (unless the request asks for `raw=true`), in Jaeger's order:
//!
//! 1. a server span sharing its id with a client span (Zipkin's shared
//!    spans) gets a new id, its children follow it;
//! 2. tags, process tags and log fields are sorted (`event` first);
//! 3. identical spans are kept once;
//! 4. clock skew: a span outside its parent gets a warning (Jaeger's
//!    default maximum adjustment is 0, so nothing moves), an orphan or a
//!    duplicate id gets a warning;
//! 5. `ip` / `peer.ipv4` numbers become dotted text;
//! 6. `telemetry.sdk.*` / `telemetry.distro.*` move to the span's process;
//! 7. references without a trace id are dropped, with a warning;
//! 8. the parent reference comes first.

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, Ipv6Addr};

use super::go_text;
use super::intake::otlp::WARNINGS_ATTRIBUTE;
use super::span::{
    SpanAttributes, StoredLog, StoredRef, StoredSpan, Tag, TagValue, Text, TraceId, parent_of,
    sort_tags, span_id_string,
};

/// Jaeger's `query.max-clock-skew-adjustment` default: never move spans.
const MAX_CLOCK_SKEW_ADJUST_NANOS: i64 = 0;

/// Attributes the query service moves from spans to their process.
const LIBRARY_KEYS: [&str; 5] = [
    "telemetry.sdk.language",
    "telemetry.sdk.name",
    "telemetry.sdk.version",
    "telemetry.distro.name",
    "telemetry.distro.version",
];

/// A span's process as the API shows it (each span has its own copy, as
/// in Jaeger; equal ones share a process id when rendered).
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessView {
    pub service_name: String,
    pub tags: Vec<Tag>,
}

/// A span as the API renders it.
#[derive(Debug, Clone, PartialEq)]
pub struct AdjustedSpan {
    pub trace_id: TraceId,
    pub span_id: u64,
    pub references: Vec<StoredRef>,
    /// Whether the span has a parent of its own (OTLP's `parent_span_id`),
    /// not only links; a shared server span gets its client as one.
    pub has_parent: bool,
    pub flags: u32,
    pub operation: Text,
    pub start_unix_nano: i64,
    pub duration_nanos: i64,
    pub tags: Vec<Tag>,
    pub logs: Vec<StoredLog>,
    pub process: ProcessView,
    pub warnings: Vec<String>,
    /// Keys of `telemetry.*` span attributes moved to the process.
    pub moved_to_process: Vec<Text>,
    /// Where the span's attributes had `@jaeger@warnings` and what it
    /// was, when it came with the span: (its index among the attributes,
    /// whether it was a list).
    pub ingest_warnings: Option<(usize, bool)>,
    /// Where `service.name` was among the resource's attributes.
    pub service_name_at: usize,
    /// Jaeger v2's adjusters (`/api/v3`): the parent is OTLP's parent
    /// only, never a link, and warnings use v2's words.
    otlp_parents: bool,
}

impl AdjustedSpan {
    fn from_stored(span: &StoredSpan) -> Self {
        AdjustedSpan {
            trace_id: span.trace_id,
            span_id: span.span_id,
            references: span.references.clone(),
            has_parent: span.has_parent,
            flags: span.flags,
            operation: span.operation.clone(),
            start_unix_nano: span.start_unix_nano as i64,
            duration_nanos: span.duration_nanos(),
            tags: span.tags.clone(),
            logs: span.logs.clone(),
            process: ProcessView {
                service_name: span.process.service_name.clone(),
                tags: span.process.tags.clone(),
            },
            warnings: span.warnings.clone(),
            moved_to_process: Vec::new(),
            ingest_warnings: match &span.search.span {
                SpanAttributes::Text(attrs) => attrs
                    .iter()
                    .position(|(k, _)| k == WARNINGS_ATTRIBUTE)
                    .map(|i| (i, attrs[i].1.starts_with('['))),
                SpanAttributes::Tags(_) => None,
            },
            service_name_at: span
                .process
                .search_attrs
                .iter()
                .position(|(k, _)| k == "service.name")
                .unwrap_or(0),
            otlp_parents: false,
        }
    }

    fn parent(&self) -> u64 {
        if self.otlp_parents {
            return if self.has_parent {
                self.references.first().map_or(0, |r| r.span_id)
            } else {
                0
            };
        }
        parent_of(self.trace_id, &self.references).unwrap_or(0)
    }

    /// `model.Span.HasSpanKind`: the first `span.kind` tag says so.
    fn has_kind(&self, kind: &str) -> bool {
        self.tags
            .iter()
            .find(|t| &*t.key == "span.kind")
            .is_some_and(|t| matches!(&t.value, TagValue::Str(s) if **s == *kind))
    }

    /// `model.Span.ReplaceParentID`.
    fn replace_parent(&mut self, new_parent: u64) {
        let old = self.parent();
        let trace_id = self.trace_id;
        if let Some(r) = self
            .references
            .iter_mut()
            .find(|r| r.span_id == old && r.trace_id == trace_id)
        {
            r.span_id = new_parent;
            return;
        }
        let present = self
            .references
            .iter()
            .any(|r| r.span_id == new_parent && r.trace_id == trace_id);
        if new_parent != 0 && !present {
            self.references.insert(
                0,
                StoredRef {
                    follows_from: false,
                    trace_id,
                    span_id: new_parent,
                },
            );
        }
    }
}

/// The trace's spans as Jaeger's API returns them.
pub fn adjust(spans: &[std::sync::Arc<StoredSpan>], raw: bool) -> Vec<AdjustedSpan> {
    adjust_with(spans, raw, false)
}

/// As Jaeger v2's own adjusters (its `/api/v3`) do: the same steps, but a
/// span's parent is its OTLP parent only (links never count), and the
/// warnings read as v2 writes them.
pub fn adjust_v2(spans: &[std::sync::Arc<StoredSpan>], raw: bool) -> Vec<AdjustedSpan> {
    adjust_with(spans, raw, true)
}

fn adjust_with(
    spans: &[std::sync::Arc<StoredSpan>],
    raw: bool,
    otlp_parents: bool,
) -> Vec<AdjustedSpan> {
    let mut spans: Vec<AdjustedSpan> = spans
        .iter()
        .map(|s| {
            let mut span = AdjustedSpan::from_stored(s);
            span.otlp_parents = otlp_parents;
            span
        })
        .collect();
    if raw {
        return spans;
    }
    uniquify_shared_server_ids(&mut spans);
    // v2 sorts OTLP attributes by key itself (`api_v3`); v1 sorts tags.
    for span in spans.iter_mut().filter(|s| !s.otlp_parents) {
        sort_tags(&mut span.tags);
        sort_tags(&mut span.process.tags);
        for log in &mut span.logs {
            sort_log_fields(&mut log.fields);
        }
    }
    let mut spans = dedupe(spans);
    clock_skew(&mut spans);
    for span in &mut spans {
        dotted_ip_tags(&mut span.tags);
        dotted_ip_tags(&mut span.process.tags);
        if !span.otlp_parents {
            sort_tags(&mut span.process.tags);
        }
        let (library, rest): (Vec<Tag>, Vec<Tag>) = std::mem::take(&mut span.tags)
            .into_iter()
            .partition(|t| LIBRARY_KEYS.contains(&&*t.key));
        span.tags = rest;
        span.moved_to_process = library.iter().map(|t| t.key.clone()).collect();
        span.process.tags.extend(library);
        if !span.otlp_parents {
            sort_tags(&mut span.process.tags);
        }
        drop_references_without_trace(span);
        if !span.otlp_parents {
            parent_reference_first(span);
        }
    }
    spans
}

/// Zipkin's shared spans: a server span with a client span's id gets the
/// next unused id (from 1), becomes that client's child, and takes over
/// the children of the shared id.
fn uniquify_shared_server_ids(spans: &mut [AdjustedSpan]) {
    let mut kinds_by_id: HashMap<u64, (bool, bool)> = HashMap::new();
    for span in spans.iter() {
        let entry = kinds_by_id.entry(span.span_id).or_default();
        entry.0 |= span.has_kind("client");
        entry.1 |= span.has_kind("server");
    }
    let mut max_used = 0u64;
    let mut renamed: HashMap<u64, u64> = HashMap::new();
    for span in spans.iter_mut() {
        let shared_with_client = kinds_by_id.get(&span.span_id).is_some_and(|k| k.0);
        if !span.has_kind("server") || !shared_with_client {
            continue;
        }
        let Some(new_id) = (max_used + 1..u64::MAX).find(|id| !kinds_by_id.contains_key(id)) else {
            span.warnings
                .push("cannot assign unique span ID, too many spans in the trace".into());
            continue;
        };
        max_used = new_id;
        renamed.insert(span.span_id, new_id);
        let old_id = span.span_id;
        span.replace_parent(old_id);
        span.has_parent = true;
        span.span_id = new_id;
    }
    for span in spans.iter_mut() {
        if let Some(&new_parent) = renamed.get(&span.parent())
            && span.span_id != new_parent
        {
            span.replace_parent(new_parent);
        }
    }
}

/// The first string `event` field goes first (swapped there), the rest
/// is sorted.
fn sort_log_fields(fields: &mut [Tag]) {
    let mut offset = 0;
    if let Some(i) = fields
        .iter()
        .position(|f| &*f.key == "event" && matches!(f.value, TagValue::Str(_)))
    {
        fields.swap(0, i);
        offset = 1;
    }
    if fields.len() > 1 {
        sort_tags(&mut fields[offset..]);
    }
}

/// Identical spans (a span delivered twice) are kept once.
fn dedupe(spans: Vec<AdjustedSpan>) -> Vec<AdjustedSpan> {
    let mut kept: Vec<AdjustedSpan> = Vec::with_capacity(spans.len());
    let mut by_id: HashMap<u64, Vec<usize>> = HashMap::new();
    for span in spans {
        let same_id = by_id.entry(span.span_id).or_default();
        if same_id.iter().any(|&i| kept[i] == span) {
            continue;
        }
        same_id.push(kept.len());
        kept.push(span);
    }
    kept
}

/// The clock-skew adjuster with Jaeger's default maximum of 0: it computes
/// each span's skew against its parent (across hosts, by the process `ip`
/// tag) and, not allowed to apply it, says so in a warning.
fn clock_skew(spans: &mut [AdjustedSpan]) {
    let mut index: HashMap<u64, usize> = HashMap::new();
    for (i, span) in spans.iter_mut().enumerate() {
        match index.entry(span.span_id) {
            std::collections::hash_map::Entry::Occupied(_) => span
                .warnings
                .push("duplicate span IDs; skipping clock skew adjustment".into()),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(i);
            }
        }
    }
    let hosts: Vec<String> = spans.iter().map(host_key).collect();
    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    let nodes: HashSet<usize> = index.values().copied().collect();
    let mut ordered: Vec<usize> = nodes.into_iter().collect();
    ordered.sort_unstable();
    for &i in &ordered {
        let parent = spans[i].parent();
        if parent == 0 {
            roots.push(i);
            continue;
        }
        match index.get(&parent) {
            Some(&p) => children.entry(p).or_default().push(i),
            None => {
                let warning = if spans[i].otlp_parents {
                    format!(
                        "parent span ID={} is not in the trace; skipping clock skew adjustment",
                        span_id_string(parent)
                    )
                } else {
                    format!(
                        "invalid parent span IDs={}; skipping clock skew adjustment",
                        span_id_string(parent)
                    )
                };
                spans[i].warnings.push(warning);
                roots.push(i);
            }
        }
    }
    // Depth first, as Jaeger walks it; a cycle of parents is never reached
    // from a root, so this ends.
    let mut stack: Vec<(usize, Option<usize>, String, i64)> = roots
        .into_iter()
        .map(|r| (r, None, hosts[r].clone(), 0))
        .collect();
    while let Some((node, parent, mut skew_host, mut delta)) = stack.pop() {
        if let Some(p) = parent
            && (hosts[node] != skew_host || hosts[node].is_empty())
        {
            skew_host = hosts[node].clone();
            delta = calculate_skew(&spans[node], &spans[p]);
        }
        apply_skew(&mut spans[node], delta);
        for &child in children.get(&node).map(Vec::as_slice).unwrap_or(&[]) {
            stack.push((child, Some(node), skew_host.clone(), delta));
        }
    }
}

/// The host a span ran on, from its process's first `ip` tag (v2: its
/// resource's `host.id`, else `host.ip`, else `host.name`).
fn host_key(span: &AdjustedSpan) -> String {
    if span.otlp_parents {
        return host_key_v2(&span.process.tags);
    }
    match span
        .process
        .tags
        .iter()
        .find(|t| &*t.key == "ip")
        .map(|t| &t.value)
    {
        Some(TagValue::Str(s)) => s.to_string(),
        Some(TagValue::Int(i)) => Ipv4Addr::from(*i as u32).to_string(),
        Some(TagValue::Binary(b)) if b.len() == 4 => {
            Ipv4Addr::from(<[u8; 4]>::try_from(&b[..]).expect("4 bytes")).to_string()
        }
        Some(TagValue::Binary(b)) if b.len() == 16 => {
            let v6 = Ipv6Addr::from(<[u8; 16]>::try_from(&b[..]).expect("16 bytes"));
            match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => v6.to_string(),
            }
        }
        _ => String::new(),
    }
}

/// Jaeger v2's `hostKey`: pdata's `Str()` is "" for other types; a list
/// `host.ip` (kept as its JSON text) gives its first element.
fn host_key_v2(tags: &[Tag]) -> String {
    let first = |key: &str| tags.iter().find(|t| &*t.key == key).map(|t| &t.value);
    if let Some(value) = first("host.id") {
        return match value {
            TagValue::Str(s) => s.to_string(),
            _ => String::new(),
        };
    }
    if let Some(TagValue::Str(s)) = first("host.ip") {
        if let Ok(serde_json::Value::Array(items)) = serde_json::from_str(s)
            && s.starts_with('[')
        {
            if let Some(item) = items.first() {
                return match item {
                    serde_json::Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
            }
        } else {
            return s.to_string();
        }
    }
    match first("host.name") {
        Some(TagValue::Str(s)) => s.to_string(),
        _ => String::new(),
    }
}

fn calculate_skew(child: &AdjustedSpan, parent: &AdjustedSpan) -> i64 {
    let parent_end = parent.start_unix_nano + parent.duration_nanos;
    let child_end = child.start_unix_nano + child.duration_nanos;
    if child.duration_nanos > parent.duration_nanos {
        // A child longer than its parent: only align the starts.
        if child.start_unix_nano < parent.start_unix_nano {
            return parent.start_unix_nano - child.start_unix_nano;
        }
        return 0;
    }
    if child.start_unix_nano >= parent.start_unix_nano && child_end <= parent_end {
        return 0;
    }
    let latency = (parent.duration_nanos - child.duration_nanos) / 2;
    parent.start_unix_nano + latency - child.start_unix_nano
}

fn apply_skew(span: &mut AdjustedSpan, delta: i64) {
    if delta == 0 {
        return;
    }
    let shown = go_text::duration_string(delta);
    if delta.unsigned_abs() > MAX_CLOCK_SKEW_ADJUST_NANOS as u64 {
        span.warnings.push(if MAX_CLOCK_SKEW_ADJUST_NANOS == 0 {
            format!("clock skew adjustment disabled; not applying calculated delta of {shown}")
        } else {
            format!(
                "max clock skew adjustment delta of {} exceeded; not applying calculated delta of {shown}",
                go_text::duration_string(MAX_CLOCK_SKEW_ADJUST_NANOS)
            )
        });
        return;
    }
    span.start_unix_nano += delta;
    span.warnings
        .push(format!("This span's timestamps were adjusted by {shown}"));
    for log in &mut span.logs {
        log.timestamp_unix_nano = (log.timestamp_unix_nano as i64 + delta) as u64;
    }
}

/// `ip` and `peer.ipv4` given as numbers become dotted IPv4 text.
fn dotted_ip_tags(tags: &mut [Tag]) {
    for tag in tags.iter_mut() {
        if &*tag.key != "ip" && &*tag.key != "peer.ipv4" {
            continue;
        }
        let number = match tag.value {
            TagValue::Int(i) => i as u32,
            TagValue::Float(f) => f as u32,
            _ => continue,
        };
        tag.value = TagValue::Str(Ipv4Addr::from(number).to_string().into());
    }
}

/// Jaeger's `SpanReferences` adjuster.
fn drop_references_without_trace(span: &mut AdjustedSpan) {
    let otlp_parents = span.otlp_parents;
    let mut warnings = Vec::new();
    span.references.retain(|r| {
        if r.trace_id.0 != 0 {
            return true;
        }
        if otlp_parents {
            warnings.push("Invalid span link removed".to_string());
            return false;
        }
        // Go's `%+v` of the reference struct.
        warnings.push(format!(
            "Invalid span reference removed {{TraceID:{} SpanID:{} RefType:{} XXX_NoUnkeyedLiteral:{{}} XXX_unrecognized:[] XXX_sizecache:0}}",
            r.trace_id.to_jaeger_string(),
            span_id_string(r.span_id),
            if r.follows_from { "FOLLOWS_FROM" } else { "CHILD_OF" }
        ));
        false
    });
    span.warnings.extend(warnings);
}

/// Jaeger's `ParentReference` adjuster: the first same-trace CHILD_OF
/// reference (else the first same-trace one) is swapped to the front.
fn parent_reference_first(span: &mut AdjustedSpan) {
    let trace_id = span.trace_id;
    let same = |r: &StoredRef| r.trace_id == trace_id;
    let position = span
        .references
        .iter()
        .position(|r| same(r) && !r.follows_from)
        .or_else(|| span.references.iter().position(same));
    if let Some(i) = position
        && i != 0
    {
        span.references.swap(0, i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::span::{SearchAttributes, SpanKind, StatusCode, StoredProcess};
    use std::sync::Arc;

    fn stored(
        id: u64,
        parent: Option<u64>,
        kind: &str,
        start_ms: u64,
        dur_ms: u64,
    ) -> Arc<StoredSpan> {
        let start = start_ms * 1_000_000;
        Arc::new(StoredSpan {
            trace_id: TraceId(1),
            span_id: id,
            has_parent: parent.is_some(),
            flags: 0,
            references: parent
                .map(|p| StoredRef {
                    follows_from: false,
                    trace_id: TraceId(1),
                    span_id: p,
                })
                .into_iter()
                .collect(),
            operation: format!("op{id}").into(),
            kind: SpanKind::Unspecified,
            status: StatusCode::Unset,
            start_unix_nano: start,
            end_unix_nano: start + dur_ms * 1_000_000,
            tags: vec![Tag::string("span.kind", kind)],
            logs: vec![],
            process: Arc::new(StoredProcess {
                service_name: "s".into(),
                tags: vec![],
                search_attrs: vec![],
            }),
            search: SearchAttributes::default(),
            warnings: vec![],
        })
    }

    #[test]
    fn a_server_span_sharing_a_client_id_gets_id_1_and_its_children_follow() {
        let spans = adjust(
            &[
                stored(0x10, None, "server", 0, 10),
                stored(0x56, Some(0x10), "client", 1, 5),
                stored(0x56, Some(0x10), "server", 2, 3),
                stored(0x57, Some(0x56), "internal", 2, 1),
            ],
            false,
        );
        let server = spans
            .iter()
            .find(|s| &*s.operation == "op86" && s.span_id == 1);
        let server = server.expect("the shared server span renamed to 1");
        assert_eq!(server.parent(), 0x56);
        let child = spans.iter().find(|s| s.span_id == 0x57).unwrap();
        assert_eq!(child.parent(), 1);
    }

    #[test]
    fn a_child_outside_its_parent_gets_the_skew_warning_and_an_orphan_its_own() {
        let spans = adjust(
            &[
                stored(1, None, "server", 10, 1),
                stored(2, Some(1), "client", 9, 0),
                stored(3, Some(9), "client", 9, 0),
            ],
            false,
        );
        assert_eq!(
            spans[1].warnings,
            ["clock skew adjustment disabled; not applying calculated delta of 1.5ms"]
        );
        assert_eq!(
            spans[2].warnings,
            ["invalid parent span IDs=0000000000000009; skipping clock skew adjustment"]
        );
    }

    #[test]
    fn identical_spans_are_kept_once_and_raw_keeps_everything() {
        let twice = stored(5, None, "server", 1, 1);
        assert_eq!(adjust(&[twice.clone(), twice.clone()], false).len(), 1);
        assert_eq!(adjust(&[twice.clone(), twice], true).len(), 2);
    }

    #[test]
    fn the_event_field_goes_first_and_the_rest_is_sorted() {
        let mut fields = vec![
            Tag::string("b", "1"),
            Tag::string("a", "2"),
            Tag::string("event", "named"),
        ];
        sort_log_fields(&mut fields);
        let keys: Vec<_> = fields.iter().map(|f| &*f.key).collect();
        assert_eq!(keys, ["event", "a", "b"]);
    }
}
