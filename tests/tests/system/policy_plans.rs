//! Row-level security costs a probe by key, not a scan. A policy that looks a row's need (or
//! helper, or proposal) up is an EXISTS subquery; in a generic plan cached while the tables
//! were new and never analysed, PostgreSQL once hashed it — a full scan of `need` for every
//! consent lookup, growing with every need. The plans the services cache, on a fresh database
//! as each service's own role, must probe by key.

use tsunagu_runtime::ServiceName;
use tsunagu_tests::{MUNICIPALITY, TestSystem};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_subqueries_probe_by_key_in_cached_plans() {
    let system = TestSystem::start().await;
    let cases: [(ServiceName, &str, &str, &str); 7] = [
        (
            ServiceName::Intake,
            "tsunagu_intake_app",
            "SELECT id FROM consent WHERE need_id = $1 AND withdrawn_at IS NULL",
            "need",
        ),
        (
            ServiceName::Intake,
            "tsunagu_intake_app",
            "SELECT id FROM need_status_history WHERE need_id = $1",
            "need",
        ),
        (
            ServiceName::Intake,
            "tsunagu_intake_app",
            "SELECT id FROM need_edit WHERE need_id = $1",
            "need",
        ),
        (
            ServiceName::Intake,
            "tsunagu_intake_app",
            "SELECT id FROM contact_disclosure WHERE need_id = $1",
            "need",
        ),
        (
            ServiceName::Intake,
            "tsunagu_intake_app",
            "SELECT id FROM resident WHERE id = $1",
            "need",
        ),
        (
            ServiceName::Matching,
            "tsunagu_matching_app",
            "SELECT id FROM need WHERE id = $1",
            "proposal",
        ),
        (
            ServiceName::Registry,
            "tsunagu_registry_app",
            "SELECT area_id FROM helper_area WHERE helper_id = $1",
            "helper",
        ),
    ];
    for (service, role, query, looked_up) in cases {
        let wall = system.wall(service, role).await;
        let plan = wall.generic_plan(query, MUNICIPALITY).await;
        assert!(
            !plan.contains("hashed SubPlan") && !plan.contains(&format!("Seq Scan on {looked_up}")),
            "{query} as {role} scans {looked_up}:\n{plan}"
        );
        wall.close().await;
    }
    system.shutdown().await;
}
