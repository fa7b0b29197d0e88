//! CPU seconds from /proc: a process, a process tree (PostgreSQL), this
//! process's threads by name (each shore instance's runtime).

use super::*;

/// CPU seconds (user + system) from a `/proc/…/stat` line: fields 14 and 15,
/// counted after the `)` that closes the command name.
pub fn stat_cpu_s(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / USER_HZ)
}

pub fn pid_cpu_s(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| stat_cpu_s(&s))
        .unwrap_or(0.0)
}

/// CPU seconds of this process's threads, by thread name.
pub fn threads_cpu_s() -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for task in std::fs::read_dir("/proc/self/task").into_iter().flatten() {
        let Ok(task) = task else { continue };
        let path = task.path();
        let (Ok(name), Ok(stat)) = (
            std::fs::read_to_string(path.join("comm")),
            std::fs::read_to_string(path.join("stat")),
        ) else {
            continue;
        };
        *out.entry(name.trim().to_owned()).or_insert(0.0) += stat_cpu_s(&stat).unwrap_or(0.0);
    }
    out
}

/// CPU seconds of the live children of `parent` (PostgreSQL's backends and
/// helpers under its postmaster) plus the parent's own.
pub fn tree_cpu_s(parent: u32) -> f64 {
    let mut total = pid_cpu_s(parent);
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let ppid = stat
            .rfind(')')
            .and_then(|i| stat[i + 2..].split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) {
            total += stat_cpu_s(&stat).unwrap_or(0.0);
        }
    }
    total
}

/// The CPU seconds of everything the benchmark measures, at one instant.
#[derive(Debug, Default, Clone)]
pub struct Cpu {
    pub instances: Vec<f64>,
    pub broker: f64,
    pub s3: Option<f64>,
    pub postgres: Option<f64>,
}

pub struct Peers {
    pub broker_pid: Option<u32>,
    pub s3_pid: Option<u32>,
    pub s3_name: &'static str,
    pub postmaster_pid: Option<u32>,
    pub instance_names: Vec<String>,
}

impl Peers {
    pub fn sample(&self) -> Cpu {
        let threads = threads_cpu_s();
        Cpu {
            instances: self
                .instance_names
                .iter()
                .map(|n| threads.get(n).copied().unwrap_or(0.0))
                .collect(),
            broker: self.broker_pid.map_or(0.0, pid_cpu_s),
            s3: self.s3_pid.map(pid_cpu_s),
            postgres: self.postmaster_pid.map(tree_cpu_s),
        }
    }
}
