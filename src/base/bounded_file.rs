//! Reading a file that stackhook is pointed at (a token file a variable
//! names, a credentials file, a kubeconfig): only a regular file, and only
//! so much of it. The path comes from the environment or a spec, so it may
//! name a FIFO (a plain open would wait for a writer forever), a device
//! such as /dev/zero (a read would never end), or a directory. The file is
//! opened without blocking and checked after it is open (fstat), so a
//! path swapped in between cannot slip past the check.

use std::fmt;
use std::fs::{File, FileType};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Token files and credentials files: a JWT is a few KiB.
pub const TOKEN_CAP: u64 = 1 << 20;
/// Kubeconfigs: many clusters with their CA certificates fit easily.
pub const KUBECONFIG_CAP: u64 = 16 << 20;

/// Why a file was not read.
#[derive(Debug)]
pub enum Refused {
    /// Not a regular file: what it is instead.
    NotRegular(&'static str),
    /// Larger than the cap (in bytes).
    TooLarge(u64),
    NotUtf8,
    Io(std::io::Error),
}

impl Refused {
    /// Whether the file is simply not there.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Refused::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::NotRegular(kind) => write!(f, "it is {kind}, not a regular file"),
            Refused::TooLarge(cap) => write!(f, "it is larger than {}", size(*cap)),
            Refused::NotUtf8 => f.write_str("it is not UTF-8 text"),
            Refused::Io(e) => write!(f, "{e}"),
        }
    }
}

fn size(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

fn kind(t: FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

/// The bytes of the regular file at `path`, at most `cap` of them.
pub fn read(path: &Path, cap: u64) -> Result<Vec<u8>, Refused> {
    // O_NONBLOCK: opening a FIFO returns at once instead of waiting for a
    // writer; O_NOCTTY: a terminal never becomes the controlling one.
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(Refused::Io)?;
    let meta = file.metadata().map_err(Refused::Io)?;
    if !meta.file_type().is_file() {
        return Err(Refused::NotRegular(kind(meta.file_type())));
    }
    if meta.len() > cap {
        return Err(Refused::TooLarge(cap));
    }
    read_capped(&mut file, cap)
}

/// Reads at most `cap` bytes: a file that grows while it is read is cut
/// off, not followed.
fn read_capped(file: &mut File, cap: u64) -> Result<Vec<u8>, Refused> {
    let mut out = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut out)
        .map_err(Refused::Io)?;
    if out.len() as u64 > cap {
        return Err(Refused::TooLarge(cap));
    }
    Ok(out)
}

/// The text of the regular file at `path`, at most `cap` bytes.
pub fn read_to_string(path: &Path, cap: u64) -> Result<String, Refused> {
    String::from_utf8(read(path, cap)?).map_err(|_| Refused::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn only_regular_files_within_the_cap_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "abc\n").unwrap();
        assert_eq!(read_to_string(&file, 4).unwrap(), "abc\n");
        let e = read(&file, 3).unwrap_err();
        assert_eq!(e.to_string(), "it is larger than 3 bytes");

        let fifo = dir.path().join("fifo");
        let c = CString::new(fifo.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read(&fifo, TOKEN_CAP).unwrap_err();
        assert_eq!(e.to_string(), "it is a FIFO, not a regular file");

        let e = read(Path::new("/dev/zero"), TOKEN_CAP).unwrap_err();
        assert_eq!(
            e.to_string(),
            "it is a character device, not a regular file"
        );
        let e = read(dir.path(), TOKEN_CAP).unwrap_err();
        assert_eq!(e.to_string(), "it is a directory, not a regular file");

        let link = dir.path().join("link");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        assert!(matches!(
            read(&link, TOKEN_CAP),
            Err(Refused::NotRegular(_))
        ));
        assert!(
            read(&dir.path().join("nope"), 1)
                .unwrap_err()
                .is_not_found()
        );

        std::fs::write(&file, [0xff, 0xfe]).unwrap();
        assert!(matches!(read_to_string(&file, 4), Err(Refused::NotUtf8)));
        assert_eq!(size(KUBECONFIG_CAP), "16 MiB");
    }
}
