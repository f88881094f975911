//! Whole-system tests against the real PostgreSQL and RabbitMQ on this machine.

mod area_issues;
mod area_queries;
mod community;
mod consent;
mod dead_letters;
mod end_to_end;
mod events_out_of_order;
mod health_and_reflection;
mod invalid_input;
mod need_edits;
mod need_follow_up;
mod need_imports;
mod need_lifecycle;
mod official_import;
mod organization_helper_exchange;
mod organizations;
mod outbox_survives_broker_outage;
mod redelivery;
mod referral_loop;
mod registry_outage;
mod residents;
mod resource_exchange;
mod resource_freshness;
mod resources;
mod support;
mod unroutable_events;
