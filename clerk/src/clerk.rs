//! The Clerk: a blocking client that finds the leader and retries (the
//! original's `Clerk` in clerk.cpp).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use proto::kv::{CasArgs, DeleteArgs, GetArgs, KvServerRpcClient, PutAppendArgs, ScanArgs};
use proto::KvErr;
use rpc::{RpcChannel, RpcError, RpcStatus};

use crate::round::{Next, Round};
use crate::scan::{Scan, ScanPage};
use crate::session::SessionPool;
use crate::{ClerkConfig, ClerkError, ClusterConfig, KvTransport};

/// A client of the replicated store; share one between threads freely.
pub struct Clerk {
    transport: Box<dyn KvTransport>,
    sessions: SessionPool,
    /// The server that answered last: where the next call starts.
    leader: AtomicUsize,
    config: ClerkConfig,
}

/// What a [`Clerk::cas`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CasOutcome {
    /// The key held the expected value (or was absent, if that was
    /// expected) and now holds the new one.
    Swapped,
    /// Nothing changed: the key held `current` instead (`None`: absent).
    NotSwapped { current: Option<Vec<u8>> },
}

/// What one server said to one attempt: the `Err` (parsed and raw), the
/// leader hint, and the rest of the reply.
struct Answer<R> {
    err: Option<KvErr>,
    raw_err: Vec<u8>,
    leader_hint: i32,
    reply: R,
}

impl Clerk {
    /// A Clerk for the servers at `addrs` (node id = position).
    pub fn new(addrs: Vec<SocketAddr>) -> Clerk {
        Clerk::with_config(addrs, ClerkConfig::default())
    }

    /// Like [`new`](Self::new), with explicit timing.
    pub fn with_config(addrs: Vec<SocketAddr>, config: ClerkConfig) -> Clerk {
        let stubs: Vec<KvServerRpcClient> = addrs
            .into_iter()
            .map(|addr| KvServerRpcClient::new(RpcChannel::new(addr)))
            .collect();
        Clerk::with_transport(stubs, config)
    }

    /// A Clerk for the cluster in a config file (the original's `Init("test.conf")`).
    pub fn from_config(path: impl AsRef<Path>) -> Result<Clerk, ClerkError> {
        let addrs = ClusterConfig::load(path)?.resolve_all()?;
        Ok(Clerk::new(addrs))
    }

    /// A Clerk over any transport (tests use a simulated network).
    pub fn with_transport(transport: impl KvTransport, config: ClerkConfig) -> Clerk {
        Clerk {
            transport: Box::new(transport),
            sessions: SessionPool::default(),
            leader: AtomicUsize::new(0),
            config,
        }
    }

