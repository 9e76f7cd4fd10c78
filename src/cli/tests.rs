//! The command line parsed as the binary parses it, flag by flag.

use std::path::PathBuf;
use std::time::Duration;

use super::parse::parse_peer;
use super::*;
use crate::backend::BackendChoice;
use crate::collector::ports::Listener;
use crate::report::{Format, ReportTarget};
use clap::CommandFactory;

/// Parse as the binary does, minus environment variables (the test
/// environment may set TRACELAB_JAEGER_BIN).
fn mode(args: &[&str]) -> Result<Mode, Error> {
    use clap::FromArgMatches;
    let command = Cli::command()
        .mut_args(|a| a.env(None))
        .mut_subcommands(|c| c.mut_args(|a| a.env(None)));
    let matches = command
        .try_get_matches_from(args)
        .map_err(|e| Error::Usage(e.to_string()))?;
    Cli::from_arg_matches(&matches)
        .map_err(|e| Error::Usage(e.to_string()))?
        .into_mode()
}

#[test]
fn the_cli_definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn a_bare_file_runs_it_with_the_embedded_collector() {
    let Mode::Run(run) = mode(&["tracelab", "scenarios/jaeger.rhai"]).unwrap() else {
        panic!("not a run");
    };
    assert_eq!(run.files, [PathBuf::from("scenarios/jaeger.rhai")]);
    assert!(matches!(run.settings.backend, BackendChoice::Embedded(_)));
}

#[test]
fn check_is_a_subcommand() {
    assert!(matches!(
        mode(&["tracelab", "check", "a.rhai"]).unwrap(),
        Mode::Check(_)
    ));
}

#[test]
fn a_jaeger_url_without_an_otlp_endpoint_is_a_usage_error() {
    let err = mode(&[
        "tracelab",
        "run",
        "--jaeger-url",
        "http://j:16686",
        "a.rhai",
    ])
    .unwrap_err();
    assert!(err.to_string().contains("needs --otlp-endpoint"));
    assert_eq!(err.exit_code(), 2);
}

#[test]
fn no_scenario_is_a_usage_error_that_suggests_one() {
    let err = mode(&["tracelab"]).unwrap_err();
    assert!(err.to_string().contains("scenarios/jaeger.rhai"));
}

#[test]
fn jaeger_bin_starts_a_jaeger_with_the_max_traces_asked_for() {
    let Mode::Run(run) = mode(&[
        "tracelab",
        "--jaeger-bin",
        "/opt/jaeger",
        "--max-traces",
        "50",
        "a.rhai",
    ])
    .unwrap() else {
        panic!("not a run");
    };
    let BackendChoice::JaegerBinary(settings) = run.settings.backend else {
        panic!("not a started Jaeger");
    };
    assert_eq!(settings.bin, PathBuf::from("/opt/jaeger"));
    assert_eq!(settings.max_traces, 50);
}

#[test]
fn jaeger_bin_with_a_jaeger_url_is_a_usage_error() {
    let err = mode(&[
        "tracelab",
        "--jaeger-bin",
        "/opt/jaeger",
        "--jaeger-url",
        "http://j:16686",
        "--otlp-endpoint",
        "http://j:4318",
        "a.rhai",
    ])
    .unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("give one or the other"), "{err}");
}

#[test]
fn a_real_jaeger_gets_slower_polling() {
    let Mode::Run(run) = mode(&[
        "tracelab",
        "--jaeger-url",
        "http://j:16686",
        "--otlp-endpoint",
        "http://j:4318",
        "a.rhai",
    ])
    .unwrap() else {
        panic!("not a run");
    };
    assert!(matches!(
        run.settings.backend,
        BackendChoice::External { .. }
    ));
    assert_eq!(run.settings.wait.timeout, Duration::from_secs(30));
}

#[test]
fn serve_takes_components_peers_ports_and_a_bind_address() {
    let Mode::Serve(serve) = mode(&[
        "tracelab",
        "serve",
        "scenarios/jaeger.rhai",
        "--only",
        "service1",
        "--peer",
        "service2=service2:8000",
        "--port",
        "service1=8000",
        "--bind",
        "0.0.0.0",
        "--otlp-endpoint",
        "http://jaeger:4318",
    ])
    .unwrap() else {
        panic!("not serve");
    };
    assert_eq!(serve.only, ["service1"]);
    assert_eq!(serve.peers["service2"], "service2:8000");
    assert_eq!(serve.ports["service1"], 8000);
    assert_eq!(serve.bind_ip.to_string(), "0.0.0.0");
    assert_eq!(serve.otlp.url, "http://jaeger:4318/v1/traces");
}

