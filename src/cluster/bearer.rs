//! A cluster client's bearer token, replaceable in place: the client sets `Authorization` from a
//! shared cell on every request, so a rotated token takes effect at once for every holder of the
//! client (sync pools in the middle of a pass, watches reconnecting) without rebuilding the
//! client, its connection or the caches built on it. No request goes out with the old token
//! after [`BearerToken::set`] returns.

use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context, Poll};

use http::HeaderValue;
use tower::{Layer, Service};

use crate::api::Sensitive;

/// The shared token. `Debug` shows no token.
#[derive(Clone)]
pub struct BearerToken(Arc<RwLock<Sensitive<String>>>);

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

impl BearerToken {
    pub fn new(token: Sensitive<String>) -> Self {
        Self(Arc::new(RwLock::new(token)))
    }

    /// Replaces the token for every later request of every clone of the client.
    pub fn set(&self, token: Sensitive<String>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = token;
    }

    fn header(&self) -> Option<HeaderValue> {
        let token = self.0.read().unwrap_or_else(PoisonError::into_inner);
        let mut value = HeaderValue::try_from(format!("Bearer {}", token.expose())).ok()?;
        value.set_sensitive(true);
        Some(value)
    }

    /// The layer that authenticates requests with this token.
    pub fn layer(&self) -> BearerLayer {
        BearerLayer(self.clone())
    }
}

/// Sets `Authorization: Bearer <token>` from a [`BearerToken`] on each request.
#[derive(Clone)]
pub struct BearerLayer(BearerToken);

impl<S> Layer<S> for BearerLayer {
    type Service = Bearer<S>;

    fn layer(&self, inner: S) -> Bearer<S> {
        Bearer {
            inner,
            token: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Bearer<S> {
    inner: S,
    token: BearerToken,
}

impl<S, B> Service<http::Request<B>> for Bearer<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> S::Future {
        if let Some(value) = self.token.header() {
            req.headers_mut().insert(http::header::AUTHORIZATION, value);
        }
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    #[tokio::test]
    async fn every_request_carries_the_current_token() {
        let token = BearerToken::new(Sensitive::new("first".into()));
        let mut svc = token
            .layer()
            .layer(tower::service_fn(|req: http::Request<()>| async move {
                Ok::<_, Infallible>(req.headers()[http::header::AUTHORIZATION].clone())
            }));
        let seen = svc.call(http::Request::new(())).await.unwrap();
        assert_eq!(seen, "Bearer first");
        assert!(seen.is_sensitive());
        token.set(Sensitive::new("second".into()));
        let seen = svc.call(http::Request::new(())).await.unwrap();
        assert_eq!(seen, "Bearer second");
        assert_eq!(format!("{token:?}"), "BearerToken(<redacted>)");
    }
}
