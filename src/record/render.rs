//! A recording as a Rhai module: one `expect_traces` per shape, strict,
//! with its exact count, every span's kind, error status and the tags its
//! traces agreed on, and a loose bound on the root's duration. Importing
//! the module declares them (its top-level calls run once, on import).

use std::fmt::Write as _;
use std::time::Duration;

use super::shapes::{BlockShapes, ShapeNode};
use super::volatile::Kept;
use crate::scenario::model::format_duration;

/// The slowest root seen, times this, at least [`MIN_ROOT_BOUND`]: a bound
/// that catches a hang or a timeout, not the noise of a loaded machine.
pub const ROOT_BOUND_FACTOR: u64 = 10;
pub const MIN_ROOT_BOUND: Duration = Duration::from_secs(1);

/// What the header says about where the recording came from.
pub struct Source<'a> {
    /// The scenario file, as given.
    pub scenario: &'a str,
    /// How the scenario imports the module: `expected/checkout`.
    pub import: &'a str,
    /// The command that made it.
    pub command: &'a str,
}

/// The module's text for the blocks' shapes, in the scenario's order.
pub fn module(source: &Source<'_>, blocks: &[(String, BlockShapes)]) -> String {
    let traces: u64 = blocks.iter().map(|(_, b)| b.traces()).sum();
    let shapes: usize = blocks.iter().map(|(_, b)| b.shapes.len()).sum();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// Recorded by `{}`:\n// {} of {} in {}, from {}.\n//",
        source.command,
        counted(traces, "trace"),
        counted(blocks.len() as u64, "traffic block"),
        counted(shapes as u64, "shape"),
        source.scenario,
    );
    let _ = writeln!(
        out,
        "// Review it, keep it beside the scenario, and import it there: the import\n\
         // declares these expectations, so every run is judged against them.\n\
         //\n//     import \"{}\" as expected;\n//\n\
         // Each shape is an exact tree with its count; tags whose values change\n\
         // between runs (ids, addresses, sizes, times, versions) are left out,\n\
         // URLs keep their path, and each root's duration is bounded loosely\n\
         // ({}x the slowest seen, at least {}). Record again after a change you\n\
         // mean; a change you do not mean fails the run, naming the span.",
        source.import,
        ROOT_BOUND_FACTOR,
        format_duration(MIN_ROOT_BOUND)
    );
    for (block, shapes) in blocks {
        let _ = writeln!(
            out,
            "\n// {block:?}: {} in {}",
            counted(shapes.traces(), "trace"),
            counted(shapes.shapes.len() as u64, "shape")
        );
        if shapes.unrooted > 0 {
            let _ = writeln!(
                out,
                "// ({} without a single root span, which no tree pattern states, are not recorded)",
                counted(shapes.unrooted, "trace")
            );
        }
        let total = shapes.shapes.len();
        for (i, shape) in shapes.ordered().into_iter().enumerate() {
            let bound = round_up(Duration::from_micros(
                shape.slowest_root_us.saturating_mul(ROOT_BOUND_FACTOR),
            ))
            .max(MIN_ROOT_BOUND);
            let _ = write!(out, "expect_traces({},\n    ", quote(block));
            node(&mut out, &shape.root, 1, Some(bound));
            let name = format!(
                "recorded: {block} shape {} of {total}, {} rooted at {}",
                i + 1,
                counted(shape.count, "trace"),
                label(&shape.root)
            );
            let _ = writeln!(
                out,
                ",\n    #{{ exactly: {}, name: {} }});",
                shape.count,
                quote(&name)
            );
        }
    }
    out
}

/// Up to the next 1, 2 or 5 times a power of ten (in microseconds): a
/// bound that stays the same from one recording to the next.
fn round_up(d: Duration) -> Duration {
    let us = d.as_micros().max(1) as u64;
    let mut step = 1u64;
    loop {
        for n in [1, 2, 5] {
            if let Some(bound) = step.checked_mul(n)
                && bound >= us
            {
                return Duration::from_micros(bound);
            }
        }
        match step.checked_mul(10) {
            Some(next) => step = next,
            None => return d,
        }
    }
}

