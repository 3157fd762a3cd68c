//! Secret manifests from arbitrary YAML: `secrets_from_yaml`, then the cluster and repository
//! parsers on every Secret read. Ok or Err, never a panic; errors and `Debug` output render.

#![no_main]

use flotilla::api::{ClusterConfig, ClusterSecret, RepositorySecret, secrets_from_yaml};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The `config` key of a cluster Secret is JSON bytes: feed it the raw input too.
    if let Ok(config) = ClusterConfig::from_json(data, "fuzz/config") {
        let _ = format!("{config:?}");
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match secrets_from_yaml(text, "fuzz.yaml") {
        Ok(secrets) => {
            for s in &secrets {
                let _ = format!("{s:?} {} {:?}", s.qualified_name(), s.secret_type());
                match ClusterSecret::from_secret(s) {
                    Ok(c) => drop(format!("{c:?}")),
                    Err(e) => drop(e.to_string()),
                }
                match RepositorySecret::from_secret(s) {
                    Ok(r) => drop(format!("{r:?}")),
                    Err(e) => drop(e.to_string()),
                }
            }
        }
        Err(e) => drop(e.to_string()),
    }
});
