//! The Kubernetes API simulator: an HTTPS server that behaves like kube-apiserver for the part of
//! the API a GitOps hub and its target clusters use, serving many virtual clusters at once.
//!
//! Layout: `simulator` (the library API) → `server` (listeners, TLS, faults at the connection
//! level) → `handler` (one request: auth, routing, verbs) → `read` / `write` / `delete` /
//! `watch` over one cluster's `store`. `controller` runs what a real cluster's controllers do.
//! The rest is pure: `patch`, `apply`, `schema`, `selector`, `rbac`, `token`, `discovery`,
//! `openapi`, `table`, `workload`, `defaults`, `validation`, `prepare`.

pub mod admin;
pub mod apply;
pub mod cluster;
pub mod controller;
pub mod decode;
pub mod defaults;
pub mod delete;
pub mod discovery;
pub mod error;
pub mod faults;
pub mod handler;
pub mod kubeconfig;
pub mod object;
pub mod openapi;
pub mod openapi_cache;
pub mod patch;
pub mod prepare;
pub mod proto;
pub mod rbac;
pub mod read;
pub mod request;
pub mod resource;
pub mod response;
pub mod review;
pub mod scale;
pub mod schema;
pub mod selector;
pub mod server;
pub mod simulator;
pub mod store;
pub mod table;
pub mod tls;
pub mod token;
pub mod tokens;
pub mod validation;
pub mod watch;
pub mod workload;
pub mod write;

pub use cluster::ClusterSettings;
pub use faults::{FaultConfig, Mode, RequestCount};
pub use simulator::{ClusterHandle, SimConfig, SimError, Simulator};
