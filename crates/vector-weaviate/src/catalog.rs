//! Namespace incarnations on the server, and the incarnation check.
//!
//! Weaviate has no transactions, so the check is built from what it has:
//!
//! - **A class per incarnation.** Every creation of a namespace makes a new class,
//!   `Vt_<hex of the name>_<random generation>`, never reused. Records of different
//!   incarnations therefore never share storage.
//! - **A catalogue** (class `VtCatalog`): one object per namespace, with a fixed id, holding the
//!   name, the config and the current class. It is the source of truth: a namespace exists when
//!   its entry does, and its incarnation is the class the entry names. A creation makes its
//!   class first, then adds the entry (`POST /v1/objects` refuses an id that exists, so the
//!   first creator wins and the others delete their class and take the winner's); a drop
//!   deletes the entry first (only while it still names the class it read, through a batch
//!   delete matching that class), then the class.
//! - **Reads** carry the check in the same request: every GraphQL document also asks the
//!   catalogue for the entry naming the incarnation's class (see [`crate::graphql::Document`]);
//!   none means the namespace was dropped or re-created, and the read answers
//!   `namespace_changed`. A class GraphQL does not know is either gone (`namespace_changed`)
//!   or so new that Weaviate has not rebuilt its GraphQL schema yet (the read is retried).
//! - **Writes** cannot be made conditional, and with auto-schema (on by default) a batch into a
//!   class that was dropped creates it again. So every write (and delete) is followed by the
//!   check: when the entry no longer names the class, the writer deletes the class, with
//!   whatever it wrote or auto-schema created, and answers `namespace_changed`; the core then
//!   retries on the current incarnation. A write is acknowledged only after the check saw its
//!   class current, and a drop deletes the entry before the class, so an acknowledged write was
//!   in the current incarnation at a moment after it landed.
//!
//! What remains open, honestly: between a stale write landing and its writer's check (one round
//! trip), the stale class exists again; nothing reads it (readers check the catalogue), but a
//! writer that dies in that moment leaves it behind as garbage (a class no entry names, which
//! `list_namespaces` ignores; delete `Vt_*` classes no entry names to reclaim the space); so does
//! a write that fails with `Timeout` or `Unavailable`, which is not checked (the server is not
//! answering; the caller was told nothing was acknowledged). The
//! catalogue's "id exists" check may not be atomic with the write on the server; two creators
//! racing that closely both read the entry back, and the one whose entry was overwritten gives
//! its class up and reports the other's incarnation. Reads check in the same request, not
//! atomically: a read racing a drop may still return what the dropped incarnation held.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use vector_backend::driver::{Ensured, NamespaceState};
use vector_backend::{Error, NamespaceConfig, Result};

use crate::backend::WeaviateDriver;
use crate::error::WeaviateError;
use crate::filter::{Op, Where};
use crate::graphql::{CHECK, Document};
use crate::reply::{Entry, Gql, entry_names};
use crate::schema::{
    CATALOG_CLASS, FIRST_ID, P_CLASS, P_CONFIG, P_NAMESPACE, catalog_definition, class_definition,
    class_name, entry_id, new_generation,
};

/// How often a creation is tried when other clients drop or create the namespace under it.
const CREATE_ATTEMPTS: usize = 4;
/// Catalogue entries per listing request.
const LIST_PAGE: usize = 1000;
/// First pause while Weaviate's GraphQL schema catches up with a new class (doubling, within
/// the operation timeout).
const GRAPHQL_CATCH_UP: Duration = Duration::from_millis(25);

/// One incarnation of a namespace: its config and the class holding its records.
#[derive(Debug, Clone, PartialEq)]
pub struct WeaviateNamespace {
    name: String,
    class: String,
    config: NamespaceConfig,
}

impl WeaviateNamespace {
    /// The Weaviate class of this incarnation.
    pub fn class(&self) -> &str {
        &self.class
    }

    /// The namespace's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }
}

impl NamespaceState for WeaviateNamespace {
    fn config(&self) -> &NamespaceConfig {
        &self.config
    }
}

impl From<Entry> for WeaviateNamespace {
    fn from(e: Entry) -> Self {
        Self {
            name: e.namespace,
            class: e.class,
            config: e.config,
        }
    }
}

