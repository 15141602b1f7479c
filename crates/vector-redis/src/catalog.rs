//! Namespace incarnations on the server: load, create, drop, list, the generation switch of
//! `clear`, and the incarnation check.
//!
//! Each incarnation of a namespace has a **generation**, a number taken from the global
//! counter `vtier:generation` when it is created and never reused. The namespace's config hash
//! holds the config and the current generation, and every storage key of an incarnation
//! (record hashes, keys set, index name and its prefix) contains its generation (see
//! [`crate::schema`]). So:
//!
//! - every write and delete is one Lua script per chunk that first compares the config
//!   hash's generation with the one the caller validated against and writes nothing (returns
//!   `-1`, which becomes `namespace_changed`) when they differ; a script runs atomically, so
//!   no write lands in an incarnation that is gone;
//! - every read pipeline ends with `HGET cfg gen` ([`checked_read`]): when it still names the
//!   incarnation after the read, the read was of the live incarnation (a generation never
//!   comes back once replaced);
//! - creating is one script (`FT.CREATE` of the generation's index, then the config hash,
//!   then the registry): concurrent creators agree on one incarnation, and the index exists
//!   before any record of it can be written (RediSearch would otherwise index earlier hashes
//!   only in the background, breaking read-your-writes);
//! - dropping is one script that removes the config hash and the registry entry and records
//!   the generation in `vtier:retired`; after it no write of that generation can succeed. Its
//!   index and records are removed afterwards ([`cleanup`]), and a crash in between leaves
//!   the entry for a later drop or clear to finish ([`sweep`]);
//! - clearing switches the namespace to a new generation with the same config in one script
//!   (so a clear is atomic: a write either lands before it and is cleared, or after it and
//!   stays) and then removes the old generation like a drop.

use redis::{Pipeline, RedisResult, Script, Value};
use std::sync::LazyLock;
use vector_backend::driver::{Ensured, NamespaceName, NamespaceState, NativeDistance};
use vector_backend::{Error, Metric, NamespaceConfig, Result};

use crate::client::Client;
use crate::error::RedisError;
use crate::reply;
use crate::schema::{self, CFG_GEN, GENERATIONS, Names, REGISTRY, RETIRED, config_key};

/// Prepended to every script that acts on one incarnation: `KEYS[1]` is the config hash,
/// `ARGV[1]` the generation the caller validated against; the script ends with `-1`, having
/// changed nothing, when the namespace is no longer that incarnation.
macro_rules! checked_script {
    ($body:literal) => {
        redis::Script::new(concat!(
            "if redis.call('HGET', KEYS[1], 'gen') ~= ARGV[1] then return -1 end\n",
            $body
        ))
    };
}
pub(crate) use checked_script;

/// The reply of a checked script when the namespace changed.
pub(crate) const CHANGED: i64 = -1;

/// Lua: `cur` = the config hash's `{config, gen}`; a config without `gen` (written by a
/// version without generations) is generation 0 from now on.
macro_rules! current {
    () => {
        "local cur = redis.call('HMGET', KEYS[1], 'config', 'gen')\n\
         if cur[1] and not cur[2] then\n\
           redis.call('HSET', KEYS[1], 'gen', '0')\n\
           cur[2] = '0'\n\
         end\n"
    };
}

/// `KEYS[1]` config hash. Returns `{config, gen}` (nil config when absent).
static LOAD: LazyLock<Script> = LazyLock::new(|| Script::new(concat!(current!(), "return cur")));

/// `KEYS`: config hash, registry. `ARGV`: namespace, config JSON, new generation, then the
/// new index's name and `FT.CREATE` arguments. Returns `{config, gen, created}`.
static CREATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        current!(),
        "if cur[1] then return {cur[1], cur[2], 0} end\n\
         redis.call('FT.CREATE', unpack(ARGV, 4))\n\
         redis.call('HSET', KEYS[1], 'config', ARGV[2], 'gen', ARGV[3])\n\
         redis.call('SADD', KEYS[2], ARGV[1])\n\
         return {ARGV[2], ARGV[3], 1}"
    ))
});