#[test]
fn serve_without_an_otlp_endpoint_is_a_usage_error() {
    // clap reads the flag's environment variable; only judge without it.
    if std::env::var_os("TRACELAB_OTLP_ENDPOINT").is_some() {
        return;
    }
    let err = mode(&["tracelab", "serve", "a.rhai"]).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string().contains("serve needs --otlp-endpoint"),
        "{err}"
    );
}

#[test]
fn serve_without_tracing_needs_no_otlp_endpoint() {
    let Mode::Serve(serve) = mode(&["tracelab", "serve", "a.rhai", "--no-tracing"]).unwrap() else {
        panic!("not serve");
    };
    assert!(!serve.tracing);
    let Mode::Serve(serve) = mode(&[
        "tracelab",
        "serve",
        "a.rhai",
        "--otlp-endpoint",
        "http://j:4318",
    ])
    .unwrap() else {
        panic!("not serve");
    };
    assert!(serve.tracing);
}

#[test]
fn a_peer_must_be_name_equals_host_colon_port() {
    assert_eq!(
        parse_peer("service2=10.0.0.2:8000").unwrap(),
        ("service2".to_string(), "10.0.0.2:8000".to_string())
    );
    assert!(parse_peer("[::1]:8000").is_err());
    assert!(parse_peer("service2=10.0.0.2").is_err());
    assert!(parse_peer("=h:1").is_err());
    assert!(parse_peer("s=http://h:1").is_err());
    assert!(parse_peer("s=h:0").unwrap_err().contains("not a port"));
    assert!(parse_peer("s=h:99999").unwrap_err().contains("not a port"));
}

#[test]
fn a_peer_given_twice_is_a_usage_error() {
    let err = mode(&[
        "tracelab",
        "--jaeger-url",
        "http://j:16686",
        "--otlp-endpoint",
        "http://j:4318",
        "--peer",
        "service2=a:1",
        "--peer",
        "service2=b:1",
        "a.rhai",
    ])
    .unwrap_err();
    assert!(err.to_string().contains("--peer service2 is given twice"));
}

#[test]
fn peers_need_an_external_collector() {
    let err = mode(&["tracelab", "--peer", "service2=h:8000", "a.rhai"]).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string().contains("--peer needs --jaeger-url"),
        "{err}"
    );
}

#[test]
fn reports_are_repeatable_and_only_one_takes_stdout() {
    let Mode::Run(run) = mode(&[
        "tracelab",
        "--report",
        "json",
        "--report",
        "junit=out/junit.xml",
        "--show-trace",
        "abc",
        "a.rhai",
    ])
    .unwrap() else {
        panic!("not a run");
    };
    assert_eq!(
        run.reports,
        [
            ReportTarget {
                format: Format::Json,
                path: None
            },
            ReportTarget {
                format: Format::Junit,
                path: Some(PathBuf::from("out/junit.xml"))
            },
        ]
    );
    assert_eq!(run.settings.show_trace.as_deref(), Some("abc"));
    let err = mode(&["tracelab", "--report", "human", "a.rhai"]).unwrap_err();
    assert!(err.to_string().contains("give it a path"), "{err}");
    let err = mode(&["tracelab", "--report", "json=", "a.rhai"]).unwrap_err();
    assert!(err.to_string().contains("give a path after `=`"), "{err}");
}

#[test]
fn up_listens_where_the_sandbox_and_jaeger_do_unless_moved() {
    let Mode::Up(up) = mode(&["tracelab", "up", "scenarios/jaeger.rhai"]).unwrap() else {
        panic!("not up");
    };
    assert_eq!(
        (
            up.collector_ports[&Listener::Query],
            up.collector_ports[&Listener::OtlpHttp],
            up.collector_ports[&Listener::OtlpGrpc],
        ),
        (16686, 4318, 4317)
    );
    assert!(up.ports.is_empty());
    let Mode::Up(up) = mode(&[
        "tracelab",
        "up",
        "--port",
        "front-proxy=8080",
        "--ui-port",
        "0",
        "s.rhai",
    ])
    .unwrap() else {
        panic!("not up");
    };
    assert_eq!(up.ports, [("front-proxy".to_string(), 8080)]);
    assert_eq!(up.collector_ports[&Listener::Query], 0);
    let err = mode(&["tracelab", "up", "--port", "front-proxy", "s.rhai"]).unwrap_err();
    assert!(err.to_string().contains("write COMPONENT=PORT"), "{err}");
}

