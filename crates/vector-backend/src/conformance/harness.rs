//! The harness: finds the backend from the environment, turns every case into a libtest-mimic
//! trial, gives each case its own namespace, and reports an absent backend as "not run" (or
//! fails when it was required).

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use libtest_mimic::{Arguments, Failed, Trial};

use super::cases::{Case, Ctx, Reopen, all_cases};
use crate::{DynBackend, OpenBackend, redact_url};

/// The variable that makes an absent backend an error instead of "not run": a comma-separated
/// list of backend names, or `all`. `cargo xtask` always sets it.
pub const REQUIRE_ENV: &str = "VTIER_REQUIRE";

/// How long one case may take before it fails as hung.
const CASE_TIMEOUT: Duration = Duration::from_secs(300);

/// Namespaces left by runs older than this are swept at start-up.
const SWEEP_AFTER_MINUTES: u64 = 120;

type Fallback = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = anyhow::Result<String>>>>>;

/// Runs the suite against backend `B`.
///
/// The backend's address comes from `B::URL_ENV` (`REDIS_URL`, `PG_CONNECTION_STRING`,
/// `WEAVIATE_URL`). Without it, a configured default or fallback is used (the memory backend's
/// `memory://`, the Weaviate emulator). Without either, every case is listed as ignored with the
/// reason on stderr, and the run fails if [`REQUIRE_ENV`] names the backend.
pub struct Harness<B: OpenBackend> {
    fallback: Option<(String, Fallback)>,
    twin: Option<fn(&B) -> B>,
    _backend: PhantomData<fn() -> B>,
}

impl<B: OpenBackend> std::fmt::Debug for Harness<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("backend", &B::NAME)
            .finish_non_exhaustive()
    }
}

impl<B: OpenBackend> Default for Harness<B> {
    fn default() -> Self {
        Self::new()
    }
}

impl<B: OpenBackend> Harness<B> {
    /// A harness for `B`.
    pub fn new() -> Self {
        Self {
            fallback: None,
            twin: None,
            _backend: PhantomData,
        }
    }

    /// Uses `url` when `B::URL_ENV` is unset; `target` says what it is (shown in the report).
    #[must_use]
    pub fn default_url(self, url: &str, target: &str) -> Self {
        let url = url.to_owned();
        self.fallback(target, move || async move { Ok(url) })
    }

    /// Starts something (an emulator, say) when `B::URL_ENV` is unset, and uses the URL it
    /// returns; `target` says what it is. It runs on the harness's runtime, which lives until
    /// every case has finished.
    #[must_use]
    pub fn fallback<F, Fut>(mut self, target: &str, start: F) -> Self
    where
        F: FnOnce() -> Fut + 'static,
        Fut: Future<Output = anyhow::Result<String>> + 'static,
    {
        self.fallback = Some((target.to_owned(), Box::new(move || Box::pin(start()))));
        self
    }

    /// How to make a second object over the same storage as a given one, for the cases about
    /// several clients of one server. Without it, the second object is opened from the same
    /// URL, which is right for every backend with a server; the memory backend, whose URL opens
    /// a new store, shares its store instead.
    #[must_use]
    pub fn twin(mut self, make: fn(&B) -> B) -> Self {
        self.twin = Some(make);
        self
    }

