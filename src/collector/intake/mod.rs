//! Every way spans come in, each wire format in its own module.
//! (Placeholder until the intake framework lands: h12b's decoders.)

pub mod jaeger_grpc;
pub mod jaeger_model;
pub mod jaeger_thrift;
pub mod jaeger_udp;
pub mod pdata_map;
pub mod zipkin_proto;
pub mod zipkin_v1;