/// `KEYS`: config hash, registry, retired set (and, with `ARGV[2]`, the keys set of that
/// generation). `ARGV`: namespace, optionally a generation that must be the current one and
/// empty. Removes the namespace and records its generation as retired (`{gen}:{ns}`, as
/// [`schema::retired_entry`] writes it); returns that generation, or `-1` when there was
/// nothing (or not that generation, or not empty) to remove.
static RETIRE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "local gen = redis.call('HGET', KEYS[1], 'gen')\n\
         if not gen then\n\
           if redis.call('HEXISTS', KEYS[1], 'config') == 0 then return -1 end\n\
           gen = '0'\n\
         end\n\
         if ARGV[2] and (gen ~= ARGV[2] or redis.call('ZCARD', KEYS[4]) > 0) then return -1 end\n\
         redis.call('DEL', KEYS[1])\n\
         redis.call('SREM', KEYS[2], ARGV[1])\n\
         redis.call('SADD', KEYS[3], gen .. ':' .. ARGV[1])\n\
         return tonumber(gen)",
    )
});

/// `KEYS`: config hash, retired set, the old generation's keys set. `ARGV`: old generation,
/// new generation, the old one's retired entry, then the new index's name and `FT.CREATE`
/// arguments. Returns how many records the old generation held.
static RENEW: LazyLock<Script> = LazyLock::new(|| {
    checked_script!(
        "redis.call('FT.CREATE', unpack(ARGV, 4))\n\
         redis.call('HSET', KEYS[1], 'gen', ARGV[2])\n\
         redis.call('SADD', KEYS[2], ARGV[3])\n\
         return redis.call('ZCARD', KEYS[3])"
    )
});

/// Records removed per round trip when a retired generation is cleaned up.
const CLEANUP_CHUNK: usize = 1000;
/// Retired generations of other namespaces a drop or clear also cleans up: what crashed
/// clients left, bounded so that one call never pays for many.
const SWEEP: usize = 2;

/// One incarnation of a namespace: its config and generation, and the names of its storage.
#[derive(Debug)]
pub struct RedisNamespace {
    name: String,
    config: NamespaceConfig,
    generation: u64,
    /// The generation as the config hash holds it, for the scripts' comparison.
    generation_arg: String,
    config_key: String,
    names: Names,
}

impl NamespaceState for RedisNamespace {
    fn config(&self) -> &NamespaceConfig {
        &self.config
    }
}

impl RedisNamespace {
    fn new(name: &str, config: NamespaceConfig, generation: u64) -> Self {
        Self {
            name: name.to_owned(),
            config,
            generation,
            generation_arg: generation.to_string(),
            config_key: config_key(name),
            names: Names::of(name, generation),
        }
    }

    pub(crate) fn names(&self) -> &Names {
        &self.names
    }

    /// `KEYS[1]` and `ARGV[1]` of a [`checked_script!`].
    pub(crate) fn check_key(&self) -> &str {
        &self.config_key
    }

    pub(crate) fn check_arg(&self) -> &str {
        &self.generation_arg
    }

    /// What this namespace's index returns, and how it maps to the contract's scores.
    pub(crate) fn distance(&self) -> NativeDistance {
        match self.config.metric {
            Metric::Cosine => NativeDistance::CosineDistance,
            Metric::DotProduct => NativeDistance::OneMinusDot,
            Metric::Euclidean => NativeDistance::SquaredEuclidean,
        }
    }

    /// The error a checked script's [`CHANGED`] reply stands for, or the count it returned.
    pub(crate) fn changed_unless(&self, reply: i64) -> Result<u64> {
        if reply == CHANGED {
            Err(Error::namespace_changed(&self.name))
        } else {
            Ok(reply.max(0) as u64)
        }
    }
}

