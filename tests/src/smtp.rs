//! A real SMTP server for the tests: aiosmtpd (Python), started on a free
//! loopback port, storing what it receives in a Maildir.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct SmtpServer {
    pub port: u16,
    pub maildir: PathBuf,
    _dir: tempfile::TempDir,
    child: Child,
}

/// One message as the server stored it.
#[derive(Clone, Debug)]
pub struct ReceivedMail {
    /// The envelope recipients, as the server recorded them.
    pub rcpt_to: String,
    pub to: String,
    pub from: String,
    pub subject: String,
    pub message_id: String,
    pub text: String,
    pub html: Option<String>,
}

impl SmtpServer {
    /// Starts the server; panics with what to install when aiosmtpd is
    /// missing.
    pub fn start() -> SmtpServer {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let maildir = dir.path().join("maildir");
        let port = free_port();
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs: install Python 3 and `python3 -m pip install aiosmtpd`");
        let mut server = SmtpServer {
            port,
            maildir,
            _dir: dir,
            child,
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "the SMTP server exited ({status}): is aiosmtpd installed? `python3 -m pip install aiosmtpd` (cargo xtask test does it)"
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the SMTP server did not listen on port {port} within 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// Every message received so far.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        let mut files: Vec<PathBuf> = ["new", "cur"]
            .iter()
            .flat_map(|sub| read_dir(&self.maildir.join(sub)))
            .collect();
        files.sort();
        files.iter().filter_map(|f| parse(f)).collect()
    }

    /// Waits until at least `n` messages arrived.
    pub fn wait_for(&self, n: usize, within: Duration) -> Vec<ReceivedMail> {
        let started = Instant::now();
        loop {
            let messages = self.messages();
            if messages.len() >= n || started.elapsed() > within {
                return messages;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_dir(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}

fn parse(file: &Path) -> Option<ReceivedMail> {
    let raw = std::fs::read(file).ok()?;
    let message = mail_parser::MessageParser::default().parse(&raw)?;
    let header = |name: &str| {
        message
            .header_raw(name)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    Some(ReceivedMail {
        rcpt_to: header("X-RcptTo"),
        to: header("To"),
        from: header("From"),
        subject: message.subject().unwrap_or_default().to_owned(),
        message_id: header("Message-ID"),
        text: message
            .body_text(0)
            .map(|t| t.into_owned())
            .unwrap_or_default(),
        html: message.body_html(0).map(|t| t.into_owned()),
    })
}

/// A loopback port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
