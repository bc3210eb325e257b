#!/usr/bin/python3
"""Checks the deployment files: docker-compose.yml, deploy/Dockerfile, deploy/mosquitto/*.conf,
deploy/systemd/*, the env examples and the operators' guide (deploy/README.md).

No Docker engine runs on our machines, so nothing is built or started by Docker. Instead:

  --static   (ctest label unit) Debian's docker-compose 1.29 validates the compose file; every
             service, file, volume, binary, package, path, setting and metric the files name is
             checked against the repository, the Debian 12 package lists and the built binaries
             (their --help and ldd) when given; the systemd units go through
             `systemd-analyze verify`; the broker configs through the rules Mosquitto 2.0.11 and
             our plugin impose (listeners before the plugin line, known plugin_opt keys, ...).
  --broker   (ctest label integration) runs deploy/sparrow-keys-init and a real Mosquitto with
             each deploy/mosquitto config (paths moved to a temporary folder, ports free) and the
             built plugin: services connect on the plain listener, devices over TLS, and a token
             key rotation (stage, reload, switch, retire) behaves as deploy/README.md says.

Exit codes: 0 passed, 1 failed (every failure is listed), 77 skipped (a tool is missing; the
message says which; the checks that could run did run and passed).
"""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77
SERVICES_REQUIRED = ["mariadb", "broker1", "broker2", "bridge1", "bridge2", "offline", "authsvc",
                     "keys"]
LONG_RUNNING = [s for s in SERVICES_REQUIRED if s != "keys"]
SPARROW_SERVICES = ("sparrow-bridge", "sparrow-offline", "sparrow-authsvc")
PLUGIN_OPTS = {"public_key_file", "broker_id", "skew_ms"}
# Component folders of the top-level CMakeLists.txt the server image does not need.
NOT_IN_IMAGE = {"testing", "testing/stack", "client", "cli"}
# Packages of the debian:12 base image itself.
BASE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6"}
# Variables the units pass on command lines (not read by the binaries themselves).
UNIT_VARIABLES = {"SPARROW_METRICS_BIND"}
BINARIES = ["sparrow-bridge", "sparrow-offline", "sparrow-authsvc", "sparrow-token"]
FLAG_RE = r'add_option\(\s*"(--[a-z0-9-]+)'
ENV_RE = r'envname\("([A-Z0-9_]+)"\)'


class Checker:
    """Collects results: every failed check is reported, not only the first."""

    def __init__(self):
        self.failures = []
        self.skips = []
        self.passed = 0

    def check(self, condition, what):
        if condition:
            self.passed += 1
        else:
            self.failures.append(what)
        return bool(condition)

    def skip(self, what):
        self.skips.append(what)
        print(f"SKIP: {what}")


def run(cmd, **kw):
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.STDOUT)
    kw.setdefault("text", True)
    return subprocess.run(cmd, **kw)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def src_path(src, rel):
    return os.path.join(src, rel)


# ---------------------------------------------------------------------------------------------
# What the binaries accept: from their --help when built, else from the sources.

def help_of(binary, args):
    if not binary or not os.path.exists(binary):
        return None
    out = run([binary] + args + ["--help"]).stdout
    flags = set(re.findall(r"^\s+(?:-\w,)?(--[a-z0-9-]+)", out, re.M))
    env = set(re.findall(r"Env:([A-Z0-9_]+)", out))
    return flags, env


def source_settings(src, files, service=None):
    flags, env = set(), set()
    for rel in files:
        text = read(src_path(src, rel))
        flags |= set(re.findall(FLAG_RE, text))
        env |= set(re.findall(ENV_RE, text))
        if service and "service_flags" in rel:
            upper = service.upper()
            env |= {f"SPARROW_{upper}_TOKEN_FILE", f"SPARROW_{upper}_INSTANCE"}
    return flags, env


def settings(src, bins):
    """{binary: (flags, environment variables)}; from --help when built, else the sources."""
    common = ["offline/db_flags.cpp", "transport/service_flags.cpp"]
    spec = {
        "sparrow-bridge": (["bridge/config.cpp"] + common, "bridge", []),
        "sparrow-offline": (["offline/sync_main.cpp"] + common, "offline", []),
        "sparrow-authsvc": (["authsvc/config.cpp"] + common, "authsvc", ["serve"]),
    }
    out = {}
    for name, (files, service, args) in spec.items():
        out[name] = help_of(bins.get(name), args) or source_settings(src, files, service)
    out["sparrow-authsvc token"] = help_of(bins.get("sparrow-authsvc"), ["token"]) or (
        {"--role", "--sub", "--ttl", "--data-dir"}, {"SPARROW_DATA_DIR"})
    out["sparrow-token"] = help_of(bins.get("sparrow-token"), []) or source_settings(
        src, ["plugin/sparrow_token.cpp"])
    return out


def keys_init_variables(src):
    text = read(src_path(src, "deploy/sparrow-keys-init"))
    return set(re.findall(r"\$\{(SPARROW_[A-Z0-9_]+):-", text))


def metric_names(src):
    names = set()
    for folder in ["bridge", "offline", "authsvc", "common"]:
        for root, _, files in os.walk(src_path(src, folder)):
            for f in files:
                if f.endswith(".cpp") and not f.endswith("_test.cpp"):
                    text = read(os.path.join(root, f))
                    names |= set(re.findall(r'"(sparrow_(?:bridge|offline|authsvc)_[a-z0-9_]+)"',
                                            text))
    return names


