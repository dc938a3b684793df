//! Log replication (§5.3): one replicator thread per peer, the commit rule
//! (§5.4.2), and the AppendEntries handler.
//!
//! The original replicated only on its 25 ms heartbeat tick; here `start`
//! wakes every replicator at once, and each sends all the entries its peer
//! lacks in one AppendEntries (bounded by `max_entries_per_append` and
//! `max_bytes_per_append`). One data-carrying RPC per peer is in flight at a
//! time, so entries that arrive meanwhile batch into the next one, which
//! the thread that took the reply sends at once (`send_next`). Idle
//! peers get a heartbeat every `heartbeat_interval`; followers learn the
//! commit index from the next append or heartbeat, never from extra RPCs.

use std::sync::Arc;
use std::time::Instant;

use proto::raft::{
    AppendEntriesArgs, AppendEntriesReply, InstallSnapshotRequest, InstallSnapshotResponse,
};

use crate::config::MAX_INFLIGHT_PER_PEER;
use crate::links::Link;
use crate::log::AppendCheck;
use crate::membership::quorum;
use crate::node::Inner;
use crate::read_index;
use crate::sender::{send, Outgoing, Rpc};
use crate::state::{Role, State};
use crate::{transfer, Defer, PeerError};

/// `AppendEntriesReply::app_state` (the original's AppNormal / Disconnected).
const APP_NORMAL: i32 = 1;
const APP_KILLED: i32 = 0;

/// Advances the leader's commit index to the highest index stored on a
/// majority of the voters (the leader counting what it has synced, if it
/// is a voter itself), if that entry is of the current term (§5.4.2, see
/// `membership::quorum::commit_index`); true if it moved.
pub(crate) fn maybe_commit(st: &mut State) -> bool {
    if st.role != Role::Leader {
        return false;
    }
    let n = quorum::commit_index(
        st.config(),
        |id| st.match_index(id),
        |i| st.log.term(i),
        st.current_term,
        st.commit_index,
    );
    st.advance_commit(n)
}

/// Builds the next RPC for `peer`: everything it lacks from `next_index`
/// on, or (`with_data == false`) an empty heartbeat, or the next chunk of
/// the snapshot when the entries it needs were compacted away (§7).
fn do_heartbeat(st: &mut State, peer: usize, with_data: bool, inner: &Inner) -> Rpc {
    let next = st.progress.get(&peer).map_or(1, |p| p.next_index);
    if with_data && next <= st.log.snapshot_index() {
        if let Some(data) = st.snapshot.clone() {
            let term = st.current_term;
            let Some(pr) = st.progress.get_mut(&peer) else {
                unreachable!("a peer without progress is sent nothing")
            };
            return Rpc::Snapshot(transfer::next_chunk(
                &mut pr.transfer,
                &data,
                inner.me as i32,
                term,
                inner.config.snapshot_chunk_bytes,
            ));
        }
    }
    let prev = (next - 1).clamp(st.log.snapshot_index(), st.log.last_index());
    let entries = if with_data {
        st.log.entries_from(
            prev + 1,
            inner.config.max_entries_per_append,
            inner.config.max_bytes_per_append,
        )
    } else {
        Vec::new()
    };
    Rpc::Append(AppendEntriesArgs {
        term: st.current_term,
        leader_id: inner.me as i32,
        prev_log_index: prev,
        prev_log_term: st.log.term(prev).unwrap_or(0),
        entries,
        leader_commit: st.commit_index,
    })
}

