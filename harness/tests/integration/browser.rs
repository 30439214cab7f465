//! Reports in a real browser: Debian's Chromium, headless, opens each `report.html` at a laptop's
//! 1280 px and checks that the page does not scroll sideways and that every chart image
//! loaded; it also takes a screenshot (kept under `$CLAIMLAB_SCREENSHOTS` when set).
//!
//! Without Chromium the checks are skipped with the reason, unless `CLAIMLAB_REQUIRE_REAL`
//! names `browser` (CI does: `just system-deps` installs it), where they fail.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::*;

/// The window width checked: a laptop screen.
const WIDTH: u32 = 1280;

/// Written into the page on load: its width, and how many images failed to load.
const PROBE: &str = "<script>window.addEventListener('load',function(){\
var imgs=Array.prototype.slice.call(document.images);\
var broken=imgs.filter(function(i){return !(i.complete&&i.naturalWidth>0)}).length;\
var e=document.createElement('div');\
e.textContent='CLAIMLAB'+'-PROBE scrollWidth='+document.documentElement.scrollWidth+\
' clientWidth='+document.documentElement.clientWidth+' images='+imgs.length+' broken='+broken;\
document.body.appendChild(e);});</script>";

/// The browser: `chromium` (Debian), or another Chromium on PATH.
pub fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|n| std::env::split_paths(&path).map(move |d| d.join(n)))
        .find(|p| p.is_file())
}

fn required() -> bool {
    std::env::var("CLAIMLAB_REQUIRE_REAL").is_ok_and(|v| v.split(',').any(|k| k == "browser"))
}

/// The browser, or `None` after saying why the checks are skipped (a failure when required).
fn browser_or_skip() -> Option<PathBuf> {
    let b = chromium();
    if b.is_none() {
        assert!(
            !required(),
            "CLAIMLAB_REQUIRE_REAL includes browser but no chromium is on PATH \
             (`just system-deps` installs Debian's chromium)"
        );
        eprintln!(
            "skipped: the browser checks of report.html need chromium on PATH \
             (apt-get install chromium, or `just system-deps`)"
        );
    }
    b
}

fn headless(browser: &Path, profile: &Path) -> Command {
    let mut c = Command::new(browser);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--no-first-run",
        "--virtual-time-budget=10000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// What the probe saw on a page: (scrollWidth, clientWidth, images, broken images).
#[derive(Debug, PartialEq)]
pub struct Seen {
    pub scroll_width: u32,
    pub client_width: u32,
    pub images: u32,
    pub broken: u32,
}

/// Opens `html` (a copy with the probe added) at [`WIDTH`] px and reads what the probe saw.
pub fn probe(browser: &Path, html: &Path, work: &Path) -> Seen {
    let text = std::fs::read_to_string(html).unwrap();
    let at = text.rfind("</body>").unwrap_or(text.len());
    let probed = html.with_file_name("report.probe.html");
    std::fs::write(&probed, format!("{}{PROBE}{}", &text[..at], &text[at..])).unwrap();
    let out = headless(browser, &work.join("profile-probe"))
        .arg(format!("--window-size={WIDTH},900"))
        .arg("--dump-dom")
        .arg(format!("file://{}", probed.display()))
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&probed);
    let dom = String::from_utf8_lossy(&out.stdout);
    let line = dom
        .split("CLAIMLAB-PROBE ")
        .nth(1)
        .unwrap_or_else(|| {
            panic!(
                "{}: the probe wrote nothing (chromium: {})",
                html.display(),
                String::from_utf8_lossy(&out.stderr)
            )
        })
        .split('<')
        .next()
        .unwrap();
    let field = |k: &str| -> u32 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{k}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{k} in {line:?}"))
    };
    Seen {
        scroll_width: field("scrollWidth"),
        client_width: field("clientWidth"),
        images: field("images"),
        broken: field("broken"),
    }
}

/// A screenshot of the page's top at [`WIDTH`] px into `png`.
fn screenshot(browser: &Path, html: &Path, png: &Path, work: &Path) {
    let out = headless(browser, &work.join("profile-shot"))
        .arg(format!("--window-size={WIDTH},2400"))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(
        png.metadata().is_ok_and(|m| m.len() > 10_000),
        "{}: no screenshot ({})",
        html.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Checks every `<out>/<scenario>/report.html` in the browser; skips (or fails when
/// required) without one.
pub fn check_reports(out: &Path) {
    let Some(browser) = browser_or_skip() else {
        return;
    };
    let shots = std::env::var_os("CLAIMLAB_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| out.join("screenshots"));
    std::fs::create_dir_all(&shots).unwrap();
    let dirs: Vec<String> = entries(out)
        .into_iter()
        .filter(|d| out.join(d).join("report.html").is_file())
        .collect();
    assert!(!dirs.is_empty(), "no report.html under {}", out.display());
    // Three browsers at a time: each mostly waits on its own start.
    let failures: Vec<String> = std::thread::scope(|scope| {
        let mut failures = Vec::new();
        for chunk in dirs.chunks(3) {
            let handles: Vec<_> = chunk
                .iter()
                .map(|d| {
                    let (browser, shots) = (&browser, &shots);
                    scope.spawn(move || {
                        let dir = out.join(d);
                        let html = dir.join("report.html");
                        let work = tempdir();
                        let seen = probe(browser, &html, work.path());
                        screenshot(browser, &html, &shots.join(format!("{d}.png")), work.path());
                        let want = std::fs::read_to_string(&html)
                            .unwrap()
                            .matches("<img ")
                            .count() as u32;
                        let mut bad = Vec::new();
                        if seen.scroll_width > seen.client_width {
                            bad.push(format!(
                                "{d}: the page is {} px wide at a {} px window",
                                seen.scroll_width, seen.client_width
                            ));
                        }
                        if seen.broken > 0 || seen.images != want {
                            bad.push(format!(
                                "{d}: {} of {} images did not load ({want} in the page)",
                                seen.broken, seen.images
                            ));
                        }
                        bad
                    })
                })
                .collect();
            for h in handles {
                failures.extend(h.join().unwrap());
            }
        }
        failures
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!(
        "browser: {} reports checked at {WIDTH} px; screenshots in {}",
        dirs.len(),
        shots.display()
    );
}

/// The probe sees what it must catch: a page wider than the window, an image that did not load.
#[test]
fn browser_probe_catches_overflow_and_broken_images() {
    let Some(browser) = browser_or_skip() else {
        return;
    };
    let t = tempdir();
    let html = t.path().join("report.html");
    std::fs::write(
        &html,
        "<!doctype html><html><body><div style=\"width:2000px\">wide</div>\
         <img src=\"data:image/png;base64,AAAA\"></body></html>",
    )
    .unwrap();
    let seen = probe(&browser, &html, t.path());
    assert!(seen.scroll_width >= 2000, "{seen:?}");
    assert_eq!((seen.images, seen.broken), (1, 1), "{seen:?}");
}
