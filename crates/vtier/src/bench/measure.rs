//! One backend's run: load, sequential latency and recall, batches, concurrent throughput.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use vector_tier::{
    DynBackend, Metadata, NamespaceConfig, QueryRequest, Record, VectorBackend as _,
};

use super::dataset::{Data, key, row_of};
use super::{BackendResult, BenchArgs, Latency, Target};
use crate::data::SplitMix64;
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::transfer::BatchWriter;

fn fresh_namespace() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut rng = SplitMix64::new(nanos ^ (u64::from(std::process::id()) << 32));
    format!("vtier_bench_{:012x}", rng.next_u64() >> 16)
}

/// Benchmarks one URL. Only Ctrl-C is an `Err`; other failures are in the result.
pub(crate) async fn backend(
    target: &Target,
    data: &Arc<Data>,
    args: &BenchArgs,
    progress: Progress,
) -> Result<BackendResult> {
    let label = target.label();
    let mut result = BackendResult {
        backend: label
            .split_once("://")
            .map_or(label.as_str(), |(s, _)| s)
            .to_owned(),
        url: label.clone(),
        ..BackendResult::default()
    };
    let backend = match target.open().await {
        Ok(b) => b,
        Err(e) => {
            result.error = Some(e.to_string());
            return Ok(result);
        }
    };
    result.backend = backend.backend_type().to_owned();
    let ns = fresh_namespace();
    result.namespace.clone_from(&ns);
    let outcome = tokio::select! {
        r = measure(&backend, &ns, data, args, progress, &mut result) => r,
        _ = tokio::signal::ctrl_c() => Err(Error::Interrupted),
    };
    // Drop the namespace whatever happened; a leftover is reported, never silent.
    match backend.drop_namespace(&ns).await {
        Ok(_) => {}
        Err(e) => result
            .warnings
            .push(format!("could not drop namespace {ns}: {e}")),
    }
    backend.close().await;
    match outcome {
        Ok(()) => {}
        Err(Error::Interrupted) => return Err(Error::Interrupted),
        Err(e) => result.error = Some(e.to_string()),
    }
    Ok(result)
}

async fn measure(
    backend: &DynBackend,
    ns: &str,
    data: &Arc<Data>,
    args: &BenchArgs,
    progress: Progress,
    result: &mut BackendResult,
) -> Result<()> {
    let setup = &data.setup;
    let label = result.backend.clone();
    if backend
        .namespace_info(ns)
        .await
        .map_err(Error::backend("checking the bench namespace"))?
        .is_some()
    {
        return Err(Error::Invalid(format!("namespace {ns} exists already")));
    }
    let config = NamespaceConfig::new(setup.dim)
        .with_metric(setup.metric)
        .with_index(setup.index);
    backend
        .create_namespace(ns, &config)
        .await
        .map_err(Error::backend(format!("creating namespace {ns}")))?;

    // Bulk load.
    let started = Instant::now();
    let bar = progress.bar(Some(setup.n as u64), format!("{label} load"));
    let mut writer = BatchWriter::new(&**backend, ns, args.load_concurrency, bar);
    for start in (0..setup.n).step_by(args.batch_size) {
        let end = (start + args.batch_size).min(setup.n);
        let batch = (start..end)
            .map(|i| Record::new(key(i), data.base.row(i).to_vec(), Metadata::new()))
            .collect();
        writer.push(batch).await?;
    }
    writer.finish().await?;
    let count = backend
        .count(ns, None)
        .await
        .map_err(Error::backend("counting after the load"))?;
    result.load_seconds = started.elapsed().as_secs_f64();
    result.load_vectors_per_second = setup.n as f64 / result.load_seconds;
    if count != setup.n as u64 {
        return Err(Error::Invalid(format!(
            "loaded {} vectors but the namespace counts {count}",
            setup.n
        )));
    }

    // Warm-up, then sequential queries: latency and recall.
    let nq = setup.queries;
    let query = |i: usize| QueryRequest::new(data.queries.row(i % nq).to_vec(), setup.k);
    for i in 0..args.warmup.min(nq) {
        backend
            .search(ns, &query(i))
            .await
            .map_err(Error::backend("warm-up query"))?;
    }
    let bar = progress.bar(Some(nq as u64), format!("{label} latency"));
    let mut latencies = Vec::with_capacity(nq);
    let mut recall_sum = 0.0;
    for i in 0..nq {
        let request = query(i);
        let t = Instant::now();
        let hits = backend
            .search(ns, &request)
            .await
            .map_err(Error::backend("query"))?;
        latencies.push(t.elapsed());
        let truth = data.truth.top(i, setup.k);
        let found = hits
            .iter()
            .filter_map(|h| row_of(&h.key))
            .filter(|r| truth.contains(r))
            .count();
        recall_sum += found as f64 / truth.len().max(1) as f64;
        bar.inc(1);
    }
    bar.finish_and_clear();
    result.latency_ms = Latency::of(latencies);
    result.recall_at_k = recall_sum / nq as f64;

    // Batches: the same queries, N at a time, each answer compared with the single query's.
    if let Some(size) = args.batch.filter(|n| *n > 0) {
        let bar = progress.bar(Some(nq as u64), format!("{label} batches of {size}"));
        let mut equal = true;
        let mut busy = std::time::Duration::ZERO;
        for start in (0..nq).step_by(size) {
            let requests: Vec<QueryRequest> = (start..(start + size).min(nq)).map(query).collect();
            let t = Instant::now();
            let answers = backend
                .search_batch(ns, &requests)
                .await
                .map_err(Error::backend("batched query"))?;
            busy += t.elapsed();
            for (request, answer) in requests.iter().zip(&answers) {
                let single = backend
                    .search(ns, request)
                    .await
                    .map_err(Error::backend("query"))?;
                let keys = |h: &[vector_tier::SearchResult]| {
                    h.iter()
                        .map(|x| (x.key.clone(), x.score.to_bits()))
                        .collect::<Vec<_>>()
                };
                equal &= keys(answer) == keys(&single);
            }
            bar.inc(requests.len() as u64);
        }
        bar.finish_and_clear();
        result.batch_qps = Some(nq as f64 / busy.as_secs_f64().max(1e-9));
        result.batch_equal = Some(equal);
        if !equal {
            return Err(Error::Invalid(
                "a batch answer differs from the single query's".into(),
            ));
        }
    }

    // Throughput: `concurrency` clients share the queries.
    let bar = progress.bar(
        Some(nq as u64),
        format!("{label} {} clients", args.concurrency),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    let started = Instant::now();
    for _ in 0..args.concurrency {
        let (backend, data, next, ns, bar) = (
            backend.clone(),
            data.clone(),
            next.clone(),
            ns.to_owned(),
            bar.clone(),
        );
        let k = setup.k;
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= data.setup.queries {
                    return Ok::<_, vector_tier::Error>(latencies);
                }
                let request = QueryRequest::new(data.queries.row(i).to_vec(), k);
                let t = Instant::now();
                backend.search(&ns, &request).await?;
                latencies.push(t.elapsed());
                bar.inc(1);
            }
        });
    }
    let mut all = Vec::with_capacity(nq);
    while let Some(joined) = tasks.join_next().await {
        let latencies = joined
            .map_err(|e| Error::Invalid(format!("a client task failed: {e}")))?
            .map_err(Error::backend("concurrent query"))?;
        all.extend(latencies);
    }
    let seconds = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    result.qps = nq as f64 / seconds;
    result.loaded_latency_ms = Latency::of(all);
    Ok(())
}
