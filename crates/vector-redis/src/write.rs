//! Writes and deletes: one Lua script per chunk of records or keys, each checking the
//! namespace's generation before it changes anything (see [`crate::catalog`]), and `clear`
//! as a generation switch.

use std::sync::LazyLock;

use futures_util::{StreamExt as _, TryStreamExt as _};
use redis::Script;
use vector_backend::driver::{CheckedFilter, KeySet, NamespaceState as _, WriteBatch};
use vector_backend::{Error, Result};

use crate::catalog::{self, RedisNamespace, checked_script};
use crate::client::Client;
use crate::filter::to_query;
use crate::reply;
use crate::schema::{F_KEY, F_META, F_TEXT, F_VEC, blob, index_fields};
use crate::search::ft_search;

/// Records per script in bulk writes, and scripts in flight at once on the multiplexed
/// connection (each script blocks the server while it runs, so chunks stay small). A chunk
/// may wait behind the others in flight, so each gets the operation timeout once per chunk
/// that can be ahead of it or running (at most [`WRITES_IN_FLIGHT`] times); a write of one
/// chunk gets the timeout once.
const WRITE_CHUNK: usize = 500;
const WRITES_IN_FLIGHT: usize = 4;
/// Keys per script when deleting.
const DELETE_CHUNK: usize = 1000;

/// `KEYS`: config hash, keys set, then one record hash per record. `ARGV`: generation, the
/// number `n` of records, the `ZADD` arguments for their keys (`0`, key, `0`, key, ...), then
/// per record the number `m` of its hash arguments and those `m` arguments (field, value,
/// ...). Each record replaces its hash whole (`DEL` first, so fields of the previous version,
/// such as a filter value it had, do not survive) and is listed in the keys set. One `DEL`
/// and one `ZADD` for the whole chunk: a call from Lua costs about as much as the work of a
/// small command. Returns how many records it wrote.
static WRITE: LazyLock<Script> = LazyLock::new(|| {
    checked_script!(
        "local n = tonumber(ARGV[2])\n\
         redis.call('DEL', unpack(KEYS, 3))\n\
         redis.call('ZADD', KEYS[2], unpack(ARGV, 3, 2 + 2 * n))\n\
         local a = 3 + 2 * n\n\
         for i = 3, #KEYS do\n\
           local m = tonumber(ARGV[a])\n\
           redis.call('HSET', KEYS[i], unpack(ARGV, a + 1, a + m))\n\
           a = a + 1 + m\n\
         end\n\
         return n"
    )
});

/// `KEYS`: config hash, keys set, then one record hash per key. `ARGV`: generation, then the
/// keys. Returns how many of the hashes existed.
static DELETE: LazyLock<Script> = LazyLock::new(|| {
    checked_script!(
        "local n = 0\n\
         for i = 3, #KEYS do n = n + redis.call('DEL', KEYS[i]) end\n\
         redis.call('ZREM', KEYS[2], unpack(ARGV, 2))\n\
         return n"
    )
});

pub(crate) async fn write(client: &Client, ns: &RedisNamespace, batch: &WriteBatch) -> Result<()> {
    let names = ns.names();
    let mut calls = Vec::with_capacity(batch.len().div_ceil(WRITE_CHUNK));
    for chunk in batch.records().chunks(WRITE_CHUNK) {
        let mut call = WRITE.key(ns.check_key());
        call.key(&names.keys).arg(ns.check_arg()).arg(chunk.len());
        for r in chunk {
            call.key(names.record(&r.key)).arg(0).arg(&r.key);
        }
        for r in chunk {
            let meta = serde_json::to_string(&r.metadata)
                .map_err(|e| Error::backend("cannot encode metadata").with_source(e))?;
            let mut indexed = index_fields(ns.config(), &r.metadata);
            // Namespaces with text fields: the text bag, empty when the record holds no text
            // (the record still counts in the BM25 statistics, with length 0).
            if let Some(bag) = batch.text_bag(r) {
                indexed.push((F_TEXT.to_owned(), bag));
            }
            call.arg(6 + 2 * indexed.len())
                .arg(F_KEY)
                .arg(&r.key)
                .arg(F_VEC)
                .arg(blob(&r.embedding))
                .arg(F_META)
                .arg(meta);
            for (f, v) in indexed {
                call.arg(f).arg(v);
            }
        }
        calls.push(call);
    }
    let limit = client.timeout() * calls.len().clamp(1, WRITES_IN_FLIGHT) as u32;
    let sends: Vec<_> = calls
        .into_iter()
        .map(|call| async move {
            let written: i64 = client.script_within(limit, &call).await?;
            ns.changed_unless(written)
        })
        .collect();
    futures_util::stream::iter(sends)
        .buffer_unordered(WRITES_IN_FLIGHT)
        .try_collect::<Vec<u64>>()
        .await?;
    Ok(())
}

/// Deletes records by key (as they are stored in the keys set: raw bytes); returns how many
/// existed.
async fn delete_raw(client: &Client, ns: &RedisNamespace, keys: &[&[u8]]) -> Result<u64> {
    let names = ns.names();
    let mut total = 0;
    for chunk in keys.chunks(DELETE_CHUNK) {
        let mut call = DELETE.key(ns.check_key());
        call.key(&names.keys).arg(ns.check_arg());
        for k in chunk {
            let mut hk = names.prefix.as_bytes().to_vec();
            hk.extend_from_slice(k);
            call.key(hk).arg(*k);
        }
        total += ns.changed_unless(client.script(&call).await?)?;
    }
    Ok(total)
}

pub(crate) async fn delete(client: &Client, ns: &RedisNamespace, keys: &KeySet<'_>) -> Result<u64> {
    let raw: Vec<&[u8]> = keys.keys().iter().map(|k| k.as_bytes()).collect();
    delete_raw(client, ns, &raw).await
}

pub(crate) async fn clear(client: &Client, ns: &RedisNamespace) -> Result<u64> {
    catalog::renew(client, ns).await
}

pub(crate) async fn delete_matching(
    client: &Client,
    ns: &RedisNamespace,
    filter: &CheckedFilter<'_>,
) -> Result<u64> {
    let names = ns.names();
    let query = to_query(filter, ns.config());
    let mut total = 0;
    loop {
        let mut cmd = ft_search(client, ns, &query);
        cmd.arg("NOCONTENT").arg("LIMIT").arg(0).arg(DELETE_CHUNK);
        let mut p = redis::pipe();
        p.add_command(cmd);
        let ids = reply::search_ids(&catalog::checked_read_one(client, ns, p).await?)?;
        let keys: Vec<&[u8]> = ids
            .iter()
            .filter_map(|hk| hk.strip_prefix(names.prefix.as_bytes()))
            .collect();
        if keys.is_empty() {
            return Ok(total);
        }
        let deleted = delete_raw(client, ns, &keys).await?;
        total += deleted;
        if deleted == 0 {
            // The index still lists records that are gone: nothing more to delete now.
            return Ok(total);
        }
    }
}
