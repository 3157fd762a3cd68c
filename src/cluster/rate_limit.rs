//! A client-side rate limit and a response timeout for kube clients, as one tower layer.
//!
//! kube-rs has no rate limiter (client-go's QPS/burst); without one, API Priority and Fairness
//! 429s would be the only brake on a hub talking to a thousand clusters. The limiter is a token
//! bucket (client-go's `flowcontrol.NewTokenBucketRateLimiter`): `burst` requests at once, then
//! `qps` per second. Requests wait their turn in `poll_ready`, so they go out in arrival order.
//!
//! The timeout bounds the time to the response *headers*: a blackholed server fails the request
//! after `timeout` instead of hanging, while a watch (whose headers come at once and whose body
//! streams for minutes) is not cut.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};
use tower::{BoxError, Layer, Service};

/// A token bucket: pure arithmetic over instants, so it is tested without waiting.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    qps: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket. `qps` ≤ 0 means unlimited.
    pub fn new(qps: f64, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            qps,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes one token and says how long to wait before using it (zero if available now).
    /// The reservation is final: a caller that waits the returned time is within the rate.
    pub fn reserve(&mut self, now: Instant) -> Duration {
        if self.qps <= 0.0 {
            return Duration::ZERO;
        }
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now.max(self.last);
        self.tokens = (self.tokens + elapsed * self.qps).min(self.burst) - 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.qps)
        }
    }
}

/// Settings of the layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub qps: f64,
    pub burst: u32,
    /// Time to the response headers.
    pub timeout: Duration,
}

/// The layer: one bucket shared by every request of one client.
#[derive(Clone)]
pub struct LimitLayer {
    bucket: Arc<Mutex<TokenBucket>>,
    timeout: Duration,
}

impl LimitLayer {
    pub fn new(limits: Limits) -> Self {
        Self {
            bucket: Arc::new(Mutex::new(TokenBucket::new(
                limits.qps,
                limits.burst,
                Instant::now(),
            ))),
            timeout: limits.timeout,
        }
    }
}

impl<S> Layer<S> for LimitLayer {
    type Service = Limited<S>;

    fn layer(&self, inner: S) -> Limited<S> {
        Limited {
            inner,
            bucket: self.bucket.clone(),
            timeout: self.timeout,
            wait: None,
            permitted: false,
        }
    }
}

/// The service: waits for a token, then for the inner service, then bounds the response time.
pub struct Limited<S> {
    inner: S,
    bucket: Arc<Mutex<TokenBucket>>,
    timeout: Duration,
    wait: Option<Pin<Box<Sleep>>>,
    /// A token is held for the next `call`.
    permitted: bool,
}

/// The request did not get response headers within the timeout.
#[derive(Debug, thiserror::Error)]
#[error("no response within {0:?}")]
pub struct TimedOut(pub Duration);

impl<S, Req> Service<Req> for Limited<S>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        if !self.permitted {
            if self.wait.is_none() {
                let now = Instant::now();
                let delay = self
                    .bucket
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .reserve(now);
                if delay.is_zero() {
                    self.permitted = true;
                } else {
                    self.wait = Some(Box::pin(tokio::time::sleep_until(now + delay)));
                }
            }
            if let Some(wait) = self.wait.as_mut() {
                if wait.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.wait = None;
                self.permitted = true;
            }
        }
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        self.permitted = false;
        let timeout = self.timeout;
        let response = self.inner.call(req);
        Box::pin(async move {
            match tokio::time::timeout(timeout, response).await {
                Ok(r) => r.map_err(Into::into),
                Err(_) => Err(Box::new(TimedOut(timeout)) as BoxError),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10.0, 3, t0);
        for _ in 0..3 {
            assert_eq!(b.reserve(t0), Duration::ZERO);
        }
        // The 4th waits one interval, the 5th two.
        assert_eq!(b.reserve(t0), Duration::from_millis(100));
        assert_eq!(b.reserve(t0), Duration::from_millis(200));
        // After a second the bucket refilled (capped at burst), minus what was borrowed.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(b.reserve(t1), Duration::ZERO);
        let t2 = t0 + Duration::from_secs(10);
        for _ in 0..3 {
            assert_eq!(b.reserve(t2), Duration::ZERO);
        }
        assert!(b.reserve(t2) > Duration::ZERO);
    }

    #[test]
    fn sustained_rate_is_qps() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(50.0, 100, t0);
        // 1,100 requests at once: the last one may go out after (1100 - 100) / 50 = 20 s.
        let mut last = Duration::ZERO;
        for _ in 0..1100 {
            last = b.reserve(t0);
        }
        assert!((last.as_secs_f64() - 20.0).abs() < 0.05, "{last:?}");
    }

    #[test]
    fn zero_qps_is_unlimited() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(0.0, 1, t0);
        for _ in 0..1000 {
            assert_eq!(b.reserve(t0), Duration::ZERO);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_layer_spaces_requests_and_times_out() {
        use tower::ServiceExt;
        let layer = LimitLayer::new(Limits {
            qps: 2.0,
            burst: 1,
            timeout: Duration::from_secs(5),
        });
        let fast = tower::service_fn(|_: ()| async { Ok::<_, BoxError>(Instant::now()) });
        let mut svc = layer.layer(fast);
        let t0 = Instant::now();
        let a = svc.ready().await.unwrap().call(()).await.unwrap();
        let b = svc.ready().await.unwrap().call(()).await.unwrap();
        assert_eq!(a - t0, Duration::ZERO);
        assert_eq!(b - t0, Duration::from_millis(500));
        let slow = tower::service_fn(|_: ()| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok::<_, BoxError>(())
        });
        let mut svc = LimitLayer::new(Limits {
            qps: 0.0,
            burst: 1,
            timeout: Duration::from_secs(5),
        })
        .layer(slow);
        let err = svc.ready().await.unwrap().call(()).await.unwrap_err();
        assert!(err.to_string().contains("no response within 5s"), "{err}");
    }
}
