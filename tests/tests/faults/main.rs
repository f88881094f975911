//! Fault injection against the real RabbitMQ and PostgreSQL of this machine: the tests
//! restart the broker and the database, kill a matching worker, poison a queue and slow a
//! consumer, and check that no need is lost or doubled. They take turns (see `machine`), and
//! print their recovery figures (`cargo test -p tsunagu-tests --test faults -- --nocapture`;
//! recorded in docs/benchmarks.md).

mod broker_restart;
mod database_restart;
mod flow;
mod machine;
mod poison_messages;
mod slow_consumer;
mod worker_killed;
mod worker_process;
