//! The `done` callback a handler completes: the original's `Closure* done`,
//! made impossible to forget (dropping it answers HANDLER_FAILED) and
//! impossible to call twice (it is consumed).

use std::marker::PhantomData;

use crate::RpcStatus;

/// What a handler answers: an encoded body, or a status with a message.
pub type Outcome = Result<Vec<u8>, (RpcStatus, String)>;

type Callback = Box<dyn FnOnce(Outcome) + Send>;

/// Completes one call with bytes. May be sent to and completed on any thread.
pub struct Responder {
    callback: Option<Callback>,
}

impl Responder {
    /// A responder that hands the outcome to `callback`. The provider builds
    /// one per request; in-process callers (tests, simulated networks) may too.
    pub fn new(callback: impl FnOnce(Outcome) + Send + 'static) -> Self {
        Self {
            callback: Some(Box::new(callback)),
        }
    }

    /// Answers the call with an encoded reply body.
    pub fn ok(mut self, body: Vec<u8>) {
        self.complete(Ok(body));
    }

    /// Answers the call with an error status.
    pub fn fail(mut self, status: RpcStatus, message: impl Into<String>) {
        self.complete(Err((status, message.into())));
    }

    fn complete(&mut self, outcome: Outcome) {
        if let Some(callback) = self.callback.take() {
            callback(outcome);
        }
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        if self.callback.is_none() {
            return;
        }
        // Unwinding through a handler drops its responder: say so.
        let message = if std::thread::panicking() {
            "the handler panicked"
        } else {
            "the handler dropped the call without answering"
        };
        self.complete(Err((RpcStatus::HandlerFailed, message.to_string())));
    }
}

/// A typed [`Responder`]: what generated server traits hand to handlers.
pub struct Done<T: prost::Message> {
    responder: Responder,
    reply_type: PhantomData<fn(T)>,
}

impl<T: prost::Message> Done<T> {
    pub fn new(responder: Responder) -> Self {
        Self {
            responder,
            reply_type: PhantomData,
        }
    }

    /// Answers the call with `reply`.
    pub fn reply(self, reply: T) {
        self.responder.ok(reply.encode_to_vec());
    }

    /// Answers the call with an error status.
    pub fn fail(self, status: RpcStatus, message: impl Into<String>) {
        self.responder.fail(status, message);
    }
}
