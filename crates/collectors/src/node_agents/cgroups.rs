//! Where a cgroup id leads. The kernel names a cgroup by the id of its kernfs node, which
//! is the inode number of its directory; Tapio's eBPF program reports the id of a task's
//! memory-controller cgroup, and this index turns it back into the cgroup's path (whose
//! kubelet-made names carry the pod uid and container id, see [`crate::cgroup`]).

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How deep the kubelet nests cgroups is bounded (kubepods/qos/pod/container); this
/// leaves room for runtimes that nest a few more levels.
const MAX_DEPTH: usize = 12;

/// A rescan on a miss happens at most this often, so that a burst of events from
/// cgroups that are already gone cannot turn into a burst of directory walks.
const MIN_RESCAN_INTERVAL: Duration = Duration::from_millis(50);

/// Why no cgroup hierarchy with a controller could be found.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: io::Error },
    #[error("no cgroup hierarchy with the {controller} controller is mounted (checked {checked})")]
    NoHierarchy {
        controller: &'static str,
        checked: String,
    },
}

/// The mount of the hierarchy that holds one controller (`memory`, `cpu`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Where it is mounted, e.g. `/sys/fs/cgroup/memory` (v1) or `/sys/fs/cgroup` (v2).
    pub mount_point: PathBuf,
    /// The cgroup the mount shows as its root (`/` unless inside a cgroup namespace).
    pub root: String,
    /// cgroup v2 (unified) rather than v1.
    pub unified: bool,
}

impl Hierarchy {
    /// Finds it in `/proc/self/mountinfo`: the v1 hierarchy with `controller` if there is
    /// one (then v2 does not have the controller), else the v2 hierarchy.
    pub fn discover(controller: &'static str) -> Result<Self, CgroupError> {
        let path = "/proc/self/mountinfo";
        let text = fs::read_to_string(path).map_err(|source| CgroupError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_mountinfo(&text, controller).ok_or(CgroupError::NoHierarchy {
            controller,
            checked: path.to_owned(),
        })
    }

    /// Picks the hierarchy of `controller` out of mountinfo text (`proc(5)`).
    pub fn from_mountinfo(text: &str, controller: &str) -> Option<Self> {
        let mut unified = None;
        for line in text.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let fields: Vec<&str> = left.split(' ').collect();
            let theirs: Vec<&str> = right.split(' ').collect();
            let (Some(root), Some(mount_point), Some(fstype)) =
                (fields.get(3), fields.get(4), theirs.first())
            else {
                continue;
            };
            let mount = |unified| Self {
                mount_point: PathBuf::from(unescape(mount_point)),
                root: unescape(root),
                unified,
            };
            match *fstype {
                "cgroup"
                    if theirs
                        .get(2)
                        .is_some_and(|o| o.split(',').any(|o| o == controller)) =>
                {
                    return Some(mount(false));
                }
                "cgroup2" if unified.is_none() => unified = Some(mount(true)),
                _ => {}
            }
        }
        unified
    }
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// Visits every cgroup directory under `dir` (named `name`, its path from the
/// hierarchy's root), at most `MAX_DEPTH` levels down; `visit` returns whether to go
/// below the directory it was given.
pub fn walk(dir: &Path, name: &str, visit: &mut impl FnMut(&Path, &str) -> bool) {
    walk_at(dir, name, 0, visit);
}

fn walk_at(dir: &Path, name: &str, depth: usize, visit: &mut impl FnMut(&Path, &str) -> bool) {
    let name = if name.is_empty() { "/" } else { name };
    if !visit(dir, name) || depth >= MAX_DEPTH {
        return;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            let child = format!(
                "{}/{}",
                name.trim_end_matches('/'),
                entry.file_name().to_string_lossy()
            );
            walk_at(&entry.path(), &child, depth + 1, visit);
        }
    }
}

/// Cgroup id → path (as the kernel names it: from the hierarchy's root, starting `/`).
#[derive(Debug)]
pub struct CgroupIndex {
    hierarchy: Hierarchy,
    paths: HashMap<u64, String>,
    last_scan: Option<Instant>,
}

impl CgroupIndex {
    /// An index of `hierarchy`, filled on first use.
    pub fn new(hierarchy: Hierarchy) -> Self {
        Self {
            hierarchy,
            paths: HashMap::new(),
            last_scan: None,
        }
    }

    /// The hierarchy it indexes.
    pub fn hierarchy(&self) -> &Hierarchy {
        &self.hierarchy
    }

    /// The path of cgroup `id`, rescanning the hierarchy when it is not known yet (new
    /// cgroups appear all the time). `None` when it no longer exists.
    pub fn resolve(&mut self, id: u64) -> Option<&str> {
        if !self.paths.contains_key(&id)
            && self
                .last_scan
                .is_none_or(|t| t.elapsed() >= MIN_RESCAN_INTERVAL)
        {
            self.rescan();
        }
        self.paths.get(&id).map(String::as_str)
    }

    /// Rebuilds the index from the file system (so removed cgroups leave it).
    pub fn rescan(&mut self) {
        self.paths.clear();
        let base = self.hierarchy.root.trim_end_matches('/').to_owned();
        let paths = &mut self.paths;
        walk(&self.hierarchy.mount_point, &base, &mut |dir, name| {
            if let Ok(meta) = fs::metadata(dir) {
                paths.insert(meta.ino(), name.to_owned());
            }
            true
        });
        self.last_scan = Some(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "\
25 30 0:22 / /sys rw,nosuid - sysfs sysfs rw
34 25 0:29 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
38 34 0:33 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 34 0:34 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn v1_memory_hierarchy_wins_over_v2() {
        let h = Hierarchy::from_mountinfo(V1, "memory").unwrap();
        assert_eq!(h.mount_point, PathBuf::from("/sys/fs/cgroup/memory"));
        assert!(!h.unified);
    }

    #[test]
    fn pure_v2_hosts_use_the_unified_hierarchy() {
        let text = "30 25 0:26 /kubepods /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        let h = Hierarchy::from_mountinfo(text, "memory").unwrap();
        assert_eq!(h.mount_point, PathBuf::from("/sys/fs/cgroup"));
        assert_eq!(h.root, "/kubepods");
        assert!(h.unified);
        assert_eq!(
            Hierarchy::from_mountinfo("garbage\n\n - \n", "memory"),
            None
        );
    }

    #[test]
    fn ids_resolve_to_paths_from_the_root_of_a_real_tree() {
        let dir = std::env::temp_dir().join(format!("tapio-cgidx-{}", std::process::id()));
        let leaf = dir.join("kubepods/burstable/podx");
        fs::create_dir_all(&leaf).unwrap();
        let mut index = CgroupIndex::new(Hierarchy {
            mount_point: dir.clone(),
            root: "/".into(),
            unified: true,
        });
        let id = fs::metadata(&leaf).unwrap().ino();
        assert_eq!(index.resolve(id), Some("/kubepods/burstable/podx"));
        fs::remove_dir_all(&dir).unwrap();
        index.rescan();
        assert_eq!(index.resolve(id), None);
    }
}
