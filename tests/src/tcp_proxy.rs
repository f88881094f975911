//! A TCP proxy a test can cut and restore, to make RabbitMQ (or one service, for another)
//! unreachable for one test's services without stopping what every other test uses.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::AbortHandle;

pub struct TcpProxy {
    pub local_addr: SocketAddr,
    open: watch::Sender<bool>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
    refused: Arc<AtomicUsize>,
    accept_task: tokio::task::JoinHandle<()>,
}

impl TcpProxy {
    pub async fn start(upstream: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let local_addr = listener.local_addr().expect("proxy address");
        let (open, open_rx) = watch::channel(true);
        let connections: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let tracked = connections.clone();
        let refused: Arc<AtomicUsize> = Arc::default();
        let counted = refused.clone();
        let accept_task = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                if !*open_rx.borrow() {
                    drop(client); // refused while cut
                    counted.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tracked.lock().expect("lock").push(task.abort_handle());
            }
        });
        TcpProxy {
            local_addr,
            open,
            connections,
            refused,
            accept_task,
        }
    }

    /// `http://` URL of the proxy, for gRPC clients.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// How many connections were dropped while the proxy was cut.
    pub fn refused_connections(&self) -> usize {
        self.refused.load(Ordering::Relaxed)
    }

    pub fn amqp_url(&self) -> String {
        format!("amqp://guest:guest@{}/%2f", self.local_addr)
    }

    /// Drops every connection through the proxy and refuses new ones.
    pub fn cut(&self) {
        self.open.send_replace(false);
        for connection in self.connections.lock().expect("lock").drain(..) {
            connection.abort();
        }
    }

    pub fn restore(&self) {
        self.open.send_replace(true);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept_task.abort();
        for connection in self.connections.lock().expect("lock").drain(..) {
            connection.abort();
        }
    }
}
