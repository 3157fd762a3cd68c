//! A cap on the requests one kube client has in flight, as a tower layer.
//!
//! It bounds the load the hub puts on one cluster, and the memory of the responses it holds at
//! once. Over HTTP/2 the requests share one connection ([`super::transport`]); to a server
//! that offers only HTTP/1.1 each request in flight is one connection, kept idle for 90 s, so
//! there the cap also bounds the connections (about 55 KiB each). A request holds its permit
//! until its response body is dropped (over HTTP/1.1 the connection goes back to the pool only
//! once the body is read); watches (`watch=true`), which stream for minutes, take no permit.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::{BoxError, Layer, Service};

/// The layer: one semaphore shared by every request of one client. `max` = 0: no cap.
#[derive(Clone)]
pub struct InFlightLayer {
    permits: Option<Arc<Semaphore>>,
}

impl InFlightLayer {
    pub fn new(max: usize) -> Self {
        Self {
            permits: (max > 0).then(|| Arc::new(Semaphore::new(max))),
        }
    }
}

impl<S> Layer<S> for InFlightLayer {
    type Service = InFlight<S>;

    fn layer(&self, inner: S) -> InFlight<S> {
        InFlight {
            inner,
            permits: self.permits.clone(),
        }
    }
}

pub struct InFlight<S> {
    inner: S,
    permits: Option<Arc<Semaphore>>,
}

/// Whether a request is a watch (its query has `watch=true` or `watch=1`).
pub fn is_watch<B>(req: &http::Request<B>) -> bool {
    req.uri().query().is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "watch" && (v == "true" || v == "1"))
    })
}

impl<S, ReqB, ResB> Service<http::Request<ReqB>> for InFlight<S>
where
    S: Service<http::Request<ReqB>, Response = http::Response<ResB>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Permitted<ResB>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: http::Request<ReqB>) -> Self::Future {
        let permits = self.permits.clone().filter(|_| !is_watch(&req));
        // The inner future is lazy (hyper checks a connection out when it is first polled):
        // it is polled only once the permit is held.
        let response = self.inner.call(req);
        Box::pin(async move {
            let permit = match permits {
                Some(p) => Some(p.acquire_owned().await.map_err(BoxError::from)?),
                None => None,
            };
            let response = response.await.map_err(Into::into)?;
            Ok(response.map(|body| Permitted {
                body,
                _permit: permit,
            }))
        })
    }
}

/// A response body that holds its request's permit until dropped.
pub struct Permitted<B> {
    body: B,
    _permit: Option<OwnedSemaphorePermit>,
}

impl<B: Body + Unpin> Body for Permitted<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tower::ServiceExt;

    fn request(uri: &str) -> http::Request<()> {
        http::Request::get(uri).body(()).unwrap()
    }

    #[test]
    fn watches_are_recognised() {
        assert!(is_watch(&request(
            "/api/v1/configmaps?watch=true&labelSelector=a"
        )));
        assert!(is_watch(&request(
            "/api/v1/configmaps?labelSelector=a&watch=1"
        )));
        assert!(!is_watch(&request(
            "/api/v1/configmaps?labelSelector=watch%3Dtrue"
        )));
        assert!(!is_watch(&request("/api/v1/configmaps")));
        assert!(!is_watch(&request("/api/v1/configmaps?watch=false")));
    }

    #[tokio::test]
    async fn at_most_max_in_flight_until_the_body_is_dropped_and_watches_are_free() {
        let active = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (a, p) = (active.clone(), peak.clone());
        let inner = tower::service_fn(move |_: http::Request<()>| {
            let (a, p) = (a.clone(), p.clone());
            async move {
                let now = a.fetch_add(1, Ordering::SeqCst) + 1;
                p.fetch_max(now, Ordering::SeqCst);
                tokio::task::yield_now().await;
                a.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, BoxError>(http::Response::new(Full::new(bytes::Bytes::from("ok"))))
            }
        });
        let layer = InFlightLayer::new(2);
        let svc = layer.layer(inner);
        let svc = Arc::new(tokio::sync::Mutex::new(svc));
        // Two bodies held: a third request waits, a watch does not.
        let mut held = Vec::new();
        for _ in 0..2 {
            let mut s = svc.lock().await;
            held.push(s.ready().await.unwrap().call(request("/x")).await.unwrap());
        }
        let third = {
            let mut s = svc.lock().await;
            s.ready().await.unwrap().call(request("/x"))
        };
        let third = tokio::spawn(third);
        let watch = {
            let mut s = svc.lock().await;
            s.ready().await.unwrap().call(request("/x?watch=true"))
        };
        let watch = tokio::time::timeout(std::time::Duration::from_secs(5), watch)
            .await
            .expect("a watch takes no permit")
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!third.is_finished(), "the third waits for a permit");
        let body = held.pop().unwrap().into_body().collect().await.unwrap();
        assert_eq!(body.to_bytes(), "ok");
        let third = tokio::time::timeout(std::time::Duration::from_secs(5), third)
            .await
            .expect("a dropped body frees its permit")
            .unwrap()
            .unwrap();
        drop((third, watch, held));
        assert!(peak.load(Ordering::SeqCst) <= 3);
        // No cap: nothing waits.
        let mut free =
            InFlightLayer::new(0).layer(tower::service_fn(|_: http::Request<()>| async {
                Ok::<_, BoxError>(http::Response::new(Full::new(bytes::Bytes::new())))
            }));
        let mut bodies = Vec::new();
        for _ in 0..100 {
            bodies.push(
                free.ready()
                    .await
                    .unwrap()
                    .call(request("/x"))
                    .await
                    .unwrap(),
            );
        }
    }
}
