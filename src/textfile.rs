//! Where a file a person names enters halab as text (a lab file, a user's
//! config, a stored run, a template): only a regular file is opened
//! (opening a FIFO blocks until a writer comes; a device never ends), at
//! most `limit` bytes are read (the size on disk refuses a large file
//! unread, the bounded read one that grows meanwhile), and the text must
//! be UTF-8. Each caller words the errors for its own file.

use std::io::Read as _;
use std::path::Path;

#[derive(Debug)]
pub enum TextError {
    /// Not there, not readable, or not a regular file.
    Io(std::io::Error),
    /// Larger than the limit: `size` bytes at least.
    TooLarge { size: u64 },
    /// The first byte that is not UTF-8, 1-based.
    NotUtf8 { line: usize, column: usize },
}

/// The text of the regular file `path`, if it has at most `limit` bytes.
pub fn read(path: &Path, limit: u64) -> Result<String, TextError> {
    let meta = std::fs::metadata(path).map_err(TextError::Io)?;
    if !meta.is_file() {
        return Err(TextError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a folder, a FIFO or a device)",
        )));
    }
    if meta.len() > limit {
        return Err(TextError::TooLarge { size: meta.len() });
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(limit + 1).read_to_end(&mut bytes))
        .map_err(TextError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(TextError::TooLarge {
            size: bytes.len() as u64,
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        TextError::NotUtf8 {
            line: good.iter().filter(|&&b| b == b'\n').count() + 1,
            column: good.iter().rev().take_while(|&&b| b != b'\n').count() + 1,
        }
    })
}

impl TextError {
    /// As an I/O error, for a caller that has no words of its own for
    /// these cases.
    pub fn into_io(self) -> std::io::Error {
        use std::io::{Error, ErrorKind};
        match self {
            TextError::Io(e) => e,
            TextError::TooLarge { size } => Error::new(
                ErrorKind::InvalidData,
                format!("{size} bytes at least, more than halab reads of such a file"),
            ),
            TextError::NotUtf8 { line, column } => Error::new(
                ErrorKind::InvalidData,
                format!("not UTF-8 text (first bad byte at line {line}, column {column})"),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_a_folder_and_a_device_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success());
        for path in [fifo.as_path(), dir.path(), Path::new("/dev/zero")] {
            match read(path, 1024) {
                Err(TextError::Io(e)) => {
                    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{path:?}")
                }
                other => panic!("{path:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn size_and_encoding_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big");
        std::fs::File::create(&big).unwrap().set_len(1025).unwrap();
        assert!(matches!(
            read(&big, 1024),
            Err(TextError::TooLarge { size: 1025 })
        ));
        let bad = dir.path().join("bad");
        std::fs::write(&bad, b"ok\nab\xffc").unwrap();
        assert!(matches!(
            read(&bad, 1024),
            Err(TextError::NotUtf8 { line: 2, column: 3 })
        ));
        std::fs::write(&bad, "fine\n").unwrap();
        assert_eq!(read(&bad, 1024).unwrap(), "fine\n");
    }
}
