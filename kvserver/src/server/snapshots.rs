//! When and how the KvServer snapshots: the state is frozen on the apply
//! thread at the index just applied, then written out and handed to Raft on
//! a thread of its own, so applying, reads and Raft never wait for the disk.
//! At most one snapshot is in progress, and the threshold is checked again
//! after it.
//!
//! The original (IfNeedToSendSnapShotCommand) serialized the whole store on
//! the apply path, and snapshotted after every entry while the log stayed
//! over the threshold.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use proto::KvErr;
use raft::{SnapshotData, WriteAdapter};

use super::Inner;
use crate::snapshot;

/// Bytes a log record takes beyond its command: the record header and the
/// entry's term and index fields. Only an estimate of what a snapshot frees.
const RECORD_OVERHEAD: u64 = 24;

/// The KvServer's snapshot bookkeeping.
#[derive(Default)]
pub(super) struct Snapshots {
    in_progress: AtomicBool,
    /// Log bytes applied since the last snapshot began: what the next one
    /// would free.
    applied_bytes: AtomicU64,
    /// Size of the last snapshot taken or installed (see `snapshot_ratio`).
    last_bytes: AtomicU64,
    taken: AtomicU64,
    writer_thread: Mutex<Option<JoinHandle<()>>>,
}

impl Snapshots {
    /// Waits for a snapshot being written (it gives up at shutdown).
    pub(super) fn join(&self) {
        if let Some(thread) = self.writer_thread.lock().take() {
            let _ = thread.join();
        }
    }

    pub(super) fn taken(&self) -> u64 {
        self.taken.load(Ordering::Relaxed)
    }
}

/// Makes the calling thread run only on CPU time nothing else wants
/// (Linux: `SCHED_IDLE` for this thread alone). A snapshot of a large store
/// keeps a core busy for seconds; at a lower nice level it still held the
/// CPU for a scheduler slice whenever a request's thread woke, and on two
/// cores the mixed load's p99 went from 7–9 ms to 13–21 ms while
/// snapshots ran back to back (`scale-bench --max-raft-state 1048576
/// --snapshot-ratio 0`; nice 19 gave 13 ms). A waking thread always preempts
/// an idle-class one. Should the machine be saturated so that the snapshot
/// starves, [`outpaces`] slows applying down. (Its disk writes stay in the
/// normal I/O class: in the idle one, a disk kept busy by the log, as with
/// large values, could starve the snapshot with no sign of it, and a
/// measured benefit there was lost in the noise.)
fn run_when_idle() {
    #[cfg(target_os = "linux")]
    // SAFETY: a plain system call on this thread (pid 0 is the caller); the
    // parameter lives across it.
    unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        libc::sched_setscheduler(0, libc::SCHED_IDLE, &param);
    }
}

/// Applied log, in snapshot thresholds, past which applying waits a little
/// per entry for the snapshot in progress...
const STALL_AFTER: u64 = 4;
/// ...and in bytes, so small thresholds (tests, tiny stores) never stall.
const STALL_FLOOR: u64 = 64 << 20;
/// How long applying waits per entry while it outpaces the snapshot.
const STALL: Duration = Duration::from_millis(1);

/// Whether applying has run so far ahead of the snapshot in progress (it
/// began when `applied_bytes` was 0) that it must wait for it: on a machine
/// saturated by other work a snapshot on idle CPU time could starve, and
/// the log would grow without bound. Waiting frees CPU for it.
fn outpaces(applied_bytes: u64, threshold: u64) -> bool {
    applied_bytes >= (threshold.saturating_mul(STALL_AFTER)).max(STALL_FLOOR)
}

/// Whether a snapshot is due: Raft's stored state has reached `threshold`
/// and at least half of it is applied log that the snapshot would free. A
/// log over the threshold because of entries not yet applied (a follower
/// catching up) waits until applying has made a snapshot worth its cost.
fn worth_a_snapshot(raft_state_bytes: u64, applied_bytes: u64, threshold: u64) -> bool {
    raft_state_bytes >= threshold && applied_bytes >= threshold / 2
}

/// The log size that calls for a snapshot: `max_raft_state`, or with a
/// ratio, 1/ratio of the last snapshot if that is more.
fn threshold(max_raft_state: u64, ratio: Option<u64>, last_snapshot_bytes: u64) -> u64 {
    ratio.map_or(max_raft_state, |r| {
        max_raft_state.max(last_snapshot_bytes / r.max(1))
    })
}

