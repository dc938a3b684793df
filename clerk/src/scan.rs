//! A Scan as an iterator over pages: each `next` asks the cluster for the
//! page that starts where the last one ended.

use crate::{Clerk, ClerkError};

/// One page of a Scan: entries in ascending key order, and where the next
/// page starts (`None`: the range is done).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanPage {
    pub items: Vec<(Vec<u8>, Vec<u8>)>,
    pub next_key: Option<Vec<u8>>,
}

/// The pages of [`Clerk::scan`], fetched one per `next`. Each page is a
/// linearizable view of its part of the range. After an error the
/// iterator ends; [`resume_key`](Self::resume_key) says where it stopped,
/// for a new scan from there.
pub struct Scan<'a> {
    clerk: &'a Clerk,
    /// Where the next page starts; `None` once done.
    next: Option<Vec<u8>>,
    end: Vec<u8>,
    limit: u32,
    failed_at: Option<Vec<u8>>,
}

impl<'a> Scan<'a> {
    pub(crate) fn new(clerk: &'a Clerk, start: Vec<u8>, end: Vec<u8>, limit: u32) -> Scan<'a> {
        Scan {
            clerk,
            next: Some(start),
            end,
            limit,
            failed_at: None,
        }
    }

    /// The start key of the page that failed, if one did.
    pub fn resume_key(&self) -> Option<&[u8]> {
        self.failed_at.as_deref()
    }
}

impl Iterator for Scan<'_> {
    type Item = Result<Vec<(Vec<u8>, Vec<u8>)>, ClerkError>;

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.next.take()?;
        match self.clerk.scan_page(&start, &self.end, self.limit) {
            Ok(page) => {
                self.next = page.next_key;
                Some(Ok(page.items))
            }
            Err(e) => {
                self.failed_at = Some(start);
                Some(Err(e))
            }
        }
    }
}

impl std::iter::FusedIterator for Scan<'_> {}
