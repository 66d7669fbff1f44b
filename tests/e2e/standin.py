"""Stand-in for the commands of helm, kubectl and terraform that need a cluster or providers.

Installed as `helm`, `kubectl` and `terraform` in a directory the e2e tests put first on
the tool path. Every call is appended to $STANDIN_LOG (tool, arguments, start and end).
Commands that work offline (`helm template/lint/dependency/version`, `kubectl
kustomize/version --client`, `terraform version/fmt`) run the real binary. The others
play back a small cluster and stack kept in $STANDIN_STATE, and refuse what the real tool
would refuse: a flag its `--help` does not list (deprecated flags, hidden from help, are
refused too), a cluster command without an explicit context, an unknown context, a
stale resourceVersion, a saved plan that does not exist.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import yaml

REAL = {"helm": os.environ.get("STANDIN_REAL_HELM"), "kubectl": os.environ.get("STANDIN_REAL_KUBECTL"),
        "terraform": os.environ.get("STANDIN_REAL_TERRAFORM")}  # fmt: skip
STATE = Path(os.environ["STANDIN_STATE"])
LOG = Path(os.environ["STANDIN_LOG"])
HELP_CACHE = STATE.parent / "help-cache"


class Refused(Exception):
    """What the real tool prints on stderr before exiting 1."""


def real(tool: str, args: list[str]) -> int:
    """What works offline runs for real, with this process's streams."""
    return subprocess.run([REAL[tool], *args], check=False).returncode


# --- flags, as the real tool's help lists them ------------------------------------------------


def _help_text(tool: str, words: list[str]) -> str:
    HELP_CACHE.mkdir(exist_ok=True)
    cached = HELP_CACHE / f"{tool}-{'-'.join(words) or 'root'}.txt"
    if not cached.exists():
        if tool == "terraform":
            commands = [[REAL[tool], *words, "-help"]] + ([[REAL[tool], "-help"]] if words else [])
        elif tool == "kubectl":
            commands = [[REAL[tool], *words, "--help"], [REAL[tool], "options"]]
        else:
            commands = [[REAL[tool], *words, "--help"]]
        env = {**os.environ, "TF_CLI_CONFIG_FILE": "/dev/null"}
        text = "".join(subprocess.run(c, capture_output=True, text=True, env=env).stdout for c in commands)
        cached.write_text(text)
    return cached.read_text()


def flag_table(tool: str, words: list[str]) -> dict[str, str]:
    """flag name -> 'bool', 'value' or 'optional' (a value only after '=')."""
    flags: dict[str, str] = {}
    for line in _help_text(tool, words).splitlines():
        if tool == "helm":
            match = re.match(r"^\s+(?:-(\w), )?--([\w-]+)(?: (\S+))?", line)
            if match:
                short, name, kind = match.groups()
                kind = "bool" if kind is None else "optional" if "[=" in kind else "value"
                flags[name] = kind
                if short:
                    flags[short] = kind
        elif tool == "kubectl":
            match = re.match(r"^\s+(?:-(\w), )?--([\w-]+)=(\S*):$", line)
            if match:
                short, name, default = match.groups()
                kind = "bool" if default in ("false", "true") else "value"
                flags[name] = kind
                if short:
                    flags[short] = kind
        else:
            match = re.match(r"^\s+-([\w-]+)(=\S+)?", line)
            if match:
                name, default = match.groups()
                flags[name] = "bool" if default in (None, "=false", "=true") else "value"
    return flags


