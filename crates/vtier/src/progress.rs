//! Progress bars on stderr, drawn only when stderr is a terminal and `--quiet` is not given,
//! so piped output and logs stay clean.

use std::borrow::Cow;
use std::io::IsTerminal as _;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether and where long phases draw progress bars.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    enabled: bool,
}

impl Progress {
    /// Bars on stderr when it is a terminal, unless `quiet`.
    pub fn auto(quiet: bool) -> Self {
        Self {
            enabled: !quiet && std::io::stderr().is_terminal(),
        }
    }

    /// No bars (library use and tests).
    pub fn hidden() -> Self {
        Self { enabled: false }
    }

    /// A bar for a phase of `len` steps (a spinner when the length is unknown).
    pub(crate) fn bar(
        &self,
        len: Option<u64>,
        message: impl Into<Cow<'static, str>>,
    ) -> ProgressBar {
        if !self.enabled {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
        let template = if len.is_some() {
            "{msg:>14} [{elapsed_precise}] {wide_bar:.cyan/blue} {human_pos}/{human_len} ({per_sec}, eta {eta})"
        } else {
            "{msg:>14} [{elapsed_precise}] {spinner} {human_pos} ({per_sec})"
        };
        // The templates are constants; a bad one would be a bug caught by the first run.
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(message);
        bar
    }
}
