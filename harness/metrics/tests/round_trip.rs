//! Shard reports round trip: recorders of several shards, serialised to JSON, read back and
//! merged, give the same report keys as one recorder that saw every sample.

use fleetgate_metrics::{MetricSet, Recorder, Shards, flatten, names};

fn record_shard(shard: u64, into: &mut Recorder) {
    for i in 0..3_000_u64 {
        let intended = 500 + (i * 7_919 + shard * 31) % 400_000;
        into.record("publish.puback", intended);
        into.record("publish.puback.actual", intended / 2);
        into.count("messages.sent", 1);
    }
    into.record("connect", 20_000 + shard);
    into.count(&names::refusal_counter("bad-signature"), shard);
}

#[test]
fn shard_reports_merged_from_json_equal_one_recorder_of_everything() {
    let mut everything = Recorder::new();
    let mut documents = Vec::new();
    for shard in 0..4_u64 {
        let workers = Shards::new(2);
        workers.with(usize::try_from(shard).unwrap(), |r| record_shard(shard, r));
        record_shard(shard, &mut everything);
        documents.push(serde_json::to_string_pretty(&workers.drain().to_set()).unwrap());
    }

    let mut merged = MetricSet::default();
    for document in &documents {
        let set: MetricSet = serde_json::from_str(document).unwrap();
        merged.merge(&set).unwrap();
    }

    let merged = merged.to_recorder().unwrap();
    assert_eq!(flatten(&merged), flatten(&everything));
    assert_eq!(merged.counter("messages.sent"), 12_000);
    assert_eq!(merged.counter("refusals.bad-signature"), 6);
    assert_eq!(merged.histogram("publish.puback").unwrap().len(), 12_000);
}
