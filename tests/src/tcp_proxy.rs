//! A TCP proxy a test can cut and restore, to make RabbitMQ (or one service, for another)
//! unreachable for one test's services without stopping what every other test uses.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

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
        TcpProxy::start_with_latency(upstream, Duration::ZERO).await
    }

    /// A proxy that holds every chunk it passes, either way, for `latency`: a slow link, to
    /// make a consumer slow the way a distant or overloaded one is.
    pub async fn start_with_latency(upstream: SocketAddr, latency: Duration) -> TcpProxy {
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
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    if latency.is_zero() {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        return;
                    }
                    let (client_read, client_write) = client.split();
                    let (server_read, server_write) = server.split();
                    tokio::select! {
                        _ = relay_slowly(client_read, server_write, latency) => {}
                        _ = relay_slowly(server_read, client_write, latency) => {}
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

/// Copies `from` to `to`, each chunk after `latency`.
async fn relay_slowly(mut from: impl AsyncRead + Unpin, mut to: impl AsyncWrite + Unpin, latency: Duration) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        tokio::time::sleep(latency).await;
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}
