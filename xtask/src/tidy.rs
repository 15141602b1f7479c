//! Tidy checks, run by `cargo test -p xtask`: invariants of the workspace that no compiler
//! checks — module docs everywhere, backend wiring complete, publish metadata present, the
//! contract document in step with the error kinds (rust-analyzer's "tidy" idea).

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use crate::backends::BACKENDS;
    use crate::util::root;

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n == "target") {
                    continue;
                }
                rust_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    fn read(p: &Path) -> String {
        std::fs::read_to_string(p).unwrap_or_default()
    }

    #[test]
    fn every_rust_file_starts_with_module_docs() {
        let mut files = Vec::new();
        for dir in ["crates", "xtask", "tests"] {
            rust_files(&root().join(dir), &mut files);
        }
        assert!(files.len() > 20, "found only {} files", files.len());
        let missing: Vec<_> = files
            .iter()
            .filter(|f| {
                let text = read(f);
                let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                !(first.starts_with("//!") || first.starts_with("#![doc"))
            })
            .collect();
        assert!(
            missing.is_empty(),
            "files without a leading //! module doc: {missing:?}"
        );
    }

    #[test]
    fn no_debug_leftovers() {
        let mut files = Vec::new();
        rust_files(&root().join("crates"), &mut files);
        for f in files {
            let text = read(&f);
            for bad in ["dbg!(", "todo!(", "unimplemented!("] {
                assert!(!text.contains(bad), "{} contains {bad}", f.display());
            }
        }
    }

    #[test]
    fn every_backend_is_wired_everywhere() {
        let facade_toml = read(&root().join("crates/vector-tier/Cargo.toml"));
        let facade_lib = read(&root().join("crates/vector-tier/src/lib.rs"));
        for b in BACKENDS.iter().filter(|b| b.exists()) {
            let dir = root().join("crates").join(b.package);
            let conformance = read(&dir.join("tests/conformance.rs"));
            let own = b.package.replace('-', "_");
            assert!(
                conformance.contains(&format!("{own}::")),
                "{}: tests/conformance.rs must run the suite against its own backend type",
                b.package
            );
            assert!(
                facade_toml.contains(&format!("{} = [\"dep:{}\"", b.name, b.package)),
                "facade feature for {}",
                b.name
            );
            assert!(
                facade_lib.contains(&format!("\"{}\" =>", b.name)),
                "facade backends! row for {}",
                b.name
            );
            if b.name != "memory" {
                assert!(
                    root()
                        .join("compose")
                        .join(format!("{}.yml", b.name))
                        .exists(),
                    "compose/{}.yml",
                    b.name
                );
            }
        }
    }

    #[test]
    fn library_crates_carry_publish_metadata() {
        let Ok(entries) = std::fs::read_dir(root().join("crates")) else {
            panic!("no crates/")
        };
        for e in entries.flatten() {
            let toml = read(&e.path().join("Cargo.toml"));
            if toml.is_empty() || toml.contains("publish = false") {
                continue;
            }
            for key in ["description", "license", "repository", "readme"] {
                assert!(
                    toml.lines().any(|l| l.starts_with(key)),
                    "{}: missing `{key}`",
                    e.path().display()
                );
            }
            assert!(
                e.path().join("README.md").exists(),
                "{}: README.md",
                e.path().display()
            );
        }
    }

    #[test]
    fn contract_document_names_every_error_kind() {
        let error_rs = read(&root().join("crates/vector-backend/src/error.rs"));
        let contract = read(&root().join("docs/contract.md"));
        let start = error_rs.find("pub enum ErrorKind").unwrap_or(0);
        let body = &error_rs[start..];
        let end = body.find("\n}").unwrap_or(body.len());
        let kinds: Vec<&str> = body[..end]
            .lines()
            .map(str::trim)
            .filter(|l| l.chars().next().is_some_and(char::is_uppercase))
            .filter_map(|l| l.split([',', ' ', '{']).next())
            .collect();
        assert!(kinds.len() >= 11, "parsed kinds: {kinds:?}");
        for k in kinds {
            assert!(
                contract.contains(k),
                "docs/contract.md does not mention ErrorKind::{k}"
            );
        }
    }
}