/// Runs a read pipeline with the incarnation check as its last command, and returns the other
/// commands' replies, or `namespace_changed` when the namespace is no longer `ns`. An error
/// reply to the check itself (`LOADING`, `BUSY`) is the pipeline's error.
pub(crate) async fn checked_read(
    client: &Client,
    ns: &RedisNamespace,
    mut p: Pipeline,
) -> Result<Vec<RedisResult<Value>>> {
    p.cmd("HGET").arg(&ns.config_key).arg(CFG_GEN);
    let mut replies = client.pipe(p).await?;
    let generation = replies
        .pop()
        .ok_or_else(|| RedisError::reply("a pipeline", "no reply to the generation check"))?;
    let generation = client.classify(generation)?;
    if reply::bulk(&generation) == Some(ns.generation_arg.as_bytes()) {
        Ok(replies)
    } else {
        Err(Error::namespace_changed(&ns.name))
    }
}

/// [`checked_read`] of a pipeline of one command: its reply, or its error classified.
pub(crate) async fn checked_read_one(
    client: &Client,
    ns: &RedisNamespace,
    p: Pipeline,
) -> Result<Value> {
    let first = checked_read(client, ns, p).await?.into_iter().next();
    let first = first.ok_or_else(|| RedisError::reply("a pipeline", "no reply"))?;
    Ok(client.classify(first)?)
}

/// The incarnation of `name` on the server, or `None`.
pub(crate) async fn load(
    client: &Client,
    name: NamespaceName<'_>,
) -> Result<Option<RedisNamespace>> {
    let call = LOAD.key(config_key(name.as_str()));
    let reply: Value = client.script(&call).await?;
    match reply::current(&reply)? {
        None => Ok(None),
        Some((raw, generation)) => Ok(Some(RedisNamespace::new(
            name.as_str(),
            parse_config(name.as_str(), &raw)?,
            generation,
        ))),
    }
}

/// Creates `name` with `config` unless it exists; the incarnation that exists now.
pub(crate) async fn create(
    client: &Client,
    name: NamespaceName<'_>,
    config: &NamespaceConfig,
) -> Result<Ensured<RedisNamespace>> {
    let ns = name.as_str();
    let json = serde_json::to_string(config)
        .map_err(|e| Error::backend("cannot encode a namespace config").with_source(e))?;
    // A fresh generation first: taken even when the namespace turns out to exist (generations
    // only need to be unique, not dense).
    let generation: u64 = client.cmd(redis::cmd("INCR").arg(GENERATIONS)).await?;
    let names = Names::of(ns, generation);
    let mut call = CREATE.key(config_key(ns));
    call.key(REGISTRY)
        .arg(ns)
        .arg(&json)
        .arg(generation)
        .arg(&names.index)
        .arg(schema::create_args(&names, config));
    let reply: Value = client.script(&call).await?;
    let (raw, current, created) = reply::created(&reply)?;
    let namespace = RedisNamespace::new(ns, parse_config(ns, &raw)?, current);
    Ok(if created {
        Ensured::created(namespace)
    } else {
        Ensured::existing(namespace)
    })
}

/// Drops `name`, whichever incarnation it is; true when it existed.
pub(crate) async fn drop(client: &Client, name: NamespaceName<'_>) -> Result<bool> {
    let ns = name.as_str();
    let mut call = RETIRE.key(config_key(ns));
    call.key(REGISTRY).key(RETIRED).arg(ns);
    let retired: i64 = client.script(&call).await?;
    if retired == CHANGED {
        return Ok(false);
    }
    finish_retirement(client, ns, retired.max(0) as u64).await;
    Ok(true)
}

/// Drops `ns` if it is still the current incarnation and holds no record.
pub(crate) async fn drop_if_empty(client: &Client, ns: &RedisNamespace) -> Result<()> {
    let mut call = RETIRE.key(&ns.config_key);
    call.key(REGISTRY)
        .key(RETIRED)
        .key(&ns.names.keys)
        .arg(&ns.name)
        .arg(&ns.generation_arg);
    let retired: i64 = client.script(&call).await?;
    if retired != CHANGED {
        finish_retirement(client, &ns.name, ns.generation).await;
    }
    Ok(())
}

