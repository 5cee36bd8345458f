//! Latency percentiles, error tallies, and the server's CPU and memory read from /proc.

use std::collections::BTreeMap;

/// Latencies in microseconds.
#[derive(Default, Clone)]
pub struct Latencies(pub Vec<u32>);

impl Latencies {
    pub fn push_us(&mut self, us: u64) {
        self.0.push(us.min(u64::from(u32::MAX)) as u32);
    }

    pub fn merge(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }

    /// The q-quantile (0..=1) in milliseconds, nearest rank; 0 when empty.
    pub fn quantile_ms(&mut self, q: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        self.0.sort_unstable();
        let rank = ((q * self.0.len() as f64).ceil() as usize).clamp(1, self.0.len());
        f64::from(self.0[rank - 1]) / 1000.0
    }

    pub fn max_ms(&self) -> f64 {
        self.0.iter().max().map_or(0.0, |&m| f64::from(m) / 1000.0)
    }
}

/// Error messages counted by kind (the first words of the message).
#[derive(Default)]
pub struct Errors {
    pub total: u64,
    kinds: BTreeMap<String, u64>,
}

impl Errors {
    pub fn add(&mut self, e: &anyhow::Error) {
        self.total += 1;
        let mut kind = format!("{e:#}");
        if kind.len() > 120 {
            let mut cut = 120;
            while !kind.is_char_boundary(cut) {
                cut -= 1;
            }
            kind.truncate(cut);
        }
        *self.kinds.entry(kind).or_default() += 1;
    }

    pub fn add_kind(&mut self, kind: &str) {
        self.total += 1;
        *self.kinds.entry(kind.to_owned()).or_default() += 1;
    }

    pub fn merge(&mut self, other: Errors) {
        self.total += other.total;
        for (k, v) in other.kinds {
            *self.kinds.entry(k).or_default() += v;
        }
    }

    /// The five most frequent kinds, as JSON.
    pub fn json(&self) -> serde_json::Value {
        let mut v: Vec<(&String, &u64)> = self.kinds.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1));
        serde_json::Value::Object(
            v.into_iter()
                .take(5)
                .map(|(k, n)| (k.clone(), serde_json::json!(n)))
                .collect(),
        )
    }
}

/// CPU and memory of some processes (the server: one PID, or several for a
/// server made of several processes), read from /proc.
#[derive(Clone, Default)]
pub struct Procs(pub Vec<u32>);

/// Clock ticks per second of /proc/PID/stat (USER_HZ, 100 on Linux).
const TICKS: f64 = 100.0;

impl Procs {
    pub fn parse(s: Option<&str>) -> anyhow::Result<Procs> {
        let Some(s) = s else {
            return Ok(Procs::default());
        };
        let pids = s
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|p| p.trim().parse::<u32>())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Procs(pids))
    }

    /// utime + stime, in seconds, summed over the processes (None without a PID).
    pub fn cpu_s(&self) -> Option<f64> {
        if self.0.is_empty() {
            return None;
        }
        let mut total = 0.0;
        for pid in &self.0 {
            total += cpu_of(&format!("/proc/{pid}/stat"))?;
        }
        Some(total)
    }

    /// VmRSS in KiB, summed.
    pub fn rss_kib(&self) -> Option<u64> {
        if self.0.is_empty() {
            return None;
        }
        let mut total = 0;
        for pid in &self.0 {
            total += rss_of(&format!("/proc/{pid}/status"))?;
        }
        Some(total)
    }
}

/// utime + stime of the process reading it.
pub fn self_cpu_s() -> f64 {
    cpu_of("/proc/self/stat").unwrap_or(0.0)
}

/// VmRSS of the process reading it, KiB.
pub fn self_rss_kib() -> u64 {
    rss_of("/proc/self/status").unwrap_or(0)
}

fn cpu_of(path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) may contain spaces: fields are counted after ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After ')': field 3 is index 0, so utime (14) is 11 and stime (15) is 12.
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS)
}

fn rss_of(path: &str) -> Option<u64> {
    let status = std::fs::read_to_string(path).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Slab memory of the kernel (KiB, /proc/meminfo): socket buffers and structures of
/// both ends of every loopback connection.
pub fn slab_kib() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("Slab:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Rounds to 3 decimals for the report.
pub fn r3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_nearest_rank() {
        let mut l = Latencies::default();
        for us in 1..=1000 {
            l.push_us(us * 1000);
        }
        assert_eq!(l.quantile_ms(0.5), 500.0);
        assert_eq!(l.quantile_ms(0.99), 990.0);
        assert_eq!(l.quantile_ms(0.999), 999.0);
        assert_eq!(l.quantile_ms(1.0), 1000.0);
    }

    #[test]
    fn reads_our_own_process() {
        let me = Procs(vec![std::process::id()]);
        assert!(me.cpu_s().is_some());
        assert!(me.rss_kib().unwrap() > 0);
    }
}
