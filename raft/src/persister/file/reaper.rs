//! A thread that deletes files the log no longer needs, closes old
//! snapshots and prepares the next log segment (see `spare.rs`), so that
//! freeing or allocating blocks never happens under the persister's lock.
//!
//! Deleting a segment, or closing the last handle of a replaced snapshot
//! of a gigabyte, makes the file system free its blocks, and on a disk busy
//! with other writes that can take hundreds of milliseconds. Done inline it
//! held the leader's log writer, and every write with it. Losing the work
//! to a crash is harmless: recovery skips and deletes covered segments, and
//! a replaced snapshot is already unlinked by the rename.

use std::fs;
use std::io;
use std::path::PathBuf;
use std::thread::JoinHandle;

use crossbeam_channel::{unbounded, Sender};

use super::spare::Preparation;
use crate::persister::SnapshotData;

/// What the reaper is handed.
enum Job {
    Delete(PathBuf),
    Close(SnapshotData),
    Spare(Preparation),
    /// Answered once everything handed over before it is done.
    Barrier(Sender<()>),
}

/// The reaper of one persister. Dropping it waits for the work handed to
/// it: a persister reopened on the same directory must not find a file
/// half way to deletion.
#[derive(Debug)]
pub struct Reaper {
    jobs: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Reaper {
    pub fn start() -> Reaper {
        let (jobs, queue) = unbounded::<Job>();
        let thread = std::thread::Builder::new()
            .name("persister-reaper".into())
            .spawn(move || {
                for job in queue {
                    match job {
                        Job::Delete(path) => delete(&path),
                        Job::Close(snapshot) => drop(snapshot),
                        Job::Spare(spare) => spare.run(),
                        Job::Barrier(done) => {
                            let _ = done.send(());
                        }
                    }
                }
            })
            .ok();
        Reaper {
            jobs: thread.is_some().then_some(jobs),
            thread,
        }
    }

    /// Deletes `path` soon (at once, if the thread could not be started).
    pub fn delete(&self, path: PathBuf) {
        match &self.jobs {
            Some(jobs) => {
                if let Err(unsent) = jobs.send(Job::Delete(path)) {
                    if let Job::Delete(path) = unsent.into_inner() {
                        delete(&path);
                    }
                }
            }
            None => delete(&path),
        }
    }

    /// Drops this handle of a replaced snapshot on the reaper's thread.
    pub fn close(&self, snapshot: SnapshotData) {
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(Job::Close(snapshot));
        }
    }
}

impl Reaper {
    /// Prepares a spare log segment (none if the thread could not be
    /// started: segments then start empty).
    pub fn prepare(&self, spare: Preparation) {
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(Job::Spare(spare));
        }
    }

    /// Waits until everything handed over so far is done.
    pub fn wait(&self) {
        let Some(jobs) = &self.jobs else {
            return;
        };
        let (done, finished) = unbounded();
        if jobs.send(Job::Barrier(done)).is_ok() {
            let _ = finished.recv();
        }
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn delete(path: &PathBuf) {
    match fs::remove_file(path) {
        Ok(()) => {}
        // Deleted by a recovery that got there first.
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot delete a covered log segment")
        }
    }
}
