//! A script's text, read within limits from the first byte: only a regular
//! file (never a FIFO that blocks, nor `/dev/zero` that never ends), at
//! most the size budget the scenario and its modules share, UTF-8 (a
//! leading byte-order mark is dropped, as editors on Windows write one).

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::load::{LoadError, ScriptError};
use super::model::Origin;

/// The default size limit of a scenario and its modules together.
pub const DEFAULT_MAX_SCRIPT_SIZE: u64 = 4 << 20;

/// Bytes the scenario and its modules may still read.
#[derive(Debug, Clone)]
pub struct SizeBudget {
    limit: u64,
    left: Arc<AtomicU64>,
}

impl SizeBudget {
    pub fn new(limit: u64) -> SizeBudget {
        SizeBudget {
            limit,
            left: Arc::new(AtomicU64::new(limit)),
        }
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }
}

/// Why a script's bytes could not be had.
#[derive(Debug)]
pub enum SourceError {
    Io(std::io::Error),
    /// Not a regular file: what it is.
    NotAFile(&'static str),
    /// Past the budget: the limit, and whether modules share it.
    TooLarge(u64),
    NotUtf8(std::string::FromUtf8Error),
}

/// Read the file at `path` within `budget`, as text.
pub fn read(path: &Path, budget: &SizeBudget) -> Result<String, SourceError> {
    // Refuse what is not a regular file before opening it: opening a FIFO
    // waits for a writer.
    let kind = std::fs::metadata(path).map_err(SourceError::Io)?;
    check_kind(&kind)?;
    let file = std::fs::File::open(path).map_err(SourceError::Io)?;
    check_kind(&file.metadata().map_err(SourceError::Io)?)?;
    let left = budget.left.load(Ordering::Relaxed);
    let mut bytes = Vec::with_capacity(kind.len().min(left) as usize);
    file.take(left + 1)
        .read_to_end(&mut bytes)
        .map_err(SourceError::Io)?;
    let read = bytes.len() as u64;
    if read > left {
        budget.left.store(0, Ordering::Relaxed);
        return Err(SourceError::TooLarge(budget.limit));
    }
    budget.left.fetch_sub(read, Ordering::Relaxed);
    let mut text = String::from_utf8(bytes).map_err(SourceError::NotUtf8)?;
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    Ok(text)
}

fn check_kind(meta: &std::fs::Metadata) -> Result<(), SourceError> {
    let kind = meta.file_type();
    if kind.is_file() {
        return Ok(());
    }
    let what = if kind.is_dir() {
        "a directory"
    } else {
        unix_kind(&kind).unwrap_or("not a regular file")
    };
    Err(SourceError::NotAFile(what))
}

#[cfg(unix)]
fn unix_kind(kind: &std::fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    Some(if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        return None;
    })
}

#[cfg(not(unix))]
fn unix_kind(_: &std::fs::FileType) -> Option<&'static str> {
    None
}

impl SourceError {
    /// The words for a script (or module) named `shown`.
    pub fn describe(&self, shown: &str) -> String {
        match self {
            SourceError::Io(e) => format!("cannot read {shown}: {e}"),
            SourceError::NotAFile(what) => {
                format!("{shown} is {what}, not a regular file: a scenario is a .rhai file")
            }
            SourceError::TooLarge(limit) => format!(
                "{shown} goes past the script size limit of {}: the scenario and its modules \
                 together may hold that much (raise it with --max-script-size or \
                 [scenario] max_script_size in tracelab.toml)",
                bytesize::ByteSize::b(*limit).display().iec()
            ),
            SourceError::NotUtf8(e) => format!("{shown} is not UTF-8 text ({e})"),
        }
    }

    /// As a load error of the scenario at `path`: an I/O failure as such,
    /// the rest as script errors (exit 2) with their place when known.
    pub fn into_load_error(self, path: &Path) -> LoadError {
        match self {
            SourceError::Io(source) => LoadError::Read {
                path: path.to_path_buf(),
                source,
            },
            SourceError::NotUtf8(e) => LoadError::Script(not_utf8(path, &e)),
            other => LoadError::Script(ScriptError {
                file: path.to_path_buf(),
                origin: Origin::default(),
                message: other.describe("the file"),
            }),
        }
    }
}

/// Where a file stops being UTF-8 text, as `file:line:col`.
fn not_utf8(path: &Path, err: &std::string::FromUtf8Error) -> ScriptError {
    let bytes = err.as_bytes();
    let valid = &bytes[..err.utf8_error().valid_up_to()];
    let line_start = valid.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let column = std::str::from_utf8(&valid[line_start..]).map_or(1, |s| s.chars().count() + 1);
    let byte = bytes[valid.len()];
    ScriptError {
        file: path.to_path_buf(),
        origin: Origin {
            line: valid.iter().filter(|b| **b == b'\n').count() + 1,
            column,
            module: None,
        },
        message: format!("byte 0x{byte:02x} is not UTF-8: a scenario is UTF-8 text"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.rhai");
        std::fs::write(&path, bytes).unwrap();
        (dir, path)
    }

    #[test]
    fn a_leading_byte_order_mark_is_dropped() {
        let (_d, path) = write(b"\xef\xbb\xbflet x = 1;");
        let text = read(&path, &SizeBudget::new(100)).unwrap();
        assert_eq!(text, "let x = 1;");
    }

    #[test]
    fn the_scenario_and_its_modules_share_one_size_budget() {
        let (_d, path) = write(&[b' '; 60]);
        let budget = SizeBudget::new(100);
        assert!(read(&path, &budget).is_ok());
        let err = read(&path, &budget).unwrap_err();
        assert!(matches!(err, SourceError::TooLarge(100)), "{err:?}");
        assert!(
            err.describe("lib.rhai")
                .starts_with("lib.rhai goes past the script size limit of 100 B"),
            "{}",
            err.describe("lib.rhai")
        );
    }

    #[cfg(unix)]
    #[test]
    fn devices_fifos_and_folders_are_refused_without_reading_them() {
        let budget = SizeBudget::new(100);
        let err = read(Path::new("/dev/zero"), &budget).unwrap_err();
        assert_eq!(
            err.describe("/dev/zero"),
            "/dev/zero is a character device, not a regular file: a scenario is a .rhai file"
        );
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.rhai");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // Opening it would wait for a writer forever.
        let err = read(&fifo, &budget).unwrap_err();
        assert!(matches!(err, SourceError::NotAFile("a FIFO (named pipe)")));
        let err = read(dir.path(), &budget).unwrap_err();
        assert!(matches!(err, SourceError::NotAFile("a directory")));
    }
}
