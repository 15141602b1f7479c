//! The server's version and environment settings (Weaviate's defaults), and the versions at which
//! emulated behaviour changes.

/// A Weaviate version, compared numerically.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Version(pub(crate) u32, pub(crate) u32, pub(crate) u32);

impl Version {
    /// Parses `1.39.0`, `1.25.3-rc.1`, `v1.30`.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        let s = s.trim().trim_start_matches('v');
        let core = s.split(['-', '+']).next()?;
        let mut it = core.split('.').map(|p| p.parse::<u32>());
        let major = it.next()?.ok()?;
        let minor = it.next().unwrap_or(Ok(0)).ok()?;
        let patch = it.next().unwrap_or(Ok(0)).ok()?;
        Some(Self(major, minor, patch))
    }
}

/// Server settings (Weaviate's environment defaults).
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) version: Version,
    pub(crate) version_string: String,
    pub(crate) auto_schema: bool,
    /// `QUERY_DEFAULTS_LIMIT` (GraphQL).
    pub(crate) default_limit: usize,
    /// `QUERY_MAXIMUM_RESULTS`.
    pub(crate) max_results: usize,
}

impl Settings {
    /// Whether the `Not` and `ContainsNone` filter operators exist in this version.
    pub(crate) fn has_not_operator(&self) -> bool {
        self.version >= NOT_OPERATOR_SINCE
    }
}

/// First version with the `Not` and `ContainsNone` operators (both added together).
pub(crate) const NOT_OPERATOR_SINCE: Version = Version(1, 33, 0);

/// Versions from which PUT on a missing object is 404 rather than 500.
pub(crate) const PUT_MISSING_404_SINCE: Version = Version(1, 37, 11);

/// First version whose schema endpoints upper-case the first letter of `{className}` (assumed:
/// the 1.25-era handler did an exact lookup, current ones normalise; the exact release of the
/// change was not pinned down).
pub(crate) const SCHEMA_PATH_UPPERCASE_SINCE: Version = Version(1, 26, 0);

/// First version whose new classes default to `usingBlockMaxWAND: true` (BlockMax WAND GA), and
/// from which the emulator scores bm25 the BlockMax way when a class has the flag.
pub(crate) const BLOCKMAX_WAND_SINCE: Version = Version(1, 30, 0);

/// Versions that forbid internal suffixes in property names.
pub(crate) const PROPERTY_SUFFIX_RULE_SINCE: Version = Version(1, 30, 0);

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::Db;

    /// Weaviate 1.39 with its default environment.
    pub(crate) fn settings() -> Settings {
        Settings {
            version: Version(1, 39, 0),
            version_string: "1.39.0".into(),
            auto_schema: true,
            default_limit: 10,
            max_results: 10_000,
        }
    }

    #[test]
    fn versions_parse_and_compare() {
        assert_eq!(Version::parse("1.25.0"), Some(Version(1, 25, 0)));
        assert_eq!(Version::parse("v1.37.11-rc.1"), Some(Version(1, 37, 11)));
        assert_eq!(Version::parse("1.30"), Some(Version(1, 30, 0)));
        assert!(Version(1, 37, 11) > Version(1, 37, 2));
        assert!(Version::parse("x").is_none());
        let mut s = settings();
        assert_eq!(Db::put_missing_status(&s), 404);
        s.version = Version(1, 25, 0);
        assert_eq!(Db::put_missing_status(&s), 500);
        assert!(!s.has_not_operator());
    }
}
