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

    /// The rows of the facade's `backends!` list: (kind, name, module, crate, driver).
    fn facade_rows() -> Vec<(String, String, String, String, String)> {
        let lib = read(&root().join("crates/vector-tier/src/lib.rs"));
        let start = lib
            .find("\nbackends! {")
            .expect("the backends! list in vector-tier");
        let body = &lib[start..];
        let end = body.find("\n}").unwrap_or(body.len());
        body[..end]
            .lines()
            .skip(2)
            .filter_map(|l| {
                // `Kind "name" module => krate::Driver;`
                let (left, right) = l.trim().trim_end_matches(';').split_once("=>")?;
                let mut left = left.split_whitespace();
                let (kind, name, module) = (left.next()?, left.next()?, left.next()?);
                let (krate, driver) = right.trim().split_once("::")?;
                Some((
                    kind.to_owned(),
                    name.trim_matches('"').to_owned(),
                    module.to_owned(),
                    krate.to_owned(),
                    driver.to_owned(),
                ))
            })
            .collect()
    }

    /// One registry: every row of the facade's `backends!` list has its crate (with the
    /// conformance target), its facade feature, and an xtask row (which says how CI reaches
    /// its server); and the xtask knows no backend the facade does not. Nothing else names
    /// backends: the factory, the service's flags and `vtier bench` read the registry.
    #[test]
    fn every_backend_is_wired_everywhere() {
        let rows = facade_rows();
        assert!(rows.len() >= 4, "parsed rows: {rows:?}");
        let facade_toml = read(&root().join("crates/vector-tier/Cargo.toml"));
        for (_, name, module, krate, driver) in &rows {
            let package = krate.replace('_', "-");
            let dir = root().join("crates").join(&package);
            let conformance = read(&dir.join("tests/conformance.rs"));
            assert!(
                conformance.contains(&format!("{krate}::")),
                "{package}: tests/conformance.rs must run the suite against its own backend type"
            );
            assert!(
                read(&dir.join("src/lib.rs")).contains(driver.as_str()),
                "{package} exports {driver}"
            );
            assert_eq!(name, module, "the module is named like the backend");
            assert!(
                facade_toml.contains(&format!("{name} = [\"dep:{package}\"")),
                "facade feature for {name}"
            );
            let all = facade_toml
                .lines()
                .find(|l| l.starts_with("all = ["))
                .expect("the facade's `all` feature");
            assert!(
                all.contains(&format!("\"{name}\"")),
                "the facade's `all` feature (the service and vtier build with it) lists {name}"
            );
            let b = BACKENDS
                .iter()
                .find(|b| b.name == name)
                .unwrap_or_else(|| panic!("xtask/src/backends.rs has no row for {name}"));
            assert_eq!(b.package, package, "xtask row of {name}");
            if b.start.is_some() {
                assert!(
                    root().join("compose").join(format!("{name}.yml")).exists(),
                    "compose/{name}.yml for users with Docker"
                );
            }
        }
        for b in BACKENDS {
            assert!(
                rows.iter().any(|r| r.1 == b.name),
                "xtask knows {} but the facade's backends! list does not",
                b.name
            );
        }
        // No other place lists backends by name.
        for f in [
            "crates/vector-server/src/args.rs",
            "crates/vector-server/src/serve.rs",
            "crates/vector-tier/src/factory.rs",
            "crates/vector-tier/src/config.rs",
        ] {
            let text = read(&root().join(f));
            for (_, _, _, krate, _) in &rows {
                assert!(!text.contains(krate.as_str()), "{f} names {krate}");
            }
            // In code, that is: doc comments may give examples.
            let code: String = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect();
            assert!(
                !code.contains("REDIS_URL") && !code.contains("PG_CONNECTION_STRING"),
                "{f} names a backend's variable in code"
            );
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
