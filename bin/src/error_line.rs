//! One readable line for an error and its causes.
//!
//! Our library errors already name their cause in their own message (so
//! they read well alone), and anyhow's `{:#}` would repeat it; this keeps
//! each cause once.

/// `context: error: cause`, skipping causes the line already says.
pub fn error_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::error_line;

    #[test]
    fn each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let inner = anyhow::Error::new(io).context("cannot read x.conf: No such file");
        let outer = inner.context("cannot start");
        assert_eq!(
            error_line(&outer),
            "cannot start: cannot read x.conf: No such file"
        );
    }
}