    /// Runs the suite with the process's test arguments and returns its exit code.
    pub fn run(self) -> ExitCode {
        let args = Arguments::from_args();
        let name = B::NAME;
        let required = super::required(name);
        let rt = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => Arc::new(rt),
            Err(e) => {
                eprintln!("conformance[{name}]: cannot start a runtime: {e}");
                return ExitCode::FAILURE;
            }
        };
        let env_url = (!B::URL_ENV.is_empty())
            .then(|| std::env::var(B::URL_ENV).ok())
            .flatten()
            .filter(|u| !u.is_empty());
        let (url, target) = match (env_url, self.fallback) {
            (Some(url), _) => {
                let target = format!("server at {} (from {})", redact_url(&url), B::URL_ENV);
                (Ok(url), target)
            }
            (None, Some((target, start))) => (rt.block_on(start()), target),
            (None, None) => {
                let reason = format!("{} is not set", B::URL_ENV);
                return not_run::<B>(&args, &reason, required);
            }
        };
        let url = match url {
            Ok(u) => u,
            Err(e) => {
                return not_run::<B>(&args, &format!("{target} did not start: {e:#}"), required);
            }
        };
        let typed: Arc<B> = match rt.block_on(B::open(&url)) {
            Ok(b) => Arc::new(b),
            Err(e) => {
                return not_run::<B>(&args, &format!("cannot open {target}: {e}"), required);
            }
        };
        let backend: DynBackend = typed.clone();
        if !rt.block_on(backend.health_check()) {
            let reason = format!("{target} is not healthy (health_check returned false)");
            return not_run::<B>(&args, &reason, required);
        }
        let caps = backend.capabilities();
        let reopen: Reopen = {
            let url = url.clone();
            Arc::new(move || {
                let url = url.clone();
                Box::pin(async move { Ok(Arc::new(B::open(&url).await?) as DynBackend) })
            })
        };
        let second: Reopen = match self.twin {
            Some(make) => Arc::new(move || {
                let b: DynBackend = Arc::new(make(&typed));
                Box::pin(async move { Ok(b) })
            }),
            None => reopen.clone(),
        };
        let run_id = run_id();
        rt.block_on(sweep(&backend));
        let cases = all_cases();
        eprintln!(
            "conformance[{name}]: running {} cases against {target}; namespaces vt_{run_id}_*",
            cases.len()
        );
        let trials = cases
            .into_iter()
            .enumerate()
            .map(|(i, case)| {
                let backend = backend.clone();
                let caps = caps.clone();
                let rt = rt.clone();
                let reopen = reopen.clone();
                let second = second.clone();
                let ns = format!("vt_{run_id}_{i:03}");
                let Case {
                    name: case_name,
                    run,
                } = case;
                Trial::test(case_name, move || {
                    let ctx = Ctx::new(backend, caps, reopen, second, ns, case_name);
                    let outcome = rt.block_on(async {
                        match tokio::time::timeout(CASE_TIMEOUT, run(ctx.clone())).await {
                            Ok(r) => r,
                            Err(_) => Err(anyhow::anyhow!("case hung for {CASE_TIMEOUT:?}")),
                        }
                    });
                    match outcome {
                        Ok(()) => {
                            rt.block_on(ctx.cleanup());
                            Ok(())
                        }
                        Err(e) => Err(Failed::from(format!(
                            "{e:#}\n(seed {}; kept namespaces {:?} for inspection)",
                            ctx.seed(),
                            ctx.used_namespaces()
                        ))),
                    }
                })
                .with_kind(name)
            })
            .collect();
        let conclusion = libtest_mimic::run(&args, trials);
        rt.block_on(backend.close());
        eprintln!(
            "conformance[{name}]: against {target}: {} passed, {} failed, {} not run",
            conclusion.num_passed,
            conclusion.num_failed,
            conclusion.num_ignored + conclusion.num_filtered_out
        );
        conclusion.exit_code()
    }
}

/// Lists every case as ignored (so the gap is visible) and explains why; fails when required.
fn not_run<B: OpenBackend>(args: &Arguments, reason: &str, required: bool) -> ExitCode {
    let name = B::NAME;
    if required {
        eprintln!("conformance[{name}]: FAILED: backend required ({REQUIRE_ENV}) but {reason}");
        return ExitCode::FAILURE;
    }
    let cases = all_cases();
    eprintln!(
        "conformance[{name}]: NOT RUN: {reason}; {} cases ignored (run: cargo xtask conformance --backend {name})",
        cases.len()
    );
    let trials = cases
        .into_iter()
        .map(|c| {
            let reason = reason.to_owned();
            Trial::test(c.name, move || {
                Err(Failed::from(format!("not run: {reason}")))
            })
            .with_kind(name)
            .with_ignored_flag(true)
        })
        .collect();
    libtest_mimic::run(args, trials).exit_code()
}

/// `<minutes since epoch, base36><3 random base36 chars>`: sortable by age, unique per run.
fn run_id() -> String {
    let minutes = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 60);
    let mut id = base36(minutes);
    // Process id and sub-second clock: distinct for runs started in the same minute.
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut mix =
        crate::synth::SplitMix64::new(u64::from(nanos) ^ (u64::from(std::process::id()) << 32));
    let r = (mix.next_u64() % (36 * 36 * 36)) as u32;
    let tail = base36(u64::from(r) + 36 * 36 * 36);
    id.push_str(&tail[1..]);
    id
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Drops `vt_*` namespaces of runs older than two hours, so crashed runs do not accumulate
/// while concurrent runs never delete each other's data.
async fn sweep(backend: &DynBackend) {
    let Ok(names) = backend.list_namespaces().await else {
        return;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 60);
    for ns in names {
        let Some(rest) = ns.strip_prefix("vt_") else {
            continue;
        };
        let Some(run) = rest.split('_').next() else {
            continue;
        };
        if run.len() < 4 {
            continue;
        }
        let Ok(minutes) = u64::from_str_radix(&run[..run.len() - 3], 36) else {
            continue;
        };
        if now.saturating_sub(minutes) > SWEEP_AFTER_MINUTES {
            let _ = backend.drop_namespace(&ns).await;
        }
    }
}
