//! Resident memory of this process, from /proc/self/status (Linux).

use serde::{Deserialize, Serialize};

/// Resident set size and its split into file-backed pages (mmap'd weights count here) and
/// anonymous pages (heap copies of the weights, KV cache, compute buffers), in MiB.
#[derive(Copy, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Resident {
    /// Resident set size (`VmRSS`), MiB.
    pub rss_mib: f64,
    /// File-backed resident pages (`RssFile`), MiB; 0 where the kernel omits the line.
    pub file_mib: f64,
    /// Anonymous resident pages (`RssAnon`), MiB; 0 where the kernel omits the line.
    pub anon_mib: f64,
}

/// Parses the `VmRSS`, `RssFile` and `RssAnon` lines (values in kB).
pub fn parse_status(status: &str) -> Option<Resident> {
    let kib = |key: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        let value = line[key.len()..].trim().strip_suffix("kB")?.trim();
        value.parse::<f64>().ok().map(|k| k / 1024.0)
    };
    Some(Resident {
        rss_mib: kib("VmRSS:")?,
        file_mib: kib("RssFile:").unwrap_or(0.0),
        anon_mib: kib("RssAnon:").unwrap_or(0.0),
    })
}

/// This process's resident memory now; `None` where /proc is not available.
pub fn resident() -> Option<Resident> {
    parse_status(&std::fs::read_to_string("/proc/self/status").ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_rss_lines() {
        let status =
            "Name:\tx\nVmRSS:\t  204800 kB\nRssAnon:\t  102400 kB\nRssFile:\t   51200 kB\n";
        let r = parse_status(status).unwrap();
        assert_eq!(
            r,
            Resident {
                rss_mib: 200.0,
                file_mib: 50.0,
                anon_mib: 100.0
            }
        );
        assert_eq!(parse_status("Name:\tx\n"), None);
    }

    #[test]
    fn reads_this_process() {
        if cfg!(target_os = "linux") {
            assert!(resident().unwrap().rss_mib > 0.0);
        }
    }
}
