//! The bound on `namespace` label values: the first N valid namespaces seen keep their name,
//! every later one is reported as [`OTHER_NAMESPACE_LABEL`], so a million namespaces cannot
//! turn one scrape into a million series.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Mutex;

/// How many distinct namespaces get their own label value by default.
pub const DEFAULT_MAX_NAMESPACE_LABELS: usize = 100;

/// The label value of namespaces beyond the bound.
pub const OTHER_NAMESPACE_LABEL: &str = "__other__";

/// The label value of names that are not valid namespaces (a request that failed validation
/// must not be able to mint label values either).
pub const INVALID_NAMESPACE_LABEL: &str = "__invalid__";

/// The admitted namespace names.
#[derive(Debug)]
pub(crate) struct NamespaceLabels {
    max: usize,
    admitted: Mutex<HashSet<String>>,
}

impl NamespaceLabels {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            max,
            admitted: Mutex::new(HashSet::new()),
        }
    }

    /// The label value for `namespace`. `admit` says whether an unseen valid name may take one
    /// of the free places: only names known to exist are admitted (see
    /// `MetricsEvent::NamespaceExists`), so neither failures nor reads of made-up names can
    /// fill them.
    pub(crate) fn label<'a>(&self, namespace: &'a str, admit: bool) -> Cow<'a, str> {
        if namespace.is_empty() {
            return Cow::Borrowed("");
        }
        if vector_backend::validate::namespace(namespace).is_err() {
            return Cow::Borrowed(INVALID_NAMESPACE_LABEL);
        }
        // A poisoned lock only means another thread panicked while inserting; the set is
        // still a valid set.
        let mut admitted = self.admitted.lock().unwrap_or_else(|p| p.into_inner());
        if admitted.contains(namespace) {
            return Cow::Borrowed(namespace);
        }
        if admit && admitted.len() < self.max {
            admitted.insert(namespace.to_owned());
            return Cow::Borrowed(namespace);
        }
        Cow::Borrowed(OTHER_NAMESPACE_LABEL)
    }

    /// Whether `namespace` has its own label value (gauges are only kept for those: a gauge
    /// summed over "other" namespaces would be meaningless).
    pub(crate) fn has_own(&self, namespace: &str, admit: bool) -> bool {
        !namespace.is_empty() && self.label(namespace, admit) == namespace
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_distinct_values() {
        let l = NamespaceLabels::new(2);
        assert_eq!(l.label("a", true), "a");
        assert_eq!(
            l.label("b", false),
            OTHER_NAMESPACE_LABEL,
            "failures do not admit"
        );
        assert_eq!(l.label("b", true), "b");
        assert_eq!(l.label("c", true), OTHER_NAMESPACE_LABEL);
        assert_eq!(l.label("a", false), "a");
        assert_eq!(l.label("bad name!", true), INVALID_NAMESPACE_LABEL);
        assert_eq!(l.label("", true), "");
        assert!(l.has_own("b", false) && !l.has_own("c", true));
    }
}
