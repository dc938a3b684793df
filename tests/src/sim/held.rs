//! A request the network held back, to be delivered late: a frame stalled
//! on a connection to a deposed leader, or a retry that crossed a leader
//! change (see [`Network::hold_next`](super::Network::hold_next)).

use super::{CallError, ClientEnd};

/// A copy of one request that never reached its server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldCall {
    pub service: String,
    pub method: String,
    pub args: Vec<u8>,
}

impl HeldCall {
    /// Delivers the request now, through `via` (to whatever server that end
    /// leads to), and returns the reply.
    pub fn deliver(&self, via: &ClientEnd) -> Result<Vec<u8>, CallError> {
        via.call(&self.service, &self.method, &self.args)
    }
}
