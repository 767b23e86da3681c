//! Atomic, durable file writes: every file `nnc` writes goes through [`write`], so an
//! interrupted or failed write never leaves a half-written file at the destination.

use std::io::{self, Write};
use std::path::Path;

/// Checks that [`write`] could create `path` (its folder exists and takes a new file),
/// without touching `path` itself: lets a long run fail before it starts, not after.
pub fn check_writable(path: &Path) -> io::Result<()> {
    if path.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "the path is a folder",
        ));
    }
    let dir = folder_of(path);
    create_folder(dir)?;
    tempfile::NamedTempFile::new_in(dir).map(drop).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("the folder {} does not take new files", dir.display()),
        )
    })
}

/// Creates `dir` and the folders above it that are missing, as `cargo` does its target
/// folder; an error names the folder that could not be made (say, because a file has
/// its name).
pub fn create_folder(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("the folder {} cannot be created: {e}", dir.display()),
        )
    })
}

fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder: write, fsync,
/// rename over `path`, fsync the folder. Either the old file or the whole new one is
/// there afterwards, never a mix.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = temp_beside(path)?;
    file.write_all(bytes)?;
    persist(file, path)
}

/// A temporary file in `path`'s folder (so the final rename stays on one file system), to
/// be filled by the caller (e.g. streamed) and then [`persist`]ed. Dropped unpersisted, it
/// is removed and `path` is untouched.
pub fn temp_beside(path: &Path) -> io::Result<tempfile::NamedTempFile> {
    if path.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "the path is a folder",
        ));
    }
    create_folder(folder_of(path))?;
    let file = tempfile::Builder::new()
        .prefix(&temp_prefix(path))
        .suffix(".tmp")
        .tempfile_in(folder_of(path))?;
    // The temporary file is private (0600); the result should be as readable as any
    // file the user makes: keep the old file's mode, or rw-r--r--.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_or(0o644, |m| m.permissions().mode());
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    Ok(file)
}

/// The start of the names of `path`'s temporary files: `.NAME.`, so that one left behind by
/// a killed process says whose it was, and [`remove_leftovers`] finds it.
fn temp_prefix(path: &Path) -> String {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    format!(".{name}.")
}

/// Removes the temporary files of `path` that a killed process left in its folder (a
/// `kill -9` mid-write leaves one; the destination itself is whole either way). Returns
/// how many there were.
pub fn remove_leftovers(path: &Path) -> io::Result<usize> {
    let prefix = temp_prefix(path);
    let mut removed = 0;
    for entry in std::fs::read_dir(folder_of(path))? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&prefix) && name.ends_with(".tmp") {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Syncs `file`, renames it over `path` and syncs the folder, so the rename is durable.
pub fn persist(file: tempfile::NamedTempFile, path: &Path) -> io::Result<()> {
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    std::fs::File::open(folder_of(path))?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_whole_file_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        write(&path, b"first version, longer").unwrap();
        write(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(
                mode, 0o644,
                "written files are readable by others, as the user's own"
            );
        }
    }

    #[test]
    fn a_temporary_file_left_behind_is_named_after_its_destination_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoint.bin");
        let other = dir.path().join("other.bin");
        // Left behind as a killed process leaves them: never persisted, never dropped.
        std::mem::forget(temp_beside(&path).unwrap().into_temp_path());
        std::mem::forget(temp_beside(&other).unwrap().into_temp_path());
        write(&path, b"whole").unwrap();
        let names = || -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        assert_eq!(names().len(), 3, "{:?}", names());
        assert!(
            names()
                .iter()
                .any(|n| n.starts_with(".checkpoint.bin.") && n.ends_with(".tmp"))
        );
        assert_eq!(remove_leftovers(&path).unwrap(), 1);
        let left = names();
        assert_eq!(left.len(), 2, "{left:?}");
        assert!(left.contains(&"checkpoint.bin".to_owned()));
        assert!(
            left.iter().any(|n| n.starts_with(".other.bin.")),
            "{left:?}"
        );
    }

    #[test]
    fn a_missing_folder_is_created_and_one_that_cannot_be_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no/such/folder/out.bin");
        write(&path, b"x").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"x");
        let file = dir.path().join("a_file");
        write(&file, b"not a folder").unwrap();
        let err = write(&file.join("out.bin"), b"x").unwrap_err();
        assert!(err.to_string().contains("cannot be created"), "{err}");
    }
}