/// Switches `ns` to a new generation with the same config, then removes the old one's
/// records; returns how many there were.
pub(crate) async fn renew(client: &Client, ns: &RedisNamespace) -> Result<u64> {
    let generation: u64 = client.cmd(redis::cmd("INCR").arg(GENERATIONS)).await?;
    let names = Names::of(&ns.name, generation);
    let mut call = RENEW.key(&ns.config_key);
    call.key(RETIRED)
        .key(&ns.names.keys)
        .arg(&ns.generation_arg)
        .arg(generation)
        .arg(schema::retired_entry(&ns.name, ns.generation))
        .arg(&names.index)
        .arg(schema::create_args(&names, &ns.config));
    let cleared = ns.changed_unless(client.script(&call).await?)?;
    finish_retirement(client, &ns.name, ns.generation).await;
    Ok(cleared)
}

/// The names of every namespace.
pub(crate) async fn list(client: &Client) -> Result<Vec<String>> {
    Ok(client.cmd(redis::cmd("SMEMBERS").arg(REGISTRY)).await?)
}

/// Removes a retired generation's storage, then sweeps a few left by others. The retirement
/// itself already happened and is what the caller reports; what fails here stays recorded
/// in `vtier:retired` and is finished by a later drop or clear, so errors are not returned.
async fn finish_retirement(client: &Client, ns: &str, generation: u64) {
    let _ = cleanup(client, ns, generation).await;
    let _ = sweep(client).await;
}

/// Removes the index, the records and the keys set of a retired generation, then its entry
/// in `vtier:retired`. Nothing can write into a retired generation (its scripts' check
/// fails), so the records found here are all there will be.
pub(crate) async fn cleanup(client: &Client, ns: &str, generation: u64) -> Result<()> {
    let names = Names::of(ns, generation);
    match client
        .cmd::<Value>(redis::cmd("FT.DROPINDEX").arg(&names.index))
        .await
    {
        Ok(_) => {}
        // Gone already: a repeated cleanup.
        Err(e) if e.is_missing_index() => {}
        Err(e) => return Err(e.into()),
    }
    loop {
        let keys: Vec<Vec<u8>> = client
            .cmd(
                redis::cmd("ZRANGE")
                    .arg(&names.keys)
                    .arg(0)
                    .arg(CLEANUP_CHUNK - 1),
            )
            .await?;
        if keys.is_empty() {
            break;
        }
        let mut p = redis::pipe();
        let mut unlink = redis::cmd("UNLINK");
        for k in &keys {
            let mut hk = names.prefix.as_bytes().to_vec();
            hk.extend_from_slice(k);
            unlink.arg(hk);
        }
        p.add_command(unlink);
        p.cmd("ZREM").arg(&names.keys).arg(&keys);
        for r in client.pipe(p).await? {
            client.classify(r)?;
        }
    }
    client
        .cmd::<Value>(
            redis::cmd("SREM")
                .arg(RETIRED)
                .arg(schema::retired_entry(ns, generation)),
        )
        .await?;
    Ok(())
}

/// Cleans up a few retired generations, whoever retired them.
async fn sweep(client: &Client) -> Result<()> {
    let entries: Vec<String> = client
        .cmd(redis::cmd("SRANDMEMBER").arg(RETIRED).arg(SWEEP))
        .await?;
    for entry in entries {
        match schema::parse_retired(&entry) {
            Some((ns, generation)) => cleanup(client, ns, generation).await?,
            None => {
                client
                    .cmd::<Value>(redis::cmd("SREM").arg(RETIRED).arg(&entry))
                    .await?;
            }
        }
    }
    Ok(())
}

fn parse_config(ns: &str, raw: &[u8]) -> Result<NamespaceConfig> {
    serde_json::from_slice(raw).map_err(|e| {
        RedisError::corrupt(format!("the config of namespace {ns}"), e.to_string()).into()
    })
}