/// The replicator of one peer: while leader, sends new entries as soon as
/// they exist (and the previous batch was answered) and a heartbeat when the
/// peer has heard nothing for `heartbeat_interval`. Sleeps on its condvar
/// otherwise; the RPCs themselves run on the peer's sender thread (see
/// `sender.rs`), so a slow or dead peer never blocks this loop.
pub(crate) fn replicator(inner: Arc<Inner>, link: Arc<Link>) {
    let hb = inner.config.heartbeat_interval;
    let peer = link.id;
    let mut st = inner.state.lock();
    loop {
        if st.dead || link.is_retired() {
            return;
        }
        if st.role != Role::Leader || !st.progress.contains_key(&peer) {
            link.replicate_cv.wait(&mut st);
            continue;
        }
        let now = Instant::now();
        if st.farewells.get(&peer).is_some_and(|f| now >= f.until) && st.end_farewell(peer) {
            drop(st);
            inner.refresh_links();
            st = inner.state.lock();
            continue;
        }
        if send_if_due(&inner, &mut st, peer, now) {
            continue;
        }
        let wake = st.progress[&peer].last_send.map_or(now + hb, |t| t + hb);
        link.replicate_cv.wait_until(&mut st, wake);
    }
}

/// Hands `peer`'s sender whatever it is due now on a leader: the entries it
/// lacks, a heartbeat, or a probe for waiting reads. Returns whether it
/// sent something. Called by the replicator, and by `read_index` so that a
/// read's probes leave at once rather than after a replicator wakes up.
pub(crate) fn send_if_due(inner: &Arc<Inner>, st: &mut State, peer: usize, now: Instant) -> bool {
    let hb = inner.config.heartbeat_interval;
    let last_index = st.log.last_index();
    let Some(pr) = st.progress.get(&peer) else {
        return false;
    };
    let heartbeat_due = pr.last_send.is_none_or(|t| now >= t + hb);
    let lagging = last_index >= pr.next_index;
    // A data RPC unanswered for a whole election timeout is presumed
    // lost (a slow network may still deliver it); without this, a peer
    // back from a partition could wait that long for its entries.
    let data_lost = pr
        .data_sent_at
        .is_some_and(|t| now >= t + inner.config.election_timeout_min);
    let data_free = !pr.data_inflight || (data_lost && heartbeat_due);
    let send_data = lagging && data_free && (!pr.backoff || heartbeat_due);
    // Reads waiting for this peer's word get it at once, unless a probe
    // is already out (they share the next) or the peer is failing.
    let read_wanted =
        pr.round_sent < st.reads.round && !pr.read_probe_inflight && (!pr.backoff || heartbeat_due);
    let send_heartbeat = (heartbeat_due || read_wanted) && pr.inflight < MAX_INFLIGHT_PER_PEER;
    if !send_data && !send_heartbeat {
        return false;
    }
    let Some(link) = inner.link(peer) else {
        return false;
    };
    let rpc = do_heartbeat(st, peer, send_data, inner);
    let carries_data = match &rpc {
        Rpc::Append(a) => !a.entries.is_empty(),
        Rpc::Snapshot(_) => true,
    };
    let round = st.reads.round;
    let read_probe = read_wanted && !carries_data;
    let Some(pr) = st.progress.get_mut(&peer) else {
        return false;
    };
    pr.inflight += 1;
    if carries_data {
        pr.data_inflight = true;
        pr.data_sent_at = Some(now);
    }
    pr.read_probe_inflight |= read_probe;
    pr.round_sent = round;
    pr.last_send = Some(now);
    let out = Outgoing {
        peer,
        link,
        rpc,
        carries_data,
        round,
        read_probe,
        lane: None,
    };
    send(inner, st, out);
    true
}

