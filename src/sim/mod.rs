//! The Kubernetes API simulator: an HTTPS server that behaves like kube-apiserver for the part of
//! the API a GitOps hub and its target clusters use, serving many virtual clusters at once.

pub mod apply;
pub mod discovery;
pub mod error;
pub mod openapi;
pub mod patch;
pub mod rbac;
pub mod resource;
pub mod schema;
pub mod selector;
pub mod table;
pub mod token;
pub mod workload;
