//! Whether shard reports can be merged: one scenario and seed, the schema this build reads,
//! the same shard count, every shard once (all of them unless the merge is partial).

use std::collections::BTreeMap;

use super::ShardReport;
use crate::model::SCHEMA_VERSION;

/// Why reports cannot be merged; each names the files concerned.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// Nothing to merge.
    #[error("no reports to merge")]
    Empty,
    /// A report of another JSON form.
    #[error("{file}: report schema version {found}, but this fleetgate merges version {SCHEMA_VERSION}")]
    Version {
        /// The file.
        file: String,
        /// Its version.
        found: u32,
    },
    /// Reports of different scenarios or seeds.
    #[error(
        "{file} is a report of scenario `{found}`, but {first} is of `{expected}`: only shards of one run merge"
    )]
    Scenario {
        /// The first file.
        first: String,
        /// The first file's scenario and seed.
        expected: String,
        /// The file that differs.
        file: String,
        /// Its scenario and seed.
        found: String,
    },
    /// A report of an unsharded run, or of another shard count.
    #[error("{file} is {found}, but {first} is shard {index} of {count}: only shards of one run merge")]
    Count {
        /// The first file.
        first: String,
        /// Its shard index.
        index: u32,
        /// Its shard count.
        count: u32,
        /// The file that differs.
        file: String,
        /// What it is.
        found: String,
    },
    /// The same shard twice.
    #[error("shard {index} appears twice: {first} and {second}")]
    Duplicate {
        /// The shard.
        index: u32,
        /// One file.
        first: String,
        /// The other.
        second: String,
    },
    /// Shards without a report (crashed, or not collected).
    #[error(
        "shard(s) {missing} of {count} have no report among {files}; a shard that crashed writes none. Merge what there is with --partial"
    )]
    Missing {
        /// The missing shards, as a list.
        missing: String,
        /// The shard count.
        count: u32,
        /// The files given.
        files: String,
    },
    /// A histogram that does not decode.
    #[error("{file}: {source}")]
    Metrics {
        /// The file.
        file: String,
        /// What failed.
        source: fleetgate_metrics::MetricsError,
    },
}

fn describe(report: &crate::ReportData) -> String {
    format!("{} (seed {})", report.scenario.name, report.scenario.seed)
}

/// Checks the inputs and sorts them by shard; returns the shard count and the missing shards.
pub(super) fn check(inputs: &mut [ShardReport], partial: bool) -> Result<(u32, Vec<u32>), MergeError> {
    let first = inputs.first().ok_or(MergeError::Empty)?.clone();
    for input in inputs.iter() {
        if input.report.schema_version != SCHEMA_VERSION {
            return Err(MergeError::Version {
                file: input.file.clone(),
                found: input.report.schema_version,
            });
        }
        if describe(&input.report) != describe(&first.report) {
            return Err(MergeError::Scenario {
                first: first.file.clone(),
                expected: describe(&first.report),
                file: input.file.clone(),
                found: describe(&input.report),
            });
        }
    }
    let Some(shard) = first.report.shard else {
        return match inputs.get(1) {
            None => Ok((1, Vec::new())),
            Some(second) => Err(MergeError::Count {
                first: second.file.clone(),
                index: second.report.shard.map_or(0, |s| s.index),
                count: second.report.shard.map_or(1, |s| s.count),
                file: first.file.clone(),
                found: "the report of an unsharded run".to_owned(),
            }),
        };
    };
    let mut seen: BTreeMap<u32, &str> = BTreeMap::new();
    for input in inputs.iter() {
        let found = match input.report.shard {
            Some(s) if s.count == shard.count => s,
            other => {
                return Err(MergeError::Count {
                    first: first.file.clone(),
                    index: shard.index,
                    count: shard.count,
                    file: input.file.clone(),
                    found: other.map_or("the report of an unsharded run".to_owned(), |s| {
                        format!("shard {} of {}", s.index, s.count)
                    }),
                });
            }
        };
        if let Some(earlier) = seen.insert(found.index, &input.file) {
            return Err(MergeError::Duplicate {
                index: found.index,
                first: earlier.to_owned(),
                second: input.file.clone(),
            });
        }
    }
    let missing: Vec<u32> = (0..shard.count).filter(|i| !seen.contains_key(i)).collect();
    if !missing.is_empty() && !partial {
        return Err(MergeError::Missing {
            missing: missing.iter().map(u32::to_string).collect::<Vec<_>>().join(", "),
            count: shard.count,
            files: inputs
                .iter()
                .map(|i| i.file.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    inputs.sort_by_key(|i| i.report.shard.map(|s| s.index));
    Ok((shard.count, missing))
}
