//! Writing output files safely: never over an input, never half-written.
//!
//! Every writer of landopp creates its file through [`AtomicFile`]: the bytes go to a temporary
//! file in the target's folder, which is renamed over the target only when the whole output is
//! written ([`AtomicFile::commit`]); on an error (or a panic) the temporary file is removed and an
//! existing file under the target name is left as it was. [`ensure_distinct`] refuses an output
//! that is one of the inputs (the same file, also through a symbolic or hard link), which would
//! otherwise be truncated while it is read.

use crate::error::{Error, Result};
use std::fs::File;
use std::path::{Path, PathBuf};

/// Refuse `output` when it is the same file as one of `inputs` (compared by device and inode on
/// Unix, by canonical path elsewhere; paths that do not exist yet cannot be inputs).
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let dem = dir.path().join("dem.tif");
/// std::fs::write(&dem, b"cells")?;
/// let e = landopp::output::ensure_distinct(&dem, &[&dem]).unwrap_err();
/// assert_eq!(e.code(), "INVALID_INPUT");
/// landopp::output::ensure_distinct(&dir.path().join("slope.tif"), &[&dem])?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn ensure_distinct(output: &Path, inputs: &[&Path]) -> Result<()> {
    for input in inputs {
        if same_file(output, input) {
            return Err(Error::InvalidInput(format!(
                "output {} is the input {}: writing it would destroy the input; choose another output path",
                output.display(),
                input.display()
            )));
        }
    }
    Ok(())
}

#[cfg(unix)]
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// A file written under a temporary name beside its target and renamed into place by
/// [`commit`](Self::commit); dropped without a commit, it removes the temporary file.
///
/// A target that is a symbolic link is written through (the link's destination is replaced,
/// not the link); a target that exists and is not a regular file (`/dev/null`, a FIFO) is
/// refused: renaming over it would replace a device with a regular file.
#[derive(Debug)]
pub struct AtomicFile {
    target: PathBuf,
    tmp: PathBuf,
    file: Option<File>,
}

impl AtomicFile {
    /// Create the temporary file for `target` (in the same folder, so the rename is atomic).
    pub fn create(target: impl AsRef<Path>) -> Result<Self> {
        let mut target = target.as_ref().to_path_buf();
        if let Ok(m) = std::fs::symlink_metadata(&target) {
            if m.file_type().is_symlink() {
                // write through the link: the file it points at is the output
                target = std::fs::canonicalize(&target).unwrap_or(target);
            }
        }
        if let Ok(m) = std::fs::metadata(&target) {
            if !m.is_file() {
                return Err(Error::InvalidInput(format!(
                    "output {} exists and is not a regular file (a directory, device or pipe): choose a file path",
                    target.display()
                )));
            }
        }
        let name = target
            .file_name()
            .ok_or_else(|| Error::InvalidInput(format!("output path {} does not name a file", target.display())))?;
        let dir = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = dir.join(format!(".{}.{}-{seq}.landopp-tmp", name.to_string_lossy(), std::process::id()));
        let file =
            std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp).map_err(|e| Error::io(&tmp, e))?;
        Ok(AtomicFile { target, tmp, file: Some(file) })
    }

    /// The temporary file's path (for writers that open the file themselves, e.g. SQLite).
    pub fn tmp_path(&self) -> &Path {
        &self.tmp
    }

    /// The open temporary file (an error once [`take_file`](Self::take_file) took it).
    pub fn file(&mut self) -> Result<&mut File> {
        let tmp = &self.tmp;
        self.file.as_mut().ok_or_else(|| Error::io(tmp, std::io::Error::other("the file was handed to a writer")))
    }

    /// Take the open file out (to hand it to a writer thread); [`commit`](Self::commit) still
    /// renames the temporary file.
    pub fn take_file(&mut self) -> Option<File> {
        self.file.take()
    }

    /// Flush the file to disk and rename it over the target.
    pub fn commit(mut self) -> Result<()> {
        if let Some(f) = self.file.take() {
            f.sync_all().map_err(|e| Error::io(&self.tmp, e))?;
        }
        std::fs::rename(&self.tmp, &self.target).map_err(|e| Error::io(&self.target, e))?;
        self.tmp = PathBuf::new();
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            self.file.take();
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Write `bytes` to `target` through an [`AtomicFile`].
pub fn write_atomic(target: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = AtomicFile::create(&target)?;
    let tmp = f.tmp_path().to_path_buf();
    f.file()?.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
    f.commit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn uncommitted_output_leaves_the_old_file_and_no_temporary() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out.csv");
        std::fs::write(&p, "old").unwrap();
        {
            let mut f = AtomicFile::create(&p).unwrap();
            f.file().unwrap().write_all(b"half").unwrap();
            // dropped: an error happened before commit
        }
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "old");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
        write_atomic(&p, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn links_to_the_input_are_the_input() {
        let d = tempfile::tempdir().unwrap();
        let input = d.path().join("dem.tif");
        std::fs::write(&input, "x").unwrap();
        let sym = d.path().join("sym.tif");
        std::os::unix::fs::symlink(&input, &sym).unwrap();
        let hard = d.path().join("hard.tif");
        std::fs::hard_link(&input, &hard).unwrap();
        let dotted = d.path().join(".").join("dem.tif");
        for out in [&sym, &hard, &dotted] {
            assert_eq!(ensure_distinct(out, &[&input]).unwrap_err().code(), "INVALID_INPUT");
        }
        assert!(ensure_distinct(&d.path().join("new.tif"), &[&input]).is_ok());
        // a symbolic link is written through: the link stays, its target gets the bytes
        write_atomic(&sym, b"through").unwrap();
        assert!(std::fs::symlink_metadata(&sym).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&input).unwrap(), "through");
        // a device is never replaced by a regular file
        let e = write_atomic("/dev/null", b"x").unwrap_err();
        assert_eq!(e.code(), "INVALID_INPUT");
        assert!(!std::fs::metadata("/dev/null").unwrap().is_file());
        assert_eq!(write_atomic(d.path(), b"x").unwrap_err().code(), "INVALID_INPUT");
    }
}