#[test]
fn the_collector_listens_on_loopback_and_jaegers_ports_unless_told() {
    let Mode::Collector(c) = mode(&["tracelab", "collector"]).unwrap() else {
        panic!("not collector");
    };
    let jaegers: Vec<u16> = Listener::ALL.iter().map(|l| l.default_port()).collect();
    assert_eq!(c.ports.values().copied().collect::<Vec<_>>(), jaegers);
    assert!(c.bind_ip.is_loopback());
    assert_eq!(c.collector.max_body_bytes, 16 * 1024 * 1024);
    let Mode::Collector(c) = mode(&[
        "tracelab",
        "collector",
        "--bind",
        "0.0.0.0",
        "--max-body-size",
        "64KiB",
        "--max-traces",
        "10",
    ])
    .unwrap() else {
        panic!("not collector");
    };
    assert!(c.bind_ip.is_unspecified());
    assert_eq!(c.collector.max_body_bytes, 64 * 1024);
    assert_eq!(c.collector.max_traces, 10);
}

#[test]
fn a_body_size_limit_needs_a_size_above_zero() {
    let Mode::Run(run) = mode(&["tracelab", "--max-body-size", "1000", "a.rhai"]).unwrap() else {
        panic!("not a run");
    };
    let BackendChoice::Embedded(config) = run.settings.backend else {
        panic!("not embedded");
    };
    assert_eq!(config.max_body_bytes, 1000);
    for bad in ["0", "lots", "-5"] {
        let err = mode(&["tracelab", "--max-body-size", bad, "a.rhai"]).unwrap_err();
        assert_eq!(err.exit_code(), 2, "{bad}");
    }
}

#[test]
fn up_can_switch_tracing_off() {
    let Mode::Up(up) = mode(&["tracelab", "up", "s.rhai"]).unwrap() else {
        panic!("not up");
    };
    assert!(up.tracing);
    let Mode::Up(up) = mode(&["tracelab", "up", "--no-tracing", "s.rhai"]).unwrap() else {
        panic!("not up");
    };
    assert!(!up.tracing);
}

#[test]
fn traces_read_a_local_up_by_default() {
    let Mode::Traces(t) = mode(&["tracelab", "traces", "--service", "front-proxy"]).unwrap() else {
        panic!("not traces");
    };
    assert_eq!(t.jaeger_url, "http://localhost:16686");
    assert_eq!(t.query.service, "front-proxy");
    assert_eq!(t.query.limit, Some(20));
    assert!(t.trace_id.is_none());
    let Mode::Traces(t) = mode(&[
        "tracelab",
        "traces",
        "--jaeger-url",
        "http://j:16686",
        "--min-duration",
        "2ms",
        "4bf92f3577b34da6",
    ])
    .unwrap() else {
        panic!("not traces");
    };
    assert_eq!(t.trace_id.as_deref(), Some("4bf92f3577b34da6"));
    assert_eq!(t.query.min_duration, Some(Duration::from_millis(2)));
    assert_eq!(t.jaeger_url, "http://j:16686");
}

#[test]
fn a_target_moves_to_the_host_and_port_of_its_url_and_a_bad_url_is_a_usage_error() {
    let Mode::Run(run) = mode(&[
        "tracelab",
        "--target",
        "shop=http://10.0.0.5:8080/",
        "a.rhai",
    ])
    .unwrap() else {
        panic!("not a run");
    };
    assert_eq!(run.settings.targets["shop"], "10.0.0.5:8080");
    let err = mode(&["tracelab", "--target", "shop=https://x", "a.rhai"]).unwrap_err();
    assert!(err.to_string().contains("TLS is not supported"), "{err}");
    let err = mode(&["tracelab", "--target", "http://x", "a.rhai"]).unwrap_err();
    assert!(err.to_string().contains("write NAME=URL"), "{err}");
}

