//! What the request guard (issue 17) costs a call: the guard decodes every unary request once
//! more (prost-reflect, against the descriptor set) and walks its fields, before tonic decodes
//! it into the generated type. Set beside it, in the same run and on the same bytes: tonic's
//! own decode of the generated type, which every call pays anyway — the reference the ratio is
//! taken against.
//!
//! ```sh
//! cargo bench -p tsunagu-tests --bench request_guard
//! ```
//!
//! `TSUNAGU_BENCH_SECONDS` (default 3) is the length of each measured loop. Three requests:
//! a need as intake receives it, a resource with a schedule and a long description as the
//! registry receives it, and a 1 MiB sheet import (a bytes field). The figures of record are
//! in `docs/benchmarks.md`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use prost::Message;
use tsunagu_proto::registry::v1 as registry_pb;
use tsunagu_runtime::request_guard::{check_bytes, frame};
use tsunagu_tests::bench::{need_request, setting};

fn main() -> anyhow::Result<()> {
    let seconds = setting("TSUNAGU_BENCH_SECONDS", 3)?;
    let window = Duration::from_secs(seconds);
    println!("request guard: {seconds} s per loop, one thread");
    println!(
        "{:<28} {:>12} {:>14} {:>14} {:>8}",
        "request", "bytes", "decode ns/op", "guard ns/op", "ratio"
    );

    let mut need = need_request(&uuid::Uuid::now_v7().to_string(), "bench-0001".into());
    need.notes = "玄関前に出す。ゴミの分別が難しいので声かけもお願いしたい。".repeat(4);
    compare::<tsunagu_proto::intake::v1::SubmitNeedRequest>(
        "SubmitNeed",
        "/tsunagu.intake.v1.IntakeService/SubmitNeed",
        &need.encode_to_vec(),
        window,
    );

    let resource = registry_pb::CreateResourceRequest {
        resource: Some(registry_pb::Resource {
            municipality_code: "212024".into(),
            organization_id: uuid::Uuid::now_v7().to_string(),
            name: "ふれあいサロン 西部".into(),
            name_kana: "ふれあいさろん せいぶ".into(),
            description: "毎月第2・第4水曜に公民館で開くサロン。送迎あり。".repeat(10),
            category: "交流サロン".into(),
            coverage_area_ids: (0..5).map(|_| uuid::Uuid::now_v7().to_string()).collect(),
            schedules: vec![registry_pb::Schedule {
                rrule: "FREQ=MONTHLY;BYDAY=2WE,4WE".into(),
                opens_at: "10:00".into(),
                closes_at: "12:00".into(),
                except_holidays: true,
                ..Default::default()
            }],
            ..Default::default()
        }),
        created_by: "西部圏域SC 佐藤".into(),
    };
    compare::<registry_pb::CreateResourceRequest>(
        "CreateResource",
        "/tsunagu.registry.v1.RegistryService/CreateResource",
        &resource.encode_to_vec(),
        window,
    );

    let sheet = registry_pb::ImportResourcesRequest {
        municipality_code: "212024".into(),
        content: vec![b'a'; 1024 * 1024],
        imported_by: "西部圏域SC 佐藤".into(),
        ..Default::default()
    };
    compare::<registry_pb::ImportResourcesRequest>(
        "ImportResources (1 MiB)",
        "/tsunagu.registry.v1.RegistryService/ImportResources",
        &sheet.encode_to_vec(),
        window,
    );
    Ok(())
}

/// Times tonic's decode of `M` and the guard on the same bytes, each for `window`.
fn compare<M: Message + Default>(label: &str, path: &str, message: &[u8], window: Duration) {
    let framed = frame(message);
    assert!(
        check_bytes(path, &framed).is_empty(),
        "{label}: the guard refuses the benchmark's request"
    );
    let decode = per_operation(window, || {
        black_box(M::decode(black_box(message)).expect("decodes"));
    });
    let guard = per_operation(window, || {
        black_box(check_bytes(path, black_box(&framed)));
    });
    println!(
        "{label:<28} {:>12} {:>14.0} {:>14.0} {:>8.2}",
        message.len(),
        decode,
        guard,
        guard / decode
    );
}

/// Nanoseconds per call of `operation`, run repeatedly for `window`.
fn per_operation(window: Duration, mut operation: impl FnMut()) -> f64 {
    let started = Instant::now();
    let mut operations: u64 = 0;
    while started.elapsed() < window {
        for _ in 0..64 {
            operation();
        }
        operations += 64;
    }
    started.elapsed().as_nanos() as f64 / operations as f64
}
