//! A real headless Chromium for the console tests, driven over WebDriver with fantoccini.
//!
//! - **chromedriver** (Debian's `chromium-driver`) runs once per test binary, on a free
//!   127.0.0.1 port, started by the first test that needs it. A small shell watchdog in
//!   the same process group kills the whole group (chromedriver and every Chromium it
//!   started) once the test binary has exited, so nothing outlives the run, even after a
//!   failed test.
//! - Each test gets its own **Chromium** session: `--headless=new`, `--no-sandbox` (the
//!   tests run as root), no background networking (there is no internet), no GPU, no first
//!   run, its own temp user-data-dir. One browser at a time: the machine has two cores.
//! - A missing `chromium` or `chromedriver` **fails** the test, with how to install them
//!   (`scripts/setup` does): a console test never passes without a browser.

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use sever_tests::eventually;
use sever_tests::harness::{free_port, workspace_dir};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::{Mutex, MutexGuard};

/// How long chromedriver may take to answer `/status`.
const DRIVER_START: Duration = Duration::from_secs(20);
/// How long one wait for something on the page may take.
pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// Chromium's program: the real binary behind Debian's `/usr/bin/chromium` wrapper script.
fn chromium() -> PathBuf {
    let candidates = [
        "/usr/lib/chromium/chromium",
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
    ];
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "no Chromium found (looked for {candidates:?}): install Debian's chromium and \
                 chromium-driver (scripts/setup does); the console tests need a real browser"
            )
        })
}

fn chromedriver() -> PathBuf {
    let found = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!(
            "no chromedriver found: install Debian's chromium-driver (scripts/setup does); \
             the console tests need a real browser"
        )
    })
}

/// The shared chromedriver's WebDriver URL, starting it on first use.
fn driver_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let driver = chromedriver();
        let _ = chromium();
        let port = free_port();
        let log = std::env::temp_dir().join(format!("sever-chromedriver-{port}.log"));
        // The watchdog: chromedriver in the background, then wait for this test process to
        // go away, then kill the whole process group (`kill 0`), browsers included.
        let script = r#"
"$1" --port="$2" --allowed-ips=127.0.0.1 --log-path="$3" >/dev/null 2>&1 &
while kill -0 "$4" 2>/dev/null; do sleep 1; done
kill -KILL 0
"#;
        // Never waited for, by design: the watchdog ends after this process has.
        #[allow(clippy::zombie_processes)]
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("sh")
            .arg(&driver)
            .arg(port.to_string())
            .arg(&log)
            .arg(std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        let status = format!("{url}/status");
        let ready = eventually(DRIVER_START, || {
            ureq::get(&status)
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_json::<Value>().ok())
                .is_some_and(|v| v["value"]["ready"] == true)
        });
        assert!(
            ready,
            "chromedriver did not get ready within {DRIVER_START:?}: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        url
    })
}

/// One browser session at a time (two cores). An async lock: each test's session holds it
/// across its awaits, on the test's own runtime.
async fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::const_new(());
    LOCK.lock().await
}

/// A Chromium session for one test; [`Browser::close`] ends it.
pub(crate) struct Browser {
    pub(crate) client: Client,
    _profile: tempfile::TempDir,
    _turn: MutexGuard<'static, ()>,
}

impl Browser {
    /// A fresh headless Chromium.
    pub(crate) async fn start() -> Browser {
        let url = driver_url();
        let turn = one_at_a_time().await;
        let profile = tempfile::tempdir().expect("profile dir");
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--no-first-run".to_owned(),
            "--no-default-browser-check".to_owned(),
            "--window-size=1280,1600".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium(), "args": args },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object")
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(url)
            .await
            .unwrap_or_else(|e| panic!("cannot start a Chromium session: {e}"));
        Browser {
            client,
            _profile: profile,
            _turn: turn,
        }
    }

    /// Waits (bounded) for an element matching `css`.
    pub(crate) async fn element(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} on the page within {WAIT:?}: {e}"))
    }

    /// Waits for `css`, then clicks it.
    pub(crate) async fn click(&self, css: &str) {
        let element = self.element(css).await;
        element
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Waits for `css`, then types `text` into it.
    pub(crate) async fn type_into(&self, css: &str, text: &str) {
        let element = self.element(css).await;
        element
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// The text of the element matching `css` (waited for).
    pub(crate) async fn text(&self, css: &str) -> String {
        let element = self.element(css).await;
        element
            .text()
            .await
            .unwrap_or_else(|e| panic!("text of {css}: {e}"))
    }

    /// Runs a script in the page and returns its value.
    pub(crate) async fn eval(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("script {script:?}: {e}"))
    }

    /// Scrolls the element matching `css` into view, then saves a PNG screenshot as
    /// `<target>/console-screenshots/<name>.png` (a test artifact) and returns its path.
    pub(crate) async fn screenshot(&self, name: &str, css: &str) -> PathBuf {
        let element = self.element(css).await;
        let element = serde_json::to_value(&element).expect("an element reference");
        self.client
            .execute(
                "arguments[0].scrollIntoView({block: 'start'});",
                vec![element],
            )
            .await
            .unwrap_or_else(|e| panic!("scroll to {css}: {e}"));
        let png = self
            .client
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("screenshot: {e}"));
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, &png).expect("write screenshot");
        path
    }

    /// Ends the session (Chromium exits).
    pub(crate) async fn close(self) {
        let _ = self.client.close().await;
    }
}

fn screenshot_dir() -> PathBuf {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace_dir().join(dir),
        None => workspace_dir().join("target"),
    };
    target.join("console-screenshots")
}

/// Runs one browser test's body on its own runtime, failing it after `limit`.
pub(crate) fn run<F: std::future::Future<Output = ()>>(limit: Duration, body: F) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        if tokio::time::timeout(limit, body).await.is_err() {
            panic!("the browser test ran over its {limit:?} deadline");
        }
    });
}

/// Whether a PNG file was written (its signature).
pub(crate) fn is_png(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|b| b.starts_with(b"\x89PNG\r\n\x1a\n"))
}
