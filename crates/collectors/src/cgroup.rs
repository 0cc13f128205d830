//! Reading the pod uid and container id out of a kubelet-managed cgroup path, for both
//! cgroup drivers (cgroupfs: `/kubepods/burstable/pod<uid>/<id>`; systemd:
//! `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_with_underscores>.slice/cri-containerd-<id>.scope`)
//! and both runtimes' scope names (containerd `cri-containerd-`, CRI-O `crio-`).

/// Pod uid and container id found in a cgroup path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupIds {
    pub pod_uid: Option<String>,
    pub container_id: Option<String>,
}

/// Parses a cgroup path; `None` when it is not under `kubepods`.
pub fn parse_cgroup_path(path: &str) -> Option<CgroupIds> {
    if !path.contains("kubepods") {
        return None;
    }
    let mut ids = CgroupIds {
        pod_uid: None,
        container_id: None,
    };
    for part in path.split('/').filter(|p| !p.is_empty()) {
        let part = part
            .strip_suffix(".slice")
            .or_else(|| part.strip_suffix(".scope"))
            .unwrap_or(part);
        if let Some(pos) = part.rfind("pod") {
            let candidate = &part[pos + 3..];
            if is_uid(candidate) {
                ids.pod_uid = Some(candidate.replace('_', "-"));
                continue;
            }
        }
        let id = part
            .strip_prefix("cri-containerd-")
            .or_else(|| part.strip_prefix("crio-"))
            .or_else(|| part.strip_prefix("docker-"))
            .unwrap_or(part);
        if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
            ids.container_id = Some(id.to_owned());
        }
    }
    Some(ids)
}

fn is_uid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| {
            if [8, 13, 18, 23].contains(&i) {
                b == b'-' || b == b'_'
            } else {
                b.is_ascii_hexdigit()
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ID: &str = "0b7f0a7c4a3e2b1d9f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6b5a49382";

    #[test]
    fn cgroupfs_driver_paths() {
        let p = format!("/kubepods/burstable/pod6f2a8f3c-1b2d-4e5f-8a9b-0c1d2e3f4a5b/{ID}");
        let ids = parse_cgroup_path(&p).unwrap();
        assert_eq!(
            ids.pod_uid.as_deref(),
            Some("6f2a8f3c-1b2d-4e5f-8a9b-0c1d2e3f4a5b")
        );
        assert_eq!(ids.container_id.as_deref(), Some(ID));
    }

    #[test]
    fn systemd_driver_paths_with_containerd_and_crio() {
        for prefix in ["cri-containerd-", "crio-"] {
            let p = format!(
                "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod6f2a8f3c_1b2d_4e5f_8a9b_0c1d2e3f4a5b.slice/{prefix}{ID}.scope"
            );
            let ids = parse_cgroup_path(&p).unwrap();
            assert_eq!(
                ids.pod_uid.as_deref(),
                Some("6f2a8f3c-1b2d-4e5f-8a9b-0c1d2e3f4a5b")
            );
            assert_eq!(ids.container_id.as_deref(), Some(ID));
        }
    }

    #[test]
    fn guaranteed_pods_have_no_qos_level() {
        let p = "/kubepods.slice/kubepods-pod6f2a8f3c_1b2d_4e5f_8a9b_0c1d2e3f4a5b.slice";
        let ids = parse_cgroup_path(p).unwrap();
        assert_eq!(
            ids.pod_uid.as_deref(),
            Some("6f2a8f3c-1b2d-4e5f-8a9b-0c1d2e3f4a5b")
        );
        assert_eq!(ids.container_id, None);
    }

    #[test]
    fn non_pod_cgroups_are_not_pods() {
        assert_eq!(parse_cgroup_path("/system.slice/containerd.service"), None);
    }

    proptest! {
        #[test]
        fn never_panics(s in "[a-z0-9_./-]{0,200}") {
            let _ = parse_cgroup_path(&s);
        }
    }
}