/// Settles the bookkeeping of a finished RPC; returns the reply if it still
/// matters (same term, still leader), after stepping down on a newer term.
/// When it does not, the replicator is woken to decide what comes next;
/// otherwise the caller sends it (`send_next`).
fn settle<R>(
    inner: &Inner,
    st: &mut parking_lot::MutexGuard<'_, State>,
    out: &Outgoing,
    args_term: u64,
    reply: Result<R, PeerError>,
    reply_term: impl Fn(&R) -> u64,
) -> Option<R> {
    let peer = out.peer;
    let wake_replicator = Defer::new(|| {
        out.link.replicate_cv.notify_one();
    });
    // A member removed meanwhile (its progress gone) is owed nothing more.
    let pr = st.progress.get_mut(&peer)?;
    pr.inflight = pr.inflight.saturating_sub(1);
    if out.carries_data {
        pr.data_inflight = false;
    }
    if out.read_probe {
        pr.read_probe_inflight = false;
    }
    if let Some(lane) = out.lane {
        pr.lane_busy[lane] = false;
    }
    let Ok(reply) = reply else {
        pr.backoff = true;
        return None;
    };
    if st.dead {
        return None;
    }
    let term = reply_term(&reply);
    if term > st.current_term {
        parking_lot::MutexGuard::unlocked(st, || inner.step_down(term));
        return None;
    }
    // A reply to an older term, or to a leader we no longer are, is stale.
    if st.role != Role::Leader || st.current_term != args_term {
        return None;
    }
    let pr = st.progress.get_mut(&peer)?;
    pr.backoff = false;
    pr.last_ack = Instant::now();
    // Any answer in our term, success or not, says the peer knew of no
    // newer leader when it answered.
    pr.round_acked = pr.round_acked.max(out.round);
    wake_replicator.cancel();
    Some(reply)
}

/// Sends `out`'s peer what it is due next from the thread that took the
/// reply: usually the entries that arrived while the last batch was out.
/// Waking the replicator to hand them back to this thread cost two thread
/// hand-offs per round trip, on the path of every write. When nothing is
/// due, the replicator is woken to look (a heartbeat timer, a farewell).
fn send_next(inner: &Arc<Inner>, st: &mut State, out: &Outgoing) {
    let sent = st.role == Role::Leader && send_if_due(inner, st, out.peer, Instant::now());
    if !sent {
        out.link.replicate_cv.notify_one();
    }
}

