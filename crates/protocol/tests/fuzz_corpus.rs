//! Replays the fuzzing corpus and the saved crash inputs under plain `cargo test`.
//!
//! Every file in `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/` goes through all
//! the fuzz checks (`fuzz/checks.rs`, the very code the libFuzzer targets run): each check
//! must hold for any bytes, so crossing targets only adds coverage. A failing input is
//! reported by path; reproduce it with `cargo fuzz run <target> <path>` (fuzz/README.md).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../fuzz/checks.rs"]
mod checks;

use std::fs;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

type Check = fn(&[u8]);

const CHECKS: [(&str, Check); 8] = [
    ("frame_decode", checks::frame_decode),
    ("json_header", checks::json_header),
    ("binary_header", checks::binary_header),
    ("json_body", checks::json_body),
    ("stored_record", checks::stored_record),
    ("message_batch", checks::message_batch),
    ("register_body", checks::register_body),
    ("offset_msg_id", checks::offset_msg_id),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// All regular files below `dir` (recursively), sorted; none if `dir` does not exist.
fn files_under(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| !n.to_string_lossy().starts_with('.')) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Runs every check over every file; returns the failures as "check: path: message".
fn replay(files: &[PathBuf]) -> io::Result<Vec<String>> {
    let mut failures = Vec::new();
    for path in files {
        let data = fs::read(path)?;
        for (name, check) in CHECKS {
            if let Err(e) = panic::catch_unwind(AssertUnwindSafe(|| check(&data))) {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("{name}: {}: {msg}", path.display()));
            }
        }
    }
    Ok(failures)
}

#[test]
fn seed_corpus_passes_every_check() {
    let dir = fuzz_dir().join("corpus");
    let files = files_under(&dir).expect("read fuzz/corpus");
    for (target, _) in CHECKS {
        let n = files.iter().filter(|p| p.starts_with(dir.join(target))).count();
        assert!(n > 0, "no seed inputs in {}", dir.join(target).display());
    }
    let failures = replay(&files).expect("read corpus files");
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn fuzz_regressions_pass_every_check() {
    let files = files_under(&fuzz_dir().join("regressions")).expect("read fuzz/regressions");
    let failures = replay(&files).expect("read regression files");
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
}
