//! The frame codec: how calls and replies are laid out on the TCP stream.
//!
//! ```text
//! request
//! +------------------+----------------------------+-----------------------+
//! | varint32 hlen    | RpcHeader (hlen bytes)     | args (args_size bytes)|
//! +------------------+----------------------------+-----------------------+
//!   1..=5 bytes        hlen <= max_frame_bytes      args_size <= max_frame_bytes
//!
//! response
//! +------------------+----------------------------+-----------------------+
//! | varint32 hlen    | RpcResponseHeader          | body (body_size bytes)|
//! +------------------+----------------------------+-----------------------+
//!   1..=5 bytes        hlen <= max_frame_bytes      body_size <= max_frame_bytes
//! ```
//!
//! `max_frame_bytes` defaults to [`DEFAULT_MAX_FRAME_BYTES`] (64 MiB). The
//! decoders are incremental: given the bytes received so far they return
//! `Ok(None)` when a frame is not complete yet, the frame and the number of
//! bytes it used when it is, and an error when the bytes cannot be the start
//! of a valid frame (the connection is then beyond repair and is closed).

use prost::Message;

use crate::{FrameError, Outcome, RpcHeader, RpcResponseHeader, RpcStatus};

/// The default cap on a header's declared length and on a body's size.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 64 << 20;

/// The longest encoding of a varint32.
const MAX_VARINT32_BYTES: usize = 5;

/// One decoded call.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestFrame {
    pub header: RpcHeader,
    pub args: Vec<u8>,
}

/// One decoded reply.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseFrame {
    pub header: RpcResponseHeader,
    pub body: Vec<u8>,
}

/// Decodes the request at the start of `buf`: `Ok(Some((frame, used)))`,
/// `Ok(None)` if more bytes are needed, or the reason it is malformed.
pub fn decode_request(
    buf: &[u8],
    max_frame_bytes: usize,
) -> Result<Option<(RequestFrame, usize)>, FrameError> {
    let decoded = decode_frame::<RpcHeader>(buf, max_frame_bytes, |h| h.args_size)?;
    Ok(decoded.map(|(header, args, used)| (RequestFrame { header, args }, used)))
}

/// Decodes the response at the start of `buf`, like [`decode_request`].
pub fn decode_response(
    buf: &[u8],
    max_frame_bytes: usize,
) -> Result<Option<(ResponseFrame, usize)>, FrameError> {
    let decoded = decode_frame::<RpcResponseHeader>(buf, max_frame_bytes, |h| h.body_size)?;
    Ok(decoded.map(|(header, body, used)| (ResponseFrame { header, body }, used)))
}

fn decode_frame<H: Message + Default>(
    buf: &[u8],
    max_frame_bytes: usize,
    body_size: impl Fn(&H) -> u32,
) -> Result<Option<(H, Vec<u8>, usize)>, FrameError> {
    let Some((header_len, prefix)) = read_varint32(buf)? else {
        return Ok(None);
    };
    let header_len = header_len as usize;
    if header_len > max_frame_bytes {
        return Err(FrameError::HeaderTooLarge {
            len: header_len,
            max: max_frame_bytes,
        });
    }
    let header_end = prefix + header_len;
    if buf.len() < header_end {
        return Ok(None);
    }
    let header =
        H::decode(&buf[prefix..header_end]).map_err(|e| FrameError::BadHeader(e.to_string()))?;
    let body_len = body_size(&header) as usize;
    if body_len > max_frame_bytes {
        return Err(FrameError::BodyTooLarge {
            len: body_len,
            max: max_frame_bytes,
        });
    }
    let end = header_end + body_len;
    if buf.len() < end {
        return Ok(None);
    }
    Ok(Some((header, buf[header_end..end].to_vec(), end)))
}

/// Reads a protobuf varint32: `Ok(None)` if `buf` ends inside it.
fn read_varint32(buf: &[u8]) -> Result<Option<(u32, usize)>, FrameError> {
    let mut value: u64 = 0;
    for (i, &byte) in buf.iter().take(MAX_VARINT32_BYTES).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            let value = u32::try_from(value).map_err(|_| FrameError::BadVarint)?;
            return Ok(Some((value, i + 1)));
        }
    }
    if buf.len() >= MAX_VARINT32_BYTES {
        Err(FrameError::BadVarint)
    } else {
        Ok(None)
    }
}

/// Appends one request frame to `out`.
///
/// The header is written field by field, exactly as prost would encode an
/// [`RpcHeader`], so the hot path builds no temporary header with owned names.
pub fn encode_request(out: &mut Vec<u8>, service: &[u8], method: &[u8], call_id: u64, args: &[u8]) {
    let args_size = len_u32(args.len());
    let header_len = bytes_field_len(1, service)
        + bytes_field_len(2, method)
        + varint_field_len(3, u64::from(args_size))
        + varint_field_len(4, call_id);
    out.reserve(MAX_VARINT32_BYTES + header_len + args.len());
    put_varint(out, header_len as u64);
    put_bytes_field(out, 1, service);
    put_bytes_field(out, 2, method);
    put_varint_field(out, 3, u64::from(args_size));
    put_varint_field(out, 4, call_id);
    out.extend_from_slice(args);
}

