//! The trace viewer's dependency graph (`/dependencies`): which service
//! calls which, with call counts, as Jaeger's "System Architecture" page
//! shows it, drawn as server-side SVG (no JavaScript) with a table beside.
//!
//! Layout: a service's column is its longest call distance from a service
//! nobody calls (calls within a service and cycles aside), services of a
//! column in name order; calls go right as curves, calls back to an
//! earlier column curve below, and calls within a service loop above it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::{document, esc, hue};

/// One caller → callee pair and how many calls the traces hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub parent: String,
    pub child: String,
    pub calls: u64,
}

/// What the page shows.
#[derive(Debug, Clone, PartialEq)]
pub struct DependencyPage {
    pub edges: Vec<Edge>,
    /// The look-back chosen, in hours.
    pub lookback_hours: u64,
    /// The query API's complaint, if any.
    pub error: Option<String>,
}

/// The look-backs offered, in hours (Jaeger's UI offers the same spans).
pub const LOOKBACKS: [(u64, &str); 5] = [
    (1, "last hour"),
    (6, "last 6 hours"),
    (24, "last day"),
    (72, "last 3 days"),
    (168, "last week"),
];

const NODE_WIDTH: u32 = 160;
const NODE_HEIGHT: u32 = 36;
const COLUMN_GAP: u32 = 110;
const ROW_GAP: u32 = 34;
const MARGIN: u32 = 40;

