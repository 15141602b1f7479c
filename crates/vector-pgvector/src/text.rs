//! Keyword search: the text columns of a namespace with text fields, the statistics BM25 needs,
//! and the keyword query, BM25 computed in SQL exactly as `vector_backend::text` defines it.
//!
//! **No PostgreSQL text analysis is involved.** The core tokenises (`[a-z0-9]` runs, lower-cased,
//! cut to 64 bytes) and hands each record's text bag (its tokens joined by one space) to the
//! backend. PostgreSQL's parser would not leave those tokens alone, whatever the configuration:
//! even `simple` splits a token such as `69e437d6` into `69e437` (a number in scientific
//! notation) and `d6`, and `to_tsquery('simple', '69e437d6')` is the phrase `'69e437' <-> 'd6'`.
//! So the tsvector is built from the tokens directly (`vtier_bag_tsvector_v1`: `token:position`
//! pairs cast to `tsvector`, no parser, no dictionary), and a query's tsquery is its tokens cast
//! to `tsquery`. Tokens hold only `[a-z0-9]`, so neither cast can meet syntax.
//!
//! Columns (only in tables of namespaces that declare text fields):
//!
//! - `txt text NOT NULL DEFAULT ''`: the text bag, written by every write path;
//! - `tsv tsvector GENERATED ALWAYS AS (vtier_bag_tsvector_v1(txt)) STORED`, GIN-indexed: each
//!   token with its positions (1-based, clamped to PostgreSQL's largest, 16383);
//! - `len integer GENERATED ALWAYS AS (token count) STORED`: BM25's document length.
//!
//! **Statistics.** BM25 needs the namespace's record count `N` and total length. Counting them
//! per query is a scan of the whole table (about 100 ms at 100,000 × 384 on the CI machine,
//! more than the rest of a typical query), so statement-level triggers with transition tables
//! keep them in `vtier_text_stats (tbl, slot, n, total)` in the same transaction as every
//! change (insert, update, delete, truncate): whatever writes the table, through this crate or
//! not, the statistics a query reads in its snapshot are those of the rows it sees. A writer
//! adds its deltas to the row of slot `pg_backend_pid() % 16`, so concurrent writers seldom
//! wait for each other's row lock; a query sums the slots.
//!
//! **The query** (one statement, unnamed: its text depends on the number of tokens and on the
//! filter): each token's document frequency in one aggregate over the records holding any
//! query token (the GIN index; the filter restricts candidates, not statistics), BM25 of the
//! candidates (the same records, filtered), the best `fetch` by score then key, and their
//! metadata (and embeddings) by key. Its cost grows with the records holding a query token:
//! see the crate's README for numbers.
//!
//! **Term frequency** is the number of positions `tsv` holds for the token, read with
//! `ts_rank_cd` with every weight 1 (for a one-lexeme query it is exactly that count, computed
//! in C rather than by unnesting the tsvector). A tsvector keeps at most 256 positions per
//! lexeme and none past 16383, so when the count is 256 or the document is longer than 16383
//! tokens the exact count is taken from `txt` instead (`array_positions`): the score is exact
//! for every document.
//!
//! Arithmetic mirrors `vector_backend::text::bm25` operation by operation in `float8` (the terms
//! added in query-token order), so scores equal the reference's.

use tokio_postgres::Row;
use tokio_postgres::types::Type;
use vector_backend::driver::KeywordQuery;
use vector_backend::{Result, SearchResult};

use crate::catalog::PgNamespace;
use crate::client::Client;
use crate::error::PgError;
use crate::filter::SqlBuilder;
use crate::reply;

/// The statistics table, shared by every namespace's table (rows keyed by table name).
const STATS_TABLE: &str = "vtier_text_stats";
/// Slots of a table's statistics: concurrent writers update different rows.
const STATS_SLOTS: u32 = 16;