/// How every settled reply ends: the peer's next batch goes out (or its
/// replicator is woken), the links are marked for a refresh if the
/// configuration moved, and the reads the reply confirmed are answered
/// once the lock is released.
fn finish_reply(
    inner: &Arc<Inner>,
    mut st: parking_lot::MutexGuard<'_, State>,
    out: &Outgoing,
    confirmed_reads: Vec<(read_index::OnConfirmed, u64)>,
) {
    send_next(inner, &mut st, out);
    if st.links_stale {
        inner
            .links_dirty
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
    drop(st);
    read_index::answer(confirmed_reads);
}

pub(crate) fn handle_append_reply(
    inner: &Arc<Inner>,
    out: &Outgoing,
    args: &AppendEntriesArgs,
    reply: Result<AppendEntriesReply, PeerError>,
) {
    let mut st = inner.state.lock();
    let Some(reply) = settle(inner, &mut st, out, args.term, reply, |r| r.term) else {
        return;
    };
    let confirmed_reads = read_index::take_confirmed(&mut st);
    let Some(pr) = st.progress.get_mut(&out.peer) else {
        return finish_reply(inner, st, out, confirmed_reads);
    };
    if reply.success {
        // Computed from our request, not the reply, and never backwards:
        // replies may be stale or reordered.
        let matched = args.prev_log_index + args.entries.len() as u64;
        pr.match_index = pr.match_index.max(matched);
        pr.next_index = pr.next_index.max(matched + 1);
        // A removed member that now knows its removal committed is done.
        let told = st
            .farewells
            .get(&out.peer)
            .is_some_and(|f| args.leader_commit >= f.index && matched >= f.index);
        if told {
            st.end_farewell(out.peer);
        }
        if maybe_commit(&mut st) {
            inner.committed(&mut st);
        }
    } else {
        // A follower that no longer has an entry it acknowledged, asked
        // about a place at or past it, lost its data (a wiped disk). Start
        // over from what it has; the commit index never goes back anyway.
        // (A stale reply to an older, lower request is not such proof.)
        let hint = reply.update_next_index;
        if pr.match_index > 0 && args.prev_log_index >= pr.match_index && hint <= pr.match_index {
            tracing::warn!(
                me = inner.me,
                peer = out.peer,
                acknowledged = pr.match_index,
                has = hint.saturating_sub(1),
                "a follower lost entries it had acknowledged; sending them again"
            );
            pr.match_index = hint.saturating_sub(1);
        }
        // Fast backup: jump to the follower's hint, but never below what is
        // known to match.
        let hint = hint.max(pr.match_index + 1);
        if hint < pr.next_index {
            pr.next_index = hint;
        }
    }
    finish_reply(inner, st, out, confirmed_reads);
}

pub(crate) fn handle_snapshot_reply(
    inner: &Arc<Inner>,
    out: &Outgoing,
    args: &InstallSnapshotRequest,
    reply: Result<InstallSnapshotResponse, PeerError>,
) {
    let mut st = inner.state.lock();
    let Some(reply) = settle(inner, &mut st, out, args.term, reply, |r| r.term) else {
        return;
    };
    let confirmed_reads = read_index::take_confirmed(&mut st);
    let Some(pr) = st.progress.get_mut(&out.peer) else {
        return finish_reply(inner, st, out, confirmed_reads);
    };
    if reply.saved {
        // InstallSnapshot said it holds the snapshot durably.
        let index = args.last_snap_shot_include_index;
        pr.match_index = pr.match_index.max(index);
        pr.next_index = pr.next_index.max(index + 1);
        pr.transfer = None;
        if maybe_commit(&mut st) {
            inner.committed(&mut st);
        }
    } else {
        transfer::resume_at(&mut pr.transfer, args, reply.next_offset);
    }
    finish_reply(inner, st, out, confirmed_reads);
}

/// The AppendEntries handler (Figure 2, receiver rules 1–5).
///
/// Entries are synced before the reply, with the state lock released
/// meanwhile (the storage lock keeps other writers out), so heartbeats,
/// the applier and status queries never wait behind a follower's fsync. A
/// heartbeat of the current term changes nothing durable: it takes the
/// state lock alone, never the storage lock (which a sync or a log rewrite
/// may hold for long), and claims a match only through entries already
/// synced.
pub(crate) fn append_entries(inner: &Inner, args: AppendEntriesArgs) -> AppendEntriesReply {
    let now = Instant::now();
    if args.entries.is_empty() {
        let mut st = inner.state.lock();
        if args.term <= st.current_term {
            let (prev, durable) = (args.prev_log_index, st.durable_index);
            let reply = accept(inner, &mut st, args, now);
            let stale = st.links_stale;
            drop(st);
            if stale {
                inner.refresh_links();
            }
            if !reply.success || prev <= durable {
                return reply;
            }
            // The entries up to `prev` are here but not yet synced: the
            // leader's contact counts (and its commit index, for entries
            // committed elsewhere), but no match is claimed; the leader
            // keeps its next index.
            return AppendEntriesReply {
                success: false,
                update_next_index: prev + 1,
                ..reply
            };
        }
    }
    let mut storage = inner.storage.lock();
    let mut st = inner.state.lock();
    let reply = accept(inner, &mut st, args, now);
    // Nothing is acknowledged before it is durable.
    if Inner::needs_persist(&st) && !inner.persist_unlocked(&mut st, &mut **storage) {
        return refused(st.current_term, APP_KILLED);
    }
    let stale = st.links_stale;
    drop(st);
    drop(storage);
    if stale {
        inner.refresh_links();
    }
    reply
}

fn refused(term: u64, app_state: i32) -> AppendEntriesReply {
    AppendEntriesReply {
        term,
        success: false,
        update_next_index: 0,
        app_state,
    }
}

/// Applies the receiver rules to the in-memory state; the caller makes the
/// result durable before replying.
fn accept(
    inner: &Inner,
    st: &mut State,
    args: AppendEntriesArgs,
    now: Instant,
) -> AppendEntriesReply {
    if st.dead {
        return refused(st.current_term, APP_KILLED);
    }
    // Rule 1: reply false if term < currentTerm.
    if args.term < st.current_term {
        return refused(st.current_term, APP_NORMAL);
    }
    st.observe_term(args.term, &inner.config, now);
    // A candidate that hears from the leader of its term steps back (§5.2).
    st.become_follower(&inner.config, now);
    if st.leader != Some(args.leader_id as usize) {
        tracing::debug!(
            me = inner.me,
            term = st.current_term,
            leader = args.leader_id,
            "follows a leader"
        );
    }
    st.leader = Some(args.leader_id as usize);
    inner.metrics.saw_leader(st.current_term);
    st.last_leader_contact = Some(now);
    st.reset_election_deadline(&inner.config, now);

    // Saturating: a garbled request must not overflow (it will not match).
    let last_new = args
        .prev_log_index
        .saturating_add(args.entries.len() as u64);
    let (success, update_next_index) =
        match st
            .log
            .check_append(args.prev_log_index, args.prev_log_term, &args.entries)
        {
            // Rule 2: reply false if the log doesn't contain a matching prevLogIndex.
            AppendCheck::Mismatch { next_index } => (false, next_index),
            AppendCheck::Match {
                truncate_from,
                skip,
            } => {
                // Rule 3: delete a conflicting entry and all that follow.
                if let Some(from) = truncate_from {
                    st.truncate_log(from);
                }
                // Rule 4: append any new entries not already in the log.
                let mut entries = args.entries;
                let new_from = skip.min(entries.len());
                if (args.prev_log_index + 1 + new_from as u64) == st.log.last_index() + 1 {
                    let first_new = st.log.last_index() + 1;
                    st.log.extend(entries.drain(new_from..));
                    // §4.1: a configuration takes effect once it is in the log.
                    st.track_configs(first_new, now);
                }
                // Rule 5: commitIndex = min(leaderCommit, index of last new entry).
                let commit = args.leader_commit.min(last_new);
                if st.advance_commit(commit) {
                    inner.committed(st);
                }
                (true, last_new + 1)
            }
        };
    AppendEntriesReply {
        term: st.current_term,
        success,
        update_next_index,
        app_state: APP_NORMAL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{tests::log_of, Log};
    use crate::membership::Configuration;

    /// The commit rule over `matches[i]` for voter i (all voters).
    fn commit_index_for(matches: &[u64], log: &Log, term: u64, commit: u64) -> u64 {
        let config = Configuration::voters_of((0..matches.len()).map(|i| (i, String::new())));
        quorum::commit_index(&config, |i| matches[i], |i| log.term(i), term, commit)
    }

    #[test]
    fn commits_the_majority_index_of_the_current_term() {
        let log = log_of(&[1, 2, 2, 2]);
        assert_eq!(commit_index_for(&[4, 3, 1], &log, 2, 0), 3);
        assert_eq!(commit_index_for(&[4, 4, 4, 1, 1], &log, 2, 0), 4);
        assert_eq!(commit_index_for(&[4, 4, 1, 1, 1], &log, 2, 0), 0);
    }

    #[test]
    fn never_commits_an_older_term_by_counting_replicas() {
        // Figure 8: index 2 (term 2) is on a majority, but the leader is in term 4.
        let log = log_of(&[1, 2, 4]);
        assert_eq!(commit_index_for(&[3, 2, 2], &log, 4, 1), 1);
        // Once an entry of term 4 is on a majority, everything before it commits.
        assert_eq!(commit_index_for(&[3, 3, 2], &log, 4, 1), 3);
    }

    #[test]
    fn commit_never_goes_back() {
        let log = log_of(&[1, 1, 1]);
        assert_eq!(commit_index_for(&[1, 1, 1], &log, 1, 3), 3);
    }
}