/// Where each service is drawn: (column, row).
pub fn layout(edges: &[Edge]) -> BTreeMap<String, (u32, u32)> {
    let services: BTreeSet<&str> = edges
        .iter()
        .flat_map(|e| [e.parent.as_str(), e.child.as_str()])
        .collect();
    let mut column: BTreeMap<&str, u32> = services.iter().map(|s| (*s, 0)).collect();
    // Longest path, relaxed at most once per service: a cycle stops growing.
    for _ in 0..services.len() {
        let mut changed = false;
        for e in edges.iter().filter(|e| e.parent != e.child) {
            let wanted = column[e.parent.as_str()] + 1;
            if wanted > column[e.child.as_str()] && wanted < services.len() as u32 {
                column.insert(e.child.as_str(), wanted);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut next_row: BTreeMap<u32, u32> = BTreeMap::new();
    column
        .into_iter()
        .map(|(service, col)| {
            let row = next_row.entry(col).or_default();
            let place = (col, *row);
            *row += 1;
            (service.to_string(), place)
        })
        .collect()
}

fn node_origin((col, row): (u32, u32)) -> (u32, u32) {
    (
        MARGIN + col * (NODE_WIDTH + COLUMN_GAP),
        MARGIN + 24 + row * (NODE_HEIGHT + ROW_GAP),
    )
}

pub fn dependencies_page(page: &DependencyPage) -> String {
    let mut body = String::from(r#"<main class="dependencies">"#);
    body.push_str(r#"<form class="lookback" method="get" action="/dependencies"><h2>Service dependencies</h2><label>Traces of the <select name="lookback" onchange="this.form.submit()">"#);
    for (hours, label) in LOOKBACKS {
        let selected = if hours == page.lookback_hours {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            body,
            r#"<option value="{hours}"{selected}>{label}</option>"#
        );
    }
    body.push_str(
        r#"</select></label><noscript><button type="submit">Show</button></noscript></form>"#,
    );
    if let Some(error) = &page.error {
        let _ = write!(body, r#"<p class="error">{}</p>"#, esc(error));
    } else if page.edges.is_empty() {
        body.push_str(
            r#"<p class="empty">No calls between spans in this time: send traffic, or look further back.</p>"#,
        );
    } else {
        graph(&mut body, &page.edges);
        table(&mut body, &page.edges);
    }
    body.push_str("</main>");
    document("Dependencies · tracelab", &body)
}

fn graph(body: &mut String, edges: &[Edge]) {
    let places = layout(edges);
    let columns = places.values().map(|(c, _)| c + 1).max().unwrap_or(1);
    let rows = places.values().map(|(_, r)| r + 1).max().unwrap_or(1);
    let width = 2 * MARGIN + columns * NODE_WIDTH + (columns - 1) * COLUMN_GAP;
    let height = 2 * MARGIN + 48 + rows * NODE_HEIGHT + (rows - 1) * ROW_GAP;
    let _ = write!(
        body,
        r#"<svg class="graph" role="img" aria-label="service dependency graph" viewBox="0 0 {width} {height}" width="{width}" height="{height}"><defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>"#
    );
    for e in edges {
        let (px, py) = node_origin(places[&e.parent]);
        let (cx, cy) = node_origin(places[&e.child]);
        let (path, label_x, label_y) = if e.parent == e.child {
            let (x, y) = (px + NODE_WIDTH / 2, py);
            (
                format!(
                    "M{} {y} C{} {} {} {} {} {y}",
                    x - 14,
                    x - 30,
                    y.saturating_sub(34),
                    x + 30,
                    y.saturating_sub(34),
                    x + 14
                ),
                x,
                y.saturating_sub(28),
            )
        } else if cx > px {
            let (x1, y1) = (px + NODE_WIDTH, py + NODE_HEIGHT / 2);
            let (x2, y2) = (cx, cy + NODE_HEIGHT / 2);
            let mid = (x1 + x2) / 2;
            (
                format!("M{x1} {y1} C{mid} {y1} {mid} {y2} {x2} {y2}"),
                mid,
                (y1 + y2) / 2 - 4,
            )
        } else {
            // A call back to an earlier (or the same) column: below both.
            let (x1, y1) = (px + NODE_WIDTH / 2, py + NODE_HEIGHT);
            let (x2, y2) = (cx + NODE_WIDTH / 2, cy + NODE_HEIGHT);
            let low = y1.max(y2) + 40;
            (
                format!("M{x1} {y1} C{x1} {low} {x2} {low} {x2} {y2}"),
                (x1 + x2) / 2,
                low - 6,
            )
        };
        let _ = write!(
            body,
            r#"<g class="edge" data-parent="{p}" data-child="{c}" data-calls="{n}"><path d="{path}" marker-end="url(#arrow)"/><text x="{label_x}" y="{label_y}">{n}</text></g>"#,
            p = esc(&e.parent),
            c = esc(&e.child),
            n = e.calls,
        );
    }
    for (index, (service, place)) in places.iter().enumerate() {
        let (x, y) = node_origin(*place);
        let _ = write!(
            body,
            r#"<g class="node" data-service="{s}"><rect x="{x}" y="{y}" width="{NODE_WIDTH}" height="{NODE_HEIGHT}" rx="8" style="fill:hsl({h},70%,94%);stroke:hsl({h},55%,45%)"/><text x="{tx}" y="{ty}">{s}</text></g>"#,
            s = esc(service),
            h = hue(index),
            tx = x + NODE_WIDTH / 2,
            ty = y + NODE_HEIGHT / 2 + 5,
        );
    }
    body.push_str("</svg>");
}

fn table(body: &mut String, edges: &[Edge]) {
    body.push_str(r#"<table class="calls"><thead><tr><th>caller</th><th>callee</th><th>calls</th></tr></thead><tbody>"#);
    for e in edges {
        let _ = write!(
            body,
            r#"<tr><td>{}</td><td>{}</td><td class="count">{}</td></tr>"#,
            esc(&e.parent),
            esc(&e.child),
            e.calls
        );
    }
    body.push_str("</tbody></table>");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(parent: &str, child: &str, calls: u64) -> Edge {
        Edge {
            parent: parent.into(),
            child: child.into(),
            calls,
        }
    }

    fn sandbox() -> Vec<Edge> {
        vec![
            edge("front-proxy", "service1", 10),
            edge("service1", "service1", 10),
            edge("service1", "service2", 10),
        ]
    }

    #[test]
    fn a_chain_goes_left_to_right_one_column_per_hop() {
        let places = layout(&sandbox());
        assert_eq!(places["front-proxy"], (0, 0));
        assert_eq!(places["service1"], (1, 0));
        assert_eq!(places["service2"], (2, 0));
    }

    #[test]
    fn a_cycle_ends_the_layout_without_running_away() {
        let places = layout(&[edge("a", "b", 1), edge("b", "a", 1), edge("b", "c", 1)]);
        assert!(places.values().all(|(c, _)| *c < 3), "{places:?}");
    }

    #[test]
    fn the_page_draws_a_node_per_service_and_an_edge_per_link_with_its_count() {
        let html = dependencies_page(&DependencyPage {
            edges: sandbox(),
            lookback_hours: 24,
            error: None,
        });
        assert_eq!(html.matches(r#"<g class="node""#).count(), 3);
        assert_eq!(html.matches(r#"<g class="edge""#).count(), 3);
        assert!(
            html.contains(r#"data-parent="front-proxy" data-child="service1" data-calls="10""#)
        );
        assert!(html.contains(r#"<option value="24" selected>last day</option>"#));
        assert!(html.contains("<td>service1</td><td>service2</td>"));
    }

    #[test]
    fn no_links_says_what_to_do_and_names_are_escaped() {
        let html = dependencies_page(&DependencyPage {
            edges: vec![],
            lookback_hours: 1,
            error: None,
        });
        assert!(html.contains("No calls between spans"));
        let html = dependencies_page(&DependencyPage {
            edges: vec![edge("<a>", "b", 1)],
            lookback_hours: 1,
            error: None,
        });
        assert!(html.contains("&lt;a&gt;") && !html.contains("<a>"));
    }
}
