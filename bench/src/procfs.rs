//! What the benchmarks read of processes from /proc: CPU time (a process's,
//! and named threads' of this one) and memory fields.

/// This process's (or `pid`'s) CPU time, user + system, from /proc.
pub fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command (which may hold spaces) start after ") ".
    let rest = stat.rsplit_once(") ")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // /proc reports in USER_HZ, which Linux fixes at 100 for user space.
    Some(ticks as f64 / 100.0)
}

/// The threads whose CPU the benchmark reports apart, by their names in
/// /proc/self/task: the disk watch's own and notify's (where its event
/// handler runs), and the sharpness scorer's.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadCpu {
    pub watch: f64,
    pub notify: f64,
    pub sharpness: f64,
}

impl ThreadCpu {
    /// CPU time (user + system) of each, now.
    pub fn read() -> Self {
        let mut ticks = [0u64; 3];
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return Self::default();
        };
        for task in tasks.flatten() {
            let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
                continue;
            };
            let Some((head, rest)) = stat.rsplit_once(") ") else {
                continue;
            };
            let comm = head.split_once(" (").map_or("", |(_, c)| c);
            let which = match comm {
                "seaframe-watch" => 0,
                c if c.starts_with("notify-rs") => 1,
                "sharpness" => 2,
                _ => continue,
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let field = |i: usize| {
                fields
                    .get(i)
                    .and_then(|f| f.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            ticks[which] += field(11) + field(12);
        }
        let [watch, notify, sharpness] = ticks.map(|t| t as f64 / 100.0);
        Self {
            watch,
            notify,
            sharpness,
        }
    }

    pub fn since(self, before: Self) -> Self {
        Self {
            watch: self.watch - before.watch,
            notify: self.notify - before.notify,
            sharpness: self.sharpness - before.sharpness,
        }
    }
}

/// A `kB` field of /proc/PID/`file` (`None`: this process).
pub fn proc_kib(pid: Option<u32>, file: &str, field: &str) -> Option<u64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/{file}"),
        None => format!("/proc/self/{file}"),
    };
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
