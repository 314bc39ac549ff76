"""Check a manifest's pod against the Pod Security Standards `restricted` profile (which includes `baseline`).

    violations(job_manifest) -> ["spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation: must be false", ...]

The rules follow the published profile: no host namespaces, ports or paths,
no privileged containers, only the allowed volume types, non-root, no
privilege escalation, every capability dropped (NET_BIND_SERVICE may be
added back), and a RuntimeDefault or Localhost seccomp profile.
"""

from __future__ import annotations

ALLOWED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}


def pod_spec_of(manifest: dict) -> tuple[str, dict]:
    kind = manifest.get("kind")
    if kind == "Pod":
        return "spec", manifest["spec"]
    if kind in {"Job", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}:
        return "spec.template.spec", manifest["spec"]["template"]["spec"]
    if kind == "CronJob":
        return "spec.jobTemplate.spec.template.spec", manifest["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return "", {}


def violations(manifest: dict) -> list[str]:
    path, pod = pod_spec_of(manifest)
    if not pod:
        return []
    found: list[str] = []
    pod_context = pod.get("securityContext") or {}
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(flag):
            found.append(f"{path}.{flag}: must be unset or false")
    for i, volume in enumerate(pod.get("volumes") or []):
        kinds = set(volume) - {"name"}
        if not kinds <= ALLOWED_VOLUMES:
            found.append(f"{path}.volumes[{i}]: volume type {', '.join(sorted(kinds))} is not allowed")
    for sysctl in pod_context.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            found.append(f"{path}.securityContext.sysctls: {sysctl.get('name')} is not a safe sysctl")
    if pod_context.get("runAsUser") == 0:
        found.append(f"{path}.securityContext.runAsUser: must not be 0")
    containers = [("initContainers", c) for c in pod.get("initContainers") or []]
    containers += [("containers", c) for c in pod.get("containers") or []]
    containers += [("ephemeralContainers", c) for c in pod.get("ephemeralContainers") or []]
    counters: dict[str, int] = {}
    for group, container in containers:
        index = counters[group] = counters.get(group, -1) + 1
        where = f"{path}.{group}[{index}]"
        found += _container_violations(where, container.get("securityContext") or {}, pod_context)
        if any(port.get("hostPort") for port in container.get("ports") or []):
            found.append(f"{where}.ports: hostPort is not allowed")
    return found


def _container_violations(where: str, context: dict, pod_context: dict) -> list[str]:
    found = []
    where = f"{where}.securityContext"
    if context.get("privileged"):
        found.append(f"{where}.privileged: must be unset or false")
    if context.get("allowPrivilegeEscalation") is not False:
        found.append(f"{where}.allowPrivilegeEscalation: must be false")
    if context.get("runAsNonRoot", pod_context.get("runAsNonRoot")) is not True:
        found.append(f"{where}.runAsNonRoot: must be true (here or in the pod's securityContext)")
    if context.get("runAsUser") == 0:
        found.append(f"{where}.runAsUser: must not be 0")
    seccomp = (context.get("seccompProfile") or pod_context.get("seccompProfile") or {}).get("type")
    if seccomp not in {"RuntimeDefault", "Localhost"}:
        found.append(f"{where}.seccompProfile.type: must be RuntimeDefault or Localhost, got {seccomp}")
    capabilities = context.get("capabilities") or {}
    if "ALL" not in (capabilities.get("drop") or []):
        found.append(f"{where}.capabilities.drop: must include ALL")
    extra = set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}
    if extra:
        found.append(f"{where}.capabilities.add: only NET_BIND_SERVICE may be added, got {', '.join(sorted(extra))}")
    if context.get("procMount", "Default") != "Default":
        found.append(f"{where}.procMount: must be Default")
    apparmor = (context.get("appArmorProfile") or {}).get("type")
    if apparmor not in (None, "RuntimeDefault", "Localhost"):
        found.append(f"{where}.appArmorProfile.type: must be RuntimeDefault or Localhost")
    return found
