//! Raft's own header at the start of every snapshot's data: the
//! configuration in force at the snapshot's last index, so a node that
//! restores or receives a snapshot knows the members even after the log
//! entry that named them was compacted away. The service never sees it: it
//! writes after the header and reads a view that starts past it.
//!
//! ```text
//!  0          8            12
//!  +----------+------------+-------------------------+------------------
//!  | "RKCONF1\n" | len: u32 LE | Configuration (proto) | service data…
//!  +----------+------------+-------------------------+------------------
//! ```
//!
//! A snapshot written before membership existed has no header: it is all
//! service data, and the node keeps the configuration it started with.
//! The header travels inside the data, so the persister (which stores the
//! bytes) and InstallSnapshot (which streams them) need not know of it.

use std::io;
use std::sync::{Arc, OnceLock};

use prost::Message;

use crate::membership::Configuration;
use crate::persister::{PersistError, SnapshotMeta, SnapshotSource, SnapshotWriter};
use crate::SnapshotData;

const MAGIC: &[u8; 8] = b"RKCONF1\n";
/// A configuration of thousands of members fits; more is a damaged header.
const MAX_CONFIG_BYTES: u32 = 1 << 20;

/// Writes the header for `config` as the first bytes of `writer`.
pub(crate) fn write_header(
    writer: &mut dyn SnapshotWriter,
    config: &Configuration,
) -> Result<(), PersistError> {
    let body = config.to_proto().encode_to_vec();
    let mut head = Vec::with_capacity(12 + body.len());
    head.extend_from_slice(MAGIC);
    head.extend_from_slice(&(body.len() as u32).to_le_bytes());
    head.extend_from_slice(&body);
    writer.write(&head)
}

/// Splits stored snapshot data into the configuration it records (`None`
/// for a snapshot without a header) and the service's part.
pub(crate) fn open(data: &SnapshotData) -> Result<(Option<Configuration>, SnapshotData), String> {
    let mut magic = [0u8; 12];
    if data.len() < 12 || data.read_at(0, &mut magic).is_err() || &magic[..8] != MAGIC {
        return Ok((None, data.clone()));
    }
    let len = u32::from_le_bytes([magic[8], magic[9], magic[10], magic[11]]);
    if len > MAX_CONFIG_BYTES || 12 + u64::from(len) > data.len() {
        return Err(format!(
            "snapshot configuration header of {len} bytes is damaged"
        ));
    }
    let mut body = vec![0u8; len as usize];
    data.read_at(12, &mut body)
        .map_err(|e| format!("cannot read the snapshot's configuration: {e}"))?;
    let proto = proto::raft::Configuration::decode(body.as_slice())
        .map_err(|e| format!("snapshot configuration does not decode: {e}"))?;
    let config = Configuration::from_proto(&proto)?;
    let view = SnapshotData::new(Arc::new(View {
        inner: data.clone(),
        skip: 12 + u64::from(len),
        crc: OnceLock::new(),
    }));
    Ok((Some(config), view))
}

/// The service's part of a snapshot: everything after the header.
struct View {
    inner: SnapshotData,
    skip: u64,
    /// Computed on first use by reading the data: nothing on the hot path
    /// asks a view for it (Raft streams the stored snapshot, not the view).
    crc: OnceLock<u32>,
}

impl SnapshotSource for View {
    fn meta(&self) -> SnapshotMeta {
        self.inner.meta()
    }
    fn len(&self) -> u64 {
        self.inner.len() - self.skip
    }
    fn crc(&self) -> u32 {
        *self.crc.get_or_init(|| {
            let mut hasher = crc32fast::Hasher::new();
            let mut buf = vec![0u8; 1 << 16];
            let mut at = 0;
            while at < self.len() {
                let n = (self.len() - at).min(buf.len() as u64) as usize;
                if self.read_at(at, &mut buf[..n]).is_err() {
                    break;
                }
                hasher.update(&buf[..n]);
                at += n as u64;
            }
            hasher.finalize()
        })
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.inner.read_at(self.skip + offset, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persister::BufferWriter;
    use std::time::Duration;

    #[test]
    fn header_round_trips_and_the_service_sees_only_its_bytes() {
        let meta = SnapshotMeta {
            last_included_index: 9,
            last_included_term: 2,
        };
        let config = Configuration::voters_of([(0, "a:1".to_string()), (4, "b:2".to_string())]);
        let mut w = BufferWriter::new(meta, Duration::ZERO);
        write_header(&mut w, &config).unwrap();
        w.write(b"service state").unwrap();
        let stored = SnapshotData::from_bytes(meta, w.data.clone());
        let (found, view) = open(&stored).unwrap();
        assert_eq!(found, Some(config));
        assert_eq!(view.to_vec().unwrap(), b"service state");
        assert_eq!(view.meta(), meta);
        assert_eq!(
            view,
            SnapshotData::from_bytes(meta, b"service state".to_vec())
        );
    }

    #[test]
    fn a_snapshot_without_header_is_all_service_data() {
        let stored = SnapshotData::from_bytes(SnapshotMeta::default(), b"old format".to_vec());
        let (found, view) = open(&stored).unwrap();
        assert_eq!(found, None);
        assert_eq!(view.to_vec().unwrap(), b"old format");
    }

    #[test]
    fn a_damaged_header_is_an_error() {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&1000u32.to_le_bytes());
        bytes.extend_from_slice(b"short");
        let stored = SnapshotData::from_bytes(SnapshotMeta::default(), bytes);
        assert!(open(&stored).is_err());
    }
}
