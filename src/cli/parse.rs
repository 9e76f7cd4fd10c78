//! Value parsers shared by the subcommands' flags (`NAME=PORT`, sizes,
//! durations, peers) and [`by_name`] for repeatable `NAME=...` flags.

use std::collections::HashMap;
use std::time::Duration;

use bytesize::ByteSize;

use crate::error::Error;
use crate::mesh::telemetry::OtlpProtocol;

/// `grpc`, `http/protobuf` or `http/json`, as OTEL_EXPORTER_OTLP_PROTOCOL.
pub(crate) fn parse_protocol(text: &str) -> Result<OtlpProtocol, String> {
    OtlpProtocol::parse(text).ok_or_else(|| {
        format!(
            "{text:?} is not an OTLP protocol: write {}",
            OtlpProtocol::NAMES
        )
    })
}

/// The protocol spans are exported with: the flag, else the SDKs'
/// environment (`OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, then
/// `OTEL_EXPORTER_OTLP_PROTOCOL`), else `tracelab.toml`, else http/protobuf.
pub(crate) fn otlp_protocol(
    flag: Option<OtlpProtocol>,
    config: Option<&str>,
) -> Result<OtlpProtocol, Error> {
    if let Some(protocol) = flag {
        return Ok(protocol);
    }
    for variable in [
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ] {
        if let Ok(value) = std::env::var(variable)
            && !value.trim().is_empty()
        {
            return parse_protocol(&value).map_err(|e| Error::Usage(format!("{variable}: {e}")));
        }
    }
    match config {
        Some(text) => parse_protocol(text)
            .map_err(|e| Error::Usage(format!("tracelab.toml otlp_protocol: {e}"))),
        None => Ok(OtlpProtocol::HttpProtobuf),
    }
}

pub(crate) fn parse_port_override(text: &str) -> Result<(String, u16), String> {
    let (name, port) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: write COMPONENT=PORT, e.g. front-proxy=8080"))?;
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("{port:?} is not a port (0 to 65535)"))?;
    Ok((name.to_string(), port))
}

/// `16MiB`, `512KB`, `1048576`: bytes, as `bytesize` reads them.
pub(crate) fn parse_size(text: &str) -> Result<ByteSize, String> {
    let size: ByteSize = text
        .parse()
        .map_err(|e| format!("{e} (write e.g. 16MiB, 512KB or a number of bytes)"))?;
    if size.as_u64() == 0 {
        return Err("the size must be above 0".into());
    }
    Ok(size)
}

pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{e} (write e.g. 500ms, 10s)"))
}

/// `NAME=HOST:PORT` → (name, `host:port`).
pub(crate) fn parse_peer(text: &str) -> Result<(String, String), String> {
    let shape = || format!("{text:?}: write NAME=HOST:PORT, e.g. service2=10.0.0.2:8000");
    let (name, authority) = text.split_once('=').ok_or_else(shape)?;
    let (host, port) = authority.rsplit_once(':').ok_or_else(shape)?;
    if name.is_empty() || host.is_empty() || host.contains('/') {
        return Err(shape());
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok((name.to_string(), authority.to_string())),
        _ => Err(format!("{text:?}: {port:?} is not a port (1-65535)")),
    }
}

/// `NAME=URL` → (name, `host:port` of the URL), for `--target`.
pub(crate) fn parse_target(text: &str) -> Result<(String, String), String> {
    let (name, url) = text
        .split_once('=')
        .filter(|(name, _)| !name.is_empty())
        .ok_or_else(|| format!("{text:?}: write NAME=URL, e.g. shop=http://localhost:8080"))?;
    let authority =
        crate::scenario::api::targets::authority_of(url).map_err(|e| format!("{text:?}: {e}"))?;
    Ok((name.to_string(), authority))
}

/// `NAME=PORT` → (name, port).
pub(crate) fn parse_port(text: &str) -> Result<(String, u16), String> {
    let (name, port) = text
        .split_once('=')
        .filter(|(name, _)| !name.is_empty())
        .ok_or_else(|| format!("{text:?}: write NAME=PORT, e.g. service1=8000"))?;
    let port = port
        .parse()
        .map_err(|_| format!("{text:?}: {port:?} is not a port (0-65535)"))?;
    Ok((name.to_string(), port))
}

/// Repeated flags into a map; a name given twice is a usage error.
pub(crate) fn by_name<V>(flag: &str, pairs: Vec<(String, V)>) -> Result<HashMap<String, V>, Error> {
    let mut map = HashMap::new();
    for (name, value) in pairs {
        if map.insert(name.clone(), value).is_some() {
            return Err(Error::Usage(format!("{flag} {name} is given twice")));
        }
    }
    Ok(map)
}