#[test]
fn record_writes_beside_the_scenario_unless_told_and_takes_the_runs_flags() {
    let Mode::Record(record) = mode(&[
        "tracelab",
        "record",
        "--target",
        "shop=http://h:1",
        "--wait-timeout",
        "30s",
        "scenarios/jaeger.rhai",
    ])
    .unwrap() else {
        panic!("not a recording");
    };
    assert_eq!(record.out, PathBuf::from("scenarios/expected/jaeger.rhai"));
    assert_eq!(record.run.files, [PathBuf::from("scenarios/jaeger.rhai")]);
    assert_eq!(record.run.settings.targets["shop"], "h:1");
    assert_eq!(record.run.settings.wait.timeout, Duration::from_secs(30));
    let Mode::Record(record) =
        mode(&["tracelab", "record", "--out", "x/y.rhai", "s.rhai"]).unwrap()
    else {
        panic!("not a recording");
    };
    assert_eq!(record.out, PathBuf::from("x/y.rhai"));
    let err = mode(&[
        "tracelab",
        "record",
        "--jaeger-url",
        "http://j:16686",
        "s.rhai",
    ])
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("--jaeger-url needs --otlp-endpoint"),
        "{err}"
    );
}
#[test]
fn free_ports_moves_every_collector_listener_its_own_flag_does_not() {
    let Mode::Collector(c) = mode(&[
        "tracelab",
        "collector",
        "--free-ports",
        "--otlp-grpc-port",
        "14317",
    ])
    .unwrap() else {
        panic!("not collector");
    };
    assert_eq!(c.ports[&Listener::OtlpGrpc], 14317);
    assert!(
        c.ports
            .iter()
            .all(|(l, p)| *l == Listener::OtlpGrpc || *p == 0),
        "{:?}",
        c.ports
    );
    let Mode::Collector(c) = mode(&["tracelab", "collector", "--otlp-http-port", "0"]).unwrap()
    else {
        panic!("not collector");
    };
    assert_eq!(c.ports[&Listener::OtlpHttp], 0, "the alias moves OTLP/HTTP");
    assert_eq!(c.ports[&Listener::Zipkin], 9411);
}

#[test]
fn the_otlp_protocol_flag_takes_the_sdk_names() {
    let Mode::Up(up) = mode(&["tracelab", "up", "--otlp-protocol", "grpc", "s.rhai"]).unwrap()
    else {
        panic!("not up");
    };
    assert_eq!(up.otlp_protocol, crate::mesh::telemetry::OtlpProtocol::Grpc);
    let err = mode(&["tracelab", "run", "--otlp-protocol", "grcp", "a.rhai"]).unwrap_err();
    assert!(
        err.to_string().contains("grpc, http/protobuf or http/json"),
        "{err}"
    );
}

#[test]
fn serve_over_grpc_exports_to_the_server_url_as_given() {
    let Mode::Serve(serve) = mode(&[
        "tracelab",
        "serve",
        "s.rhai",
        "--otlp-protocol",
        "grpc",
        "--otlp-endpoint",
        "http://jaeger:4317/",
    ])
    .unwrap() else {
        panic!("not serve");
    };
    assert_eq!(
        serve.otlp,
        crate::mesh::telemetry::OtlpEndpoint::grpc("http://jaeger:4317")
    );
    assert_eq!(serve.otlp.to_string(), "grpc http://jaeger:4317");
}

#[test]
fn a_run_lets_read_traces_go_unless_told_to_keep_them() {
    let release = |args: &[&str]| {
        let Mode::Run(run) = mode(args).unwrap() else {
            panic!("not a run");
        };
        let BackendChoice::Embedded(config) = run.settings.backend else {
            panic!("not embedded");
        };
        config.release_read_traces_after
    };
    assert_eq!(
        release(&["tracelab", "a.rhai"]),
        Some(crate::collector::DEFAULT_RELEASE_AFTER)
    );
    assert_eq!(
        release(&["tracelab", "run", "--keep-traces", "a.rhai"]),
        None
    );
    // --show-trace reads a trace again after the run.
    assert_eq!(
        release(&["tracelab", "--show-trace", "abc", "a.rhai"]),
        None
    );
    let Mode::Collector(c) = mode(&["tracelab", "collector"]).unwrap() else {
        panic!("not collector");
    };
    assert_eq!(c.collector.release_read_traces_after, None);
}

#[test]
fn a_misspelt_command_is_named_not_read_as_a_scenario() {
    let Err(err) = mode(&["tracelab", "rnu", "scenarios/jaeger.rhai"]) else {
        panic!("rnu is no scenario");
    };
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string().contains("did you mean `tracelab run`?"),
        "{err}"
    );
    // A scenario's path is never taken for a command.
    assert!(mode(&["tracelab", "scenarios/jaeger.rhai"]).is_ok());
}