/// Appends one response frame carrying `outcome` to `out`.
pub fn encode_response(out: &mut Vec<u8>, call_id: u64, outcome: &Outcome) {
    let (status, error, body): (RpcStatus, &[u8], &[u8]) = match outcome {
        Ok(body) => (RpcStatus::Ok, &[], body),
        Err((status, message)) => (*status, message.as_bytes(), &[]),
    };
    let body_size = len_u32(body.len());
    let status = status as i32 as u64;
    let header_len = varint_field_len(1, call_id)
        + varint_field_len(2, status)
        + bytes_field_len(3, error)
        + varint_field_len(4, u64::from(body_size));
    out.reserve(MAX_VARINT32_BYTES + header_len + body.len());
    put_varint(out, header_len as u64);
    put_varint_field(out, 1, call_id);
    put_varint_field(out, 2, status);
    put_bytes_field(out, 3, error);
    put_varint_field(out, 4, u64::from(body_size));
    out.extend_from_slice(body);
}

/// Sizes on the wire are u32; a larger buffer is a caller bug the decoder's
/// limit would reject anyway, so it is clamped rather than allowed to wrap.
fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

// Proto3 leaves out fields holding their default value; so do we, to produce
// the same bytes as prost.
const WIRE_VARINT: u64 = 0;
const WIRE_LEN: u64 = 2;

fn varint_len(mut value: u64) -> usize {
    let mut len = 1;
    while value >= 0x80 {
        value >>= 7;
        len += 1;
    }
    len
}

fn varint_field_len(tag: u64, value: u64) -> usize {
    if value == 0 {
        0
    } else {
        varint_len(tag << 3) + varint_len(value)
    }
}

fn bytes_field_len(tag: u64, bytes: &[u8]) -> usize {
    if bytes.is_empty() {
        0
    } else {
        varint_len(tag << 3) + varint_len(bytes.len() as u64) + bytes.len()
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_varint_field(out: &mut Vec<u8>, tag: u64, value: u64) {
    if value != 0 {
        put_varint(out, (tag << 3) | WIRE_VARINT);
        put_varint(out, value);
    }
}

fn put_bytes_field(out: &mut Vec<u8>, tag: u64, bytes: &[u8]) {
    if !bytes.is_empty() {
        put_varint(out, (tag << 3) | WIRE_LEN);
        put_varint(out, bytes.len() as u64);
        out.extend_from_slice(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_header_matches_prost() {
        let mut ours = Vec::new();
        encode_request(&mut ours, b"kvServerRpc", b"Get", 300, b"xyz");
        let header = RpcHeader {
            service_name: b"kvServerRpc".to_vec(),
            method_name: b"Get".to_vec(),
            args_size: 3,
            call_id: 300,
        };
        let mut theirs = Vec::new();
        header.encode_length_delimited(&mut theirs).unwrap();
        theirs.extend_from_slice(b"xyz");
        assert_eq!(ours, theirs);
    }

    #[test]
    fn response_header_matches_prost() {
        let mut ours = Vec::new();
        encode_response(
            &mut ours,
            7,
            &Err((RpcStatus::UnknownMethod, "no such method".into())),
        );
        let header = RpcResponseHeader {
            call_id: 7,
            status: RpcStatus::UnknownMethod as i32,
            error: b"no such method".to_vec(),
            body_size: 0,
        };
        assert_eq!(ours, header.encode_length_delimited_to_vec());
    }

    #[test]
    fn varint_edges() {
        assert_eq!(read_varint32(&[]).unwrap(), None);
        assert_eq!(read_varint32(&[0x80, 0x80]).unwrap(), None);
        assert_eq!(read_varint32(&[0x05]).unwrap(), Some((5, 1)));
        assert_eq!(
            read_varint32(&[0xff, 0xff, 0xff, 0xff, 0x0f]).unwrap(),
            Some((u32::MAX, 5))
        );
        assert!(read_varint32(&[0xff, 0xff, 0xff, 0xff, 0x1f]).is_err());
        assert!(read_varint32(&[0x80; 5]).is_err());
    }

    #[test]
    fn limits_are_checked_before_waiting_for_bytes() {
        // A declared header length over the limit fails at once, without
        // waiting for the (never coming) 1000 bytes.
        let mut buf = Vec::new();
        put_varint(&mut buf, 1000);
        assert!(matches!(
            decode_request(&buf, 999),
            Err(FrameError::HeaderTooLarge {
                len: 1000,
                max: 999
            })
        ));
        let mut buf = Vec::new();
        encode_request(&mut buf, b"s", b"m", 1, &[0; 100]);
        assert!(matches!(
            decode_request(&buf[..20], 99),
            Err(FrameError::BodyTooLarge { len: 100, max: 99 })
        ));
    }
}
