//! The frame codec: whatever way the bytes are split, decoding gives back
//! exactly the frames encoded; malformed bytes are errors, never panics.

use proptest::prelude::*;
use rpc::frame::{self, RequestFrame, ResponseFrame};
use rpc::{FrameError, RpcHeader, RpcStatus};

const MAX: usize = frame::DEFAULT_MAX_FRAME_BYTES;

#[derive(Debug, Clone)]
struct Call {
    service: Vec<u8>,
    method: Vec<u8>,
    call_id: u64,
    args: Vec<u8>,
}

fn call() -> impl Strategy<Value = Call> {
    (
        proptest::collection::vec(any::<u8>(), 0..20),
        proptest::collection::vec(any::<u8>(), 0..20),
        any::<u64>(),
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(service, method, call_id, args)| Call {
            service,
            method,
            call_id,
            args,
        })
}

fn status() -> impl Strategy<Value = RpcStatus> {
    prop_oneof![
        Just(RpcStatus::Ok),
        Just(RpcStatus::UnknownService),
        Just(RpcStatus::UnknownMethod),
        Just(RpcStatus::BadRequest),
        Just(RpcStatus::HandlerFailed),
        Just(RpcStatus::ShuttingDown),
    ]
}

/// Feeds `bytes` to a decoder in the given chunk sizes, collecting frames.
fn decode_in_chunks<F>(
    bytes: &[u8],
    chunks: &[usize],
    decode: impl Fn(&[u8]) -> Result<Option<(F, usize)>, FrameError>,
) -> Vec<F> {
    let mut buf = Vec::new();
    let mut frames = Vec::new();
    let mut fed = 0;
    let mut sizes = chunks.iter().copied().cycle();
    while fed < bytes.len() {
        let n = sizes.next().unwrap_or(1).max(1).min(bytes.len() - fed);
        buf.extend_from_slice(&bytes[fed..fed + n]);
        fed += n;
        while let Some((frame, used)) = decode(&buf).expect("valid bytes decode") {
            frames.push(frame);
            buf.drain(..used);
        }
    }
    assert!(buf.is_empty(), "bytes left over after the last frame");
    frames
}

proptest! {
    #[test]
    fn requests_survive_any_split(calls in proptest::collection::vec(call(), 1..8),
                                  chunks in proptest::collection::vec(1usize..64, 1..16)) {
        let mut bytes = Vec::new();
        for c in &calls {
            frame::encode_request(&mut bytes, &c.service, &c.method, c.call_id, &c.args);
        }
        let expected: Vec<RequestFrame> = calls.iter().map(|c| RequestFrame {
            header: RpcHeader {
                service_name: c.service.clone(),
                method_name: c.method.clone(),
                args_size: c.args.len() as u32,
                call_id: c.call_id,
            },
            args: c.args.clone(),
        }).collect();
        let decode = |b: &[u8]| frame::decode_request(b, MAX);
        prop_assert_eq!(&decode_in_chunks(&bytes, &[1], decode), &expected);
        prop_assert_eq!(&decode_in_chunks(&bytes, &chunks, decode), &expected);
        prop_assert_eq!(&decode_in_chunks(&bytes, &[bytes.len()], decode), &expected);
    }

    #[test]
    fn responses_survive_any_split(replies in proptest::collection::vec(
                                       (any::<u64>(), status(), ".{0,20}",
                                        proptest::collection::vec(any::<u8>(), 0..300)), 1..8),
                                   chunks in proptest::collection::vec(1usize..64, 1..16)) {
        let mut bytes = Vec::new();
        let mut expected = Vec::new();
        for (call_id, status, message, body) in replies {
            let outcome = if status == RpcStatus::Ok { Ok(body.clone()) } else { Err((status, message.clone())) };
            frame::encode_response(&mut bytes, call_id, &outcome);
            let (error, body) = match outcome {
                Ok(body) => (Vec::new(), body),
                Err((_, message)) => (message.into_bytes(), Vec::new()),
            };
            expected.push(ResponseFrame {
                header: rpc::RpcResponseHeader {
                    call_id,
                    status: status as i32,
                    error,
                    body_size: body.len() as u32,
                },
                body,
            });
        }
        let decode = |b: &[u8]| frame::decode_response(b, MAX);
        prop_assert_eq!(&decode_in_chunks(&bytes, &[1], decode), &expected);
        prop_assert_eq!(&decode_in_chunks(&bytes, &chunks, decode), &expected);
    }

    /// Arbitrary bytes: some result, never a panic; and a frame decoded from
    /// them never claims more bytes than it was given.
    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200), max in 0usize..256) {
        if let Ok(Some((_, used))) = frame::decode_request(&bytes, max) {
            prop_assert!(used <= bytes.len());
        }
        if let Ok(Some((_, used))) = frame::decode_response(&bytes, max) {
            prop_assert!(used <= bytes.len());
        }
    }
}

#[test]
fn malformed_inputs_are_errors() {
    // Six continuation bytes: not a varint32.
    assert_eq!(
        frame::decode_request(&[0xff; 6], MAX),
        Err(FrameError::BadVarint)
    );
    // A header length over the limit.
    assert!(matches!(
        frame::decode_request(&[0xff, 0xff, 0x7f], 1024),
        Err(FrameError::HeaderTooLarge { .. })
    ));
    // A header that is not protobuf: field 0 is invalid.
    assert!(matches!(
        frame::decode_request(&[2, 0x00, 0x00], MAX),
        Err(FrameError::BadHeader(_))
    ));
    // args_size over the limit.
    let mut bytes = Vec::new();
    frame::encode_request(&mut bytes, b"s", b"m", 1, &[7; 64]);
    assert!(matches!(
        frame::decode_request(&bytes, 63),
        Err(FrameError::BodyTooLarge { len: 64, max: 63 })
    ));
    // Every strict prefix of a valid frame needs more bytes.
    for end in 0..bytes.len() {
        assert_eq!(frame::decode_request(&bytes[..end], MAX), Ok(None));
    }
}
