//! The harness's snapshot format: the state machine is just the applied
//! commands, so a snapshot is the last index and every command through it.
//!
//! ```text
//! +----------------+-----------------+----------------+----------+-----
//! | last index u64 | count u32       | len u32        | command  | ...
//! +----------------+-----------------+----------------+----------+-----
//! ```
//! All integers little-endian; `count` commands follow, for indexes 1..=count.

/// Encodes the commands applied at indexes 1..=`last_index`.
pub fn encode(last_index: u64, commands: &[Vec<u8>]) -> Vec<u8> {
    let body: usize = commands.iter().map(|c| 4 + c.len()).sum();
    let mut out = Vec::with_capacity(12 + body);
    out.extend_from_slice(&last_index.to_le_bytes());
    out.extend_from_slice(&(commands.len() as u32).to_le_bytes());
    for command in commands {
        out.extend_from_slice(&(command.len() as u32).to_le_bytes());
        out.extend_from_slice(command);
    }
    out
}

/// Decodes what [`encode`] wrote; a malformed snapshot is an error message.
pub fn decode(data: &[u8]) -> Result<(u64, Vec<Vec<u8>>), String> {
    let mut rest = data;
    let last_index = u64::from_le_bytes(take(&mut rest, 8)?.try_into().map_err(|_| "short")?);
    let count = u32::from_le_bytes(take(&mut rest, 4)?.try_into().map_err(|_| "short")?);
    let mut commands = Vec::new();
    for _ in 0..count {
        let len = u32::from_le_bytes(take(&mut rest, 4)?.try_into().map_err(|_| "short")?);
        commands.push(take(&mut rest, len as usize)?.to_vec());
    }
    if !rest.is_empty() {
        return Err(format!("{} trailing bytes", rest.len()));
    }
    if commands.len() as u64 != last_index {
        return Err(format!(
            "{} commands for last index {last_index}",
            commands.len()
        ));
    }
    Ok((last_index, commands))
}

fn take<'a>(rest: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
    if rest.len() < n {
        return Err(format!("needs {n} more bytes, has {}", rest.len()));
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let commands = vec![vec![1, 2], vec![], vec![9; 300]];
        let data = encode(3, &commands);
        assert_eq!(decode(&data), Ok((3, commands)));
        assert!(decode(&data[..data.len() - 1]).is_err());
        assert!(decode(&[0xff; 5]).is_err());
        assert!(decode(&encode(4, &[vec![1]])).is_err());
    }
}
