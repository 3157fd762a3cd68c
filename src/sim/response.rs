//! HTTP responses: JSON, YAML, Status errors, streams.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::UnsyncBoxBody};
use hyper::body::Frame;
use hyper::{Response, StatusCode, header};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::error::ApiError;

pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// How the client wants objects encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
}

/// Picks JSON or YAML from an Accept header; None when only unsupported types are accepted
/// (protobuf, CBOR), which is a 406.
pub fn negotiate(accept: &str) -> Option<Format> {
    if accept.trim().is_empty() {
        return Some(Format::Json);
    }
    for part in accept.split(',') {
        let media = part.split(';').next().unwrap_or("").trim();
        match media {
            "application/json"
            | "*/*"
            | "application/*"
            | "application/json-patch+json"
            | "application/merge-patch+json" => return Some(Format::Json),
            "application/yaml" => return Some(Format::Yaml),
            _ => {}
        }
    }
    None
}

pub fn full(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()).boxed_unsync());
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r.headers_mut().insert(
        "cache-control",
        header::HeaderValue::from_static("no-cache, private"),
    );
    r
}

pub fn json_bytes(status: u16, body: Vec<u8>) -> Response<Body> {
    full(status, "application/json", body)
}

pub fn json(status: u16, v: &Value) -> Response<Body> {
    json_bytes(status, serde_json::to_vec(v).unwrap_or_default())
}

/// An object or list, already serialized as JSON, in the negotiated format.
pub fn encoded(status: u16, body: Vec<u8>, format: Format) -> Response<Body> {
    match format {
        Format::Json => json_bytes(status, body),
        Format::Yaml => match serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| serde_yaml::to_string(&v).ok())
        {
            Some(y) => full(status, "application/yaml", y),
            None => json_bytes(status, body),
        },
    }
}

/// Adds a `Warning: 299 - "<text>"` header per warning (`net.NewWarningHeader`: quotes and
/// backslashes escaped; a text that cannot be a header value is left out).
pub fn with_warnings(mut r: Response<Body>, warnings: &[String]) -> Response<Body> {
    for w in warnings {
        let mut quoted = String::with_capacity(w.len() + 2);
        quoted.push('"');
        for c in w.chars() {
            if c == '"' || c == '\\' {
                quoted.push('\\');
            }
            quoted.push(c);
        }
        quoted.push('"');
        if let Ok(v) = header::HeaderValue::from_str(&format!("299 - {quoted}")) {
            r.headers_mut().append(header::WARNING, v);
        }
    }
    r
}

pub fn error(e: &ApiError) -> Response<Body> {
    let mut r = json(e.code, &e.to_status());
    if let Some(s) = e.retry_after
        && let Ok(v) = header::HeaderValue::from_str(&s.to_string())
    {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// A streaming response fed by the returned sender (watches).
pub fn stream(
    content_type: &str,
) -> (
    Response<Body>,
    mpsc::Sender<Result<Frame<Bytes>, Infallible>>,
) {
    let (tx, rx) = mpsc::channel(64);
    let mut r = Response::new(StreamBody::new(ReceiverStream::new(rx)).boxed_unsync());
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r.headers_mut().insert(
        "cache-control",
        header::HeaderValue::from_static("no-cache, private"),
    );
    (r, tx)
}

/// Parses a request body as JSON or YAML according to its Content-Type.
pub fn parse_body(content_type: &str, body: &[u8]) -> Result<Value, ApiError> {
    let media = content_type.split(';').next().unwrap_or("").trim();
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("the request body is empty"));
    }
    match media {
        ""
        | "application/json"
        | "application/json-patch+json"
        | "application/merge-patch+json"
        | "application/strategic-merge-patch+json" => serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
        }),
        "application/yaml" | "application/apply-patch+yaml" => {
            let v: Value = serde_yaml::from_slice(body).map_err(|e| {
                ApiError::bad_request(format!("error converting YAML to JSON: {e}"))
            })?;
            Ok(v)
        }
        "application/vnd.kubernetes.protobuf" => {
            super::proto::decode(body).map_err(|e| ApiError::bad_request(e.to_string()))
        }
        other => Err(ApiError::unsupported_media_type(
            other,
            &["application/json", "application/yaml"],
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_prefers_the_first_supported_type() {
        assert_eq!(negotiate(""), Some(Format::Json));
        assert_eq!(
            negotiate("application/vnd.kubernetes.protobuf, application/json"),
            Some(Format::Json)
        );
        assert_eq!(negotiate("application/yaml"), Some(Format::Yaml));
        assert_eq!(negotiate("application/vnd.kubernetes.protobuf"), None);
    }

    #[test]
    fn bodies_parse_by_content_type() {
        assert_eq!(parse_body("application/yaml", b"a: 1\n").unwrap()["a"], 1);
        assert_eq!(parse_body("application/json", b"{").unwrap_err().code, 400);
        assert_eq!(
            parse_body("application/vnd.kubernetes.protobuf", b"x")
                .unwrap_err()
                .code,
            400
        );
        assert_eq!(parse_body("application/cbor", b"x").unwrap_err().code, 415);
    }
}
