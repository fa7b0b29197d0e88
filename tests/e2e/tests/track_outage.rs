//! The track across a dead link and an agent restart: an agent replaying
//! a GPS log uplinks through a real Mosquitto to a shore; the broker goes
//! down, the agent records on, is restarted, the broker comes back; at the
//! end the shore holds exactly the fixes the agent recorded, each once.

#![allow(clippy::unwrap_used)] // a test that cannot proceed should panic

use std::path::Path;
use std::time::Duration;

mod common;

use common::{get, start_shore, unix_ms};
use seaframe_agent::app::Agent;
use seaframe_agent::base::config::Config;
use seaframe_testkit::{MosquittoOptions, MosquittoServer, nmea_log, wait_for};

/// An agent without cameras: its GPS `source`, uplink to `broker_url`.
fn config(dir: &Path, broker_url: &str, gps_source: &str) -> Config {
    let text = format!(
        "vessel = \"ship-track\"\ndata_dir = \"{}\"\n[api]\nlisten = \"127.0.0.1:0\"\n\
         [gps]\nsource = \"{gps_source}\"\n[uplink]\nmqtt_url = \"{broker_url}\"\n",
        dir.display()
    );
    Config::from_toml(&text, "test").unwrap()
}

/// The times (ms) of the fixes the shore holds, in order.
async fn ashore(base: &str) -> Vec<i64> {
    let track = get(&format!(
        "{base}/vessels/ship-track/track?max_points=100000"
    ))
    .await;
    track["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["geometry"]["type"] == "Point")
        .map(|f| unix_ms(f["properties"]["time"].as_str().unwrap()))
        .collect()
}

/// The times (ms) of the fixes the agent recorded, in order.
fn on_board(agent: &Agent) -> Vec<i64> {
    agent
        .store()
        .fixes_between(i64::MIN, i64::MAX, 0)
        .unwrap()
        .iter()
        .map(|f| f.at_ms)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixes_recorded_through_an_outage_and_a_restart_arrive_ashore_once() {
    let mut broker = MosquittoServer::start_with(MosquittoOptions {
        persistence: true,
        ..Default::default()
    })
    .unwrap();
    let shore_dir = tempfile::tempdir().unwrap();
    let shore = start_shore(&broker.url(), shore_dir.path(), "track-shore", "").await;
    let base = format!("http://{}/api/v1", shore.addr);
    let ship_dir = tempfile::tempdir().unwrap();
    let replay = format!("replay:{}?rate=20", nmea_log("ais-nmea.log").display());
    let live = config(ship_dir.path(), &broker.url(), &replay);

    // Under way, the link up: fixes arrive ashore.
    let agent = Agent::start(live.clone()).await.unwrap();
    wait_for("10 fixes ashore", Duration::from_secs(60), || async {
        (ashore(&base).await.len() >= 10).then_some(())
    })
    .await;
    // The link dies; the agent records on, and is restarted meanwhile.
    broker.stop();
    let at_cut = on_board(&agent).len();
    wait_for(
        "40 fixes recorded offline",
        Duration::from_secs(60),
        || async { (on_board(&agent).len() >= at_cut + 40).then_some(()) },
    )
    .await;
    agent.shutdown().await.unwrap();
    let agent = Agent::start(live).await.unwrap();
    let at_restart = on_board(&agent).len();
    wait_for(
        "20 more recorded offline",
        Duration::from_secs(60),
        || async { (on_board(&agent).len() >= at_restart + 20).then_some(()) },
    )
    .await;
    let offline = on_board(&agent).len() - at_cut;
    // The link comes back while fixes keep coming.
    broker.restart().unwrap();
    let before = ashore(&base).await.len();
    wait_for(
        "the backlog drained ashore",
        Duration::from_secs(60),
        || async { (ashore(&base).await.len() >= before + offline).then_some(()) },
    )
    .await;
    agent.shutdown().await.unwrap();
    // The GPS gone quiet, the agent sends what it recorded last.
    let agent = Agent::start(config(ship_dir.path(), &broker.url(), "none"))
        .await
        .unwrap();
    let recorded = on_board(&agent);
    let got = wait_for(
        "every recorded fix ashore",
        Duration::from_secs(60),
        || async {
            let got = ashore(&base).await;
            (got.len() >= recorded.len()).then_some(got)
        },
    )
    .await;
    assert_eq!(got, recorded, "ashore ≠ on board");
    assert!(recorded.len() >= at_cut + 60, "{} recorded", recorded.len());
    agent.shutdown().await.unwrap();
    shore.stop().await.unwrap();
}