impl WeaviateDriver {
    /// The namespace's current incarnation, from its catalogue entry.
    pub(crate) async fn load(&self, name: &str) -> Result<Option<WeaviateNamespace>> {
        let what = "GET /v1/objects/{catalogue}/{id}";
        let path = format!("/objects/{CATALOG_CLASS}/{}", entry_id(name).hyphenated());
        let reply = self.client.get(&path).await?;
        if reply.status == 404 {
            return Ok(None);
        }
        let v = reply.expect(what, &[200])?.json(what)?;
        Ok(Some(Entry::parse(&v, name)?.into()))
    }

    /// True while the catalogue names `ns`'s class: the incarnation check of writes.
    pub(crate) async fn is_current(&self, ns: &WeaviateNamespace) -> Result<bool> {
        Ok(self
            .load(&ns.name)
            .await?
            .is_some_and(|now| now.class == ns.class))
    }

    /// Creates the namespace unless it exists; see the module docs for the protocol.
    pub(crate) async fn create(
        &self,
        name: &str,
        config: &NamespaceConfig,
    ) -> Result<Ensured<WeaviateNamespace>> {
        let mut last = None;
        for _ in 0..CREATE_ATTEMPTS {
            if let Some(existing) = self.load(name).await? {
                return Ok(Ensured::existing(existing));
            }
            self.ensure_catalog().await?;
            let class = class_name(name, new_generation());
            let what = "POST /v1/schema";
            let body = class_definition(&class, name, config);
            self.client
                .send(Method::POST, "/schema", Some(&body))
                .await?
                .expect(what, &[200])?;
            let entry = json!({
                "class": CATALOG_CLASS,
                "id": entry_id(name).hyphenated().to_string(),
                "properties": {
                    P_NAMESPACE: name,
                    P_CLASS: class,
                    P_CONFIG: serde_json::to_string(config).unwrap_or_default(),
                },
            });
            let reply = match self
                .client
                .send(Method::POST, "/objects", Some(&entry))
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    // The entry may or may not have been written: keep the class if it was.
                    if !self
                        .load(name)
                        .await
                        .is_ok_and(|n| n.is_some_and(|n| n.class == class))
                    {
                        let _ = self.delete_class(&class).await;
                    }
                    return Err(e.into());
                }
            };
            if reply.status == 200 {
                // The id check and the write may not be one step on the server: read back which
                // entry is there; that one is the namespace.
                match self.load(name).await? {
                    Some(now) if now.class == class => return Ok(Ensured::created(now)),
                    Some(other) => {
                        self.delete_class(&class).await?;
                        return Ok(Ensured::existing(other));
                    }
                    None => {}
                }
            } else {
                // 422 "id already exists": another client created the namespace first.
                last = Some(WeaviateError::status(
                    "POST /v1/objects",
                    reply.status,
                    &reply.body,
                ));
            }
            self.delete_class(&class).await?;
        }
        Err(last.map_or_else(|| Error::namespace_changed(name), Into::into))
    }

    /// Drops the namespace: its entry (only while it names the class read here), then the class.
    pub(crate) async fn remove(&self, name: &str) -> Result<bool> {
        let Some(ns) = self.load(name).await? else {
            return Ok(false);
        };
        let condition = Where::text(P_CLASS, Op::Equal, &ns.class);
        let deleted = self.client.batch_delete(CATALOG_CLASS, &condition).await?;
        // Zero: another client dropped this incarnation first (and perhaps created the next).
        let existed = deleted.successful > 0;
        self.delete_class(&ns.class).await?;
        Ok(existed)
    }

    /// Every namespace name in the catalogue (the cursor API, in id order).
    pub(crate) async fn names(&self) -> Result<Vec<String>> {
        let what = "GET /v1/objects";
        let page = LIST_PAGE.min(self.config.max_results.max(1));
        let mut names = Vec::new();
        let mut after = FIRST_ID.to_owned();
        loop {
            let path = format!("/objects?class={CATALOG_CLASS}&limit={page}&after={after}");
            let mut reply = self.client.get(&path).await?;
            if reply.status != 200 {
                if !self.class_exists(CATALOG_CLASS).await? {
                    // No catalogue yet: no namespace was ever created.
                    return Ok(names);
                }
                // Created by another client between the two requests: read it again.
                reply = self.client.get(&path).await?;
            }
            let v = reply.expect(what, &[200])?.json(what)?;
            let (got, last) = entry_names(&v, what)?;
            let n = got.len();
            names.extend(got);
            match last {
                Some(id) if n >= page => after = id,
                _ => return Ok(names),
            }
        }
    }

    /// Runs a read document on `ns` with the catalogue check in the same request; returns
    /// `data`. See the module docs.
    pub(crate) async fn query_checked(
        &self,
        ns: &WeaviateNamespace,
        doc: &Document,
    ) -> Result<Value> {
        let query = doc.render(&ns.class);
        let what = format!("GraphQL on {}", ns.class);
        let started = Instant::now();
        let mut pause = GRAPHQL_CATCH_UP;
        loop {
            let messages = match self.client.graphql(&query, &what).await? {
                Gql::Data(data) => {
                    let current = data
                        .get("Get")
                        .and_then(|g| g.get(CHECK))
                        .and_then(Value::as_array)
                        .is_some_and(|a| !a.is_empty());
                    return if current {
                        Ok(data)
                    } else {
                        Err(Error::namespace_changed(&ns.name))
                    };
                }
                Gql::Errors(messages) => messages,
            };
            let unknown = |class: &str| {
                let needle = format!("Cannot query field \"{class}\"");
                messages.iter().any(|m| m.contains(&needle))
            };
            let error = || WeaviateError::GraphQl {
                what: what.clone(),
                message: crate::reply::truncate(&messages.join("; ")),
            };
            if !(unknown(&ns.class)
                || unknown(CATALOG_CLASS)
                || messages
                    .iter()
                    .any(|m| m.contains("no graphql provider present")))
            {
                return Err(error().into());
            }
            // GraphQL does not know a class: dropped, or created so recently that Weaviate has
            // not rebuilt its GraphQL schema yet.
            if !self.is_current(ns).await? {
                return Err(Error::namespace_changed(&ns.name));
            }
            if started.elapsed() + pause > self.client.timeout() {
                return Err(error().into());
            }
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
    }

    /// The end of every write, delete or clear on `ns`: the incarnation check (see the module
    /// docs). When the catalogue no longer names `ns`'s class, the class is deleted with what
    /// the operation put there (or auto-schema created), and the answer is `namespace_changed`.
    pub(crate) async fn settle<T>(&self, ns: &WeaviateNamespace, outcome: Result<T>) -> Result<T> {
        if let Err(e) = &outcome
            && e.is_retryable()
            && !e.is_namespace_changed()
        {
            // The server did not answer or cannot be reached: the check would wait for it
            // again (the caller gets its answer within one timeout), and whatever landed stays
            // unacknowledged.
            return outcome;
        }
        let current = match self.is_current(ns).await {
            Ok(c) => c,
            Err(e) => return Err(outcome.err().unwrap_or(e)),
        };
        if current {
            return outcome;
        }
        self.delete_class(&ns.class).await?;
        Err(Error::namespace_changed(&ns.name))
    }

    /// Creates the catalogue class unless it exists (explicitly: auto-schema would make its
    /// text properties word-tokenized).
    async fn ensure_catalog(&self) -> Result<()> {
        if self.class_exists(CATALOG_CLASS).await? {
            return Ok(());
        }
        let reply = self
            .client
            .send(Method::POST, "/schema", Some(&catalog_definition()))
            .await?;
        // 422 is also "already exists": another client created it first.
        if reply.status == 200 || self.class_exists(CATALOG_CLASS).await? {
            Ok(())
        } else {
            Err(WeaviateError::status("POST /v1/schema", reply.status, &reply.body).into())
        }
    }

    async fn class_exists(&self, class: &str) -> Result<bool> {
        let reply = self.client.get(&format!("/schema/{class}")).await?;
        Ok(reply.expect("GET /v1/schema/{class}", &[200, 404])?.status == 200)
    }

    /// Deletes a class and its objects (Weaviate answers 200 for a missing class too).
    pub(crate) async fn delete_class(&self, class: &str) -> Result<()> {
        self.client
            .send(Method::DELETE, &format!("/schema/{class}"), None)
            .await?
            .expect("DELETE /v1/schema/{class}", &[200])?;
        Ok(())
    }
}
