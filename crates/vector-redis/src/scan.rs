//! Reads by key and in key order: `read` (`HMGET` per key), `count` (`ZCARD` of the keys set,
//! or `FT.SEARCH ... LIMIT 0 0` with a filter) and `scan` (`ZRANGE BYLEX` over the keys set,
//! then the records). Every round trip carries the incarnation check.

use redis::Value;
use vector_backend::driver::{CheckedFilter, KeySet, NamespaceState as _, Page, ScanSpec};
use vector_backend::{Record, Result, StoredVector};

use crate::catalog::{self, RedisNamespace};
use crate::client::Client;
use crate::error::RedisError;
use crate::filter::to_query;
use crate::reply;
use crate::schema::{F_META, F_VEC};
use crate::search::ft_search;

/// Keys read per round trip by a filtered scan.
const SCAN_CHUNK: usize = 500;

pub(crate) async fn read(
    client: &Client,
    ns: &RedisNamespace,
    keys: &KeySet<'_>,
) -> Result<Vec<Option<StoredVector>>> {
    let names = ns.names();
    let mut p = redis::pipe();
    for k in keys.keys() {
        p.cmd("HMGET").arg(names.record(k)).arg(F_VEC).arg(F_META);
    }
    let replies = catalog::checked_read(client, ns, p).await?;
    keys.keys()
        .iter()
        .zip(replies)
        .map(|(k, r)| {
            let v = client.classify(r)?;
            Ok(reply::stored(k, &v)?)
        })
        .collect()
}

pub(crate) async fn count(
    client: &Client,
    ns: &RedisNamespace,
    filter: Option<&CheckedFilter<'_>>,
) -> Result<u64> {
    let names = ns.names();
    let mut p = redis::pipe();
    match filter {
        None => {
            p.cmd("ZCARD").arg(&names.keys);
        }
        Some(f) => {
            let mut cmd = ft_search(client, ns, &to_query(f, ns.config()));
            cmd.arg("LIMIT").arg(0).arg(0);
            p.add_command(cmd);
        }
    }
    let v = catalog::checked_read_one(client, ns, p).await?;
    Ok(match filter {
        None => reply::int(&v)
            .ok_or_else(|| RedisError::reply("ZCARD", format!("{v:?}")))?
            .max(0) as u64,
        Some(_) => reply::search_total(&v)?,
    })
}

pub(crate) async fn scan(
    client: &Client,
    ns: &RedisNamespace,
    spec: &ScanSpec<'_>,
) -> Result<Page> {
    let n = spec.limit();
    let Some(filter) = spec.filter() else {
        // One more key than the page tells whether another page follows.
        let mut keys = keys_after(client, ns, spec.after().map(str::as_bytes), n + 1).await?;
        let more = keys.len() > n;
        keys.truncate(n);
        return Ok(Page::new(records(client, ns, &keys).await?, more));
    };
    // Filtered: walk the keys in order and keep the records the reference semantics accept,
    // until the page is full or the keys run out.
    let mut after = spec.after().map(|a| a.as_bytes().to_vec());
    let mut out = Vec::new();
    loop {
        let want = SCAN_CHUNK.max(n);
        let keys = keys_after(client, ns, after.as_deref(), want).await?;
        let exhausted = keys.len() < want;
        let Some(last) = keys.last().cloned() else {
            return Ok(Page::new(out, false));
        };
        for r in records(client, ns, &keys).await? {
            if filter.matches(&r.metadata) {
                out.push(r);
                if out.len() == n {
                    // A next page only when any key follows this page's last record.
                    let last = out.last().map(|r| r.key.clone()).unwrap_or_default();
                    let rest = keys_after(client, ns, Some(last.as_bytes()), 1).await?;
                    return Ok(Page::new(out, !rest.is_empty()));
                }
            }
        }
        if exhausted {
            return Ok(Page::new(out, false));
        }
        after = Some(last);
    }
}

/// Up to `n` keys after `after` (exclusive) in byte order, from the keys set.
async fn keys_after(
    client: &Client,
    ns: &RedisNamespace,
    after: Option<&[u8]>,
    n: usize,
) -> Result<Vec<Vec<u8>>> {
    let start = match after {
        Some(a) => [b"(".as_slice(), a].concat(),
        None => b"-".to_vec(),
    };
    let mut p = redis::pipe();
    p.cmd("ZRANGE")
        .arg(&ns.names().keys)
        .arg(start)
        .arg("+")
        .arg("BYLEX")
        .arg("LIMIT")
        .arg(0)
        .arg(n);
    let v = catalog::checked_read_one(client, ns, p).await?;
    let Value::Array(items) = &v else {
        return Err(RedisError::reply("ZRANGE", format!("{v:?}")).into());
    };
    Ok(items
        .iter()
        .filter_map(reply::bulk)
        .map(<[u8]>::to_vec)
        .collect())
}

/// The records of `keys` (raw bytes from the keys set); absent ones are skipped.
async fn records(client: &Client, ns: &RedisNamespace, keys: &[Vec<u8>]) -> Result<Vec<Record>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let names = ns.names();
    let mut p = redis::pipe();
    for k in keys {
        let mut hk = names.prefix.as_bytes().to_vec();
        hk.extend_from_slice(k);
        p.cmd("HMGET").arg(hk).arg(F_VEC).arg(F_META);
    }
    let replies = catalog::checked_read(client, ns, p).await?;
    let mut out = Vec::with_capacity(keys.len());
    for (k, r) in keys.iter().zip(replies) {
        let v = client.classify(r)?;
        let key = String::from_utf8(k.clone())
            .map_err(|_| RedisError::corrupt("the keys set", "a key is not UTF-8"))?;
        if let Some(s) = reply::stored(&key, &v)? {
            out.push(Record::new(key, s.embedding, s.metadata));
        }
    }
    Ok(out)
}