    /// The value of `key`, or `None` if it was never written.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>, ClerkError> {
        let session = self.sessions.lend(self.config.session_max_idle);
        let args = GetArgs {
            key: key.as_ref().to_vec(),
            client_id: session.client_id.clone(),
            request_id: session.read_request_id(),
        };
        let answer = self.call_until_answered(|server, timeout| {
            let mut reply = self.transport.get(server, &args, timeout)?;
            Ok(Answer::new(
                std::mem::take(&mut reply.err),
                reply.leader_id,
                reply.value,
            ))
        })?;
        Ok(match answer.err {
            Some(KvErr::Ok) => Some(answer.reply),
            _ => None,
        })
    }

    /// Sets `key` to `value`.
    pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<(), ClerkError> {
        self.put_append(key.as_ref(), value.as_ref(), "Put")
    }

    /// Appends `value` to the value of `key` (to "" if it has none).
    pub fn append(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<(), ClerkError> {
        self.put_append(key.as_ref(), value.as_ref(), "Append")
    }

    /// Removes `key`; `true` if it existed, `false` if there was nothing
    /// to remove. Applied exactly once: a retry is told what the first
    /// attempt found.
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<bool, ClerkError> {
        let key = key.as_ref();
        let answer = self.write(|client_id, request_id, server, timeout| {
            let args = DeleteArgs {
                key: key.to_vec(),
                client_id: client_id.to_vec(),
                request_id,
            };
            let mut reply = self.transport.delete(server, &args, timeout)?;
            Ok(Answer::new(
                std::mem::take(&mut reply.err),
                reply.leader_id,
                (),
            ))
        })?;
        Ok(answer.err == Some(KvErr::Ok))
    }

    /// Compare-and-swap: sets `key` to `value` if it now holds `expected`
    /// (`None`: if it is absent). Applied exactly once: a retry is told
    /// what the first attempt decided.
    pub fn cas(
        &self,
        key: impl AsRef<[u8]>,
        expected: Option<&[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<CasOutcome, ClerkError> {
        let (key, value) = (key.as_ref(), value.as_ref());
        let answer = self.write(|client_id, request_id, server, timeout| {
            let args = CasArgs {
                key: key.to_vec(),
                expected: expected.unwrap_or_default().to_vec(),
                expect_absent: expected.is_none(),
                value: value.to_vec(),
                client_id: client_id.to_vec(),
                request_id,
            };
            let mut reply = self.transport.cas(server, &args, timeout)?;
            Ok(Answer::new(
                std::mem::take(&mut reply.err),
                reply.leader_id,
                reply,
            ))
        })?;
        let reply = answer.reply;
        Ok(if reply.swapped {
            CasOutcome::Swapped
        } else {
            CasOutcome::NotSwapped {
                current: (!reply.current_absent).then_some(reply.current),
            }
        })
    }

    /// The keys in `[start, end)` in byte order (an empty `end`: to the
    /// end of the store), as an iterator over pages of at most `limit`
    /// items (0: the server's default, 1000). Each page is one consistent,
    /// linearizable view; the pages together are not one snapshot (a key
    /// written between two pages shows in the later one if it falls there).
    pub fn scan(&self, start: impl AsRef<[u8]>, end: impl AsRef<[u8]>, limit: u32) -> Scan<'_> {
        Scan::new(self, start.as_ref().to_vec(), end.as_ref().to_vec(), limit)
    }

    /// One page of [`scan`](Self::scan): the keys from `start`, below `end`.
    pub fn scan_page(&self, start: &[u8], end: &[u8], limit: u32) -> Result<ScanPage, ClerkError> {
        let session = self.sessions.lend(self.config.session_max_idle);
        let args = ScanArgs {
            start_key: start.to_vec(),
            end_key: end.to_vec(),
            limit,
            client_id: session.client_id.clone(),
            request_id: session.read_request_id(),
        };
        let mut too_large = None;
        let answered = self.call_until_answered(|server, timeout| {
            let mut reply = self.transport.scan(server, &args, timeout)?;
            if reply.err == KvErr::TooLarge.to_wire() {
                too_large = Some(std::mem::take(&mut reply.next_key));
            }
            Ok(Answer::new(
                std::mem::take(&mut reply.err),
                reply.leader_id,
                reply,
            ))
        });
        let answer = answered.map_err(|e| match (e, too_large) {
            // Name the entry no reply can carry, so the caller can skip it.
            (ClerkError::TooLarge(_), Some(key)) => ClerkError::TooLarge(format!(
                "the entry {:?} is too large for one Scan reply; Get it, or scan on from after it",
                String::from_utf8_lossy(&key)
            )),
            (e, _) => e,
        })?;
        let reply = answer.reply;
        if !reply.next_key.is_empty() && reply.next_key.as_slice() <= start {
            // Following it would ask for the same page forever.
            return Err(ClerkError::Rejected {
                reason: "a Scan page whose NextKey does not move past its start".to_string(),
                attempts: 1,
            });
        }
        Ok(ScanPage {
            items: reply
                .items
                .into_iter()
                .map(|kv| (kv.key, kv.value))
                .collect(),
            next_key: (!reply.next_key.is_empty()).then_some(reply.next_key),
        })
    }

    /// Sends one Put or Append until it is answered.
    fn put_append(&self, key: &[u8], value: &[u8], op: &str) -> Result<(), ClerkError> {
        self.write(|client_id, request_id, server, timeout| {
            let args = PutAppendArgs {
                key: key.to_vec(),
                value: value.to_vec(),
                op: op.as_bytes().to_vec(),
                client_id: client_id.to_vec(),
                request_id,
            };
            let mut reply = self.transport.put_append(server, &args, timeout)?;
            Ok(Answer::new(
                std::mem::take(&mut reply.err),
                reply.leader_id,
                (),
            ))
        })
        .map(|_| ())
    }

    /// Sends one write (`attempt(client id, request id, server, timeout)`)
    /// until it is answered. A session the servers no longer know
    /// (expired, or evicted under load) refuses it: if that was the first
    /// attempt nothing was ever applied under its request id, so the write
    /// is sent again once, under a new session; after a retry an earlier
    /// attempt may have applied, so the caller is told. A write that fails
    /// retires its session: if it was the session's first, the servers may
    /// never have heard of the session, and would refuse the next write
    /// under it.
    fn write<R>(
        &self,
        mut attempt: impl FnMut(&[u8], i64, usize, Duration) -> Result<Answer<R>, RpcError>,
    ) -> Result<Answer<R>, ClerkError> {
        let mut session = self.sessions.lend(self.config.session_max_idle);
        let mut renewed = false;
        loop {
            let request_id = session.next_request_id();
            let client_id = session.client_id.clone();
            let answered = self.call_until_answered(|server, timeout| {
                attempt(&client_id, request_id, server, timeout)
            });
            match answered {
                Ok(answer) => return Ok(answer),
                Err(ClerkError::SessionExpired { attempts: 1 }) if !renewed => {
                    tracing::debug!("session unknown to the cluster; resending under a new one");
                    session.renew();
                    renewed = true;
                }
                Err(e) => {
                    session.renew();
                    return Err(e);
                }
            }
        }
    }

    /// Sends one request (always with the same request id) to server after
    /// server until one answers it for real. Only wrong leader, timeouts and
    /// transport failures are retried: on the hinted leader if there is a
    /// hint not already asked twice in this round, else on the next untried
    /// server, pausing once every server was tried ([`Round`]).
    /// Anything else no retry can fix, so it is returned at once.
    fn call_until_answered<R>(
        &self,
        mut attempt: impl FnMut(usize, Duration) -> Result<Answer<R>, RpcError>,
    ) -> Result<Answer<R>, ClerkError> {
        let servers = self.transport.server_count();
        if servers == 0 {
            return Err(ClerkError::NoServers);
        }
        let started = Instant::now();
        let deadline = self.config.deadline.map(|d| started + d);
        let mut server = self.leader.load(Ordering::Relaxed) % servers;
        let mut backoff = self.config.backoff_min;
        let mut attempts: u64 = 0;
        let mut round = Round::new(servers);
        loop {
            let timeout = match deadline {
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() && attempts > 0 {
                        return Err(self.deadline_exceeded(attempts, "see the log"));
                    }
                    left.min(self.config.rpc_timeout)
                }
                None => self.config.rpc_timeout,
            };
            attempts += 1;
            let (problem, hint) = match attempt(server, timeout) {
                Ok(answer) => match answer.err {
                    Some(KvErr::Ok | KvErr::NoKey) => {
                        self.leader.store(server, Ordering::Relaxed);
                        return Ok(answer);
                    }
                    Some(KvErr::WrongLeader) => (
                        format!("wrong leader (hint {})", answer.leader_hint),
                        usize::try_from(answer.leader_hint).ok(),
                    ),
                    Some(KvErr::Timeout) => (
                        "the server timed out waiting for agreement".to_string(),
                        None,
                    ),
                    Some(KvErr::SessionExpired) => {
                        return Err(ClerkError::SessionExpired { attempts });
                    }
                    Some(KvErr::TooLarge) => {
                        self.leader.store(server, Ordering::Relaxed);
                        return Err(ClerkError::TooLarge(format!(
                            "server {server} answered {}",
                            KvErr::TooLarge
                        )));
                    }
                    // Whatever this Clerk does not know.
                    _ => {
                        return Err(ClerkError::Rejected {
                            reason: String::from_utf8_lossy(&answer.raw_err).into_owned(),
                            attempts,
                        });
                    }
                },
                // Never sent: no server could take it, so no retry.
                Err(e @ RpcError::TooLarge { .. }) => {
                    return Err(ClerkError::TooLarge(e.to_string()));
                }
                Err(e) if !retryable(&e) => {
                    return Err(ClerkError::Rejected {
                        reason: e.to_string(),
                        attempts,
                    });
                }
                Err(e) => (e.to_string(), None),
            };
            let pause_first;
            (server, pause_first) = match round.after(server, hint) {
                Next::Try(next) => (next, false),
                Next::Pause(next) => (next, true),
            };
            tracing::debug!(attempts, %problem, next = server, "retrying");
            if pause_first {
                let pause = match deadline {
                    Some(deadline) => {
                        backoff.min(deadline.saturating_duration_since(Instant::now()))
                    }
                    None => backoff,
                };
                std::thread::sleep(pause);
                backoff = (backoff * 2).min(self.config.backoff_max);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(self.deadline_exceeded(attempts, &problem));
            }
        }
    }

    fn deadline_exceeded(&self, attempts: u64, last_problem: &str) -> ClerkError {
        ClerkError::DeadlineExceeded {
            deadline: self.config.deadline.unwrap_or_default(),
            attempts,
            last_problem: last_problem.to_string(),
        }
    }
}

/// Whether another attempt (on another server, or later) could succeed
/// where this transport failure did: a request the RPC layer refused as
/// malformed, unknown or too large will be refused everywhere.
fn retryable(e: &RpcError) -> bool {
    match e {
        RpcError::Connect { .. }
        | RpcError::Timeout
        | RpcError::Closed(_)
        | RpcError::Decode(_) => true,
        RpcError::Remote { status, .. } => {
            matches!(status, RpcStatus::HandlerFailed | RpcStatus::ShuttingDown)
        }
        RpcError::TooLarge { .. } => false,
    }
}

impl<R> Answer<R> {
    /// The answer carried by `reply`, whose `Err` field was `raw_err`.
    fn new(raw_err: Vec<u8>, leader_hint: i32, reply: R) -> Answer<R> {
        Answer {
            err: KvErr::from_wire(&raw_err),
            raw_err,
            leader_hint,
            reply,
        }
    }
}