fn label(node: &ShapeNode) -> String {
    match &node.kind {
        Some(kind) => format!("{} {} ({kind})", node.service, node.operation),
        None => format!("{} {}", node.service, node.operation),
    }
}

/// `span("svc", "op", #{ ... }, [ ... ])`, children indented below.
fn node(out: &mut String, n: &ShapeNode, depth: usize, duration: Option<Duration>) {
    let pad = "    ".repeat(depth);
    let mut options = Vec::new();
    if let Some(kind) = &n.kind {
        options.push(format!("kind: {}", quote(kind)));
    }
    options.push(format!("error: {}", n.error));
    if let Some(bound) = duration {
        options.push(format!("duration: lt({})", quote(&format_duration(bound))));
    }
    if !n.tags.is_empty() {
        let tags: Vec<String> = n
            .tags
            .iter()
            .map(|(key, kept)| match kept {
                Kept::Equals(v) => format!("{}: {}", quote(key), quote(v)),
                Kept::Contains(v) => format!("{}: contains({})", quote(key), quote(v)),
            })
            .collect();
        options.push(format!("tags: #{{ {} }}", tags.join(", ")));
    }
    let _ = write!(
        out,
        "span({}, {}, #{{ {} }}",
        quote(&n.service),
        quote(&n.operation),
        options.join(", ")
    );
    if !n.children.is_empty() {
        out.push_str(", [\n");
        for child in &n.children {
            out.push_str(&pad);
            out.push_str("    ");
            node(out, child, depth + 1, None);
            out.push_str(",\n");
        }
        out.push_str(&pad);
        out.push(']');
    }
    out.push(')');
}

/// A Rhai string literal.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn counted(n: u64, noun: &str) -> String {
    crate::scenario::model::counted(n, noun)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assert::tree::tests::sandbox_trace;

    #[test]
    fn root_bounds_round_up_to_one_two_or_five() {
        let ms = Duration::from_millis;
        assert_eq!(round_up(ms(1234)), ms(2000));
        assert_eq!(round_up(ms(2000)), ms(2000));
        assert_eq!(round_up(ms(2001)), ms(5000));
        assert_eq!(round_up(ms(6)), ms(10));
    }

    #[test]
    fn a_rhai_string_escapes_what_rhai_would_read_otherwise() {
        assert_eq!(quote("a\"b\\c\nd\u{1}"), r#""a\"b\\c\nd\u0001""#);
        assert_eq!(
            quote("${x}"),
            "\"${x}\"",
            "no interpolation in double quotes"
        );
    }

    #[test]
    fn a_shape_becomes_an_exact_tree_with_its_count_and_a_loose_root_bound() {
        let mut shapes = BlockShapes::default();
        shapes.observe(&sandbox_trace());
        shapes.observe(&sandbox_trace());
        let text = module(
            &Source {
                scenario: "scenarios/jaeger.rhai",
                import: "expected/jaeger",
                command: "tracelab record scenarios/jaeger.rhai",
            },
            &[("sandbox".into(), shapes)],
        );
        assert!(
            text.contains("//     import \"expected/jaeger\" as expected;"),
            "{text}"
        );
        assert!(
            text.contains(
                "expect_traces(\"sandbox\",\n    span(\"front-proxy\", \"checkAvailability\", #{ kind: \"client\", error: false, duration: lt(\"1s\"), tags: #{ \"http.status_code\": \"200\" } }, [\n        span(\"service1\""
            ),
            "{text}"
        );
        assert!(
            text.contains("#{ exactly: 2, name: \"recorded: sandbox shape 1 of 1, 2 traces rooted at front-proxy checkAvailability (client)\" });"),
            "{text}"
        );
    }
}
