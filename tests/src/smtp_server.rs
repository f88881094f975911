//! A real SMTP server for the e-mail tests: `support/smtp_sink.py` (Python's `aiosmtpd`) in a
//! child process, keeping each message it accepts as files in a directory of its own. A test
//! stops and restarts it on the same port to play a relay that goes down and comes back.
//!
//! Recipients whose local part starts with `reject-` get 550 (unknown mailbox), `defer-` 451.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long the sink may take to import aiosmtpd and listen.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// One message as the server received it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ReceivedMail {
    /// The envelope's recipients (RCPT TO).
    pub to: Vec<String>,
    /// The envelope's sender (MAIL FROM).
    pub from: String,
    /// Decoded from RFC 2047.
    pub subject: String,
    /// The text body, transfer encoding and charset undone, lines ending in `\n`.
    pub body: String,
    pub message_id: String,
    /// Every header in order, values decoded.
    pub headers: Vec<(String, String)>,
    /// Whether the session was upgraded with STARTTLS before the message.
    pub tls: bool,
    /// The user the client authenticated as, on a server that requires AUTH.
    #[serde(default)]
    pub auth_user: Option<String>,
}

impl ReceivedMail {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

pub struct SmtpServer {
    port: u16,
    tls: Option<(PathBuf, PathBuf)>,
    /// `user:password` the server requires (after STARTTLS).
    auth: Option<String>,
    directory: PathBuf,
    child: Option<Child>,
}

/// A port nothing listens on right now (bound on 127.0.0.1:0, then released).
pub fn unused_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind a free port")
        .port()
}

impl SmtpServer {
    /// A plain server (no STARTTLS) on a free port.
    pub fn start() -> SmtpServer {
        SmtpServer::start_on(unused_port(), None)
    }

    /// A server on `port`, offering STARTTLS with `(certificate, key)` (PEM files) if given.
    pub fn start_on(port: u16, tls: Option<(&Path, &Path)>) -> SmtpServer {
        let directory = std::env::temp_dir().join(format!("tsunagu-smtp-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(directory.join("mail")).expect("a temporary directory");
        let mut server = SmtpServer {
            port,
            tls: tls.map(|(cert, key)| (cert.to_path_buf(), key.to_path_buf())),
            auth: None,
            directory,
            child: None,
        };
        server.spawn();
        server
    }

    /// A server offering STARTTLS with `(certificate, key)` that takes mail only from a client
    /// authenticated as `user` with `password` (AUTH PLAIN or LOGIN, after STARTTLS).
    pub fn start_with_auth(tls: (&Path, &Path), user: &str, password: &str) -> SmtpServer {
        let mut server = SmtpServer::start_on(unused_port(), Some(tls));
        server.auth = Some(format!("{user}:{password}"));
        server.restart();
        server
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `smtp://127.0.0.1:{port}`: plain, upgraded with STARTTLS when the server offers it.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Kills the server; the port is free once this returns.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port; the messages received so far stay.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        let mail = self.directory.join("mail");
        let mut names: Vec<PathBuf> = std::fs::read_dir(&mail)
            .expect("the mail directory")
            .map(|entry| entry.expect("a directory entry").path())
            // Only complete records: the sink writes `.name.tmp` and renames it.
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .filter(|path| {
                !path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        names.sort();
        names
            .iter()
            .map(|path| {
                let text = std::fs::read(path).expect("a message record");
                serde_json::from_slice(&text).expect("the sink writes ReceivedMail as JSON")
            })
            .collect()
    }

    /// Waits until at least `count` messages arrived and returns them all; panics after
    /// `deadline` with what did arrive.
    pub async fn wait_for_messages(&self, count: usize, deadline: Duration) -> Vec<ReceivedMail> {
        let until = Instant::now() + deadline;
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            assert!(
                Instant::now() < until,
                "timed out after {deadline:?} waiting for {count} e-mails; received {messages:#?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn spawn(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("support/smtp_sink.py");
        let log_path = self.directory.join("sink.log");
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("the sink's log file");
        let mut command = Command::new("python3");
        command
            .arg(&script)
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--directory")
            .arg(self.directory.join("mail"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            // Into a file, not the test's output: shown when the sink fails to start.
            .stderr(log);
        if let Some((cert, key)) = &self.tls {
            command.arg("--tls-cert").arg(cert).arg("--tls-key").arg(key);
        }
        if let Some(auth) = &self.auth {
            command.arg("--auth").arg(auth);
        }
        let mut child = command
            .spawn()
            .expect("python3 runs (scripts/ensure-services.sh installs aiosmtpd)");

        // Read the `ready` line on a thread so that waiting for it has a deadline.
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = sender.send(line);
        });
        let ready = receiver.recv_timeout(READY_TIMEOUT);
        if ready.as_deref().map(str::trim) != Ok("ready") {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the SMTP sink did not start on port {} ({ready:?}): {}",
                self.port,
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        self.child = Some(child);
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}
