//! `tracelab traces`: find traces through a Jaeger query API (a running
//! `tracelab up`, or a real Jaeger) and lay them out as waterfalls, for the
//! terminal to print. Reads only through [`crate::jaeger::JaegerClient`].

use crate::error::Error;
use crate::jaeger::JaegerClient;
use crate::jaeger::client::TraceQuery;
use crate::report::model::TraceListing;
use crate::report::waterfall::Waterfall;

/// Where `tracelab up` serves the query API.
pub const DEFAULT_JAEGER_URL: &str = "http://localhost:16686";

#[derive(Debug, Clone)]
pub struct TracesOptions {
    pub jaeger_url: String,
    /// One trace by id; otherwise a search by `query`.
    pub trace_id: Option<String>,
    pub query: TraceQuery,
    /// One line per trace instead of waterfalls.
    pub list: bool,
    /// Each span's tags under its row.
    pub tags: bool,
}

pub async fn find(options: &TracesOptions) -> Result<TraceListing, Error> {
    let client = JaegerClient::new(&options.jaeger_url)
        .map_err(|e| Error::Usage(format!("--jaeger-url: {e}")))?;
    let unreachable = |e: crate::jaeger::client::ClientError| {
        Error::Infra(format!(
            "{e}\n  is `tracelab up` running, or is --jaeger-url the query API of a Jaeger (port 16686)?"
        ))
    };
    let source = client.base_url().to_string();
    if let Some(id) = &options.trace_id {
        return match client.trace(id.trim()).await.map_err(unreachable)? {
            Some(trace) => Ok(TraceListing {
                source,
                query: format!("trace {id}"),
                traces: vec![Waterfall::of(&trace)],
            }),
            None => Err(Error::Usage(format!(
                "trace {id} not found in {}",
                client.base_url()
            ))),
        };
    }
    let mut traces: Vec<Waterfall> = client
        .find_traces(&options.query)
        .await
        .map_err(unreachable)?
        .iter()
        .map(Waterfall::of)
        .collect();
    traces.sort_by_key(|w| std::cmp::Reverse(w.start_us));
    Ok(TraceListing {
        source,
        query: describe(&options.query),
        traces,
    })
}

/// "service front-proxy, operation checkAvailability, limit 20".
fn describe(q: &TraceQuery) -> String {
    let mut parts = vec![format!("service {}", q.service)];
    if let Some(op) = &q.operation {
        parts.push(format!("operation {op}"));
    }
    if let Some(d) = q.min_duration {
        parts.push(format!("at least {}", humantime::format_duration(d)));
    }
    if let Some(d) = q.max_duration {
        parts.push(format!("at most {}", humantime::format_duration(d)));
    }
    if let Some(limit) = q.limit {
        parts.push(format!("limit {limit}"));
    }
    parts.join(", ")
}