impl Inner {
    /// Called after each applied entry: starts a snapshot through `index`
    /// if Raft's stored state has reached `max_raft_state` and at least half
    /// of that is applied log a snapshot would free. (Without the second
    /// rule a follower whose unapplied tail alone is over the threshold
    /// would snapshot after every entry.)
    pub(super) fn snapshot_if_large(self: &Arc<Self>, index: u64, command_bytes: usize) {
        let Some(max) = self.config.max_raft_state else {
            return;
        };
        let snapshots = &self.snapshots;
        let entry_bytes = command_bytes as u64 + RECORD_OVERHEAD;
        let freed = snapshots
            .applied_bytes
            .fetch_add(entry_bytes, Ordering::Relaxed)
            + entry_bytes;
        let threshold = threshold(
            max,
            self.config.snapshot_ratio,
            snapshots.last_bytes.load(Ordering::Relaxed),
        );
        if !worth_a_snapshot(self.raft.raft_state_size(), freed, threshold) {
            return;
        }
        if snapshots.in_progress.swap(true, Ordering::SeqCst) {
            if outpaces(freed, threshold) {
                std::thread::sleep(STALL);
            }
            return;
        }
        let Some(mut writer) = self.raft.begin_snapshot(index) else {
            snapshots.in_progress.store(false, Ordering::SeqCst);
            return;
        };
        // On the apply thread, right after applying `index`: the state is
        // exactly the state through `index`.
        let frozen = self.state.lock().freeze();
        snapshots.applied_bytes.store(0, Ordering::Relaxed);
        tracing::info!(node = self.me, index, "snapshot begun");
        let inner = self.clone();
        let started = Instant::now();
        let spawned = std::thread::Builder::new()
            .name(format!("kv{}-snapshot", self.me))
            .spawn(move || {
                run_when_idle();
                let stop = || inner.stopping.load(Ordering::SeqCst);
                match frozen.write_to(WriteAdapter(&mut *writer), stop) {
                    Ok(true) => {
                        let bytes = writer.written();
                        if inner.raft.finish_snapshot(writer) {
                            inner.snapshots.taken.fetch_add(1, Ordering::Relaxed);
                            inner.metrics.snapshot_taken(started.elapsed());
                            inner.snapshots.last_bytes.store(bytes, Ordering::Relaxed);
                            tracing::info!(
                                node = inner.me,
                                index,
                                bytes,
                                ms = started.elapsed().as_millis() as u64,
                                "snapshot taken"
                            );
                        } else {
                            tracing::info!(node = inner.me, index, "snapshot abandoned: a newer one is installed, or the node stopped");
                        }
                    }
                    Ok(false) => {
                        tracing::info!(node = inner.me, index, "snapshot abandoned: the node is stopping");
                    }
                    Err(e) => {
                        tracing::error!(node = inner.me, index, error = %e, "cannot write a snapshot");
                    }
                }
                inner.snapshots.in_progress.store(false, Ordering::SeqCst);
            });
        match spawned {
            Ok(thread) => {
                let previous = snapshots.writer_thread.lock().replace(thread);
                if let Some(previous) = previous {
                    let _ = previous.join(); // finished: in_progress was clear
                }
            }
            Err(e) => {
                tracing::error!(node = self.me, error = %e, "cannot start a snapshot thread");
                snapshots.in_progress.store(false, Ordering::SeqCst);
            }
        }
    }

    /// Replaces the state machine with a snapshot Raft received or
    /// recovered. Decoded without the state lock; swapped in under it.
    pub(super) fn install_snapshot(&self, index: u64, data: &SnapshotData) -> Result<(), String> {
        if index <= self.state.lock().last_applied() {
            return Ok(());
        }
        let mut restored = snapshot::read_from(data.reader())
            .map_err(|e| format!("the snapshot through index {index} cannot be decoded: {e}"))?;
        restored.set_session_limits(self.config.session_limits());
        let replaced = {
            let mut state = self.state.lock();
            if index <= state.last_applied() {
                return Ok(());
            }
            std::mem::replace(&mut *state, restored)
        };
        // Freeing a large store takes milliseconds: not under the lock the
        // request handlers take.
        drop(replaced);
        self.metrics.snapshot_restored();
        self.snapshots
            .last_bytes
            .store(data.len(), Ordering::Relaxed);
        tracing::info!(
            node = self.me,
            index,
            bytes = data.len(),
            "state restored from a snapshot"
        );
        // Their entries are inside the snapshot; their results are not. The
        // Clerk retries, and dedup answers a done Put/Append without redoing it.
        let (settled, reads) = {
            let mut waiters = self.waiters.lock();
            (
                waiters.take_through(index),
                waiters.reads.take_through(index),
            )
        };
        for waiter in settled {
            waiter.reply.failed(KvErr::WrongLeader, self.leader_hint());
        }
        self.answer_reads(reads);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{outpaces, threshold, worth_a_snapshot, STALL_FLOOR};

    #[test]
    fn a_snapshot_waits_for_applied_log_to_free() {
        assert!(!worth_a_snapshot(999, 999, 1000), "under the threshold");
        assert!(worth_a_snapshot(1000, 500, 1000));
        // The catching-up follower: a large unapplied tail keeps the state
        // over the threshold right after a snapshot; one more applied entry
        // is no reason for another.
        assert!(!worth_a_snapshot(50_000, 120, 1000));
        assert!(worth_a_snapshot(50_000, 600, 1000));
    }

    #[test]
    fn applying_waits_only_when_far_ahead_of_a_snapshot_of_real_size() {
        let mib = 1 << 20;
        // A test's tiny threshold never stalls.
        assert!(!outpaces(10 * mib, 1000));
        assert!(outpaces(STALL_FLOOR, 1000));
        // 16 MiB: after 64 MiB of applied log; 1 GiB: after 4 GiB.
        assert!(!outpaces(63 * mib, 16 * mib));
        assert!(outpaces(64 * mib, 16 * mib));
        assert!(!outpaces(4095 * mib, 1024 * mib));
        assert!(outpaces(4096 * mib, 1024 * mib));
    }

    #[test]
    fn with_a_ratio_a_large_store_snapshots_after_a_share_of_its_size() {
        let mib = 1 << 20;
        assert_eq!(threshold(16 * mib, None, 1024 * mib), 16 * mib);
        assert_eq!(threshold(16 * mib, Some(8), 1024 * mib), 128 * mib);
        // A small store keeps max_raft_state.
        assert_eq!(threshold(16 * mib, Some(8), 64 * mib), 16 * mib);
        assert!(!worth_a_snapshot(
            20 * mib,
            20 * mib,
            threshold(16 * mib, Some(8), 1024 * mib)
        ));
    }
}