/// Creates the statistics table and the two functions when missing (inside `bootstrap`'s
/// transaction, under its advisory lock).
pub(crate) async fn bootstrap(tx: &tokio_postgres::Transaction<'_>) -> Result<(), PgError> {
    tx.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {STATS_TABLE} (
             tbl text COLLATE \"C\" NOT NULL,
             slot integer NOT NULL,
             n bigint NOT NULL,
             total bigint NOT NULL,
             PRIMARY KEY (tbl, slot)
         )"
    ))
    .await?;
    let missing = |f: &'static str| async move {
        let row = tx
            .query_one("SELECT to_regprocedure($1) IS NULL", &[&f])
            .await?;
        row.try_get::<_, bool>(0)
    };
    if missing("vtier_bag_tsvector_v1(text)").await? {
        // Each token with its 1-based position (clamped to the largest a tsvector holds),
        // cast to tsvector: no parser, no dictionary; tokens are `[a-z0-9]` only.
        tx.batch_execute(
            "CREATE FUNCTION vtier_bag_tsvector_v1(bag text) RETURNS tsvector
             LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
             RETURN coalesce((SELECT string_agg(t || ':' || least(i, 16383), ' ')
                              FROM unnest(string_to_array(bag, ' ')) WITH ORDINALITY AS u(t, i)
                              WHERE t <> ''), '')::tsvector",
        )
        .await?;
    }
    if missing("vtier_text_stats_v1()").await? {
        tx.batch_execute(&format!(
            "CREATE FUNCTION vtier_text_stats_v1() RETURNS trigger LANGUAGE plpgsql AS $f$
             DECLARE
                 dn bigint := 0;
                 dl bigint := 0;
                 gone_n bigint;
                 gone_l bigint;
             BEGIN
                 IF TG_OP = 'TRUNCATE' THEN
                     DELETE FROM {STATS_TABLE} WHERE tbl = TG_TABLE_NAME;
                     RETURN NULL;
                 END IF;
                 IF TG_OP IN ('INSERT', 'UPDATE') THEN
                     SELECT count(*), coalesce(sum(len), 0) INTO dn, dl FROM vtier_new_rows;
                 END IF;
                 IF TG_OP IN ('UPDATE', 'DELETE') THEN
                     SELECT count(*), coalesce(sum(len), 0) INTO gone_n, gone_l FROM vtier_old_rows;
                     dn := dn - gone_n;
                     dl := dl - gone_l;
                 END IF;
                 IF dn <> 0 OR dl <> 0 THEN
                     INSERT INTO {STATS_TABLE} AS s (tbl, slot, n, total)
                     VALUES (TG_TABLE_NAME, pg_backend_pid() % {STATS_SLOTS}, dn, dl)
                     ON CONFLICT (tbl, slot)
                     DO UPDATE SET n = s.n + EXCLUDED.n, total = s.total + EXCLUDED.total;
                 END IF;
                 RETURN NULL;
             END
             $f$"
        ))
        .await?;
    }
    Ok(())
}

/// The text columns, for `CREATE TABLE`.
pub(crate) const COLUMNS: &str = ",
             txt text NOT NULL DEFAULT '',
             tsv tsvector GENERATED ALWAYS AS (vtier_bag_tsvector_v1(txt)) STORED,
             len integer GENERATED ALWAYS AS (coalesce(cardinality(string_to_array(nullif(txt, ''), ' ')), 0)) STORED";

/// The GIN index and the statistics triggers of a new table with text columns (our own
/// identifiers only).
pub(crate) fn create_sql(ns: &PgNamespace) -> String {
    let t = ns.table();
    let gin = crate::catalog::quote_ident(&format!("{}_tsv", ns.table_name()));
    let trigger = |event: &str, tables: &str| {
        let name = crate::catalog::quote_ident(&format!(
            "{}_stats_{}",
            ns.table_name(),
            event.to_ascii_lowercase()
        ));
        format!(
            "CREATE TRIGGER {name} AFTER {event} ON {t} {tables} FOR EACH STATEMENT EXECUTE FUNCTION vtier_text_stats_v1();"
        )
    };
    [
        format!("CREATE INDEX {gin} ON {t} USING gin (tsv);"),
        trigger("INSERT", "REFERENCING NEW TABLE AS vtier_new_rows"),
        trigger(
            "UPDATE",
            "REFERENCING OLD TABLE AS vtier_old_rows NEW TABLE AS vtier_new_rows",
        ),
        trigger("DELETE", "REFERENCING OLD TABLE AS vtier_old_rows"),
        trigger("TRUNCATE", ""),
    ]
    .join("\n")
}

/// Removes a dropped table's statistics (in the drop's transaction).
pub(crate) async fn forget(
    tx: &tokio_postgres::Transaction<'_>,
    table_name: &str,
) -> Result<(), PgError> {
    tx.execute(
        &format!("DELETE FROM {STATS_TABLE} WHERE tbl = $1"),
        &[&table_name],
    )
    .await?;
    Ok(())
}

/// A keyword query, ready to send.
pub(crate) struct Plan {
    pub(crate) sql: String,
    pub(crate) params: SqlBuilder,
    pub(crate) include_embedding: bool,
}

