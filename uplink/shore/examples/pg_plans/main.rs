//! Query plans of the shore's PostgreSQL index at fleet scale: loads a
//! synthetic fleet ([`fleet`]) into a database migrated by the shore itself
//! (`PgIndex::connect`), then measures the queries the shore issues on
//! `thumbs` ([`queries`]) before and after the place index: first without
//! `thumbs_by_place` and with the statement from before it, then with the
//! index built (timed: what the migration costs an existing table) and the
//! statement the shore now sends. docs/design.md, "The shore's index at
//! 100 M rows", holds the figures and the plan chosen from them.
//!
//! ```text
//! scripts/private-postgres cargo run -p seaframe-shore --example pg_plans -- \
//!     [--rows 100000000] [--jobs 2] [--runs 5] [--db seaframe_plans] [--keep] [--resume] \
//!     [--measure both|before|after]
//! ```
//! - The server comes from `SEAFRAME_TEST_PG_URL`. The database is made
//!   when missing and dropped at the end unless `--keep`; a kept one that
//!   holds thumbnails is measured again without loading.
//! - 100 M rows take ~10 GB of table and ~29 GB of indexes; a small
//!   `--rows 1000000` run takes a minute.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use seaframe_shore::adapters::index::Index;
use seaframe_shore::adapters::index::postgres::{PLACE_INDEX_MIGRATION, PgIndex};
use tokio_postgres::{Client, NoTls};

mod fleet;
mod queries;

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
enum Measure {
    Both,
    Before,
    After,
}

#[derive(Debug, Parser)]
struct Args {
    /// Thumbnails to generate (rounded down to whole ticks of 500 cameras).
    #[arg(long, default_value_t = 100_000_000)]
    rows: i64,
    /// Connections loading at once.
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    /// Timed runs per query after the EXPLAIN run.
    #[arg(long, default_value_t = 5)]
    runs: u32,
    /// A query whose EXPLAIN run takes longer than this (s) is run once only.
    #[arg(long, default_value_t = 10.0)]
    slow_s: f64,
    /// statement_timeout of every query, s.
    #[arg(long, default_value_t = 1200)]
    timeout_s: u64,
    /// The database (lowercase letters, digits, `_`).
    #[arg(long, default_value = "seaframe_plans")]
    db: String,
    /// Load the chunks missing from a kept database (a load that stopped).
    #[arg(long)]
    resume: bool,
    /// Keep the database at the end.
    #[arg(long)]
    keep: bool,
    #[arg(long, value_enum, default_value = "both")]
    measure: Measure,
}

async fn client(url: &str) -> anyhow::Result<Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("connection: {e}");
        }
    });
    Ok(client)
}

/// Table and index sizes of `thumbs`.
async fn sizes(client: &Client) -> anyhow::Result<()> {
    let rows = client
        .query(
            "SELECT 'thumbs (heap)', pg_size_pretty(pg_relation_size('thumbs')) UNION ALL \
             SELECT indexrelid::regclass::text, pg_size_pretty(pg_relation_size(indexrelid)) \
             FROM pg_index WHERE indrelid = 'thumbs'::regclass",
            &[],
        )
        .await?;
    for r in &rows {
        println!(
            "  {:<45} {}",
            r.try_get::<_, String>(0)?,
            r.try_get::<_, String>(1)?
        );
    }
    Ok(())
}

async fn measure_all(
    db: &Client,
    args: &Args,
    place_index: bool,
    cases: &[queries::Case],
) -> anyhow::Result<()> {
    let label = if place_index {
        "after: thumbs_by_place + the shore's statement"
    } else {
        "before: no place index, the statement from before it"
    };
    println!("\n## {label}\n");
    let mut outcomes = Vec::new();
    for case in cases {
        let o = queries::measure(
            db,
            case,
            place_index,
            args.runs,
            Duration::from_secs_f64(args.slow_s),
        )
        .await
        .with_context(|| case.name)?;
        println!(
            "### {} — {} rows, first {:.1} ms",
            o.name, o.rows, o.first_ms
        );
        for line in &o.plan {
            println!("    {line}");
        }
        outcomes.push(o);
    }
    println!("\n| query ({label}) | rows | first ms | best ms | median ms |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    let ms = |x: Option<f64>| x.map_or("–".to_owned(), |v| format!("{v:.1}"));
    for o in &outcomes {
        println!(
            "| {} | {} | {:.1} | {} | {} |",
            o.name,
            o.rows,
            o.first_ms,
            ms(o.best_ms),
            ms(o.median_ms)
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.db.is_empty()
        || !args
            .db
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        bail!("--db: {:?} is not lowercase letters, digits and _", args.db);
    }
    let server = std::env::var("SEAFRAME_TEST_PG_URL")
        .context("SEAFRAME_TEST_PG_URL (run under scripts/private-postgres)")?;
    let admin = client(&server).await?;
    let exists = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&args.db])
        .await?
        .is_some();
    if !exists {
        admin
            .batch_execute(&format!("CREATE DATABASE {}", args.db))
            .await?;
    }
    // Index builds (the load's, the migration's) get room to sort.
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {} SET maintenance_work_mem = '1GB'",
            args.db
        ))
        .await?;
    let mut url = url::Url::parse(&server).context("SEAFRAME_TEST_PG_URL")?;
    url.set_path(&args.db);
    let url = url.to_string();

    let index = PgIndex::connect(&url)
        .await
        .context("the shore's migrations")?;
    let db = client(&url).await?;
    let loaded = db
        .query_one("SELECT EXISTS (SELECT 1 FROM thumbs)", &[])
        .await?
        .try_get::<_, bool>(0)?;
    if !loaded || args.resume {
        // Built after the load, as the migration builds it on an existing table.
        db.batch_execute("DROP INDEX IF EXISTS thumbs_by_place")
            .await?;
        let mut loaders = vec![client(&url).await?];
        for _ in 1..args.jobs {
            loaders.push(client(&url).await?);
        }
        fleet::load(&loaders, args.rows).await?;
    }
    db.batch_execute(&format!("SET statement_timeout = '{}s'", args.timeout_s))
        .await?;
    let max_id: i64 = db
        .query_one("SELECT max(id) FROM thumbs", &[])
        .await?
        .try_get(0)?;
    let oldest = index.thumbs(&queries::oldest_query()?).await?;
    let cases = queries::cases(max_id, oldest.rows.iter().map(|r| r.id).collect())?;
    println!(
        "thumbs: max(id) {max_id}, estimated rows {}",
        db.query_one(
            "SELECT reltuples::bigint FROM pg_class WHERE relname = 'thumbs'",
            &[]
        )
        .await?
        .try_get::<_, i64>(0)?
    );

    if args.measure != Measure::After {
        db.batch_execute("DROP INDEX IF EXISTS thumbs_by_place")
            .await?;
        sizes(&db).await?;
        measure_all(&db, &args, false, &cases).await?;
    }
    if args.measure != Measure::Before {
        let started = Instant::now();
        db.batch_execute(PLACE_INDEX_MIGRATION).await?;
        println!(
            "\nthumbs_by_place (the migration) ready in {:.0} s",
            started.elapsed().as_secs_f64()
        );
        db.batch_execute("ANALYZE thumbs").await?;
        sizes(&db).await?;
        measure_all(&db, &args, true, &cases).await?;
    }
    drop(index);
    drop(db);
    if !args.keep {
        admin
            .batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", args.db))
            .await?;
    }
    Ok(())
}
