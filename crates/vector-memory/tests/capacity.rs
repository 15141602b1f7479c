//! The optional capacity limit: refused writes change nothing, deletes free room, and
//! concurrent writers to different namespaces neither deadlock nor overshoot the limit.

use std::sync::Arc;

use vector_backend::{ErrorKind, Metadata, Record, VectorBackend, VectorBackendExt as _};
use vector_memory::{MemoryBackend, MemoryConfig};

fn rec(key: &str) -> Record {
    Record::new(key, vec![1.0, 2.0, 3.0, 4.0], Metadata::new())
}

#[tokio::test]
async fn vector_limit_counts_all_namespaces_and_frees_on_delete() {
    let b = MemoryBackend::new(MemoryConfig::default().with_max_vectors(3));
    b.upsert_batch("a", vec![rec("1"), rec("2")]).await.unwrap();
    b.upsert_batch("b", vec![rec("1")]).await.unwrap();
    let err = b.upsert_batch("b", vec![rec("2")]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CapacityExceeded, "{err}");
    assert!(err.to_string().contains("limit is 3"), "{err}");
    // A replacement needs no new room; a refused write to a new namespace creates nothing.
    b.upsert_batch("a", vec![rec("1")]).await.unwrap();
    assert!(b.upsert_batch("c", vec![rec("x")]).await.is_err());
    assert!(b.namespace_info("c").await.unwrap().is_none());
    assert!(b.delete("a", "1").await.unwrap());
    b.upsert_batch("b", vec![rec("2")]).await.unwrap();
    assert_eq!(b.clear_namespace("b").await.unwrap(), 2);
    assert!(b.drop_namespace("a").await.unwrap());
    b.upsert_batch("d", vec![rec("1"), rec("2"), rec("3")])
        .await
        .unwrap();
}

#[tokio::test]
async fn byte_limit_is_enforced() {
    let b = MemoryBackend::new(MemoryConfig::default().with_max_bytes(1000));
    let mut big = Metadata::new();
    big.insert("blob".into(), "x".repeat(2000).into());
    let err = b.upsert("ns", "k", vec![1.0], big).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CapacityExceeded);
    b.upsert("ns", "k", vec![1.0], Metadata::new())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_never_overshoot_or_deadlock() {
    let b = Arc::new(MemoryBackend::new(
        MemoryConfig::default().with_max_vectors(100),
    ));
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..8 {
        let b = b.clone();
        tasks.spawn(async move {
            let mut ok = 0u64;
            for i in 0..40 {
                if b.upsert_batch(&format!("ns{w}"), vec![rec(&i.to_string())])
                    .await
                    .is_ok()
                {
                    ok += 1;
                }
            }
            ok
        });
    }
    let mut written = 0;
    while let Some(n) = tasks.join_next().await {
        written += n.unwrap();
    }
    assert_eq!(written, 100, "exactly the limit was accepted");
    let mut total = 0;
    for w in 0..8 {
        total += b.count(&format!("ns{w}"), None).await.unwrap();
    }
    assert_eq!(total, 100);
}

/// A long scan runs off the async worker: on a single-threaded runtime, another task keeps
/// running while a large namespace is searched (issue: long memory scans stalled `/health`).
#[tokio::test(flavor = "current_thread")]
async fn long_scans_leave_the_runtime_free() {
    use vector_backend::synth::SplitMix64;
    let b = Arc::new(MemoryBackend::default());
    let mut rng = SplitMix64::new(7);
    let dim = 128;
    let records: Vec<Record> = (0..60_000)
        .map(|i| Record::new(format!("k{i}"), rng.vector(dim), Metadata::new()))
        .collect();
    b.upsert_batch("big", records).await.unwrap();
    let ticks = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let ticker = {
        let ticks = ticks.clone();
        tokio::spawn(async move {
            loop {
                ticks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        })
    };
    let q = rng.vector(dim);
    // A filtered count walks every row's metadata; a search scores every row.
    let before = ticks.load(std::sync::atomic::Ordering::Relaxed);
    for _ in 0..5 {
        b.query("big", &q, 10, None).await.unwrap();
    }
    let during = ticks.load(std::sync::atomic::Ordering::Relaxed) - before;
    ticker.abort();
    assert!(
        during > 0,
        "the ticker never ran while five searches of 60k x {dim} were in flight"
    );
}

/// The byte budget comes back on delete (it leaked: with 2000 bytes, PUT then DELETE of the
/// same key 40 times saw 15 PUTs refused while the namespace held nothing).
#[tokio::test]
async fn byte_budget_is_returned_on_delete_clear_and_replace() {
    let b = MemoryBackend::new(MemoryConfig::default().with_max_bytes(2000));
    let mut m = Metadata::new();
    m.insert("note".into(), "x".repeat(300).into());
    for i in 0..40 {
        b.upsert("ns", "k", vec![1.0, 2.0], m.clone())
            .await
            .unwrap_or_else(|e| panic!("put {i}: {e}"));
        assert!(b.delete("ns", "k").await.unwrap(), "delete {i}");
    }
    for i in 0..40 {
        b.upsert("ns", "k", vec![1.0, 2.0], m.clone())
            .await
            .unwrap_or_else(|e| panic!("replace {i}: {e}"));
    }
    assert_eq!(b.clear_namespace("ns").await.unwrap(), 1);
    for i in 0..40 {
        b.upsert("ns", &format!("k{}", i % 3), vec![1.0, 2.0], m.clone())
            .await
            .unwrap_or_else(|e| panic!("after clear {i}: {e}"));
    }
}

/// A refused first write rolls back only a namespace it created itself.
#[tokio::test]
async fn refused_write_keeps_a_namespace_it_did_not_create() {
    let b = MemoryBackend::new(MemoryConfig::default().with_max_vectors(1));
    b.create_namespace("x", &vector_backend::NamespaceConfig::new(4))
        .await
        .unwrap();
    let err = b
        .upsert_batch("x", vec![rec("1"), rec("2")])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CapacityExceeded);
    assert!(b.namespace_info("x").await.unwrap().is_some());
}