# ---------------------------------------------------------------------------------------------
# Mosquitto configs

def parse_mosquitto(path):
    lines = []
    for number, raw in enumerate(read(path).splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        lines.append((number, key, value.strip()))
    return lines


def check_mosquitto_conf(c, src, path, plugin_path_in_image, plugin_source):
    name = os.path.basename(path)
    broker_id = name[:-len(".conf")]
    lines = parse_mosquitto(path)
    values = {}
    for _, k, v in lines:
        values.setdefault(k, []).append(v)

    def one(key):
        v = values.get(key, [])
        return v[-1] if v else None

    plugin_lines = [i for i, (_, k, _) in enumerate(lines) if k == "plugin"]
    listener_lines = [i for i, (_, k, _) in enumerate(lines) if k == "listener"]
    c.check(len(plugin_lines) == 1, f"{name}: exactly one plugin line (found {len(plugin_lines)})")
    c.check(len(listener_lines) >= 2, f"{name}: a plain and a TLS listener")
    if plugin_lines and listener_lines:
        c.check(max(listener_lines) < plugin_lines[0],
                f"{name}: every listener line comes before the plugin line")
    opts = [(i, k[len("plugin_opt_"):], v) for i, (_, k, v) in enumerate(lines)
            if k.startswith("plugin_opt_")]
    for i, key, _ in opts:
        c.check(plugin_lines and i > plugin_lines[0],
                f"{name}: plugin_opt_{key} after the plugin line")
        c.check(key in PLUGIN_OPTS, f"{name}: plugin_opt_{key} is an option the plugin accepts")
        c.check(f'"{key}"' in plugin_source,
                f"{name}: plugin_opt_{key} appears in the plugin source")
    opt_keys = [k for _, k, _ in opts]
    c.check(len(opt_keys) == len(set(opt_keys)), f"{name}: no plugin option twice")
    opt = {k: v for _, k, v in opts}
    c.check(opt.get("broker_id") == broker_id, f"{name}: plugin_opt_broker_id is {broker_id}")
    c.check(re.fullmatch(r"[A-Za-z0-9_-]{1,64}", broker_id) is not None,
            f"{name}: broker id is valid")
    c.check(opt.get("public_key_file") == "/etc/sparrow/keys/token_public.key",
            f"{name}: public key file is /etc/sparrow/keys/token_public.key")
    c.check(values.get("plugin") == [plugin_path_in_image],
            f"{name}: plugin path {values.get('plugin')} is where the Dockerfile installs it "
            f"({plugin_path_in_image})")

    c.check(one("allow_anonymous") == "false", f"{name}: allow_anonymous false")
    c.check(one("set_tcp_nodelay") == "true", f"{name}: set_tcp_nodelay true")
    c.check(one("per_listener_settings") == "false", f"{name}: per_listener_settings false")
    c.check(int(one("max_inflight_messages") or 0) >= 1000,
            f"{name}: max_inflight_messages >= 1000")
    c.check(int(one("max_queued_messages") or 0) >= 100000,
            f"{name}: max_queued_messages >= 100000")
    c.check(one("persistence") == "true", f"{name}: persistence true")
    c.check(0 < int(one("autosave_interval") or 0) <= 60, f"{name}: autosave_interval <= 60 s")
    c.check(one("persistence_file") == f"{broker_id}.db",
            f"{name}: persistence_file {broker_id}.db")
    c.check(one("persistence_location") == "/var/lib/sparrow-broker/",
            f"{name}: persistence_location /var/lib/sparrow-broker/")
    c.check(one("user") == "mosquitto", f"{name}: user mosquitto")
    c.check(one("log_dest") == "stderr",
            f"{name}: log_dest stderr (Mosquitto does not flush stdout)")
    gen = read(src_path(src, "scripts/gen-mosquitto-conf"))
    m = re.search(r"^message_size_limit (\d+)$", gen, re.M)
    c.check(m and one("message_size_limit") == m.group(1),
            f"{name}: message_size_limit as scripts/gen-mosquitto-conf ({m and m.group(1)})")
    # Listener blocks: the options that follow each listener line.
    blocks = {}
    current = None
    for _, k, v in lines:
        if k == "listener":
            current = v.split()[0]
            blocks[current] = {}
        elif k == "plugin":
            current = None
        elif current:
            blocks[current][k] = v
    c.check("1883" in blocks, f"{name}: plain listener on 1883")
    tls = blocks.get("8883", {})
    for k in ("cafile", "certfile", "keyfile"):
        c.check(tls.get(k, "").startswith("/etc/sparrow/tls/"),
                f"{name}: TLS listener 8883 has {k} under /etc/sparrow/tls")
    total = sum(int(b.get("max_connections", "100000")) for b in blocks.values())
    c.check(total <= 19000,
            f"{name}: max_connections over all listeners <= 19000 (20,000 files per process)")
    return {"id": broker_id, "plain_port": 1883 if "1883" in blocks else None}


def check_mosquitto(c, src, plugin_dest):
    folder = src_path(src, "deploy/mosquitto")
    confs = sorted(f for f in os.listdir(folder) if f.endswith(".conf"))
    c.check({"b1.conf", "b2.conf"} <= set(confs), "deploy/mosquitto has b1.conf and b2.conf")
    plugin_source = ""
    for f in ("plugin/auth_plugin.cpp", "plugin/plugin.cpp"):
        if os.path.exists(src_path(src, f)):
            plugin_source += read(src_path(src, f))
    info = {}
    for conf in confs:
        info[conf] = check_mosquitto_conf(c, src, os.path.join(folder, conf), plugin_dest,
                                          plugin_source)
    # b2 is b1 with another id: no other difference in settings.
    if {"b1.conf", "b2.conf"} <= set(confs):
        a = [(k, v) for _, k, v in parse_mosquitto(os.path.join(folder, "b1.conf"))]
        b = [(k, v) for _, k, v in parse_mosquitto(os.path.join(folder, "b2.conf"))]
        diff = [(x, y) for x, y in zip(a, b) if x != y]
        c.check(len(a) == len(b) and all(x[0] in ("persistence_file", "plugin_opt_broker_id")
                                         for x, _ in diff),
                f"b1.conf and b2.conf differ only in broker id and persistence file: {diff}")
    return info


# ---------------------------------------------------------------------------------------------
# Dockerfile

def parse_dockerfile(path):
    joined = re.sub(r"\\\n", " ", read(path))
    instructions = []
    for line in joined.splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        word, _, rest = s.partition(" ")
        instructions.append((word.upper(), rest.strip()))
    return instructions


def apt_candidates(packages):
    """{package: candidate version or None}, from one apt-cache call (it is slow to start)."""
    out = run(["apt-cache", "policy"] + list(packages), stderr=subprocess.DEVNULL).stdout
    found, current = {}, None
    for line in out.splitlines():
        m = re.match(r"^(\S+):$", line)
        if m:
            current = m.group(1)
            continue
        m = re.match(r"^\s+Candidate:\s*(\S+)", line)
        if m and current:
            found[current] = None if m.group(1) == "(none)" else m.group(1)
    return {p: found.get(p) for p in packages}


def package_owners(paths):
    """{path: Debian package} for the paths dpkg knows, from one dpkg -S call."""
    out = run(["dpkg", "-S"] + list(paths), stderr=subprocess.DEVNULL).stdout
    owners = {}
    for line in out.splitlines():
        pkg, sep, path = line.partition(": ")
        if sep:
            owners[path.strip()] = pkg.split(":")[0].strip()
    return owners


def is_debian_12():
    return os.path.exists("/etc/debian_version") and read("/etc/debian_version").startswith("12")


def check_runtime_libraries(c, bins, packages):
    """The runtime stage installs the package of every library the built binaries link."""
    built = [bins.get(b) for b in BINARIES + ["plugin"]]
    built = [b for b in built if b and os.path.exists(b)]
    if not (built and shutil.which("ldd") and shutil.which("dpkg")):
        c.skip("built binaries (or ldd/dpkg) missing: runtime libraries not compared with ldd")
        return
    libs = set()
    for b in built:
        libs |= set(re.findall(r"=>\s+(/\S+)", run(["ldd", b]).stdout))
    # Debian 12 registers libraries under /lib or /usr/lib (merged /usr): ask for both.
    names = {lib: {lib, os.path.realpath(lib), "/usr" + lib if lib.startswith("/lib") else lib}
             for lib in libs}
    owners = package_owners(sorted(set().union(*names.values()))) if libs else {}
    needed = set()
    for lib, candidates in sorted(names.items()):
        pkgs = {owners[n] for n in candidates if n in owners}
        if c.check(pkgs, f"a Debian package provides {lib} (needed by the built binaries)"):
            needed |= pkgs
    for p in sorted(needed - BASE_PACKAGES):
        c.check(p in packages, f"runtime stage installs {p} (needed by the built binaries)")


def check_dockerfile(c, src, bins, build_dir):
    path = src_path(src, "deploy/Dockerfile")
    if not c.check(os.path.exists(path), "deploy/Dockerfile exists"):
        return {}
    ins = parse_dockerfile(path)
    froms = [r for w, r in ins if w == "FROM"]
    c.check(len(froms) >= 2, "Dockerfile is multi-stage")
    for r in froms:
        c.check(r.split()[0] == "debian:12", f"Dockerfile stage FROM {r}: debian:12")
    copied = set()
    for w, r in ins:
        if w != "COPY" or "--from=" in r:
            continue
        parts = [p for p in r.split() if not p.startswith("--")]
        for s in parts[:-1]:
            c.check(os.path.exists(src_path(src, s)), f"Dockerfile COPY source {s} exists")
            copied.add(s.rstrip("/"))
    # The Dockerfile's own ignore file (an allowlist) lets every copied path into the context.
    ignore_path = path + ".dockerignore"
    if c.check(os.path.exists(ignore_path), "deploy/Dockerfile.dockerignore exists"):
        ignore = read(ignore_path).splitlines()
        allowed = {x[1:].strip().rstrip("/") for x in ignore if x.startswith("!")}
        c.check("*" in ignore, "Dockerfile.dockerignore excludes everything else")
        for s in copied:
            c.check(any(s == a or s.startswith(a + "/") for a in allowed),
                    f"Dockerfile.dockerignore lets {s} into the build context")
    runs = " ".join(r for w, r in ins if w == "RUN")
    c.check("scripts/install-deps.sh build" in runs,
            "build stage runs scripts/install-deps.sh build")
    c.check("-DSPARROW_BUILD_TESTS=OFF" in runs and "-DSPARROW_BUILD_BENCH=OFF" in runs,
            "build with tests and benchmarks off")
    c.check("-DCMAKE_BUILD_TYPE=Release" in runs, "Release build")
    for target in BINARIES + ["sparrow_auth"]:
        c.check(re.search(r"--target[^&]*\b" + re.escape(target) + r"\b", runs) is not None,
                f"Dockerfile builds target {target}")
    # Components: every folder the top-level CMakeLists.txt adds is copied or known unneeded.
    m = re.search(r"foreach\(component (.*?)\)", read(src_path(src, "CMakeLists.txt")), re.S)
    components = m.group(1).split() if m else []
    c.check(components, "top-level CMakeLists.txt lists components")
    for comp in components:
        if os.path.exists(src_path(src, f"{comp}/CMakeLists.txt")):
            c.check(comp in copied or comp in NOT_IN_IMAGE,
                    f"Dockerfile copies component {comp}/ (or tests/deploy lists it as unneeded)")
    for f in ("CMakeLists.txt", "cmake", "scripts/install-deps.sh"):
        c.check(f in copied, f"Dockerfile copies {f}")
    # Installed files: build tree path -> image path.
    installs = re.findall(r"install -D(?: -s)? -m \d+ (build/\S+) /out(/\S+)", runs)
    dest = {os.path.basename(img): (bld, img) for bld, img in installs}
    for b in BINARIES:
        c.check(b in dest and dest[b][1] == f"/usr/local/bin/{b}",
                f"Dockerfile installs {b} to /usr/local/bin")
    c.check("libsparrow_auth.so" in dest, "Dockerfile installs libsparrow_auth.so")
    # The build-tree paths are where CMake puts the targets (from the real build when given).
    target_files = {b: bins.get(b) for b in BINARIES}
    target_files["libsparrow_auth.so"] = bins.get("plugin")
    for base, (bld, _) in dest.items():
        tf = target_files.get(base)
        if tf and build_dir and os.path.exists(tf):
            rel = os.path.relpath(tf, build_dir)
            c.check(bld == "build/" + rel,
                    f"Dockerfile copies {bld}; CMake builds it at build/{rel}")
        else:
            comp = bld.split("/")[1]
            c.check(os.path.exists(src_path(src, f"{comp}/CMakeLists.txt")),
                    f"Dockerfile copies {bld} from an existing component")
    # Runtime packages exist in Debian 12 and cover what the binaries link.
    runtime = re.split(r"^FROM ", read(path), flags=re.M)[-1]
    m = re.search(r"apt-get install -y --no-install-recommends"
                  r"((?:\s+(?:\\\s*)?[a-z0-9][a-z0-9.+-]+)+)", runtime)
    packages = m.group(1).replace("\\", " ").split() if m else []
    c.check(packages, "runtime stage installs packages")
    candidates = apt_candidates(packages + ["libc6"]) if shutil.which("apt-cache") else {}
    if is_debian_12() and candidates.get("libc6"):
        for p in packages:
            c.check(candidates.get(p) is not None, f"Debian 12 has package {p}")
    else:
        c.skip("apt-cache with Debian 12 package lists is not here: package names unchecked")
    check_runtime_libraries(c, bins, packages)
    installed = {os.path.basename(img) for _, img in installs if img.startswith("/usr/local/bin/")}
    return {"dest": dest, "installed_bins": installed | {"sparrow-keys-init"}}


# ---------------------------------------------------------------------------------------------
# docker-compose.yml

def compose_env(extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SPARROW_", "MARIADB_", "COMPOSE_"))}
    env.update(extra)
    return env


def check_compose_secrets(c, raw):
    """Passwords and the database URL's password come from the environment, never the file."""
    for number, line in enumerate(raw.splitlines(), 1):
        s = line.split("#", 1)[0]
        m = re.match(r"\s*-?\s*([A-Z0-9_]*PASSWORD[A-Z0-9_]*)\s*[:=]\s*(\S.*)?$", s)
        if m and m.group(2):
            c.check(m.group(2).startswith("${"),
                    f"docker-compose.yml:{number}: {m.group(1)} comes from the environment")
        for url in re.findall(r"mysql://[^\s\"']+", s):
            c.check(":${" in url,
                    f"docker-compose.yml:{number}: the database password is from the environment")
    c.check("BEGIN" not in raw and "PRIVATE KEY" not in raw,
            "docker-compose.yml holds no key material")


def check_compose_service(c, src, name, svc, services, known, mosq_info, declared_volumes):
    if name in LONG_RUNNING:
        c.check("healthcheck" in svc, f"{name}: has a health check")
        c.check(svc.get("restart") in ("unless-stopped", "always", "on-failure"),
                f"{name}: restarts")
    if name == "mariadb":
        c.check(svc.get("image", "").startswith("mariadb:"), "mariadb: official MariaDB image")
        return
    b = svc.get("build") or {}
    c.check(os.path.realpath(b.get("context", "")) == os.path.realpath(src) and
            os.path.exists(src_path(src, b.get("dockerfile", "-"))),
            f"{name}: built from the repository with deploy/Dockerfile")
    volumes = svc.get("volumes", [])
    for v in volumes:
        source = v.split(":")[0] if isinstance(v, str) else v.get("source", "")
        if source.startswith(("/", ".")):
            full = os.path.realpath(src_path(src, source))
            c.check(os.path.exists(full), f"{name}: mounted file {source} exists")
            c.check(full.startswith(os.path.realpath(src_path(src, "deploy")) + os.sep),
                    f"{name}: mounted file {source} is under deploy/")
        else:
            c.check(source in declared_volumes, f"{name}: volume {source} is declared")
    cmd = svc.get("command") or []
    if not c.check(bool(cmd), f"{name}: has a command"):
        return
    binary = cmd[0]
    c.check(binary in known["installed_bins"] or binary == "mosquitto",
            f"{name}: runs {binary}, which the image installs")
    env = svc.get("environment") or {}
    accepted = set()
    if binary in known["settings"]:
        flags, accepted = known["settings"][binary]
        for a in cmd[1:]:
            if a.startswith("--"):
                c.check(a in flags, f"{name}: {binary} accepts {a}")
    elif binary == "sparrow-keys-init":
        accepted = known["keys_vars"]
    for var in env:
        c.check(var in accepted, f"{name}: {binary} reads environment variable {var}")
    if binary == "mosquitto":
        conf = cmd[cmd.index("-c") + 1] if "-c" in cmd else ""
        mounted = [v.split(":")[0] for v in volumes
                   if isinstance(v, str) and v.split(":")[1] == conf]
        c.check(len(mounted) == 1 and os.path.basename(mounted[0]) == os.path.basename(conf),
                f"{name}: {conf} is mounted from deploy/mosquitto")
        c.check(svc.get("user") == "mosquitto", f"{name}: runs as mosquitto")
    deps = svc.get("depends_on") or {}
    for dep in deps:
        c.check(dep in services, f"{name}: depends on existing service {dep}")
    if binary not in SPARROW_SERVICES:
        return
    for dep, cond in [("mariadb", "service_healthy"), ("broker1", "service_healthy"),
                      ("broker2", "service_healthy"), ("keys", "service_completed_successfully")]:
        c.check(isinstance(deps, dict) and deps.get(dep, {}).get("condition") == cond,
                f"{name}: waits for {dep} ({cond})")
    ids = {}
    for item in env.get("SPARROW_BROKERS", "").split(","):
        m = re.fullmatch(r"([A-Za-z0-9_-]+)=([^:]+):(\d+)", item)
        if c.check(m is not None, f"{name}: SPARROW_BROKERS item {item!r} is ID=HOST:PORT"):
            ids[m.group(1)] = (m.group(2), int(m.group(3)))
    for conf, info in mosq_info.items():
        host = next((s for s, d in services.items()
                     if (d.get("command") or [None])[-1] == f"/etc/sparrow/mosquitto/{conf}"),
                    None)
        c.check(ids.get(info["id"]) == (host, info["plain_port"]),
                f"{name}: SPARROW_BROKERS has {info['id']}={host}:{info['plain_port']} ({conf})")
    db = env.get("SPARROW_DB", "")
    c.check(db.startswith("mysql://") and "@mariadb:3306/" in db,
            f"{name}: SPARROW_DB points at the mariadb service")
    test = " ".join(svc.get("healthcheck", {}).get("test", []))
    port = (env.get("SPARROW_BRIDGE_METRICS_PORT") or env.get("SPARROW_OFFLINE_METRICS_PORT")
            or env.get("SPARROW_HTTP_PORT"))
    c.check(port and f"127.0.0.1:{port}/healthz" in test,
            f"{name}: health check asks /healthz on port {port}")


def check_compose(c, src, known, mosq_info):
    path = src_path(src, "docker-compose.yml")
    if not c.check(os.path.exists(path), "docker-compose.yml exists"):
        return
    example = src_path(src, "deploy/compose.env.example")
    c.check(os.path.exists(example), "deploy/compose.env.example exists")
    check_compose_secrets(c, read(path))

    base = ["docker-compose", "--project-directory", src, "-f", path, "--env-file", example]
    # The example leaves the passwords empty: compose must refuse to run without them.
    r = run(base + ["config", "-q"], env=compose_env({}), cwd=src)
    c.check(r.returncode != 0 and "SPARROW_DB_PASSWORD" in r.stdout,
            "docker-compose config refuses to run without SPARROW_DB_PASSWORD (no default)")
    secrets = compose_env({"SPARROW_DB_PASSWORD": "test0password0db",
                           "MARIADB_ROOT_PASSWORD": "test0password0root"})
    r = run(base + ["config", "-q"], env=secrets, cwd=src)
    if not c.check(r.returncode == 0,
                   f"docker-compose config -q accepts docker-compose.yml: {r.stdout.strip()}"):
        return
    r = run(base + ["config"], env=secrets, cwd=src, stderr=subprocess.PIPE)
    try:
        import yaml
    except ImportError:
        c.skip("python3-yaml missing: the compose file's contents are unchecked")
        return
    cfg = yaml.safe_load(r.stdout)
    services = cfg.get("services", {})
    for s in SERVICES_REQUIRED:
        c.check(s in services, f"docker-compose.yml has service {s}")
    declared_volumes = set((cfg.get("volumes") or {}).keys())
    for name, svc in services.items():
        check_compose_service(c, src, name, svc, services, known, mosq_info, declared_volumes)
    commands = [s.get("command") or [] for s in services.values()]
    instances = [cmd[cmd.index("--instance") + 1] for cmd in commands if "--instance" in cmd]
    c.check(len(instances) == len(set(instances)), f"instance names are distinct: {instances}")
    bridges = [n for n, s in services.items()
               if (s.get("command") or [""])[0] == "sparrow-bridge"]
    c.check(len(bridges) >= 2, "two bridges")
    ports = [services[n].get("environment", {}).get("SPARROW_BRIDGE_METRICS_PORT")
             for n in bridges]
    c.check(len(set(ports)) == len(ports), "bridges have distinct metrics ports")
    known["compose_services"] = set(services)


# ---------------------------------------------------------------------------------------------
# systemd units and the env example

def parse_unit(path):
    sections, current = {}, None
    for raw in read(path).splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        m = re.fullmatch(r"\[(\w+)\]", line)
        if m:
            current = m.group(1)
            sections.setdefault(current, [])
            continue
        key, _, value = line.partition("=")
        sections.setdefault(current, []).append((key.strip(), value.strip()))
    return sections


def read_env_example(c, src, known):
    path = src_path(src, "deploy/sparrow.env.example")
    env_vars = {}
    if c.check(os.path.exists(path), "deploy/sparrow.env.example exists"):
        for line in read(path).splitlines():
            m = re.match(r"^([A-Z0-9_]+)=(.*)$", line)
            if m:
                env_vars[m.group(1)] = m.group(2)
    all_accepted = set().union(*(e for _, e in known["settings"].values()))
    for var, value in env_vars.items():
        c.check(var in all_accepted or var in UNIT_VARIABLES,
                f"sparrow.env.example: {var} is read by a Sparrow binary (or a unit)")
        if "PASSWORD" in var or var == "SPARROW_DB":
            c.check("CHANGE_ME" in value,
                    f"sparrow.env.example: {var} holds a placeholder, not a secret")
    return env_vars


def check_unit(c, u, path, known, env_vars):
    sec = parse_unit(path)
    c.check("Unit" in sec, f"{u}: [Unit] section")
    if u.endswith(".target"):
        return
    c.check("Service" in sec and "Install" in sec, f"{u}: [Service] and [Install] sections")
    entries = sec.get("Service", [])
    svc = dict(entries)
    execs = [v for k, v in entries if k == "ExecStart"]
    if not c.check(len(execs) == 1 and execs[0].startswith("/"), f"{u}: one absolute ExecStart"):
        return
    binary = execs[0].split()[0]
    if "broker" in u:
        c.check(binary == "/usr/sbin/mosquitto", f"{u}: runs /usr/sbin/mosquitto")
        c.check("/etc/sparrow/mosquitto/%i.conf" in execs[0],
                f"{u}: config /etc/sparrow/mosquitto/%i.conf")
        c.check(svc.get("User") == "mosquitto", f"{u}: User=mosquitto")
        c.check(svc.get("ExecReload", "").endswith("-HUP $MAINPID"), f"{u}: reload is SIGHUP")
    else:
        c.check(os.path.basename(binary) in known["installed_bins"] and
                binary.startswith("/usr/local/bin/"),
                f"{u}: runs {binary}, which the image installs at the same path")
        c.check(("EnvironmentFile", "/etc/sparrow/sparrow.env") in entries,
                f"{u}: EnvironmentFile=/etc/sparrow/sparrow.env")
        c.check(svc.get("User") == "sparrow", f"{u}: User=sparrow")
        name = os.path.basename(binary)
        flags = known["settings"].get(name, (set(), set()))[0]
        for a in execs[0].split()[1:]:
            if a.startswith("--"):
                c.check(a in flags, f"{u}: {name} accepts {a}")
        defined = {v.split("=", 1)[0] for k, v in entries if k == "Environment"} | set(env_vars)
        for var in re.findall(r"\$\{([A-Z0-9_]+)\}", execs[0]):
            c.check(var in defined, f"{u}: ${{{var}}} is defined (Environment= or sparrow.env)")
    c.check(svc.get("Restart") == "on-failure", f"{u}: Restart=on-failure")
    for k, v in [("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("PrivateTmp", "yes")]:
        c.check(svc.get(k) == v, f"{u}: {k}={v}")
    c.check(bool(svc.get("ReadWritePaths")), f"{u}: ReadWritePaths for its data folder")


def check_systemd(c, src, known):
    folder = src_path(src, "deploy/systemd")
    units = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    for u in ["sparrow-authsvc.service", "sparrow-bridge@.service", "sparrow-offline.service",
              "sparrow-broker@.service"]:
        c.check(u in units, f"deploy/systemd/{u} exists")
    env_vars = read_env_example(c, src, known)
    for u in units:
        check_unit(c, u, os.path.join(folder, u), known, env_vars)
    if not shutil.which("systemd-analyze"):
        c.skip("systemd-analyze missing: units checked by the syntax rules above only")
        return
    with tempfile.TemporaryDirectory() as tmp:
        for u in units:
            shutil.copy(os.path.join(folder, u), tmp)
        # Templates are verified through an instance: sparrow-broker@b1, sparrow-bridge@1.
        names = [u.replace("@.", "@b1." if "broker" in u else "@1.") for u in units]
        r = run(["systemd-analyze", "verify", "--man=no"] + [os.path.join(tmp, n) for n in names],
                cwd=tmp)
        # Our binaries are not installed on the machine running the test.
        allowed = re.compile(
            r"Command (/usr/local/bin/sparrow-[a-z]+|/usr/sbin/mosquitto) is not executable")
        bad = [line for line in r.stdout.splitlines() if line.strip() and not allowed.search(line)]
        c.check(not bad, "systemd-analyze verify: " + "; ".join(bad))


# ---------------------------------------------------------------------------------------------
# The operators' guide documents every setting, metric, service and file.

def check_readme(c, src, known):
    path = src_path(src, "deploy/README.md")
    if not c.check(os.path.exists(path), "deploy/README.md exists"):
        return
    text = read(path)
    for binary, (flags, env) in known["settings"].items():
        for f in sorted(flags - {"--help"}):
            c.check(f"`{f}" in text, f"deploy/README.md documents {binary} {f}")
        for e in sorted(env):
            c.check(e in text, f"deploy/README.md documents {e}")
    for e in sorted(known["keys_vars"] | UNIT_VARIABLES):
        c.check(e in text, f"deploy/README.md documents {e}")
    for m in sorted(known["metrics"]):
        c.check(m in text, f"deploy/README.md explains metric {m}")
    for s in sorted(known.get("compose_services", set(SERVICES_REQUIRED))):
        c.check(f"`{s}`" in text, f"deploy/README.md names compose service {s}")
    deploy = src_path(src, "deploy")
    for root, _, files in os.walk(deploy):
        for f in files:
            rel = os.path.relpath(os.path.join(root, f), deploy)
            if rel != "README.md":
                c.check(os.path.basename(rel) in text, f"deploy/README.md mentions {rel}")
    for topic in ["Backups", "Rotating", "Sharding", "Adding a broker", "Adding a bridge", "TLS",
                  "alert"]:
        c.check(topic.lower() in text.lower(), f"deploy/README.md covers {topic}")


# ---------------------------------------------------------------------------------------------
# --broker: a real Mosquitto with each deploy config, the built plugin, keys from the key job.

def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def wait_until(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def broker_conf(src, conf, tmp, plugin, plain, tls):
    """deploy/mosquitto/CONF with its paths moved under TMP and its ports replaced."""
    text = read(src_path(src, f"deploy/mosquitto/{conf}"))
    persist = f"{tmp}/persist-{conf}/"
    os.makedirs(persist)
    for old, new in [("/usr/local/lib/sparrow/libsparrow_auth.so", plugin),
                     ("/etc/sparrow/keys/", f"{tmp}/keys/"), ("/etc/sparrow/tls/", f"{tmp}/tls/"),
                     ("/var/lib/sparrow-broker/", persist)]:
        text = text.replace(old, new)
    text = re.sub(r"^listener 1883 \S+$", f"listener {plain} 127.0.0.1", text, flags=re.M)
    text = re.sub(r"^listener 8883 \S+$", f"listener {tls} 127.0.0.1", text, flags=re.M)
    if os.geteuid() == 0:
        # As root Mosquitto would drop to `mosquitto`, which cannot read this folder.
        text = re.sub(r"^user mosquitto$", "user root", text, flags=re.M)
    path = f"{tmp}/{conf}"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def check_broker(c, src, plugin, token_bin):
    for tool in ("mosquitto", "mosquitto_pub", "openssl"):
        if not shutil.which(tool):
            c.skip(f"{tool} is not installed: the broker configs were not run")
            return
    if not (plugin and os.path.exists(plugin) and token_bin and os.path.exists(token_bin)):
        c.skip("the plugin or sparrow-token is not built: the broker configs were not run")
        return
    with tempfile.TemporaryDirectory(prefix="sparrow-deploy-test.") as tmp:
        env = dict(os.environ, SPARROW_SIGNING_KEY_DIR=f"{tmp}/signing",
                   SPARROW_SHARED_KEY_DIR=f"{tmp}/keys", SPARROW_TLS_DIR=f"{tmp}/tls",
                   SPARROW_TOKEN_BIN=token_bin, SPARROW_KEYS_OWNER="", SPARROW_BROKER_USER="",
                   SPARROW_TLS_HOSTNAMES="localhost,127.0.0.1")
        keys_init = src_path(src, "deploy/sparrow-keys-init")

        def keys(*args):
            r = run([keys_init, *args], env=env)
            c.check(r.returncode == 0,
                    f"sparrow-keys-init {' '.join(args) or 'init'}: {r.stdout.strip()}")

        keys()
        r = run([keys_init], env=env)
        c.check(r.returncode == 0 and "keeping the certificate" in r.stdout,
                "sparrow-keys-init is idempotent")
        brokers = []  # (conf, process, plain port, TLS port, log path)
        try:
            for conf in ("b1.conf", "b2.conf"):
                plain, tls = free_ports(2)
                path = broker_conf(src, conf, tmp, plugin, plain, tls)
                log_path = f"{tmp}/{conf}.log"
                with open(log_path, "w", encoding="utf-8") as log:
                    proc = subprocess.Popen(["mosquitto", "-c", path], stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
                brokers.append((conf, proc, plain, tls, log_path))
            for conf, proc, plain, tls, log_path in brokers:
                try:
                    wait_until(lambda: port_open(plain) and port_open(tls), 10,
                               f"{conf} listeners")
                except AssertionError as e:
                    c.check(False, f"{conf}: {e}")
                    return
                c.check(proc.poll() is None, f"{conf}: Mosquitto runs with the deploy config")

            def pub(port, token, tls=False):
                cmd = ["mosquitto_pub", "-h", "localhost" if tls else "127.0.0.1",
                       "-p", str(port), "-i", "bridge:deploytest", "-u", "bridge", "-P", token,
                       "-t", "im/sys/deploytest", "-m", "x", "-q", "1", "-V", "mqttv5"]
                if tls:
                    cmd += ["--cafile", f"{tmp}/tls/ca.crt"]
                return run(cmd, timeout=20).returncode

            def reload_all():
                for conf, proc, _, _, log_path in brokers:
                    before = read(log_path).count("reloaded public keys")
                    proc.send_signal(signal.SIGHUP)
                    wait_until(lambda: read(log_path).count("reloaded public keys") > before, 10,
                               f"{conf} reload")

            old_token = read(f"{tmp}/keys/bridge.token").strip()
            for conf, _, plain, tls, _ in brokers:
                c.check(pub(plain, old_token) == 0,
                        f"{conf}: a service connects on the plain listener")
                c.check(pub(tls, old_token, tls=True) == 0, f"{conf}: a client connects over TLS")
                c.check(pub(tls, "not-a-token", tls=True) != 0, f"{conf}: a bad token is refused")

            # Key rotation as deploy/README.md describes it.
            keys("stage")
            reload_all()
            keys("switch")
            new_token = read(f"{tmp}/keys/bridge.token").strip()
            c.check(new_token != old_token, "switch mints new service tokens")
            for conf, _, plain, _, _ in brokers:
                c.check(pub(plain, new_token) == 0,
                        f"{conf}: after stage, reload and switch a new-key token is accepted")
                c.check(pub(plain, old_token) == 0,
                        f"{conf}: an old-key token is still accepted before retire")
            keys("retire")
            reload_all()
            for conf, proc, plain, _, _ in brokers:
                c.check(pub(plain, new_token) == 0,
                        f"{conf}: after retire the new-key token is accepted")
                c.check(pub(plain, old_token) != 0,
                        f"{conf}: after retire an old-key token is refused")
                c.check(proc.poll() is None, f"{conf}: still running after the reloads")
        finally:
            for _, proc, _, _, _ in brokers:
                if proc.poll() is None:
                    proc.terminate()
                    try:
                        proc.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
            if c.failures:
                for conf, _, _, _, log_path in brokers:
                    print(f"--- {conf} log ---\n{read(log_path)}")


# ---------------------------------------------------------------------------------------------

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source-dir", default=os.environ.get("SPARROW_SOURCE_DIR",
                                                           os.path.dirname(os.path.dirname(here))))
    ap.add_argument("--build-dir", default=None)
    ap.add_argument("--static", action="store_true", help="the file checks (default)")
    ap.add_argument("--broker", action="store_true", help="run the broker configs")
    for b in BINARIES:
        ap.add_argument(f"--{b}", dest=b.replace("-", "_"), default=None, help=f"built {b}")
    ap.add_argument("--plugin", default=None, help="built libsparrow_auth.so")
    args = ap.parse_args()
    src = os.path.realpath(args.source_dir)
    bins = {b: getattr(args, b.replace("-", "_")) for b in BINARIES}
    bins["plugin"] = args.plugin
    c = Checker()
    missing_compose = False
    if args.static or not args.broker:
        known = {"settings": settings(src, bins), "keys_vars": keys_init_variables(src),
                 "metrics": metric_names(src)}
        known.update(check_dockerfile(c, src, bins, args.build_dir))
        plugin_dest = known.get("dest", {}).get("libsparrow_auth.so", (None, None))[1]
        known.setdefault("installed_bins", set())
        mosq = check_mosquitto(c, src, plugin_dest)
        if shutil.which("docker-compose"):
            check_compose(c, src, known, mosq)
        else:
            missing_compose = True
            c.skip("docker-compose is not installed (Debian package docker-compose; "
                   "scripts/install-deps.sh test): docker-compose.yml was NOT validated")
        check_systemd(c, src, known)
        check_readme(c, src, known)
    if args.broker:
        check_broker(c, src, args.plugin, bins.get("sparrow-token"))
    for f in c.failures:
        print(f"FAIL: {f}")
    print(f"deploy_test: {c.passed} checks passed, {len(c.failures)} failed, "
          f"{len(c.skips)} skipped")
    if c.failures:
        return 1
    if missing_compose or (args.broker and c.skips):
        return SKIP
    return 0


if __name__ == "__main__":
    sys.exit(main())
