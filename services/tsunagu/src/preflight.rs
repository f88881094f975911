//! Before `up` starts anything: are PostgreSQL and RabbitMQ there? If not, say exactly how to
//! start them. Afterwards: wait until every service reports SERVING.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tsunagu_runtime::service::RunningService;
use tsunagu_runtime::{Config, amqp, db};

pub async fn check(config: &Config) -> anyhow::Result<()> {
    let database_urls: BTreeSet<&str> = config
        .services
        .values()
        .map(|s| s.database_url.as_str())
        .collect();
    for url in database_urls {
        db::ensure_database(url).await?;
    }
    let connection = amqp::connect(&config.amqp_url, "tsunagu-preflight").await?;
    let _ = connection.close(200, "preflight done".into()).await;
    Ok(())
}

pub async fn wait_until_serving(config: &Config, services: &[RunningService]) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    for service in services {
        // Health needs no key; over mutual TLS it still needs the certificate.
        let channel = tsunagu_runtime::grpc::service_channel(config, &service.url())?;
        let mut client = HealthClient::new(channel);
        loop {
            let status = client
                .check(tonic_health::pb::HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .map(|response| response.into_inner().status())
                .unwrap_or(ServingStatus::Unknown);
            if status == ServingStatus::Serving {
                break;
            }
            if Instant::now() > deadline {
                anyhow::bail!(
                    "{} did not become SERVING within 60 s (last status {status:?})",
                    service.name
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}
