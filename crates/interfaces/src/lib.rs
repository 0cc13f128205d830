//! L4 interfaces: the `tapio` command line and the `correlation-service`, and what they
//! share — configuration, the embedded pipeline, and rendering for people.

pub mod client;
pub mod config;
pub mod eval;
pub mod generate;
pub mod grpc_api;
pub mod http_api;
pub mod live;
pub mod news;
pub mod pipeline;
pub mod publish;
pub mod record;
pub mod render;
pub mod rotation;
pub mod run;
pub mod service;
pub mod service_metrics;
pub mod tls;
