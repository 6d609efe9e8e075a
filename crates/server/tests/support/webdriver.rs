//! Drives Debian's Chromium through chromedriver (WebDriver) with fantoccini.
//! `Browser::start()` returns None (with a message) when chromedriver is
//! missing, unless GUANXI_REQUIRE_BROWSER=1 (CI), where that fails the test.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

pub struct Browser {
    pub client: Client,
    driver: Child,
    profile: PathBuf,
}

impl Drop for Browser {
    /// chromedriver runs in its own process group; killing the group also
    /// ends the Chromium it started, even when a test panicked before close().
    fn drop(&mut self) {
        let pgid = self.driver.id();
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{pgid}")]).status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn chromedriver() -> Option<PathBuf> {
    std::env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/usr/bin/chromedriver")))
        .filter(|p| p.exists())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Browser {
    pub async fn start() -> Option<Browser> {
        let Some(driver_path) = chromedriver() else {
            if std::env::var("GUANXI_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
                panic!(
                    "GUANXI_REQUIRE_BROWSER=1 but chromedriver is missing (apt-get install chromium chromium-driver)"
                );
            }
            eprintln!("skipping browser test: chromedriver not found (apt-get install chromium chromium-driver)");
            return None;
        };
        let port = free_port();
        let driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = http.get(format!("{url}/status")).send().await
                && let Ok(status) = r.json::<serde_json::Value>().await
                && status["value"]["ready"] == true
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not become ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = std::env::temp_dir().join(format!("guanxi-chrome-{}-{port}", std::process::id()));
        let binary = std::env::var("CHROME_BIN").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": binary,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1366,900",
                    "--lang=zh-CN", "--hide-scrollbars", format!("--user-data-dir={}", profile.display()),
                ],
                "prefs": { "intl.accept_languages": "zh-CN,zh" },
            }),
        );
        let client =
            ClientBuilder::native().capabilities(caps).connect(&url).await.expect("cannot open a WebDriver session");
        Some(Browser { client, driver, profile })
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    pub async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} never appeared: {e}"))
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let el = self.wait_for(css).await;
        el.clear().await.unwrap();
        el.send_keys(text).await.unwrap();
    }

    pub async fn click(&self, css: &str) {
        self.wait_for(css).await.click().await.unwrap();
    }

    pub async fn text(&self, css: &str) -> String {
        self.wait_for(css).await.text().await.unwrap()
    }

    pub async fn count(&self, css: &str) -> usize {
        self.client.find_all(Locator::Css(css)).await.unwrap().len()
    }

    pub async fn path(&self) -> String {
        let u = self.client.current_url().await.unwrap();
        match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        }
    }

    /// Waits until the current URL (path and query) contains `part`: after
    /// a click that navigates, the old page may still be showing.
    pub async fn wait_url(&self, part: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let p = self.path().await;
            if p.contains(part) {
                return;
            }
            assert!(Instant::now() < deadline, "the URL never contained {part}: {p}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn resize(&self, w: u32, h: u32) {
        self.client.set_window_size(w, h).await.unwrap();
    }

    /// Saves a PNG under target/screenshots and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.unwrap();
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}
