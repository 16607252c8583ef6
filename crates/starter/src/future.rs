//! [`AuthFuture`]: the future of the authentication layer and of the route layers, named so that
//! no other crate's type is part of their signatures.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::response::Response;
use portcullis_core::BoxFuture;

pin_project_lite::pin_project! {
    /// The future of [`crate::AuthService`] and [`crate::AuthorizeService`]: the inner
    /// service's own future on the hot path (no allocation, no extra state machine), a response
    /// already decided (a refusal by a route requirement), or a boxed one when the pipeline must
    /// do work.
    pub struct AuthFuture<F, E> {
        #[pin]
        state: State<F, E>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProjection]
    enum State<F, E> {
        Inner { #[pin] future: F },
        Ready { response: Option<Result<Response, E>> },
        Boxed { future: BoxFuture<'static, Result<Response, E>> },
    }
}

impl<F, E> AuthFuture<F, E> {
    /// The inner service's future.
    pub(crate) fn inner(future: F) -> Self {
        Self {
            state: State::Inner { future },
        }
    }

    /// A response decided already.
    pub(crate) fn ready(response: Result<Response, E>) -> Self {
        Self {
            state: State::Ready {
                response: Some(response),
            },
        }
    }

    /// Work the pipeline still has to do.
    pub(crate) fn boxed(future: BoxFuture<'static, Result<Response, E>>) -> Self {
        Self {
            state: State::Boxed { future },
        }
    }
}

impl<F, E> std::fmt::Debug for AuthFuture<F, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthFuture").finish_non_exhaustive()
    }
}

impl<F, E> Future for AuthFuture<F, E>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProjection::Inner { future } => future.poll(cx),
            StateProjection::Ready { response } => match response.take() {
                Some(response) => Poll::Ready(response),
                // Polled after completion: a future may panic then; this one stays pending.
                None => Poll::Pending,
            },
            StateProjection::Boxed { future } => future.as_mut().poll(cx),
        }
    }
}