/// The keyword SQL for `q` on `ns` (see the module docs).
pub(crate) fn plan(ns: &PgNamespace, q: &KeywordQuery<'_>) -> Plan {
    let t = ns.table();
    let tokens = q.tokens();
    let mut b = SqlBuilder::default();
    let any = b.bind(tokens.join(" | "), Type::TEXT);
    let limit = b.bind(q.fetch() as i64, Type::INT8);
    let tbl = b.bind(ns.table_name().to_owned(), Type::TEXT);
    let tok: Vec<String> = tokens
        .iter()
        .map(|s| b.bind(s.clone(), Type::TEXT))
        .collect();
    let filter = q
        .filter()
        .map(|f| format!(" AND {}", b.condition(f)))
        .unwrap_or_default();
    let idf: String = tok
        .iter()
        .enumerate()
        .map(|(i, _)| {
            format!(
                ", ln(1::float8 + (s.n - x.d{i} + 0.5::float8) / (x.d{i} + 0.5::float8)) AS i{i}"
            )
        })
        .collect();
    let df: Vec<String> = tok
        .iter()
        .enumerate()
        .map(|(i, p)| format!("count(*) FILTER (WHERE c.tsv @@ {p}::tsquery)::float8 AS d{i}"))
        .collect();
    let df = df.join(", ");
    // The position count of each token, once per record.
    let r: Vec<String> = tok
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!("ts_rank_cd('{{1,1,1,1}}'::float4[], c.tsv, {p}::tsquery)::float8 AS r{i}")
        })
        .collect();
    let r = r.join(", ");
    // BM25 per token, `idf * f * (k1 + 1) / (f + k1 * norm)`, added in token order; `f` is the
    // position count unless the tsvector's caps may bite, then the exact count from `txt`.
    let score: Vec<String> = tok
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let f = format!(
                "(CASE WHEN r.r{i} < 256 AND c.len <= 16383 THEN r.r{i} ELSE cardinality(array_positions(string_to_array(c.txt, ' '), {p}))::float8 END)"
            );
            format!("df.i{i} * {f} * (1.2::float8 + 1::float8) / ({f} + 1.2::float8 * r.nm)")
        })
        .collect();
    let score = score.join(" + ");
    let emb = if q.include_embedding() {
        ", t.embedding"
    } else {
        ""
    };
    // `df` is one aggregate over every record holding a token (the filter restricts
    // candidates, not statistics); OFFSET 0 keeps `r` from being flattened into the score,
    // which would evaluate `ts_rank_cd` once per use instead of once.
    let sql = format!(
        "WITH s AS MATERIALIZED (
             SELECT n, CASE WHEN n > 0 THEN total / n ELSE 0 END AS avgdl
             FROM (SELECT coalesce(sum(n), 0)::float8 AS n, coalesce(sum(total), 0)::float8 AS total
                   FROM {STATS_TABLE} WHERE tbl = {tbl}) z),
         df AS MATERIALIZED (
             SELECT s.avgdl{idf}
             FROM s, (SELECT {df} FROM {t} c WHERE c.tsv @@ {any}::tsquery) x),
         top AS (
             SELECT c.key, y.score
             FROM {t} c CROSS JOIN df
             CROSS JOIN LATERAL (
                 SELECT {r}, CASE WHEN df.avgdl > 0 THEN 1::float8 - 0.5::float8 + 0.5::float8 * c.len / df.avgdl ELSE 1::float8 END AS nm
                 OFFSET 0) r
             CROSS JOIN LATERAL (SELECT {score} AS score) y
             WHERE c.tsv @@ {any}::tsquery{filter}
             ORDER BY y.score DESC, c.key LIMIT {limit})
         SELECT t.key, t.meta, top.score{emb} FROM top JOIN {t} t ON t.key = top.key
         ORDER BY top.score DESC, top.key"
    );
    Plan {
        sql,
        params: b,
        include_embedding: q.include_embedding(),
    }
}

/// The hits of a keyword query's rows (`key, meta, score[, embedding]`).
pub(crate) fn hits(rows: &[Row], include_embedding: bool) -> Result<Vec<SearchResult>, PgError> {
    rows.iter()
        .map(|r| reply::keyword_hit(r, include_embedding))
        .collect()
}

/// The keyword candidates of `q`: one unnamed statement.
pub(crate) async fn keyword(
    client: &Client,
    ns: &PgNamespace,
    q: &KeywordQuery<'_>,
) -> Result<Vec<SearchResult>> {
    if q.tokens().is_empty() {
        // The core never sends one; nothing would match.
        return Ok(Vec::new());
    }
    let p = plan(ns, q);
    client
        .run(client.timeout(), "keyword search", async |c| {
            let rows = c.query_typed(&p.sql, &p.params.params()).await?;
            hits(&rows, p.include_embedding)
        })
        .await
        .map_err(|e| ns.checked(e))
}
