//! Micro-benchmarks of the pure core: `evaluate_event` over every sample event against the
//! shipped default policy (time per event, events per second), and `load_policy` of that policy.
//! Run: `cargo bench -p policy --bench evaluate -- --quick`.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use policy::{evaluate_event, load_policy};
use serde_json::Value;

const DEFAULT_POLICY: &str = include_str!("../../policies/default.yaml");

/// Every `policies/samples/*.json`, by file name.
fn samples() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/samples");
    let mut samples: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let event = serde_json::from_slice(&std::fs::read(&path).unwrap())
                .unwrap_or_else(|error| panic!("{name}: {error}"));
            (name, event)
        })
        .collect();
    samples.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(!samples.is_empty(), "no samples in {}", dir.display());
    samples
}

fn evaluate_samples(c: &mut Criterion) {
    let policy = load_policy("default.yaml", DEFAULT_POLICY.as_bytes()).unwrap();
    let samples = samples();
    let mut group = c.benchmark_group("evaluate_event");
    group.throughput(Throughput::Elements(samples.len() as u64));
    group.bench_function(format!("all {} samples", samples.len()), |b| {
        b.iter(|| {
            for (_, event) in &samples {
                black_box(evaluate_event(&policy, black_box(event)));
            }
        })
    });
    group.throughput(Throughput::Elements(1));
    for name in ["compliant.json", "override-admin-over.json"] {
        let (_, event) = samples.iter().find(|(n, _)| n == name).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| evaluate_event(&policy, black_box(event)))
        });
    }
    group.finish();
}

fn load_default_policy(c: &mut Criterion) {
    let mut group = c.benchmark_group("load_policy");
    group.throughput(Throughput::Bytes(DEFAULT_POLICY.len() as u64));
    group.bench_function("policies/default.yaml", |b| {
        b.iter(|| load_policy("default.yaml", black_box(DEFAULT_POLICY.as_bytes())).unwrap())
    });
    group.finish();
}

criterion_group! {
    name = benches;
    // Short by default (a 2-core machine); `--quick` or `--measurement-time` override it.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = evaluate_samples, load_default_policy
}
criterion_main!(benches);
