//! Content negotiation of the discovery endpoints: which clause of an `Accept` header the
//! server honours (goautoneg's order: quality, then specificity), and whether it asks for the
//! aggregated discovery document.

use super::{AGGREGATED_V2, AGGREGATED_V2BETA1};

/// The aggregated discovery version the `Accept` header asks for; `None` means answer with the
/// legacy document. As kube-apiserver's discovery wrapper negotiates with a restriction that
/// admits only the aggregated conversion, plain clauses never win: the first aggregated clause in
/// goautoneg order does, whatever precedes it.
pub fn accepts_aggregated(accept_header: &str) -> Option<&'static str> {
    for range in parse_accept(accept_header) {
        if !range.is_json() {
            continue;
        }
        match (range.param("g"), range.param("v"), range.param("as")) {
            (Some("apidiscovery.k8s.io"), Some("v2"), Some("APIGroupDiscoveryList")) => {
                return Some(AGGREGATED_V2);
            }
            (Some("apidiscovery.k8s.io"), Some("v2beta1"), Some("APIGroupDiscoveryList")) => {
                return Some(AGGREGATED_V2BETA1);
            }
            // Plain JSON and any other conversion are refused here: try the next clause.
            _ => continue,
        }
    }
    None
}

/// One clause of an `Accept` header.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MediaRange {
    pub kind: String,
    pub subtype: String,
    pub params: Vec<(String, String)>,
    pub q: f32,
}

impl MediaRange {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the clause admits `application/json`.
    pub fn is_json(&self) -> bool {
        (self.kind == "application" && (self.subtype == "json" || self.subtype == "*"))
            || (self.kind == "*" && self.subtype == "*")
    }
}

/// Parses an `Accept` header as goautoneg does: clauses ordered by quality, then specificity.
pub(crate) fn parse_accept(header: &str) -> Vec<MediaRange> {
    let mut ranges = Vec::new();
    for part in header.split(',') {
        let mut pieces = part.trim().split(';');
        let media = pieces.next().unwrap_or_default();
        let mut halves = media.split('/');
        let kind = halves.next().unwrap_or_default().trim().to_string();
        let subtype = match (halves.next(), halves.next()) {
            (None, _) if kind == "*" => "*".to_string(),
            (Some(s), None) => s.trim().to_string(),
            _ => continue,
        };
        let mut range = MediaRange {
            kind,
            subtype,
            params: Vec::new(),
            q: 1.0,
        };
        for param in pieces {
            let Some((k, v)) = param.split_once('=') else {
                continue;
            };
            let (k, v) = (k.trim(), v.trim());
            if k == "q" {
                range.q = v.parse().unwrap_or(0.0);
            } else {
                range.params.push((k.to_string(), v.to_string()));
            }
        }
        ranges.push(range);
    }
    let rank = |r: &MediaRange| (r.kind != "*", r.subtype != "*");
    ranges.sort_by(|a, b| {
        b.q.partial_cmp(&a.q)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| rank(b).cmp(&rank(a)))
    });
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::discovery::{AGGREGATED_V2_CONTENT_TYPE, aggregated_content_type};

    #[test]
    fn accept_negotiation() {
        // What client-go v1.32 sends.
        let kubectl = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(accepts_aggregated(kubectl), Some(AGGREGATED_V2));
        let beta = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(accepts_aggregated(beta), Some(AGGREGATED_V2BETA1));
        let nopeer = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;profile=nopeer,application/json";
        assert_eq!(accepts_aggregated(nopeer), Some(AGGREGATED_V2));
        assert_eq!(accepts_aggregated("application/json"), None);
        assert_eq!(accepts_aggregated(""), None);
        assert_eq!(accepts_aggregated("application/json, */*"), None);
        // Plain JSON never wins over an aggregated clause, even a lower quality one.
        assert_eq!(
            accepts_aggregated(
                "application/json;q=0.9;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
            ),
            Some(AGGREGATED_V2)
        );
        assert_eq!(
            accepts_aggregated(
                "application/json,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
            ),
            Some(AGGREGATED_V2BETA1)
        );
        // An unknown conversion is skipped.
        assert_eq!(
            accepts_aggregated(
                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
            ),
            Some(AGGREGATED_V2)
        );
        assert_eq!(
            aggregated_content_type(AGGREGATED_V2),
            AGGREGATED_V2_CONTENT_TYPE
        );
    }
}
