use fleetgate_metrics::{Better, Recorder, Unit, flatten};

use super::*;
use crate::model::{Measurement, ShardInfo, Verdict};
use crate::testing::report;

/// A shard report of `count` whose `publish.puback` histogram holds `samples`.
fn shard(index: u32, count: u32, samples: &[u64]) -> ShardReport {
    let mut recorder = Recorder::new();
    for s in samples {
        recorder.record("publish.puback", *s);
    }
    recorder.count("messages.acked", samples.len() as u64);
    let mut report = report();
    report.shard = Some(ShardInfo { index, count });
    report.metrics = Some(recorder.to_set());
    report.measurements = flatten(&recorder)
        .into_iter()
        .map(|(k, value)| {
            (
                k,
                Measurement {
                    value,
                    unit: Unit::Count,
                    better: Better::Lower,
                },
            )
        })
        .collect();
    let count_of = |value: f64| Measurement {
        value,
        unit: Unit::Count,
        better: Better::Lower,
    };
    report
        .measurements
        .insert("messages.delivered".into(), count_of(samples.len() as f64 - 1.0));
    report.measurements.insert("messages.lost".into(), count_of(1.0));
    report.measurements.insert(
        "pipeline.delivered_ratio".into(),
        Measurement {
            value: 0.5,
            unit: Unit::Ratio,
            better: Better::Higher,
        },
    );
    ShardReport {
        file: format!("shard-{index}/report.json"),
        report,
    }
}

fn samples(shard: u64) -> Vec<u64> {
    (0..500)
        .map(|i| (i * 7919 + shard * 104_729) % 90_000 + 100 * shard)
        .collect()
}

#[test]
fn merged_percentiles_are_those_of_one_histogram_of_every_sample() {
    let inputs: Vec<ShardReport> = (0..3).map(|i| shard(i, 3, &samples(u64::from(i)))).collect();
    let merged = merge(inputs, false).unwrap();
    let mut all = Recorder::new();
    for i in 0..3 {
        for s in samples(i) {
            all.record("publish.puback", s);
        }
    }
    let expected = flatten(&all);
    for stat in ["p50", "p90", "p99", "p999", "max", "count"] {
        let key = format!("publish.puback.{stat}");
        assert_eq!(merged.measurements[&key].value, expected[&key], "{key}");
    }
    assert_eq!(merged.measurements["messages.acked"].value, 1500.0);
    assert_eq!(merged.measurements["messages.lost"].value, 3.0);
    assert_eq!(merged.measurements["messages.delivered"].value, 1497.0);
    assert_eq!(
        merged.measurements["pipeline.delivered_ratio"].value,
        1497.0 / 1500.0
    );
    let info = merged.merged.unwrap();
    assert_eq!(
        (info.count, info.shards, info.missing),
        (3, vec![0, 1, 2], vec![])
    );
    assert_eq!(merged.shard, None);
}

#[test]
fn cases_are_united_and_gates_judge_the_merged_figures() {
    let mut inputs: Vec<ShardReport> = (0..2).map(|i| shard(i, 2, &samples(u64::from(i)))).collect();
    inputs[1].report.cases[0].verdict = Verdict::Failed;
    let merged = merge(inputs, false).unwrap();
    assert_eq!(merged.cases.len(), 3, "each case once");
    assert_eq!(merged.cases[0].verdict, Verdict::Failed);
    assert!(
        merged.cases[0]
            .message
            .as_deref()
            .unwrap()
            .starts_with("shard 1/2: ")
    );
    assert_eq!(merged.gates.len(), report().gates.len());
    assert_eq!(merged.outcome, Outcome::Failed);
}

#[test]
fn mismatched_inputs_are_refused_naming_the_files() {
    let error = |inputs: Vec<ShardReport>| merge(inputs, false).unwrap_err().to_string();
    let mut other_seed = shard(1, 2, &[1]);
    other_seed.report.scenario.seed = 8;
    let message = error(vec![shard(0, 2, &[1]), other_seed]);
    assert!(
        message.contains("shard-1/report.json") && message.contains("seed 8"),
        "{message}"
    );
    let message = error(vec![shard(0, 2, &[1]), shard(0, 2, &[2])]);
    assert_eq!(
        message,
        "shard 0 appears twice: shard-0/report.json and shard-0/report.json"
    );
    let message = error(vec![shard(0, 3, &[1]), shard(2, 3, &[2])]);
    assert!(message.starts_with("shard(s) 1 of 3 have no report"), "{message}");
    let message = error(vec![shard(0, 3, &[1]), shard(1, 2, &[2])]);
    assert!(
        message.contains("is shard 1 of 2, but shard-0/report.json is shard 0 of 3"),
        "{message}"
    );
    let mut old = shard(1, 2, &[1]);
    old.report.schema_version = 99;
    assert!(error(vec![shard(0, 2, &[1]), old]).contains("schema version 99"));
}

#[test]
fn a_partial_merge_says_which_shards_are_missing() {
    let merged = merge(vec![shard(0, 3, &[5]), shard(2, 3, &[7])], true).unwrap();
    assert_eq!(merged.merged.as_ref().unwrap().missing, vec![1]);
    assert!(
        merged.notes[0].starts_with("partial merge: shard(s) 1 of 3 missing"),
        "{:?}",
        merged.notes
    );
}

#[test]
fn a_shard_that_could_not_run_makes_the_merge_an_error_naming_it() {
    let mut shards: Vec<_> = (0..3).map(|i| shard(i, 3, &samples(u64::from(i)))).collect();
    shards[1].report.outcome = Outcome::Error;
    shards[1].report.error = Some("cannot reach the bridge".into());
    shards[2].report.outcome = Outcome::Aborted;
    let merged = merge(shards, false).unwrap();
    assert_eq!(merged.outcome, Outcome::Error);
    assert_eq!(
        merged.error.as_deref(),
        Some("shard 1/3: cannot reach the bridge")
    );
}

#[test]
fn an_interrupted_shard_makes_the_merge_aborted() {
    let mut shards: Vec<_> = (0..2).map(|i| shard(i, 2, &samples(u64::from(i)))).collect();
    shards[0].report.outcome = Outcome::Aborted;
    let merged = merge(shards, false).unwrap();
    assert_eq!(merged.outcome, Outcome::Aborted);
    assert_eq!(merged.error, None);
}

#[test]
fn timelines_are_summed_second_by_second_with_each_shards_latest_sample() {
    use crate::model::TimelineSample;
    let sample = |at_secs: f64, connected: u64, acked: u64| TimelineSample {
        at_secs,
        length_secs: 1.0,
        devices: 10,
        connected,
        sent: acked,
        acked,
        acked_per_sec: 5.0,
        ..TimelineSample::default()
    };
    let mut shards: Vec<_> = (0..2).map(|i| shard(i, 2, &samples(u64::from(i)))).collect();
    shards[0].report.timeline = vec![sample(1.02, 4, 5), sample(1.98, 10, 10), sample(3.01, 10, 15)];
    shards[1].report.timeline = vec![sample(0.97, 6, 4), sample(2.4, 10, 9)];
    let merged = merge(shards, false).unwrap();
    let seconds: Vec<_> = merged
        .timeline
        .iter()
        .map(|s| (s.at_secs, s.connected, s.acked))
        .collect();
    assert_eq!(seconds, vec![(1.0, 10, 9), (2.0, 20, 19), (3.0, 20, 24)]);
    assert!(
        merged
            .timeline
            .iter()
            .all(|s| s.devices == 20 && s.latency.is_empty())
    );
}
