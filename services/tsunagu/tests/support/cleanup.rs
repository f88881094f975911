//! Removing what a test of the `tsunagu` binary created.

use tsunagu_runtime::amqp::{self, Topology};

pub const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432";
pub const RABBITMQ_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// Removes a test's AMQP namespace and database, whatever state the test left them in.
pub async fn clean_up(database_name: &str, namespace: &str) {
    if let Ok(connection) = amqp::connect(RABBITMQ_URL, "tsunagu-cli-test-cleanup").await {
        if let Ok(channel) = connection.create_channel().await {
            let topology = Topology {
                namespace: namespace.to_string(),
                delivery_limit: 5,
                partitions: tsunagu_runtime::config::DEFAULT_MATCHING_PARTITIONS,
            };
            let _ = topology.delete(&channel).await;
        }
        let _ = connection.close(200, "cleanup".into()).await;
    }
    if let Ok(pool) = sqlx::PgPool::connect(&format!("{POSTGRES_URL}/postgres")).await {
        let statement = format!("DROP DATABASE IF EXISTS \"{database_name}\" WITH (FORCE)");
        let _ = sqlx::query(sqlx::AssertSqlSafe(statement)).execute(&pool).await;
        pool.close().await;
    }
}