def parse(tool: str, words: list[str], args: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """Flags (repeatable) and positional arguments; an unknown flag is refused as the tool would."""
    table = flag_table(tool, words)
    flags: dict[str, list[str]] = {}
    positional: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg == "-" or not arg.startswith("-"):
            positional.append(arg)
            continue
        name, _, inline = arg.lstrip("-").partition("=")
        kind = table.get(name)
        if kind is None:
            if tool == "terraform":
                raise Refused(f"flag provided but not defined: -{name}")
            raise Refused(f"Error: unknown flag: {arg.split('=')[0]}" if tool == "helm"
                          else f"error: unknown flag: {arg.split('=')[0]}")  # fmt: skip
        if kind == "value" and not inline and "=" not in arg:
            if index >= len(args):
                raise Refused(f"Error: flag needs an argument: {arg}")
            inline = args[index]
            index += 1
        flags.setdefault(name, []).append(inline or "true")
    return flags, positional


# --- shared state --------------------------------------------------------------------------


@contextmanager
def state():
    with open(STATE.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(STATE.read_text())
        yield data
        STATE.write_text(json.dumps(data, indent=1))


def read_state() -> dict:
    with state() as data:
        return data


def require_context(flags: dict[str, list[str]], name: str) -> str:
    context = (flags.get(name) or [None])[-1]
    if not context:
        raise Refused(f"no {name} given: the stand-in refuses to guess the current context")
    if context not in read_state()["contexts"]:
        raise Refused(
            f"Unable to connect to the server: dial tcp: lookup {context}.cluster.invalid: no such host"
        )
    return context


# --- helm -----------------------------------------------------------------------------------

HELM_OFFLINE = {"template", "lint", "dependency", "version", "show", "package", "env"}


def helm(args: list[str]) -> int:
    command = verb("helm", args) if args else "help"
    if command in HELM_OFFLINE:
        return real("helm", args)
    flags, positional = parse("helm", [command], args)
    positional.remove(command)
    require_context(flags, "kube-context")
    namespace = (flags.get("namespace") or flags.get("n") or ["default"])[-1]
    if command == "upgrade":
        return helm_upgrade(flags, positional, namespace)
    if command == "status":
        history = _history(positional[0], namespace)
        if not history:
            raise Refused("Error: release: not found")
        latest = history[-1]
        print(json.dumps({"name": positional[0], "namespace": namespace, "version": latest["revision"],
                          "info": {"status": latest["status"]}}))  # fmt: skip
        return 0
    if command == "history":
        print(json.dumps(_history(positional[0], namespace)))
        return 0
    if command == "list":
        with state() as data:
            rows = []
            for key, history in data["helm"].items():
                namespace, name = key.split("/")
                latest = history[-1]
                rows.append({"name": name, "namespace": namespace, "revision": str(latest["revision"]),
                             "status": latest["status"], "chart": latest["chart"]})  # fmt: skip
        print(json.dumps(rows))
        return 0
    if command == "rollback":
        return helm_rollback(positional, namespace)
    if command == "uninstall":
        with state() as data:
            if not data["helm"].pop(f"{namespace}/{positional[0]}", None):
                raise Refused(f"Error: uninstall: Release not loaded: {positional[0]}: release: not found")
        print(f'release "{positional[0]}" uninstalled')
        return 0
    raise Refused(f"the stand-in does not play back helm {command}")


def _history(name: str, namespace: str) -> list[dict]:
    return read_state()["helm"].get(f"{namespace}/{name}", [])


def helm_upgrade(flags: dict[str, list[str]], positional: list[str], namespace: str) -> int:
    if "install" not in flags or len(positional) != 2:
        raise Refused('Error: "helm upgrade" requires 2 arguments')
    name, chart = positional
    if chart.startswith("/") and not Path(chart, "Chart.yaml").is_file():
        raise Refused(f"Error: path {chart!r} not found")
    if any(repo.startswith("oci://") for repo in flags.get("repo", [])):
        raise Refused(f'Error: looks like "{flags["repo"][-1]}" is not a valid chart repository or cannot '
                      "be reached: unsupported protocol scheme \"oci\"")  # fmt: skip
    remote = chart.startswith("oci://") or "repo" in flags
    if not chart.startswith("/") and not (remote and "version" in flags):
        raise Refused(f"Error: repo {chart} not found")
    for values in flags.get("values", []) + flags.get("f", []):
        if not Path(values).is_file():
            raise Refused(f"Error: open {values}: no such file or directory")
    settings = read_state()
    time.sleep(settings.get("install_seconds", 0.2))  # long enough for a wave's installs to overlap
    if name == settings.get("interrupt_on"):
        os.kill(os.getppid(), signal.SIGINT)  # Ctrl-C reaches the whole foreground process group
        time.sleep(1)
        return 130
    if name in settings.get("fail", []):
        raise Refused(f"Error: UPGRADE FAILED: release {name} failed, and has been rolled back due to "
                      "rollback-on-failure being set: context deadline exceeded")  # fmt: skip
    with state() as data:
        history = data["helm"].setdefault(f"{namespace}/{name}", [])
        for entry in history:
            entry["status"] = "superseded"
        history.append({"revision": len(history) + 1, "status": "deployed", "chart": Path(chart).name})
    print(f'Release "{name}" has been upgraded. Happy Helming!')
    return 0


def helm_rollback(positional: list[str], namespace: str) -> int:
    name = positional[0]
    with state() as data:
        history = data["helm"].get(f"{namespace}/{name}")
        if not history:
            raise Refused("Error: release: not found")
        target = int(positional[1]) if len(positional) > 1 else history[-1]["revision"] - 1
        source = next((entry for entry in history if entry["revision"] == target), None)
        if source is None:
            raise Refused(f"Error: release has no {target} version")
        for entry in history:
            entry["status"] = "superseded"
        history.append({"revision": len(history) + 1, "status": "deployed", "chart": source["chart"],
                        "rolled_back_to": target})  # fmt: skip
    print("Rollback was a success! Happy Helming!")
    return 0


# --- kubectl --------------------------------------------------------------------------------


BUILT_IN_NAMESPACES = ("default", "kube-system")  # every cluster has them


def kubectl(args: list[str]) -> int:
    if args[:1] == ["kustomize"] or args[:2] == ["version", "--client"]:
        return real("kubectl", args)
    flags, positional = parse("kubectl", [verb("kubectl", args)], args)
    require_context(flags, "context")
    action, rest = positional[0], positional[1:]
    namespace = (flags.get("namespace") or flags.get("n") or ["default"])[-1]
    if action == "version":
        print(json.dumps({"serverVersion": {"major": "1", "minor": "35", "gitVersion": "v1.35.0"}}))
        return 0
    if action in ("create", "replace"):
        return kubectl_write(action, json.loads(sys.stdin.read()))
    if action == "get" and rest[0] == "lease":
        lease = read_state()["leases"].get(f"{namespace}/{rest[1]}")
        if lease is None:
            raise Refused(f'Error from server (NotFound): leases.coordination.k8s.io "{rest[1]}" not found')
        print(json.dumps(lease))
        return 0
    if action == "get" and rest[0] == "applications.argoproj.io":
        label = flags.get("l", flags.get("selector", [""]))[-1]
        key, _, value = label.partition("=")
        items = [app for app in read_state()["applications"].values()
                 if app["metadata"]["labels"].get(key) == value]  # fmt: skip
        print(json.dumps({"items": items}))
        return 0
    if action == "patch" and rest[0] == "applications.argoproj.io":
        return argo_sync(rest[1], json.loads(flags["p"][-1]))
    if action == "apply":
        return kubectl_apply(flags, namespace)
    if action == "get" and rest[0] == "services":
        print(json.dumps({"items": read_state().get("services", [])}))
        return 0
    raise Refused(f"the stand-in does not play back kubectl {' '.join(positional)}")


def verb(tool: str, args: list[str]) -> str:
    """The first positional argument, skipping global options and their values."""
    globals_ = flag_table(tool, [])
    index = 0
    while index < len(args):
        arg = args[index]
        if not arg.startswith("-"):
            return arg
        name = arg.lstrip("-")
        index += 2 if globals_.get(name) == "value" and "=" not in arg else 1
    raise Refused("error: no command given")


def kubectl_write(verb: str, body: dict) -> int:
    meta = body["metadata"]
    key = f"{meta['namespace']}/{meta['name']}"
    with state() as data:
        if meta["namespace"] not in [*data["namespaces"], *BUILT_IN_NAMESPACES]:
            raise Refused(f'Error from server (NotFound): namespaces "{meta["namespace"]}" not found')
        existing = data["leases"].get(key)
        if verb == "create":
            if existing is not None:
                resource = f'leases.coordination.k8s.io "{meta["name"]}"'
                raise Refused(f"Error from server (AlreadyExists): {resource} already exists")
            meta["resourceVersion"] = "1"
        else:
            if existing is None:
                raise Refused(
                    f'Error from server (NotFound): leases.coordination.k8s.io "{meta["name"]}" not found'
                )
            if meta.get("resourceVersion") != existing["metadata"]["resourceVersion"]:
                raise Refused(
                    "Error from server (Conflict): Operation cannot be fulfilled on leases: the object has "
                    "been modified; please apply your changes to the latest version and try again"
                )
            meta["resourceVersion"] = str(int(existing["metadata"]["resourceVersion"]) + 1)
        data["leases"][key] = body
    print(f"lease.coordination.k8s.io/{meta['name']} {verb}d")
    return 0


def kubectl_apply(flags: dict[str, list[str]], namespace: str) -> int:
    """Server-side apply of objects from stdin: kept by kind, namespace and name, so applying the
    same object again changes nothing."""
    if flags.get("f") != ["-"] or "server-side" not in flags:
        raise Refused("the stand-in plays back only `kubectl apply --server-side -f -`")
    with state() as data:
        applied = data.setdefault("applied", {})
        for body in yaml.safe_load_all(sys.stdin.read()):
            meta = body["metadata"]
            target = meta.get("namespace", namespace)
            if target not in [*data["namespaces"], *BUILT_IN_NAMESPACES]:
                raise Refused(f'Error from server (NotFound): namespaces "{target}" not found')
            key = f"{body['kind']}/{target}/{meta['name']}"
            outcome = "unchanged" if applied.get(key) == body else "serverside-applied"
            print(f"{body['kind'].lower()}/{meta['name']} {outcome}")
            applied[key] = body
    return 0


def argo_sync(name: str, patch: dict) -> int:
    with state() as data:
        app = data["applications"].get(name)
        if app is None:
            raise Refused(f'Error from server (NotFound): applications.argoproj.io "{name}" not found')
        revision = patch["operation"]["sync"]["revision"]
        status = app.setdefault("status", {})
        history = status.setdefault("history", [])
        history.append({"id": len(history), "revision": revision})
        status["sync"] = {"status": "Synced", "revision": revision}
        status["health"] = {"status": "Healthy"}
        status["operationState"] = {"operation": patch["operation"], "phase": "Succeeded"}
    print(f"application.argoproj.io/{name} patched")
    return 0


# --- terraform ------------------------------------------------------------------------------


def terraform(args: list[str]) -> int:
    chdir = next((arg.split("=", 1)[1] for arg in args if arg.startswith("-chdir=")), None)
    rest = [arg for arg in args if not arg.startswith("-chdir=")]
    if not rest or rest[0] in ("version", "fmt", "-version"):
        return real("terraform", args)
    command = rest[0]
    flags, positional = parse("terraform", [command], rest[1:])
    if chdir is None or not Path(chdir, "main.tf").is_file():
        raise Refused("Error: No configuration files")
    if command != "init" and not read_state().get("initialised", {}).get(chdir):
        raise Refused('Error: Backend initialization required, please run "terraform init"')
    if command == "init":
        for path in flags.get("backend-config", []):
            if not Path(path).is_file():
                raise Refused(f"Error: Failed to read file: {path}")
        if "backend-config" in flags:
            with state() as data:
                data.setdefault("initialised", {})[chdir] = True
        print("Terraform has been successfully initialized!")
        return 0
    if command == "plan":
        out = flags["out"][-1]
        content = f"standin-plan {chdir} {time.time_ns()}\n"
        Path(out).write_text(content)
        with state() as data:
            data.setdefault("plans", {})[out] = content
        print("Plan: 3 to add, 1 to change, 0 to destroy.")
        return 0
    if command == "show":
        if not Path(positional[0]).is_file():
            raise Refused(f"Error: Failed to read the given file as a state or plan file: {positional[0]}")
        print(json.dumps(read_state()["plan"]))
        return 0
    if command == "apply":
        if not Path(positional[0]).is_file():
            raise Refused(f"Error: Failed to load {positional[0]!r} as a plan file")
        if read_state().get("plans", {}).get(positional[0]) != Path(positional[0]).read_text():
            raise Refused("Error: Saved plan is stale: it was not made by the last plan of this stack")
        time.sleep(read_state().get("apply_seconds", 0))
        print("Apply complete! Resources: 3 added, 1 changed, 0 destroyed.")
        return 0
    if command == "destroy":
        print("Destroy complete! Resources: 5 destroyed.")
        return 0
    raise Refused(f"the stand-in does not play back terraform {command}")


def main() -> int:
    tool, args = Path(sys.argv[0]).name, sys.argv[1:]
    started = time.time()
    code = 1
    try:
        code = {"helm": helm, "kubectl": kubectl, "terraform": terraform}[tool](args)
    except Refused as refusal:
        print(str(refusal), file=sys.stderr)
        code = 1
    finally:
        entry = {"tool": tool, "args": args, "start": started, "end": time.time(), "code": code}
        with open(LOG, "a") as log:
            fcntl.flock(log, fcntl.LOCK_EX)
            log.write(json.dumps(entry) + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
